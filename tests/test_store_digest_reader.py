"""The digest's database reader: counts by GROUP BY must equal counting every article.

``load_digest_inputs`` counts in the database and reads in full only the articles a digest
lists. The oracle here is the slow, obvious path: every stored article rebuilt in full
(``list_articles``), taken back to how it was at the end of the week (``as_of_version``)
and counted one by one by the pure digest code. Both must give the same tallies and the same
digest, on SQLite and PostgreSQL, for every week of the SYNTHETIC fixture corpus (new
articles, a revision seen later, a retraction and its notice, the first glycinate RCT).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from aggregator.article import CommentCorrection
from aggregator.digest import ChangeEvent, DigestArticle, build_digest
from aggregator.digest.compute import charted_forms
from aggregator.digest.tally import tally_articles
from aggregator.pubmed.fake import FakeEutils
from aggregator.pubmed.fake.corpus import BASE_TODAY
from aggregator.queries import load_queries, shipped_queries_dir
from aggregator.store.articles import (
    count_articles,
    list_articles,
    replace_tags,
    revisions_since,
    upsert_article,
)
from aggregator.store.digest_reader import (
    _change_event,
    as_of_version,
    digest_article,
    load_digest_inputs,
)
from aggregator.store.engine import new_session
from aggregator.store.models import ArticleRevisionRow
from aggregator.tagging import tag_article
from aggregator.weeks import parse_week
from tests.plugins.databases import make_article, make_tags
from tests.test_digest_e2e import Clock, harvest, move_to

HARVEST_WEEKS = ("2026-W46", "2026-W47", "2026-W48", "2026-W49")
# One week before the first harvest and one after the last, around every harvested week.
DIGEST_WEEKS = ("2026-W45", *HARVEST_WEEKS, "2026-W50")
T0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def harvested(db: Engine) -> Iterator[Engine]:
    """The database after four weekly harvests of the fixture corpus."""
    queries = load_queries(shipped_queries_dir())
    clock = Clock()
    with FakeEutils(today=BASE_TODAY, rate_limit=None, rate_limit_with_key=None) as fake:
        for week in HARVEST_WEEKS:
            move_to(fake, clock, week)
            report = harvest(db, fake, clock, queries)
            assert report.ok, report.summary_lines()
    yield db


def oracle(engine: Engine, week: str) -> tuple[list[DigestArticle], list[ChangeEvent]]:
    """Every stored article as it was at the end of ``week``, and every revision."""
    end = parse_week(week).end
    with new_session(engine) as session:
        revisions = revisions_since(session, dt.datetime(1900, 1, 1, tzinfo=dt.UTC))
        later: dict[int, list[ArticleRevisionRow]] = {}
        for revision in revisions:
            if revision.seen_at >= end:
                later.setdefault(revision.pmid, []).append(revision)
        then = [
            as_of_version(stored, later.get(stored.article.pmid, ()), tag_article)
            for stored in list_articles(session)
        ]
    titles = {stored.article.pmid: stored.article.title for stored in then}
    articles = [a for a in map(digest_article, then) if a is not None]
    return articles, [_change_event(r, titles[r.pmid]) for r in revisions]


def test_database_counts_equal_counting_every_article(harvested: Engine) -> None:
    with new_session(harvested) as session:
        stored = count_articles(session)
    for week in DIGEST_WEEKS:
        window = parse_week(week)
        articles, changes = oracle(harvested, week)
        inputs = load_digest_inputs(harvested, week, retag=tag_article)

        every_form = tally_articles(week, window.start, window.end, articles)
        # Year counts are read only for the forms the chart shows.
        charted = charted_forms(every_form)
        assert set(inputs.tallies.year_forms) == set(charted)
        expected = dataclasses.replace(
            every_form,
            years=tuple(y for y in every_form.years if y.form in charted),
            year_forms=charted,
        )
        assert inputs.tallies.same_counts(expected), week
        assert inputs.stored_articles == stored
        # Only what a digest lists is read in full: new or retracted this week, glycinate.
        listed = {
            a.pmid
            for a in articles
            if a.first_seen_at < window.end
            and (
                window.start <= a.first_seen_at
                or "glycinate" in a.forms
                or (
                    a.retracted and window.start <= (a.retracted_at or a.first_seen_at) < window.end
                )
            )
        }
        assert sorted(a.pmid for a in inputs.articles) == sorted(listed), week
        assert len(listed) < len(articles)
        runs, demo = inputs.runs, inputs.demo
        expected_digest = build_digest(
            week, articles, changes, runs, demo=demo, registry=inputs.registry
        )
        assert inputs.build() == expected_digest, week


def test_the_checked_weeks_cover_what_can_happen(harvested: Engine) -> None:
    """The comparison above is only as good as its weeks: they hold new articles, a retraction
    seen during a week, a revision seen after an earlier week, and a retraction notice."""
    tallies = {
        week: load_digest_inputs(harvested, week, retag=tag_article).tallies
        for week in DIGEST_WEEKS
    }
    assert tallies["2026-W45"].known_articles == 0
    assert all(tallies[w].known_articles > 0 for w in HARVEST_WEEKS)
    assert any(p.seen == 1 for w in HARVEST_WEEKS for p in tallies[w].profiles)
    assert any(p.retracted == 1 for p in tallies["2026-W49"].profiles)
    with new_session(harvested) as session:
        revised = revisions_since(session, parse_week("2026-W47").end)
        notices = session.execute(
            sa.text("SELECT count(*) FROM article WHERE retraction_notice_pmid IS NOT NULL")
        ).scalar_one()
    assert revised and notices


def test_forms_column_follows_the_tags_through_every_write(db: Engine) -> None:
    def stored_forms(session: object) -> str | None:
        return session.execute(  # type: ignore[attr-defined, no-any-return]
            sa.text("SELECT forms FROM article WHERE pmid = 99000001")
        ).scalar_one()

    oxide_glycinate = make_tags(forms=("oxide", "glycinate", "oxide"))
    with new_session(db) as session:
        upsert_article(session, make_article(), tags=None, run_id=None, now=T0, source="efetch")
        assert stored_forms(session) is None  # untagged
        upsert_article(
            session, make_article(), tags=oxide_glycinate, run_id=None, now=T0, source="efetch"
        )
        assert stored_forms(session) == "glycinate,oxide"
        revised = make_article(title="A revised synthetic title")
        upsert_article(
            session, revised, tags=make_tags(forms=()), run_id=None, now=T0, source="efetch"
        )
        assert stored_forms(session) == ""
        replace_tags(session, 99000001, make_tags(forms=("citrate",)))
        assert stored_forms(session) == "citrate"
        session.commit()


def test_retraction_notice_column_follows_the_record(db: Engine) -> None:
    def flags(session: object) -> list[tuple[int, bool]]:
        rows = session.execute(  # type: ignore[attr-defined]
            sa.text("SELECT pmid, retraction_notice FROM article ORDER BY pmid")
        )
        return [(pmid, bool(flag)) for pmid, flag in rows]

    study = make_article(99000001)
    by_reference = make_article(
        99000002, comments_corrections=(CommentCorrection("RetractionOf", 99000001),)
    )
    by_type = make_article(99000003, publication_types=("Retraction of Publication",))
    with new_session(db) as session:
        for article in (study, by_reference, by_type):
            upsert_article(session, article, tags=None, run_id=None, now=T0, source="efetch")
        assert flags(session) == [(99000001, False), (99000002, True), (99000003, True)]
        # A revision can make a record a notice, or stop it being one.
        later = T0 + dt.timedelta(days=7)
        for article in (
            dataclasses.replace(study, publication_types=("Retraction of Publication",)),
            dataclasses.replace(by_type, publication_types=("Journal Article",)),
        ):
            upsert_article(session, article, tags=None, run_id=None, now=later, source="efetch")
        assert flags(session) == [(99000001, True), (99000002, True), (99000003, False)]
        session.commit()
