"""IPC API (https://api.ipcinfo.org): acute analyses and their population figures.

Requests: GET /analyses?type=A for the ids of acute analyses, then GET /population?country=XX
for each country. The key goes in the ``key`` query parameter, as the API requires. The
/population answer mixes acute and chronic analyses, so only ids listed by /analyses?type=A
are kept.

The /population answers can run to millions of long rows (analysis x unit x period x phase),
so no frame is built: DuckDB reads the answers once, into a table of their units (a few
thousand rows, each with its figures and its analysis' fields) in a file of the stage. The
analyses are checked here from it; the long rows are a query over it (aggregator.staging) that
the warehouse runs straight into the table when it publishes: flat memory, near the speed of
DuckDB loading the raw file alone. Figures are read typed; when a figure is not a number, the
units are read as text so that validation can name the row, column and value instead of
failing on the first cast.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pycountry

from aggregator import staging
from aggregator.errors import ParseError
from aggregator.geo import country
from aggregator.http import Fetched, Fetcher
from schemas import columns

SOURCE = "ipc_api"

# Response key suffix for each validity period.
PERIODS = {
    "current": "",
    "first_projection": "_projected",
    "second_projection": "_second_projected",
}
PERIOD_DATES = {
    "current": "current_period_dates",
    "first_projection": "projected_period_dates",
    "second_projection": "second_projected_period_dates",
}
# Our phase label -> response key prefix for the population of that phase.
PHASE_KEYS = {
    "all": "estimated_population",
    "3+": "p3plus",
    "1": "phase1_population",
    "2": "phase2_population",
    "3": "phase3_population",
    "4": "phase4_population",
    "5": "phase5_population",
}
FRACTION_KEYS = {
    "3+": "p3plus_percentage",
    "1": "phase1_percentage",
    "2": "phase2_percentage",
    "3": "phase3_percentage",
    "4": "phase4_percentage",
    "5": "phase5_percentage",
}


def parse_month(text: str) -> date:
    """'Mar 2024' -> 2024-03-01."""
    try:
        return datetime.strptime(text.strip(), "%b %Y").date()
    except ValueError as exc:
        raise ValueError(f"not a 'Mon YYYY' month: {text!r}") from exc


def parse_period(text: str | None) -> tuple[date, date] | None:
    """'Feb 2024 - Mar 2024' -> (2024-02-01, 2024-03-31); empty -> None (period absent)."""
    if not text or not text.strip():
        return None
    start_text, sep, end_text = text.partition(" - ")
    if not sep:
        raise ValueError(f"not a 'Mon YYYY - Mon YYYY' period: {text!r}")
    start, end_month = parse_month(start_text), parse_month(end_text)
    end = end_month.replace(day=monthrange(end_month.year, end_month.month)[1])
    if end < start:
        raise ValueError(f"period ends before it starts: {text!r}")
    return start, end


def extract(
    fetcher: Fetcher, base_url: str, key: str | None, countries: list[str] | None, *, stage: Path
) -> dict[str, Any]:
    listing = fetcher.get(f"{base_url}/analyses", params={"type": "A", "key": key})
    acute = _acute_analyses(listing)
    wanted = sorted(set(countries) if countries else {a["country"] for a in acute.values()})
    responses = [
        fetcher.get(f"{base_url}/population", params={"country": iso2, "key": key})
        for iso2 in wanted
    ]
    if not responses:
        raise ParseError(SOURCE, listing.record.url, "no acute analysis listed: nothing to read")
    return _stage_population(responses, acute, stage)


ANALYSIS_COLUMNS = columns("ipc_analyses")
PHASE_COLUMNS = columns("ipc_phases")


def _acute_analyses(listing: Fetched) -> dict[str, dict[str, Any]]:
    """The acute analyses of the listing, each with the fields we read checked for type."""
    body = listing.json()
    if not isinstance(body, list):
        raise ParseError(
            SOURCE, listing.record.url, f"expected a JSON list, got {type(body).__name__}"
        )
    acute = {}
    for i, item in enumerate(body):
        where = f"{listing.record.url} item {i}"
        if not isinstance(item, dict):
            raise ParseError(SOURCE, where, f"expected an object, got {type(item).__name__}")
        if item.get("condition", "A") != "A":
            continue
        for field, kinds in (("id", (str, int)), ("country", (str,))):
            if not isinstance(item.get(field), kinds) or isinstance(item.get(field), bool):
                raise ParseError(SOURCE, where, f"missing or malformed field {field!r}")
        for field in ("title", "link", "created", "modified"):
            if item.get(field) is not None and not isinstance(item[field], str):
                raise ParseError(SOURCE, where, f"field {field!r} is not text")
        try:
            dates = {f: _iso_date(item.get(f)) for f in ("created", "modified")}
        except ValueError as exc:
            raise ParseError(SOURCE, where, f"created/modified is not an ISO date: {exc}") from None
        acute[str(item["id"])] = {**item, **dates}
    return acute


def _iso_date(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def _figure_types(number: str, share: str) -> dict[str, str]:
    """Every figure key of a unit (national, group or area) with its DuckDB type."""
    types = {}
    for suffix in PERIODS.values():
        types |= {prefix + suffix: number for prefix in PHASE_KEYS.values()}
        types |= {prefix + suffix: share for prefix in FRACTION_KEYS.values()}
        types[f"overall_phase{suffix}"] = number
    return types


def _json_columns(typed: bool) -> str:
    """The read_json ``columns`` argument: the fields of /population that we read (the
    analyses' own and every unit's figures), typed or as text."""
    number, share = ("BIGINT", "DOUBLE") if typed else ("VARCHAR", "VARCHAR")
    figures = ", ".join(f"{k} {t}" for k, t in _figure_types(number, share).items())
    area = f"STRUCT(id VARCHAR, name VARCHAR, {figures})"
    group = f"STRUCT(id VARCHAR, name VARCHAR, {figures}, areas {area}[])"
    fields = {
        "id": "VARCHAR",
        "title": "VARCHAR",
        "country": "VARCHAR",
        "condition": "VARCHAR",
        "analysis_date": "VARCHAR",
        **{key: "VARCHAR" for key in PERIOD_DATES.values()},
        "population": number,
        **_figure_types(number, share),
        "groups": f"{group}[]",
        "areas": f"{area}[]",
    }
    return "{" + ", ".join(f"'{k}': '{t}'" for k, t in fields.items()) + "}"


def _long_rows(unit: str, *, text: bool) -> str:
    """SQL list of one struct per period x phase of a unit: its figures in long form, typed
    (a unit read as text casts here) or as text."""
    types = dict.fromkeys(LONG_FIGURES, "VARCHAR") if text else LONG_FIGURES
    items = []
    for period, suffix in PERIODS.items():
        for phase, prefix in PHASE_KEYS.items():
            fraction = "1.0" if phase == "all" else f"{unit}.{FRACTION_KEYS[phase]}{suffix}"
            figures = {
                "population": f"{unit}.{prefix}{suffix}",
                "fraction": fraction,
                "overall_phase": f"{unit}.overall_phase{suffix}",
            }
            values = {
                "period": f"'{period}'",
                "phase": f"'{phase}'",
                # One type per struct field across the list.
                **{k: f"({v})::{types[k]}" for k, v in figures.items()},
            }
            items.append("{" + ", ".join(f"'{k}': {v}" for k, v in values.items()) + "}")
    return "[" + ", ".join(items) + "]"


LONG_FIGURES = {"population": "BIGINT", "fraction": "DOUBLE", "overall_phase": "BIGINT"}


def _period_bounds(column: str, period: str) -> str:
    """First and last day of an IPC period 'Mon YYYY - Mon YYYY' (NULL when malformed)."""
    parts = f"string_split({column}, ' - ')"
    start = f"try_strptime(trim({parts}[1]), '%b %Y')::DATE"
    end = f"last_day(try_strptime(trim({parts}[2]), '%b %Y'))"
    valid = f"len({parts}) = 2"
    return (
        f"case when {valid} then {start} end as {period}_start, "
        f"case when {valid} then {end} end as {period}_end, "
        f"nullif(trim({column}), '') as {period}_text"
    )


@cache
def _countries() -> pd.DataFrame:
    rows = []
    for record in pycountry.countries:
        found = country(record.alpha_2)
        rows.append((found.iso2, found.iso3, found.name))
    return pd.DataFrame(rows, columns=["iso2", "iso3", "name"])


def _stage_population(
    responses: list[Fetched], acute: dict[str, dict[str, Any]], stage: Path
) -> dict[str, Any]:
    """Reads every answer once, into the units table of a file in ``stage`` that the long
    rows are computed from when they publish; the analyses are the answers' national units."""
    by_path = {str(r.path): r for r in responses}
    urls = {path: r.record.url for path, r in by_path.items()}
    # Identical answers share one raw file: read it once, credit its first download.
    fetch_ids = {str(r.path): r.fetch_id for r in reversed(responses)}
    database = stage / f"{SOURCE}.units.duckdb"
    with duckdb.connect() as con:
        staging.configure(con, stage)
        con.register("countries", _countries())
        con.register("acute", _listing_frame(acute))
        with staging.plan_database(con, database):
            try:
                _read_units(con, fetch_ids, list(acute), typed=True)
            # DuckDB's message about bytes that are not UTF-8 can itself fail to decode.
            except (duckdb.Error, UnicodeDecodeError) as exc:
                staging.refuse_unwritten(exc, database)
                # A figure that is not a number, or a body that is not JSON: read as text to
                # tell.
                try:
                    _read_units(con, fetch_ids, list(acute), typed=False)
                except (duckdb.Error, UnicodeDecodeError) as exc:
                    staging.refuse_unwritten(exc, database)
                    raise _parse_error(exc, by_path) from None
        _check_analyses(con, urls)
        analyses = con.sql(ANALYSES_SQL).df()
    phases = staging.Staged(
        "ipc_phases",
        plan=_phases_plan(database, analyses, _countries(), text=False),
        text_plan=_phases_plan(database, analyses, _countries(), text=True),
        text_columns=TEXT_FIGURES,
        vintages=tuple(analyses["analysis_id"]),
        explain=lambda exc: _parse_error(exc, by_path),
        workdir=stage,
    )
    return {"ipc_analyses": analyses[ANALYSIS_COLUMNS], "ipc_phases": phases}


TEXT_FIGURES = tuple(LONG_FIGURES)
UNITS_TABLE = "ipc_api_units"
# What each unit row carries of its answer and analysis.
ANSWER_COLUMNS = (
    "id, country, title, condition, analysis_date, population, fetch_id, filename, "
    + ", ".join(f"{p}_start, {p}_end, {p}_text" for p in PERIODS)
)


def _read_units(
    con: duckdb.DuckDBPyConnection, fetch_ids: dict[str, str], acute: list[str], *, typed: bool
) -> None:
    """The units of the acute analyses of the answers (and of any analysis without an id, to
    report), each with its figures and its analysis' own fields, into the plan database:
    national, its groups, their areas, or areas directly under the analysis when it has no
    groups (the API nests them one way or the other). Each answer is read twice, once for the
    analyses and their direct areas, once for the groups, and nothing nested stays in memory;
    the two reads run side by side.

    The SQL holds what it needs from the download (fetch id, file) as literals and joins
    nothing to the answers: a join could make DuckDB hold every analysis of an answer in
    memory at once."""
    periods = ", ".join(_period_bounds(column, p) for p, column in PERIOD_DATES.items())
    ids = ", ".join(staging.literal(i) for i in acute)
    wanted = f"list_contains([{ids}], j.id)" if acute else "false"
    answers = " union all ".join(
        f"""select j.*, {staging.literal(fetch_id)} as fetch_id,
                   {staging.literal(path)} as filename, {periods}
            from read_json({staging.literal(path)}, format = 'array', records = true,
                           columns = {_json_columns(typed)}) j
            where j.id is null or {wanted}"""
        for path, fetch_id in fetch_ids.items()
    )
    text = not typed
    nobody = "NULL::VARCHAR"
    con.execute(
        f"""
        create or replace table {staging.plan_table(UNITS_TABLE)} as
        with answers as not materialized ({answers}),
        groups as not materialized (select {ANSWER_COLUMNS}, unnest(groups) as grp from answers)
        select {ANSWER_COLUMNS}, unnest(
            [{_unit("'national'", "id", nobody, nobody, "answers", area=False, text=text)}]
            || [{_unit("'area'", "ar.id", "ar.name", nobody, "ar", area=True, text=text)}
                for ar in (case when len(coalesce(groups, [])) = 0 then coalesce(areas, [])
                           else [] end)]
        ) as unit
        from answers
        union all
        select {ANSWER_COLUMNS}, unnest(
            [{_unit("'group'", "grp.id", "grp.name", nobody, "grp", area=False, text=text)}]
            || [{_unit("'area'", "ar.id", "ar.name", "grp.name", "ar", area=True, text=text)}
                for ar in coalesce(grp.areas, [])]
        )
        from groups
        """
    )
    con.execute(
        f"""create or replace temp table analyses as
            select {ANSWER_COLUMNS} from {staging.plan_table(UNITS_TABLE)}
            where unit.level = 'national'"""
    )


def _listing_frame(acute: dict[str, dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (
                analysis_id,
                item.get("title"),
                item["created"],
                item["modified"],
                item.get("link"),
            )
            for analysis_id, item in acute.items()
        ],
        columns=["analysis_id", "listed_title", "created", "modified", "link"],
    ).astype({"created": "datetime64[ns]", "modified": "datetime64[ns]"})


def _check_analyses(con: duckdb.DuckDBPyConnection, urls: dict[str, str]) -> None:
    """Shape errors that no row-level check can report: named by answer and analysis id."""
    missing_id = con.execute(
        "select filename, title from analyses where id is null limit 1"
    ).fetchone()
    if missing_id:
        raise ParseError(
            SOURCE, urls[missing_id[0]], f"an analysis has no 'id' (title {missing_id[1]!r})"
        )
    for field, label, query in (
        (
            "country",
            "unknown country",
            "select a.filename, a.id, a.country from analyses a "
            "left join countries c on a.country = c.iso2 where c.iso2 is null",
        ),
        (
            "analysis_date",
            "analysis_date is not 'Mon YYYY'",
            "select filename, id, analysis_date from analyses "
            "where try_strptime(trim(analysis_date), '%b %Y') is null",
        ),
        *(
            (
                column,
                f"{column} is not 'Mon YYYY - Mon YYYY' with the end after the start",
                f"select filename, id, {period}_text from analyses where {period}_text is not null "
                f"and ({period}_start is null or {period}_end is null "
                f"or {period}_end < {period}_start)",
            )
            for period, column in PERIOD_DATES.items()
        ),
    ):
        bad = con.execute(query + " limit 1").fetchone()
        if bad:
            detail = f"no '{field}' field" if bad[2] is None else f"{label}: {bad[2]!r}"
            raise ParseError(SOURCE, f"{urls[bad[0]]} analysis {bad[1]}", detail)


def _parse_error(exc: Exception, responses: dict[str, Fetched]) -> ParseError:
    """DuckDB's reason, with the URL in place of the raw file it read and what came."""
    reason = str(exc).splitlines()[0].split(": ", 1)[-1]
    if "Expected top-level JSON array" in reason:
        reason = "expected a JSON list of analyses"
    else:
        reason = f"invalid JSON: {reason}"
    failing = [r for path, r in responses.items() if path in str(exc)] or list(responses.values())
    for path in responses:
        reason = reason.replace(f' in file "{path}"', "")
    return ParseError(
        SOURCE,
        ", ".join(r.record.url for r in failing),
        f"{reason.rstrip('.')}; {failing[0].received()}",
    )


ANALYSES_SQL = f"""
    select '{SOURCE}' as source, a.id as analysis_id, a.country as country_iso2,
           c.iso3 as country_iso3, coalesce(a.title, l.listed_title) as title,
           coalesce(a.condition, 'A') as condition,
           try_strptime(trim(a.analysis_date), '%b %Y') as analysis_date,
           l.created, l.modified, l.link, a.population as country_population, a.fetch_id
    from analyses a join acute l on l.analysis_id = a.id join countries c on c.iso2 = a.country
    order by a.fetch_id, a.id
"""


def _phases_plan(
    database: Path, analyses: pd.DataFrame, countries: pd.DataFrame, *, text: bool
) -> staging.Plan:
    """One long row per unit x period x phase of the units in ``database`` (_read_units),
    figures typed or (``text``) as read. The query reads a table of many small row groups, so
    it runs on every core; the country of each analysis is held in it as a literal."""
    found = countries[countries["iso2"].isin(analyses["country_iso2"])]
    iso3, name = (
        "case country "
        + " ".join(
            f"when {staging.literal(r.iso2)} then {staging.literal(getattr(r, c))}"
            for r in found.itertuples()
        )
        + " end"
        if len(found)
        else "NULL::VARCHAR"  # no acute analysis: no rows
        for c in ("iso3", "name")
    )
    starts = " ".join(f"when '{p}' then {p}_start" for p in PERIODS)
    ends = " ".join(f"when '{p}' then {p}_end" for p in PERIODS)
    query = f"""
        select * from (
            select '{SOURCE}' as source, id as analysis_id, {iso3} as country_iso3,
                   unit.level, unit.unit_id,
                   case unit.level when 'national' then {name} else unit.unit_name end
                       as unit_name,
                   unit.parent_name, r.period as period,
                   case r.period {starts} end as period_start,
                   case r.period {ends} end as period_end,
                   'month' as period_granularity, r.phase as phase,
                   r.population as population, r.fraction as fraction,
                   r.overall_phase as overall_phase, fetch_id
            from (select *, unnest({_long_rows("unit.figures", text=text)}) as r
                  from {staging.plan_table(UNITS_TABLE)})
        )
        -- A period the analysis does not cover, or a phase IPC did not estimate: no row.
        where period_start is not null and population is not null
    """
    return staging.Plan(query, database)


def _unit(
    level: str, unit_id: str, name: str, parent: str, figures: str, *, area: bool, text: bool
) -> str:
    """SQL struct of one unit: where it sits and its figures (the overall phase, which only
    areas have, empty for the others)."""
    number, share = ("VARCHAR", "VARCHAR") if text else ("BIGINT", "DOUBLE")
    values = ", ".join(
        f"'{key}': {figures}.{key}"
        if area or not key.startswith("overall_phase")
        else f"'{key}': NULL::{type_}"
        for key, type_ in _figure_types(number, share).items()
    )
    return (
        f"{{'level': {level}, 'unit_id': {unit_id}, 'unit_name': {name}, "
        f"'parent_name': {parent}, 'figures': {{{values}}}}}"
    )
