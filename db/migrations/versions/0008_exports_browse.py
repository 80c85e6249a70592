"""Exports and browsing: the evidence class and ISSN as article columns, and a summary view.

``article.evidence_class`` keeps what the tagger concludes an article is as evidence (direct,
indirect, planned, commentary, preclinical, notice; NULL until tagged by rules that compute
it: ``aggregator retag`` fills it in for stored articles). ``article.issn`` keeps the
journal's ISSN (NULL until the record is fetched or imported again).

``article_summary`` is a view for browsing (datasette, ``aggregator sql``): one narrow row per
article, without the raw record and JSON columns, with the forms as a JSON array (one facet
value per form) next to ``article.forms``, which stays the comma-separated column the digest's
covering index ``ix_article_digest`` counts from.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration never changes later). Form names hold no quote or comma, so the
# comma-separated forms become a JSON array by text replacement, the same on both backends.
_SUMMARY = """
CREATE VIEW article_summary AS
SELECT
    a.pmid AS pmid,
    a.title AS title,
    a.pub_year AS year,
    COALESCE(a.journal_iso, a.journal_title) AS journal,
    a.study_type AS study_type,
    a.evidence_level AS evidence_level,
    a.evidence_class AS evidence_class,
    CASE
        WHEN a.forms IS NULL THEN NULL
        WHEN a.forms = '' THEN '[]'
        ELSE '["' || replace(a.forms, ',', '","') || '"]'
    END AS forms,
    a.is_direct AS direct,
    a.retracted AS retracted,
    a.retraction_notice AS is_retraction_notice,
    a.doi AS doi,
    'https://pubmed.ncbi.nlm.nih.gov/' || CAST(a.pmid AS TEXT) || '/' AS pubmed_url,
    a.entrez_date AS added_to_pubmed,
    a.first_seen_at AS first_seen_at
FROM article a
"""


def upgrade() -> None:
    op.add_column("article", sa.Column("issn", sa.String(32), nullable=True))
    op.add_column("article", sa.Column("evidence_class", sa.String(32), nullable=True))
    op.execute(_SUMMARY)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS article_summary")
    op.drop_column("article", "evidence_class")
    op.drop_column("article", "issn")
