"""Routes of magnesium administration: oral, intravenous, intramuscular, topical, dietary.

A route counts only in a sentence that mentions magnesium (so a comparator drug's route does not
leak in) and that is the study's own, not background. When the wording names no route, a route
is derived from the forms: an oral salt given as a daily dose is oral, diet/water intake is
dietary.
"""

from __future__ import annotations

import re

from aggregator.tagging.text import (
    Gated,
    Sentence,
    gated,
    hypothetical_gate,
    is_cited,
    is_hypothetical,
    live,
    snippet,
)
from aggregator.vocab import ORAL_FORMS, ROUTES, Tag

ROUTE_PATTERNS: dict[str, Gated] = {
    "oral": gated(
        r"\boral(?:ly)?\b|\bby mouth\b|\bper os\b|\btablets?\b|\bcapsules?\b|\bsachets?\b|"
        r"\bchewable\b|\beffervescent\b|\blaxatives?\b|\bantacids?\b|\bcathartics?\b",
        *("oral", "mouth", "per os", "tablet", "capsule", "sachet", "chewable", "effervescent"),
        *("laxative", "antacid", "cathartic"),
    ),
    "intravenous": gated(
        # The look-behinds follow "IV" (so they run only where "IV" is, not at every position).
        r"\bintravenous(?:ly)?\b|\bIV\b(?<!phase IV)(?<!grade IV)(?<!stage IV)(?<!class IV)"
        r"(?<!type IV)|"
        r"\bi\.v\.|\binfusions?\b|\binfused\b|\bbolus\b|\bdrip\b|\bin \d+ ?ml (?:of )?(?:normal )?"
        r"saline\b",
        *("intravenous", " iv", "(iv", "i.v.", "infus", "bolus", "drip", "saline"),
    ),
    "intramuscular": gated(
        r"\bintramuscular(?:ly)?\b|\bIM\b|\bi\.m\.", "intramuscular", " im", "(im", "i.m."
    ),
    "topical": gated(
        r"\btopical(?:ly)?\b|\btransdermal\b|\bcream\b|\bspray\b|\blotion\b|\bgel\b|"
        r"\bfoot ?baths?\b|\bbath salts?\b|\bepsom salt baths?\b|\bmagnesium oil\b|\bdermal\b|"
        r"\bto the skin\b",
        *("topical", "transdermal", "cream", "spray", "lotion", "gel", "bath", "oil", "dermal"),
        "skin",
    ),
}
# A daily dose schedule suggests oral use, but only when no route is named anywhere.
ORAL_SCHEDULE = gated(
    r"\b(?:once|twice|three times) (?:a )?daily\b|\bmg/(?:day|d)\b|\bmg (?:per day|daily|a day)\b|"
    r"\bg/day\b|\bmg/kg (?:per day|daily)\b",
    *("daily", "/day", "mg/d", "per day", "a day"),
)
# A route adjective followed by another drug or device ("oral paracetamol", "intravenous
# access") is not how magnesium was given.
_ADJECTIVE = re.compile(
    r"(?:oral|intravenous|iv|i\.v\.|intramuscular|im|i\.m\.|topical|transdermal)"
)
_NEXT_WORD = re.compile(r"\s+([a-z][a-z-]*)")
_OTHER_THING_NEXT = re.compile(
    r"access|lines?|cannula\w*|catheters?|fluids?|hydration|analgesics?|paracetamol|"
    r"acetaminophen|ibuprofen|nsaids?|aspirin|triptans?|\w+triptan|metoclopramide|"
    r"prochlorperazine|chlorpromazine|dexamethasone|ketorolac|valproate|opioids?|morphine|"
    r"steroids?|corticosteroids?|contraceptives?|caffeine|antiemetics?|medications?|drugs?|"
    r"dihydroergotamine|dhe|propofol|lidocaine|ketamine|antibiotics?|iron|zinc|calcium|glucose"
)
_MAGNESIUM = re.compile(r"\bmagnesium\b|(?-i:\bMg)|\bepsom\b", re.I)
# Salts taken by mouth: a study giving one, with no route named, gave it orally.
_ORAL_SALTS = frozenset(ORAL_FORMS)


def find_routes(
    sentences: list[Sentence],
    forms: tuple[str, ...],
    *,
    is_review: bool,
    intake_measured: bool,
    supplement_given: bool,
) -> list[Tag]:
    """Route tags with provenance (text first, then derived from forms)."""
    patterns = live(ROUTE_PATTERNS, sentences)
    found: dict[str, Tag] = {}
    if supplement_given:
        hypothetical = hypothetical_gate(sentences)
        for sentence in sentences:
            if not _MAGNESIUM.search(sentence.text):
                continue
            if not is_review and is_hypothetical(sentence, hypothetical):
                continue
            for route, pattern in patterns.items():
                if route in found:
                    continue
                for match in pattern.finditer(sentence.text, sentence.lower):
                    if not _applies_to_magnesium(sentence.lower, match):
                        continue
                    if is_review or not is_cited(sentence, match.start(), match.end()):
                        text = snippet(sentence.text, match.start(), match.end())
                        found[route] = Tag("route", route, sentence.field, text)
                        break
    if supplement_given and not found:
        for sentence in sentences:
            schedule = ORAL_SCHEDULE.search(sentence.text, sentence.lower)
            if schedule and _MAGNESIUM.search(sentence.text):
                text = snippet(sentence.text, schedule.start(), schedule.end())
                found["oral"] = Tag("route", "oral", sentence.field, text)
                break
    if intake_measured:
        found["dietary"] = Tag("route", "dietary", "derived", "magnesium from diet or water intake")
    if supplement_given and "oral" not in found:
        oral_salts = sorted(_ORAL_SALTS.intersection(forms))
        if oral_salts:
            reason = f"oral salt given: {', '.join(oral_salts)}"
            found["oral"] = Tag("route", "oral", "derived", reason)
    return [found[route] for route in ROUTES if route in found]


def _applies_to_magnesium(lower: str, match: re.Match[str]) -> bool:
    """False when a route adjective qualifies something else ("oral analgesics")."""
    if not _ADJECTIVE.fullmatch(match.group(0)):
        return True
    following = _NEXT_WORD.match(lower, match.end())
    if following is None:
        return True
    return not _OTHER_THING_NEXT.fullmatch(following.group(1))
