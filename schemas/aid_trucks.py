"""aid_trucks: UNRWA's tracking of supplies entering the Gaza Strip, one row per consignment.

Rows are kept as UNRWA publishes them on HDX (dataset state-of-palestine-gaza-aid-truck-data):
one consignment per row, with its own number of trucks. Every upload of the data is a vintage
(``published_on``, the resource's last_modified date on HDX): a refresh replaces the rows of the
vintages it brings and keeps older ones, so a consignment revised later is a new row. The view
``aid_trucks_daily`` (aggregator/sql/aid_trucks_daily.sql) takes the newest vintage of each
consignment and sums trucks per day and crossing.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import date_field, fetch_id_field, field

KEY = ["source", "published_on", "resource_name", "consignment_id"]
AID_TRUCK_SOURCES = ("unrwa_trucks",)
# UNRWA's "Data Period" values (see the dataset's "data disclaimer" sheet).
DATA_PERIOD_HISTORICAL = "Historical Data (before Rafah Operation)"
DATA_PERIOD_CURRENT = "Current Data (after Rafah Operation)"


class AidTrucks(pa.DataFrameModel):
    """Consignments of aid and commercial supplies received into Gaza, as UNRWA publishes them."""

    source: Series[str] = field(
        "Where the row came from: unrwa_trucks.", isin=list(AID_TRUCK_SOURCES)
    )
    consignment_id: Series[str] = field("UNRWA's id of the consignment (column 'ID').")
    received_on: Series[pd.Timestamp] = date_field(
        "Day the consignment was received in Gaza ('Received Date')."
    )
    trucks: Series[pd.Int64Dtype] = field(
        "Number of trucks of the consignment ('No. of Trucks').", ge=0
    )
    crossing: Series[str] = field(
        "Crossing the trucks entered by ('Crossing'), as spelled by UNRWA (e.g. 'Kerem Shalom', "
        "'Rafah Crossing').",
        nullable=True,
    )
    data_source: Series[str] = field(
        "Who reported the consignment ('Data Source': UNRWA, WFP, Private Sector...).",
        nullable=True,
    )
    manifest: Series[str] = field(
        "Manifest the consignment was listed on ('Manifest of').", nullable=True
    )
    cargo_description: Series[str] = field("'Description of Cargo', e.g. Flour.", nullable=True)
    cargo_category: Series[str] = field(
        "'Cargo Category': Food Items, Non-Food Items, Mixed Items, Medical Supplies...",
        nullable=True,
    )
    status: Series[str] = field("'Status' of the consignment, e.g. Received.", nullable=True)
    quantity: Series[float] = field("'Quantity', in `units`.", nullable=True, ge=0)
    units: Series[str] = field("'Units' of quantity: Pallets, MT, Truck, EACH...", nullable=True)
    donor: Series[str] = field("'Donating Country/ Organization'.", nullable=True)
    donation_type: Series[str] = field(
        "'Donation Type': Humanitarian - UN, Humanitarian - INGO, Private Sector...", nullable=True
    )
    recipient: Series[str] = field("'Destination Recipient/ Partner'.", nullable=True)
    data_period: Series[str] = field(
        "UNRWA's 'Data Period' flag as published: 'Historical Data (before Rafah Operation)' "
        "(21 Oct 2023 - 5 May 2024, every truck counted) or 'Current Data (after Rafah Operation)' "
        "(from 6 May 2024: partial data, per UNRWA's disclaimer).",
        nullable=True,
    )
    partial_data: Series[bool] = field(
        "True when the row is partial data by UNRWA's disclaimer: its data_period is 'Current "
        "Data (after Rafah Operation)', or, where the flag is empty, it was received on or after "
        "2024-05-06."
    )
    entry_type: Series[str] = field(
        "'Data Entry Type': New data, Data update or Unknown.", nullable=True
    )
    last_edited: Series[pd.Timestamp] = field(
        "'Last Edited Time' of the row in UNRWA's system (local time, as published).",
        sql_type="TIMESTAMP",
        nullable=True,
    )
    resource_name: Series[str] = field("Name of the HDX resource (file) the row was read from.")
    published_on: Series[pd.Timestamp] = date_field(
        "When UNRWA published this vintage: the last_modified date of the HDX resource."
    )
    fetch_id: Series[str] = fetch_id_field()

    class Config:
        strict = True
        coerce = True
        unique = KEY
