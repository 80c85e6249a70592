"""Commands over the registry watch: ``aggregator trials`` (list and filter the stored
ClinicalTrials.gov registrations) and ``aggregator trials show NCT...`` (one in full).

Tables on a terminal, JSON when piped, as ``query`` does. Exit codes: 0 ok (also when
nothing matches), 1 error, 2 usage error (an unknown form, status, phase, stage or a
malformed NCT id, with the valid values in the message).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from aggregator.cli.context import AppContext, settings_options
from aggregator.cli.output import emit, format_option, resolve_format
from aggregator.errors import AggregatorError
from aggregator.trial_stages import (
    OVERALL_STATUSES,
    PHASES,
    STAGE_LABELS,
    TRIAL_STAGES,
    normalise_phase,
    normalise_status,
    phase_label,
    status_label,
)
from aggregator.vocab import FORMS, unknown_value_error

FORMATS = ("table", "json", "csv")
NCT_RE = re.compile(r"^NCT\d{8}$")
HOW_TEXT = {
    "result_reference": "registry reference (RESULT)",
    "derived_reference": "registry reference (DERIVED)",
    "article_mentions": "the article names the NCT id",
}


def _app() -> AppContext:
    ctx = click.get_current_context()
    app = ctx.ensure_object(AppContext)
    ctx.call_on_close(app.close)
    return app


def _split(values: Sequence[str]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _checked(
    kind: str, valid: tuple[str, ...], normalise: Callable[[str], str | None]
) -> Callable[..., tuple[str, ...]]:
    def check(
        _ctx: click.Context, _param: click.Parameter, values: Sequence[str]
    ) -> tuple[str, ...]:
        found = []
        for value in _split(values):
            normal = normalise(value)
            if normal is None:
                raise click.BadParameter(unknown_value_error(kind, value, valid))
            found.append(normal)
        return tuple(dict.fromkeys(found))

    return check


def _form(value: str) -> str | None:
    return value.lower() if value.lower() in FORMS else None


def _stage(value: str) -> str | None:
    key = "_".join(value.replace("-", " ").lower().split())
    return key if key in TRIAL_STAGES else None


def _nct(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    cleaned = value.strip().upper()
    if not NCT_RE.match(cleaned):
        raise click.BadParameter(f"{value!r} is not an NCT id (NCT and 8 digits, e.g. NCT01234567)")
    return cleaned


@click.group(invoke_without_command=True)
@settings_options
@click.option(
    "--form",
    "forms",
    multiple=True,
    callback=_checked("form", FORMS, _form),
    metavar="FORM",
    help="Magnesium form given (repeat or comma-separate for any of several): "
    + ", ".join(FORMS)
    + ".",
)
@click.option(
    "--condition",
    "conditions",
    multiple=True,
    metavar="WORDS",
    help="Registered condition or keyword containing WORDS (any case; repeat for any of "
    'several), e.g. migraine, "cluster headache".',
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    callback=_checked("status", OVERALL_STATUSES, normalise_status),
    metavar="STATUS",
    help="Registry overall status (repeat or comma-separate), e.g. recruiting, "
    '"not yet recruiting", completed.',
)
@click.option(
    "--phase",
    "phases",
    multiple=True,
    callback=_checked("phase", PHASES, normalise_phase),
    metavar="PHASE",
    help="Registry phase (repeat or comma-separate): early1, 1, 2, 3, 4 or na.",
)
@click.option(
    "--stage",
    "stages",
    multiple=True,
    callback=_checked("stage", TRIAL_STAGES, _stage),
    metavar="STAGE",
    help="Where the trial stands (repeat or comma-separate): " + ", ".join(TRIAL_STAGES) + ".",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Default: table on a terminal, json when piped.",
)
@click.pass_context
def trials(
    ctx: click.Context,
    forms: tuple[str, ...],
    conditions: tuple[str, ...],
    statuses: tuple[str, ...],
    phases: tuple[str, ...],
    stages: tuple[str, ...],
    fmt: str | None,
) -> None:
    """List the registered trials the registry watch has stored (ClinicalTrials.gov), with
    the magnesium form of their interventions and where they stand: not yet recruiting,
    recruiting, active, completed, results posted, published, stopped.

    \b
    Examples:
      aggregator trials
      aggregator trials --form glycinate
      aggregator trials --condition migraine --status recruiting --phase 3
      aggregator trials --stage results_posted,published --format csv > trials.csv
      aggregator trials show NCT99000001 --db db/demo.sqlite
    """
    if ctx.invoked_subcommand is not None:
        if any((forms, conditions, statuses, phases, stages, fmt)):
            raise click.UsageError("the list filters go after 'trials', not before 'show'")
        return
    from aggregator.jobs.trials import TrialFilter, csv_row, find_trials, trial_lines

    app = _app()
    records = find_trials(
        app.engine(),
        TrialFilter(
            forms=forms,
            conditions=tuple(conditions),
            statuses=statuses,
            phases=phases,
            stages=stages,
        ),
    )
    out = sys.stdout
    fmt = fmt or ("table" if out.isatty() else "json")
    if fmt == "json":
        out.write(json.dumps(records, ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        from aggregator.jobs.trials import CSV_COLUMNS

        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_row(r) for r in records)
    else:
        from aggregator.export import write_rows

        header = ("NCT ID", "STAGE", "PHASE", "FORMS", "ENROL", "TITLE")
        write_rows(header, trial_lines(records), out)
        click.echo(f"{len(records)} trial{'s' if len(records) != 1 else ''}", err=True)


@trials.command(name="show")
@settings_options
@click.argument("nct_id", callback=_nct)
@format_option(("text", "json"))
def trials_show(nct_id: str, fmt: str | None) -> None:
    """Show one registered trial in full: status and dates, design, enrolment, conditions,
    interventions with their magnesium form and the text it came from, its publications
    (the registry's references and articles naming the NCT id) and its status history.

    \b
    Examples:
      aggregator trials show NCT99000001 --db db/demo.sqlite
      aggregator trials show nct99000001 --format json | jq .publications
    """
    from aggregator.jobs.trials import show_trial

    app = _app()
    record = show_trial(app.engine(), nct_id)
    if record is None:
        raise AggregatorError(
            f"{nct_id} is not in the database {app.settings.db_url} (the registry watch stores "
            "the trials its saved registry searches find)"
        )
    emit(record, lambda: render_trial(record), resolve_format(fmt, "text"))


def _date(value: dict[str, Any] | None) -> str:
    if not value:
        return "not given"
    kind = f" ({value['type'].lower()})" if value.get("type") else ""
    return f"{value['date']}{kind}"


def render_trial(record: dict[str, Any]) -> str:
    """One trial as readable text."""
    lines = [f"{record['nct_id']}  [{STAGE_LABELS[record['stage']]}]", record["title"]]
    if record["official_title"] and record["official_title"] != record["title"]:
        lines.append(record["official_title"])
    lines.append("")
    status = f"{status_label(record['status'])} ({record['status'] or 'no status'})"
    if record["why_stopped"]:
        status += f"; why stopped: {record['why_stopped']}"
    enrollment = record["enrollment"]
    enrol = "not given" if enrollment is None else str(enrollment)
    if enrollment is not None and record["enrollment_type"]:
        enrol += f" ({record['enrollment_type'].lower()})"
    design = ", ".join(
        value.replace("_", " ").lower()
        for value in (record["study_type"], record["allocation"])
        if value
    )
    if record["masking"]:
        design += f"{', ' if design else ''}{record['masking'].lower()} masking"
    results = "none posted"
    if record["has_results"]:
        results = f"posted {record['results_first_posted'] or ''}".strip()
    conditions = "; ".join(record["conditions"]) or "none given"
    if record["migraine_or_headache"]:
        conditions += " (migraine or headache)"
    fields = [
        ("Status", status),
        ("Design", f"{design or 'not given'}; {phase_label(record['phases'])}"),
        ("Enrolment", enrol),
        ("Sponsor", record["sponsor"] or "not given"),
        ("First posted", _date(record["first_posted"])),
        ("Start", _date(record["start"])),
        ("Primary completion", _date(record["primary_completion"])),
        ("Completion", _date(record["completion"])),
        ("Results", results),
        ("Conditions", conditions),
        ("Forms", ", ".join(record["forms"]) or "no magnesium form identified"),
    ]
    lines += [f"{label + ':':<20}{value}" for label, value in fields]
    for tag in record["form_tags"]:
        snippet = " ".join(str(tag["snippet"]).split())
        lines.append(f"  {tag['form']:<12} {tag['source']:<26} \u201c{snippet}\u201d")
    lines += ["", "Interventions:"]
    for item in record["interventions"] or ():
        kind = (item.get("type") or "").replace("_", " ").lower()
        lines.append(f"  {item['name']}" + (f" ({kind})" if kind else ""))
        if item.get("description"):
            lines.append(f"    {item['description']}")
    if not record["interventions"]:
        lines.append("  none given")
    lines += ["", "Publications:"]
    for pub in record["publications"]:
        title = pub["title"] if pub["in_database"] else "(not in the database)"
        lines.append(f"  PMID {pub['pmid']}  {title} [{HOW_TEXT.get(pub['how'], pub['how'])}]")
    if not record["publications"]:
        lines.append("  none linked yet")
    lines += ["", "Status history:"]
    for change in record["status_history"]:
        seen = change["seen_at"][:10]
        posted = f" (registry update posted {change['posted']})" if change["posted"] else ""
        if change["old_status"] is None:
            lines.append(f"  {seen}  first seen: {status_label(change['new_status'])}{posted}")
        else:
            lines.append(
                f"  {seen}  {status_label(change['old_status'])} -> "
                f"{status_label(change['new_status'])}{posted}"
            )
    lines += ["", f"{'Link:':<20}{record['url']}"]
    return "\n".join(lines) + "\n"


COMMANDS = [trials]
