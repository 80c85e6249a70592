"""What ``aggregator stats`` reports: articles by form x study type and by year, the last run,
the database size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.store.engine import sqlite_path
from aggregator.store.models import ArticleRow, RunRow, TagRow
from aggregator.store.runs import recent_runs
from aggregator.store.tables import table_of
from aggregator.vocab import vocabulary_rank


@dataclass(frozen=True, slots=True)
class LibraryStats:
    """What ``aggregator stats`` reports."""

    articles: int
    tagged: int
    retracted: int
    by_form_and_type: dict[str, dict[str, int]]  # form -> study type -> articles
    by_year: dict[str, int]  # "2024" (or "unknown") -> articles
    last_run: dict[str, Any] | None
    database_bytes: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "articles": self.articles,
            "tagged": self.tagged,
            "retracted": self.retracted,
            "by_form_and_type": self.by_form_and_type,
            "by_year": self.by_year,
            "last_run": self.last_run,
            "database_bytes": self.database_bytes,
        }


def _run_summary(run: RunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "new": run.new,
        "revised": run.revised,
        "unchanged": run.unchanged,
        "failed_queries": run.failed_queries,
    }


def database_size(engine: Engine, session: Session) -> int | None:
    """Bytes used by the database: the SQLite file (with its WAL) or pg_database_size."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return int(
            session.execute(
                sa.select(sa.func.pg_database_size(sa.func.current_database()))
            ).scalar_one()
        )
    if dialect == "sqlite":
        path = sqlite_path(engine.url)
        if path is None:  # in memory
            pages = session.execute(sa.text("PRAGMA page_count")).scalar_one()
            size = session.execute(sa.text("PRAGMA page_size")).scalar_one()
            return int(pages) * int(size)
        return sum(
            p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists()
        )
    return None


def library_stats(engine: Engine, session: Session) -> LibraryStats:
    """Article counts by form x study type and by year, the last run and the database size."""
    articles, tags = table_of(ArticleRow), table_of(TagRow)
    count = sa.func.count()
    totals = session.execute(
        sa.select(
            count,
            sa.func.count(articles.c.rules_version),
            sa.func.coalesce(sa.func.sum(sa.case((articles.c.retracted, 1), else_=0)), 0),
        )
    ).one()
    matrix: dict[str, dict[str, int]] = {}
    form_rows = session.execute(
        sa.select(tags.c.value, articles.c.study_type, sa.func.count(sa.distinct(tags.c.pmid)))
        .join(articles, articles.c.pmid == tags.c.pmid)
        .where(tags.c.kind == "form")
        .group_by(tags.c.value, articles.c.study_type)
    ).all()
    for form, study_type, n in sorted(
        form_rows, key=lambda r: (vocabulary_rank("form", r[0]), r[0])
    ):
        matrix.setdefault(form, {})[study_type or "untagged"] = int(n)
    year_rows = session.execute(
        sa.select(articles.c.pub_year, count)
        .group_by(articles.c.pub_year)
        .order_by(sa.nulls_last(articles.c.pub_year.asc()))
    ).all()
    runs = recent_runs(session, limit=1)
    return LibraryStats(
        articles=int(totals[0]),
        tagged=int(totals[1]),
        retracted=int(totals[2]),
        by_form_and_type=matrix,
        by_year={str(year) if year is not None else "unknown": int(n) for year, n in year_rows},
        last_run=_run_summary(runs[0]) if runs else None,
        database_bytes=database_size(engine, session),
    )
