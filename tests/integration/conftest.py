"""Fixtures of the integration tests: a real loopback HTTP server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .loopback import Loopback


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    """A started loopback server (404 for everything until the test sets ``app``)."""
    with Loopback() as server:
        yield server
    assert not server.errors, f"loopback server errors: {server.errors}"
