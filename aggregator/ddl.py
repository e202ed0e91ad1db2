"""Warehouse column types, derived from the pandera models: the one mapping from pandas
dtypes to DuckDB types, used for the warehouse tables, staging tables and the data dictionary."""

from __future__ import annotations

from aggregator.errors import WarehouseError
from schemas import Table

_SQL_TYPES = {
    "string": "VARCHAR",
    "str": "VARCHAR",
    "Int64": "BIGINT",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "boolean": "BOOLEAN",
    "datetime64[ns]": "TIMESTAMP",
}


def sql_type(column) -> str:
    override = (column.metadata or {}).get("sql_type")
    if override:
        return override
    name = str(column.dtype)
    if name.startswith("string"):
        return "VARCHAR"
    if name.startswith("datetime64[ns,"):
        return "TIMESTAMPTZ"
    try:
        return _SQL_TYPES[name]
    except KeyError:
        raise WarehouseError(f"no SQL type for pandas dtype {name}") from None


def columns_of(table: Table) -> dict[str, str]:
    return {name: sql_type(col) for name, col in table.model.to_schema().columns.items()}
