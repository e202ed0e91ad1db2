"""CSV and JSON writers."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, TextIO

import pandas as pd

from aggregator import hxl as hxl_tags
from aggregator.export.cells import json_value, rows, text
from aggregator.export.files import atomic_file

Destination = str | os.PathLike | IO[bytes]


def write_csv(
    frame: pd.DataFrame,
    path: Destination,
    *,
    excel: bool = False,
    hxl: bool = False,
    table: str | None = None,
) -> None:
    """Writes ``frame`` as CSV: UTF-8, comma-separated, a header row, one line per row.

    ``path`` is a file (written beside and renamed into place) or a binary stream such as
    ``sys.stdout.buffer``. ``excel=True`` starts the file with a byte-order mark so that Excel
    reads it as UTF-8. ``hxl=True`` adds the HXL hashtag row (https://hxlstandard.org) under
    the header, from aggregator/hxl.py, with an empty cell for columns that have no tag;
    ``table`` names the table or view the frame holds, for the tags that differ by table.

    Cells: empty when missing; dates YYYY-MM-DD and times YYYY-MM-DD HH:MM:SS (with +00:00
    when zoned); booleans true/false; whole floats without ".0". Text starting with = + - @,
    a tab or a carriage return gets a leading apostrophe so that no spreadsheet runs it as a
    formula (OWASP, CSV Injection); numbers are never touched, so -7930 stays a number.
    """

    def write(out: TextIO) -> None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([text(str(c)) for c in frame.columns])
        if hxl:
            writer.writerow(hxl_tags.tags([str(c) for c in frame.columns], table))
        writer.writerows([[text(v) for v in row] for row in rows(frame)])

    _write(path, "utf-8-sig" if excel else "utf-8", write)


def write_json(frame: pd.DataFrame, path: Destination) -> None:
    """Writes ``frame`` as a JSON array of records, one object per row with every column;
    missing values are null, dates and times ISO 8601 strings, numbers and booleans as such.
    ``path`` as for write_csv. Text is written as it is: JSON is not run by spreadsheets."""
    columns = [str(c) for c in frame.columns]
    records = [{c: json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows(frame)]

    def write(out: TextIO) -> None:
        json.dump(records, out, indent=1, ensure_ascii=False, allow_nan=False)
        out.write("\n")

    _write(path, "utf-8", write)


def _write(path: Destination, encoding: str, write: Callable[[TextIO], None]) -> None:
    if isinstance(path, str | os.PathLike):
        with (
            atomic_file(Path(path)) as temporary,
            open(temporary, "w", encoding=encoding, newline="") as out,
        ):
            write(out)
        return
    out = io.TextIOWrapper(path, encoding=encoding, newline="")
    try:
        write(out)
        out.flush()
    finally:
        out.detach()  # the caller's stream stays open
