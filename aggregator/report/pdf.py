"""The report's PDF, printed by WeasyPrint in a second process: ``python -m
aggregator.report.pdf OUT`` reads the page on stdin and writes OUT.

The printer starts before the page is ready, so loading WeasyPrint (about 0.7 s) overlaps
gathering the data and drawing the charts, and printing overlaps writing the workbook and the
CSVs. It loads nothing: its URL fetcher refuses every request, so a stray reference in the
page fails the report instead of reaching the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from aggregator.errors import AggregatorError

PANGO_MISSING = (
    "the PDF needs the pango library ({}): apt-get install libpango-1.0-0 libpangoft2-1.0-0, "
    "or leave pdf out of --format"
)


class Printer:
    """A printer process for ``path``: ``send`` it the page, ``wait`` for the file."""

    def __init__(self, path: Path):
        self.path = path
        # The child imports this package from where this process found it.
        package_root = str(Path(__file__).resolve().parents[2])
        paths = [package_root, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(path)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(paths)},
        )

    def send(self, page: str) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(page.encode("utf-8"))
            self.process.stdin.close()
        except BrokenPipeError:  # it failed to start: wait() tells why
            pass

    def wait(self) -> Path:
        assert self.process.stderr is not None
        told = self.process.stderr.read().decode("utf-8", "replace").strip()
        if self.process.wait() != 0:
            reason = told.splitlines()[-1] if told else f"exit status {self.process.returncode}"
            raise AggregatorError(f"cannot print {self.path}: {reason}")
        return self.path

    def __enter__(self) -> Printer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:  # the report failed before the page was sent
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.process.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


def _print(out: Path) -> None:
    try:
        from weasyprint import HTML
        from weasyprint.urls import FatalURLFetchingError, URLFetcher
    except OSError as exc:  # WeasyPrint loads pango from the system when imported
        sys.exit(PANGO_MISSING.format(exc))

    class Offline(URLFetcher):
        def fetch(self, url, headers=None):
            raise FatalURLFetchingError(f"the report must load nothing, but asked for {url}")

    page = sys.stdin.buffer.read().decode("utf-8")
    try:
        HTML(string=page, url_fetcher=Offline()).write_pdf(out)
    except Exception as exc:  # the parent names the file; the reason goes on stderr
        sys.exit(f"{type(exc).__name__}: {exc}")


if __name__ == "__main__":
    _print(Path(sys.argv[1]))
