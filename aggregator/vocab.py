"""Controlled vocabularies. These exact strings appear in the database and in JSON output."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aggregator.findings import Findings

FORMS: tuple[str, ...] = (
    "glycinate",
    "oxide",
    "citrate",
    "sulfate",
    "chloride",
    "pidolate",
    "aspartate",
    "lactate",
    "malate",
    "threonate",
    "taurate",
    "carbonate",
    "hydroxide",
    "orotate",
    "gluconate",
    "unspecified",
    "dietary",
)
GLYCINATE = "glycinate"  # the form the digest follows
# Vocabulary "forms" that are not a salt: magnesium given or measured without a named salt.
NON_SALT_FORMS: frozenset[str] = frozenset({"unspecified", "dietary"})
# Forms that are salts, and the salts taken by mouth (sulfate and chloride are mostly infused
# or applied to the skin).
SALT_FORMS: tuple[str, ...] = tuple(form for form in FORMS if form not in NON_SALT_FORMS)
ORAL_FORMS: tuple[str, ...] = tuple(f for f in SALT_FORMS if f not in ("sulfate", "chloride"))

ROUTES: tuple[str, ...] = ("oral", "intravenous", "intramuscular", "topical", "dietary")

STUDY_TYPES: tuple[str, ...] = (
    "meta_analysis",
    "systematic_review",
    "randomized_controlled_trial",
    "nonrandomized_controlled_trial",
    "single_arm_trial",
    "cohort",
    "case_control",
    "cross_sectional",
    "case_series",
    "case_report",
    "narrative_review",
    "guideline",
    "trial_protocol",
    "animal_study",
    "in_vitro",
    "editorial_or_letter",
    "other",
    "notice",  # retraction notice, erratum, expression of concern: not a study
    "unclear",  # the design cues conflict or are missing: the tagger does not guess
)

# Evidence level by study type (1 = strongest). Guidelines and protocols have no level.
EVIDENCE_LEVEL: dict[str, int | None] = {
    "meta_analysis": 1,
    "systematic_review": 1,
    "randomized_controlled_trial": 2,
    "nonrandomized_controlled_trial": 3,
    "single_arm_trial": 3,
    "cohort": 3,
    "case_control": 4,
    "cross_sectional": 4,
    "case_series": 4,
    "case_report": 5,
    "narrative_review": 5,
    "animal_study": 5,
    "in_vitro": 5,
    "editorial_or_letter": 5,
    "other": 5,
    "guideline": None,
    "trial_protocol": None,
    "notice": None,
    "unclear": None,
}

CONDITIONS: tuple[str, ...] = ("migraine", "tension_type_headache", "other_headache", "other")
# Conditions whose outcomes count as *direct* evidence for migraine/headache.
DIRECT_CONDITIONS: frozenset[str] = frozenset(
    {"migraine", "tension_type_headache", "other_headache"}
)

POPULATIONS: tuple[str, ...] = (
    "adults",
    "children",
    "menstrual_migraine",
    "pregnancy",
    "emergency_department",
)

# Tag kinds as stored in the tags table.
TAG_KINDS: tuple[str, ...] = (
    "form",
    "route",
    "study_type",
    "evidence_level",
    "condition",
    "population",
    "combination_product",
    "design_cue",  # a cue the study-design decision used (value: cue name)
)

# Where a tag's evidence came from.
PROVENANCE_FIELDS: tuple[str, ...] = (
    "title",
    "abstract",
    "publication_type",
    "mesh",
    "substance",
    "keyword",
    "derived",
)

STUDY_TYPE_LABELS: dict[str, str] = {
    "meta_analysis": "Meta-analysis",
    "systematic_review": "Systematic review",
    "randomized_controlled_trial": "RCT",
    "nonrandomized_controlled_trial": "Non-randomised controlled trial",
    "single_arm_trial": "Single-arm trial",
    "cohort": "Cohort",
    "case_control": "Case-control",
    "cross_sectional": "Cross-sectional",
    "case_series": "Case series",
    "case_report": "Case report",
    "narrative_review": "Narrative review",
    "guideline": "Guideline",
    "trial_protocol": "Trial protocol",
    "animal_study": "Animal study",
    "in_vitro": "In vitro",
    "editorial_or_letter": "Editorial/letter",
    "other": "Other",
    "notice": "Notice",
    "unclear": "Unclear design",
}

# What an article is as evidence for the digest (``ArticleTags.evidence_class``):
# direct: a human trial, observational study, systematic review or meta-analysis with a migraine or
#   headache outcome; indirect: a human study of other outcomes (bioavailability, tolerability,
#   other conditions); planned: protocols and registrations; commentary: narrative reviews,
#   editorials, letters, guidelines; preclinical: animal and in vitro work; notice: retraction
#   notices, errata, expressions of concern.
EVIDENCE_CLASSES: tuple[str, ...] = (
    "direct",
    "indirect",
    "planned",
    "commentary",
    "preclinical",
    "notice",
)


@dataclass(frozen=True, slots=True)
class Tag:
    """One tag with its provenance: which field it came from and the text that matched."""

    kind: str  # one of TAG_KINDS
    value: str
    field: str  # one of PROVENANCE_FIELDS
    snippet: str


@dataclass(frozen=True, slots=True)
class DesignDecision:
    """How the study type was decided: the answer, a confidence (0..1), the cues it rests on
    (``Tag`` objects of kind "design_cue": value = cue name, field, snippet) and a short
    explanation listing the cues and the path taken through the decision procedure."""

    study_type: str
    confidence: float
    cues: tuple[Tag, ...]
    explanation: str


# What an ArticleTags built without a decision (e.g. read back from an older store) carries.
NO_DESIGN_DECISION = DesignDecision("", 0.0, (), "")


@dataclass(frozen=True, slots=True)
class ArticleTags:
    """Everything the tagger concluded about one article."""

    forms: tuple[str, ...]
    routes: tuple[str, ...]
    conditions: tuple[str, ...]
    study_type: str
    evidence_level: int | None
    combination_product: bool
    population: tuple[str, ...]
    tags: tuple[Tag, ...]  # provenance for every value above, and the design cues
    rules_version: str
    # Additive fields (defaults keep older constructors working):
    evidence_class: str = ""  # one of EVIDENCE_CLASSES ("" when not computed)
    design: DesignDecision = NO_DESIGN_DECISION
    # What the study found (tagging.findings.extract_findings, same pass as the tags); None
    # when not extracted (a tagger without findings, or stored before revision 0009).
    findings: Findings | None = None

    @property
    def is_direct(self) -> bool:
        """Has a migraine or headache outcome."""
        return any(c in DIRECT_CONDITIONS for c in self.conditions)


# Vocabulary position of every value, per tag kind.
_RANK: dict[str, dict[str, int]] = {
    kind: {value: index for index, value in enumerate(values)}
    for kind, values in (
        ("form", FORMS),
        ("route", ROUTES),
        ("condition", CONDITIONS),
        ("population", POPULATIONS),
    )
}


def vocabulary_rank(kind: str, value: str) -> int:
    """Position of ``value`` in its vocabulary (unknown values after every known one)."""
    rank = _RANK.get(kind, {})
    return rank.get(value, len(rank))


def in_vocabulary_order(kind: str, values: Iterable[str]) -> tuple[str, ...]:
    """Distinct ``values`` of a tag kind in vocabulary order, unknown ones last alphabetically:
    the one order in which tags are stored, shown and counted."""
    rank = _RANK.get(kind, {})
    last = len(rank)
    return tuple(sorted(set(values), key=lambda value: (rank.get(value, last), value)))


def unknown_value_error(kind: str, value: str, valid: tuple[str, ...]) -> str:
    """One-line message for a value outside a vocabulary, listing the valid ones."""
    return f"unknown {kind} {value!r}; valid values: {', '.join(valid)}"
