"""The scenarios of `make bench`. Each returns a Section of docs/benchmarks.md: its tables and
the targets it measured, met or not. A target missed or a run that fails (an error, a memory
cap) is reported in the section; a scenario that cannot even set up raises, and run.py reports
it as failed and goes on with the others.

Every refresh runs against bench/serve.py in its own process, in a fresh data directory (a
fresh warehouse and raw store) unless the scenario is about an unchanged second run.
"In-process" means ``aggregator.pipeline.refresh`` called directly (bench/child.py, one fresh
Python process per run, timing the call alone); "process" means a whole `aggregator refresh`.
"""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from aggregator.sources import source_hosts
from bench import generators
from bench.measure import (
    MB,
    RunFailed,
    Sample,
    Series,
    log,
    memory_available,
    repeat,
    run_child,
    run_process,
    skipped,
)
from bench.serve import HOSTS, Served

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
AGGREGATOR = str(Path(sys.executable).with_name("aggregator"))
IPC_SIZES = (10**5, 10**6, 10**7)
FLOW_SIZES = (10**5, 10**6)
HDX_SIZES = (10**5, 10**6)
CLAIMS = 10**4
CLAIM_FIGURES = 10**7
LATENCY = 0.3
CONCURRENT_SOURCES = ("ipc_api", "fts", "hapi", "ipc_hdx", "unrwa_trucks", "casualties")
SOURCE_HOSTS = source_hosts()
DUMMY_KEYS = {
    "IPC_API_KEY": "bench-dummy-key",
    "HDX_HAPI_APP_IDENTIFIER": base64.b64encode(b"bench:bench@example.org").decode(),
}
# Settings the benchmark fixes itself; the caller's values would make runs incomparable.
CLEARED_ENV = ("FTS_YEARS", "FTS_FLOW_YEARS", *HOSTS, *DUMMY_KEYS)


@dataclass
class Target:
    name: str
    measured: str
    ratio: str
    target: str
    met: bool | None  # None: not measured (skipped, failed, or no target set)
    note: str = ""


@dataclass
class Section:
    title: str
    body: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)


@dataclass
class Context:
    work: Path  # scratch directory of this benchmark run
    sizes: set[int]  # the sizes asked for (BENCH_SIZES), all by default
    peaks: dict[tuple[str, int], float] = field(default_factory=dict)  # (path, rows) -> MB
    counter: itertools.count = field(default_factory=itertools.count)

    def data_dir(self, label: str, curated: bool = False) -> Path:
        folder = self.work / f"{label}-{next(self.counter)}"
        folder.mkdir(parents=True)
        if curated:
            for name in ("reference", "claims"):
                shutil.copytree(ROOT / "data" / name, folder / name)
        return folder


# --- formatting -------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def megabytes(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} MB"


def rate(rows: int, wall: float | None) -> str:
    return "—" if not wall else f"{rows / wall:,.0f}"


def times(a: float | None, b: float | None) -> str:
    return "—" if a is None or not b else f"{a / b:.2f}×"


def count(rows: int) -> str:
    return f"10^{len(str(rows)) - 1}" if str(rows).strip("0") == "1" else f"{rows:,}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
    ]


def series_row(series: Series, rows: int | None = None) -> list[str]:
    return [
        series.label,
        seconds(series.wall),
        seconds(series.cpu),
        megabytes(series.peak_mb),
        rate(rows, series.wall) if rows else "—",
        str(len(series.samples)),
        series.note.replace("|", "/").replace("\n", " ")[:300],
    ]


SERIES_HEADER = ["path", "wall", "CPU", "peak RSS", "rows/s", "runs", "note"]


NO_TARGET = "none set"


def verdict(target: Target) -> str:
    if target.target == NO_TARGET:
        state = "reported, no target set"
    else:
        state = {True: "**met**", False: "**not met**", None: "not measured"}[target.met]
    line = f"- {target.name}: {target.measured} (target {target.target}): {state}"
    return line + (f"; {target.note}" if target.note else "")


# --- environment and refresh runs -------------------------------------------------------------


def env_for(data: Path, served: Served | None = None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AGGREGATOR_") and k not in CLEARED_ENV
    }
    env.update(DUMMY_KEYS)
    env.update(AGGREGATOR_DATA_DIR=str(data), AGGREGATOR_HAPI_PAUSE="0")
    if served:
        env.update(served.env())
    env.update(extra)
    return env


def _outcomes_problem(results: list[dict], wanted: set[str]) -> str | None:
    bad = [r for r in results if r["outcome"] not in wanted]
    if not bad:
        return None
    return "; ".join(f"{r['source']} {r['outcome']}: {r.get('message') or ''}" for r in bad)


def warehouse_runs(path: Path) -> list[dict]:
    """The runs rows of the last refresh in a warehouse, as the child reports its results."""
    if not path.is_file():
        return []
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            """select source, outcome, rows, warnings, rejected, requests, not_modified, message
            from runs qualify started_at = max(started_at) over () order by source"""
        ).fetchall()
    names = ["source", "outcome", "rows", "warnings", "rejected", "requests", "not_modified"]
    return [dict(zip([*names, "message"], row, strict=True)) for row in rows]


def refresh_in_process(
    ctx: Context,
    label: str,
    served: Served,
    sources: list[str],
    *,
    extra: dict[str, str] | None = None,
    outcomes: tuple[str, ...] = ("published",),
    count_runs: int | None = None,
    phases: dict[str, str] | None = None,
) -> Series:
    def once() -> Sample:
        data = ctx.data_dir("run")
        try:
            return run_child(
                {"kind": "refresh", "sources": sources, "phases": phases or {}},
                env_for(data, served, **(extra or {})),
            )
        finally:
            shutil.rmtree(data, ignore_errors=True)

    return repeat(
        label,
        once,
        count_runs,
        check=lambda s: _outcomes_problem(s.detail["results"], set(outcomes)),
    )


def refresh_process(
    ctx: Context,
    label: str,
    served: Served,
    sources: list[str],
    *,
    extra: dict[str, str] | None = None,
) -> Series:
    def once() -> Sample:
        data = ctx.data_dir("run")
        try:
            args = [AGGREGATOR, "refresh", *itertools.chain(*(("--source", s) for s in sources))]
            sample = run_process(args, env_for(data, served, **(extra or {})))
            sample.detail = {"results": warehouse_runs(data / "warehouse.duckdb")}
            return sample
        finally:
            shutil.rmtree(data, ignore_errors=True)

    return repeat(
        label, once, check=lambda s: _outcomes_problem(s.detail["results"], {"published"})
    )


def warnings_of(series: Series) -> str:
    if not series.samples:
        return "—"
    results = series.samples[-1].detail.get("results", [])
    return ", ".join(f"{r['warnings']} warnings, {r['rejected']} rejected" for r in results)


def http_max_bytes(*sets: generators.DataSet) -> dict[str, str]:
    largest = max((f.stat().st_size for s in sets for f in s.files), default=0)
    return {"AGGREGATOR_HTTP_MAX_BYTES": str(max(512 * MB, 2 * largest))}


def generate(label: str, make: Callable[[int], generators.DataSet], rows: int):
    log(f"generating {label} ({rows:,} rows) in {generators.cache_dir()} (reused when present)")
    data = make(rows)
    log(f"{label}: {data.rows:,} rows, {data.bytes / MB:,.0f} MB in {data.root}")
    return data


# --- 1. end to end against the floor and the naive path ---------------------------------------


def local_job(ctx: Context, label: str, kind: str, files: list[str]) -> Series:
    """A job on the generated files themselves (no server), writing a scratch DuckDB file."""

    def once() -> Sample:
        folder = ctx.data_dir(kind)
        try:
            job = {"kind": kind, "files": files, "database": str(folder / "out.duckdb")}
            return run_child(job, env_for(ctx.work))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return repeat(label, once)


def _naive_fits(ctx: Context, rows: int, data: generators.DataSet) -> str | None:
    """Why the naive path would not fit in memory at this size, if it would not."""
    smaller = [(r, mb) for (path, r), mb in ctx.peaks.items() if path == "naive" and r < rows]
    if smaller:
        base_rows, base_mb = max(smaller)
        needed = base_mb * MB * rows / base_rows * 1.1
        basis = f"{base_mb:,.0f} MB at {base_rows:,} rows scaled"
    else:
        needed = data.bytes * 15
        basis = "15× the file (no smaller size measured)"
    available = memory_available()
    if available and needed > available * 0.85:
        return (
            f"skipped: would need about {needed / 1024**3:.1f} GB ({basis}), "
            f"{available / 1024**3:.1f} GB available"
        )
    return None


def ipc_end_to_end(ctx: Context) -> Section:
    section = Section("1. IPC API refresh end to end, against the floor and the naive path")
    section.body += [
        "Source `ipc_api` against a generated /population answer (one country, analyses of 10 "
        "groups × 20 areas, three periods: 21 ipc_phases rows per unit). **floor**: DuckDB alone "
        "loading the same file into a table of a new DuckDB file (`create table t as select * "
        "from read_json(path, format='array')`), no validation. **naive**: json.load, a Python "
        "loop to the long ipc_phases shape, a pandas DataFrame, the pandera model IpcPhases, the "
        "DataFrame into DuckDB (bench/naive.py). Floor and naive read the file from disk; the "
        "refresh downloads it from the loopback server (a separate process). rows/s counts "
        "ipc_phases rows for every path.",
        "",
    ]
    baseline = repeat("imports", lambda: run_child({"kind": "imports"}, env_for(ctx.work)), 1)
    section.body += [
        f"For scale: a fresh Python process with the pipeline imported peaks at "
        f"{megabytes(baseline.peak_mb)} (included in every in-process peak below).",
        "",
    ]
    for rows in [r for r in IPC_SIZES if r in ctx.sizes]:
        data = generate("IPC API answer", generators.ipc_api, rows)
        files = [str(f) for f in data.files]
        floor = local_job(ctx, "floor (DuckDB read_json)", "floor_json", files)
        why_not = _naive_fits(ctx, rows, data)
        naive = (
            skipped("naive (json, pandas, pandera)", why_not)
            if why_not
            else local_job(ctx, "naive (json, pandas, pandera)", "naive_ipc", files)
        )
        extra = http_max_bytes(data)
        with Served([data.root]) as served:
            in_process = refresh_in_process(
                ctx, "refresh, in-process", served, ["ipc_api"], extra=extra, phases=IPC_PHASES
            )
            process = refresh_process(
                ctx, "`aggregator refresh --source ipc_api`", served, ["ipc_api"], extra=extra
            )
        for path, series in (("naive", naive), ("in-process", in_process), ("process", process)):
            if series.ok:
                ctx.peaks[(path, rows)] = series.peak_mb
        section.body += [
            f"### {count(rows)} rows ({data.rows:,} ipc_phases rows, {data.bytes / MB:,.0f} MB)",
            "",
            *table(
                SERIES_HEADER,
                [series_row(s, data.rows) for s in (floor, naive, in_process, process)],
            ),
            *table(
                ["refresh", "wall ÷ floor", "wall ÷ naive", "RSS ÷ floor", "RSS ÷ naive"],
                [
                    [
                        s.label,
                        times(s.wall, floor.wall),
                        times(s.wall, naive.wall),
                        times(s.peak_mb, floor.peak_mb),
                        times(s.peak_mb, naive.peak_mb),
                    ]
                    for s in (in_process, process)
                ],
            ),
            f"Validation of the refresh: {warnings_of(in_process)}.",
            "",
            *_phases_table(in_process, IPC_PHASES),
        ]
        section.targets += _end_to_end_targets("IPC", rows, in_process, floor, naive)
    return section


# Where an IPC refresh spends its time: functions of the pipeline timed in the in-process runs.
IPC_PHASES = {
    "prepare the warehouse (tables, views)": "aggregator.warehouse:prepare",
    "download (loopback) into the raw store": "aggregator.http:Fetcher.get",
    "extract: download, read the answers into units, check the analyses": "aggregator.connectors.ipc:extract",
    "extract: read the answers into units (DuckDB, into a stage file)": "aggregator.connectors.ipc:_read_units",
    "publish: the whole transaction": "aggregator.warehouse:publish",
    "publish: load the long rows from the units (DuckDB)": "aggregator.staging:Staged.insert_into",
    "publish: checks (SQL screen, pandera on what it flags)": "aggregator.warehouse:validate_loaded",
}


# The same for FTS.
FTS_PHASES = {
    "prepare the warehouse (tables, views)": "aggregator.warehouse:prepare",
    "download (loopback) into the raw store": "aggregator.http:Fetcher.get",
    "extract: download, read the pages into rows": "aggregator.connectors.fts:extract",
    "extract: read the pages into rows (DuckDB, on a worker while pages download)": "aggregator.connectors.fts_staged:Stager._read",
    "extract: wait for the last pages to be read": "aggregator.connectors.fts_staged:Stager.finish",
    "publish: the whole transaction": "aggregator.warehouse:publish",
    "publish: load the rows from the stage file (DuckDB)": "aggregator.staging:Staged.insert_into",
    "publish: checks (SQL screen, pandera on what it flags)": "aggregator.warehouse:validate_loaded",
}


# The same for IPC on HDX.
HDX_PHASES = {
    "prepare the warehouse (tables, views)": "aggregator.warehouse:prepare",
    "download (loopback) into the raw store": "aggregator.http:Fetcher.get",
    "extract: download, group the rows into analyses": "aggregator.connectors.hdx:extract",
    "publish: the whole transaction": "aggregator.warehouse:publish",
    "publish: load and check the rows from the CSVs (DuckDB)": "aggregator.staging:Staged.insert_into",
    "publish: checks (SQL screen, pandera on what it flags)": "aggregator.warehouse:validate_loaded",
}


def _phases_table(series: Series, phases: dict[str, str]) -> list[str]:
    spent = [s.detail.get("phases", {}) for s in series.samples]
    if not spent or not series.wall:
        return []
    rows = []
    for label in phases:
        value = statistics.median(s.get(label, 0.0) for s in spent)
        rows.append([label, seconds(value), f"{value / series.wall:.0%}"])
    return [
        "Where the in-process refresh spends its time (median over the runs). The steps "
        "overlap: prepare runs while the source downloads and extracts, the download and the "
        "read are parts of the extract, and the publish steps are parts of the publish:",
        "",
        *table(["step", "wall", "share of the refresh"], rows),
    ]


def memory(ctx: Context) -> Section:
    section = Section("2. Memory: peak RSS at 10^7 rows against 10^6")
    rows = []
    for path in ("in-process", "process", "naive"):
        small, large = ctx.peaks.get((path, 10**6)), ctx.peaks.get((path, 10**7))
        rows.append([path, megabytes(small), megabytes(large), times(large, small)])
    section.body += [
        "Peak resident memory of the IPC refresh (scenario 1) at 10^7 ipc_phases rows divided by "
        "the same at 10^6 (10× the data). A pipeline that holds everything grows about 10×; one "
        "that streams grows much less.",
        "",
        *table(["path", "peak at 10^6", "peak at 10^7", "ratio"], rows),
    ]
    small, large = ctx.peaks.get(("in-process", 10**6)), ctx.peaks.get(("in-process", 10**7))
    measured = bool(small and large)
    section.targets.append(
        Target(
            "peak RSS of the refresh, 10^7 ÷ 10^6 rows",
            f"{megabytes(large)} ÷ {megabytes(small)}",
            times(large, small),
            "≤ 2×",
            (large / small <= 2) if measured else None,
            "" if measured else "needs both sizes measured (BENCH_SIZES with 1e6 and 1e7)",
        )
    )
    return section


def _end_to_end_targets(
    name: str, rows: int, in_process: Series, floor: Series, naive: Series
) -> list[Target]:
    """Target 1 at one size: within 1.5x the floor from 10^6 rows on, faster than naive."""
    ok = in_process.ok and floor.ok
    targets = []
    if rows >= 10**6:
        met = (in_process.wall <= 1.5 * floor.wall) if ok else None
        targets.append(
            Target(
                f"{name} refresh in-process ÷ floor, {count(rows)} rows",
                f"{seconds(in_process.wall)} ÷ {seconds(floor.wall)}",
                times(in_process.wall, floor.wall),
                "≤ 1.5×",
                met,
                # What the CPU alone allows, when the target is missed (see _cpu_bound).
                f"its CPU over every core alone takes {_cpu_ratio(in_process, floor)} the "
                "floor's wall time"
                if met is False
                else "",
            )
        )
    targets.append(
        Target(
            f"{name} refresh in-process ÷ naive, {count(rows)} rows",
            f"{seconds(in_process.wall)} ÷ {seconds(naive.wall)}",
            times(in_process.wall, naive.wall),
            "< 1×",
            (in_process.wall < naive.wall) if ok and naive.ok else None,
        )
    )
    return targets


def _floor_and_refresh(
    ctx: Context,
    title: str,
    intro: str,
    sizes: tuple[int, ...],
    make: Callable[[int], generators.DataSet],
    floor_kind: str,
    floor_label: str,
    naive_kind: str,
    source: str,
    roots: list[Path],
    phases: dict[str, str],
) -> Section:
    section = Section(title, [intro, ""])
    for rows in [r for r in sizes if r in ctx.sizes]:
        data = generate(source, make, rows)
        files = [str(f) for f in data.files]
        floor = local_job(ctx, floor_label, floor_kind, files)
        naive = local_job(ctx, "naive (json or pandas, pandera)", naive_kind, files)
        extra = http_max_bytes(data)
        with Served([data.root, *roots]) as served:
            in_process = refresh_in_process(
                ctx, "refresh, in-process", served, [source], extra=extra, phases=phases
            )
            process = refresh_process(
                ctx, f"`aggregator refresh --source {source}`", served, [source], extra=extra
            )
        section.body += [
            f"### {count(rows)} rows ({data.rows:,} rows, {len(data.files):,} files, "
            f"{data.bytes / MB:,.0f} MB)",
            "",
            *table(
                SERIES_HEADER,
                [series_row(s, data.rows) for s in (floor, naive, in_process, process)],
            ),
            *table(
                ["refresh", "wall ÷ floor", "wall ÷ naive", "RSS ÷ floor"],
                [
                    [
                        s.label,
                        times(s.wall, floor.wall),
                        times(s.wall, naive.wall),
                        times(s.peak_mb, floor.peak_mb),
                    ]
                    for s in (in_process, process)
                ],
            ),
            f"Validation of the refresh: {warnings_of(in_process)}.",
            "",
            *_phases_table(in_process, phases),
            *_cpu_bound(in_process, floor),
        ]
        section.targets += _end_to_end_targets(source, rows, in_process, floor, naive)
    return section


def _cpu_bound(in_process: Series, floor: Series) -> list[str]:
    """What the CPU time alone allows: a refresh cannot take less wall time than its CPU time
    spread over every core, and the loopback server's CPU comes on top of it."""
    if not (in_process.ok and floor.ok):
        return []
    cores = os.cpu_count() or 1
    return [
        f"CPU bound: the refresh's {seconds(in_process.cpu)} of CPU "
        f"({times(in_process.cpu, floor.cpu)} the floor's) over {cores} cores take at least "
        f"{seconds(in_process.cpu / cores)} of wall time, {_cpu_ratio(in_process, floor)} the "
        "floor's wall time, before the loopback server's own CPU, which competes for the same "
        "cores.",
        "",
    ]


def _cpu_ratio(in_process: Series, floor: Series) -> str:
    """The least wall time the refresh's CPU allows, as a multiple of the floor's wall time."""
    return times(in_process.cpu / (os.cpu_count() or 1), floor.wall)


def fts_end_to_end(ctx: Context) -> Section:
    return _floor_and_refresh(
        ctx,
        "1b. FTS flows end to end, against the floor",
        "Source `fts` against generated pages of /v1/public/fts/flow?countryISO3=PSE&year=2020 "
        f"({generators.FTS_PAGE_SIZE} flows a page, followed by meta.nextLink; the appeals "
        "come from the demo snapshot). **floor**: DuckDB alone loading the flows of every page "
        "into a table (`read_json` of the pages, `unnest(data.flows)`). **naive**: json.load of "
        "each page, a Python loop flattening each flow, the pandera model, the DataFrame into "
        "DuckDB (bench/naive.py). rows/s counts flows.",
        FLOW_SIZES,
        generators.fts_flows,
        "floor_pages",
        "floor (DuckDB read_json of the pages)",
        "naive_fts",
        "fts",
        [DEMO],
        FTS_PHASES,
    )


def hdx_end_to_end(ctx: Context) -> Section:
    return _floor_and_refresh(
        ctx,
        "1c. IPC on HDX (CSV) end to end, against the floor",
        "Source `ipc_hdx` against a generated package_show and its three long CSVs (national, "
        "level 1, area; header and HXL row). **floor**: DuckDB alone loading each CSV into a "
        "table (`read_csv`). **naive**: pandas read_csv of each file, the ipc_phases columns "
        "derived with pandas, the pandera model, the DataFrame into DuckDB (bench/naive.py). "
        "rows/s counts CSV rows (= ipc_phases rows).",
        HDX_SIZES,
        generators.hdx_ipc,
        "floor_csv",
        "floor (DuckDB read_csv)",
        "naive_hdx",
        "ipc_hdx",
        [],
        HDX_PHASES,
    )


# --- 3. no-change refresh ---------------------------------------------------------------------


def no_change(ctx: Context) -> Section:
    section = Section("3. No-change refresh of every source")
    data = ctx.data_dir("nochange", curated=True)
    with Served([DEMO]) as served:
        env = env_for(data, served)
        first = run_child({"kind": "refresh", "sources": []}, env)
        first_stats = served.reset()
        problem = _outcomes_problem(first.detail["results"], {"published"})
        if problem:
            raise RunFailed(f"the first refresh did not publish every source: {problem}")

        def in_process() -> Sample:
            sample = run_child({"kind": "refresh", "sources": []}, env)
            sample.detail["served"] = served.reset()
            return sample

        def process() -> Sample:
            sample = run_process([AGGREGATOR, "refresh"], env)
            sample.detail = {
                "results": warehouse_runs(data / "warehouse.duckdb"),
                "served": served.reset(),
            }
            return sample

        allowed = ("not_modified", "published")
        second = repeat(
            "second refresh, in-process (refresh() alone)",
            in_process,
            check=lambda s: _outcomes_problem(s.detail["results"], set(allowed)),
        )
        whole = repeat(
            "second refresh, `aggregator refresh` process",
            process,
            check=lambda s: _outcomes_problem(s.detail["results"], set(allowed)),
        )
    bodies: dict[str, int] = {}
    for sample in [*second.samples, *whole.samples]:
        for host, counts in sample.detail["served"].items():
            bodies[host] = max(bodies.get(host, 0), counts["bodies"])
    last = (second.samples or whole.samples or [first])[-1]
    hosts_of: dict[str, list[str]] = {}
    for source, host in SOURCE_HOSTS.items():
        hosts_of.setdefault(host, []).append(source)
    rows = []
    for host, sources in hosts_of.items():
        served_first = first_stats.get(host, {})
        served_last = last.detail.get("served", {}).get(host, {})
        rows.append(
            [
                host,
                ", ".join(sources),
                str(served_first.get("bodies", 0)),
                str(served_last.get("requests", 0)),
                str(bodies.get(host, 0)),
                str(served_last.get("not_modified", 0)),
                "none (HAPI sends no validators)" if host == "hapi.humdata.org" else "0",
            ]
        )
    outcomes = ", ".join(f"{r['source']} {r['outcome']}" for r in last.detail.get("results", []))
    section.body += [
        "Every source refreshed once from the demo snapshot (all bodies sent), then refreshed "
        "again against the unchanged server, in the same data directory. The server counts the "
        "answers it sent with a body (most of any second run over all runs) and its 304s. HDX "
        "resources whose last_modified and hash are unchanged are not even requested; "
        "package_show is asked each time (304). The time is that of the work after interpreter "
        "start: refresh() timed inside the process; the whole process is shown beside it.",
        "",
        *table(
            [
                "host",
                "sources",
                "bodies (1st run)",
                "requests (2nd)",
                "bodies (2nd)",
                "304s (2nd)",
                "target",
            ],
            rows,
        ),
        *table(
            SERIES_HEADER, [series_row(first_series(first)), series_row(second), series_row(whole)]
        ),
        f"Outcomes of the second run: {outcomes}.",
        "",
    ]
    conditional = [h for h in hosts_of if h != "hapi.humdata.org"]
    sent = sum(bodies.get(h, 0) for h in conditional)
    measured = bool(second.samples or whole.samples)
    section.targets.append(
        Target(
            "bodies sent on a no-change refresh (IPC, FTS, HDX, casualties)",
            f"{sent}" if measured else "—",
            "",
            "0",
            (sent == 0) if measured else None,
            f"HAPI answered {bodies.get('hapi.humdata.org', 0)} bodies in full (no validators)",
        )
    )
    section.targets.append(
        Target(
            "no-change refresh of every source, refresh() time",
            seconds(second.wall),
            "",
            "≤ 1 s",
            (second.wall <= 1.0) if second.wall is not None else None,
            f"whole process {seconds(whole.wall)}",
        )
    )
    return section


def first_series(sample: Sample) -> Series:
    return Series("first refresh, in-process (one run)", [sample])


# --- 4. concurrency ---------------------------------------------------------------------------


def concurrency(ctx: Context) -> Section:
    section = Section("4. Concurrency: sources with 300 ms latency per request")
    with Served([DEMO]) as served:
        served.latency(LATENCY)
        alone = [
            refresh_in_process(ctx, f"{source} alone", served, [source])
            for source in CONCURRENT_SOURCES
        ]
        together = refresh_in_process(
            ctx, f"all {len(CONCURRENT_SOURCES)} together", served, list(CONCURRENT_SOURCES)
        )
    requests = {
        s.label: sum(r["requests"] for r in s.samples[-1].detail["results"])
        for s in [*alone, together]
        if s.samples
    }
    slowest = max((s for s in alone if s.ok), key=lambda s: s.wall or 0, default=None)
    ratio = together.wall / slowest.wall if slowest and together.ok else None
    section.body += [
        f"Every host of the demo snapshot answers {LATENCY * 1000:.0f} ms late, on every "
        "request. Each source refreshed alone, then all of them in one refresh (in-process, a "
        "fresh data directory per run). Target: all together within 1.3× the slowest alone.",
        "",
        *table(
            [*SERIES_HEADER[:4], "requests", "runs", "note"],
            [
                [
                    s.label,
                    seconds(s.wall),
                    seconds(s.cpu),
                    megabytes(s.peak_mb),
                    str(requests.get(s.label, "—")),
                    str(len(s.samples)),
                    s.note[:300],
                ]
                for s in [*alone, together]
            ],
        ),
    ]
    section.targets.append(
        Target(
            f"{len(CONCURRENT_SOURCES)} sources together ÷ slowest alone"
            + (f" ({slowest.label})" if slowest else ""),
            f"{seconds(together.wall)} ÷ {seconds(slowest.wall if slowest else None)}",
            f"{ratio:.2f}" if ratio else "—",
            "≤ 1.3",
            (ratio <= 1.3) if ratio else None,
        )
    )
    return section


# --- 5. claim_checks --------------------------------------------------------------------------


def claim_checks(ctx: Context) -> Section:
    figures = CLAIM_FIGURES if CLAIM_FIGURES in ctx.sizes else max(ctx.sizes)
    section = Section(f"5. claim_checks: {count(CLAIMS)} claims against {count(figures)} figures")
    path = ctx.data_dir("claims") / "warehouse.duckdb"
    try:
        log(f"building a warehouse of {figures:,} figures and {CLAIMS:,} claims")
        counts = generators.claims_warehouse(path, figures, CLAIMS)
        log(f"warehouse built: {counts}")
        count_query = repeat(
            "`select count(*) from claim_checks`",
            lambda: run_child(
                {"kind": "claim_checks", "mode": "count", "warehouse": str(path)},
                env_for(ctx.work),
            ),
        )
        compare = repeat(
            "compare: `claim_checks_at(today)`, every column (aggregator.compare.claim_checks)",
            lambda: run_child(
                {"kind": "claim_checks", "mode": "compare", "warehouse": str(path)},
                env_for(ctx.work),
            ),
        )
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)
    verdicts = compare.samples[-1].detail.get("verdicts", {}) if compare.samples else {}
    section.body += [
        "A warehouse built by aggregator.warehouse.prepare, then filled in bulk by SQL "
        f"(bench/generators.py claims_warehouse): {counts['ipc_phases']:,} ipc_phases rows "
        f"(IPC analyses of 50 countries, a national unit and areas, three periods), which make "
        f"{counts['figures']:,} rows of the figures view (worked out from ipc_phases as they are "
        f"read, not stored), and {counts['press_claims']:,} press_claims about them (the IPC "
        "people and share metrics, whole countries and areas). "
        "Each run is a fresh process opening the warehouse read-only. count: the query alone, on "
        "an open connection; compare: the whole call (attach, query, DataFrame), as "
        "`aggregator compare` makes it.",
        "",
        *table(SERIES_HEADER, [series_row(count_query), series_row(compare)]),
        "Verdicts: " + ", ".join(f"{k} {v:,}" for k, v in sorted(verdicts.items())) + ".",
        "",
    ]
    for name, series in (("count(*) from claim_checks", count_query), ("compare", compare)):
        section.targets.append(
            Target(
                f"{name}: {count(CLAIMS)} claims, {counts['figures']:,} figures",
                seconds(series.wall),
                "",
                "≤ 1 s",
                (series.wall <= 1.0) if series.ok else None,
                "" if figures >= CLAIM_FIGURES else "below the target's 10^7 figures (BENCH_SIZES)",
            )
        )
    return section


# --- 6. the CLI -------------------------------------------------------------------------------


def cli(ctx: Context) -> Section:
    section = Section("6. The CLI: start-up and the demo report")
    data = ctx.data_dir("demo", curated=True)
    env = env_for(data)
    try:
        run_process([AGGREGATOR, "refresh", "--replay", str(DEMO)], env)
    except RunFailed as exc:
        raise RunFailed(f"could not build the demo warehouse: {exc}") from None
    reports = data / "reports"
    report_args = ["report", "--country", "PSE", "--as-of", "2024-03-22", "--out", str(reports)]
    help_series = repeat("`aggregator --help`", lambda: run_process([AGGREGATOR, "--help"], env))
    report_series = repeat(
        "`aggregator report --country PSE --as-of 2024-03-22` (all formats)",
        lambda: run_process([AGGREGATOR, *report_args], env),
    )
    section.body += [
        "Whole processes; the report runs on the demo warehouse (`aggregator refresh --replay "
        "data/demo` into a scratch data directory first).",
        "",
        *table(SERIES_HEADER, [series_row(help_series), series_row(report_series)]),
    ]
    for series, limit in ((help_series, 0.5), (report_series, 5.0)):
        section.targets.append(
            Target(
                series.label,
                seconds(series.wall),
                "",
                f"≤ {limit} s",
                (series.wall <= limit) if series.ok else None,
                series.note[:200],
            )
        )
    return section


SCENARIOS: dict[str, Callable[[Context], Section]] = {
    "ipc": ipc_end_to_end,
    "memory": memory,
    "fts": fts_end_to_end,
    "hdx": hdx_end_to_end,
    "nochange": no_change,
    "concurrency": concurrency,
    "claims": claim_checks,
    "cli": cli,
}
