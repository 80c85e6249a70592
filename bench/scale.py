"""Scale: digest time and query latency at 100,000 synthetic articles, SQLite and PostgreSQL.

The SQLite database is built by bench/query_latency.py's builder (real migrations, bulk
inserts of invented, tagged articles with their tag rows); the PostgreSQL one is a fresh
database migrated by open_engine and filled with the same rows copied over in bulk. On each:

* digest: load the inputs from the database, build the digest for a week, render it as
  Markdown, HTML and JSON (what ``aggregator digest`` does, minus writing files); best and
  median of ``--digest-repeat`` runs. Target: <= 2 s.
* queries: query_latency.py's query mix (select, load articles with tags, render JSON),
  p50/p95 over ``--repeat`` runs each. Target: p95 <= 50 ms.

Figures only, nothing asserted.

    .venv/bin/python bench/scale.py [--articles 100000] [--pg-url URL] [--keep DIR]

PostgreSQL: ``--pg-url`` or AGGREGATOR_TEST_PG_URL, a server URL whose role may create
databases (a database named aggregator_bench_<random> is created and dropped); without one
only SQLite is measured. All articles are synthetic (PMIDs from 99000000 up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from aggregator.digest.output import RENDERERS
from aggregator.store.digest_reader import load_digest_inputs
from aggregator.store.engine import new_session, open_engine
from aggregator.store.models import ArticleRow, TagRow
from aggregator.tagging import tag_article

sys.path.insert(0, str(Path(__file__).resolve().parent))
import query_latency  # noqa: E402 - the colleague's builder and query mix, reused

DIGEST_TARGET_S = 2.0
QUERY_TARGET_MS = 50.0
WEEK = "2025-W47"  # the builder's "now" is 2025-11-20, so this week has new articles


def machine_info() -> str:
    return (
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


@contextmanager
def pg_database(server_url: str, keep: bool) -> Iterator[str]:
    """A fresh, empty PostgreSQL database (dropped afterwards unless ``keep``)."""
    name = f"aggregator_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            if not keep:
                with admin.connect() as connection:
                    connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                print(f"kept PostgreSQL database {name}")
    finally:
        admin.dispose()


def copy_rows(source: Engine, target: Engine, chunk: int = 5000) -> float:
    """Copy every article and tag row from ``source`` to ``target``; returns the seconds."""
    started = time.perf_counter()
    for model in (ArticleRow, TagRow):
        table: sa.Table = model.__table__  # type: ignore[union-attr]
        key = next(iter(table.primary_key.columns))
        last: Any = None
        with target.begin() as writer:
            while True:
                query = sa.select(table).order_by(key).limit(chunk)
                if last is not None:
                    query = query.where(key > last)
                with source.connect() as reader:
                    rows = [dict(row) for row in reader.execute(query).mappings()]
                if not rows:
                    break
                writer.execute(sa.insert(table), rows)
                last = rows[-1][key.name]
            if target.dialect.name == "postgresql" and model is TagRow:
                writer.exec_driver_sql("SELECT setval('tag_id_seq', (SELECT max(id) FROM tag))")
    # What autovacuum does soon after a bulk load: statistics, and the visibility map that
    # lets PostgreSQL answer from an index alone (the digest's counts rely on it).
    with target.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


def timed(action: Callable[[], Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def measure_digest(engine: Engine, repeat: int) -> None:
    stages: dict[str, list[float]] = {"load": [], "build": [], "render": []}
    articles_count = 0

    def once() -> None:
        nonlocal articles_count
        started = time.perf_counter()
        inputs = load_digest_inputs(engine, WEEK, retag=tag_article)
        loaded = time.perf_counter()
        digest = inputs.build()
        built = time.perf_counter()
        sizes = [len(render(digest)) for render, _media in RENDERERS.values()]
        rendered = time.perf_counter()
        assert all(sizes)
        articles_count = inputs.tallies.known_articles
        stages["load"].append(loaded - started)
        stages["build"].append(built - loaded)
        stages["render"].append(rendered - built)

    totals = timed(once, repeat)
    best, median = min(totals), statistics.median(totals)
    verdict = "OK" if median <= DIGEST_TARGET_S else "TOO SLOW"
    parts = ", ".join(f"{k} {statistics.median(v):.2f} s" for k, v in stages.items())
    print(
        f"  digest {WEEK} over {articles_count} tagged articles, md+html+json: "
        f"median {median:.2f} s, best {best:.2f} s ({parts}); target {DIGEST_TARGET_S:.0f} s: "
        f"{verdict}"
    )


def measure_queries(engine: Engine, repeat: int, limit: int) -> float:
    worst = 0.0
    print(f"  {'query':<34} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8}")
    with new_session(engine) as session:
        for name, spec in query_latency.QUERIES.items():
            filt, sort = spec if isinstance(spec, tuple) else (spec, "level")
            rows = query_latency.run_query(session, filt, sort, limit)  # warm up
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                query_latency.run_query(session, filt, sort, limit)
                times.append(1000 * (time.perf_counter() - started))
            p50 = statistics.median(times)
            p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
            worst = max(worst, p95)
            print(f"  {name:<34} {rows:>5} {p50:>8.1f} {p95:>8.1f}")
    verdict = "OK" if worst <= QUERY_TARGET_MS else "TOO SLOW"
    print(f"  worst p95 {worst:.1f} ms (target {QUERY_TARGET_MS:.0f} ms): {verdict}")
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="runs per query")
    parser.add_argument("--digest-repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--pg-url", default=os.environ.get("AGGREGATOR_TEST_PG_URL"))
    parser.add_argument("--keep", type=Path, help="build (or reuse) the SQLite file here")
    args = parser.parse_args(argv)
    print(machine_info())
    with tempfile.TemporaryDirectory(prefix="scale-") as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bench-{args.articles}.sqlite"
        if path.exists():
            print(f"reusing {path}")
        else:
            seconds = query_latency.build(path, args.articles)
            print(f"built {args.articles} articles (SQLite) in {seconds:.1f} s")
        sqlite_engine = open_engine(f"sqlite:///{path}")
        try:
            print(f"\nSQLite ({path.stat().st_size >> 20} MB)")
            measure_digest(sqlite_engine, args.digest_repeat)
            measure_queries(sqlite_engine, args.repeat, args.limit)
            if not args.pg_url:
                print("\nPostgreSQL: skipped (no --pg-url or AGGREGATOR_TEST_PG_URL)")
                return 0
            with pg_database(args.pg_url, keep=False) as url:
                pg_engine = open_engine(url)
                try:
                    seconds = copy_rows(sqlite_engine, pg_engine)
                    version = pg_engine.dialect.server_version_info
                    print(
                        f"\nPostgreSQL {'.'.join(map(str, version or ()))} "
                        f"(rows copied in {seconds:.1f} s)"
                    )
                    measure_digest(pg_engine, args.digest_repeat)
                    measure_queries(pg_engine, args.repeat, args.limit)
                finally:
                    pg_engine.dispose()
        finally:
            sqlite_engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
