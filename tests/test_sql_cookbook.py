"""docs/sql-cookbook.md: every query runs on a fresh replay of the demo snapshot and returns
exactly the result the page shows (regenerate with `make docs` after `make demo`)."""

from __future__ import annotations

import duckdb
import pytest

from tests import cookbook
from tests.conftest import curated_copy, refresh_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    settings = refresh_demo(curated_copy(tmp_path_factory.mktemp("cookbook") / "data"))
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
