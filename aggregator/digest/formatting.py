"""Text helpers and the jinja2 environments shared by the Markdown and HTML renderers."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from urllib.parse import quote, urlsplit

import jinja2

from aggregator.digest.compute import form_label
from aggregator.vocab import STUDY_TYPE_LABELS

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_WHITESPACE = re.compile(r"\s+")


def md_escape(value: object) -> str:
    """Article text made inert in Markdown: one line, markup characters backslash-escaped."""
    if value is None:
        return ""
    text = _WHITESPACE.sub(" ", str(value)).strip()
    return _MD_SPECIAL.sub(r"\\\1", text)


# The only link targets a digest writes: web pages.
LINK_SCHEMES = frozenset({"https", "http"})
# Characters a link target keeps as they are: the URL syntax characters that neither
# Markdown nor HTML reads as markup or as the end of a link ("%" keeps encoded ones encoded).
_URL_SAFE = "/:?#@!$&*+,;=%"
NO_LINK = "#"  # the target of a link that would not be http(s): this page


def link_target(url: object) -> str:
    """``url`` made safe as a link target in Markdown, HTML, Atom and the e-mail: an
    http(s) URL with every other character percent-encoded (so ``)``, ``<``, ``]``, quotes
    or a space cannot end the link or start markup); anything else becomes ``#``."""
    text = "" if url is None else str(url).strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return NO_LINK
    if scheme not in LINK_SCHEMES:
        return NO_LINK
    return quote(text, safe=_URL_SAFE)


def signed(delta: int) -> str:
    """+1 / -2 / 0."""
    return f"{delta:+d}" if delta else "0"


def count_cell(count: int, delta: int, zero: str = "0") -> str:
    """Count with its change, e.g. "3 (+1)"; "3" when unchanged; ``zero`` for an unchanged 0."""
    if delta:
        return f"{count} ({delta:+d})"
    return zero if count == 0 else str(count)


def level_text(level: int | None) -> str:
    return str(level) if level is not None else "–"


def level_cell(level: int | None, previous: int | None) -> str:
    """Evidence level with the previous one when it changed, e.g. "2 (was 3)"."""
    if level == previous:
        return level_text(level)
    return f"{level_text(level)} (was {level_text(previous)})"


def utc_text(moment: dt.datetime | None) -> str:
    """UTC time to the minute, e.g. "2026-11-23 06:02 UTC" ("never" for None)."""
    if moment is None:
        return "never"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def date_text(moment: dt.datetime | dt.date | None) -> str:
    if moment is None:
        return "–"
    if isinstance(moment, dt.datetime):
        moment = moment.astimezone(dt.UTC).date()
    return moment.isoformat()


def humanize(value: str) -> str:
    """Vocabulary value for reading: "tension_type_headache" -> "tension type headache"."""
    return value.replace("_", " ")


def humanized(values: Iterable[str]) -> str:
    """Vocabulary values for reading, comma-separated (one filter call per table row, not a
    map and a join: the glycinate table can have thousands of rows)."""
    return ", ".join(value.replace("_", " ") for value in values)


def form_list(forms: Iterable[str]) -> str:
    """Forms for running text, comma-separated."""
    return ", ".join(form_label(form) for form in forms)


def study_type_label(value: str) -> str:
    return STUDY_TYPE_LABELS.get(value, humanize(value))


def make_environment() -> jinja2.Environment:
    """Templates shipped in aggregator/digest/templates; autoescape on for *.html.j2 (and
    by default); the Markdown template escapes article text with the ``md`` filter instead.
    Every link target in both goes through the ``link`` filter (http(s) only, encoded)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aggregator.digest", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html.j2", "html", "xml", "svg"),
            disabled_extensions=("md.j2",),
            default=True,
            default_for_string=True,
        ),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update(
        md=md_escape,
        link=link_target,
        signed=signed,
        count_cell=count_cell,
        level=level_text,
        level_cell=level_cell,
        utc=utc_text,
        date=date_text,
        humanize=humanize,
        humanized=humanized,
        form_list=form_list,
        study_type=study_type_label,
        form=form_label,
    )
    return env


@functools.cache
def shared_environment() -> jinja2.Environment:
    """One :func:`make_environment` per process: jinja2 caches compiled templates per
    environment, so a fresh one per render compiled both templates again every time."""
    return make_environment()
