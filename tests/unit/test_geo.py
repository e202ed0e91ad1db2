"""Country identity across sources: one answer for every spelling of the same country."""

from __future__ import annotations

import pytest

from aggregator.errors import AggregatorError
from aggregator.geo import country, iso2_from_code, iso3_from_iso2


@pytest.mark.parametrize(
    "identifier",
    ["PS", "ps", "PSE", "pse", "occupied Palestinian territory", "State of Palestine", 171, "171"],
)
def test_every_spelling_of_palestine_is_pse(identifier):
    """IPC's ISO2, FTS's location 171, OCHA's name and HDX's group slug resolve to PS / PSE."""
    assert (country(identifier).iso2, country(identifier).iso3) == ("PS", "PSE")


def test_iso_names_come_from_pycountry():
    """Official names resolve through the ISO tables, not only through the overrides."""
    assert country("Central African Republic").iso3 == "CAF"
    assert country("Afghanistan").iso2 == "AF"


def test_unknown_country_is_a_clear_error():
    """An unknown code names what was given."""
    with pytest.raises(AggregatorError, match="'XK'"):
        country("XK")
    with pytest.raises(AggregatorError, match="FTS location id 99999"):
        country(99999)


def test_iso3_from_iso2_refuses_other_identifiers():
    """The IPC connector's ISO2 lookup does not silently accept an ISO3 or a name."""
    assert iso3_from_iso2("SD") == "SDN"
    with pytest.raises(AggregatorError):
        iso3_from_iso2("SDN")
    assert iso2_from_code("SDN") == "SD"


def test_ipc_alias_follows_the_key():
    """`--source ipc` is the IPC API with a key (or a replay) and IPC's HDX mirror without."""
    from aggregator.sources import resolve

    assert [s.name for s in resolve(["ipc"], ipc_key=True)] == ["ipc_api"]
    assert [s.name for s in resolve(["ipc"], ipc_key=False)] == ["ipc_hdx"]
