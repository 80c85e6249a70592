"""The shortcuts behind `aggregator query`'s latency (bench/query_latency.py) give exactly what
the plain ways give: records built straight from rows, the hand-written JSON encoder, the
per-row form lookup and the covering level sort index of revision 0006. All articles are
synthetic (PMIDs from 99000000, invented text)."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from aggregator.export import article_record, build_record, record_json, write_records
from aggregator.store import search as library
from aggregator.store.articles import mark_retracted, upsert_article
from aggregator.store.engine import (
    downgrade_database,
    new_session,
    open_engine,
    upgrade_database,
)
from aggregator.store.search import ArticleFilter
from aggregator.vocab import Tag
from tests.plugins.databases import make_article, make_tags

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)

# pmid -> (forms, study type, year); 99000306 is stored untagged.
LIBRARY = {
    99000301: (("citrate", "glycinate"), "cohort", 2020),
    99000302: (("oxide",), "randomized_controlled_trial", 2021),
    99000303: ((), "narrative_review", 2019),
    99000304: (("glycinate",), "cohort", 2018),
    99000305: (("threonate", "oxide"), "meta_analysis", None),
}
UNTAGGED = 99000306


def fill(engine: Engine) -> None:
    with new_session(engine) as session:
        for pmid, (forms, study_type, year) in LIBRARY.items():
            tags = make_tags(
                forms=forms,
                study_type=study_type,
                evidence_level={"meta_analysis": 1, "cohort": 3}.get(study_type),
                # Provenance in an order unlike the vocabulary's, an unknown population value
                # and a form without provenance (stored as a "derived" row).
                population=("zz-invented", "adults"),
                tags=(
                    *(
                        Tag(kind="form", value=f, field="abstract", snippet=f"magnesium {f}")
                        for f in reversed(forms[1:])
                    ),
                    Tag(kind="population", value="zz-invented", field="title", snippet='\u00e9\n"'),
                    Tag(kind="population", value="adults", field="abstract", snippet="adults"),
                ),
            )
            article = make_article(
                pmid, pub_year=year, title=f"Invented title {pmid} \u2013 \u03b1"
            )
            upsert_article(session, article, tags=tags, run_id=None, now=T0, source="import")
        upsert_article(
            session, make_article(UNTAGGED), tags=None, run_id=None, now=T0, source="import"
        )
        session.commit()


# ---- records and JSON ------------------------------------------------------------------------


def test_load_records_equals_records_of_whole_articles(db: Engine) -> None:
    fill(db)
    pmids = [UNTAGGED, 99000305, 99000301, 99000303, 99000399, 99000302]  # 99000399: not stored
    with new_session(db) as session:
        mark_retracted(session, 99000302, 99000900, T0, None)
        session.commit()
        expected = [
            article_record(i.article, i.tags, retracted=i.retracted)
            for i in library.load_articles(session, pmids)
        ]
        records = listed_records(session, pmids)
    assert [r["pmid"] for r in records] == [p for p in pmids if p != 99000399]
    assert records[1]["forms"] == ["oxide", "threonate"]  # vocabulary order
    assert records[1]["population"] == ["adults", "zz-invented"]  # unknown values last
    assert records[-1]["retracted"] is True
    assert records == expected
    assert [list(r) for r in records] == [list(r) for r in expected]  # same key order


RECORDS: list[Any] = [
    {},
    {"a": []},
    {"pmid": 1, "title": 'quote " backslash \\ tab \t nl \n', "none": None, "t": True},
    {"unicode": "\u00e9\u2013\U0001f600 \u2028 \x00 \x1f", "f": False, "neg": -12},
    {"forms": ["oxide", "citrate"], "tags": [{"kind": "form", "value": "x"}, {}], "e": {}},
    {"nested": [[1, [2, []]], {"k": [None, True, "s"]}], "big": 10**30},
    {"float": 1.5, "list": ["a"]},  # not plain: falls back to json.dumps
    {1: "int key", "b": "x"},  # not plain either
    {"tuple": ("a", 2), "ints": [0, -1, 2**63 - 1]},
]


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("margin", ["", "  "])
def test_record_json_is_json_dumps_with_an_indent(record: dict[str, Any], margin: str) -> None:
    expected = json.dumps(record, ensure_ascii=False, indent=2).replace("\n", "\n" + margin)
    assert record_json(record, margin) == expected


def test_record_json_floats_read_back_the_same() -> None:
    # Records hold no floats; if one ever does, its spelling may differ from json.dumps
    # (orjson writes 1e-7, not 1e-07) but it reads back as the same number.
    record = {"floats": [0.1, -2.5e-7, 1e16, 3.0]}
    assert json.loads(record_json(record, "  ")) == record


def test_json_output_of_stored_records_is_unchanged(db: Engine) -> None:
    fill(db)
    with new_session(db) as session:
        records = listed_records(session, sorted([*LIBRARY, UNTAGGED]))
    out = io.StringIO()
    write_records(records, "json", out)
    bodies = [json.dumps(r, ensure_ascii=False, indent=2).replace("\n", "\n  ") for r in records]
    assert out.getvalue() == "[\n  " + ",\n  ".join(bodies) + "\n]\n"
    assert json.loads(out.getvalue()) == records


# ---- the per-row form lookup (SQLite) ------------------------------------------------------

FORM_FILTERS = [
    ArticleFilter(forms=("glycinate",)),
    ArticleFilter(forms=("oxide", "citrate")),
    ArticleFilter(forms=("threonate",), study_types=("meta_analysis",)),
    ArticleFilter(forms=("glycinate",), study_types=("cohort",), since_year=2019),
    ArticleFilter(forms=("sulfate",)),  # matches nothing
    ArticleFilter(forms=("oxide",), text="invented"),
]


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Any:
    engine = open_engine(f"sqlite:///{tmp_path / 'speedups.sqlite'}")
    fill(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("filt", FORM_FILTERS, ids=lambda f: ",".join(f.forms))
@pytest.mark.parametrize("sort", ["level", "year", "date"])
def test_form_lookup_per_row_selects_what_the_match_list_selects(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, filt: ArticleFilter, sort: str
) -> None:
    executed: list[str] = []
    event.listen(sqlite_engine, "before_cursor_execute", lambda *a: executed.append(a[2]))
    with new_session(sqlite_engine) as session:
        listed = library.select_pmids(session, filt, sort=sort, limit=10)
        assert "EXISTS" not in executed[-1]  # 5 form tags at most: not common
        everything = library.select_pmids(session, filt, sort=sort)  # no limit: always listed
        monkeypatch.setattr(library, "COMMON_FORM_TAGS", 0)  # every form is common
        executed.clear()
        looked_up = library.select_pmids(session, filt, sort=sort, limit=10)
    assert "tag.pmid = article.pmid" in executed[-1]  # correlated with the walked row
    forms = set(filt.forms)
    matching = {p for p, (f, _t, _y) in LIBRARY.items() if forms & set(f)}
    assert set(everything) <= matching
    assert looked_up == listed == everything[:10]


def test_phrase_text_is_never_counted_nor_looked_up_per_row(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(library, "COMMON_TEXT_MATCHES", 1)
    executed: list[str] = []
    event.listen(sqlite_engine, "before_cursor_execute", lambda *a: executed.append(a[2]))
    with new_session(sqlite_engine) as session:
        phrase = library.select_pmids(session, ArticleFilter(text='"invented title"'), limit=10)
        assert len(executed) == 1 and "EXISTS" not in executed[0]
        words = library.select_pmids(session, ArticleFilter(text="invented title"), limit=10)
    assert "count(*)" in executed[1] and "EXISTS" in executed[-1]
    assert (
        phrase
        == words
        == library.select_pmids(
            new_session(sqlite_engine), ArticleFilter(text="invented title"), sort="level"
        )
    )


# ---- revision 0006 ---------------------------------------------------------------------------


def _level_walk_plan(engine: Engine) -> list[str]:
    statement = (
        "SELECT pmid FROM article INDEXED BY ix_article_sort_level WHERE study_type = ? "
        "ORDER BY coalesce(evidence_level, 9), pub_year DESC NULLS LAST, pmid DESC LIMIT 5"
    )
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", ("cohort",))
        return [row[3] for row in rows]


def test_level_sort_index_covers_the_walk_and_downgrades(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'covering.sqlite'}"
    engine = open_engine(url)
    try:
        fill(engine)
        assert _level_walk_plan(engine) == [
            "SCAN article USING COVERING INDEX ix_article_sort_level"
        ]
        downgrade_database(engine, "0005")
        assert _level_walk_plan(engine) == ["SCAN article USING INDEX ix_article_sort_level"]
        upgrade_database(engine)
        assert _level_walk_plan(engine)[0].endswith("COVERING INDEX ix_article_sort_level")
        with engine.connect() as connection:
            found = connection.execute(sa.text("SELECT count(*) FROM article")).scalar_one()
        assert found == len(LIBRARY) + 1
    finally:
        engine.dispose()


def listed_records(session: Any, pmids: list[int]) -> list[dict[str, Any]]:
    """The records `query` lists for ``pmids`` (read from the narrow columns)."""
    return [build_record(item) for item in library.load_listed(session, pmids)]
