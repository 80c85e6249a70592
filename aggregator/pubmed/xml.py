"""Streaming, safe parser for PubMed XML (efetch replies, baseline and update files).

Records are read one at a time with ``lxml.etree.iterparse`` and thrown away once converted,
so memory stays flat however many records a file holds. The parser never touches the network,
never loads a DTD, never resolves entities, and refuses any document whose internal DTD subset
declares entities (the XXE and "billion laughs" attacks).

A PMID must be ASCII digits in PubMed's range (:func:`aggregator.article.parse_pmid`). A bad
record (a bad PMID, no PMID, ...) is a ParseError, unless the caller passes ``on_bad_record``:
then that callback gets the same one-line message and the record is skipped.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from lxml import etree

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
    parse_pmid,
)
from aggregator.errors import ParseError
from aggregator.pubmed.fields import (
    join_abstract,
    month_number,
    normalise_orcid,
    parse_medline_date,
    valid_day,
)
from aggregator.pubmed.textclean import element_text, normalise_space

DEFAULT_SOURCE_NAME = "PubMed XML"

_SET_TAGS = ("PubmedArticleSet", "MedlineCitationSet", "PubmedBookArticleSet")
_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation", "MedlineCitation")

# Told the one-line problem of a record that is skipped instead of failing the whole document.
BadRecordCallback = Callable[[str], None]


def iter_pubmed_xml(
    source: bytes | str | os.PathLike[str] | IO[bytes],
    *,
    source_name: str | None = None,
    on_bad_record: BadRecordCallback | None = None,
) -> Iterator[Article | DeletedCitations]:
    """Yield an Article per PubmedArticle/PubmedBookArticle/MedlineCitation and a
    DeletedCitations per DeleteCitation, streaming.

    ``source`` is XML bytes, XML text (a str starting with "<"), a file path, or a binary file
    object. Raises ParseError, naming ``source_name`` and the line, for malformed or unsafe XML,
    and for a bad record unless ``on_bad_record`` is given (it is called with the message and
    the record is skipped).
    """
    stream, name, owned = _open_source(source, source_name)
    try:
        yield from _iterate(stream, name, on_bad_record)
    finally:
        if owned:
            stream.close()


def parse_pubmed_xml(data: bytes, source_name: str = DEFAULT_SOURCE_NAME) -> list[Article]:
    """All articles (not deletions) of an in-memory PubMed XML document."""
    return [
        item for item in iter_pubmed_xml(data, source_name=source_name) if isinstance(item, Article)
    ]


def _open_source(
    source: bytes | str | os.PathLike[str] | IO[bytes], source_name: str | None
) -> tuple[IO[bytes], str, bool]:
    if isinstance(source, bytes | bytearray | memoryview):
        return io.BytesIO(bytes(source)), source_name or DEFAULT_SOURCE_NAME, True
    if isinstance(source, str) and source.lstrip().startswith("<"):
        return io.BytesIO(source.encode("utf-8")), source_name or DEFAULT_SOURCE_NAME, True
    if isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        try:
            stream = open(path, "rb")  # noqa: SIM115 - closed by iter_pubmed_xml
        except OSError as exc:
            raise ParseError(f"{source_name or path}: cannot read file: {exc.strerror}") from exc
        return stream, source_name or path, True
    return source, source_name or getattr(source, "name", None) or DEFAULT_SOURCE_NAME, False


def _iterate(
    stream: IO[bytes], name: str, on_bad_record: BadRecordCallback | None
) -> Iterator[Article | DeletedCitations]:
    context = etree.iterparse(
        stream,
        events=("start", "end"),
        tag=_SET_TAGS + _RECORD_TAGS,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=False,
    )
    root_checked = False
    try:
        for event, element in context:
            if not root_checked:
                _check_document(element, name)
                root_checked = True
            if event == "start":
                continue
            tag = element.tag
            parent = element.getparent()
            if (
                tag == "MedlineCitation"
                and parent is not None
                and parent.tag != "MedlineCitationSet"
            ):
                continue  # part of a PubmedArticle, handled when that ends
            if tag in _SET_TAGS:
                continue
            try:
                item = _convert(element, name)
            except ParseError as exc:
                if on_bad_record is None:
                    raise
                on_bad_record(str(exc))
            else:
                yield item
            # Free the finished record and anything before it so memory does not grow.
            element.clear(keep_tail=False)
            if parent is not None:
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise ParseError(_syntax_message(exc, name)) from None
    if not root_checked:
        root = context.root
        if root is None:
            raise ParseError(f"{name}: no XML document found (empty input)")
        raise ParseError(
            f"{name}: not PubMed XML: root element is <{_plain_tag(root)}>, expected "
            "<PubmedArticleSet> or <MedlineCitationSet>"
        )


def _plain_tag(element: etree._Element) -> str:
    tag = element.tag
    return tag if isinstance(tag, str) else "?"


def _check_document(element: etree._Element, name: str) -> None:
    docinfo = element.getroottree().docinfo
    dtd = docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.entities()):  # type: ignore[attr-defined]
        raise ParseError(
            f"{name}: refused: the document declares its own XML entities (possible "
            "entity-expansion or external-entity attack)"
        )
    root = element.getroottree().getroot()
    # A bare record as root is accepted too, so a stored raw_xml can be parsed again.
    if root is not None and _plain_tag(root) not in _SET_TAGS + _RECORD_TAGS:
        raise ParseError(
            f"{name}: not PubMed XML: root element is <{_plain_tag(root)}>, expected "
            "<PubmedArticleSet> or <MedlineCitationSet>"
        )


# libxml2's words for "there was no element at all".
_NO_DOCUMENT_MESSAGES = ("Document is empty", "Start tag expected", "no element found")


def _syntax_message(exc: etree.XMLSyntaxError, name: str) -> str:
    message = normalise_space(str(exc.msg or exc))
    line = exc.lineno
    # libxml2 appends ", line N, column M" itself; keep the message to one clean sentence.
    message = re.sub(r",? line \d+, column \d+$", "", message)
    if any(sign in message for sign in _NO_DOCUMENT_MESSAGES):
        return f"{name}: no XML document found (empty input or not XML)"
    if "amplification" in message:
        return f"{name}: refused unsafe XML entities at line {line}: {message}"
    return f"{name}: malformed XML at line {line}: {message}"


def _convert(element: etree._Element, name: str) -> Article | DeletedCitations:
    tag = element.tag
    try:
        if tag == "PubmedArticle":
            citation = next(element.iterchildren("MedlineCitation"), None)
            return _journal_article(element, citation, element)
        if tag == "MedlineCitation":
            return _journal_article(element, element, None)
        if tag == "PubmedBookArticle":
            return _book_article(element)
        return DeletedCitations(pmids=tuple(_pmid(p.text) for p in element.iterfind("PMID")))
    except (_RecordError, ValueError, OverflowError) as exc:
        # ValueError, OverflowError: a value no field reader expected; the record is bad.
        raise ParseError(f"{name}: bad <{tag}> at line {element.sourceline}: {exc}") from None


class _RecordError(Exception):
    pass


# Field extraction walks child elements directly instead of calling find(): lxml's find() goes
# through Python-level path code, and a record has a few hundred elements, so direct iteration
# is what makes this parser several times faster than Bio.Entrez. The small frozen dataclasses
# built many times per record (authors, MeSH, citations, sections) take positional arguments,
# in aggregator/article.py's field order: keyword calls cost about half as much again (the tests
# compare whole objects, so a reordering there fails them at once).


def _pmid(text: str | None) -> int:
    try:
        return parse_pmid(text or "")
    except ValueError as exc:
        raise _RecordError(str(exc)) from None


def _small_int(text: str | None, digits: int) -> int | None:
    """A number of at most ``digits`` ASCII digits (years, days, versions), else None."""
    value = (text or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= digits else None


def _value(element: etree._Element) -> str | None:
    """Normalised text of ``element`` (markup flattened), None when empty."""
    if len(element):  # inline markup: the general path
        return element_text(element) or None
    text = element.text  # most fields are plain text: element_text's fast path, inlined
    return " ".join(text.split()) or None if text else None


def _children(element: etree._Element | None) -> dict[str, etree._Element]:
    """First child element per tag."""
    found: dict[str, etree._Element] = {}
    if element is not None:
        for child in element:
            found.setdefault(child.tag, child)  # type: ignore[arg-type]
    return found


def _text(element: etree._Element | None, path: str) -> str | None:
    """Normalised text of the first ``path`` match, None when absent or empty (slow path)."""
    if element is None:
        return None
    found = element.find(path)
    return None if found is None else _value(found)


def _date(element: etree._Element | None) -> dt.date | None:
    if element is None:
        return None
    year = month = day = None
    for child in element:
        tag = child.tag
        if tag == "Year":
            year = child.text
        elif tag == "Month":
            month = month_number(child.text)
        elif tag == "Day":
            day = child.text
    if not year or month is None or not day:
        return None
    try:
        return dt.date(int(year), month, int(day))
    except (ValueError, OverflowError):
        return None


def _pub_date(
    pub_date: etree._Element | None,
) -> tuple[int | None, int | None, int | None, str | None]:
    """(year, month, day, raw MedlineDate) of a <PubDate>."""
    if pub_date is None:
        return None, None, None, None
    parts = {child.tag: child.text or "" for child in pub_date}
    medline_date = parts.get("MedlineDate")
    if medline_date is not None:
        raw = normalise_space(medline_date)
        year, month, day = parse_medline_date(raw)
        return year, month, day, raw
    year = _small_int(parts.get("Year"), 4)
    month = month_number(parts.get("Month")) or month_number(parts.get("Season"))
    day = _small_int(parts.get("Day"), 2) if month is not None else None
    return year, month, valid_day(year, month, day), None


def _abstract(abstract: etree._Element | None) -> tuple[str, tuple[AbstractSection, ...]]:
    if abstract is None:
        return "", ()
    sections = []
    for part in abstract.iterchildren("AbstractText"):
        text = element_text(part)
        if not text:
            continue  # an empty section adds nothing a reader could see
        sections.append(
            AbstractSection(text, part.get("Label") or None, part.get("NlmCategory") or None)
        )
    return join_abstract(sections), tuple(sections)


def _authors(author_list: etree._Element | None) -> tuple[Author, ...]:
    if author_list is None:
        return ()
    authors = []
    for author in author_list.iterchildren("Author"):
        if author.get("ValidYN") == "N":
            continue  # an author NLM marked as wrongly listed; PubMed does not show it
        last = fore = initials = collective = orcid = None
        affiliations: list[str] = []
        for part in author:
            tag = part.tag
            if tag == "LastName":
                last = _value(part)
            elif tag == "ForeName":
                fore = _value(part)
            elif tag == "Initials":
                initials = _value(part)
            elif tag == "CollectiveName":
                collective = _value(part)
            elif tag == "AffiliationInfo":
                for affiliation in part.iterchildren("Affiliation"):
                    text = _value(affiliation)
                    if text:
                        affiliations.append(text)
            elif tag == "Affiliation":  # before 2013 the affiliation sat directly here
                text = _value(part)
                if text:
                    affiliations.append(text)
            elif (
                tag == "Identifier"
                and orcid is None
                and (part.get("Source") or "").upper() == "ORCID"
            ):
                orcid = normalise_orcid(part.text)
        authors.append(Author(last, fore, initials, collective, tuple(affiliations), orcid))
    return tuple(authors)


def _mesh(mesh_list: etree._Element | None) -> tuple[MeshHeading, ...]:
    if mesh_list is None:
        return ()
    headings: list[MeshHeading] = []
    append = headings.append
    for heading in mesh_list.iterchildren("MeshHeading"):
        descriptor = None
        qualifiers = []
        for part in heading:
            tag = part.tag
            if tag == "DescriptorName":
                descriptor = part
            elif tag == "QualifierName":
                qualifiers.append(
                    MeshQualifier(
                        _value(part) or "", part.get("UI"), part.get("MajorTopicYN") == "Y"
                    )
                )
        if descriptor is None:
            continue
        append(
            MeshHeading(
                _value(descriptor) or "",
                descriptor.get("UI"),
                descriptor.get("MajorTopicYN") == "Y",
                tuple(qualifiers),
            )
        )
    return tuple(headings)


def _chemicals(chemical_list: etree._Element | None) -> tuple[Chemical, ...]:
    if chemical_list is None:
        return ()
    chemicals = []
    for chemical in chemical_list.iterchildren("Chemical"):
        parts = _children(chemical)
        substance = parts.get("NameOfSubstance")
        if substance is None:
            continue
        registry = parts.get("RegistryNumber")
        chemicals.append(
            Chemical(
                name=element_text(substance),
                registry_number=_value(registry) if registry is not None else None,
                ui=substance.get("UI"),
            )
        )
    return tuple(chemicals)


def _grants(grant_list: etree._Element | None) -> tuple[Grant, ...]:
    if grant_list is None:
        return ()
    grants = []
    for grant in grant_list.iterchildren("Grant"):
        values = {part.tag: _value(part) for part in grant}
        grants.append(
            Grant(
                grant_id=values.get("GrantID"),
                agency=values.get("Agency"),
                country=values.get("Country"),
            )
        )
    return tuple(grants)


def _comments_corrections(entries: etree._Element | None) -> tuple[CommentCorrection, ...]:
    if entries is None:
        return ()
    result: list[CommentCorrection] = []
    append = result.append
    for entry in entries.iterchildren("CommentsCorrections"):
        pmid = source = None
        for part in entry:
            tag = part.tag
            if tag == "PMID":
                try:
                    pmid = parse_pmid(part.text or "")
                except ValueError:
                    pmid = None  # a reference we cannot follow, not a reason to drop the record
            elif tag == "RefSource":
                source = _value(part)
        append(CommentCorrection(entry.get("RefType") or "", pmid, source))
    return tuple(result)


def _keywords(keyword_list: etree._Element, keywords: list[str]) -> None:
    for keyword in keyword_list.iterchildren("Keyword"):
        text = element_text(keyword)
        if text:
            keywords.append(text)


def _typed_ids(elements: Iterable[etree._Element], type_attribute: str) -> dict[str, str]:
    """{IdType: value} of ArticleId / ELocationID elements, first of each type."""
    ids: dict[str, str] = {}
    for element in elements:
        kind = element.get(type_attribute)
        value = (element.text or "").strip()
        if kind and value and element.get("ValidYN") != "N" and kind not in ids:
            ids[kind] = value
    return ids


def _entrez_date(history: etree._Element | None) -> dt.date | None:
    if history is None:
        return None
    for pub_date in history.iterchildren("PubMedPubDate"):
        if pub_date.get("PubStatus") == "entrez":
            return _date(pub_date)
    return None


def _pages(pagination: etree._Element | None) -> str | None:
    if pagination is None:
        return None
    parts = {part.tag: _value(part) for part in pagination}
    if parts.get("MedlinePgn"):
        return parts["MedlinePgn"]
    start, end = parts.get("StartPage"), parts.get("EndPage")
    if start and end and end != start:
        return f"{start}-{end}"
    return start


def _serialise(element: etree._Element) -> str:
    return etree.tostring(element, encoding="unicode", with_tail=False)


def _journal_article(
    record: etree._Element, citation: etree._Element | None, pubmed_article: etree._Element | None
) -> Article:
    if citation is None:
        raise _RecordError("no <MedlineCitation>")
    fields: dict[str, Any] = {"status": citation.get("Status")}
    keywords: list[str] = []
    pmid_element = None
    article = None
    for part in citation:
        tag = part.tag
        if tag == "PMID":
            pmid_element = part
        elif tag == "Article":
            article = part
        elif tag == "DateCompleted":
            fields["completed_date"] = _date(part)
        elif tag == "DateRevised":
            fields["revised_date"] = _date(part)
        elif tag == "MeshHeadingList":
            fields["mesh_headings"] = _mesh(part)
        elif tag == "ChemicalList":
            fields["chemicals"] = _chemicals(part)
        elif tag == "KeywordList":
            _keywords(part, keywords)
        elif tag == "CommentsCorrectionsList":
            fields["comments_corrections"] = _comments_corrections(part)
    if pmid_element is None:
        raise _RecordError("no <PMID>")
    locations: dict[str, str] = {}
    if article is not None:
        languages: list[str] = []
        publication_types: list[str] = []
        location_elements = []
        for part in article:
            tag = part.tag
            if tag == "Journal":
                _journal(part, fields)
            elif tag == "ArticleTitle":
                fields["title"] = element_text(part)
            elif tag == "VernacularTitle":
                fields["vernacular_title"] = _value(part)
            elif tag == "Pagination":
                fields["pages"] = _pages(part)
            elif tag == "ELocationID":
                location_elements.append(part)
            elif tag == "Abstract":
                fields["abstract"], fields["abstract_sections"] = _abstract(part)
            elif tag == "AuthorList":
                fields["authors"] = _authors(part)
            elif tag == "Language":
                if part.text:
                    languages.append(part.text.strip())
            elif tag == "GrantList":
                fields["grants"] = _grants(part)
            elif tag == "PublicationTypeList":
                publication_types.extend(filter(None, map(element_text, part)))
            elif tag == "ArticleDate" and "article_date" not in fields:
                fields["article_date"] = _date(part)
        fields["languages"] = tuple(languages)
        fields["publication_types"] = tuple(publication_types)
        locations = _typed_ids(location_elements, "EIdType")
    ids: dict[str, str] = {}
    if pubmed_article is not None:
        pubmed_data = _children(next(pubmed_article.iterchildren("PubmedData"), None))
        ids = _typed_ids(_iter_children(pubmed_data.get("ArticleIdList")), "IdType")
        fields["entrez_date"] = _entrez_date(pubmed_data.get("History"))
        status = pubmed_data.get("PublicationStatus")
        fields["publication_status"] = _value(status) if status is not None else None
    return Article(
        pmid=_pmid(pmid_element.text),
        pmid_version=_version(pmid_element),
        title=fields.pop("title", ""),
        kind="article",
        keywords=tuple(keywords),
        doi=ids.get("doi") or locations.get("doi"),
        pmc_id=ids.get("pmc"),
        pii=ids.get("pii") or locations.get("pii"),
        raw_xml=_serialise(record),
        source_format="pubmed-xml",
        **fields,
    )


def _journal(journal: etree._Element, fields: dict[str, Any]) -> None:
    for part in journal:
        tag = part.tag
        if tag == "Title":
            fields["journal_title"] = _value(part)
        elif tag == "ISOAbbreviation":
            fields["journal_iso"] = _value(part)
        elif tag == "ISSN":
            fields["issn"] = _value(part)
        elif tag == "JournalIssue":
            for item in part:
                if item.tag == "Volume":
                    fields["volume"] = _value(item)
                elif item.tag == "Issue":
                    fields["issue"] = _value(item)
                elif item.tag == "PubDate":
                    (
                        fields["pub_year"],
                        fields["pub_month"],
                        fields["pub_day"],
                        fields["medline_date"],
                    ) = _pub_date(item)


def _iter_children(element: etree._Element | None) -> Iterable[etree._Element]:
    return () if element is None else element


def _book_article(record: etree._Element) -> Article:
    # Book records are rare (a few NCBI Bookshelf chapters), so clarity beats speed here.
    document = record.find("BookDocument")
    if document is None:
        raise _RecordError("no <BookDocument>")
    pmid_element = document.find("PMID")
    if pmid_element is None:
        raise _RecordError("no <PMID>")
    book = document.find("Book")
    year, month, day, medline_date = _pub_date(_find(book, "PubDate"))
    abstract, sections = _abstract(document.find("Abstract"))
    book_data = record.find("PubmedBookData")
    ids = _typed_ids(_iter_children(_find(book_data, "ArticleIdList")), "IdType")
    for kind, value in _typed_ids(_iter_children(document.find("ArticleIdList")), "IdType").items():
        ids.setdefault(kind, value)
    authors: tuple[Author, ...] = ()
    for author_list in document.iterchildren("AuthorList"):
        if author_list.get("Type") != "editors":
            authors = _authors(author_list)
            break
    if not authors:
        authors = _authors(_find(book, "AuthorList"))
    keywords: list[str] = []
    for keyword_list in document.iterchildren("KeywordList"):
        _keywords(keyword_list, keywords)
    return Article(
        pmid=_pmid(pmid_element.text),
        pmid_version=_version(pmid_element),
        title=_text(document, "ArticleTitle") or _text(book, "BookTitle") or "",
        kind="book",
        abstract=abstract,
        abstract_sections=sections,
        vernacular_title=_text(document, "VernacularTitle"),
        pages=_pages(document.find("Pagination")),
        pub_year=year,
        pub_month=month,
        pub_day=day,
        medline_date=medline_date,
        entrez_date=_entrez_date(_find(book_data, "History")),
        revised_date=_date(document.find("DateRevised")),
        publication_status=_text(book_data, "PublicationStatus"),
        authors=authors,
        languages=tuple(_strings(document, "Language")),
        publication_types=tuple(_strings(document, "PublicationType")),
        keywords=tuple(keywords),
        grants=_grants(document.find("GrantList")),
        doi=ids.get("doi"),
        pmc_id=ids.get("pmc"),
        pii=ids.get("pii"),
        raw_xml=_serialise(record),
        source_format="pubmed-xml",
    )


def _find(element: etree._Element | None, path: str) -> etree._Element | None:
    return element.find(path) if element is not None else None


def _strings(element: etree._Element, path: str) -> Iterator[str]:
    for found in element.iterfind(path):
        text = element_text(found)
        if text:
            yield text


def _version(pmid_element: etree._Element) -> int:
    version = _small_int(pmid_element.get("Version") or "1", 4)
    return 1 if version is None else version
