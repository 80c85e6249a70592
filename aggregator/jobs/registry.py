"""The registry watch: saved ClinicalTrials.gov searches -> API v2 -> parser -> forms -> database.

Run by the weekly job after the PubMed harvest, in the same run and under the same run lock
(:meth:`aggregator.jobs.harvest.Harvester.run` calls :meth:`RegistryHarvester.__call__` as
its follow-up). Incremental and restartable, like the PubMed harvest. For each enabled
registry search:

1. Ask for the studies whose LastUpdatePostDate is on or after the search's checkpoint day
   (its ``start_date`` on the first harvest, or after the search was edited), page by page.
2. Parse each study, read the magnesium forms of its interventions (:mod:`ctgov.forms`, the
   article rules) and whether it studies migraine or headache (:mod:`ctgov.conditions`).
3. Upsert each page's trials by NCT id with their status changes and reference links, and
   commit: a killed run keeps what it stored; the checkpoint (today) advances only in the
   last transaction, after every page is in. A study that cannot be read fails the search
   (reported, checkpoint kept), so it is asked for again next time.

Then the links from articles to trials: every article fetched since the last pass whose title,
abstract or databank list names an NCT id is joined to it (``article_mentions``), in one
transaction with the pass's checkpoint. A search that fails does not stop the others; the
run reports it like a failed saved search.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from aggregator.ctgov import (
    RegistryClient,
    RegistrySearch,
    intervention_forms,
    load_registry_searches,
    parse_study,
    resolve_registry_dir,
)
from aggregator.ctgov.client import DEFAULT_PAGE_SIZE
from aggregator.ctgov.conditions import is_migraine_or_headache
from aggregator.ctgov.mentions import nct_mentions
from aggregator.errors import AggregatorError, ConfigError
from aggregator.http import PoliteSession
from aggregator.jobs.harvest import ProgressCallback
from aggregator.logconfig import log_event
from aggregator.settings import Settings
from aggregator.store.engine import new_session, store_errors
from aggregator.store.lock import RunLock
from aggregator.store.runs import get_checkpoint, set_checkpoint
from aggregator.store.trials import (
    MENTIONS_STATE,
    TrialInput,
    TrialUpsert,
    articles_fetched_since,
    mention_candidates,
    mentions_checkpoint,
    registry_checkpoint_name,
    replace_article_mentions,
    upsert_trials,
)
from aggregator.tagging import RULES_VERSION
from aggregator.timeutil import Clock, utc_now

logger = logging.getLogger("aggregator.jobs.registry")

DETAILS_KEY = "registry"  # where a run's stored details keep the registry outcomes


@dataclass
class RegistrySearchOutcome:
    """What happened to one registry search in a run."""

    name: str
    query: str  # the search as the API sees it (RegistrySearch.describe())
    ok: bool = True
    first_harvest: bool = False
    window_start: dt.date | None = None  # LastUpdatePostDate asked from (inclusive)
    window_end: dt.date | None = None  # the run's day: the checkpoint once complete
    found: int = 0  # studies the registry returned
    pages: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    status_changes: int = 0
    results_posted: int = 0
    links_added: int = 0
    error: str | None = None

    def details(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "query": self.query,
            "ok": self.ok,
            "first_harvest": self.first_harvest,
            "window": [
                self.window_start.isoformat() if self.window_start else None,
                self.window_end.isoformat() if self.window_end else None,
            ],
            "found": self.found,
            "pages": self.pages,
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "status_changes": self.status_changes,
            "results_posted": self.results_posted,
            "links_added": self.links_added,
            "error": self.error,
        }


@dataclass
class MentionOutcome:
    """The pass joining articles to the NCT ids they name."""

    ok: bool = True
    articles: int = 0  # articles read (those that may name an NCT id)
    added: int = 0
    removed: int = 0
    error: str | None = None


@dataclass
class RegistryReport:
    """The registry part of a run: one outcome per search, and the mention pass."""

    outcomes: list[RegistrySearchOutcome] = field(default_factory=list)
    mentions: MentionOutcome | None = None
    every_search: bool = True  # False: only some searches were asked for (run --query)

    @property
    def searched(self) -> int:
        return len(self.outcomes)

    @property
    def failures(self) -> list[str]:
        """``registry <name>: <error>`` per failed search (and a failed mention pass)."""
        found = [f"registry {o.name}: {o.error}" for o in self.outcomes if not o.ok]
        if self.mentions is not None and not self.mentions.ok:
            found.append(f"registry links: {self.mentions.error}")
        return found

    def total(self, attribute: str) -> int:
        return sum(int(getattr(o, attribute)) for o in self.outcomes)

    def summary_lines(self) -> list[str]:
        """One line per registry search and one for the article links."""
        lines = []
        for o in self.outcomes:
            if not o.ok:
                lines.append(f"registry {o.name}: FAILED: {o.error}")
                continue
            window = (
                f"{o.window_start.isoformat()}..{o.window_end.isoformat()}"
                if o.window_start and o.window_end
                else ""
            )
            extra = [
                text
                for count, text in (
                    (o.status_changes, f"{o.status_changes} status changes"),
                    (o.results_posted, f"{o.results_posted} with new results"),
                )
                if count
            ]
            lines.append(
                f"registry {o.name}: {o.new} new, {o.changed} updated, {o.unchanged} unchanged "
                f"trials ({o.found} returned, updated {window})"
                + (f"; {', '.join(extra)}" if extra else "")
            )
        if self.mentions is not None:
            m = self.mentions
            lines.append(
                f"registry links: FAILED: {m.error}"
                if not m.ok
                else f"registry links: {m.added} new article-trial links from NCT ids named "
                f"in {m.articles} articles" + (f", {m.removed} removed" if m.removed else "")
            )
        return lines

    def total_text(self) -> str:
        """The registry's part of the run's total line."""
        return (
            f"registry: {self.total('new')} new, {self.total('changed')} updated trials, "
            f"{sum(1 for o in self.outcomes if not o.ok)} failed searches"
        )

    def details(self) -> dict[str, Any]:
        """What the run row keeps under ``details["registry"]``."""
        data: dict[str, Any] = {
            "every_search": self.every_search,
            "searches": [o.details() for o in self.outcomes],
        }
        if self.mentions is not None:
            m = self.mentions
            data["links"] = {
                "ok": m.ok,
                "articles": m.articles,
                "added": m.added,
                "removed": m.removed,
                "error": m.error,
            }
        return data


@dataclass(frozen=True)
class RegistryWatch:
    """What the weekly job needs to watch the registry: a client and the saved searches."""

    client: RegistryClient
    searches: Sequence[RegistrySearch]
    page_size: int = DEFAULT_PAGE_SIZE
    every_search: bool = True  # False: only some of the saved registry searches (run --query)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RegistryWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def registry_searches(settings: Settings) -> list[RegistrySearch]:
    """The saved registry searches of the configured queries folder (``<queries>/registry``,
    see :func:`aggregator.ctgov.resolve_registry_dir`); none when the folder has none."""
    folder = resolve_registry_dir(settings.queries_dir)
    if folder is None or not folder.is_dir() or not any(folder.glob("*.toml")):
        return []
    return load_registry_searches(folder)


def registry_folder(settings: Settings) -> Path | None:
    """Where the registry searches are read from (None: no registry folder configured)."""
    return resolve_registry_dir(settings.queries_dir)


def split_search_names(
    names: Iterable[str], searches: Sequence[RegistrySearch], *, registry: bool = True
) -> tuple[list[str], list[RegistrySearch]]:
    """``run --query`` names split into PubMed search names (left to the PubMed loader, which
    refuses unknown ones) and the registry searches named. No names: every registry search
    (none when ``registry`` is False). A registry search named with the registry switched off
    is a ConfigError."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return [], list(searches) if registry else []
    watched = {s.name: s for s in searches}
    named = [watched[name] for name in wanted if name in watched]
    if named and not registry:
        raise ConfigError(f"{named[0].name!r} is a registry search, but --no-registry skips those")
    return [name for name in wanted if name not in watched], named


def open_registry_watch(
    settings: Settings,
    searches: Sequence[RegistrySearch],
    *,
    session: PoliteSession | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    every_search: bool = True,
) -> RegistryWatch | None:
    """A watch of ``searches`` on ClinicalTrials.gov (``settings.ctgov_url``), or None when
    there is nothing to watch. ``session`` replaces the client's own polite session;
    ``every_search`` False says only some saved searches were chosen (``run --query``)."""
    if not searches:
        return None
    client = RegistryClient(settings, session=session)
    return RegistryWatch(client, searches, page_size, every_search)


class RegistryHarvester:
    """Runs registry searches incrementally into the database (the run's follow-up step)."""

    key = DETAILS_KEY

    def __init__(
        self,
        engine: Engine,
        watch: RegistryWatch,
        *,
        clock: Clock = utc_now,
        today: Callable[[], dt.date] | None = None,
        lock: RunLock | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.engine = engine
        self.watch = watch
        self.clock = clock
        self.today = today or (lambda: self.clock().date())
        self.lock = lock
        self.progress = progress

    def __call__(self, run_id: int) -> RegistryReport:
        """Harvest every enabled registry search, then link articles naming NCT ids."""
        report = RegistryReport(every_search=self.watch.every_search)
        for search in self.watch.searches:
            if search.enabled:
                report.outcomes.append(self.harvest_search(search, run_id))
        report.mentions = self.link_mentions(run_id)
        return report

    # -- one search --------------------------------------------------------------------------

    def harvest_search(self, search: RegistrySearch, run_id: int) -> RegistrySearchOutcome:
        """Harvest one registry search; errors are caught and reported in the outcome."""
        outcome = RegistrySearchOutcome(name=search.name, query=search.describe())
        try:
            with store_errors(self.engine.url):
                self._harvest_search(search, run_id, outcome)
        except AggregatorError as exc:
            outcome.ok = False
            outcome.error = str(exc)
            log_event(
                logger, "registry.search_failed", logging.ERROR, name=search.name, error=str(exc)
            )
        else:
            log_event(
                logger,
                "registry.search_done",
                name=search.name,
                new=outcome.new,
                changed=outcome.changed,
                unchanged=outcome.unchanged,
                status_changes=outcome.status_changes,
            )
        return outcome

    def _harvest_search(
        self, search: RegistrySearch, run_id: int, outcome: RegistrySearchOutcome
    ) -> None:
        checkpoint_name = registry_checkpoint_name(search.name)
        with new_session(self.engine) as session:
            checkpoint = get_checkpoint(session, checkpoint_name, search.fingerprint)
        today = self.today()
        # The checkpoint day itself is asked again: studies updated later that day were not
        # visible to the previous run. Unchanged ones cost one comparison each.
        start = search.start_date if checkpoint is None else checkpoint
        outcome.first_harvest, outcome.window_start, outcome.window_end = (
            checkpoint is None,
            start,
            today,
        )
        pages = self.watch.client.search_studies(
            search, updated_since=start, page_size=self.watch.page_size
        )
        batch: list[TrialInput] = []
        for raw in pages:
            if outcome.found == 0 and self.progress and pages.total_count is not None:
                self.progress(search.name, 0, pages.total_count)
            outcome.found += 1
            batch.append(trial_input(raw, source=f"{search.name} reply"))
            if len(batch) >= self.watch.page_size:
                self._store_batch(batch, run_id, outcome)
                batch = []
                if self.progress and pages.total_count is not None:
                    self.progress(search.name, outcome.found, pages.total_count)
        if batch:
            self._store_batch(batch, run_id, outcome)
        outcome.pages = pages.pages
        with new_session(self.engine) as session:
            self._confirm_lock(session)
            set_checkpoint(
                session, checkpoint_name, today, run_id, self.clock(), search.fingerprint
            )
            session.commit()

    def _store_batch(
        self, batch: list[TrialInput], run_id: int, outcome: RegistrySearchOutcome
    ) -> None:
        with new_session(self.engine) as session:
            self._confirm_lock(session)
            results = upsert_trials(session, batch, run_id=run_id, now=self.clock())
            session.commit()
        for result in results:
            _count(outcome, result)

    def _confirm_lock(self, session: Session) -> None:
        """First in every write transaction: this run still holds the run lock (renewing it),
        else LockLostError and the transaction writes nothing."""
        if self.lock is not None:
            self.lock.confirm(session)

    # -- article -> trial links --------------------------------------------------------------

    def link_mentions(self, run_id: int) -> MentionOutcome:
        """Join the articles fetched since the last pass to the NCT ids they name."""
        outcome = MentionOutcome()
        try:
            with store_errors(self.engine.url), new_session(self.engine) as session:
                started = self.clock()
                self._confirm_lock(session)
                since = mentions_checkpoint(session)
                candidates = mention_candidates(session, fetched_since=since)
                outcome.articles = len(candidates)
                mentions: dict[int, set[str]] = {
                    c.pmid: nct_mentions(c.title, c.abstract, c.raw) for c in candidates
                }
                if since is not None:
                    # A re-fetched article that no longer names an id loses its links.
                    for pmid in articles_fetched_since(session, since):
                        mentions.setdefault(pmid, set())
                else:
                    mentions = {pmid: ids for pmid, ids in mentions.items() if ids}
                outcome.added, outcome.removed = replace_article_mentions(
                    session, mentions, run_id=run_id, now=started
                )
                set_checkpoint(session, MENTIONS_STATE, started.date(), run_id, started)
                session.commit()
        except AggregatorError as exc:
            outcome.ok = False
            outcome.error = str(exc)
            log_event(logger, "registry.links_failed", logging.ERROR, error=str(exc))
        return outcome


def trial_input(raw: dict[str, Any], *, source: str) -> TrialInput:
    """A study from the registry, parsed, with its forms and whether it is about headache."""
    trial = parse_study(raw, source=source)
    return TrialInput(
        trial=trial,
        form_tags=intervention_forms(trial),
        migraine_or_headache=is_migraine_or_headache(trial),
        raw_json=json.dumps(raw, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        rules_version=RULES_VERSION,
    )


def _count(outcome: RegistrySearchOutcome, result: TrialUpsert) -> None:
    if result.status == "new":
        outcome.new += 1
    elif result.status == "changed":
        outcome.changed += 1
    else:
        outcome.unchanged += 1
    if result.status_changed:
        outcome.status_changes += 1
    if result.results_posted:
        outcome.results_posted += 1
    outcome.links_added += result.links_added
