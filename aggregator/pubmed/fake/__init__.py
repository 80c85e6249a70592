"""Local stand-in for NCBI E-utilities plus the synthetic PubMed corpus it serves.

Used by the tests and by ``aggregator run --demo``. Nothing here touches the network except
the server's own socket on 127.0.0.1.
"""

from __future__ import annotations

from aggregator.pubmed.fake.corpus import (
    BASE_TODAY,
    TimelineEvent,
    corpus_dir,
    load_base_records,
    load_timeline,
)
from aggregator.pubmed.fake.records import (
    AbstractPart,
    AuthorEntry,
    CommentEntry,
    MeshEntry,
    PubmedRecord,
    parse_records,
    render_record,
)
from aggregator.pubmed.fake.server import (
    FAULT_KINDS,
    HOSTILE_FAULT_KINDS,
    FakeEutils,
    FakeEutilsError,
    RequestLogEntry,
)

__all__ = [
    "BASE_TODAY",
    "FAULT_KINDS",
    "HOSTILE_FAULT_KINDS",
    "AbstractPart",
    "AuthorEntry",
    "CommentEntry",
    "FakeEutils",
    "FakeEutilsError",
    "MeshEntry",
    "PubmedRecord",
    "RequestLogEntry",
    "TimelineEvent",
    "corpus_dir",
    "load_base_records",
    "load_timeline",
    "parse_records",
    "render_record",
]
