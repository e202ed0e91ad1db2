"""FTS through the real pipeline: nextLink paging on a loopback HTTP server, and the demo."""

from __future__ import annotations

import json

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.pipeline import refresh
from aggregator.sources import RefreshOptions, resolve
from tests.conftest import DEMO

from .loopback import Loopback, Reply, Seen

FLOW = {
    "id": "194900", "amountUSD": 28068393, "status": "paid", "boundary": "incoming",
    "onBoundary": "single", "versionId": 3, "updatedAt": "2020-07-09T12:01:56.043Z",
    "sourceObjects": [{"type": "Organization", "id": "4306", "name": "Germany, Government of"}],
    "destinationObjects": [{"type": "Location", "id": "171", "name": "occupied Palestinian territory"}],
}  # fmt: skip


def _flows_app(loopback: Loopback, pages: int, loop: bool = False):
    """Serves `pages` flow pages chained by absolute nextLinks (the last one looping if asked)."""

    def app(seen: Seen) -> Reply:
        if seen.path.startswith("/v2/fts/flow/plan/overview/progress/"):
            body = {"data": {"plans": []}, "status": "ok"}
        else:
            page = int(seen.query.get("page", ["1"])[0])
            meta = {"language": "en", "count": pages}
            if page < pages or loop:
                first = f"{loopback.url}/v1/public/fts/flow?countryISO3=PSE&year=2020"
                meta["nextLink"] = f"{first}&page={page + 1}" if page < pages else first
            flow = {**FLOW, "id": str(194900 + page)}
            body = {"status": "ok", "data": {"flows": [flow]}, "meta": meta}
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})

    return app


def _refresh(env, monkeypatch, base: str):
    monkeypatch.setenv("FTS_URL", base)
    monkeypatch.setenv("FTS_YEARS", "2020")
    monkeypatch.setenv("FTS_FLOW_YEARS", "2020")
    settings = load_settings()
    [result] = refresh(resolve(["fts"]), RefreshOptions(settings=settings, countries=["PS"]))
    return settings, result


def test_three_pages_are_followed_and_published(env, monkeypatch, loopback):
    """Every page behind meta.nextLink is fetched once, in order, and all flows are published."""
    loopback.app = _flows_app(loopback, pages=3)
    settings, result = _refresh(env, monkeypatch, loopback.url)
    assert result.outcome == "published", result.message
    pages = [s.query.get("page", ["1"])[0] for s in loopback.seen("/v1/public/fts/flow")]
    assert pages == ["1", "2", "3"]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute("select flow_id from fts_flows order by flow_id").fetchall()
    assert rows == [("194901",), ("194902",), ("194903",)]


def test_next_link_loop_fails_the_source_cleanly(env, monkeypatch, loopback):
    """A nextLink back to page 1 fails FTS with a message naming the loop; nothing is published."""
    loopback.app = _flows_app(loopback, pages=2, loop=True)
    settings, result = _refresh(env, monkeypatch, loopback.url)
    assert result.outcome == "failed"
    assert "nextLink loop" in result.message and "page=2" in result.message
    assert len(loopback.seen("/v1/public/fts/flow")) == 2
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        tables = {
            r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
        }
        if "fts_flows" in tables:
            assert con.execute("select count(*) from fts_flows").fetchone() == (0,)


@pytest.fixture
def demo(env, monkeypatch):
    for name in ("FTS_URL", "FTS_YEARS", "FTS_FLOW_YEARS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    [result] = refresh(resolve(["fts"]), RefreshOptions(settings=settings), replay=DEMO)
    assert result.outcome == "published", result.message
    return settings


def test_demo_loads_opt_flash_appeals_and_paged_flows(demo):
    """The demo brings FPSE23/FPSE24 requirements, HPSE20 funding and both flow pages."""
    with duckdb.connect(str(demo.warehouse), read_only=True) as con:
        appeals = con.execute(
            """select plan_code, original_requirements_usd, revised_requirements_usd, funding_usd
               from appeals where country_iso3 = 'PSE' order by plan_code"""
        ).fetchall()
        flows = con.execute(
            "select count(*), count(distinct fetch_id) from fts_flows where query_year = 2020"
        ).fetchone()
    assert appeals == [
        ("FPSE23", 294_000_000, 629_098_307, None),
        ("FPSE24", 600_000_000, 3_422_855_934, None),
        ("HPSE20", 347_976_074, 420_381_684, 295_077_912),
    ]
    assert flows == (5, 2)
