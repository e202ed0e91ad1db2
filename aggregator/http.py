"""The one HTTP layer every connector uses.

``make_client`` builds the httpx client (timeouts, User-Agent, redirects, and the live,
record or replay transport). ``Fetcher`` does one source's downloads on top of it: retries
with exponential backoff and jitter (honouring Retry-After), conditional GET against the
last good download of the same URL, a size cap, a Content-Length check, streaming into the
raw store, and a provenance record for every request. Anything that goes wrong leaves as a
``FetchError`` whose text has no secret in it.

A body that cannot be what was asked for (an HTML page, an XML error document where JSON or
CSV was expected) fails with a ``ParseError`` that says what came instead: its Content-Type
and first bytes (``Fetched.json``, ``Fetched.check_format``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import tenacity

from aggregator import __version__
from aggregator.config import HttpSettings
from aggregator.errors import AggregatorError, FetchError, ParseError
from aggregator.raw import RawStore
from aggregator.redact import redact_text, redact_url
from aggregator.replay import RecordingTransport, ReplayTransport

USER_AGENT = f"foodsec-aggregator/{__version__} (+https://github.com/foodsec-aggregator)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Media types that name a format. Others (text/plain, application/octet-stream, none) say
# nothing: servers label data files loosely, so only the body can tell.
NAMED_FORMATS = {
    "text/html": "HTML",
    "application/xhtml+xml": "HTML",
    "application/xml": "XML",
    "text/xml": "XML",
    "application/json": "JSON",
    "text/json": "JSON",
    "text/csv": "CSV",
    "application/csv": "CSV",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "application/pdf": "PDF",
}


def make_client(
    settings: HttpSettings, *, record: Path | None = None, replay: Path | None = None
) -> httpx.Client:
    if record and replay:
        raise AggregatorError("--record and --replay cannot be used together")
    transport: httpx.BaseTransport
    if replay:
        if not replay.is_dir():
            raise AggregatorError(f"replay directory {replay} does not exist")
        transport = ReplayTransport(replay)
    else:
        transport = httpx.HTTPTransport()
        if record:
            transport = RecordingTransport(record, transport)
    timeout = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        follow_redirects=True,
        max_redirects=10,
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True)
class Validator:
    """What the last good download of a URL left us: enough for a conditional GET."""

    etag: str | None
    last_modified: str | None
    sha256: str
    raw_path: str
    version: str | None = None


@dataclass
class FetchRecord:
    """One row of the ``fetches`` table."""

    fetch_id: str
    run_id: str
    source: str
    url: str
    requested_at: datetime
    status: int | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    raw_path: str | None = None
    attempts: int = 0
    error: str | None = None
    version: str | None = None
    catalogue: bool = False


def _chunks(path: Path) -> Iterator[bytes]:
    """A file's bytes, opened when first asked for (so that its OSError is the reader's)."""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


@dataclass(frozen=True)
class Fetched:
    record: FetchRecord
    path: Path

    @property
    def fetch_id(self) -> str:
        return self.record.fetch_id

    @property
    def not_modified(self) -> bool:
        return self.record.not_modified

    def json(self) -> Any:
        try:
            return json.loads(self.path.read_bytes())
        except RecursionError:
            raise ParseError(
                self.record.source, self.record.url, "JSON nested too deeply to read"
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ParseError(
                self.record.source, self.record.url, f"invalid JSON ({exc}); {self.received()}"
            ) from exc

    def check_format(self, expected: str) -> None:
        """Refuses an HTML page, or a body whose Content-Type names another format than
        ``expected`` (JSON, CSV, XLSX): for CSV, anything at all would otherwise parse."""
        named = _named_format(self.record.content_type)
        if self._looks_like_html() or (named and named != expected):
            raise ParseError(
                self.record.source, self.record.url, f"expected {expected}; {self.received()}"
            )

    def received(self) -> str:
        """What the server sent, for error messages: Content-Type and first bytes."""
        with self.path.open("rb") as handle:
            head = handle.read(80)
        shown = " ".join(head.decode("utf-8", "replace").split())
        kind = "an HTML page" if self._looks_like_html() else "a body"
        content_type = self.record.content_type or "none"
        return f"received {kind} (Content-Type {content_type}) starting {shown!r}"

    def _looks_like_html(self) -> bool:
        with self.path.open("rb") as handle:
            head = handle.read(512).lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        return head.startswith((b"<!doctype html", b"<html"))


def _named_format(content_type: str | None) -> str | None:
    media = (content_type or "").split(";")[0].strip().lower()
    if media.endswith("+json"):
        return "JSON"
    return NAMED_FORMATS.get(media)


class _RetryableBody(Exception):
    """An answer whose body is unusable in a way a retry may fix: empty, or a compressed body
    that does not decompress (as likely a broken transfer as a broken file)."""


class _RetryableStatus(Exception):
    def __init__(self, status: int, retry_after: float | None):
        super().__init__(f"HTTP {status}")
        self.status, self.retry_after = status, retry_after


def _retry_after_seconds(value: str | None, cap: float) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), cap)


class _Wait(tenacity.wait.wait_base):
    """Retry-After when the server sent one, else exponential backoff with jitter."""

    def __init__(self, settings: HttpSettings):
        self.backoff = tenacity.wait_exponential_jitter(
            multiplier=settings.backoff_initial,
            max=settings.backoff_max,
            jitter=settings.backoff_initial,
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(exc, _RetryableStatus) and exc.retry_after is not None:
            return exc.retry_after
        return self.backoff(retry_state)


ProgressHook = Callable[[str, FetchRecord], None]


class Fetcher:
    """Downloads for one source in one run. Thread-safe enough for one source per thread."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        source: str,
        run_id: str,
        raw: RawStore,
        settings: HttpSettings,
        validators: dict[str, Validator] | None = None,
        on_event: ProgressHook | None = None,
    ):
        self.client, self.source, self.run_id, self.raw = client, source, run_id, raw
        self.settings = settings
        self.validators = validators or {}
        self.on_event = on_event or (lambda event, record: None)
        self.records: list[FetchRecord] = []
        self._lock = threading.Lock()

    def _new_record(self, url: str) -> FetchRecord:
        with self._lock:
            seq = len(self.records) + 1
            record = FetchRecord(
                fetch_id=f"{self.run_id}/{self.source}/{seq}",
                run_id=self.run_id,
                source=self.source,
                url=url,
                requested_at=datetime.now(UTC),
            )
            self.records.append(record)
        return record

    def get(
        self,
        url: str,
        params: dict[str, str | None] | None = None,
        *,
        version: str | None = None,
        catalogue: bool = False,
    ) -> Fetched:
        """GET a URL into the raw store.

        ``version`` is the publisher's version of the file as a catalogue lists it (HDX:
        resource last_modified and hash). When the last good download of the same URL had the
        same version, no request is sent at all and the stored body is reused.
        ``catalogue`` marks a lookup that only says what to download (HDX package_show): it
        does not count when deciding whether a source's data changed.
        """
        request_url = httpx.URL(url)  # keeps a query already in the URL (signed links, nextLink)
        given = {k: v for k, v in (params or {}).items() if v is not None}
        if given:
            request_url = request_url.copy_merge_params(given)
        public_url = redact_url(str(request_url))
        record = self._new_record(public_url)
        record.version, record.catalogue = version, catalogue
        self.on_event("start", record)
        previous = self.validators.get(public_url)
        if previous and not Path(previous.raw_path).is_file():
            previous = None  # the stored body is gone: ask for the full body again
        if previous and version and previous.version == version:
            self._reuse(record, previous)
            self.on_event("done", record)
            return Fetched(record, Path(previous.raw_path))
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(
                (httpx.TransportError, _RetryableStatus, _RetryableBody)
            ),
            wait=_Wait(self.settings),
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    record.attempts = attempt.retry_state.attempt_number
                    fetched = self._attempt(request_url, record, previous)
        except _RetryableStatus as exc:
            self._fail(record, f"HTTP {exc.status} after {record.attempts} attempts")
        except _RetryableBody as exc:
            self._fail(record, f"{exc} (after {record.attempts} attempts)")
        except httpx.TooManyRedirects as exc:
            self._fail(
                record,
                f"redirect loop: more than {self.client.max_redirects} redirects, the last to "
                f"{exc.request.url}",
            )
        except httpx.HTTPError as exc:
            self._fail(record, f"{type(exc).__name__}: {exc} (after {record.attempts} attempts)")
        except FetchError as exc:
            self._fail(record, exc.reason)
        except AggregatorError as exc:
            self._fail(record, str(exc))
        self.on_event("done", record)
        return fetched

    def read_files(self, paths: list[Path], listing: str) -> list[Fetched]:
        """Local files (curated CSVs), each kept in the raw store and recorded like a download,
        after a record named ``listing`` of which files they are. Like a body that comes again
        the same, a file or list whose bytes are those of the last good read is not modified:
        a refresh where none of them changed leaves the tables as they are."""
        names = "".join(f"{path.as_posix()}\n" for path in paths) or "no files\n"
        self._keep(self._new_record(listing), [names.encode()])
        return [self._keep(self._new_record(path.as_posix()), _chunks(path)) for path in paths]

    def _keep(self, record: FetchRecord, chunks: Iterable[bytes]) -> Fetched:
        with self.raw.writer() as writer:
            try:
                for chunk in chunks:
                    writer.write(chunk)
            except OSError as exc:
                record.error = f"cannot read: {exc.strerror}"
                raise FetchError(self.source, record.url, record.error) from None
            stored = writer.commit()
        record.attempts = 1
        record.sha256, record.bytes, record.raw_path = stored.sha256, stored.bytes, str(stored.path)
        previous = self.validators.get(record.url)
        record.not_modified = bool(previous and previous.sha256 == stored.sha256)
        self.on_event("done", record)
        return Fetched(record, stored.path)

    @staticmethod
    def _reuse(
        record: FetchRecord, previous: Validator, headers: httpx.Headers | None = None
    ) -> None:
        """Point the record at the stored body of the last good download (304 or same version)."""
        headers = headers or httpx.Headers()
        record.not_modified = True
        record.etag = headers.get("etag") or previous.etag
        record.last_modified = headers.get("last-modified") or previous.last_modified
        record.sha256, record.raw_path = previous.sha256, previous.raw_path
        record.bytes = Path(previous.raw_path).stat().st_size

    def _fail(self, record: FetchRecord, reason: str) -> None:
        record.error = redact_text(reason)
        self.on_event("done", record)
        raise FetchError(self.source, record.url, record.error) from None

    def _attempt(self, url: httpx.URL, record: FetchRecord, previous: Validator | None) -> Fetched:
        headers = {}
        if previous and previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous and previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
        with self.client.stream("GET", url, headers=headers) as response:
            record.status = response.status_code
            if response.status_code in RETRY_STATUSES:
                retry_after = _retry_after_seconds(
                    response.headers.get("retry-after"), self.settings.retry_after_max
                )
                raise _RetryableStatus(response.status_code, retry_after)
            if response.status_code == 304 and previous:
                self._reuse(record, previous, response.headers)
                return Fetched(record, Path(previous.raw_path))
            if response.status_code != 200:
                raise FetchError(self.source, record.url, f"HTTP {response.status_code}")
            self._check_declared_size(response, record)
            with self.raw.writer() as writer:
                try:
                    for chunk in response.iter_bytes():
                        writer.write(chunk)
                        if writer.size > self.settings.max_bytes:
                            raise FetchError(
                                self.source,
                                record.url,
                                f"body larger than the {self.settings.max_bytes:,}-byte cap",
                            )
                        self.on_event("bytes", record)
                except httpx.DecodingError as exc:
                    encoding = response.headers.get("content-encoding")
                    raise _RetryableBody(
                        f"corrupt body: cannot decode Content-Encoding {encoding} ({exc})"
                    ) from exc
                self._check_complete(response, record)
                if writer.size == 0:
                    raise _RetryableBody("empty body (HTTP 200 with no content)")
                stored = writer.commit()
        record.etag = response.headers.get("etag")
        record.last_modified = response.headers.get("last-modified")
        record.content_type = response.headers.get("content-type")
        record.sha256, record.bytes, record.raw_path = stored.sha256, stored.bytes, str(stored.path)
        # A service without validators (HAPI) answers in full: the same bytes are no change.
        record.not_modified = bool(previous and previous.sha256 == stored.sha256)
        return Fetched(record, stored.path)

    def _check_declared_size(self, response: httpx.Response, record: FetchRecord) -> None:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.settings.max_bytes:
            raise FetchError(
                self.source,
                record.url,
                f"Content-Length {int(declared):,} exceeds the {self.settings.max_bytes:,}-byte cap",
            )

    def _check_complete(self, response: httpx.Response, record: FetchRecord) -> None:
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and response.num_bytes_downloaded != int(declared):
            # A short body is a network fault like any other: retry it.
            raise httpx.RemoteProtocolError(
                f"body ended after {response.num_bytes_downloaded:,} of {int(declared):,} bytes"
            )
