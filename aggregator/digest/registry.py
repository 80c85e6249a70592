"""The digest's "Registered trials" section: a pure computation over the stored trials and the
registry searches of every run.

As-of semantics, as for articles: the section of ISO week W shows what was known at the end
of W. A trial counts once first seen by then; its status is the last one its history shows by
then; it has results once they were seen by then, and is published once a publication was
joined to it by then.

What is news is keyed on the registry's own dates, not on when this tool first saw a trial,
so the first harvest of a registry full of old trials announces nothing as this week's:

* a trial first seen this week is a *new registration* when ClinicalTrials.gov first posted
  it in this week or the week before (:data:`NEWS_WINDOW`: a weekly run may see Sunday's
  posting on Monday); older ones only "entered the watch";
* a status change is news when a harvest saw it change this week (the registry's date of the
  record version is shown); results and a first publication likewise, for trials watched
  before this week or registered this week;
* the milestones "first registered glycinate migraine/headache trial" and "first completed
  one" need the registry's date (first posted; the posting of the completed status, or the
  actual completion date of a trial first seen completed) to fall in the news window, and
  that trial to be the first by that date among every trial known.

Claims of absence are scoped: which saved registry searches, up to which day. When a
registry search failed in its latest run or never completed, the section says so and makes
no claim about what is or is not registered.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.digest.model import (
    DigestTrial,
    FormStageRow,
    RegistryInputs,
    RegistrySearchRun,
    RegistrySearchState,
    RegistrySection,
    StageRow,
    TrialEntry,
    TrialEvent,
    TrialLinkEntry,
    TrialMilestone,
    pubmed_url,
    trial_url,
)
from aggregator.trial_stages import (
    COMPLETED,
    DONE_STAGES,
    REPORTED_STAGES,
    STAGE_LABELS,
    TRIAL_STAGES,
    phase_label,
    status_label,
    trial_stage,
)
from aggregator.vocab import FORMS
from aggregator.weeks import WeekWindow

MAIN_STAGES = frozenset(TRIAL_STAGES[:6])  # not yet recruiting .. published
NEWS_WINDOW = dt.timedelta(days=7)  # registry dates this long before the week still count
REGISTRY_NAME = "ClinicalTrials.gov"
HOW_LABELS = {
    "result_reference": "the registry lists it as a result",
    "derived_reference": "linked by the registry (derived)",
    "article_mentions": "the article names the NCT id",
}


@dataclass(frozen=True, slots=True)
class _State:
    """A trial as of one moment."""

    known: bool
    status: str | None
    has_results: bool
    published: bool
    stage: str


def _state(trial: DigestTrial, moment: dt.datetime) -> _State:
    if trial.first_seen_at >= moment:
        return _State(False, None, False, False, "unknown")
    seen = [point for point in trial.statuses if point.seen_at < moment]
    status = seen[-1].status if seen else (trial.statuses[0].status if trial.statuses else None)
    has_results = trial.results_seen_at is not None and trial.results_seen_at < moment
    published = any(p.first_seen_at < moment for p in trial.publications)
    stage = trial_stage(status, has_results=has_results, published=published)
    return _State(True, status, has_results, published, stage)


def _date_text(day: dt.date | None) -> str:
    return day.isoformat() if day else "date not given"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _and_list(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _entry(trial: DigestTrial, state: _State, moment: dt.datetime) -> TrialEntry:
    return TrialEntry(
        nct_id=trial.nct_id,
        title=trial.title,
        url=trial_url(trial.nct_id),
        forms=trial.forms,
        conditions=trial.conditions,
        migraine_or_headache=trial.migraine_or_headache,
        status=state.status,
        status_label=status_label(state.status),
        stage=state.stage,
        stage_label=STAGE_LABELS[state.stage],
        phase_label=phase_label(trial.phases),
        enrollment=trial.enrollment,
        enrollment_type=trial.enrollment_type,
        first_posted=trial.first_posted,
        completion=trial.completion,
        publications=tuple(
            TrialLinkEntry(p.pmid, p.how, pubmed_url(p.pmid), p.title)
            for p in sorted(trial.publications, key=lambda p: (p.pmid, p.how))
            if p.first_seen_at < moment
        ),
    )


# ---- the registry searches --------------------------------------------------------------------


def _search_states(
    runs: Sequence[RegistrySearchRun], cutoff: dt.datetime
) -> tuple[RegistrySearchState, ...]:
    """The saved registry searches (those of the latest run that watched every one of them,
    by the cutoff), each with its latest attempt and the day its latest completed run
    covered (runs of only some searches, ``run --query``, count for those)."""
    done = sorted((r for r in runs if r.finished_at < cutoff), key=lambda r: r.finished_at)
    if not done:
        return ()
    full = [r for r in done if r.every_search] or done
    latest_run = full[-1].finished_at
    names = list(dict.fromkeys(r.name for r in full if r.finished_at == latest_run))
    states = []
    for name in names:
        attempts = [r for r in done if r.name == name]
        last = attempts[-1]
        successes = [r for r in attempts if r.ok and r.through is not None]
        through = successes[-1].through if successes else None
        if last.ok:
            state = "complete"
        elif successes:
            state = "failed"
        else:
            state = "never"
        states.append(
            RegistrySearchState(
                name=name,
                query=last.query,
                state=state,
                through=through,
                error=None if last.ok else last.error,
                last_attempt=last.finished_at,
            )
        )
    return tuple(states)


def _scope(searches: Sequence[RegistrySearchState], through: dt.date) -> str:
    names = _and_list([s.name for s in searches])
    return (
        f"in {REGISTRY_NAME}, searched by the saved registry "
        f"{'search' if len(searches) == 1 else 'searches'} {names}, through {through.isoformat()}"
    )


def _caveats(searches: Sequence[RegistrySearchState]) -> list[str]:
    sentences = []
    for search in searches:
        if search.state == "failed":
            when = search.last_attempt.date().isoformat() if search.last_attempt else "?"
            sentences.append(
                f"The registry search {search.name} failed in its latest run ({when}): "
                f"{search.error}; it last completed through {_date_text(search.through)}."
            )
        elif search.state == "never":
            sentences.append(
                f"The registry search {search.name} has never completed"
                + (f" (latest error: {search.error})." if search.error else ".")
            )
    sentences.append(
        "Until every registry search completes, this digest makes no claim about which "
        "trials are or are not registered; the trials below may be incomplete."
    )
    return sentences


def _claims(
    glycinate: Sequence[tuple[DigestTrial, _State]],
    searches: Sequence[RegistrySearchState],
    through: dt.date,
) -> list[str]:
    scope = _scope(searches, through)
    direct = [(t, s) for t, s in glycinate if t.migraine_or_headache]
    others = len(glycinate) - len(direct)
    sentences = []
    if not direct:
        sentences.append(
            f"No registered trial tests magnesium glycinate for migraine or headache {scope}."
        )
    else:
        by_stage = Counter(state.stage for _trial, state in direct)
        stages = ", ".join(
            f"{count} {STAGE_LABELS[stage]}"
            for stage in TRIAL_STAGES
            if (count := by_stage.get(stage, 0))
        )
        sentences.append(
            f"{_plural(len(direct), 'registered trial tests', 'registered trials test')} "
            f"magnesium glycinate for migraine or headache {scope}: {stages}."
        )
        stages_now = {state.stage for _trial, state in direct}
        if not stages_now & DONE_STAGES:
            sentences.append("None of them has completed yet.")
        elif not stages_now & REPORTED_STAGES:
            sentences.append(
                "None of them has posted results on the registry or a linked publication yet."
            )
        elif "published" not in stages_now:
            sentences.append("None of them has a linked publication yet.")
    if others:
        sentences.append(
            f"{_plural(others, 'more registered trial tests', 'more registered trials test')} "
            "magnesium glycinate for other conditions (indirect evidence)."
        )
    return sentences


# ---- events and milestones --------------------------------------------------------------------


def _news(day: dt.date | None, window: WeekWindow) -> bool:
    """A registry date recent enough to be this week's news."""
    return day is not None and day >= (window.start - NEWS_WINDOW).date()


def _events(
    trials: Sequence[DigestTrial], window: WeekWindow
) -> tuple[tuple[TrialEvent, ...], int]:
    events: list[TrialEvent] = []
    entered = 0

    def add(kind: str, trial: DigestTrial, seen_at: dt.datetime, text: str) -> None:
        events.append(
            TrialEvent(
                kind=kind,
                nct_id=trial.nct_id,
                title=trial.title,
                url=trial_url(trial.nct_id),
                text=text,
                seen_at=seen_at,
                glycinate=trial.is_glycinate,
                migraine_or_headache=trial.migraine_or_headache,
            )
        )

    for trial in trials:
        if trial.first_seen_at >= window.end:
            continue
        first_seen_now = window.contains(trial.first_seen_at)
        registered_now = first_seen_now and _news(trial.first_posted, window)
        if first_seen_now and not registered_now:
            entered += 1
            continue
        watched = trial.first_seen_at < window.start or registered_now
        if registered_now:
            first = trial.statuses[0].status if trial.statuses else None
            enrolment = ""
            if trial.enrollment is not None:
                kind = f" ({trial.enrollment_type.lower()})" if trial.enrollment_type else ""
                enrolment = f"; {trial.enrollment} participants{kind}"
            add(
                "registered",
                trial,
                trial.first_seen_at,
                f"newly registered (first posted {_date_text(trial.first_posted)}), "
                f"{status_label(first)}; {phase_label(trial.phases)}{enrolment}",
            )
        for point in trial.statuses:
            if point.observed_change and window.contains(point.seen_at):
                previous = [p for p in trial.statuses if p.seen_at < point.seen_at]
                old = previous[-1].status if previous else None
                add(
                    "status",
                    trial,
                    point.seen_at,
                    f"status changed from {status_label(old)} to {status_label(point.status)} "
                    f"(registry update posted {_date_text(point.posted)})",
                )
        if (
            trial.results_seen_at is not None
            and window.contains(trial.results_seen_at)
            and (watched or _news(trial.results_first_posted, window))
        ):
            add(
                "results",
                trial,
                trial.results_seen_at,
                f"results posted on the registry ({_date_text(trial.results_first_posted)})",
            )
        first_link = min(trial.publications, key=lambda p: (p.first_seen_at, p.pmid), default=None)
        if first_link is not None and window.contains(first_link.first_seen_at) and watched:
            title = f", \u201c{first_link.title}\u201d" if first_link.title else ""
            add(
                "publication",
                trial,
                first_link.first_seen_at,
                f"first publication linked ({HOW_LABELS.get(first_link.how, first_link.how)}): "
                f"PMID {first_link.pmid}{title}",
            )
    order = {"registered": 0, "status": 1, "results": 2, "publication": 3}
    events.sort(
        key=lambda e: (not e.glycinate, not e.migraine_or_headache, e.nct_id, order[e.kind])
    )
    return tuple(events), entered


def _completed_on(trial: DigestTrial, moment: dt.datetime) -> tuple[dt.date, dt.datetime] | None:
    """The registry's date the trial was completed (as known by ``moment``) and when we saw
    it: the posting of the first record version showing COMPLETED, or, for a trial first seen
    completed, its actual completion date."""
    for point in trial.statuses:
        if point.seen_at >= moment:
            break
        if point.status == COMPLETED:
            day = point.posted if point.observed_change else trial.completion_date
            return (day, point.seen_at) if day is not None else None
    return None


def _milestones(trials: Sequence[DigestTrial], window: WeekWindow) -> tuple[TrialMilestone, ...]:
    direct = [
        t
        for t in trials
        if t.is_glycinate and t.migraine_or_headache and t.first_seen_at < window.end
    ]
    milestones: list[TrialMilestone] = []
    posted = sorted(
        (t for t in direct if t.first_posted is not None),
        key=lambda t: (t.first_posted, t.nct_id),
    )
    if posted:
        first = posted[0]
        if window.contains(first.first_seen_at) and _news(first.first_posted, window):
            milestones.append(
                TrialMilestone(
                    kind="first_registered",
                    text=(
                        "Milestone: first registered trial of magnesium glycinate for migraine "
                        f"or headache ({first.nct_id}, first posted on {REGISTRY_NAME} "
                        f"{_date_text(first.first_posted)})."
                    ),
                    trial=_entry(first, _state(first, window.end), window.end),
                )
            )
    completed = sorted(
        (
            (day, seen, t.nct_id, t)
            for t in direct
            if (found := _completed_on(t, window.end)) is not None
            for day, seen in (found,)
        ),
        key=lambda item: item[:3],
    )
    if completed:
        day, seen, _nct, trial = completed[0]
        if window.contains(seen) and _news(day, window):
            milestones.append(
                TrialMilestone(
                    kind="first_completed",
                    text=(
                        "Milestone: first completed registered trial of magnesium glycinate "
                        f"for migraine or headache ({trial.nct_id}, completed on "
                        f"{REGISTRY_NAME} as of {day.isoformat()})."
                    ),
                    trial=_entry(trial, _state(trial, window.end), window.end),
                )
            )
    return tuple(milestones)


# ---- the section ------------------------------------------------------------------------------


def build_registry_section(
    inputs: RegistryInputs | None, window: WeekWindow
) -> RegistrySection | None:
    """The "Registered trials" section of the week (None without registry inputs)."""
    if inputs is None:
        return None
    cutoff = window.end
    searches = _search_states(inputs.search_runs, cutoff)
    ran = bool(searches)
    complete = ran and all(s.state == "complete" for s in searches)
    through = min((s.through for s in searches if s.through), default=None) if complete else None
    # Only trials giving magnesium count: a search for glycinate also finds iron or zinc
    # bisglycinate trials, which the form rules leave without a magnesium form.
    watched = [t for t in inputs.trials if t.forms]
    known = [(t, state) for t in watched if (state := _state(t, cutoff)).known]
    glycinate = [(t, s) for t, s in known if t.is_glycinate]
    migraine = [(t, s) for t, s in known if t.migraine_or_headache]
    if not ran:
        sentences = [
            f"The {REGISTRY_NAME} watch had not run by the end of this week: this digest "
            "makes no claim about registered trials."
        ]
    elif not complete:
        sentences = _caveats(searches)
    else:
        assert through is not None
        sentences = _claims(glycinate, searches, through)
    stage_counts = {
        stage: (
            sum(1 for t, s in glycinate if s.stage == stage and t.migraine_or_headache),
            sum(1 for t, s in glycinate if s.stage == stage and not t.migraine_or_headache),
        )
        for stage in TRIAL_STAGES
    }
    form_counts: dict[str, Counter[str]] = {}
    for trial, state in migraine:
        for form in trial.forms:
            form_counts.setdefault(form, Counter())[state.stage] += 1
    # The main stages always; "stopped" and "status unknown" when some trial is there.
    used = {s.stage for _t, s in glycinate} | {s.stage for _t, s in migraine}
    stages = tuple(st for st in TRIAL_STAGES if st in MAIN_STAGES or st in used)
    form_rows = tuple(
        FormStageRow(
            form=form,
            by_stage=tuple((stage, form_counts[form][stage]) for stage in TRIAL_STAGES),
            total=sum(form_counts[form].values()),
        )
        for form in FORMS
        if form in form_counts
    )
    stage_rank = {stage: i for i, stage in enumerate(TRIAL_STAGES)}
    glycinate_entries = tuple(
        _entry(t, s, cutoff)
        for t, s in sorted(
            glycinate,
            key=lambda item: (
                not item[0].migraine_or_headache,
                stage_rank[item[1].stage],
                item[0].nct_id,
            ),
        )
    )
    events, entered = _events(watched, window)
    return RegistrySection(
        ran=ran,
        complete=complete,
        searches=searches,
        through=through,
        sentences=tuple(sentences),
        stages=tuple((stage, STAGE_LABELS[stage]) for stage in stages),
        glycinate_stages=tuple(
            StageRow(stage, STAGE_LABELS[stage], *stage_counts[stage]) for stage in TRIAL_STAGES
        ),
        glycinate_trials=glycinate_entries,
        form_stages=form_rows,
        migraine_trials=len(migraine),
        events=events,
        entered_watch=entered,
        milestones=_milestones(watched, window),
    )
