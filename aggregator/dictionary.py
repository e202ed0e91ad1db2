"""The data dictionary, generated from the pandera models in ``schemas``."""

from __future__ import annotations

from schemas import TABLES


def markdown() -> str:
    from aggregator.ddl import sql_type

    lines = [
        "# Data dictionary",
        "",
        "Generated from the pandera models in `schemas/` by `aggregator schema --markdown`;",
        "a test fails when this file is out of date. Fact tables are published by sources;",
        "meta tables are written by every refresh.",
        "",
    ]
    for table in TABLES.values():
        schema = table.model.to_schema()
        lines += [f"## `{table.name}` ({table.kind})", "", (table.model.__doc__ or "").strip(), ""]
        if table.key:
            lines.append(f"Key: {', '.join(f'`{k}`' for k in table.key)}.")
        if table.replace_by:
            lines.append(
                f"A refresh replaces a source's rows per `{table.replace_by}` it brings; other rows stay."
            )
        lines += ["", "| column | type | null | checks | description |", "|---|---|---|---|---|"]
        for name, column in schema.columns.items():
            checks = ", ".join(_check_text(c) for c in column.checks)
            if column.unique:
                checks = ", ".join(filter(None, [checks, "unique"]))
            null = "yes" if column.nullable else "no"
            lines.append(
                f"| `{name}` | {sql_type(column)} | {null} | {checks} | {column.description or ''} |"
            )
        table_checks = [c.name for c in schema.checks]
        if table.warnings is not None:
            table_checks += [f"{c.name} (warning)" for c in table.warnings.to_schema().checks]
        if table_checks:
            lines += ["", "Table checks: " + ", ".join(f"`{c}`" for c in table_checks) + "."]
        lines.append("")
    return "\n".join(lines)


def _check_text(check) -> str:
    stats = check.statistics or {}
    if check.name == "isin":
        return "one of " + ", ".join(str(v) for v in stats.get("allowed_values", []))
    if stats:
        return f"{check.name} " + ", ".join(f"{v}" for v in stats.values())
    return check.name
