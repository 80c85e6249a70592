"""Politeness: how close the client runs to NCBI's rate limit without ever going over it.

Against the fake E-utilities server WITH NCBI's limits switched on (3 requests/s without an
API key, 10 with one; the fake answers 429 above them, counting requests in any 1-second
sliding window), this harvests synthetic bulk records twice per key setting:

* client: ESearch + EFetch in small batches (50 ids) + parsing, nothing stored, so requests
  go back to back and only the throttle paces them: this measures utilisation;
* harvest: the real Harvester into a temporary SQLite database (EFetch batches of 500, as in
  production), where storing the records, not the throttle, sets the pace.

For each it prints requests, the achieved rate as % of the allowed rate, the most requests the
server saw in any 1-second sliding window (must be <= the limit) and the 429s it sent.
Figures only, nothing asserted. Target: >= 90% utilisation, never over the limit, no 429.

    .venv/bin/python bench/politeness.py [--records 3000] [--batch 50]

All records are synthetic filler (PMIDs 99500000 up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aggregator.jobs.harvest import Harvester
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.server import RequestLogEntry
from aggregator.queries import SavedQuery
from aggregator.settings import load_settings
from aggregator.store.engine import open_engine

TERM = "bulkword[tiab]"
API_KEY = "bench-politeness-key"  # any value: the fake only checks that one is sent


def machine_info() -> str:
    return (
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


def max_in_window(times: Sequence[float], window: float = 1.0) -> int:
    """Most requests whose arrival times fall within any ``window`` seconds (as the fake
    counts: an earlier request leaves the window once ``window`` seconds have passed)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


@dataclass
class Figures:
    label: str
    limit: int
    requests: int
    seconds: float
    busiest_window: int
    rejected: int

    def line(self) -> str:
        rate = (self.requests - 1) / self.seconds if self.seconds > 0 else 0.0
        verdict = "OK" if self.busiest_window <= self.limit and not self.rejected else "OVER LIMIT"
        return (
            f"{self.label:<26} {self.requests:>6} {self.seconds:>8.1f} {rate:>7.2f} "
            f"{100 * rate / self.limit:>6.1f}% {self.busiest_window:>7} {self.rejected:>5}  "
            f"{verdict}"
        )


def figures(label: str, limit: int, log: list[RequestLogEntry]) -> Figures:
    times = [entry.monotonic for entry in log]
    return Figures(
        label=label,
        limit=limit,
        requests=len(log),
        seconds=max(times) - min(times) if len(times) > 1 else 0.0,
        busiest_window=max_in_window(times),
        rejected=sum(1 for entry in log if entry.status == 429),
    )


def client_only(fake: FakeEutils, api_key: str | None, batch: int) -> list[RequestLogEntry]:
    """Search and fetch every bulk record in small batches, parsing but not storing."""
    settings = load_settings(eutils_url=fake.url, api_key=api_key, environ={})
    fake.reset_log()
    with EutilsClient(settings) as client:
        pmids = client.search_ids(TERM)
        parsed = sum(1 for _ in client.fetch_articles(pmids, batch_size=batch))
    assert parsed == len(pmids), "every record came back"
    return list(fake.requests)


def full_harvest(fake: FakeEutils, api_key: str | None, folder: Path) -> list[RequestLogEntry]:
    """The production harvest (Harvester, 500-id EFetch batches) into a fresh SQLite file."""
    settings = load_settings(eutils_url=fake.url, api_key=api_key, environ={})
    engine = open_engine(f"sqlite:///{folder / f'politeness-{bool(api_key)}.sqlite'}")
    query = SavedQuery(name="bulk", term=TERM, start_date=dt.date(2024, 1, 1))
    fake.reset_log()
    try:
        with EutilsClient(settings) as client:
            report = Harvester(engine, client).run([query])
    finally:
        engine.dispose()
    assert report.ok, report.summary_lines()
    return list(fake.requests)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=50, help="EFetch batch in client mode")
    parser.add_argument("--skip-harvest", action="store_true", help="client mode only")
    args = parser.parse_args(argv)
    print(machine_info())
    print(f"{args.records} synthetic records; fake server enforces 3/s (no key), 10/s (key)")
    print(
        f"{'run':<26} {'reqs':>6} {'seconds':>8} {'req/s':>7} {'of max':>7} "
        f"{'max/1s':>7} {'429s':>5}"
    )
    rows: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="politeness-") as temp:
        for api_key, limit in ((None, 3), (API_KEY, 10)):
            key_label = "key" if api_key else "no key"
            with FakeEutils(records=[], rate_limit=3, rate_limit_with_key=10) as fake:
                fake.add_bulk(args.records, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 12, 31))
                time.sleep(1.1)  # an empty window to start from
                log = client_only(fake, api_key, args.batch)
                rows.append(figures(f"client, {key_label}", limit, log))
                print(rows[-1].line(), flush=True)
                if not args.skip_harvest:
                    time.sleep(1.1)
                    log = full_harvest(fake, api_key, Path(temp))
                    rows.append(figures(f"harvest, {key_label}", limit, log))
                    print(rows[-1].line(), flush=True)
    over = [row.label for row in rows if row.busiest_window > row.limit or row.rejected]
    print("never over the limit" if not over else f"OVER THE LIMIT in: {', '.join(over)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
