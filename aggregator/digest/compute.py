"""Pure computation of a weekly digest from plain inputs.

As-of semantics: the digest for ISO week W shows what was known at the end of W (Sunday
23:59:59 UTC). Articles count only when first seen by then and stop counting (as retracted)
once their retraction was seen by then. Week-over-week changes are the same numbers computed
as of the end of W-1 from the same inputs, so a digest is reproducible and its deltas exact.
Retracted articles are left out of every count; they are listed in their own section.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.bulk import gc_paused
from aggregator.digest.model import (
    ArticleEntry,
    ChangeEntry,
    ChangeEvent,
    CountsChange,
    Digest,
    DigestArticle,
    DigestInputError,
    EvidenceCounts,
    EvidenceMap,
    EvidenceMapRow,
    EvidenceSplit,
    FormCount,
    FormTimeline,
    Headline,
    MapCell,
    Milestone,
    RegistryInputs,
    RetractionEntry,
    RunHealth,
    RunInfo,
    Timeline,
    TimelineCell,
    TimelineYear,
    doi_url,
    pubmed_url,
)
from aggregator.digest.registry import build_registry_section
from aggregator.digest.tally import DigestTallies, tally_articles
from aggregator.vocab import (
    FORMS,
    GLYCINATE,
    NON_SALT_FORMS,
    STUDY_TYPE_LABELS,
    STUDY_TYPES,
    vocabulary_rank,
)
from aggregator.weeks import InvalidWeekError, WeekWindow, parse_week, previous_week

SYNTHESIS_TYPES = frozenset({"meta_analysis", "systematic_review"})
RCT = "randomized_controlled_trial"

# Study types grouped for the chart (17 colours would be unreadable).
CHART_GROUPS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("synthesis", "Meta-analysis / systematic review", SYNTHESIS_TYPES),
    ("rct", "RCT", frozenset({RCT})),
    (
        "other_clinical",
        "Other clinical study",
        frozenset(
            {
                "nonrandomized_controlled_trial",
                "single_arm_trial",
                "cohort",
                "case_control",
                "cross_sectional",
                "case_series",
                "case_report",
            }
        ),
    ),
    ("other", "Review, preclinical or other", frozenset()),  # everything else
)

TITLE = "Magnesium and migraine evidence digest, {week}"
DEMO_TITLE_SUFFIX = " (DEMO: synthetic data)"
DEMO_NOTICE = (
    "Demo data from a synthetic corpus: these articles are invented and are not real studies."
)
NO_DIRECT_GLYCINATE = (
    "No published study has tested magnesium glycinate for migraine or headache yet."
)

# --------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------


def _retracted_by(article: DigestArticle, cutoff: dt.datetime) -> bool:
    """Retraction known before ``cutoff`` (no retracted_at: known since first seen)."""
    if not article.retracted:
        return False
    seen = article.retracted_at or article.first_seen_at
    return seen < cutoff


# What the headline and evidence-map counts look at in an article: its forms, study type,
# evidence level and directness.
_Profile = tuple[tuple[str, ...], str, int | None, bool]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    known: int  # articles first seen before the cutoff
    active: int  # of those, not retracted by the cutoff
    profiles: Counter[_Profile]  # active articles by profile


def _snapshot(tallies: DigestTallies, *, previous: bool) -> _Snapshot:
    """The counts at the end of the week, or (``previous``) at the end of the week before."""
    known = active = 0
    profiles: Counter[_Profile] = Counter()
    for p in tallies.profiles:
        if previous and not p.known_before_week:
            continue
        known += p.count
        if p.active_before_week if previous else p.active_now:
            active += p.count
            profiles[(p.forms, p.study_type, p.evidence_level, p.direct)] += p.count
    return _Snapshot(known, active, profiles)


class _Tally:
    """Running :class:`EvidenceCounts` of one slice, filled profile by profile."""

    __slots__ = ("articles", "best_level", "rcts", "syntheses")

    def __init__(self) -> None:
        self.articles = 0
        self.rcts = 0
        self.syntheses = 0
        self.best_level: int | None = None

    def add(self, study_type: str, level: int | None, count: int) -> None:
        self.articles += count
        if study_type == RCT:
            self.rcts += count
        elif study_type in SYNTHESIS_TYPES:
            self.syntheses += count
        if level is not None and (self.best_level is None or level < self.best_level):
            self.best_level = level

    def counts(self) -> EvidenceCounts:
        return EvidenceCounts(self.articles, self.rcts, self.syntheses, self.best_level)


def _tallies(snapshot: _Snapshot) -> tuple[dict[bool, _Tally], dict[bool, _Tally]]:
    """Glycinate and overall tallies of the active articles, each by directness."""
    glycinate = {True: _Tally(), False: _Tally()}
    overall = {True: _Tally(), False: _Tally()}
    for (forms, study_type, level, direct), count in snapshot.profiles.items():
        overall[direct].add(study_type, level, count)
        if GLYCINATE in forms:
            glycinate[direct].add(study_type, level, count)
    return glycinate, overall


def _split(now: dict[bool, _Tally], previous: dict[bool, _Tally]) -> EvidenceSplit:
    def change(direct: bool) -> CountsChange:
        return CountsChange(now=now[direct].counts(), previous=previous[direct].counts())

    return EvidenceSplit(direct=change(True), indirect=change(False))


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _signed(delta: int) -> str:
    return f" ({delta:+d})" if delta else ""


def _level_text(now: int | None, previous: int | None) -> str:
    text = f"best level {now}" if now is not None else "no graded level"
    if now != previous:
        text += f" (was {previous if previous is not None else 'none'})"
    return text


def _counts_phrase(change: CountsChange) -> str:
    now = change.now
    return ", ".join(
        (
            _plural(now.articles, "article", "articles") + _signed(change.articles_delta),
            _plural(now.rcts, "RCT", "RCTs") + _signed(change.rcts_delta),
            _plural(
                now.syntheses, "meta-analysis/systematic review", "meta-analyses/systematic reviews"
            )
            + _signed(change.syntheses_delta),
            _level_text(now.best_level, change.previous.best_level),
        )
    )


def _split_sentence(subject: str, split: EvidenceSplit) -> str:
    return (
        f"{subject}: direct evidence (migraine/headache outcomes) {_counts_phrase(split.direct)}; "
        f"indirect evidence (bioavailability, tolerability, other conditions) "
        f"{_counts_phrase(split.indirect)}."
    )


def form_label(form: str) -> str:
    """Readable form name for running text."""
    return "unspecified form" if form == "unspecified" else form


def _form_counts_text(counts: Sequence[FormCount]) -> str:
    return ", ".join(f"{form_label(fc.form)} ({fc.count})" for fc in counts)


def _headline(
    now: _Snapshot, previous: _Snapshot, previous_label: str
) -> tuple[Headline, EvidenceSplit]:
    glycinate_now, overall_now = _tallies(now)
    glycinate_previous, overall_previous = _tallies(previous)
    glycinate = _split(glycinate_now, glycinate_previous)
    overall = _split(overall_now, overall_previous)
    rct_forms: Counter[str] = Counter()
    for (forms, study_type, _level, direct), count in now.profiles.items():
        if direct and study_type == RCT:
            for form in forms:
                rct_forms[form] += count
    migraine_rct_forms = tuple(FormCount(form, count) for form, count in _most_first(rct_forms))
    no_direct = glycinate.direct.now.articles == 0
    sentences = [_split_sentence("Magnesium glycinate", glycinate)]
    if no_direct:
        sentences.append(NO_DIRECT_GLYCINATE)
        if migraine_rct_forms:
            sentences.append(
                "The evidence for migraine rests instead on other forms: migraine/headache RCTs "
                f"used {_form_counts_text(migraine_rct_forms)}."
            )
        else:
            sentences.append("No migraine/headache RCT of any magnesium form is recorded yet.")
    elif migraine_rct_forms:
        sentences.append(
            f"Migraine/headache RCTs by form: {_form_counts_text(migraine_rct_forms)}."
        )
    sentences.append(_split_sentence("Magnesium overall, for scale", overall))
    splits = (glycinate.direct, glycinate.indirect, overall.direct, overall.indirect)
    if any(change.changed for change in splits):
        sentences.append(f"Changes in brackets are since {previous_label}.")
    else:
        added = now.known - previous.known
        withdrawn = (now.known - now.active) - (previous.known - previous.active)
        if added or withdrawn:
            # Equal totals can hide real movement: a new article and a retraction cancel out.
            sentences.append(
                f"Totals unchanged since {previous_label}: "
                f"{_plural(added, 'new article', 'new articles')} and "
                f"{_plural(withdrawn, 'retraction', 'retractions')} this week balance out."
            )
        else:
            sentences.append(f"No change since {previous_label}.")
    headline = Headline(
        glycinate=glycinate,
        overall=overall,
        no_direct_glycinate=no_direct,
        migraine_rct_forms=migraine_rct_forms,
        sentences=tuple(sentences),
    )
    return headline, glycinate


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _entry(article: DigestArticle, cutoff: dt.datetime) -> ArticleEntry:
    return ArticleEntry(
        pmid=article.pmid,
        title=article.title,
        journal=article.journal,
        year=article.year,
        forms=tuple(sorted(article.forms, key=functools.partial(vocabulary_rank, "form"))),
        conditions=article.conditions,
        study_type=article.study_type,
        study_type_label=STUDY_TYPE_LABELS[article.study_type],
        evidence_level=article.evidence_level,
        direct=article.is_direct,
        combination_product=article.combination_product,
        retracted=_retracted_by(article, cutoff),
        pubmed_url=pubmed_url(article.pmid),
        doi=article.doi,
        doi_url=doi_url(article.doi),
        glycinate_snippet=article.glycinate_snippet if article.is_glycinate else None,
        glycinate_field=article.glycinate_field if article.is_glycinate else None,
        first_seen_at=article.first_seen_at,
    )


def _level_key(level: int | None) -> int:
    return level if level is not None else 99


def _milestones(known: Sequence[DigestArticle], window: WeekWindow) -> tuple[Milestone, ...]:
    """Direct glycinate studies of a design seen this week for the first time (``known``: the
    listed articles known by the week's end, which include every glycinate one)."""
    direct_glycinate = [a for a in known if a.is_glycinate and a.is_direct]
    before = {
        a.study_type
        for a in direct_glycinate
        if a.first_seen_at < window.start and not _retracted_by(a, window.start)
    }
    candidates = sorted(
        (
            a
            for a in direct_glycinate
            if window.contains(a.first_seen_at) and not _retracted_by(a, window.end)
        ),
        key=lambda a: (a.first_seen_at, a.pmid),
    )
    firsts: dict[str, DigestArticle] = {}
    for article in candidates:
        if article.study_type not in before:
            firsts.setdefault(article.study_type, article)
    milestones = []
    for study_type, article in sorted(
        firsts.items(), key=lambda item: (_level_key(item[1].evidence_level), item[1].pmid)
    ):
        label = STUDY_TYPE_LABELS[study_type]
        article_label = "RCT" if study_type == RCT else label.lower()
        milestones.append(
            Milestone(
                study_type=study_type,
                text=(
                    f"Milestone: first {article_label} of magnesium glycinate with migraine "
                    f"or headache outcomes (PMID {article.pmid}, first seen this week)."
                ),
                article=_entry(article, window.end),
            )
        )
    return tuple(milestones)


def _top_forms(snapshot: _Snapshot, count: int) -> tuple[str, ...]:
    per_form: Counter[str] = Counter()
    for (forms, _study_type, _level, _direct), articles in snapshot.profiles.items():
        for form in forms:
            if form != GLYCINATE and form not in NON_SALT_FORMS:
                per_form[form] += articles
    return tuple(form for form, _ in _most_first(per_form)[:count])


def _most_first(counts: Counter[str]) -> list[tuple[str, int]]:
    """(form, count) pairs, most counted first, ties in vocabulary order."""
    return sorted(counts.items(), key=lambda fc: (-fc[1], vocabulary_rank("form", fc[0])))


def chart_group(study_type: str) -> str:
    """Chart group key of a study type."""
    for key, _label, members in CHART_GROUPS:
        if study_type in members:
            return key
    return CHART_GROUPS[-1][0]


def charted_forms(tallies: DigestTallies) -> tuple[str, ...]:
    """The forms the week's chart shows: glycinate and the two most studied salts."""
    return (GLYCINATE, *_top_forms(_snapshot(tallies, previous=False), 2))


def _timeline(snapshot: _Snapshot, tallies: DigestTallies) -> Timeline:
    forms = (GLYCINATE, *_top_forms(snapshot, 2))
    missing = [form for form in forms if form not in tallies.year_forms]
    if missing:
        raise DigestInputError(f"tallies have no year counts for {', '.join(missing)}")
    group_keys = tuple(key for key, _label, _members in CHART_GROUPS)
    # Active articles per (year, chart group, direct) for each charted form; the cumulative
    # series are running sums of these.
    per_year: dict[str, Counter[tuple[int, str, bool]]] = {form: Counter() for form in forms}
    undated = dict.fromkeys(forms, 0)
    for row in tallies.years:
        if row.form not in per_year:
            continue
        if row.year is None:
            undated[row.form] += row.count
        else:
            per_year[row.form][(row.year, chart_group(row.study_type), row.direct)] += row.count
    dated_years = {year for counts in per_year.values() for year, _group, _direct in counts}
    years: tuple[int, ...] = ()
    if dated_years:
        years = tuple(range(min(dated_years), max(dated_years) + 1))
    timelines = []
    for form in forms:
        counts = per_year[form]
        running = dict.fromkeys(
            ((key, direct) for key in group_keys for direct in (True, False)), 0
        )
        series = []
        for year in years:
            for key in group_keys:
                running[(key, True)] += counts[(year, key, True)]
                running[(key, False)] += counts[(year, key, False)]
            cells = tuple(
                TimelineCell(group=key, direct=running[(key, True)], indirect=running[(key, False)])
                for key in group_keys
            )
            series.append(TimelineYear(year=year, cells=cells))
        timelines.append(FormTimeline(form=form, years=tuple(series), undated=undated[form]))
    return Timeline(
        years=years,
        groups=tuple((key, label) for key, label, _members in CHART_GROUPS),
        forms=tuple(timelines),
    )


@dataclass(slots=True)
class _FormTotals:
    """One form's evidence-map figures in one snapshot."""

    articles: int = 0
    direct: int = 0
    best_level: int | None = None


def _map_counts(
    snapshot: _Snapshot,
) -> tuple[Counter[tuple[str, str]], dict[str, _FormTotals]]:
    """Active articles per (form, study type), and per-form totals."""
    cells: Counter[tuple[str, str]] = Counter()
    totals: dict[str, _FormTotals] = {}
    for (forms, study_type, level, direct), count in snapshot.profiles.items():
        for form in forms:
            cells[(form, study_type)] += count
        for form in set(forms):  # an article counts once per form in the totals
            form_totals = totals.setdefault(form, _FormTotals())
            form_totals.articles += count
            if direct:
                form_totals.direct += count
            if level is not None and (
                form_totals.best_level is None or level < form_totals.best_level
            ):
                form_totals.best_level = level
    return cells, totals


def _evidence_map(now: _Snapshot, previous: _Snapshot) -> EvidenceMap:
    now_counts, now_totals = _map_counts(now)
    previous_counts, previous_totals = _map_counts(previous)
    present = set(now_counts) | set(previous_counts)
    study_types = tuple(st for st in STUDY_TYPES if any(key[1] == st for key in present))
    forms = tuple(f for f in FORMS if any(key[0] == f for key in present))
    none = _FormTotals()

    rows = []
    for form in forms:
        form_now = now_totals.get(form, none)
        form_previous = previous_totals.get(form, none)
        rows.append(
            EvidenceMapRow(
                form=form,
                cells=tuple(
                    MapCell(st, now_counts[(form, st)], previous_counts[(form, st)])
                    for st in study_types
                ),
                total=MapCell("total", form_now.articles, form_previous.articles),
                direct=MapCell("direct", form_now.direct, form_previous.direct),
                best_level=form_now.best_level,
                previous_best_level=form_previous.best_level,
            )
        )
    return EvidenceMap(study_types=study_types, rows=tuple(rows))


def _run_health(runs: Sequence[RunInfo], window: WeekWindow) -> RunHealth:
    in_week = tuple(sorted((r for r in runs if window.contains(r.started_at)), key=_run_key))
    finished = [r for r in runs if r.finished_at is not None and r.finished_at < window.end]
    latest = max(finished, key=_run_key, default=None)
    queries: list[str] = []
    for run in in_week:
        queries.extend(q for q in run.queries if q not in queries)
    return RunHealth(
        runs=in_week,
        queries=tuple(queries),
        new_count=sum(r.new_count for r in in_week),
        revised_count=sum(r.revised_count for r in in_week),
        failures=tuple(f for r in in_week for f in r.failures),
        last_refreshed_at=latest.finished_at if latest else None,
        last_status=latest.status if latest else None,
    )


def _run_key(run: RunInfo) -> tuple[dt.datetime, dt.datetime]:
    return (run.finished_at or run.started_at, run.started_at)


def _check_unique(articles: Sequence[DigestArticle]) -> None:
    seen: set[int] = set()
    for article in articles:
        if article.pmid in seen:
            raise DigestInputError(f"article PMID {article.pmid} is given twice")
        seen.add(article.pmid)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def build_digest(
    week: str,
    articles: Sequence[DigestArticle],
    changes: Sequence[ChangeEvent],
    runs: Sequence[RunInfo],
    *,
    demo: bool = False,
    tallies: DigestTallies | None = None,
    registry: RegistryInputs | None = None,
) -> Digest:
    """Compute the digest for ISO ``week`` (e.g. "2026-W48") as of its last second (UTC).

    Without ``tallies`` every count comes from ``articles``. With ``tallies`` (counted by the
    database for this week) the counts come from them, and ``articles`` need only hold the
    articles the digest lists: those first seen or retracted during the week and every
    glycinate one (others are ignored). ``registry`` (the stored trials and the registry
    searches of each run) adds the "Registered trials" section; without it there is none.
    """
    with gc_paused():
        return _build_digest(
            week, articles, changes, runs, demo=demo, tallies=tallies, registry=registry
        )


def _build_digest(
    week: str,
    articles: Sequence[DigestArticle],
    changes: Sequence[ChangeEvent],
    runs: Sequence[RunInfo],
    *,
    demo: bool,
    tallies: DigestTallies | None,
    registry: RegistryInputs | None = None,
) -> Digest:
    try:
        window = parse_week(week)
    except InvalidWeekError as exc:
        raise DigestInputError(str(exc)) from None
    prior = previous_week(window)
    _check_unique(articles)
    if tallies is None:
        tallies = tally_articles(window.label, window.start, window.end, articles)
    elif tallies.week != window.label:
        raise DigestInputError(f"tallies are for {tallies.week}, not for {window.label}")
    now = _snapshot(tallies, previous=False)
    previous = _snapshot(tallies, previous=True)
    headline, _glycinate = _headline(now, previous, prior.label)
    known = [a for a in articles if a.first_seen_at < window.end]

    new_articles = tuple(
        _entry(a, window.end)
        for a in sorted(
            (a for a in known if window.contains(a.first_seen_at)),
            key=lambda a: (not a.is_glycinate, _level_key(a.evidence_level), a.pmid),
        )
    )
    glycinate_articles = tuple(
        _entry(a, window.end)
        for a in sorted(
            (a for a in known if a.is_glycinate),
            key=lambda a: (not a.is_direct, -(a.year or 0), a.pmid),
        )
    )
    retracted_now = [
        a
        for a in known
        if a.retracted and _retracted_by(a, window.end) and not _retracted_by(a, window.start)
    ]
    retractions = tuple(
        RetractionEntry(article=_entry(a, window.end), retracted_at=a.retracted_at)
        for a in sorted(retracted_now, key=lambda a: a.pmid)
    )
    retracted_pmids = {a.pmid for a in retracted_now}
    revisions = tuple(
        ChangeEntry(
            pmid=c.pmid,
            title=c.title,
            seen_at=c.seen_at,
            changed_fields=c.changed_fields,
            summary=c.summary,
            pubmed_url=pubmed_url(c.pmid),
        )
        for c in sorted(changes, key=lambda c: (c.seen_at, c.pmid))
        if window.contains(c.seen_at)
        # A change that only records the retraction is already in the retractions list.
        and not (set(c.changed_fields) == {"retracted"} and c.pmid in retracted_pmids)
    )
    title = TITLE.format(week=window.label) + (DEMO_TITLE_SUFFIX if demo else "")
    return Digest(
        week=window.label,
        previous_week=prior.label,
        week_start=window.start.date(),
        as_of=window.as_of,
        demo=demo,
        title=title,
        demo_notice=DEMO_NOTICE if demo else None,
        headline=headline,
        milestones=_milestones(known, window),
        new_articles=new_articles,
        glycinate_articles=glycinate_articles,
        timeline=_timeline(now, tallies),
        evidence_map=_evidence_map(now, previous),
        retractions=retractions,
        revisions=revisions,
        run_health=_run_health(runs, window),
        registry=build_registry_section(registry, window),
    )
