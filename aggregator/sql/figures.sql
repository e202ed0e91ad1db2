-- figures: every official number in one long shape, one union branch per source table.
-- published_on is the publisher's release date (the vintage), never the download date.
create or replace view figures as
with ipc as (
    select p.*, coalesce(a.created, a.analysis_date) as released
    from ipc_phases p join ipc_analyses a using (source, analysis_id)
)
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
