"""What the HDX HAPI tables share (hapi_food_security, hapi_funding, humanitarian_needs):
base models that the three table models extend with their own columns.

HAPI (https://hapi.humdata.org, API v2) serves figures it took from HDX datasets; each row
names the HDX resource it came from. Field names are HAPI's own.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import date_field, fetch_id_field, field, iso3_field

HAPI_SOURCES = ["hapi"]  # a list: pandera unpacks a one-element tuple into a bare string
ADMIN_LEVELS = (0, 1, 2)
BOOLEAN = "BOOLEAN"


def period_end_field(nullable: bool = False) -> Any:
    return date_field(
        "HAPI reference_period_end: last day the figure applies to.", nullable=nullable
    )


PERIOD_CHECK_COLUMNS = {
    "period_start_not_after_end": ("reference_period_start", "reference_period_end")
}


class HapiRow(pa.DataFrameModel):
    """Columns of every HAPI table: location, reference period and provenance."""

    source: Series[str] = field(
        "Where the row came from: hapi (HDX HAPI API v2).", isin=HAPI_SOURCES
    )
    location_code: Series[str] = iso3_field("HAPI location_code: ISO 3166-1 alpha-3 country code.")
    location_name: Series[str] = field(
        "HAPI location_name (UN M49 short name), when HAPI gives it.", nullable=True
    )
    has_hrp: Series[pd.BooleanDtype] = field(
        "Whether the location has a Humanitarian Response Plan (HAPI has_hrp).",
        nullable=True,
        sql_type=BOOLEAN,
    )
    in_gho: Series[pd.BooleanDtype] = field(
        "Whether the location is in the Global Humanitarian Overview (HAPI in_gho).",
        nullable=True,
        sql_type=BOOLEAN,
    )
    reference_period_start: Series[pd.Timestamp] = date_field(
        "HAPI reference_period_start: first day the figure applies to."
    )
    reference_period_end: Series[pd.Timestamp] = period_end_field(nullable=True)
    dataset_hdx_id: Series[str] = field(
        "HDX dataset UUID (https://data.humdata.org/dataset/<id>), when the answer carries it.",
        nullable=True,
    )
    resource_hdx_id: Series[str] = field(
        "HDX resource UUID HAPI took the row from (HAPI metadata/resource gives its dates)."
    )
    warning: Series[str] = field(
        "HAPI's warning for the row (e.g. 'Rounded value'); several are joined by '|'.",
        nullable=True,
    )
    vintage: Series[str] = field(
        "What a refresh replaces: 'location_code|resource_hdx_id|reference_period_start'. "
        "HAPI rows carry no release date, so a later refresh replaces the figures of the same "
        "location, resource and period (HAPI serves only the latest) and keeps all others."
    )
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(name="period_start_not_after_end")
    def period_ordered(cls, df: pd.DataFrame) -> Series[bool]:
        end = df["reference_period_end"]
        return end.isna() | (df["reference_period_start"] <= end)


class HapiAdminRow(HapiRow):
    """HapiRow with the subnational area: the provider's names and the p-codes HAPI matched."""

    provider_admin1_name: Series[str] = field(
        "Admin1 name as the provider gives it (IPC 'Level 1', the HNO's admin1).", nullable=True
    )
    provider_admin2_name: Series[str] = field(
        "Admin2 name as the provider gives it (IPC 'Area', the HNO's admin2).", nullable=True
    )
    admin1_code: Series[str] = field("Admin1 p-code HAPI matched, if any.", nullable=True)
    admin1_name: Series[str] = field("Admin1 name of that p-code.", nullable=True)
    admin2_code: Series[str] = field("Admin2 p-code HAPI matched, if any.", nullable=True)
    admin2_name: Series[str] = field("Admin2 name of that p-code.", nullable=True)
    admin_level: Series[pd.Int64Dtype] = field(
        "0 national, 1 first-level (admin1), 2 second-level (admin2) subdivision.",
        isin=list(ADMIN_LEVELS),
    )
