"""The real `aggregator` command in a subprocess against a loopback IPC API that serves the
recorded real responses: publishing, conditional GET, failures that keep the last good
state, validation rejects, the refresh lock, replay, usage errors, and the key (a canary)
never written or printed anywhere."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.warehouse import refresh_lock

from .loopback import Loopback, Reply, Seen

CANARY = "CANARY-KEY-7f3a9"
_SCRIPT = Path(sys.executable).with_name("aggregator")
AGGREGATOR = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "aggregator.cli"]
PHASE_PREFIXES = (
    "estimated_population",
    "p3plus",
    "phase1_population",
    "phase2_population",
    "phase3_population",
    "phase4_population",
    "phase5_population",
)
PERIOD_SUFFIXES = {
    "current_period_dates": "",
    "projected_period_dates": "_projected",
    "second_projected_period_dates": "_second_projected",
}


class IpcApi:
    """The two IPC API endpoints the connector uses, serving recorded real bodies.

    Every request must carry ``key=CANARY`` (401 otherwise, as the real API does without a
    valid key). ``etags`` turns on ETag/If-None-Match; ``population_reply`` replaces the
    /population answer (a fault) and ``population`` the bodies per country.
    """

    def __init__(self, recorded: Path):
        folder = recorded / "ipc-api"
        self.analyses = (folder / "analyses-type-a.json").read_bytes()
        self.population = {"CF": (folder / "population-country-cf.json").read_bytes()}
        self.etags = False
        self.population_reply: Reply | None = None

    def __call__(self, seen: Seen) -> Reply:
        if seen.query.get("key") != [CANARY]:
            return Reply(
                401, b'{"detail": "invalid or missing key"}', {"Content-Type": "application/json"}
            )
        if seen.path == "/analyses" and seen.query.get("type") == ["A"]:
            return self._ok(seen, self.analyses)
        country = (seen.query.get("country") or [""])[0]
        if seen.path == "/population" and country in self.population:
            return self.population_reply or self._ok(seen, self.population[country])
        return Reply(404, b'{"detail": "not found"}', {"Content-Type": "application/json"})

    def _ok(self, seen: Seen, body: bytes) -> Reply:
        headers = {"Content-Type": "application/json"}
        if self.etags:
            etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
            headers["ETag"] = etag
            if seen.headers.get("if-none-match") == etag:
                return Reply(304, b"", {"ETag": etag})
        return Reply(200, body, headers)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Cli:
    """Runs `aggregator ...` in a subprocess with cwd=tmp_path; keeps every byte it printed."""

    cwd: Path
    env: dict[str, str]
    data: Path
    printed: list[bytes] = field(default_factory=list)

    def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        full_env = dict(self.env)
        for name, value in (env or {}).items():
            if value is None:
                full_env.pop(name, None)
            else:
                full_env[name] = value
        started = time.monotonic()
        proc = subprocess.run(
            [*AGGREGATOR, *args], cwd=self.cwd, env=full_env, capture_output=True, timeout=90
        )
        self.printed += [proc.stdout, proc.stderr]
        return Result(
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
            time.monotonic() - started,
        )

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    def query(self, sql: str) -> list[tuple]:
        """Reads the warehouse directly (read-only), between runs."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(sql).fetchall()

    def sql_csv(self, sql: str) -> list[dict[str, str]]:
        """Reads the warehouse through `aggregator sql --format csv`."""
        result = self("sql", sql, "--format", "csv")
        assert result.returncode == 0, result.output
        return list(csv.DictReader(io.StringIO(result.stdout)))

    def facts(self) -> dict[str, list[tuple]]:
        """Every fact row, ordered: equal snapshots mean the tables are unchanged."""
        return {
            t: self.query(f"select * from {t} order by all") for t in ("ipc_analyses", "ipc_phases")
        }

    def runs(self) -> list[tuple]:
        return self.query("select run_id, outcome, message from runs order by started_at, run_id")


@pytest.fixture
def ipc_api(recorded: Path, loopback: Loopback) -> IpcApi:
    api = IpcApi(recorded)
    loopback.app = api
    return api


@pytest.fixture
def cli(env: Path, tmp_path: Path, loopback: Loopback) -> Iterator[Cli]:
    """The CLI with a loopback IPC_API_URL and the canary key; at teardown, checks that
    nothing it printed in this test holds the key."""
    run_env = {k: v for k, v in os.environ.items() if not k.startswith(("IPC_", "AGGREGATOR_"))}
    run_env.update(
        {
            "AGGREGATOR_DATA_DIR": str(env),
            "AGGREGATOR_HTTP_BACKOFF": os.environ["AGGREGATOR_HTTP_BACKOFF"],
            "AGGREGATOR_HTTP_ATTEMPTS": os.environ["AGGREGATOR_HTTP_ATTEMPTS"],
            "AGGREGATOR_HTTP_TIMEOUT": os.environ["AGGREGATOR_HTTP_TIMEOUT"],
            "IPC_API_URL": loopback.url,
            "IPC_API_KEY": CANARY,
            "COLUMNS": "400",  # rich and typer: no wrapping of messages in tables and help
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    runner = Cli(cwd=tmp_path, env=run_env, data=env)
    yield runner
    assert [out for out in runner.printed if CANARY.encode() in out] == []


def expected_cf_phase_rows(recorded: Path) -> int:
    """Figures in the recorded CF answer, counted straight from the JSON: every non-null phase
    population of every unit (national, group, area) for every period that has dates, in
    analyses that /analyses?type=A lists as acute."""
    folder = recorded / "ipc-api"
    listed = json.loads((folder / "analyses-type-a.json").read_text())
    acute = {str(a["id"]) for a in listed if a.get("condition", "A") == "A"}
    count = 0
    for analysis in json.loads((folder / "population-country-cf.json").read_text()):
        if str(analysis["id"]) not in acute:
            continue
        units = [analysis, *(analysis.get("areas") or [])]
        for group in analysis.get("groups") or []:
            units += [group, *(group.get("areas") or [])]
        for dates, suffix in PERIOD_SUFFIXES.items():
            if not (analysis.get(dates) or "").strip():
                continue
            count += sum(
                unit.get(prefix + suffix) is not None for unit in units for prefix in PHASE_PREFIXES
            )
    return count


def refresh_ok(cli: Cli) -> Result:
    result = cli("refresh", "--source", "ipc", "--country", "CF")
    assert result.returncode == 0, result.output
    return result


def test_refresh_publishes_recorded_cf(
    cli: Cli, ipc_api: IpcApi, loopback: Loopback, recorded: Path
) -> None:
    """A live CF refresh sends ?key= and publishes exactly the figures of the recorded answer."""
    result = refresh_ok(cli)
    assert "published" in result.stdout
    seen = loopback.seen()
    assert [s.path for s in seen] == ["/analyses", "/population"]
    assert all(s.query["key"] == [CANARY] for s in seen)
    assert seen[1].query["country"] == ["CF"]

    expected = expected_cf_phase_rows(recorded)
    assert expected > 1000  # sanity: the recorded answer is the full CF history
    [row] = cli.sql_csv("select count(*) as n from ipc_phases where country_iso3 = 'CAF'")
    assert int(row["n"]) == expected
    [spot] = cli.sql_csv(
        """select p.population from ipc_phases p join ipc_analyses a using (source, analysis_id)
           where a.country_iso3 = 'CAF' and a.analysis_date = date '2023-04-01'
             and p.level = 'national' and p.period = 'current' and p.phase = '3+'"""
    )
    assert int(spot["population"]) == 2_388_086
    assert cli.query("select count(*) from ipc_analyses where country_iso2 = 'CF'") == [(12,)]


def _files_with(root: Path, needle: bytes) -> list[Path]:
    return [p for p in sorted(root.rglob("*")) if p.is_file() and needle in p.read_bytes()]


def test_key_never_written_or_printed(
    cli: Cli, ipc_api: IpcApi, loopback: Loopback, recorded: Path
) -> None:
    """After good, 304, failed and rejected refreshes the key is in no file, output or URL."""
    ipc_api.etags = True
    recording = cli.cwd / "recording"
    result = cli("refresh", "--source", "ipc", "--country", "CF", "--record", str(recording))
    assert result.returncode == 0, result.output  # published, every response also recorded
    assert sorted(p.name for p in recording.rglob("*.body")) == [
        "analyses@type=A.body",
        "population@country=CF.body",
    ]
    refresh_ok(cli)  # not modified
    ipc_api.population_reply = Reply(500, b"upstream failure")
    assert cli("refresh", "--source", "ipc", "--country", "CF").returncode == 1  # fetch failed
    body = json.loads(ipc_api.population["CF"])
    body[0]["phase3_population"] = -1
    ipc_api.population_reply = None
    ipc_api.population["CF"] = json.dumps(body).encode()
    assert cli("refresh", "--source", "ipc", "--country", "CF").returncode == 1  # rejected
    assert cli("status").returncode == 0
    urls = cli.sql_csv("select distinct url from fetches order by url")

    assert loopback.seen() and all(s.query["key"] == [CANARY] for s in loopback.seen())
    assert {u["url"] for u in urls} == {
        f"{loopback.url}/analyses?type=A&key=***",
        f"{loopback.url}/population?country=CF&key=***",
    }
    outcomes = [outcome for _, outcome, _ in cli.runs()]
    assert outcomes == ["published", "not_modified", "failed", "failed"]
    written = [p for p in cli.cwd.rglob("*") if p.is_file()]
    assert cli.warehouse in written and any("sha256" in p.parts for p in written)
    assert any(p.name.endswith(".meta.json") for p in written)
    assert any(p.suffix == ".csv" for p in written) and any(p.suffix == ".log" for p in written)
    assert _files_with(cli.cwd, CANARY.encode()) == []
    assert [out for out in cli.printed if CANARY.encode() in out] == []


def test_second_refresh_is_not_modified(cli: Cli, ipc_api: IpcApi, loopback: Loopback) -> None:
    """A refresh against an unchanged server sends If-None-Match, gets 304s, changes nothing."""
    ipc_api.etags = True
    refresh_ok(cli)
    before = cli.facts()
    first_requests = len(loopback.seen())
    result = refresh_ok(cli)
    assert "not_modified" in result.stdout
    second = loopback.seen()[first_requests:]
    assert [s.path for s in second] == ["/analyses", "/population"]
    assert all(s.headers.get("if-none-match") for s in second)
    assert cli.facts() == before
    (_, first_outcome, _), (run_id, outcome, _) = cli.runs()
    assert (first_outcome, outcome) == ("published", "not_modified")
    fetches = cli.query(f"select not_modified, status from fetches where run_id = '{run_id}'")
    assert fetches == [(True, 304), (True, 304)]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (
            Reply(200, b'[{"id": "56657074", "country": ', {"Content-Type": "application/json"}),
            "invalid JSON",
        ),
        (Reply(500, b"internal server error"), "HTTP 500"),
    ],
    ids=["invalid-json", "http-500"],
)
def test_failed_refresh_keeps_last_good_state(
    cli: Cli, ipc_api: IpcApi, loopback: Loopback, fault: Reply, reason: str
) -> None:
    """A refresh whose /population breaks exits 1, says why, and leaves published tables alone."""
    refresh_ok(cli)
    before = cli.facts()
    ipc_api.population_reply = fault
    result = cli("refresh", "--source", "ipc", "--country", "CF")
    assert result.returncode == 1, result.output
    assert "ipc_api" in result.output and reason in result.output
    assert "failed" in result.stdout
    assert cli.facts() == before
    (_, first, _), (_, outcome, message) = cli.runs()
    assert (first, outcome) == ("published", "failed")
    assert reason in message and "/population?country=CF" in message


def test_failure_line_states_attempts_once(cli: Cli, ipc_api: IpcApi) -> None:
    """The stderr line of a download that failed after retries states the attempt count once."""
    ipc_api.population_reply = Reply(500, b"internal server error")
    result = cli("refresh", "--source", "ipc", "--country", "CF")
    assert result.returncode == 1, result.output
    progress = [x for x in result.stderr.splitlines() if not x.startswith("error: ")]
    [line] = [x for x in progress if "/population" in x]
    assert line.endswith("failed: HTTP 500 after 4 attempts"), line
    # The closing error line names the source and repeats the reason, unwrapped.
    assert "error: ipc_api failed: " in result.stderr and result.stderr.count("4 attempts") == 2


def test_validation_failure_writes_rejects_and_publishes_nothing(
    cli: Cli, ipc_api: IpcApi, loopback: Loopback
) -> None:
    """A negative population blocks the source; rejects/<run>/ names check, column and value."""
    refresh_ok(cli)
    before = cli.facts()
    body = json.loads(ipc_api.population["CF"])
    assert body[0]["id"] == "56657074" and body[0]["phase3_population"] > 0
    body[0]["phase3_population"] = -4242
    ipc_api.population["CF"] = json.dumps(body).encode()

    result = cli("refresh", "--source", "ipc", "--country", "CF")
    assert result.returncode == 1, result.output
    assert cli.facts() == before
    (_, _, _), (run_id, outcome, message) = cli.runs()
    assert outcome == "failed" and "ipc_phases" in message
    rejects_file = cli.data / "rejects" / run_id / "ipc_api.ipc_phases.csv"
    assert rejects_file.is_file(), sorted(p.name for p in (cli.data / "rejects").rglob("*"))
    with rejects_file.open(newline="") as handle:
        errors = [r for r in csv.DictReader(handle) if r["severity"] == "error"]
    # As every CSV the tool writes: text a spreadsheet could run gets an apostrophe.
    assert [(r["check_name"], r["column_name"], r["value"]) for r in errors] == [
        ("greater_than_or_equal_to(0)", "population", "'-4242")
    ]
    assert "analysis_id=56657074" in errors[0]["row_key"] and "phase=3" in errors[0]["row_key"]
    stored = cli.query(
        "select check_name, column_name, value from rejects"
        f" where run_id = '{run_id}' and severity = 'error'"
    )
    assert stored == [("greater_than_or_equal_to(0)", "population", "-4242")]


def test_recording_survives_a_second_record_run(
    cli: Cli, ipc_api: IpcApi, loopback: Loopback, tmp_path: Path
) -> None:
    """A second --record refresh asks for full bodies (no 304), so the recording still replays."""
    ipc_api.etags = True
    recording = tmp_path / "recording"
    for _ in range(2):
        result = cli("refresh", "--source", "ipc", "--country", "CF", "--record", str(recording))
        assert result.returncode == 0, result.output
    # Full bodies both times; the second brings the same bytes, so nothing is republished.
    assert [outcome for _, outcome, _ in cli.runs()] == ["published", "not_modified"]
    assert not any("if-none-match" in r.headers for r in loopback.seen()), (
        "recording mode must not send conditional requests"
    )
    fresh = tmp_path / "fresh-data"
    replayed = cli(
        "refresh",
        "--source",
        "ipc",
        "--country",
        "CF",
        "--replay",
        str(recording),
        env={"AGGREGATOR_DATA_DIR": str(fresh)},
    )
    assert replayed.returncode == 0, replayed.output
    assert "published" in replayed.stdout


def test_refresh_refused_while_lock_held(cli: Cli, ipc_api: IpcApi, loopback: Loopback) -> None:
    """A refresh while another holds the lock fails at once, naming the holder's pid, no request."""
    warehouse = load_settings().warehouse
    assert warehouse == cli.warehouse
    with refresh_lock(warehouse):
        result = cli("refresh", "--source", "ipc", "--country", "CF")
    assert result.returncode != 0
    assert f"pid {os.getpid()}" in result.stderr
    assert loopback.seen() == []
    assert result.seconds < 20  # it did not wait for the lock


def test_replay_missing_names_url_and_body_path(
    cli: Cli, loopback: Loopback, tmp_path: Path
) -> None:
    """Replay without the recording fails naming the request URL and the .body path looked for."""
    empty = tmp_path / "empty-replay"
    empty.mkdir()
    result = cli("refresh", "--source", "ipc_api", "--replay", str(empty))
    assert result.returncode == 1, result.output
    looked_for = empty / "127.0.0.1" / "analyses@type=A.body"
    assert f"GET {loopback.url}/analyses?type=A&key=***" in result.stderr
    assert str(looked_for) in result.stderr
    assert loopback.seen() == []  # replay never touches the network
    [(_, outcome, message)] = cli.runs()
    assert outcome == "failed" and str(looked_for) in message


def test_unknown_source_is_a_usage_error(cli: Cli) -> None:
    """`--source nosuch` exits 2 and lists the sources that exist."""
    result = cli("refresh", "--source", "nosuch")
    assert result.returncode == 2, result.output
    assert "nosuch" in result.stderr
    assert (
        "known: casualties, claims, fts, hapi, ipc, ipc_api, ipc_hdx, reference, unrwa_trucks"
        in result.stderr
    )
    assert not cli.warehouse.exists()


@pytest.mark.parametrize("command", ["", "refresh", "sql", "status", "schema"])
def test_help_describes_each_command(cli: Cli, command: str) -> None:
    """--help of the program and of every command exits 0 and shows the command's description."""
    from aggregator import cli as module

    result = cli(*([command] if command else []), "--help")
    assert result.returncode == 0, result.output
    assert "Usage:" in result.stdout
    described = module.app.info.help if not command else getattr(module, command).__doc__
    first_line = described.strip().splitlines()[0].strip()
    assert " ".join(first_line.split()[:8]) in " ".join(result.stdout.split())


def test_refresh_without_key_skips_ipc_api(cli: Cli, loopback: Loopback) -> None:
    """Without IPC_API_KEY a named ipc_api is skipped with a hint on getting a key, and exits 1."""
    named = cli("refresh", "--source", "ipc_api", env={"IPC_API_KEY": None})
    assert named.returncode == 1, named.output
    assert "skipped" in named.stdout and "IPC_API_KEY" in named.stdout
    assert loopback.seen() == []
    [(_, outcome, message)] = cli.runs()
    assert outcome == "skipped"
    assert "IPC_API_KEY" in message and "ipcinfo.org" in message
