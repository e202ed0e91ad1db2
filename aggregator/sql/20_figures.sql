-- figures: every official number from every source in one long shape.
-- One union branch per source table.
-- published_on is the publisher's release date (the vintage), never the download date.
-- area is empty for the whole of what the source covers (MoH and UNRWA count the Gaza Strip).
-- url is the document a curated figure was read from, else the download it came from.
--
-- IPC figures come from ipc_phases, the largest table by far (10^7 rows is within reach):
-- each row gives the people of its phase and, but for 'all', their share, under the metric
-- whose ipc_phase it is (schemas/metrics.py). They are worked out on read (ipc_figures()):
-- storing them would write the table a second time at every publish. The figures of the other
-- sources are few; they are stored (figures_stored) so that claim checks read them as a
-- table: a publish replaces its source's rows in the transaction that replaces its fact
-- tables, and a refresh rebuilds them all when this SQL has changed (aggregator/warehouse.py
-- store_figures). Analysts query the figures view, which holds both.
--
-- The ipc_* macros turn an ipc_phases row into a figure; claim_checks uses them too, to join
-- claims to ipc_phases directly (aggregator/sql/30_claim_checks.sql).
create or replace macro ipc_area(level, unit_name) as
    case when level = 'national' then null else unit_name end;
create or replace macro ipc_period_kind(period) as
    case period when 'current' then 'current' else 'projection' end;
create or replace macro ipc_value(unit, population, fraction) as
    case unit when 'people' then population::double else fraction end;
-- An analysis is released when IPC created its record (its analysis month when unknown).
create or replace macro ipc_released(created, analysis_date) as coalesce(created, analysis_date);

-- ipc_figures(): the IPC figures, each with the rowid of its ipc_phases row (phases_row).
create or replace macro ipc_figures() as table
select
    m.metric,
    p.country_iso3 as geo,
    ipc_area(p.level, p.unit_name) as area,
    p.period_start,
    p.period_end,
    ipc_period_kind(p.period) as period_kind,
    ipc_value(m.unit, p.population, p.fraction) as value,
    m.unit,
    ipc_released(a.created, a.analysis_date) as published_on,
    p.source,
    'ipc:' || p.analysis_id || ':' || p.period as dataset_ref,
    p.fetch_id,
    case when p.period_granularity = 'month'
         then 'IPC gives months only: period dates are the first and last day of those months' end
        as caveat,
    x.url,
    p.rowid as phases_row
from ipc_phases p
join ipc_analyses a using (source, analysis_id)
join metrics m on m.ipc_phase = p.phase
left join fetches x on x.fetch_id = p.fetch_id
where ipc_value(m.unit, p.population, p.fraction) is not null;

-- figures_of(src): the stored figures of one source (of every source when src is null).
create or replace macro figures_of(src) as table
with official as (
    -- HDX HAPI food security: the same IPC figures as served by HAPI (national rows).
    select
        m.metric,
        location_code as geo,
        null as area,
        reference_period_start as period_start,
        reference_period_end as period_end,
        ipc_period_kind(ipc_type) as period_kind,
        population_in_phase::double as value,
        'people' as unit,
        reference_period_start as published_on,
        source,
        'hapi:food-security:' || resource_hdx_id as dataset_ref,
        fetch_id,
        'HAPI serves no release date: published_on is the start of the reference period'
            as caveat
    from hapi_food_security h
    join metrics m on m.ipc_phase = h.ipc_phase and m.unit = 'people'
    where admin_level = 0 and (src is null or source = src)
    union all
    select 'needs.people_in_need', location_code, null, reference_period_start, reference_period_end,
        'current', population::double, 'people', reference_period_start, source,
        'hapi:humanitarian-needs:' || resource_hdx_id, fetch_id,
        'HAPI serves no release date: published_on is the start of the reference period'
    from humanitarian_needs
    where admin_level = 0 and population_status = 'INN' and sector_code = 'Intersectoral'
      and (src is null or source = src)
    union all
    -- Gaza Ministry of Health: each day's cumulative count, published that day.
    select 'casualties.' || measure || '.cumulative', 'PSE', null, report_date, report_date,
        'observed', value::double, 'people', report_date, source, 'moh:' || report_date, fetch_id,
        case when gap_filled then 'not reported that day: gap-filled by Tech for Palestine' end
    from (
        select *, 'killed' as measure, killed_cum as value, killed_cum_gap_filled as gap_filled
        from casualties_daily
        union all
        select *, 'injured', injured_cum, injured_cum_gap_filled from casualties_daily
    )
    where value is not null and (src is null or source = src)
    union all
    -- UNRWA aid trucks: per day, all crossings together.
    select 'aid.trucks.daily', 'PSE', null, received_on, received_on, 'observed',
        sum(trucks)::double, 'trucks_per_day', max(published_on), source,
        'unrwa:trucks:' || received_on, any_value(fetch_id),
        case when bool_or(partial_data) then 'UNRWA marks data after 6 May 2024 as partial' end
    from aid_trucks_daily
    where src is null or source = src
    group by source, received_on
    union all
    -- OCHA FTS appeals: requirements (revised where revised), funding and coverage.
    select metric, country_iso3, null, start_date, end_date, 'observed', value, unit, published_on,
        source, 'fts:plan:' || plan_code, fetch_id,
        'FTS figures change as funding is reported: published_on is when it was read'
    from (
        select *, 'funding.appeal.requirements_usd' as metric,
               coalesce(revised_requirements_usd, original_requirements_usd) as value, 'usd' as unit
        from appeals
        union all
        select *, 'funding.appeal.funded_usd', funding_usd, 'usd' from appeals
        union all
        select *, 'funding.appeal.coverage_share', coverage_share, 'share' from appeals
    )
    where value is not null and country_iso3 is not null and (src is null or source = src)
    union all
    -- Curated figures that exist only in reports.
    select metric, geo, area, reference_date, reference_date, period_kind, value, unit, published_on,
        source, 'reference:' || file || ':' || line, fetch_id, notes
    from reference_figures
    where src is null or source = src
)
select o.*, coalesce(r.url, x.url) as url
from official o
left join fetches x using (fetch_id)
left join reference_figures r
    on o.source = 'reference' and o.dataset_ref = 'reference:' || r.file || ':' || r.line;

create table if not exists figures_stored as select * from figures_of(null) with no data;

create or replace view figures as
select * from figures_stored
union all
select * exclude (phases_row) from ipc_figures();
