"""The country report: key figures as known on an as-of day, the press claims checked, charts,
method and provenance, as one self-contained HTML page, a PDF of it, and the tables behind it
as XLSX and CSV. Built from the warehouse alone (`aggregator report`)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import nullcontext
from datetime import date
from pathlib import Path

from aggregator.geo import Country
from aggregator.report.pdf import Printer

FORMATS = ("html", "pdf", "xlsx", "csv")


def build(
    warehouse: Path,
    country: Country,
    as_of: date,
    out: Path,
    *,
    formats: Iterable[str] = FORMATS,
    claims_file: Path | None = None,
    excel: bool = False,
    hxl: bool = False,
) -> list[Path]:
    """Writes the report into out/<ISO3>-<as-of>/ and returns the files written."""
    from aggregator.report import render, tables
    from aggregator.report.data import gather

    wanted = set(formats)
    folder = out / f"{country.iso3}-{as_of:%Y-%m-%d}"
    # The PDF's printer starts first, to load WeasyPrint while the page is made.
    with Printer(folder / "report.pdf") if "pdf" in wanted else nullcontext() as printer:
        data = gather(warehouse, country, as_of, claims_file)
        folder.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        if wanted & {"html", "pdf"}:
            page = render.html(data)
            if "html" in wanted:
                written.append(folder / "report.html")
                written[-1].write_text(page, encoding="utf-8")
            if printer:
                printer.send(page)
                written.append(printer.path)
        if "xlsx" in wanted:
            written.append(tables.xlsx(data, folder / "report.xlsx"))
        if "csv" in wanted:
            written += tables.csvs(data, folder, excel=excel, hxl=hxl)
        if printer:
            printer.wait()
    return written
