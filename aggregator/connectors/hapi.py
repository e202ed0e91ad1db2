"""HDX HAPI (https://hapi.humdata.org, API v2): food security, appeal funding, humanitarian needs.

Requests, as HAPI documents them (https://hdx-hapi.readthedocs.io, https://hapi.humdata.org/docs):
``GET /api/v2/<theme>/<endpoint>?location_code=ISO3&output_format=json&limit=N&offset=K
&app_identifier=ID``. The JSON answer is ``{"data": [row, ...]}``; ``output_format=csv`` gives
the same fields as CSV (HDX's CSVs start with a UTF-8 byte-order mark). ``limit`` is at most
10,000: pages are requested at increasing ``offset`` until one comes back shorter than
``limit``; a page identical to one already read (a server ignoring ``offset``, or cycling)
is a ParseError rather than an endless loop. HAPI's terms ask for about one request a
second, so requests are spaced by AGGREGATOR_HAPI_PAUSE seconds (default 1.0).

The app identifier is base64("application:email") (HAPI's encode_app_identifier endpoint does
the same). It travels as the ``app_identifier`` query parameter, which aggregator.redact masks
in every URL, message and recording, and which replay file names leave out.

Rows whose ``error`` is non-empty are ones HAPI does not serve (OCHA's pipeline writes them to
its CSV outputs with the reason); they are dropped here. ``warning`` is kept on the row.
Every row keeps ``resource_hdx_id``, the HDX resource HAPI took it from.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pandas as pd

from aggregator.config import HAPI_MAX_PAGE_SIZE, SourceSettings
from aggregator.errors import ConfigError, FetchError, ParseError
from aggregator.geo import iso3_from_iso2
from aggregator.http import Fetched, Fetcher
from schemas import columns

SOURCE = "hapi"
KEY_HELP = (
    "generate an app identifier at https://hapi.humdata.org/docs (encode_app_identifier: "
    "your application name and email) and set HDX_HAPI_APP_IDENTIFIER, or pass "
    "--hapi-app NAME --hapi-email EMAIL to `aggregator refresh`"
)

log = logging.getLogger("aggregator.hapi")


def encode_app_identifier(application: str, email: str) -> str:
    """base64("application:email"), as HAPI's encode_app_identifier endpoint computes it."""
    application, email = application.strip(), email.strip()
    if len(application) < 4 or "@" not in email:
        raise ConfigError(
            "--hapi-app must be at least 4 characters and --hapi-email an email address "
            "(HAPI's rules for an app identifier)"
        )
    return base64.b64encode(f"{application}:{email}".encode()).decode("ascii")


# --- field converters: value as served (JSON value or CSV text) -> Python value --------------


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: Any) -> str | None:
    return None if _blank(value) else str(value).strip()


def _int(value: Any) -> int | None:
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a whole number: {value!r}")
    if isinstance(value, int):
        return value
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    return None if _blank(value) else float(value)


def _date(value: Any) -> date | None:
    """'2024-05-01' or '2024-05-01T00:00:00' (HAPI's JSON datetimes) -> 2024-05-01."""
    if _blank(value):
        return None
    return datetime.fromisoformat(str(value).strip()).date()


FLAGS = {"y": True, "yes": True, "true": True, "n": False, "no": False, "false": False}


def _flag(value: Any) -> bool | None:
    """has_hrp / in_gho: 'Y'/'N' in OCHA's CSVs, true/false in JSON."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        return value
    try:
        return FLAGS[str(value).strip().lower()]
    except KeyError:
        raise ValueError(f"not Y/N or true/false: {value!r}") from None


@dataclass(frozen=True)
class Field:
    name: str
    convert: Callable[[Any], Any]
    required: bool  # must be present in every row (its value may still be empty)


def _fields(required: dict[str, Callable], optional: dict[str, Callable]) -> tuple[Field, ...]:
    return tuple(
        [Field(n, c, True) for n, c in required.items()]
        + [Field(n, c, False) for n, c in optional.items()]
    )


LOCATION = {"location_code": _text}
LOCATION_EXTRA = {"location_name": _text, "has_hrp": _flag, "in_gho": _flag}
ADMINS = {
    "provider_admin1_name": _text,
    "provider_admin2_name": _text,
    "admin1_code": _text,
    "admin1_name": _text,
    "admin2_code": _text,
    "admin2_name": _text,
}
PERIOD = {"reference_period_start": _date, "reference_period_end": _date}
PROVENANCE = {"dataset_hdx_id": _text, "warning": _text, "error": _text}


@dataclass(frozen=True)
class Endpoint:
    table: str
    path: str
    fields: tuple[Field, ...]

    @property
    def columns(self) -> list[str]:
        return columns(self.table)


ENDPOINTS: dict[str, Endpoint] = {
    e.table: e
    for e in (
        Endpoint(
            "hapi_food_security",
            "food-security-nutrition-poverty/food-security",
            _fields(
                {
                    **LOCATION,
                    "admin_level": _int,
                    "ipc_phase": _text,
                    "ipc_type": _text,
                    "population_in_phase": _int,
                    "population_fraction_in_phase": _float,
                    **PERIOD,
                    "resource_hdx_id": _text,
                },
                {**LOCATION_EXTRA, **ADMINS, **PROVENANCE},
            ),
        ),
        Endpoint(
            "hapi_funding",
            "coordination-context/funding",
            _fields(
                {
                    **LOCATION,
                    "appeal_code": _text,
                    "appeal_name": _text,
                    "appeal_type": _text,
                    "requirements_usd": _float,
                    "funding_usd": _float,
                    "funding_pct": _float,
                    "reference_period_start": _date,
                    "resource_hdx_id": _text,
                },
                {**LOCATION_EXTRA, "reference_period_end": _date, **PROVENANCE},
            ),
        ),
        Endpoint(
            "humanitarian_needs",
            "affected-people/humanitarian-needs",
            _fields(
                {
                    **LOCATION,
                    "admin_level": _int,
                    "sector_code": _text,
                    "category": _text,
                    "population_status": _text,
                    "population": _int,
                    "reference_period_start": _date,
                    "resource_hdx_id": _text,
                },
                {
                    **LOCATION_EXTRA,
                    **ADMINS,
                    "sector_name": _text,
                    "reference_period_end": _date,
                    **PROVENANCE,
                },
            ),
        ),
    )
}


# --- parsing ---------------------------------------------------------------------------------


def vintage(row: dict[str, Any]) -> str:
    """The unit a refresh replaces: one location's figures from one HDX resource for one
    reference period. HAPI rows carry no release date, so a revision HAPI serves for the same
    location, resource and period replaces the earlier one; every other period is kept."""
    start = row["reference_period_start"]
    return f"{row['location_code']}|{row['resource_hdx_id']}|{start.isoformat() if start else ''}"


def parse_rows(
    items: list[Any], endpoint: Endpoint, where: str, fetch_id: str
) -> tuple[list[dict[str, Any]], int]:
    """Served rows (error empty) in table form, and how many rows were dropped for an error."""
    rows, dropped = [], 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ParseError(SOURCE, f"{where} row {i}", f"expected an object, got {item!r:.80}")
        row: dict[str, Any] = {"source": SOURCE}
        for field in endpoint.fields:
            if field.name not in item:
                if field.required:
                    raise ParseError(SOURCE, f"{where} row {i}", f"missing field {field.name!r}")
                row[field.name] = None
                continue
            try:
                row[field.name] = field.convert(item[field.name])
            except (TypeError, ValueError, OverflowError) as exc:  # Overflow: 1e400 as an int
                raise ParseError(SOURCE, f"{where} row {i} field {field.name!r}", f"{exc}") from exc
        if row.pop("error", None):
            dropped += 1
            continue
        row["vintage"] = vintage(row)
        row["fetch_id"] = fetch_id
        rows.append(row)
    return rows, dropped


def json_items(body: bytes, where: str) -> list[Any]:
    """The ``data`` list of a HAPI JSON answer."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(SOURCE, where, f"invalid JSON ({exc})") from exc
    return data_items(doc, where)


def data_items(doc: Any, where: str) -> list[Any]:
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        got = sorted(doc)[:5] if isinstance(doc, dict) else type(doc).__name__
        raise ParseError(SOURCE, where, f'expected {{"data": [...]}}, got {got}')
    return doc["data"]


def csv_items(body: bytes, where: str) -> list[dict[str, str]]:
    """Rows of a HAPI CSV, with or without the UTF-8 byte-order mark."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(SOURCE, where, f"not UTF-8 ({exc})") from exc
    reader = csv.DictReader(io.StringIO(text, newline=""))
    items = []
    for record in reader:
        if None in record or None in record.values():
            raise ParseError(
                SOURCE,
                f"{where} line {reader.line_num}",
                f"the number of cells differs from the header's {len(reader.fieldnames or [])}",
            )
        items.append(record)
    return items


def frame(rows: list[dict[str, Any]], endpoint: Endpoint) -> pd.DataFrame:
    return pd.DataFrame.from_records(rows, columns=endpoint.columns)


def parse(
    body: bytes, table: str, *, output_format: str, where: str, fetch_id: str
) -> pd.DataFrame:
    """One HAPI answer (JSON or CSV) as rows of ``table``."""
    endpoint = ENDPOINTS[table]
    items = json_items(body, where) if output_format == "json" else csv_items(body, where)
    rows, _ = parse_rows(items, endpoint, where, fetch_id)
    return frame(rows, endpoint)


# --- fetching --------------------------------------------------------------------------------


class Pacer:
    """Spaces requests at least ``pause`` seconds apart (HAPI asks for about one a second)."""

    def __init__(self, pause: float, clock=time.monotonic, sleep=time.sleep):
        self.pause, self.clock, self.sleep = pause, clock, sleep
        self.last: float | None = None

    def wait(self) -> None:
        if self.last is not None and self.pause > 0:
            remaining = self.pause - (self.clock() - self.last)
            if remaining > 0:
                self.sleep(remaining)
        self.last = self.clock()


def extract(
    fetcher: Fetcher,
    base_url: str,
    app_identifier: str | None,
    countries: list[str] | None,
    *,
    limit: int = HAPI_MAX_PAGE_SIZE,
    pause: float = SourceSettings.hapi_pause,
    output_format: str = "json",
) -> dict[str, pd.DataFrame]:
    if not 1 <= limit <= HAPI_MAX_PAGE_SIZE:
        raise ConfigError(f"HAPI page size must be 1 to {HAPI_MAX_PAGE_SIZE:,}, got {limit}")
    if output_format not in ("json", "csv"):
        raise ConfigError(f"HAPI output_format must be json or csv, got {output_format!r}")
    pacer = Pacer(pause)
    locations: list[str | None] = [iso3_from_iso2(c) for c in countries or []] or [None]
    tables = {}
    for table, endpoint in ENDPOINTS.items():
        rows: list[dict[str, Any]] = []
        for location in locations:
            rows.extend(
                _fetch_all(
                    fetcher,
                    base_url,
                    endpoint,
                    location,
                    app_identifier,
                    limit,
                    output_format,
                    pacer,
                )
            )
        tables[table] = frame(rows, endpoint)
    return tables


def _fetch_all(
    fetcher: Fetcher,
    base_url: str,
    endpoint: Endpoint,
    location: str | None,
    app_identifier: str | None,
    limit: int,
    output_format: str,
    pacer: Pacer,
) -> Iterator[dict[str, Any]]:
    url = f"{base_url}/api/v2/{endpoint.path}"
    offset, dropped = 0, 0
    pages: dict[str, int] = {}  # sha256 of each page read -> its offset
    while True:
        pacer.wait()
        params = {
            "location_code": location,
            "output_format": output_format,
            "limit": str(limit),
            "offset": str(offset),
            "app_identifier": app_identifier,
        }
        page = _get(fetcher, url, params)
        where = page.record.url
        if output_format == "json":
            items = data_items(page.json(), where)
        else:
            page.check_format("CSV")
            items = csv_items(page.path.read_bytes(), where)
        # A server that ignores offset, or cycles through pages, would be read forever.
        repeated = pages.get(page.record.sha256) if items else None
        if repeated is not None:
            raise ParseError(
                SOURCE, where, f"offset {offset} returned the same page as offset {repeated}"
            )
        pages[page.record.sha256] = offset
        rows, dropped_here = parse_rows(items, endpoint, where, page.fetch_id)
        dropped += dropped_here
        yield from rows
        if len(items) < limit:
            break
        offset += limit
    if dropped:
        log.info("%s: %d row(s) with an error left out of %s", SOURCE, dropped, endpoint.table)


def _get(fetcher: Fetcher, url: str, params: dict[str, str | None]) -> Fetched:
    try:
        return fetcher.get(url, params)
    except FetchError as exc:
        status = fetcher.records[-1].status if fetcher.records else None
        if status in (401, 403):
            raise FetchError(
                SOURCE, exc.url, f"{exc.reason}: HAPI refused the app identifier; {KEY_HELP}"
            ) from None
        if status is not None and 400 <= status < 500:
            raise FetchError(
                SOURCE,
                exc.url,
                f"{exc.reason}: HAPI rejected the request (a missing or invalid "
                f"app identifier, or a parameter it does not accept); {KEY_HELP}",
            ) from None
        raise
