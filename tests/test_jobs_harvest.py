"""Incremental harvest against the fake NCBI server, on SQLite and PostgreSQL.

The fake serves the synthetic corpus shipped with the package; its clock (``set_today``) moves
through the corpus timeline (new records, a revision, a retraction notice arriving weeks after
its article), so these tests follow the product through simulated weeks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aggregator.http import PoliteSession, RetryPolicy
from aggregator.jobs.harvest import Harvester, term_hash
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.corpus import BASE_TODAY
from aggregator.queries import SavedQuery, load_queries, shipped_queries_dir
from aggregator.settings import load_settings
from aggregator.store.articles import article_history, count_articles, get_article, list_articles
from aggregator.store.engine import new_session
from aggregator.store.lock import RunLock
from aggregator.store.models import ArticleRevisionRow, QueryHitRow
from aggregator.store.runs import get_checkpoint, get_run, query_hits

QUERIES = load_queries(shipped_queries_dir())


def make_client(fake: FakeEutils, *, rate: int = 50, attempts: int = 3) -> EutilsClient:
    settings = load_settings(eutils_url=fake.url, email="tests@example.invalid", environ={})
    session = PoliteSession(
        tool="aggregator-tests",
        email="tests@example.invalid",
        requests_per_second=rate,
        timeout=(2.0, 5.0),
        retry=RetryPolicy(max_attempts=attempts, backoff_base=0.01, min_rate_limit_wait=0.05),
    )
    return EutilsClient(settings, session=session)


class Clock:
    """A settable UTC clock for the harvest (the fake server has its own 'today')."""

    def __init__(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(7, 0), tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now

    def set_day(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(7, 0), tzinfo=dt.UTC)


@pytest.fixture
def fake() -> Iterator[FakeEutils]:
    with FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as server:
        yield server


def harvest(
    engine: Engine, fake: FakeEutils, clock: Clock, queries: list[SavedQuery] | None = None
) -> tuple[object, list[object]]:
    fake.reset_log()
    with make_client(fake) as client:
        report = Harvester(
            engine,
            client,
            clock=clock,
            today=lambda: fake.today,
            lock=RunLock(engine, clock=clock),
        ).run(queries or QUERIES)
    return report, list(fake.requests)


def endpoint_counts(log: list[object]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in log:
        counts[entry.endpoint] = counts.get(entry.endpoint, 0) + 1  # type: ignore[attr-defined]
    return counts


def fetched_ids(log: list[object]) -> set[int]:
    ids: set[int] = set()
    for entry in log:
        if entry.endpoint == "efetch":  # type: ignore[attr-defined]
            ids.update(int(i) for i in entry.params["id"].split(","))  # type: ignore[attr-defined]
    return ids


def expected_matches(fake: FakeEutils, query: SavedQuery) -> set[int]:
    """What the server says the query matches today (its own search, no client involved)."""
    with make_client(fake) as client:
        return set(client.search_ids(query.term))


def all_hits(engine: Engine) -> set[tuple[str, int]]:
    with new_session(engine) as session:
        rows = session.execute(sa.select(QueryHitRow.query_name, QueryHitRow.pmid)).all()
    return {(str(name), int(pmid)) for name, pmid in rows}


def test_first_run_stores_every_match_tags_it_and_sets_checkpoints(
    db: Engine, fake: FakeEutils
) -> None:
    clock = Clock(BASE_TODAY)
    report, log = harvest(db, fake, clock)

    assert report.status == "success"  # type: ignore[attr-defined]
    expected = {q.name: expected_matches(fake, q) for q in QUERIES}
    assert all(expected.values()), "every shipped search matches part of the corpus"
    everything = set().union(*expected.values())
    with new_session(db) as session:
        stored = {s.article.pmid: s for s in list_articles(session)}
        assert set(stored) == everything
        assert all(s.tags is not None for s in stored.values())
        for query in QUERIES:
            assert query_hits(session, query.name) == expected[query.name]
            assert get_checkpoint(session, query.name, term_hash(query.term)) == BASE_TODAY
    # Everything was fetched exactly once, in POSTed batches; no revision check on a first run.
    assert fetched_ids(log) == everything
    assert endpoint_counts(log)["esearch"] == len(QUERIES)
    assert all(e.method == "POST" for e in log if e.endpoint == "efetch")  # type: ignore[attr-defined]


def test_second_run_with_nothing_new_makes_one_search_per_query_plus_revision_check_and_no_fetch(
    db: Engine, fake: FakeEutils
) -> None:
    clock = Clock(BASE_TODAY)
    harvest(db, fake, clock)
    with new_session(db) as session:
        before = {s.article.pmid: s.last_fetched_at for s in list_articles(session)}
    clock.set_day(BASE_TODAY)
    report, log = harvest(db, fake, clock)

    assert report.status == "success"  # type: ignore[attr-defined]
    assert endpoint_counts(log) == {"esearch": 2 * len(QUERIES)}
    datetypes = sorted(e.params.get("datetype") for e in log)  # type: ignore[attr-defined]
    assert datetypes == sorted(["crdt", "mdat"] * len(QUERIES))
    with new_session(db) as session:
        after = {s.article.pmid: s.last_fetched_at for s in list_articles(session)}
    assert after == before
    assert report.total("new") == 0  # type: ignore[attr-defined]


def test_new_records_upstream_are_the_only_ones_fetched(db: Engine, fake: FakeEutils) -> None:
    clock = Clock(BASE_TODAY)
    harvest(db, fake, clock)
    with new_session(db) as session:
        stored_before = {s.article.pmid for s in list_articles(session)}

    week_end = BASE_TODAY + dt.timedelta(days=7)
    events = fake.set_today(week_end)
    new_upstream = {e.record.pmid for e in events if not e.is_revision_of_base}
    assert new_upstream, "the corpus timeline adds records in the first week"
    clock.set_day(week_end)
    report, log = harvest(db, fake, clock)

    matching_new = {p for q in QUERIES for p in expected_matches(fake, q) if p not in stored_before}
    assert matching_new and matching_new <= new_upstream
    revised_upstream = {e.record.pmid for e in events if e.is_revision_of_base} & stored_before
    assert fetched_ids(log) == matching_new | revised_upstream
    assert report.total("new") == len(matching_new)  # type: ignore[attr-defined]


def test_timeline_revision_and_retraction_are_applied_in_place(
    db: Engine, fake: FakeEutils
) -> None:
    clock = Clock(BASE_TODAY)
    harvest(db, fake, clock)
    with new_session(db) as session:
        count_before = count_articles(session)

    final_day = max(e.date for e in fake.pending_events)
    for event_day in sorted({e.date for e in fake.pending_events}):
        fake.set_today(event_day)
        clock.set_day(event_day)
        harvest(db, fake, clock)
    assert fake.today == final_day

    revisions = [e for e in fake.applied_events if e.is_revision_of_base]
    assert revisions, "the corpus timeline revises a stored record"
    with new_session(db) as session:
        for event in revisions:
            stored = get_article(session, event.record.pmid)
            assert stored is not None
            served = fake.get_record(event.record.pmid)
            assert stored.article.title == served.title
            history = article_history(session, event.record.pmid)
            assert history and history[-1].changed_fields
        # A retraction notice arrived weeks after its article: the article is flagged.
        notices = [s for s in list_articles(session) if s.article.retracts]
        assert notices, "the corpus timeline has a retraction notice"
        for notice in notices:
            for target in notice.article.retracts:
                retracted = get_article(session, target)
                assert retracted is not None and retracted.retracted
                assert retracted.retraction_notice_pmid == notice.article.pmid
        # Nothing duplicated: one row per PMID, hits unique.
        pmids = session.execute(sa.text("SELECT pmid FROM article")).scalars().all()
        assert len(pmids) == len(set(pmids)) >= count_before
        revision_rows = session.execute(sa.select(ArticleRevisionRow.pmid)).scalars().all()
        assert revision_rows


def test_a_failing_query_does_not_stop_the_others_and_keeps_its_checkpoint(
    db: Engine, fake: FakeEutils
) -> None:
    broken = SavedQuery(name="broken-syntax", term="(magnesium AND", start_date=dt.date(1950, 1, 1))
    clock = Clock(BASE_TODAY)
    report, _log = harvest(db, fake, clock, [broken, *QUERIES])

    assert report.status == "partial"  # type: ignore[attr-defined]
    outcomes = {o.name: o for o in report.outcomes}  # type: ignore[attr-defined]
    assert not outcomes["broken-syntax"].ok
    assert outcomes["broken-syntax"].error
    assert all(outcomes[q.name].ok for q in QUERIES)
    with new_session(db) as session:
        assert get_checkpoint(session, "broken-syntax") is None
        assert all(get_checkpoint(session, q.name) == BASE_TODAY for q in QUERIES)
        run = get_run(session, report.run_id)  # type: ignore[attr-defined]
        assert run is not None and run.status == "partial" and run.failed_queries == 1


def test_persistent_outage_fails_cleanly_and_next_run_completes(
    db: Engine, fake: FakeEutils
) -> None:
    clock = Clock(BASE_TODAY)
    fake.inject("503", times=1000)
    report, _ = harvest(db, fake, clock)
    assert report.status == "failed"  # type: ignore[attr-defined]
    with new_session(db) as session:
        assert count_articles(session) == 0
        assert all(get_checkpoint(session, q.name) is None for q in QUERIES)

    fake.clear_faults()
    report, _ = harvest(db, fake, clock)
    assert report.status == "success"  # type: ignore[attr-defined]
    expected = set().union(*(expected_matches(fake, q) for q in QUERIES))
    with new_session(db) as session:
        assert {s.article.pmid for s in list_articles(session)} == expected


def test_edited_search_term_restarts_from_its_start_date(db: Engine, fake: FakeEutils) -> None:
    clock = Clock(BASE_TODAY)
    query = QUERIES[0]
    harvest(db, fake, clock, [query])
    edited = SavedQuery(
        name=query.name,
        term=query.term + " AND magnesium[tiab]",
        start_date=query.start_date,
    )
    _report, log = harvest(db, fake, clock, [edited])
    # The edited search is treated as new: one creation-date search from its start date.
    searches = [e for e in log if e.endpoint == "esearch"]  # type: ignore[attr-defined]
    assert len(searches) == 1
    assert searches[0].params["mindate"] == query.start_date.strftime("%Y/%m/%d")  # type: ignore[attr-defined]


def test_hits_are_recorded_for_records_another_search_already_stored(
    db: Engine, fake: FakeEutils
) -> None:
    clock = Clock(BASE_TODAY)
    by_name = {q.name: q for q in QUERIES}
    first, second = by_name["magnesium-glycinate"], by_name["magnesium-migraine"]
    harvest(db, fake, clock, [first])
    harvest(db, fake, clock, [second])
    overlap = expected_matches(fake, first) & expected_matches(fake, second)
    hits = all_hits(db)
    assert {(first.name, p) for p in overlap} <= hits
    assert {(second.name, p) for p in overlap} <= hits
