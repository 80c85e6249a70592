"""What to select from the library: the filters of ``query`` and ``export``, the sort orders,
and the web-search text syntax. Pure: no database access (the CLI validates flags with it
before the database layer is loaded)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from aggregator.errors import ConfigError
from aggregator.vocab import FORMS, STUDY_TYPES, unknown_value_error

SORTS: tuple[str, ...] = ("level", "year", "date", "pmid")


class FilterError(ConfigError):
    """A query filter value is invalid (unknown form or study type, bad range, empty text)."""


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """What to select; every field left at its default matches everything.

    Several ``forms`` or ``study_types`` mean "any of them"; different fields must all match.
    """

    forms: tuple[str, ...] = ()
    study_types: tuple[str, ...] = ()
    max_level: int | None = None
    since_year: int | None = None
    until_year: int | None = None
    text: str | None = None
    retracted: bool | None = None
    new_since: dt.datetime | None = None  # first stored at or after (aware UTC)
    direct: bool | None = None
    added_since: dt.date | None = None  # added to PubMed (entry date) on or after

    def validate(self) -> None:
        """Raise FilterError naming the first value that cannot match anything sensible."""
        for form in self.forms:
            if form not in FORMS:
                raise FilterError(unknown_value_error("form", form, FORMS))
        for study_type in self.study_types:
            if study_type not in STUDY_TYPES:
                raise FilterError(unknown_value_error("study type", study_type, STUDY_TYPES))
        if self.max_level is not None and not 1 <= self.max_level <= 5:
            raise FilterError(f"evidence level {self.max_level} out of range; valid: 1 to 5")
        if (
            self.since_year is not None
            and self.until_year is not None
            and self.since_year > self.until_year
        ):
            raise FilterError(f"since year {self.since_year} is after until year {self.until_year}")
        if self.text is not None:
            fts5_query(self.text)  # raises for text without a single word
        if self.new_since is not None and self.new_since.tzinfo is None:
            raise FilterError("new-since must be a timezone-aware time")


_TERM_RE = re.compile(r'-?"[^"]*"?|\S+')


_WORD_RE = re.compile(r"\w+")


def fts5_query(text: str) -> str:
    """Translate web-search syntax into an FTS5 MATCH expression in which every term is a
    quoted string, so no user input is ever read as FTS5 syntax (column filters, NEAR, ^)."""
    clauses: list[list[str]] = []
    excluded: list[str] = []
    join_next = False
    for raw in _TERM_RE.findall(text):
        if raw == "OR":
            join_next = bool(clauses)
            continue
        negative = raw.startswith("-") and len(raw) > 1
        words = _WORD_RE.findall(raw[1:] if negative else raw)
        if not words:
            continue
        phrase = '"' + " ".join(words) + '"'
        if negative:
            excluded.append(phrase)
        elif join_next:
            clauses[-1].append(phrase)
        else:
            clauses.append([phrase])
        join_next = False
    if not clauses:
        raise FilterError(f"text {text!r} has no word to search for")
    expression = " AND ".join(
        "(" + " OR ".join(options) + ")" if len(options) > 1 else options[0] for options in clauses
    )
    for phrase in excluded:
        expression = f"({expression}) NOT {phrase}"
    return expression
