"""Input and output dataclasses of the weekly digest.

Inputs (:class:`DigestArticle`, :class:`ChangeEvent`, :class:`RunInfo`) are plain values the
store (or a test) builds; :func:`aggregator.digest.compute.build_digest` turns them into a
:class:`Digest`, which every renderer (Markdown, HTML, JSON, Atom) reads. Nothing here touches
a database, a clock or the network.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import quote

from aggregator.errors import AggregatorError
from aggregator.vocab import (
    CONDITIONS,
    DIRECT_CONDITIONS,
    FORMS,
    PROVENANCE_FIELDS,
    STUDY_TYPES,
    unknown_value_error,
)

# Vocabularies as sets, for the fast validity check of DigestArticle.
_FORM_SET = frozenset(FORMS)
_CONDITION_SET = frozenset(CONDITIONS)
_STUDY_TYPE_SET = frozenset(STUDY_TYPES)
_PROVENANCE_FIELD_SET = frozenset(PROVENANCE_FIELDS)

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
DOI_URL = "https://doi.org/{doi}"
TRIAL_URL = "https://clinicaltrials.gov/study/{nct_id}"


class DigestInputError(AggregatorError):
    """A digest input (week, article, change or run) is invalid; the message names it."""


def _require_utc(value: dt.datetime | None, what: str) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise DigestInputError(f"{what} must be a timezone-aware datetime (UTC), got {value!r}")


def _require_in(values: tuple[str, ...], kind: str, valid: tuple[str, ...], who: str) -> None:
    for value in values:
        if value not in valid:
            raise DigestInputError(f"{who}: {unknown_value_error(kind, value, valid)}")


def has_direct_outcome(conditions: tuple[str, ...]) -> bool:
    """Any of ``conditions`` is a migraine or headache outcome (direct evidence)."""
    return not DIRECT_CONDITIONS.isdisjoint(conditions)


def pubmed_url(pmid: int) -> str:
    """PubMed page of a PMID."""
    return PUBMED_URL.format(pmid=pmid)


# What a DOI may keep unencoded in its doi.org link: letters, digits and the URL path
# characters no Markdown or HTML reader treats as markup or as the end of a link (the
# DOI Handbook's encoding rules; doi.org resolves the encoded form the same).
_DOI_PATH_SAFE = "/:;@!$&*+,="


def doi_url(doi: str | None) -> str | None:
    """doi.org resolver link (the DOI percent-encoded), or None without a DOI."""
    if not doi or not doi.strip():
        return None
    return DOI_URL.format(doi=quote(doi.strip(), safe=_DOI_PATH_SAFE))


def trial_url(nct_id: str) -> str:
    """ClinicalTrials.gov page of a registered study."""
    return TRIAL_URL.format(nct_id=nct_id)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestArticle:
    """One tagged article as the digest needs it (all datetimes timezone-aware, UTC)."""

    pmid: int
    title: str
    journal: str | None
    year: int | None
    doi: str | None
    forms: tuple[str, ...]
    conditions: tuple[str, ...]
    study_type: str
    evidence_level: int | None
    combination_product: bool
    retracted: bool
    retracted_at: dt.datetime | None
    first_seen_at: dt.datetime
    glycinate_snippet: str | None = None  # text that matched the glycinate form tag
    glycinate_field: str | None = None  # where it matched (one of vocab.PROVENANCE_FIELDS)

    def __post_init__(self) -> None:
        try:
            if self._plainly_valid():
                return
        except TypeError:  # e.g. an unhashable value: the checks below name what is wrong
            pass
        who = f"article PMID {self.pmid}"
        if self.pmid <= 0:
            raise DigestInputError(f"{who}: PMID must be a positive integer")
        _require_in(self.forms, "form", FORMS, who)
        _require_in(self.conditions, "condition", CONDITIONS, who)
        _require_in((self.study_type,), "study type", STUDY_TYPES, who)
        if self.glycinate_field is not None:
            _require_in((self.glycinate_field,), "provenance field", PROVENANCE_FIELDS, who)
        if self.evidence_level is not None and not 1 <= self.evidence_level <= 5:
            raise DigestInputError(f"{who}: evidence level must be 1-5 or None")
        _require_utc(self.first_seen_at, f"{who}: first_seen_at")
        _require_utc(self.retracted_at, f"{who}: retracted_at")

    def _plainly_valid(self) -> bool:
        """The usual case, in set operations: a digest checks 100,000s of articles. Anything
        else goes through the checks in ``__post_init__``, which name what is wrong."""
        return (
            self.pmid > 0
            and _FORM_SET.issuperset(self.forms)
            and _CONDITION_SET.issuperset(self.conditions)
            and self.study_type in _STUDY_TYPE_SET
            and (self.glycinate_field is None or self.glycinate_field in _PROVENANCE_FIELD_SET)
            and (self.evidence_level is None or 1 <= self.evidence_level <= 5)
            and self.first_seen_at is not None
            and self.first_seen_at.tzinfo is dt.UTC
            and (self.retracted_at is None or self.retracted_at.tzinfo is dt.UTC)
        )

    @property
    def is_direct(self) -> bool:
        """Has a migraine or headache outcome (direct evidence)."""
        return has_direct_outcome(self.conditions)

    @property
    def is_glycinate(self) -> bool:
        return "glycinate" in self.forms


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """A revision of a stored article noticed by a harvest."""

    pmid: int
    title: str
    seen_at: dt.datetime
    changed_fields: tuple[str, ...]  # "title", "publication_types", "mesh_headings", "retracted"
    summary: str

    def __post_init__(self) -> None:
        _require_utc(self.seen_at, f"change of PMID {self.pmid}: seen_at")


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One harvest run."""

    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    queries: tuple[str, ...]
    new_count: int
    revised_count: int
    failures: tuple[str, ...] = ()  # "query: message"

    def __post_init__(self) -> None:
        _require_utc(self.started_at, "run started_at")
        _require_utc(self.finished_at, "run finished_at")


# --------------------------------------------------------------------------------------------
# Registry inputs (the ClinicalTrials.gov watch)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrialStatusPoint:
    """One row of a trial's status history: the status a harvest saw at ``seen_at``;
    ``posted`` is the registry's date of that record version; ``observed_change`` is False
    for the status the trial had when first seen."""

    seen_at: dt.datetime
    status: str | None
    posted: dt.date | None
    observed_change: bool

    def __post_init__(self) -> None:
        _require_utc(self.seen_at, "trial status seen_at")


@dataclass(frozen=True, slots=True)
class TrialPublication:
    """A publication joined to a trial (``how``: result_reference, derived_reference or
    article_mentions), first seen at ``first_seen_at``."""

    pmid: int
    how: str
    first_seen_at: dt.datetime
    title: str | None = None  # None: the article is not in the database

    def __post_init__(self) -> None:
        _require_utc(self.first_seen_at, f"publication {self.pmid}: first_seen_at")


@dataclass(frozen=True, slots=True)
class DigestTrial:
    """One stored registered trial as the digest needs it (datetimes aware UTC; dates are
    the registry's). ``statuses`` is the status history, oldest first."""

    nct_id: str
    title: str
    forms: tuple[str, ...]
    migraine_or_headache: bool
    conditions: tuple[str, ...]  # as registered ("Episodic Migraine")
    phases: tuple[str, ...]
    enrollment: int | None
    enrollment_type: str | None
    first_posted: dt.date | None
    completion: str | None  # "2026-09-25 (actual)"
    completion_date: dt.date | None  # its earliest day, when ACTUAL
    results_first_posted: dt.date | None
    first_seen_at: dt.datetime
    results_seen_at: dt.datetime | None
    statuses: tuple[TrialStatusPoint, ...]
    publications: tuple[TrialPublication, ...] = ()
    acronym: str | None = None

    def __post_init__(self) -> None:
        who = f"trial {self.nct_id}"
        _require_in(self.forms, "form", FORMS, who)
        _require_utc(self.first_seen_at, f"{who}: first_seen_at")
        _require_utc(self.results_seen_at, f"{who}: results_seen_at")

    @property
    def is_glycinate(self) -> bool:
        return "glycinate" in self.forms


@dataclass(frozen=True, slots=True)
class RegistrySearchRun:
    """One registry search in one run: whether it completed and up to which day."""

    name: str
    query: str
    finished_at: dt.datetime
    ok: bool
    through: dt.date | None  # the day it is complete up to (the run's day) when ok
    error: str | None = None
    every_search: bool = True  # the run watched every saved registry search (not --query)

    def __post_init__(self) -> None:
        _require_utc(self.finished_at, f"registry search {self.name}: finished_at")


@dataclass(frozen=True, slots=True)
class RegistryInputs:
    """The registry's part of the digest inputs: the stored trials and the registry searches
    of every run."""

    trials: tuple[DigestTrial, ...] = ()
    search_runs: tuple[RegistrySearchRun, ...] = ()


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EvidenceCounts:
    """Counts for one slice of the evidence (retracted articles excluded)."""

    articles: int
    rcts: int
    syntheses: int  # meta-analyses + systematic reviews
    best_level: int | None  # lowest evidence level number reached; None: no graded article


@dataclass(frozen=True, slots=True)
class CountsChange:
    """The same counts at the end of this week and of the previous week."""

    now: EvidenceCounts
    previous: EvidenceCounts

    @property
    def articles_delta(self) -> int:
        return self.now.articles - self.previous.articles

    @property
    def rcts_delta(self) -> int:
        return self.now.rcts - self.previous.rcts

    @property
    def syntheses_delta(self) -> int:
        return self.now.syntheses - self.previous.syntheses

    @property
    def changed(self) -> bool:
        return self.now != self.previous


@dataclass(frozen=True, slots=True)
class EvidenceSplit:
    """Direct (migraine/headache outcomes) and indirect evidence for one form or overall."""

    direct: CountsChange
    indirect: CountsChange


@dataclass(frozen=True, slots=True)
class FormCount:
    form: str
    count: int


@dataclass(frozen=True, slots=True)
class Headline:
    """The first thing a reader sees: glycinate and overall numbers in plain sentences."""

    glycinate: EvidenceSplit
    overall: EvidenceSplit
    no_direct_glycinate: bool
    migraine_rct_forms: tuple[FormCount, ...]  # direct RCTs by form, most first
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


@dataclass(frozen=True, slots=True)
class ArticleEntry:
    """An article as listed in the digest."""

    pmid: int
    title: str
    journal: str | None
    year: int | None
    forms: tuple[str, ...]
    conditions: tuple[str, ...]
    study_type: str
    study_type_label: str
    evidence_level: int | None
    direct: bool
    combination_product: bool
    retracted: bool  # as of the end of the digest week
    pubmed_url: str
    doi: str | None
    doi_url: str | None
    glycinate_snippet: str | None
    glycinate_field: str | None
    first_seen_at: dt.datetime

    @property
    def is_glycinate(self) -> bool:
        return "glycinate" in self.forms


@dataclass(frozen=True, slots=True)
class Milestone:
    """The first direct glycinate study of a design, appearing this week."""

    study_type: str
    text: str
    article: ArticleEntry


@dataclass(frozen=True, slots=True)
class TimelineCell:
    group: str  # one of compute.CHART_GROUPS keys
    direct: int
    indirect: int


@dataclass(frozen=True, slots=True)
class TimelineYear:
    """Cumulative counts up to and including ``year``."""

    year: int
    cells: tuple[TimelineCell, ...]

    @property
    def direct(self) -> int:
        return sum(c.direct for c in self.cells)

    @property
    def indirect(self) -> int:
        return sum(c.indirect for c in self.cells)

    @property
    def total(self) -> int:
        return self.direct + self.indirect


@dataclass(frozen=True, slots=True)
class FormTimeline:
    form: str
    years: tuple[TimelineYear, ...]  # one per year of Timeline.years
    undated: int  # articles without a publication year (not in the chart)

    @property
    def final(self) -> TimelineYear | None:
        return self.years[-1] if self.years else None


@dataclass(frozen=True, slots=True)
class Timeline:
    """Cumulative articles by year for glycinate and the two most studied other forms."""

    years: tuple[int, ...]
    groups: tuple[tuple[str, str], ...]  # (key, label) of the study-type groups
    forms: tuple[FormTimeline, ...]  # glycinate first


@dataclass(frozen=True, slots=True)
class MapCell:
    study_type: str
    count: int
    previous: int

    @property
    def delta(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True, slots=True)
class EvidenceMapRow:
    form: str
    cells: tuple[MapCell, ...]  # one per EvidenceMap.study_types
    total: MapCell  # study_type "total"
    direct: MapCell  # study_type "direct"
    best_level: int | None
    previous_best_level: int | None


@dataclass(frozen=True, slots=True)
class EvidenceMap:
    study_types: tuple[str, ...]  # columns: study types with any article now or last week
    rows: tuple[EvidenceMapRow, ...]  # forms with any article now or last week, vocab order


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    pmid: int
    title: str
    seen_at: dt.datetime
    changed_fields: tuple[str, ...]
    summary: str
    pubmed_url: str


@dataclass(frozen=True, slots=True)
class RetractionEntry:
    article: ArticleEntry
    retracted_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class RunHealth:
    runs: tuple[RunInfo, ...]  # runs started in the digest week
    queries: tuple[str, ...]
    new_count: int
    revised_count: int
    failures: tuple[str, ...]
    last_refreshed_at: dt.datetime | None  # latest run finished by the end of the week
    last_status: str | None


@dataclass(frozen=True, slots=True)
class TrialLinkEntry:
    pmid: int
    how: str
    pubmed_url: str
    title: str | None


@dataclass(frozen=True, slots=True)
class TrialEntry:
    """A registered trial as listed in the digest, as of the end of the digest week."""

    nct_id: str
    title: str
    url: str
    forms: tuple[str, ...]
    conditions: tuple[str, ...]
    migraine_or_headache: bool
    status: str | None
    status_label: str
    stage: str
    stage_label: str
    phase_label: str
    enrollment: int | None
    enrollment_type: str | None
    first_posted: dt.date | None
    completion: str | None
    publications: tuple[TrialLinkEntry, ...]


@dataclass(frozen=True, slots=True)
class StageRow:
    """Glycinate trials in one stage: migraine/headache and other conditions."""

    stage: str
    label: str
    headache: int
    other: int


@dataclass(frozen=True, slots=True)
class FormStageRow:
    """Magnesium migraine/headache trials with one form, by stage (every stage, in order)."""

    form: str
    by_stage: tuple[tuple[str, int], ...]
    total: int

    def count(self, stage: str) -> int:
        return next((n for key, n in self.by_stage if key == stage), 0)


@dataclass(frozen=True, slots=True)
class TrialEvent:
    """Something that happened to a watched trial this week. ``kind``: registered, status,
    results or publication."""

    kind: str
    nct_id: str
    title: str
    url: str
    text: str
    seen_at: dt.datetime
    glycinate: bool
    migraine_or_headache: bool


@dataclass(frozen=True, slots=True)
class TrialMilestone:
    """The first registered (or first completed) glycinate migraine/headache trial, in the
    week the registry posted it."""

    kind: str  # first_registered | first_completed
    text: str
    trial: TrialEntry


@dataclass(frozen=True, slots=True)
class RegistrySearchState:
    """Where one registry search stood at the end of the week."""

    name: str
    query: str
    state: str  # complete | failed | never
    through: dt.date | None  # last day a completed run covered
    error: str | None
    last_attempt: dt.datetime | None


@dataclass(frozen=True, slots=True)
class RegistrySection:
    """The "Registered trials" section: what ClinicalTrials.gov shows is on its way."""

    ran: bool  # some registry search had run by the end of the week
    complete: bool  # every registry search's latest run completed: claims may be made
    searches: tuple[RegistrySearchState, ...]
    through: dt.date | None  # the registry is covered up to this day (when complete)
    sentences: tuple[str, ...]  # the glycinate claims, scoped, or why none is made
    stages: tuple[tuple[str, str], ...]  # (key, label) of the stages the tables show, in order
    glycinate_stages: tuple[StageRow, ...]  # every stage, in order
    glycinate_trials: tuple[TrialEntry, ...]
    form_stages: tuple[FormStageRow, ...]  # magnesium migraine/headache trials
    migraine_trials: int
    events: tuple[TrialEvent, ...]
    entered_watch: int  # older registrations first seen this week (first harvest, new search)
    milestones: tuple[TrialMilestone, ...]

    @property
    def shown_stages(self) -> tuple[str, ...]:
        """The keys of :attr:`stages`: the main stages, and stopped/unknown when used."""
        return tuple(key for key, _label in self.stages)


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one weekly digest shows, as of the end of ``week`` (Sunday 23:59:59 UTC)."""

    week: str
    previous_week: str
    week_start: dt.date
    as_of: dt.datetime  # end of the week, Sunday 23:59:59 UTC
    demo: bool
    title: str
    demo_notice: str | None
    headline: Headline
    milestones: tuple[Milestone, ...]
    new_articles: tuple[ArticleEntry, ...]
    glycinate_articles: tuple[ArticleEntry, ...]
    timeline: Timeline
    evidence_map: EvidenceMap
    retractions: tuple[RetractionEntry, ...]
    revisions: tuple[ChangeEntry, ...]
    run_health: RunHealth
    registry: RegistrySection | None = None  # None: built without registry inputs

    @property
    def is_empty(self) -> bool:
        """Nothing new, revised or retracted this week."""
        return not (self.new_articles or self.retractions or self.revisions)

    @property
    def updated_at(self) -> dt.datetime:
        """When the data shown were last refreshed (end of week when unknown)."""
        return self.run_health.last_refreshed_at or self.as_of
