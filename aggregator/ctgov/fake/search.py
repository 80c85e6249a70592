"""What the fake registry understands of a ``/api/v2/studies`` request: query areas, filters,
``fields=`` projection and sorting. Pure functions over study JSON objects.

Query areas (``query.cond``, ``query.intr``, ``query.term``) use simple word matching, not
the real Essie engine:

* an expression is words, ``"quoted phrases"``, ``AND``, ``OR``, ``NOT`` (upper case) and
  parentheses; words next to each other are ANDed; ``OR`` binds looser than ``AND``;
* text is lower-cased and split into letters/digits words; a query word matches a text word
  that is equal to it or differs only by a plural ``s``/``es`` ("migraine" finds
  "Migraines"); there is no other stemming or synonym expansion ("glycinate" does not find
  "bisglycinate"); a phrase matches consecutive words;
* ``query.cond`` searches conditions, keywords, brief/official title, acronym and NCT id;
  ``query.intr`` intervention names, other names, types and descriptions plus arm group
  labels, descriptions and intervention names; ``query.term`` every string in
  ``protocolSection``.

Filters: ``filter.overallStatus`` (comma list of status values), ``filter.ids`` (comma list
of NCT ids) and ``filter.advanced`` with exactly one ``AREA[<date area>]RANGE[<from>,<to>]``
for the areas in :data:`DATE_AREAS`, bounds ``MIN``/``MAX`` or ISO dates (``YYYY``,
``YYYY-MM``, ``YYYY-MM-DD``), both inclusive; a partial study date counts as its first day.
An area name the real API does not have is refused like the real one ("Unknown area name");
a real area the fake does not implement (``AREA[Phase]PHASE2``) is refused saying so.

``fields=``: comma- or pipe-separated; each item is a dotted path (``protocolSection.
statusModule``, ``protocolSection.armsInterventionsModule.interventions.name``; lists are
walked into), or one of the piece names in :data:`PIECES` (case-insensitive): the module
names (``IdentificationModule`` ... ``ReferencesModule``, ``ProtocolSection``,
``ResultsSection``, ``HasResults``) and the leaf pieces listed there (``NCTId``,
``BriefTitle``, ``OverallStatus``, ``StartDate``/``StartDateType``, ``LastUpdatePostDate``,
``Phase``, ``EnrollmentCount``, ``InterventionName``, ``ReferencePMID``, ...). As in the
real API the result stays nested under ``protocolSection.<module>``; unknown names are a 400.

``sort``: ``LastUpdatePostDate``, ``StudyFirstPostDate`` or ``NCTId``, with ``:asc`` (default)
or ``:desc``. Without ``sort`` (the real API's relevance order) the fake returns NCT id order.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aggregator.ctgov.studies import NCT_ID_RE, OVERALL_STATUSES, PartialDate


class RequestError(Exception):
    """The request is wrong: the server answers 400 with this message."""


# -- query expressions ---------------------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(\()|(\))|"([^"]*)"|([^\s()"]+))')
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-cased letter/digit words of a text."""
    return _WORD.findall(text.lower())


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]  # one word, or a phrase


@dataclass(frozen=True)
class _Op:
    op: str  # "AND", "OR", "NOT"
    args: tuple[Any, ...]


def parse_expression(text: str) -> _Term | _Op:
    """Parse a query expression; RequestError for unbalanced parentheses or dangling operators."""
    tokens: list[tuple[str, str]] = []
    position = 0
    stripped = text.strip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if match is None or match.end() == position:
            raise RequestError(f"cannot parse query {text!r} near {stripped[position:]!r}")
        position = match.end()
        opened, closed, phrase, word = match.groups()
        if opened:
            tokens.append(("(", "("))
        elif closed:
            tokens.append((")", ")"))
        elif phrase is not None:
            tokens.append(("term", phrase))
        elif word in ("AND", "OR", "NOT"):
            tokens.append((word, word))
        else:
            tokens.append(("term", word))
    if not tokens:
        raise RequestError("empty query expression")
    parser = _Parser(tokens, text)
    tree = parser.parse_or()
    if parser.index != len(tokens):
        raise RequestError(f"cannot parse query {text!r}: unexpected {tokens[parser.index][1]!r}")
    return tree


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.index = 0
        self.text = text

    def _peek(self) -> str | None:
        return self.tokens[self.index][0] if self.index < len(self.tokens) else None

    def parse_or(self) -> _Term | _Op:
        args = [self.parse_and()]
        while self._peek() == "OR":
            self.index += 1
            args.append(self.parse_and())
        return args[0] if len(args) == 1 else _Op("OR", tuple(args))

    def parse_and(self) -> _Term | _Op:
        args = [self.parse_not()]
        while self._peek() in ("AND", "NOT", "term", "("):
            if self._peek() == "AND":
                self.index += 1
            args.append(self.parse_not())
        return args[0] if len(args) == 1 else _Op("AND", tuple(args))

    def parse_not(self) -> _Term | _Op:
        if self._peek() == "NOT":
            self.index += 1
            return _Op("NOT", (self.parse_not(),))
        return self.parse_atom()

    def parse_atom(self) -> _Term | _Op:
        kind = self._peek()
        if kind == "(":
            self.index += 1
            inner = self.parse_or()
            if self._peek() != ")":
                raise RequestError(f"cannot parse query {self.text!r}: missing ')'")
            self.index += 1
            return inner
        if kind == "term":
            value = self.tokens[self.index][1]
            self.index += 1
            found = tuple(words(value))
            if not found:
                raise RequestError(f"cannot parse query {self.text!r}: empty term {value!r}")
            return _Term(found)
        shown = "end of query" if kind is None else repr(self.tokens[self.index][1])
        raise RequestError(f"cannot parse query {self.text!r}: unexpected {shown}")


def _word_matches(word: str, text_words: set[str]) -> bool:
    if word in text_words or f"{word}s" in text_words or f"{word}es" in text_words:
        return True
    return (word.endswith("es") and word[:-2] in text_words) or (
        word.endswith("s") and word[:-1] in text_words
    )


def _phrase_matches(phrase: tuple[str, ...], sequence: list[str]) -> bool:
    size = len(phrase)
    for start in range(len(sequence) - size + 1):
        if all(_word_matches(w, {sequence[start + i]}) for i, w in enumerate(phrase)):
            return True
    return False


def matches(tree: _Term | _Op, sequence: list[str], word_set: set[str]) -> bool:
    """Does a parsed expression match a text given as its word sequence and word set?"""
    if isinstance(tree, _Term):
        if len(tree.words) == 1:
            return _word_matches(tree.words[0], word_set)
        return _phrase_matches(tree.words, sequence)
    if tree.op == "AND":
        return all(matches(arg, sequence, word_set) for arg in tree.args)
    if tree.op == "OR":
        return any(matches(arg, sequence, word_set) for arg in tree.args)
    return not matches(tree.args[0], sequence, word_set)


# -- search areas -------------------------------------------------------------------------------


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def area_text(study: Mapping[str, Any], area: str) -> str:
    """The text one query area searches ("cond", "intr" or "term"), as one string."""
    protocol = study.get("protocolSection") or {}
    if area == "term":
        return " \n ".join(_strings(protocol))
    if area == "cond":
        ident = protocol.get("identificationModule") or {}
        conditions = protocol.get("conditionsModule") or {}
        parts = [
            *(conditions.get("conditions") or []),
            *(conditions.get("keywords") or []),
            *(ident.get(key) or "" for key in ("briefTitle", "officialTitle", "acronym", "nctId")),
        ]
        return " \n ".join(parts)
    arms = protocol.get("armsInterventionsModule") or {}
    parts = []
    for item in arms.get("interventions") or []:
        parts.append((item.get("type") or "").replace("_", " "))
        parts.extend(item.get(key) or "" for key in ("name", "description"))
        parts.extend(item.get("otherNames") or [])
    for group in arms.get("armGroups") or []:
        parts.extend(group.get(key) or "" for key in ("label", "description"))
        parts.extend(group.get("interventionNames") or [])
    return " \n ".join(parts)


QUERY_AREAS = {"query.cond": "cond", "query.intr": "intr", "query.term": "term"}


@dataclass(frozen=True)
class Query:
    """The parsed selection of one request: query areas and filters."""

    areas: tuple[tuple[str, _Term | _Op], ...] = ()
    statuses: frozenset[str] | None = None
    ids: frozenset[str] | None = None
    date_area: str | None = None
    date_low: dt.date | None = None
    date_high: dt.date | None = None

    def accepts(self, study: Mapping[str, Any]) -> bool:
        protocol = study.get("protocolSection") or {}
        ident = protocol.get("identificationModule") or {}
        status = (protocol.get("statusModule") or {}).get("overallStatus")
        if self.ids is not None and ident.get("nctId") not in self.ids:
            return False
        if self.statuses is not None and status not in self.statuses:
            return False
        if self.date_area is not None:
            day = study_date(study, self.date_area)
            if day is None:
                return False
            if self.date_low is not None and day < self.date_low:
                return False
            if self.date_high is not None and day > self.date_high:
                return False
        for area, tree in self.areas:
            sequence = words(area_text(study, area))
            if not matches(tree, sequence, set(sequence)):
                return False
        return True


def parse_query(params: Mapping[str, str]) -> Query:
    """The selection parameters of a request; RequestError for what the fake refuses."""
    areas = []
    for name, area in QUERY_AREAS.items():
        value = params.get(name, "")
        if value.strip():
            areas.append((area, parse_expression(value)))
    statuses = None
    if params.get("filter.overallStatus", "").strip():
        statuses = frozenset(_comma_list(params["filter.overallStatus"]))
        unknown = sorted(statuses - set(OVERALL_STATUSES))
        if unknown:
            raise RequestError(f"filter.overallStatus: unknown status {unknown[0]!r}")
    ids = None
    if params.get("filter.ids", "").strip():
        ids = frozenset(value.upper() for value in _comma_list(params["filter.ids"]))
        bad = sorted(value for value in ids if not NCT_ID_RE.match(value))
        if bad:
            raise RequestError(f"filter.ids: {bad[0]!r} is not an NCT number")
    date_area = low = high = None
    if params.get("filter.advanced", "").strip():
        date_area, low, high = parse_advanced(params["filter.advanced"])
    return Query(tuple(areas), statuses, ids, date_area, low, high)


def _comma_list(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,|]", value) if part.strip()]


# -- filter.advanced ----------------------------------------------------------------------------

# area name -> statusModule date struct the fake can filter on
DATE_AREAS = {
    "LastUpdatePostDate": "lastUpdatePostDateStruct",
    "StudyFirstPostDate": "studyFirstPostDateStruct",
    "ResultsFirstPostDate": "resultsFirstPostDateStruct",
    "StartDate": "startDateStruct",
    "PrimaryCompletionDate": "primaryCompletionDateStruct",
    "CompletionDate": "completionDateStruct",
}
# Real search areas the fake knows by name but does not implement in filter.advanced.
OTHER_REAL_AREAS = frozenset(
    {
        "Phase",
        "OverallStatus",
        "StudyType",
        "Condition",
        "Keyword",
        "InterventionName",
        "InterventionType",
        "InterventionOtherName",
        "LeadSponsorName",
        "NCTId",
        "BriefTitle",
        "OfficialTitle",
        "EnrollmentCount",
        "HasResults",
        "LocationCountry",
        "DesignAllocation",
        "DesignMasking",
        "ReferencePMID",
    }
)
_ADVANCED = re.compile(r"^\s*AREA\[(\w+)\]\s*(.*?)\s*$", re.S)
_RANGE = re.compile(r"^RANGE\[\s*([^,\]]*?)\s*,\s*([^,\]]*?)\s*\]$")


def parse_advanced(text: str) -> tuple[str, dt.date | None, dt.date | None]:
    """``AREA[LastUpdatePostDate]RANGE[2026-11-22,MAX]`` -> (area, low, high)."""
    match = _ADVANCED.match(text)
    if match is None:
        raise RequestError(
            f"filter.advanced {text!r}: the fake server supports only one "
            "AREA[<date area>]RANGE[<from>,<to>] expression"
        )
    area, rest = match.groups()
    if area not in DATE_AREAS:
        if area in OTHER_REAL_AREAS:
            raise RequestError(
                f"filter.advanced: AREA[{area}] is not supported by the fake server (date "
                f"areas only: {', '.join(DATE_AREAS)})"
            )
        raise RequestError(f"Unknown area name: {area}")
    bounds = _RANGE.match(rest)
    if bounds is None:
        raise RequestError(
            f"filter.advanced {text!r}: the fake server supports only RANGE[<from>,<to>] here"
        )
    low = _bound(bounds.group(1), upper=False)
    high = _bound(bounds.group(2), upper=True)
    return DATE_AREAS[area], low, high


def _bound(text: str, *, upper: bool) -> dt.date | None:
    if text.upper() in ("MIN", "MAX", ""):
        return None
    try:
        day = PartialDate.parse(text)
    except ValueError:
        raise RequestError(f"filter.advanced: {text!r} is not a date") from None
    if not upper or day.precision == "day":
        return day.earliest()
    if day.month is None:
        return dt.date(day.year, 12, 31)
    following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def study_date(study: Mapping[str, Any], struct: str) -> dt.date | None:
    """A statusModule date struct's date (partial: its first day), None when absent."""
    status = (study.get("protocolSection") or {}).get("statusModule") or {}
    raw = (status.get(struct) or {}).get("date")
    if not isinstance(raw, str):
        return None
    try:
        return PartialDate.parse(raw).earliest()
    except ValueError:
        return None


# -- sorting ------------------------------------------------------------------------------------

SORT_FIELDS = {
    "LastUpdatePostDate": "lastUpdatePostDateStruct",
    "StudyFirstPostDate": "studyFirstPostDateStruct",
    "NCTId": None,
}


def sort_studies(studies: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    """Order studies for a reply: NCT id order, or by ``sort`` (``Field[:asc|:desc]``)."""
    ordered = sorted(studies, key=nct_id_of)
    if not sort.strip() or sort.strip() == "@relevance":
        return ordered
    if len(_comma_list(sort)) != 1:
        raise RequestError("the fake server sorts by one field only")
    name, _, direction = sort.strip().partition(":")
    direction = direction.lower() or "asc"
    if name not in SORT_FIELDS or direction not in ("asc", "desc"):
        raise RequestError(
            f"sort {sort!r}: the fake server sorts by {', '.join(SORT_FIELDS)} with :asc or :desc"
        )
    struct = SORT_FIELDS[name]
    if struct is None:
        return list(reversed(ordered)) if direction == "desc" else ordered
    dated = [(study_date(study, struct) or dt.date.min, study) for study in ordered]
    dated.sort(key=lambda pair: pair[0], reverse=direction == "desc")  # stable: NCT id ties
    return [study for _, study in dated]


def nct_id_of(study: Mapping[str, Any]) -> str:
    ident = (study.get("protocolSection") or {}).get("identificationModule") or {}
    return str(ident.get("nctId") or "")


# -- fields= ------------------------------------------------------------------------------------

_PS = "protocolSection"
_ID = f"{_PS}.identificationModule"
_ST = f"{_PS}.statusModule"
_DE = f"{_PS}.designModule"
_AI = f"{_PS}.armsInterventionsModule"
_CO = f"{_PS}.conditionsModule"
_RE = f"{_PS}.referencesModule"
_SP = f"{_PS}.sponsorCollaboratorsModule"

# Piece name -> dotted path in the study JSON (lists are walked into).
PIECES: dict[str, str] = {
    "ProtocolSection": _PS,
    "IdentificationModule": _ID,
    "StatusModule": _ST,
    "SponsorCollaboratorsModule": _SP,
    "OversightModule": f"{_PS}.oversightModule",
    "DescriptionModule": f"{_PS}.descriptionModule",
    "ConditionsModule": _CO,
    "DesignModule": _DE,
    "ArmsInterventionsModule": _AI,
    "OutcomesModule": f"{_PS}.outcomesModule",
    "EligibilityModule": f"{_PS}.eligibilityModule",
    "ContactsLocationsModule": f"{_PS}.contactsLocationsModule",
    "ReferencesModule": _RE,
    "ResultsSection": "resultsSection",
    "DerivedSection": "derivedSection",
    "HasResults": "hasResults",
    "NCTId": f"{_ID}.nctId",
    "BriefTitle": f"{_ID}.briefTitle",
    "OfficialTitle": f"{_ID}.officialTitle",
    "Acronym": f"{_ID}.acronym",
    "OverallStatus": f"{_ST}.overallStatus",
    "WhyStopped": f"{_ST}.whyStopped",
    "StartDate": f"{_ST}.startDateStruct.date",
    "StartDateType": f"{_ST}.startDateStruct.type",
    "PrimaryCompletionDate": f"{_ST}.primaryCompletionDateStruct.date",
    "PrimaryCompletionDateType": f"{_ST}.primaryCompletionDateStruct.type",
    "CompletionDate": f"{_ST}.completionDateStruct.date",
    "CompletionDateType": f"{_ST}.completionDateStruct.type",
    "StudyFirstPostDate": f"{_ST}.studyFirstPostDateStruct.date",
    "StudyFirstPostDateType": f"{_ST}.studyFirstPostDateStruct.type",
    "LastUpdatePostDate": f"{_ST}.lastUpdatePostDateStruct.date",
    "LastUpdatePostDateType": f"{_ST}.lastUpdatePostDateStruct.type",
    "ResultsFirstPostDate": f"{_ST}.resultsFirstPostDateStruct.date",
    "LeadSponsorName": f"{_SP}.leadSponsor.name",
    "BriefSummary": f"{_PS}.descriptionModule.briefSummary",
    "Condition": f"{_CO}.conditions",
    "Keyword": f"{_CO}.keywords",
    "StudyType": f"{_DE}.studyType",
    "Phase": f"{_DE}.phases",
    "DesignAllocation": f"{_DE}.designInfo.allocation",
    "DesignMasking": f"{_DE}.designInfo.maskingInfo.masking",
    "EnrollmentInfo": f"{_DE}.enrollmentInfo",
    "EnrollmentCount": f"{_DE}.enrollmentInfo.count",
    "EnrollmentType": f"{_DE}.enrollmentInfo.type",
    "InterventionType": f"{_AI}.interventions.type",
    "InterventionName": f"{_AI}.interventions.name",
    "InterventionDescription": f"{_AI}.interventions.description",
    "InterventionOtherName": f"{_AI}.interventions.otherNames",
    "ArmGroupLabel": f"{_AI}.armGroups.label",
    "ArmGroupType": f"{_AI}.armGroups.type",
    "ArmGroupDescription": f"{_AI}.armGroups.description",
    "ArmGroupInterventionName": f"{_AI}.armGroups.interventionNames",
    "ReferencePMID": f"{_RE}.references.pmid",
    "ReferenceType": f"{_RE}.references.type",
    "ReferenceCitation": f"{_RE}.references.citation",
}
_PIECES_LOWER = {name.lower(): path for name, path in PIECES.items()}
_TOP_LEVEL = (
    "protocolSection",
    "resultsSection",
    "annotationSection",
    "documentSection",
    "derivedSection",
    "hasResults",
)


def parse_fields(text: str) -> tuple[tuple[str, ...], ...]:
    """``fields=`` value -> dotted paths split in parts; RequestError for unknown names."""
    paths: list[tuple[str, ...]] = []
    for item in _comma_list(text):
        if "." in item or item in _TOP_LEVEL:
            if item.split(".", 1)[0] not in _TOP_LEVEL:
                raise RequestError(f"fields: unknown field {item!r}")
            paths.append(tuple(item.split(".")))
            continue
        path = _PIECES_LOWER.get(item.lower())
        if path is None:
            raise RequestError(f"fields: unknown field {item!r}")
        paths.append(tuple(path.split(".")))
    if not paths:
        raise RequestError("fields: empty list")
    return tuple(paths)


def project(study: Mapping[str, Any], paths: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """Only the requested pieces of a study, nested as in the full record, in record order."""
    result: dict[str, Any] = {}
    for path in paths:
        _copy_path(study, result, path)
    return _in_source_order(study, result)


def _copy_path(source: Any, target: dict[str, Any], path: tuple[str, ...]) -> None:
    key, rest = path[0], path[1:]
    if not isinstance(source, Mapping) or key not in source:
        return
    value = source[key]
    if not rest:
        target[key] = copy.deepcopy(value)
        return
    if isinstance(value, Mapping):
        child = target.get(key)
        if not isinstance(child, dict):
            child = {}
        _copy_path(value, child, rest)
        if child:
            target[key] = child
    elif isinstance(value, list):
        existing = target.get(key)
        items: list[Any] = (
            existing
            if isinstance(existing, list) and len(existing) == len(value)
            else [{} for _ in value]
        )
        for item_source, item_target in zip(value, items, strict=True):
            if isinstance(item_target, dict):
                _copy_path(item_source, item_target, rest)
        if any(items):
            target[key] = items


def _in_source_order(source: Any, projected: Any) -> Any:
    if isinstance(projected, dict) and isinstance(source, Mapping):
        return {
            key: _in_source_order(source[key], projected[key]) for key in source if key in projected
        }
    if isinstance(projected, list) and isinstance(source, list):
        ordered = [_in_source_order(s, p) for s, p in zip(source, projected, strict=False)]
        return [item for item in ordered if item != {}]
    return projected
