"""press_claims: figures quoted in the press, one row per quoted number, curated in data/claims/.

A claim says which official metric it is about (the metric registry), where (geo, area), what
value it states and how (comparator: "more than 32,000" is gt 32000). Values are stored in the
metric's unit: a claim quoted in percent is converted to a share (0-1) on load, and the quoted
unit is kept. ``precision`` is the rounding the quoted number implies (32,000 -> 1,000; a
percentage -> one point), from which the comparison builds the claim's interval.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas import metrics
from schemas.fields import date_field, fetch_id_field, field, iso3_field
from schemas.metrics import UNITS

COMPARATORS = ("eq", "approx", "gt", "gte", "lt", "lte", "between")
CLAIM_PERIOD_KINDS = ("current", "projection", "any")
QUOTED_UNITS = (*UNITS, "percent")
KEY = ["claim_id"]
CHECK_COLUMNS = {
    "unit_is_the_metric_unit": ("metric", "unit"),
    "share_between_0_and_1": ("unit", "value"),
    "between_needs_value_high": ("comparator", "value_high"),
    "value_high_not_below_value": ("value", "value_high"),
    "quote_offsets_in_order": ("quote_start", "quote_end"),
}


class PressClaims(pa.DataFrameModel):
    """Figures quoted in the press (curated CSVs in data/claims/), one row per quoted number."""

    claim_id: Series[str] = field(
        "Id of the claim, unique across all claims files.", str_matches=r"^[A-Za-z0-9._:-]+$"
    )
    published_on: Series[pd.Timestamp] = date_field("When the article or statement was published.")
    outlet: Series[str] = field("Publication or channel, e.g. Reuters.")
    url: Series[str] = field(
        "Address of the article.", nullable=True, str_matches=r"^https?://\S+$"
    )
    speaker: Series[str] = field(
        "Who says the figure in the text: a person, or the outlet itself.", nullable=True
    )
    attributed_to: Series[str] = field(
        "Whose figure the text says it is ('Gaza health authorities', 'the United Nations').",
        nullable=True,
    )
    quote: Series[str] = field("The words quoted, as published.")
    metric: Series[str] = field("Metric id from the metric registry (schemas/metrics.py).")
    geo: Series[str] = iso3_field("ISO 3166-1 alpha-3 code of the country the claim is about.")
    area: Series[str] = field(
        "Place within the country (e.g. Rafah); empty for the whole of what the source covers.",
        nullable=True,
    )
    value: Series[float] = field(
        "The value claimed, in `unit` (percent converted to a share 0-1).", ge=0
    )
    value_high: Series[float] = field(
        "Upper end for comparator between, in `unit`.", nullable=True, ge=0
    )
    unit: Series[str] = field("The metric's unit the value is stored in.", isin=UNITS)
    quoted_unit: Series[str] = field(
        "The unit as quoted (percent is stored as a share).", isin=QUOTED_UNITS
    )
    precision: Series[float] = field(
        "Rounding the quoted number implies, in `unit`: 32,000 -> 1,000, 1.2 million -> "
        "100,000, a percentage -> 0.01.",
        gt=0,
    )
    comparator: Series[str] = field(
        "How the claim relates to its value: eq, approx ('about'), gt ('more than'), gte "
        "('at least'), lt ('less than'), lte ('up to'), between (value to value_high).",
        isin=COMPARATORS,
    )
    reference_date: Series[pd.Timestamp] = date_field(
        "The day the claim is about (default: published_on)."
    )
    period_kind: Series[str] = field(
        "Which IPC period the claim means: current, projection, or any (the one in force on "
        "reference_date).",
        isin=CLAIM_PERIOD_KINDS,
    )
    tolerance: Series[float] = field(
        "Tolerance overriding the metric's default (relative for counts, absolute for shares).",
        nullable=True,
        ge=0,
    )
    notes: Series[str] = field("Reviewer's notes.", nullable=True)
    quote_start: Series[pd.Int64Dtype] = field(
        "Character offset of the quote's sentence in the article text (claims extract).",
        nullable=True,
        ge=0,
    )
    quote_end: Series[pd.Int64Dtype] = field(
        "Character offset just past the quote's sentence (claims extract).", nullable=True, ge=0
    )
    confidence: Series[float] = field(
        "How sure claims extract was of the suggested metric and geo (0-1); empty when curated.",
        nullable=True,
        ge=0,
        le=1,
    )
    file: Series[str] = field("Claims file the row comes from.")
    line: Series[pd.Int64Dtype] = field("Line of the row in that file (header = line 1).", ge=2)
    source: Series[str] = field("Where the row came from: claims.", isin=["claims"])
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True
        unique = KEY

    @pa.check("metric", name="known_metric")
    def known_metric(cls, metric: Series[str]) -> Series[bool]:
        return metrics.known(metric)

    @pa.dataframe_check(name="unit_is_the_metric_unit")
    def unit_matches(cls, df: pd.DataFrame) -> Series[bool]:
        return metrics.unit_is_the_metric_unit(df)

    @pa.dataframe_check(name="share_between_0_and_1")
    def share_range(cls, df: pd.DataFrame) -> Series[bool]:
        high = df["value_high"].fillna(0)
        return (df["unit"] != "share") | ((df["value"] <= 1) & (high <= 1))

    @pa.dataframe_check(name="between_needs_value_high")
    def between_high(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["comparator"] != "between") | df["value_high"].notna()

    @pa.dataframe_check(name="value_high_not_below_value")
    def high_above(cls, df: pd.DataFrame) -> Series[bool]:
        return df["value_high"].isna() | (df["value_high"] >= df["value"])

    @pa.dataframe_check(name="quote_offsets_in_order")
    def offsets(cls, df: pd.DataFrame) -> Series[bool]:
        start, end = df["quote_start"], df["quote_end"]
        return start.isna() | end.isna() | (start <= end)
