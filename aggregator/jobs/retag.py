"""``aggregator retag``: re-tag every stored article with the current rules and report what
changed (pmid, old and new study type and forms), under the run lock, in one transaction.

The tagger's findings and design decision are part of what it compares and stores (the
design's confidence and explanation, the five findings columns and the whole findings
object), so a database tagged before revision 0009 gets them on its first ``retag`` (every
article reported), and a second ``retag`` reports none."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.article import Article
from aggregator.findings import HEADLINE_FIELDS, Findings
from aggregator.store.articles import (
    StoredArticle,
    count_articles,
    iter_article_batches,
    replace_tags,
)
from aggregator.store.codec import as_stored
from aggregator.store.engine import new_session, store_errors
from aggregator.store.lock import RunLock
from aggregator.tagging import RULES_VERSION, tag_article
from aggregator.vocab import NO_DESIGN_DECISION, ArticleTags, DesignDecision

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
    "evidence_class",
    # Revision 0009: the design decision (its cues are provenance) and the findings. The five
    # findings columns are reported one by one; "findings" is the whole stored object
    # (Findings.to_dict: kinds, dose detail, provenance ...), reported when any of it changed.
    "design_confidence",
    "design_explanation",
    *HEADLINE_FIELDS,
    "findings",
)


def _kind_values(tags: ArticleTags | None) -> dict[str, Any]:
    """The value of each kind (provenance as a set of (kind, value, field, snippet))."""
    if tags is None:
        return dict.fromkeys(RETAG_KINDS)
    return {
        "form": list(tags.forms),
        "route": list(tags.routes),
        "condition": list(tags.conditions),
        "population": list(tags.population),
        "study_type": tags.study_type,
        "evidence_level": tags.evidence_level,
        "combination_product": tags.combination_product,
        "provenance": _provenance(tags),
        "evidence_class": tags.evidence_class or None,
        **_design_values(tags.design),
        **_findings_values(tags.findings),
    }


def _design_values(design: DesignDecision) -> dict[str, Any]:
    if design == NO_DESIGN_DECISION:
        return {"design_confidence": None, "design_explanation": None}
    return {"design_confidence": design.confidence, "design_explanation": design.explanation}


def _findings_values(findings: Findings | None) -> dict[str, Any]:
    if findings is None:
        return {**dict.fromkeys(HEADLINE_FIELDS), "findings": None}
    whole = findings.to_dict()
    return {**{name: whole[name] for name in HEADLINE_FIELDS}, "findings": whole}


@dataclass(frozen=True, slots=True)
class TagChange:
    """An article whose stored tags the current rules change: which kinds changed, with
    their old and new values (provenance: the tags removed and added), and the rules
    version when that changed."""

    pmid: int
    old_study_type: str | None
    new_study_type: str
    old_forms: tuple[str, ...]
    new_forms: tuple[str, ...]
    changed: tuple[str, ...] = ()
    old: dict[str, Any] = field(default_factory=dict)
    new: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pmid": self.pmid,
            "old_study_type": self.old_study_type,
            "new_study_type": self.new_study_type,
            "old_forms": list(self.old_forms),
            "new_forms": list(self.new_forms),
            "changed": list(self.changed),
            "old": self.old,
            "new": self.new,
        }


@dataclass(slots=True)
class RetagReport:
    """What ``retag`` did (or, with dry_run, would do): every article it counts as updated
    is in ``changes``."""

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


def _provenance_list(items: Any) -> list[dict[str, str]]:
    return [{"kind": k, "value": v, "field": f, "snippet": s} for k, v, f, s in sorted(items or ())]


def _changed_kinds(old: ArticleTags | None, new: ArticleTags) -> list[str]:
    """The kinds whose values differ; ``new`` must be as the store gives it back
    (:func:`aggregator.store.codec.as_stored`), else what storing drops counts as a change
    that storing can never make."""
    before, after = _kind_values(old), _kind_values(new)
    if old is None:  # untagged: every kind the new tags have a value of
        return [kind for kind in RETAG_KINDS if after[kind] not in (None, [], frozenset())]
    sets = {"form", "route", "condition", "population"}
    return [
        kind
        for kind in RETAG_KINDS
        if (set(before[kind]) != set(after[kind]) if kind in sets else before[kind] != after[kind])
    ]


def _change(
    pmid: int, old: ArticleTags | None, new: ArticleTags, kinds: list[str], stale: bool
) -> TagChange:
    before, after = _kind_values(old), _kind_values(new)
    old_values: dict[str, Any] = {}
    new_values: dict[str, Any] = {}
    for kind in kinds:
        if kind == "provenance":
            old_values[kind] = _provenance_list((before[kind] or set()) - after[kind])
            new_values[kind] = _provenance_list(after[kind] - (before[kind] or set()))
        else:
            old_values[kind], new_values[kind] = before[kind], after[kind]
    changed = list(kinds)
    if stale:
        changed.append("rules_version")
        old_values["rules_version"] = old.rules_version if old else None
        new_values["rules_version"] = new.rules_version
    return TagChange(
        pmid=pmid,
        old_study_type=old.study_type if old else None,
        new_study_type=new.study_type,
        old_forms=old.forms if old else (),
        new_forms=new.forms,
        changed=tuple(changed),
        old=old_values,
        new=new_values,
    )


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
    kept = as_stored(new)  # what storing ``new`` keeps, compared with what is stored
    kinds = _changed_kinds(stored.tags, kept)
    stale = stored.tags is None or stored.tags.rules_version != new.rules_version
    if not kinds and not stale:
        return
    report.updated += 1
    if session is not None:
        replace_tags(session, stored.article.pmid, new)
    for kind in kinds:
        report.changed_by_kind[kind] += 1
    report.changes.append(_change(stored.article.pmid, stored.tags, kept, kinds, stale))
