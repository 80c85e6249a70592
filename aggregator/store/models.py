"""SQLModel table models: the schema that the alembic migrations in db/migrations create.

Types are portable between SQLite and PostgreSQL: lists of structured values are JSON columns,
timestamps are timezone-aware UTC (:class:`UTCDateTime`), dates are plain DATE columns.
Any change here needs a new migration; tests/test_migrations.py checks the two agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

# Run and lock states as stored in the database.
RUN_STATUSES: tuple[str, ...] = ("running", "success", "partial", "failed", "interrupted")
RUN_KINDS: tuple[str, ...] = ("run", "import", "demo")
ARTICLE_SOURCES: tuple[str, ...] = ("efetch", "import", "demo")
# How a trial and a publication are joined (trial_publication.how).
TRIAL_LINK_KINDS: tuple[str, ...] = ("result_reference", "derived_reference", "article_mentions")
# Tables that migrations create outside the models (SQLite FTS5 index and its shadow tables):
# autogenerate comparisons must ignore them.
UNMODELLED_TABLE_PREFIXES: tuple[str, ...] = ("article_fts",)
# Dialect-specific indexes made by migrations: full text (0003's expression index, 0004's
# index of the stored tsvector) and the sort indexes (0003's, and 0009's sample size order),
# which on SQLite also carry the filter columns.
UNMODELLED_INDEXES: frozenset[str] = frozenset(
    {
        "ix_article_fulltext",
        "ix_article_search_vector",
        "ix_article_sort_level",
        "ix_article_sort_year",
        "ix_article_sort_date",
        "ix_article_sort_n",  # revision 0009: largest sample size first
        "ix_article_reported_result",  # revision 0009, PostgreSQL only
        "ix_article_comparator",  # revision 0009, PostgreSQL only
    }
)
# (table, column) pairs that only some backends have: PostgreSQL's stored tsvector of
# revision 0004, which SQLite (searching through FTS5) has no type for.
UNMODELLED_COLUMNS: frozenset[tuple[str, str]] = frozenset({("article", "search_vector")})


def include_in_autogenerate(
    object_: object, name: str | None, type_: str, _reflected: bool, _compare_to: object
) -> bool:
    """alembic ``include_object`` hook: skip objects the models deliberately do not describe."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(UNMODELLED_TABLE_PREFIXES)
    if type_ == "index":
        return name not in UNMODELLED_INDEXES
    if type_ == "column":
        table = getattr(object_, "table", None)
        return (getattr(table, "name", None), name) not in UNMODELLED_COLUMNS
    return True


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and PostgreSQL alike.

    SQLite has no time zones, so values are stored as naive UTC text there and given
    ``tzinfo=UTC`` again on the way out. Naive input is refused: it is always a bug.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_type=UTCDateTime,
        nullable=nullable,
        index=index,
    )


def _json(*, nullable: bool = False) -> Any:
    return Field(default_factory=list, sa_type=sa.JSON, nullable=nullable)


class ArticleRow(SQLModel, table=True):
    """One PubMed record (natural key: PMID) with what we know about its history."""

    __tablename__ = "article"
    # Added by revision 0003 for the default "strongest evidence first" listing.
    __table_args__ = (
        sa.Index("ix_article_evidence_level_pub_year", "evidence_level", "pub_year"),
        # Revision 0005: the weekly digest's GROUP BY reads only this index, in its order.
        sa.Index(
            "ix_article_digest",
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
        ),
    )

    pmid: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    title: str = Field(sa_type=sa.Text)
    kind: str = Field(default="article", sa_type=sa.String(16))
    pmid_version: int = 1
    abstract: str = Field(default="", sa_type=sa.Text)
    abstract_sections: list[dict[str, Any]] = _json()
    vernacular_title: str | None = Field(default=None, sa_type=sa.Text)
    journal_title: str | None = Field(default=None, sa_type=sa.Text)
    journal_iso: str | None = Field(default=None, sa_type=sa.Text)
    volume: str | None = Field(default=None, sa_type=sa.String(64))
    issue: str | None = Field(default=None, sa_type=sa.String(64))
    pages: str | None = Field(default=None, sa_type=sa.String(128))
    pub_year: int | None = Field(default=None, index=True)
    pub_month: int | None = None
    pub_day: int | None = None
    medline_date: str | None = Field(default=None, sa_type=sa.String(128))
    article_date: dt.date | None = None
    entrez_date: dt.date | None = None
    revised_date: dt.date | None = None
    completed_date: dt.date | None = None
    status: str | None = Field(default=None, sa_type=sa.String(64))
    publication_status: str | None = Field(default=None, sa_type=sa.String(64))
    authors: list[dict[str, Any]] = _json()
    languages: list[str] = _json()
    publication_types: list[str] = _json()
    mesh_headings: list[dict[str, Any]] = _json()
    chemicals: list[dict[str, Any]] = _json()
    keywords: list[str] = _json()
    grants: list[dict[str, Any]] = _json()
    comments_corrections: list[dict[str, Any]] = _json()
    doi: str | None = Field(default=None, sa_type=sa.String(255))
    pmc_id: str | None = Field(default=None, sa_type=sa.String(32))
    pii: str | None = Field(default=None, sa_type=sa.String(255))
    issn: str | None = Field(default=None, sa_type=sa.String(32))  # revision 0008
    source_format: str = Field(default="pubmed-xml", sa_type=sa.String(16))
    raw_xml: str = Field(default="", sa_type=sa.Text)

    # Bookkeeping.
    content_hash: str | None = Field(default=None, sa_type=sa.String(64))
    source: str = Field(sa_type=sa.String(16))
    first_seen_at: dt.datetime = _ts(index=True)
    last_updated_at: dt.datetime = _ts()
    last_fetched_at: dt.datetime = _ts()
    retracted: bool = Field(default=False, index=True)
    retracted_at: dt.datetime | None = _ts(nullable=True)
    retraction_notice_pmid: int | None = None
    # The record itself is a retraction notice (Article.is_retraction_notice): not evidence.
    retraction_notice: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})

    # Tagger conclusions (NULL until tagged); per-value provenance is in the tag table.
    study_type: str | None = Field(default=None, sa_type=sa.String(64), index=True)
    evidence_level: int | None = None
    combination_product: bool | None = None
    is_direct: bool | None = None
    rules_version: str | None = Field(default=None, sa_type=sa.String(64))
    # The forms of the form tags, distinct, vocabulary order, comma-separated ('' for none).
    forms: str | None = Field(default=None, sa_type=sa.Text)
    # Revision 0008: what the article is as evidence (vocab.EVIDENCE_CLASSES).
    evidence_class: str | None = Field(default=None, sa_type=sa.String(32))
    # Revision 0009: the design decision (its cues are tag rows of kind design_cue) and what
    # the study found (aggregator.findings.Findings). ``findings`` is the whole of it as JSON
    # (Findings.to_dict, with provenance); the five columns after it are copies of its values
    # that `query` filters and sorts by. All NULL until tagged by rules that compute them
    # (``aggregator retag`` fills them in); a NULL column in a row whose ``findings`` is set
    # means "not stated".
    design_confidence: float | None = Field(default=None, sa_type=sa.Float)
    design_explanation: str | None = Field(default=None, sa_type=sa.Text)
    findings: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON, nullable=True)
    sample_size: int | None = None
    dose_mg_per_day: float | None = Field(default=None, sa_type=sa.Float)
    duration_weeks: float | None = Field(default=None, sa_type=sa.Float)
    comparator: str | None = Field(default=None, sa_type=sa.String(16))
    reported_result: str | None = Field(default=None, sa_type=sa.String(24))


class TagRow(SQLModel, table=True):
    """One tag value with its provenance; every form/route/condition/population is one row."""

    __tablename__ = "tag"
    __table_args__ = (
        sa.UniqueConstraint("pmid", "kind", "value", "field", name="uq_tag_pmid_kind_value_field"),
        sa.Index("ix_tag_kind_value", "kind", "value"),
        sa.Index("ix_tag_kind_value_pmid", "kind", "value", "pmid"),  # revision 0003
    )

    id: int | None = Field(default=None, primary_key=True)
    pmid: int = Field(
        sa_column_args=[sa.ForeignKey("article.pmid", ondelete="CASCADE")],
        index=True,
    )
    kind: str = Field(sa_type=sa.String(32))
    value: str = Field(sa_type=sa.String(64))
    field: str = Field(sa_type=sa.String(32))
    snippet: str = Field(default="", sa_type=sa.Text)
    rules_version: str = Field(sa_type=sa.String(64))


class RunRow(SQLModel, table=True):
    """One harvest/import/demo run and its counts."""

    __tablename__ = "run"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default="run", sa_type=sa.String(16))
    status: str = Field(default="running", sa_type=sa.String(16))
    started_at: dt.datetime = _ts(index=True)
    finished_at: dt.datetime | None = _ts(nullable=True)
    searched: int = 0
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    failed_queries: int = 0
    details: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    error: str | None = Field(default=None, sa_type=sa.Text)


class SavedQueryStateRow(SQLModel, table=True):
    """Checkpoint of one saved search: harvested up to and including ``last_window_end``."""

    __tablename__ = "saved_query_state"

    query_name: str = Field(primary_key=True, sa_type=sa.String(64))
    term_hash: str | None = Field(default=None, sa_type=sa.String(64))
    last_window_end: dt.date | None = None
    last_success_at: dt.datetime | None = _ts(nullable=True)
    last_run_id: int | None = Field(default=None, foreign_key="run.id")


class QueryHitRow(SQLModel, table=True):
    """A saved search found this PMID (the article row may not be fetched yet: no FK)."""

    __tablename__ = "query_hit"

    query_name: str = Field(primary_key=True, sa_type=sa.String(64))
    pmid: int = Field(primary_key=True, index=True, sa_column_kwargs={"autoincrement": False})
    first_seen_at: dt.datetime = _ts()
    run_id: int | None = Field(default=None, foreign_key="run.id")


# ---- added by revision 0002 -------------------------------------------------------------


class ArticleRevisionRow(SQLModel, table=True):
    """A real change to a stored article: which fields, and their old and new values."""

    __tablename__ = "article_revision"

    id: int | None = Field(default=None, primary_key=True)
    pmid: int = Field(
        sa_column_args=[sa.ForeignKey("article.pmid", ondelete="CASCADE")],
        index=True,
    )
    seen_at: dt.datetime = _ts(index=True)
    run_id: int | None = Field(default=None, foreign_key="run.id")
    changed_fields: list[str] = _json()
    old_values: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    new_values: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class PendingRetractionRow(SQLModel, table=True):
    """A retraction notice for an article we have not stored yet; applied when it arrives."""

    __tablename__ = "pending_retraction"

    pmid: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    notice_pmid: int
    noted_at: dt.datetime = _ts()
    run_id: int | None = Field(default=None, foreign_key="run.id")


class DigestRow(SQLModel, table=True):
    """A generated digest issue; one per ISO week and format (regenerating replaces it)."""

    __tablename__ = "digest"
    __table_args__ = (sa.UniqueConstraint("iso_week", "format", name="uq_digest_week_format"),)

    id: int | None = Field(default=None, primary_key=True)
    iso_week: str = Field(sa_type=sa.String(10))
    format: str = Field(sa_type=sa.String(16))
    created_at: dt.datetime = _ts(index=True)
    content: str = Field(sa_type=sa.Text)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class RunLockRow(SQLModel, table=True):
    """A lease lock row (one per lock name); see aggregator.store.lock."""

    __tablename__ = "run_lock"

    name: str = Field(primary_key=True, sa_type=sa.String(32))
    owner: str = Field(sa_type=sa.String(128))
    pid: int
    hostname: str = Field(sa_type=sa.String(255))
    acquired_at: dt.datetime = _ts()
    heartbeat_at: dt.datetime = _ts()
    expires_at: dt.datetime = _ts()


# ---- added by revision 0007: the ClinicalTrials.gov watch -----------------------------------


class TrialRow(SQLModel, table=True):
    """One registered study (natural key: NCT id) as the registry last described it, with the
    magnesium forms of its interventions and what we know about its history.

    Registry dates are kept as the registry gives them: partial ISO text ("2026", "2026-05",
    "2026-05-17") with their type (ACTUAL or ESTIMATED; NULL when not given). ``forms`` is
    the comma-separated forms of ``form_tags`` in vocabulary order ('' for none), as for
    articles.
    """

    __tablename__ = "trial"

    nct_id: str = Field(primary_key=True, sa_type=sa.String(11))
    title: str = Field(default="", sa_type=sa.Text)
    official_title: str | None = Field(default=None, sa_type=sa.Text)
    acronym: str | None = Field(default=None, sa_type=sa.String(128))
    overall_status: str | None = Field(default=None, sa_type=sa.String(32), index=True)
    why_stopped: str | None = Field(default=None, sa_type=sa.Text)
    phases: list[str] = _json()
    study_type: str | None = Field(default=None, sa_type=sa.String(32))
    allocation: str | None = Field(default=None, sa_type=sa.String(32))
    masking: str | None = Field(default=None, sa_type=sa.String(32))
    enrollment: int | None = None
    enrollment_type: str | None = Field(default=None, sa_type=sa.String(16))
    start_date: str | None = Field(default=None, sa_type=sa.String(10))
    start_date_type: str | None = Field(default=None, sa_type=sa.String(16))
    primary_completion_date: str | None = Field(default=None, sa_type=sa.String(10))
    primary_completion_date_type: str | None = Field(default=None, sa_type=sa.String(16))
    completion_date: str | None = Field(default=None, sa_type=sa.String(10))
    completion_date_type: str | None = Field(default=None, sa_type=sa.String(16))
    first_posted: str | None = Field(default=None, sa_type=sa.String(10))
    first_posted_type: str | None = Field(default=None, sa_type=sa.String(16))
    last_update_posted: str | None = Field(default=None, sa_type=sa.String(10))
    results_first_posted: str | None = Field(default=None, sa_type=sa.String(10))
    conditions: list[str] = _json()
    keywords: list[str] = _json()
    interventions: list[dict[str, Any]] = _json()
    arm_groups: list[dict[str, Any]] = _json()
    references: list[dict[str, Any]] = _json()
    has_results: bool = Field(default=False)
    sponsor: str | None = Field(default=None, sa_type=sa.Text)
    raw_json: str = Field(default="", sa_type=sa.Text)

    # Conclusions from the registry texts (ctgov.forms, ctgov.conditions).
    forms: str = Field(default="", sa_type=sa.Text)
    form_tags: list[dict[str, Any]] = _json()
    migraine_or_headache: bool = Field(default=False)
    rules_version: str | None = Field(default=None, sa_type=sa.String(64))

    # Bookkeeping.
    content_hash: str = Field(sa_type=sa.String(64))
    first_seen_at: dt.datetime = _ts(index=True)
    last_updated_at: dt.datetime = _ts()
    last_fetched_at: dt.datetime = _ts()
    results_seen_at: dt.datetime | None = _ts(nullable=True)  # when has_results was first seen


class TrialStatusChangeRow(SQLModel, table=True):
    """The status history of a trial: one row when first seen (``old_status`` NULL) and one
    per change of the registry's overall status. ``posted`` is the registry's date of the
    record version that showed the new status (its LastUpdatePostDate); ``seen_at`` when a
    harvest first saw it."""

    __tablename__ = "trial_status_change"

    id: int | None = Field(default=None, primary_key=True)
    nct_id: str = Field(
        sa_type=sa.String(11),
        sa_column_args=[sa.ForeignKey("trial.nct_id", ondelete="CASCADE")],
        index=True,
    )
    seen_at: dt.datetime = _ts(index=True)
    run_id: int | None = Field(default=None, foreign_key="run.id")
    old_status: str | None = Field(default=None, sa_type=sa.String(32))
    new_status: str | None = Field(default=None, sa_type=sa.String(32))
    posted: str | None = Field(default=None, sa_type=sa.String(10))


class TrialRevisionRow(SQLModel, table=True):
    """A real change to a stored trial (its content hash changed): which fields, and their
    old and new values. A digest of a past week reverts later revisions, so it shows each
    trial as it was then; ``trials show`` lists them."""

    __tablename__ = "trial_revision"

    id: int | None = Field(default=None, primary_key=True)
    nct_id: str = Field(
        sa_type=sa.String(11),
        sa_column_args=[sa.ForeignKey("trial.nct_id", ondelete="CASCADE")],
        index=True,
    )
    seen_at: dt.datetime = _ts(index=True)
    run_id: int | None = Field(default=None, foreign_key="run.id")
    changed_fields: list[str] = _json()
    old_values: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    new_values: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class TrialPublicationRow(SQLModel, table=True):
    """A trial and a publication joined: ``how`` is result_reference or derived_reference
    (the registry's references module names the PMID) or article_mentions (the article names
    the NCT id in its title, abstract or databank list). Either side may be missing from the
    database (no foreign keys): a reference to an article we have not harvested, an article
    naming a trial outside the registry searches."""

    __tablename__ = "trial_publication"

    nct_id: str = Field(primary_key=True, sa_type=sa.String(11))
    pmid: int = Field(primary_key=True, index=True, sa_column_kwargs={"autoincrement": False})
    how: str = Field(primary_key=True, sa_type=sa.String(24))
    first_seen_at: dt.datetime = _ts()
    run_id: int | None = Field(default=None, foreign_key="run.id")
