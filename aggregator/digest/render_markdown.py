"""Markdown rendering of a digest (jinja2 template digest.md.j2)."""

from __future__ import annotations

from aggregator.bulk import gc_paused
from aggregator.digest.formatting import shared_environment
from aggregator.digest.model import Digest
from aggregator.digest.tables import group_rows, timeline_rows


def render_markdown(digest: Digest) -> str:
    """The digest as Markdown: a plain-text email that also renders on GitHub."""
    template = shared_environment().get_template("digest.md.j2")
    with gc_paused():  # thousands of listed articles: see gc_paused
        text = template.render(
            d=digest,
            timeline_rows=timeline_rows(digest.timeline),
            group_rows=group_rows(digest.timeline),
        )
    # Collapse the blank-line runs left by skipped sections; keep one trailing newline.
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.rstrip()
        if stripped or (lines and lines[-1]):
            lines.append(stripped)
    return "\n".join(lines).strip() + "\n"
