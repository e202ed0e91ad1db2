"""ipc_analyses: one row per IPC acute food insecurity analysis."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import IPC_SOURCES, date_field, fetch_id_field, field, iso2_field, iso3_field


class IpcAnalyses(pa.DataFrameModel):
    """IPC acute food insecurity analyses (condition A), one row per analysis."""

    source: Series[str] = field("Where the row came from: ipc_api or ipc_hdx.", isin=IPC_SOURCES)
    analysis_id: Series[str] = field(
        "IPC analysis id (IPC's own; one analysis is one vintage).", unique=True
    )
    country_iso2: Series[str] = iso2_field()
    country_iso3: Series[str] = iso3_field()
    title: Series[str] = field("Title as published by IPC.")
    condition: Series[str] = field("IPC condition: A (acute food insecurity).", isin=["A"])
    analysis_date: Series[pd.Timestamp] = date_field(
        "Month of the analysis (first day of the month IPC gives, e.g. 'Mar 2024')."
    )
    created: Series[pd.Timestamp] = date_field("When IPC created the record.", nullable=True)
    modified: Series[pd.Timestamp] = date_field("When IPC last modified the record.", nullable=True)
    link: Series[str] = field("Page of the analysis on ipcinfo.org.", nullable=True)
    country_population: Series[pd.Int64Dtype] = field(
        "Total population of the country (IPC 'population'), not the analysed population.",
        nullable=True,
        ge=0,
    )
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True
