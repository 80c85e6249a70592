"""``aggregator search``: a one-off PubMed search, every hit tagged on the fly, optionally
stored (under the run lock, in one transaction)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from aggregator.article import Article
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.eutils import SearchResult as ESearchResult
from aggregator.store.articles import upsert_articles
from aggregator.store.engine import new_session, store_errors
from aggregator.store.lock import RunLock
from aggregator.tagging import tag_article
from aggregator.timeutil import Clock, utc_now
from aggregator.vocab import ArticleTags

SORTS = ("level", "date")
# progress(done, total)
SearchProgress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class DateLimits:
    """Which records a search keeps: published from ``since_year`` to ``until_year`` (the
    publication date, [dp]), added to PubMed (created) on or after ``added_since``."""

    since_year: int | None = None
    until_year: int | None = None
    added_since: dt.date | None = None

    def term(self, term: str) -> str:
        """``term`` limited to the publication years, in PubMed's range syntax."""
        if self.since_year is None and self.until_year is None:
            return term
        low = f"{self.since_year or 1000}/01/01"
        high = f"{self.until_year or 3000}/12/31"
        return f"({term}) AND ({low}:{high}[dp])"


@dataclass(frozen=True, slots=True)
class SearchCount:
    """How many records PubMed has for a term, and how it read the term."""

    count: int
    translation: str | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The fetched hits, tagged and sorted, out of ``count`` matches."""

    count: int
    hits: list[tuple[Article, ArticleTags]]


def count_pubmed(
    client: EutilsClient, term: str, *, limits: DateLimits = DateLimits()
) -> SearchCount:
    """The number of records matching ``term`` within ``limits`` and its translation."""
    result = _esearch(client, term, limits, retmax=0)
    return SearchCount(result.count, result.query_translation)


def search_pubmed(
    client: EutilsClient,
    term: str,
    *,
    max_results: int,
    limits: DateLimits = DateLimits(),
    sort: str = "level",
    progress: SearchProgress | None = None,
) -> SearchResult:
    """Fetch the first ``max_results`` records matching ``term``, tag each, and sort them:
    ``level`` strongest evidence first (then newest), ``date`` newest added first."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
    found = _esearch(client, term, limits, retmax=max_results)
    hits: list[tuple[Article, ArticleTags]] = []
    for article in client.fetch_articles(found.ids):
        hits.append((article, tag_article(article)))
        if progress is not None and len(hits) % 100 == 0:
            progress(len(hits), len(found.ids))
    if progress is not None:
        progress(len(hits), len(found.ids))
    if sort == "level":
        hits.sort(key=lambda pair: (pair[1].evidence_level or 9, -(pair[0].pub_year or 0)))
    else:
        hits.sort(key=lambda pair: pair[0].entrez_date or dt.date.min, reverse=True)
    return SearchResult(found.count, hits)


def save_hits(
    engine: Engine,
    hits: list[tuple[Article, ArticleTags]],
    *,
    lock: RunLock | None = None,
    clock: Clock = utc_now,
) -> None:
    """Store the hits (upsert by PMID) in one transaction, holding ``lock`` (the run lock)."""
    if lock is None:
        _save(engine, hits, clock)
        return
    with lock:
        _save(engine, hits, clock)


def _save(engine: Engine, hits: list[tuple[Article, ArticleTags]], clock: Clock) -> None:
    with store_errors(engine.url), new_session(engine) as session:
        upsert_articles(session, hits, run_id=None, now=clock(), source="efetch")
        session.commit()


def _esearch(client: EutilsClient, term: str, limits: DateLimits, *, retmax: int) -> ESearchResult:
    """One ESearch within ``limits``: publication years in the term, records created
    (``crdt``) from ``added_since`` to today as the date filter."""
    since = limits.added_since
    return client.esearch(
        limits.term(term),
        mindate=since,
        maxdate=dt.date.today() if since else None,
        datetype="crdt" if since else None,
        retmax=retmax,
        usehistory=False,
    )
