"""The project's own error types. Every failure a user can meet is one of these, with a
message that names the source and, where there is one, the request, field and row."""

from __future__ import annotations


class AggregatorError(Exception):
    """Base class: caught by the CLI and shown without a traceback."""


class ConfigError(AggregatorError):
    pass


class FetchError(AggregatorError):
    """A download failed for good (after retries). The message holds only redacted URLs."""

    def __init__(self, source: str, url: str, reason: str):
        super().__init__(f"{source}: GET {url} failed: {reason}")
        self.source, self.url, self.reason = source, url, reason


class ReplayMissing(AggregatorError):
    def __init__(self, url: str, path: str):
        super().__init__(f"no recording for GET {url} (looked for {path})")
        self.url, self.path = url, path


class ParseError(AggregatorError):
    """A response did not have the documented shape."""

    def __init__(self, source: str, where: str, detail: str):
        super().__init__(f"{source}: cannot parse {where}: {detail}")
        self.source, self.where, self.detail = source, where, detail


class LockHeld(AggregatorError):
    pass


class WarehouseError(AggregatorError):
    pass
