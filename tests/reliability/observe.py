"""What every reliability scenario measures and writes down.

A scenario test takes the ``observe`` fixture, runs its fault, and calls ``observe.record``
with what it expected and what it saw; ``rows_lost`` counts the rows of the last good state
that a scenario lost. When AGGREGATOR_RELIABILITY_LOG names a file, each record is appended
to it as one JSON line, and ``python -m tests.reliability.render LOG`` turns the lines into
docs/reliability.md (``make reliability``).

Canary keys are set for every scenario. At the end of each scenario the fixture searches
every file under the scenario's tmp_path (data/, reports/, recordings) and everything the
scenario wrote to stdout and stderr: a canary found there fails the test.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from schemas import TABLES

IPC_CANARY = "CANARY-IPC-5d1e"
HAPI_CANARY = "CANARY-HAPI-9b7c"
CANARIES = (IPC_CANARY, HAPI_CANARY)
LOG_ENV = "AGGREGATOR_RELIABILITY_LOG"
# Columns a successful re-publication of the same data legitimately changes.
PROVENANCE = {"fetch_id", "run_id"}
FACT_TABLES = tuple(name for name, t in TABLES.items() if t.kind == "fact")


@dataclass(frozen=True)
class Record:
    area: str  # network, data, process, secrets, input
    scenario: str
    expected: str
    observed: str
    rows_lost: int
    command: str


class Observer:
    def __init__(self, nodeid: str):
        self.nodeid = nodeid
        self.records: list[Record] = []

    def record(
        self, *, area: str, scenario: str, expected: str, observed: str, rows_lost: int
    ) -> None:
        """Writes one row of docs/reliability.md. Call it after the test's own assertions."""
        command = f".venv/bin/pytest '{self.nodeid}'"
        entry = Record(area, scenario, expected, observed, rows_lost, command)
        self.records.append(entry)
        log = os.environ.get(LOG_ENV)
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(entry)) + "\n")


def fact_columns(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The columns of a fact table without provenance columns, quoted for a select list."""
    columns = con.execute(
        "select column_name from information_schema.columns where table_name = ? "
        "order by ordinal_position",
        [table],
    ).fetchall()
    return ", ".join(f'"{c}"' for (c,) in columns if c not in PROVENANCE)


def fact_rows(warehouse: Path) -> dict[str, set[tuple]]:
    """Every fact row of the warehouse, without provenance columns, by table."""
    if not warehouse.exists():
        return {}
    rows: dict[str, set[tuple]] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        present = {
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        }
        for table in FACT_TABLES:
            if table not in present:
                continue
            listed = fact_columns(con, table)
            rows[table] = set(con.execute(f'select {listed} from "{table}"').fetchall())
    return rows


def rows_lost(before: dict[str, set[tuple]], warehouse: Path) -> int:
    """Rows of ``before`` (a fact_rows snapshot) that the warehouse no longer holds."""
    after = fact_rows(warehouse)
    return sum(len(rows - after.get(table, set())) for table, rows in before.items())


def canaries_in_files(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            content = path.read_bytes()
            found += [f"{path}: {c}" for c in CANARIES if c.encode() in content]
    return found
