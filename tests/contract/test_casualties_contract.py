"""Contract: the casualties connector on the recorded real answer of Tech for Palestine
(../shared/recorded/casualties/casualties_daily.json, 1,051 days), through the real code path
(replay client, Fetcher, raw store, casualties.extract) and the real schema."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx
import pandas as pd
import pytest

from aggregator.config import HttpSettings
from aggregator.connectors import casualties
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from aggregator.replay import recording_path
from aggregator.validate import validate

pytestmark = pytest.mark.contract
BASE = "https://data.techforpalestine.org"


@pytest.fixture
def table(recorded: Path, tmp_path: Path) -> pd.DataFrame:
    replay = tmp_path / "replay"
    body = recording_path(replay, httpx.URL(BASE + casualties.PATH))
    body.parent.mkdir(parents=True)
    body.symlink_to(recorded / "casualties" / "casualties_daily.json")
    settings = HttpSettings()
    with make_client(settings, replay=replay) as client:
        fetcher = Fetcher(
            client,
            source="casualties",
            run_id="c",
            raw=RawStore(tmp_path / "raw"),
            settings=settings,
        )
        return casualties.extract(fetcher, BASE)["casualties_daily"]


def _day(table: pd.DataFrame, day: str) -> dict:
    rows = table[table["report_date"] == date.fromisoformat(day)]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def test_founding_article_day(table):
    """2024-03-22: killed_cum 32,070, injured_cum 74,298 as reported by the MoH Telegram."""
    day = _day(table, "2024-03-22")
    assert (day["killed_cum"], day["injured_cum"], day["report_source"]) == (32070, 74298, "mohtel")
    assert (day["killed_daily"], day["injured_daily"]) == (82, 110)
    assert not day["killed_cum_gap_filled"] and not day["injured_cum_gap_filled"]
    assert (day["killed_children_cum"], day["killed_women_cum"]) == (14000, 9220)
    assert day["killed_children_cum_gap_filled"] and day["killed_women_cum_gap_filled"]


@pytest.mark.parametrize(
    ("day", "killed_cum", "injured_cum"),
    [
        ("2023-10-07", 232, 1610),  # first day
        ("2024-03-18", 31726, 73792),  # IPC March 2024 analysis published
        ("2024-06-25", 37658, 86237),  # IPC June 2024 snapshot published
        ("2024-08-27", 40435, 93534),  # reported, while ext_ says 40,476 / 93,647
    ],
)
def test_spot_values(table, day, killed_cum, injured_cum):
    """Cumulative figures on chosen days equal the recorded reported fields."""
    row = _day(table, day)
    assert (row["killed_cum"], row["injured_cum"]) == (killed_cum, injured_cum)


def test_day_without_report_is_gap_filled(table):
    """2023-11-11 (report_source missing) carries the ext_ figures, all flagged."""
    day = _day(table, "2023-11-11")
    assert (day["report_source"], day["killed_cum"], day["injured_cum"]) == (
        "missing",
        11129,
        27845,
    )
    assert all(day[f"{c}_gap_filled"] for c in casualties.VALUES)


def test_counts_of_days_and_gap_filled_values(table):
    """1,051 days, one per date; 1,985 values gap-filled (38+18+66+26+918+919), none empty."""
    assert len(table) == 1051 and table["report_date"].is_unique
    filled = {c: int(table[f"{c}_gap_filled"].sum()) for c in casualties.VALUES}
    assert filled == {
        "killed_daily": 38,
        "killed_cum": 18,
        "injured_daily": 66,
        "injured_cum": 26,
        "killed_children_cum": 918,
        "killed_women_cum": 919,
    }
    assert sum(filled.values()) == 1985
    assert not table[list(casualties.VALUES)].isna().any().any()
    assert table["report_source"].value_counts().to_dict() == {
        "mohtel": 1001,
        "missing": 28,
        "gmotel": 22,
    }


def test_recorded_series_validates_with_the_two_measured_dips(table):
    """No blocking failure; the only warnings are the women count dipping on 2023-10-18 and -20."""
    checked = validate("casualties_daily", table, run_id="c", source="casualties")
    assert checked.data is not None and checked.errors == 0
    assert sorted(zip(checked.rejects["check_name"], checked.rejects["row_key"], strict=True)) == [
        ("killed_women_cum_never_decreases", "report_date=2023-10-18"),
        ("killed_women_cum_never_decreases", "report_date=2023-10-20"),
    ]
