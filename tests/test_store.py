"""Repository tests; every test runs on SQLite and PostgreSQL (the ``db`` fixture)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.article import CommentCorrection, MeshHeading
from aggregator.errors import StoreError
from aggregator.store.articles import (
    StoredArticle,
    UpsertResult,
    article_history,
    count_articles,
    get_article,
    list_articles,
    mark_retracted,
    pending_retractions,
    replace_tags,
    retracted_since,
    stored_pmids,
    upsert_article,
)
from aggregator.store.codec import content_hash
from aggregator.store.digests import get_digest, last_digest, save_digest
from aggregator.store.engine import new_session
from aggregator.store.runs import (
    finish_run,
    get_checkpoint,
    get_run,
    last_successful_run,
    mark_interrupted_runs,
    query_hits,
    query_states,
    recent_runs,
    record_hits,
    set_checkpoint,
    start_run,
    unfetched_hits,
)
from aggregator.vocab import Tag
from tests.plugins.databases import make_article, make_tags

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=7)
T2 = T1 + dt.timedelta(days=7)
PMID = 99000001
NOTICE_PMID = 99000500


def count(session: Session, table: str) -> int:
    return int(session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def stored(
    article: Any, *, tags: Any = None, at: dt.datetime = T0, **changes: Any
) -> StoredArticle:
    """The StoredArticle expected right after a first insert at ``at``."""
    expected = StoredArticle(
        article=article,
        tags=tags,
        source="efetch",
        content_hash=content_hash(article),
        first_seen_at=at,
        last_updated_at=at,
        last_fetched_at=at,
        retracted=False,
        retracted_at=None,
        retraction_notice_pmid=None,
    )
    return dataclasses.replace(expected, **changes)


def assert_same_article(found: StoredArticle | None, expected: StoredArticle) -> None:
    assert found == expected
    # Article.raw_xml is excluded from dataclass equality; the store must keep it anyway.
    assert found.article.raw_xml == expected.article.raw_xml


def revision_dicts(session: Session, pmid: int) -> list[dict[str, Any]]:
    return [
        {
            "pmid": r.pmid,
            "seen_at": r.seen_at,
            "run_id": r.run_id,
            "changed_fields": r.changed_fields,
            "old_values": r.old_values,
            "new_values": r.new_values,
        }
        for r in article_history(session, pmid)
    ]


# ---- articles ------------------------------------------------------------------------------


def test_new_article_round_trips_every_field(session: Session) -> None:
    article = make_article()
    result = upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
    session.commit()

    assert result == UpsertResult(pmid=PMID, status="new")
    assert_same_article(get_article(session, PMID), stored(article))
    assert get_article(session, 99000099) is None


def test_same_record_twice_is_unchanged_and_not_duplicated(session: Session) -> None:
    article = make_article()
    upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
    again = upsert_article(session, article, tags=None, run_id=None, now=T1, source="efetch")
    session.commit()

    assert again == UpsertResult(pmid=PMID, status="unchanged")
    assert_same_article(get_article(session, PMID), stored(article, last_fetched_at=T1))
    assert (count(session, "article"), count(session, "article_revision")) == (1, 0)


def test_changed_record_is_updated_in_place_with_a_revision(session: Session, db: Engine) -> None:
    run_id = start_run(session, now=T1)
    old = make_article()
    upsert_article(session, old, tags=None, run_id=None, now=T0, source="import")
    new_mesh = (*old.mesh_headings, MeshHeading(descriptor="Humans", ui="D006801"))
    new = dataclasses.replace(
        old, title="Synthetic trial, corrected title", mesh_headings=new_mesh, status="MEDLINE"
    )
    result = upsert_article(session, new, tags=None, run_id=run_id, now=T1, source="efetch")
    session.commit()

    assert result == UpsertResult(
        pmid=PMID, status="revised", changed_fields=("title", "status", "mesh_headings")
    )
    assert_same_article(
        get_article(session, PMID),
        stored(new, first_seen_at=T0, last_updated_at=T1, last_fetched_at=T1),
    )
    old_mesh = [dataclasses.asdict(m) | {"qualifiers": []} for m in old.mesh_headings]
    old_mesh[0]["qualifiers"] = [dataclasses.asdict(q) for q in old.mesh_headings[0].qualifiers]
    assert revision_dicts(session, PMID) == [
        {
            "pmid": PMID,
            "seen_at": T1,
            "run_id": run_id,
            "changed_fields": ["title", "status", "mesh_headings"],
            "old_values": {
                "title": old.title,
                "status": "In-Process",
                "mesh_headings": old_mesh,
            },
            "new_values": {
                "title": "Synthetic trial, corrected title",
                "status": "MEDLINE",
                "mesh_headings": [
                    *old_mesh,
                    {"descriptor": "Humans", "ui": "D006801", "major": False, "qualifiers": []},
                ],
            },
        }
    ]
    assert count(session, "article") == 1
    # The new version upserted again is unchanged: no second revision.
    upsert_article(session, new, tags=None, run_id=run_id, now=T2, source="efetch")
    assert count(session, "article_revision") == 1


def test_revised_date_alone_updates_quietly(session: Session) -> None:
    article = make_article()
    upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
    touched = dataclasses.replace(article, revised_date=dt.date(2026, 1, 1))
    result = upsert_article(session, touched, tags=None, run_id=None, now=T1, source="efetch")

    assert result == UpsertResult(pmid=PMID, status="unchanged")
    assert_same_article(get_article(session, PMID), stored(touched, last_fetched_at=T1))
    assert count(session, "article_revision") == 0


def test_raw_xml_formatting_change_is_not_a_revision_but_is_kept(session: Session) -> None:
    article = make_article()
    upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
    reformatted = dataclasses.replace(article, raw_xml=article.raw_xml.replace("><", ">\n  <"))
    result = upsert_article(session, reformatted, tags=None, run_id=None, now=T1, source="import")

    assert result == UpsertResult(pmid=PMID, status="unchanged")
    assert_same_article(
        get_article(session, PMID), stored(reformatted, last_fetched_at=T1, source="import")
    )
    assert count(session, "article_revision") == 0


def test_upserts_are_not_committed_by_the_repository(db: Engine) -> None:
    with new_session(db) as first:
        upsert_article(first, make_article(), tags=None, run_id=None, now=T0, source="demo")
        first.rollback()
    with new_session(db) as second:
        assert get_article(second, PMID) is None


def test_naive_timestamps_are_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        upsert_article(
            session,
            make_article(),
            tags=None,
            run_id=None,
            now=dt.datetime(2026, 1, 5),
            source="efetch",
        )


def test_timestamps_come_back_as_utc(session: Session) -> None:
    berlin_noon = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    upsert_article(
        session, make_article(), tags=None, run_id=None, now=berlin_noon, source="efetch"
    )
    session.commit()
    found = get_article(session, PMID)
    assert found is not None
    assert found.first_seen_at == dt.datetime(2026, 1, 5, 11, 0, tzinfo=dt.UTC)
    assert found.first_seen_at.utcoffset() == dt.timedelta(0)


def test_stored_pmids_and_counts(session: Session) -> None:
    for pmid in (99000001, 99000002, 99000003):
        upsert_article(session, make_article(pmid), tags=None, run_id=None, now=T0, source="efetch")
    asked = [99000002, 99000003, 99000004, *range(99100000, 99100700)]
    assert stored_pmids(session, asked) == {99000002, 99000003}
    assert stored_pmids(session, []) == set()
    assert count_articles(session) == 3


# ---- retractions ---------------------------------------------------------------------------


def notice(retracted_pmid: int = PMID) -> Any:
    return make_article(
        NOTICE_PMID,
        title="Retraction notice: synthetic trial",
        publication_types=("Retraction of Publication",),
        comments_corrections=(CommentCorrection(ref_type="RetractionOf", pmid=retracted_pmid),),
    )


def test_record_that_says_it_is_retracted(session: Session) -> None:
    article = make_article()
    upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
    retracted = dataclasses.replace(
        article, publication_types=(*article.publication_types, "Retracted Publication")
    )
    result = upsert_article(session, retracted, tags=None, run_id=None, now=T1, source="efetch")

    assert result == UpsertResult(
        pmid=PMID,
        status="revised",
        changed_fields=("publication_types", "retracted"),
        retracted=True,
        newly_retracted=True,
    )
    assert_same_article(
        get_article(session, PMID),
        stored(retracted, last_updated_at=T1, last_fetched_at=T1, retracted=True, retracted_at=T1),
    )
    history = revision_dicts(session, PMID)
    assert [h["changed_fields"] for h in history] == [["publication_types", "retracted"]]
    assert (history[0]["old_values"]["retracted"], history[0]["new_values"]["retracted"]) == (
        False,
        True,
    )


def test_new_article_already_retracted(session: Session) -> None:
    article = make_article(publication_types=("Journal Article", "Retracted Publication"))
    result = upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
    assert result == UpsertResult(pmid=PMID, status="new", retracted=True, newly_retracted=True)
    assert_same_article(
        get_article(session, PMID), stored(article, retracted=True, retracted_at=T0)
    )


def test_notice_arriving_after_the_article_retracts_it(session: Session) -> None:
    run_id = start_run(session, now=T1)
    article = make_article()
    upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
    upsert_article(session, notice(), tags=None, run_id=run_id, now=T1, source="efetch")
    session.commit()

    assert_same_article(
        get_article(session, PMID),
        stored(
            article,
            last_updated_at=T1,
            retracted=True,
            retracted_at=T1,
            retraction_notice_pmid=NOTICE_PMID,
        ),
    )
    assert revision_dicts(session, PMID) == [
        {
            "pmid": PMID,
            "seen_at": T1,
            "run_id": run_id,
            "changed_fields": ["retracted", "retraction_notice_pmid"],
            "old_values": {"retracted": False, "retraction_notice_pmid": None},
            "new_values": {"retracted": True, "retraction_notice_pmid": NOTICE_PMID},
        }
    ]
    # The notice itself is not retracted, and a second sighting changes nothing.
    assert get_article(session, NOTICE_PMID).retracted is False  # type: ignore[union-attr]
    assert mark_retracted(session, PMID, NOTICE_PMID, T2, None) is False
    assert count(session, "article_revision") == 1
    assert [a.article.pmid for a in retracted_since(session, T1)] == [PMID]
    assert retracted_since(session, T2) == []


def test_notice_arriving_before_the_article_is_applied_when_it_arrives(session: Session) -> None:
    upsert_article(session, notice(), tags=None, run_id=None, now=T0, source="efetch")
    assert pending_retractions(session) == {PMID: NOTICE_PMID}

    article = make_article()
    result = upsert_article(session, article, tags=None, run_id=None, now=T1, source="efetch")
    session.commit()

    assert result == UpsertResult(pmid=PMID, status="new", retracted=True, newly_retracted=True)
    assert_same_article(
        get_article(session, PMID),
        stored(article, at=T1, retracted=True, retracted_at=T1, retraction_notice_pmid=NOTICE_PMID),
    )
    assert pending_retractions(session) == {}


def test_retraction_is_sticky(session: Session) -> None:
    article = make_article()
    upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
    assert mark_retracted(session, PMID, NOTICE_PMID, T1, None) is True
    # A later fetch of the record (not yet updated by PubMed) must not un-retract it.
    result = upsert_article(session, article, tags=None, run_id=None, now=T2, source="efetch")
    assert result == UpsertResult(pmid=PMID, status="unchanged", retracted=True)
    found = get_article(session, PMID)
    assert (found.retracted, found.retracted_at, found.retraction_notice_pmid) == (  # type: ignore[union-attr]
        True,
        T1,
        NOTICE_PMID,
    )


# ---- tags ----------------------------------------------------------------------------------


def tag_rows(session: Session, pmid: int) -> list[tuple[str, str, str, str, str]]:
    rows = session.execute(
        sa.text(
            "SELECT kind, value, field, snippet, rules_version FROM tag WHERE pmid = :pmid "
            "ORDER BY kind, value, field"
        ),
        {"pmid": pmid},
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_tags_are_stored_with_the_article_and_read_back(session: Session) -> None:
    article, tags = make_article(), make_tags()
    upsert_article(session, article, tags=tags, run_id=None, now=T0, source="efetch")
    session.commit()

    assert_same_article(get_article(session, PMID), stored(article, tags=tags))
    assert tag_rows(session, PMID) == [
        ("condition", "migraine", "mesh", "Migraine Disorders", "rules-1"),
        ("form", "glycinate", "keyword", "magnesium glycinate", "rules-1"),
        ("form", "glycinate", "title", "magnesium glycinate", "rules-1"),
        ("population", "adults", "abstract", "adults", "rules-1"),
        ("route", "oral", "abstract", "oral", "rules-1"),
        (
            "study_type",
            "randomized_controlled_trial",
            "publication_type",
            "Randomized Controlled Trial",
            "rules-1",
        ),
    ]
    row = session.execute(
        sa.text(
            "SELECT study_type, evidence_level, combination_product, is_direct, rules_version "
            "FROM article WHERE pmid = :pmid"
        ),
        {"pmid": PMID},
    ).one()
    assert tuple(row) == ("randomized_controlled_trial", 2, False, True, "rules-1")


def test_replace_tags_removes_old_ones_and_adds_rows_for_unsourced_values(
    session: Session,
) -> None:
    upsert_article(session, make_article(), tags=make_tags(), run_id=None, now=T0, source="efetch")
    new_tags = make_tags(
        forms=("oxide", "citrate"),
        routes=(),
        conditions=("tension_type_headache",),
        study_type="cohort",
        evidence_level=3,
        combination_product=True,
        population=(),
        tags=(
            Tag(kind="form", value="oxide", field="abstract", snippet="magnesium oxide"),
            Tag(kind="form", value="oxide", field="abstract", snippet="duplicate, dropped"),
        ),
        rules_version="rules-2",
    )
    replace_tags(session, PMID, new_tags)
    replace_tags(session, PMID, new_tags)  # idempotent
    session.commit()

    assert tag_rows(session, PMID) == [
        ("condition", "tension_type_headache", "derived", "", "rules-2"),
        ("form", "citrate", "derived", "", "rules-2"),
        ("form", "oxide", "abstract", "magnesium oxide", "rules-2"),
        ("study_type", "cohort", "derived", "", "rules-2"),
    ]
    found = get_article(session, PMID)
    assert found is not None
    assert found.tags == dataclasses.replace(
        new_tags,
        forms=("oxide", "citrate"),
        tags=(Tag(kind="form", value="oxide", field="abstract", snippet="magnesium oxide"),),
    )
    assert found.tags.is_direct is True


def test_tagging_an_unknown_article_is_a_clear_error(session: Session) -> None:
    with pytest.raises(StoreError, match=r"^cannot tag PMID 99000777: the article is not stored$"):
        replace_tags(session, 99000777, make_tags())


def test_list_articles_filters(session: Session) -> None:
    upsert_article(
        session, make_article(99000001), tags=make_tags(), run_id=None, now=T0, source="efetch"
    )
    upsert_article(
        session,
        make_article(99000002),
        tags=make_tags(forms=("oxide",), study_type="cohort", tags=()),
        run_id=None,
        now=T1,
        source="efetch",
    )
    upsert_article(session, make_article(99000003), tags=None, run_id=None, now=T1, source="demo")
    mark_retracted(session, 99000003, NOTICE_PMID, T2, None)

    def pmids(**filters: Any) -> list[int]:
        return [s.article.pmid for s in list_articles(session, **filters)]

    assert pmids() == [99000001, 99000002, 99000003]
    assert pmids(form="glycinate") == [99000001]
    assert pmids(form="oxide") == [99000002]
    assert pmids(study_type="cohort") == [99000002]
    assert pmids(first_seen_since=T1) == [99000002, 99000003]
    assert pmids(retracted=True) == [99000003]
    assert pmids(retracted=False) == [99000001, 99000002]
    assert pmids(pmids=[99000003, 99000001, 99000999]) == [99000001, 99000003]
    assert pmids(pmids=[]) == []
    assert list_articles(session, pmids=[99000003])[0].tags is None


# ---- searches ------------------------------------------------------------------------------


def test_hits_are_recorded_once_per_query_and_pmid(session: Session) -> None:
    run_id = start_run(session, now=T0)
    assert record_hits(session, "mg-migraine", [99000001, 99000002, 99000002], run_id, T0) == 2
    assert record_hits(session, "mg-migraine", [99000002, 99000003], run_id, T1) == 1
    assert record_hits(session, "glycinate", [99000001], None, T1) == 1
    session.commit()

    rows = session.execute(
        sa.text("SELECT query_name, pmid, first_seen_at, run_id FROM query_hit ORDER BY 1, 2")
    ).all()
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("glycinate", 99000001, None),
        ("mg-migraine", 99000001, run_id),
        ("mg-migraine", 99000002, run_id),
        ("mg-migraine", 99000003, run_id),
    ]
    assert query_hits(session, "mg-migraine") == {99000001, 99000002, 99000003}
    upsert_article(session, make_article(99000001), tags=None, run_id=None, now=T1, source="efetch")
    assert get_article(session, 99000001).query_names == ("glycinate", "mg-migraine")  # type: ignore[union-attr]
    assert unfetched_hits(session) == {99000002, 99000003}


def test_checkpoints(session: Session) -> None:
    run_id = start_run(session, now=T0)
    assert get_checkpoint(session, "mg-migraine") is None
    set_checkpoint(session, "mg-migraine", dt.date(2026, 1, 4), run_id, T0, term_hash="abc")
    set_checkpoint(session, "mg-migraine", dt.date(2026, 1, 11), run_id, T1, term_hash="abc")
    session.commit()

    assert get_checkpoint(session, "mg-migraine") == dt.date(2026, 1, 11)
    assert get_checkpoint(session, "mg-migraine", term_hash="abc") == dt.date(2026, 1, 11)
    assert get_checkpoint(session, "mg-migraine", term_hash="edited") is None
    assert get_checkpoint(session, "other") is None
    states = [
        (s.query_name, s.term_hash, s.last_window_end, s.last_success_at, s.last_run_id)
        for s in query_states(session)
    ]
    assert states == [("mg-migraine", "abc", dt.date(2026, 1, 11), T1, run_id)]


# ---- runs ----------------------------------------------------------------------------------


def run_dict(run: Any) -> dict[str, Any]:
    return {name: getattr(run, name) for name in sa.inspect(type(run)).columns.keys()}  # noqa: SIM118


def test_run_lifecycle(session: Session) -> None:
    first = start_run(session, now=T0)
    second = start_run(session, now=T1, kind="import")
    finish_run(
        session,
        first,
        status="partial",
        now=T0 + dt.timedelta(minutes=3),
        searched=120,
        new=5,
        revised=2,
        unchanged=113,
        failed_queries=1,
        error="query 'glycinate' failed: HTTP 500",
        details={"failed": ["glycinate"], "window": dt.date(2026, 1, 4)},
    )
    session.commit()

    assert run_dict(get_run(session, first)) == {
        "id": first,
        "kind": "run",
        "status": "partial",
        "started_at": T0,
        "finished_at": T0 + dt.timedelta(minutes=3),
        "searched": 120,
        "new": 5,
        "revised": 2,
        "unchanged": 113,
        "failed_queries": 1,
        "details": {"failed": ["glycinate"], "window": "2026-01-04"},
        "error": "query 'glycinate' failed: HTTP 500",
    }
    assert [r.id for r in recent_runs(session)] == [second, first]
    assert [r.id for r in recent_runs(session, limit=1)] == [second]
    assert last_successful_run(session) is None

    assert mark_interrupted_runs(session, T2) == 1
    interrupted = get_run(session, second)
    assert (interrupted.status, interrupted.finished_at) == ("interrupted", T2)  # type: ignore[union-attr]

    third = start_run(session, now=T2)
    finish_run(session, third, status="success", now=T2)
    assert last_successful_run(session).id == third  # type: ignore[union-attr]


def test_run_errors(session: Session) -> None:
    run_id = start_run(session, now=T0)
    with pytest.raises(ValueError, match="unknown final run status 'done'"):
        finish_run(session, run_id, status="done", now=T1)
    with pytest.raises(ValueError, match="unknown run kind 'cron'"):
        start_run(session, now=T0, kind="cron")
    with pytest.raises(StoreError, match=r"^run 424242 does not exist$"):
        finish_run(session, 424242, status="failed", now=T1)


# ---- digests -------------------------------------------------------------------------------


def test_digests_are_saved_and_replaced_per_week_and_format(session: Session) -> None:
    save_digest(session, iso_week="2026-W02", fmt="md", content="old", summary={"n": 1}, now=T0)
    save_digest(session, iso_week="2026-W02", fmt="md", content="new", summary={"n": 2}, now=T1)
    save_digest(session, iso_week="2026-W02", fmt="html", content="<p>x</p>", summary={}, now=T0)
    session.commit()

    digest = get_digest(session, "2026-W02", "md")
    assert digest is not None
    assert (digest.iso_week, digest.format, digest.created_at, digest.content, digest.summary) == (
        "2026-W02",
        "md",
        T1,
        "new",
        {"n": 2},
    )
    assert count(session, "digest") == 2
    assert last_digest(session).format == "md"  # type: ignore[union-attr]
    assert last_digest(session, fmt="html").content == "<p>x</p>"  # type: ignore[union-attr]
    assert last_digest(session, before_week="2026-W02") is None
    assert get_digest(session, "2026-W03", "md") is None


# ---- database settings ---------------------------------------------------------------------


def test_foreign_keys_are_enforced(session: Session) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        session.execute(
            sa.text(
                "INSERT INTO tag (pmid, kind, value, field, snippet, rules_version) "
                "VALUES (99000404, 'form', 'oxide', 'title', '', 'r')"
            )
        )
        session.flush()


def test_deleting_an_article_cascades_to_tags_and_revisions(session: Session) -> None:
    article = make_article()
    upsert_article(session, article, tags=make_tags(), run_id=None, now=T0, source="efetch")
    upsert_article(
        session,
        dataclasses.replace(article, title="Changed"),
        tags=None,
        run_id=None,
        now=T1,
        source="efetch",
    )
    session.execute(sa.text("DELETE FROM article WHERE pmid = :pmid"), {"pmid": PMID})
    assert (count(session, "tag"), count(session, "article_revision")) == (0, 0)


def test_sqlite_runs_in_wal_mode_with_busy_timeout(db: Engine, backend: str) -> None:
    if backend != "sqlite":
        assert db.dialect.name == "postgresql"
        return
    with db.connect() as connection:
        settings = [
            connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout")
        ]
    assert settings == ["wal", 1, 30000]
