"""The everyday read jobs over the local database: query, show, export, stats and sql.

Each opens its own session (database errors become one clear line), asks the store, and
hands plain records to :mod:`aggregator.export` for output. None of them writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.article import Article
from aggregator.export import article_document, article_record, build_record, write_stream
from aggregator.jobs.trials import registrations_of
from aggregator.store.articles import StoredArticle, article_history, count_articles, get_article
from aggregator.store.engine import new_session, store_errors
from aggregator.store.models import RunRow, SavedQueryStateRow
from aggregator.store.readonly import (
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_S,
    SQLResult,
    run_readonly_sql,
)
from aggregator.store.runs import last_successful_run, query_states, recent_runs
from aggregator.store.search import (
    ArticleFilter,
    iter_articles,
    load_articles,
    load_listed,
    select_page,
)
from aggregator.store.stats import LibraryStats, library_stats


@dataclass(frozen=True, slots=True)
class QueryPage:
    """One page of matches: JSON records, the Articles when asked for (RIS, BibTeX), and
    whether more articles match than were returned."""

    records: list[dict[str, Any]]
    articles: list[Article] | None
    more: bool


@dataclass(frozen=True, slots=True)
class ShownArticle:
    """One stored article in full: the stored record and its JSON document."""

    stored: StoredArticle
    document: dict[str, Any]


@contextmanager
def _session(engine: Engine) -> Iterator[Session]:
    """A session whose database errors become one clear line (StoreError)."""
    with store_errors(engine.url), new_session(engine) as session:
        yield session


def query_articles(
    engine: Engine,
    filt: ArticleFilter,
    *,
    sort: str = "level",
    limit: int | None = None,
    with_articles: bool = False,
) -> QueryPage:
    """What ``aggregator query`` prints. Whole Articles only ``with_articles``; otherwise only
    the columns the records show are read."""
    with _session(engine) as session:
        return query_page(session, filt, sort=sort, limit=limit, with_articles=with_articles)


def query_page(
    session: Session,
    filt: ArticleFilter,
    *,
    sort: str = "level",
    limit: int | None = None,
    with_articles: bool = False,
) -> QueryPage:
    """:func:`query_articles` in an open session (the query benchmark times this)."""
    pmids, more = select_page(session, filt, sort=sort, limit=limit)
    if not with_articles:
        records = [build_record(item) for item in load_listed(session, pmids)]
        return QueryPage(records=records, articles=None, more=more)
    items = load_articles(session, pmids)
    return QueryPage(
        records=[article_record(i.article, i.tags, retracted=i.retracted) for i in items],
        articles=[i.article for i in items],
        more=more,
    )


def show_article(engine: Engine, pmid: int) -> ShownArticle | None:
    """One stored article with its revision history and the registered trials joined to it
    (``document["registrations"]``), or None when it is not stored."""
    with _session(engine) as session:
        stored = get_article(session, pmid)
        if stored is None:
            return None
        document = article_document(stored, article_history(session, pmid))
        document["registrations"] = registrations_of(session, pmid)
        return ShownArticle(stored, document)


def export_articles(engine: Engine, filt: ArticleFilter, fmt: str, out: TextIO) -> int:
    """Write every matching article (PMID order) to ``out`` in ``fmt``, in batches, so an
    export of any size uses little memory; returns how many were written."""
    with _session(engine) as session:
        items = (
            (article_record(i.article, i.tags, retracted=i.retracted), i.article)
            for i in iter_articles(session, filt)
        )
        return write_stream(items, fmt, out)


def stored_article_count(engine: Engine) -> int:
    """How many articles the database holds."""
    with _session(engine) as session:
        return count_articles(session)


def database_stats(engine: Engine) -> LibraryStats:
    """Counts by form x study type and by year, the last run, the database size."""
    with _session(engine) as session:
        return library_stats(engine, session)


def run_sql(
    db_url: str,
    statement: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> SQLResult:
    """One statement on a read-only connection (``aggregator sql``), within ``timeout_s``
    seconds and ``max_rows`` rows (0: no limit)."""
    return run_readonly_sql(db_url, statement, timeout_s=timeout_s, max_rows=max_rows)


# Runs that refresh the data: harvests from PubMed and the demo's harvests of its corpus.
REFRESHING_RUNS = ("run", "demo")


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What ``aggregator status`` shows: the size, the freshness and the recent runs."""

    articles: int
    last_success: RunRow | None  # the last successful harvest (a run or the demo's)
    checkpoints: list[SavedQueryStateRow]
    runs: list[RunRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "last_success": _run_dict(self.last_success) if self.last_success else None,
            "saved_searches": [
                {"name": s.query_name, "harvested_to": s.last_window_end} for s in self.checkpoints
            ],
            "runs": [_run_dict(run) for run in self.runs],
        }


def _run_dict(run: RunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "new": run.new,
        "revised": run.revised,
        "unchanged": run.unchanged,
        "failed_queries": run.failed_queries,
        "error": run.error,
    }


def run_status(engine: Engine, *, runs: int = 5) -> StatusReport:
    """The database's article count, last successful harvest, checkpoints and ``runs``
    recent runs."""
    with _session(engine) as session:
        return StatusReport(
            articles=count_articles(session),
            last_success=last_successful_run(session, REFRESHING_RUNS),
            checkpoints=query_states(session),
            runs=recent_runs(session, limit=runs),
        )
