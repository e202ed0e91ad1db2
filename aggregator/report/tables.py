"""The tables behind the report, for people who reuse the numbers: one XLSX workbook and one
CSV per table, written by aggregator.export (formula-like text neutralised there)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aggregator import compare, export
from aggregator.report.data import ReportData

DESCRIPTIONS = {
    "key_figures": "The key figures of the report: the official figure known on the as-of day "
    "per measure, its period, release date, source and download (fetch_id); for IPC the other "
    "period beside it; published_later when no release had come out by the as-of day; newer_* "
    "for a later release about the same day.",
    "claims": "Every press claim checked, as aggregator compare gives it, with the verdict in "
    "words (verdict_in_words).",
    "ipc_phases": "People and share per IPC phase for each analysis period released by the "
    "as-of day (the phase chart).",
    "aid_trucks": "Aid trucks per day up to the as-of day, UNRWA's daily counts and figures "
    "read from reports, the pre-war average included (the trucks chart).",
    "casualties": "Cumulative killed and injured per day up to the as-of day (the casualties "
    "chart).",
    "appeals": "Requirements and funding of each appeal begun by the as-of day (the appeals "
    "chart); funded_usd is empty where FTS publishes no funding.",
}


def frames(data: ReportData) -> dict[str, pd.DataFrame]:
    series = data.series
    claims = data.claims.assign(verdict_in_words=data.claims["verdict"].map(compare.VERDICTS))
    return {
        "key_figures": data.headline,
        "claims": claims,
        "ipc_phases": data.ipc,
        "aid_trucks": series[series["metric"] == "aid.trucks.daily"],
        "casualties": series[series["metric"].str.startswith("casualties.")],
        "appeals": data.appeals,
    }


def xlsx(data: ReportData, path: Path) -> Path:
    readme = export.Readme(
        title=f"{data.country.name}: food security, aid and press claims as of {data.as_of}",
        as_of=data.as_of,
        descriptions=DESCRIPTIONS,
        notes=(
            "Figures are those published by the as-of day; rows with published_later = true "
            "come from a release after it, as no earlier one exists in the warehouse.",
            f"Claims are from {data.claims_origin}.",
            "The comparison rules are in docs/methodology.md of foodsec-aggregator.",
        ),
    )
    export.write_xlsx(path, frames(data), readme=readme, provenance=data.provenance)
    return path


def csvs(data: ReportData, folder: Path, *, excel: bool, hxl: bool) -> list[Path]:
    """One CSV per table and provenance.csv; ``excel`` adds the byte-order mark Excel needs to
    read UTF-8, ``hxl`` the HXL hashtag row."""
    written = []
    for name, frame in {**frames(data), "provenance": data.provenance}.items():
        path = folder / f"{name}.csv"
        export.write_csv(frame, path, excel=excel, hxl=hxl)
        written.append(path)
    return written
