"""Record/replay of HTTP exchanges as files: the layout, what a replay serves, and what a
recording writes (never a secret)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest

from aggregator.config import HttpSettings
from aggregator.errors import AggregatorError, FetchError, ReplayMissing
from aggregator.http import Fetcher, Validator, make_client
from aggregator.raw import RawStore
from aggregator.replay import RecordingTransport, ReplayTransport, meta_path, recording_path

CANARY = "CANARY-9f3b2c"
ANALYSES = [{"id": "12166797", "country": "AF", "condition": "A", "created": "2018-01-05"}]


@pytest.mark.parametrize(
    "url, relative",
    [
        ("https://api.ipcinfo.org/analyses?type=A", "api.ipcinfo.org/analyses@type=A.body"),
        (
            f"https://api.ipcinfo.org/analyses?type=A&key={CANARY}",
            "api.ipcinfo.org/analyses@type=A.body",
        ),
        (
            "https://api.ipcinfo.org/population?key=k&country=PS&App_Identifier=a",
            "api.ipcinfo.org/population@country=PS.body",
        ),
        (
            "https://api.hpc.tools/v1/public/fts/flow?year=2020&locationid=171",
            "api.hpc.tools/v1/public/fts/flow@locationid=171&year=2020.body",
        ),
        ("https://api.hpc.tools/v1/public/location", "api.hpc.tools/v1/public/location.body"),
        ("https://api.ipcinfo.org/a/%2E%2E/%2e%2e/population", "api.ipcinfo.org/a/population.body"),
        ("https://api.ipcinfo.org/..%2F..%2Fetc/passwd", "api.ipcinfo.org/etc/passwd.body"),
        ("https://example.org", "example.org/index.body"),
        ("https://example.org/?q=1", "example.org/index@q=1.body"),
    ],
)
def test_recording_path_layout(tmp_path, url, relative):
    """host dir, nested path, '@' + sorted public query, no secret, no '..', 'index' for '/'."""
    assert recording_path(tmp_path, httpx.URL(url)) == tmp_path / relative


def test_recording_path_query_value_cannot_create_directories(tmp_path):
    """A '/' or '..' inside a query value stays inside the file name, under the host directory."""
    body = recording_path(
        tmp_path, httpx.URL("https://api.ipcinfo.org/x?next=../../etc/passwd&q=a b")
    )
    assert body.parent == tmp_path / "api.ipcinfo.org"
    assert body.name.startswith("x@next=") and body.name.endswith(".body")
    assert "/" not in body.name


def test_meta_path_sits_next_to_body(tmp_path):
    """The meta file of a recording replaces the .body suffix with .meta.json."""
    body = tmp_path / "api.ipcinfo.org" / "analyses@type=A.body"
    assert meta_path(body) == tmp_path / "api.ipcinfo.org" / "analyses@type=A.meta.json"


def _record(root: Path, url: str, body: bytes, meta: dict | None = None) -> Path:
    path = recording_path(root, httpx.URL(url))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    if meta is not None:
        meta_path(path).write_text(json.dumps(meta))
    return path


def test_replay_serves_body_status_and_headers(tmp_path):
    """A recording with meta is served with its status, kept headers and exact body."""
    body = json.dumps(ANALYSES).encode()
    _record(
        tmp_path,
        "https://api.ipcinfo.org/analyses?type=A",
        body,
        {
            "status": 200,
            "headers": {
                "content-type": "application/json",
                "etag": '"v1"',
                "last-modified": "Tue, 25 Jun 2024 10:00:00 GMT",
            },
        },
    )
    with httpx.Client(transport=ReplayTransport(tmp_path)) as client:
        response = client.get(
            "https://api.ipcinfo.org/analyses", params={"type": "A", "key": CANARY}
        )
    assert response.status_code == 200
    assert response.content == body
    assert response.headers["etag"] == '"v1"'
    assert response.headers["content-type"] == "application/json"
    assert response.headers["last-modified"] == "Tue, 25 Jun 2024 10:00:00 GMT"
    assert response.json() == ANALYSES


def test_replay_without_meta_is_a_plain_200(tmp_path):
    """A bare .body (as laid out from ../shared/recorded) is served as 200 with no validators."""
    _record(tmp_path, "https://api.ipcinfo.org/population?country=AF", b"[]")
    with httpx.Client(transport=ReplayTransport(tmp_path)) as client:
        response = client.get("https://api.ipcinfo.org/population?country=AF")
    assert (response.status_code, response.content) == (200, b"[]")
    assert "etag" not in response.headers


def test_replay_serves_recorded_error_status(tmp_path):
    """A recorded 503 with Retry-After replays as such, so retry paths run offline."""
    _record(
        tmp_path,
        "https://api.ipcinfo.org/analyses?type=A",
        b"Service Unavailable",
        {"status": 503, "headers": {"retry-after": "7"}},
    )
    with httpx.Client(transport=ReplayTransport(tmp_path)) as client:
        response = client.get("https://api.ipcinfo.org/analyses?type=A")
    assert (response.status_code, response.headers["retry-after"]) == (503, "7")


def test_replay_answers_304_when_etag_matches(tmp_path):
    """If-None-Match equal to the recorded ETag gets 304 and no body; another ETag gets the body."""
    _record(
        tmp_path,
        "https://api.ipcinfo.org/analyses?type=A",
        b"[1]",
        {"status": 200, "headers": {"etag": '"v1"'}},
    )
    with httpx.Client(transport=ReplayTransport(tmp_path)) as client:
        same = client.get(
            "https://api.ipcinfo.org/analyses?type=A", headers={"If-None-Match": '"v1"'}
        )
        other = client.get(
            "https://api.ipcinfo.org/analyses?type=A", headers={"If-None-Match": '"v0"'}
        )
    assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", '"v1"')
    assert (other.status_code, other.content) == (200, b"[1]")


def test_replay_missing_names_redacted_url_and_path(tmp_path):
    """A request with no recording fails naming the URL (key masked) and the file looked for."""
    with (
        httpx.Client(transport=ReplayTransport(tmp_path)) as client,
        pytest.raises(ReplayMissing) as caught,
    ):
        client.get("https://api.ipcinfo.org/population", params={"country": "ZZ", "key": CANARY})
    message = str(caught.value)
    assert CANARY not in message
    assert caught.value.url == "https://api.ipcinfo.org/population?country=ZZ&key=***"
    expected = tmp_path / "api.ipcinfo.org" / "population@country=ZZ.body"
    assert caught.value.path == str(expected)
    assert (
        message
        == f"no recording for GET https://api.ipcinfo.org/population?country=ZZ&key=*** (looked for {expected})"
    )


def test_fetcher_turns_replay_missing_into_fetch_error(tmp_path):
    """Through the Fetcher, a missing recording is a FetchError for the source, without retries."""
    settings = HttpSettings(backoff_initial=0.01)
    with make_client(settings, replay=tmp_path) as client:
        fetcher = Fetcher(
            client, source="ipc_api", run_id="r", raw=RawStore(tmp_path / "raw"), settings=settings
        )
        with pytest.raises(
            FetchError,
            match=r"^ipc_api: GET https://api\.ipcinfo\.org/analyses\?type=A&key=\*\*\* "
            r"failed: no recording",
        ):
            fetcher.get("https://api.ipcinfo.org/analyses", params={"type": "A", "key": CANARY})
    assert fetcher.records[0].attempts == 1
    assert CANARY not in fetcher.records[0].error


def test_second_run_with_validators_gets_304_and_reuses_body(tmp_path):
    """A conditional GET with the first download's ETag is answered 304 and reuses the stored body."""
    replay = tmp_path / "replay"
    _record(
        replay,
        "https://api.ipcinfo.org/analyses?type=A",
        json.dumps(ANALYSES).encode(),
        {"status": 200, "headers": {"etag": '"v1"', "content-type": "application/json"}},
    )
    settings = HttpSettings()
    raw = RawStore(tmp_path / "raw")
    with make_client(settings, replay=replay) as client:
        first = Fetcher(client, source="ipc_api", run_id="r1", raw=raw, settings=settings)
        got = first.get("https://api.ipcinfo.org/analyses", params={"type": "A"})
        record = got.record
        assert (record.status, record.not_modified, record.etag) == (200, False, '"v1"')
        validators = {
            record.url: Validator(record.etag, record.last_modified, record.sha256, record.raw_path)
        }
        second = Fetcher(
            client, source="ipc_api", run_id="r2", raw=raw, settings=settings, validators=validators
        )
        again = second.get("https://api.ipcinfo.org/analyses", params={"type": "A"})
    assert (again.record.status, again.not_modified) == (304, True)
    assert again.record.sha256 == record.sha256 and again.path == got.path
    assert again.json() == ANALYSES


def test_make_client_refuses_bad_modes(tmp_path):
    """--record with --replay, or a replay directory that does not exist, are user errors."""
    with pytest.raises(AggregatorError, match="cannot be used together"):
        make_client(HttpSettings(), record=tmp_path, replay=tmp_path)
    with pytest.raises(AggregatorError, match="does not exist"):
        make_client(HttpSettings(), replay=tmp_path / "nowhere")


# --- recording -----------------------------------------------------------------------------
# httpx.MockTransport is only the stand-in for the network behind RecordingTransport.


def _ipc_server(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/old-analyses":
        return httpx.Response(
            301, headers={"location": f"https://api.ipcinfo.org/analyses?type=A&key={CANARY}"}
        )
    if request.url.path == "/analyses":
        assert request.url.params["key"] == CANARY  # the network did get the key
        return httpx.Response(
            200,
            headers={
                "content-type": "application/json",
                "etag": '"abc"',
                "set-cookie": f"session={CANARY}",
                "x-request-id": "42",
            },
            content=json.dumps(ANALYSES).encode(),
        )
    if request.url.path == "/population":
        return httpx.Response(
            200,
            headers={"content-type": "application/json", "content-encoding": "gzip"},
            content=gzip.compress(b'[{"id": "90000001"}]'),
        )
    return httpx.Response(404)


def _all_text(root: Path) -> str:
    return "\n".join(
        str(p.relative_to(root)) + "\n" + p.read_bytes().decode("utf-8", "replace")
        for p in sorted(root.rglob("*"))
        if p.is_file()
    )


def test_recording_writes_body_and_meta_without_secret(tmp_path):
    """A recorded exchange keeps body, status and the useful headers; the key is in no name or content."""
    root = tmp_path / "rec"
    with httpx.Client(
        transport=RecordingTransport(root, httpx.MockTransport(_ipc_server))
    ) as client:
        response = client.get(
            "https://api.ipcinfo.org/analyses", params={"type": "A", "key": CANARY}
        )
    assert response.json() == ANALYSES

    body = root / "api.ipcinfo.org" / "analyses@type=A.body"
    assert json.loads(body.read_bytes()) == ANALYSES
    meta = json.loads(meta_path(body).read_text())
    assert meta == {
        "url": "https://api.ipcinfo.org/analyses?type=A&key=***",
        "status": 200,
        "headers": {"content-type": "application/json", "etag": '"abc"'},
    }
    assert CANARY not in _all_text(root)


def test_recording_redacts_redirect_location(tmp_path):
    """A redirect whose Location carries the key is recorded with the key masked, and followed."""
    root = tmp_path / "rec"
    transport = RecordingTransport(root, httpx.MockTransport(_ipc_server))
    with httpx.Client(transport=transport, follow_redirects=True) as client:
        response = client.get("https://api.ipcinfo.org/old-analyses", params={"key": CANARY})
    assert response.status_code == 200 and response.json() == ANALYSES
    moved = json.loads((root / "api.ipcinfo.org" / "old-analyses.meta.json").read_text())
    assert moved["status"] == 301
    assert moved["headers"]["location"] == "https://api.ipcinfo.org/analyses?type=A&key=***"
    assert (root / "api.ipcinfo.org" / "analyses@type=A.body").is_file()
    assert CANARY not in _all_text(root)


def test_recording_stores_decoded_body(tmp_path):
    """A gzip-encoded answer is stored decoded, and handed on without the stale encoding header."""
    root = tmp_path / "rec"
    with httpx.Client(
        transport=RecordingTransport(root, httpx.MockTransport(_ipc_server))
    ) as client:
        response = client.get(
            "https://api.ipcinfo.org/population", params={"country": "PS", "key": CANARY}
        )
    assert response.json() == [{"id": "90000001"}]
    assert "content-encoding" not in response.headers
    assert (
        root / "api.ipcinfo.org" / "population@country=PS.body"
    ).read_bytes() == b'[{"id": "90000001"}]'


def test_recording_replays_identically_without_key(tmp_path):
    """What was recorded with a key replays without one: same body, same ETag, then 304."""
    root = tmp_path / "rec"
    with httpx.Client(
        transport=RecordingTransport(root, httpx.MockTransport(_ipc_server))
    ) as client:
        recorded = client.get(
            "https://api.ipcinfo.org/analyses", params={"type": "A", "key": CANARY}
        )
    with httpx.Client(transport=ReplayTransport(root)) as client:
        replayed = client.get("https://api.ipcinfo.org/analyses?type=A")
        conditional = client.get(
            "https://api.ipcinfo.org/analyses?type=A", headers={"If-None-Match": '"abc"'}
        )
    assert replayed.content == recorded.content
    assert replayed.headers["etag"] == recorded.headers["etag"] == '"abc"'
    assert conditional.status_code == 304
