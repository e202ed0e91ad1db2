"""Large tables staged as Parquet chunk files between parse and publish.

A connector whose payloads can hold millions of rows (the IPC API) parses them with DuckDB
and writes the rows, chunk by chunk, straight to Parquet files (DuckDB's COPY) instead of
building a pandas frame. The pipeline validates the staged rows one chunk at a time with the
same pandera models, so memory stays flat as data grows, and the warehouse copies the files
in its publishing transaction. Each chunk holds whole vintages (the table's ``replace_by``
column, e.g. one IPC analysis): the checks that compare rows of one analysis, and the table
key, which contains that column, hold across chunks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from aggregator.ddl import columns_of
from aggregator.errors import WarehouseError
from schemas import TABLES

CHUNK_ROWS = 250_000
# DuckDB spills to disk beyond these, so a refresh's memory does not grow with the payload.
# Parsing needs more: an IPC answer is one JSON array whose analyses DuckDB holds in a
# single row group, with every unit nested inside.
PARSE_MEMORY_LIMIT = "2GB"
MEMORY_LIMIT = "512MB"  # the warehouse, while a refresh publishes


@dataclass(frozen=True)
class Staged:
    """Rows of ``table`` in the Parquet ``files`` (one per chunk), to validate and publish."""

    table: str
    files: tuple[Path, ...]
    rows: int

    def __len__(self) -> int:
        return self.rows

    def frames(self) -> Iterator[pd.DataFrame]:
        """The rows chunk by chunk, indexed by their row number across the chunks."""
        offset = 0
        for path in self.files:
            frame = pq.read_table(path).to_pandas(date_as_object=False)
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            offset += len(frame)
            if len(frame):
                yield frame

    def frame(self) -> pd.DataFrame:
        """All rows at once: for small stages and tests."""
        frames = list(self.frames())
        if not frames:
            return pd.DataFrame(columns=list(columns_of(TABLES[self.table])))
        return pd.concat(frames)

    def relation_sql(self) -> str:
        """SQL naming the staged rows, for DuckDB to read them back."""
        listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in self.files)
        return f"read_parquet([{listed}])"


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB file to parse in: tables written to it leave memory as they are written."""
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open staging file {path}: {exc}") from exc
    con.execute(f"set memory_limit = '{PARSE_MEMORY_LIMIT}'")
    # Row order inside a chunk does not matter; without order-keeping DuckDB streams with
    # less memory.
    con.execute("set preserve_insertion_order = false")
    return con


def chunk_count(rows: int) -> int:
    return max(1, math.ceil(rows / CHUNK_ROWS))


def write_chunks(
    con: duckdb.DuckDBPyConnection,
    table: str,
    folder: Path,
    chunk_sql: list[str],
    *,
    text_columns: tuple[str, ...] = (),
) -> Staged:
    """Writes the rows of each query of ``chunk_sql`` to a Parquet file of its own, with the
    warehouse table's columns and types (``text_columns`` kept as text: values that did not
    cast are staged as read, so that validation names each failing row and value)."""
    types = columns_of(TABLES[table]) | dict.fromkeys(text_columns, "VARCHAR")
    columns = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in types.items())
    folder.mkdir(parents=True, exist_ok=True)
    files, rows = [], 0
    for number, query in enumerate(chunk_sql):
        path = folder / f"{table}-{number:05d}.parquet"
        quoted = str(path).replace("'", "''")
        con.execute(f"copy (select {columns} from ({query})) to '{quoted}' (format parquet)")
        rows += pq.ParquetFile(path).metadata.num_rows
        files.append(path)
    return Staged(table, tuple(files), rows)
