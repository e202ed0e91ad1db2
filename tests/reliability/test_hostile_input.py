"""Hostile input (issue 6, area "input"): what people and publishers put in files.

Every scenario runs the real `aggregator` command in a subprocess, on a copy of a warehouse
refreshed once from the demo snapshot, with its stdout and stderr written to files under the
scenario's tmp_path (the observe fixture searches them for the canary keys):

* formula and HTML text in the curated claims and reference CSVs: published as text, then
  neutralised in every CSV and XLSX the report and exports write, escaped in the HTML page;
* file names built from input (report folder, -o/--out/--all, --claims, rejects, raw store,
  recordings of links a server sends): refused, or kept inside the directory they belong in;
* a 100 MB curated CSV: refused before it is read, in bounded memory (peak RSS of the child
  process from os.wait4, a memory bound and not a time bound); the largest file accepted
  loads in bounded memory too;
* invalid UTF-8: the source fails with a message naming file, line and byte;
* `claims extract` on random text and on hostile HTML: finishes (a timeout that fails only
  on a hang), in bounded memory, with candidates or a clear error, never a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pytest

from aggregator.config import CURATED_MAX_BYTES
from aggregator.export.cells import FORMULA_STARTS
from bench.measure import LAUNCHER
from tests.conftest import LONG_TESTS, ROOT, curated_copy, refresh_demo
from tests.integration.loopback import Reply
from tests.integration.services import serve_all
from tests.integration.test_refresh_cli import AGGREGATOR

from .observe import fact_rows, rows_lost

AREA = "input"
AS_OF = "2024-03-22"
HANG = 120  # seconds: a child still running then has hung; it is killed and the test fails
RSS_BOUND = 400 * 1024 * 1024  # bytes of peak resident memory, generous for every command here


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    peak_rss: int  # bytes
    hung: bool

    def __str__(self) -> str:
        return (
            f"exit {self.code}, peak RSS {self.peak_rss / 2**20:.0f} MiB: {self.err.strip()[:300]}"
        )


def cli(data: Path, logs: Path, *args: str, cwd: Path | None = None) -> Run:
    """`aggregator ARGS` on data directory ``data``; stdout and stderr go to files in ``logs``
    (under tmp_path, so the canary scan reads them). The child's peak RSS comes from wait4."""
    logs.mkdir(parents=True, exist_ok=True)
    n = len(list(logs.glob("*.out")))
    out_path, err_path = logs / f"{n:02d}-{args[0]}.out", logs / f"{n:02d}-{args[0]}.err"
    environment = {k: v for k, v in os.environ.items() if k != "AGGREGATOR_WAREHOUSE"}
    environment.update(AGGREGATOR_DATA_DIR=str(data), AGGREGATOR_HAPI_PAUSE="0")
    usage_path = logs / f"{n:02d}-{args[0]}.usage.json"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        # Through bench's small launcher: a process spawned straight from this test process
        # would count this process's own peak (hundreds of MB by now) as its peak RSS.
        child = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", LAUNCHER, str(usage_path), *AGGREGATOR, *args],
            stdout=out,
            stderr=err,
            env=environment,
            cwd=cwd or data.parent,
            start_new_session=True,
        )
        hung = threading.Event()
        timer = threading.Timer(HANG, lambda: (hung.set(), os.killpg(child.pid, signal.SIGKILL)))
        timer.start()
        try:
            child.wait()
        finally:
            timer.cancel()
    out_text, err_text = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    if hung.is_set():
        return Run(child.returncode, out_text, err_text, 0, True)
    _, _, max_rss, status = json.loads(usage_path.read_text())
    # Linux reports kilobytes.
    return Run(os.waitstatus_to_exitcode(status), out_text, err_text, max_rss * 1024, False)


def _short(text: str, root: Path) -> str:
    """An error message for the record: paths relative to the scenario's tmp_path."""
    return text.strip().removeprefix("error: ").replace(f"{root}/", "")


def _bounded(run: Run) -> None:
    assert not run.hung, f"killed after {HANG} s: hung"
    assert run.peak_rss < RSS_BOUND, f"peak RSS {run.peak_rss / 2**20:.0f} MiB: {run}"
    assert "Traceback" not in run.err, run.err


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> Path:
    """A data directory with every source refreshed from the demo snapshot, built once."""
    data = curated_copy(tmp_path_factory.mktemp("hostile") / "data")
    refresh_demo(data)
    return data


@pytest.fixture
def data(baseline, tmp_path) -> Path:
    """This scenario's copy of the baseline data directory."""
    return Path(shutil.copytree(baseline, tmp_path / "data"))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


# --- Formula and HTML text in curated files ------------------------------------------------

HYPERLINK = '=HYPERLINK("https://evil.example/","more than 32,000 killed")'
SCRIPT = "<script>alert(1)</script>"
HOSTILE_CLAIMS = [
    {
        "claim_id": "hostile-formula",
        "outlet": '=HYPERLINK("https://evil.example/","Reuters")',
        "url": 'https://evil.example/"><script>alert(3)</script>',
        "speaker": "@SUM(1+1)*cmd|' /C calc'!A0",
        "attributed_to": "+cmd|' /C notepad'!A0",
        "quote": HYPERLINK,
        "notes": '-2+3+cmd|" /C calc"!A0',
    },
    {
        "claim_id": "hostile-script",
        "outlet": "Test outlet",
        "url": "",
        "speaker": '<img src=x onerror="alert(2)">',
        "attributed_to": "",
        "quote": f"{SCRIPT} more than 32,000 killed",
        "notes": "<style>body{display:none}</style>",
    },
    {
        "claim_id": "hostile-tab",
        "outlet": "@Outlet",
        "url": "",
        "speaker": "Someone",
        "attributed_to": "",
        "quote": "\t=1+1 more than 32,000 killed",  # the loader strips the tab: "=1+1 ..."
        "notes": "",
    },
]
REFERENCE_HEADER = (
    "metric,geo,area,value,unit,reference_date,published_on,publisher,document_title,url,"
    "page_or_quote,period_kind,notes"
)
HOSTILE_REFERENCE = {
    "publisher": '=HYPERLINK("https://evil.example","OCHA")',
    "document_title": '<script>alert("ref")</script> Flash Update #999',
    "url": 'https://evil.example/"onmouseover="alert(4)',
    "page_or_quote": '+SUM(A1:A9) "160 trucks a day"',
    "notes": "@cmd",
}


def _write_hostile_files(data: Path) -> None:
    claims = io.StringIO(newline="")
    columns = ["claim_id", "published_on", "outlet", "url", "speaker", "attributed_to", "quote"]
    columns += ["metric", "geo", "value", "unit", "comparator", "notes"]
    writer = csv.DictWriter(claims, columns, lineterminator="\n")
    writer.writeheader()
    for claim in HOSTILE_CLAIMS:
        writer.writerow(
            {
                **claim,
                "published_on": AS_OF,
                "metric": "casualties.killed.cumulative",
                "geo": "PSE",
                "value": "32000",
                "unit": "people",
                "comparator": "gt",
            }
        )
    (data / "claims" / "hostile.csv").write_text(claims.getvalue(), encoding="utf-8")
    reference = io.StringIO(newline="")
    writer = csv.writer(reference, lineterminator="\n")
    writer.writerow(REFERENCE_HEADER.split(","))
    r = HOSTILE_REFERENCE
    writer.writerow(
        ["aid.trucks.daily", "PSE", "", "160", "trucks_per_day", "2024-03-18", "2024-03-20"]
        + [r["publisher"], r["document_title"], r["url"], r["page_or_quote"], "observed"]
        + [r["notes"]]
    )
    (data / "reference" / "hostile.csv").write_text(reference.getvalue(), encoding="utf-8")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_formulas(path: Path) -> tuple[int, list[str]]:
    """Cells read, and cells a spreadsheet would run as a formula (text, not a number)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        cells = [c for row in csv.reader(handle) for c in row]
    bad = [c for c in cells if c.startswith(FORMULA_STARTS) and not _is_number(c)]
    return len(cells), bad


def _all_cells(csvs: list[Path], workbooks: list[Path]) -> set[str]:
    cells = set()
    for path in csvs:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            cells.update(c for row in csv.reader(handle) for c in row)
    for path in workbooks:
        book = openpyxl.load_workbook(path, read_only=True)
        cells.update(
            v
            for sheet in book
            for row in sheet.iter_rows(values_only=True)
            for v in row
            if isinstance(v, str)
        )
    return cells


def _xlsx_formulas(path: Path) -> tuple[int, list[str]]:
    book = openpyxl.load_workbook(path)  # not read-only: data_type "f" marks a formula cell
    cells = [c for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None]
    bad = [
        f"{c.parent.title}!{c.coordinate}: {c.value!r}"
        for c in cells
        if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith(FORMULA_STARTS))
    ]
    return len(cells), bad


class Page(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.styles: list[str] = []  # the text of <style> elements
        self._in_style = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        (self.styles if self._in_style else self.text).append(data)


def test_formula_and_html_in_curated_files_are_neutralised_in_every_output(data, tmp_path, observe):
    before = fact_rows(data / "warehouse.duckdb")
    _write_hostile_files(data)
    logs = tmp_path / "logs"
    loaded = cli(data, logs, "refresh", "--source", "claims", "--source", "reference")
    assert loaded.code == 0, loaded
    assert re.search(r"claims\s*│\s*published", loaded.out), loaded.out

    out = tmp_path / "out"
    report = cli(
        data,
        logs,
        "report",
        "-c",
        "PSE",
        "--as-of",
        AS_OF,
        "--out",
        str(out),
        "-f",
        "html,xlsx,csv",
    )
    assert report.code == 0, report
    exports = {
        "press_claims.xlsx": ("press_claims", "-f", "xlsx"),
        "reference_figures.csv": ("reference_figures", "-f", "csv"),
    }
    for name, args in exports.items():
        done = cli(data, logs, "export", *args, "-o", str(out / name))
        assert done.code == 0, done

    csvs, workbooks = sorted(out.rglob("*.csv")), sorted(out.rglob("*.xlsx"))
    assert len(csvs) >= 8 and len(workbooks) == 2
    csv_cells = xlsx_cells = 0
    for path in csvs:
        n, bad = _csv_formulas(path)
        csv_cells += n
        assert not bad, f"{path.name}: cells a spreadsheet would run: {bad}"
    for path in workbooks:
        n, bad = _xlsx_formulas(path)
        xlsx_cells += n
        assert not bad, f"{path.name}: formula cells: {bad}"
    hostile = [
        *(v for claim in HOSTILE_CLAIMS for v in claim.values() if v.startswith(FORMULA_STARTS)),
        *(v for v in HOSTILE_REFERENCE.values() if v.startswith(FORMULA_STARTS)),
    ]
    cells = _all_cells(csvs, workbooks)
    shown = {v.strip() for v in hostile if f"'{v.strip()}" in cells}
    assert HYPERLINK in shown and HOSTILE_REFERENCE["publisher"] in shown, shown

    html = (out / f"PSE-{AS_OF}" / "report.html").read_text(encoding="utf-8")
    page = Page(html)
    active = [t for t, _ in page.tags if t in ("script", "img", "iframe", "object", "embed")]
    handlers = [k for _, a in page.tags for k in a if k.lower().startswith("on")]
    hrefs = [a["href"] for tag, a in page.tags if tag == "a"]
    assert active == [] and handlers == [], (active, handlers)
    assert "display:none" not in "".join(page.styles), "a claim's <style> stays text"
    assert all(h.startswith(("#", "https://", "http://")) for h in hrefs), hrefs
    text = "".join(page.text)
    assert SCRIPT in text and '<script>alert("ref")</script>' in text, "shown as text"
    assert html.count("&lt;script&gt;") >= 2

    lost = rows_lost(before, data / "warehouse.duckdb")
    assert lost == 0
    observe.record(
        area=AREA,
        scenario="formula (=HYPERLINK, +, -, @, tab) and HTML/<script> text in claims and "
        "reference CSVs",
        expected="published as text; every CSV and XLSX of the report and exports neutralises "
        "formula text (leading apostrophe); the HTML report escapes it (no script, no event "
        "handler, links only http(s))",
        observed=f"{len(HOSTILE_CLAIMS)} claims and 1 reference row published; report and "
        f"exports: {len(csvs)} CSVs ({csv_cells:,} cells) and {len(workbooks)} XLSX "
        f"({xlsx_cells:,} cells) with 0 formula cells, {len(shown)} of {len(hostile)} hostile values "
        f"shown with an apostrophe; HTML: 0 script tags, 0 event handlers, {len(hrefs)} links "
        f"all http(s) or #, {html.count('&lt;script&gt;')} escaped <script>",
        rows_lost=lost,
    )


def test_compare_csv_neutralises_formula_text(data, tmp_path, observe):
    """`compare -f csv` writes claims text as the exporters do: no cell a spreadsheet runs."""
    _write_hostile_files(data)
    done = cli(
        data,
        tmp_path / "logs",
        "compare",
        "-f",
        "csv",
        "--claims",
        str(data / "claims" / "hostile.csv"),
    )
    assert done.code == 0, done
    path = tmp_path / "compare.csv"
    path.write_text(done.out, encoding="utf-8")
    checked, formulas = _csv_formulas(path)
    assert formulas == []
    observe.record(
        area="input",
        scenario="formula and HTML text in claims, through `compare -f csv`",
        expected="every formula-like cell written with an apostrophe",
        observed=f"{checked} cells checked, {len(formulas)} formula cells",
        rows_lost=0,
    )


# --- File names built from input -----------------------------------------------------------


def test_report_folder_is_named_from_the_resolved_country_and_date_only(data, tmp_path, observe):
    logs, out = tmp_path / "logs", tmp_path / "reports" / "inner"
    hostile = [
        ("--country", "../../x"),
        ("--country", "PSE/../../x"),
        ("--as-of", "2024-03-22/../../x"),
    ]
    messages = []
    for option, value in hostile:
        args = {"--country": "PSE", "--as-of": AS_OF, option: value}
        done = cli(
            data,
            logs,
            "report",
            *[a for kv in args.items() for a in kv],
            "--out",
            str(out),
            "-f",
            "html",
        )
        assert done.code == 2 and (option in done.err or "unknown country" in done.err), done
        messages.append(_short(done.err, tmp_path)[:60])
    assert not (tmp_path / "reports").exists(), "a refused report wrote nothing"
    named = cli(
        data,
        logs,
        "report",
        "-c",
        "Palestine, State of",
        "--as-of",
        AS_OF,
        "--out",
        str(out),
        "-f",
        "html",
    )
    assert named.code == 0, named
    assert [p.relative_to(tmp_path).as_posix() for p in _files(tmp_path / "reports")] == [
        f"reports/inner/PSE-{AS_OF}/report.html"
    ]
    observe.record(
        area=AREA,
        scenario="report --country/--as-of holding a path ('../../x', 'PSE/../../x', '2024-03-22/../../x')",
        expected="refused (exit 2) before anything is written; the folder is <ISO3>-<date> of "
        "the resolved country, inside --out",
        observed=f"{len(hostile)} values refused with exit 2 ({messages[0]!r}, "
        f"{messages[2]!r}); 'Palestine, State of' wrote only reports/inner/PSE-{AS_OF}/report.html",
        rows_lost=0,
    )


def test_output_paths_write_where_named_and_never_over_the_warehouse(data, tmp_path, observe):
    warehouse = data / "warehouse.duckdb"
    before = fact_rows(warehouse)
    logs = tmp_path / "logs"
    work = tmp_path / "work" / "a" / "b"
    work.mkdir(parents=True)
    article = work / "article.txt"
    article.write_text("The ministry said more than 32,000 people were killed in Gaza.\n")
    existing = _files(tmp_path)

    done = cli(data, logs, "export", "figures", "-o", "../../x.csv", cwd=work)
    assert done.code == 0, done
    done = cli(
        data,
        logs,
        "claims",
        "extract",
        "article.txt",
        "--published",
        AS_OF,
        "-o",
        "../../y.csv",
        cwd=work,
    )
    assert done.code == 0, done
    new = {p.relative_to(tmp_path).as_posix() for p in _files(tmp_path) - existing}
    assert {p for p in new if not p.startswith(("logs/", "data/logs/"))} == {
        "work/x.csv",
        "work/y.csv",
    }

    refused = []
    for option, args in [
        ("-o", ("export", "figures", "-o", str(warehouse))),
        (
            "-o",
            (
                "claims",
                "extract",
                str(article),
                "--published",
                AS_OF,
                "-o",
                f"{data}/../data/warehouse.duckdb.wal",
            ),
        ),
        ("--out", ("report", "-c", "PSE", "-f", "html", "--out", str(data / "raw"))),
    ]:
        done = cli(data, logs, *args)
        assert done.code == 2 and option in done.err, done
        refused.append(_short(done.err, tmp_path)[:80])
    done = cli(data, logs, "export", "--all", "-f", "parquet", str(data))
    assert done.code == 1 and "not an earlier export" in done.err, done
    lost = rows_lost(before, warehouse)  # fails on a warehouse that is no longer one
    assert lost == 0
    observe.record(
        area=AREA,
        scenario="-o/--out/--all paths: '../../x.csv' from a subdirectory, the warehouse "
        "file itself, its WAL, the raw store, the data directory",
        expected="an output goes exactly where it is named and nowhere else; a path naming "
        "the warehouse (or its WAL/lock) or inside the raw store is refused (exit 2); --all "
        "never replaces a directory that is not an earlier export",
        observed=f"export and claims extract wrote work/x.csv and work/y.csv only; "
        f"{len(refused)} refused with exit 2 (e.g. {refused[0]!r}; {refused[2]!r}); "
        "--all onto the data directory refused (not an earlier export)",
        rows_lost=lost,
    )


def test_names_from_data_and_claims_files_stay_inside_the_data_directory(data, tmp_path, observe):
    warehouse = data / "warehouse.duckdb"
    before = fact_rows(warehouse)
    logs = tmp_path / "logs"
    outside = tmp_path / "incoming" / "sub"
    outside.mkdir(parents=True)
    # A file name a spreadsheet or a browser would run, and rows whose values look like paths.
    claims = outside / "=cmd|' calc'!A0 <img src=x onerror=alert(5)>.csv"
    claims.write_text(
        "claim_id,published_on,outlet,quote,metric,geo,value,unit\n"
        "../../../../etc/passwd,2024-03-22,../../out,more than 32000 killed,"
        "casualties.killed.cumulative,PSE,32000,people\n"
        "ok-1,2024-03-22,Outlet,../../x more than 32000 killed,casualties.killed.cumulative,"
        "../../x,32000,people\n",
        encoding="utf-8",
    )
    existing = _files(tmp_path)
    relative = os.path.relpath(claims, data.parent)
    done = cli(data, logs, "refresh", "--source", "claims", "--claims", f"incoming/../{relative}")
    assert done.code == 1 and "claims" in done.err, done
    new = sorted(
        p.relative_to(data).as_posix()
        for p in _files(tmp_path) - existing
        if p.is_relative_to(data)
    )
    outside_data = [
        p
        for p in _files(tmp_path) - existing
        if not p.is_relative_to(data) and not p.is_relative_to(logs)
    ]
    assert outside_data == [], outside_data
    raw = [p for p in new if p.startswith("raw/")]
    rejects = [p for p in new if p.startswith("rejects/")]
    assert raw and all(re.fullmatch(r"raw/sha256/[0-9a-f]{2}/[0-9a-f]{64}", p) for p in raw), raw
    assert len(rejects) == 1 and re.fullmatch(
        r"rejects/[0-9A-Z]+-[0-9a-f]+/claims\.press_claims\.csv", rejects[0]
    ), rejects
    assert "../../../../etc/passwd" in (data / rejects[0]).read_text(encoding="utf-8")
    assert set(new) - set(raw) - set(rejects) <= {"logs/aggregator.log", "warehouse.duckdb.wal"}
    lost = rows_lost(before, warehouse)
    assert lost == 0
    observe.record(
        area=AREA,
        scenario="--claims FILE named \"=cmd|' calc'!A0 <img src=x onerror=alert(5)>.csv\" via "
        "'incoming/../', with claim_id, outlet and geo values shaped like '../../x'",
        expected="values never become paths: the raw store names bodies by sha256, the "
        "rejects file is rejects/<run>/<source>.<table>.csv; nothing written outside the "
        "data directory; the bad rows fail validation and the last good claims stay",
        observed=f"claims failed validation (exit 1); new files: {len(raw)} raw body named "
        f"by sha256, {rejects[0].split('/', 2)[0]}/<run>/claims.press_claims.csv holding the "
        f"'../../../../etc/passwd' value as data, the log; 0 files outside the data directory",
        rows_lost=lost,
    )


def test_recordings_of_hostile_links_stay_inside_the_recording(tmp_path, monkeypatch, observe):
    data, record, logs = tmp_path / "data", tmp_path / "rec" / "inner", tmp_path / "logs"
    hostile_links = [
        "/api.hpc.tools/../../../../escape-fts?year=../../../y",
        "/data.humdata.org/%2e%2e/%2E%2E/..%2F..%2Fescape-hdx",
    ]
    with serve_all(data, monkeypatch) as played:
        first = cli(data, logs, "refresh", "--source", "fts", "--source", "unrwa_trucks")
        assert first.code == 0, first
        before = fact_rows(data / "warehouse.duckdb")
        base = played.loopback.url

        def next_link(seen, normal):
            if "/v1/public/fts/flow" in seen.path and "page=2" not in seen.target:
                body = normal.body.replace(
                    f"{base}/api.hpc.tools/v1/public/fts/flow?countryISO3=PSE&year=2020&page=2".encode(),
                    (base + hostile_links[0]).encode(),
                )
                return Reply(200, body, {"Content-Type": "application/json"})
            return None

        def resource_url(seen, normal):
            if "package_show" in seen.target and "truck" in seen.target:
                body = normal.body.replace(
                    f"{base}/data.humdata.org/dataset/".encode(),
                    (base + hostile_links[1] + "/").encode(),
                )
                return Reply(200, body, {"Content-Type": "application/json"})
            return None

        played.faults["api.hpc.tools"] = next_link
        played.faults["data.humdata.org"] = resource_url
        existing = _files(tmp_path)
        done = cli(
            data,
            logs,
            "refresh",
            "--source",
            "fts",
            "--source",
            "unrwa_trucks",
            "--record",
            str(record),
        )
        seen = [s.target for s in played.loopback.seen()]
    assert done.code == 1 and "fts" in done.err and "unrwa_trucks" in done.err, done
    assert any("escape-fts" in t for t in seen) and any("escape-hdx" in t for t in seen), seen
    new = _files(tmp_path) - existing
    recorded = [p for p in new if p.is_relative_to(record)]
    strays = [
        p
        for p in new
        if not p.is_relative_to(record)
        and not p.is_relative_to(data)
        and not p.is_relative_to(logs)
    ]
    assert strays == [] and recorded, strays
    assert all(".." not in p.relative_to(record).parts for p in recorded)
    assert all(p.resolve().is_relative_to(record.resolve()) for p in recorded)
    escaped = [p.relative_to(record).as_posix() for p in recorded if "escape" in str(p)]
    shown = sorted({e.rsplit(".", 1)[0].removesuffix(".meta") for e in escaped})
    assert len(escaped) >= 2, sorted(p.relative_to(record).as_posix() for p in recorded)
    lost = rows_lost(before, data / "warehouse.duckdb")
    assert lost == 0
    observe.record(
        area=AREA,
        scenario="refresh --record with an FTS nextLink and HDX resource URLs holding '..' "
        "and %2e%2e/%2F segments",
        expected="every recording is written inside the --record directory under a name "
        "without '..'; the sources whose links lead nowhere fail and keep their last good "
        "rows",
        observed=f"{len(recorded)} recording files, all inside rec/inner (the hostile ones "
        f"as {' and '.join(e[:60] for e in shown)}); 0 files elsewhere; fts and unrwa_trucks failed "
        "(exit 1)",
        rows_lost=lost,
    )


# --- Size and encoding -----------------------------------------------------------------------

CLAIM_LINE = (
    'c{0},2024-03-22,Outlet {0},https://example.org/{0},Someone,"more than 32,000 people were '
    'killed, the ministry said in statement {0}",casualties.killed.cumulative,PSE,32000,people,gt\n'
)
CLAIM_HEADER = "claim_id,published_on,outlet,url,speaker,quote,metric,geo,value,unit,comparator\n"


def _claims_file(path: Path, size: int) -> int:
    """A valid claims file of about ``size`` bytes (never more); returns its row count."""
    rows, written = 0, len(CLAIM_HEADER)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(CLAIM_HEADER)
        block, lines = [], 0
        while True:
            line = CLAIM_LINE.format(rows + lines)
            if written + len(line) > size:
                break
            block.append(line)
            written += len(line)
            lines += 1
            if len(block) == 10_000:
                handle.write("".join(block))
                rows, block, lines = rows + lines, [], 0
        handle.write("".join(block))
        rows += lines
    return rows


def test_hundred_megabyte_curated_files_are_refused_in_bounded_memory(data, tmp_path, observe):
    warehouse = data / "warehouse.duckdb"
    before = fact_rows(warehouse)
    logs = tmp_path / "logs"
    big = tmp_path / "big.csv"
    _claims_file(big, 100 * 2**20)
    shutil.copy(big, data / "reference" / "big-reference.csv")
    cap = f"{CURATED_MAX_BYTES:,}-byte limit"

    try:
        done = cli(
            data,
            logs,
            "refresh",
            "--source",
            "claims",
            "--source",
            "reference",
            "--claims",
            str(big),
        )
        compared = cli(data, logs, "compare", "--claims", str(big))
    finally:  # 200 MB the canary scan need not read, nor pytest keep
        big.unlink()
        (data / "reference" / "big-reference.csv").unlink()
    _bounded(done)
    assert done.code == 1, done
    assert re.search(rf"claims failed: .*big\.csv: [\d,]+ bytes, more than the {cap}", done.err), (
        done
    )
    assert re.search(rf"reference failed: .*big-reference\.csv: .*{cap}", done.err), done
    assert max(p.stat().st_size for p in (data / "raw").rglob("*") if p.is_file()) < 2**20
    _bounded(compared)
    assert compared.code == 1 and "big.csv" in compared.err and cap in compared.err, compared
    lost = rows_lost(before, warehouse)
    assert lost == 0
    peak = max(done.peak_rss, compared.peak_rss)
    observe.record(
        area=AREA,
        scenario="a 100 MB claims file (--claims, compare --claims) and a 100 MB reference CSV",
        expected=f"refused before it is read, naming the file and the cap "
        f"(AGGREGATOR_CURATED_MAX_BYTES, default {CURATED_MAX_BYTES:,}); peak RSS under "
        f"{RSS_BOUND // 2**20} MiB; no copy in the raw store; last good rows kept",
        observed=f"refresh exit 1, claims and reference failed "
        f"({_short(done.err.splitlines()[-1], tmp_path)[:150]}); "
        f"compare exit 1; peak RSS {peak / 2**20:.0f} MiB; largest raw body under 1 MiB",
        rows_lost=lost,
    )


def test_largest_accepted_claims_file_loads_in_bounded_memory(data, tmp_path, observe):
    logs = tmp_path / "logs"
    near = tmp_path / "near.csv"
    rows = _claims_file(near, CURATED_MAX_BYTES)
    done = cli(data, logs, "refresh", "--source", "claims", "--claims", str(near))
    _bounded(done)
    assert done.code == 0, done
    loaded = cli(
        data,
        logs,
        "sql",
        "select count(*) as n from press_claims where file = 'near.csv'",
        "-f",
        "csv",
    )
    assert loaded.out.split() == ["n", str(rows)], loaded
    observe.record(
        area=AREA,
        scenario=f"a claims file just under the cap ({near.stat().st_size:,} bytes)",
        expected=f"published whole, peak RSS under {RSS_BOUND // 2**20} MiB",
        observed=f"published {rows:,} claims; peak RSS {done.peak_rss / 2**20:.0f} MiB",
        rows_lost=0,
    )


def test_invalid_utf8_fails_naming_file_line_and_byte(data, tmp_path, observe):
    warehouse = data / "warehouse.duckdb"
    before = fact_rows(warehouse)
    logs = tmp_path / "logs"
    (data / "claims" / "latin1.csv").write_bytes(
        CLAIM_HEADER.encode()
        + CLAIM_LINE.format(1).encode()
        + CLAIM_LINE.format(2).replace("Someone", "Jos\xe9").encode("latin-1")
    )
    reference = (ROOT / "data" / "reference" / "unrwa-situation-reports.csv").read_bytes()
    (data / "reference" / "broken.csv").write_bytes(
        reference.replace(b"UNRWA", b"UNRWA\xff\xfe", 1)
    )
    done = cli(data, logs, "refresh", "--source", "claims", "--source", "reference")
    assert done.code == 1, done
    claims_error = re.search(
        r"claims failed: .*latin1\.csv line 3: not UTF-8 text: byte 0xe9 at byte [\d,]+", done.err
    )
    reference_error = re.search(
        r"reference failed: .*broken\.csv line 2: not UTF-8 text: byte 0xff", done.err
    )
    assert claims_error and reference_error, done.err
    article = tmp_path / "article.txt"
    article.write_bytes(b"First line.\nMore than 32,000 people were killed.\nJos\xe9 said so.\n")
    extracted = cli(data, logs, "claims", "extract", str(article), "--published", AS_OF)
    assert extracted.code == 1 and "article.txt line 3" in extracted.err, extracted
    lost = rows_lost(before, warehouse)
    assert lost == 0
    observe.record(
        area=AREA,
        scenario="invalid UTF-8 (Latin-1 é, stray 0xff 0xfe) in a claims CSV, a reference CSV "
        "and an article",
        expected="the source fails with a message naming the file, the line and the byte; "
        "the last good rows stay",
        observed=f"{_short(claims_error.group(0), data.parent)!r}; "
        f"{_short(reference_error.group(0), data.parent)!r}; claims extract: "
        f"{_short(extracted.err, tmp_path)!r}",
        rows_lost=lost,
    )


# --- claims extract on random text and hostile HTML ---------------------------------------


def _random_text(size: int) -> str:
    """Common words with the words of claims among them, as tests/unit/test_claim_extraction."""
    from tests.unit.test_claim_extraction import _random_text as words

    return words(size)


@pytest.mark.parametrize(
    "megabytes",
    [
        1,
        pytest.param(
            10, marks=pytest.mark.skipif(not LONG_TESTS, reason="AGGREGATOR_LONG_TESTS=1")
        ),
    ],
)
def test_claims_extract_on_random_text(megabytes, tmp_path, observe):
    article = tmp_path / "random.txt"
    article.write_text(_random_text(megabytes * 1_000_000), encoding="utf-8")
    out = tmp_path / "claims.csv"
    # The 10 MB run holds some 80,000 candidate rows at once: it gets more room.
    bound = RSS_BOUND if megabytes == 1 else 640 * 2**20
    done = cli(
        tmp_path / "data",
        tmp_path / "logs",
        "claims",
        "extract",
        str(article),
        "--published",
        AS_OF,
        "-o",
        str(out),
    )
    assert not done.hung and "Traceback" not in done.err, done
    assert done.peak_rss < bound, done
    assert done.code == 0, done
    with out.open(encoding="utf-8", newline="") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    assert rows > megabytes * 4000
    observe.record(
        area=AREA,
        scenario=f"claims extract on {megabytes} MB of random text",
        expected=f"finishes (no hang within {HANG} s), peak RSS under {bound // 2**20} MiB, "
        "a claims CSV of candidates",
        observed=f"exit 0, {rows:,} candidate rows, peak RSS {done.peak_rss / 2**20:.0f} MiB",
        rows_lost=0,
    )


PARAGRAPH = "<p>The ministry said more than 32,000 people were killed in Gaza.</p>"


def _hostile_html(kind: str) -> bytes:
    if kind == "deep nesting":
        return (
            "<html><body>" + "<div>" * 100_000 + PARAGRAPH + "</div>" * 100_000 + "</body></html>"
        ).encode()
    if kind == "10 MB attribute":
        return (
            '<html><body><article title="'
            + "x" * 10_000_000
            + '">'
            + PARAGRAPH * 5
            + "</article></body></html>"
        ).encode()
    if kind == "script and style":
        return (
            "<html><head><style>"
            + "p{color:red}" * 100_000
            + "</style></head><body><script>"
            + "var s = '99,999 killed';" * 100_000
            + "</script><article>"
            + PARAGRAPH * 5
            + "</article></body></html>"
        ).encode()
    if kind == "entity expansion":
        entities = '<!ENTITY lol0 "lol">' + "".join(
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
        )
        return (
            f"<!DOCTYPE html [{entities}]><html><body><p>&lol9; &lol9; &lol9;</p>"
            + PARAGRAPH * 5
            + "</body></html>"
        ).encode()
    if kind == "invalid bytes":
        rng = random.Random(6)
        return (
            b"<html><body><p>"
            + rng.randbytes(2_000_000)
            + b"</p>"
            + PARAGRAPH.encode() * 5
            + b"</body></html>"
        )
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "deep nesting",
        "10 MB attribute",
        "script and style",
        "entity expansion",
        "invalid bytes",
    ],
)
def test_claims_extract_on_hostile_html(kind, tmp_path, observe):
    page = tmp_path / "page.html"
    page.write_bytes(_hostile_html(kind))
    out = tmp_path / "claims.csv"
    done = cli(
        tmp_path / "data",
        tmp_path / "logs",
        "claims",
        "extract",
        str(page),
        "--published",
        AS_OF,
        "-o",
        str(out),
    )
    _bounded(done)
    if done.code == 0:
        with out.open(encoding="utf-8", newline="") as handle:
            values = [r["value"] for r in csv.DictReader(handle)]
        assert "99999" not in values, "figures inside <script> are not article text"
        outcome = f"exit 0, {len(values)} candidates ({', '.join(sorted(set(values))[:4])})"
    else:
        assert done.code == 1 and done.err.startswith("error: claims_extract: cannot parse"), done
        assert str(page) in done.err
        outcome = f"exit 1, {_short(done.err, tmp_path)!r}"
    observe.record(
        area=AREA,
        scenario=f"claims extract on hostile HTML: {kind} ({page.stat().st_size:,} bytes)",
        expected=f"finishes (no hang within {HANG} s), peak RSS under {RSS_BOUND // 2**20} MiB, "
        "candidates from the article text or a clear error naming the file, no traceback",
        observed=f"{outcome}; peak RSS {done.peak_rss / 2**20:.0f} MiB",
        rows_lost=0,
    )
