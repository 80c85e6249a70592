"""Combination products: magnesium in one product with riboflavin, CoQ10, feverfew, ...

Two supplements taken side by side (a factorial trial of magnesium and L-carnitine) are not a
combination product; the wording must say the ingredients are in one preparation.
"""

from __future__ import annotations

import re

from aggregator.tagging.text import Sentence, is_cited, snippet, whole_lower
from aggregator.vocab import Tag

PARTNER_WORDS = (
    *("riboflavin", "vitamin", "q10", "q-10", "coq", "ubiquin", "feverfew", "tanacetum"),
    *("butterbur", "petasites", "ginger", "pyridoxine", "folic", "zinc", "melatonin", "lipoic"),
    *("carnitine", "niacin", "ginkgo", "omega", "5-htp", "magne-b6", "magne b6", "magneb6"),
)
PARTNERS = re.compile(
    r"\briboflavin\b|\bvitamin B2\b|\bco-?enzyme Q-?10\b|\bCoQ-?10\b|\bQ10\b|\bubiquin\w+|"
    r"\bfeverfew\b|\btanacetum\b|\bbutterbur\b|\bpetasites\b|\bginger\b|\bvitamin B6\b|"
    r"\bpyridoxine\b|\bvitamin B12\b|\bfolic acid\b|\bvitamin D3?\b|\bvitamin E\b|\bzinc\b|"
    r"\bmelatonin\b|\b(?:alpha-)?lipoic acid\b|\bL-?carnitine\b|\bniacin\b|\bginkgo\b|"
    r"\bomega-3\b|\b5-HTP\b|\bvitamin B complex\b|\bB vitamins\b|\bMagne[- ]?B6\b",
    re.I,
)
PRODUCT_WORDS = re.compile(
    r"\bcombination (?:of|product|supplement|preparation|formula|tablet|therapy of)\b|"
    r"\bfixed[- ](?:dose|combination)\b|\bproprietary\b|\bnutraceutical\b|\bformulation\b|"
    r"\b(?:preparation|product|supplement|tablet|capsule|formula|compound)s? (?:containing|"
    r"combining|providing|with)\b|\bcontaining\b|\bcombining\b|\bcombined (?:preparation|"
    r"product|supplement|formula|tablet)\b|\bone tablet\b|\bMagne[- ]?B6\b|\bproviding\b",
    re.I,
)
_MAGNESIUM = re.compile(r"\bmagnesium\b|(?-i:\bMg\b)", re.I)


def find_combination(sentences: list[Sentence], *, is_review: bool) -> Tag | None:
    """A provenance tag when the article studies a combination product, else None."""
    whole, _ = whole_lower(sentences)
    # Each sentence is a substring of the whole text: no partner word there means none anywhere.
    if not any(word in whole for word in PARTNER_WORDS):
        return None
    for sentence in sentences:
        text = sentence.text
        if not any(word in sentence.lower for word in PARTNER_WORDS):
            continue
        if not _MAGNESIUM.search(text):
            continue
        partner = PARTNERS.search(text)
        product = PRODUCT_WORDS.search(text)
        if partner is None or product is None:
            continue
        if not is_review and sentence.field != "title" and is_cited(sentence, *product.span()):
            continue
        start = min(partner.start(), product.start())
        end = max(partner.end(), product.end())
        return Tag("combination_product", "true", sentence.field, snippet(text, start, end))
    return None
