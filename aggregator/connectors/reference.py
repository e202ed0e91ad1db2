"""Reference figures: curated CSVs of official numbers that exist only in reports.

Every ``*.csv`` in the reference directory (``$AGGREGATOR_DATA_DIR/reference``, tracked in
git under data/reference/) is read through ``Fetcher.read_files``, so each file is kept in the
raw store and recorded in ``fetches`` like a download (and when neither the files nor the list
of them changed, the table is left as it is). The connector checks the shape of the
files (aggregator.connectors.curated_csv) and raises a ParseError naming file, line and field; the
rules about the figures themselves are in schemas/reference_figures.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from aggregator.connectors import curated_csv
from aggregator.errors import ConfigError
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
    paths = sorted(folder.glob("*.csv"))
    for path in paths:
        curated_csv.check_size(path, path.as_posix(), SOURCE)  # before the raw store copies it
    rows: list[dict[str, Any]] = []
    for fetched in fetcher.read_files(paths, f"{folder.as_posix()}/*.csv"):
        rows.extend(parse(fetched, Path(fetched.record.url).name))
    return {"reference_figures": pd.DataFrame.from_records(rows, columns=COLUMNS)}


def parse(fetched: Fetched, name: str) -> list[dict[str, Any]]:
    """Rows of one reference CSV, each with its file name and line number."""
    out = []
    for row in curated_csv.rows(fetched.path, fetched.record.url, SOURCE, REQUIRED, OPTIONAL):
        record: dict[str, Any] = {c: row.cells.get(c) or None for c in COLUMNS}
        record["value"] = curated_csv.number(row, "value", SOURCE)
        record["reference_date"] = curated_csv.day(row, "reference_date", SOURCE)
        record["published_on"] = curated_csv.day(row, "published_on", SOURCE)
        record["period_kind"] = row.cells.get("period_kind") or DEFAULT_PERIOD_KIND
        record.update(file=name, line=row.line, source=SOURCE, fetch_id=fetched.fetch_id)
        out.append(record)
    return out
