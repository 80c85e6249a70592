"""E-mail delivery of the digest through the real CLI, to a real SMTP server on 127.0.0.1.

`aggregator digest` and `aggregator run --demo` mail the digest when AGGREGATOR_SMTP_URL and
AGGREGATOR_SMTP_TO are set (aggregator.jobs.delivery.load_smtp_settings). The database is the
SYNTHETIC fixture corpus harvested in tests/test_cli_reports.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from aggregator.cli import cli
from aggregator.jobs.delivery import SMTP_TO_VAR, SMTP_URL_VAR
from aggregator.store.digests import get_digest
from aggregator.store.engine import new_session, open_engine
from tests.plugins.smtp import (
    PASSWORD,
    USER,
    Received,
    SmtpServer,
    free_port,
)
from tests.test_cli_reports import CLEAN_ENV, harvested_db  # noqa: F401 - module fixture

RECIPIENTS = "alice@example.org, bob@example.org"
TITLE = "Magnesium and migraine evidence digest, {week}"


@pytest.fixture
def db_path(harvested_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "mail.sqlite"
    shutil.copyfile(harvested_db, path)
    return path


def smtp_env(port: int) -> dict[str, str | None]:
    url = f"smtp://{USER}:{PASSWORD.replace('@', '%40')}@127.0.0.1:{port}"
    return {
        **CLEAN_ENV,
        SMTP_URL_VAR: f"{url}?from=digest@example.org&timeout=5",
        SMTP_TO_VAR: RECIPIENTS,
    }


def invoke(args: list[str], env: dict[str, str | None]) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def parts(received: Received) -> dict[str, str]:
    """The text/plain and text/html parts of a multipart/alternative message, by type."""
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    found: dict[str, str] = {}
    for part in message.iter_parts():
        content: Any = part.get_content()
        found[part.get_content_type()] = str(content).replace("\r\n", "\n")
    assert list(found) == ["text/plain", "text/html"]
    return found


def test_digest_command_mails_text_and_html_with_the_headline(
    db_path: Path, smtp_server: SmtpServer
) -> None:
    out = db_path.parent / "out"
    args = ["digest", "--db", str(db_path), "--out", str(out), "--week", "2026-W47"]
    result = invoke([*args, "--format", "md", "--format", "json"], smtp_env(smtp_server.port))
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output

    (received,) = smtp_server.handler.received
    assert received.mail_from == "digest@example.org"
    assert received.rcpt_tos == ["alice@example.org", "bob@example.org"]
    assert received.message["Subject"] == TITLE.format(week="2026-W47")
    assert received.message["To"] == RECIPIENTS
    body = parts(received)
    markdown = (out / "digest-2026-W47.md").read_text("utf-8")
    assert body["text/plain"] == markdown
    # The HTML part is there although only md and json files were written.
    assert body["text/html"].lstrip().lower().startswith("<!doctype html>")
    assert not (out / "digest-2026-W47.html").exists()
    headline = json.loads((out / "digest-2026-W47.json").read_text("utf-8"))["headline"]
    first_sentence = headline["sentences"][0]
    assert first_sentence.startswith("Magnesium glycinate: direct evidence")
    for content in body.values():
        assert first_sentence in content
        assert "Milestone: first RCT of magnesium glycinate" in content


def test_demo_run_mails_every_demo_week(
    tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(["run", "--demo"], smtp_env(smtp_server.port))
    assert result.exit_code == 0, result.output
    # These subjects are long enough to be folded ("Subject:" CRLF SP title), which Python's
    # parser unfolds with the leading space kept: compare the words.
    subjects = [" ".join(r.message["Subject"].split()) for r in smtp_server.handler.received]
    weeks = ("2026-W46", "2026-W47", "2026-W48", "2026-W49")
    assert subjects == [TITLE.format(week=w) + " (DEMO: synthetic data)" for w in weeks]
    for received, week in zip(smtp_server.handler.received, weeks, strict=True):
        body = parts(received)
        written = (tmp_path / "digests-demo" / f"digest-{week}.md").read_text("utf-8")
        assert body["text/plain"] == written
        assert "Demo data from a synthetic corpus" in body["text/html"]


def test_smtp_server_down_is_one_line_exit_1_and_the_digest_is_still_written(
    db_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    out = db_path.parent / "out"
    args = ["digest", "--db", str(db_path), "--out", str(out), "--week", "2026-W48"]
    result = invoke([*args, "--format", "md"], smtp_env(port))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: could not send the digest via SMTP server 127.0.0.1:{port}: connection refused"
    ]
    assert "Traceback" not in result.output and PASSWORD not in result.output
    text = (out / "digest-2026-W48.md").read_text("utf-8")
    assert text.startswith("# " + TITLE.format(week="2026-W48") + "\n")
    assert (out / "feed.xml").is_file()
    engine = open_engine(f"sqlite:///{db_path}")
    with new_session(engine) as session:
        row = get_digest(session, "2026-W48", "md")
        assert row is not None and row.content == text
    engine.dispose()


def test_recipients_missing_is_a_clear_config_error(db_path: Path) -> None:
    env = {**smtp_env(free_port()), SMTP_TO_VAR: None}
    result = invoke(["digest", "--db", str(db_path), "--week", "2026-W48"], env)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {SMTP_URL_VAR} is set but {SMTP_TO_VAR} (recipients) is empty"
    ]
