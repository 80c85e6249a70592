"""Every database read and write the pipeline, digest and CLI use.

All functions take an open SQLAlchemy/SQLModel ``Session`` and never commit: the caller owns
the transaction. Writes are upserts keyed on natural keys (PMID, query name, ISO week), using
each dialect's ``INSERT ... ON CONFLICT``, so running anything twice never duplicates rows.
Timestamps passed in (``now``) must be timezone-aware; tests inject them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..article import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Grant,
    MeshHeading,
    MeshQualifier,
)
from ..errors import StoreError
from ..vocab import CONDITIONS, FORMS, POPULATIONS, ROUTES, ArticleTags, Tag
from .models import (
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
# Where tag values have a vocabulary order (used to list them back in a stable order).
_KIND_ORDER: dict[str, tuple[str, ...]] = {
    "form": FORMS,
    "route": ROUTES,
    "condition": CONDITIONS,
    "population": POPULATIONS,
}
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


def content_hash(article: Article) -> str:
    """sha256 of the canonical parsed record (sorted-key JSON of its fields).

    Whitespace or attribute order in the raw XML, and whether the record came as XML or
    MEDLINE text, do not change it; any parsed field does. Migration 0002 backfills the same
    formula from stored columns.
    """
    record = article.to_dict()
    record.pop("source_format", None)
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def article_columns(article: Article) -> dict[str, Any]:
    """The article's parsed fields as column values (JSON columns as plain lists/dicts)."""
    plain = dataclasses.asdict(article)
    return {
        name: _json_ready(plain[name]) if name in _JSON_FIELDS else getattr(article, name)
        for name in _ARTICLE_FIELDS
    }


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


def _select_article_row(session: Session, pmid: int) -> Mapping[Any, Any] | None:
    table = _table(ArticleRow)
    return session.execute(sa.select(table).where(table.c.pmid == pmid)).mappings().first()


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
    _require_aware(now)
    if source not in ARTICLE_SOURCES:
        raise ValueError(f"unknown article source {source!r}; valid: {', '.join(ARTICLE_SOURCES)}")
    columns = article_columns(article)
    digest = content_hash(article)
    existing = _select_article_row(session, article.pmid)
    result: UpsertResult
    if existing is None:
        result = _insert_article(session, article, columns, digest, run_id, now, source)
        if result.status == "unchanged":  # lost a race to another writer: treat as update
            existing = _select_article_row(session, article.pmid)
    if existing is not None:
        result = _update_article(session, article, existing, columns, digest, run_id, now, source)
    if tags is not None:
        replace_tags(session, article.pmid, tags)
    for target in article.retracts:
        if target != article.pmid:
            mark_retracted(session, target, article.pmid, now, run_id)
    return result


def _insert_article(
    session: Session,
    article: Article,
    columns: dict[str, Any],
    digest: str,
    run_id: int | None,
    now: dt.datetime,
    source: str,
) -> UpsertResult:
    pending_table = _table(PendingRetractionRow)
    pending = (
        session.execute(sa.select(pending_table).where(pending_table.c.pmid == article.pmid))
        .mappings()
        .first()
    )
    retracted = article.is_retracted or pending is not None
    statement = (
        _insert(session, _table(ArticleRow))
        .values(
            **columns,
            content_hash=digest,
            source=source,
            first_seen_at=now,
            last_updated_at=now,
            last_fetched_at=now,
            retracted=retracted,
            retracted_at=now if retracted else None,
            retraction_notice_pmid=pending["notice_pmid"] if pending else None,
        )
        .on_conflict_do_nothing(index_elements=["pmid"])
    )
    if _rowcount(session.execute(statement)) == 0:
        return UpsertResult(pmid=article.pmid, status="unchanged")
    if pending is not None:
        session.execute(sa.delete(pending_table).where(pending_table.c.pmid == article.pmid))
    return UpsertResult(
        pmid=article.pmid, status="new", retracted=retracted, newly_retracted=retracted
    )


def _update_article(
    session: Session,
    article: Article,
    existing: Mapping[Any, Any],
    columns: dict[str, Any],
    digest: str,
    run_id: int | None,
    now: dt.datetime,
    source: str,
) -> UpsertResult:
    table = _table(ArticleRow)
    was_retracted = bool(existing["retracted"])
    newly_retracted = article.is_retracted and not was_retracted
    changed: list[str] = []
    if existing["content_hash"] != digest:
        changed = [name for name in _COMPARED_FIELDS if existing[name] != columns[name]]
    if newly_retracted:
        changed.append("retracted")
    values: dict[str, Any] = {"last_fetched_at": now, "source": source}
    if existing["raw_xml"] != columns["raw_xml"]:
        values["raw_xml"] = columns["raw_xml"]
    if existing["source_format"] != columns["source_format"]:
        values["source_format"] = columns["source_format"]
    if existing["content_hash"] != digest:
        values["content_hash"] = digest
        values.update({name: columns[name] for name in changed if name != "retracted"})
    revised = bool(set(changed) - _QUIET_FIELDS)
    if revised:
        values["last_updated_at"] = now
    if newly_retracted:
        values.update(retracted=True, retracted_at=now)
    session.execute(sa.update(table).where(table.c.pmid == article.pmid).values(**values))
    if not revised:
        return UpsertResult(pmid=article.pmid, status="unchanged", retracted=was_retracted)
    old = {**existing, "retracted": was_retracted}
    new = {**columns, "retracted": was_retracted or newly_retracted}
    _add_revision(
        session, pmid=article.pmid, now=now, run_id=run_id, changed=changed, old=old, new=new
    )
    return UpsertResult(
        pmid=article.pmid,
        status="revised",
        changed_fields=tuple(changed),
        retracted=was_retracted or newly_retracted,
        newly_retracted=newly_retracted,
    )


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
        sa.update(article_table)
        .where(article_table.c.pmid == pmid)
        .values(
            study_type=tags.study_type,
            evidence_level=tags.evidence_level,
            combination_product=tags.combination_product,
            is_direct=tags.is_direct,
            rules_version=tags.rules_version,
        )
    )
    if _rowcount(updated) == 0:
        raise StoreError(f"cannot tag PMID {pmid}: the article is not stored")
    tag_table = _table(TagRow)
    session.execute(sa.delete(tag_table).where(tag_table.c.pmid == pmid))
    rows = _tag_rows(pmid, tags)
    if rows:
        session.execute(sa.insert(tag_table), rows)


def _ordered(kind: str, values: Iterable[str]) -> tuple[str, ...]:
    order = _KIND_ORDER.get(kind, ())
    unique = dict.fromkeys(values)
    return tuple(sorted(unique, key=lambda v: (order.index(v) if v in order else len(order), v)))


def _tags_from_rows(article_row: Mapping[Any, Any], rows: Sequence[Any]) -> ArticleTags | None:
    if article_row["rules_version"] is None:
        return None
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row.value)
    return ArticleTags(
        forms=_ordered("form", by_kind.get("form", ())),
        routes=_ordered("route", by_kind.get("route", ())),
        conditions=_ordered("condition", by_kind.get("condition", ())),
        study_type=article_row["study_type"],
        evidence_level=article_row["evidence_level"],
        combination_product=bool(article_row["combination_product"]),
        population=_ordered("population", by_kind.get("population", ())),
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
