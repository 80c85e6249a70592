"""Runs every vocabulary's rules over one article and assembles :class:`ArticleTags`."""

from __future__ import annotations

import dataclasses

from aggregator.article import Article
from aggregator.tagging.combination import find_combination
from aggregator.tagging.conditions import find_conditions
from aggregator.tagging.findings import extract_findings
from aggregator.tagging.forms import find_forms, merge_indexed_forms, with_combination_form
from aggregator.tagging.population import find_population
from aggregator.tagging.routes import find_routes
from aggregator.tagging.study_design import decide_design
from aggregator.tagging.text import article_sentences
from aggregator.vocab import DIRECT_CONDITIONS, EVIDENCE_LEVEL, ArticleTags, DesignDecision, Tag

RULES_VERSION = "2026.4"

# Designs whose forms are "every salt covered", not "the salt this study gave".
# Letters and editorials discuss rather than give a salt, so they count alike.
REVIEW_TYPES = frozenset(
    {"meta_analysis", "systematic_review", "narrative_review", "guideline", "editorial_or_letter"}
)


def tag_article(article: Article, *, findings: bool = True) -> ArticleTags:
    """Tag one article from its indexing (publication types, MeSH) and its title/abstract,
    and (unless ``findings`` is False) read what it found from the same title and abstract
    (:func:`~aggregator.tagging.findings.extract_findings`) into ``ArticleTags.findings``:
    one pass per article, so findings are re-derived wherever tags are."""
    tags = _tags(article)
    if not findings:
        return tags
    return dataclasses.replace(tags, findings=extract_findings(article, tags))


def _tags(article: Article) -> ArticleTags:
    """The tags of :func:`tag_article`, without findings."""
    sentences = article_sentences(article)
    design, study_tag = decide_design(sentences, article.publication_types, article.mesh_terms)
    study_type = design.study_type
    if study_type == "notice":
        return _notice_tags(design, study_tag)
    is_review = study_type in REVIEW_TYPES

    combination = find_combination(sentences, is_review=is_review)
    form_result = find_forms(
        sentences,
        is_review=is_review,
        combination_product=combination is not None,
        laboratory=study_type == "in_vitro",
        design=study_type,
    )
    form_result = merge_indexed_forms(form_result, article)
    if combination is not None:
        form_result = with_combination_form(form_result, combination)
    route_tags = find_routes(
        sentences,
        form_result.forms,
        is_review=is_review,
        intake_measured=form_result.intake_measured,
        supplement_given=form_result.supplement_given or combination is not None,
    )
    if study_type == "in_vitro":
        route_tags = []  # nothing is administered to a person or animal
    condition_tags = find_conditions(sentences, is_review=is_review)
    population_tags = find_population(sentences, is_review=is_review)

    level = EVIDENCE_LEVEL[study_type]
    tags: list[Tag] = [*form_result.tags, *route_tags, study_tag]
    if level is not None:
        tags.append(Tag("evidence_level", str(level), "derived", f"{study_type} -> level {level}"))
    tags.extend(condition_tags)
    tags.extend(population_tags)
    if combination is not None:
        tags.append(combination)
    tags.extend(design.cues)
    conditions = tuple(tag.value for tag in condition_tags)
    return ArticleTags(
        forms=form_result.forms,
        routes=tuple(tag.value for tag in route_tags),
        conditions=conditions,
        study_type=study_type,
        evidence_level=level,
        combination_product=combination is not None,
        population=tuple(tag.value for tag in population_tags),
        tags=tuple(tags),
        rules_version=RULES_VERSION,
        evidence_class=evidence_class(study_type, conditions),
        design=design,
    )


# Study types and the evidence class they give whatever the outcome.
_CLASS_BY_TYPE: dict[str, str] = {
    "notice": "notice",
    "trial_protocol": "planned",
    "narrative_review": "commentary",
    "guideline": "commentary",
    "editorial_or_letter": "commentary",
    "animal_study": "preclinical",
    "in_vitro": "preclinical",
}


def evidence_class(study_type: str, conditions: tuple[str, ...]) -> str:
    """The digest's evidence class (``vocab.EVIDENCE_CLASSES``): fixed for notices, protocols,
    commentary and laboratory work; otherwise (a study of people, or an unclear design) direct
    when a migraine/headache outcome was found, else indirect."""
    fixed = _CLASS_BY_TYPE.get(study_type)
    if fixed is not None:
        return fixed
    return "direct" if any(c in DIRECT_CONDITIONS for c in conditions) else "indirect"


def _notice_tags(design: DesignDecision, study_tag: Tag) -> ArticleTags:
    """A retraction notice, erratum or expression of concern: no form, route, level or
    condition (it reports no study)."""
    return ArticleTags(
        forms=(),
        routes=(),
        conditions=(),
        study_type="notice",
        evidence_level=None,
        combination_product=False,
        population=(),
        tags=(study_tag, *design.cues),
        rules_version=RULES_VERSION,
        evidence_class="notice",
        design=design,
    )
