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
class SearchCount:
    """How many records PubMed has for a term, and how it read the term."""

    count: int
    translation: str | None


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The fetched hits, tagged and sorted, out of ``count`` matches."""

    count: int
    hits: list[tuple[Article, ArticleTags]]


def count_pubmed(client: EutilsClient, term: str, *, since: dt.date | None = None) -> SearchCount:
    """The number of records matching ``term`` (created since ``since``) and its translation."""
    result = _esearch(client, term, since, retmax=0)
    return SearchCount(result.count, result.query_translation)


def search_pubmed(
    client: EutilsClient,
    term: str,
    *,
    max_results: int,
    since: dt.date | None = None,
    sort: str = "level",
    progress: SearchProgress | None = None,
) -> SearchResult:
    """Fetch the first ``max_results`` records matching ``term``, tag each, and sort them:
    ``level`` strongest evidence first (then newest), ``date`` newest added first."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; valid: {', '.join(SORTS)}")
    found = _esearch(client, term, since, retmax=max_results)
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


def _esearch(
    client: EutilsClient, term: str, since: dt.date | None, *, retmax: int
) -> ESearchResult:
    """One ESearch, limited to records created (``crdt``) from ``since`` to today if given."""
    return client.esearch(
        term,
        mindate=since,
        maxdate=dt.date.today() if since else None,
        datetype="crdt" if since else None,
        retmax=retmax,
        usehistory=False,
    )
