"""The synthetic corpus shipped with the package: base records plus a timeline of later events.

Layout (see corpus/README.md)::

    corpus/base/<pmid>.xml                 one PubmedArticleSet per record
    corpus/timeline/<ISO week>/<pmid>.xml  a record that appears that week (new PMID), or a
                                           revised version of an existing PMID (same PMID)
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aggregator.errors import ParseError
from aggregator.pubmed.fake.records import PubmedRecord, parse_records

# The "current date" the base corpus was written for: every base record exists by then and no
# timeline event has happened yet (the timeline starts in ISO week 2026-W47).
BASE_TODAY = dt.date(2026, 11, 15)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """A record that becomes visible (new) or changes (revised) on ``date``."""

    date: dt.date
    week: str  # ISO week folder, e.g. "2026-W47"
    record: PubmedRecord
    source: Path

    @property
    def is_revision_of_base(self) -> bool:
        return self.source.stem.endswith("-revised")


def corpus_dir() -> Path:
    """Folder holding base/ and timeline/ (inside the installed package)."""
    return Path(str(resources.files("aggregator.pubmed.fake") / "corpus"))


def load_file(path: Path) -> list[PubmedRecord]:
    """All records in one corpus file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ParseError(f"{path}: cannot read ({exc.strerror})") from exc
    return parse_records(data, source=str(path))


def load_base_records(folder: Path | None = None) -> list[PubmedRecord]:
    """The base corpus, sorted by PMID."""
    return list(_cached_base(folder or corpus_dir()))


@functools.lru_cache(maxsize=4)
def _cached_base(folder: Path) -> tuple[PubmedRecord, ...]:
    # Records are frozen, so every server (and test) can share one parse of the files.
    base = folder / "base"
    records = [record for path in sorted(base.glob("*.xml")) for record in load_file(path)]
    return tuple(sorted(records, key=lambda r: r.pmid))


def load_timeline(folder: Path | None = None) -> list[TimelineEvent]:
    """Timeline events in date order. A revision's date is its DateRevised (mdat); a new
    record's date is its create date (crdt)."""
    return list(_cached_timeline(folder or corpus_dir()))


@functools.lru_cache(maxsize=4)
def _cached_timeline(folder: Path) -> tuple[TimelineEvent, ...]:
    root = folder / "timeline"
    events: list[TimelineEvent] = []
    for week_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for path in sorted(week_dir.glob("*.xml")):
            for record in load_file(path):
                revised = path.stem.endswith("-revised")
                date = record.mdat if revised else record.crdt.date()
                events.append(TimelineEvent(date, week_dir.name, record, path))
    return tuple(sorted(events, key=lambda e: (e.date, e.record.pmid, e.source.name)))
