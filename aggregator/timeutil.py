""" "Now" and aware times: the one definition the whole package uses.

Every timestamp the tool stores or compares is an aware UTC ``datetime``. Code that needs the
time takes a ``clock`` (defaulting to :func:`utc_now`) so tests can inject one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    """The current time as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


def require_aware(moment: dt.datetime, name: str = "time") -> None:
    """Raise ValueError for a naive datetime: mixing naive and aware times is a bug."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")


def as_utc(moment: dt.datetime | None) -> dt.datetime | None:
    """``moment`` as aware UTC; a naive value is taken to be UTC already (as SQLite returns
    stored UTC timestamps)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)
