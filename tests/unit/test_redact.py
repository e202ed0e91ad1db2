"""Secrets never leave the process: URLs, exception texts and log records are masked."""

from __future__ import annotations

import io
import logging
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from aggregator import redact
from aggregator.redact import (
    RedactingFilter,
    public_query,
    redact_text,
    redact_url,
    register_secret,
)

IPC_KEY = "c2VjcmV0LWlwYy1rZXktMDAwMQ"  # shaped like a real key, never a real one


@pytest.fixture(autouse=True)
def no_known_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no registered secret and leaves none behind."""
    monkeypatch.setattr(redact, "_known_values", set())


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            f"https://api.ipcinfo.org/population?country=PS&key={IPC_KEY}",
            "https://api.ipcinfo.org/population?country=PS&key=***",
        ),
        (
            "https://hapi.humdata.org/api/v2/food-security?location_code=PSE"
            "&app_identifier=bXlhcHA6bWVAZXhhbXBsZS5vcmc%3D&limit=1000",
            "https://hapi.humdata.org/api/v2/food-security?location_code=PSE&app_identifier=***&limit=1000",
        ),
        (
            "https://api.ipcinfo.org/analyses?KEY=abc&type=A",
            "https://api.ipcinfo.org/analyses?KEY=***&type=A",
        ),
        (
            "https://api.ipcinfo.org/analyses?type=A&key=",
            "https://api.ipcinfo.org/analyses?type=A&key=***",
        ),
        (
            "https://api.ipcinfo.org/analyses?type=A&key=a&key=b",
            "https://api.ipcinfo.org/analyses?type=A&key=***&key=***",
        ),
        ("https://api.ipcinfo.org/analyses?type=A", "https://api.ipcinfo.org/analyses?type=A"),
    ],
)
def test_redact_url_masks_secret_params_whatever_their_value(url, expected):
    """key and app_identifier are masked (any case, empty or repeated); other params stay as they were."""
    assert redact_url(url) == expected


def test_redact_url_keeps_other_params_and_lookalikes():
    """Parameters merely resembling secret names, and the rest of the URL, keep their meaning."""
    url = "https://data.humdata.org/api/3/action/package_search?q=gaza strip&keyword=ipc&monkey=1&key=zz#top"
    out = redact_url(url)
    parts = urlsplit(out)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
        "https",
        "data.humdata.org",
        "/api/3/action/package_search",
        "top",
    )
    assert parse_qsl(parts.query) == [
        ("q", "gaza strip"),
        ("keyword", "ipc"),
        ("monkey", "1"),
        ("key", "***"),
    ]


def test_registered_secret_masked_in_httpx_exception_message():
    """A known key is masked in httpx's own error text, which embeds the full request URL."""
    register_secret(IPC_KEY)
    request = httpx.Request("GET", f"https://api.ipcinfo.org/population?country=PS&key={IPC_KEY}")
    with pytest.raises(httpx.HTTPStatusError) as caught:
        httpx.Response(401, request=request).raise_for_status()
    raw = str(caught.value)
    assert IPC_KEY in raw  # the premise: httpx does leak it
    masked = redact_text(raw)
    assert IPC_KEY not in masked
    assert "for url 'https://api.ipcinfo.org/population?country=PS&key=***'" in masked


def test_registered_secret_masked_anywhere_in_text():
    """A known value is masked outside any query string too (headers, paths, prose)."""
    register_secret(IPC_KEY)
    text = f"Authorization: Bearer {IPC_KEY}\nGET /v1/{IPC_KEY}/analyses failed; token={IPC_KEY}."
    out = redact_text(text)
    assert IPC_KEY not in out
    assert out == "Authorization: Bearer ***\nGET /v1/***/analyses failed; token=***."


def test_longer_secret_masked_before_its_prefix():
    """When one secret starts another, the longer is masked whole, leaving no tail behind."""
    nested = [
        "abcd",
        "abcd-e",
        "abcd-ef",
        "abcd-efg",
        "abcd-efgh-ijkl",
    ]  # 1/120 chance to pass by luck if unordered
    for value in nested:
        register_secret(value)
    assert redact_text("x abcd-efgh-ijkl y abcd-ef z abcd") == "x *** y *** z ***"


@pytest.mark.parametrize("value", [None, "", "abc"])
def test_short_or_empty_values_are_not_registered(value):
    """Empty or very short values are ignored, so ordinary text is not shredded."""
    register_secret(value)
    assert redact._known_values == set()
    assert redact_text("abc def") == "abc def"


def test_secret_params_masked_in_free_text_without_registration():
    """key=… and app_identifier=… are masked in any text even when the value was never registered."""
    text = '{"url": "https://api.ipcinfo.org/analyses?type=A&key=unseen123"} app_identifier=QQ==&x=1 monkey=banana'
    assert (
        redact_text(text)
        == '{"url": "https://api.ipcinfo.org/analyses?type=A&key=***"} app_identifier=***&x=1 monkey=banana'
    )


@pytest.fixture
def secret_log() -> tuple[logging.Logger, io.StringIO]:
    """A real logger whose handler formats records through RedactingFilter into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("aggregator.test_redact")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, stream
    logger.removeHandler(handler)


def test_filter_masks_message_built_from_args(secret_log):
    """A record whose secret arrives through %-args is masked after formatting."""
    logger, stream = secret_log
    register_secret(IPC_KEY)
    logger.info(
        "GET %s -> %d (key %s)",
        f"https://api.ipcinfo.org/analyses?type=A&key={IPC_KEY}",
        200,
        IPC_KEY,
    )
    assert (
        stream.getvalue()
        == "INFO GET https://api.ipcinfo.org/analyses?type=A&key=*** -> 200 (key ***)\n"
    )


def test_filter_masks_traceback_of_exc_info(secret_log):
    """A logged exception's traceback is masked too, while still being written."""
    logger, stream = secret_log
    register_secret(IPC_KEY)
    try:
        raise RuntimeError(
            f"download of https://api.ipcinfo.org/population?country=AF&key={IPC_KEY} failed"
        )
    except RuntimeError:
        logger.exception("ipc_api: unexpected error")
    out = stream.getvalue()
    assert IPC_KEY not in out
    assert out.startswith("ERROR ipc_api: unexpected error\nTraceback (most recent call last):")
    assert (
        "RuntimeError: download of https://api.ipcinfo.org/population?country=AF&key=*** failed"
        in out
    )


def test_public_query_drops_secrets_and_sorts():
    """The replay key of a URL: its non-secret parameters, sorted, blanks kept."""
    url = f"https://api.hpc.tools/v1/public/fts/flow?year=2020&key={IPC_KEY}&locationid=171&App_Identifier=x&page="
    assert public_query(url) == [("locationid", "171"), ("page", ""), ("year", "2020")]
    assert public_query("https://api.ipcinfo.org/analyses") == []


def test_masked_key_keeps_the_text_after_it():
    """An error naming a masked URL keeps its ': reason' (the colon is no part of a key)."""
    message = "ipc_api: cannot parse https://api.ipcinfo.org/population?country=PS&key=***: bad"
    assert redact_text(message) == message
    assert redact_text("key=s3cr3t:still-key&x=1") == "key=***&x=1"
