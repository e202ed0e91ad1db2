"""Large inputs in the live services' shapes, written once into a cache outside the repository.

Every data set is a directory in the replay layout (``aggregator.replay.recording_path``:
``<host>/<path>@<query>.body`` beside a ``.meta.json`` with the status and an ETag), so
bench/serve.py plays it like the demo snapshot. Figures are internally consistent (phases 1-5
add up to the population analysed, 3+ is 3+4+5, a group is the sum of its areas and the
national figure the sum of all areas, shares are the rounded quotient) so that validation
warnings do not dominate the timings. Files are written analysis by analysis (or page by
page, row by row): no whole document is ever held in memory.

A set is built in a ``.partial`` directory and renamed when complete, with a manifest of
what it holds; a set whose manifest matches the request is reused. BENCH_CACHE overrides the
cache directory ($TMPDIR/foodsec-bench by default).
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from aggregator.replay import meta_path, recording_path

VERSION = 1  # bump when a generator's output changes: cached sets are then rebuilt
SEED = 20240322

GROUPS_PER_ANALYSIS = 10
AREAS_PER_GROUP = 20
UNITS_PER_ANALYSIS = 1 + GROUPS_PER_ANALYSIS + GROUPS_PER_ANALYSIS * AREAS_PER_GROUP
PHASE_ROWS_PER_UNIT = 3 * 7  # three periods x (all, 3+, 1, 2, 3, 4, 5)
ROWS_PER_ANALYSIS = UNITS_PER_ANALYSIS * PHASE_ROWS_PER_UNIT
SUFFIXES = ("", "_projected", "_second_projected")  # IPC API key suffix per validity period
HDX_PERIODS = ("current", "first projection", "second projection")
FTS_PAGE_SIZE = 200  # what api.hpc.tools serves per page

IPC_COUNTRY = ("AF", "Afghanistan")  # /population?country=AF answers every generated analysis
HDX_COUNTRIES = [
    *("AFG", "AGO", "BDI", "BFA", "CAF", "CMR", "COD", "DJI", "ETH", "GTM", "HND", "HTI"),
    *("KEN", "LSO", "MDG", "MLI", "MOZ", "MWI", "NER", "NGA", "PAK", "PSE", "SDN", "SLV"),
    *("SOM", "SSD", "SWZ", "TCD", "TLS", "UGA", "YEM", "ZMB", "ZWE"),
]


@dataclass(frozen=True)
class DataSet:
    """A generated input: where it lives and how many rows of the target table it yields."""

    name: str
    root: Path
    rows: int  # ipc_phases rows (IPC API, HDX) or flows (FTS)
    files: tuple[Path, ...]  # the data bodies, as the floor loads them
    bytes: int


def cache_dir() -> Path:
    folder = Path(os.environ.get("BENCH_CACHE") or Path(tempfile.gettempdir()) / "foodsec-bench")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def body_path(root: Path, url: str) -> Path:
    return recording_path(root, httpx.URL(url))


def _write_meta(body: Path, etag: str, content_type: str) -> None:
    meta = {
        "status": 200,
        "headers": {
            "content-type": content_type,
            "etag": f'"{etag}"',
            "last-modified": "Mon, 03 Mar 2025 12:00:00 GMT",
        },
    }
    meta_path(body).write_text(json.dumps(meta, indent=1) + "\n")


def _cached(
    name: str, params: dict[str, Any], build: Callable[[Path], tuple[int, list[Path]]]
) -> DataSet:
    """The data set ``name`` from the cache, built by ``build(folder)`` when missing or stale."""
    root = cache_dir() / name
    wanted = {"version": VERSION, **params}
    manifest = root / "manifest.json"
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        if saved.get("params") == wanted:
            files = tuple(root / f for f in saved["files"])
            if all(f.is_file() for f in files):
                return DataSet(name, root, saved["rows"], files, saved["bytes"])
    partial = root.with_name(root.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    partial.mkdir(parents=True)
    rows, files = build(partial)
    size = sum(f.stat().st_size for f in files)
    relative = [str(f.relative_to(partial)) for f in files]
    (partial / "manifest.json").write_text(
        json.dumps({"params": wanted, "rows": rows, "files": relative, "bytes": size}, indent=1)
    )
    partial.rename(root)
    return DataSet(name, root, rows, tuple(root / f for f in relative), size)


def _month(index: int) -> date:
    """The first day of month ``index`` counted from January 2017."""
    return date(2017 + index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    following = _month(((first.year - 2017) * 12 + first.month - 1) + 1)
    return following - timedelta(days=1)


def _windows(analysed: int) -> list[tuple[date, date]]:
    """Current, first and second projection windows (four months each) after the analysis."""
    return [(_month(analysed + 4 * k), _month_end(_month(analysed + 4 * k + 3))) for k in range(3)]


# --- consistent figures -----------------------------------------------------------------------


def _area_phases(rng: random.Random) -> list[list[int]]:
    """Phase 1-5 populations of one area for each of the three periods."""
    periods = []
    for _ in SUFFIXES:
        total = rng.randrange(2_000, 400_000, 10)
        weights = [rng.random() ** 2 for _ in range(5)]
        scale = sum(weights)
        parts = [int(total * w / scale) for w in weights[:4]]
        parts.append(total - sum(parts))
        periods.append(parts)
    return periods


def _summed(units: list[list[list[int]]]) -> list[list[int]]:
    return [[sum(u[p][i] for u in units) for i in range(5)] for p in range(len(SUFFIXES))]


def _share(part: int, total: int) -> float:
    return round(part / total, 2) if total else 0


def _overall_phase(phases: list[int]) -> int:
    """IPC's area rule: the worst phase that, with the phases above it, holds 20% or more."""
    total = sum(phases)
    return max(p for p in range(1, 6) if sum(phases[p - 1 :]) >= 0.2 * total)


def _ipc_figures(periods: list[list[int]]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for suffix, phases in zip(SUFFIXES, periods, strict=True):
        total, worse = sum(phases), sum(phases[2:])
        figures[f"estimated_population{suffix}"] = total
        figures[f"p3plus{suffix}"] = worse
        figures[f"p3plus_percentage{suffix}"] = _share(worse, total)
        for number, people in enumerate(phases, start=1):
            figures[f"phase{number}_population{suffix}"] = people
            figures[f"phase{number}_percentage{suffix}"] = _share(people, total)
    return figures


# --- IPC API ----------------------------------------------------------------------------------


def ipc_api(rows: int) -> DataSet:
    """/analyses?type=A and /population?country=AF with about ``rows`` ipc_phases rows."""
    analyses = max(1, round(rows / ROWS_PER_ANALYSIS))
    return _cached(
        f"ipc-api-{rows}", {"analyses": analyses}, lambda root: _write_ipc(root, analyses)
    )


def _ipc_analysis(rng: random.Random, k: int) -> tuple[dict[str, Any], dict[str, Any]]:
    iso2, name = IPC_COUNTRY
    analysis_id = 80_000_000 + k * 1_000
    analysed = (k * 5) % 96
    windows = _windows(analysed)
    when = _month(analysed)
    title = f"{name} - Acute Food Insecurity {when:%B %Y} (bench {k})"
    population = 41_000_000
    groups, all_areas = [], []
    for g in range(GROUPS_PER_ANALYSIS):
        group_id = str(analysis_id + g + 1)
        areas, area_periods = [], []
        for a in range(AREAS_PER_GROUP):
            periods = _area_phases(rng)
            area_periods.append(periods)
            areas.append(
                {
                    "id": str(analysis_id + 100 + g * AREAS_PER_GROUP + a),
                    "name": f"District {g + 1}.{a + 1}",
                    "aag_id": group_id,
                    "population": population,
                    **_ipc_figures(periods),
                    **{
                        f"overall_phase{suffix}": _overall_phase(phases)
                        for suffix, phases in zip(SUFFIXES, periods, strict=True)
                    },
                }
            )
        all_areas.extend(area_periods)
        groups.append(
            {
                "id": group_id,
                "name": f"Province {g + 1}",
                **_ipc_figures(_summed(area_periods)),
                "areas": areas,
            }
        )
    analysis = {
        "id": str(analysis_id),
        "title": title,
        "country": iso2,
        "condition": "A",
        "analysis_date": f"{when:%b %Y}",
        "period": "A",
        **{
            key: f"{start:%b %Y} - {end:%b %Y}"
            for key, (start, end) in zip(
                (
                    "current_period_dates",
                    "projected_period_dates",
                    "second_projected_period_dates",
                ),
                windows,
                strict=True,
            )
        },
        "view_level": "area",
        "population": population,
        "population_percentage": 0,
        **_ipc_figures(_summed(all_areas)),
        "metadata": {
            "colors": [{"phase": 1, "color": "#cdfacd"}, {"phase": 5, "color": "#640000"}],
            "source": "Integrated Food Security Phase Classification",
        },
        "groups": groups,
    }
    listed = {
        "id": str(analysis_id),
        "title": title,
        "link": f"https://www.ipcinfo.org/ipc-country-analysis/details-map/en/c/{analysis_id}/",
        "country": iso2,
        "year": when.year,
        "condition": "A",
        "created": (when + timedelta(days=20)).isoformat(),
        "modified": (when + timedelta(days=20)).isoformat(),
    }
    return analysis, listed


def _write_ipc(root: Path, analyses: int) -> tuple[int, list[Path]]:
    rng = random.Random(SEED)
    population = body_path(root, f"https://api.ipcinfo.org/population?country={IPC_COUNTRY[0]}")
    population.parent.mkdir(parents=True, exist_ok=True)
    listing = []
    with population.open("w") as out:
        out.write("[")
        for k in range(analyses):
            analysis, listed = _ipc_analysis(rng, k)
            out.write(("," if k else "") + "\n" + json.dumps(analysis))
            listing.append(listed)
        out.write("\n]\n")
    _write_meta(population, f"bench-ipc-population-{analyses}", "application/json")
    analyses_path = body_path(root, "https://api.ipcinfo.org/analyses?type=A")
    analyses_path.write_text(json.dumps(listing, indent=1))
    _write_meta(analyses_path, f"bench-ipc-analyses-{analyses}", "application/json")
    return analyses * ROWS_PER_ANALYSIS, [population]


# --- FTS flows --------------------------------------------------------------------------------

FTS_FLOW_URL = "https://api.hpc.tools/v1/public/fts/flow?countryISO3=PSE&year=2020"
DONORS = [
    ("4306", "Germany, Government of", "Government", "83", "Germany"),
    (
        "2933",
        "European Commission's Humanitarian Aid and Civil Protection Department",
        "Multilateral",
        None,
        None,
    ),
    ("2987", "United States of America, Government of", "Government", "237", "United States"),
    ("2976", "Norway, Government of", "Government", "164", "Norway"),
    ("2979", "Japan, Government of", "Government", "111", "Japan"),
    ("3073", "Central Emergency Response Fund", "Pooled fund", None, None),
    ("2953", "Sweden, Government of", "Government", "212", "Sweden"),
    (
        "5826",
        "Private (individuals & organizations)",
        "Private organization/foundation",
        None,
        None,
    ),
]
RECIPIENTS = [
    (
        "3035",
        "United Nations Relief and Works Agency for Palestine Refugees in the Near East",
        "UN agency",
    ),
    ("4469", "World Food Programme", "UN agency"),
    ("2911", "United Nations Children's Fund", "UN agency"),
    ("2746", "Norwegian Refugee Council", "NGO"),
    ("3028", "Oxfam Great Britain", "NGO"),
]
CLUSTERS = [
    ("4905", "Food Security Sector", "6", "Food Security"),
    ("4906", "Health and Nutrition", "7", "Health"),
    ("4907", "Shelter and NFIs", "11", "Emergency Shelter and NFI"),
    ("4908", "WASH", "12", "Water Sanitation Hygiene"),
]


def _flow_kind(i: int) -> tuple[str, str, int]:
    """Boundary, status and USD amount of flow ``i``: fixed per index, so the page summaries
    are known before the pages are written."""
    boundary = "incoming" if i % 20 < 16 else "outgoing" if i % 20 < 18 else "internal"
    status = ("paid", "paid", "commitment", "pledge")[i % 4]
    return boundary, status, 1_000 + (i * 7_919) % 5_000_000


def _stamp(day: date, seconds: int) -> str:
    return f"{day.isoformat()}T{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{seconds % 1000:03d}Z"


def _flow(rng: random.Random, i: int) -> dict[str, Any]:
    boundary, status, amount = _flow_kind(i)
    donor_id, donor, donor_type, location_id, location = DONORS[i % len(DONORS)]
    recipient_id, recipient, recipient_type = RECIPIENTS[i % len(RECIPIENTS)]
    cluster_id, cluster, global_id, global_cluster = CLUSTERS[i % len(CLUSTERS)]
    day = date(2020, 1, 1) + timedelta(days=i % 366)
    rate = round(rng.uniform(0.8, 1.2), 4)
    source = [
        {
            "type": "Organization",
            "id": donor_id,
            "name": donor,
            "behavior": "single",
            "organizationTypes": [donor_type],
        }
    ]
    if location:
        source.append(
            {"type": "Location", "id": location_id, "name": location, "behavior": "single"}
        )
    source.append({"type": "UsageYear", "id": "41", "name": "2020", "behavior": "single"})
    destination = [
        {
            "type": "Plan",
            "id": "832",
            "name": "occupied Palestinian territory 2020 (part of 2018-2020 HRP)",
            "behavior": "single",
        },
        {
            "type": "Organization",
            "id": recipient_id,
            "name": recipient,
            "behavior": "single",
            "organizationTypes": [recipient_type],
        },
        {"type": "Cluster", "id": cluster_id, "name": cluster, "behavior": "single"},
        {"type": "GlobalCluster", "id": global_id, "name": global_cluster, "behavior": "single"},
        {
            "type": "Location",
            "id": "171",
            "name": "occupied Palestinian territory",
            "behavior": "single",
        },
        {
            "type": "Project",
            "id": str(150_000 + i % 9_000),
            "name": f"Emergency assistance {i % 9_000}",
            "behavior": "single",
            "code": f"HPSE20-FSC-{150_000 + i % 9_000}-1",
        },
        {"type": "UsageYear", "id": "41", "name": "2020", "behavior": "single"},
    ]
    shared = i % 13 == 0
    if shared:
        destination.append({"type": "UsageYear", "id": "42", "name": "2021", "behavior": "shared"})
    return {
        "id": str(200_000 + i),
        "amountUSD": amount,
        "budgetYear": "2020",
        "childFlowIds": None,
        "contributionType": "financial" if i % 9 else "in-kind",
        "createdAt": _stamp(day, rng.randrange(86_400_000)),
        "date": f"{day.isoformat()}T00:00:00Z",
        "decisionDate": f"{day.isoformat()}T00:00:00Z" if i % 3 else None,
        "description": f"Humanitarian assistance to Palestinian households, project {i % 9_000}",
        "grandBargainEarmarkingType": ["earmarked"],
        "exchangeRate": rate if i % 2 else None,
        "firstReportedDate": f"{day.isoformat()}T00:00:00Z",
        "flowType": "Standard",
        "keywords": ["Multiyear"] if shared else None,
        "newMoney": bool(i % 5),
        "originalAmount": round(amount * rate) if i % 2 else None,
        "originalCurrency": "EUR" if i % 2 else "USD",
        "method": "Traditional aid",
        "parentFlowId": None,
        "status": status,
        "updatedAt": _stamp(day + timedelta(days=30), rng.randrange(86_400_000)),
        "versionId": 1 + i % 4,
        "sourceObjects": source,
        "destinationObjects": destination,
        "boundary": boundary,
        "onBoundary": "shared" if shared else "single",
        "reportDetails": [
            {
                "sourceType": "Primary",
                "organization": recipient,
                "reportChannel": "Email",
                "date": f"{day.isoformat()}T00:00:00.000Z",
            }
        ],
    }


def _fts_summary(count: int) -> dict[str, Any]:
    summary: dict[str, dict[str, int]] = {
        b: {"flowCount": 0, "fundingTotal": 0, "pledgeTotal": 0}
        for b in ("incoming", "outgoing", "internal")
    }
    for i in range(count):
        boundary, status, amount = _flow_kind(i)
        summary[boundary]["flowCount"] += 1
        summary[boundary]["pledgeTotal" if status == "pledge" else "fundingTotal"] += amount
    del summary["internal"]["fundingTotal"], summary["internal"]["pledgeTotal"]
    return summary


def fts_flows(count: int) -> DataSet:
    """Pages of /v1/public/fts/flow?countryISO3=PSE&year=2020 holding ``count`` flows."""
    return _cached(f"fts-{count}", {"flows": count}, lambda root: _write_fts(root, count))


def _fts_page_url(page: int) -> str:
    return FTS_FLOW_URL if page == 1 else f"{FTS_FLOW_URL}&page={page}"


def _write_fts(root: Path, count: int) -> tuple[int, list[Path]]:
    rng = random.Random(SEED)
    pages = max(1, math.ceil(count / FTS_PAGE_SIZE))
    summary = _fts_summary(count)
    files = []
    for page in range(1, pages + 1):
        first = (page - 1) * FTS_PAGE_SIZE
        flows = [_flow(rng, i) for i in range(first, min(count, first + FTS_PAGE_SIZE))]
        meta: dict[str, Any] = {"language": "en", "count": count}
        if page < pages:
            meta["nextLink"] = _fts_page_url(page + 1)
        path = body_path(root, _fts_page_url(page))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"status": 200, "data": {**summary, "flows": flows}, "meta": meta})
        )
        _write_meta(path, f"bench-fts-{count}-p{page}", "application/json; charset=utf-8")
        files.append(path)
    return count, files


# --- IPC on HDX -------------------------------------------------------------------------------

HDX_PACKAGE_ID = "7a7e7428-b8d7-4d2e-91d3-19100500e016"
HDX_SLUG = "global-acute-food-insecurity-country-data"
HDX_MODIFIED = "2025-03-04T08:17:48.545126"
HDX_COMMON = ["Date of analysis", "Country", "Total country population"]
HDX_TAIL = ["Validity period", "From", "To", "Phase", "Number", "Percentage"]
HDX_FILES = {  # level -> (resource id, file name, columns, HXL hashtags)
    "national": (
        "00000000-0000-4000-8000-00000000b001",
        "ipc_global_national_long.csv",
        [*HDX_COMMON, *HDX_TAIL],
    ),
    "group": (
        "00000000-0000-4000-8000-00000000b002",
        "ipc_global_level1_long.csv",
        [*HDX_COMMON, "Level 1", *HDX_TAIL],
    ),
    "area": (
        "00000000-0000-4000-8000-00000000b003",
        "ipc_global_area_long.csv",
        [*HDX_COMMON, "Level 1", "Area", *HDX_TAIL],
    ),
}
HXL = {
    "Date of analysis": "#date+analysis",
    "Country": "#country+code",
    "Total country population": "#population",
    "Level 1": "#loc+level1",
    "Area": "#loc+area",
    "Validity period": "#period+v_ipc",
    "From": "#date+start",
    "To": "#date+end",
    "Phase": "#severity+v_ipc",
    "Number": "#affected+num",
    "Percentage": "#affected+pct",
}


def hdx_ipc(rows: int) -> DataSet:
    """package_show of the IPC dataset and its three long CSVs, about ``rows`` rows in all."""
    analyses = max(1, round(rows / ROWS_PER_ANALYSIS))
    return _cached(
        f"hdx-ipc-{rows}", {"analyses": analyses}, lambda root: _write_hdx(root, analyses)
    )


def _resource_url(level: str) -> str:
    resource_id, name, _ = HDX_FILES[level]
    return (
        f"https://data.humdata.org/dataset/{HDX_PACKAGE_ID}/resource/{resource_id}/download/{name}"
    )


def _hdx_rows(
    periods: list[list[int]], windows: list[tuple[date, date]]
) -> Iterator[tuple[str, str, str, int, float]]:
    """(validity period, from, to, phase, number, share) rows of one unit."""
    for name, (start, end), phases in zip(HDX_PERIODS, windows, periods, strict=True):
        total = sum(phases)
        worse = sum(phases[2:])
        yield name, start.isoformat(), end.isoformat(), "all", total, 1.0
        yield name, start.isoformat(), end.isoformat(), "3+", worse, _share(worse, total)
        for number, people in enumerate(phases, start=1):
            yield (
                name,
                start.isoformat(),
                end.isoformat(),
                str(number),
                people,
                _share(people, total),
            )


def _write_hdx(root: Path, analyses: int) -> tuple[int, list[Path]]:
    rng = random.Random(SEED)
    files, handles, writers = {}, [], {}
    for level, (_, _, columns) in HDX_FILES.items():
        path = body_path(root, _resource_url(level))
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("w", newline="", encoding="utf-8")
        handles.append(handle)
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerow([HXL[c] for c in columns])
        files[level], writers[level] = path, writer
    try:
        for k in range(analyses):
            iso3 = HDX_COUNTRIES[k % len(HDX_COUNTRIES)]
            analysed = k // len(HDX_COUNTRIES)
            windows = _windows(analysed)
            head = [f"{_month(analysed):%b %Y}", iso3, 20_000_000 + k]
            all_areas = []
            for g in range(GROUPS_PER_ANALYSIS):
                group = f"Province {g + 1}"
                areas = [_area_phases(rng) for _ in range(AREAS_PER_GROUP)]
                all_areas.extend(areas)
                for a, periods in enumerate(areas):
                    for row in _hdx_rows(periods, windows):
                        writers["area"].writerow([*head, group, f"District {g + 1}.{a + 1}", *row])
                for row in _hdx_rows(_summed(areas), windows):
                    writers["group"].writerow([*head, group, *row])
            for row in _hdx_rows(_summed(all_areas), windows):
                writers["national"].writerow([*head, *row])
    finally:
        for handle in handles:
            handle.close()
    for level, path in files.items():
        _write_meta(path, f"bench-hdx-{analyses}-{level}", "text/csv")
    package = body_path(root, f"https://data.humdata.org/api/3/action/package_show?id={HDX_SLUG}")
    package.parent.mkdir(parents=True, exist_ok=True)
    package.write_text(json.dumps(_package(files, analyses), indent=1))
    _write_meta(package, f"bench-hdx-package-{analyses}", "application/json;charset=utf-8")
    return analyses * ROWS_PER_ANALYSIS, list(files.values())


def _package(files: dict[str, Path], analyses: int) -> dict[str, Any]:
    resources = [
        {
            "id": resource_id,
            "name": name,
            "description": f"IPC {level} data in long form (benchmark, {analyses} analyses)",
            "format": "CSV",
            "url": _resource_url(level),
            "url_type": "upload",
            "last_modified": HDX_MODIFIED,
            "metadata_modified": HDX_MODIFIED,
            "hash": "",
            "size": files[level].stat().st_size,
            "package_id": HDX_PACKAGE_ID,
            "position": position,
            "state": "active",
        }
        for position, (level, (resource_id, name, _)) in enumerate(HDX_FILES.items())
    ]
    return {
        "help": "https://data.humdata.org/api/3/action/help_show?name=package_show",
        "success": True,
        "result": {
            "id": HDX_PACKAGE_ID,
            "name": HDX_SLUG,
            "title": "Global: Acute Food Insecurity Country Data",
            "metadata_modified": HDX_MODIFIED,
            "last_modified": HDX_MODIFIED,
            "num_resources": len(resources),
            "state": "active",
            "type": "dataset",
            "resources": resources,
        },
    }


# --- a warehouse for claim_checks -------------------------------------------------------------

FIGURES_PER_UNIT = 21 + 18  # people for 7 phases and shares for 6, in 3 periods
CLAIM_COUNTRIES = 50
CLAIM_METRICS = (
    ("ipc.phase3plus.people", "people", 1000.0),
    ("ipc.analysed.people", "people", 10000.0),
    ("ipc.phase3plus.share", "share", 0.01),
)


def claims_warehouse(path: Path, figures: int, claims: int) -> dict[str, int]:
    """A warehouse with about ``figures`` rows in the figures view (IPC analyses of 50
    countries, each a national unit and areas, in three periods) and ``claims`` press claims
    about them, inserted in bulk by SQL (IPC figures are worked out from ipc_phases as they are
    read: nothing else to store). Returns the row counts."""
    import duckdb
    import pycountry

    from aggregator import warehouse

    units = max(2, round(figures / FIGURES_PER_UNIT / CLAIM_COUNTRIES))
    per_country = max(1, round(units / 128))
    per_analysis = max(2, round(units / per_country))
    countries = sorted(pycountry.countries, key=lambda c: c.alpha_3)[:CLAIM_COUNTRIES]
    warehouse.prepare(path)
    with duckdb.connect(str(path)) as con:
        con.execute("set enable_progress_bar = false")
        con.execute(
            "create temp table countries as select * from (values "
            + ", ".join(f"({n}, '{c.alpha_3}', '{c.alpha_2}')" for n, c in enumerate(countries))
            + ") v(n, iso3, iso2)"
        )
        con.execute(
            """insert into fetches by name select 'bench/fetch/1' as fetch_id, 'bench' as run_id,
            'ipc_api' as source, 'https://api.ipcinfo.org/population' as url,
            now() as requested_at, 200 as status"""
        )
        con.execute(
            """insert into ipc_analyses by name
            select 'ipc_api' as source, iso3 || '-' || a as analysis_id, iso2 as country_iso2,
                iso3 as country_iso3, 'Benchmark analysis ' || iso3 || ' ' || a as title,
                'A' as condition, (date '2015-01-01' + to_months(a * 2))::date as analysis_date,
                (date '2015-01-01' + to_months(a * 2) + interval 20 day)::date as created,
                (date '2015-01-01' + to_months(a * 2) + interval 20 day)::date as modified,
                10000000 as country_population, 'bench/fetch/1' as fetch_id
            from countries, range(?) r(a)""",
            [per_country],
        )
        con.execute(
            """insert into ipc_phases by name
            with periods(period, k) as (values ('current', 0), ('first_projection', 1),
                    ('second_projection', 2)),
                phases(phase) as (values ('all'), ('3+'), ('1'), ('2'), ('3'), ('4'), ('5'))
            select 'ipc_api' as source, a.analysis_id, a.country_iso3,
                case when u = 0 then 'national' else 'area' end as level,
                case when u = 0 then a.analysis_id else a.analysis_id || '-' || u end as unit_id,
                case when u = 0 then a.country_iso3 else 'Area ' || u end as unit_name,
                period,
                (a.analysis_date + to_months(4 * k))::date as period_start,
                (a.analysis_date + to_months(4 * k + 4) - interval 1 day)::date as period_end,
                'month' as period_granularity, phase,
                (hash(a.analysis_id, u, period, phase) % 1000000)::bigint as population,
                case when phase = 'all' then 1.0
                     else (hash(a.analysis_id, u, period, phase) % 100) / 100 end as fraction,
                case when u > 0 then 1 + hash(a.analysis_id, u, period) % 5 end as overall_phase,
                'bench/fetch/1' as fetch_id
            from ipc_analyses a, range(?) r(u), periods, phases""",
            [per_analysis],
        )
        metrics = ", ".join(f"('{m}', '{unit}', {p})" for m, unit, p in CLAIM_METRICS)
        con.execute(
            f"""insert into press_claims by name
            with m(k, metric, unit, precision) as (
                select row_number() over () - 1, * from (values {metrics}) v)
            select 'bench-' || i as claim_id,
                (date '2015-03-01' + to_days((i * 37) % (?::int * 60 + 240)))::date as published_on,
                'Benchmark Herald' as outlet, 'https://example.org/claim/' || i as url,
                'the article' as speaker, 'IPC' as attributed_to, 'quote ' || i as quote,
                m.metric, c.iso3 as geo,
                case when i % 4 = 0 then null else 'Area ' || (1 + i % (?::int - 1)) end as area,
                case when m.unit = 'share' then (i % 100) / 100 else (i * 7919) % 1000000 end
                    as value,
                m.unit, m.unit as quoted_unit, m.precision,
                ['eq', 'approx', 'gt', 'lt'][1 + i % 4] as comparator,
                (date '2015-03-01' + to_days((i * 37) % (?::int * 60 + 240)))::date
                    as reference_date,
                'any' as period_kind, 'bench.csv' as file, i + 2 as line, 'claims' as source,
                'bench/fetch/1' as fetch_id
            from range(?) r(i)
            join m on m.k = i % {len(CLAIM_METRICS)}
            join countries c on c.n = i % {CLAIM_COUNTRIES}""",
            [per_country, per_analysis, per_country, claims],
        )
        return {
            name: con.execute(f"select count(*) from {name}").fetchone()[0]
            for name in ("ipc_phases", "figures", "press_claims")
        }
