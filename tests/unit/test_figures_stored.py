"""The figures view: IPC figures worked out from ipc_phases on read (ipc_figures()), the other
sources' figures stored (figures_stored), each publish replacing its source's stored rows in its
own transaction, and a refresh of a warehouse built before them, or by other SQL, rebuilding
them from the fact tables. On real DuckDB files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from aggregator import warehouse
from aggregator.ddl import columns_of
from aggregator.errors import WarehouseError
from schemas import TABLES
from tests.unit.test_warehouse import (
    AF_EAST,
    GAZA,
    NO_REJECTS,
    _facts,
    _fetch,
    _fetches,
    _publish,
    _query,
    _run,
)

FIGURES = "select * from figures order by all"
PSE_PHASE5 = (
    "select source, value, fetch_id from figures "
    "where geo = 'PSE' and metric = 'ipc.phase5.people' order by source"
)


@pytest.fixture
def wh(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data" / "warehouse.duckdb"


def _revised(analysis, **populations: int):
    """The same analysis with other figures for some phases, as a re-analysis publishes them."""
    *head, figures = analysis
    return (*head, {**figures, **populations})


def _computed(path: Path) -> list[tuple]:
    """What the figures SQL gives from the fact tables now, ignoring what is stored."""
    return _query(
        path,
        "select * from figures_of(null) "
        "union all select * exclude (phases_row) from ipc_figures() order by all",
    )


def _casualties(*days: tuple[str, int], fetch_id: str = "r1/casualties/1") -> pd.DataFrame:
    """A casualties_daily frame with cumulative killed counts only, validated."""
    frame = pd.DataFrame(
        [
            {
                "report_date": pd.Timestamp(day),
                "report_source": "mohtel",
                "killed_cum": killed,
                "killed_cum_gap_filled": False,
                "source": "casualties",
                "fetch_id": fetch_id,
            }
            for day, killed in days
        ]
    )
    for column in columns_of(TABLES["casualties_daily"]):
        if column not in frame:
            frame[column] = None
    return TABLES["casualties_daily"].model.validate(frame)


KILLED = (
    "select period_start, value, fetch_id from figures "
    "where metric = 'casualties.killed.cumulative' order by all"
)


def test_figures_follow_a_republished_vintage(wh):
    """Republishing an analysis with a revised figure and a phase dropped replaces its stored
    figures; the other analysis's figures stay as they were."""
    _publish(wh, "r1", _facts(GAZA))
    _publish(wh, "r2", _facts(AF_EAST))
    afghanistan = _query(wh, "select * from figures where geo = 'AFG' order by all")
    assert _query(wh, PSE_PHASE5) == [("ipc_api", 342719.0, "r1/ipc_api/2")]

    revised = _facts(_revised(GAZA, **{"5": 400000}), fetch_id="r3/ipc_api/2")
    revised["ipc_phases"] = revised["ipc_phases"][revised["ipc_phases"]["phase"] != "1"]
    _publish(wh, "r3", revised)

    assert _query(wh, PSE_PHASE5) == [("ipc_api", 400000.0, "r3/ipc_api/2")]
    assert _query(
        wh, "select count(*) from figures where geo = 'PSE' and metric like 'ipc.phase1.%'"
    ) == [(0,)]
    assert _query(wh, "select * from figures where geo = 'AFG' order by all") == afghanistan
    assert _query(wh, FIGURES) == _computed(wh)


def test_a_publish_replaces_only_its_own_sources_figures(wh):
    """The same analysis from IPC on HDX, revised, leaves the IPC API's figures alone."""
    _publish(wh, "r1", _facts(GAZA))
    _publish(wh, "r2", _facts(GAZA, source="ipc_hdx", fetch_id="r2/ipc_hdx/1"), source="ipc_hdx")
    revised = _facts(_revised(GAZA, **{"5": 1}), source="ipc_hdx", fetch_id="r3/ipc_hdx/1")
    _publish(wh, "r3", revised, source="ipc_hdx")
    assert _query(wh, PSE_PHASE5) == [
        ("ipc_api", 342719.0, "r1/ipc_api/2"),
        ("ipc_hdx", 1.0, "r3/ipc_hdx/1"),
    ]
    assert _query(wh, FIGURES) == _computed(wh)


def test_a_failed_publish_keeps_the_old_figures(wh):
    """A publish that fails midway leaves the stored figures as they were, like the facts."""
    _publish(wh, "r1", _facts(GAZA))
    before = _query(wh, FIGURES)
    broken = _facts(_revised(GAZA, **{"5": 400000}), fetch_id="r2/ipc_api/2")
    broken["ipc_phases"] = broken["ipc_phases"].assign(population="not a number")
    with pytest.raises(WarehouseError, match="nothing written"):
        _publish(wh, "r2", broken)
    assert _query(wh, FIGURES) == before
    assert _query(wh, PSE_PHASE5) == [("ipc_api", 342719.0, "r1/ipc_api/2")]


def test_a_publish_whose_figures_fail_writes_nothing(wh):
    """Storing the figures is part of the source's one transaction: when it fails (here the
    figures SQL is gone), the facts, the figures and the run row stay as they were."""
    _publish(wh, "r1", _facts(GAZA))
    before = {t: _query(wh, f"select * from {t} order by all") for t in ("ipc_phases", "figures")}
    with duckdb.connect(str(wh)) as con:
        con.execute("drop macro table figures_of")
    with pytest.raises(WarehouseError, match="nothing written"):
        warehouse.publish(
            wh,
            facts=_facts(_revised(GAZA, **{"5": 400000}), fetch_id="r2/ipc_api/2"),
            run=_run("r2"),
            fetches=_fetches(_fetch("r2", 1, "https://api.ipcinfo.org/analyses?type=A")),
            rejects=NO_REJECTS,
        )
    assert {t: _query(wh, f"select * from {t} order by all") for t in before} == before
    assert _query(wh, "select run_id from runs") == [("r1",)]


def test_a_run_without_new_facts_keeps_the_figures(wh):
    """A run that published no fact rows (not modified) leaves the source's figures."""
    _publish(wh, "r1", _facts(GAZA))
    before = _query(wh, FIGURES)
    _publish(wh, "r2", {}, outcome="not_modified")
    assert _query(wh, FIGURES) == before
    assert len(before) == 13  # people for 7 phases, shares for 6


def test_ipc_figures_are_worked_out_on_read_not_stored(wh):
    """IPC figures are not copied at publish: figures_stored holds none, and a change to an
    ipc_phases row shows in the figures at once."""
    _publish(wh, "r1", _facts(GAZA))
    assert _query(wh, "select count(*) from figures_stored where source = 'ipc_api'") == [(0,)]
    with duckdb.connect(str(wh)) as con:
        con.execute("update ipc_phases set population = 1 where phase = '5' and period = 'current'")
    assert _query(wh, PSE_PHASE5) == [("ipc_api", 1.0, "r1/ipc_api/2")]


def test_stored_figures_follow_their_source(wh):
    """A publish of casualties stores its figures; the next publish replaces them whole."""
    _publish(
        wh, "r1", {"casualties_daily": _casualties(("2024-03-21", 31988))}, source="casualties"
    )
    assert _query(wh, KILLED) == [(date(2024, 3, 21), 31988.0, "r1/casualties/1")]
    later = _casualties(("2024-03-21", 31988), ("2024-03-22", 32070), fetch_id="r2/casualties/1")
    _publish(wh, "r2", {"casualties_daily": later}, source="casualties")
    assert _query(wh, KILLED) == [
        (date(2024, 3, 21), 31988.0, "r2/casualties/1"),
        (date(2024, 3, 22), 32070.0, "r2/casualties/1"),
    ]
    assert _query(wh, FIGURES) == _computed(wh)


def test_prepare_upgrades_a_warehouse_whose_figures_were_a_view(wh):
    """A warehouse of an earlier version (figures a view computed on read, no stored rows)
    gets the stored figures by the next refresh's prepare, and the same figures as before."""
    _publish(wh, "r1", _facts(GAZA))
    _publish(
        wh, "r2", {"casualties_daily": _casualties(("2024-03-22", 32070))}, source="casualties"
    )
    with duckdb.connect(str(wh)) as con:
        con.execute("drop table figures_stored")
        con.execute("create or replace view figures as select * from figures_of(null)")
    assert _query(wh, KILLED) == [(date(2024, 3, 22), 32070.0, "r1/casualties/1")]

    warehouse.prepare(wh)

    assert _query(wh, "select metric, value from figures_stored") == [
        ("casualties.killed.cumulative", 32070.0)
    ]
    assert len(_query(wh, FIGURES)) == 14  # and 13 IPC figures, worked out on read
    assert _query(wh, FIGURES) == _computed(wh)


def test_prepare_rebuilds_figures_stored_by_other_sql(wh):
    """Stored figures made by other SQL (an older version) are rebuilt from the fact tables;
    made by this SQL, prepare leaves them as they are."""
    _publish(
        wh, "r1", {"casualties_daily": _casualties(("2024-03-22", 32070))}, source="casualties"
    )
    with duckdb.connect(str(wh)) as con:
        # A fact row no publish stored: only a rebuild makes figures of it.
        con.execute("update casualties_daily set killed_cum = 1")
    warehouse.prepare(wh)
    assert _query(wh, KILLED) == [(date(2024, 3, 22), 32070.0, "r1/casualties/1")]

    with duckdb.connect(str(wh)) as con:
        con.execute("comment on table figures_stored is 'made by an older version'")
    warehouse.prepare(wh)
    assert _query(wh, KILLED) == [(date(2024, 3, 22), 1.0, "r1/casualties/1")]
    assert _query(wh, FIGURES) == _computed(wh)
