"""Staged tables (aggregator.staging): the IPC payloads of tests/unit/test_ipc_parse.py parsed
into Parquet chunk files with a chunk size small enough to spread the analyses over several
chunks, then validated and published as the pipeline does."""

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
from aggregator.validate import validate
from schemas.ipc_phases import KEY
from tests.unit.test_ipc_parse import AF_EAST_2017, BASE, GAZA_MAY_2024, LISTING, _serve

RUN = {
    "run_id": "r1",
    "source": "ipc_api",
    "started_at": pd.Timestamp("2024-06-26", tz="UTC"),
    "finished_at": pd.Timestamp("2024-06-26", tz="UTC"),
    "outcome": "published",
    "rows": 0,
    "warnings": 0,
    "rejected": 0,
    "requests": 3,
    "not_modified": 0,
    "message": None,
    "mode": "replay",
}


def _stage(tmp_path: Path, populations: dict) -> dict:
    settings = HttpSettings()
    with make_client(settings, replay=_serve(tmp_path, LISTING, populations)) as client:
        fetcher = Fetcher(
            client, source="ipc_api", run_id="t", raw=RawStore(tmp_path / "raw"), settings=settings
        )
        return ipc.extract(fetcher, BASE, None, sorted(populations), stage=tmp_path / "stage")


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "CHUNK_ROWS", 20)


def test_each_chunk_holds_whole_analyses(tmp_path, small_chunks):
    staged = _stage(tmp_path, {"AF": [AF_EAST_2017], "PS": [GAZA_MAY_2024]})["ipc_phases"]
    assert staged.rows == 27 + 56 and len(staged.files) > 2
    chunks = [set(frame["analysis_id"]) for frame in staged.frames()]
    seen = [a for ids in chunks for a in ids]
    assert sorted(seen) == ["12166797", "90000001"]  # no analysis split across chunks
    whole = staged.frame()
    assert len(whole) == staged.rows and not whole.duplicated(KEY).any()
    assert list(whole.index) == list(range(staged.rows))  # row numbers across the chunks


def test_chunked_validation_equals_whole_frame_validation(tmp_path, small_chunks):
    """A phase total that misses its parts gives the same warning, on the same row, chunked
    or not; a blocking failure in one chunk fails the whole staged table."""
    off = {**GAZA_MAY_2024, "estimated_population": 2_500_000}
    staged = _stage(tmp_path, {"AF": [AF_EAST_2017], "PS": [off]})["ipc_phases"]
    chunked = validate("ipc_phases", staged, run_id="t", source="ipc_api")
    whole = validate("ipc_phases", staged.frame(), run_id="t", source="ipc_api")
    assert chunked.data is staged and whole.data is not None
    columns = ["check_name", "row_number", "row_key", "value"]
    ordered = lambda r: r[columns].sort_values(columns).reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(ordered(chunked.rejects), ordered(whole.rejects))
    assert "phases_1_to_5_add_up_to_all" in set(chunked.rejects["check_name"])

    negative = {**AF_EAST_2017, "p3plus": -5}
    broken = _stage(tmp_path / "b", {"AF": [negative], "PS": [GAZA_MAY_2024]})["ipc_phases"]
    failed = validate("ipc_phases", broken, run_id="t", source="ipc_api")
    assert failed.data is None
    errors = failed.rejects[failed.rejects["severity"] == "error"]
    assert list(errors["value"]) == ["-5"] and list(errors["column_name"]) == ["population"]


def test_staged_rows_publish_as_they_were_staged(tmp_path, small_chunks):
    tables = _stage(tmp_path, {"AF": [AF_EAST_2017], "PS": [GAZA_MAY_2024]})
    target = tmp_path / "warehouse.duckdb"
    warehouse.prepare(target)
    analyses = validate("ipc_analyses", tables["ipc_analyses"], run_id="r1", source="ipc_api")
    warehouse.publish(
        target,
        facts={"ipc_analyses": analyses.data, "ipc_phases": tables["ipc_phases"]},
        run=RUN,
        fetches=pd.DataFrame(columns=FETCH_COLUMNS),
        rejects=analyses.rejects,
    )
    with duckdb.connect(str(target), read_only=True) as con:
        published = con.sql("select * from ipc_phases").df()
    staged = tables["ipc_phases"].frame().reset_index(drop=True)
    order = lambda f: f.sort_values(KEY).reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(
        order(published), order(staged), check_dtype=False, check_index_type=False
    )
