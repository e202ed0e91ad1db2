"""Meta tables: what each refresh did, what it downloaded, and what failed validation."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.fields import OUTCOMES, SEVERITIES, field

TIMESTAMP = "TIMESTAMPTZ"


class Runs(pa.DataFrameModel):
    """One row per refresh and source: the outcome and its counts."""

    run_id: Series[str] = field("Id of the refresh (UTC start time and a random suffix).")
    source: Series[str] = field("Source name, as in `aggregator refresh --source`.")
    started_at: Series[pd.DatetimeTZDtype("ns", "UTC")] = field(
        "When the refresh started.", sql_type=TIMESTAMP
    )
    finished_at: Series[pd.DatetimeTZDtype("ns", "UTC")] = field(
        "When this source finished.", sql_type=TIMESTAMP
    )
    outcome: Series[str] = field(
        "published, not_modified (no file changed since the last good refresh: tables untouched), "
        "failed (previous tables untouched) or skipped (e.g. no key).",
        isin=OUTCOMES,
    )
    rows: Series[pd.Int64Dtype] = field("Fact rows published by this source in this run.", ge=0)
    warnings: Series[pd.Int64Dtype] = field("Rows flagged by warning checks (published).", ge=0)
    rejected: Series[pd.Int64Dtype] = field("Failure cases of blocking checks.", ge=0)
    requests: Series[pd.Int64Dtype] = field("HTTP requests made.", ge=0)
    not_modified: Series[pd.Int64Dtype] = field(
        "Downloads that had not changed (304, same catalogue version or same sha256).", ge=0
    )
    message: Series[str] = field("Why the source failed or was skipped.", nullable=True)
    mode: Series[str] = field("live, record or replay.", isin=["live", "record", "replay"])

    class Config:
        strict = True
        coerce = True
        unique = ["run_id", "source"]


class Fetches(pa.DataFrameModel):
    """Provenance of every download (URLs with secrets replaced by ***)."""

    fetch_id: Series[str] = field(
        "Id referenced by the fetch_id column of every fact row.", unique=True
    )
    run_id: Series[str] = field("Refresh that made the request.")
    source: Series[str] = field("Source that made the request.")
    url: Series[str] = field("Requested URL, secrets redacted.")
    requested_at: Series[pd.DatetimeTZDtype("ns", "UTC")] = field(
        "When the request was sent.", sql_type=TIMESTAMP
    )
    status: Series[pd.Int64Dtype] = field("HTTP status of the last attempt.", nullable=True)
    not_modified: Series[bool] = field(
        "True when nothing changed since the last good fetch of the URL: the server answered "
        "304, the catalogue listed the same version (no request sent; status is then empty), "
        "or the body received has the same sha256."
    )
    etag: Series[str] = field("ETag header.", nullable=True)
    last_modified: Series[str] = field("Last-Modified header.", nullable=True)
    content_type: Series[str] = field("Content-Type header.", nullable=True)
    sha256: Series[str] = field("sha256 of the body.", nullable=True)
    bytes: Series[pd.Int64Dtype] = field("Size of the body in bytes.", nullable=True, ge=0)
    raw_path: Series[str] = field("Where the body is kept in the raw store.", nullable=True)
    attempts: Series[pd.Int64Dtype] = field("Attempts made (1 = no retry).", ge=0)
    error: Series[str] = field("Why the download failed, if it did.", nullable=True)
    version: Series[str] = field(
        "The publisher's version of the file as its catalogue lists it (HDX: resource "
        "last_modified and hash). A refresh skips the request when it has not changed.",
        nullable=True,
    )
    catalogue: Series[bool] = field(
        "True for a catalogue lookup (HDX package_show) that only says which files to get: "
        "it does not count when deciding whether a source changed."
    )

    class Config:
        strict = True
        coerce = True


class Rejects(pa.DataFrameModel):
    """Validation failure cases: errors block the source, warnings are published with a note."""

    run_id: Series[str] = field("Refresh in which the check ran.")
    source: Series[str] = field("Source whose table failed.")
    table_name: Series[str] = field("Table that was validated.")
    severity: Series[str] = field(
        "error (source not published) or warning (published).", isin=SEVERITIES
    )
    check_name: Series[str] = field("Name of the pandera check that failed.")
    column_name: Series[str] = field(
        "Column checked, if the check is about one column.", nullable=True
    )
    row_number: Series[pd.Int64Dtype] = field(
        "0-based row of the parsed table; empty for table-wide checks.", nullable=True
    )
    value: Series[str] = field("The failing value, as text.", nullable=True)
    row_key: Series[str] = field(
        "Key columns of the failing row, e.g. analysis_id=…, phase=….", nullable=True
    )
    fetch_id: Series[str] = field("Download the failing row came from.", nullable=True)

    class Config:
        strict = True
        coerce = True
