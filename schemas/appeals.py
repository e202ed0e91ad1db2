"""appeals: humanitarian appeals (response plans, flash appeals) with requirements and funding.

One row per plan and vintage. FTS figures are live (funding grows day by day, requirements are
revised), so ``published_on`` is the day the figure was read (or the server's Last-Modified):
a later refresh adds a new vintage and keeps the earlier ones; a second read on the same day
replaces that day's row of the plan (``replace_by = vintage_key``).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import date_field, fetch_id_field, field

KEY = ["source", "plan_id", "published_on"]
CHECK_COLUMNS = {"start_not_after_end": ("start_date", "end_date")}
APPEAL_SOURCES = ["fts"]  # a list: pandera misreads a one-element tuple in isin


class Appeals(pa.DataFrameModel):
    """Humanitarian appeals with original and revised requirements, funding and coverage."""

    source: Series[str] = field("Where the row came from: fts.", isin=APPEAL_SOURCES)
    plan_id: Series[str] = field("FTS plan id; join to fts_flows.dest_plan_id.")
    plan_code: Series[str] = field("Plan code, e.g. FPSE24 (oPt Flash Appeal 2024).", nullable=True)
    name: Series[str] = field("Plan name as published.")
    plan_type: Series[str] = field(
        "Humanitarian response plan, Flash appeal, Regional response plan, Other...", nullable=True
    )
    start_date: Series[pd.Timestamp] = date_field("First day the plan covers.", nullable=True)
    end_date: Series[pd.Timestamp] = date_field("Last day the plan covers.", nullable=True)
    years: Series[str] = field("Usage years of the plan, comma-separated.", nullable=True)
    country_iso3: Series[str] = field(
        "ISO3 of the plan's country when it covers exactly one; empty for multi-country plans, "
        "whose requirements are not split by country.",
        nullable=True,
        str_matches=r"^[A-Z]{3}$",
    )
    country_iso3s: Series[str] = field(
        "ISO3 codes of every country the plan covers, comma-separated."
    )
    original_requirements_usd: Series[float] = field(
        "Requirements as first published, USD.", nullable=True, ge=0
    )
    revised_requirements_usd: Series[float] = field(
        "Requirements as last revised, USD (the figure FTS measures coverage against).",
        nullable=True,
        ge=0,
    )
    funding_usd: Series[float] = field(
        "Funding received against the plan, USD (FTS totalFunding); empty where not known.",
        nullable=True,
        ge=0,
    )
    coverage_share: Series[float] = field(
        "Funding as a share of revised requirements, 0 to 1 (FTS 'progress' / 100); above 1 "
        "when a plan is over-funded; empty where funding is not known.",
        nullable=True,
        ge=0,
    )
    published_on: Series[pd.Timestamp] = date_field(
        "The vintage: the day the figure was read from FTS (or the server's Last-Modified)."
    )
    vintage_key: Series[str] = field("plan_id@published_on: what a refresh replaces.")
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True
        unique = KEY

    @pa.dataframe_check(name="start_not_after_end")
    def ordered(cls, df: pd.DataFrame) -> Series[bool]:
        return ~(df["start_date"] > df["end_date"])
