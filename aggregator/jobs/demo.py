"""`aggregator run --demo`: the whole weekly job on the synthetic corpus, with no network.

In-process stand-ins for NCBI and ClinicalTrials.gov serve the corpora shipped with the
package. The demo replays both timelines week by week (first harvest, then each week's new
records, a revision and a retraction notice; a glycinate migraine trial completing, posting
results and being linked to its publication, and a second one being registered and starting
to recruit), so the digests it writes show what a real subscriber would see over a month,
including the week the first direct glycinate study appears. Every output says it is demo
data.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from aggregator.ctgov import RegistrySearch
from aggregator.ctgov.fake import FakeRegistry
from aggregator.http import PoliteSession
from aggregator.jobs.harvest import ProgressCallback
from aggregator.jobs.registry import open_registry_watch
from aggregator.jobs.weekly import DigestTarget, WeeklyResult, run_weekly
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.corpus import BASE_TODAY
from aggregator.queries import SavedQuery
from aggregator.settings import load_settings
from aggregator.store.lock import RunLock
from aggregator.store.runs import clear_demo_database
from aggregator.weeks import iso_week

DEMO_EMAIL = "demo@example.invalid"
DEMO_RATE = 20  # requests per second to the in-process stand-in


@dataclass(frozen=True, slots=True)
class DemoWeek:
    day: dt.date
    week: str
    result: WeeklyResult

    @property
    def summary(self) -> list[str]:
        return self.result.report.summary_lines()


def _same_day(day: dt.date) -> dt.date:
    return day


def _demo_clock(day: dt.date) -> functools.partial[dt.datetime]:
    """A clock starting at 07:00 UTC on ``day`` that moves 10 ms per reading: the demo's
    harvests happen on the corpus's days, in order, whatever the real date."""
    return functools.partial(_tick, [dt.datetime.combine(day, dt.time(7, 0), tzinfo=dt.UTC)])


def _tick(moment: list[dt.datetime]) -> dt.datetime:
    moment[0] += dt.timedelta(milliseconds=10)
    return moment[0]


def _sunday(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=6 - day.weekday())


def run_demo(
    engine: Engine,
    queries: Sequence[SavedQuery],
    *,
    digest: DigestTarget | None,
    progress: ProgressCallback | None = None,
    registry_searches: Sequence[RegistrySearch] = (),
) -> list[DemoWeek]:
    """Replay the synthetic corpora week by week into ``engine`` with the weekly job; returns
    what each week did. ``digest`` None: harvest only. ``registry_searches`` (none: no
    registry watch) run against the stand-in for ClinicalTrials.gov."""
    clear_demo_database(engine)
    weeks: list[DemoWeek] = []
    # The stand-ins run in this process, so the sources' request limits (which protect their
    # servers) do not apply; the demo talks to them at 20 requests/s to finish in seconds.
    with (
        FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as fake,
        FakeRegistry(today=BASE_TODAY) as registry,
    ):
        events = [e.date for e in fake.pending_events]
        if registry_searches:
            events += [e.date for e in registry.pending_events]
        days = [BASE_TODAY] + sorted({_sunday(day) for day in events})
        settings = load_settings(
            eutils_url=fake.url, email=DEMO_EMAIL, ctgov_url=registry.url, environ={}
        )
        for day in days:
            fake.set_today(day)
            registry.set_today(day)
            clock = _demo_clock(day)
            session = PoliteSession(
                tool=settings.tool, email=DEMO_EMAIL, requests_per_second=DEMO_RATE
            )
            registry_session = PoliteSession(
                tool=settings.tool, requests_per_second=DEMO_RATE, ncbi_identity=False
            )
            watch = open_registry_watch(settings, registry_searches, session=registry_session)
            with EutilsClient(settings, session=session) as client:
                try:
                    result = run_weekly(
                        engine,
                        client,
                        queries,
                        digest=digest,
                        week=iso_week(day),
                        clock=clock,
                        today=functools.partial(_same_day, day),
                        progress=progress,
                        lock=RunLock(engine, clock=clock),
                        source="demo",
                        run_kind="demo",
                        registry=watch,
                    )
                finally:
                    if watch is not None:
                        watch.close()
            weeks.append(DemoWeek(day=day, week=iso_week(day), result=result))
    return weeks
