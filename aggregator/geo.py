"""Country identity: the one place that turns the codes and names sources use into ISO codes.

pycountry (the ISO 3166 tables, well kept) answers codes and official names; the overrides
below hold what humanitarian sources say differently: OCHA's "occupied Palestinian territory",
FTS location ids, HDX group slugs (lower-case ISO3), common short names.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import pycountry

from aggregator.errors import AggregatorError

# Names used by UN OCHA, HDX, FTS and the press that ISO 3166 spells otherwise.
NAME_OVERRIDES = {
    "occupied palestinian territory": "PSE",
    "occupied palestinian territories": "PSE",
    "opt": "PSE",
    "state of palestine": "PSE",
    "palestine": "PSE",
    "gaza strip": "PSE",
    "drc": "COD",
    "dr congo": "COD",
    "democratic republic of the congo": "COD",
    "car": "CAF",
    "turkey": "TUR",
    "syria": "SYR",
}
# FTS (api.hpc.tools) location ids of countries, as GET /v1/public/location lists them.
FTS_LOCATION_IDS = {1: "AFG", 114: "JOR", 171: "PSE"}


@dataclass(frozen=True)
class Country:
    iso2: str
    iso3: str
    name: str


def _from_pycountry(record) -> Country:
    name = getattr(record, "common_name", None) or record.name
    return Country(record.alpha_2, record.alpha_3, name)


@cache
def country(identifier: str | int) -> Country:
    """A country from an ISO2/ISO3 code, an FTS location id, an HDX group slug or a name."""
    if isinstance(identifier, int) or str(identifier).isdigit():
        iso3 = FTS_LOCATION_IDS.get(int(identifier))
        if iso3 is None:
            raise AggregatorError(f"unknown FTS location id {identifier}")
        return country(iso3)
    text = str(identifier).strip()
    override = NAME_OVERRIDES.get(text.lower())
    if override:
        return country(override)
    try:
        return _from_pycountry(pycountry.countries.lookup(text))
    except LookupError:
        raise AggregatorError(
            f"unknown country {text!r} (use ISO 3166-1 alpha-2 or alpha-3, or a country name)"
        ) from None


def iso3_from_iso2(iso2: str) -> str:
    if len(iso2.strip()) != 2:
        raise AggregatorError(f"not an ISO 3166-1 alpha-2 code: {iso2!r}")
    return country(iso2).iso3


def iso2_from_code(code: str) -> str:
    """ISO2 from anything `country` understands, as users type codes or names on the CLI."""
    return country(code).iso2


def country_name(iso2: str) -> str:
    return country(iso2).name
