"""Where a registered trial stands: its stage, from the registry's overall status, posted
results and linked publications. The one definition the digest, ``aggregator trials`` and the
JSON output share.

Stages, in the order a trial moves through them::

    not_yet_recruiting  NOT_YET_RECRUITING
    recruiting          RECRUITING, ENROLLING_BY_INVITATION
    active              ACTIVE_NOT_RECRUITING (enrolment closed, follow-up going on)
    completed           COMPLETED, with no results posted and no linked publication yet
    results_posted      results posted on the registry (any status), no linked publication
    published           a publication is linked (the registry's RESULT/DERIVED references,
                        or an article naming the NCT id)
    stopped             SUSPENDED, TERMINATED, WITHDRAWN (without results or publication)
    unknown             UNKNOWN, no status, or a status outside these (expanded access, ...)
"""

from __future__ import annotations

# Overall status values of the registry (API v2 enum). Others are kept as given.
OVERALL_STATUSES: tuple[str, ...] = (
    "NOT_YET_RECRUITING",
    "RECRUITING",
    "ENROLLING_BY_INVITATION",
    "ACTIVE_NOT_RECRUITING",
    "SUSPENDED",
    "TERMINATED",
    "COMPLETED",
    "WITHDRAWN",
    "AVAILABLE",
    "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE",
    "APPROVED_FOR_MARKETING",
    "WITHHELD",
    "UNKNOWN",
)
# Phase values of the registry (API v2 enum); NA: not applicable (e.g. a supplement study).
PHASES: tuple[str, ...] = ("EARLY_PHASE1", "PHASE1", "PHASE2", "PHASE3", "PHASE4", "NA")

TRIAL_STAGES: tuple[str, ...] = (
    "not_yet_recruiting",
    "recruiting",
    "active",
    "completed",
    "results_posted",
    "published",
    "stopped",
    "unknown",
)
STAGE_LABELS: dict[str, str] = {
    "not_yet_recruiting": "not yet recruiting",
    "recruiting": "recruiting",
    "active": "active, not recruiting",
    "completed": "completed, no results yet",
    "results_posted": "results posted",
    "published": "published",
    "stopped": "stopped",
    "unknown": "status unknown",
}
STATUS_STAGES: dict[str, str] = {
    "NOT_YET_RECRUITING": "not_yet_recruiting",
    "RECRUITING": "recruiting",
    "ENROLLING_BY_INVITATION": "recruiting",
    "ACTIVE_NOT_RECRUITING": "active",
    "COMPLETED": "completed",
    "SUSPENDED": "stopped",
    "TERMINATED": "stopped",
    "WITHDRAWN": "stopped",
}
COMPLETED = "COMPLETED"
# Stages a completed trial can be in (results and publications usually follow completion).
DONE_STAGES = frozenset({"completed", "results_posted", "published"})
REPORTED_STAGES = frozenset({"results_posted", "published"})


def trial_stage(status: str | None, *, has_results: bool, published: bool) -> str:
    """The stage of a trial with this overall status, posted results or not, and linked
    publications or not."""
    if published:
        return "published"
    if has_results:
        return "results_posted"
    return STATUS_STAGES.get(status or "", "unknown")


def status_label(status: str | None) -> str:
    """``NOT_YET_RECRUITING`` -> ``not yet recruiting`` (``unknown`` for None)."""
    return status.replace("_", " ").lower() if status else "unknown"


def normalise_status(text: str) -> str | None:
    """``"not yet recruiting"``, ``"not-yet-recruiting"`` -> ``NOT_YET_RECRUITING``; None when
    it is no registry status."""
    value = "_".join(text.replace("-", " ").replace(",", " ").upper().split())
    return value if value in OVERALL_STATUSES else None


def normalise_phase(text: str) -> str | None:
    """``"2"``, ``"phase2"``, ``"Phase 2"`` -> ``PHASE2``; ``"early1"`` -> ``EARLY_PHASE1``;
    ``"na"`` -> ``NA``; None when it is no registry phase."""
    value = "".join(text.replace("-", "").replace("_", "").upper().split())
    if value in ("NA", "NOTAPPLICABLE"):
        return "NA"
    early = value.startswith("EARLY")
    digits = value.removeprefix("EARLY").removeprefix("PHASE")
    if digits not in ("1", "2", "3", "4") or (early and digits != "1"):
        return None
    return f"EARLY_PHASE{digits}" if early else f"PHASE{digits}"


def phase_label(phases: tuple[str, ...] | list[str]) -> str:
    """``("PHASE2", "PHASE3")`` -> ``phase 2/3``; ``("NA",)`` -> ``not applicable``."""
    if not phases:
        return "not given"
    if tuple(phases) == ("NA",):
        return "not applicable"
    numbers = [p.replace("EARLY_PHASE", "early ").replace("PHASE", "") for p in phases]
    return "phase " + "/".join(numbers)
