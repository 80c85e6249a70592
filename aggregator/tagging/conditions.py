"""Conditions: the outcome the study is about (migraine, tension-type headache, other headache,
or other). A glycinate trial for leg cramps is "other" even if its background mentions migraine.
"""

from __future__ import annotations

import re

from aggregator.tagging.text import (
    Gated,
    Sentence,
    gated,
    is_cited,
    is_negated,
    live,
    narrowed_or_never,
    snippet,
)
from aggregator.vocab import Tag

HEADACHE_PATTERNS: dict[str, Gated] = {
    "migraine": gated(r"\bmigrain\w*", "migrain"),
    "tension_type_headache": gated(
        r"\btension[- ]type headaches?\b|\btension headaches?\b|(?-i:\bTTH\b)", "tension", "tth"
    ),
    "other_headache": gated(
        r"\bcluster headaches?\b|\bpost-?dural[- ]puncture headaches?\b|\bmedication[- ]overuse "
        r"headaches?\b|\bpost-?traumatic headaches?\b|\bhemicrania\w*\b|\btrigeminal autonomic\b|"
        r"\bnew daily persistent headaches?\b|\bpost-?craniotomy headaches?\b|\bspinal headaches?"
        r"\b|\bhypnic headaches?\b|\btrigeminal neuralgia\b",
        *("headache", "hemicrania", "trigeminal"),
    ),
}
_GENERIC_HEADACHE = gated(r"\bheadaches?\b|\bcephalalgia\b", "headache", "cephalalgia")
# Non-headache topics: when the title is about one of these, the outcome includes "other".
OTHER_OUTCOMES = gated(
    r"\bcramps?\b|\bsleep\b|\binsomnia\b|\bbioavailab\w*|\bpharmacokinetic\w*|\babsorption\b|"
    r"\bdepress\w*|\banxiety\b|\bblood pressure\b|\bhypertension\b|\bdiabet\w*|\binsulin\b|"
    r"\bglyc(?:a)?emic\b|\bconstipation\b|\b(?:pre-?)?eclampsia\b|\basthma\b|\barrhythmi\w*|"
    r"\bfibromyalgia\b|\brestless legs\b|\bpremenstrual syndrome\b|\bosteopor\w*|\bbone\b|"
    r"\bmuscle\b|\bfatigue\b|\bcognit\w*|\bmemory\b|\bstress\b|\bileal\b|\bmalabsorption\b|"
    r"\bpreterm\b|\btocoly\w*|\bneuroprotect\w*|\bmetabolic syndrome\b|\bkidney\b|\brenal\b|"
    r"\bexercise\b|\bathlet\w*|\bdyslipid\w*|\bcholesterol\b|\bhypomagnes\w*|\bdissolution\b|"
    r"\bsolubility\b|\bpalpitations?\b|\bseizures?\b|\bepilep\w*|\bpain after\b|\bpostoperative\b",
    *("cramp", "sleep", "insomnia", "bioavailab", "pharmacokinetic", "absorption", "depress"),
    *("anxiety", "blood pressure", "hypertension", "diabet", "insulin", "glyc", "constipation"),
    *("eclampsia", "asthma", "arrhythmi", "fibromyalgia", "restless", "premenstrual", "osteopor"),
    *("bone", "muscle", "fatigue", "cognit", "memory", "stress", "ileal", "malabsorption"),
    *("preterm", "tocoly", "neuroprotect", "metabolic", "kidney", "renal", "exercise", "athlet"),
    *("dyslipid", "cholesterol", "hypomagnes", "dissolution", "solubility", "palpitation"),
    *("seizure", "epilep", "pain after", "postoperative"),
)


def find_conditions(sentences: list[Sentence], *, is_review: bool) -> list[Tag]:
    """Condition tags with provenance, in vocabulary order."""
    patterns = live(HEADACHE_PATTERNS, sentences)
    found: dict[str, Tag] = {}
    for sentence in sentences:
        for name, pattern in patterns.items():
            if name in found:
                continue  # only the first qualifying mention gives the provenance
            for match in pattern.finditer(sentence.text, sentence.lower):
                if (
                    sentence.field == "title"
                    or is_review
                    or not is_cited(sentence, match.start(), match.end())
                ) and not is_negated(sentence, match.start(), match.end()):
                    text = snippet(sentence.text, match.start(), match.end())
                    found[name] = Tag("condition", name, sentence.field, text)
                    break
    if not found and not _title_has_other_topic(sentences):
        generic_headache = narrowed_or_never(_GENERIC_HEADACHE, sentences)
        for sentence in sentences:
            generic = generic_headache.search(sentence.text, sentence.lower)
            if generic and (sentence.field == "title" or not is_cited(sentence, *generic.span())):
                text = snippet(sentence.text, generic.start(), generic.end())
                found["other_headache"] = Tag("condition", "other_headache", sentence.field, text)
                break
    other = _other_outcome(sentences, headache_found=bool(found), is_review=is_review)
    if other is not None:
        found["other"] = other
    order = ("migraine", "tension_type_headache", "other_headache", "other")
    return [found[name] for name in order if name in found]


def _title_has_other_topic(sentences: list[Sentence]) -> bool:
    """A title about a non-headache topic: a generic "headache" in the abstract is then only a
    side effect or secondary symptom, not the outcome."""
    other_outcomes = narrowed_or_never(OTHER_OUTCOMES, sentences)
    return any(
        s.field == "title"
        and "headache" not in s.lower
        and other_outcomes.search(s.text, s.lower) is not None
        for s in sentences
    )


def _other_outcome(
    sentences: list[Sentence], *, headache_found: bool, is_review: bool
) -> Tag | None:
    other_outcomes = narrowed_or_never(OTHER_OUTCOMES, sentences)
    titles = [s for s in sentences if s.field == "title"]
    title_headache = any(
        word in s.lower for s in titles for word in ("migrain", "headache", "tth", "cephal")
    )
    for sentence in titles:
        match = other_outcomes.search(sentence.text, sentence.lower)
        if match and not title_headache:
            return Tag("condition", "other", "title", snippet(sentence.text, *match.span()))
    if not headache_found:
        for sentence in sentences:
            match = other_outcomes.search(sentence.text, sentence.lower)
            if match:
                return Tag(
                    "condition", "other", sentence.field, snippet(sentence.text, *match.span())
                )
        return Tag("condition", "other", "derived", "no headache outcome found")
    if is_review:
        # A broad review listing many non-headache conditions covers "other" outcomes too.
        topics: set[str] = set()
        first: tuple[Sentence, re.Match[str]] | None = None
        for sentence in sentences:
            for match in other_outcomes.finditer(sentence.text, sentence.lower):
                topics.add(match.group(0).lower())
                first = first or (sentence, match)
        if len(topics) >= 3 and first is not None:
            sentence, match = first
            return Tag("condition", "other", sentence.field, snippet(sentence.text, *match.span()))
    return None
