"""Every table of the warehouse, declared once: its pandera model, key and warning checks.

This package never imports ``aggregator``: the pipeline, warehouse DDL and the data dictionary
are all derived from what is declared here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandera.pandas as pa

from schemas import (
    aid_trucks,
    appeals,
    casualties_daily,
    fts_flows,
    hapi_food_security,
    hapi_funding,
    humanitarian_needs,
    ipc_phases,
    press_claims,
    reference_figures,
)
from schemas.ipc_analyses import IpcAnalyses
from schemas.meta import Fetches, Rejects, Runs
from schemas.metrics import MetricsTable


@dataclass(frozen=True)
class Table:
    name: str
    model: type[pa.DataFrameModel]
    key: tuple[str, ...]
    kind: str  # "fact" (published by a source) or "meta" (written by every refresh)
    warnings: type[pa.DataFrameModel] | None = None
    # A refresh replaces, per source, the rows whose value in this column it brings anew
    # (one IPC analysis is one vintage); rows of other values are kept.
    replace_by: str | None = None
    # For table-wide checks: the columns a failure is about, shown in rejects.
    check_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # For tables loaded by DuckDB (aggregator.staging): each of the model's and the warnings'
    # own checks as SQL over the rows ``{loaded}``, selecting the ``replace_by`` values of the
    # rows that may fail it (aggregator.screen); under "unique", that of the key's uniqueness
    # (else a generic one runs).
    screens: dict[str, str] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return (self.model.__doc__ or "").strip().splitlines()[0]


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "ipc_analyses", IpcAnalyses, ("source", "analysis_id"), "fact", replace_by="analysis_id"
        ),
        Table(
            "ipc_phases",
            ipc_phases.IpcPhases,
            tuple(ipc_phases.KEY),
            "fact",
            warnings=ipc_phases.IpcPhasesConsistency,
            replace_by="analysis_id",
            check_columns=ipc_phases.CHECK_COLUMNS,
            screens=ipc_phases.SCREENS,
        ),
        Table(
            "casualties_daily",
            casualties_daily.CasualtiesDaily,
            ("report_date",),
            "fact",
            warnings=casualties_daily.CasualtiesDailyWarnings,
            replace_by="report_date",
            check_columns=casualties_daily.CHECK_COLUMNS,
        ),
        Table(
            "reference_figures",
            reference_figures.ReferenceFigures,
            tuple(reference_figures.KEY),
            "fact",
            replace_by="published_on",
            check_columns=reference_figures.CHECK_COLUMNS,
        ),
        Table(
            "fts_flows",
            fts_flows.FtsFlows,
            tuple(fts_flows.KEY),
            "fact",
            replace_by="query_key",
        ),
        Table(
            "appeals",
            appeals.Appeals,
            tuple(appeals.KEY),
            "fact",
            replace_by="vintage_key",
            check_columns=appeals.CHECK_COLUMNS,
        ),
        Table(
            "hapi_food_security",
            hapi_food_security.HapiFoodSecurity,
            tuple(hapi_food_security.KEY),
            "fact",
            replace_by="vintage",
            check_columns=hapi_food_security.CHECK_COLUMNS,
        ),
        Table(
            "hapi_funding",
            hapi_funding.HapiFunding,
            tuple(hapi_funding.KEY),
            "fact",
            replace_by="vintage",
            check_columns=hapi_funding.CHECK_COLUMNS,
        ),
        Table(
            "humanitarian_needs",
            humanitarian_needs.HumanitarianNeeds,
            tuple(humanitarian_needs.KEY),
            "fact",
            replace_by="vintage",
            check_columns=humanitarian_needs.CHECK_COLUMNS,
        ),
        Table(
            "aid_trucks",
            aid_trucks.AidTrucks,
            tuple(aid_trucks.KEY),
            "fact",
            replace_by="published_on",
        ),
        Table(
            "press_claims",
            press_claims.PressClaims,
            tuple(press_claims.KEY),
            "fact",
            check_columns=press_claims.CHECK_COLUMNS,
        ),
        # Fact tables of further sources go above this line.
        Table("runs", Runs, ("run_id", "source"), "meta"),
        Table("fetches", Fetches, ("fetch_id",), "meta"),
        Table("rejects", Rejects, (), "meta"),
        Table("metrics", MetricsTable, ("metric",), "meta"),
    )
}


def columns(table: str) -> list[str]:
    """A table's columns in declared order: connectors build their DataFrames with these."""
    return list(TABLES[table].model.to_schema().columns)
