"""Casualties connector: Tech for Palestine's daily objects to `casualties_daily`, reported
values preferred over gap-filled ones, and the table's checks.

The objects below are days of the live answer (https://data.techforpalestine.org/api/v2/
casualties_daily.json, as recorded in ../shared/recorded/casualties), trimmed to the fields
the connector reads plus one it ignores. They are served to the real connector through a
replay directory and the project's HTTP client.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from aggregator.config import HttpSettings
from aggregator.connectors import casualties
from aggregator.errors import ParseError
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from aggregator.replay import recording_path
from aggregator.validate import validate

BASE = "https://data.techforpalestine.org"

# fmt: off
DAYS = [
    # Government Media Office day: women reported (1,032) above the later gap-filled 936.
    {"report_date": "2023-10-17", "report_source": "gmotel", "report_period": 24,
     "killed": 192, "killed_cum": 3000, "killed_children_cum": 940, "killed_women_cum": 1032,
     "ext_killed": 192, "ext_killed_cum": 3000, "ext_killed_children_cum": 940,
     "ext_killed_women_cum": 936, "injured": 575, "ext_injured": 607, "ext_injured_cum": 11457,
     "ext_press_killed_cum": 16},
    # No injured daily reported; children and women only gap-filled.
    {"report_date": "2023-10-18", "report_source": "mohtel", "report_period": 24,
     "killed": 478, "killed_cum": 3478, "ext_killed": 478, "ext_killed_cum": 3478,
     "ext_killed_children_cum": 1000, "ext_killed_women_cum": 936, "injured_cum": 12065,
     "ext_injured": 608, "ext_injured_cum": 12065, "ext_press_killed_cum": 16},
    # No report at all: every value gap-filled.
    {"report_date": "2023-11-11", "report_source": "missing", "report_period": 0,
     "ext_killed": 51, "ext_killed_cum": 11129, "ext_killed_children_cum": 4540,
     "ext_killed_women_cum": 3044, "ext_injured": 100, "ext_injured_cum": 27845},
    # The founding article's day.
    {"report_date": "2024-03-22", "report_source": "mohtel", "report_period": 24,
     "killed": 82, "killed_cum": 32070, "ext_killed": 82, "ext_killed_cum": 32070,
     "ext_killed_children_cum": 14000, "ext_killed_women_cum": 9220, "injured": 110,
     "injured_cum": 74298, "ext_injured": 110, "ext_injured_cum": 74298,
     "ext_press_killed_cum": 135},
]
# fmt: on


def _extract(tmp_path: Path, body: Any) -> pd.DataFrame:
    replay = tmp_path / "replay"
    path = recording_path(replay, httpx.URL(BASE + casualties.PATH))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(body))
    settings = HttpSettings()
    with make_client(settings, replay=replay) as client:
        fetcher = Fetcher(
            client,
            source="casualties",
            run_id="t",
            raw=RawStore(tmp_path / "raw"),
            settings=settings,
        )
        return casualties.extract(fetcher, BASE)["casualties_daily"]


@pytest.fixture
def table(tmp_path: Path) -> pd.DataFrame:
    return _extract(tmp_path, DAYS).set_index("report_date", drop=False)


def _day(table: pd.DataFrame, day: str) -> pd.Series:
    return table.loc[pd.Timestamp(day).date()]


def test_reported_values_are_taken_as_reported(table):
    """2024-03-22: killed_cum 32,070 and injured_cum 74,298, neither flagged as gap-filled."""
    day = _day(table, "2024-03-22")
    assert (day.killed_cum, day.injured_cum, day.killed_daily, day.injured_daily) == (
        32070,
        74298,
        82,
        110,
    )
    assert not day.killed_cum_gap_filled and not day.injured_cum_gap_filled


def test_missing_reported_value_falls_back_to_ext_with_flag(table):
    """A value the report did not give comes from ext_ and is flagged gap-filled."""
    day = _day(table, "2024-03-22")
    assert (day.killed_children_cum, day.killed_women_cum) == (14000, 9220)
    assert day.killed_children_cum_gap_filled and day.killed_women_cum_gap_filled
    day = _day(table, "2023-10-18")
    assert (day.injured_daily, day.injured_daily_gap_filled) == (608, True)


def test_reported_value_wins_over_a_different_ext_value(table):
    """Where report and ext_ disagree (women 1,032 vs 936) the reported figure is kept."""
    day = _day(table, "2023-10-17")
    assert (day.killed_women_cum, day.killed_women_cum_gap_filled) == (1032, False)
    assert (day.injured_daily, day.injured_daily_gap_filled) == (575, False)


def test_a_day_without_report_is_all_gap_filled(table):
    """report_source 'missing': every value from ext_, every flag true, the label kept."""
    day = _day(table, "2023-11-11")
    assert day.report_source == "missing" and day.report_period == 0
    assert day.killed_cum == 11129
    flags = [day[f"{c}_gap_filled"] for c in casualties.VALUES]
    assert flags == [True] * 6


def test_value_absent_from_both_is_empty_with_empty_flag(tmp_path):
    """A field missing in both reported and ext_ form gives an empty value and flag."""
    day = {k: v for k, v in DAYS[3].items() if k not in ("injured", "ext_injured")}
    row = _extract(tmp_path, [day]).iloc[0]
    assert pd.isna(row.injured_daily) and pd.isna(row.injured_daily_gap_filled)


def test_rows_carry_source_and_fetch_id(table):
    """Every row names the source and the download it came from."""
    assert set(table["source"]) == {"casualties"}
    assert set(table["fetch_id"]) == {"t/casualties/1"}


def test_table_validates_and_warns_on_the_dip(table):
    """The schema accepts the rows; the women count going 1,032 -> 936 is one warning."""
    checked = validate(
        "casualties_daily", table.reset_index(drop=True), run_id="t", source="casualties"
    )
    assert checked.data is not None and checked.errors == 0
    warnings = checked.rejects[checked.rejects["severity"] == "warning"]
    assert list(warnings["check_name"]) == ["killed_women_cum_never_decreases"]
    assert list(warnings["row_key"]) == ["report_date=2023-10-18"]


def test_duplicate_day_and_negative_count_are_errors(tmp_path):
    """A report day twice or a negative count stops the table from publishing."""
    bad = [DAYS[3], {**DAYS[3], "killed": -1}]
    table = _extract(tmp_path, bad)
    checked = validate("casualties_daily", table, run_id="t", source="casualties")
    assert checked.data is None
    assert {"field_uniqueness", "greater_than_or_equal_to(0)"} <= set(checked.rejects["check_name"])


def test_unknown_report_source_is_a_warning(tmp_path):
    """A label outside mohtel/gmotel/unocha/missing is flagged, the row still published."""
    table = _extract(tmp_path, [{**DAYS[3], "report_source": "moh-pdf"}])
    checked = validate("casualties_daily", table, run_id="t", source="casualties")
    assert checked.data is not None
    assert list(checked.rejects["column_name"]) == ["report_source"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"report_date": "2024-03-22"}, "expected a JSON list"),
        ([["2024-03-22"]], "item 0: expected a JSON object"),
        ([{**DAYS[3], "report_date": "22/03/2024"}], "item 0: field report_date"),
        (
            [DAYS[3], {**DAYS[3], "killed_cum": "32,070"}],
            "item 1 (report_date 2024-03-22): field killed_cum",
        ),
        ([{**DAYS[3], "ext_injured": 1.5}], "field ext_injured: not a whole number"),
        ([{**DAYS[3], "report_source": None}], "field report_source"),
    ],
)
def test_malformed_answer_raises_parse_error_naming_item_and_field(tmp_path, body, expected):
    """Bad shapes give a ParseError naming the URL, the item and the field."""
    with pytest.raises(ParseError) as caught:
        _extract(tmp_path, body)
    assert expected in str(caught.value)
    assert BASE + casualties.PATH in str(caught.value)
