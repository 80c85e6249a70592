"""The weekly digest counts from one narrow index instead of reading every article.

``article.forms`` holds the article's magnesium forms as the tagger concluded them (distinct,
vocabulary order, comma-separated; '' for a tagged article without a form, NULL until tagged),
written with the other tag columns (study_type, is_direct, ...). ``article.retraction_notice``
says the record is a retraction notice (not evidence), written with the record. Together with
``ix_article_digest``, which carries every column the digest groups and filters by, the
digest's counts over 100,000 articles are an index scan and a GROUP BY: no join with the tag
table and no read of the (large) article rows. Existing articles are filled in.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
    "retraction_notice",
    "first_seen_at",
    "retracted",
    "retracted_at",
]
_BATCH = 5000
# Frozen copy of Article.is_retraction_notice's rule, on the stored JSON columns.
_NOTICE_REFTYPES = frozenset({"RetractionOf", "RetractedandRepublishedFrom"})
_NOTICE_TYPE = "Retraction of Publication"


def _is_notice(publication_types: Any, comments_corrections: Any) -> bool:
    if isinstance(publication_types, str):  # JSON text, if the driver did not decode it
        publication_types = json.loads(publication_types)
    if isinstance(comments_corrections, str):
        comments_corrections = json.loads(comments_corrections)
    retracts = any(
        isinstance(cc, dict) and cc.get("ref_type") in _NOTICE_REFTYPES and cc.get("pmid")
        for cc in comments_corrections or ()
    )
    return retracts or _NOTICE_TYPE in (publication_types or ())


def _joined(forms: set[str]) -> str:
    order = {form: index for index, form in enumerate(_FORMS)}
    return ",".join(sorted(forms, key=lambda f: (order.get(f, len(_FORMS)), f)))


def upgrade() -> None:
    op.add_column("article", sa.Column("forms", sa.Text(), nullable=True))
    op.add_column(
        "article",
        sa.Column("retraction_notice", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    bind = op.get_bind()
    # Only records mentioning a retraction can be notices; those are checked in full.
    candidates = bind.execute(
        sa.text(
            "SELECT pmid, publication_types, comments_corrections FROM article "
            "WHERE CAST(publication_types AS TEXT) LIKE '%Retract%' "
            "OR CAST(comments_corrections AS TEXT) LIKE '%Retract%'"
        )
    )
    notices = [{"pmid": pmid} for pmid, types, cc in candidates if _is_notice(types, cc)]
    if notices:
        bind.execute(
            sa.text("UPDATE article SET retraction_notice = true WHERE pmid = :pmid"), notices
        )
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
    op.drop_column("article", "retraction_notice")
    op.drop_column("article", "forms")
