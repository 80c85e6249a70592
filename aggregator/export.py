"""Output formats for article lists: table, JSON, CSV, RIS and BibTeX.

:func:`article_record` turns one article and its tags into the JSON object every command
prints; :func:`write_records` writes a list of them in any of :data:`FORMATS`. RIS and BibTeX
need the :class:`~aggregator.article.Article` itself (authors, volume, pages) and import into
Zotero, EndNote and reference managers alike. Nothing here touches the database.
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

from aggregator.article import Article, Author
from aggregator.vocab import STUDY_TYPE_LABELS, TAG_KINDS, ArticleTags, Tag

if TYPE_CHECKING:  # the store's types, without loading the database layer
    from aggregator.store.articles import StoredArticle

FORMATS: tuple[str, ...] = ("table", "json", "csv", "ris", "bibtex")
# The JSON object's keys, in order; CSV uses the same columns except the provenance list.
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
)
CSV_COLUMNS: tuple[str, ...] = tuple(key for key in RECORD_KEYS if key != "tags")
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
    if fmt in ("ris", "bibtex") and (articles is None or len(articles) != len(records)):
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
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for record, _article in items:
            writer.writerow([_cell(record.get(column)) for column in CSV_COLUMNS])
            count += 1
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
    """pmid / year / study type / level / forms / title, title cut to the terminal width."""
    rows = [
        [
            r["pmid"],
            r.get("year"),
            STUDY_TYPE_LABELS.get(r.get("study_type") or "", r.get("study_type") or ""),
            r.get("evidence_level"),
            ",".join(r.get("forms") or ()),
            ("[RETRACTED] " if r.get("retracted") else "") + (r.get("title") or ""),
        ]
        for r in records
    ]
    write_rows(("PMID", "YEAR", "STUDY TYPE", "LEVEL", "FORMS", "TITLE"), rows, out)


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
    words = [f"magnesium form: {form}" for form in record.get("forms") or ()]
    if record.get("study_type"):
        words.append(f"study type: {record['study_type']}")
    if record.get("evidence_level") is not None:
        words.append(f"evidence level: {record['evidence_level']}")
    if record.get("retracted"):
        words.append("retracted")
    return words


def _ris_author(author: Author) -> str:
    if author.collective_name:
        return author.collective_name
    if author.fore_name:
        return f"{author.last_name}, {author.fore_name}"
    return author.last_name or author.initials or ""


def ris_entry(article: Article, record: dict[str, Any]) -> str:
    """One RIS record (ends with "ER  - "); PMID in AN, a "PMID: n" note and the URL."""
    lines: list[tuple[str, str | None]] = [("TY", "BOOK" if article.kind == "book" else "JOUR")]
    lines += [("AU", _ris_author(a)) for a in article.authors]
    lines.append(("TI", article.title))
    lines.append(("T2", article.journal_title))
    lines.append(("J2", article.journal_iso))
    lines.append(("PY", str(article.pub_year) if article.pub_year else None))
    lines.append(("VL", article.volume))
    lines.append(("IS", article.issue))
    start, end = _split_pages(article.pages)
    lines += [("SP", start), ("EP", end)]
    lines.append(("DO", article.doi))
    lines.append(("AN", str(article.pmid)))
    lines.append(("UR", PUBMED_URL.format(pmid=article.pmid)))
    lines.append(("AB", article.abstract))
    lines += [("KW", word) for word in _keywords(record)]
    lines.append(("N1", f"PMID: {article.pmid}"))
    if record.get("retracted"):
        lines.append(("N1", "This article has been retracted."))
    lines += [("DB", "PubMed"), ("DP", "NLM")]
    body = "".join(f"{tag}  - {_one_line(value)}\n" for tag, value in lines if value)
    return body + "ER  - \n\n"


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


def bibtex_key(article: Article) -> str:
    """A stable citation key: ``pmid`` and the PMID."""
    return f"pmid{article.pmid}"


def bibtex_entry(article: Article, record: dict[str, Any]) -> str:
    """One @article (or @book) entry keyed pmid<PMID>, fields escaped."""
    fields: list[tuple[str, str | None]] = [
        ("author", " and ".join(_bibtex_author(a) for a in article.authors) or None),
        ("title", bibtex_escape(article.title)),
        ("journal", bibtex_escape(article.journal_title or article.journal_iso or "") or None),
        ("year", str(article.pub_year) if article.pub_year else None),
        ("volume", bibtex_escape(article.volume or "") or None),
        ("number", bibtex_escape(article.issue or "") or None),
        ("pages", bibtex_escape(article.pages or "").replace("-", "--") or None),
        ("doi", _bibtex_verbatim(article.doi or "") or None),
        ("pmid", str(article.pmid)),
        ("url", PUBMED_URL.format(pmid=article.pmid)),
        ("abstract", bibtex_escape(article.abstract) or None),
        ("keywords", bibtex_escape(", ".join(_keywords(record))) or None),
        ("note", "Retracted" if record.get("retracted") else None),
    ]
    entry_type = "book" if article.kind == "book" else "article"
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@{entry_type}{{{bibtex_key(article)},\n{body}\n}}\n\n"
