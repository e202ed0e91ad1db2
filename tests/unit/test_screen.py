"""The SQL screen of a table's checks (aggregator.screen) never lets through what pandera
fails: on the recorded-shape IPC rows of tests/unit/test_ipc_parse.py, mutated at random, every
vintage with a pandera failure or warning is among the vintages the screen flags.

Each unit-period of the rows is made a vintage of its own, so that most vintages are clean and
a mutation is caught only if the screen of the check it breaks works."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator import screen
from aggregator.ddl import columns_of
from aggregator.validate import validate
from schemas import TABLES, Table, ipc_phases
from tests.unit.test_ipc_parse import AF_EAST_2017, GAZA_MAY_2024
from tests.unit.test_staging import _stage

PHASES = TABLES["ipc_phases"]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    folder = tmp_path_factory.mktemp("screen")
    rows = _stage(folder, {"AF": [AF_EAST_2017], "PS": [GAZA_MAY_2024]})["ipc_phases"].frame()
    return rows.assign(
        analysis_id=rows["analysis_id"] + ":" + rows["unit_id"] + ":" + rows["period"]
    )


def _screened(frame: pd.DataFrame) -> set[str]:
    with duckdb.connect() as con:
        columns = ", ".join(f'"{c}" {t}' for c, t in columns_of(PHASES).items())
        con.execute(f"create table loaded ({columns})")
        con.register("frame", frame)
        con.execute("insert into loaded by name select * from frame")
        return set(screen.flagged_vintages(con, PHASES, "loaded"))


def _failing(frame: pd.DataFrame) -> set[str]:
    rejects = validate("ipc_phases", frame, run_id="t", source="ipc_api").rejects
    rows = rejects["row_number"].dropna().astype(int)
    return set(frame.loc[rows, "analysis_id"])


MUTATIONS = {
    "population": [-1, 0, 10**9, None],
    "fraction": [-0.01, 1.5, None, float("nan")],
    "phase": ["6", "3+", "all", None],
    "level": ["region", "area", None],
    "period": ["past", "current"],
    "source": ["ipc", "ipc_hdx"],
    "country_iso3": ["PS", "pse", "PSE\n", None],
    "overall_phase": [0, 6, 3, None],
    "period_start": [pd.Timestamp("2099-01-01"), None],
    "unit_name": [None, "X"],
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_screen_flags_every_analysis_pandera_fails(rows, data):
    frame = rows.copy()
    for _ in range(data.draw(st.integers(1, 3))):
        column = data.draw(st.sampled_from(sorted(MUTATIONS)))
        row = data.draw(st.integers(0, len(frame) - 1))
        value = data.draw(st.sampled_from(MUTATIONS[column]))
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
    if data.draw(st.booleans()):  # a repeated key
        frame = pd.concat([frame, frame.iloc[[data.draw(st.integers(0, len(frame) - 1))]]])
        frame.index = pd.RangeIndex(len(frame))
    frame = _typed(frame)
    assert _failing(frame) <= _screened(frame)


@pytest.mark.parametrize(
    ("column", "value"), [(c, v) for c, values in MUTATIONS.items() for v in values]
)
def test_each_mutation_of_a_clean_vintage_is_screened(rows, column, value):
    """Every kind of mutation, on a row of a vintage without warnings and with every column
    filled, so that only the screen of the check it breaks can flag it."""
    clean = rows[~rows["analysis_id"].isin(_failing(rows)) & rows.notna().all(axis=1)]
    frame = rows.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[clean.index[0], column] = value
    frame = _typed(frame)
    assert _failing(frame) <= _screened(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("population", "overall_phase"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def test_clean_rows_flag_only_the_vintages_with_warnings(rows):
    warned = _failing(rows)  # the recorded figures' own rounding
    assert 0 < len(warned) < rows["analysis_id"].nunique() / 2
    assert _screened(rows) == warned


def test_a_check_without_sql_form_flags_everything(rows):
    class Odd(pa.DataFrameModel):
        analysis_id: str = pa.Field(check_name=True)

        @pa.check("analysis_id", name="looks_odd")
        def odd(cls, series: pd.Series) -> pd.Series:
            return series.str.len() > 0

    odd = Table("odd", Odd, ("analysis_id",), "fact", replace_by="analysis_id")
    assert screen.row_failures(odd) is None
    with duckdb.connect() as con:
        con.register("loaded", rows[["analysis_id"]])
        flagged = screen.flagged_vintages(con, odd, "loaded")
    assert set(flagged) == set(rows["analysis_id"])


def test_builtin_checks_translate(tmp_path: Path):
    assert screen.row_failures(PHASES) is not None
    conditions = " ".join(screen.row_failures(PHASES))
    assert "\"source\" not in ('ipc_api', 'ipc_hdx')" in conditions
    assert "not regexp_matches(\"country_iso3\", '^[A-Z]{3}$')" in conditions
    assert '"fraction" > 1' in conditions and 'isnan("fraction")' not in conditions


@pytest.mark.parametrize("beyond", [1, 2, 10])
def test_a_total_just_beyond_the_rounding_allowance_is_screened(rows, beyond):
    """The add-up screen's allowance is the pandas check's, to the person."""
    clean = rows[~rows["analysis_id"].isin(_failing(rows))]
    phases = clean.groupby("analysis_id")["phase"].agg(set)
    vintage = phases[phases.map({"1", "2", "3", "4", "5", "all"}.issubset)].index[0]
    group = rows[rows["analysis_id"] == vintage]
    parts = int(group[group["phase"].isin(["1", "2", "3", "4", "5"])]["population"].sum())
    total = max(math.ceil((parts + beyond) / (1 - ipc_phases.ROUNDING_REL)), parts + 1000 + beyond)
    frame = rows.copy()
    frame.loc[group.index[group["phase"] == "all"], "population"] = total
    assert vintage in _failing(frame)
    assert _failing(frame) <= _screened(frame)
