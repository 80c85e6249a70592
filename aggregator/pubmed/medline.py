"""Parser for PubMed's MEDLINE export (the tagged text of "Save > PubMed format" and .nbib).

The MEDLINE text is read field by field *in order*, so each affiliation (AD) and ORCID (AUID)
stays with the author it follows and wrapped lines are joined back into one value. (Bio.Medline
groups fields by tag, which loses which AD belongs to which author, and it splits a wrapped
CIN/OT/RN value into two list entries; so it is not used here.)

A record whose PMID is not ASCII digits in PubMed's range is a ParseError, unless the caller
passes ``on_bad_record``: then that callback gets the one-line message and the record is
skipped. A line that is not a MEDLINE field always fails the whole text.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TextIO

from aggregator.article import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
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
    open_binary,
    parse_medline_date,
    valid_day,
)
from aggregator.pubmed.textclean import normalise_space

DEFAULT_SOURCE_NAME = "MEDLINE text"

# MEDLINE tag -> PubMed XML CommentsCorrections RefType.
COMMENT_CORRECTION_TAGS = {
    "CON": "CommentOn",
    "CIN": "CommentIn",
    "EIN": "ErratumIn",
    "EFR": "ErratumFor",
    "CRI": "CorrectedandRepublishedIn",
    "CRF": "CorrectedandRepublishedFrom",
    "PRIN": "PartialRetractionIn",
    "PROF": "PartialRetractionOf",
    "RPI": "RepublishedIn",
    "RPF": "RepublishedFrom",
    "RIN": "RetractionIn",
    "ROF": "RetractionOf",
    "RRI": "RetractedandRepublishedIn",
    "RRF": "RetractedandRepublishedFrom",
    "SPIN": "SummaryForPatientsIn",
    "ORI": "OriginalReportIn",
    "UIN": "UpdateIn",
    "UOF": "UpdateOf",
    "ECI": "ExpressionOfConcernIn",
    "ECF": "ExpressionOfConcernFor",
}

_DP_STRUCTURED = re.compile(r"^(\d{4})(?: ([A-Za-z]{3,9}|\d{1,2})(?: (\d{1,2}))?)?$")
_TYPED_ID = re.compile(r"^(.*?)\s*\[([A-Za-z-]+)\]$")
_REF_PMID = re.compile(r"\s*PMID:\s*([0-9]+)\b.*$")  # ASCII digits: \d would take any script
_CHEMICAL = re.compile(r"^(\S+)\s+\((.*)\)$")
# A section label of a structured abstract as MEDLINE prints it: upper case, at the start or
# after the end of a sentence ("... trial. METHODS: ...").
_SECTION_LABEL = re.compile(r"(?:^|(?<=[.?!)\]] ))([A-Z][A-Z0-9 ,&/'-]{2,60}): ")


def _issn(values: list[str]) -> str | None:
    """The journal's ISSN: the first IS line that is not the linking ISSN (as PubMed XML's
    Journal/ISSN holds the print or electronic one), without its "(Print)" note."""
    for value in values:
        if not value.rstrip().endswith("(Linking)"):
            return value.split("(")[0].strip() or None
    return None


def iter_medline(
    source: str | os.PathLike[str] | TextIO,
    *,
    source_name: str | None = None,
    on_bad_record: Callable[[str], None] | None = None,
) -> Iterator[Article]:
    """Yield one Article per record of a MEDLINE-format export.

    ``source`` is a file path, a str holding MEDLINE text (starting with "PMID-"), or a text
    file object. Raises ParseError naming the source and line for text that is not MEDLINE, and
    for a bad record unless ``on_bad_record`` is given (called with the message; record skipped).
    """
    if isinstance(source, str) and source.lstrip().startswith("PMID-"):
        lines: Iterable[str] = source.splitlines()
        name = source_name or DEFAULT_SOURCE_NAME
        yield from _parse_lines(lines, name, on_bad_record)
    elif isinstance(source, str | os.PathLike):
        path = os.fspath(source)
        name = source_name or path
        with open_binary(path, name) as stream:
            yield from _parse_lines(_decoded_lines(stream, name), name, on_bad_record)
    else:
        name = source_name or getattr(source, "name", None) or DEFAULT_SOURCE_NAME
        yield from _parse_lines(source, name, on_bad_record)


def _decoded_lines(stream: IO[bytes], name: str) -> Iterator[str]:
    try:
        for number, raw in enumerate(stream, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise ParseError(f"{name}: line {number} is not valid UTF-8") from None
            yield line.removeprefix("\ufeff") if number == 1 else line
    except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
        raise ParseError(f"{name}: cannot read file: {exc}") from None


def _parse_lines(
    lines: Iterable[str], name: str, on_bad_record: Callable[[str], None] | None
) -> Iterator[Article]:
    # (tag, parts) in file order: a field's first value, then its non-blank continuation lines,
    # joined once per record. (Appending each line to the value so far copied the whole value
    # every line: quadratic, 41 s for one field of 40,000 lines.)
    fields: list[tuple[str, list[str]]] = []
    raw: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if line.startswith("      ") and fields:
            # A continuation line (blank ones included) extends the previous field.
            part = line.strip()
            if part:
                fields[-1][1].append(part)
            raw.append(line)
            continue
        if not line.strip():
            if fields:
                yield from _record(fields, raw, name, start, on_bad_record)
                fields, raw = [], []
            continue
        if len(line) < 5 or line[4] != "-" or not line[:4].strip() or line[0] == " ":
            raise ParseError(f"{name}: line {number} is not a MEDLINE field: {line[:40]!r}")
        if not fields:
            start = number
        fields.append((line[:4].rstrip(), [line[5:].strip()]))
        raw.append(line)
    if fields:
        yield from _record(fields, raw, name, start, on_bad_record)


def _record(
    fields: list[tuple[str, list[str]]],
    raw: list[str],
    name: str,
    line: int,
    on_bad_record: Callable[[str], None] | None,
) -> Iterator[Article]:
    """The record's Article, or nothing (after telling ``on_bad_record``) when it is bad."""
    try:
        article = _article(_joined(fields), "\n".join(raw), name, line)
    except (ValueError, OverflowError) as exc:  # a value no field reader expected
        problem = ParseError(f"{name}: bad record at line {line}: {exc}")
    except ParseError as exc:
        problem = exc
    else:
        yield article
        return
    if on_bad_record is None:
        raise problem
    on_bad_record(str(problem))


def _joined(fields: list[tuple[str, list[str]]]) -> list[list[str]]:
    """[tag, value] pairs, each value its parts joined by single spaces."""
    return [[tag, " ".join(parts)] for tag, parts in fields]


def _article(fields: list[list[str]], raw: str, name: str, line: int) -> Article:
    first: dict[str, str] = {}
    every: dict[str, list[str]] = {}
    for tag, value in fields:
        first.setdefault(tag, value)
        every.setdefault(tag, []).append(value)
    pmid_text = first.get("PMID", "")
    if not pmid_text.isdigit():
        raise ParseError(f"{name}: record at line {line} has no numeric PMID")
    try:
        pmid = parse_pmid(pmid_text)
    except ValueError as exc:
        raise ParseError(f"{name}: record at line {line}: {exc}") from None
    abstract_text = normalise_space(first.get("AB", ""))
    sections = split_abstract(abstract_text)
    year, month, day, medline_date = _dp(normalise_space(first.get("DP", "")))
    ids = _typed_ids(every.get("LID", []) + every.get("AID", []))
    entrez = _slash_date(first.get("CRDT")) or _history_date(every.get("PHST", []), "entrez")
    values: dict[str, Any] = {
        "pmid": pmid,
        "title": normalise_space(first.get("TI", "")),
        "abstract": join_abstract(sections),
        "abstract_sections": sections,
        "vernacular_title": normalise_space(first.get("TT", "")) or None,
        "journal_title": first.get("JT") or None,
        "journal_iso": first.get("TA") or None,
        "volume": first.get("VI") or None,
        "issue": first.get("IP") or None,
        "pages": first.get("PG") or None,
        "pub_year": year,
        "pub_month": month,
        "pub_day": day,
        "medline_date": medline_date,
        "article_date": _compact_date(first.get("DEP")),
        "entrez_date": entrez or _slash_date(first.get("EDAT")),
        "revised_date": _compact_date(first.get("LR")),
        "completed_date": _compact_date(first.get("DCOM")),
        "status": first.get("STAT") or None,
        "publication_status": first.get("PST") or None,
        "authors": _authors(fields),
        "languages": tuple(every.get("LA", [])),
        "publication_types": tuple(every.get("PT", [])),
        "mesh_headings": tuple(_mesh_heading(v) for v in every.get("MH", [])),
        "chemicals": tuple(_chemical(v) for v in every.get("RN", [])),
        "keywords": tuple(normalise_space(v) for v in every.get("OT", [])),
        "grants": tuple(_grant(v) for v in every.get("GR", [])),
        "comments_corrections": tuple(
            _comment_correction(COMMENT_CORRECTION_TAGS[tag], value)
            for tag, value in fields
            if tag in COMMENT_CORRECTION_TAGS
        ),
        "doi": ids.get("doi"),
        "pmc_id": first.get("PMC") or None,
        "pii": ids.get("pii"),
        "issn": _issn(every.get("IS", [])),
        "raw_xml": raw,
        "source_format": "medline",
    }
    return Article(**values)


def split_abstract(text: str) -> tuple[AbstractSection, ...]:
    """Sections of a MEDLINE abstract; labelled only when it starts with an upper-case label."""
    if not text:
        return ()
    matches = list(_SECTION_LABEL.finditer(text))
    if not matches or matches[0].start() != 0:
        return (AbstractSection(text=text),)
    sections = []
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end() : end].strip()
        sections.append(AbstractSection(text=body, label=match.group(1)))
    return tuple(sections)


def _dp(text: str) -> tuple[int | None, int | None, int | None, str | None]:
    """DP is either a structured date ("2009 Jun 1", "1990 Spring") or a MedlineDate."""
    if not text:
        return None, None, None, None
    match = _DP_STRUCTURED.match(text)
    if match and (match.group(2) is None or month_number(match.group(2)) is not None):
        dp_year = int(match.group(1))
        dp_month = month_number(match.group(2))
        day_text = match.group(3)
        dp_day = valid_day(dp_year, dp_month, int(day_text) if day_text else None)
        return dp_year, dp_month, dp_day, None
    year, month, day = parse_medline_date(text)
    return year, month, day, text


def _compact_date(text: str | None) -> dt.date | None:
    """Parse "20090709" -> date."""
    if not text or len(text) < 8 or not text[:8].isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _slash_date(text: str | None) -> dt.date | None:
    """Parse "2009/03/24 09:00" -> date."""
    if not text:
        return None
    try:
        return dt.datetime.strptime(text.split()[0], "%Y/%m/%d").date()
    except ValueError:
        return None


def _history_date(values: list[str], status: str) -> dt.date | None:
    for value in values:
        if value.endswith(f"[{status}]"):
            return _slash_date(value)
    return None


def _typed_ids(values: list[str]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for value in values:
        match = _TYPED_ID.match(value)
        if match:
            ids.setdefault(match.group(2).lower(), match.group(1))
    return ids


def _authors(fields: list[list[str]]) -> tuple[Author, ...]:
    authors: list[dict[str, Any]] = []
    for tag, value in fields:
        current = authors[-1] if authors else None
        if tag == "FAU":
            last, _, fore = value.partition(", ")
            authors.append({"last_name": last or None, "fore_name": fore or None})
        elif tag == "AU":
            if current is not None and "initials" not in current and "collective" not in current:
                current["initials"] = _initials(value, current.get("last_name"))
            else:  # an AU with no FAU before it (older records)
                last, _, initials = value.rpartition(" ")
                authors.append({"last_name": last or value, "initials": initials if last else None})
        elif tag == "CN":
            authors.append({"collective": value})
        elif tag == "AD" and current is not None:
            current.setdefault("affiliations", []).append(normalise_space(value))
        elif tag == "AUID" and current is not None and value.upper().startswith("ORCID"):
            current["orcid"] = normalise_orcid(value)
    return tuple(
        Author(
            last_name=a.get("last_name"),
            fore_name=a.get("fore_name"),
            initials=a.get("initials"),
            collective_name=a.get("collective"),
            affiliations=tuple(a.get("affiliations", ())),
            orcid=a.get("orcid"),
        )
        for a in authors
    )


def _initials(au: str, last_name: str | None) -> str | None:
    if last_name and au.startswith(last_name + " "):
        return au[len(last_name) + 1 :].strip() or None
    if last_name and au == last_name:
        return None
    _, _, initials = au.rpartition(" ")
    return initials or None


def _mesh_heading(value: str) -> MeshHeading:
    """Parse "Migraine Disorders/*drug therapy/prevention & control" -> MeshHeading."""
    descriptor, *qualifiers = value.split("/")
    return MeshHeading(
        descriptor=descriptor.lstrip("*").strip(),
        major=descriptor.startswith("*"),
        qualifiers=tuple(
            MeshQualifier(name=q.lstrip("*").strip(), major=q.startswith("*")) for q in qualifiers
        ),
    )


def _chemical(value: str) -> Chemical:
    """Parse "I38ZP9992A (Magnesium Oxide)" -> Chemical."""
    match = _CHEMICAL.match(value)
    if not match:
        return Chemical(name=value)
    return Chemical(name=match.group(2), registry_number=match.group(1))


def _grant(value: str) -> Grant:
    """Parse "R01 XX000001/XX/Invented Agency/United States" (id/acronym/agency/country)."""
    parts = value.split("/")
    if len(parts) >= 4:
        return Grant(grant_id="/".join(parts[:-3]) or None, agency=parts[-2], country=parts[-1])
    if len(parts) == 3:
        return Grant(grant_id=parts[0] or None, agency=parts[1], country=parts[2])
    if len(parts) == 2:
        return Grant(grant_id=parts[0] or None, agency=parts[1])
    return Grant(grant_id=value or None)


def _comment_correction(ref_type: str, value: str) -> CommentCorrection:
    """Parse "Journal 2020;1:2 PMID: 99000123" -> CommentCorrection."""
    match = _REF_PMID.search(value)
    if not match:
        return CommentCorrection(ref_type=ref_type, source=value or None)
    # MEDLINE prints "<RefSource>. PMID: n"; the full stop is not part of the source.
    source = value[: match.start()].strip().removesuffix(".")
    try:
        pmid: int | None = parse_pmid(match.group(1))
    except ValueError:
        pmid = None  # a reference we cannot follow, not a reason to drop the record
    return CommentCorrection(ref_type=ref_type, pmid=pmid, source=source or None)
