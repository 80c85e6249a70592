"""Tests for aggregator.pubmed.xml on synthetic fixtures (tests/fixtures/parser/)."""

from __future__ import annotations

import datetime as dt
import io
import time
import tracemalloc
from pathlib import Path

import pytest

from aggregator.article import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    DeletedCitations,
    Grant,
    MeshHeading,
    MeshQualifier,
)
from aggregator.errors import ParseError
from aggregator.pubmed.fields import month_number, parse_medline_date
from aggregator.pubmed.xml import iter_pubmed_xml, parse_pubmed_xml

FIXTURES = Path(__file__).parent / "fixtures" / "parser"


def parse_fixture(name: str) -> list[Article | DeletedCitations]:
    return list(iter_pubmed_xml(FIXTURES / name))


def only_article(name: str) -> Article:
    (item,) = parse_fixture(name)
    assert isinstance(item, Article)
    return item


def minimal(pmid: int, title: str, **fields: object) -> Article:
    """The Article a fixture record built from the shared minimal template gives."""
    defaults: dict[str, object] = {
        "journal_title": "Invented Journal",
        "journal_iso": "Invented J",
        "status": "MEDLINE",
        "publication_status": "ppublish",
        "pub_year": 2024,
    }
    defaults.update(fields)
    return Article(pmid=pmid, title=title, **defaults)  # type: ignore[arg-type]


STRUCTURED = Article(
    pmid=99000001,
    pmid_version=2,
    title="Magnesium glycinate versus magnesium oxide for migraine prevention: a synthetic trial.",
    abstract=(
        "BACKGROUND: Invented background sentence.\n\n"
        "METHODS: Invented participants took an invented dose.\n\n"
        "RESULTS: Nothing real was measured.\n\n"
        "CONCLUSIONS: This record is synthetic."
    ),
    abstract_sections=(
        AbstractSection("Invented background sentence.", "BACKGROUND", "BACKGROUND"),
        AbstractSection("Invented participants took an invented dose.", "METHODS", "METHODS"),
        AbstractSection("Nothing real was measured.", "RESULTS", "RESULTS"),
        AbstractSection("This record is synthetic.", "CONCLUSIONS", "CONCLUSIONS"),
    ),
    journal_title="Journal of Invented Headache Research",
    journal_iso="J Invented Headache Res",
    volume="12",
    issue="3",
    pages="100-110",
    pub_year=2024,
    pub_month=1,
    pub_day=5,
    article_date=dt.date(2023, 12, 20),
    entrez_date=dt.date(2023, 12, 21),
    revised_date=dt.date(2024, 3, 14),
    completed_date=dt.date(2024, 2, 3),
    status="MEDLINE",
    publication_status="ppublish",
    authors=(
        Author(
            last_name="Fakename",
            fore_name="Alice B",
            initials="AB",
            affiliations=(
                "Department of Invented Neurology, Example University, Nowhere.",
                "Institute of Placeholder Studies, Nowhere.",
            ),
            orcid="0000-0000-0000-0001",
        ),
        Author(last_name="de Testcase", fore_name="Bob", initials="B", orcid="0000-0000-0000-002X"),
    ),
    languages=("eng", "ger"),
    publication_types=("Journal Article", "Randomized Controlled Trial"),
    mesh_headings=(
        MeshHeading("Humans", "D006801", False),
        MeshHeading(
            "Magnesium",
            "D008274",
            False,
            (
                MeshQualifier("administration & dosage", "Q000008", False),
                MeshQualifier("therapeutic use", "Q000627", True),
            ),
        ),
        MeshHeading("Migraine Disorders", "D008881", True),
    ),
    chemicals=(
        Chemical("Magnesium Oxide", "I38ZP9992A", "D008276"),
        Chemical("magnesium glycinate", "0", "C000001"),
    ),
    keywords=("magnesium glycinate", "migraine"),
    grants=(Grant("X01 XX000001", "Invented Agency", "Nowhere"),),
    comments_corrections=(
        CommentCorrection("CommentIn", 99000101, "J Invented Headache Res. 2024;12(4):200"),
        CommentCorrection("Cites", None, "Invented Rev. 2020;1:1-9"),
    ),
    doi="10.99999/synthetic.99000001",
    pmc_id="PMC9900001",
    pii="S9999-0001(24)00001-X",
    issn="0000-0001",
)


def test_structured_record_gives_every_field() -> None:
    assert only_article("structured.xml") == STRUCTURED


def test_raw_xml_is_the_record_element() -> None:
    article = only_article("structured.xml")
    assert article.raw_xml.startswith("<PubmedArticle><MedlineCitation Status=")
    assert article.raw_xml.endswith("</PubmedArticle>")
    assert parse_pubmed_xml(article.raw_xml.encode()) == [STRUCTURED]


def test_inline_markup_and_mathml_keep_text_exactly() -> None:
    assert only_article("markup.xml") == minimal(
        99000010,
        "Variants at theTERTgene and H2O-bound Mg2+ in bold and underlined text.",
        abstract=(
            "Serum magnesium rose by 10-3 mol·L-1 (P < 0.05) in LEmin runners; the maximal "
            "oxygen uptake ( V2max ) was unchanged. Text after nested bold italics, still kept."
        ),
        abstract_sections=(
            AbstractSection(
                "Serum magnesium rose by 10-3 mol·L-1 (P < 0.05) in LEmin runners; the maximal "
                "oxygen uptake ( V2max ) was unchanged. Text after nested bold italics, still kept."
            ),
        ),
    )


def test_publication_dates() -> None:
    dates = [
        (a.pmid, a.pub_year, a.pub_month, a.pub_day, a.medline_date, a.revised_date)
        for a in parse_fixture("dates.xml")
        if isinstance(a, Article)
    ]
    assert dates == [
        (99000020, 1998, 12, None, "1998 Dec-1999 Jan", None),
        (99000021, 2001, 6, None, None, None),
        (99000022, 2002, 7, 9, None, None),
        (99000023, 2003, None, None, "2003-2004", None),
        (99000024, 2005, 1, None, "2005 Winter-Spring", None),
        (99000025, None, None, None, "Undated", None),
        (99000026, 2006, 2, None, None, None),  # "Feb 30" keeps year and month only
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dec", 12),
        ("december", 12),
        ("07", 7),
        ("13", None),
        ("Spring", 3),
        ("Autumn", 9),
        ("Winter", 1),
        ("Sept", 9),
        ("", None),
        (None, None),
        ("Xyz", None),
    ],
)
def test_month_number(text: str | None, expected: int | None) -> None:
    assert month_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1998 Dec-1999 Jan", (1998, 12, None)),
        ("2000 Nov-Dec", (2000, 11, None)),
        ("2001 Jan 5-11", (2001, 1, 5)),
        ("1999-2000", (1999, None, None)),
        ("2004 Fall", (2004, 9, None)),
        ("n.d.", (None, None, None)),
    ],
)
def test_parse_medline_date(text: str, expected: tuple[int | None, ...]) -> None:
    assert parse_medline_date(text) == expected


def test_book_articles() -> None:
    assert parse_fixture("book.xml") == [
        Article(
            pmid=99000090,
            title="Magnesium in headache care",
            kind="book",
            abstract="INTRODUCTION: An invented chapter.",
            abstract_sections=(AbstractSection("An invented chapter.", "INTRODUCTION"),),
            pub_year=2020,
            pub_month=4,
            entrez_date=dt.date(2020, 4, 15),
            revised_date=dt.date(2021, 5, 6),
            publication_status="ppublish",
            authors=(Author(last_name="Chapterwriter", fore_name="Gus", initials="G"),),
            languages=("eng",),
            publication_types=("Review",),
            doi="10.99999/book.1",
        ),
        Article(
            pmid=99000091,
            title="Invented Whole Book",
            kind="book",
            pub_year=2019,
            authors=(Author(last_name="Bookauthor", initials="H"),),
        ),
    ]


def test_delete_citation_follows_articles() -> None:
    assert parse_fixture("delete.xml") == [
        minimal(99000070, "Kept article."),
        DeletedCitations(pmids=(99000071, 99000072)),
    ]
    assert parse_pubmed_xml((FIXTURES / "delete.xml").read_bytes()) == [
        minimal(99000070, "Kept article.")
    ]


def test_retraction_notice_and_retracted_article() -> None:
    notice, retracted = parse_fixture("retraction.xml")
    assert notice == minimal(
        99000030,
        "Retraction: Magnesium citrate and invented outcomes.",
        publication_types=("Retraction of Publication",),
        comments_corrections=(
            CommentCorrection("RetractionOf", 99000031, "Invented J. 2023;5:10-19"),
        ),
    )
    assert retracted == minimal(
        99000031,
        "Magnesium citrate and invented outcomes.",
        publication_types=("Journal Article", "Retracted Publication"),
        comments_corrections=(CommentCorrection("RetractionIn", 99000030, "Invented J. 2024;6:1"),),
    )
    assert isinstance(notice, Article) and isinstance(retracted, Article)
    assert (notice.is_retracted, notice.retracts) == (False, (99000031,))
    assert (retracted.is_retracted, retracted.retracts) == (True, ())


def test_in_process_record_without_mesh_or_types() -> None:
    assert only_article("in_process.xml") == minimal(
        99000040,
        "An in-process record with no indexing yet.",
        status="In-Process",
        pub_year=2025,
        pub_month=3,
        authors=(Author(last_name="Nobody", initials="N"),),
    )


def test_non_ascii_and_character_references() -> None:
    assert only_article("nonascii.xml") == minimal(
        99000050,
        "Magnésium et migraine : étude synthétique – β-blockers vs Mg²⁺",
        vernacular_title="Magnésium et migraine.",
        abstract="Gruppe Müller-Lüdenscheidt, naïve café μg & <5 mg, 日本語.",
        abstract_sections=(
            AbstractSection("Gruppe Müller-Lüdenscheidt, naïve café μg & <5 mg, 日本語."),
        ),
        authors=(
            Author(
                last_name="Ñandú-Øster",
                fore_name="Zoë",
                initials="Z",
                affiliations=("Université d’Exemple, Île-Imaginaire.",),
            ),
        ),
        languages=("fre",),
    )


def test_collective_name_author() -> None:
    assert only_article("collective.xml").authors == (
        Author(last_name="Placeholder", fore_name="Dana", initials="D"),
        Author(collective_name="Invented Migraine Magnesium Consortium"),
    )


def test_empty_set_yields_nothing() -> None:
    assert parse_fixture("empty.xml") == []
    assert list(iter_pubmed_xml(b"<PubmedArticleSet></PubmedArticleSet>")) == []


def test_legacy_medline_citation_set() -> None:
    assert parse_fixture("legacy.xml") == [
        Article(
            pmid=99000080,
            title="Legacy format record.",
            journal_title="Invented Journal",
            journal_iso="Invented J",
            volume="3",
            pub_year=2015,
            pub_month=10,
            status="PubMed-not-MEDLINE",
            authors=(
                Author(
                    last_name="Oldstyle",
                    fore_name="Eve",
                    initials="E",
                    affiliations=("Invented Archive, Nowhere.",),
                ),
            ),
            languages=("eng",),
            doi="10.99999/legacy.1",
        ),
        DeletedCitations(pmids=(99000081,)),
    ]


def test_accepts_bytes_text_path_and_binary_stream() -> None:
    path = FIXTURES / "structured.xml"
    data = path.read_bytes()
    assert list(iter_pubmed_xml(data)) == [STRUCTURED]
    assert list(iter_pubmed_xml(data.decode("utf-8").replace(' encoding="UTF-8"', ""))) == [
        STRUCTURED
    ]
    assert list(iter_pubmed_xml(str(path))) == [STRUCTURED]
    assert list(iter_pubmed_xml(io.BytesIO(data))) == [STRUCTURED]


# --- errors and hostile input ------------------------------------------------------------


def parse_error(data: bytes, source_name: str = "efetch reply") -> str:
    with pytest.raises(ParseError) as caught:
        list(iter_pubmed_xml(data, source_name=source_name))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_truncated_xml_names_source_and_line() -> None:
    data = (FIXTURES / "delete.xml").read_bytes()
    truncated = data[: data.index(b"<DeleteCitation>") + 30]
    message = parse_error(truncated)
    assert message.startswith("efetch reply: malformed XML at line 6: ")


def test_mismatched_tag_names_file() -> None:
    message = parse_error(
        b"<PubmedArticleSet>\n<PubmedArticle>\n<MedlineCitation></Wrong>\n", "batch-3.xml"
    )
    assert message.startswith("batch-3.xml: malformed XML at line 3: ")
    assert "Wrong" in message


def test_missing_file_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"^.*missing\.xml: cannot read file"):
        list(iter_pubmed_xml(tmp_path / "missing.xml"))


@pytest.mark.parametrize("data", [b"", b"   \n", b"Error: service unavailable"])
def test_empty_or_non_xml_input(data: bytes) -> None:
    assert parse_error(data) == "efetch reply: no XML document found (empty input or not XML)"


def test_other_eutils_reply_is_refused() -> None:
    assert parse_error(b"<eSearchResult><Count>0</Count></eSearchResult>") == (
        "efetch reply: not PubMed XML: root element is <eSearchResult>, "
        "expected <PubmedArticleSet> or <MedlineCitationSet>"
    )


def test_non_numeric_pmid_names_line() -> None:
    message = parse_error(
        b"<PubmedArticleSet>\n<PubmedArticle><MedlineCitation><PMID>abc</PMID>"
        b"</MedlineCitation></PubmedArticle></PubmedArticleSet>"
    )
    assert message == "efetch reply: bad <PubmedArticle> at line 2: PMID 'abc' is not a number"


def test_invalid_utf8_is_a_parse_error() -> None:
    message = parse_error(
        b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>99000001</PMID>"
        b"<Article><ArticleTitle>caf\xe9</ArticleTitle></Article>"
        b"</MedlineCitation></PubmedArticle></PubmedArticleSet>"
    )
    assert message.startswith("efetch reply: malformed XML at line 1: ")


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>99000001</PMID><Article>
<ArticleTitle>leak: &secret;</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>"""


def test_external_entity_is_refused_and_not_read() -> None:
    message = parse_error(XXE)
    assert message.startswith("efetch reply: refused: the document declares its own XML entities")
    assert "root:" not in message


def billion_laughs(levels: int = 10) -> bytes:
    declarations = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, levels)
    ]
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [{"".join(declarations)}]>\n'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>99000001</PMID><Article>"
        f"<ArticleTitle>&lol{levels - 1};</ArticleTitle></Article></MedlineCitation>"
        "</PubmedArticle></PubmedArticleSet>"
    ).encode()


def test_billion_laughs_is_refused_quickly_without_expanding() -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = parse_error(billion_laughs())
    finally:
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert message.startswith("efetch reply: refused")
    # 10**9 "lol"s would be gigabytes; refusing before expansion stays tiny and instant.
    assert peak < 5 * 2**20
    assert elapsed < 2.0


def test_unused_entity_declaration_is_still_refused() -> None:
    # The check is on the declaration, not on whether an expansion happened.
    data = XXE.replace(b"leak: &secret;", b"harmless")
    assert parse_error(data).startswith("efetch reply: refused")


def test_memory_does_not_grow_with_batch_size() -> None:
    record = (FIXTURES / "structured.xml").read_text(encoding="utf-8")
    body = record[record.index("<PubmedArticle>") : record.index("</PubmedArticleSet>")]

    def peak_for(count: int) -> int:
        data = ("<PubmedArticleSet>" + body * count + "</PubmedArticleSet>").encode()
        tracemalloc.start()
        try:
            for _ in iter_pubmed_xml(io.BytesIO(data)):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak_for(50), peak_for(400)
    assert large < small * 1.5 + 64 * 1024
