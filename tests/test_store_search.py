"""Full-text search and filters of aggregator.store.search, on SQLite (FTS5) and PostgreSQL
(websearch_to_tsquery); every database test runs on both through the ``db`` fixture.
All articles are synthetic (PMIDs from 99000000, invented text)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from aggregator.export import article_record, build_record
from aggregator.store import search as library
from aggregator.store.articles import count_articles, mark_retracted, replace_tags, upsert_article
from aggregator.store.engine import new_session, open_engine
from aggregator.store.readonly import ReadOnlySQLError, run_readonly_sql
from aggregator.store.search import ArticleFilter, FilterError, fts5_query
from tests.plugins.databases import make_article, make_tags

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=10)
# Attempts to break out of the search: each must be read as plain words (expected matches).
INJECTIONS = [
    ("'; DROP TABLE article; --", []),
    ('" OR 1=1 --', []),
    ("title:glycinate NEAR(a b) ^x *", []),
    ("glycinate) OR (1=1", [99000101]),
    ("\\x00 %_ ' \"", []),
    ("placebo' OR '1'='1", [99000101]),
]

TEXTS = {
    99000101: (
        "Magnesium glycinate trials in adults with chronic migraine",
        "We randomised invented participants to glycinate or placebo.",
    ),
    99000102: (
        "Oral magnesium oxide for menstrual migraine",
        "A synthetic cohort of women with menstrual migraine received oxide.",
    ),
    99000103: (
        "Intravenous magnesium sulfate in the emergency department",
        "Invented patients with acute headache received a sulfate infusion.",
    ),
    99000104: (
        "Dietary magnesium intake and tension-type headache",
        "An imaginary cross-sectional survey; no migraine outcomes were measured.",
    ),
}


def fill(engine: Engine) -> None:
    with new_session(engine) as session:
        for pmid, (title, abstract) in TEXTS.items():
            article = make_article(
                pmid, title=title, abstract=abstract, abstract_sections=(), keywords=()
            )
            upsert_article(session, article, tags=make_tags(), run_id=None, now=T0, source="import")
        session.commit()


def search(engine: Engine, text: str, **filters: Any) -> list[int]:
    with new_session(engine) as session:
        return library.select_pmids(
            session,
            ArticleFilter(text=text, **filters),
            sort="pmid",  # type: ignore[arg-type]
        )


# ---- the FTS5 query translation (no database) ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("magnesium migraine", '"magnesium" AND "migraine"'),
        ('"menstrual migraine" oxide', '"menstrual migraine" AND "oxide"'),
        ("oxide OR citrate migraine", '("oxide" OR "citrate") AND "migraine"'),
        ("migraine -pediatric", '("migraine") NOT "pediatric"'),
        ("tension-type", '"tension type"'),
        ("OR migraine", '"migraine"'),
        # Parentheses group (PubMed syntax); NEAR is a plain word.
        ("title:glycinate NEAR(a b)", '"title glycinate" AND "NEAR" AND "a" AND "b"'),
        ("'; DROP TABLE article; --", '"DROP" AND "TABLE" AND "article"'),
    ],
)
def test_fts5_query_quotes_every_term(text: str, expected: str) -> None:
    assert fts5_query(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "-migraine", '""', "*** ---"])
def test_text_without_a_word_is_refused(text: str) -> None:
    with pytest.raises(FilterError, match="has no word to search for"):
        fts5_query(text)


def test_filter_validation_names_the_bad_value() -> None:
    with pytest.raises(FilterError, match=r"unknown form 'zinc'; valid values: glycinate, oxide"):
        ArticleFilter(forms=("zinc",)).validate()
    with pytest.raises(FilterError, match="unknown study type 'rct'; valid values: meta_analysis"):
        ArticleFilter(study_types=("rct",)).validate()
    with pytest.raises(FilterError, match="since year 2020 is after until year 2010"):
        ArticleFilter(since_year=2020, until_year=2010).validate()
    with pytest.raises(FilterError, match="evidence level 7 out of range"):
        ArticleFilter(max_level=7).validate()


# ---- searching a database --------------------------------------------------------------------


def test_words_must_all_match_in_title_or_abstract(db: Engine) -> None:
    fill(db)
    assert search(db, "magnesium") == [99000101, 99000102, 99000103, 99000104]
    assert search(db, "migraine women") == [99000102]  # title + abstract together
    assert search(db, "placebo") == [99000101]  # abstract only
    assert search(db, "zinc") == []


def test_stemming_phrases_or_and_exclusion(db: Engine) -> None:
    fill(db)
    assert search(db, "trial") == [99000101]  # title says "trials"
    assert search(db, '"menstrual migraine"') == [99000102]
    assert search(db, '"migraine menstrual"') == []
    assert search(db, "oxide OR sulfate") == [99000102, 99000103]
    assert search(db, "magnesium -migraine") == [99000103]
    assert search(db, "headache -emergency") == [99000104]


def test_text_combines_with_the_other_filters(db: Engine) -> None:
    fill(db)
    with new_session(db) as session:
        replace_tags(
            session, 99000102, make_tags(forms=("oxide",), study_type="cohort", evidence_level=3)
        )
        session.commit()
    assert search(db, "magnesium", forms=("oxide",)) == [99000102]
    assert search(db, "magnesium", study_types=("randomized_controlled_trial",)) == [
        99000101,
        99000103,
        99000104,
    ]
    assert search(db, "migraine", max_level=2) == [99000101, 99000104]


def test_index_follows_revised_and_deleted_articles(db: Engine) -> None:
    fill(db)
    revised = make_article(
        99000101,
        title="Magnesium threonate and cluster headache",
        abstract="Rewritten invented abstract.",
        abstract_sections=(),
        keywords=(),
    )
    with new_session(db) as session:
        assert upsert_article(
            session, revised, tags=None, run_id=None, now=T1, source="efetch"
        ).status == ("revised")
        session.commit()
    assert search(db, "glycinate") == []
    assert search(db, "threonate cluster") == [99000101]
    with db.begin() as connection:
        connection.execute(sa.text("DELETE FROM tag WHERE pmid = 99000102"))
        connection.execute(sa.text("DELETE FROM article WHERE pmid = 99000102"))
    assert search(db, "menstrual") == []
    assert search(db, "magnesium") == [99000101, 99000103, 99000104]


@pytest.mark.parametrize(("text", "expected"), INJECTIONS)
def test_injection_strings_in_text_are_inert(db: Engine, text: str, expected: list[int]) -> None:
    fill(db)
    assert search(db, text) == expected
    with new_session(db) as session:
        assert count_articles(session) == 4
        assert library.select_pmids(session, ArticleFilter(), sort="pmid") == sorted(TEXTS)


def test_sort_orders(db: Engine) -> None:
    with new_session(db) as session:
        rows = [
            (99000201, 2019, dt.date(2019, 3, 1), "cohort", 3),
            (99000202, 2024, dt.date(2024, 1, 1), "meta_analysis", 1),
            (99000203, 2021, None, "guideline", None),
            (99000204, None, dt.date(2025, 5, 5), "randomized_controlled_trial", 2),
            (99000205, 2024, dt.date(2024, 6, 1), "randomized_controlled_trial", 2),
        ]
        for pmid, year, entrez, study_type, level in rows:
            article = make_article(pmid, pub_year=year, entrez_date=entrez)
            tags = make_tags(study_type=study_type, evidence_level=level)
            upsert_article(session, article, tags=tags, run_id=None, now=T0, source="import")
        upsert_article(
            session,
            make_article(99000206, pub_year=2030),
            tags=None,
            run_id=None,
            now=T0,
            source="import",
        )
        session.commit()
        everything = ArticleFilter()

        def order(sort: str, limit: int | None = None) -> list[int]:
            return library.select_pmids(session, everything, sort=sort, limit=limit)

        assert order("level") == [99000202, 99000205, 99000204, 99000201, 99000206, 99000203]
        assert order("year") == [99000206, 99000205, 99000202, 99000203, 99000201, 99000204]
        # 99000206 keeps make_article's entrez date, 2025-11-02.
        assert order("date") == [99000206, 99000204, 99000205, 99000202, 99000201, 99000203]
        assert order("pmid", limit=2) == [99000201, 99000202]
        assert order("level", limit=2) == [99000202, 99000205]


def test_load_records_equals_records_of_whole_articles(db: Engine) -> None:
    fill(db)
    with new_session(db) as session:
        upsert_article(
            session, make_article(99000150), tags=None, run_id=None, now=T0, source="import"
        )
        mark_retracted(session, 99000103, 99000900, T1, None)
        session.commit()
        pmids = [99000150, 99000103, 99000101]
        expected = [
            article_record(i.article, i.tags, retracted=i.retracted)
            for i in library.load_articles(session, pmids)
        ]
        assert [r["pmid"] for r in expected] == pmids
        assert expected[1]["retracted"] is True
        assert listed_records(session, pmids) == expected


@pytest.mark.parametrize("budget_s", [1.0, 0.0], ids=["probe", "fallback"])
def test_common_text_lookup_and_its_fallback_give_the_same_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget_s: float
) -> None:
    """SQLite looks common words up per row (within a time budget, else lists the matches):
    both ways must select exactly what the match list selects."""
    engine = open_engine(f"sqlite:///{tmp_path / 'probe.sqlite'}")
    fill(engine)
    executed: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: executed.append(a[2]))
    cases = {
        "magnesium": [99000104, 99000103, 99000102, 99000101],
        "migraine -menstrual": [99000104, 99000101],
        "headache OR placebo": [99000104, 99000103, 99000101],
    }
    try:
        with new_session(engine) as session:
            for text, expected in cases.items():
                filt = ArticleFilter(text=text)
                listed = library.select_pmids(session, filt, sort="year", limit=10)
                monkeypatch.setattr(library, "COMMON_TEXT_MATCHES", 1)
                monkeypatch.setattr(library, "PROGRESS_STEPS", 1)  # look at the clock often
                executed.clear()
                looked_up = library.select_pmids(
                    session, filt, sort="year", limit=10, probe_budget_s=budget_s
                )
                monkeypatch.undo()
                assert listed == looked_up == expected
                assert any("EXISTS" in sql for sql in executed)
                assert executed[-1].count("EXISTS") == (1 if budget_s else 0)
    finally:
        engine.dispose()


def test_sqlite_queries_walk_the_sort_index(tmp_path: Path) -> None:
    """The 100,000-article latency target depends on this plan (see bench/query_latency.py):
    walk the sort index, stop after the limit, never sort or read article rows by PMID."""
    engine = open_engine(f"sqlite:///{tmp_path / 'plan.sqlite'}")
    fill(engine)
    executed: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        executed.append((statement, parameters))

    filt = ArticleFilter(
        forms=("glycinate",), study_types=("cohort",), since_year=2000, text="migraine"
    )
    try:
        for sort in ("level", "year", "date"):
            executed.clear()
            event.listen(engine, "before_cursor_execute", remember)
            with new_session(engine) as session:
                library.select_pmids(session, filt, sort=sort, limit=51)
            event.remove(engine, "before_cursor_execute", remember)
            statement, parameters = executed[-1]
            with engine.connect() as connection:
                plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                details = [row[3] for row in plan]
            assert details[0].startswith("SCAN article USING ") and details[0].endswith(
                f"INDEX ix_article_sort_{sort}"
            ), details
            assert not any("TEMP B-TREE" in d or "PRIMARY KEY" in d for d in details), details
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM article",
        "UPDATE article SET title = 'x'",
        "CREATE TABLE sneaky (x int)",
        "SELECT 1; DELETE FROM article",
        "SELECT 1; COMMIT; DELETE FROM article",
    ],
)
def test_readonly_sql_refuses_writes(db: Engine, statement: str) -> None:
    fill(db)
    url = db.url.render_as_string(hide_password=False)
    with pytest.raises(ReadOnlySQLError, match=r"^SQL failed \(read-only connection\): "):
        run_readonly_sql(url, statement)
    result = run_readonly_sql(url, "SELECT pmid FROM article ORDER BY pmid")
    assert result.columns == ("pmid",)
    assert result.rows == [(p,) for p in sorted(TEXTS)]


def listed_records(session: Any, pmids: list[int]) -> list[dict[str, Any]]:
    """The records `query` lists for ``pmids`` (read from the narrow columns)."""
    return [build_record(item) for item in library.load_listed(session, pmids)]
