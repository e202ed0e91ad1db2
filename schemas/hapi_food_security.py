"""hapi_food_security: IPC figures as HDX HAPI serves them (food-security-nutrition-poverty)."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import IPC_PHASES, fetch_id_field, field
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
CHECK_COLUMNS = {"period_start_not_after_end": ("reference_period_start", "reference_period_end")}


class HapiFoodSecurity(pa.DataFrameModel):
    """IPC population by phase from HDX HAPI, one row per area x period x phase."""

    source: Series[str] = source_field()
    location_code: Series[str] = location_code_field()
    location_name: Series[str] = location_name_field()
    has_hrp: Series[pd.BooleanDtype] = has_hrp_field()
    in_gho: Series[pd.BooleanDtype] = in_gho_field()
    provider_admin1_name: Series[str] = admin_field("Admin1 name as IPC gives it (IPC 'Level 1').")
    provider_admin2_name: Series[str] = admin_field("Area name as IPC gives it (IPC 'Area').")
    admin1_code: Series[str] = admin_field("Admin1 p-code HAPI matched, if any.")
    admin1_name: Series[str] = admin_field("Admin1 name of that p-code.")
    admin2_code: Series[str] = admin_field("Admin2 p-code HAPI matched, if any.")
    admin2_name: Series[str] = admin_field("Admin2 name of that p-code.")
    admin_level: Series[pd.Int64Dtype] = admin_level_field()
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
    reference_period_start: Series[pd.Timestamp] = period_start_field()
    reference_period_end: Series[pd.Timestamp] = period_end_field()
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
        return df["reference_period_start"] <= df["reference_period_end"]
