"""Benchmarks (`make bench`, not part of `make test`): runs the scenarios of bench/scenarios.py
and writes docs/benchmarks.md with the machine, the versions and one table per target.

Each figure is the median of BENCH_RUNS runs (5 by default) of a fresh process: a whole
`aggregator` process measured with wait4, or an in-process job (bench/child.py) reporting the
time of the call alone and its process's peak RSS. Large inputs are generated once into a
cache outside the repository (bench/generators.py) and served by a loopback server in its own
process (bench/serve.py).

Environment:
  BENCH_RUNS       runs per figure (default 5)
  BENCH_SIZES      input sizes, comma-separated (default 1e5,1e6,1e7; the IPC API refresh runs
                   at each, FTS and HDX at 1e5 and 1e6, claim_checks at 1e7 figures or the
                   largest size given)
  BENCH_SCENARIOS  scenarios to run, comma-separated (default all: ipc, memory, fts, hdx,
                   nochange, concurrency, claims, cli)
  BENCH_CACHE      cache of generated inputs (default $TMPDIR/foodsec-bench)
  BENCH_OUT        the markdown written (default docs/benchmarks.md)

A quick run: BENCH_RUNS=1 BENCH_SIZES=1e5 make bench.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.generators import cache_dir
from bench.measure import MB, log, runs
from bench.scenarios import SCENARIOS, Context, Section, table, verdict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = "1e5,1e6,1e7"
PACKAGES = ("duckdb", "pandas", "pandera", "pyarrow", "httpx", "weasyprint")


def sizes() -> set[int]:
    raw = os.environ.get("BENCH_SIZES") or DEFAULT_SIZES
    try:
        return {int(float(part)) for part in raw.split(",") if part.strip()}
    except ValueError:
        raise SystemExit(f"BENCH_SIZES must be sizes like 1e5,1e6, got {raw!r}") from None


def chosen() -> list[str]:
    raw = os.environ.get("BENCH_SCENARIOS", "")
    names = [n.strip() for n in raw.split(",") if n.strip()] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s) {unknown}; known: {', '.join(SCENARIOS)}")
    return names


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GB memory; {platform.system()} "
        f"{platform.release()}"
    )


def revision() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{commit}{' with uncommitted changes' if dirty else ''}" if commit else "unknown"


def render(
    sections: list[Section], started: datetime, names: list[str], done: bool, code: str
) -> str:
    """The markdown of the sections so far; ``code`` is the revision measured."""
    packages = ", ".join(f"{p} {version(p)}" for p in PACKAGES)
    targets = [t for s in sections for t in s.targets]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); do not edit by hand."
        + ("" if done else " **Incomplete: the run was still going or was stopped.**"),
        "",
        f"- Machine: {machine()}.",
        f"- Software: Python {platform.python_version()}; foodsec-aggregator "
        f"{version('foodsec-aggregator')} at {code}; {packages}.",
        f"- Run: {started:%Y-%m-%d %H:%M} UTC; {runs()} run(s) per figure (BENCH_RUNS), sizes "
        f"{os.environ.get('BENCH_SIZES') or DEFAULT_SIZES} (BENCH_SIZES), scenarios "
        f"{', '.join(names)}; generated inputs cached in {cache_dir()}.",
        "",
        "Commands: `make bench` runs `.venv/bin/python -m bench.run`; a quick run is "
        "`BENCH_RUNS=1 BENCH_SIZES=1e5 make bench`. Every figure is the median over the runs: "
        "wall time, CPU time (user + system, every thread) and peak resident memory (RSS). A "
        '"process" row is a whole `aggregator` command measured by the kernel (wait4); an '
        '"in-process" row is `aggregator.pipeline.refresh(resolve([...]), RefreshOptions('
        "settings=load_settings()))` called in a fresh Python process (bench/child.py): its "
        "time is the call alone, its peak RSS that of the process (the interpreter with the "
        "pipeline imported included). Services are played by a loopback HTTP server in its "
        "own process (bench/serve.py), so its memory and CPU never count; on a machine with "
        "few cores it still competes for them.",
        "",
        "## Targets",
        "",
        *table(
            ["target", "measured", "ratio", "target", "met"],
            [
                [
                    t.name,
                    t.measured,
                    t.ratio or "—",
                    t.target,
                    {True: "yes", False: "**no**", None: "—"}[t.met],
                ]
                for t in targets
            ],
        ),
    ]
    for section in sections:
        lines += [f"## {section.title}", "", *section.body]
        if section.targets:
            lines += [*(verdict(t) for t in section.targets), ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    names = chosen()
    wanted = sizes()
    out = Path(os.environ.get("BENCH_OUT") or ROOT / "docs" / "benchmarks.md")
    started = datetime.now(UTC)
    # Read before the first write: the file written would count as a change to the code.
    code = revision()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="foodsec-bench-run-") as work:
        context = Context(Path(work), wanted)
        for name in names:
            log(f"scenario {name}")
            try:
                sections.append(SCENARIOS[name](context))
            except Exception:  # one broken scenario must not lose the others' figures
                log(f"scenario {name} failed:\n{traceback.format_exc()}")
                sections.append(
                    Section(
                        f"{name}: the scenario failed",
                        ["```", traceback.format_exc().strip()[-3000:], "```", ""],
                    )
                )
            out.write_text(render(sections, started, names, done=False, code=code))
    out.write_text(render(sections, started, names, done=True, code=code))
    log(f"wrote {out} ({out.stat().st_size / MB:.2f} MB)")
    print(out.read_text())


if __name__ == "__main__":
    sys.exit(main())
