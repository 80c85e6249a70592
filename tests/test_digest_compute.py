"""build_digest: as-of semantics, exact week-over-week deltas, milestones and input errors.

All inputs are SYNTHETIC (tests/test_digest_corpus.py and articles built here).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from aggregator.digest import DigestInputError, build_digest
from aggregator.digest.compute import NO_DIRECT_GLYCINATE
from aggregator.digest.model import (
    ChangeEntry,
    CountsChange,
    EvidenceCounts,
    EvidenceSplit,
    FormCount,
    MapCell,
    RunHealth,
)
from aggregator.digest.tally import tally_articles
from aggregator.weeks import parse_week
from tests.test_digest_corpus import (
    RCT,
    W46,
    W47,
    W48,
    W49,
    article,
    corpus_articles,
    corpus_digest,
    corpus_runs,
    retracted_corpus_articles,
)


def counts(articles: int, rcts: int, syntheses: int, best: int | None) -> EvidenceCounts:
    return EvidenceCounts(articles=articles, rcts=rcts, syntheses=syntheses, best_level=best)


NONE = counts(0, 0, 0, None)


def test_week1_baseline_has_no_direct_glycinate_study() -> None:
    digest = corpus_digest("2026-W45")
    assert digest.headline.glycinate == EvidenceSplit(
        direct=CountsChange(now=NONE, previous=NONE),
        indirect=CountsChange(now=counts(4, 1, 0, 2), previous=counts(3, 1, 0, 2)),
    )
    assert digest.headline.overall == EvidenceSplit(
        direct=CountsChange(now=counts(11, 8, 1, 1), previous=counts(10, 7, 1, 1)),
        indirect=CountsChange(now=counts(4, 1, 0, 2), previous=counts(3, 1, 0, 2)),
    )
    assert digest.headline.no_direct_glycinate
    assert digest.headline.migraine_rct_forms == (
        FormCount("oxide", 4),
        FormCount("citrate", 2),
        FormCount("sulfate", 2),
    )
    assert digest.headline.sentences[1:3] == (
        NO_DIRECT_GLYCINATE,
        "The evidence for migraine rests instead on other forms: migraine/headache RCTs used "
        "oxide (4), citrate (2), sulfate (2).",
    )
    # Glycinate first, then by evidence level.
    assert [a.pmid for a in digest.new_articles] == [99000015, 99000014]
    assert digest.milestones == ()
    assert (digest.week, digest.previous_week) == ("2026-W45", "2026-W44")
    assert digest.as_of == dt.datetime(2026, 11, 8, 23, 59, 59, tzinfo=dt.UTC)


def test_week2_new_records_revision_and_failure() -> None:
    digest = corpus_digest("2026-W46")
    assert [a.pmid for a in digest.new_articles] == [99000016, 99000017]
    assert digest.new_articles[0].combination_product
    assert digest.revisions == (
        ChangeEntry(
            pmid=99000004,
            title="Magnesium citrate for migraine prevention: synthetic RCT",
            seen_at=W46 + dt.timedelta(minutes=3),
            changed_fields=("publication_types", "mesh_headings"),
            summary="Publication types gained Randomized Controlled Trial; MeSH indexing added.",
            pubmed_url="https://pubmed.ncbi.nlm.nih.gov/99000004/",
        ),
    )
    assert digest.run_health == RunHealth(
        runs=(corpus_runs()[2],),
        queries=("magnesium-migraine", "magnesium-glycinate"),
        new_count=2,
        revised_count=1,
        failures=("magnesium-glycinate: HTTP 429 Too Many Requests after 3 retries",),
        last_refreshed_at=W46 + dt.timedelta(minutes=5),
        last_status="partial",
    )
    chloride = [row for row in digest.evidence_map.rows if row.form == "chloride"]
    assert [(r.total, r.direct, r.best_level, r.previous_best_level) for r in chloride] == [
        (MapCell("total", 1, 0), MapCell("direct", 1, 0), 4, None)
    ]


def test_week3_retraction_removes_the_article_from_counts() -> None:
    digest = corpus_digest("2026-W47")
    assert [(r.article.pmid, r.article.retracted, r.retracted_at) for r in digest.retractions] == [
        (99000007, True, W47 + dt.timedelta(minutes=1))
    ]
    # The change event that only records the retraction is not listed twice.
    assert digest.revisions == ()
    assert digest.headline.overall.direct == CountsChange(
        now=counts(11, 7, 1, 1), previous=counts(12, 8, 1, 1)
    )
    assert digest.headline.migraine_rct_forms == (
        FormCount("oxide", 4),
        FormCount("citrate", 2),
        FormCount("sulfate", 1),
    )
    sulfate = next(row for row in digest.evidence_map.rows if row.form == "sulfate")
    rct_column = digest.evidence_map.study_types.index(RCT)
    assert (sulfate.cells[rct_column], sulfate.total) == (
        MapCell(RCT, 1, 2),
        MapCell("total", 2, 3),
    )
    # The week before, the same inputs show it as an ordinary, counted article.
    before = corpus_digest("2026-W46")
    assert before.retractions == ()
    assert before.headline.overall.direct.now == counts(12, 8, 1, 1)


def test_week4_first_direct_glycinate_rct_is_the_milestone() -> None:
    digest = corpus_digest("2026-W48")
    assert [(m.study_type, m.article.pmid) for m in digest.milestones] == [(RCT, 99000019)]
    assert digest.milestones[0].text == (
        "Milestone: first RCT of magnesium glycinate with migraine or headache outcomes "
        "(PMID 99000019, first seen this week)."
    )
    assert digest.headline.glycinate.direct == CountsChange(now=counts(1, 1, 0, 2), previous=NONE)
    assert not digest.headline.no_direct_glycinate
    assert NO_DIRECT_GLYCINATE not in digest.headline.sentences
    assert digest.headline.overall.direct == CountsChange(
        now=counts(13, 8, 2, 1), previous=counts(11, 7, 1, 1)
    )
    glycinate_row = digest.evidence_map.rows[0]
    assert (glycinate_row.form, glycinate_row.direct, glycinate_row.total) == (
        "glycinate",
        MapCell("direct", 1, 0),
        MapCell("total", 7, 6),
    )
    assert [a.pmid for a in digest.glycinate_articles][:1] == [99000019]


def test_empty_week() -> None:
    digest = corpus_digest("2026-W49")
    assert digest.is_empty
    assert (digest.new_articles, digest.revisions, digest.retractions, digest.milestones) == (
        (),
        (),
        (),
        (),
    )
    assert digest.headline.sentences[-1] == "No change since 2026-W48."
    assert digest.run_health.new_count == 0


def test_later_data_does_not_change_an_earlier_digest() -> None:
    """Reproducible: W46 from today's data equals W46 from only what was known then."""
    known_then = [a for a in corpus_articles() if a.first_seen_at < W47]
    assert corpus_digest("2026-W46") == corpus_digest("2026-W46", known_then)


def test_week_boundaries_are_sunday_235959_utc() -> None:
    last_second = dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=dt.UTC)
    inside = article(
        99000101, "Edge (synthetic)", forms=("oxide",), study_type=RCT, seen=last_second
    )
    outside = article(
        99000102,
        "Next week (synthetic)",
        forms=("oxide",),
        study_type=RCT,
        seen=last_second + dt.timedelta(seconds=1),
    )
    # A different time zone on input is the same instant.
    cet = dt.timezone(dt.timedelta(hours=1))
    shifted = replace(inside, pmid=99000103, first_seen_at=last_second.astimezone(cet))
    digest = build_digest("2026-W48", [inside, outside, shifted], [], [])
    assert [a.pmid for a in digest.new_articles] == [99000101, 99000103]


def test_only_the_first_direct_glycinate_study_of_each_design_is_a_milestone() -> None:
    extra = [
        article(
            99000201,
            "A second glycinate migraine RCT (synthetic)",
            forms=("glycinate",),
            study_type=RCT,
            seen=W49 + dt.timedelta(hours=1),
        ),
        article(
            99000202,
            "Glycinate headache case series (synthetic)",
            forms=("glycinate",),
            study_type="case_series",
            conditions=("other_headache",),
            seen=W49 + dt.timedelta(hours=1),
        ),
    ]
    digest = corpus_digest("2026-W49", [*retracted_corpus_articles(), *extra])
    assert [(m.study_type, m.article.pmid) for m in digest.milestones] == [
        ("case_series", 99000202)
    ]


def test_retracted_direct_glycinate_study_does_not_count_as_milestone() -> None:
    retracted = replace(
        article(
            99000301,
            "Retracted glycinate RCT (synthetic)",
            forms=("glycinate",),
            study_type=RCT,
            seen=W48,
        ),
        retracted=True,
        retracted_at=W48 + dt.timedelta(days=1),
    )
    digest = build_digest("2026-W48", [retracted], [], [])
    assert digest.milestones == ()
    assert digest.headline.no_direct_glycinate
    assert [(a.pmid, a.retracted) for a in digest.new_articles] == [(99000301, True)]


def test_chart_uses_the_two_most_studied_salts() -> None:
    digest = corpus_digest("2026-W48")
    assert [f.form for f in digest.timeline.forms] == ["glycinate", "oxide", "citrate"]
    final = digest.timeline.forms[0].final
    assert final is not None
    assert (final.year, final.direct, final.indirect) == (2026, 1, 6)
    assert digest.timeline.years == tuple(range(2012, 2027))


def test_demo_flag_marks_title_and_notice() -> None:
    digest = corpus_digest("2026-W48", demo=True)
    assert digest.title.endswith("(DEMO: synthetic data)")
    assert digest.demo_notice is not None and "synthetic corpus" in digest.demo_notice


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-48", "invalid ISO week '2026-48'; expected YYYY-Www, e.g. 2026-W48"),
        ("2025-W53", "invalid ISO week '2025-W53': 2025 has no week 53"),
        ("2026-W00", "invalid ISO week '2026-W00': 2026 has no week 0"),
    ],
)
def test_bad_week_is_a_one_line_error(week: str, message: str) -> None:
    with pytest.raises(DigestInputError) as info:
        build_digest(week, [], [], [])
    assert str(info.value) == message


def test_invalid_inputs_name_the_problem() -> None:
    with pytest.raises(DigestInputError, match=r"^article PMID 99000401: unknown form 'gylcinate'"):
        article(99000401, "Typo (synthetic)", forms=("gylcinate",), study_type=RCT)
    with pytest.raises(DigestInputError, match=r"first_seen_at must be a timezone-aware"):
        article(
            99000402,
            "Naive (synthetic)",
            forms=("oxide",),
            study_type=RCT,
            seen=dt.datetime(2026, 11, 2, 6, 0),
        )
    duplicate = article(99000403, "Twice (synthetic)", forms=("oxide",), study_type=RCT)
    with pytest.raises(DigestInputError) as info:
        build_digest("2026-W48", [duplicate, duplicate], [], [])
    assert str(info.value) == "article PMID 99000403 is given twice"


def test_tallies_must_fit_the_week_and_the_chart() -> None:
    oxide = article(99000404, "Oxide trial (synthetic)", forms=("oxide",), study_type=RCT)
    window = parse_week("2026-W48")
    tallies = tally_articles("2026-W48", window.start, window.end, [oxide])
    # Counted with every form's years, the tallies give the same digest as the articles.
    assert build_digest("2026-W48", [oxide], [], [], tallies=tallies) == build_digest(
        "2026-W48", [oxide], [], []
    )
    with pytest.raises(DigestInputError) as info:
        build_digest("2026-W49", [oxide], [], [], tallies=tallies)
    assert str(info.value) == "tallies are for 2026-W48, not for 2026-W49"
    glycinate_only = replace(
        tallies,
        years=tuple(y for y in tallies.years if y.form == "glycinate"),
        year_forms=("glycinate",),
    )
    with pytest.raises(DigestInputError) as info:
        build_digest("2026-W48", [oxide], [], [], tallies=glycinate_only)
    assert str(info.value) == "tallies have no year counts for oxide"


def test_no_articles_at_all() -> None:
    digest = build_digest("2026-W48", [], [], [])
    assert digest.is_empty
    assert digest.headline.sentences[1:3] == (
        NO_DIRECT_GLYCINATE,
        "No migraine/headache RCT of any magnesium form is recorded yet.",
    )
    assert digest.timeline.years == ()
    assert digest.run_health.last_refreshed_at is None
    assert digest.updated_at == digest.as_of
