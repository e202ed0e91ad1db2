"""The naive way to load an IPC /population answer, as a yardstick for the pipeline.

json.load of the whole answer, a plain Python loop to the long ipc_phases shape, a pandas
DataFrame, the pandera model of ipc_phases (schemas' IpcPhases, blocking checks only) and the
DataFrame into a fresh DuckDB file. No HTTP, no provenance, no warning checks, no transaction
around other tables: what a first script would do.
"""

from __future__ import annotations

import json
from calendar import monthrange
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from schemas import TABLES, columns

PERIODS = {
    "current": ("", "current_period_dates"),
    "first_projection": ("_projected", "projected_period_dates"),
    "second_projection": ("_second_projected", "second_projected_period_dates"),
}
PHASES = {
    "all": ("estimated_population", None),
    "3+": ("p3plus", "p3plus_percentage"),
    **{str(n): (f"phase{n}_population", f"phase{n}_percentage") for n in range(1, 6)},
}
ISO3 = {"AF": "AFG"}  # the generated answer is Afghanistan's


def _window(text: str) -> tuple[date, date] | None:
    if not text:
        return None
    start, _, end = text.partition(" - ")
    first = datetime.strptime(start, "%b %Y").date()
    last = datetime.strptime(end, "%b %Y").date()
    return first, last.replace(day=monthrange(last.year, last.month)[1])


def phase_rows(body: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for analysis in body:
        analysis_id = str(analysis["id"])
        units = [("national", analysis_id, analysis["country"], None, analysis)]
        for group in analysis.get("groups") or []:
            units.append(("group", str(group["id"]), group["name"], None, group))
            units += [("area", str(a["id"]), a["name"], group["name"], a) for a in group["areas"]]
        for period, (suffix, dates_key) in PERIODS.items():
            window = _window(analysis.get(dates_key) or "")
            if window is None:
                continue
            for level, unit_id, name, parent, figures in units:
                overall = figures.get(f"overall_phase{suffix}")
                for phase, (number_key, share_key) in PHASES.items():
                    number = figures.get(number_key + suffix)
                    if number is None:
                        continue
                    rows.append(
                        {
                            "source": "ipc_api",
                            "analysis_id": analysis_id,
                            "country_iso3": ISO3.get(analysis["country"], analysis["country"]),
                            "level": level,
                            "unit_id": unit_id,
                            "unit_name": name,
                            "parent_name": parent,
                            "period": period,
                            "period_start": window[0],
                            "period_end": window[1],
                            "period_granularity": "month",
                            "phase": phase,
                            "population": number,
                            "fraction": 1.0
                            if share_key is None
                            else figures.get(share_key + suffix),
                            "overall_phase": overall if level == "area" else None,
                            "fetch_id": "naive/1",
                        }
                    )
    return rows


def load(path: Path, database: Path) -> int:
    """The answer at ``path`` into table ipc_phases of a new DuckDB file; the rows loaded."""
    with path.open("rb") as handle:
        body = json.load(handle)
    frame = pd.DataFrame(phase_rows(body), columns=columns("ipc_phases"))
    del body
    frame = TABLES["ipc_phases"].model.validate(frame)
    with duckdb.connect(str(database)) as con:
        con.register("frame", frame)
        con.execute("create table ipc_phases as select * from frame")
        return con.execute("select count(*) from ipc_phases").fetchone()[0]
