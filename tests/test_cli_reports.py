"""The report and operations commands through the real CLI: digest, status, schedule.

`digest` and `status` run in process (click's runner) on copies of a temporary SQLite database
harvested from the fake NCBI server's SYNTHETIC corpus with an injected clock (2026-W46..W48,
plus one partly failing run in W47). `schedule` runs as a real subprocess against a fake NCBI
server in this process. Also checks that every command has help text with an example and is
documented in README.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from aggregator.cli import cli
from aggregator.cli.reports import age_text
from aggregator.ctgov.fake import FakeRegistry
from aggregator.jobs.delivery import SMTP_TO_VAR, SMTP_URL_VAR
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.corpus import BASE_TODAY
from aggregator.queries import SavedQuery, load_queries, shipped_queries_dir
from aggregator.store.articles import count_articles
from aggregator.store.digests import get_digest
from aggregator.store.engine import new_session, open_engine
from aggregator.store.runs import recent_runs
from tests.test_digest_e2e import Clock, harvest, move_to

README = Path(__file__).parent.parent / "README.md"
BROKEN = SavedQuery(name="broken-syntax", term="(magnesium AND", start_date=dt.date(1950, 1, 1))
# Settings the developer's environment must not leak into these tests.
CLEAN_ENV: dict[str, str | None] = {
    SMTP_URL_VAR: None,
    SMTP_TO_VAR: None,
    "AGGREGATOR_DB": None,
    "AGGREGATOR_OUT": None,
    "AGGREGATOR_QUERIES": None,
    "NCBI_EUTILS_URL": "http://127.0.0.1:9/unreachable/",  # these commands need no NCBI
    "CTGOV_API_URL": "http://127.0.0.1:9/unreachable/",  # nor ClinicalTrials.gov
}


@pytest.fixture(scope="module")
def harvested_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SQLite file after harvests on the Sundays of 2026-W46, W47 (one saved search broken,
    so the run is partial) and W48."""
    path = tmp_path_factory.mktemp("reports-db") / "template.sqlite"
    engine = open_engine(f"sqlite:///{path}")
    queries = load_queries(shipped_queries_dir())
    clock = Clock()
    try:
        with FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as fake:
            for week, run_queries in (
                ("2026-W46", queries),
                ("2026-W47", [BROKEN, *queries]),
                ("2026-W48", queries),
            ):
                move_to(fake, clock, week)
                harvest(engine, fake, clock, run_queries)
    finally:
        engine.dispose()
    return path


@pytest.fixture
def db_path(harvested_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the harvested database; the working directory is tmp_path."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "reports.sqlite"
    shutil.copyfile(harvested_db, path)
    return path


def invoke(args: list[str], env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env={**CLEAN_ENV, **(env or {})})


def digest_args(db: Path, *extra: str) -> list[str]:
    return ["digest", "--db", str(db), "--out", str(db.parent / "out"), *extra]


def stored_digest(db: Path, week: str, fmt: str) -> str | None:
    engine = open_engine(f"sqlite:///{db}")
    try:
        with new_session(engine) as session:
            row = get_digest(session, week, fmt)
            return row.content if row else None
    finally:
        engine.dispose()


# ---- digest -------------------------------------------------------------------------------


def test_digest_md_writes_the_file_and_records_it(db_path: Path) -> None:
    result = invoke(digest_args(db_path, "--week", "2026-W48", "--format", "md"))
    assert result.exit_code == 0, result.output
    out = db_path.parent / "out"
    assert result.stdout == ""  # files written are reported on stderr
    assert result.stderr.splitlines() == [
        f"wrote {out / 'digest-2026-W48.md'}",
        f"wrote {out / 'feed.xml'}",
    ]
    text = (out / "digest-2026-W48.md").read_text("utf-8")
    assert text.startswith("# Magnesium and migraine evidence digest, 2026-W48\n")
    assert "Milestone: first case series of magnesium glycinate" in text
    assert stored_digest(db_path, "2026-W48", "md") == text
    assert stored_digest(db_path, "2026-W48", "html") is None
    assert sorted(p.name for p in out.iterdir()) == ["digest-2026-W48.md", "feed.xml"]


def test_digest_html_and_json_formats(db_path: Path) -> None:
    result = invoke(
        digest_args(db_path, "--week", "2026-W47", "--format", "html", "--format", "json")
    )
    assert result.exit_code == 0, result.output
    out = db_path.parent / "out"
    html = (out / "digest-2026-W47.html").read_text("utf-8")
    data = json.loads((out / "digest-2026-W47.json").read_text("utf-8"))
    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "Magnesium and migraine evidence digest, 2026-W47" in html
    assert (data["week"], data["demo"]) == ("2026-W47", False)
    assert [m["article"]["pmid"] for m in data["milestones"]] == [99100001]
    assert stored_digest(db_path, "2026-W47", "html") == html
    assert json.loads(stored_digest(db_path, "2026-W47", "json") or "") == data
    assert not (out / "digest-2026-W47.md").exists()


def test_digest_stdout_prints_instead_of_writing(db_path: Path) -> None:
    written = invoke(digest_args(db_path, "--week", "2026-W48", "--format", "json"))
    assert written.exit_code == 0, written.output
    file_text = (db_path.parent / "out" / "digest-2026-W48.json").read_text("utf-8")
    shutil.rmtree(db_path.parent / "out")

    printed = invoke(digest_args(db_path, "--week", "2026-W48", "--format", "json", "--stdout"))
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == file_text + "\n"  # click.echo adds the newline
    assert not (db_path.parent / "out").exists()


def test_digest_of_a_week_with_a_failed_search_reports_it(db_path: Path) -> None:
    result = invoke(digest_args(db_path, "--week", "2026-W47", "--format", "md", "--stdout"))
    assert result.exit_code == 0, result.output
    health = result.stdout.split("## Run health\n", 1)[1]
    assert "broken-syntax: " in health
    assert "- Failures: none" not in health


@pytest.mark.parametrize("week", ["2026-W99", "2026-48", "48", "W48-2026", "2026-W00"])
def test_bad_week_is_a_usage_error_naming_week(db_path: Path, week: str) -> None:
    result = invoke(digest_args(db_path, "--week", week))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    error = result.stderr.splitlines()
    assert len(error) == 1
    assert error[0].startswith("error: Invalid value for --week: ")
    assert error[0].endswith("(see 'cli digest --help')")
    assert repr(week) in error[0]
    assert not (db_path.parent / "out").exists()


def test_digest_of_an_empty_database_says_there_is_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "empty.sqlite"
    open_engine(f"sqlite:///{db}").dispose()  # an empty database (a missing one is refused)
    result = invoke(digest_args(db, "--week", "2026-W48", "--format", "md", "--stdout"))
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "No new articles this week. No articles were revised or retracted." in text
    assert "No articles yet." in text
    assert "No published study has tested magnesium glycinate for migraine or headache yet." in text
    assert "Data last refreshed: never" in text
    assert "holds no harvested articles yet" in result.stderr
    assert "aggregator run" in result.stderr
    # Every section says something: no heading is directly followed by another heading.
    blocks = [block.strip() for block in re.split(r"^#+ .*$", text, flags=re.MULTILINE)[1:]]
    assert all(blocks), text
    assert "| [" not in text, "no article rows"


# ---- status ---------------------------------------------------------------------------------


def test_status_shows_runs_failures_freshness_and_next_run(db_path: Path) -> None:
    result = invoke(
        ["status", "--db", str(db_path), "--day", "friday", "--at", "18:30", "--timezone", "UTC"]
        + ["--format", "text"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    engine = open_engine(f"sqlite:///{db_path}")
    with new_session(engine) as session:
        total = count_articles(session)
    engine.dispose()
    assert lines[0] == f"database: {total} articles"
    now = dt.datetime.now(dt.UTC)
    assert lines[1] == f"data refreshed: 2026-11-29 07:00 UTC ({expected_age(now)})"
    next_run = re.fullmatch(
        r"next scheduled run: (\d{4}-\d\d-\d\d) 18:30 UTC \(every Friday at 18:30 UTC\)", lines[2]
    )
    assert next_run, lines[2]
    day = dt.date.fromisoformat(next_run.group(1))
    assert day.weekday() == 4 and 0 <= (day - now.date()).days <= 7
    assert lines[3:6] == [
        "saved searches:",
        "  magnesium-glycinate: harvested to 2026-11-29",
        "  magnesium-migraine: harvested to 2026-11-29",
    ]
    assert lines[6] == "recent runs:"
    runs = lines[7:]
    assert re.fullmatch(
        r"  #3 run 2026-11-29 07:00 success: 2 new, 1 revised, 0 failed queries", runs[0]
    )
    assert re.fullmatch(
        r"  #2 run 2026-11-22 07:00 partial: 2 new, 0 revised, 1 failed queries", runs[1]
    )
    assert runs[2].startswith("      error: broken-syntax: "), runs[2]
    assert len(runs[2]) > len("      error: broken-syntax: ")
    assert re.fullmatch(
        r"  #1 run 2026-11-15 07:00 success: 60 new, 0 revised, 0 failed queries", runs[3]
    )
    assert len(runs) == 4


def expected_age(now: dt.datetime) -> str:
    """How `status` says the age of data refreshed at 2026-11-29 07:00 UTC (the W48 harvest)."""
    age = now - dt.datetime(2026, 11, 29, 7, 0, tzinfo=dt.UTC)
    if age < dt.timedelta(0):  # the machine's clock is before the simulated harvest
        return "in the future: check the system clock"
    if age.days == 0:
        return "less than a day ago"
    return f"{age.days} day{'s' if age.days != 1 else ''} ago"


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (dt.timedelta(days=-4), "in the future: check the system clock"),
        (dt.timedelta(hours=5), "less than a day ago"),
        (dt.timedelta(days=1, hours=2), "1 day ago"),
        (dt.timedelta(days=9), "9 days ago"),
    ],
)
def test_status_says_the_age_of_the_data_in_words(age: dt.timedelta, text: str) -> None:
    assert age_text(age) == text


def test_status_of_an_empty_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    open_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}").dispose()  # empty, not missing
    result = invoke(
        ["status", "--db", str(tmp_path / "empty.sqlite"), "--timezone", "UTC", "--format", "text"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["database: 0 articles", "data refreshed: never (no successful run yet)"]
    assert lines[2].startswith("next scheduled run: ") and lines[2].endswith(
        " 07:00 UTC (every Monday at 07:00 UTC)"
    )
    assert lines[3:] == ["saved searches:", "  (none harvested yet)", "recent runs:", "  (none)"]


# ---- demo -----------------------------------------------------------------------------------


def test_digest_of_the_demo_database_says_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    demo = invoke(["run", "--demo"])
    assert demo.exit_code == 0, demo.output
    db = tmp_path / "db" / "demo.sqlite"
    result = invoke(digest_args(db, "--week", "2026-W48", "--format", "md", "--stdout"))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "# Magnesium and migraine evidence digest, 2026-W48 (DEMO: synthetic data)"
    assert "Demo data from a synthetic corpus" in result.stdout
    as_json = invoke(digest_args(db, "--week", "2026-W48", "--format", "json", "--stdout"))
    assert json.loads(as_json.stdout)["demo"] is True


# ---- help and README ------------------------------------------------------------------------


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command registered under ``group``, subcommands of groups included."""
    paths: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, (*prefix, name)))
    return paths


def test_the_command_list_is_complete() -> None:
    paths = command_paths(cli)
    for expected in (("digest",), ("status",), ("schedule",), ("run",), ("queries", "list")):
        assert expected in paths


@pytest.mark.parametrize("path", command_paths(cli), ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = invoke([*path, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: cli {' '.join(path)} ")
    assert "Example" in result.stdout, f"`aggregator {' '.join(path)} --help` shows no example"
    assert f"aggregator {' '.join(path)}" in result.stdout.split("Example", 1)[1]


@pytest.mark.parametrize("path", command_paths(cli), ids=" ".join)
def test_every_command_is_documented_in_the_readme(path: tuple[str, ...]) -> None:
    command = f"aggregator {' '.join(path)}"
    documented = command in README.read_text("utf-8")
    assert documented, f"README.md does not mention `{command}`"


# ---- schedule (a real process) ------------------------------------------------------------


class LineReader:
    """Collects a child's stderr lines in a thread so the test can wait for one with a timeout."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self._cursor = 0
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float) -> str:
        """The next line (after the last one returned) containing ``needle``; fails with
        everything read so far after ``timeout`` seconds."""
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)
        while True:
            while self._cursor < len(self.lines):
                line = self.lines[self._cursor]
                self._cursor += 1
                if needle in line:
                    return line
            remaining = (deadline - dt.datetime.now(dt.UTC)).total_seconds()
            try:
                received = self._queue.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                received = None
            if received is None:
                joined = "\n".join(self.lines)
                raise AssertionError(f"no line with {needle!r} within {timeout}s:\n{joined}")
            self.lines.append(received)

    def rest(self, timeout: float) -> list[str]:
        self._thread.join(timeout)
        while not self._queue.empty():
            line = self._queue.get()
            if line is not None:
                self.lines.append(line)
        return self.lines


@pytest.fixture
def schedule_fake() -> Iterator[FakeEutils]:
    with FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as server:
        yield server


@pytest.fixture
def schedule_registry() -> Iterator[FakeRegistry]:
    with FakeRegistry(today=BASE_TODAY) as server:
        yield server


def test_schedule_catches_up_then_waits_and_stops_on_sigterm(
    tmp_path: Path, schedule_fake: FakeEutils, schedule_registry: FakeRegistry
) -> None:
    now = dt.datetime.now(dt.UTC)
    # The weekly slot was yesterday at midnight UTC: the next one is about six days away, and
    # the never-run database makes the scheduler catch up the missed slot at once.
    slot_day = (now - dt.timedelta(days=1)).strftime("%A").lower()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in CLEAN_ENV and not key.startswith(("NCBI_", "CTGOV_"))
    }
    env.update(
        NCBI_EUTILS_URL=schedule_fake.url,
        CTGOV_API_URL=schedule_registry.url,
        NCBI_EMAIL="tests@example.invalid",
        NCBI_API_KEY="test-secret-key-0123456789",  # 10 requests/s instead of 3
        AGGREGATOR_DB=str(tmp_path / "scheduled.sqlite"),
        AGGREGATOR_OUT=str(tmp_path / "out"),
        PYTHONUNBUFFERED="1",
    )
    command = [
        sys.executable,
        "-m",
        "aggregator",
        "schedule",
        "--day",
        slot_day,
        "--at",
        "00:00",
        "--timezone",
        "UTC",
    ]
    child = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        reader = LineReader(child.stderr)
        started = reader.wait_for("scheduler started: ", timeout=30)
        assert started.startswith(
            f"scheduler started: every {slot_day.capitalize()} at 00:00 UTC; next run "
        )
        assert started.endswith("now [catch-up]"), started
        reader.wait_for("scheduler.job_start ", timeout=10)
        done = reader.wait_for(" scheduler.job_", timeout=60)  # job_ok, job_failed, job_error
        assert " scheduler.job_ok " in done, "\n".join(reader.lines)
        next_run = reader.wait_for("scheduler.next at=", timeout=10)
        expected = (now - dt.timedelta(days=1)).date() + dt.timedelta(days=7)
        assert f"at={expected.isoformat()}T00:00:00Z reason=scheduled" in next_run
        assert child.poll() is None, "still waiting for the next slot"

        child.send_signal(signal.SIGTERM)
        code = child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=5)
    lines = reader.rest(timeout=5)
    assert code == 0, "\n".join(lines)
    assert lines[-1] == "scheduler stopped"
    assert "test-secret-key" not in "\n".join(lines)
    assert not any("Traceback" in line for line in lines)

    engine = open_engine(f"sqlite:///{tmp_path / 'scheduled.sqlite'}")
    with new_session(engine) as session:
        runs = recent_runs(session)
        assert [(r.kind, r.status) for r in runs] == [("run", "success")]
        assert runs[0].new == count_articles(session) > 0
    engine.dispose()
    year, week, _ = dt.datetime.now(dt.UTC).isocalendar()
    assert (tmp_path / "out" / f"digest-{year}-W{week:02d}.html").is_file()


# Settings every command takes (documented under Configuration, not in each row).
SHARED_FLAGS = {"--db", "--queries", "--out", "--eutils-url", "--ctgov-url", "--email", "--help"}


def readme_row(path: tuple[str, ...]) -> str:
    """The commands-table row of ``aggregator <path>`` in README.md."""
    start = f"| `aggregator {' '.join(path)}"
    text = README.read_text("utf-8")
    table = text[text.index("## Commands") : text.index("### One vocabulary of flags")]
    rows = [
        line for line in table.splitlines() if line.startswith(start) and line[len(start)] in " `"
    ]
    assert len(rows) == 1, f"README.md has {len(rows)} rows for `aggregator {' '.join(path)}`"
    return rows[0]


@pytest.mark.parametrize(
    "path",
    [p for p in command_paths(cli) if not isinstance(cli.commands[p[0]], click.Group)]
    + [p for p in command_paths(cli) if len(p) == 2],
    ids=" ".join,
)
def test_the_readme_row_lists_every_flag_and_format(path: tuple[str, ...]) -> None:
    """The commands table agrees with the code: every visible flag (export takes query's
    filters: "[filters as query]") and every --format value of each command is in its row."""
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    row = readme_row(path)
    documented = row + (readme_row(("query",)) if path == ("export",) else "")
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        for flag in [*param.opts, *param.secondary_opts]:
            if flag.startswith("--") and flag not in SHARED_FLAGS | {"--out"}:
                assert flag in documented, f"README row of {path} lacks {flag}"
            if flag == "--format" and isinstance(param.type, click.Choice):
                for choice in param.type.choices:
                    assert str(choice) in row, f"README row of {path} lacks format {choice}"
        help_text = invoke([*path, "--help"]).stdout
        for flag in param.opts:
            assert flag in help_text
