"""Read the digest's inputs from the database (the only place the digest meets the store)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.article import Article
from aggregator.bulk import gc_paused
from aggregator.digest import (
    ChangeEvent,
    Digest,
    DigestArticle,
    DigestTrial,
    RegistryInputs,
    RegistrySearchRun,
    RunInfo,
    TrialPublication,
    TrialStatusPoint,
    build_digest,
)
from aggregator.digest.compute import charted_forms
from aggregator.digest.tally import (
    BEFORE_WEEK,
    DURING_WEEK,
    DigestTallies,
    TallyBuilder,
)
from aggregator.store.articles import StoredArticle, count_articles, list_articles, revisions_since
from aggregator.store.codec import article_columns, article_from_columns
from aggregator.store.engine import new_session
from aggregator.store.models import ArticleRevisionRow, ArticleRow, RunRow, TagRow
from aggregator.store.runs import recent_runs
from aggregator.store.tables import chunks, table_of
from aggregator.store.trials import StoredTrial, list_trials, trial_as_of
from aggregator.timeutil import as_utc
from aggregator.vocab import GLYCINATE, ArticleTags, in_vocabulary_order
from aggregator.weeks import WeekWindow, parse_week

# Tags an article again as its rules would have, once reverted to an older version.
Tagger = Callable[[Article], ArticleTags]
DERIVED = "derived"  # tag field of values the tagger concluded without provenance text

# Field names as a reader would say them in "what changed".
FIELD_LABELS = {
    "title": "title",
    "abstract": "abstract",
    "abstract_sections": "abstract",
    "publication_types": "publication types",
    "mesh_headings": "MeSH",
    "chemicals": "substances",
    "keywords": "keywords",
    "comments_corrections": "comments/corrections",
    "retracted": "retracted",
    "retraction_notice_pmid": "retraction notice",
    "authors": "authors",
    "doi": "DOI",
    "status": "indexing status",
}


def digest_article(stored: StoredArticle) -> DigestArticle | None:
    """A stored, tagged article as the digest sees it (None until it has been tagged, and
    for retraction notices: they are not evidence, and the article they retract is listed
    under retractions)."""
    tags = stored.tags
    article = stored.article
    if tags is None or article.is_retraction_notice:
        return None
    glycinate = next(
        (t for t in tags.tags if t.kind == "form" and t.value == GLYCINATE),
        None,
    )
    first_seen = as_utc(stored.first_seen_at)
    assert first_seen is not None
    return DigestArticle(
        pmid=article.pmid,
        title=article.title,
        journal=article.journal_iso or article.journal_title,
        year=article.pub_year,
        doi=article.doi,
        forms=tags.forms,
        conditions=tags.conditions,
        study_type=tags.study_type,
        evidence_level=tags.evidence_level,
        combination_product=tags.combination_product,
        retracted=stored.retracted,
        retracted_at=as_utc(stored.retracted_at),
        first_seen_at=first_seen,
        glycinate_snippet=glycinate.snippet if glycinate else None,
        glycinate_field=glycinate.field if glycinate else None,
    )


def _list_diff(old: Any, new: Any, key: str) -> str:
    def names(values: Any) -> set[str]:
        out = set()
        for value in values or ():
            if isinstance(value, Mapping):
                out.add(str(value.get(key) or value.get("name") or value))
            else:
                out.add(str(value))
        return out

    before, after = names(old), names(new)
    parts = [f"+{v}" for v in sorted(after - before)] + [f"-{v}" for v in sorted(before - after)]
    return ", ".join(parts)


def change_summary(changed: Sequence[str], old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """One line saying what changed, e.g. 'publication types: +Randomized Controlled Trial'."""
    parts: list[str] = []
    for name in changed:
        if name == "revised_date":
            continue
        label = FIELD_LABELS.get(name, name.replace("_", " "))
        if name == "publication_types":
            diff = _list_diff(old.get(name), new.get(name), "name")
            parts.append(f"{label}: {diff}" if diff else label)
        elif name == "mesh_headings":
            diff = _list_diff(old.get(name), new.get(name), "descriptor")
            parts.append(f"{label}: {diff}" if diff else label)
        elif name == "title":
            parts.append(f"title corrected (was: {str(old.get(name) or '')[:120]})")
        elif name == "retracted":
            if new.get("retracted"):
                notice = new.get("retraction_notice_pmid")
                parts.append(f"retracted (notice PMID {notice})" if notice else "retracted")
        elif name == "retraction_notice_pmid":
            continue
        else:
            parts.append(f"{label} changed")
    return "; ".join(dict.fromkeys(parts)) or "record updated"


def _change_event(row: ArticleRevisionRow, title: str) -> ChangeEvent:
    seen_at = as_utc(row.seen_at)
    assert seen_at is not None
    fields = tuple(row.changed_fields)
    if "retracted" in fields:
        # The notice PMID is part of the retraction, not a change of its own; without this
        # a retraction learnt from its notice was listed again under "revised".
        fields = tuple(name for name in fields if name != "retraction_notice_pmid")
    return ChangeEvent(
        pmid=row.pmid,
        title=title,
        seen_at=seen_at,
        changed_fields=fields,
        summary=change_summary(row.changed_fields, row.old_values, row.new_values),
    )


def _registry_details(row: RunRow) -> dict[str, Any]:
    """The registry part of a run's details ({} when the run did not watch the registry)."""
    details = row.details if isinstance(row.details, dict) else {}
    registry = details.get("registry")
    return registry if isinstance(registry, dict) else {}


def _run_info(row: RunRow) -> RunInfo:
    queries = row.details.get("queries", []) if isinstance(row.details, dict) else []
    failures = tuple(f"{q.get('name')}: {q.get('error')}" for q in queries if not q.get("ok", True))
    registry = _registry_details(row)
    failures += tuple(
        f"registry {s.get('name')}: {s.get('error')}"
        for s in registry.get("searches", [])
        if not s.get("ok", True)
    )
    links = registry.get("links")
    if isinstance(links, dict) and not links.get("ok", True):
        failures += (f"registry links: {links.get('error')}",)
    if row.status == "interrupted" and not failures:
        failures = (f"run interrupted: {row.error or 'process ended without finishing'}",)
    started = as_utc(row.started_at)
    assert started is not None
    return RunInfo(
        started_at=started,
        finished_at=as_utc(row.finished_at),
        status=row.status,
        queries=tuple(str(q.get("name")) for q in queries),
        new_count=row.new,
        revised_count=row.revised,
        failures=failures + _step_failures(row),
    )


def _step_failures(row: RunRow) -> tuple[str, ...]:
    """A step after the harvest that failed (the digest: files, feed or mail), as
    :func:`aggregator.jobs.weekly.record_failed_step` records it."""
    step = row.details.get("digest") if isinstance(row.details, dict) else None
    if isinstance(step, dict) and not step.get("ok", True):
        return (f"digest: {step.get('error')}",)
    return ()


def _revert(value: Any, current: Any) -> Any:
    """An old value from a revision row, in the type of the current column value."""
    if isinstance(current, dt.date) and isinstance(value, str):
        return dt.date.fromisoformat(value)
    return value


def as_of_version(
    stored: StoredArticle, later: Sequence[ArticleRevisionRow], retag: Tagger
) -> StoredArticle:
    """The article as it was before the ``later`` revisions (any order) were seen, tagged
    again by ``retag``.

    Without this a past week's digest showed titles and tags learnt after that week, so the
    same week gave a different digest once a later harvest had revised an article.
    """
    columns = article_columns(stored.article)
    reverted = False
    for row in sorted(later, key=lambda r: (r.seen_at, r.id or 0), reverse=True):
        for name, value in row.old_values.items():
            if name in columns:
                columns[name] = _revert(value, columns[name])
                reverted = True
    if not reverted:
        return stored
    article = article_from_columns(columns)
    return dataclasses.replace(stored, article=article, tags=retag(article))


def _utc_reader() -> Callable[[Any], dt.datetime | None]:
    """A converter of timestamps as the driver returns them (SQLite: naive UTC text,
    PostgreSQL: aware datetime) to aware UTC datetimes, as the store's ``UTCDateTime`` does.

    Each distinct value is converted once: the articles of one harvest share their
    timestamps, and converting 100,000s of them one by one was a large part of the load.
    """
    converted: dict[Any, dt.datetime | None] = {None: None}

    def read(raw: Any) -> dt.datetime | None:
        moment = converted.get(raw)
        if moment is None and raw is not None:
            parsed = dt.datetime.fromisoformat(raw) if isinstance(raw, str) else raw
            moment = parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed
            moment = converted[raw] = moment.astimezone(dt.UTC)
        return moment

    return read


def _conditions(session: Session, pmids: Any) -> dict[int, tuple[str, ...]]:
    """The conditions of the articles ``pmids`` (a query) selects, distinct, in vocabulary
    order (as the store lists them)."""
    tags = table_of(TagRow)
    query = sa.select(tags.c.pmid, tags.c.value).where(
        tags.c.kind == "condition", tags.c.pmid.in_(pmids)
    )
    found: dict[int, list[str]] = {}
    for pmid, value in session.execute(query).all():
        found.setdefault(pmid, []).append(value)
    ordered: dict[tuple[str, ...], tuple[str, ...]] = {}
    conditions: dict[int, tuple[str, ...]] = {}
    for pmid, values in found.items():
        key = tuple(values)
        if key not in ordered:
            ordered[key] = in_vocabulary_order("condition", values)
        conditions[pmid] = ordered[key]
    return conditions


def _glycinate_provenance(session: Session) -> dict[int, tuple[str, str]]:
    """(field, snippet) of each article's first glycinate form tag with provenance (by tag
    id, as the store lists tags). Every glycinate article is listed, so all are read."""
    tags = table_of(TagRow)
    query = (
        sa.select(tags.c.pmid, tags.c.field, tags.c.snippet)
        .where(tags.c.kind == "form", tags.c.value == GLYCINATE, tags.c.field != DERIVED)
        .order_by(tags.c.id)
    )
    found: dict[int, tuple[str, str]] = {}
    for pmid, field, snippet in session.execute(query).all():
        found.setdefault(pmid, (field, snippet))
    return found


def _lean_articles(session: Session, where: Any) -> list[DigestArticle]:
    """The tagged articles matching ``where`` as the digest sees them, read with three
    narrow queries instead of rebuilding full articles (``where`` leaves out retraction
    notices: see :func:`_listed_condition`)."""
    articles = table_of(ArticleRow)
    query = (
        sa.select(
            articles.c.pmid,
            articles.c.title,
            articles.c.journal_iso,
            articles.c.journal_title,
            articles.c.pub_year,
            articles.c.doi,
            # Read as the driver gives them; converted below, each distinct value once.
            sa.type_coerce(articles.c.first_seen_at, sa.String),
            articles.c.retracted,
            sa.type_coerce(articles.c.retracted_at, sa.String),
            articles.c.study_type,
            articles.c.evidence_level,
            articles.c.combination_product,
            articles.c.forms,
        )
        .where(where, articles.c.rules_version.is_not(None))
        .order_by(articles.c.pmid)
    )
    rows: Sequence[Any] = session.execute(query).all()
    conditions = _conditions(session, sa.select(articles.c.pmid).where(where))
    provenance = _glycinate_provenance(session)
    utc = _utc_reader()
    split: dict[str | None, tuple[str, ...]] = {}
    found: list[DigestArticle] = []
    for (
        pmid,
        title,
        journal_iso,
        journal_title,
        pub_year,
        doi,
        first_seen_at,
        retracted,
        retracted_at,
        study_type,
        evidence_level,
        combination_product,
        forms,
    ) in rows:
        first_seen = utc(first_seen_at)
        assert first_seen is not None
        if forms not in split:
            split[forms] = in_vocabulary_order("form", forms.split(",") if forms else ())
        field, snippet = provenance.get(pmid, (None, None))
        found.append(
            DigestArticle(
                pmid=pmid,
                title=title,
                journal=journal_iso or journal_title,
                year=pub_year,
                doi=doi,
                forms=split[forms],
                conditions=conditions.get(pmid, ()),
                study_type=study_type,
                evidence_level=evidence_level,
                combination_product=bool(combination_product),
                retracted=bool(retracted),
                retracted_at=utc(retracted_at),
                first_seen_at=first_seen,
                glycinate_snippet=snippet,
                glycinate_field=field,
            )
        )
    return found


DIGEST_INDEX = "ix_article_digest"  # revision 0005


def _counted_columns() -> tuple[str, ...]:
    """The article columns the digest counts by: those of its index, and the PMID (which
    every SQLite index holds as the row id)."""
    index = next(i for i in table_of(ArticleRow).indexes if i.name == DIGEST_INDEX)
    return ("pmid", *(column.name for column in index.columns))


@dataclasses.dataclass(frozen=True, slots=True)
class _Counted:
    """Where the counting queries read: the FROM clause and its columns by name.

    On SQLite that is ``article INDEXED BY ix_article_digest``: the planner otherwise walks
    ix_article_first_seen_at or ix_article_pub_year and reads every large article row, ten
    times slower than scanning the index that holds all the digest needs. SQLAlchemy cannot
    spell INDEXED BY, hence the textual FROM and unbound (but typed) columns.
    """

    source: Any
    columns: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        return self.columns[name]


def _counted(session: Session) -> _Counted:
    articles = table_of(ArticleRow)
    if session.get_bind().dialect.name != "sqlite":
        return _Counted(articles, {name: articles.c[name] for name in _counted_columns()})
    columns = {name: sa.column(name, articles.c[name].type) for name in _counted_columns()}
    return _Counted(sa.text(f"article INDEXED BY {DIGEST_INDEX}"), columns)


def _tagged_known(a: _Counted, tallies: TallyBuilder, pmids: Sequence[int] | None) -> list[Any]:
    """Conditions for the tagged articles (retraction notices are not evidence) first seen by
    the week's end (or those of them with ``pmids``)."""
    where = [
        a.rules_version.is_not(None),
        sa.not_(a.retraction_notice),
        a.first_seen_at < tallies.end,
    ]
    if pmids is not None:
        where.append(a.pmid.in_(pmids))
    return where


def _retracted_by(a: _Counted, moment: dt.datetime) -> Any:
    """SQL: the article's retraction was known before ``moment`` (as compute._retracted_by)."""
    return sa.and_(a.retracted, sa.func.coalesce(a.retracted_at, a.first_seen_at) < moment)


def _count_profiles(
    session: Session, tallies: TallyBuilder, pmids: Sequence[int] | None, sign: int
) -> None:
    """Add (``sign`` 1) or take out (-1) the profile counts of the stored, tagged articles
    known by the week's end: all of them, or those with ``pmids``.

    The database groups the articles (GROUP BY forms, study type, level, directness) in two
    parts: those *settled* before the week (known then and not retracted by its end: nearly
    all of them), and the few *recent* ones (first seen or retracted up to the week's end),
    grouped also by when. On SQLite the settled part streams through ix_article_digest,
    whose leading columns are the GROUP BY: no read of the article rows, no sort.
    """
    a = _counted(session)
    keys = (a.forms, a.study_type, a.evidence_level, a.is_direct)
    where = _tagged_known(a, tallies, pmids)
    settled = (
        sa.select(*keys, sa.literal(BEFORE_WEEK), sa.null(), sa.func.count())
        .select_from(a.source)
        .where(*where, a.first_seen_at < tallies.start, sa.not_(_retracted_by(a, tallies.end)))
        .group_by(*keys)
    )
    seen = sa.case((a.first_seen_at < tallies.start, BEFORE_WEEK), else_=DURING_WEEK)
    retracted = sa.case(
        (_retracted_by(a, tallies.start), BEFORE_WEEK),
        (_retracted_by(a, tallies.end), DURING_WEEK),
        else_=sa.null(),
    )
    # Grouped outside a subquery: PostgreSQL cannot tell that CASE expressions in SELECT and
    # GROUP BY are the same when each carries its own bound parameters.
    recent_rows = (
        sa.select(*keys, seen.label("seen"), retracted.label("retracted"))
        .select_from(a.source)
        .where(*where, sa.or_(a.first_seen_at >= tallies.start, _retracted_by(a, tallies.end)))
        .subquery()
    )
    recent = sa.select(*recent_rows.c, sa.func.count()).group_by(*recent_rows.c)
    split: dict[str | None, tuple[str, ...]] = {}
    for query in (settled, recent):
        rows: Sequence[Any] = session.execute(query).all()
        for forms_text, study_type, level, direct, seen_in, retracted_in, count in rows:
            forms = split.get(forms_text)
            if forms is None:
                forms = split[forms_text] = in_vocabulary_order(
                    "form", forms_text.split(",") if forms_text else ()
                )
            key = (forms, study_type, level, bool(direct), seen_in, retracted_in)
            tallies.add_profile(key, sign * count)


def _count_years(
    session: Session,
    tallies: TallyBuilder,
    forms: Sequence[str],
    pmids: Sequence[int] | None,
    sign: int,
) -> None:
    """Add (``sign`` 1) or take out (-1) the year counts of each of ``forms``: the stored,
    tagged articles with that form, known and not retracted by the week's end (all, or
    those with ``pmids``), a query per form."""
    a = _counted(session)
    keys = (a.pub_year, a.study_type, a.is_direct)
    # The commas make "oxide" miss "hydroxide". A substring search with the form as a bound
    # parameter: LIKE with a bound pattern is compiled again for every row on SQLite.
    padded = sa.literal(",") + a.forms + sa.literal(",")
    position = sa.func.strpos if session.get_bind().dialect.name == "postgresql" else sa.func.instr
    for form in forms:
        query = (
            sa.select(*keys, sa.func.count())
            .select_from(a.source)
            .where(
                *_tagged_known(a, tallies, pmids),
                sa.not_(_retracted_by(a, tallies.end)),
                position(padded, f",{form},") > 0,
            )
            .group_by(*keys)
        )
        rows: Sequence[Any] = session.execute(query).all()
        for year, study_type, direct, count in rows:
            tallies.add_year((form, year, study_type, bool(direct)), sign * count)


def _listed_condition(window: WeekWindow) -> Any:
    """Stored articles a digest of the week may list: first seen or retracted during the
    week, or glycinate (known by the week's end; untagged ones are dropped later). Each part
    is answered from an index; an OR of them made SQLite read every article."""
    articles, tags = table_of(ArticleRow), table_of(TagRow)
    first_seen = articles.c.first_seen_at
    retraction_seen = sa.func.coalesce(articles.c.retracted_at, first_seen)
    listed = sa.union(
        sa.select(articles.c.pmid).where(first_seen >= window.start, first_seen < window.end),
        sa.select(tags.c.pmid).where(tags.c.kind == "form", tags.c.value == GLYCINATE),
        sa.select(articles.c.pmid).where(
            articles.c.retracted,
            retraction_seen >= window.start,
            retraction_seen < window.end,
        ),
    )
    return sa.and_(
        articles.c.pmid.in_(listed),
        first_seen < window.end,
        sa.not_(articles.c.retraction_notice),
    )


def _is_listed(article: DigestArticle, window: WeekWindow) -> bool:
    """:func:`_listed_condition` for an article in hand."""
    if article.first_seen_at >= window.end:
        return False
    retraction_seen = article.retracted_at or article.first_seen_at
    return (
        article.first_seen_at >= window.start
        or GLYCINATE in article.forms
        or (article.retracted and window.start <= retraction_seen < window.end)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class DigestInputs:
    """What :func:`aggregator.digest.build_digest` needs for one week, from the database."""

    week: str
    articles: list[DigestArticle]  # only those the digest lists (see build_digest)
    changes: list[ChangeEvent]  # revisions seen during the week
    runs: list[RunInfo]
    demo: bool  # the database holds only demo data
    tallies: DigestTallies
    stored_articles: int  # articles in the database, whenever seen
    registry: RegistryInputs = dataclasses.field(default_factory=RegistryInputs)

    def build(self, *, demo: bool | None = None) -> Digest:
        """The digest (``demo`` overrides whether it is marked as demo data)."""
        return build_digest(
            self.week,
            self.articles,
            self.changes,
            self.runs,
            demo=self.demo if demo is None else demo,
            tallies=self.tallies,
            registry=self.registry,
        )


def load_digest_inputs(engine: Engine, week: str, *, retag: Tagger) -> DigestInputs:
    """Read the inputs of ISO ``week``'s digest, as known at the end of that week.

    Counts come from the database (:func:`_count_profiles`, :func:`_count_years`); only
    articles the digest lists are read in full. Retraction notices are not evidence and are
    left out. Articles revised after the week are shown and counted as they were then, so a
    past week's digest is the same whenever it is built: their current counts are taken out
    and those of the version of the time (reverted, and tagged again by ``retag``) put in.
    """
    window = parse_week(week)
    with gc_paused(), new_session(engine) as session:
        revisions = revisions_since(session, window.start)
        later = _revised_after(revisions, window)
        tallies = TallyBuilder(window.label, window.start, window.end)
        _count_profiles_as_then(session, tallies, later)
        listed = _listed_as_stored(session, window, later)
        then = _revised_as_then(session, later, retag)
        for article in then.articles:
            tallies.add_article(article)
            if _is_listed(article, window):
                listed.append(article)
        # Year counts only for the forms the chart shows, which the profiles decide.
        charted = charted_forms(tallies.build(year_forms=()))
        _count_years_as_then(session, tallies, charted, later)
        changes = _changes_in_week(session, revisions, later, then.titles)
        run_rows = _harvest_runs(session)
        runs, demo = [_run_info(r) for r in run_rows], _only_demo(session)
        stored_articles = count_articles(session)
        registry = load_registry_inputs(session, run_rows, window)
    return DigestInputs(
        week=window.label,
        articles=listed,
        changes=changes,
        runs=runs,
        demo=demo,
        tallies=tallies.build(year_forms=charted),
        stored_articles=stored_articles,
        registry=registry,
    )


Revisions = dict[int, list[ArticleRevisionRow]]


def _revised_after(revisions: Sequence[ArticleRevisionRow], window: WeekWindow) -> Revisions:
    """The revisions seen after the week, by PMID: what the digest must undo."""
    later: Revisions = {}
    for revision in revisions:
        seen_at = as_utc(revision.seen_at)
        if seen_at is not None and seen_at >= window.end:
            later.setdefault(revision.pmid, []).append(revision)
    return later


def _count_profiles_as_then(session: Session, tallies: TallyBuilder, later: Revisions) -> None:
    """Every stored article's profile counted, minus those revised later (added back as they
    were by the caller)."""
    _count_profiles(session, tallies, None, 1)
    for chunk in chunks(sorted(later)):
        _count_profiles(session, tallies, chunk, -1)


def _count_years_as_then(
    session: Session, tallies: TallyBuilder, forms: Sequence[str], later: Revisions
) -> None:
    """Year counts of ``forms``, minus the articles revised later (added by add_article)."""
    _count_years(session, tallies, forms, None, 1)
    for chunk in chunks(sorted(later)):
        _count_years(session, tallies, forms, chunk, -1)


def _listed_as_stored(
    session: Session, window: WeekWindow, later: Revisions
) -> list[DigestArticle]:
    """The articles the digest lists, as stored, except those revised after the week."""
    listed = _lean_articles(session, _listed_condition(window))
    return [article for article in listed if article.pmid not in later]


@dataclasses.dataclass(frozen=True, slots=True)
class _AsThen:
    articles: list[DigestArticle]  # the revised articles as they were (notices left out)
    titles: dict[int, str]  # their titles then


def _revised_as_then(session: Session, later: Revisions, retag: Tagger) -> _AsThen:
    """The articles revised after the week, as they were at its end (usually few)."""
    articles: list[DigestArticle] = []
    titles: dict[int, str] = {}
    for stored in list_articles(session, pmids=sorted(later)):
        then = as_of_version(stored, later.get(stored.article.pmid, ()), retag)
        titles[then.article.pmid] = then.article.title
        article = digest_article(then)
        if article is not None:
            articles.append(article)
    return _AsThen(articles, titles)


def _changes_in_week(
    session: Session,
    revisions: Sequence[ArticleRevisionRow],
    later: Revisions,
    titles: Mapping[int, str],
) -> list[ChangeEvent]:
    """The revisions seen during the week, each with the article's title as it was then."""
    in_week = [r for r in revisions if r not in later.get(r.pmid, ())]
    known = dict(titles)
    known.update(_titles(session, sorted({r.pmid for r in in_week} - set(known))))
    return [_change_event(r, known.get(r.pmid, "")) for r in in_week]


def _harvest_runs(session: Session) -> list[RunRow]:
    """The harvest runs (PubMed and demo; imports left out), newest first."""
    return [r for r in recent_runs(session, limit=10_000) if r.kind in ("run", "demo")]


def _only_demo(session: Session) -> bool:
    """Whether the database holds only demo data."""
    kinds = {r.kind for r in recent_runs(session, limit=10_000)}
    return "demo" in kinds and "run" not in kinds


# ---- the registry ------------------------------------------------------------------------------


def _day(text: str | None) -> dt.date | None:
    """The first day a registry date (YYYY, YYYY-MM or YYYY-MM-DD) can mean."""
    if not text:
        return None
    parts = [int(p) for p in text.split("-")]
    try:
        return dt.date(
            parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1
        )
    except (ValueError, IndexError):
        return None


def digest_trial(stored: StoredTrial) -> DigestTrial:
    """A stored trial as the digest sees it."""
    row = stored.row
    first_seen = as_utc(row.first_seen_at)
    assert first_seen is not None
    completion = None
    if row.completion_date:
        completion = row.completion_date + (
            f" ({row.completion_date_type.lower()})" if row.completion_date_type else ""
        )
    return DigestTrial(
        nct_id=row.nct_id,
        title=row.title,
        acronym=row.acronym,
        forms=stored.forms,
        migraine_or_headache=row.migraine_or_headache,
        conditions=tuple(row.conditions or ()),
        phases=tuple(row.phases or ()),
        enrollment=row.enrollment,
        enrollment_type=row.enrollment_type,
        first_posted=_day(row.first_posted),
        completion=completion,
        completion_date=_day(row.completion_date) if row.completion_date_type == "ACTUAL" else None,
        results_first_posted=_day(row.results_first_posted),
        first_seen_at=first_seen,
        results_seen_at=as_utc(row.results_seen_at),
        statuses=tuple(
            TrialStatusPoint(
                seen_at=change.seen_at,
                status=change.new_status,
                posted=_day(change.posted),
                observed_change=index > 0,
            )
            for index, change in enumerate(stored.history)
        ),
        publications=tuple(
            TrialPublication(
                pmid=link.pmid,
                how=link.how,
                first_seen_at=link.first_seen_at,
                title=link.article_title,
            )
            for link in stored.publications
        ),
    )


def _search_runs(row: RunRow) -> list[RegistrySearchRun]:
    finished = as_utc(row.finished_at)
    if finished is None:
        return []
    found = []
    details = _registry_details(row)
    every_search = bool(details.get("every_search", True))
    for search in details.get("searches", []):
        window = search.get("window") or [None, None]
        ok = bool(search.get("ok"))
        found.append(
            RegistrySearchRun(
                name=str(search.get("name")),
                query=str(search.get("query") or ""),
                finished_at=finished,
                ok=ok,
                through=dt.date.fromisoformat(window[1]) if ok and window[1] else None,
                error=search.get("error"),
                every_search=every_search,
            )
        )
    return found


def load_registry_inputs(
    session: Session, runs: Sequence[RunRow], window: WeekWindow
) -> RegistryInputs:
    """Every stored trial that gave magnesium at the end of the week, as it was then (later
    revisions undone, so a past week's digest stays the same), and the registry searches of
    ``runs``."""
    trials = tuple(
        digest_trial(then)
        for stored in list_trials(session)
        if (then := trial_as_of(stored, window.end)).forms
    )
    search_runs = tuple(found for row in reversed(runs) for found in _search_runs(row))
    return RegistryInputs(trials=trials, search_runs=search_runs)


def _titles(session: Session, pmids: Sequence[int]) -> dict[int, str]:
    articles = table_of(ArticleRow)
    found: dict[int, str] = {}
    for chunk in chunks(pmids):
        query = sa.select(articles.c.pmid, articles.c.title).where(articles.c.pmid.in_(chunk))
        found.update((pmid, title) for pmid, title in session.execute(query).all())
    return found
