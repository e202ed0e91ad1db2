"""Large tables staged in a DuckDB file of their own between parse and publish.

A connector whose payloads can hold millions of rows (the IPC API) parses them with DuckDB
straight into a staging table instead of a pandas frame. The pipeline validates the staged
rows chunk by chunk with the same pandera models, so memory stays flat as data grows, and
the warehouse copies them in its publishing transaction. Each chunk holds whole vintages
(the table's ``replace_by`` column, e.g. one IPC analysis): the checks that compare rows of
one analysis and the table key, which contains that column, hold across chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from aggregator.ddl import columns_of
from aggregator.errors import WarehouseError
from schemas import TABLES

CHUNK_ROWS = 250_000
CHUNK_COLUMN = "_chunk"
# DuckDB spills to disk beyond this, so a refresh's memory does not grow with the payload
# (for staging, and for the warehouse while a refresh publishes).
MEMORY_LIMIT = "512MB"


@dataclass(frozen=True)
class Staged:
    """Rows of ``table`` in the staging file ``path``, ready to validate and publish."""

    path: Path
    table: str
    rows: int
    chunks: int

    def __len__(self) -> int:
        return self.rows

    def frames(self) -> Iterator[pd.DataFrame]:
        """The rows chunk by chunk, indexed by their row number in the staging table."""
        columns = ", ".join(f'"{c}"' for c in columns_of(TABLES[self.table]))
        with connect(self.path, read_only=True) as con:
            for chunk in range(self.chunks):
                batch = con.sql(
                    f'select rowid as _row, {columns} from "{self.table}" '
                    f"where {CHUNK_COLUMN} = {chunk}"
                ).to_arrow_table()
                if batch.num_rows:
                    yield batch.to_pandas(date_as_object=False).set_index("_row")

    def frame(self) -> pd.DataFrame:
        """All rows at once: for small stages and tests."""
        frames = list(self.frames())
        if not frames:
            return pd.DataFrame(columns=list(columns_of(TABLES[self.table])))
        return pd.concat(frames).sort_index()


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open staging file {path}: {exc}") from exc
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
    # Rows are ordered explicitly where order matters (by chunk); without the default
    # order-keeping, DuckDB streams inserts with less memory.
    con.execute("set preserve_insertion_order = false")
    return con


def create_table(
    con: duckdb.DuckDBPyConnection, table: str, *, text_columns: tuple[str, ...] = ()
) -> None:
    """The staging table: the warehouse table's columns and types, plus the chunk number.

    ``text_columns`` are staged as text: a payload whose values did not cast is staged as
    read, so that validation names each failing row and value.
    """
    types = columns_of(TABLES[table]) | dict.fromkeys(text_columns, "VARCHAR")
    columns = ", ".join(f'"{c}" {t}' for c, t in types.items())
    con.execute(f'create table "{table}" ({columns}, {CHUNK_COLUMN} INTEGER)')


def chunk_count(rows: int) -> int:
    return max(1, math.ceil(rows / CHUNK_ROWS))


def staged(con: duckdb.DuckDBPyConnection, path: Path, table: str, chunks: int) -> Staged:
    rows = con.execute(f'select count(*) from "{table}"').fetchone()[0]
    return Staged(path, table, rows, chunks)
