"""The export writers on a real demo-replay warehouse that also holds hostile press claims:
XLSX read back with openpyxl, CSV and JSON parsed back, Parquet read back by DuckDB."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from openpyxl import load_workbook

from aggregator import hxl
from aggregator.export import (
    LICENCES,
    ExportError,
    Readme,
    datasets,
    export_all,
    provenance,
    read,
    write_csv,
    write_json,
    write_parquet,
    write_xlsx,
)
from aggregator.sources import SOURCES
from tests.conftest import curated_copy, refresh_demo

HOSTILE = (
    '=HYPERLINK("http://evil","x")',
    "+1",
    "-2+3",
    "@SUM(A1)",
    "<script>alert(1)</script>",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# 32,070 killed were reported on 2024-03-22: a claim of 40,000 overstates by 7,930.
OVERSTATED = 40000
DIFFERENCE = 32070 - OVERSTATED


def write_hostile_claims(path: Path) -> Path:
    """A claims file whose quotes a spreadsheet would run as formulas or a browser as script."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["claim_id", "published_on", "outlet", "quote", "metric", "geo", "value", "unit"]
        )
        for n, quote in enumerate(HOSTILE, start=1):
            writer.writerow(
                [
                    f"hostile-{n}",
                    "2024-03-22",
                    "Test outlet",
                    quote,
                    "casualties.killed.cumulative",
                    "PSE",
                    OVERSTATED,
                    "people",
                ]
            )
    return path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    data = curated_copy(tmp_path_factory.mktemp("export") / "data")
    hostile = write_hostile_claims(data.parent / "hostile.csv")
    return refresh_demo(data, [hostile]).warehouse


@pytest.fixture(scope="module")
def con(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        yield connection


def _rows(con, name: str) -> tuple[list[str], list[tuple]]:
    cursor = con.execute(f'select * from "{name}" order by all')
    return [d[0] for d in cursor.description], cursor.fetchall()


def _in_excel(value):
    """What a warehouse value must read back as from the XLSX."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return value


SHEETS = ("figures", "claim_checks", "press_claims", "runs", "fetches", "aid_trucks", "appeals")


@pytest.fixture(scope="module")
def workbook(con, tmp_path_factory):
    sheets = {name: read(con, name) for name in SHEETS}
    sheets["checks: [PSE]/2024?*\\ with a long name"] = sheets["claim_checks"]
    path = tmp_path_factory.mktemp("xlsx") / "export.xlsx"
    titles = write_xlsx(
        path,
        sheets,
        readme=Readme("Claims checked, Gaza", as_of=date(2024, 3, 22), notes=("A note.",)),
        provenance=provenance(con, sheets.values()),
    )
    return path, titles


def test_xlsx_sheets_equal_the_warehouse_tables_with_their_types(con, workbook):
    path, titles = workbook
    book = load_workbook(path)
    for name in SHEETS:
        columns, rows = _rows(con, name)
        sheet = book[titles[name]]
        cells = list(sheet.iter_rows())
        assert [c.value for c in cells[0]] == columns
        assert len(cells) - 1 == len(rows), name
        for row, expected in zip(cells[1:], rows, strict=True):
            for cell, value, column in zip(row, expected, columns, strict=True):
                where = f"{name}.{column} {cell.coordinate}"
                if value is None:
                    assert cell.value is None, where
                elif isinstance(value, bool):
                    assert cell.data_type == "b" and cell.value is value, where
                elif isinstance(value, int | float):
                    assert cell.data_type == "n", where
                    assert isinstance(cell.value, int | float), where
                    # openpyxl writes 16 significant digits (Excel shows 15)
                    assert cell.value == pytest.approx(value, rel=1e-15, abs=0), where
                elif isinstance(value, date):
                    assert isinstance(cell.value, datetime), where
                    assert cell.number_format.startswith("yyyy-mm-dd"), where
                    # Excel keeps times as fractions of a day: equal to the millisecond
                    assert abs(cell.value - _in_excel(value)) < timedelta(milliseconds=1), where
                else:
                    assert cell.data_type == "s" and cell.value == _in_excel(value), where


def test_dates_and_times_have_their_own_formats(workbook):
    path, _ = workbook
    book = load_workbook(path)
    figures = book["figures"]
    header = [c.value for c in figures[1]]
    start = figures.cell(row=2, column=header.index("period_start") + 1)
    assert start.is_date and start.number_format == "yyyy-mm-dd"
    runs = book["runs"]
    header = [c.value for c in runs[1]]
    started = runs.cell(row=2, column=header.index("started_at") + 1)
    assert started.is_date and started.number_format == "yyyy-mm-dd hh:mm:ss"


def test_xlsx_layout_readme_provenance_frozen_header_autofilter(con, workbook):
    path, titles = workbook
    book = load_workbook(path)
    assert book.sheetnames[0] == "README" and book.sheetnames[-1] == "Provenance"
    assert book.sheetnames[1:-1] == list(titles.values())
    for title in titles.values():
        sheet = book[title]
        assert sheet.freeze_panes == "A2", title
        assert (
            sheet.auto_filter.ref
            == f"A1:{sheet.cell(1, sheet.max_column).column_letter}{sheet.max_row}"
        )
        assert all(c.font.b for c in sheet[1]), title
        widths = [sheet.column_dimensions[c.column_letter].width for c in sheet[1]]
        assert all(8 <= w <= 60 for w in widths), (title, widths)
    readme = [
        [c for c in row if c is not None] for row in book["README"].iter_rows(values_only=True)
    ]
    assert readme[0] == ["Claims checked, Gaza"]
    assert ["As of", datetime(2024, 3, 22)] in readme
    listed = {row[0]: row[1] for row in readme if len(row) >= 2 and row[0] in book.sheetnames}
    assert listed["figures"] == con.execute("select count(*) from figures").fetchone()[0]
    descriptions = {row[0]: row[2] for row in readme if len(row) == 3}
    for name in ("runs", "figures"):
        assert descriptions[name] == datasets()[name].description
    text = "\n".join(" ".join(map(str, row)) for row in readme)
    for source in ("ipc_api", "ipc_hdx", "hapi", "fts", "unrwa_trucks", "casualties"):
        assert f"{source} {LICENCES[source].terms} {LICENCES[source].attribution}" in text
    assert "IPC terms of use" in text and "CC BY 4.0" in text and "A note." in text
    provenance_rows = list(book["Provenance"].iter_rows(values_only=True))
    header = list(provenance_rows[0])
    assert header[:5] == ["source", "url", "published_on", "fetched_at", "sha256"]
    by_id = {row[header.index("fetch_id")]: row for row in provenance_rows[1:]}
    for fetch_id, url, sha256 in con.execute(
        "select fetch_id, url, sha256 from fetches where fetch_id in (select fetch_id from figures)"
    ).fetchall():
        assert by_id[fetch_id][1] == url and by_id[fetch_id][4] == sha256


def test_sheet_names_are_made_valid_for_excel(workbook):
    _, titles = workbook
    title = titles["checks: [PSE]/2024?*\\ with a long name"]
    assert len(title) <= 31 and not re.search(r"[\[\]:*?/\\]", title)
    assert len({t.lower() for t in titles.values()}) == len(titles)


def test_hostile_text_is_never_a_formula_in_xlsx(workbook):
    path, titles = workbook
    book = load_workbook(path)
    sheet = book[titles["press_claims"]]
    header = [c.value for c in sheet[1]]
    quotes = {
        row[header.index("claim_id")].value: row[header.index("quote")]
        for row in sheet.iter_rows(min_row=2)
    }
    for n, original in enumerate(HOSTILE, start=1):
        cell = quotes[f"hostile-{n}"]
        assert cell.data_type == "s"
        expected = original if original.startswith("<") else "'" + original
        assert cell.value == expected
    with zipfile.ZipFile(path) as archive:
        for member in archive.namelist():
            if member.startswith("xl/worksheets/"):
                assert "<f>" not in archive.read(member).decode(), member


def test_negative_numbers_stay_numbers_in_xlsx(workbook):
    path, titles = workbook
    sheet = load_workbook(path)[titles["claim_checks"]]
    header = [c.value for c in sheet[1]]
    differences = {
        row[header.index("claim_id")].value: row[header.index("difference")]
        for row in sheet.iter_rows(min_row=2)
    }
    cell = differences["hostile-1"]
    assert cell.data_type == "n" and cell.value == DIFFERENCE < 0


def _csv(frame, **options) -> bytes:
    out = io.BytesIO()
    write_csv(frame, out, **options)
    return out.getvalue()


def test_csv_neutralises_formulas_and_keeps_negative_numbers(con):
    records = list(csv.DictReader(io.StringIO(_csv(read(con, "claim_checks")).decode())))
    hostile = {r["claim_id"]: r for r in records if r["claim_id"].startswith("hostile-")}
    for n, original in enumerate(HOSTILE, start=1):
        row = hostile[f"hostile-{n}"]
        assert row["quote"] == (original if original.startswith("<") else "'" + original)
        assert row["difference"] == str(DIFFERENCE)
        assert row["verdict"] == "overstates"


def test_csv_cells_dates_booleans_and_missing(con):
    columns, rows = _rows(con, "aid_trucks")
    records = list(csv.reader(io.StringIO(_csv(read(con, "aid_trucks")).decode())))
    assert records[0] == columns
    first = dict(zip(columns, records[1], strict=True))
    expected = dict(zip(columns, rows[0], strict=True))
    assert first["received_on"] == expected["received_on"].isoformat()
    assert first["partial_data"] == ("true" if expected["partial_data"] else "false")
    assert first["trucks"] == str(expected["trucks"])
    assert len(records) == len(rows) + 1


def test_csv_hxl_row_follows_the_header(con):
    lines = list(csv.reader(io.StringIO(_csv(read(con, "figures"), hxl=True).decode())))
    tags = dict(zip(lines[0], lines[1], strict=True))
    assert tags == {
        "metric": "#indicator+code",
        "geo": "#country+code",
        "area": "#loc+name",
        "period_start": "#date+start",
        "period_end": "#date+end",
        "period_kind": "",
        "value": "#indicator+value+num",
        "unit": "#indicator+unit",
        "published_on": "#date+reported",
        "source": "#meta+source",
        "dataset_ref": "#meta+dataset",
        "fetch_id": "#meta+fetch",
        "caveat": "#description+caveat",
        "url": "#meta+url",
    }
    assert lines[2][0] != "" and not lines[2][0].startswith("#")
    assert len(lines) == con.execute("select count(*) from figures").fetchone()[0] + 2


def test_hxl_tags_of_a_table_of_its_own(con):
    needs = read(con, "humanitarian_needs")
    row = dict(zip(needs.columns, hxl.tags(needs.columns, "humanitarian_needs"), strict=True))
    assert row["population"] == "#population+num" and row["location_code"] == "#country+code"
    phases = read(con, "ipc_phases")
    row = dict(zip(phases.columns, hxl.tags(phases.columns, "ipc_phases"), strict=True))
    assert row["population"] == "#affected+num" and row["phase"] == "#severity+v_ipc"


def test_hxl_tags_are_valid_and_name_real_columns(con):
    tag = re.compile(r"^#[a-z][a-z0-9_]*(\+[a-z][a-z0-9_]*)*$")
    columns = {
        (t, c)
        for t, c in con.execute(
            "select table_name, column_name from information_schema.columns"
        ).fetchall()
    }
    names = {c for _, c in columns}
    for column, value in hxl.TAGS.items():
        assert tag.match(value), value
        assert column in names, f"HXL tag for {column}, which no table or view has"
    for table, own in hxl.TABLE_TAGS.items():
        for column, value in own.items():
            assert (table, column) in columns, (table, column)
            assert value is None or tag.match(value), value


def test_bom_only_for_excel(con):
    frame = read(con, "metrics")
    assert _csv(frame, excel=True).startswith(b"\xef\xbb\xbfmetric,")
    assert _csv(frame).startswith(b"metric,")


def test_json_records_equal_the_warehouse(con):
    out = io.BytesIO()
    write_json(read(con, "claim_checks"), out)
    records = json.loads(out.getvalue())
    columns, rows = _rows(con, "claim_checks")
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        assert list(record) == columns
        for column, value in zip(columns, row, strict=True):
            if isinstance(value, date):
                assert record[column] == value.isoformat()
            else:
                assert record[column] == value, column
    hostile = next(r for r in records if r["claim_id"] == "hostile-1")
    assert hostile["quote"] == HOSTILE[0]  # JSON is data, not a spreadsheet: kept as quoted


def _same(con, name: str, parquet: str, *, hive: bool = False) -> int:
    """Rows of a Parquet read-back, after checking it equals the table both ways."""
    columns = ", ".join(f'"{c}"' for c in _rows(con, name)[0])
    source = f'select {columns} from "{name}"'
    back = f"select {columns} from read_parquet('{parquet}', hive_partitioning={str(hive).lower()})"
    assert con.execute(f"select count(*) from ({source} except all {back})").fetchone()[0] == 0
    assert con.execute(f"select count(*) from ({back} except all {source})").fetchone()[0] == 0
    counts = con.execute(
        f"select (select count(*) from ({source})), (select count(*) from ({back}))"
    )
    n, m = counts.fetchone()
    assert n == m, name
    return n


def test_parquet_of_each_table_and_view_equals_it(con, tmp_path):
    for name in datasets():
        path = tmp_path / f"{name}.parquet"
        write_parquet(con, name, path)
        _same(con, name, str(path))
    described = con.execute(f"describe select * from '{tmp_path / 'figures.parquet'}'").fetchall()
    assert {r[0]: r[1] for r in described}["period_start"] == "DATE"


@pytest.fixture(scope="module")
def package(con, tmp_path_factory):
    directory = tmp_path_factory.mktemp("all") / "export"
    descriptor = export_all(con, directory)
    return directory, descriptor


def test_export_all_partitions_by_source_and_country(con, package):
    directory, _ = package
    assert (directory / "figures" / "source=ipc_api" / "geo=PSE").is_dir()
    assert (directory / "ipc_phases" / "source=ipc_hdx" / "country_iso3=PSE").is_dir()
    assert (directory / "hapi_food_security" / "source=hapi" / "location_code=PSE").is_dir()
    assert (directory / "casualties_daily" / "source=casualties").is_dir()
    assert not list((directory / "casualties_daily").glob("*/*=*"))  # no country column
    assert (directory / "claim_checks" / "geo=PSE").is_dir()  # no source column
    assert (directory / "metrics" / "data_0.parquet").is_file()  # neither
    for name in datasets():
        _same(con, name, str(directory / name / "**" / "*.parquet"), hive=True)


def test_export_all_reads_back_with_partition_values(con, package):
    directory, _ = package
    sql = (
        f"select source, geo, count(*) from read_parquet('{directory}/figures/**/*.parquet', "
        "hive_partitioning=true) group by all order by all"
    )
    assert (
        con.execute(sql).fetchall()
        == con.execute(
            "select source, geo, count(*) from figures group by all order by all"
        ).fetchall()
    )


def test_datapackage_lists_every_table_with_its_fields(con, package):
    directory, descriptor = package
    assert json.loads((directory / "datapackage.json").read_text()) == descriptor
    resources = {r["name"]: r for r in descriptor["resources"]}
    assert set(resources) == set(datasets())
    listed = set()
    for name, resource in resources.items():
        assert resource["format"] == "parquet"
        columns = [r[0] for r in con.execute(f'describe "{name}"').fetchall()]
        assert [f["name"] for f in resource["schema"]["fields"]] == columns
        for path in resource["path"]:
            assert (directory / path).is_file() and path.startswith(f"{name}/")
            listed.add(path)
    assert listed == {p.relative_to(directory).as_posix() for p in directory.rglob("*.parquet")}
    fields = {f["name"]: f for f in resources["ipc_phases"]["schema"]["fields"]}
    schema = datasets()["ipc_phases"].columns
    assert fields["population"]["description"] == schema["population"]
    assert fields["population"]["type"] == "integer"
    assert fields["period_start"]["type"] == "date"
    assert fields["fraction"]["type"] == "number"
    assert resources["ipc_phases"]["schema"]["primaryKey"] == list(datasets()["ipc_phases"].key)
    assert {f["type"] for f in resources["runs"]["schema"]["fields"]} >= {"datetime", "integer"}
    assert resources["figures"]["hivePartitioning"] == ["source", "geo"]
    licences = " ".join(entry["title"] for entry in descriptor["licenses"])
    assert "IPC terms of use" in licences and "CC BY 4.0" in licences


def test_export_all_replaces_an_earlier_export_and_nothing_else(con, tmp_path):
    directory = tmp_path / "export"
    export_all(con, directory)
    (directory / "stale.parquet").write_bytes(b"old")
    export_all(con, directory)
    assert not (directory / "stale.parquet").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no temporary left
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(ExportError, match="not an earlier export"):
        export_all(con, other)
    assert (other / "cat.jpg").read_bytes() == b"\xff\xd8"


def test_a_failed_export_leaves_the_earlier_one_and_no_half_directory(con, warehouse, tmp_path):
    """A copy of the warehouse whose figures view cannot be read (the table it reads, its
    storage, is gone): the tables before it are written, then the export fails, and the
    directory still holds the earlier export, with no temporary directory left beside it."""
    directory = tmp_path / "export"
    export_all(con, directory)
    before = sorted(p.relative_to(directory) for p in directory.rglob("*"))
    broken = tmp_path / "broken.duckdb"
    shutil.copyfile(warehouse, broken)
    with duckdb.connect(str(broken)) as writable:
        writable.execute("drop table figures_stored")
    with duckdb.connect(str(broken), read_only=True) as damaged:
        with pytest.raises(ExportError, match="exporting figures failed"):
            export_all(damaged, directory)
        with pytest.raises(ExportError, match="exporting figures failed"):
            export_all(damaged, tmp_path / "new")
    assert sorted(p.relative_to(directory) for p in directory.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.duckdb", "export"]


def test_every_source_has_its_licence():
    assert set(SOURCES) <= set(LICENCES)
