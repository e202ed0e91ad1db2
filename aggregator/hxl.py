"""HXL hashtags (https://hxlstandard.org) of exported columns, declared here and nowhere else.

An HXL-tagged CSV carries a second row of hashtags (``#country+code``, ``#date+start``...) that
HDX and the HXL tools use to find columns whatever they are called. A column name means the
same thing in every table and view of the warehouse, so tags are looked up by name (``TAGS``);
the few names that mean something else in one table have that table's own entry in
``TABLE_TAGS`` (``None`` = no tag there). Columns without a tag get an empty cell.

Where a column holds what IPC publishes on HDX, it carries IPC's own tags (``#severity+v_ipc``,
``#affected+num``, ``#period+v_ipc``); OCHA FTS amounts follow HDX's FTS files
(``#value+funding+required+usd``). Attributes beyond the core list (``+claimed``, ``+official``)
are allowed by the standard and say which of several similar columns is which.
"""

from __future__ import annotations

from collections.abc import Iterable

TAGS: dict[str, str] = {
    # where the row comes from
    "source": "#meta+source",
    "fetch_id": "#meta+fetch",
    "dataset_ref": "#meta+dataset",
    "url": "#meta+url",
    "link": "#meta+url",
    "claim_id": "#meta+id",
    # places
    "geo": "#country+code",
    "country_iso3": "#country+code",
    "location_code": "#country+code",
    "query_iso3": "#country+code",
    "country_iso2": "#country+code+v_iso2",
    "location_name": "#country+name",
    "area": "#loc+name",
    "unit_name": "#loc+name",
    "admin1_code": "#adm1+code",
    "admin1_name": "#adm1+name",
    "admin2_code": "#adm2+code",
    "admin2_name": "#adm2+name",
    "provider_admin1_name": "#adm1+name+provider",
    "provider_admin2_name": "#adm2+name+provider",
    "crossing": "#loc+name+crossing",
    # dates
    "period_start": "#date+start",
    "reference_period_start": "#date+start",
    "start_date": "#date+start",
    "period_end": "#date+end",
    "reference_period_end": "#date+end",
    "end_date": "#date+end",
    "published_on": "#date+reported",
    "report_date": "#date+reported",
    "reference_date": "#date+reference",
    "analysis_date": "#date+analysis",
    "received_on": "#date+received",
    "date": "#date",
    # the figures
    "metric": "#indicator+code",
    "unit": "#indicator+unit",
    "value": "#indicator+value+num",
    "caveat": "#description+caveat",
    "notes": "#description+notes",
    "description": "#description",
    # IPC, as IPC tags its files on HDX
    "phase": "#severity+v_ipc",
    "ipc_phase": "#severity+v_ipc",
    "overall_phase": "#severity+overall+v_ipc",
    "period": "#period+v_ipc",
    "ipc_type": "#period+v_ipc",
    "population": "#affected+num",
    "population_in_phase": "#affected+num",
    "fraction": "#affected+pct",
    "population_fraction_in_phase": "#affected+pct",
    "country_population": "#population",
    # needs
    "sector_code": "#sector+code",
    "sector_name": "#sector+name",
    # casualties (Gaza Ministry of Health)
    "killed_daily": "#affected+killed+daily",
    "killed_cum": "#affected+killed+cum",
    "injured_daily": "#affected+injured+daily",
    "injured_cum": "#affected+injured+cum",
    "killed_children_cum": "#affected+killed+children+cum",
    "killed_women_cum": "#affected+killed+f+adults+cum",
    # aid trucks
    "trucks": "#output+trucks+num",
    "cargo_description": "#item+name",
    "cargo_category": "#item+type",
    "donor": "#org+funder+name",
    "recipient": "#org+name+recipient",
    "status": "#status",
    # funding (OCHA FTS and HAPI)
    "plan_id": "#activity+id+fts_internal",
    "plan_code": "#activity+code",
    "appeal_code": "#activity+code",
    "name": "#activity+name",
    "appeal_name": "#activity+name",
    "plan_type": "#activity+type",
    "appeal_type": "#activity+type",
    "original_requirements_usd": "#value+funding+required+original+usd",
    "revised_requirements_usd": "#value+funding+required+usd",
    "requirements_usd": "#value+funding+required+usd",
    "funding_usd": "#value+funding+total+usd",
    "coverage_share": "#value+funding+pct",
    "funding_pct": "#value+funding+pct",
    "amount_usd": "#value+usd",
    "original_amount": "#value",
    "original_currency": "#currency+code",
    "src_organization": "#org+funder+name",
    "dest_organization": "#org+name+recipient",
    # press claims and their checks
    "quote": "#description+quote",
    "claim_url": "#meta+url+claim",
    "claimed_value": "#indicator+value+num+claimed",
    "claimed_value_high": "#indicator+value+num+claimed+high",
    "verdict": "#status+verdict",
    "official_value": "#indicator+value+num+official",
    "official_period_start": "#date+start+official",
    "official_period_end": "#date+end+official",
    "official_published_on": "#date+reported+official",
    "official_source": "#meta+source+official",
    "official_url": "#meta+url+official",
    "newest_value": "#indicator+value+num+newest",
    "newest_published_on": "#date+reported+newest",
    "newest_url": "#meta+url+newest",
}

TABLE_TAGS: dict[str, dict[str, str | None]] = {
    "press_claims": {"value": "#indicator+value+num+claimed"},
    "humanitarian_needs": {"population": "#population+num"},  # by population_status
    "fetches": {"status": None},  # an HTTP status
    "rejects": {"value": None},  # the failing value, as text
}


def tags(columns: Iterable[str], table: str | None = None) -> list[str]:
    """The HXL row for these columns: each column's hashtag, '' where it has none. ``table``
    (a table or view name) picks that table's own tags where a name means something else."""
    own = TABLE_TAGS.get(table or "", {})
    return [(own[c] if c in own else TAGS.get(c)) or "" for c in columns]
