"""EutilsClient semantics against a small simulated PubMed on 127.0.0.1.

All XML here is synthetic (PMIDs from 99000000 up, invented titles), written in the formats of
NCBI's ESearch/EFetch replies. Clock and sleep are fakes: no test waits for real.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest

from aggregator.article import Article
from aggregator.errors import AggregatorError, ConfigError
from aggregator.http import EutilsHTTPError, RetryPolicy
from aggregator.pubmed.eutils import (
    EutilsClient,
    MissingRecordsError,
    QuerySyntaxError,
    SearchResult,
    TooManyResultsError,
    split_range,
)
from aggregator.settings import Settings
from tests.test_http_policy import FakeClock, LocalServer, Reply, SeenRequest, scripted

FIRST_PMID = 99_000_000
SEARCH_CAP = 9_999

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def server_factory() -> Iterator[Callable[[Callable[[SeenRequest], Reply]], LocalServer]]:
    servers: list[LocalServer] = []

    def make(responder: Callable[[SeenRequest], Reply]) -> LocalServer:
        servers.append(LocalServer(responder))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def fake_article_parser(data: bytes, *, source_name: str | None = None) -> Iterator[Article]:
    """Stands in for aggregator.pubmed.xml: one Article per <PMID> of a synthetic reply."""
    assert source_name == "efetch reply"
    for pmid, title in re.findall(rb"<PMID>(\d+)</PMID><ArticleTitle>([^<]*)<", data):
        yield Article(pmid=int(pmid), title=title.decode())


def make_client(
    server: LocalServer, clock: FakeClock, *, api_key: str | None = None, attempts: int = 4
) -> EutilsClient:
    settings = Settings(
        eutils_url=server.url, api_key=api_key, email="dev@example.org", tool="aggregator-tests"
    )
    return EutilsClient(
        settings,
        sleep=clock.sleep,
        clock=clock,
        jitter=lambda: 1.0,
        timeout=(2.0, 5.0),
        retry=RetryPolicy(max_attempts=attempts, backoff_base=0.5, backoff_max=3.0),
        article_parser=fake_article_parser,
        today=lambda: date(2025, 6, 30),
    )


def esearch_xml(
    count: int,
    ids: list[int],
    *,
    retstart: int = 0,
    extra: str = "",
    history: bool = True,
) -> bytes:
    history_part = "<QueryKey>1</QueryKey><WebEnv>MCID_synthetic01</WebEnv>" if history else ""
    id_part = "".join(f"<Id>{i}</Id>" for i in ids)
    return (
        '<?xml version="1.0" encoding="UTF-8" ?>\n'
        "<!-- synthetic ESearch reply for tests -->\n"
        f"<eSearchResult><Count>{count}</Count><RetMax>{len(ids)}</RetMax>"
        f"<RetStart>{retstart}</RetStart>{history_part}<IdList>{id_part}</IdList>"
        f"<TranslationSet/><QueryTranslation>magnesium[All Fields]</QueryTranslation>{extra}"
        "</eSearchResult>"
    ).encode()


def efetch_xml(pmids: list[int]) -> bytes:
    articles = "".join(
        f'<PubmedArticle><MedlineCitation Status="MEDLINE"><PMID>{p}</PMID>'
        f"<ArticleTitle>Synthetic title {p}</ArticleTitle></MedlineCitation></PubmedArticle>"
        for p in pmids
    )
    return (
        '<?xml version="1.0" ?>\n<!-- synthetic EFetch reply for tests -->\n'
        f"<PubmedArticleSet>{articles}</PubmedArticleSet>"
    ).encode()


# --------------------------------------------------------------------------------------------
# ESearch
# --------------------------------------------------------------------------------------------


def test_esearch_sends_the_documented_parameters_and_parses_the_reply(server_factory) -> None:
    body = esearch_xml(
        3,
        [99000003, 99000002, 99000001],
        extra="<WarningList><PhraseIgnored>the</PhraseIgnored></WarningList>",
    )
    server = server_factory(scripted(Reply(body=body)))
    client = make_client(server, FakeClock())
    result = client.esearch(
        "magnesium AND migraine",
        mindate=date(2024, 1, 5),
        maxdate=date(2024, 2, 29),
        datetype="crdt",
        retmax=20,
    )
    assert result == SearchResult(
        count=3,
        ids=[99000003, 99000002, 99000001],
        webenv="MCID_synthetic01",
        query_key="1",
        query_translation="magnesium[All Fields]",
        retstart=0,
        retmax=3,
        warnings=["PhraseIgnored: the"],
        phrases_not_found=[],
    )
    assert [(r.method, r.path, r.params) for r in server.requests] == [
        (
            "GET",
            "/esearch.fcgi",
            {
                "db": "pubmed",
                "term": "magnesium AND migraine",
                "retstart": "0",
                "retmax": "20",
                "usehistory": "y",
                "mindate": "2024/01/05",
                "maxdate": "2024/02/29",
                "datetype": "crdt",
                "tool": "aggregator-tests",
                "email": "dev@example.org",
            },
        )
    ]


def test_count_zero_with_phrase_not_found_is_an_ordinary_empty_result(server_factory) -> None:
    extra = (
        "<ErrorList><PhraseNotFound>zzqqxx</PhraseNotFound></ErrorList>"
        "<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>"
    )
    server = server_factory(scripted(Reply(body=esearch_xml(0, [], extra=extra, history=False))))
    client = make_client(server, FakeClock())
    assert client.esearch("zzqqxx", usehistory=False) == SearchResult(
        count=0,
        ids=[],
        webenv=None,
        query_key=None,
        query_translation="magnesium[All Fields]",
        retstart=0,
        retmax=0,
        warnings=["OutputMessage: No items found."],
        phrases_not_found=["zzqqxx"],
    )
    assert len(server.requests) == 1


def test_query_syntax_error_raises_at_once(server_factory) -> None:
    error = b"<eSearchResult><ERROR>Invalid query: unbalanced parentheses</ERROR></eSearchResult>"
    server = server_factory(lambda _: Reply(body=error))
    clock = FakeClock()
    client = make_client(server, clock)
    with pytest.raises(QuerySyntaxError) as caught:
        client.count("(magnesium")
    assert str(caught.value) == (
        "NCBI rejected the search '(magnesium': Invalid query: unbalanced parentheses"
    )
    assert caught.value.ncbi_message == "Invalid query: unbalanced parentheses"
    assert isinstance(caught.value, EutilsHTTPError)
    assert len(server.requests) == 1
    assert clock.sleeps == []


def test_search_backend_failed_is_retried(server_factory) -> None:
    failed = Reply(body=b"<eSearchResult><ERROR>Search Backend failed: xyz</ERROR></eSearchResult>")
    server = server_factory(scripted(failed, failed, Reply(body=esearch_xml(7, []))))
    clock = FakeClock()
    client = make_client(server, clock)
    assert client.count("magnesium") == 7
    assert len(server.requests) == 3
    assert clock.sleeps == [0.5, 1.0]


def test_search_backend_failing_every_time_exhausts_retries(server_factory) -> None:
    failed = Reply(body=b"<eSearchResult><ERROR>Search Backend failed</ERROR></eSearchResult>")
    server = server_factory(lambda _: failed)
    client = make_client(server, FakeClock(), attempts=3)
    with pytest.raises(EutilsHTTPError) as caught:
        client.count("magnesium")
    assert (type(caught.value).__name__, caught.value.status) == ("RetriesExhausted", 200)
    assert caught.value.ncbi_message == "Search Backend failed"
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    "message",
    [
        "Search Backend failed: Exception: Position 15000 is out of acceptable range",
        "Search Backend failed: Exception: 'retstart' cannot be larger than 9998.",
    ],
)
def test_out_of_range_backend_error_is_not_retried(server_factory, message: str) -> None:
    server = server_factory(
        lambda _: Reply(body=f"<eSearchResult><ERROR>{message}</ERROR></eSearchResult>".encode())
    )
    client = make_client(server, FakeClock())
    with pytest.raises(EutilsHTTPError) as caught:
        client.esearch("magnesium", retstart=15000, retmax=10)
    assert type(caught.value) is EutilsHTTPError
    assert caught.value.ncbi_message == message
    assert len(server.requests) == 1


def test_truncated_esearch_reply_is_retried(server_factory) -> None:
    truncated = Reply(body=esearch_xml(2, [99000002, 99000001])[:-40])
    server = server_factory(scripted(truncated, Reply(body=esearch_xml(2, [99000002, 99000001]))))
    client = make_client(server, FakeClock())
    assert client.esearch("magnesium", retmax=10).ids == [99000002, 99000001]
    assert len(server.requests) == 2


def test_reply_parsing_loads_no_dtd_and_expands_no_entities(server_factory, tmp_path) -> None:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text("TOP-SECRET-FILE-CONTENT")
    dtd_hits: list[str] = []

    def responder(request: SeenRequest) -> Reply:
        if request.path.endswith(".dtd"):
            dtd_hits.append(request.path)
            return Reply(body=b"<!ELEMENT eSearchResult ANY>")
        body = (
            '<?xml version="1.0"?>\n'
            f'<!DOCTYPE eSearchResult SYSTEM "{server.url}esearch.dtd" [\n'
            f'  <!ENTITY leak SYSTEM "file://{secret_file}">\n'
            "]>\n"
            "<eSearchResult><Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart><IdList/>"
            "<QueryTranslation>x&leak;</QueryTranslation></eSearchResult>"
        )
        return Reply(body=body.encode())

    server = server_factory(responder)
    client = make_client(server, FakeClock())
    result = client.esearch("magnesium")
    assert result.query_translation == "x"
    assert dtd_hits == []
    assert [r.path for r in server.requests] == ["/esearch.fcgi"]


def test_long_terms_are_posted(server_factory) -> None:
    server = server_factory(scripted(Reply(body=esearch_xml(0, []))))
    client = make_client(server, FakeClock())
    term = " OR ".join(f"magnesium form{i}[tiab]" for i in range(30))
    client.count(term)
    assert [(r.method, r.params["term"], r.params["retmax"]) for r in server.requests] == [
        ("POST", term, "0")
    ]
    assert "usehistory" not in server.requests[0].params


def test_bad_arguments_are_config_errors(server_factory) -> None:
    server = server_factory(scripted())
    client = make_client(server, FakeClock())
    with pytest.raises(ConfigError, match="mindate 2025/02/01 is after maxdate 2025/01/01"):
        client.esearch("x", mindate=date(2025, 2, 1), maxdate=date(2025, 1, 1))
    with pytest.raises(ConfigError, match="the search term is empty"):
        client.esearch("  ")
    assert server.requests == []


# --------------------------------------------------------------------------------------------
# search_ids and date slicing, against a simulated PubMed with computable counts
# --------------------------------------------------------------------------------------------


class SimulatedPubmed:
    """Records spread over create dates; ESearch semantics including the 9,999 ceiling."""

    def __init__(self, records: dict[int, date], *, drifting: dict[int, date] | None = None):
        self.records = records
        # A record that "moves" to a second date while we harvest: it matches both ranges.
        self.drifting = drifting or {}
        self.ranges: list[tuple[date, date] | None] = []

    def __call__(self, request: SeenRequest) -> Reply:
        params = request.params
        assert request.path == "/esearch.fcgi"
        assert params["tool"] == "aggregator-tests" and params["db"] == "pubmed"
        retstart, retmax = int(params.get("retstart", 0)), int(params.get("retmax", 20))
        if "mindate" in params:
            assert params["datetype"] == "crdt"
            low = date(*map(int, params["mindate"].split("/")))
            high = date(*map(int, params["maxdate"].split("/")))
            self.ranges.append((low, high))
            matches = [p for p, d in self.records.items() if low <= d <= high]
            matches += [p for p, d in self.drifting.items() if low <= d <= high]
        else:
            self.ranges.append(None)
            matches = list(self.records)
        matches = sorted(set(matches), reverse=True)
        if retstart > 9998:
            message = (
                f"Search Backend failed: Exception: Position {retstart} is out of acceptable range"
            )
            return Reply(body=f"<eSearchResult><ERROR>{message}</ERROR></eSearchResult>".encode())
        page = matches[retstart : retstart + min(retmax, SEARCH_CAP)]
        return Reply(body=esearch_xml(len(matches), page, retstart=retstart))


def spread_records(total: int, start: date, days: int) -> dict[int, date]:
    return {FIRST_PMID + i: start + timedelta(days=(i * 7919) % days) for i in range(total)}


def leaf_ranges(sim: SimulatedPubmed) -> list[tuple[date, date]]:
    """The date slices whose count fitted under the ceiling, in date order."""
    leaves = []
    for rng in sim.ranges:
        if rng is None:  # the undated first search
            continue
        count = sum(1 for d in sim.records.values() if rng[0] <= d <= rng[1])
        if count <= SEARCH_CAP:
            leaves.append(rng)
    return sorted(leaves)


def test_split_range_halves_without_gap_or_overlap() -> None:
    assert split_range(date(2024, 1, 1), date(2024, 1, 10)) == (
        (date(2024, 1, 1), date(2024, 1, 5)),
        (date(2024, 1, 6), date(2024, 1, 10)),
    )
    assert split_range(date(2024, 1, 1), date(2024, 1, 2)) == (
        (date(2024, 1, 1), date(2024, 1, 1)),
        (date(2024, 1, 2), date(2024, 1, 2)),
    )
    with pytest.raises(ValueError):
        split_range(date(2024, 1, 1), date(2024, 1, 1))


def test_search_ids_small_result_is_one_request(server_factory) -> None:
    sim = SimulatedPubmed(spread_records(120, date(2024, 1, 1), 30))
    server = server_factory(sim)
    client = make_client(server, FakeClock())
    assert client.search_ids("magnesium") == sorted(sim.records, reverse=True)
    assert sim.ranges == [None]
    assert server.requests[0].params["retmax"] == "9999"


def test_search_ids_slices_a_large_window_by_date(server_factory) -> None:
    start, end = date(2024, 1, 1), date(2024, 12, 31)
    sim = SimulatedPubmed(spread_records(25_000, start, 366))
    server = server_factory(sim)
    client = make_client(server, FakeClock())
    ids = client.search_ids("magnesium", mindate=start, maxdate=end)
    assert ids == sorted(sim.records, reverse=True)  # every id once, highest first
    leaves = leaf_ranges(sim)
    assert leaves[0][0] == start and leaves[-1][1] == end
    for (_, previous_end), (next_start, _) in zip(leaves, leaves[1:], strict=False):
        assert next_start == previous_end + timedelta(days=1)  # no gap, no overlap
    assert sim.ranges[0] == (start, end)
    assert len(leaves) == 4  # 25,000 over a year: quarters of ~6,250 fit
    assert all(int(r.params["retstart"]) <= 9998 for r in server.requests)


def test_search_ids_without_dates_slices_from_1800_to_today(server_factory) -> None:
    sim = SimulatedPubmed(spread_records(12_000, date(2025, 6, 1), 30))
    server = server_factory(sim)
    client = make_client(server, FakeClock())
    ids = client.search_ids("magnesium")
    assert ids == sorted(sim.records, reverse=True)
    assert sim.ranges[0] is None
    # The undated search already said "too many": its halves are searched next.
    assert sim.ranges[1:3] == [
        (date(1800, 1, 1), date(1912, 10, 1)),
        (date(1912, 10, 2), date(2025, 6, 30)),
    ]
    leaves = leaf_ranges(sim)
    assert leaves[0][0] == date(1800, 1, 1) and leaves[-1][1] == date(2025, 6, 30)
    for (_, previous_end), (next_start, _) in zip(leaves, leaves[1:], strict=False):
        assert next_start == previous_end + timedelta(days=1)


def test_search_ids_merges_duplicates_from_overlapping_records(server_factory) -> None:
    records = spread_records(11_000, date(2024, 1, 1), 100)
    drifting = {FIRST_PMID + 5: date(2024, 4, 9), FIRST_PMID + 6: date(2024, 1, 2)}
    sim = SimulatedPubmed(records, drifting=drifting)
    server = server_factory(sim)
    client = make_client(server, FakeClock())
    ids = client.search_ids("magnesium", mindate=date(2024, 1, 1), maxdate=date(2024, 4, 9))
    assert ids == sorted(records, reverse=True)
    assert len(ids) == len(set(ids)) == 11_000


def test_search_ids_pages_within_a_slice_when_the_server_caps_retmax(server_factory) -> None:
    ids_all = list(range(99_000_250, 99_000_000, -1))

    def responder(request: SeenRequest) -> Reply:
        retstart = int(request.params["retstart"])
        return Reply(body=esearch_xml(250, ids_all[retstart : retstart + 100], retstart=retstart))

    server = server_factory(responder)
    client = make_client(server, FakeClock())
    assert client.search_ids("magnesium") == ids_all
    assert [(r.params["retstart"], r.params["retmax"]) for r in server.requests] == [
        ("0", "9999"),
        ("100", "150"),
        ("200", "50"),
    ]


def test_one_day_over_the_ceiling_is_a_clear_error(server_factory) -> None:
    day = date(2024, 3, 3)
    sim = SimulatedPubmed({FIRST_PMID + i: day for i in range(10_050)})
    server = server_factory(sim)
    client = make_client(server, FakeClock())
    with pytest.raises(TooManyResultsError) as caught:
        client.search_ids("magnesium", mindate=date(2024, 3, 1), maxdate=date(2024, 3, 4))
    assert str(caught.value) == (
        "search for 'magnesium' matches 10050 records on 2024/03/03 alone, more than the 9999 "
        "ESearch can return; narrow the query"
    )
    assert isinstance(caught.value, AggregatorError)


# --------------------------------------------------------------------------------------------
# EFetch
# --------------------------------------------------------------------------------------------


def efetch_responder(
    omit_first_times: dict[int, int] | None = None,
) -> Callable[[SeenRequest], Reply]:
    """EFetch that leaves out each PMID in ``omit_first_times`` for that many replies."""
    omitted = dict(omit_first_times or {})

    def responder(request: SeenRequest) -> Reply:
        assert request.path == "/efetch.fcgi"
        wanted = [int(p) for p in request.params["id"].split(",")]
        returned = []
        for pmid in wanted:
            if omitted.get(pmid, 0) > 0:
                omitted[pmid] -= 1
            else:
                returned.append(pmid)
        return Reply(body=efetch_xml(returned))

    return responder


def test_efetch_posts_batches_of_500(server_factory) -> None:
    server = server_factory(efetch_responder())
    client = make_client(server, FakeClock())
    pmids = list(range(FIRST_PMID, FIRST_PMID + 1203))
    replies = list(client.efetch_xml(pmids + pmids[:10]))  # duplicates are sent once
    assert [len(re.findall(rb"<PMID>", reply)) for reply in replies] == [500, 500, 203]
    assert [r.method for r in server.requests] == ["POST"] * 3
    assert [r.params["id"].split(",") for r in server.requests] == [
        [str(p) for p in pmids[0:500]],
        [str(p) for p in pmids[500:1000]],
        [str(p) for p in pmids[1000:]],
    ]
    assert {
        (r.params["db"], r.params["retmode"], r.params["rettype"]) for r in server.requests
    } == {("pubmed", "xml", "abstract")}
    assert client.stats == {"efetch": 3}


def test_efetch_batch_size_is_validated(server_factory) -> None:
    server = server_factory(efetch_responder())
    client = make_client(server, FakeClock())
    with pytest.raises(ConfigError, match="batch_size must be between 1 and 500, got 501"):
        list(client.efetch_xml([FIRST_PMID], batch_size=501))
    with pytest.raises(ConfigError, match="not a PMID: 'abc'"):
        list(client.efetch_xml(["abc"]))  # type: ignore[list-item]
    assert server.requests == []


def test_truncated_efetch_reply_is_retried(server_factory) -> None:
    good = efetch_xml([FIRST_PMID, FIRST_PMID + 1])
    server = server_factory(scripted(Reply(body=good[: len(good) // 2]), Reply(body=good)))
    client = make_client(server, FakeClock())
    assert list(client.efetch_xml([FIRST_PMID, FIRST_PMID + 1])) == [good]
    assert len(server.requests) == 2


def test_fetch_articles_re_requests_missing_records(server_factory) -> None:
    server = server_factory(efetch_responder({FIRST_PMID + 3: 1, FIRST_PMID + 7: 2}))
    client = make_client(server, FakeClock())
    pmids = list(range(FIRST_PMID, FIRST_PMID + 10))
    articles = list(client.fetch_articles(pmids))
    assert sorted(articles, key=lambda a: a.pmid) == [
        Article(pmid=p, title=f"Synthetic title {p}") for p in pmids
    ]
    assert [r.params["id"] for r in server.requests] == [
        ",".join(map(str, pmids)),
        f"{FIRST_PMID + 3},{FIRST_PMID + 7}",
        f"{FIRST_PMID + 7}",
    ]
    assert client.missing_pmids == []


def test_fetch_articles_reports_records_that_never_come(server_factory) -> None:
    gone = FIRST_PMID + 2
    server = server_factory(efetch_responder({gone: 99}))
    client = make_client(server, FakeClock())
    pmids = [FIRST_PMID, FIRST_PMID + 1, gone]
    articles = list(client.fetch_articles(pmids, missing_attempts=2))
    assert [a.pmid for a in articles] == [FIRST_PMID, FIRST_PMID + 1]
    assert client.missing_pmids == [gone]
    assert len(server.requests) == 3  # first try + 2 re-requests


def test_fetch_articles_strict_raises_after_yielding_the_rest(server_factory) -> None:
    gone = FIRST_PMID + 2
    server = server_factory(efetch_responder({gone: 99}))
    client = make_client(server, FakeClock())
    received: list[int] = []
    with pytest.raises(MissingRecordsError) as caught:
        for article in client.fetch_articles([FIRST_PMID, gone], missing_attempts=1, strict=True):
            received.append(article.pmid)
    assert received == [FIRST_PMID]
    assert caught.value.pmids == [gone]
    assert str(caught.value) == f"NCBI returned no record for 1 PMIDs, e.g. {gone}"


def test_efetch_hard_error_is_reported(server_factory) -> None:
    body = b"<eFetchResult><ERROR>Cannot retrieve records: invalid id</ERROR></eFetchResult>"
    server = server_factory(lambda _: Reply(body=body))
    client = make_client(server, FakeClock())
    with pytest.raises(EutilsHTTPError) as caught:
        list(client.efetch_xml([FIRST_PMID]))
    assert str(caught.value) == "NCBI EFetch failed: Cannot retrieve records: invalid id"
    # Issue 17 item 10: the ids are valid PMIDs, so any <ERROR> is asked again twice first.
    assert len(server.requests) == 3


def test_api_key_travels_with_every_eutils_call_and_not_in_repr(server_factory) -> None:
    key = "k3y-SECRET-eutils-9876"
    sim = SimulatedPubmed(spread_records(5, date(2024, 1, 1), 3))
    server = server_factory(sim)
    client = make_client(server, FakeClock(), api_key=key)
    assert client.search_ids("magnesium") == sorted(sim.records, reverse=True)
    assert [r.params.get("api_key") for r in server.requests] == [key]
    assert key not in repr(client)
    assert client.requests_made == 1
