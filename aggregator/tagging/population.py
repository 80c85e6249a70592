"""Population flags, only where the article states them: adults, children, menstrual migraine,
pregnancy, emergency department."""

from __future__ import annotations

import re

from aggregator.tagging.text import Gated, Sentence, gated, is_cited, is_negated, live, snippet
from aggregator.vocab import POPULATIONS, Tag

POPULATION_PATTERNS: dict[str, Gated] = {
    "adults": gated(
        r"\badults?\b(?! (?:and|or) (?:children|adolescents))|\bgrown-ups\b|\belderly\b|"
        r"\bolder (?:people|patients|adults)\b",
        *("adult", "grown-up", "elderly", "older"),
    ),
    "children": gated(
        r"\bchild(?:ren|hood)?\b|\bp(?:a)?ediatric\w*|\badolescen\w*|\binfants?\b|\bteen\w*|"
        r"\bschool-?age\w*|\bkids\b|\byouths?\b|\bboys?\b|\bgirls?\b|\bjuvenile\b",
        *("child", "pediatric", "paediatric", "adolescen", "infant", "teen", "school"),
        *("kids", "youth", "boy", "girl", "juvenile"),
    ),
    "menstrual_migraine": gated(
        r"\bmenstrual(?:ly)?[- ](?:related |associated )?migraine\w*|\bperimenstrual\b|"
        r"\bcatamenial\b|\bpure menstrual\b",
        *("menstrua", "catamenial"),
    ),
    "pregnancy": gated(
        r"\bpregnan\w*|\bgestation\w*|\bantenatal\b|\bprenatal\b|\bobstetric\w*|"
        r"\b(?:pre-?)?eclampsia\b|\bprimigravid\w*|\bmultigravid\w*|\btrimester\b",
        *("pregnan", "gestation", "natal", "obstetric", "eclampsia", "gravid", "trimester"),
    ),
    "emergency_department": gated(
        r"\bemergency (?:department|room|unit|ward|medicine|setting|patients|care|service)s?\b|"
        r"(?-i:\bED\b|\bA&E\b)|\baccident and emergency\b|\bemergency\b",
        *("emergency", " ed", "(ed", "a&e"),
    ),
}
# Age ranges such as "aged 7 to 17", "18-65 years".
_AGE_RANGE = re.compile(
    r"\baged?\s+(\d{1,2})\s*(?:to|-|–)\s*(\d{1,3})\b|\b(\d{1,2})\s*(?:to|-|–)\s*(\d{1,3})\s*"
    r"(?:years?|y)\b",
    re.I,
)


def find_population(sentences: list[Sentence], *, is_review: bool) -> list[Tag]:
    """Population tags with provenance, in vocabulary order."""
    patterns = live(POPULATION_PATTERNS, sentences)
    found: dict[str, Tag] = {}
    for sentence in sentences:
        for name, pattern in patterns.items():
            if name in found:
                continue
            for match in pattern.finditer(sentence.text, sentence.lower):
                if is_negated(sentence, match.start(), match.end()):
                    continue
                if (
                    not is_review
                    and sentence.field != "title"
                    and is_cited(sentence, *match.span())
                ):
                    continue
                found[name] = Tag(
                    "population", name, sentence.field, snippet(sentence.text, *match.span())
                )
                break
        if "year" not in sentence.lower and "aged" not in sentence.lower:
            continue
        for match in _AGE_RANGE.finditer(sentence.text):
            low_text, high_text = (
                (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
            )
            low, high = int(low_text), int(high_text)
            name = "adults" if low >= 18 else "children" if high <= 18 else ""
            if name and name not in found:
                text = snippet(sentence.text, *match.span())
                found[name] = Tag("population", name, sentence.field, text)
    return [found[name] for name in POPULATIONS if name in found]
