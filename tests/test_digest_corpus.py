"""SYNTHETIC digest corpus: invented articles, changes and runs for the digest tests.

Every record here is made up (PMIDs from 99000000 up, invented journals and DOIs under the
10.99999 test prefix); none describes a real study or real results. The corpus plays five ISO
weeks, 2026-W45 to 2026-W49:

- W45 baseline: no glycinate migraine study; glycinate sleep, bioavailability and review
  articles; oxide, citrate and sulfate migraine RCTs, one meta-analysis.
- W46: new records (one glycinate), one revision, one harvest failure.
- W47: a sulfate RCT is retracted; one new glycinate review.
- W48: the first direct glycinate RCT (the milestone) and a new meta-analysis.
- W49: nothing new, no changes (the empty week).

The registry side (invented trials, NCT99000101 up, every title saying "synthetic"): an oxide,
a citrate and a sulfate migraine/headache trial and a glycinate sleep trial known before W45;
an older chloride headache trial entering the watch in W45; the first registered glycinate
migraine trial, first posted in W45 and seen in W46 (the milestone), recruiting from W48; the
sulfate trial's results posted in W47, when one registry search failed (no claims that week).

The tests in this module check the corpus itself, so the other digest tests can trust it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from aggregator.digest import build_digest
from aggregator.digest.model import (
    ChangeEvent,
    Digest,
    DigestArticle,
    DigestTrial,
    RegistryInputs,
    RegistrySearchRun,
    RunInfo,
    TrialPublication,
    TrialStatusPoint,
)
from aggregator.vocab import EVIDENCE_LEVEL

WEEKS = ("2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49")
BEFORE = dt.datetime(2026, 10, 5, 6, 0, tzinfo=dt.UTC)  # the initial harvest (W41)
W45 = dt.datetime(2026, 11, 2, 6, 0, tzinfo=dt.UTC)  # Monday 06:00 of each week
W46 = dt.datetime(2026, 11, 9, 6, 0, tzinfo=dt.UTC)
W47 = dt.datetime(2026, 11, 16, 6, 0, tzinfo=dt.UTC)
W48 = dt.datetime(2026, 11, 23, 6, 0, tzinfo=dt.UTC)
W49 = dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC)


def article(
    pmid: int,
    title: str,
    *,
    forms: tuple[str, ...],
    study_type: str,
    conditions: tuple[str, ...] = ("migraine",),
    year: int = 2020,
    seen: dt.datetime = BEFORE,
    combination: bool = False,
    snippet: str | None = None,
    field: str | None = None,
) -> DigestArticle:
    """A synthetic article; the evidence level follows the study type as the tagger does."""
    return DigestArticle(
        pmid=pmid,
        title=title,
        journal="Journal of Synthetic Test Data",
        year=year,
        doi=f"10.99999/synthetic.{pmid}",
        forms=forms,
        conditions=conditions,
        study_type=study_type,
        evidence_level=EVIDENCE_LEVEL[study_type],
        combination_product=combination,
        retracted=False,
        retracted_at=None,
        first_seen_at=seen,
        glycinate_snippet=snippet,
        glycinate_field=field,
    )


RCT = "randomized_controlled_trial"


def corpus_articles() -> list[DigestArticle]:
    """All synthetic articles with their first-seen times (and the W47 retraction)."""
    return [
        # --- known before W45 -------------------------------------------------------------
        article(
            99000001,
            "Oral magnesium oxide for migraine prophylaxis: a synthetic RCT",
            forms=("oxide",),
            study_type=RCT,
            year=2012,
        ),
        article(
            99000002,
            "Magnesium oxide versus placebo in episodic migraine (synthetic)",
            forms=("oxide",),
            study_type=RCT,
            year=2016,
        ),
        article(
            99000003,
            "Magnesium oxide in paediatric migraine: a synthetic trial",
            forms=("oxide",),
            study_type=RCT,
            year=2019,
        ),
        article(
            99000004,
            "Magnesium citrate for migraine prevention: synthetic RCT",
            forms=("citrate",),
            study_type=RCT,
            year=2015,
        ),
        article(
            99000005,
            "Magnesium citrate and riboflavin in migraine (synthetic)",
            forms=("citrate",),
            study_type=RCT,
            year=2021,
            combination=True,
        ),
        article(
            99000006,
            "Intravenous magnesium sulfate for acute migraine (synthetic)",
            forms=("sulfate",),
            study_type=RCT,
            year=2010,
        ),
        article(
            99000007,
            "Magnesium sulfate infusion in status migrainosus (synthetic)",
            forms=("sulfate",),
            study_type=RCT,
            year=2018,
        ),
        article(
            99000008,
            "Magnesium for migraine: a synthetic meta-analysis",
            forms=("oxide", "citrate", "sulfate"),
            study_type="meta_analysis",
            year=2022,
        ),
        article(
            99000009,
            "Magnesium glycinate and sleep quality in adults (synthetic RCT)",
            forms=("glycinate",),
            study_type=RCT,
            conditions=("other",),
            year=2020,
            snippet="participants took magnesium glycinate 250 mg nightly",
            field="abstract",
        ),
        article(
            99000010,
            "Bioavailability of magnesium bisglycinate chelate (synthetic)",
            forms=("glycinate",),
            study_type="single_arm_trial",
            conditions=("other",),
            year=2017,
            snippet="magnesium bisglycinate chelate",
            field="title",
        ),
        article(
            99000011,
            "Tolerability of magnesium salts: a synthetic narrative review",
            forms=("glycinate", "oxide", "citrate"),
            study_type="narrative_review",
            conditions=("other",),
            year=2023,
            snippet="glycinate was better tolerated than oxide",
            field="abstract",
        ),
        article(
            99000012,
            "Dietary magnesium intake and migraine prevalence (synthetic)",
            forms=("dietary",),
            study_type="cross_sectional",
            year=2019,
        ),
        article(
            99000013,
            "Serum magnesium and tension-type headache: a synthetic cohort",
            forms=("unspecified",),
            study_type="cohort",
            conditions=("tension_type_headache",),
            year=2014,
        ),
        # --- first seen in W45 ------------------------------------------------------------
        article(
            99000014,
            "Magnesium oxide in tension-type headache: a synthetic RCT",
            forms=("oxide",),
            study_type=RCT,
            conditions=("tension_type_headache",),
            year=2025,
            seen=W45 + dt.timedelta(minutes=2),
        ),
        article(
            99000015,
            "Magnesium glycinate uptake in intestinal cells (synthetic)",
            forms=("glycinate",),
            study_type="in_vitro",
            conditions=("other",),
            year=2025,
            seen=W45 + dt.timedelta(minutes=2),
            snippet="magnesium glycinate",
            field="title",
        ),
        # --- first seen in W46 ------------------------------------------------------------
        article(
            99000016,
            "Magnesium glycinate with melatonin for insomnia (synthetic)",
            forms=("glycinate",),
            study_type="cross_sectional",
            conditions=("other",),
            year=2026,
            seen=W46 + dt.timedelta(minutes=3),
            combination=True,
            snippet="magnesium glycinate plus melatonin",
            field="title",
        ),
        article(
            99000017,
            "Magnesium chloride in menstrual migraine: a synthetic case series",
            forms=("chloride",),
            study_type="case_series",
            year=2026,
            seen=W46 + dt.timedelta(minutes=3),
        ),
        # --- first seen in W47 ------------------------------------------------------------
        article(
            99000018,
            "Forms of oral magnesium: a synthetic review | salts & chelates",
            forms=("glycinate", "citrate"),
            study_type="narrative_review",
            conditions=("other",),
            year=2026,
            seen=W47 + dt.timedelta(minutes=1),
            snippet="chelated forms such as *glycinate*",
            field="abstract",
        ),
        # --- first seen in W48 ------------------------------------------------------------
        article(
            99000019,
            "Magnesium glycinate for migraine prevention: a synthetic RCT",
            forms=("glycinate",),
            study_type=RCT,
            year=2026,
            seen=W48 + dt.timedelta(minutes=4),
            snippet="randomised to magnesium glycinate 400 mg",
            field="abstract",
        ),
        article(
            99000020,
            "Oral magnesium in migraine: an updated synthetic meta-analysis",
            forms=("oxide", "citrate"),
            study_type="meta_analysis",
            year=2026,
            seen=W48 + dt.timedelta(minutes=4),
        ),
    ]


def retracted_corpus_articles() -> list[DigestArticle]:
    """The corpus as the store returns it after W47: 99000007 retracted on 2026-11-16."""
    return [
        replace(a, retracted=True, retracted_at=W47 + dt.timedelta(minutes=1))
        if a.pmid == 99000007
        else a
        for a in corpus_articles()
    ]


def corpus_changes() -> list[ChangeEvent]:
    return [
        ChangeEvent(
            pmid=99000004,
            title="Magnesium citrate for migraine prevention: synthetic RCT",
            seen_at=W46 + dt.timedelta(minutes=3),
            changed_fields=("publication_types", "mesh_headings"),
            summary="Publication types gained Randomized Controlled Trial; MeSH indexing added.",
        ),
        ChangeEvent(
            pmid=99000007,
            title="Magnesium sulfate infusion in status migrainosus (synthetic)",
            seen_at=W47 + dt.timedelta(minutes=1),
            changed_fields=("retracted",),
            summary="Marked as Retracted Publication.",
        ),
        ChangeEvent(
            pmid=99000009,
            title="Magnesium glycinate and sleep quality in adults: a synthetic RCT",
            seen_at=W48 + dt.timedelta(minutes=4),
            changed_fields=("title",),
            summary="Title corrected.",
        ),
    ]


def corpus_runs() -> list[RunInfo]:
    queries = ("magnesium-migraine", "magnesium-glycinate")

    def run(start: dt.datetime, new: int, revised: int, *failures: str) -> RunInfo:
        return RunInfo(
            started_at=start,
            finished_at=start + dt.timedelta(minutes=5),
            status="partial" if failures else "ok",
            queries=queries,
            new_count=new,
            revised_count=revised,
            failures=failures,
        )

    return [
        run(BEFORE, 13, 0),
        run(W45, 2, 0),
        run(W46, 2, 1, "magnesium-glycinate: HTTP 429 Too Many Requests after 3 retries"),
        run(W47, 1, 1),
        run(W48, 2, 1),
        run(W49, 0, 0),
    ]


def trial(
    nct_id: str,
    title: str,
    *,
    forms: tuple[str, ...],
    headache: bool,
    first_posted: dt.date,
    seen: dt.datetime,
    statuses: tuple[tuple[dt.datetime, str, dt.date], ...],
    phases: tuple[str, ...] = ("PHASE2",),
    enrollment: tuple[int, str] = (100, "ESTIMATED"),
    completion: tuple[str, dt.date] | None = None,
    results: tuple[dt.date, dt.datetime] | None = None,
    publications: tuple[TrialPublication, ...] = (),
) -> DigestTrial:
    """A synthetic registered trial; ``statuses`` are (seen, status, registry date), oldest
    first (the first is the status when first seen)."""
    return DigestTrial(
        nct_id=nct_id,
        title=title,
        forms=forms,
        migraine_or_headache=headache,
        conditions=("Migraine",) if headache else ("Insomnia",),
        phases=phases,
        enrollment=enrollment[0],
        enrollment_type=enrollment[1],
        first_posted=first_posted,
        completion=completion[0] if completion else None,
        completion_date=completion[1] if completion else None,
        results_first_posted=results[0] if results else None,
        first_seen_at=seen,
        results_seen_at=results[1] if results else None,
        statuses=tuple(
            TrialStatusPoint(at, status, posted, index > 0)
            for index, (at, status, posted) in enumerate(statuses)
        ),
        publications=publications,
    )


def corpus_trials() -> list[DigestTrial]:
    """Synthetic registered trials (NCT99000101 up) with their histories."""
    day = dt.date
    return [
        trial(
            "NCT99000101",
            "Magnesium oxide for migraine prophylaxis (synthetic)",
            forms=("oxide",),
            headache=True,
            first_posted=day(2018, 3, 1),
            seen=BEFORE,
            statuses=((BEFORE, "COMPLETED", day(2020, 5, 1)),),
            phases=("PHASE3",),
            enrollment=(200, "ACTUAL"),
            completion=("2019-12-20 (actual)", day(2019, 12, 20)),
            publications=(
                TrialPublication(
                    99000001,
                    "result_reference",
                    BEFORE,
                    "Oral magnesium oxide for migraine prophylaxis: a synthetic RCT",
                ),
            ),
        ),
        trial(
            "NCT99000102",
            "Magnesium glycinate and sleep in older adults (synthetic)",
            forms=("glycinate",),
            headache=False,
            first_posted=day(2025, 4, 10),
            seen=BEFORE,
            statuses=((BEFORE, "RECRUITING", day(2025, 9, 1)),),
            phases=("NA",),
            enrollment=(80, "ESTIMATED"),
        ),
        trial(
            "NCT99000103",
            "Magnesium glycinate for episodic migraine prevention (synthetic)",
            forms=("glycinate",),
            headache=True,
            first_posted=day(2026, 11, 6),
            seen=W46 + dt.timedelta(minutes=2),
            statuses=(
                (W46 + dt.timedelta(minutes=2), "NOT_YET_RECRUITING", day(2026, 11, 6)),
                (W48 + dt.timedelta(minutes=2), "RECRUITING", day(2026, 11, 20)),
            ),
            enrollment=(150, "ESTIMATED"),
        ),
        trial(
            "NCT99000104",
            "Intravenous magnesium sulfate for headache in the emergency department (synthetic)",
            forms=("sulfate",),
            headache=True,
            first_posted=day(2015, 6, 1),
            seen=BEFORE,
            statuses=((BEFORE, "COMPLETED", day(2017, 2, 1)),),
            phases=("PHASE4",),
            enrollment=(300, "ACTUAL"),
            completion=("2016-11-30 (actual)", day(2016, 11, 30)),
            results=(day(2026, 11, 12), W47 + dt.timedelta(minutes=2)),
        ),
        trial(
            "NCT99000105",
            "Magnesium citrate in menstrual migraine (synthetic)",
            forms=("citrate",),
            headache=True,
            first_posted=day(2012, 1, 10),
            seen=BEFORE,
            statuses=((BEFORE, "TERMINATED", day(2013, 6, 30)),),
            enrollment=(31, "ACTUAL"),
        ),
        trial(
            "NCT99000106",
            "Magnesium chloride for tension-type headache (synthetic)",
            forms=("chloride",),
            headache=True,
            first_posted=day(2019, 5, 5),
            seen=W45 + dt.timedelta(minutes=2),
            statuses=((W45 + dt.timedelta(minutes=2), "ACTIVE_NOT_RECRUITING", day(2026, 9, 1)),),
        ),
    ]


REGISTRY_SEARCHES = (
    ("ctgov-test-glycinate", 'query.term="magnesium AND glycinate"'),
    ("ctgov-test-migraine", 'query.cond="migraine OR headache" query.intr="magnesium"'),
)


def corpus_search_runs() -> list[RegistrySearchRun]:
    """The registry searches of every run: all complete, except the glycinate one in W47."""
    found = []
    for start in (BEFORE, W45, W46, W47, W48, W49):
        for name, query in REGISTRY_SEARCHES:
            failed = start == W47 and name == "ctgov-test-glycinate"
            found.append(
                RegistrySearchRun(
                    name=name,
                    query=query,
                    finished_at=start + dt.timedelta(minutes=5),
                    ok=not failed,
                    through=None if failed else start.date(),
                    error="HTTP 503 after 5 attempts" if failed else None,
                )
            )
    return found


def corpus_registry() -> RegistryInputs:
    return RegistryInputs(trials=tuple(corpus_trials()), search_runs=tuple(corpus_search_runs()))


def corpus_digest(
    week: str, articles: Sequence[DigestArticle] | None = None, *, demo: bool = False
) -> Digest:
    """The digest of ``week`` over the corpus (or over ``articles`` with the corpus changes)."""
    chosen = retracted_corpus_articles() if articles is None else articles
    return build_digest(
        week, chosen, corpus_changes(), corpus_runs(), demo=demo, registry=corpus_registry()
    )


def test_corpus_is_synthetic_and_unique() -> None:
    articles = retracted_corpus_articles()
    pmids = [a.pmid for a in articles]
    assert len(pmids) == len(set(pmids))
    assert all(p >= 99000000 for p in pmids)
    assert all(c.pmid >= 99000000 for c in corpus_changes())
    assert all("synthetic" in a.title.lower() for a in articles)
    assert {a.pmid for a in articles if a.retracted} == {99000007}


def test_corpus_has_no_direct_glycinate_study_before_w48() -> None:
    direct_glycinate = [a for a in corpus_articles() if a.is_glycinate and a.is_direct]
    assert [(a.pmid, a.first_seen_at >= W48) for a in direct_glycinate] == [(99000019, True)]
