"""An in-process stand-in for NCBI E-utilities (esearch, efetch, einfo) over real HTTP.

It serves :class:`PubmedRecord` objects with the XML shapes, DOCTYPEs and error replies that
NCBI uses, enforces NCBI's request-rate limits, keeps a history server (WebEnv/query_key),
logs every request and can inject faults on demand or at random.

Transient faults (:data:`FAULT_KINDS`, also drawn at random by ``set_fault_rate``): "500",
"502", "503", "429", "reset" (close without a reply), "slow" (reply after ``delay`` s),
"truncate" (half the body, full Content-Length), "error200" (HTTP 200 with an ``<ERROR>`` body;
``message`` sets its text), "missing_records" (efetch leaves out the last ``drop`` records).

Hostile faults (:data:`HOSTILE_FAULT_KINDS`, injected on demand only):

* "redirect": HTTP 307 to ``location`` (run a second server there to see what arrives);
* "drip": the whole reply, status line and headers included, one byte every ``delay`` s;
* "huge": the normal reply padded with ``size`` bytes of whitespace, generated while sending;
* "gzip_bomb": the normal reply padded to ``size`` bytes, gzip-compressed (a few KB per MB)
  and sent with ``Content-Encoding: gzip``;
* "bad_ids": esearch adds the raw strings ``ids`` (e.g. "-5", "0", "abc", full-width digits)
  to its IdList and to its Count;
* "unrequested_records": efetch adds copies of its first record under the PMID texts ``ids``;
* "lying_count": esearch says ``<Count>count</Count>`` whatever matched, and a page past the
  real matches repeats them from the start instead of coming back empty.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import secrets
import socket
import struct
import sys
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from aggregator.errors import AggregatorError
from aggregator.pubmed.fake.corpus import TimelineEvent, load_base_records, load_timeline
from aggregator.pubmed.fake.medline import render_medline_set
from aggregator.pubmed.fake.records import PubmedRecord, parse_records, render_record
from aggregator.pubmed.fake.search import (
    DATE_FIELDS,
    FIELD_NAMES,
    QuerySyntaxError,
    SearchIndex,
    evaluate,
    parse_date_bound,
    parse_query,
    tokens,
)

BASE_PATH = "/entrez/eutils/"
XML_DECL = '<?xml version="1.0" encoding="UTF-8" ?>\n'
ESEARCH_DOCTYPE = (
    '<!DOCTYPE eSearchResult PUBLIC "-//NLM//DTD esearch 20060628//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20060628/esearch.dtd">\n'
)
EFETCH_ERROR_DOCTYPE = (
    '<!DOCTYPE eFetchResult PUBLIC "-//NLM//DTD efetch 20131226//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20131226/efetch.dtd">\n'
)
PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
)
EINFO_DOCTYPE = (
    '<!DOCTYPE eInfoResult PUBLIC "-//NLM//DTD einfo 20190110//EN" '
    '"https://eutils.ncbi.nlm.nih.gov/eutils/dtd/20190110/einfo.dtd">\n'
)
# PubMed's esearch only reaches the first 9,999 matches of a query.
ESEARCH_CEILING = 9999
RETSTART_ERROR = (
    "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For PubMed, "
    "ESearch can only retrieve the first 9,999 records matching the query. To obtain more "
    "than 9,999 PubMed records, consider using EDirect that contains additional logic to "
    "batch PubMed search results automatically so that an arbitrary number can be retrieved. "
    "For details see https://www.ncbi.nlm.nih.gov/books/NBK25499/"
)
FAULT_KINDS = (
    "500",
    "502",
    "503",
    "429",
    "reset",
    "slow",
    "truncate",
    "error200",
    "missing_records",
)
# Injected on demand only (never drawn by set_fault_rate): see the module docstring.
HOSTILE_FAULT_KINDS = (
    "redirect",
    "drip",
    "huge",
    "gzip_bomb",
    "bad_ids",
    "unrequested_records",
    "lying_count",
)
# The default texts of the "error200" fault: transient troubles NCBI reports in HTTP 200 replies.
ESEARCH_ERROR200 = "Search Backend failed: Database is not supported: pubmed"
EFETCH_ERROR200 = "Cannot retrieve history data: internal server error"
ENDPOINTS = ("esearch", "efetch", "einfo")
HTTP_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
BULK_FIRST_PMID = 99500000


class FakeEutilsError(AggregatorError):
    """The fake server was used wrongly (unknown fault kind, unknown PMID, ...)."""


@dataclass(frozen=True, slots=True)
class RequestLogEntry:
    """One request as the server saw it."""

    monotonic: float
    wall: dt.datetime
    endpoint: str  # "esearch", "efetch", "einfo" or the unknown path
    method: str
    params: dict[str, str]  # everything the client sent, incl. tool/email/api_key
    status: int  # HTTP status; 0 when the connection was reset without a reply
    ids_returned: int | None
    fault: str | None


@dataclass
class _Fault:
    kind: str
    endpoint: str | None
    remaining: int
    delay: float
    drop: int
    skip: int = 0  # matching requests to let through before this fault starts
    location: str = ""  # redirect
    ids: tuple[str, ...] = ()  # bad_ids, unrequested_records
    size: int = 0  # huge, gzip_bomb
    count: int = 0  # lying_count
    message: str = ""  # error200


@dataclass
class _Reply:
    status: int
    content_type: str
    body: bytes
    ids_returned: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    padding: int = 0  # bytes of whitespace sent before the closing tag, generated on the fly


def _xml(text: str) -> bytes:
    return text.encode("utf-8")


def _esearch_error(message: str) -> _Reply:
    body = f"{XML_DECL}{ESEARCH_DOCTYPE}<eSearchResult><ERROR>{escape(message)}</ERROR>"
    return _Reply(200, "text/xml; charset=UTF-8", _xml(body + "</eSearchResult>\n"), 0)


def _efetch_error(message: str) -> _Reply:
    body = f"{XML_DECL}{EFETCH_ERROR_DOCTYPE}<eFetchResult>\n\t<ERROR>{escape(message)}</ERROR>"
    return _Reply(200, "text/xml; charset=UTF-8", _xml(body + "\n</eFetchResult>\n"), 0)


class FakeEutils:
    """NCBI E-utilities stand-in on 127.0.0.1 (random port); use as a context manager.

    ``records`` defaults to the shipped base corpus; ``today`` (default: the real date) is
    the server's current date for ``reldate`` and for which timeline events have happened.
    ``rate_limit`` / ``rate_limit_with_key`` are requests per second (None disables).
    ``clock`` is the monotonic clock for the rate limiter, injectable for tests.
    ``latency`` (seconds, settable at any time) delays every reply, like a slow network.
    """

    def __init__(
        self,
        records: Iterable[PubmedRecord | str] | None = None,
        *,
        today: dt.date | None = None,
        timeline: bool | None = None,
        rate_limit: int | None = 3,
        rate_limit_with_key: int | None = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.RLock()
        self._index = SearchIndex()
        self._today = today or dt.date.today()
        self.rate_limit = rate_limit
        self.rate_limit_with_key = rate_limit_with_key
        self.latency = 0.0
        self._clock = clock
        self._windows: dict[str, deque[float]] = {}
        self._history: dict[str, list[list[int]]] = {}
        self._faults: list[_Fault] = []
        self._fault_rate = 0.0
        self._fault_kinds: tuple[str, ...] = ()
        self._fault_delay = 2.0
        self._rng = random.Random(0)
        self.requests: list[RequestLogEntry] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._next_bulk_pmid = BULK_FIRST_PMID
        if records is None:
            records = load_base_records()
            use_timeline = True if timeline is None else timeline
        else:
            use_timeline = bool(timeline)
        for record in records:
            self.add_record(record)
        self._pending_events: list[TimelineEvent] = load_timeline() if use_timeline else []
        self.applied_events: list[TimelineEvent] = []
        self.apply_timeline_until(self._today)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeEutils:
        """Start serving on 127.0.0.1 and a free port."""
        if self._server is not None:
            return self
        handler = _make_handler(self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._stopping.clear()
        self._thread = threading.Thread(
            # A short poll interval keeps stop() fast (shutdown waits for the next poll).
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-eutils",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow replies still sleeping are woken up."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeEutils:
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
        """Base URL ending in '/', to use as NCBI_EUTILS_URL."""
        if self._server is None:
            raise FakeEutilsError("FakeEutils is not started; call start() or use 'with'")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{BASE_PATH}"

    # -- records ------------------------------------------------------------------------------

    @property
    def today(self) -> dt.date:
        return self._today

    def set_today(self, today: dt.date) -> list[TimelineEvent]:
        """Move the server's clock forward (applies timeline events up to that date)."""
        self._today = today
        return self.apply_timeline_until(today)

    def apply_timeline_until(self, date: dt.date) -> list[TimelineEvent]:
        """Apply every pending timeline event dated on or before ``date``; returns them."""
        with self._lock:
            due = [event for event in self._pending_events if event.date <= date]
            self._pending_events = [e for e in self._pending_events if e.date > date]
            for event in due:
                if event.record.pmid in self._index.entries:
                    self.revise_record(event.record.pmid, event.record)
                else:
                    self.add_record(event.record)
            self.applied_events.extend(due)
            return due

    @property
    def pending_events(self) -> list[TimelineEvent]:
        return list(self._pending_events)

    def add_record(
        self,
        record: PubmedRecord | str,
        crdt: dt.datetime | dt.date | None = None,
        mdat: dt.date | None = None,
    ) -> list[int]:
        """Add records (a PubmedRecord or PubMed XML text); crdt/mdat override the XML's
        entrez date and DateRevised. Returns the PMIDs added."""
        parsed = parse_records(record, "add_record") if isinstance(record, str) else [record]
        with self._lock:
            for item in parsed:
                if crdt is not None:
                    moment = crdt if isinstance(crdt, dt.datetime) else _noon(crdt)
                    item = item.with_changes(crdt=moment)
                if mdat is not None:
                    item = item.with_changes(date_revised=mdat)
                self._index.add(item)
        return [item.pmid for item in parsed]

    def revise_record(
        self, pmid: int, record: PubmedRecord | str, mdat: dt.date | None = None
    ) -> None:
        """Replace an existing record, keeping its create date; ``mdat`` sets DateRevised."""
        parsed = parse_records(record, "revise_record") if isinstance(record, str) else [record]
        if len(parsed) != 1 or parsed[0].pmid != pmid:
            raise FakeEutilsError(f"revise_record({pmid}): the XML must hold exactly PMID {pmid}")
        with self._lock:
            old = self._index.entries.get(pmid)
            if old is None:
                raise FakeEutilsError(f"revise_record: PMID {pmid} is not in the fake server")
            new = parsed[0].with_changes(crdt=old.record.crdt)
            if mdat is not None:
                new = new.with_changes(date_revised=mdat)
            self._index.add(new)

    def remove_record(self, pmid: int) -> None:
        """Delete a record (it stops matching; efetch leaves it out)."""
        with self._lock:
            if pmid not in self._index.entries:
                raise FakeEutilsError(f"remove_record: PMID {pmid} is not in the fake server")
            self._index.remove(pmid)

    def get_record(self, pmid: int) -> PubmedRecord:
        with self._lock:
            entry = self._index.entries.get(pmid)
        if entry is None:
            raise FakeEutilsError(f"PMID {pmid} is not in the fake server")
        return entry.record

    @property
    def pmids(self) -> list[int]:
        """All PMIDs currently served, ascending."""
        with self._lock:
            return sorted(self._index.entries)

    def add_bulk(
        self,
        n: int,
        word: str = "bulkword",
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> list[int]:
        """Add ``n`` minimal records whose title holds ``word`` (so ``word[tiab]`` finds them),
        create dates spread evenly from ``start`` to ``end`` (inclusive). Cheap: no XML parsing.
        """
        if n < 1:
            raise FakeEutilsError(f"add_bulk: n must be at least 1, got {n}")
        first = start or dt.date(2025, 1, 1)
        last = end or first
        if last < first:
            raise FakeEutilsError(f"add_bulk: end {last} is before start {first}")
        span_days = (last - first).days + 1
        pmids: list[int] = []
        title = f"Filler record for {escape(word)}"
        title_words = tokens(title)
        with self._lock:
            for number in range(n):
                pmid = self._next_bulk_pmid
                while pmid in self._index.entries:
                    pmid += 1
                self._next_bulk_pmid = pmid + 1
                day = first + dt.timedelta(days=number * span_days // n)
                record = PubmedRecord(
                    pmid=pmid,
                    title_xml=title,
                    crdt=dt.datetime.combine(day, dt.time(number % 24, number % 60)),
                    pub_year=day.year,
                    pub_month=day.month,
                    status="Publisher",
                    publication_types=None,
                )
                self._index.add_minimal(record, title_words)
                pmids.append(pmid)
        return pmids

    # -- request log and faults ---------------------------------------------------------------

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    def inject(
        self,
        kind: str,
        *,
        endpoint: str | None = None,
        times: int = 1,
        delay: float = 2.0,
        drop: int = 1,
        after: int = 0,
        location: str = "",
        ids: Sequence[str] = (),
        size: int = 0,
        count: int = 0,
        message: str = "",
    ) -> None:
        """Make the next ``times`` matching requests fail in the given way (after letting
        ``after`` matching requests through, so faults can be spread out deterministically).

        kinds: "500", "502", "503", "429", "reset" (close without reply), "slow" (reply after
        ``delay`` seconds), "truncate" (cut body, full Content-Length), "error200" (HTTP 200
        with an <ERROR> body, ``message`` its text), "missing_records" (efetch only: drop the
        last ``drop`` records), and the hostile kinds of the module docstring: "redirect"
        (to ``location``), "drip" (a byte every ``delay`` s), "huge" and "gzip_bomb"
        (``size`` bytes), "bad_ids" and "unrequested_records" (``ids``), "lying_count"
        (``count``).
        """
        if kind not in FAULT_KINDS + HOSTILE_FAULT_KINDS:
            valid = ", ".join(FAULT_KINDS + HOSTILE_FAULT_KINDS)
            raise FakeEutilsError(f"unknown fault kind {kind!r}; valid: {valid}")
        if endpoint is not None and endpoint not in ENDPOINTS:
            raise FakeEutilsError(f"unknown endpoint {endpoint!r}; valid: {', '.join(ENDPOINTS)}")
        if kind == "redirect" and not location:
            raise FakeEutilsError("a redirect fault needs a location")
        if kind in ("missing_records", "unrequested_records"):
            endpoint = "efetch"
        elif kind in ("bad_ids", "lying_count"):
            endpoint = "esearch"
        fault = _Fault(
            kind, endpoint, times, delay, drop, after, location, tuple(ids), size, count, message
        )
        with self._lock:
            self._faults.append(fault)

    def set_fault_rate(
        self,
        rate: float,
        kinds: Iterable[str] | None = None,
        seed: int = 0,
        *,
        delay: float = 2.0,
    ) -> None:
        """Fail a random share ``rate`` (0..1) of requests with one of ``kinds``."""
        chosen = tuple(kinds) if kinds is not None else FAULT_KINDS
        unknown = [k for k in chosen if k not in FAULT_KINDS]
        if unknown or not 0.0 <= rate <= 1.0:
            raise FakeEutilsError(
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
                if fault.skip > 0:  # every matching request counts towards "after"
                    fault.skip -= 1
                elif chosen is None:
                    chosen = fault
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
            if chosen is not None:
                return chosen
            if self._fault_rate and self._rng.random() < self._fault_rate:
                kinds = [k for k in self._fault_kinds if k != "missing_records"]
                if endpoint == "efetch" and "missing_records" in self._fault_kinds:
                    kinds.append("missing_records")
                if kinds:
                    return _Fault(self._rng.choice(kinds), endpoint, 0, self._fault_delay, 1)
        return None

    def _check_rate(self, key: str, has_key: bool) -> tuple[_Reply | None, dict[str, str]]:
        limit = self.rate_limit_with_key if has_key else self.rate_limit
        if limit is None:
            return None, {}
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            window.append(now)
            count = len(window)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
        }
        if count <= limit:
            return None, headers
        return _rate_limit_reply(key, count, limit, headers), headers

    # -- endpoints -------------------------------------------------------------------------------

    def _esearch(self, params: dict[str, str], fault: _Fault | None = None) -> _Reply:
        db = params.get("db", "pubmed") or "pubmed"
        if db != "pubmed":
            return _esearch_error(f"Invalid db name specified: {db}")
        term = params.get("term", "")
        webenv = params.get("WebEnv", "")
        query_key = params.get("query_key", "")
        try:
            retstart = int(params.get("retstart") or 0)
            retmax = int(params.get("retmax") or 20)
        except ValueError:
            return _esearch_error("retstart and retmax must be whole numbers")
        if retstart < 0 or retmax < 0:
            return _esearch_error("retstart and retmax must not be negative")
        stored: list[int] | None = None
        if query_key:
            stored = self._stored_set(webenv, query_key)
            if stored is None:
                return _esearch_error(f"Unable to obtain query #{query_key}")
        with self._lock:
            try:
                if not term.strip() and stored is not None:
                    ids, not_found, translation = set(stored), [], f"#{query_key}"
                else:
                    tree = parse_query(term)
                    evaluation = evaluate(tree, self._index)
                    ids, not_found = evaluation.ids, evaluation.not_found
                    translation = tree.translate()
                    if stored is not None:
                        ids &= set(stored)
                date_filter = self._date_filter(params)
            except QuerySyntaxError as exc:
                return _esearch_error(str(exc))
            if date_filter is not None:
                datetype, low, high = date_filter
                ids &= self._index.match_dates(datetype, low, high)
                translation = (
                    f"({translation}) AND {low:%Y/%m/%d}:{high:%Y/%m/%d}[{FIELD_NAMES[datetype]}]"
                )
            ordered = self._index.sorted_ids(ids, params.get("sort", ""))
        # Ids as the reply spells them: the hostile "bad_ids" fault puts raw strings first.
        spelled = [str(pmid) for pmid in ordered]
        if fault is not None and fault.kind == "bad_ids":
            spelled = list(fault.ids) + spelled
        count = len(spelled)
        json_mode = params.get("retmode", "xml").lower() == "json"
        if params.get("rettype", "").lower() == "count":
            if json_mode:
                return _json_reply({"esearchresult": {"count": str(count)}}, None)
            body = f"{XML_DECL}{ESEARCH_DOCTYPE}<eSearchResult><Count>{count}</Count>"
            return _Reply(200, "text/xml; charset=UTF-8", _xml(body + "</eSearchResult>\n"), 0)
        warnings: list[str] = []
        if retstart > ESEARCH_CEILING - 1 and count > ESEARCH_CEILING:
            return _esearch_error(RETSTART_ERROR)
        end = min(retstart + retmax, ESEARCH_CEILING)
        if retstart + retmax > ESEARCH_CEILING and count > retstart + (end - retstart):
            warnings.append(
                f"Restrictions achieved. start and count adjusted to {retstart}, {end - retstart}"
            )
        page = spelled[retstart:end] if retstart < ESEARCH_CEILING else []
        if fault is not None and fault.kind == "lying_count":
            if not page:  # past the real matches: start again instead of an empty page
                page = spelled[: max(0, end - retstart)]
            count = fault.count
        history = ""
        history_json: dict[str, str] = {}
        if params.get("usehistory", "").lower() == "y":
            env, key = self._store_set(webenv, ordered)
            history = f"<QueryKey>{key}</QueryKey><WebEnv>{env}</WebEnv>"
            history_json = {"querykey": str(key), "webenv": env}
        errors = ""
        if count == 0:
            if not_found:
                errors = "<ErrorList>{}</ErrorList>".format(
                    "".join(f"<PhraseNotFound>{escape(p)}</PhraseNotFound>" for p in not_found)
                )
            warnings.append("No items found.")
        warning_xml = ""
        if warnings:
            warning_xml = "<WarningList>{}</WarningList>".format(
                "".join(f"<OutputMessage>{escape(w)}</OutputMessage>" for w in warnings)
            )
        if json_mode:
            result: dict[str, object] = {
                "count": str(count),
                "retmax": str(len(page)),
                "retstart": str(retstart),
                **history_json,
                "idlist": page,
                "translationset": [],
                "querytranslation": translation,
            }
            if count == 0 and not_found:
                result["errorlist"] = {"phrasesnotfound": not_found, "fieldsnotfound": []}
            if warnings:
                result["warninglist"] = {
                    "phrasesignored": [],
                    "quotedphrasesnotfound": [],
                    "outputmessages": warnings,
                }
            return _json_reply(
                {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result},
                len(page),
            )
        id_xml = "".join(f"<Id>{escape(pmid)}</Id>\n" for pmid in page)
        id_list = f"<IdList>\n{id_xml}</IdList>" if page else "<IdList/>"
        body = (
            f"{XML_DECL}{ESEARCH_DOCTYPE}<eSearchResult><Count>{count}</Count>"
            f"<RetMax>{len(page)}</RetMax><RetStart>{retstart}</RetStart>{history}{id_list}"
            f"<TranslationSet/><QueryTranslation>{escape(translation)}</QueryTranslation>"
            f"{errors}{warning_xml}</eSearchResult>\n"
        )
        return _Reply(200, "text/xml; charset=UTF-8", _xml(body), len(page))

    def _date_filter(self, params: dict[str, str]) -> tuple[str, dt.date, dt.date] | None:
        datetype = (params.get("datetype") or "pdat").lower()
        if datetype == "dp":
            datetype = "pdat"
        reldate = params.get("reldate", "")
        mindate, maxdate = params.get("mindate", ""), params.get("maxdate", "")
        if not reldate and not (mindate and maxdate):
            return None  # NCBI ignores a lone mindate or maxdate
        if datetype not in DATE_FIELDS:
            raise QuerySyntaxError(f"Invalid datetype '{datetype}': use crdt, edat, mdat or pdat")
        if reldate:
            if not reldate.isdigit():
                raise QuerySyntaxError(f"Invalid reldate '{reldate}': must be a number of days")
            return datetype, self._today - dt.timedelta(days=int(reldate)), self._today
        low = parse_date_bound(mindate, upper=False)
        high = parse_date_bound(maxdate, upper=True)
        return datetype, low, high

    def _store_set(self, webenv: str, ids: list[int]) -> tuple[str, int]:
        with self._lock:
            if webenv not in self._history:
                webenv = "MCID_" + secrets.token_hex(12)
                self._history[webenv] = []
            self._history[webenv].append(list(ids))
            return webenv, len(self._history[webenv])

    def _stored_set(self, webenv: str, query_key: str) -> list[int] | None:
        with self._lock:
            sets = self._history.get(webenv)
            if not sets or not query_key.isdigit() or not 1 <= int(query_key) <= len(sets):
                return None
            return sets[int(query_key) - 1]

    def _efetch(self, params: dict[str, str], fault: _Fault | None = None) -> _Reply:
        db = params.get("db", "pubmed") or "pubmed"
        if db != "pubmed":
            return _efetch_error(f"Invalid db name specified: {db}")
        webenv, query_key = params.get("WebEnv", ""), params.get("query_key", "")
        id_text = params.get("id", "")
        if id_text.strip():
            wanted = [int(p) for p in id_text.replace(" ", ",").split(",") if p.strip().isdigit()]
        elif webenv or query_key:
            stored = self._stored_set(webenv, query_key or "1")
            if stored is None:
                return _efetch_error(f"Unable to obtain query #{query_key or 1}")
            try:
                retstart = int(params.get("retstart") or 0)
                retmax = int(params.get("retmax") or 20)
            except ValueError:
                return _efetch_error("retstart and retmax must be whole numbers")
            wanted = stored[retstart : retstart + min(retmax, 10000)]
        else:
            return _efetch_error("Empty id list - nothing todo")
        with self._lock:
            seen: set[int] = set()
            records = []
            for pmid in wanted:
                entry = self._index.entries.get(pmid)
                if entry is not None and pmid not in seen:
                    seen.add(pmid)
                    records.append(entry.record)
        if fault is not None and fault.kind == "missing_records":
            records = records[: max(0, len(records) - fault.drop)]
        rettype = params.get("rettype", "").lower()
        retmode = params.get("retmode", "").lower()
        if rettype == "medline":
            text = render_medline_set(records)
            return _Reply(200, "text/plain; charset=UTF-8", text.encode("utf-8"), len(records))
        if retmode not in ("", "xml") or rettype not in ("", "xml", "abstract", "full"):
            return _efetch_error(f"Unsupported rettype/retmode: {rettype or '-'}/{retmode}")
        rendered = [render_record(record) for record in records]
        if fault is not None and fault.kind == "unrequested_records" and records:
            rendered += [_with_pmid_text(rendered[0], records[0].pmid, text) for text in fault.ids]
        articles = "\n".join(rendered)
        body = f'<?xml version="1.0" ?>\n{PUBMED_DOCTYPE}<PubmedArticleSet>\n{articles}'
        body += "\n</PubmedArticleSet>" if articles else "</PubmedArticleSet>"
        return _Reply(200, "text/xml; charset=UTF-8", _xml(body + "\n"), len(records))

    def _einfo(self, params: dict[str, str]) -> _Reply:
        db = params.get("db", "")
        if not db:
            body = f"{XML_DECL}{EINFO_DOCTYPE}<eInfoResult>\n<DbList>\n\t<DbName>pubmed</DbName>"
            body += "\n</DbList>\n</eInfoResult>\n"
            return _Reply(200, "text/xml; charset=UTF-8", _xml(body))
        if db != "pubmed":
            body = f"{XML_DECL}{EINFO_DOCTYPE}<eInfoResult>\n\t<ERROR>Can not retrieve DbInfo "
            body += f"for db={escape(db)}</ERROR>\n</eInfoResult>\n"
            return _Reply(200, "text/xml; charset=UTF-8", _xml(body))
        fields = [
            ("ALL", "All Fields", "All terms from all searchable fields", "N"),
            ("TITL", "Title", "Words in title of publication", "N"),
            ("TIAB", "Title/Abstract", "Free text associated with Abstract/Title", "N"),
            ("MESH", "MeSH Terms", "Medical Subject Headings assigned to publication", "N"),
            ("PTYP", "Publication Type", "Type of publication (e.g., review)", "N"),
            ("PDAT", "Date - Publication", "Date of publication", "Y"),
            ("EDAT", "Date - Entry", "Date publication first accessible through Entrez", "Y"),
            ("MDAT", "Date - Modification", "Date of last modification", "Y"),
            ("CRDT", "Date - Create", "Date publication first accessible through Entrez", "Y"),
        ]
        field_xml = "".join(
            f"\t\t\t<Field>\n\t\t\t\t<Name>{name}</Name>\n\t\t\t\t<FullName>{full}</FullName>\n"
            f"\t\t\t\t<Description>{desc}</Description>\n\t\t\t\t<TermCount/>\n"
            f"\t\t\t\t<IsDate>{is_date}</IsDate>\n\t\t\t\t<IsNumerical>{is_date}</IsNumerical>\n"
            "\t\t\t\t<SingleToken>N</SingleToken>\n\t\t\t\t<Hierarchy>N</Hierarchy>\n"
            "\t\t\t\t<IsHidden>N</IsHidden>\n\t\t\t</Field>\n"
            for name, full, desc, is_date in fields
        )
        with self._lock:
            count = len(self._index.entries)
        body = (
            f"{XML_DECL}{EINFO_DOCTYPE}<eInfoResult>\n\t<DbInfo>\n\t\t<DbName>pubmed</DbName>\n"
            "\t\t<MenuName>PubMed</MenuName>\n"
            "\t\t<Description>PubMed bibliographic record (synthetic stand-in)</Description>\n"
            f"\t\t<DbBuild>Build-{self._today:%Y.%m.%d}.00.00</DbBuild>\n"
            f"\t\t<Count>{count}</Count>\n\t\t<LastUpdate>{self._today:%Y/%m/%d} 06:00"
            f"</LastUpdate>\n\t\t<FieldList>\n{field_xml}\t\t</FieldList>\n\t</DbInfo>\n"
            "</eInfoResult>\n"
        )
        return _Reply(200, "text/xml; charset=UTF-8", _xml(body))

    # -- request handling ----------------------------------------------------------------------

    def _handle(self, handler: _Handler, method: str) -> None:
        arrived, wall = time.monotonic(), dt.datetime.now()
        parts = urlsplit(handler.path)
        params = _collect_params(parts.query, handler.read_body() if method == "POST" else b"")
        name = parts.path.rsplit("/", 1)[-1].removesuffix(".fcgi")
        endpoint = name if parts.path.startswith(BASE_PATH) and name in ENDPOINTS else parts.path

        def log(status: int, ids: int | None, fault: str | None) -> None:
            entry = RequestLogEntry(arrived, wall, endpoint, method, params, status, ids, fault)
            with self._lock:
                self.requests.append(entry)

        if endpoint not in ENDPOINTS:
            log(404, None, None)
            handler.send_reply(_Reply(404, "text/plain", b"Not Found\n"))
            return
        client = handler.client_address[0]
        api_key = params.get("api_key", "")
        limited, rate_headers = self._check_rate(api_key or client, bool(api_key))
        if limited is not None:
            log(429, None, None)
            handler.send_reply(limited)
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
            handler.send_reply(_Reply(status, "text/html", html.encode(), headers=rate_headers))
            return
        if kind == "429":
            limit = self.rate_limit or 3
            log(429, None, kind)
            handler.send_reply(_rate_limit_reply(api_key or client, limit + 1, limit, {}))
            return
        if kind == "redirect" and fault is not None:
            log(307, None, kind)
            headers = {"Location": fault.location, **rate_headers}
            handler.send_reply(_Reply(307, "text/html", b"", headers=headers))
            return
        if self.latency > 0:
            self._stopping.wait(self.latency)
        if kind == "slow" and fault is not None:
            self._stopping.wait(fault.delay)
        if endpoint == "esearch":
            reply = self._esearch(params, fault)
        elif endpoint == "efetch":
            reply = self._efetch(params, fault)
        else:
            reply = self._einfo(params)
        if kind == "error200" and fault is not None:
            reply = (
                _esearch_error(fault.message or ESEARCH_ERROR200)
                if endpoint != "efetch"
                else _efetch_error(fault.message or EFETCH_ERROR200)
            )
        reply.headers.update(rate_headers)
        log(reply.status, reply.ids_returned, kind)
        if kind == "truncate":
            handler.send_truncated(reply)
        elif kind == "drip" and fault is not None:
            handler.send_drip(reply, fault.delay, self._stopping)
        elif kind == "huge" and fault is not None:
            reply.padding = fault.size
            handler.send_reply(reply)
        elif kind == "gzip_bomb" and fault is not None:
            handler.send_reply(_gzip_bomb(reply, fault.size))
        else:
            handler.send_reply(reply)


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-reply (timeouts, injected resets) is normal here, not an error
    worth a traceback on stderr."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12, 0))


def _with_pmid_text(rendered: str, pmid: int, text: str) -> str:
    """A rendered record claiming the PMID ``text`` (any string) instead of ``pmid``."""
    return rendered.replace(f'<PMID Version="1">{pmid}</PMID>', f'<PMID Version="1">{text}</PMID>')


def _padded_parts(reply: _Reply, padding: int, chunk: int = 1 << 16) -> Iterator[bytes]:
    """The reply body with ``padding`` spaces before its last closing tag, in pieces."""
    cut = reply.body.rfind(b"</")
    cut = len(reply.body) if cut < 0 else cut
    yield reply.body[:cut]
    left = padding
    while left > 0:
        yield b" " * min(chunk, left)
        left -= chunk
    yield reply.body[cut:]


def _gzip_bomb(reply: _Reply, size: int) -> _Reply:
    """The reply padded to at least ``size`` bytes and gzip-compressed (spaces shrink ~1000x)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip container
    pieces = [compressor.compress(part) for part in _padded_parts(reply, size)]
    pieces.append(compressor.flush())
    headers = {**reply.headers, "Content-Encoding": "gzip"}
    return _Reply(reply.status, reply.content_type, b"".join(pieces), reply.ids_returned, headers)


def _rate_limit_reply(key: str, count: int, limit: int, headers: dict[str, str]) -> _Reply:
    body = json.dumps(
        {
            "error": "API rate limit exceeded",
            "api-key": key,
            "count": str(count),
            "limit": str(limit),
        },
        separators=(",", ":"),
    )
    reply_headers = {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0", **headers}
    reply_headers["X-RateLimit-Remaining"] = "0"
    return _Reply(429, "application/json", body.encode(), headers=reply_headers)


def _json_reply(payload: dict[str, object], ids: int | None) -> _Reply:
    return _Reply(200, "application/json; charset=UTF-8", json.dumps(payload).encode(), ids)


def _collect_params(query: str, body: bytes) -> dict[str, str]:
    """GET and POST parameters together; repeated ids are joined with commas."""
    params: dict[str, str] = {}
    pairs = parse_qsl(query, keep_blank_values=True)
    pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    for key, value in pairs:
        if key == "id" and params.get("id"):
            params["id"] += "," + value
        else:
            params[key] = value
    return params


class _Handler(BaseHTTPRequestHandler):
    fake: FakeEutils
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self.fake._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802
        self.fake._handle(self, "POST")

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return  # keep test output clean; the fake keeps its own request log

    def _send_head(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body) + reply.padding))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()

    def send_reply(self, reply: _Reply) -> None:
        try:
            self._send_head(reply)
            if reply.padding:
                for part in _padded_parts(reply, reply.padding):
                    self.wfile.write(part)
            else:
                self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # client went away (e.g. timed out on a slow reply)

    def send_drip(self, reply: _Reply, delay: float, stopping: threading.Event) -> None:
        """Status line, headers and body, one byte every ``delay`` seconds (until the client
        hangs up or the server stops)."""
        self._headers_buffer: list[bytes] = []  # collect the head instead of sending it
        self.send_response_only(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Connection", "close")
        head = b"".join(self._headers_buffer) + b"\r\n"
        self._headers_buffer = []
        self.close_connection = True
        try:
            for byte in head + reply.body:
                if stopping.wait(delay):
                    return
                self.wfile.write(bytes((byte,)))
                self.wfile.flush()
        except OSError:
            pass

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


def _make_handler(fake: FakeEutils) -> type[_Handler]:
    return type("BoundFakeEutilsHandler", (_Handler,), {"fake": fake})
