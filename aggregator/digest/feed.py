"""Atom 1.0 feed of the weekly digests (feed.xml next to the digest files): built and read
here, written by the publish job."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from lxml import etree

from aggregator.digest.formatting import NO_LINK, link_target
from aggregator.digest.render_json import iso_utc
from aggregator.errors import AggregatorError

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_FILE = "feed.xml"
FEED_TITLE = "Magnesium and migraine evidence digest"
GENERATOR = "mg-migraine-aggregator"
_A = f"{{{ATOM_NS}}}"


class FeedError(AggregatorError):
    """An existing feed.xml cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class FeedLink:
    href: str  # relative to the feed file, e.g. "digest-2026-W48.html"
    media_type: str  # "text/html", "text/markdown", "application/json"


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One digest in the feed."""

    week: str
    title: str
    updated: dt.datetime
    summary: str  # the headline
    links: tuple[FeedLink, ...]

    @property
    def entry_id(self) -> str:
        return entry_id(self.week)


# A feed link is one of our digest files next to the feed, or a web page.
_DIGEST_FILE = re.compile(r"digest-\d{4}-W\d{2}\.(?:md|html|json)")


def safe_link(href: str) -> bool:
    """Whether ``href`` may stand in the feed: a digest file name (relative, as written
    next to feed.xml) or an http(s) URL; never javascript:, data:, file: or a path."""
    if _DIGEST_FILE.fullmatch(href):
        return True
    return link_target(href) == href and href != NO_LINK


def entry_id(week: str) -> str:
    """Stable URN for a week's digest (the same week always has the same id)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{GENERATOR}:digest:{week}").urn


def _feed_id() -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{GENERATOR}:digest-feed").urn


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, _A + tag, attrs)
    if text is not None:
        element.text = text
    return element


def feed_xml(entries: Iterable[FeedEntry]) -> bytes:
    """Atom document with one entry per week, newest week first."""
    ordered = sorted({e.week: e for e in entries}.values(), key=lambda e: e.week, reverse=True)
    feed = etree.Element(_A + "feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]
    _sub(feed, "id", _feed_id())
    _sub(feed, "title", FEED_TITLE)
    newest = max((e.updated for e in ordered), default=dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
    _sub(feed, "updated", iso_utc(newest))
    author = _sub(feed, "author")
    _sub(author, "name", GENERATOR)
    _sub(feed, "generator", GENERATOR)
    for item in ordered:
        entry = _sub(feed, "entry")
        _sub(entry, "id", item.entry_id)
        _sub(entry, "title", item.title)
        _sub(entry, "updated", iso_utc(item.updated))
        for link in item.links:
            if safe_link(link.href):
                _sub(entry, "link", rel="alternate", type=link.media_type, href=link.href)
        _sub(entry, "summary", item.summary, type="text")
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _parse_time(text: str | None, name: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    except ValueError:
        raise FeedError(f"{name}: entry has an invalid <updated> value {text!r}") from None


def parse_feed(data: bytes, name: str) -> list[FeedEntry]:
    """Entries of a feed.xml written from :func:`feed_xml` (``name`` is for error messages)."""
    # Our own file, but parse it safely anyway: no DTDs, entities or network.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedError(f"{name} is not valid XML: {exc}") from None
    if root.tag != _A + "feed":
        raise FeedError(f"{name} is not an Atom feed (root element {root.tag!r})")
    return [_entry(entry, name) for entry in root.findall(_A + "entry")]


def _entry(entry: etree._Element, name: str) -> FeedEntry:
    title = entry.findtext(_A + "title") or ""
    links = tuple(
        FeedLink(href=link.get("href", ""), media_type=link.get("type", ""))
        for link in entry.findall(_A + "link")
        if safe_link(link.get("href", ""))
    )
    week = next((PurePath(link.href).stem.removeprefix("digest-") for link in links), "")
    if not week:
        raise FeedError(f"{name}: entry {title!r} has no link to its digest file")
    return FeedEntry(
        week=week,
        title=title,
        updated=_parse_time(entry.findtext(_A + "updated"), name),
        summary=entry.findtext(_A + "summary") or "",
        links=links,
    )
