"""Press claims against the official figures: reading claim_checks, and writing it for people.

The rules (interval, tolerance, matching, verdict) are SQL, in aggregator/sql/30_claim_checks.sql,
so that analysts get the same answer from `aggregator sql` as from `aggregator compare`. This
module runs that macro on the warehouse, read-only, with claims from the warehouse or from a
claims file given on the command line, and renders verdicts in words and as ClaimReview.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from aggregator.connectors import claims as claims_source
from aggregator.errors import ParseError, WarehouseError
from aggregator.validate import validate
from aggregator.warehouse import require

VERDICTS = {
    "consistent": "Consistent with the official figure",
    "matches_other_period": "Matches another period of the same analysis, not the one in force",
    "outdated": "Matches an older official figure, not the one known on the claim's date",
    "overstates": "Overstates the official figure",
    "understates": "Understates the official figure",
    "no_official_figure": "No official figure to check against",
}
# schema.org ClaimReview ratings, 1 (worst) to 5 (best); none when nothing could be checked.
RATINGS = {
    "consistent": 5,
    "matches_other_period": 3,
    "outdated": 3,
    "overstates": 2,
    "understates": 2,
}
NARRATOR = "the article"  # the speaker of a claim the article makes in its own voice
SUMMARY_COLUMNS = [
    "claim_id",
    "verdict",
    "claimed",
    "official",
    "difference",
    "official_period",
    "official_published_on",
    "official_source",
    "tolerance",
]


def claim_checks(
    warehouse: Path,
    *,
    as_of: date,
    country: str | None = None,
    claims_file: Path | None = None,
) -> pd.DataFrame:
    """claim_checks_at(as_of) on the warehouse, for one country or all; claims from the
    warehouse, or from ``claims_file`` instead."""
    require(warehouse)
    try:
        with duckdb.connect() as con:
            con.execute(f"attach '{_quoted(warehouse)}' as warehouse (read_only)")
            con.execute("use warehouse")
            if claims_file is not None:
                # A temporary table of the same name hides the stored claims from the macro.
                con.register("file_claims", load_claims(claims_file))
                con.execute("create temp table press_claims as select * from file_claims")
            return con.execute(
                "select * from claim_checks_at(?::date) where ?::varchar is null or geo = ? "
                "order by published_on, claim_id",
                [as_of, country, country],
            ).df()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot check claims on {warehouse}: {exc}") from exc


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def load_claims(path: Path) -> pd.DataFrame:
    """A claims file, validated like the claims source: the first failures name line and field."""
    frame = claims_source.load(path)
    checked = validate("press_claims", frame, run_id="compare", source=claims_source.SOURCE)
    if checked.data is not None:
        return checked.data
    failures = checked.rejects[checked.rejects["severity"] == "error"].head(5)
    lines = frame["line"]
    details = "; ".join(
        f"line {_line(lines, r['row_number'])}: field {r['column_name']}: {r['check_name']} "
        f"(value {r['value']!r})"
        for _, r in failures.iterrows()
    )
    raise ParseError(claims_source.SOURCE, str(path), details)


def _line(lines: pd.Series, row: Any) -> str:
    try:
        return str(lines.loc[int(row)])
    except (TypeError, ValueError, KeyError):
        return "?"


def show(value: Any, unit: str) -> str:
    """A value as a reader expects it: shares in percent, counts with thousands separators."""
    if value is None or pd.isna(value):
        return ""
    if unit == "share":
        return f"{value * 100:.4g}%"
    if unit == "usd":
        return f"${value:,.0f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def claimed_text(row: pd.Series) -> str:
    words = {
        "eq": "",
        "approx": "about ",
        "gt": "more than ",
        "gte": "at least ",
        "lt": "less than ",
        "lte": "up to ",
    }
    if row["comparator"] == "between":
        low, high = (
            show(row["claimed_value"], row["unit"]),
            show(row["claimed_value_high"], row["unit"]),
        )
        return f"{low} to {high}"
    return words[row["comparator"]] + show(row["claimed_value"], row["unit"])


def tolerance_text(row: pd.Series) -> str:
    if row["unit"] == "share":
        return f"±{row['tolerance'] * 100:.3g} points"
    return f"±{row['tolerance'] * 100:.3g}%"


def period_text(kind: Any, start: Any, end: Any) -> str:
    if kind is None or pd.isna(kind):
        return ""
    if kind == "observed" and start == end:
        return f"{start:%Y-%m-%d}"
    return f"{kind} {start:%Y-%m-%d} to {end:%Y-%m-%d}"


def explain(row: pd.Series) -> str:
    """One or two plain sentences: the verdict and the figures behind it."""
    unit = row["unit"]
    if row["verdict"] == "no_official_figure":
        text = "No source in the warehouse published this figure by the claim's date."
        if pd.notna(row["newest_value"]):
            text += (
                f" A later figure exists: {show(row['newest_value'], unit)} "
                f"({row['newest_source']}, published {row['newest_published_on']:%Y-%m-%d})."
            )
        return text
    text = (
        f"{VERDICTS[row['verdict']]}: the claim says {claimed_text(row)}; {row['official_source']} "
        f"gives {show(row['official_value'], unit)} for "
        f"{period_text(row['official_period_kind'], row['official_period_start'], row['official_period_end'])}"
        f", published {row['official_published_on']:%Y-%m-%d} (tolerance {tolerance_text(row)})."
    )
    if pd.notna(row["other_period_value"]):
        text += (
            f" Other period of the same analysis: {show(row['other_period_value'], unit)} "
            f"({period_text(row['other_period_kind'], row['other_period_start'], row['other_period_end'])})."
        )
    if row["verdict"] == "outdated":
        text += (
            f" The claim fits {show(row['older_fitting_value'], unit)}, published "
            f"{row['older_fitting_published_on']:%Y-%m-%d}."
        )
    return text


def summary(checks: pd.DataFrame) -> tuple[list[str], list[tuple]]:
    """The columns a person reads first, formatted."""
    rows = []
    for _, row in checks.iterrows():
        unit = row["unit"]
        rows.append(
            (
                row["claim_id"],
                row["verdict"],
                claimed_text(row),
                show(row["official_value"], unit),
                "" if pd.isna(row["difference"]) else show_signed(row["difference"], unit),
                period_text(
                    row["official_period_kind"],
                    row["official_period_start"],
                    row["official_period_end"],
                ),
                ""
                if pd.isna(row["official_published_on"])
                else row["official_published_on"].date(),
                row["official_source"] if pd.notna(row["official_source"]) else "",
                tolerance_text(row),
            )
        )
    return SUMMARY_COLUMNS, rows


def show_signed(value: float, unit: str) -> str:
    if value == 0:
        return "0"
    return ("+" if value > 0 else "-") + show(abs(value), unit)


def _claim_author(row: pd.Series) -> dict[str, str]:
    # Narration by the article itself is the outlet's claim, or that of whom it cites.
    if pd.notna(row["speaker"]) and row["speaker"] != NARRATOR:
        return {"@type": "Person", "name": row["speaker"]}
    name = row["attributed_to"] if pd.notna(row["attributed_to"]) else row["outlet"]
    return {"@type": "Organization", "name": name}


def claimreview(checks: pd.DataFrame, *, reviewer: str, reviewed_on: date) -> list[dict]:
    """schema.org ClaimReview JSON-LD, one object per claim, as fact-checkers publish."""
    reviews = []
    for _, row in checks.iterrows():
        rating: dict[str, Any] = {
            "@type": "Rating",
            "alternateName": VERDICTS[row["verdict"]],
            "bestRating": 5,
            "worstRating": 1,
        }
        if row["verdict"] in RATINGS:
            rating["ratingValue"] = RATINGS[row["verdict"]]
        appearance: dict[str, Any] = {
            "@type": "CreativeWork",
            "publisher": {"@type": "Organization", "name": row["outlet"]},
        }
        if pd.notna(row["claim_url"]):
            appearance["url"] = row["claim_url"]
        review: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "ClaimReview",
            "identifier": row["claim_id"],
            "datePublished": reviewed_on.isoformat(),
            "author": {"@type": "Organization", "name": reviewer},
            "claimReviewed": row["quote"],
            "itemReviewed": {
                "@type": "Claim",
                "author": _claim_author(row),
                "datePublished": row["published_on"].date().isoformat(),
                "appearance": appearance,
            },
            "reviewRating": rating,
            "reviewBody": explain(row),
        }
        if pd.notna(row["official_url"]):
            review["citation"] = {
                "@type": "Dataset",
                "name": row["official_dataset_ref"],
                "url": row["official_url"],
                "datePublished": row["official_published_on"].date().isoformat(),
            }
        reviews.append(review)
    return reviews
