"""Builds HDX answers (package_show in the live wrapper, resource files) as a replay directory,
and runs an HDX dataset of the registry through the real Fetcher and client against it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pandas as pd

from aggregator.config import HttpSettings
from aggregator.connectors import hdx
from aggregator.ddl import columns_of
from aggregator.http import Fetcher, make_client
from aggregator.raw import RawStore
from aggregator.replay import recording_path
from aggregator.validate import validate
from schemas import TABLES
from tests.conftest import ROOT

BASE = "https://data.humdata.org"


@dataclass
class File:
    name: str
    format: str
    body: bytes
    last_modified: str = "2025-03-04T08:17:46.103660"


def package(slug: str, files: list[File], *, base: str = BASE) -> dict:
    """A package_show answer (live wrapper) listing ``files`` with download URLs under ``base``."""
    resources = [
        {
            "id": f"res-{i}",
            "name": f.name,
            "format": f.format,
            "url": f"{base}/dataset/ds-1/resource/res-{i}/download/{f.name}",
            "last_modified": f.last_modified,
            "hash": "",
        }
        for i, f in enumerate(files)
    ]
    result = {
        "id": "ds-1",
        "name": slug,
        "title": slug,
        "metadata_modified": "2025-03-04T08:18:03.391337",
        "resources": resources,
    }
    return {"success": True, "result": result}


def replay_dir(root: Path, slug: str, files: list[File]) -> Path:
    answer = package(slug, files)
    show = recording_path(root, httpx.URL(f"{BASE}/api/3/action/package_show?id={slug}"))
    show.parent.mkdir(parents=True, exist_ok=True)
    show.write_text(json.dumps(answer))
    for f, resource in zip(files, answer["result"]["resources"], strict=True):
        path = recording_path(root, httpx.URL(resource["url"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.body)
    return root


def extract(
    replay: Path, source: str, countries: list[str] | None = None, work: Path | None = None
) -> dict[str, pd.DataFrame]:
    """The registry entry ``source`` run on a replay directory, as the pipeline runs it."""
    settings = HttpSettings(max_attempts=1)
    with make_client(settings, replay=replay) as client:
        fetcher = Fetcher(
            client,
            source=source,
            run_id="t",
            raw=RawStore((work or replay.parent) / "raw"),
            settings=settings,
        )
        return hdx.extract(fetcher, BASE, hdx.DATASETS[source], countries or [])


def daily(rows) -> list[tuple]:
    """aid_trucks_daily computed by the project's SQL over ``rows`` in an in-memory DuckDB."""
    checked = validate("aid_trucks", rows, run_id="t", source="unrwa_trucks")
    assert checked.data is not None
    with duckdb.connect() as con:
        con.register("staged", checked.data)
        columns = ", ".join(f'"{c}" {t}' for c, t in columns_of(TABLES["aid_trucks"]).items())
        con.execute(f"create table aid_trucks ({columns})")  # as the warehouse creates it
        con.execute("insert into aid_trucks by name select * from staged")
        con.execute((ROOT / "aggregator" / "sql" / "10_aid_trucks_daily.sql").read_text())
        return con.execute(
            "select received_on::varchar, crossing, trucks, consignments, partial_data, "
            "published_on::varchar from aid_trucks_daily order by 1, 2"
        ).fetchall()
