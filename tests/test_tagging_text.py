"""Unit tests for the tagger's text helpers and a few context rules in isolation."""

from __future__ import annotations

import pytest

from aggregator.article import AbstractSection, Article
from aggregator.tagging import tag_article
from aggregator.tagging.text import (
    Sentence,
    article_sentences,
    is_cited,
    is_negated,
    lower_pattern,
    split_sentences,
)


def test_split_sentences_keeps_abbreviations_together() -> None:
    text = "Patients received 1 g i.v. magnesium vs. placebo, e.g. saline. Pain fell. 2 g was safe."
    assert split_sentences(text) == [
        "Patients received 1 g i.v. magnesium vs. placebo, e.g. saline.",
        "Pain fell.",
        "2 g was safe.",
    ]


def test_unstructured_abstract_labels_become_section_categories() -> None:
    article = Article(
        pmid=99999980,
        title="T",
        abstract="BACKGROUND: Trials exist.\n\nMETHODS: We randomized adults.",
    )
    assert article_sentences(article) == [
        Sentence("title", "T"),
        Sentence("abstract", "Trials exist.", "BACKGROUND"),
        Sentence("abstract", "We randomized adults.", "METHODS"),
    ]


def test_structured_sections_keep_their_nlm_category() -> None:
    article = Article(
        pmid=99999981,
        title="T",
        abstract_sections=(
            AbstractSection("Oxide was used before.", "INTRODUCTION", "BACKGROUND"),
        ),
    )
    assert article_sentences(article)[1] == Sentence(
        "abstract", "Oxide was used before.", "BACKGROUND"
    )


@pytest.mark.parametrize(
    ("text", "word", "cited"),
    [
        ("Unlike magnesium oxide, glycinate is well absorbed.", "magnesium oxide", True),
        ("Unlike magnesium oxide, glycinate is well absorbed.", "glycinate", True),
        ("No study has tested glycinate in migraine.", "glycinate", True),
        ("Previous trials used magnesium oxide.", "magnesium oxide", True),
        ("Randomized trials are needed.", "Randomized", True),
        ("The authors call for a placebo-controlled trial.", "placebo-controlled", True),
        ("We randomized 80 adults to magnesium glycinate.", "magnesium glycinate", False),
        ("In this randomized trial, oxide was given.", "randomized", False),
        ("Adults took magnesium citrate 300 mg daily.", "magnesium citrate", False),
    ],
)
def test_is_cited(text: str, word: str, cited: bool) -> None:
    sentence = Sentence("abstract", text)
    start = text.index(word)
    assert is_cited(sentence, start, start + len(word)) is cited


@pytest.mark.parametrize(
    ("text", "word", "negated"),
    [
        ("Non-pregnant women took magnesium.", "pregnant", True),
        ("Pregnant women and children were excluded.", "children", True),
        ("Pregnant women and children were excluded.", "Pregnant", True),
        ("Pregnant women were enrolled.", "Pregnant", False),
    ],
)
def test_is_negated(text: str, word: str, negated: bool) -> None:
    sentence = Sentence("abstract", text)
    start = text.index(word)
    assert is_negated(sentence, start, start + len(word)) is negated


def test_lower_pattern_keeps_escape_classes() -> None:
    assert lower_pattern(r"\bMgSO4\W\S\D") == r"\bmgso4\W\S\D"


def test_magnesium_valproate_alone_is_not_a_form_but_oxide_next_to_it_is() -> None:
    only_drug = Article(pmid=99999982, title="Magnesium valproate in migraine prophylaxis")
    both = Article(
        pmid=99999983,
        title="Magnesium oxide plus sodium valproate versus magnesium valproate",
    )
    assert tag_article(only_drug).forms == ()
    assert tag_article(both).forms == ("oxide",)


def test_other_metals_and_drugs_do_not_lend_their_salt_to_magnesium() -> None:
    article = Article(
        pmid=99999984,
        title="Ferrous bisglycinate, zinc oxide and caffeine citrate with magnesium sulfate",
    )
    assert tag_article(article).forms == ("sulfate",)


def test_route_adjective_for_another_drug_is_not_magnesiums_route() -> None:
    article = Article(
        pmid=99999985,
        title="Intramuscular magnesium sulfate compared with oral paracetamol for headache",
    )
    assert tag_article(article).routes == ("intramuscular",)


def test_route_after_magnesium_counts_but_another_drugs_route_does_not() -> None:
    article = Article(
        pmid=99999986,
        title="Oral magnesium citrate versus intravenous metoclopramide",
        abstract="Patients received MgSO4 2 g IV over 20 minutes.",
    )
    assert tag_article(article).routes == ("oral", "intravenous")
    only_other = Article(
        pmid=99999987,
        title="Magnesium citrate tablets compared with intravenous metoclopramide",
    )
    assert tag_article(only_other).routes == ("oral",)
