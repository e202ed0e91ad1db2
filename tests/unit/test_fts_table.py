"""FTS flows at scale: the page-by-page table and the fast reading of FTS times.

FlowTable packs the flows of many pages into typed Arrow columns as it goes; the frame it
gives must be the one pandas builds from the same rows all at once (DataFrame.from_records,
as the connector did before), whatever the payload holds: a column with a value of another
type than the usual one (a versionId sent as text, a status sent as a number) stays Python
objects for pandas to type. FTS times in their own form (``2020-07-09T12:01:56.043Z``) are
read without pandas; they must read as pandas reads them, and fail where pandas fails.
"""

from __future__ import annotations

import copy
import gc
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.connectors import collector, fts
from aggregator.errors import ParseError

FLOW: dict[str, Any] = {
    "id": "194900",
    "amountUSD": 28068393,
    "status": "paid",
    "boundary": "incoming",
    "onBoundary": "single",
    "versionId": 3,
    "newMoney": True,
    "originalAmount": 25261554,
    "originalCurrency": "EUR",
    "exchangeRate": 0.9,
    "date": "2020-02-13T00:00:00Z",
    "createdAt": "2020-02-14T10:03:11.000Z",
    "updatedAt": "2020-07-09T12:01:56.043Z",
    "keywords": ["Multiyear"],
    "sourceObjects": [
        {"type": "Organization", "id": "4306", "name": "Germany, Government of"},
        {"type": "Location", "id": "83", "name": "Germany"},
        {"type": "UsageYear", "id": "41", "name": "2020"},
    ],
    "destinationObjects": [
        {"type": "Location", "id": "171", "name": "occupied Palestinian territory"},
        {"type": "Plan", "id": "832", "name": "oPt 2020"},
    ],
}
QUERY = fts.Query("countryISO3=PSE&year=2020", "PSE", 2020)
URL = "https://api.hpc.tools/v1/public/fts/flow?countryISO3=PSE&year=2020"

# Values of each field as FTS sends them, and of other types, which pass through as they came.
VARIANTS = {
    "versionId": [3, None, "3", 3.0, True, 2**70],
    "newMoney": [True, False, None, 1],
    "status": ["paid", "pledge", 5, None],
    "originalCurrency": ["EUR", None, 7],
    "description": [None, "Food assistance", ["a"]],
    "originalAmount": [25261554, None, 1.5],
    "exchangeRate": [0.9, None],
    "decisionDate": [None, "2019-12-18T00:00:00Z"],
    "createdAt": ["2020-02-14T10:03:11.000Z", None, "2020-02-14T12:03:11+02:00"],
    "parentFlowId": [None, 190286, "190286"],
    "sourceObjects": [FLOW["sourceObjects"], [], None],
}


def _reference(pages: list[tuple[list[dict[str, Any]], str]]) -> pd.DataFrame:
    """The frame as the connector built it before: one dict per flow, from_records."""
    rows = []
    for flows, fetch_id in pages:
        for flow in flows:
            row = dict(zip(fts.FLOW_FIELDS, fts._flow_values(flow), strict=True))
            row |= {
                "source": "fts",
                "query_key": QUERY.key,
                "query_iso3": QUERY.iso3,
                "query_year": QUERY.year,
                "fetch_id": fetch_id,
            }
            rows.append(row)
    return pd.DataFrame.from_records(rows, columns=fts.FLOW_COLUMNS)


@settings(max_examples=60)
@given(
    st.lists(
        st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in VARIANTS.items()})),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from([1, 2, 3, 1000]),
)
def test_frame_is_what_pandas_makes_of_the_same_rows(pages, chunk_rows):
    """Whatever the values and wherever the chunks end, the frame equals from_records'."""
    table = fts.FlowTable(chunk_rows=chunk_rows)
    served = []
    for number, changes in enumerate(pages):
        flows = [
            {**copy.deepcopy(FLOW), "id": str(1000 * number + i), **c}
            for i, c in enumerate(changes)
        ]
        table.add_page({"data": {"flows": flows}}, URL, f"run/fts/{number}", QUERY)
        served.append((flows, f"run/fts/{number}"))
    pd.testing.assert_frame_equal(table.frame(), _reference(served))


@pytest.mark.parametrize("chunk_rows", [1, 1000])
@pytest.mark.parametrize(
    "field, values",
    [
        ("versionId", [3, 3.0]),
        ("versionId", [3, "3"]),
        ("versionId", [1, 2**70]),
        ("newMoney", [True, 1]),
        ("status", ["paid", 5]),
        ("description", ["Food assistance", ["a"]]),
        ("exchangeRate", [0.9, float("nan")]),
    ],
)
def test_a_value_of_another_type_is_typed_by_pandas(field, values, chunk_rows):
    """One odd value, in a chunk of its own or not, gives the column pandas gives it."""
    flows = [{**FLOW, "id": str(i), field: v} for i, v in enumerate(values)]
    table = fts.FlowTable(chunk_rows=chunk_rows)
    table.add_page({"data": {"flows": flows}}, URL, "run/fts/1", QUERY)
    pd.testing.assert_frame_equal(table.frame(), _reference([(flows, "run/fts/1")]))


def test_columns_are_typed_and_empty_ones_left_as_objects():
    """Across chunks: text as str, counts as int64, times as datetime64; no value, objects."""
    table = fts.FlowTable(chunk_rows=2)
    for page in range(3):
        flows = [{**FLOW, "id": f"{page}{i}"} for i in range(3)]
        table.add_page({"data": {"flows": flows}}, URL, f"run/fts/{page}", QUERY)
    frame = table.frame()
    assert len(frame) == 9 and list(frame.columns) == fts.FLOW_COLUMNS
    assert frame["flow_id"].tolist() == [f"{p}{i}" for p in range(3) for i in range(3)]
    assert frame["fetch_id"].tolist() == [f"run/fts/{p}" for p in range(3) for _ in range(3)]
    assert frame["flow_id"].dtype == "str" and frame["version"].dtype == "int64"
    assert frame["updated_at"].dtype == "datetime64[us]"
    assert frame["description"].dtype == object and frame["description"].isna().all()


def test_no_flow_gives_the_empty_frame():
    table = fts.FlowTable()
    table.add_page({"data": {"flows": []}}, URL, "run/fts/1", QUERY)
    pd.testing.assert_frame_equal(
        table.frame(), pd.DataFrame.from_records([], columns=fts.FLOW_COLUMNS)
    )


def test_malformed_flow_after_packed_chunks_names_its_page_and_index():
    """Chunks packed earlier do not shift the index a ParseError gives."""
    table = fts.FlowTable(chunk_rows=1)
    table.add_page({"data": {"flows": [FLOW, FLOW]}}, URL, "run/fts/1", QUERY)
    bad = {**FLOW, "id": "77", "sourceObjects": [{"type": "UsageYear", "name": "twenty"}]}
    with pytest.raises(ParseError) as err:
        table.add_page({"data": {"flows": [FLOW, bad]}}, f"{URL}&page=2", "run/fts/2", QUERY)
    assert err.value.where == f"{URL}&page=2 flow 1 (id 77)"
    assert "invalid literal for int()" in err.value.detail


def _pandas_time(text: str):
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


@pytest.mark.filterwarnings("ignore:Discarding nonzero nanoseconds")
@settings(max_examples=300)
@given(
    st.one_of(
        st.from_regex(
            r"(19|20|21)[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z",
            fullmatch=True,
        ),
        st.from_regex(
            r"20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\.[0-9]{1,9})?"
            r"(Z|[+-][01][0-9]:[0-5][0-9])?",
            fullmatch=True,
        ),
    )
)
def test_fts_times_read_as_pandas_reads_them(text):
    """Each time is the UTC time pandas reads, or refused where pandas refuses it."""
    try:
        expected = _pandas_time(text)
    except ValueError:
        with pytest.raises(ValueError, match="createdAt is not an ISO timestamp"):
            fts._timestamp(text, "createdAt")
        return
    assert fts._timestamp(text, "createdAt") == expected


def test_collector_pause_leaves_the_collector_as_it_was():
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ParseError), collector.paused():
        raise ParseError("fts", URL, "a bad page")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()  # off before, off after
    finally:
        gc.enable()
