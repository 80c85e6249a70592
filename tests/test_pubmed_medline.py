"""Tests for aggregator.pubmed.medline (MEDLINE export parsing, format detection, iter_file)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import io
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
from aggregator.pubmed.files import detect_format, iter_file
from aggregator.pubmed.medline import iter_medline, split_abstract
from aggregator.pubmed.xml import iter_pubmed_xml

FIXTURES = Path(__file__).parent / "fixtures" / "parser"


def test_medline_record_gives_every_field() -> None:
    (article,) = iter_medline(FIXTURES / "structured.txt")
    assert article == Article(
        pmid=99000001,
        title=(
            "Magnesium glycinate versus magnesium oxide for migraine prevention: a synthetic trial."
        ),
        abstract=(
            "BACKGROUND: Invented background sentence.\n\n"
            "METHODS: Invented participants took an invented dose.\n\n"
            "RESULTS: Nothing real was measured.\n\n"
            "CONCLUSIONS: This record is synthetic."
        ),
        abstract_sections=(
            AbstractSection("Invented background sentence.", "BACKGROUND"),
            AbstractSection("Invented participants took an invented dose.", "METHODS"),
            AbstractSection("Nothing real was measured.", "RESULTS"),
            AbstractSection("This record is synthetic.", "CONCLUSIONS"),
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
            Author(
                last_name="de Testcase", fore_name="Bob", initials="B", orcid="0000-0000-0000-002X"
            ),
        ),
        languages=("eng", "ger"),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
        mesh_headings=(
            MeshHeading("Humans"),
            MeshHeading(
                "Magnesium",
                qualifiers=(
                    MeshQualifier("administration & dosage"),
                    MeshQualifier("therapeutic use", major=True),
                ),
            ),
            MeshHeading("Migraine Disorders", major=True),
        ),
        chemicals=(
            Chemical("Magnesium Oxide", "I38ZP9992A"),
            Chemical("magnesium glycinate", "0"),
        ),
        keywords=("magnesium glycinate", "migraine"),
        grants=(Grant("X01 XX000001", "Invented Agency", "Nowhere"),),
        comments_corrections=(
            CommentCorrection("CommentIn", 99000101, "J Invented Headache Res. 2024;12(4):200"),
        ),
        doi="10.99999/synthetic.99000001",
        pmc_id="PMC9900001",
        pii="S9999-0001(24)00001-X",
        issn="0000-0001",
        source_format="medline",
    )
    assert article.raw_xml == (FIXTURES / "structured.txt").read_text(encoding="utf-8").strip()


def without_xml_only_detail(article: Article) -> Article:
    """What MEDLINE text cannot carry: UIs, NLM categories, PMID version, Cites references."""
    return dataclasses.replace(
        article,
        pmid_version=1,
        source_format="-",
        abstract_sections=tuple(
            dataclasses.replace(s, category=None) for s in article.abstract_sections
        ),
        mesh_headings=tuple(
            dataclasses.replace(
                h,
                ui=None,
                qualifiers=tuple(dataclasses.replace(q, ui=None) for q in h.qualifiers),
            )
            for h in article.mesh_headings
        ),
        chemicals=tuple(dataclasses.replace(c, ui=None) for c in article.chemicals),
        comments_corrections=tuple(
            c for c in article.comments_corrections if c.ref_type != "Cites"
        ),
    )


def test_xml_and_medline_forms_of_one_record_agree() -> None:
    (from_xml,) = iter_pubmed_xml(FIXTURES / "structured.xml")
    (from_medline,) = iter_medline(FIXTURES / "structured.txt")
    assert isinstance(from_xml, Article)
    assert without_xml_only_detail(from_xml) == without_xml_only_detail(from_medline)


def test_several_records_wrapped_lines_and_comment_fields() -> None:
    first, second = iter_medline(FIXTURES / "several.txt")
    assert first == Article(
        pmid=99000100,
        title="First synthetic MEDLINE record with a wrapped title.",
        abstract="An unlabelled abstract. It mentions a trial. CI: 1.2 is not a label.",
        abstract_sections=(
            AbstractSection("An unlabelled abstract. It mentions a trial. CI: 1.2 is not a label."),
        ),
        pub_year=1998,
        pub_month=12,
        medline_date="1998 Dec-1999 Jan",
        entrez_date=dt.date(2019, 1, 2),
        status="In-Process",
        authors=(
            Author(collective_name="Invented Study Group"),
            Author(last_name="Solo", affiliations=("Invented Clinic, Nowhere.",)),
        ),
        languages=("eng",),
        chemicals=(Chemical("Anticonvulsants (invented)", "0"),),
        keywords=("a very long invented keyword that PubMed wrapped onto a second line",),
        grants=(Grant("12345", "Invented Trust", "Nowhere"),),
        comments_corrections=(
            CommentCorrection("RetractionIn", 99000123, "Invented J. 2020;1:2"),
            CommentCorrection("ErratumIn", None, "Invented J. 2020;1:3"),
            CommentCorrection("CommentOn", 99000124, "Invented Letters. 2019 Jan;3(1):4-5"),
        ),
        source_format="medline",
    )
    assert first.is_retracted
    assert second == Article(
        pmid=99000101,
        title="Second record.",
        pub_year=2001,
        pub_month=6,
        entrez_date=dt.date(2001, 7, 1),
        authors=(Author(last_name="Initialsonly", initials="AB"),),
        source_format="medline",
    )


def test_accepts_text_and_text_stream() -> None:
    text = (FIXTURES / "several.txt").read_text(encoding="utf-8")
    from_path = list(iter_medline(FIXTURES / "several.txt"))
    assert list(iter_medline(text)) == from_path
    assert list(iter_medline(io.StringIO(text))) == from_path
    assert list(iter_medline(text.replace("\n", "\r\n"))) == from_path


@pytest.mark.parametrize(
    ("text", "sections"),
    [
        ("", ()),
        ("Plain text. HR: 0.5 here.", (AbstractSection("Plain text. HR: 0.5 here."),)),
        (
            "AIM: One. MATERIALS AND METHODS: Two, three.",
            (
                AbstractSection("One.", "AIM"),
                AbstractSection("Two, three.", "MATERIALS AND METHODS"),
            ),
        ),
    ],
)
def test_split_abstract(text: str, sections: tuple[AbstractSection, ...]) -> None:
    assert split_abstract(text) == sections


def test_line_that_is_not_a_field_names_source_and_line() -> None:
    with pytest.raises(ParseError) as caught:
        list(
            iter_medline(
                "PMID- 99000001\nTI  - Title.\nthis is not a field\n", source_name="x.nbib"
            )
        )
    assert str(caught.value) == "x.nbib: line 3 is not a MEDLINE field: 'this is not a field'"


def test_record_without_pmid() -> None:
    with pytest.raises(ParseError, match=r"^MEDLINE text: record at line 3 has no numeric PMID$"):
        list(iter_medline(io.StringIO("PMID- 99000001\n\nTI  - Orphan title.\n")))


# --- detect_format / iter_file -------------------------------------------------------------


def test_detect_format_by_content_not_extension(tmp_path: Path) -> None:
    xml_named_txt = tmp_path / "export.txt"
    xml_named_txt.write_bytes((FIXTURES / "delete.xml").read_bytes())
    medline_named_xml = tmp_path / "export.xml"
    medline_named_xml.write_bytes(b"\xef\xbb\xbf\n" + (FIXTURES / "several.txt").read_bytes())
    assert detect_format(xml_named_txt) == "pubmed-xml"
    assert detect_format(medline_named_xml) == "medline"
    assert [a.pmid for a in iter_file(medline_named_xml) if isinstance(a, Article)] == [
        99000100,
        99000101,
    ]
    assert list(iter_file(xml_named_txt))[-1] == DeletedCitations(pmids=(99000071, 99000072))


def test_iter_file_reads_gzip(tmp_path: Path) -> None:
    packed = tmp_path / "update.xml.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "retraction.xml").read_bytes()))
    assert list(iter_file(packed)) == list(iter_pubmed_xml(FIXTURES / "retraction.xml"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "{name}: file is empty"),
        (b" \n\n", "{name}: file holds only whitespace"),
        (
            b"TY  - JOUR\nTI  - An RIS file\n",
            "{name}: unrecognised format: expected PubMed XML or MEDLINE text",
        ),
        (b"\xff\xfeP\x00M\x00", "{name}: not UTF-8 text (looks like UTF-16 or binary)"),
        (b"PMID- 99000001\nTI  - caf\xe9\n", "{name}: line 2 is not valid UTF-8"),
        (
            b"<PubmedArticleSet><PubmedArticle><MedlineCitation>",
            "{name}: malformed XML at line 1: ",
        ),
    ],
)
def test_iter_file_errors_name_the_file(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "input.dat"
    path.write_bytes(content)
    with pytest.raises(ParseError) as caught:
        list(iter_file(path))
    assert str(caught.value).startswith(expected.format(name=path))


def test_truncated_gzip_is_a_parse_error(tmp_path: Path) -> None:
    packed = gzip.compress((FIXTURES / "structured.xml").read_bytes() * 1)
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ParseError, match=rf"^{path}: "):
        list(iter_file(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match=r"nope\.txt: cannot read file"):
        detect_format(tmp_path / "nope.txt")
