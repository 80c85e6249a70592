"""Database fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL tests need a server: set AGGREGATOR_TEST_PG_URL to a URL whose role may create
databases, e.g. postgresql+psycopg://aggregator:aggregator@127.0.0.1:5432/postgres. Each
test module gets its own freshly created database (dropped afterwards) and each test starts
from empty tables; tests that need a blank, unmigrated database get one of their own.
Without the variable the PostgreSQL half skips (fails under CI=true).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from aggregator.article import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Grant,
    MeshHeading,
    MeshQualifier,
)
from aggregator.findings import Dose, Findings, FindingSource
from aggregator.store.engine import new_session, open_engine
from aggregator.store.models import SQLModel
from aggregator.vocab import ArticleTags, DesignDecision, Tag
from tests.plugins.services import require_service

PG_URL_ENV = "AGGREGATOR_TEST_PG_URL"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def pg_server_url() -> str:
    """The PostgreSQL server URL for tests, or skip/fail (CI) with the reason."""
    url = os.environ.get(PG_URL_ENV, "")
    require_service(
        bool(url),
        f"PostgreSQL tests need {PG_URL_ENV}, e.g. "
        "postgresql+psycopg://aggregator:aggregator@127.0.0.1:5432/postgres",
    )
    return url


@contextlib.contextmanager
def fresh_pg_database(server_url: str) -> Iterator[str]:
    """Create a uniquely named empty database, yield its URL, drop it afterwards."""
    name = f"aggregator_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except sa.exc.OperationalError as exc:
            require_service(False, f"PostgreSQL at {PG_URL_ENV} not reachable: {exc.orig}")
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@contextlib.contextmanager
def blank_database(backend: str, directory: Path) -> Iterator[str]:
    """URL of an empty, unmigrated database of the given backend."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'store' / f'{uuid.uuid4().hex[:8]}.sqlite'}"
        return
    with fresh_pg_database(pg_server_url()) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: "sqlite" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def blank_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database (no tables, no migrations) of each backend."""
    with blank_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="module")
def _pg_module_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    with fresh_pg_database(pg_server_url()) as url:
        engine = open_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _empty_all_tables(engine: Engine) -> None:
    # DELETE is much faster than TRUNCATE on tables this small; children before parents.
    with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, built once and copied per test (migrating takes ~0.2 s)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite"
    open_engine(f"sqlite:///{path}").dispose()  # closing the last connection folds in the WAL
    return path


@pytest.fixture
def db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated, empty database engine: SQLite in tmp_path, or PostgreSQL (one database per
    test module, emptied before each test)."""
    if backend == "sqlite":
        path = tmp_path / "db" / "test.sqlite"
        path.parent.mkdir()
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        engine = open_engine(f"sqlite:///{path}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    engine = request.getfixturevalue("_pg_module_engine")
    _empty_all_tables(engine)
    yield engine


@pytest.fixture
def session(db: Engine) -> Iterator[Session]:
    """A session on the migrated test database; rolled back if the test leaves it open."""
    with new_session(db) as active:
        yield active


# ---- synthetic records ----------------------------------------------------------------------
# Invented articles (PMIDs from 99000000, invented names); they describe no real study.


def make_article(pmid: int = 99000001, **overrides: object) -> Article:
    """A synthetic Article with every field filled, so round trips are checked field by field."""
    values: dict[str, object] = {
        "pmid": pmid,
        "title": "Synthetic trial of magnesium glycinate for migraine prophylaxis",
        "pmid_version": 1,
        "abstract": "BACKGROUND: Invented background.\n\nRESULTS: Invented results, 5% \u2265 4.",
        "abstract_sections": (
            AbstractSection(text="Invented background.", label="BACKGROUND", category="BACKGROUND"),
            AbstractSection(text="Invented results, 5% \u2265 4.", label="RESULTS"),
        ),
        "vernacular_title": None,
        "journal_title": "Journal of Synthetic Headache Studies",
        "journal_iso": "J Synth Headache Stud",
        "volume": "12",
        "issue": "3",
        "pages": "101-109",
        "pub_year": 2025,
        "pub_month": 11,
        "pub_day": None,
        "medline_date": None,
        "article_date": dt.date(2025, 10, 30),
        "entrez_date": dt.date(2025, 11, 2),
        "revised_date": dt.date(2025, 11, 20),
        "completed_date": None,
        "status": "In-Process",
        "publication_status": "ppublish",
        "authors": (
            Author(
                last_name="Example",
                fore_name="Ada",
                initials="A",
                affiliations=("Department of Invented Studies, Nowhere University",),
                orcid="0000-0000-0000-0000",
            ),
            Author(collective_name="Synthetic Migraine Study Group"),
        ),
        "languages": ("eng",),
        "publication_types": ("Journal Article", "Randomized Controlled Trial"),
        "mesh_headings": (
            MeshHeading(
                descriptor="Migraine Disorders",
                ui="D008881",
                major=True,
                qualifiers=(MeshQualifier(name="prevention & control", ui="Q000517", major=True),),
            ),
            MeshHeading(descriptor="Magnesium", ui="D008274"),
        ),
        "chemicals": (Chemical(name="Magnesium", registry_number="I38ZP9992A", ui="D008274"),),
        "keywords": ("magnesium glycinate", "migraine"),
        "grants": (Grant(grant_id="SYN-0001", agency="Invented Foundation", country="Nowhere"),),
        "comments_corrections": (CommentCorrection(ref_type="CommentIn", pmid=99000900),),
        "doi": f"10.0000/synthetic.{pmid}",
        "pmc_id": None,
        "pii": "S0000-0000(25)00000-0",
        "raw_xml": f"<PubmedArticle><!-- synthetic --><PMID>{pmid}</PMID></PubmedArticle>",
        "source_format": "pubmed-xml",
    }
    values.update(overrides)
    return Article(**values)  # type: ignore[arg-type]


def make_tags(**overrides: object) -> ArticleTags:
    """Synthetic tagger output for make_article()."""
    values: dict[str, object] = {
        "forms": ("glycinate",),
        "routes": ("oral",),
        "conditions": ("migraine",),
        "study_type": "randomized_controlled_trial",
        "evidence_level": 2,
        "combination_product": False,
        "population": ("adults",),
        "tags": (
            Tag(kind="form", value="glycinate", field="title", snippet="magnesium glycinate"),
            Tag(kind="form", value="glycinate", field="keyword", snippet="magnesium glycinate"),
            Tag(kind="route", value="oral", field="abstract", snippet="oral"),
            Tag(kind="condition", value="migraine", field="mesh", snippet="Migraine Disorders"),
            Tag(
                kind="study_type",
                value="randomized_controlled_trial",
                field="publication_type",
                snippet="Randomized Controlled Trial",
            ),
            Tag(kind="population", value="adults", field="abstract", snippet="adults"),
        ),
        "rules_version": "rules-1",
    }
    values.update(overrides)
    return ArticleTags(**values)  # type: ignore[arg-type]


DESIGN_CUES = (
    Tag(kind="design_cue", value="randomised", field="abstract", snippet="were randomized"),
    Tag(kind="design_cue", value="placebo", field="abstract", snippet="or placebo"),
)


def make_design(**overrides: object) -> DesignDecision:
    """A synthetic design decision for make_tags(): its cues are also in the tags."""
    values: dict[str, object] = {
        "study_type": "randomized_controlled_trial",
        "confidence": 0.9,
        "cues": DESIGN_CUES,
        "explanation": "cues: randomised (abstract), placebo (abstract). path: randomised "
        "allocation stated -> randomized_controlled_trial (confidence 0.90)",
    }
    values.update(overrides)
    return DesignDecision(**values)  # type: ignore[arg-type]


def make_findings(**overrides: object) -> Findings:
    """Synthetic extractor output for an RCT of 120 adults, 500 mg/day for 12 weeks vs placebo."""
    sentence = (
        "120 adults were randomized to magnesium glycinate 250 mg twice daily or placebo "
        "for 12 weeks."
    )
    values: dict[str, object] = {
        "scope": "study",
        "sample_size": 120,
        "sample_size_kind": "randomised",
        "arms": 2,
        "dose_mg_per_day": 500.0,
        "dose": Dose(
            amount=250.0,
            unit="mg",
            per="dose",
            times_per_day=2,
            basis=None,
            salt="glycinate",
            text="magnesium glycinate 250 mg twice daily",
        ),
        "duration_weeks": 12.0,
        "comparator": "placebo",
        "comparator_detail": "placebo",
        "reported_result": "no_difference",
        "provenance": (
            FindingSource("sample_size", "120", "abstract", sentence),
            FindingSource("dose", "magnesium glycinate 250 mg twice daily", "abstract", sentence),
            FindingSource("dose_mg_per_day", "500", "derived", "250 mg x 2 a day = 500 mg"),
            FindingSource("duration_weeks", "12", "abstract", sentence),
            FindingSource("comparator", "placebo", "abstract", sentence),
            FindingSource(
                "reported_result",
                "no_difference",
                "abstract",
                "Migraine days did not differ between the groups.",
            ),
        ),
    }
    values.update(overrides)
    return Findings(**values)  # type: ignore[arg-type]


def make_tags_with_findings(**overrides: object) -> ArticleTags:
    """make_tags() with a design decision (its cues in the tags) and findings."""
    base = make_tags()
    values: dict[str, object] = {
        "tags": (*base.tags, *DESIGN_CUES),
        "design": make_design(),
        "findings": make_findings(),
    }
    values.update(overrides)
    return make_tags(**values)
