"""PostgreSQL full-text search reads a stored tsvector instead of recomputing it.

A phrase (``"menstrual migraine"``) or prefix match needs word positions, which the GIN index
does not keep, so PostgreSQL re-checks every candidate row. With the expression index of
revision 0003 each re-check ran ``to_tsvector`` over the whole title and abstract again;
``search_vector`` is that value computed once per write (a STORED generated column, so the
store never has to maintain it), and its GIN index replaces the expression index.

SQLite keeps its FTS5 table (revision 0003): nothing changes there. The column is not in
the models (SQLite has no tsvector); see models.UNMODELLED_COLUMNS.

Revision ID: 0004
Revises: 0003
Create Date: 2025-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of the text search expression of revision 0003 (a migration never changes).
_PG_TSVECTOR = (
    "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(abstract, ''))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # Adding a stored generated column rewrites the table once, filling it for every row.
    op.execute(
        f"ALTER TABLE article ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({_PG_TSVECTOR}) STORED"
    )
    op.execute("CREATE INDEX ix_article_search_vector ON article USING gin (search_vector)")
    op.execute("DROP INDEX IF EXISTS ix_article_fulltext")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE INDEX ix_article_fulltext ON article USING gin (({_PG_TSVECTOR}))")
    # Dropping the column drops its index too.
    op.execute("ALTER TABLE article DROP COLUMN search_vector")
