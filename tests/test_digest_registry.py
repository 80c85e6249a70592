"""The digest's "Registered trials" section as a pure computation: what counts as this week's
news (keyed on the registry's dates), milestones, scoped claims of absence, and no claims when
a registry search failed or never completed.

Every trial here is SYNTHETIC (NCT99000800 up, invented titles).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

from aggregator.digest import build_digest, render_html, render_json, render_markdown
from aggregator.digest.model import (
    DigestTrial,
    RegistryInputs,
    RegistrySearchRun,
    RegistrySection,
    TrialPublication,
    TrialStatusPoint,
)
from aggregator.trial_stages import TRIAL_STAGES

W46 = dt.datetime(2026, 11, 9, 7, 0, tzinfo=dt.UTC)  # Monday 07:00 of each week
W47 = dt.datetime(2026, 11, 16, 7, 0, tzinfo=dt.UTC)
W48 = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
SEARCHES = ("ctgov-a", "ctgov-b")


def trial(
    nct: str,
    *,
    forms: tuple[str, ...] = ("glycinate",),
    headache: bool = True,
    posted: dt.date = dt.date(2019, 1, 1),
    seen: dt.datetime = W46,
    statuses: tuple[tuple[dt.datetime, str, dt.date], ...] | None = None,
    completion: dt.date | None = None,
    results: tuple[dt.date, dt.datetime] | None = None,
    publications: tuple[TrialPublication, ...] = (),
) -> DigestTrial:
    points = statuses or ((seen, "RECRUITING", posted),)
    return DigestTrial(
        nct_id=nct,
        title=f"Synthetic trial {nct}",
        forms=forms,
        migraine_or_headache=headache,
        conditions=("Migraine",) if headache else ("Insomnia",),
        phases=("PHASE2",),
        enrollment=100,
        enrollment_type="ESTIMATED",
        first_posted=posted,
        completion=f"{completion} (actual)" if completion else None,
        completion_date=completion,
        results_first_posted=results[0] if results else None,
        first_seen_at=seen,
        results_seen_at=results[1] if results else None,
        statuses=tuple(
            TrialStatusPoint(at, status, day, index > 0)
            for index, (at, status, day) in enumerate(points)
        ),
        publications=publications,
    )


def runs(*moments: dt.datetime, failed: dict[dt.datetime, str] | None = None) -> tuple:
    failed = failed or {}
    return tuple(
        RegistrySearchRun(
            name=name,
            query=f"query.term={name}",
            finished_at=moment + dt.timedelta(minutes=5),
            ok=not (moment in failed and name == "ctgov-a"),
            through=None if moment in failed and name == "ctgov-a" else moment.date(),
            error=failed.get(moment) if name == "ctgov-a" else None,
        )
        for moment in moments
        for name in SEARCHES
    )


def section(week: str, trials: list[DigestTrial], search_runs: tuple) -> RegistrySection:
    digest = build_digest(week, [], [], [], registry=RegistryInputs(tuple(trials), search_runs))
    assert digest.registry is not None
    return digest.registry


def test_a_first_harvest_of_an_old_registry_announces_nothing() -> None:
    old = [
        trial("NCT99000801", posted=dt.date(2019, 3, 1)),
        trial(
            "NCT99000802",
            posted=dt.date(2015, 1, 1),
            statuses=((W46, "COMPLETED", dt.date(2017, 1, 1)),),
            completion=dt.date(2016, 6, 30),
            results=(dt.date(2017, 1, 1), W46),
            publications=(TrialPublication(99000001, "result_reference", W46),),
        ),
    ]
    found = section("2026-W46", old, runs(W46))
    assert (found.milestones, found.events, found.entered_watch) == ((), (), 2)
    assert found.sentences[0] == (
        "2 registered trials test magnesium glycinate for migraine or headache in "
        "ClinicalTrials.gov, searched by the saved registry searches ctgov-a and ctgov-b, through "
        "2026-11-09: 1 recruiting, 1 published."
    )


def test_the_first_registered_glycinate_migraine_trial_is_a_milestone_in_its_week() -> None:
    # First posted on the Friday before, seen on Monday: still news (one week's grace).
    new = trial("NCT99000803", posted=dt.date(2026, 11, 6), seen=W46)
    first = section("2026-W46", [new], runs(W46))
    assert [m.kind for m in first.milestones] == ["first_registered"]
    assert first.milestones[0].text == (
        "Milestone: first registered trial of magnesium glycinate for migraine or headache "
        "(NCT99000803, first posted on ClinicalTrials.gov 2026-11-06)."
    )
    assert [(e.kind, e.nct_id) for e in first.events] == [("registered", "NCT99000803")]
    # Not again the next week, and not when an older one exists.
    assert section("2026-W47", [new], runs(W46, W47)).milestones == ()
    older = trial("NCT99000804", posted=dt.date(2024, 1, 1), seen=W46)
    assert section("2026-W46", [new, older], runs(W46)).milestones == ()
    # Registered long ago but first seen now (a new search): no milestone, no news.
    late = trial("NCT99000805", posted=dt.date(2026, 10, 1), seen=W46)
    assert section("2026-W46", [late], runs(W46)).milestones == ()


def test_the_first_completed_one_is_keyed_on_the_registry_date() -> None:
    completing = trial(
        "NCT99000806",
        posted=dt.date(2025, 1, 1),
        seen=W46,
        statuses=(
            (W46, "RECRUITING", dt.date(2026, 6, 1)),
            (W47, "COMPLETED", dt.date(2026, 11, 12)),
        ),
    )
    found = section("2026-W47", [completing], runs(W46, W47))
    assert [m.kind for m in found.milestones] == ["first_completed"]
    assert "completed on ClinicalTrials.gov as of 2026-11-12" in found.milestones[0].text
    assert [e.text for e in found.events] == [
        "status changed from recruiting to completed (registry update posted 2026-11-12)"
    ]
    # A trial first seen completed long ago is no milestone; one seen completed with a recent
    # actual completion date is.
    old = trial(
        "NCT99000807",
        seen=W47,
        statuses=((W47, "COMPLETED", dt.date(2020, 1, 1)),),
        completion=dt.date(2019, 12, 1),
    )
    assert section("2026-W47", [old], runs(W47)).milestones == ()
    fresh = trial(
        "NCT99000808",
        posted=dt.date(2024, 2, 1),
        seen=W47,
        statuses=((W47, "COMPLETED", dt.date(2026, 11, 13)),),
        completion=dt.date(2026, 11, 10),
    )
    assert [m.kind for m in section("2026-W47", [fresh], runs(W47)).milestones] == [
        "first_completed"
    ]
    # An earlier completed one (by registry date) takes the honour: no milestone this week.
    assert section("2026-W47", [completing, old], runs(W46, W47)).milestones == ()


def test_absence_is_claimed_only_scoped_and_only_when_every_search_completed() -> None:
    other = trial("NCT99000809", headache=False)
    oxide = trial("NCT99000810", forms=("oxide",))
    found = section("2026-W46", [other, oxide], runs(W46))
    assert found.sentences == (
        "No registered trial tests magnesium glycinate for migraine or headache in "
        "ClinicalTrials.gov, searched by the saved registry searches ctgov-a and ctgov-b, "
        "through 2026-11-09.",
        "1 more registered trial tests magnesium glycinate for other conditions (indirect "
        "evidence).",
    )
    failed = section(
        "2026-W47", [other, oxide], runs(W46, W47, failed={W47: "HTTP 503 after 5 attempts"})
    )
    assert not failed.complete and failed.through is None
    assert failed.sentences == (
        "The registry search ctgov-a failed in its latest run (2026-11-16): HTTP 503 after 5 "
        "attempts; it last completed through 2026-11-09.",
        "Until every registry search completes, this digest makes no claim about which trials "
        "are or are not registered; the trials below may be incomplete.",
    )
    never = section("2026-W46", [oxide], runs(W46, failed={W46: "HTTP 500"}))
    assert (
        never.sentences[0]
        == "The registry search ctgov-a has never completed (latest error: HTTP 500)."
    )
    # The claim covers the day the slowest search reached; a run of only some searches
    # (run --query) moves theirs on, and leaves the others where they were.
    only_b = tuple(replace(r, every_search=False) for r in runs(W47) if r.name == "ctgov-b")
    lagging = section("2026-W47", [oxide], runs(W46) + only_b)
    assert [(s.name, s.through) for s in lagging.searches] == [
        ("ctgov-a", dt.date(2026, 11, 9)),
        ("ctgov-b", dt.date(2026, 11, 16)),
    ]
    assert lagging.through == dt.date(2026, 11, 9)


def test_stages_follow_the_history_as_of_each_week() -> None:
    changing = trial(
        "NCT99000811",
        seen=W46,
        statuses=(
            (W46, "NOT_YET_RECRUITING", dt.date(2026, 11, 2)),
            (W47, "RECRUITING", dt.date(2026, 11, 12)),
            (W48, "COMPLETED", dt.date(2026, 11, 19)),
        ),
        posted=dt.date(2026, 11, 2),
        results=(dt.date(2026, 11, 20), W48),
    )
    stages = [
        section(week, [changing], runs(W46, W47, W48)).glycinate_trials[0].stage
        for week in ("2026-W46", "2026-W47", "2026-W48")
    ]
    assert stages == ["not_yet_recruiting", "recruiting", "results_posted"]
    w48 = section("2026-W48", [changing], runs(W46, W47, W48))
    assert [e.kind for e in w48.events] == ["status", "results"]


def test_trials_without_a_magnesium_form_are_left_out() -> None:
    found = section("2026-W46", [trial("NCT99000812", forms=())], runs(W46))
    assert (
        found.glycinate_trials,
        found.form_stages,
        found.migraine_trials,
        found.entered_watch,
    ) == (
        (),
        (),
        0,
        0,
    )


def test_every_format_carries_the_section_and_json_keys_never_vary() -> None:
    trials = [trial("NCT99000813", posted=dt.date(2026, 11, 6), seen=W46)]
    registry = RegistryInputs(tuple(trials), runs(W46))
    digest = build_digest("2026-W46", [], [], [], registry=registry)
    data = json.loads(render_json(digest))["registry"]
    assert [s["key"] for s in data["stages"]] == list(TRIAL_STAGES)
    assert list(data["glycinate_by_stage"]) == list(TRIAL_STAGES)
    assert data["milestones"][0]["trial"]["nct_id"] == "NCT99000813"
    assert data["changes"][0]["kind"] == "registered"
    markdown = render_markdown(digest)
    assert "## Registered trials" in markdown and "first registered trial" in markdown
    html = render_html(digest)
    assert 'id="registered-trials"' in html and "NCT99000813" in html
    bare = build_digest("2026-W46", [], [], [])
    assert bare.registry is None and json.loads(render_json(bare))["registry"] is None
    assert "Registered trials" not in render_markdown(bare)
