"""Benchmarks (`make bench`, not part of `make test`): each scenario runs as a whole
`aggregator` process at least five times; the median wall time, CPU time and peak RSS are
written to docs/benchmarks.md with the machine and versions.

Scenarios so far: `aggregator --help` (start-up cost of the CLI) and `aggregator report` on
the demo snapshot (all formats). The demo warehouse is replayed into a temporary data
directory first, so the numbers do not depend on what is in data/.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGGREGATOR = str(Path(sys.executable).with_name("aggregator"))
RUNS = 5


@dataclass
class Measure:
    scenario: str
    command: str
    target: str
    wall: float
    cpu: float
    peak_mb: float

    def row(self) -> str:
        return (
            f"| {self.scenario} | `{self.command}` | {self.wall:.2f} s | {self.cpu:.2f} s | "
            f"{self.peak_mb:.0f} MB | {self.target} |"
        )


def run_once(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall and CPU seconds and peak RSS (MB) of one process, from wait4's own accounting."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} failed: {process.stderr.read().decode()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(scenario: str, args: list[str], env: dict[str, str], target: str) -> Measure:
    runs = [run_once(args, env) for _ in range(RUNS)]
    wall, cpu, peak = (statistics.median(values) for values in zip(*runs, strict=True))
    shown = " ".join(["aggregator", *args[1:]]).replace(str(Path(args[-1]).parent), "TMP")
    return Measure(scenario, shown, target, wall, cpu, peak)


def demo_env(folder: Path) -> dict[str, str]:
    data = folder / "data"
    for name in ("reference", "claims"):
        shutil.copytree(ROOT / "data" / name, data / name)
    env = {**os.environ, "AGGREGATOR_DATA_DIR": str(data), "AGGREGATOR_HAPI_PAUSE": "0"}
    env.pop("AGGREGATOR_WAREHOUSE", None)
    subprocess.run(
        [AGGREGATOR, "refresh", "--replay", str(ROOT / "data" / "demo")],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return env


def report(measures: list[Measure]) -> str:
    packages = ", ".join(
        f"{p} {version(p)}" for p in ("duckdb", "pandas", "pandera", "httpx", "weasyprint")
    )
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); do not edit by hand. Each figure is the median",
        f"of {RUNS} runs of a whole `aggregator` process: wall time, CPU time (user + system)",
        "and peak resident memory, as the kernel accounts them for that process (wait4).",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; {packages}.",
        "",
        "| scenario | command | wall | CPU | peak RSS | target |",
        "|---|---|---|---|---|---|",
        *(m.row() for m in measures),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = demo_env(Path(folder))
        out = Path(folder) / "reports"
        measures = [
            measure("CLI start-up", [AGGREGATOR, "--help"], env, "≤ 0.5 s"),
            measure(
                "report on the demo, all formats",
                [
                    AGGREGATOR,
                    "report",
                    "--country",
                    "PSE",
                    "--as-of",
                    "2024-03-22",
                    "--out",
                    str(out),
                ],
                env,
                "≤ 5 s",
            ),
        ]
    text = report(measures)
    (ROOT / "docs" / "benchmarks.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
