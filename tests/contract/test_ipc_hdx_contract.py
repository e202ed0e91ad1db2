"""Contract: IPC on HDX, read by the real connector, agrees with the IPC API normalisation.

Inputs: the recorded package_show result (../shared/recorded/ipc-hdx, wrapped here in the live
{"success": true, "result": ...} answer) and the recorded row subsets of the HDX global files
(download-ipc-global-*-long-latest.csv, with the HXL row), served at the URLs of the
ipc_global_*_long.csv resources the registry picks (the subsets are rows of both files).

Compared with: the IPC API connector on the project's demo snapshot
(data/demo/api.ipcinfo.org/population@country=PS.body, Gaza Strip analysis "May 2024", national
and three areas), on the recorded IPC API answer for Angola (Cunene, June 2021), and OCHA's
golden ipc_{afg,ago,caf}_*_long.csv files where they hold the same analysis. The AFG rows of the
HDX files are from the March 2024 analysis, which the AFG golden files (up to April 2023) do
not contain: that comparison has no overlap, as measured below.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from aggregator.config import HttpSettings
from aggregator.connectors import ipc
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from aggregator.replay import recording_path
from aggregator.validate import validate
from tests.conftest import DEMO, frames, replay_dir_from_recorded
from tests.hdx_fixture import extract

pytestmark = pytest.mark.contract

SLUG = "global-acute-food-insecurity-country-data"
FILES = {"national": "national", "level1": "level1", "area": "area"}
COMPARED = ["population", "fraction", "period_start", "period_end", "period_granularity"]
KEY = ["level", "unit_name", "period", "phase"]


@pytest.fixture(scope="module")
def hdx_tables(tmp_path_factory) -> dict[str, pd.DataFrame]:
    from tests.conftest import RECORDED

    if not RECORDED.is_dir():
        pytest.skip(f"recorded data not available at {RECORDED}")
    folder = RECORDED / "ipc-hdx"
    result = json.loads((folder / f"dataset-{SLUG.replace('_', '-')}.json").read_text())
    root = tmp_path_factory.mktemp("ipc-hdx") / "replay"
    show = recording_path(
        root, httpx.URL(f"https://data.humdata.org/api/3/action/package_show?id={SLUG}")
    )
    show.parent.mkdir(parents=True)
    show.write_text(json.dumps({"success": True, "result": result}))
    for resource in result["resources"]:
        for file in FILES:
            if resource["name"] == f"ipc_global_{file}_long.csv":
                body = recording_path(root, httpx.URL(resource["url"]))
                body.parent.mkdir(parents=True, exist_ok=True)
                body.write_bytes(
                    (folder / f"download-ipc-global-{file}-long-latest.csv").read_bytes()
                )
    # package_show on data.humdata.org lists resource URLs on the staging host, as recorded.
    return frames(extract(root, "ipc_hdx", work=root.parent))


def _api_tables(replay: Path, work: Path, countries: list[str]) -> dict[str, pd.DataFrame]:
    settings = HttpSettings()
    with make_client(settings, replay=replay) as client:
        fetcher = Fetcher(
            client, source="ipc_api", run_id="t", raw=RawStore(work / "raw"), settings=settings
        )
        return frames(
            ipc.extract(fetcher, "https://api.ipcinfo.org", None, countries, stage=work / "stage")
        )


def _rows(tables, analysis_id: str) -> pd.DataFrame:
    phases = tables["ipc_phases"]
    rows = phases[phases["analysis_id"] == analysis_id].copy()
    rows["period_start"] = pd.to_datetime(rows["period_start"])
    rows["period_end"] = pd.to_datetime(rows["period_end"])
    return rows.set_index(KEY).sort_index()


def test_recorded_files_parse_and_validate(hdx_tables):
    """Every recorded row is read (HXL row skipped) and both tables validate without errors."""
    phases = hdx_tables["ipc_phases"]
    assert phases["level"].value_counts().to_dict() == {"area": 84, "national": 84, "group": 44}
    assert sorted(hdx_tables["ipc_analyses"]["analysis_id"]) == [
        "hdx:AFG:2024-03",
        "hdx:AGO:2021-06",
        "hdx:BEN:2024-03",
        "hdx:DOM:2023-09",
        "hdx:NGA:2024-03",
        "hdx:PSE:2024-05",
        "hdx:SDN:2024-04",
    ]
    for name in ("ipc_analyses", "ipc_phases"):
        assert validate(name, hdx_tables[name], run_id="t", source="ipc_hdx").errors == 0


def test_gaza_june_2024_equals_the_ipc_api_normalisation(hdx_tables, tmp_path):
    """Gaza May 2024 analysis: every national and area row equals the IPC API connector's."""
    api = _api_tables(DEMO, tmp_path, ["PS"])
    ours = _rows(hdx_tables, "hdx:PSE:2024-05")
    theirs = _rows(api, "70000612")
    assert len(ours) == len(theirs) == 56  # (national + 3 areas) x 2 periods x 7 phases
    assert list(ours.index) == list(theirs.index)
    pd.testing.assert_frame_equal(
        ours[COMPARED].astype(object), theirs[COMPARED].astype(object), check_names=False
    )
    hdx_analysis = hdx_tables["ipc_analyses"].set_index("analysis_id").loc["hdx:PSE:2024-05"]
    api_analysis = api["ipc_analyses"].set_index("analysis_id").loc["70000612"]
    for column in ("country_iso2", "country_iso3", "country_population"):
        assert hdx_analysis[column] == api_analysis[column]
    assert pd.Timestamp(hdx_analysis["analysis_date"]) == api_analysis["analysis_date"]
    # The phase 5 projection for Rafah, by hand from the HDX area file: 70,000 (35%).
    assert ours.loc[("area", "Rafah", "first_projection", "5"), "population"] == 70000


def test_angola_cunene_equals_the_ipc_api_normalisation(hdx_tables, recorded, tmp_path):
    """AGO June 2021, Level 1 Cunene: the HDX rows equal the IPC API connector's group rows."""
    replay = replay_dir_from_recorded(recorded, tmp_path / "replay", ["AO"])
    api = _api_tables(replay, tmp_path, ["AO"])
    analyses = api["ipc_analyses"]
    api_id = analyses.loc[analyses["analysis_date"].astype(str) == "2021-06-01", "analysis_id"]
    assert len(api_id) == 1
    theirs = _rows(api, api_id.iloc[0])
    theirs = theirs[theirs.index.get_level_values("unit_name") == "Cunene"]
    ours = _rows(hdx_tables, "hdx:AGO:2021-06")
    assert len(ours) == 14
    assert list(ours.index) == list(theirs.index)
    pd.testing.assert_frame_equal(
        ours[COMPARED].astype(object), theirs[COMPARED].astype(object), check_names=False
    )


@pytest.mark.parametrize("iso3", ["afg", "ago", "caf"])
def test_rows_equal_ocha_golden_files_where_they_overlap(hdx_tables, recorded, iso3):
    """HDX rows of an analysis also in OCHA's golden files have the same numbers and dates."""
    phases = hdx_tables["ipc_phases"]
    analyses = hdx_tables["ipc_analyses"].set_index("analysis_id")
    overlap = 0
    for file, level in (("national", "national"), ("level1", "group"), ("area", "area")):
        golden = pd.read_csv(
            recorded / "ipc-hdx" / f"ipc_{iso3}_{file}_long.csv", dtype=str, keep_default_na=False
        )
        ours = phases[(phases["country_iso3"] == iso3.upper()) & (phases["level"] == level)]
        ours = pd.DataFrame(
            {
                "Date of analysis": [
                    analyses.loc[a, "analysis_date"].strftime("%b %Y") for a in ours["analysis_id"]
                ],
                "Validity period": ours["period"].str.replace("_", " "),
                "Phase": ours["phase"],
                "Level 1": ours["unit_name"]
                if level == "group"
                else ours["parent_name"].fillna(""),
                "Area": ours["unit_name"] if level == "area" else "",
                "Number": ours["population"].astype(int).astype(str),
                "From": ours["period_start"].dt.strftime("%Y-%m-%d"),
                "To": ours["period_end"].dt.strftime("%Y-%m-%d"),
            }
        )
        key = ["Date of analysis", "Validity period", "Phase"]
        key += [c for c in ("Level 1", "Area") if c in golden.columns]
        merged = ours.merge(golden, on=key, suffixes=("_ours", "_golden"))
        for column in ("Number", "From", "To"):
            assert (merged[f"{column}_ours"] == merged[f"{column}_golden"]).all(), column
        overlap += len(merged)
    assert overlap == {"afg": 0, "ago": 14, "caf": 0}[iso3]
