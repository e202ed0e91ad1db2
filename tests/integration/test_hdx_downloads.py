"""HDX downloads over real HTTP (loopback server): redirects to signed URLs, and the expired-URL path.

The server plays HDX: package_show answers in the live wrapper; a resource URL answers 302 to a
signed storage URL; a signed URL that has expired answers 403. The CSV served is the Gaza
national rows of the IPC HDX file (analysis May 2024).
"""

from __future__ import annotations

import json

import pytest

from aggregator.config import HttpSettings
from aggregator.connectors import hdx
from aggregator.errors import FetchError
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from tests.conftest import frames
from tests.hdx_fixture import File, package

from .loopback import Reply, Seen

SLUG = "global-acute-food-insecurity-country-data"
CSV = (
    b"Date of analysis,Country,Total country population,Validity period,From,To,Phase,Number,Percentage\n"
    b"#date+analysis,#country+code,#population,#period+v_ipc,#date+start,#date+end,#severity+v_ipc,#affected+num,#affected+pct\n"
    b"May 2024,PSE,2251457,current,2024-05-01,2024-06-30,5,342719,0.15\n"
)


def _extract(loopback, tmp_path, validators=None):
    settings = HttpSettings(max_attempts=2, backoff_initial=0.01)
    with make_client(settings) as client:
        fetcher = Fetcher(
            client,
            source="ipc_hdx",
            run_id="t",
            raw=RawStore(tmp_path / "raw"),
            settings=settings,
            validators=validators,
        )
        tables = frames(hdx.extract(fetcher, loopback.url, hdx.DATASETS["ipc_hdx"], []))
    return tables, fetcher


def _show(loopback, resource_path: str) -> bytes:
    answer = package(SLUG, [File("ipc_global_national_long.csv", "CSV", CSV)], base=loopback.url)
    answer["result"]["resources"][0]["url"] = loopback.url + resource_path
    return json.dumps(answer).encode()


def test_download_follows_redirect_to_signed_url(loopback, tmp_path):
    """A resource URL answering 302 is followed to the signed URL and its body parsed."""

    def app(seen: Seen) -> Reply:
        if seen.path == "/api/3/action/package_show":
            return Reply(200, _show(loopback, "/dataset/ds/resource/r1/download/file.csv"))
        if seen.path == "/dataset/ds/resource/r1/download/file.csv":
            return Reply(302, headers={"Location": f"{loopback.url}/s3/file.csv?sig=abc"})
        if seen.path == "/s3/file.csv":
            return Reply(200, CSV, {"Content-Type": "text/csv", "ETag": '"v1"'})
        return Reply(404)

    loopback.app = app
    tables, fetcher = _extract(loopback, tmp_path)
    assert tables["ipc_phases"]["population"].tolist() == [342719]
    assert [s.path for s in loopback.seen()] == [
        "/api/3/action/package_show",
        "/dataset/ds/resource/r1/download/file.csv",
        "/s3/file.csv",
    ]
    assert loopback.seen()[0].query == {"id": [SLUG]}
    # Provenance names the stable resource URL, not the signed one.
    assert fetcher.records[1].url.endswith("/dataset/ds/resource/r1/download/file.csv")
    assert fetcher.records[1].etag == '"v1"'


def test_expired_signed_url_is_re_resolved_once(loopback, tmp_path):
    """A 403 on a resource URL asks package_show again and downloads the fresh URL."""
    shows = []

    def app(seen: Seen) -> Reply:
        if seen.path == "/api/3/action/package_show":
            shows.append(seen)
            path = "/signed/file.csv?expires=1" if len(shows) == 1 else "/signed/file.csv?expires=2"
            return Reply(200, _show(loopback, path))
        if seen.path == "/signed/file.csv":
            if seen.query["expires"] == ["1"]:
                return Reply(403, b"<Error><Code>AccessDenied</Code>Request has expired</Error>")
            return Reply(200, CSV, {"Content-Type": "text/csv"})
        return Reply(404)

    loopback.app = app
    tables, fetcher = _extract(loopback, tmp_path)
    assert tables["ipc_phases"]["population"].tolist() == [342719]
    assert len(shows) == 2
    assert [(r.status, r.error) for r in fetcher.records] == [
        (200, None),
        (403, "HTTP 403"),
        (200, None),
        (200, None),
    ]
    assert tables["ipc_phases"]["fetch_id"].tolist() == ["t/ipc_hdx/4"]


def test_still_expired_after_re_resolving_fails_with_403(loopback, tmp_path):
    """If the fresh URL answers 403 too, the source fails naming the URL; no third package_show."""

    def app(seen: Seen) -> Reply:
        if seen.path == "/api/3/action/package_show":
            return Reply(200, _show(loopback, "/signed/file.csv?expires=1"))
        return Reply(403, b"expired")

    loopback.app = app
    with pytest.raises(FetchError, match=r"signed/file.csv\?expires=1 failed: HTTP 403"):
        _extract(loopback, tmp_path)
    assert [s.path for s in loopback.seen()].count("/api/3/action/package_show") == 2


def test_unchanged_resource_is_not_downloaded_again(loopback, tmp_path):
    """With the last good download's ETag, the resource answers 304 and the stored body is reused."""

    def app(seen: Seen) -> Reply:
        if seen.path == "/api/3/action/package_show":
            return Reply(200, _show(loopback, "/dataset/ds/resource/r1/download/file.csv"))
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, headers={"ETag": '"v1"'})
        return Reply(200, CSV, {"Content-Type": "text/csv", "ETag": '"v1"'})

    loopback.app = app
    _, first = _extract(loopback, tmp_path)
    record = first.records[1]
    from aggregator.http import Validator

    known = {
        record.url: Validator(record.etag, record.last_modified, record.sha256, record.raw_path)
    }
    tables, second = _extract(loopback, tmp_path, validators=known)
    assert second.records[1].not_modified and second.records[1].status == 304
    assert tables["ipc_phases"]["population"].tolist() == [342719]


def test_same_catalogue_version_sends_no_download(loopback, tmp_path):
    """When package_show lists the resource with the last_modified of the last good download,
    the resource is not requested at all; a new last_modified downloads it again."""
    stamp = {"value": "2024-07-01T10:00:00.000000"}

    def app(seen: Seen) -> Reply:
        if seen.path == "/api/3/action/package_show":
            answer = json.loads(_show(loopback, "/dataset/ds/resource/r1/download/file.csv"))
            answer["result"]["resources"][0]["last_modified"] = stamp["value"]
            return Reply(200, json.dumps(answer).encode())
        return Reply(200, CSV, {"Content-Type": "text/csv"})

    loopback.app = app
    _, first = _extract(loopback, tmp_path)
    record = first.records[1]
    assert record.version == stamp["value"] and first.records[0].catalogue
    from aggregator.http import Validator

    known = {
        record.url: Validator(
            record.etag, record.last_modified, record.sha256, record.raw_path, record.version
        )
    }
    loopback.requests.clear()
    tables, second = _extract(loopback, tmp_path, validators=known)
    assert [s.path for s in loopback.seen()] == ["/api/3/action/package_show"]
    assert second.records[1].not_modified and second.records[1].status is None
    assert tables["ipc_phases"]["population"].tolist() == [342719]

    stamp["value"] = "2024-08-01T10:00:00.000000"
    loopback.requests.clear()
    _, third = _extract(loopback, tmp_path, validators=known)
    assert [s.path for s in loopback.seen()][-1] == "/dataset/ds/resource/r1/download/file.csv"
    # Downloaded again; the bytes are the same, so the source still counts as unchanged.
    assert third.records[1].status == 200 and third.records[1].not_modified
