"""Read the digest's inputs from the database (the only place the digest meets the store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .article import RETRACTION_NOTICE_REFTYPES, Article
from .digest import ChangeEvent, DigestArticle, RunInfo
from .digest.bulk import gc_paused
from .store import repo
from .store.engine import new_session
from .store.models import ArticleRevisionRow, ArticleRow, RunRow, TagRow
from .vocab import CONDITIONS, FORMS, POPULATIONS, ROUTES

GLYCINATE = "glycinate"
DERIVED = "derived"  # tag field of values the tagger concluded without provenance text

# Field names as a reader would say them in "what changed".
FIELD_LABELS = {
    "title": "title",
    "abstract": "abstract",
    "abstract_sections": "abstract",
    "publication_types": "publication types",
    "mesh_headings": "MeSH",
    "chemicals": "substances",
    "keywords": "keywords",
    "comments_corrections": "comments/corrections",
    "retracted": "retracted",
    "retraction_notice_pmid": "retraction notice",
    "authors": "authors",
    "doi": "DOI",
    "status": "indexing status",
}


def _table(model: Any) -> sa.Table:
    return cast(sa.Table, model.__table__)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


RETRACTION_NOTICE_TYPE = "Retraction of Publication"


def is_retraction_notice(article: Article) -> bool:
    """The record is a retraction notice (it retracts another article), not a study."""
    return bool(article.retracts) or RETRACTION_NOTICE_TYPE in article.publication_types


def digest_article(stored: repo.StoredArticle) -> DigestArticle | None:
    """A stored, tagged article as the digest sees it (None until it has been tagged, and
    for retraction notices: they are not evidence, and the article they retract is listed
    under retractions)."""
    tags = stored.tags
    article = stored.article
    if tags is None or is_retraction_notice(article):
        return None
    glycinate = next(
        (t for t in tags.tags if t.kind == "form" and t.value == GLYCINATE),
        None,
    )
    first_seen = _aware(stored.first_seen_at)
    assert first_seen is not None
    return DigestArticle(
        pmid=article.pmid,
        title=article.title,
        journal=article.journal_iso or article.journal_title,
        year=article.pub_year,
        doi=article.doi,
        forms=tags.forms,
        routes=tags.routes,
        conditions=tags.conditions,
        study_type=tags.study_type,
        evidence_level=tags.evidence_level,
        combination_product=tags.combination_product,
        population=tags.population,
        retracted=stored.retracted,
        retracted_at=_aware(stored.retracted_at),
        first_seen_at=first_seen,
        glycinate_snippet=glycinate.snippet if glycinate else None,
        glycinate_field=glycinate.field if glycinate else None,
    )


def _list_diff(old: Any, new: Any, key: str) -> str:
    def names(values: Any) -> set[str]:
        out = set()
        for value in values or ():
            if isinstance(value, Mapping):
                out.add(str(value.get(key) or value.get("name") or value))
            else:
                out.add(str(value))
        return out

    before, after = names(old), names(new)
    parts = [f"+{v}" for v in sorted(after - before)] + [f"-{v}" for v in sorted(before - after)]
    return ", ".join(parts)


def change_summary(changed: Sequence[str], old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """One line saying what changed, e.g. 'publication types: +Randomized Controlled Trial'."""
    parts: list[str] = []
    for name in changed:
        if name == "revised_date":
            continue
        label = FIELD_LABELS.get(name, name.replace("_", " "))
        if name == "publication_types":
            diff = _list_diff(old.get(name), new.get(name), "name")
            parts.append(f"{label}: {diff}" if diff else label)
        elif name == "mesh_headings":
            diff = _list_diff(old.get(name), new.get(name), "descriptor")
            parts.append(f"{label}: {diff}" if diff else label)
        elif name == "title":
            parts.append(f"title corrected (was: {str(old.get(name) or '')[:120]})")
        elif name == "retracted":
            if new.get("retracted"):
                notice = new.get("retraction_notice_pmid")
                parts.append(f"retracted (notice PMID {notice})" if notice else "retracted")
        elif name == "retraction_notice_pmid":
            continue
        else:
            parts.append(f"{label} changed")
    return "; ".join(dict.fromkeys(parts)) or "record updated"


def _change_event(row: ArticleRevisionRow, title: str) -> ChangeEvent:
    seen_at = _aware(row.seen_at)
    assert seen_at is not None
    fields = tuple(row.changed_fields)
    if "retracted" in fields:
        # The notice PMID is part of the retraction, not a change of its own; without this
        # a retraction learnt from its notice was listed again under "revised".
        fields = tuple(name for name in fields if name != "retraction_notice_pmid")
    return ChangeEvent(
        pmid=row.pmid,
        title=title,
        seen_at=seen_at,
        changed_fields=fields,
        summary=change_summary(row.changed_fields, row.old_values, row.new_values),
    )


def _run_info(row: RunRow) -> RunInfo:
    queries = row.details.get("queries", []) if isinstance(row.details, dict) else []
    failures = tuple(f"{q.get('name')}: {q.get('error')}" for q in queries if not q.get("ok", True))
    if row.status == "interrupted" and not failures:
        failures = (f"run interrupted: {row.error or 'process ended without finishing'}",)
    started = _aware(row.started_at)
    assert started is not None
    return RunInfo(
        started_at=started,
        finished_at=_aware(row.finished_at),
        status=row.status,
        queries=tuple(str(q.get("name")) for q in queries),
        new_count=row.new,
        revised_count=row.revised,
        failures=failures,
    )


def _revert(value: Any, current: Any) -> Any:
    """An old value from a revision row, in the type of the current column value."""
    if isinstance(current, dt.date) and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def as_of_version(
    stored: repo.StoredArticle, later: Sequence[ArticleRevisionRow]
) -> repo.StoredArticle:
    """The article as it was before the ``later`` revisions (any order) were seen, re-tagged.

    Without this a past week's digest showed titles and tags learnt after that week, so the
    same week gave a different digest once a later harvest had revised an article.
    """
    columns = repo.article_columns(stored.article)
    reverted = False
    for row in sorted(later, key=lambda r: (r.seen_at, r.id or 0), reverse=True):
        for name, value in row.old_values.items():
            if name in columns:
                columns[name] = _revert(value, columns[name])
                reverted = True
    if not reverted:
        return stored
    from .tagging import tag_article

    article = repo.article_from_columns(columns)
    return dataclasses.replace(stored, article=article, tags=tag_article(article))


# Tag kinds the digest shows (study type is an article column; the tag rows only repeat it).
_DIGEST_TAG_KINDS: dict[str, tuple[str, ...]] = {
    "form": FORMS,
    "route": ROUTES,
    "condition": CONDITIONS,
    "population": POPULATIONS,
}
# Only records whose publication types or comments/corrections contain this text can be
# retraction notices; the database flags them while reading, and only those are checked.
_RETRACTION_HINT = "%Retract%"
_CHUNK = 500  # PMIDs per IN (...) list, well under SQLite's bound-parameter limit

TagValues = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]
_NO_TAGS: TagValues = ((), (), (), ())


def _vocabulary_order(kind: str, values: list[str]) -> tuple[str, ...]:
    """Distinct ``values`` in vocabulary order, unknown ones last (as the store lists them)."""
    order = _DIGEST_TAG_KINDS[kind]
    distinct = dict.fromkeys(values)
    return tuple(sorted(distinct, key=lambda v: (order.index(v) if v in order else len(order), v)))


def _tag_values(pairs: list[tuple[str, str]]) -> TagValues:
    """Forms, routes, conditions and populations from (kind, value) pairs."""
    by_kind: dict[str, list[str]] = {kind: [] for kind in _DIGEST_TAG_KINDS}
    for kind, value in pairs:
        by_kind[kind].append(value)
    form, route, condition, population = (
        _vocabulary_order(kind, values) for kind, values in by_kind.items()
    )
    return form, route, condition, population


def _tag_values_by_pmid(session: Session) -> dict[int, TagValues]:
    """Forms, routes, conditions and populations of every article with such tags."""
    tags = _table(TagRow)
    # One row per tag value, with the PMIDs carrying it joined by the database: a few dozen
    # rows instead of one per tag. Each article's values become a bit set, and articles with
    # the same set share one TagValues, built once.
    query = (
        sa.select(
            tags.c.kind,
            tags.c.value,
            sa.func.aggregate_strings(sa.cast(tags.c.pmid, sa.Text), ","),
        )
        .where(tags.c.kind.in_(tuple(_DIGEST_TAG_KINDS)))
        .group_by(tags.c.kind, tags.c.value)
    )
    pairs: list[tuple[str, str]] = []
    bits_by_pmid: dict[int, int] = {}
    for kind, value, pmids in session.execute(query):
        bit = 1 << len(pairs)
        pairs.append((kind, value))
        for pmid in map(int, pmids.split(",")):
            bits_by_pmid[pmid] = bits_by_pmid.get(pmid, 0) | bit
    shared: dict[int, TagValues] = {}
    found: dict[int, TagValues] = {}
    for pmid, bits in bits_by_pmid.items():
        values = shared.get(bits)
        if values is None:
            chosen = [pair for index, pair in enumerate(pairs) if bits >> index & 1]
            values = shared[bits] = _tag_values(chosen)
        found[pmid] = values
    return found


def _glycinate_provenance(session: Session) -> dict[int, tuple[str, str]]:
    """(field, snippet) of each article's first glycinate form tag with provenance (by tag
    id, as the store lists tags)."""
    tags = _table(TagRow)
    query = (
        sa.select(tags.c.pmid, tags.c.field, tags.c.snippet)
        .where(tags.c.kind == "form", tags.c.value == GLYCINATE, tags.c.field != DERIVED)
        .order_by(tags.c.id)
    )
    found: dict[int, tuple[str, str]] = {}
    for pmid, field, snippet in session.execute(query):
        found.setdefault(pmid, (field, snippet))
    return found


def _retraction_notices(session: Session, candidates: list[int]) -> set[int]:
    """Which of the ``candidates`` are retraction notices (:func:`is_retraction_notice`)."""
    articles = _table(ArticleRow)
    notices: set[int] = set()
    for start in range(0, len(candidates), _CHUNK):
        query = sa.select(
            articles.c.pmid, articles.c.publication_types, articles.c.comments_corrections
        ).where(articles.c.pmid.in_(candidates[start : start + _CHUNK]))
        for pmid, publication_types, comments_corrections in session.execute(query):
            retracts = any(
                isinstance(cc, Mapping)
                and cc.get("ref_type") in RETRACTION_NOTICE_REFTYPES
                and cc.get("pmid") is not None
                for cc in comments_corrections or ()
            )
            if retracts or RETRACTION_NOTICE_TYPE in (publication_types or ()):
                notices.add(pmid)
    return notices


def _utc_reader() -> Callable[[Any], dt.datetime | None]:
    """A converter of timestamps as the driver returns them (SQLite: naive UTC text,
    PostgreSQL: aware datetime) to aware UTC datetimes, as the store's ``UTCDateTime`` does.

    Each distinct value is converted once: the articles of one harvest share their
    timestamps, and converting 100,000s of them one by one was a large part of the load.
    """
    converted: dict[Any, dt.datetime | None] = {None: None}

    def read(raw: Any) -> dt.datetime | None:
        moment = converted.get(raw)
        if moment is None and raw is not None:
            parsed = dt.datetime.fromisoformat(raw) if isinstance(raw, str) else raw
            moment = parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed
            moment = converted[raw] = moment.astimezone(dt.UTC)
        return moment

    return read


def _lean_articles(session: Session) -> tuple[dict[int, DigestArticle | None], dict[int, str]]:
    """Every stored article as the digest sees it (None: untagged or a retraction notice),
    and every title, read with a few narrow queries instead of rebuilding full articles."""
    articles = _table(ArticleRow)
    tag_values = _tag_values_by_pmid(session)
    glycinate = _glycinate_provenance(session)
    maybe_notice = sa.or_(
        sa.cast(articles.c.publication_types, sa.Text).like(_RETRACTION_HINT),
        sa.cast(articles.c.comments_corrections, sa.Text).like(_RETRACTION_HINT),
    )
    query = sa.select(
        articles.c.pmid,
        articles.c.title,
        articles.c.journal_iso,
        articles.c.journal_title,
        articles.c.pub_year,
        articles.c.doi,
        # Read as the driver gives them; converted below, each distinct value once.
        sa.type_coerce(articles.c.first_seen_at, sa.String),
        articles.c.retracted,
        sa.type_coerce(articles.c.retracted_at, sa.String),
        articles.c.study_type,
        articles.c.evidence_level,
        articles.c.combination_product,
        articles.c.rules_version.is_not(None),
        maybe_notice,
    ).order_by(articles.c.pmid)
    rows = session.execute(query).all()
    utc = _utc_reader()
    notices = _retraction_notices(session, [row[0] for row in rows if row[-1] and row[-2]])
    found: dict[int, DigestArticle | None] = {}
    titles: dict[int, str] = {}
    for (
        pmid,
        title,
        journal_iso,
        journal_title,
        pub_year,
        doi,
        first_seen_at,
        retracted,
        retracted_at,
        study_type,
        evidence_level,
        combination_product,
        tagged,
        _maybe_notice,
    ) in rows:
        titles[pmid] = title
        if not tagged or pmid in notices:
            found[pmid] = None  # untagged, or a retraction notice: not evidence
            continue
        forms, routes, conditions, population = tag_values.get(pmid, _NO_TAGS)
        first_seen = utc(first_seen_at)
        assert first_seen is not None
        field, snippet = glycinate.get(pmid, (None, None))
        found[pmid] = DigestArticle(
            pmid=pmid,
            title=title,
            journal=journal_iso or journal_title,
            year=pub_year,
            doi=doi,
            forms=forms,
            routes=routes,
            conditions=conditions,
            study_type=study_type,
            evidence_level=evidence_level,
            combination_product=bool(combination_product),
            population=population,
            retracted=bool(retracted),
            retracted_at=utc(retracted_at),
            first_seen_at=first_seen,
            glycinate_snippet=snippet,
            glycinate_field=field,
        )
    return found, titles


def load_digest_inputs(
    engine: Engine,
    as_of: dt.datetime | None = None,
) -> tuple[list[DigestArticle], list[ChangeEvent], list[RunInfo], bool]:
    """Articles, changes and harvest runs for :func:`aggregator.digest.build_digest`, and
    whether the database holds only demo data.

    ``as_of`` (aware; for a digest, the end of its week): articles revised later are shown as
    they were then, so a past week's digest is the same whenever it is built.
    """
    with gc_paused(), new_session(engine) as session:
        found, titles = _lean_articles(session)
        revisions = repo.revisions_since(session, dt.datetime(1900, 1, 1, tzinfo=dt.UTC))
        run_rows = repo.recent_runs(session, limit=10_000)
        if as_of is not None:
            later: dict[int, list[ArticleRevisionRow]] = {}
            for revision in revisions:
                seen_at = _aware(revision.seen_at)
                if seen_at is not None and seen_at >= as_of:
                    later.setdefault(revision.pmid, []).append(revision)
            # Only these (usually few) articles need rebuilding in full, reverting and
            # re-tagging; the lean rows above are already right for every other one.
            for stored in repo.list_articles(session, pmids=later):
                then = as_of_version(stored, later[stored.article.pmid])
                found[then.article.pmid] = digest_article(then)
                titles[then.article.pmid] = then.article.title
    articles = [article for article in found.values() if article is not None]
    changes = [_change_event(r, titles.get(r.pmid, "")) for r in revisions]
    runs = [_run_info(r) for r in run_rows if r.kind in ("run", "demo")]
    kinds = {r.kind for r in run_rows}
    demo = "demo" in kinds and "run" not in kinds
    return articles, changes, runs, demo
