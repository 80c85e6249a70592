"""The weekly digest end to end on the SYNTHETIC fixture corpus, over four simulated weeks.

The fake NCBI server serves the corpus shipped in aggregator/pubmed/fake/corpus/ (invented
records, PMIDs from 99000000 up) and the fake ClinicalTrials.gov the registry corpus in
aggregator/ctgov/fake/corpus/ (invented studies, NCT99000001 up). We harvest both base
corpora on BASE_TODAY (Sunday of 2026-W46), then move the servers' date and the harvest clock
to the Sunday of 2026-W47, W48 and W49, where the timelines bring new records, a revision, a
retraction notice for an article first seen two weeks earlier, the first direct glycinate RCT
(W47), a glycinate migraine trial completing (W47) and posting results linked to that RCT
(W48), and a second one registered (W48) and recruiting (W49). After each harvest the week's
digest is built from the database by ``publish_digest`` (the code path of ``aggregator
digest``) and compared with the golden files in tests/golden/corpus/ (regenerate with
UPDATE_GOLDEN=1). The key numbers are also asserted explicitly, in a way that does not depend
on how the tagger labels unrelated records.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from aggregator.cli.context import AppContext
from aggregator.ctgov import RegistryClient, load_registry_searches, shipped_registry_dir
from aggregator.ctgov.fake import FakeRegistry
from aggregator.http import PoliteSession, RetryPolicy
from aggregator.jobs.delivery import SMTP_TO_VAR, SMTP_URL_VAR
from aggregator.jobs.harvest import Harvester, HarvestReport
from aggregator.jobs.publish import publish_digest
from aggregator.jobs.registry import RegistryHarvester, RegistryWatch
from aggregator.pubmed.eutils import EutilsClient
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.corpus import BASE_TODAY
from aggregator.queries import SavedQuery, load_queries, shipped_queries_dir
from aggregator.settings import load_settings
from aggregator.store.digests import get_digest
from aggregator.store.engine import new_session
from aggregator.store.lock import RunLock

GOLDEN_DIR = Path(__file__).parent / "golden" / "corpus"
WEEKS = ("2026-W46", "2026-W47", "2026-W48", "2026-W49")
FIRST_GLYCINATE_RCT = 99100001  # timeline, 2026-W47
GLYCINATE_CASE_SERIES = 99100003  # timeline, 2026-W48
REVISED_RCT = 99000056  # base record, revised in 2026-W48 (title corrected, RCT type added)
RETRACTED_LATER = 99100002  # new in 2026-W47, retracted in 2026-W49
RETRACTION_NOTICE = 99100005  # its retraction notice, new in 2026-W49
BASE_RETRACTED = 99000053  # retracted before the first harvest
BASE_NOTICE = 99000054  # its notice
RCT = "randomized_controlled_trial"


def harvest_day(week: str) -> dt.date:
    """The Sunday of an ISO week: the day each simulated weekly harvest runs."""
    year, number = week.split("-W")
    return dt.date.fromisocalendar(int(year), int(number), 7)


class Clock:
    """The harvest clock: 07:00 UTC on the harvest day, one second further per call."""

    def __init__(self) -> None:
        self.now = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

    def set_day(self, day: dt.date) -> None:
        self.now = dt.datetime.combine(day, dt.time(7, 0), tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def move_to(
    fake: FakeEutils, clock: Clock, week: str, registry: FakeRegistry | None = None
) -> None:
    """Move the fake servers' date (applying the corpus timelines) and the clock to ``week``."""
    day = harvest_day(week)
    fake.set_today(day)
    if registry is not None:
        registry.set_today(day)
    clock.set_day(day)


def registry_watch(registry: FakeRegistry, page_size: int = 100) -> RegistryWatch:
    """The shipped registry searches on the fake ClinicalTrials.gov, at test speed."""
    session = PoliteSession(
        tool="aggregator-tests",
        requests_per_second=100,
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01),
        ncbi_identity=False,
    )
    client = RegistryClient(registry.url, session=session)
    return RegistryWatch(client, load_registry_searches(shipped_registry_dir()), page_size)


def harvest(
    engine: Engine,
    fake: FakeEutils,
    clock: Clock,
    queries: Sequence[SavedQuery],
    registry: FakeRegistry | None = None,
) -> HarvestReport:
    """One harvest of ``queries`` from the fake server (and of the registry searches from
    ``registry``), on the fake's date and ``clock``."""
    settings = load_settings(eutils_url=fake.url, email="tests@example.invalid", environ={})
    session = PoliteSession(
        tool="aggregator-tests",
        email="tests@example.invalid",
        requests_per_second=100,
        retry=RetryPolicy(max_attempts=2, backoff_base=0.01),
    )
    lock = RunLock(engine, clock=clock)
    follow_up = None
    if registry is not None:
        follow_up = RegistryHarvester(
            engine, registry_watch(registry), clock=clock, today=lambda: fake.today, lock=lock
        )
    with EutilsClient(settings, session=session) as client:
        return Harvester(
            engine,
            client,
            clock=clock,
            today=lambda: fake.today,
            lock=lock,
        ).run(queries, follow_up=follow_up)


@dataclass
class Issue:
    """One week's digest as first written: its Markdown, JSON and parsed JSON."""

    markdown: str
    json_text: str

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.json_text))


@dataclass
class Simulation:
    app: AppContext
    engine: Engine
    issues: dict[str, Issue]  # built right after each week's harvest
    rebuilt: dict[str, Issue]  # built again after the last week's harvest
    harvest_lines: dict[str, list[str]]


def read_issue(paths: list[Path]) -> Issue:
    by_suffix = {path.suffix: path for path in paths}
    return Issue(
        markdown=by_suffix[".md"].read_text("utf-8"),
        json_text=by_suffix[".json"].read_text("utf-8"),
    )


def publish(engine: Engine, week: str, out_dir: Path) -> list[Path]:
    """The publish job's Markdown and JSON digest of ``week`` (no e-mail)."""
    return publish_digest(engine, week, out_dir=out_dir, formats=("md", "json")).paths


@pytest.fixture(scope="module")
def simulation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulation]:
    """Harvest W46..W49 week by week, writing each week's digest after its harvest."""
    root = tmp_path_factory.mktemp("digest-e2e")
    queries = load_queries(shipped_queries_dir())
    clock = Clock()
    with pytest.MonkeyPatch.context() as patch:
        for name in (SMTP_URL_VAR, SMTP_TO_VAR):  # no mail from these tests
            patch.delenv(name, raising=False)
        app = AppContext()
        app.update({"db": str(root / "corpus.sqlite"), "out": root / "digests"})
        engine = app.engine()
        issues: dict[str, Issue] = {}
        lines: dict[str, list[str]] = {}
        with (
            FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as fake,
            FakeRegistry(today=BASE_TODAY) as registry,
        ):
            for week in WEEKS:
                move_to(fake, clock, week, registry)
                report = harvest(engine, fake, clock, queries, registry)
                assert report.ok, report.summary_lines()
                lines[week] = report.summary_lines()
                issues[week] = read_issue(publish(engine, week, root / "digests"))
        rebuilt = {week: read_issue(publish(engine, week, root / "rebuilt")) for week in WEEKS}
        try:
            yield Simulation(app, engine, issues, rebuilt, lines)
        finally:
            app.close()


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN_DIR / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8"), f"{path} differs (UPDATE_GOLDEN=1)"


# ---- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize("week", WEEKS)
def test_markdown_matches_golden(simulation: Simulation, week: str) -> None:
    check_golden(f"digest-{week}.md", simulation.issues[week].markdown)


@pytest.mark.parametrize("week", WEEKS)
def test_json_matches_golden(simulation: Simulation, week: str) -> None:
    check_golden(f"digest-{week}.json", simulation.issues[week].json_text)
    assert simulation.issues[week].data["week"] == week


# ---- as-of reproducibility and the digest table -----------------------------------------------


@pytest.mark.parametrize("week", WEEKS[:-1])
def test_a_past_week_built_again_after_later_harvests_is_unchanged(
    simulation: Simulation, week: str
) -> None:
    # W46 lists the record revised in W48 (new title) and W47 the article retracted in W49.
    assert simulation.rebuilt[week] == simulation.issues[week]


def test_each_digest_is_recorded_in_the_database(simulation: Simulation) -> None:
    with new_session(simulation.engine) as session:
        for week in WEEKS:
            for fmt, text in (
                ("md", simulation.rebuilt[week].markdown),
                ("json", simulation.rebuilt[week].json_text),
            ):
                row = get_digest(session, week, fmt)
                assert row is not None, (week, fmt)
                assert (row.iso_week, row.format, row.content) == (week, fmt, text)
            assert get_digest(session, week, "html") is None


# ---- key numbers, week over week ------------------------------------------------------------


def headline(simulation: Simulation, week: str, subject: str, kind: str) -> dict[str, Any]:
    return dict(simulation.issues[week].data["headline"][subject][kind])


def test_glycinate_direct_evidence_goes_from_none_to_the_first_rct_in_w47(
    simulation: Simulation,
) -> None:
    direct = {week: headline(simulation, week, "glycinate", "direct") for week in WEEKS}
    assert [direct[w]["now"]["articles"] for w in WEEKS] == [0, 1, 2, 2]
    assert [direct[w]["delta"]["articles"] for w in WEEKS] == [0, 1, 1, 0]
    assert [direct[w]["now"]["rcts"] for w in WEEKS] == [0, 1, 1, 1]
    assert [direct[w]["delta"]["rcts"] for w in WEEKS] == [0, 1, 0, 0]
    assert [direct[w]["now"]["best_evidence_level"] for w in WEEKS] == [None, 2, 2, 2]
    no_direct = [simulation.issues[w].data["headline"]["no_direct_glycinate_study"] for w in WEEKS]
    assert no_direct == [True, False, False, False]
    sentence = "No published study has tested magnesium glycinate for migraine or headache yet."
    assert [sentence in simulation.issues[w].markdown for w in WEEKS] == [True, False, False, False]


def test_milestones_appear_only_in_their_week(simulation: Simulation) -> None:
    found = {
        week: [(m["study_type"], m["article"]["pmid"]) for m in issue.data["milestones"]]
        for week, issue in simulation.issues.items()
    }
    assert found == {
        "2026-W46": [],
        "2026-W47": [(RCT, FIRST_GLYCINATE_RCT)],
        "2026-W48": [("case_series", GLYCINATE_CASE_SERIES)],
        "2026-W49": [],
    }
    rct_milestone = (
        "Milestone: first RCT of magnesium glycinate with migraine or headache outcomes "
        f"(PMID {FIRST_GLYCINATE_RCT}, first seen this week)."
    )
    assert [rct_milestone in simulation.issues[w].markdown for w in WEEKS] == [
        False,
        True,
        False,
        False,
    ]
    rct = simulation.issues["2026-W47"].data["milestones"][0]["article"]
    assert (rct["forms"], rct["direct"], rct["study_type"], rct["evidence_level"]) == (
        ["glycinate"],
        True,
        RCT,
        2,
    )


def test_new_articles_each_week_are_the_timeline_records(simulation: Simulation) -> None:
    new = {w: sorted(a["pmid"] for a in simulation.issues[w].data["new_articles"]) for w in WEEKS}
    assert new["2026-W47"] == [99100001, 99100002]
    assert new["2026-W48"] == [99100003, 99100004]
    # The retraction notice is not a study: only the article it retracts is listed.
    assert new["2026-W49"] == [99100006]
    assert BASE_NOTICE not in new["2026-W46"] and BASE_RETRACTED in new["2026-W46"]
    assert len(new["2026-W46"]) == simulation.issues["2026-W46"].data["run_health"]["new_count"] - 1
    first = simulation.issues["2026-W47"].data["new_articles"][0]
    assert first["pmid"] == FIRST_GLYCINATE_RCT, "glycinate articles are listed first"


def test_retraction_is_listed_in_its_week_and_stops_counting(simulation: Simulation) -> None:
    retracted = {
        w: [
            (r["article"]["pmid"], r["retracted_at"])
            for r in simulation.issues[w].data["retractions"]
        ]
        for w in WEEKS
    }
    assert retracted == {
        "2026-W46": [(BASE_RETRACTED, retracted["2026-W46"][0][1])],
        "2026-W47": [],
        "2026-W48": [],
        "2026-W49": [(RETRACTED_LATER, retracted["2026-W49"][0][1])],
    }
    retracted_at = dt.datetime.fromisoformat(retracted["2026-W49"][0][1])
    assert harvest_day("2026-W49") == retracted_at.date()
    # Not repeated as a revision that only says "retracted".
    w49_revisions = simulation.issues["2026-W49"].data["revisions"]
    assert [
        r
        for r in w49_revisions
        if set(r["changed_fields"]) <= {"retracted", "retraction_notice_pmid"}
    ] == []
    # Counted in W47 and W48 (as the study type the tagger gave it), no longer in W49.
    entry = next(
        a
        for a in simulation.issues["2026-W47"].data["new_articles"]
        if a["pmid"] == RETRACTED_LATER
    )
    assert entry["forms"] == ["oxide"] and entry["retracted"] is False

    def oxide(week: str) -> dict[str, Any]:
        rows = simulation.issues[week].data["evidence_map"]["rows"]
        return dict(next(row for row in rows if row["form"] == "oxide"))

    w48, w49 = oxide("2026-W48"), oxide("2026-W49")
    assert w49["total"] == {
        "count": w48["total"]["count"] - 1,
        "previous_week": w48["total"]["count"],
        "delta": -1,
    }
    assert w49["by_study_type"][entry["study_type"]]["delta"] == -1
    assert RETRACTED_LATER not in [
        a["pmid"] for a in simulation.issues["2026-W49"].data["glycinate_articles"]
    ]


def test_overall_deltas_are_new_articles_minus_retractions(simulation: Simulation) -> None:
    for previous, week in zip(WEEKS, WEEKS[1:], strict=False):
        data = simulation.issues[week].data
        for kind in ("direct", "indirect"):
            overall = headline(simulation, week, "overall", kind)
            glycinate = headline(simulation, week, "glycinate", kind)
            # Week-over-week deltas are against exactly what the previous digest reported.
            assert (
                overall["previous_week"] == headline(simulation, previous, "overall", kind)["now"]
            )
            assert (
                glycinate["previous_week"]
                == headline(simulation, previous, "glycinate", kind)["now"]
            )
            wanted = kind == "direct"
            added = sum(
                1 for a in data["new_articles"] if a["direct"] == wanted and not a["retracted"]
            )
            removed = sum(
                1
                for r in data["retractions"]
                if r["article"]["direct"] == wanted
                and r["article"]["pmid"] not in {a["pmid"] for a in data["new_articles"]}
            )
            assert overall["delta"]["articles"] == added - removed, (week, kind)


def test_revision_of_w48_is_listed_once_with_what_changed(simulation: Simulation) -> None:
    revisions = {
        w: [(r["pmid"], r["changed_fields"]) for r in simulation.issues[w].data["revisions"]]
        for w in WEEKS
    }
    assert revisions["2026-W46"] == [] and revisions["2026-W47"] == []
    assert [pmid for pmid, _fields in revisions["2026-W48"]] == [REVISED_RCT]
    assert {"title", "publication_types"} <= set(revisions["2026-W48"][0][1])
    summary = simulation.issues["2026-W48"].data["revisions"][0]["summary"]
    assert "+Randomized Controlled Trial" in summary and summary.startswith(
        "title corrected (was: "
    )
    # The revision's new title shows from W48 on; W46 keeps the title as first harvested.
    w46_title = next(
        a["title"]
        for a in simulation.issues["2026-W46"].data["new_articles"]
        if a["pmid"] == REVISED_RCT
    )
    assert w46_title in summary


def test_run_health_reports_each_weekly_harvest(simulation: Simulation) -> None:
    for week in WEEKS:
        health = simulation.issues[week].data["run_health"]
        day = harvest_day(week).isoformat()
        assert [(r["status"], r["started_at"][:10]) for r in health["runs"]] == [("success", day)]
        assert health["failures"] == [] and health["last_status"] == "success"
        assert health["queries"] == ["magnesium-glycinate", "magnesium-migraine"]
    counts = [
        (
            simulation.issues[w].data["run_health"]["new_count"],
            simulation.issues[w].data["run_health"]["revised_count"],
        )
        for w in WEEKS[1:]
    ]
    assert counts == [(2, 0), (2, 1), (2, 1)]
