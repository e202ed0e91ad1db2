"""The DuckDB warehouse, on a real file: table creation, vintage replacement, atomic publish,
the refresh lock, and the validators used for conditional GET."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from aggregator import ddl, warehouse
from aggregator.errors import LockHeld, WarehouseError
from aggregator.http import FetchRecord
from aggregator.validate import REJECT_COLUMNS, validate
from schemas import TABLES
from schemas.meta import Fetches
from schemas.metrics import METRICS

FETCH_COLUMNS = list(Fetches.to_schema().columns)
T0 = datetime(2024, 6, 26, 9, 0, tzinfo=UTC)

# National current figures as published: (analysis_id, iso2, iso3, name, date, period, country total, figures)
GAZA = (
    "90000001",
    "PS",
    "PSE",
    "Palestine, State of",
    date(2024, 5, 1),
    (date(2024, 5, 1), date(2024, 6, 30)),
    2251457,
    {
        "all": 2251457,
        "3+": 2133884,
        "1": 10000,
        "2": 107573,
        "3": 1148301,
        "4": 642864,
        "5": 342719,
    },
)
AF_EAST = (
    "12166797",
    "AF",
    "AFG",
    "Afghanistan",
    date(2017, 5, 1),
    (date(2017, 5, 1), date(2017, 7, 31)),
    29724323,
    {"all": 2991169, "3+": 762742, "1": 1085103, "2": 1143324, "3": 477363, "4": 285379, "5": 0},
)


def _facts(
    analysis,
    *,
    source: str = "ipc_api",
    fetch_id: str = "r1/ipc_api/2",
    title: str = "Acute Food Insecurity",
) -> dict[str, pd.DataFrame]:
    """Validated ipc_analyses + ipc_phases frames for one analysis (national level), as the pipeline publishes."""
    analysis_id, iso2, iso3, name, analysis_date, (start, end), country_total, figures = analysis
    analyses = pd.DataFrame(
        [
            {
                "source": source,
                "analysis_id": analysis_id,
                "country_iso2": iso2,
                "country_iso3": iso3,
                "title": title,
                "condition": "A",
                "analysis_date": analysis_date,
                "created": None,
                "modified": None,
                "link": None,
                "country_population": country_total,
                "fetch_id": fetch_id,
            }
        ]
    )
    phases = pd.DataFrame(
        [
            {
                "source": source,
                "analysis_id": analysis_id,
                "country_iso3": iso3,
                "level": "national",
                "unit_id": analysis_id,
                "unit_name": name,
                "parent_name": None,
                "period": "current",
                "period_start": start,
                "period_end": end,
                "period_granularity": "month",
                "phase": phase,
                "population": population,
                "fraction": round(population / figures["all"], 2),
                "overall_phase": None,
                "fetch_id": fetch_id,
            }
            for phase, population in figures.items()
        ]
    )
    out = {}
    for table, frame in (("ipc_analyses", analyses), ("ipc_phases", phases)):
        checked = validate(table, frame, run_id="r", source=source)
        assert checked.data is not None, checked.rejects
        out[table] = checked.data
    return out


def _run(
    run_id: str, *, outcome: str = "published", source: str = "ipc_api", rows: int = 0
) -> dict:
    return {
        "run_id": run_id,
        "source": source,
        "started_at": T0,
        "finished_at": T0,
        "outcome": outcome,
        "rows": rows,
        "warnings": 0,
        "rejected": 0,
        "requests": 1,
        "not_modified": 0,
        "message": None,
        "mode": "replay",
    }


def _fetches(*records: FetchRecord) -> pd.DataFrame:
    return pd.DataFrame([asdict(r) for r in records], columns=FETCH_COLUMNS)


def _fetch(
    run_id: str,
    seq: int,
    url: str,
    *,
    at: datetime = T0,
    source: str = "ipc_api",
    etag: str | None = None,
    sha: str | None = "0" * 64,
    error: str | None = None,
    not_modified: bool = False,
) -> FetchRecord:
    return FetchRecord(
        fetch_id=f"{run_id}/{source}/{seq}",
        run_id=run_id,
        source=source,
        url=url,
        requested_at=at,
        status=None if error else (304 if not_modified else 200),
        not_modified=not_modified,
        etag=etag,
        content_type="application/json",
        sha256=sha,
        bytes=None if sha is None else 1234,
        raw_path=None if sha is None else f"/data/raw/sha256/{sha[:2]}/{sha}",
        attempts=1,
        error=error,
    )


NO_REJECTS = pd.DataFrame(columns=REJECT_COLUMNS)


def _publish(path: Path, run_id: str, facts: dict[str, pd.DataFrame], **run) -> None:
    """As a refresh does: bring the tables up to the schemas, then publish."""
    warehouse.prepare(path)
    warehouse.publish(
        path,
        facts=facts,
        run=_run(run_id, **run),
        fetches=_fetches(_fetch(run_id, 1, "https://api.ipcinfo.org/analyses?type=A")),
        rejects=NO_REJECTS,
    )


def _query(path: Path, sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connect(path, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _counts(path: Path) -> dict[str, int]:
    with warehouse.connect(path, read_only=True) as con:
        return warehouse.table_counts(con)


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    """Where a refresh keeps the warehouse (its folder exists: refresh_lock creates it first)."""
    (tmp_path / "data").mkdir()
    return tmp_path / "data" / "warehouse.duckdb"


def test_prepare_creates_every_table_from_the_schemas(wh):
    """A first refresh creates each table of schemas.TABLES with the model's columns and SQL types."""
    _publish(wh, "r1", _facts(GAZA))
    columns: dict[str, dict[str, str]] = {}
    for table, column, type_ in _query(
        wh,
        "select c.table_name, c.column_name, c.data_type from information_schema.columns c"
        " join information_schema.tables t using (table_name) where t.table_type = 'BASE TABLE'",
    ):
        columns.setdefault(table, {})[column] = type_
    assert set(columns) == set(TABLES) | {"figures_stored"}  # the figures view's storage
    for name, table in TABLES.items():
        assert list(columns[name]) == list(ddl.columns_of(table)), name
    assert columns["ipc_phases"]["period_start"] == "DATE"
    assert columns["ipc_phases"]["population"] == "BIGINT"
    assert columns["ipc_phases"]["fraction"] == "DOUBLE"
    assert columns["ipc_analyses"]["analysis_date"] == "DATE"
    assert columns["runs"]["started_at"] == "TIMESTAMP WITH TIME ZONE"
    assert columns["fetches"]["not_modified"] == "BOOLEAN"
    counts = _counts(wh)
    assert {
        k: counts.pop(k)
        for k in ("ipc_analyses", "ipc_phases", "runs", "fetches", "rejects", "metrics")
    } == {
        "ipc_analyses": 1,
        "ipc_phases": 7,
        "runs": 1,
        "fetches": 1,
        "rejects": 0,
        "metrics": len(METRICS),
    }
    assert set(counts.values()) == {0}, "the other sources' tables exist, empty"


def test_published_values_round_trip(wh):
    """Dates, integers and the missing parent survive the trip into DuckDB unchanged."""
    _publish(wh, "r1", _facts(GAZA))
    rows = _query(
        wh,
        "select phase, population, fraction, period_start, period_end, parent_name, overall_phase "
        "from ipc_phases where phase in ('all', '5') order by phase",
    )
    assert rows == [
        ("5", 342719, 0.15, date(2024, 5, 1), date(2024, 6, 30), None, None),
        ("all", 2251457, 1.0, date(2024, 5, 1), date(2024, 6, 30), None, None),
    ]
    assert _query(wh, "select country_population, analysis_date from ipc_analyses") == [
        (2251457, date(2024, 5, 1))
    ]


def test_publishing_a_second_analysis_keeps_the_first(wh):
    """Analysis B published after A adds B's rows; A's stay."""
    _publish(wh, "r1", _facts(GAZA))
    _publish(wh, "r2", _facts(AF_EAST))
    assert _query(wh, "select analysis_id, count(*) from ipc_phases group by 1 order by 1") == [
        ("12166797", 7),
        ("90000001", 7),
    ]
    assert _counts(wh)["ipc_analyses"] == 2
    assert _counts(wh)["runs"] == 2


def test_republishing_an_analysis_replaces_only_its_vintage(wh):
    """Republishing A replaces A's rows (revised figures, dropped rows gone) and leaves B untouched."""
    _publish(wh, "r1", _facts(GAZA))
    _publish(wh, "r2", _facts(AF_EAST))
    before_b = _query(wh, "select * from ipc_phases where analysis_id = '12166797' order by phase")

    revised = _facts(GAZA, fetch_id="r3/ipc_api/2", title="Acute Food Insecurity (revised)")
    revised["ipc_phases"] = revised["ipc_phases"][
        revised["ipc_phases"]["phase"] != "1"
    ].reset_index(drop=True)
    _publish(wh, "r3", revised)

    assert _query(wh, "select analysis_id, count(*) from ipc_phases group by 1 order by 1") == [
        ("12166797", 7),
        ("90000001", 6),
    ]
    assert _query(
        wh, "select distinct fetch_id from ipc_phases where analysis_id = '90000001'"
    ) == [("r3/ipc_api/2",)]
    assert _query(wh, "select title from ipc_analyses where analysis_id = '90000001'") == [
        ("Acute Food Insecurity (revised)",)
    ]
    assert (
        _query(wh, "select * from ipc_phases where analysis_id = '12166797' order by phase")
        == before_b
    )
    assert _counts(wh)["ipc_analyses"] == 2
    assert _counts(wh)["runs"] == 3


def test_vintage_replacement_is_per_source(wh):
    """The same analysis from another source (ipc_hdx) does not replace the ipc_api rows."""
    _publish(wh, "r1", _facts(GAZA))
    _publish(wh, "r2", _facts(GAZA, source="ipc_hdx", fetch_id="r2/ipc_hdx/1"), source="ipc_hdx")
    assert _query(wh, "select source, count(*) from ipc_phases group by 1 order by 1") == [
        ("ipc_api", 7),
        ("ipc_hdx", 7),
    ]


def test_failed_publish_rolls_back_entirely(wh):
    """A publish failing midway (a value DuckDB cannot cast) leaves every table as it was."""
    _publish(wh, "r1", _facts(GAZA))
    before = {t: _query(wh, f'select * from "{t}" order by all') for t in TABLES}

    broken = _facts(
        GAZA, fetch_id="r2/ipc_api/2", title="should not land"
    )  # ipc_analyses goes first and succeeds
    broken["ipc_phases"] = broken["ipc_phases"].assign(population="not a number")
    with pytest.raises(WarehouseError, match=r"publishing ipc_api to .* failed, nothing written"):
        _publish(wh, "r2", broken)

    assert {t: _query(wh, f'select * from "{t}" order by all') for t in TABLES} == before
    assert _query(wh, "select run_id from runs") == [("r1",)]


def test_new_model_column_is_added_to_an_existing_table(wh):
    """A table created by an older model version gains the missing column; its rows are kept."""
    with warehouse.connect(wh) as con:
        con.execute("create table ipc_analyses (source VARCHAR, analysis_id VARCHAR)")
        con.execute("insert into ipc_analyses values ('ipc_api', '12166797')")
    _publish(wh, "r1", _facts(GAZA))
    columns = [
        r[0]
        for r in _query(
            wh,
            "select column_name from information_schema.columns where table_name = 'ipc_analyses'",
        )
    ]
    assert set(columns) == set(ddl.columns_of(TABLES["ipc_analyses"]))
    assert _query(wh, "select analysis_id, country_population from ipc_analyses order by 1") == [
        ("12166797", None),
        ("90000001", 2251457),
    ]


# --- refresh lock ---------------------------------------------------------------------------


def test_second_lock_while_held_raises_naming_holder(wh):
    """A second refresh while one holds the lock fails at once, naming the holder's pid."""
    with warehouse.refresh_lock(wh), pytest.raises(LockHeld) as caught, warehouse.refresh_lock(wh):
        pass
    assert f"pid {os.getpid()} on " in str(caught.value)
    assert str(wh.with_name("warehouse.duckdb.lock")) in str(caught.value)
    with warehouse.refresh_lock(wh):  # released on exit
        pass


def test_lock_held_by_another_process_names_that_pid(wh):
    """While another process refreshes, LockHeld names that process's pid, not ours."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from aggregator.warehouse import refresh_lock\n"
            "with refresh_lock(Path(sys.argv[1])):\n"
            "    print('held', flush=True); sys.stdin.read()",
            str(wh),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=rf"\(pid {holder.pid} on "), warehouse.refresh_lock(wh):
            pass
    finally:
        holder.communicate(input="", timeout=30)
    with warehouse.refresh_lock(wh):  # the holder has exited: free again
        pass


def test_stale_lock_file_does_not_block(wh):
    """A lock file left by a dead process (no flock held) does not stop the next refresh."""
    wh.with_name("warehouse.duckdb.lock").write_text(
        "pid 999999 on elsewhere since 2024-06-01 00:00:00Z\n"
    )
    with warehouse.refresh_lock(wh):
        assert (
            wh.with_name("warehouse.duckdb.lock").read_text().startswith(f"pid {os.getpid()} on ")
        )


# --- validators -----------------------------------------------------------------------------

U_ANALYSES = "https://api.ipcinfo.org/analyses?type=A&key=***"
U_AF = "https://api.ipcinfo.org/population?country=AF&key=***"
U_PS = "https://api.ipcinfo.org/population?country=PS&key=***"


def _meta_only(
    path: Path, run_id: str, outcome: str, *records: FetchRecord, source: str = "ipc_api"
) -> None:
    warehouse.prepare(path)
    warehouse.publish(
        path,
        facts={},
        run=_run(run_id, outcome=outcome, source=source),
        fetches=_fetches(*records),
        rejects=NO_REJECTS,
    )


def test_validators_missing_warehouse_is_empty(wh):
    """Before any refresh there is nothing to revalidate."""
    assert warehouse.validators(wh, ["ipc_api"])["ipc_api"] == {}


def test_validators_last_good_fetch_per_url_of_good_runs(wh):
    """Only fetches of published/not_modified runs count, the latest per URL, without errors, per source."""
    a, b, c, d = "a" * 64, "b" * 64, "c" * 64, "d" * 64
    _meta_only(
        wh,
        "r1",
        "published",
        _fetch("r1", 1, U_ANALYSES, etag='"a1"', sha=a),
        _fetch("r1", 2, U_AF, etag='"af1"', sha=a),
    )
    # A later run that failed validation: its newer bodies must not be trusted for a 304.
    _meta_only(
        wh,
        "r2",
        "failed",
        _fetch("r2", 1, U_ANALYSES, at=T0 + timedelta(hours=1), etag='"a2"', sha=b),
    )
    # A later run where everything answered 304 (with a new ETag): still good, and the latest.
    _meta_only(
        wh,
        "r3",
        "not_modified",
        _fetch("r3", 1, U_AF, at=T0 + timedelta(hours=2), etag='"af3"', sha=a, not_modified=True),
    )
    # A published run whose PS download failed, then a good one for PS.
    _meta_only(
        wh,
        "r4",
        "published",
        _fetch(
            "r4", 1, U_PS, at=T0 + timedelta(hours=3), sha=None, error="HTTP 500 after 5 attempts"
        ),
    )
    _meta_only(
        wh,
        "r5",
        "published",
        _fetch("r5", 1, U_PS, at=T0 + timedelta(hours=4), etag='"ps5"', sha=c),
    )
    _meta_only(
        wh,
        "r6",
        "published",
        _fetch("r6", 1, U_PS, at=T0 + timedelta(hours=5), sha=c, error="body larger than the cap"),
    )
    # Another source's download of an IPC URL is not ours.
    _meta_only(
        wh,
        "r7",
        "published",
        _fetch(
            "r7", 1, U_ANALYSES, at=T0 + timedelta(hours=6), source="ipc_hdx", etag='"x"', sha=d
        ),
        source="ipc_hdx",
    )

    got = warehouse.validators(wh, ["ipc_api"])["ipc_api"]
    assert set(got) == {U_ANALYSES, U_AF, U_PS}
    assert (got[U_ANALYSES].etag, got[U_ANALYSES].sha256) == ('"a1"', a)
    assert (got[U_AF].etag, got[U_AF].sha256) == ('"af3"', a)
    assert (got[U_PS].etag, got[U_PS].sha256) == ('"ps5"', c)
    assert got[U_PS].raw_path == f"/data/raw/sha256/cc/{c}"
    assert set(warehouse.validators(wh, ["ipc_hdx"])["ipc_hdx"]) == {U_ANALYSES}


def test_validators_ignore_skipped_runs(wh):
    """A skipped run (no key) contributes nothing, even if fetch rows were written for it."""
    _meta_only(wh, "r1", "skipped", _fetch("r1", 1, U_ANALYSES, etag='"a1"'))
    assert warehouse.validators(wh, ["ipc_api"])["ipc_api"] == {}


def test_validators_of_an_older_layout_are_none_until_prepared(wh):
    """Validators are read before prepare: a fetches table without a column they read gives
    no conditional requests (a full download), not an error; once prepared, they are found."""
    sha = "a" * 64
    _meta_only(wh, "r1", "published", _fetch("r1", 1, U_AF, etag='"af1"', sha=sha))
    with warehouse.connect(wh) as con:
        con.execute("alter table fetches drop column version")
        con.execute("comment on table figures_stored is 'layout sha256 of an older version'")
    assert warehouse.validators(wh, ["ipc_api"]) == {"ipc_api": {}}
    warehouse.prepare(wh)
    assert warehouse.validators(wh, ["ipc_api"])["ipc_api"][U_AF].sha256 == sha
