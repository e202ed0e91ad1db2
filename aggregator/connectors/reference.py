"""Reference figures: curated CSVs of official numbers that exist only in reports.

Every ``*.csv`` in the reference directory (``$AGGREGATOR_DATA_DIR/reference``, tracked in
git under data/reference/) is read through ``Fetcher.read_file``, so each file is kept in the
raw store and recorded in ``fetches`` like a download. The connector checks the shape of the
files (column set, numbers, dates) and raises a ParseError naming file, line and field; the
rules about the figures themselves are in schemas/reference_figures.py.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from aggregator.errors import ConfigError, ParseError
from aggregator.http import Fetched, Fetcher
from schemas import columns

SOURCE = "reference"
REQUIRED = (
    "metric",
    "geo",
    "value",
    "unit",
    "reference_date",
    "published_on",
    "publisher",
    "document_title",
    "url",
    "page_or_quote",
)
OPTIONAL = ("area", "period_kind", "notes")
DEFAULT_PERIOD_KIND = "observed"
COLUMNS = columns("reference_figures")


def extract(fetcher: Fetcher, folder: Path) -> dict[str, pd.DataFrame]:
    if not folder.is_dir():
        raise ConfigError(
            f"{SOURCE}: the reference directory {folder} does not exist "
            "(it is $AGGREGATOR_DATA_DIR/reference; data/reference/ in the repository)"
        )
    rows: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.csv")):
        rows.extend(parse(fetcher.read_file(path), path.name))
    return {"reference_figures": pd.DataFrame.from_records(rows, columns=COLUMNS)}


def parse(fetched: Fetched, name: str) -> list[dict[str, Any]]:
    """Rows of one reference CSV, each with its file name and line number."""
    where = fetched.record.url
    try:
        text = fetched.path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(SOURCE, where, f"not UTF-8 text ({exc})") from exc
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise ParseError(SOURCE, where, "empty file: expected a header line naming the columns")
        header = [h.strip() for h in header]
        _check_header(header, where)
        rows = []
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue  # a blank line
            if len(record) != len(header):
                raise ParseError(
                    SOURCE,
                    f"{where} line {line}",
                    f"{len(record)} fields where the header has {len(header)}",
                )
            rows.append(
                _row(
                    dict(zip(header, record, strict=True)),
                    f"{where} line {line}",
                    name,
                    line,
                    fetched.fetch_id,
                )
            )
    except csv.Error as exc:
        raise ParseError(
            SOURCE, f"{where} line {reader.line_num}", f"malformed CSV ({exc})"
        ) from exc
    return rows


def _check_header(header: list[str], where: str) -> None:
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    repeated = sorted({c for c in header if header.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"unknown column(s) {', '.join(repr(c) for c in unknown)}")
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    if problems:
        raise ParseError(
            SOURCE,
            f"{where} line 1",
            "; ".join(problems)
            + f" (columns: {', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)})",
        )


def _row(cells: dict[str, str], where: str, name: str, line: int, fetch_id: str) -> dict[str, Any]:
    cells = {k: v.strip() for k, v in cells.items()}
    row: dict[str, Any] = {c: cells.get(c) or None for c in COLUMNS}
    row["value"] = _number(cells["value"], where)
    row["reference_date"] = _date(cells["reference_date"], "reference_date", where)
    row["published_on"] = _date(cells["published_on"], "published_on", where)
    row["period_kind"] = cells.get("period_kind") or DEFAULT_PERIOD_KIND
    row.update(file=name, line=line, source=SOURCE, fetch_id=fetch_id)
    return row


def _number(text: str, where: str) -> float | None:
    if not text:
        return None  # left to the schema: value is required
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ParseError(
            SOURCE,
            where,
            f"field value: not a number: {text!r} (write 1200000, not 1.2 million or 1,200,000)",
        )
    return value


def _date(text: str, field: str, where: str) -> date | None:
    if not text:
        return None  # left to the schema: the dates are required
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ParseError(SOURCE, where, f"field {field}: not a YYYY-MM-DD date: {text!r}") from None
