"""Settings from the environment. Keys come only from the environment, never from files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from aggregator.errors import ConfigError
from aggregator.redact import register_secret

DEFAULT_URLS = {
    "IPC_API_URL": "https://api.ipcinfo.org",
    "HDX_URL": "https://data.humdata.org",
    "HAPI_URL": "https://hapi.humdata.org",
    "FTS_URL": "https://api.hpc.tools",
    "CASUALTIES_URL": "https://data.techforpalestine.org",
}
# The host of each service, as the defaults name it (test and benchmark servers play them).
DEFAULT_HOSTS = {name: url.removeprefix("https://") for name, url in DEFAULT_URLS.items()}
# Environment variables holding secrets: masked wherever their values would show.
SECRET_ENV = ("IPC_API_KEY", "HDX_HAPI_APP_IDENTIFIER")


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _years(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        years = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError:
        years = ()
    if not years or any(y < 1990 or y > 2100 for y in years):
        raise ConfigError(f"{name} must be comma-separated years (e.g. 2023,2024), got {raw!r}")
    return years


HAPI_MAX_PAGE_SIZE = 10_000  # HAPI refuses a larger limit
# Curated CSVs (claims, reference) are typed by hand, kilobytes each, and read whole: a file
# far larger is a mistake (an export saved into data/claims/) and is refused unread.
CURATED_MAX_BYTES = 5 * 1024 * 1024


def curated_max_bytes() -> int:
    """The largest curated CSV read: AGGREGATOR_CURATED_MAX_BYTES, else CURATED_MAX_BYTES."""
    cap = int(_float("AGGREGATOR_CURATED_MAX_BYTES", CURATED_MAX_BYTES))
    if cap < 1:
        raise ConfigError(f"AGGREGATOR_CURATED_MAX_BYTES must be a positive size, got {cap}")
    return cap


@dataclass(frozen=True)
class SourceSettings:
    """What to pull from sources that need telling (years, pacing)."""

    fts_years: tuple[int, ...] = (2020, 2023, 2024)  # appeals
    fts_flow_years: tuple[int, ...] = (2020,)
    hapi_page_size: int = HAPI_MAX_PAGE_SIZE
    hapi_pause: float = 1.0  # seconds between HAPI requests: HAPI asks for about one a second


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 5
    backoff_initial: float = 1.0  # seconds before the first retry; doubles with jitter
    backoff_max: float = 60.0
    retry_after_max: float = 300.0  # never sleep longer than this on a server's Retry-After
    max_bytes: int = 512 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse: Path
    urls: dict[str, str]
    keys: dict[str, str | None]
    http: HttpSettings = field(default_factory=HttpSettings)
    pull: SourceSettings = field(default_factory=SourceSettings)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def rejects_dir(self) -> Path:
        return self.data_dir / "rejects"

    @property
    def staging_dir(self) -> Path:
        """Per-run staging files of large tables, between parse and publish."""
        return self.data_dir / "staging"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "aggregator.log"

    def url(self, name: str) -> str:
        return self.urls[name].rstrip("/")

    def key(self, name: str) -> str | None:
        return self.keys.get(name)

    @property
    def claims_dir(self) -> Path:
        """Curated CSVs of figures quoted in the press (tracked in git)."""
        return self.data_dir / "claims"

    @property
    def reference_dir(self) -> Path:
        """Curated CSVs of official figures that exist only in reports (tracked in git)."""
        return self.data_dir / "reference"


def load_settings(warehouse: Path | None = None) -> Settings:
    data_dir = Path(os.environ.get("AGGREGATOR_DATA_DIR", "data"))
    warehouse = warehouse or Path(
        os.environ.get("AGGREGATOR_WAREHOUSE", str(data_dir / "warehouse.duckdb"))
    )
    keys = {name: os.environ.get(name) or None for name in SECRET_ENV}
    for value in keys.values():
        register_secret(value)
    http = HttpSettings(
        read_timeout=_float("AGGREGATOR_HTTP_TIMEOUT", HttpSettings.read_timeout),
        max_attempts=int(_float("AGGREGATOR_HTTP_ATTEMPTS", HttpSettings.max_attempts)),
        backoff_initial=_float("AGGREGATOR_HTTP_BACKOFF", HttpSettings.backoff_initial),
        max_bytes=int(_float("AGGREGATOR_HTTP_MAX_BYTES", HttpSettings.max_bytes)),
    )
    page_size = int(_float("AGGREGATOR_HAPI_PAGE_SIZE", SourceSettings.hapi_page_size))
    if not 1 <= page_size <= HAPI_MAX_PAGE_SIZE:
        raise ConfigError(
            f"AGGREGATOR_HAPI_PAGE_SIZE must be 1 to {HAPI_MAX_PAGE_SIZE:,}, got {page_size}"
        )
    pull = SourceSettings(
        fts_years=_years("FTS_YEARS", SourceSettings.fts_years),
        fts_flow_years=_years("FTS_FLOW_YEARS", SourceSettings.fts_flow_years),
        hapi_page_size=page_size,
        hapi_pause=_float("AGGREGATOR_HAPI_PAUSE", SourceSettings.hapi_pause),
    )
    urls = {name: os.environ.get(name) or default for name, default in DEFAULT_URLS.items()}
    return Settings(
        data_dir=data_dir, warehouse=warehouse, urls=urls, keys=keys, http=http, pull=pull
    )
