"""JSON rendering of a digest: the same numbers for other tools.

Keys are stable (schema_version 1); vocabulary values are the exact strings of
aggregator.vocab; datetimes are ISO 8601 in UTC with a trailing "Z".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from aggregator.bulk import gc_paused
from aggregator.digest.model import (
    ArticleEntry,
    CountsChange,
    Digest,
    EvidenceCounts,
    EvidenceSplit,
    MapCell,
    RegistrySection,
    TrialEntry,
)
from aggregator.trial_stages import STAGE_LABELS, TRIAL_STAGES
from aggregator.vocab import STUDY_TYPES

SCHEMA_VERSION = 1


def iso_utc(moment: dt.datetime | None) -> str | None:
    """ISO 8601 UTC with "Z", e.g. 2026-11-29T23:59:59Z (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _counts(counts: EvidenceCounts) -> dict[str, Any]:
    return {
        "articles": counts.articles,
        "rcts": counts.rcts,
        "meta_analyses_and_systematic_reviews": counts.syntheses,
        "best_evidence_level": counts.best_level,
    }


def _change(change: CountsChange) -> dict[str, Any]:
    return {
        "now": _counts(change.now),
        "previous_week": _counts(change.previous),
        "delta": {
            "articles": change.articles_delta,
            "rcts": change.rcts_delta,
            "meta_analyses_and_systematic_reviews": change.syntheses_delta,
        },
    }


def _split(split: EvidenceSplit) -> dict[str, Any]:
    return {"direct": _change(split.direct), "indirect": _change(split.indirect)}


def _article(entry: ArticleEntry) -> dict[str, Any]:
    return {
        "pmid": entry.pmid,
        "title": entry.title,
        "journal": entry.journal,
        "year": entry.year,
        "doi": entry.doi,
        "forms": list(entry.forms),
        "conditions": list(entry.conditions),
        "study_type": entry.study_type,
        "evidence_level": entry.evidence_level,
        "direct": entry.direct,
        "combination_product": entry.combination_product,
        "retracted": entry.retracted,
        "pubmed_url": entry.pubmed_url,
        "doi_url": entry.doi_url,
        "glycinate_snippet": entry.glycinate_snippet,
        "glycinate_field": entry.glycinate_field,
        "first_seen_at": iso_utc(entry.first_seen_at),
    }


def _cell(cell: MapCell) -> dict[str, int]:
    return {"count": cell.count, "previous_week": cell.previous, "delta": cell.delta}


def _trial(entry: TrialEntry) -> dict[str, Any]:
    return {
        "nct_id": entry.nct_id,
        "title": entry.title,
        "url": entry.url,
        "forms": list(entry.forms),
        "conditions": list(entry.conditions),
        "migraine_or_headache": entry.migraine_or_headache,
        "status": entry.status,
        "stage": entry.stage,
        "phase": entry.phase_label,
        "enrollment": entry.enrollment,
        "enrollment_type": entry.enrollment_type,
        "first_posted": entry.first_posted.isoformat() if entry.first_posted else None,
        "completion": entry.completion,
        "publications": [
            {"pmid": p.pmid, "how": p.how, "pubmed_url": p.pubmed_url, "title": p.title}
            for p in entry.publications
        ],
    }


def registry_to_dict(section: RegistrySection | None) -> dict[str, Any] | None:
    """The "Registered trials" section as plain values (None when the digest has none)."""
    if section is None:
        return None
    return {
        "ran": section.ran,
        "complete": section.complete,
        "through": section.through.isoformat() if section.through else None,
        "searches": [
            {
                "name": s.name,
                "query": s.query,
                "state": s.state,
                "through": s.through.isoformat() if s.through else None,
                "error": s.error,
                "last_attempt": iso_utc(s.last_attempt),
            }
            for s in section.searches
        ],
        "sentences": list(section.sentences),
        "milestones": [
            {"kind": m.kind, "text": m.text, "trial": _trial(m.trial)} for m in section.milestones
        ],
        # Every stage, zero-filled, so the keys never vary; "shown" marks the digest's columns.
        "stages": [
            {"key": key, "label": STAGE_LABELS[key], "shown": key in section.shown_stages}
            for key in TRIAL_STAGES
        ],
        "glycinate_by_stage": {
            row.stage: {"migraine_or_headache": row.headache, "other_conditions": row.other}
            for row in section.glycinate_stages
        },
        "glycinate_trials": [_trial(t) for t in section.glycinate_trials],
        "migraine_trials": section.migraine_trials,
        "migraine_trials_by_form": [
            {
                "form": row.form,
                "total": row.total,
                "by_stage": dict(row.by_stage),
            }
            for row in section.form_stages
        ],
        "changes": [
            {
                "kind": e.kind,
                "nct_id": e.nct_id,
                "title": e.title,
                "url": e.url,
                "text": e.text,
                "seen_at": iso_utc(e.seen_at),
                "glycinate": e.glycinate,
                "migraine_or_headache": e.migraine_or_headache,
            }
            for e in section.events
        ],
        "entered_watch": section.entered_watch,
    }


def digest_to_dict(digest: Digest) -> dict[str, Any]:
    """The digest as JSON-ready plain values."""
    headline = digest.headline
    health = digest.run_health
    return {
        "schema_version": SCHEMA_VERSION,
        "week": digest.week,
        "previous_week": digest.previous_week,
        "week_start": digest.week_start.isoformat(),
        "as_of": iso_utc(digest.as_of),
        "updated": iso_utc(digest.updated_at),
        "demo": digest.demo,
        "title": digest.title,
        "demo_notice": digest.demo_notice,
        "empty_week": digest.is_empty,
        "headline": {
            "text": headline.text,
            "sentences": list(headline.sentences),
            "no_direct_glycinate_study": headline.no_direct_glycinate,
            "glycinate": _split(headline.glycinate),
            "overall": _split(headline.overall),
            "migraine_rcts_by_form": [
                {"form": fc.form, "count": fc.count} for fc in headline.migraine_rct_forms
            ],
        },
        "milestones": [
            {"study_type": m.study_type, "text": m.text, "article": _article(m.article)}
            for m in digest.milestones
        ],
        "new_articles": [_article(a) for a in digest.new_articles],
        "glycinate_articles": [_article(a) for a in digest.glycinate_articles],
        "timeline": {
            "years": list(digest.timeline.years),
            "groups": [{"key": key, "label": label} for key, label in digest.timeline.groups],
            "forms": [
                {
                    "form": form.form,
                    "undated": form.undated,
                    "cumulative": [
                        {
                            "year": point.year,
                            "direct": point.direct,
                            "indirect": point.indirect,
                            "by_group": {
                                cell.group: {"direct": cell.direct, "indirect": cell.indirect}
                                for cell in point.cells
                            },
                        }
                        for point in form.years
                    ],
                }
                for form in digest.timeline.forms
            ],
        },
        "evidence_map": {
            "study_types_present": list(digest.evidence_map.study_types),
            "rows": [
                {
                    "form": row.form,
                    "total": _cell(row.total),
                    "direct": _cell(row.direct),
                    # Every vocabulary study type, zero-filled, so the keys never vary.
                    "by_study_type": {
                        study_type: _cell(cells.get(study_type, MapCell(study_type, 0, 0)))
                        for cells in ({c.study_type: c for c in row.cells},)
                        for study_type in STUDY_TYPES
                    },
                    "best_evidence_level": row.best_level,
                    "previous_best_evidence_level": row.previous_best_level,
                }
                for row in digest.evidence_map.rows
            ],
        },
        "retractions": [
            {"article": _article(r.article), "retracted_at": iso_utc(r.retracted_at)}
            for r in digest.retractions
        ],
        "revisions": [
            {
                "pmid": c.pmid,
                "title": c.title,
                "seen_at": iso_utc(c.seen_at),
                "changed_fields": list(c.changed_fields),
                "summary": c.summary,
                "pubmed_url": c.pubmed_url,
            }
            for c in digest.revisions
        ],
        "run_health": {
            "runs": [
                {
                    "started_at": iso_utc(r.started_at),
                    "finished_at": iso_utc(r.finished_at),
                    "status": r.status,
                    "queries": list(r.queries),
                    "new_count": r.new_count,
                    "revised_count": r.revised_count,
                    "failures": list(r.failures),
                }
                for r in health.runs
            ],
            "queries": list(health.queries),
            "new_count": health.new_count,
            "revised_count": health.revised_count,
            "failures": list(health.failures),
            "last_refreshed_at": iso_utc(health.last_refreshed_at),
            "last_status": health.last_status,
        },
        "registry": registry_to_dict(digest.registry),
    }


def render_json(digest: Digest) -> str:
    """The digest as pretty-printed JSON text (UTF-8, trailing newline): the same text as
    ``json.dumps(digest_to_dict(digest), indent=2, ensure_ascii=False)``, written by orjson,
    whose encoder stays in C when indenting (the standard library's drops to pure Python,
    which was most of the JSON time for a digest listing thousands of articles)."""
    with gc_paused():  # thousands of listed articles: see gc_paused
        data = digest_to_dict(digest)
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
