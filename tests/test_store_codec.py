"""The store's content hash and JSON column values do not depend on how they are computed.

``columns_and_hash`` converts an article with orjson. A stored database keeps hashes
computed by the earlier formula (``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)`` over ``plain`` values; migration 0002 backfills the same): if
the two ever differed, every stored article would look revised on its next fetch. These
tests compare both on every record of the SYNTHETIC fixture corpus (base and timeline) and on
articles with awkward text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from aggregator.article import Article, Author, CommentCorrection
from aggregator.pubmed.fake import load_base_records, render_record
from aggregator.pubmed.fake.corpus import load_timeline
from aggregator.pubmed.xml import parse_pubmed_xml
from aggregator.store.codec import (
    ARTICLE_FIELDS,
    HASHED_WHEN_SET,
    JSON_FIELDS,
    UNHASHED_FIELDS,
    columns_and_hash,
    plain,
)
from tests.plugins.databases import make_article

AWKWARD = (
    'quote " backslash \\ tab \t newline \n return \r nul-free \x01 \x1f \x7f',
    "é ü ß 中文 😀 \u2028 \u2029 \ufeff </script> &amp; <b>",
    "",
)


def reference_hash(article: Article) -> str:
    """The formula stored hashes were computed with."""
    hashed = {
        name: plain(getattr(article, name))
        for name in ARTICLE_FIELDS
        if name not in UNHASHED_FIELDS
        and not (name in HASHED_WHEN_SET and getattr(article, name) is None)
    }
    text = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def corpus_articles() -> list[Article]:
    records = list(load_base_records())
    records += [event.record for event in load_timeline()]
    return [a for r in records for a in parse_pubmed_xml(render_record(r).encode("utf-8"))]


def awkward_articles() -> list[Article]:
    base = make_article()
    return [
        dataclasses.replace(
            base,
            pmid=99000700 + index,
            title=text or "untitled",
            abstract=text,
            authors=(Author(last_name=text or None, fore_name="Q", affiliations=(text,)),),
            keywords=(text, "plain"),
            comments_corrections=(CommentCorrection("CommentIn", None, text),),
            pub_day=None,
        )
        for index, text in enumerate(AWKWARD)
    ]


@pytest.mark.parametrize("source", ["corpus", "awkward"])
def test_hash_and_json_columns_match_the_reference_formula(source: str) -> None:
    articles = corpus_articles() if source == "corpus" else awkward_articles()
    assert len(articles) >= 3
    for article in articles:
        columns, digest = columns_and_hash(article)
        assert digest == reference_hash(article), article.pmid
        expected = {
            name: plain(getattr(article, name)) if name in JSON_FIELDS else getattr(article, name)
            for name in ARTICLE_FIELDS
        }
        assert columns == expected, article.pmid
