"""Issue 17, phase 1: a hostile server must not make the client leak, hang, hoard or lie.

Each test is named by the issue's item number and was written to fail on the code before its
fix. The hostile replies come from the fake NCBI server's on-demand faults (redirect, drip,
huge, gzip_bomb, bad_ids, unrequested_records, lying_count, error200 with a message); every
record is synthetic (PMIDs 99000001 up, filler records 99500000 up).
"""

from __future__ import annotations

import re
import threading
import time
import tracemalloc
from collections.abc import Callable

import pytest
import requests
from requests.adapters import HTTPAdapter

from aggregator.errors import ConfigError
from aggregator.http import EutilsHTTPError, PoliteSession, RetriesExhausted, RetryPolicy
from aggregator.pubmed.eutils import EutilsClient, SearchResult
from aggregator.pubmed.fake import FakeEutils
from aggregator.settings import Settings

API_KEY = "SECRET-hardening-key-7f3a9c"
FakeFactory = Callable[..., FakeEutils]


@pytest.fixture
def fake_factory(fake_ncbi_factory: FakeFactory) -> FakeFactory:
    """Started fake servers with the base corpus and no rate limit (politeness is not tested
    here)."""

    def make(**kwargs: object) -> FakeEutils:
        kwargs.setdefault("rate_limit", None)
        kwargs.setdefault("rate_limit_with_key", None)
        return fake_ncbi_factory(**kwargs)

    return make


def make_session(
    *, api_key: str | None = None, attempts: int = 3, **options: object
) -> PoliteSession:
    return PoliteSession(
        tool="aggregator-hardening-tests",
        email="tests@example.invalid",
        api_key=api_key,
        requests_per_second=50,
        retry=RetryPolicy(max_attempts=attempts, backoff_base=0.01, backoff_max=0.02),
        **options,  # type: ignore[arg-type]
    )


def make_client(fake: FakeEutils, session: PoliteSession, **options: object) -> EutilsClient:
    settings = Settings(
        eutils_url=fake.url,
        api_key=session._api_key,
        email="tests@example.invalid",
        tool="aggregator-hardening-tests",
    )
    return EutilsClient(settings, session=session, today=lambda: fake.today, **options)  # type: ignore[arg-type]


class CountingAdapter(HTTPAdapter):
    """A transport that answers 200 at once and counts what it was asked to send."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
        self.sent.append(request.url)
        response = requests.Response()
        response.status_code = 200
        response._content = b"<ok/>"
        response.url = request.url
        response.request = request
        return response


# ---- item 1: the API key never follows a redirect, never travels over plain http ----------


def test_item01_api_key_is_not_sent_to_the_host_a_redirect_points_to(
    fake_factory: FakeFactory,
) -> None:
    ncbi = fake_factory()
    elsewhere = fake_factory(records=[])
    ncbi.inject("redirect", location=f"{elsewhere.url}esearch.fcgi", times=10)
    client = make_client(ncbi, make_session(api_key=API_KEY))

    with pytest.raises(EutilsHTTPError) as caught:
        client.esearch("magnesium[tiab]")

    assert elsewhere.requests == []  # nothing, let alone the key, reached the other server
    assert [(e.endpoint, e.status) for e in ncbi.requests] == [("esearch", 307)]  # no retry
    message = str(caught.value)
    other_host = elsewhere.url.split("/")[2]  # 127.0.0.1:<port>: another server, same machine
    assert "HTTP 307" in message and other_host in message
    assert "redirect" in message and API_KEY not in message


@pytest.mark.parametrize(
    "url",
    ["http://eutils.ncbi.nlm.nih.gov/entrez/eutils/", "http://10.1.2.3:8080/entrez/eutils/"],
)
def test_item01_api_key_is_refused_over_plain_http_to_another_machine(url: str) -> None:
    adapter = CountingAdapter()
    raw = requests.Session()
    raw.mount("http://", adapter)
    raw.mount("https://", adapter)
    session = make_session(api_key=API_KEY, session=raw)

    with pytest.raises(ConfigError, match="refusing to send the NCBI API key over plain http"):
        session.get(f"{url}esearch.fcgi", {"db": "pubmed"})
    with pytest.raises(ConfigError, match="refusing to send the NCBI API key over plain http"):
        EutilsClient(Settings(eutils_url=url, api_key=API_KEY, email="tests@example.invalid"))
    assert adapter.sent == []

    # https, a test server on this machine, or no key at all: allowed.
    session.get(url.replace("http://", "https://") + "esearch.fcgi", {})
    session.get("http://127.0.0.1:9/entrez/eutils/esearch.fcgi", {})
    session.get("http://localhost:9/entrez/eutils/esearch.fcgi", {})
    session.get("http://[::1]:9/entrez/eutils/esearch.fcgi", {})
    make_session(session=raw).get(f"{url}esearch.fcgi", {})
    assert len(adapter.sent) == 5


# ---- item 6: every request has an overall deadline -------------------------------------------


def finishes_within(seconds: float, work: Callable[[], object]) -> object:
    """Run ``work`` in a thread; fail the test (instead of hanging it) if it is still running
    after ``seconds``. Returns what ``work`` returned or raised."""
    outcome: list[object] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    worker = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        pytest.fail(f"still waiting after {seconds} s: no overall deadline")
    assert time.monotonic() - started < seconds
    return outcome[0]


def test_item06_a_reply_dripping_a_byte_at_a_time_is_cut_off_at_the_deadline(
    fake_factory: FakeFactory,
) -> None:
    fake = fake_factory()
    # A byte every 0.3 s never trips the 1 s read timeout; only an overall deadline helps.
    fake.inject("drip", delay=0.3, times=2)
    client = make_client(fake, make_session(attempts=2, timeout=(2.0, 1.0), deadline=1.0))

    outcome = finishes_within(8, lambda: client.esearch("magnesium[tiab]"))

    assert isinstance(outcome, RetriesExhausted), outcome
    assert outcome.last_cause == "no complete reply within 1 s (deadline)"
    assert [e.fault for e in fake.requests] == ["drip", "drip"]

    # A deadline hit is a retryable timeout: one dripping reply, then the normal one.
    fake.inject("drip", delay=0.3)
    result = finishes_within(8, lambda: client.esearch("magnesium[tiab]"))
    assert isinstance(result, SearchResult) and result.count > 0, result


# ---- item 7: replies are capped in size, decompressed size included --------------------------


def test_item07_a_huge_reply_is_refused_at_the_size_cap_and_not_retried(
    fake_factory: FakeFactory,
) -> None:
    fake = fake_factory()
    fake.inject("huge", size=4_000_000, times=5)
    client = make_client(fake, make_session(max_reply_bytes=1 << 20))

    with pytest.raises(EutilsHTTPError) as caught:
        client.esearch("magnesium[tiab]")

    assert not isinstance(caught.value, RetriesExhausted)
    assert str(caught.value).startswith(f"the reply to {fake.url}esearch.fcgi?")
    assert str(caught.value).endswith(" is larger than the 1 MiB limit; refused")
    assert [e.fault for e in fake.requests] == ["huge"]  # not asked again
    fake.clear_faults()
    assert client.esearch("magnesium[tiab]").count > 0  # the connection pool is still usable


def test_item07_a_gzip_bomb_is_refused_by_its_decompressed_size_in_flat_memory(
    fake_factory: FakeFactory,
) -> None:
    fake = fake_factory()
    fake.inject("gzip_bomb", size=64_000_000)  # about 64 KB on the wire
    client = make_client(fake, make_session(max_reply_bytes=1 << 20))

    tracemalloc.start()
    try:
        with pytest.raises(EutilsHTTPError, match=r"is larger than the 1 MiB limit; refused$"):
            client.esearch("magnesium[tiab]")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB while reading a 64 MB bomb"
    assert [e.fault for e in fake.requests] == ["gzip_bomb"]
    # Under the cap, a compressed reply is read and decoded as usual.
    fake.inject("gzip_bomb", size=200_000)
    assert client.esearch("magnesium[tiab]").count > 0


# ---- items 8 and 9: bad ids and unrequested records are skipped, counted, never stored -------

# 99000001 and 99000003 are PMIDs of the base corpus; written in other digits they must not
# alias them.
BAD_IDS = {
    "negative": "-5",
    "zero": "0",
    "not a number": "abc",
    "empty": "",
    "above PubMed's range": "100000000",
    "huge": "99999999999999999999999",
    "Arabic-Indic digits": "\u0669\u0669\u0660\u0660\u0660\u0660\u0660\u0661",
    "full-width digits": "\uff19\uff19\uff10\uff10\uff10\uff10\uff10\uff13",
}


@pytest.mark.parametrize("value", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_item09_parse_pmid_accepts_only_ascii_pmids_in_pubmeds_range(value: str) -> None:
    from aggregator.article import MAX_PMID, parse_pmid

    assert MAX_PMID == 99_999_999
    assert [parse_pmid("1"), parse_pmid(" 99000001\n"), parse_pmid(MAX_PMID)] == [
        1,
        99000001,
        MAX_PMID,
    ]
    with pytest.raises(
        ValueError,
        match=r"^PMID .* (is not a number|is out of range|is not written in ASCII digits)",
    ):
        parse_pmid(value)


@pytest.mark.parametrize("value", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_item09_a_bad_id_in_an_esearch_reply_is_skipped_with_a_warning(
    fake_factory: FakeFactory, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_factory()
    client = make_client(fake, make_session())
    clean = client.search_ids("magnesium[tiab]")
    fake.inject("bad_ids", ids=[value], times=10)

    assert client.search_ids("magnesium[tiab]") == clean

    (skipped,) = client.skipped
    assert skipped.startswith("skipped an id in the ESearch reply for 'magnesium[tiab]': PMID ")
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [skipped]


def test_item09_efetch_records_that_were_not_asked_for_are_skipped(
    fake_factory: FakeFactory,
) -> None:
    fake = fake_factory()
    client = make_client(fake, make_session())
    impostors = [
        "99000002",
        "-5",
        "0",
        BAD_IDS["Arabic-Indic digits"],
        BAD_IDS["full-width digits"],
    ]
    fake.inject("unrequested_records", ids=impostors, times=5)

    articles = list(client.fetch_articles([99000001, 99000004]))

    assert sorted(a.pmid for a in articles) == [99000001, 99000004]
    assert {a.pmid: a.title for a in articles} == {
        pmid: fake.get_record(pmid).title for pmid in (99000001, 99000004)
    }
    assert client.missing_pmids == []
    # Line numbers depend on how the fake lays out its reply.
    assert sorted(re.sub(r"at line \d+", "at line N", line) for line in client.skipped) == [
        "skipped PMID 99000002 in an EFetch reply: it was not asked for",
        "skipped a record: efetch reply: bad <PubmedArticle> at line N: "
        "PMID '-5' is out of range (1..99999999)",
        "skipped a record: efetch reply: bad <PubmedArticle> at line N: "
        "PMID '0' is out of range (1..99999999)",
        "skipped a record: efetch reply: bad <PubmedArticle> at line N: "
        f"PMID {BAD_IDS['Arabic-Indic digits']!r} is not written in ASCII digits",
        "skipped a record: efetch reply: bad <PubmedArticle> at line N: "
        f"PMID {BAD_IDS['full-width digits']!r} is not written in ASCII digits",
    ]


# ---- item 11: a lying ESearch Count does not keep the client paging ------------------------


def test_item11_paging_stops_when_pages_stop_bringing_new_ids_and_says_the_count_was_wrong(
    fake_factory: FakeFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_factory()
    client = make_client(fake, make_session())
    clean = client.search_ids("magnesium[tiab]")
    fake.reset_log()
    # Count says 5,000; past the real matches every page repeats them instead of being empty.
    # Before: one page per len(clean) ids until 5,000 were "received" (at NCBI's 3 requests/s
    # a Count of 9,999 meant about half an hour of paging).
    fake.inject("lying_count", count=5000, times=10_000)

    ids = finishes_within(30, lambda: client.search_ids("magnesium[tiab]"))

    assert ids == clean
    assert [e.endpoint for e in fake.requests] == ["esearch", "esearch"]
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"ESearch said 5000 records match 'magnesium[tiab]' but its pages stopped bringing new "
        f"ids after {len(clean)}: the count was wrong (or records went away while paging); "
        f"going on with those {len(clean)}"
    ]
