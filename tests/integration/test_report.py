"""`aggregator report` on a fresh replay of the demo, run as a real process: the HTML opened in
Debian's headless Chromium (no request but the file, no console error, the key figures in the
page, a hostile claim shown as text), the PDF turned into page images by pdftoppm and read
back by pdftotext, the XLSX and CSVs read back by openpyxl and csv.

The demo's claims get two hostile ones: a quote holding a <script> element and a quote a
spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import ctypes.util
import os
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from PIL import Image, ImageStat

from aggregator.geo import country
from aggregator.report.data import gather
from tests.conftest import curated_copy, refresh_demo

from .test_refresh_cli import AGGREGATOR

AS_OF = "2024-03-22"
SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("https://evil.example/","more than 32,000 killed")'
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-default-apps",
]
HOSTILE_CLAIMS = (
    "claim_id,published_on,outlet,url,speaker,quote,metric,geo,value,unit,comparator\n"
    f'hostile-script,2024-03-22,Test outlet,,Someone,"{SCRIPT} more than 32,000 killed",'
    "casualties.killed.cumulative,PSE,32000,people,gt\n"
    'hostile-formula,2024-03-22,Test outlet,https://example.org/a,Someone,"'
    + FORMULA.replace('"', '""')
    + '",casualties.killed.cumulative,PSE,32000,people,gt\n'
)
HAS_PANGO = ctypes.util.find_library("pango-1.0") is not None


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    data = curated_copy(tmp_path_factory.mktemp("report") / "data")
    (data / "claims" / "hostile.csv").write_text(HOSTILE_CLAIMS)
    refresh_demo(data)
    return data


def _run(data: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("IPC_API_KEY", "AGGREGATOR_WAREHOUSE")},
        "AGGREGATOR_DATA_DIR": str(data),
    }
    return subprocess.run(
        [*AGGREGATOR, "report", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def report(data_dir) -> Path:
    """The report folder, every format (no PDF where pango is missing: those tests skip)."""
    formats = "html,pdf,xlsx,csv" if HAS_PANGO else "html,xlsx,csv"
    out = data_dir.parent / "reports"
    done = _run(data_dir, "--country", "PSE", "--as-of", AS_OF, "--out", str(out), "-f", formats)
    assert done.returncode == 0, done.stderr
    folder = out / f"PSE-{AS_OF}"
    assert done.stdout.split() == [
        str(folder / name)
        for name in (
            "report.html",
            *(["report.pdf"] if HAS_PANGO else []),
            "report.xlsx",
            "key_figures.csv",
            "claims.csv",
            "ipc_phases.csv",
            "aid_trucks.csv",
            "casualties.csv",
            "appeals.csv",
            "provenance.csv",
        )
    ]
    return folder


class Page(HTMLParser):
    """What a static look at the page needs: tags with their attributes, and the text."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def test_html_loads_nothing_and_is_accessible(report):
    text = (report / "report.html").read_text()
    page = Page(text)
    assert page.all("html") == [{"lang": "en"}]
    assert page.all("script") == [] and page.all("link") == [] and page.all("img") == []
    assert not [a for _, a in page.tags if "src" in a or "srcset" in a]
    assert text.count("url(") == text.count("url(#") and "@import" not in text
    hrefs = [a["href"] for a in page.all("a")]
    assert all(h.startswith(("#", "https://", "http://")) for h in hrefs), hrefs
    assert "@media print" in text and "break-before: page" in text
    tables = text.count("<table")
    assert tables >= 4 and text.count("<caption>") == tables
    scopes = [a.get("scope") for a in page.all("th")]
    assert scopes and set(scopes) <= {"col", "row"}, "every header cell has a scope"
    charts = page.all("svg")
    assert [c.get("role") for c in charts if "aria-labelledby" in c] == ["img"] * 4
    for chart in charts:
        if "aria-labelledby" in chart:
            for ref in chart["aria-labelledby"].split():
                assert f'id="{ref}"' in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and SCRIPT not in text


def test_html_in_headless_chromium(report):
    if not CHROMIUM.is_file():
        pytest.skip(f"Debian chromium not installed at {CHROMIUM} (CI installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip package playwright")
    url = (report / "report.html").as_uri()
    requests, errors, dialogs = [], [], []
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url, wait_until="load")
            shot = report / "screenshot.png"
            page.screenshot(path=str(shot), full_page=True)
            body = page.inner_text("body")
            scripts = page.evaluate("document.querySelectorAll('script').length")
            hostile = page.locator("td.quote", has_text=SCRIPT).count()
            key = page.locator("table.figures").inner_text()
        finally:
            browser.close()
    assert requests == [url]
    assert errors == [] and dialogs == [] and scripts == 0
    assert hostile == 1, "the hostile quote is shown as text"
    with Image.open(shot) as image:
        assert ImageStat.Stat(image.convert("L")).var[0] > 500, "the page is not blank"
    assert "32,070" in key and "1,107,000" in key and "100%" in key and "74,298" in key
    assert "no funding figure published" in key and "$3,422,855,934" in key
    assert "Consistent with the official figure" in body and "State of Palestine" in body


@pytest.mark.skipif(not HAS_PANGO, reason="WeasyPrint needs pango (libpango-1.0-0)")
def test_pdf_pages_and_text(report):
    if not (shutil.which("pdftoppm") and shutil.which("pdftotext")):
        pytest.skip("poppler-utils (pdftoppm, pdftotext) not installed (CI installs them)")
    pdf = report / "report.pdf"
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(report / "page")], check=True)
    pages = sorted(report.glob("page-*.png"))
    assert len(pages) >= 4
    for png in pages:
        with Image.open(png) as image:
            assert ImageStat.Stat(image.convert("L")).var[0] > 10, f"{png.name} is blank"
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    squeezed = "".join(text.split())  # table cells wrap: compare without the line breaks
    assert "8claimsaboutStateofPalestineagainsttheofficialfigures" in squeezed
    assert "Blinken" in text and "32,070" in text and "1,107,000" in text
    assert "Consistentwiththeofficialfigure" in squeezed and "Provenanceofthedata" in squeezed
    assert SCRIPT in squeezed, "the hostile quote is printed as text"


def test_xlsx_holds_the_tables_with_formulas_neutralised(report):
    book = openpyxl.load_workbook(report / "report.xlsx")
    assert book.sheetnames[0] == "README" and book.sheetnames[-1] == "Provenance"
    assert {"key_figures", "claims", "ipc_phases", "aid_trucks", "casualties", "appeals"} <= set(
        book.sheetnames
    )
    figures = _records(book["key_figures"])
    killed = next(r for r in figures if r["metric"] == "casualties.killed.cumulative")
    assert (killed["value"], killed["source"]) == (32070, "casualties")
    claims = {r["claim_id"]: r for r in _records(book["claims"])}
    assert claims["2024-03-22-gaza-killed"]["verdict"] == "consistent"
    assert claims["hostile-script"]["quote"].startswith(SCRIPT)
    formula = book["claims"].cell(
        row=2 + list(claims).index("hostile-formula"),
        column=1 + list(claims["hostile-formula"]).index("quote"),
    )
    assert formula.data_type == "s" and formula.value == "'" + FORMULA
    provenance = _records(book["Provenance"])
    assert {"casualties", "ipc_api", "fts", "claims"} <= {r["source"] for r in provenance}
    assert all(len(r["sha256"]) == 64 for r in provenance)


def _records(sheet) -> list[dict]:
    rows = sheet.iter_rows(values_only=True)
    header = next(rows)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_csvs_hold_the_tables_with_formulas_neutralised(report):
    def read(name: str) -> list[dict[str, str]]:
        with open(report / name, encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))

    claims = {r["claim_id"]: r for r in read("claims.csv")}
    assert claims["hostile-formula"]["quote"] == "'" + FORMULA
    assert claims["hostile-script"]["quote"].startswith(SCRIPT)
    assert claims["2024-03-22-blinken-100pct"]["official_value"] == "1"
    figures = {r["figure"]: r for r in read("key_figures.csv")}
    phase5 = next(r for f, r in figures.items() if f.startswith("IPC Phase 5 (Catastrophe)"))
    assert (phase5["value"], phase5["period_kind"], phase5["published_on"]) == (
        "1107000",
        "projection",
        "2024-03-18",
    )
    assert [r["source"] for r in read("aid_trucks.csv")] == [
        "reference",
        "reference",
        "unrwa_trucks",
    ]
    assert len(read("provenance.csv")) >= 6


def test_figures_are_those_known_on_the_day(data_dir):
    """A week earlier: that day's casualty count, IPC from the mirror released before the API,
    no war-time truck count yet (the pre-war average stays in its own row), and the FTS appeal
    flagged as read later."""
    warehouse = data_dir / "warehouse.duckdb"
    data = gather(warehouse, country("PSE"), date(2024, 3, 15))
    rows = data.headline.set_index("figure")
    killed = rows.loc["Killed since 7 October 2023 (cumulative)"]
    assert (killed["value"], killed["published_on"].date()) == (31490, date(2024, 3, 15))
    phase5 = rows.loc["IPC Phase 5 (Catastrophe), people"]
    assert (phase5["value"], phase5["source"], phase5["other_period_value"]) == (
        1107000,
        "ipc_hdx",
        677000,
    )
    assert pd.isna(rows.loc["Aid trucks entering per day (latest known)"]["value"])
    assert rows.loc["Aid trucks per day before the war (reference)"]["value"] == 500
    appeal = rows.loc["Appeal requirements"]
    assert appeal["published_later"] and appeal["dataset_ref"] == "fts:plan:FPSE24"


def test_claims_file_and_a_country_without_data(data_dir, tmp_path):
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "claim_id,published_on,outlet,quote,metric,geo,value,unit,comparator\n"
        "only-one,2024-03-22,Test outlet,over 30 thousand dead,casualties.killed.cumulative,"
        "PSE,30000,people,gt\n"
    )
    out = tmp_path / "reports"
    done = _run(
        data_dir,
        "-c",
        "PS",
        "--as-of",
        AS_OF,
        "--claims",
        str(claims),
        "--out",
        str(out),
        "-f",
        "html",
    )
    assert done.returncode == 0, done.stderr
    text = (out / f"PSE-{AS_OF}" / "report.html").read_text()
    assert "only-one" not in text and "over 30 thousand dead" in text and "Blinken" not in text
    assert "1 claim about State of Palestine" in text and "claims.csv (sha256 " in text
    empty = _run(data_dir, "-c", "AFG", "--as-of", AS_OF, "--out", str(out), "-f", "html,csv")
    assert empty.returncode == 0, empty.stderr
    page = (out / f"AFG-{AS_OF}" / "report.html").read_text()
    assert page.count("no figure published") >= 6 and "<svg" not in page
    assert "No figures for Afghanistan up to" in page


def test_bad_usage_exits_2_and_names_the_option(data_dir):
    done = _run(data_dir, "-c", "PSE", "-f", "html,docx")
    assert done.returncode == 2 and "--format" in done.stderr and "docx" in done.stderr
    done = _run(data_dir, "-c", "PSE", "--as-of", "22/03/2024")
    assert done.returncode == 2 and "--as-of" in done.stderr


def test_csv_options_bom_and_hxl(data_dir, tmp_path):
    """CSVs are plain UTF-8 by default; --excel adds the BOM and --hxl the hashtag row."""
    plain, tagged = tmp_path / "plain", tmp_path / "tagged"
    base = ["--country", "PSE", "--as-of", AS_OF, "-f", "csv"]
    assert _run(data_dir, *base, "--out", str(plain)).returncode == 0
    done = _run(data_dir, *base, "--out", str(tagged), "--excel", "--hxl")
    assert done.returncode == 0, done.stderr
    first = (plain / f"PSE-{AS_OF}" / "casualties.csv").read_bytes()
    second = (tagged / f"PSE-{AS_OF}" / "casualties.csv").read_bytes()
    assert not first.startswith(b"\xef\xbb\xbf") and second.startswith(b"\xef\xbb\xbf")
    hxl_row = second.decode("utf-8-sig").splitlines()[1]
    assert "#" in hxl_row and all(cell == "" or cell.startswith("#") for cell in hxl_row.split(","))
