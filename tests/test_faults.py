"""Fault injection: the harvest stays correct when NCBI misbehaves, on SQLite and PostgreSQL.

The fake E-utilities server fails a random 30% of requests in every way it knows (429, 500,
502, 503, connection reset, a reply slower than the client's read timeout, a truncated body,
HTTP 200 with an <ERROR> body, records missing from an EFetch batch). The client runs at 50
requests/s with short backoffs, so these tests take real but short time. The fake's rate
limiter is off: politeness is measured in bench/politeness.py.

All records are synthetic filler records made by ``FakeEutils.add_bulk`` (PMIDs 99500000 up).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aggregator.article import Article
from aggregator.errors import RunInProgressError
from aggregator.http import PoliteSession, RetryPolicy
from aggregator.jobs.harvest import Harvester, HarvestReport, term_hash
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.server import FAULT_KINDS, RequestLogEntry
from aggregator.queries import SavedQuery
from aggregator.settings import load_settings
from aggregator.store.engine import new_session
from aggregator.store.lock import LockLostError, RunLock
from aggregator.store.runs import get_checkpoint

DAY_ONE = dt.date(2026, 3, 2)
DAY_TWO = dt.date(2026, 3, 9)
READ_TIMEOUT = 0.5  # seconds; the "slow" fault answers after SLOW_DELAY, beyond it
SLOW_DELAY = 0.8
ATTEMPTS = 8
BULK_QUERY = SavedQuery(name="bulk", term="bulkword[tiab]", start_date=dt.date(2024, 1, 1))


class SmallBatchClient:
    """The real client with small EFetch batches and ESearch slices, so a harvest of a
    couple of thousand records makes dozens of requests for the faults to hit."""

    def __init__(self, client: EutilsClient, batch_size: int) -> None:
        self.client = client
        self.batch_size = batch_size

    def search_ids(
        self,
        term: str,
        *,
        mindate: dt.date | None = None,
        maxdate: dt.date | None = None,
        datetype: str = "crdt",
    ) -> list[int]:
        return self.client.search_ids(term, mindate=mindate, maxdate=maxdate, datetype=datetype)

    def fetch_articles(self, pmids: Iterable[int]) -> Iterator[Article]:
        return self.client.fetch_articles(pmids, batch_size=self.batch_size)

    @property
    def missing_pmids(self) -> list[int]:
        return self.client.missing_pmids

    @property
    def skipped(self) -> list[str]:
        return self.client.skipped


def make_client(fake: FakeEutils, *, max_ids_per_search: int = 9_999) -> EutilsClient:
    settings = load_settings(eutils_url=fake.url, email="tests@example.invalid", environ={})
    session = PoliteSession(
        tool="aggregator-fault-tests",
        email="tests@example.invalid",
        requests_per_second=50,
        timeout=(2.0, READ_TIMEOUT),
        retry=RetryPolicy(
            max_attempts=ATTEMPTS, backoff_base=0.01, backoff_max=0.05, min_rate_limit_wait=0.02
        ),
    )
    return EutilsClient(
        settings, session=session, max_ids_per_search=max_ids_per_search, today=lambda: fake.today
    )


class Clock:
    """UTC clock for the harvest that follows the fake server's day."""

    def __init__(self, fake: FakeEutils) -> None:
        self.fake = fake
        self.ticks = 0

    def __call__(self) -> dt.datetime:
        self.ticks += 1
        start = dt.datetime.combine(self.fake.today, dt.time(7, 0), tzinfo=dt.UTC)
        return start + dt.timedelta(milliseconds=self.ticks)


def harvest(
    engine: Engine,
    fake: FakeEutils,
    *,
    batch_size: int = 100,
    max_ids_per_search: int = 250,
    progress: object = None,
) -> tuple[HarvestReport, list[RequestLogEntry]]:
    fake.reset_log()
    clock = Clock(fake)
    with make_client(fake, max_ids_per_search=max_ids_per_search) as client:
        report = Harvester(
            engine,
            SmallBatchClient(client, batch_size),
            clock=clock,
            today=lambda: fake.today,
            lock=RunLock(engine, clock=clock),
            progress=progress,  # type: ignore[arg-type]
        ).run([BULK_QUERY])
    return report, list(fake.requests)


def server_matches(fake: FakeEutils) -> set[int]:
    """What the server itself says the saved search matches (no faults, no slicing)."""
    with make_client(fake) as client:
        return set(client.search_ids(BULK_QUERY.term))


def database_state(engine: Engine) -> dict[str, object]:
    """Articles (with duplicates counted), tag and hit counts, checkpoint and run statuses."""
    with new_session(engine) as session:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(row) for row in session.execute(sa.text(sql))]

        pmids = [pmid for (pmid,) in rows("SELECT pmid FROM article")]
        ((untagged,),) = rows("SELECT count(*) FROM article WHERE study_type IS NULL")
        tagged_pmids = {pmid for (pmid,) in rows("SELECT DISTINCT pmid FROM tag")}
        hits = rows("SELECT query_name, pmid FROM query_hit")
        runs = [status for (status,) in rows("SELECT status FROM run ORDER BY id")]
        checkpoint = get_checkpoint(session, BULK_QUERY.name, term_hash(BULK_QUERY.term))
    duplicates = [p for p, n in Counter(pmids).items() if n > 1]
    duplicate_hits = [h for h, n in Counter(hits).items() if n > 1]
    return {
        "pmids": set(pmids),
        "duplicates": duplicates + duplicate_hits,
        "untagged": untagged,
        "tagged_pmids": tagged_pmids,
        "hits": {pmid for _name, pmid in hits},
        "checkpoint": checkpoint,
        "runs": runs,
    }


@pytest.fixture
def fake() -> Iterator[FakeEutils]:
    with FakeEutils(records=[], today=DAY_ONE, rate_limit=None, rate_limit_with_key=None) as server:
        yield server


@pytest.mark.slow
def test_harvest_with_30_percent_mixed_faults_stores_every_record_exactly_once(
    db: Engine, fake: FakeEutils
) -> None:
    bulk = set(fake.add_bulk(2000, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
    # Every kind for certain, spread over alternate fetches (random draws alone depend on how
    # many requests the run makes); random faults on top bring the total to about 30%.
    for index, kind in enumerate(FAULT_KINDS):
        fake.inject(kind, endpoint="efetch", after=2 * index, delay=SLOW_DELAY)
    fake.set_fault_rate(0.25, FAULT_KINDS, seed=11, delay=SLOW_DELAY)

    report, log = harvest(db, fake)

    fake.clear_faults()
    assert server_matches(fake) == bulk
    outcome = report.outcomes[0]
    assert (report.status, outcome.ok, outcome.error) == ("success", True, None)
    assert (outcome.new, outcome.fetched, outcome.missing) == (2000, 2000, [])
    assert database_state(db) == {
        "pmids": bulk,
        "duplicates": [],
        "untagged": 0,
        "tagged_pmids": bulk,
        "hits": bulk,
        "checkpoint": DAY_ONE,
        "runs": ["success"],
    }
    # The faults really happened, every kind of them, on about 30% of the requests.
    faults = Counter(entry.fault for entry in log if entry.fault)
    assert set(faults) == set(FAULT_KINDS), faults
    assert 0.2 <= sum(faults.values()) / len(log) <= 0.4
    endpoints = Counter(entry.endpoint for entry in log)
    assert endpoints["efetch"] >= 20 and endpoints["esearch"] >= 8, endpoints


def test_persistent_outage_fails_the_run_cleanly_and_keeps_the_checkpoint(
    db: Engine, fake: FakeEutils
) -> None:
    first = set(fake.add_bulk(150, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 6, 30)))
    report, _ = harvest(db, fake)
    assert report.status == "success"
    fake.set_today(DAY_TWO)
    later = set(fake.add_bulk(120, "bulkword", DAY_ONE, DAY_TWO))
    fake.inject("503", times=1_000)

    report, log = harvest(db, fake)

    assert report.status == "failed"
    assert report.summary_lines() == [
        f"bulk: FAILED: esearch request to {fake.url}esearch.fcgi failed {ATTEMPTS} times; "
        "giving up (last error: HTTP 503)",
        f"run {report.run_id} failed: 0 new, 0 revised, 1 failed queries",
    ]
    assert [(e.endpoint, e.status) for e in log] == [("esearch", 503)] * ATTEMPTS
    assert database_state(db) == {
        "pmids": first,
        "duplicates": [],
        "untagged": 0,
        "tagged_pmids": first,
        "hits": first,
        "checkpoint": DAY_ONE,  # did not move
        "runs": ["success", "failed"],
    }

    fake.clear_faults()
    report, log = harvest(db, fake)

    assert report.status == "success"
    assert report.outcomes[0].new == len(later)
    fetched = {int(i) for e in log if e.endpoint == "efetch" for i in e.params["id"].split(",")}
    assert fetched == later  # nothing stored before is fetched again
    assert database_state(db) == {
        "pmids": first | later,
        "duplicates": [],
        "untagged": 0,
        "tagged_pmids": first | later,
        "hits": first | later,
        "checkpoint": DAY_TWO,
        "runs": ["success", "failed", "success"],
    }


def test_outage_in_the_middle_of_fetching_keeps_committed_batches_and_resumes(
    db: Engine, fake: FakeEutils
) -> None:
    bulk = set(fake.add_bulk(700, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 6, 30)))

    def outage_after_first_commit(_name: str, done: int, _total: int) -> None:
        if done > 0:  # the first 200-article transaction is in: the server goes down
            fake.inject("reset", endpoint="efetch", times=1_000)

    report, _ = harvest(db, fake, progress=outage_after_first_commit)

    assert report.status == "failed"
    assert report.outcomes[0].error == (
        f"efetch request to {fake.url}efetch.fcgi failed {ATTEMPTS} times; "
        "giving up (last error: connection reset by the server)"
    )
    partial = database_state(db)
    kept = partial["pmids"]
    assert isinstance(kept, set) and 200 <= len(kept) < len(bulk)
    assert partial == {
        "pmids": kept,
        "duplicates": [],
        "untagged": 0,
        "tagged_pmids": kept,
        "hits": kept,
        "checkpoint": None,  # the first harvest never completed
        "runs": ["failed"],
    }

    fake.clear_faults()
    report, log = harvest(db, fake)

    assert report.status == "success"
    fetched = {int(i) for e in log if e.endpoint == "efetch" for i in e.params["id"].split(",")}
    assert fetched == bulk - kept
    assert database_state(db) == {
        "pmids": bulk,
        "duplicates": [],
        "untagged": 0,
        "tagged_pmids": bulk,
        "hits": bulk,
        "checkpoint": DAY_ONE,
        "runs": ["failed", "success"],
    }


# ---- issue 17, item 10: an EFetch <ERROR> is retried, then searched again, only then fatal ----


def test_item10_efetch_error_in_a_200_reply_is_asked_again_then_searched_again(
    db: Engine, fake: FakeEutils
) -> None:
    bulk = set(fake.add_bulk(150, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 6, 30)))
    # Seen from NCBI: HTTP 200 with <ERROR>Unable to obtain query #1</ERROR>, for valid ids.
    fake.inject("error200", endpoint="efetch", times=4, message="Unable to obtain query #1")

    report, log = harvest(db, fake)

    assert (report.status, report.outcomes[0].new, report.outcomes[0].error) == (
        "success",
        150,
        None,
    )
    assert [(e.endpoint, e.fault) for e in log] == [
        ("esearch", None),
        ("efetch", "error200"),  # the first batch of 100 ids ...
        ("efetch", "error200"),  # ... asked again twice
        ("efetch", "error200"),
        ("esearch", None),  # a fresh search for the saved search
        ("efetch", "error200"),
        ("efetch", None),
        ("efetch", None),  # the second batch of 50
    ]
    assert database_state(db) == {
        "pmids": bulk,
        "duplicates": [],
        "untagged": 0,
        "tagged_pmids": bulk,
        "hits": bulk,
        "checkpoint": DAY_ONE,
        "runs": ["success"],
    }


def test_item10_efetch_error_that_outlasts_the_fresh_search_fails_the_saved_search(
    db: Engine, fake: FakeEutils
) -> None:
    fake.add_bulk(150, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    fake.inject("error200", endpoint="efetch", times=100, message="Unable to obtain query #1")

    report, log = harvest(db, fake)

    assert report.status == "failed"
    assert report.outcomes[0].error == "NCBI EFetch failed: Unable to obtain query #1"
    assert [e.endpoint for e in log] == ["esearch"] + ["efetch"] * 3 + ["esearch"] + ["efetch"] * 3
    assert database_state(db)["checkpoint"] is None


# ---- issue 17, item 14: the run lock is kept alive, and a lost lock stops the writing ----

SHORT_LEASE = dt.timedelta(seconds=1)
SLOW_EFETCH = 3.0  # seconds: three leases


def slow_client(fake: FakeEutils) -> EutilsClient:
    """The real client, patient enough to wait for the slow EFetch reply."""
    settings = load_settings(eutils_url=fake.url, email="tests@example.invalid", environ={})
    session = PoliteSession(
        tool="aggregator-fault-tests",
        email="tests@example.invalid",
        requests_per_second=50,
        timeout=(2.0, 10.0),
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01, backoff_max=0.05),
    )
    return EutilsClient(settings, session=session, today=lambda: fake.today)


def rival_lock(engine: Engine) -> RunLock:
    """A second run, on another machine, that takes the lock over once the lease has expired."""
    return RunLock(engine, lease=SHORT_LEASE, pid=4242, hostname="rival-host")


def harvest_with_a_rival(
    engine: Engine, fake: FakeEutils, lock: RunLock
) -> tuple[HarvestReport | BaseException, BaseException | None]:
    """Harvest under ``lock`` while EFetch takes SLOW_EFETCH; 1.5 leases into that request a
    rival tries to take the lock. Returns the harvest's report (or what it raised) and what
    the rival's attempt raised (None: the rival got the lock)."""
    fetching = threading.Event()
    outcome: list[HarvestReport | BaseException] = []
    fake.inject("slow", endpoint="efetch", delay=SLOW_EFETCH)

    def progress(_name: str, done: int, _total: int) -> None:
        if done == 0:
            fetching.set()  # the first EFetch request goes out now

    def run() -> None:
        with slow_client(fake) as client:
            harvester = Harvester(
                engine, client, today=lambda: fake.today, lock=lock, progress=progress
            )
            try:
                outcome.append(harvester.run([BULK_QUERY]))
            except BaseException as exc:
                outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert fetching.wait(30)
        time.sleep(1.5 * SHORT_LEASE.total_seconds())
        try:
            rival_lock(engine).acquire()
            refused = None
        except RunInProgressError as exc:
            refused = exc
    finally:
        thread.join(60)
    return outcome[0], refused


def test_item14_a_slow_request_does_not_outlast_the_lease(db: Engine, fake: FakeEutils) -> None:
    bulk = set(fake.add_bulk(150, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 6, 30)))

    report, refused = harvest_with_a_rival(db, fake, RunLock(db, lease=SHORT_LEASE))

    # Before: the lease was renewed only after a batch was stored, so during the 3 s EFetch
    # it expired and the rival took the lock over while this run went on writing.
    assert isinstance(refused, RunInProgressError), "the rival took the lock over"
    assert isinstance(report, HarvestReport) and report.status == "success"
    assert database_state(db)["pmids"] == bulk


def test_item14_a_holder_that_lost_the_lock_stops_writing_at_once(
    db: Engine, fake: FakeEutils, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.add_bulk(150, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    # A holder whose renewals do not happen (a suspended process, a database out of reach).
    monkeypatch.setattr(RunLock, "heartbeat", lambda self: None)
    lock = RunLock(db, lease=SHORT_LEASE)

    outcome, refused = harvest_with_a_rival(db, fake, lock)

    assert refused is None  # the rival took the expired lock over during the slow EFetch
    # Before: the batch fetched after the takeover was stored anyway (150 articles) and the
    # run went on ("failed", not stopped).
    assert isinstance(outcome, LockLostError)
    assert str(outcome) == (
        "lost the harvest lock: its lease expired and another process took it over; "
        "stopped without writing more"
    )
    state = database_state(db)
    assert (state["pmids"], state["hits"], state["checkpoint"]) == (set(), set(), None)
    assert state["runs"] == ["interrupted"]
    with new_session(db) as session:
        (error,) = session.execute(sa.text("SELECT error FROM run")).scalars()
    assert error == str(outcome)
    assert rival_lock(db).holder().hostname == "rival-host"  # type: ignore[union-attr]
