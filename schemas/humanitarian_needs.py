"""humanitarian_needs: people in need, targeted and reached (HNO/JIAF) from HDX HAPI."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import fetch_id_field, field
from schemas.hapi_common import (
    admin_field,
    admin_level_field,
    dataset_hdx_id_field,
    has_hrp_field,
    in_gho_field,
    location_code_field,
    location_name_field,
    period_end_field,
    period_start_field,
    resource_hdx_id_field,
    source_field,
    vintage_field,
    warning_field,
)

# HAPI's population_status values: affected, in need, targeted, reached, and 'all'
# (the whole population of the area).
POPULATION_STATUSES = ("AFF", "INN", "TGT", "REA", "all")
KEY = [
    "source",
    "location_code",
    "admin_level",
    "admin1_code",
    "admin2_code",
    "provider_admin1_name",
    "provider_admin2_name",
    "sector_code",
    "category",
    "population_status",
    "reference_period_start",
    "resource_hdx_id",
]
CHECK_COLUMNS = {"period_start_not_after_end": ("reference_period_start", "reference_period_end")}


class HumanitarianNeeds(pa.DataFrameModel):
    """People affected, in need, targeted and reached by sector and area, from HDX HAPI."""

    source: Series[str] = source_field()
    location_code: Series[str] = location_code_field()
    location_name: Series[str] = location_name_field()
    has_hrp: Series[pd.BooleanDtype] = has_hrp_field()
    in_gho: Series[pd.BooleanDtype] = in_gho_field()
    provider_admin1_name: Series[str] = admin_field("Admin1 name as the HNO gives it.")
    provider_admin2_name: Series[str] = admin_field("Admin2 name as the HNO gives it.")
    admin1_code: Series[str] = admin_field("Admin1 p-code, if any.")
    admin1_name: Series[str] = admin_field("Admin1 name of that p-code.")
    admin2_code: Series[str] = admin_field("Admin2 p-code, if any.")
    admin2_name: Series[str] = admin_field("Admin2 name of that p-code.")
    admin_level: Series[pd.Int64Dtype] = admin_level_field()
    sector_code: Series[str] = field(
        "Sector (cluster) code, e.g. FSC, WSH; 'Intersectoral' for the overall figure."
    )
    sector_name: Series[str] = field("Sector name.", nullable=True)
    category: Series[str] = field(
        "Population category (e.g. 'Adult - Female', 'Children', 'Disability'); empty or "
        "'total' for the whole population.",
        nullable=True,
    )
    population_status: Series[str] = field(
        "AFF affected, INN in need, TGT targeted, REA reached, all (whole population).",
        isin=POPULATION_STATUSES,
    )
    population: Series[pd.Int64Dtype] = field("Number of people.", ge=0)
    reference_period_start: Series[pd.Timestamp] = period_start_field()
    reference_period_end: Series[pd.Timestamp] = period_end_field(nullable=True)
    dataset_hdx_id: Series[str] = dataset_hdx_id_field()
    resource_hdx_id: Series[str] = resource_hdx_id_field()
    warning: Series[str] = warning_field()
    vintage: Series[str] = vintage_field()
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True
        unique = KEY

    @pa.dataframe_check(name="period_start_not_after_end")
    def period_ordered(cls, df: pd.DataFrame) -> Series[bool]:
        end = df["reference_period_end"]
        return end.isna() | (df["reference_period_start"] <= end)
