"""The article record shared by every stage of the pipeline.

Parsers (PubMed XML, MEDLINE text) produce :class:`Article` objects; the tagger reads them;
the store writes them. They are plain frozen dataclasses with no behaviour that touches the
outside world, so every stage can be tested without a network or a database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

# PubMed's PMIDs are 1..99,999,999 (eight digits at most). Anything else is refused wherever a
# PMID comes in (ESearch ids, EFetch records, imported files), so it can never alias or
# overwrite a stored article.
MAX_PMID = 99_999_999

# CommentsCorrections RefTypes that mean "this article has been retracted".
RETRACTED_REFTYPES = frozenset({"RetractionIn", "RetractedandRepublishedIn"})
# RefTypes that a retraction *notice* carries, pointing at the article it retracts.
RETRACTION_NOTICE_REFTYPES = frozenset({"RetractionOf", "RetractedandRepublishedFrom"})
RETRACTION_NOTICE_TYPE = "Retraction of Publication"  # publication type of a notice


def parse_pmid(value: str | int) -> int:
    """The PMID written in ``value``: ASCII digits (surrounding whitespace allowed) or an int,
    1..MAX_PMID. Raises ValueError with a one-line reason otherwise. Other digits (full-width,
    Arabic-Indic, ...) are refused: Python's int() would read them as another article's PMID."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"PMID {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip()
        digits = text.removeprefix("-")
        if not (digits.isascii() and digits.isdigit()):
            reason = "is not written in ASCII digits" if digits.isdigit() else "is not a number"
            raise ValueError(f"PMID {value!r} {reason}")
        if len(digits) > len(str(MAX_PMID)) + 10:  # far out of range: no huge int() needed
            raise ValueError(f"PMID {value!r} is out of range (1..{MAX_PMID})")
        number = int(text)
    else:
        number = value
    if not 1 <= number <= MAX_PMID:
        raise ValueError(f"PMID {value!r} is out of range (1..{MAX_PMID})")
    return number


@dataclass(frozen=True, slots=True)
class Author:
    last_name: str | None = None
    fore_name: str | None = None
    initials: str | None = None
    collective_name: str | None = None
    affiliations: tuple[str, ...] = ()
    orcid: str | None = None

    @property
    def display_name(self) -> str:
        """ "Last FM" as PubMed shows it, or the collective name."""
        if self.collective_name:
            return self.collective_name
        parts = [p for p in (self.last_name, self.initials or self.fore_name) if p]
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class MeshQualifier:
    name: str
    ui: str | None = None
    major: bool = False


@dataclass(frozen=True, slots=True)
class MeshHeading:
    descriptor: str
    ui: str | None = None
    major: bool = False
    qualifiers: tuple[MeshQualifier, ...] = ()


@dataclass(frozen=True, slots=True)
class Chemical:
    name: str
    registry_number: str | None = None
    ui: str | None = None


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str | None = None
    agency: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class CommentCorrection:
    """One CommentsCorrections entry (RetractionIn, ErratumFor, CommentOn, ...)."""

    ref_type: str
    pmid: int | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class AbstractSection:
    text: str
    label: str | None = None
    category: str | None = None  # NLM category: BACKGROUND, METHODS, RESULTS, ...


@dataclass(frozen=True, slots=True)
class Article:
    """One PubMed record as clean Python values.

    Text fields (title, abstract) are plain text: inline markup such as ``<i>`` or MathML is
    flattened without losing the text around it. Dates that PubMed gives only partly are kept
    as separate integer parts (``pub_year``/``pub_month``/``pub_day``).
    """

    pmid: int
    title: str
    kind: str = "article"  # "article" (PubmedArticle) or "book" (PubmedBookArticle)
    pmid_version: int = 1
    abstract: str = ""  # all sections joined, "LABEL: text" per section, blank line between
    abstract_sections: tuple[AbstractSection, ...] = ()
    vernacular_title: str | None = None
    journal_title: str | None = None
    journal_iso: str | None = None
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None
    pub_year: int | None = None
    pub_month: int | None = None
    pub_day: int | None = None
    medline_date: str | None = None  # raw <MedlineDate>, e.g. "1998 Dec-1999 Jan"
    article_date: dt.date | None = None  # electronic publication date, when given
    entrez_date: dt.date | None = None  # PubMedPubDate PubStatus="entrez" (= CRDT)
    revised_date: dt.date | None = None  # <DateRevised>
    completed_date: dt.date | None = None  # <DateCompleted>
    status: str | None = None  # MedlineCitation/@Status (MEDLINE, In-Process, ...)
    publication_status: str | None = None  # PubmedData/PublicationStatus (ppublish, epublish)
    authors: tuple[Author, ...] = ()
    languages: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    mesh_headings: tuple[MeshHeading, ...] = ()
    chemicals: tuple[Chemical, ...] = ()
    keywords: tuple[str, ...] = ()
    grants: tuple[Grant, ...] = ()
    comments_corrections: tuple[CommentCorrection, ...] = ()
    doi: str | None = None
    pmc_id: str | None = None
    pii: str | None = None
    issn: str | None = None  # the journal's ISSN as the record gives it (print or electronic)
    raw_xml: str = field(default="", repr=False, compare=False)
    source_format: str = "pubmed-xml"  # or "medline"

    @property
    def is_retracted(self) -> bool:
        """True when the record itself says it has been retracted."""
        return "Retracted Publication" in self.publication_types or any(
            cc.ref_type in RETRACTED_REFTYPES for cc in self.comments_corrections
        )

    @property
    def retracts(self) -> tuple[int, ...]:
        """PMIDs of the articles this record is a retraction notice for."""
        return tuple(
            cc.pmid
            for cc in self.comments_corrections
            if cc.ref_type in RETRACTION_NOTICE_REFTYPES and cc.pmid is not None
        )

    @property
    def is_retraction_notice(self) -> bool:
        """The record is a retraction notice (it retracts another article), not a study."""
        return bool(self.retracts) or RETRACTION_NOTICE_TYPE in self.publication_types

    @property
    def year(self) -> int | None:
        return self.pub_year

    @property
    def mesh_terms(self) -> tuple[str, ...]:
        return tuple(h.descriptor for h in self.mesh_headings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (dates as ISO strings), raw XML left out."""
        data = asdict(self)
        data.pop("raw_xml", None)
        for key, value in list(data.items()):
            if isinstance(value, dt.date):
                data[key] = value.isoformat()
        return data


@dataclass(frozen=True, slots=True)
class DeletedCitations:
    """A <DeleteCitation> block: PMIDs NLM has withdrawn from PubMed."""

    pmids: tuple[int, ...]
