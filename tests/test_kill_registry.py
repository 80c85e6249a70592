"""Kill tests for the registry watch: a run killed with SIGKILL at any point, then run again,
leaves the same database as runs that were never interrupted.

``aggregator run --no-digest --query bulk`` (a saved registry search only: no PubMed search
runs) is a real subprocess against a FakeRegistry in this process, through the real client at
its polite 1 request per second. Two rounds: the first harvest of 250 studies (three pages of
100, three committed batches), then a later run in which 150 of them change status and post
results and 30 are new (two pages). Each round kills runs at several points (after the k-th
reply, once a batch is committed, while the last page is stored), checks that the database is
consistent after every kill (whole batches only, no checkpoint before the last page), finishes
the round, and compares trials, status changes, revisions, links and checkpoints with a
database that saw the same rounds without interruption.

Every study is SYNTHETIC filler (``build_study``, NCT99700000 up, invented titles).
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
from typing import Any

import pytest
import sqlalchemy as sa

from aggregator.ctgov.fake import FakeRegistry, build_study
from aggregator.store.engine import open_engine

FIRST = 250
CHANGED = 150
ADDED = 30
REGISTRY_TOML = (
    "# Synthetic saved registry search for the kill tests: matches the filler studies.\n"
    'name = "bulk"\nstart_date = 2024-01-01\nquery.cond = "bulkcondition"\n'
)
RUN_TIMEOUT = 90.0
POLL = 0.002


def filler(number: int, *, today: dt.date, changed: bool = False) -> dict[str, Any]:
    forms = ("Magnesium bisglycinate", "Magnesium oxide", "Ferrous bisglycinate")
    study = build_study(
        f"NCT997{number:05d}",
        title=f"Synthetic bulk study {number}",
        status="COMPLETED" if changed else "RECRUITING",
        conditions=("Bulkcondition migraine" if number % 2 else "Bulkcondition insomnia",),
        interventions=(("DIETARY_SUPPLEMENT", forms[number % 3]),),
        last_update=today if changed else dt.date(2025, 1, 1) + dt.timedelta(days=number),
        first_posted=dt.date(2024, 6, 1),
        references=((99600000 + number, "RESULT"),) if changed and number % 5 == 0 else (),
        has_results=changed,
    )
    return study


@dataclass(frozen=True)
class KillPoint:
    kind: str  # "request": after the k-th reply of this run (+delay); "trials": once n trials
    # are stored; "changes": once n status changes are stored (both counted in the database)
    value: int
    delay: float = 0.0

    def __str__(self) -> str:
        return f"{self.kind}={self.value}+{self.delay:g}s"


ROUND_ONE = [
    KillPoint("request", 1),
    KillPoint("trials", 100),
    KillPoint("request", 2, 0.05),
    KillPoint("request", 3),
]
ROUND_TWO = [
    KillPoint("request", 1),
    KillPoint("changes", 100),
    KillPoint("request", 2),
]


@dataclass
class Harness:
    fake: FakeRegistry
    env: dict[str, str]
    queries: Path
    today: dt.date


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    queries = tmp_path / "queries"
    (queries / "registry").mkdir(parents=True)
    (queries / "registry" / "bulk.toml").write_text(REGISTRY_TOML, encoding="utf-8")
    today = dt.datetime.now(dt.UTC).date()  # the subprocess's checkpoint day
    studies = [filler(n, today=today) for n in range(FIRST)]
    with FakeRegistry(studies, today=today) as fake:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AGGREGATOR_", "NCBI_", "CTGOV_"))
        }
        env.update(
            CTGOV_API_URL=fake.url,
            NCBI_EUTILS_URL="http://127.0.0.1:9/unused/",  # no PubMed search runs
            NCBI_EMAIL="tests@example.invalid",
            PYTHONUNBUFFERED="1",
        )
        yield Harness(fake, env, queries, today)


def start_run(harness: Harness, db: str, cwd: Path) -> subprocess.Popen[str]:
    command = [
        sys.executable,
        "-m",
        "aggregator",
        "run",
        "--no-digest",
        "--query",
        "bulk",
        "--format",
        "text",
    ]
    command += ["--queries", str(harness.queries), "--db", db]
    return subprocess.Popen(
        command, cwd=cwd, env=harness.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_to_completion(harness: Harness, db: str, cwd: Path) -> str:
    process = start_run(harness, db, cwd)
    out, err = process.communicate(timeout=RUN_TIMEOUT)
    assert process.returncode == 0, err
    return out


def count(path: Path, sql: str) -> int:
    """A count from the committed database (0 while it or the table does not exist)."""
    if not path.exists():
        return 0
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
        try:
            return int(connection.execute(sql).fetchone()[0])
        finally:
            connection.close()
    except sqlite3.Error:
        return 0


def make_trigger(point: KillPoint, harness: Harness, db_file: Path) -> Callable[[], bool]:
    seen = len(harness.fake.requests)
    if point.kind == "request":
        answered: list[float] = []

        def request_answered() -> bool:
            if not answered and len(harness.fake.requests) - seen >= point.value:
                answered.append(time.monotonic())
            return bool(answered) and time.monotonic() - answered[0] >= point.delay

        return request_answered
    if point.kind == "trials":
        sql = "SELECT count(*) FROM trial"
    else:
        sql = "SELECT count(*) FROM trial_status_change WHERE old_status IS NOT NULL"
    assert count(db_file, sql) < point.value, f"{point} is reached before the run starts"
    return lambda: count(db_file, sql) >= point.value


def run_and_kill(harness: Harness, db_file: Path, cwd: Path, point: KillPoint) -> bool:
    trigger = make_trigger(point, harness, db_file)
    process = start_run(harness, f"sqlite:///{db_file}", cwd)
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        while process.poll() is None:
            if trigger():
                process.send_signal(signal.SIGKILL)
                break
            assert time.monotonic() < deadline, f"the run did not reach kill point {point}"
            time.sleep(POLL)
        process.communicate(timeout=RUN_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode == -signal.SIGKILL


def dump(url: str) -> dict[str, object]:
    """What the registry watch decides, without times and run ids."""
    engine = open_engine(url, migrate=False)
    try:
        with engine.connect() as connection:

            def rows(sql: str) -> list[tuple[object, ...]]:
                return sorted((tuple(r) for r in connection.execute(sa.text(sql))), key=repr)

            return {
                "trials": rows(
                    "SELECT nct_id, content_hash, overall_status, forms, migraine_or_headache, "
                    "has_results, results_seen_at IS NOT NULL FROM trial"
                ),
                "status_changes": rows(
                    "SELECT nct_id, old_status, new_status, posted FROM trial_status_change"
                ),
                "revisions": rows("SELECT nct_id, changed_fields FROM trial_revision"),
                "links": rows("SELECT nct_id, pmid, how FROM trial_publication"),
                "checkpoints": rows(
                    "SELECT query_name, last_window_end, term_hash FROM saved_query_state "
                    "WHERE query_name LIKE 'ctgov:%'"
                ),
                "locks": rows("SELECT name FROM run_lock"),
            }
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Batches:
    """What a killed run may have left: whole committed pages only."""

    trials: frozenset[int]  # possible trial counts
    changes: frozenset[int]  # possible counts of status changes (not first sightings)


ROUND_ONE_BATCHES = Batches(frozenset({0, 100, 200, FIRST}), frozenset({0}))
# Round two's first page holds 100 changed trials, its second 50 changed and 30 new ones.
ROUND_TWO_BATCHES = Batches(frozenset({FIRST, FIRST + ADDED}), frozenset({0, 100, CHANGED}))


def check_consistent(db_file: Path, batches: Batches, checkpoint_before: int) -> None:
    """After a kill: whole batches only; the checkpoint only once every page is in."""
    trials = count(db_file, "SELECT count(*) FROM trial")
    changes = count(
        db_file, "SELECT count(*) FROM trial_status_change WHERE old_status IS NOT NULL"
    )
    checkpoints = count(
        db_file, "SELECT count(*) FROM saved_query_state WHERE query_name LIKE 'ctgov:%'"
    )
    firsts = count(db_file, "SELECT count(*) FROM trial_status_change WHERE old_status IS NULL")
    assert firsts == trials, "every stored trial has its first status row"
    assert trials in batches.trials and changes in batches.changes, (trials, changes)
    if checkpoints > checkpoint_before and trials < max(batches.trials):
        pytest.fail("the checkpoint advanced before every page was stored")


def kill_round(
    harness: Harness, db_file: Path, cwd: Path, points: list[KillPoint], batches: Batches
) -> int:
    kills = 0
    before = count(
        db_file, "SELECT count(*) FROM saved_query_state WHERE query_name LIKE 'ctgov:%'"
    )
    for point in points:
        if run_and_kill(harness, db_file, cwd, point):
            kills += 1
            check_consistent(db_file, batches, before)
    run_to_completion(harness, f"sqlite:///{db_file}", cwd)
    return kills


@pytest.mark.slow
def test_killed_registry_runs_resume_to_the_same_database(harness: Harness, tmp_path: Path) -> None:
    reference = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    killed = tmp_path / "killed.sqlite"

    first = run_to_completion(harness, reference, tmp_path)
    assert f"registry bulk: {FIRST} new" in first
    kills = kill_round(harness, killed, tmp_path, ROUND_ONE, ROUND_ONE_BATCHES)
    assert dump(f"sqlite:///{killed}") == dump(reference)

    for number in range(CHANGED):
        harness.fake.add_study(filler(number, today=harness.today, changed=True))
    for number in range(FIRST, FIRST + ADDED):
        harness.fake.add_study(filler(number, today=harness.today, changed=True))
    second = run_to_completion(harness, reference, tmp_path)
    assert f"registry bulk: {ADDED} new, {CHANGED} updated" in second
    kills += kill_round(harness, killed, tmp_path, ROUND_TWO, ROUND_TWO_BATCHES)

    assert kills == len(ROUND_ONE) + len(ROUND_TWO), "every kill point is reached"
    expected = dump(reference)
    assert len(expected["status_changes"]) == FIRST + ADDED + CHANGED  # type: ignore[arg-type]
    assert len(expected["links"]) == (CHANGED + ADDED) // 5  # type: ignore[arg-type]
    assert dump(f"sqlite:///{killed}") == expected
