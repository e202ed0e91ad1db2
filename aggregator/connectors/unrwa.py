"""UNRWA Gaza supplies and dispatch tracking (HDX dataset state-of-palestine-gaza-aid-truck-data).

Both resource kinds are read (see ``hdx.DATASETS``): CSV, and XLSX whose sheet "Suppy Page"
(sic) holds the rows. One row is one consignment as published, with its own "No. of Trucks"
(1 on every recorded row): trucks per day are the sum of that column, never a row count.
Columns with an empty header (the CSV has eight trailing ones) are ignored. Dates come as ISO
text (CSV) or as Excel serial day numbers or cells typed as dates (XLSX, and CSVs exported from
it); all three are read. The "Data Period" flag is kept on every row, and ``partial_data`` says
whether the row is partial by UNRWA's disclaimer (from 2024-05-06, after the Rafah operation).
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from aggregator.connectors import hdx
from aggregator.errors import ParseError
from schemas import columns
from schemas.aid_trucks import DATA_PERIOD_CURRENT

SOURCE = "unrwa_trucks"
SHEETS = ("Suppy Page", "Supply Page")  # UNRWA's sheet name is misspelt; accept the fix too
PARTIAL_FROM = date(2024, 5, 6)  # "Current Data (after Rafah operation)" starts on 6 May 2024
EXCEL_EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's 1900 date system (as Excel counts)

# Published column -> our column.
COLUMNS = {
    "ID": "consignment_id",
    "No. of Trucks": "trucks",
    "Received Date": "received_on",
    "Data Source": "data_source",
    "Manifest of": "manifest",
    "Description of Cargo": "cargo_description",
    "Cargo Category": "cargo_category",
    "Status": "status",
    "Quantity": "quantity",
    "Units": "units",
    "Donating Country/ Organization": "donor",
    "Donation Type": "donation_type",
    "Crossing": "crossing",
    "Destination Recipient/ Partner": "recipient",
    "Data Period": "data_period",
    "Data Entry Type": "entry_type",
    "Last Edited Time": "last_edited",
}
REQUIRED = ["ID", "No. of Trucks", "Received Date", "Crossing", "Data Period"]
TABLE_COLUMNS = columns("aid_trucks")


def parse(downloads: list[hdx.Download], countries: list[str]) -> dict[str, pd.DataFrame]:
    """The rows of every resource; ``countries`` is ignored (the data is Gaza only)."""
    rows: list[dict[str, Any]] = []
    for download in downloads:
        kind = download.resource.format.upper()
        records = read_xlsx(download) if kind == "XLSX" else read_csv(download)
        rows.extend(consignments(download, records))
    return {"aid_trucks": pd.DataFrame.from_records(rows, columns=TABLE_COLUMNS)}


def read_csv(download: hdx.Download) -> Iterator[tuple[int, list[str], list[Any]]]:
    yield from hdx.csv_records(download)


def read_xlsx(download: hdx.Download) -> Iterator[tuple[int, list[str], list[Any]]]:
    """(row number, header, cells) of the consignment sheet, streamed in read-only mode."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    download.fetched.check_format("XLSX")
    # A file object, not the path: the raw store's files have no .xlsx suffix for openpyxl.
    # A damaged workbook fails in the zip, the deflate stream, the XML or openpyxl's own
    # reading of it, while opening or (read-only mode reads lazily) at any row.
    broken = (
        InvalidFileException,
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        SyntaxError,  # XML parse errors, ElementTree's and lxml's
        KeyError,
        IndexError,
        TypeError,
        ValueError,
    )
    with download.path.open("rb") as handle:
        try:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except broken as exc:
            raise ParseError(
                SOURCE, download.where, f"not a readable XLSX workbook ({exc})"
            ) from exc
        try:
            name = next((s for s in SHEETS if s in book.sheetnames), None)
            if name is None:
                raise ParseError(
                    SOURCE, download.where, f"no sheet {SHEETS[0]!r} (sheets: {book.sheetnames})"
                )
            number = 1
            try:
                rows = book[name].iter_rows(values_only=True)
                header = ["" if v is None else str(v) for v in next(rows, ())]
                for number, cells in enumerate(rows, start=2):
                    yield number, header, list(cells)
            except broken as exc:
                raise ParseError(
                    SOURCE,
                    f"{download.where} sheet {name!r} row {number + 1}",
                    f"not a readable XLSX workbook ({type(exc).__name__}: {exc})",
                ) from exc
        finally:
            book.close()


def consignments(
    download: hdx.Download, records: Iterator[tuple[int, list[str], list[Any]]]
) -> Iterator[dict[str, Any]]:
    published, fetch_id, resource = download.published_on, download.fetch_id, download.resource.name
    positions: dict[str, int] | None = None
    for number, header, cells in records:
        if positions is None:
            positions = {h.strip(): i for i, h in enumerate(header) if h and h.strip()}
            missing = [c for c in REQUIRED if c not in positions]
            if missing:
                raise ParseError(SOURCE, download.where, f"missing column(s) {missing}")
        if all(_blank(c) for c in cells):
            continue  # an empty line (XLSX sheets often end with some)
        where = f"{download.where} row {number}"
        raw = {theirs: cells[i] if i < len(cells) else None for theirs, i in positions.items()}
        try:
            row = {
                "source": SOURCE,
                **{ours: _text(raw.get(theirs)) for theirs, ours in COLUMNS.items()},
                "consignment_id": _cell("ID", _identifier, raw),
                "trucks": _cell("No. of Trucks", _whole, raw),
                "received_on": _cell("Received Date", _day, raw),
                "quantity": _cell("Quantity", _number, raw),
                "last_edited": _cell("Last Edited Time", _moment, raw),
                "resource_name": resource,
                "published_on": published,
                "fetch_id": fetch_id,
            }
        except ValueError as exc:
            raise ParseError(SOURCE, where, str(exc)) from exc
        row["partial_data"] = (
            row["data_period"] == DATA_PERIOD_CURRENT
            if row["data_period"]
            else row["received_on"] >= PARTIAL_FROM
        )
        yield row
    if positions is None:
        raise ParseError(SOURCE, download.where, "no header row")


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _cell(column: str, convert: Any, raw: dict[str, Any]) -> Any:
    try:
        return convert(raw.get(column))
    except ValueError as exc:
        raise ValueError(f"column {column!r}: {exc}") from None


def _identifier(value: Any) -> str:
    if _blank(value):
        raise ValueError("empty")
    text = str(value).strip()
    if not isinstance(value, bool) and _numeric(text) and float(text).is_integer():
        return str(int(float(text)))  # 71495.0 (XLSX) and "71495" (CSV): the same consignment
    return text


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(value: Any) -> float | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    try:
        return float(str(value).replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None


def _whole(value: Any) -> int:
    number = _number(value)
    if number is None or not number.is_integer():
        raise ValueError(f"not a whole number of trucks: {value!r}")
    if number < 0:
        raise ValueError(f"a negative number of trucks: {value!r}")
    return int(number)


def _serial(number: float) -> datetime:
    if not 1 <= number < 2958466:  # Excel's range: 1900-01-01 to 9999-12-31
        raise ValueError(f"not an Excel serial date: {number!r}")
    return EXCEL_EPOCH + timedelta(seconds=round(number * 86400))


def _moment(value: Any) -> datetime | None:
    if _blank(value):
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, int | float):
        return _serial(float(value))
    text = str(value).strip()
    if _numeric(text):
        return _serial(float(text))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date, date-time or Excel serial date: {value!r}") from None


def _day(value: Any) -> date:
    moment = _moment(value)
    if moment is None:
        raise ValueError("empty")
    return moment.date()
