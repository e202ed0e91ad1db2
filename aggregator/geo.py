"""Country identity: one place that turns the codes and names sources use into ISO codes."""

from __future__ import annotations

from functools import cache

import pycountry

from aggregator.errors import AggregatorError


@cache
def iso3_from_iso2(iso2: str) -> str:
    country = pycountry.countries.get(alpha_2=iso2.upper())
    if country is None:
        raise AggregatorError(f"unknown ISO 3166-1 alpha-2 country code {iso2!r}")
    return country.alpha_3


@cache
def iso2_from_code(code: str) -> str:
    """ISO2 from an ISO2 or ISO3 code, as users type either on the command line."""
    code = code.strip().upper()
    country = (
        pycountry.countries.get(alpha_2=code)
        if len(code) == 2
        else pycountry.countries.get(alpha_3=code)
    )
    if country is None:
        raise AggregatorError(f"unknown country code {code!r} (use ISO 3166-1 alpha-2 or alpha-3)")
    return country.alpha_2


@cache
def country_name(iso2: str) -> str:
    country = pycountry.countries.get(alpha_2=iso2.upper())
    if country is None:
        raise AggregatorError(f"unknown ISO 3166-1 alpha-2 country code {iso2!r}")
    return getattr(country, "common_name", None) or country.name
