"""The registry of sources. Adding a source = a connector module, a schema module, an entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from aggregator.config import Settings
from aggregator.connectors import ipc
from aggregator.http import Fetcher


@dataclass(frozen=True)
class RefreshOptions:
    settings: Settings
    countries: list[str] = field(default_factory=list)  # ISO2; empty = every country available


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    tables: tuple[str, ...]
    extract: Callable[[Fetcher, RefreshOptions], dict[str, pd.DataFrame]]
    url_env: str
    key_env: str | None = None
    key_help: str = ""


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            name=ipc.SOURCE,
            title="IPC API: acute food insecurity analyses and populations by phase",
            tables=("ipc_analyses", "ipc_phases"),
            extract=lambda fetcher, opts: ipc.extract(
                fetcher,
                opts.settings.url("IPC_API_URL"),
                opts.settings.key("IPC_API_KEY"),
                opts.countries,
            ),
            url_env="IPC_API_URL",
            key_env="IPC_API_KEY",
            key_help="request a key from the IPC (https://www.ipcinfo.org/ipc-country-analysis/api/) "
            "and set IPC_API_KEY",
        ),
        # Registry entries of further sources go above this line.
    )
}

# Names a user may type for a family of sources.
ALIASES: dict[str, tuple[str, ...]] = {"ipc": ("ipc_api",)}


def resolve(names: list[str]) -> list[Source]:
    """Sources for the names given on the command line (all of them when none is given)."""
    if not names:
        return list(SOURCES.values())
    chosen: dict[str, Source] = {}
    for name in names:
        for real in ALIASES.get(name, (name,)):
            if real not in SOURCES:
                known = ", ".join(sorted([*SOURCES, *ALIASES]))
                raise KeyError(f"unknown source {name!r} (known: {known})")
            chosen[real] = SOURCES[real]
    return list(chosen.values())
