"""``aggregator retag``: re-tag every stored article with the current rules and report what
changed (pmid, old and new study type and forms), under the run lock, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.article import Article
from aggregator.store.articles import (
    StoredArticle,
    count_articles,
    iter_article_batches,
    replace_tags,
)
from aggregator.store.engine import new_session, store_errors
from aggregator.store.lock import RunLock
from aggregator.tagging import RULES_VERSION, tag_article
from aggregator.vocab import ArticleTags

Tagger = Callable[[Article], ArticleTags]
# progress(examined, total)
RetagProgress = Callable[[int, int], None]


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
    engine: Engine,
    *,
    dry_run: bool = False,
    tagger: Tagger | None = None,
    rules_version: str | None = None,
    progress: RetagProgress | None = None,
    lock: RunLock | None = None,
) -> RetagReport:
    """Re-tag every stored article with ``tagger``; store what changed unless ``dry_run``.

    A real run holds ``lock`` (the run lock: never at the same time as a harvest) and stores
    every change in one transaction, so a failed or killed run changes nothing. The tagger
    defaults to the current rules (:func:`aggregator.tagging.tag_article`).
    """
    if tagger is None:
        tagger, rules_version = tag_article, RULES_VERSION
    rules_version = rules_version or RULES_VERSION
    if lock is not None and not dry_run:
        with lock:
            return _retag(engine, dry_run, tagger, rules_version, progress)
    return _retag(engine, dry_run, tagger, rules_version, progress)


def _retag(
    engine: Engine,
    dry_run: bool,
    tagger: Tagger,
    rules_version: str,
    progress: RetagProgress | None,
) -> RetagReport:
    report = RetagReport(rules_version=rules_version, dry_run=dry_run)
    with store_errors(engine.url), new_session(engine) as session:
        total = count_articles(session)
        for batch in iter_article_batches(session):
            for stored in batch:
                _retag_one(session if not dry_run else None, stored, tagger, report)
            if progress is not None:
                progress(report.examined, total)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    return report


def _retag_one(
    session: Session | None, stored: StoredArticle, tagger: Tagger, report: RetagReport
) -> None:
    """Re-tag one stored article, count what changed, and replace its tags (``session``
    None: a dry run, nothing is written)."""
    report.examined += 1
    new = tagger(stored.article)
    kinds = _changed_kinds(stored.tags, new)
    stale = stored.tags is None or stored.tags.rules_version != new.rules_version
    if kinds or stale:
        report.updated += 1
        if session is not None:
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
