"""IPC on HDX: the keyless path to IPC, into the same tables as the IPC API (source 'ipc_hdx').

Files (HDX dataset global-acute-food-insecurity-country-data, see ``hdx.DATASETS``):
ipc_global_national_long.csv, ipc_global_level1_long.csv and ipc_global_area_long.csv, built by
OCHA from the IPC API, with or without the HXL hashtag row 2. One row per country x date of
analysis x [Level 1 x Area] x validity period x phase.

The files carry no IPC ids, so ids are synthesized deterministically from what they do carry:
analysis "hdx:PSE:2024-05" from country and "Date of analysis"; group "hdx:PSE:2024-05|<Level 1>";
area "hdx:PSE:2024-05|<Level 1>|<Area>". From/To are month-granular as published (first and
last day of a month): ``period_granularity`` says 'month' when they are, 'day' otherwise. The
long files have no area classification, so ``overall_phase`` is empty. The resource's
last_modified date (the vintage on HDX) goes into ``ipc_analyses.modified``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pandas as pd

from aggregator.connectors import collector, hdx
from aggregator.connectors.ipc import ANALYSIS_COLUMNS, PHASE_COLUMNS, parse_month
from aggregator.errors import AggregatorError, ParseError
from aggregator.geo import country

SOURCE = "ipc_hdx"
DATASET_PAGE = "https://data.humdata.org/dataset/global-acute-food-insecurity-country-data"
FILE_LEVELS = {"national": "national", "level1": "group", "area": "area"}
PERIODS = {
    "current": "current",
    "first projection": "first_projection",
    "second projection": "second_projection",
}
COMMON = [
    "Date of analysis",
    "Country",
    "Total country population",
    "Validity period",
    "From",
    "To",
    "Phase",
    "Number",
    "Percentage",
]
REQUIRED = {
    "national": COMMON,
    "group": [*COMMON, "Level 1"],
    "area": [*COMMON, "Level 1", "Area"],
}
# Order in which files are read: the analysis row takes its figures from the first file.
LEVEL_ORDER = {"national": 0, "group": 1, "area": 2}


def level_of(resource_name: str) -> str | None:
    match = re.search(r"ipc_global_(national|level1|area)_long", resource_name, re.IGNORECASE)
    return FILE_LEVELS[match.group(1).lower()] if match else None


def analysis_ids(iso3s: pd.Series, months: pd.Series) -> pd.Series:
    """The analysis id of each row, "hdx:PSE:2024-05", from its country and its month of
    analysis as YYYY-MM."""
    return "hdx:" + iso3s + ":" + months


def parse(downloads: list[hdx.Download], countries: list[str]) -> dict[str, pd.DataFrame]:
    wanted = {country(c).iso3 for c in countries}
    ordered = sorted(
        ((level_of(d.resource.name), d) for d in downloads),
        key=lambda pair: LEVEL_ORDER.get(pair[0] or "", 9),
    )
    analyses: dict[str, dict[str, Any]] = {}
    frames = []
    for level, download in ordered:
        if level is None:
            raise ParseError(SOURCE, download.where, "not one of the ipc_global_*_long files")
        phases = parse_file(download, level, wanted)
        frames.append(phases)
        _note_analyses(analyses, phases, download)
    phases = (
        pd.concat(frames, ignore_index=True)[PHASE_COLUMNS]
        if frames
        else pd.DataFrame(columns=PHASE_COLUMNS)
    )
    return {
        "ipc_analyses": pd.DataFrame.from_records(
            list(analyses.values()), columns=ANALYSIS_COLUMNS
        ),
        "ipc_phases": phases.reset_index(drop=True),
    }


def parse_file(download: hdx.Download, level: str, wanted: set[str]) -> pd.DataFrame:
    """One ipc_global_*_long.csv to ipc_phases rows (plus the analysis columns, for the caller)."""
    with collector.paused():  # a list per row: no cycle to look for
        raw = hdx.read_csv_frame(download, REQUIRED[level])
    raw = raw.assign(**{c: raw[c].str.strip() for c in REQUIRED[level]})
    if wanted:
        raw = raw[raw["Country"].isin(wanted)]
    # Phases IPC did not estimate are published empty: no row, as for the IPC API.
    raw = raw[raw["Number"] != ""].reset_index(drop=True)

    def fail(mask: pd.Series, column: str, why: str) -> None:
        if mask.any():
            row = raw[mask].iloc[0]
            raise ParseError(
                SOURCE,
                f"{download.where} row {row['_record']}",
                f"column {column!r}: {why}: {row[column]!r}",
            )

    number = pd.to_numeric(raw["Number"], errors="coerce")
    fail(~_whole(number), "Number", "not a whole number")
    fail(number < 0, "Number", "a negative number of people")
    share = pd.to_numeric(raw["Percentage"].replace("", None), errors="coerce")
    fail(share.isna() & (raw["Percentage"] != ""), "Percentage", "not a number")
    total = pd.to_numeric(raw["Total country population"].replace("", None), errors="coerce")
    fail(
        total.isna() & (raw["Total country population"] != ""),
        "Total country population",
        "not a number",
    )
    fail(total.notna() & ~_whole(total), "Total country population", "not a whole number")
    start = pd.to_datetime(raw["From"], format="%Y-%m-%d", errors="coerce")
    end = pd.to_datetime(raw["To"], format="%Y-%m-%d", errors="coerce")
    fail(start.isna(), "From", "not a YYYY-MM-DD date")
    fail(end.isna(), "To", "not a YYYY-MM-DD date")
    period = raw["Validity period"].str.lower().map(PERIODS)
    fail(period.isna(), "Validity period", f"not one of {list(PERIODS)}")

    months: dict[str, date] = {}
    for text in raw["Date of analysis"].unique():
        try:
            months[text] = parse_month(text)
        except ValueError:
            fail(raw["Date of analysis"] == text, "Date of analysis", "not a 'Mon YYYY' month")
    iso2: dict[str, str] = {}
    for code in raw["Country"].unique():
        try:
            if len(code) != 3:
                raise AggregatorError("not an ISO3 code")
            iso2[code] = country(code).iso2
        except AggregatorError:
            fail(raw["Country"] == code, "Country", "not an ISO 3166-1 alpha-3 code")

    analysed = raw["Date of analysis"].map(months)
    ids = analysis_ids(
        raw["Country"], raw["Date of analysis"].map({t: f"{m:%Y-%m}" for t, m in months.items()})
    )
    if level == "national":
        unit_id = ids
        unit_name = raw["Country"].map({c: country(c).name for c in iso2})
        parent = pd.Series([None] * len(raw), dtype=object)
    elif level == "group":
        unit_id = ids + "|" + raw["Level 1"]
        unit_name = raw["Level 1"]
        parent = pd.Series([None] * len(raw), dtype=object)
    else:
        unit_id = ids + "|" + raw["Level 1"] + "|" + raw["Area"]
        unit_name = raw["Area"]
        parent = raw["Level 1"].replace("", None)
    month_grained = (start.dt.day == 1) & end.dt.is_month_end
    return pd.DataFrame(
        {
            "source": SOURCE,
            "analysis_id": ids,
            "country_iso3": raw["Country"],
            "level": level,
            "unit_id": unit_id,
            "unit_name": unit_name,
            "parent_name": parent,
            "period": period,
            "period_start": start,
            "period_end": end,
            "period_granularity": month_grained.map({True: "month", False: "day"}),
            "phase": raw["Phase"],
            "population": number.astype("Int64"),
            "fraction": share.astype(float),
            "overall_phase": pd.Series([None] * len(raw), dtype="Int64"),
            "fetch_id": download.fetch_id,
            # For the analysis rows, dropped by the caller:
            "a_iso2": raw["Country"].map(iso2),
            "a_analysed": analysed,
            "a_total": total.astype("Int64"),
        }
    )


def _whole(values: pd.Series) -> pd.Series:
    """Whole numbers a count can be: finite, and below 2**53, where floats stop holding every
    whole number (the Int64 columns would refuse them)."""
    return values.notna() & (values % 1 == 0) & (values.abs() < 2**53)


def _note_analyses(
    analyses: dict[str, dict[str, Any]], phases: pd.DataFrame, download: hdx.Download
) -> None:
    published = download.published_on
    firsts = phases.drop_duplicates("analysis_id")
    for row in firsts.itertuples(index=False):
        known = analyses.get(row.analysis_id)
        if known is not None:
            known["modified"] = max(known["modified"], published)
            continue
        name = country(row.country_iso3).name
        total = row.a_total
        analyses[row.analysis_id] = {
            "source": SOURCE,
            "analysis_id": row.analysis_id,
            "country_iso2": row.a_iso2,
            "country_iso3": row.country_iso3,
            "title": f"IPC acute food insecurity, {name} {row.a_analysed:%b %Y} (via HDX)",
            "condition": "A",
            "analysis_date": row.a_analysed,
            "created": None,
            "modified": published,
            "link": DATASET_PAGE,
            "country_population": None if pd.isna(total) else int(total),
            "fetch_id": download.fetch_id,
        }
