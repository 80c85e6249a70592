"""The digest's output formats (digest-<week>.md/.html/.json) and its Atom feed entry; the
publish job writes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aggregator.digest.feed import FeedEntry, FeedLink
from aggregator.digest.model import Digest, DigestInputError
from aggregator.digest.render_html import render_html
from aggregator.digest.render_json import render_json
from aggregator.digest.render_markdown import render_markdown

RENDERERS: dict[str, tuple[Callable[[Digest], str], str]] = {
    "md": (render_markdown, "text/markdown"),
    "html": (render_html, "text/html"),
    "json": (render_json, "application/json"),
}
# Feed links point at the human-readable files, HTML first.
FEED_LINK_ORDER = ("html", "md")


def digest_file_name(week: str, fmt: str) -> str:
    return f"digest-{week}.{fmt}"


def feed_summary(digest: Digest) -> str:
    """Demo notice, milestones (publications, then registered trials), then the headline
    sentences."""
    parts = [digest.demo_notice] if digest.demo_notice else []
    parts.extend(m.text for m in digest.milestones)
    if digest.registry is not None:
        parts.extend(m.text for m in digest.registry.milestones)
    parts.append(digest.headline.text)
    return " ".join(parts)


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """``formats`` without duplicates, in order; DigestInputError for an unknown one."""
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown or not formats:
        raise DigestInputError(
            f"unknown digest format {unknown[0] if unknown else ''!r}; "
            f"valid formats: {', '.join(RENDERERS)}"
        )
    return tuple(dict.fromkeys(formats))


def render_formats(digest: Digest, formats: Sequence[str]) -> dict[str, str]:
    """Each of ``formats`` rendered once."""
    return {fmt: RENDERERS[fmt][0](digest) for fmt in check_formats(formats)}


def feed_entry(digest: Digest, present: Sequence[str]) -> FeedEntry:
    """The digest's feed entry, linking the human-readable files ``present`` (formats whose
    file exists for the week), HTML first; JSON only when nothing else exists."""
    readable = [fmt for fmt in FEED_LINK_ORDER if fmt in present] or list(present)
    return FeedEntry(
        week=digest.week,
        title=digest.title,
        updated=digest.updated_at,
        summary=feed_summary(digest),
        links=tuple(
            FeedLink(href=digest_file_name(digest.week, fmt), media_type=RENDERERS[fmt][1])
            for fmt in readable
        ),
    )
