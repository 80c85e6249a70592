"""The run lock (a lease row in run_lock), on SQLite and PostgreSQL, with an injected clock."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy.engine import Engine

from aggregator.errors import RunInProgressError, StoreError
from aggregator.store.lock import LockHolder, RunLock

T0 = dt.datetime(2026, 2, 2, 6, 0, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=10)


class Clock:
    """A settable clock so lease expiry is tested without sleeping."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def make_lock(db: Engine, clock: Clock, pid: int, host: str = "host-a") -> RunLock:
    return RunLock(db, lease=LEASE, clock=clock, pid=pid, hostname=host, is_alive=lambda _pid: True)


def test_first_acquirer_holds_the_lock(db: Engine) -> None:
    clock = Clock()
    lock = make_lock(db, clock, pid=101)
    lock.acquire()
    assert lock.held is True
    assert lock.holder() == LockHolder(
        owner=lock.owner,
        pid=101,
        hostname="host-a",
        acquired_at=T0,
        heartbeat_at=T0,
        expires_at=T0 + LEASE,
    )


def test_second_acquirer_is_refused_with_who_holds_it(db: Engine) -> None:
    clock = Clock()
    first, second = make_lock(db, clock, pid=101), make_lock(db, clock, pid=202, host="host-b")
    first.acquire()
    clock.now = T0 + dt.timedelta(minutes=9)
    with pytest.raises(RunInProgressError) as caught:
        second.acquire()
    assert str(caught.value) == (
        "another harvest is running (pid 101 on host-a, started 2026-02-02 06:00:00 UTC, "
        "lease until 2026-02-02 06:10:00 UTC); try again when it has finished"
    )
    assert second.held is False
    assert first.holder().owner == first.owner  # type: ignore[union-attr]


def test_heartbeat_extends_the_lease(db: Engine) -> None:
    clock = Clock()
    first, second = make_lock(db, clock, pid=101), make_lock(db, clock, pid=202)
    first.acquire()
    clock.now = T0 + dt.timedelta(minutes=8)
    first.heartbeat()
    clock.now = T0 + dt.timedelta(minutes=15)  # past the first lease, within the renewed one
    with pytest.raises(RunInProgressError):
        second.acquire()
    holder = first.holder()
    assert (holder.heartbeat_at, holder.expires_at) == (  # type: ignore[union-attr]
        T0 + dt.timedelta(minutes=8),
        T0 + dt.timedelta(minutes=18),
    )


def test_expired_lease_is_taken_over_and_the_old_holder_notices(db: Engine) -> None:
    clock = Clock()
    crashed, successor = make_lock(db, clock, pid=101), make_lock(db, clock, pid=202)
    crashed.acquire()
    stale = crashed.holder()
    clock.now = T0 + LEASE + dt.timedelta(seconds=1)
    successor.acquire()

    assert (successor.held, successor.took_over) == (True, stale)
    assert successor.holder() == LockHolder(
        owner=successor.owner,
        pid=202,
        hostname="host-a",
        acquired_at=clock.now,
        heartbeat_at=clock.now,
        expires_at=clock.now + LEASE,
    )
    with pytest.raises(StoreError) as caught:
        crashed.heartbeat()
    assert str(caught.value) == (
        "lost the harvest lock: its lease expired and another process took it over; "
        "stopped without writing more"
    )
    crashed.release()  # must not remove the successor's lock
    assert successor.holder().owner == successor.owner  # type: ignore[union-attr]


def test_dead_process_on_the_same_host_is_taken_over_before_expiry(db: Engine) -> None:
    clock = Clock()
    crashed = make_lock(db, clock, pid=101)
    crashed.acquire()
    successor = RunLock(
        db, lease=LEASE, clock=clock, pid=202, hostname="host-a", is_alive=lambda pid: pid != 101
    )
    successor.acquire()
    assert successor.holder().owner == successor.owner  # type: ignore[union-attr]
    # The same dead pid on another host says nothing about that host: refused.
    other_host = RunLock(
        db, lease=LEASE, clock=clock, pid=303, hostname="host-b", is_alive=lambda _pid: False
    )
    with pytest.raises(RunInProgressError):
        other_host.acquire()


def test_release_frees_the_lock(db: Engine) -> None:
    clock = Clock()
    first, second = make_lock(db, clock, pid=101), make_lock(db, clock, pid=202)
    first.acquire()
    first.release()
    assert (first.held, first.holder()) == (False, None)
    second.acquire()
    assert second.holder().pid == 202  # type: ignore[union-attr]


def test_context_manager_releases_on_error(db: Engine) -> None:
    clock = Clock()
    lock = make_lock(db, clock, pid=101)
    with pytest.raises(RuntimeError, match="harvest failed"), lock:
        assert lock.holder().owner == lock.owner  # type: ignore[union-attr]
        raise RuntimeError("harvest failed")
    assert lock.holder() is None


def test_reacquiring_own_lock_renews_it(db: Engine) -> None:
    clock = Clock()
    lock = make_lock(db, clock, pid=101)
    lock.acquire()
    clock.now = T0 + dt.timedelta(minutes=5)
    lock.acquire()
    assert lock.holder().expires_at == clock.now + LEASE  # type: ignore[union-attr]
    assert lock.took_over is None


def test_separate_lock_names_do_not_interfere(db: Engine) -> None:
    clock = Clock()
    harvest = make_lock(db, clock, pid=101)
    digest = RunLock(db, name="digest", lease=LEASE, clock=clock, pid=202, hostname="host-a")
    harvest.acquire()
    digest.acquire()
    assert (harvest.held, digest.held) == (True, True)


def test_simultaneous_acquirers_exactly_one_wins(db: Engine) -> None:
    clock = Clock()
    contenders = [make_lock(db, clock, pid=400 + n) for n in range(4)]
    start = threading.Barrier(len(contenders))
    outcomes: dict[int, str] = {}

    def contend(lock: RunLock) -> None:
        start.wait(timeout=10)
        try:
            lock.acquire()
            outcomes[lock.pid] = "won"
        except RunInProgressError:
            outcomes[lock.pid] = "refused"

    threads = [threading.Thread(target=contend, args=(lock,)) for lock in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["refused", "refused", "refused", "won"]
    winner = next(pid for pid, outcome in outcomes.items() if outcome == "won")
    assert contenders[0].holder().pid == winner  # type: ignore[union-attr]
