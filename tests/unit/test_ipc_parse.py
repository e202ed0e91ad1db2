"""IPC connector: period parsing, and /population payloads normalised to long form.

Payloads are written inline in the shape the IPC API answers (see ../shared/recorded/ipc-api)
and served to the real connector through a replay directory and the project's HTTP client.

* AF 12166797 is trimmed from the recorded East Region analysis of May 2017: groups -> areas,
  and 'Laghman c_1' has no phase 5 estimate (null), as recorded.
* PS 90000001 carries the figures IPC published for the Gaza Strip analysis of May 2024
  (HDX global files): areas directly under the analysis, no groups. Its ids are placeholders.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aggregator.config import HttpSettings
from aggregator.connectors import ipc
from aggregator.connectors.ipc import parse_month, parse_period
from aggregator.errors import ParseError
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from aggregator.validate import validate
from schemas.ipc_phases import KEY
from tests.conftest import frames

BASE = "https://api.ipcinfo.org"

# fmt: off
LISTING = [
    {
        "id": "12166797",
        "title": "Afghanistan - Acute Food Insecurity May 2017 (East Region)",
        "link": "http://www.ipcinfo.org/ipc-country-analysis/details-map/en/c/1072521/",
        "country": "AF",
        "year": 2017,
        "condition": "A",
        "created": "2018-01-05",
        "modified": "2022-02-15",
    },
    {
        "id": "90000001",
        "title": "Gaza Strip: Acute Food Insecurity May - September 2024",
        "country": "PS",
        "year": 2024,
        "condition": "A",
        "created": "2024-06-25",
        "modified": "2024-06-26",
    },
]

AF_EAST_2017 = {
    "id": "12166797",
    "title": "Acute Food Insecurity May 2017 (East Region)",
    "country": "AF",
    "condition": "A",
    "analysis_date": "May 2017",
    "period": "A",
    "current_period_dates": "May 2017 - Jul 2017",
    "projected_period_dates": "",
    "second_projected_period_dates": "",
    "view_level": "area",
    "population": 29724323,
    "population_percentage": 0,
    "p3plus": 762742, "p3plus_percentage": 0.26,
    "estimated_population": 2991169,
    "phase1_population": 1085103, "phase1_percentage": 0.36,
    "phase2_population": 1143324, "phase2_percentage": 0.38,
    "phase3_population": 477363, "phase3_percentage": 0.16,
    "phase4_population": 285379, "phase4_percentage": 0.1,
    "phase5_population": 0, "phase5_percentage": 0,
    "groups": [
        {
            "id": "12166799",
            "name": "Laghman",
            "estimated_population": 500738,
            "p3plus_percentage": 0.26, "p3plus": 131262,
            "phase1_population": 164287, "phase1_percentage": 0.33,
            "phase2_population": 195174, "phase2_percentage": 0.39,
            "phase3_population": 84365, "phase3_percentage": 0.17,
            "phase4_population": 46898, "phase4_percentage": 0.09,
            "phase5_population": 0, "phase5_percentage": 0,
            "estimated_population_projected": 0,
            "areas": [
                {
                    "id": "12166811", "name": "Laghman c_1", "aag_id": "12166799",
                    "population": 29724323,
                    "p3plus": 36017, "p3plus_percentage": 0.15,
                    "estimated_population": 240115,
                    "phase1_population": 79238, "phase1_percentage": 0.33,
                    "phase2_population": 120058, "phase2_percentage": 0.5,
                    "phase3_population": 19209, "phase3_percentage": 0.08,
                    "phase4_population": 16808, "phase4_percentage": 0.07,
                    "phase5_population": None, "phase5_percentage": None,
                    "overall_phase": 2,
                    "estimated_population_projected": 0,
                    "estimated_population_second_projected": 0,
                },
                {
                    "id": "12166821", "name": "Laghman c_3", "aag_id": "12166799",
                    "population": 29724323,
                    "p3plus": 52576, "p3plus_percentage": 0.37,
                    "estimated_population": 142096,
                    "phase1_population": 55417, "phase1_percentage": 0.39,
                    "phase2_population": 31261, "phase2_percentage": 0.22,
                    "phase3_population": 35524, "phase3_percentage": 0.25,
                    "phase4_population": 17052, "phase4_percentage": 0.12,
                    "phase5_population": 0, "phase5_percentage": 0,
                    "overall_phase": 3,
                    "estimated_population_projected": 0,
                    "estimated_population_second_projected": 0,
                },
            ],
        }
    ],
}


def _gaza_area(area_id: str, name: str, current: dict[str, Any], projected: dict[str, Any]) -> dict[str, Any]:
    return {"id": area_id, "name": name, "aag_id": None, "population": 2251457, **current, **projected,
            "overall_phase": 4, "overall_phase_projected": 4, "estimated_population_second_projected": 0}


GAZA_MAY_2024 = {
    "id": "90000001",
    "title": "Gaza Strip: Acute Food Insecurity May - September 2024",
    "country": "PS",
    "condition": "A",
    "analysis_date": "May 2024",
    "period": "A",
    "current_period_dates": "May 2024 - Jun 2024",
    "projected_period_dates": "Jun 2024 - Sep 2024",
    "second_projected_period_dates": "",
    "view_level": "area",
    "population": 2251457,
    "population_percentage": 0,
    "p3plus": 2133884, "p3plus_percentage": 0.95,
    "estimated_population": 2251457,
    "phase1_population": 10000, "phase1_percentage": 0,
    "phase2_population": 107573, "phase2_percentage": 0.05,
    "phase3_population": 1148301, "phase3_percentage": 0.51,
    "phase4_population": 642864, "phase4_percentage": 0.29,
    "phase5_population": 342719, "phase5_percentage": 0.15,
    "p3plus_projected": 2153884, "p3plus_percentage_projected": 0.96,
    "estimated_population_projected": 2251457,
    "phase1_population_projected": 0, "phase1_percentage_projected": 0,
    "phase2_population_projected": 97573, "phase2_percentage_projected": 0.04,
    "phase3_population_projected": 913156, "phase3_percentage_projected": 0.41,
    "phase4_population_projected": 745437, "phase4_percentage_projected": 0.33,
    "phase5_population_projected": 495291, "phase5_percentage_projected": 0.22,
    "areas": [
        _gaza_area(
            "90000011", "North Gaza",
            {"p3plus": 300000, "p3plus_percentage": 1, "estimated_population": 300000,
             "phase1_population": 0, "phase1_percentage": 0, "phase2_population": 0, "phase2_percentage": 0,
             "phase3_population": 105000, "phase3_percentage": 0.35, "phase4_population": 135000,
             "phase4_percentage": 0.45, "phase5_population": 60000, "phase5_percentage": 0.2},
            {"p3plus_projected": 300000, "p3plus_percentage_projected": 1, "estimated_population_projected": 300000,
             "phase1_population_projected": 0, "phase1_percentage_projected": 0,
             "phase2_population_projected": 0, "phase2_percentage_projected": 0,
             "phase3_population_projected": 75000, "phase3_percentage_projected": 0.25,
             "phase4_population_projected": 150000, "phase4_percentage_projected": 0.5,
             "phase5_population_projected": 75000, "phase5_percentage_projected": 0.25},
        ),
        _gaza_area(
            "90000012", "Deir Al-Balah",
            {"p3plus": 1663884, "p3plus_percentage": 0.95, "estimated_population": 1751457,
             "phase1_population": 0, "phase1_percentage": 0, "phase2_population": 87573, "phase2_percentage": 0.05,
             "phase3_population": 963301, "phase3_percentage": 0.55, "phase4_population": 437864,
             "phase4_percentage": 0.25, "phase5_population": 262719, "phase5_percentage": 0.15},
            {"p3plus_projected": 1663884, "p3plus_percentage_projected": 0.95,
             "estimated_population_projected": 1751457,
             "phase1_population_projected": 0, "phase1_percentage_projected": 0,
             "phase2_population_projected": 87573, "phase2_percentage_projected": 0.05,
             "phase3_population_projected": 788156, "phase3_percentage_projected": 0.45,
             "phase4_population_projected": 525437, "phase4_percentage_projected": 0.3,
             "phase5_population_projected": 350291, "phase5_percentage_projected": 0.2},
        ),
        _gaza_area(
            "90000013", "Rafah",
            {"p3plus": 170000, "p3plus_percentage": 0.85, "estimated_population": 200000,
             "phase1_population": 10000, "phase1_percentage": 0.05, "phase2_population": 20000,
             "phase2_percentage": 0.1, "phase3_population": 80000, "phase3_percentage": 0.4,
             "phase4_population": 70000, "phase4_percentage": 0.35, "phase5_population": 20000,
             "phase5_percentage": 0.1},
            {"p3plus_projected": 190000, "p3plus_percentage_projected": 0.95,
             "estimated_population_projected": 200000,
             "phase1_population_projected": 0, "phase1_percentage_projected": 0,
             "phase2_population_projected": 10000, "phase2_percentage_projected": 0.05,
             "phase3_population_projected": 50000, "phase3_percentage_projected": 0.25,
             "phase4_population_projected": 70000, "phase4_percentage_projected": 0.35,
             "phase5_population_projected": 70000, "phase5_percentage_projected": 0.35},
        ),
    ],
}

# In /population but not in /analyses?type=A (a chronic analysis): must be dropped.
GAZA_CHRONIC = {
    "id": "90000002", "title": "Chronic Food Insecurity", "country": "PS", "condition": "C",
    "analysis_date": "Jan 2024", "current_period_dates": "Jan 2024 - Dec 2024",
    "projected_period_dates": "", "second_projected_period_dates": "", "population": 2251457,
    "estimated_population": 2251457, "phase1_population": 100000, "phase1_percentage": 0.04,
}

POPULATIONS = {"AF": [AF_EAST_2017], "PS": [GAZA_CHRONIC, GAZA_MAY_2024]}
# fmt: on


# --- helpers -----------------------------------------------------------------------------


def _serve(tmp_path: Path, listing: Any, populations: dict[str, Any]) -> Path:
    """Lays payloads out as a replay directory (a str payload is written verbatim)."""
    root = tmp_path / "replay"
    host = root / "api.ipcinfo.org"
    host.mkdir(parents=True)
    encode = lambda body: body if isinstance(body, str) else json.dumps(body)  # noqa: E731
    (host / "analyses@type=A.body").write_text(encode(listing))
    for iso2, body in populations.items():
        (host / f"population@country={iso2}.body").write_text(encode(body))
    return root


def _extract(
    tmp_path: Path,
    listing: Any = LISTING,
    populations: dict[str, Any] | None = None,
    key: str | None = None,
) -> dict[str, pd.DataFrame]:
    populations = POPULATIONS if populations is None else populations
    settings = HttpSettings()
    with make_client(settings, replay=_serve(tmp_path, listing, populations)) as client:
        fetcher = Fetcher(
            client, source="ipc_api", run_id="t", raw=RawStore(tmp_path / "raw"), settings=settings
        )
        return frames(
            ipc.extract(fetcher, BASE, key, sorted(populations), stage=tmp_path / "stage")
        )


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, pd.DataFrame]:
    return _extract(tmp_path)


def _rows(phases: pd.DataFrame, **where: Any) -> pd.DataFrame:
    mask = pd.Series(True, index=phases.index)
    for column, value in where.items():
        mask &= phases[column] == value
    return phases[mask]


def _figures(phases: pd.DataFrame, **where: Any) -> dict[str, tuple[int, float]]:
    rows = _rows(phases, **where)
    return {r.phase: (int(r.population), float(r.fraction)) for r in rows.itertuples()}


# --- parse_month / parse_period ----------------------------------------------------------


def test_parse_month_gives_first_day():
    """'Mar 2024' means the month of March 2024, stored as its first day."""
    assert parse_month("Mar 2024") == date(2024, 3, 1)
    assert parse_month("  Dec 2017 ") == date(2017, 12, 1)


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("Feb 2024 - Mar 2024", date(2024, 2, 1), date(2024, 3, 31)),
        ("Jan 2024 - Feb 2024", date(2024, 1, 1), date(2024, 2, 29)),  # leap year
        ("Feb 2023 - Feb 2023", date(2023, 2, 1), date(2023, 2, 28)),  # common year
        ("Oct 2023 - Dec 2023", date(2023, 10, 1), date(2023, 12, 31)),  # December end
        ("Nov 2017 - Feb 2018", date(2017, 11, 1), date(2018, 2, 28)),  # across a new year
        ("Apr 2023 - Apr 2023", date(2023, 4, 1), date(2023, 4, 30)),  # single month
        ("Jun 2024 - Sep 2024", date(2024, 6, 1), date(2024, 9, 30)),
    ],
)
def test_parse_period_spans_whole_months(text, start, end):
    """A period runs from the first day of its first month to the last day of its last."""
    assert parse_period(text) == (start, end)


@pytest.mark.parametrize("text", [None, "", "   ", "\t\n"])
def test_parse_period_empty_means_absent(text):
    """An empty period string (IPC's way of saying 'no such period') parses to None."""
    assert parse_period(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "Feb 2024",  # no end
        "Feb 2024 to Mar 2024",
        "Feb 2024-Mar 2024",  # separator without spaces
        "2024-02 - 2024-03",
        "February 2024 - March 2024",
        "Feb 2024 - ",
        "Foo 2024 - Mar 2024",
        "Feb 2024 - Mar 2024 - Apr 2024",
    ],
)
def test_parse_period_malformed_raises(text):
    """Anything but 'Mon YYYY - Mon YYYY' is refused loudly, naming the text."""
    with pytest.raises(ValueError, match="Mon YYYY"):
        parse_period(text)


def test_parse_period_end_before_start_raises():
    """A period whose end month precedes its start month is an error, not a silent swap."""
    with pytest.raises(ValueError, match="ends before it starts: 'Mar 2024 - Feb 2024'"):
        parse_period("Mar 2024 - Feb 2024")


# --- the connector on real-shaped payloads -----------------------------------------------


def test_only_listed_acute_analyses_are_kept(tables):
    """An analysis in /population but absent from /analyses?type=A (chronic) is dropped."""
    assert sorted(tables["ipc_analyses"]["analysis_id"]) == ["12166797", "90000001"]
    assert set(tables["ipc_phases"]["analysis_id"]) == {"12166797", "90000001"}


def test_analysis_rows_combine_population_and_listing(tables):
    """ipc_analyses takes title/date from /population and created/modified/link from the listing."""
    analyses = tables["ipc_analyses"].set_index("analysis_id")
    af = analyses.loc["12166797"]
    assert af["country_iso2"] == "AF" and af["country_iso3"] == "AFG"
    assert af["title"] == "Acute Food Insecurity May 2017 (East Region)"
    assert af["condition"] == "A"
    assert af["analysis_date"] == pd.Timestamp(2017, 5, 1)
    assert af["created"] == pd.Timestamp(2018, 1, 5)
    assert af["modified"] == pd.Timestamp(2022, 2, 15)
    assert af["link"] == "http://www.ipcinfo.org/ipc-country-analysis/details-map/en/c/1072521/"
    gaza = analyses.loc["90000001"]
    assert gaza["country_iso3"] == "PSE"
    assert gaza["analysis_date"] == pd.Timestamp(2024, 5, 1)
    assert gaza["created"] == pd.Timestamp(2024, 6, 25)
    assert pd.isna(gaza["link"])  # not in the listing


def test_country_population_is_kept_apart_from_analysed_population(tables):
    """'population' (country total) goes to ipc_analyses; the 'all' row holds estimated_population."""
    analyses = tables["ipc_analyses"].set_index("analysis_id")
    assert analyses.loc["12166797", "country_population"] == 29724323
    national = _figures(tables["ipc_phases"], analysis_id="12166797", level="national")
    assert national["all"] == (2991169, 1.0)
    assert 29724323 not in set(tables["ipc_phases"]["population"])


def test_grouped_analysis_has_national_group_and_area_units(tables):
    """groups -> areas becomes national, group and area rows; areas name their group as parent."""
    units = _rows(tables["ipc_phases"], analysis_id="12166797")[
        ["level", "unit_id", "unit_name", "parent_name"]
    ]
    got = {tuple(None if pd.isna(v) else v for v in row) for row in units.itertuples(index=False)}
    assert got == {
        ("national", "12166797", "Afghanistan", None),
        ("group", "12166799", "Laghman", None),
        ("area", "12166811", "Laghman c_1", "Laghman"),
        ("area", "12166821", "Laghman c_3", "Laghman"),
    }


def test_areas_directly_under_analysis_have_no_parent(tables):
    """An analysis with areas and no groups yields national and area rows, parent_name empty."""
    gaza = _rows(tables["ipc_phases"], analysis_id="90000001")
    assert set(gaza["level"]) == {"national", "area"}
    areas = gaza[gaza["level"] == "area"]
    assert dict(zip(areas["unit_id"], areas["unit_name"], strict=True)) == {
        "90000011": "North Gaza",
        "90000012": "Deir Al-Balah",
        "90000013": "Rafah",
    }
    assert areas["parent_name"].isna().all()
    national = gaza[gaza["level"] == "national"]
    assert set(national["unit_id"]) == {"90000001"}
    assert set(national["unit_name"]) == {"Palestine, State of"}


def test_overall_phase_only_on_areas(tables):
    """The area classification is carried on area rows for its period, and empty above areas."""
    phases = tables["ipc_phases"]
    assert phases.loc[phases["level"] != "area", "overall_phase"].isna().all()
    by_area = {
        (r.unit_id, r.period): r.overall_phase
        for r in phases[phases["level"] == "area"]
        .drop_duplicates(["unit_id", "period"])
        .itertuples()
    }
    assert by_area == {
        ("12166811", "current"): 2,
        ("12166821", "current"): 3,
        **{
            (unit, period): 4
            for unit in ("90000011", "90000012", "90000013")
            for period in ("current", "first_projection")
        },
    }


def test_null_figure_omits_the_row_but_zero_is_kept(tables):
    """A phase IPC did not estimate (null) has no row; a published 0 is a row with 0."""
    c1 = _rows(tables["ipc_phases"], unit_id="12166811")
    assert sorted(c1["phase"]) == sorted(["all", "3+", "1", "2", "3", "4"])
    c3 = _figures(tables["ipc_phases"], unit_id="12166821")
    assert c3["5"] == (0, 0.0)
    assert len(c3) == 7


def test_periods_follow_the_period_dates(tables):
    """Each period's rows carry its dates; a period with empty dates has no rows even if figures exist."""
    phases = tables["ipc_phases"]
    windows = {
        (r.analysis_id, r.period): (r.period_start, r.period_end)
        for r in phases.drop_duplicates(["analysis_id", "period"]).itertuples()
    }
    assert windows == {
        ("12166797", "current"): (pd.Timestamp(2017, 5, 1), pd.Timestamp(2017, 7, 31)),
        ("90000001", "current"): (pd.Timestamp(2024, 5, 1), pd.Timestamp(2024, 6, 30)),
        ("90000001", "first_projection"): (pd.Timestamp(2024, 6, 1), pd.Timestamp(2024, 9, 30)),
    }
    assert set(phases["period_granularity"]) == {"month"}


def test_projection_only_update_has_no_current_rows(tmp_path):
    """An update with an empty current period (as CF publishes) yields projection rows only."""
    update = {**GAZA_MAY_2024, "current_period_dates": ""}
    phases = _extract(tmp_path, populations={"PS": [update]})["ipc_phases"]
    assert set(phases["period"]) == {"first_projection"}
    assert len(phases) == 28  # (national + 3 areas) x 7 phases
    assert _figures(phases, unit_id="90000001")["5"] == (495291, 0.22)


def test_phase_figures_are_those_published(tables):
    """Population and fraction of every phase come from the matching response keys."""
    phases = tables["ipc_phases"]
    assert _figures(phases, unit_id="90000001", period="current") == {
        "all": (2251457, 1.0),
        "3+": (2133884, 0.95),
        "1": (10000, 0.0),
        "2": (107573, 0.05),
        "3": (1148301, 0.51),
        "4": (642864, 0.29),
        "5": (342719, 0.15),
    }
    assert _figures(phases, unit_id="90000011", period="first_projection") == {
        "all": (300000, 1.0),
        "3+": (300000, 1.0),
        "1": (0, 0.0),
        "2": (0, 0.0),
        "3": (75000, 0.25),
        "4": (150000, 0.5),
        "5": (75000, 0.25),
    }
    assert _figures(phases, unit_id="12166799") == {
        "all": (500738, 1.0),
        "3+": (131262, 0.26),
        "1": (164287, 0.33),
        "2": (195174, 0.39),
        "3": (84365, 0.17),
        "4": (46898, 0.09),
        "5": (0, 0.0),
    }


def test_row_counts_and_unique_keys(tables):
    """Exactly one row per unit x period x phase published, and the table key is unique."""
    phases = tables["ipc_phases"]
    # AF: national 7 + group 7 + c_1 6 (no phase 5) + c_3 7; PS: (national + 3 areas) x 2 periods x 7.
    assert len(_rows(phases, analysis_id="12166797")) == 27
    assert len(_rows(phases, analysis_id="90000001")) == 56
    assert not phases.duplicated(KEY).any()
    assert list(phases.columns) == ipc.PHASE_COLUMNS
    assert list(tables["ipc_analyses"].columns) == ipc.ANALYSIS_COLUMNS


def test_rows_point_to_the_download_they_came_from(tables):
    """fetch_id names the /population request of the row's country (1 = /analyses)."""
    assert set(_rows(tables["ipc_phases"], analysis_id="12166797")["fetch_id"]) == {"t/ipc_api/2"}
    assert set(_rows(tables["ipc_phases"], analysis_id="90000001")["fetch_id"]) == {"t/ipc_api/3"}
    assert dict(
        zip(tables["ipc_analyses"]["analysis_id"], tables["ipc_analyses"]["fetch_id"], strict=True)
    ) == {
        "12166797": "t/ipc_api/2",
        "90000001": "t/ipc_api/3",
    }


# --- malformed payloads ------------------------------------------------------------------


def test_population_not_a_list_raises_parse_error(tmp_path):
    """An error object instead of the list of analyses fails with the source and URL named."""
    with pytest.raises(ParseError) as caught:
        _extract(tmp_path, populations={"PS": {"error": "Invalid key"}})
    assert caught.value.source == "ipc_api"
    message = str(caught.value)
    assert message.startswith("ipc_api: cannot parse ")
    assert f"{BASE}/population?country=PS" in message
    assert "expected a JSON list of analyses; received a body" in message
    assert 'starting \'{"error": "Invalid key"}\'' in message


def test_listing_not_a_list_raises_parse_error(tmp_path):
    """A listing that is not a list fails naming the /analyses URL."""
    with pytest.raises(
        ParseError,
        match=r"ipc_api: cannot parse https://api\.ipcinfo\.org/analyses\?type=A: "
        r"expected a JSON list, got dict",
    ):
        _extract(tmp_path, listing={"message": "Forbidden"})


def test_analysis_missing_id_names_its_title(tmp_path):
    """An analysis without 'id' fails naming the URL, the missing field and the analysis title."""
    broken = {k: v for k, v in GAZA_MAY_2024.items() if k != "id"}
    with pytest.raises(ParseError) as caught:
        _extract(tmp_path, populations={"PS": [GAZA_CHRONIC, broken]})
    message = str(caught.value)
    assert caught.value.source == "ipc_api"
    assert f"{BASE}/population?country=PS: an analysis has no 'id'" in message
    assert "'Gaza Strip: Acute Food Insecurity May - September 2024'" in message


def test_bad_period_names_analysis_id_field_and_text(tmp_path):
    """An unparsable period string fails naming the URL, the analysis id, the field and the text."""
    broken = {**GAZA_MAY_2024, "projected_period_dates": "Jun 2024 to Sep 2024"}
    with pytest.raises(ParseError) as caught:
        _extract(tmp_path, populations={"PS": [broken]})
    message = str(caught.value)
    assert caught.value.source == "ipc_api"
    assert f"{BASE}/population?country=PS analysis 90000001: projected_period_dates" in message
    assert "'Jun 2024 to Sep 2024'" in message


def test_html_page_raises_parse_error(tmp_path):
    """An HTML error page served with 200 is a ParseError naming the URL and what came."""
    with pytest.raises(
        ParseError,
        match=r"ipc_api: cannot parse https://api\.ipcinfo\.org/population\?country=PS: "
        r"expected a JSON list of analyses; received an HTML page \(Content-Type none\) "
        r"starting '<html><body>502 Bad Gateway",
    ):
        _extract(tmp_path, populations={"PS": "<html><body>502 Bad Gateway</body></html>"})


def test_truncated_json_raises_parse_error(tmp_path):
    """A body cut short is invalid JSON, named with the URL and DuckDB's reason."""
    with pytest.raises(
        ParseError,
        match=r"ipc_api: cannot parse https://api\.ipcinfo\.org/population\?country=PS: "
        r"invalid JSON: ",
    ):
        _extract(tmp_path, populations={"PS": json.dumps([GAZA_MAY_2024])[:-40]})


def test_figure_not_a_number_is_staged_as_text_and_rejected_by_row(tmp_path):
    """'n/a' for a population is no parse failure: validation names its row, column, value."""
    broken = {**GAZA_MAY_2024, "p3plus": "n/a"}
    tables = _extract(tmp_path, populations={"PS": [broken]})
    phases = tables["ipc_phases"]
    bad = phases[phases["population"] == "n/a"]
    assert len(bad) == 1 and bad.iloc[0]["level"] == "national" and bad.iloc[0]["phase"] == "3+"
    checked = validate("ipc_phases", phases, run_id="t", source="ipc_api")
    assert checked.data is None
    rejects = checked.rejects
    assert {"population"} <= set(rejects["column_name"])
    assert "n/a" in set(rejects["value"])
    assert bad.index[0] in set(rejects["row_number"])


def test_parse_error_url_has_key_redacted(tmp_path):
    """With a key in use, the URL in a parse error shows key=*** and never the key."""
    with pytest.raises(ParseError) as caught:
        _extract(tmp_path, populations={"PS": {"error": "oops"}}, key="CANARY-KEY-0001")
    message = str(caught.value)
    assert "key=***" in message
    assert "CANARY" not in message
