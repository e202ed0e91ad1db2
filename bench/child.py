"""One in-process job in a fresh Python process: ``python -m bench.child JOB RESULT``.

JOB is a file holding a JSON object naming the kind of work and its arguments. The modules the job needs are
imported first; then only the job itself is timed (wall and CPU from getrusage of the whole
process, so DuckDB's threads count). The result, written as JSON to RESULT, holds wall, cpu,
the process's peak RSS (ru_maxrss, MB) and what the job reports about its work.

Kinds:
  refresh     aggregator.pipeline.refresh on the sources named, settings from the environment;
              "phases" (label -> "module:function") adds up the time spent in those functions
  floor_json  DuckDB alone: a JSON array file into a table of a new DuckDB file
  floor_pages DuckDB alone: the flows of FTS pages into a table
  floor_csv   DuckDB alone: CSV files (header, HXL row) into one table each
  naive_ipc   bench/naive.py on an IPC /population answer
  naive_fts   bench/naive.py on FTS flow pages
  naive_hdx   bench/naive.py on the IPC-on-HDX long CSVs
  claim_checks  `select count(*) from claim_checks` (mode count, on an open read-only
              connection) or aggregator.compare.claim_checks as of today (mode compare)
  imports     nothing: the peak RSS of the interpreter with the pipeline imported
"""

from __future__ import annotations

import csv
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path


def _timed(spots: dict[str, str]) -> dict[str, float]:
    """Wraps each function named "module:attribute.path" so that its calls add up their wall
    time (from any thread) under its label."""
    import functools
    import importlib

    spent = dict.fromkeys(spots, 0.0)
    for label, spot in spots.items():
        module, _, path = spot.partition(":")
        owner = importlib.import_module(module)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = getattr(owner, name)

        def wrapper(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_label] += time.perf_counter() - started

        setattr(owner, name, functools.wraps(original)(wrapper))
    return spent


def _refresh(job: dict) -> Callable[[], dict]:
    from aggregator.config import load_settings
    from aggregator.pipeline import refresh
    from aggregator.sources import RefreshOptions, resolve

    spent = _timed(job.get("phases", {}))

    def work() -> dict:
        settings = load_settings()
        results = refresh(resolve(job["sources"], ipc_key=True), RefreshOptions(settings=settings))
        return {
            "results": [
                {
                    "source": r.source,
                    "outcome": r.outcome,
                    "message": r.message,
                    # Counts the pipeline may rename while it is being rewritten: a missing one
                    # shows as empty instead of failing the run.
                    "rows": getattr(r, "rows", None),
                    "warnings": getattr(r, "warnings", None),
                    "rejected": getattr(r, "rejected", None),
                    "requests": len(getattr(r, "fetches", []) or []),
                    "not_modified": getattr(r, "not_modified", None),
                }
                for r in results
            ],
            "phases": spent,
        }

    return work


def _duckdb(job: dict, load: Callable) -> Callable[[], dict]:
    import duckdb

    def work() -> dict:
        with duckdb.connect(job["database"]) as con:
            con.execute("set enable_progress_bar = false")
            tables = load(con)
            return {t: con.execute(f'select count(*) from "{t}"').fetchone()[0] for t in tables}

    return work


def _floor_json(job: dict) -> Callable[[], dict]:
    def load(con) -> list[str]:
        con.execute(
            "create table t as select * from read_json(?, format = 'array')", [job["files"]]
        )
        return ["t"]

    return _duckdb(job, load)


def _floor_pages(job: dict) -> Callable[[], dict]:
    def load(con) -> list[str]:
        con.execute(
            "create table t as select unnest(data.flows, max_depth := 2) from read_json(?)",
            [job["files"]],
        )
        return ["t"]

    return _duckdb(job, load)


def _floor_csv(job: dict) -> Callable[[], dict]:
    headers = []
    for path in job["files"]:
        with open(path, newline="", encoding="utf-8") as handle:
            headers.append(next(csv.reader(handle)))

    def load(con) -> list[str]:
        tables = []
        for number, (path, names) in enumerate(zip(job["files"], headers, strict=True)):
            # Rows 1 and 2 are the header and the HXL hashtags: named columns, typed values.
            con.execute(
                f"create table t{number} as select * from read_csv(?, header = false, "
                f"skip = 2, names = ?)",
                [path, names],
            )
            tables.append(f"t{number}")
        return tables

    return _duckdb(job, load)


def _naive_ipc(job: dict) -> Callable[[], dict]:
    from bench import naive

    return lambda: {"rows": naive.load(Path(job["files"][0]), Path(job["database"]))}


def _naive_fts(job: dict) -> Callable[[], dict]:
    from bench import naive

    return lambda: {"rows": naive.load_fts([Path(f) for f in job["files"]], Path(job["database"]))}


def _naive_hdx(job: dict) -> Callable[[], dict]:
    from bench import naive

    return lambda: {"rows": naive.load_hdx([Path(f) for f in job["files"]], Path(job["database"]))}


def _claim_checks(job: dict) -> Callable[[], dict]:
    from datetime import date

    import duckdb

    from aggregator.compare import claim_checks

    if job["mode"] == "count":
        con = duckdb.connect(job["warehouse"], read_only=True)
        return lambda: {"rows": con.execute("select count(*) from claim_checks").fetchone()[0]}

    def compare() -> dict:
        checks = claim_checks(Path(job["warehouse"]), as_of=date.today())
        return {"rows": len(checks), "verdicts": checks["verdict"].value_counts().to_dict()}

    return compare


def _imports(job: dict) -> Callable[[], dict]:
    import aggregator.pipeline  # noqa: F401
    import aggregator.sources  # noqa: F401

    return lambda: {}


KINDS = {
    "refresh": _refresh,
    "floor_json": _floor_json,
    "floor_pages": _floor_pages,
    "floor_csv": _floor_csv,
    "naive_ipc": _naive_ipc,
    "naive_fts": _naive_fts,
    "naive_hdx": _naive_hdx,
    "claim_checks": _claim_checks,
    "imports": _imports,
}


def main() -> None:
    job, result = json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2])
    work = KINDS[job["kind"]](job)
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    detail = work()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result.write_text(
        json.dumps(
            {"wall": wall, "cpu": cpu, "peak_mb": after.ru_maxrss / 1024, "detail": detail},
            default=str,
        )
    )


if __name__ == "__main__":
    main()
