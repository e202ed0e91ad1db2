"""Network faults, one remote source at a time, against the real loopback server that plays
every live service from the demo snapshot (tests/integration/services.py).

A module-scoped baseline refreshes every source once into a template data directory; each
scenario copies it, injects one fault into the request that carries the source's data (the
*target*: IPC /population, an IPC HDX file, the UNRWA CSV, the HAPI food-security page, the
first FTS flow page, the casualties JSON) and refreshes that source alone. A scenario ends in
one of two ways, fixed per fault:

* recovers: the fault is retried away; the source ends published or not_modified, the body
  kept after the retry is byte-identical to the last good download, and the rows are those
  of the baseline;
* fails: the source's outcome is "failed" with a message naming the source, the (redacted)
  URL and the reason; nothing is published (every fact row of the warehouse as before).

Scenarios (fault x source; "all" = ipc_api, ipc_hdx, unrwa_trucks, hapi, fts, casualties):

| fault | sources | ends |
|---|---|---|
| connection refused (URL setting at a closed port) | all | fails: ConnectError |
| slow headers (first answer 1.5 s late, read timeout 0.5 s) | all | recovers |
| slow body (1.5 s pause mid-body, every time) | all | fails: ReadTimeout |
| HTTP 500, 502, 503, then success (4 attempts) | all | recovers |
| HTTP 429 with Retry-After: 1, then success | all | recovers, waited >= 1 s |
| body shorter than its Content-Length (every time) | all | fails: body ended early |
| chunked body cut mid-way (once) | all | recovers |
| invalid JSON (JSON sources) / invalid CSV, UTF-16 (HDX CSV sources) | all | fails |
| HTML error page with status 200 | all | fails: names the HTML page |
| wrong content type (XML error document, application/xml) | all | fails: names it |
| corrupt gzip (Content-Encoding: gzip, bad bytes; every time) | all | fails after retry |
| empty body (every time) | all | fails after retry |
| body over the size cap (AGGREGATOR_HTTP_MAX_BYTES) | all | fails: cap named |
| redirect loop (302 to itself) | all | fails: redirect loop |
| expired signed download URL (403), re-resolved via package_show | ipc_hdx, unrwa_trucks | recovers |
| paging loop (FTS nextLink to itself; HAPI offset repeating page 1) | fts, hapi | fails |
| paging broken mid-way (a later page answers 503) | fts, hapi | fails |

The expired-URL fault exists only where downloads are signed links (HDX); paging only where
a source pages (FTS flows, HAPI): the IPC API, the HDX files and the casualties JSON are one
answer each. A few faults also run as a refresh of every source through the real CLI (a
subprocess), with the fault on one host: exit code 1, stderr naming the failing source(s) and
why, every other source refreshed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.http import FetchRecord
from aggregator.pipeline import SourceResult, refresh
from aggregator.sources import SOURCES, RefreshOptions, resolve
from tests.integration.loopback import Reply, Seen
from tests.integration.services import SOURCE_HOSTS, Services, serve_all

from .observe import CANARIES, HAPI_CANARY, IPC_CANARY, fact_rows

REMOTE = sorted(SOURCE_HOSTS)
HDX_SOURCES = ("ipc_hdx", "unrwa_trucks")
PAGED = ("fts", "hapi")
SIZE_CAP = 100_000  # above every demo answer (the largest is ~40 kB)
SLOW = 1.5  # seconds a slow server holds back, three times the read timeout
READ_TIMEOUT = "0.5"
_SCRIPT = Path(sys.executable).with_name("aggregator")
AGGREGATOR = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "aggregator.cli"]


# --- which request of each source a fault hits ------------------------------------------------


def _hdx_file(name: str) -> Callable[[str, dict], bool]:
    return lambda path, query: (
        path.startswith("/data.humdata.org/") and path.endswith(f"/download/{name}")
    )


TARGETS: dict[str, tuple[str, Callable[[str, dict], bool]]] = {
    # source: (what the target is, predicate on the loopback path and query)
    "ipc_api": ("/population", lambda path, query: path == "/api.ipcinfo.org/population"),
    "ipc_hdx": ("ipc_global_national_long.csv", _hdx_file("ipc_global_national_long.csv")),
    "unrwa_trucks": ("commodities-received.csv", _hdx_file("commodities-received.csv")),
    "hapi": (
        "the food-security page",
        lambda path, query: (
            path == "/hapi.humdata.org/api/v2/food-security-nutrition-poverty/food-security"
        ),
    ),
    "fts": (
        "flow page 1",
        lambda path, query: path == "/api.hpc.tools/v1/public/fts/flow" and "page" not in query,
    ),
    "casualties": (
        "casualties_daily.json",
        lambda path, query: path == "/data.techforpalestine.org/api/v2/casualties_daily.json",
    ),
}
FORMAT = {"ipc_hdx": "CSV", "unrwa_trucks": "CSV"}  # the others answer JSON
SLUGS = {
    "ipc_hdx": "global-acute-food-insecurity-country-data",
    "unrwa_trucks": "state-of-palestine-gaza-aid-truck-data",
}


def _is_target(source: str, url: str, loopback_url: str) -> bool:
    """Whether a fetch record's URL is the source's target request."""
    parts = urlsplit(url.removeprefix(loopback_url))
    return TARGETS[source][1](parts.path, parse_qs(parts.query))


# --- injecting a fault ------------------------------------------------------------------------


class Injector:
    """The per-host fault of one scenario: counts the target's requests and answers them."""

    def __init__(self, played: Services, source: str, fault: Fault, everything: bool = False):
        self.played, self.source, self.fault = played, source, fault
        self.everything = everything  # every request of the host is a target (CLI runs)
        self.hits: list[Seen] = []
        self.shows = 0  # package_show requests of the source's dataset

    def is_target(self, seen: Seen) -> bool:
        return self.everything or TARGETS[self.source][1](seen.path, seen.query)

    def is_show(self, seen: Seen) -> bool:
        return seen.path == "/data.humdata.org/api/3/action/package_show" and seen.query.get(
            "id"
        ) == [SLUGS.get(self.source)]

    def full(self, seen: Seen, **query: str) -> Reply:
        """The recorded answer with its body, as to a request without validators (a 304
        would give the client nothing to check); ``query`` changes the request first."""
        host, _, rest = seen.target.lstrip("/").partition("/")
        path = "/" + rest.partition("?")[0]
        merged = {k: v[0] for k, v in seen.query.items()} | query
        target = f"{path}?{urlencode(merged)}" if merged else path
        return self.played._recorded(host, target, replace(seen, headers={}))

    def __call__(self, seen: Seen, normal: Reply) -> Reply | None:
        if self.is_show(seen):
            self.shows += 1
        answer = self.fault.answer(self, seen)
        if answer is None and self.is_show(seen) and not self.everything:
            return self.new_version(seen)
        return answer

    def new_version(self, seen: Seen) -> Reply:
        """package_show listing the target file with a new hash, so that it is downloaded
        (an unchanged version is not even asked for)."""
        shown = self.full(seen)
        answer = json.loads(shown.body)
        for resource in answer["result"]["resources"]:
            # Resource URLs point at the loopback already: their path is a loopback path.
            if TARGETS[self.source][1](urlsplit(resource["url"]).path, {}):
                resource["hash"] = f"new-{resource.get('hash') or ''}"
        return Reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})


def on_target(reply: Callable[[Injector, Seen, int], Reply]) -> Callable:
    """A fault answering the n-th request of the target (1 = first); others answer normally."""

    def answer(inj: Injector, seen: Seen) -> Reply | None:
        if not inj.is_target(seen):
            return None
        inj.hits.append(seen)
        return reply(inj, seen, len(inj.hits))

    return answer


Check = Callable[[Injector, list[FetchRecord]], None]


@dataclass(frozen=True)
class Fault:
    name: str
    recovers: bool
    answer: Callable[[Injector, Seen], Reply | None]
    requests: int  # how many times the target is asked (retries included)
    says: str = ""  # the failure's reason, in words, for the report
    reason: str = ""  # regular expression the failure message must match
    env: dict[str, str] = field(default_factory=dict)
    sources: tuple[str, ...] = tuple(REMOTE)
    refused: bool = False  # the source's URL setting points at a closed port instead
    wording: dict[str, str] = field(default_factory=dict)  # another reason for some sources
    check: Check | None = None  # more to check once recovered

    def reason_for(self, source: str) -> str:
        return self.wording.get(source, self.reason)

    def expected(self) -> str:
        if self.recovers:
            return (
                f"retried ({self.requests} requests), then the last good data again "
                "(not_modified/published), rows unchanged"
            )
        return f"source fails alone, message names URL and {self.says}; nothing published"


HTML = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><h1>Bad Gateway</h1><p>The proxy server received an invalid response.</p></body>"
    b"</html>\n"
)
XML = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We '
    b"encountered an internal error. Please try again.</Message></Error>\n"
)


def _cut_json(inj: Injector, seen: Seen, n: int) -> Reply:
    """A document cut in half, with a Content-Length that matches: valid HTTP, invalid JSON."""
    full = inj.full(seen)
    return Reply(200, full.body[: _half(full.body)], {"Content-Type": "application/json"})


def _invalid(inj: Injector, seen: Seen, n: int) -> Reply:
    if FORMAT.get(inj.source) == "CSV":  # an export in UTF-16: not a readable UTF-8 CSV
        full = inj.full(seen)
        return Reply(200, full.body.decode("utf-8").encode("utf-16"), {"Content-Type": "text/csv"})
    return _cut_json(inj, seen, n)


def _half(body: bytes) -> int:
    return max(1, len(body) // 2)


def _expired(inj: Injector, seen: Seen) -> Reply | None:
    """The first package_show lists a signed URL that has expired (403); the second lists a
    fresh one (the resource's own URL) with a new hash, which is downloaded."""
    if inj.is_show(seen):
        answer = json.loads(inj.new_version(seen).body)
        if inj.shows == 1:
            for resource in answer["result"]["resources"]:
                if TARGETS[inj.source][1](urlsplit(resource["url"]).path, {}):
                    resource["url"] += "?expires=1&signature=abc"
        return Reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
    if not inj.is_target(seen):
        return None
    inj.hits.append(seen)
    if "expires" in seen.query:
        return Reply(
            403, XML.replace(b"InternalError", b"AccessDenied"), {"Content-Type": "application/xml"}
        )
    return inj.full(seen)


def _waited_retry_after(inj: Injector, records: list[FetchRecord]) -> None:
    # The configured backoff is 0.01 s: only the server's Retry-After explains the gap.
    assert inj.hits[1].at - inj.hits[0].at >= 0.9


def _re_resolved(inj: Injector, records: list[FetchRecord]) -> None:
    assert inj.shows == 2  # package_show asked again, once
    assert ["expires" in s.query for s in inj.hits] == [True, False]
    assert [r.status for r in records] == [403, 200]


def _hapi_page(inj: Injector, seen: Seen) -> Reply:
    """A HAPI page at any limit and offset, cut from the recorded full answer."""
    limit, offset = int(seen.query["limit"][0]), int(seen.query["offset"][0])
    rows = json.loads(inj.full(seen, limit="10000", offset="0").body)["data"]
    body = json.dumps({"data": rows[offset : offset + limit]}).encode()
    return Reply(200, body, {"Content-Type": "application/json"})


def _paging(broken: bool) -> Callable[[Injector, Seen], Reply | None]:
    def answer(inj: Injector, seen: Seen) -> Reply | None:
        if inj.source == "fts":
            if seen.path != "/api.hpc.tools/v1/public/fts/flow" or seen.query.get("page") != ["2"]:
                return None
            inj.hits.append(seen)
            if broken:
                return Reply(503, b"upstream unavailable\n", {"Content-Type": "text/plain"})
            page = inj.full(seen)
            body = json.loads(page.body)
            body["meta"]["nextLink"] = inj.played.loopback.url + seen.target  # itself
            return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        if not seen.path.startswith("/hapi.humdata.org/"):
            return None
        offset = int(seen.query["offset"][0])
        if inj.is_target(seen) and offset == (5 if broken else 10):
            inj.hits.append(seen)
            if broken:  # page 2 of food security never comes
                return Reply(503, b"upstream unavailable\n", {"Content-Type": "text/plain"})
            # page 3 is page 1 again
            return _hapi_page(inj, replace(seen, query={**seen.query, "offset": ["0"]}))
        return _hapi_page(inj, seen)

    return answer


# ipc.py reads /population with DuckDB (read_json): its reason for invalid JSON is DuckDB's.
IPC_POPULATION = {
    "ipc_api": r"invalid JSON: .*; received a body \(Content-Type application/json\) starting"
}
PAGING_ENV = {"AGGREGATOR_HAPI_PAGE_SIZE": "5"}  # food security: 14 rows in pages of 5

FAULTS = [
    Fault(
        "connection refused",
        False,
        lambda inj, seen: None,
        0,
        "ConnectError",
        r"ConnectError: .*Connection refused \(after 2 attempts\)",
        refused=True,
    ),
    Fault(
        "slow headers (first answer 1.5 s late, read timeout 0.5 s)",
        True,
        on_target(lambda inj, seen, n: replace(inj.full(seen), delay=SLOW if n == 1 else 0.0)),
        2,
        env={"AGGREGATOR_HTTP_TIMEOUT": READ_TIMEOUT},
    ),
    Fault(
        "slow body (1.5 s pause mid-body, every time; read timeout 0.5 s)",
        False,
        on_target(
            lambda inj, seen, n: replace(
                (full := inj.full(seen)), chunk_size=_half(full.body), chunk_delay=SLOW
            )
        ),
        2,
        "ReadTimeout after 2 attempts",
        r"ReadTimeout: .* \(after 2 attempts\)",
        env={"AGGREGATOR_HTTP_TIMEOUT": READ_TIMEOUT},
    ),
    Fault(
        "HTTP 500, 502, 503, then success",
        True,
        on_target(
            lambda inj, seen, n: (
                Reply({1: 500, 2: 502, 3: 503}[n], b"server error\n") if n <= 3 else inj.full(seen)
            )
        ),
        4,
        env={"AGGREGATOR_HTTP_ATTEMPTS": "4"},
    ),
    Fault(
        "HTTP 429 with Retry-After: 1, then success",
        True,
        on_target(
            lambda inj, seen, n: (
                Reply(429, b"slow down\n", {"Retry-After": "1"}) if n == 1 else inj.full(seen)
            )
        ),
        2,
        check=_waited_retry_after,
    ),
    Fault(
        "body shorter than its Content-Length (every time)",
        False,
        on_target(
            lambda inj, seen, n: replace(
                (full := inj.full(seen)),
                body=full.body[: _half(full.body)],
                declared_length=len(full.body),
            )
        ),
        2,
        "RemoteProtocolError (body incomplete) after 2 attempts",
        # h11 notices first when the server closes; our own check when it does not.
        r"RemoteProtocolError: .*(expected [\d,]+|body ended after [\d,]+ of [\d,]+ bytes)"
        r"\) \(after 2 attempts\)",
    ),
    Fault(
        "chunked body cut mid-way (once)",
        True,
        on_target(
            lambda inj, seen, n: replace(
                (full := inj.full(seen)),
                chunked=True,
                chunk_size=max(1, len(full.body) // 4),
                cut_after=_half(full.body) if n == 1 else None,
            )
        ),
        2,
    ),
    Fault(
        "invalid JSON (JSON sources) or invalid CSV (UTF-16, HDX CSV sources)",
        False,
        on_target(_invalid),
        1,
        "invalid JSON / not a readable CSV, with what was received",
        r"invalid JSON \(.*\); received a body \(Content-Type application/json\) starting"
        r"|not a readable CSV",
        wording=IPC_POPULATION,
    ),
    Fault(
        "HTML error page with status 200",
        False,
        on_target(lambda inj, seen, n: Reply(200, HTML, {"Content-Type": "text/html"})),
        1,
        "an HTML page, its Content-Type and first bytes",
        r"received an HTML page \(Content-Type text/html\) starting '<!DOCTYPE html>",
    ),
    Fault(
        "wrong content type (an XML error document, application/xml)",
        False,
        on_target(lambda inj, seen, n: Reply(200, XML, {"Content-Type": "application/xml"})),
        1,
        "the Content-Type and first bytes received",
        r"received a body \(Content-Type application/xml\) starting '<\?xml",
    ),
    Fault(
        "corrupt gzip (Content-Encoding: gzip, bad bytes; every time)",
        False,
        on_target(
            lambda inj, seen, n: Reply(
                200,
                b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"not deflate data" * 8,
                {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
        ),
        2,
        "a corrupt gzip body, after 2 attempts",
        r"corrupt body: cannot decode Content-Encoding gzip .* \(after 2 attempts\)",
    ),
    Fault(
        "empty body (every time)",
        False,
        on_target(lambda inj, seen, n: Reply(200, b"", {"Content-Type": "application/json"})),
        2,
        "an empty body, after 2 attempts",
        r"empty body .* \(after 2 attempts\)",
    ),
    Fault(
        f"body over the size cap ({SIZE_CAP:,} bytes, chunked)",
        False,
        on_target(
            lambda inj, seen, n: Reply(
                200, b" " * (SIZE_CAP + 50_000), {"Content-Type": "application/json"}, chunked=True
            )
        ),
        1,
        "the cap (no retry)",
        rf"body larger than the {SIZE_CAP:,}-byte cap",
        env={"AGGREGATOR_HTTP_MAX_BYTES": str(SIZE_CAP)},
    ),
    Fault(
        "redirect loop (302 to itself)",
        False,
        on_target(
            lambda inj, seen, n: Reply(
                302, b"", {"Location": inj.played.loopback.url + seen.target}
            )
        ),
        11,  # the first request and 10 redirects
        "a redirect loop",
        r"redirect loop: more than 10 redirects",
    ),
    Fault(
        "expired signed download URL (403), re-resolved through package_show",
        True,
        _expired,
        2,
        sources=HDX_SOURCES,
        check=_re_resolved,
    ),
    Fault(
        "paging loop (FTS nextLink to itself; HAPI offset 10 repeats offset 0)",
        False,
        _paging(broken=False),
        1,
        "the loop",
        r"nextLink loop|offset 10 returned the same page as offset 0",
        env=PAGING_ENV,
        sources=PAGED,
    ),
    Fault(
        "paging broken mid-way (a later page answers HTTP 503)",
        False,
        _paging(broken=True),
        2,
        "HTTP 503 of the later page",
        r"HTTP 503 after 2 attempts",
        env=PAGING_ENV,
        sources=PAGED,
    ),
]
CASES = [
    pytest.param(
        source, fault, id=f"{source}-{re.sub(r'[^a-z0-9]+', '_', fault.name.lower())[:30]}"
    )
    for fault in FAULTS
    for source in fault.sources
]


# --- the baseline and one scenario ------------------------------------------------------------


@dataclass
class World:
    played: Services
    template: Path
    facts: dict[str, set[tuple]]  # every fact row of the baseline warehouse
    sha: dict[str, str]  # sha256 of the baseline download of each URL


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One good refresh of every source into a template data directory, on one loopback
    server kept for the module (so that URLs, and the validators keyed by them, stay)."""
    template = tmp_path_factory.mktemp("network-baseline") / "data"
    with pytest.MonkeyPatch.context() as mp, serve_all(template, mp) as played:
        mp.setenv("IPC_API_KEY", IPC_CANARY)
        mp.setenv("HDX_HAPI_APP_IDENTIFIER", HAPI_CANARY)
        mp.setenv("AGGREGATOR_HTTP_TIMEOUT", "5")  # a hang fails the test instead of stalling
        settings = load_settings()
        results = refresh(resolve([]), RefreshOptions(settings=settings))
        assert {r.source: r.outcome for r in results} == {r.source: "published" for r in results}, [
            (r.source, r.message) for r in results if r.outcome != "published"
        ]
        assert not played.loopback.errors
        yield World(
            played,
            template,
            fact_rows(settings.warehouse),
            {f.url: f.sha256 for r in results for f in r.fetches},
        )


@dataclass
class Scenario:
    world: World
    data: Path

    @property
    def warehouse(self) -> Path:
        return self.data / "warehouse.duckdb"


@pytest.fixture
def scenario(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Scenario]:
    data = tmp_path / "data"
    shutil.copytree(world.template, data)
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(data))
    loopback = world.played.loopback
    world.played.faults.clear()
    loopback.requests.clear()
    loopback.errors.clear()
    yield Scenario(world, data)
    world.played.faults.clear()
    assert not loopback.errors, loopback.errors


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _inject(
    sc: Scenario, source: str, fault: Fault, monkeypatch: pytest.MonkeyPatch, everything=False
) -> tuple[Injector, str]:
    """Sets the fault up; returns the injector and the base URL the failure must name."""
    for name, value in fault.env.items():
        monkeypatch.setenv(name, value)
    played = sc.world.played
    host = SOURCE_HOSTS[source]
    injector = Injector(played, source, fault, everything)
    if fault.refused:
        closed = f"http://127.0.0.1:{_closed_port()}"
        monkeypatch.setenv(SOURCES[source].url_env, closed)
        return injector, closed
    played.faults[host] = injector
    return injector, f"{played.loopback.url}/{host}"


def _lost(before: dict[str, set[tuple]], after: dict[str, set[tuple]]) -> int:
    """observe.rows_lost on a snapshot already read (reading the warehouse once)."""
    return sum(len(rows - after.get(table, set())) for table, rows in before.items())


def _excerpt(text: str | None, width: int = 240) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


@pytest.mark.parametrize(("source", "fault"), CASES)
def test_network_fault(observe, scenario, monkeypatch, source: str, fault: Fault) -> None:
    sc = scenario
    injector, base = _inject(sc, source, fault, monkeypatch)
    (result,) = refresh(resolve([source]), RefreshOptions(settings=load_settings()))
    after = fact_rows(sc.warehouse)
    lost = _lost(sc.world.facts, after)

    if fault.recovers:
        observed = _assert_recovered(sc, source, fault, injector, result, after)
    else:
        observed = _assert_failed(sc, source, fault, injector, result, after, base)
    assert lost == 0
    observe.record(
        area="network",
        scenario=f"{source}: {fault.name}",
        expected=fault.expected(),
        observed=observed,
        rows_lost=lost,
    )


def _assert_recovered(
    sc: Scenario, source: str, fault: Fault, injector: Injector, result: SourceResult, after
) -> str:
    assert result.outcome in ("published", "not_modified"), result.message
    assert len(injector.hits) == fault.requests  # the fault was met, then retried away
    loopback_url = sc.world.played.loopback.url
    records = [r for r in result.fetches if _is_target(source, r.url, loopback_url)]
    final = records[-1]
    assert final.status == 200 and final.error is None, [(r.status, r.error) for r in records]
    # The body kept after the retry is the last good download, byte for byte.
    assert final.sha256 == sc.world.sha[final.url]
    if fault.check:
        fault.check(injector, records)
    assert after == sc.world.facts  # the same rows, nothing lost or added
    return (
        f"{result.outcome} after {len(injector.hits)} request(s) of {TARGETS[source][0]} "
        f"(fetch attempts {final.attempts}, statuses {[r.status for r in records]}); body "
        f"identical to the last good download; {sum(map(len, after.values())):,} fact rows "
        "unchanged"
    )


def _assert_failed(
    sc: Scenario,
    source: str,
    fault: Fault,
    injector: Injector,
    result: SourceResult,
    after,
    base: str,
) -> str:
    message = result.message or ""
    assert result.outcome == "failed", (result.outcome, message)
    assert message.startswith(f"{source}: "), message
    assert base in message, message  # the URL of the request that failed
    assert re.search(fault.reason_for(source), message), message
    assert len(injector.hits) == fault.requests
    assert not any(c in message for c in CANARIES)
    if source in ("ipc_api", "hapi"):
        assert "=***" in message, message  # the key's place in the URL, masked
    assert after == sc.world.facts  # nothing partial published, previous tables intact
    with duckdb.connect(str(sc.warehouse), read_only=True) as con:
        stored = con.execute(
            "select outcome, message from runs where source = ? order by finished_at desc limit 1",
            [source],
        ).fetchone()
    assert stored == ("failed", message)
    return f"failed after {len(injector.hits)} request(s) of the target: {_excerpt(message)}"


# --- the same faults through the CLI, every source at once ------------------------------------

CLI_CASES = [
    # (fault, host to break, sources that must fail)
    ("connection refused", "data.techforpalestine.org", ("casualties",)),
    ("invalid JSON", "data.humdata.org", HDX_SOURCES),  # package_show: a JSON catalogue
    ("redirect loop", "hapi.humdata.org", ("hapi",)),
    ("body over the size cap", "api.hpc.tools", ("fts",)),
]


def _fault_named(prefix: str) -> Fault:
    return next(f for f in FAULTS if f.name.startswith(prefix))


@pytest.mark.parametrize(
    ("name", "host", "failing"), CLI_CASES, ids=[c[0].replace(" ", "_") for c in CLI_CASES]
)
def test_cli_refresh_all_with_one_host_broken(
    observe, scenario, monkeypatch, name: str, host: str, failing: tuple[str, ...]
) -> None:
    sc = scenario
    fault = _fault_named(name)
    if name == "invalid JSON":  # HDX's first answer, package_show, is JSON
        fault = replace(
            fault,
            name="invalid JSON (every answer cut in half)",
            answer=on_target(_cut_json),
            reason=r"package_show\?id=.*: invalid JSON \(.*\); received a body \(Content-Type "
            r"application/json\) starting '\{",
        )
    injector, base = _inject(sc, failing[0], fault, monkeypatch, everything=True)
    assert SOURCE_HOSTS[failing[0]] == host
    done = subprocess.run(
        [*AGGREGATOR, "refresh"],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=300,  # a hang, not a duration check
    )
    for stream in (done.stdout, done.stderr):
        assert not any(c in stream for c in CANARIES)
    assert done.returncode == 1, (done.stdout, done.stderr)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(failing), done.stderr
    for source in failing:
        line = next(e for e in errors if e.startswith(f"error: {source} failed: {source}: "))
        assert base in line and re.search(fault.reason_for(source), line), line
    with duckdb.connect(str(sc.warehouse), read_only=True) as con:
        outcomes = dict(
            con.execute(
                "select source, outcome from runs qualify row_number() over "
                "(partition by source order by finished_at desc) = 1"
            ).fetchall()
        )
    assert outcomes == {s: "failed" if s in failing else outcomes[s] for s in SOURCES}, outcomes
    others = {s: o for s, o in outcomes.items() if s not in failing}
    assert set(others.values()) <= {"published", "not_modified"}, others
    after = fact_rows(sc.warehouse)
    lost = _lost(sc.world.facts, after)
    assert lost == 0 and after == sc.world.facts
    observe.record(
        area="network",
        scenario=f"CLI refresh of every source, {host}: {fault.name}",
        expected=f"exit 1; stderr names {', '.join(failing)} and why; other sources refreshed",
        observed=f"exit {done.returncode}; {' | '.join(_excerpt(e, 200) for e in errors)}; "
        f"others: {', '.join(f'{s} {o}' for s, o in sorted(others.items()))}",
        rows_lost=lost,
    )
