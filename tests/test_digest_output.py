"""The digest files and Atom feed the publish job writes, and Markdown escaping. SYNTHETIC
inputs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from lxml import etree

from aggregator.digest import (
    Digest,
    DigestInputError,
    build_digest,
    digest_to_dict,
    render_formats,
    render_json,
    render_markdown,
)
from aggregator.digest.feed import FeedError, entry_id
from aggregator.jobs.publish import write_digest_files
from tests.test_digest_corpus import (
    RCT,
    W48,
    WEEKS,
    article,
    corpus_digest,
)

ATOM = "{http://www.w3.org/2005/Atom}"


def write_digest(
    digest: Digest, out_dir: Path, formats: tuple[str, ...] = ("md", "html", "json")
) -> list[Path]:
    """What the publish job writes for ``digest`` in ``formats``."""
    return write_digest_files(digest, out_dir, render_formats(digest, formats))


def parse_feed(path: Path) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.parse(str(path), parser).getroot()


def test_write_digest_writes_the_three_formats_and_the_feed(tmp_path: Path) -> None:
    paths = write_digest(corpus_digest("2026-W48"), tmp_path)
    assert [p.name for p in paths] == [
        "digest-2026-W48.md",
        "digest-2026-W48.html",
        "digest-2026-W48.json",
        "feed.xml",
    ]
    assert json.loads((tmp_path / "digest-2026-W48.json").read_text())["week"] == "2026-W48"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)


def test_feed_has_one_valid_entry_per_digest(tmp_path: Path) -> None:
    for week in WEEKS:
        write_digest(corpus_digest(week), tmp_path)
    write_digest(corpus_digest("2026-W48"), tmp_path)  # rewriting a week replaces its entry
    root = parse_feed(tmp_path / "feed.xml")
    assert root.tag == ATOM + "feed"
    for required in ("id", "title", "updated"):
        assert root.find(ATOM + required) is not None
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "mg-migraine-aggregator"
    entries = root.findall(ATOM + "entry")
    assert [e.findtext(ATOM + "title") for e in entries] == [
        f"Magnesium and migraine evidence digest, {week}" for week in reversed(WEEKS)
    ]
    assert [e.findtext(ATOM + "id") for e in entries] == [entry_id(w) for w in reversed(WEEKS)]
    assert len({e.findtext(ATOM + "id") for e in entries}) == len(WEEKS)
    w48 = entries[1]
    assert [
        (link.get("rel"), link.get("type"), link.get("href")) for link in w48.findall(ATOM + "link")
    ] == [
        ("alternate", "text/html", "digest-2026-W48.html"),
        ("alternate", "text/markdown", "digest-2026-W48.md"),
    ]
    assert w48.findtext(ATOM + "updated") == "2026-11-23T06:05:00Z"
    summary = w48.find(ATOM + "summary")
    assert summary is not None and summary.get("type") == "text"
    assert summary.text == (
        corpus_digest("2026-W48").milestones[0].text + " " + corpus_digest("2026-W48").headline.text
    )
    assert root.findtext(ATOM + "updated") == "2026-11-30T06:05:00Z"
    for entry in entries:  # RFC 3339 timestamps
        dt.datetime.strptime(entry.findtext(ATOM + "updated") or "", "%Y-%m-%dT%H:%M:%SZ")


def test_feed_links_to_markdown_when_no_html(tmp_path: Path) -> None:
    write_digest(corpus_digest("2026-W47"), tmp_path, formats=("md",))
    entry = parse_feed(tmp_path / "feed.xml").find(ATOM + "entry")
    assert entry is not None
    assert [link.get("href") for link in entry.findall(ATOM + "link")] == ["digest-2026-W47.md"]


def test_unknown_format_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DigestInputError) as info:
        write_digest(corpus_digest("2026-W48"), tmp_path, formats=("md", "pdf"))
    assert str(info.value) == "unknown digest format 'pdf'; valid formats: md, html, json"
    assert list(tmp_path.iterdir()) == []


def test_broken_feed_file_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_text("<feed><entry>", encoding="utf-8")
    with pytest.raises(FeedError, match=r"feed\.xml is not valid XML"):
        write_digest(corpus_digest("2026-W48"), tmp_path)


def test_markdown_escapes_article_text() -> None:
    hostile = article(
        99000601,
        "Mg | <script>alert(1)</script> *bold* [link](http://x) (synthetic)",
        forms=("glycinate",),
        study_type=RCT,
        seen=W48,
    )
    text = render_markdown(build_digest("2026-W48", [hostile], [], []))
    assert (
        "| Mg \\| \\<script\\>alert(1)\\</script\\> \\*bold\\* \\[link\\](http://x) (synthetic) |"
        in text
    )
    assert "<script>" not in text


def test_demo_markdown_first_lines() -> None:
    lines = render_markdown(corpus_digest("2026-W48", demo=True)).splitlines()
    assert lines[0] == "# Magnesium and migraine evidence digest, 2026-W48 (DEMO: synthetic data)"
    assert lines[2] == (
        "**Demo data from a synthetic corpus: these articles are invented and are not real "
        "studies.**"
    )


def test_json_is_exactly_what_the_standard_library_writes() -> None:
    awkward = article(
        99000602,
        'Mg "quoted" \\ back\tslash \x01 ctrl, é ü 中, line\u2028separator </script> (synthetic)',
        forms=("glycinate", "oxide"),
        study_type=RCT,
        seen=W48,
    )
    digest = build_digest("2026-W48", [awkward], [], [])
    expected = json.dumps(digest_to_dict(digest), indent=2, ensure_ascii=False) + "\n"
    assert render_json(digest) == expected
    assert json.loads(render_json(digest))["new_articles"][0]["title"] == awkward.title
