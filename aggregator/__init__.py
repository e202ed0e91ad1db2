"""foodsec-aggregator: official food-security and aid figures, with provenance."""

__version__ = "0.1.0"
