"""The bundled demo snapshot, replayed through the real pipeline into a real DuckDB file."""

from __future__ import annotations

import re

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.pipeline import refresh
from aggregator.sources import RefreshOptions, resolve
from tests.conftest import DEMO, ROOT


@pytest.fixture
def demo_warehouse(env):
    settings = load_settings()
    results = refresh(resolve(["ipc"]), RefreshOptions(settings=settings), replay=DEMO)
    assert [(r.source, r.outcome) for r in results] == [("ipc_api", "published")]
    return settings


def _one(settings, query, params=()):
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(query, params).fetchall()


def test_readme_first_query_gives_gaza_phase5_projection(demo_warehouse):
    """The README's first query returns 1,107,000 people in Phase 5 (March 2024, projection)."""
    readme = (ROOT / "README.md").read_text()
    query = re.search(r'aggregator sql "(select p\.period.*?)"', readme, flags=re.S).group(1)
    assert _one(demo_warehouse, query) == [("first_projection", "5", 1_107_000)]


def test_demo_loads_both_gaza_analyses_with_their_periods(demo_warehouse):
    """March and June 2024 analyses, month-granular periods, national 3+ figures as published."""
    rows = _one(
        demo_warehouse,
        """select strftime(a.analysis_date, '%Y-%m'), p.period, p.period_start::varchar,
                  p.period_end::varchar, p.population, p.fraction
           from ipc_phases p join ipc_analyses a using (source, analysis_id)
           where p.level = 'national' and p.phase = '3+' order by 1, 2""",
    )
    assert rows == [
        ("2024-03", "current", "2024-02-01", "2024-03-31", 2_131_000, 0.95),
        ("2024-03", "first_projection", "2024-03-01", "2024-07-31", 2_226_000, 1.0),
        ("2024-05", "current", "2024-05-01", "2024-06-30", 2_133_884, 0.95),
        ("2024-05", "first_projection", "2024-06-01", "2024-09-30", 2_153_884, 0.96),
    ]


def test_every_demo_row_traces_to_a_recorded_download(demo_warehouse):
    """Each fact row's fetch_id leads to a fetch with URL, sha256 and a raw file that exists."""
    rows = _one(
        demo_warehouse,
        """select distinct f.url, f.sha256, f.raw_path from ipc_phases p join fetches f using (fetch_id)""",
    )
    assert [r[0] for r in rows] == ["https://api.ipcinfo.org/population?country=PS"]
    import hashlib
    from pathlib import Path

    assert hashlib.sha256(Path(rows[0][2]).read_bytes()).hexdigest() == rows[0][1]


def test_second_demo_refresh_is_not_modified(demo_warehouse):
    """Replaying again sends If-None-Match, gets 304s, and publishes nothing new."""
    before = _one(demo_warehouse, "select count(*), sum(population) from ipc_phases")
    results = refresh(resolve(["ipc"]), RefreshOptions(settings=demo_warehouse), replay=DEMO)
    assert [(r.outcome, r.not_modified, len(r.fetches)) for r in results] == [
        ("not_modified", 2, 2)
    ]
    assert _one(demo_warehouse, "select count(*), sum(population) from ipc_phases") == before
    outcomes = _one(demo_warehouse, "select outcome from runs order by finished_at")
    assert outcomes == [("published",), ("not_modified",)]


def test_figures_view_carries_ipc_numbers_with_their_vintage(demo_warehouse):
    """`figures` has the March 2024 projection's Phase 5 with its release date and a caveat."""
    rows = _one(
        demo_warehouse,
        """select value, unit, period_kind, published_on::varchar, dataset_ref, caveat is not null
           from figures where metric = 'ipc.phase5.people' and geo = 'PSE' and area is null
             and period_start = '2024-03-01'""",
    )
    assert rows == [
        (1_107_000.0, "people", "projection", "2024-03-18", "ipc:70000324:first_projection", True)
    ]


def test_every_figure_names_a_registered_metric_in_its_unit(demo_warehouse):
    """No figure uses a metric id or unit outside the registry in schemas/metrics.py."""
    stray = _one(
        demo_warehouse,
        """select distinct f.metric, f.unit from figures f left join metrics m using (metric)
           where m.metric is null or m.unit <> f.unit""",
    )
    assert stray == []
    assert _one(demo_warehouse, "select count(distinct metric) from figures") == [(13,)]
