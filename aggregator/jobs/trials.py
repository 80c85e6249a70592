"""Read jobs over the stored registry watch: ``aggregator trials``, ``trials show``, the
registrations ``show PMID`` lists, and the registry part of ``status``.

Each opens its own session (database errors become one clear line) and hands plain JSON-ready
records to the CLI. None of them writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.ctgov import normalise_nct_id
from aggregator.store.engine import new_session, store_errors
from aggregator.store.models import TrialRow
from aggregator.store.trials import (
    RegistryState,
    StoredTrial,
    TrialLink,
    article_registrations,
    count_trials,
    get_trial,
    list_trials,
    registry_states,
)
from aggregator.trial_stages import STAGE_LABELS, phase_label, status_label, trial_stage

TRIAL_URL = "https://clinicaltrials.gov/study/{nct_id}"
# Flat columns of ``trials --format csv`` (lists joined with "; ").
CSV_COLUMNS = (
    "nct_id",
    "title",
    "status",
    "stage",
    "phases",
    "study_type",
    "forms",
    "migraine_or_headache",
    "conditions",
    "enrollment",
    "enrollment_type",
    "first_posted",
    "start",
    "completion",
    "has_results",
    "pmids",
    "url",
)


@contextmanager
def _session(engine: Engine) -> Iterator[Session]:
    with store_errors(engine.url), new_session(engine) as session:
        yield session


@dataclass(frozen=True, slots=True)
class TrialFilter:
    """What ``aggregator trials`` filters by; empty: no filter. Within one filter any value
    matches; different filters must all match."""

    forms: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()  # words found in the registered conditions or keywords
    statuses: tuple[str, ...] = ()  # registry overall statuses (RECRUITING, ...)
    phases: tuple[str, ...] = ()  # registry phases (PHASE2, NA, ...)
    stages: tuple[str, ...] = ()  # aggregator.trial_stages.TRIAL_STAGES

    def accepts(self, stored: StoredTrial, stage: str) -> bool:
        row = stored.row
        if self.forms and not set(self.forms) & set(stored.forms):
            return False
        if self.statuses and row.overall_status not in self.statuses:
            return False
        if self.phases and not set(self.phases) & set(row.phases or ()):
            return False
        if self.stages and stage not in self.stages:
            return False
        if self.conditions:
            text = " ".join([*(row.conditions or ()), *(row.keywords or ())]).lower()
            if not any(word.lower() in text for word in self.conditions):
                return False
        return True


def stage_of(stored: StoredTrial) -> str:
    """The trial's stage now (aggregator.trial_stages)."""
    return trial_stage(
        stored.row.overall_status,
        has_results=stored.row.has_results,
        published=bool(stored.publications),
    )


def _date(value: str | None, kind: str | None) -> dict[str, Any] | None:
    return None if value is None else {"date": value, "type": kind}


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def trial_record(stored: StoredTrial) -> dict[str, Any]:
    """One stored trial as JSON: what the registry says, what we concluded, its publications
    and its status history."""
    row: TrialRow = stored.row
    stage = stage_of(stored)
    return {
        "nct_id": row.nct_id,
        "title": row.title,
        "official_title": row.official_title,
        "acronym": row.acronym,
        "url": TRIAL_URL.format(nct_id=row.nct_id),
        "status": row.overall_status,
        "why_stopped": row.why_stopped,
        "stage": stage,
        "stage_label": STAGE_LABELS[stage],
        "phases": list(row.phases or ()),
        "study_type": row.study_type,
        "allocation": row.allocation,
        "masking": row.masking,
        "enrollment": row.enrollment,
        "enrollment_type": row.enrollment_type,
        "start": _date(row.start_date, row.start_date_type),
        "primary_completion": _date(row.primary_completion_date, row.primary_completion_date_type),
        "completion": _date(row.completion_date, row.completion_date_type),
        "first_posted": _date(row.first_posted, row.first_posted_type),
        "last_update_posted": row.last_update_posted,
        "results_first_posted": row.results_first_posted,
        "has_results": row.has_results,
        "conditions": list(row.conditions or ()),
        "keywords": list(row.keywords or ()),
        "migraine_or_headache": row.migraine_or_headache,
        "forms": list(stored.forms),
        "form_tags": list(row.form_tags or ()),
        "interventions": list(row.interventions or ()),
        "sponsor": row.sponsor,
        "publications": [_publication(link) for link in stored.publications],
        "status_history": [
            {
                "seen_at": change.seen_at.isoformat(),
                "old_status": change.old_status,
                "new_status": change.new_status,
                "posted": change.posted,
            }
            for change in stored.history
        ],
        "first_seen_at": _iso(row.first_seen_at),
        "last_updated_at": _iso(row.last_updated_at),
        "results_seen_at": _iso(row.results_seen_at),
    }


def _publication(link: TrialLink) -> dict[str, Any]:
    return {
        "pmid": link.pmid,
        "how": link.how,
        "in_database": link.article_title is not None,
        "title": link.article_title,
        "year": link.article_year,
        "first_seen_at": link.first_seen_at.isoformat(),
    }


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """A :func:`trial_record` flattened to :data:`CSV_COLUMNS`."""

    def day(value: dict[str, Any] | None) -> str:
        return value["date"] if value else ""

    return {
        "nct_id": record["nct_id"],
        "title": record["title"],
        "status": record["status"] or "",
        "stage": record["stage"],
        "phases": "; ".join(record["phases"]),
        "study_type": record["study_type"] or "",
        "forms": "; ".join(record["forms"]),
        "migraine_or_headache": record["migraine_or_headache"],
        "conditions": "; ".join(record["conditions"]),
        "enrollment": "" if record["enrollment"] is None else record["enrollment"],
        "enrollment_type": record["enrollment_type"] or "",
        "first_posted": day(record["first_posted"]),
        "start": day(record["start"]),
        "completion": day(record["completion"]),
        "has_results": record["has_results"],
        "pmids": "; ".join(str(p["pmid"]) for p in record["publications"]),
        "url": record["url"],
    }


def find_trials(engine: Engine, filt: TrialFilter) -> list[dict[str, Any]]:
    """The stored trials ``filt`` accepts, as JSON records, by NCT id."""
    with _session(engine) as session:
        stored = list_trials(session, statuses=filt.statuses or None)
    return [trial_record(t) for t in stored if filt.accepts(t, stage_of(t))]


def show_trial(engine: Engine, nct_id: str) -> dict[str, Any] | None:
    """One stored trial in full (``nct_id`` in any case), or None when it is not stored."""
    with _session(engine) as session:
        stored = get_trial(session, normalise_nct_id(nct_id))
    return None if stored is None else trial_record(stored)


def registrations_of(session: Session, pmid: int) -> list[dict[str, Any]]:
    """The registered trials joined to one article, for ``show PMID`` (in an open session)."""
    return [
        {
            "nct_id": link.nct_id,
            "how": link.how,
            "url": TRIAL_URL.format(nct_id=link.nct_id),
            "in_database": link.trial_title is not None,
            "title": link.trial_title,
            "status": link.trial_status,
            "first_seen_at": link.first_seen_at.isoformat(),
        }
        for link in article_registrations(session, pmid)
    ]


@dataclass(frozen=True, slots=True)
class RegistryStatus:
    """The registry part of ``aggregator status``."""

    trials: int
    checkpoints: list[RegistryState]


def registry_status(engine: Engine) -> RegistryStatus:
    """How many trials are stored and each registry search's checkpoint."""
    with _session(engine) as session:
        return RegistryStatus(count_trials(session), registry_states(session))


def describe_trial_line(record: dict[str, Any]) -> list[str]:
    """Table cells of one trial: NCT id, stage, phase, forms, enrolment, title."""
    enrollment = record["enrollment"]
    return [
        record["nct_id"],
        record["stage_label"],
        phase_label(record["phases"]).removeprefix("phase "),
        ",".join(record["forms"]) or "-",
        "-" if enrollment is None else str(enrollment),
        record["title"],
    ]


def status_text(record: dict[str, Any]) -> str:
    """``recruiting (RECRUITING)``."""
    return f"{status_label(record['status'])} ({record['status'] or 'no status'})"


def trial_lines(records: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Table rows of :func:`describe_trial_line`."""
    return [describe_trial_line(r) for r in records]
