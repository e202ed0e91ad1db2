"""`aggregator export NAME`: one table or view of the warehouse, in one format."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import duckdb

from aggregator.export.catalogue import ExportError, dataset, open_warehouse, provenance, read
from aggregator.export.parquet import write_parquet
from aggregator.export.text import write_csv, write_json
from aggregator.export.workbook import Readme, write_xlsx


def export_table(
    warehouse: Path,
    name: str,
    fmt: str,
    output: Path | None,
    stdout: IO[bytes],
    *,
    hxl: bool = False,
    excel: bool = False,
) -> None:
    """Writes table or view ``name`` as ``fmt`` to ``output``, or to ``stdout`` (csv, json)."""
    about = dataset(name)
    with open_warehouse(warehouse) as con:
        try:
            if fmt == "parquet":
                write_parquet(con, name, output)
                return
            frame = read(con, name)
            sources = provenance(con, [frame]) if fmt == "xlsx" else None
        except duckdb.Error as exc:
            raise ExportError(f"exporting {name} failed: {exc}") from exc
    if fmt == "xlsx":
        readme = Readme(title=f"{name}: {about.description}")
        write_xlsx(output, {name: frame}, readme=readme, provenance=sources)
    elif fmt == "json":
        write_json(frame, output or stdout)
    else:
        write_csv(frame, output or stdout, excel=excel, hxl=hxl, table=name)
