"""MEDLINE text rendering (efetch rettype=medline&retmode=text) of :class:`PubmedRecord`."""

from __future__ import annotations

import textwrap

from aggregator.pubmed.fake.records import MONTHS, PubmedRecord

# MEDLINE tags for CommentsCorrections RefTypes.
COMMENT_TAGS = {
    "RetractionOf": "ROF",
    "RetractionIn": "RIN",
    "CommentOn": "CON",
    "CommentIn": "CIN",
    "ErratumIn": "EIN",
    "ErratumFor": "EFR",
    "UpdateIn": "UIN",
    "UpdateOf": "UOF",
    "ExpressionOfConcernIn": "ECI",
    "ExpressionOfConcernFor": "ECF",
}


def _field(tag: str, value: str) -> list[str]:
    """One tag, wrapped at 80 columns with 6-space continuation lines as NLM does."""
    prefix = f"{tag:<4}- "
    lines = textwrap.wrap(value, width=80 - len(prefix), break_long_words=False) or [""]
    return [prefix + lines[0]] + ["      " + line for line in lines[1:]]


def _display_date(record: PubmedRecord) -> str:
    if record.medline_date:
        return record.medline_date
    parts = [str(record.pub_year or record.crdt.year)]
    if record.pub_month:
        parts.append(MONTHS[record.pub_month - 1])
        if record.pub_day:
            parts.append(str(record.pub_day))
    return " ".join(parts)


def render_medline(record: PubmedRecord) -> str:
    """One record in MEDLINE display format (no trailing blank line)."""
    out: list[str] = []

    def add(tag: str, value: str | None) -> None:
        if value:
            out.extend(_field(tag, value))

    add("PMID", str(record.pmid))
    add("OWN", "NLM")
    add("STAT", record.status)
    if record.date_completed:
        add("DCOM", record.date_completed.strftime("%Y%m%d"))
    if record.date_revised:
        add("LR", record.date_revised.strftime("%Y%m%d"))
    if record.kind == "article":
        add("IS", f"{record.issn} (Electronic)")
        add("VI", record.volume)
        add("IP", record.issue)
    add("DP", _display_date(record))
    add("TI", record.title)
    if record.kind == "book":
        add("BTI", record.book_title)
    add("PG", record.pages)
    if record.doi:
        add("LID", f"{record.doi} [doi]")
    sections = record.abstract_texts
    add("AB", " ".join(f"{label}: {text}" if label else text for label, text in sections))
    for author in record.authors:
        add("FAU", f"{author.last_name}, {author.fore_name}".rstrip(", "))
        add("AU", f"{author.last_name} {author.initials}".strip())
        add("AD", author.affiliation)
    add("LA", record.language)
    for publication_type in record.publication_types or ():
        add("PT", publication_type)
    if record.article_date:
        add("DEP", record.article_date.strftime("%Y%m%d"))
    if record.kind == "article":
        add("PL", "Testland")
        add("TA", record.journal_iso)
        add("JT", record.journal)
        add("JID", record.nlm_id)
    else:
        add("PB", record.publisher)
    for registry_number, name in record.chemicals:
        add("RN", f"{registry_number} ({name})")
    if record.kind == "article":
        add("SB", "IM")
    for comment in record.comments:
        tag = COMMENT_TAGS.get(comment.ref_type)
        if tag:
            pmid = f" PMID: {comment.pmid}" if comment.pmid else ""
            add(tag, f"{comment.source}{pmid}")
    for heading in record.mesh:
        text = ("*" if heading.major else "") + heading.descriptor
        for _ui, qualifier, major in heading.qualifiers:
            text += "/" + ("*" if major else "") + qualifier
        add("MH", text)
    for keyword in record.keywords:
        add("OT", keyword)
    stamp = record.crdt.strftime("%Y/%m/%d %H:%M")
    add("EDAT", record.edat.strftime("%Y/%m/%d") + " " + record.crdt.strftime("%H:%M"))
    add("CRDT", stamp)
    for status, day in record.extra_history:
        add("PHST", f"{day.strftime('%Y/%m/%d')} 00:00 [{status}]")
    add("PHST", f"{stamp} [entrez]")
    if record.doi:
        add("AID", f"{record.doi} [doi]")
    add("PST", record.publication_status)
    add("SO", _source(record))
    return "\n".join(out)


def _source(record: PubmedRecord) -> str:
    if record.kind == "book":
        return f"{record.book_title}. {record.publisher_location}: {record.publisher}; " + (
            f"{_display_date(record)}."
        )
    text = f"{record.journal_iso}. {_display_date(record)}"
    if record.volume:
        text += f";{record.volume}"
        if record.issue:
            text += f"({record.issue})"
    if record.pages:
        text += f":{record.pages}"
    text += "."
    if record.doi:
        text += f" doi: {record.doi}."
    return text


def render_medline_set(records: list[PubmedRecord]) -> str:
    """Records separated by blank lines, starting with a blank line like NCBI's output."""
    return "".join("\n" + render_medline(record) + "\n" for record in records)
