"""Kill tests: a harvest killed with SIGKILL at any point loses nothing and duplicates nothing.

``aggregator run --no-digest`` runs as a real subprocess against a FakeEutils server in this
process (rate limits off; an API key, so the client goes at 10 requests/s). It is killed at
20 different points, in four chains of five: each chain kills one run after another at a later
point, then runs the harvest normally to completion and compares the database with the one an
uninterrupted run produced: articles (pmid, content hash, retracted), tags, query hits,
checkpoints, revisions, and runs marked interrupted/success. After every kill the database
must already be consistent (every stored article tagged and hit, no checkpoint before the end).

The kill points: after the k-th request the server answered; once the k-th 200-article batch
is committed; on the n-th write to the SQLite WAL file after the first EFetch reply (which
lands inside or right after a batch's commit); and at fixed times after start (imports,
migrations, searching). The timed chain slows every server reply by ``TIMED_LATENCY`` so that
no killed run can finish before its kill time, however fast the machine: a run makes at least
two requests after start-up, and the last kill time is below twice the latency.

All records are synthetic filler records (``FakeEutils.add_bulk``, PMIDs 99500000 up).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from aggregator.jobs.harvest import COMMIT_BATCH
from aggregator.pubmed.fake import FakeEutils
from aggregator.store.engine import open_engine
from tests.plugins.databases import fresh_pg_database, pg_server_url

RECORDS = 1_200  # three EFetch batches of <= 500, six commits of 200
QUERY_TOML = (
    "# Synthetic saved search for the kill tests: matches FakeEutils.add_bulk filler records.\n"
    'name = "bulk"\nstart_date = 2024-01-01\nterm = "bulkword[tiab]"\n'
)
RUN_TIMEOUT = 90.0  # seconds; a guard, never reached by a working harvest
POLL = 0.002
TIMED_LATENCY = 1.0  # seconds added to every reply while the timed chain kills


@dataclass(frozen=True)
class KillPoint:
    """When to kill a run: ``kind`` is request, batch, wal or time."""

    kind: str
    value: float
    delay: float = 0.0  # request kills only: this long after the request was answered

    def __str__(self) -> str:
        return f"{self.kind}={self.value:g}+{self.delay:g}s"


CHAINS = {
    # The 3rd request is the second EFetch, asked for once the first 500 are stored (400
    # committed); the others kill while an EFetch reply is parsed, tagged and stored.
    "after-requests": [
        KillPoint("request", k, delay)
        for k, delay in ((3, 0.0), (1, 0.0), (2, 0.1), (2, 0.25), (2, 0.0))
    ],
    # The last one: every article is in, the checkpoint transaction is not.
    "after-commits": [KillPoint("batch", k) for k in (1, 2, 1, 1, 1)],
    "wal-writes": [KillPoint("wal", n) for n in (1, 2, 1, 3, 1)],
    "timed": [KillPoint("time", t) for t in (0.3, 0.6, 0.9, 1.2, 1.5)],
}
assert max(p.value for p in CHAINS["timed"]) < 2 * TIMED_LATENCY


@dataclass
class Harness:
    fake: FakeEutils
    env: dict[str, str]
    queries: Path


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder = tmp_path_factory.mktemp("kill")
    queries = folder / "queries"
    queries.mkdir()
    (queries / "bulk.toml").write_text(QUERY_TOML, encoding="utf-8")
    with FakeEutils(records=[], rate_limit=None, rate_limit_with_key=None) as fake:
        fake.add_bulk(RECORDS, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 12, 31))
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AGGREGATOR_", "NCBI_"))
        }
        env.update(
            NCBI_EUTILS_URL=fake.url,
            NCBI_API_KEY="kill-test-key-0000",
            NCBI_EMAIL="tests@example.invalid",
            PYTHONUNBUFFERED="1",
        )
        yield Harness(fake, env, queries)


def start_run(harness: Harness, db: str, cwd: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "aggregator", "run", "--no-digest", "--format", "text"]
    command += ["--queries", str(harness.queries), "--db", db]
    return subprocess.Popen(
        command,
        cwd=cwd,
        env=harness.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_completion(harness: Harness, db: str, cwd: Path) -> str:
    process = start_run(harness, db, cwd)
    out, err = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, err
    return out


def sqlite_articles(path: Path) -> int:
    """Committed articles in the file (0 while it or its tables do not exist yet)."""
    if not path.exists():
        return 0
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
        try:
            return int(connection.execute("SELECT count(*) FROM article").fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def make_trigger(point: KillPoint, harness: Harness, db_file: Path | None) -> Callable[[], bool]:
    """A function that says, when polled, whether the running harvest should die now."""
    started = time.monotonic()
    seen = len(harness.fake.requests)
    if point.kind == "request":
        answered: list[float] = []

        def request_answered() -> bool:
            if not answered and len(harness.fake.requests) - seen >= point.value:
                answered.append(time.monotonic())
            return bool(answered) and time.monotonic() - answered[0] >= point.delay

        return request_answered
    if point.kind == "time":
        return lambda: time.monotonic() - started >= point.value
    assert db_file is not None, "batch and wal kill points need an SQLite file"
    if point.kind == "batch":
        baseline = sqlite_articles(db_file)
        target = baseline + int(point.value) * COMMIT_BATCH
        return lambda: sqlite_articles(db_file) >= target
    wal = Path(f"{db_file}-wal")
    state: dict[str, object] = {"stamp": None, "changes": 0}

    def wal_written() -> bool:
        efetched = any(e.endpoint == "efetch" for e in harness.fake.requests[seen:])
        if not efetched:
            return False
        try:
            info = wal.stat()
        except FileNotFoundError:
            return False
        stamp = (info.st_mtime_ns, info.st_size)
        if state["stamp"] is None:
            state["stamp"] = stamp
            return False
        if stamp != state["stamp"]:
            state["stamp"] = stamp
            state["changes"] = int(state["changes"]) + 1  # type: ignore[call-overload]
        return int(state["changes"]) >= point.value  # type: ignore[call-overload]

    return wal_written


def run_and_kill(
    harness: Harness, db: str, cwd: Path, point: KillPoint, db_file: Path | None
) -> bool:
    """Start a harvest and SIGKILL it at ``point``; False when it finished first."""
    trigger = make_trigger(point, harness, db_file)
    process = start_run(harness, db, cwd)
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while process.poll() is None:
            if trigger():
                process.send_signal(signal.SIGKILL)
                break
            assert time.monotonic() < deadline, f"harvest did not reach kill point {point}"
            time.sleep(POLL)
        process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode == -signal.SIGKILL


def plain(value: object) -> object:
    """One spelling on both backends: dates as ISO text, booleans as 0/1."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def dump(url: str) -> dict[str, object]:
    """Everything a harvest decides, without timestamps or run ids."""
    engine = open_engine(url, migrate=False)
    try:
        with engine.connect() as connection:

            def rows(sql: str) -> list[tuple[object, ...]]:
                return [tuple(plain(v) for v in r) for r in connection.execute(sa.text(sql))]

            return {
                "articles": rows("SELECT pmid, content_hash, retracted FROM article ORDER BY pmid"),
                "tags": rows(
                    "SELECT pmid, kind, value, field, snippet, rules_version FROM tag "
                    "ORDER BY pmid, kind, value, field"
                ),
                "hits": rows("SELECT query_name, pmid FROM query_hit ORDER BY query_name, pmid"),
                "checkpoints": rows(
                    "SELECT query_name, last_window_end, term_hash FROM saved_query_state"
                ),
                "revisions": rows("SELECT pmid, changed_fields FROM article_revision"),
                "pending_retractions": rows("SELECT pmid FROM pending_retraction"),
                "locks": rows("SELECT name FROM run_lock"),
            }
    finally:
        engine.dispose()


def runs(url: str) -> list[tuple[object, ...]]:
    engine = open_engine(url, migrate=False)
    try:
        with engine.connect() as connection:
            result = connection.execute(sa.text("SELECT status, error FROM run ORDER BY id"))
            return [tuple(r) for r in result]
    finally:
        engine.dispose()


def check_consistent_after_kill(url: str) -> None:
    """What must hold at any instant: whole batches only, tagged, hit, no early checkpoint."""
    try:
        engine = open_engine(url, migrate=False)
    except Exception:  # killed before the database existed or was migrated  # noqa: BLE001
        return
    try:
        with engine.connect() as connection:
            tables = sa.inspect(connection).get_table_names()
            if "article" not in tables:
                return
            pmids = set(connection.execute(sa.text("SELECT pmid FROM article")).scalars())
            tagged = set(
                connection.execute(
                    sa.text("SELECT pmid FROM article WHERE study_type IS NOT NULL")
                ).scalars()
            )
            hits = set(connection.execute(sa.text("SELECT pmid FROM query_hit")).scalars())
            checkpoints = connection.execute(sa.text("SELECT count(*) FROM saved_query_state"))
            done = checkpoints.scalar_one()
    finally:
        engine.dispose()
    assert tagged == pmids
    assert hits == pmids
    assert len(pmids) % COMMIT_BATCH == 0 or len(pmids) == RECORDS
    assert done == 0 or len(pmids) == RECORDS


@pytest.fixture(scope="module")
def reference(harness: Harness, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The database after one uninterrupted harvest."""
    folder = tmp_path_factory.mktemp("reference")
    url = f"sqlite:///{folder / 'reference.sqlite'}"
    out = run_to_completion(harness, url, folder)
    assert f"bulk: {RECORDS} new" in out
    state = dump(url)
    assert len(state["articles"]) == RECORDS  # type: ignore[arg-type]
    assert runs(url) == [("success", None)]
    return state


def kill_chain_then_finish(
    harness: Harness, url: str, cwd: Path, points: list[KillPoint], db_file: Path | None
) -> int:
    """Kill one run per point, check consistency each time, then finish; returns kills.

    Timed kills run with every reply slowed by ``TIMED_LATENCY`` (see the module docstring).
    """
    kills = 0
    for point in points:
        harness.fake.latency = TIMED_LATENCY if point.kind == "time" else 0.0
        try:
            killed = run_and_kill(harness, url, cwd, point, db_file)
        finally:
            harness.fake.latency = 0.0
        if killed:
            kills += 1
            check_consistent_after_kill(url)
    run_to_completion(harness, url, cwd)
    return kills


@pytest.mark.slow
@pytest.mark.parametrize("chain", list(CHAINS), ids=list(CHAINS))
def test_killed_harvests_resume_to_the_same_database(
    chain: str, harness: Harness, reference: dict[str, object], tmp_path: Path
) -> None:
    db_file = tmp_path / "killed.sqlite"
    url = f"sqlite:///{db_file}"

    kills = kill_chain_then_finish(harness, url, tmp_path, CHAINS[chain], db_file)

    assert kills == len(CHAINS[chain]), "every kill point is reached before the run ends"
    assert dump(url) == reference
    history = runs(url)
    assert history[-1] == ("success", None)
    # A killed run that had registered itself is marked interrupted by the next run.
    assert set(history[:-1]) <= {("interrupted", "process ended without finishing")}
    assert len(history) - 1 <= kills


@pytest.mark.slow
@pytest.mark.postgres
def test_killed_harvest_on_postgresql_resumes_to_the_same_database(
    harness: Harness, reference: dict[str, object], tmp_path: Path
) -> None:
    points = [KillPoint("request", 2), KillPoint("request", 3), KillPoint("time", 1.5)]
    with fresh_pg_database(pg_server_url()) as url:
        kills = kill_chain_then_finish(harness, url, tmp_path, points, None)

        assert kills == len(points)
        assert dump(url) == reference
        history = runs(url)
        assert history[-1] == ("success", None)
        assert set(history[:-1]) <= {("interrupted", "process ended without finishing")}
