"""Runs a table's pandera model (blocking) and its warning checks, and turns every failure
case into a row of the ``rejects`` table naming the check, column, row, value and key.

A frame is checked whole. Rows loaded by DuckDB (aggregator.staging) are screened in SQL
(aggregator.screen) and pandera judges the flagged vintages; their row numbers count the
loaded rows in key order."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd
import pandera.pandas as pa

from aggregator.ddl import columns_of
from aggregator.screen import flagged_vintages
from aggregator.staging import Staged
from schemas import TABLES
from schemas.meta import Rejects

REJECT_COLUMNS = list(Rejects.to_schema().columns)


@dataclass
class Validation:
    table: str
    # The coerced table (for loaded rows: SQL naming them), None when a blocking check failed.
    data: pd.DataFrame | str | None
    rejects: pd.DataFrame

    @property
    def errors(self) -> int:
        return count(self.rejects, "error")

    @property
    def warnings(self) -> int:
        return count(self.rejects, "warning")


def count(rejects: pd.DataFrame, severity: str) -> int:
    return int((rejects["severity"] == severity).sum())


def validate(table: str, df: pd.DataFrame, *, run_id: str, source: str) -> Validation:
    spec = TABLES[table]
    try:
        data = spec.model.validate(df, lazy=True)
        errors = _empty()
    except pa.errors.SchemaErrors as exc:
        data = None
        errors = _rejects(
            exc.failure_cases, df, spec.key, spec.check_columns, "error", run_id, source, table
        )
    warnings = _empty()
    if spec.warnings is not None and data is not None:
        try:
            spec.warnings.validate(data, lazy=True)
        except pa.errors.SchemaErrors as exc:
            warnings = _rejects(
                exc.failure_cases,
                data,
                spec.key,
                spec.check_columns,
                "warning",
                run_id,
                source,
                table,
            )
    return Validation(
        table, data, pd.concat([errors, warnings], ignore_index=True) if len(warnings) else errors
    )


def validate_loaded(
    con: duckdb.DuckDBPyConnection, table: str, loaded: str, *, run_id: str, source: str
) -> Validation:
    """The checks of ``table`` on the rows that the SQL ``loaded`` names in ``con``."""
    spec = TABLES[table]
    suspects = flagged_vintages(con, spec, loaded)
    if not suspects:
        return Validation(table, loaded, _empty())
    columns = ", ".join(f'"{c}"' for c in columns_of(spec))
    key = ", ".join(f'"{c}"' for c in spec.key)
    frame = con.execute(
        f"""select * from (
                select {columns}, row_number() over (order by {key}) - 1 as row_number
                from {loaded})
            where "{spec.replace_by}" in (select unnest(?))""",
        [sorted(suspects)],
    ).df()
    frame.index = pd.Index(frame.pop("row_number").to_numpy(), dtype="int64")
    checked = validate(table, frame, run_id=run_id, source=source)
    return Validation(table, loaded if checked.data is not None else None, checked.rejects)


def validate_text(staged: Staged, reason: str, *, run_id: str, source: str) -> Validation:
    """The checks of staged rows whose typed load failed (``reason``: a value that does not
    cast), on the rows read as text chunk by chunk, so that every such value is named."""
    rejects = [
        validate(staged.table, chunk, run_id=run_id, source=source).rejects
        for chunk in staged.text_frames()
    ]
    found = [r for r in rejects if len(r)]
    if not found:  # DuckDB refused a value that pandas takes: DuckDB's reason is all there is
        found = [
            pd.DataFrame(
                [[run_id, source, staged.table, "error", "load", None, None, reason, None, None]],
                columns=REJECT_COLUMNS,
            )
        ]
    return Validation(staged.table, None, pd.concat(found, ignore_index=True))


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in REJECT_COLUMNS})


def _pairs(frame: pd.DataFrame) -> list[str]:
    return [
        ", ".join(f"{k}={v}" for k, v in zip(frame.columns, r, strict=True))
        for r in frame.astype(str).where(frame.notna(), "").itertuples(index=False)
    ]


def _rejects(
    cases: pd.DataFrame,
    df: pd.DataFrame,
    key: tuple[str, ...],
    check_columns: dict[str, tuple[str, ...]],
    severity: str,
    run_id: str,
    source: str,
    table: str,
) -> pd.DataFrame:
    cases = cases.copy()
    row_level = cases["schema_context"] == "DataFrameSchema"
    # A table-wide check reports every column of a failing row: one reject per row is enough.
    cases = pd.concat([cases[~row_level], cases[row_level].drop_duplicates(["check", "index"])])
    cases = cases.reset_index(drop=True)
    row_level = cases["schema_context"] == "DataFrameSchema"
    rows = pd.to_numeric(cases["index"], errors="coerce").astype("Int64")
    in_frame = rows.notna() & rows.isin(df.index)
    out = pd.DataFrame(
        {
            "run_id": run_id,
            "source": source,
            "table_name": table,
            "severity": severity,
            "check_name": cases["check"].astype(str),
            "column_name": cases["column"].where(~row_level, None),
            "row_number": rows,
            "value": cases["failure_case"].astype(str),
            "row_key": None,
            "fetch_id": None,
        }
    ).reset_index(drop=True)
    mask = in_frame.to_numpy()
    if not mask.any():
        return out[REJECT_COLUMNS]
    positions = rows[in_frame].to_numpy()
    present_key = [k for k in key if k in df.columns]
    if present_key:
        out.loc[mask, "row_key"] = _pairs(df.loc[positions, present_key])
    if "fetch_id" in df.columns:
        out.loc[mask, "fetch_id"] = df.loc[positions, "fetch_id"].astype(str).to_numpy()
    # A table-wide check has no single failing cell: show the columns it is about.
    for check, group in out[mask & row_level.to_numpy()].groupby("check_name"):
        columns = check_columns.get(str(check)) or (
            list(key) if "uniqueness" in str(check) else list(df.columns)
        )
        out.loc[group.index, "column_name"] = ", ".join(columns)
        out.loc[group.index, "value"] = (
            _pairs(df.loc[rows[group.index].to_numpy(), columns])
            if len(columns) > 1
            else df.loc[rows[group.index].to_numpy(), columns[0]].astype(str).to_numpy()
        )
    return out[REJECT_COLUMNS]
