"""Weekly digest: a pure computation over plain inputs plus Markdown, HTML, JSON and Atom output.

Usage: ``write_digest(build_digest("2026-W48", articles, changes, runs), Path("digests"))``.
"""

from __future__ import annotations

from aggregator.digest.compute import build_digest
from aggregator.digest.feed import FeedEntry, FeedLink, read_feed, write_feed
from aggregator.digest.model import ChangeEvent, Digest, DigestArticle, DigestInputError, RunInfo
from aggregator.digest.output import write_digest
from aggregator.digest.render_html import render_html
from aggregator.digest.render_json import digest_to_dict, render_json
from aggregator.digest.render_markdown import render_markdown

__all__ = [
    "ChangeEvent",
    "Digest",
    "DigestArticle",
    "DigestInputError",
    "FeedEntry",
    "FeedLink",
    "RunInfo",
    "build_digest",
    "digest_to_dict",
    "read_feed",
    "render_html",
    "render_json",
    "render_markdown",
    "write_digest",
    "write_feed",
]
