"""Schema migrations and opening databases, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine

from aggregator.article import CommentCorrection
from aggregator.errors import StoreError
from aggregator.jobs.retag import retag
from aggregator.pubmed.fake.corpus import corpus_dir
from aggregator.pubmed.files import iter_file
from aggregator.store.articles import (
    StoredArticle,
    UpsertResult,
    article_history,
    get_article,
    list_articles,
    stored_pmids,
    upsert_article,
)
from aggregator.store.codec import (
    article_columns,
    as_stored,
    content_hash,
    forms_column,
    tag_columns,
    tag_rows,
)
from aggregator.store.engine import (
    create_store_engine,
    current_revision,
    downgrade_database,
    head_revision,
    known_revisions,
    migrations_dir,
    new_session,
    open_engine,
    upgrade_database,
)
from aggregator.store.models import (
    UNMODELLED_TABLE_PREFIXES,
    SQLModel,
    include_in_autogenerate,
)
from aggregator.store.runs import get_checkpoint, get_run
from aggregator.store.search import ArticleFilter, select_pmids
from aggregator.tagging import tag_article
from aggregator.vocab import NO_DESIGN_DECISION
from tests.plugins.databases import make_article, make_tags

T0 = dt.datetime(2025, 6, 2, 8, 30, tzinfo=dt.UTC)
T1 = dt.datetime(2025, 6, 9, 8, 30, tzinfo=dt.UTC)
ALL_TABLES = {
    "alembic_version",
    "article",
    "article_revision",
    "digest",
    "pending_retraction",
    "query_hit",
    "run",
    "run_lock",
    "saved_query_state",
    "tag",
    "trial",
    "trial_publication",
    "trial_revision",
    "trial_status_change",
}
V1_TABLES = {"alembic_version", "article", "query_hit", "run", "saved_query_state", "tag"}


def table_names(engine: Engine) -> set[str]:
    """Tables the models describe (FTS index tables of later revisions left out)."""
    names = sa.inspect(engine).get_table_names()
    return {n for n in names if not n.startswith(UNMODELLED_TABLE_PREFIXES)}


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return current_revision(connection)


def test_scripts_are_found_and_form_one_line_of_history() -> None:
    assert (migrations_dir() / "env.py").is_file()
    assert {"0001", "0002"} <= known_revisions()
    assert head_revision() == max(known_revisions())


def test_new_database_is_built_by_the_migrations(blank_db_url: str) -> None:
    engine = open_engine(blank_db_url)
    try:
        assert revision_of(engine) == head_revision()
        assert table_names(engine) == ALL_TABLES
        # Opening again is a no-op.
        open_engine(blank_db_url).dispose()
        assert revision_of(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(db: Engine) -> None:
    with db.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_in_autogenerate}
        )
        assert compare_metadata(context, SQLModel.metadata) == []

        # The comparison does see differences (so the assertion above can fail).
        changed = sa.MetaData()
        for table in SQLModel.metadata.sorted_tables:
            table.to_metadata(changed)
        changed.tables["article"].append_column(sa.Column("extra", sa.Integer()))
        diffs = compare_metadata(context, changed)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "article", "extra")]


def old_columns(article: Any) -> dict[str, Any]:
    """The article's columns as revisions before 0008 had them (no ISSN)."""
    return {k: v for k, v in article_columns(article).items() if k != "issn"}


def _insert_v1_rows(engine: Engine) -> dict[str, Any]:
    """Rows written the way revision 0001 stored them."""
    metadata = sa.MetaData()
    with engine.begin() as connection:
        tables = {
            name: sa.Table(name, metadata, autoload_with=connection)
            for name in ("article", "tag", "run", "query_hit", "saved_query_state")
        }
        run_id = connection.execute(
            tables["run"]
            .insert()
            .values(
                kind="run",
                status="success",
                started_at=T0,
                finished_at=T0,
                searched=2,
                new=2,
                revised=0,
                unchanged=0,
                failed_queries=0,
                details={},
            )
            .returning(tables["run"].c.id)
        ).scalar_one()
        tags = make_tags()
        for pmid, retracted in ((99000001, False), (99000002, True)):
            connection.execute(
                tables["article"]
                .insert()
                .values(
                    **old_columns(make_article(pmid)),
                    source="efetch",
                    first_seen_at=T0,
                    last_updated_at=T0,
                    last_fetched_at=T0,
                    retracted=retracted,
                    study_type=tags.study_type,
                    evidence_level=tags.evidence_level,
                    combination_product=tags.combination_product,
                    is_direct=tags.is_direct,
                    rules_version=tags.rules_version,
                )
            )
            connection.execute(
                tables["tag"].insert(),
                [
                    {
                        "pmid": pmid,
                        "kind": t.kind,
                        "value": t.value,
                        "field": t.field,
                        "snippet": t.snippet,
                        "rules_version": tags.rules_version,
                    }
                    for t in tags.tags
                ],
            )
            connection.execute(
                tables["query_hit"]
                .insert()
                .values(query_name="mg-migraine", pmid=pmid, first_seen_at=T0, run_id=run_id)
            )
        connection.execute(
            tables["saved_query_state"]
            .insert()
            .values(
                query_name="mg-migraine",
                term_hash="h1",
                last_window_end=dt.date(2025, 6, 1),
                last_success_at=T0,
                last_run_id=run_id,
            )
        )
    return {"run_id": run_id, "tags": tags}


def test_upgrade_from_0001_keeps_rows_and_backfills(blank_db_url: str) -> None:
    engine = create_store_engine(blank_db_url)
    try:
        upgrade_database(engine, "0001")
        assert (revision_of(engine), table_names(engine)) == ("0001", V1_TABLES)
        inserted = _insert_v1_rows(engine)
    finally:
        engine.dispose()

    engine = open_engine(blank_db_url)  # upgrades to head on open
    try:
        assert (revision_of(engine), table_names(engine)) == (head_revision(), ALL_TABLES)
        with new_session(engine) as session:
            found = list_articles(session)
            expected = [
                StoredArticle(
                    article=make_article(pmid),
                    tags=inserted["tags"],
                    source="efetch",
                    content_hash=content_hash(make_article(pmid)),
                    first_seen_at=T0,
                    last_updated_at=T0,
                    last_fetched_at=T0,
                    retracted=retracted,
                    retracted_at=T0 if retracted else None,
                    retraction_notice_pmid=None,
                    query_names=("mg-migraine",),
                )
                for pmid, retracted in ((99000001, False), (99000002, True))
            ]
            assert found == expected
            assert [f.article.raw_xml for f in found] == [
                make_article(99000001).raw_xml,
                make_article(99000002).raw_xml,
            ]
            # Revision 0005 filled article.forms from the form tags, as the store writes it.
            stored_forms = session.execute(sa.text("SELECT pmid, forms FROM article ORDER BY pmid"))
            forms = forms_column(inserted["tags"].forms)
            assert forms and stored_forms.all() == [(99000001, forms), (99000002, forms)]
            assert get_checkpoint(session, "mg-migraine", "h1") == dt.date(2025, 6, 1)
            assert get_run(session, inserted["run_id"]).status == "success"  # type: ignore[union-attr]
            # The backfilled hash is the one the code computes: re-fetching changes nothing.
            result = upsert_article(
                session, make_article(99000001), tags=None, run_id=None, now=T1, source="efetch"
            )
            assert result == UpsertResult(pmid=99000001, status="unchanged")
            # New tables work on the upgraded database.
            changed = dataclasses.replace(make_article(99000001), title="Changed title")
            upsert_article(session, changed, tags=None, run_id=None, now=T1, source="efetch")
            assert [r.changed_fields for r in article_history(session, 99000001)] == [["title"]]
            session.commit()
    finally:
        engine.dispose()


def test_upgrade_to_0005_fills_forms_and_retraction_notices(blank_db_url: str) -> None:
    engine = create_store_engine(blank_db_url)
    try:
        upgrade_database(engine, "0004")
        notice = make_article(
            99000002,
            publication_types=("Retraction of Publication",),
            comments_corrections=(CommentCorrection("RetractionOf", 99000001),),
        )
        untagged_notice = make_article(99000003, publication_types=("Retraction of Publication",))
        tags = make_tags(forms=("oxide", "glycinate"))
        article_table = sa.Table("article", sa.MetaData(), autoload_with=engine)
        tag_table = sa.Table("tag", sa.MetaData(), autoload_with=engine)
        with engine.begin() as connection:
            for article, tagged in (
                (make_article(99000001), True),
                (notice, True),
                (untagged_notice, False),
            ):
                connection.execute(
                    article_table.insert().values(
                        **old_columns(article),
                        source="efetch",
                        first_seen_at=T0,
                        last_updated_at=T0,
                        last_fetched_at=T0,
                        retracted=False,
                        rules_version=tags.rules_version if tagged else None,
                    )
                )
            connection.execute(
                tag_table.insert(),
                [
                    {
                        "pmid": pmid,
                        "kind": "form",
                        "value": form,
                        "field": "title",
                        "snippet": form,
                        "rules_version": "r",
                    }
                    for pmid in (99000001, 99000002)
                    for form in ("oxide", "glycinate")
                ],
            )
    finally:
        engine.dispose()

    engine = open_engine(blank_db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT pmid, forms, retraction_notice FROM article ORDER BY pmid")
            )
            assert [(p, f, bool(n)) for p, f, n in rows] == [
                (99000001, "glycinate,oxide", False),
                (99000002, "glycinate,oxide", True),
                (99000003, None, True),  # untagged: no forms yet, but a notice all the same
            ]
    finally:
        engine.dispose()


def test_failed_upgrade_changes_nothing(blank_db_url: str) -> None:
    engine = create_store_engine(blank_db_url)
    try:
        upgrade_database(engine, "0001")
        _insert_v1_rows(engine)
        with engine.begin() as connection:
            # A table in the way makes revision 0002 fail after its first steps.
            connection.execute(sa.text("CREATE TABLE digest (id INTEGER)"))
        with pytest.raises(StoreError) as caught:
            upgrade_database(engine)
        assert "digest" in str(caught.value)
        assert "\n" not in str(caught.value)
        assert revision_of(engine) == "0001"
        assert table_names(engine) == V1_TABLES | {"digest"}
        columns = {c["name"] for c in sa.inspect(engine).get_columns("article")}
        assert "content_hash" not in columns
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT count(*) FROM tag")).scalar_one() == 12
    finally:
        engine.dispose()


def test_downgrade_to_0001_keeps_articles_and_tags(db: Engine) -> None:
    with new_session(db) as session:
        upsert_article(
            session, make_article(), tags=make_tags(), run_id=None, now=T0, source="efetch"
        )
        session.commit()
    downgrade_database(db, "0001")
    assert (revision_of(db), table_names(db)) == ("0001", V1_TABLES)
    with db.connect() as connection:
        counts = [
            connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in ("article", "tag")
        ]
    assert counts == [1, len(make_tags().tags)]
    upgrade_database(db)
    assert revision_of(db) == head_revision()
    with new_session(db) as session:
        found = get_article(session, 99000001)
        assert found is not None
        assert found.tags == make_tags()


def test_newer_schema_is_refused_with_a_clear_error(blank_db_url: str) -> None:
    open_engine(blank_db_url).dispose()
    engine = create_store_engine(blank_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '0099_future'"))
    finally:
        engine.dispose()
    message = (
        "database schema 0099_future is newer than this version of aggregator supports; "
        "upgrade aggregator"
    )
    with pytest.raises(StoreError) as caught:
        open_engine(blank_db_url)
    assert str(caught.value) == message
    with pytest.raises(StoreError) as caught:
        open_engine(blank_db_url, migrate=False)
    assert str(caught.value) == message


def test_foreign_tables_without_version_are_refused(blank_db_url: str) -> None:
    engine = create_store_engine(blank_db_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE article (id INTEGER)"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError) as caught:
        open_engine(blank_db_url)
    assert str(caught.value) == (
        "database has an 'article' table but no schema version; it was not created by aggregator"
    )


# ---- opening databases: clear one-line errors (no server needed) ---------------------------


def test_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.sqlite"
    open_engine(f"sqlite:///{path}").dispose()
    assert path.is_file()


def test_unwritable_sqlite_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where a directory should be\n")
    path = blocker / "store.sqlite"
    with pytest.raises(StoreError) as caught:
        open_engine(f"sqlite:///{path}")
    assert str(caught.value) == f"cannot create database {path}: {blocker} is not a directory"


def test_locked_sqlite_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE placeholder (x INTEGER)")
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError) as caught:
            open_engine(f"sqlite:///{path}", busy_timeout_s=0.05)
    finally:
        holder.close()
    assert str(caught.value) == (
        f"database {path} is locked by another process; try again when it has finished"
    )


def test_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite"
    path.write_text("these are notes, not a database\n" * 100)
    with pytest.raises(StoreError) as caught:
        open_engine(f"sqlite:///{path}")
    assert str(caught.value) == (
        f"database {path} is damaged or not an SQLite database: file is not a database"
    )


def test_unreachable_server_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_engine("postgresql+psycopg://someone:s3cret@127.0.0.1:1/aggregator")
    message = str(caught.value)
    assert message.startswith(
        "cannot use database postgresql+psycopg://someone:***@127.0.0.1:1/aggregator: "
    )
    assert "s3cret" not in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "::::",
            "invalid database URL '::::': Could not parse SQLAlchemy URL from given URL string",
        ),
        (
            "nosuchdb://x/y",
            "no database driver for 'nosuchdb' (Can't load plugin: sqlalchemy.dialects:nosuchdb)",
        ),
    ],
)
def test_bad_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_engine(url)
    assert str(caught.value) == message


def test_in_memory_sqlite_works(tmp_path: Path) -> None:
    engine = open_engine("sqlite://")
    try:
        with new_session(engine) as session:
            upsert_article(session, make_article(), tags=None, run_id=None, now=T0, source="demo")
            session.commit()
        with new_session(engine) as session:
            assert stored_pmids(session, [99000001]) == {99000001}
    finally:
        engine.dispose()


# ---- revision 0009: the design decision and the findings -------------------------------------


def pmid_of(article: Any) -> int:
    return int(article.pmid)


COLUMNS_0009 = (
    "design_confidence",
    "design_explanation",
    "findings",
    "sample_size",
    "dose_mg_per_day",
    "duration_weeks",
    "comparator",
    "reported_result",
)


def test_upgrade_from_0008_keeps_rows_with_null_findings_until_retag(blank_db_url: str) -> None:
    """Rows stored at revision 0008 (tagged by the rules of then, design cues as tag rows) get
    the new columns as NULL: read back unchanged, not matched by the findings filters, shown
    as "not extracted yet"; ``retag`` then fills them in and a second one changes nothing."""
    articles = [
        article
        for path in sorted((corpus_dir() / "base").glob("*.xml"))[:6]
        for article in iter_file(path)
    ]
    engine = create_store_engine(blank_db_url)
    try:
        upgrade_database(engine, "0008")
        article_table = sa.Table("article", sa.MetaData(), autoload_with=engine)
        tag_table = sa.Table("tag", sa.MetaData(), autoload_with=engine)
        assert not set(COLUMNS_0009) & set(article_table.c.keys())
        with engine.begin() as connection:
            for article in articles:
                then = dataclasses.replace(
                    tag_article(article), design=NO_DESIGN_DECISION, findings=None
                )
                connection.execute(
                    article_table.insert().values(
                        **article_columns(article),
                        **{k: v for k, v in tag_columns(then).items() if k not in COLUMNS_0009},
                        content_hash=content_hash(article),
                        source="import",
                        first_seen_at=T0,
                        last_updated_at=T0,
                        last_fetched_at=T0,
                        retracted=False,
                    )
                )
                connection.execute(tag_table.insert(), tag_rows(article.pmid, then))
    finally:
        engine.dispose()

    engine = open_engine(blank_db_url)  # upgrades to head on open
    try:
        assert revision_of(engine) == head_revision()
        index_names = {i["name"] for i in sa.inspect(engine).get_indexes("article")}
        assert "ix_article_sort_n" in index_names
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(f"SELECT {', '.join(COLUMNS_0009)} FROM article ORDER BY pmid")
            ).all()
        assert rows == [tuple([None] * len(COLUMNS_0009))] * len(articles)
        with engine.connect() as connection:  # the browsing view shows them too
            summary = connection.execute(
                sa.text("SELECT pmid, sample_size, reported_result FROM article_summary")
            ).all()
        assert sorted(summary) == [(a.pmid, None, None) for a in sorted(articles, key=pmid_of)]
        with new_session(engine) as session:
            for article in articles:
                stored = get_article(session, article.pmid)
                assert stored is not None and stored.tags is not None
                assert (stored.findings, stored.tags.design) == (None, NO_DESIGN_DECISION)
                assert stored.tags.study_type == tag_article(article).study_type
            assert select_pmids(session, ArticleFilter(min_sample_size=0)) == []
        first = retag(engine)
        assert first.updated == len(articles)
        assert first.changed_by_kind["findings"] == len(articles)
        assert retag(engine).updated == 0
        with engine.connect() as connection:
            sizes = dict(
                connection.execute(sa.text("SELECT pmid, sample_size FROM article_summary")).all()
            )
        assert sizes == {
            a.pmid: tag_article(a).findings.sample_size  # type: ignore[union-attr]
            for a in articles
        }
        with new_session(engine) as session:
            for article in articles:
                stored = get_article(session, article.pmid)
                assert stored is not None
                assert stored.tags == as_stored(tag_article(article))
            stated = [
                a.pmid
                for a in articles
                if tag_article(a).findings.sample_size is not None  # type: ignore[union-attr]
            ]
            found = select_pmids(session, ArticleFilter(min_sample_size=0), sort="pmid")
            assert found == sorted(stated) and found
        downgrade_database(engine, "0008")
        columns = {c["name"] for c in sa.inspect(engine).get_columns("article")}
        assert not set(COLUMNS_0009) & columns
        with engine.connect() as connection:
            count = connection.execute(sa.text("SELECT count(*) FROM article")).scalar_one()
        assert count == len(articles)
        upgrade_database(engine)
        assert revision_of(engine) == head_revision()
    finally:
        engine.dispose()
