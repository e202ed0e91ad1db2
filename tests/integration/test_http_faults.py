"""aggregator.http.Fetcher against a real HTTP server on 127.0.0.1, through the real httpx
client that make_client builds: retries, Retry-After, conditional GET, truncated and
oversized bodies, and keys kept out of errors and provenance."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from pathlib import Path

import pytest

from aggregator.config import HttpSettings, Settings, load_settings
from aggregator.errors import FetchError
from aggregator.http import Fetcher, Validator, make_client
from aggregator.raw import RawStore

from .loopback import App, Loopback, Reply, Seen

SOURCE = "ipc_api"
BODY = b'[{"id": "56657074", "country": "CF", "condition": "A"}]\n'


@pytest.fixture
def settings(env: Path) -> Settings:
    """Settings as the CLI reads them, in the isolated environment (fast backoff, 4 attempts)."""
    loaded = load_settings()
    assert loaded.http.max_attempts == 4 and loaded.http.backoff_initial == 0.01
    return loaded


@contextmanager
def make_fetcher(
    settings: Settings, http: HttpSettings | None = None, **kwargs
) -> Iterator[Fetcher]:
    """A Fetcher on a real client from make_client, closed on exit."""
    http = http or settings.http
    with make_client(http) as client:
        yield Fetcher(
            client,
            source=SOURCE,
            run_id="run-test",
            raw=RawStore(settings.raw_dir),
            settings=http,
            **kwargs,
        )


def scripted(*replies: Reply) -> App:
    """An app answering the n-th request with the n-th reply (the last one from then on)."""
    queue = list(replies)

    def app(seen: Seen) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return app


def raw_files(settings: Settings) -> list[Path]:
    root = settings.raw_dir
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def ok(body: bytes = BODY, **headers: str) -> Reply:
    return Reply(200, body, {"Content-Type": "application/json", **headers})


def test_503_twice_then_200_succeeds_and_stores_body(
    loopback: Loopback, settings: Settings
) -> None:
    """Transient 503s are retried; the body lands in the raw store under its sha256."""
    loopback.app = scripted(Reply(503, b"busy"), Reply(503, b"busy"), ok())
    with make_fetcher(settings) as fetcher:
        fetched = fetcher.get(f"{loopback.url}/analyses", params={"type": "A"})
    record = fetched.record
    sha = hashlib.sha256(BODY).hexdigest()
    assert len(loopback.seen()) == 3
    assert record.attempts == 3 and record.status == 200 and record.error is None
    assert record.sha256 == sha and record.bytes == len(BODY)
    assert fetched.path == settings.raw_dir / "sha256" / sha[:2] / sha
    assert Path(record.raw_path) == fetched.path
    assert fetched.path.read_bytes() == BODY
    assert fetched.json() == [{"id": "56657074", "country": "CF", "condition": "A"}]
    assert raw_files(settings) == [fetched.path]  # nothing else: no temp files, no 503 bodies


def test_429_retry_after_is_honoured(loopback: Loopback, settings: Settings) -> None:
    """A 429 with Retry-After: 1 makes the client wait about a second before asking again."""
    loopback.app = scripted(Reply(429, b"slow down", {"Retry-After": "1"}), ok())
    with make_fetcher(settings) as fetcher:
        fetched = fetcher.get(f"{loopback.url}/analyses")
    first, second = loopback.seen()
    assert fetched.record.attempts == 2 and fetched.path.read_bytes() == BODY
    # The configured backoff is 0.01 s, so only the server's Retry-After explains the gap.
    assert second.at - first.at >= 0.9


def test_retry_after_http_date_is_honoured(loopback: Loopback, settings: Settings) -> None:
    """Retry-After given as an HTTP date (RFC 9110 allows both forms) is waited for too."""
    loopback.app = scripted(
        Reply(503, b"", {"Retry-After": formatdate(time.time() + 2, usegmt=True)}), ok()
    )
    with make_fetcher(settings) as fetcher:
        fetcher.get(f"{loopback.url}/analyses")
    first, second = loopback.seen()
    # HTTP dates have whole seconds: "now + 2 s" truncated is at least 1 s away.
    assert second.at - first.at >= 0.9


def test_persistent_503_fails_after_max_attempts(loopback: Loopback, settings: Settings) -> None:
    """A server that stays down gets max_attempts requests, then a FetchError saying what failed."""
    loopback.app = scripted(Reply(503, b"down"))
    url = f"{loopback.url}/population"
    with make_fetcher(settings) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(url, params={"country": "CF"})
    message = str(caught.value)
    assert len(loopback.seen()) == settings.http.max_attempts == 4
    assert SOURCE in message
    assert f"{url}?country=CF" in message
    assert "HTTP 503" in message
    record = fetcher.records[0]
    assert record.attempts == 4 and record.status == 503 and "HTTP 503" in record.error
    assert record.sha256 is None and raw_files(settings) == []


def test_404_fails_at_once(loopback: Loopback, settings: Settings) -> None:
    """A 404 is not transient: one request, no retry, FetchError naming HTTP 404."""
    loopback.app = scripted(Reply(404, b"no such thing"))
    with make_fetcher(settings) as fetcher, pytest.raises(FetchError, match="HTTP 404"):
        fetcher.get(f"{loopback.url}/nosuch")
    assert len(loopback.seen()) == 1
    assert fetcher.records[0].attempts == 1


def test_non_retryable_error_names_request_once(loopback: Loopback, settings: Settings) -> None:
    """A non-retryable failure (404, size cap) says 'source: GET url failed: reason' once."""
    loopback.app = scripted(Reply(404, b"no such thing"))
    url = f"{loopback.url}/nosuch"
    with make_fetcher(settings) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(url)
    assert caught.value.reason == "HTTP 404"
    assert str(caught.value) == f"{SOURCE}: GET {url} failed: HTTP 404"
    assert fetcher.records[0].error == "HTTP 404"


def test_conditional_get_304_reuses_stored_body(loopback: Loopback, settings: Settings) -> None:
    """Validators of the last good download make a conditional GET; a 304 reuses the stored body."""
    last_modified = "Wed, 21 Oct 2015 07:28:00 GMT"

    def app(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return ok(ETag='"v1"', **{"Last-Modified": last_modified})

    loopback.app = app
    url = f"{loopback.url}/population"
    params = {"country": "CF", "key": "k-secret-1"}
    with make_fetcher(settings) as fetcher:
        first = fetcher.get(url, params=params)
    assert first.record.etag == '"v1"' and first.record.last_modified == last_modified
    assert not first.not_modified
    previous = Validator(
        etag=first.record.etag,
        last_modified=first.record.last_modified,
        sha256=first.record.sha256,
        raw_path=first.record.raw_path,
    )
    # The warehouse keys validators by the public (redacted) URL, as the fetches table stores it.
    assert first.record.url == f"{url}?country=CF&key=***"
    with make_fetcher(settings, validators={first.record.url: previous}) as fetcher:
        second = fetcher.get(url, params=params)
    conditional = loopback.seen()[-1]
    assert len(loopback.seen()) == 2
    assert conditional.headers.get("if-none-match") == '"v1"'
    assert conditional.headers.get("if-modified-since") == last_modified
    assert conditional.query["key"] == ["k-secret-1"]  # the real key still goes to the server
    record = second.record
    assert record.not_modified is True and second.not_modified
    assert record.status == 304 and record.attempts == 1
    assert second.path == Path(first.record.raw_path) == first.path
    assert second.path.read_bytes() == BODY
    assert record.sha256 == first.record.sha256 == hashlib.sha256(BODY).hexdigest()
    assert (
        record.bytes == len(BODY)
        and record.etag == '"v1"'
        and record.last_modified == last_modified
    )
    assert raw_files(settings) == [first.path]


def test_short_body_is_retried_then_fails_without_partial_file(
    loopback: Loopback, settings: Settings
) -> None:
    """A body short of its Content-Length is retried, then fails; nothing left in the raw store."""
    partial = BODY * 10
    loopback.app = scripted(
        Reply(200, partial, {"Content-Type": "application/json"}, declared_length=len(partial) * 3)
    )
    with make_fetcher(settings) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(f"{loopback.url}/population", params={"country": "CF"})
    assert len(loopback.seen()) == settings.http.max_attempts
    assert fetcher.records[0].attempts == settings.http.max_attempts
    assert "RemoteProtocolError" in str(caught.value)
    leftovers = raw_files(settings)
    assert not [p for p in leftovers if p.name.startswith(".incoming-")]
    assert not [p for p in leftovers if p.name == hashlib.sha256(partial).hexdigest()]
    assert leftovers == []


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_size_cap_fails(loopback: Loopback, settings: Settings, chunked: bool) -> None:
    """A body over max_bytes (declared or streamed) fails naming the cap; nothing kept."""
    big = b"x" * 20_000
    loopback.app = scripted(
        Reply(200, big, {"Content-Type": "application/json"}, chunked=chunked, chunk_size=1024)
    )
    capped = dataclasses.replace(settings.http, max_bytes=5_000)
    with make_fetcher(settings, capped) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(f"{loopback.url}/population")
    message = str(caught.value)
    assert "5,000-byte cap" in message
    if not chunked:
        assert "Content-Length 20,000" in message
    assert len(loopback.seen()) == 1  # a cap breach is not transient: no retry
    assert raw_files(settings) == []


CANARY = "CANARY-KEY-123"


def _assert_redacted(text: str) -> None:
    assert "CANARY" not in text
    assert "key=***" in text


def test_key_redacted_when_server_errors(loopback: Loopback, settings: Settings) -> None:
    """A ?key= never shows in the FetchError or fetch record when the server keeps failing."""
    loopback.app = scripted(Reply(500, b"internal error"))
    with make_fetcher(settings) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(f"{loopback.url}/population", params={"country": "CF", "key": CANARY})
    assert all(seen.query["key"] == [CANARY] for seen in loopback.seen())  # it was sent
    record = fetcher.records[0]
    _assert_redacted(str(caught.value))
    _assert_redacted(caught.value.url)
    _assert_redacted(record.url)
    assert "CANARY" not in record.error and "HTTP 500" in record.error


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_key_redacted_when_connection_refused(settings: Settings) -> None:
    """A refused connection (httpx words the error) leaves the key out of FetchError and record."""
    url = f"http://127.0.0.1:{_closed_port()}/population"
    with make_fetcher(settings) as fetcher, pytest.raises(FetchError) as caught:
        fetcher.get(url, params={"country": "CF", "key": CANARY})
    record = fetcher.records[0]
    assert record.attempts == settings.http.max_attempts
    assert "ConnectError" in str(caught.value)
    _assert_redacted(str(caught.value))
    _assert_redacted(record.url)
    assert "CANARY" not in record.error
