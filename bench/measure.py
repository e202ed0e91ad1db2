"""Timing and memory of one run, and the median of several.

``run_process`` measures a whole process from the kernel's own accounting (wait4): wall time,
CPU time (user + system) and peak resident memory. ``run_child`` runs one in-process job
(bench/child.py) in a fresh Python process, which reports the time and CPU of the job alone
(after the interpreter started and the modules were imported) and its own peak RSS, so every
run starts from an empty heap. A watchdog stops a process whose resident memory passes a cap
(by default 90% of the memory available when it started): the run is then reported as failed,
never left to push the machine into swapping or the OOM killer.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024


class RunFailed(Exception):
    """A run that did not do its work: reported in the results, never raised out of a scenario."""


@dataclass
class Sample:
    wall: float
    cpu: float
    peak_mb: float
    detail: dict = field(default_factory=dict)


@dataclass
class Series:
    """The runs of one measured thing; figures are medians over the runs that succeeded."""

    label: str
    samples: list[Sample] = field(default_factory=list)
    failure: str | None = None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.samples) and self.failure is None and self.skipped is None

    def median(self, name: str) -> float | None:
        values = [getattr(s, name) for s in self.samples]
        return statistics.median(values) if values else None

    @property
    def wall(self) -> float | None:
        return self.median("wall")

    @property
    def cpu(self) -> float | None:
        return self.median("cpu")

    @property
    def peak_mb(self) -> float | None:
        return self.median("peak_mb")

    @property
    def note(self) -> str:
        return self.skipped or self.failure or ""


def runs() -> int:
    return max(1, int(os.environ.get("BENCH_RUNS") or 5))


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def memory_available() -> int:
    """MemAvailable from /proc/meminfo, in bytes (0 when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def default_cap() -> int | None:
    available = memory_available()
    return int(available * 0.9) if available else None


# Linux counts into a new process's peak RSS the peak of the memory it was forked or exec'ed
# from: a process started straight from the benchmark (hundreds of MB after generating data or
# building a warehouse) would report the benchmark's peak, not its own. So every measured
# process is started by this small launcher (a fresh interpreter with no site, ~10 MB), which
# times it and collects its rusage with wait4 and writes them to the file named first.
LAUNCHER = """
import json, os, sys, time
result, args = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.posix_spawnp(args[0], args, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
with open(result, "w") as out:
    json.dump([wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, status], out)
"""


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


class _Watchdog(threading.Thread):
    """Kills the launcher's child when its resident memory passes ``cap``."""

    def __init__(self, launcher: int, cap: int | None):
        super().__init__(daemon=True)
        self.launcher, self.cap = launcher, cap
        self.tripped = False
        self.done = threading.Event()

    def run(self) -> None:
        if not self.cap:
            return
        children = Path(f"/proc/{self.launcher}/task/{self.launcher}/children")
        while not self.done.wait(0.2):
            try:
                pids = [int(p) for p in children.read_text().split()]
                over = [p for p in pids if _rss(p) > self.cap]
            except (OSError, ValueError):
                continue  # between spawn and exec, or already gone
            for pid in over:
                self.tripped = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 9)


def run_process(
    args: list[str], env: dict[str, str], *, cap: int | None = None, cwd: Path | None = None
) -> Sample:
    """One process to its end: wall and CPU seconds and peak RSS, from wait4 (see LAUNCHER)."""
    cap = default_cap() if cap is None else cap
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "usage.json"
        launcher = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, str(result), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            cwd=cwd or ROOT,
        )
        watchdog = _Watchdog(launcher.pid, cap)
        watchdog.start()
        launcher.wait()
        watchdog.done.set()
        watchdog.join()
        if watchdog.tripped:
            raise RunFailed(
                f"stopped: resident memory passed the cap of {cap / 1024**3:.1f} GB "
                f"(90% of the memory available when it started)"
            )
        errors.seek(0)
        tail = errors.read().decode(errors="replace").strip()[-800:]
        if not result.is_file():
            raise RunFailed(f"the launcher failed (exit status {launcher.returncode}): {tail}")
        wall, cpu, peak_kb, status = json.loads(result.read_text())
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RunFailed(f"exit status {code}: {tail}")
    return Sample(wall, cpu, peak_kb / 1024)


def run_child(job: dict, env: dict[str, str], *, cap: int | None = None) -> Sample:
    """One in-process job (bench/child.py) in a fresh Python process: the job's own wall and
    CPU time, and the peak RSS of that process."""
    with tempfile.TemporaryDirectory(prefix="bench-child-") as folder:
        result, spec = Path(folder) / "result.json", Path(folder) / "job.json"
        # A job can list thousands of files (FTS pages): too long for a command line.
        spec.write_text(json.dumps(job))
        run_process(
            [sys.executable, "-m", "bench.child", str(spec), str(result)],
            {**env, "PYTHONPATH": str(ROOT)},
            cap=cap,
        )
        data = json.loads(result.read_text())
    return Sample(data["wall"], data["cpu"], data["peak_mb"], data.get("detail", {}))


def repeat(
    label: str,
    once: Callable[[], Sample],
    count: int | None = None,
    check: Callable[[Sample], str | None] | None = None,
) -> Series:
    """``count`` runs of ``once`` (BENCH_RUNS by default); the first failure ends the series.
    ``check`` looks at a run's result and names what is wrong with it, if anything."""
    series = Series(label)
    for number in range(1, (count or runs()) + 1):
        log(f"{label}: run {number}")
        try:
            sample = once()
        except RunFailed as exc:
            series.failure = str(exc)
            log(f"{label}: failed: {exc}")
            break
        problem = check(sample) if check else None
        if problem:
            series.failure = problem
            series.samples.append(sample)
            log(f"{label}: {problem}")
            break
        series.samples.append(sample)
    return series


def skipped(label: str, why: str) -> Series:
    log(f"{label}: skipped: {why}")
    return Series(label, skipped=why)
