"""Weekly scheduling of the harvest-and-digest job for unattended long-running operation.

The ``schedule`` library parses and validates the weekly spec (day name, ``HH:MM``), but it
reads the naive local clock (``datetime.datetime.now``) and needs pytz for time zones, so the
slot arithmetic here is our own: zoneinfo-aware, DST-correct and driven by an injected clock,
which keeps tests deterministic without sleeping.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import schedule as schedule_lib
from sqlalchemy.engine import Engine

from aggregator.errors import ConfigError
from aggregator.jobs.harvest import SearchClient
from aggregator.jobs.registry import RegistryWatch
from aggregator.jobs.weekly import DigestTarget, run_weekly
from aggregator.logconfig import quote_value
from aggregator.queries import SavedQuery
from aggregator.store.engine import new_session
from aggregator.store.lock import RunLock
from aggregator.store.runs import last_successful_run
from aggregator.timeutil import require_aware

WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)

# Retry a failed run after 15 min, 1 h and 4 h; after that wait for the next regular slot.
DEFAULT_RETRY_DELAYS: tuple[timedelta, ...] = (
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
)

# Longest single sleep: a stop request or a wall-clock jump (suspend/resume) is noticed
# within this many seconds even when the injected sleep cannot be interrupted.
DEFAULT_SLEEP_CHUNK_SECONDS = 10.0


@dataclass(frozen=True)
class JobResult:
    """Outcome of one harvest-and-digest run, as reported by the injected job."""

    ok: bool
    message: str
    run_id: int | None = None


@dataclass(frozen=True)
class WeeklySchedule:
    """One slot per week: ``day`` at ``at`` (``HH:MM`` or ``HH:MM:SS``) local time in ``timezone``.

    A slot that falls into a DST gap (the clock jumps over it) runs at the equivalent instant
    just after the jump; a slot in a repeated hour runs once, at its first occurrence.
    """

    day: str = "monday"
    at: str = "07:00"
    timezone: str = "Europe/Berlin"
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _at_time: time = field(init=False, repr=False, compare=False)
    _weekday: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        day = self.day.strip().lower() if isinstance(self.day, str) else ""
        if day not in WEEKDAYS:
            raise ConfigError(
                f"schedule day must be one of {', '.join(WEEKDAYS)}; got {self.day!r}"
            )
        at_time = _parse_at(day, self.at)
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigError(
                f"schedule timezone {self.timezone!r} is not a known IANA zone "
                "(e.g. Europe/Berlin, UTC)"
            ) from None
        object.__setattr__(self, "day", day)
        object.__setattr__(self, "_tz", tz)
        object.__setattr__(self, "_at_time", at_time)
        object.__setattr__(self, "_weekday", WEEKDAYS.index(day))

    @property
    def tzinfo(self) -> ZoneInfo:
        return self._tz

    def _slot_on(self, day: date) -> datetime:
        """The slot on a given local date, as an aware UTC datetime."""
        # fold=0: an ambiguous local time (autumn) is its first occurrence; a non-existent one
        # (spring gap) takes the pre-transition offset, i.e. lands just after the jump.
        local = datetime.combine(day, self._at_time, tzinfo=self._tz)
        return local.astimezone(UTC)

    def next_run_after(self, moment: datetime) -> datetime:
        """First slot strictly after ``moment`` (aware), returned as an aware UTC datetime."""
        require_aware(moment, "moment")
        local_day = moment.astimezone(self._tz).date()
        candidate_day = local_day + timedelta(days=(self._weekday - local_day.weekday()) % 7)
        slot = self._slot_on(candidate_day)
        while slot <= moment:
            candidate_day += timedelta(days=7)
            slot = self._slot_on(candidate_day)
        return slot

    def last_slot_at_or_before(self, moment: datetime) -> datetime:
        """Most recent slot at or before ``moment`` (aware), as an aware UTC datetime."""
        require_aware(moment, "moment")
        local_day = moment.astimezone(self._tz).date()
        candidate_day = local_day - timedelta(days=(local_day.weekday() - self._weekday) % 7)
        slot = self._slot_on(candidate_day)
        while slot > moment:
            candidate_day -= timedelta(days=7)
            slot = self._slot_on(candidate_day)
        return slot

    @classmethod
    def from_text(cls, text: str) -> WeeklySchedule:
        """Parse ``"monday 07:00 Europe/Berlin"`` (time zone optional) from a flag or variable."""
        parts = text.split()
        if len(parts) not in (2, 3):
            raise ConfigError(f"schedule must look like 'monday 07:00 Europe/Berlin'; got {text!r}")
        return cls(*parts)

    def describe(self) -> str:
        """Human description, e.g. ``every Monday at 07:00 Europe/Berlin``."""
        return f"every {self.day.capitalize()} at {self.at} {self.timezone}"


def _parse_at(day: str, at: object) -> time:
    """Validate ``HH:MM(:SS)`` through the schedule library's own weekly-job parser."""
    if not isinstance(at, str):
        raise ConfigError(f"schedule time must be a string like '07:00'; got {at!r}")
    try:
        job = getattr(schedule_lib.Scheduler().every(), day).at(at.strip())
    except schedule_lib.ScheduleValueError:
        raise ConfigError(
            f"schedule time must be HH:MM or HH:MM:SS in 24-hour form; got {at!r}"
        ) from None
    parsed = job.at_time
    if not isinstance(parsed, time):  # defensive: schedule always sets it after at()
        raise ConfigError(f"schedule time could not be parsed: {at!r}")
    return parsed


def _fmt_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt_delay(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


@dataclass(frozen=True)
class PlannedRun:
    """The next run the runner will start: when, which weekly slot it serves, and why."""

    due: datetime
    slot: datetime
    reason: str  # "scheduled", "catch-up" or "retry N/M"


class WeeklyRunner:
    """Runs ``job`` once per weekly slot, catching up missed slots and retrying failures.

    Everything time-related is injected: ``clock`` returns an aware UTC ``datetime`` and
    ``sleep`` waits (or, in tests, advances the fake clock). The job runs in the calling
    thread; a stop request lets a running job finish and then ends :meth:`run_forever`.
    """

    def __init__(
        self,
        weekly: WeeklySchedule,
        job: Callable[[], JobResult],
        *,
        last_success: Callable[[], datetime | None],
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] | None = None,
        retry_delays: Sequence[timedelta] = DEFAULT_RETRY_DELAYS,
        stop_event: threading.Event | None = None,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
        sleep_chunk_seconds: float = DEFAULT_SLEEP_CHUNK_SECONDS,
    ) -> None:
        if sleep_chunk_seconds <= 0:
            raise ValueError("sleep_chunk_seconds must be positive")
        if any(delay <= timedelta(0) for delay in retry_delays):
            raise ValueError("retry delays must be positive")
        self.weekly = weekly
        self._job = job
        self._last_success = last_success
        self._clock = clock
        self.stop_event = stop_event if stop_event is not None else threading.Event()
        # Default sleep wakes as soon as a stop is requested.
        self._sleep = sleep if sleep is not None else self._wait_for_stop
        self._retry_delays = tuple(retry_delays)
        self._log = logger if logger is not None else logging.getLogger("aggregator.jobs.schedule")
        self._chunk = sleep_chunk_seconds
        self._plan: PlannedRun | None = None
        self._failures_for_slot = 0
        self._job_running = False
        self.runs_started = 0

    # -- clock helpers -------------------------------------------------------------------

    def _wait_for_stop(self, seconds: float) -> None:
        self.stop_event.wait(seconds)

    def _now(self) -> datetime:
        now = self._clock()
        require_aware(now, "clock()")
        return now.astimezone(UTC)

    def _read_last_success(self) -> datetime | None:
        try:
            last = self._last_success()
        except Exception as exc:  # the database may be down; the job will report it too
            self._log.warning(
                "scheduler.last_success_unknown error=%s", _quote(f"{type(exc).__name__}: {exc}")
            )
            return None
        if last is not None:
            require_aware(last, "last_success()")
        return last

    # -- planning ------------------------------------------------------------------------

    def plan_from(self, now: datetime, last: datetime | None) -> PlannedRun:
        """The first run to start at ``now``: a catch-up if the latest slot has no success."""
        latest_slot = self.weekly.last_slot_at_or_before(now)
        if last is None or last < latest_slot:
            return PlannedRun(due=now, slot=latest_slot, reason="catch-up")
        slot = self.weekly.next_run_after(now)
        return PlannedRun(due=slot, slot=slot, reason="scheduled")

    def _plan_after(self, result_ok: bool, finished: datetime, served_slot: datetime) -> PlannedRun:
        next_slot = self.weekly.next_run_after(max(finished, served_slot))
        regular = PlannedRun(due=next_slot, slot=next_slot, reason="scheduled")
        if result_ok:
            self._failures_for_slot = 0
            return regular
        self._failures_for_slot += 1
        attempt = self._failures_for_slot
        if attempt > len(self._retry_delays):
            self._log.error(
                "scheduler.giving_up slot=%s failures=%d next=%s",
                _fmt_utc(served_slot),
                attempt,
                _fmt_utc(next_slot),
            )
            self._failures_for_slot = 0
            return regular
        retry_at = finished + self._retry_delays[attempt - 1]
        if retry_at >= next_slot:  # the regular slot comes first: it serves the new week
            self._failures_for_slot = 0
            return regular
        reason = f"retry {attempt}/{len(self._retry_delays)}"
        self._log.info(
            "scheduler.retry_planned slot=%s attempt=%d at=%s delay=%s",
            _fmt_utc(served_slot),
            attempt,
            _fmt_utc(retry_at),
            _fmt_delay(self._retry_delays[attempt - 1]),
        )
        return PlannedRun(due=retry_at, slot=served_slot, reason=reason)

    @property
    def planned(self) -> PlannedRun | None:
        """The run currently planned (``None`` before :meth:`start`)."""
        return self._plan

    def start(self) -> PlannedRun:
        """Plan the first run (a catch-up when the most recent slot has no successful run)."""
        now = self._now()
        self._plan = self.plan_from(now, self._read_last_success())
        self._log.info(
            "scheduler.start schedule=%s next=%s reason=%s",
            _quote(self.weekly.describe()),
            _fmt_utc(self._plan.due),
            self._plan.reason,
        )
        return self._plan

    # -- running -------------------------------------------------------------------------

    def run_due(self) -> JobResult | None:
        """Run the planned job if it is due now; return its result (``None`` if nothing ran)."""
        if self._plan is None:
            self.start()
        assert self._plan is not None
        now = self._now()
        if now < self._plan.due or self.stop_event.is_set():
            return None
        plan = self._plan
        last = self._read_last_success()
        if last is not None and last >= plan.slot:
            # Someone (a manual `aggregator run --once`, another host) already did this slot.
            self._log.info(
                "scheduler.skip slot=%s reason=already-succeeded last_success=%s",
                _fmt_utc(plan.slot),
                _fmt_utc(last),
            )
            self._failures_for_slot = 0
            self._plan = self._plan_after(True, now, plan.slot)
            return None
        result = self._run_job(plan)
        self._plan = self._plan_after(result.ok, self._now(), plan.slot)
        self._log.info(
            "scheduler.next at=%s reason=%s", _fmt_utc(self._plan.due), self._plan.reason
        )
        return result

    def _run_job(self, plan: PlannedRun) -> JobResult:
        self.runs_started += 1
        self._job_running = True
        self._log.info(
            "scheduler.job_start slot=%s reason=%s", _fmt_utc(plan.slot), _quote(plan.reason)
        )
        try:
            result = self._job()
            if not isinstance(result, JobResult):
                result = JobResult(False, f"job returned {type(result).__name__}, not JobResult")
        except Exception as exc:  # a failing job must never kill the scheduler
            self._log.exception(
                "scheduler.job_error slot=%s error=%s",
                _fmt_utc(plan.slot),
                _quote(f"{type(exc).__name__}: {exc}"),
            )
            result = JobResult(ok=False, message=f"{type(exc).__name__}: {exc}", run_id=None)
        finally:
            self._job_running = False
        run = "-" if result.run_id is None else str(result.run_id)
        if result.ok:
            self._log.info("scheduler.job_ok job_run=%s message=%s", run, _quote(result.message))
        else:
            self._log.error(
                "scheduler.job_failed job_run=%s reason=%s", run, _quote(result.message)
            )
        return result

    def run_forever(self) -> None:
        """Loop until a stop is requested, sleeping in small chunks between runs."""
        if self._plan is None:
            self.start()
        while not self.stop_event.is_set():
            self.run_due()
            if self.stop_event.is_set():
                break
            assert self._plan is not None
            wait = (self._plan.due - self._now()).total_seconds()
            if wait > 0:
                self._sleep(min(wait, self._chunk))
        self._log.info("scheduler.stopped")

    # -- stopping ------------------------------------------------------------------------

    @property
    def job_running(self) -> bool:
        return self._job_running

    def request_stop(self, reason: str = "stop requested") -> None:
        """Ask the loop to exit; a running job is always allowed to finish first."""
        if self.stop_event.is_set():
            if self._job_running:
                self._log.warning(
                    "scheduler.stop_again reason=%s action=waiting-for-job-to-finish",
                    _quote(reason),
                )
            else:
                self._log.info("scheduler.stop_again reason=%s", _quote(reason))
            return
        self.stop_event.set()
        if self._job_running:
            self._log.info(
                "scheduler.stopping reason=%s action=finishing-current-job", _quote(reason)
            )
        else:
            self._log.info("scheduler.stopping reason=%s", _quote(reason))

    # -- status --------------------------------------------------------------------------

    def describe_next_run(self) -> str:
        """One line for ``aggregator status``: schedule, next run (local and UTC), and why."""
        now = self._now()
        plan = self._plan or self.plan_from(now, self._read_last_success())
        local = plan.due.astimezone(self.weekly.tzinfo)
        when = "now" if plan.due <= now else f"in {_fmt_remaining(plan.due - now)}"
        return (
            f"{self.weekly.describe()}; next run {local:%a %Y-%m-%d %H:%M %Z} "
            f"({_fmt_utc(plan.due)}), {when} [{plan.reason}]"
        )


def _fmt_remaining(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if hours or days:
        parts.append(f"{hours}h")
    parts.append(f"{minutes}m")
    return " ".join(parts)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _quote(text: str) -> str:
    return quote_value(_one_line(text))


def install_signal_handlers(
    runner: WeeklyRunner, signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)
) -> Callable[[], None]:
    """Make SIGTERM/SIGINT request a graceful stop; returns a function restoring the old ones.

    Must be called from the main thread (a Python rule for signal handlers).
    """
    previous = {signum: signal.getsignal(signum) for signum in signals}

    def handle(signum: int, frame: FrameType | None) -> None:
        # Only set a flag: never raise inside the job, so its transaction commits or rolls back.
        runner.request_stop(f"signal {signal.Signals(signum).name}")

    for signum in signals:
        signal.signal(signum, handle)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    return restore


def weekly_job(
    engine: Engine,
    make_client: Callable[[], AbstractContextManager[SearchClient]],
    load_queries: Callable[[], Sequence[SavedQuery]],
    digest: DigestTarget,
    make_registry: Callable[[], RegistryWatch | None] | None = None,
) -> Callable[[], JobResult]:
    """The job the scheduler runs each week: :func:`aggregator.jobs.weekly.run_weekly` with
    the saved searches (and, from ``make_registry``, the registry watch) as they are on disk
    at that moment, under the run lock."""
    log = logging.getLogger("aggregator.scheduler")

    def job() -> JobResult:
        queries = load_queries()
        watch = make_registry() if make_registry is not None else None
        with make_client() as client, watch if watch is not None else nullcontext():
            result = run_weekly(
                engine, client, queries, digest=digest, lock=RunLock(engine), registry=watch
            )
        for line in result.summary_lines():
            log.info(line)
        report = result.report
        return JobResult(ok=report.ok, message=report.summary_lines()[-1], run_id=report.run_id)

    return job


def last_success_of(engine: Engine) -> Callable[[], datetime | None]:
    """When the last successful harvest finished, read from the database at each call."""

    def last_success() -> datetime | None:
        with new_session(engine) as session:
            row = last_successful_run(session)
        return row.finished_at if row else None

    return last_success


def serve(runner: WeeklyRunner, announce: Callable[[str], None]) -> None:
    """Run ``runner`` in the foreground until SIGTERM/SIGINT (a running job finishes first)."""
    restore = install_signal_handlers(runner)
    try:
        # describe_next_run() already names the schedule ("every Monday at 07:00 ...").
        announce(f"scheduler started: {runner.describe_next_run()}")
        runner.run_forever()
    finally:
        restore()
    announce("scheduler stopped")
