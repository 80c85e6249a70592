"""Commands that report and operate: digest, status, schedule."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from aggregator.cli.context import AppContext, settings_options
from aggregator.cli.output import emit, format_option, resolve_format

pass_app = click.make_pass_decorator(AppContext, ensure=True)

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("md", "html", "json")


def _check_week(week: str) -> str:
    from aggregator.weeks import InvalidWeekError, parse_week

    try:
        return parse_week(week).label
    except InvalidWeekError as exc:
        raise click.BadParameter(str(exc), param_hint="--week") from exc


@click.command()
@settings_options
@click.option("--week", metavar="YYYY-Www", help="ISO week, e.g. 2026-W48. Default: this week.")
@click.option(
    "--format",
    "formats",
    type=click.Choice(FORMATS),
    multiple=True,
    help="md, html or json (repeatable). Default: all three.",
)
@click.option(
    "--stdout",
    "to_stdout",
    is_flag=True,
    help="Print the digest (first format) instead of writing files.",
)
@pass_app
def digest(app: AppContext, week: str | None, formats: tuple[str, ...], to_stdout: bool) -> None:
    """Write the weekly digest: what is new, and where the evidence for magnesium glycinate
    stands next to the other forms. A past week shows what was known then. The files
    written are listed on stderr; --stdout prints the digest itself instead.

    \b
    Examples:
      aggregator digest                       # this week, md + html + json, into digests/
      aggregator digest --week 2026-W47 --format html --out /srv/www/digests
      aggregator digest --format md --stdout | mail -s "Mg digest" team@example.org
    """
    from aggregator.jobs.publish import publish_digest, render_digest
    from aggregator.timeutil import utc_now
    from aggregator.weeks import current_week

    week = _check_week(week) if week else current_week(utc_now())
    formats = formats or FORMATS
    engine = app.library_engine()
    if to_stdout:
        rendered = render_digest(engine, week, formats[0])
        _note_if_empty(rendered.empty_database)
        click.echo(rendered.text)
        return
    published = publish_digest(
        engine, week, out_dir=app.settings.out_dir, formats=formats, smtp=app.smtp
    )
    _note_if_empty(published.empty_database)
    for path in published.paths:
        click.echo(f"wrote {path}", err=True)


def _note_if_empty(empty_database: bool) -> None:
    if empty_database:
        # The digest itself says there is nothing; this says why, and what to do.
        click.echo(
            "note: the database holds no harvested articles yet; run `aggregator run` "
            "(or `aggregator run --demo`) first",
            err=True,
        )


SCHEDULE_DEFAULTS = {"day": "monday", "at": "07:00", "timezone": "Europe/Berlin"}


def _schedule_options(defaults: bool) -> Callable[[F], F]:
    """--day/--at/--timezone; with ``defaults`` they show them, else they are None when not
    given (status shows the next run only for a schedule it is told about)."""
    options = [
        click.option(
            "--day",
            default=SCHEDULE_DEFAULTS["day"] if defaults else None,
            show_default=defaults,
            help="Weekday of the run.",
        ),
        click.option(
            "--at",
            "at",
            default=SCHEDULE_DEFAULTS["at"] if defaults else None,
            show_default=defaults,
            help="Local time HH:MM.",
        ),
        click.option(
            "--timezone",
            default=SCHEDULE_DEFAULTS["timezone"] if defaults else None,
            show_default=defaults,
            help="IANA time zone of --at.",
        ),
    ]

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _weekly(day: str | None, at: str | None, timezone: str | None) -> Any:
    """The WeeklySchedule of the flags (defaults for those not given); a bad value is a usage
    error (exit 2) naming it."""
    from aggregator.errors import ConfigError
    from aggregator.jobs.schedule import WeeklySchedule

    try:
        return WeeklySchedule(
            day=day or SCHEDULE_DEFAULTS["day"],
            at=at or SCHEDULE_DEFAULTS["at"],
            timezone=timezone or SCHEDULE_DEFAULTS["timezone"],
        )
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from exc


@click.command()
@settings_options
@_schedule_options(defaults=True)
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also log to this file (rotated).",
)
@click.option(
    "--no-registry",
    is_flag=True,
    help="Skip the ClinicalTrials.gov watch (the saved registry searches in queries/registry/).",
)
@pass_app
def schedule(
    app: AppContext, day: str, at: str, timezone: str, log_file: Path | None, no_registry: bool
) -> None:
    """Run the pipeline (harvest PubMed, watch the registry, tag, digest, deliver) every
    week, in the foreground.

    Catches up a run missed while the machine was off; a failed run is logged and retried
    later (15 min, 1 h, 4 h); SIGTERM/SIGINT let the current run finish, then stop.

    \b
    Examples:
      aggregator schedule
      aggregator schedule --day friday --at 18:30 --timezone America/New_York --log-file run.log
    """
    from aggregator.jobs.registry import open_registry_watch, registry_searches
    from aggregator.jobs.schedule import WeeklyRunner, last_success_of, serve, weekly_job
    from aggregator.jobs.weekly import DigestTarget
    from aggregator.timeutil import utc_now

    weekly = _weekly(day, at, timezone)
    # A foreground service logs its runs: INFO by default (-vv for DEBUG), secrets redacted.
    app.configure_logging(log_file, default_level=logging.INFO)
    engine = app.engine()
    settings = app.settings
    job = weekly_job(
        engine,
        app.eutils_client,
        app.saved_queries,
        DigestTarget(settings.out_dir, smtp=app.smtp),
        # The registry searches as they are on disk at each run, like the PubMed ones.
        None if no_registry else lambda: open_registry_watch(settings, registry_searches(settings)),
    )
    runner = WeeklyRunner(weekly, job, last_success=last_success_of(engine), clock=utc_now)
    serve(runner, lambda line: click.echo(line, err=True))


def age_text(age: dt.timedelta) -> str:
    """How long ago, for `status`: '3 days ago', 'less than a day ago'; a time in the future
    (a wrong clock here or where the run was recorded) is said as such, not as negative days."""
    if age < dt.timedelta(0):
        return "in the future: check the system clock"
    if age.days == 0:
        return "less than a day ago"
    return f"{age.days} day{'s' if age.days != 1 else ''} ago"


@click.command()
@settings_options
@_schedule_options(defaults=False)
@click.option("--runs", "limit", default=5, show_default=True, help="How many recent runs.")
@format_option(("text", "json"))
@pass_app
def status(
    app: AppContext,
    day: str | None,
    at: str | None,
    timezone: str | None,
    limit: int,
    fmt: str | None,
) -> None:
    """Show recent runs, failures and data freshness per saved search (PubMed and registry).
    With --day, --at or --timezone (as given to `aggregator schedule`), also the next
    scheduled run: runs started by cron or a systemd timer are not known to aggregator.

    \b
    Examples:
      aggregator status
      aggregator status --runs 20 --format json | jq .last_success
      aggregator status --day friday --at 18:30 --timezone UTC
    """
    from aggregator.jobs.library import run_status
    from aggregator.jobs.trials import registry_status
    from aggregator.timeutil import as_utc, utc_now

    weekly = _weekly(day, at, timezone) if (day or at or timezone) else None
    now = utc_now()
    engine = app.library_engine()
    report = run_status(engine, runs=limit)
    registry = registry_status(engine)
    data = report.to_dict()
    data["registered_trials"] = registry.trials
    data["registry_checkpoints"] = [
        {"name": c.name, "harvested_to": c.last_window_end} for c in registry.checkpoints
    ]
    next_run = weekly.next_run_after(now) if weekly is not None else None
    data["next_scheduled_run"] = next_run
    data["schedule"] = weekly.describe() if weekly is not None else None

    def text() -> str:
        trials = f", {registry.trials} registered trials" if registry.trials else ""
        lines = [f"database: {report.articles} articles{trials}"]
        last = report.last_success
        finished = as_utc(last.finished_at) if last and last.finished_at else None
        if finished is not None and last is not None:
            age = age_text(now - finished)
            kind = " (demo)" if last.kind == "demo" else ""
            lines.append(f"data refreshed: {finished:%Y-%m-%d %H:%M} UTC ({age}){kind}")
        else:
            lines.append("data refreshed: never (no successful run yet)")
        if next_run is not None and weekly is not None:
            lines.append(f"next scheduled run: {next_run:%Y-%m-%d %H:%M} UTC ({weekly.describe()})")
        lines.append("saved searches:")
        if not report.checkpoints:
            lines.append("  (none harvested yet)")
        for state in report.checkpoints:
            lines.append(f"  {state.query_name}: harvested to {state.last_window_end}")
        if registry.checkpoints:
            lines.append("registry searches (ClinicalTrials.gov):")
            for checkpoint in registry.checkpoints:
                lines.append(f"  {checkpoint.name}: harvested to {checkpoint.last_window_end}")
        lines.append("recent runs:")
        if not report.runs:
            lines.append("  (none)")
        for row in report.runs:
            started = f"{row.started_at:%Y-%m-%d %H:%M}"
            lines.append(
                f"  #{row.id} {row.kind} {started} {row.status}: {row.new} new, "
                f"{row.revised} revised, {row.failed_queries} failed queries"
            )
            if row.error:
                lines.append(f"      error: {row.error}")
        return "\n".join(lines) + "\n"

    emit(data, text, resolve_format(fmt, "text"))


COMMANDS = [digest, schedule, status]
