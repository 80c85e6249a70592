"""Commands that report and operate: digest, status, schedule."""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from aggregator.cli.context import AppContext, settings_options

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from aggregator.digest import Digest

pass_app = click.make_pass_decorator(AppContext, ensure=True)
logger = logging.getLogger("aggregator.reports")

F = TypeVar("F", bound=Callable[..., Any])

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
FORMATS = ("md", "html", "json")


def current_week(today: dt.date | None = None) -> str:
    """ISO week of ``today`` (UTC), e.g. '2026-W48'."""
    day = today or dt.datetime.now(dt.UTC).date()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _check_week(week: str) -> str:
    match = WEEK_RE.match(week)
    if not match:
        raise click.BadParameter(f"{week!r} is not an ISO week like 2026-W48", param_hint="--week")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        dt.date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise click.BadParameter(f"{week!r}: {exc}", param_hint="--week") from exc
    return week


def write_weekly_digest(
    app: AppContext,
    week: str,
    formats: tuple[str, ...] = FORMATS,
    *,
    demo: bool | None = None,
    out_dir: Path | None = None,
) -> list[Path]:
    """Build the digest for ``week`` from the database, write it, and record it there."""
    from aggregator.digest import digest_to_dict, write_digest
    from aggregator.digest.output import RENDERERS
    from aggregator.store.digests import save_digest
    from aggregator.store.engine import new_session

    engine = app.engine()
    digest = _build(engine, week, demo)
    paths = write_digest(digest, out_dir or app.settings.out_dir, formats)
    summary = digest_to_dict(digest)["headline"]
    with new_session(engine) as session:
        now = dt.datetime.now(dt.UTC)
        for fmt in formats:
            render, _media = RENDERERS[fmt]
            save_digest(
                session, iso_week=week, fmt=fmt, content=render(digest), summary=summary, now=now
            )
        session.commit()
    _deliver(digest, paths)
    return paths


def _build(engine: Engine, week: str, demo: bool | None) -> Digest:
    """The digest of ``week`` from the database, as known at the end of that week."""
    from aggregator.store.digest_reader import load_digest_inputs

    inputs = load_digest_inputs(engine, week)
    if not inputs.stored_articles and not inputs.runs:
        # The digest itself says there is nothing; this says why, and what to do.
        click.echo(
            "note: the database holds no harvested articles yet; run `aggregator run` "
            "(or `aggregator run --demo`) first",
            err=True,
        )
    return inputs.build(demo=demo)


def _deliver(digest: Digest, paths: list[Path]) -> None:
    """E-mail the digest when AGGREGATOR_SMTP_URL and AGGREGATOR_SMTP_TO are set."""
    from aggregator.digest import render_html, render_markdown
    from aggregator.jobs.delivery import load_smtp_settings, send_digest

    smtp = load_smtp_settings(os.environ)
    if smtp is None:
        return
    # Rendered here, not read from the written files: the mail needs both parts even when
    # only one format was written (e.g. --format md).
    receipt = send_digest(smtp, digest.title, render_markdown(digest), render_html(digest))
    logger.info("digest emailed: %s", receipt)


def write_current_digest(app: AppContext, *, demo: bool = False) -> list[Path]:
    """The digest of the current ISO week, in every format (used by `aggregator run`)."""
    return write_weekly_digest(app, current_week(), FORMATS, demo=demo or None)


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
    stands next to the other forms. A past week shows what was known then.

    \b
    Examples:
      aggregator digest                       # this week, md + html + json, into digests/
      aggregator digest --week 2026-W47 --format html --out /srv/www/digests
      aggregator digest --format md --stdout | mail -s "Mg digest" team@example.org
    """
    week = _check_week(week) if week else current_week()
    formats = formats or FORMATS
    if to_stdout:
        from aggregator.digest.output import RENDERERS

        built = _build(app.engine(), week, None)
        render, _media = RENDERERS[formats[0]]
        click.echo(render(built))
        return
    for path in write_weekly_digest(app, week, formats):
        click.echo(f"wrote {path}")


schedule_options = [
    click.option("--day", default="monday", show_default=True, help="Weekday of the run."),
    click.option("--at", "at", default="07:00", show_default=True, help="Local time HH:MM."),
    click.option(
        "--timezone",
        default="Europe/Berlin",
        show_default=True,
        help="IANA time zone of --at.",
    ),
]


def _with_schedule_options(func: F) -> F:
    for option in reversed(schedule_options):
        func = option(func)
    return func


@click.command()
@settings_options
@_with_schedule_options
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also log to this file (rotated).",
)
@pass_app
def schedule(app: AppContext, day: str, at: str, timezone: str, log_file: Path | None) -> None:
    """Run the pipeline (harvest, tag, digest, deliver) every week, in the foreground.

    Catches up a run missed while the machine was off; a failed run is logged and retried
    later (15 min, 1 h, 4 h); SIGTERM/SIGINT let the current run finish, then stop.

    \b
    Examples:
      aggregator schedule
      aggregator schedule --day friday --at 18:30 --timezone America/New_York --log-file run.log
    """
    from aggregator.cli.harvest import _client, _load_queries
    from aggregator.jobs.harvest import Harvester
    from aggregator.jobs.schedule import (
        JobResult,
        WeeklyRunner,
        WeeklySchedule,
        install_signal_handlers,
    )
    from aggregator.logconfig import configure_logging
    from aggregator.store.engine import new_session
    from aggregator.store.lock import RunLock
    from aggregator.store.runs import last_successful_run

    weekly = WeeklySchedule(day=day, at=at, timezone=timezone)
    settings = app.settings
    secrets = [settings.api_key] if settings.api_key else []
    configure_logging(logging.INFO, log_file=log_file, secrets=secrets)
    engine = app.engine()

    def job() -> JobResult:
        queries = _load_queries(app, ())
        with _client(settings) as client:
            report = Harvester(engine, client, lock=RunLock(engine)).run(queries)
        for line in report.summary_lines():
            logger.info(line)
        write_current_digest(app)
        return JobResult(ok=report.ok, message=report.summary_lines()[-1], run_id=report.run_id)

    def last_success() -> dt.datetime | None:
        with new_session(engine) as session:
            row = last_successful_run(session)
        return row.finished_at if row else None

    runner = WeeklyRunner(
        weekly, job, last_success=last_success, clock=lambda: dt.datetime.now(dt.UTC)
    )
    restore = install_signal_handlers(runner)
    try:
        # describe_next_run() already names the schedule ("every Monday at 07:00 ...").
        click.echo(f"scheduler started: {runner.describe_next_run()}", err=True)
        runner.run_forever()
    finally:
        restore()
    click.echo("scheduler stopped", err=True)


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
@_with_schedule_options
@click.option("--runs", "limit", default=5, show_default=True, help="How many recent runs.")
@pass_app
def status(app: AppContext, day: str, at: str, timezone: str, limit: int) -> None:
    """Show recent runs, failures, data freshness per saved search and the next scheduled run.

    \b
    Examples:
      aggregator status
      aggregator status --runs 20
    """
    from aggregator.jobs.schedule import WeeklySchedule
    from aggregator.store.articles import count_articles
    from aggregator.store.engine import new_session
    from aggregator.store.runs import last_successful_run, query_states, recent_runs

    weekly = WeeklySchedule(day=day, at=at, timezone=timezone)
    now = dt.datetime.now(dt.UTC)
    with new_session(app.engine()) as session:
        runs = recent_runs(session, limit=limit)
        states = query_states(session)
        last_ok = last_successful_run(session)
        total = count_articles(session)
    click.echo(f"database: {total} articles")
    if last_ok and last_ok.finished_at:
        age = now - last_ok.finished_at.replace(tzinfo=last_ok.finished_at.tzinfo or dt.UTC)
        click.echo(f"data refreshed: {last_ok.finished_at:%Y-%m-%d %H:%M} UTC ({age_text(age)})")
    else:
        click.echo("data refreshed: never (no successful run yet)")
    click.echo(
        f"next scheduled run: {weekly.next_run_after(now):%Y-%m-%d %H:%M} UTC ({weekly.describe()})"
    )
    click.echo("saved searches:")
    if not states:
        click.echo("  (none harvested yet)")
    for state in states:
        click.echo(f"  {state.query_name}: harvested to {state.last_window_end}")
    click.echo("recent runs:")
    if not runs:
        click.echo("  (none)")
    for row in runs:
        started = f"{row.started_at:%Y-%m-%d %H:%M}"
        line = (
            f"  #{row.id} {row.kind} {started} {row.status}: {row.new} new, "
            f"{row.revised} revised, {row.failed_queries} failed queries"
        )
        click.echo(line)
        if row.error:
            click.echo(f"      error: {row.error}")


COMMANDS = [digest, schedule, status]
