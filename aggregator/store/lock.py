"""A lease lock in the database so only one harvest runs at a time, on SQLite and PostgreSQL.

The lock is one row per lock name in ``run_lock``. Acquiring inserts it with
``INSERT ... ON CONFLICT DO NOTHING``; if a row exists, a conditional UPDATE takes it over only
when the holder's lease has expired (or the holder is a dead process on this host), so a crashed
harvest never leaves the lock stuck.

The holder keeps its lease alive: a daemon thread renews it every third of the lease while the
lock is held (so a slow request cannot outlast it), with the lock's clock for the times it
stores. A holder that could not renew in time (a process suspended, a database out of reach)
may have been taken over: so every write of the harvest first calls :meth:`RunLock.confirm` in
its own transaction, which renews the lease only if this holder still owns it and otherwise
raises :class:`LockLostError`, so the write is rolled back and the run stops. Other statements
run in their own short transactions on their own connections.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from aggregator.errors import RunInProgressError, StoreError
from aggregator.store.engine import store_errors
from aggregator.store.models import RunLockRow
from aggregator.timeutil import Clock, utc_now

DEFAULT_LEASE = dt.timedelta(minutes=15)

logger = logging.getLogger("aggregator.store.lock")


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


class LockLostError(StoreError):
    """Another process took the run lock over: this holder must stop writing."""


class RunLock:
    """The run lock for one engine. Use as a context manager or call acquire/release.

    While held, a background thread renews the lease every third of it."""

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
        # One shared in-memory SQLite connection cannot take a second thread's transactions
        # (and no other process can see it to take the lock over).
        self.keep_alive = not isinstance(engine.pool, StaticPool)
        self._stop_renewing = threading.Event()
        self._renewer: threading.Thread | None = None

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
                        self._start_renewing()
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
                    self._start_renewing()
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
        """Extend the lease; LockLostError if another process has taken the lock over."""
        with store_errors(self.engine.url), self.engine.begin() as connection:
            self._renew(connection)

    def confirm(self, session: Session, now: dt.datetime | None = None) -> None:
        """Renew the lease inside ``session``'s transaction, before the caller writes in it:
        LockLostError if another process has taken the lock over (roll back, write nothing).
        The renewal holds the lock row (PostgreSQL) or the database (SQLite) until the
        transaction ends, so no takeover can commit in between. ``now``: the caller's time
        for this transaction (default: the lock's clock)."""
        self._renew(session, now)

    def _renew(self, executor: Connection | Session, now: dt.datetime | None = None) -> None:
        table = _table()
        if now is None:
            now = self._now()
        elif now.tzinfo is None:
            raise ValueError("lock times must be timezone-aware")
        renewed = executor.execute(
            sa.update(table)
            .where(table.c.name == self.name, table.c.owner == self.owner)
            .values(heartbeat_at=now, expires_at=now + self.lease)
        )
        if cast(Any, renewed).rowcount != 1:
            self.held = False
            self._stop_renewing.set()
            raise LockLostError(
                f"lost the {self.name} lock: its lease expired and another process took it "
                "over; stopped without writing more"
            )

    def release(self) -> None:
        """Give the lock up (only if we still hold it)."""
        self._stop()
        table = _table()
        with store_errors(self.engine.url), self.engine.begin() as connection:
            connection.execute(
                sa.delete(table).where(table.c.name == self.name, table.c.owner == self.owner)
            )
        self.held = False

    @property
    def renew_every(self) -> float:
        """Seconds between two renewals by the background thread: a third of the lease."""
        return self.lease.total_seconds() / 3

    def _start_renewing(self) -> None:
        if not self.keep_alive or (self._renewer is not None and self._renewer.is_alive()):
            return
        self._stop_renewing = threading.Event()
        self._renewer = threading.Thread(
            target=_keep_renewing,
            # A weak reference: a lock dropped without release() ends its thread too.
            args=(weakref.ref(self), self._stop_renewing, self.renew_every),
            name=f"{self.name}-lock-renewal",
            daemon=True,  # never keeps the process alive
        )
        self._renewer.start()

    def _stop(self) -> None:
        self._stop_renewing.set()
        renewer, self._renewer = self._renewer, None
        if renewer is not None and renewer is not threading.current_thread():
            renewer.join(timeout=max(5.0, self.renew_every))

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


def _keep_renewing(ref: weakref.ref[RunLock], stop: threading.Event, every: float) -> None:
    """The renewal thread of a held lock: renew every ``every`` seconds until stopped, lost,
    or the lock is gone."""
    while not stop.wait(every):
        lock = ref()
        if lock is None:
            return
        try:
            lock.heartbeat()
        except LockLostError:
            return  # the next write's confirm() stops the run with the error
        except StoreError as exc:  # e.g. the database busy: try again next time
            logger.warning("could not renew the %s lock: %s", lock.name, exc)
        finally:
            del lock  # no strong reference while waiting
