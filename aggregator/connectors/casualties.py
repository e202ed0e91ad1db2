"""Gaza Ministry of Health casualties, as compiled by Tech for Palestine (no key).

Request: GET {CASUALTIES_URL}/api/v2/casualties_daily.json, a JSON list with one object per
day. A field such as ``killed_cum`` is present only when that day's report gave it; its
``ext_killed_cum`` twin is Tech for Palestine's gap-filled series, present every day. Each
value is taken as reported when there is one, else from ``ext_``, with a flag saying which.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from aggregator.errors import ParseError
from aggregator.http import Fetcher
from schemas import columns
from schemas.casualties_daily import VALUES

SOURCE = "casualties"
PATH = "/api/v2/casualties_daily.json"

COLUMNS = columns("casualties_daily")


def extract(fetcher: Fetcher, base_url: str) -> dict[str, pd.DataFrame]:
    response = fetcher.get(base_url + PATH)
    body = response.json()
    url = response.record.url
    if not isinstance(body, list):
        raise ParseError(SOURCE, url, f"expected a JSON list, got {type(body).__name__}")
    rows = [_row(item, f"{url} item {i}", response.fetch_id) for i, item in enumerate(body)]
    return {"casualties_daily": pd.DataFrame.from_records(rows, columns=COLUMNS)}


def _row(item: Any, where: str, fetch_id: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ParseError(SOURCE, where, f"expected a JSON object, got {type(item).__name__}")
    text = item.get("report_date")
    try:
        day = date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ParseError(SOURCE, where, f"field report_date: not a YYYY-MM-DD date: {text!r}")
    where = f"{where} (report_date {text})"
    report_source = item.get("report_source")
    if not isinstance(report_source, str) or not report_source:
        raise ParseError(
            SOURCE, where, f"field report_source: missing or not text: {report_source!r}"
        )
    row: dict[str, Any] = {
        "report_date": day,
        "report_source": report_source,
        "report_period": _count(item, "report_period", where),
    }
    for column, name in VALUES.items():
        reported = _count(item, name, where)
        filled = _count(item, f"ext_{name}", where)
        row[column] = reported if reported is not None else filled
        row[f"{column}_gap_filled"] = (
            False if reported is not None else True if filled is not None else None
        )
    row["source"] = SOURCE
    row["fetch_id"] = fetch_id
    return row


def _count(item: dict[str, Any], name: str, where: str) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not whole:
        raise ParseError(SOURCE, where, f"field {name}: not a whole number: {value!r}")
    return int(value)
