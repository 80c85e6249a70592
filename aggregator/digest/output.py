"""Write a digest to files (digest-<week>.md/.html/.json) and update the Atom feed."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from aggregator.digest.feed import FEED_FILE, FeedEntry, FeedLink, read_feed, write_feed
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
    """Demo notice, milestones, then the headline sentences."""
    parts = [digest.demo_notice] if digest.demo_notice else []
    parts.extend(m.text for m in digest.milestones)
    parts.append(digest.headline.text)
    return " ".join(parts)


def write_digest(
    digest: Digest, out_dir: Path, formats: Sequence[str] = ("md", "html", "json")
) -> list[Path]:
    """Write the digest in ``formats`` to ``out_dir`` and update feed.xml; return the paths."""
    unknown = [f for f in formats if f not in RENDERERS]
    if unknown or not formats:
        raise DigestInputError(
            f"unknown digest format {unknown[0] if unknown else ''!r}; "
            f"valid formats: {', '.join(RENDERERS)}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in dict.fromkeys(formats):  # keep order, drop duplicates
        render, _media_type = RENDERERS[fmt]
        path = out_dir / digest_file_name(digest.week, fmt)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(render(digest), encoding="utf-8")
        os.replace(temporary, path)
        written.append(path)
    links = tuple(
        FeedLink(href=digest_file_name(digest.week, fmt), media_type=RENDERERS[fmt][1])
        for fmt in FEED_LINK_ORDER
        if (out_dir / digest_file_name(digest.week, fmt)).exists()
    ) or tuple(
        FeedLink(href=p.name, media_type=RENDERERS[p.suffix.lstrip(".")][1]) for p in written
    )
    entry = FeedEntry(
        week=digest.week,
        title=digest.title,
        updated=digest.updated_at,
        summary=feed_summary(digest),
        links=links,
    )
    others = [e for e in read_feed(out_dir / FEED_FILE) if e.week != digest.week]
    written.append(write_feed(out_dir, [*others, entry]))
    return written
