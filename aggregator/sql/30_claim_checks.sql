-- claim_checks: each press claim against the official figure known on the claim's date.
-- Every comparison rule lives here; docs/methodology.md explains them in words.
--
-- claim_checks_at(as_of) is the table macro; as_of limits what counts as "known today" (the
-- newest figure column). The claim_checks view is claim_checks_at(current_date).
--
-- 1. The claim's interval, from its comparator and the precision of the number as quoted
--    (32,000 -> 1,000): eq = value +/- precision/2; approx = value +/- max(precision/2, 5%);
--    gt/gte = value to value + precision ("more than 32,000" is not 35,000); lt/lte = value -
--    precision to value; between = value to value_high.
-- 2. Candidate figures: same metric, geo and area (empty = all of what the source covers),
--    and for IPC the period kind the claim asks for (any by default).
-- 3. One figure per vintage (source and published_on): the period whose validity window
--    contains the reference date (the latest-starting one where windows overlap, as IPC
--    projections overlap the month of the current period), else the latest period before it,
--    else the earliest after it.
-- 4. The figure known on the claim's date: the newest vintage published on or before the
--    reference date (ties: the IPC API before IPC on HDX before HAPI). The other period of
--    the same vintage is shown beside it. The newest figure known on as_of is shown too: the
--    latest vintage for the date, else the nearest figure after it.
-- 5. Tolerance: the claim's own, else the metric's; relative to the official value for counts
--    and money, absolute for shares. A figure is within the claim when it lies in the interval
--    widened by the tolerance.
-- 6. Verdict: no_official_figure (nothing known on the date); consistent; matches_other_period
--    (only the other period of the same analysis fits); outdated (only an older vintage fits);
--    understates (official figure above the interval); overstates (below it).
--
-- How it runs fast on 10^7 figures and 10^4 claims: candidates are the stored figures and the
-- ipc_phases rows of the claims' phases and places, named by their row id; each choice is an
-- aggregate (a struct's min or max compares its fields in order, so the fields after the
-- ordering ones come along with the chosen figure); and the figures shown are read back by
-- row id at the end.
create or replace macro claim_checks_at(as_of) as table
with claim as (
    select
        c.*,
        coalesce(c.tolerance, m.tolerance) as tolerance_used,
        m.ipc_phase,
        m.unit as metric_unit,
        case c.comparator
            when 'eq' then c.value - c.precision / 2
            when 'approx' then c.value - greatest(c.precision / 2, 0.05 * c.value)
            when 'gt' then c.value
            when 'gte' then c.value
            when 'lt' then c.value - c.precision
            when 'lte' then c.value - c.precision
            when 'between' then c.value
        end as claim_low,
        case c.comparator
            when 'eq' then c.value + c.precision / 2
            when 'approx' then c.value + greatest(c.precision / 2, 0.05 * c.value)
            when 'gt' then c.value + c.precision
            when 'gte' then c.value + c.precision
            when 'lt' then c.value
            when 'lte' then c.value
            when 'between' then c.value_high
        end as claim_high
    from press_claims c
    join metrics m using (metric)
),
matched as materialized (
    -- 2. The figures of each claim's metric, geo and area: the stored ones, and the IPC ones
    --    read from ipc_phases as ipc_figures() reads them (sql/20_figures.sql), joined
    --    on the phase, so that only the rows of the claims' phases and places are worked out.
    --    A figure is named by its row: a stored figure by its rowid, an IPC one by -1 minus
    --    the rowid of its ipc_phases row (which gives one figure of each unit of a metric).
    select c.claim_id, f.rowid as figure, f.source,
           f.published_on, f.period_kind, f.period_start, f.period_end, f.value, f.unit
    from claim c
    join figures_stored f
        on f.metric = c.metric and f.geo = c.geo and f.area is not distinct from c.area
    union all
    select c.claim_id, -1 - p.rowid, p.source,
           ipc_released(a.created, a.analysis_date), ipc_period_kind(p.period), p.period_start,
           p.period_end, ipc_value(c.metric_unit, p.population, p.fraction), c.metric_unit
    from claim c
    join ipc_phases p
        on p.phase = c.ipc_phase and p.country_iso3 = c.geo
       and ipc_area(p.level, p.unit_name) is not distinct from c.area
    join ipc_analyses a on a.source = p.source and a.analysis_id = p.analysis_id
    where ipc_value(c.metric_unit, p.population, p.fraction) is not null
),
candidate as not materialized (
    -- 2. Candidate figures.
    select
        claim_id,
        reference_date,
        source,
        published_on,
        -- 3. The order of the periods of a vintage: timing, then period_order; the row id
        --    breaks ties. 5. fits: the figure lies within the claim.
        {
            timing: timing,
            period_order: case timing
                when 0 then -epoch(period_start)
                when 1 then -epoch(period_end)
                else epoch(period_start)
            end,
            figure: figure,
            period_kind: period_kind,
            fits: fits
        } as period
    from (
        select
            c.claim_id,
            c.reference_date,
            f.figure,
            f.source,
            f.published_on,
            f.period_kind,
            f.period_start,
            f.period_end,
            case
                when c.reference_date between f.period_start and f.period_end then 0
                when f.period_end < c.reference_date then 1
                else 2
            end as timing,
            abs(f.value - least(greatest(f.value, c.claim_low), c.claim_high))
                <= case when f.unit = 'share' then c.tolerance_used
                        else c.tolerance_used * abs(f.value) end
                as fits
        from claim c
        join matched f using (claim_id)
        where f.published_on <= as_of
          and (c.period_kind = 'any' or f.period_kind in (c.period_kind, 'observed'))
    )
),
vintage as (
    -- 3. One figure per vintage: its first period.
    select
        claim_id,
        any_value(reference_date) as reference_date,
        source,
        published_on,
        case source when 'ipc_api' then 1 when 'ipc_hdx' then 2 when 'hapi' then 3 else 1 end
            as source_rank,
        min(period) as period
    from candidate
    group by claim_id, source, published_on
),
pick as (
    -- 4. The vintage known on the claim's date: the last by published_on, then source rank,
    --    then the period in force. The newest figure: a period in force (the latest
    --    published), else one that has ended (the latest published), else the first to start.
    --    And the vintages that fit, for older_fit.
    select
        claim_id,
        max({
            published_on: published_on,
            source_rank: -source_rank,
            timing: -period.timing,
            figure: period.figure,
            source: source,
            period_kind: period.period_kind,
            fits: period.fits
        }) filter (where published_on <= reference_date) as known,
        min({
            timing: period.timing,
            start_or_age: case period.timing
                when 2 then period.period_order
                else -epoch(published_on)
            end,
            source_rank: source_rank,
            figure: period.figure
        }) as newest,
        list({published_on: published_on, figure: period.figure}) filter (where period.fits)
            as fitting
    from vintage
    group by claim_id
),
picked as (
    select
        claim_id,
        known,
        newest,
        -- 6. The last vintage before the known one that fits: the claim is outdated.
        list_max(list_filter(fitting, lambda f: f.published_on < known.published_on))
            as older_fit
    from pick
),
other_period as (
    -- 4. The other period of the known vintage: its first period of the other kind.
    select c.claim_id, min(c.period) as period
    from candidate c
    join picked p
        on c.claim_id = p.claim_id and c.source = p.known.source
       and c.published_on = p.known.published_on
    where c.period.period_kind in ('current', 'projection')
      and c.period.period_kind <> p.known.period_kind
    group by c.claim_id
),
shown_ids as (
    select known.figure from picked
    union all select period.figure from other_period
    union all select older_fit.figure from picked
    union all select newest.figure from picked
),
shown as (
    select rowid as figure, *
    from figures_stored
    where rowid in (select figure from shown_ids where figure >= 0)
    union all
    select -1 - phases_row, * exclude (phases_row)
    from ipc_figures()
    where phases_row in (select -1 - figure from shown_ids where figure < 0)
)
select
    c.claim_id,
    c.published_on,
    c.outlet,
    c.url as claim_url,
    c.speaker,
    c.attributed_to,
    c.quote,
    c.metric,
    c.geo,
    c.area,
    c.unit,
    c.quoted_unit,
    c.comparator,
    c.value as claimed_value,
    c.value_high as claimed_value_high,
    c.claim_low,
    c.claim_high,
    c.tolerance_used as tolerance,
    c.reference_date,
    c.period_kind as claim_period_kind,
    case
        when p.known is null then 'no_official_figure'
        when p.known.fits then 'consistent'
        when o.period.fits then 'matches_other_period'
        when p.older_fit is not null then 'outdated'
        when kf.value > c.claim_high then 'understates'
        else 'overstates'
    end as verdict,
    kf.value as official_value,
    kf.value - c.value as difference,
    (kf.value - c.value) / nullif(kf.value, 0) as relative_difference,
    date_diff('day', kf.published_on, c.reference_date) as day_gap,
    kf.period_kind as official_period_kind,
    kf.period_start as official_period_start,
    kf.period_end as official_period_end,
    kf.published_on as official_published_on,
    kf.source as official_source,
    kf.dataset_ref as official_dataset_ref,
    kf.url as official_url,
    kf.fetch_id as official_fetch_id,
    kf.caveat as official_caveat,
    of.value as other_period_value,
    of.period_kind as other_period_kind,
    of.period_start as other_period_start,
    of.period_end as other_period_end,
    df.value as older_fitting_value,
    df.published_on as older_fitting_published_on,
    df.dataset_ref as older_fitting_dataset_ref,
    nf.value as newest_value,
    nf.period_start as newest_period_start,
    nf.period_end as newest_period_end,
    nf.published_on as newest_published_on,
    nf.source as newest_source,
    nf.dataset_ref as newest_dataset_ref,
    nf.url as newest_url,
    c.file as claims_file,
    c.line as claims_line
from claim c
left join picked p using (claim_id)
left join other_period o using (claim_id)
left join shown kf on kf.figure = p.known.figure and kf.metric = c.metric
left join shown of on of.figure = o.period.figure and of.metric = c.metric
left join shown df on df.figure = p.older_fit.figure and df.metric = c.metric
left join shown nf on nf.figure = p.newest.figure and nf.metric = c.metric;

create or replace view claim_checks as select * from claim_checks_at(current_date);
