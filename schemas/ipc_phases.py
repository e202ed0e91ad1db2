"""ipc_phases: IPC population figures in long form.

One row per analysis x level x unit x period x phase. Blocking checks guard types, ranges and
keys. The add-up checks are warnings: IPC itself says subnational figures and phases "may not
add up to totals" because of rounding, and the recorded API responses confirm it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import (
    IPC_LEVELS,
    IPC_PERIODS,
    IPC_PHASES,
    IPC_SOURCES,
    PERIOD_GRANULARITIES,
    date_field,
    fetch_id_field,
    field,
    iso3_field,
)

KEY = ["source", "analysis_id", "level", "unit_id", "period", "phase"]
GROUP = ["source", "analysis_id", "level", "unit_id", "period"]
CHECK_COLUMNS = {
    "period_start_not_after_end": ("period_start", "period_end"),
    "phases_1_to_5_add_up_to_all": ("population",),
    "phase_3plus_equals_3_4_5": ("population",),
    "national_equals_sum_of_areas": ("population",),
}

# IPC publishes populations rounded (to the thousand for most country briefs). A sum of
# rounded figures can miss its rounded total by up to half a unit per term, so allow
# 1,000 people or 1% of the total, whichever is larger.
ROUNDING_ABS = 1000
ROUNDING_REL = 0.01


class IpcPhases(pa.DataFrameModel):
    """IPC population by phase, in long form (national, group and area levels)."""

    source: Series[str] = field("Where the row came from: ipc_api or ipc_hdx.", isin=IPC_SOURCES)
    analysis_id: Series[str] = field("IPC analysis id; join to ipc_analyses.")
    country_iso3: Series[str] = iso3_field()
    level: Series[str] = field(
        "national (the whole analysis), group (IPC's level-1 grouping) or area.", isin=IPC_LEVELS
    )
    unit_id: Series[str] = field(
        "IPC id of the group or area; the analysis id for the national level."
    )
    unit_name: Series[str] = field("Name of the country, group or area.")
    parent_name: Series[str] = field("For an area, the name of its group (if any).", nullable=True)
    period: Series[str] = field(
        "Validity period: current, first_projection or second_projection.", isin=IPC_PERIODS
    )
    period_start: Series[pd.Timestamp] = date_field("First day of the validity period.")
    period_end: Series[pd.Timestamp] = date_field("Last day of the validity period.")
    period_granularity: Series[str] = field(
        "Precision of period_start/period_end: 'month' when the publisher gives only months "
        "(IPC API and HDX do), so the dates are the first and last day of those months.",
        isin=PERIOD_GRANULARITIES,
    )
    phase: Series[str] = field(
        "IPC phase: 1 to 5, '3+' (phases 3, 4 and 5) or 'all' (the population analysed).",
        isin=IPC_PHASES,
    )
    population: Series[pd.Int64Dtype] = field("Number of people.", ge=0)
    fraction: Series[float] = field(
        "Share of the analysed population, 0 to 1, as published (rounded to 2 decimals).",
        nullable=True,
        ge=0,
        le=1,
    )
    overall_phase: Series[pd.Int64Dtype] = field(
        "Area classification (phase 1 to 5) for the period; empty above area level.",
        nullable=True,
        isin=[1, 2, 3, 4, 5],
    )
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True
        unique = KEY

    @pa.dataframe_check(name="period_start_not_after_end")
    def period_ordered(cls, df: pd.DataFrame) -> Series[bool]:
        return df["period_start"] <= df["period_end"]


def _sums_by_phase(df: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, dict, dict]:
    """Group number of every row, and per group the population sum and row count of each
    phase. Numbering groups once and summing with numpy keeps these checks linear in rows:
    they run on every chunk of millions of rows (aggregator.staging)."""
    ids = df.groupby(by, sort=False).ngroup().to_numpy()
    groups = int(ids.max()) + 1 if len(ids) else 0
    population = df["population"].to_numpy(dtype="float64", na_value=np.nan)
    phase = df["phase"].to_numpy()
    sums, counts = {}, {}
    for label in IPC_PHASES:
        rows = phase == label
        sums[label] = np.bincount(ids[rows], weights=population[rows], minlength=groups)
        counts[label] = np.bincount(ids[rows], minlength=groups)
    return ids, sums, counts


def _within_rounding(total: np.ndarray, parts: np.ndarray) -> np.ndarray:
    tolerance = np.maximum(np.abs(total) * ROUNDING_REL, ROUNDING_ABS)
    return np.abs(total - parts) <= tolerance


def _parts_add_up(df: pd.DataFrame, total: str, parts: list[str]) -> Series[bool]:
    """False on the `total` row of every unit-period whose parts (all published) miss it."""
    ids, sums, counts = _sums_by_phase(df, GROUP)
    complete = np.logical_and.reduce([counts[p] > 0 for p in [total, *parts]])
    added = np.sum([sums[p] for p in parts], axis=0)
    failing = complete & ~_within_rounding(sums[total], added)
    flagged = failing[ids] & (df["phase"].to_numpy() == total)
    return pd.Series(~flagged, index=df.index)


class IpcPhasesConsistency(pa.DataFrameModel):
    """Warnings, recorded but not blocking, flagged on the total that does not add up.

    Measured on the recorded AF, AO and CF responses: 17 of 2,238 unit-periods miss the
    phases-to-total check and 12 the 3+ check beyond rounding; 42 of 308 national figures
    differ from the sum of their areas. Publishing data as IPC published it, with the
    discrepancy on record, serves users better than dropping an analysis.
    """

    class Config:
        strict = False

    @pa.dataframe_check(name="phases_1_to_5_add_up_to_all")
    def phases_add_up(cls, df: pd.DataFrame) -> Series[bool]:
        return _parts_add_up(df, "all", ["1", "2", "3", "4", "5"])

    @pa.dataframe_check(name="phase_3plus_equals_3_4_5")
    def three_plus(cls, df: pd.DataFrame) -> Series[bool]:
        return _parts_add_up(df, "3+", ["3", "4", "5"])

    @pa.dataframe_check(name="national_equals_sum_of_areas")
    def national_vs_areas(cls, df: pd.DataFrame) -> Series[bool]:
        by = ["source", "analysis_id", "period", "phase"]
        ids = df.groupby(by, sort=False).ngroup().to_numpy()
        groups = int(ids.max()) + 1 if len(ids) else 0
        population = df["population"].to_numpy(dtype="float64", na_value=np.nan)
        level = df["level"].to_numpy()
        national, areas = level == "national", level == "area"
        totals = {}
        for name, rows in (("national", national), ("areas", areas)):
            totals[name] = (
                np.bincount(ids[rows], weights=population[rows], minlength=groups),
                np.bincount(ids[rows], minlength=groups) > 0,
            )
        both = totals["national"][1] & totals["areas"][1]
        failing = both & ~_within_rounding(totals["national"][0], totals["areas"][0])
        return pd.Series(~(failing[ids] & national), index=df.index)


def _misses(total: str, parts: list[str]) -> str:
    """SQL: the sums ``total`` and ``parts`` (of sum_* / n_* columns) all present and apart by
    more than the rounding allowance (scaled down a little: DuckDB and numpy may round the
    allowance differently, and a screen may flag too much, never too little)."""
    present = " and ".join(f"n_{p} > 0" for p in [total, *parts])
    added = " + ".join(f"sum_{p}" for p in parts)
    tolerance = f"greatest(abs(sum_{total}) * {ROUNDING_REL}, {ROUNDING_ABS}) * 0.999"
    return f"({present} and abs(sum_{total} - ({added})) > {tolerance})"


_LABELS = {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5", "3+": "3p", "all": "all"}
_PHASE_SUMS = ", ".join(
    f"sum(population) filter (phase = '{p}') as sum_{n}, count(*) filter (phase = '{p}') as n_{n}"
    for p, n in _LABELS.items()
)
# A phase counted twice in a unit-period is a repeated key: the same grouping finds both.
_REPEATED = " or ".join(f"n_{n} > 1" for n in _LABELS.values())
_UNIT_PERIODS = f"""
    select analysis_id from (
        select analysis_id, {_PHASE_SUMS} from {{loaded}}
        group by {", ".join(GROUP)}
    )
    where {_misses("all", ["1", "2", "3", "4", "5"])} or {_misses("3p", ["3", "4", "5"])}
       or {_REPEATED}
"""
# The SQL twins of this module's checks and of the key's uniqueness (aggregator.screen): the
# analyses where each may fail. Phases outside the labels, or missing, fail a column check.
SCREENS = {
    "period_start_not_after_end": "select analysis_id from {loaded} where period_start > period_end",
    "phases_1_to_5_add_up_to_all": _UNIT_PERIODS,
    "phase_3plus_equals_3_4_5": _UNIT_PERIODS,
    "unique": _UNIT_PERIODS,
    "national_equals_sum_of_areas": f"""
        select analysis_id from (
            select analysis_id,
                   sum(population) filter (level = 'national') as sum_national,
                   count(*) filter (level = 'national') as n_national,
                   sum(population) filter (level = 'area') as sum_areas,
                   count(*) filter (level = 'area') as n_areas
            from {{loaded}} group by source, analysis_id, period, phase
        )
        where {_misses("national", ["areas"])}
    """,
}
