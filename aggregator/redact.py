"""Keeps secrets out of everything the project writes or prints.

Secrets reach us in two ways: as values we know (the IPC key, the HAPI app identifier, read
from the environment) and as query parameters whose name marks them secret. Both are
replaced by ``***`` in any text: URLs, exception messages (httpx puts the full URL in its
own), log records.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_PARAMS = frozenset({"key", "app_identifier"})
MASK = "***"

_known_values: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it shows up."""
    if value and len(value) >= 4:
        _known_values.add(value)


def redact_text(text: str) -> str:
    for value in sorted(_known_values, key=len, reverse=True):
        text = text.replace(value, MASK)
    # Parameters named as secrets, whatever their value (covers keys we were never told of).
    # A value already masked is left alone: the text after it (": reason") is no value.
    already = re.escape(MASK) + r"(?![^&\s\"'#:])"
    pattern = r"(?i)\b(" + "|".join(SECRET_PARAMS) + r")=(?!" + already + r")([^&\s\"'#]+)"
    return re.sub(pattern, rf"\1={MASK}", text)


def redact_url(url: str) -> str:
    parts = urlsplit(str(url))
    query = [
        (k, MASK if k.lower() in SECRET_PARAMS else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return redact_text(urlunsplit(parts._replace(query=urlencode(query, safe="*"))))


def public_query(url: str) -> list[tuple[str, str]]:
    """The query parameters of a URL without the secret ones, sorted (used for replay keys)."""
    return sorted(
        (k, v)
        for k, v in parse_qsl(urlsplit(str(url)).query, keep_blank_values=True)
        if k.lower() not in SECRET_PARAMS
    )


class RedactingFilter(logging.Filter):
    """Masks secrets in every log record, including messages formatted from arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
