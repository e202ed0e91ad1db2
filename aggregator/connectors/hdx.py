"""HDX CKAN (https://data.humdata.org): the helper every HDX-based connector uses.

One dataset = one entry of ``DATASETS``: the source name, the CKAN dataset slug, a regular
expression on resource names, the formats accepted, the parser and the tables it fills. A new
HDX dataset is a registry entry plus a parser (a function from the downloads to tables).

Requests:
* GET {HDX_URL}/api/3/action/package_show?id=SLUG. The live answer is
  ``{"success": true, "result": {...}}``; anything else is a ParseError.
* GET of each chosen resource's ``url``. The client follows redirects (HDX answers a download
  with a redirect to a signed storage URL). A 403 means a signed URL has expired: the dataset
  is re-resolved through package_show once and the download retried with the fresh URL.

Unchanged resources, in two steps. (1) When package_show lists a resource with the same
``last_modified`` and ``hash`` as at the last good download of its URL, no request is sent and
the stored body is reused. (2) Otherwise the download is a conditional GET (If-None-Match /
If-Modified-Since of the last good download, sent on through the redirect), so a re-upload of
identical bytes still answers 304. HDX resource URLs are stable across uploads, which is what
makes both work. package_show itself is small and always asked; it does not count as a change.

Vintage: every row keeps the resource's ``last_modified`` (else the dataset's
``metadata_modified``) as ``published_on``: when the publisher released that version.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import httpx
import pandas as pd

from aggregator.errors import FetchError, ParseError
from aggregator.http import Fetched, Fetcher
from aggregator.staging import Staged

URL_ENV = "HDX_URL"


@dataclass(frozen=True)
class Resource:
    """One resource of a CKAN package, as package_show lists it."""

    id: str
    name: str
    format: str
    url: str
    last_modified: str | None
    hash: str | None


@dataclass(frozen=True)
class Package:
    slug: str
    id: str
    title: str
    metadata_modified: str | None
    resources: tuple[Resource, ...]
    fetch_id: str
    url: str  # the package_show request, for error messages


@dataclass(frozen=True)
class Download:
    """A downloaded resource, with what the parser needs for provenance and errors."""

    package: Package
    resource: Resource
    fetched: Fetched

    @property
    def path(self) -> Path:
        return self.fetched.path

    @property
    def fetch_id(self) -> str:
        return self.fetched.fetch_id

    @property
    def source(self) -> str:
        return self.fetched.record.source

    @property
    def where(self) -> str:
        """Resource name and URL, for error messages."""
        return f"{self.resource.name} ({self.fetched.record.url})"

    @property
    def published_on(self) -> date:
        """The vintage: the resource's last_modified, else the dataset's metadata_modified."""
        stamp = self.resource.last_modified or self.package.metadata_modified
        if not stamp:
            raise ParseError(
                self.source, self.where, "neither last_modified nor metadata_modified given"
            )
        return parse_timestamp(stamp, self.source, self.package.url).date()


# (downloads, countries as ISO2 (empty = all), staging folder) -> {table: rows}; a parser whose
# rows are many may stage them (aggregator.staging) in the folder.
Parser = Callable[[list[Download], list[str], Path | None], dict[str, pd.DataFrame | Staged]]


@dataclass(frozen=True)
class HdxDataset:
    """A registry entry: which resources of which dataset, parsed how, into which tables."""

    source: str
    title: str
    slug: str
    pattern: str  # regular expression matched (whole, case-insensitive) against resource names
    formats: tuple[str, ...]  # CKAN resource formats accepted, upper case
    parse: Parser
    tables: tuple[str, ...]
    page: str = field(default="")  # the dataset page, for users

    def matches(self, resource: Resource) -> bool:
        return bool(re.fullmatch(self.pattern, resource.name, flags=re.IGNORECASE)) and (
            resource.format.upper() in self.formats
        )


def parse_timestamp(text: str, source: str, where: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ParseError(source, where, f"not an ISO timestamp: {text!r}") from exc


def package_show(fetcher: Fetcher, base: str, slug: str) -> Package:
    fetched = fetcher.get(f"{base}/api/3/action/package_show", params={"id": slug}, catalogue=True)
    url = fetched.record.url
    body = fetched.json()
    if not isinstance(body, dict) or "success" not in body:
        raise ParseError(
            fetcher.source, url, 'expected a CKAN answer {"success": ..., "result": ...}'
        )
    if body["success"] is not True:
        error = body.get("error") or {}
        detail = error.get("message") if isinstance(error, dict) else error
        raise ParseError(fetcher.source, url, f"CKAN answered success={body['success']}: {detail}")
    result = body.get("result")
    if not isinstance(result, dict):
        raise ParseError(fetcher.source, url, "field 'result' is not an object")
    listed = result.get("resources") or []
    if not isinstance(listed, list):
        raise ParseError(fetcher.source, f"{url} field result.resources", "not a list")
    resources = []
    for i, item in enumerate(listed):
        where = f"{url} resources[{i}]"
        if not isinstance(item, dict):
            raise ParseError(fetcher.source, where, f"not an object: {item!r:.80}")
        try:
            resources.append(
                Resource(
                    id=str(item["id"]),
                    name=str(item["name"]),
                    format=str(item.get("format") or ""),
                    url=_download_url(item["url"], fetcher.source, where),
                    last_modified=_optional_text(item, "last_modified", fetcher.source, where),
                    hash=_optional_text(item, "hash", fetcher.source, where),
                )
            )
        except KeyError as exc:
            raise ParseError(fetcher.source, where, f"missing field {exc}") from exc
    return Package(
        slug=slug,
        id=str(result.get("id", "")),
        title=str(result.get("title", "")),
        metadata_modified=_optional_text(result, "metadata_modified", fetcher.source, url),
        resources=tuple(resources),
        fetch_id=fetched.fetch_id,
        url=url,
    )


def _optional_text(item: dict, name: str, source: str, where: str) -> str | None:
    """A text field that may be absent or empty (last_modified, hash)."""
    value = item.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ParseError(source, where, f"field {name}: not text: {value!r:.80}")
    return value


def _download_url(value: object, source: str, where: str) -> str:
    try:
        url = httpx.URL(value) if isinstance(value, str) else None
    except httpx.InvalidURL:
        url = None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ParseError(source, where, f"field url: not an http(s) URL: {value!r:.80}")
    return value


def _get(fetcher: Fetcher, resource: Resource) -> Fetched:
    """GET a resource as listed; skipped when its last_modified and hash are those of the last
    good download of the same URL."""
    stamps = [s for s in (resource.last_modified, resource.hash) if s]
    return fetcher.get(resource.url, version=" ".join(stamps) or None)


class _Resolver:
    """Downloads resources of one package; re-resolves it through package_show once on a 403."""

    def __init__(self, fetcher: Fetcher, base: str, package: Package):
        self.fetcher, self.base, self.package = fetcher, base, package
        self.refreshed: Package | None = None

    def download(self, resource: Resource) -> Download:
        try:
            return Download(self.package, resource, _get(self.fetcher, resource))
        except FetchError as exc:
            if exc.reason != "HTTP 403":
                raise
        # A signed download URL has expired: ask package_show for the current one, once.
        if self.refreshed is None:
            self.refreshed = package_show(self.fetcher, self.base, self.package.slug)
        fresh = next((r for r in self.refreshed.resources if r.id == resource.id), None)
        if fresh is None:
            raise FetchError(
                self.fetcher.source,
                resource.url,
                f"HTTP 403, and resource {resource.id} ({resource.name}) is no longer listed by "
                f"package_show",
            )
        return Download(self.refreshed, fresh, _get(self.fetcher, fresh))


def extract(
    fetcher: Fetcher,
    base: str,
    dataset: HdxDataset,
    countries: list[str] | None,
    *,
    stage: Path | None = None,
) -> dict[str, pd.DataFrame | Staged]:
    package = package_show(fetcher, base, dataset.slug)
    chosen = [r for r in package.resources if dataset.matches(r)]
    if not chosen:
        listed = ", ".join(f"{r.name} ({r.format})" for r in package.resources) or "none"
        raise ParseError(
            fetcher.source,
            package.url,
            f"no resource matches /{dataset.pattern}/ in formats {', '.join(dataset.formats)} "
            f"(resources: {listed})",
        )
    resolver = _Resolver(fetcher, base, package)
    downloads = [resolver.download(r) for r in chosen]
    return dataset.parse(downloads, list(countries or []), stage)


# --- CSV helpers shared by the parsers --------------------------------------------------------


def is_hxl_row(cells: list[str]) -> bool:
    """True for an HXL hashtag row: every non-empty cell starts with '#' (and one is non-empty)."""
    filled = [c.strip() for c in cells if c and c.strip()]
    return bool(filled) and all(c.startswith("#") for c in filled)


def csv_records(download: Download) -> Iterator[tuple[int, list[str], list[str]]]:
    """(record number, header, cells) for each data row; header is record 1. Skips HXL row 2."""
    download.fetched.check_format("CSV")
    try:
        text = io.TextIOWrapper(download.path.open("rb"), encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ParseError(download.source, download.where, f"cannot read: {exc}") from exc
    with text:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
            if header is None:
                raise ParseError(download.source, download.where, "empty file, no header row")
            for number, cells in enumerate(reader, start=2):
                if number == 2 and is_hxl_row(cells):
                    continue
                yield number, header, cells
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ParseError(
                download.source, download.where, f"not a readable CSV ({exc})"
            ) from exc


def read_csv_frame(download: Download, required: list[str]) -> pd.DataFrame:
    """The CSV as strings, HXL row dropped, with a ``_record`` column (header = record 1)."""
    rows: list[list[str]] = []
    numbers: list[int] = []
    header: list[str] = []
    for number, header, cells in csv_records(download):
        if len(cells) != len(header):
            raise ParseError(
                download.source,
                f"{download.where} row {number}",
                f"{len(cells)} cells for {len(header)} columns",
            )
        rows.append(cells)
        numbers.append(number)
    if not header:  # no data rows: read the header alone
        header = header_row(download)
    missing = [c for c in required if c not in header]
    if missing:
        raise ParseError(download.source, download.where, f"missing column(s) {missing}")
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame["_record"] = numbers
    return frame


def header_row(download: Download) -> list[str]:
    """The first row of a CSV download as read, BOM removed (empty for an empty file)."""
    with download.path.open(encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


# --- The registry -----------------------------------------------------------------------------
# Parsers live in their own modules and are looked up when called, so they may import this one.


def _ipc_hdx(
    downloads: list[Download], countries: list[str], stage: Path | None
) -> dict[str, pd.DataFrame | Staged]:
    from aggregator.connectors import ipc_hdx

    return ipc_hdx.parse(downloads, countries, stage=stage)


def _unrwa(
    downloads: list[Download], countries: list[str], stage: Path | None
) -> dict[str, pd.DataFrame]:
    from aggregator.connectors import unrwa

    return unrwa.parse(downloads, countries)  # a few thousand rows: a frame, not staged


DATASETS: dict[str, HdxDataset] = {
    d.source: d
    for d in (
        HdxDataset(
            source="ipc_hdx",
            title="IPC on HDX: acute food insecurity populations by phase (no key needed)",
            slug="global-acute-food-insecurity-country-data",
            pattern=r"ipc_global_(national|level1|area)_long\.csv",
            formats=("CSV",),
            parse=_ipc_hdx,
            tables=("ipc_analyses", "ipc_phases"),
            page="https://data.humdata.org/dataset/global-acute-food-insecurity-country-data",
        ),
        HdxDataset(
            source="unrwa_trucks",
            title="UNRWA: aid and commercial trucks entering Gaza, per consignment",
            slug="state-of-palestine-gaza-aid-truck-data",
            pattern=r".*commodit.*",  # the XLSX name changes with each upload
            formats=("CSV", "XLSX"),
            parse=_unrwa,
            tables=("aid_trucks",),
            page="https://data.humdata.org/dataset/state-of-palestine-gaza-aid-truck-data",
        ),
    )
}
