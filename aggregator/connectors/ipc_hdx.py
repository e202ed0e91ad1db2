"""IPC on HDX: the keyless path to IPC, into the same tables as the IPC API (source 'ipc_hdx').

Files (HDX dataset global-acute-food-insecurity-country-data, see ``hdx.DATASETS``):
ipc_global_national_long.csv, ipc_global_level1_long.csv and ipc_global_area_long.csv, built by
OCHA from the IPC API, with or without the HXL hashtag row 2. One row per country x date of
analysis x [Level 1 x Area] x validity period x phase.

The files carry no IPC ids, so ids are synthesized deterministically from what they do carry:
analysis "hdx:PSE:2024-05" from country and "Date of analysis"; group "hdx:PSE:2024-05|<Level 1>";
area "hdx:PSE:2024-05|<Level 1>|<Area>". From/To are month-granular as published (first and
last day of a month): ``period_granularity`` says 'month' when they are, 'day' otherwise. The
long files have no area classification, so ``overall_phase`` is empty. The resource's
last_modified date (the vintage on HDX) goes into ``ipc_analyses.modified``.

The long rows can run to millions, so no frame is built for them: as for the IPC API
(aggregator.connectors.ipc), they are a DuckDB query over the raw CSVs that the warehouse runs
straight into ``ipc_phases`` when it publishes, so the rows are parsed and written once. Before
that, a light pass over the columns that name an analysis groups the rows into the analyses.
The loading query checks the shape of every row it loads and stops at the first that fails:
the publishing transaction rolls back, and a numbered pass over the files finds that row, so
that the error names file, record number, column and value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from aggregator import staging
from aggregator.connectors import hdx
from aggregator.connectors.ipc import ANALYSIS_COLUMNS, PHASE_COLUMNS, parse_month
from aggregator.errors import AggregatorError, ParseError
from aggregator.geo import country

SOURCE = "ipc_hdx"
DATASET_PAGE = "https://data.humdata.org/dataset/global-acute-food-insecurity-country-data"
FILE_LEVELS = {"national": "national", "level1": "group", "area": "area"}
PERIODS = {
    "current": "current",
    "first projection": "first_projection",
    "second projection": "second_projection",
}
COMMON = [
    "Date of analysis",
    "Country",
    "Total country population",
    "Validity period",
    "From",
    "To",
    "Phase",
    "Number",
    "Percentage",
]
REQUIRED = {
    "national": COMMON,
    "group": [*COMMON, "Level 1"],
    "area": [*COMMON, "Level 1", "Area"],
}
# Order in which files are read: the analysis row takes its figures from the first file.
LEVEL_ORDER = {"national": 0, "group": 1, "area": 2}
# What str.strip() removes: cells are trimmed as they were when Python read the files.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
TEXT_FIGURES = ("population", "fraction")


def level_of(resource_name: str) -> str | None:
    match = re.search(r"ipc_global_(national|level1|area)_long", resource_name, re.IGNORECASE)
    return FILE_LEVELS[match.group(1).lower()] if match else None


def parse(
    downloads: list[hdx.Download], countries: list[str], *, stage: Path | None = None
) -> dict[str, pd.DataFrame | staging.Staged]:
    wanted = sorted({country(c).iso3 for c in countries})
    ordered = sorted(
        ((level_of(d.resource.name), d) for d in downloads),
        key=lambda pair: LEVEL_ORDER.get(pair[0] or "", 9),
    )
    files: list[_File] = []
    groups: list[list[tuple]] = []
    with duckdb.connect() as con:
        staging.configure(con)
        for level, download in ordered:
            if level is None:
                raise ParseError(SOURCE, download.where, "not one of the ipc_global_*_long files")
            files.append(_open(download, level))
            groups.append(_analyses_of(con, files[-1], wanted))
    months = {text: parse_month(text) for rows in groups for _, text, _ in rows}
    codes = {code for rows in groups for code, _, _ in rows}
    analyses = _analyses(files, groups, months)
    plan = {text: _phases_plan(files, wanted, months, codes, text=text) for text in (False, True)}
    phases = staging.Staged(
        "ipc_phases",
        plan=plan[False],
        text_plan=plan[True],
        text_columns=TEXT_FIGURES,
        vintages=tuple(analyses["analysis_id"]),
        explain=lambda exc: _explain(exc, files, wanted),
        workdir=stage,
    )
    return {"ipc_analyses": analyses, "ipc_phases": phases}


@dataclass(frozen=True)
class _File:
    """One ipc_global_*_long.csv: its header, and the record number of its first data row
    (3 after an HXL row, 2 without; None when it has no data row)."""

    download: hdx.Download
    level: str
    header: tuple[str, ...]
    first: int | None

    def read(self, *, numbered: bool = False) -> str:
        """SQL of every record of the file, the columns read as trimmed text; ``numbered``
        adds ``_record``, the record number (header = 1), as hdx.csv_records numbers them."""
        # DuckDB names the file's columns by position: no header can clash with ordinality.
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(self.header))) + "}"
        read = (
            f"read_csv({staging.literal(str(self.download.path))}, header = false, "
            f"skip = {self.first - 1}, columns = {columns}, auto_detect = false, "
            "delim = ',', quote = '\"', escape = '\"', compression = 'none')"
        )
        cells = ", ".join(
            f"{_trimmed(f'c{self.header.index(c)}')} as {_name(c)}" for c in REQUIRED[self.level]
        )
        if not numbered:
            return f"select {cells} from {read}"
        # Ordinality numbers the records as the scan reads them, in file order, on one thread.
        return (
            f"select {cells}, ordinality + {self.first - 1} as _record from {read} with ordinality"
        )

    def numbered_rows(self, wanted: list[str]) -> str:
        """SQL of the rows to load, as trimmed text, with ``_record`` (see ``read``)."""
        return f"select * from ({self.read(numbered=True)}) where {self.kept(wanted)}"

    def checked(self, wanted: list[str]) -> str:
        """SQL of the rows to load, with the numbers that CHECKS read; a row that fails one
        stops the query with CHECK_FAILED (``_explain`` then names it)."""
        failing = " or ".join(f"({sql})" for _, _, sql in CHECKS)
        # One CASE, so that no row is checked before it is known to be loaded.
        guard = (
            f"case when not ({self.kept(wanted)}) then false "
            f"when {failing} then error({staging.literal(CHECK_FAILED)}) else true end"
        )
        return f"select * from ({_figures(self.read())}) where {guard}"

    @staticmethod
    def kept(wanted: list[str]) -> str:
        """SQL true for a row to load."""
        countries = (
            f' and "Country" in ({", ".join(map(staging.literal, wanted))})' if wanted else ""
        )
        # Phases IPC did not estimate are published empty: no row, as for the IPC API.
        return f"\"Number\" <> ''{countries}"


def _trimmed(column: str) -> str:
    """SQL: the text of a cell as str.strip() leaves it ('' for an empty cell). Trimming a set
    of characters is slow in DuckDB: only cells that start or end with a character that may
    be one (below '!' or from U+0085 on) are trimmed."""
    plain = f"ord({column}) between 33 and 132 and ord(reverse({column})) between 33 and 132"
    trim = f"trim({column}, {staging.literal(WHITESPACE)})"
    return f"coalesce(case when {plain} then {column} else {trim} end, '')"


def _open(download: hdx.Download, level: str) -> _File:
    """The file's header and where its data starts; refuses a file without the columns read."""
    records = hdx.csv_records(download)
    try:
        first = next(records, None)
    finally:
        records.close()
    header = first[1] if first else hdx.header_row(download)
    missing = [c for c in REQUIRED[level] if c not in header]
    if missing:
        raise ParseError(SOURCE, download.where, f"missing column(s) {missing}")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise ParseError(SOURCE, download.where, f"repeated column(s) {repeated}")
    return _File(download, level, tuple(header), first[0] if first else None)


def _name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _number(column: str) -> str:
    """SQL: the number in a text column, NULL when empty or not a number (DuckDB reads
    '1_000' as a number, which pandas did not)."""
    return (
        f"case when not contains({column}, '_') then try_cast(nullif({column}, '') as double) end"
    )


def _whole(number: str) -> str:
    """SQL: whether a number is one a count can be: finite, and below 2**53, where doubles
    stop holding every whole number (NULL for NULL)."""
    return f"(isfinite({number}) and {number} % 1 = 0 and abs({number}) < 2 ** 53)"


# Shape checks in the order they are reported: (column, why, SQL true for a failing row), over
# the trimmed text and what _figures reads from it.
CHECKS = (
    ("Number", "not a whole number", f"not coalesce({_whole('people')}, false)"),
    ("Number", "a negative number of people", "people < 0"),
    ("Percentage", "not a number", "\"Percentage\" <> '' and (share is null or isnan(share))"),
    (
        "Total country population",
        "not a number",
        "\"Total country population\" <> '' and (total is null or isnan(total))",
    ),
    ("Total country population", "not a whole number", f"not {_whole('total')}"),
    ("From", "not a YYYY-MM-DD date", "period_start is null"),
    ("To", "not a YYYY-MM-DD date", "period_end is null"),
    ("Validity period", f"not one of {list(PERIODS)}", "period is null"),
)


CHECK_FAILED = "ipc_hdx: a row fails a shape check"


def _analyses_of(con: duckdb.DuckDBPyConnection, file: _File, wanted: list[str]) -> list[tuple]:
    """The file's analyses in file order, each as (country, date of analysis, total country
    population of its first record when a whole number); refuses a country or a month that
    is not one, naming its first record."""
    if file.first is None:
        return []
    total = _number('arg_min("Total country population", _record)')
    try:
        found = con.execute(f"""
            select "Country", "Date of analysis", min(_record) as first,
                   case when {_whole(total)} then {total} end
            from ({file.numbered_rows(wanted)})
            group by "Country", "Date of analysis"
            order by first
        """).fetchall()
    # DuckDB's message about bytes that are not UTF-8 can itself fail to decode.
    except (duckdb.Error, UnicodeDecodeError) as exc:
        raise _csv_error(exc, [file]) from None
    for column, why, position, valid in (
        ("Date of analysis", "not a 'Mon YYYY' month", 1, _is_month),
        ("Country", "not an ISO 3166-1 alpha-3 code", 0, _is_iso3),
    ):
        failed = [(g[2], g[position]) for g in found if not valid(g[position])]
        if failed:
            raise _failure(file, column, why, *min(failed))
    return [(code, text, figure) for code, text, _, figure in found]


def _figures(rows: str) -> str:
    """SQL: ``rows`` with what CHECKS read and the loaded rows take: the numbers ``people``,
    ``share`` and ``total``, the dates ``period_start`` and ``period_end`` and the ``period``
    (each NULL when the text is not one)."""
    numbers = ", ".join(
        f"{_number(_name(column))} as {name}"
        for column, name in (
            ("Number", "people"),
            ("Percentage", "share"),
            ("Total country population", "total"),
        )
    )
    periods = " ".join(
        f"when {staging.literal(k)} then {staging.literal(v)}" for k, v in PERIODS.items()
    )
    return f"""
        select *, {numbers},
               try_strptime("From", '%Y-%m-%d')::DATE as period_start,
               try_strptime("To", '%Y-%m-%d')::DATE as period_end,
               case lower("Validity period") {periods} end as period
        from ({rows})
    """


def _explain(exc: Exception, files: list[_File], wanted: list[str]) -> ParseError:
    """The ParseError of DuckDB's error on loading the files: for a row that failed a check,
    the first check in CHECKS that a row fails, naming the first such record of the first
    file that has one."""
    if CHECK_FAILED in str(exc):
        with duckdb.connect() as con:
            staging.configure(con)
            try:
                for file in files:
                    if file.first is not None and (found := _failure_in(con, file, wanted)):
                        return found
            except (duckdb.Error, UnicodeDecodeError) as again:
                exc = again
    return _csv_error(exc, files)


def _failure_in(
    con: duckdb.DuckDBPyConnection, file: _File, wanted: list[str]
) -> ParseError | None:
    """The ParseError of the first check in CHECKS that a row of the file fails, naming its
    first failing record and value (numbered as read, so on one thread: only on a failure)."""
    failures = ", ".join(
        f"min(_record) filter (where {failing}), "
        f"arg_min({_name(column)}, _record) filter (where {failing})"
        for column, _, failing in CHECKS
    )
    found = con.execute(
        f"select {failures} from ({_figures(file.numbered_rows(wanted))})"
    ).fetchone()
    for i, (column, why, _) in enumerate(CHECKS):
        if found[2 * i] is not None:
            return _failure(file, column, why, found[2 * i], found[2 * i + 1])
    return None


def _failure(file: _File, column: str, why: str, record: int, value: str) -> ParseError:
    return ParseError(
        SOURCE, f"{file.download.where} row {record}", f"column {column!r}: {why}: {value!r}"
    )


def _is_month(text: str) -> bool:
    try:
        parse_month(text)
    except ValueError:
        return False
    return True


def _is_iso3(code: str) -> bool:
    try:
        country(code)
    except AggregatorError:
        return False
    return len(code) == 3


def _analyses(
    files: list[_File], groups: list[list[tuple]], months: dict[str, date]
) -> pd.DataFrame:
    """One row per analysis, with the figures of its first row in the first file that has it
    and the newest vintage of the files that do."""
    analyses: dict[str, dict[str, Any]] = {}
    for file, found in zip(files, groups, strict=True):
        published = file.download.published_on
        for code, text, total in found:
            analysis_id = f"hdx:{code}:{months[text]:%Y-%m}"
            known = analyses.get(analysis_id)
            if known is not None:
                known["modified"] = max(known["modified"], published)
                continue
            where = country(code)
            analyses[analysis_id] = {
                "source": SOURCE,
                "analysis_id": analysis_id,
                "country_iso2": where.iso2,
                "country_iso3": code,
                "title": f"IPC acute food insecurity, {where.name} {months[text]:%b %Y} (via HDX)",
                "condition": "A",
                "analysis_date": months[text],
                "created": None,
                "modified": published,
                "link": DATASET_PAGE,
                "country_population": None if total is None else int(total),
                "fetch_id": file.download.fetch_id,
            }
    return pd.DataFrame.from_records(list(analyses.values()), columns=ANALYSIS_COLUMNS)


def _map(pairs: dict[str, str]) -> str:
    """SQL MAP literal: a lookup that costs less per row than a CASE of many values."""
    return (
        "MAP {"
        + ", ".join(f"{staging.literal(k)}: {staging.literal(v)}" for k, v in pairs.items())
        + "}"
    )


def _phases_plan(
    files: list[_File],
    wanted: list[str],
    months: dict[str, date],
    codes: set[str],
    *,
    text: bool,
) -> staging.Plan:
    """The long rows of every file, figures typed or (``text``) as read. What the rows need
    from the checks (months of analysis, country names) is held in the SQL as literals, not
    joined: the rows stream from the files to the table."""
    lookups = (
        _map({t: f"{m:%Y-%m}" for t, m in months.items()}),
        _map({c: country(c).name for c in sorted(codes)}),
    )
    selects = [_phases_select(f, wanted, *lookups, text=text) for f in files if f.first is not None]
    if not selects:
        return staging.Plan(
            "select " + ", ".join(f"NULL as {_name(c)}" for c in PHASE_COLUMNS) + " where false"
        )
    return staging.Plan(" union all ".join(selects))


def _phases_select(
    file: _File, wanted: list[str], month_ids: str, names: str, *, text: bool
) -> str:
    unit_id, unit_name, parent = {
        "national": ("analysis_id", f'{names}["Country"]', "NULL"),
        "group": ("analysis_id || '|' || \"Level 1\"", '"Level 1"', "NULL"),
        "area": (
            "analysis_id || '|' || \"Level 1\" || '|' || \"Area\"",
            '"Area"',
            "nullif(\"Level 1\", '')",
        ),
    }[file.level]
    # A loaded row passed the checks: its numbers are those of its text.
    population, fraction = (
        ('"Number"', "nullif(\"Percentage\", '')") if text else ("people", "share")
    )
    return f"""
        select '{SOURCE}' as source, analysis_id, "Country" as country_iso3,
               '{file.level}' as level, {unit_id} as unit_id, {unit_name} as unit_name,
               {parent} as parent_name, period, period_start, period_end,
               case when day(period_start) = 1 and period_end = last_day(period_end)
                    then 'month' else 'day' end as period_granularity,
               "Phase" as phase, {population} as population, {fraction} as fraction,
               NULL as overall_phase, {staging.literal(file.download.fetch_id)} as fetch_id
        from (select *, 'hdx:' || "Country" || ':' || {month_ids}["Date of analysis"]
                            as analysis_id
              from ({file.checked(wanted)}))
    """


# What DuckDB says of a CSV it cannot read, for the reason given (else its first line).
CSV_FAULTS = re.compile(
    r"Expected Number of Columns: (\d+) Found: (\d+)"
    r"|Value with unterminated quote found|Invalid unicode \(byte sequence mismatch\)"
)


def _csv_error(exc: Exception, files: list[_File]) -> ParseError:
    """DuckDB's error on files it cannot read, naming the resource, and the row when DuckDB
    gives its line (the record number, unless a quoted cell holds a line break)."""
    message = str(exc)
    failing = [f for f in files if str(f.download.path) in message] or files
    where = ", ".join(f.download.where for f in failing)
    line = re.search(r"CSV Error on Line: (\d+)", message)
    if line and len(failing) == 1:
        where = f"{where} row {line[1]}"
    fault = CSV_FAULTS.search(message)
    if fault and fault[1]:
        reason = f"{fault[2]} cells for {fault[1]} columns"
    else:
        first = message.splitlines()[0] if message else type(exc).__name__
        for file in files:
            first = first.replace(str(file.download.path), file.download.resource.name)
        reason = f"not a readable CSV ({fault[0] if fault else first})"
    return ParseError(SOURCE, where, reason)
