"""Small SQL helpers shared by the store modules: a model's table, the dialect's INSERT with
ON CONFLICT, bounded IN (...) lists."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from aggregator.errors import StoreError

CHUNK = 500  # keeps IN (...) lists well under SQLite's bound-parameter limit


def table_of(model: Any) -> sa.Table:
    """The SQLAlchemy table of a SQLModel model."""
    return cast(sa.Table, model.__table__)


def rowcount(result: Any) -> int:
    """Rows matched by an INSERT/UPDATE/DELETE (CursorResult.rowcount)."""
    return int(cast(sa.CursorResult[Any], result).rowcount)


def dialect_insert(session: Session, table: sa.Table) -> Any:
    """The dialect's INSERT, which has on_conflict_do_nothing/on_conflict_do_update."""
    return dialect_insert_for(session.get_bind().dialect.name, table)


def dialect_insert_for(dialect: str, table: sa.Table) -> Any:
    """:func:`dialect_insert` by dialect name."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"unsupported database backend {dialect!r}; use SQLite or PostgreSQL")


def chunks(values: Sequence[int], size: int = CHUNK) -> Iterable[Sequence[int]]:
    """``values`` in slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
