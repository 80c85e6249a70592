"""The store's fast paths: batched upserts give exactly what one-by-one upserts give, with a
bounded number of statements; re-fetching unchanged tags writes nothing; PostgreSQL's full-text
search reads the stored tsvector of revision 0004. Every database test runs on SQLite and
PostgreSQL. All articles are synthetic (PMIDs from 99000000, invented text)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.article import Article, CommentCorrection
from aggregator.store import search as library
from aggregator.store.articles import (
    UpsertResult,
    article_history,
    get_article,
    list_articles,
    pending_retractions,
    upsert_article,
    upsert_articles,
)
from aggregator.store.codec import JSON_FIELDS, article_columns, content_hash
from aggregator.store.engine import downgrade_database, new_session, upgrade_database
from aggregator.vocab import ArticleTags, Tag
from tests.plugins.databases import make_article, make_tags

T0 = dt.datetime(2026, 2, 2, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=7)
NOTICE_PMID = 99000600
# For the stored tsvector, which only PostgreSQL has (SQLite's FTS5 is tests/test_store_search.py).
ONLY_POSTGRESQL = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


def notice_for(pmid: int, notice_pmid: int = NOTICE_PMID) -> Article:
    return make_article(
        notice_pmid,
        title="Retraction notice: invented trial",
        publication_types=("Retraction of Publication",),
        comments_corrections=(CommentCorrection(ref_type="RetractionOf", pmid=pmid),),
    )


def other_tags() -> ArticleTags:
    return make_tags(
        forms=("oxide",),
        tags=(Tag(kind="form", value="oxide", field="title", snippet="magnesium oxide"),),
        rules_version="rules-2",
    )


def first_week() -> list[tuple[Article, ArticleTags | None]]:
    return [
        (make_article(99000001), make_tags()),
        (make_article(99000002), make_tags()),
        (make_article(99000003), None),
        (make_article(99000004), make_tags()),
        (notice_for(99000009, 99000601), None),  # its article arrives next week: pending
    ]


def second_week() -> list[tuple[Article, ArticleTags | None]]:
    """Every kind of upsert in one batch, including ones whose order matters."""
    return [
        (make_article(99000001), make_tags()),  # unchanged, same tags
        (make_article(99000002, title="Invented title, corrected"), other_tags()),  # revised
        (make_article(99000003, revised_date=dt.date(2026, 1, 30)), make_tags()),  # quiet
        (
            make_article(99000004, raw_xml="<PubmedArticle> <!-- reformatted --> </PubmedArticle>"),
            None,
        ),
        (make_article(99000005), make_tags()),  # new
        (notice_for(99000005), None),  # retracts an article earlier in this batch
        (make_article(99000006), make_tags()),  # new, retracted by the next notice
        (notice_for(99000006, 99000602), None),
        (make_article(99000009), make_tags()),  # new, with a pending notice
        (notice_for(99000010, 99000603), None),  # retracts an article later in this batch
        (make_article(99000010), other_tags()),
        (make_article(99000005, title="Invented title, second look"), None),  # PMID again
    ]


def database_state(session: Session) -> dict[str, Any]:
    """Everything an upsert can change, without surrogate ids."""
    stored = list_articles(session)
    return {
        "articles": stored,
        "raw_xml": [s.article.raw_xml for s in stored],
        "revisions": [
            (r.pmid, r.seen_at, r.run_id, r.changed_fields, r.old_values, r.new_values)
            for s in stored
            for r in article_history(session, s.article.pmid)
        ],
        "pending": pending_retractions(session),
    }


def one_by_one(
    session: Session, items: Sequence[tuple[Article, ArticleTags | None]], now: Any
) -> Any:
    return [
        upsert_article(session, article, tags=tags, run_id=None, now=now, source="efetch")
        for article, tags in items
    ]


def batched(session: Session, items: Sequence[tuple[Article, ArticleTags | None]], now: Any) -> Any:
    return upsert_articles(session, items, run_id=None, now=now, source="efetch")


def empty(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in ("article_revision", "tag", "pending_retraction", "article"):
            connection.execute(sa.text(f"DELETE FROM {table}"))


@contextlib.contextmanager
def counted_statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block (an executemany is one)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


# ---- batched upserts -------------------------------------------------------------------------


def test_batch_gives_the_same_results_and_rows_as_one_by_one(db: Engine) -> None:
    with new_session(db) as session:
        one_by_one(session, first_week(), T0)
        expected_results = one_by_one(session, second_week(), T1)
        expected_state = database_state(session)
        session.commit()
    empty(db)
    with new_session(db) as session:
        batched(session, first_week(), T0)
        results = batched(session, second_week(), T1)
        state = database_state(session)
        session.commit()

    assert results == expected_results
    assert state == expected_state
    # The batch covered every outcome (so the comparison above means something).
    assert [(r.pmid, r.status, r.newly_retracted) for r in results] == [
        (99000001, "unchanged", False),
        (99000002, "revised", False),
        (99000003, "unchanged", False),
        (99000004, "unchanged", False),
        (99000005, "new", False),
        (NOTICE_PMID, "new", False),
        (99000006, "new", False),
        (99000602, "new", False),
        (99000009, "new", True),
        (99000603, "new", False),
        (99000010, "new", True),
        (99000005, "revised", False),
    ]
    assert state["pending"] == {}
    retracted = {s.article.pmid: s.retraction_notice_pmid for s in state["articles"] if s.retracted}
    assert retracted == {
        99000005: NOTICE_PMID,
        99000006: 99000602,
        99000009: 99000601,
        99000010: 99000603,
    }


def test_new_articles_take_a_fixed_number_of_statements(db: Engine) -> None:
    items = [(make_article(99000100 + n), make_tags()) for n in range(40)]
    with new_session(db) as session, counted_statements(db) as statements:
        results = batched(session, items, T0)
        session.flush()
    assert [r.status for r in results] == ["new"] * 40
    # Read state, read pending retractions, insert articles, insert tags: 4, not 4 per article.
    assert statements == ["SELECT", "SELECT", "INSERT", "INSERT"]


def test_refetching_with_the_same_tags_leaves_the_tag_rows_alone(db: Engine) -> None:
    def tag_ids(session: Session) -> list[int]:
        return list(session.execute(sa.text("SELECT id FROM tag ORDER BY id")).scalars())

    with new_session(db) as session:
        upsert_article(
            session, make_article(), tags=make_tags(), run_id=None, now=T0, source="efetch"
        )
        before = tag_ids(session)
        with counted_statements(db) as statements:
            result = upsert_article(
                session, make_article(), tags=make_tags(), run_id=None, now=T1, source="efetch"
            )
        assert result == UpsertResult(pmid=99000001, status="unchanged")
        assert tag_ids(session) == before
        # Read state, read tags, update last_fetched_at: no DELETE, no INSERT.
        assert statements == ["SELECT", "SELECT", "UPDATE"]

        upsert_article(
            session, make_article(), tags=other_tags(), run_id=None, now=T1, source="efetch"
        )
        found = get_article(session, 99000001)
        assert found is not None and found.tags == other_tags()
        assert found.last_fetched_at == T1


@pytest.mark.parametrize(
    "article",
    [
        make_article(),
        make_article(99000002, article_date=None, authors=(), title="Ünïcode \u2265 title"),
    ],
)
def test_content_hash_is_the_documented_formula(article: Article) -> None:
    # The formula migration 0002 backfills: sorted-key JSON of to_dict() without source_format.
    record = article.to_dict()
    record.pop("source_format")
    if record["issn"] is None:  # left out while empty (added after revision 0002)
        record.pop("issn")
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert content_hash(article) == hashlib.sha256(text.encode("utf-8")).hexdigest()
    plain = dataclasses.asdict(article)
    assert article_columns(article) == {
        name: json.loads(json.dumps(plain[name])) if name in JSON_FIELDS else plain[name]
        for name in plain
    }


# ---- PostgreSQL: the stored tsvector of revision 0004 ----------------------------------------


def fill_texts(engine: Engine) -> None:
    texts = {
        99000201: ("Magnesium oxide for menstrual migraine", "Invented women with migraine."),
        99000202: ("Menstrual cycle and migraine", "An invented diary study."),
        99000203: ("Magnesium glycinate trial", "No menstrual migraine outcomes were measured."),
    }
    with new_session(engine) as session:
        for pmid, (title, abstract) in texts.items():
            article = make_article(pmid, title=title, abstract=abstract, abstract_sections=())
            upsert_article(session, article, tags=None, run_id=None, now=T0, source="demo")
        session.commit()


def search(engine: Engine, text: str) -> list[int]:
    with new_session(engine) as session:
        return library.select_pmids(session, library.ArticleFilter(text=text), sort="pmid")


def table_columns(engine: Engine) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns("article")}


def test_search_vector_exists_only_on_postgresql(db: Engine, backend: str) -> None:
    assert ("search_vector" in table_columns(db)) == (backend == "postgresql")
    fill_texts(db)
    assert search(db, '"menstrual migraine"') == [99000201, 99000203]
    assert search(db, "menstrual -glycinate") == [99000201, 99000202]


@ONLY_POSTGRESQL
def test_postgresql_phrase_search_uses_the_stored_vector_index(db: Engine) -> None:
    fill_texts(db)
    with new_session(db) as session:
        # A three-row table would be scanned; make the planner show the index it can use.
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        condition = library._text_condition("postgresql", '"menstrual migraine"', None)
        statement: Any = (
            sa.select(sa.column("pmid")).select_from(sa.table("article")).where(condition)
        )
        compiled = statement.compile(db, compile_kwargs={"literal_binds": True})
        plan = "\n".join(session.execute(sa.text(f"EXPLAIN {compiled}")).scalars())
    assert "ix_article_search_vector" in plan
    assert "to_tsvector" not in plan  # the re-check reads the stored value


@ONLY_POSTGRESQL
def test_postgresql_vector_follows_edits_and_migrates_both_ways(db: Engine) -> None:
    fill_texts(db)
    with new_session(db) as session:
        edited = make_article(99000202, title="Cycle diary", abstract="", abstract_sections=())
        upsert_article(session, edited, tags=None, run_id=None, now=T1, source="demo")
        session.commit()
    assert search(db, "menstrual") == [99000201, 99000203]

    downgrade_database(db, "0003")
    try:
        assert "search_vector" not in table_columns(db)
        indexes = {i["name"] for i in sa.inspect(db).get_indexes("article")}
        assert "ix_article_fulltext" in indexes
    finally:
        upgrade_database(db)
    assert "search_vector" in table_columns(db)
    assert search(db, "menstrual") == [99000201, 99000203]  # filled again for existing rows
