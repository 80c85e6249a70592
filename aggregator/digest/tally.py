"""Counts behind a weekly digest: every article reduced to what the digest counts.

A digest counts every known article (headline, evidence map, chart) but lists only a few
(new this week, glycinate, retracted this week). :class:`DigestTallies` holds the counts for
one ISO week: articles alike in forms, study type, evidence level, directness and in *when*
they became known and retracted relative to that week are one :class:`ProfileCount`; the chart
needs :class:`YearCount` rows (active articles per form, year, study type and directness).

The database computes these with GROUP BY (:mod:`aggregator.store.digest_reader`), so a digest over
100,000 articles never builds 100,000 objects; :func:`tally_articles` computes the same from
plain :class:`DigestArticle` values (tests, small inputs). Both feed
:func:`aggregator.digest.compute.build_digest`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.digest.model import DigestArticle, DigestInputError, has_direct_outcome
from aggregator.vocab import FORMS, STUDY_TYPES, in_vocabulary_order, unknown_value_error

# When something became known, relative to the digest's week.
BEFORE_WEEK = 0  # before the week started (known at the end of the previous week)
DURING_WEEK = 1  # during the week
PERIODS = (BEFORE_WEEK, DURING_WEEK)

_FORM_SET = frozenset(FORMS)
_STUDY_TYPE_SET = frozenset(STUDY_TYPES)

ProfileKey = tuple[tuple[str, ...], str, int | None, bool, int, int | None]
YearKey = tuple[str, int | None, str, bool]


@dataclass(frozen=True, slots=True)
class ProfileCount:
    """``count`` articles known by the end of the week that share forms, study type, level,
    directness, when they were first seen and when their retraction became known."""

    forms: tuple[str, ...]  # distinct, vocabulary order
    study_type: str
    evidence_level: int | None
    direct: bool
    seen: int  # BEFORE_WEEK or DURING_WEEK
    retracted: int | None  # BEFORE_WEEK, DURING_WEEK, or None: not retracted by the week's end
    count: int

    def __post_init__(self) -> None:
        who = f"profile count {self.forms}/{self.study_type}"
        for form in self.forms:
            if form not in _FORM_SET:
                raise DigestInputError(f"{who}: {unknown_value_error('form', form, FORMS)}")
        if self.study_type not in _STUDY_TYPE_SET:
            raise DigestInputError(
                f"{who}: {unknown_value_error('study type', self.study_type, STUDY_TYPES)}"
            )
        if self.seen not in PERIODS or self.retracted not in (*PERIODS, None):
            raise DigestInputError(f"{who}: seen/retracted must be one of {PERIODS} (or None)")
        if self.count < 1:
            raise DigestInputError(f"{who}: count must be positive, got {self.count}")

    @property
    def known_before_week(self) -> bool:
        """Known at the end of the previous week."""
        return self.seen == BEFORE_WEEK

    @property
    def active_now(self) -> bool:
        """Counts at the end of the week (not retracted by then)."""
        return self.retracted is None

    @property
    def active_before_week(self) -> bool:
        """Counted at the end of the previous week (known then and not yet retracted)."""
        return self.seen == BEFORE_WEEK and self.retracted != BEFORE_WEEK


@dataclass(frozen=True, slots=True)
class YearCount:
    """``count`` articles active at the end of the week with ``form`` among their forms,
    published in ``year`` (None: undated), of ``study_type`` and directness ``direct``."""

    form: str
    year: int | None
    study_type: str
    direct: bool
    count: int

    def __post_init__(self) -> None:
        if self.form not in _FORM_SET:
            raise DigestInputError(f"year count: {unknown_value_error('form', self.form, FORMS)}")
        if self.count < 1:
            raise DigestInputError(f"year count {self.form}/{self.year}: count must be positive")


@dataclass(frozen=True, slots=True)
class DigestTallies:
    """The counts of one ISO week's digest (``week`` as "2026-W48"), rows in no set order."""

    week: str
    profiles: tuple[ProfileCount, ...]
    years: tuple[YearCount, ...]
    year_forms: tuple[str, ...] = FORMS  # the forms ``years`` counts (others: not counted)

    @property
    def known_articles(self) -> int:
        """Articles known by the end of the week (retracted ones included)."""
        return sum(p.count for p in self.profiles)

    def same_counts(self, other: DigestTallies) -> bool:
        """The same week and counts, whatever the order of the rows."""
        return (
            self.week == other.week
            and Counter(self.profiles) == Counter(other.profiles)
            and Counter(self.years) == Counter(other.years)
            and set(self.year_forms) == set(other.year_forms)
        )


class TallyBuilder:
    """Adds up :class:`DigestTallies` for one week from articles, database groups, or both
    (a negative count takes database groups back out)."""

    def __init__(self, week: str, start: dt.datetime, end: dt.datetime) -> None:
        self.week = week
        self.start = start  # the week's first instant (UTC)
        self.end = end  # the next week's first instant (UTC, exclusive)
        self._profiles: Counter[ProfileKey] = Counter()
        self._years: Counter[YearKey] = Counter()
        self._built_profiles: tuple[ProfileCount, ...] | None = None  # until profiles change

    def period(self, moment: dt.datetime) -> int | None:
        """BEFORE_WEEK, DURING_WEEK, or None for the week's end and later."""
        if moment < self.start:
            return BEFORE_WEEK
        return DURING_WEEK if moment < self.end else None

    def add_profile(self, key: ProfileKey, count: int) -> None:
        """Add ``count`` articles of one profile (forms in any order)."""
        forms, study_type, level, direct, seen, retracted = key
        canonical = in_vocabulary_order("form", forms)
        self._built_profiles = None
        self._profiles[(canonical, study_type, level, direct, seen, retracted)] += count

    def add_year(self, key: YearKey, count: int) -> None:
        """Add ``count`` active articles of one (form, year, study type, directness)."""
        self._years[key] += count

    def add_article(self, article: DigestArticle) -> None:
        """Count ``article`` as it stands at the week's end."""
        seen = self.period(article.first_seen_at)
        if seen is None:
            return  # first seen after the week: not known yet
        retracted = (
            self.period(article.retracted_at or article.first_seen_at)
            if article.retracted
            else None
        )
        direct = has_direct_outcome(article.conditions)
        forms = in_vocabulary_order("form", article.forms)
        self._built_profiles = None
        level = article.evidence_level
        self._profiles[(forms, article.study_type, level, direct, seen, retracted)] += 1
        if retracted is None:
            for form in forms:
                self._years[(form, article.year, article.study_type, direct)] += 1

    def build(self, year_forms: Sequence[str] = FORMS) -> DigestTallies:
        """The tallies, with year counts of ``year_forms`` only; an internal error if a
        subtraction took out more than was added."""
        years_kept = [(k, n) for k, n in self._years.items() if k[0] in year_forms]
        negative = [k for k, n in (*self._profiles.items(), *years_kept) if n < 0]
        if negative:
            raise AssertionError(f"digest tallies went negative for {negative[:3]}")
        # In the order first added: a database returns its groups in a stable order, and
        # sorting 10,000s of rows here would cost more than everything the digest does next.
        if self._built_profiles is None:
            self._built_profiles = tuple(
                ProfileCount(forms, study_type, level, direct, seen, retracted, count)
                for (forms, study_type, level, direct, seen, retracted), count in (
                    self._profiles.items()
                )
                if count
            )
        years = tuple(
            YearCount(form, year, study_type, direct, count)
            for (form, year, study_type, direct), count in years_kept
            if count
        )
        return DigestTallies(self.week, self._built_profiles, years, tuple(year_forms))


def tally_articles(
    week: str, start: dt.datetime, end: dt.datetime, articles: Sequence[DigestArticle]
) -> DigestTallies:
    """The tallies of ``articles`` for the week [``start``, ``end``)."""
    builder = TallyBuilder(week, start, end)
    for article in articles:
        builder.add_article(article)
    return builder.build()
