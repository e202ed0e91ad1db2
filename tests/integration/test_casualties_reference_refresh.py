"""The casualties and reference sources through the real pipeline into a real DuckDB file:
the demo snapshot, the reference directory under AGGREGATOR_DATA_DIR, vintages, rejects."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from aggregator.config import load_settings
from aggregator.pipeline import refresh
from aggregator.sources import RefreshOptions, resolve
from tests.conftest import DEMO, ROOT

HEADER = (
    "metric,geo,area,value,unit,reference_date,published_on,publisher,document_title,url,"
    "page_or_quote,period_kind,notes\n"
)


def _rows(settings, query):
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(query).fetchall()


def _run(settings, *names):
    results = refresh(resolve(list(names)), RefreshOptions(settings=settings), replay=DEMO)
    return {r.source: r for r in results}


@pytest.fixture
def settings(env):
    """A fresh data directory holding a copy of the bundled reference files."""
    shutil.copytree(ROOT / "data" / "reference", env / "reference")
    return load_settings()


def test_demo_casualties_load_and_answer_the_founding_claim(settings):
    """The demo replay publishes 30 days; 2024-03-22 gives 32,070 killed (reported)."""
    result = _run(settings, "casualties")["casualties"]
    assert (result.outcome, result.rows, result.warnings) == ("published", 30, 0)
    assert _rows(
        settings,
        "select killed_cum, killed_cum_gap_filled, injured_cum from casualties_daily "
        "where report_date = '2024-03-22'",
    ) == [(32070, False, 74298)]
    assert _rows(
        settings,
        "select distinct f.url from casualties_daily c join fetches f using (fetch_id)",
    ) == [("https://data.techforpalestine.org/api/v2/casualties_daily.json",)]


def test_second_casualties_refresh_is_not_modified(settings):
    """Replaying again gets a 304 for the ETag and leaves the rows as they were."""
    _run(settings, "casualties")
    result = _run(settings, "casualties")["casualties"]
    assert (result.outcome, result.not_modified) == ("not_modified", 1)
    assert _rows(settings, "select count(*) from casualties_daily") == [(30,)]


def test_reference_figures_publish_from_the_data_dir(settings):
    """The reference source reads $AGGREGATOR_DATA_DIR/reference and records each file fetched."""
    result = _run(settings, "reference")["reference"]
    assert result.outcome == "published", result.message
    assert _rows(
        settings,
        "select value, unit, reference_date::varchar, published_on::varchar, publisher "
        "from reference_figures where metric = 'displacement.people' and area = 'Rafah'",
    ) == [(1_200_000.0, "people", "2024-03-20", "2024-03-22", "UNRWA")]
    fetched = _rows(
        settings, "select distinct f.url from reference_figures r join fetches f using (fetch_id)"
    )
    assert fetched == [(str(settings.reference_dir / "unrwa-situation-reports.csv"),)]


def test_a_revised_figure_is_a_new_vintage(settings):
    """A later published_on for the same figure adds a row; the earlier vintage stays."""
    _run(settings, "reference")
    revised = (
        "displacement.people,PSE,Rafah,1400000,people,2024-03-20,2024-03-29,UNRWA,Revision,"
        "https://www.unrwa.org/x,p. 1,,test row\n"
    )
    (settings.reference_dir / "revision.csv").write_text(HEADER + revised)
    _run(settings, "reference")
    assert _rows(
        settings,
        "select published_on::varchar, value from reference_figures "
        "where metric = 'displacement.people' order by 1",
    ) == [("2024-03-22", 1_200_000.0), ("2024-03-29", 1_400_000.0)]


def test_unchanged_curated_files_are_not_modified_and_an_added_one_publishes(settings):
    """Curated files count as unchanged when the list of them and each one's bytes are those of
    the last good refresh: the table is left alone. A file added is a change."""
    first = _run(settings, "reference")["reference"]
    again = _run(settings, "reference")["reference"]
    assert (again.outcome, again.not_modified, len(again.fetches)) == (
        "not_modified",
        len(first.fetches),
        len(first.fetches),
    )
    held = _rows(settings, "select count(*) from reference_figures")[0][0]
    revised = (
        "displacement.people,PSE,Rafah,1400000,people,2024-03-20,2024-03-29,UNRWA,Revision,"
        "https://www.unrwa.org/x,p. 1,,test row\n"
    )
    (settings.reference_dir / "revision.csv").write_text(HEADER + revised)
    added = _run(settings, "reference")["reference"]
    # The list of files changed and one file is new; the others came again the same.
    assert (added.outcome, added.not_modified) == ("published", len(first.fetches) - 1)
    assert _rows(settings, "select count(*) from reference_figures") == [(held + 1,)]


def test_a_claims_file_removed_takes_its_claims_with_it(settings):
    """Claims are replaced whole: with one file gone and the other unchanged, the list of
    files tells the change, and only the remaining file's claims are left."""
    shutil.copytree(ROOT / "data" / "claims", settings.claims_dir)
    files = sorted(settings.claims_dir.glob("*.csv"))
    (settings.claims_dir / "extra.csv").write_text(
        "claim_id,published_on,outlet,url,speaker,quote,metric,geo,value,unit,comparator\n"
        'extra-killed,2024-03-22,Test outlet,https://example.org/a,Someone,"more than 32,000 '
        'killed",casualties.killed.cumulative,PSE,32000,people,gt\n'
    )
    assert _run(settings, "claims")["claims"].outcome == "published"
    both = _rows(settings, "select count(*) from press_claims")[0][0]
    assert _run(settings, "claims")["claims"].outcome == "not_modified"
    (settings.claims_dir / "extra.csv").unlink()
    removed = _run(settings, "claims")["claims"]
    assert removed.outcome == "published"
    assert _rows(settings, "select count(distinct file) from press_claims") == [(len(files),)]
    assert _rows(settings, "select count(*) from press_claims")[0][0] < both


def test_rule_breaking_row_fails_the_source_naming_file_and_line(settings):
    """An unknown metric on line 2 of a file rejects it with file and line; old rows stay."""
    _run(settings, "reference")
    bad = "displacement.rafah.people,PSE,Rafah,1,people,2024-03-20,2024-03-22,UNRWA,T,https://x.org,q,,\n"
    (settings.reference_dir / "bad.csv").write_text(HEADER + bad)
    result = _run(settings, "reference")["reference"]
    assert result.outcome == "failed"
    keys = _rows(settings, "select check_name, row_key from rejects where severity = 'error'")
    assert [(c, "file=bad.csv, line=2" in k) for c, k in keys] == [("known_metric", True)]
    assert _rows(settings, "select count(*) from reference_figures") == [(3,)]


def test_malformed_file_fails_the_source_with_file_line_and_field(settings):
    """A value that is not a number stops the source with a message naming all three."""
    bad = "aid.trucks.daily,PSE,,about 500,trucks_per_day,2023-10-06,2023-12-07,OCHA,T,https://x.org,q,,\n"
    (settings.reference_dir / "bad.csv").write_text(HEADER + bad)
    result = _run(settings, "reference")["reference"]
    assert result.outcome == "failed"
    assert "bad.csv line 2" in result.message and "field value" in result.message


def test_missing_reference_directory_fails_naming_it(env):
    """Without $AGGREGATOR_DATA_DIR/reference the source fails and says which directory."""
    settings = load_settings()
    result = _run(settings, "reference")["reference"]
    assert result.outcome == "failed"
    assert str(settings.reference_dir) in result.message
