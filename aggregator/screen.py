"""A table's declared checks as SQL, run by DuckDB over rows already loaded.

pandera checks a pandas frame; over millions of loaded rows that would mean reading them all
back into Python. Instead DuckDB screens the rows: pandera's built-in column checks are
translated to SQL, a table declares the SQL twin of each of its own checks
(``Table.screens``), and the screen returns the vintages (values of ``replace_by``) that may
fail. pandera then judges the rows of those vintages alone, so its verdicts and messages are
the only ones users see. A screen may flag more than pandera fails, never less: a check with no
SQL form flags every vintage.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from aggregator.ddl import columns_of
from schemas import Table

# pandera's built-in checks: SQL that is true where a value fails (NULLs pass, as in pandera).
_FAILS = {
    "isin": lambda c, s: f"{c} not in ({_literals(s['allowed_values'])})",
    "notin": lambda c, s: f"{c} in ({_literals(s['forbidden_values'])})",
    "equal_to": lambda c, s: f"{c} <> {_literal(s['value'])}",
    "not_equal_to": lambda c, s: f"{c} = {_literal(s['value'])}",
    "greater_than": lambda c, s: f"{c} <= {_literal(s['min_value'])}",
    "greater_than_or_equal_to": lambda c, s: f"{c} < {_literal(s['min_value'])}",
    "less_than": lambda c, s: f"{c} >= {_literal(s['max_value'])}",
    "less_than_or_equal_to": lambda c, s: f"{c} > {_literal(s['max_value'])}",
    # pandera matches at the start of the text (re.match). RE2 is no looser than Python's re
    # where they differ ($ before a final newline, \d outside ASCII), so nothing slips through.
    "str_matches": lambda c, s: f"not regexp_matches({c}, {_literal(_anchored(s['pattern']))})",
    "str_startswith": lambda c, s: f"not starts_with({c}, {_literal(s['string'])})",
}


def _anchored(pattern: Any) -> str:
    text = pattern.pattern if isinstance(pattern, re.Pattern) else str(pattern)
    return text if text.startswith("^") else f"^(?:{text})"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _literals(values: Any) -> str:
    return ", ".join(_literal(v) for v in values)


def row_failures(table: Table) -> list[str] | None:
    """SQL conditions, one per column check, true on a row that may fail it; None when a
    column check has no SQL form."""
    schema = table.model.to_schema()
    types = columns_of(table)
    conditions = []
    for name, column in schema.columns.items():
        quoted = f'"{name}"'
        if not column.nullable:
            # pandas reads a float NaN as missing.
            nan = f" or isnan({quoted})" if types[name] in ("DOUBLE", "FLOAT") else ""
            conditions.append(f"{quoted} is null{nan}")
        for check in column.checks:
            translate = _FAILS.get(check.name)
            if translate is None:
                return None
            conditions.append(translate(quoted, check.statistics))
    return conditions


# The name under which a table's screens hold the SQL twin of its key's uniqueness check.
UNIQUE = "unique"


def flagged_vintages(con: duckdb.DuckDBPyConnection, table: Table, relation: str) -> list[Any]:
    """The vintages of the rows of ``relation`` (SQL naming the loaded rows) that a blocking
    or a warning check may fail, found by one query."""
    vintage = f'"{table.replace_by}"'
    everything = f"select distinct {vintage} from {relation}"
    models = [table.model, *([table.warnings] if table.warnings is not None else [])]
    declared = [check.name for model in models for check in model.to_schema().checks]
    conditions = row_failures(table)
    if conditions is None or any(name not in table.screens for name in declared):
        return _column(con, everything)
    # Checks that share one screen (sums over the same groups) run it once.
    queries = [table.screens[name] for name in declared]
    if conditions:
        queries.append(f"select {vintage} from {relation} where " + " or ".join(conditions))
    if table.model.to_schema().unique:
        queries += (
            [table.screens[UNIQUE]]
            if UNIQUE in table.screens
            else _duplicates(con, table, relation)
        )
    queries = list(dict.fromkeys(q.replace("{loaded}", relation) for q in queries))
    if not queries:
        return []
    return _column(con, " union ".join(f"({q})" for q in queries))


def _duplicates(con: duckdb.DuckDBPyConnection, table: Table, relation: str) -> list[str]:
    """The query of vintages with a repeated key, when a cheap count says there may be one."""
    key = table.model.to_schema().unique
    columns = ", ".join(f'"{c}"' for c in key)
    # Distinct hashes fall short of the row count when a key repeats (or, rarely, two keys
    # collide): only then is the exact grouping worth its cost.
    rows, hashes = con.execute(
        f"select count(*), count(distinct hash({columns})) from {relation}"
    ).fetchone()
    if rows == hashes:
        return []
    return [
        f'select unnest(list(distinct "{table.replace_by}")) from {relation} '
        f"group by {columns} having count(*) > 1"
    ]


def _column(con: duckdb.DuckDBPyConnection, query: str) -> list[Any]:
    return [row[0] for row in con.execute(query).fetchall()]
