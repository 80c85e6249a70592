"""Pure computation of a weekly digest from plain inputs.

As-of semantics: the digest for ISO week W shows what was known at the end of W (Sunday
23:59:59 UTC). Articles count only when first seen by then and stop counting (as retracted)
once their retraction was seen by then. Week-over-week changes are the same numbers computed
as of the end of W-1 from the same inputs, so a digest is reproducible and its deltas exact.
Retracted articles are left out of every count; they are listed in their own section.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..vocab import FORMS, STUDY_TYPE_LABELS, STUDY_TYPES
from .model import (
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
    RetractionEntry,
    RunHealth,
    RunInfo,
    Timeline,
    TimelineCell,
    TimelineYear,
    doi_url,
    pubmed_url,
)

GLYCINATE = "glycinate"
SYNTHESIS_TYPES = frozenset({"meta_analysis", "systematic_review"})
RCT = "randomized_controlled_trial"
# Vocabulary "forms" that are not a salt: left out when picking the most studied forms.
NOT_A_SALT = frozenset({"unspecified", "dietary"})

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

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")


# --------------------------------------------------------------------------------------------
# Weeks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeekWindow:
    """An ISO week as a half-open UTC interval [start, end)."""

    label: str
    start: dt.datetime  # Monday 00:00 UTC
    end: dt.datetime  # next Monday 00:00 UTC (exclusive)

    @property
    def as_of(self) -> dt.datetime:
        """Sunday 23:59:59 UTC, the last second of the week."""
        return self.end - dt.timedelta(seconds=1)

    def contains(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end


def parse_week(week: str) -> WeekWindow:
    """Parse "2026-W48" into its UTC window; a clear error for anything else."""
    match = _WEEK_RE.fullmatch(week.strip()) if isinstance(week, str) else None
    if not match:
        raise DigestInputError(f"invalid ISO week {week!r}; expected YYYY-Www, e.g. 2026-W48")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise DigestInputError(f"invalid ISO week {week!r}: {year} has no week {number}") from None
    return _window_from_monday(monday)


def _window_from_monday(monday: dt.date) -> WeekWindow:
    start = dt.datetime(monday.year, monday.month, monday.day, tzinfo=dt.UTC)
    iso = monday.isocalendar()
    return WeekWindow(f"{iso.year}-W{iso.week:02d}", start, start + dt.timedelta(days=7))


def previous_week(window: WeekWindow) -> WeekWindow:
    return _window_from_monday(window.start.date() - dt.timedelta(days=7))


# --------------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------------


def _retracted_by(article: DigestArticle, cutoff: dt.datetime) -> bool:
    """Retraction known before ``cutoff`` (no retracted_at: known since first seen)."""
    if not article.retracted:
        return False
    seen = article.retracted_at or article.first_seen_at
    return seen < cutoff


@dataclass(frozen=True, slots=True)
class _Snapshot:
    known: tuple[DigestArticle, ...]  # first seen before the cutoff
    active: tuple[DigestArticle, ...]  # known and not retracted by the cutoff


def _snapshot(articles: Sequence[DigestArticle], cutoff: dt.datetime) -> _Snapshot:
    known = tuple(a for a in articles if a.first_seen_at < cutoff)
    return _Snapshot(known, tuple(a for a in known if not _retracted_by(a, cutoff)))


def _counts(articles: Iterable[DigestArticle]) -> EvidenceCounts:
    chosen = list(articles)
    levels = [a.evidence_level for a in chosen if a.evidence_level is not None]
    return EvidenceCounts(
        articles=len(chosen),
        rcts=sum(1 for a in chosen if a.study_type == RCT),
        syntheses=sum(1 for a in chosen if a.study_type in SYNTHESIS_TYPES),
        best_level=min(levels) if levels else None,
    )


def _split(
    now: Sequence[DigestArticle],
    previous: Sequence[DigestArticle],
    include: Callable[[DigestArticle], bool],
) -> EvidenceSplit:
    def change(direct: bool) -> CountsChange:
        return CountsChange(
            now=_counts(a for a in now if include(a) and a.is_direct == direct),
            previous=_counts(a for a in previous if include(a) and a.is_direct == direct),
        )

    return EvidenceSplit(direct=change(True), indirect=change(False))


def _form_order(form: str) -> int:
    return FORMS.index(form)


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
    glycinate = _split(now.active, previous.active, lambda a: a.is_glycinate)
    overall = _split(now.active, previous.active, lambda a: True)
    rct_forms = Counter(
        form for a in now.active if a.is_direct and a.study_type == RCT for form in a.forms
    )
    migraine_rct_forms = tuple(
        FormCount(form, count)
        for form, count in sorted(rct_forms.items(), key=lambda fc: (-fc[1], _form_order(fc[0])))
    )
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
        added = len(now.known) - len(previous.known)
        withdrawn = (len(now.known) - len(now.active)) - (
            len(previous.known) - len(previous.active)
        )
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
        forms=tuple(sorted(article.forms, key=_form_order)),
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


def _milestones(now: _Snapshot, previous: _Snapshot, window: WeekWindow) -> tuple[Milestone, ...]:
    before = {a.study_type for a in previous.active if a.is_glycinate and a.is_direct}
    candidates = sorted(
        (
            a
            for a in now.active
            if a.is_glycinate and a.is_direct and window.contains(a.first_seen_at)
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


def _top_forms(active: Sequence[DigestArticle], count: int) -> tuple[str, ...]:
    per_form = Counter(
        form for a in active for form in a.forms if form != GLYCINATE and form not in NOT_A_SALT
    )
    ranked = sorted(per_form.items(), key=lambda fc: (-fc[1], _form_order(fc[0])))
    return tuple(form for form, _ in ranked[:count])


def chart_group(study_type: str) -> str:
    """Chart group key of a study type."""
    for key, _label, members in CHART_GROUPS:
        if study_type in members:
            return key
    return CHART_GROUPS[-1][0]


def _timeline(active: Sequence[DigestArticle]) -> Timeline:
    forms = (GLYCINATE, *_top_forms(active, 2))
    dated = [a for a in active if a.year is not None and any(f in a.forms for f in forms)]
    years: tuple[int, ...] = ()
    if dated:
        first = min(a.year for a in dated if a.year is not None)
        last = max(a.year for a in dated if a.year is not None)
        years = tuple(range(first, last + 1))
    timelines = []
    for form in forms:
        members = [a for a in active if form in a.forms]
        series = []
        for year in years:
            upto = [a for a in members if a.year is not None and a.year <= year]
            cells = tuple(
                TimelineCell(
                    group=key,
                    direct=sum(1 for a in upto if a.is_direct and chart_group(a.study_type) == key),
                    indirect=sum(
                        1 for a in upto if not a.is_direct and chart_group(a.study_type) == key
                    ),
                )
                for key, _label, _members in CHART_GROUPS
            )
            series.append(TimelineYear(year=year, cells=cells))
        timelines.append(
            FormTimeline(
                form=form,
                years=tuple(series),
                undated=sum(1 for a in members if a.year is None),
            )
        )
    return Timeline(
        years=years,
        groups=tuple((key, label) for key, label, _members in CHART_GROUPS),
        forms=tuple(timelines),
    )


def _evidence_map(now: _Snapshot, previous: _Snapshot) -> EvidenceMap:
    def per(snapshot: _Snapshot) -> Counter[tuple[str, str]]:
        return Counter((form, a.study_type) for a in snapshot.active for form in a.forms)

    now_counts, previous_counts = per(now), per(previous)
    present = set(now_counts) | set(previous_counts)
    study_types = tuple(st for st in STUDY_TYPES if any(key[1] == st for key in present))
    forms = tuple(f for f in FORMS if any(key[0] == f for key in present))

    def best(snapshot: _Snapshot, form: str) -> int | None:
        levels = [
            a.evidence_level
            for a in snapshot.active
            if form in a.forms and a.evidence_level is not None
        ]
        return min(levels) if levels else None

    def total(snapshot: _Snapshot, form: str, direct_only: bool) -> int:
        return sum(
            1 for a in snapshot.active if form in a.forms and (a.is_direct or not direct_only)
        )

    rows = tuple(
        EvidenceMapRow(
            form=form,
            cells=tuple(
                MapCell(st, now_counts[(form, st)], previous_counts[(form, st)])
                for st in study_types
            ),
            total=MapCell("total", total(now, form, False), total(previous, form, False)),
            direct=MapCell("direct", total(now, form, True), total(previous, form, True)),
            best_level=best(now, form),
            previous_best_level=best(previous, form),
        )
        for form in forms
    )
    return EvidenceMap(study_types=study_types, rows=rows)


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
) -> Digest:
    """Compute the digest for ISO ``week`` (e.g. "2026-W48") as of its last second (UTC)."""
    window = parse_week(week)
    prior = previous_week(window)
    _check_unique(articles)
    now = _snapshot(articles, window.end)
    previous = _snapshot(articles, prior.end)
    headline, _glycinate = _headline(now, previous, prior.label)

    new_articles = tuple(
        _entry(a, window.end)
        for a in sorted(
            (a for a in now.known if window.contains(a.first_seen_at)),
            key=lambda a: (not a.is_glycinate, _level_key(a.evidence_level), a.pmid),
        )
    )
    glycinate_articles = tuple(
        _entry(a, window.end)
        for a in sorted(
            (a for a in now.known if a.is_glycinate),
            key=lambda a: (not a.is_direct, -(a.year or 0), a.pmid),
        )
    )
    retracted_now = [
        a
        for a in now.known
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
        milestones=_milestones(now, previous, window),
        new_articles=new_articles,
        glycinate_articles=glycinate_articles,
        timeline=_timeline(now.active),
        evidence_map=_evidence_map(now, previous),
        retractions=retractions,
        revisions=revisions,
        run_health=_run_health(runs, window),
    )
