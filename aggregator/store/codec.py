"""How an article and its tags become database rows and back, and the content hash that tells a
real revision from a re-fetch. Pure: no database access."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import orjson

from aggregator.article import (
    AbstractSection,
    Article,
    Author,
    Chemical,
    CommentCorrection,
    Grant,
    MeshHeading,
    MeshQualifier,
)
from aggregator.findings import HEADLINE_FIELDS, Findings
from aggregator.vocab import (
    NO_DESIGN_DECISION,
    ArticleTags,
    DesignDecision,
    Tag,
    in_vocabulary_order,
)

# Article fields kept as JSON columns, and how to rebuild each element.
JSON_FIELDS = (
    "abstract_sections",
    "authors",
    "languages",
    "publication_types",
    "mesh_headings",
    "chemicals",
    "keywords",
    "grants",
    "comments_corrections",
)


ARTICLE_FIELDS = tuple(f.name for f in dataclasses.fields(Article))


# Parsed fields compared to decide whether a record really changed. raw_xml is formatting;
# source_format only says whether it came as XML or MEDLINE text.
COMPARED_FIELDS = tuple(f for f in ARTICLE_FIELDS if f not in {"pmid", "raw_xml", "source_format"})


# PubMed bumps DateRevised on every touch; on its own that is not a revision worth reporting.
# The ISSN was added to the parsed fields later: its first value is filled in, not reported.
QUIET_FIELDS = frozenset({"revised_date", "issn"})


# What only PubMed XML carries, not MEDLINE text (the .nbib of "Save > PubMed format"): the
# PMID version, MeSH, qualifier and substance UIs, NLM categories of abstract sections and the
# reference list (CommentsCorrections of type "Cites"). The same record in the two formats
# differs only there, so comparing a record with one stored from the other format leaves
# these out (see portable_value): no false revision.
FORMAT_ONLY_DETAIL = frozenset(
    {"pmid_version", "abstract_sections", "mesh_headings", "chemicals", "comments_corrections"}
)


# Fields added after revision 0002, hashed only when set: the hashes stored before them stay
# valid, so a re-fetch of an unchanged record without them is not even compared.
HASHED_WHEN_SET = ("issn",)


# Stored with the article row, parsed but not part of its content hash (see content_hash).
UNHASHED_FIELDS = frozenset({"raw_xml", "source_format"})


# Article columns holding the tagger's conclusions (per-value tags are rows of the tag table).
TAG_COLUMNS = (
    "study_type",
    "evidence_level",
    "combination_product",
    "is_direct",
    "rules_version",
    "forms",
    "evidence_class",
    # Revision 0009: the design decision (design_columns) and the findings (findings_columns).
    "design_confidence",
    "design_explanation",
    "findings",
    *HEADLINE_FIELDS,
)


# Fields converted to JSON values: every hashed field (unhashed ones, such as the raw XML, are
# stored as they are).
CONVERTED_FIELDS = tuple(f for f in ARTICLE_FIELDS if f not in UNHASHED_FIELDS)


def json_ready(value: Any) -> Any:
    """Plain JSON types (tuples become lists, dates ISO strings), as a JSON column returns them."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return json.loads(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


@functools.cache
def _field_names(cls: Any) -> tuple[str, ...]:
    """Field names of a dataclass (dataclasses.fields() is slow in a hot loop)."""
    return tuple(f.name for f in dataclasses.fields(cls))


def plain(value: Any) -> Any:
    """Plain JSON types, as a JSON column returns them: dataclasses become dicts, tuples lists.

    Much cheaper than ``dataclasses.asdict`` (which deep-copies every leaf) plus a JSON round
    trip, and it gives the same values for the types Article holds.
    """
    if value is None or isinstance(value, str | int | float):  # most leaves: return at once
        return value
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    cls: Any = type(value)
    if hasattr(cls, "__dataclass_fields__"):
        return {name: plain(getattr(value, name)) for name in _field_names(cls)}
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def columns_and_hash(article: Article) -> tuple[dict[str, Any], str]:
    """:func:`article_columns` and :func:`content_hash` of one article, converting it once.

    orjson turns the fields into plain JSON values (dataclasses into dicts in field order,
    tuples into lists, dates into ISO text) and writes the hashed text, both in C: the same
    values as :func:`plain` and the same text as ``json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`` (tests check both), at a fraction of the
    cost, which was the largest part of storing an article.
    """
    values = {name: getattr(article, name) for name in CONVERTED_FIELDS}
    for name in HASHED_WHEN_SET:
        if values[name] is None:
            del values[name]
    plain = orjson.loads(orjson.dumps(values))
    columns = {
        name: plain[name] if name in JSON_FIELDS else getattr(article, name)
        for name in ARTICLE_FIELDS
    }
    text = orjson.dumps(plain, option=orjson.OPT_SORT_KEYS)
    return columns, hashlib.sha256(text).hexdigest()


def content_hash(article: Article) -> str:
    """sha256 of the canonical parsed record (sorted-key JSON of its fields).

    Whitespace or attribute order in the raw XML, and whether the record came as XML or
    MEDLINE text, do not change it; any parsed field does. Migration 0002 backfills the same
    formula from stored columns.
    """
    return columns_and_hash(article)[1]


def article_columns(article: Article) -> dict[str, Any]:
    """The article's parsed fields as column values (JSON columns as plain lists/dicts)."""
    return columns_and_hash(article)[0]


def _qualifier(data: Mapping[str, Any]) -> MeshQualifier:
    return MeshQualifier(name=data["name"], ui=data.get("ui"), major=bool(data.get("major")))


def _mesh(data: Mapping[str, Any]) -> MeshHeading:
    return MeshHeading(
        descriptor=data["descriptor"],
        ui=data.get("ui"),
        major=bool(data.get("major")),
        qualifiers=tuple(_qualifier(q) for q in data.get("qualifiers") or ()),
    )


def _author(data: Mapping[str, Any]) -> Author:
    return Author(
        last_name=data.get("last_name"),
        fore_name=data.get("fore_name"),
        initials=data.get("initials"),
        collective_name=data.get("collective_name"),
        affiliations=tuple(data.get("affiliations") or ()),
        orcid=data.get("orcid"),
    )


def author_display_name(data: Mapping[str, Any]) -> str:
    """An author's name as PubMed shows it ("Example A"), from the stored JSON."""
    return _author(data).display_name


def article_from_columns(row: Mapping[Any, Any]) -> Article:
    """Rebuild the Article dataclass from a stored article row."""
    values = {name: row[name] for name in ARTICLE_FIELDS}
    values["abstract_sections"] = tuple(AbstractSection(**s) for s in row["abstract_sections"])
    values["authors"] = tuple(_author(a) for a in row["authors"])
    values["mesh_headings"] = tuple(_mesh(m) for m in row["mesh_headings"])
    values["chemicals"] = tuple(Chemical(**c) for c in row["chemicals"])
    values["grants"] = tuple(Grant(**g) for g in row["grants"])
    values["comments_corrections"] = tuple(
        CommentCorrection(**c) for c in row["comments_corrections"]
    )
    for name in ("languages", "publication_types", "keywords"):
        values[name] = tuple(row[name])
    return Article(**values)


def tag_columns(tags: ArticleTags | None) -> dict[str, Any]:
    """The article columns holding the tagger's conclusions (all NULL when untagged)."""
    if tags is None:
        return dict.fromkeys(TAG_COLUMNS)
    return {
        "study_type": tags.study_type,
        "evidence_level": tags.evidence_level,
        "combination_product": tags.combination_product,
        "is_direct": tags.is_direct,
        "rules_version": tags.rules_version,
        "forms": forms_column(tags.forms),
        "evidence_class": tags.evidence_class or None,
        **design_columns(tags.design),
        **findings_columns(tags.findings),
    }


def design_columns(design: DesignDecision) -> dict[str, Any]:
    """The article columns of a design decision (NULL for none: tags by a tagger that gives
    none, or read from a store that kept none). Its cues are tag rows (kind design_cue)."""
    if design == NO_DESIGN_DECISION:
        return {"design_confidence": None, "design_explanation": None}
    return {"design_confidence": design.confidence, "design_explanation": design.explanation}


def findings_columns(findings: Findings | None) -> dict[str, Any]:
    """The article columns of findings: the whole as JSON (``Findings.to_dict``) and the
    values ``query`` filters and sorts by; all NULL when none were extracted."""
    if findings is None:
        return {"findings": None, **dict.fromkeys(HEADLINE_FIELDS)}
    whole = findings.to_dict()
    return {"findings": whole, **{name: whole[name] for name in HEADLINE_FIELDS}}


def findings_from_column(value: Any) -> Findings | None:
    """Findings as stored in ``article.findings`` (None: not extracted yet)."""
    return None if value is None else Findings.from_dict(value)


def forms_column(forms: Iterable[str]) -> str:
    """The ``article.forms`` value of a tagged article: its forms in vocabulary order,
    comma-separated; '' for none."""
    return ",".join(in_vocabulary_order("form", forms))


def tag_rows(pmid: int, tags: ArticleTags) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for tag in tags.tags:
        key = (tag.kind, tag.value, tag.field)
        rows.setdefault(
            key,
            {
                "pmid": pmid,
                "kind": tag.kind,
                "value": tag.value,
                "field": tag.field,
                "snippet": tag.snippet,
                "rules_version": tags.rules_version,
            },
        )
    # Every concluded value gets a row even if the tagger gave no provenance for it, so
    # queries by kind/value never miss an article.
    concluded = [
        *(("form", v) for v in tags.forms),
        *(("route", v) for v in tags.routes),
        *(("condition", v) for v in tags.conditions),
        *(("population", v) for v in tags.population),
        ("study_type", tags.study_type),
    ]
    covered = {(kind, value) for kind, value, _field in rows}
    for kind, value in concluded:
        if (kind, value) not in covered:
            covered.add((kind, value))
            rows[(kind, value, "derived")] = {
                "pmid": pmid,
                "kind": kind,
                "value": value,
                "field": "derived",
                "snippet": "",
                "rules_version": tags.rules_version,
            }
    return list(rows.values())


def tags_from_rows(article_row: Mapping[Any, Any], rows: Sequence[Any]) -> ArticleTags | None:
    """The tags of a stored article from its row (the TAG_COLUMNS) and its tag rows; None
    until tagged. The design decision is rebuilt from its columns and the design_cue rows,
    the findings from their JSON column (None when the row has none)."""
    if article_row["rules_version"] is None:
        return None
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row.value)
    tags = tuple(
        Tag(kind=row.kind, value=row.value, field=row.field, snippet=row.snippet)
        for row in rows
        if not is_placeholder(row.field, row.snippet)
    )
    design = NO_DESIGN_DECISION
    if article_row.get("design_explanation") is not None:
        design = DesignDecision(
            study_type=article_row["study_type"],
            confidence=article_row["design_confidence"] or 0.0,
            cues=tuple(tag for tag in tags if tag.kind == "design_cue"),
            explanation=article_row["design_explanation"],
        )
    return ArticleTags(
        forms=in_vocabulary_order("form", by_kind.get("form", ())),
        routes=in_vocabulary_order("route", by_kind.get("route", ())),
        conditions=in_vocabulary_order("condition", by_kind.get("condition", ())),
        study_type=article_row["study_type"],
        evidence_level=article_row["evidence_level"],
        combination_product=bool(article_row["combination_product"]),
        population=in_vocabulary_order("population", by_kind.get("population", ())),
        tags=tags,
        rules_version=article_row["rules_version"],
        evidence_class=article_row.get("evidence_class") or "",
        design=design,
        findings=findings_from_column(article_row.get("findings")),
    )


def is_placeholder(field: str, snippet: str) -> bool:
    """A row :func:`tag_rows` added for a concluded value without provenance (not a tag the
    tagger gave: its own "derived" tags say how they were derived)."""
    return field == "derived" and not snippet


def as_stored(tags: ArticleTags) -> ArticleTags:
    """``tags`` as the store gives them back after writing them (provenance rows deduplicated
    by kind, value and field; placeholders left out; the design decision's cues as their
    rows; findings through their JSON), so a comparison with stored tags sees only real
    differences."""
    rows = [SimpleNamespace(**row) for row in tag_rows(0, tags)]
    return tags_from_rows(json_ready(tag_columns(tags)), rows) or tags


def portable_value(name: str, value: Any) -> Any:
    """A column value without what only PubMed XML carries (see FORMAT_ONLY_DETAIL), for
    comparing a record with one stored from the other format."""
    if name == "pmid_version":
        return None
    if name == "abstract_sections":
        return [{**section, "category": None} for section in value or ()]
    if name == "mesh_headings":
        return [
            {
                **heading,
                "ui": None,
                "qualifiers": [{**q, "ui": None} for q in heading.get("qualifiers") or ()],
            }
            for heading in value or ()
        ]
    if name == "chemicals":
        return [{**chemical, "ui": None} for chemical in value or ()]
    if name == "comments_corrections":
        return [c for c in value or () if c.get("ref_type") != "Cites"]
    return value
