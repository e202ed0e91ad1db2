-- figures: every official number from every source in one long shape.
-- One union branch per source table.
-- published_on is the publisher's release date (the vintage), never the download date.
-- area is empty for the whole of what the source covers (MoH and UNRWA count the Gaza Strip).
-- url is the document a curated figure was read from, else the download it came from.
--
-- figures_of(src) works out the figures of one source (of every source when src is null).
-- They are stored rather than worked out on each read, so that claim checks match claims
-- against 10^7 figures in well under a second: a publish replaces its source's rows of
-- figures_stored in the transaction that replaces its fact tables, and a refresh rebuilds
-- them all when this SQL has changed (aggregator/warehouse.py store_figures). Analysts query
-- the figures view; figures_stored is its storage.
create or replace macro figures_of(src) as table
-- Read once per branch (the people and the shares) rather than kept whole between them.
with ipc as not materialized (
    select p.*, coalesce(a.created, a.analysis_date) as released
    from ipc_phases p join ipc_analyses a using (source, analysis_id)
    where src is null or source = src
),
official as (
    select
        case phase when 'all' then 'ipc.analysed.people' when '3+' then 'ipc.phase3plus.people'
             else 'ipc.phase' || phase || '.people' end as metric,
        country_iso3 as geo,
        case when level = 'national' then null else unit_name end as area,
        period_start, period_end,
        case period when 'current' then 'current' else 'projection' end as period_kind,
        population::double as value,
        'people' as unit,
        released as published_on,
        source,
        'ipc:' || analysis_id || ':' || period as dataset_ref,
        fetch_id,
        case when period_granularity = 'month'
             then 'IPC gives months only: period dates are the first and last day of those months' end as caveat
    from ipc
    union all
    select
        case phase when '3+' then 'ipc.phase3plus.share' else 'ipc.phase' || phase || '.share' end,
        country_iso3,
        case when level = 'national' then null else unit_name end,
        period_start, period_end,
        case period when 'current' then 'current' else 'projection' end,
        fraction,
        'share',
        released,
        source,
        'ipc:' || analysis_id || ':' || period,
        fetch_id,
        case when period_granularity = 'month'
             then 'IPC gives months only: period dates are the first and last day of those months' end
    from ipc
    where phase <> 'all' and fraction is not null
    union all
    -- HDX HAPI food security: the same IPC figures as served by HAPI (national rows).
    select
        case ipc_phase when 'all' then 'ipc.analysed.people' when '3+' then 'ipc.phase3plus.people'
             else 'ipc.phase' || ipc_phase || '.people' end,
        location_code, null, reference_period_start, reference_period_end,
        case ipc_type when 'current' then 'current' else 'projection' end,
        population_in_phase::double, 'people',
        reference_period_start, source, 'hapi:food-security:' || resource_hdx_id, fetch_id,
        'HAPI serves no release date: published_on is the start of the reference period'
    from hapi_food_security
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

create or replace view figures as select * from figures_stored;
