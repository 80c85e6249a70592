"""Engines from database URLs, SQLite settings, and schema migrations on open.

:func:`open_engine` is the one entry point the CLI and pipeline need: it creates the engine,
brings the schema to the version this code knows (a new database is built by running the
alembic migrations, an older one is upgraded in place) and turns every way this can go wrong
into a one-line :class:`~aggregator.errors.StoreError`.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, cast

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Session

from aggregator.errors import StoreError

DEFAULT_BUSY_TIMEOUT_S = 30.0
# Serialises concurrent migrations on PostgreSQL (any constant shared by all processes works).
_PG_MIGRATION_LOCK_KEY = 0x4D67_4D69  # "MgMi"
# A table that only an aggregator schema has: present without alembic_version means trouble.
_MARKER_TABLE = "article"


def migrations_dir() -> Path:
    """Where the alembic scripts are: shipped inside the wheel, else the repo's db/migrations."""
    shipped = resources.files("aggregator") / "_shipped" / "migrations"
    if shipped.is_dir() and (shipped / "env.py").is_file():
        return Path(str(shipped))
    repo = Path(__file__).resolve().parent.parent.parent / "db" / "migrations"
    if (repo / "env.py").is_file():
        return repo
    raise StoreError(f"database migration scripts not found (looked in {shipped} and {repo})")


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic Config built in code (no alembic.ini needed), optionally bound to a connection."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the scripts ship with the package
        raise StoreError("database migration scripts contain no revisions")
    return head


def known_revisions() -> set[str]:
    """All schema revisions this code knows."""
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def describe_url(url: str | URL) -> str:
    """The database for messages: an SQLite file's path, else the URL with its password hidden."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "<invalid database URL>"
    path = sqlite_path(parsed)
    return str(path) if path is not None else parsed.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file behind an SQLite URL, or None for in-memory and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _json_text(value: Any) -> str:
    """A JSON column value as text (compact, characters kept as UTF-8)."""
    return orjson.dumps(value).decode()


def database_exists(url: str) -> bool:
    """False only for an SQLite file that has not been created yet (a server database is
    taken to exist: connecting says otherwise)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return True
    return Path(parsed.database).exists()


def create_store_engine(url: str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Engine:
    """Create an engine (no migrations): SQLite gets WAL, foreign keys and a busy timeout.

    The parent directory of an SQLite file is created when missing.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {url!r}: {exc}") from exc
    # JSON columns (authors, MeSH, ...) written and read by orjson: the same values, in C.
    kwargs: dict[str, Any] = {"json_serializer": _json_text, "json_deserializer": orjson.loads}
    path = sqlite_path(parsed)
    if parsed.get_backend_name() == "sqlite":
        kwargs["connect_args"] = {"timeout": busy_timeout_s}
        if path is None:
            # In-memory: every session must see the same single connection.
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"]["check_same_thread"] = False
        else:
            _prepare_sqlite_file(path)
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        hint = ""
        if parsed.get_backend_name() == "postgresql":
            hint = "; install the 'postgres' extra (psycopg) and use postgresql+psycopg://"
        raise StoreError(f"no database driver for {parsed.drivername!r} ({exc}){hint}") from exc
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL {describe_url(parsed)}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        _install_sqlite_pragmas(engine, busy_timeout_s=busy_timeout_s, wal=path is not None)
    return engine


def _prepare_sqlite_file(path: Path) -> None:
    for ancestor in path.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise StoreError(f"cannot create database {path}: {ancestor} is not a directory")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(
            f"cannot create directory for database {path}: {exc.strerror or exc}"
        ) from exc
    if path.exists() and not path.is_file():
        raise StoreError(f"database path {path} exists but is not a file")


def _install_sqlite_pragmas(engine: Engine, *, busy_timeout_s: float, wal: bool) -> None:
    busy_ms = max(0, int(busy_timeout_s * 1000))

    @event.listens_for(engine, "connect")
    def _set_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first, so the journal_mode switch waits for other writers too.
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                # Safe with WAL (no corruption on power loss, at most the last commit lost).
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()


@contextlib.contextmanager
def store_errors(url: str | URL) -> Iterator[None]:
    """Turn database driver errors into one-line StoreErrors naming the database."""
    where = describe_url(url)
    try:
        yield
    except StoreError:
        raise
    except DBAPIError as exc:
        raise StoreError(_driver_message(where, exc, url)) from exc
    except SQLAlchemyError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"database {where}: {first_line}") from exc


# What is left on a disk when a write fails for want of space: a few pages at most.
_NEARLY_FULL_BYTES = 1 << 20
# SQLite's extended codes for a full disk: a write that found no space, and the WAL index
# (the -shm file) that could not grow (what opening a WAL database on a full disk reports).
_SQLITE_DISK_FULL = {"SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"}
_PG_DISK_FULL = "53100"  # SQLSTATE disk_full


def _driver_message(where: str, exc: DBAPIError, url: str | URL) -> str:
    detail = str(exc.orig) if exc.orig is not None else str(exc)
    first_line = detail.strip().splitlines()[0] if detail.strip() else type(exc).__name__
    lowered = first_line.lower()
    if _disk_full(exc.orig, lowered, url):
        return _disk_full_message(where, url)
    if "database is locked" in lowered or "database table is locked" in lowered:
        return f"database {where} is locked by another process; try again when it has finished"
    if "unable to open database file" in lowered:
        return f"cannot open database {where}: the file or its directory is not accessible"
    if "readonly database" in lowered or "read-only" in lowered:
        return f"database {where} is read-only; check the file's permissions"
    if "disk i/o error" in lowered or "not a database" in lowered:
        return f"database {where} is damaged or not an SQLite database: {first_line}"
    return f"cannot use database {where}: {first_line}"


def _disk_full(orig: BaseException | None, lowered: str, url: str | URL) -> bool:
    """Whether a driver error means the disk is full (nothing is damaged then: the
    transaction was rolled back)."""
    if getattr(orig, "sqlite_errorname", None) in _SQLITE_DISK_FULL:
        return True
    if getattr(orig, "sqlstate", None) == _PG_DISK_FULL:
        return True
    if "database or disk is full" in lowered or "no space left on device" in lowered:
        return True
    if "disk i/o error" not in lowered:
        return False
    # A failed write on SQLite's other paths is a "disk I/O error": a full disk when the
    # database's disk has (next to) no space left.
    try:
        path = sqlite_path(make_url(url))
        return path is not None and shutil.disk_usage(path.parent).free < _NEARLY_FULL_BYTES
    except (ArgumentError, OSError):
        return False


def _disk_full_message(where: str, url: str | URL) -> str:
    rolled_back = "nothing was lost (the unfinished change was rolled back)"
    if str(url).startswith("sqlite"):
        return (
            f"the disk holding database {where} is full; {rolled_back}: free some space, "
            "then run the command again"
        )
    return (
        f"the disk of the database server is full (database {where}); {rolled_back}: free "
        "space on the server, then run the command again"
    )


def current_revision(connection: Connection) -> str | None:
    """The schema revision stamped in the database (None for a fresh one)."""
    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) > 1:
        raise StoreError(f"database has several schema versions {', '.join(heads)}; repair it")
    return heads[0] if heads else None


def check_schema_version(connection: Connection) -> str | None:
    """Refuse a database stamped with a revision this code does not know (a newer aggregator)."""
    revision = current_revision(connection)
    if revision is not None and revision not in known_revisions():
        raise StoreError(
            f"database schema {revision} is newer than this version of aggregator supports; "
            "upgrade aggregator"
        )
    if revision is None and sa.inspect(connection).has_table(_MARKER_TABLE):
        raise StoreError(
            f"database has an {_MARKER_TABLE!r} table but no schema version; "
            "it was not created by aggregator"
        )
    return revision


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` in one transaction (serialised on PostgreSQL)."""
    _migrate(engine, revision, command.upgrade)


def downgrade_database(engine: Engine, revision: str) -> None:
    """Run the downgrade migrations back to ``revision`` (for repairs and tests)."""
    _migrate(engine, revision, command.downgrade)


def _migrate(engine: Engine, revision: str, step: Callable[[Config, str], None]) -> None:
    with store_errors(engine.url), engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            _migrate_sqlite(connection, revision, step)
            return
        with connection.begin():
            # PostgreSQL has transactional DDL; the advisory lock makes a second process
            # opening the same database wait, then find the schema current.
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK_KEY)))
            check_schema_version(connection)
            step(alembic_config(connection), revision)


def _migrate_sqlite(
    connection: Connection, revision: str, step: Callable[[Config, str], None]
) -> None:
    """Run migrations in one real SQLite transaction with foreign keys off.

    The sqlite3 driver normally runs DDL outside any transaction, so a failed migration would
    leave half a schema; here the driver's own transaction handling is switched off and an
    explicit BEGIN IMMEDIATE (which also makes a second migrating process wait) covers
    everything. Foreign keys are off because table rebuilds (copy, drop, rename) would
    otherwise cascade-delete child rows; the pragma only works outside a transaction.
    """
    raw = cast(sqlite3.Connection, connection.connection.dbapi_connection)
    previous_isolation = raw.isolation_level
    raw.isolation_level = None
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        with connection.begin():
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            check_schema_version(connection)
            step(alembic_config(connection), revision)
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
            if broken is not None:
                raise StoreError(
                    f"migration to {revision} left a dangling reference in table "
                    f"{broken[0]!r}; the database was not changed"
                )
    finally:
        raw.execute("PRAGMA foreign_keys = ON")
        raw.isolation_level = previous_isolation


def open_engine(
    url: str,
    *,
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    migrate: bool = True,
) -> Engine:
    """Create an engine for ``url`` and bring its schema up to date.

    Raises StoreError (one line) for a bad URL, a path that cannot be created or written, a
    locked database, a server that does not answer, or a schema newer than this code.
    """
    engine = create_store_engine(url, busy_timeout_s=busy_timeout_s)
    try:
        with store_errors(engine.url):
            with engine.connect() as connection:
                revision = check_schema_version(connection)
            if migrate and revision != head_revision():
                upgrade_database(engine)
    except BaseException:
        engine.dispose()
        raise
    return engine


def new_session(engine: Engine) -> Session:
    """A session whose objects stay readable after commit (the caller controls commits)."""
    return Session(engine, expire_on_commit=False)
