"""Staged tables (aggregator.staging): the IPC payloads of tests/unit/test_ipc_parse.py as a
DuckDB query over the raw answers, loaded into a real warehouse file and checked there."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from aggregator import staging, warehouse
from aggregator.config import HttpSettings
from aggregator.connectors import ipc
from aggregator.http import Fetcher, make_client
from aggregator.pipeline import FETCH_COLUMNS
from aggregator.raw import RawStore
from aggregator.staging import CastFailed
from aggregator.validate import REJECT_COLUMNS, validate, validate_text
from schemas.ipc_phases import KEY
from tests.unit.test_ipc_parse import AF_EAST_2017, BASE, GAZA_MAY_2024, LISTING, _serve

RUN = {
    "run_id": "r1",
    "source": "ipc_api",
    "started_at": pd.Timestamp("2024-06-26", tz="UTC"),
    "finished_at": pd.Timestamp("2024-06-26", tz="UTC"),
    "outcome": "published",
    "requests": 3,
    "not_modified": 0,
    "message": None,
    "mode": "replay",
}
ORDER = ["check_name", "row_number", "row_key", "value"]


def _stage(tmp_path: Path, populations: dict) -> dict:
    settings = HttpSettings()
    with make_client(settings, replay=_serve(tmp_path, LISTING, populations)) as client:
        fetcher = Fetcher(
            client, source="ipc_api", run_id="t", raw=RawStore(tmp_path / "raw"), settings=settings
        )
        return ipc.extract(fetcher, BASE, None, sorted(populations), stage=tmp_path / "stage")


def _publish(tmp_path: Path, tables: dict) -> tuple[Path, warehouse.Published]:
    target = tmp_path / "warehouse.duckdb"
    warehouse.prepare(target)
    analyses = validate("ipc_analyses", tables["ipc_analyses"], run_id="r1", source="ipc_api")
    published = warehouse.publish(
        target,
        facts={"ipc_analyses": analyses.data, "ipc_phases": tables["ipc_phases"]},
        run=RUN,
        fetches=pd.DataFrame(columns=FETCH_COLUMNS),
        rejects=analyses.rejects,
    )
    return target, published


def _ordered(rejects: pd.DataFrame) -> pd.DataFrame:
    return rejects[ORDER].astype(str).sort_values(ORDER).reset_index(drop=True)


def test_staged_rows_publish_as_they_were_staged(tmp_path):
    tables = _stage(tmp_path, {"AF": [AF_EAST_2017], "PS": [GAZA_MAY_2024]})
    staged = tables["ipc_phases"]
    assert staged.vintages == ("12166797", "90000001")
    target, published = _publish(tmp_path, tables)
    assert published.rows["ipc_phases"] == 27 + 56
    with duckdb.connect(str(target), read_only=True) as con:
        stored = con.sql("select * from ipc_phases").df()
        run = con.sql("select rows, warnings, rejected from runs").fetchall()
    frame = staged.frame()
    assert list(frame.index) == list(range(len(frame)))  # row numbers in key order
    order = lambda f: f.sort_values(KEY).reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(
        order(stored), order(frame), check_dtype=False, check_index_type=False
    )
    whole = validate("ipc_phases", frame, run_id="r1", source="ipc_api")
    assert run == [(27 + 56 + 2, whole.warnings, 0)]  # the recorded figures' own rounding
    assert whole.warnings > 0


def test_the_answers_are_read_once_into_units_attached_read_only(tmp_path):
    """The extract reads the answers into a units table in a file of the stage: one row per
    unit with its analysis' fields, national rows giving the analyses. The load attaches it
    read-only to the publishing connection, whose transaction writes the warehouse alone."""
    tables = _stage(tmp_path, {"AF": [AF_EAST_2017], "PS": [GAZA_MAY_2024]})
    staged = tables["ipc_phases"]
    assert staged.plan.database == staged.text_plan.database
    assert staged.plan.database.parent == tmp_path / "stage"
    units = f"{staging.plan_table(ipc.UNITS_TABLE)}"
    with duckdb.connect() as con, staged.plan.attached(con):
        read_only = con.execute(
            "select readonly from duckdb_databases() where database_name = 'plan'"
        ).fetchall()
        levels = con.execute(
            f"select id, unit.level, count(*) from {units} group by all order by all"
        ).fetchall()
        with pytest.raises(duckdb.Error, match="read-only"):
            con.execute(f"delete from {units}")
    assert read_only == [(True,)]
    national = {(i, n) for i, level, n in levels if level == "national"}
    assert national == {(i, 1) for i in tables["ipc_analyses"]["analysis_id"]}
    assert sum(n for *_, n in levels) == len(
        staged.frame().drop_duplicates(["analysis_id", "unit_id", "level", "unit_name"])
    )


def test_loaded_rows_get_the_warnings_of_the_whole_frame(tmp_path):
    """A phase total that misses its parts: the SQL screen flags its analysis and pandera
    gives the same warning, on the same row number and key, as on the whole frame."""
    off = {**GAZA_MAY_2024, "estimated_population": 2_500_000}
    tables = _stage(tmp_path, {"AF": [AF_EAST_2017], "PS": [off]})
    whole = validate("ipc_phases", tables["ipc_phases"].frame(), run_id="r1", source="ipc_api")
    target, published = _publish(tmp_path, tables)
    loaded = published.rejects[published.rejects["table_name"] == "ipc_phases"]
    assert "phases_1_to_5_add_up_to_all" in set(loaded["check_name"])
    pd.testing.assert_frame_equal(_ordered(loaded), _ordered(whole.rejects))
    with duckdb.connect(str(target), read_only=True) as con:
        stored = con.sql("select check_name, row_key from rejects").df()
    assert len(stored) == len(loaded)
    off_total = stored[stored["row_key"].str.contains("analysis_id=90000001, level=national")]
    assert "phases_1_to_5_add_up_to_all" in set(off_total["check_name"])


def test_loaded_rows_failing_a_blocking_check_write_nothing(tmp_path):
    target, _ = _publish(tmp_path / "a", _stage(tmp_path / "a", {"PS": [GAZA_MAY_2024]}))
    negative = {**AF_EAST_2017, "p3plus": -5}
    tables = _stage(tmp_path, {"AF": [negative], "PS": [GAZA_MAY_2024]})
    analyses = validate("ipc_analyses", tables["ipc_analyses"], run_id="r2", source="ipc_api")
    with duckdb.connect(str(target), read_only=True) as con:
        before = con.sql("select * from ipc_phases order by all").fetchall()
    with pytest.raises(warehouse.Refused, match=r"ipc_phases: 1 failure case") as refused:
        warehouse.publish(
            target,
            facts={"ipc_analyses": analyses.data, "ipc_phases": tables["ipc_phases"]},
            run=RUN | {"run_id": "r2"},
            fetches=pd.DataFrame(columns=FETCH_COLUMNS),
            rejects=analyses.rejects,
        )
    (check,) = refused.value.checks
    errors = check.rejects[check.rejects["severity"] == "error"]
    assert list(errors["value"]) == ["-5"] and list(errors["column_name"]) == ["population"]
    assert "analysis_id=12166797" in errors.iloc[0]["row_key"]
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.sql("select * from ipc_phases order by all").fetchall() == before
        assert con.sql("select run_id from runs").fetchall() == [("r1",)]


def test_a_value_that_does_not_cast_is_named_from_the_text_rows(tmp_path):
    tables = _stage(tmp_path, {"AF": [AF_EAST_2017], "PS": [{**GAZA_MAY_2024, "p3plus": "n/a"}]})
    with pytest.raises(CastFailed, match="n/a"):
        _publish(tmp_path, tables)
    checked = validate_text(tables["ipc_phases"], "cast", run_id="r1", source="ipc_api")
    assert checked.data is None and list(checked.rejects.columns) == REJECT_COLUMNS
    named = checked.rejects[checked.rejects["value"] == "n/a"]
    assert set(named["column_name"]) == {"population"}
    assert "analysis_id=90000001" in named.iloc[0]["row_key"]
    text = tables["ipc_phases"].frame()  # the rows as text, numbered as the checks number them
    assert text.loc[named.iloc[0]["row_number"], "population"] == "n/a"


def test_only_the_rows_just_loaded_are_checked(tmp_path):
    """A second publish of another analysis of the same source: the analysis already in the
    table (with warnings of its own) is neither checked again nor reported again."""
    target, first = _publish(tmp_path / "a", _stage(tmp_path / "a", {"AF": [AF_EAST_2017]}))
    assert first.rejects["row_key"].str.contains("analysis_id=12166797").any()
    off = {**GAZA_MAY_2024, "estimated_population": 2_500_000}
    tables = _stage(tmp_path / "b", {"PS": [off]})
    analyses = validate("ipc_analyses", tables["ipc_analyses"], run_id="r2", source="ipc_api")
    second = warehouse.publish(
        target,
        facts={"ipc_analyses": analyses.data, "ipc_phases": tables["ipc_phases"]},
        run=RUN | {"run_id": "r2"},
        fetches=pd.DataFrame(columns=FETCH_COLUMNS),
        rejects=analyses.rejects,
    )
    keys = second.rejects["row_key"]
    assert len(keys) and keys.str.contains("analysis_id=90000001").all()
    with duckdb.connect(str(target), read_only=True) as con:
        analyses_held = con.sql("select distinct analysis_id from ipc_phases order by 1").fetchall()
    assert analyses_held == [("12166797",), ("90000001",)]
