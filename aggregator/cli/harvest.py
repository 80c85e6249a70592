"""Commands that talk to PubMed or load records: run, import, search, queries."""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from aggregator.cli.context import DEMO_DB, DEMO_OUT, AppContext, settings_options
from aggregator.cli.library import added_since_option, write_articles
from aggregator.cli.output import emit, format_option, resolve_format
from aggregator.cli.views import Progress
from aggregator.queries import SavedQuery, load_queries, resolve_queries_dir

pass_app = click.make_pass_decorator(AppContext, ensure=True)


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
    help="Only this saved search, PubMed or registry (repeatable). Default: all.",
)
@click.option("--no-digest", is_flag=True, help="Harvest only; do not write the digest.")
@click.option(
    "--no-registry",
    is_flag=True,
    help="Skip the ClinicalTrials.gov watch (the saved registry searches in queries/registry/).",
)
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
@format_option(("text", "json"))
@pass_app
def run(
    app: AppContext,
    demo: bool,
    query_names: tuple[str, ...],
    no_digest: bool,
    no_registry: bool,
    once: bool,
    log_file: Path | None,
    fmt: str | None,
) -> None:
    """Harvest new and revised PubMed records for every saved search, tag them, store them,
    watch ClinicalTrials.gov for registered trials (the saved registry searches), and write
    this week's digest.

    \b
    Examples:
      aggregator run --demo
      aggregator run
      NCBI_EMAIL=me@example.org NCBI_API_KEY=... aggregator run --query magnesium-glycinate
      aggregator run --no-registry
      aggregator run --query ctgov-magnesium-migraine --no-digest
      aggregator run --db postgresql+psycopg://user@localhost/evidence --out /srv/digests

    Incremental: each saved search resumes from its checkpoint in the database. A run that is
    killed can simply be started again. Exit code 1 when any saved search (PubMed or
    registry) failed; the others still complete. The summary is text on a terminal, JSON when
    piped or logged (--format text keeps lines).
    """
    from aggregator.jobs.registry import (
        open_registry_watch,
        registry_searches,
        split_search_names,
    )
    from aggregator.jobs.weekly import DigestTarget, run_weekly

    if demo:
        app.set_defaults(db_url=str(DEMO_DB), out_dir=DEMO_OUT)
    if log_file is not None:
        app.configure_logging(log_file)
    settings = app.settings
    pubmed_names, searches = split_search_names(
        query_names, registry_searches(settings), registry=not no_registry
    )
    # Only registry searches named: no PubMed search runs.
    queries = app.saved_queries(pubmed_names) if pubmed_names or not query_names else []
    engine = app.engine()
    _stop_on_sigterm()
    digest = None if no_digest else DigestTarget(settings.out_dir, demo=demo or None, smtp=app.smtp)
    fmt = resolve_format(fmt, "text")
    if demo:
        _run_demo(app, queries, digest, searches, fmt)
        return
    watch = open_registry_watch(settings, searches, every_search=not query_names)
    with app.eutils_client() as client, _maybe(watch):
        result = run_weekly(
            engine,
            client,
            queries,
            digest=digest,
            progress=Progress(app.interactive),
            lock=app.run_lock(),
            registry=watch,
        )
    emit(result.to_dict(), lambda: "\n".join(result.summary_lines()) + "\n", fmt)
    if result.digest_error is not None:
        click.echo(f"error: {result.digest_error}", err=True)
    if not result.ok:
        raise click.exceptions.Exit(1)


def _maybe(value: Any) -> contextlib.AbstractContextManager[Any]:
    """``value`` as a context manager (closed at the end), or a no-op one for None."""
    return contextlib.nullcontext() if value is None else value  # type: ignore[no-any-return]


def _run_demo(
    app: AppContext, queries: list[SavedQuery], digest: Any, searches: Any, fmt: str
) -> None:
    from aggregator.jobs.demo import run_demo

    click.echo(
        "DEMO: replaying the synthetic corpora shipped with the package, served by in-process "
        "stand-ins for NCBI and ClinicalTrials.gov. Not real PubMed or registry data.",
        err=True,
    )
    weeks = run_demo(
        app.engine(),
        queries,
        digest=digest,
        progress=Progress(app.interactive),
        registry_searches=searches,
    )
    out_dir = app.settings.out_dir if digest is not None else None
    data = {
        "demo": True,
        "weeks": [{"week": w.week, "harvest_day": w.day, **w.result.to_dict()} for w in weeks],
        "digests": out_dir,
    }

    def text() -> str:
        lines = [f"DEMO {w.week} (harvest on {w.day.isoformat()}): {w.summary[-1]}" for w in weeks]
        if out_dir is not None:
            lines.append(f"DEMO digests written to {out_dir}/ (open the .html files)")
        return "\n".join(lines) + "\n"

    emit(data, text, fmt)


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
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
)
@format_option(("text", "json"))
@pass_app
def import_(app: AppContext, files: tuple[Path, ...], fmt: str | None) -> None:
    """Load PubMed XML or MEDLINE text exports (e.g. saved from the PubMed website) into the
    database; - reads standard input, so EDirect can pipe into it. Records are tagged and
    upserted by PMID; a corrupt file changes nothing.

    \b
    Examples:
      aggregator import pubmed-magnesium-set.xml
      aggregator import pubmed-export.nbib more.txt
      esearch -db pubmed -query "magnesium glycinate" | efetch -format xml | aggregator import -
    """
    from aggregator.jobs.harvest import import_file, import_stream

    engine = app.engine()
    reports = []
    for path in files:
        if str(path) == "-":
            report = import_stream(engine, sys.stdin.buffer, lock=app.run_lock())
        else:
            report = import_file(engine, path, lock=app.run_lock())
        reports.append(report)

    def text() -> str:
        return "".join(
            f"{r.path}: {r.new} new, {r.revised} revised, {r.unchanged} unchanged"
            + (
                f" ({r.deleted_listed} PMIDs listed as deleted, not applied)"
                if r.deleted_listed
                else ""
            )
            + (f", {r.skipped} bad records skipped (see the warnings)" if r.skipped else "")
            + "\n"
            for r in reports
        )

    emit([r.to_dict() for r in reports], text, resolve_format(fmt, "text"))


def _year(value: str | None, flag: str) -> int | None:
    """A publication year; a full date is refused naming --added-since (what --since used to
    mean for search)."""
    if value is None:
        return None
    if value.isdigit() and len(value) == 4:
        return int(value)
    raise click.BadParameter(
        f"{value!r} is not a year: {flag} is the publication year (as in `aggregator query`); "
        "for the date a record was added to PubMed use --added-since YYYY-MM-DD",
        param_hint=flag,
    )


@click.command()
@settings_options
@click.argument("term")
@click.option(
    "--max",
    "max_alias",
    type=click.IntRange(1, 9999),
    hidden=True,
    help="Old spelling of --limit.",
)
@click.option(
    "--limit",
    "max_results",
    default=20,
    show_default=True,
    type=click.IntRange(1, 9999),
    metavar="N",
    help="Fetch and tag at most N records.",
)
@click.option("--since", metavar="YEAR", help="Published in or after YEAR.")
@click.option("--until", metavar="YEAR", help="Published in or before YEAR.")
@added_since_option("Only records added to PubMed on or after DATE (YYYY-MM-DD).")
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
@format_option(("table", "json", "csv", "ris", "bibtex", "csl-json", "pmid"))
@pass_app
def search(
    app: AppContext,
    term: str,
    max_alias: int | None,
    max_results: int,
    since: str | None,
    until: str | None,
    added_since: dt.date | None,
    count_only: bool,
    save: bool,
    sort: str,
    fmt: str | None,
) -> None:
    """One-off PubMed search; every hit is tagged on the fly (form, study type, level).

    \b
    Examples:
      aggregator search "magnesium glycinate migraine"
      aggregator search "magnesium[tiab] AND migraine[tiab]" --since 2024 --limit 50
      aggregator search "magnesium AND headache" --added-since 2026-01-01 --count
      aggregator search "magnesium glycinate" --format json | jq '.[].title'
    """
    from aggregator.export import article_record
    from aggregator.jobs.search import DateLimits, count_pubmed, save_hits, search_pubmed

    max_results = max_alias or max_results
    limits = DateLimits(
        since_year=_year(since, "--since"),
        until_year=_year(until, "--until"),
        added_since=added_since,
    )
    fmt = resolve_format(fmt)
    with app.eutils_client() as client:
        if count_only:
            counted = count_pubmed(client, term, limits=limits)
            emit(
                {"count": counted.count, "translation": counted.translation},
                lambda: f"{counted.count}\ntranslation: {counted.translation}\n",
                "json" if fmt == "json" else "text",
            )
            return
        progress = Progress(app.interactive)
        result = search_pubmed(
            client,
            term,
            max_results=max_results,
            limits=limits,
            sort=sort,
            progress=lambda done, total: progress("search", done, total) if total > 200 else None,
        )
    if save:
        engine = app.engine()
        save_hits(engine, result.hits, lock=app.run_lock())
    records = [article_record(a, t) for a, t in result.hits]
    write_articles(records, fmt, [a for a, _ in result.hits])
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
@format_option(("table", "json"))
@pass_app
def queries_list(app: AppContext, fmt: str | None) -> None:
    """List saved searches (PubMed, then ClinicalTrials.gov) with their checkpoints.

    \b
    Examples:
      aggregator queries list
      aggregator queries list --queries ~/my-searches
      aggregator queries list --format json | jq '.searches[].name'
    """
    from aggregator.jobs.registry import registry_folder, registry_searches

    folder = resolve_queries_dir(app.settings.queries_dir)
    items = load_queries(folder)
    registry = registry_searches(app.settings)
    checkpoints: dict[str, Any] = {}
    registry_checkpoints: dict[str, Any] = {}
    if app.database_exists():  # listing never creates a database as a side effect
        from aggregator.jobs.library import run_status
        from aggregator.jobs.trials import registry_status

        states = run_status(app.engine(), runs=0).checkpoints
        checkpoints = {state.query_name: state.last_window_end for state in states}
        if registry:
            registry_checkpoints = {
                state.name: state.last_window_end
                for state in registry_status(app.engine()).checkpoints
            }
    registry_dir = registry_folder(app.settings) if registry else None
    data = {
        "folder": folder,
        "searches": [
            {
                "name": q.name,
                "description": q.description,
                "enabled": q.enabled,
                "harvested_to": checkpoints.get(q.name),
                "file": q.path,
            }
            for q in items
        ],
        "registry_folder": registry_dir,
        "registry_searches": [
            {
                "name": search.name,
                "description": search.description,
                "enabled": search.enabled,
                "harvested_to": registry_checkpoints.get(search.name),
                "file": search.path,
            }
            for search in registry
        ],
    }

    def text() -> str:
        lines = [f"# saved searches in {folder}"]
        for q in items:
            lines.append(_search_line(q.name, q.enabled, q.description, checkpoints.get(q.name)))
        if registry:
            lines.append(f"# saved registry searches (ClinicalTrials.gov) in {registry_dir}")
        for search in registry:
            checkpoint = registry_checkpoints.get(search.name)
            lines.append(_search_line(search.name, search.enabled, search.description, checkpoint))
        return "\n".join(lines) + "\n"

    emit(data, text, resolve_format(fmt))


def _search_line(name: str, enabled: bool, description: str, checkpoint: Any) -> str:
    state = f"harvested to {checkpoint}" if checkpoint else "never harvested"
    flag = "" if enabled else " (disabled)"
    return f"{name}{flag}: {description} [{state}]"


def _query_dict(query: SavedQuery) -> dict[str, Any]:
    return {
        "name": query.name,
        "file": query.path,
        "description": query.description,
        "start_date": query.start_date,
        "enabled": query.enabled,
        "term": query.term,
    }


@queries.command(name="show")
@settings_options
@click.argument("name")
@format_option(("text", "json"))
@pass_app
def queries_show(app: AppContext, name: str, fmt: str | None) -> None:
    """Show one saved search in full (file, start date, PubMed term or registry query).

    \b
    Examples:
      aggregator queries show magnesium-glycinate
      aggregator queries show magnesium-glycinate --format json | jq -r .term
      aggregator queries show ctgov-magnesium-migraine
    """
    from aggregator.jobs.registry import registry_searches

    registry = {search.name: search for search in registry_searches(app.settings)}
    if name in registry:
        search = registry[name]
        data = {
            "name": search.name,
            "source": "ClinicalTrials.gov",
            "file": search.path,
            "description": search.description,
            "start_date": search.start_date,
            "enabled": search.enabled,
            "query": search.describe(),
        }
        emit(
            data,
            lambda: (
                f"name:        {search.name}  (ClinicalTrials.gov)\n"
                f"file:        {search.path}\n"
                f"description: {search.description}\n"
                f"start date:  {search.start_date.isoformat()}\n"
                f"enabled:     {'yes' if search.enabled else 'no'}\n"
                f"query:       {search.describe()}\n"
            ),
            resolve_format(fmt, "text"),
        )
        return
    (query,) = app.saved_queries((name,))

    def text() -> str:
        return (
            f"name:        {query.name}\n"
            f"file:        {query.path}\n"
            f"description: {query.description}\n"
            f"start date:  {query.start_date.isoformat()}\n"
            f"enabled:     {'yes' if query.enabled else 'no'}\n"
            f"term:        {query.term}\n"
        )

    emit(_query_dict(query), text, resolve_format(fmt, "text"))


@queries.command(name="test")
@settings_options
@click.argument("name")
@format_option(("text", "json"))
@pass_app
def queries_test(app: AppContext, name: str, fmt: str | None) -> None:
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
    data = {
        "name": query.name,
        "count": result.count,
        "translation": result.query_translation,
        "warnings": list(result.warnings),
    }

    def text() -> str:
        lines = [
            f"{query.name}: {result.count} records in PubMed",
            f"translation: {result.query_translation}",
        ]
        lines += [f"warning: {warning}" for warning in result.warnings]
        return "\n".join(lines) + "\n"

    emit(data, text, resolve_format(fmt, "text"))


COMMANDS = [run, import_, search, queries]
