"""A PubMed-like query language over an in-memory index.

Supported: bare words and quoted phrases (all fields), field tags ([tiab], [ti], [ab], [mh],
[majr], [pt], [nm], [tw], [la], [au], [ta], [pmid] and their long names), ``*`` truncation,
AND / OR / NOT evaluated left to right as PubMed does, parentheses, and date ranges such as
``2025/01/01:2025/01/07[crdt]`` for [crdt], [edat], [mdat] and [dp]. Unsupported syntax is a
:class:`QuerySyntaxError`, which the server turns into an esearch ``<ERROR>`` reply.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from aggregator.pubmed.fake.records import PubmedRecord

TOKEN_RE = re.compile(r"[a-z0-9]+")

# Text fields are searched word by word (phrases must be adjacent words in one segment).
TEXT_FIELDS = ("ti", "ab", "mhtok", "nmtok", "pttok", "kw", "au_tok", "ta_tok", "ad")
COMPOSITE_FIELDS: dict[str, tuple[str, ...]] = {
    "ti": ("ti",),
    "ab": ("ab",),
    "tiab": ("ti", "ab"),
    "tw": ("ti", "ab", "mhtok", "nmtok", "pttok", "kw"),
    "all": TEXT_FIELDS,
}
# Value fields match a whole normalised value (e.g. one MeSH descriptor), '*' = prefix.
VALUE_FIELDS = ("mh", "majr", "pt", "nm", "la", "au", "ta", "pmid")
DATE_FIELDS = ("crdt", "edat", "mdat", "pdat")

FIELD_ALIASES: dict[str, str] = {
    "tiab": "tiab",
    "title/abstract": "tiab",
    "ti": "ti",
    "title": "ti",
    "ab": "ab",
    "abstract": "ab",
    "mh": "mh",
    "mesh": "mh",
    "mesh terms": "mh",
    "mh:noexp": "mh",
    "mesh terms:noexp": "mh",
    "majr": "majr",
    "mesh major topic": "majr",
    "pt": "pt",
    "publication type": "pt",
    "nm": "nm",
    "substance name": "nm",
    "supplementary concept": "nm",
    "tw": "tw",
    "text word": "tw",
    "la": "la",
    "language": "la",
    "au": "au",
    "author": "au",
    "ta": "ta",
    "journal": "ta",
    "all": "all",
    "all fields": "all",
    "pmid": "pmid",
    "uid": "pmid",
    "crdt": "crdt",
    "date - create": "crdt",
    "edat": "edat",
    "date - entry": "edat",
    "date - entrez": "edat",
    "mdat": "mdat",
    "date - modification": "mdat",
    "dp": "pdat",
    "pdat": "pdat",
    "date - publication": "pdat",
    "publication date": "pdat",
}
FIELD_NAMES: dict[str, str] = {
    "tiab": "Title/Abstract",
    "ti": "Title",
    "ab": "Abstract",
    "mh": "MeSH Terms",
    "majr": "MeSH Major Topic",
    "pt": "Publication Type",
    "nm": "Supplementary Concept",
    "tw": "Text Word",
    "la": "Language",
    "au": "Author",
    "ta": "Journal",
    "all": "All Fields",
    "pmid": "UID",
    "crdt": "Date - Create",
    "edat": "Date - Entry",
    "mdat": "Date - Modification",
    "pdat": "Date - Publication",
}
LANGUAGE_NAMES = {
    "eng": "english",
    "fre": "french",
    "ger": "german",
    "spa": "spanish",
    "ita": "italian",
    "jpn": "japanese",
    "chi": "chinese",
    "por": "portuguese",
    "rus": "russian",
}
DATE_RE = re.compile(r"^(\d{4})(?:/(\d{1,2})(?:/(\d{1,2}))?)?$")


class QuerySyntaxError(ValueError):
    """The term cannot be parsed; the message is what esearch puts in <ERROR>."""


def tokens(text: str) -> tuple[str, ...]:
    """Lower-case alphanumeric words of a text."""
    return tuple(TOKEN_RE.findall(text.lower()))


def normalise_value(text: str) -> str:
    return " ".join(tokens(text))


def parse_date_bound(text: str, *, upper: bool) -> dt.date:
    """YYYY, YYYY/MM or YYYY/MM/DD as the first (or, for ``upper``, last) day it covers."""
    match = DATE_RE.match(text.strip())
    if not match:
        raise QuerySyntaxError(f"Invalid date '{text}': use YYYY, YYYY/MM or YYYY/MM/DD")
    year, month, day = (int(g) if g else None for g in match.groups())
    assert year is not None
    try:
        if month is None:
            return dt.date(year, 12, 31) if upper else dt.date(year, 1, 1)
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return dt.date(year, month, last if upper else 1)
        return dt.date(year, month, day)
    except ValueError as exc:
        raise QuerySyntaxError(f"Invalid date '{text}': {exc}") from exc


# ---------------------------------------------------------------------------------------------
# Index


@dataclass(slots=True)
class IndexedRecord:
    record: PubmedRecord
    segments: dict[str, list[tuple[str, ...]]]
    values: dict[str, set[str]]
    dates: dict[str, dt.date]
    sort_key: tuple[dt.datetime, int]


def index_entry(record: PubmedRecord) -> IndexedRecord:
    """Everything the searcher needs from one record, computed once."""
    segs: dict[str, list[tuple[str, ...]]] = {
        "ti": [tokens(record.title)],
        "ab": [tokens(text) for _label, text in record.abstract_texts],
        "mhtok": [tokens(m.descriptor) for m in record.mesh],
        "nmtok": [tokens(name) for _rn, name in record.chemicals],
        "pttok": [tokens(pt) for pt in record.publication_types or ()],
        "kw": [tokens(k) for k in record.keywords],
        "au_tok": [tokens(f"{a.last_name} {a.fore_name} {a.initials}") for a in record.authors],
        "ta_tok": [tokens(record.journal), tokens(record.journal_iso)],
        "ad": [tokens(a.affiliation) for a in record.authors if a.affiliation],
    }
    if record.vernacular_title:
        segs["ti"].append(tokens(record.vernacular_title))
    values: dict[str, set[str]] = {
        "mh": {normalise_value(m.descriptor) for m in record.mesh},
        "majr": {normalise_value(m.descriptor) for m in record.mesh if m.is_major},
        "pt": {normalise_value(pt) for pt in record.publication_types or ()},
        "nm": {normalise_value(name) for _rn, name in record.chemicals},
        "la": {record.language, LANGUAGE_NAMES.get(record.language, record.language)},
        "au": {normalise_value(f"{a.last_name} {a.initials}") for a in record.authors},
        "ta": {normalise_value(record.journal), normalise_value(record.journal_iso)},
        "pmid": {str(record.pmid)},
    }
    dates = {"crdt": record.crdt.date(), "edat": record.edat, "mdat": record.mdat}
    dates["pdat"] = record.pdat
    return IndexedRecord(record, segs, values, dates, (record.crdt, record.pmid))


@dataclass
class SearchIndex:
    """Inverted index over records; add/remove keep it current without a rebuild."""

    entries: dict[int, IndexedRecord] = field(default_factory=dict)
    words: dict[str, dict[str, set[int]]] = field(default_factory=dict)
    value_map: dict[str, dict[str, set[int]]] = field(default_factory=dict)

    def add(self, record: PubmedRecord) -> None:
        if record.pmid in self.entries:
            self.remove(record.pmid)
        entry = index_entry(record)
        self.entries[record.pmid] = entry
        for name, segments in entry.segments.items():
            table = self.words.setdefault(name, {})
            for segment in segments:
                for word in segment:
                    table.setdefault(word, set()).add(record.pmid)
        for name, values in entry.values.items():
            table = self.value_map.setdefault(name, {})
            for value in values:
                table.setdefault(value, set()).add(record.pmid)

    def add_minimal(self, record: PubmedRecord, title_words: tuple[str, ...]) -> None:
        """Index only the title words, PMID and dates: the fast path for bulk filler records."""
        day = record.crdt.date()
        entry = IndexedRecord(
            record,
            {"ti": [title_words]},
            {"pmid": {str(record.pmid)}},
            {"crdt": day, "edat": day, "mdat": day, "pdat": day},
            (record.crdt, record.pmid),
        )
        self.entries[record.pmid] = entry
        table = self.words.setdefault("ti", {})
        for word in title_words:
            table.setdefault(word, set()).add(record.pmid)
        self.value_map.setdefault("pmid", {})[str(record.pmid)] = {record.pmid}

    def remove(self, pmid: int) -> None:
        entry = self.entries.pop(pmid, None)
        if entry is None:
            return
        for name, segments in entry.segments.items():
            for segment in segments:
                for word in segment:
                    self.words[name].get(word, set()).discard(pmid)
        for name, values in entry.values.items():
            for value in values:
                self.value_map[name].get(value, set()).discard(pmid)

    def all_ids(self) -> set[int]:
        return set(self.entries)

    def sorted_ids(self, ids: Iterable[int], sort: str = "") -> list[int]:
        """Most recent first: create date (or publication date for sort=pub_date), then PMID."""
        if sort in ("pub_date", "pubdate"):
            return sorted(ids, key=lambda p: (self.entries[p].dates["pdat"], p), reverse=True)
        return sorted(ids, key=lambda p: self.entries[p].sort_key, reverse=True)

    # -- term matching --------------------------------------------------------------------

    def match_words(self, words: list[str], fields: tuple[str, ...], truncated: bool) -> set[int]:
        result: set[int] = set()
        for name in fields:
            table = self.words.get(name, {})
            candidates: set[int] | None = None
            for position, word in enumerate(words):
                if truncated and position == len(words) - 1:
                    hits: set[int] = set()
                    for key, pmids in table.items():
                        if key.startswith(word):
                            hits |= pmids
                else:
                    hits = table.get(word, set())
                candidates = set(hits) if candidates is None else candidates & hits
                if not candidates:
                    break
            if not candidates:
                continue
            if len(words) == 1:
                result |= candidates
            else:
                result |= {
                    pmid
                    for pmid in candidates
                    if self._has_phrase(self.entries[pmid].segments[name], words, truncated)
                }
        return result

    @staticmethod
    def _has_phrase(segments: list[tuple[str, ...]], words: list[str], truncated: bool) -> bool:
        size = len(words)
        for segment in segments:
            for start in range(len(segment) - size + 1):
                window = segment[start : start + size]
                if list(window[:-1]) != words[:-1]:
                    continue
                last = window[-1]
                if last == words[-1] or (truncated and last.startswith(words[-1])):
                    return True
        return False

    def match_value(self, name: str, value: str, truncated: bool) -> set[int]:
        table = self.value_map.get(name, {})
        if not truncated:
            return set(table.get(value, set()))
        hits: set[int] = set()
        for key, pmids in table.items():
            if key.startswith(value):
                hits |= pmids
        return hits

    def match_dates(self, name: str, low: dt.date, high: dt.date) -> set[int]:
        return {pmid for pmid, entry in self.entries.items() if low <= entry.dates[name] <= high}


# ---------------------------------------------------------------------------------------------
# Query parsing


@dataclass
class Term:
    text: str
    tag: str | None  # canonical field name, None = all fields
    quoted: bool = False

    def translate(self) -> str:
        field_name = FIELD_NAMES[self.tag or "all"]
        if self.tag in DATE_FIELDS:
            return f"{self.text}[{field_name}]"
        if self.text.endswith("*"):
            return f"{self.text}[{field_name}]"
        return f'"{self.text}"[{field_name}]'


@dataclass
class Group:
    first: Node
    rest: list[tuple[str, Node]]  # (operator, operand), evaluated left to right
    parenthesised: bool = False

    def translate(self) -> str:
        text = self.first.translate()
        for operator, operand in self.rest:
            text += f" {operator} {operand.translate()}"
        return f"({text})" if self.parenthesised else text


Node = Term | Group


@dataclass
class _Token:
    kind: str  # "(", ")", "op", "term"
    value: str = ""
    tag: str | None = None
    quoted: bool = False


def _read_tag(term: str, pos: int) -> tuple[str | None, int]:
    """A [tag] at pos (after optional spaces), as (canonical name, new pos)."""
    probe = pos
    while probe < len(term) and term[probe] == " ":
        probe += 1
    if probe >= len(term) or term[probe] != "[":
        return None, pos
    end = term.find("]", probe)
    if end < 0:
        raise QuerySyntaxError(f"Unclosed field tag at position {probe}: '{term[probe:]}'")
    raw = term[probe + 1 : end].strip().lower()
    if raw not in FIELD_ALIASES:
        raise QuerySyntaxError(f"Unknown field tag [{term[probe + 1 : end]}]")
    return FIELD_ALIASES[raw], end + 1


def lex(term: str) -> list[_Token]:
    out: list[_Token] = []
    pos = 0
    while pos < len(term):
        char = term[pos]
        if char.isspace():
            pos += 1
        elif char in "()":
            out.append(_Token(char))
            pos += 1
        elif char == "[":
            raise QuerySyntaxError(f"Field tag without a term at position {pos}")
        elif char == '"':
            end = term.find('"', pos + 1)
            if end < 0:
                raise QuerySyntaxError("Unbalanced quotation marks in term")
            phrase = " ".join(term[pos + 1 : end].split())
            tag, pos = _read_tag(term, end + 1)
            if phrase:
                out.append(_Token("term", phrase, tag, quoted=True))
        else:
            end = pos
            while end < len(term) and not term[end].isspace() and term[end] not in '()"[':
                end += 1
            word = term[pos:end]
            tag, pos = _read_tag(term, end)
            if word in ("AND", "OR", "NOT") and tag is None:
                out.append(_Token("op", word))
                continue
            out.append(_Token("term", word, tag))
            if tag is not None:
                _merge_bare_phrase(out)
    return _merge_quoted_date_ranges(out)


def _merge_bare_phrase(out: list[_Token]) -> None:
    """`magnesium sulfate[tiab]` means the phrase "magnesium sulfate"[tiab], as in PubMed."""
    last = out[-1]
    start = len(out) - 1
    while start > 0:
        prev = out[start - 1]
        if prev.kind != "term" or prev.tag is not None or prev.quoted:
            break
        start -= 1
    if start < len(out) - 1:
        words = [tok.value for tok in out[start:]]
        out[start:] = [_Token("term", " ".join(words), last.tag)]


def _merge_quoted_date_ranges(toks: list[_Token]) -> list[_Token]:
    """`"2025/01/01"[crdt] : "2025/01/07"[crdt]` is the same range as 2025/01/01:2025/01/07."""
    merged: list[_Token] = []
    index = 0
    while index < len(toks):
        tok = toks[index]
        if (
            tok.kind == "term"
            and tok.tag in DATE_FIELDS
            and index + 2 < len(toks)
            and toks[index + 1].kind == "term"
            and toks[index + 1].value == ":"
            and toks[index + 2].tag == tok.tag
        ):
            merged.append(_Token("term", f"{tok.value}:{toks[index + 2].value}", tok.tag))
            index += 3
            continue
        merged.append(tok)
        index += 1
    return merged


def parse_query(term: str) -> Node:
    """Parse a PubMed term into a tree; raises QuerySyntaxError."""
    if not term.strip():
        raise QuerySyntaxError("Empty term and query_key - nothing todo")
    toks = lex(term)
    if not toks:
        raise QuerySyntaxError("Empty term and query_key - nothing todo")
    node, pos = _parse_group(toks, 0, parenthesised=False)
    if pos != len(toks):
        raise QuerySyntaxError("Unbalanced parentheses in term: unexpected ')'")
    return node


def _parse_group(toks: list[_Token], pos: int, *, parenthesised: bool) -> tuple[Node, int]:
    first, pos = _parse_unit(toks, pos)
    rest: list[tuple[str, Node]] = []
    while pos < len(toks) and toks[pos].kind != ")":
        operator = "AND"
        if toks[pos].kind == "op":
            operator = toks[pos].value
            pos += 1
        operand, pos = _parse_unit(toks, pos)
        rest.append((operator, operand))
    if not rest and isinstance(first, Group):
        first.parenthesised = first.parenthesised or parenthesised
        return first, pos
    return Group(first, rest, parenthesised), pos


def _parse_unit(toks: list[_Token], pos: int) -> tuple[Node, int]:
    if pos >= len(toks):
        raise QuerySyntaxError("Term ends with an operator or an opening parenthesis")
    tok = toks[pos]
    if tok.kind == "(":
        node, pos = _parse_group(toks, pos + 1, parenthesised=True)
        if pos >= len(toks) or toks[pos].kind != ")":
            raise QuerySyntaxError("Unbalanced parentheses in term: missing ')'")
        return node, pos + 1
    if tok.kind == ")":
        raise QuerySyntaxError("Unbalanced parentheses in term: unexpected ')'")
    if tok.kind == "op":
        raise QuerySyntaxError(f"Operator {tok.value} without a term before it")
    if tok.tag in DATE_FIELDS:
        _date_range(tok.value)  # validate early so the whole query fails, as esearch does
    return Term(tok.value, tok.tag, tok.quoted), pos + 1


def _date_range(text: str) -> tuple[dt.date, dt.date]:
    if ":" in text:
        low_text, high_text = text.split(":", 1)
    else:
        low_text = high_text = text
    return parse_date_bound(low_text, upper=False), parse_date_bound(high_text, upper=True)


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class Evaluation:
    ids: set[int]
    not_found: list[str] = field(default_factory=list)  # leaf terms matching nothing at all


def evaluate(node: Node, index: SearchIndex) -> Evaluation:
    """The set of PMIDs matching the tree, plus leaf phrases that matched no record."""
    evaluation = Evaluation(set())
    evaluation.ids = _eval(node, index, evaluation.not_found)
    return evaluation


def _eval(node: Node, index: SearchIndex, not_found: list[str]) -> set[int]:
    if isinstance(node, Term):
        hits = _eval_term(node, index)
        if not hits and node.tag not in DATE_FIELDS:
            not_found.append(node.text)
        return hits
    result = _eval(node.first, index, not_found)
    for operator, operand in node.rest:
        other = _eval(operand, index, not_found)
        if operator == "AND":
            result = result & other
        elif operator == "OR":
            result = result | other
        else:
            result = result - other
    return result


def _eval_term(term: Term, index: SearchIndex) -> set[int]:
    tag = term.tag or "all"
    if tag in DATE_FIELDS:
        low, high = _date_range(term.text)
        return index.match_dates(tag, low, high)
    truncated = term.text.endswith("*")
    text = term.text.rstrip("*")
    if tag in VALUE_FIELDS:
        value = normalise_value(text)
        if tag == "la":
            value = value.lower()
        return index.match_value(tag, value, truncated) if value else set()
    words = list(tokens(text))
    if not words:
        return set()
    return index.match_words(words, COMPOSITE_FIELDS[tag], truncated)
