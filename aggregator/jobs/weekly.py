"""The weekly job: harvest every saved search, watch the registry, then publish this week's
digest.

The one definition that ``aggregator run``, ``aggregator schedule`` and ``aggregator run
--demo`` all call; they differ only in the clients, the clock and where the digest goes. The
registry watch (:mod:`aggregator.jobs.registry`) runs after the PubMed harvest, in the same
run and under the same run lock, unless it is switched off (no ``registry``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from aggregator.errors import AggregatorError
from aggregator.jobs.delivery import SmtpSettings
from aggregator.jobs.harvest import Harvester, HarvestReport, ProgressCallback, SearchClient
from aggregator.jobs.publish import FORMATS, Published, publish_digest
from aggregator.jobs.registry import RegistryHarvester, RegistryWatch
from aggregator.queries import SavedQuery
from aggregator.store.engine import new_session, store_errors
from aggregator.store.lock import RunLock
from aggregator.store.runs import finish_run, get_run
from aggregator.timeutil import Clock, utc_now
from aggregator.weeks import current_week

logger = logging.getLogger("aggregator.jobs.weekly")


@dataclass(frozen=True, slots=True)
class DigestTarget:
    """Where and how the digest is published; None in :func:`run_weekly` means harvest only."""

    out_dir: Path
    formats: tuple[str, ...] = FORMATS
    demo: bool | None = None  # None: marked as demo data when the database holds only that
    smtp: SmtpSettings | None = None


@dataclass(frozen=True, slots=True)
class WeeklyResult:
    """The harvest report and, unless harvest-only, the published digest (or why it could
    not be published: then the run is recorded as failed in its digest step)."""

    report: HarvestReport
    published: Published | None
    digest_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.report.ok and self.digest_error is None

    def to_dict(self) -> dict[str, Any]:
        """The harvest report and the files written, as JSON values."""
        return {
            **self.report.to_dict(),
            "written": [str(path) for path in self.published.paths] if self.published else [],
            "digest_error": self.digest_error,
        }

    def summary_lines(self) -> list[str]:
        """One line per saved search, a total, and one per file written (or the digest's
        failure)."""
        lines = self.report.summary_lines()
        if self.published is not None:
            lines += [f"wrote {path}" for path in self.published.paths]
        if self.digest_error is not None:
            lines.append(f"digest: FAILED: {self.digest_error}")
        return lines


def run_weekly(
    engine: Engine,
    client: SearchClient,
    queries: Sequence[SavedQuery],
    *,
    digest: DigestTarget | None,
    week: str | None = None,
    clock: Clock = utc_now,
    today: Callable[[], dt.date] | None = None,
    progress: ProgressCallback | None = None,
    lock: RunLock | None = None,
    source: str = "efetch",
    run_kind: str = "run",
    registry: RegistryWatch | None = None,
) -> WeeklyResult:
    """Harvest ``queries`` into ``engine`` under ``lock``, then the registry searches of
    ``registry`` (None: no registry watch) in the same run, then publish the digest of
    ``week`` (default: the current ISO week by ``clock``). The digest is published even when
    a saved search failed: it says so under run health and in its registry section."""
    harvester = Harvester(
        engine,
        client,
        clock=clock,
        today=today,
        progress=progress,
        source=source,
        run_kind=run_kind,
        lock=lock,
    )
    follow_up = (
        None
        if registry is None
        else RegistryHarvester(
            engine, registry, clock=clock, today=today, lock=lock, progress=progress
        )
    )
    report = harvester.run(queries, follow_up=follow_up)
    if digest is None:
        return WeeklyResult(report, None)
    try:
        published = publish_digest(
            engine,
            week or current_week(clock()),
            out_dir=digest.out_dir,
            formats=digest.formats,
            demo=digest.demo,
            smtp=digest.smtp,
        )
    except AggregatorError as exc:  # files, feed, database or mail: the run failed there
        record_failed_step(engine, report.run_id, "digest", str(exc), clock)
        return WeeklyResult(replace(report, status="failed"), None, str(exc))
    return WeeklyResult(report, published)


def record_failed_step(engine: Engine, run_id: int, step: str, error: str, clock: Clock) -> None:
    """Mark a finished run as failed in ``step`` (after the harvest): its status, its error
    and ``details[step]`` say so, for ``status`` and the next digest's run health."""
    try:
        with store_errors(engine.url), new_session(engine) as session:
            run = get_run(session, run_id)
            if run is None:
                return
            details = dict(run.details) if isinstance(run.details, dict) else {}
            details[step] = {"ok": False, "error": error}
            finish_run(
                session,
                run_id,
                status="failed",
                now=clock(),
                searched=run.searched,
                new=run.new,
                revised=run.revised,
                unchanged=run.unchanged,
                failed_queries=run.failed_queries,
                error="; ".join(e for e in (run.error, f"{step}: {error}") if e),
                details=details,
            )
            session.commit()
    except AggregatorError as exc:  # e.g. the same full disk: the failure itself is reported
        logger.warning("could not record the failed %s step of run %s: %s", step, run_id, exc)
