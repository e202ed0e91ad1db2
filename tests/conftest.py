"""Shared fixtures. Recorded real responses are read from ../shared/recorded (never copied
into the project); tests that need them skip cleanly where that folder is absent."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Property tests: a short run in `make test`, a long one with AGGREGATOR_LONG_TESTS=1.
settings.register_profile(
    "short", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
LONG_TESTS = os.environ.get("AGGREGATOR_LONG_TESTS") == "1"
settings.load_profile("long" if LONG_TESTS else "short")

ROOT = Path(__file__).resolve().parents[1]
RECORDED = Path(os.environ.get("AGGREGATOR_RECORDED", ROOT.parent / "shared" / "recorded"))
DEMO = ROOT / "data" / "demo"


@pytest.fixture
def recorded() -> Path:
    if not RECORDED.is_dir():
        pytest.skip(f"recorded data not available at {RECORDED}")
    return RECORDED


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated data directory and environment: no real keys, fast retries."""
    data = tmp_path / "data"
    monkeypatch.setenv("AGGREGATOR_DATA_DIR", str(data))
    monkeypatch.delenv("AGGREGATOR_WAREHOUSE", raising=False)
    monkeypatch.delenv("IPC_API_KEY", raising=False)
    monkeypatch.delenv("IPC_API_URL", raising=False)
    for name in ("HDX_HAPI_APP_IDENTIFIER", "HDX_URL", "HAPI_URL", "FTS_URL", "CASUALTIES_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGGREGATOR_HAPI_PAUSE", "0")
    monkeypatch.setenv("AGGREGATOR_HTTP_BACKOFF", "0.01")
    monkeypatch.setenv("AGGREGATOR_HTTP_ATTEMPTS", "4")
    monkeypatch.setenv("AGGREGATOR_HTTP_TIMEOUT", "5")
    return data


def replay_dir_from_recorded(recorded: Path, target: Path, countries: list[str]) -> Path:
    """Lays the recorded IPC API answers out as a replay directory (in tmp, not the repo)."""
    host = target / "api.ipcinfo.org"
    host.mkdir(parents=True, exist_ok=True)
    (host / "analyses@type=A.body").write_bytes(
        (recorded / "ipc-api" / "analyses-type-a.json").read_bytes()
    )
    for iso2 in countries:
        source = recorded / "ipc-api" / f"population-country-{iso2.lower()}.json"
        (host / f"population@country={iso2.upper()}.body").write_bytes(source.read_bytes())
    return target


def frames(tables: dict) -> dict:
    """A connector's tables as DataFrames, staged ones (aggregator.staging) read back whole."""
    return {name: t.frame() if hasattr(t, "frame") else t for name, t in tables.items()}


def curated_copy(data: Path) -> Path:
    """A data directory holding copies of the tracked reference and claims CSVs."""
    for folder in ("reference", "claims"):
        shutil.copytree(ROOT / "data" / folder, data / folder)
    return data


def refresh_demo(data: Path, claims_files: Sequence[Path] = ()):
    """Every source refreshed in-process from the demo snapshot into ``data`` (which holds
    the curated CSVs); each must publish. Returns the settings used."""
    from aggregator.config import load_settings
    from aggregator.pipeline import refresh
    from aggregator.sources import RefreshOptions, resolve

    with pytest.MonkeyPatch.context() as env:
        env.setenv("AGGREGATOR_DATA_DIR", str(data))
        env.setenv("AGGREGATOR_HAPI_PAUSE", "0")
        env.delenv("AGGREGATOR_WAREHOUSE", raising=False)
        settings = load_settings()
        results = refresh(
            resolve([], ipc_key=True),
            RefreshOptions(settings=settings, claims_files=list(claims_files)),
            replay=DEMO,
        )
    assert {r.outcome for r in results} == {"published"}, [(r.source, r.message) for r in results]
    return settings
