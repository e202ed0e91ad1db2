"""hapi_food_security: IPC figures as HDX HAPI serves them (food-security-nutrition-poverty)."""

from __future__ import annotations

import pandas as pd
from pandera.typing import Series

from schemas.fields import IPC_PHASES, field
from schemas.hapi_common import PERIOD_CHECK_COLUMNS, HapiAdminRow, period_end_field

IPC_TYPES = ("current", "first projection", "second projection")
KEY = [
    "source",
    "location_code",
    "admin_level",
    "admin1_code",
    "admin2_code",
    "provider_admin1_name",
    "provider_admin2_name",
    "ipc_type",
    "ipc_phase",
    "reference_period_start",
    "reference_period_end",
    "resource_hdx_id",
]
CHECK_COLUMNS = PERIOD_CHECK_COLUMNS


class HapiFoodSecurity(HapiAdminRow):
    """IPC population by phase from HDX HAPI, one row per area x period x phase."""

    ipc_phase: Series[str] = field(
        "IPC phase: 1 to 5, '3+' (phases 3, 4 and 5) or 'all' (the population analysed).",
        isin=IPC_PHASES,
    )
    ipc_type: Series[str] = field(
        "Validity period: current, first projection or second projection.", isin=IPC_TYPES
    )
    population_in_phase: Series[pd.Int64Dtype] = field("Number of people in the phase.", ge=0)
    population_fraction_in_phase: Series[float] = field(
        "Share of the analysed population in the phase, 0 to 1, as published.", ge=0, le=1
    )
    # IPC periods always end: unlike funding and needs, an empty end is an error here.
    reference_period_end: Series[pd.Timestamp] = period_end_field()

    class Config:
        unique = KEY
