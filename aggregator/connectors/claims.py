"""Press claims: curated CSVs of figures quoted in the press (data/claims/*.csv and --claims).

The file format is ``FILE_COLUMNS``, one row per quoted number, written as quoted: a value in
percent stays in percent in the file (``unit`` percent) and is converted to a share here. The
precision the quoted number implies is worked out from the digits as written (32000 -> 1000,
1200000 -> 100000, 0.5 -> 0.1, a percentage -> one point), because "more than 32,000" and
"more than 32,070" say different things. ``claims extract`` writes this same format, so a
reviewed proposal loads as is. Problems of shape are ParseErrors naming file, line and field;
rules about the claims themselves live in schemas/press_claims.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from aggregator.connectors import curated_csv
from aggregator.errors import ConfigError, ParseError
from aggregator.export.cells import unneutralise
from aggregator.http import Fetched, Fetcher
from schemas import columns
from schemas.metrics import METRICS

SOURCE = "claims"
REQUIRED = ("claim_id", "published_on", "outlet", "quote", "metric", "geo", "value", "unit")
OPTIONAL = (
    "url",
    "speaker",
    "attributed_to",
    "area",
    "comparator",
    "value_high",
    "reference_date",
    "period_kind",
    "tolerance",
    "notes",
    "quote_start",
    "quote_end",
    "confidence",
)
# The order of columns in a claims file, as `claims extract` writes it.
FILE_COLUMNS = (
    "claim_id",
    "published_on",
    "outlet",
    "url",
    "speaker",
    "attributed_to",
    "quote",
    "metric",
    "geo",
    "area",
    "value",
    "unit",
    "comparator",
    "value_high",
    "reference_date",
    "period_kind",
    "tolerance",
    "notes",
    "quote_start",
    "quote_end",
    "confidence",
)
# Free text, which `claims extract` writes with an apostrophe in front where a spreadsheet
# opened for the review could run it as a formula; loading takes the apostrophe off.
TEXT_COLUMNS = ("outlet", "url", "speaker", "attributed_to", "quote", "area", "notes")
DEFAULTS = {"comparator": "eq", "period_kind": "any"}
COLUMNS = columns("press_claims")


def extract(fetcher: Fetcher, folder: Path, extra: list[Path]) -> dict[str, pd.DataFrame]:
    """Every *.csv in ``folder`` (absent folder = none) and the extra files given."""
    paths = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    for path in extra:
        if not path.is_file():
            raise ConfigError(f"{SOURCE}: claims file {path} does not exist")
        paths.append(path)
    for path in paths:
        curated_csv.check_size(path, path.as_posix(), SOURCE)  # before the raw store copies it
    records: list[dict[str, Any]] = []
    for fetched in fetcher.read_files(paths, f"{folder.as_posix()}/*.csv"):
        records.extend(parse(fetched, Path(fetched.record.url).name))
    return {"press_claims": pd.DataFrame.from_records(records, columns=COLUMNS)}


def parse(fetched: Fetched, name: str) -> list[dict[str, Any]]:
    """Rows of one claims file kept in the raw store, with its file name and line."""
    return parse_file(fetched.path, name, fetched.fetch_id, fetched.record.url)


def load(path: Path) -> pd.DataFrame:
    """A claims file read straight from disk (``compare --claims``), in the press_claims shape."""
    records = parse_file(path, path.name, f"file:{path}", str(path))
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def parse_file(path: Path, name: str, fetch_id: str, where: str) -> list[dict[str, Any]]:
    out = []
    for row in curated_csv.rows(path, where, SOURCE, REQUIRED, OPTIONAL):
        cells = {**DEFAULTS, **{k: v for k, v in row.cells.items() if v}}
        cells.update({k: unneutralise(cells[k]) for k in TEXT_COLUMNS if k in cells})
        record: dict[str, Any] = {c: cells.get(c) for c in COLUMNS}
        record["geo"] = cells.get("geo", "").upper() or None
        for numeric in ("value", "value_high", "tolerance", "confidence"):
            record[numeric] = curated_csv.number(row, numeric, SOURCE)
        for offset in ("quote_start", "quote_end"):
            value = curated_csv.number(row, offset, SOURCE)
            if value is not None and not value.is_integer():
                raise ParseError(SOURCE, row.where, f"field {offset}: not a whole number")
            record[offset] = None if value is None else int(value)
        record["published_on"] = curated_csv.day(row, "published_on", SOURCE)
        record["reference_date"] = (
            curated_csv.day(row, "reference_date", SOURCE) or record["published_on"]
        )
        _convert_unit(record, cells, row)
        record.update(file=name, line=row.line, source=SOURCE, fetch_id=fetch_id)
        out.append(record)
    return out


def _convert_unit(record: dict[str, Any], cells: dict[str, str], row: curated_csv.CuratedRow):
    """Store the value in the metric's unit; work out the precision of the number as written."""
    quoted = cells.get("unit", "")
    record["quoted_unit"] = quoted
    metric = METRICS.get(cells.get("metric", ""))
    if quoted == "percent":
        if metric and metric.unit != "share":
            raise ParseError(
                SOURCE,
                row.where,
                f"field unit: percent given for {metric.id}, whose unit is {metric.unit}",
            )
        record["unit"] = "share"
        for name in ("value", "value_high"):
            if record[name] is not None:
                record[name] = round(record[name] / 100, 12)
        record["precision"] = precision(cells.get("value", ""), "percent")
    else:
        record["unit"] = quoted
        record["precision"] = precision(cells.get("value", ""), quoted)
    if record["value"] is not None and record["precision"] is None:
        raise ParseError(
            SOURCE,
            row.where,
            f"field value: write the number as quoted in plain digits, got {cells['value']!r}",
        )


def precision(text: str, unit: str) -> float | None:
    """The rounding a number as written implies, in the unit it is stored in.

    32000 -> 1000 (trailing zeros of a whole number), 253 -> 1, 1.25 -> 0.01 (its last
    decimal). A whole percentage is precise to one point (100 percent -> 0.01 as a share); a
    share written without decimals (1, "all") likewise to 0.01.
    """
    text = text.strip().lstrip("+")
    if not text or not text.replace(".", "", 1).isdigit():
        return None  # not a plain number: the value field already fails with a clear error
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0") if unit not in ("percent", "share") else decimals
    if decimals:
        step = 10.0 ** -len(decimals)
    elif unit in ("percent", "share"):
        step = 1.0 if unit == "percent" else 0.01
    else:
        digits = whole.lstrip("0")
        step = 10.0 ** (len(digits) - len(digits.rstrip("0"))) if digits else 1.0
    return step / 100 if unit == "percent" else step
