"""The one HTTP object that talks to NCBI (and other sources), with an explicit politeness and
retry policy.

:class:`PoliteSession` wraps a single :class:`requests.Session` and adds:

* a sliding-window rate limiter over request *start* times (EUTILS-FACTS §2: at most 3
  requests per second without an API key, 10 with one, counted across all E-utilities);
* bounded retries with exponential backoff and full jitter on connection errors, timeouts,
  HTTP 429, 5xx, truncated bodies and on a caller-supplied "retryable body" check;
* an overall deadline per request (default 120 s), on top of the per-read socket timeouts: a
  server that sends a byte every few seconds is cut off when it is up (a retryable timeout);
* a size cap per reply (default 256 MiB), counted after decompression so a gzip bomb is
  stopped too; a reply over it is an error at once, not retried;
* ``tool``, ``email`` and ``api_key`` on every request (EUTILS-FACTS §2), unless the session
  is built with ``ncbi_identity=False`` for a source that is not NCBI (ClinicalTrials.gov);
* redaction of the API key from every log line, exception message and repr;
* no redirects: a 3xx reply is an error naming where it pointed, so neither the parameters nor
  the API key are ever re-sent to another address; and no API key over plain ``http://``
  except to this machine (a local test server).

``sleep``, ``clock`` and the jitter source are injectable so tests run in milliseconds.
"""

from __future__ import annotations

import contextlib
import email.utils
import heapq
import ipaddress
import itertools
import json
import logging
import random
import re
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError
from urllib3.response import HTTPResponse

from aggregator.errors import AggregatorError, ConfigError

logger = logging.getLogger("aggregator.http")

# EUTILS-FACTS §2: 3 requests/s per IP without a key, 10/s with one.
REQUESTS_PER_SECOND_WITHOUT_KEY = 3
REQUESTS_PER_SECOND_WITH_KEY = 10
# Longest one HTTP exchange (connect to last body byte) may take, whatever the server does.
DEFAULT_DEADLINE = 120.0
# Largest reply body (after decompression) accepted. An EFetch of 500 records is a few MB.
DEFAULT_MAX_REPLY_BYTES = 256 * 1024 * 1024
_READ_CHUNK = 64 * 1024

# A body check returns None when the reply is usable, or a short message when it should be retried.
BodyCheck = Callable[[requests.Response], str | None]

_API_KEY_PARAM = re.compile(r"(api_key=)[^&\s'\"]*", re.IGNORECASE)


class HTTPRequestError(AggregatorError):
    """A request to an upstream source failed; ``status`` is the HTTP status (None: no reply)."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class EutilsHTTPError(HTTPRequestError):
    """An E-utilities request failed; ``status`` is the HTTP status (None: no reply)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        ncbi_message: str | None = None,
    ) -> None:
        super().__init__(message, status=status, url=url)
        self.ncbi_message = ncbi_message


class RetriesExhausted(EutilsHTTPError):
    """Every attempt failed with a retryable problem; ``last_cause`` describes the last one."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        ncbi_message: str | None = None,
        attempts: int = 0,
        last_cause: str = "",
    ) -> None:
        super().__init__(message, status=status, url=url, ncbi_message=ncbi_message)
        self.attempts = attempts
        self.last_cause = last_cause


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry. Waits are in seconds."""

    max_attempts: int = 5  # total attempts, including the first
    backoff_base: float = 0.5  # cap of the first retry's wait; doubles on each retry
    backoff_max: float = 30.0
    min_rate_limit_wait: float = 1.0  # 429 without Retry-After: EUTILS-FACTS §2 inference
    max_retry_after: float = 120.0  # never trust a Retry-After beyond this

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff times must not be negative")


class SlidingWindowLimiter:
    """Never lets more than ``limit`` request starts fall inside any ``window``-second span.

    Each start must be at least ``window + margin`` after the start ``limit`` places earlier,
    so the limit holds for every window, not only for aligned ones. The margin absorbs clock
    and network jitter; with margin 0.08 s the client still uses ~92% of the allowed rate.
    """

    def __init__(
        self,
        limit: int,
        *,
        window: float = 1.0,
        margin: float = 0.08,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError("rate limit must be at least 1 request per window")
        self.limit = limit
        self.window = window
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until a request may start; record and return its start time."""
        with self._lock:
            while True:
                now = self._clock()
                if len(self._starts) < self.limit:
                    break
                wait = self._starts[0] + self.window + self.margin - now
                if wait <= 0:
                    break
                self._sleep(wait)
            self._starts.append(now)  # deque(maxlen=limit) drops the oldest start
            return now


class PoliteSession:
    """One ``requests.Session`` with NCBI's rate limit, retries, identity params and redaction.

    ``ncbi_identity=False`` is for a source that is not NCBI: no ``tool``/``email``/``api_key``
    parameters are added (``tool`` still names us in the User-Agent), and an ``api_key`` is
    refused, so NCBI's key can never be sent elsewhere. Pass ``requests_per_second`` then.
    """

    def __init__(
        self,
        *,
        tool: str,
        email: str | None = None,
        api_key: str | None = None,
        requests_per_second: int | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        deadline: float = DEFAULT_DEADLINE,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] | None = None,
        rate_margin: float = 0.08,
        session: requests.Session | None = None,
        ncbi_identity: bool = True,
    ) -> None:
        """``timeout`` is (connect, read) per socket operation; ``deadline`` bounds a whole
        attempt in wall-clock seconds (a session passed in keeps its own transport adapters,
        so there the deadline only reaches the body: see :class:`_Deadline`);
        ``max_reply_bytes`` caps a reply body after decompression; ``ncbi_identity=False`` is
        for a source that is not NCBI: no tool, email or API key is sent."""
        if deadline <= 0:
            raise ValueError("deadline must be positive")
        if max_reply_bytes < 1:
            raise ValueError("max_reply_bytes must be positive")
        if not ncbi_identity and (api_key or email):
            raise ValueError("ncbi_identity=False takes no api_key or email: they are NCBI's only")
        self.ncbi_identity = ncbi_identity
        self.tool = tool
        self.email = email
        self._api_key = api_key or None
        if requests_per_second is None:
            requests_per_second = (
                REQUESTS_PER_SECOND_WITH_KEY if self._api_key else REQUESTS_PER_SECOND_WITHOUT_KEY
            )
        self.timeout = timeout
        self.deadline = deadline
        self.max_reply_bytes = max_reply_bytes
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter if jitter is not None else random.random
        self.limiter = SlidingWindowLimiter(
            requests_per_second, margin=rate_margin, clock=clock, sleep=sleep
        )
        if session is None:
            session = requests.Session()
            adapter = _DeadlineAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self._session = session
        self._session.headers.setdefault("User-Agent", f"{tool} (python-requests)")
        self._stats: Counter[str] = Counter()

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return (
            f"PoliteSession(tool={self.tool!r}, email={self.email!r}, api_key={key}, "
            f"rate={self.limiter.limit}/s, requests_made={self.requests_made})"
        )

    # -- bookkeeping -------------------------------------------------------------------------

    @property
    def stats(self) -> dict[str, int]:
        """HTTP requests actually sent (retries included), per endpoint name ("esearch", ...)."""
        return dict(self._stats)

    @property
    def requests_made(self) -> int:
        return sum(self._stats.values())

    def redact(self, text: str) -> str:
        """Remove the API key (raw and URL-encoded) from any text that may be shown."""
        if self._api_key:
            for form in {self._api_key, quote_plus(self._api_key), quote(self._api_key)}:
                text = text.replace(form, "***")
        return _API_KEY_PARAM.sub(r"\1***", text)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> PoliteSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests ----------------------------------------------------------------------------

    def get(
        self, url: str, params: Mapping[str, Any], *, body_check: BodyCheck | None = None
    ) -> requests.Response:
        return self.request("GET", url, params, body_check=body_check)

    def post(
        self, url: str, params: Mapping[str, Any], *, body_check: BodyCheck | None = None
    ) -> requests.Response:
        return self.request("POST", url, params, body_check=body_check)

    def request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any],
        *,
        body_check: BodyCheck | None = None,
    ) -> requests.Response:
        """Send one logical request, retrying transient failures; return the good response.

        Raises :class:`EutilsHTTPError` at once for 4xx other than 429 (and for unusable URLs),
        :class:`RetriesExhausted` when every attempt hit a retryable problem.
        """
        method = method.upper()
        check_key_transport(url, self._api_key)
        all_params = self._with_identity(params)
        if self._api_key:
            # With a key, every request is a POST with the parameters in the body, so the key is
            # never part of a URL that urllib3 logs or that requests puts in exception text.
            # NCBI accepts POST for every E-utility (EUTILS-FACTS §1).
            method = "POST"
        call = _Call(method, url, all_params, self.redact(_describe_url(url, all_params)))
        attempts = self.retry.max_attempts
        for attempt in range(1, attempts + 1):
            result = self._attempt(call, body_check)
            if result.response is not None:
                return result.response
            if result.error is not None:
                raise result.error
            if attempt < attempts:
                self._wait_before_retry(call, attempt, result)
        raise RetriesExhausted(
            f"{call.endpoint} request to {url.split('?', 1)[0]} failed {attempts} times; "
            f"giving up (last error: {result.cause})",
            status=result.status,
            url=call.shown_url,
            ncbi_message=result.ncbi_message,
            attempts=attempts,
            last_cause=result.cause,
        )

    def _attempt(self, call: _Call, body_check: BodyCheck | None) -> _Attempt:
        """Send the request once: ok (a usable response), retry (why) or fail (the error)."""
        self.limiter.acquire()
        self._stats[call.endpoint] += 1
        try:
            response = self._send(call)
        except _RETRYABLE_EXCEPTIONS as exc:
            host = _unresolved_host(exc)
            if host is not None:
                # A name that does not resolve will not resolve a second later: say it once.
                return _Attempt.fail(
                    EutilsHTTPError(f"host name not found: {host}", url=call.shown_url)
                )
            return _Attempt.retry(self.redact(_describe_exception(exc)))
        except _TooLarge as exc:
            # Asking again would only fetch the same flood: fail at once.
            return _Attempt.fail(
                EutilsHTTPError(f"the reply to {call.shown_url} {exc}; refused", url=call.shown_url)
            )
        except requests.RequestException as exc:
            # Invalid URL, too many redirects, ...: retrying would not help.
            return _Attempt.fail(
                EutilsHTTPError(
                    f"request to {call.shown_url} failed: {self.redact(_describe_exception(exc))}",
                    url=call.shown_url,
                )
            )
        return self._judge(call, response, body_check)

    def _send(self, call: _Call) -> requests.Response:
        """One HTTP exchange, body included, within the deadline."""
        # Never follow a redirect: it would re-send the parameters (the API key among them)
        # wherever the server points. _judge turns a 3xx into an error instead.
        post = call.method == "POST"
        with _Deadline(self.deadline) as deadline:
            try:
                response = self._session.request(
                    call.method,
                    call.url,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                    data=call.params if post else None,
                    params=None if post else call.params,
                )
                deadline.watch_response(response)
                _read_body(response, self.max_reply_bytes)
            except Exception:
                if deadline.expired:
                    raise _DeadlineExceeded(self.deadline) from None
                raise
        if deadline.expired:  # cut off just as the last byte came: do not trust it
            response.close()
            raise _DeadlineExceeded(self.deadline)
        _check_complete(response)
        return response

    def _judge(
        self, call: _Call, response: requests.Response, body_check: BodyCheck | None
    ) -> _Attempt:
        """Classify a reply that arrived whole: by its status, then by its body."""
        status = response.status_code
        if status == 429 or status >= 500:
            ncbi = self.redact(_ncbi_message(response))
            retry_after = (
                _retry_after_seconds(response, self.retry.max_retry_after)
                if status == 429
                else None
            )
            return _Attempt.retry(
                f"HTTP {status}" + (f" ({ncbi})" if ncbi else ""),
                status=status,
                ncbi_message=ncbi,
                retry_after=retry_after,
            )
        if 300 <= status < 400:
            target = self.redact(_redirect_target(call.url, response.headers.get("Location")))
            return _Attempt.fail(
                EutilsHTTPError(
                    f"NCBI answered {call.shown_url} with HTTP {status}, a redirect to {target}; "
                    "redirects are not followed (they would carry the request and any API key "
                    "elsewhere): check the E-utilities URL",
                    status=status,
                    url=call.shown_url,
                )
            )
        if status >= 400:
            ncbi = self.redact(_ncbi_message(response))
            return _Attempt.fail(
                EutilsHTTPError(
                    f"NCBI refused {call.shown_url} with HTTP {status}"
                    + (f": {ncbi}" if ncbi else ""),
                    status=status,
                    url=call.shown_url,
                    ncbi_message=ncbi or None,
                )
            )
        problem = body_check(response) if body_check else None
        if problem is None:
            return _Attempt.ok(response)
        ncbi = self.redact(problem)
        return _Attempt.retry(
            f"HTTP {status} with error body ({ncbi})", status=status, ncbi_message=ncbi
        )

    def _wait_before_retry(self, call: _Call, attempt: int, result: _Attempt) -> None:
        wait = self._backoff(attempt, result.status, result.retry_after)
        # INFO, not WARNING: retries are routine; only giving up is worth the user's eye.
        logger.info(
            "retrying %s %s: attempt %d/%d failed with status %s (%s); waiting %.2f s",
            call.method,
            call.endpoint,
            attempt,
            self.retry.max_attempts,
            result.status if result.status is not None else "none",
            result.cause,
            wait,
        )
        self._sleep(wait)

    def _with_identity(self, params: Mapping[str, Any]) -> dict[str, Any]:
        # EUTILS-FACTS §2: tool and email on every request; api_key when the user has one.
        merged = {k: v for k, v in params.items() if v is not None}
        if not self.ncbi_identity:
            return merged
        merged["tool"] = self.tool
        if self.email:
            merged["email"] = self.email
        if self._api_key:
            merged["api_key"] = self._api_key
        return merged

    def _backoff(self, attempt: int, status: int | None, retry_after: float | None) -> float:
        """Full jitter: uniform in [0, min(max, base * 2**(attempt-1))]; 429 waits >= 1 s."""
        policy = self.retry
        if retry_after is not None:
            return retry_after
        cap = min(policy.backoff_max, policy.backoff_base * (2 ** (attempt - 1)))
        wait = self._jitter() * cap
        if status == 429:
            wait = max(wait, policy.min_rate_limit_wait)
        return wait


@dataclass(frozen=True)
class _Call:
    """One logical request as every attempt sends it."""

    method: str
    url: str
    params: dict[str, Any]
    shown_url: str  # redacted, shortened: for messages

    @property
    def endpoint(self) -> str:
        return _endpoint_name(self.url)


@dataclass(frozen=True)
class _Attempt:
    """How one attempt ended: ``response`` (ok), ``error`` (fail at once) or neither (retry,
    with ``cause`` and what the server said)."""

    response: requests.Response | None = None
    error: EutilsHTTPError | None = None
    cause: str = ""
    status: int | None = None
    ncbi_message: str | None = None
    retry_after: float | None = None

    @classmethod
    def ok(cls, response: requests.Response) -> _Attempt:
        return cls(response=response)

    @classmethod
    def fail(cls, error: EutilsHTTPError) -> _Attempt:
        return cls(error=error)

    @classmethod
    def retry(
        cls,
        cause: str,
        *,
        status: int | None = None,
        ncbi_message: str | None = None,
        retry_after: float | None = None,
    ) -> _Attempt:
        return cls(cause=cause, status=status, ncbi_message=ncbi_message, retry_after=retry_after)


def check_key_transport(url: str, api_key: str | None) -> None:
    """Refuse to send an API key over plain http:// to another machine (ConfigError).

    Loopback addresses stay allowed so a local stand-in for NCBI can be tested with a key.
    """
    parts = urlsplit(url)
    if not api_key or parts.scheme.lower() != "http" or _is_loopback(parts.hostname or ""):
        return
    raise ConfigError(
        f"refusing to send the NCBI API key over plain http:// to {parts.hostname}: anyone on "
        "the way could read it; use an https:// E-utilities URL (plain http is only allowed to "
        "this machine, for a local test server)"
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _redirect_target(url: str, location: str | None) -> str:
    """Host (and port) a redirect points to, without path or query: never the parameters."""
    if not location:
        return "nowhere (no Location header)"
    target = urlsplit(urljoin(url, location))
    host = target.hostname or "?"
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{target.port}" if target.port else host


class _TruncatedBody(Exception):
    """The body is shorter than the Content-Length the server announced."""


class _TooLarge(Exception):
    """The reply body (decompressed) is over the size cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"is larger than the {_size(limit)} limit")


def _size(count: int) -> str:
    return f"{count / 2**20:g} MiB" if count >= 2**20 else f"{count} bytes"


def _read_body(response: requests.Response, limit: int) -> None:
    """Read a streamed body into ``response.content``, refusing more than ``limit`` bytes.

    Bytes are counted as decoded (urllib3 inflates gzip/deflate a chunk at a time and never
    more than asked for), so a small compressed reply that inflates to gigabytes stops at the
    cap with only the cap in memory. On any failure the response (and its connection) is
    closed, so a half-read connection never goes back to the pool.
    """
    try:
        _read_capped(response, limit)
    except BaseException:
        response.close()
        raise


def _read_capped(response: requests.Response, limit: int) -> None:
    declared = response.headers.get("Content-Length", "")
    encoded = bool(response.headers.get("Content-Encoding"))
    if declared.isascii() and declared.isdigit() and not encoded and int(declared) > limit:
        raise _TooLarge(limit)
    if response.raw is None:  # a transport adapter that filled in the body itself
        if len(response.content) > limit:
            raise _TooLarge(limit)
        return
    chunks: list[bytes] = []
    received = 0
    for chunk in response.iter_content(_READ_CHUNK):
        received += len(chunk)
        if received > limit:
            raise _TooLarge(limit)
        chunks.append(chunk)
    response._content = b"".join(chunks)


class _DeadlineExceeded(Exception):
    """The whole exchange took longer than the session's deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete reply within {seconds:g} s (deadline)")


# -- the overall deadline ----------------------------------------------------------------------

_active = threading.local()  # .deadline: the _Deadline of the request this thread is sending


class _Deadline:
    """Cuts one HTTP exchange off after ``seconds`` of wall-clock time.

    Socket timeouts bound each read, not the whole reply: a server sending a byte every few
    seconds never trips them. When time is up the watchdog thread shuts the socket down, which
    ends any read blocked on it at once; :meth:`PoliteSession._send` then reports a timeout.

    The socket is known from the moment the request is sent when the session uses
    :class:`_DeadlineAdapter` (every session PoliteSession makes itself), so a server that
    drips its status line and headers is cut off too. With a session passed in, the deadline
    reaches the body only (through the response's own shutdown).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._finished = False
        self._cut_offs: list[Callable[[], None]] = []

    def __enter__(self) -> _Deadline:
        _active.deadline = self
        _WATCHDOG.watch(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _active.deadline = None
        with self._lock:
            self._finished = True
            self._cut_offs.clear()  # the watchdog may hold on to us until our time is up

    def watch_socket(self, sock: socket.socket) -> None:
        # socket.socket's own shutdown, also for an SSLSocket: it wakes a blocked TLS read.
        self._watch(lambda: socket.socket.shutdown(sock, socket.SHUT_RDWR))

    def watch_response(self, response: requests.Response) -> None:
        raw = response.raw
        if isinstance(raw, HTTPResponse):
            self._watch(raw.shutdown)

    def _watch(self, cut_off: Callable[[], None]) -> None:
        with self._lock:
            if not self.expired:
                self._cut_offs.append(cut_off)
                return
        _quietly(cut_off)

    def expire(self) -> None:
        """Time is up: cut off the exchange, unless it has finished already."""
        with self._lock:
            if self._finished:
                return
            self.expired = True
            cut_offs = list(self._cut_offs)
        for cut_off in cut_offs:
            _quietly(cut_off)


class _Watchdog:
    """One daemon thread (started on first use) that expires deadlines, earliest first.

    Shared by every request of the process: starting a timer thread per request would put a
    variable delay between the rate limiter's start time and the actual send.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, _Deadline]] = []  # a heap
        self._order = itertools.count()  # ties never compare two _Deadlines
        self._thread: threading.Thread | None = None

    def watch(self, deadline: _Deadline) -> None:
        with self._wake:
            due = time.monotonic() + deadline.seconds
            heapq.heappush(self._due, (due, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="aggregator-http-deadlines", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    self._wake.wait(self._due[0][0] - time.monotonic() if self._due else None)
                _, _, deadline = heapq.heappop(self._due)
            deadline.expire()


_WATCHDOG = _Watchdog()


def _quietly(action: Callable[[], None]) -> None:
    # OSError, ValueError, RuntimeError: already closed or released, nothing left to cut off.
    with contextlib.suppress(OSError, ValueError, RuntimeError):
        action()


def _watch_connection(connection: HTTPConnection) -> None:
    """Hand the socket of a request about to wait for its reply to this thread's deadline."""
    deadline = getattr(_active, "deadline", None)
    if deadline is not None and connection.sock is not None:
        deadline.watch_socket(connection.sock)


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override] # as urllib3's own
        _watch_connection(self)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override] # as urllib3's own
        _watch_connection(self)
        return super().getresponse()


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    """requests' standard transport, with connections whose sockets the deadline can reach."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


# Worth another attempt: the connection failed, the reply was late, cut short or garbled.
_RETRYABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    _TruncatedBody,
    _DeadlineExceeded,
)


def _check_complete(response: requests.Response) -> None:
    # urllib3 normally raises on a short body; this catches servers and adapters that do not.
    declared = response.headers.get("Content-Length")
    if declared is None or response.headers.get("Content-Encoding"):
        return
    try:
        expected = int(declared)
    except ValueError:
        return
    received = len(response.content)
    if received != expected:
        raise _TruncatedBody(f"body has {received} of {expected} announced bytes")


def _retry_after_seconds(response: requests.Response, ceiling: float) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), ceiling)


def _ncbi_message(response: requests.Response) -> str:
    """The error text NCBI put in the body (JSON "error", XML <ERROR>), else a short excerpt."""
    text = response.text[:2000] if response.content else ""
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            payload = json.loads(stripped)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("error"):
            return _one_line(str(payload["error"]))
    found = re.findall(r"<ERROR>(.*?)</ERROR>", text, flags=re.DOTALL)
    messages = [m.strip() for m in found if m.strip()]
    if messages:
        return _one_line("; ".join(messages))
    if "<" in stripped:  # an HTML error page: not worth repeating
        return ""
    return _one_line(stripped[:200])


def _one_line(text: str) -> str:
    return " ".join(text.split())


# Plain words for the connection failures users actually meet (urllib3's text is very long).
_CONNECTION_REASONS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "host name not found"),
    ("Temporary failure in name resolution", "host name not found"),
    ("Failed to resolve", "host name not found"),
    ("Network is unreachable", "network unreachable"),
    ("No route to host", "no route to host"),
    ("Connection reset", "connection reset by the server"),
    ("RemoteDisconnected", "server closed the connection without a reply"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
)


def _describe_exception(exc: BaseException) -> str:
    name = type(exc).__name__
    detail = _one_line(str(exc))
    if isinstance(exc, _DeadlineExceeded):
        return detail
    if isinstance(exc, requests.Timeout):
        return "no reply in time (timeout)"
    for marker, reason in _CONNECTION_REASONS:
        if marker in detail:
            return reason
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return f"{name}: {detail}" if detail else name


def _unresolved_host(exc: BaseException) -> str | None:
    """The host name whose lookup failed, when ``exc`` (or what caused it) is a failed name
    resolution; None for any other error."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, NameResolutionError):
            return str(current._host)
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
        reason = getattr(current, "reason", None)
        causes = (reason, current.__cause__, current.__context__)
        pending += [cause for cause in causes if isinstance(cause, BaseException)]
    return None


def _describe_url(url: str, params: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in params.items() if k not in {"id", "api_key"}}
    if "id" in params:
        ids = str(params["id"]).split(",")
        shown["id"] = f"<{len(ids)} ids>" if len(ids) > 3 else params["id"]
    query = "&".join(f"{k}={v}" for k, v in shown.items())
    short_query = query if len(query) <= 300 else query[:300] + "..."
    return f"{url}?{short_query}" if short_query else url


def _endpoint_name(url: str) -> str:
    """'https://.../esearch.fcgi?x' -> 'esearch'."""
    last = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return last.split(".", 1)[0] or "unknown"
