"""Small field readers shared by the PubMed XML and MEDLINE parsers: dates, months, ORCID iDs
and abstract sections, so both formats give the same stored values for the same record."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from typing import IO

from aggregator.article import AbstractSection
from aggregator.errors import ParseError

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}


# A season becomes the month it starts in within the given year, so sorting by (year, month)
# stays sensible: Winter is January (ranges such as "2005 Winter-Spring" run Winter first).
_SEASONS = {"winter": 1, "spring": 3, "summer": 6, "fall": 9, "autumn": 9}


_MEDLINE_DATE = re.compile(r"^\s*(\d{4})(?:[\s/-]+([A-Za-z]+|\d{1,2})(?:\s+(\d{1,2})(?!\d))?)?")


_ORCID = re.compile(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dXx])")


def month_number(text: str | None) -> int | None:
    """1-12 for a month name ("Dec", "December"), number ("12") or season ("Spring")."""
    if not text:
        return None
    value = text.strip().lower()
    if value.isdigit():
        number = int(value)
        return number if 1 <= number <= 12 else None
    return _MONTHS.get(value) or _MONTHS.get(value[:3]) or _SEASONS.get(value)


def parse_medline_date(text: str) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) of the *start* of a free-text date like "1998 Dec-1999 Jan"."""
    match = _MEDLINE_DATE.match(text)
    if not match:
        return None, None, None
    year = int(match.group(1))
    month = month_number(match.group(2))
    day = int(match.group(3)) if month is not None and match.group(3) else None
    return year, month, valid_day(year, month, day)


def normalise_orcid(text: str | None) -> str | None:
    """Bare ORCID iD ("0000-0002-1825-0097") from a URL or bare form; other text as given."""
    if not text:
        return None
    match = _ORCID.search(text)
    return match.group(1).upper() if match else text.strip() or None


def valid_day(year: int | None, month: int | None, day: int | None) -> int | None:
    """``day`` when year-month-day is a real date, else None (PubMed has a few "Feb 30")."""
    if year is None or month is None or day is None:
        return None
    try:
        dt.date(year, month, day)
    except ValueError:
        return None
    return day


def join_abstract(sections: list[AbstractSection] | tuple[AbstractSection, ...]) -> str:
    """Sections as "LABEL: text" (or just text), separated by a blank line."""
    return "\n\n".join(f"{s.label}: {s.text}" if s.label else s.text for s in sections)


def open_binary(path: str, name: str) -> IO[bytes]:
    """The file opened for reading bytes, through gzip when it is gzipped (by its magic number,
    not its name); ParseError naming ``name`` when it cannot be read."""
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
        if magic == b"\x1f\x8b":
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")  # noqa: SIM115 - returned to a with-block
    except OSError as exc:
        raise ParseError(f"{name}: cannot read file: {exc.strerror or exc}") from exc
