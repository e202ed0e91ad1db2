"""The demo snapshot's HDX datasets (IPC on HDX, UNRWA trucks) replayed through the real pipeline."""

from __future__ import annotations

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.pipeline import refresh
from aggregator.sources import RefreshOptions, resolve
from tests.conftest import DEMO, ROOT

SOURCES = ["ipc_hdx", "unrwa_trucks"]


@pytest.fixture
def demo_warehouse(env):
    settings = load_settings()
    results = refresh(resolve(SOURCES), RefreshOptions(settings=settings), replay=DEMO)
    assert [(r.source, r.outcome, r.rows) for r in results] == [
        ("ipc_hdx", "published", 72),
        ("unrwa_trucks", "published", 177),
    ]
    return settings


def _query(settings, sql: str) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_ipc_hdx_demo_gives_the_gaza_figures(demo_warehouse):
    """March 2024 projection, Phase 5: 1,107,000; May 2024 current 3+: 2,133,884 (95%)."""
    rows = _query(
        demo_warehouse,
        """select a.analysis_id, p.period, p.phase, p.population, p.fraction, a.modified::varchar
           from ipc_phases p join ipc_analyses a using (source, analysis_id)
           where p.level = 'national' and (p.period, p.phase) in
                 (('first_projection', '5'), ('current', '3+'))
           order by 1, 2""",
    )
    assert rows == [
        ("hdx:PSE:2024-03", "current", "3+", 2_131_000, 0.95, "2025-03-04"),
        ("hdx:PSE:2024-03", "first_projection", "5", 1_107_000, 0.5, "2025-03-04"),
        ("hdx:PSE:2024-05", "current", "3+", 2_133_884, 0.95, "2025-03-04"),
        ("hdx:PSE:2024-05", "first_projection", "5", 495_291, 0.22, "2025-03-04"),
    ]


def test_trucks_demo_gives_march_22_by_crossing(demo_warehouse):
    """The daily view over the demo gives 2024-03-22: Kerem Shalom 122, Rafah 55 trucks."""
    view = (ROOT / "aggregator" / "sql" / "10_aid_trucks_daily.sql").read_text()
    with duckdb.connect(str(demo_warehouse.warehouse)) as con:
        con.execute(view)
        rows = con.execute(
            "select received_on::varchar, crossing, trucks, partial_data, published_on::varchar, "
            "fetch_id like '%/unrwa_trucks/2' from aid_trucks_daily order by 1, 2"
        ).fetchall()
    assert rows == [
        ("2024-03-22", "Kerem Shalom", 122, False, "2025-01-20", True),
        ("2024-03-22", "Rafah Crossing", 55, False, "2025-01-20", True),
    ]


def test_second_demo_refresh_is_not_modified(demo_warehouse):
    """Replaying again: package_show answers 304 and lists the same resource versions, so no
    file is requested at all and nothing is published anew."""
    results = refresh(resolve(SOURCES), RefreshOptions(settings=demo_warehouse), replay=DEMO)
    assert [(r.source, r.outcome, r.not_modified, len(r.fetches)) for r in results] == [
        ("ipc_hdx", "not_modified", 4, 4),
        ("unrwa_trucks", "not_modified", 2, 2),
    ]
    files = [f for r in results for f in r.fetches if not f.catalogue]
    assert files and all(f.status is None and f.attempts == 0 for f in files)
    assert _query(demo_warehouse, "select count(*) from aid_trucks") == [(177,)]
