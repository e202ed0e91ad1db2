"""hapi_funding: appeal requirements and funding (OCHA FTS) as HDX HAPI serves them."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import fetch_id_field, field
from schemas.hapi_common import (
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

KEY = ["source", "location_code", "appeal_code", "reference_period_start", "resource_hdx_id"]
CHECK_COLUMNS = {"period_start_not_after_end": ("reference_period_start", "reference_period_end")}


class HapiFunding(pa.DataFrameModel):
    """Appeal requirements and funding per location from HDX HAPI (source: OCHA FTS)."""

    source: Series[str] = source_field()
    location_code: Series[str] = location_code_field()
    location_name: Series[str] = location_name_field()
    has_hrp: Series[pd.BooleanDtype] = has_hrp_field()
    in_gho: Series[pd.BooleanDtype] = in_gho_field()
    appeal_code: Series[str] = field(
        "FTS appeal code (e.g. HPSE20, FPSE24); 'Not specified' for funding outside appeals."
    )
    appeal_name: Series[str] = field("Name of the appeal.")
    appeal_type: Series[str] = field(
        "Type of appeal (e.g. Humanitarian response plan, Flash appeal); empty when none.",
        nullable=True,
    )
    requirements_usd: Series[float] = field(
        "Requirements in US dollars (FTS revised requirements); empty when none.",
        nullable=True,
        ge=0,
    )
    funding_usd: Series[float] = field("Funding received in US dollars.", ge=0)
    funding_pct: Series[float] = field(
        "Funding as a percentage of requirements (0 to 100 and beyond), as FTS rounds it.",
        nullable=True,
        ge=0,
    )
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
