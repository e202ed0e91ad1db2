"""The XLSX writer: one sheet per table with typed cells, a README sheet first and a
Provenance sheet last."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from aggregator import __version__
from aggregator.export.catalogue import ExportError, datasets
from aggregator.export.cells import neutralise, text, values
from aggregator.export.files import atomic_file
from aggregator.export.licences import LICENCES

MAX_ROWS = 1_048_576  # rows of an Excel sheet, header included
MAX_COLUMNS = 16_384
MAX_TEXT = 32_767  # characters of an Excel cell
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
README, PROVENANCE = "README", "Provenance"
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_BOLD = Font(bold=True)


@dataclass(frozen=True)
class Readme:
    """What the README sheet says, besides what every workbook's README holds (the sheets and
    their row counts, the sources' licences, the notes on times and neutralised text).

    ``descriptions`` says what a sheet holds, by the name given to write_xlsx; a sheet named
    after a table or view of the warehouse is described from the schemas without it.
    """

    title: str
    as_of: date | None = None
    descriptions: Mapping[str, str] = field(default_factory=dict)
    notes: Sequence[str] = ()


def write_xlsx(
    path: Path,
    sheets: Mapping[str, pd.DataFrame],
    *,
    readme: Readme,
    provenance: pd.DataFrame,
) -> dict[str, str]:
    """Writes an XLSX workbook: README, then one sheet per entry of ``sheets`` in order, then
    Provenance (``provenance``, as aggregator.export.provenance gives it). Returns the title
    each sheet got: names are made valid for Excel (at most 31 characters, none of []:*?/\\,
    unique ignoring case).

    Data sheets have typed cells (numbers, booleans, dates with a date format, times in UTC
    with a date-time format), a bold frozen header row, an autofilter over the table and
    column widths fitted to their contents. Text starting with = + - @, a tab or a carriage
    return is stored as text with a leading apostrophe, never as a formula. The file is written
    beside ``path`` and renamed into place.
    """
    taken = {README.lower(), PROVENANCE.lower()}
    titles = {name: _sheet_title(name, taken) for name in sheets}
    book = Workbook(write_only=True)
    _readme_sheet(book, readme, sheets, titles, provenance)
    for name, frame in sheets.items():
        _data_sheet(book, titles[name], frame)
    _data_sheet(book, PROVENANCE, provenance)
    with atomic_file(Path(path)) as temporary:
        book.save(temporary)
    return titles


def _sheet_title(name: str, taken: set[str]) -> str:
    base = _BAD_SHEET_CHARS.sub("_", name).strip("'") or "Sheet"
    title, n = base[:31], 1
    while title.lower() in taken:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    taken.add(title.lower())
    return title


def _data_sheet(book: Workbook, title: str, frame: pd.DataFrame) -> None:
    rows, columns = frame.shape
    if rows + 1 > MAX_ROWS or columns > MAX_COLUMNS:
        raise ExportError(
            f"sheet {title}: {rows:,} rows x {columns:,} columns do not fit in an Excel sheet "
            f"({MAX_ROWS - 1:,} x {MAX_COLUMNS:,}); export it as csv or parquet"
        )
    sheet = book.create_sheet(title)
    header = [str(c) for c in frame.columns]
    cells = [list(values(frame.iloc[:, i])) for i in range(columns)]
    for i, (name, column) in enumerate(zip(header, cells, strict=True), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = _width(name, column)
    sheet.freeze_panes = "A2"
    sheet.append([_cell(sheet, name, font=_BOLD) for name in header])
    for r, row in enumerate(zip(*cells, strict=True), start=2):
        sheet.append([_cell(sheet, v, where=(title, header[c], r)) for c, v in enumerate(row)])
    sheet.auto_filter.ref = f"A1:{get_column_letter(max(columns, 1))}{rows + 1}"


def _width(header: str, column: list[Any]) -> float:
    longest = max([len(header), *(len(text(v)) for v in column[:1000])])
    return min(max(longest + 2, 8), 60)


def _cell(
    sheet: WriteOnlyWorksheet,
    value: Any,
    *,
    font: Font | None = None,
    where: tuple[str, str, int] | None = None,
) -> Any:
    """A cell of the right type; text is always a string cell, never a formula."""
    if isinstance(value, float) and not math.isfinite(value):
        value = None  # Excel has no NaN or infinity
    cell = WriteOnlyCell(sheet, value=None)
    if font is not None:
        cell.font = font
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        cell.value, cell.number_format = value, TIME_FORMAT
    elif isinstance(value, date):
        cell.value, cell.number_format = value, DATE_FORMAT
    elif value is None or isinstance(value, bool | int | float):
        cell.value = value
    else:
        string = neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(value)))
        if len(string) > MAX_TEXT:
            sheet_name, column, row = where or (sheet.title, "", 0)
            raise ExportError(
                f"sheet {sheet_name}, column {column}, row {row}: {len(string):,} characters, "
                f"more than an Excel cell holds ({MAX_TEXT:,}); export it as csv or parquet"
            )
        cell.value = string
        cell.data_type = "s"  # set after the value: openpyxl would take '=...' for a formula
    return cell


def _readme_sheet(
    book: Workbook,
    readme: Readme,
    sheets: Mapping[str, pd.DataFrame],
    titles: Mapping[str, str],
    provenance: pd.DataFrame,
) -> None:
    sheet = book.create_sheet(README)
    for letter, width in zip("ABCDE", (26, 30, 90, 60, 60), strict=True):
        sheet.column_dimensions[letter].width = width
    known = datasets()

    def line(*cells: Any, bold: bool = False) -> None:
        sheet.append([_cell(sheet, v, font=_BOLD if bold else None) for v in cells])

    line(readme.title, bold=True)
    line()
    if readme.as_of:
        line("As of", readme.as_of)
    line("Created (UTC)", datetime.now(UTC).replace(microsecond=0))
    line("Created by", f"foodsec-aggregator {__version__}")
    line()
    line("Sheet", "Rows", "What it holds", bold=True)
    for name, frame in sheets.items():
        about = readme.descriptions.get(name) or (known[name].description if name in known else "")
        line(titles[name], len(frame), about)
    line(
        PROVENANCE,
        len(provenance),
        "Every download the rows of this workbook came from: source, URL, the publisher's "
        "release date, when it was fetched, its sha256 (the same bytes are kept in the raw "
        "store) and whether the refresh ran live or replayed a recording.",
    )
    line()
    line("Source", "Terms", "Credit", "Publisher", "Where", bold=True)
    for source in _sources(sheets, provenance):
        terms = LICENCES[source]
        line(source, terms.terms, terms.attribution, terms.publisher, terms.url)
    line()
    line("Notes", bold=True)
    for note in (
        "Times (fetched_at and the like) are in UTC.",
        "Text that began with =, +, -, @, a tab or a carriage return starts with an apostrophe "
        "here, so that no spreadsheet runs it as a formula; the warehouse holds it without.",
        *readme.notes,
    ):
        line(note)


def _sources(sheets: Mapping[str, pd.DataFrame], provenance: pd.DataFrame) -> list[str]:
    """Sources whose data the workbook holds: named in Provenance, or in the source column
    (or official_source, newest_source) of a sheet."""
    found: set[str] = set()
    for frame in [provenance, *sheets.values()]:
        for column in frame.columns:
            if column == "source" or str(column).endswith("_source"):
                found.update(str(v) for v in frame[column].dropna())
    return sorted(found & set(LICENCES))  # data_source and report_source name other things
