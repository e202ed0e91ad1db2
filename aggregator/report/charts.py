"""The report's charts: matplotlib figures written as SVG to inline in the HTML (and the PDF).

Text stays text in the SVG (svg.fonttype none): smaller, selectable, and read by screen
readers; every chart also carries a <title> and a <desc> that says what it shows in words.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from html import escape

import matplotlib
import pandas as pd
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.figure import Figure

from aggregator.compare import show

# IPC's official phase colours, and a text colour readable on each.
PHASE_COLOURS = {"1": "#CDFACD", "2": "#FAE61E", "3": "#E67800", "4": "#C80000", "5": "#640000"}
PHASE_TEXT = {"1": "#1a1a1a", "2": "#1a1a1a", "3": "#1a1a1a", "4": "#ffffff", "5": "#ffffff"}
PHASE_NAMES = {
    "1": "1 Minimal",
    "2": "2 Stressed",
    "3": "3 Crisis",
    "4": "4 Emergency",
    "5": "5 Catastrophe/Famine",
}
INK, MUTED, ACCENT, ACCENT_2, LIGHT = "#1a1a1a", "#555555", "#1f4e79", "#8c1c13", "#c9d3df"
MIN_SPAN = timedelta(days=14)  # a time axis shows at least two weeks, however few the points
STYLE = {
    "svg.fonttype": "none",
    "text.parse_math": False,  # a "$" in a label is a dollar, not TeX
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.edgecolor": MUTED,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
}


def _svg(fig: Figure, slug: str, title: str, description: str) -> str:
    """The figure as an <svg> element to inline, labelled by a <title> and <desc> whose ids
    start with ``slug``."""
    buffer = io.StringIO()
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": slug}):
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    # Sized by the page (viewBox kept); named for assistive technology.
    text = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", text, count=1)
    text = text.replace(
        "<svg ",
        f'<svg role="img" aria-labelledby="{slug}-title {slug}-desc" class="chart" ',
        1,
    )
    head_end = text.index(">") + 1
    labels = (
        f'<title id="{slug}-title">{escape(title)}</title>'
        f'<desc id="{slug}-desc">{escape(description)}</desc>'
    )
    return text[:head_end] + labels + text[head_end:]


def _figure(height: float) -> Figure:
    with matplotlib.rc_context(STYLE):
        return Figure(figsize=(7.2, height), layout="constrained")


def _count(value: float, _pos: object = None) -> str:
    return f"{value:,.0f}"


def _month_span(start: pd.Timestamp, end: pd.Timestamp) -> str:
    if start.year == end.year:
        return f"{start:%b}–{end:%b %Y}"
    return f"{start:%b %Y}–{end:%b %Y}"


def ipc_phases(ipc: pd.DataFrame) -> str | None:
    """People in each IPC phase, one stacked bar per analysis period."""
    if ipc.empty:
        return None
    periods = list(ipc.groupby(["period_start", "period_kind", "published_on"], sort=True))
    with matplotlib.rc_context(STYLE):
        fig = _figure(0.9 + 0.55 * len(periods))
        ax = fig.add_subplot()
        labels, sentences = [], []
        for y, ((start, kind, published), rows) in enumerate(periods):
            rows = rows.set_index("phase")
            end = rows["period_end"].iloc[0]
            labels.append(
                f"{kind.capitalize()} {_month_span(start, end)}\nreleased {published:%Y-%m-%d}"
            )
            left, parts = 0.0, []
            for phase in PHASE_COLOURS:
                if phase not in rows.index:
                    continue
                people, share = rows.at[phase, "people"], rows.at[phase, "share"]
                ax.barh(
                    y,
                    people,
                    left=left,
                    color=PHASE_COLOURS[phase],
                    edgecolor="white",
                    height=0.62,
                    label=PHASE_NAMES[phase] if y == 0 else None,
                )
                if pd.notna(share) and share >= 0.06:
                    ax.text(
                        left + people / 2,
                        y,
                        f"{share:.0%}",
                        ha="center",
                        va="center",
                        color=PHASE_TEXT[phase],
                        fontsize=8.5,
                    )
                left += people
                parts.append(
                    f"Phase {phase} {show(people, 'people')}"
                    + (f" ({share:.0%})" if pd.notna(share) else "")
                )
            sentences.append(f"{kind} {_month_span(start, end)}: " + ", ".join(parts) + ".")
        ax.set_yticks(range(len(periods)), labels)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(_count))
        ax.set_xlabel("people")
        fig.legend(loc="outside lower center", ncols=5, fontsize=8, handlelength=1.2)
    description = (
        "Stacked bars of the people in each IPC phase, one bar per analysis period. "
        + " ".join(sentences)
    )
    return _svg(fig, "chart-ipc", "People by IPC phase, per analysis and period", description)


def _time_axis(ax, days: list[pd.Timestamp], as_of: date) -> None:
    end = pd.Timestamp(as_of) + timedelta(days=1)
    start = min([*days, end]) - timedelta(days=1)
    if end - start < MIN_SPAN:
        start = end - MIN_SPAN
    ax.set_xlim(start, end)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _claims_marked(ax, claims: pd.DataFrame, metrics: tuple[str, ...]) -> list[str]:
    """A dotted line on each claim date, a cross at each claimed value of these metrics."""
    days = sorted(set(claims["reference_date"].dropna()))
    for i, day in enumerate(days):
        ax.axvline(
            day,
            color=MUTED,
            linestyle=":",
            linewidth=1,
            label="date of a claim checked" if i == 0 else None,
        )
    mine = claims[claims["metric"].isin(metrics)]
    if len(mine):
        ax.scatter(
            mine["reference_date"],
            mine["claimed_value"],
            marker="x",
            s=40,
            color=INK,
            zorder=5,
            label="value claimed",
        )
    return [
        f"Claimed on {r.reference_date:%Y-%m-%d}: {show(r.claimed_value, r.unit)}."
        for r in mine.itertuples()
    ]


def aid_trucks(
    trucks: pd.DataFrame, pre_war: pd.Series | None, claims: pd.DataFrame, as_of: date
) -> str | None:
    """Trucks per day: UNRWA's daily counts as bars, figures from reports as points, the
    pre-war average as a line, claim dates marked."""
    if trucks.empty and pre_war is None:
        return None
    with matplotlib.rc_context(STYLE):
        fig = _figure(3.0)
        ax = fig.add_subplot()
        sentences = []
        daily = trucks[trucks["source"] != "reference"]
        for later, rows in daily.groupby("published_later"):
            ax.bar(
                rows["period_end"],
                rows["value"],
                width=0.8,
                color="white" if later else ACCENT,
                edgecolor=ACCENT,
                hatch="///" if later else None,
                label=f"trucks per day{', published after ' + f'{as_of:%Y-%m-%d}' if later else ''}",
            )
        for r in daily.itertuples():
            ax.annotate(
                _count(r.value),
                (r.period_end, r.value),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
            sentences.append(
                f"{r.period_end:%Y-%m-%d}: {_count(r.value)} trucks"
                + (f" (published {r.published_on:%Y-%m-%d})." if r.published_later else ".")
            )
        reported = trucks[trucks["source"] == "reference"]
        if len(reported):
            ax.scatter(
                reported["period_end"],
                reported["value"],
                marker="D",
                s=30,
                color=ACCENT_2,
                zorder=4,
                label="figure from a situation report",
            )
            for r in reported.itertuples():
                ax.annotate(
                    _count(r.value),
                    (r.period_end, r.value),
                    xytext=(6, -3),
                    textcoords="offset points",
                    fontsize=8,
                    color=ACCENT_2,
                )
                sentences.append(
                    f"Report of {r.published_on:%Y-%m-%d}: {_count(r.value)} trucks a day "
                    f"(to {r.period_end:%Y-%m-%d})."
                )
        top = trucks["value"].max() if len(trucks) else 0
        if pre_war is not None:
            ax.axhline(
                pre_war["value"],
                color=INK,
                linestyle="--",
                linewidth=1.2,
                label=f"pre-war average ({_count(pre_war['value'])} a day)",
            )
            top = max(top, pre_war["value"])
            sentences.append(f"Pre-war average: {_count(pre_war['value'])} trucks a day.")
        sentences += _claims_marked(ax, claims, ("aid.trucks.daily",))
        _time_axis(ax, list(trucks["period_end"]), as_of)
        ax.set_ylim(0, top * 1.18 or 1)
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(_count))
        ax.set_ylabel("trucks per day")
        fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    description = "Aid trucks entering Gaza per day, up to the report date. " + " ".join(sentences)
    return _svg(fig, "chart-trucks", "Aid trucks per day", description)


def casualties(
    killed: pd.DataFrame, injured: pd.DataFrame, claims: pd.DataFrame, as_of: date
) -> str | None:
    """Cumulative killed and injured, as the Ministry of Health reported them day by day."""
    if killed.empty and injured.empty:
        return None
    with matplotlib.rc_context(STYLE):
        fig = _figure(3.0)
        ax = fig.add_subplot()
        sentences = []
        for rows, name, colour in ((injured, "injured", ACCENT), (killed, "killed", ACCENT_2)):
            if rows.empty:
                continue
            ax.plot(
                rows["period_end"],
                rows["value"],
                color=colour,
                linewidth=1.8,
                marker="o" if len(rows) <= 60 else None,
                markersize=3,
                label=name,
            )
            last = rows.iloc[-1]
            ax.annotate(
                f"{_count(last['value'])} {name}",
                (last["period_end"], last["value"]),
                xytext=(-4, 6),
                textcoords="offset points",
                ha="right",
                fontsize=8,
                color=colour,
            )
            first = rows.iloc[0]
            sentences.append(
                f"{name.capitalize()}: {_count(first['value'])} on {first['period_end']:%Y-%m-%d}, "
                f"{_count(last['value'])} on {last['period_end']:%Y-%m-%d}."
            )
        sentences += _claims_marked(
            ax, claims, ("casualties.killed.cumulative", "casualties.injured.cumulative")
        )
        _time_axis(ax, list(killed["period_end"]) + list(injured["period_end"]), as_of)
        top = max(
            killed["value"].max() if len(killed) else 0,
            injured["value"].max() if len(injured) else 0,
        )
        ax.set_ylim(0, top * 1.15)
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(_count))
        ax.set_ylabel("people (cumulative)")
        fig.legend(loc="outside lower center", ncols=4, fontsize=8)
    description = (
        "Cumulative people killed and injured in Gaza since 7 October 2023, as reported by "
        "the Ministry of Health. " + " ".join(sentences)
    )
    return _svg(fig, "chart-casualties", "Killed and injured, cumulative", description)


def _money(value: float, _pos: object = None) -> str:
    if abs(value) >= 1e9:
        return f"${value / 1e9:,.2f} bn"
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.0f} m"
    return f"${value:,.0f}"


def appeals(frame: pd.DataFrame) -> str | None:
    """Each appeal's requirements with the funding received drawn over them."""
    if frame.empty:
        return None
    with matplotlib.rc_context(STYLE):
        fig = _figure(0.8 + 0.5 * len(frame))
        ax = fig.add_subplot()
        sentences = []
        for y, r in enumerate(frame.itertuples()):
            ax.barh(
                y,
                r.requirements_usd,
                color=LIGHT,
                edgecolor=MUTED,
                height=0.6,
                label="requirements" if y == 0 else None,
            )
            if pd.notna(r.funded_usd):
                ax.barh(y, r.funded_usd, color=ACCENT, height=0.36, label="funding received")
                coverage = r.funded_usd / r.requirements_usd
                note = f"{_money(r.funded_usd)} funded ({coverage:.0%})"
            else:
                note = "no funding figure published"
            ax.annotate(
                f"{_money(r.requirements_usd)} required; {note}",
                (r.requirements_usd, y),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
            sentences.append(
                f"{r.plan_code} ({r.name}): {_money(r.requirements_usd)} required, {note}."
            )
        ax.set_yticks(
            range(len(frame)), [f"{r.plan_code}\n{r.period_start:%Y}" for r in frame.itertuples()]
        )
        ax.invert_yaxis()
        ax.set_xlim(0, frame["requirements_usd"].max() * 1.75)
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(_money))
        fig.legend(loc="outside lower center", ncols=2, fontsize=8)
    description = "Appeal requirements against funding received (OCHA FTS). " + " ".join(sentences)
    return _svg(fig, "chart-appeals", "Appeal requirements and funding", description)
