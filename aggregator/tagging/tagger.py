"""Runs every vocabulary's rules over one article and assembles :class:`ArticleTags`."""

from __future__ import annotations

from aggregator.article import Article
from aggregator.tagging.combination import find_combination
from aggregator.tagging.conditions import find_conditions
from aggregator.tagging.forms import find_forms, merge_indexed_forms
from aggregator.tagging.population import find_population
from aggregator.tagging.routes import find_routes
from aggregator.tagging.study_design import choose_study_type, design_hits
from aggregator.tagging.text import article_sentences
from aggregator.vocab import EVIDENCE_LEVEL, ArticleTags, Tag

RULES_VERSION = "2025.1"

# Designs whose forms are "every salt covered", not "the salt this study gave".
# Letters and editorials discuss rather than give a salt, so they count alike.
REVIEW_TYPES = frozenset(
    {"meta_analysis", "systematic_review", "narrative_review", "guideline", "editorial_or_letter"}
)


def tag_article(article: Article) -> ArticleTags:
    """Tag one article from its indexing (publication types, MeSH) and its title/abstract."""
    sentences = article_sentences(article)
    hits = design_hits(sentences, article.publication_types, article.mesh_terms)
    study_type, study_tag = choose_study_type(hits)
    is_review = study_type in REVIEW_TYPES

    combination = find_combination(sentences, is_review=is_review)
    form_result = find_forms(
        sentences, is_review=is_review, combination_product=combination is not None
    )
    form_result = merge_indexed_forms(form_result, article)
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
    return ArticleTags(
        forms=form_result.forms,
        routes=tuple(tag.value for tag in route_tags),
        conditions=tuple(tag.value for tag in condition_tags),
        study_type=study_type,
        evidence_level=level,
        combination_product=combination is not None,
        population=tuple(tag.value for tag in population_tags),
        tags=tuple(tags),
        rules_version=RULES_VERSION,
    )
