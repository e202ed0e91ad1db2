"""humanitarian_needs: people in need, targeted and reached (HNO/JIAF) from HDX HAPI."""

from __future__ import annotations

import pandas as pd
from pandera.typing import Series

from schemas.fields import field
from schemas.hapi_common import PERIOD_CHECK_COLUMNS, HapiAdminRow

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
CHECK_COLUMNS = PERIOD_CHECK_COLUMNS


class HumanitarianNeeds(HapiAdminRow):
    """People affected, in need, targeted and reached by sector and area, from HDX HAPI."""

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

    class Config:
        unique = KEY
