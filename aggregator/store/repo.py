"""Every database read and write the pipeline, digest and CLI use.

All functions take an open SQLAlchemy/SQLModel ``Session`` and never commit: the caller owns
the transaction. Writes are upserts keyed on natural keys (PMID, query name, ISO week), using
each dialect's ``INSERT ... ON CONFLICT``, so running anything twice never duplicates rows.
Timestamps passed in (``now``) must be timezone-aware; tests inject them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aggregator.article import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Grant,
    MeshHeading,
    MeshQualifier,
)
from aggregator.errors import StoreError
from aggregator.store.models import (
    ARTICLE_SOURCES,
    RUN_KINDS,
    RUN_STATUSES,
    ArticleRevisionRow,
    ArticleRow,
    DigestRow,
    PendingRetractionRow,
    QueryHitRow,
    RunRow,
    SavedQueryStateRow,
    TagRow,
)
from aggregator.vocab import ArticleTags, Tag, in_vocabulary_order

UpsertStatus = Literal["new", "revised", "unchanged"]

# Article fields kept as JSON columns, and how to rebuild each element.
_JSON_FIELDS = (
    "abstract_sections",
    "authors",
    "languages",
    "publication_types",
    "mesh_headings",
    "chemicals",
    "keywords",
    "grants",
    "comments_corrections",
)
_ARTICLE_FIELDS = tuple(f.name for f in dataclasses.fields(Article))
# Parsed fields compared to decide whether a record really changed. raw_xml is formatting;
# source_format only says whether it came as XML or MEDLINE text.
_COMPARED_FIELDS = tuple(
    f for f in _ARTICLE_FIELDS if f not in {"pmid", "raw_xml", "source_format"}
)
# PubMed bumps DateRevised on every touch; on its own that is not a revision worth reporting.
_QUIET_FIELDS = frozenset({"revised_date"})
# Stored with the article row, parsed but not part of its content hash (see content_hash).
_UNHASHED_FIELDS = frozenset({"raw_xml", "source_format"})
# Article columns holding the tagger's conclusions (per-value tags are rows of the tag table).
_TAG_COLUMNS = (
    "study_type",
    "evidence_level",
    "combination_product",
    "is_direct",
    "rules_version",
    "forms",
)
# Fields converted to JSON values: every hashed field (unhashed ones, such as the raw XML, are
# stored as they are).
_CONVERTED_FIELDS = tuple(f for f in _ARTICLE_FIELDS if f not in _UNHASHED_FIELDS)
_CHUNK = 500  # keeps IN (...) lists well under SQLite's bound-parameter limit


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _rowcount(result: Any) -> int:
    """Rows matched by an INSERT/UPDATE/DELETE (CursorResult.rowcount)."""
    return int(cast(sa.CursorResult[Any], result).rowcount)


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


# ---- helpers -------------------------------------------------------------------------------


def _require_aware(now: dt.datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now.isoformat()} given; pass an aware UTC time")


def _insert(session: Session, table: sa.Table) -> Any:
    """The dialect's INSERT, which has on_conflict_do_nothing/on_conflict_do_update."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"unsupported database backend {dialect!r}; use SQLite or PostgreSQL")


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _json_ready(value: Any) -> Any:
    """Plain JSON types (tuples become lists, dates ISO strings), as a JSON column returns them."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


@functools.cache
def _field_names(cls: Any) -> tuple[str, ...]:
    """Field names of a dataclass (dataclasses.fields() is slow in a hot loop)."""
    return tuple(f.name for f in dataclasses.fields(cls))


def _plain(value: Any) -> Any:
    """Plain JSON types, as a JSON column returns them: dataclasses become dicts, tuples lists.

    Much cheaper than ``dataclasses.asdict`` (which deep-copies every leaf) plus a JSON round
    trip, and it gives the same values for the types Article holds.
    """
    if value is None or isinstance(value, str | int | float):  # most leaves: return at once
        return value
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    cls: Any = type(value)
    if hasattr(cls, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in _field_names(cls)}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _columns_and_hash(article: Article) -> tuple[dict[str, Any], str]:
    """:func:`article_columns` and :func:`content_hash` of one article, converting it once.

    orjson turns the fields into plain JSON values (dataclasses into dicts in field order,
    tuples into lists, dates into ISO text) and writes the hashed text, both in C: the same
    values as :func:`_plain` and the same text as ``json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`` (tests check both), at a fraction of the
    cost, which was the largest part of storing an article.
    """
    values = {name: getattr(article, name) for name in _CONVERTED_FIELDS}
    plain = orjson.loads(orjson.dumps(values))
    columns = {
        name: plain[name] if name in _JSON_FIELDS else getattr(article, name)
        for name in _ARTICLE_FIELDS
    }
    text = orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
    return columns, hashlib.sha256(text).hexdigest()


def content_hash(article: Article) -> str:
    """sha256 of the canonical parsed record (sorted-key JSON of its fields).

    Whitespace or attribute order in the raw XML, and whether the record came as XML or
    MEDLINE text, do not change it; any parsed field does. Migration 0002 backfills the same
    formula from stored columns.
    """
    return _columns_and_hash(article)[1]


def article_columns(article: Article) -> dict[str, Any]:
    """The article's parsed fields as column values (JSON columns as plain lists/dicts)."""
    return _columns_and_hash(article)[0]


def _qualifier(data: Mapping[str, Any]) -> MeshQualifier:
    return MeshQualifier(name=data["name"], ui=data.get("ui"), major=bool(data.get("major")))


def _mesh(data: Mapping[str, Any]) -> MeshHeading:
    return MeshHeading(
        descriptor=data["descriptor"],
        ui=data.get("ui"),
        major=bool(data.get("major")),
        qualifiers=tuple(_qualifier(q) for q in data.get("qualifiers") or ()),
    )


def _author(data: Mapping[str, Any]) -> Author:
    return Author(
        last_name=data.get("last_name"),
        fore_name=data.get("fore_name"),
        initials=data.get("initials"),
        collective_name=data.get("collective_name"),
        affiliations=tuple(data.get("affiliations") or ()),
        orcid=data.get("orcid"),
    )


def article_from_columns(row: Mapping[Any, Any]) -> Article:
    """Rebuild the Article dataclass from a stored article row."""
    values = {name: row[name] for name in _ARTICLE_FIELDS}
    values["abstract_sections"] = tuple(AbstractSection(**s) for s in row["abstract_sections"])
    values["authors"] = tuple(_author(a) for a in row["authors"])
    values["mesh_headings"] = tuple(_mesh(m) for m in row["mesh_headings"])
    values["chemicals"] = tuple(Chemical(**c) for c in row["chemicals"])
    values["grants"] = tuple(Grant(**g) for g in row["grants"])
    values["comments_corrections"] = tuple(
        CommentCorrection(**c) for c in row["comments_corrections"]
    )
    for name in ("languages", "publication_types", "keywords"):
        values[name] = tuple(row[name])
    return Article(**values)


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
        sa.insert(_table(ArticleRevisionRow)).values(
            pmid=pmid,
            seen_at=now,
            run_id=run_id,
            changed_fields=list(changed),
            old_values={name: _json_ready(old[name]) for name in changed},
            new_values={name: _json_ready(new[name]) for name in changed},
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
    *_TAG_COLUMNS,
)
_TAG_ROW_FIELDS = ("kind", "value", "field", "snippet", "rules_version")


def _in_pmids(column: Any) -> Any:
    return column.in_(sa.bindparam("pmids", expanding=True))


@functools.cache
def _statements(dialect: str) -> dict[str, Any]:
    """The statements of :func:`upsert_articles`, built once per dialect."""
    articles, tags = _table(ArticleRow), _table(TagRow)
    pending = _table(PendingRetractionRow)
    if dialect == "postgresql":
        insert_article: Any = postgresql.insert(articles)
    elif dialect == "sqlite":
        insert_article = sqlite.insert(articles)
    else:
        raise StoreError(f"unsupported database backend {dialect!r}; use SQLite or PostgreSQL")
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
        "insert_revision": sa.insert(_table(ArticleRevisionRow)),
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
    _require_aware(now)
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
        columns, digest = _columns_and_hash(article)
        batch.append(_Item(article, tags, columns, digest))
        batch_pmids.add(article.pmid)
        # A retraction notice changes other articles (maybe later ones in this batch), so it
        # ends the batch: everything after it then reads the state it left behind.
        if article.retracts or len(batch) >= _CHUNK:
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
                    **_tag_columns(item.tags),
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
        """Column values to write, the result and the revision row (if any) of one update."""
        article, columns, digest = item.article, item.columns, item.digest
        was_retracted = bool(existing["retracted"])
        newly_retracted = article.is_retracted and not was_retracted
        content_changed = existing["content_hash"] != digest
        changed: list[str] = []
        if content_changed:
            changed = [name for name in _COMPARED_FIELDS if existing[name] != columns[name]]
        if newly_retracted:
            changed.append("retracted")
        values: dict[str, Any] = {"last_fetched_at": self.now, "source": self.source}
        if existing["raw_xml"] != columns["raw_xml"]:
            values["raw_xml"] = columns["raw_xml"]
        if existing["source_format"] != columns["source_format"]:
            values["source_format"] = columns["source_format"]
        if content_changed:
            values["content_hash"] = digest
            values.update({name: columns[name] for name in changed if name != "retracted"})
        if existing["retraction_notice"] != article.is_retraction_notice:
            values["retraction_notice"] = article.is_retraction_notice
        revised = bool(set(changed) - _QUIET_FIELDS)
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
            "old_values": {name: _json_ready(old[name]) for name in changed},
            "new_values": {name: _json_ready(new[name]) for name in changed},
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
            rows = _tag_rows(pmid, tags)
            if pmid in state:  # new articles got their tag columns with the INSERT
                columns = _tag_columns(tags)
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


def _tag_columns(tags: ArticleTags | None) -> dict[str, Any]:
    """The article columns holding the tagger's conclusions (all NULL when untagged)."""
    if tags is None:
        return dict.fromkeys(_TAG_COLUMNS)
    return {
        "study_type": tags.study_type,
        "evidence_level": tags.evidence_level,
        "combination_product": tags.combination_product,
        "is_direct": tags.is_direct,
        "rules_version": tags.rules_version,
        "forms": forms_column(tags.forms),
    }


def forms_column(forms: Iterable[str]) -> str:
    """The ``article.forms`` value of a tagged article: its forms in vocabulary order,
    comma-separated; '' for none."""
    return ",".join(in_vocabulary_order("form", forms))


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
    _require_aware(now)
    table = _table(ArticleRow)
    row = (
        session.execute(
            sa.select(table.c.retracted, table.c.retraction_notice_pmid).where(table.c.pmid == pmid)
        )
        .mappings()
        .first()
    )
    if row is None:
        statement = (
            _insert(session, _table(PendingRetractionRow))
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
    table = _table(PendingRetractionRow)
    rows = session.execute(sa.select(table.c.pmid, table.c.notice_pmid)).all()
    return {int(pmid): int(notice) for pmid, notice in rows}


def stored_pmids(session: Session, pmids: Iterable[int]) -> set[int]:
    """The subset of ``pmids`` already stored."""
    table = _table(ArticleRow)
    wanted = sorted(set(pmids))
    found: set[int] = set()
    for chunk in _chunks(wanted):
        found.update(
            session.execute(sa.select(table.c.pmid).where(table.c.pmid.in_(chunk))).scalars()
        )
    return found


def last_fetched_times(session: Session, pmids: Iterable[int]) -> dict[int, dt.datetime]:
    """When each stored PMID among ``pmids`` was last fetched from NCBI (aware UTC)."""
    table = _table(ArticleRow)
    found: dict[int, dt.datetime] = {}
    for chunk in _chunks(sorted(set(pmids))):
        rows = session.execute(
            sa.select(table.c.pmid, table.c.last_fetched_at).where(table.c.pmid.in_(chunk))
        ).all()
        found.update({int(pmid): fetched_at for pmid, fetched_at in rows})
    return found


# ---- tags ----------------------------------------------------------------------------------


def _tag_rows(pmid: int, tags: ArticleTags) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for tag in tags.tags:
        key = (tag.kind, tag.value, tag.field)
        rows.setdefault(
            key,
            {
                "pmid": pmid,
                "kind": tag.kind,
                "value": tag.value,
                "field": tag.field,
                "snippet": tag.snippet,
                "rules_version": tags.rules_version,
            },
        )
    # Every concluded value gets a row even if the tagger gave no provenance for it, so
    # queries by kind/value never miss an article.
    concluded = [
        *(("form", v) for v in tags.forms),
        *(("route", v) for v in tags.routes),
        *(("condition", v) for v in tags.conditions),
        *(("population", v) for v in tags.population),
        ("study_type", tags.study_type),
    ]
    covered = {(kind, value) for kind, value, _field in rows}
    for kind, value in concluded:
        if (kind, value) not in covered:
            covered.add((kind, value))
            rows[(kind, value, "derived")] = {
                "pmid": pmid,
                "kind": kind,
                "value": value,
                "field": "derived",
                "snippet": "",
                "rules_version": tags.rules_version,
            }
    return list(rows.values())


def replace_tags(session: Session, pmid: int, tags: ArticleTags) -> None:
    """Replace all tags of a stored article and its study type/evidence columns."""
    article_table = _table(ArticleRow)
    updated = session.execute(
        sa.update(article_table).where(article_table.c.pmid == pmid).values(_tag_columns(tags))
    )
    if _rowcount(updated) == 0:
        raise StoreError(f"cannot tag PMID {pmid}: the article is not stored")
    tag_table = _table(TagRow)
    session.execute(sa.delete(tag_table).where(tag_table.c.pmid == pmid))
    rows = _tag_rows(pmid, tags)
    if rows:
        session.execute(sa.insert(tag_table), rows)


def _tags_from_rows(article_row: Mapping[Any, Any], rows: Sequence[Any]) -> ArticleTags | None:
    if article_row["rules_version"] is None:
        return None
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row.value)
    return ArticleTags(
        forms=in_vocabulary_order("form", by_kind.get("form", ())),
        routes=in_vocabulary_order("route", by_kind.get("route", ())),
        conditions=in_vocabulary_order("condition", by_kind.get("condition", ())),
        study_type=article_row["study_type"],
        evidence_level=article_row["evidence_level"],
        combination_product=bool(article_row["combination_product"]),
        population=in_vocabulary_order("population", by_kind.get("population", ())),
        tags=tuple(
            Tag(kind=row.kind, value=row.value, field=row.field, snippet=row.snippet)
            for row in rows
            if row.field != "derived"
        ),
        rules_version=article_row["rules_version"],
    )


# ---- searches: hits and checkpoints --------------------------------------------------------


def record_hits(
    session: Session,
    query_name: str,
    pmids: Iterable[int],
    run_id: int | None,
    now: dt.datetime,
) -> int:
    """Remember that a saved search found these PMIDs; returns how many were new hits."""
    _require_aware(now)
    table = _table(QueryHitRow)
    wanted = sorted(set(pmids))
    known: set[int] = set()
    for chunk in _chunks(wanted):
        known.update(
            session.execute(
                sa.select(table.c.pmid).where(
                    table.c.query_name == query_name, table.c.pmid.in_(chunk)
                )
            ).scalars()
        )
    fresh = [p for p in wanted if p not in known]
    if fresh:
        statement = _insert(session, table).on_conflict_do_nothing(
            index_elements=["query_name", "pmid"]
        )
        session.execute(
            statement,
            [
                {"query_name": query_name, "pmid": p, "first_seen_at": now, "run_id": run_id}
                for p in fresh
            ],
        )
    return len(fresh)


def query_hits(session: Session, query_name: str) -> set[int]:
    """All PMIDs a saved search has found."""
    table = _table(QueryHitRow)
    return set(
        session.execute(sa.select(table.c.pmid).where(table.c.query_name == query_name)).scalars()
    )


def unfetched_hits(session: Session) -> set[int]:
    """PMIDs some search found whose article is not stored (a failed fetch to retry)."""
    hits, articles = _table(QueryHitRow), _table(ArticleRow)
    statement = (
        sa.select(hits.c.pmid)
        .outerjoin(articles, articles.c.pmid == hits.c.pmid)
        .where(articles.c.pmid.is_(None))
        .distinct()
    )
    return set(session.execute(statement).scalars())


def get_checkpoint(
    session: Session, query_name: str, term_hash: str | None = None
) -> dt.date | None:
    """Last harvested window end of a saved search; None when never harvested or when
    ``term_hash`` is given and differs from the stored one (the search was edited)."""
    table = _table(SavedQueryStateRow)
    row = (
        session.execute(sa.select(table).where(table.c.query_name == query_name)).mappings().first()
    )
    if row is None:
        return None
    if term_hash is not None and row["term_hash"] is not None and row["term_hash"] != term_hash:
        return None
    return cast(dt.date | None, row["last_window_end"])


def set_checkpoint(
    session: Session,
    query_name: str,
    window_end: dt.date,
    run_id: int | None,
    now: dt.datetime,
    term_hash: str | None = None,
) -> None:
    """Record that a saved search is harvested up to and including ``window_end``."""
    _require_aware(now)
    values = {
        "query_name": query_name,
        "term_hash": term_hash,
        "last_window_end": window_end,
        "last_success_at": now,
        "last_run_id": run_id,
    }
    statement = _insert(session, _table(SavedQueryStateRow)).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["query_name"],
        set_={k: v for k, v in values.items() if k != "query_name"},
    )
    session.execute(statement)


def query_states(session: Session) -> list[SavedQueryStateRow]:
    """Checkpoint rows of every saved search, by name."""
    statement = (
        sa.select(SavedQueryStateRow)
        .order_by(SavedQueryStateRow.query_name)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


# ---- runs ----------------------------------------------------------------------------------


def start_run(session: Session, *, now: dt.datetime, kind: str = "run") -> int:
    """Record a run as "running"; returns its id."""
    _require_aware(now)
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}; valid: {', '.join(RUN_KINDS)}")
    table = _table(RunRow)
    statement = (
        sa.insert(table)
        .values(
            kind=kind,
            status="running",
            started_at=now,
            searched=0,
            new=0,
            revised=0,
            unchanged=0,
            failed_queries=0,
            details={},
        )
        .returning(table.c.id)
    )
    return int(session.execute(statement).scalar_one())


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: str,
    now: dt.datetime,
    searched: int = 0,
    new: int = 0,
    revised: int = 0,
    unchanged: int = 0,
    failed_queries: int = 0,
    error: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Close a run with its final status and counts."""
    _require_aware(now)
    if status not in RUN_STATUSES or status == "running":
        valid = ", ".join(s for s in RUN_STATUSES if s != "running")
        raise ValueError(f"unknown final run status {status!r}; valid: {valid}")
    table = _table(RunRow)
    updated = session.execute(
        sa.update(table)
        .where(table.c.id == run_id)
        .values(
            status=status,
            finished_at=now,
            searched=searched,
            new=new,
            revised=revised,
            unchanged=unchanged,
            failed_queries=failed_queries,
            error=error,
            details=_json_ready(dict(details or {})),
        )
    )
    if _rowcount(updated) == 0:
        raise StoreError(f"run {run_id} does not exist")


def mark_interrupted_runs(session: Session, now: dt.datetime) -> int:
    """Mark runs still "running" as "interrupted" (call while holding the run lock, so none
    of them can really be running); returns how many."""
    _require_aware(now)
    table = _table(RunRow)
    result = session.execute(
        sa.update(table)
        .where(table.c.status == "running")
        .values(status="interrupted", finished_at=now, error="process ended without finishing")
    )
    return _rowcount(result)


def get_run(session: Session, run_id: int) -> RunRow | None:
    """One run record."""
    statement = (
        sa.select(RunRow)
        .where(RunRow.id == run_id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalars().first()


def recent_runs(session: Session, limit: int = 10) -> list[RunRow]:
    """The latest runs, newest first."""
    statement = (
        sa.select(RunRow)
        .order_by(RunRow.started_at.desc(), RunRow.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


def last_successful_run(session: Session, kind: str = "run") -> RunRow | None:
    """The newest run of ``kind`` that finished with status "success"."""
    statement = (
        sa.select(RunRow)
        .where(RunRow.kind == kind, RunRow.status == "success")  # type: ignore[arg-type]
        .order_by(RunRow.finished_at.desc(), RunRow.id.desc())  # type: ignore[union-attr]
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalars().first()


# ---- reading articles ----------------------------------------------------------------------


def _stored_articles(session: Session, where: Sequence[Any]) -> list[StoredArticle]:
    articles, tag_table, hits = _table(ArticleRow), _table(TagRow), _table(QueryHitRow)
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
    for chunk in _chunks(pmids):
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
            tags=_tags_from_rows(row, tags_by_pmid.get(row["pmid"], [])),
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
    found = _stored_articles(session, [_table(ArticleRow).c.pmid == pmid])
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
    articles, tag_table = _table(ArticleRow), _table(TagRow)
    where: list[Any] = []
    if pmids is not None:
        wanted = sorted(set(pmids))
        if not wanted:
            return []
        if len(wanted) > _CHUNK:
            return [
                item
                for chunk in _chunks(wanted)
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
    articles = _table(ArticleRow)
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


def count_articles(session: Session) -> int:
    """How many articles are stored."""
    return int(
        session.execute(sa.select(sa.func.count()).select_from(_table(ArticleRow))).scalar_one()
    )


# ---- digests -------------------------------------------------------------------------------


def save_digest(
    session: Session,
    *,
    iso_week: str,
    fmt: str,
    content: str,
    summary: Mapping[str, Any],
    now: dt.datetime,
) -> None:
    """Store a digest issue; generating the same week and format again replaces it."""
    _require_aware(now)
    values = {
        "iso_week": iso_week,
        "format": fmt,
        "created_at": now,
        "content": content,
        "summary": _json_ready(dict(summary)),
    }
    statement = _insert(session, _table(DigestRow)).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["iso_week", "format"],
        set_={"created_at": now, "content": content, "summary": values["summary"]},
    )
    session.execute(statement)


def get_digest(session: Session, iso_week: str, fmt: str) -> DigestRow | None:
    """The stored digest for one ISO week and format."""
    statement = (
        sa.select(DigestRow)
        .where(DigestRow.iso_week == iso_week, DigestRow.format == fmt)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalars().first()


def last_digest(
    session: Session, fmt: str | None = None, before_week: str | None = None
) -> DigestRow | None:
    """The most recently created digest (of ``fmt``; for a week before ``before_week``)."""
    statement = sa.select(DigestRow)
    if fmt is not None:
        statement = statement.where(DigestRow.format == fmt)  # type: ignore[arg-type]
    if before_week is not None:
        statement = statement.where(DigestRow.iso_week < before_week)  # type: ignore[arg-type]
    statement = (
        statement.order_by(DigestRow.created_at.desc(), DigestRow.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalars().first()
