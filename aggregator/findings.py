"""What a study found, as data: the result types of the findings extractor
(:func:`aggregator.tagging.findings.extract_findings`), their JSON shape and the words every
output uses for them.

They live here, below every layer, because every layer shows them: the tagger computes them
(``ArticleTags.findings``), the store keeps them (``article.findings`` and the filter/sort
columns of revision 0009) and reads them back (:meth:`Findings.from_dict`), the exports and the
CLI print them, and the digest lists them. The extraction rules stay in ``tagging/findings.py``
(which re-exports these types), with the documentation of every field.

Findings *report*: every wording says what the authors report, never what anybody should take.
A field the abstract does not state is ``None`` ("not stated"), never inferred.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SCOPES: tuple[str, ...] = ("study", "review", "protocol", "commentary", "none")
REPORTED_RESULTS: tuple[str, ...] = (
    "favours_magnesium",
    "no_difference",
    "favours_comparator",
    "mixed",
    "not_reported",
)
COMPARATORS: tuple[str, ...] = ("placebo", "active", "usual_care", "none", "another_form")

# The findings that are article columns (filtered, sorted and exported as flat fields), in
# the order every output lists them.
HEADLINE_FIELDS: tuple[str, ...] = (
    "sample_size",
    "dose_mg_per_day",
    "duration_weeks",
    "comparator",
    "reported_result",
)

# What the authors report, in words (the digest line, `show`). Observational studies report
# associations rather than effects.
RESULT_WORDS: dict[str, str] = {
    "favours_magnesium": "authors report a result favouring magnesium",
    "no_difference": "authors report no difference",
    "favours_comparator": "authors report a result favouring the comparator",
    "mixed": "authors report mixed results",
}
ASSOCIATION_WORDS: dict[str, str] = {
    "favours_magnesium": "authors report an association",
    "no_difference": "authors report no association",
    "favours_comparator": "authors report an association in the opposite direction",
    "mixed": "authors report mixed associations",
}
NOT_REPORTED_WORDS = "authors report no result on the primary outcome"
OBSERVATIONAL_TYPES = frozenset({"cohort", "case_control", "cross_sectional"})


def clean_number(value: float) -> float:
    """Round away float noise (0.1 + 0.2); whole numbers stay whole-valued floats."""
    return round(value, 3)


def result_words(result: str | None, study_type: str | None) -> str | None:
    """What the authors report, in words ("authors report no difference"; associations for
    observational designs); None when the result is not stated or does not apply."""
    if result == "not_reported":
        return NOT_REPORTED_WORDS
    if result is None:
        return None
    words = ASSOCIATION_WORDS if study_type in OBSERVATIONAL_TYPES else RESULT_WORDS
    return words.get(result, f"authors report: {result}")


@dataclass(frozen=True, slots=True)
class FindingSource:
    """Provenance of one finding: the field, its value as text, where it came from (title,
    abstract or derived) and the matched text."""

    field: str
    value: str
    source_field: str
    snippet: str

    def to_dict(self) -> dict[str, str]:
        return {
            "field": self.field,
            "value": self.value,
            "source_field": self.source_field,
            "snippet": self.snippet,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FindingSource:
        return cls(
            field=str(data["field"]),
            value=str(data["value"]),
            source_field=str(data["source_field"]),
            snippet=str(data.get("snippet") or ""),
        )


@dataclass(frozen=True, slots=True)
class Dose:
    """One stated magnesium dose."""

    amount: float | None  # None for a range
    unit: str  # mg, g, mmol, mEq, mg/kg
    per: str | None  # "day", "dose", "single dose" or None (not stated)
    times_per_day: int | None
    basis: str | None  # "elemental", "salt" or None (not stated)
    salt: str | None  # vocabulary form named in the dose phrase
    text: str  # as written
    compound: str | None = None  # exact compound key in ELEMENTAL_FRACTIONS, when named
    elemental_stated: float | None = None  # elemental mg per stated amount, when the text says

    @property
    def mg_per_day(self) -> float | None:
        """mg per day as stated, when the text allows."""
        if self.amount is None or self.unit not in ("mg", "g"):
            return None
        mg = self.amount * (1000 if self.unit == "g" else 1)
        if self.per == "day":
            return clean_number(mg)
        if self.per == "single dose":
            return clean_number(mg)
        if self.per == "dose" and self.times_per_day:
            return clean_number(mg * self.times_per_day)
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "unit": self.unit,
            "per": self.per,
            "times_per_day": self.times_per_day,
            "basis": self.basis,
            "salt": self.salt,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Dose:
        """The dose :meth:`to_dict` wrote (the extractor's working detail, ``compound`` and
        ``elemental_stated``, is not kept: its results are the findings' elemental fields)."""
        return cls(
            amount=data.get("amount"),
            unit=str(data["unit"]),
            per=data.get("per"),
            times_per_day=data.get("times_per_day"),
            basis=data.get("basis"),
            salt=data.get("salt"),
            text=str(data.get("text") or ""),
        )


@dataclass(frozen=True, slots=True)
class Findings:
    """Everything the extractor read from one article (None = not stated / does not apply)."""

    scope: str
    sample_size: int | None = None
    sample_size_kind: str | None = None
    arms: int | None = None
    studies_included: int | None = None
    dose_mg_per_day: float | None = None
    dose: Dose | None = None
    elemental_mg_per_day: float | None = None
    elemental_factor: float | None = None
    duration_weeks: float | None = None
    outcome_timepoint: str | None = None
    comparator: str | None = None
    comparator_detail: str | None = None
    reported_result: str | None = None
    provenance: tuple[FindingSource, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON/export shape documented in ``aggregator/tagging/findings.py``."""
        return {
            "scope": self.scope,
            "sample_size": self.sample_size,
            "sample_size_kind": self.sample_size_kind,
            "arms": self.arms,
            "studies_included": self.studies_included,
            "dose_mg_per_day": self.dose_mg_per_day,
            "dose": self.dose.to_dict() if self.dose else None,
            "elemental_mg_per_day": self.elemental_mg_per_day,
            "elemental_factor": self.elemental_factor,
            "duration_weeks": self.duration_weeks,
            "outcome_timepoint": self.outcome_timepoint,
            "comparator": self.comparator,
            "comparator_detail": self.comparator_detail,
            "reported_result": self.reported_result,
            "provenance": [source.to_dict() for source in self.provenance],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Findings:
        """Findings from their :meth:`to_dict` shape (as stored in ``article.findings``);
        ``from_dict(f.to_dict()).to_dict() == f.to_dict()``."""
        dose = data.get("dose")
        return cls(
            scope=str(data["scope"]),
            sample_size=data.get("sample_size"),
            sample_size_kind=data.get("sample_size_kind"),
            arms=data.get("arms"),
            studies_included=data.get("studies_included"),
            dose_mg_per_day=data.get("dose_mg_per_day"),
            dose=Dose.from_dict(dose) if dose else None,
            elemental_mg_per_day=data.get("elemental_mg_per_day"),
            elemental_factor=data.get("elemental_factor"),
            duration_weeks=data.get("duration_weeks"),
            outcome_timepoint=data.get("outcome_timepoint"),
            comparator=data.get("comparator"),
            comparator_detail=data.get("comparator_detail"),
            reported_result=data.get("reported_result"),
            provenance=tuple(FindingSource.from_dict(s) for s in data.get("provenance") or ()),
        )

    def sources(self, field: str) -> tuple[FindingSource, ...]:
        """The provenance of one field ("sample_size", "dose", "dose_mg_per_day", ...)."""
        return tuple(source for source in self.provenance if source.field == field)
