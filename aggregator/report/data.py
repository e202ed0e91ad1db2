"""What a country report shows, read from the warehouse (read-only) as known on the as-of day.

Headline figures are answered by the claim-check macro (aggregator/sql/30_claim_checks.sql):
each is asked as a claim about the as-of day with no claimed value, so the report picks the
figure known that day, and the IPC period in force, by exactly the rules the claim checks use.
A figure nobody had published by the as-of day is shown from a later release about a period
that had begun by then, and flagged, rather than left out: FTS totals, for one, are dated by
the day they were read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from aggregator import compare
from aggregator.errors import WarehouseError
from aggregator.export import provenance as download_provenance
from aggregator.geo import Country
from aggregator.warehouse import read_only
from schemas.metrics import METRICS

# The war the casualty counts and the pre-war trucks average refer to began on this day.
WAR_START = date(2023, 10, 7)
# Read far beyond any release date, so that the macro's "newest" column is the newest release.
ANY_RELEASE = date(9999, 12, 31)

HEADLINE = {
    "ipc.phase3plus.people": "IPC Phase 3 or worse (Crisis or worse), people",
    "ipc.phase3plus.share": "IPC Phase 3 or worse, share of the population analysed",
    "ipc.phase5.people": "IPC Phase 5 (Catastrophe), people",
    "ipc.phase5.share": "IPC Phase 5, share of the population analysed",
    "casualties.killed.cumulative": "Killed since 7 October 2023 (cumulative)",
    "casualties.injured.cumulative": "Injured since 7 October 2023 (cumulative)",
    "aid.trucks.daily": "Aid trucks entering per day (latest known)",
    "funding.appeal.requirements_usd": "Appeal requirements",
}
APPEAL_SHARES = {
    "funding.appeal.funded_usd": "Appeal funding received",
    "funding.appeal.coverage_share": "Appeal coverage (funding / requirements)",
}
PRE_WAR_TRUCKS = "Aid trucks per day before the war (reference)"
HEADLINE_COLUMNS = [
    "figure",
    "metric",
    "value",
    "unit",
    "period_kind",
    "period_start",
    "period_end",
    "published_on",
    "published_later",
    "source",
    "dataset_ref",
    "url",
    "caveat",
    "fetch_id",
    "other_period_value",
    "other_period_kind",
    "other_period_start",
    "other_period_end",
    "newer_value",
    "newer_published_on",
    "newer_source",
    "newer_dataset_ref",
    "newer_url",
    "newer_fetch_id",
]
SERIES_METRICS = (
    "aid.trucks.daily",
    "casualties.killed.cumulative",
    "casualties.injured.cumulative",
    "funding.appeal.requirements_usd",
    "funding.appeal.funded_usd",
)

_ASK = """
create or replace temp table press_claims as select * from main.press_claims where false;
insert into press_claims by name
select 'headline:' || metric as claim_id, $as_of::date as published_on, 'report' as outlet,
    metric as quote, metric, $geo as geo, unit, unit as quoted_unit, 1.0 as precision,
    'eq' as comparator, $as_of::date as reference_date, 'any' as period_kind,
    'report' as file, 2 as line, 'claims' as source
from metrics where metric in (select unnest($metrics::varchar[]));
"""
# The macro names the newest figure but not its download: found again in figures.
_ANSWERS = """
select a.*, f.period_kind as newest_period_kind, f.caveat as newest_caveat,
    f.fetch_id as newest_fetch_id
from claim_checks_at($any::date) a
left join figures f
    on f.metric = a.metric and f.geo = a.geo and f.area is null and f.source = a.newest_source
   and f.dataset_ref = a.newest_dataset_ref and f.published_on = a.newest_published_on
   and f.period_start = a.newest_period_start
"""

# Funding and coverage of the appeal whose requirements head the report: same plan and release.
_APPEAL_SHARES = """
select metric, value, unit, period_kind, period_start, period_end, published_on, source,
    dataset_ref, url, caveat, fetch_id
from figures
where geo = $geo and area is null and dataset_ref = $ref and published_on = $published
  and metric in (select unnest($metrics::varchar[]))
"""

_PRE_WAR = """
select value, unit, period_kind, period_start, period_end, published_on, source, dataset_ref,
    url, caveat, fetch_id
from figures
where metric = 'aid.trucks.daily' and geo = $geo and area is null
  and period_end < $war_start and published_on <= $as_of
order by period_end desc, published_on desc
limit 1
"""

# One row per figure and period up to the as-of day: the newest release known that day, else
# the earliest release after it (flagged published_later).
_SERIES = """
select metric, period_start, period_end, value, unit, source, dataset_ref, published_on,
    published_on > $as_of as published_later, url, caveat, fetch_id
from figures
where geo = $geo and area is null and period_start <= $as_of
  and metric in (select unnest($metrics::varchar[]))
qualify row_number() over (
    partition by metric, source, dataset_ref, period_start, period_end
    order by published_on > $as_of,
        case when published_on <= $as_of then -epoch(published_on) else epoch(published_on) end
) = 1
order by metric, period_start, source
"""

# People per phase of each IPC analysis period released by the as-of day; the same period from
# several sources is taken once, newest release first, then IPC API, IPC on HDX, HAPI (as the
# claim checks rank them).
_IPC = """
with phase as (
    select regexp_extract(metric, '^ipc\\.phase(\\d)\\.(people|share)$', 1) as phase,
        regexp_extract(metric, '^ipc\\.phase(\\d)\\.(people|share)$', 2) as measure, *
    from figures
    where geo = $geo and area is null and published_on <= $as_of
      and regexp_matches(metric, '^ipc\\.phase\\d\\.(people|share)$')
),
release as (
    select distinct period_kind, period_start, period_end, source, published_on, dataset_ref
    from phase
    where measure = 'people'
    qualify dense_rank() over (
        partition by period_kind, period_start, period_end
        order by published_on desc,
            case source when 'ipc_api' then 1 when 'ipc_hdx' then 2 when 'hapi' then 3 else 4 end
    ) = 1
)
select r.period_kind, r.period_start, r.period_end, r.published_on, r.source, r.dataset_ref,
    p.phase, p.value as people, s.value as share, p.url, p.fetch_id
from release r
join phase p using (period_kind, period_start, period_end, source, published_on, dataset_ref)
left join phase s
    on s.measure = 'share' and s.phase = p.phase and s.dataset_ref = p.dataset_ref
   and s.published_on = p.published_on and s.source = p.source
where p.measure = 'people'
order by r.period_start, r.period_kind, p.phase
"""

_APPEALS = """
select s.dataset_ref, p.plan_code, p.name, s.period_start, s.period_end,
    max(s.value) filter (where s.metric = 'funding.appeal.requirements_usd') as requirements_usd,
    max(s.value) filter (where s.metric = 'funding.appeal.funded_usd') as funded_usd,
    max(s.published_on) as published_on, bool_or(s.published_later) as published_later,
    any_value(s.source) as source, any_value(s.url) as url
from shown_series s
left join (
    select plan_code, arg_max(name, published_on) as name from appeals group by plan_code
) p on s.dataset_ref = 'fts:plan:' || p.plan_code
where s.metric like 'funding.appeal.%'
group by s.dataset_ref, p.plan_code, p.name, s.period_start, s.period_end
order by s.period_start, s.dataset_ref
"""
_NEWEST_FETCHES = """
select distinct f.fetch_id
from shown s
join figures f
    on f.source = s.newest_source and f.dataset_ref = s.newest_dataset_ref
   and f.published_on = s.newest_published_on
"""
_CLAIM_FETCHES = """
select distinct fetch_id from main.press_claims where claim_id in (select unnest($claims::varchar[]))
"""
_DOCUMENTS = """
select 'reference:' || file || ':' || line,
    case when starts_with(document_title, publisher) then document_title
         else publisher || ', ' || document_title end
from reference_figures
"""


@dataclass(frozen=True)
class ReportData:
    """Everything one report shows, as plain frames (exported as they are to XLSX and CSV)."""

    country: Country
    as_of: date
    generated_at: datetime
    headline: pd.DataFrame
    claims: pd.DataFrame
    ipc: pd.DataFrame
    series: pd.DataFrame
    appeals: pd.DataFrame
    provenance: pd.DataFrame
    documents: dict[str, str]  # dataset_ref of a figure read from a report -> that report
    claims_origin: str  # where the claims were read from

    def pre_war_trucks(self) -> pd.Series | None:
        rows = self.headline[self.headline["figure"] == PRE_WAR_TRUCKS]
        return rows.iloc[0] if rows["value"].notna().any() else None

    def metric(self, metric: str) -> pd.DataFrame:
        """The time series of one metric (no pre-war reference)."""
        rows = self.series[self.series["metric"] == metric]
        return rows[rows["period_end"] >= pd.Timestamp(WAR_START)]


def gather(
    warehouse: Path, country: Country, as_of: date, claims_file: Path | None = None
) -> ReportData:
    claims = compare.claim_checks(  # first: it says clearly when there is no warehouse
        warehouse, as_of=as_of, country=country.iso3, claims_file=claims_file
    )
    params = {"geo": country.iso3, "as_of": as_of}
    try:
        with read_only(warehouse) as con:
            headline = _headline(con, params)
            series = _frame(con, _SERIES, {**params, "metrics": list(SERIES_METRICS)})
            ipc = _frame(con, _IPC, params)
            appeals = _appeals(con, series)
            provenance = _provenance(con, [headline, series, ipc], claims, claims_file)
            documents = dict(con.execute(_DOCUMENTS).fetchall())
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot read the report's figures from {warehouse}: {exc}") from exc
    return ReportData(
        country=country,
        as_of=as_of,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        headline=headline,
        claims=claims,
        ipc=ipc,
        series=series,
        appeals=appeals,
        provenance=provenance,
        documents=documents,
        claims_origin=_claims_origin(claims_file),
    )


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pd.DataFrame:
    return con.execute(sql, params).df()


def _headline(con: duckdb.DuckDBPyConnection, params: dict) -> pd.DataFrame:
    con.execute(_ASK, {**params, "metrics": list(HEADLINE)})
    answers = con.execute(_ANSWERS, {"any": ANY_RELEASE}).df().set_index("metric")
    con.execute("drop table temp.press_claims")  # unhides the stored claims
    rows = [
        _answer(metric, label, answers.loc[metric], params["as_of"])
        for metric, label in HEADLINE.items()
    ]
    rows = [_war_time(row, params["as_of"]) for row in rows]
    requirements = rows[-1]
    if pd.notna(requirements["value"]):
        shares = _frame(
            con,
            _APPEAL_SHARES,
            {
                "geo": params["geo"],
                "ref": requirements["dataset_ref"],
                "published": requirements["published_on"],
                "metrics": list(APPEAL_SHARES),
            },
        ).set_index("metric")
        for metric, label in APPEAL_SHARES.items():
            found = shares.loc[metric] if metric in shares.index else None
            rows.append(_plain(metric, label, found, params["as_of"]))
    pre_war = _frame(con, _PRE_WAR, {**params, "war_start": WAR_START})
    rows.append(
        _plain(
            "aid.trucks.daily",
            PRE_WAR_TRUCKS,
            pre_war.iloc[0] if len(pre_war) else None,
            params["as_of"],
        )
    )
    return pd.DataFrame(rows, columns=HEADLINE_COLUMNS)


def _war_time(row: dict, as_of: date) -> dict:
    """The latest trucks figure is one counted in the war: the pre-war average has its own row."""
    end = row.get("period_end")
    before = pd.notna(end) and end < pd.Timestamp(WAR_START)
    if row["metric"] == "aid.trucks.daily" and before:
        return _plain(row["metric"], row["figure"], None, as_of)
    return row


def _answer(metric: str, label: str, a: pd.Series, as_of: date) -> dict:
    """A headline row from the macro's answer: the figure known on the day, else the newest
    release about a period that had begun by then (a count of a later day is no answer)."""
    known = pd.notna(a["official_value"])
    begun = pd.notna(a["newest_period_start"]) and a["newest_period_start"] <= pd.Timestamp(as_of)
    if not known and not begun:
        return _plain(metric, label, None, as_of)
    if known:
        row = {
            "value": a["official_value"],
            "period_kind": a["official_period_kind"],
            "period_start": a["official_period_start"],
            "period_end": a["official_period_end"],
            "published_on": a["official_published_on"],
            "source": a["official_source"],
            "dataset_ref": a["official_dataset_ref"],
            "url": a["official_url"],
            "caveat": a["official_caveat"],
            "fetch_id": a["official_fetch_id"],
        }
    else:
        row = {
            "value": a["newest_value"],
            "period_kind": a["newest_period_kind"],
            "period_start": a["newest_period_start"],
            "period_end": a["newest_period_end"],
            "published_on": a["newest_published_on"],
            "source": a["newest_source"],
            "dataset_ref": a["newest_dataset_ref"],
            "url": a["newest_url"],
            "caveat": a["newest_caveat"],
            "fetch_id": a["newest_fetch_id"],
        }
    later = known and (
        a["newest_dataset_ref"] != a["official_dataset_ref"]
        or a["newest_published_on"] != a["official_published_on"]
    )
    return {
        "figure": label,
        "metric": metric,
        "unit": a["unit"],
        **row,
        "published_later": pd.notna(row["value"]) and not known,
        "other_period_value": a["other_period_value"],
        "other_period_kind": a["other_period_kind"],
        "other_period_start": a["other_period_start"],
        "other_period_end": a["other_period_end"],
        "newer_value": a["newest_value"] if later else None,
        "newer_published_on": a["newest_published_on"] if later else None,
        "newer_source": a["newest_source"] if later else None,
        "newer_url": a["newest_url"] if later else None,
        "newer_dataset_ref": a["newest_dataset_ref"] if later else None,
        "newer_fetch_id": a["newest_fetch_id"] if later else None,
    }


def _plain(metric: str, label: str, found: pd.Series | None, as_of: date) -> dict:
    row = {"figure": label, "metric": metric, "unit": METRICS[metric].unit}
    if found is not None:
        row.update({k: found[k] for k in found.index if k != "unit"})
        row["published_later"] = pd.Timestamp(found["published_on"]) > pd.Timestamp(as_of)
    else:
        row.update(value=None, published_later=False)
    return row


def _appeals(con: duckdb.DuckDBPyConnection, series: pd.DataFrame) -> pd.DataFrame:
    """Requirements and funding per appeal that had begun by the as-of day, with plan names."""
    con.register("shown_series", series)
    return con.execute(_APPEALS).df()


def _provenance(
    con: duckdb.DuckDBPyConnection,
    frames: list[pd.DataFrame],
    claims: pd.DataFrame,
    claims_file: Path | None,
) -> pd.DataFrame:
    """The downloads behind every figure shown, and behind the claims when they come from the
    warehouse (a claims file given on the command line is named in the claims section)."""
    con.register("shown", claims[["newest_source", "newest_dataset_ref", "newest_published_on"]])
    newest = con.execute(_NEWEST_FETCHES).df()
    stored = (
        con.execute(_CLAIM_FETCHES, {"claims": list(claims["claim_id"])}).df()
        if claims_file is None
        else newest.iloc[0:0]
    )
    return download_provenance(con, [*frames, claims, newest, stored])


def _claims_origin(claims_file: Path | None) -> str:
    if claims_file is None:
        return "the claims loaded into the warehouse by the last refresh (see Provenance)"
    digest = hashlib.sha256(claims_file.read_bytes()).hexdigest()
    return f"the claims file {claims_file.name} (sha256 {digest})"
