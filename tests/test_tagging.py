"""Tagger tests: every label of every synthetic labelled record, provenance, determinism."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from aggregator.article import AbstractSection, Article, Chemical, MeshHeading
from aggregator.tagging import RULES_VERSION, tag_article
from aggregator.tagging.forms import FORM_ORDER
from aggregator.tagging.routes import _ORAL_SALTS
from aggregator.tagging.text import SNIPPET_MAX, collapse
from aggregator.vocab import (
    CONDITIONS,
    EVIDENCE_CLASSES,
    EVIDENCE_LEVEL,
    FORMS,
    ORAL_FORMS,
    POPULATIONS,
    PROVENANCE_FIELDS,
    ROUTES,
    SALT_FORMS,
    STUDY_TYPES,
    TAG_KINDS,
    ArticleTags,
)

FIXTURE = Path(__file__).parent / "fixtures" / "tagging" / "labelled.jsonl"
RECORDS: list[dict[str, Any]] = [
    json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()
]


def to_article(record: dict[str, Any]) -> Article:
    return Article(
        pmid=int(record["pmid"]),
        title=record["title"],
        abstract=record["abstract"],
        abstract_sections=tuple(
            AbstractSection(text=s["text"], label=s["label"], category=s["category"])
            for s in record.get("abstract_sections", ())
        ),
        publication_types=tuple(record.get("publication_types", ())),
        mesh_headings=tuple(MeshHeading(d) for d in record.get("mesh", ())),
        chemicals=tuple(Chemical(c) for c in record.get("chemicals", ())),
        keywords=tuple(record.get("keywords", ())),
    )


def in_order(values: list[str], vocabulary: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(values, key=vocabulary.index))


def labels_of(tags: ArticleTags) -> dict[str, Any]:
    return {
        "forms": tags.forms,
        "routes": tags.routes,
        "conditions": tags.conditions,
        "study_type": tags.study_type,
        "evidence_level": tags.evidence_level,
        "combination_product": tags.combination_product,
        "population": tags.population,
        "rules_version": tags.rules_version,
    }


def expected_labels(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "forms": in_order(record["forms"], FORMS),
        "routes": in_order(record["routes"], ROUTES),
        "conditions": in_order(record["conditions"], CONDITIONS),
        "study_type": record["study_type"],
        "evidence_level": record["evidence_level"],
        "combination_product": record["combination_product"],
        "population": in_order(record["populations"], POPULATIONS),
        "rules_version": RULES_VERSION,
    }


# --- the labelled set itself ---------------------------------------------------------------


def test_fixture_is_large_synthetic_and_uses_the_vocabularies() -> None:
    pmids = [int(r["pmid"]) for r in RECORDS]
    assert len(RECORDS) >= 120
    assert len(set(pmids)) == len(pmids)
    assert min(pmids) >= 99000000
    assert all(r["synthetic"] is True for r in RECORDS)
    for record in RECORDS:
        assert set(record["forms"]) <= set(FORMS), record["pmid"]
        assert set(record["routes"]) <= set(ROUTES), record["pmid"]
        assert set(record["conditions"]) <= set(CONDITIONS), record["pmid"]
        assert set(record["populations"]) <= set(POPULATIONS), record["pmid"]
        assert record["study_type"] in STUDY_TYPES, record["pmid"]
        assert record["study_type"] in record["study_type_ok"], record["pmid"]
        assert record["evidence_level"] == EVIDENCE_LEVEL[record["study_type"]], record["pmid"]


def test_fixture_covers_every_vocabulary_value_and_the_hard_cases() -> None:
    assert {f for r in RECORDS for f in r["forms"]} == set(FORMS)
    assert {v for r in RECORDS for v in r["routes"]} == set(ROUTES)
    assert {v for r in RECORDS for v in r["conditions"]} == set(CONDITIONS)
    assert {v for r in RECORDS for v in r["populations"]} == set(POPULATIONS)
    assert {r["study_type"] for r in RECORDS} == set(STUDY_TYPES)
    assert {r["combination_product"] for r in RECORDS} == {True, False}
    unindexed = [r for r in RECORDS if not r.get("publication_types") and not r.get("mesh")]
    assert len(unindexed) > len(RECORDS) * 0.8
    assert any(r.get("abstract_sections") for r in RECORDS)
    assert any("valproate" in r["abstract"].lower() and not r["forms"] for r in RECORDS)


# --- every label of every record ---------------------------------------------------------


@pytest.mark.parametrize("record", RECORDS, ids=[r["pmid"] for r in RECORDS])
def test_every_label_of_every_record(record: dict[str, Any]) -> None:
    assert labels_of(tag_article(to_article(record))) == expected_labels(record)


# --- provenance ----------------------------------------------------------------------------


def _sources(article: Article) -> dict[str, list[str]]:
    return {
        "title": [collapse(article.title)],
        "abstract": [collapse(article.abstract)]
        + [collapse(s.text) for s in article.abstract_sections],
        "publication_type": list(article.publication_types),
        "mesh": list(article.mesh_terms),
        "substance": [c.name for c in article.chemicals],
        "keyword": list(article.keywords),
    }


@pytest.mark.parametrize("record", RECORDS, ids=[r["pmid"] for r in RECORDS])
def test_every_value_has_provenance_found_in_its_field(record: dict[str, Any]) -> None:
    article = to_article(record)
    tags = tag_article(article)
    sources = _sources(article)
    for tag in tags.tags:
        assert tag.kind in TAG_KINDS
        assert tag.field in PROVENANCE_FIELDS
        assert 0 < len(tag.snippet) <= SNIPPET_MAX
        if tag.field != "derived":
            assert any(tag.snippet in text for text in sources[tag.field]), tag
    tagged = {(t.kind, t.value) for t in tags.tags if t.kind != "design_cue"}
    cues = tuple(t for t in tags.tags if t.kind == "design_cue")
    assert cues == tags.design.cues
    expected = {
        *(("form", v) for v in tags.forms),
        *(("route", v) for v in tags.routes),
        *(("condition", v) for v in tags.conditions),
        *(("population", v) for v in tags.population),
        ("study_type", tags.study_type),
    }
    if tags.evidence_level is not None:
        expected.add(("evidence_level", str(tags.evidence_level)))
    if tags.combination_product:
        expected.add(("combination_product", "true"))
    assert tagged == expected


def _record(pmid: int) -> dict[str, Any]:
    return next(r for r in RECORDS if int(r["pmid"]) == pmid)


def _tag(tags: ArticleTags, kind: str, value: str) -> tuple[str, str]:
    found = [t for t in tags.tags if t.kind == kind and t.value == value]
    assert len(found) == 1
    return found[0].field, found[0].snippet


def test_provenance_points_at_the_matching_words() -> None:
    tags = tag_article(to_article(_record(99000001)))  # glycinate RCT, unindexed
    field, text = _tag(tags, "form", "glycinate")
    assert field == "title" and "Magnesium glycinate" in text
    field, text = _tag(tags, "study_type", "randomized_controlled_trial")
    assert field == "title" and "randomized" in text
    assert _tag(tags, "evidence_level", "2") == (
        "derived",
        "randomized_controlled_trial -> level 2",
    )
    field, text = _tag(tags, "population", "adults")
    assert field == "abstract" and "Adults aged 18 to 60" in text


def test_provenance_from_indexing_fields() -> None:
    thin = tag_article(to_article(_record(99000023)))  # indexed RCT with a thin abstract
    assert _tag(thin, "study_type", "randomized_controlled_trial") == (
        "publication_type",
        "Randomized Controlled Trial",
    )
    substance = tag_article(to_article(_record(99000024)))  # salt only in the substances
    assert _tag(substance, "form", "oxide") == ("substance", "Magnesium Oxide")
    assert _tag(substance, "route", "oral") == ("derived", "oral salt given: oxide")
    keyword = tag_article(to_article(_record(99000128)))  # salt only in author keywords
    assert _tag(keyword, "form", "glycinate") == ("keyword", "magnesium bisglycinate")


def test_background_salt_is_not_the_trials_form_but_reviews_count_every_salt() -> None:
    trial = tag_article(to_article(_record(99000006)))  # "Unlike magnesium glycinate, ..."
    assert trial.forms == ("oxide",)
    review = tag_article(to_article(_record(99000078)))  # narrative review of salts
    assert review.forms == ("glycinate", "oxide", "citrate", "sulfate")


def test_snippets_are_short_even_for_long_sentences() -> None:
    long_sentence = (
        "In this multicentre study conducted across many regions over a long period with a great "
        "deal of careful follow-up and a very long list of secondary outcomes, adults with migraine"
        " were randomized to magnesium glycinate 400 mg daily or placebo, and many other details "
        "that make the sentence far longer than any snippet may be were also recorded carefully."
    )
    article = Article(pmid=99999990, title="A trial", abstract=long_sentence)
    field, text = _tag(tag_article(article), "form", "glycinate")
    assert field == "abstract"
    assert len(text) <= SNIPPET_MAX and "magnesium glycinate" in text and text in long_sentence


# --- determinism and edge cases --------------------------------------------------------------


def test_tagging_is_deterministic_and_order_independent() -> None:
    articles = [to_article(r) for r in RECORDS]
    first = [tag_article(a) for a in articles]
    second = [tag_article(a) for a in reversed(articles)][::-1]
    assert first == second
    assert all(t.rules_version == RULES_VERSION for t in first)


def test_empty_article_is_unclear_and_gets_no_tags_beyond_the_defaults() -> None:
    tags = tag_article(Article(pmid=99999991, title=""))
    assert labels_of(tags) == {
        "forms": (),
        "routes": (),
        "conditions": ("other",),
        "study_type": "unclear",
        "evidence_level": None,
        "combination_product": False,
        "population": (),
        "rules_version": RULES_VERSION,
    }


# --- design decisions, evidence classes, notices ------------------------------------------------


@pytest.mark.parametrize(
    "record", [r for r in RECORDS if "evidence_class" in r], ids=lambda r: r["pmid"]
)
def test_evidence_class(record: dict[str, Any]) -> None:
    tags = tag_article(to_article(record))
    assert tags.evidence_class == record["evidence_class"]
    assert tags.evidence_class in EVIDENCE_CLASSES


@pytest.mark.parametrize("record", RECORDS, ids=[r["pmid"] for r in RECORDS])
def test_every_decision_is_explained(record: dict[str, Any]) -> None:
    tags = tag_article(to_article(record))
    design = tags.design
    assert design.study_type == tags.study_type
    assert 0.0 <= design.confidence <= 1.0
    assert (design.confidence == 0.0) == (tags.study_type == "unclear")
    assert design.explanation.startswith("cues: ")
    assert f"-> {tags.study_type} (confidence {design.confidence:.2f})" in design.explanation
    for cue in design.cues:
        assert cue.kind == "design_cue" and f"{cue.value} ({cue.field})" in design.explanation
    assert tags.evidence_class in EVIDENCE_CLASSES


def test_failure_kinds_of_issue_12_each_have_a_synthetic_case() -> None:
    """Every kind of failure seen on real abstracts has a fresh synthetic record."""
    notes = " ".join(r.get("note", "") for r in RECORDS)
    for words in (
        "never a case report",
        "future tense",
        "withdrawn trial",
        "other than rats and mice",
        "book chapter",
        "expert-opinion",
        "comparing guidelines",
        "searching registers",
        "literature review attached",
        "without randomisation",
        "allocation by site",
        "double-blind crossover",
        "healthy controls",
        "one-time measurement",
        "national survey",
        "away from the word magnesium",
        "'given as'",
        "organic and inorganic",
        "trade name",
        "not dietary",
        "cell bath",
        "retraction notice",
        "publication type decides, the text cue does not override",
    ):
        assert words in notes, words


def test_notices_are_not_studies() -> None:
    notice = tag_article(
        Article(
            pmid=99999980,
            title="Retraction note: Oral magnesium glycinate in chronic migraine",
            abstract="The editors have retracted this article because the data are unreliable.",
        )
    )
    assert notice.study_type == "notice" and notice.evidence_level is None
    assert notice.forms == () and notice.routes == () and notice.conditions == ()
    assert notice.evidence_class == "notice"
    indexed = tag_article(
        Article(pmid=99999981, title="Magnesium", publication_types=("Expression of Concern",))
    )
    assert indexed.study_type == "notice"


def test_indexing_arrives_and_the_type_is_re_decided() -> None:
    text_only = Article(
        pmid=99999982,
        title="Magnesium citrate in migraine",
        abstract="Adults with migraine took magnesium citrate daily for 12 weeks in an open study.",
    )
    indexed = dataclasses.replace(
        text_only, publication_types=("Randomized Controlled Trial", "Journal Article")
    )
    assert tag_article(text_only).study_type == "single_arm_trial"
    decided = tag_article(indexed)
    assert decided.study_type == "randomized_controlled_trial"
    assert decided.design.confidence == 0.95
    assert _tag(decided, "study_type", "randomized_controlled_trial") == (
        "publication_type",
        "Randomized Controlled Trial",
    )


def test_conflicting_or_missing_cues_say_unclear() -> None:
    tags = tag_article(
        Article(pmid=99999983, title="Magnesium in headache", abstract="Headache is common.")
    )
    assert tags.study_type == "unclear"
    assert "no design cue decides" in tags.design.explanation


def test_tagging_twice_gives_equal_tags_including_the_decision() -> None:
    for record in RECORDS:
        article = to_article(record)
        assert tag_article(article) == tag_article(article)


def test_one_form_order_comes_from_the_vocabulary() -> None:
    assert tuple(FORM_ORDER) == FORMS
    assert frozenset(ORAL_FORMS) == _ORAL_SALTS
    assert set(ORAL_FORMS) < set(SALT_FORMS) < set(FORMS)
