"""Every live service of the project played by one loopback server, from the demo snapshot.

Each service lives under a path prefix named after its host: the IPC API at
``<loopback>/api.ipcinfo.org``, HDX at ``<loopback>/data.humdata.org`` and so on, and the
base-URL settings (IPC_API_URL, HDX_URL, ...) point there. Answers are the demo snapshot's
recorded bodies and headers; absolute URLs inside them (HDX resource URLs, FTS nextLink) are
rewritten to the loopback so that following them stays local. ETags are honoured with 304, as
the live services do.

A fault is a function from the request and the normal answer to another answer, set per
host: the fault suite injects network and data faults into one service while the others
answer normally.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from aggregator.config import DEFAULT_HOSTS
from aggregator.replay import meta_path, recording_path
from aggregator.sources import source_hosts
from tests.conftest import DEMO, curated_copy

from .loopback import Loopback, Reply, Seen

HOSTS = DEFAULT_HOSTS
# The hosts each source talks to.
SOURCE_HOSTS = source_hosts()

Fault = Callable[[Seen, Reply], Reply | None]  # None: answer normally


class Services:
    def __init__(self, loopback: Loopback, snapshot: Path = DEMO):
        self.loopback, self.snapshot = loopback, snapshot
        self.faults: dict[str, Fault] = {}
        loopback.app = self.answer

    def env(self) -> dict[str, str]:
        return {name: f"{self.loopback.url}/{host}" for name, host in HOSTS.items()}

    def answer(self, seen: Seen) -> Reply:
        host, _, path = seen.target.lstrip("/").partition("/")
        normal = self._recorded(host, "/" + path, seen)
        for prefix, fault in self.faults.items():
            if host == prefix or seen.target.startswith(prefix):
                changed = fault(seen, normal)
                if changed is not None:
                    return changed
        return normal

    def _recorded(self, host: str, path: str, seen: Seen) -> Reply:
        body_path = recording_path(self.snapshot, httpx.URL(f"https://{host}{path}"))
        if not body_path.is_file():
            return Reply(404, b"not in the demo snapshot\n", {"Content-Type": "text/plain"})
        meta = (
            json.loads(meta_path(body_path).read_text()) if meta_path(body_path).is_file() else {}
        )
        headers = dict(meta.get("headers", {}))
        etag = headers.get("etag")
        if etag and seen.headers.get("if-none-match") == etag:
            return Reply(304, headers={"ETag": etag})
        body = body_path.read_bytes()
        for real in HOSTS.values():
            body = body.replace(f"https://{real}".encode(), f"{self.loopback.url}/{real}".encode())
        if "location" in headers:
            for real in HOSTS.values():
                headers["location"] = headers["location"].replace(
                    f"https://{real}", f"{self.loopback.url}/{real}"
                )
        return Reply(meta.get("status", 200), body, headers)


@contextmanager
def serve_all(data: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """All services on one loopback server, the environment pointed at it and at ``data``
    (a data directory holding copies of the curated reference and claims CSVs); fast retries.
    Keys are left to the caller."""
    curated_copy(data)
    with Loopback(max_requests=2000) as loopback:
        played = Services(loopback)
        for name, value in played.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(data))
        monkeypatch.setenv("AGGREGATOR_HAPI_PAUSE", "0")
        monkeypatch.setenv("AGGREGATOR_HTTP_BACKOFF", "0.01")
        monkeypatch.setenv("AGGREGATOR_HTTP_ATTEMPTS", "2")
        monkeypatch.delenv("AGGREGATOR_WAREHOUSE", raising=False)
        yield played
