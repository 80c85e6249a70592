"""ClinicalTrials.gov study JSON -> Trial (aggregator.ctgov.studies) and the magnesium form
of a trial's interventions (aggregator.ctgov.forms). All studies here are synthetic."""

from __future__ import annotations

import copy
import datetime as dt
import json
from dataclasses import replace
from typing import Any

import pytest

from aggregator.ctgov.forms import TrialFormTag, intervention_forms, trial_forms, trial_texts
from aggregator.ctgov.studies import (
    ArmGroup,
    PartialDate,
    Trial,
    TrialDate,
    TrialIntervention,
    TrialReference,
    content_hash,
    is_nct_id,
    normalise_nct_id,
    parse_studies,
    parse_study,
    parse_study_json,
)
from aggregator.errors import ConfigError, ParseError


def full_study() -> dict[str, Any]:
    """A synthetic whole record in the API v2 shape."""
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": "NCT99000101",
                "orgStudyIdInfo": {"id": "SYN-1"},
                "briefTitle": "Magnesium  Bisglycinate for Episodic Migraine",
                "officialTitle": "A Synthetic Randomized Trial of Magnesium Bisglycinate",
                "acronym": "SYN-GLY",
            },
            "statusModule": {
                "statusVerifiedDate": "2026-11",
                "overallStatus": "TERMINATED",
                "whyStopped": "Slow recruitment",
                "startDateStruct": {"date": "2024-05", "type": "ACTUAL"},
                "primaryCompletionDateStruct": {"date": "2025-12-31", "type": "ESTIMATED"},
                "completionDateStruct": {"date": "2026"},
                "studyFirstPostDateStruct": {"date": "2024-04-02", "type": "ACTUAL"},
                "resultsFirstPostDateStruct": {"date": "2026-10-01", "type": "ACTUAL"},
                "lastUpdatePostDateStruct": {"date": "2026-11-03", "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {"name": "Example University (synthetic)", "class": "OTHER"}
            },
            "conditionsModule": {
                "conditions": ["Migraine Without Aura", "Migraine With Aura"],
                "keywords": ["magnesium glycinate"],
            },
            "designModule": {
                "studyType": "INTERVENTIONAL",
                "phases": ["PHASE2", "PHASE3"],
                "designInfo": {
                    "allocation": "RANDOMIZED",
                    "interventionModel": "PARALLEL",
                    "maskingInfo": {"masking": "QUADRUPLE", "whoMasked": ["PARTICIPANT"]},
                },
                "enrollmentInfo": {"count": 48, "type": "ACTUAL"},
            },
            "armsInterventionsModule": {
                "armGroups": [
                    {
                        "label": "Bisglycinate",
                        "type": "EXPERIMENTAL",
                        "description": "Magnesium bisglycinate 300 mg daily.",
                        "interventionNames": ["Dietary Supplement: Magnesium"],
                    },
                    {"label": "Placebo", "type": "PLACEBO_COMPARATOR"},
                ],
                "interventions": [
                    {
                        "type": "DIETARY_SUPPLEMENT",
                        "name": "Magnesium",
                        "description": "Capsules, 300 mg\n elemental magnesium.",
                        "armGroupLabels": ["Bisglycinate"],
                        "otherNames": ["Mg bisglycinate"],
                    },
                    {"type": "OTHER", "name": "Placebo", "armGroupLabels": ["Placebo"]},
                ],
            },
            "referencesModule": {
                "references": [
                    {"pmid": "99100001", "type": "RESULT", "citation": "Synthetic A. Result."},
                    {"pmid": "99000006", "type": "BACKGROUND", "citation": "Synthetic B."},
                    {"pmid": "99000040", "type": "DERIVED", "citation": "Synthetic C."},
                    {"type": "BACKGROUND", "citation": "A reference without PMID."},
                ]
            },
            "descriptionModule": {"briefSummary": "Not read by the parser."},
        },
        "resultsSection": {"moreInfoModule": {}},
        "hasResults": True,
    }


EXPECTED_FULL = Trial(
    nct_id="NCT99000101",
    title="Magnesium Bisglycinate for Episodic Migraine",
    official_title="A Synthetic Randomized Trial of Magnesium Bisglycinate",
    acronym="SYN-GLY",
    overall_status="TERMINATED",
    why_stopped="Slow recruitment",
    phases=("PHASE2", "PHASE3"),
    study_type="INTERVENTIONAL",
    allocation="RANDOMIZED",
    masking="QUADRUPLE",
    enrollment=48,
    enrollment_type="ACTUAL",
    start=TrialDate(PartialDate(2024, 5), "ACTUAL"),
    primary_completion=TrialDate(PartialDate(2025, 12, 31), "ESTIMATED"),
    completion=TrialDate(PartialDate(2026), None),
    first_posted=TrialDate(PartialDate(2024, 4, 2), "ACTUAL"),
    last_update_posted=TrialDate(PartialDate(2026, 11, 3), "ACTUAL"),
    results_first_posted=TrialDate(PartialDate(2026, 10, 1), "ACTUAL"),
    conditions=("Migraine Without Aura", "Migraine With Aura"),
    keywords=("magnesium glycinate",),
    interventions=(
        TrialIntervention(
            type="DIETARY_SUPPLEMENT",
            name="Magnesium",
            description="Capsules, 300 mg elemental magnesium.",
            other_names=("Mg bisglycinate",),
            arm_group_labels=("Bisglycinate",),
        ),
        TrialIntervention(type="OTHER", name="Placebo", arm_group_labels=("Placebo",)),
    ),
    arm_groups=(
        ArmGroup(
            label="Bisglycinate",
            type="EXPERIMENTAL",
            description="Magnesium bisglycinate 300 mg daily.",
            intervention_names=("Dietary Supplement: Magnesium",),
        ),
        ArmGroup(label="Placebo", type="PLACEBO_COMPARATOR"),
    ),
    has_results=True,
    references=(
        TrialReference(99100001, "RESULT", "Synthetic A. Result."),
        TrialReference(99000006, "BACKGROUND", "Synthetic B."),
        TrialReference(99000040, "DERIVED", "Synthetic C."),
        TrialReference(None, "BACKGROUND", "A reference without PMID."),
    ),
    sponsor="Example University (synthetic)",
)


def hashed(trial: Trial) -> Trial:
    return replace(trial, content_hash=content_hash(trial))


# -- parsing -------------------------------------------------------------------------------------


def test_whole_record_parses_into_a_trial() -> None:
    trial = parse_study(full_study())
    assert trial == hashed(EXPECTED_FULL)
    assert len(trial.content_hash) == 16
    assert trial.url == "https://clinicaltrials.gov/study/NCT99000101"


def test_linked_pmids_are_result_and_derived_references_only() -> None:
    assert parse_study(full_study()).linked_pmids == (99000040, 99100001)


def test_study_with_only_an_nct_id_has_every_other_value_empty() -> None:
    study = {"protocolSection": {"identificationModule": {"nctId": "NCT99000102"}}}
    assert parse_study(study) == hashed(Trial(nct_id="NCT99000102"))


def test_fields_reply_shape_parses_dates_without_type() -> None:
    # The shape of a `fields=NCTId,OverallStatus,StartDate,...` reply: pieces only.
    study = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT99000103", "briefTitle": "Synthetic"},
            "statusModule": {
                "overallStatus": "RECRUITING",
                "startDateStruct": {"date": "2028-08"},
            },
            "designModule": {"enrollmentInfo": {"count": 18}},
            "armsInterventionsModule": {"interventions": [{"name": "Magnesium oxide"}]},
        }
    }
    expected = Trial(
        nct_id="NCT99000103",
        title="Synthetic",
        overall_status="RECRUITING",
        start=TrialDate(PartialDate(2028, 8), None),
        enrollment=18,
        interventions=(TrialIntervention(type=None, name="Magnesium oxide"),),
    )
    assert parse_study(study) == hashed(expected)


@pytest.mark.parametrize(
    ("text", "expected", "precision", "earliest"),
    [
        ("2024", PartialDate(2024), "year", dt.date(2024, 1, 1)),
        ("2024-05", PartialDate(2024, 5), "month", dt.date(2024, 5, 1)),
        ("2024-05-17", PartialDate(2024, 5, 17), "day", dt.date(2024, 5, 17)),
    ],
)
def test_partial_dates_keep_their_precision(
    text: str, expected: PartialDate, precision: str, earliest: dt.date
) -> None:
    parsed = PartialDate.parse(text)
    assert (parsed, parsed.precision, parsed.earliest(), str(parsed)) == (
        expected,
        precision,
        earliest,
        text,
    )


@pytest.mark.parametrize("text", ["2024-13", "2024-02-30", "24-05", "2024/05", "May 2024", ""])
def test_malformed_partial_dates_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        PartialDate.parse(text)


def test_partial_dates_order_by_year_then_month_then_day() -> None:
    dates = [
        PartialDate(2024, 5, 2),
        PartialDate(2024),
        PartialDate(2023, 12),
        PartialDate(2024, 5),
    ]
    assert sorted(dates) == [
        PartialDate(2023, 12),
        PartialDate(2024),
        PartialDate(2024, 5),
        PartialDate(2024, 5, 2),
    ]


def test_actual_and_estimated_dates_are_told_apart() -> None:
    trial = parse_study(full_study())
    assert [
        (str(d), d.is_actual, d.is_estimated)
        for d in (trial.start, trial.primary_completion, trial.completion)
        if d is not None
    ] == [
        ("2024-05 (actual)", True, False),
        ("2025-12-31 (estimated)", False, True),
        ("2026", False, False),
    ]


def test_content_hash_ignores_the_last_update_date_but_not_the_status() -> None:
    study = full_study()
    base = parse_study(study).content_hash
    bumped = copy.deepcopy(study)
    bumped["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"] = "2026-12-01"
    recruiting = copy.deepcopy(study)
    recruiting["protocolSection"]["statusModule"]["overallStatus"] = "COMPLETED"
    assert (parse_study(bumped).content_hash, parse_study(recruiting).content_hash != base) == (
        base,
        True,
    )


def _broken(path: str, value: object) -> dict[str, Any]:
    study = full_study()
    node: Any = study
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[keys[-1]] = value
    return study


PS = "protocolSection"


@pytest.mark.parametrize(
    ("study", "message"),
    [
        ([], "study: a study must be a JSON object, got an array"),
        ({"hasResults": False}, "study: no protocolSection object"),
        ({PS: {"statusModule": {}}}, "study: no protocolSection.identificationModule.nctId"),
        (
            _broken(f"{PS}.identificationModule.nctId", "NCT123"),
            "study: nctId 'NCT123' is not NCT followed by 8 digits",
        ),
        (
            _broken(f"{PS}.designModule.enrollmentInfo.count", "48"),
            "study NCT99000101: designModule.enrollmentInfo.count must be a whole number, "
            "got string '48'",
        ),
        (
            _broken(f"{PS}.designModule.enrollmentInfo.count", True),
            "study NCT99000101: designModule.enrollmentInfo.count must be a whole number, "
            "got boolean true",
        ),
        (
            _broken(f"{PS}.designModule.enrollmentInfo.count", -1),
            "study NCT99000101: designModule.enrollmentInfo.count is negative",
        ),
        (
            _broken(f"{PS}.designModule.phases", "PHASE2"),
            "study NCT99000101: designModule.phases must be an array, got string 'PHASE2'",
        ),
        (
            _broken(f"{PS}.statusModule.startDateStruct.date", "2024-13"),
            "study NCT99000101: statusModule.startDateStruct.date: month out of range: '2024-13'",
        ),
        (
            _broken(f"{PS}.statusModule.startDateStruct", "2024-05"),
            "study NCT99000101: statusModule.startDateStruct must be an object, "
            "got string '2024-05'",
        ),
        (
            _broken(f"{PS}.referencesModule.references.0.pmid", "PMC123"),
            "study NCT99000101: referencesModule.references[0].pmid 'PMC123' is not a PMID",
        ),
        (
            _broken(f"{PS}.armsInterventionsModule.interventions.1.name", ""),
            "study NCT99000101: armsInterventionsModule.interventions[1] has no name",
        ),
        (
            _broken(f"{PS}.armsInterventionsModule.interventions.0.otherNames", "Mg"),
            "study NCT99000101: armsInterventionsModule.interventions[0].otherNames must be an "
            "array, got string 'Mg'",
        ),
        (
            _broken("hasResults", "yes"),
            "study NCT99000101: hasResults must be true or false",
        ),
    ],
)
def test_malformed_study_is_one_clear_parse_error(study: object, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_study(study)
    assert str(caught.value) == message


def test_malformed_json_text_names_the_source() -> None:
    with pytest.raises(ParseError) as caught:
        parse_study_json('{"protocolSection": {', source="reply for NCT99000101")
    assert str(caught.value).startswith("reply for NCT99000101: not valid JSON (")
    assert "\n" not in str(caught.value)


def test_study_json_text_parses() -> None:
    assert parse_study_json(json.dumps(full_study())) == hashed(EXPECTED_FULL)


def test_search_reply_errors_name_the_study_and_its_position() -> None:
    bad = _broken(f"{PS}.designModule.phases", 2)
    bad["protocolSection"]["identificationModule"]["nctId"] = "NCT99000104"
    with pytest.raises(ParseError) as caught:
        parse_studies({"studies": [full_study(), bad]})
    assert str(caught.value) == (
        "study NCT99000104: designModule.phases must be an array, got number 2"
    )
    with pytest.raises(ParseError) as caught:
        parse_studies({"studies": [full_study(), {"hasResults": True}]})
    assert str(caught.value) == "study 2 of the reply: no protocolSection object"
    with pytest.raises(ParseError) as caught:
        parse_studies({"totalCount": 3})
    assert str(caught.value) == "reply: not a study search reply (no 'studies' array)"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("NCT99000001", "NCT99000001"), (" nct99000001 ", "NCT99000001")],
)
def test_nct_ids_are_normalised(value: str, expected: str) -> None:
    assert normalise_nct_id(value) == expected


@pytest.mark.parametrize("value", ["NCT9900001", "NCT990000011", "99000001", "NCT9900000A", ""])
def test_malformed_nct_ids_are_refused(value: str) -> None:
    assert not is_nct_id(value)
    with pytest.raises(ConfigError, match="not an NCT id"):
        normalise_nct_id(value)


# -- magnesium forms of the interventions ---------------------------------------------------------


def trial(
    *interventions: tuple[str, str, str | None, tuple[str, ...]],
    arms: tuple[tuple[str, str | None], ...] = (),
) -> Trial:
    """A synthetic trial from (type, name, description, other names) and (label, description)."""
    return Trial(
        nct_id="NCT99000199",
        interventions=tuple(
            TrialIntervention(kind, name, description, others)
            for kind, name, description, others in interventions
        ),
        arm_groups=tuple(ArmGroup(label, "EXPERIMENTAL", text) for label, text in arms),
    )


DS = "DIETARY_SUPPLEMENT"
PLACEBO = ("OTHER", "Placebo", "Matching placebo capsule.", ())


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(
            trial((DS, "Magnesium bisglycinate", None, ()), PLACEBO),
            (TrialFormTag("glycinate", "intervention_name", "Magnesium bisglycinate"),),
            id="glycinate-in-the-name",
        ),
        pytest.param(
            trial((DS, "Magnesium", "Magnesium (as bisglycinate) 300 mg daily.", ()), PLACEBO),
            (
                TrialFormTag(
                    "glycinate",
                    "intervention_description",
                    "Magnesium (as bisglycinate) 300 mg daily.",
                ),
            ),
            id="glycinate-only-in-the-description",
        ),
        pytest.param(
            trial((DS, "Study capsule", None, ("Mg glycinate",))),
            (TrialFormTag("glycinate", "intervention_other_name", "Mg glycinate"),),
            id="glycinate-only-in-other-names",
        ),
        pytest.param(
            trial(
                (DS, "Magnesium", None, ()),
                arms=(("Active", "Participants take magnesium glycinate twice daily."),),
            ),
            (
                TrialFormTag(
                    "glycinate",
                    "arm_description",
                    "Participants take magnesium glycinate twice daily.",
                ),
            ),
            id="glycinate-only-in-an-arm-description",
        ),
        pytest.param(
            trial((DS, "Magnesium glycine chelate", None, ()), (DS, "Magnesium oxide", None, ())),
            (
                TrialFormTag("glycinate", "intervention_name", "Magnesium glycine chelate"),
                TrialFormTag("oxide", "intervention_name", "Magnesium oxide"),
            ),
            id="two-forms-in-vocabulary-order",
        ),
        pytest.param(
            trial(
                (
                    "DRUG",
                    "Ferrous bisglycinate",
                    "Ferrous bisglycinate chelate, 25 mg iron; tablets contain magnesium stearate.",
                    ("Iron bisglycinate",),
                )
            ),
            (),
            id="trap-ferrous-bisglycinate-with-magnesium-stearate",
        ),
        pytest.param(
            trial(
                (DS, "Zinc bisglycinate", "Zinc bisglycinate 15 mg daily.", ()),
                (DS, "Zinc bisglycinate and magnesium oxide", None, ()),
            ),
            (TrialFormTag("oxide", "intervention_name", "Zinc bisglycinate and magnesium oxide"),),
            id="trap-zinc-bisglycinate-next-to-magnesium-oxide",
        ),
        pytest.param(
            trial((DS, "Zinc bisglycinate", "Zinc 15 mg daily; serum magnesium measured.", ())),
            (),
            id="trap-a-measured-magnesium-level-is-not-a-form-given",
        ),
        pytest.param(
            trial(("DRUG", "Magnesium sulfate", "2 g intravenous MgSO4 over 15 minutes.", ())),
            (TrialFormTag("sulfate", "intervention_name", "Magnesium sulfate"),),
            id="intravenous-sulfate",
        ),
        pytest.param(
            trial((DS, "Magnesium supplement", "Oral magnesium 400 mg daily.", ())),
            (TrialFormTag("unspecified", "intervention_name", "Magnesium supplement"),),
            id="salt-not-stated",
        ),
        pytest.param(
            trial(("BEHAVIORAL", "Magnesium-rich diet", None, ())),
            (TrialFormTag("dietary", "intervention_name", "Magnesium-rich diet"),),
            id="diet",
        ),
        pytest.param(trial(PLACEBO), (), id="no-magnesium"),
        pytest.param(Trial(nct_id="NCT99000199"), (), id="no-interventions"),
    ],
)
def test_intervention_forms_use_the_article_rules(
    given: Trial, expected: tuple[TrialFormTag, ...]
) -> None:
    assert intervention_forms(given) == expected
    assert trial_forms(given) == tuple(tag.form for tag in expected)


def test_form_texts_come_from_interventions_and_arms_in_a_fixed_order() -> None:
    assert trial_texts(parse_study(full_study())) == [
        ("intervention_name", "Magnesium"),
        ("intervention_name", "Placebo"),
        ("intervention_other_name", "Mg bisglycinate"),
        ("intervention_description", "Capsules, 300 mg elemental magnesium."),
        ("arm_label", "Bisglycinate"),
        ("arm_label", "Placebo"),
        ("arm_description", "Magnesium bisglycinate 300 mg daily."),
    ]
