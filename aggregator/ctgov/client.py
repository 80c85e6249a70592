"""ClinicalTrials.gov API v2 client on the project's one polite HTTP policy.

:class:`RegistryClient` sends every request through :class:`aggregator.http.PoliteSession`
(one ``requests.Session``; throttle, retries with backoff on 429/5xx/timeouts/truncated
bodies, injectable clock and sleep), built for this source with 1 request per second (the
API documents no limit; robots.txt asks for ``Crawl-delay: 1``) and without NCBI's
``tool``/``email``/``api_key`` parameters.

API facts the client relies on (``/api/v2/studies``):

* ``query.cond`` / ``query.intr`` / ``query.term`` select studies; ``filter.advanced`` with
  ``AREA[LastUpdatePostDate]RANGE[<from>,MAX]`` keeps the studies updated on or after a day
  (both bounds inclusive), which makes weekly runs incremental. There is no ``filter.phase``
  (HTTP 400): phases go through ``filter.advanced=AREA[Phase]...``.
* Paging is by cursor: each reply but the last has ``nextPageToken``; the next request sends
  it as ``pageToken`` with *the same parameters as the first page* (only ``pageSize``,
  ``countTotal`` and ``pageToken`` may differ). A page may come back with no studies.
* ``countTotal=true`` adds ``totalCount`` to the first page only.
* ``fields=`` keeps replies small; the reply stays nested under ``protocolSection.<module>``.
  :data:`DEFAULT_FIELDS` asks for the modules :mod:`aggregator.ctgov.studies` reads.

Paging is bounded: it stops when a reply has no ``nextPageToken``, returns no studies, or
hands back a token already used (a server looping on its cursor), and after ``max_pages``.
Errors are :class:`RegistryHTTPError` (an :class:`aggregator.http.HTTPRequestError`) with
the HTTP status (None when there was no reply) and the API's message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

import requests

from aggregator.ctgov.searches import RegistrySearch
from aggregator.ctgov.studies import is_nct_id, normalise_nct_id
from aggregator.errors import ConfigError
from aggregator.http import (
    EutilsHTTPError,
    HTTPRequestError,
    PoliteSession,
    RetriesExhausted,
    RetryPolicy,
)
from aggregator.settings import DEFAULT_CTGOV_URL, DEFAULT_TOOL, Settings

logger = logging.getLogger("aggregator.ctgov.client")

REQUESTS_PER_SECOND = 1
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000  # the API's ceiling
MAX_PAGES = 10_000  # a guard against a server that never stops paging
# Modules (piece names) that aggregator.ctgov.studies reads; everything else stays upstream.
DEFAULT_FIELDS: tuple[str, ...] = (
    "IdentificationModule",
    "StatusModule",
    "SponsorCollaboratorsModule",
    "ConditionsModule",
    "DesignModule",
    "ArmsInterventionsModule",
    "ReferencesModule",
    "HasResults",
)


class RegistryHTTPError(HTTPRequestError):
    """A ClinicalTrials.gov request failed. ``status``: HTTP status (None: no reply);
    ``api_message``: what the API said; ``attempts``: tries made (1 when refused at once)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        url: str | None = None,
        api_message: str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message, status=status, url=url)
        self.api_message = api_message
        self.attempts = attempts


class StudyNotFoundError(RegistryHTTPError):
    """``GET /studies/{nctId}`` answered 404: the registry has no such study."""


def last_update_filter(since: date) -> str:
    """``filter.advanced`` value for studies updated on or after ``since`` (inclusive)."""
    return f"AREA[LastUpdatePostDate]RANGE[{since.isoformat()},MAX]"


class StudyPages(Iterator[dict[str, Any]]):
    """The studies of one search, page after page, as raw JSON objects.

    ``total_count`` is the first page's ``totalCount`` (None before the first page, or when
    not asked for); ``pages`` counts replies read; ``stopped_because`` says why paging ended
    ("last page", "empty page", "repeated token", "max pages") once it has.
    """

    def __init__(
        self,
        client: RegistryClient,
        params: dict[str, Any],
        *,
        max_pages: int,
        count_total: bool,
    ) -> None:
        self.params = params
        self.total_count: int | None = None
        self.pages = 0
        self.stopped_because: str | None = None
        self._client = client
        self._max_pages = max_pages
        self._count_total = count_total
        self._studies = self._generate()

    def __next__(self) -> dict[str, Any]:
        return next(self._studies)

    def _generate(self) -> Iterator[dict[str, Any]]:
        seen_tokens: set[str] = set()
        token: str | None = None
        while True:
            params = dict(self.params)
            if token is not None:
                params["pageToken"] = token  # every other parameter repeats page 1's
            reply = self._client._get_json(self._client.studies_url, params, what="search")
            self.pages += 1
            if self.pages == 1 and self._count_total:
                self.total_count = _total_count(reply)
            studies = reply["studies"]
            yield from studies
            next_token = reply.get("nextPageToken")
            if not next_token:
                self.stopped_because = "last page"
                return
            if not isinstance(next_token, str):
                raise RegistryHTTPError(
                    f"ClinicalTrials.gov sent a nextPageToken that is not a string: {next_token!r}",
                    status=200,
                    url=self._client.studies_url,
                )
            if not studies:
                self.stopped_because = "empty page"
                logger.warning("ClinicalTrials.gov sent an empty page with a next token; stopping")
                return
            if next_token in seen_tokens or next_token == token:
                self.stopped_because = "repeated token"
                logger.warning("ClinicalTrials.gov repeated a page token; stopping")
                return
            if self.pages >= self._max_pages:
                self.stopped_because = "max pages"
                logger.warning("stopping after %d pages", self.pages)
                return
            seen_tokens.add(next_token)
            token = next_token


class RegistryClient:
    """ClinicalTrials.gov API v2 (``/studies``, ``/studies/{nctId}``) client.

    ``source`` is :class:`~aggregator.settings.Settings` (its ``ctgov_url`` and ``tool``) or
    a base URL ending in ``/api/v2/``. ``session`` replaces the PoliteSession the client
    would build (then ``sleep``/``clock``/``jitter``/``timeout``/``retry`` are unused).
    """

    def __init__(
        self,
        source: Settings | str | None = None,
        *,
        session: PoliteSession | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        jitter: Callable[[], float] | None = None,
        timeout: tuple[float, float] = (10.0, 60.0),
        retry: RetryPolicy | None = None,
    ) -> None:
        if isinstance(source, Settings):
            base_url, tool = source.ctgov_url, source.tool
        else:
            base_url, tool = source or DEFAULT_CTGOV_URL, DEFAULT_TOOL
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"ClinicalTrials.gov URL must be http(s), got {base_url!r}")
        self.base_url = base_url.rstrip("/") + "/"
        self.session = session or PoliteSession(
            tool=tool,
            requests_per_second=REQUESTS_PER_SECOND,
            timeout=timeout,
            retry=retry,
            sleep=sleep or time.sleep,
            clock=clock or time.monotonic,
            jitter=jitter,
            ncbi_identity=False,
        )

    def __repr__(self) -> str:
        return f"RegistryClient(base_url={self.base_url!r}, session={self.session!r})"

    @property
    def studies_url(self) -> str:
        return f"{self.base_url}studies"

    @property
    def requests_made(self) -> int:
        return self.session.requests_made

    @property
    def stats(self) -> dict[str, int]:
        """Requests sent (retries included): ``{"studies": n, "study": m}``."""
        folded: dict[str, int] = {}
        for endpoint, count in self.session.stats.items():
            name = "study" if is_nct_id(endpoint) else endpoint
            folded[name] = folded.get(name, 0) + count
        return folded

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- searching ---------------------------------------------------------------------------

    def search_params(
        self,
        query: RegistrySearch,
        *,
        updated_since: date | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        fields: Sequence[str] | None = DEFAULT_FIELDS,
        count_total: bool = True,
    ) -> dict[str, Any]:
        """The first page's parameters (later pages add only ``pageToken``)."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ConfigError(f"page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}")
        params: dict[str, Any] = dict(query.params)
        if updated_since is not None:
            params["filter.advanced"] = last_update_filter(updated_since)
        if fields:
            params["fields"] = ",".join(fields)
        params["pageSize"] = page_size
        if count_total:
            params["countTotal"] = "true"
        params["format"] = "json"
        return params

    def search_studies(
        self,
        query: RegistrySearch,
        *,
        updated_since: date | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        fields: Sequence[str] | None = DEFAULT_FIELDS,
        count_total: bool = True,
        max_pages: int = MAX_PAGES,
    ) -> StudyPages:
        """Every study matching ``query`` (updated on or after ``updated_since`` when given),
        as raw study JSON, fetched page by page as the iterator is consumed.

        ``fields=None`` asks for whole records. The returned :class:`StudyPages` also carries
        ``total_count`` (from page 1) once the first page has been read.
        """
        params = self.search_params(
            query,
            updated_since=updated_since,
            page_size=page_size,
            fields=fields,
            count_total=count_total,
        )
        return StudyPages(self, params, max_pages=max_pages, count_total=count_total)

    def count(self, query: RegistrySearch, *, updated_since: date | None = None) -> int:
        """How many studies match (one request: page size 1, ``countTotal=true``)."""
        params = self.search_params(
            query, updated_since=updated_since, page_size=1, fields=("NCTId",)
        )
        reply = self._get_json(self.studies_url, params, what="search")
        total = _total_count(reply)
        if total is None:
            raise RegistryHTTPError(
                "ClinicalTrials.gov reply has no totalCount although countTotal=true was sent",
                status=200,
                url=self.studies_url,
            )
        return total

    def get_study(self, nct_id: str, *, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """One study's JSON (whole record unless ``fields`` is given); 404 raises
        :class:`StudyNotFoundError`."""
        nct = normalise_nct_id(nct_id)
        params: dict[str, Any] = {"format": "json"}
        if fields:
            params["fields"] = ",".join(fields)
        return self._get_json(f"{self.studies_url}/{nct}", params, what="study", nct_id=nct)

    # -- plumbing ----------------------------------------------------------------------------

    def _get_json(
        self, url: str, params: Mapping[str, Any], *, what: str, nct_id: str | None = None
    ) -> dict[str, Any]:
        check = _JsonReplyCheck(what)
        try:
            self.session.get(url, params, body_check=check)
        except RetriesExhausted as exc:
            raise RegistryHTTPError(
                f"ClinicalTrials.gov {what} request failed {exc.attempts} times; giving up "
                f"(last error: {exc.last_cause})",
                status=exc.status,
                url=exc.url,
                api_message=exc.ncbi_message,
                attempts=exc.attempts,
            ) from None
        except EutilsHTTPError as exc:
            kind = StudyNotFoundError if exc.status == 404 and nct_id else RegistryHTTPError
            if exc.status is None:
                message = f"ClinicalTrials.gov {what} request failed: {exc}"
            elif kind is StudyNotFoundError:
                message = f"ClinicalTrials.gov has no study {nct_id} (HTTP 404)"
            else:
                message = f"ClinicalTrials.gov refused {exc.url} with HTTP {exc.status}" + (
                    f": {exc.ncbi_message}" if exc.ncbi_message else ""
                )
            raise kind(
                message, status=exc.status, url=exc.url, api_message=exc.ncbi_message
            ) from None
        assert check.payload is not None  # the check passed, so it parsed the reply
        return check.payload


class _JsonReplyCheck:
    """Body check: retry when the reply is not JSON of the expected shape (truncated, an HTML
    error page with status 200); keeps the parsed payload so it is parsed once."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.payload: dict[str, Any] | None = None

    def __call__(self, response: requests.Response) -> str | None:
        self.payload = None
        try:
            payload = json.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            return f"reply is not valid JSON (truncated?): {' '.join(str(exc).split())}"
        if not isinstance(payload, dict):
            return "reply is not a JSON object"
        if self.what == "search" and not isinstance(payload.get("studies"), list):
            return "reply has no 'studies' array"
        self.payload = payload
        return None


def _total_count(reply: Mapping[str, Any]) -> int | None:
    value = reply.get("totalCount")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RegistryHTTPError(
            f"ClinicalTrials.gov sent a totalCount that is not a count: {value!r}", status=200
        )
    return value
