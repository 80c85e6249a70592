"""Files a user hands the aggregator: PubMed XML or MEDLINE text, optionally gzipped, told
apart by their content (not their name), and read record by record."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from aggregator.article import Article, DeletedCitations
from aggregator.errors import ParseError
from aggregator.pubmed.fields import open_binary
from aggregator.pubmed.medline import iter_medline
from aggregator.pubmed.xml import iter_pubmed_xml


def detect_format(path: str | os.PathLike[str]) -> str:
    """Return "pubmed-xml" or "medline", judged by the file's content (gzip is looked through)."""
    name = os.fspath(path)
    try:
        with open_binary(name, name) as stream:
            head = stream.read(4096)
    except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
        raise ParseError(f"{name}: cannot read file: {exc}") from None
    if not head:
        raise ParseError(f"{name}: file is empty")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text:
        raise ParseError(f"{name}: file holds only whitespace")
    if text.startswith(b"<"):
        return "pubmed-xml"
    if text.startswith(b"PMID-"):
        return "medline"
    if text[:1] in (b"\xfe", b"\xff") or b"\x00" in text[:64]:
        raise ParseError(f"{name}: not UTF-8 text (looks like UTF-16 or binary)")
    raise ParseError(
        f"{name}: unrecognised format: expected PubMed XML or MEDLINE text starting with 'PMID-'"
    )


def iter_file(
    path: str | os.PathLike[str], *, on_bad_record: Callable[[str], None] | None = None
) -> Iterator[Article | DeletedCitations]:
    """Parse a PubMed XML or MEDLINE file (optionally gzipped), whichever its content is.

    A bad record fails the file unless ``on_bad_record`` is given: it is then told the record's
    one-line problem and the record is skipped.
    """
    name = os.fspath(path)
    if detect_format(name) == "medline":
        yield from iter_medline(name, on_bad_record=on_bad_record)
        return
    with open_binary(name, name) as stream:
        try:
            yield from iter_pubmed_xml(stream, source_name=name, on_bad_record=on_bad_record)
        except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
            raise ParseError(f"{name}: cannot read file: {exc}") from None
