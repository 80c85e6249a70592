"""Initial schema: article, tag, run, saved_query_state, query_hit.

Revision ID: 0001
Revises:
Create Date: 2025-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "article",
        sa.Column("pmid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("pmid_version", sa.Integer(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("abstract_sections", sa.JSON(), nullable=False),
        sa.Column("vernacular_title", sa.Text(), nullable=True),
        sa.Column("journal_title", sa.Text(), nullable=True),
        sa.Column("journal_iso", sa.Text(), nullable=True),
        sa.Column("volume", sa.String(64), nullable=True),
        sa.Column("issue", sa.String(64), nullable=True),
        sa.Column("pages", sa.String(128), nullable=True),
        sa.Column("pub_year", sa.Integer(), nullable=True),
        sa.Column("pub_month", sa.Integer(), nullable=True),
        sa.Column("pub_day", sa.Integer(), nullable=True),
        sa.Column("medline_date", sa.String(128), nullable=True),
        sa.Column("article_date", sa.Date(), nullable=True),
        sa.Column("entrez_date", sa.Date(), nullable=True),
        sa.Column("revised_date", sa.Date(), nullable=True),
        sa.Column("completed_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(64), nullable=True),
        sa.Column("publication_status", sa.String(64), nullable=True),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("publication_types", sa.JSON(), nullable=False),
        sa.Column("mesh_headings", sa.JSON(), nullable=False),
        sa.Column("chemicals", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("grants", sa.JSON(), nullable=False),
        sa.Column("comments_corrections", sa.JSON(), nullable=False),
        sa.Column("doi", sa.String(255), nullable=True),
        sa.Column("pmc_id", sa.String(32), nullable=True),
        sa.Column("pii", sa.String(255), nullable=True),
        sa.Column("source_format", sa.String(16), nullable=False),
        sa.Column("raw_xml", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_updated_at", TIMESTAMP, nullable=False),
        sa.Column("last_fetched_at", TIMESTAMP, nullable=False),
        sa.Column("retracted", sa.Boolean(), nullable=False),
        sa.Column("study_type", sa.String(64), nullable=True),
        sa.Column("evidence_level", sa.Integer(), nullable=True),
        sa.Column("combination_product", sa.Boolean(), nullable=True),
        sa.Column("is_direct", sa.Boolean(), nullable=True),
        sa.Column("rules_version", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("pmid"),
    )
    op.create_index("ix_article_first_seen_at", "article", ["first_seen_at"])
    op.create_index("ix_article_pub_year", "article", ["pub_year"])
    op.create_index("ix_article_retracted", "article", ["retracted"])
    op.create_index("ix_article_study_type", "article", ["study_type"])

    op.create_table(
        "run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("searched", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), nullable=False),
        sa.Column("revised", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("failed_queries", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_run_started_at", "run", ["started_at"])

    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pmid", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("snippet", sa.Text(), nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["pmid"], ["article.pmid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pmid", "kind", "value", "field", name="uq_tag_pmid_kind_value_field"),
    )
    op.create_index("ix_tag_pmid", "tag", ["pmid"])
    op.create_index("ix_tag_kind_value", "tag", ["kind", "value"])

    op.create_table(
        "saved_query_state",
        sa.Column("query_name", sa.String(64), nullable=False),
        sa.Column("term_hash", sa.String(64), nullable=True),
        sa.Column("last_window_end", sa.Date(), nullable=True),
        sa.Column("last_success_at", TIMESTAMP, nullable=True),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["last_run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("query_name"),
    )

    op.create_table(
        "query_hit",
        sa.Column("query_name", sa.String(64), nullable=False),
        sa.Column("pmid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("query_name", "pmid"),
    )
    op.create_index("ix_query_hit_pmid", "query_hit", ["pmid"])


def downgrade() -> None:
    op.drop_table("query_hit")
    op.drop_table("saved_query_state")
    op.drop_table("tag")
    op.drop_table("run")
    op.drop_table("article")
