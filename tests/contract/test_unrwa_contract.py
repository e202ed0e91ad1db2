"""Contract: UNRWA truck data as recorded (../shared/recorded/unrwa) through the real connector.

* commodities-received-13.csv: every consignment received on 2024-03-22, from the HDX CSV
  resource (8 empty trailing columns as served). UNRWA's figure for that day: 177 trucks,
  Kerem Shalom 122, Rafah 55.
* commodities_received_2024__Suppy_Page.csv: the XLSX resource's sheet "Suppy Page", 2024-09-11
  to 2024-12-23, Excel serial dates. Written back into an XLSX workbook here (numbers as
  numbers) so the XLSX path reads real rows; read as a CSV too, the rows must be the same.

Daily sums go through the project's SQL view (aggregator/sql/10_aid_trucks_daily.sql).
"""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from tests.hdx_fixture import File, daily, extract, replay_dir

pytestmark = pytest.mark.contract

SLUG = "state-of-palestine-gaza-aid-truck-data"


def _xlsx_from_sheet_csv(source: Path, target: Path) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Suppy Page")
    with source.open(newline="") as handle:
        reader = csv.reader(handle)
        sheet.append(next(reader))
        for row in reader:
            sheet.append([_cell(v) for v in row])
    book.save(target)
    return target.read_bytes()


def _cell(text: str):
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def test_march_22_gives_177_trucks_by_crossing(recorded, tmp_path):
    """2024-03-22: 177 trucks, Kerem Shalom 122 and Rafah Crossing 55, none flagged partial."""
    body = (recorded / "unrwa" / "commodities-received-13.csv").read_bytes()
    files = [File("commodities-received-13.csv", "CSV", body, "2025-01-20T00:00:00")]
    rows = extract(replay_dir(tmp_path / "r", SLUG, files), "unrwa_trucks")["aid_trucks"]
    assert len(rows) == 177
    assert set(rows["data_period"]) == {"Historical Data (before Rafah Operation)"}
    assert daily(rows) == [
        ("2024-03-22", "Kerem Shalom", 122, 122, False, "2025-01-20"),
        ("2024-03-22", "Rafah Crossing", 55, 55, False, "2025-01-20"),
    ]


@pytest.fixture(scope="module")
def supply_page(tmp_path_factory):
    from tests.conftest import RECORDED

    if not RECORDED.is_dir():
        pytest.skip(f"recorded data not available at {RECORDED}")
    source = RECORDED / "unrwa" / "commodities_received_2024__Suppy_Page.csv"
    work = tmp_path_factory.mktemp("unrwa")
    files = [
        File(
            "commodities_received_2024.xlsx",
            "XLSX",
            _xlsx_from_sheet_csv(source, work / "w.xlsx"),
            "2024-12-24T10:30:00",
        )
    ]
    xlsx_rows = extract(replay_dir(work / "x", SLUG, files), "unrwa_trucks")["aid_trucks"]
    files = [
        File("commodities_received_2024.csv", "CSV", source.read_bytes(), "2024-12-24T10:30:00")
    ]
    csv_rows = extract(replay_dir(work / "c", SLUG, files), "unrwa_trucks")["aid_trucks"]
    return xlsx_rows, csv_rows


def test_supply_page_xlsx_rows_and_flags(supply_page):
    """The XLSX sheet gives 5,882 consignments of one truck each, all partial after Rafah."""
    rows, _ = supply_page
    assert len(rows) == 5882 and rows["trucks"].sum() == 5882
    assert (rows["received_on"].min().isoformat(), rows["received_on"].max().isoformat()) == (
        "2024-09-11",
        "2024-12-23",
    )
    assert rows["partial_data"].all()
    assert rows["data_period"].value_counts().to_dict() == {
        "Current Data (after Rafah Operation)": 5881
    }
    # Consignment 65854 is published with only its id, date and reporter: no flag, no crossing.
    blank = rows[rows["data_period"].isna()]
    assert blank["consignment_id"].tolist() == ["65854"] and blank["crossing"].isna().all()
    assert rows.groupby("crossing")["trucks"].sum().to_dict() == {
        "Erez": 495,
        "Gate 96": 944,
        "Kerem Shalom": 2818,
        "Kissufim": 67,
        "Western Erez": 1557,
    }


def test_supply_page_daily_sums(supply_page):
    """Daily view on the XLSX rows: 2024-12-10 Kerem Shalom 87 trucks; 2024-12-23 Kerem Shalom 20."""
    rows, _ = supply_page
    by_day = {(d, c): t for d, c, t, *_ in daily(rows)}
    assert by_day[("2024-12-10", "Kerem Shalom")] == 87
    assert by_day[("2024-12-23", "Kerem Shalom")] == 20
    assert sum(by_day.values()) == 5882


def test_supply_page_csv_and_xlsx_give_the_same_rows(supply_page):
    """The same sheet as CSV (serial dates as text) and as XLSX gives identical rows."""
    xlsx_rows, csv_rows = supply_page
    columns = [c for c in xlsx_rows.columns if c not in ("resource_name", "fetch_id")]
    pd.testing.assert_frame_equal(xlsx_rows[columns], csv_rows[columns])
