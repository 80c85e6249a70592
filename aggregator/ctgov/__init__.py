"""ClinicalTrials.gov registry watch: API v2 client, saved registry searches, study parsing and
the magnesium-form adapter.

* :mod:`aggregator.ctgov.client`: :class:`RegistryClient` (search with paging, incremental
  ``LastUpdatePostDate`` filter, count, one study) on the polite HTTP policy.
* :mod:`aggregator.ctgov.searches`: saved searches in ``queries/registry/*.toml``.
* :mod:`aggregator.ctgov.studies`: pure parsing of study JSON into frozen :class:`Trial`.
* :mod:`aggregator.ctgov.forms`: the magnesium form of a trial's interventions, by the
  article tagger's rules.
* :mod:`aggregator.ctgov.fake`: a local stand-in for the API with a synthetic corpus (tests
  and the demo; imported on its own, never by this package).
"""

from __future__ import annotations

from aggregator.ctgov.client import (
    DEFAULT_FIELDS,
    RegistryClient,
    RegistryHTTPError,
    StudyNotFoundError,
    StudyPages,
    last_update_filter,
)
from aggregator.ctgov.forms import TrialFormTag, intervention_forms, trial_forms
from aggregator.ctgov.searches import (
    RegistrySearch,
    load_registry_searches,
    parse_registry_file,
    resolve_registry_dir,
    shipped_registry_dir,
)
from aggregator.ctgov.studies import (
    ArmGroup,
    PartialDate,
    Trial,
    TrialDate,
    TrialIntervention,
    TrialReference,
    content_hash,
    is_nct_id,
    iter_studies,
    normalise_nct_id,
    parse_studies,
    parse_study,
    parse_study_json,
)

__all__ = [
    "DEFAULT_FIELDS",
    "ArmGroup",
    "PartialDate",
    "RegistryClient",
    "RegistryHTTPError",
    "RegistrySearch",
    "StudyNotFoundError",
    "StudyPages",
    "Trial",
    "TrialDate",
    "TrialFormTag",
    "TrialIntervention",
    "TrialReference",
    "content_hash",
    "intervention_forms",
    "is_nct_id",
    "iter_studies",
    "last_update_filter",
    "load_registry_searches",
    "normalise_nct_id",
    "parse_registry_file",
    "parse_studies",
    "parse_study",
    "parse_study_json",
    "resolve_registry_dir",
    "shipped_registry_dir",
    "trial_forms",
]
