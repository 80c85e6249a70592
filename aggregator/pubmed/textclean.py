"""Flatten PubMed inline markup (``<i>``, ``<sup>``, MathML, ...) into plain text.

PubMed titles and abstracts may hold HTML-like tags and MathML. The text is kept exactly as
the characters are: a tag adds no space and removes none, so ``at the<i>TERT</i>gene`` becomes
``at theTERTgene`` (what the record literally says) and ``LE<sub>min</sub>`` stays one word.
Only runs of whitespace are collapsed to one space.
"""

from __future__ import annotations

from lxml import etree

MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"
_MATHML_PREFIX = "{" + MATHML_NAMESPACE + "}"
# MathML elements whose text is what a reader sees; everything else in <math> is layout, and
# its own text and tails are only the indentation of pretty-printed XML.
_MATH_TOKENS = frozenset({"mi", "mn", "mo", "ms"})
_MATH_VERBATIM = frozenset({"mtext"})
# Alternative encodings (TeX, content MathML) would repeat the formula.
_MATH_SKIPPED = frozenset({"annotation", "annotation-xml"})


def normalise_space(text: str) -> str:
    """Collapse every run of whitespace to one space and trim both ends."""
    return " ".join(text.split())


def element_text(element: etree._Element | None) -> str:
    """Plain text of ``element`` and everything inside it, whitespace normalised."""
    if element is None:
        return ""
    if len(element) == 0:  # fast path: most fields carry no markup (inlined: it is hot)
        text = element.text
        return " ".join(text.split()) if text else ""
    parts: list[str] = []
    _collect(element, parts)
    return normalise_space("".join(parts))


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def _collect(element: etree._Element, parts: list[str]) -> None:
    text = element.text
    if text:
        parts.append(text)
    for child in element:
        tag = child.tag
        if isinstance(tag, str):
            if tag.startswith(_MATHML_PREFIX) or tag == "math":
                # A formula is set off by its own tail/preceding text; add nothing around it.
                _collect_math(child, parts)
            elif len(child):
                _collect(child, parts)
            else:  # <i>, <sup>, ... holding only text: no recursion needed (hot)
                text = child.text
                if text:
                    parts.append(text)
        elif tag is etree.Entity:
            # An entity the parser was told not to resolve: keep its reference text visible
            # rather than silently dropping it.
            parts.append(child.text or "")
        # Comments and processing instructions contribute no text, but their tails do.
        text = child.tail
        if text:
            parts.append(text)


def _collect_math(element: etree._Element, parts: list[str]) -> None:
    tag = element.tag
    if not isinstance(tag, str):
        return
    name = _local_name(tag)
    if name in _MATH_SKIPPED:
        return
    if name in _MATH_TOKENS:
        parts.append((element.text or "").strip())
    elif name in _MATH_VERBATIM:
        parts.append(element.text or "")
    for child in element:
        _collect_math(child, parts)
