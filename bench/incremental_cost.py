"""Incremental cost: the requests a weekly run makes when nothing is new.

Harvests the shipped saved searches against the fake E-utilities server (the synthetic base
corpus, no timeline events, rate limit off), then runs again a week later with nothing new
upstream, and prints every request of the second run by endpoint and date type.
Target: one crdt ESearch per saved search plus one mdat ESearch (the revision check), and no
EFetch at all. Figures only, nothing asserted.

    .venv/bin/python bench/incremental_cost.py
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path

from aggregator.jobs.harvest import Harvester, HarvestReport
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.fake import BASE_TODAY, FakeEutils
from aggregator.queries import load_queries, shipped_queries_dir
from aggregator.settings import load_settings
from aggregator.store.engine import open_engine


def machine_info() -> str:
    return (
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


def main() -> int:
    print(machine_info())
    queries = load_queries(shipped_queries_dir())
    with (
        tempfile.TemporaryDirectory(prefix="incremental-") as temp,
        FakeEutils(today=BASE_TODAY, timeline=False, rate_limit=None) as fake,
    ):
        engine = open_engine(f"sqlite:///{Path(temp) / 'incremental.sqlite'}")
        settings = load_settings(eutils_url=fake.url, environ={})

        def harvest(day: dt.date) -> HarvestReport:
            fake.set_today(day)
            fake.reset_log()
            now = dt.datetime.combine(day, dt.time(7, 0), tzinfo=dt.UTC)
            with EutilsClient(settings, today=lambda: day) as client:
                return Harvester(engine, client, clock=lambda: now).run(queries)

        first = harvest(BASE_TODAY)
        first_requests = Counter(e.endpoint for e in fake.requests)
        second = harvest(BASE_TODAY + dt.timedelta(days=7))
        log = list(fake.requests)
        engine.dispose()
    by_kind = Counter((e.endpoint, e.params.get("datetype", "-")) for e in log)
    print(f"saved searches: {', '.join(q.name for q in queries)}")
    print(
        f"first run:  {first.total('new')} new articles, "
        f"{sum(first_requests.values())} requests ({dict(first_requests)})"
    )
    print(
        f"second run a week later, nothing new: {second.total('new')} new, status {second.status}"
    )
    for (endpoint, datetype), count in sorted(by_kind.items()):
        print(f"  {endpoint:<8} datetype={datetype:<5} {count}")
    efetch = sum(n for (endpoint, _), n in by_kind.items() if endpoint == "efetch")
    target = 2 * len(queries)
    verdict = "OK" if len(log) == target and efetch == 0 else "MORE THAN THE TARGET"
    print(
        f"total {len(log)} requests, {efetch} EFetch (target: {target} = one crdt ESearch + one "
        f"mdat ESearch per saved search, no EFetch): {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
