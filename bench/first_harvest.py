"""First harvest: how long 10,000 new records take, and where the time goes.

Runs the production harvest (Harvester, EutilsClient with its default batches, SQLite in a
temporary folder) against the fake E-utilities server WITH NCBI's rate limit: 3 requests/s
without an API key, 10/s with one. Timers around each stage say where the time goes:

* throttle: sleeping in the client's rate limiter (and any retry backoff);
* HTTP: sending requests and reading replies (the fake renders the XML, so this includes
  server time that NCBI would spend too);
* parsing: PubMed XML -> Article objects;
* tagging: the rule-based tagger;
* database: everything in the per-batch transactions except tagging (upserts, tags, hits,
  commits), plus the final checkpoint step;
* other: the remainder (searching bookkeeping, Python overhead).

Figures only, nothing asserted. ``--profile`` also prints the top functions by cumulative time
(cProfile slows everything down, so its total is not the figure to quote).

    .venv/bin/python bench/first_harvest.py [--records 10000] [--profile] [--only-key]

All records are synthetic filler (PMIDs 99500000 up).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import platform
import pstats
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from aggregator.article import Article
from aggregator.http import PoliteSession
from aggregator.jobs.harvest import Harvester, QueryOutcome
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.xml import iter_pubmed_xml
from aggregator.queries import SavedQuery
from aggregator.settings import load_settings
from aggregator.store.engine import open_engine
from aggregator.tagging import tag_article
from aggregator.vocab import ArticleTags

API_KEY = "bench-first-harvest-key"
QUERY = SavedQuery(name="bulk", term="bulkword[tiab]", start_date=dt.date(2024, 1, 1))


def machine_info() -> str:
    return (
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


class Stopwatch:
    """Seconds spent per stage."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def sleep(self, seconds: float) -> None:
        started = time.perf_counter()
        time.sleep(seconds)
        self.seconds["throttle"] += time.perf_counter() - started

    def tagger(self, article: Article) -> ArticleTags:
        started = time.perf_counter()
        try:
            return tag_article(article)
        finally:
            self.seconds["tagging"] += time.perf_counter() - started

    def parser(self, data: Any, **kwargs: Any) -> Iterator[object]:
        """iter_pubmed_xml, timing only the parser's own work (not the consumer's)."""
        items = iter(iter_pubmed_xml(data, **kwargs))
        while True:
            started = time.perf_counter()
            try:
                item = next(items)
            except StopIteration:
                self.seconds["parsing"] += time.perf_counter() - started
                return
            self.seconds["parsing"] += time.perf_counter() - started
            yield item


class TimedHTTP(requests.Session):
    """A requests.Session that adds each request's duration to the stopwatch."""

    def __init__(self, watch: Stopwatch) -> None:
        super().__init__()
        self.watch = watch

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        started = time.perf_counter()
        try:
            response = super().request(*args, **kwargs)
            _ = response.content  # read the body inside the timer
            return response
        finally:
            self.watch.seconds["HTTP"] += time.perf_counter() - started


class TimedHarvester(Harvester):
    """Harvester that times its per-batch transactions and the final checkpoint step."""

    watch: Stopwatch

    def _store_batch(
        self, query: SavedQuery, run_id: int, batch: list[Article], outcome: QueryOutcome
    ) -> None:
        started = time.perf_counter()
        tagging_before = self.watch.seconds["tagging"]
        try:
            super()._store_batch(query, run_id, batch, outcome)
        finally:
            spent = time.perf_counter() - started
            self.watch.seconds["database"] += spent - (
                self.watch.seconds["tagging"] - tagging_before
            )


def harvest(records: int, api_key: str | None, folder: Path, profile: bool) -> None:
    limit = 10 if api_key else 3
    watch = Stopwatch()
    with FakeEutils(records=[], rate_limit=3, rate_limit_with_key=10) as fake:
        fake.add_bulk(records, "bulkword", dt.date(2024, 1, 1), dt.date(2025, 12, 31))
        settings = load_settings(eutils_url=fake.url, api_key=api_key, environ={})
        session = PoliteSession(
            tool="bench-first-harvest",
            api_key=api_key,
            sleep=watch.sleep,
            session=TimedHTTP(watch),
        )
        engine = open_engine(f"sqlite:///{folder / f'first-{limit}.sqlite'}")
        client = EutilsClient(settings, session=session, article_parser=watch.parser)
        harvester = TimedHarvester(engine, client, tagger=watch.tagger)
        harvester.watch = watch
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        report = harvester.run([QUERY])
        if profiler:
            profiler.disable()
        total = time.perf_counter() - started
        client.close()
        engine.dispose()
        log = list(fake.requests)
    assert report.ok, report.summary_lines()
    rejected = sum(1 for e in log if e.status == 429)
    print(
        f"\n{records} records, rate limit {limit}/s ({'API key' if api_key else 'no key'}): "
        f"{total:.1f} s total, {records / total:.0f} records/s, {len(log)} requests "
        f"({dict(Counter(e.endpoint for e in log))}), {rejected} x 429"
    )
    known = sum(watch.seconds.values())
    stages = [*watch.seconds.items(), ("other", max(0.0, total - known))]
    for stage, seconds in sorted(stages, key=lambda item: -item[1]):
        print(f"  {stage:<10} {seconds:>7.1f} s  {100 * seconds / total:>5.1f}%")
    if profiler:
        print("  top functions by cumulative time (cProfile; slower than the figures above):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--only-key", action="store_true", help="skip the 3/s run")
    args = parser.parse_args(argv)
    print(machine_info())
    keys: list[str | None] = [API_KEY] if args.only_key else [None, API_KEY]
    with tempfile.TemporaryDirectory(prefix="first-harvest-") as temp:
        for api_key in keys:
            harvest(args.records, api_key, Path(temp), args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
