"""The weekly job: harvest every saved search, watch the registry, then publish this week's
digest.

The one definition that ``aggregator run``, ``aggregator schedule`` and ``aggregator run
--demo`` all call; they differ only in the clients, the clock and where the digest goes. The
registry watch (:mod:`aggregator.jobs.registry`) runs after the PubMed harvest, in the same
run and under the same run lock, unless it is switched off (no ``registry``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from aggregator.jobs.delivery import SmtpSettings
from aggregator.jobs.harvest import Harvester, HarvestReport, ProgressCallback, SearchClient
from aggregator.jobs.publish import FORMATS, Published, publish_digest
from aggregator.jobs.registry import RegistryHarvester, RegistryWatch
from aggregator.queries import SavedQuery
from aggregator.store.lock import RunLock
from aggregator.timeutil import Clock, utc_now
from aggregator.weeks import current_week


@dataclass(frozen=True, slots=True)
class DigestTarget:
    """Where and how the digest is published; None in :func:`run_weekly` means harvest only."""

    out_dir: Path
    formats: tuple[str, ...] = FORMATS
    demo: bool | None = None  # None: marked as demo data when the database holds only that
    smtp: SmtpSettings | None = None


@dataclass(frozen=True, slots=True)
class WeeklyResult:
    """The harvest report and, unless harvest-only, the published digest."""

    report: HarvestReport
    published: Published | None

    @property
    def ok(self) -> bool:
        return self.report.ok

    def to_dict(self) -> dict[str, Any]:
        """The harvest report and the files written, as JSON values."""
        return {
            **self.report.to_dict(),
            "written": [str(path) for path in self.published.paths] if self.published else [],
        }

    def summary_lines(self) -> list[str]:
        """One line per saved search, a total, and one per file written."""
        lines = self.report.summary_lines()
        if self.published is not None:
            lines += [f"wrote {path}" for path in self.published.paths]
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
    published = publish_digest(
        engine,
        week or current_week(clock()),
        out_dir=digest.out_dir,
        formats=digest.formats,
        demo=digest.demo,
        smtp=digest.smtp,
    )
    return WeeklyResult(report, published)
