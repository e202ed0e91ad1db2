"""casualties_daily: Gaza Ministry of Health daily casualty figures, as compiled by Tech for Palestine.

One row per report day (https://data.techforpalestine.org/api/v2/casualties_daily.json). Each
value is the figure the day's report gave; where the report gave none, Tech for Palestine's
gap-filled ``ext_`` figure is used instead and the value's ``<name>_gap_filled`` flag is true.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import date_field, fetch_id_field, field

# Tech for Palestine's labels for where a day's figures came from.
REPORT_SOURCES = ("mohtel", "gmotel", "unocha", "missing")
# Table column -> field of the live JSON holding the reported figure (``ext_`` + it: gap-filled).
VALUES = {
    "killed_daily": "killed",
    "killed_cum": "killed_cum",
    "injured_daily": "injured",
    "injured_cum": "injured_cum",
    "killed_children_cum": "killed_children_cum",
    "killed_women_cum": "killed_women_cum",
}
CUMULATIVE = ("killed_cum", "injured_cum", "killed_children_cum", "killed_women_cum")
CHECK_COLUMNS = {f"{c}_never_decreases": ("report_date", c) for c in CUMULATIVE}

_FILLED = (
    "True when the report gave no `{json}` and the value is Tech for Palestine's gap-filled "
    "`ext_{json}`; empty when neither was given."
)


def _value(description: str, json_name: str) -> object:
    return field(
        f"{description} JSON field `{json_name}` as reported, else `ext_{json_name}` "
        "(gap-filled, see the flag).",
        nullable=True,
        ge=0,
    )


def _flag(json_name: str) -> object:
    return field(_FILLED.format(json=json_name), nullable=True, sql_type="BOOLEAN")


class CasualtiesDaily(pa.DataFrameModel):
    """Gaza Ministry of Health casualties per report day (Tech for Palestine), reported or gap-filled."""

    report_date: Series[pd.Timestamp] = date_field(
        "Day of the report (one report day is one vintage).", unique=True
    )
    report_source: Series[str] = field(
        "Where Tech for Palestine took the day's figures from: mohtel (Ministry of Health "
        "Telegram channel), gmotel (Government Media Office Telegram), unocha (UN OCHA) or "
        "missing (no report that day: every value is gap-filled)."
    )
    report_period: Series[pd.Int64Dtype] = field(
        "Hours the report covers, as Tech for Palestine gives it: 24 for most days, 48-96 when "
        "one report spans several days, 0 on days that have no report period of their own.",
        nullable=True,
        ge=0,
    )
    killed_daily: Series[pd.Int64Dtype] = _value(
        "People killed since the previous report (the reported figure covers report_period "
        "hours; the gap-filled one is the change in ext_killed_cum).",
        "killed",
    )
    killed_daily_gap_filled: Series[pd.BooleanDtype] = _flag("killed")
    killed_cum: Series[pd.Int64Dtype] = _value(
        "People killed since 7 October 2023, cumulative.", "killed_cum"
    )
    killed_cum_gap_filled: Series[pd.BooleanDtype] = _flag("killed_cum")
    injured_daily: Series[pd.Int64Dtype] = _value(
        "People injured since the previous report.", "injured"
    )
    injured_daily_gap_filled: Series[pd.BooleanDtype] = _flag("injured")
    injured_cum: Series[pd.Int64Dtype] = _value(
        "People injured since 7 October 2023, cumulative.", "injured_cum"
    )
    injured_cum_gap_filled: Series[pd.BooleanDtype] = _flag("injured_cum")
    killed_children_cum: Series[pd.Int64Dtype] = _value(
        "Children killed since 7 October 2023, cumulative.", "killed_children_cum"
    )
    killed_children_cum_gap_filled: Series[pd.BooleanDtype] = _flag("killed_children_cum")
    killed_women_cum: Series[pd.Int64Dtype] = _value(
        "Women killed since 7 October 2023, cumulative.", "killed_women_cum"
    )
    killed_women_cum_gap_filled: Series[pd.BooleanDtype] = _flag("killed_women_cum")
    source: Series[str] = field("Where the row came from: casualties.", isin=["casualties"])
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True

    @pa.dataframe_check(name="gap_filled_flag_set_when_value_is")
    def flags_match_values(cls, df: pd.DataFrame) -> Series[bool]:
        ok = pd.Series(True, index=df.index)
        for column in VALUES:
            ok &= df[column].isna() | df[f"{column}_gap_filled"].notna()
        return ok


def _never_decreases(df: pd.DataFrame, column: str) -> Series[bool]:
    """False on a day whose cumulative value is below the last known value before it."""
    ordered = df.sort_values("report_date")[column]
    previous = ordered.ffill().shift()
    dips = (ordered < previous).fillna(False).astype(bool)
    return (~dips).reindex(df.index)


class CasualtiesDailyWarnings(pa.DataFrameModel):
    """Warnings, recorded but not blocking.

    Cumulative figures should never go down, but the Ministry revises them: measured on the
    recorded series (1,051 days, 2023-10-07 to 2026-08-22), killed_cum, injured_cum and
    killed_children_cum never decrease; killed_women_cum decreases on 2 days (2023-10-18 and
    2023-10-20, gap-filled 936 after reported 1,032 and 1,000), and the reported figures alone
    also go down twice (1,032 on 2023-10-17, 1,000 on 10-19, 967 on 10-21). Tech for Palestine
    labels outside REPORT_SOURCES are flagged for a look, not dropped.
    """

    report_source: Series[str] = field("Known Tech for Palestine label.", isin=REPORT_SOURCES)

    class Config:
        strict = False

    @pa.dataframe_check(name="killed_cum_never_decreases")
    def killed_cum(cls, df: pd.DataFrame) -> Series[bool]:
        return _never_decreases(df, "killed_cum")

    @pa.dataframe_check(name="injured_cum_never_decreases")
    def injured_cum(cls, df: pd.DataFrame) -> Series[bool]:
        return _never_decreases(df, "injured_cum")

    @pa.dataframe_check(name="killed_children_cum_never_decreases")
    def children_cum(cls, df: pd.DataFrame) -> Series[bool]:
        return _never_decreases(df, "killed_children_cum")

    @pa.dataframe_check(name="killed_women_cum_never_decreases")
    def women_cum(cls, df: pd.DataFrame) -> Series[bool]:
        return _never_decreases(df, "killed_women_cum")
