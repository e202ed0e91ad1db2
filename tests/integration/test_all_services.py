"""Every source at once against one loopback server playing all the live services from the
demo snapshot (tests/integration/services.py), with canary keys set: a full live-mode
refresh, a no-change refresh, and a failing service that fails its own sources only."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.pipeline import refresh
from aggregator.sources import RefreshOptions, resolve

from .loopback import Reply
from .services import SOURCE_HOSTS, serve_all

IPC_CANARY = "CANARY-IPC-5d1e"
HAPI_CANARY = "CANARY-HAPI-9b7c"


@pytest.fixture
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    monkeypatch.setenv("IPC_API_KEY", IPC_CANARY)
    monkeypatch.setenv("HDX_HAPI_APP_IDENTIFIER", HAPI_CANARY)
    with serve_all(data, monkeypatch) as played:
        yield played, data


def _refresh():
    settings = load_settings()
    return settings, {r.source: r for r in refresh(resolve([]), RefreshOptions(settings=settings))}


def _facts(warehouse: Path) -> dict[str, int]:
    tables = ("ipc_phases", "casualties_daily", "appeals", "hapi_food_security", "aid_trucks")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def test_every_source_live_then_unchanged(services):
    played, data = services
    settings, first = _refresh()
    assert {s: r.outcome for s, r in first.items()} == dict.fromkeys(first, "published")
    assert set(first) == {*SOURCE_HOSTS, "reference", "claims"}
    # The keys travelled as query parameters to the loopback...
    targets = " ".join(s.target for s in played.loopback.seen())
    assert IPC_CANARY in targets and HAPI_CANARY in targets

    played.loopback.requests.clear()
    _, second = _refresh()
    remote = {s: r for s, r in second.items() if s in SOURCE_HOSTS}
    assert {s: r.outcome for s, r in remote.items()} == dict.fromkeys(remote, "not_modified")
    # Only HAPI, which sends no validators, answers with bodies again; HDX files are not
    # even asked for because package_show lists the same versions.
    bodies = [s for s in played.loopback.seen() if "if-none-match" not in s.headers]
    assert {s.target.split("/")[1] for s in bodies} == {"hapi.humdata.org"}

    # ...and never into any file the tool wrote.
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert IPC_CANARY.encode() not in content and HAPI_CANARY.encode() not in content, path


@pytest.mark.parametrize("failing", sorted(set(SOURCE_HOSTS.values())))
def test_a_failing_service_fails_only_its_sources(services, failing):
    """Every answer of one service is a 503: its sources fail after retries naming the URL,
    their tables keep the last good rows, and every other source goes on."""
    played, _ = services
    settings, _ = _refresh()
    before = _facts(settings.warehouse)
    played.faults[failing] = lambda seen, normal: Reply(503, b"unavailable")
    _, results = _refresh()
    hit = {s for s, host in SOURCE_HOSTS.items() if host == failing}
    for source, result in results.items():
        if source in hit:
            assert result.outcome == "failed", (source, result.message)
            assert "HTTP 503 after 2 attempts" in result.message
            assert failing in result.message
        else:
            assert result.outcome in ("published", "not_modified"), (source, result.message)
    assert _facts(settings.warehouse) == before
