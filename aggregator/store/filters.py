"""What to select from the library: the filters of ``query`` and ``export``, the sort orders,
and the web-search text syntax. Pure: no database access (the CLI validates flags with it
before the database layer is loaded)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from aggregator.errors import ConfigError
from aggregator.findings import COMPARATORS, REPORTED_RESULTS
from aggregator.vocab import FORMS, STUDY_TYPES, unknown_value_error

# level: strongest evidence first; year, date: newest first; pmid: ascending; n: largest
# sample size first (articles stating none last).
SORTS: tuple[str, ...] = ("level", "year", "date", "pmid", "n")


class FilterError(ConfigError):
    """A query filter value is invalid (unknown form or study type, bad range, empty text)."""


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """What to select; every field left at its default matches everything.

    Several ``forms`` or ``study_types`` mean "any of them"; different fields must all match.
    """

    forms: tuple[str, ...] = ()
    study_types: tuple[str, ...] = ()
    max_level: int | None = None
    since_year: int | None = None
    until_year: int | None = None
    text: str | None = None
    retracted: bool | None = None
    new_since: dt.datetime | None = None  # first stored at or after (aware UTC)
    direct: bool | None = None
    added_since: dt.date | None = None  # added to PubMed (entry date) on or after
    # What the study found (revision 0009): articles whose abstract states a sample size of
    # at least this many, any of these reported results, any of these comparators.
    min_sample_size: int | None = None
    results: tuple[str, ...] = ()
    comparators: tuple[str, ...] = ()

    def validate(self) -> None:
        """Raise FilterError naming the first value that cannot match anything sensible."""
        for result in self.results:
            if result not in REPORTED_RESULTS:
                raise FilterError(unknown_value_error("result", result, REPORTED_RESULTS))
        for comparator in self.comparators:
            if comparator not in COMPARATORS:
                raise FilterError(unknown_value_error("comparator", comparator, COMPARATORS))
        if self.min_sample_size is not None and self.min_sample_size < 0:
            raise FilterError(f"minimum sample size {self.min_sample_size} is negative")
        for form in self.forms:
            if form not in FORMS:
                raise FilterError(unknown_value_error("form", form, FORMS))
        for study_type in self.study_types:
            if study_type not in STUDY_TYPES:
                raise FilterError(unknown_value_error("study type", study_type, STUDY_TYPES))
        if self.max_level is not None and not 1 <= self.max_level <= 5:
            raise FilterError(f"evidence level {self.max_level} out of range; valid: 1 to 5")
        if (
            self.since_year is not None
            and self.until_year is not None
            and self.since_year > self.until_year
        ):
            raise FilterError(f"since year {self.since_year} is after until year {self.until_year}")
        if self.text is not None:
            fts5_query(self.text)  # raises for text without a single word
        if self.new_since is not None and self.new_since.tzinfo is None:
            raise FilterError("new-since must be a timezone-aware time")


# ---- text search: PubMed-like syntax, parsed once, rendered for FTS5 and for tsquery ------
#
# Words (all must match: a space is AND), "quoted phrases", AND, OR and NOT in capitals, read
# left to right as PubMed does ("a OR b c" is "(a OR b) AND c"; use parentheses), trailing-*
# truncation, and -word (NOT word). British and American spellings of the sulfur salts match
# each other (sulphate = sulfate). Field tags, inner or leading * and NOT without a left side
# are refused with a clear message. Every word is reduced to word characters, so no user input
# ever reaches FTS5 or tsquery as their own syntax (column filters, NEAR, ^, &, |, !, :).

OPERATORS = ("AND", "OR", "NOT")
_WORD_RE = re.compile(r"\w+")
_FIELD_TAG_RE = re.compile(r"\[[^\]]*\]?")
# (prefix, replacement) pairs: a word starting with one also matches the other spelling.
SPELLINGS: tuple[tuple[str, str], ...] = (("sulph", "sulf"), ("sulf", "sulph"))
_MAX_VARIANTS = 8


@dataclass(frozen=True, slots=True)
class Terms:
    """A word (one item) or a phrase (several, in order); ``prefix``: the last is truncated."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    operator: str  # AND, OR, NOT (left and not right)
    left: Node
    right: Node


Node = Terms | Operation


def _tokens(text: str) -> list[tuple[str, Any]]:
    """("(", None), (")", None), ("op", "AND"), ("-", None), ("terms", Terms) in order."""
    out: list[tuple[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            out.append((char, None))
            i += 1
        elif char == "[":
            tag = _FIELD_TAG_RE.match(text, i)
            shown = tag.group(0) if tag else "["
            raise FilterError(
                f"field tags such as {shown} are not supported: --text searches the title "
                "and abstract (for PubMed's fields use `aggregator search`)"
            )
        elif char == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            words = tuple(_WORD_RE.findall(text[i + 1 : end]))
            prefix = end + 1 < n and text[end + 1] == "*"
            if words:
                out.append(("terms", Terms(words, prefix)))
            i = end + (2 if prefix else 1)
        elif char == "-" and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] in '"(_'):
            out.append(("-", None))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"[':
                j += 1
            chunk = text[i:j]
            i = j
            if chunk in OPERATORS:
                out.append(("op", chunk))
                continue
            words = tuple(_WORD_RE.findall(chunk))
            if not words:
                continue  # punctuation only
            # A * touching a word on its right (mag*ium, *sium) is not supported; one after
            # the last word truncates it; others (a lone *, abstract:*) are punctuation.
            if re.search(r"\*\w", chunk):
                raise FilterError(
                    f"{chunk!r}: truncation (*) only at the end of a word, as in magnes*"
                )
            prefix = re.search(r"\w\*+$", chunk) is not None
            out.append(("terms", Terms(words, prefix)))
    return out


def parse_text(text: str) -> Node:
    """The expression of ``text`` (see above); FilterError for what it cannot search."""
    tokens = _tokens(text)
    position = 0

    def expression(depth: int) -> Node | None:
        nonlocal position
        left: Node | None = None
        pending_not: list[Node] = []  # -word before any positive term
        operator = "AND"
        while position < len(tokens):
            kind, value = tokens[position]
            if kind == ")":
                position += 1
                if depth:
                    break
                continue  # a stray ")" at the top level: ignored
            if kind == "op":
                position += 1
                if value == "NOT" and left is None:
                    raise FilterError(
                        f"NOT needs a term before it, as in migraine NOT children: {text!r}"
                    )
                operator = value
                continue
            negate = kind == "-"
            if negate:
                position += 1
                if position >= len(tokens):
                    break
                kind, value = tokens[position]
            node: Node | None
            if kind == "(":
                position += 1
                node = expression(depth + 1)
            elif kind == "terms":
                position += 1
                node = value
            else:
                continue
            if node is None:
                continue
            if negate:
                if left is None:
                    pending_not.append(node)
                else:
                    left = Operation("NOT", left, node)
                operator = "AND"
                continue
            left = node if left is None else Operation(operator, left, node)
            for excluded in pending_not:
                left = Operation("NOT", left, excluded)
            pending_not = []
            operator = "AND"
        return left

    tree = expression(0)
    if tree is None:
        raise FilterError(f"text {text!r} has no word to search for")
    return tree


def spellings(word: str) -> tuple[str, ...]:
    """``word`` and its other spellings (sulphate: sulfate)."""
    lowered = word.lower()
    found = [word]
    for start, other in SPELLINGS:
        if lowered.startswith(start):
            found.append(other + lowered[len(start) :])
            break
    return tuple(found)


def _variants(terms: Terms) -> list[tuple[str, ...]]:
    options: list[tuple[str, ...]] = [()]
    for word in terms.words:
        options = [(*done, alt) for done in options for alt in spellings(word)]
    return options[:_MAX_VARIANTS]


def _flat(node: Node, operator: str) -> list[Node]:
    if isinstance(node, Operation) and node.operator == operator and operator != "NOT":
        return [*_flat(node.left, operator), *_flat(node.right, operator)]
    return [node]


def _render(node: Node, leaf: Any, joiners: dict[str, str], *, top: bool) -> str:
    if isinstance(node, Terms):
        options = [leaf(words, node.prefix) for words in _variants(node)]
        if len(options) == 1:
            return options[0]
        return "(" + joiners["OR"].join(options) + ")"
    if node.operator == "NOT":
        left = _render(node.left, leaf, joiners, top=False)
        right = _render(node.right, leaf, joiners, top=False)
        text = f"({_unwrap(left)}){joiners['NOT']}{right}"
        return text if top else f"({text})"
    parts = [_render(part, leaf, joiners, top=False) for part in _flat(node, node.operator)]
    text = joiners[node.operator].join(parts)
    return text if top else f"({text})"


def _unwrap(text: str) -> str:
    return text[1:-1] if text.startswith("(") and text.endswith(")") and _balanced(text) else text


def _balanced(text: str) -> bool:
    """Whether the outer parentheses of ``text`` enclose all of it."""
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0 and index < len(text) - 1:
            return False
    return True


def _fts5_leaf(words: tuple[str, ...], prefix: bool) -> str:
    return '"' + " ".join(words) + '"' + ("*" if prefix else "")


def _tsquery_leaf(words: tuple[str, ...], prefix: bool) -> str:
    lexemes = [f"'{word}'" for word in words]
    if prefix:
        lexemes[-1] += ":*"
    return " <-> ".join(lexemes) if len(lexemes) > 1 else lexemes[0]


def fts5_query(text: str) -> str:
    """``text`` as an SQLite FTS5 MATCH expression; every term is a quoted string."""
    return _render(
        parse_text(text), _fts5_leaf, {"AND": " AND ", "OR": " OR ", "NOT": " NOT "}, top=True
    )


def tsquery_text(text: str) -> str:
    """``text`` as PostgreSQL tsquery text for to_tsquery('english', ...): the same
    expression as :func:`fts5_query`, every lexeme quoted."""
    return _render(
        parse_text(text), _tsquery_leaf, {"AND": " & ", "OR": " | ", "NOT": " & !"}, top=True
    )
