"""SQLite: the "strongest evidence first" sort index also covers the query's columns.

``aggregator query`` walks ``ix_article_sort_level`` (revision 0003) and stops after the
page. The index starts with the expression ``coalesce(evidence_level, 9)``, which SQLite
(before 3.41) cannot read the plain column ``evidence_level`` from, so the walk looked up
the large article row of every index entry it visited. With ``evidence_level`` as a plain
column too, the walk reads only the index, as the year and date sort indexes already do.

PostgreSQL keeps its sort indexes of revision 0003: nothing changes there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies (a migration never changes later): the index as revision 0003 made it, and
# with evidence_level added after the sort key.
_FILTER_COLUMNS = "study_type, retracted, is_direct, first_seen_at"
_BEFORE = f"coalesce(evidence_level, 9), pub_year DESC, pmid DESC, {_FILTER_COLUMNS}"
_AFTER = f"coalesce(evidence_level, 9), pub_year DESC, pmid DESC, evidence_level, {_FILTER_COLUMNS}"


def _replace(columns: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP INDEX IF EXISTS ix_article_sort_level")
    op.execute(f"CREATE INDEX ix_article_sort_level ON article ({columns})")


def upgrade() -> None:
    _replace(_AFTER)


def downgrade() -> None:
    _replace(_BEFORE)
