"""Runs, checkpoints and query hits: what was searched, when, and how it went.

Functions take an open ``Session`` and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.errors import ConfigError, StoreError
from aggregator.store.codec import json_ready
from aggregator.store.models import (
    RUN_KINDS,
    RUN_STATUSES,
    ArticleRevisionRow,
    ArticleRow,
    DigestRow,
    PendingRetractionRow,
    QueryHitRow,
    RunRow,
    SavedQueryStateRow,
    TagRow,
    TrialPublicationRow,
    TrialRevisionRow,
    TrialRow,
    TrialStatusChangeRow,
)
from aggregator.store.tables import chunks, dialect_insert, rowcount, table_of
from aggregator.timeutil import require_aware


def record_hits(
    session: Session,
    query_name: str,
    pmids: Iterable[int],
    run_id: int | None,
    now: dt.datetime,
) -> int:
    """Remember that a saved search found these PMIDs; returns how many were new hits."""
    require_aware(now, "now")
    table = table_of(QueryHitRow)
    wanted = sorted(set(pmids))
    known: set[int] = set()
    for chunk in chunks(wanted):
        known.update(
            session.execute(
                sa.select(table.c.pmid).where(
                    table.c.query_name == query_name, table.c.pmid.in_(chunk)
                )
            ).scalars()
        )
    fresh = [p for p in wanted if p not in known]
    if fresh:
        statement = dialect_insert(session, table).on_conflict_do_nothing(
            index_elements=["query_name", "pmid"]
        )
        session.execute(
            statement,
            [
                {"query_name": query_name, "pmid": p, "first_seen_at": now, "run_id": run_id}
                for p in fresh
            ],
        )
    return len(fresh)


def query_hits(session: Session, query_name: str) -> set[int]:
    """All PMIDs a saved search has found."""
    table = table_of(QueryHitRow)
    return set(
        session.execute(sa.select(table.c.pmid).where(table.c.query_name == query_name)).scalars()
    )


def unfetched_hits(session: Session) -> set[int]:
    """PMIDs some search found whose article is not stored (a failed fetch to retry)."""
    hits, articles = table_of(QueryHitRow), table_of(ArticleRow)
    statement = (
        sa.select(hits.c.pmid)
        .outerjoin(articles, articles.c.pmid == hits.c.pmid)
        .where(articles.c.pmid.is_(None))
        .distinct()
    )
    return set(session.execute(statement).scalars())


def get_checkpoint(
    session: Session, query_name: str, term_hash: str | None = None
) -> dt.date | None:
    """Last harvested window end of a saved search; None when never harvested or when
    ``term_hash`` is given and differs from the stored one (the search was edited)."""
    table = table_of(SavedQueryStateRow)
    row = (
        session.execute(sa.select(table).where(table.c.query_name == query_name)).mappings().first()
    )
    if row is None:
        return None
    if term_hash is not None and row["term_hash"] is not None and row["term_hash"] != term_hash:
        return None
    return cast(dt.date | None, row["last_window_end"])


def set_checkpoint(
    session: Session,
    query_name: str,
    window_end: dt.date,
    run_id: int | None,
    now: dt.datetime,
    term_hash: str | None = None,
) -> None:
    """Record that a saved search is harvested up to and including ``window_end``."""
    require_aware(now, "now")
    values = {
        "query_name": query_name,
        "term_hash": term_hash,
        "last_window_end": window_end,
        "last_success_at": now,
        "last_run_id": run_id,
    }
    statement = dialect_insert(session, table_of(SavedQueryStateRow)).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["query_name"],
        set_={k: v for k, v in values.items() if k != "query_name"},
    )
    session.execute(statement)


def query_states(session: Session) -> list[SavedQueryStateRow]:
    """Checkpoint rows of every saved PubMed search, by name (registry searches and other
    passes keep theirs under names with a colon, which a saved search cannot have: see
    :mod:`aggregator.store.trials`)."""
    statement = (
        sa.select(SavedQueryStateRow)
        .where(sa.not_(SavedQueryStateRow.query_name.contains(":")))  # type: ignore[attr-defined]
        .order_by(SavedQueryStateRow.query_name)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


def start_run(session: Session, *, now: dt.datetime, kind: str = "run") -> int:
    """Record a run as "running"; returns its id."""
    require_aware(now, "now")
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}; valid: {', '.join(RUN_KINDS)}")
    table = table_of(RunRow)
    statement = (
        sa.insert(table)
        .values(
            kind=kind,
            status="running",
            started_at=now,
            searched=0,
            new=0,
            revised=0,
            unchanged=0,
            failed_queries=0,
            details={},
        )
        .returning(table.c.id)
    )
    return int(session.execute(statement).scalar_one())


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: str,
    now: dt.datetime,
    searched: int = 0,
    new: int = 0,
    revised: int = 0,
    unchanged: int = 0,
    failed_queries: int = 0,
    error: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Close a run with its final status and counts."""
    require_aware(now, "now")
    if status not in RUN_STATUSES or status == "running":
        valid = ", ".join(s for s in RUN_STATUSES if s != "running")
        raise ValueError(f"unknown final run status {status!r}; valid: {valid}")
    table = table_of(RunRow)
    updated = session.execute(
        sa.update(table)
        .where(table.c.id == run_id)
        .values(
            status=status,
            finished_at=now,
            searched=searched,
            new=new,
            revised=revised,
            unchanged=unchanged,
            failed_queries=failed_queries,
            error=error,
            details=json_ready(dict(details or {})),
        )
    )
    if rowcount(updated) == 0:
        raise StoreError(f"run {run_id} does not exist")


def mark_interrupted_runs(session: Session, now: dt.datetime) -> int:
    """Mark runs still "running" as "interrupted" (call while holding the run lock, so none
    of them can really be running); returns how many."""
    require_aware(now, "now")
    table = table_of(RunRow)
    result = session.execute(
        sa.update(table)
        .where(table.c.status == "running")
        .values(status="interrupted", finished_at=now, error="process ended without finishing")
    )
    return rowcount(result)


def get_run(session: Session, run_id: int) -> RunRow | None:
    """One run record."""
    statement = (
        sa.select(RunRow)
        .where(RunRow.id == run_id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalars().first()


def recent_runs(session: Session, limit: int = 10) -> list[RunRow]:
    """The latest runs, newest first."""
    statement = (
        sa.select(RunRow)
        .order_by(RunRow.started_at.desc(), RunRow.id.desc())  # type: ignore[attr-defined,union-attr]
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(session.execute(statement).scalars())


def last_successful_run(session: Session, kind: str | tuple[str, ...] = "run") -> RunRow | None:
    """The newest run of ``kind`` (or of any of several kinds) that finished with status
    "success"."""
    kinds = (kind,) if isinstance(kind, str) else kind
    statement = (
        sa.select(RunRow)
        .where(
            RunRow.kind.in_(kinds),  # type: ignore[attr-defined]
            RunRow.status == "success",  # type: ignore[arg-type]
        )
        .order_by(RunRow.finished_at.desc(), RunRow.id.desc())  # type: ignore[union-attr]
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return session.execute(statement).scalars().first()


# Every table a demo writes, children first so foreign keys hold on SQLite and PostgreSQL.
_DEMO_TABLES = (
    TrialStatusChangeRow,
    TrialRevisionRow,
    TrialPublicationRow,
    TrialRow,
    ArticleRevisionRow,
    QueryHitRow,
    TagRow,
    PendingRetractionRow,
    ArticleRow,
    SavedQueryStateRow,
    DigestRow,
    RunRow,
)


def clear_demo_database(engine: Engine) -> None:
    """Empty a demo database before a demo; refuse to touch one that holds real harvests."""
    if "run" not in sa.inspect(engine).get_table_names():
        return
    runs = table_of(RunRow)
    with engine.begin() as connection:
        kinds = set(connection.execute(sa.select(runs.c.kind).distinct()).scalars())
        if kinds - {"demo"}:
            raise ConfigError(
                f"{engine.url.render_as_string(hide_password=True)} holds real harvests; "
                "--demo only writes to its own database (default db/demo.sqlite)"
            )
        for model in _DEMO_TABLES:
            connection.execute(sa.delete(table_of(model)))
