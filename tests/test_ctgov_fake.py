"""The fake ClinicalTrials.gov API (aggregator.ctgov.fake) speaks the recorded v2 shapes, and its
synthetic corpus tells the story the demo needs. Requests go over real HTTP with plain
``requests`` (no client policy), so what is checked is the server."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from aggregator.ctgov.fake import (
    BASE_TODAY,
    FakeRegistry,
    FakeRegistryError,
    build_study,
    corpus_dir,
    load_base_studies,
    load_timeline,
)
from aggregator.ctgov.fake.search import area_text, matches, parse_expression, words
from aggregator.ctgov.forms import trial_forms
from aggregator.ctgov.searches import load_registry_searches, shipped_registry_dir
from aggregator.ctgov.studies import parse_study
from aggregator.errors import ParseError
from aggregator.pubmed.fake import BASE_TODAY as PUBMED_BASE_TODAY
from aggregator.pubmed.fake import load_timeline as load_pubmed_timeline

SEARCHES = {search.name: search for search in load_registry_searches(shipped_registry_dir())}
WEEK_ENDS = {  # the Sunday of each demo week
    "2026-W46": dt.date(2026, 11, 15),
    "2026-W47": dt.date(2026, 11, 22),
    "2026-W48": dt.date(2026, 11, 29),
    "2026-W49": dt.date(2026, 12, 6),
}


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    with FakeRegistry(today=BASE_TODAY) as server:
        yield server


def get(fake: FakeRegistry, path: str = "studies", **params: Any) -> requests.Response:
    return requests.get(fake.url + path, params=params, timeout=10)


def search_ids(fake: FakeRegistry, **params: Any) -> list[str]:
    reply = get(fake, pageSize=1000, **params)
    assert reply.status_code == 200, reply.text
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in reply.json()["studies"]]


# -- the corpus ----------------------------------------------------------------------------------


def test_corpus_files_are_synthetic_parse_and_are_named_by_nct_id() -> None:
    files = sorted(corpus_dir().rglob("*.json"))
    assert len(files) == 17
    for path in files:
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert raw["_synthetic"].startswith("SYNTHETIC TEST DATA"), path
        trial = parse_study({k: v for k, v in raw.items() if k != "_synthetic"}, source=str(path))
        assert path.stem == trial.nct_id
        assert "NCT99000001" <= trial.nct_id <= "NCT99000099"
        assert "(synthetic" in (trial.sponsor or "") and "synthetic" in (trial.official_title or "")


def test_base_corpus_studies_and_their_forms() -> None:
    forms = {
        (trial := parse_study(study)).nct_id: (trial.overall_status, trial_forms(trial))
        for study in load_base_studies()
    }
    assert forms == {
        "NCT99000001": ("RECRUITING", ("glycinate",)),  # the demo's trial, recruiting at base
        "NCT99000002": ("COMPLETED", ("oxide",)),
        "NCT99000003": ("COMPLETED", ("citrate",)),
        "NCT99000004": ("RECRUITING", ("sulfate",)),
        "NCT99000005": ("NOT_YET_RECRUITING", ("oxide",)),
        "NCT99000006": ("TERMINATED", ("oxide", "citrate")),
        "NCT99000007": ("COMPLETED", ("glycinate",)),
        "NCT99000008": ("COMPLETED", ("glycinate", "oxide")),
        "NCT99000009": ("RECRUITING", ()),  # ferrous bisglycinate: no magnesium form
        "NCT99000010": ("ACTIVE_NOT_RECRUITING", ("oxide",)),  # zinc bisglycinate is zinc's
        "NCT99000011": ("ENROLLING_BY_INVITATION", ("unspecified",)),
        "NCT99000012": ("WITHDRAWN", ("glycinate",)),
        "NCT99000013": ("COMPLETED", ()),
    }


def test_base_corpus_is_dated_before_base_today_like_the_pubmed_corpus() -> None:
    updates = [parse_study(study).last_update_posted for study in load_base_studies()]
    assert BASE_TODAY == PUBMED_BASE_TODAY
    assert all(u is not None and u.date.earliest() < BASE_TODAY for u in updates)


def test_timeline_completes_one_glycinate_migraine_trial_and_registers_a_second() -> None:
    story = [
        (
            event.week,
            event.date,
            (trial := parse_study(event.study)).nct_id,
            trial.overall_status,
            str(trial.first_posted),
            str(trial.start),
            f"{trial.enrollment} {trial.enrollment_type}",
            trial.has_results,
            trial.linked_pmids,
            trial_forms(trial),
            trial.conditions[0],
        )
        for event in load_timeline()
    ]
    glycinate = ("glycinate",)
    assert story == [
        ("2026-W47", dt.date(2026, 11, 18), "NCT99000001", "COMPLETED", "2025-09-16 (actual)",
         "2025-10-06 (actual)", "160 ACTUAL", False, (), glycinate, "Episodic Migraine"),
        ("2026-W48", dt.date(2026, 11, 24), "NCT99000014", "NOT_YET_RECRUITING",
         "2026-11-24 (actual)", "2027-01 (estimated)", "420 ESTIMATED", False, (),
         ("glycinate", "oxide"), "Migraine Disorders"),
        ("2026-W48", dt.date(2026, 11, 25), "NCT99000001", "COMPLETED", "2025-09-16 (actual)",
         "2025-10-06 (actual)", "160 ACTUAL", True, (99100001,), glycinate, "Episodic Migraine"),
        ("2026-W49", dt.date(2026, 12, 2), "NCT99000014", "RECRUITING", "2026-11-24 (actual)",
         "2026-12-01 (actual)", "420 ESTIMATED", False, (), ("glycinate", "oxide"),
         "Migraine Disorders"),
    ]  # fmt: skip


def test_the_trial_completes_before_its_publication_appears_and_links_it_a_week_later() -> None:
    """The story is plausible: NCT99000001 (registered 2025) completes before its paper
    (PMID 99100001, PubMed 2026-W47) appears; the registry shows COMPLETED that week and posts
    results with the RESULT reference the week after."""
    (base,) = [s for s in load_base_studies() if parse_study(s).nct_id == "NCT99000001"]
    trial = parse_study(base)
    assert trial.first_posted is not None and trial.first_posted.date.year == 2025
    assert trial.last_update_posted is not None
    assert trial.last_update_posted.date.earliest() < BASE_TODAY
    (paper,) = [e for e in load_pubmed_timeline() if e.record.pmid == 99100001]
    completed, results = [
        parse_study(e.study) for e in load_timeline() if e.nct_id == "NCT99000001"
    ]
    assert completed.completion is not None and completed.completion.is_actual
    assert completed.completion.date.earliest() < paper.record.crdt.date()
    assert paper.week == "2026-W47" and completed.linked_pmids == ()
    assert results.linked_pmids == (99100001,) and results.has_results
    assert results.results_first_posted is not None


def test_linked_publication_is_the_first_glycinate_migraine_rct_of_the_pubmed_demo() -> None:
    (event,) = [e for e in load_pubmed_timeline() if e.record.pmid == 99100001]
    assert (event.week, event.is_revision_of_base) == ("2026-W47", False)
    assert "bisglycinate" in event.record.title_xml.lower()
    assert "migraine" in event.record.title_xml.lower()


def test_registry_timeline_follows_the_server_date(fake: FakeRegistry) -> None:
    seen = {}
    for week, sunday in WEEK_ENDS.items():
        fake.set_today(sunday)
        reply = get(fake, "studies/NCT99000001")
        ok = reply.status_code == 200
        seen[week] = (
            reply.json()["protocolSection"]["statusModule"]["overallStatus"]
            if ok
            else (reply.status_code)
        )
    assert seen == {
        "2026-W46": "RECRUITING",
        "2026-W47": "COMPLETED",
        "2026-W48": "COMPLETED",
        "2026-W49": "COMPLETED",
    }


def test_shipped_searches_find_what_the_corpus_readme_says(fake: FakeRegistry) -> None:
    found = {}
    for moment, day in (("base", BASE_TODAY), ("W49", WEEK_ENDS["2026-W49"])):
        fake.set_today(day)
        for name, search in SEARCHES.items():
            found[(name, moment)] = search_ids(fake, **search.params)
    assert found == {
        ("ctgov-magnesium-glycinate", "base"): [
            "NCT99000001", "NCT99000007", "NCT99000008", "NCT99000009", "NCT99000010",
            "NCT99000012"],
        ("ctgov-magnesium-migraine", "base"): [
            "NCT99000001", "NCT99000002", "NCT99000003", "NCT99000004", "NCT99000005",
            "NCT99000006", "NCT99000011"],
        ("ctgov-magnesium-glycinate", "W49"): [
            "NCT99000001", "NCT99000007", "NCT99000008", "NCT99000009", "NCT99000010",
            "NCT99000012", "NCT99000014"],
        ("ctgov-magnesium-migraine", "W49"): [
            "NCT99000001", "NCT99000002", "NCT99000003", "NCT99000004", "NCT99000005",
            "NCT99000006", "NCT99000011", "NCT99000014"],
    }  # fmt: skip


def test_set_today_returns_the_versions_it_applied(fake: FakeRegistry) -> None:
    applied = fake.set_today(WEEK_ENDS["2026-W48"])
    assert [(e.week, e.nct_id) for e in applied] == [
        ("2026-W47", "NCT99000001"),
        ("2026-W48", "NCT99000014"),
        ("2026-W48", "NCT99000001"),
    ]
    assert [(e.week, e.nct_id) for e in fake.pending_events] == [("2026-W49", "NCT99000014")]


# -- reply shapes and paging ---------------------------------------------------------------------


def test_pages_carry_total_count_on_page_one_and_a_token_until_the_last(
    fake: FakeRegistry,
) -> None:
    params = {"query.cond": "migraine OR headache", "countTotal": "true", "pageSize": 3}
    first = get(fake, **params).json()
    second = get(fake, **params, pageToken=first["nextPageToken"]).json()
    third = get(fake, **params, pageToken=second["nextPageToken"]).json()
    assert [list(page) for page in (first, second, third)] == [
        ["studies", "totalCount", "nextPageToken"],
        ["studies", "nextPageToken"],
        ["studies"],
    ]
    assert (first["totalCount"], [len(p["studies"]) for p in (first, second, third)]) == (
        8,
        [3, 3, 2],
    )


def test_later_pages_must_repeat_the_first_page_parameters(fake: FakeRegistry) -> None:
    params = {"query.cond": "migraine", "pageSize": 2}
    token = get(fake, **params).json()["nextPageToken"]
    allowed = get(fake, **{**params, "pageSize": 5}, pageToken=token, countTotal="true")
    changed = get(fake, **{**params, "query.cond": "headache"}, pageToken=token)
    unknown = get(fake, **params, pageToken="not-a-token")
    assert (allowed.status_code, "totalCount" in allowed.json()) == (200, False)
    assert (changed.status_code, changed.text.strip()) == (
        400,
        "a request with pageToken must have the same parameters as the first page (except "
        "countTotal, pageSize and pageToken)",
    )
    assert (unknown.status_code, unknown.text.strip()) == (
        400,
        "pageToken 'not-a-token' is not valid",
    )


def test_fields_return_only_the_requested_pieces_nested_by_module(fake: FakeRegistry) -> None:
    reply = get(
        fake,
        **{"query.term": "MAG-ED-S"},
        fields="NCTId,OverallStatus,StartDate,InterventionName,ReferencePMID,HasResults",
    )
    assert reply.json() == {
        "studies": [
            {
                "protocolSection": {
                    "identificationModule": {"nctId": "NCT99000004"},
                    "statusModule": {
                        "overallStatus": "RECRUITING",
                        "startDateStruct": {"date": "2025-01-15"},
                    },
                    "armsInterventionsModule": {
                        "interventions": [{"name": "Magnesium sulfate"}, {"name": "Normal saline"}]
                    },
                    "referencesModule": {"references": [{"pmid": "99000040"}]},
                },
                "hasResults": False,
            }
        ]
    }


def test_fields_accept_module_names_and_dotted_paths(fake: FakeRegistry) -> None:
    by_piece = get(fake, "studies/NCT99000002", fields="StatusModule|ConditionsModule").json()
    by_path = get(
        fake,
        "studies/NCT99000002",
        fields="protocolSection.statusModule,protocolSection.conditionsModule",
    ).json()
    whole = fake.get_study("NCT99000002")["protocolSection"]
    assert (
        by_piece
        == by_path
        == {
            "protocolSection": {
                "statusModule": whole["statusModule"],
                "conditionsModule": whole["conditionsModule"],
            }
        }
    )


def test_single_study_endpoint(fake: FakeRegistry) -> None:
    found = get(fake, "studies/NCT99000002")
    missing = get(fake, "studies/NCT99999999")
    malformed = get(fake, "studies/NCT123")
    assert (found.status_code, found.json()) == (200, fake.get_study("NCT99000002"))
    assert sorted(found.json()) == ["hasResults", "protocolSection", "resultsSection"]
    assert [(r.status_code, r.text.strip()) for r in (missing, malformed)] == [
        (404, "Study NCT99999999 not found"),
        (400, "'NCT123' is not a valid NCT number"),
    ]


def test_version_endpoint(fake: FakeRegistry) -> None:
    assert get(fake, "version").json() == {
        "apiVersion": "2.0.5-fake",
        "dataTimestamp": "2026-11-15T09:00:00",
    }


# -- filters and refusals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("advanced", "expected"),
    [
        ("AREA[LastUpdatePostDate]RANGE[2026-01-01,MAX]", ["NCT99000001", "NCT99000004",
                                                           "NCT99000005", "NCT99000009",
                                                           "NCT99000010", "NCT99000011"]),
        ("AREA[LastUpdatePostDate]RANGE[2026-08-26,2026-09-16]", ["NCT99000004", "NCT99000009"]),
        ("AREA[LastUpdatePostDate]RANGE[MIN,2012-06]", ["NCT99000003"]),
        ("AREA[StudyFirstPostDate]RANGE[2026,MAX]", ["NCT99000005", "NCT99000009"]),
    ],
)  # fmt: skip
def test_filter_advanced_date_ranges_are_inclusive(
    fake: FakeRegistry, advanced: str, expected: list[str]
) -> None:
    assert search_ids(fake, **{"filter.advanced": advanced}) == expected


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"filter.phase": "PHASE2"}, "filter.phase is unknown parameter"),
        ({"query.spons": "x"}, "query.spons is not supported by the fake ClinicalTrials.gov"),
        ({"filter.advanced": "AREA[Nonsense]RANGE[MIN,MAX]"}, "Unknown area name: Nonsense"),
        (
            {"filter.advanced": "AREA[Phase]PHASE2"},
            "filter.advanced: AREA[Phase] is not supported by the fake server (date areas only: "
            "LastUpdatePostDate, StudyFirstPostDate, ResultsFirstPostDate, StartDate, "
            "PrimaryCompletionDate, CompletionDate)",
        ),
        (
            {"filter.advanced": "AREA[LastUpdatePostDate]RANGE[yesterday,MAX]"},
            "filter.advanced: 'yesterday' is not a date",
        ),
        (
            {"filter.overallStatus": "RECRUITING,DONE"},
            "filter.overallStatus: unknown status 'DONE'",
        ),
        ({"fields": "NCTId,Nonsense"}, "fields: unknown field 'Nonsense'"),
        ({"pageSize": "1001"}, "pageSize must be between 0 and 1000, got 1001"),
        ({"countTotal": "yes"}, "countTotal must be true or false, got 'yes'"),
        ({"format": "csv"}, "format=csv is not supported by the fake ClinicalTrials.gov"),
        (
            {"query.cond": "migraine AND"},
            "cannot parse query 'migraine AND': unexpected end of query",
        ),
        (
            {"sort": "EnrollmentCount"},
            "sort 'EnrollmentCount': the fake server sorts by "
            "LastUpdatePostDate, StudyFirstPostDate, NCTId with :asc or :desc",
        ),
    ],
)
def test_what_the_real_api_or_the_fake_refuses_is_a_400_with_one_line(
    fake: FakeRegistry, params: dict[str, str], message: str
) -> None:
    reply = get(fake, **params)
    assert (reply.status_code, reply.headers["Content-Type"], reply.text) == (
        400,
        "text/plain; charset=utf-8",
        message + "\n",
    )


def test_status_and_id_filters(fake: FakeRegistry) -> None:
    assert search_ids(fake, **{"filter.overallStatus": "RECRUITING,NOT_YET_RECRUITING"}) == [
        "NCT99000001",
        "NCT99000004",
        "NCT99000005",
        "NCT99000009",
    ]
    assert search_ids(fake, **{"filter.ids": "nct99000013,NCT99000002"}) == [
        "NCT99000002",
        "NCT99000013",
    ]


def test_sort_by_last_update(fake: FakeRegistry) -> None:
    newest = search_ids(fake, **{"query.intr": "magnesium"}, sort="LastUpdatePostDate:desc")
    assert newest[:3] == ["NCT99000005", "NCT99000004", "NCT99000009"]


@pytest.mark.parametrize(
    ("expression", "text", "expected"),
    [
        ("migraine", "Menstrual Migraines", True),
        ("headaches", "Frequent headache", True),
        ("glycinate", "magnesium bisglycinate", False),
        ("migraine OR headache", "tension headache", True),
        ("magnesium AND (glycinate OR bisglycinate)", "Magnesium bisglycinate", True),
        ("magnesium (glycinate OR bisglycinate)", "ferrous bisglycinate", False),
        ('"glycine chelate"', "Magnesium glycine chelate", True),
        ('"glycine chelate"', "glycine and a chelate", False),
        ("magnesium NOT oxide", "magnesium oxide", False),
        ("magnesium NOT oxide", "magnesium citrate", True),
    ],
)
def test_query_words_phrases_and_operators(expression: str, text: str, expected: bool) -> None:
    sequence = words(text)
    assert matches(parse_expression(expression), sequence, set(sequence)) is expected


def test_query_areas_cover_the_documented_fields(fake: FakeRegistry) -> None:
    study = fake.get_study("NCT99000009")
    assert "magnesium stearate" in area_text(study, "intr")
    assert "magnesium" not in area_text(study, "cond").lower()
    assert "Iron Deficiency Anemia" in area_text(study, "cond")
    assert "gives no magnesium" in area_text(study, "term")  # briefSummary is basic-search text


# -- faults and the request log ------------------------------------------------------------------


def test_injected_429_carries_retry_after(fake: FakeRegistry) -> None:
    fake.inject("429", retry_after=5)
    limited, fine = get(fake), get(fake)
    assert (limited.status_code, limited.headers["Retry-After"], fine.status_code) == (
        429,
        "5",
        200,
    )


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_injected_server_errors(fake: FakeRegistry, kind: str) -> None:
    fake.inject(kind, endpoint="study")
    assert (get(fake).status_code, get(fake, "studies/NCT99000002").status_code) == (200, int(kind))


def test_injected_truncation_cuts_the_body(fake: FakeRegistry) -> None:
    fake.inject("truncate")
    with pytest.raises(requests.exceptions.RequestException):
        get(fake).json()


def test_injected_reset_closes_without_reply(fake: FakeRegistry) -> None:
    fake.inject("reset")
    with pytest.raises(requests.ConnectionError):
        get(fake)


def test_faults_after_some_requests_and_at_a_rate(fake: FakeRegistry) -> None:
    fake.inject("503", after=2, times=2)
    statuses = [get(fake).status_code for _ in range(5)]
    fake.set_fault_rate(0.5, kinds=["500"], seed=3)
    random_statuses = [get(fake).status_code for _ in range(40)]
    fake.clear_faults()
    assert statuses == [200, 200, 503, 503, 200]
    assert set(random_statuses) == {200, 500}
    assert get(fake).status_code == 200


def test_misuse_of_faults_and_studies_is_an_error(fake: FakeRegistry) -> None:
    with pytest.raises(FakeRegistryError, match="unknown fault kind 'teapot'"):
        fake.inject("teapot")
    with pytest.raises(FakeRegistryError, match="unknown endpoint 'einfo'"):
        fake.inject("500", endpoint="einfo")
    with pytest.raises(FakeRegistryError, match="NCT99999999 is not in the fake registry"):
        fake.remove_study("NCT99999999")
    with pytest.raises(ParseError, match="nctId 'NCT1' is not NCT followed by 8 digits"):
        fake.add_study(build_study("NCT1"))


def test_request_log(fake: FakeRegistry) -> None:
    get(fake, **{"query.cond": "migraine"}, pageSize=2)
    get(fake, "studies/NCT99000404")
    get(fake, "nowhere")
    assert [
        (e.endpoint, e.method, e.params, e.status, e.studies_returned, e.fault)
        for e in fake.requests
    ] == [
        ("studies", "GET", {"query.cond": "migraine", "pageSize": "2"}, 200, 2, None),
        ("study", "GET", {}, 404, None, None),
        ("/api/v2/nowhere", "GET", {}, 404, None, None),
    ]


def test_added_and_removed_studies(fake: FakeRegistry) -> None:
    fake.add_study(
        build_study(
            "NCT99000500", conditions=("Cluster Headache",), references=((99000015, "RESULT"),)
        )
    )
    found = search_ids(fake, **{"query.cond": "cluster"})
    fake.remove_study("NCT99000500")
    assert (found, search_ids(fake, **{"query.cond": "cluster"})) == (["NCT99000500"], [])
