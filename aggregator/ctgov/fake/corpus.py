"""The synthetic registry corpus shipped with the package: base studies plus a timeline.

Layout (see corpus/README.md)::

    corpus/base/<NCT id>.json                 one study per file, as GET /studies/{nctId}
                                              returns it (whole record)
    corpus/timeline/<ISO week>/<NCT id>.json  a study that first appears that week (new NCT
                                              id) or a new version of one (same NCT id)

Every file has a top-level ``"_synthetic"`` note saying it is invented; the loader drops keys
starting with ``_``, so the server never sends them. A timeline event happens on the
version's ``lastUpdatePostDateStruct.date``.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aggregator.ctgov.studies import parse_study
from aggregator.errors import ParseError

# The day the base corpus describes, the same as the PubMed demo corpus
# (aggregator.pubmed.fake.BASE_TODAY): every base study was last updated before it, and no
# timeline event has happened yet (the timeline starts in ISO week 2026-W47).
BASE_TODAY = dt.date(2026, 11, 15)
SYNTHETIC_NOTE = (
    "SYNTHETIC TEST DATA: an invented ClinicalTrials.gov record for the aggregator's tests and "
    "demo. The NCT id (NCT99000000 and up), sponsors, titles and dates are fictitious and "
    "describe no real study."
)


@dataclass(frozen=True)
class RegistryEvent:
    """A study version that becomes visible on ``date`` (its LastUpdatePostDate)."""

    date: dt.date
    week: str  # ISO week folder, e.g. "2026-W47"
    nct_id: str
    study: dict[str, Any]
    source: Path


def corpus_dir() -> Path:
    """Folder holding base/ and timeline/ (inside the installed package)."""
    return Path(str(resources.files("aggregator.ctgov.fake") / "corpus"))


def load_study_file(path: Path) -> dict[str, Any]:
    """One corpus file as a study object (``_`` keys dropped), checked by the real parser."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ParseError(f"{path}: cannot read ({exc.strerror})") from exc
    except ValueError as exc:
        raise ParseError(f"{path}: not valid JSON ({' '.join(str(exc).split())})") from None
    if not isinstance(data, dict):
        raise ParseError(f"{path}: a study file must hold one JSON object")
    study = {key: value for key, value in data.items() if not key.startswith("_")}
    trial = parse_study(study, source=str(path))
    if path.stem != trial.nct_id:
        raise ParseError(f"{path}: file name does not match nctId {trial.nct_id}")
    return study


def load_base_studies(folder: Path | None = None) -> list[dict[str, Any]]:
    """The base corpus (fresh copies), sorted by NCT id."""
    return copy.deepcopy(list(_cached_base(folder or corpus_dir())))


@functools.lru_cache(maxsize=4)
def _cached_base(folder: Path) -> tuple[dict[str, Any], ...]:
    return tuple(load_study_file(path) for path in sorted((folder / "base").glob("*.json")))


def load_timeline(folder: Path | None = None) -> list[RegistryEvent]:
    """Timeline events (fresh copies) in date order."""
    return copy.deepcopy(list(_cached_timeline(folder or corpus_dir())))


@functools.lru_cache(maxsize=4)
def _cached_timeline(folder: Path) -> tuple[RegistryEvent, ...]:
    root = folder / "timeline"
    events: list[RegistryEvent] = []
    weeks = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for week_dir in weeks:
        for path in sorted(week_dir.glob("*.json")):
            study = load_study_file(path)
            trial = parse_study(study, source=str(path))
            if trial.last_update_posted is None or trial.last_update_posted.date.day is None:
                raise ParseError(f"{path}: a timeline study needs a full lastUpdatePostDate")
            date = trial.last_update_posted.date.earliest()
            events.append(RegistryEvent(date, week_dir.name, trial.nct_id, study, path))
    return tuple(sorted(events, key=lambda e: (e.date, e.nct_id)))


def build_study(
    nct_id: str,
    *,
    title: str = "Synthetic study",
    status: str = "RECRUITING",
    conditions: Sequence[str] = ("Migraine",),
    interventions: Sequence[tuple[str, str]] = (("DIETARY_SUPPLEMENT", "Magnesium oxide"),),
    last_update: dt.date = dt.date(2026, 1, 5),
    first_posted: dt.date | None = None,
    references: Sequence[tuple[int, str]] = (),
    has_results: bool = False,
) -> dict[str, Any]:
    """A small synthetic study object in the API's shape, for tests (``add_study``).

    ``interventions`` are (type, name) pairs; ``references`` (pmid, type) pairs.
    """
    posted = (first_posted or last_update).isoformat()
    protocol: dict[str, Any] = {
        "identificationModule": {"nctId": nct_id, "briefTitle": title},
        "statusModule": {
            "overallStatus": status,
            "studyFirstPostDateStruct": {"date": posted, "type": "ACTUAL"},
            "lastUpdatePostDateStruct": {"date": last_update.isoformat(), "type": "ACTUAL"},
        },
        "conditionsModule": {"conditions": list(conditions)},
        "designModule": {"studyType": "INTERVENTIONAL", "phases": ["NA"]},
        "armsInterventionsModule": {
            "interventions": [{"type": kind, "name": name} for kind, name in interventions]
        },
    }
    if references:
        protocol["referencesModule"] = {
            "references": [
                {"pmid": str(pmid), "type": kind, "citation": "Synthetic citation."}
                for pmid, kind in references
            ]
        }
    return {"protocolSection": protocol, "hasResults": has_results}
