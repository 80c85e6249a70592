"""An in-process stand-in for the ClinicalTrials.gov API v2 over real HTTP on 127.0.0.1.

Endpoints (base URL :attr:`FakeRegistry.url`, ending in ``/api/v2/``):

* ``GET studies``: ``query.cond``, ``query.intr``, ``query.term``, ``filter.overallStatus``,
  ``filter.ids``, ``filter.advanced`` (date ``RANGE`` only), ``fields``, ``sort``,
  ``pageSize`` (default 10, 0..1000), ``pageToken``, ``countTotal``, ``format=json``,
  ``markupFormat`` (accepted, ignored). What each understands: :mod:`.search`.
* ``GET studies/{nctId}`` (accepts ``fields``, ``format``): one study; 404 when unknown,
  400 when the id is not ``NCT`` + 8 digits.
* ``GET version``: ``{"apiVersion", "dataTimestamp"}``.

Shapes and traps of the real API that the fake keeps: replies are
``{"studies": [...], "totalCount"?: n, "nextPageToken"?: "..."}``; ``totalCount`` only on the
first page and only with ``countTotal=true``; page tokens are opaque, and a request with a
``pageToken`` must repeat the first page's parameters except ``pageSize``, ``countTotal`` and
``pageToken`` (else 400); the last page has no ``nextPageToken``; an unknown parameter such as
``filter.phase`` is a 400 (``"filter.phase is unknown parameter"``). Real parameters the fake
does not implement (``query.spons``, ``format=csv``, ...) are a 400 that says so. Error
bodies are one line of plain text.

Time: ``today`` (default the real date) decides which timeline versions have appeared;
:meth:`FakeRegistry.set_today` moves it forward. Faults (on demand with :meth:`inject`, or at
a rate with :meth:`set_fault_rate`): ``429`` (with ``Retry-After``), ``500``/``502``/``503``,
``reset`` (connection closed without a reply), ``slow``, ``truncate`` (full Content-Length,
half the body), ``repeat_token`` (the reply's ``nextPageToken`` is the one the request sent)
and ``empty_page`` (no studies, but a ``nextPageToken``). Every request is in
:attr:`FakeRegistry.requests`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import secrets
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from aggregator.ctgov.fake.corpus import RegistryEvent, load_base_studies, load_timeline
from aggregator.ctgov.fake.search import (
    RequestError,
    parse_fields,
    parse_query,
    project,
    sort_studies,
)
from aggregator.ctgov.studies import NCT_ID_RE, parse_study
from aggregator.errors import AggregatorError

BASE_PATH = "/api/v2/"
API_VERSION = "2.0.5-fake"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
FAULT_KINDS = (
    "429",
    "500",
    "502",
    "503",
    "reset",
    "slow",
    "truncate",
    "repeat_token",
    "empty_page",
)
RATE_FAULT_KINDS = ("429", "500", "502", "503", "reset", "truncate")
ENDPOINTS = ("studies", "study", "version")
HTTP_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
# Parameters the fake implements on /studies, and those that may change between pages.
STUDIES_PARAMS = frozenset(
    {
        "query.cond",
        "query.intr",
        "query.term",
        "filter.overallStatus",
        "filter.ids",
        "filter.advanced",
        "fields",
        "sort",
        "pageSize",
        "pageToken",
        "countTotal",
        "format",
        "markupFormat",
    }
)
PAGE_VARYING = frozenset({"pageSize", "pageToken", "countTotal"})
# Real parameters the fake knows of but does not implement (a 400 saying so).
UNSUPPORTED_REAL_PARAMS = frozenset(
    {
        "query.titles",
        "query.outc",
        "query.spons",
        "query.lead",
        "query.id",
        "query.patient",
        "query.locn",
        "filter.geo",
        "filter.synonyms",
        "aggFilters",
        "geoDecay",
    }
)


class FakeRegistryError(AggregatorError):
    """The fake server was used wrongly (unknown fault kind, unknown study, ...)."""


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """One request as the server saw it."""

    monotonic: float  # the server's clock: time.monotonic, or the injected ``clock``
    wall: dt.datetime
    endpoint: str  # "studies", "study", "version" or the unknown path
    method: str
    params: dict[str, str]
    status: int  # 0 when the connection was reset without a reply
    studies_returned: int | None
    fault: str | None


@dataclass
class _Fault:
    kind: str
    endpoint: str | None
    remaining: int
    delay: float
    retry_after: int
    skip: int = 0


@dataclass
class _Reply:
    status: int
    content_type: str
    body: bytes
    studies: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _text(status: int, message: str) -> _Reply:
    return _Reply(status, "text/plain; charset=utf-8", (message + "\n").encode("utf-8"))


def _json(payload: object, studies: int | None = None) -> _Reply:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _Reply(200, "application/json", body, studies)


@dataclass
class _Cursor:
    signature: tuple[tuple[str, str], ...]
    offset: int


class FakeRegistry:
    """ClinicalTrials.gov API v2 stand-in on 127.0.0.1 (random port); use as a context manager.

    ``studies`` defaults to the shipped base corpus (plus its timeline unless
    ``timeline=False``); given studies come without a timeline unless ``timeline=True``.
    ``rate_limit`` (requests per second per client, None: off) answers 429 with
    ``Retry-After: 1`` beyond it. ``clock`` (default ``time.monotonic``) drives that limiter
    and stamps the request log, so a test can share one fake clock with the client.
    """

    def __init__(
        self,
        studies: Iterable[dict[str, Any]] | None = None,
        *,
        today: dt.date | None = None,
        timeline: bool | None = None,
        rate_limit: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.RLock()
        self._studies: dict[str, dict[str, Any]] = {}
        self._today = today or dt.date.today()
        self.rate_limit = rate_limit
        self.latency = 0.0
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}
        self._cursors: dict[str, _Cursor] = {}
        self._faults: list[_Fault] = []
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_delay = 2.0
        self._rng = random.Random(0)
        self.requests: list[RequestLogEntry] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        if studies is None:
            studies = load_base_studies()
            use_timeline = True if timeline is None else timeline
        else:
            use_timeline = bool(timeline)
        for study in studies:
            self.add_study(study)
        self._pending: list[RegistryEvent] = load_timeline() if use_timeline else []
        self.applied_events: list[RegistryEvent] = []
        self.apply_timeline_until(self._today)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeRegistry:
        """Start serving on 127.0.0.1 and a free port."""
        if self._server is not None:
            return self
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-ctgov",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow replies still waiting are woken up."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeRegistry:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL ending in '/api/v2/', to use as CTGOV_API_URL."""
        if self._server is None:
            raise FakeRegistryError("FakeRegistry is not started; call start() or use 'with'")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{BASE_PATH}"

    # -- studies and time --------------------------------------------------------------------

    @property
    def today(self) -> dt.date:
        return self._today

    def set_today(self, today: dt.date) -> list[RegistryEvent]:
        """Move the server's date (applies timeline versions dated up to it); returns them."""
        self._today = today
        return self.apply_timeline_until(today)

    def apply_timeline_until(self, day: dt.date) -> list[RegistryEvent]:
        with self._lock:
            due = [event for event in self._pending if event.date <= day]
            self._pending = [event for event in self._pending if event.date > day]
            for event in due:
                self.add_study(event.study)
            self.applied_events.extend(due)
            return due

    @property
    def pending_events(self) -> list[RegistryEvent]:
        return list(self._pending)

    def add_study(self, study: dict[str, Any]) -> str:
        """Add or replace a study (checked by the real parser); returns its NCT id."""
        cleaned = {key: value for key, value in study.items() if not key.startswith("_")}
        nct_id = parse_study(cleaned, source="add_study").nct_id
        with self._lock:
            self._studies[nct_id] = copy.deepcopy(cleaned)
        return nct_id

    def remove_study(self, nct_id: str) -> None:
        with self._lock:
            if self._studies.pop(nct_id, None) is None:
                raise FakeRegistryError(f"remove_study: {nct_id} is not in the fake registry")

    def get_study(self, nct_id: str) -> dict[str, Any]:
        with self._lock:
            study = self._studies.get(nct_id)
            if study is None:
                raise FakeRegistryError(f"{nct_id} is not in the fake registry")
            return copy.deepcopy(study)

    @property
    def nct_ids(self) -> list[str]:
        with self._lock:
            return sorted(self._studies)

    # -- log and faults ----------------------------------------------------------------------

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def inject(
        self,
        kind: str,
        *,
        endpoint: str | None = None,
        times: int = 1,
        after: int = 0,
        delay: float = 2.0,
        retry_after: int = 1,
    ) -> None:
        """Make the next ``times`` matching requests fail in the given way, after letting
        ``after`` matching requests through. ``endpoint``: "studies", "study" or None (any).
        ``retry_after`` is the 429's Retry-After (seconds); ``delay`` the "slow" wait."""
        if kind not in FAULT_KINDS:
            raise FakeRegistryError(f"unknown fault kind {kind!r}; valid: {', '.join(FAULT_KINDS)}")
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise FakeRegistryError(f"unknown endpoint {endpoint!r}; valid: {', '.join(ENDPOINTS)}")
        with self._lock:
            self._faults.append(_Fault(kind, endpoint, times, delay, retry_after, after))

    def set_fault_rate(
        self, rate: float, kinds: Iterable[str] | None = None, seed: int = 0, *, delay: float = 2.0
    ) -> None:
        """Fail a random share ``rate`` (0..1) of requests with one of ``kinds`` (default:
        429, 500, 502, 503, reset, truncate)."""
        chosen = tuple(kinds) if kinds is not None else RATE_FAULT_KINDS
        unknown = [kind for kind in chosen if kind not in FAULT_KINDS]
        if unknown or not 0.0 <= rate <= 1.0:
            raise FakeRegistryError(
                f"set_fault_rate: rate must be 0..1 and kinds from {', '.join(FAULT_KINDS)}"
            )
        with self._lock:
            self._fault_rate = rate
            self._fault_kinds = chosen
            self._fault_delay = delay
            self._rng = random.Random(seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._fault_rate = 0.0

    def _take_fault(self, endpoint: str) -> _Fault | None:
        with self._lock:
            chosen: _Fault | None = None
            for fault in list(self._faults):
                if fault.endpoint not in (None, endpoint):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                elif chosen is None:
                    chosen = fault
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
            if chosen is not None:
                return chosen
            if self._fault_rate and self._rng.random() < self._fault_rate:
                return _Fault(
                    self._rng.choice(self._fault_kinds), endpoint, 0, self._fault_delay, 1
                )
        return None

    def _rate_limited(self, client: str) -> bool:
        if self.rate_limit is None:
            return False
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault(client, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            window.append(now)
            return len(window) > self.rate_limit

    # -- endpoints ---------------------------------------------------------------------------

    def _studies_reply(self, params: dict[str, str], fault: str | None) -> _Reply:
        for name in params:
            if name in STUDIES_PARAMS:
                continue
            if name in UNSUPPORTED_REAL_PARAMS or name.startswith("postFilter."):
                return _text(400, f"{name} is not supported by the fake ClinicalTrials.gov")
            return _text(400, f"{name} is unknown parameter")
        try:
            page_size = _int_param(params, "pageSize", DEFAULT_PAGE_SIZE, 0, MAX_PAGE_SIZE)
            count_total = _bool_param(params, "countTotal")
            _check_format(params)
            paths = parse_fields(params["fields"]) if params.get("fields") else None
            query = parse_query(params)
            signature = tuple(sorted((k, v) for k, v in params.items() if k not in PAGE_VARYING))
            token = params.get("pageToken", "")
            offset = 0
            if token:
                with self._lock:
                    cursor = self._cursors.get(token)
                if cursor is None:
                    raise RequestError(f"pageToken {token!r} is not valid")
                if cursor.signature != signature:
                    raise RequestError(
                        "a request with pageToken must have the same parameters as the first "
                        "page (except countTotal, pageSize and pageToken)"
                    )
                offset = cursor.offset
            with self._lock:
                candidates = [copy.deepcopy(s) for s in self._studies.values()]
            selected = sort_studies(
                [s for s in candidates if query.accepts(s)], params.get("sort", "")
            )
        except RequestError as exc:
            return _text(400, str(exc))
        page = selected[offset : offset + page_size]
        if fault == "empty_page":
            page = []
        payload: dict[str, Any] = {
            "studies": [project(study, paths) if paths else study for study in page]
        }
        if count_total and not token:
            payload["totalCount"] = len(selected)
        next_offset = offset + page_size
        if fault == "repeat_token" and token:
            payload["nextPageToken"] = token
        elif (page_size > 0 and next_offset < len(selected)) or fault == "empty_page":
            new_token = secrets.token_urlsafe(24)
            with self._lock:
                self._cursors[new_token] = _Cursor(signature, next_offset if page else offset)
            payload["nextPageToken"] = new_token
        return _json(payload, len(page))

    def _study_reply(self, nct_id: str, params: dict[str, str]) -> _Reply:
        for name in params:
            if name not in ("fields", "format", "markupFormat"):
                return _text(400, f"{name} is unknown parameter")
        if not NCT_ID_RE.match(nct_id):
            return _text(400, f"{nct_id!r} is not a valid NCT number")
        try:
            _check_format(params)
            paths = parse_fields(params["fields"]) if params.get("fields") else None
        except RequestError as exc:
            return _text(400, str(exc))
        with self._lock:
            study = self._studies.get(nct_id)
            study = copy.deepcopy(study) if study is not None else None
        if study is None:
            return _text(404, f"Study {nct_id} not found")
        return _json(project(study, paths) if paths else study, 1)

    def _version_reply(self) -> _Reply:
        stamp = f"{self._today.isoformat()}T09:00:00"
        return _json({"apiVersion": API_VERSION, "dataTimestamp": stamp})

    # -- request handling --------------------------------------------------------------------

    def _handle(self, handler: _Handler, method: str) -> None:
        arrived, wall = self._clock(), dt.datetime.now()
        parts = urlsplit(handler.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        endpoint, nct_id = _route(parts.path)

        def log(status: int, studies: int | None, fault: str | None) -> None:
            entry = RequestLogEntry(arrived, wall, endpoint, method, params, status, studies, fault)
            with self._lock:
                self.requests.append(entry)

        if endpoint not in ENDPOINTS:
            log(404, None, None)
            handler.send_reply(_text(404, "Not Found"))
            return
        if method != "GET":
            log(405, None, None)
            handler.send_reply(_text(405, "Method Not Allowed"))
            return
        if self._rate_limited(handler.client_address[0]):
            log(429, None, None)
            reply = _text(429, "Too Many Requests")
            reply.headers["Retry-After"] = "1"
            handler.send_reply(reply)
            return
        fault = self._take_fault(endpoint)
        kind = fault.kind if fault else None
        if kind == "reset":
            log(0, None, kind)
            handler.reset_connection()
            return
        if kind in ("500", "502", "503"):
            status = int(kind)
            html = f"<html><body><h1>{status} {HTTP_REASONS[status]}</h1></body></html>\n"
            log(status, None, kind)
            handler.send_reply(_Reply(status, "text/html", html.encode()))
            return
        if kind == "429" and fault is not None:
            log(429, None, kind)
            reply = _text(429, "Too Many Requests")
            reply.headers["Retry-After"] = str(fault.retry_after)
            handler.send_reply(reply)
            return
        if self.latency > 0:
            self._stopping.wait(self.latency)
        if kind == "slow" and fault is not None:
            self._stopping.wait(fault.delay)
        if endpoint == "studies":
            reply = self._studies_reply(params, kind)
        elif endpoint == "study":
            reply = self._study_reply(nct_id, params)
        else:
            reply = self._version_reply()
        log(reply.status, reply.studies, kind)
        if kind == "truncate":
            handler.send_truncated(reply)
        else:
            handler.send_reply(reply)


def _route(path: str) -> tuple[str, str]:
    """('studies', '') / ('study', nct id) / ('version', '') / (path, '') for unknown paths."""
    if not path.startswith(BASE_PATH):
        return path, ""
    rest = unquote(path[len(BASE_PATH) :]).strip("/")
    if rest in ("studies", "version"):
        return rest, ""
    head, _, tail = rest.partition("/")
    if head == "studies" and tail and "/" not in tail:
        return "study", tail
    return path, ""


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RequestError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise RequestError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool_param(params: dict[str, str], name: str) -> bool:
    raw = params.get(name, "").lower()
    if raw in ("", "false"):
        return False
    if raw == "true":
        return True
    raise RequestError(f"{name} must be true or false, got {params[name]!r}")


def _check_format(params: dict[str, str]) -> None:
    value = params.get("format", "json").lower()
    if value == "csv":
        raise RequestError("format=csv is not supported by the fake ClinicalTrials.gov")
    if value != "json":
        raise RequestError(f"format must be json or csv, got {params['format']!r}")


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-reply (timeouts, injected resets) are normal here."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeRegistry
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self.fake._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        self.fake._handle(self, "POST")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return  # the fake keeps its own request log

    def _send_head(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()

    def send_reply(self, reply: _Reply) -> None:
        try:
            self._send_head(reply)
            self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    def send_truncated(self, reply: _Reply) -> None:
        """Full Content-Length, half the body, then close: the client sees a cut download."""
        try:
            self._send_head(reply)
            self.wfile.write(reply.body[: max(1, len(reply.body) // 2)])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.close_connection = True

    def reset_connection(self) -> None:
        """Close with TCP RST and no reply at all."""
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True


def _make_handler(fake: FakeRegistry) -> type[_Handler]:
    return type("BoundFakeRegistryHandler", (_Handler,), {"fake": fake})
