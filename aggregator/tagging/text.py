"""Text helpers shared by every vocabulary: sentence splitting, section categories, context cues
(cited/background, hypothetical, negated) and provenance snippets.

The tagger reads an article as a list of :class:`Sentence` objects. Each sentence knows which
field it came from (title or abstract) and, for structured abstracts, the NLM section category,
so rules can prefer what the METHODS say over what the BACKGROUND cites.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from aggregator.article import Article

SNIPPET_MAX = 160

# NLM section labels (and common author labels) mapped to a small set of categories.
_LABEL_CATEGORIES: dict[str, str] = {
    "BACKGROUND": "BACKGROUND",
    "INTRODUCTION": "BACKGROUND",
    "CONTEXT": "BACKGROUND",
    "RATIONALE": "BACKGROUND",
    "OBJECTIVE": "OBJECTIVE",
    "OBJECTIVES": "OBJECTIVE",
    "AIM": "OBJECTIVE",
    "AIMS": "OBJECTIVE",
    "PURPOSE": "OBJECTIVE",
    "METHODS": "METHODS",
    "METHOD": "METHODS",
    "DESIGN": "METHODS",
    "SETTING": "METHODS",
    "PARTICIPANTS": "METHODS",
    "PATIENTS": "METHODS",
    "INTERVENTIONS": "METHODS",
    "MATERIALS AND METHODS": "METHODS",
    "PATIENTS AND METHODS": "METHODS",
    "STUDY DESIGN": "METHODS",
    "CASE PRESENTATION": "METHODS",
    "CASE REPORT": "METHODS",
    "DATA SOURCES": "METHODS",
    "METHODS AND RESULTS": "METHODS",
    "SUBJECTS AND METHODS": "METHODS",
    "MATERIAL AND METHODS": "METHODS",
    "SEARCH METHODS": "METHODS",
    "SEARCH STRATEGY": "METHODS",
    "SELECTION CRITERIA": "METHODS",
    "DATA COLLECTION AND ANALYSIS": "METHODS",
    "DATA EXTRACTION": "METHODS",
    "STUDY SELECTION": "METHODS",
    "MAIN OUTCOME MEASURES": "METHODS",
    "MEASUREMENTS": "METHODS",
    "IMPORTANCE": "BACKGROUND",
    "RESULTS": "RESULTS",
    "FINDINGS": "RESULTS",
    "MAIN RESULTS": "RESULTS",
    "MEASUREMENTS AND MAIN RESULTS": "RESULTS",
    "AUTHORS' CONCLUSIONS": "CONCLUSIONS",
    "CONCLUSIONS AND RELEVANCE": "CONCLUSIONS",
    "CONCLUSION": "CONCLUSIONS",
    "CONCLUSIONS": "CONCLUSIONS",
    "INTERPRETATION": "CONCLUSIONS",
    "DISCUSSION": "CONCLUSIONS",
}

# "vitamin C." ends a sentence although "C." looks like an initial.
_VITAMIN_END = re.compile(r"\bvitamins? [A-Ka-k]\.$")
_LABEL_PREFIX = re.compile(r"^\s*([A-Z][A-Z &/'-]{2,40}):\s+")
# A section label in a flat abstract, in capitals or capitalised ("Methods:"), opening a sentence.
_INLINE_LABEL = re.compile(r"^\s*([A-Z][A-Za-z &/'-]{2,40}):\s+")
# The same label in capitals without its colon, as some exports print it ("RESULTS Serum ...").
_BARE_LABEL = re.compile(
    r"^\s*((?:MATERIALS?|PATIENTS|SUBJECTS) AND METHODS|BACKGROUND|INTRODUCTION|OBJECTIVES?|AIMS?"
    r"|PURPOSE|METHODS?|DESIGN|SETTING|RESULTS|FINDINGS|CONCLUSIONS?|INTERPRETATION)\s+(?=[A-Z])"
)
_SENTENCE_END = re.compile(r"[.!?](?=\s+[\"'(\[]?[A-Z0-9])")
# Tokens that end with a full stop without ending the sentence.
_ABBREVIATIONS = frozenset(
    {"vs", "e.g", "i.e", "i.v", "i.m", "et al", "al", "dr", "approx", "fig", "no", "mg", "ca", "cf"}
)


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence of the title or abstract, with its section category when known."""

    field: str  # "title" or "abstract"
    text: str
    category: str | None = None  # BACKGROUND, OBJECTIVE, METHODS, RESULTS, CONCLUSIONS
    lower: str = dataclasses.field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.lower:
            object.__setattr__(self, "lower", lowercase(self.text))


# Hyphens and minus signs that publishers print in place of "-" ("cross‐sectional",
# "double‐blind", "magnesium‐citrate"): rules see the ASCII hyphen (one character for one).
_HYPHENS = str.maketrans(
    {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2212": "-"}
)


def lowercase(text: str) -> str:
    """Lower-cased text with the same length, so match offsets apply to the original too.
    Typographic hyphens become "-"."""
    lowered = text.lower()
    if len(lowered) != len(text):
        # A few characters (e.g. dotted capital I) lower-case to two; keep those as they are.
        lowered = "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)
    if lowered.isascii():
        return lowered
    return lowered.translate(_HYPHENS)


@dataclass(frozen=True, slots=True)
class Gated:
    """A regex matched against lower-cased text, plus literals at least one of which any match
    contains.

    Python's regex engine is several times slower on case-insensitive alternations, so rules are
    compiled in lower case and run on ``Sentence.lower``; checking the literals with ``in`` first
    skips almost every sentence a rule cannot match (the tagger must handle thousands of articles
    a second). Match offsets are valid for the original text, which gives the snippet.
    """

    regex: re.Pattern[str]
    keywords: tuple[str, ...]
    keyword_set: frozenset[str] = dataclasses.field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.keyword_set:
            object.__setattr__(self, "keyword_set", frozenset(self.keywords))

    def may_match(self, lower: str) -> bool:
        # A plain loop: any() over a generator costs noticeably more on this hot path.
        for keyword in self.keywords:  # noqa: SIM110
            if keyword in lower:
                return True
        return False

    def narrowed(self, whole_lower: str, index: LiteralIndex | None = None) -> Gated | None:
        """This rule with only the literals present in ``whole_lower`` (None if none is): later
        per-sentence checks then test one or two literals instead of dozens. ``index`` (built
        for ``whole_lower``) answers presence without rescanning the text per literal."""
        if index is None:
            present = tuple(keyword for keyword in self.keywords if keyword in whole_lower)
        else:
            present = index.present_among(self.keyword_set, self.keywords)
        return Gated(self.regex, present) if present else None

    def finditer(self, text: str, lower: str | None = None) -> Iterator[re.Match[str]]:
        lowered = lowercase(text) if lower is None else lower
        if self.may_match(lowered):
            return self.regex.finditer(lowered)
        return iter(())

    def search(self, text: str, lower: str | None = None) -> re.Match[str] | None:
        lowered = lowercase(text) if lower is None else lower
        if self.may_match(lowered):
            return self.regex.search(lowered)
        return None


# Every gate literal of every rule module, registered by gated() as the modules are imported.
_GATE_LITERALS: set[str] = set()


@dataclass(frozen=True, slots=True)
class _LiteralScanner:
    """One regex finding every registered literal in a text in a single pass.

    The alternation is a trie (shared prefixes factored out, longer continuations tried first),
    so at each position the engine follows one path and stops at the longest literal starting
    there; the shorter literals starting there are its prefixes (``prefixes``). One scan costs
    about a third of testing several hundred literals with ``in`` one by one.
    """

    regex: re.Pattern[str]
    prefixes: dict[str, tuple[str, ...]]
    literals: frozenset[str]


def _trie_pattern(literals: Iterable[str]) -> str:
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for literal in literals:
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict) -> str:  # type: ignore[type-arg]
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


@functools.lru_cache(maxsize=2)
def _scanner(literals: frozenset[str]) -> _LiteralScanner:
    prefixes = {
        literal: tuple(literal[:n] for n in range(1, len(literal) + 1) if literal[:n] in literals)
        for literal in literals
    }
    return _LiteralScanner(re.compile(_trie_pattern(literals)), prefixes, literals)


class LiteralIndex:
    """Which registered gate literals occur in one text, found in a single scan."""

    __slots__ = ("_found", "_literals", "_text")

    def __init__(self, text: str) -> None:
        # Rebuilt only if a rule module registered new literals since the last build.
        scanner = _scanner(_current_literals())
        found: set[str] = set()
        search = scanner.regex.search
        match = search(text)
        while match is not None:
            # Restart one character on: literals may overlap ("red " inside "blood red cell").
            found.update(scanner.prefixes[match.group()])
            match = search(text, match.start() + 1)
        self._found = found
        self._literals = scanner.literals
        self._text = text

    def has_any(self, literals: frozenset[str], ordered: tuple[str, ...]) -> bool:
        """Does any of ``literals`` (also given as ``ordered``) occur in the text?"""
        if literals <= self._literals:
            return not self._found.isdisjoint(literals)
        return any(literal in self._text for literal in ordered)

    def present_among(self, literals: frozenset[str], ordered: tuple[str, ...]) -> tuple[str, ...]:
        """The ``literals`` (also given as ``ordered``) that occur in the text. The order of the
        result is arbitrary: literals only gate, so their order never changes an outcome."""
        if literals <= self._literals:
            return tuple(self._found.intersection(literals))
        # Literals of a rule built without gated(): check them directly.
        return tuple(literal for literal in ordered if literal in self._text)


_literal_snapshot: list[frozenset[str]] = []


def _current_literals() -> frozenset[str]:
    if not _literal_snapshot or len(_literal_snapshot[0]) != len(_GATE_LITERALS):
        _literal_snapshot[:] = [frozenset(_GATE_LITERALS)]
    return _literal_snapshot[0]


class Sentences(list[Sentence]):
    """An article's sentences, plus their joined lower-case text and an index of the gate
    literals in it: every vocabulary narrows its rules against the same text, so it is joined
    and scanned once per article instead of once per rule. Do not mutate."""

    __slots__ = ("_index", "_whole")

    def __init__(self, sentences: Iterable[Sentence] = ()) -> None:
        super().__init__(sentences)
        self._whole: str | None = None
        self._index: LiteralIndex | None = None

    @property
    def whole(self) -> str:
        if self._whole is None:
            self._whole = " ".join(sentence.lower for sentence in self)
        return self._whole

    @property
    def literal_index(self) -> LiteralIndex:
        if self._index is None:
            self._index = LiteralIndex(self.whole)
        return self._index


def whole_lower(sentences: list[Sentence]) -> tuple[str, LiteralIndex | None]:
    """The sentences' lower-case text joined by spaces, and its literal index when there is one."""
    if isinstance(sentences, Sentences):
        return sentences.whole, sentences.literal_index
    return " ".join(sentence.lower for sentence in sentences), None


def narrow(pattern: Gated, sentences: list[Sentence]) -> Gated | None:
    """``pattern`` narrowed to the literals that occur somewhere in ``sentences``."""
    whole, index = whole_lower(sentences)
    return pattern.narrowed(whole, index)


def narrowed_or_never(pattern: Gated, sentences: list[Sentence]) -> Gated:
    """``pattern`` narrowed to the literals in ``sentences``; one that never matches if none is
    there (its literal gate is empty), so callers need no None checks."""
    return narrow(pattern, sentences) or Gated(pattern.regex, ())


def hypothetical_gate(sentences: list[Sentence]) -> Gated:
    """The speculation rule narrowed for these sentences, to pass to :func:`is_hypothetical`."""
    return narrowed_or_never(_HYPOTHETICAL, sentences)


def live(patterns: dict[str, Gated], sentences: list[Sentence]) -> dict[str, Gated]:
    """The patterns whose literals occur somewhere in these sentences (checked once), narrowed
    to those literals."""
    whole, index = whole_lower(sentences)
    narrowed = {name: pattern.narrowed(whole, index) for name, pattern in patterns.items()}
    return {name: pattern for name, pattern in narrowed.items() if pattern is not None}


_ESCAPE = re.compile(r"\\[A-Za-z]")


def lower_pattern(pattern: str) -> str:
    """Lower-case a regex's literals, leaving escapes such as \\B, \\W, \\S, \\D intact."""
    pieces: list[str] = []
    last = 0
    for escape in _ESCAPE.finditer(pattern):
        pieces.append(pattern[last : escape.start()].lower())
        pieces.append(escape.group(0))
        last = escape.end()
    pieces.append(pattern[last:].lower())
    return "".join(pieces)


def gated(pattern: str, *keywords: str) -> Gated:
    """Compile ``pattern`` for lower-cased text, with its gate keywords."""
    lowered = tuple(k.lower() for k in keywords)
    _GATE_LITERALS.update(keyword for keyword in lowered if keyword)  # "" is checked directly
    return Gated(re.compile(lower_pattern(pattern)), lowered)


def collapse(text: str) -> str:
    """Whitespace-normalised text (how snippets are compared with their source)."""
    return " ".join(text.split())


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking on common abbreviations (vs., e.g., i.v.)."""
    sentences: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        head = text[start:end]
        last_token = head.rsplit(None, 1)[-1].rstrip(".!?").lower() if head.strip() else ""
        if last_token in _ABBREVIATIONS or (
            len(last_token) == 1 and last_token.isalpha() and not _VITAMIN_END.search(head)
        ):
            continue
        piece = head.strip()
        if piece:
            sentences.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _looks_like_label(text: str) -> bool:
    """A section heading: at most four words, each capitalised ("Trial registration" too)."""
    words = text.split()
    return 0 < len(words) <= 4 and (text.isupper() or words[0][0].isupper())


def _category_for(label: str | None) -> str | None:
    if not label:
        return None
    return _LABEL_CATEGORIES.get(label.strip().upper())


def article_sentences(article: Article) -> Sentences:
    """Title and abstract as sentences; structured sections keep their category."""
    return Sentences(_article_sentences(article))


def _article_sentences(article: Article) -> list[Sentence]:
    sentences = [Sentence("title", piece) for piece in split_sentences(collapse(article.title))]
    if article.abstract_sections:
        for section in article.abstract_sections:
            category = _category_for(section.category) or _category_for(section.label)
            for piece in split_sentences(collapse(section.text)):
                sentences.append(Sentence("abstract", piece, category))
        return sentences
    for paragraph in re.split(r"\n\s*\n", article.abstract or ""):
        category = None
        prefix = _LABEL_PREFIX.match(paragraph)
        if prefix:
            category = _category_for(prefix.group(1))
            if category:
                paragraph = paragraph[prefix.end() :]
        for piece in split_sentences(collapse(paragraph)):
            # A structured abstract flattened into one paragraph ("BACKGROUND: ... METHODS:
            # ..."): each label opens a section, which lasts until the next label.
            label = _INLINE_LABEL.match(piece) or _BARE_LABEL.match(piece)
            if label and _looks_like_label(label.group(1)):
                named = _category_for(label.group(1)) or next(
                    filter(None, map(_category_for, re.split(r"/| and ", label.group(1)))), None
                )
                category = named  # None: a section we have no category for
                if named:
                    piece = piece[label.end() :]
            sentences.append(Sentence("abstract", piece, category))
    return sentences


def snippet(text: str, start: int, end: int) -> str:
    """The sentence around a match, cut to at most SNIPPET_MAX characters at word boundaries.

    ``text`` is already whitespace-collapsed (sentences are), so the result is a substring of it.
    """
    if len(text) <= SNIPPET_MAX:
        return text
    half = max(0, (SNIPPET_MAX - (end - start)) // 2)
    left = max(0, start - half)
    right = min(len(text), left + SNIPPET_MAX)
    left = max(0, right - SNIPPET_MAX)
    if left > 0:
        space = text.find(" ", left)
        if 0 <= space < start:
            left = space + 1
    if right < len(text):
        space = text.rfind(" ", end, right)
        if space > end:
            right = space
    return text[left:right].strip()


# --- context cues -----------------------------------------------------------------------------

# A clause ends at these; the "before" window of a match never crosses them.
_CLAUSE_BREAK = re.compile(
    lower_pattern(
        r"[;:,()]|\b(?:but|whereas|while|although|though|however|so|therefore|thus|hence|yet)\b"
    )
)
_STRONG_BREAK = re.compile(
    lower_pattern(
        r"[;:]|\b(?:but|whereas|while|although|though|however|therefore|thus|hence|yet)\b"
    )
)

# Words just before a mention that mark it as cited, contrasted or absent rather than studied.
_CITED_BEFORE = re.compile(
    lower_pattern(
        r"\b(?:unlike|in contrast (?:to|with)|rather than|instead of|previous(?:ly)?|prior|earlier|"
        r"past|older(?! (?:adults|people|patients|women|men|persons|individuals|participants))|"
        r"existing|published|several|many|numerous|other|few|no(?: published)?|"
        r"never|lack of|absence of|call(?:s|ed|ing)? for|need(?:s|ed)? for|further|future|"
        r"larger(?! (?:proportion|share|amount|fraction|part|percentage|reduction|increase|"
        r"effect|dose|decrease|improvement|change))|"
        r"well[- ]designed|await\w*|according to|evidence from|reported|(?:a|an|the) (?:19|20)\d\d|"
        r"shown|like|popular|promoted|marketed|advertised|widely used|commonly used|pending|"
        # "patients who had taken part in a randomised study" (a follow-up of earlier work),
        # "systematic reviews of randomised trials" (the evidence others gathered)
        r"had (?:previously )?(?:taken part|participated|been (?:included|enrolled|randomi[sz]ed))"
        r" in|(?:reviews|meta-analyses) of)\b"
    )
)
# Words just after a mention that mark it as cited or hypothetical.
_CITED_AFTER = re.compile(
    lower_pattern(
        r"^\W{0,3}(?:\w+\W+){0,3}?(?:ha(?:ve|s) (?:been |not been )?(?:shown|reported|suggested|"
        r"demonstrated|found|tested|studied|used|examined|evaluated)|"
        r"(?:is|are) (?:widely |commonly |often |heavily |increasingly )?(?:promoted|marketed|"
        r"advertised|popular|sold)|"
        r"(?:is|are) (?:needed|warranted|required|lacking|scarce|limited|feasible|justified|"
        r"possible|planned|under way|underway)|should be|would be|"
        r"(?:is|are|remains?) (?:the |a )?(?:first-line|standard|established|recommended|usual|"
        r"conventional|mainstay)|"
        r"used in (?:previous|earlier|prior|most|other)|in (?:previous|earlier|prior|other) "
        r"(?:trials|studies))"
    )
)
_SELF_BEFORE = re.compile(
    lower_pattern(r"\b(?:this|we|our|the present|the current|here|herein)\b(?:\W+\w+){0,5}\W*$")
)
_HYPOTHETICAL = gated(
    r"\b(?:may|might|could|should|would|suggest\w*|warrant\w*|consider\w*|future|further|"
    r"potential(?:ly)?|possibl[ey]|propos\w*|hypothes\w*|if|whether)\b",
    *("may", "might", "could", "should", "would", "suggest", "warrant", "consider", "future"),
    *("further", "potential", "possib", "propos", "hypothes", "if", "whether"),
)
_NEGATION_BEFORE = re.compile(
    lower_pattern(
        r"\b(?:no|not|non|without|exclud\w*|exclusion|except|absence of|rather than|instead of|"
        r"unlike|never|nor)\b[^.]{0,30}$"
    )
)

_EXCLUDED_AFTER = re.compile(
    r"(?:[\w-]*)(?:\s+[\w-]+){0,4}?\s+(?:were|was|are|is)\s+(?:\w+\s+)?excluded"
)
_CITED_WIDE = re.compile(r"\b(?:unlike|previous(?:ly)?|prior|earlier|no)\b")
_SELF_WIDE = re.compile(r"\b(?:we|this|our)\b")


def clause_before(text: str, start: int, *, strong_only: bool = False) -> str:
    """Text from the last clause break before ``start`` up to ``start`` (pass lower-case text)."""
    # Clauses are short; looking further back only costs time.
    head = text[max(0, start - 160) : start]
    breaker = _STRONG_BREAK if strong_only else _CLAUSE_BREAK
    last = 0
    for match in breaker.finditer(head):
        last = match.end()
    return head[last:]


def clause_after(text: str, end: int) -> str:
    """Text from ``end`` to the next strong clause break."""
    tail = text[end : end + 160]
    match = _STRONG_BREAK.search(tail)
    return tail[: match.start()] if match else tail


def is_cited(sentence: Sentence, start: int, end: int) -> bool:
    """True when a mention refers to other work or a wished-for study, not this article's own."""
    lower = sentence.lower
    before = clause_before(lower, start)
    if _SELF_BEFORE.search(before):
        return False
    if _CITED_BEFORE.search(before):
        return True
    if _CITED_AFTER.search(clause_after(lower, end)):
        return True
    if sentence.category == "BACKGROUND":
        return True
    wide = clause_before(lower, start, strong_only=True)
    return bool(_CITED_WIDE.search(wide)) and not _SELF_WIDE.search(wide)


def is_hypothetical(sentence: Sentence, gate: Gated | None = None) -> bool:
    """True for speculative or recommending sentences (may, should, further trials ...).
    ``gate`` is :func:`hypothetical_gate` of the sentence's article (a faster, same answer)."""
    rule = _HYPOTHETICAL if gate is None else gate
    return rule.search(sentence.text, sentence.lower) is not None


def is_negated(sentence: Sentence, start: int, end: int | None = None) -> bool:
    """True when a negation or exclusion word closely precedes the match in the same clause, or
    (given ``end``) the match is followed by "... were excluded"."""
    if _NEGATION_BEFORE.search(clause_before(sentence.lower, start)):
        return True
    return end is not None and bool(_EXCLUDED_AFTER.match(sentence.lower, end, end + 60))
