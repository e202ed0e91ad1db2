"""Validation of ipc_phases: blocking errors become precise rejects and stop the table;
add-up discrepancies are warnings flagged on the total, with the data still published.

Frames are built from figures IPC published: Gaza Strip, May 2024 analysis (HDX), and
Afghanistan East Region, May 2017 (recorded IPC API answer).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest

from aggregator.validate import REJECT_COLUMNS, validate

PHASE_ORDER = ["all", "3+", "1", "2", "3", "4", "5"]
# Rafah, current period (1 May - 30 Jun 2024): phase -> (population, fraction)
RAFAH = {
    "all": (200000, 1.0),
    "3+": (170000, 0.85),
    "1": (10000, 0.05),
    "2": (20000, 0.1),
    "3": (80000, 0.4),
    "4": (70000, 0.35),
    "5": (20000, 0.1),
}
GAZA_NATIONAL = {
    "all": (2251457, 1.0),
    "3+": (2133884, 0.95),
    "1": (10000, 0.0),
    "2": (107573, 0.05),
    "3": (1148301, 0.51),
    "4": (642864, 0.29),
    "5": (342719, 0.15),
}
NORTH_GAZA = {
    "all": (300000, 1.0),
    "3+": (300000, 1.0),
    "1": (0, 0.0),
    "2": (0, 0.0),
    "3": (105000, 0.35),
    "4": (135000, 0.45),
    "5": (60000, 0.2),
}
DEIR_AL_BALAH = {
    "all": (1751457, 1.0),
    "3+": (1663884, 0.95),
    "1": (0, 0.0),
    "2": (87573, 0.05),
    "3": (963301, 0.55),
    "4": (437864, 0.25),
    "5": (262719, 0.15),
}
# Nuristan c_1, AF 12166797, current: phases 1-5 sum to 40,245 against 41,065 published (IPC rounding).
NURISTAN_C1 = {
    "all": (41065, 1.0),
    "3+": (5339, 0.13),
    "1": (14373, 0.35),
    "2": (20533, 0.5),
    "3": (4107, 0.1),
    "4": (1232, 0.03),
    "5": (0, 0.0),
}


def _unit(
    figures: dict[str, tuple[int, float]],
    *,
    analysis_id: str = "90000001",
    level: str = "area",
    unit_id: str = "90000013",
    unit_name: str = "Rafah",
    iso3: str = "PSE",
    start: date = date(2024, 5, 1),
    end: date = date(2024, 6, 30),
) -> list[dict[str, Any]]:
    return [
        {
            "source": "ipc_api",
            "analysis_id": analysis_id,
            "country_iso3": iso3,
            "level": level,
            "unit_id": unit_id,
            "unit_name": unit_name,
            "parent_name": None,
            "period": "current",
            "period_start": start,
            "period_end": end,
            "period_granularity": "month",
            "phase": phase,
            "population": figures[phase][0],
            "fraction": figures[phase][1],
            "overall_phase": 4 if level == "area" else None,
            "fetch_id": "t/ipc_api/2",
        }
        for phase in PHASE_ORDER
        if phase in figures
    ]


def _frame(*units: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([row for unit in units for row in unit])


def _rafah() -> pd.DataFrame:
    return _frame(_unit(RAFAH))


def _set(df: pd.DataFrame, phase: str, column: str, value: Any) -> pd.DataFrame:
    df = df.copy()
    df[column] = df[column].astype(object)
    df.loc[df["phase"] == phase, column] = value
    return df


def _check(df: pd.DataFrame):
    return validate("ipc_phases", df, run_id="r1", source="ipc_api")


def test_clean_real_unit_passes_untouched():
    """Rafah's published figures validate with no reject and come back coerced, row for row."""
    result = _check(_rafah())
    assert (result.errors, result.warnings) == (0, 0)
    assert list(result.rejects.columns) == REJECT_COLUMNS
    assert len(result.data) == 7
    assert str(result.data["population"].dtype) == "Int64"
    assert result.data["period_start"].iloc[0] == pd.Timestamp("2024-05-01")


@pytest.mark.parametrize(
    "frame, check_name, column, row, value, phase",
    [
        pytest.param(
            _set(_rafah(), "2", "population", -20000),
            "greater_than_or_equal_to(0)",
            "population",
            3,
            "-20000",
            "2",
            id="negative-population",
        ),
        pytest.param(
            _set(_rafah(), "5", "phase", "9"),
            "isin(('1', '2', '3', '4', '5', '3+', 'all'))",
            "phase",
            6,
            "9",
            "9",
            id="phase-9",
        ),
        pytest.param(
            _set(_rafah(), "3", "fraction", 1.5),
            "less_than_or_equal_to(1)",
            "fraction",
            4,
            "1.5",
            "3",
            id="fraction-1.5",
        ),
        # A table-wide check has no single cell: the reject shows the columns it is about.
        pytest.param(
            _set(_rafah(), "4", "period_start", date(2024, 7, 1)),
            "period_start_not_after_end",
            "period_start, period_end",
            5,
            "period_start=2024-07-01, period_end=2024-06-30",
            "4",
            id="start-after-end",
        ),
    ],
)
def test_blocking_failure_becomes_error_reject(frame, check_name, column, row, value, phase):
    """One bad cell gives one 'error' reject naming check, column, row, value and key; no data."""
    result = _check(frame)
    assert result.data is None
    assert (result.errors, result.warnings) == (1, 0)
    reject = result.rejects.iloc[0]
    assert reject["severity"] == "error"
    assert (reject["run_id"], reject["source"], reject["table_name"]) == (
        "r1",
        "ipc_api",
        "ipc_phases",
    )
    assert reject["check_name"] == check_name
    assert reject["column_name"] == column
    assert reject["row_number"] == row
    assert reject["value"] == value
    assert reject["row_key"] == (
        f"source=ipc_api, analysis_id=90000001, level=area, unit_id=90000013, period=current, phase={phase}"
    )
    assert reject["fetch_id"] == "t/ipc_api/2"


def test_duplicated_key_rejects_both_rows():
    """A repeated key (same analysis, unit, period, phase) rejects both copies, by row and key."""
    df = _rafah()
    df = pd.concat([df, df.iloc[[3]]], ignore_index=True)  # phase '2' twice
    result = _check(df)
    assert result.data is None
    assert result.errors == 2
    rejects = result.rejects
    assert set(rejects["check_name"]) == {"multiple_fields_uniqueness"}
    assert sorted(rejects["row_number"]) == [3, 7]
    assert set(rejects["row_key"]) == {
        "source=ipc_api, analysis_id=90000001, level=area, unit_id=90000013, period=current, phase=2"
    }
    assert set(rejects["value"]) == set(rejects["row_key"])
    assert set(rejects["column_name"]) == {"source, analysis_id, level, unit_id, period, phase"}


def test_several_errors_are_all_reported():
    """Validation is lazy: every bad cell of the frame is reported, not just the first."""
    df = _set(_set(_rafah(), "2", "population", -1), "3", "fraction", 1.5)
    result = _check(df)
    assert result.data is None
    assert sorted(
        zip(result.rejects["column_name"], result.rejects["row_number"], strict=True)
    ) == [
        ("fraction", 4),
        ("population", 3),
    ]


def test_phases_within_rounding_give_no_warning():
    """Nuristan c_1 misses its total by 820 (IPC rounding): within tolerance, no warning."""
    result = _check(
        _frame(
            _unit(
                NURISTAN_C1,
                analysis_id="12166797",
                unit_id="12166814",
                unit_name="Nuristan c_1",
                iso3="AFG",
                start=date(2017, 5, 1),
                end=date(2017, 7, 31),
            )
        )
    )
    assert (result.errors, result.warnings) == (0, 0)
    assert len(result.data) == 7


def test_phases_missing_5000_of_100000_warn_on_the_all_row():
    """Phases summing to 95,000 of 100,000 give one warning on the 'all' row; data is still returned."""
    figures = {
        "all": (100000, 1.0),
        "3+": (45000, 0.45),
        "1": (20000, 0.2),
        "2": (30000, 0.3),
        "3": (25000, 0.25),
        "4": (15000, 0.15),
        "5": (5000, 0.05),
    }
    result = _check(_frame(_unit(figures)))
    assert result.data is not None and len(result.data) == 7
    assert (result.errors, result.warnings) == (0, 1)
    reject = result.rejects.iloc[0]
    assert reject["severity"] == "warning"
    assert reject["check_name"] == "phases_1_to_5_add_up_to_all"
    assert reject["column_name"] == "population"
    assert reject["row_number"] == 0
    assert reject["value"] == "100000"
    assert reject["row_key"].endswith("unit_id=90000013, period=current, phase=all")


@pytest.mark.parametrize(
    "total, miss, warned",
    [
        (100000, 1000, False),
        (100000, 1001, True),
        (1000000, 10000, False),
        (1000000, 10001, True),
        (20000, 1000, False),
        (20000, 1001, True),
    ],
)
def test_rounding_tolerance_is_1000_or_one_percent(total, miss, warned):
    """The add-up tolerance is the larger of 1,000 people and 1% of the total, inclusive."""
    parts = total - miss
    figures = {
        "all": (total, 1.0),
        "1": (parts, 1.0),
        "2": (0, 0.0),
        "3": (0, 0.0),
        "4": (0, 0.0),
        "5": (0, 0.0),
        "3+": (0, 0.0),
    }
    result = _check(_frame(_unit(figures)))
    assert result.warnings == int(warned)


def test_three_plus_mismatch_warns_on_the_3plus_row():
    """A 3+ figure that is not phases 3+4+5 is flagged on the 3+ row."""
    result = _check(_set(_rafah(), "3+", "population", 150000))  # 3+4+5 = 170,000
    assert (result.errors, result.warnings) == (0, 1)
    reject = result.rejects.iloc[0]
    assert (reject["check_name"], reject["row_number"], reject["value"]) == (
        "phase_3plus_equals_3_4_5",
        1,
        "150000",
    )


def test_national_equal_to_its_areas_gives_no_warning():
    """Gaza May 2024: national figures equal the sum of North Gaza, Deir Al-Balah and Rafah."""
    frame = _frame(
        _unit(GAZA_NATIONAL, level="national", unit_id="90000001", unit_name="Palestine, State of"),
        _unit(NORTH_GAZA, unit_id="90000011", unit_name="North Gaza"),
        _unit(DEIR_AL_BALAH, unit_id="90000012", unit_name="Deir Al-Balah"),
        _unit(RAFAH),
    )
    result = _check(frame)
    assert (result.errors, result.warnings) == (0, 0)


def test_national_above_its_areas_warns_on_national_rows():
    """Without North Gaza, national exceeds the areas: the national rows of the differing phases are flagged."""
    frame = _frame(
        _unit(GAZA_NATIONAL, level="national", unit_id="90000001", unit_name="Palestine, State of"),
        _unit(DEIR_AL_BALAH, unit_id="90000012", unit_name="Deir Al-Balah"),
        _unit(RAFAH),
    )
    result = _check(frame)
    assert result.errors == 0 and result.data is not None
    rejects = result.rejects
    assert set(rejects["check_name"]) == {"national_equals_sum_of_areas"}
    # Phases 1 and 2 have nobody in North Gaza, so they still add up.
    assert sorted(rejects["row_number"]) == [0, 1, 4, 5, 6]
    assert rejects["row_key"].str.contains("level=national, unit_id=90000001").all()
    assert sorted(rejects["value"]) == sorted(["2251457", "2133884", "1148301", "642864", "342719"])


def test_unexpected_and_missing_columns_are_errors():
    """A column the model lacks, or one it needs, blocks the table and is named in the reject."""
    extra = _check(_rafah().assign(estimated_population=200000))
    assert extra.data is None
    assert (extra.rejects.iloc[0]["check_name"], extra.rejects.iloc[0]["value"]) == (
        "column_in_schema",
        "estimated_population",
    )
    missing = _check(_rafah().drop(columns=["fraction"]))
    assert missing.data is None
    assert (missing.rejects.iloc[0]["check_name"], missing.rejects.iloc[0]["value"]) == (
        "column_in_dataframe",
        "fraction",
    )


def test_non_numeric_population_is_an_error_on_its_row():
    """A population that is not a number fails coercion, naming the row, its key and the text."""
    result = _check(_set(_rafah(), "1", "population", "n/a"))
    assert result.data is None
    coerce = result.rejects[result.rejects["check_name"] == "coerce_dtype('Int64')"].iloc[0]
    assert (coerce["column_name"], coerce["row_number"], coerce["value"]) == (
        "population",
        2,
        "n/a",
    )
    assert coerce["row_key"].endswith("period=current, phase=1")
