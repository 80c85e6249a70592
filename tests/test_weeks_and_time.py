"""ISO weeks and "now": the one definition of each (aggregator.weeks, aggregator.timeutil)."""

from __future__ import annotations

import datetime as dt

import pytest

from aggregator.timeutil import as_utc, require_aware, utc_now
from aggregator.weeks import (
    InvalidWeekError,
    WeekWindow,
    current_week,
    iso_week,
    parse_week,
    previous_week,
)


def test_utc_now_is_aware_utc() -> None:
    before = dt.datetime.now(dt.UTC)
    now = utc_now()
    assert now.tzinfo is dt.UTC
    assert before <= now <= dt.datetime.now(dt.UTC)


def test_naive_times_are_refused_and_read_as_utc() -> None:
    with pytest.raises(ValueError, match="^now must be a timezone-aware datetime, got naive"):
        require_aware(dt.datetime(2026, 11, 30, 7), "now")
    assert as_utc(dt.datetime(2026, 11, 30, 7)) == dt.datetime(2026, 11, 30, 7, tzinfo=dt.UTC)
    berlin = dt.timezone(dt.timedelta(hours=1))
    assert as_utc(dt.datetime(2026, 11, 30, 8, tzinfo=berlin)) == dt.datetime(
        2026, 11, 30, 7, tzinfo=dt.UTC
    )
    assert as_utc(None) is None


def test_week_window_is_monday_to_monday_utc() -> None:
    assert parse_week("2026-W48") == WeekWindow(
        "2026-W48",
        dt.datetime(2026, 11, 23, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
    )
    assert parse_week(" 2026-W48 ").as_of == dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=dt.UTC)


def test_iso_week_of_days_and_moments_across_years() -> None:
    assert [iso_week(dt.date(2026, 12, 31)), iso_week(dt.date(2027, 1, 3))] == [
        "2026-W53",
        "2026-W53",
    ]
    assert iso_week(dt.date(2025, 12, 29)) == "2026-W01"
    late_sunday_in_new_york = dt.datetime(
        2026, 11, 29, 20, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )
    assert current_week(late_sunday_in_new_york) == "2026-W49"  # already Monday in UTC


def test_previous_week_crosses_years() -> None:
    assert previous_week(parse_week("2027-W01")).label == "2026-W53"
    assert previous_week(parse_week("2026-W01")).label == "2025-W52"


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2026-48", "invalid ISO week '2026-48'; expected YYYY-Www, e.g. 2026-W48"),
        ("2025-W53", "invalid ISO week '2025-W53': 2025 has no week 53"),
        ("2026-W00", "invalid ISO week '2026-W00': 2026 has no week 0"),
    ],
)
def test_bad_week_is_a_one_line_error(week: str, message: str) -> None:
    with pytest.raises(InvalidWeekError) as info:
        parse_week(week)
    assert str(info.value) == message
