"""claims extract, from text to candidate claims: numbers in digits and in words, qualifiers,
what is not a claim, attribution, quote offsets, suggested metric and country, and the rows
loading back through the claims connector and the PressClaims schema."""

from __future__ import annotations

import csv
import io
import os
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from aggregator.claim_extraction import (
    REVIEW_NOTE,
    Candidate,
    article_text,
    claim_rows,
    default_outlet,
    extract_candidates,
    find_quantities,
    outlet_slug,
    parse_published,
    write_claims,
)
from aggregator.config import HttpSettings
from aggregator.connectors import claims
from aggregator.errors import ConfigError, ParseError
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from schemas.press_claims import PressClaims
from tests.conftest import ROOT

FOUNDING_ARTICLE = ROOT.parent / "shared" / "articles" / "2024-03-22-netanyahu-blinken-rafah.txt"

# Our own sentences, with figures as UNRWA, the Gaza Ministry of Health, the IPC and OCHA
# published them in March 2024.
REPORT = (
    "Rafah shelters overflow as aid stalls\n"
    "UNRWA said about 1.2 million people were sheltering in Rafah as of 20 March 2024. "
    "The health ministry in Gaza said 74,298 people had been injured by 22 March.\n"
    "Some 159 trucks a day entered Gaza between 1 and 17 March, UNRWA said. "
    "The IPC projected that 1.1 million people in Gaza would face catastrophic hunger by "
    "mid-July, according to its March analysis.\n"
    '"As many as 1.7 million people have been displaced across Gaza," Philippe Lazzarini '
    "told reporters. The 2024 Flash Appeal for the occupied Palestinian territory requires "
    "$2.8 billion.\n"
)


def _quantities(text: str) -> list[tuple[str, Decimal, str, str, Decimal | None]]:
    return [
        (text[q.start : q.end], q.value, q.unit, q.comparator, q.value_high)
        for q in find_quantities(text)
    ]


def _only(text: str) -> Candidate:
    candidates = extract_candidates(text)
    assert len(candidates) == 1, [text[c.quantity.start : c.quantity.end] for c in candidates]
    return candidates[0]


def _csv(text: str, published: date = date(2024, 3, 22), url: str | None = None) -> str:
    rows = claim_rows(text, extract_candidates(text), published=published, outlet="Wire", url=url)
    handle = io.StringIO()
    write_claims(rows, handle)
    return handle.getvalue()


@pytest.fixture
def founding_article() -> str:
    if not FOUNDING_ARTICLE.is_file():
        pytest.skip(f"founding article not available at {FOUNDING_ARTICLE}")
    return FOUNDING_ARTICLE.read_text(encoding="utf-8")


# --- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words", "value", "unit"),
    [
        ("Officials counted 32,000 people.", "32,000", "32000", "people"),
        ("The raid killed 1,200.", "1,200", "1200", "people"),
        ("They took 253 hostages.", "253", "253", "people"),
        ("About 1.2 million people were sheltering.", "1.2 million", "1200000", "people"),
        ("A million people fled.", "A million", "1000000", "people"),
        ("twenty-three thousand people fled", "twenty-three thousand", "23000", "people"),
        ("half a million people fled", "half a million", "500000", "people"),
        ("A hundred percent of the population", "A hundred percent", "100", "percent"),
        ("100% of the population", "100%", "100", "percent"),
        ("95 per cent of households", "95 per cent", "95", "percent"),
        ("half the population", "half", "0.5", "share"),
        ("a third of children", "a third", "0.33", "share"),
        ("two thirds of households", "two thirds", "0.67", "share"),
        ("one in four households", "one in four", "0.25", "share"),
        ("nine out of ten people", "nine out of ten", "0.9", "share"),
        ("all Gazans were hungry", "all", "1", "share"),
        ("The appeal requires $3.4 billion.", "$3.4 billion", "3400000000", "usd"),
        ("The appeal requires US$2.8 billion.", "US$2.8 billion", "2800000000", "usd"),
        ("It needs 3.4 billion dollars.", "3.4 billion dollars", "3400000000", "usd"),
        ("About 200 trucks a day are needed.", "200", "200", "trucks_per_day"),
        ("200 aid trucks per day", "200", "200", "trucks_per_day"),
        ("150 trucks entered on Sunday", "150", "150", "trucks"),
    ],
)
def test_numbers_in_digits_and_in_words(text, words, value, unit):
    """Each form gives the value as quoted (percent stays percent) and the unit it is in."""
    ((found, got_value, got_unit, _, _),) = _quantities(text)
    assert (found, got_value, got_unit) == (words, Decimal(value), unit)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("killed or captured hundreds of Hamas fighters", 200, 999),
        ("thousands of people fled", 2000, 9999),
        ("tens of thousands of people fled", 20000, 99999),
        ("hundreds of thousands of people fled", 200000, 999999),
    ],
)
def test_vague_plurals_are_ranges(text, low, high):
    """'hundreds of' is at least two hundred and fewer than a thousand."""
    ((_, value, unit, comparator, value_high),) = _quantities(text)
    assert (value, value_high, comparator, unit) == (low, high, "between", "people")


@pytest.mark.parametrize(
    ("qualifier", "comparator"),
    [
        ("more than", "gt"),
        ("over", "gt"),
        ("above", "gt"),
        ("exceeding", "gt"),
        ("just over", "gt"),
        ("at least", "gte"),
        ("no fewer than", "gte"),
        ("nearly", "lt"),
        ("almost", "lt"),
        ("just under", "lt"),
        ("fewer than", "lt"),
        ("up to", "lte"),
        ("as many as", "lte"),
        ("no more than", "lte"),
        ("about", "approx"),
        ("around", "approx"),
        ("some", "approx"),
        ("roughly", "approx"),
        ("approximately", "approx"),
        ("an estimated", "approx"),
        ("", "eq"),
    ],
)
def test_qualifiers_give_the_comparator(qualifier, comparator):
    """The words before a figure say how it compares; none means equal."""
    ((_, value, _, got, _),) = _quantities(f"Officials said {qualifier} 32,000 people died.")
    assert (value, got) == (32000, comparator)


def test_qualifiers_after_the_figure():
    assert _quantities("1,000 or more people")[0][3] == "gte"
    assert _quantities("1,000 or so people")[0][3] == "approx"


@pytest.mark.parametrize(
    "text",
    [
        "amid tense relations over the six-month-old Gaza conflict",
        "the top US diplomat's sixth diplomatic swing through the region",
        "the 6th convoy this month",
        "hundreds of Hamas fighters in a five-day operation",
        "the worst of five levels",
        "since the war began on October 7",
        "Published: Fri 22 Mar 2024, 7:47 PM",
        "date 2024-03-22",
        "as of 20 March 2024",
        "on March 20, 2024, at 7 pm",
        "in 2024",
        "the 2023-24 season",
        "IPC Phase 5",
        "UNRWA Situation Report #93",
        "COVID-19 and F-16",
        "the 32-year-old doctor",
        "the two allies",
        "one of the only medical facilities",
        "for 30 days",
        "a 10 km road",
        "children under five",
        "in the first half of 2024",
        "for a third time",
    ],
)
def test_not_claims(text):
    """Dates, times, years, ordinals, labels, compound adjectives, durations and the like."""
    found = [q for q in _quantities(text) if q[0] != "hundreds"]
    assert found == []


# --- attribution ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("UNRWA said about 1.2 million people were sheltering in Rafah.", "UNRWA"),
        ("About 1.2 million people were sheltering in Rafah, said UNRWA.", "UNRWA"),
        (
            "Famine threatens 1.1 million people, according to the United Nations.",
            "the United Nations",
        ),
        ("Hamas fighters took 253 hostages, by Israeli tallies.", "Israeli tallies"),
        (
            "More than 32,000 Palestinians have been killed, Gaza health authorities say.",
            "Gaza health authorities",
        ),
        ("The ministry told reporters that 32,070 people had been killed.", "The ministry"),
        ("Israel claimed to have killed hundreds of Hamas fighters.", "Israel"),
        ("Prior to the talks, Blinken had said 200 trucks a day were needed.", "Blinken"),
        ("A report by the IPC found that 1.1 million people faced famine.", "the IPC"),
    ],
)
def test_attribution(text, source):
    """'X said', 'said X', 'according to X', 'by X tallies', 'X say', 'X told', 'X claimed'."""
    candidate = _only(text)
    assert (candidate.attributed_to, candidate.speaker) == (source, "the article")


def test_quoted_speaker_after_the_quotation():
    """A quoted sentence followed by '..., Blinken told a news conference' is Blinken's."""
    text = (
        '"A hundred percent of the population of Gaza is experiencing severe levels of acute '
        'food insecurity. We cannot, we must not allow that to continue," Blinken told a news '
        "conference late on Thursday."
    )
    candidate = _only(text)
    assert (candidate.speaker, candidate.attributed_to) == ("Blinken", None)
    quote = text[candidate.quote.start : candidate.quote.end]
    assert quote == (
        "A hundred percent of the population of Gaza is experiencing severe levels of acute "
        "food insecurity."
    )


def test_quoted_speaker_before_the_quotation():
    text = 'Philippe Lazzarini said: "As many as 1.7 million people have been displaced."'
    candidate = _only(text)
    assert (candidate.speaker, candidate.attributed_to) == ("Philippe Lazzarini", None)
    assert candidate.quantity.comparator == "lte"


def test_no_attribution_is_the_article():
    candidate = _only("More than a million Gazans have taken refuge in makeshift shelters.")
    assert (candidate.speaker, candidate.attributed_to) == ("the article", None)


def test_pronouns_are_not_sources():
    candidate = _only('"We counted 4,000 families," he said.')
    assert (candidate.speaker, candidate.attributed_to) == ("the article", None)


# --- quote offsets --------------------------------------------------------------------------


def test_quote_is_the_sentence_at_its_offsets():
    """text[quote_start:quote_end] is the sentence holding the figure, for every candidate."""
    candidates = extract_candidates(REPORT)
    assert len(candidates) == 6
    for candidate in candidates:
        quote = REPORT[candidate.quote.start : candidate.quote.end]
        figure = candidate.quantity
        assert candidate.quote.start <= figure.start < figure.end <= candidate.quote.end
        assert quote == quote.strip() and "\n" not in quote
        assert quote[-1] in '."' and (quote[0].isupper() or quote[0] == '"')
    first = REPORT[candidates[0].quote.start : candidates[0].quote.end]
    assert first == (
        "UNRWA said about 1.2 million people were sheltering in Rafah as of 20 March 2024."
    )


def test_abbreviations_do_not_end_sentences():
    text = "U.S. officials say 200 trucks a day are needed, Col. Smith said."
    candidate = _only(text)
    assert (candidate.quote.start, candidate.quote.end) == (0, len(text))


def test_a_very_long_sentence_is_cut_around_the_figure():
    text = "word " * 2000 + "and 32,000 people were killed " + "word " * 2000
    candidate = _only(text)
    assert candidate.quote.end - candidate.quote.start <= 600
    assert "32,000" in text[candidate.quote.start : candidate.quote.end]


# --- metric and country ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metric", "geo", "area"),
    [
        (
            "UNRWA said about 1.2 million people were sheltering in Rafah as of 20 March 2024.",
            "displacement.people",
            "PSE",
            "Rafah",
        ),
        (
            "The health ministry in Gaza said 74,298 people had been injured by 22 March.",
            "casualties.injured.cumulative",
            "PSE",
            None,
        ),
        (
            "More than 32,000 Palestinians have been killed in Israeli bombardments.",
            "casualties.killed.cumulative",
            "PSE",
            None,
        ),
        (
            "The IPC projected that 1.1 million people in Gaza would face catastrophe.",
            "ipc.phase5.people",
            "PSE",
            None,
        ),
        (
            "Half the population of Gaza faces famine.",
            "ipc.phase5.share",
            "PSE",
            None,
        ),
        (
            "A hundred percent of the population of Gaza faces acute food insecurity.",
            "ipc.phase3plus.share",
            "PSE",
            None,
        ),
        (
            "Some 2.2 million Gazans face severe hunger.",
            "ipc.phase3plus.people",
            "PSE",
            None,
        ),
        (
            "Some 159 trucks a day entered Gaza between 1 and 17 March.",
            "aid.trucks.daily",
            "PSE",
            None,
        ),
        (
            "The Flash Appeal for the occupied Palestinian territory requires $2.8 billion.",
            "funding.appeal.requirements_usd",
            "PSE",
            None,
        ),
        (
            "Donors have funded $1.1 billion of the appeal for Sudan.",
            "funding.appeal.funded_usd",
            "SDN",
            None,
        ),
        (
            "Hamas fighters killed 1,200 people in southern Israel.",
            "conflict.israel.killed_2023_10_07",
            "ISR",
            None,
        ),
        (
            "Hamas took 253 hostages.",
            "conflict.israel.hostages_2023_10_07",
            "ISR",
            None,
        ),
        (
            "In Gaza, Israel claimed to have killed or captured hundreds of Hamas fighters.",
            "conflict.combatants.killed_or_captured",
            "PSE",
            None,
        ),
    ],
)
def test_suggested_metric_and_country(text, metric, geo, area):
    """Keyword rules pick the metric for the figure's unit; the place nearest it the country
    (not the source's: 'Israel claimed' is about Gaza here)."""
    candidate = _only(text)
    assert (candidate.metric, candidate.geo, candidate.area) == (metric, geo, area)
    assert candidate.confidence >= 0.6 and candidate.remarks == ()


def test_the_counted_noun_beats_a_nearer_verb():
    """'killed or captured hundreds of Hamas fighters' counts fighters, not the dead."""
    candidate = _only("Israel killed or captured hundreds of Hamas fighters in Gaza.")
    assert candidate.metric == "conflict.combatants.killed_or_captured"
    assert candidate.confidence == 0.9


def test_no_keyword_is_a_low_confidence_guess_to_review():
    candidate = _only("Gaza recorded 4,000 entries.")
    assert candidate.metric == "needs.people_in_need" and candidate.geo == "PSE"
    assert candidate.confidence <= 0.3
    assert candidate.remarks == ("review the metric: no keyword",)


def test_country_from_the_article_when_the_sentence_names_none():
    candidate = _only("Gaza's north is cut off.\nAid groups say 300,000 people are displaced.")
    assert (candidate.geo, candidate.metric) == ("PSE", "displacement.people")
    assert candidate.confidence < 0.9 * 0.8
    assert "geo from the article" in candidate.remarks[0]


def test_no_country_at_all_is_marked_for_the_reviewer():
    candidate = _only("Officials counted 4,000 displaced people.")
    assert candidate.geo == "XXX" and candidate.confidence <= 0.1
    assert "replace geo XXX" in candidate.remarks[0]


# --- the founding article -------------------------------------------------------------------


def test_founding_article(founding_article):
    """The eight figures of the article, and none of its ordinals, ages or durations."""
    candidates = extract_candidates(founding_article)
    found = {
        founding_article[c.quantity.start : c.quantity.end]: (
            c.quantity.comparator,
            c.quantity.value,
            c.quantity.value_high,
            c.quantity.unit,
            c.metric,
            c.geo,
        )
        for c in candidates
    }
    assert found == {
        "a million": ("gt", 1000000, None, "people", "displacement.people", "PSE"),
        "hundreds": (
            "between",
            200,
            999,
            "people",
            "conflict.combatants.killed_or_captured",
            "PSE",
        ),
        "1,200": ("eq", 1200, None, "people", "conflict.israel.killed_2023_10_07", "ISR"),
        "253": ("eq", 253, None, "people", "conflict.israel.hostages_2023_10_07", "ISR"),
        "32,000": ("gt", 32000, None, "people", "casualties.killed.cumulative", "PSE"),
        "A hundred percent": ("eq", 100, None, "percent", "ipc.phase3plus.share", "PSE"),
        "all": ("eq", 1, None, "share", "ipc.phase3plus.share", "PSE"),
        "half": ("eq", Decimal("0.5"), None, "share", "ipc.phase5.share", "PSE"),
    }
    by_figure = {founding_article[c.quantity.start : c.quantity.end]: c for c in candidates}
    assert by_figure["1,200"].attributed_to == "Israeli tallies"
    assert by_figure["253"].attributed_to == "Israeli tallies"
    assert by_figure["32,000"].attributed_to == "Gaza health authorities"
    assert by_figure["A hundred percent"].speaker == "Blinken"
    assert by_figure["a million"].area == "Rafah"
    assert by_figure["hundreds"].attributed_to == "Israel"


# --- rows of a claims file ------------------------------------------------------------------


def test_rows_are_in_the_claims_file_format():
    rows = list(csv.DictReader(io.StringIO(_csv(REPORT, url="https://example.org/a"))))
    assert list(rows[0]) == list(claims.FILE_COLUMNS)
    assert [r["claim_id"] for r in rows] == [f"2024-03-22-wire-{n:02d}" for n in range(1, 7)]
    first = rows[0]
    assert (first["published_on"], first["outlet"], first["url"]) == (
        "2024-03-22",
        "Wire",
        "https://example.org/a",
    )
    assert (first["value"], first["unit"], first["comparator"]) == ("1200000", "people", "approx")
    assert (first["reference_date"], first["period_kind"]) == ("", "any")
    assert first["notes"] == REVIEW_NOTE
    for row in rows:
        assert REPORT[int(row["quote_start"]) : int(row["quote_end"])] == row["quote"]
        assert 0 <= float(row["confidence"]) <= 1
    money = rows[-1]
    assert (money["value"], money["unit"], money["metric"]) == (
        "2800000000",
        "usd",
        "funding.appeal.requirements_usd",
    )


def _load(csv_text: str, tmp_path: Path):
    """The CSV loaded as the claims source loads data/claims, through the Fetcher."""
    folder = tmp_path / "claims"
    folder.mkdir()
    (folder / "proposed.csv").write_text(csv_text, encoding="utf-8")
    settings = HttpSettings()
    with make_client(settings) as client:
        fetcher = Fetcher(
            client, source="claims", run_id="t", raw=RawStore(tmp_path / "raw"), settings=settings
        )
        return claims.extract(fetcher, folder, [])["press_claims"]


def test_rows_load_as_a_claims_file_and_validate(tmp_path):
    """What claims extract writes loads through claims.parse and passes PressClaims."""
    table = PressClaims.validate(_load(_csv(REPORT), tmp_path))
    assert len(table) == 6
    quoted = table[table["speaker"] == "Philippe Lazzarini"].iloc[0]
    assert (quoted["value"], quoted["metric"]) == (1_700_000, "displacement.people")


def test_founding_article_rows_load_and_validate(founding_article, tmp_path):
    table = PressClaims.validate(_load(_csv(founding_article), tmp_path))
    percent = table[table["quoted_unit"] == "percent"].iloc[0]
    assert (percent["value"], percent["unit"], percent["metric"]) == (
        1.0,
        "share",
        "ipc.phase3plus.share",
    )
    assert table["quote_start"].notna().all() and table["confidence"].between(0, 1).all()


def test_published_date_is_checked():
    assert parse_published("2024-03-22") == date(2024, 3, 22)
    for bad in ("22/03/2024", "2024-3-22", "2024-02-30", "yesterday"):
        with pytest.raises(ConfigError, match="YYYY-MM-DD"):
            parse_published(bad)


def test_outlet_defaults_and_slug():
    assert default_outlet("https://www.reuters.com/world/x") == "reuters.com"
    assert default_outlet(None) == "unknown outlet"
    assert outlet_slug("Le Monde diplomatique") == "le-monde-diplomatique"
    assert outlet_slug("Al Jazeera English (Doha)") == "al-jazeera-english-doha"


# --- reading ---------------------------------------------------------------------------------


def test_html_is_reduced_to_the_article():
    page = (
        b"<html><body><nav>Top 10 stories of 2023</nav><article><h1>Rafah</h1>"
        b"<p>UNRWA said about 1.2 million people were sheltering in Rafah as of 20 March "
        b"2024, in tents and schools packed well beyond what they were built for.</p>"
        b"<p>The health ministry in Gaza said 74,298 people had been injured by 22 March, "
        b"with hospitals in the north barely working.</p></article>"
        b"<footer>Subscribe: 3 months for $1</footer></body></html>"
    )
    text = article_text(page, where="page.html", suffix=".html")
    assert "UNRWA said" in text and "Subscribe" not in text and "Top 10" not in text
    plain = article_text(page, where="page.txt", suffix=".txt")
    assert plain.startswith("<html>")  # a .txt file is used as it is


def test_html_detected_by_content_type_then_leading_angle_bracket():
    page = b"<html><body><article><p>" + b"Some 159 trucks a day entered Gaza. " * 20
    page += b"</p></article></body></html>"
    assert "<" not in article_text(page, where="u", content_type="text/html; charset=utf-8")
    assert "<" not in article_text(page, where="u")
    assert article_text(b"Plain 32,000.", where="u", content_type="text/plain") == "Plain 32,000."


def test_unreadable_text_names_where():
    with pytest.raises(ParseError, match="story.txt"):
        article_text(b"\xff\xfe\xfa broken", where="story.txt", suffix=".txt")
    with pytest.raises(ParseError, match="no article text"):
        article_text(b"<html><body></body></html>", where="empty.html", suffix=".html")


# --- speed -----------------------------------------------------------------------------------


def _random_text(size: int) -> str:
    """Random common words, with the words of claims (figures, qualifiers, quotation marks,
    dates) one time in five: a figure every twenty words or so, denser than any article."""
    rng = random.Random(20240322)
    common = (  # noqa: SIM905 (a list of words reads best as one string)
        "the of and to in a is that for it as was with be by on not he this are or his from at "
        "which but have an they you were her she there been one all we their has would when if"
    ).split()
    claim_words = (  # noqa: SIM905
        "more than about nearly 1,200 32,000 a million hundreds of half the population killed "
        'Gaza Israel said according to the UN " , . ; - 2024 October 7 percent trucks a day '
        "$3.4 billion one in four Rafah Gazans all five-day sixth UNRWA say hundred and"
    ).split()
    words = [
        rng.choice(claim_words) if rng.random() < 0.2 else rng.choice(common)
        for _ in range(size // 4)
    ]
    return " ".join(words)[:size]


@pytest.mark.parametrize(
    "text",
    [
        "7" * 200_000,
        "." * 200_000 + "x",
        '"' * 200_000,
        "hundred and " * 20_000,
        "1,000," * 40_000,
        "a " * 100_000,
    ],
    ids=["digits", "dots", "quotes", "number-words", "commas", "articles"],
)
def test_pathological_text_completes(text):
    """Long runs of what the patterns look for end without error (the patterns are linear;
    `make bench` times the 10 MB case, tests never assert on time)."""
    for candidate in extract_candidates(text):
        assert candidate.quantity.value is not None


@pytest.mark.skipif(
    not os.environ.get("AGGREGATOR_LONG_TESTS"),
    reason="10 MB of random text takes ~12 s: set AGGREGATOR_LONG_TESTS=1",
)
def test_ten_megabytes_of_random_text():
    candidates = extract_candidates(_random_text(10_000_000))
    assert len(candidates) > 50_000
