"""WeeklySchedule / WeeklyRunner driven by a fake clock: simulated weeks, no real sleeping."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.errors import ConfigError
from aggregator.jobs.schedule import (
    JobResult,
    PlannedRun,
    WeeklyRunner,
    WeeklySchedule,
    install_signal_handlers,
)

BERLIN_MONDAY_7 = WeeklySchedule(day="monday", at="07:00", timezone="Europe/Berlin")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class FakeWorld:
    """A fake clock, a fake database holding the last success, and a scripted job.

    ``sleep`` advances the clock; once the clock passes ``horizon`` it requests a stop so the
    loop ends. Each job call takes ``job_minutes`` of fake time.
    """

    def __init__(
        self,
        start: datetime,
        *,
        last_success: datetime | None,
        outcomes: Iterable[bool | Exception] = (),
        horizon: datetime,
        job_minutes: int = 3,
    ) -> None:
        self.now = start
        self.last_success_at = last_success
        self.outcomes = list(outcomes)
        self.horizon = horizon
        self.job_minutes = job_minutes
        self.job_starts: list[datetime] = []
        self.sleeps: list[float] = []
        self.runner: WeeklyRunner | None = None
        self.on_sleep: Callable[[FakeWorld], None] | None = None

    def clock(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        if self.on_sleep is not None:
            self.on_sleep(self)
        if self.now >= self.horizon and self.runner is not None:
            self.runner.stop_event.set()

    def last_success(self) -> datetime | None:
        return self.last_success_at

    def job(self) -> JobResult:
        self.job_starts.append(self.now)
        run_id = len(self.job_starts)
        self.now += timedelta(minutes=self.job_minutes)
        outcome = self.outcomes.pop(0) if self.outcomes else True
        if isinstance(outcome, Exception):
            raise outcome
        if outcome:
            self.last_success_at = self.now
            return JobResult(ok=True, message="harvested 3 new", run_id=run_id)
        return JobResult(ok=False, message="NCBI answered 502", run_id=run_id)

    def make_runner(
        self, weekly: WeeklySchedule = BERLIN_MONDAY_7, **kwargs: object
    ) -> WeeklyRunner:
        kwargs.setdefault("sleep_chunk_seconds", 3600.0)
        runner = WeeklyRunner(
            weekly,
            self.job,
            last_success=self.last_success,
            clock=self.clock,
            sleep=self.sleep,
            logger=logging.getLogger("test.scheduler"),
            **kwargs,  # type: ignore[arg-type]
        )
        self.runner = runner
        return runner


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "test.scheduler"]


# -- WeeklySchedule ------------------------------------------------------------------------


def test_next_run_after_is_strictly_after_and_in_utc() -> None:
    assert BERLIN_MONDAY_7.next_run_after(utc(2026, 11, 25, 12)) == utc(2026, 11, 30, 6)
    # Exactly at the slot: the next one is a week later.
    assert BERLIN_MONDAY_7.next_run_after(utc(2026, 11, 30, 6)) == utc(2026, 12, 7, 6)
    # A moment just before the slot on the same Monday.
    assert BERLIN_MONDAY_7.next_run_after(utc(2026, 11, 30, 5, 59)) == utc(2026, 11, 30, 6)
    assert BERLIN_MONDAY_7.last_slot_at_or_before(utc(2026, 11, 30, 6)) == utc(2026, 11, 30, 6)
    assert BERLIN_MONDAY_7.last_slot_at_or_before(utc(2026, 11, 30, 5)) == utc(2026, 11, 23, 6)


def test_local_weekday_is_used_not_the_utc_weekday() -> None:
    # Monday 00:30 in Berlin is still Sunday 23:30 UTC.
    weekly = WeeklySchedule(day="monday", at="00:30", timezone="Europe/Berlin")
    assert weekly.next_run_after(utc(2026, 11, 29, 12)) == utc(2026, 11, 29, 23, 30)


def test_slots_follow_berlin_dst_changes() -> None:
    # Spring forward on Sun 2026-03-29: 07:00 CET is 06:00 UTC, 07:00 CEST is 05:00 UTC.
    assert BERLIN_MONDAY_7.next_run_after(utc(2026, 3, 24)) == utc(2026, 3, 30, 5)
    assert BERLIN_MONDAY_7.next_run_after(utc(2026, 3, 17)) == utc(2026, 3, 23, 6)
    # Fall back on Sun 2026-10-25.
    assert BERLIN_MONDAY_7.next_run_after(utc(2026, 10, 13)) == utc(2026, 10, 19, 5)
    assert BERLIN_MONDAY_7.next_run_after(utc(2026, 10, 20)) == utc(2026, 10, 26, 6)


def test_slot_in_dst_gap_and_in_repeated_hour() -> None:
    weekly = WeeklySchedule(day="sunday", at="02:30", timezone="Europe/Berlin")
    # 02:30 does not exist on 2026-03-29: it runs at 03:30 CEST (01:30 UTC).
    assert weekly.next_run_after(utc(2026, 3, 28)) == utc(2026, 3, 29, 1, 30)
    # 02:30 happens twice on 2026-10-25: it runs once, at the first (CEST) occurrence.
    first = weekly.next_run_after(utc(2026, 10, 24))
    assert first == utc(2026, 10, 25, 0, 30)
    assert weekly.next_run_after(first) == utc(2026, 11, 1, 1, 30)


def test_schedule_accepts_case_and_seconds() -> None:
    weekly = WeeklySchedule(day=" Friday ", at="18:15:30", timezone="UTC")
    assert weekly.day == "friday"
    assert weekly.next_run_after(utc(2026, 11, 25)) == utc(2026, 11, 27, 18, 15, 30)
    assert weekly.describe() == "every Friday at 18:15:30 UTC"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"day": "mon"},
            "schedule day must be one of monday, tuesday, wednesday, thursday, friday, "
            "saturday, sunday; got 'mon'",
        ),
        ({"at": "25:00"}, "schedule time must be HH:MM or HH:MM:SS in 24-hour form; got '25:00'"),
        ({"at": "7am"}, "schedule time must be HH:MM or HH:MM:SS in 24-hour form; got '7am'"),
        (
            {"timezone": "Europe/Atlantis"},
            "schedule timezone 'Europe/Atlantis' is not a known IANA zone "
            "(e.g. Europe/Berlin, UTC)",
        ),
        (
            {"timezone": "../etc/passwd"},
            "schedule timezone '../etc/passwd' is not a known IANA zone (e.g. Europe/Berlin, UTC)",
        ),
    ],
)
def test_bad_schedule_is_a_one_line_config_error(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as excinfo:
        WeeklySchedule(**kwargs)
    assert str(excinfo.value) == message


def test_schedule_from_text() -> None:
    assert WeeklySchedule.from_text("Sunday 23:30 UTC") == WeeklySchedule("sunday", "23:30", "UTC")
    assert WeeklySchedule.from_text(" monday  07:00 ") == BERLIN_MONDAY_7
    with pytest.raises(ConfigError) as excinfo:
        WeeklySchedule.from_text("every monday")
    assert str(excinfo.value) == (
        "schedule day must be one of monday, tuesday, wednesday, thursday, friday, "
        "saturday, sunday; got 'every'"
    )
    with pytest.raises(ConfigError) as excinfo:
        WeeklySchedule.from_text("monday")
    assert str(excinfo.value) == (
        "schedule must look like 'monday 07:00 Europe/Berlin'; got 'monday'"
    )


def test_naive_moment_is_rejected() -> None:
    with pytest.raises(ValueError, match="must be a timezone-aware datetime"):
        BERLIN_MONDAY_7.next_run_after(datetime(2026, 11, 25, 12))


# -- WeeklyRunner --------------------------------------------------------------------------


def test_normal_weeks_run_once_at_each_slot() -> None:
    world = FakeWorld(
        utc(2026, 11, 25, 12), last_success=utc(2026, 11, 23, 6, 3), horizon=utc(2026, 12, 15)
    )
    runner = world.make_runner()
    runner.run_forever()
    assert world.job_starts == [utc(2026, 11, 30, 6), utc(2026, 12, 7, 6), utc(2026, 12, 14, 6)]
    assert runner.runs_started == 3
    assert max(world.sleeps) <= 3600.0


def test_sleeps_in_small_chunks_by_default() -> None:
    world = FakeWorld(
        utc(2026, 11, 30, 5, 58),
        last_success=utc(2026, 11, 23, 6, 3),
        horizon=utc(2026, 11, 30, 6, 10),
    )
    runner = WeeklyRunner(
        BERLIN_MONDAY_7,
        world.job,
        last_success=world.last_success,
        clock=world.clock,
        sleep=world.sleep,
    )
    world.runner = runner
    runner.run_forever()
    assert world.job_starts == [utc(2026, 11, 30, 6)]
    assert set(world.sleeps) == {10.0}  # 2 min before + 10 min after the job, 10 s at a time
    assert len(world.sleeps) == 12 + 42


def test_missed_run_is_caught_up_once_on_start() -> None:
    # Machine was off for two slots (Nov 16 and Nov 23); started again on Wednesday.
    world = FakeWorld(
        utc(2026, 11, 25, 12), last_success=utc(2026, 11, 9, 6, 2), horizon=utc(2026, 12, 1)
    )
    runner = world.make_runner()
    assert runner.start() == PlannedRun(
        due=utc(2026, 11, 25, 12), slot=utc(2026, 11, 23, 6), reason="catch-up"
    )
    runner.run_forever()
    assert world.job_starts == [utc(2026, 11, 25, 12), utc(2026, 11, 30, 6)]


def test_never_run_before_counts_as_missed() -> None:
    world = FakeWorld(utc(2026, 11, 25, 12), last_success=None, horizon=utc(2026, 11, 26))
    world.make_runner().run_forever()
    assert world.job_starts == [utc(2026, 11, 25, 12)]


def test_clock_jump_while_sleeping_runs_once_not_per_missed_slot() -> None:
    # The process stays alive but the machine is suspended for three weeks mid-sleep.
    world = FakeWorld(
        utc(2026, 11, 25, 12), last_success=utc(2026, 11, 23, 6, 3), horizon=utc(2026, 12, 29)
    )
    jumped: list[datetime] = []

    def suspend(w: FakeWorld) -> None:
        if not jumped and w.now >= utc(2026, 11, 27):
            w.now = utc(2026, 12, 17, 9)  # resumed on a Thursday, three slots later
            jumped.append(w.now)

    world.on_sleep = suspend
    world.make_runner().run_forever()
    assert world.job_starts == [utc(2026, 12, 17, 9), utc(2026, 12, 21, 6), utc(2026, 12, 28, 6)]


def test_failed_run_is_retried_after_delay_then_weekly_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.scheduler")
    world = FakeWorld(
        utc(2026, 11, 29),
        last_success=utc(2026, 11, 23, 6, 3),
        outcomes=[False, True],
        horizon=utc(2026, 12, 8),
    )
    world.make_runner().run_forever()
    # The first attempt ends at 06:03; the retry is 15 minutes later.
    assert world.job_starts == [utc(2026, 11, 30, 6), utc(2026, 11, 30, 6, 18), utc(2026, 12, 7, 6)]
    logged = messages(caplog)
    assert 'scheduler.job_failed job_run=1 reason="NCBI answered 502"' in logged
    assert (
        "scheduler.retry_planned slot=2026-11-30T06:00:00Z attempt=1 "
        "at=2026-11-30T06:18:00Z delay=15m" in logged
    )
    assert 'scheduler.job_ok job_run=2 message="harvested 3 new"' in logged


def test_retries_back_off_then_wait_for_next_slot(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.scheduler")
    world = FakeWorld(
        utc(2026, 11, 29),
        last_success=utc(2026, 11, 23, 6, 3),
        outcomes=[False, False, False, False, True],
        horizon=utc(2026, 12, 8),
    )
    world.make_runner().run_forever()
    assert world.job_starts == [
        utc(2026, 11, 30, 6),  # fails, ends 06:03
        utc(2026, 11, 30, 6, 18),  # +15 min, fails, ends 06:21
        utc(2026, 11, 30, 7, 21),  # +1 h, fails, ends 07:24
        utc(2026, 11, 30, 11, 24),  # +4 h, fails: give up until the next slot
        utc(2026, 12, 7, 6),
    ]
    assert (
        "scheduler.giving_up slot=2026-11-30T06:00:00Z failures=4 next=2026-12-07T06:00:00Z"
        in messages(caplog)
    )


def test_exception_in_job_is_logged_and_does_not_kill_the_runner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.scheduler")
    world = FakeWorld(
        utc(2026, 11, 29),
        last_success=utc(2026, 11, 23, 6, 3),
        outcomes=[RuntimeError("database is locked"), True],
        horizon=utc(2026, 12, 1),
    )
    world.make_runner().run_forever()
    # The raising job did not advance the fake clock past its start, so retry = 06:03+15m.
    assert world.job_starts == [utc(2026, 11, 30, 6), utc(2026, 11, 30, 6, 18)]
    errors = [r for r in caplog.records if r.name == "test.scheduler" and r.exc_info]
    assert [r.getMessage() for r in errors] == [
        'scheduler.job_error slot=2026-11-30T06:00:00Z error="RuntimeError: database is locked"'
    ]
    assert 'scheduler.job_failed job_run=- reason="RuntimeError: database is locked"' in (
        messages(caplog)
    )


def test_regular_slot_wins_over_a_retry_that_would_come_later() -> None:
    # A catch-up on Sunday evening fails; its 4 h retry would be after Monday 07:00.
    world = FakeWorld(
        utc(2026, 11, 30, 4),
        last_success=utc(2026, 11, 16, 6, 3),
        outcomes=[False, False, False, True],
        horizon=utc(2026, 12, 1),
    )
    world.make_runner().run_forever()
    assert world.job_starts == [
        utc(2026, 11, 30, 4),
        utc(2026, 11, 30, 4, 18),
        utc(2026, 11, 30, 5, 21),  # fails at 05:24; +4 h is past the 06:00 slot
        utc(2026, 11, 30, 6),
    ]


def test_slot_already_done_elsewhere_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="test.scheduler")
    world = FakeWorld(
        utc(2026, 11, 25, 12), last_success=utc(2026, 11, 23, 6, 3), horizon=utc(2026, 12, 8)
    )

    def manual_run(w: FakeWorld) -> None:
        # Someone ran `aggregator run --once` by hand shortly after the slot.
        if w.now >= utc(2026, 11, 30, 6) and w.last_success_at < utc(2026, 11, 30):  # type: ignore[operator]
            w.last_success_at = utc(2026, 11, 30, 6)

    world.on_sleep = manual_run
    world.make_runner().run_forever()
    assert world.job_starts == [utc(2026, 12, 7, 6)]
    assert (
        "scheduler.skip slot=2026-11-30T06:00:00Z reason=already-succeeded "
        "last_success=2026-11-30T06:00:00Z" in messages(caplog)
    )


def test_weeks_across_both_dst_changes() -> None:
    world = FakeWorld(
        utc(2026, 3, 18), last_success=utc(2026, 3, 16, 6, 3), horizon=utc(2026, 4, 7)
    )
    world.make_runner().run_forever()
    assert world.job_starts == [utc(2026, 3, 23, 6), utc(2026, 3, 30, 5), utc(2026, 4, 6, 5)]

    world = FakeWorld(
        utc(2026, 10, 14), last_success=utc(2026, 10, 12, 5, 3), horizon=utc(2026, 11, 3)
    )
    world.make_runner().run_forever()
    assert world.job_starts == [utc(2026, 10, 19, 5), utc(2026, 10, 26, 6), utc(2026, 11, 2, 6)]


def test_last_success_failure_is_logged_and_treated_as_unknown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.scheduler")
    world = FakeWorld(utc(2026, 11, 25, 12), last_success=None, horizon=utc(2026, 11, 26))

    def broken() -> datetime | None:
        raise OSError("unable to open database file")

    runner = WeeklyRunner(
        BERLIN_MONDAY_7,
        world.job,
        last_success=broken,
        clock=world.clock,
        sleep=world.sleep,
        logger=logging.getLogger("test.scheduler"),
        sleep_chunk_seconds=3600,
    )
    world.runner = runner
    runner.run_forever()
    assert world.job_starts == [utc(2026, 11, 25, 12)]
    assert 'scheduler.last_success_unknown error="OSError: unable to open database file"' in (
        messages(caplog)
    )


def test_describe_next_run() -> None:
    world = FakeWorld(
        utc(2026, 11, 25, 12), last_success=utc(2026, 11, 23, 6, 3), horizon=utc(2026, 12, 1)
    )
    runner = world.make_runner()
    assert runner.describe_next_run() == (
        "every Monday at 07:00 Europe/Berlin; next run Mon 2026-11-30 07:00 CET "
        "(2026-11-30T06:00:00Z), in 4d 18h 0m [scheduled]"
    )
    world.last_success_at = utc(2026, 11, 9, 6)
    assert runner.describe_next_run() == (
        "every Monday at 07:00 Europe/Berlin; next run Wed 2026-11-25 13:00 CET "
        "(2026-11-25T12:00:00Z), now [catch-up]"
    )


def test_naive_clock_is_rejected() -> None:
    runner = WeeklyRunner(
        BERLIN_MONDAY_7,
        lambda: JobResult(True, "ok"),
        last_success=lambda: None,
        clock=lambda: datetime(2026, 11, 25, 12),
        sleep=lambda s: None,
    )
    with pytest.raises(ValueError, match=r"clock\(\) must be a timezone-aware datetime"):
        runner.start()


# -- stopping ------------------------------------------------------------------------------


def test_sigterm_during_a_job_lets_it_finish_and_starts_no_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.scheduler")
    world = FakeWorld(utc(2026, 11, 25, 12), last_success=None, horizon=utc(2027, 1, 1))
    completed: list[bool] = []

    def job() -> JobResult:
        world.job_starts.append(world.now)
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)  # impatient operator: second signal
        assert runner.stop_event.is_set()  # the handler ran while the job was still going
        world.now += timedelta(minutes=3)
        completed.append(True)  # the job's own transaction commits here
        return JobResult(True, "committed", run_id=7)

    runner = WeeklyRunner(
        BERLIN_MONDAY_7,
        job,
        last_success=world.last_success,
        clock=world.clock,
        sleep=world.sleep,
        logger=logging.getLogger("test.scheduler"),
    )
    world.runner = runner
    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    restore = install_signal_handlers(runner)
    try:
        runner.run_forever()
    finally:
        restore()
    assert completed == [True]
    assert world.job_starts == [utc(2026, 11, 25, 12)]
    assert world.sleeps == []  # the loop exited right after the job
    logged = messages(caplog)
    assert 'scheduler.stopping reason="signal SIGTERM" action=finishing-current-job' in logged
    assert 'scheduler.stop_again reason="signal SIGINT" action=waiting-for-job-to-finish' in logged
    assert logged[-1] == "scheduler.stopped"
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_stop_while_idle_ends_the_loop_without_a_job() -> None:
    world = FakeWorld(
        utc(2026, 11, 25, 12), last_success=utc(2026, 11, 23, 6, 3), horizon=utc(2027, 1, 1)
    )
    runner = world.make_runner(sleep_chunk_seconds=10.0)

    def stop_after_a_minute(w: FakeWorld) -> None:
        if w.now >= utc(2026, 11, 25, 12, 1):
            runner.request_stop("test")

    world.on_sleep = stop_after_a_minute
    runner.run_forever()
    assert world.job_starts == []
    assert len(world.sleeps) == 6


def test_default_sleep_wakes_up_on_stop_request() -> None:
    # Real clock and the default stop-aware sleep: a stop from another thread ends the
    # 10-second wait at once instead of after the chunk.
    runner = WeeklyRunner(
        BERLIN_MONDAY_7,
        lambda: JobResult(True, "ok"),
        last_success=lambda: datetime.now(UTC),
        clock=lambda: datetime.now(UTC),
    )
    loop = threading.Thread(target=runner.run_forever)
    started = time.monotonic()
    loop.start()
    runner.request_stop("test")
    loop.join(timeout=5)
    assert not loop.is_alive()
    assert time.monotonic() - started < 2
    assert runner.runs_started == 0


# -- deploy units --------------------------------------------------------------------------


def read_unit(name: str) -> dict[str, dict[str, list[str]]]:
    """Tiny systemd unit reader: section -> key -> all values (keys may repeat)."""
    path = Path(__file__).resolve().parent.parent / "deploy" / name
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_timer_fires_at_the_default_weekly_slot() -> None:
    timer = read_unit("aggregator.timer")
    weekly = WeeklySchedule()
    day = weekly.day[:3].capitalize()
    assert timer["Timer"]["OnCalendar"] == [f"{day} *-*-* {weekly.at}:00 {weekly.timezone}"]
    assert timer["Timer"]["Persistent"] == ["true"]  # catch-up after downtime
    assert timer["Timer"]["Unit"] == ["aggregator.service"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def test_service_runs_one_job_and_stops_gracefully() -> None:
    service = read_unit("aggregator.service")["Service"]
    assert service["Type"] == ["oneshot"]
    assert service["ExecStart"] == ["/opt/aggregator/.venv/bin/aggregator run --once"]
    assert service["KillSignal"] == ["SIGTERM"]
    assert service["EnvironmentFile"] == ["/etc/aggregator/aggregator.env"]
    assert service["StateDirectory"] == ["aggregator"]
    assert service["Restart"] == ["on-failure"]
