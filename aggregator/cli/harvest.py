"""Commands that talk to PubMed or load records: run, import, search, queries."""

from __future__ import annotations

import datetime as dt
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from aggregator.cli.context import AppContext, settings_options
from aggregator.cli.views import Progress
from aggregator.queries import SavedQuery, load_queries, resolve_queries_dir

pass_app = click.make_pass_decorator(AppContext, ensure=True)

DEMO_DB = Path("db") / "demo.sqlite"
DEMO_OUT = Path("digests-demo")


@click.command()
@settings_options
@click.option(
    "--demo",
    is_flag=True,
    help="Run the whole job on the synthetic corpus shipped with the package, served by an "
    f"in-process stand-in for NCBI: no network. Uses {DEMO_DB} and {DEMO_OUT}/ unless "
    "--db/--out are given.",
)
@click.option(
    "--query",
    "query_names",
    multiple=True,
    metavar="NAME",
    help="Only this saved search (repeatable). Default: all.",
)
@click.option("--no-digest", is_flag=True, help="Harvest only; do not write the digest.")
@click.option(
    "--once",
    is_flag=True,
    help="Explicit single run (the default; for cron and systemd timers).",
)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write log events (INFO and up) to this file, rotated at 5 MB, 5 kept.",
)
@pass_app
def run(
    app: AppContext,
    demo: bool,
    query_names: tuple[str, ...],
    no_digest: bool,
    once: bool,
    log_file: Path | None,
) -> None:
    """Harvest new and revised PubMed records for every saved search, tag them, store them,
    and write this week's digest.

    \b
    Examples:
      aggregator run --demo
      aggregator run
      NCBI_EMAIL=me@example.org NCBI_API_KEY=... aggregator run --query magnesium-glycinate
      aggregator run --db postgresql+psycopg://user@localhost/evidence --out /srv/digests

    Incremental: each saved search resumes from its checkpoint in the database. A run that is
    killed can simply be started again. Exit code 1 when any saved search failed.
    """
    from aggregator.jobs.weekly import DigestTarget, run_weekly

    if demo:
        app.set_defaults(db_url=str(DEMO_DB), out_dir=DEMO_OUT)
    if log_file is not None:
        app.configure_logging(log_file)
    settings = app.settings
    queries = app.saved_queries(query_names)
    engine = app.engine()
    _stop_on_sigterm()
    digest = None if no_digest else DigestTarget(settings.out_dir, demo=demo or None, smtp=app.smtp)
    if demo:
        _run_demo(app, queries, digest)
        return
    with app.eutils_client() as client:
        result = run_weekly(
            engine,
            client,
            queries,
            digest=digest,
            progress=Progress(app.interactive),
            lock=app.run_lock(),
        )
    for line in result.summary_lines():
        click.echo(line)
    if result.digest_error is not None:
        click.echo(f"error: {result.digest_error}", err=True)
    if not result.ok:
        raise click.exceptions.Exit(1)


def _run_demo(app: AppContext, queries: list[SavedQuery], digest: Any) -> None:
    from aggregator.jobs.demo import run_demo

    click.echo(
        "DEMO: replaying the synthetic corpus shipped with the package, served by an "
        "in-process stand-in for NCBI. Not real PubMed data.",
        err=True,
    )
    weeks = run_demo(app.engine(), queries, digest=digest, progress=Progress(app.interactive))
    for week in weeks:
        click.echo(f"DEMO {week.week} (harvest on {week.day.isoformat()}): {week.summary[-1]}")
    if digest is not None:
        click.echo(f"DEMO digests written to {app.settings.out_dir}/ (open the .html files)")


def _stop_on_sigterm() -> None:
    """Turn SIGTERM (systemd stop, kill) into KeyboardInterrupt, so the current transaction
    rolls back, the run is recorded as interrupted and the lock is released."""

    def handle(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handle)


@click.command(name="import")
@settings_options
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@pass_app
def import_(app: AppContext, files: tuple[Path, ...]) -> None:
    """Load PubMed XML or MEDLINE text exports (e.g. saved from the PubMed website) into the
    database. Records are tagged and upserted by PMID; a corrupt file changes nothing.

    \b
    Examples:
      aggregator import pubmed-magnesium-set.xml
      aggregator import pubmed-export.nbib more.txt
    """
    from aggregator.jobs.harvest import import_file

    engine = app.engine()
    for path in files:
        report = import_file(engine, path, lock=app.run_lock())
        click.echo(
            f"{path}: {report.new} new, {report.revised} revised, {report.unchanged} unchanged"
            + (
                f" ({report.deleted_listed} PMIDs listed as deleted, not applied)"
                if report.deleted_listed
                else ""
            )
        )


def _parse_since(value: str | None) -> dt.date | None:
    if value is None:
        return None
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y-%m", "%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise click.BadParameter(
        f"{value!r} is not a date like 2024-01-31 or 2024", param_hint="--since"
    )


@click.command()
@settings_options
@click.argument("term")
@click.option("--max", "max_results", default=20, show_default=True, type=click.IntRange(1, 9999))
@click.option(
    "--since", metavar="DATE", help="Only records created since DATE (2024 or 2024-01-31)."
)
@click.option(
    "--count",
    "count_only",
    is_flag=True,
    help="Print only the count and PubMed's query translation.",
)
@click.option("--save", is_flag=True, help="Also store the hits in the database.")
@click.option(
    "--sort",
    type=click.Choice(["level", "date"]),
    default="level",
    show_default=True,
    help="level: strongest evidence first; date: newest first.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv"]),
    default=None,
    help="Default: table on a terminal, json when piped.",
)
@pass_app
def search(
    app: AppContext,
    term: str,
    max_results: int,
    since: str | None,
    count_only: bool,
    save: bool,
    sort: str,
    fmt: str | None,
) -> None:
    """One-off PubMed search; every hit is tagged on the fly (form, study type, level).

    \b
    Examples:
      aggregator search "magnesium glycinate migraine"
      aggregator search "magnesium[tiab] AND migraine[tiab]" --since 2024 --max 50
      aggregator search "magnesium AND headache" --count
      aggregator search "magnesium glycinate" --format json | jq '.[].title'
    """
    from aggregator.export import article_record, write_records
    from aggregator.jobs.search import count_pubmed, save_hits, search_pubmed

    mindate = _parse_since(since)
    with app.eutils_client() as client:
        if count_only:
            counted = count_pubmed(client, term, since=mindate)
            click.echo(f"{counted.count}")
            click.echo(f"translation: {counted.translation}")
            return
        progress = Progress(app.interactive)
        result = search_pubmed(
            client,
            term,
            max_results=max_results,
            since=mindate,
            sort=sort,
            progress=lambda done, total: progress("search", done, total) if total > 200 else None,
        )
    if save:
        engine = app.engine()
        save_hits(engine, result.hits, lock=app.run_lock())
    fmt = fmt or ("table" if sys.stdout.isatty() else "json")
    records = [article_record(a, t) for a, t in result.hits]
    write_records(records, fmt, sys.stdout, articles=[a for a, _ in result.hits])
    if fmt == "table":
        click.echo(f"{len(records)} of {result.count} records shown", err=True)


@click.group()
def queries() -> None:
    """List, show and test the saved searches (queries/*.toml).

    \b
    Examples:
      aggregator queries list
      aggregator queries show magnesium-glycinate
      aggregator queries test magnesium-migraine
    """


@queries.command(name="list")
@settings_options
@pass_app
def queries_list(app: AppContext) -> None:
    """List saved searches with their checkpoints.

    \b
    Examples:
      aggregator queries list
      aggregator queries list --queries ~/my-searches
    """
    folder = resolve_queries_dir(app.settings.queries_dir)
    items = load_queries(folder)
    checkpoints: dict[str, Any] = {}
    if app.database_exists():  # listing never creates a database as a side effect
        from aggregator.jobs.library import run_status

        states = run_status(app.engine(), runs=0).checkpoints
        checkpoints = {state.query_name: state.last_window_end for state in states}
    click.echo(f"# saved searches in {folder}")
    for q in items:
        checkpoint = checkpoints.get(q.name)
        state = f"harvested to {checkpoint}" if checkpoint else "never harvested"
        flag = "" if q.enabled else " (disabled)"
        click.echo(f"{q.name}{flag}: {q.description} [{state}]")


@queries.command(name="show")
@settings_options
@click.argument("name")
@pass_app
def queries_show(app: AppContext, name: str) -> None:
    """Show one saved search in full (file, start date, PubMed term).

    \b
    Examples:
      aggregator queries show magnesium-glycinate
    """
    (query,) = app.saved_queries((name,))
    click.echo(f"name:        {query.name}")
    click.echo(f"file:        {query.path}")
    click.echo(f"description: {query.description}")
    click.echo(f"start date:  {query.start_date.isoformat()}")
    click.echo(f"enabled:     {'yes' if query.enabled else 'no'}")
    click.echo(f"term:        {query.term}")


@queries.command(name="test")
@settings_options
@click.argument("name")
@pass_app
def queries_test(app: AppContext, name: str) -> None:
    """Count a saved search's hits upstream (PubMed) without storing anything, and show how
    PubMed translated the term.

    \b
    Examples:
      aggregator queries test magnesium-migraine
      NCBI_EMAIL=me@example.org aggregator queries test magnesium-glycinate
    """
    (query,) = app.saved_queries((name,))
    with app.eutils_client() as client:
        result = client.esearch(query.term, retmax=0, usehistory=False)
    click.echo(f"{query.name}: {result.count} records in PubMed")
    click.echo(f"translation: {result.query_translation}")
    for warning in result.warnings:
        click.echo(f"warning: {warning}")


COMMANDS = [run, import_, search, queries]
