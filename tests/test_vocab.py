"""The one order tag values are stored, shown and counted in."""

from __future__ import annotations

from aggregator.vocab import (
    EVIDENCE_CLASSES,
    EVIDENCE_LEVEL,
    STUDY_TYPE_LABELS,
    STUDY_TYPES,
    TAG_KINDS,
    ArticleTags,
    in_vocabulary_order,
)


def test_values_come_distinct_in_vocabulary_order_unknown_ones_last() -> None:
    values = ["dietary", "zz-invented", "oxide", "glycinate", "oxide", "aa-invented"]
    assert in_vocabulary_order("form", values) == (
        "glycinate",
        "oxide",
        "dietary",
        "aa-invented",
        "zz-invented",
    )
    assert in_vocabulary_order("condition", ["other", "migraine"]) == ("migraine", "other")
    assert in_vocabulary_order("form", []) == ()


def test_notice_and_unclear_are_study_types_without_a_level() -> None:
    assert STUDY_TYPES[-2:] == ("notice", "unclear")
    assert EVIDENCE_LEVEL["notice"] is None and EVIDENCE_LEVEL["unclear"] is None
    assert set(STUDY_TYPE_LABELS) == set(STUDY_TYPES) == set(EVIDENCE_LEVEL)
    assert EVIDENCE_CLASSES == (
        "direct",
        "indirect",
        "planned",
        "commentary",
        "preclinical",
        "notice",
    )
    assert "design_cue" in TAG_KINDS


def test_article_tags_built_the_old_way_still_work() -> None:
    tags = ArticleTags((), (), (), "other", 5, False, (), (), "old")
    assert tags.evidence_class == "" and tags.design.study_type == ""
