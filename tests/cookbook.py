"""The SQL cookbook's result blocks: each ```sql block of docs/sql-cookbook.md is followed by a
```text block holding what the query returns on the demo warehouse, as CSV.

``python -m tests.cookbook`` rewrites those blocks from data/warehouse.duckdb (after
`make demo`); tests/test_sql_cookbook.py checks them against a fresh demo replay.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import duckdb

from aggregator.output import write_rows

DOC = Path(__file__).resolve().parents[1] / "docs" / "sql-cookbook.md"
# A query block, then optionally its result block (replaced on render).
BLOCK = re.compile(
    r"```sql\n(?P<sql>.*?)```\n(?:\nResult on the demo:\n\n```text\n.*?```\n)?", re.S
)


def queries(text: str) -> list[str]:
    return [m.group("sql") for m in BLOCK.finditer(text)]


def result(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    cursor = con.execute(sql)
    columns = [d[0] for d in cursor.description]
    out = io.StringIO()
    write_rows(columns, cursor.fetchall(), "csv", out)
    return out.getvalue()


def render(text: str, con: duckdb.DuckDBPyConnection) -> str:
    def block(match: re.Match) -> str:
        sql = match.group("sql")
        return f"```sql\n{sql}```\n\nResult on the demo:\n\n```text\n{result(con, sql)}```\n"

    return BLOCK.sub(block, text)


if __name__ == "__main__":
    warehouse = Path(sys.argv[1] if len(sys.argv) > 1 else "data/warehouse.duckdb")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        DOC.write_text(render(DOC.read_text(), con))
    print(f"rewrote the result blocks of {DOC}")
