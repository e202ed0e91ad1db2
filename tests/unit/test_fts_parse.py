"""FTS connector: flows and plan progress on small real-shaped payloads (api.hpc.tools).

Flow objects are trimmed from real oPt flows of 2020 (as recorded by OCHA-DAP/hdx-scraper-fts):
194900 (Germany -> UNRWA, paid) and 213090 (Japan -> UN Women, paid, shared). Served to the
real connector through a replay directory and the project's HTTP client.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from aggregator.config import HttpSettings, SourceSettings, load_settings
from aggregator.connectors import fts
from aggregator.errors import ConfigError, ParseError
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from aggregator.replay import recording_path
from aggregator.validate import validate
from tests.conftest import frames

BASE = "https://api.hpc.tools"

# fmt: off
UNRWA = {
    "id": "194900", "amountUSD": 28068393, "budgetYear": "2020", "childFlowIds": None,
    "contributionType": "financial", "createdAt": "2020-02-14T10:03:11.000Z",
    "date": "2020-02-13T00:00:00Z", "decisionDate": "2019-12-18T00:00:00Z",
    "description": "UNRWA humanitarian response", "exchangeRate": 0.9, "firstReportedDate": "2020-02-13T00:00:00Z",
    "flowType": "Standard", "keywords": [], "newMoney": True, "originalAmount": 25261554, "originalCurrency": "EUR",
    "method": "Traditional aid", "parentFlowId": None, "status": "paid", "updatedAt": "2020-07-09T12:01:56.043Z",
    "versionId": 3,
    "sourceObjects": [
        {"type": "Organization", "id": "4306", "name": "Germany, Government of", "behavior": "single",
         "organizationTypes": ["Government"]},
        {"type": "Location", "id": "83", "name": "Germany", "behavior": "single"},
        {"type": "UsageYear", "id": "41", "name": "2020", "behavior": "single"},
    ],
    "destinationObjects": [
        {"type": "Organization", "id": "3300",
         "name": "United Nations Relief and Works Agency for Palestine Refugees in the Near East",
         "behavior": "single", "organizationTypes": ["UN agency"]},
        {"type": "Plan", "id": "832", "name": "occupied Palestinian territory 2020 (part of 2018-2020 HRP)",
         "behavior": "single"},
        {"type": "Location", "id": "171", "name": "occupied Palestinian territory", "behavior": "single"},
        {"type": "GlobalCluster", "id": "26479", "name": "Multi-sector", "behavior": "single"},
        {"type": "UsageYear", "id": "41", "name": "2020", "behavior": "single"},
    ],
    "boundary": "incoming", "onBoundary": "single", "reportDetails": [], "refCode": None,
}
UN_WOMEN_SHARED = {
    **copy.deepcopy(UNRWA), "id": "213090", "amountUSD": 3701327, "onBoundary": "shared",
    "childFlowIds": [214001, 214002], "keywords": ["Multiyear", "COVID-19"],
    "originalAmount": None, "originalCurrency": None,
}
PLEDGE = {**copy.deepcopy(UNRWA), "id": "900001", "status": "pledge", "amountUSD": 5000000}
INTERNAL = {**copy.deepcopy(UNRWA), "id": "207006", "boundary": "internal", "amountUSD": 1000000}
HPSE20 = {
    "id": 832, "name": "occupied Palestinian territory 2020 (part of 2018-2020 HRP)", "code": "HPSE20",
    "startDate": "2020-01-01", "endDate": "2020-12-31", "planType": {"name": "Humanitarian response plan"},
    "countries": [{"id": 171, "iso3": "PSE", "name": "occupied Palestinian territory"}],
    "usageYears": [{"id": 41, "year": "2020"}],
    "requirements": {"origRequirements": 347976074, "revisedRequirements": 420381684},
    "funding": {"totalFunding": 295077912, "progress": 70.19},
}
FPSE24 = {
    "id": 5851, "name": "Escalation of Hostilities in the OPT Flash Appeal 2024", "code": "FPSE24",
    "startDate": "2024-01-01", "endDate": "2024-12-31", "planType": {"name": "Flash appeal"},
    "countries": [{"id": 171, "iso3": "PSE", "name": "occupied Palestinian territory"}],
    "usageYears": [{"year": "2024"}],
    "requirements": {"origRequirements": 600000000, "revisedRequirements": 3422855934},
}
# fmt: on


def _page(flows: list[dict[str, Any]], next_link: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"language": "en", "count": len(flows)}
    if next_link:
        meta["nextLink"] = next_link
    return {"status": "ok", "data": {"flows": flows}, "meta": meta}


def _write(root: Path, url: str, body: Any) -> None:
    path = recording_path(root, httpx.URL(url))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body if isinstance(body, str) else json.dumps(body))


def _run(tmp_path: Path, answers: dict[str, Any], **kwargs: Any) -> dict[str, pd.DataFrame]:
    root = tmp_path / "replay"
    for url, body in answers.items():
        _write(root, url, body)
    settings = HttpSettings()
    with make_client(settings, replay=root) as client:
        fetcher = Fetcher(
            client, source="fts", run_id="t", raw=RawStore(tmp_path / "raw"), settings=settings
        )
        kwargs.setdefault("years", SourceSettings.fts_years)
        kwargs.setdefault("flow_years", SourceSettings.fts_flow_years)
        tables = fts.extract(
            fetcher, BASE, kwargs.pop("countries", ["PS"]), stage=tmp_path / "stage", **kwargs
        )
        return frames(tables)


FLOW_URL = f"{BASE}/v1/public/fts/flow?countryISO3=PSE&year=2020"
PROGRESS_URL = f"{BASE}/v2/fts/flow/plan/overview/progress/"


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, pd.DataFrame]:
    answers = {
        FLOW_URL: _page([UNRWA, UN_WOMEN_SHARED], f"{FLOW_URL}&page=2"),
        f"{FLOW_URL}&page=2": _page([PLEDGE, INTERNAL]),
        PROGRESS_URL + "2020": {"data": {"plans": [HPSE20]}, "status": "ok"},
        PROGRESS_URL + "2024": {"data": {"plans": [FPSE24]}, "status": "ok"},
    }
    return _run(tmp_path, answers, years=[2020, 2024], flow_years=[2020])


def test_flows_follow_next_link_and_keep_the_query(tables):
    """Both pages are read; each row names the country and year that was asked for."""
    flows = tables["fts_flows"]
    assert sorted(flows["flow_id"]) == ["194900", "207006", "213090", "900001"]
    assert set(flows["query_key"]) == {"countryISO3=PSE&year=2020"}
    assert set(flows["query_iso3"]) == {"PSE"} and set(flows["query_year"]) == {2020}


def test_flow_sides_are_flattened(tables):
    """Organisation, location ISO3, plan, cluster and usage years become flat columns."""
    row = tables["fts_flows"].set_index("flow_id").loc["194900"]
    assert row["src_organization"] == "Germany, Government of"
    assert row["src_location_iso3s"] == "DEU"
    assert row["dest_location_iso3s"] == "PSE"
    assert row["dest_plan_id"] == "832"
    assert row["dest_global_cluster_names"] == "Multi-sector"
    assert (row["dest_usage_year_start"], row["dest_usage_year_end"]) == (2020, 2020)
    assert pd.Timestamp(row["date"]).date() == date(2020, 2, 13)
    assert str(row["updated_at"]) == "2020-07-09 12:01:56.043000"


def test_list_fields_become_text_lists(tables):
    """childFlowIds and keywords are comma-separated text; empty lists become empty."""
    flows = tables["fts_flows"].set_index("flow_id")
    assert flows.loc["213090", "child_flow_ids"] == "214001,214002"
    assert flows.loc["213090", "keywords"] == "Multiyear,COVID-19"
    assert pd.isna(flows.loc["194900", "child_flow_ids"]) and pd.isna(
        flows.loc["194900", "keywords"]
    )


def test_funding_total_counts_incoming_paid_and_committed_unshared(tables):
    """Shared, pledged and internal flows are left out of the FTS funding total."""
    assert fts.funding_total(tables["fts_flows"]) == 28_068_393


def test_flows_and_appeals_pass_their_schemas(tables):
    """The connector's output validates against fts_flows and appeals without a failure."""
    for name in ("fts_flows", "appeals"):
        assert validate(name, tables[name], run_id="t", source="fts").errors == 0


def test_appeals_carry_requirements_funding_and_coverage(tables):
    """Progress answers give original/revised requirements, funding and coverage as a share."""
    appeals = tables["appeals"].set_index("plan_code")
    opt = appeals.loc["HPSE20"]
    assert (opt["plan_id"], opt["country_iso3"]) == ("832", "PSE")
    assert opt["revised_requirements_usd"] == 420_381_684
    assert opt["funding_usd"] == 295_077_912
    assert opt["coverage_share"] == pytest.approx(0.7019)
    assert opt["vintage_key"] == f"832@{opt['published_on'].isoformat()}"


def test_plan_without_funding_keeps_requirements(tables):
    """A plan with no funding object keeps its requirements; funding and coverage stay empty."""
    flash = tables["appeals"].set_index("plan_code").loc["FPSE24"]
    assert flash["original_requirements_usd"] == 600_000_000
    assert flash["revised_requirements_usd"] == 3_422_855_934
    assert pd.isna(flash["funding_usd"]) and pd.isna(flash["coverage_share"])


def test_appeals_are_filtered_to_the_countries_asked(tmp_path):
    """With --country, plans that do not cover that country are left out."""
    afg = {**HPSE20, "id": 929, "code": "HAFG20", "countries": [{"id": 1, "iso3": "AFG"}]}
    answers = {
        f"{BASE}/v1/public/fts/flow?countryISO3=AFG&year=2020": _page([]),
        PROGRESS_URL + "2020": {"data": {"plans": [HPSE20, afg]}, "status": "ok"},
    }
    tables = _run(tmp_path, answers, countries=["AF"], years=[2020], flow_years=[2020])
    assert list(tables["appeals"]["plan_code"]) == ["HAFG20"]
    assert tables["fts_flows"].empty


def test_relative_next_link_is_joined_to_the_page_url(tmp_path):
    """A nextLink without scheme and host is resolved against the page it came from."""
    answers = {
        FLOW_URL: _page([UNRWA], "/v1/public/fts/flow?countryISO3=PSE&year=2020&page=2"),
        f"{FLOW_URL}&page=2": _page([INTERNAL]),
        PROGRESS_URL + "2020": {"data": {"plans": []}, "status": "ok"},
    }
    tables = _run(tmp_path, answers, years=[2020], flow_years=[2020])
    assert list(tables["fts_flows"]["flow_id"]) == ["194900", "207006"]


def test_next_link_loop_is_a_parse_error(tmp_path):
    """A nextLink pointing back to a page already read stops with a ParseError naming it."""
    answers = {
        FLOW_URL: _page([UNRWA], f"{FLOW_URL}&page=2"),
        f"{FLOW_URL}&page=2": _page([INTERNAL], FLOW_URL),
    }
    with pytest.raises(ParseError, match=r"meta\.nextLink.*nextLink loop") as err:
        _run(tmp_path, answers, years=[], flow_years=[2020])
    assert "page=2" in err.value.where


@pytest.mark.parametrize(
    "flow, detail",
    [
        ({k: v for k, v in UNRWA.items() if k != "amountUSD"}, "'amountUSD'"),
        ({**UNRWA, "amountUSD": "lots"}, "amountUSD is not a number: 'lots'"),
        ({**UNRWA, "date": "13/02/2020"}, "date is not an ISO date"),
        ({**UNRWA, "keywords": "Multiyear"}, "expected a list"),
    ],
)
def test_malformed_flow_names_url_row_and_field(tmp_path, flow, detail):
    """A bad flow gives a ParseError naming the page URL, the flow's index and id, and the field."""
    with pytest.raises(ParseError) as err:
        _run(tmp_path, {FLOW_URL: _page([INTERNAL, flow])}, years=[], flow_years=[2020])
    assert err.value.where.endswith("flow 1 (id 194900)") and FLOW_URL in err.value.where
    assert detail in err.value.detail


def test_progress_without_plans_is_a_parse_error(tmp_path):
    """An answer without data.plans is refused, naming the URL and the field."""
    answers = {PROGRESS_URL + "2020": {"data": {"totals": {}}, "status": "ok"}}
    with pytest.raises(ParseError, match=r"progress/2020 field data\.plans"):
        _run(tmp_path, answers, countries=[], years=[2020], flow_years=[])


def test_fts_years_come_from_the_environment(monkeypatch):
    """FTS_YEARS is read as comma-separated years; a bad value is a ConfigError naming it."""
    monkeypatch.setenv("FTS_YEARS", "2024, 2023")
    assert load_settings().pull.fts_years == (2023, 2024)
    monkeypatch.delenv("FTS_YEARS")
    assert load_settings().pull.fts_years == (2020, 2023, 2024)
    monkeypatch.setenv("FTS_FLOW_YEARS", "2024,last")
    with pytest.raises(ConfigError, match="FTS_FLOW_YEARS"):
        load_settings()
