"""Claims files: the format, unit conversion, implied precision, and errors naming file, line
and field. Rows are claims from the founding article (../shared/articles), written by us."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.connectors import claims
from aggregator.errors import ConfigError, ParseError
from aggregator.validate import validate
from tests.conftest import ROOT

HEADER = "claim_id,published_on,outlet,quote,metric,geo,value,unit,comparator,value_high\n"


def _load(tmp_path: Path, body: str, header: str = HEADER):
    path = tmp_path / "claims.csv"
    path.write_text(header + body, encoding="utf-8")
    return claims.load(path)


@pytest.mark.parametrize(
    "text, unit, expected",
    [
        ("32000", "people", 1000),
        ("1200", "people", 100),
        ("253", "people", 1),
        ("1000000", "people", 1_000_000),
        ("1200000", "people", 100_000),
        ("32000.0", "people", 1000),
        ("2.5", "people", 0.1),
        ("100", "percent", 0.01),
        ("95.5", "percent", 0.001),
        ("0.5", "share", 0.1),
        ("1", "share", 0.01),
        ("0", "people", 1),
        ("1.2e6", "people", None),
        ("", "people", None),
    ],
)
def test_precision_of_the_number_as_written(text, unit, expected):
    assert claims.precision(text, unit) == (None if expected is None else pytest.approx(expected))


def test_percent_is_stored_as_a_share_and_defaults_apply(tmp_path):
    frame = _load(
        tmp_path,
        'b1,2024-03-22,Wire,"A hundred percent of the population",ipc.phase3plus.share,pse,100,'
        "percent,,\n",
    )
    row = frame.iloc[0]
    assert (row["value"], row["unit"], row["quoted_unit"], row["precision"]) == (
        1.0,
        "share",
        "percent",
        0.01,
    )
    assert row["geo"] == "PSE" and row["comparator"] == "eq" and row["period_kind"] == "any"
    assert row["reference_date"] == row["published_on"]
    assert (row["file"], row["line"], row["source"]) == ("claims.csv", 2, "claims")


def test_the_founding_article_claims_file_validates():
    """data/claims holds the article's claims; every row passes the press_claims schema."""
    folder = ROOT / "data" / "claims"
    frames = [claims.load(path) for path in sorted(folder.glob("*.csv"))]
    assert frames, "no claims file in data/claims"
    for frame in frames:
        checked = validate("press_claims", frame, run_id="t", source="claims")
        assert checked.errors == 0, checked.rejects.to_dict("records")
    metrics = set(frames[0]["metric"])
    assert {"casualties.killed.cumulative", "ipc.phase3plus.share", "ipc.phase5.share"} <= metrics


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "k1,22/03/2024,Wire,q,casualties.killed.cumulative,PSE,32000,people,gt,\n",
            r"claims\.csv line 2.*field published_on: not a YYYY-MM-DD date: '22/03/2024'",
        ),
        (
            'k1,2024-03-22,Wire,q,casualties.killed.cumulative,PSE,"32,000",people,gt,\n',
            r"line 2.*field value: not a number: '32,000'",
        ),
        (
            "k1,2024-03-22,Wire,q,casualties.killed.cumulative,PSE,50,percent,eq,\n",
            r"line 2.*field unit: percent given for casualties.killed.cumulative",
        ),
        (
            "k1,2024-03-22,Wire,q,casualties.killed.cumulative,PSE,32000,people\n",
            r"line 2.*8 fields where the header has 10",
        ),
    ],
)
def test_shape_errors_name_file_line_and_field(tmp_path, body, message):
    with pytest.raises(ParseError, match=message):
        _load(tmp_path, body)


def test_header_problems_are_listed(tmp_path):
    with pytest.raises(ParseError, match=r"line 1.*missing column\(s\) unit.*unknown column"):
        _load(
            tmp_path,
            "k1,2024-03-22,Wire,q,casualties.killed.cumulative,PSE,32000\n",
            header="claim_id,published_on,outlet,quote,metric,geo,value,units\n",
        )


@pytest.mark.parametrize(
    "body, check, column",
    [
        ("k1,2024-03-22,W,q,no.such.metric,PSE,1,people,eq,\n", "known_metric", "metric"),
        (
            "k1,2024-03-22,W,q,ipc.phase5.share,PSE,0.5,people,eq,\n",
            "unit_is_the_metric_unit",
            "unit",
        ),
        (
            "k1,2024-03-22,W,q,casualties.killed.cumulative,PSE,200,people,between,\n",
            "between_needs_value_high",
            "value_high",
        ),
        (
            "k1,2024-03-22,W,q,ipc.phase5.share,PSE,150,percent,eq,\n",
            "share_between_0_and_1",
            "value",
        ),
        (
            "k1,2024-03-22,W,q,casualties.killed.cumulative,PSE,1,people,roughly,\n",
            "isin",
            "comparator",
        ),
    ],
)
def test_rule_errors_are_rejects_naming_the_check(tmp_path, body, check, column):
    checked = validate("press_claims", _load(tmp_path, body), run_id="t", source="claims")
    assert checked.data is None
    rejects = checked.rejects
    hit = rejects[rejects["check_name"].str.contains(check)]
    assert not hit.empty, rejects[["check_name", "column_name"]].to_dict("records")
    assert column in " ".join(hit["column_name"].astype(str))


def test_duplicate_claim_ids_are_rejected(tmp_path):
    row = "k1,2024-03-22,W,q,casualties.killed.cumulative,PSE,32000,people,gt,\n"
    checked = validate("press_claims", _load(tmp_path, row + row), run_id="t", source="claims")
    assert checked.data is None and checked.errors >= 1


def test_missing_extra_claims_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="nowhere.csv does not exist"):
        claims.extract(None, tmp_path, [tmp_path / "nowhere.csv"])  # type: ignore[arg-type]
