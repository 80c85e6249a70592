"""The stored registry watch on SQLite and PostgreSQL: idempotent trial upserts with status
history and revisions, reference and mention links, registry checkpoints, reads as of a moment.

All studies are SYNTHETIC (``aggregator.ctgov.fake.build_study``, NCT99000000 up, invented
titles); none describes a real trial.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.ctgov.fake import build_study
from aggregator.jobs.registry import trial_input
from aggregator.store.engine import new_session
from aggregator.store.models import TrialPublicationRow, TrialRevisionRow, TrialStatusChangeRow
from aggregator.store.runs import clear_demo_database, query_states, set_checkpoint, start_run
from aggregator.store.tables import table_of
from aggregator.store.trials import (
    MENTIONS_STATE,
    count_trials,
    get_trial,
    list_trials,
    registry_checkpoint_name,
    registry_states,
    replace_article_mentions,
    trial_as_of,
    trial_links,
    upsert_trials,
)

T0 = dt.datetime(2026, 11, 15, 7, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 22, 7, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 11, 29, 7, 0, tzinfo=dt.UTC)
GLYCINATE = (("DIETARY_SUPPLEMENT", "Magnesium bisglycinate"), ("OTHER", "Placebo"))


def study(nct_id: str = "NCT99000501", **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": "Synthetic glycinate migraine trial",
        "status": "NOT_YET_RECRUITING",
        "interventions": GLYCINATE,
        "last_update": dt.date(2026, 11, 10),
        "first_posted": dt.date(2026, 11, 10),
    }
    values.update(changes)
    return build_study(nct_id, **values)


def upsert(session: Session, *studies: dict[str, Any], now: dt.datetime = T0) -> list[Any]:
    results = upsert_trials(
        session, [trial_input(s, source="test") for s in studies], run_id=None, now=now
    )
    session.commit()
    return results


def rows(session: Session, model: Any, *columns: str) -> list[tuple[Any, ...]]:
    table = table_of(model)
    query = sa.select(*(table.c[c] for c in columns)).order_by(*(table.c[c] for c in columns))
    return [tuple(r) for r in session.execute(query).all()]


def test_upsert_is_idempotent_and_keeps_what_was_first_seen(session: Session) -> None:
    first = upsert(session, study(), study("NCT99000502", interventions=(("DRUG", "Oxide"),)))
    again = upsert(session, study(), study("NCT99000502", interventions=(("DRUG", "Oxide"),)))
    assert [(r.nct_id, r.status) for r in first] == [("NCT99000501", "new"), ("NCT99000502", "new")]
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    stored = get_trial(session, "NCT99000501")
    assert stored is not None
    assert (stored.forms, stored.row.migraine_or_headache, stored.row.first_seen_at) == (
        ("glycinate",),
        True,
        T0,
    )
    assert stored.row.first_posted == "2026-11-10" and stored.row.first_posted_type == "ACTUAL"
    assert count_trials(session) == 2
    assert rows(session, TrialStatusChangeRow, "nct_id", "old_status", "new_status") == [
        ("NCT99000501", None, "NOT_YET_RECRUITING"),
        ("NCT99000502", None, "NOT_YET_RECRUITING"),
    ]
    assert rows(session, TrialRevisionRow, "nct_id") == []


def test_a_changed_trial_gets_its_status_change_and_a_revision(session: Session) -> None:
    upsert(session, study())
    (unchanged,) = upsert(session, study(last_update=dt.date(2026, 11, 12)), now=T1)
    (changed,) = upsert(
        session, study(status="RECRUITING", last_update=dt.date(2026, 11, 25)), now=T2
    )
    assert unchanged.status == "unchanged", "a newer LastUpdatePostDate alone is no change"
    assert (changed.status, changed.old_status, changed.new_status, changed.status_changed) == (
        "changed",
        "NOT_YET_RECRUITING",
        "RECRUITING",
        True,
    )
    stored = get_trial(session, "NCT99000501")
    assert stored is not None
    assert [(h.seen_at, h.old_status, h.new_status, h.posted) for h in stored.history] == [
        (T0, None, "NOT_YET_RECRUITING", "2026-11-10"),
        (T2, "NOT_YET_RECRUITING", "RECRUITING", "2026-11-25"),
    ]
    (revision,) = stored.revisions
    assert (revision.seen_at, revision.changed_fields) == (T2, ("overall_status",))
    assert revision.old_values == {"overall_status": "NOT_YET_RECRUITING"}
    assert stored.row.last_update_posted == "2026-11-25"
    assert (stored.row.last_updated_at, stored.row.last_fetched_at) == (T2, T2)


def test_results_posted_are_seen_once(session: Session) -> None:
    upsert(session, study(status="COMPLETED"))
    (posted,) = upsert(session, study(status="COMPLETED", has_results=True), now=T1)
    (again,) = upsert(session, study(status="COMPLETED", has_results=True), now=T2)
    assert (posted.results_posted, again.status) == (True, "unchanged")
    stored = get_trial(session, "NCT99000501")
    assert stored is not None and stored.row.results_seen_at == T1


def test_reference_links_follow_the_references_module(session: Session) -> None:
    upsert(session, study(references=((99000001, "RESULT"), (99000002, "BACKGROUND"))))
    upsert(
        session,
        study(references=((99000001, "RESULT"), (99000003, "DERIVED"))),
        now=T1,
    )
    links = trial_links(session, nct_ids=["NCT99000501"])["NCT99000501"]
    # BACKGROUND is context, not a publication of the trial; a kept link keeps its time.
    assert [(link.pmid, link.how, link.first_seen_at) for link in links] == [
        (99000001, "result_reference", T0),
        (99000003, "derived_reference", T1),
    ]
    assert all(link.article_title is None for link in links), "no article stored"
    upsert(session, study(references=()), now=T2)
    assert trial_links(session, nct_ids=["NCT99000501"]) == {}


def test_article_mentions_are_replaced_per_article(session: Session) -> None:
    upsert(session, study())
    assert replace_article_mentions(
        session, {99000010: {"NCT99000501", "NCT12345678"}}, run_id=None, now=T0
    ) == (2, 0)
    assert replace_article_mentions(
        session, {99000010: {"NCT99000501"}, 99000011: set()}, run_id=None, now=T1
    ) == (0, 1)
    session.commit()
    found = rows(session, TrialPublicationRow, "nct_id", "pmid", "how", "first_seen_at")
    assert found == [("NCT99000501", 99000010, "article_mentions", T0)]
    # A link to a trial outside the watch is kept too; reads say the trial is not stored.
    replace_article_mentions(session, {99000012: {"NCT12345678"}}, run_id=None, now=T1)
    (outside,) = trial_links(session, pmids=[99000012])["NCT12345678"]
    assert (outside.trial_title, outside.trial_status) == (None, None)


def test_registry_checkpoints_are_kept_apart_from_the_pubmed_ones(session: Session) -> None:
    set_checkpoint(session, "magnesium-migraine", dt.date(2026, 11, 15), None, T0, "h1")
    set_checkpoint(
        session,
        registry_checkpoint_name("ctgov-magnesium-migraine"),
        dt.date(2026, 11, 22),
        None,
        T1,
        "f1",
    )
    set_checkpoint(session, MENTIONS_STATE, dt.date(2026, 11, 22), None, T1)
    session.commit()
    assert [s.query_name for s in query_states(session)] == ["magnesium-migraine"]
    (state,) = registry_states(session)
    assert (state.name, state.last_window_end, state.last_success_at, state.term_hash) == (
        "ctgov-magnesium-migraine",
        dt.date(2026, 11, 22),
        T1,
        "f1",
    )


def test_a_trial_as_of_an_earlier_moment_undoes_later_revisions(session: Session) -> None:
    upsert(session, study())
    upsert(session, study(status="RECRUITING", title="Renamed synthetic trial"), now=T2)
    stored = get_trial(session, "NCT99000501")
    assert stored is not None
    then = trial_as_of(stored, T1)
    assert (then.row.title, then.row.overall_status) == (
        "Synthetic glycinate migraine trial",
        "NOT_YET_RECRUITING",
    )
    assert [h.new_status for h in then.history] == ["NOT_YET_RECRUITING"]
    assert trial_as_of(stored, T2 + dt.timedelta(seconds=1)).row.title == "Renamed synthetic trial"
    assert stored.row.title == "Renamed synthetic trial", "the stored row is left alone"


def test_list_filters_by_form_status_and_phase(session: Session) -> None:
    upsert(
        session,
        study(),
        study("NCT99000502", status="RECRUITING", interventions=(("DRUG", "Magnesium oxide"),)),
        study("NCT99000503", status="RECRUITING", interventions=(("DRUG", "Riboflavin"),)),
    )
    assert [t.nct_id for t in list_trials(session, form="glycinate")] == ["NCT99000501"]
    assert [t.nct_id for t in list_trials(session, statuses=["RECRUITING"])] == [
        "NCT99000502",
        "NCT99000503",
    ]
    assert [t.nct_id for t in list_trials(session, phase="NA")] == [
        "NCT99000501",
        "NCT99000502",
        "NCT99000503",
    ]
    assert list_trials(session, phase="PHASE3") == []


def test_the_demo_reset_empties_the_registry_tables(db: Engine) -> None:
    with new_session(db) as session:
        start_run(session, now=T0, kind="demo")
        upsert(session, study(references=((99000001, "RESULT"),)))
        upsert(session, study(status="RECRUITING"), now=T1)
    clear_demo_database(db)
    with new_session(db) as session:
        assert count_trials(session) == 0
        assert rows(session, TrialPublicationRow, "pmid") == []


@pytest.mark.parametrize("count", [1, 3])
def test_a_batch_may_name_a_trial_twice(session: Session, count: int) -> None:
    """A trial found twice in one batch (two pages overlapping) is stored once."""
    results = upsert(session, *[study() for _ in range(count)])
    assert [r.status for r in results] == ["new"]
    assert count_trials(session) == 1
