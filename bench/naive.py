"""The naive way to load each long-table source, as a yardstick for the pipeline.

IPC /population: json.load of the whole answer, a plain Python loop to the long ipc_phases
shape, a pandas DataFrame, the pandera model of ipc_phases (schemas' IpcPhases, blocking checks
only) and the DataFrame into a fresh DuckDB file. FTS: json.load of each page, a Python loop
flattening each flow, the same for fts_flows. IPC on HDX: pandas read_csv of each file, the
columns derived with pandas, the same for ipc_phases. No HTTP, no provenance, no warning checks, no transaction
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


def _into_duckdb(frame: pd.DataFrame, table: str, database: Path) -> int:
    """The frame checked by the table's pandera model, into a new DuckDB file; rows loaded."""
    frame = TABLES[table].model.validate(frame)
    with duckdb.connect(str(database)) as con:
        con.register("frame", frame)
        con.execute(f"create table {table} as select * from frame")
        return con.execute(f"select count(*) from {table}").fetchone()[0]


def load(path: Path, database: Path) -> int:
    """The answer at ``path`` into table ipc_phases of a new DuckDB file; the rows loaded."""
    with path.open("rb") as handle:
        body = json.load(handle)
    frame = pd.DataFrame(phase_rows(body), columns=columns("ipc_phases"))
    del body
    return _into_duckdb(frame, "ipc_phases", database)


# --- FTS flows --------------------------------------------------------------------------------


def _side(objects: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
    def of(kind: str) -> list[dict[str, Any]]:
        return [o for o in objects if o.get("type") == kind]

    def names(kind: str) -> str | None:
        return " | ".join(sorted({o["name"] for o in of(kind)})) or None

    orgs, locations, plans = of("Organization"), of("Location"), of("Plan")
    years = sorted({int(o["name"]) for o in of("UsageYear")})
    types = sorted({t for o in orgs for t in o.get("organizationTypes") or []})
    return {
        f"{prefix}_organization_id": orgs[0]["id"] if orgs else None,
        f"{prefix}_organization": orgs[0]["name"] if orgs else None,
        f"{prefix}_organization_names": " | ".join(o["name"] for o in orgs) or None,
        f"{prefix}_organization_types": " | ".join(types) or None,
        f"{prefix}_location_names": " | ".join(o["name"] for o in locations) or None,
        f"{prefix}_location_iso3s": None,  # a script would look these up; ours is left empty
        f"{prefix}_plan_id": plans[0]["id"] if plans else None,
        f"{prefix}_plan_names": " | ".join(o["name"] for o in plans) or None,
        f"{prefix}_cluster_names": names("Cluster"),
        f"{prefix}_global_cluster_names": names("GlobalCluster"),
        f"{prefix}_project_codes": ",".join(o.get("code") or o["id"] for o in of("Project"))
        or None,
        f"{prefix}_emergency_names": names("Emergency"),
        f"{prefix}_usage_years": ",".join(map(str, years)) or None,
        f"{prefix}_usage_year_start": years[0] if years else None,
        f"{prefix}_usage_year_end": years[-1] if years else None,
    }


def _joined(values: list[Any] | None) -> str | None:
    return ",".join(map(str, values)) if values else None


def flow_rows(body: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for flow in body["data"]["flows"]:
        rows.append(
            {
                "source": "fts",
                "query_key": "countryISO3=PSE&year=2020",
                "query_iso3": "PSE",
                "query_year": 2020,
                "flow_id": str(flow["id"]),
                "version": flow.get("versionId"),
                "amount_usd": flow["amountUSD"],
                "original_amount": flow.get("originalAmount"),
                "original_currency": flow.get("originalCurrency"),
                "exchange_rate": flow.get("exchangeRate"),
                "status": flow["status"],
                "flow_type": flow.get("flowType"),
                "contribution_type": flow.get("contributionType"),
                "method": flow.get("method"),
                "boundary": flow["boundary"],
                "on_boundary": flow.get("onBoundary"),
                "new_money": flow.get("newMoney"),
                "budget_year": flow.get("budgetYear"),
                **{
                    column: (flow.get(key) or "")[:10] or None
                    for column, key in (
                        ("date", "date"),
                        ("decision_date", "decisionDate"),
                        ("first_reported_date", "firstReportedDate"),
                    )
                },
                "created_at": (flow.get("createdAt") or "").rstrip("Z") or None,
                "updated_at": (flow.get("updatedAt") or "").rstrip("Z") or None,
                "parent_flow_id": flow.get("parentFlowId"),
                "child_flow_ids": _joined(flow.get("childFlowIds")),
                "keywords": _joined(flow.get("keywords")),
                "ref_code": flow.get("refCode"),
                "description": flow.get("description"),
                **_side(flow.get("sourceObjects") or [], "src"),
                **_side(flow.get("destinationObjects") or [], "dest"),
                "fetch_id": "naive/1",
            }
        )
    return rows


def load_fts(paths: list[Path], database: Path) -> int:
    """The flows of every page at ``paths`` into table fts_flows of a new DuckDB file."""
    rows = []
    for path in paths:
        with path.open("rb") as handle:
            rows += flow_rows(json.load(handle))
    frame = pd.DataFrame(rows, columns=columns("fts_flows"))
    del rows
    return _into_duckdb(frame, "fts_flows", database)


# --- IPC on HDX -------------------------------------------------------------------------------

HDX_LEVELS = {"national": "national", "level1": "group", "area": "area"}
HDX_PERIODS = {
    "current": "current",
    "first projection": "first_projection",
    "second projection": "second_projection",
}


def load_hdx(paths: list[Path], database: Path) -> int:
    """The three long CSVs into table ipc_phases of a new DuckDB file: pandas read_csv (the
    HXL row dropped), the long shape by pandas column operations, pandera, DuckDB."""
    frames = []
    for path in paths:
        level = next(v for k, v in HDX_LEVELS.items() if f"_{k}_" in path.name)
        csv = pd.read_csv(path, skiprows=[1], dtype=str, keep_default_na=False)
        csv = csv[csv["Number"] != ""]
        month = pd.to_datetime(csv["Date of analysis"], format="%b %Y").dt.strftime("%Y-%m")
        analysis = "hdx:" + csv["Country"] + ":" + month
        unit = {"national": analysis, "group": analysis + "|" + csv.get("Level 1", "")}
        unit["area"] = unit["group"] + "|" + csv.get("Area", "")
        frames.append(
            pd.DataFrame(
                {
                    "source": "ipc_hdx",
                    "analysis_id": analysis,
                    "country_iso3": csv["Country"],
                    "level": level,
                    "unit_id": unit[level],
                    "unit_name": csv["Area"]
                    if level == "area"
                    else csv["Level 1"]
                    if level == "group"
                    else csv["Country"],
                    "parent_name": csv["Level 1"] if level == "area" else None,
                    "period": csv["Validity period"].str.lower().map(HDX_PERIODS),
                    "period_start": pd.to_datetime(csv["From"]),
                    "period_end": pd.to_datetime(csv["To"]),
                    "period_granularity": "month",
                    "phase": csv["Phase"],
                    "population": pd.to_numeric(csv["Number"]),
                    "fraction": pd.to_numeric(csv["Percentage"].replace("", None)),
                    "overall_phase": None,
                    "fetch_id": "naive/1",
                }
            )
        )
    return _into_duckdb(pd.concat(frames, ignore_index=True), "ipc_phases", database)
