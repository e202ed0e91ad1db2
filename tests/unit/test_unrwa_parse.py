"""UNRWA aid trucks: CSV and XLSX resources to aid_trucks rows, and the aid_trucks_daily view.

Rows are real consignments: three of 2024-03-22 (IDs 36529, 36530 at Kerem Shalom; one at
Rafah Crossing) from the HDX CSV resource, and two of 2024-12-23 (IDs 71495, 71496) from the
XLSX resource's sheet "Suppy Page", with Excel serial dates as UNRWA serves them. The XLSX
workbook is generated here with openpyxl.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from aggregator.errors import ParseError
from aggregator.validate import validate
from tests.hdx_fixture import File, daily, extract, replay_dir

SLUG = "state-of-palestine-gaza-aid-truck-data"
HEADER = [
    "ID",
    "No. of Trucks",
    "Received Date",
    "Data Source",
    "Manifest of",
    "Description of Cargo",
    "Cargo Category",
    "Status",
    "Quantity",
    "Units",
    "Donating Country/ Organization",
    "Donation Type",
    "Crossing",
    "Destination Recipient/ Partner",
    "Data Period",
    "Data Entry Type",
    "Last Edited Time",
]
HISTORICAL = "Historical Data (before Rafah Operation)"
CURRENT = "Current Data (after Rafah Operation)"
CSV = (
    ",".join(HEADER) + ",,,,,,,,\n"
    "36529,1,2024-03-22,UNRWA,Non-Manifest (2024-03-22),Flour,Food Items,Received,18,Pallets,WFP,"
    f"Humanitarian - UN,Kerem Shalom,WFP,{HISTORICAL},Unknown,2024-03-22 16:05:45,,,,,,,,\n"
    "36530,1,2024-03-22,UNRWA,Non-Manifest (2024-03-22),Food Parcels,Food Items,Received,20,"
    f"Pallets,WFP,Humanitarian - UN,Kerem Shalom,WFP,{HISTORICAL},Unknown,2024-03-22 16:05:45,,,,,,,,\n"
    "36700,1,2024-03-22,UNRWA,Non-Manifest (2024-03-22),Flour,Food Items,Received,20,Pallets,"
    f"UNRWA,Humanitarian - UN,Rafah Crossing,UNRWA,{HISTORICAL},Unknown,2024-03-22 16:05:49,,,,,,,,\n"
)
# Sheet rows as stored in the XLSX: numbers as floats, dates as Excel serial numbers.
SHEET = [
    [71495.0, 1.0, 45649.0, "UNRWA", "Non-Manifest (2024-12-23)", "Flour", "Food Items", "Received",
     10.0, "Pallets", "UNRWA", "Humanitarian - UN", "Kerem Shalom", "UNRWA", CURRENT, "New data",
     45650.43145833333],
    [71496.0, 1.0, 45649.0, "UNRWA", "Non-Manifest (2024-12-23)", "Flour", "Food Items", "Received",
     10.0, "Pallets", "UNRWA", "Humanitarian - UN", "Kerem Shalom", "UNRWA", CURRENT, "New data",
     45650.43146990741],
]  # fmt: skip


def xlsx(path: Path, rows: list[list], *, sheet: str = "Suppy Page", trailing: int = 3) -> bytes:
    """A workbook shaped like UNRWA's: a disclaimer sheet, the data sheet, empty columns after."""
    book = openpyxl.Workbook()
    book.active.title = "data disclaimer"
    book.active.append(["UNRWA Data Disclaimer"])
    data = book.create_sheet(sheet)
    data.append([*HEADER, *([None] * trailing)])
    for row in rows:
        data.append([*row, *([None] * trailing)])
    data.append([None] * (len(HEADER) + trailing))  # an empty row, as sheets often end
    book.save(path)
    return path.read_bytes()


@pytest.fixture
def both(tmp_path):
    files = [
        File("commodities-received.csv", "CSV", CSV.encode(), "2025-01-20T00:00:00"),
        File(
            "commodities_received_2024-12-24.xlsx",
            "XLSX",
            xlsx(tmp_path / "w.xlsx", SHEET),
            "2024-12-24T10:30:00",
        ),
    ]
    return extract(replay_dir(tmp_path / "r", SLUG, files), "unrwa_trucks")["aid_trucks"]


def test_csv_rows_are_consignments_with_their_flag(both):
    """Each CSV row is one consignment; trailing empty columns are ignored; the flag is kept."""
    rows = both[both["resource_name"] == "commodities-received.csv"].set_index("consignment_id")
    assert list(rows.index) == ["36529", "36530", "36700"]
    first = rows.loc["36529"]
    assert (first["received_on"], first["trucks"], first["crossing"]) == (
        date(2024, 3, 22),
        1,
        "Kerem Shalom",
    )
    assert (first["cargo_description"], first["quantity"], first["units"]) == (
        "Flour",
        18.0,
        "Pallets",
    )
    assert first["data_period"] == HISTORICAL and not first["partial_data"]
    assert first["last_edited"] == datetime(2024, 3, 22, 16, 5, 45)
    assert first["published_on"] == date(2025, 1, 20)


def test_xlsx_serial_dates_and_float_ids(both):
    """XLSX rows: Excel serial dates become days and times, float ids and truck counts integers."""
    rows = both[both["resource_name"].str.endswith(".xlsx")].set_index("consignment_id")
    assert list(rows.index) == ["71495", "71496"]  # the trailing empty row is skipped
    row = rows.loc["71495"]
    assert row["received_on"] == date(2024, 12, 23)
    assert row["last_edited"] == datetime(2024, 12, 24, 10, 21, 18)
    assert row["trucks"] == 1 and row["quantity"] == 10.0
    assert row["data_period"] == CURRENT and bool(row["partial_data"])
    assert row["published_on"] == date(2024, 12, 24)


def test_rows_pass_the_schema(both):
    """Both kinds of resource validate against aid_trucks without errors."""
    checked = validate("aid_trucks", both, run_id="t", source="unrwa_trucks")
    assert checked.errors == 0, checked.rejects.head()
    assert len(checked.data) == 5


def test_xlsx_cells_typed_as_dates_are_read_too(tmp_path):
    """A sheet whose cells are real date-times (not serial numbers) gives the same day."""
    row = [*SHEET[0]]
    row[2], row[16] = datetime(2024, 12, 23), datetime(2024, 12, 24, 10, 21, 18)
    files = [File("commodities.xlsx", "XLSX", xlsx(tmp_path / "w.xlsx", [row]))]
    out = extract(replay_dir(tmp_path / "r", SLUG, files), "unrwa_trucks")["aid_trucks"]
    assert out["received_on"].tolist() == [date(2024, 12, 23)]
    assert out["last_edited"].tolist() == [datetime(2024, 12, 24, 10, 21, 18)]


def test_empty_data_period_after_rafah_operation_counts_as_partial(tmp_path):
    """Without a flag, a row from 2024-05-06 on is partial by UNRWA's disclaimer; before, not."""
    csv = (
        ",".join(HEADER) + "\n"
        "1,1,2024-05-05,UNRWA,,,,,,,,,Kerem Shalom,,,,\n"
        "2,1,2024-05-06,UNRWA,,,,,,,,,Kerem Shalom,,,,\n"
    )
    files = [File("commodities.csv", "CSV", csv.encode())]
    out = extract(replay_dir(tmp_path / "r", SLUG, files), "unrwa_trucks")["aid_trucks"]
    assert out["partial_data"].tolist() == [False, True]
    assert out["data_period"].isna().all()


def test_missing_sheet_is_named(tmp_path):
    """An XLSX without the 'Suppy Page' sheet fails naming the sheets it has."""
    files = [File("commodities.xlsx", "XLSX", xlsx(tmp_path / "w.xlsx", SHEET, sheet="Other"))]
    with pytest.raises(
        ParseError, match=r"no sheet 'Suppy Page' \(sheets: \['data disclaimer', 'Other'\]\)"
    ):
        extract(replay_dir(tmp_path / "r", SLUG, files), "unrwa_trucks")


@pytest.mark.parametrize(
    "cells, detail",
    [
        ("36529,one,2024-03-22", "column 'No. of Trucks': not a number: 'one'"),
        ("36529,1,22/03/2024", "column 'Received Date': not a date"),
        (",1,2024-03-22", "column 'ID': empty"),
    ],
)
def test_bad_cells_name_resource_row_and_column(tmp_path, cells, detail):
    """A malformed cell is a ParseError naming the resource, the row and the column."""
    csv = ",".join(HEADER) + "\n" + cells + ",UNRWA,,,,,,,,,Kerem Shalom,,,,\n"
    files = [File("commodities.csv", "CSV", csv.encode())]
    with pytest.raises(ParseError) as caught:
        extract(replay_dir(tmp_path / "r", SLUG, files), "unrwa_trucks")
    assert "commodities.csv" in str(caught.value) and "row 2" in str(caught.value)
    assert detail in str(caught.value)


def test_missing_column_is_named(tmp_path):
    """A file without the Crossing column fails naming it."""
    files = [
        File(
            "commodities.csv",
            "CSV",
            b"ID,No. of Trucks,Received Date,Data Period\n1,1,2024-03-22,x\n",
        )
    ]
    with pytest.raises(ParseError, match=r"missing column\(s\) \['Crossing'\]"):
        extract(replay_dir(tmp_path / "r", SLUG, files), "unrwa_trucks")


def test_daily_view_sums_trucks_per_day_and_crossing(both):
    """The view sums No. of Trucks per day and crossing, with the partial flag and vintage."""
    assert daily(both) == [
        ("2024-03-22", "Kerem Shalom", 2, 2, False, "2025-01-20"),
        ("2024-03-22", "Rafah Crossing", 1, 1, False, "2025-01-20"),
        ("2024-12-23", "Kerem Shalom", 2, 2, True, "2024-12-24"),
    ]


def test_daily_view_counts_each_consignment_once_in_its_newest_vintage(both):
    """A consignment in two vintages counts once, with the figures of the newer upload."""
    older = both[both["consignment_id"] == "36529"].assign(
        published_on=date(2024, 3, 23), trucks=5, crossing="Rafah Crossing"
    )
    rows = daily(pd.concat([both, older], ignore_index=True))
    assert rows[0] == ("2024-03-22", "Kerem Shalom", 2, 2, False, "2025-01-20")
    assert rows[1] == ("2024-03-22", "Rafah Crossing", 1, 1, False, "2025-01-20")
