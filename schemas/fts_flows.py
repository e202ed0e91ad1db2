"""fts_flows: OCHA FTS funding flows, one row per flow and query (country and year asked).

A current-snapshot table, per query: FTS revises a flow in place (a new ``versionId`` and
``updatedAt``) and its public API serves only the current version, so a refresh of the same
country and year replaces that query's rows (``replace_by = query_key``), keeping each row's
version and updated_at; rows of other queries stay. The vintages worth keeping are the
published totals, which live in ``appeals`` with their read date.

List-valued fields are flattened to text: ids, ISO3 codes, years and keywords are
comma-separated; names are separated by " | " (organisation names contain commas).
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import date_field, fetch_id_field, field

KEY = ["source", "query_key", "flow_id"]
FTS_SOURCES = ["fts"]  # a list: pandera misreads a one-element tuple in isin
FLOW_STATUSES = ("paid", "commitment", "pledge")
BOUNDARIES = ("incoming", "outgoing", "internal")


class FtsFlows(pa.DataFrameModel):
    """OCHA FTS funding flows, one row per flow and query (country and year asked)."""

    source: Series[str] = field("Where the row came from: fts.", isin=FTS_SOURCES)
    query_key: Series[str] = field(
        "The query that brought the row, e.g. 'countryISO3=PSE&year=2020'; a refresh replaces "
        "the rows of the queries it repeats."
    )
    query_iso3: Series[str] = field("Country asked for (ISO3).", nullable=True)
    query_year: Series[pd.Int64Dtype] = field("Year asked for.", nullable=True)
    flow_id: Series[str] = field("FTS flow id.")
    version: Series[pd.Int64Dtype] = field(
        "FTS versionId of the flow (current version).", nullable=True
    )
    amount_usd: Series[float] = field("Amount in US dollars, as FTS counts it.", ge=0)
    original_amount: Series[float] = field(
        "Amount in the original currency, where reported.", nullable=True, ge=0
    )
    original_currency: Series[str] = field("ISO 4217 code of the original currency.", nullable=True)
    exchange_rate: Series[float] = field(
        "Rate used to convert the original amount to USD.", nullable=True
    )
    status: Series[str] = field("paid, commitment or pledge.", isin=FLOW_STATUSES)
    flow_type: Series[str] = field(
        "FTS flow type: Standard, Parked (a parent split into child flows), Carryover, "
        "Pass through.",
        nullable=True,
    )
    contribution_type: Series[str] = field("financial or in-kind.", nullable=True)
    method: Series[str] = field("Traditional aid, Cash transfer programming, ...", nullable=True)
    boundary: Series[str] = field(
        "incoming, outgoing or internal, relative to the query's country and year.", isin=BOUNDARIES
    )
    on_boundary: Series[str] = field(
        "single or shared: a shared flow spans several countries or years and is left out of "
        "FTS's published funding totals.",
        nullable=True,
    )
    new_money: Series[pd.BooleanDtype] = field(
        "FTS newMoney flag.", nullable=True, sql_type="BOOLEAN"
    )
    budget_year: Series[str] = field("Budget year as reported.", nullable=True)
    date: Series[pd.Timestamp] = date_field("Date of the flow (FTS 'date').", nullable=True)
    decision_date: Series[pd.Timestamp] = date_field("Decision date.", nullable=True)
    first_reported_date: Series[pd.Timestamp] = date_field(
        "When the flow was first reported to FTS.", nullable=True
    )
    created_at: Series[pd.Timestamp] = field(
        "When FTS created the record (UTC).", nullable=True, sql_type="TIMESTAMP"
    )
    updated_at: Series[pd.Timestamp] = field(
        "When FTS last updated the record (UTC): the flow's own vintage.",
        nullable=True,
        sql_type="TIMESTAMP",
    )
    parent_flow_id: Series[str] = field("Id of the parent flow, if any.", nullable=True)
    child_flow_ids: Series[str] = field(
        "Ids of the child flows (a parked parent carries them), comma-separated.", nullable=True
    )
    keywords: Series[str] = field("FTS keywords, comma-separated.", nullable=True)
    ref_code: Series[str] = field("Reporting organisation's reference code.", nullable=True)
    description: Series[str] = field("Description as reported.", nullable=True)
    src_organization_id: Series[str] = field(
        "FTS id of the source organisation (the first one when several).", nullable=True
    )
    src_organization: Series[str] = field(
        "Name of the source organisation (the first one when several).", nullable=True
    )
    src_organization_names: Series[str] = field(
        "All source organisation names, ' | '-separated.", nullable=True
    )
    src_organization_types: Series[str] = field(
        "FTS types of the source organisations, ' | '-separated.", nullable=True
    )
    src_location_names: Series[str] = field(
        "Locations on the source side as FTS names them, ' | '-separated.", nullable=True
    )
    src_location_iso3s: Series[str] = field(
        "ISO3 codes of the source locations, comma-separated (locations that are not countries are left out).",
        nullable=True,
    )
    src_plan_id: Series[str] = field(
        "FTS id of the source plan (appeal), the first one when several; join to appeals.plan_id.",
        nullable=True,
    )
    src_plan_names: Series[str] = field(
        "Names of the source plans, ' | '-separated.", nullable=True
    )
    src_cluster_names: Series[str] = field(
        "Plan clusters on the source side, ' | '-separated.", nullable=True
    )
    src_global_cluster_names: Series[str] = field(
        "Global clusters (sectors) on the source side, ' | '-separated.", nullable=True
    )
    src_project_codes: Series[str] = field(
        "Project codes on the source side, comma-separated.", nullable=True
    )
    src_emergency_names: Series[str] = field(
        "Emergencies on the source side, ' | '-separated.", nullable=True
    )
    src_usage_years: Series[str] = field(
        "Usage years on the source side, comma-separated, ascending.", nullable=True
    )
    src_usage_year_start: Series[pd.Int64Dtype] = field(
        "First usage year on the source side.", nullable=True
    )
    src_usage_year_end: Series[pd.Int64Dtype] = field(
        "Last usage year on the source side.", nullable=True
    )
    dest_organization_id: Series[str] = field(
        "FTS id of the destination organisation (the first one when several).", nullable=True
    )
    dest_organization: Series[str] = field(
        "Name of the destination organisation (the first one when several).", nullable=True
    )
    dest_organization_names: Series[str] = field(
        "All destination organisation names, ' | '-separated.", nullable=True
    )
    dest_organization_types: Series[str] = field(
        "FTS types of the destination organisations, ' | '-separated.", nullable=True
    )
    dest_location_names: Series[str] = field(
        "Locations on the destination side as FTS names them, ' | '-separated.", nullable=True
    )
    dest_location_iso3s: Series[str] = field(
        "ISO3 codes of the destination locations, comma-separated (locations that are not countries are left out).",
        nullable=True,
    )
    dest_plan_id: Series[str] = field(
        "FTS id of the destination plan (appeal), the first one when several; join to appeals.plan_id.",
        nullable=True,
    )
    dest_plan_names: Series[str] = field(
        "Names of the destination plans, ' | '-separated.", nullable=True
    )
    dest_cluster_names: Series[str] = field(
        "Plan clusters on the destination side, ' | '-separated.", nullable=True
    )
    dest_global_cluster_names: Series[str] = field(
        "Global clusters (sectors) on the destination side, ' | '-separated.", nullable=True
    )
    dest_project_codes: Series[str] = field(
        "Project codes on the destination side, comma-separated.", nullable=True
    )
    dest_emergency_names: Series[str] = field(
        "Emergencies on the destination side, ' | '-separated.", nullable=True
    )
    dest_usage_years: Series[str] = field(
        "Usage years on the destination side, comma-separated, ascending.", nullable=True
    )
    dest_usage_year_start: Series[pd.Int64Dtype] = field(
        "First usage year on the destination side.", nullable=True
    )
    dest_usage_year_end: Series[pd.Int64Dtype] = field(
        "Last usage year on the destination side.", nullable=True
    )
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True
        unique = KEY
