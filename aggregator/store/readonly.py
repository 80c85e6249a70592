"""``aggregator sql``: one statement on a read-only connection (SQLite opened read-only with
ATTACH denied; PostgreSQL in a READ ONLY transaction with a prepared statement), within a time
budget and a row cap.

The time budget is SQLite's progress handler (checked every few thousand virtual-machine
steps, so a statement that runs too long is interrupted) or PostgreSQL's ``statement_timeout``
on the read-only transaction. Rows are fetched in chunks (PostgreSQL streams them in chunks
from the server) and fetching stops one row past the cap: an endless result never fills the
memory, and the caller learns that rows were left out.
"""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from aggregator.errors import AggregatorError, StoreError
from aggregator.store.engine import describe_url, sqlite_path, store_errors

try:  # PostgreSQL is optional (the 'postgres' extra)
    from psycopg import capabilities as _pg_capabilities

    _PG_CHUNKS = bool(_pg_capabilities.has_stream_chunked())  # libpq 17: rows in chunks
except (ImportError, AttributeError):  # pragma: no cover - older psycopg or none
    _PG_CHUNKS = False
_PG_QUERY_CANCELED = "57014"  # SQLSTATE query_canceled (statement_timeout)
_PG_COMMAND_OK = 1  # libpq PGRES_COMMAND_OK


DEFAULT_TIMEOUT_S = 30.0
DEFAULT_MAX_ROWS = 10_000
FETCH_CHUNK = 500  # rows per fetch
_PROGRESS_STEPS = 10_000  # SQLite virtual-machine steps between two looks at the clock


class ReadOnlySQLError(AggregatorError):
    """A statement given to ``aggregator sql`` failed or tried to write."""


class SQLTimeoutError(ReadOnlySQLError):
    """The statement ran past its time budget and was stopped."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(
            f"SQL stopped after {timeout_s:g} s (--timeout {timeout_s:g}); raise it with "
            "--timeout SECONDS (0: no limit)"
        )


@dataclass(frozen=True, slots=True)
class SQLResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    truncated: bool = False  # more rows than the cap: only the first max_rows are here


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


def run_readonly_sql(
    url: str,
    statement: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> SQLResult:
    """Run one statement on a read-only connection; writes and several statements fail.

    ``timeout_s`` seconds at most (0: no limit; :class:`SQLTimeoutError` when exceeded) and
    ``max_rows`` rows at most (0: no limit; ``truncated`` says when rows were left out)."""
    if not statement.strip():
        raise ReadOnlySQLError("no SQL statement given")
    if timeout_s < 0 or max_rows < 0:
        raise ValueError("timeout_s and max_rows must be >= 0 (0: no limit)")
    engine = _readonly_engine(url)
    try:
        with store_errors(engine.url), engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            if raw is None:  # pragma: no cover - a live connection always has one
                raise StoreError(f"cannot connect to {describe_url(url)}")
            if engine.dialect.name == "postgresql":
                return _run_postgresql(raw, statement, timeout_s, max_rows)
            return _run_sqlite(raw, statement, timeout_s, max_rows)
    finally:
        engine.dispose()


def _run_sqlite(raw: Any, statement: str, timeout_s: float, max_rows: int) -> SQLResult:
    deadline = time.monotonic() + timeout_s
    timed_out = False

    def past_deadline() -> int:
        nonlocal timed_out
        timed_out = time.monotonic() > deadline
        return 1 if timed_out else 0  # non-zero interrupts the statement

    if timeout_s:
        raw.set_progress_handler(past_deadline, _PROGRESS_STEPS)
    cursor = raw.cursor()
    try:
        cursor.execute(statement)
        columns = tuple(d[0] for d in cursor.description or ())
        rows, truncated = _fetch(cursor.fetchmany, max_rows) if cursor.description else ([], False)
    except Exception as exc:
        if timed_out:
            raise SQLTimeoutError(timeout_s) from exc
        raise ReadOnlySQLError(f"SQL failed (read-only connection): {_first_line(exc)}") from exc
    finally:
        cursor.close()
        raw.set_progress_handler(None, 0)
    return SQLResult(columns=columns, rows=rows, truncated=truncated)


def _run_postgresql(raw: Any, statement: str, timeout_s: float, max_rows: int) -> SQLResult:
    cursor = raw.cursor()
    try:
        cursor.execute("BEGIN READ ONLY")
        # Local to this transaction: the server cancels the statement when time is up.
        milliseconds = str(max(1, round(timeout_s * 1000)) if timeout_s else 0)
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", (milliseconds,))
        # stream() sends the statement with the extended protocol, which holds one command
        # only, so "...; COMMIT; DELETE ..." cannot escape the read-only transaction; rows
        # come in chunks, and leaving the stream early cancels the rest on the server.
        stream = cursor.stream(statement, size=FETCH_CHUNK if _PG_CHUNKS else 1)
        try:
            rows, truncated = _fetch(lambda size: list(itertools.islice(stream, size)), max_rows)
        finally:
            stream.close()
        if cursor.description is not None:
            columns = tuple(column.name for column in cursor.description)
        else:  # no rows: ask the server what the columns would have been
            columns = _pg_columns(raw, statement)
    except Exception as exc:
        if getattr(exc, "sqlstate", None) == _PG_QUERY_CANCELED and timeout_s:
            raise SQLTimeoutError(timeout_s) from exc
        if "didn't produce a result" in str(exc):  # a command without rows (SET, ...)
            return SQLResult(columns=(), rows=[])
        raise ReadOnlySQLError(f"SQL failed (read-only connection): {_first_line(exc)}") from exc
    finally:
        raw.rollback()
        cursor.close()
    return SQLResult(columns=columns, rows=rows, truncated=truncated)


def _fetch(fetch: Callable[[int], list[Any]], max_rows: int) -> tuple[list[tuple[Any, ...]], bool]:
    """Rows in chunks, stopping one row past ``max_rows`` (0: all); and whether rows were
    left out."""
    rows: list[tuple[Any, ...]] = []
    while not max_rows or len(rows) <= max_rows:
        want = FETCH_CHUNK if not max_rows else min(FETCH_CHUNK, max_rows + 1 - len(rows))
        chunk = fetch(want)
        rows.extend(tuple(row) for row in chunk)
        if len(chunk) < want:
            return rows, False
    return rows[:max_rows], True


def _pg_columns(raw: Any, statement: str) -> tuple[str, ...]:
    """The column names of a statement that returned no rows (the stream says none): the
    statement is prepared and described, not run again."""
    encoding = raw.info.encoding
    pgconn = raw.pgconn
    name = b"aggregator_sql_columns"
    prepared = pgconn.prepare(name, statement.encode(encoding))
    if prepared.status != _PG_COMMAND_OK:
        return ()
    described = pgconn.describe_prepared(name)
    return tuple(
        (described.fname(index) or b"").decode(encoding) for index in range(described.nfields)
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
