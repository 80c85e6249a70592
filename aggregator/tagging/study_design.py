"""Study type: one design per article, the most specific one the article itself reports.

Evidence comes from NLM publication types and MeSH (when indexed) and from title/abstract
wording (always). Every text rule is one :class:`DesignRule` row; mentions that refer to other
work ("previous RCTs showed ...", "a placebo-controlled trial is needed") are skipped, so a
cohort study citing trials stays a cohort.

Resolution: rules have a strength (3 = specific NLM publication type, 2 = explicit wording such
as "case-control study", 1 = implicit wording such as "20 patients and 20 healthy controls" or a
generic index term). The strongest level present wins; within it, the first study type in
:data:`PRIORITY` wins (a case report with a literature review, or published as a letter, is a case
report; any other letter about a trial is a letter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.tagging.text import Gated, Sentence, gated, is_cited, snippet, whole_lower
from aggregator.vocab import Tag

PRIORITY: tuple[str, ...] = (
    "case_report",  # a case published as a letter is still a case report
    "editorial_or_letter",
    "trial_protocol",
    "guideline",
    "meta_analysis",
    "systematic_review",
    "narrative_review",
    "in_vitro",
    "animal_study",
    "randomized_controlled_trial",
    "nonrandomized_controlled_trial",
    "case_control",
    "cross_sectional",
    "cohort",
    "single_arm_trial",
    "case_series",
    "other",
)

INDEXED = 3
EXPLICIT = 2
IMPLICIT = 1

# NLM publication types -> (study type, strength). Generic trial/observational types are weak so
# that the wording can say which kind of trial or observational study it is.
PUBLICATION_TYPES: dict[str, tuple[str, int]] = {
    "letter": ("editorial_or_letter", INDEXED),
    "editorial": ("editorial_or_letter", INDEXED),
    "comment": ("editorial_or_letter", INDEXED),
    "clinical trial protocol": ("trial_protocol", INDEXED),
    "practice guideline": ("guideline", INDEXED),
    "guideline": ("guideline", INDEXED),
    "consensus development conference": ("guideline", INDEXED),
    "consensus development conference, nih": ("guideline", INDEXED),
    "meta-analysis": ("meta_analysis", INDEXED),
    "systematic review": ("systematic_review", INDEXED),
    "case reports": ("case_report", INDEXED),
    "randomized controlled trial": ("randomized_controlled_trial", INDEXED),
    "equivalence trial": ("randomized_controlled_trial", EXPLICIT),
    "controlled clinical trial": ("nonrandomized_controlled_trial", EXPLICIT),
    "review": ("narrative_review", EXPLICIT),
    "scientific integrity review": ("narrative_review", EXPLICIT),
    "clinical trial": ("single_arm_trial", IMPLICIT),
    "clinical trial, phase i": ("single_arm_trial", IMPLICIT),
    "clinical trial, phase ii": ("single_arm_trial", IMPLICIT),
    "clinical trial, phase iii": ("single_arm_trial", IMPLICIT),
    "clinical trial, phase iv": ("single_arm_trial", IMPLICIT),
    "observational study": ("cohort", IMPLICIT),
}

MESH_TERMS: dict[str, tuple[str, int]] = {
    "case-control studies": ("case_control", EXPLICIT),
    "cross-sectional studies": ("cross_sectional", EXPLICIT),
    "cohort studies": ("cohort", IMPLICIT),
    "prospective studies": ("cohort", IMPLICIT),
    "retrospective studies": ("cohort", IMPLICIT),
    "longitudinal studies": ("cohort", IMPLICIT),
    "follow-up studies": ("cohort", IMPLICIT),
    "random allocation": ("randomized_controlled_trial", IMPLICIT),
    "double-blind method": ("randomized_controlled_trial", IMPLICIT),
    "cells, cultured": ("in_vitro", EXPLICIT),
    "rats": ("animal_study", IMPLICIT),
    "rats, sprague-dawley": ("animal_study", IMPLICIT),
    "rats, wistar": ("animal_study", IMPLICIT),
    "mice": ("animal_study", IMPLICIT),
    "disease models, animal": ("animal_study", IMPLICIT),
}


@dataclass(frozen=True, slots=True)
class DesignRule:
    """Wording that signals a design. ``title_only`` rules look only at the title."""

    study_type: str
    strength: int
    pattern: Gated
    title_only: bool = False
    # Fires only when the same sentence also matches this (e.g. case-control needs patients).
    requires: re.Pattern[str] | None = None


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_DATABASES = (
    r"(?:PubMed|MEDLINE|Embase|Cochrane(?: Library| CENTRAL)?|CENTRAL|Web of Science|Scopus|"
    r"CINAHL|PsycINFO|Google Scholar|LILACS|ClinicalTrials\.gov|(?:electronic |bibliographic )?"
    r"databases?)"
)
_PATIENTS = _rx(
    r"\b(?:patients|migraineurs|cases|sufferers|(?:individuals|people|subjects|children|women|"
    r"adults|adolescents) with)\b"
)
_HUMANS = _rx(
    r"\b(?:patients|participants|volunteers|migraineurs|women|men|children|adults|adolescents|"
    r"people|outpatients|inpatients)\b"
)

RULES: tuple[DesignRule, ...] = (
    # --- article kinds ------------------------------------------------------------------------
    DesignRule(
        "editorial_or_letter",
        EXPLICIT,
        gated(
            r"letter to the editor|\bin this letter\b|\bthis letter\b|\bdear editor\b|"
            r"\b(?:this|an|the present) editorial\b|\bcom"
            r"mentary\b|we read with (?:great )?interest|"
            r"\bauthors'? reply\b|\bin (?:response|reply) to (?:the |your |our |a |an )?(?:\w+ )?"
            r"(?:letter|comments?|article|correspondence|editorial|critique|concerns|dr\b)",
            "letter",
            "editor",
            "commentary",
            "read with",
            "reply",
            "response to",
        ),
    ),
    DesignRule(
        "editorial_or_letter",
        EXPLICIT,
        gated(
            r"^(?:comment(?:ary)? on|reply|response to|re:|letter:|editorial:)",
            "comment",
            "reply",
            "response",
            "re:",
            "letter",
            "editorial",
        ),
        title_only=True,
    ),
    DesignRule(
        "trial_protocol",
        EXPLICIT,
        gated(r"\bprotocol\b(?! violation)", "protocol"),
        title_only=True,
    ),
    DesignRule(
        "trial_protocol",
        EXPLICIT,
        gated(
            r"\b(?:study|trial|review) protocol\b|\bthis p"
            r"rotocol\b|\bprotocol (?:for|of) (?:a|an|the)"
            r" (?:\w+[- ]){0,4}(?:trial|study|review)|\bw"
            r"ill be (?:randomi[sz]ed|recruited|enrolled|"
            r"allocated|assigned|included|screened)\b|\bw"
            r"e will (?:recruit|randomi[sz]e|enrol|enroll|"
            r"compare|assess|conduct|include|search)\b|\b"
            r"are being recruited\b|\bis being conducted\b",
            "protocol",
            "will ",
            "being recruited",
            "being conducted",
        ),
    ),
    DesignRule(
        "guideline",
        EXPLICIT,
        gated(
            r"\bguidelines?\b|\bconsensus\b|position (?:statement|paper)|practice parameter|"
            r"\brecommendations (?:of|from|for)\b",
            "guideline",
            "consensus",
            "position",
            "practice parameter",
            "recommendations",
        ),
        title_only=True,
    ),
    DesignRule(
        "guideline",
        EXPLICIT,
        gated(
            r"\bth(?:is|ese) guidelines?\b|guideline (?:panel|committee|development|update)|"
            r"\b(?:expert|consensus|guideline) panel\b|consensus (?:statement|conference|meeting|"
            r"process|recommendations?|document)|\bdelphi\b|\bwe (?:issue|provide|present|make|"
            r"developed|formulated) (?:\w+ ){0,2}recommen"
            r"dations\b|\blevel [A-C] recommendations?\b|"
            r"\b(?:strong|weak|conditional) recommendations?\b",
            "guideline",
            "panel",
            "consensus",
            "delphi",
            "recommendation",
        ),
    ),
    DesignRule(
        "meta_analysis",
        EXPLICIT,
        gated(
            r"\bmeta-?analy[sz](?:is|es|ed)\b|\bmetaanaly|\bpool(?:ed|ing) (?:\w+ ){0,3}(?:trials|"
            r"studies|RCTs)\b|\b(?:trials|studies|data|re"
            r"sults) were pooled\b|\bwe pooled\b|\bpooled "
            r"(?:analysis|estimates?|effects?|odds ratios?|risk ratios?|mean differences?|relative"
            r" risks?)\b|random[- ]effects? (?:model|meta)|\bforest plots?\b|"
            r"\bstandardi[sz]ed mean differences?\b",
            "standardi",
            "meta",
            "pool",
            "random-effect",
            "random effect",
            "forest plot",
        ),
    ),
    DesignRule(
        "systematic_review",
        EXPLICIT,
        gated(
            r"\bsystematic(?:al)? reviews?\b|\bsystematically (?:searched|reviewed|identified)\b|"
            r"\bPRISMA\b|\b(?:scoping|umbrella) review\b|\b(?:searched|search(?:es)? of|searching)"
            rf" (?:\w+ ){{0,4}}{_DATABASES}|{_DATABASES}(?: (?:and|,)? ?\w+){{0,4}} (?:were|was) "
            r"searched\b|"
            r"\bsystematic (?:literature )?search\b|\bliterature search(?:es)? (?:was|were) "
            r"(?:performed|conducted|carried out)\b",
            "systematic",
            "prisma",
            "scoping",
            "umbrella",
            "search",
        ),
    ),
    DesignRule(
        "case_report",
        EXPLICIT,
        gated(
            r"\bcase report\b|\bwe (?:report|describe|present) (?:a|an|the|one) (?:case|patient|"
            r"\d+-year-old|(?:\w+[- ]){0,2}(?:man|woman|boy|girl|patient|primigravida))\b|"
            r"\b(?:a|an) \d+-year-old (?:\w+ ){0,2}(?:man|woman|boy|girl|patient|female|male|"
            r"primigravida|multigravida|gravida)\b|\bcase of (?:a|an) \d+-year-old|\bthis case\b|"
            r"\bsingle case\b",
            "case",
            "year-old",
            "we report",
            "we describe",
            "we present",
        ),
    ),
    DesignRule(
        "narrative_review",
        EXPLICIT,
        gated(
            r"(?<!retrospective )(?<!chart )(?<!record )("
            r"?<!records )(?<!case )(?<!peer )\breview\b|"
            r"\boverview\b|\bupdate on\b|\bstate of the art\b",
            "review",
            "overview",
            "update on",
            "state of the art",
        ),
        title_only=True,
    ),
    DesignRule(
        "narrative_review",
        EXPLICIT,
        gated(
            r"\b(?:this|the present|our|the current) (?:\w+[- ]){0,3}(?:review|overview)\b|"
            r"\bwe (?:review|summari[sz]e|discuss|overview|appraise)\b|\b(?:this|the) (?:article|"
            r"paper|chapter|narrative) (?:\w+ )?(?:review"
            r"s|summari[sz]es|discusses|examines|surveys|"
            r"describes)\b|\bnarrative review\b|\bliterature review\b|\breview (?:of|on) (?:the )?"
            r"(?:literature|evidence|current)|\b(?:integrated|integrative|comprehensive|critical|"
            r"clinical|updated|brief|mini-?) review\b|\ban overview of\b",
            "review",
            "overview",
            "we summar",
            "we discuss",
            "we appraise",
            "article",
            "paper",
            "chapter",
            "narrative",
        ),
    ),
    # --- laboratory ---------------------------------------------------------------------------
    DesignRule(
        "in_vitro",
        EXPLICIT,
        gated(
            r"\bin vitro\b|\bcultured (?:\w+ ){0,2}(?:cells|neurons|astrocytes|myocytes|"
            r"cardiomyocytes|slices)\b|\bcell cultures?\b|\bcell lines?\b|\b(?:brain|hippocampal|"
            r"cortical) slices\b|\bpatch[- ]clamp\b|\borganotypic\b|\bHEK ?293\b|\bSH-SY5Y\b",
            "vitro",
            "cultur",
            "cell line",
            "slices",
            "patch",
            "organotypic",
            "hek",
            "sh-sy5y",
        ),
    ),
    DesignRule(
        "animal_study",
        EXPLICIT,
        gated(
            r"\b(?:rats?|mice|mouse|murine|rodents?|rabbits?|guinea pigs?|piglets?|cats|dogs|sheep|"
            r"primates|monkeys|zebrafish|animal models?|wistar|sprague[- ]dawley|C57BL\S*)\b",
            "rat",
            "mice",
            "mouse",
            "murine",
            "rodent",
            "rabbit",
            "guinea",
            "piglet",
            "cats",
            "dogs",
            "sheep",
            "primate",
            "monkey",
            "zebrafish",
            "animal",
            "wistar",
            "sprague",
            "c57bl",
        ),
    ),
    # --- trials -------------------------------------------------------------------------------
    DesignRule(
        "nonrandomized_controlled_trial",
        EXPLICIT,
        gated(
            r"\bnon-?randomi[sz]ed\b|\bnot randomi[sz]ed\b|\bwithout randomi[sz]ation\b|"
            r"\bquasi-?(?:experimental|randomi[sz]ed)\b|\b"
            r"historical controls?\b|\balternate(?:ly)? "
            r"allocat\w*|\ballocated alternately\b|\bopen[- ]label,? controlled\b|\bcontrolled,? "
            r"open[- ]label\b",
            "random",
            "quasi",
            "historical control",
            "alternat",
            "open-label",
            "open label",
        ),
    ),
    DesignRule(
        "randomized_controlled_trial",
        EXPLICIT,
        gated(
            # Every alternative starts with "random": the look-ahead skips other positions fast.
            r"(?=random)(?:(?<![\w-])randomi[sz](?:ed|ation|ing)\b|\brandomly (?:assigned|"
            r"allocated|divided|distributed)\b|\brandom (?:allocation|assignment)\b)",
            "random",
        ),
    ),
    DesignRule(
        "randomized_controlled_trial",
        IMPLICIT,
        gated(
            r"\bdouble[- ]blind(?:ed)?\b|\bplacebo[- ]controlled\b|\b(?:versus|vs\.?|or|to|with) "
            r"(?:a )?(?:matching |identical |inert )?placebo\b|\bcross-?over\b",
            "blind",
            "placebo",
            "crossover",
            "cross-over",
        ),
    ),
    DesignRule(
        "nonrandomized_controlled_trial",
        IMPLICIT,
        gated(
            r"\b(?:allocated|assigned) to (?:\w+ ){0,6}(?:or|versus|vs\.?)\b",
            "allocated",
            "assigned",
        ),
    ),
    DesignRule(
        "single_arm_trial",
        EXPLICIT,
        gated(
            r"\bopen[- ]label\b|\bsingle[- ]arm\b|\buncontrolled\b|\bpilot (?:study|trial)\b|"
            r"\bbefore-and-after\b|\bbefore[- ]and[- ]after (?:study|design|trial|c"
            r"omparison)\b|\bpre-?post\b|\bnon-?comparative\b|\bphase (?:I|II|1|2)\b",
            "open-label",
            "open label",
            "single-arm",
            "single arm",
            "uncontrolled",
            "pilot",
            "before",
            "pre-post",
            "prepost",
            "comparative",
            "phase",
        ),
    ),
    DesignRule(
        "single_arm_trial",
        IMPLICIT,
        gated(
            r"\b(?:patients|participants|subjects|children|adults|women|men|volunteers|migraineurs|"
            r"inpatients|outpatients)"
            r"\b[^.;]{0,60}\b(?:received|were given|were treated with|took|were administered|were "
            r"started on|were supplemented)\b",
            "received",
            "given",
            "treated with",
            "took",
            "administered",
            "started on",
            "supplemented",
        ),
    ),
    # --- observational ------------------------------------------------------------------------
    DesignRule(
        "case_control",
        EXPLICIT,
        gated(
            r"\bcase[- ](?:control|referent)\b|\bmatched controls?\b",
            "case-control",
            "case control",
            "case-referent",
            "case referent",
            "matched control",
        ),
    ),
    DesignRule(
        "case_control",
        IMPLICIT,
        gated(
            r"\b(?:healthy|age-matched|sex-matched|non-?m"
            r"igraine|headache-free) (?:\w+ )?(?:controls|"
            r"control subjects|control group|volunteers|s"
            r"ubjects|individuals)\b|\bcontrol subjects\b|"
            r"\b\d+ controls\b|\band (?:\w+ ){0,2}controls\b",
            "control",
            "volunteers",
            "healthy",
            "subjects",
            "individuals",
        ),
        requires=_PATIENTS,
    ),
    DesignRule(
        "cross_sectional",
        EXPLICIT,
        gated(
            r"\bcross-?sectional\b|\bsurvey\b|\bquestionnaire[- ]based\b|\bprevalence study\b|"
            r"\bNHANES\b|\bpopulation-based (?:study|sample)\b",
            "cross",
            "survey",
            "questionnaire",
            "prevalence",
            "nhanes",
            "population-based",
        ),
    ),
    DesignRule(
        "cohort",
        EXPLICIT,
        gated(
            r"\bcohort\b|\bprospective(?:ly)? (?:observational|follow\w*|study|analysis)\b|"
            r"\bretrospective(?:ly)? (?:cohort|analysis|study)\b|\blongitudinal\b|\bobservational "
            r"(?:study|analysis)\b|\bfollow-up study\b|\bregistry\b",
            "cohort",
            "prospective",
            "retrospective",
            "longitudinal",
            "observational",
            "follow-up",
            "registry",
        ),
    ),
    DesignRule(
        "cohort",
        IMPLICIT,
        gated(
            r"\bfollowed (?:up )?(?:for|over|during|since|until|\d+)\b|\b(?:were|was) followed\b|"
            r"\bfollowed "
            r"(?:\w+ ){0,2}(?:patients|children|adults|women|participants)\b|\bfollow-up of\b|"
            r"\bprospective(?:ly)?\b",
            "follow",
            "prospective",
        ),
    ),
    DesignRule(
        "case_series",
        EXPLICIT,
        gated(
            r"\bcase series\b|\bseries of (?:\d+|\w+) (?:patients|cases|children)\b|\bconsecutive "
            r"cases\b|\bchart review\b|\brecords (?:were|was) (?:searched|reviewed)\b|"
            r"\bretrospective(?:ly)? review\w*\b",
            "case series",
            "series of",
            "consecutive",
            "chart review",
            "records",
            "retrospective",
        ),
    ),
)

# Mentions the rules must not see as the article's own design.
_NOT_RANDOM_BEFORE = re.compile(r"\b(?:non|not|without|quasi|pseudo|no)[- ]?(?:\w+ )?$", re.I)
_SURVEY_RANDOM = re.compile(r"^\w*\s+(?:selected|sampled|chosen)|^\w*\s+sample", re.I)
_NO_CONSENSUS = re.compile(r"\b(?:no|lack of|without|absence of)\s+(?:\w+\s+)?$", re.I)
# "Randomized trials found ...": a design named as the subject of a finding is cited work
# (checked only for design words; "magnesium glycinate showed ..." is a result, not a citation).
_FINDING_AFTER = re.compile(
    r"\s*(?:[\w-]+\s+){0,2}?(?:showed|found|reported|concluded|suggested|demonstrated|indicated)\b"
)
_SELF_NEAR = re.compile(r"\b(?:this|our|we|the present|the current)\b[^.;]{0,40}$")
# Kinds that describe the article as a whole: never ignored as "cited" in the title.
_SELF_KINDS = frozenset({"editorial_or_letter", "trial_protocol", "guideline"})


@dataclass(frozen=True, slots=True)
class DesignHit:
    study_type: str
    strength: int
    tag: Tag


def _skip_text_hit(rule: DesignRule, sentence: Sentence, match: re.Match[str]) -> bool:
    text = sentence.text
    start, end = match.span()
    if rule.requires is not None and not rule.requires.search(text):
        return True
    if rule.study_type == "randomized_controlled_trial" and rule.strength == EXPLICIT:
        if _NOT_RANDOM_BEFORE.search(text[max(0, start - 25) : start]):
            return True
        if _SURVEY_RANDOM.search(text[start:]):
            return True
    if rule.study_type == "guideline" and _NO_CONSENSUS.search(text[max(0, start - 30) : start]):
        return True
    if sentence.field == "title" and (rule.title_only or rule.study_type in _SELF_KINDS):
        return False
    lower = sentence.lower
    if _FINDING_AFTER.match(lower, end) and not _SELF_NEAR.search(lower, max(0, start - 40), start):
        return True
    return is_cited(sentence, start, end)


def design_hits(
    sentences: list[Sentence], publication_types: tuple[str, ...], mesh_terms: tuple[str, ...]
) -> list[DesignHit]:
    """Every design signal in the article, with provenance."""
    hits: list[DesignHit] = []
    for publication_type in publication_types:
        mapped = PUBLICATION_TYPES.get(publication_type.strip().lower())
        if mapped:
            tag = Tag("study_type", mapped[0], "publication_type", publication_type)
            hits.append(DesignHit(mapped[0], mapped[1], tag))
    for term in mesh_terms:
        mapped = MESH_TERMS.get(term.strip().lower())
        if mapped:
            hits.append(DesignHit(mapped[0], mapped[1], Tag("study_type", mapped[0], "mesh", term)))
    # Most rules cannot match anywhere in a given article: test their literals once.
    whole, index = whole_lower(sentences)
    live_rules = [
        DesignRule(rule.study_type, rule.strength, narrowed, rule.title_only, rule.requires)
        for rule in RULES
        if (narrowed := rule.pattern.narrowed(whole, index)) is not None
    ]
    for sentence in sentences:
        for rule in live_rules:
            if rule.title_only and sentence.field != "title":
                continue
            for match in rule.pattern.finditer(sentence.text, sentence.lower):
                if _skip_text_hit(rule, sentence, match):
                    continue
                tag = Tag(
                    "study_type",
                    rule.study_type,
                    sentence.field,
                    snippet(sentence.text, match.start(), match.end()),
                )
                hits.append(DesignHit(rule.study_type, rule.strength, tag))
                break
    return _adjust_laboratory(hits, sentences)


def _adjust_laboratory(hits: list[DesignHit], sentences: list[Sentence]) -> list[DesignHit]:
    """Animal/cell wording in a human study is usually background: demote it unless the title
    says so, it recurs, or the abstract never mentions people."""
    if not any(h.study_type in ("animal_study", "in_vitro") for h in hits):
        return hits
    human_text = any(_HUMANS.search(s.text) for s in sentences)
    for lab_type in ("animal_study", "in_vitro"):
        lab_hits = [h for h in hits if h.study_type == lab_type and h.tag.field != "mesh"]
        strong = (
            any(h.tag.field == "title" for h in lab_hits) or len(lab_hits) >= 2 or not human_text
        )
        if lab_hits and not strong:
            hits = [DesignHit(h.study_type, IMPLICIT, h.tag) if h in lab_hits else h for h in hits]
    # Cells taken from animals: cell work wins unless the animals themselves were treated.
    types = {h.study_type for h in hits if h.strength >= EXPLICIT}
    if {"animal_study", "in_vitro"} <= types:
        in_vivo = any(
            re.search(r"\bin vivo\b|\b(?:rats|mice|animals) (?:were|received)\b", s.text, re.I)
            for s in sentences
        )
        drop = "in_vitro" if in_vivo else "animal_study"
        hits = [h for h in hits if h.study_type != drop]
    return hits


def choose_study_type(hits: list[DesignHit]) -> tuple[str, Tag]:
    """The single study type: strongest evidence level first, then the most specific design."""
    if not hits:
        return "other", Tag("study_type", "other", "derived", "no study design signal found")
    top = max(hit.strength for hit in hits)
    # A specific publication type and explicit wording agree more often than not; let explicit
    # wording refine a broad NLM type (Review -> systematic review / meta-analysis).
    candidates = [hit for hit in hits if hit.strength >= min(top, EXPLICIT)]
    order = {name: index for index, name in enumerate(PRIORITY)}
    best = min(candidates, key=lambda hit: (order[hit.study_type], -hit.strength))
    return best.study_type, best.tag
