"""Publish a week's digest: build it from the database, render each format once, and use those
texts for the files, the Atom feed, the copy kept in the database and the e-mail.

Files are written atomically (a unique temporary file renamed over the target), so a reader
never sees half a digest and a failed write leaves the previous file in place.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from aggregator.atomic import write_atomic
from aggregator.digest import (
    Digest,
    FeedEntry,
    digest_to_dict,
    feed_entry,
    feed_xml,
    parse_feed,
)
from aggregator.digest.feed import FEED_FILE
from aggregator.digest.output import RENDERERS, check_formats, digest_file_name
from aggregator.errors import AggregatorError
from aggregator.jobs.delivery import DeliveryReceipt, SmtpSettings, send_digest
from aggregator.store.digest_reader import load_digest_inputs
from aggregator.store.digests import save_digest
from aggregator.store.engine import new_session
from aggregator.tagging import tag_article
from aggregator.timeutil import Clock, utc_now

logger = logging.getLogger("aggregator.publish")

FORMATS: tuple[str, ...] = tuple(RENDERERS)  # md, html, json
MAIL_FORMATS = ("md", "html")  # the e-mail's plain-text and HTML parts


class DigestWriteError(AggregatorError):
    """The digest files could not be written; the message names the folder and the reason.
    Nothing is left behind (no temporary file) and the previous files are intact."""


@dataclass(frozen=True, slots=True)
class BuiltDigest:
    """A week's digest and whether the database held any harvested data to build it from."""

    digest: Digest
    empty_database: bool


@dataclass(frozen=True, slots=True)
class Published:
    """What :func:`publish_digest` did."""

    week: str
    paths: list[Path]  # the digest files, then feed.xml
    empty_database: bool
    emailed: DeliveryReceipt | None


def build_weekly_digest(engine: Engine, week: str, *, demo: bool | None = None) -> BuiltDigest:
    """The digest of ISO ``week`` from the database, as known at the end of that week
    (``demo`` overrides whether it is marked as demo data)."""
    inputs = load_digest_inputs(engine, week, retag=tag_article)
    empty = not inputs.stored_articles and not inputs.runs
    return BuiltDigest(inputs.build(demo=demo), empty)


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """One format of a week's digest, and whether the database held any harvested data."""

    text: str
    empty_database: bool


def render_digest(
    engine: Engine, week: str, fmt: str, *, demo: bool | None = None
) -> RenderedDigest:
    """One format of a week's digest as text (``digest --stdout``)."""
    (fmt,) = check_formats((fmt,))
    built = build_weekly_digest(engine, week, demo=demo)
    return RenderedDigest(RENDERERS[fmt][0](built.digest), built.empty_database)


def publish_digest(
    engine: Engine,
    week: str,
    *,
    out_dir: Path,
    formats: Sequence[str] = FORMATS,
    demo: bool | None = None,
    smtp: SmtpSettings | None = None,
    clock: Clock = utc_now,
) -> Published:
    """Build ``week``'s digest, write it in ``formats`` to ``out_dir`` with the feed, keep each
    format in the database and, when ``smtp`` is set, e-mail it."""
    formats = check_formats(formats)
    built = build_weekly_digest(engine, week, demo=demo)
    wanted = (*formats, *MAIL_FORMATS) if smtp is not None else formats
    texts = {fmt: RENDERERS[fmt][0](built.digest) for fmt in dict.fromkeys(wanted)}
    failure: DigestWriteError | None = None
    try:
        paths = write_digest_files(built.digest, out_dir, {fmt: texts[fmt] for fmt in formats})
    except OSError as exc:
        # The files cannot be written (folder missing, read-only, disk full): the digest is
        # still kept and mailed, then the failure is raised.
        failure = DigestWriteError(f"cannot write the digest to {out_dir}: {_reason(exc)}")
        paths = []
    _keep_in_database(engine, built.digest, {fmt: texts[fmt] for fmt in formats}, clock)
    receipt = None
    if smtp is not None:
        receipt = send_digest(smtp, built.digest.title, texts["md"], texts["html"])
        logger.info("digest emailed: %s", receipt)
    if failure is not None:
        raise failure
    return Published(week=week, paths=paths, empty_database=built.empty_database, emailed=receipt)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def write_digest_files(digest: Digest, out_dir: Path, texts: dict[str, str]) -> list[Path]:
    """Write the rendered ``texts`` (format -> text) of ``digest`` to ``out_dir`` and put its
    entry in feed.xml (replacing the week's earlier entry); return the paths written."""
    check_formats(tuple(texts))
    out_dir = Path(out_dir)
    written = [
        write_atomic(out_dir / digest_file_name(digest.week, fmt), text)
        for fmt, text in texts.items()
    ]
    present = [fmt for fmt in RENDERERS if (out_dir / digest_file_name(digest.week, fmt)).exists()]
    feed_path = out_dir / FEED_FILE
    others = [entry for entry in read_feed_file(feed_path) if entry.week != digest.week]
    written.append(write_atomic(feed_path, feed_xml([*others, feed_entry(digest, present)])))
    return written


def read_feed_file(path: Path) -> list[FeedEntry]:
    """The entries of an existing feed.xml (none when there is no file yet).

    A link at ``path`` is not followed (it could make the feed copy another file): the feed
    is started afresh and the new one replaces the link."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return []
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        logger.warning("%s is a symbolic link: not followed; a new feed replaces it", path)
        return []
    with os.fdopen(fd, "rb") as handle:
        data = handle.read()
    return parse_feed(data, str(path))


def _keep_in_database(engine: Engine, digest: Digest, texts: dict[str, str], clock: Clock) -> None:
    summary = digest_to_dict(digest)["headline"]
    with new_session(engine) as session:
        now = clock()
        for fmt, text in texts.items():
            save_digest(
                session, iso_week=digest.week, fmt=fmt, content=text, summary=summary, now=now
            )
        session.commit()
