"""Query results as a table, CSV or JSON, from plain Python rows (dates stay dates)."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from aggregator.export import cells


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def write_rows(columns: list[str], rows: list[tuple], fmt: str, out: IO[str]) -> None:
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        # The exporters' conversion: a formula-like text cell cannot run in a spreadsheet.
        writer.writerows([[cells.text(v) for v in row] for row in rows])
    elif fmt == "json":
        records = [{c: _json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
        out.write(json.dumps(records, indent=1, ensure_ascii=False, default=str) + "\n")
    else:
        console = Console(file=out)
        if not console.is_terminal:
            console = Console(file=out, width=10_000)  # a pipe or file: never fold cells
        view = Table(show_edge=False)
        for column in columns:
            view.add_column(column, overflow="fold")
        for row in rows:
            view.add_row(*(_text(v) for v in row))
        console.print(view)
        console.print(f"({len(rows):,} row{'s' if len(rows) != 1 else ''})", style="dim")
