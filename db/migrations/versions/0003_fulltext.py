"""Full-text search over title and abstract, and indexes for the everyday CLI queries.

SQLite: an FTS5 external-content table ``article_fts`` (rowid = PMID) over article.title and
article.abstract, kept in sync by triggers and filled once from the stored articles.
PostgreSQL: a GIN index on the tsvector expression that aggregator.store.search searches with
``websearch_to_tsquery`` (the expression must stay identical to ``library.PG_TSVECTOR``).

Both: tag(kind, value, pmid) so a form filter is answered from the index alone,
article(evidence_level, pub_year) for level filters, and one
index per sort order of ``aggregator query`` (level, year, date) so "the first 50" stops
early instead of sorting every match. On SQLite they also carry the filter columns: a query
then never reads the (large) article rows, only the small index (see library._select).

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of aggregator.store.search.PG_TSVECTOR: a migration must never change later.
_PG_TSVECTOR = (
    "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(abstract, ''))"
)

# Porter stemming so "trials" finds "trial", as PostgreSQL's english configuration does.
_SQLITE_FTS = [
    """CREATE VIRTUAL TABLE article_fts USING fts5(
        title, abstract,
        content='article', content_rowid='pmid',
        tokenize='porter unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER article_fts_ai AFTER INSERT ON article BEGIN
        INSERT INTO article_fts(rowid, title, abstract)
        VALUES (new.pmid, new.title, new.abstract);
    END""",
    """CREATE TRIGGER article_fts_ad AFTER DELETE ON article BEGIN
        INSERT INTO article_fts(article_fts, rowid, title, abstract)
        VALUES ('delete', old.pmid, old.title, old.abstract);
    END""",
    # Only when the indexed text changes: the store updates bookkeeping columns on every fetch.
    """CREATE TRIGGER article_fts_au AFTER UPDATE OF title, abstract ON article BEGIN
        INSERT INTO article_fts(article_fts, rowid, title, abstract)
        VALUES ('delete', old.pmid, old.title, old.abstract);
        INSERT INTO article_fts(rowid, title, abstract)
        VALUES (new.pmid, new.title, new.abstract);
    END""",
    "INSERT INTO article_fts(article_fts) VALUES ('rebuild')",
]


# Sort orders as aggregator.store.search orders them (frozen copies). Level: strongest first
# (no level last), then newest, then highest PMID.
_FILTER_COLUMNS = "study_type, retracted, is_direct, first_seen_at"
_SQLITE_SORT_INDEXES = {
    "ix_article_sort_level": f"coalesce(evidence_level, 9), pub_year DESC, pmid DESC, "
    f"{_FILTER_COLUMNS}",
    "ix_article_sort_year": f"pub_year DESC, pmid DESC, evidence_level, {_FILTER_COLUMNS}",
    "ix_article_sort_date": f"entrez_date DESC, pmid DESC, evidence_level, pub_year, "
    f"{_FILTER_COLUMNS}",
}
_PG_SORT_INDEXES = {
    "ix_article_sort_level": "coalesce(evidence_level, 9), pub_year DESC NULLS LAST, pmid DESC",
    "ix_article_sort_year": "pub_year DESC NULLS LAST, pmid DESC",
    "ix_article_sort_date": "entrez_date DESC NULLS LAST, pmid DESC",
}


def upgrade() -> None:
    op.create_index("ix_tag_kind_value_pmid", "tag", ["kind", "value", "pmid"])
    op.create_index("ix_article_evidence_level_pub_year", "article", ["evidence_level", "pub_year"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, columns in (_SQLITE_SORT_INDEXES if sqlite else _PG_SORT_INDEXES).items():
        op.execute(f"CREATE INDEX {name} ON article ({columns})")
    if sqlite:
        for statement in _SQLITE_FTS:
            op.execute(statement)
    else:
        op.execute(f"CREATE INDEX ix_article_fulltext ON article USING gin (({_PG_TSVECTOR}))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("article_fts_ai", "article_fts_ad", "article_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS article_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_article_fulltext")
    for name in _PG_SORT_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index("ix_article_evidence_level_pub_year", table_name="article")
    op.drop_index("ix_tag_kind_value_pmid", table_name="tag")
