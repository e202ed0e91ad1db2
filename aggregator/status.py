"""What `aggregator status` reports, read from the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aggregator.warehouse import read_only, table_counts


def source_status(path: Path) -> list[tuple]:
    """source, last run, its outcome, last success, age of the last success, rows, message."""
    with read_only(path) as con:
        found = con.execute(
            """
            with last as (
                select * from runs qualify row_number() over (partition by source order by finished_at desc) = 1
            ), good as (
                select source, max(finished_at) as at from runs
                where outcome in ('published', 'not_modified') group by source
            ), published as (
                select source, rows from runs where outcome = 'published'
                qualify row_number() over (partition by source order by finished_at desc) = 1
            )
            select last.source, last.finished_at, last.outcome, good.at, published.rows, last.message
            from last left join good using (source) left join published using (source)
            order by last.source
            """
        ).fetchall()
    now = datetime.now(UTC)
    out = []
    for source, last_at, outcome, good_at, rows, message in found:
        age = _age(now - good_at) if good_at else "never succeeded"
        out.append(
            (
                source,
                f"{last_at:%Y-%m-%d %H:%M}Z",
                outcome,
                good_at and f"{good_at:%Y-%m-%d %H:%M}Z",
                age,
                rows,
                message,
            )
        )
    return out


def table_status(path: Path) -> list[tuple[str, int]]:
    with read_only(path) as con:
        return sorted(table_counts(con).items())


def _age(delta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} days"
