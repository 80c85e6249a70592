"""Everyday use without surprises (issue 18, and items 3-4 of the hardening issue), through the
real `aggregator` command (click's runner, in process): read commands never create databases,
the demo database is pointed to, `retag` is idempotent and lists what it counts, one flag and
output vocabulary, PubMed-like text search, complete exports, pipelines, no false revision
between MEDLINE and XML, runtime dependencies, datasette, NCBI conventions, CSV formula and
terminal escape injection.

Every record is synthetic (PMIDs from 99000000, invented authors and text)."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bibtexparser
import click
import pytest
import rispy
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from aggregator.article import MeshHeading
from aggregator.cli import cli
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.corpus import BASE_TODAY
from aggregator.store import search as library
from aggregator.store.articles import upsert_article
from aggregator.store.engine import new_session, open_engine
from aggregator.store.runs import finish_run, start_run
from tests.plugins.databases import make_article, make_tags

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "parser"
T0 = dt.datetime(2025, 11, 3, 8, 0, tzinfo=dt.UTC)
# Settings the developer's environment must not leak into these tests.
CLEAN_ENV: dict[str, str | None] = {
    "AGGREGATOR_DB": None,
    "AGGREGATOR_OUT": None,
    "AGGREGATOR_QUERIES": None,
    "AGGREGATOR_SMTP_URL": None,
    "AGGREGATOR_SMTP_TO": None,
    "NCBI_API_KEY": None,
    "NCBI_EUTILS_URL": "http://127.0.0.1:9/unreachable/",
    "COLUMNS": "120",
}


def invoke(args: list[str], env: dict[str, str | None] | None = None, **kwargs: Any) -> Result:
    return CliRunner().invoke(cli, args, env={**CLEAN_ENV, **(env or {})}, **kwargs)


def one_line_error(result: Result) -> str:
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    return result.stderr


# ---- a small library -------------------------------------------------------------------------

CHILDREN, SULPHATE, SULFATE, OXIDE, MRI = 99000401, 99000402, 99000403, 99000404, 99000405
TEXTS = {
    CHILDREN: (
        "Magnesium in children with migraine: an invented trial",
        "Invented children received magnesium for migraine prophylaxis.",
    ),
    SULPHATE: (
        "Intravenous magnesium sulphate for acute migraine in adults",
        "An invented emergency trial of magnesium sulphate.",
    ),
    SULFATE: (
        "Magnesium sulfate infusion for migraine attacks",
        "Synthetic adults with migraine received a sulfate infusion.",
    ),
    OXIDE: (
        "Oral magnesium oxide and tension-type headache",
        "An imaginary survey; no migraine outcome was measured.",
    ),
    MRI: (
        "MRI findings after magnesium glycinate in Germany",
        "Invented imaging study of magnesium glycinate and migraine in adults.",
    ),
}


def fill(engine: Engine, extra: dict[int, dict[str, Any]] | None = None) -> None:
    """The five articles of TEXTS (tagged; MRI is direct glycinate evidence), plus ``extra``
    (pmid -> make_article overrides)."""
    with new_session(engine) as session:
        run_id = start_run(session, now=T0, kind="import")
        for pmid, (title, abstract) in TEXTS.items():
            article = make_article(
                pmid, title=title, abstract=abstract, abstract_sections=(), keywords=()
            )
            tags = make_tags(evidence_class="direct" if pmid == MRI else "indirect")
            upsert_article(session, article, tags=tags, run_id=run_id, now=T0, source="import")
        for pmid, overrides in (extra or {}).items():
            upsert_article(
                session,
                make_article(pmid, **overrides),
                tags=make_tags(),
                run_id=run_id,
                now=T0,
                source="import",
            )
        finish_run(session, run_id, status="success", now=T0, new=len(TEXTS))
        session.commit()


@pytest.fixture
def small_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'small.sqlite'}"
    engine = open_engine(url)
    fill(engine)
    engine.dispose()
    return url


def pmids(result: Result) -> list[int]:
    assert result.exit_code == 0, result.output
    return [r["pmid"] for r in json.loads(result.stdout)]


# ---- 1. read commands never create a database ------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["query"],
        ["show", "99000401"],
        ["export"],
        ["status"],
        ["digest", "--stdout"],
        ["digest"],
        ["retag", "--dry-run"],
    ],
    ids=" ".join,
)
def test_read_commands_refuse_a_missing_database_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "typo" / "x.sqlite"
    result = invoke([*args, "--db", str(missing), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert str(missing) in one_line_error(result)
    assert "does not exist" in result.stderr
    assert not missing.parent.exists(), "neither the file nor its folder is created"
    assert not (tmp_path / "out").exists()


# ---- 2. the demo database is pointed to ------------------------------------------------------


def test_a_missing_or_empty_default_database_points_to_the_demo_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_db: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "db").mkdir()
    shutil.copyfile(small_db.removeprefix("sqlite:///"), tmp_path / "db" / "demo.sqlite")
    missing = invoke(["query"])
    assert missing.exit_code == 1
    assert "db/aggregator.sqlite" in one_line_error(missing)
    assert "--db db/demo.sqlite" in missing.stderr
    assert not (tmp_path / "db" / "aggregator.sqlite").exists()

    open_engine(f"sqlite:///{tmp_path / 'db' / 'aggregator.sqlite'}").dispose()  # empty
    for args in (["query"], ["stats"], ["status"]):
        empty = invoke(args)
        assert empty.exit_code == 0, empty.output
        assert "--db db/demo.sqlite" in empty.stderr, args
    # An explicit database is taken as meant: no note.
    assert "demo" not in invoke(["query", "--db", small_db]).stderr


# ---- 3. retag is idempotent and lists every change it counts ---------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's database (db/demo.sqlite after `run --demo`), built once per module."""
    folder = tmp_path_factory.mktemp("demo")
    db = folder / "db" / "demo.sqlite"
    result = invoke(["run", "--demo", "--db", str(db), "--out", str(folder / "digests-demo")])
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture
def demo_copy(demo_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "demo.sqlite"
    shutil.copyfile(demo_db, path)
    return path


def test_retag_on_the_demo_database_is_idempotent_and_lists_what_it_counts(
    demo_copy: Path,
) -> None:
    first = invoke(["retag", "--format", "json", "--db", str(demo_copy)])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert len(report["changes"]) == report["updated"]
    for change in report["changes"]:
        assert {"pmid", "changed", "old", "new"} <= set(change)
        assert set(change["changed"]) <= set(change["old"]) | {"provenance", "rules_version"}
    again = invoke(["retag", "--dry-run", "--format", "json", "--db", str(demo_copy)])
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert (second["updated"], second["changes"]) == (0, [])
    assert set(second["changed_by_kind"].values()) == {0}
    stored = invoke(["retag", "--format", "json", "--db", str(demo_copy)])
    assert json.loads(stored.stdout)["updated"] == 0


# ---- 4. one vocabulary of flags, one output rule ---------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeEutils]:
    with FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as server:
        yield server


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, (*prefix, name)))
        else:
            paths.append((*prefix, name))
    return paths


# One working invocation of every command that prints a result (PMIDs of `small_db`).
RESULT_COMMANDS: dict[tuple[str, ...], list[str]] = {
    ("query",): [],
    ("show",): [str(MRI)],
    ("stats",): [],
    ("sql",): ["SELECT pmid, title FROM article ORDER BY pmid"],
    ("retag",): ["--dry-run"],
    ("status",): [],
    ("queries", "list"): [],
    ("queries", "show"): ["magnesium-glycinate"],
    ("queries", "test"): ["magnesium-glycinate"],
    ("search",): ["magnesium glycinate migraine"],
    ("import",): [str(FIXTURES / "structured.xml")],
    ("run",): ["--no-digest", "--no-registry"],
}
# Commands whose stdout is not a report: export writes a file format (json unless --format
# says otherwise, on a terminal too), digest writes files (and says so on stderr), schedule
# runs in the foreground and logs to stderr.
# `trials show` needs registry data: tests/test_cli_trials.py checks its output rule.
OTHER_COMMANDS = {("export",), ("digest",), ("schedule",), ("trials", "show")}


def test_the_output_rule_covers_every_command() -> None:
    assert set(command_paths(cli)) == set(RESULT_COMMANDS) | OTHER_COMMANDS


@pytest.mark.parametrize("path", sorted(RESULT_COMMANDS), ids=" ".join)
def test_every_command_prints_text_on_a_terminal_and_json_when_piped(
    path: tuple[str, ...],
    small_db: str,
    fake: FakeEutils,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    env: dict[str, str | None] = {"NCBI_EUTILS_URL": fake.url, "NCBI_EMAIL": "t@example.invalid"}
    args = [*path, *RESULT_COMMANDS[path], "--db", small_db]
    piped = invoke(args, env)
    assert piped.exit_code == 0, piped.output
    json.loads(piped.stdout)  # JSON when piped
    monkeypatch.setattr("aggregator.cli.output.stdout_is_terminal", lambda: True)
    shown = invoke([*path, *RESULT_COMMANDS[path], "--db", small_db], env)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip()
    with pytest.raises(ValueError):
        json.loads(shown.stdout)  # text or a table on a terminal
    explicit = invoke([*args, "--format", "json"], env)
    assert explicit.exit_code == 0, explicit.output
    json.loads(explicit.stdout)


def test_files_are_reported_on_stderr(small_db: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke(
        ["digest", "--week", "2025-W45", "--format", "md", "--db", small_db, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"wrote {out / 'digest-2025-W45.md'}\nwrote {out / 'feed.xml'}\n"


def test_search_and_query_share_the_flag_vocabulary(fake: FakeEutils, small_db: str) -> None:
    env: dict[str, str | None] = {"NCBI_EUTILS_URL": fake.url, "NCBI_EMAIL": "t@example.invalid"}
    term = "magnesium"
    by_limit = invoke(["search", term, "--limit", "3", "--format", "json"], env)
    by_max = invoke(["search", term, "--max", "3", "--format", "json"], env)  # old spelling
    assert by_limit.exit_code == by_max.exit_code == 0, by_max.output
    assert len(json.loads(by_limit.stdout)) == 3
    assert by_limit.stdout == by_max.stdout
    assert "--max" not in invoke(["search", "--help"]).stdout
    # --since/--until: publication year, in search as in query.
    recent = json.loads(invoke(["search", term, "--since", "2020", "--format", "json"], env).stdout)
    assert recent and all(r["year"] >= 2020 for r in recent)
    old = json.loads(invoke(["search", term, "--until", "2009", "--format", "json"], env).stdout)
    assert old and all(r["year"] <= 2009 for r in old)
    wrong = invoke(["search", term, "--since", "2024-01-31"], env)
    assert wrong.exit_code == 2
    assert "--added-since" in one_line_error(wrong)
    added = invoke(["search", term, "--added-since", "2026-11-01", "--format", "json"], env)
    assert added.exit_code == 0, added.output
    searched = [e.params for e in fake.requests if e.endpoint == "esearch"][-1]
    assert (searched.get("datetype"), searched.get("mindate")) == ("crdt", "2026/11/01")
    # query: --added-since is the date added to PubMed, like search's.
    assert pmids(invoke(["query", "--added-since", "2025-11-02", "--db", small_db])) != []
    assert pmids(invoke(["query", "--added-since", "2025-11-03", "--db", small_db])) == []


@pytest.mark.parametrize(
    "args",
    [
        ["schedule", "--day", "funday"],
        ["schedule", "--at", "25:00"],
        ["schedule", "--timezone", "Mars/Olympus"],
        ["status", "--timezone", "Mars/Olympus"],
    ],
    ids=" ".join,
)
def test_schedule_usage_errors_exit_2(args: list[str], small_db: str) -> None:
    result = invoke([*args, "--db", small_db])
    assert result.exit_code == 2, result.output
    one_line_error(result)


def test_bare_aggregator_prints_its_help() -> None:
    result = invoke([])
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert result.stderr == ""


def test_status_after_the_demo(demo_copy: Path) -> None:
    result = invoke(["status", "--format", "text", "--db", str(demo_copy)])
    assert result.exit_code == 0, result.output
    assert "data refreshed: never" not in result.stdout
    assert "data refreshed: 2026-" in result.stdout
    assert "next scheduled run" not in result.stdout  # no scheduler is known
    data = json.loads(invoke(["status", "--db", str(demo_copy)]).stdout)
    assert data["next_scheduled_run"] is None
    assert data["last_success"]["kind"] == "demo"
    given = invoke(["status", "--format", "text", "--day", "friday", "--db", str(demo_copy)])
    assert "next scheduled run: " in given.stdout


# ---- 5. PubMed-like text search --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("migraine AND children", [CHILDREN]),
        ("migraine children", [CHILDREN]),
        ("migraine NOT children", [SULPHATE, SULFATE, OXIDE, MRI]),
        ("migraine -children", [SULPHATE, SULFATE, OXIDE, MRI]),
        ("children OR oxide", [CHILDREN, OXIDE]),
        ("(sulfate OR oxide) AND adults", [SULPHATE, SULFATE]),
        ("magnesium AND (children OR germany) NOT imaging", [CHILDREN]),
        ("magnes*", [CHILDREN, SULPHATE, SULFATE, OXIDE, MRI]),
        ("infus*", [SULFATE]),
        ('"magnesium sulfate"', [SULPHATE, SULFATE]),
        ('"sulphate infusion"', [SULFATE]),
        ("sulphate", [SULPHATE, SULFATE]),
        ("sulfate", [SULPHATE, SULFATE]),
        ('"tension-type headache"', [OXIDE]),
    ],
)
def test_text_search_reads_pubmed_syntax(small_db: str, text: str, expected: list[int]) -> None:
    result = invoke(["query", "--text", text, "--sort", "pmid", "--db", small_db])
    assert pmids(result) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("migraine[tiab]", "field tags such as [tiab] are not supported"),
        ("mag*ium", "truncation (*) only at the end of a word"),
        ("*sium", "truncation (*) only at the end of a word"),
        ("NOT children", "NOT needs a term before it"),
    ],
)
def test_unsupported_text_search_is_a_clear_usage_error(
    small_db: str, text: str, message: str
) -> None:
    result = invoke(["query", "--text", text, "--db", small_db])
    assert result.exit_code == 2
    assert message in one_line_error(result)


def test_text_search_is_the_same_on_both_backends(db: Engine) -> None:
    fill(db)

    def found(text: str) -> list[int]:
        with new_session(db) as session:
            return library.select_pmids(session, library.ArticleFilter(text=text), sort="pmid")

    assert found("migraine AND children") == [CHILDREN]
    assert found("migraine NOT children") == [SULPHATE, SULFATE, OXIDE, MRI]
    assert found("(sulfate OR oxide) AND adults") == [SULPHATE, SULFATE]
    assert found("magnes*") == [CHILDREN, SULPHATE, SULFATE, OXIDE, MRI]
    assert found("sulphate") == found("sulfate") == [SULPHATE, SULFATE]
    assert found('"magnesium sulphate"') == [SULPHATE, SULFATE]
    assert found('"migraine attacks"') == [SULFATE]
    assert found('"attacks migraine"') == []


# ---- 6. exports carry what users need --------------------------------------------------------


ISSN_ARTICLE = {
    "title": "MRI of the brain after magnesium glycinate: an invented RCT in the UK",
    "issn": "1234-5678",
    "languages": ("eng", "ger"),
    "pub_day": 5,
    "mesh_headings": (
        MeshHeading(descriptor="Migraine Disorders", major=True),
        MeshHeading(descriptor="Magnesium Compounds"),
    ),
}


def test_exports_carry_evidence_class_authors_abstract_and_citation_detail(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'export.sqlite'}"
    engine = open_engine(url)
    fill(engine, extra={99000406: ISSN_ARTICLE})
    engine.dispose()

    records = json.loads(invoke(["query", "--sort", "pmid", "--db", url]).stdout)
    mri = next(r for r in records if r["pmid"] == MRI)
    assert mri["evidence_class"] == "direct"
    assert mri["authors"] == ["Example A", "Synthetic Migraine Study Group"]
    assert mri["abstract"] == TEXTS[MRI][1]
    assert next(r for r in records if r["pmid"] == OXIDE)["evidence_class"] == "indirect"
    exported = json.loads(invoke(["export", "--db", url]).stdout)
    assert [r["pmid"] for r in exported] == [r["pmid"] for r in records]
    assert {r["pmid"]: r["evidence_class"] for r in exported}[MRI] == "direct"
    shown = json.loads(invoke(["show", str(MRI), "--format", "json", "--db", url]).stdout)
    assert (shown["evidence_class"], shown["abstract"]) == ("direct", TEXTS[MRI][1])

    rows = list(
        csv.DictReader(io.StringIO(invoke(["export", "--format", "csv", "--db", url]).stdout))
    )
    row = next(r for r in rows if r["pmid"] == str(MRI))
    assert (row["evidence_class"], row["authors"]) == (
        "direct",
        "Example A; Synthetic Migraine Study Group",
    )
    assert row["abstract"] == TEXTS[MRI][1]

    ris = rispy.loads(invoke(["export", "--format", "ris", "--db", url]).stdout)
    entry = next(e for e in ris if e["accession_number"] == "99000406")
    assert entry["issn"] == "1234-5678"
    assert entry["language"] == "eng; ger"
    assert entry["date"] == "2025/11/05/"
    assert {"Migraine Disorders", "Magnesium Compounds"} <= set(entry["keywords"])
    assert "Magnesium form: glycinate" in entry["keywords"]
    assert "Study type: RCT" in entry["keywords"]

    bib = bibtexparser.parse_string(invoke(["export", "--format", "bibtex", "--db", url]).stdout)
    assert bib.failed_blocks == []
    item = next(e for e in bib.entries if e.key == "pmid99000406")
    assert item["title"] == (
        "{MRI} of the brain after magnesium glycinate: an invented {RCT} in the {UK}"
    )
    assert item["issn"] == "1234-5678"
    assert item["language"] == "eng, ger"
    assert (item["month"], item["date"]) == ("nov", "2025-11-05")
    assert "Migraine Disorders" in item["keywords"]


# ---- 7. pipelines ----------------------------------------------------------------------------


def test_import_reads_standard_input_and_query_prints_pmids(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pipe.sqlite'}"
    xml = (FIXTURES / "structured.xml").read_bytes()
    imported = invoke(["import", "-", "--db", url, "--format", "json"], input=xml)
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout) == [
        {
            "file": "-",
            "new": 1,
            "revised": 0,
            "unchanged": 0,
            "retracted": 0,
            "deleted_listed": 0,
            "skipped": 0,
        }
    ]
    medline = (FIXTURES / "several.txt").read_bytes()
    assert invoke(["import", "-", "--db", url], input=medline).exit_code == 0
    listed = invoke(["query", "--format", "pmid", "--db", url]).stdout
    assert sorted(listed.splitlines()) == ["99000001", "99000100", "99000101"]
    assert invoke(["export", "--format", "pmid", "--db", url]).stdout == (
        "99000001\n99000100\n99000101\n"
    )
    bad = invoke(["import", "-", "--db", url], input=b"not a record\n")
    assert bad.exit_code == 1
    assert "standard input" in one_line_error(bad)


# ---- 8. the same record as MEDLINE and as XML is no revision ----------------------------------


def _doc(url: str, pmid: int) -> dict[str, Any]:
    result = invoke(["show", str(pmid), "--format", "json", "--db", url])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    doc.pop("stored")
    return doc


@pytest.mark.parametrize("order", [("txt", "xml"), ("xml", "txt")], ids="-then-".join)
def test_the_same_record_as_medline_and_as_xml_is_not_a_revision(
    tmp_path: Path, order: tuple[str, str]
) -> None:
    both = f"sqlite:///{tmp_path / 'both.sqlite'}"
    for suffix in order:
        result = invoke(
            ["import", str(FIXTURES / f"structured.{suffix}"), "--db", both, "--format", "json"]
        )
        assert result.exit_code == 0, result.output
    (second,) = json.loads(result.stdout)
    assert (second["revised"], second["unchanged"]) == (0, 1)
    doc = _doc(both, 99000001)
    assert doc["history"] == []
    only_xml = f"sqlite:///{tmp_path / 'xml.sqlite'}"
    invoke(["import", str(FIXTURES / "structured.xml"), "--db", only_xml])
    assert doc == _doc(only_xml, 99000001)


# ---- 9. what users install -------------------------------------------------------------------


def test_test_and_bench_tools_are_not_runtime_dependencies(tmp_path: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]

    def names(requirements: list[str]) -> set[str]:
        return {r.split(">")[0].split("=")[0].split("[")[0].strip().lower() for r in requirements}

    runtime = names(project["dependencies"])
    assert not runtime & {"biopython", "beautifulsoup4", "numpy"}
    extras = project["optional-dependencies"]
    assert {"biopython", "beautifulsoup4"} <= names(extras["test"])
    assert "biopython" in names(extras["bench"])
    # The whole demo runs with Biopython, BeautifulSoup and numpy unimportable.
    code = (
        "import sys\n"
        "for name in ('Bio', 'bs4', 'numpy'): sys.modules[name] = None\n"
        "from aggregator.cli import main\n"
        "sys.argv = ['aggregator', 'run', '--demo', '--no-digest', '--format', 'json',"
        " '--db', 'demo.sqlite']\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


# ---- 10. browsing in datasette -----------------------------------------------------------------


def test_datasette_facets_forms_hides_raw_columns_and_serves_the_canned_queries(
    demo_copy: Path,
) -> None:
    from datasette.app import Datasette

    from aggregator.store.browse import datasette_metadata

    name = demo_copy.stem
    metadata = datasette_metadata([name])
    ds = Datasette([str(demo_copy)], metadata=metadata)
    queries = metadata["databases"][name]["queries"]
    assert {"glycinate_direct", "retractions"} <= set(queries)

    async def check() -> None:
        for query in queries:
            response = await ds.client.get(f"/{name}/{query}.json?_shape=array&text=magnesium")
            assert response.status_code == 200, (query, response.text[:300])
            assert isinstance(response.json(), list)
        direct = await ds.client.get(f"/{name}/glycinate_direct.json?_shape=array")
        assert direct.json(), "the demo has direct glycinate evidence"
        facets = await ds.client.get(f"/{name}/article_summary.json?_facet_array=forms")
        assert facets.status_code == 200, facets.text[:300]
        values = {f["value"] for f in facets.json()["facet_results"]["forms"]["results"]}
        assert "glycinate" in values and "oxide" in values
        assert not any("," in str(v) for v in values), "one facet value per form"
        page = await ds.client.get(f"/{name}/article_summary")
        assert page.status_code == 200
        assert len(page.text) < 200_000
        assert "raw_xml" not in page.text

    asyncio.run(check())


# ---- 11. NCBI and reference-manager conventions ----------------------------------------------


def test_tool_name_and_zotero_friendly_exports(fake: FakeEutils, small_db: str) -> None:
    env: dict[str, str | None] = {"NCBI_EUTILS_URL": fake.url, "NCBI_EMAIL": "t@example.invalid"}
    assert invoke(["search", "magnesium", "--limit", "1"], env).exit_code == 0
    assert {e.params.get("tool") for e in fake.requests} == {"mg-migraine-aggregator"}

    ris = invoke(["query", "--format", "ris", "--text", "germany", "--db", small_db]).stdout
    assert f"M2  - PMID: {MRI}\n" in ris  # Zotero reads "PMID: n" from Extra (M2)
    (entry,) = rispy.loads(ris)
    assert entry["accession_number"] == str(MRI)

    result = invoke(["export", "--format", "csl-json", "--db", small_db])
    assert result.exit_code == 0, result.output
    items = {item["PMID"]: item for item in json.loads(result.stdout)}
    item = items[str(MRI)]
    assert item["type"] == "article-journal"
    assert item["title"] == TEXTS[MRI][0]
    assert item["author"] == [
        {"family": "Example", "given": "Ada"},
        {"literal": "Synthetic Migraine Study Group"},
    ]
    assert item["issued"] == {"date-parts": [[2025, 11]]}
    assert item["DOI"] == f"10.0000/synthetic.{MRI}"
    assert item["container-title"] == "Journal of Synthetic Headache Studies"
    assert (item["volume"], item["issue"], item["page"]) == ("12", "3", "101-109")


# ---- hardening 3: CSV formula injection ------------------------------------------------------


FORMULAS = {
    99000501: '=HYPERLINK("http://example.invalid","click")',
    99000502: "+1+1 synthetic",
    99000503: "-2+3 synthetic",
    99000504: "@SUM(A1) synthetic",
    99000505: "\tindented synthetic",
    99000506: "\rreturned synthetic",
}


def test_csv_cells_that_start_a_formula_are_neutralised(tmp_path: Path, fake: FakeEutils) -> None:
    url = f"sqlite:///{tmp_path / 'formula.sqlite'}"
    engine = open_engine(url)
    fill(engine, extra={pmid: {"title": title} for pmid, title in FORMULAS.items()})
    engine.dispose()
    for args in (["query", "--limit", "0"], ["export"]):
        text = invoke([*args, "--format", "csv", "--db", url]).stdout
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        titles = {int(r["pmid"]): r["title"] for r in rows}
        for pmid, title in FORMULAS.items():
            assert titles[pmid] == "'" + title, args
        assert titles[MRI] == TEXTS[MRI][0]


# ---- hardening 4: terminal escape injection --------------------------------------------------


HOSTILE = "Synthetic \x1b[2J\x1b]0;pwned\x07title\x9b31m with \u202eevil\u202c controls"


def test_terminal_output_never_carries_control_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'hostile.sqlite'}"
    engine = open_engine(url)
    fill(
        engine,
        extra={99000601: {"title": HOSTILE, "abstract": "Line\x1b[1A up", "abstract_sections": ()}},
    )
    engine.dispose()
    monkeypatch.setattr("aggregator.cli.output.stdout_is_terminal", lambda: True)
    for args in (
        ["query"],
        ["show", "99000601"],
        ["query", "--format", "table"],
        ["show", "99000601", "--format", "text"],
    ):
        result = invoke([*args, "--db", url])
        assert result.exit_code == 0, result.output
        assert not any(
            ord(c) < 32 and c != "\n" or 0x7F <= ord(c) < 0xA0 or 0x202A <= ord(c) <= 0x202E
            for c in result.stdout
        ), (args, result.stdout)
        assert "\\x1b" in result.stdout or "\u241b" in result.stdout, "made visible, not dropped"
    as_json = invoke(["show", "99000601", "--format", "json", "--db", url]).stdout
    assert json.loads(as_json)["title"] == HOSTILE
