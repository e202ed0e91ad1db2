"""Every table of the warehouse, declared once: its pandera model, key and warning checks.

This package never imports ``aggregator``: the pipeline, warehouse DDL and the data dictionary
are all derived from what is declared here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandera.pandas as pa

from schemas import ipc_phases
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
        ),
        # Fact tables of further sources go above this line.
        Table("runs", Runs, ("run_id", "source"), "meta"),
        Table("fetches", Fetches, ("fetch_id",), "meta"),
        Table("rejects", Rejects, (), "meta"),
        Table("metrics", MetricsTable, ("metric",), "meta"),
    )
}
