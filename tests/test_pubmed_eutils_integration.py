"""EutilsClient against the project's fake NCBI server (aggregator.pubmed.fake), in real time.

The fake enforces NCBI's rate limits itself and logs every request with its arrival time, so
these tests check politeness from the server's side. Records are synthetic bulk records the
fake invents (PMIDs from 99500000). Backoff and timeouts are shrunk to keep the file fast.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from aggregator.http import PoliteSession, RetriesExhausted, RetryPolicy
from aggregator.pubmed.eutils import EutilsClient, QuerySyntaxError
from aggregator.pubmed.fake import FakeEutils
from aggregator.settings import Settings

API_KEY = "fake-KEY-integration-5c1e"
MARCH = (date(2025, 3, 1), date(2025, 3, 10))

FakeFactory = Callable[..., FakeEutils]


@pytest.fixture
def fake_factory(fake_ncbi_factory: FakeFactory) -> FakeFactory:
    """Started fake servers (plugin fixture) with no base corpus and NCBI's rate limits on."""

    def make(**kwargs: object) -> FakeEutils:
        return fake_ncbi_factory(records=[], today=date(2025, 6, 30), **kwargs)

    return make


def make_client(
    fake: FakeEutils,
    *,
    api_key: str | None = None,
    attempts: int = 10,
    read_timeout: float = 5.0,
    min_rate_limit_wait: float = 0.1,
    session: PoliteSession | None = None,
) -> EutilsClient:
    settings = Settings(
        eutils_url=fake.url, api_key=api_key, email="dev@example.org", tool="aggregator-tests"
    )
    return EutilsClient(
        settings,
        session=session,
        timeout=(2.0, read_timeout),
        retry=RetryPolicy(
            max_attempts=attempts,
            backoff_base=0.05,
            backoff_max=0.2,
            min_rate_limit_wait=min_rate_limit_wait,
        ),
    )


def max_in_any_window(starts: list[float], window: float = 1.0) -> int:
    ordered = sorted(starts)
    return max(
        (sum(1 for t in ordered[i:] if t < first + window) for i, first in enumerate(ordered)),
        default=0,
    )


def assert_polite(fake: FakeEutils, limit: int) -> None:
    """The server never saw more than ``limit`` requests in any 1 s and never had to say 429."""
    arrivals = [entry.monotonic for entry in fake.requests]
    assert max_in_any_window(arrivals) <= limit
    assert [e for e in fake.requests if e.status == 429 and e.fault is None] == []


def test_search_and_fetch_end_to_end_within_3_per_second(fake_factory) -> None:
    fake = fake_factory()
    pmids = fake.add_bulk(40, "glycinatefiller", *MARCH)
    first_two_days = [p for p in pmids if fake.get_record(p).crdt.date() <= date(2025, 3, 2)]
    client = make_client(fake)

    assert client.count("glycinatefiller[tiab]") == 40
    assert (
        client.count(
            "glycinatefiller[tiab]", mindate=MARCH[0], maxdate=date(2025, 3, 2), datetype="crdt"
        )
        == len(first_two_days)
        > 0
    )
    ids = client.search_ids("glycinatefiller[tiab]", mindate=MARCH[0], maxdate=MARCH[1])
    assert ids == sorted(pmids, reverse=True)
    articles = list(client.fetch_articles(ids, batch_size=15))
    assert sorted((a.pmid, a.title) for a in articles) == sorted(
        (p, fake.get_record(p).title_xml) for p in pmids
    )
    assert all("glycinatefiller" in a.title for a in articles)
    assert client.missing_pmids == []

    log = fake.requests
    assert [(e.endpoint, e.method, e.status) for e in log] == [
        ("esearch", "GET", 200),
        ("esearch", "GET", 200),
        ("esearch", "GET", 200),
        ("efetch", "POST", 200),
        ("efetch", "POST", 200),
        ("efetch", "POST", 200),
    ]
    assert [e.ids_returned for e in log[3:]] == [15, 15, 10]
    assert {(e.params["tool"], e.params["email"]) for e in log} == {
        ("aggregator-tests", "dev@example.org")
    }
    assert all("api_key" not in e.params for e in log)
    assert client.stats == {"esearch": 3, "efetch": 3}
    assert_polite(fake, 3)
    # The throttle really waited (6 requests at 3/s span at least 1 s) but did not dawdle.
    span = log[-1].monotonic - log[0].monotonic
    assert 1.0 <= span <= (math.ceil(len(log) / 3) - 1) * 1.08 + 0.9


def test_every_fault_kind_is_survived_with_an_api_key(fake_factory, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake = fake_factory()
    pmids = fake.add_bulk(30, "citratefiller", *MARCH)
    for kind in ("500", "502", "503", "429", "reset", "truncate", "error200"):
        fake.inject(kind, endpoint="esearch")
    for kind in ("truncate", "error200", "503", "reset"):
        fake.inject(kind, endpoint="efetch")
    fake.inject("missing_records", drop=3)
    client = make_client(fake, api_key=API_KEY)

    ids = client.search_ids("citratefiller[tiab]", mindate=MARCH[0], maxdate=MARCH[1])
    assert ids == sorted(pmids, reverse=True)
    articles = list(client.fetch_articles(ids))
    assert sorted(a.pmid for a in articles) == sorted(pmids)
    assert client.missing_pmids == []

    log = fake.requests
    assert [(e.endpoint, e.fault, e.status) for e in log] == [
        ("esearch", "500", 500),
        ("esearch", "502", 502),
        ("esearch", "503", 503),
        ("esearch", "429", 429),
        ("esearch", "reset", 0),
        ("esearch", "truncate", 200),
        ("esearch", "error200", 200),
        ("esearch", None, 200),
        ("efetch", "truncate", 200),
        ("efetch", "error200", 200),
        ("efetch", "503", 503),
        ("efetch", "reset", 0),
        ("efetch", "missing_records", 200),
        ("efetch", None, 200),
    ]
    # The re-request after missing_records asks only for the three dropped records.
    assert len(log[-1].params["id"].split(",")) == 3
    assert all(e.params.get("api_key") == API_KEY and e.method == "POST" for e in log)
    assert API_KEY not in caplog.text
    retry_lines = [r for r in caplog.records if r.name == "aggregator.http"]
    assert len(retry_lines) == 11
    assert_polite(fake, 10)


def test_slow_reply_times_out_and_is_retried(fake_factory, caplog) -> None:
    fake = fake_factory()
    fake.add_bulk(5, "oxidefiller", *MARCH)
    fake.inject("slow", endpoint="esearch", delay=3.0)
    caplog.set_level(logging.INFO, logger="aggregator.http")
    client = make_client(fake, read_timeout=0.3)
    started = time.monotonic()
    assert client.count("oxidefiller[tiab]") == 5
    # The retry went out after the 0.3 s read timeout, long before the slow reply's 3 s.
    assert time.monotonic() - started < 1.5
    assert client.stats == {"esearch": 2}
    retries = [r.getMessage() for r in caplog.records if r.name == "aggregator.http"]
    assert len(retries) == 1
    assert "attempt 1/10 failed with status none (no reply in time (timeout))" in retries[0]
    # The fake logs a request when it answers: so far only the quick retry has been answered.
    assert [(e.fault, e.status) for e in fake.requests] == [(None, 200)]


def test_query_syntax_error_is_not_retried(fake_factory) -> None:
    fake = fake_factory()
    client = make_client(fake)
    with pytest.raises(QuerySyntaxError) as caught:
        client.count("(magnesium[tiab] AND migraine[tiab]")
    assert caught.value.ncbi_message == "Unbalanced parentheses in term: missing ')'"
    assert len(fake.requests) == 1


def test_unknown_phrase_is_an_empty_result(fake_factory) -> None:
    fake = fake_factory()
    fake.add_bulk(3, "sulfatefiller", *MARCH)
    client = make_client(fake)
    result = client.esearch("zzqqnotaword[tiab]", retmax=20)
    assert (result.count, result.ids, result.phrases_not_found) == (0, [], ["zzqqnotaword"])
    assert client.search_ids("zzqqnotaword[tiab]") == []


def test_retries_stop_after_the_configured_attempts(fake_factory) -> None:
    fake = fake_factory()
    fake.inject("503", endpoint="esearch", times=10)
    client = make_client(fake, api_key=API_KEY, attempts=3)
    with pytest.raises(RetriesExhausted) as caught:
        client.count("magnesium[tiab]")
    assert (caught.value.status, caught.value.attempts) == (503, 3)
    assert API_KEY not in str(caught.value)
    assert [e.status for e in fake.requests] == [503, 503, 503]


def test_server_side_429s_from_an_over_eager_client_are_absorbed(fake_factory) -> None:
    fake = fake_factory()
    fake.add_bulk(4, "malatefiller", *MARCH)
    # A client configured far above NCBI's limit: the server's own limiter answers 429.
    eager = PoliteSession(
        tool="aggregator-tests",
        email="dev@example.org",
        requests_per_second=50,
        timeout=(2.0, 5.0),
        retry=RetryPolicy(max_attempts=6, backoff_base=0.05, backoff_max=0.2),
    )
    client = make_client(fake, session=eager)
    assert [client.count("malatefiller[tiab]") for _ in range(5)] == [4] * 5
    statuses = [e.status for e in fake.requests]
    assert statuses.count(200) == 5
    assert statuses.count(429) >= 1
    # After each 429 the client waited at least a second before trying again.
    for before, after in zip(fake.requests, fake.requests[1:], strict=False):
        if before.status == 429:
            assert after.monotonic - before.monotonic >= 0.95


@pytest.mark.slow
def test_search_ids_slices_past_the_9999_ceiling(fake_factory) -> None:
    fake = fake_factory()
    start, end = date(2025, 1, 1), date(2025, 1, 31)
    pmids = fake.add_bulk(12_000, "bulkword", start, end)
    client = make_client(fake, api_key=API_KEY)
    ids = client.search_ids("bulkword[tiab]", mindate=start, maxdate=end)
    assert ids == sorted(pmids, reverse=True)

    searches = [e.params for e in fake.requests if e.endpoint == "esearch"]
    assert all(int(p["retstart"]) <= 9998 for p in searches)
    assert all(p["datetype"] == "crdt" for p in searches)
    ranges = [
        (date(*map(int, p["mindate"].split("/"))), date(*map(int, p["maxdate"].split("/"))))
        for p in searches
    ]
    counts = [e.ids_returned for e in fake.requests if e.endpoint == "esearch"]
    leaves = sorted(r for r, n in zip(ranges, counts, strict=True) if n is not None and n < 9999)
    assert leaves[0][0] == start and leaves[-1][1] == end
    for (_, previous_end), (next_start, _) in zip(leaves, leaves[1:], strict=False):
        assert next_start == previous_end + timedelta(days=1)
    assert_polite(fake, 10)


def test_base_corpus_magnesium_search_fetches_every_hit(fake_ncbi) -> None:
    client = make_client(fake_ncbi)
    term = "magnesium[tiab] AND migraine[tiab]"
    ids = client.search_ids(term)
    assert 0 < len(ids) == client.count(term)
    assert ids == sorted(ids, reverse=True)
    articles = list(client.fetch_articles(ids))
    assert sorted(a.pmid for a in articles) == sorted(ids)
    assert all(a.pmid >= 99_000_000 for a in articles)  # synthetic corpus only
    assert client.missing_pmids == []


def test_aggregator_search_command_end_to_end(fake_factory) -> None:
    from click.testing import CliRunner

    from aggregator.cli import cli

    fake = fake_factory()
    pmids = fake.add_bulk(4, "glycinatefiller", *MARCH)
    args = ["search", "glycinatefiller[tiab]", "--format", "json", "--sort", "date"]
    args += ["--eutils-url", fake.url, "--email", "dev@example.org"]
    result = CliRunner().invoke(cli, args, env={"NCBI_API_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert sorted((row["pmid"], row["title"]) for row in rows) == sorted(
        (p, fake.get_record(p).title_xml) for p in pmids
    )
    assert API_KEY not in result.output
    assert [(e.endpoint, e.method, e.status) for e in fake.requests] == [
        ("esearch", "POST", 200),
        ("efetch", "POST", 200),
    ]
    assert all(e.params.get("api_key") == API_KEY for e in fake.requests)
    assert fake.requests[1].params["id"].split(",") == [str(p) for p in sorted(pmids)[::-1]]
