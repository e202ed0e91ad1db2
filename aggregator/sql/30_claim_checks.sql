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
create or replace macro claim_checks_at(as_of) as table
with claim as (
    select
        c.*,
        coalesce(c.tolerance, m.tolerance) as tolerance_used,
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
candidate as (
    select
        c.claim_id,
        c.reference_date,
        c.claim_low,
        c.claim_high,
        c.tolerance_used,
        f.*,
        case
            when c.reference_date between f.period_start and f.period_end then 0
            when f.period_end < c.reference_date then 1
            else 2
        end as timing,
        case f.source when 'ipc_api' then 1 when 'ipc_hdx' then 2 when 'hapi' then 3 else 1 end
            as source_rank
    from claim c
    join figures f
        on f.metric = c.metric and f.geo = c.geo and f.area is not distinct from c.area
    where f.published_on <= as_of
      and (c.period_kind = 'any' or f.period_kind in (c.period_kind, 'observed'))
),
ranked as (
    select
        *,
        row_number() over (
            partition by claim_id, source, published_on
            order by timing,
                case timing
                    when 0 then -epoch(period_start)
                    when 1 then -epoch(period_end)
                    else epoch(period_start)
                end
        ) as period_rank,
        abs(value - least(greatest(value, claim_low), claim_high))
            <= case when unit = 'share' then tolerance_used else tolerance_used * abs(value) end
            as fits
    from candidate
),
applicable as (
    select * from ranked where period_rank = 1
),
known as (
    select * from applicable
    where published_on <= reference_date
    qualify row_number() over (
        partition by claim_id order by published_on desc, source_rank, timing
    ) = 1
),
other_period as (
    select r.* from ranked r
    join known k using (claim_id, source, published_on)
    where r.period_kind in ('current', 'projection') and r.period_kind <> k.period_kind
    qualify row_number() over (partition by r.claim_id order by r.period_rank) = 1
),
older_fit as (
    select a.* from applicable a
    join known k using (claim_id)
    where a.published_on < k.published_on and a.fits
    qualify row_number() over (partition by a.claim_id order by a.published_on desc) = 1
),
newest as (
    select * from applicable
    qualify row_number() over (
        partition by claim_id
        order by timing,
            case when timing = 2 then epoch(period_start) else -epoch(published_on) end,
            source_rank
    ) = 1
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
        when k.claim_id is null then 'no_official_figure'
        when k.fits then 'consistent'
        when o.fits then 'matches_other_period'
        when d.claim_id is not null then 'outdated'
        when k.value > c.claim_high then 'understates'
        else 'overstates'
    end as verdict,
    k.value as official_value,
    k.value - c.value as difference,
    (k.value - c.value) / nullif(k.value, 0) as relative_difference,
    date_diff('day', k.published_on, c.reference_date) as day_gap,
    k.period_kind as official_period_kind,
    k.period_start as official_period_start,
    k.period_end as official_period_end,
    k.published_on as official_published_on,
    k.source as official_source,
    k.dataset_ref as official_dataset_ref,
    k.url as official_url,
    k.fetch_id as official_fetch_id,
    k.caveat as official_caveat,
    o.value as other_period_value,
    o.period_kind as other_period_kind,
    o.period_start as other_period_start,
    o.period_end as other_period_end,
    d.value as older_fitting_value,
    d.published_on as older_fitting_published_on,
    d.dataset_ref as older_fitting_dataset_ref,
    n.value as newest_value,
    n.period_start as newest_period_start,
    n.period_end as newest_period_end,
    n.published_on as newest_published_on,
    n.source as newest_source,
    n.dataset_ref as newest_dataset_ref,
    n.url as newest_url,
    c.file as claims_file,
    c.line as claims_line
from claim c
left join known k using (claim_id)
left join other_period o using (claim_id)
left join older_fit d using (claim_id)
left join newest n using (claim_id);

create or replace view claim_checks as select * from claim_checks_at(current_date);
