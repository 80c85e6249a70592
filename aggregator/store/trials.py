"""Registered trials as stored: idempotent upserts keyed on the NCT id, the status history,
the links between trials and publications, the registry checkpoints, and reads.

All functions take an open ``Session`` and never commit: the caller owns the transaction
(the registry harvest commits one batch of trials, with their status changes and reference
links, at a time). Timestamps passed in (``now``) must be timezone-aware.

Registry searches keep their checkpoints in ``saved_query_state`` under
``ctgov:<search name>`` (:func:`registry_checkpoint_name`): a saved-search name cannot hold a
colon, so these never meet a PubMed search's checkpoint. The pass that links articles naming
NCT ids keeps its own under :data:`MENTIONS_STATE`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aggregator.store.models import (
    TRIAL_LINK_KINDS,
    ArticleRow,
    SavedQueryStateRow,
    TrialPublicationRow,
    TrialRevisionRow,
    TrialRow,
    TrialStatusChangeRow,
)
from aggregator.store.tables import chunks, table_of
from aggregator.timeutil import as_utc, require_aware
from aggregator.vocab import in_vocabulary_order

if TYPE_CHECKING:  # the store takes the source's records as plain values, never imports it
    from aggregator.ctgov.forms import TrialFormTag
    from aggregator.ctgov.studies import Trial, TrialDate

REGISTRY_PREFIX = "ctgov:"
MENTIONS_STATE = "links:nct-mentions"  # checkpoint of the article -> trial mention pass
# Registry reference types that make a PMID a publication of the trial (BACKGROUND does not).
REFERENCE_LINKS = {"RESULT": "result_reference", "DERIVED": "derived_reference"}
ARTICLE_MENTIONS = "article_mentions"
assert set(REFERENCE_LINKS.values()) | {ARTICLE_MENTIONS} == set(TRIAL_LINK_KINDS)

TrialUpsertStatus = Literal["new", "changed", "unchanged"]


def registry_checkpoint_name(search_name: str) -> str:
    """The ``saved_query_state`` key of a registry search."""
    return f"{REGISTRY_PREFIX}{search_name}"


# ---- writing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrialInput:
    """One parsed trial with what the harvest concluded from it."""

    trial: Trial
    form_tags: Sequence[TrialFormTag]
    migraine_or_headache: bool
    raw_json: str  # the study as the registry sent it
    rules_version: str | None = None


@dataclass(frozen=True, slots=True)
class TrialUpsert:
    """What :func:`upsert_trials` did with one trial."""

    nct_id: str
    status: TrialUpsertStatus
    old_status: str | None = None  # set when the overall status changed (or on first sight)
    new_status: str | None = None
    status_changed: bool = False
    results_posted: bool = False  # has_results seen for the first time (not on first sight)
    links_added: int = 0


def _date(value: TrialDate | None) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    return str(value.date), value.type


def trial_columns(item: TrialInput) -> dict[str, Any]:
    """The ``trial`` columns of a parsed trial (bookkeeping columns left out)."""
    trial = item.trial
    start, start_type = _date(trial.start)
    primary, primary_type = _date(trial.primary_completion)
    completion, completion_type = _date(trial.completion)
    posted, posted_type = _date(trial.first_posted)
    updated, _ = _date(trial.last_update_posted)
    results, _ = _date(trial.results_first_posted)
    forms = in_vocabulary_order("form", dict.fromkeys(tag.form for tag in item.form_tags))
    return {
        "nct_id": trial.nct_id,
        "title": trial.title,
        "official_title": trial.official_title,
        "acronym": trial.acronym,
        "overall_status": trial.overall_status,
        "why_stopped": trial.why_stopped,
        "phases": list(trial.phases),
        "study_type": trial.study_type,
        "allocation": trial.allocation,
        "masking": trial.masking,
        "enrollment": trial.enrollment,
        "enrollment_type": trial.enrollment_type,
        "start_date": start,
        "start_date_type": start_type,
        "primary_completion_date": primary,
        "primary_completion_date_type": primary_type,
        "completion_date": completion,
        "completion_date_type": completion_type,
        "first_posted": posted,
        "first_posted_type": posted_type,
        "last_update_posted": updated,
        "results_first_posted": results,
        "conditions": list(trial.conditions),
        "keywords": list(trial.keywords),
        "interventions": [
            {
                "type": i.type,
                "name": i.name,
                "description": i.description,
                "other_names": list(i.other_names),
                "arm_group_labels": list(i.arm_group_labels),
            }
            for i in trial.interventions
        ],
        "arm_groups": [
            {
                "label": a.label,
                "type": a.type,
                "description": a.description,
                "intervention_names": list(a.intervention_names),
            }
            for a in trial.arm_groups
        ],
        "references": [
            {"pmid": r.pmid, "type": r.type, "citation": r.citation} for r in trial.references
        ],
        "has_results": trial.has_results,
        "sponsor": trial.sponsor,
        "raw_json": item.raw_json,
        "forms": ",".join(forms),
        "form_tags": [
            {"form": t.form, "source": t.source, "snippet": t.snippet} for t in item.form_tags
        ],
        "migraine_or_headache": item.migraine_or_headache,
        "rules_version": item.rules_version,
        "content_hash": trial.content_hash,
    }


# Columns an unchanged trial (same content hash) still takes from the new record: the hash
# leaves them out on purpose (the registry bumps them for edits to parts we do not read).
_QUIET_COLUMNS = ("last_update_posted", "raw_json")
# Conclusions a new rules version may change without the record changing.
_DERIVED_COLUMNS = ("forms", "form_tags", "migraine_or_headache", "rules_version")
# Columns a revision records when they change (bookkeeping and the quiet ones left out).
REVISED_COLUMNS = tuple(
    name
    for name in (
        "title",
        "official_title",
        "acronym",
        "overall_status",
        "why_stopped",
        "phases",
        "study_type",
        "allocation",
        "masking",
        "enrollment",
        "enrollment_type",
        "start_date",
        "start_date_type",
        "primary_completion_date",
        "primary_completion_date_type",
        "completion_date",
        "completion_date_type",
        "first_posted",
        "first_posted_type",
        "results_first_posted",
        "conditions",
        "keywords",
        "interventions",
        "arm_groups",
        "references",
        "has_results",
        "sponsor",
        "forms",
        "form_tags",
        "migraine_or_headache",
    )
)


def upsert_trials(
    session: Session, items: Sequence[TrialInput], *, run_id: int | None, now: dt.datetime
) -> list[TrialUpsert]:
    """Insert or update trials by NCT id, with their status history and reference links.

    A trial seen for the first time gets a status row with no old status; a changed record
    (its content hash differs) is updated in place, gets a status row when its overall
    status changed, and its reference links follow its references module. An unchanged
    record only has its fetch time (and the fields the hash leaves out) updated, so running
    the same batch twice changes nothing else.
    """
    require_aware(now, "now")
    table = table_of(TrialRow)
    unique: dict[str, TrialInput] = {item.trial.nct_id: item for item in items}
    existing: dict[str, Any] = {}
    wanted = sorted(unique)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = sa.select(
            table.c.nct_id,
            table.c.content_hash,
            table.c.results_seen_at,
            table.c.rules_version,
            *(table.c[name] for name in REVISED_COLUMNS),
        ).where(table.c.nct_id.in_(chunk))
        for row in session.execute(query).mappings():
            existing[str(row["nct_id"])] = row
    results: list[TrialUpsert] = []
    status_rows: list[dict[str, Any]] = []
    revision_rows: list[dict[str, Any]] = []
    for nct_id, item in unique.items():
        columns = trial_columns(item)
        before = existing.get(nct_id)
        posted = columns["last_update_posted"]
        if before is None:
            session.execute(
                sa.insert(table).values(
                    **columns,
                    first_seen_at=now,
                    last_updated_at=now,
                    last_fetched_at=now,
                    results_seen_at=now if item.trial.has_results else None,
                )
            )
            status_rows.append(_status_row(nct_id, None, columns["overall_status"], posted))
            added = _sync_reference_links(session, item.trial, run_id, now)
            results.append(
                TrialUpsert(nct_id, "new", None, columns["overall_status"], False, False, added)
            )
            continue
        values: dict[str, Any] = {"last_fetched_at": now}
        values.update({name: columns[name] for name in _QUIET_COLUMNS})
        if before["content_hash"] == columns["content_hash"]:
            if before["rules_version"] != columns["rules_version"]:
                values.update({name: columns[name] for name in _DERIVED_COLUMNS})
            session.execute(sa.update(table).where(table.c.nct_id == nct_id).values(**values))
            results.append(TrialUpsert(nct_id, "unchanged"))
            continue
        values.update({name: value for name, value in columns.items() if name != "nct_id"})
        values["last_updated_at"] = now
        newly_results = bool(item.trial.has_results and before["results_seen_at"] is None)
        if newly_results:
            values["results_seen_at"] = now
        session.execute(sa.update(table).where(table.c.nct_id == nct_id).values(**values))
        changed_fields = [name for name in REVISED_COLUMNS if before[name] != columns[name]]
        if changed_fields:
            revision_rows.append(
                {
                    "nct_id": nct_id,
                    "changed_fields": changed_fields,
                    "old_values": {name: before[name] for name in changed_fields},
                    "new_values": {name: columns[name] for name in changed_fields},
                }
            )
        old, new = before["overall_status"], columns["overall_status"]
        changed = old != new
        if changed:
            status_rows.append(_status_row(nct_id, old, new, posted))
        added = _sync_reference_links(session, item.trial, run_id, now)
        results.append(TrialUpsert(nct_id, "changed", old, new, changed, newly_results, added))
    if status_rows:
        session.execute(
            sa.insert(table_of(TrialStatusChangeRow)),
            [{**row, "seen_at": now, "run_id": run_id} for row in status_rows],
        )
    if revision_rows:
        session.execute(
            sa.insert(table_of(TrialRevisionRow)),
            [{**row, "seen_at": now, "run_id": run_id} for row in revision_rows],
        )
    return results


def _status_row(
    nct_id: str, old: str | None, new: str | None, posted: str | None
) -> dict[str, Any]:
    return {"nct_id": nct_id, "old_status": old, "new_status": new, "posted": posted}


def _sync_reference_links(
    session: Session, trial: Trial, run_id: int | None, now: dt.datetime
) -> int:
    """Make the trial's result/derived reference links those of its references module;
    returns how many were added (links kept keep their first-seen time)."""
    links = table_of(TrialPublicationRow)
    wanted = {
        (ref.pmid, REFERENCE_LINKS[ref.type])
        for ref in trial.references
        if ref.pmid is not None and ref.type in REFERENCE_LINKS
    }
    kinds = tuple(REFERENCE_LINKS.values())
    query = sa.select(links.c.pmid, links.c.how).where(
        links.c.nct_id == trial.nct_id, links.c.how.in_(kinds)
    )
    have = {(pmid, how) for pmid, how in session.execute(query).all()}
    for pmid, how in have - wanted:
        session.execute(
            sa.delete(links).where(
                links.c.nct_id == trial.nct_id, links.c.pmid == pmid, links.c.how == how
            )
        )
    fresh = sorted(wanted - have)
    if fresh:
        session.execute(
            sa.insert(links),
            [
                {
                    "nct_id": trial.nct_id,
                    "pmid": pmid,
                    "how": how,
                    "first_seen_at": now,
                    "run_id": run_id,
                }
                for pmid, how in fresh
            ],
        )
    return len(fresh)


@dataclass(frozen=True, slots=True)
class MentionCandidate:
    """An article that may name an NCT id: the texts :mod:`aggregator.ctgov.mentions` reads."""

    pmid: int
    title: str
    abstract: str
    raw: str


def mention_candidates(
    session: Session, *, fetched_since: dt.datetime | None
) -> list[MentionCandidate]:
    """Articles fetched (or imported) since ``fetched_since`` (all when None) whose title,
    abstract or stored record contains "NCT" (case-sensitive, so "function" is no match)."""
    articles = table_of(ArticleRow)
    position = sa.func.strpos if session.get_bind().dialect.name == "postgresql" else sa.func.instr
    where = []
    if fetched_since is not None:  # first, so the text is searched only in those articles
        require_aware(fetched_since, "fetched_since")
        where.append(articles.c.last_fetched_at >= fetched_since)
    where.append(
        sa.or_(
            position(articles.c.title, "NCT") > 0,
            position(articles.c.abstract, "NCT") > 0,
            position(articles.c.raw_xml, "NCT") > 0,
        )
    )
    query = (
        sa.select(articles.c.pmid, articles.c.title, articles.c.abstract, articles.c.raw_xml)
        .where(*where)
        .order_by(articles.c.pmid)
    )
    return [MentionCandidate(*row) for row in session.execute(query).all()]


def articles_fetched_since(session: Session, since: dt.datetime) -> list[int]:
    """PMIDs of the articles fetched (or imported) at or after ``since``."""
    articles = table_of(ArticleRow)
    query = sa.select(articles.c.pmid).where(articles.c.last_fetched_at >= since)
    return list(session.execute(query).scalars())


def replace_article_mentions(
    session: Session,
    mentions: Mapping[int, Iterable[str]],
    *,
    run_id: int | None,
    now: dt.datetime,
) -> tuple[int, int]:
    """Make the ``article_mentions`` links of each PMID in ``mentions`` exactly its NCT ids
    (an empty set removes them); returns (added, removed). Links kept keep their first-seen
    time."""
    require_aware(now, "now")
    links = table_of(TrialPublicationRow)
    pmids = sorted(mentions)
    have: dict[int, set[str]] = {}
    for chunk in chunks(pmids):
        query = sa.select(links.c.pmid, links.c.nct_id).where(
            links.c.how == ARTICLE_MENTIONS, links.c.pmid.in_(chunk)
        )
        for pmid, nct_id in session.execute(query).all():
            have.setdefault(pmid, set()).add(nct_id)
    added: list[dict[str, Any]] = []
    removed = 0
    for pmid in pmids:
        wanted = set(mentions[pmid])
        current = have.get(pmid, set())
        for nct_id in sorted(current - wanted):
            session.execute(
                sa.delete(links).where(
                    links.c.pmid == pmid,
                    links.c.nct_id == nct_id,
                    links.c.how == ARTICLE_MENTIONS,
                )
            )
            removed += 1
        added.extend(
            {
                "nct_id": nct_id,
                "pmid": pmid,
                "how": ARTICLE_MENTIONS,
                "first_seen_at": now,
                "run_id": run_id,
            }
            for nct_id in sorted(wanted - current)
        )
    if added:
        session.execute(sa.insert(links), added)
    return len(added), removed


# ---- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegistryState:
    """The checkpoint of one registry search."""

    name: str  # the registry search's name (without the ctgov: prefix)
    last_window_end: dt.date | None
    last_success_at: dt.datetime | None
    term_hash: str | None


def registry_states(session: Session) -> list[RegistryState]:
    """Checkpoints of the registry searches, by name."""
    table = table_of(SavedQueryStateRow)
    query = (
        sa.select(table)
        .where(table.c.query_name.startswith(REGISTRY_PREFIX, autoescape=True))
        .order_by(table.c.query_name)
    )
    return [
        RegistryState(
            name=row["query_name"][len(REGISTRY_PREFIX) :],
            last_window_end=row["last_window_end"],
            last_success_at=as_utc(row["last_success_at"]),
            term_hash=row["term_hash"],
        )
        for row in session.execute(query).mappings()
    ]


def mentions_checkpoint(session: Session) -> dt.datetime | None:
    """When the last article -> trial mention pass started (None: never ran)."""
    table = table_of(SavedQueryStateRow)
    query = sa.select(table.c.last_success_at).where(table.c.query_name == MENTIONS_STATE)
    return as_utc(session.execute(query).scalar_one_or_none())


# ---- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One row of a trial's status history (``old_status`` None: first seen)."""

    seen_at: dt.datetime
    old_status: str | None
    new_status: str | None
    posted: str | None  # the registry's date of the record version that showed it


@dataclass(frozen=True, slots=True)
class TrialLink:
    """A trial joined to a publication, with what is stored of either side."""

    nct_id: str
    pmid: int
    how: str
    first_seen_at: dt.datetime
    article_title: str | None = None  # None: the article is not in the database
    article_year: int | None = None
    article_first_seen_at: dt.datetime | None = None
    trial_title: str | None = None  # None: the trial is not in the database
    trial_status: str | None = None


@dataclass(frozen=True, slots=True)
class TrialRevision:
    """A change of a stored trial: the fields, their old and new values."""

    seen_at: dt.datetime
    changed_fields: tuple[str, ...]
    old_values: dict[str, Any]
    new_values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredTrial:
    """One stored trial: its row, its status history and revisions (oldest first) and its
    publications (by PMID, then how)."""

    row: TrialRow
    history: tuple[StatusChange, ...]
    publications: tuple[TrialLink, ...]
    revisions: tuple[TrialRevision, ...] = ()

    @property
    def nct_id(self) -> str:
        return self.row.nct_id

    @property
    def forms(self) -> tuple[str, ...]:
        return tuple(self.row.forms.split(",")) if self.row.forms else ()


def count_trials(session: Session) -> int:
    """How many trials are stored."""
    return int(session.execute(sa.select(sa.func.count()).select_from(TrialRow)).scalar_one())


def get_trial(session: Session, nct_id: str) -> StoredTrial | None:
    """One stored trial in full, or None."""
    found = list_trials(session, nct_ids=[nct_id])
    return found[0] if found else None


def list_trials(
    session: Session,
    *,
    nct_ids: Sequence[str] | None = None,
    form: str | None = None,
    statuses: Sequence[str] | None = None,
    phase: str | None = None,
) -> list[StoredTrial]:
    """Stored trials (all, or those ``nct_ids``), optionally only those with magnesium
    ``form``, an overall status in ``statuses`` or the registry phase ``phase``; by NCT id."""
    table = table_of(TrialRow)
    query = sa.select(TrialRow).order_by(table.c.nct_id)
    if nct_ids is not None:
        query = query.where(table.c.nct_id.in_(list(nct_ids)))
    if statuses is not None:
        query = query.where(table.c.overall_status.in_(list(statuses)))
    rows = [
        row
        for row in session.execute(query.execution_options(populate_existing=True)).scalars()
        if (form is None or form in (row.forms.split(",") if row.forms else ()))
        and (phase is None or phase in (row.phases or ()))
    ]
    wanted = [row.nct_id for row in rows]
    history = _histories(session, wanted)
    revisions = _revisions(session, wanted)
    links = trial_links(session, nct_ids=wanted)
    return [
        StoredTrial(
            row,
            tuple(history.get(row.nct_id, ())),
            tuple(links.get(row.nct_id, ())),
            tuple(revisions.get(row.nct_id, ())),
        )
        for row in rows
    ]


def _revisions(session: Session, nct_ids: Sequence[str]) -> dict[str, list[TrialRevision]]:
    table = table_of(TrialRevisionRow)
    found: dict[str, list[TrialRevision]] = {}
    for start in range(0, len(nct_ids), 500):
        query = (
            sa.select(
                table.c.nct_id,
                table.c.seen_at,
                table.c.changed_fields,
                table.c.old_values,
                table.c.new_values,
            )
            .where(table.c.nct_id.in_(nct_ids[start : start + 500]))
            .order_by(table.c.seen_at, table.c.id)
        )
        for nct_id, seen_at, fields, old, new in session.execute(query).all():
            moment = as_utc(seen_at)
            assert moment is not None
            found.setdefault(nct_id, []).append(
                TrialRevision(moment, tuple(fields), dict(old), dict(new))
            )
    return found


def trial_as_of(stored: StoredTrial, moment: dt.datetime) -> StoredTrial:
    """The trial as it was before ``moment``: revisions seen at or after it undone (on a
    detached copy of the row), and only the history and links seen before it."""
    later = [r for r in stored.revisions if r.seen_at >= moment]
    row = stored.row
    if later:
        values = {column.name: getattr(row, column.name) for column in table_of(TrialRow).c}
        for revision in reversed(later):
            values.update(revision.old_values)
        row = TrialRow(**values)
    return StoredTrial(
        row,
        tuple(change for change in stored.history if change.seen_at < moment),
        tuple(link for link in stored.publications if link.first_seen_at < moment),
        tuple(r for r in stored.revisions if r.seen_at < moment),
    )


def _histories(session: Session, nct_ids: Sequence[str]) -> dict[str, list[StatusChange]]:
    table = table_of(TrialStatusChangeRow)
    found: dict[str, list[StatusChange]] = {}
    for start in range(0, len(nct_ids), 500):
        query = (
            sa.select(
                table.c.nct_id,
                table.c.seen_at,
                table.c.old_status,
                table.c.new_status,
                table.c.posted,
            )
            .where(table.c.nct_id.in_(nct_ids[start : start + 500]))
            .order_by(table.c.seen_at, table.c.id)
        )
        for nct_id, seen_at, old, new, posted in session.execute(query).all():
            moment = as_utc(seen_at)
            assert moment is not None
            found.setdefault(nct_id, []).append(StatusChange(moment, old, new, posted))
    return found


def trial_links(
    session: Session,
    *,
    nct_ids: Sequence[str] | None = None,
    pmids: Sequence[int] | None = None,
) -> dict[str, list[TrialLink]]:
    """Links of the trials ``nct_ids`` or of the articles ``pmids`` (all when both are None),
    by NCT id, each with the stored article's and trial's title where they are stored."""
    links, articles, trials = (
        table_of(TrialPublicationRow),
        table_of(ArticleRow),
        table_of(TrialRow),
    )
    query = (
        sa.select(
            links.c.nct_id,
            links.c.pmid,
            links.c.how,
            links.c.first_seen_at,
            articles.c.title,
            articles.c.pub_year,
            articles.c.first_seen_at,
            trials.c.title,
            trials.c.overall_status,
        )
        .outerjoin(articles, articles.c.pmid == links.c.pmid)
        .outerjoin(trials, trials.c.nct_id == links.c.nct_id)
        .order_by(links.c.nct_id, links.c.pmid, links.c.how)
    )
    if nct_ids is not None:
        query = query.where(links.c.nct_id.in_(list(nct_ids)))
    if pmids is not None:
        query = query.where(links.c.pmid.in_(list(pmids)))
    found: dict[str, list[TrialLink]] = {}
    for row in session.execute(query).all():
        nct_id, pmid, how, seen, a_title, a_year, a_seen, t_title, t_status = row
        first_seen = as_utc(seen)
        assert first_seen is not None
        found.setdefault(nct_id, []).append(
            TrialLink(
                nct_id=nct_id,
                pmid=pmid,
                how=how,
                first_seen_at=first_seen,
                article_title=a_title,
                article_year=a_year,
                article_first_seen_at=as_utc(a_seen),
                trial_title=t_title,
                trial_status=t_status,
            )
        )
    return found


def article_registrations(session: Session, pmid: int) -> list[TrialLink]:
    """The trials joined to one article (stored or not), by NCT id then how."""
    return [link for links in trial_links(session, pmids=[pmid]).values() for link in links]


def raw_study(row: TrialRow) -> dict[str, Any]:
    """The study JSON as the registry last sent it ({} when not kept)."""
    return dict(json.loads(row.raw_json)) if row.raw_json else {}
