"""Tests for the fake NCBI E-utilities server and the synthetic corpus it ships."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from Bio import Entrez, Medline
from lxml import etree

from aggregator.pubmed.fake import (
    BASE_TODAY,
    FakeEutils,
    FakeEutilsError,
    PubmedRecord,
    corpus_dir,
    load_base_records,
    load_timeline,
    render_record,
)

Factory = Callable[..., FakeEutils]
PUBMED_DOCTYPE = (
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">'
)


def parse_xml(content: bytes) -> etree._Element:
    """Parse a reply without DTD loading, entity expansion or network access."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(content, parser)


def get(fake: FakeEutils, endpoint: str, **params: Any) -> requests.Response:
    return requests.get(f"{fake.url}{endpoint}.fcgi", params=params, timeout=10)


def esearch(fake: FakeEutils, term: str, **params: Any) -> etree._Element:
    reply = get(fake, "esearch", db="pubmed", term=term, retmax=params.pop("retmax", 500), **params)
    assert reply.status_code == 200
    return parse_xml(reply.content)


def ids(fake: FakeEutils, term: str, **params: Any) -> set[int]:
    root = esearch(fake, term, **params)
    assert root.find("ERROR") is None, root.findtext("ERROR")
    return {int(x) for x in texts(root, "IdList/Id/text()")}


def texts(root: etree._Element, expression: str) -> list[str]:
    """String results of an XPath expression."""
    result = root.xpath(expression)
    assert isinstance(result, list)
    return [str(item) for item in result]


def error_text(fake: FakeEutils, term: str, **params: Any) -> str | None:
    return esearch(fake, term, **params).findtext("ERROR")


# --- corpus -------------------------------------------------------------------------------------


def test_corpus_has_60_unique_synthetic_pmids_and_every_file_says_synthetic() -> None:
    records = load_base_records()
    pmids = [r.pmid for r in records]
    assert len(pmids) >= 60
    assert len(set(pmids)) == len(pmids)
    assert min(pmids) >= 99000000
    for path in (corpus_dir() / "base").glob("*.xml"):
        assert "SYNTHETIC TEST DATA" in path.read_text(encoding="utf-8")[:400], path
    for path in (corpus_dir() / "timeline").rglob("*.xml"):
        assert "SYNTHETIC TEST DATA" in path.read_text(encoding="utf-8")[:400], path
    assert all(e.record.pmid >= 99000000 for e in load_timeline())


FORM_WORDS = {
    "glycinate": r"\bglycinate\b",
    "bisglycinate": r"\bbisglycinate\b",
    "glycine chelate": r"glycine chelate",
    "oxide": r"magnesium oxide",
    "citrate": r"magnesium citrate",
    "sulfate": r"magnesium sulfate",
    "sulphate": r"magnesium sulphate",
    "chloride": r"magnesium chloride",
    "pidolate": r"magnesium pidolate",
    "aspartate": r"magnesium aspartate",
    "lactate": r"magnesium lactate",
    "malate": r"magnesium malate",
    "threonate": r"magnesium l-threonate",
    "taurate": r"magnesium taurate",
    "carbonate": r"magnesium carbonate",
    "hydroxide": r"magnesium hydroxide",
    "orotate": r"magnesium orotate",
    "gluconate": r"magnesium gluconate",
    "dietary": r"dietary magnesium",
    "serum": r"serum (ionized )?magnesium",
    "valproate": r"magnesium valproate",
    "riboflavin+coq10": r"magnesium, riboflavin and coenzyme q10",
    "feverfew": r"feverfew, magnesium",
    "emergency department": r"intravenous magnesium sulfate.*emergency department",
    "pregnancy": r"magnesium sulfate.*pregnan",
}


@pytest.mark.parametrize("name", sorted(FORM_WORDS))
def test_corpus_covers_every_magnesium_form(name: str) -> None:
    texts = [f"{r.title} {' '.join(t for _, t in r.abstract_texts)}" for r in load_base_records()]
    pattern = re.compile(FORM_WORDS[name], re.IGNORECASE)
    assert any(pattern.search(text) for text in texts), name


STUDY_TYPE_EVIDENCE = {
    "meta_analysis": ("pt", "Meta-Analysis"),
    "systematic_review": ("pt", "Systematic Review"),
    "randomized_controlled_trial": ("pt", "Randomized Controlled Trial"),
    "nonrandomized_controlled_trial": ("pt", "Controlled Clinical Trial"),
    "single_arm_trial": ("title", "single-arm"),
    "cohort": ("title", "cohort"),
    "case_control": ("title", "case-control"),
    "cross_sectional": ("title", "cross-sectional"),
    "case_series": ("title", "case series"),
    "case_report": ("title", "case report"),
    "narrative_review": ("title", "narrative review"),
    "guideline": ("pt", "Practice Guideline"),
    "trial_protocol": ("pt", "Clinical Trial Protocol"),
    "animal_study": ("title", "in rats"),
    "in_vitro": ("title", "in vitro"),
    "editorial_or_letter": ("pt", "Letter"),
    "other": ("title", "product analysis"),
}


@pytest.mark.parametrize("study_type", sorted(STUDY_TYPE_EVIDENCE))
def test_corpus_covers_every_study_type(study_type: str) -> None:
    where, text = STUDY_TYPE_EVIDENCE[study_type]
    records = load_base_records()
    if where == "pt":
        assert any(text in (r.publication_types or ()) for r in records)
    else:
        assert any(text in r.title.lower() for r in records)


def test_corpus_special_records() -> None:
    by_pmid = {r.pmid: r for r in load_base_records()}
    assert by_pmid[99000055].kind == "book"
    assert by_pmid[99000052].medline_date == "1985 Nov-Dec"
    assert by_pmid[99000054].publication_types == ("Retraction of Publication",)
    assert [(c.ref_type, c.pmid) for c in by_pmid[99000054].comments] == [
        ("RetractionOf", 99000053)
    ]
    assert "Retracted Publication" in (by_pmid[99000053].publication_types or ())
    assert by_pmid[99000056].publication_types is None and by_pmid[99000056].mesh == ()
    assert by_pmid[99000058].title.startswith("Patient-reported outcomes after magnesium therapy")
    assert "<script>alert(1)</script>" in by_pmid[99000058].title
    assert "&lt;script&gt;" in by_pmid[99000058].title_xml
    assert "<sup>2+</sup>" in by_pmid[99000051].title_xml
    assert by_pmid[99000019].language == "fre"
    assert by_pmid[99000060].edat == dt.date(1995, 3, 1)  # late citation: EDAT = pub date
    years = {r.crdt.year for r in by_pmid.values()}
    assert min(years) < 1990 and max(years) == 2026
    assert max(r.crdt.date() for r in by_pmid.values()) < BASE_TODAY
    assert max(r.mdat for r in by_pmid.values()) < BASE_TODAY


def test_base_corpus_has_no_glycinate_migraine_trial_but_timeline_does(
    fake_ncbi: FakeEutils,
) -> None:
    trial = (
        "(glycinate*[tiab] OR bisglycinate*[tiab]) AND migraine*[tiab] "
        'AND (trial[ti] OR "randomized controlled trial"[pt])'
    )
    assert ids(fake_ncbi, trial) == set()
    assert ids(fake_ncbi, "(glycinate*[tiab] OR bisglycinate*[tiab]) AND migraine*[tiab]") == {
        99000005,  # narrative review mentioning glycinate in passing
        99000042,  # supplement label analysis
    }
    fake_ncbi.set_today(dt.date(2026, 11, 22))
    assert ids(fake_ncbi, trial) == {99100001}


def test_timeline_weeks(fake_ncbi: FakeEutils) -> None:
    events = load_timeline()
    assert [(e.week, e.record.pmid, e.is_revision_of_base) for e in events] == [
        ("2026-W47", 99100001, False),
        ("2026-W47", 99100002, False),
        ("2026-W48", 99100003, False),
        ("2026-W48", 99000056, True),
        ("2026-W48", 99100004, False),
        ("2026-W49", 99100002, True),
        ("2026-W49", 99100005, False),
        ("2026-W49", 99100006, False),
    ]
    assert fake_ncbi.applied_events == []
    applied = fake_ncbi.set_today(dt.date(2026, 11, 29))
    assert [e.record.pmid for e in applied] == [99100001, 99100002, 99100003, 99000056, 99100004]
    revised = fake_ncbi.get_record(99000056)
    assert revised.publication_types == (
        "Journal Article",
        "Randomized Controlled Trial",
        "Comparative Study",
    )
    assert revised.mdat == dt.date(2026, 11, 25)
    assert revised.crdt == dt.datetime(2026, 10, 20, 9, 0)  # create date kept
    assert "episodic migraine" in revised.title
    week48 = {"datetype": "mdat", "mindate": "2026/11/23", "maxdate": "2026/11/29"}
    assert ids(fake_ncbi, "magnesium[tiab]", **week48) == {99000056, 99100003, 99100004}
    assert ids(fake_ncbi, "2026/11/23:2026/11/29[crdt]") == {99100003, 99100004}
    fake_ncbi.set_today(dt.date(2026, 12, 6))
    assert "Retracted Publication" in (fake_ncbi.get_record(99100002).publication_types or ())
    assert ids(fake_ncbi, '"retraction of publication"[pt] AND 2026[crdt]') == {99100005}


def test_default_today_applies_timeline_up_to_that_day() -> None:
    fake = FakeEutils(today=dt.date(2026, 11, 18), rate_limit=None)
    assert [e.record.pmid for e in fake.applied_events] == [99100001]
    assert 99100002 not in fake.pmids
    assert [e.record.pmid for e in FakeEutils(today=BASE_TODAY).applied_events] == []


# --- query language ------------------------------------------------------------------------------

QUERY_CASES = [
    ("glycinate[tiab]", {99000002, 99000005, 99000042}),
    ("glycinate*[tiab]", {99000002, 99000005, 99000042}),
    ("bisglycinate[ti]", {99000001}),
    ("diglycinate[ab]", {99000004}),
    ('"glycine chelate"[tiab]', {99000003}),
    ('"glycine chelate"', {99000003}),
    ("glycine chelate[tiab]", {99000003}),
    ('"chelate glycine"[tiab]', set()),
    ("pidolate[tiab] OR aspartate[tiab]", {99000019, 99000020, 99000063}),
    ("pidolate[tiab] AND aspartate[tiab]", {99000063}),
    ("pidolate[tiab] NOT aspartate[tiab]", {99000019}),
    ("pidolate[tiab] aspartate[tiab]", {99000063}),
    ("pidolate[tiab] OR aspartate[tiab] AND 1987[dp]", {99000063}),
    ("pidolate[tiab] OR (aspartate[tiab] AND 1987[dp])", {99000019, 99000063}),
    ('"cluster headache"[majr]', {99000015}),
    (
        '"cluster headache"[mh] OR "tension-type headache"[mh]',
        {99000015, 99000020, 99000037, 99000062},
    ),
    ('"valproic acid"[nm]', {99000045}),
    ("magnesium valproate[nm]", {99000045}),
    ('"retraction of publication"[pt]', {99000054}),
    ('"retracted publication"[Publication Type]', {99000053}),
    ("fre[la]", {99000019}),
    ("french[language]", {99000019}),
    ("feverfew[tw]", {99000044}),
    ("feverfew[tiab]", {99000044}),
    ('"tanacetum parthenium"[mh]', {99000044}),
    ('"vascular headache"', {99000052}),
    ("1985[dp]", {99000052}),
    ("1995[edat]", {99000060}),
    ("2010/08/09[crdt]", {99000060}),
    ("2026/10/01:2026/11/15[crdt]", {99000056, 99000057}),
    ('"2026/10/01"[crdt] : "2026/11/15"[crdt]', {99000056, 99000057}),
    ("2026/09:2026/11[mdat]", {99000056, 99000057, 99000067}),
    ("Mg2+[tiab] AND NMDA[ti]", {99000051}),
    ('"MgSO4"[tiab]', {99000051}),
    ("script[ti]", {99000058}),
    ("99000045[pmid]", {99000045}),
]


@pytest.mark.parametrize(("term", "expected"), QUERY_CASES)
def test_query_language(fake_ncbi: FakeEutils, term: str, expected: set[int]) -> None:
    assert ids(fake_ncbi, term) == expected


def test_truncation_widens_the_match(fake_ncbi: FakeEutils) -> None:
    # "glycine" and "glycinate" start with glycin; "bisglycinate" does not.
    assert ids(fake_ncbi, "glycin*[tiab]") == {99000002, 99000003, 99000005, 99000042}
    assert ids(fake_ncbi, '"glycine chel*"[tiab]') == {99000003}


def test_unknown_phrase_is_count_zero_with_phrase_not_found(fake_ncbi: FakeEutils) -> None:
    reply = get(fake_ncbi, "esearch", db="pubmed", term="abcXYZ")
    root = parse_xml(reply.content)
    assert etree.tostring(root, encoding="unicode") == (
        "<eSearchResult><Count>0</Count><RetMax>0</RetMax><RetStart>0</RetStart><IdList/>"
        '<TranslationSet/><QueryTranslation>"abcXYZ"[All Fields]</QueryTranslation>'
        "<ErrorList><PhraseNotFound>abcXYZ</PhraseNotFound></ErrorList>"
        "<WarningList><OutputMessage>No items found.</OutputMessage></WarningList>"
        "</eSearchResult>"
    )


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("(magnesium", "Unbalanced parentheses in term: missing ')'"),
        ("magnesium)", "Unbalanced parentheses in term: unexpected ')'"),
        ("", "Empty term and query_key - nothing todo"),
        ("   ", "Empty term and query_key - nothing todo"),
        ("magnesium[xyz]", "Unknown field tag [xyz]"),
        ("AND magnesium", "Operator AND without a term before it"),
        ("magnesium AND", "Term ends with an operator or an opening parenthesis"),
        ('"magnesium', "Unbalanced quotation marks in term"),
        ("2025/13/01[crdt]", "Invalid date '2025/13/01': month must be in 1..12"),
    ],
)
def test_syntax_errors_are_http_200_error_replies(
    fake_ncbi: FakeEutils, term: str, message: str
) -> None:
    reply = get(fake_ncbi, "esearch", db="pubmed", term=term)
    assert reply.status_code == 200
    assert reply.text.splitlines()[1].startswith("<!DOCTYPE eSearchResult")
    root = parse_xml(reply.content)
    assert [child.tag for child in root] == ["ERROR"]
    assert root.findtext("ERROR") == message


def test_query_translation_and_date_params(fake_ncbi: FakeEutils) -> None:
    root = esearch(
        fake_ncbi,
        "(magnesium[tiab] OR magnesium[mh]) AND migraine*[tiab]",
        datetype="crdt",
        mindate="2026/10",
        maxdate="2026/11/15",
    )
    assert root.findtext("QueryTranslation") == (
        '(("magnesium"[Title/Abstract] OR "magnesium"[MeSH Terms]) AND '
        "migraine*[Title/Abstract]) AND 2026/10/01:2026/11/15[Date - Create]"
    )
    assert [int(x) for x in texts(root, "IdList/Id/text()")] == [99000057, 99000056]


def test_lone_mindate_is_ignored_and_reldate_uses_today(fake_ncbi_factory: Factory) -> None:
    fake = fake_ncbi_factory(rate_limit=None, today=dt.date(2026, 11, 13))
    assert len(ids(fake, "magnesium[tiab]", mindate="2026/11/01")) > 40
    assert ids(fake, "magnesium[tiab]", reldate=12, datetype="crdt") == {99000057}
    assert ids(fake, "magnesium[tiab]", reldate=30, datetype="edat") == {99000056, 99000057}
    assert error_text(fake, "magnesium", reldate=3, datetype="xdat") == (
        "Invalid datetype 'xdat': use crdt, edat, mdat or pdat"
    )


def test_paging_sort_and_count(fake_ncbi: FakeEutils) -> None:
    full = esearch(fake_ncbi, "magnesium[tiab]", retmax=500)
    everything = [int(x) for x in texts(full, "IdList/Id/text()")]
    crdts = [fake_ncbi.get_record(p).crdt for p in everything]
    assert crdts == sorted(crdts, reverse=True)  # most recent first
    reply = get(fake_ncbi, "esearch", db="pubmed", term="magnesium[tiab]")
    default = parse_xml(reply.content)
    assert default.findtext("RetMax") == "20"
    assert [int(x) for x in texts(default, "IdList/Id/text()")] == everything[:20]
    page = esearch(fake_ncbi, "magnesium[tiab]", retstart=20, retmax=7)
    assert (page.findtext("Count"), page.findtext("RetMax"), page.findtext("RetStart")) == (
        str(len(everything)),
        "7",
        "20",
    )
    assert [int(x) for x in texts(page, "IdList/Id/text()")] == everything[20:27]
    count = get(fake_ncbi, "esearch", db="pubmed", term="magnesium[tiab]", rettype="count")
    assert etree.tostring(parse_xml(count.content)) == (
        f"<eSearchResult><Count>{len(everything)}</Count></eSearchResult>".encode()
    )


def test_post_esearch_and_json(fake_ncbi: FakeEutils) -> None:
    reply = requests.post(
        f"{fake_ncbi.url}esearch.fcgi",
        data={"db": "pubmed", "term": "pidolate[tiab]", "retmode": "json"},
        timeout=10,
    )
    assert reply.json() == {
        "header": {"type": "esearch", "version": "0.3"},
        "esearchresult": {
            "count": "2",
            "retmax": "2",
            "retstart": "0",
            "idlist": ["99000019", "99000063"],
            "translationset": [],
            "querytranslation": '"pidolate"[Title/Abstract]',
        },
    }


def test_bulk_records_cap_and_fast_date_slices(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.add_bulk(12000, "bulkword", dt.date(2025, 1, 1), dt.date(2025, 4, 30))
    root = esearch(fake_ncbi, "bulkword[tiab]", retmax=0)
    assert (root.findtext("Count"), root.findtext("RetMax")) == ("12000", "0")
    assert error_text(fake_ncbi, "bulkword[tiab]", retstart=9999) == (
        "Search Backend failed: Exception:\n'retstart' cannot be larger than 9998. For PubMed, "
        "ESearch can only retrieve the first 9,999 records matching the query. To obtain more "
        "than 9,999 PubMed records, consider using EDirect that contains additional logic to "
        "batch PubMed search results automatically so that an arbitrary number can be "
        "retrieved. For details see https://www.ncbi.nlm.nih.gov/books/NBK25499/"
    )
    tail = esearch(fake_ncbi, "bulkword[tiab]", retstart=9990, retmax=100)
    assert tail.findtext("RetMax") == "9"
    assert tail.findtext("WarningList/OutputMessage") == (
        "Restrictions achieved. start and count adjusted to 9990, 9"
    )
    started = time.perf_counter()
    week = esearch(fake_ncbi, "bulkword[tiab] AND 2025/01/01:2025/01/07[crdt]", retmax=9999)
    elapsed = time.perf_counter() - started
    assert week.findtext("Count") == "700"  # 12000 records over 120 days, 100 a day
    assert len(week.findall("IdList/Id")) == 700
    assert elapsed < 2.0  # an indexed date slice, not a scan of all 12,000 records
    whole = ids(fake_ncbi, "bulkword[tiab] AND 2025/01/01:2025/02/28[crdt]", retmax=9999)
    rest = ids(fake_ncbi, "bulkword[tiab] AND 2025/03/01:2025/04/30[crdt]", retmax=9999)
    assert len(whole) + len(rest) == 12000 and not whole & rest


# --- history server and efetch ---------------------------------------------------------------


def test_history_server_paging(fake_ncbi: FakeEutils) -> None:
    root = esearch(fake_ncbi, "magnesium[tiab]", usehistory="y", retmax=0)
    webenv, key = root.findtext("WebEnv"), root.findtext("QueryKey")
    assert re.fullmatch(r"MCID_[0-9a-f]{24}", webenv or "") and key == "1"
    order = [int(x) for x in texts(esearch(fake_ncbi, "magnesium[tiab]"), "IdList/Id/text()")]
    fetched: list[int] = []
    for start in (0, 5):
        reply = get(
            fake_ncbi,
            "efetch",
            db="pubmed",
            WebEnv=webenv,
            query_key=key,
            retstart=start,
            retmax=5,
            retmode="xml",
        )
        articles = parse_xml(reply.content)
        fetched += [int(p) for p in texts(articles, "//MedlineCitation/PMID/text()")]
    assert fetched == order[:10]
    second = esearch(fake_ncbi, "pidolate[tiab]", usehistory="y", WebEnv=webenv)
    assert (second.findtext("WebEnv"), second.findtext("QueryKey")) == (webenv, "2")


def test_efetch_bad_webenv_is_error_reply(fake_ncbi: FakeEutils) -> None:
    reply = get(fake_ncbi, "efetch", db="pubmed", WebEnv="MCID_nope", query_key=1, retmode="xml")
    assert reply.status_code == 200
    root = parse_xml(reply.content)
    assert (root.tag, [c.tag for c in root], root.findtext("ERROR")) == (
        "eFetchResult",
        ["ERROR"],
        "Unable to obtain query #1",
    )
    empty = get(fake_ncbi, "efetch", db="pubmed", retmode="xml")
    assert parse_xml(empty.content).findtext("ERROR") == ("Empty id list - nothing todo")


def test_efetch_xml_order_doctype_and_unknown_ids(fake_ncbi: FakeEutils) -> None:
    reply = get(
        fake_ncbi, "efetch", db="pubmed", id="99000055,12345,99000001,99000053", retmode="xml"
    )
    assert reply.text.splitlines()[:2] == ['<?xml version="1.0" ?>', PUBMED_DOCTYPE]
    root = parse_xml(reply.content)
    assert [child.tag for child in root] == ["PubmedBookArticle", "PubmedArticle", "PubmedArticle"]
    assert texts(root, "//PMID[1]/text()")[:3] == ["99000055", "99000001", "99000053"]
    retracted = root[2].find("MedlineCitation/CommentsCorrectionsList/CommentsCorrections")
    assert retracted is not None
    assert (retracted.get("RefType"), retracted.findtext("PMID")) == ("RetractionIn", "99000054")
    nothing = get(fake_ncbi, "efetch", db="pubmed", id="12345", retmode="xml")
    assert etree.tostring(parse_xml(nothing.content)) == (
        b"<PubmedArticleSet>\n</PubmedArticleSet>"
    )
    assert fake_ncbi.requests[-1].ids_returned == 0


def test_efetch_post_many_ids_and_escaped_title(fake_ncbi: FakeEutils) -> None:
    all_ids = ",".join(str(p) for p in fake_ncbi.pmids)
    reply = requests.post(
        f"{fake_ncbi.url}efetch.fcgi",
        data={"db": "pubmed", "id": all_ids, "retmode": "xml"},
        timeout=10,
    )
    root = parse_xml(reply.content)
    assert len(root) == len(fake_ncbi.pmids)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in reply.text
    assert "<script>" not in reply.text
    title = texts(root, "//PubmedArticle[MedlineCitation/PMID='99000058']//ArticleTitle/text()")
    assert title[0] == (
        "Patient-reported outcomes after magnesium therapy <script>alert(1)</script> "
        "in migraine: a cross-sectional survey."
    )


def test_every_record_round_trips_through_render_and_parse() -> None:
    from aggregator.pubmed.fake import parse_records

    for record in load_base_records():
        assert parse_records(render_record(record)) == [record]


def test_bio_entrez_reads_esearch_without_downloading(
    fake_ncbi: FakeEutils, monkeypatch: pytest.MonkeyPatch
) -> None:
    import Bio.Entrez.Parser as entrez_parser

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("Bio.Entrez tried to download a DTD")

    monkeypatch.setattr(entrez_parser, "urlopen", no_network, raising=False)
    reply = get(fake_ncbi, "esearch", db="pubmed", term="pidolate[tiab]", usehistory="y")
    result = Entrez.read(io.BytesIO(reply.content))
    assert (result["Count"], list(result["IdList"]), result["QueryKey"]) == (
        "2",
        ["99000019", "99000063"],
        "1",
    )
    empty = Entrez.read(io.BytesIO(get(fake_ncbi, "esearch", db="pubmed", term="zzqx").content))
    assert list(empty["ErrorList"]["PhraseNotFound"]) == ["zzqx"]


def test_medline_text_parses_with_bio_medline(fake_ncbi: FakeEutils) -> None:
    reply = get(
        fake_ncbi,
        "efetch",
        db="pubmed",
        id="99000054,99000051,99000055",
        rettype="medline",
        retmode="text",
    )
    assert reply.headers["Content-Type"].startswith("text/plain")
    records = list(Medline.parse(io.StringIO(reply.text)))
    assert [r["PMID"] for r in records] == ["99000054", "99000051", "99000055"]
    notice, inline, book = records
    assert notice["PT"] == ["Retraction of Publication"]
    assert notice["ROF"] == ["J Synth Headache Res. 2019;41(7):120-8 PMID: 99000053"]
    assert inline["TI"] == (
        "Extracellular Mg2+ modulates NMDA receptor currents in cultured trigeminal neurons "
        "in vitro."
    )
    assert inline["MH"][-1] == "Magnesium/*pharmacology"
    assert inline["AB"].startswith("BACKGROUND: Magnesium blocks NMDA receptors")
    assert inline["CRDT"] == ["2021/02/22 09:00"]
    assert book["BTI"] == ["Synthetic Textbook of Headache Medicine"]


def test_einfo(fake_ncbi: FakeEutils) -> None:
    root = parse_xml(get(fake_ncbi, "einfo", db="pubmed").content)
    assert root.findtext("DbInfo/LastUpdate") == "2026/11/15 06:00"
    names = texts(root, "//Field/Name/text()")
    assert {"CRDT", "EDAT", "MDAT", "PDAT"} <= set(names)
    assert Entrez.read(io.BytesIO(get(fake_ncbi, "einfo").content))["DbList"] == ["pubmed"]


# --- record management and log ---------------------------------------------------------------


def test_add_revise_remove_record(fake_ncbi: FakeEutils) -> None:
    base = fake_ncbi.get_record(99000001)
    new = base.with_changes(pmid=99900001, title_xml="Zebrafish magnesium study.")
    added = fake_ncbi.add_record(render_record(new), crdt=dt.date(2026, 11, 10))
    assert added == [99900001]
    assert ids(fake_ncbi, "zebrafish[ti]") == {99900001}
    assert ids(fake_ncbi, "2026/11/10[crdt]") == {99900001}
    fake_ncbi.revise_record(
        99900001, new.with_changes(title_xml="Zebrafish study, corrected."), mdat=BASE_TODAY
    )
    assert fake_ncbi.get_record(99900001).crdt == dt.datetime(2026, 11, 10, 12, 0)
    assert ids(fake_ncbi, "corrected[ti]") == {99900001}
    assert ids(fake_ncbi, "2026/11/15[mdat]") == {99900001}
    fake_ncbi.remove_record(99900001)
    assert ids(fake_ncbi, "zebrafish[ti]") == set()
    with pytest.raises(FakeEutilsError, match="PMID 99900001 is not in the fake server"):
        fake_ncbi.remove_record(99900001)


def test_custom_records_only(fake_ncbi_factory: Factory) -> None:
    record = PubmedRecord(pmid=99999999, title_xml="Only one.", crdt=dt.datetime(2026, 1, 2))
    fake = fake_ncbi_factory(records=[record], rate_limit=None)
    assert fake.pmids == [99999999]


def test_request_log_records_client_params(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.reset_log()
    get(fake_ncbi, "esearch", db="pubmed", term="pidolate[tiab]", tool="aggtest", email="a@b.c")
    get(fake_ncbi, "efetch", db="pubmed", id="99000019", retmode="xml", api_key="SECRET1")
    first, second = fake_ncbi.requests
    assert (first.endpoint, first.method, first.status, first.ids_returned, first.fault) == (
        "esearch",
        "GET",
        200,
        2,
        None,
    )
    assert first.params == {
        "db": "pubmed",
        "term": "pidolate[tiab]",
        "tool": "aggtest",
        "email": "a@b.c",
    }
    assert second.params["api_key"] == "SECRET1" and second.ids_returned == 1
    assert first.monotonic <= second.monotonic
    fake_ncbi.reset_log()
    assert fake_ncbi.requests == []


# --- rate limit -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_without_and_with_api_key(fake_ncbi_factory: Factory) -> None:
    clock = FakeClock()
    fake = fake_ncbi_factory(clock=clock)
    statuses = [get(fake, "einfo").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = get(fake, "einfo")
    assert limited.status_code == 429
    assert limited.text == (
        '{"error":"API rate limit exceeded","api-key":"127.0.0.1","count":"5","limit":"3"}'
    )
    assert (limited.headers["X-RateLimit-Limit"], limited.headers["X-RateLimit-Remaining"]) == (
        "3",
        "0",
    )
    clock.now += 1.0
    fine = get(fake, "einfo")
    assert fine.status_code == 200
    assert (fine.headers["X-RateLimit-Limit"], fine.headers["X-RateLimit-Remaining"]) == ("3", "2")
    keyed = [get(fake, "einfo", api_key="K1").status_code for _ in range(11)]
    assert keyed == [200] * 10 + [429]
    assert json.loads(get(fake, "einfo", api_key="K1").text)["limit"] == "10"


def test_rate_limit_disabled(fake_ncbi_factory: Factory) -> None:
    fake = fake_ncbi_factory(clock=FakeClock(), rate_limit=None)
    assert [get(fake, "einfo").status_code for _ in range(6)] == [200] * 6


# --- faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["500", "502", "503", "429"])
def test_http_error_faults(fake_ncbi: FakeEutils, kind: str) -> None:
    fake_ncbi.inject(kind, endpoint="esearch", times=2)
    assert get(fake_ncbi, "efetch", db="pubmed", id="99000001").status_code == 200
    codes = [get(fake_ncbi, "esearch", db="pubmed", term="x").status_code for _ in range(3)]
    assert codes == [int(kind), int(kind), 200]
    assert [e.fault for e in fake_ncbi.requests] == [None, kind, kind, None]


def test_reset_fault(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("reset")
    with pytest.raises(requests.ConnectionError):
        get(fake_ncbi, "einfo")
    assert (fake_ncbi.requests[-1].status, fake_ncbi.requests[-1].fault) == (0, "reset")
    assert get(fake_ncbi, "einfo").status_code == 200


def test_slow_fault_exceeds_client_timeout(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("slow", delay=1.0)
    with pytest.raises(requests.Timeout):
        requests.get(f"{fake_ncbi.url}einfo.fcgi", timeout=0.2)


def test_latency_delays_every_reply_until_set_back(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.latency = 0.4
    started = time.monotonic()
    assert get(fake_ncbi, "einfo").status_code == 200
    assert get(fake_ncbi, "esearch", db="pubmed", term="x").status_code == 200
    assert time.monotonic() - started >= 0.8
    fake_ncbi.latency = 0.0
    started = time.monotonic()
    assert get(fake_ncbi, "einfo").status_code == 200
    assert time.monotonic() - started < 0.4


def test_truncate_fault(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("truncate", endpoint="efetch")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        get(fake_ncbi, "efetch", db="pubmed", id="99000001,99000002", retmode="xml")
    assert fake_ncbi.requests[-1].fault == "truncate"


def test_error200_faults(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("error200", times=2)
    search = get(fake_ncbi, "esearch", db="pubmed", term="magnesium")
    fetch = get(fake_ncbi, "efetch", db="pubmed", id="99000001", retmode="xml")
    assert (search.status_code, fetch.status_code) == (200, 200)
    assert parse_xml(search.content).findtext("ERROR") == (
        "Search Backend failed: Database is not supported: pubmed"
    )
    assert parse_xml(fetch.content).tag == "eFetchResult"


def test_missing_records_fault_only_hits_efetch(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("missing_records", drop=2)
    assert len(ids(fake_ncbi, "pidolate[tiab]")) == 2
    reply = get(fake_ncbi, "efetch", db="pubmed", id="99000001,99000002,99000003", retmode="xml")
    assert texts(parse_xml(reply.content), "//PMID/text()") == ["99000001"]
    assert fake_ncbi.requests[-1].ids_returned == 1


def test_random_faults_are_reproducible(fake_ncbi: FakeEutils) -> None:
    def run() -> list[int]:
        fake_ncbi.set_fault_rate(0.5, ["500", "503"], seed=7)
        return [get(fake_ncbi, "einfo").status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert {200, 500} <= set(first) or {200, 503} <= set(first)
    fake_ncbi.clear_faults()
    assert get(fake_ncbi, "einfo").status_code == 200


def test_inject_rejects_unknown_kind(fake_ncbi: FakeEutils) -> None:
    with pytest.raises(FakeEutilsError, match="unknown fault kind 'boom'"):
        fake_ncbi.inject("boom")


def test_inject_after_lets_matching_requests_through_first(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("503", endpoint="esearch", after=2)
    statuses = [
        get(fake_ncbi, "esearch", db="pubmed", term="magnesium").status_code for _ in range(4)
    ]
    assert get(fake_ncbi, "einfo").status_code == 200  # other endpoints do not count
    assert statuses == [200, 200, 503, 200]
    assert [e.fault for e in fake_ncbi.requests][:4] == [None, None, "503", None]


# --- hostile faults (issue 17) ----------------------------------------------------------------


def test_error200_fault_with_a_message(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("error200", endpoint="efetch", message="Unable to obtain query #1")
    fetch = get(fake_ncbi, "efetch", db="pubmed", id="99000001", retmode="xml")
    assert parse_xml(fetch.content).findtext("ERROR") == "Unable to obtain query #1"


def test_redirect_fault_points_elsewhere(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("redirect", location="http://elsewhere.invalid/esearch.fcgi")
    reply = requests.get(f"{fake_ncbi.url}einfo.fcgi", timeout=10, allow_redirects=False)
    assert (reply.status_code, reply.headers["Location"]) == (
        307,
        "http://elsewhere.invalid/esearch.fcgi",
    )
    assert fake_ncbi.requests[-1].fault == "redirect"
    with pytest.raises(FakeEutilsError, match="needs a location"):
        fake_ncbi.inject("redirect")


def test_drip_fault_sends_one_byte_at_a_time(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("drip", delay=0.05)
    started = time.monotonic()
    reply = requests.get(f"{fake_ncbi.url}einfo.fcgi", timeout=10)  # ~70 bytes of head + body
    assert reply.status_code == 200 and reply.content.startswith(b"<?xml")
    assert time.monotonic() - started >= 0.05 * (len(reply.content) + 40)


def test_huge_and_gzip_bomb_faults_pad_a_valid_reply(fake_ncbi: FakeEutils) -> None:
    plain = get(fake_ncbi, "esearch", db="pubmed", term="pidolate[tiab]").content
    fake_ncbi.inject("huge", size=3_000_000)
    huge = get(fake_ncbi, "esearch", db="pubmed", term="pidolate[tiab]")
    assert len(huge.content) == len(plain) + 3_000_000
    assert texts(parse_xml(huge.content), "IdList/Id/text()") == texts(
        parse_xml(plain), "IdList/Id/text()"
    )
    fake_ncbi.inject("gzip_bomb", size=5_000_000)
    bomb = requests.get(
        f"{fake_ncbi.url}esearch.fcgi",
        params={"db": "pubmed", "term": "pidolate[tiab]"},
        timeout=10,
        stream=True,
    )
    assert bomb.headers["Content-Encoding"] == "gzip"
    assert int(bomb.headers["Content-Length"]) < 20_000
    assert len(bomb.content) == len(plain) + 5_000_000


def test_bad_ids_fault_puts_raw_strings_first_in_the_id_list(fake_ncbi: FakeEutils) -> None:
    real = texts(esearch(fake_ncbi, "pidolate[tiab]"), "IdList/Id/text()")
    fake_ncbi.inject("bad_ids", ids=["-5", "0", "abc", "\uff19\uff19"])
    root = esearch(fake_ncbi, "pidolate[tiab]")
    assert texts(root, "IdList/Id/text()") == ["-5", "0", "abc", "\uff19\uff19", *real]
    assert root.findtext("Count") == str(len(real) + 4)


def test_unrequested_records_fault_adds_impostors(fake_ncbi: FakeEutils) -> None:
    fake_ncbi.inject("unrequested_records", ids=["-5", "99000003"])
    reply = get(fake_ncbi, "efetch", db="pubmed", id="99000001", retmode="xml")
    pmids = texts(parse_xml(reply.content), "//MedlineCitation/PMID/text()")
    assert pmids == ["99000001", "-5", "99000003"]


def test_lying_count_fault_repeats_ids_instead_of_an_empty_page(fake_ncbi: FakeEutils) -> None:
    real = texts(esearch(fake_ncbi, "pidolate[tiab]"), "IdList/Id/text()")
    fake_ncbi.inject("lying_count", count=500, times=2)
    first = esearch(fake_ncbi, "pidolate[tiab]")
    past_the_end = esearch(fake_ncbi, "pidolate[tiab]", retstart=len(real))
    assert first.findtext("Count") == past_the_end.findtext("Count") == "500"
    assert texts(past_the_end, "IdList/Id/text()") == real
    assert texts(esearch(fake_ncbi, "pidolate[tiab]", retstart=len(real)), "IdList/Id/text()") == []
