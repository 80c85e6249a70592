"""Study type: one design per article, decided the way a systematic reviewer decides it.

The cues (``design_cues.py``: who was studied, was an intervention assigned, how was the
comparison group formed, when were outcomes measured, ...) feed a fixed sequence of questions in
the spirit of the design algorithms reviewers use (Hartling et al. 2010, "Testing a tool for
the classification of study designs in systematic reviews of interventions and exposures"; the
NICE algorithm for classifying quantitative study designs). The first question that can be
answered decides:

0. **Indexing.** A specific NLM publication type (Randomized Controlled Trial, Meta-Analysis,
   Systematic Review, Case Reports, Practice Guideline, Clinical Trial Protocol, Letter,
   Editorial, Comment, Retraction of Publication, Published Erratum, Expression of Concern)
   decides, and no text cue overrides it. Generic types (Review, Clinical Trial, Controlled
   Clinical Trial, Observational Study) and MeSH check tags (Animals, Cross-Over Studies,
   Case-Control Studies, ...) are cues like the wording. Tagging is a pure function of the
   record, so when indexing arrives with a revised record, retagging re-decides the type.
1. **Notice?** A retraction notice, erratum or expression of concern is not a study: ``notice``.
2. **Planned?** A protocol, a registration, a planned or withdrawn trial (future tense, no
   results reported): ``trial_protocol``.
3. **Letter or editorial?** ``editorial_or_letter`` (a single case published as a letter stays
   a case report).
4. **Guideline?** Recommendations issued by a panel: ``guideline`` (a review *comparing*
   guidelines is a review).
5. **Synthesis of other studies?** (a review, an expert opinion or book chapter reviewing the
   literature, a systematic search, pooled results) -- results pooled: ``meta_analysis``;
   sources searched systematically: ``systematic_review``; otherwise ``narrative_review``. A
   "review of the literature" attached to a case or a case-control study does not make it a
   review.
6. **Laboratory?** Cells, tissue or preparations only: ``in_vitro``; animals of any species:
   ``animal_study`` (animal or cell words in a human study are background unless the title says
   so, they recur, or no person is studied).
7. **One patient?** ``case_report``.
8. **Did the investigators assign an intervention?** Randomly: ``randomized_controlled_trial``
   (a blinded or placebo-controlled crossover is taken as randomised); comparison group formed
   otherwise (by site, time, patient choice, alternation, concurrent or historical controls):
   ``nonrandomized_controlled_trial``; no comparison group: ``single_arm_trial``.
9. **Observational.** The design the authors name (case-control, cross-sectional, cohort);
   else patients compared with healthy controls: ``case_control``; followed forward:
   ``cohort``; a series of treated patients or a record review: ``case_series``; one-time
   measurement or survey: ``cross_sectional``.
10. Economic models, product analyses and Mendelian randomisation: ``other``.
11. **Weaker cues** (rules 2026.3), before saying ``unclear``: a short opinion piece with no one
    studied (``editorial_or_letter``); laboratory words seen only once with no one studied; the
    patients the authors report (``case_series``); the abstract's own reviewing words with no
    one studied (``narrative_review``); people studied with results -- followed up: ``cohort``,
    against controls: ``case_control``, else ``cross_sectional``; a laboratory measurement with
    no one studied (``in_vitro``). Only with none of these is the design ``unclear`` -- the
    tagger says so rather than guess.

Every decision keeps the cues it saw (``design_cue`` tags), a confidence (indexing 0.95, the
article naming its own design 0.9, a design inferred from several cues 0.6-0.8, a fallback
0.5) and an explanation listing the cues and the path taken.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.tagging.design_cues import Cue, CueFinder
from aggregator.tagging.text import Sentence
from aggregator.vocab import DesignDecision, Tag

# Specific publication types decide the design; when several are present the first in this
# order wins (a case published as a letter is a case report).
INDEXED_TYPES: dict[str, str] = {
    "retraction of publication": "notice",
    "published erratum": "notice",
    "expression of concern": "notice",
    "clinical trial protocol": "trial_protocol",
    "meta-analysis": "meta_analysis",
    "systematic review": "systematic_review",
    "randomized controlled trial": "randomized_controlled_trial",
    "case reports": "case_report",
    "practice guideline": "guideline",
    "guideline": "guideline",
    "consensus development conference": "guideline",
    "consensus development conference, nih": "guideline",
    "letter": "editorial_or_letter",
    "editorial": "editorial_or_letter",
    "comment": "editorial_or_letter",
}
_INDEXED_ORDER = (
    "notice",
    "trial_protocol",
    "meta_analysis",
    "systematic_review",
    "randomized_controlled_trial",
    "case_report",
    "guideline",
    "editorial_or_letter",
)

# Generic publication types and MeSH terms: cues, weighed with the wording.
INDEX_CUES: dict[str, str] = {
    # publication types
    "review": "review",
    "scientific integrity review": "review",
    "controlled clinical trial": "controlled_trial_indexed",
    "equivalence trial": "randomised",
    "pragmatic clinical trial": "trial",
    "adaptive clinical trial": "trial",
    "clinical trial": "trial",
    "clinical trial, phase i": "trial",
    "clinical trial, phase ii": "trial",
    "clinical trial, phase iii": "trial",
    "clinical trial, phase iv": "trial",
    "observational study": "observational_indexed",
    # MeSH
    "case-control studies": "case_control_label",
    "cross-sectional studies": "cross_sectional_label",
    "cohort studies": "cohort_label",
    "prospective studies": "cohort_label",
    "longitudinal studies": "cohort_label",
    "follow-up studies": "cohort_label",
    "retrospective studies": "retrospective",
    "random allocation": "randomised",
    "double-blind method": "blinded",
    "single-blind method": "blinded",
    "cross-over studies": "crossover",
    "placebos": "placebo",
    "cells, cultured": "cells",
    "in vitro techniques": "cells",
    "animals": "animals",
    "rats": "animals",
    "rats, sprague-dawley": "animals",
    "rats, wistar": "animals",
    "mice": "animals",
    "mice, inbred c57bl": "animals",
    "disease models, animal": "animals",
    "humans": "humans",
}

CONFIDENCE_INDEXED = 0.95
CONFIDENCE_NAMED = 0.9
CONFIDENCE_INFERRED = 0.75
CONFIDENCE_WEAK = 0.6
CONFIDENCE_FALLBACK = 0.5


class _Cues:
    """The cues of one article by name: indexing first, then the wording (found on demand)."""

    __slots__ = ("_finder", "_indexed")

    def __init__(self, finder: CueFinder, indexed: dict[str, Cue]) -> None:
        self._finder = finder
        self._indexed = indexed

    def get(self, name: str) -> Cue | None:
        indexed = self._indexed.get(name)
        return indexed if indexed is not None else self._finder.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def any(self, *names: str) -> bool:
        return any(self.get(name) is not None for name in names)

    def in_text(self, name: str) -> bool:
        """Does the wording (not the indexing) have this cue?"""
        return self._finder.get(name) is not None

    def in_title(self, name: str) -> bool:
        cue = self._finder.get(name)  # indexing is never the title
        return cue is not None and cue.tag.field == "title"

    def prose(self) -> bool:
        """Has the abstract several sentences (a text to judge, not a bare title)?"""
        return self._finder.abstract_sentences() >= 3

    def count(self, name: str) -> int:
        cue = self.get(name)
        return 0 if cue is None else cue.count

    def seen(self) -> dict[str, Cue]:
        """Every cue consulted that the article has (indexing replaces the same text cue)."""
        return {**self._finder.seen(), **self._indexed}


@dataclass(frozen=True, slots=True)
class _Outcome:
    study_type: str
    confidence: float
    path: tuple[str, ...]  # the questions answered, in order
    because: tuple[str, ...]  # the cues that decided (first one gives the provenance)


def decide_design(
    sentences: list[Sentence], publication_types: tuple[str, ...], mesh_terms: tuple[str, ...]
) -> tuple[DesignDecision, Tag]:
    """The study design with its evidence, and the ``study_type`` provenance tag."""
    indexed_cues: dict[str, Cue] = {}
    indexed: list[tuple[str, Tag]] = []
    for publication_type in publication_types:
        key = publication_type.strip().lower()
        if key in INDEXED_TYPES:
            study_type = INDEXED_TYPES[key]
            indexed.append((study_type, Tag("study_type", study_type, "publication_type", key)))
        _add_index_cue(indexed_cues, INDEX_CUES.get(key), "publication_type", publication_type)
    for term in mesh_terms:
        _add_index_cue(indexed_cues, INDEX_CUES.get(term.strip().lower()), "mesh", term)
    cues = _Cues(CueFinder(sentences), indexed_cues)
    outcome = _decide(cues, indexed)
    tag = _provenance(outcome, cues, indexed, publication_types)
    seen = cues.seen()
    cue_tags = tuple(seen[name].tag for name in sorted(seen))
    decision = DesignDecision(
        study_type=outcome.study_type,
        confidence=outcome.confidence,
        cues=cue_tags,
        explanation=_explain(outcome, seen),
    )
    return decision, tag


def _add_index_cue(found: dict[str, Cue], name: str | None, field: str, text: str) -> None:
    if name is None:
        return
    # Indexing is the stronger evidence: it replaces a text occurrence of the same cue.
    previous = found.get(name)
    count = 1 if previous is None else previous.count + 1
    found[name] = Cue(name, Tag("design_cue", name, field, text), count)


def _decide(c: _Cues, indexed: list[tuple[str, Tag]]) -> _Outcome:
    if indexed:
        return _decide_indexed(c, indexed)
    if "notice" in c:
        return _Outcome("notice", CONFIDENCE_NAMED, ("notice",), ("notice",))
    planned = _planned(c)
    if planned is not None:
        return planned
    if "letter" in c and "single_patient" not in c:
        return _Outcome("editorial_or_letter", CONFIDENCE_NAMED, ("letter",), ("letter",))
    synthesis = _synthesis(c)
    if synthesis is not None:
        return synthesis
    laboratory = _laboratory(c)
    if laboratory is not None:
        return laboratory
    return _human_primary(c)


def _decide_indexed(c: _Cues, indexed: list[tuple[str, Tag]]) -> _Outcome:
    types = {study_type for study_type, _ in indexed}
    best = min(types, key=_INDEXED_ORDER.index)
    path = ("indexed publication type",)
    if best == "editorial_or_letter" and "single_patient" in c and "case_series" not in c:
        return _Outcome(
            "case_report",
            CONFIDENCE_INFERRED,
            (*path, "letter about one patient"),
            ("single_patient",),
        )
    if best == "systematic_review" and "pooled" in c:
        return _Outcome("meta_analysis", CONFIDENCE_INDEXED, (*path, "results pooled"), ("pooled",))
    return _Outcome(best, CONFIDENCE_INDEXED, path, ())


def _planned(c: _Cues) -> _Outcome | None:
    """Protocols, registrations, planned and withdrawn trials."""
    if c.in_title("protocol"):
        return _Outcome("trial_protocol", CONFIDENCE_NAMED, ("planned: protocol",), ("protocol",))
    if "withdrawn_trial" in c:
        return _Outcome(
            "trial_protocol", CONFIDENCE_INFERRED, ("planned: withdrawn",), ("withdrawn_trial",)
        )
    future = "future_design" in c
    protocol_named = "protocol" in c and c.any("randomised", "trial", "blinded", "placebo")
    if not (future or protocol_named) or "results" in c:
        return None
    if future:
        because = ("future_design", "protocol") if "protocol" in c else ("future_design",)
        return _Outcome(
            "trial_protocol", CONFIDENCE_INFERRED, ("planned: future tense, no results",), because
        )
    return _Outcome(
        "trial_protocol", CONFIDENCE_WEAK, ("planned: protocol, no results",), ("protocol",)
    )


_PRIMARY_WITH_LITERATURE = (
    "single_patient",
    "case_series",
    "case_control_label",
    # rules 2026.4: a record review or an observational study "with a review of the literature"
    "retrospective",
    "cohort_label",
    "cross_sectional_label",
)
_PRIMARY = ("randomised", "single_patient", "case_series", "case_control_label", "healthy_controls")


def _synthesis(c: _Cues) -> _Outcome | None:
    """Guidelines and reviews of other studies (a bibliometric analysis counts publications
    rather than synthesising them: ``other``)."""
    if "bibliometric" in c and not c.in_title("review") and "pooled" not in c:
        return _Outcome(
            "other",
            CONFIDENCE_INFERRED,
            ("publications counted, not synthesised",),
            ("bibliometric",),
        )
    if "guideline" in c and "guidelines_compared" not in c:
        path = ("guideline: recommendations issued",)
        if not (c.in_title("review") or ("pooled" in c and not c.in_title("guideline"))):
            return _Outcome("guideline", CONFIDENCE_NAMED, path, ("guideline",))
    if "literature_review_attached" in c and c.any(*_PRIMARY_WITH_LITERATURE):
        return None  # "... and review of the literature": the primary study decides
    # The article calls itself a review (title, "this review", "the authors review", a chapter)
    # or compares guidelines: that outweighs the designs of the studies it discusses.
    named = c.any("review", "guidelines_compared", "review_of_reviews")
    # Discussion and opinion wording only make a review when no primary study is reported.
    soft = c.any("discussion", "opinion") and not (
        c.any(*_PRIMARY, *_OBSERVATIONAL_LABELS, "observational", "retrospective")
        or ("assigned_intervention" in c and c.any("placebo", "blinded"))
    )
    systematic = "systematic_search" in c
    # A meta-analysis merely named ("earlier meta-analyses", the topic of a review of reviews) is
    # not pooling: only the article's own pooling counts.
    pooled = "pooled" in c and "review_of_reviews" not in c
    if pooled and not (systematic or named or c.in_title("pooled")) and c.any(*_PRIMARY):
        pooled = False  # a pooled analysis inside a primary study
    if not (named or soft or systematic or pooled):
        return None
    if (
        "own_design_titled" in c
        and any(c.in_title(label) for label in _OBSERVATIONAL_LABELS)
        and not any(c.in_title(name) for name in ("review", "pooled", "systematic_search"))
    ):
        return None  # "...: the SUN cohort" that also reviewed earlier studies is the cohort
    if pooled:
        return _Outcome(
            "meta_analysis", CONFIDENCE_NAMED, ("synthesis", "results pooled"), ("pooled",)
        )
    if systematic:
        return _Outcome(
            "systematic_review",
            CONFIDENCE_NAMED,
            ("synthesis", "sources searched systematically"),
            ("systematic_search",),
        )
    because = tuple(
        name
        for name in ("review", "review_of_reviews", "guidelines_compared", "discussion", "opinion")
        if name in c
    )
    return _Outcome(
        "narrative_review",
        CONFIDENCE_NAMED if named else CONFIDENCE_INFERRED,
        ("synthesis", "no systematic search"),
        because,
    )


def _laboratory(c: _Cues) -> _Outcome | None:
    cells, animals = "cells" in c, "animals" in c
    if not (cells or animals):
        return None
    people = "humans" in c and not (c.in_title("cells") or c.in_title("animals"))
    # Laboratory words in a study of people are background unless they dominate.
    if (
        people
        and c.any("randomised", "single_patient", "case_control_label", "assigned_intervention")
        and c.count("animals") < 3
        and c.count("cells") < 3
    ):
        return None

    def strong(name: str) -> bool:
        return c.in_title(name) or c.count(name) >= 2 or not people

    if cells and strong("cells") and not (animals and c.count("animals") > c.count("cells")):
        return _Outcome(
            "in_vitro", CONFIDENCE_INFERRED, ("laboratory", "cells or tissue"), ("cells",)
        )
    if animals and strong("animals"):
        return _Outcome(
            "animal_study", CONFIDENCE_INFERRED, ("laboratory", "animals"), ("animals",)
        )
    if cells and strong("cells"):
        return _Outcome(
            "in_vitro", CONFIDENCE_INFERRED, ("laboratory", "cells or tissue"), ("cells",)
        )
    return None


# Designs a title can name for a study of people; the title's word decides unless the study
# was randomised.
_TITLE_NAMED: dict[str, str] = {
    "case_series": "case_series",
    "case_control_label": "case_control",
    "cross_sectional_label": "cross_sectional",
    "cohort_label": "cohort",
}


def _human_primary(c: _Cues) -> _Outcome:
    if "randomised" not in c:
        for name, study_type in _TITLE_NAMED.items():
            cue = c.get(name)
            if (
                name == "case_series"
                and cue is not None
                and "series" not in cue.tag.snippet.lower()
            ):
                continue  # "consecutive patients" in a title does not name a case series
            if c.in_title(name):
                if name == "cross_sectional_label" and _followed_up_survey(c):
                    # A survey followed up ("the NHANES I epidemiologic follow-up study"): the
                    # follow-up makes it a cohort (rules 2026.4).
                    name, study_type = "cohort_label", "cohort"
                return _Outcome(
                    study_type, CONFIDENCE_NAMED, ("design named in the title",), (name,)
                )
    if c.in_title("single_patient") or (
        "single_patient" in c
        and not c.any(
            "case_series", "randomised", "trial", *_OBSERVATIONAL_LABELS, "healthy_controls"
        )
    ):
        return _Outcome("case_report", CONFIDENCE_NAMED, ("one patient",), ("single_patient",))
    if "genetic_instruments" in c and "randomised" not in c:
        return _Outcome(
            "other",
            CONFIDENCE_INFERRED,
            ("no participants assigned or observed", "genetic variants as instruments"),
            ("genetic_instruments",),
        )
    trial = _trial(c)
    if trial is not None:
        return trial
    observational = _observational(c)
    if observational is not None:
        return observational
    if "modelling_or_product_analysis" in c:
        return _Outcome(
            "other",
            CONFIDENCE_INFERRED,
            ("no participants assigned or observed", "model or product analysis"),
            ("modelling_or_product_analysis",),
        )
    return _fallback(c)


def _followed_up_survey(c: _Cues) -> bool:
    """Does the title name a survey and its follow-up ("results from the NHANES I epidemiologic
    follow-up study")? Then the people were followed: a cohort (rules 2026.4). A cross-sectional
    analysis "nested in a cohort" stays cross-sectional."""
    cohort = c.get("cohort_label")
    return (
        c.in_title("cross_sectional_label")
        and cohort is not None
        and cohort.tag.field == "title"
        and "follow" in cohort.tag.snippet.lower()
    )


def _fallback(c: _Cues) -> _Outcome:
    """No question of the procedure could be answered: the strongest weaker cue decides, at the
    fall-back confidence, before the tagger says ``unclear``. In order: a short opinion piece;
    laboratory words seen once; patients the authors report; the abstract's reviewing words with
    no one studied; people studied with results (followed up: cohort; against controls:
    case-control; else measured once: cross-sectional); a laboratory measurement with no one
    studied."""
    path = ("no design cue decides", "weaker cues")
    people = "humans" in c
    if c.any("cells", "animals") and not c.in_text("humans"):
        people = False  # indexed "Humans" beside laboratory words names no one studied
    if "opinion" in c and not people:
        return _Outcome(
            "editorial_or_letter", CONFIDENCE_FALLBACK, (*path, "opinion"), ("opinion",)
        )
    if not people and c.any("cells", "animals"):
        name = "in_vitro" if "cells" in c and "animals" not in c else "animal_study"
        cue = "cells" if name == "in_vitro" else "animals"
        return _Outcome(name, CONFIDENCE_FALLBACK, (*path, "laboratory words"), (cue,))
    if "report_own" in c and people and "people_studied" not in c:
        return _Outcome(
            "case_series", CONFIDENCE_FALLBACK, (*path, "patients reported"), ("report_own",)
        )
    if "reviewing_words" in c and not (people and c.any("people_studied", "results")):
        return _Outcome(
            "narrative_review",
            CONFIDENCE_FALLBACK,
            (*path, "the article reviews or discusses"),
            ("reviewing_words",),
        )
    if people and c.any("people_studied", "results"):
        because = tuple(n for n in ("people_studied", "results") if n in c)
        if "cohort_label" in c:
            return _Outcome("cohort", CONFIDENCE_FALLBACK, (*path, "people followed"), because)
        if c.any("healthy_controls", "control_group"):
            return _Outcome(
                "case_control", CONFIDENCE_FALLBACK, (*path, "people against controls"), because
            )
        return _Outcome(
            "cross_sectional", CONFIDENCE_FALLBACK, (*path, "people measured once"), because
        )
    if "laboratory_measure" in c and not people:
        return _Outcome(
            "in_vitro",
            CONFIDENCE_FALLBACK,
            (*path, "laboratory measurement, no one studied"),
            ("laboratory_measure",),
        )
    if "report_own" in c and people:
        return _Outcome(
            "case_series", CONFIDENCE_FALLBACK, (*path, "patients reported"), ("report_own",)
        )
    if c.prose() and not c.any("people_studied", "results", "assigned_intervention"):
        # Several sentences of prose that study no one and report no result: a discussion of
        # the subject (a narrative review that does not call itself one).
        return _Outcome(
            "narrative_review",
            CONFIDENCE_FALLBACK,
            (*path, "prose studying no one, no results"),
            (),
        )
    return _Outcome("unclear", 0.0, ("no design cue decides",), ())


_OBSERVATIONAL_LABELS = ("case_control_label", "cross_sectional_label", "cohort_label")


def _trial(c: _Cues) -> _Outcome | None:
    """Investigators assigned an intervention: how was the comparison group formed?"""
    path = ("intervention assigned",)
    if "randomised" in c:
        return _Outcome(
            "randomized_controlled_trial",
            CONFIDENCE_NAMED,
            (*path, "random allocation"),
            ("randomised",),
        )
    masked = c.any("placebo", "blinded")
    named_trial = c.any(
        "trial", "single_arm", "not_randomised", "controlled_trial_indexed", "controlled_study"
    )
    observed = (
        c.any(*_OBSERVATIONAL_LABELS, "observational", "retrospective")
        # A series of patients described, with no one to compare them with (rules 2026.4), was
        # treated, not assigned.
        or (
            "case_series" in c
            and not c.any("control_group", "two_groups", "allocation_by_site_time_or_choice")
        )
        # "a prospective study" of treated people is observed unless groups were given treatments
        or ("prospective" in c and "two_groups" not in c)
    )
    if (
        observed
        and "two_groups" in c
        and not c.any("cohort_label", "case_control_label", "observational", "retrospective")
    ):
        # Only "cross-sectional" is named, yet one group was given a treatment and another was
        # not and both were followed: a one-time survey cannot assign treatment, so the
        # allocation decides.
        observed = False
    # Treatments compared by site, period or choice: an allocation, hence an intervention.
    allocated = "allocation_by_site_time_or_choice" in c and c.any(
        "results", "two_groups", "assigned_intervention"
    )
    if not (masked or named_trial or allocated or c.any("crossover", "assigned_intervention")):
        return None
    if observed and not (masked or named_trial):
        return None  # treated patients observed, not assigned (a cohort, a chart review)
    if "healthy_controls" in c and not (masked or c.any("not_randomised", "trial")):
        return None  # groups formed by disease status: a case-control comparison
    nonrandom = tuple(
        name
        for name in (
            "not_randomised",
            "allocation_by_site_time_or_choice",
            "controlled_trial_indexed",
            "healthy_controls",
        )
        if name in c
    )
    if nonrandom:
        return _Outcome(
            "nonrandomized_controlled_trial",
            CONFIDENCE_NAMED if nonrandom[0] != "healthy_controls" else CONFIDENCE_INFERRED,
            (*path, "comparison group formed without randomisation"),
            nonrandom,
        )
    if "crossover" in c:
        if masked:
            return _Outcome(
                "randomized_controlled_trial",
                CONFIDENCE_INFERRED,
                (*path, "blinded or placebo crossover"),
                ("crossover",),
            )
        return _Outcome(
            "nonrandomized_controlled_trial",
            CONFIDENCE_WEAK,
            (*path, "crossover, order of treatments not said to be random"),
            ("crossover",),
        )
    if "placebo" in c and "blinded" in c:
        return _Outcome(
            "randomized_controlled_trial",
            CONFIDENCE_WEAK,
            (*path, "blinded, placebo-controlled"),
            ("placebo", "blinded"),
        )
    two_groups = "two_groups" in c and not c.any("single_arm", "pre_post")
    if (
        "placebo" in c
        or ("control_group" in c and c.any("trial", "blinded"))
        or two_groups
        or ("controlled_study" in c and "single_arm" not in c)
    ):
        # A second group given another treatment (or none): a comparison. With single-arm
        # wording (open-label, pilot, pre-post) only an allocation cue (above) decides.
        return _Outcome(
            "nonrandomized_controlled_trial",
            CONFIDENCE_WEAK,
            (*path, "comparison group, allocation not reported"),
            ("placebo", "control_group", "two_groups", "controlled_study"),
        )
    return _Outcome(
        "single_arm_trial",
        CONFIDENCE_NAMED if "single_arm" in c else CONFIDENCE_WEAK,
        (*path, "no comparison group"),
        tuple(
            n
            for n in ("single_arm", "pre_post", "assigned_intervention", "trial", "blinded")
            if n in c
        ),
    )


def _observational(c: _Cues) -> _Outcome | None:
    """No intervention assigned: the design the authors name, else when outcomes were measured
    relative to exposure."""
    path = ("no intervention assigned",)
    labels = [name for name in _OBSERVATIONAL_LABELS if name in c]
    titled = [name for name in labels if c.in_title(name)]
    if {"cross_sectional_label", "cohort_label"} <= set(titled) and _followed_up_survey(c):
        titled = ["cohort_label"]  # "...: results from the NHANES I follow-up study"
    named = titled or labels
    if named:
        name = named[0]
        study_type = {
            "case_control_label": "case_control",
            "cross_sectional_label": "cross_sectional",
            "cohort_label": "cohort",
        }[name]
        return _Outcome(study_type, CONFIDENCE_NAMED, (*path, "design named"), (name,))
    if "healthy_controls" in c:
        return _Outcome(
            "case_control",
            CONFIDENCE_INFERRED,
            (*path, "patients compared with healthy controls"),
            ("healthy_controls",),
        )
    if "allocation_by_site_time_or_choice" in c and c.any("retrospective", "observational"):
        return _Outcome(
            "cohort",
            CONFIDENCE_WEAK,
            (*path, "exposed and unexposed periods or sites compared"),
            ("allocation_by_site_time_or_choice",),
        )
    if (
        "retrospective" in c
        and "case_series" not in c
        and "results" in c
        and "two_groups" in c
        and "pre_post" not in c
    ):
        # Records reviewed and groups compared on an outcome (rules 2026.4): a retrospective
        # cohort, not a series of treated patients described.
        return _Outcome(
            "cohort",
            CONFIDENCE_WEAK,
            (*path, "records reviewed, groups compared on an outcome"),
            ("retrospective", "two_groups"),
        )
    if "case_series" in c or "retrospective" in c:
        because = tuple(n for n in ("case_series", "retrospective") if n in c)
        return _Outcome("case_series", CONFIDENCE_INFERRED, (*path, "series of patients"), because)
    if "population_sample" in c:
        return _Outcome(
            "cross_sectional",
            CONFIDENCE_WEAK,
            (*path, "a population sample examined"),
            ("population_sample",),
        )
    if (
        "control_group" in c
        and "humans" in c
        and "results" in c
        and not c.any("single_arm", "pre_post")
    ):
        return _Outcome(
            "case_control",
            CONFIDENCE_WEAK,
            (*path, "patients compared with controls"),
            ("control_group",),
        )
    if c.any("observational", "observational_indexed", "prospective") and (
        "assigned_intervention" in c
    ):
        return _Outcome(
            "cohort",
            CONFIDENCE_WEAK,
            (*path, "observational, outcomes after a treatment received"),
            tuple(n for n in ("observational", "observational_indexed", "prospective") if n in c),
        )
    if (
        "measured_once" in c
        and "humans" in c
        or c.any("observational", "observational_indexed", "prospective")
    ):
        # No follow-up named: outcome and exposure measured at one time.
        return _Outcome(
            "cross_sectional",
            CONFIDENCE_WEAK,
            (*path, "measured once, no follow-up"),
            tuple(
                n
                for n in ("measured_once", "observational", "observational_indexed", "prospective")
                if n in c
            ),
        )
    return None


def _provenance(
    outcome: _Outcome, c: _Cues, indexed: list[tuple[str, Tag]], publication_types: tuple[str, ...]
) -> Tag:
    if outcome.path and outcome.path[0] == "indexed publication type" and not outcome.because:
        for study_type, tag in indexed:
            if study_type == outcome.study_type:
                original = next(
                    (p for p in publication_types if p.strip().lower() == tag.snippet),
                    tag.snippet,
                )
                return Tag("study_type", study_type, "publication_type", original)
    for name in outcome.because:
        cue = c.get(name)
        if cue is not None:
            return Tag("study_type", outcome.study_type, cue.tag.field, cue.tag.snippet)
    return Tag("study_type", outcome.study_type, "derived", _short_reason(outcome))


def _short_reason(outcome: _Outcome) -> str:
    text = "; ".join(outcome.path) or "no study design signal found"
    return text[:160]


def _explain(outcome: _Outcome, seen: dict[str, Cue]) -> str:
    cues = ", ".join(f"{name} ({seen[name].tag.field})" for name in sorted(seen)) or "none"
    return (
        f"cues: {cues}. path: {' -> '.join(outcome.path)} -> {outcome.study_type} "
        f"(confidence {outcome.confidence:.2f})"
    )
