"""`aggregator refresh --claims` and `aggregator compare`, run as real processes on a demo
replay in a temporary data directory."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess

import pytest

from tests.conftest import DEMO, curated_copy

from .test_refresh_cli import AGGREGATOR


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*AGGREGATOR, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict[str, str]:
    data = curated_copy(tmp_path_factory.mktemp("compare") / "data")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("IPC_API_KEY", "AGGREGATOR_WAREHOUSE")},
        "AGGREGATOR_DATA_DIR": str(data),
        "AGGREGATOR_HAPI_PAUSE": "0",
    }
    extra = data.parent / "more-claims.csv"
    extra.write_text(
        "claim_id,published_on,outlet,quote,metric,geo,value,unit,comparator\n"
        "extra-1,2024-03-22,Test outlet,nearly 32 thousand killed,casualties.killed.cumulative,"
        "PSE,30000,people,gt\n"
    )
    done = _run(
        env,
        "refresh",
        "--replay",
        str(DEMO),
        "-s",
        "ipc_api",
        "-s",
        "casualties",
        "-s",
        "reference",
        "-s",
        "claims",
        "--claims",
        str(extra),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def test_refresh_loads_data_claims_and_the_extra_file(demo_env):
    done = _run(demo_env, "compare", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    ids = {r["claim_id"] for r in rows}
    assert "extra-1" in ids and "2024-03-22-gaza-killed" in ids and len(ids) == 9
    killed = next(r for r in rows if r["claim_id"] == "2024-03-22-gaza-killed")
    assert (killed["verdict"], killed["official_value"], killed["published_on"]) == (
        "consistent",
        "32070",
        "2024-03-22",
    )


def test_table_is_for_reading(demo_env):
    done = _run(demo_env, "compare", "--country", "PS")
    assert done.returncode == 0, done.stderr
    assert "more than 32,000" in done.stdout and "32,070" in done.stdout and "+70" in done.stdout
    assert "projection 2024-03-01 to 2024-07-31" in done.stdout
    assert "ISR" not in done.stdout and "oct7" not in done.stdout


def test_claims_file_checked_without_storing_it(demo_env, tmp_path):
    path = tmp_path / "draft.csv"
    path.write_text(
        "claim_id,published_on,outlet,quote,metric,geo,value,unit\n"
        "draft-1,2024-03-22,Draft,30 percent in famine,ipc.phase5.share,PSE,30,percent\n"
    )
    done = _run(demo_env, "compare", "--claims", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)
    assert (row["claim_id"], row["verdict"], row["other_period_value"]) == (
        "draft-1",
        "matches_other_period",
        0.3,
    )
    stored = _run(demo_env, "compare", "--format", "csv")
    assert "draft-1" not in stored.stdout


def test_claimreview_output(demo_env):
    done = _run(demo_env, "compare", "--format", "claimreview", "--reviewer", "An NGO")
    reviews = json.loads(done.stdout)
    assert {r["@type"] for r in reviews} == {"ClaimReview"}
    assert {r["author"]["name"] for r in reviews} == {"An NGO"}


def test_as_of_before_the_data_leaves_only_no_official_figure(demo_env):
    done = _run(demo_env, "compare", "--as-of", "2024-01-01", "--format", "csv")
    verdicts = {r["verdict"] for r in csv.DictReader(io.StringIO(done.stdout))}
    assert verdicts == {"no_official_figure"}


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--as-of", "22/03/2024"], 2, "--as-of must be a date as YYYY-MM-DD"),
        (["--country", "Atlantis"], 1, "unknown country 'Atlantis'"),
        (["--claims", "/nowhere/claims.csv"], 1, "/nowhere/claims.csv"),
    ],
)
def test_usage_errors_are_clear(demo_env, args, code, message):
    done = _run(demo_env, "compare", *args)
    assert done.returncode == code and message in done.stderr, done.stderr


def test_bad_claims_file_names_line_and_field(demo_env, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "claim_id,published_on,outlet,quote,metric,geo,value,unit\n"
        "b1,2024-03-22,W,q,casualties.killed.cumulative,PSE,lots,people\n"
    )
    done = _run(demo_env, "compare", "--claims", str(path))
    assert done.returncode == 1
    assert "bad.csv line 2" in done.stderr and "field value" in done.stderr


def test_no_warehouse(tmp_path):
    env = {**os.environ, "AGGREGATOR_DATA_DIR": str(tmp_path / "empty")}
    env.pop("AGGREGATOR_WAREHOUSE", None)
    done = _run(env, "compare")
    assert done.returncode == 1 and "no warehouse" in done.stderr and "make demo" in done.stderr


def test_bad_claims_file_fails_the_claims_source_only(demo_env, tmp_path):
    """On refresh, a bad claims file fails source claims with file, line and field; the stored
    claims stay as they were and other sources publish."""
    env = {**demo_env}
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "claim_id,published_on,outlet,quote,metric,geo,value,unit\n"
        "b1,2024-03-22,W,q,casualties.killed.cumulative,PSE,32000,people\n"
        "b2,2024-3-22,W,q,casualties.killed.cumulative,PSE,32000,people\n"
    )
    done = _run(
        env,
        "refresh",
        "--replay",
        str(DEMO),
        "-s",
        "claims",
        "-s",
        "reference",
        "--claims",
        str(bad),
    )
    assert done.returncode == 1
    assert "bad.csv line 3" in done.stdout + done.stderr
    assert "published_on" in done.stdout + done.stderr
    status = _run(env, "sql", "select count(*) as n from press_claims", "--format", "csv")
    assert status.stdout.splitlines()[1] == "9"
