"""Saved searches: one TOML file per search in a queries folder."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aggregator.errors import ConfigError, QueryFileError

REQUIRED_KEYS = ("name", "term", "start_date")
OPTIONAL_KEYS = ("description", "enabled")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class SavedQuery:
    name: str
    term: str  # PubMed query, whitespace folded to single spaces
    start_date: dt.date  # where the first harvest starts
    description: str = ""
    enabled: bool = True
    path: Path | None = None


def parse_query_file(path: Path) -> SavedQuery:
    """Read and validate one saved-search file; errors name the file and the problem."""
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise QueryFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise QueryFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise QueryFileError(f"{path}: invalid TOML: {exc}") from exc
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        allowed = ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS)
        raise QueryFileError(f"{path}: unknown key {unknown[0]!r} (allowed: {allowed})")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise QueryFileError(f"{path}: missing required key {missing[0]!r}")
    name, term, start = data["name"], data["term"], data["start_date"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise QueryFileError(
            f"{path}: 'name' must be lowercase letters, digits, '-' or '_' (got {name!r})"
        )
    if not isinstance(term, str) or not term.strip():
        raise QueryFileError(f"{path}: 'term' must be a non-empty string")
    if isinstance(start, dt.datetime):
        start = start.date()
    if not isinstance(start, dt.date):
        raise QueryFileError(
            f"{path}: 'start_date' must be a TOML date like 1950-01-01 (got {start!r})"
        )
    if start > dt.date.today():
        raise QueryFileError(f"{path}: 'start_date' {start.isoformat()} is in the future")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise QueryFileError(f"{path}: 'description' must be a string")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise QueryFileError(f"{path}: 'enabled' must be true or false")
    return SavedQuery(
        name=name,
        term=" ".join(term.split()),
        start_date=start,
        description=description.strip(),
        enabled=enabled,
        path=path,
    )


def shipped_queries_dir() -> Path:
    """The saved searches that come with the package (or the repo's queries/ in a checkout)."""
    packaged = resources.files("aggregator") / "_shipped" / "queries"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parent.parent / "queries"


def resolve_queries_dir(configured: Path | None) -> Path:
    """The folder given (flag/env), else ./queries when present, else the shipped searches."""
    if configured is not None:
        if not configured.is_dir():
            raise QueryFileError(f"{configured}: queries folder does not exist")
        return configured
    local = Path.cwd() / "queries"
    if local.is_dir() and any(local.glob("*.toml")):
        return local
    return shipped_queries_dir()


def load_queries(folder: Path) -> list[SavedQuery]:
    """All saved searches in a folder, sorted by name; duplicate names are refused."""
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise QueryFileError(f"{folder}: no saved searches (*.toml) found")
    queries: list[SavedQuery] = []
    seen: dict[str, Path] = {}
    for path in files:
        query = parse_query_file(path)
        if query.name in seen:
            raise QueryFileError(
                f"{path}: name {query.name!r} is already used by {seen[query.name]}"
            )
        seen[query.name] = path
        queries.append(query)
    return sorted(queries, key=lambda q: q.name)


def select_queries(folder: Path, names: Sequence[str] = ()) -> list[SavedQuery]:
    """The saved searches in ``folder``: all of them, or those named (in that order); an
    unknown name is a ConfigError naming the folder and the known searches."""
    queries = load_queries(folder)
    if not names:
        return queries
    by_name = {q.name: q for q in queries}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(
            f"unknown saved search {unknown[0]!r} in {folder}; known: {', '.join(sorted(by_name))}"
        )
    return [by_name[n] for n in names]
