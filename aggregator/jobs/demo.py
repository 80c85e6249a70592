"""`aggregator run --demo`: the whole weekly job on the synthetic corpus, with no network.

An in-process stand-in for NCBI serves the corpus shipped with the package. The demo replays
the corpus timeline week by week (first harvest, then each week's new records, a revision and
a retraction notice), so the digests it writes show what a real subscriber would see over a
month, including the week the first direct glycinate study appears. Every output says it is
demo data.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aggregator.errors import ConfigError
from aggregator.queries import SavedQuery
from aggregator.settings import load_settings
from aggregator.weeks import iso_week

DEMO_EMAIL = "demo@example.invalid"
DEMO_RATE = 20  # requests per second to the in-process stand-in


@dataclass
class DemoWeek:
    day: dt.date
    week: str
    summary: list[str]


def _same_day(day: dt.date) -> dt.date:
    return day


def ensure_demo_database(engine: Engine) -> None:
    """Empty a demo database before a demo; refuse to touch one that holds real harvests."""
    inspector = sa.inspect(engine)
    if "run" not in inspector.get_table_names():
        return
    with engine.begin() as connection:
        kinds = set(connection.execute(sa.text("SELECT DISTINCT kind FROM run")).scalars())
        if kinds - {"demo"}:
            raise ConfigError(
                f"{engine.url.render_as_string(hide_password=True)} holds real harvests; "
                "--demo only writes to its own database (default db/demo.sqlite)"
            )
        # Children first so foreign keys hold on both SQLite and PostgreSQL.
        for table in (
            "article_revision",
            "query_hit",
            "tag",
            "pending_retraction",
            "article",
            "saved_query_state",
            "digest",
            "run",
        ):
            if table in inspector.get_table_names():
                connection.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 - fixed names


def run_demo(
    engine: Engine,
    queries: list[SavedQuery],
    write_digest: Callable[[str], list[Path]],
    *,
    progress: Callable[[str, int, int], None] | None = None,
) -> list[DemoWeek]:
    """Replay the synthetic corpus week by week into ``engine``; returns what each week did."""
    from aggregator.http import PoliteSession
    from aggregator.jobs.harvest import Harvester
    from aggregator.pubmed.eutils import EutilsClient
    from aggregator.pubmed.fake import FakeEutils
    from aggregator.pubmed.fake.corpus import BASE_TODAY
    from aggregator.store.lock import RunLock

    ensure_demo_database(engine)
    weeks: list[DemoWeek] = []
    # The stand-in runs in this process, so NCBI's request limits (which protect NCBI's
    # servers) do not apply; the demo talks to it at 20 requests/s to finish in seconds.
    with FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as fake:
        days = [BASE_TODAY] + sorted(
            {
                event.date + dt.timedelta(days=6 - event.date.weekday())
                for event in fake.pending_events
            }
        )
        settings = load_settings(eutils_url=fake.url, email=DEMO_EMAIL, environ={})
        for day in days:
            fake.set_today(day)
            moment = [dt.datetime.combine(day, dt.time(7, 0), tzinfo=dt.UTC)]

            def clock(moment: list[dt.datetime] = moment) -> dt.datetime:
                moment[0] += dt.timedelta(milliseconds=10)
                return moment[0]

            session = PoliteSession(
                tool=settings.tool, email=DEMO_EMAIL, requests_per_second=DEMO_RATE
            )
            with EutilsClient(settings, session=session) as client:
                report = Harvester(
                    engine,
                    client,
                    clock=clock,
                    today=functools.partial(_same_day, day),
                    progress=progress,
                    source="demo",
                    run_kind="demo",
                    lock=RunLock(engine, clock=clock),
                ).run(queries)
            week = iso_week(day)
            write_digest(week)
            weeks.append(DemoWeek(day=day, week=week, summary=report.summary_lines()))
    return weeks
