"""Parquet, written by DuckDB straight from the warehouse so that every column keeps its type
(DATE stays a date, TIMESTAMPTZ an instant): one file per table, or the whole warehouse as
Hive-partitioned Parquet with a Frictionless Data Package descriptor."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from aggregator.export.catalogue import Dataset, ExportError, datasets, query
from aggregator.export.files import PACKAGE_FILE, atomic_dir, atomic_file
from aggregator.export.licences import LICENCES

# The first of these a table has is its country partition, after source.
COUNTRY_COLUMNS = ("geo", "country_iso3", "location_code")
# Table Schema types (https://datapackage.org/standard/table-schema/) of DuckDB's types.
FIELD_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "integer",
    "INTEGER": "integer",
    "DOUBLE": "number",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "datetime",
    "TIMESTAMP WITH TIME ZONE": "datetime",
}


def write_parquet(con: duckdb.DuckDBPyConnection, name: str, path: Path) -> None:
    """Writes table or view ``name`` of the warehouse to one Parquet file at ``path``."""
    with atomic_file(Path(path)) as temporary:
        con.execute(f"copy ({query(con, name)}) to '{_literal(temporary)}' (format parquet)")


def partition_columns(columns: list[str]) -> list[str]:
    """source, then the country column, of those the table has."""
    country = [c for c in COUNTRY_COLUMNS if c in columns][:1]
    return [c for c in ("source", *country) if c in columns]


def export_all(con: duckdb.DuckDBPyConnection, directory: Path) -> dict:
    """Writes every table and view to ``directory``/<name>/ as Parquet, partitioned Hive-style
    by source and country (source=ipc_api/geo=PSE/data_0.parquet; by source alone, or not at
    all, where the table has no such column), and ``directory``/datapackage.json describing
    them. DuckDB reads a table back with
    ``read_parquet('DIR/figures/**/*.parquet', hive_partitioning=true)``, Spark and Trino
    take the directory as a partitioned table. The partition columns are in the files too,
    so that each file stands on its own (Spark merges such columns with the directory's).
    An empty table is one file without partitions. Everything is written beside
    ``directory`` and renamed into place at the end (replacing an earlier export there).
    Returns the descriptor."""
    with atomic_dir(Path(directory)) as temporary:
        resources = []
        for dataset in datasets().values():
            try:
                resource = _write_dataset(con, dataset, temporary)
            except duckdb.Error as exc:
                raise ExportError(f"exporting {dataset.name} failed: {exc}") from exc
            if resource is not None:
                resources.append(resource)
        present = {r[0] for r in con.execute("select distinct source from fetches").fetchall()}
        descriptor = _package(resources, sorted(present & set(LICENCES)))
        (temporary / PACKAGE_FILE).write_text(json.dumps(descriptor, indent=1) + "\n")
    return descriptor


def _write_dataset(con: duckdb.DuckDBPyConnection, dataset: Dataset, root: Path) -> dict | None:
    types = _column_types(con, dataset.name)
    if types is None:  # not in this warehouse yet
        return None
    rows = con.execute(f'select count(*) from "{dataset.name}"').fetchone()[0]
    partitions = partition_columns(list(types)) if rows else []
    target = root / dataset.name
    options = "format parquet"
    if partitions:
        options += f", partition_by ({', '.join(partitions)}), write_partition_columns true"
    else:
        target.mkdir()
        target = target / "data_0.parquet"
    con.execute(f"copy ({query(con, dataset.name)}) to '{_literal(target)}' ({options})")
    files = sorted(p.relative_to(root).as_posix() for p in (root / dataset.name).rglob("*.parquet"))
    return _resource(dataset, types, files, partitions)


def _column_types(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str] | None:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_name = ? order by ordinal_position",
        [name],
    ).fetchall()
    return dict(rows) if rows else None


def _resource(
    dataset: Dataset, types: dict[str, str], files: list[str], partitions: list[str]
) -> dict:
    fields = []
    for column, sql_type in types.items():
        spec = {"name": column, "type": FIELD_TYPES.get(sql_type, "any")}
        if dataset.columns.get(column):
            spec["description"] = dataset.columns[column]
        fields.append(spec)
    schema: dict = {"fields": fields}
    if dataset.key:
        schema["primaryKey"] = list(dataset.key)
    resource = {
        "name": dataset.name,
        "type": "table",
        "path": files,
        "format": "parquet",
        "mediatype": "application/vnd.apache.parquet",
        "description": dataset.description,
        "schema": schema,
    }
    if partitions:
        # Not part of the standard: tells readers which fields are in the directory names.
        resource["hivePartitioning"] = partitions
    return resource


def _package(resources: list[dict], sources_present: list[str]) -> dict:
    licences, sources = [], []
    for licence in (LICENCES[s] for s in sources_present):
        entry = {"title": f"{licence.terms}: {licence.publisher}"}
        if licence.licence_url or licence.url:
            entry["path"] = licence.licence_url or licence.url
            licences.append(entry)
        sources.append(
            {"title": licence.publisher, **({"path": licence.url} if licence.url else {})}
        )
    return {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "foodsec-aggregator",
        "title": "Official food-security and aid figures, with the press claims checked against them",
        "description": "Every table and view of a foodsec-aggregator warehouse, as Parquet "
        "partitioned Hive-style by source and country. Each row's fetch_id leads to the "
        "fetches resource: the URL, time and sha256 of the download it came from.",
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "licenses": licences,
        "sources": sources,
        "resources": resources,
    }


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")
