"""HTML rendering of a digest: one self-contained, escaped, script-free file."""

from __future__ import annotations

from aggregator.bulk import gc_paused
from aggregator.digest.chart import chart_description, render_svg
from aggregator.digest.compute import NO_DIRECT_GLYCINATE
from aggregator.digest.formatting import shared_environment
from aggregator.digest.model import Digest
from aggregator.digest.tables import group_rows, timeline_rows


def render_html(digest: Digest) -> str:
    """The digest as a standalone HTML page (inline CSS and SVG, autoescaped)."""
    template = shared_environment().get_template("digest.html.j2")
    with gc_paused():  # thousands of listed articles: see gc_paused
        return template.render(
            d=digest,
            chart_svg=render_svg(digest.timeline),
            chart_desc=chart_description(digest.timeline),
            timeline_rows=timeline_rows(digest.timeline),
            group_rows=group_rows(digest.timeline),
            no_direct_sentence=NO_DIRECT_GLYCINATE,
        )
