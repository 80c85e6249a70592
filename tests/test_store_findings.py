"""Issues 12 and 13 in the store: the design decision and the findings are stored with the
article, read back whole, filtered and sorted by ``query`` and re-derived by ``retag``, on
SQLite and PostgreSQL (every database test runs on both through the ``db`` fixture).
All articles are synthetic (PMIDs from 99000000, invented text)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from aggregator.article import Article
from aggregator.findings import Findings
from aggregator.jobs.harvest import import_file
from aggregator.jobs.retag import retag
from aggregator.pubmed.fake.corpus import corpus_dir
from aggregator.pubmed.files import iter_file
from aggregator.store import search as library
from aggregator.store.articles import get_article, replace_tags, upsert_article
from aggregator.store.codec import as_stored
from aggregator.store.engine import new_session, open_engine
from aggregator.store.search import ArticleFilter
from aggregator.tagging import tag_article
from aggregator.tagging.findings import extract_findings
from aggregator.vocab import NO_DESIGN_DECISION, ArticleTags
from tests.plugins.databases import make_article, make_findings, make_tags_with_findings

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=7)
HEADLINE = ("sample_size", "dose_mg_per_day", "duration_weeks", "comparator", "reported_result")


def columns_of(engine: Engine, pmid: int) -> dict[str, Any]:
    names = ("design_confidence", "design_explanation", *HEADLINE)
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(f"SELECT {', '.join(names)} FROM article WHERE pmid = :pmid"), {"pmid": pmid}
        ).one()
    return dict(zip(names, row, strict=True))


# ---- stored with the article, read back whole ------------------------------------------------


def test_design_and_findings_are_stored_and_read_back_whole(db: Engine) -> None:
    tags = make_tags_with_findings()
    with new_session(db) as session:
        upsert_article(session, make_article(), tags=tags, run_id=None, now=T0, source="import")
        session.commit()
    with new_session(db) as session:
        stored = get_article(session, 99000001)
    assert stored is not None and stored.tags is not None
    assert stored.tags == as_stored(tags)
    assert stored.findings == make_findings()  # every field, provenance and dose included
    assert stored.tags.design == tags.design  # confidence, cues (tag rows), explanation
    assert columns_of(db, 99000001) == {
        "design_confidence": 0.9,
        "design_explanation": tags.design.explanation,
        "sample_size": 120,
        "dose_mg_per_day": 500.0,
        "duration_weeks": 12.0,
        "comparator": "placebo",
        "reported_result": "no_difference",
    }


def test_findings_not_stated_are_stored_null(db: Engine) -> None:
    """A study with findings but nothing stated (scope none: an animal study) keeps its
    findings object, every value null; tags without findings store no object at all."""
    none = Findings(scope="none")
    with new_session(db) as session:
        for pmid, findings in ((99000001, none), (99000002, None)):
            upsert_article(
                session,
                make_article(pmid),
                tags=make_tags_with_findings(findings=findings),
                run_id=None,
                now=T0,
                source="import",
            )
        session.commit()
        assert get_article(session, 99000001).findings == none  # type: ignore[union-attr]
        assert get_article(session, 99000002).findings is None  # type: ignore[union-attr]
    for pmid in (99000001, 99000002):
        assert {k: v for k, v in columns_of(db, pmid).items() if k in HEADLINE} == dict.fromkeys(
            HEADLINE
        )


def test_a_refetch_with_new_findings_replaces_them_and_an_unchanged_one_writes_nothing(
    db: Engine,
) -> None:
    tags = make_tags_with_findings()
    with new_session(db) as session:
        upsert_article(session, make_article(), tags=tags, run_id=None, now=T0, source="efetch")
        session.commit()
    statements: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(db, "before_cursor_execute", remember)
    try:
        with new_session(db) as session:
            upsert_article(session, make_article(), tags=tags, run_id=None, now=T1, source="efetch")
            session.commit()
        assert not any(s.lstrip().upper().startswith("DELETE FROM TAG") for s in statements)
        changed = dataclasses.replace(
            tags, findings=make_findings(sample_size=240, reported_result="mixed")
        )
        with new_session(db) as session:
            upsert_article(
                session, make_article(), tags=changed, run_id=None, now=T1, source="efetch"
            )
            session.commit()
    finally:
        event.remove(db, "before_cursor_execute", remember)
    with new_session(db) as session:
        assert get_article(session, 99000001).findings == changed.findings  # type: ignore[union-attr]
    assert (
        columns_of(db, 99000001)["sample_size"],
        columns_of(db, 99000001)["reported_result"],
    ) == (
        240,
        "mixed",
    )


# ---- query: filters and the sample size sort -------------------------------------------------

# pmid: (sample size, reported result, comparator); None: findings not stated; "untagged".
STUDIES: dict[int, Any] = {
    99000401: (120, "favours_magnesium", "placebo"),
    99000402: (40, "no_difference", "placebo"),
    99000403: (2000, "no_difference", None),
    99000404: (None, "mixed", "active"),
    99000405: (120, "not_reported", "none"),
    99000406: "no findings",  # tagged before findings were extracted
    99000407: "untagged",
}


def fill(engine: Engine) -> None:
    with new_session(engine) as session:
        for pmid, spec in STUDIES.items():
            if spec == "untagged":
                tags: ArticleTags | None = None
            elif spec == "no findings":
                tags = make_tags_with_findings(findings=None, design=NO_DESIGN_DECISION)
            else:
                size, result, comparator = spec
                tags = make_tags_with_findings(
                    findings=make_findings(
                        sample_size=size, reported_result=result, comparator=comparator
                    ),
                    evidence_level=2 if pmid % 2 else 3,
                )
            upsert_article(
                session, make_article(pmid), tags=tags, run_id=None, now=T0, source="import"
            )
        session.commit()


@pytest.mark.parametrize(
    ("filters", "sort", "expected"),
    [
        ({"min_sample_size": 100}, "pmid", [99000401, 99000403, 99000405]),
        ({"min_sample_size": 0}, "pmid", [99000401, 99000402, 99000403, 99000405]),
        ({"results": ("no_difference",)}, "pmid", [99000402, 99000403]),
        ({"results": ("mixed", "not_reported")}, "pmid", [99000404, 99000405]),
        ({"comparators": ("placebo",)}, "pmid", [99000401, 99000402]),
        ({"comparators": ("active", "none")}, "pmid", [99000404, 99000405]),
        (
            {"min_sample_size": 100, "results": ("no_difference",), "comparators": ("placebo",)},
            "pmid",
            [],
        ),
        # Largest stated sample first, ties by PMID (highest first), none stated last.
        (
            {},
            "n",
            [99000403, 99000405, 99000401, 99000402, 99000407, 99000406, 99000404],
        ),
        ({"comparators": ("placebo",)}, "n", [99000401, 99000402]),
        ({"min_sample_size": 100}, "level", [99000405, 99000403, 99000401]),
        ({"results": ("no_difference", "mixed")}, "year", [99000404, 99000403, 99000402]),
        ({"min_sample_size": 50}, "date", [99000405, 99000403, 99000401]),
    ],
)
def test_query_filters_and_sorts_by_findings(
    db: Engine, filters: dict[str, Any], sort: str, expected: list[int]
) -> None:
    fill(db)
    filt = ArticleFilter(**filters)
    with new_session(db) as session:
        assert library.select_pmids(session, filt, sort=sort) == expected
        # With a limit (the SQLite walk of the sort index) the answer is its beginning.
        assert library.select_pmids(session, filt, sort=sort, limit=2) == expected[:2]


def test_finding_filters_validate_their_values() -> None:
    with pytest.raises(library.FilterError) as caught:
        ArticleFilter(results=("positive",)).validate()
    assert str(caught.value) == (
        "unknown result 'positive'; valid values: favours_magnesium, no_difference, "
        "favours_comparator, mixed, not_reported"
    )
    with pytest.raises(library.FilterError) as caught:
        ArticleFilter(comparators=("drug",)).validate()
    assert str(caught.value) == (
        "unknown comparator 'drug'; valid values: placebo, active, usual_care, none, another_form"
    )
    with pytest.raises(library.FilterError):
        ArticleFilter(min_sample_size=-1).validate()


def test_sqlite_finding_filters_read_only_the_sort_index(tmp_path: Path) -> None:
    """The filters of issue 13 are columns of every SQLite sort index (revision 0009), so a
    query walks the index alone and stops after the page (bench/query_latency.py)."""
    engine = open_engine(f"sqlite:///{tmp_path / 'plan.sqlite'}")
    fill(engine)
    executed: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        executed.append((statement, parameters))

    filt = ArticleFilter(
        min_sample_size=100,
        results=("no_difference",),
        comparators=("placebo",),
        study_types=("randomized_controlled_trial",),
        retracted=False,
    )
    try:
        for sort in ("level", "year", "date", "n"):
            executed.clear()
            event.listen(engine, "before_cursor_execute", remember)
            with new_session(engine) as session:
                library.select_pmids(session, filt, sort=sort, limit=51)
            event.remove(engine, "before_cursor_execute", remember)
            statement, parameters = executed[-1]
            with engine.connect() as connection:
                plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                details = [row[3] for row in plan]
            # The sample size order even seeks to the first row with enough participants.
            walk = (
                "SEARCH article USING COVERING INDEX ix_article_sort_n (sample_size>?)"
                if sort == "n"
                else f"SCAN article USING COVERING INDEX ix_article_sort_{sort}"
            )
            assert details == [walk], (sort, details)
    finally:
        engine.dispose()


# ---- re-derived with the tags: import, retag -------------------------------------------------


def corpus_articles() -> list[Article]:
    return [
        article
        for path in sorted((corpus_dir() / "base").glob("*.xml"))
        for article in iter_file(path)
    ]


def previous_rules(article: Article) -> ArticleTags:
    """The tags of the rules before issues 12 and 13: no design decision kept, no findings."""
    return dataclasses.replace(tag_article(article), design=NO_DESIGN_DECISION, findings=None)


def test_import_stores_findings_extracted_in_the_tagging_pass(db: Engine, tmp_path: Path) -> None:
    path = sorted((corpus_dir() / "base").glob("*.xml"))[0]
    import_file(db, path, clock=lambda: T0)
    article = next(iter(iter_file(path)))
    with new_session(db) as session:
        stored = get_article(session, article.pmid)
    assert stored is not None and stored.tags is not None
    expected = extract_findings(article, tag_article(article, findings=False))
    assert stored.findings is not None
    assert stored.findings.to_dict() == expected.to_dict()
    assert stored.tags.design.explanation == tag_article(article).design.explanation


def test_retag_after_previous_rules_reports_every_change_then_none(db: Engine) -> None:
    """Issue 12: a database tagged by the previous rules; ``retag`` lists each article whose
    stored values change (pmid, old, new), now including the design decision and the
    findings; a second ``retag`` reports none, and what is stored is what the tagger says."""
    articles = corpus_articles()
    with new_session(db) as session:
        for article in articles:
            upsert_article(
                session,
                article,
                tags=previous_rules(article),
                run_id=None,
                now=T0,
                source="import",
            )
        session.commit()
    first = retag(db)
    assert first.examined == len(articles)
    # Every article gets its design decision and its findings object (scope "none" included).
    assert first.updated == len(articles)
    assert first.changed_by_kind["design_explanation"] == len(articles)
    assert first.changed_by_kind["findings"] == len(articles)
    sizes = [a for a in articles if tag_article(a).findings.sample_size is not None]  # type: ignore[union-attr]
    assert first.changed_by_kind["sample_size"] == len(sizes) > 0
    change = next(c for c in first.changes if c.pmid == sizes[0].pmid)
    new = tag_article(sizes[0])
    assert change.old["sample_size"] is None
    assert change.new["sample_size"] == new.findings.sample_size  # type: ignore[union-attr]
    assert change.new["findings"] == new.findings.to_dict()  # type: ignore[union-attr]
    assert (change.old["design_confidence"], change.new["design_confidence"]) == (
        None,
        new.design.confidence,
    )
    assert "design_cue" not in {k for k, *_ in change.new.get("provenance", [])}
    again = retag(db)
    assert (again.updated, again.changes) == (0, [])
    assert set(again.changed_by_kind.values()) == {0}
    with new_session(db) as session:
        for article in articles:
            stored = get_article(session, article.pmid)
            assert stored is not None
            assert stored.tags == as_stored(tag_article(article))


def test_retag_replaces_findings_that_the_rules_now_read_differently(db: Engine) -> None:
    article = corpus_articles()[0]
    current = tag_article(article)
    assert current.findings is not None
    stale = dataclasses.replace(
        current, findings=dataclasses.replace(current.findings, sample_size=999_999)
    )
    with new_session(db) as session:
        upsert_article(session, article, tags=None, run_id=None, now=T0, source="import")
        replace_tags(session, article.pmid, stale)
        session.commit()
    report = retag(db, dry_run=True)
    assert [(c.pmid, c.changed) for c in report.changes] == [
        (article.pmid, ("sample_size", "findings"))
    ]
    assert (report.changes[0].old["sample_size"], report.changes[0].new["sample_size"]) == (
        999_999,
        current.findings.sample_size,
    )
