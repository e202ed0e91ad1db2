"""Reference figures: curated CSVs read through the Fetcher, malformed files named by file,
line and field, rule-breaking rows named by file and line in rejects."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from aggregator.config import HttpSettings
from aggregator.connectors import reference
from aggregator.errors import ConfigError, ParseError
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from aggregator.validate import validate
from tests.conftest import ROOT

HEADER = (
    "metric,geo,area,value,unit,reference_date,published_on,publisher,document_title,url,"
    "page_or_quote,period_kind,notes"
)
RAFAH = (
    'displacement.people,PSE,Rafah,1200000,people,2024-03-20,2024-03-22,UNRWA,"UNRWA Situation '
    'Report #93",https://www.unrwa.org/resources/reports/unrwa-situation-report-93,"Key points: '
    '""UNRWA estimates a total of 1.2 million people are now living"" in Rafah",,'
)
TRUCKS = (
    "aid.trucks.daily,PSE,,159,trucks_per_day,2024-03-17,2024-03-19,UNRWA,UNRWA Situation Report "
    "#92,https://www.unrwa.org/resources/reports/unrwa-situation-report-92,Key points,observed,"
    '"Average over 1-17 March 2024"'
)


def _extract(folder: Path, tmp_path: Path) -> tuple[pd.DataFrame, Fetcher]:
    settings = HttpSettings()
    with make_client(settings) as client:
        fetcher = Fetcher(
            client,
            source="reference",
            run_id="t",
            raw=RawStore(tmp_path / "raw"),
            settings=settings,
        )
        return reference.extract(fetcher, folder)["reference_figures"], fetcher


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "reference"
    folder.mkdir()
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def _parse_error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ParseError) as caught:
        _extract(_folder(tmp_path, bad=text), tmp_path)
    return str(caught.value)


def test_good_file_loads_with_file_line_and_defaults(tmp_path):
    """Rows keep their values, file name and line; an empty period_kind becomes observed."""
    table, fetcher = _extract(_folder(tmp_path, unrwa=f"{HEADER}\n{RAFAH}\n{TRUCKS}\n"), tmp_path)
    assert list(zip(table["metric"], table["value"], table["line"], strict=True)) == [
        ("displacement.people", 1_200_000.0, 2),
        ("aid.trucks.daily", 159.0, 3),
    ]
    assert set(table["file"]) == {"unrwa.csv"} and set(table["period_kind"]) == {"observed"}
    assert table.loc[0, "page_or_quote"].startswith('Key points: "UNRWA estimates')
    assert pd.isna(table.loc[1, "area"]) and pd.isna(table.loc[0, "notes"])
    checked = validate("reference_figures", table, run_id="t", source="reference")
    assert checked.data is not None and checked.rejects.empty


def test_every_file_is_recorded_as_a_fetch(tmp_path):
    """Each CSV is kept in the raw store with a fetch record; rows point to it."""
    folder = _folder(tmp_path, a=f"{HEADER}\n{RAFAH}\n", b=f"{HEADER}\n{TRUCKS}\n")
    table, fetcher = _extract(folder, tmp_path)
    listing, *files = fetcher.records
    assert listing.url == f"{folder.as_posix()}/*.csv"
    assert Path(listing.raw_path).read_text() == f"{folder / 'a.csv'}\n{folder / 'b.csv'}\n"
    assert [Path(r.url).name for r in files] == ["a.csv", "b.csv"]
    assert all(r.sha256 and Path(r.raw_path).is_file() for r in fetcher.records)
    assert list(table["fetch_id"]) == ["t/reference/2", "t/reference/3"]


def test_optional_columns_may_be_left_out(tmp_path):
    """A file without area, period_kind and notes columns still loads."""
    header = "metric,geo,value,unit,reference_date,published_on,publisher,document_title,url,page_or_quote"
    line = "aid.trucks.daily,PSE,500,trucks_per_day,2023-10-06,2023-12-07,OCHA,Flash Update #62,https://www.ochaopt.org/x,Key points"
    table, _ = _extract(_folder(tmp_path, ocha=f"{header}\n{line}\n"), tmp_path)
    assert table.loc[0, "period_kind"] == "observed" and pd.isna(table.loc[0, "area"])


def test_bad_number_names_file_line_and_field(tmp_path):
    """'1.2 million' on line 3 gives a ParseError naming the file, line 3 and the value field."""
    bad = TRUCKS.replace(",159,", ",1.2 million,")
    message = _parse_error(tmp_path, f"{HEADER}\n{RAFAH}\n{bad}\n")
    assert "bad.csv line 3" in message and "field value" in message and "1.2 million" in message


def test_bad_date_names_file_line_and_field(tmp_path):
    """A date not in YYYY-MM-DD form is named with its field and line."""
    bad = RAFAH.replace("2024-03-22", "22/03/2024")
    message = _parse_error(tmp_path, f"{HEADER}\n{bad}\n")
    assert "bad.csv line 2" in message and "field published_on" in message


def test_line_numbers_count_quoted_line_breaks(tmp_path):
    """A quote spanning two lines pushes the next row's line number down by one."""
    multi = RAFAH.replace("Key points: ", "Key points:\n")
    bad = TRUCKS.replace(",159,", ",n/a,")
    message = _parse_error(tmp_path, f"{HEADER}\n{multi}\n{bad}\n")
    assert "bad.csv line 4" in message


def test_missing_column_is_named(tmp_path):
    """A header without `published_on` is rejected naming that column and line 1."""
    header = HEADER.replace("published_on,", "")
    message = _parse_error(tmp_path, f"{header}\n")
    assert "bad.csv line 1" in message and "missing column(s) published_on" in message


def test_unknown_column_is_named(tmp_path):
    """A misspelt column is reported as unknown."""
    message = _parse_error(tmp_path, HEADER.replace("notes", "note") + "\n")
    assert "unknown column(s) 'note'" in message


def test_row_with_wrong_field_count_is_named(tmp_path):
    """A row with a missing comma is reported with its line and field count."""
    message = _parse_error(tmp_path, f"{HEADER}\n{RAFAH}\nPSE,1\n")
    assert "bad.csv line 3" in message and "2 fields where the header has 13" in message


def test_empty_file_is_a_parse_error(tmp_path):
    """An empty file names itself and says a header is expected."""
    message = _parse_error(tmp_path, "")
    assert "bad.csv" in message and "empty file" in message


def test_header_only_file_gives_no_rows(tmp_path):
    """A file with only the header is valid and adds nothing."""
    table, _ = _extract(_folder(tmp_path, empty=HEADER + "\n"), tmp_path)
    assert table.empty and list(table.columns) == reference.COLUMNS


def test_missing_directory_fails_naming_it(tmp_path):
    """No reference directory is an error naming the directory, not an empty success."""
    with pytest.raises(ConfigError) as caught:
        _extract(tmp_path / "nowhere", tmp_path)
    assert str(tmp_path / "nowhere") in str(caught.value)


def test_rule_breaking_rows_are_rejected_with_file_and_line(tmp_path):
    """Unknown metric, wrong unit and a duplicate figure each name file and line in row_key."""
    unknown = RAFAH.replace("displacement.people", "displacement.rafah.people")
    wrong_unit = TRUCKS.replace("trucks_per_day", "trucks")
    text = f"{HEADER}\n{RAFAH}\n{unknown}\n{wrong_unit}\n{RAFAH}\n"
    table, _ = _extract(_folder(tmp_path, unrwa=text), tmp_path)
    checked = validate("reference_figures", table, run_id="t", source="reference")
    assert checked.data is None
    by_check = {
        check: sorted(int(k.rsplit("line=", 1)[1]) for k in group["row_key"])
        for check, group in checked.rejects.groupby("check_name")
    }
    assert by_check["known_metric"] == [3]
    assert by_check["unit_is_the_metric_unit"] == [4]
    assert by_check["multiple_fields_uniqueness"] == [2, 5]
    assert all("file=unrwa.csv" in k for k in checked.rejects["row_key"])


def test_share_above_one_and_published_before_reference_are_rejected(tmp_path):
    """A share of 95 (percent, not fraction) and an observed figure published early fail."""
    share = (
        "ipc.phase3plus.share,PSE,,95,share,2024-03-15,2024-03-18,IPC,Special Brief,"
        "https://www.ipcinfo.org/x,p. 1,,"
    )
    early = TRUCKS.replace("2024-03-19", "2024-03-01")
    table, _ = _extract(_folder(tmp_path, x=f"{HEADER}\n{share}\n{early}\n"), tmp_path)
    checked = validate("reference_figures", table, run_id="t", source="reference")
    assert set(checked.rejects["check_name"]) == {
        "share_between_0_and_1",
        "observed_not_published_before_reference_date",
    }


def test_the_bundled_reference_files_load_and_validate(tmp_path):
    """data/reference/*.csv parse and pass every check, with the figures the issue quotes."""
    table, _ = _extract(ROOT / "data" / "reference", tmp_path)
    checked = validate("reference_figures", table, run_id="t", source="reference")
    assert checked.data is not None and checked.rejects.empty
    areas = table["area"].fillna("")
    figures = set(zip(table["metric"], areas, table["value"], table["published_on"], strict=True))
    assert ("displacement.people", "Rafah", 1_200_000.0, date(2024, 3, 22)) in figures
    assert ("aid.trucks.daily", "", 500.0, date(2023, 12, 7)) in figures
