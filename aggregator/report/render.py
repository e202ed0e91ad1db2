"""The report as one self-contained HTML page (Jinja2, autoescaped), which the PDF is printed
from (aggregator.report.pdf).

The page loads nothing: styles and charts are inline, links are plain <a href>.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from aggregator import __version__, compare
from aggregator.report import charts
from aggregator.report.data import PRE_WAR_TRUCKS, ReportData

SOURCE_NAMES = {
    "ipc_api": "IPC",
    "ipc_hdx": "IPC, via HDX",
    "hapi": "HDX HAPI",
    "fts": "OCHA Financial Tracking Service",
    "unrwa_trucks": "UNRWA, via HDX",
    "casualties": "Gaza Ministry of Health, compiled by Tech for Palestine",
    "reference": "figure read from a report",
    "claims": "claims file",
}
# What each verdict means for a reader, beside its label in compare.VERDICTS.
VERDICT_MEANINGS = {
    "consistent": "The official figure known that day lies in the range the words cover, "
    "allowing the metric's tolerance.",
    "matches_other_period": "The claim fits the other period of the same IPC analysis (the "
    "current situation instead of the projection, or the reverse), not the one in force.",
    "outdated": "The claim fits a release that had been overtaken by the claim's date.",
    "overstates": "The official figure is below what the claim says.",
    "understates": "The official figure is above what the claim says.",
    "no_official_figure": "No source in the warehouse had published this figure by the "
    "claim's date. This is no judgement on the claim.",
}
VERDICT_TONES = {
    "consistent": "good",
    "matches_other_period": "mixed",
    "outdated": "mixed",
    "overstates": "bad",
    "understates": "bad",
    "no_official_figure": "none",
}


def html(data: ReportData) -> str:
    documents = data.documents
    figures = _charts(data)
    notes = _notes(data.headline)
    env = _environment()
    css, _, _ = env.loader.get_source(env, "report.css")  # as it is: CSS is no template
    return env.get_template("report.html").render(
        css=Markup(css),  # the package's own stylesheet
        data=data,
        country=data.country,
        as_of=data.as_of,
        headline=_rows(data.headline),
        notes=notes,
        note_of={text: i for i, text in enumerate(notes, start=1)},
        claims=_rows(data.claims),
        charts=figures,
        appeals=_rows(data.appeals),
        appeal_names={r.dataset_ref: f"{r.plan_code}: {r.name}" for r in data.appeals.itertuples()},
        provenance=_rows(data.provenance),
        reports=_rows(_reports(data)),
        claimed_text=compare.claimed_text,
        tolerance_text=compare.tolerance_text,
        verdict_label=compare.VERDICTS,
        verdict_tone=VERDICT_TONES,
        verdicts=[
            (v, compare.VERDICTS[v], VERDICT_MEANINGS[v], VERDICT_TONES[v])
            for v in compare.VERDICTS
        ],
        version=__version__,
        source_name=lambda source, ref=None: _source_name(source, ref, documents),
    )


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("aggregator.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=_number,
        signed=_signed,
        day=_day,
        span=_span,
        place=_place,
        moment=_moment,
        period=_period,
        href=_href,
    )
    return env


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with missing values as None, so templates test them with `is none`."""
    return [
        {k: None if _missing(v) else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, str | list | dict) and bool(pd.isna(value)))


def _number(value: Any, unit: str) -> str:
    return "" if _missing(value) else compare.show(value, unit)


def _signed(value: Any, unit: str) -> str:
    return "" if _missing(value) else compare.show_signed(value, unit)


def _day(value: Any) -> Markup:
    """A date that never breaks at its hyphens."""
    if _missing(value):
        return Markup("")
    return Markup('<span class="date">{}</span>').format(f"{pd.Timestamp(value):%Y-%m-%d}")


def _span(start: Any, end: Any) -> Markup:
    if _missing(start):
        return Markup("")
    if pd.Timestamp(start) == pd.Timestamp(end):
        return _day(start)
    return Markup("{} to {}").format(_day(start), _day(end))


def _place(name: str) -> str:
    """ISO's "Palestine, State of" as a sentence says it: "State of Palestine"."""
    head, comma, tail = name.partition(", ")
    return f"{tail} {head}" if comma else name


def _moment(value: Any) -> str:
    return "" if _missing(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"


def _period(kind: Any, start: Any, end: Any) -> Markup:
    """An IPC period as "projection, 2024-03-01 to 2024-07-31"; an observed day as the day."""
    if _missing(start):
        return Markup("")
    if _missing(kind) or kind == "observed":
        return _span(start, end)
    return Markup("{}, {}").format(kind, _span(start, end))


def _href(url: Any) -> str | None:
    """Only web addresses become links (a javascript: URL in a claims file stays text)."""
    if isinstance(url, str) and url.startswith(("https://", "http://")):
        return url
    return None


def _source_name(source: Any, ref: Any, documents: dict[str, str]) -> str:
    if _missing(source):
        return ""
    if source == "reference" and ref in documents:
        return documents[ref]
    return SOURCE_NAMES.get(source, source)


def _notes(headline: pd.DataFrame) -> list[str]:
    """The caveats of the headline figures, each once, numbered in order of appearance."""
    return list(dict.fromkeys(c for c in headline["caveat"] if isinstance(c, str) and c))


def _reports(data: ReportData) -> pd.DataFrame:
    """The reports behind the figures read from reports that this report shows."""
    columns = ["source", "dataset_ref", "published_on", "url"]
    claims = data.claims[["official_" + c for c in columns]].set_axis(columns, axis=1)
    shown = pd.concat([data.headline[columns], data.series[columns], claims])
    shown = shown[shown["source"] == "reference"].drop_duplicates("dataset_ref")
    return shown.sort_values("published_on")


def _charts(data: ReportData) -> list[dict[str, Any]]:
    trucks = data.metric("aid.trucks.daily")
    killed = data.metric("casualties.killed.cumulative")
    injured = data.metric("casualties.injured.cumulative")
    claims = data.claims
    drawn = [
        (charts.ipc_phases(data.ipc), data.ipc, "IPC acute food insecurity"),
        (
            charts.aid_trucks(trucks, data.pre_war_trucks(), claims, data.as_of),
            pd.concat([trucks, data.headline[data.headline["figure"] == PRE_WAR_TRUCKS]]),
            "Aid trucks",
        ),
        (
            charts.casualties(killed, injured, claims, data.as_of),
            pd.concat([killed, injured]),
            "Casualties",
        ),
        (charts.appeals(data.appeals), data.appeals, "Appeals and funding"),
    ]
    return [
        {
            "heading": heading,
            "chart": None if chart is None else Markup(chart),  # matplotlib's own SVG
            "sources": _chart_sources(rows, data),
        }
        for chart, rows, heading in drawn
    ]


def _chart_sources(rows: pd.DataFrame, data: ReportData) -> list[str]:
    """'Source, published D' for each release a chart draws on; later releases say so."""
    if rows.empty:
        return []
    seen = rows[["source", "dataset_ref", "published_on"]].dropna(subset=["source"])
    names: dict[str, list[pd.Timestamp]] = {}
    for r in seen.itertuples():
        name = _source_name(r.source, r.dataset_ref, data.documents)
        names.setdefault(name, []).append(pd.Timestamp(r.published_on))
    out = []
    for name, days in names.items():
        first, last = min(days), max(days)
        when = f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
        later = " (after the report date)" if last > pd.Timestamp(data.as_of) else ""
        out.append(f"{name}, published {when}{later}")
    return out
