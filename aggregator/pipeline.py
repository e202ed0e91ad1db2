"""A refresh: for each source, fetch -> parse -> validate -> publish, each source on its own.

Sources download and parse concurrently in threads; publishing happens one source at a time
in the calling thread, each in its own transaction, so one failing source never stops or
spoils another.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shutil
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from aggregator import warehouse
from aggregator.config import Settings
from aggregator.errors import AggregatorError
from aggregator.export.text import write_csv
from aggregator.http import Fetcher, FetchRecord, make_client
from aggregator.raw import RawStore
from aggregator.redact import redact_text
from aggregator.sources import RefreshOptions, Source
from aggregator.staging import CastFailed, Staged
from aggregator.validate import REJECT_COLUMNS, Validation, count, validate, validate_text
from schemas.meta import Fetches

log = logging.getLogger("aggregator.refresh")
FETCH_COLUMNS = list(Fetches.to_schema().columns)


@dataclass
class SourceResult:
    source: str
    outcome: str = "failed"
    message: str | None = None
    facts: dict[str, pd.DataFrame] = field(default_factory=dict)
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    fetches: list[FetchRecord] = field(default_factory=list)
    rows: int = 0  # fact rows written

    @property
    def warnings(self) -> int:
        return count(self.rejects, "warning")

    @property
    def rejected(self) -> int:
        return count(self.rejects, "error")

    @property
    def not_modified(self) -> int:
        return sum(r.not_modified for r in self.fetches)


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def refresh(
    sources: list[Source],
    options: RefreshOptions,
    *,
    record: Path | None = None,
    replay: Path | None = None,
    on_event=None,
    on_result=None,
) -> list[SourceResult]:
    settings = options.settings
    mode = "replay" if replay else "record" if record else "live"
    run_id = new_run_id()
    started = datetime.now(UTC)
    results: list[SourceResult] = []
    with warehouse.refresh_lock(settings.warehouse):
        # Stages of a refresh that was killed are of no use: this one starts clean.
        shutil.rmtree(settings.staging_dir, ignore_errors=True)
        options = dataclasses.replace(options, staging_dir=settings.staging_dir / run_id)
        known = warehouse.validators(settings.warehouse, [s.name for s in sources])
        raw = RawStore(settings.raw_dir)
        with (
            make_client(settings.http, record=record, replay=replay) as client,
            # One thread per source: they mostly wait on the network, so a slow service
            # delays only its own sources.
            ThreadPoolExecutor(max_workers=max(1, len(sources))) as pool,
        ):
            futures = {}
            for source in sources:
                fetcher = Fetcher(
                    client,
                    source=source.name,
                    run_id=run_id,
                    raw=raw,
                    settings=settings.http,
                    validators=known[source.name],
                    on_event=on_event,
                )
                futures[pool.submit(_run_source, source, fetcher, options, run_id, mode)] = source
            # The sources download while the warehouse is brought up to date for publishing.
            try:
                warehouse.prepare(settings.warehouse)
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise

            def done(result: SourceResult) -> None:
                log.info("%s: %s %s", result.source, result.outcome, result.message or "")
                results.append(result)
                if on_result:
                    on_result(result)

            unpublished = []
            for future in as_completed(futures):
                result = future.result()
                if result.outcome != "published":
                    unpublished.append(result)  # recorded together, below
                    continue
                _publish(result, run_id, started, mode, settings)
                done(result)
            _record(unpublished, run_id, started, mode, settings)
            for result in unpublished:
                done(result)
        shutil.rmtree(options.staging_dir, ignore_errors=True)
    return sorted(results, key=lambda r: r.source)


def _run_source(
    source: Source, fetcher: Fetcher, options: RefreshOptions, run_id: str, mode: str
) -> SourceResult:
    result = SourceResult(source.name, fetches=fetcher.records)
    if source.key_env and mode != "replay" and not options.settings.key(source.key_env):
        result.outcome = "skipped"
        result.message = f"{source.key_env} is not set: {source.key_help}"
        return result
    try:
        tables = source.extract(fetcher, options)
    except AggregatorError as exc:
        result.message = redact_text(str(exc))
        return result
    except Exception as exc:  # a bug or an unforeseen shape: fail this source, keep the others
        log.error("%s: unexpected error\n%s", source.name, redact_text(traceback.format_exc()))
        result.message = redact_text(f"unexpected {type(exc).__name__}: {exc}")
        return result
    # A download that failed and was retried another way (an expired signed link) is no change.
    data = [r for r in fetcher.records if not r.catalogue and r.error is None]
    if data and all(r.not_modified for r in data):
        result.outcome = "not_modified"
        result.message = "no file changed since the last good refresh: tables left as they were"
        return result
    # Staged rows are checked where the warehouse loads them (aggregator.staging).
    frames = {name: t for name, t in tables.items() if not isinstance(t, Staged)}
    checked = [validate(name, t, run_id=run_id, source=source.name) for name, t in frames.items()]
    result.rejects = pd.concat([c.rejects for c in checked], ignore_index=True)
    failed = [c for c in checked if c.data is None]
    if failed:
        result.message = _failures(failed)
        return result
    result.facts = {name: tables[name] for name in source.tables} | {
        c.table: c.data for c in checked
    }
    result.outcome = "published"
    return result


def _failures(failed: list[Validation]) -> str:
    return "; ".join(f"{c.table}: {c.errors} failure case(s)" for c in failed)


def _write_rejects(result: SourceResult, folder: Path) -> None:
    if result.rejects.empty:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for table, cases in result.rejects.groupby("table_name"):
        # Rejected values come from the payload: written like every export, formula-safe.
        write_csv(cases, folder / f"{result.source}.{table}.csv")
    if result.outcome == "failed":
        result.message = f"{result.message} (see {folder})"


def _publish(
    result: SourceResult, run_id: str, started: datetime, mode: str, settings: Settings
) -> None:
    """Publishes a result with facts. Staged rows that fail their checks as they load turn it
    into a failure, recorded with its rejects and without its facts."""
    folder = settings.rejects_dir / run_id
    try:
        try:
            run, fetches = _run_row(result, run_id, started, mode)
            published = warehouse.publish(
                settings.warehouse,
                facts=result.facts,
                run=run,
                fetches=fetches,
                rejects=result.rejects,
            )
        except (warehouse.Refused, CastFailed) as refused:
            _refuse(result, refused, run_id)
            _record([result], run_id, started, mode, settings)
            return
    except (AggregatorError, OSError, RuntimeError) as exc:
        result.outcome = "failed"
        result.message = redact_text(f"could not publish to {settings.warehouse}: {exc}")
        return
    result.rows = sum(published.rows.values())
    result.rejects = published.rejects
    _write_rejects(result, folder)


def _record(
    results: list[SourceResult], run_id: str, started: datetime, mode: str, settings: Settings
) -> None:
    """Records the runs of results without facts (unchanged, failed, skipped) together."""
    for result in results:
        _write_rejects(result, settings.rejects_dir / run_id)
    runs = [(*_run_row(r, run_id, started, mode), r.rejects) for r in results]
    try:
        warehouse.record_runs(settings.warehouse, runs)
    except (AggregatorError, OSError, RuntimeError) as exc:
        for result in results:
            result.outcome = "failed"
            result.message = redact_text(f"could not publish to {settings.warehouse}: {exc}")


def _refuse(result: SourceResult, refused: Exception, run_id: str) -> None:
    """The failure of staged rows: their checks, or for a value that did not cast, the checks
    on the rows read as text (or the connector's ParseError when even that fails)."""
    result.outcome = "failed"
    try:
        checks = (
            refused.checks
            if isinstance(refused, warehouse.Refused)
            else [
                validate_text(table, str(refused), run_id=run_id, source=result.source)
                for table in result.facts.values()
                if isinstance(table, Staged)
            ]
        )
    except AggregatorError as exc:
        result.message = redact_text(str(exc))
        return
    result.message = _failures([c for c in checks if c.data is None])
    result.rejects = pd.concat(
        [result.rejects, *(c.rejects for c in checks if len(c.rejects))], ignore_index=True
    )


def _run_row(
    result: SourceResult, run_id: str, started: datetime, mode: str
) -> tuple[dict, pd.DataFrame]:
    """The run row of a result (its counts are set as it is written) and its fetches."""
    fetches = pd.DataFrame([asdict(r) for r in result.fetches], columns=FETCH_COLUMNS)
    run = {
        "run_id": run_id,
        "source": result.source,
        "started_at": started,
        "finished_at": datetime.now(UTC),
        "outcome": result.outcome,
        "requests": len(result.fetches),
        "not_modified": result.not_modified,
        "message": result.message,
        "mode": mode,
    }
    return run, fetches
