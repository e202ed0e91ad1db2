"""docs/sql-cookbook.md: every query runs on a fresh replay of the demo snapshot and returns
exactly the result the page shows (regenerate with `make docs` after `make demo`)."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.pipeline import refresh
from aggregator.sources import RefreshOptions, resolve
from tests import cookbook
from tests.conftest import DEMO, ROOT


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("cookbook") / "data"
    for folder in ("reference", "claims"):
        shutil.copytree(ROOT / "data" / folder, data / folder)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AGGREGATOR_DATA_DIR", str(data))
        env.setenv("AGGREGATOR_HAPI_PAUSE", "0")
        env.delenv("AGGREGATOR_WAREHOUSE", raising=False)
        settings = load_settings()
        results = refresh(resolve([], ipc_key=True), RefreshOptions(settings=settings), replay=DEMO)
    assert {r.outcome for r in results} == {"published"}, [(r.source, r.message) for r in results]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        yield con


def test_the_cookbook_has_the_queries_the_analyst_needs():
    text = cookbook.DOC.read_text()
    for heading in (
        "Latest IPC analysis per country",
        "Trend of Phase 3+",
        "Aid trucks per day by crossing",
        "Appeal requirements, funding and coverage",
        "Every claim by verdict",
    ):
        assert f"## {heading}" in text
    assert len(cookbook.queries(text)) >= 8


def test_every_result_shown_is_what_the_query_returns(demo):
    text = cookbook.DOC.read_text()
    assert cookbook.render(text, demo) == text, "docs/sql-cookbook.md is stale: run `make docs`"
