"""E-utilities semantics on top of :class:`aggregator.http.PoliteSession`.

ESearch (with date slicing past PubMed's 9,999-id ceiling), EFetch in POSTed batches with a
check that every requested PMID came back, and the parsing of small XML replies.

Nothing a reply says is taken on trust: an id that is not a PMID (ASCII digits, 1..99,999,999)
and a record that is bad or was not asked for are skipped with a logged warning and listed in
``EutilsClient.skipped``; everything else in the reply is used.

XML is parsed with lxml with DTD loading, network access and entity expansion switched off,
so no reply can make us fetch a DTD or read a file. (``Bio.Entrez.read`` is not used: for a DTD
it has not bundled it downloads one from NCBI.)
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import requests
from lxml import etree

from aggregator.article import Article, parse_pmid
from aggregator.errors import AggregatorError, ConfigError
from aggregator.http import EutilsHTTPError, PoliteSession, RetryPolicy, check_key_transport
from aggregator.pubmed.xml import iter_pubmed_xml
from aggregator.settings import Settings

logger = logging.getLogger("aggregator.pubmed.eutils")

# EUTILS-FACTS §4: PubMed ESearch only reaches the first 9,999 ids of a query (retstart above
# 9998 is refused), so a query with more matches is split by date until each slice fits.
MAX_IDS_PER_SEARCH = 9_999
# EUTILS-FACTS §5 and §1: batches of a few hundred ids, POSTed (more than ~200 ids must be POST).
MAX_EFETCH_BATCH = 500
# EUTILS-FACTS §1: a term longer than a few hundred characters goes by POST.
LONG_TERM = 300
# The earliest date used when a query has to be sliced but has no lower date bound.
EARLIEST_DATE = date(1800, 1, 1)

# Substrings of <ERROR> texts that mean "NCBI had a problem, ask again" rather than "your
# request is wrong" (EUTILS-FACTS §6: "Search Backend failed" comes in HTTP 200 replies).
_TRANSIENT_ERROR_MARKERS = (
    "backend failed",
    "temporarily",
    "try again",
    "timed out",
    "timeout",
    "unavailable",
    "internal error",
    "server error",
)
# ... except these, which repeat identically however often we ask (EUTILS-FACTS §4).
_PERMANENT_ERROR_MARKERS = ("out of acceptable range", "cannot be larger than")
# An EFetch of valid PMIDs answered with any other <ERROR> (e.g. "Unable to obtain query #1",
# in an HTTP 200 reply) is asked this many more times before EfetchError.
EFETCH_ERROR_RETRIES = 2

ArticleParser = Callable[..., Iterable[object]]


class QuerySyntaxError(EutilsHTTPError):
    """NCBI rejected the search term itself; retrying cannot help."""


class EfetchError(EutilsHTTPError):
    """EFetch kept answering valid PMIDs with an <ERROR>. The search behind them may be stale:
    the harvest searches again once before giving up."""


class TooManyResultsError(AggregatorError):
    """A single day still matches more ids than ESearch can return."""


class MissingRecordsError(AggregatorError):
    """EFetch never returned some requested PMIDs (``pmids``)."""

    def __init__(self, message: str, pmids: Sequence[int]) -> None:
        super().__init__(message)
        self.pmids = list(pmids)


@dataclass(frozen=True)
class SearchResult:
    """One ESearch reply. ``warnings`` holds NCBI's WarningList/ErrorList notes as text."""

    count: int
    ids: list[int]
    webenv: str | None = None
    query_key: str | None = None
    query_translation: str | None = None
    retstart: int = 0
    retmax: int = 0
    warnings: list[str] = field(default_factory=list)
    phrases_not_found: list[str] = field(default_factory=list)
    skipped_ids: int = 0  # <Id>s in the reply that were not PMIDs (left out of ``ids``)


def safe_xml_parser() -> etree.XMLParser:
    """An lxml parser that never loads a DTD, touches the network or expands entities."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
    )


def parse_xml(data: bytes) -> etree._Element:
    """Parse a whole reply safely; raises ``etree.XMLSyntaxError`` when it is not well-formed."""
    return etree.fromstring(data, safe_xml_parser())


def error_messages(root: etree._Element) -> list[str]:
    """Non-empty ``<ERROR>`` texts under the root (ESpell sends an empty one on success)."""
    return [text for el in root.findall("ERROR") if (text := element_text(el))]


def element_text(element: etree._Element) -> str:
    """All text inside an element, whitespace collapsed."""
    return " ".join(str(element.xpath("string()")).split())


def is_transient_error(message: str) -> bool:
    """True for an <ERROR> text that means a passing NCBI problem worth retrying."""
    lowered = message.lower()
    if any(marker in lowered for marker in _PERMANENT_ERROR_MARKERS):
        return False
    return any(marker in lowered for marker in _TRANSIENT_ERROR_MARKERS)


class _XmlReplyCheck:
    """Body check for XML replies: retry when truncated/malformed or carrying a transient ERROR.

    Keeps the parsed root so the caller does not parse the reply twice.
    """

    def __init__(self) -> None:
        self.root: etree._Element | None = None

    def __call__(self, response: requests.Response) -> str | None:
        self.root = None
        try:
            root = parse_xml(response.content)
        except etree.XMLSyntaxError as exc:
            return f"reply is not well-formed XML (truncated?): {exc}"
        transient = [m for m in error_messages(root) if is_transient_error(m)]
        if transient:
            return "; ".join(transient)
        self.root = root
        return None


def format_date(day: date) -> str:
    """E-utilities date format YYYY/MM/DD (EUTILS-FACTS §3)."""
    return f"{day.year:04d}/{day.month:02d}/{day.day:02d}"


def split_range(start: date, end: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """Split an inclusive day range in two inclusive halves with no gap and no overlap."""
    if start >= end:
        raise ValueError("a range of one day cannot be split")
    middle = start + timedelta(days=(end - start).days // 2)
    return (start, middle), (middle + timedelta(days=1), end)


class EutilsClient:
    """PubMed ESearch/EFetch client that is polite to NCBI and robust against its hiccups."""

    def __init__(
        self,
        settings: Settings,
        *,
        session: PoliteSession | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        jitter: Callable[[], float] | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
        article_parser: ArticleParser | None = None,
        today: Callable[[], date] = date.today,
        max_ids_per_search: int = MAX_IDS_PER_SEARCH,
    ) -> None:
        self.base_url = settings.eutils_url.rstrip("/") + "/"
        check_key_transport(self.base_url, settings.api_key)  # fail before any request
        self.session = session or PoliteSession(
            tool=settings.tool,
            email=settings.email,
            api_key=settings.api_key,
            timeout=timeout,
            retry=retry,
            sleep=sleep or time.sleep,
            clock=clock or time.monotonic,
            jitter=jitter,
        )
        self._article_parser = article_parser
        self._today = today
        self.max_ids_per_search = max_ids_per_search
        # PMIDs the last fetch_articles() call asked for but never received.
        self.missing_pmids: list[int] = []
        # One line per bad id or record passed over, since this client was made (never reset:
        # a caller wanting its own share notes the length first).
        self.skipped: list[str] = []

    def __repr__(self) -> str:
        return f"EutilsClient(base_url={self.base_url!r}, session={self.session!r})"

    @property
    def requests_made(self) -> int:
        return self.session.requests_made

    @property
    def stats(self) -> dict[str, int]:
        return self.session.stats

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> EutilsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- ESearch -----------------------------------------------------------------------------

    def esearch(
        self,
        term: str,
        *,
        mindate: date | None = None,
        maxdate: date | None = None,
        datetype: str | None = None,
        retstart: int = 0,
        retmax: int = 0,
        usehistory: bool = True,
    ) -> SearchResult:
        """One ESearch call on PubMed. Count 0 with PhraseNotFound is a normal, empty result.

        Without ``datetype``, a date filter applies to NCBI's default date for PubMed.
        """
        if not term.strip():
            raise ConfigError("the search term is empty")
        if retstart < 0 or retmax < 0:
            raise ConfigError(f"retstart/retmax must not be negative, got {retstart}/{retmax}")
        params: dict[str, Any] = {
            "db": "pubmed",
            "term": term,
            "retstart": retstart,
            "retmax": retmax,
        }
        if usehistory:
            params["usehistory"] = "y"
        if mindate is not None or maxdate is not None:
            # EUTILS-FACTS §3: mindate and maxdate only work as a pair.
            low, high = self._date_pair(mindate, maxdate)
            params["mindate"] = format_date(low)
            params["maxdate"] = format_date(high)
        if datetype:
            params["datetype"] = datetype
        check = _XmlReplyCheck()
        method = "POST" if len(term) > LONG_TERM else "GET"
        self.session.request(method, self._url("esearch"), params, body_check=check)
        assert check.root is not None  # the check passed, so it parsed the reply
        return self._search_result(check.root, term)

    def count(
        self,
        term: str,
        *,
        mindate: date | None = None,
        maxdate: date | None = None,
        datetype: str | None = None,
    ) -> int:
        """Number of PubMed records matching ``term`` (in the date window, when given)."""
        result = self.esearch(
            term, mindate=mindate, maxdate=maxdate, datetype=datetype, usehistory=False
        )
        return result.count

    def search_ids(
        self,
        term: str,
        *,
        mindate: date | None = None,
        maxdate: date | None = None,
        datetype: str = "crdt",
    ) -> list[int]:
        """All PMIDs matching ``term``, newest (highest) first, however many there are.

        When a query matches more than 9,999 records the date window (default 1800/01/01 to
        today) is halved by whole days until every slice fits; a single day that still does not
        fit raises :class:`TooManyResultsError`.
        """
        if mindate is None and maxdate is None:
            window: tuple[date, date] | None = None
        else:
            window = self._date_pair(mindate, maxdate)
        found: set[int] = set()
        pending: list[tuple[date, date] | None] = [window]
        slices = 0
        while pending:
            current = pending.pop()
            slices += 1
            if slices > 100_000:  # a guard against a misbehaving server; never reached by design
                raise TooManyResultsError(f"search for {term!r} needed too many date slices")
            low, high = current if current else (None, None)
            first = self.esearch(
                term,
                mindate=low,
                maxdate=high,
                datetype=datetype if current else None,
                retmax=self.max_ids_per_search,
            )
            if first.count <= self.max_ids_per_search:
                found.update(self._rest_of_slice(term, first, low, high, datetype))
                continue
            if current is None:
                current = (EARLIEST_DATE, self._today())
            if current[0] >= current[1]:
                raise TooManyResultsError(
                    f"search for {term!r} matches {first.count} records on "
                    f"{format_date(current[0])} alone, more than the {self.max_ids_per_search} "
                    f"ESearch can return; narrow the query"
                )
            earlier, later = split_range(*current)
            logger.info(
                "%d matches in %s..%s: splitting into two date slices",
                first.count,
                format_date(current[0]),
                format_date(current[1]),
            )
            # Push the later half first so the earlier half is searched first (stable order).
            pending.append(later)
            pending.append(earlier)
        return sorted(found, reverse=True)

    def _rest_of_slice(
        self, term: str, first: SearchResult, low: date | None, high: date | None, datetype: str
    ) -> list[int]:
        """Page through one slice that fits under the ESearch ceiling.

        Paging stops early, with a warning, when a page brings no id we do not have yet
        (empty, or repeating earlier ones): the Count was wrong, and trusting it could mean
        thousands of requests for nothing.
        """
        ids = list(first.ids)
        seen = set(ids)
        received = len(first.ids) + first.skipped_ids  # positions read, bad ids included
        while received < first.count:
            page = self.esearch(
                term,
                mindate=low,
                maxdate=high,
                datetype=datetype if low else None,
                retstart=received,  # stays <= 9998 because count <= 9999
                retmax=min(self.max_ids_per_search, first.count - received),
            )
            new = [pmid for pmid in page.ids if pmid not in seen]
            if not new:
                logger.warning(
                    "ESearch said %d records match %r but its pages stopped bringing new ids "
                    "after %d: the count was wrong (or records went away while paging); "
                    "going on with those %d",
                    first.count,
                    _short(term),
                    len(ids),
                    len(ids),
                )
                break
            ids.extend(new)
            seen.update(new)
            received += len(page.ids) + page.skipped_ids
        return ids

    def _date_pair(self, mindate: date | None, maxdate: date | None) -> tuple[date, date]:
        low = mindate or EARLIEST_DATE
        high = maxdate or self._today()
        if low > high:
            raise ConfigError(f"mindate {format_date(low)} is after maxdate {format_date(high)}")
        return low, high

    def _search_result(self, root: etree._Element, term: str) -> SearchResult:
        errors = error_messages(root)
        if errors:
            message = "; ".join(errors)
            # Transient errors were retried by the body check; what is left is permanent.
            error_type = (
                EutilsHTTPError
                if any(m in message.lower() for m in _PERMANENT_ERROR_MARKERS)
                else QuerySyntaxError
            )
            raise error_type(
                f"NCBI rejected the search {term!r}: {message}",
                status=200,
                url=self._url("esearch"),
                ncbi_message=message,
            )
        count_text = root.findtext("Count")
        if root.tag != "eSearchResult" or count_text is None:
            raise EutilsHTTPError(
                f"ESearch reply for {term!r} has no <Count> (root <{root.tag}>)",
                status=200,
                url=self._url("esearch"),
            )
        warnings: list[str] = []
        for group in ("ErrorList", "WarningList"):
            for el in root.findall(f"{group}/*"):
                text = element_text(el)
                if text and el.tag != "PhraseNotFound":
                    warnings.append(f"{el.tag}: {text}")
        ids: list[int] = []
        skipped = 0
        for element in root.findall("IdList/Id"):
            try:
                ids.append(parse_pmid(element.text or ""))
            except ValueError as exc:
                skipped += 1
                self._skip(f"skipped an id in the ESearch reply for {_short(term)!r}: {exc}")
        return SearchResult(
            count=self._reply_number(root, "Count", term),
            ids=ids,
            webenv=root.findtext("WebEnv"),
            query_key=root.findtext("QueryKey"),
            query_translation=root.findtext("QueryTranslation"),
            retstart=self._reply_number(root, "RetStart", term),
            retmax=self._reply_number(root, "RetMax", term),
            warnings=warnings,
            phrases_not_found=[element_text(el) for el in root.findall("ErrorList/PhraseNotFound")],
            skipped_ids=skipped,
        )

    def _reply_number(self, root: etree._Element, tag: str, term: str) -> int:
        """A count in an ESearch reply (0 when absent); an error when it is not a number."""
        text = (root.findtext(tag) or "0").strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 12):
            raise EutilsHTTPError(
                f"ESearch reply for {_short(term)!r} has a <{tag}> that is not a count: "
                f"{text[:40]!r}",
                status=200,
                url=self._url("esearch"),
            )
        return int(text)

    def _skip(self, message: str) -> None:
        logger.warning("%s", message)
        self.skipped.append(message)

    # -- EFetch ------------------------------------------------------------------------------

    def efetch_xml(
        self, pmids: Iterable[int], *, batch_size: int = MAX_EFETCH_BATCH
    ) -> Iterator[bytes]:
        """POST the PMIDs in batches (<= 500) and yield each batch's PubMed XML reply."""
        for batch in _batches(_unique_pmids(pmids), _check_batch_size(batch_size)):
            yield self._efetch_batch(batch)

    def fetch_articles(
        self,
        pmids: Iterable[int],
        *,
        batch_size: int = MAX_EFETCH_BATCH,
        missing_attempts: int = 2,
        strict: bool = False,
    ) -> Iterator[Article]:
        """Yield the parsed articles for ``pmids``, each PMID at most once.

        PMIDs missing from a reply are asked for again up to ``missing_attempts`` times. Those
        still missing are then listed in ``self.missing_pmids`` (and logged); with
        ``strict=True`` a :class:`MissingRecordsError` is raised after the last article
        instead. Not raising by default: a deleted PMID simply stops coming back
        (EUTILS-FACTS §7) and must not stop a weekly run.
        """
        parse = self._parser()
        self.missing_pmids = []
        yielded: set[int] = set()
        for batch in _batches(_unique_pmids(pmids), _check_batch_size(batch_size)):
            requested = set(batch)
            pending = batch
            for attempt in range(missing_attempts + 1):
                data = self._efetch_batch(pending)
                for item in parse(data, source_name="efetch reply"):
                    if not isinstance(item, Article) or item.pmid in yielded:
                        continue
                    if item.pmid not in requested:  # never store what we did not ask for
                        self._skip(
                            f"skipped PMID {item.pmid} in an EFetch reply: it was not asked for"
                        )
                        continue
                    yielded.add(item.pmid)
                    yield item
                pending = [pmid for pmid in pending if pmid not in yielded]
                if not pending:
                    break
                if attempt < missing_attempts:
                    logger.info("efetch reply lacked %d PMIDs; asking again", len(pending))
            if pending:
                logger.warning(
                    "NCBI returned no record for %d PMIDs: %s",
                    len(pending),
                    ", ".join(map(str, pending[:20])),
                )
                self.missing_pmids.extend(pending)
        if strict and self.missing_pmids:
            raise MissingRecordsError(
                f"NCBI returned no record for {len(self.missing_pmids)} PMIDs, e.g. "
                + ", ".join(map(str, self.missing_pmids[:10])),
                self.missing_pmids,
            )

    def efetch_medline(self, pmids: Iterable[int], *, batch_size: int = MAX_EFETCH_BATCH) -> str:
        """MEDLINE text for the PMIDs (all batches joined)."""
        parts: list[str] = []
        for batch in _batches(_unique_pmids(pmids), _check_batch_size(batch_size)):
            params = {
                "db": "pubmed",
                "id": ",".join(map(str, batch)),
                "rettype": "medline",
                "retmode": "text",
            }
            response = self.session.post(self._url("efetch"), params)
            parts.append(response.text.strip("\n"))
        return "\n\n".join(part for part in parts if part) + ("\n" if parts else "")

    def _efetch_batch(self, batch: Sequence[int]) -> bytes:
        # EUTILS-FACTS §1: POST for long id lists, and always ask for retmode=xml explicitly.
        params = {
            "db": "pubmed",
            "id": ",".join(map(str, batch)),
            "retmode": "xml",
            "rettype": "abstract",
        }
        for attempt in range(1 + EFETCH_ERROR_RETRIES):
            check = _XmlReplyCheck()
            response = self.session.post(self._url("efetch"), params, body_check=check)
            assert check.root is not None
            errors = error_messages(check.root)
            if not errors:
                return response.content
            message = "; ".join(errors)
            if attempt < EFETCH_ERROR_RETRIES:
                logger.info(
                    "EFetch of %d PMIDs answered with an error (%s); asking again (%d/%d)",
                    len(batch),
                    message,
                    attempt + 1,
                    EFETCH_ERROR_RETRIES,
                )
        raise EfetchError(
            f"NCBI EFetch failed: {message}",
            status=response.status_code,
            url=self._url("efetch"),
            ncbi_message=message,
        )

    def _parser(self) -> ArticleParser:
        if self._article_parser is not None:
            return self._article_parser
        return functools.partial(iter_pubmed_xml, on_bad_record=self._skip_record)

    def _skip_record(self, problem: str) -> None:
        self._skip(f"skipped a record: {problem}")

    def _url(self, utility: str) -> str:
        return f"{self.base_url}{utility}.fcgi"


def _unique_pmids(pmids: Iterable[int]) -> list[int]:
    seen: set[int] = set()
    unique: list[int] = []
    for raw in pmids:
        try:
            pmid = parse_pmid(raw)
        except ValueError as exc:
            raise ConfigError(f"not a PMID: {raw!r} ({exc})") from None
        if pmid not in seen:
            seen.add(pmid)
            unique.append(pmid)
    return unique


def _short(term: str, limit: int = 60) -> str:
    """A search term on one line, cut for log lines (saved searches run to hundreds of chars)."""
    flat = " ".join(term.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _check_batch_size(batch_size: int) -> int:
    if not 1 <= batch_size <= MAX_EFETCH_BATCH:
        raise ConfigError(f"batch_size must be between 1 and {MAX_EFETCH_BATCH}, got {batch_size}")
    return batch_size


def _batches(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
