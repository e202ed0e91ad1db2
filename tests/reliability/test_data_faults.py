"""Data faults: every source served data that breaks its documented shape or rules.

Each scenario starts from a copy of one baseline warehouse (every source refreshed once from
the demo snapshot), alters what one source serves (the reply body of one request, through the
loopback services' per-host faults, or a curated CSV written into data/reference or
data/claims), and refreshes that source alone. Four kinds of outcome are expected:

* shape error (a field missing or renamed, a number written as text): the connector's
  ParseError names source, request or file, row or item and field; the source fails;
* blocking rule (a value out of range, a duplicate key, a date after the period's end): the
  source fails and every failure case is a row of ``rejects`` and of
  data/rejects/RUN/SOURCE.TABLE.csv naming table, check, column, row, value and key;
* warning (IPC phases that do not add up, a cumulative count that goes down): published,
  with the warning rows in ``rejects`` and the CSV;
* an added field or column in a remote source: ignored, the tables exactly as before. (The
  curated CSVs are stricter by design, data/reference/README.md: an unknown column is a
  misspelt one, whose data would otherwise be dropped silently, so it stops the source.)

A failed source publishes nothing: the warehouse keeps every row of the snapshot taken before
(rows lost 0), and the next clean refresh succeeds with the same rows.

An FTS flow repeated within one query (a flow read on two pages) is a blocking error, as
schemas/fts_flows.py declares (unique source, query_key, flow_id) and
aggregator/connectors/fts.py documents: pages read from a listing that moved while it was
read may also have skipped a flow, so that query's rows are not published.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from aggregator.config import load_settings
from aggregator.export.cells import unneutralise
from aggregator.pipeline import SourceResult, refresh
from aggregator.sources import RefreshOptions, resolve
from tests.conftest import DEMO, ROOT
from tests.integration.loopback import Reply, Seen
from tests.integration.services import SOURCE_HOSTS, Services, serve_all

from .observe import CANARIES, HAPI_CANARY, IPC_CANARY, fact_rows, rows_lost

# --- what a scenario expects ------------------------------------------------------------------


@dataclass(frozen=True)
class Parse:
    """The connector refuses the shape: a ParseError naming each of ``names``."""

    names: tuple[str, ...]

    def describe(self) -> str:
        return f"failed: ParseError naming {', '.join(self.names)}; nothing published"


@dataclass(frozen=True)
class Reject:
    """A blocking check fails: rejects rows (severity error) in the warehouse and the CSV."""

    table: str
    check: str  # part of the check name
    column: str  # part of the column name
    value: str  # part of the value shown
    # Downloads (fetch ids) the matching cases come from: 2 for a key repeated across two
    # files or two pages, each copy named with its own.
    downloads: int = 1

    severity = "error"

    def describe(self) -> str:
        return (
            f"failed: {self.table}.{self.column} {self.value!r} rejected by {self.check}, "
            "row and key in rejects and the rejects CSV; nothing published"
        )


@dataclass(frozen=True)
class Warn(Reject):
    """A warning check fails: published, the warning rows in rejects and the CSV."""

    severity = "warning"

    def describe(self) -> str:
        return (
            f"published with a warning: {self.table}.{self.column} {self.value!r} flagged by "
            f"{self.check} in rejects and the rejects CSV"
        )


@dataclass(frozen=True)
class Ignored:
    """An added field or column: published, no rejects, the tables exactly as before."""

    def describe(self) -> str:
        return "published, the extra field ignored: no rejects, every row as before"


Expect = Parse | Reject | Warn | Ignored


@dataclass(frozen=True)
class Fault:
    source: str
    name: str
    # Remote: a regular expression searched in the request target; curated: the file written.
    target: str
    change: Callable[[bytes], bytes]  # the normal body (or curated file) -> the faulty one
    expect: Expect

    @property
    def id(self) -> str:
        return f"{self.source}-" + re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")


# --- body transformations ---------------------------------------------------------------------


def json_change(edit: Callable[[Any], None]) -> Callable[[bytes], bytes]:
    def change(body: bytes) -> bytes:
        doc = json.loads(body)
        edit(doc)
        return json.dumps(doc, indent=1).encode()

    return change


def csv_change(edit: Callable[[list[list[str]]], None]) -> Callable[[bytes], bytes]:
    """Edits the records of a CSV (header first), written back as CSV."""

    def change(body: bytes) -> bytes:
        records = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
        edit(records)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(records)
        return out.getvalue().encode()

    return change


def set_cell(row: int, column: str, value: str) -> Callable[[list[list[str]]], None]:
    """Record ``row`` (the header is 0) gets ``value`` in ``column``."""

    def edit(records: list[list[str]]) -> None:
        records[row][records[0].index(column)] = value

    return edit


def drop_column(column: str) -> Callable[[list[list[str]]], None]:
    def edit(records: list[list[str]]) -> None:
        at = records[0].index(column)
        for record in records:
            del record[at]

    return edit


def rename_column(old: str, new: str) -> Callable[[list[list[str]]], None]:
    return set_cell(0, old, new)


def add_column(name: str, value: str) -> Callable[[list[list[str]]], None]:
    def edit(records: list[list[str]]) -> None:
        records[0].append(name)
        for record in records[1:]:
            record.append("" if record[0].startswith("#") else value)

    return edit


def repeat_record(row: int) -> Callable[[list[list[str]]], None]:
    def edit(records: list[list[str]]) -> None:
        records.append(list(records[row]))

    return edit


def only_records(*rows: int) -> Callable[[list[list[str]]], None]:
    """Keeps the header and the given records: a second curated file repeating them."""

    def edit(records: list[list[str]]) -> None:
        records[:] = [records[0], *(records[r] for r in rows)]

    return edit


def then(*edits: Callable[[list[list[str]]], None]) -> Callable[[list[list[str]]], None]:
    def edit(records: list[list[str]]) -> None:
        for each in edits:
            each(records)

    return edit


def set_field(path: tuple, value: Any) -> Callable[[Any], None]:
    def edit(doc: Any) -> None:
        *parents, last = path
        for key in parents:
            doc = doc[key]
        doc[last] = value

    return edit


def drop_field(path: tuple) -> Callable[[Any], None]:
    def edit(doc: Any) -> None:
        *parents, last = path
        for key in parents:
            doc = doc[key]
        del doc[last]

    return edit


def rename_field(path: tuple, new: str) -> Callable[[Any], None]:
    def edit(doc: Any) -> None:
        *parents, last = path
        for key in parents:
            doc = doc[key]
        doc[new] = doc.pop(last)

    return edit


def add_field(items: Callable[[Any], list[dict]], name: str, value: Any) -> Callable[[Any], None]:
    def edit(doc: Any) -> None:
        for item in items(doc):
            item[name] = value

    return edit


def append_copy(items: Callable[[Any], list], index: int, **changes: Any) -> Callable[[Any], None]:
    def edit(doc: Any) -> None:
        found = items(doc)
        found.append({**copy.deepcopy(found[index]), **changes})

    return edit


# --- the faults -------------------------------------------------------------------------------

IPC = r"/api\.ipcinfo\.org/"
IPC_POP = r"/api\.ipcinfo\.org/population\?"
HDX_NATIONAL = "ipc_global_national_long.csv"
TRUCKS = "commodities-received.csv"
HAPI_FS = r"/food-security-nutrition-poverty/food-security\?"
FTS_PAGE1 = r"/fts/flow\?countryISO3=PSE&year=2020$"
FTS_PAGE2 = r"/fts/flow\?countryISO3=PSE&year=2020&page=2$"
FTS_2024 = r"/progress/2024$"
CASUALTIES = r"/casualties_daily\.json$"
REFERENCE = "unrwa-situation-reports.csv"
CLAIMS = "2024-03-22-netanyahu-blinken-rafah.csv"
NEW_ANALYSIS = "79990001"  # an IPC analysis id the demo does not have


def hapi_rows(doc: Any) -> list[dict]:
    return doc["data"]


def flows(doc: Any) -> list[dict]:
    return doc["data"]["flows"]


def every_ipc_unit(doc: Any) -> list[dict]:
    return [*doc, *(area for analysis in doc for area in analysis.get("areas") or [])]


def ipc_new_analysis_not_adding_up(doc: Any) -> None:
    """A new acute analysis whose phases 1-5 exceed its total by 500,000 (current period)."""
    if isinstance(doc[0], dict) and "view_level" in doc[0]:  # /population
        doc.append({**copy.deepcopy(doc[1]), "id": NEW_ANALYSIS, "phase1_population": 500_000})
    else:  # /analyses?type=A
        doc.append({**doc[1], "id": NEW_ANALYSIS})


def fts_repeat_flow_on_page_2(doc: Any) -> None:
    page_1 = DEMO / "api.hpc.tools/v1/public/fts/flow@countryISO3=PSE&year=2020.body"
    flows(doc).append(flows(json.loads(page_1.read_bytes()))[0])


REMOTE: list[Fault] = [
    # IPC API
    Fault(
        "ipc_api",
        "field missing: analysis_date",
        IPC_POP,
        json_change(drop_field((1, "analysis_date"))),
        Parse(("70000324", "analysis_date")),
    ),
    Fault(
        "ipc_api",
        "field renamed: country to country_code",
        IPC_POP,
        json_change(rename_field((0, "country"), "country_code")),
        Parse(("70000612", "country")),
    ),
    Fault(
        "ipc_api",
        "field added: famine_risk on every analysis and area",
        IPC_POP,
        json_change(add_field(every_ipc_unit, "famine_risk", "high")),
        Ignored(),
    ),
    Fault(
        "ipc_api",
        "number as text: phase3_population '578,000'",
        IPC_POP,
        json_change(set_field((1, "phase3_population"), "578,000")),
        Reject("ipc_phases", "coerce_dtype", "population", "578,000"),
    ),
    Fault(
        "ipc_api",
        "out of range: negative phase2_population",
        IPC_POP,
        json_change(set_field((1, "phase2_population"), -96000)),
        Reject("ipc_phases", "greater_than_or_equal_to", "population", "-96000"),
    ),
    Fault(
        "ipc_api",
        "out of range: phase3_percentage 1.7",
        IPC_POP,
        json_change(set_field((1, "phase3_percentage"), 1.7)),
        Reject("ipc_phases", "less_than_or_equal_to", "fraction", "1.7"),
    ),
    Fault(
        "ipc_api",
        "date in 2099: current period 'Jan 2099 - Mar 2024'",
        IPC_POP,
        json_change(set_field((1, "current_period_dates"), "Jan 2099 - Mar 2024")),
        Parse(("70000324", "'Jan 2099 - Mar 2024'")),
    ),
    Fault(
        "ipc_api",
        "duplicate key: an analysis listed twice",
        IPC_POP,
        json_change(append_copy(lambda doc: doc, 1)),
        Reject("ipc_analyses", "uniqueness", "analysis_id", "70000324"),
    ),
    Fault(
        "ipc_api",
        "phases 1-5 do not add up to the total",
        IPC,
        json_change(ipc_new_analysis_not_adding_up),
        Warn("ipc_phases", "phases_1_to_5_add_up_to_all", "population", "2227000"),
    ),
    # IPC on HDX (the national long file)
    Fault(
        "ipc_hdx",
        "column missing: Percentage",
        HDX_NATIONAL,
        csv_change(drop_column("Percentage")),
        Parse((HDX_NATIONAL, "missing column(s) ['Percentage']")),
    ),
    Fault(
        "ipc_hdx",
        "column renamed: Phase to IPC Phase",
        HDX_NATIONAL,
        csv_change(rename_column("Phase", "IPC Phase")),
        Parse((HDX_NATIONAL, "missing column(s) ['Phase']")),
    ),
    Fault(
        "ipc_hdx",
        "column added: Notes",
        HDX_NATIONAL,
        csv_change(add_column("Notes", "checked")),
        Ignored(),
    ),
    Fault(
        "ipc_hdx",
        "number as text: Number '2,227,000'",
        HDX_NATIONAL,
        csv_change(set_cell(2, "Number", "2,227,000")),
        Parse((HDX_NATIONAL, "row 3", "'Number'", "'2,227,000'")),
    ),
    Fault(
        "ipc_hdx",
        "out of range: negative Number",
        HDX_NATIONAL,
        csv_change(set_cell(5, "Number", "-96000")),
        Parse((HDX_NATIONAL, "row 6", "'Number'", "a negative number of people", "'-96000'")),
    ),
    Fault(
        "ipc_hdx",
        "out of range: Percentage 1.7",
        HDX_NATIONAL,
        csv_change(set_cell(6, "Percentage", "1.7")),
        Reject("ipc_phases", "less_than_or_equal_to", "fraction", "1.7"),
    ),
    Fault(
        "ipc_hdx",
        "date in 2099: From after To",
        HDX_NATIONAL,
        csv_change(set_cell(2, "From", "2099-02-01")),
        Reject("ipc_phases", "period_start_not_after_end", "period_start", "2099-02-01"),
    ),
    Fault(
        "ipc_hdx",
        "duplicate key: a row repeated",
        HDX_NATIONAL,
        csv_change(repeat_record(4)),
        Reject("ipc_phases", "uniqueness", "phase", "phase=1"),
    ),
    # UNRWA trucks
    Fault(
        "unrwa_trucks",
        "column missing: Crossing",
        TRUCKS,
        csv_change(drop_column("Crossing")),
        Parse((TRUCKS, "missing column(s) ['Crossing']")),
    ),
    Fault(
        "unrwa_trucks",
        "column renamed: No. of Trucks to Trucks",
        TRUCKS,
        csv_change(rename_column("No. of Trucks", "Trucks")),
        Parse((TRUCKS, "missing column(s) ['No. of Trucks']")),
    ),
    Fault(
        "unrwa_trucks",
        "column added: Driver",
        TRUCKS,
        csv_change(add_column("Driver", "unknown")),
        Ignored(),
    ),
    Fault(
        "unrwa_trucks",
        "number as text: No. of Trucks 'n/a'",
        TRUCKS,
        csv_change(set_cell(7, "No. of Trucks", "n/a")),
        Parse((TRUCKS, "row 8", "'No. of Trucks'", "'n/a'")),
    ),
    Fault(
        "unrwa_trucks",
        "date as text: Received Date '22/03/2024'",
        TRUCKS,
        csv_change(set_cell(3, "Received Date", "22/03/2024")),
        Parse((TRUCKS, "row 4", "'Received Date'", "'22/03/2024'")),
    ),
    Fault(
        "unrwa_trucks",
        "out of range: negative No. of Trucks",
        TRUCKS,
        csv_change(set_cell(9, "No. of Trucks", "-1")),
        Parse((TRUCKS, "row 10", "'No. of Trucks'", "a negative number of trucks", "'-1'")),
    ),
    Fault(
        "unrwa_trucks",
        "out of range: negative Quantity",
        TRUCKS,
        csv_change(set_cell(2, "Quantity", "-20")),
        Reject("aid_trucks", "greater_than_or_equal_to", "quantity", "-20"),
    ),
    Fault(
        "unrwa_trucks",
        "duplicate key: a consignment repeated",
        TRUCKS,
        csv_change(repeat_record(5)),
        Reject("aid_trucks", "uniqueness", "consignment_id", "consignment_id="),
    ),
    # HDX HAPI
    Fault(
        "hapi",
        "field missing: ipc_phase",
        HAPI_FS,
        json_change(drop_field(("data", 3, "ipc_phase"))),
        Parse(("row 3", "'ipc_phase'")),
    ),
    Fault(
        "hapi",
        "field renamed: population_in_phase to population",
        HAPI_FS,
        json_change(rename_field(("data", 5, "population_in_phase"), "population")),
        Parse(("row 5", "'population_in_phase'")),
    ),
    Fault(
        "hapi",
        "field added: population_min",
        HAPI_FS,
        json_change(add_field(hapi_rows, "population_min", 0)),
        Ignored(),
    ),
    Fault(
        "hapi",
        "number as text: population_in_phase '107,573'",
        HAPI_FS,
        json_change(set_field(("data", 3, "population_in_phase"), "107,573")),
        Parse(("row 3", "'population_in_phase'", "'107,573'")),
    ),
    Fault(
        "hapi",
        "out of range: negative population_in_phase",
        HAPI_FS,
        json_change(set_field(("data", 3, "population_in_phase"), -107573)),
        Reject("hapi_food_security", "greater_than_or_equal_to", "population_in", "-107573"),
    ),
    Fault(
        "hapi",
        "out of range: population_fraction_in_phase 1.7",
        HAPI_FS,
        json_change(set_field(("data", 4, "population_fraction_in_phase"), 1.7)),
        Reject("hapi_food_security", "less_than_or_equal_to", "population_fraction", "1.7"),
    ),
    Fault(
        "hapi",
        "date in 2099: reference_period_start after its end",
        HAPI_FS,
        json_change(set_field(("data", 2, "reference_period_start"), "2099-05-01T00:00:00")),
        Reject("hapi_food_security", "period_start_not_after_end", "reference_period", "2099"),
    ),
    Fault(
        "hapi",
        "duplicate key: a row repeated",
        HAPI_FS,
        json_change(append_copy(hapi_rows, 6)),
        Reject("hapi_food_security", "uniqueness", "ipc_phase", "location_code=PSE"),
    ),
    # OCHA FTS
    Fault(
        "fts",
        "field missing: amountUSD",
        FTS_PAGE1,
        json_change(drop_field(("data", "flows", 1, "amountUSD"))),
        Parse(("flow 1", "(id 202742)", "'amountUSD'")),
    ),
    Fault(
        "fts",
        "field renamed: status to flowStatus",
        FTS_PAGE2,
        json_change(rename_field(("data", "flows", 0, "status"), "flowStatus")),
        Parse(("page=2", "flow 0", "(id 138397)", "'status'")),
    ),
    Fault(
        "fts",
        "field added: grandBargainScore",
        FTS_PAGE1,
        json_change(add_field(flows, "grandBargainScore", 3)),
        Ignored(),
    ),
    Fault(
        "fts",
        "number as text: amountUSD '28,068,393'",
        FTS_PAGE1,
        json_change(set_field(("data", "flows", 0, "amountUSD"), "28,068,393")),
        Parse(("flow 0", "(id 194900)", "amountUSD is not a number", "'28,068,393'")),
    ),
    Fault(
        "fts",
        "out of range: negative amountUSD",
        FTS_PAGE1,
        json_change(set_field(("data", "flows", 2, "amountUSD"), -5000)),
        Reject("fts_flows", "greater_than_or_equal_to", "amount_usd", "-5000"),
    ),
    Fault(
        "fts",
        "out of range: negative revised requirements",
        FTS_2024,
        json_change(set_field(("data", "plans", 0, "requirements", "revisedRequirements"), -1)),
        Reject("appeals", "greater_than_or_equal_to", "revised_requirements_usd", "-1"),
    ),
    Fault(
        "fts",
        "date in 2099: appeal startDate after endDate",
        FTS_2024,
        json_change(set_field(("data", "plans", 0, "startDate"), "2099-01-01")),
        Reject("appeals", "start_not_after_end", "start_date, end_date", "start_date=2099-01-01"),
    ),
    Fault(
        "fts",
        "duplicate key: a flow of page 1 repeated on page 2",
        FTS_PAGE2,
        json_change(fts_repeat_flow_on_page_2),
        Reject("fts_flows", "uniqueness", "flow_id", "flow_id=194900", downloads=2),
    ),
    # Gaza casualties
    Fault(
        "casualties",
        "field missing: report_date",
        CASUALTIES,
        json_change(drop_field((5, "report_date"))),
        Parse(("item 5", "report_date")),
    ),
    Fault(
        "casualties",
        "field renamed: report_source to source",
        CASUALTIES,
        json_change(rename_field((2, "report_source"), "source")),
        Parse(("item 2", "2024-03-13", "report_source")),
    ),
    Fault(
        "casualties",
        "field added: ext_aid_workers_killed_cum",
        CASUALTIES,
        json_change(add_field(lambda doc: doc, "ext_aid_workers_killed_cum", 190)),
        Ignored(),
    ),
    Fault(
        "casualties",
        "number as text: killed_cum '31,112'",
        CASUALTIES,
        json_change(set_field((0, "killed_cum"), "31,112")),
        Parse(("item 0", "2024-03-11", "killed_cum", "'31,112'")),
    ),
    Fault(
        "casualties",
        "out of range: negative killed",
        CASUALTIES,
        json_change(set_field((3, "killed"), -67)),
        Reject("casualties_daily", "greater_than_or_equal_to", "killed_daily", "-67"),
    ),
    Fault(
        "casualties",
        "duplicate key: a day repeated",
        CASUALTIES,
        json_change(append_copy(lambda doc: doc, 7, killed=1)),
        Reject("casualties_daily", "uniqueness", "report_date", "2024-03-18"),
    ),
    Fault(
        "casualties",
        "warning: killed_cum goes down on a new day",
        CASUALTIES,
        json_change(
            append_copy(
                lambda doc: doc, -1, report_date="2024-07-01", killed_cum=37000, killed=None
            )
        ),
        Warn("casualties_daily", "killed_cum_never_decreases", "killed_cum", "37000"),
    ),
    Fault(
        "casualties",
        "warning: unknown report_source label on a new day",
        CASUALTIES,
        json_change(
            append_copy(lambda doc: doc, -1, report_date="2024-07-01", report_source="gmotel2")
        ),
        Warn("casualties_daily", "isin", "report_source", "gmotel2"),
    ),
]

CURATED: list[Fault] = [
    # Reference figures (data/reference)
    Fault(
        "reference",
        "column missing: unit",
        REFERENCE,
        csv_change(drop_column("unit")),
        Parse((REFERENCE, "line 1", "missing column(s) unit")),
    ),
    Fault(
        "reference",
        "column renamed: published_on to published",
        REFERENCE,
        csv_change(rename_column("published_on", "published")),
        Parse((REFERENCE, "line 1", "missing column(s) published_on", "'published'")),
    ),
    Fault(
        "reference",
        "column added: checked_by (unknown columns stop curated files)",
        REFERENCE,
        csv_change(add_column("checked_by", "JD")),
        Parse((REFERENCE, "line 1", "unknown column(s) 'checked_by'")),
    ),
    Fault(
        "reference",
        "number as text: value '1,200,000'",
        REFERENCE,
        csv_change(set_cell(1, "value", "1,200,000")),
        Parse((REFERENCE, "line 2", "field value", "'1,200,000'")),
    ),
    Fault(
        "reference",
        "out of range: negative value",
        REFERENCE,
        csv_change(set_cell(2, "value", "-500")),
        Reject("reference_figures", "greater_than_or_equal_to", "value", "-500"),
    ),
    Fault(
        "reference",
        "out of range: share 1.7",
        "shares.csv",
        csv_change(
            then(
                only_records(1),
                set_cell(1, "metric", "ipc.phase3plus.share"),
                set_cell(1, "unit", "share"),
                set_cell(1, "value", "1.7"),
            )
        ),
        Reject("reference_figures", "share_between_0_and_1", "unit, value", "value=1.7"),
    ),
    Fault(
        "reference",
        "date in 2099: observed figure dated after its publication",
        REFERENCE,
        csv_change(set_cell(1, "reference_date", "2099-03-20")),
        Reject(
            "reference_figures",
            "observed_not_published_before_reference_date",
            "reference_date, published_on",
            "2099-03-20",
        ),
    ),
    Fault(
        "reference",
        "duplicate key: a figure repeated in a second file",
        "copy.csv",
        csv_change(only_records(2)),
        Reject(
            "reference_figures", "uniqueness", "metric", "reference_date=2023-10-06", downloads=2
        ),
    ),
    # Press claims (data/claims)
    Fault(
        "claims",
        "column missing: metric",
        CLAIMS,
        csv_change(drop_column("metric")),
        Parse((CLAIMS, "line 1", "missing column(s) metric")),
    ),
    Fault(
        "claims",
        "column renamed: quote to text",
        CLAIMS,
        csv_change(rename_column("quote", "text")),
        Parse((CLAIMS, "line 1", "missing column(s) quote", "'text'")),
    ),
    Fault(
        "claims",
        "column added: reviewer (unknown columns stop curated files)",
        CLAIMS,
        csv_change(add_column("reviewer", "JD")),
        Parse((CLAIMS, "line 1", "unknown column(s) 'reviewer'")),
    ),
    Fault(
        "claims",
        "number as text: value '32,000'",
        CLAIMS,
        csv_change(set_cell(4, "value", "32,000")),
        Parse((CLAIMS, "line 5", "field value", "'32,000'")),
    ),
    Fault(
        "claims",
        "out of range: negative value",
        CLAIMS,
        csv_change(set_cell(3, "value", "-253")),
        Parse((CLAIMS, "line 4", "field value", "'-253'")),
    ),
    Fault(
        "claims",
        "out of range: 170 percent",
        "percent.csv",
        csv_change(
            then(
                only_records(1),
                set_cell(1, "claim_id", "percent-170"),
                set_cell(1, "metric", "ipc.phase3plus.share"),
                set_cell(1, "unit", "percent"),
                set_cell(1, "value", "170"),
            )
        ),
        Reject("press_claims", "share_between_0_and_1", "unit, value", "value=1.7"),
    ),
    Fault(
        "claims",
        "duplicate key: a claim_id repeated in a second file",
        "copy.csv",
        csv_change(only_records(4)),
        Reject("press_claims", "uniqueness", "claim_id", "2024-03-22-gaza-killed", downloads=2),
    ),
]

CURATED_DIRS = {"reference": "reference", "claims": "claims"}
CURATED_FILES = {"reference": REFERENCE, "claims": CLAIMS}


# --- fixtures and helpers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    data: Path
    facts: dict[str, set[tuple]]  # its fact rows: the last good state of every scenario


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """A data directory with every source refreshed once from the demo snapshot."""
    data = tmp_path_factory.mktemp("baseline") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPC_API_KEY", IPC_CANARY)
        patch.setenv("HDX_HAPI_APP_IDENTIFIER", HAPI_CANARY)
        with serve_all(data, patch):
            results = refresh(resolve([]), RefreshOptions(settings=load_settings()))
    assert {r.source: r.outcome for r in results} == dict.fromkeys(
        [*SOURCE_HOSTS, *CURATED_DIRS], "published"
    )
    return Baseline(data, fact_rows(data / "warehouse.duckdb"))


@dataclass
class Scenario:
    played: Services
    data: Path
    before: dict[str, set[tuple]]

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"

    def refresh(self, source: str) -> SourceResult:
        (result,) = refresh(resolve([source]), RefreshOptions(settings=load_settings()))
        return result

    def last_run(self, source: str) -> tuple[str, pd.DataFrame]:
        """The id of the source's last run and the rejects it recorded."""
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            (run_id,) = con.execute(
                "select run_id from runs where source = ? order by finished_at desc limit 1",
                [source],
            ).fetchone()
            return run_id, con.execute("select * from rejects where run_id = ?", [run_id]).df()

    def compare(self) -> tuple[int, bool]:
        """Rows of the last good state lost, and whether the fact rows are exactly those."""
        if fact_rows(self.warehouse) == self.before:
            return 0, True
        return rows_lost(self.before, self.warehouse), False


@pytest.fixture
def scenario(baseline: Baseline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, observe):
    """A copy of the baseline and the loopback services pointed at it (canary keys set)."""
    data = tmp_path / "data"
    # serve_all lays fresh copies of the curated CSVs into the data directory.
    shutil.copytree(baseline.data, data, ignore=shutil.ignore_patterns(*CURATED_DIRS.values()))
    with serve_all(data, monkeypatch) as played:
        yield Scenario(played, data, baseline.facts)
        assert not played.loopback.errors, played.loopback.errors


def inject(scenario: Scenario, fault: Fault) -> None:
    """Serves the fault's body in place of the normal one, on the requests it targets."""
    if fault.source in CURATED_DIRS:
        folder = scenario.data / CURATED_DIRS[fault.source]
        original = (folder / CURATED_FILES[fault.source]).read_bytes()
        (folder / fault.target).write_bytes(fault.change(original))
        return

    def serve(seen: Seen, normal: Reply) -> Reply | None:
        if not re.search(fault.target, seen.target):
            return None
        assert normal.status == 200, f"{seen.target}: the fault needs the full body"
        body = fault.change(normal.body)
        headers = dict(normal.headers)
        if "etag" in headers:  # a changed body is a new version
            headers["etag"] = f'"fault-{hashlib.sha256(body).hexdigest()[:16]}"'
        return Reply(200, body, headers)

    scenario.played.faults[SOURCE_HOSTS[fault.source]] = serve


def clear(scenario: Scenario, fault: Fault) -> None:
    """Back to the normal data: no fault served, the curated files as in the repository."""
    scenario.played.faults.clear()
    if fault.source in CURATED_DIRS:
        folder = scenario.data / CURATED_DIRS[fault.source]
        shutil.rmtree(folder)
        shutil.copytree(ROOT / "data" / CURATED_DIRS[fault.source], folder)


def short(text: str | None, data: Path, limit: int = 240) -> str:
    """A message as the docs show it: no scenario directory, loopback port or run id."""
    text = re.sub(r"http://127\.0\.0\.1:\d+/", "https://", (text or "").replace(str(data), "data"))
    text = re.sub(r"rejects/\d{8}T\d{6}Z-[0-9a-f]+", "rejects/RUN", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_rejects(scenario: Scenario, fault: Fault, result: SourceResult) -> pd.Series:
    """The expected failure case is in the rejects table and in the run's rejects CSV, with
    its check, column, row, value and key; returns it."""
    expect = fault.expect
    assert isinstance(expect, Reject)
    run_id, table = scenario.last_run(fault.source)
    assert set(table["source"]) == {fault.source}
    mine = table[
        (table["table_name"] == expect.table)
        & (table["severity"] == expect.severity)
        & table["check_name"].str.contains(expect.check, regex=False)
    ]
    assert len(mine), table[["table_name", "severity", "check_name", "value"]].to_string()
    hit = mine[
        mine["column_name"].str.contains(expect.column, regex=False)
        & mine["value"].str.contains(expect.value, regex=False)
    ]
    assert len(hit), mine[["check_name", "column_name", "value", "row_key"]].to_string()
    assert hit["fetch_id"].nunique() == expect.downloads, hit.to_string()
    case = hit.iloc[0]
    assert pd.notna(case["row_number"]) and case["row_key"] and case["fetch_id"], case
    # The same cases in data/rejects/RUN/SOURCE.TABLE.csv, for a person to open.
    path = scenario.data / "rejects" / run_id / f"{fault.source}.{expect.table}.csv"
    assert path.is_file(), sorted(p.name for p in path.parent.glob("*"))
    written = pd.read_csv(path, dtype=str, keep_default_na=False)
    # Text a spreadsheet could take for a formula ("-5" too) is written with an apostrophe.
    written["value"] = written["value"].map(unneutralise)
    in_table = table[table["table_name"] == expect.table]
    assert len(written) == len(in_table)
    assert (
        (written["check_name"] == case["check_name"])
        & (written["value"] == case["value"])
        & (written["row_number"] == str(case["row_number"]))
        & (written["row_key"] == case["row_key"])
    ).any(), written.to_string()
    if expect.severity == "error":
        assert f"{expect.table}: " in result.message and str(path.parent) in result.message
    return case


# --- the scenarios ----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", REMOTE + CURATED, ids=lambda f: f.id)
def test_data_fault(scenario: Scenario, fault: Fault, observe) -> None:
    inject(scenario, fault)
    result = scenario.refresh(fault.source)
    expect = fault.expect
    message = short(result.message, scenario.data)
    lost, unchanged = scenario.compare()
    assert lost == 0
    if isinstance(expect, Warn):
        assert not unchanged  # the new rows are published
    else:
        assert unchanged  # the last good state, row for row
    observed = f"{result.outcome}"

    if isinstance(expect, Parse):
        assert result.outcome == "failed", result.message
        assert result.message.startswith(f"{fault.source}: cannot parse"), result.message
        for name in expect.names:
            assert name in result.message, (name, result.message)
        assert result.rejects.empty
        observed += f": {message}"
    elif isinstance(expect, Warn):
        assert result.outcome == "published", result.message
        case = check_rejects(scenario, fault, result)
        assert result.warnings > 0 and result.rejected == 0
        observed += (
            f" with {result.warnings} warning(s): {case['check_name']} on {case['column_name']} "
            f"= {case['value']} (row {case['row_number']}, {case['row_key']})"
        )
    elif isinstance(expect, Reject):
        assert result.outcome == "failed", result.message
        case = check_rejects(scenario, fault, result)
        observed += (
            f": {message}; rejects: {case['check_name']} on {case['column_name']} = "
            f"{case['value']} (row {case['row_number']}, {case['row_key']})"
        )
    else:
        assert result.outcome == "published", result.message
        assert result.rejects.empty
        observed += f", {result.rows} rows, no rejects"

    if result.outcome == "failed":
        clear(scenario, fault)
        again = scenario.refresh(fault.source)
        assert again.outcome in ("published", "not_modified"), again.message
        assert scenario.compare() == (0, True)
        observed += f"; next clean refresh: {again.outcome}"
    observed += f"; rows lost {lost}"

    observe.record(
        area="data",
        scenario=f"{fault.source}: {fault.name}",
        expected=expect.describe(),
        observed=observed,
        rows_lost=lost,
    )


def test_cli_exits_non_zero_naming_the_source_and_the_rejects_folder(
    scenario: Scenario, observe
) -> None:
    """`aggregator refresh --source casualties` on a day served twice: exit 1, and the
    summary names the source, the table and the rejects folder holding the failure cases."""
    fault = next(f for f in REMOTE if f.name == "duplicate key: a day repeated")
    inject(scenario, fault)
    # os.environ holds the loopback URLs, data directory and canary keys set for the scenario.
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "aggregator"), "refresh", "--source", "casualties"],
        env={**os.environ, "COLUMNS": "400"},  # summary rows on one line each
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    run_id, _ = scenario.last_run("casualties")
    folder = scenario.data / "rejects" / run_id
    assert (folder / "casualties.casualties_daily.csv").is_file()
    error = next(line for line in done.stderr.splitlines() if line.startswith("error:"))
    assert error.startswith("error: casualties failed: casualties_daily: ")
    assert f"(see {folder})" in error
    (row,) = [line for line in done.stdout.splitlines() if "casualties" in line]
    assert "failed" in row and f"(see {folder})" in row  # the summary table
    assert not [c for c in CANARIES if c in output]
    lost, unchanged = scenario.compare()
    assert lost == 0 and unchanged
    observe.record(
        area="data",
        scenario="CLI: casualties serve a day twice (refresh --source casualties)",
        expected="exit 1; the summary and an error line name the source, the table and the "
        "rejects folder; nothing published",
        observed=f"exit {done.returncode}; {short(error, scenario.data)}; rows lost {lost}",
        rows_lost=lost,
    )
