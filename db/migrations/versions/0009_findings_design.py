"""The tagger's design decision and the findings extractor's results, stored with the article.

New ``article`` columns (all NULL until the article is tagged by rules that compute them:
``aggregator retag`` fills them in for stored articles; a harvest or import fills them in for
what it stores):

- ``design_confidence`` (0..1) and ``design_explanation`` (the cues and the path through the
  decision procedure); the cues themselves are already tag rows of kind ``design_cue``.
- ``findings``: everything the extractor read (``Findings.to_dict``: scope, sample size and
  its kind, arms, dose, duration, comparator, reported result, provenance) as JSON.
- ``sample_size``, ``dose_mg_per_day``, ``duration_weeks``, ``comparator``,
  ``reported_result``: copies of those values, for ``query --min-n / --result /
  --comparator / --sort n``.

The browsing view ``article_summary`` (revision 0008) gets the five findings values and the
design confidence as its last columns.

Indexes: ``ix_article_sort_n`` (largest sample size first, then highest PMID) for
``--sort n``. On SQLite the query walks a sort index (``INDEXED BY``) and stops after the page,
so every sort index also carries the filter columns; the level, year and date indexes are
rebuilt with the three new filter columns, so a filter on them never reads the large article
rows. PostgreSQL's sort indexes stay as they are (its planner reads the rows it needs); it
gets plain indexes on ``reported_result`` and ``comparator`` instead, so a rare value combined
with another filter is a bitmap of its matches rather than a walk past thousands of rows
(SQLite, which always walks its sort index, would only pay for them on every write).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies (a migration never changes later): SQLite's sort indexes as revisions 0003
# and 0006 left them, and with the new filter columns.
_FILTER_COLUMNS = "study_type, retracted, is_direct, first_seen_at"
_NEW_FILTER_COLUMNS = "sample_size, reported_result, comparator"
_SQLITE_BEFORE = {
    "ix_article_sort_level": "coalesce(evidence_level, 9), pub_year DESC, pmid DESC, "
    f"evidence_level, {_FILTER_COLUMNS}",
    "ix_article_sort_year": f"pub_year DESC, pmid DESC, evidence_level, {_FILTER_COLUMNS}",
    "ix_article_sort_date": "entrez_date DESC, pmid DESC, evidence_level, pub_year, "
    f"{_FILTER_COLUMNS}",
}
_SQLITE_AFTER = {
    **{name: f"{columns}, {_NEW_FILTER_COLUMNS}" for name, columns in _SQLITE_BEFORE.items()},
    "ix_article_sort_n": "sample_size DESC, pmid DESC, evidence_level, pub_year, "
    f"{_FILTER_COLUMNS}, reported_result, comparator",
}
_PG_INDEXES = {
    "ix_article_sort_n": "sample_size DESC NULLS LAST, pmid DESC",
    # Rare values (favours_comparator, another_form) combined with other filters: a bitmap
    # of the matches instead of walking a sort index past thousands of rows.
    "ix_article_reported_result": "reported_result",
    "ix_article_comparator": "comparator",
}

# The browsing view of revision 0008 (frozen copy), and with the findings values added at the
# end, so datasette can facet and sort by them.
_SUMMARY_0008_COLUMNS = """
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
    a.first_seen_at AS first_seen_at"""
_SUMMARY_0009_COLUMNS = (
    _SUMMARY_0008_COLUMNS
    + """,
    a.sample_size AS sample_size,
    a.dose_mg_per_day AS dose_mg_per_day,
    a.duration_weeks AS duration_weeks,
    a.comparator AS comparator,
    a.reported_result AS reported_result,
    a.design_confidence AS design_confidence"""
)


def _summary(columns: str) -> str:
    return f"CREATE VIEW article_summary AS\nSELECT{columns}\nFROM article a\n"


_COLUMNS = (
    sa.Column("design_confidence", sa.Float(), nullable=True),
    sa.Column("design_explanation", sa.Text(), nullable=True),
    sa.Column("findings", sa.JSON(), nullable=True),
    sa.Column("sample_size", sa.Integer(), nullable=True),
    sa.Column("dose_mg_per_day", sa.Float(), nullable=True),
    sa.Column("duration_weeks", sa.Float(), nullable=True),
    sa.Column("comparator", sa.String(16), nullable=True),
    sa.Column("reported_result", sa.String(24), nullable=True),
)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS article_summary")
    for column in _COLUMNS:
        op.add_column("article", column)
    op.execute(_summary(_SUMMARY_0009_COLUMNS))
    if _sqlite():
        for name, columns in _SQLITE_AFTER.items():
            op.execute(f"DROP INDEX IF EXISTS {name}")
            op.execute(f"CREATE INDEX {name} ON article ({columns})")
    else:
        for name, columns in _PG_INDEXES.items():
            op.execute(f"CREATE INDEX {name} ON article ({columns})")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS article_summary")
    for name in _PG_INDEXES:  # ix_article_sort_n on both backends
        op.execute(f"DROP INDEX IF EXISTS {name}")
    if _sqlite():
        for name, columns in _SQLITE_BEFORE.items():
            op.execute(f"DROP INDEX IF EXISTS {name}")
            op.execute(f"CREATE INDEX {name} ON article ({columns})")
    for column in reversed(_COLUMNS):
        op.drop_column("article", column.name)
    op.execute(_summary(_SUMMARY_0008_COLUMNS))
