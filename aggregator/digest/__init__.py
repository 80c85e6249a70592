"""Weekly digest: a pure computation over plain inputs plus Markdown, HTML, JSON and Atom output.

Usage: ``render_markdown(build_digest("2026-W48", articles, changes, runs))``; the publish job
(:mod:`aggregator.jobs.publish`) writes the files and the feed.
"""

from __future__ import annotations

from aggregator.digest.compute import build_digest
from aggregator.digest.feed import FeedEntry, FeedLink, feed_xml, parse_feed
from aggregator.digest.model import (
    ChangeEvent,
    Digest,
    DigestArticle,
    DigestInputError,
    DigestTrial,
    RegistryInputs,
    RegistrySearchRun,
    RunInfo,
    TrialPublication,
    TrialStatusPoint,
)
from aggregator.digest.output import feed_entry, render_formats
from aggregator.digest.render_html import render_html
from aggregator.digest.render_json import digest_to_dict, render_json
from aggregator.digest.render_markdown import render_markdown

__all__ = [
    "ChangeEvent",
    "Digest",
    "DigestArticle",
    "DigestInputError",
    "DigestTrial",
    "FeedEntry",
    "FeedLink",
    "RegistryInputs",
    "RegistrySearchRun",
    "RunInfo",
    "TrialPublication",
    "TrialStatusPoint",
    "build_digest",
    "digest_to_dict",
    "feed_entry",
    "feed_xml",
    "parse_feed",
    "render_html",
    "render_json",
    "render_markdown",
    "render_formats",
]
