"""`aggregator export`, run as a real process on a demo replay (with hostile press claims
loaded through `refresh --claims`) in a temporary data directory."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from aggregator.export import datasets
from tests.conftest import DEMO, curated_copy
from tests.unit.test_export import DIFFERENCE, HOSTILE, write_hostile_claims

from .test_refresh_cli import AGGREGATOR


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*AGGREGATOR, *args], env=env, capture_output=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict[str, str]:
    data = curated_copy(tmp_path_factory.mktemp("export-cli") / "data")
    hostile = write_hostile_claims(data.parent / "hostile.csv")
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("IPC_API_KEY", "AGGREGATOR_WAREHOUSE")},
        "AGGREGATOR_DATA_DIR": str(data),
        "AGGREGATOR_HAPI_PAUSE": "0",
    }
    done = _run(env, "refresh", "--replay", str(DEMO), "--claims", str(hostile))
    assert done.returncode == 0, done.stdout + done.stderr
    return env


def _warehouse(env: dict[str, str]) -> Path:
    return Path(env["AGGREGATOR_DATA_DIR"]) / "warehouse.duckdb"


def test_csv_to_stdout_with_hxl_row_and_no_bom(demo_env):
    done = _run(demo_env, "export", "figures", "--hxl")
    assert done.returncode == 0, done.stderr
    assert not done.stdout.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(done.stdout.decode())))
    header, tags = lines[0], lines[1]
    assert header[:2] == ["metric", "geo"] and tags[:2] == ["#indicator+code", "#country+code"]
    assert tags[header.index("period_start")] == "#date+start"
    with duckdb.connect(str(_warehouse(demo_env)), read_only=True) as con:
        assert len(lines) - 2 == con.execute("select count(*) from figures").fetchone()[0]


def test_csv_for_excel_has_a_bom_and_neutralised_quotes(demo_env, tmp_path):
    target = tmp_path / "checks.csv"
    done = _run(demo_env, "export", "claim_checks", "--excel", "-o", str(target))
    assert done.returncode == 0, done.stderr
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfclaim_id,")
    rows = {r["claim_id"]: r for r in csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))}
    for n, original in enumerate(HOSTILE, start=1):
        row = rows[f"hostile-{n}"]
        assert row["quote"] == (original if original.startswith("<") else "'" + original)
        assert row["difference"] == str(DIFFERENCE)


def test_xlsx_file_has_readme_the_table_and_provenance(demo_env, tmp_path):
    target = tmp_path / "out" / "press_claims.xlsx"
    done = _run(demo_env, "export", "press_claims", "-f", "xlsx", "-o", str(target))
    assert done.returncode == 0, done.stderr
    book = load_workbook(target)
    assert book.sheetnames == ["README", "press_claims", "Provenance"]
    sheet = book["press_claims"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref.startswith("A1:")
    header = [c.value for c in sheet[1]]
    quotes = [row[header.index("quote")] for row in sheet.iter_rows(min_row=2)]
    hostile = [c for c in quotes if c.value.lstrip("'") in HOSTILE]
    assert len(hostile) == len(HOSTILE)
    assert all(c.data_type == "s" for c in hostile)
    assert [c.value for c in book["Provenance"][1]][:2] == ["source", "url"]
    assert book["Provenance"].max_row >= 2


def test_json_to_stdout(demo_env):
    done = _run(demo_env, "export", "claim_checks", "-f", "json")
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    hostile = next(r for r in records if r["claim_id"] == "hostile-1")
    assert hostile["quote"] == HOSTILE[0] and hostile["difference"] == DIFFERENCE
    assert hostile["reference_date"] == "2024-03-22"


def test_parquet_file_equals_the_table(demo_env, tmp_path):
    target = tmp_path / "ipc_phases.parquet"
    done = _run(demo_env, "export", "ipc_phases", "-f", "parquet", "-o", str(target))
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(_warehouse(demo_env)), read_only=True) as con:
        back = f"read_parquet('{target}')"
        assert con.execute(f"select count(*) from {back}").fetchone()[0] == 140
        for left, right in (("ipc_phases", back), (back, "ipc_phases")):
            sql = f"select count(*) from (from {left} except all from {right})"
            assert con.execute(sql).fetchone()[0] == 0


def test_all_as_partitioned_parquet_with_a_datapackage(demo_env, tmp_path):
    target = tmp_path / "lake"
    for _ in range(2):  # a second run replaces the first
        done = _run(demo_env, "export", "--all", "-f", "parquet", str(target))
        assert done.returncode == 0, done.stderr
    assert (target / "figures" / "source=casualties" / "geo=PSE").is_dir()
    package = json.loads((target / "datapackage.json").read_text())
    assert {r["name"] for r in package["resources"]} == set(datasets())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]
    with duckdb.connect() as con:
        sql = (
            f"select count(*) from read_parquet('{target}/figures/**/*.parquet', "
            "hive_partitioning=true) where source = 'casualties' and geo = 'PSE'"
        )
        assert con.execute(sql).fetchone()[0] == 60


def test_unknown_table_lists_the_known_ones(demo_env):
    done = _run(demo_env, "export", "figurez")
    assert done.returncode == 1 and done.stdout == b""
    message = done.stderr.decode()
    assert "no table or view named 'figurez'" in message
    assert "figures" in message and "claim_checks" in message and "ipc_phases" in message


def test_missing_warehouse(demo_env, tmp_path):
    missing = tmp_path / "nowhere.duckdb"
    done = _run(demo_env, "export", "figures", "--warehouse", str(missing))
    assert done.returncode == 1
    assert f"no warehouse at {missing}" in done.stderr.decode()
    done = _run(
        demo_env,
        "export",
        "--all",
        "-f",
        "parquet",
        str(tmp_path / "lake"),
        "--warehouse",
        str(missing),
    )
    assert done.returncode == 1 and not (tmp_path / "lake").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["figures", "-f", "xlsx"], "give -o PATH"),
        (["figures", "-f", "parquet"], "give -o PATH"),
        (["figures", "-f", "json", "--hxl"], "--hxl and --excel are for -f csv"),
        (["--all", "-f", "csv", "somewhere"], "--all writes Parquet"),
        ([], "name a table or view"),
    ],
)
def test_usage_errors(demo_env, args, message):
    done = _run(demo_env, "export", *args)
    assert done.returncode == 2
    assert message in done.stderr.decode()
