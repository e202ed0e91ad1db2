"""Columns and vocabularies shared by several tables, declared once.

A table module builds its pandera model from these helpers so that a column such as
``fetch_id`` means the same thing, with the same type and description, everywhere.
The SQL type of a column is derived from its pandas dtype unless ``sql_type`` says
otherwise (dates travel as pandas timestamps but are stored as DATE).
"""

from __future__ import annotations

from typing import Any

import pandera.pandas as pa

IPC_LEVELS = ("national", "group", "area")
IPC_PERIODS = ("current", "first_projection", "second_projection")
IPC_PHASES = ("1", "2", "3", "4", "5", "3+", "all")
IPC_SOURCES = ("ipc_api", "ipc_hdx")
PERIOD_GRANULARITIES = ("day", "month")
SEVERITIES = ("error", "warning")
OUTCOMES = ("published", "not_modified", "failed", "skipped")


def field(description: str, *, sql_type: str | None = None, **checks: Any) -> Any:
    """A pandera Field carrying its description (for the data dictionary) and SQL type."""
    metadata = {"sql_type": sql_type} if sql_type else None
    return pa.Field(description=description, metadata=metadata, **checks)


def date_field(description: str, **checks: Any) -> Any:
    return field(description, sql_type="DATE", **checks)


def fetch_id_field() -> Any:
    return field(
        "Id of the download this row came from: join to fetches.fetch_id for URL, time and sha256."
    )


def iso3_field(description: str = "ISO 3166-1 alpha-3 country code.") -> Any:
    return field(description, str_matches=r"^[A-Z]{3}$")


def iso2_field(description: str = "ISO 3166-1 alpha-2 country code, as the IPC API uses.") -> Any:
    return field(description, str_matches=r"^[A-Z]{2}$")
