"""The registry watch from the command line: `aggregator trials`, `trials show`, `show PMID`
registrations, `run` with and without the registry, registry failures, `status`, and
`--ctgov-url`.

Everything runs against the fake NCBI and ClinicalTrials.gov servers and their SYNTHETIC
corpora (PMIDs 99000000 up, NCT99000001 up; invented titles and sponsors), or on the demo
database that `run --demo` builds from them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from aggregator.cli import cli
from aggregator.cli import trials as trials_commands
from aggregator.ctgov.fake import FakeRegistry
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.corpus import BASE_TODAY
from aggregator.settings import normalise_db_url
from aggregator.store.engine import new_session, open_engine
from aggregator.store.runs import recent_runs


def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo database after `run --demo --no-digest` (four weeks of both corpora)."""
    folder = tmp_path_factory.mktemp("trials-demo")
    db = str(folder / "demo.sqlite")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        result = invoke(
            ["run", "--demo", "--no-digest", "--db", db, "--format", "text"],
            env={"AGGREGATOR_OUT": ""},
        )
    assert result.exit_code == 0, result.output
    assert "registry: 1 new, 1 updated trials" in result.stdout  # W48
    yield db


def records(result: Result) -> list[dict[str, object]]:
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


# ---- trials ----------------------------------------------------------------------------------


def test_trials_lists_every_stored_trial_as_json_when_piped(demo_db: str) -> None:
    found = records(invoke(["trials", "--db", demo_db]))
    assert [r["nct_id"] for r in found] == [
        *(f"NCT990000{n:02d}" for n in range(1, 13)),
        "NCT99000014",
    ]
    first = found[0]
    assert (first["status"], first["stage"], first["forms"], first["has_results"]) == (
        "COMPLETED",
        "published",
        ["glycinate"],
        True,
    )
    assert first["completion"] == {"date": "2026-09-25", "type": "ACTUAL"}
    assert first["first_posted"] == {"date": "2025-09-16", "type": "ACTUAL"}
    assert [(h["old_status"], h["new_status"]) for h in first["status_history"]] == [
        (None, "RECRUITING"),
        ("RECRUITING", "COMPLETED"),
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--form", "glycinate"], ["NCT99000001", "NCT99000007", "NCT99000008", "NCT99000012",
                                   "NCT99000014"]),
        (["--form", "glycinate", "--condition", "migraine"], ["NCT99000001", "NCT99000014"]),
        (["--status", "recruiting"], ["NCT99000004", "NCT99000009", "NCT99000014"]),
        (["--status", "not yet recruiting,withdrawn"], ["NCT99000005", "NCT99000012"]),
        (["--phase", "3", "--form", "oxide"], ["NCT99000002", "NCT99000006", "NCT99000014"]),
        (["--stage", "published", "--condition", "MIGRAINE"],
         ["NCT99000001", "NCT99000003", "NCT99000004"]),
        (["--form", "pidolate"], []),
    ],
)  # fmt: skip
def test_trials_filters(demo_db: str, args: list[str], expected: list[str]) -> None:
    found = records(invoke(["trials", "--db", demo_db, *args]))
    assert [r["nct_id"] for r in found] == expected


def test_trials_table_and_csv(demo_db: str) -> None:
    table = invoke(["trials", "--db", demo_db, "--form", "glycinate", "--format", "table"])
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NCT", "ID", "STAGE", "PHASE", "FORMS", "ENROL", "TITLE"]
    assert lines[1].startswith("NCT99000001  published")
    assert table.stderr == "5 trials\n"
    text = invoke(["trials", "--db", demo_db, "--condition", "migraine", "--format", "csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    glymox = next(r for r in rows if r["nct_id"] == "NCT99000014")
    assert (glymox["forms"], glymox["stage"], glymox["enrollment"], glymox["pmids"]) == (
        "glycinate; oxide",
        "recruiting",
        "420",
        "",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--form", "bisglycinate"], "unknown form 'bisglycinate'"),
        (["--status", "ongoing"], "unknown status 'ongoing'; valid values: NOT_YET_RECRUITING"),
        (["--phase", "5"], "unknown phase '5'"),
        (["--stage", "finished"], "unknown stage 'finished'"),
        (["show", "NCT123"], "'NCT123' is not an NCT id"),
        (["--form", "oxide", "show", "NCT99000001"], "the list filters go after 'trials'"),
    ],
)
def test_trials_usage_errors_exit_2_with_one_line(
    demo_db: str, args: list[str], message: str
) -> None:
    result = CliRunner().invoke(cli, ["trials", *args, "--db", demo_db])
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and message in line


def test_trials_show_lists_the_publications_and_the_history(demo_db: str) -> None:
    shown = invoke(["trials", "show", "nct99000001", "--db", demo_db, "--format", "text"])
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert text.startswith("NCT99000001  [published]\nMagnesium Bisglycinate for Prevention")
    assert "\nCompletion:         2026-09-25 (actual)\n" in text
    assert "\nStart:              2025-10-06 (actual)\n" in text
    assert "\nEnrolment:          160 (actual)\n" in text
    assert "\nDesign:             interventional, randomized, quadruple masking; phase 2\n" in text
    assert "\nResults:            posted 2026-11-25\n" in text
    assert "\nForms:              glycinate\n" in text
    assert "intervention_name" in text and "\u201cMagnesium bisglycinate\u201d" in text
    assert (
        "  PMID 99100001  Magnesium bisglycinate for prevention of episodic migraine: a "
        "randomized, double-blind, placebo-controlled trial. [registry reference (RESULT)]"
    ) in text
    assert "first seen: recruiting (registry update posted 2026-06-10)" in text
    assert "recruiting -> completed (registry update posted 2026-11-18)" in text
    as_json = json.loads(invoke(["trials", "show", "NCT99000004", "--format", "json",
                                 "--db", demo_db]).stdout)  # fmt: skip
    assert [(p["pmid"], p["how"]) for p in as_json["publications"]] == [
        (99000040, "article_mentions"),
        (99000040, "derived_reference"),
    ]
    missing = CliRunner().invoke(cli, ["trials", "show", "NCT99999999", "--db", demo_db])
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: NCT99999999 is not in the database ")


def test_trials_show_prints_text_on_a_terminal_and_json_when_piped(
    demo_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = invoke(["trials", "show", "NCT99000001", "--db", demo_db])
    assert json.loads(piped.stdout)["nct_id"] == "NCT99000001"
    monkeypatch.setattr("aggregator.cli.output.stdout_is_terminal", lambda: True)
    shown = invoke(["trials", "show", "NCT99000001", "--db", demo_db])
    assert shown.stdout.startswith("NCT99000001  [published]\n")


def test_show_pmid_lists_the_registrations(demo_db: str) -> None:
    text = invoke(["show", "99000040", "--db", demo_db, "--format", "text"]).stdout
    assert "Registrations:\n" in text
    title = "Intravenous Magnesium Sulfate for Migraine in the Emergency Department"
    assert f"  NCT99000004  {title} [recruiting]; this article names the NCT id\n" in text
    assert f"  NCT99000004  {title} [recruiting]; registry reference (DERIVED)\n" in text
    data = json.loads(invoke(["show", "99100001", "--db", demo_db, "--format", "json"]).stdout)
    assert [(r["nct_id"], r["how"], r["in_database"]) for r in data["registrations"]] == [
        ("NCT99000001", "result_reference", True)
    ]
    none = invoke(["show", "99000006", "--db", demo_db, "--format", "text"]).stdout
    assert "Registrations" not in none


def test_status_reports_the_registry_checkpoints(demo_db: str) -> None:
    result = invoke(["status", "--db", demo_db, "--format", "text"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].endswith(", 13 registered trials")
    at = lines.index("registry searches (ClinicalTrials.gov):")
    assert lines[at + 1 : at + 3] == [
        "  ctgov-magnesium-glycinate: harvested to 2026-12-06",
        "  ctgov-magnesium-migraine: harvested to 2026-12-06",
    ]
    saved = lines[lines.index("saved searches:") + 1 : at]
    assert all(not line.strip().startswith("ctgov") for line in saved)


@pytest.mark.parametrize("command", [["trials"], ["trials", "show"]], ids=" ".join)
def test_trials_help_has_examples(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    examples = result.stdout.split("Examples:")[1]
    assert f"aggregator {' '.join(command)}" in examples
    assert "--db URL|PATH" in result.stdout and "--ctgov-url URL" in result.stdout
    assert trials_commands.COMMANDS


# ---- run with the registry ---------------------------------------------------------------------


@pytest.fixture
def servers() -> Iterator[tuple[FakeEutils, FakeRegistry]]:
    with (
        FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as fake,
        FakeRegistry(today=BASE_TODAY) as registry,
    ):
        yield fake, registry


@pytest.fixture
def env(
    tmp_path: Path, servers: tuple[FakeEutils, FakeRegistry], monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGGREGATOR_QUERIES", raising=False)
    fake, registry = servers
    return {
        "NCBI_EUTILS_URL": fake.url,
        "CTGOV_API_URL": registry.url,
        "NCBI_EMAIL": "tests@example.invalid",
        "NCBI_API_KEY": "test-secret-key-0123456789",
        "AGGREGATOR_DB": str(tmp_path / "test.sqlite"),
        "AGGREGATOR_OUT": str(tmp_path / "out"),
    }


def run_rows(env: dict[str, str]) -> list[tuple[str, int, dict[str, object]]]:
    engine = open_engine(normalise_db_url(env["AGGREGATOR_DB"]))
    try:
        with new_session(engine) as session:
            return [(r.status, r.failed_queries, r.details) for r in recent_runs(session)]
    finally:
        engine.dispose()


def test_run_watches_the_registry_unless_told_not_to(
    env: dict[str, str], servers: tuple[FakeEutils, FakeRegistry]
) -> None:
    _fake, registry = servers
    skipped = invoke(["run", "--no-digest", "--no-registry", "--format", "text"], env)
    assert skipped.exit_code == 0, skipped.output
    assert registry.requests == []
    assert not any(line.startswith("registry") for line in skipped.stdout.splitlines())
    watched = invoke(["run", "--no-digest", "--format", "text"], env)
    assert watched.exit_code == 0, watched.output
    lines = watched.stdout.splitlines()
    assert lines[2].startswith("registry ctgov-magnesium-glycinate: 6 new, 0 updated")
    assert lines[-1].endswith("registry: 12 new, 0 updated trials, 0 failed searches")
    assert {e.endpoint for e in registry.requests} == {"studies"}
    assert all("api_key" not in e.params and "email" not in e.params for e in registry.requests)
    (status, failed, details), _first = run_rows(env)
    assert (status, failed) == ("success", 0)
    assert [s["name"] for s in details["registry"]["searches"]] == [  # type: ignore[index]
        "ctgov-magnesium-glycinate",
        "ctgov-magnesium-migraine",
    ]


def test_a_failing_registry_exits_1_and_the_rest_completes(
    env: dict[str, str], tmp_path: Path
) -> None:
    env = {**env, "CTGOV_API_URL": "http://127.0.0.1:9/api/v2/"}  # nothing listens there
    result = CliRunner().invoke(cli, ["run", "--format", "text"], env=env)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("magnesium-glycinate: ") and "new" in lines[0]
    assert lines[2].startswith("registry ctgov-magnesium-glycinate: FAILED: ")
    assert "connection refused" in lines[2]
    assert lines[-5].startswith("run 1 partial: ")
    assert lines[-5].endswith(
        "2 failed queries; registry: 0 new, 0 updated trials, 2 failed searches"
    )
    digest = next((tmp_path / "out").glob("digest-*.md")).read_text("utf-8")
    assert "The registry search ctgov-magnesium-glycinate has never completed" in digest
    assert "this digest makes no claim about which trials are or are not registered" in digest
    assert "No registered trial tests" not in digest


def test_run_query_takes_registry_search_names_and_the_ctgov_url_flag(
    env: dict[str, str], servers: tuple[FakeEutils, FakeRegistry]
) -> None:
    fake, registry = servers
    url = registry.url
    env = {**env, "CTGOV_API_URL": "http://127.0.0.1:9/api/v2/"}  # the flag wins
    args = [
        "run",
        "--no-digest",
        "--query",
        "ctgov-magnesium-migraine",
        "--ctgov-url",
        url,
        "--format",
        "text",
    ]
    result = invoke(args, env)
    assert result.exit_code == 0, result.output
    assert [e.endpoint for e in fake.requests] == []  # no PubMed search was named
    lines = result.stdout.splitlines()
    assert lines[0].startswith("registry ctgov-magnesium-migraine: 7 new")
    ((_status, _failed, details),) = run_rows(env)
    assert details["registry"]["every_search"] is False  # type: ignore[index]
    shown = invoke(["queries", "show", "ctgov-magnesium-migraine", "--format", "text"], env)
    assert shown.stdout.splitlines()[-1] == (
        'query:       query.cond="migraine OR headache" query.intr="magnesium"'
    )
    contradiction = CliRunner().invoke(
        cli, ["run", "--query", "ctgov-magnesium-migraine", "--no-registry"], env=env
    )
    assert contradiction.exit_code == 1
    assert contradiction.stderr == (
        "error: 'ctgov-magnesium-migraine' is a registry search, but --no-registry skips those\n"
    )
