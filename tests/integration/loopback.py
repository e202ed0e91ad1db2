"""A real HTTP server on 127.0.0.1 for integration tests, scripted per test.

The server runs ``http.server.ThreadingHTTPServer`` on an ephemeral port in a daemon thread.
A test sets ``app``: a function from the request the server saw (``Seen``) to the answer it
should give (``Reply``). Every request is logged with its arrival time, so tests can assert
what the client sent and when. Faults a real network produces are scripted with ``Reply``:
a Content-Length the body never reaches, chunked transfer, a dropped connection, a server
slow to answer or slow between parts of the body.

The number of requests is capped (``max_requests``): a client stuck in a retry loop gets
answers of 400 (which no client retries) and the cap shows up in ``errors``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str  # without the query
    target: str  # path and query, as sent
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    at: float  # time.monotonic() on arrival


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Content-Length to declare instead of len(body): larger means the body stops short and
    # the server closes the connection.
    declared_length: int | None = None
    chunked: bool = False  # Transfer-Encoding: chunked, no Content-Length
    chunk_size: int = 4096
    delay: float = 0.0  # seconds before the status line (a server slow to answer)
    chunk_delay: float = 0.0  # seconds before each part of the body after the first
    # Bytes of the body sent before the server closes the connection mid-body (chunked: no
    # terminating chunk follows).
    cut_after: int | None = None


App = Callable[[Seen], Reply]


def not_found(seen: Seen) -> Reply:
    return Reply(404, b"not found\n", {"Content-Type": "text/plain"})


class Loopback:
    def __init__(self, app: App = not_found, *, max_requests: int = 200):
        self.app = app
        self.max_requests = max_requests
        self.requests: list[Seen] = []
        self.errors: list[str] = []  # failures of the server itself (bugs in a test's app)
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.loopback = self  # type: ignore[attr-defined]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Loopback:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def seen(self, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def _log(self, seen: Seen) -> int:
        with self._lock:
            self.requests.append(seen)
            return len(self.requests)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked transfer, like a real API
    timeout = 10  # an idle keep-alive connection does not hold a thread for longer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: the test reads Loopback.requests instead

    def do_GET(self) -> None:  # noqa: N802
        loopback: Loopback = self.server.loopback  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        seen = Seen(
            method="GET",
            path=parts.path,
            target=self.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            at=time.monotonic(),
        )
        count = loopback._log(seen)
        if count > loopback.max_requests:
            loopback.errors.append(f"more than {loopback.max_requests} requests")
            reply = Reply(400, b"loopback request cap reached\n")
        else:
            try:
                reply = loopback.app(seen)
            except Exception as exc:  # a bug in the test's app: make it visible
                loopback.errors.append(f"app failed on {self.path}: {exc!r}")
                reply = Reply(599, b"loopback app failed\n")
        try:
            self._send(reply)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a size cap): expected

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status == 304 or reply.status == 204 or reply.status < 200:
            self.end_headers()
            return
        body = reply.body if reply.cut_after is None else reply.body[: reply.cut_after]
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in self._parts(reply, body):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            if reply.cut_after is None:
                self.wfile.write(b"0\r\n\r\n")
            else:
                self.wfile.flush()
                self.close_connection = True
            return
        declared = len(reply.body) if reply.declared_length is None else reply.declared_length
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        for chunk in self._parts(reply, body):
            self.wfile.write(chunk)
        if declared != len(body):
            self.wfile.flush()
            self.close_connection = True  # the rest of the promised body never comes

    def _parts(self, reply: Reply, body: bytes) -> Iterator[bytes]:
        """The body in parts of ``chunk_size``, ``chunk_delay`` apart."""
        for start in range(0, len(body), reply.chunk_size):
            if start and reply.chunk_delay:
                self.wfile.flush()
                time.sleep(reply.chunk_delay)
            yield body[start : start + reply.chunk_size]
