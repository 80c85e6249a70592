"""Output formats for article lists: table, JSON, CSV, RIS, BibTeX, CSL-JSON and PMIDs.

:func:`article_record` turns one article and its tags into the JSON object every command
prints; :func:`write_records` writes a list of them in any of :data:`FORMATS`. RIS, BibTeX and
CSL-JSON need the :class:`~aggregator.article.Article` itself (volume, pages, MeSH, ISSN) and
import into Zotero, EndNote and reference managers alike (CSL-JSON is the most faithful for
Zotero). RIS is written with ``rispy``. CSV cells that a spreadsheet would read as a formula
are neutralised (:func:`aggregator.textsafe.csv_safe`). Nothing here touches the database.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import orjson
import rispy

from aggregator.article import Article, Author
from aggregator.findings import HEADLINE_FIELDS, result_words
from aggregator.textsafe import csv_safe
from aggregator.vocab import NO_DESIGN_DECISION, STUDY_TYPE_LABELS, TAG_KINDS, ArticleTags, Tag

if TYPE_CHECKING:  # the store's types, without loading the database layer
    from aggregator.store.articles import StoredArticle

FORMATS: tuple[str, ...] = ("table", "json", "csv", "ris", "bibtex", "csl-json", "pmid")
# Formats written from whole Articles (not only the listed record fields).
ARTICLE_FORMATS: tuple[str, ...] = ("ris", "bibtex", "csl-json")
# The JSON object's keys, in order; CSV uses the same columns except the provenance list.
# Keys are only ever added (at the end), so scripts reading them keep working.
RECORD_KEYS: tuple[str, ...] = (
    "pmid",
    "title",
    "year",
    "journal",
    "doi",
    "publication_types",
    "forms",
    "routes",
    "conditions",
    "study_type",
    "evidence_level",
    "combination_product",
    "population",
    "retracted",
    "tags",
    "evidence_class",
    "authors",
    "abstract",
    # The tagger's design decision (its cues are in "tags", kind design_cue) and what the
    # study found, as the abstract states it (null: not stated, or not extracted yet):
    "design_confidence",
    "design_explanation",
    *HEADLINE_FIELDS,
    "reported_result_text",  # the result in words: "authors report ..."
    "findings",  # the whole Findings.to_dict() with its provenance, or null
)
# Objects that CSV leaves out: the provenance lists (the flat values stay).
NESTED_KEYS: frozenset[str] = frozenset({"tags", "findings"})
CSV_COLUMNS: tuple[str, ...] = tuple(key for key in RECORD_KEYS if key not in NESTED_KEYS)
LIST_SEPARATOR = "; "
PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
DOI_URL = "https://doi.org/{doi}"
PMC_URL = "https://www.ncbi.nlm.nih.gov/pmc/articles/{pmc}/"
DEFAULT_WIDTH = 100


class RecordSource(Protocol):
    """What an export record is built from: an article as listed (the store's ListedArticle)
    or a whole parsed article (:class:`ArticleFields`)."""

    @property
    def pmid(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def year(self) -> int | None: ...
    @property
    def journal(self) -> str | None: ...
    @property
    def doi(self) -> str | None: ...
    @property
    def publication_types(self) -> Sequence[str]: ...
    @property
    def retracted(self) -> bool: ...
    @property
    def tags(self) -> ArticleTags | None: ...
    @property
    def authors(self) -> Sequence[str]: ...
    @property
    def abstract(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ArticleFields:
    """A parsed article and its tags as a :class:`RecordSource`."""

    pmid: int
    title: str
    year: int | None
    journal: str | None
    doi: str | None
    publication_types: Sequence[str]
    retracted: bool
    tags: ArticleTags | None
    authors: Sequence[str] = ()  # display names, "Example A"
    abstract: str = ""


def build_record(source: RecordSource) -> dict[str, Any]:
    """The JSON object every command prints for one article: bibliographic fields, tags and
    their provenance (the one place that defines it). Untagged articles get empty lists and
    nulls."""
    tags = source.tags
    return {
        "pmid": source.pmid,
        "title": source.title,
        "year": source.year,
        "journal": source.journal,
        "doi": source.doi,
        "publication_types": list(source.publication_types),
        "forms": list(tags.forms) if tags else [],
        "routes": list(tags.routes) if tags else [],
        "conditions": list(tags.conditions) if tags else [],
        "study_type": tags.study_type if tags else None,
        "evidence_level": tags.evidence_level if tags else None,
        "combination_product": tags.combination_product if tags else None,
        "population": list(tags.population) if tags else [],
        "retracted": source.retracted,
        "tags": [
            {"kind": t.kind, "value": t.value, "field": t.field, "snippet": t.snippet}
            for t in (tags.tags if tags else ())
        ],
        "evidence_class": (tags.evidence_class or None) if tags else None,
        "authors": list(source.authors),
        "abstract": source.abstract,
        **design_and_findings(tags),
    }


def design_and_findings(tags: ArticleTags | None) -> dict[str, Any]:
    """The record's design and findings keys: the design's confidence and explanation, the
    five findings values, the reported result in words ("authors report ...") and the whole
    findings object; null when untagged or extracted by no rules yet (stored before
    revision 0009 and not re-tagged)."""
    design = tags.design if tags is not None else NO_DESIGN_DECISION
    findings = tags.findings if tags is not None else None
    whole = findings.to_dict() if findings is not None else None
    known = design != NO_DESIGN_DECISION
    return {
        "design_confidence": design.confidence if known else None,
        "design_explanation": design.explanation if known else None,
        **{name: whole[name] if whole else None for name in HEADLINE_FIELDS},
        "reported_result_text": result_words(
            findings.reported_result if findings else None, tags.study_type if tags else None
        ),
        "findings": whole,
    }


def article_record(
    article: Article, tags: ArticleTags | None, *, retracted: bool | None = None
) -> dict[str, Any]:
    """:func:`build_record` of a parsed article. ``retracted`` is what the store knows (a
    notice may have arrived after the record); it defaults to what the record itself says."""
    return build_record(
        ArticleFields(
            pmid=article.pmid,
            title=article.title,
            year=article.pub_year,
            journal=article.journal_title or article.journal_iso,
            doi=article.doi,
            publication_types=article.publication_types,
            retracted=article.is_retracted if retracted is None else retracted,
            tags=tags,
            authors=[a.display_name for a in article.authors],
            abstract=article.abstract,
        )
    )


def _links(article: Article) -> dict[str, str]:
    links = {"pubmed": PUBMED_URL.format(pmid=article.pmid)}
    if article.doi:
        links["doi"] = DOI_URL.format(doi=article.doi)
    if article.pmc_id:
        pmc = article.pmc_id if article.pmc_id.upper().startswith("PMC") else f"PMC{article.pmc_id}"
        links["pmc"] = PMC_URL.format(pmc=pmc)
    return links


def article_document(stored: StoredArticle, history: Sequence[Any]) -> dict[str, Any]:
    """The whole record as JSON: the query object plus every parsed field, links,
    retraction status, bookkeeping and the revision history."""
    article = stored.article
    return {
        **article_record(article, stored.tags, retracted=stored.retracted),
        "article": article.to_dict(),
        "rules_version": stored.tags.rules_version if stored.tags else None,
        "links": _links(article),
        "retraction": {
            "retracted": stored.retracted,
            "retracted_at": stored.retracted_at.isoformat() if stored.retracted_at else None,
            "notice_pmid": stored.retraction_notice_pmid,
        },
        "stored": {
            "source": stored.source,
            "first_seen_at": stored.first_seen_at.isoformat(),
            "last_updated_at": stored.last_updated_at.isoformat(),
            "last_fetched_at": stored.last_fetched_at.isoformat(),
            "saved_searches": list(stored.query_names),
        },
        "history": [
            {
                "seen_at": rev.seen_at.isoformat(),
                "run_id": rev.run_id,
                "changed_fields": list(rev.changed_fields),
                "old_values": rev.old_values,
                "new_values": rev.new_values,
            }
            for rev in history
        ],
    }


def provenance_in_order(tags: ArticleTags | None) -> list[Tag]:
    """The provenance tags of an article, grouped by kind in vocabulary order (for reading)."""
    if tags is None:
        return []
    order = {kind: i for i, kind in enumerate(TAG_KINDS)}
    return sorted(tags.tags, key=lambda t: (order.get(t.kind, len(order)), t.value, t.field))


def write_records(
    records: Sequence[dict[str, Any]],
    fmt: str,
    out: TextIO,
    *,
    articles: Sequence[Article] | None = None,
) -> None:
    """Write records (from :func:`article_record`) as table, json, csv, ris or bibtex.

    RIS and BibTeX need ``articles`` (same order as ``records``) for authors, volume, pages.
    """
    if fmt in ARTICLE_FORMATS and (articles is None or len(articles) != len(records)):
        raise ValueError(f"{fmt} output needs the Article of every record")
    if fmt == "table":
        write_table(records, out)
        return
    paired: list[tuple[dict[str, Any], Article | None]] = [
        (record, articles[i] if articles is not None else None) for i, record in enumerate(records)
    ]
    write_stream(paired, fmt, out)


def write_stream(
    items: Iterable[tuple[dict[str, Any], Article | None]], fmt: str, out: TextIO
) -> int:
    """Write (record, article) pairs one at a time as json, csv, ris or bibtex, so an export
    never holds every article in memory; returns how many were written. The output is the
    same as :func:`write_records` gives for the whole list."""
    count = 0
    if fmt == "json":
        for record, _article in items:
            out.write(("[\n  " if count == 0 else ",\n  ") + record_json(record, "  "))
            count += 1
        out.write("[]\n" if count == 0 else "\n]\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for record, _article in items:
            writer.writerow([csv_safe(_cell(record.get(column))) for column in CSV_COLUMNS])
            count += 1
    elif fmt == "pmid":
        for record, _article in items:
            out.write(f"{record['pmid']}\n")
            count += 1
    elif fmt == "csl-json":
        for record, article in items:
            if article is None:
                raise ValueError(f"{fmt} output needs the Article of every record")
            item = record_json(csl_item(article, record), "  ")
            out.write(("[\n  " if count == 0 else ",\n  ") + item)
            count += 1
        out.write("[]\n" if count == 0 else "\n]\n")
    elif fmt in ("ris", "bibtex"):
        entry = ris_entry if fmt == "ris" else bibtex_entry
        for record, article in items:
            if article is None:
                raise ValueError(f"{fmt} output needs the Article of every record")
            out.write(entry(article, record))
            count += 1
    else:
        valid = ", ".join(f for f in FORMATS if f != "table")
        raise ValueError(f"unknown output format {fmt!r}; valid: {valid}")
    return count


def record_json(record: dict[str, Any], margin: str = "") -> str:
    """``json.dumps(record, ensure_ascii=False, indent=2)`` with ``margin`` after every line
    break, the same text for what records hold (strings, integers, booleans, None, lists,
    dicts), written by orjson: json.dumps with an indent uses the slow pure-Python encoder,
    and a page of records spent more time there than in the database."""
    try:
        text = orjson.dumps(record, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: the standard encoder
        text = json.dumps(record, ensure_ascii=False, indent=2)
    return text.replace("\n", "\n" + margin) if margin else text


# ---- table and CSV -------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(_cell(v) for v in value)
    return str(value)


def write_rows(header: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO) -> None:
    """Aligned columns with a header line; the last column is cut to the terminal width."""
    width = terminal_width(out)
    cells = [[_cell(v).replace("\n", " ") for v in row] for row in rows]
    widths = [len(h) for h in header]
    for row in cells:
        for i, value in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(value))
    used = sum(widths[:-1]) + 2 * (len(header) - 1)
    last_width = max(10, width - used)

    def line(values: Sequence[str]) -> str:
        head = "  ".join(v.ljust(w) for v, w in zip(values[:-1], widths[:-1], strict=True))
        return f"{head}  {truncate(values[-1], last_width)}".rstrip()

    out.write(line(list(header)) + "\n")
    for row in cells:
        out.write(line(row) + "\n")


def write_table(records: Sequence[dict[str, Any]], out: TextIO) -> None:
    """pmid / year / study type / level / sample size / forms / title, title cut to the
    terminal width."""
    rows = [
        [
            r["pmid"],
            r.get("year"),
            STUDY_TYPE_LABELS.get(r.get("study_type") or "", r.get("study_type") or ""),
            r.get("evidence_level"),
            r.get("sample_size"),
            ",".join(r.get("forms") or ()),
            ("[RETRACTED] " if r.get("retracted") else "") + (r.get("title") or ""),
        ]
        for r in records
    ]
    write_rows(("PMID", "YEAR", "STUDY TYPE", "LEVEL", "N", "FORMS", "TITLE"), rows, out)


def terminal_width(out: TextIO) -> int:
    """Columns of the terminal ``out`` writes to ($COLUMNS wins; 100 when not a terminal)."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    try:
        if out.isatty():
            return shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    except (AttributeError, ValueError):
        pass
    return DEFAULT_WIDTH


def truncate(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "\u2026"


# ---- RIS -----------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _split_pages(pages: str | None) -> tuple[str | None, str | None]:
    if not pages:
        return None, None
    first, _, last = pages.partition("-")
    first, last = first.strip(), last.strip()
    if last and first and len(last) < len(first) and first[: len(first) - len(last)].isdigit():
        # MEDLINE abbreviates page ranges: 1021-9 means 1021-1029.
        last = first[: len(first) - len(last)] + last
    return first or None, last or None


def _keywords(record: dict[str, Any]) -> list[str]:
    """Our tags as human-readable keywords (reference managers show them as tags)."""
    words = [f"Magnesium form: {form}" for form in record.get("forms") or ()]
    if record.get("study_type"):
        label = STUDY_TYPE_LABELS.get(record["study_type"], record["study_type"])
        words.append(f"Study type: {label}")
    if record.get("evidence_level") is not None:
        words.append(f"Evidence level: {record['evidence_level']}")
    if record.get("evidence_class"):
        words.append(f"Evidence: {record['evidence_class']}")
    if record.get("retracted"):
        words.append("Retracted")
    return words


def mesh_keywords(article: Article) -> list[str]:
    """The article's MeSH descriptors, in record order (one keyword each)."""
    return list(dict.fromkeys(h.descriptor for h in article.mesh_headings))


def _ris_author(author: Author) -> str:
    if author.collective_name:
        return author.collective_name
    if author.fore_name:
        return f"{author.last_name}, {author.fore_name}"
    return author.last_name or author.initials or ""


def _ris_date(article: Article) -> str | None:
    """RIS DA: YYYY/MM/DD/ with the parts known (2025/11//, 2025///)."""
    if not article.pub_year:
        return None
    month = f"{article.pub_month:02d}" if article.pub_month else ""
    day = f"{article.pub_day:02d}" if article.pub_month and article.pub_day else ""
    return f"{article.pub_year}/{month}/{day}/"


class _RisWriter(rispy.RisWriter):
    """rispy's writer without its "1." numbering line, with M2 (Zotero's Extra)."""

    DEFAULT_MAPPING = {**rispy.TAG_KEY_MAPPING, "M2": "extra"}

    def set_header(self, count: int) -> str:
        return ""


_RIS_WRITER = _RisWriter()


def ris_entry(article: Article, record: dict[str, Any]) -> str:
    """One RIS record (ends with "ER  - "), written by rispy: PMID in AN (EndNote) and as
    "PMID: n" in M2 (Zotero's Extra, where Zotero keeps PMIDs), MeSH descriptors and our tags
    as keywords, ISSN, languages, the full publication date and the URL."""
    start, end = _split_pages(article.pages)
    values: list[tuple[str, Any]] = [
        ("type_of_reference", "BOOK" if article.kind == "book" else "JOUR"),
        ("authors", [_ris_author(a) for a in article.authors]),
        ("title", article.title),
        ("secondary_title", article.journal_title),
        ("alternate_title1", article.journal_iso),
        ("year", str(article.pub_year) if article.pub_year else None),
        ("date", _ris_date(article)),
        ("volume", article.volume),
        ("number", article.issue),
        ("start_page", start),
        ("end_page", end),
        ("issn", article.issn),
        ("language", "; ".join(article.languages)),
        ("doi", article.doi),
        ("accession_number", str(article.pmid)),
        ("extra", f"PMID: {article.pmid}"),
        ("urls", [PUBMED_URL.format(pmid=article.pmid)]),
        ("abstract", article.abstract),
        ("keywords", mesh_keywords(article) + _keywords(record)),
        ("notes", ["This article has been retracted."] if record.get("retracted") else []),
        ("name_of_database", "PubMed"),
        ("database_provider", "NLM"),
    ]
    entry: dict[str, Any] = {}
    for key, value in values:
        if isinstance(value, list):
            lines = [_one_line(v) for v in value if v and _one_line(v)]
            if lines:
                entry[key] = lines
        elif value and _one_line(value):
            entry[key] = _one_line(value)
    return _RIS_WRITER.formats([entry]) + "\n"


# ---- CSL-JSON ------------------------------------------------------------------------------


def _csl_author(author: Author) -> dict[str, str]:
    if author.collective_name:
        return {"literal": author.collective_name}
    name = {"family": author.last_name or author.initials or ""}
    given = author.fore_name or author.initials
    if given and author.last_name:
        name["given"] = given
    return name


def csl_item(article: Article, record: dict[str, Any]) -> dict[str, Any]:
    """One CSL-JSON item (the format citation processors and Zotero read most faithfully):
    PMID, PMCID, DOI and ISSN as CSL variables, MeSH and our tags as keywords."""
    parts = [p for p in (article.pub_year, article.pub_month) if p]
    if article.pub_year and article.pub_month and article.pub_day:
        parts.append(article.pub_day)
    pmc = article.pmc_id
    if pmc and not pmc.upper().startswith("PMC"):
        pmc = f"PMC{pmc}"
    item: dict[str, Any] = {
        "id": f"pmid{article.pmid}",
        "type": "book" if article.kind == "book" else "article-journal",
        "title": article.title,
        "container-title": article.journal_title,
        "container-title-short": article.journal_iso,
        "author": [_csl_author(a) for a in article.authors],
        "issued": {"date-parts": [parts]} if parts else None,
        "volume": article.volume,
        "issue": article.issue,
        "page": article.pages,
        "ISSN": article.issn,
        "language": article.languages[0] if article.languages else None,
        "DOI": article.doi,
        "PMID": str(article.pmid),
        "PMCID": pmc,
        "URL": PUBMED_URL.format(pmid=article.pmid),
        "abstract": article.abstract or None,
        "keyword": ", ".join(mesh_keywords(article) + _keywords(record)) or None,
        "note": "This article has been retracted." if record.get("retracted") else None,
    }
    return {key: value for key, value in item.items() if value not in (None, [], "")}


# ---- BibTeX --------------------------------------------------------------------------------

_BIBTEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_BIBTEX_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _BIBTEX_SPECIALS))


def bibtex_escape(text: str) -> str:
    """LaTeX special characters escaped (non-ASCII letters stay UTF-8, which BibLaTeX,
    Zotero and JabRef read)."""
    return _BIBTEX_SPECIAL_RE.sub(lambda m: _BIBTEX_SPECIALS[m.group(0)], _one_line(text))


def _bibtex_verbatim(text: str) -> str:
    # DOIs and URLs are used as-is by importers; only braces and backslashes could break
    # the entry's structure.
    return re.sub(r"[{}\\\s]", "", text)


def _bibtex_author(author: Author) -> str:
    if author.collective_name:
        return "{" + bibtex_escape(author.collective_name) + "}"
    if author.fore_name:
        return f"{bibtex_escape(author.last_name or '')}, {bibtex_escape(author.fore_name)}"
    return bibtex_escape(author.last_name or author.initials or "")


_ACRONYM_WORD = re.compile(r"[^\s{}]+")
_BIBTEX_MONTHS = (
    "jan",
    "feb",
    "mar",
    "apr",
    "may",
    "jun",
    "jul",
    "aug",
    "sep",
    "oct",
    "nov",
    "dec",
)


def bibtex_title(title: str) -> str:
    """An escaped title whose capitals survive BibTeX styles that lower-case titles:
    PubMed titles are in sentence case, so every capital after the first word is an acronym
    or a proper noun ({MRI}, {Germany}); a first word with a capital after its first letter
    ({MRI}, {pH}) is protected too."""
    escaped = bibtex_escape(title)

    def protect(match: re.Match[str]) -> str:
        word = match.group(0)
        if word.startswith("\\"):  # an escape such as \& or \textbackslash
            return word
        core = word.strip(".,:;!?()[]'\"")
        first = match.start() == 0
        needs = any(c.isupper() for c in core[1:]) or (not first and any(c.isupper() for c in core))
        if not core or not needs:
            return word
        at = word.index(core)
        return word[:at] + "{" + core + "}" + word[at + len(core) :]

    return _ACRONYM_WORD.sub(protect, escaped)


def bibtex_key(article: Article) -> str:
    """A stable citation key: ``pmid`` and the PMID."""
    return f"pmid{article.pmid}"


def _iso_date(article: Article) -> str | None:
    """BibLaTeX's date: 2025, 2025-11 or 2025-11-05, as far as it is known."""
    if not article.pub_year:
        return None
    text = f"{article.pub_year:04d}"
    if article.pub_month:
        text += f"-{article.pub_month:02d}"
        if article.pub_day:
            text += f"-{article.pub_day:02d}"
    return text


def bibtex_entry(article: Article, record: dict[str, Any]) -> str:
    """One @article (or @book) entry keyed pmid<PMID>, fields escaped."""
    fields: list[tuple[str, str | None]] = [
        ("author", " and ".join(_bibtex_author(a) for a in article.authors) or None),
        ("title", bibtex_title(article.title)),
        ("journal", bibtex_escape(article.journal_title or article.journal_iso or "") or None),
        ("year", str(article.pub_year) if article.pub_year else None),
        ("month", _BIBTEX_MONTHS[article.pub_month - 1] if article.pub_month else None),
        ("date", _iso_date(article)),
        ("volume", bibtex_escape(article.volume or "") or None),
        ("number", bibtex_escape(article.issue or "") or None),
        ("pages", bibtex_escape(article.pages or "").replace("-", "--") or None),
        ("doi", _bibtex_verbatim(article.doi or "") or None),
        ("issn", _bibtex_verbatim(article.issn or "") or None),
        ("language", bibtex_escape(", ".join(article.languages)) or None),
        ("pmid", str(article.pmid)),
        ("url", PUBMED_URL.format(pmid=article.pmid)),
        ("abstract", bibtex_escape(article.abstract) or None),
        ("keywords", bibtex_escape(", ".join(mesh_keywords(article) + _keywords(record))) or None),
        ("note", "Retracted" if record.get("retracted") else None),
    ]
    entry_type = "book" if article.kind == "book" else "article"
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{entry_type}{{{bibtex_key(article)},\n{body}\n}}\n\n"
