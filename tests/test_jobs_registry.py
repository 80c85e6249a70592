"""The registry watch against the fake ClinicalTrials.gov: paging, incremental runs, status
history, form tagging, links to articles both ways, failures, faults, on SQLite and PostgreSQL.

The fake serves the SYNTHETIC registry corpus (aggregator/ctgov/fake/corpus/: NCT99000001 up,
invented sponsors and titles) and studies made here with ``build_study``; the articles are
synthetic too (PMIDs 99000000 up).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from aggregator.article import Article
from aggregator.ctgov import RegistryClient, RegistrySearch, load_registry_searches
from aggregator.ctgov import shipped_registry_dir as shipped
from aggregator.ctgov.fake import BASE_TODAY, FakeRegistry, build_study
from aggregator.http import PoliteSession, RetryPolicy
from aggregator.jobs.harvest import HarvestReport
from aggregator.jobs.library import show_article
from aggregator.jobs.publish import build_weekly_digest
from aggregator.jobs.registry import RegistryWatch
from aggregator.jobs.trials import show_trial
from aggregator.jobs.weekly import run_weekly
from aggregator.store.articles import upsert_article
from aggregator.store.engine import new_session
from aggregator.store.lock import RunLock
from aggregator.store.runs import get_checkpoint, recent_runs
from aggregator.store.trials import get_trial, list_trials, registry_checkpoint_name
from aggregator.tagging import tag_article
from tests.plugins.databases import make_article

SEARCHES = load_registry_searches(shipped())
GLYCINATE, MIGRAINE = SEARCHES  # sorted by name
SUNDAYS = {
    "2026-W47": dt.date(2026, 11, 22),
    "2026-W48": dt.date(2026, 11, 29),
    "2026-W49": dt.date(2026, 12, 6),
}


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry(today=BASE_TODAY) as server:
        yield server


def client(fake: FakeRegistry, attempts: int = 2) -> RegistryClient:
    session = PoliteSession(
        tool="aggregator-tests",
        requests_per_second=200,
        retry=RetryPolicy(max_attempts=attempts, backoff_base=0.01, backoff_max=0.02),
        timeout=(2.0, 5.0),
        ncbi_identity=False,
    )
    return RegistryClient(fake.url, session=session)


def watch_registry(
    engine: Engine,
    fake: FakeRegistry,
    *,
    searches: Sequence[RegistrySearch] = SEARCHES,
    page_size: int = 100,
    attempts: int = 2,
    minute: int = 0,
) -> HarvestReport:
    """One run with no PubMed search and the registry searches, on the fake's day."""
    day = fake.today
    moment = [dt.datetime.combine(day, dt.time(7, minute), tzinfo=dt.UTC)]

    def clock() -> dt.datetime:
        moment[0] += dt.timedelta(milliseconds=10)
        return moment[0]

    with RegistryWatch(client(fake, attempts), searches, page_size) as watch:
        result = run_weekly(
            engine,
            None,  # type: ignore[arg-type]  # no PubMed search runs: the client is not used
            [],
            digest=None,
            clock=clock,
            today=lambda: day,
            lock=RunLock(engine, clock=clock),
            registry=watch,
        )
    return result.report


def stored(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with new_session(engine) as session:
        return {
            t.nct_id: (t.row.overall_status, t.forms, t.row.content_hash)
            for t in list_trials(session)
        }


def requests(fake: FakeRegistry) -> list[dict[str, str]]:
    return [entry.params for entry in fake.requests if entry.endpoint == "studies"]


# ---- paging and incremental runs -----------------------------------------------------------


def test_pages_are_followed_with_tokens_and_every_study_is_stored(
    db: Engine, fake: FakeRegistry
) -> None:
    report = watch_registry(db, fake, page_size=2)
    assert report.ok, report.summary_lines()
    sent = requests(fake)
    # 6 + 7 studies at 2 a page: 3 + 4 requests; later pages repeat the first page's query.
    assert len(sent) == 7
    tokens = [params.get("pageToken") for params in sent]
    assert tokens[0] is None and tokens[3] is None and all(tokens[1:3]) and all(tokens[4:])
    for params in sent[1:3]:
        assert {k: v for k, v in params.items() if k != "pageToken"} == sent[0]
    assert sorted(stored(db)) == [f"NCT990000{n:02d}" for n in range(1, 13)]
    registry = report.follow_up
    assert registry is not None
    assert [(o.name, o.found, o.pages, o.new, o.unchanged) for o in registry.outcomes] == [
        ("ctgov-magnesium-glycinate", 6, 3, 6, 0),
        ("ctgov-magnesium-migraine", 7, 4, 6, 1),  # NCT99000001 came with the first search
    ]
    assert sent[0]["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2000-01-01,MAX]"


def test_a_weekly_run_asks_only_for_studies_updated_since_the_checkpoint(
    db: Engine, fake: FakeRegistry
) -> None:
    watch_registry(db, fake)
    before = stored(db)
    fake.set_today(SUNDAYS["2026-W47"])
    fake.reset_log()
    report = watch_registry(db, fake)
    assert [p["filter.advanced"] for p in requests(fake)] == [
        "AREA[LastUpdatePostDate]RANGE[2026-11-15,MAX]"
    ] * 2
    registry = report.follow_up
    assert registry is not None
    assert [(o.found, o.new, o.changed, o.status_changes) for o in registry.outcomes] == [
        (1, 0, 1, 1),
        (1, 0, 0, 0),
    ]
    after = stored(db)
    changed = {nct for nct in after if after[nct] != before[nct]}
    assert changed == {"NCT99000001"} and after["NCT99000001"][0] == "COMPLETED"
    with new_session(db) as session:
        for search in SEARCHES:
            checkpoint = get_checkpoint(
                session, registry_checkpoint_name(search.name), search.fingerprint
            )
            assert checkpoint == SUNDAYS["2026-W47"]


def test_a_run_with_nothing_new_makes_one_request_per_registry_search(
    db: Engine, fake: FakeRegistry
) -> None:
    watch_registry(db, fake, page_size=2)
    before = stored(db)
    fake.reset_log()
    report = watch_registry(db, fake, page_size=2, minute=30)
    assert len(fake.requests) == len(SEARCHES) == 2
    assert [entry.studies_returned for entry in fake.requests] == [0, 0]
    assert stored(db) == before
    assert report.ok and report.summary_lines()[-1].endswith(
        "registry: 0 new, 0 updated trials, 0 failed searches"
    )


def test_an_edited_search_starts_again_from_its_start_date(db: Engine, fake: FakeRegistry) -> None:
    watch_registry(db, fake)
    fake.set_today(SUNDAYS["2026-W47"])
    fake.reset_log()
    edited = RegistrySearch(MIGRAINE.name, MIGRAINE.start_date, cond="migraine", intr=MIGRAINE.intr)
    watch_registry(db, fake, searches=[edited])
    (params,) = requests(fake)
    assert params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2000-01-01,MAX]"


# ---- what is stored --------------------------------------------------------------------------


def test_status_history_across_the_corpus_timeline(db: Engine, fake: FakeRegistry) -> None:
    watch_registry(db, fake)
    for week in ("2026-W47", "2026-W48", "2026-W49"):
        fake.set_today(SUNDAYS[week])
        watch_registry(db, fake)
    with new_session(db) as session:
        first = get_trial(session, "NCT99000001")
        second = get_trial(session, "NCT99000014")
    assert first is not None and second is not None
    history = [(h.seen_at.date(), h.old_status, h.new_status, h.posted) for h in first.history]
    assert history == [
        (BASE_TODAY, None, "RECRUITING", "2026-06-10"),
        (SUNDAYS["2026-W47"], "RECRUITING", "COMPLETED", "2026-11-18"),
    ]
    assert [(h.seen_at.date(), h.old_status, h.new_status) for h in second.history] == [
        (SUNDAYS["2026-W48"], None, "NOT_YET_RECRUITING"),
        (SUNDAYS["2026-W49"], "NOT_YET_RECRUITING", "RECRUITING"),
    ]
    row = first.row
    assert (row.has_results, row.results_first_posted, row.enrollment_type) == (
        True,
        "2026-11-25",
        "ACTUAL",
    )
    assert row.results_seen_at is not None and row.results_seen_at.date() == SUNDAYS["2026-W48"]
    assert (row.completion_date, row.completion_date_type) == ("2026-09-25", "ACTUAL")
    revised = [set(r.changed_fields) for r in first.revisions]
    assert {"overall_status", "enrollment_type", "completion_date_type"} <= revised[0]
    assert {"has_results", "references", "results_first_posted"} <= revised[1]
    assert [(p.pmid, p.how) for p in first.publications] == [(99100001, "result_reference")]
    assert second.forms == ("glycinate", "oxide")


def test_glycinate_is_tagged_only_when_it_is_the_magnesium_salt(
    db: Engine, fake: FakeRegistry
) -> None:
    day = dt.date(2026, 11, 1)
    for nct_id, interventions in (
        ("NCT99000601", (("DIETARY_SUPPLEMENT", "Ferrous bisglycinate 25 mg"),
                         ("OTHER", "Magnesium stearate (capsule excipient) with glycinate"))),
        ("NCT99000602", (("DIETARY_SUPPLEMENT", "Zinc bisglycinate"),
                         ("DIETARY_SUPPLEMENT", "Magnesium oxide"))),
        ("NCT99000603", (("DIETARY_SUPPLEMENT", "Magnesium bisglycinate chelate"),)),
        ("NCT99000604", (("DIETARY_SUPPLEMENT", "Mg glycinate 300 mg"),)),
    ):  # fmt: skip
        fake.add_study(
            build_study(
                nct_id,
                title="Synthetic supplement study (magnesium and other minerals)",
                conditions=("Fatigue",),
                interventions=interventions,
                last_update=day,
            )
        )
    watch_registry(db, fake, searches=[GLYCINATE])
    forms = {nct: found[1] for nct, found in stored(db).items()}
    assert forms["NCT99000601"] == ()  # ferrous bisglycinate; stearate is no form
    assert forms["NCT99000602"] == ("oxide",)  # zinc bisglycinate is zinc's
    assert forms["NCT99000603"] == ("glycinate",)
    assert forms["NCT99000604"] == ("glycinate",)
    assert forms["NCT99000009"] == () and forms["NCT99000010"] == ("oxide",)  # corpus traps
    assert forms["NCT99000012"] == ("glycinate",)  # named in an arm description only
    with new_session(db) as session:
        trial = get_trial(session, "NCT99000603")
    assert trial is not None
    assert trial.row.form_tags[0]["source"] == "intervention_name"
    assert trial.row.migraine_or_headache is False


# ---- links both ways -------------------------------------------------------------------------


def store_article(engine: Engine, article: Article, now: dt.datetime) -> None:
    with new_session(engine) as session:
        upsert_article(
            session, article, tags=tag_article(article), run_id=None, now=now, source="import"
        )
        session.commit()


def test_trials_and_articles_are_linked_both_ways(db: Engine, fake: FakeRegistry) -> None:
    early = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)
    # The RESULT reference of NCT99000007 names this PMID; the article does not name the trial.
    store_article(db, make_article(99000001, abstract="Synthetic sleep trial.", raw_xml=""), early)
    # This one names NCT99000004 in its abstract, and NCT99000003 in its databank list.
    databank = (
        "<PubmedArticle><DataBankList CompleteYN='Y'><DataBank><DataBankName>ClinicalTrials.gov"
        "</DataBankName><AccessionNumberList><AccessionNumber>NCT99000003</AccessionNumber>"
        "</AccessionNumberList></DataBank></DataBankList></PubmedArticle>"
    )
    store_article(
        db,
        make_article(
            99000700,
            title="Synthetic protocol",
            abstract="TRIAL REGISTRATION: ClinicalTrials.gov NCT 99000004.",
            raw_xml=databank,
        ),
        early,
    )
    report = watch_registry(db, fake)
    registry = report.follow_up
    assert registry is not None
    assert registry.details()["links"] == {
        "ok": True,
        "articles": 1,
        "added": 2,
        "removed": 0,
        "error": None,
    }
    trial = show_trial(db, "nct99000004")
    assert trial is not None
    assert [(p["pmid"], p["how"], p["in_database"]) for p in trial["publications"]] == [
        (99000040, "derived_reference", False),
        (99000700, "article_mentions", True),
    ]
    assert trial["stage"] == "published"
    shown = show_article(db, 99000700)
    assert shown is not None
    assert [(r["nct_id"], r["how"], r["status"]) for r in shown.document["registrations"]] == [
        ("NCT99000003", "article_mentions", "COMPLETED"),
        ("NCT99000004", "article_mentions", "RECRUITING"),
    ]
    sleep = show_article(db, 99000001)
    assert sleep is not None
    assert [(r["nct_id"], r["how"]) for r in sleep.document["registrations"]] == [
        ("NCT99000007", "result_reference")
    ]

    # The article is fetched again without the registration: its mention links go.
    later = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    store_article(
        db, make_article(99000700, title="Synthetic protocol", abstract="No id.", raw_xml=""), later
    )
    fake.set_today(SUNDAYS["2026-W47"])
    report = watch_registry(db, fake)
    assert report.follow_up is not None
    assert report.follow_up.details()["links"]["removed"] == 2
    shown = show_article(db, 99000700)
    assert shown is not None and shown.document["registrations"] == []


# ---- failures --------------------------------------------------------------------------------


def test_a_failing_registry_search_is_reported_and_the_other_completes(
    db: Engine, fake: FakeRegistry
) -> None:
    fake.inject("503", endpoint="studies", times=2)  # both attempts of the first search
    report = watch_registry(db, fake, attempts=2)
    lines = report.summary_lines()
    assert report.status == "partial" and not report.ok
    assert lines[0].startswith("registry ctgov-magnesium-glycinate: FAILED: ")
    assert lines[1].startswith("registry ctgov-magnesium-migraine: 7 new")
    assert lines[-1].endswith(
        "1 failed queries; registry: 7 new, 0 updated trials, 1 failed searches"
    )
    with new_session(db) as session:
        assert get_checkpoint(session, registry_checkpoint_name(GLYCINATE.name)) is None
        assert get_checkpoint(session, registry_checkpoint_name(MIGRAINE.name)) == BASE_TODAY
        (run,) = recent_runs(session)
    assert (run.status, run.failed_queries, run.searched) == ("partial", 1, 2)
    assert run.error is not None and run.error.startswith("registry ctgov-magnesium-glycinate: ")
    searches = run.details["registry"]["searches"]
    assert [(s["name"], s["ok"]) for s in searches] == [
        ("ctgov-magnesium-glycinate", False),
        ("ctgov-magnesium-migraine", True),
    ]

    digest = build_weekly_digest(db, "2026-W46").digest
    section = digest.registry
    assert section is not None and not section.complete
    assert section.sentences[0].startswith(
        "The registry search ctgov-magnesium-glycinate has never completed (latest error: "
    )
    assert not any("No registered trial" in s for s in section.sentences)
    assert any(
        f.startswith("registry ctgov-magnesium-glycinate: ") for f in digest.run_health.failures
    )

    # The next run completes it: the first harvest of that search starts from its start date.
    fake.reset_log()
    again = watch_registry(db, fake, minute=30)
    assert again.ok
    assert requests(fake)[0]["filter.advanced"].startswith("AREA[LastUpdatePostDate]RANGE[2000")
    rebuilt = build_weekly_digest(db, "2026-W46").digest.registry
    assert rebuilt is not None and rebuilt.complete


def test_no_claim_is_made_before_the_registry_was_ever_watched(db: Engine) -> None:
    digest = build_weekly_digest(db, "2026-W46").digest
    assert digest.registry is not None
    assert digest.registry.sentences == (
        "The ClinicalTrials.gov watch had not run by the end of this week: this digest makes no "
        "claim about registered trials.",
    )


def test_thirty_percent_faults_lose_nothing(db: Engine) -> None:
    studies = [
        build_study(
            f"NCT99{number:06d}",
            title=f"Synthetic bulk study {number}",
            conditions=("Migraine",),
            interventions=(("DRUG", "Magnesium citrate"),),
            last_update=dt.date(2026, 1, 1) + dt.timedelta(days=number % 200),
        )
        for number in range(1000, 1240)
    ]
    with FakeRegistry(studies, today=BASE_TODAY) as fake:
        fake.set_fault_rate(0.3, seed=15)
        report = watch_registry(db, fake, searches=[MIGRAINE], page_size=20, attempts=10)
        faults = sum(1 for entry in fake.requests if entry.fault)
        assert report.ok, report.summary_lines()
        expected = {nct: fake.get_study(nct) for nct in fake.nct_ids}
        fake.clear_faults()
        again = watch_registry(db, fake, searches=[MIGRAINE], page_size=20, minute=30)
    assert faults > 5, "the faults really happened"
    found = stored(db)
    assert sorted(found) == sorted(expected)
    assert all(
        status == "RECRUITING" and forms == ("citrate",) for status, forms, _ in found.values()
    )
    assert again.follow_up is not None and again.follow_up.total("changed") == 0
