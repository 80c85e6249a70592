"""A lease lock in the database so only one harvest runs at a time, on SQLite and PostgreSQL.

The lock is one row per lock name in ``run_lock``. Acquiring inserts it with
``INSERT ... ON CONFLICT DO NOTHING``; if a row exists, a conditional UPDATE takes it over only
when the holder's lease has expired (or the holder is a dead process on this host), so a crashed
harvest never leaves the lock stuck. The holder renews the lease with :meth:`RunLock.heartbeat`.
Every statement runs in its own short transaction on its own connection, independent of the
pipeline's session.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from aggregator.errors import RunInProgressError, StoreError
from aggregator.store.engine import store_errors
from aggregator.store.models import RunLockRow
from aggregator.timeutil import Clock, utc_now

DEFAULT_LEASE = dt.timedelta(minutes=15)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a lock, as stored."""

    owner: str
    pid: int
    hostname: str
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime
    expires_at: dt.datetime


def _table() -> sa.Table:
    return cast(sa.Table, cast(Any, RunLockRow).__table__)


def _insert(connection: Connection) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(_table())
    return sqlite.insert(_table())


class RunLock:
    """The run lock for one engine. Use as a context manager or call acquire/release."""

    def __init__(
        self,
        engine: Engine,
        *,
        name: str = "harvest",
        lease: dt.timedelta = DEFAULT_LEASE,
        clock: Clock = utc_now,
        pid: int | None = None,
        hostname: str | None = None,
        is_alive: Callable[[int], bool] = process_alive,
    ) -> None:
        if lease <= dt.timedelta(0):
            raise ValueError("lock lease must be positive")
        self.engine = engine
        self.name = name
        self.lease = lease
        self.clock = clock
        self.pid = os.getpid() if pid is None else pid
        self.hostname = socket.gethostname() if hostname is None else hostname
        self.owner = f"{self.hostname}:{self.pid}:{uuid.uuid4().hex[:12]}"
        self.is_alive = is_alive
        self.held = False
        self.took_over: LockHolder | None = None  # the stale holder replaced by acquire()

    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("lock clock must return timezone-aware times")
        return now

    def holder(self) -> LockHolder | None:
        """The current holder (possibly with an expired lease), or None."""
        table = _table()
        with store_errors(self.engine.url), self.engine.connect() as connection:
            row = (
                connection.execute(sa.select(table).where(table.c.name == self.name))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return LockHolder(
            owner=row["owner"],
            pid=row["pid"],
            hostname=row["hostname"],
            acquired_at=row["acquired_at"],
            heartbeat_at=row["heartbeat_at"],
            expires_at=row["expires_at"],
        )

    def acquire(self) -> None:
        """Take the lock or raise RunInProgressError naming the process that holds it."""
        table = _table()
        now = self._now()
        values = {
            "owner": self.owner,
            "pid": self.pid,
            "hostname": self.hostname,
            "acquired_at": now,
            "heartbeat_at": now,
            "expires_at": now + self.lease,
        }
        previous: LockHolder | None = None
        with store_errors(self.engine.url):
            # A few rounds only: each one either wins, or sees a live holder and gives up; a
            # repeat is needed only when the row vanished or changed between two statements.
            for _attempt in range(3):
                with self.engine.begin() as connection:
                    statement = (
                        _insert(connection)
                        .values(name=self.name, **values)
                        .on_conflict_do_nothing(index_elements=["name"])
                    )
                    if connection.execute(statement).rowcount == 1:
                        self.held, self.took_over = True, None
                        return
                previous = self.holder()
                if previous is None:  # released between our insert and select
                    continue
                if not (previous.owner == self.owner or self._is_stale(previous, now)):
                    break
                with self.engine.begin() as connection:
                    # Conditional on the row being unchanged since we judged it stale, so two
                    # processes taking over at once cannot both win.
                    taken = connection.execute(
                        sa.update(table)
                        .where(
                            table.c.name == self.name,
                            table.c.owner == previous.owner,
                            table.c.expires_at == previous.expires_at,
                        )
                        .values(**values)
                    )
                if taken.rowcount == 1:
                    self.held = True
                    self.took_over = previous if previous.owner != self.owner else None
                    return
        if previous is None:
            raise StoreError(f"could not acquire the {self.name} lock: it kept changing hands")
        raise RunInProgressError(
            f"another harvest is running (pid {previous.pid} on {previous.hostname}, "
            f"started {previous.acquired_at:%Y-%m-%d %H:%M:%S} UTC, lease until "
            f"{previous.expires_at:%Y-%m-%d %H:%M:%S} UTC); try again when it has finished"
        )

    def _is_stale(self, holder: LockHolder, now: dt.datetime) -> bool:
        if holder.expires_at < now:
            return True
        # A crashed harvest on this machine need not wait for its lease to run out.
        return (
            holder.hostname == self.hostname
            and holder.pid != self.pid
            and not self.is_alive(holder.pid)
        )

    def heartbeat(self) -> None:
        """Extend the lease; StoreError if another process has taken the lock over."""
        table = _table()
        now = self._now()
        with store_errors(self.engine.url), self.engine.begin() as connection:
            renewed = connection.execute(
                sa.update(table)
                .where(table.c.name == self.name, table.c.owner == self.owner)
                .values(heartbeat_at=now, expires_at=now + self.lease)
            )
        if renewed.rowcount != 1:
            self.held = False
            raise StoreError(
                f"lost the {self.name} lock: its lease expired and another process took it over"
            )

    def release(self) -> None:
        """Give the lock up (only if we still hold it)."""
        table = _table()
        with store_errors(self.engine.url), self.engine.begin() as connection:
            connection.execute(
                sa.delete(table).where(table.c.name == self.name, table.c.owner == self.owner)
            )
        self.held = False

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
