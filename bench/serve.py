"""A loopback HTTP server playing recorded or generated answers, in its own process.

Every service lives under a path prefix named after its host, as in the integration tests:
the IPC API at ``<server>/api.ipcinfo.org``, HDX at ``<server>/data.humdata.org`` and so on,
and the base-URL settings (IPC_API_URL, HDX_URL, ...) point there. A request is answered from
the first root directory holding it in the replay layout (``aggregator.replay``), with the
recorded status and headers. ETags are honoured with 304, as the live services do.

Bodies up to REWRITE_LIMIT are read and their absolute service URLs (HDX resource URLs, FTS
nextLink) rewritten to the server; larger ones are sent from disk with sendfile, never read
into memory. Each host can be given an added latency per request. The server counts, per
host, requests, full answers (bodies) and 304s, read and reset at /_bench/stats and
/_bench/reset; /_bench/latency?host=H&seconds=S sets a latency (host * for all).

It runs as ``python -m bench.serve ROOT...`` and prints its URL on the first line of stdout;
``Served`` starts, drives and stops it from the benchmark process, so the server's memory and
CPU never count in the measured process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from aggregator.config import DEFAULT_HOSTS
from aggregator.replay import meta_path, recording_path

HOSTS = DEFAULT_HOSTS
REWRITE_LIMIT = 16 * 1024 * 1024
SENT_HEADERS = ("content-type", "etag", "last-modified", "location", "retry-after")
ROOT = Path(__file__).resolve().parents[1]


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hosts: dict[str, dict[str, int]] = {}

    def add(self, host: str, key: str, amount: int = 1) -> None:
        with self.lock:
            counts = self.hosts.setdefault(
                host, {"requests": 0, "bodies": 0, "not_modified": 0, "bytes": 0, "missing": 0}
            )
            counts[key] += amount

    def snapshot(self, reset: bool = False) -> dict[str, dict[str, int]]:
        with self.lock:
            copy = {h: dict(c) for h, c in self.hosts.items()}
            if reset:
                self.hosts.clear()
            return copy


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, roots: list[Path]):
        super().__init__(("127.0.0.1", 0), Handler)
        self.roots = roots
        self.latency: dict[str, float] = {}
        self.stats = Stats()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def find(self, host: str, target: str) -> Path | None:
        url = httpx.URL(f"https://{host}{target}")
        for root in self.roots:
            path = recording_path(root, url)
            if path.is_file():
                return path
        return None

    def rewrite(self, text: bytes) -> bytes:
        for host in HOSTS.values():
            text = text.replace(f"https://{host}".encode(), f"{self.url}/{host}".encode())
        return text


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120
    server: Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        try:
            if self.path.startswith("/_bench/"):
                self._control()
            else:
                self._answer()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (a size cap): nothing to send

    def _control(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/_bench/stats":
            reply = self.server.stats.snapshot()
        elif parts.path == "/_bench/reset":
            reply = self.server.stats.snapshot(reset=True)
        elif parts.path == "/_bench/latency":
            hosts = HOSTS.values() if query["host"] == "*" else [query["host"]]
            for host in hosts:
                self.server.latency[host] = float(query["seconds"])
            reply = self.server.latency
        else:
            self._send(404, b"unknown control path\n", {"content-type": "text/plain"})
            return
        self._send(200, json.dumps(reply).encode(), {"content-type": "application/json"})

    def _answer(self) -> None:
        host, _, rest = self.path.lstrip("/").partition("/")
        stats = self.server.stats
        stats.add(host, "requests")
        delay = self.server.latency.get(host, 0.0)
        if delay:
            time.sleep(delay)
        body = self.server.find(host, "/" + rest)
        if body is None:
            stats.add(host, "missing")
            self._send(404, b"not in the served roots\n", {"content-type": "text/plain"})
            return
        meta = json.loads(meta_path(body).read_text()) if meta_path(body).is_file() else {}
        headers = {k: v for k, v in meta.get("headers", {}).items() if k in SENT_HEADERS}
        etag = headers.get("etag")
        if etag and self.headers.get("If-None-Match") == etag:
            stats.add(host, "not_modified")
            self._send(304, None, {"etag": etag})
            return
        if "location" in headers:
            headers["location"] = self.server.rewrite(headers["location"].encode()).decode()
        stats.add(host, "bodies")
        size = body.stat().st_size
        if size <= REWRITE_LIMIT:
            content = self.server.rewrite(body.read_bytes())
            stats.add(host, "bytes", len(content))
            self._send(meta.get("status", 200), content, headers)
            return
        stats.add(host, "bytes", size)
        self._send(meta.get("status", 200), None, {**headers, "content-length": str(size)})
        with body.open("rb") as handle:
            self.request.sendfile(handle)

    def _send(self, status: int, content: bytes | None, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if content is not None:
            self.send_header("content-length", str(len(content)))
        self.end_headers()
        if content:
            self.wfile.write(content)


def main() -> None:
    roots = [Path(r).resolve() for r in sys.argv[1:]]
    server = Server(roots)
    print(server.url, flush=True)
    server.serve_forever(poll_interval=0.2)


class Served:
    """A server process over ``roots`` (searched in order), stopped on leaving the block."""

    def __init__(self, roots: list[Path]):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", *map(str, roots)],
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            text=True,
        )
        self.url = (self.process.stdout.readline() if self.process.stdout else "").strip()
        if not self.url.startswith("http://"):
            self.close()
            raise RuntimeError("the benchmark server did not start")

    def env(self) -> dict[str, str]:
        return {name: f"{self.url}/{host}" for name, host in HOSTS.items()}

    def _control(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}/_bench/{path}", timeout=30) as answer:
            return json.loads(answer.read())

    def stats(self) -> dict[str, dict[str, int]]:
        return self._control("stats")

    def reset(self) -> dict[str, dict[str, int]]:
        """The counts so far, then zero."""
        return self._control("reset")

    def latency(self, seconds: float, host: str = "*") -> None:
        self._control(f"latency?host={host}&seconds={seconds}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


if __name__ == "__main__":
    main()
