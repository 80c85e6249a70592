"""The weekly digest counts from one narrow index instead of reading every article.

``article.forms`` holds the article's magnesium forms as the tagger concluded them (distinct,
vocabulary order, comma-separated; '' for a tagged article without a form, NULL until tagged),
written with the other tag columns (study_type, is_direct, ...). Together with
``ix_article_digest``, which carries every column the digest groups by, the digest's counts
over 100,000 articles are one index scan and a GROUP BY: no join with the tag table and no
read of the (large) article rows. Existing tagged articles are filled from their tag rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of aggregator.vocab.FORMS (a migration never changes later); values outside it
# go last, alphabetically, as the store orders them.
_FORMS = (
    "glycinate",
    "oxide",
    "citrate",
    "sulfate",
    "chloride",
    "pidolate",
    "aspartate",
    "lactate",
    "malate",
    "threonate",
    "taurate",
    "carbonate",
    "hydroxide",
    "orotate",
    "gluconate",
    "unspecified",
    "dietary",
)
# GROUP BY columns first, in order, so SQLite groups while scanning (no sort); then the
# columns the digest filters on, so it never reads the article rows.
_DIGEST_COLUMNS = [
    "forms",
    "study_type",
    "evidence_level",
    "is_direct",
    "pub_year",
    "rules_version",
    "first_seen_at",
    "retracted",
    "retracted_at",
]
_BATCH = 5000


def _joined(forms: set[str]) -> str:
    order = {form: index for index, form in enumerate(_FORMS)}
    return ",".join(sorted(forms, key=lambda f: (order.get(f, len(_FORMS)), f)))


def upgrade() -> None:
    op.add_column("article", sa.Column("forms", sa.Text(), nullable=True))
    bind = op.get_bind()
    forms: dict[int, set[str]] = {}
    rows = bind.execute(
        sa.text(
            "SELECT a.pmid, t.value FROM article a LEFT JOIN tag t ON t.pmid = a.pmid AND "
            "t.kind = 'form' WHERE a.rules_version IS NOT NULL"
        )
    )
    for pmid, value in rows:
        found = forms.setdefault(pmid, set())
        if value is not None:
            found.add(value)
    update = sa.text("UPDATE article SET forms = :forms WHERE pmid = :pmid")
    items = [{"pmid": pmid, "forms": _joined(values)} for pmid, values in forms.items()]
    for start in range(0, len(items), _BATCH):
        bind.execute(update, items[start : start + _BATCH])
    op.create_index("ix_article_digest", "article", _DIGEST_COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_article_digest", table_name="article")
    op.drop_column("article", "forms")
