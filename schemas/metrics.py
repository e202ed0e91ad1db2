"""The controlled vocabulary of metrics: every official number in `figures` and every press
claim names one of these. Shares are fractions 0-1 (a claim in percent is converted on load).

Tolerances are the defaults the comparison uses when a claim gives none: relative for counts
and money (a fraction of the official value), absolute for shares (fraction points).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import IPC_PHASES, field

UNITS = ("people", "share", "usd", "trucks_per_day", "trucks")
KINDS = ("stock", "flow", "share")


@dataclass(frozen=True)
class Metric:
    id: str
    unit: str
    kind: str
    tolerance: float
    description: str
    # The ipc_phases phase whose population (unit people) or fraction (unit share) the metric
    # is: how IPC rows become figures, and how claims find them.
    ipc_phase: str | None = None


def _ipc() -> list[Metric]:
    names = {
        "1": "Minimal",
        "2": "Stressed",
        "3": "Crisis",
        "4": "Emergency",
        "5": "Catastrophe/Famine",
    }
    out = []
    for phase, name in names.items():
        out.append(
            Metric(
                f"ipc.phase{phase}.people",
                "people",
                "stock",
                0.05,
                f"People in IPC Phase {phase} ({name}).",
                phase,
            )
        )
        out.append(
            Metric(
                f"ipc.phase{phase}.share",
                "share",
                "share",
                0.05,
                f"Share of the analysed population in IPC Phase {phase}.",
                phase,
            )
        )
    out += [
        Metric(
            "ipc.phase3plus.people",
            "people",
            "stock",
            0.05,
            "People in IPC Phase 3 or above (Crisis or worse).",
            "3+",
        ),
        Metric(
            "ipc.phase3plus.share",
            "share",
            "share",
            0.05,
            "Share of the analysed population in IPC Phase 3 or above.",
            "3+",
        ),
        Metric(
            "ipc.analysed.people",
            "people",
            "stock",
            0.05,
            "Population covered by the IPC analysis.",
            "all",
        ),
    ]
    return out


METRICS: dict[str, Metric] = {
    m.id: m
    for m in [
        *_ipc(),
        Metric(
            "casualties.killed.cumulative",
            "people",
            "stock",
            0.02,
            "People killed since 7 October 2023, as reported by the Gaza Ministry of Health.",
        ),
        Metric(
            "casualties.injured.cumulative",
            "people",
            "stock",
            0.02,
            "People injured since 7 October 2023, as reported by the Gaza Ministry of Health.",
        ),
        Metric(
            "aid.trucks.daily", "trucks_per_day", "flow", 0.10, "Aid trucks entering Gaza per day."
        ),
        Metric(
            "funding.appeal.requirements_usd",
            "usd",
            "stock",
            0.02,
            "Requirements of a humanitarian appeal (revised when revised), US dollars.",
        ),
        Metric(
            "funding.appeal.funded_usd",
            "usd",
            "stock",
            0.02,
            "Funding received against an appeal, US dollars.",
        ),
        Metric(
            "funding.appeal.coverage_share",
            "share",
            "share",
            0.02,
            "Funding received as a share of requirements.",
        ),
        Metric(
            "needs.people_in_need",
            "people",
            "stock",
            0.05,
            "People in need of humanitarian assistance.",
        ),
        Metric(
            "displacement.people",
            "people",
            "stock",
            0.10,
            "People displaced or sheltering in an area.",
        ),
        # Figures the press quotes that no source of this tool publishes: claims about them
        # are kept and checked as no_official_figure, so nothing quoted is silently dropped.
        Metric(
            "conflict.israel.killed_2023_10_07",
            "people",
            "stock",
            0.05,
            "People killed in Israel in the attack of 7 October 2023 (no source in this tool).",
        ),
        Metric(
            "conflict.israel.hostages_2023_10_07",
            "people",
            "stock",
            0.05,
            "Hostages taken into Gaza on 7 October 2023 (no source in this tool).",
        ),
        Metric(
            "conflict.combatants.killed_or_captured",
            "people",
            "stock",
            0.10,
            "Fighters killed or captured in a military operation, as a party to the conflict "
            "states it (no source in this tool).",
        ),
    ]
}


# Checks shared by every table whose rows name a metric (curated figures, press claims).


def known(metric: pd.Series) -> pd.Series:
    return metric.isin(list(METRICS))


def unit_is_the_metric_unit(df: pd.DataFrame) -> pd.Series:
    """True where `unit` is the unit of the row's metric (unknown metrics fail elsewhere)."""
    expected = df["metric"].map({m.id: m.unit for m in METRICS.values()})
    return expected.isna() | (df["unit"] == expected)


# The registry as a warehouse table, so that SQL users can join on it.


class MetricsTable(pa.DataFrameModel):
    """The metric vocabulary: unit, kind and default comparison tolerance of each metric."""

    metric: Series[str] = field("Metric id, e.g. ipc.phase5.people.", unique=True)
    unit: Series[str] = field("people, share (0-1), usd, trucks_per_day or trucks.", isin=UNITS)
    kind: Series[str] = field("stock, flow or share.", isin=KINDS)
    tolerance: Series[float] = field(
        "Default tolerance: relative for counts and money, absolute for shares.", ge=0
    )
    description: Series[str] = field("What the metric counts.")
    ipc_phase: Series[str] = field(
        "For IPC metrics, the ipc_phases phase they read (its population, or its fraction for "
        "a share); empty for the others.",
        isin=IPC_PHASES,
        nullable=True,
    )

    class Config:
        strict = True
        coerce = True
