"""IPC API (https://api.ipcinfo.org): acute analyses and their population figures.

Requests: GET /analyses?type=A for the ids of acute analyses, then GET /population?country=XX
for each country. The key goes in the ``key`` query parameter, as the API requires. The
/population answer mixes acute and chronic analyses, so only ids listed by /analyses?type=A
are kept.
"""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any

import pandas as pd

from aggregator.errors import AggregatorError, ParseError
from aggregator.geo import country_name, iso3_from_iso2
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
    fetcher: Fetcher, base_url: str, key: str | None, countries: list[str] | None
) -> dict[str, pd.DataFrame]:
    listing = fetcher.get(f"{base_url}/analyses", params={"type": "A", "key": key})
    acute = _acute_analyses(listing)
    wanted = sorted(set(countries) if countries else {a["country"] for a in acute.values()})
    analyses: list[dict[str, Any]] = []
    phases: list[dict[str, Any]] = []
    for iso2 in wanted:
        response = fetcher.get(f"{base_url}/population", params={"country": iso2, "key": key})
        for analysis_rows, phase_rows in _parse_population(response, acute):
            analyses.append(analysis_rows)
            phases.extend(phase_rows)
    return {
        "ipc_analyses": pd.DataFrame.from_records(analyses, columns=ANALYSIS_COLUMNS),
        "ipc_phases": pd.DataFrame.from_records(phases, columns=PHASE_COLUMNS),
    }


ANALYSIS_COLUMNS = columns("ipc_analyses")
PHASE_COLUMNS = columns("ipc_phases")


def _acute_analyses(listing: Fetched) -> dict[str, dict[str, Any]]:
    body = listing.json()
    if not isinstance(body, list):
        raise ParseError(
            SOURCE, listing.record.url, f"expected a JSON list, got {type(body).__name__}"
        )
    acute = {}
    for i, item in enumerate(body):
        try:
            if item.get("condition", "A") == "A":
                acute[str(item["id"])] = item
        except (AttributeError, KeyError) as exc:
            raise ParseError(
                SOURCE, f"{listing.record.url} item {i}", f"missing field {exc}"
            ) from exc
    return acute


def _parse_population(
    response: Fetched, acute: dict[str, dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    body = response.json()
    if not isinstance(body, list):
        raise ParseError(
            SOURCE, response.record.url, f"expected a JSON list, got {type(body).__name__}"
        )
    for i, analysis in enumerate(body):
        where = f"{response.record.url} analysis {i}"
        try:
            analysis_id = str(analysis["id"])
            if analysis_id not in acute:
                continue  # chronic, or not published as acute: /analyses?type=A is authoritative
            yield (
                _analysis_row(analysis, acute[analysis_id], response.fetch_id),
                list(_phase_rows(analysis, response.fetch_id)),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ParseError(SOURCE, where, f"missing or malformed field {exc}") from exc
        except (ValueError, AggregatorError) as exc:
            raise ParseError(SOURCE, f"{where} (id {analysis.get('id')})", str(exc)) from exc


def _analysis_row(
    analysis: dict[str, Any], listed: dict[str, Any], fetch_id: str
) -> dict[str, Any]:
    iso2 = analysis["country"]
    return {
        "source": SOURCE,
        "analysis_id": str(analysis["id"]),
        "country_iso2": iso2,
        "country_iso3": iso3_from_iso2(iso2),
        "title": analysis.get("title") or listed.get("title"),
        "condition": analysis.get("condition", "A"),
        "analysis_date": parse_month(analysis["analysis_date"]),
        "created": _iso_date(listed.get("created")),
        "modified": _iso_date(listed.get("modified")),
        "link": listed.get("link"),
        "country_population": analysis.get("population"),
        "fetch_id": fetch_id,
    }


def _iso_date(text: str | None) -> date | None:
    return date.fromisoformat(text[:10]) if text else None


def _phase_rows(analysis: dict[str, Any], fetch_id: str) -> Iterator[dict[str, Any]]:
    analysis_id = str(analysis["id"])
    common = {
        "source": SOURCE,
        "analysis_id": analysis_id,
        "country_iso3": iso3_from_iso2(analysis["country"]),
        "period_granularity": "month",
        "fetch_id": fetch_id,
    }
    periods = {p: parse_period(analysis.get(k)) for p, k in PERIOD_DATES.items()}
    name = country_name(analysis["country"])
    units: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
        ("national", analysis_id, name, None, analysis)
    ]
    groups = analysis.get("groups") or []
    for group in groups:
        units.append(("group", str(group["id"]), group["name"], None, group))
        units.extend(("area", str(a["id"]), a["name"], group["name"], a) for a in _areas(group))
    if not groups:
        units.extend(("area", str(a["id"]), a["name"], None, a) for a in _areas(analysis))
    for level, unit_id, unit_name, parent, figures in units:
        for period, suffix in PERIODS.items():
            window = periods[period]
            if window is None:
                continue
            overall = figures.get(f"overall_phase{suffix}") if level == "area" else None
            for phase, number, fraction in _phase_values(figures, suffix):
                yield {
                    **common,
                    "level": level,
                    "unit_id": unit_id,
                    "unit_name": unit_name,
                    "parent_name": parent,
                    "period": period,
                    "period_start": window[0],
                    "period_end": window[1],
                    "phase": phase,
                    "population": number,
                    "fraction": fraction,
                    "overall_phase": overall,
                }


def _areas(container: dict[str, Any]) -> Iterable[dict[str, Any]]:
    return container.get("areas") or []


def _phase_values(figures: dict[str, Any], suffix: str) -> Iterator[tuple[str, int, float | None]]:
    for phase, prefix in PHASE_KEYS.items():
        number = figures.get(prefix + suffix)
        if number is None:
            continue  # IPC did not estimate this phase for this period
        fraction = 1.0 if phase == "all" else figures.get(FRACTION_KEYS[phase] + suffix)
        yield phase, number, fraction
