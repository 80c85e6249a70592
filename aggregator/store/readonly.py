"""``aggregator sql``: one statement on a read-only connection (SQLite opened read-only with
ATTACH denied; PostgreSQL in a READ ONLY transaction with a prepared statement)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from aggregator.errors import AggregatorError, StoreError
from aggregator.store.engine import describe_url, sqlite_path, store_errors


class ReadOnlySQLError(AggregatorError):
    """A statement given to ``aggregator sql`` failed or tried to write."""


@dataclass(frozen=True, slots=True)
class SQLResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _deny_attach(action: int, *_args: object) -> int:
    """SQLite authorizer for the read-only `sql` connection: no ATTACH or DETACH."""
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _readonly_engine(url: str) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = sqlite_path(parsed)
        if path is None:
            raise StoreError("sql needs an SQLite file or a PostgreSQL database, not :memory:")
        if not path.is_file():
            raise StoreError(f"database file {path} does not exist")
        uri = f"file:{quote(str(path.resolve()))}?mode=ro"

        def connect() -> sqlite3.Connection:
            # mode=ro is enforced by SQLite itself; query_only also stops temp-table writes.
            connection = sqlite3.connect(uri, uri=True, timeout=30)
            connection.execute("PRAGMA query_only = ON")
            # mode=ro covers only the main database: ATTACH could create or write another file.
            connection.set_authorizer(_deny_attach)
            return connection

        return sa.create_engine("sqlite://", creator=connect)
    if backend == "postgresql":
        return sa.create_engine(parsed, isolation_level="AUTOCOMMIT")
    raise StoreError(f"sql supports SQLite and PostgreSQL, not {backend!r}")


def run_readonly_sql(url: str, statement: str) -> SQLResult:
    """Run one statement on a read-only connection; writes and several statements fail."""
    if not statement.strip():
        raise ReadOnlySQLError("no SQL statement given")
    engine = _readonly_engine(url)
    try:
        with store_errors(engine.url), engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            if raw is None:  # pragma: no cover - a live connection always has one
                raise StoreError(f"cannot connect to {describe_url(url)}")
            cursor: Any = raw.cursor()
            try:
                if engine.dialect.name == "postgresql":
                    cursor.execute("BEGIN READ ONLY")
                    # A prepared statement cannot hold several commands, so "...; COMMIT;
                    # DELETE ..." cannot escape the read-only transaction.
                    cursor.execute(statement, prepare=True)
                else:
                    cursor.execute(statement)
                columns = tuple(d[0] for d in cursor.description or ())
                rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
            except (sqlite3.Error, DBAPIError, Exception) as exc:
                if engine.dialect.name == "postgresql":
                    raw.rollback()
                raise ReadOnlySQLError(
                    f"SQL failed (read-only connection): {_first_line(exc)}"
                ) from exc
            finally:
                if engine.dialect.name == "postgresql":
                    raw.rollback()
                cursor.close()
        return SQLResult(columns=columns, rows=rows)
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
