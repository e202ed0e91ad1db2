"""What a refresh shows while it runs: a live progress display on a terminal, plain lines
otherwise (cron, CI, a pipe), and the same summary table at the end in both cases."""

from __future__ import annotations

import sys
import threading

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from aggregator.http import FetchRecord


class Reporter:
    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self._lock = threading.Lock()
        self._tasks: dict[str, int] = {}
        self._counts: dict[str, list[int]] = {}
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[source]:<14}"),
            BarColumn(bar_width=None),
            TextColumn("{task.fields[requests]} requests, {task.fields[mb]:.1f} MB"),
            TimeElapsedColumn(),
            console=self.console,
            transient=True,
        )

    def __enter__(self) -> Reporter:
        if self.live:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.progress.stop()

    def on_event(self, event: str, record: FetchRecord) -> None:
        with self._lock:
            counts = self._counts.setdefault(record.source, [0, 0])
            if event == "start":
                counts[0] += 1
            if self.live:
                self._update_live(record, counts, event)
            elif event == "done":
                self._print_line(record)

    def _update_live(self, record: FetchRecord, counts: list[int], event: str) -> None:
        if record.source not in self._tasks:
            self._tasks[record.source] = self.progress.add_task(
                "", total=None, source=record.source, requests=0, mb=0.0
            )
        if event == "done" and record.bytes:
            counts[1] += record.bytes
        self.progress.update(self._tasks[record.source], requests=counts[0], mb=counts[1] / 1e6)

    def _print_line(self, record: FetchRecord) -> None:
        if record.error:
            what = f"failed: {record.error}"
        elif record.not_modified:
            what = "304 not modified"
        elif record.status is None:
            what = f"read {record.bytes or 0:,} bytes"
        else:
            what = f"{record.status} {record.bytes or 0:,} bytes"
        retries = (
            f" after {record.attempts} attempts" if record.attempts > 1 and not record.error else ""
        )
        verb = "GET" if record.status is not None or record.error else "READ"
        print(
            f"{record.source}: {verb} {record.url} -> {what}{retries}", file=sys.stderr, flush=True
        )

    def summary(self, results) -> Table:
        table = Table(title="Refresh summary", show_lines=False)
        for column in (
            "source",
            "status",
            "rows",
            "warnings",
            "rejected",
            "not modified",
            "message",
        ):
            table.add_column(
                column,
                justify="right"
                if column in ("rows", "warnings", "rejected", "not modified")
                else "left",
            )
        styles = {
            "published": "green",
            "not_modified": "cyan",
            "skipped": "yellow",
            "failed": "bold red",
        }
        for r in results:
            table.add_row(
                r.source,
                f"[{styles[r.outcome]}]{r.outcome}[/]",
                f"{r.rows:,}",
                f"{r.warnings:,}",
                f"{r.rejected:,}",
                f"{r.not_modified}/{len(r.fetches)}",
                r.message or "",
            )
        return table
