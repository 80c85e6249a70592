"""Pure parsing of ClinicalTrials.gov API v2 study JSON into frozen :class:`Trial` records.

One study, as ``GET /api/v2/studies/{nctId}`` returns it or as one item of the ``studies``
array of ``GET /api/v2/studies``, becomes one :class:`Trial`. The parts read are::

    protocolSection.identificationModule   nctId, briefTitle, officialTitle, acronym
    protocolSection.statusModule           overallStatus, whyStopped, startDateStruct,
                                           primaryCompletionDateStruct, completionDateStruct,
                                           studyFirstPostDateStruct, lastUpdatePostDateStruct,
                                           resultsFirstPostDateStruct
    protocolSection.sponsorCollaboratorsModule  leadSponsor.name
    protocolSection.conditionsModule       conditions, keywords
    protocolSection.designModule           studyType, phases, designInfo.allocation,
                                           designInfo.maskingInfo.masking, enrollmentInfo
    protocolSection.armsInterventionsModule  armGroups, interventions
    protocolSection.referencesModule       references (pmid, type, citation)
    hasResults

Every module may be missing (a ``fields=`` reply carries only what was asked for; an old
record lacks newer pieces): the matching attributes are then ``None`` or empty, never an
error. Only ``nctId`` is required. A value of the wrong JSON type, a malformed NCT id or date
raises :class:`~aggregator.errors.ParseError` with one line naming the study and the field.

Dates are partial ISO dates: ``"2024"``, ``"2024-05"`` or ``"2024-05-17"``; a
:class:`PartialDate` keeps the precision given. Each ``...DateStruct`` also has a ``type``,
``ACTUAL`` or ``ESTIMATED`` (missing in older records, then ``None``): an estimated date is
a plan, not an event. Enumerations (status, phase, study type, ...) are kept as the API
spells them (``RECRUITING``, ``PHASE2``, ``NA``); unknown new values are kept, not refused.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from aggregator.errors import ConfigError, ParseError

# The status enum lives with the stages (aggregator.trial_stages); re-exported here.
from aggregator.trial_stages import OVERALL_STATUSES as OVERALL_STATUSES

NCT_ID_RE = re.compile(r"^NCT\d{8}$")
_PARTIAL_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
DATE_TYPES = ("ACTUAL", "ESTIMATED")
REFERENCE_TYPES = ("RESULT", "BACKGROUND", "DERIVED")
STUDY_URL = "https://clinicaltrials.gov/study/{nct_id}"


def is_nct_id(value: object) -> bool:
    """True for a well-formed NCT id: ``NCT`` and eight digits."""
    return isinstance(value, str) and NCT_ID_RE.match(value) is not None


def normalise_nct_id(value: str) -> str:
    """``" nct99000001 "`` -> ``"NCT99000001"``; anything else malformed is a ConfigError."""
    cleaned = value.strip().upper() if isinstance(value, str) else value
    if not is_nct_id(cleaned):
        raise ConfigError(f"not an NCT id (NCT and 8 digits): {value!r}")
    return str(cleaned)


@functools.total_ordering
@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date given to the year, month or day. Orders by (year, month, day), missing first."""

    year: int
    month: int | None = None
    day: int | None = None

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, PartialDate):
            return NotImplemented
        return self._key() < other._key()

    def _key(self) -> tuple[int, int, int]:
        return (self.year, self.month or 0, self.day or 0)

    @classmethod
    def parse(cls, text: str) -> PartialDate:
        """``"2024"``, ``"2024-05"`` or ``"2024-05-17"``; ValueError for anything else."""
        match = _PARTIAL_DATE_RE.match(text.strip())
        if match is None:
            raise ValueError(f"not a YYYY, YYYY-MM or YYYY-MM-DD date: {text!r}")
        year, month, day = (int(part) if part else None for part in match.groups())
        assert year is not None
        if month is not None and not 1 <= month <= 12:
            raise ValueError(f"month out of range: {text!r}")
        if day is not None:
            assert month is not None
            dt.date(year, month, day)  # raises ValueError for 2024-02-30
        return cls(year, month, day)

    @property
    def precision(self) -> str:
        """``"day"``, ``"month"`` or ``"year"``."""
        if self.day is not None:
            return "day"
        return "month" if self.month is not None else "year"

    def earliest(self) -> dt.date:
        """First day the partial date can mean (2024-05 -> 2024-05-01)."""
        return dt.date(self.year, self.month or 1, self.day or 1)

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
            if self.day is not None:
                text += f"-{self.day:02d}"
        return text


@dataclass(frozen=True, slots=True)
class TrialDate:
    """One ``...DateStruct``: the (partial) date and ACTUAL/ESTIMATED (None when not given)."""

    date: PartialDate
    type: str | None = None

    @property
    def is_actual(self) -> bool:
        return self.type == "ACTUAL"

    @property
    def is_estimated(self) -> bool:
        return self.type == "ESTIMATED"

    def __str__(self) -> str:
        return f"{self.date} ({self.type.lower()})" if self.type else str(self.date)


@dataclass(frozen=True, slots=True)
class TrialIntervention:
    """One entry of ``armsInterventionsModule.interventions``."""

    type: str | None  # DRUG, DIETARY_SUPPLEMENT, OTHER, ...
    name: str
    description: str | None = None
    other_names: tuple[str, ...] = ()
    arm_group_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ArmGroup:
    """One entry of ``armsInterventionsModule.armGroups``."""

    label: str
    type: str | None = None  # EXPERIMENTAL, PLACEBO_COMPARATOR, ...
    description: str | None = None
    intervention_names: tuple[str, ...] = ()  # "Dietary Supplement: Magnesium bisglycinate"


@dataclass(frozen=True, slots=True)
class TrialReference:
    """One entry of ``referencesModule.references``.

    ``type``: RESULT (the investigators link a publication of the trial), DERIVED (NLM linked
    a PubMed record that cites the NCT id) or BACKGROUND (cited for context, not a result).
    """

    pmid: int | None
    type: str | None
    citation: str = ""


@dataclass(frozen=True, slots=True)
class Trial:
    """One registered study, as plain values. ``content_hash`` detects changes (see below)."""

    nct_id: str
    title: str = ""  # briefTitle
    official_title: str | None = None
    acronym: str | None = None
    overall_status: str | None = None
    why_stopped: str | None = None
    phases: tuple[str, ...] = ()  # ("PHASE2", "PHASE3"), ("NA",) or () when not given
    study_type: str | None = None  # INTERVENTIONAL, OBSERVATIONAL, EXPANDED_ACCESS
    allocation: str | None = None  # RANDOMIZED, NON_RANDOMIZED, NA
    masking: str | None = None  # NONE, SINGLE, DOUBLE, TRIPLE, QUADRUPLE
    enrollment: int | None = None
    enrollment_type: str | None = None  # ACTUAL or ESTIMATED
    start: TrialDate | None = None
    primary_completion: TrialDate | None = None
    completion: TrialDate | None = None
    first_posted: TrialDate | None = None
    last_update_posted: TrialDate | None = None
    results_first_posted: TrialDate | None = None
    conditions: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    interventions: tuple[TrialIntervention, ...] = ()
    arm_groups: tuple[ArmGroup, ...] = ()
    has_results: bool = False
    references: tuple[TrialReference, ...] = ()
    sponsor: str | None = None  # lead sponsor name
    content_hash: str = ""

    @property
    def url(self) -> str:
        return STUDY_URL.format(nct_id=self.nct_id)

    @property
    def linked_pmids(self) -> tuple[int, ...]:
        """PMIDs of RESULT and DERIVED references (publications of this trial), ascending."""
        return tuple(
            sorted(
                {
                    ref.pmid
                    for ref in self.references
                    if ref.pmid is not None and ref.type in ("RESULT", "DERIVED")
                }
            )
        )


def content_hash(trial: Trial) -> str:
    """Fingerprint of everything parsed except ``last_update_posted`` and the hash itself.

    The registry bumps LastUpdatePostDate for edits to parts we do not read (locations,
    contacts, outcomes), so the date alone would report changes nobody can see; the hash only
    changes when a value this module reads changes.
    """
    values = asdict(trial)
    values.pop("content_hash", None)
    values.pop("last_update_posted", None)
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


# -- parsing ------------------------------------------------------------------------------------


def parse_study(data: object, *, source: str = "study") -> Trial:
    """One study object (``protocolSection`` + ``hasResults`` ...) as a :class:`Trial`.

    ``source`` names where it came from in error messages ("study 3 of the reply", a file).
    """
    if not isinstance(data, Mapping):
        raise ParseError(f"{source}: a study must be a JSON object, got {_json_type(data)}")
    protocol = data.get("protocolSection")
    if not isinstance(protocol, Mapping):
        raise ParseError(f"{source}: no protocolSection object")
    ident = protocol.get("identificationModule")
    nct_id = ident.get("nctId") if isinstance(ident, Mapping) else None
    if nct_id is None:
        raise ParseError(f"{source}: no protocolSection.identificationModule.nctId")
    if not is_nct_id(nct_id):
        raise ParseError(f"{source}: nctId {nct_id!r} is not NCT followed by 8 digits")
    reader = _Reader(nct_id, protocol)
    status = "statusModule"
    design = "designModule"
    arms = "armsInterventionsModule"
    enrollment = reader.get(design, "enrollmentInfo", "count", kind=int)
    if enrollment is not None and enrollment < 0:
        raise ParseError(f"study {nct_id}: designModule.enrollmentInfo.count is negative")
    has_results = data.get("hasResults", False)
    if not isinstance(has_results, bool):
        raise ParseError(f"study {nct_id}: hasResults must be true or false")
    trial = Trial(
        nct_id=nct_id,
        title=reader.text("identificationModule", "briefTitle") or "",
        official_title=reader.text("identificationModule", "officialTitle"),
        acronym=reader.text("identificationModule", "acronym"),
        overall_status=reader.text(status, "overallStatus"),
        why_stopped=reader.text(status, "whyStopped"),
        phases=reader.strings(design, "phases"),
        study_type=reader.text(design, "studyType"),
        allocation=reader.text(design, "designInfo", "allocation"),
        masking=reader.text(design, "designInfo", "maskingInfo", "masking"),
        enrollment=enrollment,
        enrollment_type=reader.date_type(design, "enrollmentInfo"),
        start=reader.date(status, "startDateStruct"),
        primary_completion=reader.date(status, "primaryCompletionDateStruct"),
        completion=reader.date(status, "completionDateStruct"),
        first_posted=reader.date(status, "studyFirstPostDateStruct"),
        last_update_posted=reader.date(status, "lastUpdatePostDateStruct"),
        results_first_posted=reader.date(status, "resultsFirstPostDateStruct"),
        conditions=reader.strings("conditionsModule", "conditions"),
        keywords=reader.strings("conditionsModule", "keywords"),
        interventions=tuple(_interventions(reader, reader.objects(arms, "interventions"))),
        arm_groups=tuple(_arm_groups(reader, reader.objects(arms, "armGroups"))),
        has_results=has_results,
        references=tuple(_references(reader, reader.objects("referencesModule", "references"))),
        sponsor=reader.text("sponsorCollaboratorsModule", "leadSponsor", "name"),
    )
    return replace(trial, content_hash=content_hash(trial))


def parse_studies(payload: object, *, source: str = "reply") -> list[Trial]:
    """Every study of a search reply (``{"studies": [...], ...}``)."""
    if not isinstance(payload, Mapping) or not isinstance(payload.get("studies"), list):
        raise ParseError(f"{source}: not a study search reply (no 'studies' array)")
    return [
        parse_study(item, source=_item_source(item, index, source))
        for index, item in enumerate(payload["studies"], start=1)
    ]


def parse_study_json(text: str | bytes, *, source: str = "study") -> Trial:
    """A study from JSON text; malformed JSON is a one-line ParseError naming ``source``."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"{source}: not valid JSON ({_one_line(str(exc))})") from None
    return parse_study(data, source=source)


def iter_studies(items: Iterable[object], *, source: str = "reply") -> Iterator[Trial]:
    """Parse raw study objects one by one (e.g. from ``RegistryClient.search_studies``)."""
    for index, item in enumerate(items, start=1):
        yield parse_study(item, source=_item_source(item, index, source))


def _item_source(item: object, index: int, source: str) -> str:
    nct_id = None
    if isinstance(item, Mapping):
        protocol = item.get("protocolSection")
        ident = protocol.get("identificationModule") if isinstance(protocol, Mapping) else None
        nct_id = ident.get("nctId") if isinstance(ident, Mapping) else None
    if isinstance(nct_id, str) and nct_id:
        return f"study {nct_id} ({source}, item {index})"
    return f"study {index} of the {source}"


def _interventions(reader: _Reader, items: list[Mapping[str, Any]]) -> Iterator[TrialIntervention]:
    for index, item in enumerate(items):
        where = f"armsInterventionsModule.interventions[{index}]"
        name = reader.item_text(item, where, "name")
        if not name:
            raise ParseError(f"study {reader.nct_id}: {where} has no name")
        yield TrialIntervention(
            type=reader.item_text(item, where, "type"),
            name=name,
            description=reader.item_text(item, where, "description"),
            other_names=reader.item_strings(item, where, "otherNames"),
            arm_group_labels=reader.item_strings(item, where, "armGroupLabels"),
        )


def _arm_groups(reader: _Reader, items: list[Mapping[str, Any]]) -> Iterator[ArmGroup]:
    for index, item in enumerate(items):
        where = f"armsInterventionsModule.armGroups[{index}]"
        label = reader.item_text(item, where, "label")
        if not label:
            raise ParseError(f"study {reader.nct_id}: {where} has no label")
        yield ArmGroup(
            label=label,
            type=reader.item_text(item, where, "type"),
            description=reader.item_text(item, where, "description"),
            intervention_names=reader.item_strings(item, where, "interventionNames"),
        )


def _references(reader: _Reader, items: list[Mapping[str, Any]]) -> Iterator[TrialReference]:
    for index, item in enumerate(items):
        where = f"referencesModule.references[{index}]"
        raw_pmid = item.get("pmid")
        pmid: int | None = None
        if raw_pmid is not None:
            text = str(raw_pmid).strip() if isinstance(raw_pmid, str | int) else ""
            if not text.isdigit() or int(text) <= 0:
                raise ParseError(f"study {reader.nct_id}: {where}.pmid {raw_pmid!r} is not a PMID")
            pmid = int(text)
        yield TrialReference(
            pmid=pmid,
            type=reader.item_text(item, where, "type"),
            citation=reader.item_text(item, where, "citation") or "",
        )


class _Reader:
    """Typed access to ``protocolSection`` paths; errors name the study and the path."""

    def __init__(self, nct_id: str, protocol: Mapping[str, Any]) -> None:
        self.nct_id = nct_id
        self.protocol = protocol

    def _fail(self, path: str, expected: str, value: object) -> ParseError:
        return ParseError(
            f"study {self.nct_id}: {path} must be {expected}, got {_json_type(value)}"
        )

    def get(self, *path: str, kind: type) -> Any:
        node: Any = self.protocol
        for depth, key in enumerate(path):
            if node is None:
                return None
            if not isinstance(node, Mapping):
                raise self._fail(".".join(path[:depth]), "an object", node)
            node = node.get(key)
        if node is None:
            return None
        # bool is an int subclass: a count of true is not a count.
        if not isinstance(node, kind) or (kind is int and isinstance(node, bool)):
            raise self._fail(".".join(path), _KIND_NAMES.get(kind, kind.__name__), node)
        return node

    def text(self, *path: str) -> str | None:
        value = self.get(*path, kind=str)
        if value is None:
            return None
        return _clean(value) or None

    def strings(self, *path: str) -> tuple[str, ...]:
        values = self.get(*path, kind=list)
        return self._string_list(".".join(path), values)

    def objects(self, *path: str) -> list[Mapping[str, Any]]:
        values = self.get(*path, kind=list) or []
        for index, value in enumerate(values):
            if not isinstance(value, Mapping):
                raise self._fail(f"{'.'.join(path)}[{index}]", "an object", value)
        return list(values)

    def date(self, *path: str) -> TrialDate | None:
        struct = self.get(*path, kind=Mapping)
        if struct is None:
            return None
        where = ".".join(path)
        raw = struct.get("date")
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise self._fail(f"{where}.date", "a string", raw)
        try:
            day = PartialDate.parse(raw)
        except ValueError as exc:
            raise ParseError(f"study {self.nct_id}: {where}.date: {exc}") from None
        return TrialDate(day, self._type(where, struct.get("type")))

    def date_type(self, *path: str) -> str | None:
        struct = self.get(*path, kind=Mapping)
        return None if struct is None else self._type(".".join(path), struct.get("type"))

    def _type(self, where: str, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(f"{where}.type", "a string", value)
        return value.strip().upper() or None

    def item_text(self, item: Mapping[str, Any], where: str, key: str) -> str | None:
        value = item.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(f"{where}.{key}", "a string", value)
        return _clean(value) or None

    def item_strings(self, item: Mapping[str, Any], where: str, key: str) -> tuple[str, ...]:
        value = item.get(key)
        if value is not None and not isinstance(value, list):
            raise self._fail(f"{where}.{key}", "an array", value)
        return self._string_list(f"{where}.{key}", value)

    def _string_list(self, where: str, values: list[Any] | None) -> tuple[str, ...]:
        if not values:
            return ()
        cleaned: list[str] = []
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self._fail(f"{where}[{index}]", "a string", value)
            if text := _clean(value):
                cleaned.append(text)
        return tuple(cleaned)


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "a whole number",
    list: "an array",
    Mapping: "an object",
}


def _clean(text: str) -> str:
    return " ".join(text.split())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
