"""Contract: the IPC connector reproduces OCHA's own normalisation of the same API answers.

The recorded IPC API responses (../shared/recorded/ipc-api) go through the real code path
(replay client, Fetcher, raw store, ipc.extract) and are compared with OCHA's golden files
(../shared/recorded/ipc-hdx/ipc_{afg,ago,caf}_{national,level1,area}_long.csv), built by
OCHA-DAP/hdx-scraper-ipc from those very responses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from aggregator.config import HttpSettings
from aggregator.connectors import ipc
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from aggregator.validate import validate
from tests.conftest import frames, replay_dir_from_recorded

pytestmark = pytest.mark.contract

COUNTRIES = {"AF": "afg", "AO": "ago", "CF": "caf"}
# golden file suffix -> our level
LEVELS = {"national": "national", "level1": "group", "area": "area"}
PERIOD_LABELS = {
    "current": "current",
    "first_projection": "first projection",
    "second_projection": "second projection",
}
# Rows in each golden file, as measured: a wrong file (or an empty join) cannot pass.
GOLDEN_ROWS = {
    ("AF", "national"): 147,
    ("AF", "level1"): 55,
    ("AF", "area"): 5880,
    ("AO", "national"): 28,
    ("AO", "level1"): 154,
    ("AO", "area"): 560,
    ("CF", "national"): 133,
    ("CF", "level1"): 1666,
    ("CF", "area"): 7146,
}
COMPARED = ["Number", "Percentage", "From", "To", "Total country population"]

_normalised: dict[Path, dict[str, pd.DataFrame]] = {}


@pytest.fixture
def tables(recorded: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """ipc_analyses and ipc_phases from the recorded AF, AO and CF answers (normalised once)."""
    if recorded not in _normalised:
        work = tmp_path_factory.mktemp("ipc-contract")
        replay = replay_dir_from_recorded(recorded, work / "replay", list(COUNTRIES))
        settings = HttpSettings()
        with make_client(settings, replay=replay) as client:
            fetcher = Fetcher(
                client, source="ipc_api", run_id="t", raw=RawStore(work / "raw"), settings=settings
            )
            _normalised[recorded] = frames(
                ipc.extract(
                    fetcher,
                    "https://api.ipcinfo.org",
                    None,
                    list(COUNTRIES),
                    stage=work / "stage",
                )
            )
    return _normalised[recorded]


def _population_json(recorded: Path, iso2: str) -> list[dict]:
    return json.loads(
        (recorded / "ipc-api" / f"population-country-{iso2.lower()}.json").read_text()
    )


def _golden(recorded: Path, iso3: str, file: str) -> pd.DataFrame:
    golden = pd.read_csv(
        recorded / "ipc-hdx" / f"ipc_{iso3}_{file}_long.csv", dtype=str, keep_default_na=False
    )
    return golden.assign(
        Number=golden["Number"].astype(int),
        Percentage=golden["Percentage"].astype(float),
        **{"Total country population": golden["Total country population"].astype(int)},
    )


def _ours_in_golden_layout(tables: dict[str, pd.DataFrame], iso3: str, level: str) -> pd.DataFrame:
    analyses = tables["ipc_analyses"][["analysis_id", "analysis_date", "country_population"]]
    phases = tables["ipc_phases"]
    rows = phases[(phases["country_iso3"] == iso3.upper()) & (phases["level"] == level)]
    rows = rows.merge(analyses, on="analysis_id", how="left", validate="many_to_one").reset_index(
        drop=True
    )
    out = pd.DataFrame(
        {
            "Date of analysis": [d.strftime("%b %Y") for d in rows["analysis_date"]],
            "Country": rows["country_iso3"],
            "Total country population": rows["country_population"].astype(int),
            "Validity period": rows["period"].map(PERIOD_LABELS),
            "From": [f"{d:%Y-%m-%d}" for d in rows["period_start"]],
            "To": [f"{d:%Y-%m-%d}" for d in rows["period_end"]],
            "Phase": rows["phase"],
            "Number": rows["population"].astype(int),
            "Percentage": rows["fraction"].astype(float),
        }
    )
    if level == "group":
        out["Level 1"] = rows["unit_name"]
    if level == "area":
        out["Level 1"] = rows["parent_name"].fillna("")
        out["Area"] = rows["unit_name"]
    return out


@pytest.mark.parametrize("iso2, file", list(GOLDEN_ROWS), ids=[f"{c}-{f}" for c, f in GOLDEN_ROWS])
def test_matches_ocha_golden_file(tables, recorded, iso2, file):
    """Every row OCHA derived from the same answers is ours too, with equal figures and dates."""
    golden = _golden(recorded, COUNTRIES[iso2], file)
    ours = _ours_in_golden_layout(tables, COUNTRIES[iso2], LEVELS[file])
    key = [
        "Date of analysis",
        "Country",
        *[c for c in ("Level 1", "Area") if c in golden.columns],
        "Validity period",
        "Phase",
    ]
    assert not golden.duplicated(key).any(), (
        "golden key not unique: the join below would be ambiguous"
    )
    assert not ours.duplicated(key).any()

    merged = golden.merge(ours, on=key, how="outer", suffixes=("_hdx", "_ours"), indicator=True)
    one_sided = merged[merged["_merge"] != "both"]
    assert one_sided.empty, f"rows on one side only:\n{one_sided[[*key, '_merge']].head(20)}"
    assert len(merged) == GOLDEN_ROWS[(iso2, file)]
    for column in COMPARED:
        differ = merged[merged[f"{column}_hdx"] != merged[f"{column}_ours"]]
        assert differ.empty, (
            f"{column} differs:\n{differ[[*key, f'{column}_hdx', f'{column}_ours']].head(20)}"
        )


def test_every_row_is_in_a_golden_file(tables):
    """No row at a level or country the golden files do not cover: the 9 files are the whole table."""
    assert len(tables["ipc_phases"]) == sum(GOLDEN_ROWS.values()) == 15769
    assert set(tables["ipc_phases"]["level"]) == set(LEVELS.values())
    assert tables["ipc_analyses"]["country_iso2"].value_counts().to_dict() == {
        "AF": 12,
        "AO": 2,
        "CF": 12,
    }


def test_fake_condition_c_analysis_is_dropped(tables, recorded):
    """The made-up chronic analysis 99999999 (not in /analyses?type=A) reaches neither table."""
    fake = [a for a in _population_json(recorded, "AF") if str(a["id"]) == "99999999"]
    assert len(fake) == 1 and fake[0]["condition"] == "C"
    listed = {
        str(a["id"])
        for a in json.loads((recorded / "ipc-api" / "analyses-type-a.json").read_text())
    }
    assert "99999999" not in listed

    assert "99999999" not in set(tables["ipc_analyses"]["analysis_id"])
    assert "99999999" not in set(tables["ipc_phases"]["analysis_id"])
    assert "99999999" not in set(tables["ipc_phases"]["unit_id"])


def test_cf_projection_only_updates_have_no_current_rows(tables, recorded):
    """CF analyses whose current_period_dates is empty have projection rows and no 'current' rows."""
    projection_only = {
        str(a["id"]) for a in _population_json(recorded, "CF") if not a["current_period_dates"]
    }
    assert projection_only == {"24988845", "23886697", "15803011"}

    phases = tables["ipc_phases"][tables["ipc_phases"]["analysis_id"].isin(projection_only)]
    assert projection_only <= set(tables["ipc_analyses"]["analysis_id"])
    assert set(phases["analysis_id"]) == projection_only
    assert "current" not in set(phases["period"])
    assert "first_projection" in set(phases["period"])


def test_validation_of_real_data_gives_only_the_known_warnings(tables):
    """Real data validates without errors; its rounding discrepancies are exactly the measured warnings."""
    analyses = validate("ipc_analyses", tables["ipc_analyses"], run_id="t", source="ipc_api")
    phases = validate("ipc_phases", tables["ipc_phases"], run_id="t", source="ipc_api")
    assert (analyses.errors, analyses.warnings) == (0, 0)
    assert analyses.data is not None and len(analyses.data) == 26
    assert phases.errors == 0
    assert phases.data is not None and len(phases.data) == 15769

    rejects = phases.rejects
    assert set(rejects["severity"]) == {"warning"}
    assert rejects["check_name"].value_counts().to_dict() == {
        "national_equals_sum_of_areas": 42,
        "phases_1_to_5_add_up_to_all": 17,
        "phase_3plus_equals_3_4_5": 12,
    }
    # Each check flags the total it compares against.
    flagged_phase = rejects["row_key"].str.extract(r"phase=([^,]+)$")[0]
    assert set(flagged_phase[rejects["check_name"] == "phases_1_to_5_add_up_to_all"]) == {"all"}
    assert set(flagged_phase[rejects["check_name"] == "phase_3plus_equals_3_4_5"]) == {"3+"}
    national_keys = rejects.loc[rejects["check_name"] == "national_equals_sum_of_areas", "row_key"]
    assert national_keys.str.contains("level=national").all()
    assert rejects["fetch_id"].isin({"t/ipc_api/2", "t/ipc_api/3", "t/ipc_api/4"}).all()


def test_known_discrepancy_is_flagged_on_its_row(tables, recorded):
    """CF 12135625, Nana-mambéré, current: phases 1-5 sum to 266,258 against a published 271,692."""
    # By hand from population-country-cf.json: 92,375 + 135,846 + 24,452 + 13,585 + 0 = 266,258;
    # 271,692 - 266,258 = 5,434 > tolerance max(1,000, 1% of 271,692 = 2,717).
    area = next(
        a
        for analysis in _population_json(recorded, "CF")
        if analysis["id"] == "12135625"
        for g in analysis["groups"]
        for a in g["areas"]
        if a["id"] == "12135628"
    )
    assert area["estimated_population"] == 271692
    assert sum(area[f"phase{n}_population"] for n in range(1, 6)) == 266258

    phases = validate("ipc_phases", tables["ipc_phases"], run_id="t", source="ipc_api")
    hit = phases.rejects[phases.rejects["row_key"].str.contains("unit_id=12135628,", regex=False)]
    assert len(hit) == 1
    reject = hit.iloc[0]
    assert reject["check_name"] == "phases_1_to_5_add_up_to_all"
    assert reject["severity"] == "warning"
    assert reject["row_key"] == (
        "source=ipc_api, analysis_id=12135625, level=area, unit_id=12135628, period=current, phase=all"
    )
    assert reject["column_name"] == "population"
    assert reject["value"] == "271692"
    assert reject["fetch_id"] == "t/ipc_api/4"
    row = tables["ipc_phases"].iloc[int(reject["row_number"])]
    assert (row["unit_name"], row["phase"], row["population"]) == ("Nana-mambéré", "all", 271692)
