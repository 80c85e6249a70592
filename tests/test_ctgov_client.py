"""RegistryClient against the fake ClinicalTrials.gov (aggregator.ctgov.fake) over real HTTP on
127.0.0.1: paging with tokens, fields=, the incremental LastUpdatePostDate filter, retries,
1 request/s politeness on an injected clock, bounded paging and errors that keep the status.
The client's waits go to a fake clock, so no test sleeps for real."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aggregator.ctgov.client import (
    DEFAULT_FIELDS,
    RegistryClient,
    RegistryHTTPError,
    StudyNotFoundError,
    last_update_filter,
)
from aggregator.ctgov.fake import BASE_TODAY, FakeRegistry, build_study
from aggregator.ctgov.searches import RegistrySearch, load_registry_searches, shipped_registry_dir
from aggregator.ctgov.studies import parse_study
from aggregator.errors import ConfigError
from aggregator.http import EutilsHTTPError, HTTPRequestError, PoliteSession, RetryPolicy
from aggregator.settings import DEFAULT_CTGOV_URL, load_settings

SEARCHES = {search.name: search for search in load_registry_searches(shipped_registry_dir())}
MIGRAINE = SEARCHES["ctgov-magnesium-migraine"]
GLYCINATE = SEARCHES["ctgov-magnesium-glycinate"]
MIGRAINE_AT_BASE = [
    "NCT99000001",
    "NCT99000002",
    "NCT99000003",
    "NCT99000004",
    "NCT99000005",
    "NCT99000006",
    "NCT99000011",
]
W47_RUN, W48_SUNDAY = dt.date(2026, 11, 22), dt.date(2026, 11, 29)


class FakeClock:
    """Monotonic clock that only moves when someone sleeps."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeRegistry]:
    """The shipped corpus as of BASE_TODAY, stamping its log with the client's fake clock."""
    with FakeRegistry(today=BASE_TODAY, clock=clock) as server:
        yield server


@pytest.fixture
def make_client(fake: FakeRegistry, clock: FakeClock) -> Iterator[Callable[..., RegistryClient]]:
    clients: list[RegistryClient] = []

    def make(attempts: int = 4, url: str | None = None) -> RegistryClient:
        client = RegistryClient(
            url or fake.url,
            clock=clock,
            sleep=clock.sleep,
            jitter=lambda: 1.0,
            timeout=(2.0, 5.0),
            retry=RetryPolicy(max_attempts=attempts, backoff_base=0.5, backoff_max=3.0),
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def nct_ids(studies: list[dict[str, Any]]) -> list[str]:
    return [parse_study(study).nct_id for study in studies]


def logged(fake: FakeRegistry) -> list[tuple[str, int, str | None]]:
    return [(entry.endpoint, entry.status, entry.fault) for entry in fake.requests]


# -- searching and paging -------------------------------------------------------------------------


def test_search_pages_with_tokens_repeating_the_first_page_parameters(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    client = make_client()
    pages = client.search_studies(MIGRAINE, page_size=4)
    studies = list(pages)
    first = {
        "query.cond": "migraine OR headache",
        "query.intr": "magnesium",
        "fields": ",".join(DEFAULT_FIELDS),
        "pageSize": "4",
        "countTotal": "true",
        "format": "json",
    }
    assert nct_ids(studies) == MIGRAINE_AT_BASE
    assert (pages.total_count, pages.pages, pages.stopped_because) == (7, 2, "last page")
    assert [entry.params for entry in fake.requests] == [
        first,
        {**first, "pageToken": fake.requests[1].params["pageToken"]},
    ]
    assert fake.requests[1].params["pageToken"]


def test_total_count_comes_from_the_first_page_only(
    make_client: Callable[..., RegistryClient],
) -> None:
    pages = make_client().search_studies(MIGRAINE, page_size=1)
    seen = []
    for _ in pages:
        seen.append(pages.total_count)
    assert (seen, pages.pages) == ([7] * 7, 7)


def test_search_without_count_total_leaves_the_total_unknown(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    pages = make_client().search_studies(MIGRAINE, count_total=False)
    assert (len(list(pages)), pages.total_count) == (7, None)
    assert "countTotal" not in fake.requests[0].params


def test_default_fields_keep_what_the_parser_reads_and_drop_the_rest(
    make_client: Callable[..., RegistryClient],
) -> None:
    studies = make_client().search_studies(MIGRAINE)
    study = next(s for s in studies if parse_study(s).nct_id == "NCT99000002")
    assert (sorted(study), sorted(study["protocolSection"])) == (
        ["hasResults", "protocolSection"],
        [
            "armsInterventionsModule",
            "conditionsModule",
            "designModule",
            "identificationModule",
            "referencesModule",
            "sponsorCollaboratorsModule",
            "statusModule",
        ],
    )
    whole = make_client().get_study(parse_study(study).nct_id)
    assert parse_study(study) == parse_study(whole)


def test_fields_none_asks_for_whole_records(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    studies = list(make_client().search_studies(MIGRAINE, fields=None))
    assert "fields" not in fake.requests[0].params
    assert studies[1] == fake.get_study("NCT99000002")


def test_incremental_search_asks_for_studies_updated_since_the_checkpoint(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    fake.set_today(W48_SUNDAY)
    client = make_client()
    updated = {
        name: [
            (trial.nct_id, trial.overall_status)
            for trial in map(parse_study, client.search_studies(search, updated_since=W47_RUN))
        ]
        for name, search in SEARCHES.items()
    }
    both = [("NCT99000001", "COMPLETED"), ("NCT99000014", "NOT_YET_RECRUITING")]
    assert updated == {"ctgov-magnesium-glycinate": both, "ctgov-magnesium-migraine": both}
    assert fake.requests[0].params["filter.advanced"] == (
        "AREA[LastUpdatePostDate]RANGE[2026-11-22,MAX]"
    )


def test_checkpoint_day_itself_is_included(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    fake.set_today(W48_SUNDAY)
    client = make_client()
    on_the_day = nct_ids(list(client.search_studies(MIGRAINE, updated_since=dt.date(2026, 11, 25))))
    day_after = nct_ids(list(client.search_studies(MIGRAINE, updated_since=dt.date(2026, 11, 26))))
    assert (on_the_day, day_after) == (["NCT99000001"], [])


def test_last_update_filter_text() -> None:
    assert (
        last_update_filter(dt.date(2026, 1, 5)) == "AREA[LastUpdatePostDate]RANGE[2026-01-05,MAX]"
    )


def test_count_is_one_small_request(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    client = make_client()
    assert client.count(MIGRAINE) == 7
    assert fake.requests[0].params == {
        "query.cond": "migraine OR headache",
        "query.intr": "magnesium",
        "fields": "NCTId",
        "pageSize": "1",
        "countTotal": "true",
        "format": "json",
    }
    assert client.stats == {"studies": 1}


def test_get_study_returns_the_whole_record(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    client = make_client()
    assert client.get_study("nct99000004") == fake.get_study("NCT99000004")
    assert (fake.requests[0].endpoint, fake.requests[0].params) == ("study", {"format": "json"})
    assert client.stats == {"study": 1}


def test_get_study_with_fields(make_client: Callable[..., RegistryClient]) -> None:
    study = make_client().get_study("NCT99000004", fields=("NCTId", "OverallStatus"))
    assert study == {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT99000004"},
            "statusModule": {"overallStatus": "RECRUITING"},
        }
    }


def test_malformed_nct_id_fails_before_any_request(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    with pytest.raises(ConfigError, match="not an NCT id"):
        make_client().get_study("NCT123")
    assert fake.requests == []


@pytest.mark.parametrize("page_size", [0, 1001])
def test_page_size_outside_the_api_range_is_refused(
    make_client: Callable[..., RegistryClient], page_size: int
) -> None:
    with pytest.raises(ConfigError, match="page_size must be between 1 and 1000"):
        make_client().search_studies(MIGRAINE, page_size=page_size)


# -- politeness ----------------------------------------------------------------------------------


def test_one_request_per_second_on_the_injected_clock(
    clock: FakeClock, make_client: Callable[..., RegistryClient]
) -> None:
    with FakeRegistry(today=BASE_TODAY, clock=clock, rate_limit=1) as strict:
        client = make_client(url=strict.url)
        studies = list(client.search_studies(MIGRAINE, page_size=1))
        client.count(GLYCINATE)
        client.get_study("NCT99000002")
        starts = [entry.monotonic for entry in strict.requests]
        statuses = {entry.status for entry in strict.requests}
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert (len(studies), len(starts), statuses) == (7, 9, {200})
    assert min(gaps) >= 1.0
    assert client.session.limiter.limit == 1


def test_no_ncbi_identity_is_sent(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    client = make_client()
    list(client.search_studies(MIGRAINE))
    client.get_study("NCT99000002")
    sent = set().union(*(entry.params for entry in fake.requests))
    assert sent & {"tool", "email", "api_key"} == set()
    assert client.session.ncbi_identity is False


def test_client_built_from_settings_uses_ctgov_url_and_tool(fake: FakeRegistry) -> None:
    settings = load_settings(environ={"CTGOV_API_URL": fake.url.rstrip("/"), "NCBI_TOOL": "mg"})
    client = RegistryClient(settings)
    assert (client.base_url, client.session.tool) == (fake.url, "mg")
    client.close()


def test_polite_session_without_ncbi_identity_refuses_ncbi_credentials() -> None:
    with pytest.raises(ValueError, match="ncbi_identity=False"):
        PoliteSession(tool="t", api_key="secret", ncbi_identity=False)
    with pytest.raises(ValueError, match="ncbi_identity=False"):
        PoliteSession(tool="t", email="a@example.org", ncbi_identity=False)


# -- retries -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503", "reset", "truncate"])
def test_transient_failures_are_retried(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient], kind: str
) -> None:
    fake.inject(kind, times=2)
    studies = list(make_client().search_studies(MIGRAINE))
    assert nct_ids(studies) == MIGRAINE_AT_BASE
    assert [fault for _, _, fault in logged(fake)] == [kind, kind, None]


def test_429_waits_as_long_as_retry_after_says(
    fake: FakeRegistry, clock: FakeClock, make_client: Callable[..., RegistryClient]
) -> None:
    fake.inject("429", retry_after=7)
    assert make_client().count(MIGRAINE) == 7
    assert logged(fake) == [("studies", 429, "429"), ("studies", 200, None)]
    assert 7.0 in clock.sleeps


def test_a_failed_later_page_is_retried_with_the_same_token(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    fake.inject("503", endpoint="studies", after=1)
    studies = list(make_client().search_studies(MIGRAINE, page_size=4))
    tokens = [entry.params.get("pageToken") for entry in fake.requests]
    assert nct_ids(studies) == MIGRAINE_AT_BASE
    assert logged(fake) == [
        ("studies", 200, None),
        ("studies", 503, "503"),
        ("studies", 200, None),
    ]
    assert tokens[0] is None and tokens[1] == tokens[2]


# -- bounded paging ------------------------------------------------------------------------------


def test_paging_stops_when_a_token_comes_back_again(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    fake.inject("repeat_token", after=1, times=100)
    pages = make_client().search_studies(MIGRAINE, page_size=2)
    studies = list(pages)
    assert (nct_ids(studies), pages.pages, pages.stopped_because) == (
        MIGRAINE_AT_BASE[:4],
        2,
        "repeated token",
    )


def test_paging_stops_at_an_empty_page(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    fake.inject("empty_page", after=1, times=100)
    pages = make_client().search_studies(MIGRAINE, page_size=2)
    studies = list(pages)
    assert (nct_ids(studies), pages.pages, pages.stopped_because) == (
        MIGRAINE_AT_BASE[:2],
        2,
        "empty page",
    )


def test_paging_stops_after_max_pages(make_client: Callable[..., RegistryClient]) -> None:
    pages = make_client().search_studies(MIGRAINE, page_size=1, max_pages=3)
    assert (len(list(pages)), pages.pages, pages.stopped_because) == (3, 3, "max pages")


def test_many_pages_are_all_read(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    for number in range(100, 350):
        fake.add_study(build_study(f"NCT99{number:06d}", interventions=(("DRUG", "Magnesium"),)))
    pages = make_client().search_studies(MIGRAINE, page_size=100)
    assert (len(list(pages)), pages.total_count, pages.pages) == (257, 257, 3)


# -- errors keep the status ----------------------------------------------------------------------


def test_a_refused_request_keeps_the_status_and_the_api_message(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    broken = RegistrySearch("broken", dt.date(2000, 1, 1), cond="(migraine")
    with pytest.raises(RegistryHTTPError) as caught:
        list(make_client().search_studies(broken))
    error = caught.value
    assert (error.status, error.api_message, error.attempts) == (
        400,
        "cannot parse query '(migraine': missing ')'",
        1,
    )
    assert isinstance(error, HTTPRequestError) and not isinstance(error, EutilsHTTPError)
    assert str(error).startswith(f"ClinicalTrials.gov refused {fake.url}studies?query.cond=")
    assert str(error).endswith("with HTTP 400: cannot parse query '(migraine': missing ')'")
    assert len(fake.requests) == 1


def test_retries_are_bounded_and_keep_the_last_status(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    fake.inject("503", times=10)
    with pytest.raises(RegistryHTTPError) as caught:
        make_client(attempts=3).count(MIGRAINE)
    assert (caught.value.status, caught.value.attempts, str(caught.value)) == (
        503,
        3,
        "ClinicalTrials.gov search request failed 3 times; giving up (last error: HTTP 503)",
    )
    assert len(fake.requests) == 3


def test_unknown_study_is_study_not_found_with_status_404(
    make_client: Callable[..., RegistryClient],
) -> None:
    with pytest.raises(StudyNotFoundError) as caught:
        make_client().get_study("NCT99999999")
    assert (caught.value.status, str(caught.value)) == (
        404,
        "ClinicalTrials.gov has no study NCT99999999 (HTTP 404)",
    )


def test_no_server_is_an_error_without_status(
    fake: FakeRegistry, make_client: Callable[..., RegistryClient]
) -> None:
    url = fake.url
    fake.stop()
    with pytest.raises(RegistryHTTPError) as caught:
        make_client(attempts=2, url=url).count(MIGRAINE)
    assert (caught.value.status, caught.value.attempts) == (None, 2)
    assert "connection refused" in str(caught.value)


# -- settings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "environ", "expected"),
    [
        (None, {}, DEFAULT_CTGOV_URL),
        (None, {"CTGOV_API_URL": "http://127.0.0.1:9/api/v2"}, "http://127.0.0.1:9/api/v2/"),
        (
            "http://localhost:8/api/v2/",
            {"CTGOV_API_URL": "http://x/"},
            "http://localhost:8/api/v2/",
        ),
    ],
)
def test_ctgov_url_from_flag_then_environment_then_default(
    flag: str | None, environ: dict[str, str], expected: str
) -> None:
    assert load_settings(ctgov_url=flag, environ=environ).ctgov_url == expected


def test_ctgov_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="CTGOV_API_URL must be an http"):
        load_settings(environ={"CTGOV_API_URL": "ftp://example.org/"})
    assert DEFAULT_CTGOV_URL == "https://clinicaltrials.gov/api/v2/"
