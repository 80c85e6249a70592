"""Read the digest's inputs from the database (the only place the digest meets the store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Engine

from .article import Article
from .digest import ChangeEvent, DigestArticle, RunInfo
from .store import repo
from .store.engine import new_session
from .store.models import ArticleRevisionRow, RunRow

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
        (t for t in tags.tags if t.kind == "form" and t.value == "glycinate"),
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


def load_digest_inputs(
    engine: Engine,
    as_of: dt.datetime | None = None,
) -> tuple[list[DigestArticle], list[ChangeEvent], list[RunInfo], bool]:
    """Articles, changes and harvest runs for :func:`aggregator.digest.build_digest`, and
    whether the database holds only demo data.

    ``as_of`` (aware; for a digest, the end of its week): articles revised later are shown as
    they were then, so a past week's digest is the same whenever it is built.
    """
    with new_session(engine) as session:
        stored = repo.list_articles(session)
        revisions = repo.revisions_since(session, dt.datetime(1900, 1, 1, tzinfo=dt.UTC))
        run_rows = repo.recent_runs(session, limit=10_000)
    if as_of is not None:
        later: dict[int, list[ArticleRevisionRow]] = {}
        for row in revisions:
            seen_at = _aware(row.seen_at)
            if seen_at is not None and seen_at >= as_of:
                later.setdefault(row.pmid, []).append(row)
        stored = [
            as_of_version(s, later[s.article.pmid]) if s.article.pmid in later else s
            for s in stored
        ]
    titles = {s.article.pmid: s.article.title for s in stored}
    articles = [a for a in (digest_article(s) for s in stored) if a is not None]
    changes = [_change_event(r, titles.get(r.pmid, "")) for r in revisions]
    runs = [_run_info(r) for r in run_rows if r.kind in ("run", "demo")]
    kinds = {r.kind for r in run_rows}
    demo = "demo" in kinds and "run" not in kinds
    return articles, changes, runs, demo
