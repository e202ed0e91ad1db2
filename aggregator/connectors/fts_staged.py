"""FTS flows read by DuckDB into a stage file, in batches of pages as they download.

A country's flows run to 10^5 a year, 200 a page: parsing each page into Python objects and
flattening each flow in Python cost some 85 s and 2.4 GB for 10^6 flows. Here DuckDB reads
each batch of pages once (on a worker thread, while the next pages download), flattens each
flow into the fts_flows columns with SQL list functions and appends the rows to a table of a
stage file; publishing copies them into the warehouse (aggregator.staging).

The SQL gives what the Python reading of a flow (``fts.FlowTable``) gives, for the payloads
FTS sends. For anything else (a field of another JSON type, a missing required field, a date
that is not one, a usage year that is not a whole number) the row is marked, and when any row
is, the connector reads the pages in Python instead: its errors name the page, the flow and the
field, and what it keeps for pandera to judge stays as it always was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from aggregator import staging
from aggregator.ddl import columns_of
from schemas import TABLES

ROWS_TABLE = "fts_flow_rows"
LOCATIONS_TABLE = "fts_location_iso3s"
# A batch's flows as read_json gives them, kept in a temporary table before they are
# flattened: the SQL that flattens them costs a third less over a table than straight over
# read_json's output, the table's writing included (1.4 s against 2.2 s of CPU for 250
# generated pages, on one thread).
FLOWS_TABLE = "fts_batch_flows"
# DuckDB reads a page as one JSON object of at most this size (a page of 200 flows is some
# 400 KB), with a buffer of twice it per thread; a larger page fails the read, and the pages
# are read in Python instead.
MAX_PAGE_BYTES = 16 << 20
SIDES = {"src": "sourceObjects", "dest": "destinationObjects"}
NAME_SEPARATOR = " | "
# The fields of a flow read as JSON, so that their JSON type can be checked, by kind.
STRINGS = (
    "originalCurrency",
    "flowType",
    "contributionType",
    "method",
    "onBoundary",
    "description",
)
REQUIRED_STRINGS = ("status", "boundary")
NUMBERS = ("originalAmount", "exchangeRate")
TEXTS = ("budgetYear", "parentFlowId", "refCode")  # str() of a string or a whole number
DATES = ("date", "decisionDate", "firstReportedDate")
STAMPS = ("createdAt", "updatedAt")
LISTS = ("childFlowIds", "keywords")
JSON_FIELDS = (
    "id",
    "versionId",
    "amountUSD",
    "newMoney",
    *STRINGS,
    *REQUIRED_STRINGS,
    *NUMBERS,
    *TEXTS,
    *DATES,
    *STAMPS,
    *LISTS,
)
OBJECT = "STRUCT(type VARCHAR, id VARCHAR, name VARCHAR, code VARCHAR, organizationTypes VARCHAR[])"


@dataclass(frozen=True)
class Page:
    """One page read: its raw file, its download and the query it answers."""

    path: str
    fetch_id: str
    query_key: str
    query_iso3: str | None
    query_year: int | None


def _columns() -> str:
    """The read_json ``columns`` argument: the fields of a page that are read."""
    fields = [f'"{f}" JSON' for f in JSON_FIELDS]
    fields += [f'"{s}" {OBJECT}[]' for s in SIDES.values()]
    flow = f"STRUCT({', '.join(fields)})"
    spec = {"data": f"STRUCT(flows {flow}[])", "meta": "STRUCT(nextLink VARCHAR)"}
    return (
        "{"
        + ", ".join(f"{staging.literal(k)}: {staging.literal(v)}" for k, v in spec.items())
        + "}"
    )


def _kind(field: str) -> str:
    """SQL: the JSON type of a field as json_type names it (NULL when the field is absent),
    told from its first character: cheaper than json_type, which parses the value again.
    Whole numbers are BIGINT, however large."""
    value = f'f."{field}"::VARCHAR'
    first = " ".join(
        f"when {staging.literal(c)} then {staging.literal(t)}"
        for c, t in (
            ('"', "VARCHAR"),
            ("t", "BOOLEAN"),
            ("f", "BOOLEAN"),
            ("n", "NULL"),
            ("[", "ARRAY"),
            ("{", "OBJECT"),
        )
    )
    number = f"case when regexp_matches({value}, '[.eE]') then 'DOUBLE' else 'BIGINT' end"
    return f"(case when {value} IS NULL then NULL else case left({value}, 1) {first} else {number} end end)"


def _string(field: str) -> str:
    return f"(f.\"{field}\" ->> '$')"


def _number(field: str) -> str:
    return f"case when {_kind(field)} in ('BIGINT', 'UBIGINT', 'DOUBLE') then f.\"{field}\"::DOUBLE end"


def _text(field: str) -> str:
    """str() of a string or whole number, None for null or ''."""
    return f"nullif({_string(field)}, '')"


def _date(field: str) -> str:
    return f"try_cast(left({_string(field)}, 10) as DATE)"


STAMP = r"(19|20|21)[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z"


def _stamp(field: str) -> str:
    return f"try_cast(replace(left({_string(field)}, -1), 'T', ' ') as TIMESTAMP)"


def _joined_list(field: str) -> str:
    return f"nullif(array_to_string(json_extract_string(f.\"{field}\", '$[*]'), ','), '')"


def _faults() -> list[str]:
    """SQL true where the Python reading of a flow would not give what the SQL gives."""
    faults = [
        "f IS NULL",
        f"{_kind('id')} IS NULL or {_kind('id')} not in ('VARCHAR', 'BIGINT', 'UBIGINT')",
        f"{_kind('versionId')} not in ('NULL', 'BIGINT', 'UBIGINT')",
        f"{_kind('amountUSD')} IS NULL or {_kind('amountUSD')} not in ('NULL', 'BIGINT', 'UBIGINT', 'DOUBLE')",
        f"{_kind('newMoney')} not in ('NULL', 'BOOLEAN')",
        *(f"{_kind(s)} not in ('NULL', 'VARCHAR')" for s in STRINGS),
        *(f"{_kind(s)} IS NULL or {_kind(s)} not in ('NULL', 'VARCHAR')" for s in REQUIRED_STRINGS),
        *(f"{_kind(s)} not in ('NULL', 'BIGINT', 'UBIGINT', 'DOUBLE')" for s in NUMBERS),
        *(f"{_kind(s)} not in ('NULL', 'VARCHAR', 'BIGINT', 'UBIGINT')" for s in TEXTS),
        *(
            f"{_kind(s)} not in ('NULL', 'VARCHAR') or ({_string(s)} <> '' and "
            f"(not regexp_full_match(left({_string(s)}, 10), '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
            f"or left({_string(s)}, 4) = '0000' or {_date(s)} IS NULL))"
            for s in DATES
        ),
        *(
            f"{_kind(s)} not in ('NULL', 'VARCHAR') or ({_string(s)} <> '' and "
            f"(not regexp_full_match({_string(s)}, {staging.literal(STAMP)}) or {_stamp(s)} IS NULL))"
            for s in STAMPS
        ),
        *(
            f"{_kind(s)} not in ('NULL', 'ARRAY') or not list_bool_and(list_transform("
            f"json_extract(f.\"{s}\", '$[*]'), lambda e: json_type(e) in ('VARCHAR', 'BIGINT', 'UBIGINT')))"
            for s in LISTS
        ),
    ]
    # One pass over each side's objects: an object, its type, the name of a kind that is
    # named, the id of the first organisation or plan (any, here), a project's code or id, a
    # usage year of digits, organisation types.
    named = "('Organization', 'Location', 'Plan', 'Cluster', 'GlobalCluster', 'Emergency')"
    bad_object = (
        "o IS NULL or o.type IS NULL"
        f" or (o.type in {named} and o.name IS NULL)"
        " or (o.type in ('Organization', 'Plan') and o.id IS NULL)"
        " or (o.type = 'Project' and coalesce(o.code, '') = '' and o.id IS NULL)"
        " or (o.type = 'UsageYear'"
        " and not coalesce(regexp_full_match(o.name, '[0-9]{1,18}'), false))"
        " or (o.type = 'Organization'"
        " and list_bool_or(list_transform(o.organizationTypes, lambda t: t IS NULL)))"
        " or "
        + _not_text(
            "o.type",
            "o.id",
            "o.name",
            "o.code",
            f"array_to_string(o.organizationTypes, {TEXT_SEPARATOR})",
        )
    )
    faults += [
        f'list_bool_or(list_transform(f."{side}", lambda o: {bad_object}))'
        for side in SIDES.values()
    ]
    return [f"coalesce({f}, false)" for f in faults]


# Object fields are read as text: DuckDB writes a boolean, a list, an object or a number with a
# fraction or exponent as the JSON text, where Python's str() writes 'True', its repr, or the
# float's repr. Text that may be one of those is left to the Python reading. An object's texts
# are matched at once, joined by a separator (one call a side object instead of one a text):
# each text is matched between separators, so a text that holds one can only be left to the
# Python reading when it need not be, never read when it should not be.
TEXT_SEPARATOR = "chr(1)"  # SQL
NOT_TEXT = r"(^|\x01)([\[{]|(true|false|-?[0-9]*[.eE][0-9eE.+-]*)(\x01|$))"


def _not_text(*texts: str) -> str:
    """SQL true where one of the texts (NULL for none) may not be what Python's str() gives."""
    joined = f"concat_ws({TEXT_SEPARATOR}, {', '.join(texts)})"
    return f"regexp_matches({joined}, {staging.literal(NOT_TEXT)})"


KINDS = ("Organization", "Location", "Plan", "Cluster", "GlobalCluster", "Project", "Emergency")


def _side_lists() -> dict[str, str]:
    """SQL of each side's objects of each kind, by name: worked out once per flow, as DuckDB
    does not reuse an expression written twice."""
    lists = {}
    for prefix, side in SIDES.items():
        objects = f'coalesce(f."{side}", [])'
        for kind in (*KINDS, "UsageYear"):
            lists[f"{prefix}__{kind}"] = f"list_filter({objects}, lambda o: o.type = '{kind}')"
    return lists


def _side_sets() -> dict[str, str]:
    """SQL of the sorted sets a side's columns are made of, over _side_lists, by name."""
    sets = {}
    for prefix in SIDES:
        sets[f"{prefix}__types"] = (
            f"list_sort(list_distinct(flatten(list_transform({prefix}__Organization, "
            "lambda o: coalesce(o.organizationTypes, [])))))"
        )
        # The side's locations as JSON [[id, name], ...]: their ISO3 codes are looked up
        # once per distinct list (Stager.finish), not once per flow.
        sets[f"{prefix}__location_key"] = (
            f"case when len({prefix}__Location) > 0 then "
            f"to_json(list_transform({prefix}__Location, lambda o: [o.id, o.name]))::VARCHAR end"
        )
        sets[f"{prefix}__years"] = (
            f"list_sort(list_distinct(list_transform({prefix}__UsageYear, "
            "lambda o: o.name::BIGINT)))"
        )
    return sets


def _side_columns(prefix: str) -> dict[str, str]:
    """SQL of one side's columns (as fts._side makes them), over _side_lists and _side_sets,
    by column name."""

    def of(kind: str) -> str:
        return f"{prefix}__{kind}"

    def joined(kind: str, value: str = "o.name", separator: str = NAME_SEPARATOR) -> str:
        return (
            f"case when len({of(kind)}) > 0 then array_to_string("
            f"list_transform({of(kind)}, lambda o: {value}), {staging.literal(separator)}) end"
        )

    def joined_set(values: str, separator: str = NAME_SEPARATOR) -> str:
        """A sorted set joined; NULL when it is empty."""
        return (
            f"case when len({values}) > 0 then "
            f"array_to_string({values}, {staging.literal(separator)}) end"
        )

    def names(kind: str) -> str:
        return joined_set(f"list_sort(list_distinct(list_transform({of(kind)}, lambda o: o.name)))")

    columns = {
        "organization_id": f"{of('Organization')}[1].id",
        "organization": f"{of('Organization')}[1].name",
        "organization_names": joined("Organization"),
        "organization_types": joined_set(of("types")),
        "location_names": joined("Location"),
        "location_iso3s": "NULL",  # looked up by location_key (Stager.finish, plan)
        "plan_id": f"{of('Plan')}[1].id",
        "plan_names": joined("Plan"),
        "cluster_names": names("Cluster"),
        "global_cluster_names": names("GlobalCluster"),
        "project_codes": joined("Project", "coalesce(nullif(o.code, ''), o.id)", ","),
        "emergency_names": names("Emergency"),
        "usage_years": joined_set(of("years"), ","),
        "usage_year_start": f"{of('years')}[1]",
        "usage_year_end": f"{of('years')}[-1]",
    }
    return {f"{prefix}_{name}": sql for name, sql in columns.items()}


def _flow_columns() -> dict[str, str]:
    """SQL of every fts_flows column, by name, over a flow ``f`` and its page ``p``."""
    return {
        "source": "'fts'",
        "query_key": "query_key",
        "query_iso3": "query_iso3",
        "query_year": "query_year",
        "flow_id": _string("id"),
        "version": "f.versionId",
        "amount_usd": _number("amountUSD"),
        "original_amount": _number("originalAmount"),
        "original_currency": _string("originalCurrency"),
        "exchange_rate": _number("exchangeRate"),
        "status": _string("status"),
        "flow_type": _string("flowType"),
        "contribution_type": _string("contributionType"),
        "method": _string("method"),
        "boundary": _string("boundary"),
        "on_boundary": _string("onBoundary"),
        "new_money": "f.newMoney",
        "budget_year": _text("budgetYear"),
        "date": _date("date"),
        "decision_date": _date("decisionDate"),
        "first_reported_date": _date("firstReportedDate"),
        "created_at": _stamp("createdAt"),
        "updated_at": _stamp("updatedAt"),
        "parent_flow_id": _text("parentFlowId"),
        "child_flow_ids": _joined_list("childFlowIds"),
        "keywords": _joined_list("keywords"),
        "ref_code": _text("refCode"),
        "description": _string("description"),
        **_side_columns("src"),
        **_side_columns("dest"),
        "fetch_id": "fetch_id",
    }


# Pages read by one DuckDB statement (some 50,000 flows), while the next pages download. Per
# page, batches of 100 read at half the speed of batches of 250 or 500 (measured on 2,000
# generated pages); from 1,000 on, a batch no longer fits the memory limit and reads slower.
BATCH_PAGES = 250


class Stager:
    """Reads pages into the rows table of a new stage file as they come: every BATCH_PAGES
    pages are read on a worker thread while the next ones download. ``finish`` gives the
    file, or None when a row is one the SQL does not read as the Python reading would (or
    DuckDB cannot read a page at all): the caller reads the pages in Python then."""

    def __init__(
        self,
        stage_dir: Path,
        location_iso3s: Callable[[list[tuple[str | None, str | None]]], str | None],
        batch_pages: int = BATCH_PAGES,
    ) -> None:
        self.database = stage_dir / "fts.flows.duckdb"
        self._location_iso3s = location_iso3s
        self._batch_pages = batch_pages
        self._batch: list[Page] = []
        self._batches: list[Future[bool]] = []
        self._created = False
        self._refused = False  # a page that only the Python reading reads as it should
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fts-stage")
        self._open = ExitStack()
        self._con = self._open.enter_context(duckdb.connect())
        staging.configure(self._con, stage_dir)
        self._open.enter_context(staging.plan_database(self._con, self.database))

    def __enter__(self) -> Stager:
        return self

    def __exit__(self, *failure: object) -> None:
        self._worker.shutdown(cancel_futures=True)
        self._open.__exit__(*failure)

    def add(self, page: Page) -> None:
        self._batch.append(page)
        if len(self._batch) >= self._batch_pages:
            self._submit()

    def finish(self) -> Path | None:
        """Waits for the pages to be read; the stage file, or None (see the class)."""
        if self._batch:
            self._submit()
        if not all([batch.result() for batch in self._batches]) or not self._created:
            return None
        rows = staging.plan_table(ROWS_TABLE)
        (faults,) = self._con.execute(f"select count(*) from {rows} where _fault").fetchone()
        if faults:
            return None
        keys = self._con.execute(
            f"select src__location_key from {rows} union select dest__location_key from {rows}"
        ).fetchall()
        found = [(k, self._location_iso3s(json.loads(k))) for (k,) in keys if k is not None]
        self._con.execute(
            f"create table {staging.plan_table(LOCATIONS_TABLE)} (key VARCHAR, iso3s VARCHAR)"
        )
        if found:
            self._con.executemany(
                f"insert into {staging.plan_table(LOCATIONS_TABLE)} values (?, ?)", found
            )
        return self.database

    def _submit(self) -> None:
        batch, self._batch = self._batch, []
        self._batches.append(self._worker.submit(self._read, batch))

    def _read(self, pages: list[Page]) -> bool:
        if self._refused:
            return False
        into = (
            f"insert into {staging.plan_table(ROWS_TABLE)} "
            if self._created
            else f"create table {staging.plan_table(ROWS_TABLE)} as "
        )
        try:
            self._con.execute(f"create or replace temp table {FLOWS_TABLE} as {_flows_sql(pages)}")
            self._con.execute(into + _rows_sql(pages))
        # A page that is not JSON, or holds a field of another shape than the columns say (a
        # list where an object goes, a number beyond BIGINT): the Python reading names it.
        except (duckdb.InvalidInputException, duckdb.ConversionException, UnicodeDecodeError):
            self._refused = True
            return False
        finally:
            self._con.execute(f"drop table if exists {FLOWS_TABLE}")
        self._created = True
        return True


def _flows_sql(pages: list[Page]) -> str:
    """SQL of the flows of ``pages``, one row each (``f``) with the file it came from and the
    number of JSON documents in that file (``documents``)."""
    paths = sorted({p.path for p in pages})
    # FTS sends a page as one line of JSON. Read as such, a page costs a fifth less than with
    # the format detected; a page on several lines fails the read (the Python reading reads
    # it), and so does one that is a JSON array, which the Python reading refuses.
    read = (
        f"read_json([{', '.join(map(staging.literal, paths))}], format = 'newline_delimited', "
        f"filename = true, columns = {_columns()}, maximum_object_size = {MAX_PAGE_BYTES})"
    )
    # A page without a list of flows gives one empty flow, which is a fault; so does a file
    # of several JSON documents, one a line, which the Python reading refuses.
    return (
        "select filename, documents, "
        "unnest(case when data.flows IS NULL then [NULL] else data.flows end) as f "
        f"from (select *, count(*) over (partition by filename) as documents from {read})"
    )


def _rows_sql(pages: list[Page]) -> str:
    """SQL of the rows of the flows of ``pages`` read into FLOWS_TABLE (_flows_sql), with the
    column ``_fault`` (see _faults)."""
    listed = ", ".join(
        f"({staging.literal(p.path)}, {staging.literal(p.fetch_id)}, "
        f"{staging.literal(p.query_key)}, "
        f"{staging.literal(p.query_iso3) if p.query_iso3 else 'NULL'}, "
        f"{p.query_year if p.query_year is not None else 'NULL'}::BIGINT)"
        for p in pages
    )
    selected, sets, lists, faults = _flow_sql()
    return f"""
        select {selected}, src__location_key, dest__location_key, _fault from (
            select *, {sets} from (
                select f, p.*, {lists}, {faults} or documents > 1 as _fault
                from {FLOWS_TABLE} j
                join (values {listed}) p(path, fetch_id, query_key, query_iso3, query_year)
                  on p.path = j.filename))
    """


@cache
def _flow_sql() -> tuple[str, str, str, str]:
    """The parts of _rows_sql that are the same for every batch: the typed columns, each
    side's sets and lists of objects, and the faults."""
    types = columns_of(TABLES["fts_flows"])
    computed = _flow_columns()
    return (
        ", ".join(f'cast({computed[c]} as {t}) as "{c}"' for c, t in types.items()),
        ", ".join(f"{sql} as {name}" for name, sql in _side_sets().items()),
        ", ".join(f"{sql} as {name}" for name, sql in _side_lists().items()),
        " or ".join(_faults()),
    )


def plan(database: Path) -> staging.Plan:
    """The staged rows, as the warehouse loads them, with their locations' ISO3 codes."""
    looked_up = {f"{side}_location_iso3s": f"{side}_locations.iso3s" for side in SIDES}
    columns = ", ".join(
        f'{looked_up.get(c, f"r.{c}")} as "{c}"' for c in columns_of(TABLES["fts_flows"])
    )
    joins = " ".join(
        f"left join {staging.plan_table(LOCATIONS_TABLE)} {side}_locations "
        f"on {side}_locations.key = r.{side}__location_key"
        for side in SIDES
    )
    return staging.Plan(
        f"select {columns} from {staging.plan_table(ROWS_TABLE)} r {joins}", database
    )
