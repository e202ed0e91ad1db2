"""HDX CKAN helper and IPC on HDX: package_show wrapper, resource choice, HXL row, normalisation.

The CSV rows are the Gaza Strip rows of the HDX global files (analysis "May 2024", as served in
ipc_global_national_long.csv and ipc_global_area_long.csv) and the AGO Cunene level-1 rows of
June 2021, served through a replay directory to the real connector.
"""

from __future__ import annotations

import json
from datetime import date

import httpx
import pandas as pd
import pytest

from aggregator.connectors import hdx, ipc_hdx
from aggregator.errors import ParseError
from aggregator.replay import recording_path
from aggregator.staging import Staged
from aggregator.validate import validate
from tests.conftest import frames
from tests.hdx_fixture import BASE, File, extract, replay_dir

SLUG = "global-acute-food-insecurity-country-data"
NATIONAL_HEAD = "Date of analysis,Country,Total country population,Validity period,From,To,Phase,Number,Percentage\n"
NATIONAL_HXL = "#date+analysis,#country+code,#population,#period+v_ipc,#date+start,#date+end,#severity+v_ipc,#affected+num,#affected+pct\n"
NATIONAL_ROWS = """\
May 2024,PSE,2251457,current,2024-05-01,2024-06-30,all,2251457,1.0
May 2024,PSE,2251457,current,2024-05-01,2024-06-30,3+,2133884,0.95
May 2024,PSE,2251457,current,2024-05-01,2024-06-30,1,10000,0
May 2024,PSE,2251457,current,2024-05-01,2024-06-30,2,107573,0.05
May 2024,PSE,2251457,current,2024-05-01,2024-06-30,3,1148301,0.51
May 2024,PSE,2251457,current,2024-05-01,2024-06-30,4,642864,0.29
May 2024,PSE,2251457,current,2024-05-01,2024-06-30,5,342719,0.15
May 2024,PSE,2251457,first projection,2024-06-01,2024-09-30,5,495291,0.22
"""
LEVEL1 = """\
Date of analysis,Country,Total country population,Level 1,Validity period,From,To,Phase,Number,Percentage
#date+analysis,#country+code,#population,#loc+level1,#period+v_ipc,#date+start,#date+end,#severity+v_ipc,#affected+num,#affected+pct
Jun 2021,AGO,32097671,Cunene,current,2021-06-01,2021-09-30,all,1232536,1.0
Jun 2021,AGO,32097671,Cunene,current,2021-06-01,2021-09-30,3+,630440,0.51
"""
AREA = """\
Date of analysis,Country,Total country population,Level 1,Area,Validity period,From,To,Phase,Number,Percentage
#date+analysis,#country+code,#population,#loc+level1,#loc+area,#period+v_ipc,#date+start,#date+end,#severity+v_ipc,#affected+num,#affected+pct
May 2024,PSE,2251457,,North Gaza,current,2024-05-01,2024-06-30,5,60000,0.2
May 2024,PSE,2251457,,Rafah,first projection,2024-06-01,2024-09-30,5,70000,0.35
"""


def _files(national: str = NATIONAL_HEAD + NATIONAL_HXL + NATIONAL_ROWS) -> list[File]:
    return [
        File("ipc_global_national_long.csv", "CSV", national.encode()),
        File("ipc_global_national_wide.csv", "CSV", b"not read\n"),
        File("ipc_global_level1_long.csv", "CSV", LEVEL1.encode()),
        File("ipc_global_area_long.csv", "CSV", AREA.encode(), "2025-03-05T10:00:00"),
        File("ipc_global_national_long.xlsx", "XLSX", b"not read\n"),
    ]


@pytest.fixture
def tables(tmp_path):
    """The tables as frames, the staged long rows (aggregator.staging) read back whole."""
    return frames(extract(replay_dir(tmp_path / "replay", SLUG, _files()), "ipc_hdx"))


def test_long_rows_are_staged_by_analysis(tmp_path):
    """ipc_phases is a query over the raw CSVs, replacing the analyses the files bring."""
    tables = extract(replay_dir(tmp_path / "replay", SLUG, _files()), "ipc_hdx")
    staged = tables["ipc_phases"]
    assert isinstance(staged, Staged) and staged.table == "ipc_phases"
    assert sorted(staged.vintages) == sorted(tables["ipc_analyses"]["analysis_id"])
    assert len(staged.frame()) == 12


def test_only_long_csv_resources_are_downloaded(tmp_path):
    """The registry pattern and format pick the three *_long.csv files, not wide or XLSX ones."""
    resources = [
        hdx.Resource(str(i), f.name, f.format, "u", None, None) for i, f in enumerate(_files())
    ]
    chosen = [r.name for r in resources if hdx.DATASETS["ipc_hdx"].matches(r)]
    assert chosen == [
        "ipc_global_national_long.csv",
        "ipc_global_level1_long.csv",
        "ipc_global_area_long.csv",
    ]


def test_national_rows_normalised_like_the_ipc_api(tables):
    """National rows get a synthesized analysis id, ipc_api's period names and month-granular dates."""
    phases = tables["ipc_phases"]
    national = phases[phases["level"] == "national"].set_index(["period", "phase"])
    assert len(national) == 8
    row = national.loc[("current", "3+")]
    assert (row["analysis_id"], row["unit_id"], row["country_iso3"]) == (
        "hdx:PSE:2024-05",
        "hdx:PSE:2024-05",
        "PSE",
    )
    assert (row["population"], row["fraction"]) == (2133884, 0.95)
    assert (row["period_start"].date(), row["period_end"].date()) == (
        date(2024, 5, 1),
        date(2024, 6, 30),
    )
    assert row["period_granularity"] == "month"
    projection = national.loc[("first_projection", "5")]
    assert (projection["population"], projection["period_start"].date()) == (
        495291,
        date(2024, 6, 1),
    )
    assert set(phases["source"]) == {"ipc_hdx"}


def test_group_and_area_ids_come_from_names(tables):
    """Level 1 rows are groups and Area rows areas, with ids built from the analysis id and names."""
    phases = tables["ipc_phases"].set_index(["level", "unit_name", "period", "phase"])
    group = phases.loc[("group", "Cunene", "current", "3+")]
    assert (group["analysis_id"], group["unit_id"], group["population"]) == (
        "hdx:AGO:2021-06",
        "hdx:AGO:2021-06|Cunene",
        630440,
    )
    area = phases.loc[("area", "Rafah", "first_projection", "5")]
    assert (area["unit_id"], area["population"], area["fraction"]) == (
        "hdx:PSE:2024-05||Rafah",
        70000,
        0.35,
    )
    assert pd.isna(area["parent_name"])  # Gaza areas have no Level 1
    assert phases["overall_phase"].isna().all()


def test_analysis_rows_carry_population_title_and_hdx_vintage(tables):
    """One analysis row per country and month, the newest resource last_modified as its vintage."""
    analyses = tables["ipc_analyses"].set_index("analysis_id")
    assert sorted(analyses.index) == ["hdx:AGO:2021-06", "hdx:PSE:2024-05"]
    gaza = analyses.loc["hdx:PSE:2024-05"]
    assert gaza["country_population"] == 2251457
    assert gaza["country_iso2"] == "PS"
    assert gaza["analysis_date"] == date(2024, 5, 1)
    assert gaza["modified"] == date(2025, 3, 5)  # the area file was uploaded a day later
    assert gaza["title"].startswith("IPC acute food insecurity, ") and gaza["title"].endswith(
        "May 2024 (via HDX)"
    )
    assert gaza["fetch_id"] == "t/ipc_hdx/2"  # the national file, read first


def test_tables_pass_their_schemas(tables):
    """The normalised rows validate against ipc_analyses and ipc_phases without errors."""
    for name in ("ipc_analyses", "ipc_phases"):
        checked = validate(name, tables[name], run_id="t", source="ipc_hdx")
        assert checked.errors == 0, checked.rejects.head()


def test_file_without_hxl_row_gives_the_same_rows(tmp_path, tables):
    """A file served without the hashtag row parses to exactly the same rows."""
    plain = frames(
        extract(
            replay_dir(tmp_path / "plain", SLUG, _files(NATIONAL_HEAD + NATIONAL_ROWS)), "ipc_hdx"
        )
    )
    national = ["population", "period", "phase", "unit_id"]
    pd.testing.assert_frame_equal(
        plain["ipc_phases"][national], tables["ipc_phases"][national], check_dtype=False
    )


def test_country_filter_keeps_only_that_country(tmp_path):
    """--country PS keeps the Gaza rows and drops Angola's."""
    only = frames(extract(replay_dir(tmp_path / "r", SLUG, _files()), "ipc_hdx", ["PS"]))
    assert set(only["ipc_phases"]["country_iso3"]) == {"PSE"}
    assert list(only["ipc_analyses"]["analysis_id"]) == ["hdx:PSE:2024-05"]


def test_hxl_row_detection():
    """A row is the HXL row only when every filled cell starts with '#'."""
    assert hdx.is_hxl_row(["#date+analysis", "#country+code", ""])
    assert not hdx.is_hxl_row(["May 2024", "#PSE"])
    assert not hdx.is_hxl_row(["", ""])


@pytest.mark.parametrize(
    "row, where, detail",
    [
        (
            "May 2024,PSE,2251457,current,2024-05-01,2024-06-30,all,2.2 million,1.0",
            "row 3",
            "Number",
        ),
        ("May 2024,PSE,2251457,now,2024-05-01,2024-06-30,all,1,1.0", "row 3", "Validity period"),
        ("May 2024,PSE,2251457,current,01/05/2024,2024-06-30,all,1,1.0", "row 3", "From"),
        (
            "Spring 2024,PSE,2251457,current,2024-05-01,2024-06-30,all,1,1.0",
            "row 3",
            "Date of analysis",
        ),
        ("May 2024,XXX,2251457,current,2024-05-01,2024-06-30,all,1,1.0", "row 3", "Country"),
        (
            "May 2024,PSE,n/a,current,2024-05-01,2024-06-30,all,1,1.0",
            "row 3",
            "'Total country population': not a number: 'n/a'",
        ),
    ],
)
def test_bad_cells_name_file_row_and_column(tmp_path, row, where, detail):
    """A malformed cell is a ParseError naming the resource, its record number and the column:
    from the extract for the cells that name an analysis, else from loading the rows."""
    files = _files(NATIONAL_HEAD + NATIONAL_HXL + row + "\n")
    with pytest.raises(ParseError) as caught:
        frames(extract(replay_dir(tmp_path / "r", SLUG, files), "ipc_hdx"))
    message = str(caught.value)
    assert "ipc_global_national_long.csv" in message and where in message and detail in message


def test_bad_cell_of_a_later_file_names_that_file(tmp_path):
    """The rows of every file load in one query: a bad cell in the area file (read last) is
    named by that file and its own record number, not by the files before it."""
    area = AREA.replace("Rafah,first projection,2024-06-01", "Rafah,first projection,2024-06-31")
    files = [*_files()[:3], File("ipc_global_area_long.csv", "CSV", area.encode())]
    with pytest.raises(ParseError) as caught:
        frames(extract(replay_dir(tmp_path / "r", SLUG, files), "ipc_hdx"))
    message = str(caught.value)
    assert "ipc_global_area_long.csv" in message and "national" not in message
    assert "row 4" in message and "'From': not a YYYY-MM-DD date: '2024-06-31'" in message


def test_missing_column_is_named(tmp_path):
    """A file without a required column fails naming the column."""
    files = _files("Date of analysis,Country\nMay 2024,PSE\n")
    with pytest.raises(ParseError, match=r"missing column\(s\) \['Total country population'"):
        extract(replay_dir(tmp_path / "r", SLUG, files), "ipc_hdx")


def _serve(tmp_path, answer: dict) -> str:
    root = tmp_path / "r"
    show = recording_path(root, httpx.URL(f"{BASE}/api/3/action/package_show?id={SLUG}"))
    show.parent.mkdir(parents=True)
    show.write_text(json.dumps(answer))
    return root


def test_ckan_success_false_is_a_parse_error(tmp_path):
    """A CKAN answer with success false fails with CKAN's message."""
    root = _serve(
        tmp_path, {"success": False, "error": {"message": "Not found", "__type": "Not Found Error"}}
    )
    with pytest.raises(ParseError, match="success=False: Not found"):
        extract(root, "ipc_hdx")


def test_answer_without_the_ckan_wrapper_is_a_parse_error(tmp_path):
    """A bare result object (not the live wrapper) is refused, not guessed at."""
    root = _serve(tmp_path, {"id": "x", "resources": []})
    with pytest.raises(ParseError, match="expected a CKAN answer"):
        extract(root, "ipc_hdx")


def test_no_matching_resource_lists_what_there_is(tmp_path):
    """When no resource matches, the error lists the resources the dataset has."""
    root = replay_dir(tmp_path / "r", SLUG, [File("ipc_global_national_wide.csv", "CSV", b"x\n")])
    with pytest.raises(
        ParseError, match=r"no resource matches .*ipc_global_national_wide.csv \(CSV\)"
    ):
        extract(root, "ipc_hdx")


def test_level_of_resource_names():
    """Resource names map to levels; other names to None."""
    assert ipc_hdx.level_of("ipc_global_level1_long.csv") == "group"
    assert ipc_hdx.level_of("ipc_global_area_long.csv") == "area"
    assert ipc_hdx.level_of("ipc_global_national_wide.csv") is None
