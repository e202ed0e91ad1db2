"""claims extract on texts we wrote with real published figures (tests/fixtures/articles):
every figure is proposed (recall) and nothing else is (precision)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aggregator.claim_extraction import extract_candidates
from tests.conftest import ROOT

ARTICLES = ROOT / "tests" / "fixtures" / "articles"
EXPECTED = {
    "2024-07-01-gaza-toll-and-hunger.txt": {
        ("casualties.killed.cumulative", "37877", "people", "gte"),
        ("casualties.injured.cumulative", "86000", "people", "approx"),
        ("ipc.phase3plus.share", "96", "percent", "eq"),
        ("ipc.phase5.people", "500000", "people", "lt"),
        ("displacement.people", "1200000", "people", "approx"),
        ("funding.appeal.requirements_usd", "3400000000", "usd", "eq"),
    },
    "2024-03-25-gaza-aid-trucks.txt": {
        ("aid.trucks.daily", "500", "trucks_per_day", "approx"),
        ("aid.trucks.daily", "177", "trucks", "eq"),
        ("aid.trucks.daily", "160", "trucks_per_day", "lt"),
        ("ipc.phase3plus.share", "0.25", "share", "eq"),
        ("displacement.people", "1700000", "people", "eq"),
    },
}


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_figure_and_nothing_else(name):
    text = (ARTICLES / name).read_text()
    found = {
        (c.metric, _number(c.quantity.value), c.quantity.unit, c.quantity.comparator)
        for c in extract_candidates(text)
    }
    expected = {(m, _number(Decimal(v)), u, k) for m, v, u, k in EXPECTED[name]}
    assert found == expected
