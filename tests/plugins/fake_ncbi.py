"""Fixtures for the in-process NCBI E-utilities stand-in (aggregator.pubmed.fake).

``fake_ncbi``: a started server with the shipped base corpus as of BASE_TODAY (2026-11-15,
before the timeline weeks 2026-W47..W49), rate limiting off so tests are not timing-bound.
Move time forward with ``fake_ncbi.set_today(date)``.

``fake_ncbi_factory(**kwargs)``: build and start servers with custom records, ``today``,
``rate_limit`` / ``rate_limit_with_key``, ``clock`` or ``timeline``; all are stopped at the
end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aggregator.pubmed.fake import BASE_TODAY, FakeEutils


@pytest.fixture
def fake_ncbi_factory() -> Iterator[Callable[..., FakeEutils]]:
    """Factory: ``fake_ncbi_factory(records=..., today=..., rate_limit=...)`` -> started server."""
    started: list[FakeEutils] = []

    def build(**kwargs: Any) -> FakeEutils:
        kwargs.setdefault("today", BASE_TODAY)
        server = FakeEutils(**kwargs).start()
        started.append(server)
        return server

    yield build
    for server in started:
        server.stop()


@pytest.fixture
def fake_ncbi(fake_ncbi_factory: Callable[..., FakeEutils]) -> FakeEutils:
    """A started fake E-utilities server with the base corpus, as of BASE_TODAY."""
    return fake_ncbi_factory(rate_limit=None, rate_limit_with_key=None)
