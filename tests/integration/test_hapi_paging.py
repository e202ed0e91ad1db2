"""HDX HAPI through the real pipeline against a loopback HTTP server: offset paging to
exhaustion, the app identifier (a canary) sent on every request and written nowhere, request
pacing, clear failures on 4xx, a server that ignores offset, the CLI's --hapi-app/--hapi-email,
and the bundled demo snapshot replayed into a real warehouse."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.connectors import hapi
from aggregator.http import Fetcher, make_client
from aggregator.pipeline import refresh
from aggregator.raw import RawStore
from aggregator.sources import SOURCES, RefreshOptions
from tests.conftest import DEMO

from .loopback import Loopback, Reply, Seen

CANARY = base64.b64encode(b"canary-app-9c1e:canary-9c1e@example.org").decode()
FOOD = "/api/v2/food-security-nutrition-poverty/food-security"
FUNDING = "/api/v2/coordination-context/funding"
NEEDS = "/api/v2/affected-people/humanitarian-needs"
_SCRIPT = Path(sys.executable).with_name("aggregator")
AGGREGATOR = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "aggregator.cli"]


def _food_row(phase: str, number: int, fraction: float) -> dict:
    """A national row of the Gaza Strip June 2024 analysis (current period), as HAPI serves it."""
    return {
        "location_code": "PSE",
        "location_name": "State of Palestine",
        "admin1_code": None,
        "admin1_name": None,
        "admin2_code": None,
        "admin2_name": None,
        "admin_level": 0,
        "resource_hdx_id": "913bd6ac-cdbc-4875-9b74-4ee1eaba000a",
        "ipc_phase": phase,
        "ipc_type": "current",
        "population_in_phase": number,
        "population_fraction_in_phase": fraction,
        "reference_period_start": "2024-05-01T00:00:00",
        "reference_period_end": "2024-06-30T00:00:00",
    }


FOOD_ROWS = [
    _food_row("all", 2251457, 1.0),
    _food_row("3+", 2133884, 0.95),
    _food_row("3", 1148301, 0.51),
    _food_row("4", 642864, 0.29),
    _food_row("5", 342719, 0.15),
]
FUNDING_ROWS = [
    {
        "resource_hdx_id": "00000000-0000-4000-8000-0000000f7520",
        "appeal_code": "HPSE20",
        "appeal_name": "occupied Palestinian territory 2020 (part of 2018-2020 HRP)",
        "appeal_type": "Humanitarian response plan",
        "requirements_usd": 420381684,
        "funding_usd": 295077912,
        "funding_pct": 70,
        "location_code": "PSE",
        "location_name": "State of Palestine",
        "reference_period_start": "2020-01-01T00:00:00",
        "reference_period_end": "2020-12-31T00:00:00",
    }
]
NEEDS_ROWS = [
    {
        **{k: v for k, v in _food_row("all", 0, 0).items() if not k.startswith(("ipc", "pop"))},
        "resource_hdx_id": "00000000-0000-4000-8000-00000000a024",
        "sector_code": "Intersectoral",
        "sector_name": "Intersectoral",
        "category": "",
        "population_status": "INN",
        "population": 3100000,
        "reference_period_start": "2024-01-01T00:00:00",
        "reference_period_end": "2024-12-31T00:00:00",
    }
]
TABLE_ROWS = {FOOD: FOOD_ROWS, FUNDING: FUNDING_ROWS, NEEDS: NEEDS_ROWS}


class Hapi:
    """HAPI's three endpoints, paging with limit/offset as HAPI does; 403 without the canary."""

    def __init__(self, ignore_offset: bool = False):
        self.ignore_offset = ignore_offset

    def __call__(self, seen: Seen) -> Reply:
        if seen.path not in TABLE_ROWS:
            return Reply(404, b'{"detail":"Not Found"}', {"Content-Type": "application/json"})
        if seen.query.get("app_identifier") != [CANARY]:
            return Reply(403, b'{"detail":"Missing app identifier"}')
        limit = int(seen.query["limit"][0])
        offset = 0 if self.ignore_offset else int(seen.query["offset"][0])
        rows = [
            r
            for r in TABLE_ROWS[seen.path]
            if r["location_code"] == seen.query.get("location_code", ["PSE"])[0]
        ]
        body = json.dumps({"data": rows[offset : offset + limit]}).encode()
        return Reply(200, body, {"Content-Type": "application/json"})


@pytest.fixture
def hapi_env(env: Path, loopback: Loopback, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HAPI_URL", loopback.url)
    monkeypatch.setenv("HDX_HAPI_APP_IDENTIFIER", CANARY)
    monkeypatch.setenv("AGGREGATOR_HAPI_PAGE_SIZE", "2")
    monkeypatch.setenv("AGGREGATOR_HAPI_PAUSE", "0")
    return env


def _run(record: Path | None = None):
    settings = load_settings()
    options = RefreshOptions(settings=settings, countries=["PS"])
    [result] = refresh([SOURCES["hapi"]], options, record=record)
    return settings, result


def _text_in_warehouse(path: Path, needle: str) -> list[str]:
    """Every table.column of the warehouse whose text contains ``needle``."""
    hits = []
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "select table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in columns:
            found = con.execute(
                f'select count(*) from "{table}" where contains("{column}", ?)', [needle]
            ).fetchone()[0]
            if found:
                hits.append(f"{table}.{column}")
    return hits


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_offset_paging_to_exhaustion_with_identifier_on_every_request(
    hapi_env: Path, loopback: Loopback
) -> None:
    """limit=2: food security takes offsets 0, 2, 4 (2+2+1 rows); every request carries the
    app identifier, location_code=PSE and output_format=json; every row keeps its resource."""
    loopback.app = Hapi()
    settings, result = _run()
    assert result.outcome == "published", result.message
    food = loopback.seen(FOOD)
    assert [(s.query["offset"], s.query["limit"]) for s in food] == [
        (["0"], ["2"]),
        (["2"], ["2"]),
        (["4"], ["2"]),
    ]
    # One row on the funding and needs endpoints: one short page each.
    assert [s.query["offset"] for s in loopback.seen(FUNDING)] == [["0"]]
    assert [s.query["offset"] for s in loopback.seen(NEEDS)] == [["0"]]
    for seen in loopback.seen():
        assert seen.query["app_identifier"] == [CANARY]
        assert seen.query["location_code"] == ["PSE"]
        assert seen.query["output_format"] == ["json"]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        rows = con.execute(
            "select ipc_phase, population_in_phase, resource_hdx_id, f.url from hapi_food_security "
            "join fetches f using (fetch_id) order by population_in_phase desc"
        ).fetchall()
        needs = con.execute("select population from humanitarian_needs").fetchall()
    assert [r[:2] for r in rows] == [
        ("all", 2251457),
        ("3+", 2133884),
        ("3", 1148301),
        ("4", 642864),
        ("5", 342719),
    ]
    assert {r[2] for r in rows} == {"913bd6ac-cdbc-4875-9b74-4ee1eaba000a"}
    assert {r[3].split("offset=")[1].split("&")[0] for r in rows} == {"0", "2", "4"}
    assert all("app_identifier=***" in r[3] for r in rows)
    assert needs == [(3100000,)]


def test_identifier_is_written_nowhere(hapi_env: Path, loopback: Loopback, tmp_path: Path) -> None:
    """The canary identifier is in no warehouse value, raw body, log, reject or recording."""
    loopback.app = Hapi()
    recording = tmp_path / "recording"
    settings, result = _run(record=recording)
    assert result.outcome == "published", result.message
    assert _text_in_warehouse(settings.warehouse, CANARY) == []
    needle = CANARY.encode()
    assert _files_containing(settings.data_dir, needle) == []
    assert _files_containing(recording, needle) == []
    names = [p.name for p in recording.rglob("*.body")]
    assert len(names) == 5 and not any("app_identifier" in n for n in names)


def test_recording_replays_without_the_identifier(
    hapi_env: Path, loopback: Loopback, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recording made with the identifier replays with none set, to the same rows."""
    loopback.app = Hapi()
    recording = tmp_path / "recording"
    _run(record=recording)
    monkeypatch.delenv("HDX_HAPI_APP_IDENTIFIER")
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(tmp_path / "replayed"))
    settings = load_settings()
    [result] = refresh(
        [SOURCES["hapi"]], RefreshOptions(settings=settings, countries=["PS"]), replay=recording
    )
    assert (result.outcome, result.rows) == ("published", 5 + 1 + 1)


@pytest.mark.parametrize("status", [400, 403])
def test_4xx_fails_the_source_clearly(
    hapi_env: Path, loopback: Loopback, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    """A 4xx fails the source at once (no retries) with the status, the redacted URL and how to
    get an identifier; the identifier itself is not in the message."""
    loopback.app = lambda seen: Reply(status, b'{"detail":"Missing app identifier"}')
    settings, result = _run()
    assert result.outcome == "failed"
    assert f"HTTP {status}" in result.message
    assert "app_identifier=***" in result.message
    assert "hapi.humdata.org/docs" in result.message and "--hapi-app" in result.message
    assert CANARY not in result.message
    assert len(loopback.seen()) == 1  # a 4xx is not retried
    assert _text_in_warehouse(settings.warehouse, CANARY) == []


def test_server_ignoring_offset_stops_with_a_parse_error(
    hapi_env: Path, loopback: Loopback
) -> None:
    """A server that answers every offset with the first page cannot loop the client forever."""
    loopback.app = Hapi(ignore_offset=True)
    _, result = _run()
    assert result.outcome == "failed"
    assert "offset 2 returned the same page as offset 0" in result.message
    assert len(loopback.seen(FOOD)) == 2


def test_requests_are_paced(env: Path, loopback: Loopback) -> None:
    """With a pause of 0.2 s, successive requests go out 0.2 s apart (not back to back)."""
    loopback.app = Hapi()
    settings = load_settings()
    with make_client(settings.http) as client:
        fetcher = Fetcher(
            client,
            source="hapi",
            run_id="t",
            raw=RawStore(settings.raw_dir),
            settings=settings.http,
        )
        tables = hapi.extract(fetcher, loopback.url, CANARY, ["PS"], limit=2, pause=0.2)
    assert len(tables["hapi_food_security"]) == 5
    arrivals = [s.at for s in loopback.seen()]
    assert len(arrivals) == 5
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    # Spacing is kept between sends; arrivals jitter by the connection set-up of the first.
    assert min(gaps) >= 0.15 and arrivals[-1] - arrivals[0] >= 0.75, gaps


def test_cli_encodes_identifier_from_app_and_email(hapi_env: Path, loopback: Loopback) -> None:
    """`refresh --hapi-app --hapi-email` sends base64("app:email") and prints neither it nor the
    email; the environment's identifier is not needed."""
    app_name, email = "canary-app-9c1e", "canary-9c1e@example.org"
    loopback.app = Hapi()
    env = {k: v for k, v in os.environ.items() if k != "HDX_HAPI_APP_IDENTIFIER"}
    done = subprocess.run(
        [*AGGREGATOR, "refresh", "--source", "hapi", "--country", "PS"]
        + ["--hapi-app", app_name, "--hapi-email", email],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert {s.query["app_identifier"][0] for s in loopback.seen()} == {CANARY}
    for text in (done.stdout, done.stderr):
        assert CANARY not in text and email not in text
    data = Path(env["AGGREGATOR_DATA_DIR"])
    assert _files_containing(data, CANARY.encode()) == []
    assert _files_containing(data, email.encode()) == []


def test_cli_refuses_app_without_email(hapi_env: Path) -> None:
    """--hapi-app alone is a usage error (exit 2) naming both options."""
    done = subprocess.run(
        [*AGGREGATOR, "refresh", "--source", "hapi", "--hapi-app", "canary-app-9c1e"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "--hapi-app and --hapi-email go together" in done.stderr


def test_demo_snapshot_loads_gaza_figures(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bundled demo replays (no identifier needed) into all three HAPI tables."""
    monkeypatch.setenv("AGGREGATOR_HAPI_PAUSE", "0")
    monkeypatch.delenv("HDX_HAPI_APP_IDENTIFIER", raising=False)
    settings = load_settings()
    [result] = refresh([SOURCES["hapi"]], RefreshOptions(settings=settings), replay=DEMO)
    assert result.outcome == "published", result.message
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        food = con.execute(
            "select ipc_type, population_in_phase, population_fraction_in_phase "
            "from hapi_food_security where ipc_phase = '3+' order by reference_period_start"
        ).fetchall()
        funding = con.execute(
            "select appeal_code, requirements_usd, funding_usd from hapi_funding order by 1"
        ).fetchall()
        needs = con.execute(
            "select population_status, population from humanitarian_needs"
        ).fetchall()
    assert food == [("current", 2133884, 0.95), ("first projection", 2153884, 0.96)]
    assert funding == [("HPSE20", 420381684.0, 295077912.0), ("Not specified", None, 86430267.0)]
    assert needs == [("INN", 3100000)]
