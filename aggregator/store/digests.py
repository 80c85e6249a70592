"""Digests as stored: one row per ISO week and format, the text that was published.

Functions take an open ``Session`` and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aggregator.store.codec import json_ready
from aggregator.store.models import DigestRow
from aggregator.store.tables import dialect_insert, table_of
from aggregator.timeutil import require_aware


def save_digest(
    session: Session,
    *,
    iso_week: str,
    fmt: str,
    content: str,
    summary: Mapping[str, Any],
    now: dt.datetime,
) -> None:
    """Store a digest issue; generating the same week and format again replaces it."""
    require_aware(now, "now")
    values = {
        "iso_week": iso_week,
        "format": fmt,
        "created_at": now,
        "content": content,
        "summary": json_ready(dict(summary)),
    }
    statement = dialect_insert(session, table_of(DigestRow)).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["iso_week", "format"],
        set_={"created_at": now, "content": content, "summary": values["summary"]},
    )
    session.execute(statement)


def get_digest(session: Session, iso_week: str, fmt: str) -> DigestRow | None:
    """The stored digest for one ISO week and format."""
    statement = (
        sa.select(DigestRow)
        .where(DigestRow.iso_week == iso_week, DigestRow.format == fmt)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalars().first()


def last_digest(
    session: Session, fmt: str | None = None, before_week: str | None = None
) -> DigestRow | None:
    """The most recently created digest (of ``fmt``; for a week before ``before_week``)."""
    statement = sa.select(DigestRow)
    if fmt is not None:
        statement = statement.where(DigestRow.format == fmt)  # type: ignore[arg-type]
    if before_week is not None:
        statement = statement.where(DigestRow.iso_week < before_week)  # type: ignore[arg-type]
    statement = (
        statement.order_by(DigestRow.created_at.desc(), DigestRow.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalars().first()
