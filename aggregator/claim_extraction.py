"""Candidate press claims from an article, for a person to review (`aggregator claims extract`).

An article (a text file, an HTML file or a URL) becomes plain text: HTML through trafilatura,
which keeps the article and drops navigation, footers and the like. In that text every quoted
figure is found ("32,000", "a million", "a hundred percent", "one in four", "hundreds of",
"$3.4 billion"), with dates, times, ordinals, labels ("Phase 5") and compound adjectives
("five-day") left out. For each figure its sentence gives the comparator ("more than" is gt),
the unit, whom the figure is attributed to, and a suggested metric and country from keyword
rules, with a confidence. The rows are in the claims file format
(aggregator/connectors/claims.py), so that a reviewed file loads as is.

Every pattern is linear in the text (bounded repetition, no overlapping alternatives), and the
work per figure is bounded by its sentence, a very long "sentence" being cut into pieces, so
megabytes of text take seconds.
"""

from __future__ import annotations

import bisect
import csv
import re
import unicodedata
from collections import Counter
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache, cached_property
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from text_to_num import text2num

from aggregator.config import Settings
from aggregator.connectors.claims import FILE_COLUMNS, TEXT_COLUMNS
from aggregator.errors import ConfigError, ParseError
from aggregator.export.cells import neutralise
from aggregator.geo import NAME_OVERRIDES, country

SOURCE = "claims_extract"
REVIEW_NOTE = "proposed by claims extract: review metric, geo and comparator"
UNKNOWN_GEO = "XXX"  # ISO 3166 leaves X-codes to users: a reviewer has to replace it
HTML_SUFFIXES = (".html", ".htm", ".xhtml")

# --- Reading an article -------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    text: str
    url: str | None  # where it was fetched from; None for a file


def read_article(target: str, settings: Settings) -> Article:
    """The text of a file, or of an http(s) URL fetched through the project's HTTP layer."""
    if urlsplit(target).scheme in ("http", "https"):
        return _fetch_article(target, settings)
    path = Path(target)
    if not path.is_file():
        raise ConfigError(f"{target}: no such file (give a text or HTML file, or an http(s) URL)")
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{target}: cannot read ({exc.strerror})") from None
    return Article(article_text(body, where=target, suffix=path.suffix), url=None)


def _fetch_article(url: str, settings: Settings) -> Article:
    from aggregator.http import Fetcher, make_client
    from aggregator.pipeline import new_run_id
    from aggregator.raw import RawStore

    with make_client(settings.http) as client:
        fetcher = Fetcher(
            client,
            source=SOURCE,
            run_id=new_run_id(),
            raw=RawStore(settings.raw_dir),
            settings=settings.http,
        )
        fetched = fetcher.get(url)
    text = article_text(
        fetched.path.read_bytes(),
        where=fetched.record.url,
        suffix=Path(urlsplit(url).path).suffix,
        content_type=fetched.record.content_type,
    )
    return Article(text, url=fetched.record.url)


def article_text(
    body: bytes, *, where: str, suffix: str = "", content_type: str | None = None
) -> str:
    """Plain text as it is; the main text of an HTML page."""
    if _is_html(body, suffix, content_type):
        return _html_main_text(body, where)
    charset = _charset(content_type) or "utf-8-sig"
    try:
        return body.decode(charset)
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise ParseError(
            SOURCE,
            f"{where} line {line}",
            f"not {charset} text ({exc.reason} at byte {exc.start + 1:,})",
        ) from None
    except LookupError as exc:
        raise ParseError(SOURCE, where, f"not {charset} text ({exc})") from None


def _is_html(body: bytes, suffix: str, content_type: str | None) -> bool:
    """The server's content type decides, else the file suffix, else a leading '<'."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type and media_type != "application/octet-stream":
        return "html" in media_type
    if suffix:
        return suffix.lower() in HTML_SUFFIXES
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=\"?([\w.:-]+)", content_type or "", re.IGNORECASE)
    return match.group(1) if match else None


def _html_main_text(body: bytes, where: str) -> str:
    import trafilatura

    text = trafilatura.extract(body, include_comments=False, include_tables=False)
    if not text:
        raise ParseError(SOURCE, where, "no article text found in the HTML")
    return text


# --- Finding quantities -------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A figure as the text states it: where, how much, in what unit, how compared."""

    start: int
    end: int  # past the figure's words, and past a percent sign or currency word if any
    value: Decimal
    unit: str  # people | percent | share | usd | trucks_per_day | trucks
    comparator: str = "eq"
    value_high: Decimal | None = None


_SMALL_NUMBERS = (  # noqa: SIM905 (a list of words reads best as one string)
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()  # noqa: SIM905
_MAGNITUDES = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}
_WORD_VALUES = {word: n for n, word in enumerate(_SMALL_NUMBERS)}
_WORD_VALUES |= {word: 20 + 10 * n for n, word in enumerate(_TENS)}
_NUMBER_WORD = (
    "(?:" + "|".join(sorted([*_WORD_VALUES, *_MAGNITUDES], key=len, reverse=True)) + r")\b"
)
_MAGNITUDE = "(?:hundred|thousand|million|billion)"
# Words of the longest number below a trillion ("nine hundred and ninety-nine billion nine
# hundred and ninety-nine million ..."): a shorter cap would cut such a number in two and
# misread both halves.
_MAX_NUMBER_WORDS = 20
_FRACTIONS = {"half": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4}
_FRACTIONS |= {"fifth": 5, "fifths": 5, "tenth": 10, "tenths": 10}
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DAYS_TO = r"\s*(?:-|–|to|and)\s*"  # "1-17 March", "between 1 and 17 March"
# Bounded, and never starting or ending inside a longer run of digits.
_DIGITS = r"(?<![\d.,])(?:\d{1,3}(?:,\d{3}){1,5}|\d{1,15})(?:\.\d{1,6})?(?![\d,]\d|\d)"
_POPULATION = (
    r"(?:people|population|residents|inhabitants|households|families|children|civilians"
    r"|Gazans|Palestinians|Sudanese|Afghans|Yemenis|Haitians|Syrians|Somalis)"
)
# One pass over the text. At each position the first alternative that matches wins, so
# dates and times are consumed before their digits could be read as counts. Month names are
# case-sensitive ("May 2024" is a date, "may 5" is not); number words are not.
_QUANTITY = re.compile(
    rf"""
    (?<!\w)(?=[\w$])  # a figure starts a word: one cheap test rules out most positions
    (?:
    (?P<date>
        \b\d{{4}}-\d{{2}}-\d{{2}}\b
      | \b\d{{1,2}}:\d{{2}}(?::\d{{2}})?(?:\s?(?i:[ap]\.?m)\b\.?)?
      | \b\d{{1,2}}\s?(?i:[ap]\.?m)\b\.?
      | \b(?:{_DAY}{_DAYS_TO})?{_DAY}\s+{_MONTH}(?:,?\s+\d{{4}}\b)?
      | \b{_MONTH}\s+(?:\d{{4}}\b|{_DAY}\b(?:{_DAYS_TO}{_DAY}\b)?(?:,?\s+\d{{4}}\b)?)
      | \b(?:1[89]|20)\d{{2}}\b(?![,.]\d)
    )
  | (?i:
        (?P<vague>\b(?:(?P<vague_times>tens|hundreds)\s+of\s+)?
            (?P<vague_unit>hundreds|thousands|millions|billions)\b)
      | (?P<ratio>\b(?P<ratio_num>\d{{1,3}}|{_NUMBER_WORD})\s+(?:in|out\s+of)\s+
            (?P<ratio_den>\d{{1,3}}\b|(?:a\s+)?{_NUMBER_WORD}))
      | (?P<half_magnitude>\bhalf\s+an?\s+(?P<half_of>thousand|million|billion)\b)
      | (?P<fraction>\b(?:(?P<fraction_num>an?|one|two|three|four)\s+)?
            (?P<fraction_den>{"|".join(_FRACTIONS)})\b)
      | (?P<all>\ball\b(?=\s+(?:the\s+|of\s+the\s+)?{_POPULATION}\b))
      | (?P<money>(?:US\s?\$|\$|USD\s?)(?P<money_digits>{_DIGITS})
            (?:\s+(?P<money_magnitude>thousand|million|billion|bn)\b)?)
      | (?P<words>\b(?:an?\s+(?={_MAGNITUDE}))?{_NUMBER_WORD}
            (?:(?:(?<=hundred)|(?<=thousand)|(?<=million)|(?<=billion))\s+and\s+{_NUMBER_WORD}
              |[\s-]+{_NUMBER_WORD}){{0,{_MAX_NUMBER_WORDS - 1}}})
    )
  | (?P<digits>{_DIGITS})(?:\s+(?i:(?P<digits_magnitude>thousand|million|billion|bn)\b))?
    )
    """,
    re.VERBOSE,
)
_PERCENT_AFTER = re.compile(r"\s?(?:%|(?i:percent|per\s+cent)\b)")
_DOLLARS_AFTER = re.compile(r"\s+(?i:(?:us\s+)?dollars\b|usd\b)")
_TRUCKS_AFTER = re.compile(r"\s+(?:[a-z-]+\s+){0,2}?(?i:trucks?|lorr(?:y|ies))\b")
_PER_DAY_AFTER = re.compile(r"\s+(?i:(?:a|per|each|every)\s+day|daily)\b")
_ORDINAL_AFTER = re.compile(r"(?i:st|nd|rd|th)\b")
_COMPOUND_AFTER = re.compile(r"-[A-Za-z]")  # "six-month-old", "five-day"
_IDENTIFIER_BEFORE = re.compile(r"(?:\w-|\w/)$")
# A count followed by these measures time, distance, steps or weight, not people or money.
_NOT_COUNTED_AFTER = re.compile(
    r"\s*(?i:(?:days?|weeks?|months?|years?|hours?|minutes?|seconds?|decades?|centur(?:y|ies)"
    r"|levels?|phases?|stages?|times|rounds?|percentage\s+points?|km|kilomet(?:re|er)s?|miles?"
    r"|met(?:re|er)s?|kg|kilograms?|tonnes?|tons?|lit(?:re|er)s?|calories|kcal|hectares?"
    r"|dunums?|degrees?)\b)"
)
# After these words a number is a label or an age: "Phase 5", "children under five".
LABELS = frozenset(
    "phase level stage resolution report article section chapter page no. number route gate "  # noqa: SIM905
    "flight day week aged ages #".split()
) | {
    f"{young} {limit}" for young in ("children", "infants", "kids") for limit in ("under", "below")
}
# The words just before a figure that say how it compares ("more than 32,000" is gt 32000).
QUALIFIERS = {
    **dict.fromkeys(("more than", "greater than", "over", "above", "exceeding"), "gt"),
    **dict.fromkeys(("in excess of", "upwards of", "just over", "well over"), "gt"),
    **dict.fromkeys(("at least", "no fewer than", "no less than", "a minimum of"), "gte"),
    **dict.fromkeys(("nearly", "almost", "just under", "just below", "just short of"), "lt"),
    **dict.fromkeys(("less than", "fewer than", "under", "below"), "lt"),
    **dict.fromkeys(("up to", "as many as", "as much as", "at most", "no more than"), "lte"),
    **dict.fromkeys(("a maximum of",), "lte"),
    **dict.fromkeys(("about", "around", "some", "roughly", "approximately"), "approx"),
    **dict.fromkeys(("an estimated", "estimated", "close to", "an approximate"), "approx"),
}
_LONGEST_QUALIFIER = 3  # words
_REACH_BEFORE = 40  # characters before a figure read for its label or qualifier
_HALF_PERIODS = frozenset(("first", "second", "latter", "last", "other"))
_HALF_OF_PEOPLE_AFTER = re.compile(
    r"\s+(?i:of|the|all|its|their|those|these|our|are|were|is|was)\b|\s+[A-Z]"
)
_OF_AFTER = re.compile(r"\s+of\b")
_QUALIFIER_AFTER = re.compile(r"(?P<gte>\s+or\s+more\b|\+|-plus\b)|(?P<approx>\s+or\s+so\b)", re.I)


def find_quantities(text: str) -> Iterator[Quantity]:
    """Every figure in the text that could be a claim, in order of position."""
    for match in _QUANTITY.finditer(text):
        if match.group("date") is not None:
            continue
        quantity = _quantity(match, text)
        if quantity is not None and not _is_excluded(quantity, match, text):
            yield _with_comparator(quantity, text)


def _quantity(match: re.Match[str], text: str) -> Quantity | None:
    start, end = match.span()
    if match.group("vague"):
        return _vague(match)
    if match.group("ratio"):
        numerator = _small_number(match.group("ratio_num"))
        denominator = _small_number(match.group("ratio_den"))
        if numerator is None or not denominator or numerator > denominator:
            return None
        return Quantity(start, end, _share(numerator, denominator), "share")
    if match.group("half_magnitude"):
        value = Decimal(_MAGNITUDES[match.group("half_of").lower()]) / 2
        return _counted(Quantity(start, end, value, "people"), text)
    if match.group("fraction"):
        return _fraction(match, text)
    if match.group("all"):
        return Quantity(start, end, Decimal(1), "share")
    if match.group("money"):
        return _money(match)
    if match.group("words"):
        return _words(match, text)
    value = _decimal(match.group("digits")) * _magnitude(match.group("digits_magnitude"))
    return _counted(Quantity(start, end, value, "people"), text)


def _vague(match: re.Match[str]) -> Quantity:
    """'hundreds of' is 200 to 999: at least two of the unit and fewer than ten."""
    times = {"tens": 10, "hundreds": 100}.get((match.group("vague_times") or "").lower(), 1)
    unit = _MAGNITUDES[match.group("vague_unit").lower().removesuffix("s")] * times
    low, high = Decimal(2 * unit), Decimal(10 * unit - 1)
    return Quantity(match.start(), match.end(), low, "people", "between", high)


def _small_number(token: str) -> int | None:
    token = re.sub(r"^an?\s+", "", token.lower())
    if token.isdigit():
        return int(token)
    return _MAGNITUDES.get(token, _WORD_VALUES.get(token))


def _share(numerator: int, denominator: int) -> Decimal:
    """Exact when three decimals hold it (0.25, 0.125); else two (a third is 0.33)."""
    exact = Decimal(numerator) / Decimal(denominator)
    if exact == exact.quantize(Decimal("0.001")):
        return exact.normalize()
    return exact.quantize(Decimal("0.01"))


def _fraction(match: re.Match[str], text: str) -> Quantity | None:
    denominator_word = match.group("fraction_den").lower()
    numerator_word = (match.group("fraction_num") or "").lower()
    start, end = match.span()
    if denominator_word == "half":
        # "half the population" is a share; "the first half of 2024", "half a day" are not.
        period = _words_before(text, start, 1) in _HALF_PERIODS
        if period or not _HALF_OF_PEOPLE_AFTER.match(text, end):
            return None
        numerator = 1
    elif numerator_word and _OF_AFTER.match(text, end):
        numerator = _small_number(numerator_word) or 1
    else:
        return None  # "a third of" is a share; "the third day", "a third time" are not
    return Quantity(start, end, _share(numerator, _FRACTIONS[denominator_word]), "share")


def _money(match: re.Match[str]) -> Quantity:
    value = _decimal(match.group("money_digits")) * _magnitude(match.group("money_magnitude"))
    return Quantity(match.start(), match.end(), value, "usd")


def _words(match: re.Match[str], text: str) -> Quantity | None:
    words = re.sub(r"^an?\s+", "", match.group("words").lower()).replace("-", " ")
    try:
        value = text2num(" ".join(words.split()), "en")
    except ValueError:
        return None  # a list of numbers ("two and three"), not one number
    # Figures worth checking are written in digits; "the two allies", "one of" are not claims.
    if value < 10 and not _PERCENT_AFTER.match(text, match.end()):
        return None
    return _counted(Quantity(match.start(), match.end(), Decimal(value), "people"), text)


def _decimal(digits: str) -> Decimal:
    return Decimal(digits.replace(",", ""))


def _magnitude(word: str | None) -> int:
    if not word:
        return 1
    word = word.lower()
    return 10**9 if word == "bn" else _MAGNITUDES[word]


def _counted(quantity: Quantity, text: str) -> Quantity:
    """The unit of a count, from the words right after it."""
    start, end, value = quantity.start, quantity.end, quantity.value
    if percent := _PERCENT_AFTER.match(text, end):
        return Quantity(start, percent.end(), value, "percent")
    if dollars := _DOLLARS_AFTER.match(text, end):
        return Quantity(start, dollars.end(), value, "usd")
    if trucks := _TRUCKS_AFTER.match(text, end):
        unit = "trucks_per_day" if _PER_DAY_AFTER.match(text, trucks.end()) else "trucks"
        return Quantity(start, end, value, unit)
    return quantity


def _is_excluded(quantity: Quantity, match: re.Match[str], text: str) -> bool:
    """Compound adjectives, ordinals, labels, identifiers, durations and distances."""
    start, end = match.span()
    if _COMPOUND_AFTER.match(text, end):
        return True  # "six-month-old", "five-day"
    if _IDENTIFIER_BEFORE.search(text, max(0, start - 2), start):
        return True  # "F-16", the "24" of "2023-24", "24/7"
    if match.group("digits") and _ORDINAL_AFTER.match(text, end):
        return True  # "6th"
    if text[start - 1 : start] == "#" or _ends_with_any(text, start, LABELS, 2):
        return True
    return quantity.unit == "people" and bool(_NOT_COUNTED_AFTER.match(text, quantity.end))


def _with_comparator(quantity: Quantity, text: str) -> Quantity:
    if quantity.comparator != "eq":
        return quantity  # "hundreds of" is a range already
    before = _ends_with_any(text, quantity.start, QUALIFIERS, _LONGEST_QUALIFIER)
    after = _QUALIFIER_AFTER.match(text, quantity.end)
    comparator = QUALIFIERS[before] if before else (after.lastgroup if after else None)
    if comparator is None:
        return quantity
    return Quantity(quantity.start, quantity.end, quantity.value, quantity.unit, comparator)


def _words_before(text: str, position: int, count: int) -> str:
    """The last words before a position, lower case, as one string ("" after punctuation)."""
    head = text[max(0, position - _REACH_BEFORE) : position]
    if not head[-1:].isspace():
        return ""
    return " ".join(word.lstrip('"“‘(') for word in head.lower().split()[-count:])


def _ends_with_any(text: str, position: int, phrases: Container[str], longest: int) -> str | None:
    """The phrase of ``phrases`` that the text just before a position ends with, if any."""
    words = _words_before(text, position, longest).split()
    for size in range(len(words), 0, -1):
        phrase = " ".join(words[-size:])
        if phrase in phrases:
            return phrase
    return None


# --- Sentences, clauses and quotations ----------------------------------------------------

# A run of end marks counts once: the lookbehind stops a long run of dots from being retried
# at every position.
_SENTENCE_END = re.compile(r"(?<![.!?])[.!?]+[\"”’')\]]*(?=\s|$)|\n+")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof col gen lt sgt capt maj st no vs approx est jan feb mar apr jun jul aug "  # noqa: SIM905
    "sep sept oct nov dec u.s u.n u.k e.g i.e".split()
)
_WORD_BEFORE_STOP = re.compile(r"[\w.]*$")
_CLAUSE_BREAK = re.compile(r"[,;:]\s|\s[-–—]\s|[()]")
_QUOTE_MARKS = re.compile(r"[\"“”\n]")
_LONGEST_QUOTE = 600  # characters: a longer "sentence" is cut into pieces


@dataclass(frozen=True)
class Span:
    start: int
    end: int

    def holds(self, position: int) -> bool:
        return self.start <= position < self.end


class Layout:
    """Where the sentences and quotations of a text are, worked out once per text.

    A "sentence" longer than _LONGEST_QUOTE characters (a list, a table flattened to text,
    or no text at all) is cut into pieces of about that length between words, so that each
    figure's context stays bounded.
    """

    def __init__(self, text: str):
        self.text = text
        self.sentence_ends = list(self._sentence_ends())
        self._quotation_starts, self._quotation_ends = _quotations(text)

    def _sentence_ends(self) -> Iterator[int]:
        start = 0
        for match in _SENTENCE_END.finditer(self.text):
            if _ends(match, self.text):
                yield from self._pieces(start, match.end())
                start = match.end()
        yield from self._pieces(start, len(self.text))

    def _pieces(self, start: int, end: int) -> Iterator[int]:
        while end - start > _LONGEST_QUOTE:
            cut = self.text.rfind(" ", start + _LONGEST_QUOTE // 2, start + _LONGEST_QUOTE)
            start = cut if cut > start else start + _LONGEST_QUOTE
            yield start
        yield end

    def sentence(self, quantity: Quantity) -> Span:
        """The sentence (or piece of a very long one) holding the figure."""
        index = bisect.bisect_right(self.sentence_ends, quantity.start)
        start = self.sentence_ends[index - 1] if index else 0
        end = self.sentence_ends[index] if index < len(self.sentence_ends) else len(self.text)
        return _trimmed(self.text, start, end)

    def quotation(self, position: int) -> Span | None:
        """The quotation a position is inside, from opening to closing mark."""
        index = bisect.bisect_right(self._quotation_starts, position) - 1
        if index >= 0 and position < self._quotation_ends[index]:
            return Span(self._quotation_starts[index], self._quotation_ends[index])
        return None


def clause_breaks(text: str, sentence: Span) -> list[Span]:
    return [Span(*brk.span()) for brk in _CLAUSE_BREAK.finditer(text, sentence.start, sentence.end)]


def clause_around(quantity: Quantity, sentence: Span, breaks: list[Span]) -> Span:
    """The stretch of the sentence between the commas or dashes around the figure."""
    index = bisect.bisect_left(breaks, quantity.start, key=lambda brk: brk.start)
    start = breaks[index - 1].end if index else sentence.start
    while index < len(breaks) and breaks[index].start < quantity.end:
        index += 1  # a break inside the figure's words is no break
    end = breaks[index].start if index < len(breaks) else sentence.end
    return Span(max(start, sentence.start), end)


def _ends(match: re.Match[str], text: str) -> bool:
    """False for the full stop of an abbreviation ("U.S. officials", "Col. Tetro")."""
    if not match.group().startswith("."):
        return True
    word = _WORD_BEFORE_STOP.search(text, max(0, match.start() - 8), match.start()).group()
    return not (word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()))


def _quotations(text: str) -> tuple[list[int], list[int]]:
    """Starts and ends of quotations, opening to closing mark; a new paragraph closes a
    quotation left open."""
    starts, ends, opened = [], [], None
    for mark in _QUOTE_MARKS.finditer(text):
        char = mark.group()
        if char == "\n":
            opened = None
        elif opened is None and char != "”":
            opened = mark.start()
        elif opened is not None and char != "“":
            starts.append(opened)
            ends.append(mark.end())
            opened = None
    return starts, ends


def _trimmed(text: str, start: int, end: int) -> Span:
    """Without surrounding space, nor a quotation mark whose pair is outside the sentence."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    marks = sum(text.count(mark, start, end) for mark in '"“”')
    if marks % 2 and text[start] in '"“':
        start += 1
    elif marks % 2 and text[end - 1] in '"”':
        end -= 1
    return Span(start, end)


# --- Attribution --------------------------------------------------------------------------


@dataclass(frozen=True)
class Attribution:
    who: str
    span: Span  # where the source is named: its name is not the place a figure is about


_NAME_WORD = r"[A-Z](?:[\w'’-]|\.(?=\w))*"  # "U.S" inside a name, never a full stop after it
_NAME = rf"{_NAME_WORD}(?:\s+(?:of\s+)?{_NAME_WORD}){{0,4}}"
_PRONOUNS = frozenset("he she they it we i you who which that this these those".split())  # noqa: SIM905
_ATTRIBUTION_PHRASES = (
    re.compile(r"\baccording\s+to\s+(?P<who>[^,.;:!?\"“”()]{2,80})"),
    # "by Israeli tallies"
    re.compile(
        r"\bby\s+(?P<who>(?:[\w'’-]+\s+){0,3}?(?:tall(?:y|ies)|figures|counts?|estimates|data))\b"
    ),
    # "a report by the hunger monitor ... found"
    re.compile(
        r"\b(?:report|analysis|study|survey|assessment)\b[^,.;]{0,40}?\bby\s+"
        r"(?P<who>[^,.;]{2,80}?)\s+(?:found|finds|said|says|showed|shows|estimated|estimates)\b"
    ),
)
_SAYING_VERB = re.compile(
    r"\b(?:said|says|say|told|tells|claimed|claims|reported|reports|estimated|estimates"
    r"|announced|stated)\b"
)
_SUBJECT_START = re.compile(r"[,;:\"“”(][^,;:\"“”(]*$")
_SAID_NAME = re.compile(rf"\s+(?P<who>(?:the\s+)?{_NAME})")
_AFTER_QUOTATION = re.compile(
    rf"[\s,]*(?:(?P<who>{_NAME})(?:,[^,.]{{1,120}},)?\s+(?:said|says|told|added|wrote|stated)\b"
    rf"|(?:said|says|added|wrote)\s+(?P<who_after>{_NAME}))"
)
_BEFORE_QUOTATION = re.compile(
    rf"(?P<who>{_NAME})\s+(?:said|says|told\s+\w+|added|wrote)\s*[:,]?\s*$"
)
_TRAILING_AUXILIARIES = re.compile(
    r"(?:\s+(?:had|has|have|also|earlier|previously|later|then|would|will|again))+$"
)
_LEADING_CONJUNCTION = re.compile(r"^(?:and|but|while|as|so|yet)\s+", re.I)
_LONGEST_SUBJECT = 6  # words: a longer stretch before "said" is a clause, not a source
_SPEAKER_REACH = 200  # characters around a quotation searched for who speaks it


def attributions(text: str, sentence: Span) -> list[Attribution]:
    """Every source the sentence names for its figures: "according to X", "X said"..."""
    for pattern in _ATTRIBUTION_PHRASES:
        if match := pattern.search(text, sentence.start, sentence.end):
            who = match.group("who").strip()
            return [Attribution(who, Span(match.start("who"), match.start("who") + len(who)))]
    verbs = _SAYING_VERB.finditer(text, sentence.start, sentence.end)
    found = (_said_by(text, sentence, verb) for verb in verbs)
    return [a for a in found if a is not None]


def _said_by(text: str, sentence: Span, verb: re.Match[str]) -> Attribution | None:
    """The subject of "X said" (back to the last comma), or the name in "said X"."""
    reach = max(sentence.start, verb.start() - _SPEAKER_REACH)
    opening = _SUBJECT_START.search(text, reach, verb.start())
    clause_start = opening.start() + 1 if opening else sentence.start
    subject = _TRAILING_AUXILIARIES.sub("", text[clause_start : verb.start()].strip())
    subject = _LEADING_CONJUNCTION.sub("", subject)
    if _is_source(subject):
        start = text.index(subject, clause_start)
        return Attribution(subject, Span(start, start + len(subject)))
    if verb.group() in ("said", "says"):
        after = _SAID_NAME.match(text, verb.end(), sentence.end)
        if after and _is_source(after.group("who")):
            return Attribution(after.group("who"), Span(after.start("who"), after.end("who")))
    return None


def _is_source(words: str) -> bool:
    """A short phrase naming someone: "Gaza health authorities", "the ministry", not "he"."""
    parts = words.split()
    if not parts or len(parts) > _LONGEST_SUBJECT or any(c.isdigit() for c in words):
        return False
    return (parts[0][0].isupper() or parts[0] == "the") and words.lower() not in _PRONOUNS


def quotation_speaker(text: str, quotation: Span) -> str | None:
    """Who speaks a quotation: '"...," Blinken told a news conference' or 'X said: "..."'."""
    after = _AFTER_QUOTATION.match(text, quotation.end, quotation.end + _SPEAKER_REACH)
    if after:
        who = after.group("who") or after.group("who_after")
        if who.lower() not in _PRONOUNS:
            return who
    reach = max(0, quotation.start - _SPEAKER_REACH)
    line_start = text.rfind("\n", reach, quotation.start) + 1
    before = _BEFORE_QUOTATION.search(text, max(line_start, reach), quotation.start)
    if before and before.group("who").lower() not in _PRONOUNS:
        return before.group("who")
    return None


# --- Places -------------------------------------------------------------------------------

# How the press names places ISO 3166 does not: peoples, adjectives, and the Gaza Strip's
# governorates and towns (which are also the claim's area). geo.country() resolves the rest.
PRESS_PLACES = {
    "gaza": "PSE",
    "gazan": "PSE",
    "gazans": "PSE",
    "palestinian": "PSE",
    "palestinians": "PSE",
    "west bank": "PSE",
    "israeli": "ISR",
    "israelis": "ISR",
    "sudanese": "SDN",
    "south sudanese": "SSD",
    "afghan": "AFG",
    "afghans": "AFG",
    "yemeni": "YEM",
    "yemenis": "YEM",
    "haitian": "HTI",
    "haitians": "HTI",
    "syrian": "SYR",
    "syrians": "SYR",
    "somali": "SOM",
    "somalis": "SOM",
    "lebanese": "LBN",
}
GAZA_AREAS = {
    "rafah": "Rafah",
    "khan younis": "Khan Younis",
    "khan yunis": "Khan Younis",
    "deir al-balah": "Deir al-Balah",
    "gaza city": "Gaza City",
    "north gaza": "North Gaza",
    "jabalia": "Jabalia",
    "beit lahia": "Beit Lahia",
    "beit hanoun": "Beit Hanoun",
}
_CAPITALISED_WORD = re.compile(r"(?<![\w'’-])[A-Z][\w'’-]*")
_NEXT_WORD = re.compile(r"\s+([\w'’-]+)")
_POSSESSIVE = re.compile(r"['’]s?$")
_LONGEST_PLACE_NAME = 5  # words: "Democratic Republic of the Congo"
_ARTICLE_HEAD = 20_000  # characters read for the country an article is mostly about


@dataclass(frozen=True)
class Place:
    start: int
    iso3: str
    area: str | None


@dataclass(frozen=True)
class PlaceNames:
    resolvable: dict[str, str]  # lower-case name -> what geo.country() resolves
    first_words: frozenset[str]  # of every name: most words start none, and are passed over


@cache
def _place_names() -> PlaceNames:
    import pycountry

    names: dict[str, str] = {}
    for record in pycountry.countries:
        for attribute in ("name", "common_name", "official_name"):
            if name := getattr(record, attribute, None):
                names[name.lower()] = name
    names |= {name: name for name in NAME_OVERRIDES}
    names |= PRESS_PLACES
    names |= dict.fromkeys(GAZA_AREAS, "PSE")
    return PlaceNames(names, frozenset(name.split()[0] for name in names))


def places(text: str, start: int, end: int) -> list[Place]:
    """Countries and Gaza areas named between start and end, in order, longest names first."""
    names = _place_names()
    found: list[Place] = []
    resume = start  # past the last name found: "Gaza City" is not also "Gaza"
    for word in _CAPITALISED_WORD.finditer(text, start, end):
        if word.start() < resume or _name_key(word.group()) not in names.first_words:
            continue
        words, ends = [word.group()], [word.end()]
        while len(words) < _LONGEST_PLACE_NAME and (
            following := _NEXT_WORD.match(text, ends[-1], end)
        ):
            words.append(following.group(1))
            ends.append(following.end())
        for size in range(len(words), 0, -1):
            name = _name_key(" ".join(words[:size]))
            if name in names.resolvable:
                iso3 = country(names.resolvable[name]).iso3
                found.append(Place(word.start(), iso3, GAZA_AREAS.get(name)))
                resume = ends[size - 1]
                break
    return found


def _name_key(words: str) -> str:
    return _POSSESSIVE.sub("", words.lower())


# --- Metrics ------------------------------------------------------------------------------


# Words that say what a figure counts, each under a topic name. One pattern, so that a
# sentence is read once whatever the number of topics.
TOPICS = {
    "hostages": r"hostages?|abduct\w*|kidnapp\w*",
    "killed": r"kill(?:ed|ing)|dead|deaths?|death\s+toll|died",
    "fighters": r"fighters|militants|combatants|gunmen",
    "famine": r"catastroph\w*|famine|phase\s*5",
    "food_insecurity": r"food\s+insecur\w*|phase\s*3|(?:severe|acute|extreme)\s+hunger"
    r"|food\s+shortages?|hunger",
    "trucks": r"trucks?|lorr(?:y|ies)",
    "injured": r"injur\w*|wounded",
    "displaced": r"displace\w*|taken\s+refuge|refuge|sheltering|shelters?|fled",
    "funded": r"funded|funding|received|pledge[ds]?",
    "appeal": r"appeal\w*|requirements?|require[sd]?|seek(?:s|ing)?",
    "in_need": r"in\s+need|need\s+(?:humanitarian\s+)?(?:assistance|aid|help)",
}
_TOPIC_WORDS = re.compile(
    r"\b(?:" + "|".join(f"(?P<{name}>{words})" for name, words in TOPICS.items()) + r")\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MetricRule:
    """A topic pointing to metrics, one metric per kind of unit the figure is in."""

    topic: str
    metrics: dict[str, str]  # unit kind (people, share, usd, trucks_per_day) -> metric id
    requires: re.Pattern[str] | None = None  # must appear in the sentence too
    geo: str | None = None  # the metric is about this country whatever the text names


# In order of precedence when two topics' words are equally near the figure, and for one
# topic, the first rule whose requirement the sentence meets.
METRIC_RULES = (
    MetricRule("hostages", {"people": "conflict.israel.hostages_2023_10_07"}, geo="ISR"),
    MetricRule(
        "killed",
        {"people": "conflict.israel.killed_2023_10_07"},
        requires=re.compile(
            r"southern Israel|\bin Israel\b|\bIsraelis\b|(?:October 7|7 October)(?:th)? attack"
        ),
        geo="ISR",
    ),
    MetricRule(
        "fighters",
        {"people": "conflict.combatants.killed_or_captured"},
        requires=re.compile(r"\bkill|\bcaptur|\beliminat|\barrest|\bdetain", re.IGNORECASE),
    ),
    MetricRule("famine", {"share": "ipc.phase5.share", "people": "ipc.phase5.people"}),
    MetricRule(
        "food_insecurity", {"share": "ipc.phase3plus.share", "people": "ipc.phase3plus.people"}
    ),
    MetricRule("trucks", {"trucks_per_day": "aid.trucks.daily"}),
    MetricRule("killed", {"people": "casualties.killed.cumulative"}),
    MetricRule("injured", {"people": "casualties.injured.cumulative"}),
    MetricRule("displaced", {"people": "displacement.people"}),
    MetricRule(
        "funded", {"usd": "funding.appeal.funded_usd", "share": "funding.appeal.coverage_share"}
    ),
    MetricRule("appeal", {"usd": "funding.appeal.requirements_usd"}),
    MetricRule("in_need", {"people": "needs.people_in_need"}),
)
# The best guess, by the figure's unit, when no rule fits.
FALLBACK_METRICS = {
    "people": "needs.people_in_need",
    "share": "ipc.phase3plus.share",
    "usd": "funding.appeal.requirements_usd",
    "trucks_per_day": "aid.trucks.daily",
    "trucks": "aid.trucks.daily",  # no metric counts trucks: the reviewer decides
}
# How sure a suggested metric is, by where its keyword was: in the words the figure counts
# ("253 hostages"), in its clause, in its sentence, nowhere.
CONFIDENCE = {"counted": 0.9, "clause": 0.8, "sentence": 0.6, "none": 0.2}
GEO_FROM_ARTICLE = 0.75  # times the confidence when only the article names the country
GEO_UNKNOWN = 0.1  # at most this when no country is named at all
_COUNTED_WORDS = re.compile(r"(?:\W+\w+){1,3}")
COUNTS = ("people", "trucks_per_day", "trucks")  # money and shares count nothing


@dataclass(frozen=True)
class Keyword:
    span: Span
    rule: int  # index in METRIC_RULES of a rule of the word's topic that the sentence meets


@dataclass(frozen=True)
class MetricGuess:
    metric: str
    confidence: float
    geo: str | None  # the rule's fixed country


def unit_kind(unit: str) -> str:
    return "share" if unit == "percent" else unit


def keywords(text: str, sentence: Span) -> list[Keyword]:
    """Topic words of the sentence, once for each rule of the topic the sentence meets."""
    rules = [
        (index, rule)
        for index, rule in enumerate(METRIC_RULES)
        if rule.requires is None or rule.requires.search(text, sentence.start, sentence.end)
    ]
    return [
        Keyword(Span(*match.span()), index)
        for match in _TOPIC_WORDS.finditer(text, sentence.start, sentence.end)
        for index, rule in rules
        if rule.topic == match.lastgroup
    ]


def suggest_metric(
    text: str, quantity: Quantity, clause: Span, sentence: Span, found: list[Keyword]
) -> MetricGuess:
    """The metric whose topic words sit nearest the figure, in the narrowest stretch that has
    any: the words the figure counts ("253 hostages"), its clause, its sentence."""
    kind = unit_kind(quantity.unit)
    fitting = [k for k in found if kind in METRIC_RULES[k.rule].metrics]
    tiers = [("clause", clause), ("sentence", sentence)]
    if kind in COUNTS:
        counted = _COUNTED_WORDS.match(text, quantity.end, sentence.end)
        tiers.insert(0, ("counted", Span(quantity.end, counted.end() if counted else quantity.end)))
    for tier, span in tiers:
        inside = [k for k in fitting if span.holds(k.span.start)]
        if inside:
            nearest = min(inside, key=lambda k: (_distance(k.span, quantity), k.rule))
            rule = METRIC_RULES[nearest.rule]
            return MetricGuess(rule.metrics[kind], CONFIDENCE[tier], rule.geo)
    return MetricGuess(FALLBACK_METRICS[kind], CONFIDENCE["none"], None)


def _distance(span: Span, quantity: Quantity) -> int:
    if span.end <= quantity.start:
        return quantity.start - span.end
    return max(0, span.start - quantity.end)


# --- Candidates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    quantity: Quantity
    quote: Span
    speaker: str
    attributed_to: str | None
    metric: str
    geo: str
    area: str | None
    confidence: float
    remarks: tuple[str, ...] = ()  # what to look at beyond the usual review


@dataclass(frozen=True)
class SentenceFacts:
    """What a sentence says for all its figures, worked out once."""

    places: list[Place]
    keywords: list[Keyword]
    attributions: list[Attribution]
    clause_breaks: list[Span]


class _Extraction:
    """One article's candidates: its layout, and each sentence's facts read once."""

    def __init__(self, text: str):
        self.text = text
        self.layout = Layout(text)
        self._facts: dict[Span, SentenceFacts] = {}

    def facts(self, sentence: Span) -> SentenceFacts:
        if sentence not in self._facts:
            text = self.text
            self._facts[sentence] = SentenceFacts(
                places(text, sentence.start, sentence.end),
                keywords(text, sentence),
                attributions(text, sentence),
                clause_breaks(text, sentence),
            )
        return self._facts[sentence]

    @cached_property
    def article_geo(self) -> str | None:
        """The country the article names most often near its start."""
        head = places(self.text, 0, min(len(self.text), _ARTICLE_HEAD))
        counts = Counter(place.iso3 for place in head)
        return counts.most_common(1)[0][0] if counts else None

    def candidate(self, quantity: Quantity) -> Candidate:
        sentence = self.layout.sentence(quantity)
        facts = self.facts(sentence)
        clause = clause_around(quantity, sentence, facts.clause_breaks)
        quotation = self.layout.quotation(quantity.start)
        speaker = quotation_speaker(self.text, quotation) if quotation else None
        sources = facts.attributions
        if quotation:  # in a quotation, only what the speaker attributes counts
            sources = [a for a in sources if quotation.holds(a.span.start)]
        source = _nearest_attribution(sources, quantity)
        guess = suggest_metric(self.text, quantity, clause, sentence, facts.keywords)
        remarks = (
            ["review the metric: no keyword"] if guess.confidence <= CONFIDENCE["none"] else []
        )
        if quantity.unit == "trucks":
            remarks.append("a count of trucks, not per day: check the metric")
        place = _place_of(facts.places, quantity, clause, source)
        geo, confidence = guess.geo or (place.iso3 if place else None), guess.confidence
        if geo is None and self.article_geo:
            geo, confidence = self.article_geo, confidence * GEO_FROM_ARTICLE
            remarks.append("the sentence names no country: geo from the article")
        elif geo is None:
            geo, confidence = UNKNOWN_GEO, min(confidence, GEO_UNKNOWN)
            remarks.append(f"no country named: replace geo {UNKNOWN_GEO}")
        area = _area_of(facts.places, source) if geo == "PSE" else None
        return Candidate(
            quantity=quantity,
            quote=sentence,
            speaker=speaker or "the article",
            attributed_to=source.who if source else None,
            metric=guess.metric,
            geo=geo,
            area=area,
            confidence=round(confidence, 2),
            remarks=tuple(remarks),
        )


def extract_candidates(text: str) -> list[Candidate]:
    """Every candidate claim in an article's text, in order of position."""
    extraction = _Extraction(text)
    return [extraction.candidate(quantity) for quantity in find_quantities(text)]


def _nearest_attribution(found: list[Attribution], quantity: Quantity) -> Attribution | None:
    return min(found, key=lambda a: _distance(a.span, quantity), default=None)


def _named_places(found: list[Place], source: Attribution | None) -> list[Place]:
    """Places outside the words naming the source, if any: "by Israeli tallies" is not about
    Israel when the sentence names Gaza too; "the health ministry in Gaza" is about Gaza."""
    outside = [p for p in found if source is None or not source.span.holds(p.start)]
    return outside or found


def _place_of(
    found: list[Place], quantity: Quantity, clause: Span, source: Attribution | None
) -> Place | None:
    """The place named nearest the figure, in its clause if the clause names one."""
    named = _named_places(found, source)
    pool = [p for p in named if clause.holds(p.start)] or named
    return min(pool, key=lambda p: _distance(Span(p.start, p.start), quantity), default=None)


def _area_of(found: list[Place], source: Attribution | None) -> str | None:
    return next((p.area for p in _named_places(found, source) if p.area), None)


# --- Claims file rows ---------------------------------------------------------------------


def parse_published(text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--published must be a date YYYY-MM-DD, got {text!r}") from None


def check_url(url: str) -> str:
    if not re.fullmatch(r"https?://\S+", url):
        raise ConfigError(f"--url must be an http(s) address, got {url!r}")
    return url


def default_outlet(url: str | None) -> str:
    """The host of the article's address, or 'unknown outlet' when there is none."""
    host = urlsplit(url).hostname if url else None
    return host.removeprefix("www.") if host else "unknown outlet"


def outlet_slug(outlet: str) -> str:
    plain = unicodedata.normalize("NFKD", outlet).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-") or "outlet"


def claim_rows(
    text: str, candidates: list[Candidate], *, published: date, outlet: str, url: str | None
) -> list[dict[str, str]]:
    """One claims-file row per candidate, columns in FILE_COLUMNS order, numbered by position."""
    prefix = f"{published.isoformat()}-{outlet_slug(outlet)}"
    rows = []
    for number, candidate in enumerate(candidates, start=1):
        quantity = candidate.quantity
        high = quantity.value_high
        row = {
            "claim_id": f"{prefix}-{number:02d}",
            "published_on": published.isoformat(),
            "outlet": outlet,
            "url": url or "",
            "speaker": candidate.speaker,
            "attributed_to": candidate.attributed_to or "",
            "quote": text[candidate.quote.start : candidate.quote.end],
            "metric": candidate.metric,
            "geo": candidate.geo,
            "area": candidate.area or "",
            "value": _plain(quantity.value),
            "unit": quantity.unit,
            "comparator": quantity.comparator,
            "value_high": "" if high is None else _plain(high),
            "reference_date": "",
            "period_kind": "any",
            "tolerance": "",
            "notes": "; ".join((REVIEW_NOTE, *candidate.remarks)),
            "quote_start": str(candidate.quote.start),
            "quote_end": str(candidate.quote.end),
            "confidence": f"{candidate.confidence:g}",
        }
        rows.append({column: row[column] for column in FILE_COLUMNS})
    return rows


def _plain(value: Decimal) -> str:
    """Plain digits, as the claims file wants them: 1000000 and 0.5, never 1E+6."""
    return format(value.normalize(), "f")


def write_claims(rows: list[dict[str, str]], handle: IO[str]) -> None:
    """The rows as a claims file. The file is reviewed in a spreadsheet: free text that one
    could run as a formula (an article's "=HYPERLINK(...)") gets an apostrophe in front, which
    the claims connector takes off again."""
    writer = csv.DictWriter(handle, fieldnames=FILE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        {k: neutralise(v) if k in TEXT_COLUMNS else v for k, v in row.items()} for row in rows
    )
