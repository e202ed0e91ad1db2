"""hapi_funding: appeal requirements and funding (OCHA FTS) as HDX HAPI serves them."""

from __future__ import annotations

from pandera.typing import Series

from schemas.fields import field
from schemas.hapi_common import PERIOD_CHECK_COLUMNS, HapiRow

KEY = ["source", "location_code", "appeal_code", "reference_period_start", "resource_hdx_id"]
CHECK_COLUMNS = PERIOD_CHECK_COLUMNS


class HapiFunding(HapiRow):
    """Appeal requirements and funding per location from HDX HAPI (source: OCHA FTS)."""

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

    class Config:
        unique = KEY
