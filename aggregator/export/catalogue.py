"""What can be exported: every table of ``schemas`` and every view of aggregator/sql, with
its description, key and column descriptions; reading one, and the provenance of its rows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd

from aggregator.errors import AggregatorError
from aggregator.warehouse import read_only
from schemas import TABLES

# A view file starts "-- name: what it holds"; its statement "create or replace view name".
_VIEW = re.compile(r"create\s+or\s+replace\s+view\s+(\w+)", re.I)
_HEAD = re.compile(r"--\s*(\w+):\s*(.+)")


class ExportError(AggregatorError):
    pass


@dataclass(frozen=True)
class Dataset:
    name: str
    kind: str  # fact, meta (tables, see schemas.Table) or view
    description: str
    key: tuple[str, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)  # column -> description


@cache
def datasets() -> dict[str, Dataset]:
    """Tables in registry order, then views in load order."""
    found = {
        t.name: Dataset(
            t.name,
            t.kind,
            t.description,
            t.key,
            {n: c.description or "" for n, c in t.model.to_schema().columns.items()},
        )
        for t in TABLES.values()
    }
    files = sorted(resources.files("aggregator.sql").iterdir(), key=lambda p: p.name)
    for file in files:
        if not file.name.endswith(".sql"):
            continue
        sql = file.read_text()
        head = _HEAD.match(sql)
        for name in _VIEW.findall(sql):
            about = head.group(2).strip() if head and head.group(1) == name else ""
            about = about[:1].upper() + about[1:]
            found[name] = Dataset(name, "view", about)
    return found


def dataset(name: str) -> Dataset:
    try:
        return datasets()[name]
    except KeyError:
        known = ", ".join(sorted(datasets()))
        raise ExportError(f"no table or view named {name!r} (known: {known})") from None


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only; a clear error when there is none yet."""
    return read_only(path)


def read(con: duckdb.DuckDBPyConnection, name: str) -> pd.DataFrame:
    """A whole table or view, rows sorted on all columns so that exports are reproducible."""
    return con.execute(query(con, name)).df()


def query(con: duckdb.DuckDBPyConnection, name: str) -> str:
    dataset(name)
    present = con.execute(
        "select 1 from information_schema.tables where table_name = ?", [name]
    ).fetchall()
    if not present:
        raise ExportError(
            f"{name} is not in the warehouse yet: run `aggregator refresh` with this version"
        )
    return f'select * from "{name}" order by all'


def fetch_columns(frame: pd.DataFrame) -> list[str]:
    """Columns naming a download: fetch_id, and official_fetch_id and the like."""
    return [c for c in frame.columns if str(c) == "fetch_id" or str(c).endswith("_fetch_id")]


def provenance(con: duckdb.DuckDBPyConnection, frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Every download the rows of ``frames`` came from: source, URL, the publisher's release
    date (the latest, when one download holds several releases), when it was fetched, its
    sha256 and size, and whether the refresh ran live or replayed a recording."""
    ids = sorted(
        {
            str(v)
            for frame in frames
            for column in fetch_columns(frame)
            for v in frame[column].dropna()
        }
    )
    return con.execute(
        """
        with released as (
            select fetch_id, max(published_on) as published_on
            from (select fetch_id, published_on from figures
                  union all select fetch_id, published_on from press_claims)
            group by fetch_id
        )
        select f.source, f.url, r.published_on, f.requested_at as fetched_at, f.sha256,
               f.bytes, u.mode as run_mode, f.fetch_id
        from fetches f
        left join released r using (fetch_id)
        left join runs u using (run_id, source)
        where f.fetch_id in (select unnest(?::varchar[]))
        order by f.source, f.url, f.requested_at
        """,
        [ids],
    ).df()
