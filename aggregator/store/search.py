"""Read queries over the local database for the everyday CLI: filters, full-text search,
statistics, read-only SQL and re-tagging.

Every statement is SQLAlchemy Core with bound parameters; user input never becomes SQL text.
Full-text search uses SQLite FTS5 (table ``article_fts``, created by migration 0003) or
PostgreSQL's ``websearch_to_tsquery`` over the stored, GIN-indexed tsvector column
``article.search_vector`` (migration 0004). Both accept the same
small web-search syntax: words (all must match), ``"quoted phrases"``, ``OR`` between two
terms and ``-word`` to exclude.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from aggregator.article import Article
from aggregator.errors import AggregatorError, ConfigError, StoreError
from aggregator.store.articles import StoredArticle, list_articles, replace_tags
from aggregator.store.engine import describe_url, sqlite_path, store_errors
from aggregator.store.models import ArticleRow, RunRow, TagRow
from aggregator.store.runs import recent_runs
from aggregator.vocab import (
    FORMS,
    STUDY_TYPES,
    ArticleTags,
    Tag,
    in_vocabulary_order,
    unknown_value_error,
)

SORTS: tuple[str, ...] = ("level", "year", "date", "pmid")
# PostgreSQL's stored tsvector of title and abstract (migration 0004, GIN-indexed). Reading it
# spares re-running to_tsvector on every candidate row a phrase search has to re-check.
PG_SEARCH_VECTOR = "search_vector"
_BATCH = 500


class FilterError(ConfigError):
    """A query filter value is invalid (unknown form or study type, bad range, empty text)."""


class ReadOnlySQLError(AggregatorError):
    """A statement given to ``aggregator sql`` failed or tried to write."""


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


# ---- filters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """What to select; every field left at its default matches everything.

    Several ``forms`` or ``study_types`` mean "any of them"; different fields must all match.
    """

    forms: tuple[str, ...] = ()
    study_types: tuple[str, ...] = ()
    max_level: int | None = None
    since_year: int | None = None
    until_year: int | None = None
    text: str | None = None
    retracted: bool | None = None
    new_since: dt.datetime | None = None  # first stored at or after (aware UTC)
    direct: bool | None = None

    def validate(self) -> None:
        """Raise FilterError naming the first value that cannot match anything sensible."""
        for form in self.forms:
            if form not in FORMS:
                raise FilterError(unknown_value_error("form", form, FORMS))
        for study_type in self.study_types:
            if study_type not in STUDY_TYPES:
                raise FilterError(unknown_value_error("study type", study_type, STUDY_TYPES))
        if self.max_level is not None and not 1 <= self.max_level <= 5:
            raise FilterError(f"evidence level {self.max_level} out of range; valid: 1 to 5")
        if (
            self.since_year is not None
            and self.until_year is not None
            and self.since_year > self.until_year
        ):
            raise FilterError(f"since year {self.since_year} is after until year {self.until_year}")
        if self.text is not None:
            fts5_query(self.text)  # raises for text without a single word
        if self.new_since is not None and self.new_since.tzinfo is None:
            raise FilterError("new-since must be a timezone-aware time")


_TERM_RE = re.compile(r'-?"[^"]*"?|\S+')
_WORD_RE = re.compile(r"\w+")


def fts5_query(text: str) -> str:
    """Translate web-search syntax into an FTS5 MATCH expression in which every term is a
    quoted string, so no user input is ever read as FTS5 syntax (column filters, NEAR, ^)."""
    clauses: list[list[str]] = []
    excluded: list[str] = []
    join_next = False
    for raw in _TERM_RE.findall(text):
        if raw == "OR":
            join_next = bool(clauses)
            continue
        negative = raw.startswith("-") and len(raw) > 1
        words = _WORD_RE.findall(raw[1:] if negative else raw)
        if not words:
            continue
        phrase = '"' + " ".join(words) + '"'
        if negative:
            excluded.append(phrase)
        elif join_next:
            clauses[-1].append(phrase)
        else:
            clauses.append([phrase])
        join_next = False
    if not clauses:
        raise FilterError(f"text {text!r} has no word to search for")
    expression = " AND ".join(
        "(" + " OR ".join(options) + ")" if len(options) > 1 else options[0] for options in clauses
    )
    for phrase in excluded:
        expression = f"({expression}) NOT {phrase}"
    return expression


# The article columns as free-standing column objects, so the FROM clause can be the table
# with an SQLite index hint (SQLAlchemy renders no table hints for SQLite).
def _columns() -> dict[str, sa.ColumnClause[Any]]:
    return {c.name: sa.column(c.name, c.type) for c in _table(ArticleRow).c}


def _fts_table() -> Any:
    return sa.table("article_fts", sa.column("rowid", sa.Integer), sa.column("article_fts"))


def _fts_match(fts: Any, text: str) -> Any:
    return fts.c.article_fts.op("MATCH")(sa.bindparam("fts_query", fts5_query(text)))


def _text_condition(dialect: str, text: str, pmid: Any, *, probe: bool = False) -> Any:
    if dialect == "sqlite":
        fts = _fts_table()
        if probe:
            # Per-row lookup: cheap when most articles match, so the walk stops early.
            return sa.exists().where(_fts_match(fts, text), fts.c.rowid == _columns()["pmid"])
        return pmid.in_(sa.select(fts.c.rowid).where(_fts_match(fts, text)))
    if dialect == "postgresql":
        return sa.text(
            f"{PG_SEARCH_VECTOR} @@ websearch_to_tsquery('english'::regconfig, :fts_query)"
        ).bindparams(fts_query=text)
    raise StoreError(f"full-text search is not supported on {dialect!r}")


def _conditions(
    dialect: str, filt: ArticleFilter, *, probe_text: bool = False, probe_forms: bool = False
) -> list[Any]:
    col, tags = _columns(), _table(TagRow)
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
    if filt.forms and probe_forms:
        # After the filters the sort index answers, so only rows passing them are looked up.
        # Qualified: a bare "pmid" inside the subquery would be tag.pmid (uncorrelated).
        outer_pmid = sa.literal_column("article.pmid", sa.Integer)
        where.append(sa.exists(form_tags.where(tags.c.pmid == outer_pmid)))
    if filt.text is not None:
        # Last, so SQLite only searches the text of rows that pass every other filter.
        where.append(_text_condition(dialect, filt.text, pmid, probe=probe_text))
    return where


# Must match the indexes of migration 0003 (ix_article_sort_<sort>) for fast "first N".
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
    fts = _fts_table()
    first = sa.select(fts.c.rowid).where(_fts_match(fts, text)).limit(COMMON_TEXT_MATCHES)
    found = session.execute(sa.select(sa.func.count()).select_from(first.subquery()))
    return int(found.scalar_one()) >= COMMON_TEXT_MATCHES


def _forms_are_common(session: Session, forms: Sequence[str]) -> bool:
    tags = _table(TagRow)
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


_TAG_KINDS = ("form", "route", "condition", "population")  # the kinds a record lists


def load_records(session: Session, pmids: Sequence[int]) -> list[dict[str, Any]]:
    """The JSON records (:func:`~aggregator.export.article_record`) for ``pmids``, in that
    order, read from only the columns they show: much faster than loading whole articles.

    The records are built straight from the rows (no Article, ArticleTags or Tag objects);
    tests compare them with article_record's."""
    articles, tags = _table(ArticleRow), _table(TagRow)
    rows: dict[int, Any] = {}
    tag_rows: dict[int, list[Any]] = {}
    for start in range(0, len(pmids), _BATCH):
        chunk = list(pmids[start : start + _BATCH])
        statement = sa.select(
            articles.c.pmid,
            articles.c.title,
            articles.c.pub_year,
            articles.c.journal_title,
            articles.c.journal_iso,
            articles.c.doi,
            articles.c.publication_types,
            articles.c.retracted,
            articles.c.study_type,
            articles.c.evidence_level,
            articles.c.combination_product,
            articles.c.rules_version,
        ).where(articles.c.pmid.in_(chunk))
        rows.update((row[0], row) for row in session.execute(statement))
        tag_statement = (
            sa.select(tags.c.pmid, tags.c.kind, tags.c.value, tags.c.field, tags.c.snippet)
            .where(tags.c.pmid.in_(chunk))
            .order_by(tags.c.id)
        )
        for tag in session.execute(tag_statement):
            tag_rows.setdefault(tag[0], []).append(tag)
    return [_record(rows[p], tag_rows.get(p, ())) for p in pmids if p in rows]


def _record(row: Any, tag_rows: Sequence[Any]) -> dict[str, Any]:
    """What article_record gives for the Article and ArticleTags the store would build from
    ``row`` and its ``tag_rows`` (in id order), with retracted=row.retracted."""
    (
        pmid,
        title,
        pub_year,
        journal_title,
        journal_iso,
        doi,
        publication_types,
        retracted,
        study_type,
        evidence_level,
        combination_product,
        rules_version,
    ) = row
    publication_types = list(publication_types)
    if retracted is None:  # as Article.is_retracted decides (no comments loaded: none kept)
        retracted = "Retracted Publication" in publication_types
    record: dict[str, Any] = {
        "pmid": pmid,
        "title": title,
        "year": pub_year,
        "journal": journal_title or journal_iso,
        "doi": doi,
        "publication_types": publication_types,
    }
    if rules_version is None:  # untagged
        record.update(
            forms=[],
            routes=[],
            conditions=[],
            study_type=None,
            evidence_level=None,
            combination_product=None,
            population=[],
            retracted=retracted,
            tags=[],
        )
        return record
    by_kind: dict[str, list[str]] = {kind: [] for kind in _TAG_KINDS}
    provenance = []
    for _pmid, kind, value, field_, snippet in tag_rows:
        values = by_kind.get(kind)
        if values is not None:
            values.append(value)
        if field_ != "derived":
            provenance.append({"kind": kind, "value": value, "field": field_, "snippet": snippet})
    record.update(
        forms=list(in_vocabulary_order("form", by_kind["form"])),
        routes=list(in_vocabulary_order("route", by_kind["route"])),
        conditions=list(in_vocabulary_order("condition", by_kind["condition"])),
        study_type=study_type,
        evidence_level=evidence_level,
        combination_product=bool(combination_product),
        population=list(in_vocabulary_order("population", by_kind["population"])),
        retracted=retracted,
        tags=provenance,
    )
    return record


def load_articles(session: Session, pmids: Sequence[int]) -> list[StoredArticle]:
    """The stored articles for ``pmids``, in the order given."""
    found = {item.article.pmid: item for item in list_articles(session, pmids=pmids)}
    return [found[p] for p in pmids if p in found]


def find_articles(
    session: Session, filt: ArticleFilter, *, sort: str = "level", limit: int | None = None
) -> list[StoredArticle]:
    """Stored articles (with tags) matching ``filt``, in ``sort`` order, at most ``limit``."""
    return load_articles(session, select_pmids(session, filt, sort=sort, limit=limit))


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One page of matches: JSON records, the Articles when asked for, and whether more
    articles match than were returned."""

    records: list[dict[str, Any]]
    articles: list[Article] | None
    more: bool


def run_query(
    session: Session,
    filt: ArticleFilter,
    *,
    sort: str = "level",
    limit: int | None = None,
    with_articles: bool = False,
) -> QueryResult:
    """What ``aggregator query`` prints. Whole Articles (for RIS/BibTeX) only when
    ``with_articles``; otherwise only the columns the records show are read."""
    pmids = select_pmids(session, filt, sort=sort, limit=None if limit is None else limit + 1)
    more = limit is not None and len(pmids) > limit
    pmids = pmids[:limit] if limit is not None else pmids
    if not with_articles:
        return QueryResult(records=load_records(session, pmids), articles=None, more=more)
    from aggregator.export import article_record

    items = load_articles(session, pmids)
    return QueryResult(
        records=[article_record(i.article, i.tags, retracted=i.retracted) for i in items],
        articles=[i.article for i in items],
        more=more,
    )


def iter_articles(
    session: Session, filt: ArticleFilter, *, sort: str = "pmid"
) -> Iterator[StoredArticle]:
    """Every matching article, loaded in batches so an export never holds them all."""
    pmids = select_pmids(session, filt, sort=sort)
    for start in range(0, len(pmids), _BATCH):
        yield from load_articles(session, pmids[start : start + _BATCH])


# ---- statistics ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LibraryStats:
    """What ``aggregator stats`` reports."""

    articles: int
    tagged: int
    retracted: int
    by_form_and_type: dict[str, dict[str, int]]  # form -> study type -> articles
    by_year: dict[str, int]  # "2024" (or "unknown") -> articles
    last_run: dict[str, Any] | None
    database_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "tagged": self.tagged,
            "retracted": self.retracted,
            "by_form_and_type": self.by_form_and_type,
            "by_year": self.by_year,
            "last_run": self.last_run,
            "database_bytes": self.database_bytes,
        }


def _run_summary(run: RunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "new": run.new,
        "revised": run.revised,
        "unchanged": run.unchanged,
        "failed_queries": run.failed_queries,
    }


def database_size(engine: Engine, session: Session) -> int | None:
    """Bytes used by the database: the SQLite file (with its WAL) or pg_database_size."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return int(
            session.execute(
                sa.select(sa.func.pg_database_size(sa.func.current_database()))
            ).scalar_one()
        )
    if dialect == "sqlite":
        path = sqlite_path(engine.url)
        if path is None:  # in memory
            pages = session.execute(sa.text("PRAGMA page_count")).scalar_one()
            size = session.execute(sa.text("PRAGMA page_size")).scalar_one()
            return int(pages) * int(size)
        return sum(
            p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
    return None


def library_stats(engine: Engine, session: Session) -> LibraryStats:
    """Article counts by form x study type and by year, the last run and the database size."""
    articles, tags = _table(ArticleRow), _table(TagRow)
    count = sa.func.count()
    totals = session.execute(
        sa.select(
            count,
            sa.func.count(articles.c.rules_version),
            sa.func.coalesce(sa.func.sum(sa.case((articles.c.retracted, 1), else_=0)), 0),
        )
    ).one()
    matrix: dict[str, dict[str, int]] = {}
    form_rows = session.execute(
        sa.select(tags.c.value, articles.c.study_type, sa.func.count(sa.distinct(tags.c.pmid)))
        .join(articles, articles.c.pmid == tags.c.pmid)
        .where(tags.c.kind == "form")
        .group_by(tags.c.value, articles.c.study_type)
    ).all()
    for form, study_type, n in sorted(
        form_rows, key=lambda r: (FORMS.index(r[0]) if r[0] in FORMS else len(FORMS), r[0])
    ):
        matrix.setdefault(form, {})[study_type or "untagged"] = int(n)
    year_rows = session.execute(
        sa.select(articles.c.pub_year, count)
        .group_by(articles.c.pub_year)
        .order_by(sa.nulls_last(articles.c.pub_year.asc()))
    ).all()
    runs = recent_runs(session, limit=1)
    return LibraryStats(
        articles=int(totals[0]),
        tagged=int(totals[1]),
        retracted=int(totals[2]),
        by_form_and_type=matrix,
        by_year={str(year) if year is not None else "unknown": int(n) for year, n in year_rows},
        last_run=_run_summary(runs[0]) if runs else None,
        database_bytes=database_size(engine, session),
    )


# ---- read-only SQL -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SQLResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _deny_attach(action: int, *_args: object) -> int:
    """SQLite authorizer for the read-only `sql` connection: no ATTACH or DETACH."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _readonly_engine(url: str) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(parsed)
        if path is None:
            raise StoreError("sql needs an SQLite file or a PostgreSQL database, not :memory:")
        if not path.is_file():
            raise StoreError(f"database file {path} does not exist")
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"

        def connect() -> sqlite3.Connection:
            # mode=ro is enforced by SQLite itself; query_only also stops temp-table writes.
            connection = sqlite3.connect(uri, uri=True, timeout=30)
            connection.execute("PRAGMA query_only = ON")
            # mode=ro covers only the main database: ATTACH could create or write another file.
            connection.set_authorizer(_deny_attach)
            return connection

        return sa.create_engine("sqlite://", creator=connect)
    if backend == "postgresql":
        return sa.create_engine(parsed, isolation_level="AUTOCOMMIT")
    raise StoreError(f"sql supports SQLite and PostgreSQL, not {backend!r}")


def run_readonly_sql(url: str, statement: str) -> SQLResult:
    """Run one statement on a read-only connection; writes and several statements fail."""
    if not statement.strip():
        raise ReadOnlySQLError("no SQL statement given")
    engine = _readonly_engine(url)
    try:
        with store_errors(engine.url), engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            if raw is None:  # pragma: no cover - a live connection always has one
                raise StoreError(f"cannot connect to {describe_url(url)}")
            cursor: Any = raw.cursor()
            try:
                if engine.dialect.name == "postgresql":
                    cursor.execute("BEGIN READ ONLY")
                    # A prepared statement cannot hold several commands, so "...; COMMIT;
                    # DELETE ..." cannot escape the read-only transaction.
                    cursor.execute(statement, prepare=True)
                else:
                    cursor.execute(statement)
                columns = tuple(d[0] for d in cursor.description or ())
                rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
            except (sqlite3.Error, DBAPIError, Exception) as exc:
                if engine.dialect.name == "postgresql":
                    raw.rollback()
                raise ReadOnlySQLError(
                    f"SQL failed (read-only connection): {_first_line(exc)}"
                ) from exc
            finally:
                if engine.dialect.name == "postgresql":
                    raw.rollback()
                cursor.close()
        return SQLResult(columns=columns, rows=rows)
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---- re-tagging ----------------------------------------------------------------------------

Tagger = Callable[[Article], ArticleTags]
RETAG_KINDS: tuple[str, ...] = (
    "form",
    "route",
    "condition",
    "population",
    "study_type",
    "evidence_level",
    "combination_product",
    "provenance",
)


@dataclass(frozen=True, slots=True)
class TagChange:
    """An article whose study type or forms changed under the current rules."""

    pmid: int
    old_study_type: str | None
    new_study_type: str
    old_forms: tuple[str, ...]
    new_forms: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pmid": self.pmid,
            "old_study_type": self.old_study_type,
            "new_study_type": self.new_study_type,
            "old_forms": list(self.old_forms),
            "new_forms": list(self.new_forms),
        }


@dataclass(slots=True)
class RetagReport:
    """What ``retag`` did (or, with dry_run, would do)."""

    rules_version: str
    dry_run: bool
    examined: int = 0
    updated: int = 0  # articles whose stored tags were (or would be) replaced
    changed_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RETAG_KINDS, 0))
    changes: list[TagChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules_version": self.rules_version,
            "dry_run": self.dry_run,
            "examined": self.examined,
            "updated": self.updated,
            "changed_by_kind": dict(self.changed_by_kind),
            "changes": [c.to_dict() for c in self.changes],
        }


def _provenance(tags: ArticleTags) -> frozenset[tuple[str, str, str, str]]:
    # The store keeps one row per (kind, value, field), first snippet wins: compare the same.
    first: dict[tuple[str, str, str], str] = {}
    for tag in tags.tags:
        first.setdefault((tag.kind, tag.value, tag.field), tag.snippet)
    return frozenset((k, v, f, s) for (k, v, f), s in first.items())


def _changed_kinds(old: ArticleTags | None, new: ArticleTags) -> list[str]:
    if old is None:
        return list(RETAG_KINDS)
    pairs: dict[str, tuple[Any, Any]] = {
        "form": (set(old.forms), set(new.forms)),
        "route": (set(old.routes), set(new.routes)),
        "condition": (set(old.conditions), set(new.conditions)),
        "population": (set(old.population), set(new.population)),
        "study_type": (old.study_type, new.study_type),
        "evidence_level": (old.evidence_level, new.evidence_level),
        "combination_product": (old.combination_product, new.combination_product),
        "provenance": (_provenance(old), _provenance(new)),
    }
    return [kind for kind, (before, after) in pairs.items() if before != after]


def retag(
    session: Session,
    tagger: Tagger,
    *,
    rules_version: str,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RetagReport:
    """Re-tag every stored article with ``tagger`` and store what changed (unless dry_run).

    The caller commits (or rolls back); ``progress`` gets the number of articles examined
    after each batch.
    """
    report = RetagReport(rules_version=rules_version, dry_run=dry_run)
    articles = _table(ArticleRow)
    pmids = [
        int(p)
        for p in session.execute(sa.select(articles.c.pmid).order_by(articles.c.pmid)).scalars()
    ]
    for start in range(0, len(pmids), _BATCH):
        for stored in list_articles(session, pmids=pmids[start : start + _BATCH]):
            report.examined += 1
            new = tagger(stored.article)
            kinds = _changed_kinds(stored.tags, new)
            stale = stored.tags is None or stored.tags.rules_version != new.rules_version
            if kinds or stale:
                report.updated += 1
                if not dry_run:
                    replace_tags(session, stored.article.pmid, new)
            for kind in kinds:
                report.changed_by_kind[kind] += 1
            if "study_type" in kinds or "form" in kinds:
                old = stored.tags
                report.changes.append(
                    TagChange(
                        pmid=stored.article.pmid,
                        old_study_type=old.study_type if old else None,
                        new_study_type=new.study_type,
                        old_forms=old.forms if old else (),
                        new_forms=new.forms,
                    )
                )
        if progress is not None:
            progress(report.examined)
    return report


def tag_list(tags: ArticleTags | None) -> list[Tag]:
    """The provenance tags of an article, grouped by kind in vocabulary order."""
    if tags is None:
        return []
    from aggregator.vocab import TAG_KINDS

    order = {kind: i for i, kind in enumerate(TAG_KINDS)}
    return sorted(tags.tags, key=lambda t: (order.get(t.kind, len(order)), t.value, t.field))


def sqlite_file(engine: Engine) -> Path | None:
    """The SQLite file behind ``engine`` (None for PostgreSQL or in-memory)."""
    return sqlite_path(engine.url)
