"""The harvest-side CLI end to end: run, run --demo, import, search, queries.

Each test drives the real `aggregator` command (click's runner, in process) against the fake
NCBI server and a temporary SQLite database, and checks whole outputs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aggregator.cli import cli
from aggregator.ctgov.fake import FakeRegistry
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.corpus import BASE_TODAY
from aggregator.settings import load_settings, normalise_db_url
from aggregator.store.articles import count_articles
from aggregator.store.engine import new_session, open_engine
from aggregator.store.lock import RunLock
from aggregator.store.runs import recent_runs

SYNTHETIC_XML = Path(__file__).parent / "fixtures" / "parser"


@pytest.fixture
def fake() -> Iterator[FakeEutils]:
    with FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as server:
        yield server


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with FakeRegistry(today=BASE_TODAY) as server:
        yield server


@pytest.fixture
def env(
    tmp_path: Path, fake: FakeEutils, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment pointing the CLI at the fake servers, a temp database and output folder."""
    monkeypatch.chdir(tmp_path)
    values = {
        "NCBI_EUTILS_URL": fake.url,
        "CTGOV_API_URL": registry.url,
        "NCBI_EMAIL": "tests@example.invalid",
        "NCBI_API_KEY": "test-secret-key-0123456789",  # 10 requests/s: faster tests
        "AGGREGATOR_DB": str(tmp_path / "test.sqlite"),
        "AGGREGATOR_OUT": str(tmp_path / "out"),
    }
    for name in ("AGGREGATOR_QUERIES",):
        monkeypatch.delenv(name, raising=False)
    return values


def invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def server_search(fake: FakeEutils, term: str, retmax: int = 20) -> list[int]:
    settings = load_settings(eutils_url=fake.url, email="tests@example.invalid", environ={})
    with EutilsClient(settings) as client:
        return client.esearch(term, retmax=retmax, usehistory=False).ids


def test_search_prints_tagged_matching_records_as_json(
    env: dict[str, str], fake: FakeEutils
) -> None:
    result = invoke(["search", "magnesium glycinate migraine", "--format", "json"], env)
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    expected = server_search(fake, "magnesium glycinate migraine")
    assert expected, "the corpus has records for this search"
    assert sorted(r["pmid"] for r in records) == sorted(expected)
    for record in records:
        assert set(record) >= {
            "pmid",
            "title",
            "forms",
            "study_type",
            "evidence_level",
            "tags",
        }
        assert record["title"] == fake.get_record(record["pmid"]).title
    levels = [r["evidence_level"] or 9 for r in records]
    assert levels == sorted(levels), "sorted by evidence level by default"
    assert "test-secret-key" not in result.output


def test_search_count_prints_count_and_translation(env: dict[str, str], fake: FakeEutils) -> None:
    result = invoke(
        ["search", "magnesium[tiab] AND migraine[tiab]", "--count", "--format", "table"], env
    )
    assert result.exit_code == 0, result.output
    count_line, translation_line = result.stdout.splitlines()
    total = len(server_search(fake, "magnesium[tiab] AND migraine[tiab]", retmax=9999))
    assert count_line == str(total)
    assert translation_line.startswith("translation: ")
    assert [e.endpoint for e in fake.requests if e.endpoint == "efetch"] == []


def test_search_against_unreachable_server_prints_one_clear_line(
    env: dict[str, str],
) -> None:
    env = {**env, "NCBI_EUTILS_URL": "http://127.0.0.1:9/entrez/eutils/"}
    result = CliRunner().invoke(cli, ["search", "magnesium"], env=env)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1
    assert "127.0.0.1:9" in lines[0]
    assert "Traceback" not in result.output


def test_search_with_bad_syntax_fails_at_once_with_ncbi_message(
    env: dict[str, str], fake: FakeEutils
) -> None:
    result = CliRunner().invoke(cli, ["search", "(magnesium AND"], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert len([e for e in fake.requests if e.endpoint == "esearch"]) == 1  # no retry


def test_run_harvests_writes_digest_and_second_run_fetches_nothing(
    env: dict[str, str], fake: FakeEutils, tmp_path: Path
) -> None:
    first = invoke(["run", "--format", "text"], env)
    assert first.exit_code == 0, first.output
    assert "run 1 success" in first.stdout
    week = dt.datetime.now(dt.UTC).date().isocalendar()
    name = f"digest-{week[0]}-W{week[1]:02d}"
    for suffix in (".md", ".html", ".json"):
        assert (tmp_path / "out" / f"{name}{suffix}").is_file()
    assert (tmp_path / "out" / "feed.xml").is_file()

    fake.reset_log()
    second = invoke(["run", "--no-digest"], env)
    assert second.exit_code == 0, second.output
    assert {e.endpoint for e in fake.requests} == {"esearch"}
    engine = open_engine(normalise_db_url(env["AGGREGATOR_DB"]))
    with new_session(engine) as session:
        runs = recent_runs(session)
        assert [r.status for r in runs] == ["success", "success"]
        assert runs[0].new == 0
    engine.dispose()


def test_run_reports_a_failing_saved_search_and_exits_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    queries = tmp_path / "q"
    queries.mkdir()
    (queries / "good.toml").write_text(
        'name = "good"\nterm = "magnesium[tiab] AND migraine[tiab]"\nstart_date = 1990-01-01\n',
        encoding="utf-8",
    )
    (queries / "bad.toml").write_text(
        'name = "bad"\nterm = "(magnesium AND"\nstart_date = 1990-01-01\n', encoding="utf-8"
    )
    result = invoke(["run", "--queries", str(queries), "--no-digest", "--format", "text"], env)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("bad: FAILED: ") for line in lines)
    assert any(line.startswith("good: ") and "new" in line for line in lines)
    assert "partial" in lines[-1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            'name = "x"\nterm = "magnesium"\nstart_date = 1990-01-01\ncolour = "red"\n',
            "unknown key 'colour'",
        ),
        ('name = "x"\nterm = "magnesium"\n', "missing required key 'start_date'"),
        ('name = "x"\nterm = "magnesium\nstart_date = 1990-01-01\n', "invalid TOML"),
        (
            'name = "x"\nterm = "magnesium"\nstart_date = "last year"\n',
            "'start_date' must be a TOML date",
        ),
    ],
)
def test_run_refuses_a_bad_saved_search_naming_the_file(
    env: dict[str, str], tmp_path: Path, content: str, message: str
) -> None:
    queries = tmp_path / "q"
    queries.mkdir()
    (queries / "broken.toml").write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["run", "--queries", str(queries)], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {queries / 'broken.toml'}: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_second_run_while_one_holds_the_lock_says_so_and_exits(
    env: dict[str, str],
) -> None:
    engine = open_engine(normalise_db_url(env["AGGREGATOR_DB"]))
    with RunLock(engine):
        result = CliRunner().invoke(cli, ["run", "--no-digest"], env=env)
    engine.dispose()
    assert result.exit_code == 1
    assert result.stderr.startswith("error: another harvest is running")
    assert str(os.getpid()) in result.stderr


def test_demo_runs_offline_and_every_output_says_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "NCBI_EUTILS_URL": "http://127.0.0.1:9/unreachable/",
        "AGGREGATOR_DB": "",
        "AGGREGATOR_OUT": "",
    }
    result = CliRunner().invoke(
        cli, ["run", "--demo", "--format", "text"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "DEMO" in result.stderr
    assert all(line.startswith("DEMO") for line in result.stdout.splitlines())
    digests = sorted((tmp_path / "digests-demo").glob("digest-*.md"))
    assert len(digests) >= 4
    for path in (tmp_path / "digests-demo").iterdir():
        assert "demo" in path.read_text("utf-8").lower(), path
    assert (tmp_path / "db" / "demo.sqlite").is_file()
    assert not (tmp_path / "db" / "aggregator.sqlite").exists()
    # Running the demo again starts afresh instead of piling up.
    again = CliRunner().invoke(
        cli, ["run", "--demo", "--format", "text"], env=env, catch_exceptions=False
    )
    assert again.exit_code == 0
    new_counts = [line.split(": ", 1)[1] for line in result.stdout.splitlines()[:-1]]
    assert [line.split(": ", 1)[1] for line in again.stdout.splitlines()[:-1]] == new_counts


def test_import_loads_xml_and_medline_and_a_corrupt_file_changes_nothing(
    env: dict[str, str], tmp_path: Path
) -> None:
    xml_files = sorted(p for p in SYNTHETIC_XML.glob("*.xml") if "malformed" not in p.name)
    medline_files = sorted(SYNTHETIC_XML.glob("*.nbib")) + sorted(SYNTHETIC_XML.glob("*.txt"))
    good = xml_files[0]
    result = invoke(["import", str(good), "--format", "text"], env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{good}: ")
    engine = open_engine(normalise_db_url(env["AGGREGATOR_DB"]))
    with new_session(engine) as session:
        count = count_articles(session)
    assert count > 0
    if medline_files:
        result = invoke(["import", str(medline_files[0])], env)
        assert result.exit_code == 0, result.output
    with new_session(engine) as session:
        count = count_articles(session)

    corrupt = tmp_path / "corrupt.xml"
    corrupt.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    result = CliRunner().invoke(cli, ["import", str(corrupt)], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "corrupt.xml" in result.stderr
    with new_session(engine) as session:
        assert count_articles(session) == count
    engine.dispose()


def test_queries_list_show_and_test(env: dict[str, str], fake: FakeEutils) -> None:
    listed = invoke(["queries", "list", "--format", "table"], env)
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    registry = lines.index(next(line for line in lines if line.startswith("# saved registry")))
    names = [line.split(":")[0] for line in lines[1:registry]]
    assert names == ["magnesium-glycinate", "magnesium-migraine"]
    assert [line.split(":")[0] for line in lines[registry + 1 :]] == [
        "ctgov-magnesium-glycinate",
        "ctgov-magnesium-migraine",
    ]
    assert all("never harvested" in line for line in lines if not line.startswith("#"))

    shown = invoke(["queries", "show", "magnesium-glycinate", "--format", "text"], env)
    assert shown.exit_code == 0
    assert "glycinate" in shown.stdout and "start date:  1950-01-01" in shown.stdout

    tested = invoke(["queries", "test", "magnesium-glycinate", "--format", "text"], env)
    assert tested.exit_code == 0
    first = tested.stdout.splitlines()[0]
    assert first.startswith("magnesium-glycinate: ") and first.endswith(" records in PubMed")
    assert {e.endpoint for e in fake.requests} == {"esearch"}

    unknown = CliRunner().invoke(cli, ["queries", "show", "nope"], env=env)
    assert unknown.exit_code == 1
    assert "unknown saved search 'nope'" in unknown.stderr
    assert "magnesium-glycinate" in unknown.stderr
