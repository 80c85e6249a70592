"""Everyday commands over the local database: query, show, export, stats, sql, retag.

Output goes to stdout, messages and progress to stderr, so every command can be piped.
Commands that print articles default to a table on a terminal and to JSON when piped.
Exit codes: 0 ok (also when nothing matches), 1 error, 2 usage error (including an unknown
form, study type, sort or format, whose message lists the valid values).
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import click

from aggregator.atomic import atomic_text_file
from aggregator.cli.context import AppContext, settings_options
from aggregator.cli.output import (
    captured,
    emit,
    emit_json,
    emit_text,
    format_option,
    resolve_format,
)
from aggregator.cli.views import render_retag, render_show, render_stats
from aggregator.errors import AggregatorError
from aggregator.export import ARTICLE_FORMATS, FORMATS, write_records, write_rows
from aggregator.findings import COMPARATORS, REPORTED_RESULTS
from aggregator.store.filters import SORTS, ArticleFilter, FilterError
from aggregator.textsafe import csv_safe
from aggregator.vocab import FORMS, STUDY_TYPES, unknown_value_error

EXPORT_FORMATS = tuple(f for f in FORMATS if f != "table")
TABLE_FORMATS = ("table", "json", "csv")
DEFAULT_LIMIT = 100


# ---- shared plumbing -----------------------------------------------------------------------


def _app() -> AppContext:
    ctx = click.get_current_context()
    app = ctx.ensure_object(AppContext)
    ctx.call_on_close(app.close)
    return app


def _stdout() -> TextIO:
    return sys.stdout


def _split_values(values: Sequence[str]) -> list[str]:
    """--form a --form b and --form a,b alike, lower-cased."""
    return [v.strip().lower() for value in values for v in value.split(",") if v.strip()]


def _check_vocab(kind: str, valid: tuple[str, ...]) -> Callable[..., tuple[str, ...]]:
    def check(
        _ctx: click.Context, _param: click.Parameter, values: Sequence[str]
    ) -> tuple[str, ...]:
        wanted = _split_values(values)
        for value in wanted:
            if value not in valid:
                raise click.BadParameter(unknown_value_error(kind, value, valid))
        return tuple(dict.fromkeys(wanted))

    return check


def _aware_day(
    _ctx: click.Context, _param: click.Parameter, value: dt.datetime | None
) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=dt.UTC)


def _day(_ctx: click.Context, _param: click.Parameter, value: dt.datetime | None) -> dt.date | None:
    return None if value is None else value.date()


def since_until_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--since/--until YEAR: the publication year, in every command that selects articles."""
    func = click.option(
        "--until",
        "until_year",
        type=int,
        metavar="YEAR",
        help="Published in or before YEAR.",
    )(func)
    return click.option(
        "--since",
        "since_year",
        type=int,
        metavar="YEAR",
        help="Published in or after YEAR.",
    )(func)


def added_since_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--added-since DATE: when the record was added to PubMed (its entry date)."""
    return click.option(
        "--added-since",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        callback=_day,
        metavar="DATE",
        help=help_text,
    )


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The article filters shared by query and export."""
    options = [
        click.option(
            "--form",
            "forms",
            multiple=True,
            callback=_check_vocab("form", FORMS),
            metavar="FORM",
            help="Magnesium form (repeat or comma-separate for any of several): "
            + ", ".join(FORMS)
            + ".",
        ),
        click.option(
            "--type",
            "study_types",
            multiple=True,
            callback=_check_vocab("study type", STUDY_TYPES),
            metavar="TYPE",
            help="Study type (repeat or comma-separate): " + ", ".join(STUDY_TYPES) + ".",
        ),
        click.option(
            "--max-level",
            type=click.IntRange(1, 5),
            metavar="N",
            default=None,
            help="Only evidence level N or stronger (1 = meta-analyses/systematic reviews, "
            "2 = RCTs, ... 5 = case reports, reviews, animal studies).",
        ),
        since_until_options,
        added_since_option("Only records added to PubMed on or after DATE (YYYY-MM-DD)."),
        click.option(
            "--text",
            metavar="QUERY",
            help="Search title and abstract as PubMed does: words (all must match), "
            '"a phrase", AND, OR, NOT, (parentheses), trunc* and -excluded; sulphate and '
            "sulfate alike. Stemmed (trial finds trials).",
        ),
        click.option(
            "--retracted/--no-retracted",
            default=None,
            help="Only retracted articles / leave retracted articles out (default: both).",
        ),
        click.option(
            "--new-since",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            callback=_aware_day,
            metavar="DATE",
            help="Only articles first stored on or after DATE (YYYY-MM-DD, UTC).",
        ),
        click.option(
            "--direct/--indirect",
            default=None,
            help="Only articles with a migraine/headache outcome / only those without one.",
        ),
        click.option(
            "--min-n",
            "min_sample_size",
            type=click.IntRange(min=0),
            metavar="N",
            default=None,
            help="Only articles whose abstract states a sample size of at least N (enrolled "
            "or randomised; pooled participants for a review). Articles stating none are "
            "left out.",
        ),
        click.option(
            "--result",
            "results",
            multiple=True,
            callback=_check_vocab("result", REPORTED_RESULTS),
            metavar="RESULT",
            help="What the authors report on the primary outcome (repeat or comma-separate): "
            + ", ".join(REPORTED_RESULTS)
            + ".",
        ),
        click.option(
            "--comparator",
            "comparators",
            multiple=True,
            callback=_check_vocab("comparator", COMPARATORS),
            metavar="C",
            help="What magnesium was compared with, as the abstract states it (repeat or "
            "comma-separate): " + ", ".join(COMPARATORS) + ".",
        ),
    ]
    for option in reversed(options):
        func = option(func)  # type: ignore[operator]
    return func


def _filter(params: dict[str, Any]) -> ArticleFilter:
    filt = ArticleFilter(
        forms=params["forms"],
        study_types=params["study_types"],
        max_level=params["max_level"],
        since_year=params["since_year"],
        until_year=params["until_year"],
        text=params["text"],
        retracted=params["retracted"],
        new_since=params["new_since"],
        direct=params["direct"],
        added_since=params["added_since"],
        min_sample_size=params["min_sample_size"],
        results=params["results"],
        comparators=params["comparators"],
    )
    try:
        filt.validate()
    except FilterError as exc:
        raise click.UsageError(str(exc)) from exc
    return filt


@contextmanager
def _destination(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file written atomically (a failed export leaves the old file intact)."""
    if path is None:
        yield _stdout()
        return
    try:
        with atomic_text_file(path) as handle:
            yield handle
    except OSError as exc:
        raise AggregatorError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_safe(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return csv_safe(str(value))


def write_articles(
    records: list[dict[str, Any]], fmt: str, articles: Any = None, out: TextIO | None = None
) -> None:
    """A list of article records in ``fmt``; tables are made terminal-safe."""
    out = out or _stdout()
    if fmt == "table":
        emit_text(captured(lambda buffer: write_records(records, fmt, buffer)), out)
    else:
        write_records(records, fmt, out, articles=articles)


# ---- query ---------------------------------------------------------------------------------


@click.command()
@filter_options
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="level",
    show_default=True,
    help="level: strongest evidence first, then newest; year: newest first; "
    "date: newest added to PubMed first; pmid: ascending; n: largest sample size first "
    "(articles stating none last).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    metavar="N",
    default=DEFAULT_LIMIT,
    show_default=True,
    help="At most N articles (0 = all).",
)
@format_option(FORMATS)
@settings_options
def query(sort: str, limit: int, fmt: str | None, **params: Any) -> None:
    """Search the local database by form, study type, year, evidence level, text and what
    the studies found (sample size, reported result, comparator).

    Different filters must all match; repeating one (--form a --form b, or --form a,b)
    matches any of its values. When more articles match than --limit, a note on stderr
    says so. An unknown form, type, sort or format is a usage error (exit 2) whose
    message lists the valid values; no match is not an error (exit 0). --format pmid
    prints one PMID a line, for pipelines.

    \b
    Examples:
      aggregator query --form glycinate --max-level 2
      aggregator query --type randomized_controlled_trial --since 2020 --sort year
      aggregator query --text '"menstrual migraine" NOT (children OR pediatric)'
      aggregator query --text 'magnes* AND (sulphate OR citrate)' --no-retracted
      aggregator query --form citrate,oxide --format csv > citrate-oxide.csv
      aggregator query --new-since 2025-11-01 --format json | jq '.[].pmid'
      aggregator query --comparator placebo --min-n 100 --sort n
      aggregator query --type randomized_controlled_trial --result no_difference
      aggregator query --form glycinate --format pmid | epost -db pubmed | efetch -format abstract
    """
    from aggregator.jobs.library import query_articles

    app = _app()
    filt = _filter(params)
    fmt = resolve_format(fmt)
    result = query_articles(
        app.library_engine(),
        filt,
        sort=sort,
        limit=limit or None,
        with_articles=fmt in ARTICLE_FORMATS,
    )
    write_articles(result.records, fmt, result.articles)
    if not result.records and fmt == "table":
        click.echo("no stored article matches", err=True)
    if result.more:
        click.echo(f"showing the first {limit}; use --limit 0 for all", err=True)


# ---- show ----------------------------------------------------------------------------------


@click.command()
@click.argument("pmid", type=click.IntRange(min=1), metavar="PMID")
@format_option(("text", "json"))
@settings_options
def show(pmid: int, fmt: str | None) -> None:
    """Show one stored article in full: bibliographic data, abstract, tags with the text
    they came from, links, retraction status and revision history.

    \b
    Examples:
      aggregator show 99000012
      aggregator show 99000012 --format json | jq .tags
    """
    from aggregator.jobs.library import show_article

    app = _app()
    shown = show_article(app.library_engine(), pmid)
    if shown is None:
        raise AggregatorError(f"PMID {pmid} is not in the database {app.settings.db_url}")
    emit(
        shown.document,
        lambda: render_show(shown.document, shown.stored),
        resolve_format(fmt, "text"),
    )


# ---- export --------------------------------------------------------------------------------


@click.command()
@filter_options
@format_option(
    EXPORT_FORMATS,
    default="json",
    help_text="json (as query prints), csv, ris (EndNote, Zotero, Mendeley), bibtex, "
    "csl-json (the most faithful for Zotero) or pmid (one a line). Default: json.",
)
@click.option(
    "--out",
    "-o",
    "out_file",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write to FILE (atomically: replaced only when complete). Default: stdout.",
)
@settings_options
def export(fmt: str, out_file: Path | None, **params: Any) -> None:
    """Export every stored article (or those matching the filters), ordered by PMID.

    Takes the same filters as `query`. Articles are written in batches, so exports of
    any size use little memory. The format is json unless --format says otherwise (an
    export is a file format, also on a terminal).

    \b
    Examples:
      aggregator export --format ris --out magnesium-migraine.ris
      aggregator export --format csl-json --form glycinate -o glycinate.json
      aggregator export --format bibtex --form glycinate -o glycinate.bib
      aggregator export --format csv --no-retracted > all.csv
    """
    from aggregator.jobs.library import export_articles

    app = _app()
    filt = _filter(params)
    engine = app.library_engine()
    with _destination(out_file) as out:
        count = export_articles(engine, filt, fmt, out)
    if out_file is not None:
        click.echo(f"wrote {count} articles to {out_file}", err=True)


# export's --out is a file: drop the shared --out (digest folder) option from this command.
export.params = [p for p in export.params if not (p.name == "out" and isinstance(p, click.Option))]


# ---- stats ---------------------------------------------------------------------------------


@click.command()
@format_option(("table", "json"))
@settings_options
def stats(fmt: str | None) -> None:
    """Summarise the database: articles by form x study type and by year, the last run,
    the database size.

    \b
    Examples:
      aggregator stats
      aggregator stats --format json | jq .by_year
    """
    from aggregator.jobs.library import database_stats

    result = database_stats(_app().library_engine())
    emit(result.to_dict(), lambda: render_stats(result), resolve_format(fmt))


# ---- sql -----------------------------------------------------------------------------------


@click.command()
@click.argument("statement", metavar="SQL")
@format_option(TABLE_FORMATS)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="Stop the statement after this long (0: no limit).",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    metavar="N",
    help="Print at most N rows, with a note on stderr when there were more (0: no limit).",
)
@settings_options
def sql(statement: str, fmt: str | None, timeout: float, max_rows: int) -> None:
    """Run one SQL statement on a read-only connection (writes are refused).

    The database is not migrated first; tables: article, tag, run, article_revision,
    query_hit, saved_query_state, digest (and article_fts on SQLite).

    \b
    Examples:
      aggregator sql "SELECT study_type, count(*) FROM article GROUP BY study_type"
      aggregator sql --format csv \\
        "SELECT value, count(*) AS n FROM tag WHERE kind = 'form' GROUP BY value"
    """
    from aggregator.jobs.library import run_sql

    result = run_sql(_app().settings.db_url, statement, timeout_s=timeout, max_rows=max_rows)
    if result.truncated:
        click.echo(
            f"note: stopped after {max_rows:,} rows (--max-rows {max_rows}); ask for more with "
            "--max-rows N (0: no limit)",
            err=True,
        )
    out = _stdout()
    fmt = resolve_format(fmt)
    if fmt == "json":
        emit_json([dict(zip(result.columns, row, strict=True)) for row in result.rows], out)
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([csv_safe(c) for c in result.columns])
        writer.writerows([[_csv_value(v) for v in row] for row in result.rows])
    elif result.columns:
        emit_text(captured(lambda buffer: write_rows(result.columns, result.rows, buffer)), out)


# ---- retag ---------------------------------------------------------------------------------


@click.command()
@click.option("--dry-run", is_flag=True, help="Report what would change; store nothing.")
@format_option(("text", "json"))
@settings_options
def retag(dry_run: bool, fmt: str | None) -> None:
    """Re-tag every stored article with the current tagging rules and report what changed.

    Use after upgrading aggregator (new rules). Holds the run lock, so it never runs at
    the same time as a harvest; all changes are stored in one transaction. The report
    lists every article it counts, with the old and new values of what changed; run
    again, it finds nothing to change.

    \b
    Examples:
      aggregator retag --dry-run
      aggregator retag --format json | jq '.changes[].pmid'
    """
    from aggregator.jobs.retag import retag as retag_job

    app = _app()
    engine = app.library_engine()
    with _progress(app) as progress:
        report = retag_job(engine, dry_run=dry_run, progress=progress, lock=app.run_lock())
    emit(report.to_dict(), lambda: render_retag(report), resolve_format(fmt, "text"))


@contextmanager
def _progress(app: AppContext) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not app.interactive:
        yield None
        return
    bar: Any = None
    done = 0

    def advance(examined: int, total: int) -> None:
        nonlocal bar, done
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label="re-tagging", file=sys.stderr)
            bar.__enter__()
        bar.update(examined - done)
        done = examined

    try:
        yield advance
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


COMMANDS = [query, show, export, stats, sql, retag]
