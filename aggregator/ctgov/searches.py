"""Saved registry searches: one TOML file per search in ``queries/registry/``.

They sit beside the PubMed searches (``queries/*.toml``) and follow the same rules: the name
is lowercase letters, digits, ``-`` and ``_``; unknown keys and malformed files are refused
with the file name and the problem; ``start_date`` is a TOML date, not in the future;
``enabled = false`` switches a search off. The search itself is given in the API's own
parameter names, as TOML dotted keys::

    name = "ctgov-magnesium-migraine"
    description = "Magnesium in migraine or headache"
    start_date = 2000-01-01
    query.cond = "migraine OR headache"     # ClinicalTrials.gov query.cond (conditions area)
    query.intr = "magnesium"                # query.intr (interventions area)
    # query.term = "..."                    # query.term (basic search: most text fields)

At least one of ``query.cond``, ``query.intr`` and ``query.term`` is required; values are
Essie expressions (``OR``, ``AND``, ``"phrases"``), whitespace folded to single spaces.

Checkpoint rules, as for PubMed: ``start_date`` is where the first harvest starts (the
earliest LastUpdatePostDate asked for); later harvests ask from the last checkpoint day
(inclusive). :attr:`RegistrySearch.fingerprint` changes when any query value changes, so an
edited search restarts from ``start_date``.

Where the files are found (:func:`resolve_registry_dir`), as for the PubMed searches: the
``registry/`` folder of a configured queries folder (``--queries`` / ``AGGREGATOR_QUERIES``),
else ``./queries/registry`` when it holds ``*.toml`` files, else the searches shipped with
the package (the wheel force-includes ``queries/``, so ``queries/registry/`` ships too). A
configured queries folder without ``registry/`` means "no registry searches" (None), not
"use the shipped ones". Registry names should differ from the PubMed search names: both
kinds will share one checkpoint table.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aggregator.errors import QueryFileError
from aggregator.queries import NAME_RE, shipped_queries_dir

REGISTRY_FOLDER = "registry"
REQUIRED_KEYS = ("name", "start_date", "query")
OPTIONAL_KEYS = ("description", "enabled")
# TOML key under [query] -> API parameter
QUERY_KEYS: dict[str, str] = {"cond": "query.cond", "intr": "query.intr", "term": "query.term"}


@dataclass(frozen=True)
class RegistrySearch:
    """One saved ClinicalTrials.gov search (the API's query.cond / query.intr / query.term)."""

    name: str
    start_date: dt.date
    cond: str | None = None
    intr: str | None = None
    term: str | None = None
    description: str = ""
    enabled: bool = True
    path: Path | None = None

    def __post_init__(self) -> None:
        if not (self.cond or self.intr or self.term):
            raise ValueError("a registry search needs query.cond, query.intr or query.term")

    @property
    def params(self) -> dict[str, str]:
        """The API query parameters, e.g. ``{"query.cond": ..., "query.intr": ...}``."""
        values = {"cond": self.cond, "intr": self.intr, "term": self.term}
        return {QUERY_KEYS[key]: value for key, value in values.items() if value}

    @property
    def fingerprint(self) -> str:
        """Changes when any query value changes (editing a search restarts its harvest)."""
        canonical = "\n".join(f"{key}={value}" for key, value in sorted(self.params.items()))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]

    def describe(self) -> str:
        """``query.cond="migraine OR headache" query.intr="magnesium"``."""
        return " ".join(f'{key}="{value}"' for key, value in self.params.items())


def parse_registry_file(path: Path, *, today: dt.date | None = None) -> RegistrySearch:
    """Read and validate one registry search file; errors name the file and the problem."""
    data = _read_toml(path)
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        allowed = ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS)
        raise QueryFileError(f"{path}: unknown key {unknown[0]!r} (allowed: {allowed})")
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise QueryFileError(f"{path}: missing required key {missing[0]!r}")
    name, start, query = data["name"], data["start_date"], data["query"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise QueryFileError(
            f"{path}: 'name' must be lowercase letters, digits, '-' or '_' (got {name!r})"
        )
    if isinstance(start, dt.datetime):
        start = start.date()
    if not isinstance(start, dt.date):
        raise QueryFileError(
            f"{path}: 'start_date' must be a TOML date like 2000-01-01 (got {start!r})"
        )
    if start > (today or dt.date.today()):
        raise QueryFileError(f"{path}: 'start_date' {start.isoformat()} is in the future")
    values = _query_values(path, query)
    description = data.get("description", "")
    if not isinstance(description, str):
        raise QueryFileError(f"{path}: 'description' must be a string")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise QueryFileError(f"{path}: 'enabled' must be true or false")
    return RegistrySearch(
        name=name,
        start_date=start,
        cond=values.get("cond"),
        intr=values.get("intr"),
        term=values.get("term"),
        description=description.strip(),
        enabled=enabled,
        path=path,
    )


def load_registry_searches(folder: Path) -> list[RegistrySearch]:
    """All registry searches in a folder, sorted by name; duplicate names are refused."""
    if not folder.is_dir():
        raise QueryFileError(f"{folder}: registry searches folder does not exist")
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise QueryFileError(f"{folder}: no saved registry searches (*.toml) found")
    searches: list[RegistrySearch] = []
    seen: dict[str, Path] = {}
    for path in files:
        search = parse_registry_file(path)
        if search.name in seen:
            raise QueryFileError(
                f"{path}: name {search.name!r} is already used by {seen[search.name]}"
            )
        seen[search.name] = path
        searches.append(search)
    return sorted(searches, key=lambda s: s.name)


def shipped_registry_dir() -> Path:
    """The registry searches that come with the package (or the checkout's queries/registry)."""
    return shipped_queries_dir() / REGISTRY_FOLDER


def resolve_registry_dir(configured: Path | None) -> Path | None:
    """``<configured>/registry`` (None when absent), else ./queries/registry when it holds
    searches, else the shipped ones. ``configured`` is the queries folder (flag/env)."""
    if configured is not None:
        if not configured.is_dir():
            raise QueryFileError(f"{configured}: queries folder does not exist")
        folder = configured / REGISTRY_FOLDER
        return folder if folder.is_dir() else None
    local = Path.cwd() / "queries" / REGISTRY_FOLDER
    if local.is_dir() and any(local.glob("*.toml")):
        return local
    return shipped_registry_dir()


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QueryFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise QueryFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise QueryFileError(f"{path}: invalid TOML: {exc}") from exc


def _query_values(path: Path, query: object) -> dict[str, str]:
    if not isinstance(query, Mapping):
        raise QueryFileError(
            f"{path}: 'query' must be a table of query.cond / query.intr / query.term values"
        )
    unknown = sorted(set(query) - set(QUERY_KEYS))
    if unknown:
        raise QueryFileError(
            f"{path}: unknown key 'query.{unknown[0]}' (allowed: query.cond, query.intr, "
            "query.term)"
        )
    values: dict[str, str] = {}
    for key, value in query.items():
        if not isinstance(value, str) or not value.strip():
            raise QueryFileError(f"{path}: 'query.{key}' must be a non-empty string")
        values[key] = " ".join(value.split())
    if not values:
        raise QueryFileError(f"{path}: 'query' needs at least one of cond, intr or term")
    return values
