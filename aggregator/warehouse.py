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
import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
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
from aggregator.validate import Validation, count, validate_loaded
from schemas import TABLES, Table
from schemas.metrics import METRICS

log = logging.getLogger("aggregator.warehouse")

METRICS_FRAME = pd.DataFrame(
    [(m.id, m.unit, m.kind, m.tolerance, m.description, m.ipc_phase) for m in METRICS.values()],
    columns=["metric", "unit", "kind", "tolerance", "description", "ipc_phase"],
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
    """Tables from the schemas (columns added when a model grows), the views of sql/ and the
    metrics, with the stored figures rebuilt from the fact tables, unless the warehouse says it
    was last brought up to exactly these (a scheduled refresh then spends no time on it)."""
    views = [
        view.read_text()
        for view in sorted(resources.files("aggregator.sql").iterdir(), key=lambda p: p.name)
        if view.name.endswith(".sql")
    ]
    layout = _layout(views)
    if _recorded_layout(con) == layout:
        return
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
    # The SQL may give other columns than before: sql/20_figures.sql makes the table again.
    con.execute("drop table if exists figures_stored")
    for sql in views:
        con.execute(sql)
    store_figures(con)
    con.execute("delete from metrics")
    _append(con, "metrics", METRICS_FRAME)
    con.execute(f"comment on table figures_stored is '{layout}'")


def _layout(views: list[str]) -> str:
    """What a warehouse brought up to the schemas, the SQL and the metrics of this version
    records of them (on figures_stored, made last)."""
    parts = [
        *(f"{t.name}: {columns_of(t)}" for t in TABLES.values()),
        *views,
        METRICS_FRAME.to_csv(index=False),
    ]
    return "layout sha256 " + sha256("\n".join(parts).encode()).hexdigest()


def _recorded_layout(con: duckdb.DuckDBPyConnection) -> str | None:
    found = con.execute(
        "select comment from duckdb_tables() "
        "where database_name = current_database() and table_name = 'figures_stored'"
    ).fetchall()
    return found[0][0] if found else None


def store_figures(con: duckdb.DuckDBPyConnection, source: str | None = None) -> None:
    """Replaces the stored figures of ``source`` (of every source when None) by those its fact
    tables give now, in the caller's transaction. Its fetches must be in: figures carry the
    URL of their download."""
    con.execute(
        "delete from figures_stored where ?::varchar is null or source = ?", [source, source]
    )
    con.execute("insert into figures_stored by name select * from figures_of(?::varchar)", [source])


def prepare(path: Path) -> None:
    """Brings the tables and views up to the schemas before a refresh reads from them."""
    try:
        with connect(path) as con, _transaction(con):
            ensure_tables(con)
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot prepare warehouse {path}: {exc}") from exc


def validators(path: Path, sources: list[str]) -> dict[str, dict[str, Validator]]:
    """Last good download of each URL of each source, for conditional GET.

    Only downloads of runs whose data was published (or confirmed unchanged) count: after a
    failed validation the next refresh must fetch the body again, not accept a 304. They are
    read before ``prepare`` (so that the downloads need not wait for it): a warehouse of an
    older layout that lacks a column read here gives none, and everything is downloaded.
    """
    found: dict[str, dict[str, Validator]] = {source: {} for source in sources}
    if not path.exists():
        return found
    with connect(path, read_only=True) as con:
        try:
            rows = _last_good_downloads(con, sources)
        except (duckdb.CatalogException, duckdb.BinderException) as exc:
            log.info("no conditional requests this time: %s", str(exc).splitlines()[0])
            return found
    for source, url, *known in rows:
        found[source][url] = Validator(*known)
    return found


def _last_good_downloads(con: duckdb.DuckDBPyConnection, sources: list[str]) -> list[tuple]:
    return con.execute(
        """
        select f.source, f.url, f.etag, f.last_modified, f.sha256, f.raw_path, f.version
        from fetches f join runs r using (run_id, source)
        where f.source in (select unnest(?)) and f.sha256 is not null and f.error is null
          and r.outcome in ('published', 'not_modified')
        qualify row_number() over (partition by f.source, f.url order by f.requested_at desc) = 1
        """,
        [sources],
    ).fetchall()


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        # A commit that failed (a full disk) has rolled back already: its error, not the
        # refused rollback's, is the one to report.
        with contextlib.suppress(duckdb.Error):
            con.execute("rollback")
        raise


@dataclass
class Published:
    """What a publish wrote: fact rows per table, and the rejects recorded (the ones given
    and the warnings found on staged rows as they loaded)."""

    rows: dict[str, int]
    rejects: pd.DataFrame


class Refused(Exception):
    """Staged rows failed their blocking checks once loaded: the transaction was rolled back."""

    def __init__(self, checks: list[Validation]):
        super().__init__("; ".join(f"{c.table}: {c.errors} failure case(s)" for c in checks))
        self.checks = checks


def publish(
    path: Path,
    *,
    facts: dict[str, pd.DataFrame | Staged],
    run: dict,
    fetches: pd.DataFrame,
    rejects: pd.DataFrame,
) -> Published:
    """Writes one source's outcome in a single transaction: all of it or none of it.

    Staged facts (aggregator.staging) are loaded by DuckDB and checked where they lie; when
    they fail, nothing is written and ``Refused`` names the checks (with ``staging.CastFailed``
    when a value does not even cast). The run row's counts (rows, warnings, rejected) are set
    from what is written. The tables must be there (``prepare``, which every refresh runs first).
    """
    try:
        with connect(path) as con:
            staging.configure(con)
            with _transaction(con):
                rows, checks = {}, []
                for name, frame in facts.items():
                    rows[name], check = _replace_vintages(
                        con, TABLES[name], frame, run["source"], run["run_id"]
                    )
                    checks += [check] if check is not None else []
                if failed := [c for c in checks if c.data is None]:
                    raise Refused(failed)
                found = [r for r in (rejects, *(c.rejects for c in checks)) if len(r)]
                rejects = pd.concat(found, ignore_index=True) if found else rejects
                _append_runs(con, [(run, fetches, rejects, sum(rows.values()))])
                _store_published_figures(con, run["source"], facts)
    except duckdb.Error as exc:
        raise WarehouseError(
            f"publishing {run['source']} to {path} failed, nothing written: {exc}"
        ) from exc
    return Published(rows, rejects)


def record_runs(path: Path, runs: list[tuple[dict, pd.DataFrame, pd.DataFrame]]) -> None:
    """Writes the run rows, fetches and rejects of sources that bring no fact rows (nothing
    changed, failed, skipped) in one transaction: a refresh where nothing changed opens the
    warehouse once for all of them."""
    if not runs:
        return
    try:
        with connect(path) as con, _transaction(con):
            _append_runs(con, [(run, fetches, rejects, 0) for run, fetches, rejects in runs])
    except duckdb.Error as exc:
        sources = ", ".join(run["source"] for run, _, _ in runs)
        raise WarehouseError(f"recording the runs of {sources} in {path} failed: {exc}") from exc


def _append_runs(
    con: duckdb.DuckDBPyConnection, runs: list[tuple[dict, pd.DataFrame, pd.DataFrame, int]]
) -> None:
    """Appends each source's run row (counts from its fact ``rows`` and its rejects), fetches
    and rejects; each meta table's rows are checked together."""
    rows = [
        run | {"rows": n, "warnings": count(r, "warning"), "rejected": count(r, "error")}
        for run, _, r, n in runs
    ]
    meta = {
        "fetches": [f for _, f, _, _ in runs if len(f)],
        "rejects": [r for _, _, r, _ in runs if len(r)],
        "runs": [pd.DataFrame(rows)],
    }
    for name, frames in meta.items():
        if frames:
            frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            _append(con, name, TABLES[name].model.validate(frame))


def _store_published_figures(
    con: duckdb.DuckDBPyConnection, source: str, facts: dict[str, pd.DataFrame | Staged]
) -> None:
    # A run that brought no new fact rows (nothing modified, or failed) leaves its figures.
    if facts:
        store_figures(con, source)


def _replace_vintages(
    con: duckdb.DuckDBPyConnection,
    table: Table,
    frame: pd.DataFrame | Staged,
    source: str,
    run_id: str,
) -> tuple[int, Validation | None]:
    """Replaces the source's rows of the vintages ``frame`` brings; staged rows are checked
    once loaded (their Validation), frames were checked before."""
    name = f'"{table.name}"'
    if isinstance(frame, Staged):
        vintages = f"select unnest([{', '.join(staging.literal(v) for v in frame.vintages)}])"
        _delete(con, table, source, vintages)
        rows = frame.insert_into(con, table.name)
        of_source = f"select * from {name} where source = {staging.literal(source)}"
        (held,) = con.execute(f"select count(*) from ({of_source})").fetchone()
        # Naming the loaded rows by vintage costs a join on every read of them: needed only
        # when the table keeps other vintages of the source.
        loaded = (
            f'({of_source} and "{table.replace_by}" in ({vintages}))'
            if held > rows
            else f"({of_source})"
        )
        return rows, validate_loaded(con, table.name, loaded, run_id=run_id, source=source)
    columns = ", ".join(f'"{c}"' for c in columns_of(table))
    con.register("staged_frame", frame)
    try:
        _delete(con, table, source, f'select distinct "{table.replace_by}" from staged_frame')
        con.execute(f"insert into {name} by name select {columns} from staged_frame")
    finally:
        con.unregister("staged_frame")
    return len(frame), None


def _delete(con: duckdb.DuckDBPyConnection, table: Table, source: str, vintages: str) -> None:
    """Deletes the source's rows of the vintages that the SQL ``vintages`` selects (all of
    the source's rows for a table without vintages)."""
    where = f' and "{table.replace_by}" in ({vintages})' if table.replace_by else ""
    con.execute(f'delete from "{table.name}" where source = ?{where}', [source])


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
