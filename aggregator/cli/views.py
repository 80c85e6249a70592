"""Text views of the library commands' results: what `show`, `stats` and `retag` print on a
terminal (their JSON comes from the same data)."""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from aggregator.article import Article
from aggregator.export import provenance_in_order, write_rows
from aggregator.findings import Findings, result_words
from aggregator.vocab import NO_DESIGN_DECISION, STUDY_TYPE_LABELS, STUDY_TYPES, ArticleTags

if TYPE_CHECKING:
    from aggregator.jobs.retag import RetagReport
    from aggregator.store.articles import StoredArticle
    from aggregator.store.stats import LibraryStats


def _date_text(article: Article) -> str:
    parts = [str(article.pub_year)] if article.pub_year else []
    if article.pub_year and article.pub_month:
        parts.append(dt.date(2000, article.pub_month, 1).strftime("%b"))
        if article.pub_day:
            parts.append(str(article.pub_day))
    published = article.medline_date or " ".join(parts) or "unknown"
    extra = []
    if article.article_date:
        extra.append(f"online {article.article_date.isoformat()}")
    if article.entrez_date:
        extra.append(f"added to PubMed {article.entrez_date.isoformat()}")
    return published + (f" ({'; '.join(extra)})" if extra else "")


def _citation(article: Article) -> str:
    text = article.journal_iso or article.journal_title or "unknown journal"
    if article.volume:
        text += f" {article.volume}"
        if article.issue:
            text += f"({article.issue})"
    if article.pages:
        text += f":{article.pages}"
    return text


REGISTRATION_HOW = {
    "result_reference": "registry reference (RESULT)",
    "derived_reference": "registry reference (DERIVED)",
    "article_mentions": "this article names the NCT id",
}


def render_registrations(registrations: list[dict[str, Any]]) -> list[str]:
    """``show``'s lines on the registered trials joined to the article (none when there are
    none)."""
    if not registrations:
        return []
    lines = ["Registrations:"]
    for reg in registrations:
        how = REGISTRATION_HOW.get(reg["how"], reg["how"])
        if reg["in_database"]:
            status = (reg["status"] or "no status").replace("_", " ").lower()
            lines.append(f"  {reg['nct_id']}  {reg['title']} [{status}]; {how}")
        else:
            lines.append(f"  {reg['nct_id']}  (not in the registry watch); {how}")
    lines.append("")
    return lines


NOT_STATED = "not stated"
_FINDINGS_LABEL_WIDTH = 17


def render_design(tags: ArticleTags) -> list[str]:
    """``show``'s lines on how the study type was decided: the confidence, the cues and the
    path (the explanation), each cue with the text it matched."""
    design = tags.design
    if design == NO_DESIGN_DECISION:
        return ["Design:     no decision stored (run `aggregator retag`)"]
    label = STUDY_TYPE_LABELS.get(design.study_type, design.study_type)
    lines = [
        f"Design:     {label}, confidence {design.confidence:.2f}",
        f"            {' '.join(design.explanation.split())}",
    ]
    for cue in design.cues:
        snippet = " ".join(cue.snippet.split())
        lines.append(f"            cue {cue.value} ({cue.field}): \u201c{snippet}\u201d")
    return lines


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}".rstrip("0")


def _finding_value(findings: Findings, name: str, study_type: str) -> str:
    """One findings value in words ("not stated" when the abstract does not state it)."""
    if name == "sample_size":
        if findings.sample_size is None:
            return NOT_STATED
        kind = f" ({findings.sample_size_kind})" if findings.sample_size_kind else ""
        return f"{findings.sample_size:,}{kind}"
    if name == "dose_mg_per_day":
        if findings.dose_mg_per_day is not None:
            written = f" (\u201c{findings.dose.text}\u201d)" if findings.dose else ""
            return f"{_number(findings.dose_mg_per_day)} mg/day{written}"
        if findings.dose is not None:
            return f"{NOT_STATED} per day (as written: \u201c{findings.dose.text}\u201d)"
        return NOT_STATED
    if name == "duration_weeks":
        weeks = findings.duration_weeks
        if weeks is None:
            return NOT_STATED
        return f"{_number(weeks)} week{'' if weeks == 1 else 's'}"
    if name == "comparator":
        if findings.comparator is None:
            return NOT_STATED
        detail = findings.comparator_detail
        extra = f" ({detail})" if detail and detail != findings.comparator else ""
        return _COMPARATOR_WORDS.get(findings.comparator, findings.comparator) + extra
    if name == "reported_result":
        return result_words(findings.reported_result, study_type) or NOT_STATED
    raise ValueError(f"unknown findings field {name!r}")


_COMPARATOR_WORDS = {
    "none": "none (no comparison group given something else)",
    "usual_care": "usual care",
    "another_form": "another magnesium form",
}
_FINDINGS_LABELS = {
    "sample_size": "Sample size",
    "dose_mg_per_day": "Dose",
    "duration_weeks": "Duration",
    "comparator": "Comparator",
    "reported_result": "Reported result",
}
# The provenance of each shown value (the dose: as written, then how mg/day was derived).
_FINDINGS_SOURCES = {
    "sample_size": ("sample_size",),
    "dose_mg_per_day": ("dose", "dose_mg_per_day", "elemental_mg_per_day"),
    "duration_weeks": ("duration_weeks",),
    "comparator": ("comparator",),
    "reported_result": ("reported_result",),
}


def _extra_findings(findings: Findings) -> list[str]:
    """What else the abstract states (only what it states)."""
    extra = []
    if findings.studies_included is not None:
        extra.append(f"{findings.studies_included} studies included")
    if findings.arms is not None:
        extra.append(f"{findings.arms} arm{'' if findings.arms == 1 else 's'}")
    if findings.elemental_mg_per_day is not None:
        extra.append(f"elemental magnesium {_number(findings.elemental_mg_per_day)} mg/day")
    if findings.outcome_timepoint:
        extra.append(f"outcome at {findings.outcome_timepoint}")
    return extra


def render_findings(tags: ArticleTags) -> list[str]:
    """``show``'s lines on what the study found: each value as the abstract states it, with
    the text it came from; "not stated" for what the abstract does not state."""
    findings = tags.findings
    if findings is None:
        return ["Findings:   not extracted yet (run `aggregator retag`)"]
    if findings.scope == "none":
        return ["Findings:   none extracted (this kind of record reports no study of people)"]
    lines = [f"Findings:   as the abstract states them ({findings.scope}; nothing inferred)"]
    pad = " " * (_FINDINGS_LABEL_WIDTH + 2)
    shown: dict[str, str] = {}  # snippet -> the label it was first shown under
    for name, label in _FINDINGS_LABELS.items():
        value = _finding_value(findings, name, tags.study_type)
        lines.append(f"  {label:<{_FINDINGS_LABEL_WIDTH}}{value}")
        for source in findings.provenance:
            if source.field not in _FINDINGS_SOURCES[name]:
                continue
            snippet = " ".join(source.snippet.split())
            if source.source_field == "derived":
                lines.append(f"{pad}derived: {snippet}")
            elif snippet in shown:
                lines.append(f"{pad}(the {source.source_field} text quoted for {shown[snippet]})")
            else:
                shown[snippet] = label.lower()
                lines.append(f"{pad}\u201c{snippet}\u201d ({source.source_field})")
    extra = _extra_findings(findings)
    if extra:
        lines.append(f"  {'Also stated':<{_FINDINGS_LABEL_WIDTH}}" + "; ".join(extra))
    return lines


def render_show(doc: dict[str, Any], stored: StoredArticle) -> str:
    """The whole record as readable text."""
    article = stored.article
    lines: list[str] = []
    head = f"PMID {article.pmid}"
    if stored.retracted:
        head += "  [RETRACTED]"
    lines += [head, article.title, ""]
    if article.authors:
        lines.append("Authors:    " + ", ".join(a.display_name for a in article.authors))
    lines.append("Journal:    " + _citation(article))
    if article.journal_title and article.journal_iso != article.journal_title:
        lines.append("            " + article.journal_title)
    lines.append("Published:  " + _date_text(article))
    if article.publication_types:
        lines.append("Types:      " + "; ".join(article.publication_types))
    if article.mesh_headings:
        mesh = []
        for heading in article.mesh_headings:
            text = heading.descriptor + ("*" if heading.major else "")
            for qualifier in heading.qualifiers:
                text += f"/{qualifier.name}" + ("*" if qualifier.major else "")
            mesh.append(text)
        lines.append("MeSH:       " + "; ".join(mesh))
    if article.keywords:
        lines.append("Keywords:   " + "; ".join(article.keywords))
    lines += ["", "Abstract:"]
    if article.abstract_sections:
        for section in article.abstract_sections:
            label = f"{section.label}: " if section.label else ""
            lines.append(f"  {label}{section.text}")
    elif article.abstract:
        lines.append(f"  {article.abstract}")
    else:
        lines.append("  (no abstract)")
    lines.append("")
    tags = stored.tags
    if tags is None:
        lines.append("Tags:       (not tagged yet; run `aggregator retag`)")
    else:
        level = tags.evidence_level if tags.evidence_level is not None else "none"
        label = STUDY_TYPE_LABELS.get(tags.study_type, tags.study_type)
        lines.append(f"Study type: {label} ({tags.study_type}), evidence level {level}")
        lines.append("Forms:      " + (", ".join(tags.forms) or "none"))
        for name, values in (
            ("Routes", tags.routes),
            ("Conditions", tags.conditions),
            ("Population", tags.population),
        ):
            lines.append(f"{name + ':':<12}" + (", ".join(values) or "none"))
        direct = "direct" if tags.is_direct else "indirect"
        combo = "; combination product" if tags.combination_product else ""
        lines.append(f"Evidence:   {direct} (migraine/headache outcome){combo}")
        lines += render_design(tags)
        lines += render_findings(tags)
        lines.append(f"Provenance (rules {tags.rules_version}):")
        for tag in provenance_in_order(tags):
            snippet = " ".join(tag.snippet.split())
            lines.append(f"  {tag.kind:<20} {tag.value:<28} {tag.field:<16} \u201c{snippet}\u201d")
    lines += ["", "Links:"]
    for name, url in doc["links"].items():
        lines.append(f"  {name.upper() if name != 'pubmed' else 'PubMed':<7}{url}")
    lines.append("")
    lines += render_registrations(doc.get("registrations", []))
    if stored.retracted:
        notice = stored.retraction_notice_pmid
        since = stored.retracted_at.date().isoformat() if stored.retracted_at else "unknown"
        lines.append(
            "Retraction: RETRACTED"
            + (f" (notice PMID {notice})" if notice else "")
            + f", noted {since}"
        )
    else:
        lines.append("Retraction: not retracted")
    lines.append(
        f"Stored:     first seen {stored.first_seen_at.date().isoformat()}, "
        f"last updated {stored.last_updated_at.date().isoformat()}, source {stored.source}"
        + (f", found by {', '.join(stored.query_names)}" if stored.query_names else "")
    )
    history = doc["history"]
    lines.append("History:" if history else "History:    no revisions recorded")
    for revision in history:
        lines.append(
            f"  {revision['seen_at'][:19]}Z  changed: {', '.join(revision['changed_fields'])}"
        )
    return "\n".join(lines) + "\n"


def render_stats(stats: LibraryStats) -> str:
    """Stats as aligned text tables."""
    lines = [
        f"Articles:   {stats.articles} ({stats.tagged} tagged, {stats.retracted} retracted)",
        f"Database:   {_size(stats.database_bytes)}",
    ]
    run = stats.last_run
    if run:
        lines.append(
            f"Last run:   {run['kind']} #{run['id']} {run['status']}, "
            f"started {run['started_at'][:19]}Z ({run['new']} new, {run['revised']} revised)"
        )
    else:
        lines.append("Last run:   none yet")
    lines.append("")
    types = [t for t in STUDY_TYPES if any(t in row for row in stats.by_form_and_type.values())]
    types += sorted({t for row in stats.by_form_and_type.values() for t in row} - set(types))
    text: list[str] = []
    if stats.by_form_and_type:
        lines.append("Articles by form and study type:")
        header = ["FORM", *types, "TOTAL"]
        rows = [
            [form, *(row.get(t, 0) for t in types), sum(row.values())]
            for form, row in stats.by_form_and_type.items()
        ]
        lines.append(_rows_text(header, rows))
    if stats.by_year:
        lines += ["", "Articles by year:"]
        lines.append(_rows_text(["YEAR", "ARTICLES"], [[y, n] for y, n in stats.by_year.items()]))
    return "\n".join(lines + text) + "\n"


def _rows_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    write_rows(header, rows, buffer)
    return buffer.getvalue().rstrip("\n")


def _size(size: int | None) -> str:
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover


_RETAG_LABELS = {
    "form": "forms",
    "route": "routes",
    "condition": "conditions",
    "population": "population",
    "study_type": "study type",
    "evidence_level": "evidence level",
    "combination_product": "combination product",
    "evidence_class": "evidence class",
    "rules_version": "rules",
    "design_confidence": "design confidence",
    "design_explanation": "design explanation",
    "sample_size": "sample size",
    "dose_mg_per_day": "dose mg/day",
    "duration_weeks": "duration weeks",
    "comparator": "comparator",
    "reported_result": "reported result",
}


def _retag_value(value: Any) -> str:
    if value is None or value == []:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _quoted(text: str) -> str:
    return text if text == "-" else f"\u201c{text}\u201d"


def render_retag(report: RetagReport) -> str:
    verb = "would change" if report.dry_run else "changed"
    lines = [
        f"Re-tagged {report.examined} articles with rules {report.rules_version}: "
        f"{report.updated} {verb}" + (" (dry run: nothing stored)" if report.dry_run else ""),
    ]
    changed = {k: n for k, n in report.changed_by_kind.items() if n}
    if changed:
        lines.append("Articles with changed values, by kind:")
        lines += [f"  {kind:<20} {n}" for kind, n in changed.items()]
    if report.changes:
        lines.append("Changes:")
        for change in report.changes:
            parts = []
            for kind in change.changed:
                if kind == "provenance":
                    added, removed = len(change.new[kind]), len(change.old[kind])
                    parts.append(f"provenance +{added} -{removed}")
                elif kind == "findings":  # the whole object: its values are listed above
                    parts.append(
                        "findings extracted"
                        if change.old[kind] is None
                        else "findings detail changed"
                    )
                elif kind == "design_explanation":
                    old, new = _retag_value(change.old[kind]), _retag_value(change.new[kind])
                    parts.append(f"design explanation {_quoted(old)} -> {_quoted(new)}")
                else:
                    old, new = _retag_value(change.old[kind]), _retag_value(change.new[kind])
                    parts.append(f"{_RETAG_LABELS.get(kind, kind)} {old} -> {new}")
            lines.append(f"  {change.pmid}  " + "; ".join(parts))
    return "\n".join(lines) + "\n"


class Progress:
    """Progress on stderr when it is a terminal; silent otherwise (cron, pipes, tests)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._started: dict[str, float] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        start = self._started.setdefault(label, time.monotonic())
        elapsed = max(time.monotonic() - start, 1e-6)
        rate = done / elapsed
        end = "\n" if done >= total else ""
        click.echo(
            f"\r{label}: {done}/{total} records fetched ({rate:.0f}/s)\x1b[K", err=True, nl=False
        )
        if end:
            click.echo("", err=True)
