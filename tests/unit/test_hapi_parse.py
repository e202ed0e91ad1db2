"""HDX HAPI connector: app identifier, JSON and CSV answers parsed into the three tables,
errors that name the row and field, and the request pacing.

Inline rows are in HAPI's shapes: JSON rows as API v2 answers them (``{"data": [...]}``,
datetimes with T00:00:00, admin fields null at national level), CSV rows as OCHA's HAPI
outputs (UTF-8 BOM, Y/N flags, warning and error columns). Figures are real: the Gaza Strip
IPC analysis of June 2024 as HDX publishes it, and OCHA's 2020 FTS figures for HPSE20.
"""

from __future__ import annotations

import base64
import codecs
import json
from datetime import date

import pandas as pd
import pytest

from aggregator.config import load_settings
from aggregator.connectors import hapi
from aggregator.errors import ConfigError, ParseError
from schemas import TABLES

WHERE = "https://hapi.humdata.org/api/v2/x?app_identifier=***"

GAZA_CURRENT_3PLUS = {
    "location_code": "PSE",
    "location_name": "State of Palestine",
    "admin1_code": None,
    "admin1_name": None,
    "admin2_code": None,
    "admin2_name": None,
    "admin_level": 0,
    "resource_hdx_id": "913bd6ac-cdbc-4875-9b74-4ee1eaba000a",
    "ipc_phase": "3+",
    "ipc_type": "current",
    "population_in_phase": 2133884,
    "population_fraction_in_phase": 0.95,
    "reference_period_start": "2024-05-01T00:00:00",
    "reference_period_end": "2024-06-30T00:00:00",
}

FUNDING_CSV = (
    "\ufefflocation_code,has_hrp,in_gho,appeal_code,appeal_name,appeal_type,requirements_usd,"
    "funding_usd,funding_pct,reference_period_start,reference_period_end,dataset_hdx_id,"
    "resource_hdx_id,warning,error\n"
    "PSE,N,Y,HPSE20,occupied Palestinian territory 2020 (part of 2018-2020 HRP),"
    "Humanitarian response plan,420381684,295077912,70,2020-01-01,2020-12-31,1234,5678,,\n"
    "PSE,N,Y,Not specified,Not specified,,,86430267,,2020-01-01,2020-12-31,1234,5678,,\n"
    "PSE,N,Y,XPSE20,Excluded,Other,,1,,2020-01-01,2020-12-31,1234,5678,,Duplicate row excluded\n"
)


def _json(rows) -> bytes:
    return json.dumps({"data": rows}).encode()


def _validate(table: str, df: pd.DataFrame) -> pd.DataFrame:
    return TABLES[table].model.validate(df, lazy=True)


# --- app identifier ------------------------------------------------------------------------


def test_app_identifier_is_base64_of_name_colon_email():
    """Encoding matches the identifier in HAPI's own getting-started example."""
    assert (
        hapi.encode_app_identifier("gettings-started", "simon.johnson@un.org")  # sic
        == "Z2V0dGluZ3Mtc3RhcnRlZDpzaW1vbi5qb2huc29uQHVuLm9yZw=="
    )
    decoded = base64.b64decode(hapi.encode_app_identifier("my-app", "a@b.org")).decode()
    assert decoded == "my-app:a@b.org"


@pytest.mark.parametrize("app, email", [("ab", "a@b.org"), ("my-app", "not-an-email")])
def test_app_identifier_refuses_what_hapi_refuses(app, email):
    """An application name under 4 characters or an email without @ is a usage error."""
    with pytest.raises(ConfigError, match="--hapi-app"):
        hapi.encode_app_identifier(app, email)


# --- JSON ------------------------------------------------------------------------------------


def test_json_page_parses_to_food_security_rows():
    """A v2 JSON row becomes a typed row: dates from datetimes, nulls as empty, provenance kept."""
    df = hapi.parse(
        _json([GAZA_CURRENT_3PLUS]),
        "hapi_food_security",
        output_format="json",
        where=WHERE,
        fetch_id="f1",
    )
    row = df.iloc[0]
    assert list(df.columns) == list(TABLES["hapi_food_security"].model.to_schema().columns)
    assert (row["source"], row["location_code"], row["location_name"]) == (
        "hapi",
        "PSE",
        "State of Palestine",
    )
    assert row["reference_period_start"] == date(2024, 5, 1)
    assert row["reference_period_end"] == date(2024, 6, 30)
    assert (row["ipc_phase"], row["ipc_type"]) == ("3+", "current")
    assert (row["population_in_phase"], row["population_fraction_in_phase"]) == (2133884, 0.95)
    assert row["resource_hdx_id"] == "913bd6ac-cdbc-4875-9b74-4ee1eaba000a"
    assert row["admin1_code"] is None and row["has_hrp"] is None and row["warning"] is None
    assert row["vintage"] == "PSE|913bd6ac-cdbc-4875-9b74-4ee1eaba000a|2024-05-01"
    assert row["fetch_id"] == "f1"
    validated = _validate("hapi_food_security", df)
    assert validated["population_in_phase"].tolist() == [2133884]


def test_json_without_data_list_is_a_parse_error():
    """An answer that is not {"data": [...]} (e.g. an error document) fails naming the URL."""
    with pytest.raises(ParseError, match=r"expected \{\"data\": \[\.\.\.\]\}, got \['detail'\]"):
        hapi.parse(
            b'{"detail": "Not authenticated"}',
            "hapi_funding",
            output_format="json",
            where=WHERE,
            fetch_id="f",
        )
    with pytest.raises(ParseError, match="invalid JSON"):
        hapi.parse(b"<html>", "hapi_funding", output_format="json", where=WHERE, fetch_id="f")


def test_missing_required_field_names_row_and_field():
    """A row without population_in_phase fails with the URL, row number and field name."""
    broken = {k: v for k, v in GAZA_CURRENT_3PLUS.items() if k != "population_in_phase"}
    with pytest.raises(ParseError) as info:
        hapi.parse(
            _json([GAZA_CURRENT_3PLUS, broken]),
            "hapi_food_security",
            output_format="json",
            where=WHERE,
            fetch_id="f",
        )
    assert info.value.where == f"{WHERE} row 1"
    assert "'population_in_phase'" in info.value.detail


@pytest.mark.parametrize(
    "field, value",
    [
        ("population_in_phase", "2.1 million"),
        ("population_in_phase", 2133884.5),
        ("population_fraction_in_phase", True),
        ("reference_period_start", "May 2024"),
        ("admin_level", "national"),
    ],
)
def test_malformed_value_names_row_and_field(field, value):
    """A value of the wrong kind fails naming the row and field, never a bare ValueError."""
    with pytest.raises(ParseError) as info:
        hapi.parse(
            _json([{**GAZA_CURRENT_3PLUS, field: value}]),
            "hapi_food_security",
            output_format="json",
            where=WHERE,
            fetch_id="f",
        )
    assert info.value.where == f"{WHERE} row 0 field {field!r}"


def test_row_that_is_not_an_object_is_a_parse_error():
    """A data list holding something other than objects fails naming the row."""
    with pytest.raises(ParseError, match="row 0"):
        hapi.parse(
            _json([["PSE"]]), "hapi_funding", output_format="json", where=WHERE, fetch_id="f"
        )


# --- CSV -------------------------------------------------------------------------------------


def test_csv_with_bom_parses_flags_empties_and_drops_error_rows():
    """BOM stripped from the first header; Y/N flags; empty cells empty; rows with an error gone."""
    df = hapi.parse(
        FUNDING_CSV.encode(), "hapi_funding", output_format="csv", where=WHERE, fetch_id="f"
    )
    assert "location_code" in df.columns and "error" not in df.columns
    assert df["appeal_code"].tolist() == ["HPSE20", "Not specified"]
    hpse = df.iloc[0]
    assert (hpse["requirements_usd"], hpse["funding_usd"], hpse["funding_pct"]) == (
        420381684.0,
        295077912.0,
        70.0,
    )
    assert (hpse["has_hrp"], hpse["in_gho"]) == (False, True)
    unspecified = df.iloc[1]
    assert pd.isna(unspecified["requirements_usd"]) and pd.isna(unspecified["appeal_type"])
    assert _validate("hapi_funding", df)["funding_usd"].sum() == 295077912 + 86430267


def test_csv_without_bom_parses_the_same():
    """The HNO output has no BOM: the same bytes without it parse to the same frame."""
    with_bom = FUNDING_CSV.encode()
    without = with_bom.removeprefix(codecs.BOM_UTF8)
    assert without != with_bom

    def parsed(body):
        return hapi.parse(body, "hapi_funding", output_format="csv", where=WHERE, fetch_id="f")

    pd.testing.assert_frame_equal(parsed(with_bom), parsed(without))


def test_csv_ragged_row_names_the_line():
    """A CSV line with more cells than the header fails naming its line."""
    body = FUNDING_CSV.replace("Other,,1,", "Other,,1,,extra,", 1).encode()
    with pytest.raises(ParseError, match="line 4"):
        hapi.parse(body, "hapi_funding", output_format="csv", where=WHERE, fetch_id="f")


def test_warning_is_kept_and_needs_rows_validate():
    """A humanitarian-needs row with HAPI's 'Rounded value' warning is kept with its warning."""
    header = (
        "location_code,has_hrp,in_gho,provider_admin1_name,provider_admin2_name,admin1_code,"
        "admin1_name,admin2_code,admin2_name,admin_level,sector_code,sector_name,category,"
        "population_status,population,reference_period_start,reference_period_end,"
        "dataset_hdx_id,resource_hdx_id,warning,error\n"
    )
    body = (
        header + "AFG,Y,Y,,,,,,,0,Intersectoral,Intersectoral,,INN,23666389,2024-01-05,"
        "2024-12-24,1234,5678,,\n"
        "SDN,Y,Y,,Jebel Awlia,SD01,Khartoum,SD01001,Jebel Awlia,2,WSH,Water Sanitation Hygiene,"
        "Adult,TGT,77873,2024-01-05,2024-12-24,1234,5678,Rounded value,\n"
    ).encode()
    df = hapi.parse(body, "humanitarian_needs", output_format="csv", where=WHERE, fetch_id="f")
    assert pd.isna(df["warning"][0]) and df["warning"][1] == "Rounded value"
    assert pd.isna(df["category"][0]) and df["category"][1] == "Adult"
    validated = _validate("humanitarian_needs", df)
    assert validated["population"].tolist() == [23666389, 77873]


def test_vintage_separates_locations_sharing_a_global_resource():
    """Two countries' rows from one global resource and period have different vintages, so a
    one-country refresh cannot replace the other country's rows."""
    rows = [GAZA_CURRENT_3PLUS, {**GAZA_CURRENT_3PLUS, "location_code": "AFG"}]
    df = hapi.parse(
        _json(rows), "hapi_food_security", output_format="json", where=WHERE, fetch_id="f"
    )
    assert df["vintage"].nunique() == 2


def test_schema_rejects_unknown_phase_and_fraction_above_one():
    """Blocking checks: an IPC phase outside 1-5/3+/all and a fraction above 1 are rejected."""
    rows = [
        {**GAZA_CURRENT_3PLUS, "ipc_phase": "6"},
        {**GAZA_CURRENT_3PLUS, "ipc_phase": "5", "population_fraction_in_phase": 95},
    ]
    df = hapi.parse(
        _json(rows), "hapi_food_security", output_format="json", where=WHERE, fetch_id="f"
    )
    import pandera.pandas as pa

    with pytest.raises(pa.errors.SchemaErrors) as info:
        _validate("hapi_food_security", df)
    failed = set(info.value.failure_cases["column"])
    assert failed == {"ipc_phase", "population_fraction_in_phase"}


# --- pacing ------------------------------------------------------------------------------------


def test_pacer_spaces_requests_by_the_pause():
    """Requests are spaced `pause` seconds apart, counting the time already spent."""
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    pacer = hapi.Pacer(1.0, clock=lambda: now[0], sleep=sleep)
    pacer.wait()  # the first request goes at once
    now[0] += 0.25  # parsing took a quarter second
    pacer.wait()
    now[0] += 2.0  # a slow answer: no further wait needed
    pacer.wait()
    assert slept == [0.75]


@pytest.mark.parametrize(
    "name, value", [("AGGREGATOR_HAPI_PAUSE", "fast"), ("AGGREGATOR_HAPI_PAGE_SIZE", "20000")]
)
def test_bad_pacing_settings_are_config_errors(monkeypatch, name, value):
    """A pause that is not a number, or a page size above HAPI's 10,000, is refused up front."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
