"""End-to-end tests of query, show, export, stats, sql and retag through the real CLI group
(click's CliRunner) on a temporary SQLite database filled through the real store.
All articles are synthetic: PMIDs from 99000000, invented authors and text."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import shutil
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
import rispy
from click.testing import CliRunner, Result

from aggregator.article import Article
from aggregator.cli import cli
from aggregator.cli import library as library_commands
from aggregator.export import article_record
from aggregator.findings import FindingSource
from aggregator.jobs import retag as retag_job
from aggregator.store.articles import upsert_article
from aggregator.store.engine import new_session, open_engine
from aggregator.store.runs import finish_run, start_run
from aggregator.vocab import ArticleTags, Tag
from tests.plugins.databases import make_article, make_findings, make_tags, make_tags_with_findings

T0 = dt.datetime(2025, 11, 3, 8, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 11, 17, 8, 0, tzinfo=dt.UTC)
GLY, OXI, CIT, NEW, RETRACTED = 99000301, 99000302, 99000303, 99000304, 99000305


# What the studies found (issue 13): the cohort states 31,500 people and an association,
# the survey 800 people and no association; the retracted trial was stored before findings
# were extracted (null), NEW is untagged.
OXI_FINDINGS = make_findings(
    sample_size=31500,
    sample_size_kind="enrolled",
    arms=None,
    dose_mg_per_day=None,
    dose=None,
    duration_weeks=None,
    comparator=None,
    comparator_detail=None,
    reported_result="favours_magnesium",
    provenance=(),
)
CIT_FINDINGS = dataclasses.replace(
    OXI_FINDINGS, sample_size=800, reported_result="no_difference", comparator="none"
)


def corpus() -> list[tuple[Article, ArticleTags | None]]:
    return [
        (make_article(GLY), make_tags_with_findings()),
        (
            make_article(
                OXI,
                title="Magnesium oxide in a synthetic cohort with menstrual migraine",
                pub_year=2015,
                entrez_date=dt.date(2015, 4, 1),
            ),
            make_tags(
                forms=("oxide",),
                study_type="cohort",
                evidence_level=3,
                tags=(Tag("form", "oxide", "title", "Magnesium oxide"),),
                findings=OXI_FINDINGS,
            ),
        ),
        (
            make_article(
                CIT,
                title="Magnesium citrate & sleep: an invented cross-sectional survey",
                pub_year=2020,
                abstract="Invented survey of sleep quality; headache was not studied.",
                abstract_sections=(),
            ),
            make_tags(
                forms=("citrate",),
                conditions=("other",),
                study_type="cross_sectional",
                evidence_level=4,
                tags=(Tag("form", "citrate", "title", "Magnesium citrate"),),
                findings=CIT_FINDINGS,
            ),
        ),
        (make_article(NEW, title="Untagged synthetic record", pub_year=2025), None),
        (
            make_article(
                RETRACTED,
                title="Retracted synthetic trial of magnesium glycinate",
                pub_year=2022,
                publication_types=("Journal Article", "Retracted Publication"),
            ),
            make_tags(),
        ),
    ]


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The filled database, built once per module; each test gets its own copy."""
    path = tmp_path_factory.mktemp("template") / "library.sqlite"
    engine = open_engine(f"sqlite:///{path}")
    with new_session(engine) as session:
        run_id = start_run(session, now=T0, kind="import")
        for article, tags in corpus():
            now = T1 if article.pmid == NEW else T0
            upsert_article(session, article, tags=tags, run_id=run_id, now=now, source="import")
        finish_run(session, run_id, status="success", now=T0, new=5)
        session.commit()
    with engine.connect() as connection:  # fold the WAL in, so one file is the whole database
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> str:
    path = tmp_path / "library.sqlite"
    shutil.copyfile(template_db, path)
    return f"sqlite:///{path}"


def run(db_url: str, *args: str, columns: int = 100) -> Result:
    env = {"AGGREGATOR_DB": "", "COLUMNS": str(columns), "NCBI_API_KEY": ""}
    return CliRunner().invoke(cli, [*args, "--db", db_url], env=env)


def expected_records(*pmids: int) -> list[dict[str, Any]]:
    by_pmid = {a.pmid: article_record(a, t) for a, t in corpus()}
    return [by_pmid[p] for p in pmids]


def pmids_of(result: Result) -> list[int]:
    assert result.exit_code == 0, result.output
    return [r["pmid"] for r in json.loads(result.stdout)]


# ---- query -----------------------------------------------------------------------------------


def test_query_prints_json_records_when_piped(db_url: str) -> None:
    result = run(db_url, "query")
    assert result.exit_code == 0, result.output
    # Default sort: strongest evidence first, newest first within a level, untagged last.
    assert json.loads(result.stdout) == expected_records(GLY, RETRACTED, OXI, CIT, NEW)
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--form", "glycinate"], [GLY, RETRACTED]),
        (["--form", "oxide", "--form", "citrate"], [OXI, CIT]),
        (["--form", "Oxide,CITRATE"], [OXI, CIT]),
        (["--type", "cohort"], [OXI]),
        (["--max-level", "3"], [GLY, RETRACTED, OXI]),
        (["--since", "2016", "--until", "2022"], [RETRACTED, CIT]),
        (["--retracted"], [RETRACTED]),
        (["--no-retracted", "--form", "glycinate"], [GLY]),
        (["--new-since", "2025-11-10"], [NEW]),
        (["--direct"], [GLY, RETRACTED, OXI]),
        (["--indirect"], [CIT]),
        (["--text", "menstrual migraine"], [OXI]),
        (["--text", "sleep OR menstrual", "--sort", "year"], [CIT, OXI]),
        (["--sort", "year"], [NEW, GLY, RETRACTED, CIT, OXI]),  # ties: higher PMID first
        (["--sort", "date"], [RETRACTED, NEW, CIT, GLY, OXI]),
        (["--sort", "pmid"], [GLY, OXI, CIT, NEW, RETRACTED]),
        (["--form", "glycinate", "--type", "cohort"], []),
        # What the studies found (issue 13); articles without findings never match.
        (["--min-n", "100"], [GLY, OXI, CIT]),
        (["--min-n", "801"], [OXI]),
        (["--min-n", "0", "--max-level", "3"], [GLY, OXI]),
        (["--result", "no_difference"], [GLY, CIT]),
        (["--result", "favours_magnesium,MIXED"], [OXI]),
        (["--result", "favours_comparator"], []),
        (["--comparator", "placebo"], [GLY]),
        (["--comparator", "placebo", "--comparator", "none"], [GLY, CIT]),
        (["--comparator", "none", "--result", "no_difference", "--min-n", "500"], [CIT]),
        # Largest sample first; articles stating none last (ties: higher PMID first).
        (["--sort", "n"], [OXI, CIT, GLY, RETRACTED, NEW]),
        (["--sort", "n", "--result", "no_difference"], [CIT, GLY]),
    ],
)
def test_query_filters(db_url: str, args: list[str], expected: list[int]) -> None:
    assert pmids_of(run(db_url, "query", *args)) == expected


def test_query_limit_says_when_there_is_more(db_url: str) -> None:
    result = run(db_url, "query", "--limit", "2")
    assert pmids_of(result) == [GLY, RETRACTED]
    assert result.stderr == "showing the first 2; use --limit 0 for all\n"
    assert pmids_of(run(db_url, "query", "--limit", "0")) == [GLY, RETRACTED, OXI, CIT, NEW]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--form", "zinc"],
            "Invalid value for '--form': unknown form 'zinc'; valid values: glycinate, oxide, "
            "citrate, sulfate, chloride, pidolate, aspartate, lactate, malate, threonate, "
            "taurate, carbonate, hydroxide, orotate, gluconate, unspecified, dietary",
        ),
        (
            ["--type", "rct"],
            "Invalid value for '--type': unknown study type 'rct'; valid values: meta_analysis,",
        ),
        (["--since", "2020", "--until", "2010"], "since year 2020 is after until year 2010"),
        (["--text", "--- ***"], "text '--- ***' has no word to search for"),
        (["--format", "xml"], "Invalid value for '--format': 'xml' is not one of 'table'"),
        (["--new-since", "yesterday"], "Invalid value for '--new-since'"),
        (
            ["--result", "positive"],
            "Invalid value for '--result': unknown result 'positive'; valid values: "
            "favours_magnesium, no_difference, favours_comparator, mixed, not_reported",
        ),
        (
            ["--comparator", "drug"],
            "Invalid value for '--comparator': unknown comparator 'drug'; valid values: "
            "placebo, active, usual_care, none, another_form",
        ),
        (["--min-n", "-1"], "Invalid value for '--min-n': -1 is not in the range x>=0."),
        (["--min-n", "many"], "Invalid value for '--min-n': 'many' is not a valid integer range."),
        (
            ["--sort", "size"],
            "Invalid value for '--sort': 'size' is not one of 'level', 'year', 'date', "
            "'pmid', 'n'.",
        ),
    ],
)
def test_query_usage_errors_exit_2_and_name_the_valid_values(
    db_url: str, args: list[str], message: str
) -> None:
    result = run(db_url, "query", *args)
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["--form", "glycinate' OR '1'='1"],
        ["--form", "oxide; DROP TABLE article; --"],
        ["--type", "cohort') OR 1=1 --"],
    ],
)
def test_injection_in_vocabulary_filters_is_refused_and_harmless(
    db_url: str, args: list[str]
) -> None:
    assert run(db_url, "query", *args).exit_code == 2
    assert pmids_of(run(db_url, "query", "--sort", "pmid")) == [GLY, OXI, CIT, NEW, RETRACTED]


def test_injection_in_text_is_searched_as_words(db_url: str) -> None:
    assert pmids_of(run(db_url, "query", "--text", "x'); DELETE FROM article; --")) == []
    assert pmids_of(run(db_url, "query", "--text", "citrate' OR 1=1 --")) == [CIT]
    assert len(pmids_of(run(db_url, "query"))) == 5


def test_query_csv(db_url: str) -> None:
    result = run(db_url, "query", "--format", "csv", "--form", "oxide")
    assert result.exit_code == 0
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        [
            "pmid",
            "title",
            "year",
            "journal",
            "doi",
            "publication_types",
            "forms",
            "routes",
            "conditions",
            "study_type",
            "evidence_level",
            "combination_product",
            "population",
            "retracted",
            "evidence_class",
            "authors",
            "abstract",
            "design_confidence",
            "design_explanation",
            "sample_size",
            "dose_mg_per_day",
            "duration_weeks",
            "comparator",
            "reported_result",
            "reported_result_text",
        ],
        [
            str(OXI),
            "Magnesium oxide in a synthetic cohort with menstrual migraine",
            "2015",
            "Journal of Synthetic Headache Studies",
            f"10.0000/synthetic.{OXI}",
            "Journal Article; Randomized Controlled Trial",
            "oxide",
            "oral",
            "migraine",
            "cohort",
            "3",
            "no",
            "adults",
            "no",
            "",
            "Example A; Synthetic Migraine Study Group",
            "BACKGROUND: Invented background.\n\nRESULTS: Invented results, 5% \u2265 4.",
            "",  # no design decision stored for it
            "",
            "31500",
            "",  # not stated
            "",
            "",
            "favours_magnesium",
            "authors report an association",  # a cohort: an association, in words
        ],
    ]


def test_query_table(db_url: str) -> None:
    result = run(db_url, "query", "--format", "table", "--max-level", "3", columns=120)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "PMID      YEAR  STUDY TYPE  LEVEL  N      FORMS      TITLE",
        "99000301  2025  RCT         2      120    glycinate  "
        "Synthetic trial of magnesium glycinate for migraine prophylaxis",
        "99000305  2022  RCT         2             glycinate  "
        "[RETRACTED] Retracted synthetic trial of magnesium glycinate",
        "99000302  2015  Cohort      3      31500  oxide      "
        "Magnesium oxide in a synthetic cohort with menstrual migraine",
    ]
    empty = run(db_url, "query", "--format", "table", "--type", "guideline")
    assert empty.stdout == "PMID  YEAR  STUDY TYPE  LEVEL  N  FORMS  TITLE\n"
    assert empty.stderr == "no stored article matches\n"
    narrow = run(db_url, "query", "--format", "table", "--type", "cohort", columns=70)
    assert narrow.stdout.splitlines()[1] == (
        "99000302  2015  Cohort      3      31500  oxide  Magnesium oxide in a\u2026"
    )


def test_query_ris_imports_with_rispy(db_url: str) -> None:
    result = run(db_url, "query", "--format", "ris", "--form", "glycinate")
    entries = rispy.loads(result.stdout)
    assert [(e["accession_number"], e["title"], e["keywords"]) for e in entries] == [
        (
            str(GLY),
            "Synthetic trial of magnesium glycinate for migraine prophylaxis",
            [
                "Migraine Disorders",
                "Magnesium",
                "Magnesium form: glycinate",
                "Study type: RCT",
                "Evidence level: 2",
            ],
        ),
        (
            str(RETRACTED),
            "Retracted synthetic trial of magnesium glycinate",
            [
                "Migraine Disorders",
                "Magnesium",
                "Magnesium form: glycinate",
                "Study type: RCT",
                "Evidence level: 2",
                "Retracted",
            ],
        ),
    ]
    assert entries[0]["authors"] == ["Example, Ada", "Synthetic Migraine Study Group"]


def test_query_bibtex_imports_with_bibtexparser(db_url: str) -> None:
    result = run(db_url, "query", "--format", "bibtex", "--text", "citrate")
    library = bibtexparser.parse_string(result.stdout)
    assert library.failed_blocks == []
    assert [(e.key, e["title"], e["year"], e["pmid"]) for e in library.entries] == [
        (
            f"pmid{CIT}",
            r"Magnesium citrate \& sleep: an invented cross-sectional survey",
            "2020",
            str(CIT),
        )
    ]


# ---- show ------------------------------------------------------------------------------------


def test_show_prints_the_whole_record(db_url: str) -> None:
    result = run(db_url, "show", str(GLY), "--format", "text")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "PMID 99000301\n"
        "Synthetic trial of magnesium glycinate for migraine prophylaxis\n"
        "\n"
        "Authors:    Example A, Synthetic Migraine Study Group\n"
        "Journal:    J Synth Headache Stud 12(3):101-109\n"
        "            Journal of Synthetic Headache Studies\n"
        "Published:  2025 Nov (online 2025-10-30; added to PubMed 2025-11-02)\n"
        "Types:      Journal Article; Randomized Controlled Trial\n"
        "MeSH:       Migraine Disorders*/prevention & control*; Magnesium\n"
        "Keywords:   magnesium glycinate; migraine\n"
        "\n"
        "Abstract:\n"
        "  BACKGROUND: Invented background.\n"
        "  RESULTS: Invented results, 5% \u2265 4.\n"
        "\n"
        "Study type: RCT (randomized_controlled_trial), evidence level 2\n"
        "Forms:      glycinate\n"
        "Routes:     oral\n"
        "Conditions: migraine\n"
        "Population: adults\n"
        "Evidence:   direct (migraine/headache outcome)\n"
        # Issue 12: how the study type was decided (confidence, cues, path).
        "Design:     RCT, confidence 0.90\n"
        "            cues: randomised (abstract), placebo (abstract). path: randomised "
        "allocation stated -> randomized_controlled_trial (confidence 0.90)\n"
        "            cue randomised (abstract): \u201cwere randomized\u201d\n"
        "            cue placebo (abstract): \u201cor placebo\u201d\n"
        # Issue 13: what the authors report, each value with the text it came from.
        "Findings:   as the abstract states them (study; nothing inferred)\n"
        "  Sample size      120 (randomised)\n"
        "                   \u201c120 adults were randomized to magnesium glycinate 250 mg "
        "twice daily or placebo for 12 weeks.\u201d (abstract)\n"
        "  Dose             500 mg/day (\u201cmagnesium glycinate 250 mg twice daily\u201d)\n"
        "                   (the abstract text quoted for sample size)\n"
        "                   derived: 250 mg x 2 a day = 500 mg\n"
        "  Duration         12 weeks\n"
        "                   (the abstract text quoted for sample size)\n"
        "  Comparator       placebo\n"
        "                   (the abstract text quoted for sample size)\n"
        "  Reported result  authors report no difference\n"
        "                   \u201cMigraine days did not differ between the groups.\u201d "
        "(abstract)\n"
        "  Also stated      2 arms\n"
        "Provenance (rules rules-1):\n"
        "  form                 glycinate                    keyword          "
        "\u201cmagnesium glycinate\u201d\n"
        "  form                 glycinate                    title            "
        "\u201cmagnesium glycinate\u201d\n"
        "  route                oral                         abstract         \u201coral\u201d\n"
        "  study_type           randomized_controlled_trial  publication_type "
        "\u201cRandomized Controlled Trial\u201d\n"
        "  condition            migraine                     mesh             "
        "\u201cMigraine Disorders\u201d\n"
        "  population           adults                       abstract         \u201cadults\u201d\n"
        "  design_cue           placebo                      abstract         "
        "\u201cor placebo\u201d\n"
        "  design_cue           randomised                   abstract         "
        "\u201cwere randomized\u201d\n"
        "\n"
        "Links:\n"
        "  PubMed https://pubmed.ncbi.nlm.nih.gov/99000301/\n"
        "  DOI    https://doi.org/10.0000/synthetic.99000301\n"
        "\n"
        "Retraction: not retracted\n"
        "Stored:     first seen 2025-11-03, last updated 2025-11-03, source import\n"
        "History:    no revisions recorded\n"
    )


def test_show_json_has_history_and_retraction(db_url: str) -> None:
    engine = open_engine(db_url)
    revised = make_article(RETRACTED, title="Retracted synthetic trial, corrected title")
    revised = dataclasses.replace(
        revised, publication_types=("Journal Article", "Retracted Publication"), pub_year=2022
    )
    with new_session(engine) as session:
        upsert_article(session, revised, tags=None, run_id=None, now=T1, source="efetch")
        session.commit()
    engine.dispose()
    result = run(db_url, "show", str(RETRACTED), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    record = article_record(revised, make_tags(), retracted=True)
    assert {k: doc[k] for k in record} == record
    assert doc["article"] == json.loads(json.dumps(revised.to_dict()))
    assert doc["links"] == {
        "pubmed": f"https://pubmed.ncbi.nlm.nih.gov/{RETRACTED}/",
        "doi": f"https://doi.org/10.0000/synthetic.{RETRACTED}",
    }
    assert doc["retraction"] == {
        "retracted": True,
        "retracted_at": "2025-11-03T08:00:00+00:00",
        "notice_pmid": None,
    }
    assert doc["stored"] == {
        "source": "efetch",
        "first_seen_at": "2025-11-03T08:00:00+00:00",
        "last_updated_at": "2025-11-17T08:00:00+00:00",
        "last_fetched_at": "2025-11-17T08:00:00+00:00",
        "saved_searches": [],
    }
    assert doc["history"] == [
        {
            "seen_at": "2025-11-17T08:00:00+00:00",
            "run_id": None,
            "changed_fields": ["title"],
            "old_values": {"title": "Retracted synthetic trial of magnesium glycinate"},
            "new_values": {"title": "Retracted synthetic trial, corrected title"},
        }
    ]
    text = run(db_url, "show", str(RETRACTED), "--format", "text").stdout
    assert text.startswith("PMID 99000305  [RETRACTED]\n")
    assert "Retraction: RETRACTED, noted 2025-11-03\n" in text
    assert "History:\n  2025-11-17T08:00:00Z  changed: title\n" in text


def test_show_json_carries_the_design_and_findings(db_url: str) -> None:
    result = run(db_url, "show", str(GLY), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    record = article_record(make_article(GLY), make_tags_with_findings())
    assert {k: doc[k] for k in record} == record
    assert doc["findings"] == make_findings().to_dict()
    assert {k: doc[k] for k in ("sample_size", "dose_mg_per_day", "duration_weeks")} == {
        "sample_size": 120,
        "dose_mg_per_day": 500.0,
        "duration_weeks": 12.0,
    }
    assert (doc["comparator"], doc["reported_result"]) == ("placebo", "no_difference")
    assert (doc["design_confidence"], doc["design_explanation"][:26]) == (
        0.9,
        "cues: randomised (abstract",
    )
    # Stored before findings were extracted: null, and the text says how to fill them in.
    old = json.loads(run(db_url, "show", str(RETRACTED), "--format", "json").stdout)
    assert {key: old[key] for key in list(record)[-9:]} == dict.fromkeys(list(record)[-9:])
    text = run(db_url, "show", str(RETRACTED), "--format", "text").stdout
    assert (
        "Evidence:   direct (migraine/headache outcome)\n"
        "Design:     no decision stored (run `aggregator retag`)\n"
        "Findings:   not extracted yet (run `aggregator retag`)\n"
        "Provenance (rules rules-1):\n"
    ) in text


def test_show_says_not_stated_and_escapes_what_records_hold(db_url: str) -> None:
    """Values the abstract does not state are "not stated"; snippets from the record are
    shown with their control characters as escapes; results are what the authors report."""
    hostile = "Attacks fell\x1b[2J in the \u202emagnesium group."
    findings = make_findings(
        dose_mg_per_day=None,
        dose=None,
        duration_weeks=None,
        comparator=None,
        comparator_detail=None,
        arms=None,
        reported_result="favours_magnesium",
        provenance=(FindingSource("reported_result", "favours_magnesium", "abstract", hostile),),
        sample_size=None,
        sample_size_kind=None,
    )
    engine = open_engine(db_url)
    with new_session(engine) as session:
        upsert_article(
            session,
            make_article(GLY),
            tags=make_tags_with_findings(findings=findings),
            run_id=None,
            now=T1,
            source="import",
        )
        session.commit()
    engine.dispose()
    text = run(db_url, "show", str(GLY), "--format", "text").stdout
    start = text.index("Findings:")
    assert text[start : text.index("Provenance")] == (
        "Findings:   as the abstract states them (study; nothing inferred)\n"
        "  Sample size      not stated\n"
        "  Dose             not stated\n"
        "  Duration         not stated\n"
        "  Comparator       not stated\n"
        "  Reported result  authors report a result favouring magnesium\n"
        "                   \u201cAttacks fell\\x1b[2J in the \\u202emagnesium group.\u201d "
        "(abstract)\n"
    )
    assert "\x1b" not in text and "\u202e" not in text
    # Observational designs report associations (the cohort: favours_magnesium).
    cohort = run(db_url, "show", str(OXI), "--format", "text").stdout
    assert "  Reported result  authors report an association\n" in cohort
    assert "  Sample size      31,500 (enrolled)\n" in cohort


def test_show_unknown_pmid_is_one_line_exit_1(db_url: str) -> None:
    result = run(db_url, "show", "99999999")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: PMID 99999999 is not in the database sqlite:///")
    assert run(db_url, "show", "abc").exit_code == 2


# ---- export ----------------------------------------------------------------------------------


def test_export_json_is_every_record_by_pmid(db_url: str) -> None:
    result = run(db_url, "export")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == expected_records(GLY, OXI, CIT, NEW, RETRACTED)
    filtered = run(db_url, "export", "--form", "glycinate", "--no-retracted", "--format", "csv")
    assert [row["pmid"] for row in csv.DictReader(io.StringIO(filtered.stdout))] == [str(GLY)]


def test_export_to_file_is_atomic_ris(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "exports" / "all.ris"
    result = run(db_url, "export", "--format", "ris", "--out", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert result.stderr == f"wrote 5 articles to {target}\n"
    entries = rispy.loads(target.read_text(encoding="utf-8"))
    assert [e["accession_number"] for e in entries] == [
        str(p) for p in (GLY, OXI, CIT, NEW, RETRACTED)
    ]
    assert sorted(p.name for p in target.parent.iterdir()) == ["all.ris"]  # no temp left


def test_export_bibtex_file(db_url: str, tmp_path: Path) -> None:
    target = tmp_path / "all.bib"
    assert run(db_url, "export", "--format", "bibtex", "-o", str(target)).exit_code == 0
    library = bibtexparser.parse_string(target.read_text(encoding="utf-8"))
    assert library.failed_blocks == []
    assert [e.key for e in library.entries] == [f"pmid{p}" for p in (GLY, OXI, CIT, NEW, RETRACTED)]


def test_export_to_unwritable_place_is_one_line_error(db_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = run(db_url, "export", "--out", str(blocker / "x.json"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: cannot write {blocker / 'x.json'}")
    assert result.stderr.count("\n") == 1


# ---- stats -----------------------------------------------------------------------------------


def test_stats_json(db_url: str) -> None:
    result = run(db_url, "stats")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats.pop("database_bytes") > 0
    assert stats["last_run"].pop("started_at") == "2025-11-03T08:00:00+00:00"
    assert stats == {
        "articles": 5,
        "tagged": 4,
        "retracted": 1,
        "by_form_and_type": {
            "glycinate": {"randomized_controlled_trial": 2},
            "oxide": {"cohort": 1},
            "citrate": {"cross_sectional": 1},
        },
        "by_year": {"2015": 1, "2020": 1, "2022": 1, "2025": 2},
        "last_run": {
            "id": 1,
            "kind": "import",
            "status": "success",
            "finished_at": "2025-11-03T08:00:00+00:00",
            "new": 5,
            "revised": 0,
            "unchanged": 0,
            "failed_queries": 0,
        },
    }


def test_stats_table(db_url: str) -> None:
    result = run(db_url, "stats", "--format", "table")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "Articles:   5 (4 tagged, 1 retracted)"
    assert lines[1].startswith("Database:   ") and lines[1].endswith(" KB")
    assert lines[2:] == [
        "Last run:   import #1 success, started 2025-11-03T08:00:00Z (5 new, 0 revised)",
        "",
        "Articles by form and study type:",
        "FORM       randomized_controlled_trial  cohort  cross_sectional  TOTAL",
        "glycinate  2                            0       0                2",
        "oxide      0                            1       0                1",
        "citrate    0                            0       1                1",
        "",
        "Articles by year:",
        "YEAR  ARTICLES",
        "2015  1",
        "2020  1",
        "2022  1",
        "2025  2",
    ]


# ---- sql -------------------------------------------------------------------------------------


def test_sql_select_as_json_and_csv(db_url: str) -> None:
    statement = (
        "SELECT study_type, count(*) AS n FROM article GROUP BY study_type "
        "ORDER BY n DESC, study_type"
    )
    result = run(db_url, "sql", statement)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {"study_type": "randomized_controlled_trial", "n": 2},
        {"study_type": None, "n": 1},
        {"study_type": "cohort", "n": 1},
        {"study_type": "cross_sectional", "n": 1},
    ]
    as_csv = run(
        db_url, "sql", "SELECT pmid, title FROM article WHERE pmid = 99000303", "--format", "csv"
    )
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["pmid", "title"],
        [str(CIT), "Magnesium citrate & sleep: an invented cross-sectional survey"],
    ]
    table = run(
        db_url,
        "sql",
        "SELECT pmid, pub_year FROM article WHERE pmid < 99000303",
        "--format",
        "table",
    )
    assert table.stdout == "pmid      pub_year\n99000301  2025\n99000302  2015\n"


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("DELETE FROM article", "attempt to write a readonly database"),
        ("UPDATE article SET title = 'x'", "attempt to write a readonly database"),
        ("DROP TABLE tag", "attempt to write a readonly database"),
        ("SELECT 1; DELETE FROM article", "You can only execute one statement at a time."),
        ("SELECT * FROM nowhere", "no such table: nowhere"),
    ],
)
def test_sql_refuses_writes_on_a_read_only_connection(
    db_url: str, statement: str, message: str
) -> None:
    result = run(db_url, "sql", statement)
    assert result.exit_code == 1
    assert result.stderr == f"error: SQL failed (read-only connection): {message}\n"
    assert len(pmids_of(run(db_url, "query"))) == 5


def test_sql_on_a_missing_database_does_not_create_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.sqlite"
    result = run(f"sqlite:///{missing}", "sql", "SELECT 1")
    assert result.exit_code == 1
    assert result.stderr == f"error: database file {missing} does not exist\n"
    assert not missing.exists()


# ---- retag -----------------------------------------------------------------------------------


def fake_tagger(article: Article) -> ArticleTags:
    """New "rules": anything mentioning oxide is an RCT of oxide; the survey's result reads
    as mixed; the retracted trial (stored before findings were extracted) gets its design
    decision and findings; the rest keeps its shape."""
    if "oxide" in article.title.lower():
        return make_tags(
            forms=("oxide", "citrate"),
            study_type="randomized_controlled_trial",
            evidence_level=2,
            tags=(Tag("form", "oxide", "title", "Magnesium oxide"),),
            rules_version="rules-2",
            findings=OXI_FINDINGS,
        )
    if article.pmid == CIT:
        return make_tags(
            forms=("citrate",),
            conditions=("other",),
            study_type="cross_sectional",
            evidence_level=4,
            tags=(Tag("form", "citrate", "title", "Magnesium citrate"),),
            rules_version="rules-2",
            findings=dataclasses.replace(CIT_FINDINGS, reported_result="mixed"),
        )
    if article.pmid in (GLY, RETRACTED):
        return make_tags_with_findings(rules_version="rules-2")
    return make_tags(rules_version="rules-2")


@pytest.fixture
def new_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retag_job, "tag_article", fake_tagger)
    monkeypatch.setattr(retag_job, "RULES_VERSION", "rules-2")


def test_retag_dry_run_reports_and_stores_nothing(db_url: str, new_rules: None) -> None:
    before = run(db_url, "export").stdout
    result = run(db_url, "retag", "--dry-run", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == {
        "rules_version": "rules-2",
        "dry_run": True,
        "examined": 5,
        "updated": 5,
        "changed_by_kind": {
            "form": 2,
            "route": 1,
            "condition": 1,
            "population": 1,
            "study_type": 2,
            "evidence_level": 2,
            "combination_product": 1,
            "provenance": 2,
            "evidence_class": 0,
            "design_confidence": 1,
            "design_explanation": 1,
            "sample_size": 1,
            "dose_mg_per_day": 1,
            "duration_weeks": 1,
            "comparator": 1,
            "reported_result": 2,
            "findings": 2,
        },
        "changes": report["changes"],
    }
    # Every article counted is listed, with the old and new value of what changed.
    assert [c["pmid"] for c in report["changes"]] == [GLY, OXI, CIT, NEW, RETRACTED]
    by_pmid = {c["pmid"]: c for c in report["changes"]}
    assert by_pmid[OXI] == {
        "pmid": OXI,
        "old_study_type": "cohort",
        "new_study_type": "randomized_controlled_trial",
        "old_forms": ["oxide"],
        "new_forms": ["oxide", "citrate"],
        "changed": ["form", "study_type", "evidence_level", "rules_version"],
        "old": {
            "form": ["oxide"],
            "study_type": "cohort",
            "evidence_level": 3,
            "rules_version": "rules-1",
        },
        "new": {
            "form": ["oxide", "citrate"],
            "study_type": "randomized_controlled_trial",
            "evidence_level": 2,
            "rules_version": "rules-2",
        },
    }
    assert by_pmid[GLY]["changed"] == ["rules_version"]
    # A changed finding: its old and new value, and the whole findings object.
    assert by_pmid[CIT]["changed"] == ["reported_result", "findings", "rules_version"]
    assert (by_pmid[CIT]["old"]["reported_result"], by_pmid[CIT]["new"]["reported_result"]) == (
        "no_difference",
        "mixed",
    )
    assert by_pmid[CIT]["new"]["findings"] == {
        **CIT_FINDINGS.to_dict(),
        "reported_result": "mixed",
    }
    # Stored before findings were extracted: every new value is a change from null.
    assert by_pmid[RETRACTED]["changed"] == [
        "provenance",
        "design_confidence",
        "design_explanation",
        "sample_size",
        "dose_mg_per_day",
        "duration_weeks",
        "comparator",
        "reported_result",
        "findings",
        "rules_version",
    ]
    assert by_pmid[RETRACTED]["old"]["findings"] is None
    assert by_pmid[RETRACTED]["new"]["findings"] == make_findings().to_dict()
    assert (by_pmid[RETRACTED]["old"]["sample_size"], by_pmid[RETRACTED]["new"]["sample_size"]) == (
        None,
        120,
    )
    assert by_pmid[NEW]["changed"][:2] == ["form", "route"]
    assert (by_pmid[NEW]["old_study_type"], by_pmid[NEW]["new_forms"]) == (None, ["glycinate"])
    assert run(db_url, "export").stdout == before


def test_retag_stores_the_new_tags(db_url: str, new_rules: None) -> None:
    result = run(db_url, "retag", "--format", "text")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Re-tagged 5 articles with rules rules-2: 5 changed\n"
        "Articles with changed values, by kind:\n"
        "  form                 2\n"
        "  route                1\n"
        "  condition            1\n"
        "  population           1\n"
        "  study_type           2\n"
        "  evidence_level       2\n"
        "  combination_product  1\n"
        "  provenance           2\n"
        "  design_confidence    1\n"
        "  design_explanation   1\n"
        "  sample_size          1\n"
        "  dose_mg_per_day      1\n"
        "  duration_weeks       1\n"
        "  comparator           1\n"
        "  reported_result      2\n"
        "  findings             2\n"
        "Changes:\n"
        "  99000301  rules rules-1 -> rules-2\n"
        "  99000302  forms oxide -> oxide,citrate; study type cohort -> "
        "randomized_controlled_trial; evidence level 3 -> 2; rules rules-1 -> rules-2\n"
        "  99000303  reported result no_difference -> mixed; findings detail changed; "
        "rules rules-1 -> rules-2\n"
        "  99000304  forms - -> glycinate; routes - -> oral; conditions - -> migraine; "
        "population - -> adults; study type - -> randomized_controlled_trial; "
        "evidence level - -> 2; combination product - -> False; provenance +6 -0; "
        "rules - -> rules-2\n"
        "  99000305  provenance +2 -0; design confidence - -> 0.9; design explanation - -> "
        "\u201ccues: randomised (abstract), placebo (abstract). path: randomised allocation "
        "stated -> randomized_controlled_trial (confidence 0.90)\u201d; sample size - -> 120; "
        "dose mg/day - -> 500.0; duration weeks - -> 12.0; comparator - -> placebo; "
        "reported result - -> no_difference; findings extracted; rules rules-1 -> rules-2\n"
    )
    records = {r["pmid"]: r for r in json.loads(run(db_url, "export").stdout)}
    assert records[OXI] == article_record(corpus()[1][0], fake_tagger(corpus()[1][0]))
    # The new findings and design are stored, and what query filters by follows them.
    assert records[RETRACTED] == article_record(
        corpus()[4][0], fake_tagger(corpus()[4][0]), retracted=True
    )
    assert pmids_of(run(db_url, "query", "--result", "mixed")) == [CIT]
    assert pmids_of(run(db_url, "query", "--comparator", "placebo")) == [GLY, RETRACTED]
    assert pmids_of(run(db_url, "query", "--form", "citrate", "--sort", "pmid")) == [OXI, CIT]
    again = run(db_url, "retag", "--format", "json")
    assert json.loads(again.stdout)["updated"] == 0


# ---- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", library_commands.COMMANDS, ids=lambda c: str(c.name))
def test_every_command_has_help_with_examples(command: Any) -> None:
    result = CliRunner().invoke(cli, [str(command.name), "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert f"aggregator {command.name}" in result.stdout.split("Examples:")[1]
    assert "--db URL|PATH" in result.stdout
