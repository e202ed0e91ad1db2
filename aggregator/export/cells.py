"""Cell values as every writer sees them: plain Python values, and text made safe for
spreadsheets.

A DataFrame from DuckDB holds numpy scalars, pandas NA/NaT and Timestamps, and dates as
midnight timestamps; ``values`` turns a column into None, bool, int, float, str, date or
datetime, so that CSV, JSON and XLSX agree on what a cell is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

# OWASP, CSV Injection: a cell starting with one of these may be run as a formula by a
# spreadsheet; a leading apostrophe keeps it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """``text`` with an apostrophe in front when a spreadsheet could read it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unneutralise(text: str) -> str:
    """``text`` without the apostrophe ``neutralise`` put in front of it."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text


def is_date_column(series: pd.Series) -> bool:
    """True for a timestamp column without time zone whose values are all at midnight: DuckDB
    hands DATE columns to pandas that way, and they are written as dates."""
    if not pd.api.types.is_datetime64_dtype(series.dtype) or isinstance(
        series.dtype, pd.DatetimeTZDtype
    ):
        return False
    present = series.dropna()
    return bool((present == present.dt.normalize()).all())


def rows(frame: pd.DataFrame) -> list[tuple]:
    """The frame's rows as tuples of plain values (see ``values``)."""
    return list(zip(*(values(frame.iloc[:, i]) for i in range(frame.shape[1])), strict=True))


def values(series: pd.Series) -> Iterator[Any]:
    """The column's cells as None, bool, int, float, str, date or datetime. Times with a time
    zone come out in UTC (and keep their zone)."""
    as_date = is_date_column(series)
    for value in series:
        yield _plain(value, as_date)


def _plain(value: Any, as_date: bool) -> Any:
    if not isinstance(value, str) and _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, pd.Timestamp):  # numpy scalar
        value = value.item()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        return value.date() if as_date else value
    return value


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, arrays: not a missing scalar
        return False


def text(value: Any) -> str:
    """A plain value as CSV text: dates ISO 8601, booleans true/false, whole floats without
    '.0', formula-like strings neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return number_text(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def number_text(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def json_value(value: Any) -> Any:
    """A plain value for JSON: dates and times as ISO 8601 strings, infinities null (JSON has
    no such number)."""
    if isinstance(value, date):  # datetime included
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
