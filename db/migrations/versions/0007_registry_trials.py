"""The ClinicalTrials.gov watch: registered trials, their status history and their links to
publications.

New tables ``trial`` (NCT id natural key: the registry's fields, the magnesium forms of the
interventions, bookkeeping), ``trial_status_change`` (first seen, then each change of the
overall status, with the registry's date and when a harvest saw it), ``trial_revision``
(each real change of a stored trial: fields, old and new values) and
``trial_publication`` (a trial joined to a PMID by the registry's references or by the
article naming the NCT id). Registry searches keep their checkpoints in
``saved_query_state`` under ``ctgov:<search name>`` (a name no PubMed search can have), so
no table changes there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def _date_columns(name: str) -> list[sa.Column[str]]:
    """A partial registry date (YYYY, YYYY-MM or YYYY-MM-DD) and its ACTUAL/ESTIMATED type."""
    return [
        sa.Column(name, sa.String(10), nullable=True),
        sa.Column(f"{name}_type", sa.String(16), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "trial",
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("official_title", sa.Text(), nullable=True),
        sa.Column("acronym", sa.String(128), nullable=True),
        sa.Column("overall_status", sa.String(32), nullable=True),
        sa.Column("why_stopped", sa.Text(), nullable=True),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("study_type", sa.String(32), nullable=True),
        sa.Column("allocation", sa.String(32), nullable=True),
        sa.Column("masking", sa.String(32), nullable=True),
        sa.Column("enrollment", sa.Integer(), nullable=True),
        sa.Column("enrollment_type", sa.String(16), nullable=True),
        *_date_columns("start_date"),
        *_date_columns("primary_completion_date"),
        *_date_columns("completion_date"),
        *_date_columns("first_posted"),
        sa.Column("last_update_posted", sa.String(10), nullable=True),
        sa.Column("results_first_posted", sa.String(10), nullable=True),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("interventions", sa.JSON(), nullable=False),
        sa.Column("arm_groups", sa.JSON(), nullable=False),
        sa.Column("references", sa.JSON(), nullable=False),
        sa.Column("has_results", sa.Boolean(), nullable=False),
        sa.Column("sponsor", sa.Text(), nullable=True),
        sa.Column("raw_json", sa.Text(), nullable=False),
        sa.Column("forms", sa.Text(), nullable=False),
        sa.Column("form_tags", sa.JSON(), nullable=False),
        sa.Column("migraine_or_headache", sa.Boolean(), nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("last_updated_at", TIMESTAMP, nullable=False),
        sa.Column("last_fetched_at", TIMESTAMP, nullable=False),
        sa.Column("results_seen_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("nct_id"),
    )
    op.create_index("ix_trial_overall_status", "trial", ["overall_status"])
    op.create_index("ix_trial_first_seen_at", "trial", ["first_seen_at"])

    op.create_table(
        "trial_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("old_status", sa.String(32), nullable=True),
        sa.Column("new_status", sa.String(32), nullable=True),
        sa.Column("posted", sa.String(10), nullable=True),
        sa.ForeignKeyConstraint(["nct_id"], ["trial.nct_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trial_status_change_nct_id", "trial_status_change", ["nct_id"])
    op.create_index("ix_trial_status_change_seen_at", "trial_status_change", ["seen_at"])

    op.create_table(
        "trial_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("seen_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("changed_fields", sa.JSON(), nullable=False),
        sa.Column("old_values", sa.JSON(), nullable=False),
        sa.Column("new_values", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["nct_id"], ["trial.nct_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_trial_revision_nct_id", "trial_revision", ["nct_id"])
    op.create_index("ix_trial_revision_seen_at", "trial_revision", ["seen_at"])

    op.create_table(
        "trial_publication",
        sa.Column("nct_id", sa.String(11), nullable=False),
        sa.Column("pmid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("how", sa.String(24), nullable=False),
        sa.Column("first_seen_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["run.id"]),
        sa.PrimaryKeyConstraint("nct_id", "pmid", "how"),
    )
    op.create_index("ix_trial_publication_pmid", "trial_publication", ["pmid"])


def downgrade() -> None:
    op.drop_index("ix_trial_publication_pmid", table_name="trial_publication")
    op.drop_table("trial_publication")
    op.drop_index("ix_trial_revision_seen_at", table_name="trial_revision")
    op.drop_index("ix_trial_revision_nct_id", table_name="trial_revision")
    op.drop_table("trial_revision")
    op.drop_index("ix_trial_status_change_seen_at", table_name="trial_status_change")
    op.drop_index("ix_trial_status_change_nct_id", table_name="trial_status_change")
    op.drop_table("trial_status_change")
    op.drop_index("ix_trial_first_seen_at", table_name="trial")
    op.drop_index("ix_trial_overall_status", table_name="trial")
    op.drop_table("trial")
    op.execute("DELETE FROM saved_query_state WHERE query_name LIKE 'ctgov:%'")
