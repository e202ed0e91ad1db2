"""FTS flows read by DuckDB (fts_staged) against the Python reading of the same pages (fts.FlowTable).

The staged rows must be what the Python reading gives once validated, for the payloads FTS
sends (the test flows, the recorded oPt 2020 pages) and for every field given a value of
another type or left out: either the SQL reads it alike, or it marks the page for the Python
reading (stage returns None), which then names the fault as it always did.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from aggregator import staging
from aggregator.connectors import fts, fts_staged
from aggregator.errors import ParseError
from aggregator.validate import validate
from tests.conftest import LONG_TESTS
from tests.unit.test_fts_parse import INTERNAL, PLEDGE, UN_WOMEN_SHARED, UNRWA

RECORDED = Path(__file__).resolve().parents[3] / "shared" / "recorded" / "fts"
QUERY = fts.Query("countryISO3=PSE&year=2020", "PSE", 2020)
MISSING = object()


def _pages(tmp_path: Path, bodies: list[Any]) -> list[Path]:
    paths = []
    for i, body in enumerate(bodies):
        path = tmp_path / f"page-{i}.json"
        path.write_text(json.dumps(body))
        paths.append(path)
    return paths


def _staged(paths: list[Path], tmp_path: Path) -> pd.DataFrame | None:
    pages = [
        fts_staged.Page(str(p), f"t/fts/{i}", *QUERY.__dict__.values()) for i, p in enumerate(paths)
    ]
    # A page a batch: the first creates the rows table, the others add to it.
    with fts_staged.Stager(tmp_path / "stage", fts.location_iso3s, batch_pages=1) as stager:
        for page in pages:
            stager.add(page)
        database = stager.finish()
    if database is None:
        return None
    plan = fts_staged.plan(database)
    rows = staging.Staged(
        "fts_flows", plan, plan, (), (QUERY.key,), explain=lambda exc: exc, workdir=tmp_path
    )
    return rows.frame()


def _python(paths: list[Path]) -> pd.DataFrame:
    table = fts.FlowTable()
    for i, path in enumerate(paths):
        table.add_page(json.loads(path.read_bytes()), str(path), f"t/fts/{i}", QUERY)
    return table.frame()


def _checked(frame: pd.DataFrame) -> pd.DataFrame | None:
    result = validate("fts_flows", frame, run_id="t", source="fts")
    if result.data is None:
        return None
    return result.data.sort_values(["query_key", "flow_id"]).reset_index(drop=True)


def _value(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item"):
        return v.item()
    return v


def _assert_alike(paths: list[Path], tmp_path: Path) -> bool:
    """Asserts the staged rows are the Python reading's; returns whether the SQL read them
    (False: left to the Python reading)."""
    staged = _staged(paths, tmp_path)
    try:
        python = _python(paths)
    except ParseError:
        assert staged is None, "the SQL read a page that the Python reading refuses"
        return False
    if staged is None:
        return False
    ours, theirs = _checked(staged), _checked(python)
    assert (ours is None) == (theirs is None), "one reading passes validation, the other fails"
    if ours is None:
        return True
    assert list(ours.columns) == list(theirs.columns)
    for column in theirs.columns:
        a = [_value(v) for v in ours[column].astype(object)]
        b = [_value(v) for v in theirs[column].astype(object)]
        if column in ("date", "decision_date", "first_reported_date"):
            a = [None if v is None else pd.Timestamp(v).date() for v in a]
            b = [None if v is None else pd.Timestamp(v).date() for v in b]
        assert a == b, column
    return True


def _page(flows: list[Any], next_link: str | None = None) -> dict[str, Any]:
    meta = {"language": "en", "count": len(flows)} | ({"nextLink": next_link} if next_link else {})
    return {"status": "ok", "data": {"flows": flows}, "meta": meta}


FLOWS = [UNRWA, UN_WOMEN_SHARED, PLEDGE, INTERNAL]


def test_test_flows_are_read_alike(tmp_path):
    paths = _pages(tmp_path, [_page(FLOWS[:2], "https://x/2"), _page(FLOWS[2:])])
    assert _assert_alike(paths, tmp_path)
    staged = _staged(paths, tmp_path).set_index("flow_id")
    assert staged.loc["194900", "src_location_iso3s"] == "DEU"
    assert staged.loc["194900", "dest_location_iso3s"] == "PSE"


def test_recorded_opt_2020_pages_are_read_alike(tmp_path):
    pages = sorted(RECORDED.glob("flow_locationid=171&year=2020*.json"))
    if not pages:
        pytest.skip(f"no recorded FTS flow pages in {RECORDED}")
    assert _assert_alike(pages, tmp_path)
    assert len(_staged(pages, tmp_path)) > 200


def _fields(flow: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Paths to every value of a flow: its own fields, and the fields of its side objects."""
    paths: list[tuple[Any, ...]] = [(k,) for k in flow]
    for side in fts.SIDES.values():
        for i, obj in enumerate(flow[side]):
            paths += [(side, i, k) for k in obj]
    return paths


HOSTILE = [MISSING, None, True, 1.5, -1, 10**30, "x", "", "2020", [], ["a", None], {"x": 1}]


def test_every_field_given_another_value_is_read_alike_or_left_to_python(tmp_path):
    """Each field of a flow and of its side objects, left out or given a value of another
    type: two values a field in turn (every value with AGGREGATOR_LONG_TESTS=1)."""
    read_by_sql, tried = 0, 0
    for n, path in enumerate(_fields(UNRWA)):
        values = HOSTILE if LONG_TESTS else [HOSTILE[(2 * n + k) % len(HOSTILE)] for k in (0, 1)]
        for value in values:
            flow = copy.deepcopy(UNRWA)
            parent = flow
            for key in path[:-1]:
                parent = parent[key]
            if value is MISSING:
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(value)
            folder = tmp_path / f"{n}-{tried}"
            folder.mkdir()
            read_by_sql += _assert_alike(_pages(folder, [_page([flow, UN_WOMEN_SHARED])]), folder)
            tried += 1
    # Many changes are ones FTS could send (a field left out, a null): the SQL reads those.
    assert 0 < read_by_sql < tried


def test_a_page_without_flows_is_left_to_python(tmp_path):
    paths = _pages(tmp_path, [_page(FLOWS[:1]), {"status": "ok", "data": {}, "meta": {}}])
    assert _staged(paths, tmp_path) is None
    with pytest.raises(ParseError, match="data.flows"):
        _python(paths)


@pytest.mark.parametrize("separator", ["\n", " "], ids=["two lines", "one line"])
def test_a_page_of_two_json_documents_is_left_to_python(tmp_path, separator):
    """FTS sends a page as one JSON document: a body of two, on two lines or one, is not read
    as two pages by DuckDB but refused by the Python reading."""
    path = tmp_path / "page-0.json"
    path.write_text(json.dumps(_page(FLOWS[:1])) + separator + json.dumps(_page(FLOWS[1:2])))
    assert _staged([path], tmp_path) is None
    with pytest.raises(json.JSONDecodeError, match="Extra data"):
        _python([path])


def test_meta_is_read_from_the_end_of_a_page_or_from_the_whole_page(tmp_path):
    """The nextLink found at the end of a page is the one json.loads finds, wherever meta is."""
    last = _page(FLOWS[:1], "https://api.hpc.tools/v1/public/fts/flow?page=2")
    first = {"meta": last["meta"], "data": last["data"]}
    nested = copy.deepcopy(last)
    nested["data"]["flows"][0]["meta"] = {"nextLink": "https://elsewhere"}
    nested = {"meta": {"language": "en"}, "data": nested["data"]}
    for body in (last, first, nested):
        path = tmp_path / "page.json"
        path.write_text(json.dumps(body))
        record = type("Record", (), {"url": "https://api.hpc.tools/x", "source": "fts"})()
        fetched = fts.Fetched(record, path)
        assert fts._meta(fetched) == body["meta"]
