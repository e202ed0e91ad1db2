"""Large tables staged as a DuckDB query over the raw files, loaded once when they publish.

A connector whose payloads can hold millions of rows (the IPC API) builds no frame: it
describes its rows (``Staged``) as a query over the raw files it downloaded, or over tables it
built from them in a file of its stage (``Plan``). The warehouse runs that query straight into
the table inside the source's publishing transaction, so the rows are written once; the
table's checks then run over the loaded rows as SQL (aggregator.screen) and pandera judges
only the vintages the screen flags. A failure rolls the whole transaction back.

When a value does not cast to its column's type (a population of 'n/a'), the typed query
fails; the same rows read as text (``text_query``) let validation name each failing row,
column and value.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from aggregator.ddl import columns_of
from aggregator.errors import AggregatorError
from schemas import TABLES

# DuckDB spills to disk beyond this, so a refresh's memory does not grow with the payload.
MEMORY_LIMIT = "512MB"
TEXT_CHUNK_ROWS = 250_000


def literal(text: str) -> str:
    """A SQL string literal of ``text``: staged queries hold values as literals, not joins."""
    return "'" + str(text).replace("'", "''") + "'"


def configure(con: duckdb.DuckDBPyConnection, workdir: Path | None = None) -> None:
    """Memory settings for a connection that loads or reads staged rows; DuckDB spills to
    ``workdir`` when given."""
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
    # Rows have no meaningful order before they are loaded: without order-keeping DuckDB
    # streams with less memory.
    con.execute("set preserve_insertion_order = false")
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        con.execute(f"set temp_directory = {literal(str(workdir))}")


# A plan's query may read tables that the connector built in a file (plan_database). DuckDB
# scans a table one row group per thread: small row groups let a few thousand rows (the IPC
# units) fan out over every core as they unnest into millions.
PLAN_ROW_GROUP = 8192
PLAN_DATABASE = "plan"


def plan_table(name: str) -> str:
    """How SQL names a table of the plan database."""
    return f'{PLAN_DATABASE}."{name}"'


@contextmanager
def plan_database(con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[None]:
    """A new file ``path`` attached to ``con`` as the plan database while the block builds
    its tables (``plan_table``), written out when it ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    _attach(con, path, "")
    try:
        yield
        # Written here, where a full disk is told as such, rather than by the detach.
        con.execute(f"checkpoint {PLAN_DATABASE}")
    except duckdb.Error as exc:
        refuse_unwritten(exc, path)
        raise
    finally:
        with contextlib.suppress(duckdb.Error):
            con.execute(f"detach {PLAN_DATABASE}")


def refuse_unwritten(exc: BaseException, path: Path) -> None:
    """Raises an AggregatorError naming ``path`` when DuckDB's ``exc`` says that it could not
    write a file (a full disk): no fault of the data, and not to be reported as one."""
    if "Could not write file" in str(exc):
        reason = str(exc).splitlines()[0]
        raise AggregatorError(f"cannot write the stage file {path}: {reason}") from None


def _attach(con: duckdb.DuckDBPyConnection, path: Path, mode: str) -> None:
    # DuckDB splits a scan by the row group size the database is attached with, not by the
    # one it was written with.
    con.execute(
        f"attach {literal(str(path))} as {PLAN_DATABASE} ({mode}row_group_size {PLAN_ROW_GROUP})"
    )


@dataclass(frozen=True)
class Plan:
    """SQL computing staged rows: ``query``, which may read the tables of a plan database
    (``database``)."""

    query: str
    database: Path | None = None

    @contextmanager
    def attached(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """The plan database attached to ``con`` read-only while the block runs: the
        publishing transaction may write to the warehouse alone."""
        if self.database is None:
            yield
            return
        _attach(con, self.database, "read_only, ")
        try:
            yield
        finally:
            # In a transaction that failed DuckDB refuses even this; closing detaches.
            with contextlib.suppress(duckdb.Error):
                con.execute(f"detach {PLAN_DATABASE}")


class CastFailed(Exception):
    """The typed query of a staged table met a value that does not cast (DuckDB's reason)."""


@dataclass(frozen=True)
class Staged:
    """Rows of ``table`` computed by DuckDB from raw files: ``plan`` selects the table's
    columns (typed), ``text_plan`` the same rows with ``text_columns`` as read. ``vintages``
    are the values of the table's ``replace_by`` column that the rows bring. ``explain`` turns
    DuckDB's error on a payload that the text query cannot read either into the connector's
    ParseError, naming the URL."""

    table: str
    plan: Plan
    text_plan: Plan
    text_columns: tuple[str, ...]
    vintages: tuple[str, ...]
    explain: Callable[[Exception], Exception]
    # DuckDB's spill files when the rows are read outside the warehouse.
    workdir: Path | None = None

    def typed_sql(self, *, text: bool = False) -> str:
        """The rows with the warehouse table's columns and types (text columns kept as read),
        once the plan's temporary tables are there."""
        types = columns_of(TABLES[self.table])
        if text:
            types |= dict.fromkeys(self.text_columns, "VARCHAR")
        columns = ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in types.items())
        return f"select {columns} from ({(self.text_plan if text else self.plan).query})"

    def insert_into(self, con: duckdb.DuckDBPyConnection, target: str) -> int:
        """Runs the typed query into ``target`` (a table of ``con``); returns the rows written."""
        try:
            with self.plan.attached(con):
                insert = f'insert into "{target}" by name {self.typed_sql()}'
                return con.execute(insert).fetchone()[0]
        except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
            raise CastFailed(str(exc).splitlines()[0]) from exc

    def text_frames(self) -> Iterator[pd.DataFrame]:
        """The rows with the text columns as read, chunk by chunk, indexed by row number in
        key order (the order in which the loaded rows are numbered)."""
        key = ", ".join(f'"{c}"' for c in TABLES[self.table].key)
        with self._connection() as con:
            try:
                with self.text_plan.attached(con):
                    result = con.execute(f"{self.typed_sql(text=True)} order by {key}")
                    offset = 0
                    while len(frame := result.fetch_df_chunk(TEXT_CHUNK_ROWS // 2048)):
                        frame.index = pd.RangeIndex(offset, offset + len(frame))
                        offset += len(frame)
                        yield frame
            # DuckDB's message about bytes that are not UTF-8 can itself fail to decode.
            except (duckdb.Error, UnicodeDecodeError) as exc:
                raise self.explain(exc) from None

    def frame(self) -> pd.DataFrame:
        """All rows at once, typed, in key order (as text if a value does not cast): for
        small stages and tests."""
        with self._connection() as con:
            columns = ", ".join(f'"{c}" {t}' for c, t in columns_of(TABLES[self.table]).items())
            con.execute(f'create table "{self.table}" ({columns})')
            try:
                self.insert_into(con, self.table)
            except CastFailed:
                return pd.concat(list(self.text_frames()) or [_empty(self.table)])
            key = ", ".join(f'"{c}"' for c in TABLES[self.table].key)
            return con.sql(f'select * from "{self.table}" order by {key}').df()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect()
        configure(con, self.workdir)
        return con


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame(columns=list(columns_of(TABLES[table])))
