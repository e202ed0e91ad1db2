"""Record and replay of HTTP exchanges as plain files, so the same code runs offline.

A request maps to ``DIR/<host>/<path>[@<query>].body`` plus an optional ``.meta.json`` with
the status and the headers that matter. Secret query parameters are left out of the name,
so a recording made with a key replays without one and never contains it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx

from aggregator.errors import ReplayMissing
from aggregator.redact import public_query, redact_text, redact_url

KEPT_HEADERS = ("content-type", "etag", "last-modified", "location", "retry-after")


MAX_NAME_BYTES = 200  # with ".meta.json" still under the usual 255-byte limit


def recording_path(root: Path, url: httpx.URL) -> Path:
    segments = [quote(s, safe="-_.,") for s in url.path.split("/") if s not in ("", ".", "..")]
    name = segments.pop() if segments else "index"
    query = public_query(str(url))
    if query:
        name += "@" + quote(urlencode(query), safe="=&-_.,")
    if len(name.encode()) > MAX_NAME_BYTES:
        # File systems refuse names over 255 bytes (long signed links): keep a readable
        # start and make the rest a digest, the same for recording and replay.
        name = name[:100] + "~" + hashlib.sha256(name.encode()).hexdigest()
    return root.joinpath(quote(url.host, safe="-_."), *segments, name + ".body")


def meta_path(body: Path) -> Path:
    return body.with_suffix(".meta.json")


class ReplayTransport(httpx.BaseTransport):
    """Serves recorded responses; honours If-None-Match so a second run sees 304s."""

    def __init__(self, root: Path):
        self.root = root

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = recording_path(self.root, request.url)
        if not body.is_file():
            raise ReplayMissing(redact_url(str(request.url)), str(body))
        meta = json.loads(meta_path(body).read_text()) if meta_path(body).is_file() else {}
        headers = meta.get("headers", {})
        etag = headers.get("etag")
        if etag and request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag}, request=request)
        # A stream, not content=, so the response is read (and counted) like a network one.
        return httpx.Response(
            meta.get("status", 200),
            headers=headers,
            stream=httpx.ByteStream(body.read_bytes()),
            request=request,
        )


class RecordingTransport(httpx.BaseTransport):
    """Passes requests to the network and writes each answer under ``root``."""

    def __init__(self, root: Path, inner: httpx.BaseTransport):
        self.root, self.inner = root, inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # A recording must hold full bodies: a 304 would overwrite one with nothing.
        for name in ("if-none-match", "if-modified-since"):
            request.headers.pop(name, None)
        response = self.inner.handle_request(request)
        content = response.read()
        headers = {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers}
        if "location" in headers:
            headers["location"] = redact_url(headers["location"])
        body = recording_path(self.root, request.url)
        body.parent.mkdir(parents=True, exist_ok=True)
        body.write_bytes(content)
        meta = {
            "url": redact_url(str(request.url)),
            "status": response.status_code,
            "headers": headers,
        }
        meta_path(body).write_text(redact_text(json.dumps(meta, indent=1)) + "\n")
        # httpx has already decoded the body, so the encoding header no longer applies.
        headers_out = [
            (k, v)
            for k, v in response.headers.items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers_out,
            stream=httpx.ByteStream(content),
            request=request,
        )
