"""Local stand-in for the ClinicalTrials.gov API v2 plus the synthetic registry corpus it serves.

Used by the tests (and, from phase 2 on, by ``aggregator run --demo``). Nothing here touches
the network except the server's own socket on 127.0.0.1. Everything in ``corpus/`` is
invented (NCT99000001 and up); see ``corpus/README.md``.
"""

from __future__ import annotations

from aggregator.ctgov.fake.corpus import (
    BASE_TODAY,
    RegistryEvent,
    build_study,
    corpus_dir,
    load_base_studies,
    load_timeline,
)
from aggregator.ctgov.fake.search import PIECES
from aggregator.ctgov.fake.server import (
    FAULT_KINDS,
    FakeRegistry,
    FakeRegistryError,
    RequestLogEntry,
)

__all__ = [
    "BASE_TODAY",
    "FAULT_KINDS",
    "PIECES",
    "FakeRegistry",
    "FakeRegistryError",
    "RegistryEvent",
    "RequestLogEntry",
    "build_study",
    "corpus_dir",
    "load_base_studies",
    "load_timeline",
]
