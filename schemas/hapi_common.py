"""Columns the HDX HAPI tables share (hapi_food_security, hapi_funding, humanitarian_needs).

HAPI (https://hapi.humdata.org, API v2) serves figures it took from HDX datasets; each row
names the HDX resource it came from. Field names are HAPI's own.
"""

from __future__ import annotations

from typing import Any

from schemas.fields import date_field, field, iso3_field

HAPI_SOURCES = ["hapi"]  # a list: pandera unpacks a one-element tuple into a bare string
ADMIN_LEVELS = (0, 1, 2)
BOOLEAN = "BOOLEAN"


def source_field() -> Any:
    return field("Where the row came from: hapi (HDX HAPI API v2).", isin=HAPI_SOURCES)


def location_code_field() -> Any:
    return iso3_field("HAPI location_code: ISO 3166-1 alpha-3 country code.")


def location_name_field() -> Any:
    return field("HAPI location_name (UN M49 short name), when HAPI gives it.", nullable=True)


def has_hrp_field() -> Any:
    return field(
        "Whether the location has a Humanitarian Response Plan (HAPI has_hrp).",
        nullable=True,
        sql_type=BOOLEAN,
    )


def in_gho_field() -> Any:
    return field(
        "Whether the location is in the Global Humanitarian Overview (HAPI in_gho).",
        nullable=True,
        sql_type=BOOLEAN,
    )


def admin_field(text: str) -> Any:
    return field(text, nullable=True)


def admin_level_field() -> Any:
    return field(
        "0 national, 1 first-level (admin1), 2 second-level (admin2) subdivision.",
        isin=list(ADMIN_LEVELS),
    )


def period_start_field() -> Any:
    return date_field("HAPI reference_period_start: first day the figure applies to.")


def period_end_field(nullable: bool = False) -> Any:
    return date_field(
        "HAPI reference_period_end: last day the figure applies to.", nullable=nullable
    )


def dataset_hdx_id_field() -> Any:
    return field(
        "HDX dataset UUID (https://data.humdata.org/dataset/<id>), when the answer carries it.",
        nullable=True,
    )


def resource_hdx_id_field() -> Any:
    return field(
        "HDX resource UUID HAPI took the row from (HAPI metadata/resource gives its dates)."
    )


def warning_field() -> Any:
    return field(
        "HAPI's warning for the row (e.g. 'Rounded value'); several are joined by '|'.",
        nullable=True,
    )


def vintage_field() -> Any:
    return field(
        "What a refresh replaces: 'location_code|resource_hdx_id|reference_period_start'. "
        "HAPI rows carry no release date, so a later refresh replaces the figures of the same "
        "location, resource and period (HAPI serves only the latest) and keeps all others."
    )
