"""Runs a table's pandera model (blocking) and its warning checks, and turns every failure
case into a row of the ``rejects`` table naming the check, column, row, value and key."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

from schemas import TABLES
from schemas.meta import Rejects

REJECT_COLUMNS = list(Rejects.to_schema().columns)


@dataclass
class Validation:
    table: str
    data: pd.DataFrame | None  # the coerced table, or None when a blocking check failed
    rejects: pd.DataFrame

    @property
    def errors(self) -> int:
        return int((self.rejects["severity"] == "error").sum())

    @property
    def warnings(self) -> int:
        return int((self.rejects["severity"] == "warning").sum())


def validate(table: str, df: pd.DataFrame, *, run_id: str, source: str) -> Validation:
    spec = TABLES[table]
    try:
        data = spec.model.validate(df, lazy=True)
        errors = _empty()
    except pa.errors.SchemaErrors as exc:
        data = None
        errors = _rejects(exc.failure_cases, df, spec.key, "error", run_id, source, table)
    warnings = _empty()
    if spec.warnings is not None and data is not None:
        try:
            spec.warnings.validate(data, lazy=True)
        except pa.errors.SchemaErrors as exc:
            warnings = _rejects(exc.failure_cases, data, spec.key, "warning", run_id, source, table)
    return Validation(
        table, data, pd.concat([errors, warnings], ignore_index=True) if len(warnings) else errors
    )


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in REJECT_COLUMNS})


def _rejects(
    cases: pd.DataFrame,
    df: pd.DataFrame,
    key: tuple[str, ...],
    severity: str,
    run_id: str,
    source: str,
    table: str,
) -> pd.DataFrame:
    cases = cases.copy()
    row_level = cases["schema_context"] == "DataFrameSchema"
    # A table-wide check reports every column of a failing row: one reject per row is enough,
    # and the value worth showing is the row's population (or first key) rather than a name.
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
    positions = rows[in_frame].to_numpy()
    mask = in_frame.to_numpy()
    present_key = [k for k in key if k in df.columns]
    if present_key and mask.any():
        keys = df.loc[positions, present_key].astype(str)
        out.loc[mask, "row_key"] = [
            ", ".join(f"{k}={v}" for k, v in zip(present_key, r, strict=True))
            for r in keys.itertuples(index=False)
        ]
    if "fetch_id" in df.columns and mask.any():
        out.loc[mask, "fetch_id"] = df.loc[positions, "fetch_id"].astype(str).to_numpy()
    if "population" in df.columns and mask.any():
        whole_row = mask & row_level.to_numpy()
        out.loc[whole_row, "value"] = (
            df.loc[rows[whole_row].to_numpy(), "population"].astype(str).to_numpy()
        )
        out.loc[whole_row, "column_name"] = "population"
    return out[REJECT_COLUMNS]
