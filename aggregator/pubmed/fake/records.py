"""One PubMed record as plain fields: rendered to PubMed XML and parsed back from it.

The fake E-utilities server keeps every record as a :class:`PubmedRecord`: the shipped corpus
files are parsed into it, ``add_bulk`` builds it directly (cheap), and efetch renders it back
to XML or MEDLINE text. Title and abstract texts are XML fragments, so inline markup such as
``<i>`` or ``<sup>`` survives the round trip; plain text is available through properties.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from xml.sax.saxutils import escape

from lxml import etree

from aggregator.errors import ParseError

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SYNTHETIC_JOURNAL = "Journal of Synthetic Headache Research"
SYNTHETIC_JOURNAL_ISO = "J Synth Headache Res"

# Publication type UIs as NLM assigns them (public vocabulary).
PUBLICATION_TYPE_UIS: dict[str, str] = {
    "Journal Article": "D016428",
    "Randomized Controlled Trial": "D016449",
    "Controlled Clinical Trial": "D018848",
    "Clinical Trial": "D016430",
    "Clinical Trial Protocol": "D000078325",
    "Meta-Analysis": "D017418",
    "Systematic Review": "D000078182",
    "Review": "D016454",
    "Case Reports": "D002363",
    "Practice Guideline": "D017065",
    "Guideline": "D016431",
    "Editorial": "D016421",
    "Letter": "D016422",
    "Comment": "D016420",
    "Observational Study": "D064888",
    "Comparative Study": "D003160",
    "Multicenter Study": "D016448",
    "Retraction of Publication": "D016440",
    "Retracted Publication": "D016441",
    "English Abstract": "D004740",
    "Research Support, Non-U.S. Gov't": "D013485",
}


@dataclass(frozen=True, slots=True)
class AbstractPart:
    text_xml: str  # XML fragment (may hold <i>, <sup>, <sub>)
    label: str | None = None
    category: str | None = None  # NlmCategory: BACKGROUND, METHODS, RESULTS, ...


@dataclass(frozen=True, slots=True)
class AuthorEntry:
    last_name: str
    fore_name: str = ""
    initials: str = ""
    affiliation: str | None = None


@dataclass(frozen=True, slots=True)
class MeshEntry:
    descriptor: str
    ui: str = ""
    major: bool = False
    qualifiers: tuple[tuple[str, str, bool], ...] = ()  # (ui, name, major)

    @property
    def is_major(self) -> bool:
        return self.major or any(q[2] for q in self.qualifiers)


@dataclass(frozen=True, slots=True)
class CommentEntry:
    ref_type: str  # RetractionOf, RetractionIn, CommentOn, ...
    source: str
    pmid: int | None = None


@dataclass(frozen=True, slots=True)
class PubmedRecord:
    """The fields of one PubmedArticle (or PubmedBookArticle) that the fake server uses."""

    pmid: int
    title_xml: str
    crdt: dt.datetime  # PubMedPubDate PubStatus="entrez"
    abstract: tuple[AbstractPart, ...] = ()
    authors: tuple[AuthorEntry, ...] = ()
    journal: str = SYNTHETIC_JOURNAL
    journal_iso: str = SYNTHETIC_JOURNAL_ISO
    issn: str = "0000-0019"
    nlm_id: str = "999999901"
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    pub_year: int | None = None
    pub_month: int | None = None
    pub_day: int | None = None
    medline_date: str | None = None  # replaces Year/Month/Day, e.g. "1985 Nov-Dec"
    article_date: dt.date | None = None
    doi: str | None = None
    language: str = "eng"
    vernacular_title: str | None = None
    publication_types: tuple[str, ...] | None = ("Journal Article",)  # None: no list at all
    mesh: tuple[MeshEntry, ...] = ()
    chemicals: tuple[tuple[str, str], ...] = ()  # (registry number, name)
    keywords: tuple[str, ...] = ()
    comments: tuple[CommentEntry, ...] = ()
    status: str = "MEDLINE"  # MedlineCitation/@Status
    date_completed: dt.date | None = None
    date_revised: dt.date | None = None
    publication_status: str = "ppublish"
    kind: str = "article"  # "article" or "book"
    book_title: str | None = None
    publisher: str | None = None
    publisher_location: str | None = None
    extra_history: tuple[tuple[str, dt.date], ...] = field(default=())  # (PubStatus, date)

    @property
    def title(self) -> str:
        """Title as plain text (inline markup removed, text kept)."""
        return fragment_text(self.title_xml)

    @property
    def abstract_texts(self) -> tuple[tuple[str | None, str], ...]:
        """(label, plain text) per abstract section."""
        return tuple((part.label, fragment_text(part.text_xml)) for part in self.abstract)

    @property
    def mdat(self) -> dt.date:
        """Modification date: DateRevised, else the create date."""
        return self.date_revised or self.crdt.date()

    @property
    def pdat(self) -> dt.date:
        """Publication date as a date (missing month/day taken as 1; MedlineDate's year)."""
        if self.pub_year is not None:
            return dt.date(self.pub_year, self.pub_month or 1, self.pub_day or 1)
        if self.medline_date:
            match = re.search(r"\d{4}", self.medline_date)
            if match:
                return dt.date(int(match.group()), 1, 1)
        return self.crdt.date()

    @property
    def edat(self) -> dt.date:
        """Entrez date: the create date, or the publication date when the record arrived more
        than a year after publication (NLM's rule for late citations)."""
        created = self.crdt.date()
        if (created - self.pdat).days > 365:
            return self.pdat
        return created

    def with_changes(self, **changes: object) -> PubmedRecord:
        """A copy with some fields replaced."""
        return replace(self, **changes)  # type: ignore[arg-type]


def fragment_text(fragment: str) -> str:
    """Plain text of an XML fragment, whitespace folded."""
    if "<" not in fragment and "&" not in fragment:
        return " ".join(fragment.split())
    root = etree.fromstring(f"<x>{fragment}</x>", _safe_parser())
    return " ".join("".join(str(t) for t in root.itertext()).split())


def _safe_parser() -> etree.XMLParser:
    # No DTD loading, no entity expansion, no network: the corpus and test input are data.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False
    )


# ---------------------------------------------------------------------------------------------
# Rendering


def _date_block(tag: str, day: dt.date, attrs: str = "") -> str:
    return (
        f"<{tag}{attrs}><Year>{day.year}</Year><Month>{day.month:02d}</Month>"
        f"<Day>{day.day:02d}</Day></{tag}>"
    )


def _history_date(status: str, moment: dt.datetime) -> str:
    return (
        f'<PubMedPubDate PubStatus="{status}"><Year>{moment.year}</Year>'
        f"<Month>{moment.month}</Month><Day>{moment.day}</Day><Hour>{moment.hour}</Hour>"
        f"<Minute>{moment.minute}</Minute></PubMedPubDate>"
    )


def _pub_date(record: PubmedRecord) -> str:
    if record.medline_date:
        return f"<PubDate><MedlineDate>{escape(record.medline_date)}</MedlineDate></PubDate>"
    parts = ""
    if record.pub_year is not None:
        parts += f"<Year>{record.pub_year}</Year>"
        if record.pub_month:
            parts += f"<Month>{MONTHS[record.pub_month - 1]}</Month>"
            if record.pub_day:
                parts += f"<Day>{record.pub_day:02d}</Day>"
    return f"<PubDate>{parts}</PubDate>"


def _abstract(record: PubmedRecord) -> str:
    if not record.abstract:
        return ""
    texts = []
    for part in record.abstract:
        attrs = ""
        if part.label:
            attrs += f' Label="{escape(part.label, {chr(34): "&quot;"})}"'
        if part.category:
            attrs += f' NlmCategory="{part.category}"'
        texts.append(f"<AbstractText{attrs}>{part.text_xml}</AbstractText>")
    return f"<Abstract>{''.join(texts)}</Abstract>"


def _authors(record: PubmedRecord) -> str:
    if not record.authors:
        return ""
    items = []
    for author in record.authors:
        affiliation = (
            f"<AffiliationInfo><Affiliation>{escape(author.affiliation)}</Affiliation>"
            "</AffiliationInfo>"
            if author.affiliation
            else ""
        )
        items.append(
            f'<Author ValidYN="Y"><LastName>{escape(author.last_name)}</LastName>'
            f"<ForeName>{escape(author.fore_name)}</ForeName>"
            f"<Initials>{escape(author.initials)}</Initials>{affiliation}</Author>"
        )
    return f'<AuthorList CompleteYN="Y">{"".join(items)}</AuthorList>'


def _publication_types(record: PubmedRecord) -> str:
    if record.publication_types is None:
        return ""
    items = "".join(
        f'<PublicationType UI="{PUBLICATION_TYPE_UIS.get(name, "D016428")}">'
        f"{escape(name)}</PublicationType>"
        for name in record.publication_types
    )
    return f"<PublicationTypeList>{items}</PublicationTypeList>"


def _comments(record: PubmedRecord) -> str:
    if not record.comments:
        return ""
    items = []
    for comment in record.comments:
        pmid = f'<PMID Version="1">{comment.pmid}</PMID>' if comment.pmid else ""
        items.append(
            f'<CommentsCorrections RefType="{comment.ref_type}">'
            f"<RefSource>{escape(comment.source)}</RefSource>{pmid}</CommentsCorrections>"
        )
    return f"<CommentsCorrectionsList>{''.join(items)}</CommentsCorrectionsList>"


def _mesh(record: PubmedRecord) -> str:
    if not record.mesh:
        return ""
    items = []
    for heading in record.mesh:
        qualifiers = "".join(
            f'<QualifierName UI="{ui}" MajorTopicYN="{"Y" if major else "N"}">'
            f"{escape(name)}</QualifierName>"
            for ui, name, major in heading.qualifiers
        )
        items.append(
            f'<MeshHeading><DescriptorName UI="{heading.ui}" '
            f'MajorTopicYN="{"Y" if heading.major else "N"}">{escape(heading.descriptor)}'
            f"</DescriptorName>{qualifiers}</MeshHeading>"
        )
    return f"<MeshHeadingList>{''.join(items)}</MeshHeadingList>"


def _article_ids(record: PubmedRecord) -> str:
    ids = f'<ArticleId IdType="pubmed">{record.pmid}</ArticleId>'
    if record.doi:
        ids += f'<ArticleId IdType="doi">{escape(record.doi)}</ArticleId>'
    return f"<ArticleIdList>{ids}</ArticleIdList>"


def _history(record: PubmedRecord) -> str:
    dates = [
        _history_date(status, dt.datetime.combine(day, dt.time()))
        for status, day in record.extra_history
    ]
    dates.append(_history_date("entrez", record.crdt))
    dates.append(_history_date("pubmed", record.crdt.replace(hour=6, minute=0)))
    if record.status == "MEDLINE":
        medline = dt.datetime.combine(record.date_completed or record.crdt.date(), dt.time(6, 1))
        dates.append(_history_date("medline", medline))
    return f"<History>{''.join(dates)}</History>"


def render_record(record: PubmedRecord) -> str:
    """The record as one <PubmedArticle> (or <PubmedBookArticle>) element, no XML declaration."""
    if record.kind == "book":
        return _render_book(record)
    completed = _date_block("DateCompleted", record.date_completed) if record.date_completed else ""
    revised = _date_block("DateRevised", record.date_revised) if record.date_revised else ""
    pagination = (
        f"<Pagination><StartPage>{escape(record.pages.split('-')[0])}</StartPage>"
        f"<MedlinePgn>{escape(record.pages)}</MedlinePgn></Pagination>"
        if record.pages
        else ""
    )
    elocation = (
        f'<ELocationID EIdType="doi" ValidYN="Y">{escape(record.doi)}</ELocationID>'
        if record.doi
        else ""
    )
    if not pagination and not elocation:
        elocation = f'<ELocationID EIdType="pii" ValidYN="Y">S{record.pmid}</ELocationID>'
    volume = f"<Volume>{escape(record.volume)}</Volume>" if record.volume else ""
    issue = f"<Issue>{escape(record.issue)}</Issue>" if record.issue else ""
    vernacular = (
        f"<VernacularTitle>{escape(record.vernacular_title)}</VernacularTitle>"
        if record.vernacular_title
        else ""
    )
    article_date = (
        _date_block("ArticleDate", record.article_date, ' DateType="Electronic"')
        if record.article_date
        else ""
    )
    chemicals = ""
    if record.chemicals:
        chemicals = "<ChemicalList>{}</ChemicalList>".format(
            "".join(
                f"<Chemical><RegistryNumber>{escape(rn)}</RegistryNumber>"
                f'<NameOfSubstance UI="C000000">{escape(name)}</NameOfSubstance></Chemical>'
                for rn, name in record.chemicals
            )
        )
    keywords = ""
    if record.keywords:
        keywords = '<KeywordList Owner="NOTNLM">{}</KeywordList>'.format(
            "".join(
                f'<Keyword MajorTopicYN="N">{escape(word)}</Keyword>' for word in record.keywords
            )
        )
    pub_model = "Print-Electronic" if record.article_date else "Print"
    return (
        f'<PubmedArticle><MedlineCitation Status="{record.status}" Owner="NLM" '
        f'IndexingMethod="Manual"><PMID Version="1">{record.pmid}</PMID>{completed}{revised}'
        f'<Article PubModel="{pub_model}"><Journal>'
        f'<ISSN IssnType="Electronic">{record.issn}</ISSN>'
        f'<JournalIssue CitedMedium="Internet">{volume}{issue}{_pub_date(record)}</JournalIssue>'
        f"<Title>{escape(record.journal)}</Title>"
        f"<ISOAbbreviation>{escape(record.journal_iso)}</ISOAbbreviation></Journal>"
        f"<ArticleTitle>{record.title_xml}</ArticleTitle>{pagination}{elocation}"
        f"{_abstract(record)}{_authors(record)}<Language>{record.language}</Language>"
        f"{_publication_types(record)}{vernacular}{article_date}</Article>"
        f"<MedlineJournalInfo><Country>Testland</Country>"
        f"<MedlineTA>{escape(record.journal_iso)}</MedlineTA>"
        f"<NlmUniqueID>{record.nlm_id}</NlmUniqueID><ISSNLinking>{record.issn}</ISSNLinking>"
        f"</MedlineJournalInfo>{chemicals}<CitationSubset>IM</CitationSubset>"
        f"{_comments(record)}{_mesh(record)}{keywords}</MedlineCitation>"
        f"<PubmedData>{_history(record)}"
        f"<PublicationStatus>{record.publication_status}</PublicationStatus>"
        f"{_article_ids(record)}</PubmedData></PubmedArticle>"
    )


def _render_book(record: PubmedRecord) -> str:
    revised = _date_block("DateRevised", record.date_revised) if record.date_revised else ""
    publisher = (
        f"<Publisher><PublisherName>{escape(record.publisher or 'Fictional Press')}"
        f"</PublisherName><PublisherLocation>{escape(record.publisher_location or 'Nowhere')}"
        "</PublisherLocation></Publisher>"
    )
    pub_types = _publication_types(record).replace("<PublicationTypeList>", "")
    pub_types = pub_types.replace("</PublicationTypeList>", "")
    book_ids = f'<ArticleIdList><ArticleId IdType="bookaccession">NBK9{record.pmid % 100000:05d}'
    book_ids += "</ArticleId></ArticleIdList>"
    return (
        f'<PubmedBookArticle><BookDocument><PMID Version="1">{record.pmid}</PMID>{book_ids}'
        f'<Book>{publisher}<BookTitle book="synthbook">{escape(record.book_title or "")}'
        f"</BookTitle>{_pub_date(record)}</Book>"
        f"<ArticleTitle>{record.title_xml}</ArticleTitle><Language>{record.language}</Language>"
        f"{_authors(record)}{pub_types}{_abstract(record)}{revised}</BookDocument>"
        f"<PubmedBookData>{_history(record)}"
        f"<PublicationStatus>{record.publication_status}</PublicationStatus>"
        f"{_article_ids(record)}</PubmedBookData></PubmedBookArticle>"
    )


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_records(xml: str | bytes, source: str = "<string>") -> list[PubmedRecord]:
    """Every PubmedArticle / PubmedBookArticle in a document (a set or a single element)."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    try:
        root = etree.fromstring(data, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"{source}: not well-formed XML ({exc})") from exc
    if root.tag in ("PubmedArticle", "PubmedBookArticle"):
        elements = [root]
    else:
        elements = [el for el in root if el.tag in ("PubmedArticle", "PubmedBookArticle")]
    return [_parse_element(el, source) for el in elements]


def _inner_xml(element: etree._Element | None) -> str:
    if element is None:
        return ""
    text = escape(element.text or "")
    for child in element:
        text += etree.tostring(child, encoding="unicode", with_tail=True)
    return text


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(path)
    if found is None:
        return None
    return "".join(str(t) for t in found.itertext()).strip()


def _date(element: etree._Element | None) -> dt.date | None:
    if element is None:
        return None
    try:
        return dt.date(
            int(element.findtext("Year") or 0),
            int(element.findtext("Month") or 1),
            int(element.findtext("Day") or 1),
        )
    except ValueError:
        return None


def _month_number(value: str | None) -> int | None:
    if not value:
        return None
    if value.isdigit():
        return int(value)
    return MONTHS.index(value[:3].title()) + 1 if value[:3].title() in MONTHS else None


def _parse_element(element: etree._Element, source: str) -> PubmedRecord:
    """One PubmedArticle or PubmedBookArticle element as a PubmedRecord."""
    book = element.tag == "PubmedBookArticle"
    citation = element.find("BookDocument" if book else "MedlineCitation")
    data = element.find("PubmedBookData" if book else "PubmedData")
    if citation is None:
        raise ParseError(f"{source}: {element.tag} without a citation block")
    pmid = _read_pmid(citation, source)
    crdt, extra_history = _read_history(data, pmid, source)
    # A book's citation block holds the article fields itself.
    article = citation if book else citation.find("Article")
    if article is None:
        raise ParseError(f"{source}: PMID {pmid} has no Article element")
    pub_year, pub_month, pub_day, medline_date = _read_pub_date(
        citation.find("Book/PubDate") if book else article.find("Journal/JournalIssue/PubDate")
    )
    return PubmedRecord(
        pmid=pmid,
        title_xml=_inner_xml(article.find("ArticleTitle")),
        crdt=crdt,
        abstract=_read_abstract(article),
        authors=_read_authors(article),
        journal=(citation.findtext("Book/BookTitle") if book else article.findtext("Journal/Title"))
        or "",
        journal_iso=("" if book else article.findtext("Journal/ISOAbbreviation")) or "",
        issn=article.findtext("Journal/ISSN") or "",
        nlm_id=citation.findtext("MedlineJournalInfo/NlmUniqueID") or "",
        volume=article.findtext("Journal/JournalIssue/Volume"),
        issue=article.findtext("Journal/JournalIssue/Issue"),
        pages=article.findtext("Pagination/MedlinePgn"),
        pub_year=pub_year,
        pub_month=pub_month,
        pub_day=pub_day,
        medline_date=medline_date,
        article_date=_date(article.find("ArticleDate")),
        doi=_read_doi(data if data is not None else element),
        language=article.findtext("Language") or "eng",
        vernacular_title=article.findtext("VernacularTitle"),
        publication_types=_read_publication_types(article, book),
        mesh=_read_mesh(citation),
        chemicals=tuple(
            (chem.findtext("RegistryNumber") or "0", chem.findtext("NameOfSubstance") or "")
            for chem in citation.findall("ChemicalList/Chemical")
        ),
        keywords=tuple((kw.text or "").strip() for kw in citation.findall("KeywordList/Keyword")),
        comments=_read_comments(citation),
        status=citation.get("Status", "Publisher" if book else "MEDLINE"),
        date_completed=_date(citation.find("DateCompleted")),
        date_revised=_date(citation.find("DateRevised")),
        publication_status=(data.findtext("PublicationStatus") if data is not None else None)
        or "ppublish",
        kind="book" if book else "article",
        book_title=citation.findtext("Book/BookTitle") if book else None,
        publisher=citation.findtext("Book/Publisher/PublisherName") if book else None,
        publisher_location=citation.findtext("Book/Publisher/PublisherLocation") if book else None,
        extra_history=extra_history,
    )


def _read_pmid(citation: etree._Element, source: str) -> int:
    pmid_text = citation.findtext("PMID")
    if not pmid_text or not pmid_text.strip().isdigit():
        raise ParseError(f"{source}: record without a numeric PMID")
    return int(pmid_text)


def _read_history(
    data: etree._Element | None, pmid: int, source: str
) -> tuple[dt.datetime, tuple[tuple[str, dt.date], ...]]:
    """The create moment (PubStatus "entrez", with hour and minute) and the other dated steps
    (received, accepted, ...; "pubmed" and "medline" are rendered from the record itself)."""
    crdt: dt.datetime | None = None
    extra_history: list[tuple[str, dt.date]] = []
    for pub_date in data.iter("PubMedPubDate") if data is not None else []:
        status = pub_date.get("PubStatus", "")
        day = _date(pub_date)
        if day is None:
            continue
        if status == "entrez":
            crdt = dt.datetime(
                day.year,
                day.month,
                day.day,
                int(pub_date.findtext("Hour") or 0),
                int(pub_date.findtext("Minute") or 0),
            )
        elif status not in ("pubmed", "medline"):
            extra_history.append((status, day))
    if crdt is None:
        raise ParseError(f'{source}: PMID {pmid} has no PubMedPubDate PubStatus="entrez"')
    return crdt, tuple(extra_history)


def _read_pub_date(
    pub_date: etree._Element | None,
) -> tuple[int | None, int | None, int | None, str | None]:
    """(year, month, day, MedlineDate) of a <PubDate>; all None when there is none."""
    if pub_date is None:
        return None, None, None, None
    year = pub_date.findtext("Year")
    day = pub_date.findtext("Day")
    return (
        int(year) if year and year.isdigit() else None,
        _month_number(pub_date.findtext("Month")),
        int(day) if day and day.isdigit() else None,
        pub_date.findtext("MedlineDate"),
    )


def _read_abstract(article: etree._Element) -> tuple[AbstractPart, ...]:
    return tuple(
        AbstractPart(_inner_xml(part), part.get("Label"), part.get("NlmCategory"))
        for part in article.findall("Abstract/AbstractText")
    )


def _read_authors(article: etree._Element) -> tuple[AuthorEntry, ...]:
    return tuple(
        AuthorEntry(
            last_name=author.findtext("LastName") or author.findtext("CollectiveName") or "",
            fore_name=author.findtext("ForeName") or "",
            initials=author.findtext("Initials") or "",
            affiliation=_text(author, "AffiliationInfo/Affiliation"),
        )
        for author in article.findall("AuthorList/Author")
    )


def _read_publication_types(article: etree._Element, book: bool) -> tuple[str, ...] | None:
    """The publication type names; None when the record has no list at all (a book: none)."""
    if book:
        types = [el.text or "" for el in article.findall("PublicationType")]
        return tuple(types) if types else None
    pt_list = article.find("PublicationTypeList")
    if pt_list is None:
        return None
    return tuple((el.text or "") for el in pt_list.findall("PublicationType"))


def _read_mesh(citation: etree._Element) -> tuple[MeshEntry, ...]:
    entries = []
    for heading in citation.findall("MeshHeadingList/MeshHeading"):
        descriptor = heading.find("DescriptorName")
        entries.append(
            MeshEntry(
                descriptor=(heading.findtext("DescriptorName") or "").strip(),
                ui=descriptor.get("UI", "") if descriptor is not None else "",
                major=descriptor is not None and descriptor.get("MajorTopicYN") == "Y",
                qualifiers=tuple(
                    (q.get("UI", ""), (q.text or "").strip(), q.get("MajorTopicYN") == "Y")
                    for q in heading.findall("QualifierName")
                ),
            )
        )
    return tuple(entries)


def _read_comments(citation: etree._Element) -> tuple[CommentEntry, ...]:
    return tuple(
        CommentEntry(
            ref_type=cc.get("RefType", ""),
            source=cc.findtext("RefSource") or "",
            pmid=int(cc.findtext("PMID") or 0) or None,
        )
        for cc in citation.findall("CommentsCorrectionsList/CommentsCorrections")
    )


def _read_doi(ids_parent: etree._Element) -> str | None:
    """The last ArticleId of type doi (as before: a later one wins)."""
    doi = None
    for article_id in ids_parent.findall("ArticleIdList/ArticleId"):
        if article_id.get("IdType") == "doi":
            doi = article_id.text
    return doi
