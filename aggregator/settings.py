"""Settings resolved from flags, then environment variables, then defaults.

Nothing here is read at import time: :func:`load_settings` builds a :class:`Settings` each
time it is called, so tests and the CLI pass explicit values around.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aggregator.errors import ConfigError

DEFAULT_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
DEFAULT_CTGOV_URL = "https://clinicaltrials.gov/api/v2/"
DEFAULT_TOOL = "mg-migraine-aggregator"  # NCBI asks each tool to name itself distinctly
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_db_url(base: Path | None = None) -> str:
    """SQLite file under ``db/`` of the working directory."""
    root = base or Path.cwd()
    return f"sqlite:///{root / 'db' / 'aggregator.sqlite'}"


@dataclass(frozen=True)
class Settings:
    eutils_url: str = DEFAULT_EUTILS_URL
    api_key: str | None = field(default=None, repr=False)  # never printed
    email: str | None = None
    tool: str = DEFAULT_TOOL
    db_url: str = field(default_factory=default_db_url)
    queries_dir: Path | None = None  # None: ./queries if present, else the shipped searches
    out_dir: Path = Path("digests")
    ctgov_url: str = DEFAULT_CTGOV_URL  # ClinicalTrials.gov API v2 base URL

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key)

    def redact(self, text: str) -> str:
        """Remove the API key from any text that might be shown or stored."""
        if self.api_key:
            text = text.replace(self.api_key, "***")
        return text


def load_settings(
    *,
    eutils_url: str | None = None,
    api_key: str | None = None,
    email: str | None = None,
    tool: str | None = None,
    db_url: str | None = None,
    queries_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    ctgov_url: str | None = None,
) -> Settings:
    """Resolve settings: explicit arguments (flags) win over the environment over defaults."""
    env = os.environ if environ is None else environ

    def pick(flag: str | Path | None, var: str) -> str | None:
        if flag is not None and str(flag) != "":
            return str(flag)
        value = env.get(var)
        return value if value else None

    url = pick(eutils_url, "NCBI_EUTILS_URL") or DEFAULT_EUTILS_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"NCBI_EUTILS_URL must be an http(s) URL, got {url!r}")
    if not url.endswith("/"):
        url += "/"
    registry_url = pick(ctgov_url, "CTGOV_API_URL") or DEFAULT_CTGOV_URL
    if not registry_url.startswith(("http://", "https://")):
        raise ConfigError(f"CTGOV_API_URL must be an http(s) URL, got {registry_url!r}")
    if not registry_url.endswith("/"):
        registry_url += "/"
    tool_name = pick(tool, "NCBI_TOOL") or DEFAULT_TOOL
    if any(ch.isspace() for ch in tool_name):
        raise ConfigError(f"NCBI_TOOL must not contain spaces, got {tool_name!r}")
    queries = pick(queries_dir, "AGGREGATOR_QUERIES")
    return Settings(
        eutils_url=url,
        api_key=pick(api_key, "NCBI_API_KEY"),
        email=pick(email, "NCBI_EMAIL"),
        tool=tool_name,
        db_url=normalise_db_url(pick(db_url, "AGGREGATOR_DB") or default_db_url()),
        queries_dir=Path(queries) if queries else None,
        out_dir=Path(pick(out_dir, "AGGREGATOR_OUT") or "digests"),
        ctgov_url=registry_url,
    )


def normalise_db_url(value: str) -> str:
    """Accept a database URL or a plain file path (taken as an SQLite file)."""
    if "://" in value:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            # SQLAlchemy would pick psycopg2 for a bare URL; we ship psycopg 3.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"
