"""The PDF printer process (aggregator.report.pdf): real WeasyPrint in a real second process."""

from __future__ import annotations

import ctypes.util

import pytest

from aggregator.errors import AggregatorError
from aggregator.report.pdf import Printer

pytestmark = pytest.mark.skipif(
    ctypes.util.find_library("pango-1.0") is None, reason="WeasyPrint needs pango (libpango-1.0-0)"
)


def test_the_page_sent_is_printed(tmp_path):
    with Printer(tmp_path / "report.pdf") as printer:
        printer.send("<h1>Gaza: 1,107,000 people in IPC Phase 5</h1>")
        assert printer.wait() == tmp_path / "report.pdf"
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")


def test_a_page_that_would_load_something_fails_naming_the_file_and_url(tmp_path):
    page = '<img src="https://example.org/tracker.png">'
    with Printer(tmp_path / "report.pdf") as printer:
        printer.send(page)
        with pytest.raises(AggregatorError) as failed:
            printer.wait()
    message = str(failed.value)
    assert str(tmp_path / "report.pdf") in message
    assert "must load nothing" in message and "https://example.org/tracker.png" in message


def test_a_report_that_fails_before_the_page_stops_the_printer(tmp_path):
    with pytest.raises(RuntimeError), Printer(tmp_path / "report.pdf") as printer:
        raise RuntimeError("no data for the country")
    assert printer.process.returncode is not None
    assert not (tmp_path / "report.pdf").exists()
