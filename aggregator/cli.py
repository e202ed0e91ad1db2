"""The `aggregator` command. Heavy libraries are imported inside the commands, so that
`aggregator --help` stays instant."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from aggregator import __version__

app = typer.Typer(
    help="Official food-security and aid figures (IPC, UN OCHA) in a DuckDB warehouse, with "
    "the provenance of every number. Start with `aggregator refresh`, then `aggregator status` "
    "and `aggregator sql`.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

WarehouseOption = Annotated[
    Path | None,
    typer.Option(
        "--warehouse",
        help="DuckDB file (default: $AGGREGATOR_WAREHOUSE or data/warehouse.duckdb).",
        show_default=False,
    ),
]


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _fail(message: str, code: int = 1) -> typer.Exit:
    from aggregator.redact import redact_text

    typer.echo(f"error: {redact_text(message)}", err=True)
    return typer.Exit(code)


def _busy(exc: Exception, warehouse: Path) -> str | None:
    """What to tell a reader that DuckDB turned away because a process writes the warehouse.

    DuckDB lets no reader open a file that a writer holds (a refresh holds it while it
    publishes); its lock error names the holder's PID, which the refresh lock file maps to a
    refresh. None for any other error.
    """
    import re

    import duckdb

    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if not isinstance(cause, duckdb.IOException) or "Could not set lock" not in str(cause):
        return None
    found = re.search(r"\(PID (\d+)\)", str(cause))
    pid = found.group(1) if found else None
    try:
        holder = warehouse.with_name(warehouse.name + ".lock").read_text().strip()
    except OSError:
        holder = ""
    if pid and holder.startswith(f"pid {pid} "):
        who = f"a refresh ({holder})"
    else:
        who = f"another process (PID {pid})" if pid else "another process"
    return (
        f"the warehouse {warehouse} is being written by {who}; DuckDB lets no reader in "
        "meanwhile: retry when it has finished"
    )


def _check_output(path: Path | None, option: str, settings) -> None:
    """Refuses an output path that names the warehouse (or its WAL or lock file) or lies in
    the raw store: a slip in -o would replace the data every output is made from."""
    if path is None:
        return
    target = path.resolve()
    warehouse = settings.warehouse.resolve()
    if target.parent == warehouse.parent and target.name.startswith(warehouse.name):
        raise _fail(
            f"{option} {path} is the warehouse {settings.warehouse}: choose another path", 2
        )
    if target.is_relative_to(settings.raw_dir.resolve()):
        raise _fail(f"{option} {path} is inside the raw store {settings.raw_dir}", 2)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"foodsec-aggregator {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    pass


@app.command()
def refresh(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "-s",
            help="Source to refresh (repeatable; default: every source). 'ipc' is the IPC API.",
        ),
    ] = None,
    country: Annotated[
        list[str] | None,
        typer.Option(
            "--country",
            "-c",
            help="Country, ISO2 or ISO3 (repeatable; default: every country the source has).",
        ),
    ] = None,
    record: Annotated[
        Path | None, typer.Option(help="Also save every response under DIR, for later --replay.")
    ] = None,
    replay: Annotated[
        Path | None,
        typer.Option(help="Serve responses from a recording in DIR instead of the network."),
    ] = None,
    warehouse: WarehouseOption = None,
    hapi_app: Annotated[
        str | None,
        typer.Option(
            "--hapi-app",
            help="Application name for the HDX HAPI app identifier (with --hapi-email; "
            "instead of HDX_HAPI_APP_IDENTIFIER).",
        ),
    ] = None,
    hapi_email: Annotated[
        str | None,
        typer.Option(
            "--hapi-email", help="Email for the HDX HAPI app identifier (with --hapi-app)."
        ),
    ] = None,
    claims: Annotated[
        list[Path] | None,
        typer.Option(
            "--claims",
            help="A claims file to load besides data/claims/*.csv (repeatable).",
        ),
    ] = None,
) -> None:
    """Download, validate and publish sources into the warehouse.

    Each source is published whole or not at all; a failing source leaves its previous tables
    untouched and the others go on. Unchanged downloads (HTTP 304) cost no body and publish
    nothing. Exit status: 0 when every source succeeded or was unchanged, 1 when any failed
    (or a source you asked for by name was skipped for want of a key), 2 on bad usage.

    Sources: ipc_api, ipc_hdx, hapi, fts, unrwa_trucks, casualties, reference, claims; `ipc` means
    the IPC API when IPC_API_KEY is set and IPC's HDX mirror otherwise. Keys come from the
    environment (IPC_API_KEY, HDX_HAPI_APP_IDENTIFIER); base URLs from IPC_API_URL, HDX_URL,
    HAPI_URL, FTS_URL and CASUALTIES_URL.
    """
    import dataclasses

    from rich.console import Console

    from aggregator.config import load_settings
    from aggregator.connectors.hapi import encode_app_identifier
    from aggregator.errors import AggregatorError, ConfigError
    from aggregator.geo import iso2_from_code
    from aggregator.pipeline import refresh as run_refresh
    from aggregator.progress import Reporter
    from aggregator.redact import register_secret
    from aggregator.sources import RefreshOptions, resolve

    try:
        settings = load_settings(warehouse)
        if hapi_app is not None or hapi_email is not None:  # HAPI's base64("app:email")
            if not hapi_app or not hapi_email:
                raise ConfigError("--hapi-app and --hapi-email go together")
            register_secret(hapi_email)
            hapi_identifier = encode_app_identifier(hapi_app, hapi_email)
            register_secret(hapi_identifier)
            keys = {**settings.keys, "HDX_HAPI_APP_IDENTIFIER": hapi_identifier}
            settings = dataclasses.replace(settings, keys=keys)
        chosen = resolve(source or [], ipc_key=bool(settings.key("IPC_API_KEY") or replay))
        countries = sorted({iso2_from_code(c) for c in country or []})
    except (AggregatorError, KeyError) as exc:
        raise _fail(str(exc).strip('"'), 2) from None
    try:
        _log_to_file(settings.log_file)
        with Reporter() as reporter:
            results = run_refresh(
                chosen,
                RefreshOptions(
                    settings=settings, countries=countries, claims_files=list(claims or [])
                ),
                record=record,
                replay=replay,
                on_event=reporter.on_event,
            )
    except AggregatorError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # the data directory read-only, the disk full
        folders = dict.fromkeys(str(p) for p in (settings.data_dir, settings.warehouse.parent))
        where = exc.filename or f"in {' or '.join(folders)}"
        raise _fail(f"cannot write {where}: {exc.strerror or exc}") from None
    Console().print(reporter.summary(results))
    typer.echo(f"warehouse: {settings.warehouse}  log: {settings.log_file}")
    failed = [r for r in results if r.outcome == "failed" or (source and r.outcome == "skipped")]
    for result in failed:  # unwrapped, for logs of scheduled runs
        typer.echo(f"error: {result.source} {result.outcome}: {result.message}", err=True)
    if failed:
        raise typer.Exit(1)


@app.command()
def status(warehouse: WarehouseOption = None) -> None:
    """Each source's last refresh, last success, freshness and row counts."""
    from rich.console import Console
    from rich.table import Table

    from aggregator.config import load_settings
    from aggregator.errors import AggregatorError
    from aggregator.status import source_status, table_status

    settings = load_settings(warehouse)
    try:
        sources, tables = source_status(settings.warehouse), table_status(settings.warehouse)
    except AggregatorError as exc:
        raise _fail(_busy(exc, settings.warehouse) or str(exc)) from None
    console = Console()
    view = Table(title=f"Sources in {settings.warehouse}")
    for column in ("source", "last run", "outcome", "last success", "age", "rows", "message"):
        view.add_column(column)
    for row in sources:
        view.add_row(*("" if v is None else str(v) for v in row))
    console.print(view)
    counts = Table(title="Tables")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, n in tables:
        counts.add_row(name, f"{n:,}")
    console.print(counts)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A SQL query (DuckDB dialect) on the warehouse.")],
    format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
    warehouse: WarehouseOption = None,
) -> None:
    """Run a read-only SQL query on the warehouse and print the result.

    Example: aggregator sql "select phase, population from ipc_phases where level = 'national'"
    """
    import duckdb

    from aggregator.config import load_settings
    from aggregator.errors import AggregatorError
    from aggregator.warehouse import read_only, require

    settings = load_settings(warehouse)
    try:
        require(settings.warehouse)
    except AggregatorError as exc:
        raise _fail(str(exc)) from None
    try:
        with read_only(settings.warehouse) as con:
            cursor = con.execute(query)
            columns = [d[0] for d in cursor.description or []]
            rows = cursor.fetchall()
    except (duckdb.Error, AggregatorError) as exc:
        raise _fail(_busy(exc, settings.warehouse) or f"query failed: {exc}") from None
    from aggregator.output import write_rows

    write_rows(columns, rows, format.value, sys.stdout)


class CompareFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    claimreview = "claimreview"


@app.command()
def compare(
    claims: Annotated[
        Path | None,
        typer.Option(
            "--claims",
            help="Check the claims of this file instead of those loaded by the last refresh.",
        ),
    ] = None,
    country: Annotated[
        str | None,
        typer.Option(
            "--country", "-c", help="Only claims about this country (ISO3, ISO2 or name)."
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Show the newest official figure known on this day (YYYY-MM-DD; default today). "
            "Each claim is always judged on the figure known on its own date.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        CompareFormat,
        typer.Option(
            "--format",
            "-f",
            help="table (the verdicts, to read), csv or json (every column of claim_checks), "
            "claimreview (schema.org ClaimReview JSON-LD, as fact-checkers publish).",
        ),
    ] = CompareFormat.table,
    reviewer: Annotated[
        str,
        typer.Option(help="Organisation named as the author of ClaimReview output."),
    ] = "foodsec-aggregator",
    warehouse: WarehouseOption = None,
) -> None:
    """Check press claims against the official figures known on the claim's date.

    For each claim: the matched official figure (for IPC, the period in force on the claim's
    date, with the other period of the same analysis beside it), the newest figure known now,
    the claim's range and the tolerance used, the difference, and a verdict: consistent,
    overstates, understates, matches_other_period, outdated or no_official_figure. The rules
    are in docs/methodology.md.
    """
    import json
    from datetime import date

    from aggregator import compare as checks
    from aggregator.config import load_settings
    from aggregator.errors import AggregatorError
    from aggregator.geo import country as resolve_country
    from aggregator.output import write_rows

    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise _fail(f"--as-of must be a date as YYYY-MM-DD, got {as_of!r}", 2) from None
    try:
        iso3 = resolve_country(country).iso3 if country else None
        settings = load_settings(warehouse)
        results = checks.claim_checks(
            settings.warehouse, as_of=day, country=iso3, claims_file=claims
        )
    except (AggregatorError, LookupError) as exc:
        raise _fail(str(exc).strip('"')) from None
    if format is CompareFormat.claimreview:
        reviews = checks.claimreview(results, reviewer=reviewer, reviewed_on=day)
        typer.echo(json.dumps(reviews, indent=1, ensure_ascii=False))
    elif format is CompareFormat.table:
        columns, rows = checks.summary(results)
        write_rows(columns, rows, "table", sys.stdout)
    else:
        from aggregator.export.cells import rows

        write_rows(list(results.columns), rows(results), format.value, sys.stdout)


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"
    parquet = "parquet"


@app.command()
def export(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="TABLE_OR_VIEW|DIR",
            help="Table or view to export (see `aggregator schema`); with --all, the directory "
            "to write.",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ExportFormat.csv,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (default for csv and json: standard output; xlsx and parquet "
            "need it).",
            show_default=False,
        ),
    ] = None,
    all_tables: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Every table and view as Parquet partitioned by source and country, with a "
            "datapackage.json, in the directory given.",
        ),
    ] = False,
    hxl: Annotated[
        bool, typer.Option("--hxl", help="csv: add an HXL hashtag row under the header.")
    ] = False,
    excel: Annotated[
        bool,
        typer.Option("--excel", help="csv: start with a byte-order mark so Excel reads UTF-8."),
    ] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Export a table or view as CSV, XLSX, JSON or Parquet, or everything as Parquet.

    CSV cells that a spreadsheet could run as a formula (text starting with = + - @) start
    with an apostrophe; numbers stay numbers. XLSX has a README sheet (what each sheet holds,
    the sources' licences) and a Provenance sheet (each download: URL, dates, sha256).

    Examples: aggregator export figures --hxl -o figures.csv;
    aggregator export claim_checks -f xlsx -o claims.xlsx;
    aggregator export --all -f parquet exports/
    """
    from aggregator.config import load_settings
    from aggregator.errors import AggregatorError
    from aggregator.export import datasets, export_all, export_table, open_warehouse

    if name is None:
        known = ", ".join(datasets())
        raise _fail(f"name a table or view to export (known: {known}), or --all DIR", 2)
    if all_tables and (format is not ExportFormat.parquet or output or hxl or excel):
        raise _fail("--all writes Parquet into the directory given: -f parquet DIR, no -o", 2)
    if (hxl or excel) and format is not ExportFormat.csv:
        raise _fail("--hxl and --excel are for -f csv", 2)
    if format.value in ("xlsx", "parquet") and not (output or all_tables):
        raise _fail(f"{format.value} is written to a file: give -o PATH", 2)
    settings = load_settings(warehouse)
    _check_output(Path(name) if all_tables else output, "--all" if all_tables else "-o", settings)
    try:
        if all_tables:
            with open_warehouse(settings.warehouse) as con:
                package = export_all(con, Path(name))
            typer.echo(f"wrote {len(package['resources'])} tables and views to {name}", err=True)
        else:
            export_table(
                settings.warehouse,
                name,
                format.value,
                output,
                sys.stdout.buffer,
                hxl=hxl,
                excel=excel,
            )
    except AggregatorError as exc:
        raise _fail(str(exc)) from None


@app.command()
def report(
    country: Annotated[str, typer.Option("--country", "-c", help="Country (ISO3, ISO2 or name).")],
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Report the figures as published by this day (YYYY-MM-DD; default today).",
            show_default=False,
        ),
    ] = None,
    claims: Annotated[
        Path | None,
        typer.Option(
            "--claims",
            help="Check the claims of this file instead of those loaded by the last refresh.",
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder under which <ISO3>-<as-of>/ is written.")
    ] = Path("reports"),
    format: Annotated[
        str,
        typer.Option("--format", "-f", help="Comma-separated: html, pdf, xlsx, csv."),
    ] = "html,pdf,xlsx,csv",
    excel: Annotated[
        bool, typer.Option("--excel", help="Start the CSVs with a BOM, so Excel reads UTF-8.")
    ] = False,
    hxl: Annotated[
        bool, typer.Option("--hxl", help="Add an HXL hashtag row under the CSV headers.")
    ] = False,
    warehouse: WarehouseOption = None,
) -> None:
    """Write a country report: key figures as known on the as-of day, the press claims checked,
    charts, method and caveats, and the provenance of every download used.

    Formats: report.html (one self-contained file: opens offline, prints well), report.pdf (the
    same page), report.xlsx and one CSV per table. Reads the warehouse only; no network.
    Example: aggregator report --country PSE --as-of 2024-03-22
    """
    from datetime import date

    from aggregator.config import load_settings
    from aggregator.errors import AggregatorError
    from aggregator.geo import country as resolve_country
    from aggregator.report import FORMATS, build

    formats = [f.strip().lower() for f in format.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown or not formats:
        raise _fail(f"--format takes {', '.join(FORMATS)}; got {format!r}", 2)
    try:
        day = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        raise _fail(f"--as-of must be a date as YYYY-MM-DD, got {as_of!r}", 2) from None
    try:
        place = resolve_country(country)
    except AggregatorError as exc:
        raise _fail(str(exc), 2) from None
    settings = load_settings(warehouse)
    _check_output(out, "--out", settings)
    try:
        written = build(
            settings.warehouse,
            place,
            day,
            out,
            formats=formats,
            claims_file=claims,
            excel=excel,
            hxl=hxl,
        )
    except AggregatorError as exc:
        raise _fail(str(exc).strip('"')) from None
    for path in written:
        typer.echo(str(path))


@app.command()
def schema(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the data dictionary as Markdown.")
    ] = False,
) -> None:
    """Describe every table of the warehouse: columns, types, checks (the data dictionary)."""
    from aggregator.dictionary import markdown as dictionary

    if markdown:
        typer.echo(dictionary(), nl=False)
        return
    from schemas import TABLES

    for table in TABLES.values():
        typer.echo(f"{table.name:<14} {table.kind:<5} {table.description}")


claims_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)
app.add_typer(
    claims_app,
    name="claims",
    help="Press claims: propose candidate claims from an article, for a person to review.",
)


@claims_app.command("extract")
def claims_extract(
    source: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_URL",
            help="The article: a text file, an HTML file, or an http(s) URL to fetch.",
            show_default=False,
        ),
    ],
    published: Annotated[
        str,
        typer.Option(
            "--published",
            help="The article's publication date, YYYY-MM-DD (published_on, and the start of "
            "every claim_id).",
            show_default=False,
        ),
    ],
    outlet: Annotated[
        str | None,
        typer.Option(
            "--outlet",
            help="The publication, e.g. Reuters (default: the URL's host, or 'unknown outlet').",
            show_default=False,
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The article's address, for a saved copy (default: the URL fetched).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the CSV here (default: standard output)."),
    ] = None,
) -> None:
    """Propose the press claims of an article, as a claims CSV for a person to review.

    Every figure in the article's text becomes a candidate row (of an HTML page, only the
    article's main text is read, not menus or footers): the sentence it is in, with its
    character offsets; the value as quoted ("more than 32,000" is gt 32000 people, "a hundred
    percent" is 100 percent, "half" is 0.5 share, "hundreds of" is between 200 and 999); whom
    the text attributes it to; and a suggested metric and country, with a confidence from 0
    to 1. Dates, times, ordinals and compound adjectives ("five-day") are left out.

    Review metric, geo, area and comparator, delete the rows that are not claims, and save
    the file in data/claims/: it loads as it is. A summary line goes to standard error.

    Example: aggregator claims extract article.html --published 2024-03-22 --outlet Reuters
    -o data/claims/2024-03-22-reuters.csv
    """
    from aggregator.claim_extraction import (
        check_url,
        claim_rows,
        default_outlet,
        extract_candidates,
        parse_published,
        read_article,
        write_claims,
    )
    from aggregator.config import load_settings
    from aggregator.errors import AggregatorError

    settings = load_settings()
    _check_output(output, "-o", settings)
    try:
        day = parse_published(published)
        article_url = check_url(url) if url else None
        article = read_article(source, settings)
        article_url = article_url or article.url
        candidates = extract_candidates(article.text)
        rows = claim_rows(
            article.text,
            candidates,
            published=day,
            outlet=outlet or default_outlet(article_url),
            url=article_url,
        )
    except AggregatorError as exc:
        raise _fail(str(exc)) from None
    if output is None:
        write_claims(rows, sys.stdout)
    else:
        try:
            with output.open("w", encoding="utf-8", newline="") as handle:
                write_claims(rows, handle)
        except OSError as exc:
            raise _fail(f"cannot write {output}: {exc.strerror}") from None
    noun = "claim" if len(rows) == 1 else "claims"
    typer.echo(
        f"{len(rows)} candidate {noun} from {source}; review metric, geo and comparator before use",
        err=True,
    )


class _LogFile(logging.FileHandler):
    """A log file that stops taking writes (disk full) costs one warning, not a traceback
    on standard error for every record."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        if not self.failed:
            self.failed = True
            reason = getattr(sys.exc_info()[1], "strerror", None) or sys.exc_info()[1]
            typer.echo(
                f"warning: cannot write the log file {self.baseFilename}: {reason}", err=True
            )


def _log_to_file(path: Path) -> None:
    from aggregator.redact import RedactingFilter

    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _LogFile(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("aggregator")
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)


if __name__ == "__main__":
    app()
