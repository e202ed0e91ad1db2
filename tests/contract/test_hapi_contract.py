"""Contract: the HAPI parser reads OCHA's own HAPI-format outputs (../shared/recorded) in full.

The three files are what OCHA's pipelines load into HDX HAPI: food security (OCHA-DAP
hdx-scraper-ipc), funding (hdx-scraper-fts) and humanitarian needs 2024 (hdx-scraper-hno).
The first two start with a UTF-8 BOM, the third does not; all carry warning and error columns.
Row counts and figures below were read from the files themselves. The JSON path is checked
against the CSV path by serving the same rows as HAPI's JSON would carry them.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pandas as pd
import pytest

from aggregator.connectors import hapi
from aggregator.validate import validate

pytestmark = pytest.mark.contract

FILES = {
    "hapi_food_security": "ipc-hdx/hdx_hapi_food_security_global.csv",
    "hapi_funding": "fts/hdx_hapi_funding_global.csv",
    "humanitarian_needs": "hno/hdx_hapi_humanitarian_needs_global_2024.csv",
}
# (rows in the file, rows with a non-empty error, rows with a warning), as measured.
COUNTS = {
    "hapi_food_security": (11471, 4291, 0),
    "hapi_funding": (8, 0, 0),
    "humanitarian_needs": (1942, 18, 9),
}


def _body(recorded: Path, table: str) -> bytes:
    return (recorded / FILES[table]).read_bytes()


def _parse_csv(recorded: Path, table: str) -> pd.DataFrame:
    return hapi.parse(
        _body(recorded, table), table, output_format="csv", where=FILES[table], fetch_id="t/hapi/1"
    )


def _one(df: pd.DataFrame, **where) -> pd.Series:
    mask = pd.Series(True, index=df.index)
    for column, value in where.items():
        mask &= df[column] == value
    rows = df[mask]
    assert len(rows) == 1, f"{len(rows)} rows match {where}"
    return rows.iloc[0]


@pytest.mark.parametrize("table", list(FILES))
def test_every_served_row_parses_and_validates(recorded, table):
    """All rows without an error are parsed, none with one, and the table validates clean."""
    total, errors, warnings = COUNTS[table]
    body = _body(recorded, table)
    assert body.startswith(b"\xef\xbb\xbf") == (table != "humanitarian_needs")  # the BOM
    df = _parse_csv(recorded, table)
    assert len(df) == total - errors
    assert int(df["warning"].notna().sum()) == warnings
    checked = validate(table, df, run_id="t", source="hapi")
    assert checked.errors == 0, checked.rejects.head(10).to_dict("records")
    assert checked.data is not None and len(checked.data) == total - errors


def test_food_security_figures(recorded):
    """AFG national April 2023 and an ETH admin2 row carry the figures OCHA's file gives."""
    df = _parse_csv(recorded, "hapi_food_security")
    assert df["location_code"].value_counts().to_dict() == {"AFG": 4864, "ETH": 2316}
    assert df["admin_level"].value_counts().to_dict() == {1: 5053, 2: 1903, 0: 224}
    national = dict(
        location_code="AFG",
        admin_level=0,
        ipc_type="current",
        reference_period_start=pd.Timestamp("2023-04-01").date(),
    )
    everyone = _one(df, **national, ipc_phase="all")
    assert (everyone["population_in_phase"], everyone["population_fraction_in_phase"]) == (
        43100598,
        1.0,
    )
    severe = _one(df, **national, ipc_phase="3+")
    assert (severe["population_in_phase"], severe["population_fraction_in_phase"]) == (
        17213584,
        0.4,
    )
    assert severe["reference_period_end"] == pd.Timestamp("2023-04-30").date()
    assert severe["resource_hdx_id"] == "913bd6ac-cdbc-4875-9b74-4ee1eaba000a"
    assert severe["dataset_hdx_id"] == "7a7e7428-b8d7-4d2e-91d3-19100500e016"
    assert bool(severe["has_hrp"]) is True and bool(severe["in_gho"]) is True
    assert severe["vintage"] == "AFG|913bd6ac-cdbc-4875-9b74-4ee1eaba000a|2023-04-01"
    # Rows OCHA marks with an error ("Ignoring livelihood pattern", duplicates) are not served.
    livelihood = df["provider_admin2_name"].fillna("").str.contains("Livelihood Zone")
    assert not livelihood.any()


def test_funding_figures(recorded):
    """oPt 2020: HPSE20 requirements, funding and percentage; funding outside any appeal."""
    df = _parse_csv(recorded, "hapi_funding")
    assert len(df) == 8
    hpse = _one(df, location_code="PSE", appeal_code="HPSE20")
    assert (hpse["requirements_usd"], hpse["funding_usd"], hpse["funding_pct"]) == (
        420381684,
        295077912,
        70,
    )
    assert hpse["appeal_type"] == "Humanitarian response plan"
    assert (bool(hpse["has_hrp"]), bool(hpse["in_gho"])) == (False, True)
    outside = _one(df, location_code="PSE", appeal_code="Not specified")
    assert outside["funding_usd"] == 86430267
    assert pd.isna(outside["requirements_usd"]) and pd.isna(outside["funding_pct"])
    assert _one(df, location_code="AFG", appeal_code="HAFG20")["funding_usd"] == 564467765


def test_humanitarian_needs_figures(recorded):
    """Afghanistan 2024 intersectoral PiN, and a warning row kept with its warning."""
    df = _parse_csv(recorded, "humanitarian_needs")
    pin = _one(
        df, location_code="AFG", admin_level=0, sector_code="Intersectoral", population_status="INN"
    )
    assert pin["population"] == 23666389
    assert pd.isna(pin["category"])
    assert pin["reference_period_start"] == pd.Timestamp("2024-01-05").date()
    rounded = df[df["warning"] == "Rounded value"]
    assert len(rounded) == 9 and set(rounded["location_code"]) == {"SDN"}
    assert not (df["sector_code"].isna()).any()  # the 18 'No cluster' error rows are left out


def _as_hapi_json(value: str, column: str):
    """A CSV cell as HAPI's JSON carries it: null, number, boolean or datetime string."""
    if value == "":
        return None
    if column in ("has_hrp", "in_gho"):
        return value == "Y"
    if column.startswith("reference_period_"):
        return f"{value}T00:00:00"
    if column in (
        "admin_level",
        "population",
        "population_in_phase",
        "population_fraction_in_phase",
        "requirements_usd",
        "funding_usd",
        "funding_pct",
    ):
        number = float(value)
        return int(number) if number.is_integer() else number
    return value


@pytest.mark.parametrize("table", list(FILES))
def test_json_path_gives_the_same_frame_as_csv(recorded, table):
    """The same rows served as JSON ({"data": [...]}, typed values) parse to the same frame."""
    text = _body(recorded, table).decode("utf-8-sig")
    rows = [
        {k: _as_hapi_json(v, k) for k, v in row.items()}
        for row in csv.DictReader(io.StringIO(text, newline=""))
    ]
    body = json.dumps({"data": rows}).encode()
    from_json = hapi.parse(body, table, output_format="json", where="json", fetch_id="t/hapi/1")
    pd.testing.assert_frame_equal(from_json, _parse_csv(recorded, table))
