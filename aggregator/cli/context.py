"""What every CLI command needs: settings resolved once, and the engine/client built from them.

Built on demand from the command's flags (which win over the environment, which wins over the
defaults); nothing is created at import time.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aggregator.errors import AggregatorError
from aggregator.queries import SavedQuery, resolve_queries_dir, select_queries
from aggregator.settings import Settings, default_db_url, load_settings

if TYPE_CHECKING:  # loaded by the commands that need them (start-up time)
    from sqlalchemy.engine import Engine

    from aggregator.jobs.delivery import SmtpSettings
    from aggregator.pubmed.eutils import EutilsClient
    from aggregator.store.lock import RunLock

F = TypeVar("F", bound=Callable[..., Any])

# Where `run --demo` writes unless --db/--out say otherwise (relative to the working directory).
DEMO_DB = Path("db") / "demo.sqlite"
DEMO_OUT = Path("digests-demo")

# flag name -> load_settings() keyword
_SETTING_FLAGS = {
    "db": "db_url",
    "queries": "queries_dir",
    "out": "out_dir",
    "eutils_url": "eutils_url",
    "email": "email",
    "ctgov_url": "ctgov_url",
}


def settings_options(func: F) -> F:
    """Add --db/--queries/--out/--eutils-url/--email/--ctgov-url to a command (also accepted on
    the group)."""
    options = [
        click.option(
            "--db",
            "db",
            metavar="URL|PATH",
            default=None,
            help="Database URL (sqlite:///..., postgresql+psycopg://...) or an SQLite file path. "
            "Env: AGGREGATOR_DB. Default: db/aggregator.sqlite.",
        ),
        click.option(
            "--queries",
            "queries",
            metavar="DIR",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Folder of saved searches (*.toml). Env: AGGREGATOR_QUERIES. "
            "Default: ./queries, else the searches shipped with the package.",
        ),
        click.option(
            "--out",
            "out",
            metavar="DIR",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help="Digest output folder. Env: AGGREGATOR_OUT. Default: digests/.",
        ),
        click.option(
            "--eutils-url",
            "eutils_url",
            metavar="URL",
            default=None,
            help="E-utilities base URL. Env: NCBI_EUTILS_URL. Default: NCBI's.",
        ),
        click.option(
            "--email",
            "email",
            metavar="ADDRESS",
            default=None,
            help="Contact e-mail sent to NCBI with every request. Env: NCBI_EMAIL.",
        ),
        click.option(
            "--ctgov-url",
            "ctgov_url",
            metavar="URL",
            default=None,
            help="ClinicalTrials.gov API v2 base URL. Env: CTGOV_API_URL. "
            "Default: https://clinicaltrials.gov/api/v2/.",
        ),
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # ensure_object: the group's own flags (`aggregator --db X query`) arrive before any
        # command has created the context object; they must not be dropped.
        app = click.get_current_context().ensure_object(AppContext)
        app.update({k: kwargs.pop(k) for k in list(kwargs) if k in _SETTING_FLAGS})
        return func(*args, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


class AppContext:
    """Per-invocation state shared by the CLI commands."""

    def __init__(self) -> None:
        self.overrides: dict[str, Any] = {}
        self.verbosity = 0
        self._settings: Settings | None = None
        self._engine: Engine | None = None

    def update(self, flags: dict[str, Any]) -> None:
        for flag, value in flags.items():
            if value is not None:
                self.overrides[_SETTING_FLAGS[flag]] = value
                self._settings = None

    def set_defaults(self, **values: Any) -> None:
        """Settings to use unless a flag gave them (e.g. the demo's own database)."""
        for key, value in values.items():
            self.overrides.setdefault(key, value)
        self._settings = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(**self.overrides)
        return self._settings

    def engine(self) -> Engine:
        """The database, migrated to the current schema."""
        if self._engine is None:
            from aggregator.store.engine import open_engine

            self._engine = open_engine(self.settings.db_url)
        return self._engine

    def run_lock(self) -> RunLock:
        """The run lock of the database: held by every command that writes to it."""
        from aggregator.store.lock import RunLock

        return RunLock(self.engine())

    def database_exists(self) -> bool:
        """False only for an SQLite file that has not been created yet."""
        from aggregator.store.engine import database_exists

        return database_exists(self.settings.db_url)

    def library_engine(self) -> Engine:
        """The database of a command that reads it (query, show, export, stats, status,
        digest, retag): refused with one line naming it when it does not exist, so a typo in
        --db never creates an empty database; a note on stderr when it is the default one,
        empty, and the demo's database exists."""
        if not self.database_exists():
            raise AggregatorError(self._missing_database_message())
        engine = self.engine()
        if self._demo_is_the_alternative():
            from aggregator.jobs.library import stored_article_count

            if stored_article_count(engine) == 0:
                click.echo(
                    f"note: {self._database_name()} holds no articles; the demo's database is "
                    f"{DEMO_DB}: add --db {DEMO_DB}",
                    err=True,
                )
        return engine

    def _database_name(self) -> str:
        from aggregator.store.engine import describe_url

        return describe_url(self.settings.db_url)

    def _demo_is_the_alternative(self) -> bool:
        """The database is the default one and `run --demo` has written its database here."""
        return self.settings.db_url == default_db_url() and DEMO_DB.is_file()

    def _missing_database_message(self) -> str:
        text = f"database file {self._database_name()} does not exist"
        if self._demo_is_the_alternative():
            return text + f"; the demo's database is {DEMO_DB}: add --db {DEMO_DB}"
        return text + (
            " (check --db or AGGREGATOR_DB; `aggregator run`, `aggregator import` or "
            "`aggregator run --demo` create one)"
        )

    def configure_logging(
        self, log_file: Path | None = None, *, default_level: int = logging.WARNING
    ) -> None:
        """The one logging set-up of every command: one-line events on stderr at
        ``default_level`` (WARNING; each -v one step more), also to ``log_file`` (at least
        INFO: a log file is for the record), with the API key and the SMTP password
        redacted everywhere."""
        from aggregator.logconfig import configure_logging

        level = max(logging.DEBUG, default_level - 10 * min(self.verbosity, 2))
        if log_file is not None:
            level = min(level, logging.INFO)
        secrets = [self.settings.api_key] if self.settings.api_key else []
        if self.smtp is not None:
            secrets.extend(self.smtp.secrets())
        configure_logging(level, log_file=log_file, secrets=secrets)
        # alembic narrates every migration at INFO; only its warnings matter to users.
        logging.getLogger("alembic").setLevel(max(level, logging.WARNING))

    @property
    def smtp(self) -> SmtpSettings | None:
        """E-mail delivery settings (AGGREGATOR_SMTP_URL, AGGREGATOR_SMTP_TO), or None: off."""
        from aggregator.jobs.delivery import load_smtp_settings

        return load_smtp_settings(os.environ)

    def eutils_client(self) -> EutilsClient:
        """An E-utilities client from the settings (warns when no contact e-mail is set)."""
        from aggregator.pubmed.eutils import EutilsClient

        if not self.settings.email:
            # NCBI asks every E-utilities tool to identify itself with a contact address.
            click.echo(
                "warning: NCBI_EMAIL is not set; NCBI asks for a contact e-mail with every "
                "request (set NCBI_EMAIL or pass --email)",
                err=True,
            )
        return EutilsClient(self.settings)

    def saved_queries(self, names: Sequence[str] = ()) -> list[SavedQuery]:
        """The saved searches of the queries folder: all, or those ``names``."""
        return select_queries(resolve_queries_dir(self.settings.queries_dir), names)

    @property
    def interactive(self) -> bool:
        return sys.stderr.isatty()

    def close(self) -> None:
        from aggregator.logconfig import remove_logging_handlers

        remove_logging_handlers()  # the stderr handler must not outlive this invocation
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
