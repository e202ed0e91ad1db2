"""The only writer of the DuckDB warehouse.

Tables are created from the pandera models in ``schemas`` (columns added when a model grows).
A source's result is published in one transaction: its fact rows replaced by vintage, its
fetches, rejects and run row appended. DuckDB commits atomically through its write-ahead log,
so a crash at any point leaves the last committed state. A lock file keeps a second refresh
out, and the warehouse is opened only for the short publish, not while downloading.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd
import tenacity

from aggregator import staging
from aggregator.ddl import columns_of
from aggregator.errors import LockHeld, WarehouseError
from aggregator.http import Validator
from aggregator.staging import Staged
from schemas import TABLES, Table
from schemas.metrics import METRICS

METRICS_FRAME = pd.DataFrame(
    [(m.id, m.unit, m.kind, m.tolerance, m.description) for m in METRICS.values()],
    columns=["metric", "unit", "kind", "tolerance", "description"],
)


@contextmanager
def refresh_lock(warehouse: Path) -> Iterator[None]:
    """Held for a whole refresh. flock is released by the kernel if the process dies."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    path = warehouse.with_name(warehouse.name + ".lock")
    handle = open(path, "a+")  # noqa: SIM115 - held open for the whole refresh, closed below
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown process"
        handle.close()
        raise LockHeld(
            f"another refresh holds {path} ({holder}); try again when it has finished"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(
        f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}\n"
    )
    handle.flush()
    try:
        yield
    finally:
        handle.truncate(0)
        handle.close()


def require(path: Path) -> None:
    """A clear error when there is no warehouse yet, for every reader."""
    if not path.is_file():
        raise WarehouseError(
            f"no warehouse at {path}: run `make demo` or `aggregator refresh` first"
        )


def read_only(path: Path) -> duckdb.DuckDBPyConnection:
    require(path)
    return connect(path, read_only=True)


# How long a refresh waits for readers (a notebook, `aggregator sql`) to close the file:
# DuckDB lets no process write while another has it open.
WRITE_WAIT_SECONDS = 30.0


def _is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


def connect(path: Path, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    waiting = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_is_lock_conflict),
        wait=tenacity.wait_exponential(multiplier=0.05, max=1.0),
        stop=tenacity.stop_after_delay(0 if read_only else WRITE_WAIT_SECONDS),
        reraise=True,
    )
    try:
        return waiting(duckdb.connect, str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot open warehouse {path}: {exc}") from exc


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Tables from the schemas (columns added when a model grows), then the views of sql/."""
    for table in TABLES.values():
        wanted = columns_of(table)
        existing = {
            row[0]: row[1]
            for row in con.execute(
                "select column_name, data_type from information_schema.columns where table_name = ?",
                [table.name],
            ).fetchall()
        }
        if not existing:
            cols = ", ".join(f'"{c}" {t}' for c, t in wanted.items())
            con.execute(f'create table "{table.name}" ({cols})')
            continue
        for column, type_ in wanted.items():
            if column not in existing:
                con.execute(f'alter table "{table.name}" add column "{column}" {type_}')
    for view in sorted(resources.files("aggregator.sql").iterdir(), key=lambda p: p.name):
        if view.name.endswith(".sql"):
            con.execute(view.read_text())
    con.execute("delete from metrics")
    _append(con, "metrics", METRICS_FRAME)


def prepare(path: Path) -> None:
    """Brings the tables and views up to the schemas before a refresh reads from them."""
    try:
        with connect(path) as con:
            con.execute("begin transaction")
            ensure_tables(con)
            con.execute("commit")
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot prepare warehouse {path}: {exc}") from exc


def validators(path: Path, sources: list[str]) -> dict[str, dict[str, Validator]]:
    """Last good download of each URL of each source, for conditional GET.

    Only downloads of runs whose data was published (or confirmed unchanged) count: after a
    failed validation the next refresh must fetch the body again, not accept a 304.
    """
    found: dict[str, dict[str, Validator]] = {source: {} for source in sources}
    if not path.exists():
        return found
    with connect(path, read_only=True) as con:
        if not con.execute(
            "select 1 from information_schema.tables where table_name = 'fetches'"
        ).fetchall():
            return found
        rows = con.execute(
            """
            select f.source, f.url, f.etag, f.last_modified, f.sha256, f.raw_path, f.version
            from fetches f join runs r using (run_id, source)
            where f.source in (select unnest(?)) and f.sha256 is not null and f.error is null
              and r.outcome in ('published', 'not_modified')
            qualify row_number() over (partition by f.source, f.url order by f.requested_at desc) = 1
            """,
            [sources],
        ).fetchall()
    for source, url, *known in rows:
        found[source][url] = Validator(*known)
    return found


def publish(
    path: Path,
    *,
    facts: dict[str, pd.DataFrame | Staged],
    run: dict,
    fetches: pd.DataFrame,
    rejects: pd.DataFrame,
) -> None:
    """Writes one source's outcome in a single transaction: all of it or none of it.

    The tables must be there (``prepare``, which every refresh runs first).
    """
    meta = {"fetches": fetches, "rejects": rejects, "runs": pd.DataFrame([run])}
    meta = {name: TABLES[name].model.validate(f) for name, f in meta.items() if len(f)}
    try:
        with connect(path) as con:
            con.execute(f"set memory_limit = '{staging.MEMORY_LIMIT}'")
            con.execute("begin transaction")
            try:
                for name, frame in facts.items():
                    _replace_vintages(con, TABLES[name], frame, run["source"])
                for name, frame in meta.items():
                    _append(con, name, frame)
                con.execute("commit")
            except BaseException:
                # A commit that failed (a full disk) has rolled back already: its error, not
                # the refused rollback's, is the one to report.
                with contextlib.suppress(duckdb.Error):
                    con.execute("rollback")
                raise
    except duckdb.Error as exc:
        raise WarehouseError(
            f"publishing {run['source']} to {path} failed, nothing written: {exc}"
        ) from exc


def _replace_vintages(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    frame: pd.DataFrame | Staged,
    source: str,
) -> None:
    if isinstance(frame, Staged):
        stage = frame.relation_sql()
    else:
        con.register("staged_frame", frame)
        stage = "staged_frame"
    columns = ", ".join(f'"{c}"' for c in columns_of(table))
    try:
        con.execute(f"create or replace temp view staged as select {columns} from {stage}")
        if table.replace_by:
            con.execute(
                f'delete from "{table.name}" where source = ? and "{table.replace_by}" in '
                f'(select distinct "{table.replace_by}" from staged)',
                [source],
            )
        else:
            con.execute(f'delete from "{table.name}" where source = ?', [source])
        con.execute(f'insert into "{table.name}" by name select * from staged')
    finally:
        con.execute("drop view if exists staged")
        if stage == "staged_frame":
            con.unregister("staged_frame")


def _append(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        return
    con.register("staged", frame)
    try:
        con.execute(f'insert into "{name}" by name select * from staged')
    finally:
        con.unregister("staged")


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    present = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    return {
        t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in TABLES if t in present
    }
