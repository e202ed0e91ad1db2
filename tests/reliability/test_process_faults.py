"""Process faults: a refresh killed at any moment, a data directory it cannot write, two
refreshes at once, and readers during a refresh.

Every refresh here is a real `aggregator refresh` subprocess talking to the loopback server
that plays all the services (tests/integration/services.py) inside the test process. The
last good state is a warehouse refreshed from the demo snapshot; the refreshes under test are
served a revision of it (valid new data: a changed casualties count, an analysis title, a
flow amount, an appeal requirement, new versions of IPC's HDX files) and pull four sources
(``REFRESHED``), so that for each of them the last good state and the new state differ and a
half-published source shows.

What a warehouse must hold after any fault, checked per source in one read transaction
(``check_state``): the fact rows of the source are exactly the last good ones or exactly the
new ones; every fact row cites a download of a run that published that source; the newest
publishing run's row count equals the rows that cite it; and a run's `runs` rows and its
`fetches` name the same sources.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from tests.conftest import DEMO, ROOT
from tests.integration.services import SOURCE_HOSTS, Services, serve_all

from .observe import (
    FACT_TABLES,
    HAPI_CANARY,
    IPC_CANARY,
    fact_columns,
    fact_rows,
    rows_lost,
)

AGGREGATOR = ROOT / ".venv" / "bin" / "aggregator"
TRACEBACK = "Traceback (most recent call last)"
SEED = 20240322
RANDOM_KILLS = 16  # at seeded random moments, one in each 16th of a refresh's length
# The sources each refresh under test pulls: every kind of service (JSON API, paged API,
# HDX catalogue and CSVs) in a refresh short enough to kill and restart two dozen times.
REFRESHED = ("casualties", "fts", "ipc_api", "ipc_hdx")
REFRESH = ("refresh", *(f"--source={s}" for s in REFRESHED))
SLOW_HOST = "data.humdata.org"  # ipc_hdx: still downloading while the others publish
SLOW_SECONDS = 0.15  # each answer of the slow host waits this long
HANG = 120  # seconds after which a subprocess counts as hung

# Valid new data for the REFRESHED sources, as (file of the demo snapshot, old text, new text).
REVISION = [
    (
        "data.techforpalestine.org/api/v2/casualties_daily.json",
        '"killed":43,"killed_cum":37877,"ext_killed":43,"ext_killed_cum":37877',
        '"killed":48,"killed_cum":37882,"ext_killed":48,"ext_killed_cum":37882',
    ),
    ("api.ipcinfo.org/analyses@type=A", "Insecurity June 2024", "Insecurity June 2024 (rev.)"),
    (
        "api.ipcinfo.org/population@country=PS",
        "Insecurity June 2024",
        "Insecurity June 2024 (rev.)",
    ),
    (
        "api.hpc.tools/v1/public/fts/flow@countryISO3=PSE&year=2020",
        '"amountUSD": 28068393',
        '"amountUSD": 28068400',
    ),
    (
        "api.hpc.tools/v2/fts/flow/plan/overview/progress/2024",
        '"revisedRequirements": 3422855934',
        '"revisedRequirements": 3422856000',
    ),
    *(
        (
            "data.humdata.org/api/3/action/package_show@id=global-acute-food-insecurity-country-data",
            f'"last_modified": "2025-03-04T08:17:{stamp}"',
            f'"last_modified": "2025-04-01T08:17:{stamp}"',
        )
        for stamp in ("47.571572", "47.891352", "48.545126")
    ),
    (
        "data.humdata.org/dataset/7a7e7428-b8d7-4d2e-91d3-19100500e016/resource/"
        "23d51849-5926-422c-a58a-f9bd68088f20/download/ipc_global_national_long.csv",
        "Mar 2024,PSE,2227000,",
        "Mar 2024,PSE,2227100,",
    ),
]


# --- subprocesses ------------------------------------------------------------------------


def cli_env(data: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AGGREGATOR_DATA_DIR": str(data),
        "IPC_API_KEY": IPC_CANARY,
        "HDX_HAPI_APP_IDENTIFIER": HAPI_CANARY,
    }


def aggregator(
    data: Path, *args: str, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(AGGREGATOR), *args],
        env=cli_env(data),
        capture_output=True,
        text=True,
        timeout=HANG,
        preexec_fn=preexec_fn,
    )
    assert TRACEBACK not in done.stderr, done.stderr[-3000:]
    return done


def start_refresh(data: Path, log: Path) -> subprocess.Popen:
    with open(log.with_suffix(".out"), "w") as out, open(log.with_suffix(".err"), "w") as err:
        return subprocess.Popen(
            [str(AGGREGATOR), *REFRESH], env=cli_env(data), stdout=out, stderr=err
        )


def errors_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("error:")]


def tidy(line: str, data: Path) -> str:
    """A message as recorded: the data directory and the loopback's address shortened."""
    line = line.replace(str(data), "DATA")
    return re.sub(r"http://127\.0\.0\.1:\d+/|/tmp/\S*/", "…/", line)


# --- what a warehouse holds --------------------------------------------------------------

Facts = dict[str, dict[str, Counter]]  # source -> fact table -> rows (without provenance)


@dataclass
class State:
    facts: Facts
    runs: dict[tuple[str, str], tuple[str, int, object]]  # (run, source) -> outcome, rows, at
    fetches: dict[str, tuple[str, str]]  # fetch_id -> (run, source)
    cited: dict[str, Counter]  # source -> fetch ids its fact rows cite


def read_state(con: duckdb.DuckDBPyConnection) -> State:
    """Everything ``check_state`` needs, read in one transaction."""
    con.execute("begin transaction")
    try:
        facts: Facts = {}
        cited: dict[str, Counter] = {}
        for table in FACT_TABLES:
            listed = fact_columns(con, table)
            for source, fetch_id, *row in con.execute(
                f'select source, fetch_id, {listed} from "{table}"'
            ).fetchall():
                facts.setdefault(source, {}).setdefault(table, Counter())[tuple(row)] += 1
                cited.setdefault(source, Counter())[fetch_id] += 1
        runs = {
            (r[0], r[1]): (r[2], r[3], r[4])
            for r in con.execute(
                "select run_id, source, outcome, rows, finished_at from runs"
            ).fetchall()
        }
        fetches = {
            r[0]: (r[1], r[2])
            for r in con.execute("select fetch_id, run_id, source from fetches").fetchall()
        }
    finally:
        con.execute("commit")
    return State(facts, runs, fetches, cited)


def read_every_table(con: duckdb.DuckDBPyConnection) -> int:
    """A full read of every table and view; the number of rows read."""
    con.execute("pragma database_size").fetchall()
    names = [
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    ]
    return sum(len(con.execute(f'select * from "{name}"').fetchall()) for name in names)


def check_state(state: State, world: World) -> dict[str, str]:
    """Per source: 'old' (the last good rows), 'new' (the revision's) or 'same' (the two agree).

    Fails on a half-published source or provenance that does not match the fact rows.
    """
    problems: list[str] = []
    new_runs = {run for run, _ in state.runs} - world.base_runs
    published = {key for key, (outcome, _, _) in state.runs.items() if outcome == "published"}
    verdicts = {}
    for source in sorted(set(world.before) | set(world.after) | set(state.facts)):
        have = state.facts.get(source, {})
        old, new = world.before.get(source, {}), world.after.get(source, {})
        if have == old == new:
            verdicts[source] = "same"
        elif have == old:
            verdicts[source] = "old"
        elif have == new:
            verdicts[source] = "new"
        else:
            shape = {t: sum(c.values()) for t, c in have.items()}
            problems.append(
                f"{source} is half-published: rows per table {shape}, last good "
                f"{ {t: sum(c.values()) for t, c in old.items()} }, new "
                f"{ {t: sum(c.values()) for t, c in new.items()} }"
            )
        by_run: Counter = Counter()
        for fetch_id, n in state.cited.get(source, {}).items():
            run, fetched_for = state.fetches.get(fetch_id, (None, None))
            if run is None or fetched_for != source:
                problems.append(f"{source}: {n} rows cite {fetch_id}, not among its fetches")
            elif (run, source) not in published:
                problems.append(f"{source}: {n} rows come from run {run}, which did not publish")
            by_run[run] += n
        own = [(at, run, rows) for (run, s), (o, rows, at) in state.runs.items() if s == source]
        latest = max((x for x in own if (x[1], source) in published), default=None)
        if latest and by_run[latest[1]] != latest[2]:
            problems.append(
                f"{source}: run {latest[1]} says it published {latest[2]} rows, "
                f"{by_run[latest[1]]} rows cite it"
            )
        fresh = {run for run in new_runs if (run, source) in published}
        if verdicts.get(source) == "new" and not fresh:
            problems.append(f"{source}: new rows but no run row publishing them")
        if verdicts.get(source) == "old" and fresh:
            problems.append(f"{source}: run {fresh} says published, the rows are the old ones")
    for run in new_runs:
        in_runs = {s for r, s in state.runs if r == run}
        in_fetches = {s for r, s in state.fetches.values() if r == run}
        if in_fetches - in_runs:
            problems.append(f"run {run}: fetches of {in_fetches - in_runs} without a runs row")
    assert not problems, "\n".join(problems)
    return verdicts


def open_state(path: Path, world: World, *, read_only: bool) -> tuple[dict[str, str], int]:
    """Opens the warehouse, reads every table and checks the state; verdicts and rows read."""
    with duckdb.connect(str(path), read_only=read_only) as con:
        rows = read_every_table(con)
        return check_state(read_state(con), world), rows


# --- the module's world: services, last good state, the revision's state ------------------


def answer_normally(seen, normal) -> None:
    """A fault that is none. Faults are switched off this way, not removed: the server
    iterates over them while it answers, and a dict must not change size meanwhile."""


@dataclass
class World:
    played: Services
    base: Path  # data directory holding the last good state
    base_runs: set[str]
    before: Facts
    after: Facts
    last_good: dict[str, set[tuple]]  # fact rows of the last good state (for rows_lost)
    kept: dict[str, set[tuple]]  # those of them that the new state keeps
    duration: float  # seconds of an unkilled refresh of the revision with the slow host
    requests: Counter = field(default_factory=Counter)  # per host, in that refresh
    slow_arrivals: list[float] = field(default_factory=list)

    def slow_answers(self, seen, normal) -> None:
        self.slow_arrivals.append(time.monotonic())
        time.sleep(SLOW_SECONDS)

    @contextmanager
    def slow(self) -> Iterator[None]:
        self.slow_arrivals.clear()
        self.played.faults[SLOW_HOST] = self.slow_answers
        try:
            yield
        finally:
            self.played.faults[SLOW_HOST] = answer_normally

    def copy(self, target: Path) -> Path:
        shutil.copytree(self.base, target)
        return target


def write_revision(target: Path) -> Path:
    shutil.copytree(DEMO, target)
    for name, old, new in REVISION:
        body = target / f"{name}.body"
        text = body.read_text(encoding="utf-8")
        assert old in text, f"the demo snapshot changed: {old!r} not in {name}"
        body.write_text(text.replace(old, new), encoding="utf-8")
        meta = target / f"{name}.meta.json"
        if meta.is_file():  # a new version has a new ETag, or the services would answer 304
            meta.write_text(meta.read_text().replace('"etag": "\\"', '"etag": "\\"rev2-'))
    return target


def snapshot(path: Path) -> tuple[Facts, set[str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        state = read_state(con)
    return state.facts, {run for run, _ in state.runs}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("process")
    with pytest.MonkeyPatch.context() as mp, serve_all(root / "base", mp) as played:
        played.faults[SLOW_HOST] = answer_normally  # the key exists before any request
        base = root / "base"
        done = aggregator(base, "refresh")
        assert done.returncode == 0, done.stderr[-3000:]
        before, base_runs = snapshot(base / "warehouse.duckdb")
        played.snapshot = write_revision(root / "revision")
        measured = World(played, base, base_runs, before, {}, {}, {}, 0.0)
        target = measured.copy(root / "measure")
        played.loopback.requests.clear()
        with measured.slow():
            started = time.monotonic()
            done = aggregator(target, *REFRESH)
            measured.duration = time.monotonic() - started
        assert done.returncode == 0, done.stderr[-3000:]
        measured.requests = Counter(s.target.split("/")[1] for s in played.loopback.seen())
        measured.after, _ = snapshot(target / "warehouse.duckdb")
        for source in REFRESHED:  # else a half-published source could pass unseen
            assert measured.before[source] != measured.after[source], source
        old, new = fact_rows(base / "warehouse.duckdb"), fact_rows(target / "warehouse.duckdb")
        measured.last_good = old
        measured.kept = {t: rows & new.get(t, set()) for t, rows in old.items()}
        yield measured


# --- 1. SIGKILL at any point of a refresh -------------------------------------------------

Condition = Callable[[], bool]
Trigger = Callable[[float], Condition]  # from the start time to "kill now?"


def wait_for(proc: subprocess.Popen, condition: Condition) -> None:
    """Returns when ``condition`` holds or the process has ended; fails only on a hang."""
    deadline = time.monotonic() + HANG
    while proc.poll() is None and not condition():
        assert time.monotonic() < deadline, "the refresh hung"
        time.sleep(0.002)


def kill_plan(world: World, warehouse: Callable[[], Path]) -> list[tuple[str, Trigger]]:
    """Seeded moments, one in each slot of a refresh's length (measured again whenever a
    refresh ends before its moment), then kills tied to events so that a download, a parse,
    and a warehouse write under way are always among the moments hit."""
    rng = random.Random(SEED)

    def at(fraction: float) -> Trigger:
        return lambda started: lambda: time.monotonic() >= started + fraction * world.duration

    def after_slow_request(k: int, extra: float) -> Trigger:
        arrivals = world.slow_arrivals
        return lambda started: (
            lambda: len(arrivals) >= k and time.monotonic() >= arrivals[k - 1] + extra
        )

    def into_write(k: int, extra: float) -> Trigger:
        def trigger(started: float) -> Condition:
            wal = warehouse().with_name(warehouse().name + ".wal")
            seen = {"present": False, "count": 0, "at": 0.0}

            def condition() -> bool:
                present = wal.exists()
                if present and not seen["present"]:
                    seen["count"] += 1
                    seen["at"] = time.monotonic()
                seen["present"] = present
                return seen["count"] >= k and time.monotonic() >= seen["at"] + extra

            return condition

        return trigger

    plan = []
    for i in range(RANDOM_KILLS):
        fraction = rng.uniform(i, i + 1) / RANDOM_KILLS
        plan.append((f"at {fraction:.0%} of a refresh", at(fraction)))
    slow = world.requests[SLOW_HOST]
    for k, extra in ((1, rng.uniform(0, SLOW_SECONDS)), (slow, SLOW_SECONDS + rng.random() / 20)):
        plan.append(
            (f"{extra:.2f} s after slow request {k} of {slow}", after_slow_request(k, extra))
        )
    for k in (1, rng.randint(2, 1 + len(REFRESHED))):  # the prepare, then a publish
        extra = rng.random() / 500  # a publish holds the file for a few milliseconds
        plan.append((f"{extra:.3f} s into warehouse write {k}", into_write(k, extra)))
    return plan


@dataclass
class Kill:
    code: int
    verdicts: dict[str, str]  # per source, in the state the dead process left
    phases: set[str]
    holder: bool  # the lock file still names the dead process
    wal: bool  # it left a write-ahead log
    lost: int


def phases_at_kill(
    world: World, verdicts: dict[str, str], per_host: Counter, holder: bool, wal: bool
) -> set[str]:
    """Where the refresh was when it died, from what it left: lock, requests, rows, WAL."""
    published = sum(verdicts[s] == "new" for s in REFRESHED)
    phases = set()
    if not per_host and not published:
        phases.add("prepare" if holder or wal else "start-up")
    if any(0 < per_host[h] < n for h, n in world.requests.items()):
        phases.add("download")
    if any(
        per_host[host] >= world.requests[host] and verdicts[source] == "old"
        for source, host in SOURCE_HOSTS.items()
        if source in REFRESHED
    ):
        phases.add("parse/validate")
    if wal or 0 < published < len(REFRESHED):
        phases.add("publish")
    if published == len(REFRESHED):
        phases.add("after publish")
    return phases


def kill_refresh(world: World, data: Path, trigger: Trigger, probe: Path) -> Kill:
    """Runs a refresh into ``data``, SIGKILLs it when ``trigger`` says, and checks what it
    left on a copy (read-only, then read-write), so that ``data`` keeps the dead process's
    lock file and WAL for the next refresh to meet."""
    warehouse = data / "warehouse.duckdb"
    lock, wal = data / "warehouse.duckdb.lock", data / "warehouse.duckdb.wal"
    world.played.loopback.requests.clear()
    with world.slow():
        started = time.monotonic()
        proc = start_refresh(data, data / "refresh")
        wait_for(proc, trigger(started))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        code = proc.wait(timeout=HANG)
    err = (data / "refresh.err").read_text()
    assert TRACEBACK not in err, err[-3000:]
    if code != -signal.SIGKILL:  # it ended before the moment came
        assert code == 0, err[-3000:]
        world.duration = killed_at - started
    per_host = Counter(
        s.target.split("/")[1] for s in world.played.loopback.seen() if s.at < killed_at
    )
    holder = f"pid {proc.pid} " in lock.read_text()
    left_wal = wal.exists()
    shutil.rmtree(probe, ignore_errors=True)
    probe.mkdir()
    for path in (warehouse, wal):
        if path.exists():
            shutil.copy2(path, probe / path.name)
    verdicts, read = open_state(probe / warehouse.name, world, read_only=True)
    written, _ = open_state(probe / warehouse.name, world, read_only=False)
    assert written == verdicts and read > 0
    lost = rows_lost(world.kept, probe / warehouse.name)
    phases = phases_at_kill(world, verdicts, per_host, holder, left_wal)
    return Kill(code, verdicts, phases, holder, left_wal, lost)


def test_sigkill_at_random_points_of_a_refresh(world, tmp_path, observe):
    """SIGKILL anywhere in a refresh: the warehouse opens, read-only and read-write, and
    holds per source the last good rows or the new ones, never part of a publish; the next
    refresh, left to itself, gets past the dead process's lock file and WAL and publishes
    everything."""
    current = {"data": tmp_path}
    plan = kill_plan(world, lambda: current["data"] / "warehouse.duckdb")
    phases: Counter = Counter()
    verdicts: Counter = Counter()
    killed = stale_locks = stale_wals = recoveries = lost = 0
    for i, (moment, trigger) in enumerate(plan):
        for attempt in range(5):  # a refresh that ended first is run again, re-measured
            data = current["data"] = world.copy(tmp_path / f"kill-{i:02}-{attempt}")
            kill = kill_refresh(world, data, trigger, tmp_path / "probe")
            if kill.code == -signal.SIGKILL:
                break
        where = f"kill {i} ({moment}, {sorted(kill.phases)})"
        if kill.code != -signal.SIGKILL:
            continue
        killed += 1
        lost += kill.lost
        phases.update(kill.phases)
        verdicts.update(kill.verdicts[s] for s in REFRESHED)
        stale_locks += kill.holder
        stale_wals += kill.wal
        # The kernel dropped the dead process's flock, whatever the lock file still says.
        with open(data / "warehouse.duckdb.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
        if kill.phases == {"start-up"}:
            continue  # died before touching the data directory: nothing to recover from
        world.played.loopback.requests.clear()
        done = aggregator(data, *REFRESH)
        assert done.returncode == 0, (where, done.stderr[-3000:])
        with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
            recovered = check_state(read_state(con), world)
        assert {recovered[s] for s in REFRESHED} == {"new"}, (where, recovered)
        lost += rows_lost(world.kept, data / "warehouse.duckdb")
        recoveries += 1
    assert lost == 0
    assert killed >= 20, f"only {killed} of {len(plan)} refreshes died before they ended"
    assert {"download", "parse/validate", "publish"} <= set(phases), phases
    assert stale_locks and stale_wals, (stale_locks, stale_wals)
    observe.record(
        area="process",
        scenario=f"SIGKILL at {len(plan)} moments of a refresh (seed {SEED})",
        expected="per source the last good rows or the new ones, never part of a publish; "
        "warehouse opens read-only and read-write; the next refresh recovers alone",
        observed=f"{killed} refreshes killed; phases hit: "
        + ", ".join(f"{p} {n}" for p, n in sorted(phases.items()))
        + f"; sources left old/new: {verdicts['old']}/{verdicts['new']}; "
        f"{stale_locks} stale lock files, {stale_wals} stale WALs; "
        f"{recoveries} next refreshes all exit 0 with every source new",
        rows_lost=lost,
    )


# --- 2. A data directory that cannot be written ------------------------------------------

PR_CAPBSET_DROP = 24
# Root passes every permission check through these; without them, file modes bind root too.
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3
LIBC = ctypes.CDLL(None, use_errno=True)


def as_unprivileged() -> None:
    """preexec_fn: the child keeps its user but not the power to ignore file modes.

    Tests run as root here and the interpreter lives under /root (mode 0700), so the child
    cannot become nobody; instead root drops, from the bounding set, the capabilities that
    override file permissions, and after exec it meets modes as any owner does.
    """
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if LIBC.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def unprivileged() -> Callable[[], None] | None:
    return as_unprivileged if os.geteuid() == 0 else None


def file_size_limit(limit: int) -> Callable[[], None]:
    """preexec_fn: writes past ``limit`` bytes fail with EFBIG, as on a full disk."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error to handle, not a death
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limited


def read_only(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        item.chmod(0o555 if item.is_dir() else 0o444)


def writable(path: Path) -> None:
    for item in [path, *path.rglob("*")]:
        item.chmod(0o755 if item.is_dir() else 0o644)


def grow_log(data: Path) -> None:
    with open(data / "logs" / "aggregator.log", "a") as log:
        log.write("an old log line of earlier refreshes\n" * 70_000)  # 2.6 MB


@dataclass(frozen=True)
class WriteFault:
    name: str
    prepare: Callable[[Path], None]
    preexec: Callable[[], Callable[[], None] | None]
    # What the error lines must say: a path under the data directory and the OS's reason.
    path: str
    reason: str
    every_source: bool = False  # one error line per source instead of one for the refresh
    goes_on: bool = False  # only the log cannot be written: one warning, and it publishes
    # The disk fills at publish: sources whose rows still fit publish, the others fail.
    per_source: bool = False
    # Another path an error line may name instead of ``path``.
    or_path: str | None = None


WRITE_FAULTS = [
    WriteFault(
        "data directory read-only",
        read_only,
        unprivileged,
        "logs/aggregator.log",
        "Permission denied",
    ),
    WriteFault(
        "warehouse folder read-only, log writable",
        lambda d: (read_only(d), writable(d / "logs")),
        unprivileged,
        "warehouse.duckdb.lock",
        "Permission denied",
    ),
    WriteFault(
        "raw store read-only",
        lambda d: read_only(d / "raw"),
        unprivileged,
        "raw",
        "Permission denied",
        every_source=True,
    ),
    WriteFault(
        "disk full: not one byte more",
        lambda d: None,
        lambda: file_size_limit(0),
        "",
        "File too large",
    ),
    WriteFault(
        "log file full (2 MB a file)",
        grow_log,
        lambda: file_size_limit(2 * 1024 * 1024),
        "logs/aggregator.log",
        "File too large",
        goes_on=True,
    ),
    WriteFault(
        "disk full after the downloads (64 kB a file)",
        lambda d: None,
        lambda: file_size_limit(64 * 1024),
        "warehouse.duckdb",
        "File too large",
        per_source=True,
        or_path="staging",  # the file the IPC answers are read into, before they publish
    ),
]


@pytest.fixture(scope="module")
def modes_bind(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Skips when file modes cannot be made to bind the child (a root without prctl)."""
    probe = tmp_path_factory.mktemp("modes")
    probe.chmod(0o555)
    try:
        made = subprocess.run(
            ["sh", "-c", f"touch {probe}/x"], preexec_fn=unprivileged(), capture_output=True
        )
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot drop root's file capabilities here: {exc}")
    finally:
        probe.chmod(0o755)
    if made.returncode == 0:
        pytest.skip("file modes do not bind the tests' child processes")


def run_write_fault(world: World, tmp_path: Path, fault: WriteFault) -> tuple[str, int]:
    """Runs a refresh under ``fault`` and checks it; what was observed and rows lost."""
    data = world.copy(tmp_path / "data")
    fault.prepare(data)
    try:
        done = aggregator(data, *REFRESH, preexec_fn=fault.preexec())
    finally:
        writable(data)
    errors = errors_of(done.stderr)
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    named = f"{data}/{fault.path}".rstrip("/")
    if fault.goes_on:
        assert done.returncode == 0 and not errors, done.stderr[-3000:]
        assert len(warnings) == 1 and fault.reason in warnings[0] and named in warnings[0]
    else:
        assert done.returncode != 0 and errors, done.stderr[-3000:]
        also = f"{data}/{fault.or_path}" if fault.or_path else named
        for line in errors:
            assert fault.reason in line and (named in line or also in line), line
            assert "unexpected" not in line, line  # the sign of an exception nobody foresaw
        if fault.every_source:
            assert {line.split()[1] for line in errors} == set(REFRESHED), errors
    warehouse = data / "warehouse.duckdb"
    left_wal = warehouse.with_name(warehouse.name + ".wal").exists()
    verdicts, _ = open_state(warehouse, world, read_only=True)
    assert open_state(warehouse, world, read_only=False)[0] == verdicts
    failed = {line.split()[1] for line in errors}
    if fault.per_source:
        assert failed, done.stderr[-3000:]
        refreshed = {s: verdicts[s] for s in REFRESHED}
        assert refreshed == {s: "old" if s in failed else "new" for s in REFRESHED}, verdicts
        # Each source is wholly old or wholly new (above); rows both states hold must stay.
        lost = rows_lost(world.kept, warehouse)
    else:
        assert {verdicts[s] for s in REFRESHED} == {"new" if fault.goes_on else "old"}, verdicts
        lost = rows_lost(world.kept if fault.goes_on else world.last_good, warehouse)
    assert lost == 0
    said = tidy((errors or warnings)[0], data)
    return (
        f"exit {done.returncode}; {len(errors)} error and {len(warnings)} warning lines, e.g. "
        f"{said!r}; no traceback; warehouse opens (read-only and read-write"
        f"{', WAL replayed' if left_wal else ''}), sources {sorted(set(verdicts.values()))}",
        lost,
    )


@pytest.mark.parametrize("fault", WRITE_FAULTS, ids=[f.name for f in WRITE_FAULTS])
def test_a_data_directory_that_cannot_be_written(world, tmp_path, observe, modes_bind, fault):
    """A refresh that cannot write fails cleanly: non-zero exit, error lines naming the path
    and the system's reason, no traceback; the warehouse still opens with the last good rows.
    A log file that cannot grow costs one warning and nothing else."""
    observed, lost = run_write_fault(world, tmp_path, fault)
    observe.record(
        area="process",
        scenario=f"write failure: {fault.name}",
        expected="one warning naming the log file; refresh publishes"
        if fault.goes_on
        else "non-zero exit, error naming the path and the OS error, no traceback; last "
        "good data intact",
        observed=observed,
        rows_lost=lost,
    )


STORE_A_BODY = """
import sys
from pathlib import Path

from aggregator.errors import AggregatorError
from aggregator.raw import RawStore

try:
    with RawStore(Path(sys.argv[1])).writer() as body:
        for _ in range(64):
            body.write(b"x" * 1024)
        body.commit()
except AggregatorError as exc:
    print(exc)
"""


def test_a_body_cut_by_a_full_disk_leaves_no_partial_file(tmp_path, observe):
    """The disk fills in the middle of a download's body: the raw store says so, naming
    itself and the system's reason, and keeps no part of the body."""
    store = tmp_path / "raw"
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", STORE_A_BODY, str(store)],
        capture_output=True,
        text=True,
        timeout=HANG,
        preexec_fn=file_size_limit(16 * 1024),
        cwd=ROOT,
    )
    assert done.returncode == 0 and TRACEBACK not in done.stderr, done.stderr
    assert done.stdout.strip() == f"cannot write the raw store {store}: File too large"
    left = [p for p in store.rglob("*") if p.is_file()]
    assert left == []
    observe.record(
        area="process",
        scenario="disk full in the middle of a body (16 kB a file, 64 kB body)",
        expected="an error naming the raw store and the OS error; no partial body kept",
        observed=f"{tidy(done.stdout.strip(), tmp_path)!r}; {len(left)} files left in the store",
        rows_lost=0,
    )


# --- 3. Two refreshes at once; readers during a refresh ----------------------------------


@contextmanager
def held_download(world: World) -> Iterator[threading.Event]:
    """The slow host holds its first answer until the test lets it go: a refresh that has
    taken its lock and stays in the middle of its downloads."""
    entered, release = threading.Event(), threading.Event()

    def hold(seen, normal) -> None:
        entered.set()
        release.wait(HANG)

    world.played.faults[SLOW_HOST] = hold
    try:
        yield entered
    finally:
        release.set()
        world.played.faults[SLOW_HOST] = answer_normally


def test_a_second_refresh_is_refused_naming_the_holder(world, tmp_path, observe):
    """While a refresh runs, a second one fails at once, naming the first's pid and host."""
    data = world.copy(tmp_path / "data")
    with held_download(world) as entered:
        first = start_refresh(data, tmp_path / "first")
        assert entered.wait(HANG), "the first refresh never reached the held download"
        second = aggregator(data, *REFRESH)
        first_still_running = first.poll() is None
    code = first.wait(timeout=HANG)
    holder = f"pid {first.pid} on {socket.gethostname()}"
    assert first_still_running  # the second did not wait for the first
    assert second.returncode != 0
    errors = errors_of(second.stderr)
    assert len(errors) == 1 and holder in errors[0] and "warehouse.duckdb.lock" in errors[0]
    first_err = (tmp_path / "first.err").read_text()
    assert code == 0 and TRACEBACK not in first_err, first_err[-3000:]
    with duckdb.connect(str(data / "warehouse.duckdb"), read_only=True) as con:
        state = read_state(con)
    verdicts = check_state(state, world)
    assert {verdicts[s] for s in REFRESHED} == {"new"}
    assert len({run for run, _ in state.runs} - world.base_runs) == 1  # the second wrote nothing
    lost = rows_lost(world.kept, data / "warehouse.duckdb")
    assert lost == 0
    observe.record(
        area="process",
        scenario="two refreshes at once",
        expected="the second fails at once naming the holder (pid, host); the first publishes",
        observed=f"second: exit {second.returncode}, "
        f"{tidy(errors[0], data)!r} while the first was still running; "
        f"first: exit {code}, every source new; one new run in the warehouse",
        rows_lost=lost,
    )


def test_readers_during_a_refresh_see_old_or_new(world, tmp_path, observe):
    """Readers opening the warehouse read-only while a refresh publishes new data: each read
    (one transaction) shows every source whole, old or new, with run rows that match; when
    the refresh holds the file DuckDB turns readers away with a lock error, and
    `aggregator sql` says a refresh is writing and to retry."""
    data = world.copy(tmp_path / "data")
    warehouse = data / "warehouse.duckdb"
    reads: Counter = Counter()
    turned_away: set[str] = set()
    wrong: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                with duckdb.connect(str(warehouse), read_only=True) as con:
                    state = read_state(con)
                verdicts = check_state(state, world)
                reads[" ".join(f"{s}={verdicts[s]}" for s in REFRESHED)] += 1
            except duckdb.IOException as exc:
                if "Could not set lock" not in str(exc):
                    wrong.append(repr(exc))
                said = str(exc).split(". See also")[0]
                turned_away.add(re.sub(r'"[^"]*"|(?<=held in )\S+|(?<=PID )\d+', "…", said))
                reads["turned away"] += 1
            except (AssertionError, duckdb.Error) as exc:
                wrong.append(repr(exc))
            stop.wait(0.2)  # a reader now and then, as an analyst's queries come

    thread = threading.Thread(target=reader, daemon=True)
    cli: Counter = Counter()
    cli_busy: list[str] = []
    with world.slow():
        proc = start_refresh(data, tmp_path / "refresh")
        # Readers start once the refresh has prepared the warehouse and begun downloading.
        wait_for(proc, lambda: bool(world.slow_arrivals))
        thread.start()
        while proc.poll() is None:
            done = aggregator(data, "sql", "select count(*) from runs", "--format", "csv")
            if done.returncode == 0:
                cli["answered"] += 1
            else:
                cli["turned away"] += 1
                cli_busy += errors_of(done.stderr)
        code = proc.wait(timeout=HANG)
    stop.set()
    thread.join(HANG)
    assert not wrong, wrong
    assert sum(n for k, n in reads.items() if k != "turned away") > 0, reads
    for line in cli_busy:
        assert f"being written by a refresh (pid {proc.pid} " in line and "retry" in line, line
    err = (tmp_path / "refresh.err").read_text()
    assert TRACEBACK not in err, err[-3000:]
    # A reader holding the file when the refresh opens it for writing fails that publish (see
    # test_a_refresh_waits_for_a_reader): such a source keeps its last good rows.
    failed = errors_of(err)
    assert code == 0 or all("Could not set lock" in line for line in failed), failed
    with duckdb.connect(str(warehouse), read_only=True) as con:
        final = check_state(read_state(con), world)
    lost = rows_lost(world.kept, warehouse)
    assert lost == 0
    observe.record(
        area="process",
        scenario="readers during a refresh that publishes new data",
        expected="each read sees every source whole, old or new, never a mix; a reader "
        "turned away gets a clear, retryable error",
        observed=f"reader thread: {dict(reads)}; DuckDB's refusal: {sorted(turned_away)}; "
        f"`aggregator sql`: {dict(cli)}"
        + (f", e.g. {tidy(cli_busy[0], data)!r}" if cli_busy else "")
        + f"; refresh exit {code}, {len(failed)} source(s) failed by a reader's lock, "
        f"sources after: {sorted(final[s] for s in REFRESHED)}",
        rows_lost=lost,
    )


def test_a_reader_turned_away_is_told_why(world, tmp_path, observe):
    """`aggregator sql` and `status` while another process holds the warehouse for writing:
    a message naming the holder and saying to retry, not DuckDB's lock error alone."""
    data = world.copy(tmp_path / "data")
    with duckdb.connect(str(data / "warehouse.duckdb")):
        answers = [aggregator(data, "sql", "select 1"), aggregator(data, "status")]
    for done in answers:
        assert done.returncode == 1
        errors = errors_of(done.stderr)
        assert len(errors) == 1, done.stderr
        assert f"being written by another process (PID {os.getpid()})" in errors[0]
        assert "retry when it has finished" in errors[0]
    assert aggregator(data, "sql", "select 1").returncode == 0  # and once it has closed
    observe.record(
        area="process",
        scenario="`aggregator sql` / `status` while another process writes the warehouse",
        expected="exit 1, message naming the writer and saying to retry",
        observed=f"exits {[d.returncode for d in answers]}: "
        f"{tidy(errors_of(answers[0].stderr)[0], data)!r}; "
        "answers once the writer has closed",
        rows_lost=0,
    )


def test_a_refresh_waits_for_a_reader(world, tmp_path, observe):
    """A reader (a notebook, `aggregator sql`) has the warehouse open when the refresh wants
    to write it and closes it a moment later: the refresh waits for it and publishes."""
    data = world.copy(tmp_path / "data")
    warehouse, lock = data / "warehouse.duckdb", data / "warehouse.duckdb.lock"
    reader = duckdb.connect(str(warehouse), read_only=True)
    try:
        proc = start_refresh(data, tmp_path / "refresh")
        wait_for(proc, lambda: f"pid {proc.pid} " in lock.read_text())
        locked_at = time.monotonic()
        wait_for(proc, lambda: time.monotonic() > locked_at + 3)  # a reader of 3 s
    finally:
        reader.close()
    code = proc.wait(timeout=HANG)
    assert code == 0, (tmp_path / "refresh.err").read_text()[-3000:]
    after = fact_rows(warehouse)
    assert after and after != world.last_good  # the new data was published
    observe.record(
        area="process",
        scenario="a reader holds the warehouse open for 3 s while a refresh wants to write",
        expected="the refresh waits for the reader (up to 30 s) and publishes",
        observed=f"exit {code}; {len(after)} fact tables published after the reader closed",
        rows_lost=0,
    )
