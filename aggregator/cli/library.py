"""Everyday commands over the local database: query, show, export, stats, sql, retag.

Output goes to stdout, messages and progress to stderr, so every command can be piped.
Commands that print articles default to a table on a terminal and to JSON when piped.
Exit codes: 0 ok (also when nothing matches), 1 error, 2 usage error (including an unknown
form, study type, sort or format, whose message lists the valid values).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import click

from aggregator.article import Article
from aggregator.cli.context import AppContext, settings_options
from aggregator.errors import AggregatorError
from aggregator.export import (
    DOI_URL,
    FORMATS,
    PMC_URL,
    PUBMED_URL,
    article_record,
    atomic_text_file,
    write_records,
    write_rows,
    write_stream,
)
from aggregator.store import search as library
from aggregator.store.articles import StoredArticle, article_history, count_articles, get_article
from aggregator.store.engine import new_session, store_errors
from aggregator.vocab import FORMS, STUDY_TYPE_LABELS, STUDY_TYPES, unknown_value_error

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


def _default_format(fmt: str | None) -> str:
    """table on a terminal, json when piped (scripts get machine-readable output)."""
    if fmt is not None:
        return fmt
    return "table" if _stdout().isatty() else "json"


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
        click.option(
            "--since", "since_year", type=int, metavar="YEAR", help="Published in or after YEAR."
        ),
        click.option(
            "--until", "until_year", type=int, metavar="YEAR", help="Published in or before YEAR."
        ),
        click.option(
            "--text",
            metavar="WORDS",
            help='Full-text search of title and abstract: all words must match; "a phrase", '
            "a OR b, -excluded. Stemmed (trial finds trials).",
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
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _filter(params: dict[str, Any]) -> library.ArticleFilter:
    filt = library.ArticleFilter(
        forms=params["forms"],
        study_types=params["study_types"],
        max_level=params["max_level"],
        since_year=params["since_year"],
        until_year=params["until_year"],
        text=params["text"],
        retracted=params["retracted"],
        new_since=params["new_since"],
        direct=params["direct"],
    )
    try:
        filt.validate()
    except library.FilterError as exc:
        raise click.UsageError(str(exc)) from exc
    return filt


@contextmanager
def _session(app: AppContext) -> Iterator[Any]:
    engine = app.engine()
    with store_errors(engine.url), new_session(engine) as session:
        yield session


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


def _records(items: Sequence[StoredArticle]) -> list[dict[str, Any]]:
    return [article_record(i.article, i.tags, retracted=i.retracted) for i in items]


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    return value if isinstance(value, int | float | str) else _json_default(value)


def _print_json(data: Any, out: TextIO) -> None:
    out.write(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default) + "\n")


# ---- query ---------------------------------------------------------------------------------


@click.command()
@filter_options
@click.option(
    "--sort",
    type=click.Choice(library.SORTS),
    default="level",
    show_default=True,
    help="level: strongest evidence first, then newest; year: newest first; "
    "date: newest added to PubMed first; pmid: ascending.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    metavar="N",
    default=DEFAULT_LIMIT,
    show_default=True,
    help="At most N articles (0 = all).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format. Default: table on a terminal, json when piped.",
)
@settings_options
def query(sort: str, limit: int, fmt: str | None, **params: Any) -> None:
    """Search the local database by form, study type, year, evidence level and text.

    Different filters must all match; repeating one (--form a --form b, or --form a,b)
    matches any of its values. When more articles match than --limit, a note on stderr
    says so. An unknown form, type, sort or format is a usage error (exit 2) whose
    message lists the valid values; no match is not an error (exit 0).

    \b
    Examples:
      aggregator query --form glycinate --max-level 2
      aggregator query --type randomized_controlled_trial --since 2020 --sort year
      aggregator query --text '"menstrual migraine" -pediatric' --no-retracted
      aggregator query --form citrate,oxide --format csv > citrate-oxide.csv
      aggregator query --new-since 2025-11-01 --format json | jq '.[].pmid'
    """
    app = _app()
    filt = _filter(params)
    fmt = _default_format(fmt)
    with _session(app) as session:
        result = library.run_query(
            session,
            filt,
            sort=sort,
            limit=limit or None,
            with_articles=fmt in ("ris", "bibtex"),
        )
    write_records(result.records, fmt, _stdout(), articles=result.articles)
    if not result.records and fmt == "table":
        click.echo("no stored article matches", err=True)
    if result.more:
        click.echo(f"showing the first {limit}; use --limit 0 for all", err=True)


# ---- show ----------------------------------------------------------------------------------


def _links(article: Article) -> dict[str, str]:
    links = {"pubmed": PUBMED_URL.format(pmid=article.pmid)}
    if article.doi:
        links["doi"] = DOI_URL.format(doi=article.doi)
    if article.pmc_id:
        pmc = article.pmc_id if article.pmc_id.upper().startswith("PMC") else f"PMC{article.pmc_id}"
        links["pmc"] = PMC_URL.format(pmc=pmc)
    return links


def show_document(stored: StoredArticle, history: Sequence[Any]) -> dict[str, Any]:
    """The whole record as JSON: the query object plus every parsed field, links,
    retraction status, bookkeeping and the revision history."""
    article = stored.article
    return {
        **article_record(article, stored.tags, retracted=stored.retracted),
        "article": article.to_dict(),
        "rules_version": stored.tags.rules_version if stored.tags else None,
        "links": _links(article),
        "retraction": {
            "retracted": stored.retracted,
            "retracted_at": stored.retracted_at.isoformat() if stored.retracted_at else None,
            "notice_pmid": stored.retraction_notice_pmid,
        },
        "stored": {
            "source": stored.source,
            "first_seen_at": stored.first_seen_at.isoformat(),
            "last_updated_at": stored.last_updated_at.isoformat(),
            "last_fetched_at": stored.last_fetched_at.isoformat(),
            "saved_searches": list(stored.query_names),
        },
        "history": [
            {
                "seen_at": rev.seen_at.isoformat(),
                "run_id": rev.run_id,
                "changed_fields": list(rev.changed_fields),
                "old_values": rev.old_values,
                "new_values": rev.new_values,
            }
            for rev in history
        ],
    }


def _date_text(article: Article) -> str:
    parts = [str(article.pub_year)] if article.pub_year else []
    if article.pub_year and article.pub_month:
        parts.append(dt.date(2000, article.pub_month, 1).strftime("%b"))
        if article.pub_day:
            parts.append(str(article.pub_day))
    published = article.medline_date or " ".join(parts) or "unknown"
    extra = []
    if article.article_date:
        extra.append(f"online {article.article_date.isoformat()}")
    if article.entrez_date:
        extra.append(f"added to PubMed {article.entrez_date.isoformat()}")
    return published + (f" ({'; '.join(extra)})" if extra else "")


def _citation(article: Article) -> str:
    text = article.journal_iso or article.journal_title or "unknown journal"
    if article.volume:
        text += f" {article.volume}"
        if article.issue:
            text += f"({article.issue})"
    if article.pages:
        text += f":{article.pages}"
    return text


def render_show(doc: dict[str, Any], stored: StoredArticle) -> str:
    """The whole record as readable text."""
    article = stored.article
    lines: list[str] = []
    head = f"PMID {article.pmid}"
    if stored.retracted:
        head += "  [RETRACTED]"
    lines += [head, article.title, ""]
    if article.authors:
        lines.append("Authors:    " + ", ".join(a.display_name for a in article.authors))
    lines.append("Journal:    " + _citation(article))
    if article.journal_title and article.journal_iso != article.journal_title:
        lines.append("            " + article.journal_title)
    lines.append("Published:  " + _date_text(article))
    if article.publication_types:
        lines.append("Types:      " + "; ".join(article.publication_types))
    if article.mesh_headings:
        mesh = []
        for heading in article.mesh_headings:
            text = heading.descriptor + ("*" if heading.major else "")
            for qualifier in heading.qualifiers:
                text += f"/{qualifier.name}" + ("*" if qualifier.major else "")
            mesh.append(text)
        lines.append("MeSH:       " + "; ".join(mesh))
    if article.keywords:
        lines.append("Keywords:   " + "; ".join(article.keywords))
    lines += ["", "Abstract:"]
    if article.abstract_sections:
        for section in article.abstract_sections:
            label = f"{section.label}: " if section.label else ""
            lines.append(f"  {label}{section.text}")
    elif article.abstract:
        lines.append(f"  {article.abstract}")
    else:
        lines.append("  (no abstract)")
    lines.append("")
    tags = stored.tags
    if tags is None:
        lines.append("Tags:       (not tagged yet; run `aggregator retag`)")
    else:
        level = tags.evidence_level if tags.evidence_level is not None else "none"
        label = STUDY_TYPE_LABELS.get(tags.study_type, tags.study_type)
        lines.append(f"Study type: {label} ({tags.study_type}), evidence level {level}")
        lines.append("Forms:      " + (", ".join(tags.forms) or "none"))
        for name, values in (
            ("Routes", tags.routes),
            ("Conditions", tags.conditions),
            ("Population", tags.population),
        ):
            lines.append(f"{name + ':':<12}" + (", ".join(values) or "none"))
        direct = "direct" if tags.is_direct else "indirect"
        combo = "; combination product" if tags.combination_product else ""
        lines.append(f"Evidence:   {direct} (migraine/headache outcome){combo}")
        lines.append(f"Provenance (rules {tags.rules_version}):")
        for tag in library.tag_list(tags):
            snippet = " ".join(tag.snippet.split())
            lines.append(f"  {tag.kind:<20} {tag.value:<28} {tag.field:<16} \u201c{snippet}\u201d")
    lines += ["", "Links:"]
    for name, url in doc["links"].items():
        lines.append(f"  {name.upper() if name != 'pubmed' else 'PubMed':<7}{url}")
    lines.append("")
    if stored.retracted:
        notice = stored.retraction_notice_pmid
        since = stored.retracted_at.date().isoformat() if stored.retracted_at else "unknown"
        lines.append(
            "Retraction: RETRACTED"
            + (f" (notice PMID {notice})" if notice else "")
            + f", noted {since}"
        )
    else:
        lines.append("Retraction: not retracted")
    lines.append(
        f"Stored:     first seen {stored.first_seen_at.date().isoformat()}, "
        f"last updated {stored.last_updated_at.date().isoformat()}, source {stored.source}"
        + (f", found by {', '.join(stored.query_names)}" if stored.query_names else "")
    )
    history = doc["history"]
    lines.append("History:" if history else "History:    no revisions recorded")
    for revision in history:
        lines.append(
            f"  {revision['seen_at'][:19]}Z  changed: {', '.join(revision['changed_fields'])}"
        )
    return "\n".join(lines) + "\n"


@click.command()
@click.argument("pmid", type=click.IntRange(min=1), metavar="PMID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="text for reading, json for scripts.",
)
@settings_options
def show(pmid: int, fmt: str) -> None:
    """Show one stored article in full: bibliographic data, abstract, tags with the text
    they came from, links, retraction status and revision history.

    \b
    Examples:
      aggregator show 99000012
      aggregator show 99000012 --format json | jq .tags
    """
    app = _app()
    with _session(app) as session:
        stored = get_article(session, pmid)
        if stored is None:
            raise AggregatorError(f"PMID {pmid} is not in the database {app.settings.db_url}")
        history = article_history(session, pmid)
    doc = show_document(stored, history)
    out = _stdout()
    if fmt == "json":
        _print_json(doc, out)
    else:
        out.write(render_show(doc, stored))


# ---- export --------------------------------------------------------------------------------


@click.command()
@filter_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default="json",
    show_default=True,
    help="json (as query prints), csv, ris (EndNote, Zotero, Mendeley) or bibtex.",
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
    any size use little memory.

    \b
    Examples:
      aggregator export --format ris --out magnesium-migraine.ris
      aggregator export --format bibtex --form glycinate -o glycinate.bib
      aggregator export --format csv --no-retracted > all.csv
    """
    app = _app()
    filt = _filter(params)
    with _session(app) as session, _destination(out_file) as out:
        items = (
            (article_record(i.article, i.tags, retracted=i.retracted), i.article)
            for i in library.iter_articles(session, filt)
        )
        count = write_stream(items, fmt, out)
    if out_file is not None:
        click.echo(f"wrote {count} articles to {out_file}", err=True)


# export's --out is a file: drop the shared --out (digest folder) option from this command.
export.params = [p for p in export.params if not (p.name == "out" and isinstance(p, click.Option))]


# ---- stats ---------------------------------------------------------------------------------


def render_stats(stats: library.LibraryStats) -> str:
    """Stats as aligned text tables."""
    lines = [
        f"Articles:   {stats.articles} ({stats.tagged} tagged, {stats.retracted} retracted)",
        f"Database:   {_size(stats.database_bytes)}",
    ]
    run = stats.last_run
    if run:
        lines.append(
            f"Last run:   {run['kind']} #{run['id']} {run['status']}, "
            f"started {run['started_at'][:19]}Z ({run['new']} new, {run['revised']} revised)"
        )
    else:
        lines.append("Last run:   none yet")
    lines.append("")
    types = [t for t in STUDY_TYPES if any(t in row for row in stats.by_form_and_type.values())]
    types += sorted({t for row in stats.by_form_and_type.values() for t in row} - set(types))
    text: list[str] = []
    if stats.by_form_and_type:
        lines.append("Articles by form and study type:")
        header = ["FORM", *types, "TOTAL"]
        rows = [
            [form, *(row.get(t, 0) for t in types), sum(row.values())]
            for form, row in stats.by_form_and_type.items()
        ]
        lines.append(_rows_text(header, rows))
    if stats.by_year:
        lines += ["", "Articles by year:"]
        lines.append(_rows_text(["YEAR", "ARTICLES"], [[y, n] for y, n in stats.by_year.items()]))
    return "\n".join(lines + text) + "\n"


def _rows_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    write_rows(header, rows, buffer)
    return buffer.getvalue().rstrip("\n")


def _size(size: int | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "json")),
    default=None,
    help="Default: table on a terminal, json when piped.",
)
@settings_options
def stats(fmt: str | None) -> None:
    """Summarise the database: articles by form x study type and by year, the last run,
    the database size.

    \b
    Examples:
      aggregator stats
      aggregator stats --format json | jq .by_year
    """
    app = _app()
    engine = app.engine()
    with _session(app) as session:
        result = library.library_stats(engine, session)
    out = _stdout()
    if _default_format(fmt) == "json":
        _print_json(result.to_dict(), out)
    else:
        out.write(render_stats(result))


# ---- sql -----------------------------------------------------------------------------------


@click.command()
@click.argument("statement", metavar="SQL")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(TABLE_FORMATS),
    default=None,
    help="Default: table on a terminal, json (a list of objects) when piped.",
)
@settings_options
def sql(statement: str, fmt: str | None) -> None:
    """Run one SQL statement on a read-only connection (writes are refused).

    The database is not migrated first; tables: article, tag, run, article_revision,
    query_hit, saved_query_state, digest (and article_fts on SQLite).

    \b
    Examples:
      aggregator sql "SELECT study_type, count(*) FROM article GROUP BY study_type"
      aggregator sql --format csv \\
        "SELECT value, count(*) AS n FROM tag WHERE kind = 'form' GROUP BY value"
    """
    app = _app()
    result = library.run_readonly_sql(app.settings.db_url, statement)
    out = _stdout()
    fmt = _default_format(fmt)
    if fmt == "json":
        _print_json([dict(zip(result.columns, row, strict=True)) for row in result.rows], out)
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_csv_value(v) for v in row] for row in result.rows])
    elif result.columns:
        write_rows(result.columns, result.rows, out)


# ---- retag ---------------------------------------------------------------------------------


def _load_tagger() -> tuple[library.Tagger, str]:
    """The current tagger and its rules version (imported late: it loads its vocabularies)."""
    try:
        from aggregator.tagging import RULES_VERSION, tag_article
    except ImportError as exc:  # pragma: no cover - the package ships the tagger
        raise AggregatorError(f"the tagger is not available: {exc}") from exc
    return tag_article, RULES_VERSION


def render_retag(report: library.RetagReport) -> str:
    verb = "would change" if report.dry_run else "changed"
    lines = [
        f"Re-tagged {report.examined} articles with rules {report.rules_version}: "
        f"{report.updated} {verb}" + (" (dry run: nothing stored)" if report.dry_run else ""),
    ]
    changed = {k: n for k, n in report.changed_by_kind.items() if n}
    if changed:
        lines.append("Articles with changed values, by kind:")
        lines += [f"  {kind:<20} {n}" for kind, n in changed.items()]
    if report.changes:
        lines.append("Study type or forms changed:")
        for change in report.changes:
            parts = []
            if change.old_study_type != change.new_study_type:
                parts.append(
                    f"study type {change.old_study_type or '-'} -> {change.new_study_type}"
                )
            if set(change.old_forms) != set(change.new_forms):
                old = ",".join(change.old_forms) or "-"
                parts.append(f"forms {old} -> {','.join(change.new_forms) or '-'}")
            lines.append(f"  {change.pmid}  " + "; ".join(parts))
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--dry-run", is_flag=True, help="Report what would change; store nothing.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json")),
    default="text",
    show_default=True,
    help="Report format.",
)
@settings_options
def retag(dry_run: bool, fmt: str) -> None:
    """Re-tag every stored article with the current tagging rules and report what changed.

    Use after upgrading aggregator (new rules). Holds the run lock, so it never runs at
    the same time as a harvest; all changes are stored in one transaction.

    \b
    Examples:
      aggregator retag --dry-run
      aggregator retag --format json | jq '.changes[].pmid'
    """
    app = _app()
    tagger, rules_version = _load_tagger()
    engine = app.engine()
    lock = None
    if not dry_run:
        from aggregator.store.lock import RunLock

        lock = RunLock(engine, name="harvest")
        lock.acquire()
    try:
        with _session(app) as session:
            total = count_articles(session)
            with _progress(app, total) as progress:
                report = library.retag(
                    session, tagger, rules_version=rules_version, dry_run=dry_run, progress=progress
                )
            if dry_run:
                session.rollback()
            else:
                session.commit()
    finally:
        if lock is not None:
            lock.release()
    out = _stdout()
    if fmt == "json":
        _print_json(report.to_dict(), out)
    else:
        out.write(render_retag(report))


@contextmanager
def _progress(app: AppContext, total: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when it is a terminal; nothing otherwise."""
    if not app.interactive or total == 0:
        yield None
        return
    with click.progressbar(length=total, label="re-tagging", file=sys.stderr) as bar:
        done = 0

        def advance(examined: int) -> None:
            nonlocal done
            bar.update(examined - done)
            done = examined

        yield advance


COMMANDS = [query, show, export, stats, sql, retag]
