"""PoliteSession policy: throttling, retries, identity parameters, API key redaction.

A tiny HTTP server on 127.0.0.1 (port 0) plays NCBI; clock and sleep are fakes, so the retry
waits cost nothing. Only the read-timeout test waits for real (a 0.1 s socket timeout).
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from aggregator.errors import AggregatorError
from aggregator.http import (
    EutilsHTTPError,
    PoliteSession,
    RetriesExhausted,
    RetryPolicy,
    SlidingWindowLimiter,
)

SECRET_KEY = "k3y-SECRET-0123456789abcdef"


# --------------------------------------------------------------------------------------------
# Test doubles: fake clock, scripted local server
# --------------------------------------------------------------------------------------------


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


@dataclass
class Reply:
    """What the server does with one request."""

    status: int = 200
    body: bytes = b"<ok/>"
    headers: dict[str, str] = field(default_factory=dict)
    # "normal", "reset" (close without answering), "slow" (sleep then answer),
    # "short" (Content-Length larger than the body), "chunked_short" (chunk cut off),
    # "drip" (headers at once, then the body one byte every ``delay`` seconds)
    mode: str = "normal"
    delay: float = 0.0


@dataclass
class SeenRequest:
    method: str
    path: str
    params: dict[str, str]
    wall_time: float


class LocalServer:
    """HTTP server on 127.0.0.1 answering each request with ``responder(request)``."""

    def __init__(self, responder: Callable[[SeenRequest], Reply]) -> None:
        self.responder = responder
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:
                self._handle(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._handle(self.rfile.read(length))

            def _handle(self, body: bytes) -> None:
                split = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(split.query).items()}
                params.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
                seen = SeenRequest(self.command, split.path, params, time.monotonic())
                with server._lock:
                    server.requests.append(seen)
                reply = server.responder(seen)
                with contextlib.suppress(OSError):  # the client gave up (timeout test)
                    self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.mode == "reset":
                    self.close_connection = True
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    self.connection.close()
                    return
                if reply.mode == "slow":
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.mode == "chunked_short":
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    self.wfile.write(b"%x\r\n" % (len(reply.body) * 2) + reply.body)
                    self.wfile.flush()
                    self.close_connection = True
                    return
                announced = len(reply.body) * (2 if reply.mode == "short" else 1)
                self.send_header("Content-Length", str(announced))
                if reply.mode in ("short", "drip"):
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if reply.mode == "drip":
                    for byte in reply.body:
                        self.wfile.write(bytes((byte,)))
                        self.wfile.flush()
                        time.sleep(reply.delay)
                    return
                self.wfile.write(reply.body)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def scripted(*replies: Reply) -> Callable[[SeenRequest], Reply]:
    """Answer with the given replies in order, then with a plain 200 forever."""
    queue = list(replies)

    def responder(_: SeenRequest) -> Reply:
        return queue.pop(0) if queue else Reply()

    return responder


@pytest.fixture
def server_factory() -> Iterator[Callable[[Callable[[SeenRequest], Reply]], LocalServer]]:
    servers: list[LocalServer] = []

    def make(responder: Callable[[SeenRequest], Reply]) -> LocalServer:
        servers.append(LocalServer(responder))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def make_session(
    clock: FakeClock,
    *,
    api_key: str | None = None,
    rate: int | None = 100,
    attempts: int = 4,
    jitter: Callable[[], float] = lambda: 1.0,
    timeout: tuple[float, float] = (2.0, 5.0),
    deadline: float = 120.0,
    session: requests.Session | None = None,
) -> PoliteSession:
    """A session whose waits go to the fake clock. rate=100 keeps the limiter out of the way."""
    return PoliteSession(
        tool="aggregator-tests",
        email="dev@example.org",
        api_key=api_key,
        requests_per_second=rate,
        timeout=timeout,
        deadline=deadline,
        retry=RetryPolicy(max_attempts=attempts, backoff_base=0.5, backoff_max=3.0),
        sleep=clock.sleep,
        clock=clock,
        jitter=jitter,
        session=session,
    )


# --------------------------------------------------------------------------------------------
# Retries
# --------------------------------------------------------------------------------------------

GOOD = Reply(body=b"<eSearchResult><Count>1</Count></eSearchResult>")


@pytest.mark.parametrize(
    "failure",
    [
        Reply(mode="reset"),
        Reply(status=500, body=b"Internal Server Error"),
        Reply(status=502, body=b"Bad Gateway"),
        Reply(status=503, body=b"Service Unavailable"),
        Reply(body=b"<eSearchResult><Count>1</Count>", mode="short"),
        Reply(body=b"<eSearchResult><Count>1</Count>", mode="chunked_short"),
    ],
    ids=["reset", "500", "502", "503", "content-length-short", "chunked-short"],
)
def test_transient_failure_is_retried_then_succeeds(server_factory, failure: Reply) -> None:
    server = server_factory(scripted(failure, GOOD))
    clock = FakeClock()
    with make_session(clock) as session:
        response = session.get(server.url + "esearch.fcgi", {"db": "pubmed"})
    assert response.content == GOOD.body
    assert [r.path for r in server.requests] == ["/esearch.fcgi", "/esearch.fcgi"]
    assert clock.sleeps == [0.5]  # one backoff wait: jitter 1.0 * base 0.5
    assert session.stats == {"esearch": 2}


def test_read_timeout_is_retried(server_factory) -> None:
    server = server_factory(scripted(Reply(mode="slow", delay=0.6), GOOD))
    clock = FakeClock()
    with make_session(clock, timeout=(1.0, 0.1)) as session:
        response = session.get(server.url + "efetch.fcgi", {"db": "pubmed"})
    assert response.content == GOOD.body
    assert len(server.requests) == 2
    assert clock.sleeps == [0.5]


def test_item06_deadline_cuts_off_a_dripping_body_even_with_a_session_passed_in(
    server_factory,
) -> None:
    # Issue 17 item 6. A session passed in keeps its own transport adapters, so the deadline
    # cannot reach the socket while the headers arrive, but it does reach the body.
    body = b"<eSearchResult>" + b" " * 100 + b"</eSearchResult>"
    server = server_factory(scripted(Reply(body=body, mode="drip", delay=0.05)))
    session = make_session(FakeClock(), attempts=1, deadline=0.5, session=requests.Session())
    started = time.monotonic()
    with pytest.raises(RetriesExhausted) as caught:
        session.get(server.url + "esearch.fcgi", {})
    assert caught.value.last_cause == "no complete reply within 0.5 s (deadline)"
    assert time.monotonic() - started < 2.0  # the whole body would take 6.5 s


def test_429_honours_retry_after(server_factory) -> None:
    limited = Reply(
        status=429,
        body=b'{"error":"API rate limit exceeded","count":"11"}',
        headers={"Retry-After": "7"},
    )
    server = server_factory(scripted(limited, GOOD))
    clock = FakeClock()
    with make_session(clock) as session:
        response = session.get(server.url + "esearch.fcgi", {})
    assert response.status_code == 200
    assert clock.sleeps == [7.0]
    assert len(server.requests) == 2


def test_429_without_retry_after_waits_at_least_one_second(server_factory) -> None:
    limited = Reply(status=429, body=b'{"error":"API rate limit exceeded","count":"4"}')
    server = server_factory(scripted(limited, limited, GOOD))
    clock = FakeClock()
    # jitter 0.0 would make an ordinary backoff wait zero; a 429 still waits a full second
    with make_session(clock, jitter=lambda: 0.0) as session:
        session.get(server.url + "esearch.fcgi", {})
    assert clock.sleeps == [1.0, 1.0]
    assert len(server.requests) == 3


def test_200_with_error_body_is_retried_through_body_check(server_factory) -> None:
    backend_failed = Reply(
        body=b"<eSearchResult><ERROR>Search Backend failed</ERROR></eSearchResult>"
    )
    server = server_factory(scripted(backend_failed, GOOD))
    clock = FakeClock()

    def body_check(response: requests.Response) -> str | None:
        return "Search Backend failed" if b"<ERROR>" in response.content else None

    with make_session(clock) as session:
        response = session.get(server.url + "esearch.fcgi", {}, body_check=body_check)
    assert response.content == GOOD.body
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_fail_at_once(server_factory, status: int) -> None:
    server = server_factory(scripted(Reply(status=status, body=b"<ERROR>Invalid db name</ERROR>")))
    clock = FakeClock()
    with make_session(clock) as session, pytest.raises(EutilsHTTPError) as caught:
        session.get(server.url + "esearch.fcgi", {"db": "nothing"})
    error = caught.value
    assert type(error) is EutilsHTTPError
    assert isinstance(error, AggregatorError)
    assert (error.status, error.ncbi_message) == (status, "Invalid db name")
    assert (
        error.url
        == server.url + "esearch.fcgi?db=nothing&tool=aggregator-tests&email=dev@example.org"
    )
    assert str(error) == f"NCBI refused {error.url} with HTTP {status}: Invalid db name"
    assert len(server.requests) == 1
    assert clock.sleeps == []


def test_retries_are_bounded_and_keep_the_last_status(server_factory) -> None:
    server = server_factory(lambda _: Reply(status=503, body=b"busy"))
    clock = FakeClock()
    with make_session(clock, attempts=4) as session, pytest.raises(RetriesExhausted) as caught:
        session.get(server.url + "esearch.fcgi", {"term": "x"})
    error = caught.value
    assert (error.status, error.attempts, error.last_cause) == (503, 4, "HTTP 503 (busy)")
    assert str(error) == (
        f"esearch request to {server.url}esearch.fcgi failed 4 times; "
        "giving up (last error: HTTP 503 (busy))"
    )
    assert len(server.requests) == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_retries_exhausted_on_connection_errors_has_no_status(server_factory) -> None:
    server = server_factory(lambda _: Reply(mode="reset"))
    clock = FakeClock()
    with make_session(clock, attempts=2) as session, pytest.raises(RetriesExhausted) as caught:
        session.get(server.url + "esearch.fcgi", {})
    assert caught.value.status is None
    assert caught.value.last_cause == "connection reset by the server"
    assert caught.value.__cause__ is None  # raw requests errors may carry URLs: not chained
    assert len(server.requests) == 2


def test_backoff_grows_exponentially_up_to_the_cap(server_factory) -> None:
    server = server_factory(lambda _: Reply(status=500))
    clock = FakeClock()
    with make_session(clock, attempts=6) as session, pytest.raises(RetriesExhausted):
        session.get(server.url + "esearch.fcgi", {})
    assert clock.sleeps == [0.5, 1.0, 2.0, 3.0, 3.0]  # base 0.5 doubling, capped at 3.0


def test_backoff_has_full_jitter(server_factory) -> None:
    server = server_factory(lambda _: Reply(status=500))
    fractions = iter([0.25, 0.5, 0.1, 0.9])
    clock = FakeClock()
    session = make_session(clock, attempts=5, jitter=lambda: next(fractions))
    with session, pytest.raises(RetriesExhausted):
        session.get(server.url + "esearch.fcgi", {})
    assert clock.sleeps == pytest.approx([0.125, 0.5, 0.2, 2.7])


def test_backoff_with_a_real_random_source_varies_within_bounds(server_factory) -> None:
    server = server_factory(lambda _: Reply(status=502))
    caps = [0.5, 1.0, 2.0, 3.0, 3.0, 3.0, 3.0]
    clock = FakeClock()
    rng = random.Random(1234)
    session = make_session(clock, attempts=8, jitter=rng.random)
    with session, pytest.raises(RetriesExhausted):
        session.get(server.url + "esearch.fcgi", {})
    assert len(clock.sleeps) == 7
    assert all(0 <= wait <= cap for wait, cap in zip(clock.sleeps, caps, strict=True))
    assert len(set(clock.sleeps)) == 7  # jittered: no two waits alike
    assert clock.sleeps != caps


def test_one_log_line_per_retry(server_factory, caplog) -> None:
    server = server_factory(scripted(Reply(status=503), Reply(status=429), GOOD))
    clock = FakeClock()
    caplog.set_level(logging.DEBUG, logger="aggregator.http")
    with make_session(clock) as session:
        session.get(server.url + "esearch.fcgi", {})
    lines = [r.getMessage() for r in caplog.records if r.name == "aggregator.http"]
    assert lines == [
        "retrying GET esearch: attempt 1/4 failed with status 503 (HTTP 503); waiting 0.50 s",
        "retrying GET esearch: attempt 2/4 failed with status 429 (HTTP 429); waiting 1.00 s",
    ]


# --------------------------------------------------------------------------------------------
# Identity parameters and API key secrecy
# --------------------------------------------------------------------------------------------


def test_tool_and_email_on_every_request_without_key(server_factory) -> None:
    server = server_factory(scripted(Reply(status=500), GOOD, GOOD))
    clock = FakeClock()
    with make_session(clock) as session:
        session.get(server.url + "esearch.fcgi", {"db": "pubmed", "term": "magnesium"})
        session.post(server.url + "efetch.fcgi", {"db": "pubmed", "id": "99000001"})
    assert [(r.method, r.path, r.params) for r in server.requests] == [
        (
            "GET",
            "/esearch.fcgi",
            {
                "db": "pubmed",
                "term": "magnesium",
                "tool": "aggregator-tests",
                "email": "dev@example.org",
            },
        ),
        (
            "GET",
            "/esearch.fcgi",
            {
                "db": "pubmed",
                "term": "magnesium",
                "tool": "aggregator-tests",
                "email": "dev@example.org",
            },
        ),
        (
            "POST",
            "/efetch.fcgi",
            {
                "db": "pubmed",
                "id": "99000001",
                "tool": "aggregator-tests",
                "email": "dev@example.org",
            },
        ),
    ]


def test_api_key_on_every_request_and_never_in_a_url(server_factory) -> None:
    server = server_factory(scripted(Reply(status=502), GOOD))
    clock = FakeClock()
    with make_session(clock, api_key=SECRET_KEY) as session:
        session.get(server.url + "esearch.fcgi", {"db": "pubmed", "term": "magnesium"})
    expected = {
        "db": "pubmed",
        "term": "magnesium",
        "tool": "aggregator-tests",
        "email": "dev@example.org",
        "api_key": SECRET_KEY,
    }
    # With a key everything goes by POST, so the key is in the body, never in the request line.
    assert [(r.method, r.path, r.params) for r in server.requests] == [
        ("POST", "/esearch.fcgi", expected),
        ("POST", "/esearch.fcgi", expected),
    ]


def _echo_key_error(status: int) -> Callable[[SeenRequest], Reply]:
    """Like NCBI's 429 body, the error text repeats the caller's key."""

    def responder(request: SeenRequest) -> Reply:
        key = request.params.get("api_key", "")
        body = f'{{"error":"API rate limit exceeded for {key}","api-key":"{key}"}}'
        return Reply(status=status, body=body.encode())

    return responder


@pytest.mark.parametrize("status", [400, 429, 503])
def test_api_key_absent_from_errors_reprs_and_logs(server_factory, caplog, status: int) -> None:
    server = server_factory(_echo_key_error(status))
    clock = FakeClock()
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's request lines included
    session = make_session(clock, api_key=SECRET_KEY, attempts=3)
    with pytest.raises(EutilsHTTPError) as caught:
        session.get(server.url + "esearch.fcgi", {"term": "magnesium"})
    error = caught.value
    assert all(r.params["api_key"] == SECRET_KEY for r in server.requests)  # it was sent
    assert error.status == status
    assert error.ncbi_message == "API rate limit exceeded for ***"
    texts = [str(error), repr(error), str(error.url), str(error.ncbi_message), repr(session)]
    texts += [getattr(error, "last_cause", "")]
    texts += [record.getMessage() for record in caplog.records]
    texts += [caplog.text]
    assert not [text for text in texts if SECRET_KEY in text]
    assert "***" in str(error)


def test_api_key_redacted_from_connection_error_text(server_factory, caplog) -> None:
    # A URL-ish key leaking via a transport error message must be redacted too.
    class ExplodingAdapter(HTTPAdapter):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
            raise requests.ConnectionError(f"failed for {request.url} body={request.body}")

    raw = requests.Session()
    raw.mount("http://", ExplodingAdapter())
    clock = FakeClock()
    caplog.set_level(logging.DEBUG)
    session = make_session(clock, api_key=SECRET_KEY, attempts=2, session=raw)
    with pytest.raises(RetriesExhausted) as caught:
        session.get("http://127.0.0.1:9/esearch.fcgi", {"term": "x"})
    assert SECRET_KEY not in str(caught.value)
    assert SECRET_KEY not in caught.value.last_cause
    assert "api_key=***" in caught.value.last_cause
    assert SECRET_KEY not in caplog.text


def test_repr_never_shows_the_key() -> None:
    session = PoliteSession(tool="t", email="e@example.org", api_key=SECRET_KEY)
    assert repr(session) == (
        "PoliteSession(tool='t', email='e@example.org', api_key=set, rate=10/s, requests_made=0)"
    )
    session.close()


# --------------------------------------------------------------------------------------------
# Throttle
# --------------------------------------------------------------------------------------------


def max_in_any_window(starts: list[float], window: float = 1.0) -> int:
    """Largest number of start times inside any half-open window [t, t + window)."""
    ordered = sorted(starts)
    best = 0
    for i, first in enumerate(ordered):
        best = max(best, sum(1 for t in ordered[i:] if t < first + window))
    return best


def test_max_in_any_window_helper_can_detect_a_violation() -> None:
    assert max_in_any_window([0.0, 0.2, 0.4, 0.99]) == 4
    assert max_in_any_window([0.0, 0.2, 0.4, 1.0]) == 3


@pytest.mark.parametrize("limit", [3, 10])
def test_limiter_never_exceeds_the_limit_in_any_window(limit: int) -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit, clock=clock, sleep=clock.sleep)
    rng = random.Random(limit)
    starts = []
    for _ in range(300):
        starts.append(limiter.acquire())
        clock.now += rng.choice([0.0, 0.0, 0.01, 0.05, 0.2, 0.7])  # the request's own work
    assert max_in_any_window(starts) == limit


@pytest.mark.parametrize("limit", [3, 10])
def test_limiter_uses_at_least_90_percent_of_the_allowed_rate(limit: int) -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(limit, clock=clock, sleep=clock.sleep)
    starts = [limiter.acquire() for _ in range(limit * 30)]
    elapsed = starts[-1] - starts[0] + 1.0  # the last request still owns its second
    rate = len(starts) / elapsed
    assert limit * 0.9 <= rate <= limit


class RecordingAdapter(HTTPAdapter):
    """Transport that answers 200 at once and notes the fake time of each request."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.sent_at: list[float] = []

    def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
        self.sent_at.append(self.clock.now)
        response = requests.Response()
        response.status_code = 200
        response._content = b"<ok/>"
        response.url = request.url
        response.request = request
        return response


@pytest.mark.parametrize(("api_key", "limit"), [(None, 3), (SECRET_KEY, 10)])
def test_session_throttles_to_3_or_10_per_second(api_key: str | None, limit: int) -> None:
    clock = FakeClock()
    adapter = RecordingAdapter(clock)
    raw = requests.Session()
    raw.mount("https://", adapter)  # with a key, plain http is refused
    session = make_session(clock, api_key=api_key, rate=None, session=raw)
    for i in range(120):
        session.get(
            "https://ncbi.test/esearch.fcgi" if i % 2 else "https://ncbi.test/efetch.fcgi", {}
        )
    assert session.limiter.limit == limit
    assert max_in_any_window(adapter.sent_at) == limit
    assert 120 / (adapter.sent_at[-1] - adapter.sent_at[0] + 1.0) >= 0.9 * limit
    assert session.stats == {"efetch": 60, "esearch": 60}
    assert session.requests_made == 120


def test_retries_count_against_the_rate_limit() -> None:
    clock = FakeClock()

    class FlakyAdapter(RecordingAdapter):
        def send(self, request, **kwargs):  # type: ignore[no-untyped-def,override]
            response = super().send(request, **kwargs)
            response.status_code = 503 if len(self.sent_at) % 2 else 200
            return response

    adapter = FlakyAdapter(clock)
    raw = requests.Session()
    raw.mount("http://", adapter)
    session = make_session(clock, rate=None, jitter=lambda: 0.0, session=raw)
    for _ in range(20):
        session.get("http://ncbi.test/esearch.fcgi", {})
    assert len(adapter.sent_at) == 40
    assert max_in_any_window(adapter.sent_at) == 3
