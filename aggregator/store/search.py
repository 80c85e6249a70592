"""Finding stored articles: filters, full-text search, sort orders, and the fast paths that keep
``aggregator query`` quick at 100,000 articles.

Every statement is SQLAlchemy Core with bound parameters; user input never becomes SQL text.
Full-text search uses SQLite FTS5 (table ``article_fts``, created by migration 0003) or
PostgreSQL's ``to_tsquery`` over the stored, GIN-indexed tsvector column
``article.search_vector`` (migration 0004). The user's PubMed-like text is parsed once
(:func:`aggregator.store.filters.parse_text`) and the same expression is rendered for each:
words, "phrases", AND/OR/NOT, parentheses, trailing-* truncation, British/American
spellings of the sulfur salts.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from aggregator.errors import StoreError
from aggregator.store.articles import StoredArticle, list_articles
from aggregator.store.codec import author_display_name, tags_from_rows
from aggregator.store.filters import SORTS, ArticleFilter, FilterError, fts5_query, tsquery_text
from aggregator.store.models import ArticleRow, TagRow
from aggregator.store.tables import chunks, table_of
from aggregator.vocab import ArticleTags

# PostgreSQL's stored tsvector of title and abstract (migration 0004, GIN-indexed). Reading it
# spares re-running to_tsvector on every candidate row a phrase search has to re-check.
PG_SEARCH_VECTOR = "search_vector"


# ---- filters -------------------------------------------------------------------------------


# The article columns as free-standing column objects, so the FROM clause can be the table
# with an SQLite index hint (SQLAlchemy renders no table hints for SQLite).
def _columns() -> dict[str, sa.ColumnClause[Any]]:
    return {c.name: sa.column(c.name, c.type) for c in table_of(ArticleRow).c}


def _ftstable_of() -> Any:
    return sa.table("article_fts", sa.column("rowid", sa.Integer), sa.column("article_fts"))


def _fts_match(fts: Any, text: str) -> Any:
    return fts.c.article_fts.op("MATCH")(sa.bindparam("fts_query", fts5_query(text)))


def _text_condition(dialect: str, text: str, pmid: Any, *, probe: bool = False) -> Any:
    if dialect == "sqlite":
        fts = _ftstable_of()
        if probe:
            # Per-row lookup: cheap when most articles match, so the walk stops early.
            return sa.exists().where(_fts_match(fts, text), fts.c.rowid == _columns()["pmid"])
        return pmid.in_(sa.select(fts.c.rowid).where(_fts_match(fts, text)))
    if dialect == "postgresql":
        return sa.text(
            f"{PG_SEARCH_VECTOR} @@ to_tsquery('english'::regconfig, :fts_query)"
        ).bindparams(fts_query=tsquery_text(text))
    raise StoreError(f"full-text search is not supported on {dialect!r}")


def _conditions(
    dialect: str, filt: ArticleFilter, *, probe_text: bool = False, probe_forms: bool = False
) -> list[Any]:
    col, tags = _columns(), table_of(TagRow)
    # On SQLite, "+ 0" keeps the planner from answering these with a PMID or year index
    # lookup (a random read of a large article row each); it then walks the sort index,
    # which holds every filter column, and stops after --limit rows.
    pmid = col["pmid"] + 0 if dialect == "sqlite" else col["pmid"]
    year = col["pub_year"] + 0 if dialect == "sqlite" else col["pub_year"]
    where: list[Any] = []
    form_tags = sa.select(tags.c.pmid).where(tags.c.kind == "form", tags.c.value.in_(filt.forms))
    if filt.forms and not probe_forms:
        where.append(pmid.in_(form_tags))
    if filt.study_types:
        where.append(col["study_type"].in_(filt.study_types))
    if filt.max_level is not None:
        where.append(col["evidence_level"] <= filt.max_level)
    if filt.since_year is not None:
        where.append(year >= filt.since_year)
    if filt.until_year is not None:
        where.append(year <= filt.until_year)
    if filt.retracted is not None:
        where.append(col["retracted"] == filt.retracted)
    if filt.new_since is not None:
        where.append(col["first_seen_at"] >= filt.new_since)
    if filt.direct is not None:
        where.append(col["is_direct"] == filt.direct)
    if filt.added_since is not None:
        where.append(col["entrez_date"] >= filt.added_since)
    if filt.min_sample_size is not None:
        where.append(col["sample_size"] >= filt.min_sample_size)
    if filt.results:
        where.append(col["reported_result"].in_(filt.results))
    if filt.comparators:
        where.append(col["comparator"].in_(filt.comparators))
    if filt.forms and probe_forms:
        # After the filters the sort index answers, so only rows passing them are looked up.
        # Qualified: a bare "pmid" inside the subquery would be tag.pmid (uncorrelated).
        outer_pmid = sa.literal_column("article.pmid", sa.Integer)
        where.append(sa.exists(form_tags.where(tags.c.pmid == outer_pmid)))
    if filt.text is not None:
        # Last, so SQLite only searches the text of rows that pass every other filter.
        where.append(_text_condition(dialect, filt.text, pmid, probe=probe_text))
    return where


# Must match the indexes of migrations 0003 and 0009 (ix_article_sort_<sort>) for fast
# "first N".
_NO_LEVEL = 9  # sorts after level 5; a literal, so SQLite matches the expression index


def _order(sort: str) -> list[Any]:
    col = _columns()
    if sort == "level":  # strongest evidence first, then newest
        return [
            sa.func.coalesce(col["evidence_level"], sa.literal_column(str(_NO_LEVEL))),
            sa.nulls_last(col["pub_year"].desc()),
            col["pmid"].desc(),
        ]
    if sort == "year":
        return [sa.nulls_last(col["pub_year"].desc()), col["pmid"].desc()]
    if sort == "date":  # date added to PubMed, newest first
        return [sa.nulls_last(col["entrez_date"].desc()), col["pmid"].desc()]
    if sort == "pmid":
        return [col["pmid"].asc()]
    if sort == "n":  # largest sample size first; articles stating none last
        return [sa.nulls_last(col["sample_size"].desc()), col["pmid"].desc()]
    raise FilterError(f"unknown sort {sort!r}; valid values: {', '.join(SORTS)}")


def _from_clause(dialect: str, sort: str) -> Any:
    if dialect == "sqlite" and sort != "pmid":
        return sa.text(f"article INDEXED BY ix_article_sort_{sort}")
    return sa.table("article")


# Text matching at least this many articles counts as common (see select_pmids): listing
# them all costs more than looking each candidate up while walking the sort index.
COMMON_TEXT_MATCHES = 20_000
# How long the per-row text lookup may run before falling back to the match list.
TEXT_PROBE_BUDGET_S = 0.015
PROGRESS_STEPS = 1000  # SQLite VM instructions between two looks at the clock
# Form filters matching at least this many form tags count as common (see select_pmids).
# Measured at 100,000 articles: listing 14,000 matches costs ~12 ms, looking each walked row
# up in ix_tag_kind_value_pmid well under 1 ms; for 1,500 matches the list is the faster.
COMMON_FORM_TAGS = 3_000


def select_pmids(
    session: Session,
    filt: ArticleFilter,
    *,
    sort: str = "level",
    limit: int | None = None,
    probe_budget_s: float = TEXT_PROBE_BUDGET_S,
) -> list[int]:
    """PMIDs of the stored articles matching ``filt``, in ``sort`` order, at most ``limit``.

    On SQLite, with a ``limit``, filters that match many articles are looked up per row while
    walking the sort index (the first ``limit`` rows come early) instead of listing every
    match first: common forms always; common text when only the text narrows the selection
    and it has no phrase of several words (a phrase is slow to check per row). The text
    lookup has ``probe_budget_s``; without enough rows by then it falls back to the list.
    """
    filt.validate()
    dialect = session.get_bind().dialect.name
    walks = dialect == "sqlite" and limit is not None and sort != "pmid"
    probe_forms = walks and bool(filt.forms) and _forms_are_common(session, filt.forms)
    if (
        walks
        and filt.text is not None
        and _only_text_narrows(filt)
        and not _has_phrase(filt.text)
        and _text_is_common(session, filt.text)
    ):
        try:
            with _time_budget(session, probe_budget_s):
                return _select(session, dialect, filt, sort, limit, probe_text=True)
        except OperationalError as exc:
            if "interrupted" not in str(exc):
                raise
    return _select(session, dialect, filt, sort, limit, probe_forms=probe_forms)


def _select(
    session: Session,
    dialect: str,
    filt: ArticleFilter,
    sort: str,
    limit: int | None,
    *,
    probe_text: bool = False,
    probe_forms: bool = False,
) -> list[int]:
    conditions = _conditions(dialect, filt, probe_text=probe_text, probe_forms=probe_forms)
    statement = (
        sa.select(_columns()["pmid"])
        .select_from(_from_clause(dialect, sort))
        .where(*conditions)
        .order_by(*_order(sort))
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [int(p) for p in session.execute(statement).scalars()]


def _only_text_narrows(filt: ArticleFilter) -> bool:
    # With other narrowing filters the match list is cheaper: SQLite would look the text up
    # for every row the walk visits, not only for rows passing the other filters.
    return filt == ArticleFilter(text=filt.text, retracted=filt.retracted)


def _has_phrase(text: str) -> bool:
    # fts5_query quotes every term; a space inside one means a phrase of several words.
    return any(" " in phrase for phrase in re.findall(r'"([^"]*)"', fts5_query(text)))


def _text_is_common(session: Session, text: str) -> bool:
    fts = _ftstable_of()
    first = sa.select(fts.c.rowid).where(_fts_match(fts, text)).limit(COMMON_TEXT_MATCHES)
    found = session.execute(sa.select(sa.func.count()).select_from(first.subquery()))
    return int(found.scalar_one()) >= COMMON_TEXT_MATCHES


def _forms_are_common(session: Session, forms: Sequence[str]) -> bool:
    tags = table_of(TagRow)
    first = (
        sa.select(tags.c.pmid)
        .where(tags.c.kind == "form", tags.c.value.in_(forms))
        .limit(COMMON_FORM_TAGS)
    )
    found = session.execute(sa.select(sa.func.count()).select_from(first.subquery()))
    return int(found.scalar_one()) >= COMMON_FORM_TAGS


@contextmanager
def _time_budget(session: Session, seconds: float) -> Iterator[None]:
    """Interrupt SQLite statements running longer than ``seconds`` (OperationalError
    "interrupted"); the transaction stays usable."""
    raw = session.connection().connection.dbapi_connection
    if not isinstance(raw, sqlite3.Connection):
        yield
        return
    deadline = time.perf_counter() + seconds
    raw.set_progress_handler(lambda: int(time.perf_counter() > deadline), PROGRESS_STEPS)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


@dataclass(frozen=True, slots=True)
class ListedArticle:
    """What a listing shows of a stored article (the fields of an export record), read from a
    few narrow columns instead of the whole stored record."""

    pmid: int
    title: str
    year: int | None
    journal: str | None
    doi: str | None
    publication_types: tuple[str, ...]
    retracted: bool
    tags: ArticleTags | None  # None until tagged
    authors: tuple[str, ...]  # display names
    abstract: str


_LISTED_COLUMNS = (
    "pmid",
    "title",
    "pub_year",
    "journal_title",
    "journal_iso",
    "doi",
    "publication_types",
    "retracted",
    "study_type",
    "evidence_level",
    "combination_product",
    "rules_version",
    "evidence_class",
    "authors",
    "abstract",
    "design_confidence",
    "design_explanation",
    "findings",
)


def load_listed(session: Session, pmids: Sequence[int]) -> list[ListedArticle]:
    """The listed fields of the articles ``pmids``, in that order: much faster than loading
    whole articles (no raw XML, MeSH or other JSON columns but the authors)."""
    articles, tags = table_of(ArticleRow), table_of(TagRow)
    rows: dict[int, Any] = {}
    tag_rows: dict[int, list[Any]] = {}
    for chunk in chunks(list(pmids)):
        statement = sa.select(*(articles.c[name] for name in _LISTED_COLUMNS)).where(
            articles.c.pmid.in_(chunk)
        )
        rows.update((row.pmid, row) for row in session.execute(statement))
        tag_statement = (
            sa.select(tags.c.pmid, tags.c.kind, tags.c.value, tags.c.field, tags.c.snippet)
            .where(tags.c.pmid.in_(chunk))
            .order_by(tags.c.id)
        )
        for tag in session.execute(tag_statement):
            tag_rows.setdefault(tag.pmid, []).append(tag)
    return [_listed(rows[p], tag_rows.get(p, ())) for p in pmids if p in rows]


def _listed(row: Any, tag_rows: Sequence[Any]) -> ListedArticle:
    publication_types = tuple(row.publication_types)
    retracted = row.retracted
    if retracted is None:  # as Article.is_retracted decides (no comments loaded: none kept)
        retracted = "Retracted Publication" in publication_types
    return ListedArticle(
        pmid=row.pmid,
        title=row.title,
        year=row.pub_year,
        journal=row.journal_title or row.journal_iso,
        doi=row.doi,
        publication_types=publication_types,
        retracted=bool(retracted),
        tags=tags_from_rows(row._mapping, tag_rows),
        authors=tuple(author_display_name(a) for a in row.authors or ()),
        abstract=row.abstract or "",
    )


def load_articles(session: Session, pmids: Sequence[int]) -> list[StoredArticle]:
    """The stored articles for ``pmids``, in the order given."""
    found = {item.article.pmid: item for item in list_articles(session, pmids=pmids)}
    return [found[p] for p in pmids if p in found]


def select_page(
    session: Session, filt: ArticleFilter, *, sort: str = "level", limit: int | None = None
) -> tuple[list[int], bool]:
    """PMIDs of one page of matches (at most ``limit``) and whether more articles match."""
    pmids = select_pmids(session, filt, sort=sort, limit=None if limit is None else limit + 1)
    if limit is not None and len(pmids) > limit:
        return pmids[:limit], True
    return pmids, False


def iter_articles(
    session: Session, filt: ArticleFilter, *, sort: str = "pmid"
) -> Iterator[StoredArticle]:
    """Every matching article, loaded in batches so an export never holds them all."""
    pmids = select_pmids(session, filt, sort=sort)
    for chunk in chunks(pmids):
        yield from load_articles(session, chunk)


# ---- re-tagging ----------------------------------------------------------------------------
