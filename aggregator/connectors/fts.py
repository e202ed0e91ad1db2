"""OCHA Financial Tracking Service (https://api.hpc.tools, public, no key): flows and appeals.

Requests:

* flows: GET /v1/public/fts/flow?countryISO3=XXX&year=YYYY, then every ``meta.nextLink`` to
  the end (pages of up to 200 flows). A nextLink is followed as given when absolute, joined
  to the page's URL when relative; a page URL seen twice is a ParseError (a nextLink loop).
  A flow id that comes back twice within one query (on two pages of a listing that moved
  while it was read) is not de-duplicated: fts_flows is unique on (source, query_key,
  flow_id), so the query fails validation, nothing of it is published and ``rejects`` lists
  both copies with the page each came from (fetch_id). A listing that moved may also have
  skipped a flow, which no de-duplication would show; the next refresh reads it again.
* appeals: GET /v2/fts/flow/plan/overview/progress/{year}: every plan of the year with its
  original and revised requirements and its funding and coverage (``funding.progress``, in
  percent). A plan without a ``funding`` object keeps its requirements, funding left empty.

Which years and countries: FTS_YEARS (comma-separated, default 2020,2023,2024) for appeals,
FTS_FLOW_YEARS (default 2020) for flows; flows are asked per country (``--country``, default
PSE: the world's flows are ~10^5 a year and the project needs the oPt ones); appeals are
every plan of the year, or the plans covering the countries asked for. The defaults match
the bundled snapshot (data/demo/api.hpc.tools) so that `make demo` replays them.

Funding totals follow FTS's own rule (see ``funding_total``): incoming flows, paid or
committed, without the flows shared across the boundary (``onBoundary == "shared"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import pandas as pd
import pyarrow as pa

from aggregator import staging
from aggregator.connectors import collector, fts_staged
from aggregator.errors import AggregatorError, ParseError
from aggregator.geo import country, iso3_from_iso2
from aggregator.http import Fetched, Fetcher
from schemas import columns

SOURCE = "fts"
FLOW_PATH = "/v1/public/fts/flow"
PROGRESS_PATH = "/v2/fts/flow/plan/overview/progress"
DEFAULT_FLOW_COUNTRIES = ("PSE",)
MAX_PAGES = 10_000  # a runaway server that invents new page URLs forever stops here
NAME_SEPARATOR = " | "  # organisation names contain commas ("Germany, Government of")

FLOW_COLUMNS = columns("fts_flows")
SIDES = {"src": "sourceObjects", "dest": "destinationObjects"}

APPEAL_COLUMNS = columns("appeals")


# --- extract ---------------------------------------------------------------------------


def extract(
    fetcher: Fetcher,
    base_url: str,
    countries: list[str] | None,
    years: Iterable[int],
    flow_years: Iterable[int],
    *,
    stage: Path,
) -> dict[str, pd.DataFrame | staging.Staged]:
    iso3s = [iso3_from_iso2(c) for c in countries] if countries else []
    pages: list[tuple[Fetched, Query]] = []
    with fts_staged.Stager(stage, location_iso3s) as stager:
        for iso3 in iso3s or DEFAULT_FLOW_COUNTRIES:
            for year in flow_years:
                params = {"countryISO3": iso3, "year": str(year)}
                query = Query.asked(params, iso3, year)
                for page in flow_pages(fetcher, base_url, params):
                    pages.append((page, query))
                    stager.add(
                        fts_staged.Page(str(page.path), page.fetch_id, query.key, iso3, year)
                    )
        appeals: list[dict[str, Any]] = []
        for year in years:
            response = fetcher.get(f"{base_url}{PROGRESS_PATH}/{year}")
            appeals.extend(
                row
                for row in parse_progress(response)
                if not iso3s or set(row["country_iso3s"].split(",")) & set(iso3s)
            )
        staged = stager.finish()
    return {
        "fts_flows": _flows(pages, staged, stage),
        "appeals": _latest_per_plan(pd.DataFrame.from_records(appeals, columns=APPEAL_COLUMNS)),
    }


def _flows(
    pages: list[tuple[Fetched, Query]], staged: Path | None, stage: Path
) -> pd.DataFrame | staging.Staged:
    """The flows of every page: those DuckDB read into a stage file (fts_staged), or, when a
    page holds a flow that only the Python reading reads as it should, read page by page here."""
    if staged is not None:
        return staging.Staged(
            "fts_flows",
            plan=fts_staged.plan(staged),
            text_plan=fts_staged.plan(staged),
            text_columns=(),
            vintages=tuple(dict.fromkeys(query.key for _, query in pages)),
            explain=lambda exc: ParseError(SOURCE, "the staged flows", str(exc)),
            workdir=stage,
        )
    return _read_in_python(pages)


def _read_in_python(pages: list[tuple[Fetched, Query]]) -> pd.DataFrame:
    """The flows of the pages read flow by flow (FlowTable): errors name page, flow and field."""
    flows = FlowTable()
    for page, query in pages:
        with collector.paused():
            flows.add_page(_body(page), page.record.url, page.fetch_id, query)
    return flows.frame()


def _latest_per_plan(appeals: pd.DataFrame) -> pd.DataFrame:
    """A plan spanning two years comes back for each: keep one row per plan and vintage."""
    return appeals.drop_duplicates(["plan_id", "published_on"], keep="last").reset_index(drop=True)


def fetch_flows(
    fetcher: Fetcher,
    base_url: str,
    params: dict[str, str],
    *,
    query_iso3: str | None,
    query_year: int | None,
    path: str = FLOW_PATH,
) -> pd.DataFrame:
    """Every flow of one query, following meta.nextLink page by page."""
    query = Query.asked(params, query_iso3, query_year)
    return _read_in_python([(p, query) for p in flow_pages(fetcher, base_url, params, path=path)])


def flow_pages(
    fetcher: Fetcher, base_url: str, params: dict[str, str], *, path: str = FLOW_PATH
) -> Iterator[Fetched]:
    """Every page of one query, following meta.nextLink."""
    response = fetcher.get(f"{base_url}{path}", params=params)
    seen = {str(response.record.url)}
    while True:
        yield response
        next_link = _next_link(_meta(response), response.record.url)
        if next_link is None:
            return
        if next_link in seen:
            raise ParseError(
                SOURCE,
                f"{response.record.url} field meta.nextLink",
                f"points back to a page already read ({next_link}): a nextLink loop",
            )
        if len(seen) >= MAX_PAGES:
            raise ParseError(SOURCE, response.record.url, f"more than {MAX_PAGES} pages")
        seen.add(next_link)
        response = fetcher.get(*_split_query(next_link))


TAIL_BYTES = 1 << 16


def _meta(response: Fetched) -> Any:
    """A page's top-level ``meta``. FTS writes it last: read from the end of the body when
    it is the body's last member, else from the whole body (checked as _body checks it)."""
    with response.path.open("rb") as handle:
        handle.seek(max(0, response.path.stat().st_size - TAIL_BYTES))
        tail = handle.read().decode("utf-8", "replace")
    # Outside a string, '"meta"' is a key: the body's own when its value ends the body.
    start = tail.rfind('"meta"')
    colon = tail.find(":", start + 6) if start >= 0 else -1
    if colon >= 0 and not tail[start + 6 : colon].strip():
        value = tail[colon + 1 :].lstrip()
        try:
            meta, end = json.JSONDecoder().raw_decode(value)
        except json.JSONDecodeError:
            pass
        else:
            if value[end:].strip() == "}":
                return meta
    with collector.paused():
        return _body(response).get("meta")


def _split_query(url: str) -> tuple[str, dict[str, str]]:
    """URL and query apart: Fetcher.get(url) without params drops the URL's own query."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="")), dict(
        parse_qsl(parts.query, keep_blank_values=True)
    )


def _body(response: Fetched) -> dict[str, Any]:
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise ParseError(SOURCE, response.record.url, "expected a JSON object with a 'data' object")
    return body


def _next_link(meta: Any, page_url: str) -> str | None:
    meta = meta or {}
    if not isinstance(meta, dict):
        raise ParseError(SOURCE, f"{page_url} field meta", "expected an object")
    link = meta.get("nextLink")
    if link in (None, ""):
        return None
    if not isinstance(link, str):
        raise ParseError(SOURCE, f"{page_url} field meta.nextLink", f"not a URL: {link!r}")
    return urljoin(page_url, link)  # absolute links are kept as they are


# --- flows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One flow query: its key (the query string, sorted), and the country and year asked."""

    key: str
    iso3: str | None
    year: int | None

    @classmethod
    def asked(cls, params: dict[str, str], iso3: str | None, year: int | None) -> Query:
        return cls("&".join(f"{k}={v}" for k, v in sorted(params.items())), iso3, year)


SIDE_COLUMNS = (
    "organization_id",
    "organization",
    "organization_names",
    "organization_types",
    "location_names",
    "location_iso3s",
    "plan_id",
    "plan_names",
    "cluster_names",
    "global_cluster_names",
    "project_codes",
    "emergency_names",
    "usage_years",
    "usage_year_start",
    "usage_year_end",
)
# The columns each flow gives, in the order of _flow_values; the others come from its page.
FLOW_FIELDS = (
    "flow_id",
    "version",
    "amount_usd",
    "original_amount",
    "original_currency",
    "exchange_rate",
    "status",
    "flow_type",
    "contribution_type",
    "method",
    "boundary",
    "on_boundary",
    "new_money",
    "budget_year",
    "date",
    "decision_date",
    "first_reported_date",
    "created_at",
    "updated_at",
    "parent_flow_id",
    "child_flow_ids",
    "keywords",
    "ref_code",
    "description",
    *(f"{side}_{column}" for side in SIDES for column in SIDE_COLUMNS),
)
PAGE_FIELDS = ("source", "query_key", "query_iso3", "query_year", "fetch_id")
# The Arrow type a column is held in between pages and the frame, when every value of it is of
# the Python type that type stands for (checked where the value comes from the payload as is).
# A column holding anything else stays Python objects for pandas to type, as it always did.
ARROW_TYPES = {
    **dict.fromkeys(FLOW_COLUMNS, pa.string()),
    **dict.fromkeys(["amount_usd", "original_amount", "exchange_rate"], pa.float64()),
    **dict.fromkeys(
        [
            "query_year",
            "version",
            *(f"{s}_usage_year_{e}" for s in SIDES for e in ("start", "end")),
        ],
        pa.int64(),
    ),
    "new_money": pa.bool_(),
    **dict.fromkeys(["date", "decision_date", "first_reported_date"], pa.date32()),
    **dict.fromkeys(["created_at", "updated_at"], pa.timestamp("us")),
}
# Values taken as they come (from the payload, or the caller): Arrow would take 3.0 as an int.
CHECKED_TYPES = {"query_year": int, "version": int, "new_money": bool}
CHUNK_ROWS = 20_000


class FlowTable:
    """The flows of every page read, as the fts_flows frame.

    Pages are parsed flow by flow (errors name the page, the flow's index and id, and the
    field), and every ``chunk_rows`` rows the Python values are packed into typed Arrow columns:
    memory grows with the flows' bytes, not with a Python object per value. ``frame`` gives
    the columns the dtypes pandas infers from the same values (DataFrame.from_records).
    """

    def __init__(self, chunk_rows: int = CHUNK_ROWS) -> None:
        self._chunk_rows = chunk_rows
        self._rows: list[tuple[Any, ...]] = []
        self._pages: list[tuple[int, Query, str]] = []
        self._chunks: list[dict[str, pa.Array | list[Any]]] = []
        self._count = 0

    def add_page(self, body: dict[str, Any], url: str, fetch_id: str, query: Query) -> None:
        flows = body["data"].get("flows")
        if not isinstance(flows, list):
            raise ParseError(SOURCE, f"{url} field data.flows", "expected a list of flows")
        rows = self._rows
        for i, flow in enumerate(flows):
            try:
                rows.append(_flow_values(flow))
            except (KeyError, TypeError, AttributeError) as exc:
                where = f"{url} flow {i} (id {_id_of(flow)})"
                raise ParseError(SOURCE, where, f"missing or malformed field {exc}") from exc
            except (ValueError, OverflowError) as exc:  # Overflow: int() of an Infinity
                raise ParseError(SOURCE, f"{url} flow {i} (id {_id_of(flow)})", str(exc)) from exc
        self._pages.append((len(flows), query, fetch_id))
        if len(rows) >= self._chunk_rows:
            self._pack()

    def _pack(self) -> None:
        rows = self._rows
        columns: dict[str, Any] = (
            dict(zip(FLOW_FIELDS, zip(*rows, strict=True), strict=True))
            if rows
            else dict.fromkeys(FLOW_FIELDS, ())
        )
        columns["source"] = [SOURCE] * len(rows)
        for name in PAGE_FIELDS[1:]:
            columns[name] = []
        for count, query, fetch_id in self._pages:
            columns["query_key"] += [query.key] * count
            columns["query_iso3"] += [query.iso3] * count
            columns["query_year"] += [query.year] * count
            columns["fetch_id"] += [fetch_id] * count
        self._chunks.append({name: _packed(name, columns[name]) for name in FLOW_COLUMNS})
        self._count += len(rows)
        self._rows, self._pages = [], []

    def frame(self) -> pd.DataFrame:
        if self._rows or self._pages:
            self._pack()
        if not self._count:
            return pd.DataFrame.from_records([], columns=FLOW_COLUMNS)
        return pd.DataFrame(
            {name: self._column(name) for name in FLOW_COLUMNS}, columns=FLOW_COLUMNS, copy=False
        )

    def _column(self, name: str) -> pd.Series:
        parts = [chunk[name] for chunk in self._chunks]
        if all(isinstance(p, pa.Array) for p in parts):
            values = pa.chunked_array(parts, type=ARROW_TYPES[name])
            if values.null_count < len(values):
                return values.to_pandas()
            return pd.Series([None] * len(values), dtype=object)
        listed = [v for p in parts for v in (p.to_pylist() if isinstance(p, pa.Array) else p)]
        return pd.DataFrame.from_records([(v,) for v in listed], columns=[name])[name]


def _packed(name: str, values: Iterable[Any]) -> pa.Array | list[Any]:
    """The values as an Arrow array of the column's type, or as they are when one is not of it."""
    checked = CHECKED_TYPES.get(name)
    if checked and not all(v is None or type(v) is checked for v in values):
        return list(values)
    try:
        return pa.array(values, type=ARROW_TYPES[name])
    # Not of the type (a number where text goes), beyond int64, or text that is not UTF-8.
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return list(values)


def _id_of(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else None


def _flow_values(flow: dict[str, Any]) -> tuple[Any, ...]:
    """A flow's values in FLOW_FIELDS order, read in the order its errors are reported."""
    return (
        str(flow["id"]),
        flow.get("versionId"),
        _number(flow["amountUSD"], "amountUSD"),
        _number(flow.get("originalAmount"), "originalAmount"),
        flow.get("originalCurrency"),
        _number(flow.get("exchangeRate"), "exchangeRate"),
        flow["status"],
        flow.get("flowType"),
        flow.get("contributionType"),
        flow.get("method"),
        flow["boundary"],
        flow.get("onBoundary"),
        flow.get("newMoney"),
        _text(flow.get("budgetYear")),
        _date(flow.get("date"), "date"),
        _date(flow.get("decisionDate"), "decisionDate"),
        _date(flow.get("firstReportedDate"), "firstReportedDate"),
        _timestamp(flow.get("createdAt"), "createdAt"),
        _timestamp(flow.get("updatedAt"), "updatedAt"),
        _text(flow.get("parentFlowId")),
        _joined(flow.get("childFlowIds"), ","),
        _joined(flow.get("keywords"), ","),
        _text(flow.get("refCode")),
        flow.get("description"),
        *_side(flow.get("sourceObjects") or [], "sourceObjects"),
        *_side(flow.get("destinationObjects") or [], "destinationObjects"),
    )


def _side(objects: list[dict[str, Any]], key: str) -> tuple[Any, ...]:
    """One side's values in SIDE_COLUMNS order."""
    if not isinstance(objects, list):
        raise ValueError(f"{key} is not a list")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_type.setdefault(obj["type"], []).append(obj)
    orgs = by_type.get("Organization", [])
    locations = by_type.get("Location", [])
    plans = by_type.get("Plan", [])
    usage = by_type.get("UsageYear")
    years = sorted({int(o["name"]) for o in usage}) if usage else []
    types = {t for o in orgs for t in (o.get("organizationTypes") or [])}
    projects = by_type.get("Project")
    return (
        str(orgs[0]["id"]) if orgs else None,
        orgs[0]["name"] if orgs else None,
        NAME_SEPARATOR.join([str(o["name"]) for o in orgs]) if orgs else None,
        NAME_SEPARATOR.join([str(t) for t in sorted(types)]) if types else None,
        NAME_SEPARATOR.join([str(o["name"]) for o in locations]) if locations else None,
        location_iso3s([(o.get("id"), o.get("name")) for o in locations]),
        str(plans[0]["id"]) if plans else None,
        NAME_SEPARATOR.join([str(o["name"]) for o in plans]) if plans else None,
        _names(by_type.get("Cluster")),
        _names(by_type.get("GlobalCluster")),
        ",".join([str(o.get("code") or o["id"]) for o in projects]) if projects else None,
        _names(by_type.get("Emergency")),
        ",".join([str(y) for y in years]) if years else None,
        years[0] if years else None,
        years[-1] if years else None,
    )


def _names(objects: list[dict[str, Any]] | None) -> str | None:
    if not objects:
        return None
    return NAME_SEPARATOR.join([str(n) for n in sorted({o["name"] for o in objects})])


def location_iso3s(locations: list[tuple[Any, Any]]) -> str | None:
    """The ISO3 codes of FTS locations given as (id, name), sorted, comma-separated; None when
    none of them is a country."""
    return (
        ",".join(sorted({i for identifier, name in locations if (i := _iso3(identifier, name))}))
        or None
    )


def _iso3(identifier: Any, name: Any) -> str | None:
    try:  # types in the key: 1.0 is not the FTS location id 1, though they hash alike
        return _known_iso3(type(identifier), identifier, type(name), name)
    except TypeError:  # an id or name that is a list or an object: looked up without a cache
        return _lookup_iso3(identifier, name)


@lru_cache(maxsize=4096)
def _known_iso3(_: type, identifier: Any, __: type, name: Any) -> str | None:
    return _lookup_iso3(identifier, name)


def _lookup_iso3(identifier: Any, name: Any) -> str | None:
    """ISO3 of an FTS location: its id for the known ones, else its name; None if unknown."""
    for value in (identifier, name):
        if value in (None, ""):
            continue
        try:
            return country(value).iso3
        except AggregatorError:
            continue
    return None


def _joined(values: Any, separator: str) -> str | None:
    if values is None:
        return None
    if not isinstance(values, list):
        raise ValueError(f"expected a list, got {values!r}")
    return separator.join(str(v) for v in values) if values else None


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _number(value: Any, name: str) -> float | None:
    if type(value) is float:
        return value
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} is not a number: {value!r}")
    try:
        return float(value)
    except (ValueError, OverflowError):  # OverflowError: a JSON integer beyond float range
        raise ValueError(f"{name} is not a number: {value!r:.80}") from None


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"{name} is not an ISO date: {value!r}") from None


# FTS's own form of a time (UTC, milliseconds), read without pandas; what it reads is what
# pandas reads (tests/unit/test_fts_parse.py holds them to it). Anything else goes to pandas.
_UTC_STAMP = re.compile(r"(?:19|20|21)\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z", re.ASCII)


def _timestamp(value: Any, name: str) -> datetime | None:
    if type(value) is str and _UTC_STAMP.fullmatch(value):
        try:
            return datetime.fromisoformat(value[:-1])
        except ValueError:
            pass  # a 30 February: pandas says why
    if value in (None, ""):
        return None
    try:
        stamp = pd.Timestamp(str(value))
    except ValueError:
        raise ValueError(f"{name} is not an ISO timestamp: {value!r}") from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


def funding_total(flows: pd.DataFrame) -> float:
    """FTS's published funding total of a set of flows (e.g. one country and year).

    Incoming flows that are paid or committed count; pledges do not, and neither do flows
    shared across the boundary (``on_boundary == "shared"``: multi-year or multi-country
    flows FTS leaves out of the total). On the oPt 2020 flows this gives the published
    incoming fundingTotal.
    """
    counted = (
        (flows["boundary"] == "incoming")
        & flows["status"].isin(["paid", "commitment"])
        & (flows["on_boundary"] != "shared")
    )
    return float(flows.loc[counted, "amount_usd"].sum())


# --- appeals ---------------------------------------------------------------------------


def parse_progress(response: Fetched) -> Iterator[dict[str, Any]]:
    body = _body(response)
    url = response.record.url
    plans = body["data"].get("plans")
    if not isinstance(plans, list):
        raise ParseError(SOURCE, f"{url} field data.plans", "expected a list of plans")
    published_on = _published_on(response)
    for i, plan in enumerate(plans):
        where = f"{url} plan {i} (id {_id_of(plan)})"
        try:
            yield _appeal_row(plan, published_on, response.fetch_id)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ParseError(SOURCE, where, f"missing or malformed field {exc}") from exc
        except (ValueError, OverflowError) as exc:  # Overflow: int() of an Infinity
            raise ParseError(SOURCE, where, str(exc)) from exc


def _published_on(response: Fetched) -> date:
    """The vintage: the server's Last-Modified when it sends one, else the day it was read.

    FTS figures are live (funding changes daily and the API gives no release date), so the
    day the figure was read is its vintage.
    """
    if response.record.last_modified:
        try:
            return pd.Timestamp(response.record.last_modified).date()
        except ValueError:
            pass
    return response.record.requested_at.date()


def _appeal_row(plan: dict[str, Any], published_on: date, fetch_id: str) -> dict[str, Any]:
    requirements = plan.get("requirements") or {}
    funding = plan.get("funding")
    iso3s = sorted({c["iso3"] for c in plan.get("countries") or [] if c.get("iso3")})
    years = sorted({int(u["year"]) for u in plan.get("usageYears") or []})
    progress = _number(funding.get("progress"), "funding.progress") if funding else None
    plan_id = str(plan["id"])
    return {
        "source": SOURCE,
        "plan_id": plan_id,
        "plan_code": _text(plan.get("code")),
        "name": plan["name"],
        "plan_type": (plan.get("planType") or {}).get("name"),
        "start_date": _date(plan.get("startDate"), "startDate"),
        "end_date": _date(plan.get("endDate"), "endDate"),
        "years": _joined(years, ","),
        "country_iso3": iso3s[0] if len(iso3s) == 1 else None,
        "country_iso3s": ",".join(iso3s),
        "original_requirements_usd": _number(
            requirements.get("origRequirements"), "requirements.origRequirements"
        ),
        "revised_requirements_usd": _number(
            requirements.get("revisedRequirements"), "requirements.revisedRequirements"
        ),
        "funding_usd": _number(funding.get("totalFunding"), "funding.totalFunding")
        if funding
        else None,
        "coverage_share": None if progress is None else progress / 100,
        "published_on": published_on,
        "vintage_key": f"{plan_id}@{published_on.isoformat()}",
        "fetch_id": fetch_id,
    }
