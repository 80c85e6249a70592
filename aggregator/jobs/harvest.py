"""The harvest: saved searches -> E-utilities -> parser -> tagger -> database.

Incremental and restartable. For each saved search:

1. ESearch new records by creation date (``crdt``) from the query's checkpoint (or its start
   date on the first run) to today, and records revised (``mdat``) in the same window.
2. Fetch only PMIDs that are not stored yet, plus stored ones that were revised since we last
   fetched them. Nothing stored and unchanged is fetched again.
3. Upsert each batch (articles, tags, query hits) and commit it, so a killed run keeps what it
   fetched; the checkpoint advances only in the last transaction, after every batch is in.

A killed run therefore leaves a consistent database: the next run searches the same window
again, skips what is already stored, and fetches the rest. Upserts are keyed on PMID, so nothing
is ever duplicated.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.article import Article, DeletedCitations
from aggregator.bulk import gc_paused
from aggregator.errors import AggregatorError, ParseError
from aggregator.logconfig import log_event, run_context
from aggregator.pubmed.eutils import EfetchError
from aggregator.pubmed.files import iter_file
from aggregator.queries import SavedQuery
from aggregator.store.articles import (
    UpsertResult,
    last_fetched_times,
    stored_pmids,
    upsert_articles,
)
from aggregator.store.engine import new_session, store_errors
from aggregator.store.lock import LockLostError, RunLock
from aggregator.store.runs import (
    finish_run,
    get_checkpoint,
    mark_interrupted_runs,
    record_hits,
    set_checkpoint,
    start_run,
)
from aggregator.tagging import tag_article
from aggregator.timeutil import utc_now
from aggregator.vocab import ArticleTags

logger = logging.getLogger("aggregator.jobs.harvest")

COMMIT_BATCH = 200  # articles per transaction: a kill loses at most one uncommitted batch
IMPORT_BATCH = 500  # articles per upsert statement group in an import (one transaction per file)


class SearchClient(Protocol):
    """What the harvest needs of :class:`aggregator.pubmed.eutils.EutilsClient`."""

    def search_ids(
        self,
        term: str,
        *,
        mindate: dt.date | None = None,
        maxdate: dt.date | None = None,
        datetype: str = "crdt",
    ) -> list[int]: ...

    def fetch_articles(self, pmids: Iterable[int]) -> Iterator[Article]: ...

    @property
    def missing_pmids(self) -> list[int]: ...

    @property
    def skipped(self) -> list[str]: ...  # one line per bad id or record passed over, ever


# progress(query_name, done, total)
ProgressCallback = Callable[[str, int, int], None]


class FollowUpReport(Protocol):
    """What a follow-up step reports (see :class:`FollowUp`)."""

    @property
    def searched(self) -> int: ...  # searches run

    @property
    def failures(self) -> list[str]: ...  # one "name: error" per failed search

    def summary_lines(self) -> list[str]: ...

    def total_text(self) -> str: ...  # its part of the run's total line

    def details(self) -> dict[str, Any]: ...  # kept in the run's details under ``key``


class FollowUp(Protocol):
    """Work done in the same run after the saved searches, under the same run lock: the
    registry watch (:class:`aggregator.jobs.registry.RegistryHarvester`). Its failed
    searches count in the run's status like failed saved searches."""

    key: str

    def __call__(self, run_id: int) -> FollowUpReport: ...


def term_hash(term: str) -> str:
    """Fingerprint of a saved search's term: editing the term restarts its harvest."""
    return hashlib.sha256(" ".join(term.split()).encode("utf-8")).hexdigest()[:16]


@dataclass
class QueryOutcome:
    """What happened to one saved search in a run."""

    name: str
    ok: bool = True
    first_harvest: bool = False
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    found: int = 0  # PMIDs the searches returned
    fetched: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    retracted: int = 0
    missing: list[int] = field(default_factory=list)  # NCBI returned no record for these
    skipped: int = 0  # bad ids and records NCBI sent, passed over with a warning
    error: str | None = None


@dataclass
class HarvestReport:
    run_id: int
    outcomes: list[QueryOutcome]
    status: str  # success | partial | failed
    follow_up: FollowUpReport | None = None  # the registry watch, when it ran

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def total(self, attribute: str) -> int:
        return sum(int(getattr(o, attribute)) for o in self.outcomes)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON values: the run, its status, each saved search's counts and the
        follow-up step's (the registry watch), when it ran."""
        failed = sum(1 for o in self.outcomes if not o.ok)
        if self.follow_up is not None:
            failed += len(self.follow_up.failures)
        return {
            "run_id": self.run_id,
            "status": self.status,
            "new": self.total("new"),
            "revised": self.total("revised"),
            "unchanged": self.total("unchanged"),
            "skipped": self.total("skipped"),
            "failed_queries": failed,
            "searches": [
                {
                    "name": o.name,
                    "ok": o.ok,
                    "window_start": o.window_start,
                    "window_end": o.window_end,
                    "fetched": o.fetched,
                    "new": o.new,
                    "revised": o.revised,
                    "unchanged": o.unchanged,
                    "retracted": o.retracted,
                    "not_returned": list(o.missing),
                    "skipped": o.skipped,
                    "error": o.error,
                }
                for o in self.outcomes
            ],
            "registry": self.follow_up.details() if self.follow_up is not None else None,
        }

    def summary_lines(self) -> list[str]:
        """Human summary, one line per query and a total."""
        lines = []
        for o in self.outcomes:
            if o.ok:
                window = (
                    f"{o.window_start.isoformat()}..{o.window_end.isoformat()}"
                    if o.window_start and o.window_end
                    else ""
                )
                extra = f", {len(o.missing)} not returned by NCBI" if o.missing else ""
                extra += f", {o.skipped} bad ids or records skipped" if o.skipped else ""
                lines.append(
                    f"{o.name}: {o.new} new, {o.revised} revised, {o.unchanged} unchanged "
                    f"({o.fetched} fetched, window {window}){extra}"
                )
            else:
                lines.append(f"{o.name}: FAILED: {o.error}")
        failed = sum(1 for o in self.outcomes if not o.ok)
        extra = ""
        if self.follow_up is not None:
            lines.extend(self.follow_up.summary_lines())
            failed += len(self.follow_up.failures)
            extra = f"; {self.follow_up.total_text()}"
        skipped = self.total("skipped")
        lines.append(
            f"run {self.run_id} {self.status}: {self.total('new')} new, "
            f"{self.total('revised')} revised, {failed} failed queries"
            + (f", {skipped} skipped" if skipped else "")
            + extra
        )
        return lines


class Harvester:
    """Runs saved searches incrementally into the database."""

    def __init__(
        self,
        engine: Engine,
        client: SearchClient,
        *,
        tagger: Callable[[Article], ArticleTags] = tag_article,
        clock: Callable[[], dt.datetime] = utc_now,
        today: Callable[[], dt.date] | None = None,
        progress: ProgressCallback | None = None,
        source: str = "efetch",
        run_kind: str = "run",
        lock: RunLock | None = None,
    ) -> None:
        self.engine = engine
        self.client = client
        self.tagger = tagger
        self.clock = clock
        self.today = today or (lambda: self.clock().date())
        self.progress = progress
        self.source = source
        self.run_kind = run_kind
        self.lock = lock

    def run(
        self, queries: Sequence[SavedQuery], *, follow_up: FollowUp | None = None
    ) -> HarvestReport:
        """Harvest every enabled saved search, then run ``follow_up`` (the registry watch) in
        the same run; one failing search does not stop the others."""
        if self.lock is None:
            return self._run_locked(queries, follow_up)
        with self.lock:
            return self._run_locked(queries, follow_up)

    def _run_locked(
        self, queries: Sequence[SavedQuery], follow_up: FollowUp | None = None
    ) -> HarvestReport:
        with new_session(self.engine) as session:
            # We hold the run lock, so any run still marked "running" died mid-way.
            mark_interrupted_runs(session, self.clock())
            run_id = start_run(session, now=self.clock(), kind=self.run_kind)
            session.commit()
        outcomes: list[QueryOutcome] = []
        extra: FollowUpReport | None = None
        try:
            with run_context(run_id):  # every log line of this run carries run=<id>
                for query in queries:
                    if not query.enabled:
                        continue
                    outcomes.append(self.harvest_query(query, run_id))
                if follow_up is not None:
                    extra = follow_up(run_id)
        except BaseException as exc:  # KeyboardInterrupt/SIGTERM, lock lost: record, re-raise
            error = str(exc) if isinstance(exc, AggregatorError) else repr(exc)
            self._finish(run_id, outcomes, status="interrupted", error=error[:500])
            raise
        failures = [f"{o.name}: {o.error}" for o in outcomes if not o.ok]
        searched = len(outcomes)
        if extra is not None:
            failures += extra.failures
            searched += extra.searched
        if not failures:
            status = "success"
        elif len(failures) >= searched:
            status = "failed"
        else:
            status = "partial"
        self._finish(
            run_id,
            outcomes,
            status=status,
            error="; ".join(failures) or None,
            follow_up=(follow_up.key, extra) if follow_up is not None and extra else None,
        )
        return HarvestReport(run_id=run_id, outcomes=outcomes, status=status, follow_up=extra)

    def _finish(
        self,
        run_id: int,
        outcomes: list[QueryOutcome],
        *,
        status: str,
        error: str | None,
        follow_up: tuple[str, FollowUpReport] | None = None,
    ) -> None:
        details: dict[str, Any] = {}
        if follow_up is not None:
            key, extra = follow_up
            details[key] = extra.details()
        with new_session(self.engine) as session:
            finish_run(
                session,
                run_id,
                status=status,
                now=self.clock(),
                searched=len(outcomes) + (follow_up[1].searched if follow_up else 0),
                new=sum(o.new for o in outcomes),
                revised=sum(o.revised for o in outcomes),
                unchanged=sum(o.unchanged for o in outcomes),
                failed_queries=sum(1 for o in outcomes if not o.ok)
                + (len(follow_up[1].failures) if follow_up else 0),
                error=error,
                details={
                    **details,
                    "queries": [
                        {
                            "name": o.name,
                            "ok": o.ok,
                            "new": o.new,
                            "revised": o.revised,
                            "unchanged": o.unchanged,
                            "fetched": o.fetched,
                            "missing": o.missing[:100],
                            "skipped": o.skipped,
                            "window": [
                                o.window_start.isoformat() if o.window_start else None,
                                o.window_end.isoformat() if o.window_end else None,
                            ],
                            "error": o.error,
                        }
                        for o in outcomes
                    ],
                },
            )
            session.commit()

    def harvest_query(self, query: SavedQuery, run_id: int) -> QueryOutcome:
        """Harvest one saved search; errors are caught and reported in the outcome."""
        outcome = QueryOutcome(name=query.name)
        skipped_before = len(self.client.skipped)
        try:
            # store_errors: a database locked or gone mid-run fails this search with one clear
            # line instead of escaping as a driver traceback.
            with store_errors(self.engine.url):
                try:
                    self._harvest_query(query, run_id, outcome)
                except EfetchError as exc:
                    # EFetch kept failing for ids the search gave: search afresh, once.
                    logger.warning("%s: %s; searching again", query.name, exc)
                    self._harvest_query(query, run_id, outcome)
        except LockLostError:
            raise  # another run owns the database now: stop the whole run, write nothing more
        except AggregatorError as exc:
            outcome.ok = False
            outcome.error = str(exc)
            log_event(
                logger, "harvest.query_failed", logging.ERROR, name=query.name, error=str(exc)
            )
        else:
            log_event(
                logger,
                "harvest.query_done",
                name=query.name,
                new=outcome.new,
                revised=outcome.revised,
                unchanged=outcome.unchanged,
                retracted=outcome.retracted,
                missing=len(outcome.missing),
            )
        # Distinct lines: an id that both the crdt and the mdat search return counts once.
        outcome.skipped = len(set(self.client.skipped[skipped_before:]))
        return outcome

    def _harvest_query(self, query: SavedQuery, run_id: int, outcome: QueryOutcome) -> None:
        fingerprint = term_hash(query.term)
        with new_session(self.engine) as session:
            checkpoint = get_checkpoint(session, query.name, fingerprint)
        today = self.today()
        first = checkpoint is None
        # The window includes the checkpoint day itself: records created later that same day
        # were not visible to the previous run. Stored ones are skipped, so the overlap is free.
        start = query.start_date if checkpoint is None else checkpoint
        outcome.first_harvest, outcome.window_start, outcome.window_end = first, start, today

        created = self.client.search_ids(query.term, mindate=start, maxdate=today, datetype="crdt")
        revised = (
            []
            if first
            else self.client.search_ids(query.term, mindate=start, maxdate=today, datetype="mdat")
        )
        outcome.found = len(set(created) | set(revised))
        with new_session(self.engine) as session:
            last_fetched = last_fetched_times(session, set(created) | set(revised))
        to_fetch = [p for p in created if p not in last_fetched]
        # A stored record in the mdat window is fetched again unless we already fetched it
        # after the checkpoint day: PubMed dates are whole days, so a record fetched on the
        # checkpoint day may have been revised later that same day.
        refetch_before = dt.datetime.combine(start + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        wanted = set(to_fetch)
        for pmid in revised:
            fetched_at = last_fetched.get(pmid)
            if fetched_at is not None and fetched_at < refetch_before and pmid not in wanted:
                to_fetch.append(pmid)
                wanted.add(pmid)
        log_event(
            logger,
            "harvest.query_plan",
            name=query.name,
            window=f"{start}..{today}",
            created=len(created),
            revised_in_window=len(revised),
            to_fetch=len(to_fetch),
        )
        self._fetch_and_store(query, run_id, to_fetch, outcome)
        outcome.missing = sorted(set(self.client.missing_pmids))
        with new_session(self.engine) as session:
            now = self.clock()
            self._confirm_lock(session, now)
            stored = stored_pmids(session, created)
            record_hits(session, query.name, stored, run_id, now)
            set_checkpoint(session, query.name, today, run_id, self.clock(), fingerprint)
            session.commit()

    def _fetch_and_store(
        self, query: SavedQuery, run_id: int, pmids: list[int], outcome: QueryOutcome
    ) -> None:
        total = len(pmids)
        if self.progress:
            self.progress(query.name, 0, total)
        batch: list[Article] = []
        for article in self.client.fetch_articles(pmids):
            batch.append(article)
            if len(batch) >= COMMIT_BATCH:
                self._store_batch(query, run_id, batch, outcome)
                batch = []
                if self.progress:
                    self.progress(query.name, outcome.fetched, total)
        if batch:
            self._store_batch(query, run_id, batch, outcome)
        if self.progress:
            self.progress(query.name, outcome.fetched, total)

    def _store_batch(
        self, query: SavedQuery, run_id: int, batch: list[Article], outcome: QueryOutcome
    ) -> None:
        now = self.clock()
        with gc_paused(), new_session(self.engine) as session:  # many small objects
            self._confirm_lock(session)
            tagged = [(article, self.tagger(article)) for article in batch]
            results = upsert_articles(session, tagged, run_id=run_id, now=now, source=self.source)
            for result in results:
                _count(outcome, result)
            record_hits(session, query.name, [a.pmid for a in batch], run_id, now)
            session.commit()
        outcome.fetched += len(batch)

    def _confirm_lock(self, session: Session, now: dt.datetime | None = None) -> None:
        """First in every write transaction: this run still holds the run lock (renewing it),
        else LockLostError and the transaction writes nothing."""
        if self.lock is not None:
            self.lock.confirm(session, now)


def _count(outcome: QueryOutcome | ImportReport, result: UpsertResult) -> None:
    if result.status == "new":
        outcome.new += 1
    elif result.status == "revised":
        outcome.revised += 1
    else:
        outcome.unchanged += 1
    if result.newly_retracted:
        outcome.retracted += 1


@dataclass
class ImportReport:
    path: Path
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    retracted: int = 0
    deleted_listed: int = 0  # PMIDs in <DeleteCitation> blocks (reported, not applied)
    skipped: int = 0  # bad records (e.g. a PMID out of range) passed over with a warning

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "new": self.new,
            "revised": self.revised,
            "unchanged": self.unchanged,
            "retracted": self.retracted,
            "deleted_listed": self.deleted_listed,
            "skipped": self.skipped,
        }


STDIN = "-"  # the name of standard input on the command line and in reports


def import_file(
    engine: Engine,
    path: Path,
    *,
    tagger: Callable[[Article], ArticleTags] = tag_article,
    clock: Callable[[], dt.datetime] = utc_now,
    progress: Callable[[int], None] | None = None,
    lock: RunLock | None = None,
    name: str | None = None,
) -> ImportReport:
    """Load a PubMed XML or MEDLINE export into the database (upsert by PMID), holding
    ``lock`` (the run lock: never while a harvest writes). ``name`` is how reports call the
    file (default: its path).

    The whole file is parsed before anything is written, in one transaction per file, so a
    corrupt or truncated file changes nothing. A bad record (e.g. a PMID that is not ASCII
    digits in PubMed's range) is skipped with a warning and counted, unless no record at all
    can be imported: then the file fails with the first record's problem.
    """
    report = ImportReport(path=Path(name) if name else path)
    problems: list[str] = []
    items = iter_file(path, on_bad_record=problems.append)
    with lock if lock is not None else contextlib.nullcontext(), gc_paused():
        return _import_articles(engine, path, report, tagger, clock, progress, items, problems)


def _import_articles(
    engine: Engine,
    path: Path,
    report: ImportReport,
    tagger: Callable[[Article], ArticleTags],
    clock: Callable[[], dt.datetime],
    progress: Callable[[int], None] | None,
    items: Iterable[Article | DeletedCitations],
    problems: list[str],
) -> ImportReport:
    """:func:`import_file`'s work: parse everything, tag, then store in one transaction.
    ``problems`` fills up with the bad records ``items`` skips."""
    articles: list[Article] = []
    for item in items:
        if isinstance(item, DeletedCitations):
            report.deleted_listed += len(item.pmids)
        else:
            articles.append(item)
            if progress and len(articles) % 500 == 0:
                progress(len(articles))
    report.skipped = len(problems)
    if problems and not articles and not report.deleted_listed:
        raise ParseError(problems[0])  # nothing importable: probably not the file meant
    for problem in problems:
        logger.warning("skipped a record: %s", problem)
    tagged = [(article, tagger(article)) for article in articles]
    now = clock()
    # store_errors: a locked or read-only database is a one-line error, not a traceback.
    with store_errors(engine.url), new_session(engine) as session:
        run_id = start_run(session, now=now, kind="import")
        for start in range(0, len(tagged), IMPORT_BATCH):
            chunk = tagged[start : start + IMPORT_BATCH]
            for result in upsert_articles(session, chunk, run_id=run_id, now=now, source="import"):
                _count(report, result)
        finish_run(
            session,
            run_id,
            status="success",
            now=clock(),
            new=report.new,
            revised=report.revised,
            unchanged=report.unchanged,
            details={
                "file": str(report.path),
                "records": len(articles),
                "skipped": report.skipped,
            },
        )
        session.commit()
    return report


def import_stream(
    engine: Engine,
    stream: BinaryIO,
    *,
    tagger: Callable[[Article], ArticleTags] = tag_article,
    clock: Callable[[], dt.datetime] = utc_now,
    lock: RunLock | None = None,
) -> ImportReport:
    """:func:`import_file` of a stream (standard input: ``aggregator import -`` at the end of
    an EDirect pipeline). It is spooled to a temporary file first: the format is told from
    the content, and everything is parsed before anything is written, as for a file."""
    with tempfile.TemporaryDirectory(prefix="aggregator-import-") as folder:
        spooled = Path(folder) / "stdin"
        with spooled.open("wb") as out:
            shutil.copyfileobj(stream, out)
        try:
            return import_file(engine, spooled, tagger=tagger, clock=clock, lock=lock, name=STDIN)
        except ParseError as exc:
            raise ParseError(str(exc).replace(str(spooled), "standard input")) from None
