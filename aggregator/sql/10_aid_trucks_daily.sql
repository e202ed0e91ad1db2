-- aid_trucks_daily: trucks received into Gaza per day and crossing, from UNRWA's consignments.
--
-- Each consignment counts once, in its newest vintage (the HDX upload with the latest
-- published_on; the resource name breaks ties), so revised rows replace older ones and a
-- consignment present in both the CSV and the XLSX resource is not counted twice. Trucks are
-- the sum of UNRWA's "No. of Trucks", not a count of rows. partial_data is true when any
-- consignment of the day and crossing is flagged partial ("Current Data (after Rafah
-- Operation)", from 2024-05-06): UNRWA's own disclaimer says those counts are incomplete.
-- Consignments published without a crossing are grouped under crossing NULL.
create or replace view aid_trucks_daily as
with latest as (
    select *
    from aid_trucks
    qualify row_number() over (
        partition by source, consignment_id
        order by published_on desc, resource_name desc
    ) = 1
)
select
    source,
    received_on,
    crossing,
    sum(trucks)::bigint as trucks,
    count(*) as consignments,
    bool_or(partial_data) as partial_data,
    max(published_on) as published_on,
    arg_max(fetch_id, published_on) as fetch_id
from latest
group by source, received_on, crossing;
