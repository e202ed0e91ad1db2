"""Reading the hand-curated CSVs (reference figures, press claims): one shape check for both.

A curated file is UTF-8 (a byte-order mark is allowed), a header line naming columns from a
known set, then one row per line; blank lines are skipped. Every problem is a ParseError that
names the file, the line and the field, because a person has to find it and fix it by hand.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from aggregator.config import curated_max_bytes
from aggregator.errors import ParseError


@dataclass(frozen=True)
class CuratedRow:
    line: int  # the header is line 1
    cells: dict[str, str]  # stripped; columns absent from the file are missing
    where: str  # file and line, for error messages


def rows(
    path: Path, where: str, source: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[CuratedRow]:
    """The rows of one file; ``where`` names it in errors."""
    check_size(path, where, source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(source, where, f"cannot read: {exc.strerror}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        offset = exc.start + len(data) - len(exc.object)  # a BOM is not in exc.object
        raise ParseError(
            source,
            f"{where} line {line}",
            f"not UTF-8 text: byte 0x{data[offset]:02x} at byte {offset + 1:,} of the file "
            f"({exc.reason}); save it as UTF-8",
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(h.strip() for h in header):
            raise ParseError(source, where, "empty file: expected a header line naming the columns")
        header = [h.strip() for h in header]
        _check_header(header, source, where, required, optional)
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise ParseError(
                    source,
                    f"{where} line {line}",
                    f"{len(record)} fields where the header has {len(header)}",
                )
            cells = {k: v.strip() for k, v in zip(header, record, strict=True)}
            yield CuratedRow(line, cells, f"{where} line {line}")
    except csv.Error as exc:
        raise ParseError(
            source, f"{where} line {reader.line_num}", f"malformed CSV ({exc})"
        ) from exc


def check_size(path: Path, where: str, source: str) -> None:
    """Refuses a file larger than AGGREGATOR_CURATED_MAX_BYTES before anything reads it:
    curated files are typed by hand and read whole into memory."""
    cap = curated_max_bytes()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ParseError(source, where, f"cannot read: {exc.strerror}") from None
    if size > cap:
        raise ParseError(
            source,
            where,
            f"{size:,} bytes, more than the {cap:,}-byte limit for a curated CSV "
            "(AGGREGATOR_CURATED_MAX_BYTES): is it a data export rather than a file of "
            "figures typed by hand?",
        )


def _check_header(
    header: list[str], source: str, where: str, required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in required + optional]
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
            source,
            f"{where} line 1",
            "; ".join(problems)
            + f" (columns: {', '.join(required)}; optional: {', '.join(optional)})",
        )


def number(row: CuratedRow, name: str, source: str) -> float | None:
    """A plain decimal number; empty is None (the schema says whether that is allowed)."""
    text = row.cells.get(name, "")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ParseError(
            source,
            row.where,
            f"field {name}: not a number: {text!r} (write 1200000, not 1.2 million or 1,200,000)",
        )
    return value


def day(row: CuratedRow, name: str, source: str) -> date | None:
    """A YYYY-MM-DD date; empty is None."""
    text = row.cells.get(name, "")
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ParseError(
            source, row.where, f"field {name}: not a YYYY-MM-DD date: {text!r}"
        ) from None
