"""Secrets (issue 6, area "secrets"): the keys reach the services and nothing else.

One scenario runs the real `aggregator` command end to end with canary keys, against every
live service played on one loopback server (tests/integration/services.py): a live refresh,
a refresh with --record (the IPC API answering with a redirect whose Location carries the
key), a refresh where the IPC API refuses the key and echoes it back while HAPI is given
its identifier through --hapi-app/--hapi-email, then status, sql on fetches and runs,
compare, report (HTML, XLSX, CSVs) and export --all. It then searches, for every canary
(the two keys, the HAPI email and the identifier built from it): the bytes of every file
written (data directory, reports, recordings, exports, and the commands' stdout and stderr,
which are written to files under tmp_path), the members of every XLSX (zip-compressed), the
rows of every Parquet file and every table and view of the warehouse (DuckDB compresses
strings, so bytes alone would not show them), and the recordings' file names. The observe
fixture searches tmp_path and the captured output once more when the test ends.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from urllib.parse import quote, unquote

import duckdb

from aggregator.connectors.hapi import encode_app_identifier
from tests.conftest import DEMO
from tests.integration.loopback import Reply
from tests.integration.services import serve_all

from .observe import HAPI_CANARY, IPC_CANARY
from .test_hostile_input import AS_OF, cli

HAPI_APP = "canary-app"
EMAIL_CANARY = "canary-7e41@example.org"
IDENTIFIER_CANARY = encode_app_identifier(HAPI_APP, EMAIL_CANARY)
CANARIES = (IPC_CANARY, HAPI_CANARY, EMAIL_CANARY, IDENTIFIER_CANARY)
# Searched for as written and as a URL query carries them ("=" of base64 as %3D, "@" as %40).
SEARCHED = tuple(dict.fromkeys([*CANARIES, *(quote(c, safe="") for c in CANARIES)]))


def _rows_text(con: duckdb.DuckDBPyConnection, query: str) -> str:
    return repr(con.execute(query).fetchall())


def _decoded(path: Path) -> str:
    """What a container format holds, as text: XLSX members, Parquet rows, DuckDB tables."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as book:
            return "".join(book.read(n).decode("utf-8", "replace") for n in book.namelist())
    if path.suffix == ".parquet":
        with duckdb.connect() as con:
            return _rows_text(con, f"select * from read_parquet('{path}')")
    if path.suffix == ".duckdb":
        with duckdb.connect(str(path), read_only=True) as con:
            names = [
                r[0]
                for r in con.execute("select table_name from information_schema.tables").fetchall()
            ]
            return "".join(_rows_text(con, f'select * from "{n}"') for n in names)
    return ""


def _leaks(root: Path) -> tuple[list[str], dict[str, int]]:
    """Canaries in the names, bytes or decoded contents of every file under ``root``."""
    found, searched = [], {"files": 0, "decoded": 0}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        searched["files"] += 1
        raw = path.read_bytes().decode("utf-8", "replace")
        decoded = _decoded(path)
        searched["decoded"] += bool(decoded)
        for canary in SEARCHED:
            for where, text in (("name", str(path)), ("bytes", raw), ("contents", decoded)):
                if canary in text:
                    found.append(f"{path.relative_to(root)} ({where}): {canary}")
    return found, searched


def test_canary_keys_reach_the_services_and_nothing_else(tmp_path, monkeypatch, observe):
    data, logs = tmp_path / "data", tmp_path / "logs"
    record, reports, exported = tmp_path / "recording", tmp_path / "reports", tmp_path / "parquet"
    analyses = (DEMO / "api.ipcinfo.org" / "analyses@type=A.body").read_bytes()
    runs = {}
    with serve_all(data, monkeypatch) as played:
        ipc_base = f"{played.loopback.url}/api.ipcinfo.org"
        runs["refresh"] = cli(data, logs, "refresh")

        def moved(seen, normal):
            # The listing moved, to a Location that carries the key back in its query.
            if seen.path.endswith("/analyses") and "moved" not in seen.target:
                location = f"{ipc_base}/analyses?type=A&moved=1&key={IPC_CANARY}"
                return Reply(302, headers={"Location": location})
            if "moved=1" in seen.target:
                return Reply(200, analyses, {"Content-Type": "application/json"})
            return None

        played.faults["api.ipcinfo.org"] = moved
        runs["refresh --record"] = cli(data, logs, "refresh", "--record", str(record))

        def refused(seen, normal):
            echo = f'{{"error": "invalid key {IPC_CANARY}", "url": "{seen.target}"}}'
            return Reply(401, echo.encode(), {"Content-Type": "application/json"})

        played.faults["api.ipcinfo.org"] = refused
        runs["refresh (IPC key refused, HAPI via --hapi-app)"] = cli(
            data,
            logs,
            "refresh",
            "--source",
            "ipc",
            "--source",
            "hapi",
            "--hapi-app",
            HAPI_APP,
            "--hapi-email",
            EMAIL_CANARY,
        )
        targets = unquote(" ".join(s.target for s in played.loopback.seen()))
    runs["status"] = cli(data, logs, "status")
    runs["sql"] = cli(
        data, logs, "sql", "select * from fetches, runs where fetches.run_id = runs.run_id"
    )
    runs["compare"] = cli(data, logs, "compare", "-f", "json")
    runs["report"] = cli(
        data,
        logs,
        "report",
        "-c",
        "PSE",
        "--as-of",
        AS_OF,
        "--out",
        str(reports),
        "-f",
        "html,xlsx,csv",
    )
    runs["export --all"] = cli(data, logs, "export", "--all", "-f", "parquet", str(exported))

    failing = "refresh (IPC key refused, HAPI via --hapi-app)"
    assert runs["refresh"].code == 0, runs["refresh"]
    assert runs["refresh --record"].code == 0, runs["refresh --record"]
    assert runs[failing].code == 1 and "ipc_api" in runs[failing].err, runs[failing]
    assert "HTTP 401" in runs[failing].err and "key=***" in runs[failing].err, runs[failing]
    for name, run in runs.items():
        if name not in ("refresh", "refresh --record", failing):
            assert run.code == 0, (name, run)
    # The keys were really in use: every canary but the email itself went to the services.
    for canary in (IPC_CANARY, HAPI_CANARY, IDENTIFIER_CANARY):
        assert canary in targets, f"{canary} never sent: the scenario tests nothing"
    recorded = [p for p in record.rglob("*") if p.is_file()]
    assert any(p.name.startswith("analyses@moved=1") for p in recorded), sorted(recorded)[:5]
    assert any("hapi.humdata.org" in p.parts for p in recorded)

    leaks, searched = _leaks(tmp_path)
    printed = [f"{name}: {c}" for name, r in runs.items() for c in SEARCHED if c in r.out + r.err]
    assert not leaks and not printed, (leaks, printed)
    observe.record(
        area="secrets",
        scenario="canary IPC key, HAPI identifier and --hapi-email through refresh (live, "
        "--record with a redirect carrying the key, a 401 echoing the key), status, sql, "
        "compare, report and export --all",
        expected="the keys reach the services and appear in no file (names, bytes, XLSX "
        "members, Parquet rows, warehouse tables), no recording (name, meta, body) and no "
        "output",
        observed=f"{len(runs)} commands (exit codes "
        f"{', '.join(str(r.code) for r in runs.values())}); canaries sent in "
        f"{sum(c in targets for c in CANARIES)} of 4 forms; {searched['files']} files searched "
        f"({searched['decoded']} decoded: XLSX, Parquet, DuckDB), {len(recorded)} in the "
        f"recording; 0 canaries found; the 401 reported as {_line(runs[failing].err, 'ipc_api')!r}",
        rows_lost=0,
    )


def _line(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")[:120]
