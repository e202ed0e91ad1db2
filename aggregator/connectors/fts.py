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

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import pandas as pd

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
) -> dict[str, pd.DataFrame]:
    iso3s = [iso3_from_iso2(c) for c in countries] if countries else []
    flows: list[dict[str, Any]] = []
    for iso3 in iso3s or DEFAULT_FLOW_COUNTRIES:
        for year in flow_years:
            flows.extend(
                fetch_flows(
                    fetcher,
                    base_url,
                    {"countryISO3": iso3, "year": str(year)},
                    query_iso3=iso3,
                    query_year=year,
                )
            )
    appeals: list[dict[str, Any]] = []
    for year in years:
        response = fetcher.get(f"{base_url}{PROGRESS_PATH}/{year}")
        appeals.extend(
            row
            for row in parse_progress(response)
            if not iso3s or set(row["country_iso3s"].split(",")) & set(iso3s)
        )
    return {
        "fts_flows": pd.DataFrame.from_records(flows, columns=FLOW_COLUMNS),
        "appeals": _latest_per_plan(pd.DataFrame.from_records(appeals, columns=APPEAL_COLUMNS)),
    }


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
) -> list[dict[str, Any]]:
    """Every flow of one query, following meta.nextLink page by page."""
    query_key = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    response = fetcher.get(f"{base_url}{path}", params=params)
    seen = {str(response.record.url)}
    rows: list[dict[str, Any]] = []
    while True:
        body = _body(response)
        rows.extend(
            parse_flows(
                body,
                response.record.url,
                response.fetch_id,
                query_key=query_key,
                query_iso3=query_iso3,
                query_year=query_year,
            )
        )
        next_link = _next_link(body, response.record.url)
        if next_link is None:
            return rows
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


def _next_link(body: dict[str, Any], page_url: str) -> str | None:
    meta = body.get("meta") or {}
    if not isinstance(meta, dict):
        raise ParseError(SOURCE, f"{page_url} field meta", "expected an object")
    link = meta.get("nextLink")
    if link in (None, ""):
        return None
    if not isinstance(link, str):
        raise ParseError(SOURCE, f"{page_url} field meta.nextLink", f"not a URL: {link!r}")
    return urljoin(page_url, link)  # absolute links are kept as they are


# --- flows -----------------------------------------------------------------------------


def parse_flows(
    body: dict[str, Any],
    url: str,
    fetch_id: str,
    *,
    query_key: str,
    query_iso3: str | None,
    query_year: int | None,
) -> Iterator[dict[str, Any]]:
    flows = body["data"].get("flows")
    if not isinstance(flows, list):
        raise ParseError(SOURCE, f"{url} field data.flows", "expected a list of flows")
    for i, flow in enumerate(flows):
        where = f"{url} flow {i}"
        try:
            yield _flow_row(flow, fetch_id, query_key, query_iso3, query_year)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ParseError(
                SOURCE, f"{where} (id {_id_of(flow)})", f"missing or malformed field {exc}"
            ) from exc
        except (ValueError, OverflowError) as exc:  # Overflow: int() of an Infinity
            raise ParseError(SOURCE, f"{where} (id {_id_of(flow)})", str(exc)) from exc


def _id_of(item: Any) -> Any:
    return item.get("id") if isinstance(item, dict) else None


def _flow_row(
    flow: dict[str, Any],
    fetch_id: str,
    query_key: str,
    query_iso3: str | None,
    query_year: int | None,
) -> dict[str, Any]:
    row = {
        "source": SOURCE,
        "query_key": query_key,
        "query_iso3": query_iso3,
        "query_year": query_year,
        "flow_id": str(flow["id"]),
        "version": flow.get("versionId"),
        "amount_usd": _number(flow["amountUSD"], "amountUSD"),
        "original_amount": _number(flow.get("originalAmount"), "originalAmount"),
        "original_currency": flow.get("originalCurrency"),
        "exchange_rate": _number(flow.get("exchangeRate"), "exchangeRate"),
        "status": flow["status"],
        "flow_type": flow.get("flowType"),
        "contribution_type": flow.get("contributionType"),
        "method": flow.get("method"),
        "boundary": flow["boundary"],
        "on_boundary": flow.get("onBoundary"),
        "new_money": flow.get("newMoney"),
        "budget_year": _text(flow.get("budgetYear")),
        "date": _date(flow.get("date"), "date"),
        "decision_date": _date(flow.get("decisionDate"), "decisionDate"),
        "first_reported_date": _date(flow.get("firstReportedDate"), "firstReportedDate"),
        "created_at": _timestamp(flow.get("createdAt"), "createdAt"),
        "updated_at": _timestamp(flow.get("updatedAt"), "updatedAt"),
        "parent_flow_id": _text(flow.get("parentFlowId")),
        "child_flow_ids": _joined(flow.get("childFlowIds"), ","),
        "keywords": _joined(flow.get("keywords"), ","),
        "ref_code": _text(flow.get("refCode")),
        "description": flow.get("description"),
        "fetch_id": fetch_id,
    }
    for side, key in SIDES.items():
        objects = flow.get(key) or []
        if not isinstance(objects, list):
            raise ValueError(f"{key} is not a list")
        for column, value in _side(objects).items():
            row[f"{side}_{column}"] = value
    return row


def _side(objects: list[dict[str, Any]]) -> dict[str, Any]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        by_type.setdefault(obj["type"], []).append(obj)
    orgs = by_type.get("Organization", [])
    locations = by_type.get("Location", [])
    plans = by_type.get("Plan", [])
    years = sorted({int(o["name"]) for o in by_type.get("UsageYear", [])})
    types = {t for o in orgs for t in (o.get("organizationTypes") or [])}
    return {
        "organization_id": str(orgs[0]["id"]) if orgs else None,
        "organization": orgs[0]["name"] if orgs else None,
        "organization_names": _joined([o["name"] for o in orgs], NAME_SEPARATOR),
        "organization_types": _joined(sorted(types), NAME_SEPARATOR),
        "location_names": _joined([o["name"] for o in locations], NAME_SEPARATOR),
        "location_iso3s": _joined(sorted({i for o in locations if (i := _iso3(o))}), ","),
        "plan_id": str(plans[0]["id"]) if plans else None,
        "plan_names": _joined([o["name"] for o in plans], NAME_SEPARATOR),
        "cluster_names": _names(by_type.get("Cluster", [])),
        "global_cluster_names": _names(by_type.get("GlobalCluster", [])),
        "project_codes": _joined(
            [o.get("code") or o["id"] for o in by_type.get("Project", [])], ","
        ),
        "emergency_names": _names(by_type.get("Emergency", [])),
        "usage_years": _joined(years, ","),
        "usage_year_start": years[0] if years else None,
        "usage_year_end": years[-1] if years else None,
    }


def _names(objects: list[dict[str, Any]]) -> str | None:
    return _joined(sorted({o["name"] for o in objects}), NAME_SEPARATOR)


def _iso3(location: dict[str, Any]) -> str | None:
    """ISO3 of an FTS location: its id for the known ones, else its name; None if unknown."""
    for identifier in (location.get("id"), location.get("name")):
        if identifier in (None, ""):
            continue
        try:
            return country(identifier).iso3
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


def _timestamp(value: Any, name: str) -> datetime | None:
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
