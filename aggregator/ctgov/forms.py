"""Magnesium form of a registered trial, by the same rules as articles.

The registry has no structured "salt" field, and glycinate mostly appears in free text: an
intervention named "Magnesium" whose description says "as bisglycinate", other names such as
"Mg glycinate", or an arm description. This adapter puts those texts into an
:class:`aggregator.article.Article` (one abstract section per text, so sentences never run
together) and runs the article tagger, :func:`aggregator.tagging.tag_article`, keeping only
the form tags. The tagger's rules therefore apply unchanged: a salt counts only when it is
attached to magnesium, so ferrous or zinc bisglycinate never make a trial "glycinate", and
magnesium stearate (a tablet excipient) or valproate is no form. One difference from
articles: a magnesium *level* named in an intervention text ("serum magnesium measured") is
not something given, so the tagger's "dietary" form counts here only for diet or intake
wording ("magnesium-rich diet"), not for a measured status.

Texts used, in this order (``source`` of each tag): intervention names, intervention other
names, intervention descriptions, arm group labels, arm group descriptions. Titles,
conditions and summaries are not used: they say what is studied, not what is given.

Kept in its own module so another tagger can replace it without touching the parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.article import AbstractSection, Article
from aggregator.ctgov.studies import Trial
from aggregator.tagging import tag_article
from aggregator.tagging.forms import DIETARY_INTAKE
from aggregator.tagging.text import collapse

SOURCES = (
    "intervention_name",
    "intervention_other_name",
    "intervention_description",
    "arm_label",
    "arm_description",
)


@dataclass(frozen=True, slots=True)
class TrialFormTag:
    """One magnesium form of a trial, with the registry text that justified it."""

    form: str  # a value of aggregator.vocab.FORMS ("glycinate", "oxide", "unspecified", ...)
    source: str  # one of SOURCES: which registry text the snippet comes from
    snippet: str  # the tagger's snippet of that text


def trial_texts(trial: Trial) -> list[tuple[str, str]]:
    """(source, text) pairs the forms are read from, whitespace collapsed, empty ones left out."""
    pieces: list[tuple[str, str]] = []
    for intervention in trial.interventions:
        pieces.append(("intervention_name", intervention.name))
    for intervention in trial.interventions:
        pieces.extend(("intervention_other_name", name) for name in intervention.other_names)
    for intervention in trial.interventions:
        if intervention.description:
            pieces.append(("intervention_description", intervention.description))
    for arm in trial.arm_groups:
        pieces.append(("arm_label", arm.label))
    for arm in trial.arm_groups:
        if arm.description:
            pieces.append(("arm_description", arm.description))
    return [(source, text) for source, raw in pieces if (text := collapse(raw))]


def intervention_forms(trial: Trial) -> tuple[TrialFormTag, ...]:
    """Magnesium forms given in the trial, in vocabulary order, each with its provenance."""
    pieces = trial_texts(trial)
    if not pieces:
        return ()
    article = Article(
        pmid=int(trial.nct_id[3:]),  # the tagger never reads it; NCT digits aid debugging
        title="",
        abstract_sections=tuple(AbstractSection(text=text) for _, text in pieces),
        source_format="ctgov",
    )
    tags = tag_article(article, findings=False)
    result: list[TrialFormTag] = []
    for tag in tags.tags:
        if tag.kind != "form":
            continue
        if tag.value == "dietary" and DIETARY_INTAKE.search(tag.snippet) is None:
            continue  # a measured magnesium level, not a diet given
        source = next((src for src, text in pieces if tag.snippet in text), pieces[0][0])
        result.append(TrialFormTag(tag.value, source, tag.snippet))
    return tuple(result)


def trial_forms(trial: Trial) -> tuple[str, ...]:
    """Just the form values of :func:`intervention_forms`."""
    return tuple(tag.form for tag in intervention_forms(trial))
