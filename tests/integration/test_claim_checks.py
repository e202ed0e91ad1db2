"""The comparison rules (aggregator/sql/30_claim_checks.sql) on the demo snapshot.

The demo's real published figures are replayed into a real DuckDB file once for this module:
MoH cumulative killed per day around 22 March 2024, the IPC Gaza analyses of March 2024
(current Feb-Mar: 95% in Phase 3+, 30% in Phase 5; projection Mar-Jul: 100% and 50%) and June
2024, and UNRWA's reference figures. Claims are written as claims files, the way a person
would, and checked through ``compare.claim_checks``.
"""

from __future__ import annotations

import csv
import shutil
from datetime import date
from pathlib import Path

import pytest

from aggregator import compare
from aggregator.config import load_settings
from aggregator.connectors.claims import FILE_COLUMNS
from aggregator.errors import ParseError
from aggregator.pipeline import refresh
from aggregator.sources import RefreshOptions, resolve
from tests.conftest import DEMO, ROOT

TODAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("checks") / "data"
    shutil.copytree(ROOT / "data" / "reference", data / "reference")
    shutil.copytree(ROOT / "data" / "claims", data / "claims")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AGGREGATOR_DATA_DIR", str(data))
        env.delenv("AGGREGATOR_WAREHOUSE", raising=False)
        settings = load_settings()
        sources = resolve(["ipc_api", "casualties", "reference", "claims"])
        results = refresh(sources, RefreshOptions(settings=settings), replay=DEMO)
    assert {r.outcome for r in results} == {"published"}, [(r.source, r.message) for r in results]
    return settings.warehouse


def _claims_file(folder: Path, **fields: str) -> Path:
    row = {
        "claim_id": "t1",
        "published_on": "2024-03-22",
        "outlet": "Test outlet",
        "quote": "a quoted figure",
        "geo": "PSE",
        **fields,
    }
    path = folder / "claims.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FILE_COLUMNS)
        writer.writeheader()
        writer.writerow(row)
    return path


def _check(warehouse: Path, tmp_path: Path, **fields: str):
    path = _claims_file(tmp_path, **fields)
    checks = compare.claim_checks(warehouse, as_of=TODAY, claims_file=path)
    assert len(checks) == 1
    return checks.iloc[0]


KILLED = {"metric": "casualties.killed.cumulative", "unit": "people"}


def test_founding_article_verdicts(warehouse):
    """The stored claims of the founding article give the verdicts of the design's worked
    example: more than 32,000 killed vs 32,070; 100% vs the projection with 95% beside it;
    half vs the projection's 50% with 30% beside it; no official figure for Israeli tallies."""
    checks = compare.claim_checks(warehouse, as_of=TODAY).set_index("claim_id")
    got = {
        claim: (row["verdict"], row["official_value"], row["other_period_value"])
        for claim, row in checks.iterrows()
    }
    nan = got["2024-03-22-oct7-killed"][1]
    assert got == {
        "2024-03-22-gaza-killed": ("consistent", 32070.0, pytest.approx(nan, nan_ok=True)),
        "2024-03-22-blinken-100pct": ("consistent", 1.0, 0.95),
        "2024-03-22-ipc-all-gazans": ("consistent", 1.0, 0.95),
        "2024-03-22-ipc-half-catastrophe": ("consistent", 0.5, 0.3),
        "2024-03-22-rafah-refuge": ("consistent", 1_200_000.0, pytest.approx(nan, nan_ok=True)),
        "2024-03-22-oct7-killed": (
            "no_official_figure",
            pytest.approx(nan, nan_ok=True),
            pytest.approx(nan, nan_ok=True),
        ),
        "2024-03-22-oct7-hostages": (
            "no_official_figure",
            pytest.approx(nan, nan_ok=True),
            pytest.approx(nan, nan_ok=True),
        ),
        "2024-03-22-shifa-fighters": (
            "no_official_figure",
            pytest.approx(nan, nan_ok=True),
            pytest.approx(nan, nan_ok=True),
        ),
    }
    killed = checks.loc["2024-03-22-gaza-killed"]
    assert killed["difference"] == 70 and killed["day_gap"] == 0
    assert (killed["claim_low"], killed["claim_high"]) == (32000, 33000)
    assert (
        killed["official_url"] == "https://data.techforpalestine.org/api/v2/casualties_daily.json"
    )
    blinken = checks.loc["2024-03-22-blinken-100pct"]
    assert blinken["official_period_kind"] == "projection"
    assert blinken["official_dataset_ref"] == "ipc:70000324:first_projection"
    assert blinken["day_gap"] == 3  # said on 21 March; the analysis was released on 18 March


@pytest.mark.parametrize(
    "comparator, value, value_high, verdict, low, high",
    [
        # 32,070 killed on 22 March (tolerance 2% of 32,070 = 641.4).
        ("eq", "32070", "", "consistent", 32065, 32075),  # one trailing zero: precision 10
        ("eq", "32071", "", "consistent", 32070.5, 32071.5),
        ("eq", "32000", "", "consistent", 31500, 32500),
        ("approx", "32000", "", "consistent", 30400, 33600),
        ("gt", "32000", "", "consistent", 32000, 33000),
        ("gte", "32000", "", "consistent", 32000, 33000),
        ("lt", "33000", "", "consistent", 32000, 33000),
        ("lte", "32100", "", "consistent", 32000, 32100),
        ("between", "32000", "32100", "consistent", 32000, 32100),
        ("eq", "40000", "", "overstates", 35000, 45000),
        ("gt", "35000", "", "overstates", 35000, 36000),
        ("lt", "20000", "", "understates", 10000, 20000),
        ("between", "10000", "20000", "understates", 10000, 20000),
    ],
)
def test_each_comparator_gives_its_interval_and_verdict(
    warehouse, tmp_path, comparator, value, value_high, verdict, low, high
):
    row = _check(
        warehouse, tmp_path, **KILLED, comparator=comparator, value=value, value_high=value_high
    )
    assert (row["claim_low"], row["claim_high"]) == (pytest.approx(low), pytest.approx(high))
    assert row["verdict"] == verdict
    assert row["official_value"] == 32070 and row["tolerance"] == pytest.approx(0.02)


def test_claim_matching_only_an_older_vintage_is_outdated(warehouse, tmp_path):
    """'More than 31,000 killed' on 22 March, taken strictly (tolerance 0): 31,000 to 32,000
    fits the MoH count of the day before (31,988), not the 32,070 of that day."""
    row = _check(warehouse, tmp_path, **KILLED, comparator="gt", value="31000", tolerance="0")
    assert row["verdict"] == "outdated"
    assert row["official_value"] == 32070
    assert row["older_fitting_value"] == 31988
    assert row["older_fitting_published_on"].date() == date(2024, 3, 21)


def test_current_period_figure_while_the_projection_applies(warehouse, tmp_path):
    """'30% in catastrophe' on 22 March: the projection (50%) is in force; the current period
    of the same analysis (30%) is what the claim matches."""
    row = _check(warehouse, tmp_path, metric="ipc.phase5.share", value="30", unit="percent")
    assert row["verdict"] == "matches_other_period"
    assert (row["official_period_kind"], row["official_value"]) == ("projection", 0.5)
    assert (row["other_period_kind"], row["other_period_value"]) == ("current", 0.3)


def test_claim_asking_for_the_current_period_gets_it(warehouse, tmp_path):
    """period_kind current picks the current period even where the projection is in force."""
    row = _check(
        warehouse,
        tmp_path,
        metric="ipc.phase5.share",
        value="30",
        unit="percent",
        period_kind="current",
    )
    assert row["verdict"] == "consistent"
    assert (row["official_period_kind"], row["official_value"]) == ("current", 0.3)


def test_percentage_claim_is_compared_as_a_share(warehouse, tmp_path):
    """95 percent is stored as 0.95 with a precision of one point; the tolerance for shares is
    absolute (5 points), so 95% of Gaza in Phase 3+ fits the projection's 100%."""
    row = _check(warehouse, tmp_path, metric="ipc.phase3plus.share", value="95", unit="percent")
    assert row["claimed_value"] == pytest.approx(0.95)
    assert (row["claim_low"], row["claim_high"]) == (pytest.approx(0.945), pytest.approx(0.955))
    assert row["verdict"] == "consistent" and row["official_value"] == 1.0


def test_claim_before_any_figure_was_published_has_none(warehouse, tmp_path):
    """A claim dated before the first MoH count in the warehouse has no official figure as of
    its date; the newest figure known today is still shown beside it."""
    row = _check(
        warehouse,
        tmp_path,
        **KILLED,
        value="30000",
        published_on="2024-03-01",
    )
    assert row["verdict"] == "no_official_figure"
    assert row["newest_value"] == 31112  # the earliest day in the demo, 11 March


def test_as_of_limits_the_newest_figure(warehouse, tmp_path):
    """As of 20 June 2024 the newest IPC figure for a March claim is still the March analysis;
    the June analysis is not applicable to a March date anyway, and nothing later is known."""
    path = _claims_file(tmp_path, **KILLED, value="32000", comparator="gt")
    early = compare.claim_checks(warehouse, as_of=date(2024, 3, 22), claims_file=path).iloc[0]
    assert early["newest_published_on"].date() == date(2024, 3, 22)
    before = compare.claim_checks(warehouse, as_of=date(2024, 3, 1), claims_file=path).iloc[0]
    assert before["verdict"] == "no_official_figure"


def test_claim_tolerance_overrides_the_metric(warehouse, tmp_path):
    """30,500 is 1,570 below 32,070: outside the default 2% (641) but inside 5% (1,604). With
    the default it fits only the count of 11 March (31,112), so it is outdated."""
    row = _check(warehouse, tmp_path, **KILLED, value="30500", tolerance="0.05")
    assert row["tolerance"] == 0.05 and row["verdict"] == "consistent"
    strict = _check(warehouse, tmp_path, **KILLED, value="30500")
    assert (strict["verdict"], strict["older_fitting_value"]) == ("outdated", 31112)


def test_country_filter(warehouse):
    everything = compare.claim_checks(warehouse, as_of=TODAY)
    israel = compare.claim_checks(warehouse, as_of=TODAY, country="ISR")
    assert set(israel["geo"]) == {"ISR"} and 0 < len(israel) < len(everything)


def test_bad_claims_file_names_line_and_field(warehouse, tmp_path):
    path = _claims_file(tmp_path, metric="no.such.metric", value="1", unit="people")
    with pytest.raises(ParseError, match=r"claims\.csv.*line 2: field metric: known_metric"):
        compare.claim_checks(warehouse, as_of=TODAY, claims_file=path)


def test_claimreview_json_ld(warehouse):
    checks = compare.claim_checks(warehouse, as_of=TODAY).set_index("claim_id", drop=False)
    reviews = {
        r["identifier"]: r
        for r in compare.claimreview(checks, reviewer="An NGO", reviewed_on=TODAY)
    }
    killed = reviews["2024-03-22-gaza-killed"]
    assert killed["@context"] == "https://schema.org" and killed["@type"] == "ClaimReview"
    assert killed["claimReviewed"].startswith("More than 32,000 Palestinians")
    assert killed["reviewRating"]["ratingValue"] == 5
    assert killed["itemReviewed"]["author"] == {
        "@type": "Organization",
        "name": "Gaza health authorities",
    }
    assert "32,070" in killed["reviewBody"]
    assert killed["citation"]["datePublished"] == "2024-03-22"
    blinken = reviews["2024-03-22-blinken-100pct"]["itemReviewed"]["author"]
    assert blinken == {"@type": "Person", "name": "Antony Blinken"}
    hostages = reviews["2024-03-22-oct7-hostages"]
    assert "ratingValue" not in hostages["reviewRating"] and "citation" not in hostages
