"""Articles as stored: upserts keyed on PMID, tags, retractions, revisions, and reads.

All functions take an open SQLAlchemy/SQLModel ``Session`` and never commit: the caller owns
the transaction. Writes are upserts keyed on the PMID, using each dialect's
``INSERT ... ON CONFLICT``, so running anything twice never duplicates rows. Timestamps passed
in (``now``) must be timezone-aware; tests inject them.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aggregator.article import Article
from aggregator.errors import StoreError
from aggregator.findings import Findings
from aggregator.store.codec import (
    COMPARED_FIELDS,
    FORMAT_ONLY_DETAIL,
    QUIET_FIELDS,
    TAG_COLUMNS,
    article_from_columns,
    columns_and_hash,
    json_ready,
    portable_value,
    tag_columns,
    tag_rows,
    tags_from_rows,
)
from aggregator.store.models import (
    ARTICLE_SOURCES,
    ArticleRevisionRow,
    ArticleRow,
    PendingRetractionRow,
    QueryHitRow,
    TagRow,
)
from aggregator.store.tables import (
    CHUNK,
    chunks,
    dialect_insert,
    dialect_insert_for,
    rowcount,
    table_of,
)
from aggregator.timeutil import require_aware
from aggregator.vocab import ArticleTags

UpsertStatus = Literal["new", "revised", "unchanged"]


@dataclass(frozen=True, slots=True)
class UpsertResult:
    """What :func:`upsert_article` did with one record."""

    pmid: int
    status: UpsertStatus
    changed_fields: tuple[str, ...] = ()  # for "revised": e.g. ("title", "retracted")
    retracted: bool = False  # the stored article is retracted (now or before)
    newly_retracted: bool = False  # ... and this upsert is how we learned it


@dataclass(frozen=True, slots=True)
class StoredArticle:
    """An article as stored: the parsed record, the tagger's conclusions and our bookkeeping."""

    article: Article
    tags: ArticleTags | None  # None until tagged
    source: str
    content_hash: str | None
    first_seen_at: dt.datetime
    last_updated_at: dt.datetime
    last_fetched_at: dt.datetime
    retracted: bool
    retracted_at: dt.datetime | None
    retraction_notice_pmid: int | None
    query_names: tuple[str, ...] = ()  # saved searches that found it, sorted

    @property
    def findings(self) -> Findings | None:
        """What the study found (stored with its tags, revision 0009); None until tagged by
        rules that extract findings (``aggregator retag`` fills them in)."""
        return self.tags.findings if self.tags is not None else None


# ---- helpers -------------------------------------------------------------------------------


def _add_revision(
    session: Session,
    *,
    pmid: int,
    now: dt.datetime,
    run_id: int | None,
    changed: Sequence[str],
    old: Mapping[str, Any],
    new: Mapping[str, Any],
) -> None:
    session.execute(
        sa.insert(table_of(ArticleRevisionRow)).values(
            pmid=pmid,
            seen_at=now,
            run_id=run_id,
            changed_fields=list(changed),
            old_values={name: json_ready(old[name]) for name in changed},
            new_values={name: json_ready(new[name]) for name in changed},
        )
    )


# ---- articles ------------------------------------------------------------------------------
# Statements are built once per dialect and reused with bound parameters, so SQLAlchemy
# compiles each one once instead of building and hashing a new statement per article.

# Columns read to decide what an upsert of a stored article has to write.
_STATE_COLUMNS = (
    "pmid",
    "content_hash",
    "raw_xml",
    "source_format",
    "retracted",
    "retraction_notice",
    *TAG_COLUMNS,
)
_TAG_ROW_FIELDS = ("kind", "value", "field", "snippet", "rules_version")


def _in_pmids(column: Any) -> Any:
    return column.in_(sa.bindparam("pmids", expanding=True))


@functools.cache
def _statements(dialect: str) -> dict[str, Any]:
    """The statements of :func:`upsert_articles`, built once per dialect."""
    articles, tags = table_of(ArticleRow), table_of(TagRow)
    pending = table_of(PendingRetractionRow)
    insert_article = dialect_insert_for(dialect, articles)
    return {
        "state": sa.select(*(articles.c[name] for name in _STATE_COLUMNS)).where(
            _in_pmids(articles.c.pmid)
        ),
        "full_rows": sa.select(articles).where(_in_pmids(articles.c.pmid)),
        # RETURNING tells which rows another writer did not insert first.
        "insert_article": insert_article.on_conflict_do_nothing(index_elements=["pmid"]).returning(
            articles.c.pmid
        ),
        # The SET clause comes from the parameter names, so one statement serves every shape.
        "update_article": sa.update(articles).where(articles.c.pmid == sa.bindparam("row_pmid")),
        "pending": sa.select(pending.c.pmid, pending.c.notice_pmid).where(
            _in_pmids(pending.c.pmid)
        ),
        "delete_pending": sa.delete(pending).where(_in_pmids(pending.c.pmid)),
        "tags": sa.select(tags.c.pmid, *(tags.c[name] for name in _TAG_ROW_FIELDS))
        .where(_in_pmids(tags.c.pmid))
        .order_by(tags.c.id),
        "delete_tags": sa.delete(tags).where(_in_pmids(tags.c.pmid)),
        "insert_tags": sa.insert(tags),
        "insert_revision": sa.insert(table_of(ArticleRevisionRow)),
    }


@dataclass(slots=True)
class _Item:
    """One article of a batch on its way into the database."""

    article: Article
    tags: ArticleTags | None
    columns: dict[str, Any]
    digest: str


def upsert_article(
    session: Session,
    article: Article,
    *,
    tags: ArticleTags | None,
    run_id: int | None,
    now: dt.datetime,
    source: str,
) -> UpsertResult:
    """Insert a new article or update a stored one in place, recording real changes.

    A changed record (any parsed field but ``revised_date`` alone) gets an article_revision row.
    Retraction is sticky: the record saying so, a notice seen earlier (pending), or a notice
    stored later sets ``retracted`` once and for all. When the record is itself a retraction
    notice, the articles it retracts are marked (see :func:`mark_retracted`). ``tags`` replace
    the stored tags when given.
    """
    return upsert_articles(session, [(article, tags)], run_id=run_id, now=now, source=source)[0]


def upsert_articles(
    session: Session,
    items: Iterable[tuple[Article, ArticleTags | None]],
    *,
    run_id: int | None,
    now: dt.datetime,
    source: str,
) -> list[UpsertResult]:
    """:func:`upsert_article` for many ``(article, tags)`` pairs, in order, with a few
    statements per batch instead of several per article. Results and stored rows are the same
    as calling :func:`upsert_article` for each pair in turn."""
    require_aware(now, "now")
    if source not in ARTICLE_SOURCES:
        raise ValueError(f"unknown article source {source!r}; valid: {', '.join(ARTICLE_SOURCES)}")
    writer = _BatchWriter(session, run_id=run_id, now=now, source=source)
    results: list[UpsertResult] = []
    batch: list[_Item] = []
    batch_pmids: set[int] = set()
    for article, tags in items:
        # A PMID twice in one batch would be compared with stale state: write the batch first.
        if article.pmid in batch_pmids:
            results += writer.write(batch)
            batch, batch_pmids = [], set()
        columns, digest = columns_and_hash(article)
        batch.append(_Item(article, tags, columns, digest))
        batch_pmids.add(article.pmid)
        # A retraction notice changes other articles (maybe later ones in this batch), so it
        # ends the batch: everything after it then reads the state it left behind.
        if article.retracts or len(batch) >= CHUNK:
            results += writer.write(batch)
            batch, batch_pmids = [], set()
    if batch:
        results += writer.write(batch)
    return results


class _BatchWriter:
    """Writes batches of distinct articles (only the last may be a retraction notice)."""

    def __init__(
        self, session: Session, *, run_id: int | None, now: dt.datetime, source: str
    ) -> None:
        self.session = session
        self.run_id = run_id
        self.now = now
        self.source = source
        self.sql = _statements(session.get_bind().dialect.name)

    def _rows(self, name: str, pmids: Iterable[int]) -> list[Any]:
        wanted = list(pmids)
        if not wanted:
            return []
        return list(self.session.execute(self.sql[name], {"pmids": wanted}).mappings())

    def write(self, batch: Sequence[_Item]) -> list[UpsertResult]:
        state = {row["pmid"]: row for row in self._rows("state", (i.article.pmid for i in batch))}
        fresh = [item for item in batch if item.article.pmid not in state]
        results = self._insert(fresh)
        lost = [item.article.pmid for item in fresh if item.article.pmid not in results]
        if lost:  # another writer stored them first: update them like any stored article
            state.update({row["pmid"]: row for row in self._rows("state", lost)})
        tags = self._plan_tags(batch, state)
        stored = [item for item in batch if item.article.pmid in state]
        results.update(self._update(stored, state, tags.article_columns))
        if tags.replaced:
            self.session.execute(self.sql["delete_tags"], {"pmids": tags.replaced})
        if tags.rows:
            self.session.execute(self.sql["insert_tags"], tags.rows)
        for item in batch:
            for target in item.article.retracts:
                if target != item.article.pmid:
                    mark_retracted(self.session, target, item.article.pmid, self.now, self.run_id)
        return [results[item.article.pmid] for item in batch]

    def _insert(self, fresh: Sequence[_Item]) -> dict[int, UpsertResult]:
        if not fresh:
            return {}
        pending = {
            row["pmid"]: row["notice_pmid"]
            for row in self._rows("pending", (item.article.pmid for item in fresh))
        }
        rows = []
        for item in fresh:
            notice = pending.get(item.article.pmid)
            retracted = item.article.is_retracted or item.article.pmid in pending
            rows.append(
                {
                    **item.columns,
                    **tag_columns(item.tags),
                    "content_hash": item.digest,
                    "source": self.source,
                    "first_seen_at": self.now,
                    "last_updated_at": self.now,
                    "last_fetched_at": self.now,
                    "retracted": retracted,
                    "retracted_at": self.now if retracted else None,
                    "retraction_notice_pmid": notice,
                    "retraction_notice": item.article.is_retraction_notice,
                }
            )
        inserted = set(self.session.execute(self.sql["insert_article"], rows).scalars())
        applied = [pmid for pmid in pending if pmid in inserted]
        if applied:
            self.session.execute(self.sql["delete_pending"], {"pmids": applied})
        return {
            row["pmid"]: UpsertResult(
                pmid=row["pmid"],
                status="new",
                retracted=row["retracted"],
                newly_retracted=row["retracted"],
            )
            for row in rows
            if row["pmid"] in inserted
        }

    def _update(
        self,
        stored: Sequence[_Item],
        state: Mapping[int, Mapping[str, Any]],
        tag_columns: Mapping[int, dict[str, Any]],
    ) -> dict[int, UpsertResult]:
        changed_pmids = [
            item.article.pmid
            for item in stored
            if state[item.article.pmid]["content_hash"] != item.digest
        ]
        # Whole rows only for records whose content changed (rare), to compare field by field.
        full_rows = {row["pmid"]: row for row in self._rows("full_rows", changed_pmids)}
        updates: list[dict[str, Any]] = []
        revisions: list[dict[str, Any]] = []
        results: dict[int, UpsertResult] = {}
        for item in stored:
            pmid = item.article.pmid
            existing = full_rows.get(pmid, state[pmid])
            values, result, revision = self._changes(item, existing)
            updates.append({"row_pmid": pmid, **values, **tag_columns.get(pmid, {})})
            results[pmid] = result
            if revision is not None:
                revisions.append(revision)
        _execute_grouped(self.session, self.sql["update_article"], updates)
        if revisions:
            self.session.execute(self.sql["insert_revision"], revisions)
        return results

    def _changes(
        self, item: _Item, existing: Mapping[str, Any]
    ) -> tuple[dict[str, Any], UpsertResult, dict[str, Any] | None]:
        """Column values to write, the result and the revision row (if any) of one update.

        A record compared with one stored from the other format (MEDLINE text vs PubMed XML)
        is compared without what only XML carries (FORMAT_ONLY_DETAIL), so the same record
        in both formats is no revision. The richer form is kept: XML fills in that detail
        (and its raw record) over MEDLINE text, MEDLINE text never removes it."""
        article, columns, digest = item.article, item.columns, item.digest
        was_retracted = bool(existing["retracted"])
        newly_retracted = article.is_retracted and not was_retracted
        content_changed = existing["content_hash"] != digest
        mixed = existing["source_format"] != columns["source_format"]
        differing: list[str] = []
        changed: list[str] = []
        if content_changed:
            differing = [name for name in COMPARED_FIELDS if existing[name] != columns[name]]
            changed = [
                name
                for name in differing
                if not (mixed and name in FORMAT_ONLY_DETAIL)
                or portable_value(name, existing[name]) != portable_value(name, columns[name])
            ]
        # MEDLINE text after XML of the same content: keep the XML's detail and raw record.
        keep_detail = (
            mixed
            and columns["source_format"] == "medline"
            and not FORMAT_ONLY_DETAIL.intersection(changed)
        )
        if newly_retracted:
            changed.append("retracted")
        values: dict[str, Any] = {"last_fetched_at": self.now, "source": self.source}
        if not keep_detail:
            if existing["raw_xml"] != columns["raw_xml"]:
                values["raw_xml"] = columns["raw_xml"]
            if existing["source_format"] != columns["source_format"]:
                values["source_format"] = columns["source_format"]
        if content_changed:
            values["content_hash"] = digest
            written = [n for n in differing if not (keep_detail and n in FORMAT_ONLY_DETAIL)]
            values.update({name: columns[name] for name in written})
        if existing["retraction_notice"] != article.is_retraction_notice:
            values["retraction_notice"] = article.is_retraction_notice
        revised = bool(set(changed) - QUIET_FIELDS)
        if revised:
            values["last_updated_at"] = self.now
        if newly_retracted:
            values.update(retracted=True, retracted_at=self.now)
        if not revised:
            result = UpsertResult(pmid=article.pmid, status="unchanged", retracted=was_retracted)
            return values, result, None
        old = {**existing, "retracted": was_retracted}
        new = {**columns, "retracted": was_retracted or newly_retracted}
        revision = {
            "pmid": article.pmid,
            "seen_at": self.now,
            "run_id": self.run_id,
            "changed_fields": list(changed),
            "old_values": {name: json_ready(old[name]) for name in changed},
            "new_values": {name: json_ready(new[name]) for name in changed},
        }
        result = UpsertResult(
            pmid=article.pmid,
            status="revised",
            changed_fields=tuple(changed),
            retracted=was_retracted or newly_retracted,
            newly_retracted=newly_retracted,
        )
        return values, result, revision

    def _plan_tags(
        self, batch: Sequence[_Item], state: Mapping[int, Mapping[str, Any]]
    ) -> _TagPlan:
        """What storing the given tags takes. A stored article whose tags are already exactly
        these (the usual re-fetch) is left alone rather than deleting and re-adding the rows."""
        plan = _TagPlan()
        tagged = [item for item in batch if item.tags is not None]
        stored = [item.article.pmid for item in tagged if item.article.pmid in state]
        stored_rows: dict[int, list[tuple[Any, ...]]] = {pmid: [] for pmid in stored}
        for row in self._rows("tags", stored):
            stored_rows[row["pmid"]].append(tuple(row[name] for name in _TAG_ROW_FIELDS))
        for item in tagged:
            pmid, tags = item.article.pmid, cast(ArticleTags, item.tags)
            rows = tag_rows(pmid, tags)
            if pmid in state:  # new articles got their tag columns with the INSERT
                columns = tag_columns(tags)
                if stored_rows[pmid] == [
                    tuple(row[name] for name in _TAG_ROW_FIELDS) for row in rows
                ] and all(state[pmid][name] == value for name, value in columns.items()):
                    continue
                plan.replaced.append(pmid)
                plan.article_columns[pmid] = columns
            plan.rows.extend(rows)
        return plan


@dataclass(slots=True)
class _TagPlan:
    """Tag writes of one batch: articles whose tags are replaced, their new tag columns and
    every tag row to insert."""

    replaced: list[int] = field(default_factory=list)
    article_columns: dict[int, dict[str, Any]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _execute_grouped(session: Session, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Run ``statement`` once per set of parameter names (an executemany needs one shape)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        session.execute(statement, group)


def mark_retracted(
    session: Session,
    pmid: int,
    notice_pmid: int,
    now: dt.datetime,
    run_id: int | None,
) -> bool:
    """Record that ``notice_pmid`` retracts ``pmid``; True when a stored article just became
    retracted. For an article not stored yet the notice is kept and applied when it arrives."""
    require_aware(now, "now")
    table = table_of(ArticleRow)
    row = (
        session.execute(
            sa.select(table.c.retracted, table.c.retraction_notice_pmid).where(table.c.pmid == pmid)
        )
        .mappings()
        .first()
    )
    if row is None:
        statement = (
            dialect_insert(session, table_of(PendingRetractionRow))
            .values(pmid=pmid, notice_pmid=notice_pmid, noted_at=now, run_id=run_id)
            .on_conflict_do_nothing(index_elements=["pmid"])
        )
        session.execute(statement)
        return False
    if row["retracted"]:
        if row["retraction_notice_pmid"] is None:
            session.execute(
                sa.update(table)
                .where(table.c.pmid == pmid)
                .values(retraction_notice_pmid=notice_pmid)
            )
        return False
    session.execute(
        sa.update(table)
        .where(table.c.pmid == pmid)
        .values(
            retracted=True,
            retracted_at=now,
            retraction_notice_pmid=notice_pmid,
            last_updated_at=now,
        )
    )
    _add_revision(
        session,
        pmid=pmid,
        now=now,
        run_id=run_id,
        changed=["retracted", "retraction_notice_pmid"],
        old={"retracted": False, "retraction_notice_pmid": row["retraction_notice_pmid"]},
        new={"retracted": True, "retraction_notice_pmid": notice_pmid},
    )
    return True


def pending_retractions(session: Session) -> dict[int, int]:
    """Retraction notices waiting for their article: {retracted pmid: notice pmid}."""
    table = table_of(PendingRetractionRow)
    rows = session.execute(sa.select(table.c.pmid, table.c.notice_pmid)).all()
    return {int(pmid): int(notice) for pmid, notice in rows}


def stored_pmids(session: Session, pmids: Iterable[int]) -> set[int]:
    """The subset of ``pmids`` already stored."""
    table = table_of(ArticleRow)
    wanted = sorted(set(pmids))
    found: set[int] = set()
    for chunk in chunks(wanted):
        found.update(
            session.execute(sa.select(table.c.pmid).where(table.c.pmid.in_(chunk))).scalars()
        )
    return found


def last_fetched_times(session: Session, pmids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each stored PMID among ``pmids`` was last fetched from NCBI (aware UTC)."""
    table = table_of(ArticleRow)
    found: dict[int, dt.datetime] = {}
    for chunk in chunks(sorted(set(pmids))):
        rows = session.execute(
            sa.select(table.c.pmid, table.c.last_fetched_at).where(table.c.pmid.in_(chunk))
        ).all()
        found.update({int(pmid): fetched_at for pmid, fetched_at in rows})
    return found


# ---- tags ----------------------------------------------------------------------------------


def replace_tags(session: Session, pmid: int, tags: ArticleTags) -> None:
    """Replace all tags of a stored article and its study type/evidence columns."""
    article_table = table_of(ArticleRow)
    updated = session.execute(
        sa.update(article_table).where(article_table.c.pmid == pmid).values(tag_columns(tags))
    )
    if rowcount(updated) == 0:
        raise StoreError(f"cannot tag PMID {pmid}: the article is not stored")
    tag_table = table_of(TagRow)
    session.execute(sa.delete(tag_table).where(tag_table.c.pmid == pmid))
    rows = tag_rows(pmid, tags)
    if rows:
        session.execute(sa.insert(tag_table), rows)


# ---- searches: hits and checkpoints --------------------------------------------------------


# ---- runs ----------------------------------------------------------------------------------


# ---- reading articles ----------------------------------------------------------------------


def _stored_articles(session: Session, where: Sequence[Any]) -> list[StoredArticle]:
    articles, tag_table, hits = table_of(ArticleRow), table_of(TagRow), table_of(QueryHitRow)
    rows = (
        session.execute(sa.select(articles).where(*where).order_by(articles.c.pmid))
        .mappings()
        .all()
    )
    if not rows:
        return []
    pmids = [row["pmid"] for row in rows]
    tags_by_pmid: dict[int, list[Any]] = {}
    names_by_pmid: dict[int, list[str]] = {}
    for chunk in chunks(pmids):
        tag_statement = (
            sa.select(tag_table).where(tag_table.c.pmid.in_(chunk)).order_by(tag_table.c.id)
        )
        for tag in session.execute(tag_statement):
            tags_by_pmid.setdefault(tag.pmid, []).append(tag)
        hit_statement = sa.select(hits.c.pmid, hits.c.query_name).where(hits.c.pmid.in_(chunk))
        for pmid, name in session.execute(hit_statement):
            names_by_pmid.setdefault(pmid, []).append(name)
    return [
        StoredArticle(
            article=article_from_columns(row),
            tags=tags_from_rows(row, tags_by_pmid.get(row["pmid"], [])),
            source=row["source"],
            content_hash=row["content_hash"],
            first_seen_at=row["first_seen_at"],
            last_updated_at=row["last_updated_at"],
            last_fetched_at=row["last_fetched_at"],
            retracted=bool(row["retracted"]),
            retracted_at=row["retracted_at"],
            retraction_notice_pmid=row["retraction_notice_pmid"],
            query_names=tuple(sorted(names_by_pmid.get(row["pmid"], []))),
        )
        for row in rows
    ]


def get_article(session: Session, pmid: int) -> StoredArticle | None:
    """One stored article with tags and bookkeeping, or None."""
    found = _stored_articles(session, [table_of(ArticleRow).c.pmid == pmid])
    return found[0] if found else None


def list_articles(
    session: Session,
    *,
    pmids: Iterable[int] | None = None,
    first_seen_since: dt.datetime | None = None,
    retracted: bool | None = None,
    form: str | None = None,
    study_type: str | None = None,
) -> list[StoredArticle]:
    """Stored articles with their tags, by PMID, filtered by any of the arguments given."""
    articles, tag_table = table_of(ArticleRow), table_of(TagRow)
    where: list[Any] = []
    if pmids is not None:
        wanted = sorted(set(pmids))
        if not wanted:
            return []
        if len(wanted) > CHUNK:
            return [
                item
                for chunk in chunks(wanted)
                for item in list_articles(
                    session,
                    pmids=chunk,
                    first_seen_since=first_seen_since,
                    retracted=retracted,
                    form=form,
                    study_type=study_type,
                )
            ]
        where.append(articles.c.pmid.in_(wanted))
    if first_seen_since is not None:
        where.append(articles.c.first_seen_at >= first_seen_since)
    if retracted is not None:
        where.append(articles.c.retracted == retracted)
    if study_type is not None:
        where.append(articles.c.study_type == study_type)
    if form is not None:
        where.append(
            articles.c.pmid.in_(
                sa.select(tag_table.c.pmid).where(
                    tag_table.c.kind == "form", tag_table.c.value == form
                )
            )
        )
    return _stored_articles(session, where)


def retracted_since(session: Session, since: dt.datetime) -> list[StoredArticle]:
    """Articles we learned were retracted at or after ``since``."""
    articles = table_of(ArticleRow)
    return _stored_articles(session, [articles.c.retracted_at >= since])


def article_history(session: Session, pmid: int) -> list[ArticleRevisionRow]:
    """All recorded revisions of one article, oldest first."""
    statement = (
        sa.select(ArticleRevisionRow)
        .where(ArticleRevisionRow.pmid == pmid)  # type: ignore[arg-type]
        .order_by(ArticleRevisionRow.seen_at, ArticleRevisionRow.id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


def revisions_since(session: Session, since: dt.datetime) -> list[ArticleRevisionRow]:
    """Revisions of any article recorded at or after ``since``, oldest first."""
    statement = (
        sa.select(ArticleRevisionRow)
        .where(ArticleRevisionRow.seen_at >= since)  # type: ignore[arg-type]
        .order_by(ArticleRevisionRow.seen_at, ArticleRevisionRow.id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


def iter_article_batches(session: Session, size: int = CHUNK) -> Iterator[list[StoredArticle]]:
    """Every stored article (with tags), in PMID order, ``size`` at a time: a pass over the
    whole database that never holds it all."""
    articles = table_of(ArticleRow)
    pmids = [
        int(p)
        for p in session.execute(sa.select(articles.c.pmid).order_by(articles.c.pmid)).scalars()
    ]
    for chunk in chunks(pmids, size):
        yield list_articles(session, pmids=chunk)


def count_articles(session: Session) -> int:
    """How many articles are stored."""
    return int(
        session.execute(sa.select(sa.func.count()).select_from(table_of(ArticleRow))).scalar_one()
    )


# ---- digests -------------------------------------------------------------------------------
