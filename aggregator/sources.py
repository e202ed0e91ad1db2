"""The registry of sources. Adding a source = a connector module, a schema module, an entry here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from aggregator.config import DEFAULT_HOSTS, Settings
from aggregator.connectors import casualties, claims, fts, hapi, hdx, ipc, reference
from aggregator.errors import AggregatorError
from aggregator.http import Fetcher
from aggregator.staging import Staged


@dataclass(frozen=True)
class RefreshOptions:
    settings: Settings
    countries: list[str] = field(default_factory=list)  # ISO2; empty = every country available
    claims_files: list[Path] = field(default_factory=list)  # besides data/claims/*.csv
    staging_dir: Path | None = None  # set by the pipeline for each run

    def stage(self, source: str) -> Path:
        """The staging folder of a source that stages its rows (aggregator.staging)."""
        if self.staging_dir is None:
            raise AggregatorError("no staging directory: sources stage only inside a refresh")
        return self.staging_dir / source


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    tables: tuple[str, ...]
    extract: Callable[[Fetcher, RefreshOptions], dict[str, pd.DataFrame | Staged]]
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
                stage=opts.stage(ipc.SOURCE),
            ),
            url_env="IPC_API_URL",
            key_env="IPC_API_KEY",
            key_help="request a key from the IPC (https://www.ipcinfo.org/ipc-country-analysis/api/) "
            "and set IPC_API_KEY",
        ),
        Source(
            name=casualties.SOURCE,
            title="Gaza Ministry of Health casualties per day (Tech for Palestine)",
            tables=("casualties_daily",),
            extract=lambda fetcher, opts: casualties.extract(
                fetcher, opts.settings.url("CASUALTIES_URL")
            ),
            url_env="CASUALTIES_URL",
        ),
        Source(
            name=reference.SOURCE,
            title="Reference figures quoted from reports (curated CSVs in data/reference/)",
            tables=("reference_figures",),
            extract=lambda fetcher, opts: reference.extract(fetcher, opts.settings.reference_dir),
            url_env="",  # local files: $AGGREGATOR_DATA_DIR/reference, no URL
        ),
        Source(
            name=fts.SOURCE,
            title="OCHA FTS: funding flows by country and year, appeals with requirements "
            "and funding (FTS_YEARS, FTS_FLOW_YEARS)",
            tables=("fts_flows", "appeals"),
            extract=lambda fetcher, opts: fts.extract(
                fetcher,
                opts.settings.url("FTS_URL"),
                opts.countries,
                years=opts.settings.pull.fts_years,
                flow_years=opts.settings.pull.fts_flow_years,
                stage=opts.stage(fts.SOURCE),
            ),
            url_env="FTS_URL",
        ),
        Source(
            name=hapi.SOURCE,
            title="HDX HAPI: IPC food security, appeal funding (FTS) and humanitarian needs (HNO)",
            tables=("hapi_food_security", "hapi_funding", "humanitarian_needs"),
            extract=lambda fetcher, opts: hapi.extract(
                fetcher,
                opts.settings.url("HAPI_URL"),
                opts.settings.key("HDX_HAPI_APP_IDENTIFIER"),
                opts.countries,
                limit=opts.settings.pull.hapi_page_size,
                pause=opts.settings.pull.hapi_pause,
            ),
            url_env="HAPI_URL",
            key_env="HDX_HAPI_APP_IDENTIFIER",
            key_help=hapi.KEY_HELP,
        ),
        *(
            Source(
                name=d.source,
                title=d.title,
                tables=d.tables,
                extract=lambda fetcher, opts, d=d: hdx.extract(
                    fetcher,
                    opts.settings.url(hdx.URL_ENV),
                    d,
                    opts.countries,
                    stage=opts.stage(d.source),
                ),
                url_env=hdx.URL_ENV,
            )
            for d in hdx.DATASETS.values()
        ),
        Source(
            name=claims.SOURCE,
            title="Press claims: figures quoted in the press (curated CSVs in data/claims/ "
            "and --claims files)",
            tables=("press_claims",),
            extract=lambda fetcher, opts: claims.extract(
                fetcher, opts.settings.claims_dir, opts.claims_files
            ),
            url_env="",  # local files: $AGGREGATOR_DATA_DIR/claims, no URL
        ),
        # Registry entries of further sources go above this line.
    )
}


def _aliases(ipc_key: bool) -> dict[str, tuple[str, ...]]:
    # IPC via its API when there is a key, else through its keyless HDX mirror.
    return {"ipc": ("ipc_api",) if ipc_key else ("ipc_hdx",)}


def resolve(names: list[str], *, ipc_key: bool = True) -> list[Source]:
    """Sources for the names given on the command line (all of them when none is given).

    ``ipc_key`` says whether the IPC API can be used (a key is set, or a replay needs none).
    """
    if not names:
        return list(SOURCES.values())
    aliases = _aliases(ipc_key)
    chosen: dict[str, Source] = {}
    for name in names:
        for real in aliases.get(name, (name,)):
            if real not in SOURCES:
                known = ", ".join(sorted([*SOURCES, *aliases]))
                raise KeyError(f"unknown source {name!r} (known: {known})")
            chosen[real] = SOURCES[real]
    return list(chosen.values())


def source_hosts() -> dict[str, str]:
    """The host each remote source talks to by default (its URL setting's default host)."""
    return {s.name: DEFAULT_HOSTS[s.url_env] for s in SOURCES.values() if s.url_env}
