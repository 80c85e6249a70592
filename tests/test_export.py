"""Output formats: the JSON record, CSV, table, RIS (read back with rispy) and BibTeX (read
back with bibtexparser v2), and atomic file writing. All articles are synthetic."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import bibtexparser
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware

from aggregator.article import Author
from aggregator.atomic import atomic_text_file
from aggregator.export import (
    CSV_COLUMNS,
    article_record,
    bibtex_escape,
    truncate,
    write_records,
    write_stream,
)
from tests.plugins.databases import (
    make_article,
    make_design,
    make_findings,
    make_tags,
    make_tags_with_findings,
)

TRICKY_TITLE = "Mg & Zn {braces} 50% $x$ #1 under_score ~tilde ^hat back\\slash: Müller–Łódź"


def glycinate_record() -> dict[str, Any]:
    return article_record(make_article(99000012), make_tags())


EXPECTED_RECORD = {
    "pmid": 99000012,
    "title": "Synthetic trial of magnesium glycinate for migraine prophylaxis",
    "year": 2025,
    "journal": "Journal of Synthetic Headache Studies",
    "doi": "10.0000/synthetic.99000012",
    "publication_types": ["Journal Article", "Randomized Controlled Trial"],
    "forms": ["glycinate"],
    "routes": ["oral"],
    "conditions": ["migraine"],
    "study_type": "randomized_controlled_trial",
    "evidence_level": 2,
    "combination_product": False,
    "population": ["adults"],
    "retracted": False,
    "tags": [
        {"kind": "form", "value": "glycinate", "field": "title", "snippet": "magnesium glycinate"},
        {
            "kind": "form",
            "value": "glycinate",
            "field": "keyword",
            "snippet": "magnesium glycinate",
        },
        {"kind": "route", "value": "oral", "field": "abstract", "snippet": "oral"},
        {
            "kind": "condition",
            "value": "migraine",
            "field": "mesh",
            "snippet": "Migraine Disorders",
        },
        {
            "kind": "study_type",
            "value": "randomized_controlled_trial",
            "field": "publication_type",
            "snippet": "Randomized Controlled Trial",
        },
        {"kind": "population", "value": "adults", "field": "abstract", "snippet": "adults"},
    ],
    # Added by issue 18 (keys are only ever added, at the end).
    "evidence_class": None,
    "authors": ["Example A", "Synthetic Migraine Study Group"],
    "abstract": "BACKGROUND: Invented background.\n\nRESULTS: Invented results, 5% \u2265 4.",
    # Added by issues 12 and 13: null for tags with no design decision and no findings.
    "design_confidence": None,
    "design_explanation": None,
    "sample_size": None,
    "dose_mg_per_day": None,
    "duration_weeks": None,
    "comparator": None,
    "reported_result": None,
    "reported_result_text": None,
    "findings": None,
}


def test_article_record_is_the_documented_object() -> None:
    assert glycinate_record() == EXPECTED_RECORD


def test_article_record_of_untagged_retracted_article() -> None:
    article = make_article(99000013, publication_types=("Journal Article",))
    assert article_record(article, None, retracted=True) == {
        **EXPECTED_RECORD,
        "pmid": 99000013,
        "doi": "10.0000/synthetic.99000013",
        "publication_types": ["Journal Article"],
        "forms": [],
        "routes": [],
        "conditions": [],
        "study_type": None,
        "evidence_level": None,
        "combination_product": None,
        "population": [],
        "retracted": True,
        "tags": [],
    }


FINDINGS_SENTENCE = (
    "120 adults were randomized to magnesium glycinate 250 mg twice daily or placebo for 12 weeks."
)
EXPECTED_FINDINGS = {
    "scope": "study",
    "sample_size": 120,
    "sample_size_kind": "randomised",
    "arms": 2,
    "studies_included": None,
    "dose_mg_per_day": 500.0,
    "dose": {
        "amount": 250.0,
        "unit": "mg",
        "per": "dose",
        "times_per_day": 2,
        "basis": None,
        "salt": "glycinate",
        "text": "magnesium glycinate 250 mg twice daily",
    },
    "elemental_mg_per_day": None,
    "elemental_factor": None,
    "duration_weeks": 12.0,
    "outcome_timepoint": None,
    "comparator": "placebo",
    "comparator_detail": "placebo",
    "reported_result": "no_difference",
    "provenance": [
        {
            "field": "sample_size",
            "value": "120",
            "source_field": "abstract",
            "snippet": FINDINGS_SENTENCE,
        },
        {
            "field": "dose",
            "value": "magnesium glycinate 250 mg twice daily",
            "source_field": "abstract",
            "snippet": FINDINGS_SENTENCE,
        },
        {
            "field": "dose_mg_per_day",
            "value": "500",
            "source_field": "derived",
            "snippet": "250 mg x 2 a day = 500 mg",
        },
        {
            "field": "duration_weeks",
            "value": "12",
            "source_field": "abstract",
            "snippet": FINDINGS_SENTENCE,
        },
        {
            "field": "comparator",
            "value": "placebo",
            "source_field": "abstract",
            "snippet": FINDINGS_SENTENCE,
        },
        {
            "field": "reported_result",
            "value": "no_difference",
            "source_field": "abstract",
            "snippet": "Migraine days did not differ between the groups.",
        },
    ],
}
DESIGN_CUE_TAGS = [
    {
        "kind": "design_cue",
        "value": "randomised",
        "field": "abstract",
        "snippet": "were randomized",
    },
    {"kind": "design_cue", "value": "placebo", "field": "abstract", "snippet": "or placebo"},
]


def test_record_with_design_and_findings_is_the_documented_object() -> None:
    """Issues 12 and 13: the design decision's confidence and explanation (its cues are tags
    of kind design_cue), the five findings values and the whole findings object with its
    provenance, added after every earlier key."""
    record = article_record(make_article(99000012), make_tags_with_findings())
    assert record == {
        **EXPECTED_RECORD,
        "tags": [*EXPECTED_RECORD["tags"], *DESIGN_CUE_TAGS],
        "design_confidence": 0.9,
        "design_explanation": "cues: randomised (abstract), placebo (abstract). path: "
        "randomised allocation stated -> randomized_controlled_trial (confidence 0.90)",
        "sample_size": 120,
        "dose_mg_per_day": 500.0,
        "duration_weeks": 12.0,
        "comparator": "placebo",
        "reported_result": "no_difference",
        "reported_result_text": "authors report no difference",
        "findings": EXPECTED_FINDINGS,
    }
    assert list(record) == list(EXPECTED_RECORD)  # new keys only ever at the end
    # An observational design reports an association, in words.
    cohort = article_record(
        make_article(99000012),
        make_tags_with_findings(study_type="cohort", evidence_level=3),
    )
    assert cohort["reported_result_text"] == "authors report no association"


def test_findings_not_stated_are_null_never_inferred() -> None:
    """A study whose abstract states only its size: every other value is null."""
    findings = make_findings(
        dose_mg_per_day=None,
        dose=None,
        duration_weeks=None,
        comparator=None,
        comparator_detail=None,
        reported_result=None,
        arms=None,
        provenance=make_findings().provenance[:1],
    )
    record = article_record(make_article(99000012), make_tags_with_findings(findings=findings))
    assert {key: record[key] for key in ("sample_size", "dose_mg_per_day", "duration_weeks")} == {
        "sample_size": 120,
        "dose_mg_per_day": None,
        "duration_weeks": None,
    }
    assert (record["comparator"], record["reported_result"]) == (None, None)
    assert record["findings"]["dose"] is None
    assert [p["field"] for p in record["findings"]["provenance"]] == ["sample_size"]


def test_csv_carries_the_design_and_findings_values() -> None:
    out = io.StringIO()
    tags = make_tags_with_findings(
        design=make_design(
            cues=(),
            explanation='=HYPERLINK("http://example.invalid") -> randomized',
        )
    )
    write_records([article_record(make_article(99000012), tags)], "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert "findings" not in rows[0] and "tags" not in rows[0]
    assert {key: rows[0][key] for key in CSV_COLUMNS[-8:]} == {
        "design_confidence": "0.9",
        "design_explanation": '\'=HYPERLINK("http://example.invalid") -> randomized',
        "sample_size": "120",
        "dose_mg_per_day": "500.0",
        "duration_weeks": "12.0",
        "comparator": "placebo",
        "reported_result": "no_difference",
        "reported_result_text": "authors report no difference",
    }


def test_table_shows_the_sample_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    write_records([article_record(make_article(99000012), make_tags_with_findings())], "table", out)
    assert out.getvalue().splitlines() == [
        "PMID      YEAR  STUDY TYPE  LEVEL  N    FORMS      TITLE",
        "99000012  2025  RCT         2      120  glycinate  Synthetic trial of magnesium…",
    ]


def test_retracted_defaults_to_what_the_record_says() -> None:
    article = make_article(99000014, publication_types=("Retracted Publication",))
    assert article_record(article, None)["retracted"] is True
    assert article_record(make_article(99000015), None)["retracted"] is False


def test_json_is_an_array_of_records_and_streaming_gives_the_same_bytes() -> None:
    records = [glycinate_record(), article_record(make_article(99000020), None)]
    whole = io.StringIO()
    write_records(records, "json", whole)
    assert json.loads(whole.getvalue()) == records
    streamed = io.StringIO()
    assert write_stream(((r, None) for r in records), "json", streamed) == 2
    assert streamed.getvalue() == whole.getvalue()
    empty = io.StringIO()
    write_stream(iter(()), "json", empty)
    assert json.loads(empty.getvalue()) == []


def test_csv_has_one_row_per_article_with_lists_joined() -> None:
    out = io.StringIO()
    record = article_record(
        make_article(99000021, title=TRICKY_TITLE),
        make_tags(forms=("glycinate", "oxide"), population=("adults", "children")),
    )
    write_records([record], "csv", out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows == [
        {
            "pmid": "99000021",
            "title": TRICKY_TITLE,
            "year": "2025",
            "journal": "Journal of Synthetic Headache Studies",
            "doi": "10.0000/synthetic.99000021",
            "publication_types": "Journal Article; Randomized Controlled Trial",
            "forms": "glycinate; oxide",
            "routes": "oral",
            "conditions": "migraine",
            "study_type": "randomized_controlled_trial",
            "evidence_level": "2",
            "combination_product": "no",
            "population": "adults; children",
            "retracted": "no",
            "evidence_class": "",
            "authors": "Example A; Synthetic Migraine Study Group",
            "abstract": (
                "BACKGROUND: Invented background.\n\nRESULTS: Invented results, 5% \u2265 4."
            ),
            "design_confidence": "",
            "design_explanation": "",
            "sample_size": "",
            "dose_mg_per_day": "",
            "duration_weeks": "",
            "comparator": "",
            "reported_result": "",
            "reported_result_text": "",
        }
    ]


def test_table_aligns_columns_and_cuts_titles_to_the_width(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    long_title = "A very long synthetic title about magnesium " * 3
    records = [
        glycinate_record(),
        article_record(
            make_article(99000022, title=long_title, pub_year=None), None, retracted=True
        ),
    ]
    out = io.StringIO()
    write_records(records, "table", out)
    assert out.getvalue().splitlines() == [
        "PMID      YEAR  STUDY TYPE  LEVEL  N  FORMS      TITLE",
        "99000012  2025  RCT         2         glycinate  Synthetic trial of magnesium g…",
        "99000022                                         [RETRACTED] A very long synthe…",
    ]
    assert all(len(line) <= 80 for line in out.getvalue().splitlines())


def test_truncate() -> None:
    assert truncate("abcdef", 6) == "abcdef"
    assert truncate("abcdefg", 6) == "abcde…"


def test_ris_reads_back_with_rispy() -> None:
    article = make_article(
        99000030,
        title=TRICKY_TITLE,
        pages="1021-9",
        authors=(
            Author(last_name="Inventa", fore_name="Beatriz Q", initials="BQ"),
            Author(last_name="Fictus", initials="T"),
            Author(collective_name="Synthetic Migraine Study Group"),
        ),
    )
    record = article_record(article, make_tags(), retracted=True)
    out = io.StringIO()
    write_records(
        [record, glycinate_record()], "ris", out, articles=[article, make_article(99000012)]
    )
    entries = rispy.loads(out.getvalue())
    assert len(entries) == 2
    first = entries[0]
    assert first == {
        "type_of_reference": "JOUR",
        "authors": ["Inventa, Beatriz Q", "Fictus", "Synthetic Migraine Study Group"],
        "title": TRICKY_TITLE,
        "secondary_title": "Journal of Synthetic Headache Studies",
        "alternate_title1": "J Synth Headache Stud",
        "year": "2025",
        "date": "2025/11//",
        "volume": "12",
        "number": "3",
        "start_page": "1021",
        "end_page": "1029",
        "language": "eng",
        "doi": "10.0000/synthetic.99000030",
        "accession_number": "99000030",
        "unknown_tag": {"M2": ["PMID: 99000030"]},  # Zotero reads it into Extra
        "urls": ["https://pubmed.ncbi.nlm.nih.gov/99000030/"],
        "abstract": "BACKGROUND: Invented background. RESULTS: Invented results, 5% \u2265 4.",
        "keywords": [
            "Migraine Disorders",
            "Magnesium",
            "Magnesium form: glycinate",
            "Study type: RCT",
            "Evidence level: 2",
            "Retracted",
        ],
        "notes": ["This article has been retracted."],
        "name_of_database": "PubMed",
        "database_provider": "NLM",
    }
    assert entries[1]["accession_number"] == "99000012"


def test_ris_and_bibtex_need_the_articles() -> None:
    with pytest.raises(ValueError, match="needs the Article"):
        write_records([glycinate_record()], "ris", io.StringIO())
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        write_records([glycinate_record()], "xml", io.StringIO())


def parse_bibtex(text: str) -> Any:
    library = bibtexparser.parse_string(text, append_middleware=[LatexDecodingMiddleware()])
    assert library.failed_blocks == []
    return library


def test_bibtex_reads_back_with_bibtexparser_and_escapes_specials() -> None:
    article = make_article(
        99000040,
        title=TRICKY_TITLE,
        authors=(
            Author(last_name="Müller-Inventa", fore_name="Zoë"),
            Author(collective_name="Synthetic & Co Study Group"),
        ),
        doi="10.0000/syn_thetic{1}",
    )
    record = article_record(article, make_tags(forms=("glycinate", "citrate")))
    out = io.StringIO()
    write_records([record], "bibtex", out, articles=[article])
    text = out.getvalue()
    assert text.startswith("@article{pmid99000040,\n")
    assert r"Mg \& {Zn} \{braces\} 50\% \$x\$ \#1 under\_score" in text  # {Zn}: kept capital
    entries = parse_bibtex(text).entries
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.entry_type, entry.key) == ("article", "pmid99000040")
    fields = {f.key: f.value for f in entry.fields}
    # pylatexenc decodes \textasciicircum{} to the modifier letter; LaTeX prints "^".
    fields["title"] = fields["title"].replace("\u02c6", "^")
    assert fields == {
        "author": "Müller-Inventa, Zoë and Synthetic & Co Study Group",
        "title": TRICKY_TITLE,
        "journal": "Journal of Synthetic Headache Studies",
        "year": "2025",
        "month": "nov",
        "date": "2025-11",
        "volume": "12",
        "number": "3",
        "pages": "101–109",
        "doi": "10.0000/syn_thetic1",
        "language": "eng",
        "pmid": "99000040",
        "url": "https://pubmed.ncbi.nlm.nih.gov/99000040/",
        "abstract": "BACKGROUND: Invented background. RESULTS: Invented results, 5% \u2265 4.",
        "keywords": "Migraine Disorders, Magnesium, Magnesium form: glycinate, "
        "Magnesium form: citrate, Study type: RCT, Evidence level: 2",
    }


def test_bibtex_keys_are_stable_and_unique_per_pmid() -> None:
    articles = [make_article(99000050), make_article(99000051, journal_title=None, doi=None)]
    records = [article_record(a, None) for a in articles]
    out = io.StringIO()
    write_records(records, "bibtex", out, articles=articles)
    entries = parse_bibtex(out.getvalue()).entries
    assert [e.key for e in entries] == ["pmid99000050", "pmid99000051"]
    second = {f.key: f.value for f in entries[1].fields}
    assert second["journal"] == "J Synth Headache Stud"  # falls back to the ISO abbreviation
    assert "doi" not in second
    assert second["keywords"] == "Migraine Disorders, Magnesium"  # MeSH only: not tagged


def test_bibtex_escape_covers_every_latex_special() -> None:
    assert bibtex_escape("\\{}&%$#_~^") == (
        r"\textbackslash{}\{\}\&\%\$\#\_\textasciitilde{}\textasciicircum{}"
    )
    assert bibtex_escape("line one\nline two") == "line one line two"


def test_atomic_file_replaces_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "out" / "export.json"
    with atomic_text_file(target) as handle:
        handle.write("first")
    assert target.read_text() == "first"
    with pytest.raises(RuntimeError), atomic_text_file(target) as handle:
        handle.write("half a fi")
        raise RuntimeError("export failed")
    assert target.read_text() == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["export.json"]
