"""One-line key=value logging, run ids, rotation and secret redaction."""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aggregator.errors import ConfigError
from aggregator.logconfig import (
    OneLineFormatter,
    RunIdFilter,
    SecretRedactingFilter,
    configure_logging,
    current_run_id,
    format_event,
    log_event,
    remove_logging_handlers,
    run_context,
)

API_KEY = "0123abcd4567ef89synthetic"  # invented NCBI-style key for the test only
SMTP_PASSWORD = "p@ss/w+rd=42"  # has characters that URL-encoding changes
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARNING|ERROR|CRITICAL) run=\S+ ")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    yield
    remove_logging_handlers()
    root.setLevel(level)


def record(msg: str, *args: object, created: float = 1795590001.0) -> logging.LogRecord:
    rec = logging.LogRecord("aggregator.harvest", logging.INFO, __file__, 1, msg, args, None)
    rec.created = created  # 2026-11-25T07:00:01Z
    return rec


def test_line_format_is_exact() -> None:
    formatter = OneLineFormatter()
    rec = record("%s", format_event("harvest.query", name="magnesium-migraine", new=3, revised=1))
    with run_context(42):
        RunIdFilter().filter(rec)
    assert formatter.format(rec) == (
        "2026-11-25T07:00:01Z INFO run=42 harvest.query name=magnesium-migraine new=3 revised=1"
    )
    outside = record("scheduler.stopped")
    assert formatter.format(outside) == "2026-11-25T07:00:01Z INFO run=- scheduler.stopped"


def test_format_event_quotes_only_when_needed() -> None:
    assert format_event(
        "digest.written",
        path="/var/lib/aggregator/digests/2026-W48.html",
        title='Mg "glycinate" week',
        empty="",
        skipped=None,
        note="a=b",
        multi="two\nlines",
        percent="100%",
    ) == (
        "digest.written path=/var/lib/aggregator/digests/2026-W48.html "
        'title="Mg \\"glycinate\\" week" empty="" note="a=b" multi="two\\nlines" percent=100%'
    )


def test_configure_logging_writes_run_id_lines_to_stream_and_file(tmp_path: Path) -> None:
    stream = io.StringIO()
    log_file = tmp_path / "logs" / "aggregator.log"
    configure_logging("info", log_file=log_file, stream=stream)
    log = logging.getLogger("aggregator.harvest")
    with run_context(42):
        log_event(log, "harvest.query", name="magnesium-migraine", new=3, revised=1)
        assert current_run_id() == 42
        with run_context(43):
            log_event(log, "harvest.nested")
        log.debug("not shown at INFO")
    assert current_run_id() is None
    log_event(log, "scheduler.next", logging.WARNING, at="2026-11-30T06:00:00Z")

    file_lines = log_file.read_text(encoding="utf-8").splitlines()
    assert stream.getvalue().splitlines() == file_lines
    assert [LINE.sub("", line) for line in file_lines] == [
        "harvest.query name=magnesium-migraine new=3 revised=1",
        "harvest.nested",
        "scheduler.next at=2026-11-30T06:00:00Z",
    ]
    assert [line.split(" ")[1:3] for line in file_lines] == [
        ["INFO", "run=42"],
        ["INFO", "run=43"],
        ["WARNING", "run=-"],
    ]
    assert all(LINE.match(line) for line in file_lines)


def test_run_id_does_not_leak_into_other_threads() -> None:
    stream = io.StringIO()
    configure_logging(logging.INFO, stream=stream)
    log = logging.getLogger("aggregator.worker")

    def other_thread() -> None:
        log.info("worker.tick")

    with run_context(7):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        log.info("main.tick")
    without_time = sorted(line.split(" ", 1)[1] for line in stream.getvalue().splitlines())
    assert without_time == [
        "INFO run=- worker.tick",
        "INFO run=7 main.tick",
    ]


def test_exception_is_one_line_with_escaped_traceback(tmp_path: Path) -> None:
    log_file = tmp_path / "aggregator.log"
    configure_logging("INFO", log_file=log_file, stream=io.StringIO())
    log = logging.getLogger("aggregator.store")
    try:
        raise RuntimeError("database is locked\nsecond line")
    except RuntimeError:
        log.exception("store.commit_failed table=articles")
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    body = LINE.sub("", lines[0])
    assert body.startswith(
        "store.commit_failed table=articles\\nTraceback (most recent call last):"
    )
    assert body.endswith("RuntimeError: database is locked\\nsecond line")


def test_file_rotates_at_the_size_limit(tmp_path: Path) -> None:
    log_file = tmp_path / "aggregator.log"
    configure_logging("INFO", log_file=log_file, rotate_bytes=1024, backups=2, stream=io.StringIO())
    log = logging.getLogger("aggregator.harvest")
    for number in range(60):
        log_event(log, "harvest.article", pmid=99000000 + number, form="glycinate")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["aggregator.log", "aggregator.log.1", "aggregator.log.2"]
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= 1024
        assert all(LINE.match(line) for line in path.read_text(encoding="utf-8").splitlines())
    newest = log_file.read_text(encoding="utf-8").splitlines()
    assert LINE.sub("", newest[-1]) == "harvest.article pmid=99000059 form=glycinate"


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    log_file = tmp_path / "aggregator.log"
    stream = io.StringIO()
    configure_logging(
        "DEBUG",
        log_file=log_file,
        secrets=[API_KEY, SMTP_PASSWORD, ""],
        stream=stream,
    )
    app = logging.getLogger("aggregator.pubmed.eutils")
    library = logging.getLogger("urllib3.connectionpool")  # libraries log full URLs at DEBUG
    url = f"https://eutils.example.org/esearch.fcgi?db=pubmed&api_key={API_KEY}&term=magnesium"
    app.info("eutils.request url=%s", url)
    library.debug('"GET /entrez/eutils/esearch.fcgi?api_key=%s HTTP/1.1" 200 512', API_KEY)
    app.warning(f"smtp.url url=smtp://bot:{SMTP_PASSWORD}@mail.example.org")  # in the message
    app.warning("smtp.url_encoded url=smtp://bot:p%40ss%2Fw%2Brd%3D42@mail.example.org")
    with run_context(9):
        try:
            raise ConnectionError(f"POST failed for {url} with password {SMTP_PASSWORD}")
        except ConnectionError:
            app.exception("eutils.failed key=%s", API_KEY)
    app.error("eutils.failed_args", exc_info=ValueError(f"api_key={API_KEY}"))

    for text in (log_file.read_text(encoding="utf-8"), stream.getvalue()):
        assert API_KEY not in text
        assert SMTP_PASSWORD not in text
        assert "p%40ss%2Fw%2Brd%3D42" not in text
        lines = text.splitlines()
        assert [LINE.sub("", line).split("\\n")[0] for line in lines] == [
            "eutils.request url=https://eutils.example.org/esearch.fcgi?db=pubmed&api_key=***"
            "&term=magnesium",
            '"GET /entrez/eutils/esearch.fcgi?api_key=*** HTTP/1.1" 200 512',
            "smtp.url url=smtp://bot:***@mail.example.org",
            "smtp.url_encoded url=smtp://bot:***@mail.example.org",
            "eutils.failed key=***",
            "eutils.failed_args",
        ]
        assert lines[4].endswith(
            "ConnectionError: POST failed for https://eutils.example.org/esearch.fcgi?db=pubmed"
            "&api_key=***&term=magnesium with password ***"
        )
        assert " run=9 " in lines[4]
        assert lines[5].endswith("ValueError: api_key=***")


def test_redacting_filter_keeps_unbroken_records_usable() -> None:
    redactor = SecretRedactingFilter([API_KEY])
    rec = record("key=%s count=%d", API_KEY, 3)
    assert redactor.filter(rec) is True
    assert (rec.getMessage(), rec.args) == ("key=*** count=3", None)
    broken = record("count=%d", "not-a-number")
    redactor.filter(broken)
    assert broken.getMessage() == "count=%d ('not-a-number',)"


def test_reconfiguring_replaces_only_our_handlers(tmp_path: Path) -> None:
    root = logging.getLogger()
    foreign = logging.NullHandler()
    root.addHandler(foreign)
    try:
        first = configure_logging("INFO", stream=io.StringIO())
        second = configure_logging("WARNING", log_file=tmp_path / "a.log", stream=io.StringIO())
        assert [h for h in root.handlers if h in first] == []
        assert [h for h in root.handlers if h in second] == second
        assert foreign in root.handlers
        assert root.level == logging.WARNING
    finally:
        root.removeHandler(foreign)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"level": "verbose"},
            "log level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL; got 'verbose'",
        ),
        ({"rotate_bytes": 10}, "log rotation size must be at least 1024 bytes; got 10"),
        ({"backups": 0}, "log backups must be at least 1; got 0"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        configure_logging(**kwargs)  # type: ignore[arg-type]
    assert str(excinfo.value) == message


def test_unusable_log_path_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("file in the way", encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        configure_logging("INFO", log_file=blocker / "aggregator.log")
    assert str(excinfo.value).startswith(f"cannot open log file {blocker / 'aggregator.log'}: ")
    assert "\n" not in str(excinfo.value)
