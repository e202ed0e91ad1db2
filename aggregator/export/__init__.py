"""Exports of the warehouse: CSV (optionally HXL-tagged, or with a BOM for Excel), XLSX,
JSON and Parquet, and the whole warehouse as Hive-partitioned Parquet with a Frictionless
datapackage.json. Used by `aggregator export` and by the report.

The writers (stable signatures, documented in their docstrings):

- ``write_csv(frame, path, *, excel=False, hxl=False, table=None)``
- ``write_json(frame, path)``
- ``write_xlsx(path, sheets, *, readme: Readme, provenance: DataFrame) -> sheet titles``
- ``provenance(con, frames)``: the Provenance table of the downloads behind some frames
- ``write_parquet(con, name, path)`` and ``export_all(con, directory)``, from the warehouse

Text a spreadsheet could run as a formula is neutralised in CSV and XLSX (``neutralise``);
licences and credit lines per source are in ``LICENCES``.
"""

from aggregator.export.catalogue import ExportError, datasets, open_warehouse, provenance, read
from aggregator.export.cells import neutralise
from aggregator.export.licences import LICENCES, Licence
from aggregator.export.parquet import export_all, write_parquet
from aggregator.export.table import export_table
from aggregator.export.text import write_csv, write_json
from aggregator.export.workbook import Readme, write_xlsx

__all__ = [
    "LICENCES",
    "ExportError",
    "Licence",
    "Readme",
    "datasets",
    "export_all",
    "export_table",
    "neutralise",
    "open_warehouse",
    "provenance",
    "read",
    "write_csv",
    "write_json",
    "write_parquet",
    "write_xlsx",
]
