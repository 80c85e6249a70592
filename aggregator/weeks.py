"""ISO weeks ("2026-W48"), the unit of the digest: the one definition of how a week is written,
parsed and turned into a UTC interval."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from aggregator.errors import ConfigError

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")


class InvalidWeekError(ConfigError):
    """A week is not written as an ISO week that exists; the message names it."""


@dataclass(frozen=True, slots=True)
class WeekWindow:
    """An ISO week as a half-open UTC interval [start, end)."""

    label: str
    start: dt.datetime  # Monday 00:00 UTC
    end: dt.datetime  # next Monday 00:00 UTC (exclusive)

    @property
    def as_of(self) -> dt.datetime:
        """Sunday 23:59:59 UTC, the last second of the week."""
        return self.end - dt.timedelta(seconds=1)

    def contains(self, moment: dt.datetime) -> bool:
        return self.start <= moment < self.end


def iso_week(day: dt.date) -> str:
    """The ISO week a day falls in, e.g. '2026-W48'."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def current_week(now: dt.datetime) -> str:
    """The ISO week (in UTC) of the aware moment ``now``."""
    return iso_week(now.astimezone(dt.UTC).date())


def parse_week(week: str) -> WeekWindow:
    """Parse "2026-W48" into its UTC window; a clear error for anything else."""
    match = _WEEK_RE.fullmatch(week.strip()) if isinstance(week, str) else None
    if not match:
        raise InvalidWeekError(f"invalid ISO week {week!r}; expected YYYY-Www, e.g. 2026-W48")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        monday = dt.date.fromisocalendar(year, number, 1)
    except ValueError:
        raise InvalidWeekError(f"invalid ISO week {week!r}: {year} has no week {number}") from None
    return week_of(monday)


def week_of(day: dt.date) -> WeekWindow:
    """The window of the ISO week ``day`` falls in."""
    monday = day - dt.timedelta(days=day.weekday())
    start = dt.datetime(monday.year, monday.month, monday.day, tzinfo=dt.UTC)
    return WeekWindow(iso_week(monday), start, start + dt.timedelta(days=7))


def previous_week(window: WeekWindow) -> WeekWindow:
    """The window of the week before ``window``."""
    return week_of(window.start.date() - dt.timedelta(days=7))
