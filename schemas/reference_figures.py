"""reference_figures: official numbers that exist only in reports, curated in data/reference/*.csv.

Each row is one figure as a report states it, with the document, its URL and the page or the
words quoted, so every number can be checked against its source. ``file`` and ``line`` (the
CSV line, header = line 1) are part of the key so that every validation failure names them;
the figure itself is identified by (metric, geo, area, reference_date, published_on,
publisher), which must be unique across all files.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas import metrics
from schemas.fields import date_field, fetch_id_field, field, iso3_field
from schemas.metrics import UNITS

FIGURE_KEY = ["metric", "geo", "area", "reference_date", "published_on", "publisher"]
KEY = [*FIGURE_KEY, "file", "line"]
PERIOD_KINDS = ("observed", "current", "projection")
CHECK_COLUMNS = {
    "unit_is_the_metric_unit": ("metric", "unit"),
    "share_between_0_and_1": ("unit", "value"),
    "observed_not_published_before_reference_date": ("reference_date", "published_on"),
}


class ReferenceFigures(pa.DataFrameModel):
    """Official figures quoted from reports (curated CSVs in data/reference/), one row per figure."""

    metric: Series[str] = field("Metric id from the metric registry (schemas/metrics.py).")
    geo: Series[str] = iso3_field("ISO 3166-1 alpha-3 code of the country (PSE for Palestine).")
    area: Series[str] = field(
        "Place within the country the figure is about (e.g. Rafah); empty for the whole country.",
        nullable=True,
    )
    value: Series[float] = field(
        "The figure as published, in `unit` (shares as fractions 0-1).", ge=0
    )
    unit: Series[str] = field("Unit of the value.", isin=UNITS)
    reference_date: Series[pd.Timestamp] = date_field(
        "The day the figure is about ('as of'); for a period, its last day."
    )
    published_on: Series[pd.Timestamp] = date_field(
        "When the publisher released the document (the vintage)."
    )
    publisher: Series[str] = field("Organisation that published the figure, e.g. UNRWA.")
    document_title: Series[str] = field("Title of the document, with its number if it has one.")
    url: Series[str] = field("Address of the document.", str_matches=r"^https?://\S+$")
    page_or_quote: Series[str] = field(
        "Where in the document: a page or section, or the words quoted."
    )
    period_kind: Series[str] = field(
        "observed (default), current or projection, as in the `figures` view.", isin=PERIOD_KINDS
    )
    notes: Series[str] = field("Curator's notes: caveats, how the row was checked.", nullable=True)
    file: Series[str] = field("CSV file in the reference directory the row comes from.")
    line: Series[pd.Int64Dtype] = field(
        "Line of the row in that file (the header is line 1).", ge=2
    )
    source: Series[str] = field("Where the row came from: reference.", isin=["reference"])
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True
        unique = FIGURE_KEY

    @pa.check("metric", name="known_metric")
    def known_metric(cls, metric: Series[str]) -> Series[bool]:
        return metrics.known(metric)

    @pa.dataframe_check(name="unit_is_the_metric_unit")
    def unit_matches(cls, df: pd.DataFrame) -> Series[bool]:
        return metrics.unit_is_the_metric_unit(df)

    @pa.dataframe_check(name="share_between_0_and_1")
    def share_range(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["unit"] != "share") | (df["value"] <= 1)

    @pa.dataframe_check(name="observed_not_published_before_reference_date")
    def published_after(cls, df: pd.DataFrame) -> Series[bool]:
        return (df["period_kind"] != "observed") | (df["reference_date"] <= df["published_on"])
