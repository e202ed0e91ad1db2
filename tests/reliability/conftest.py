"""Fixtures of the reliability suite: canary keys everywhere, and the ``observe`` recorder
that checks, when a scenario ends, that no canary reached a file or the captured output."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .observe import CANARIES, HAPI_CANARY, IPC_CANARY, Observer, canaries_in_files


@pytest.fixture
def canary_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IPC_API_KEY", IPC_CANARY)
    monkeypatch.setenv("HDX_HAPI_APP_IDENTIFIER", HAPI_CANARY)


@pytest.fixture
def observe(
    request: pytest.FixtureRequest, tmp_path: Path, capfd: pytest.CaptureFixture[str], canary_keys
) -> Iterator[Observer]:
    observer = Observer(request.node.nodeid)
    yield observer
    out, err = capfd.readouterr()
    leaks = canaries_in_files(tmp_path) + [
        f"{stream}: {c}"
        for stream, text in (("stdout", out), ("stderr", err))
        for c in CANARIES
        if c in text
    ]
    assert not leaks, f"canary keys leaked: {leaks}"
    assert observer.records, "a reliability scenario must record what it observed"
