"""Findings extraction (issue 13): the labelled synthetic fixture field by field, and the tricky
parsers on their own. Tags are given from the fixture's labels, so these tests do not depend on
the study-design rules (another branch is rewriting them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aggregator.article import AbstractSection, Article
from aggregator.tagging import tag_article
from aggregator.tagging.findings import (
    COMPARATORS,
    ELEMENTAL_FRACTIONS,
    REPORTED_RESULTS,
    SCOPES,
    Dose,
    Findings,
    FindingSource,
    clause_polarity,
    duration_in_weeks,
    extract_findings,
    findings_line,
    parse_number,
    scope_for,
    sentence_polarity,
)
from aggregator.tagging.text import Sentence, collapse
from aggregator.vocab import ArticleTags

FIXTURE = Path(__file__).parent / "fixtures" / "findings" / "labelled.jsonl"
RECORDS: list[dict[str, Any]] = [
    json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()
]


def article_of(record: dict[str, Any]) -> Article:
    sections = tuple(
        AbstractSection(text=s["text"], label=s.get("label"), category=s.get("category"))
        for s in record.get("abstract_sections") or ()
    )
    return Article(
        pmid=int(record["pmid"]),
        title=record["title"],
        abstract=record.get("abstract") or "",
        abstract_sections=sections,
        journal_title=record["journal"],
        pub_year=record["year"],
    )


def tags_of(
    study_type: str, forms: tuple[str, ...] = (), *, combination: bool = False
) -> ArticleTags:
    return ArticleTags(
        forms=forms,
        routes=(),
        conditions=("migraine",),
        study_type=study_type,
        evidence_level=None,
        combination_product=combination,
        population=(),
        tags=(),
        rules_version="test",
    )


def findings_of(record: dict[str, Any]) -> Findings:
    tags = tags_of(
        record["study_type"],
        tuple(record["forms"]),
        combination=record["combination_product"],
    )
    return extract_findings(article_of(record), tags)


def comparable(findings: Findings) -> dict[str, Any]:
    data = findings.to_dict()
    data.pop("provenance")
    if data["dose"] is not None:
        data["dose"].pop("text")
    return data


def article(abstract: str, title: str = "A synthetic study") -> Article:
    return Article(pmid=99299999, title=title, abstract=abstract)


def study(abstract: str, study_type: str = "randomized_controlled_trial", **kw: Any) -> Findings:
    return extract_findings(article(abstract), tags_of(study_type, **kw))


# --- the labelled fixture ---------------------------------------------------------------------


def test_fixture_is_synthetic_and_large_enough() -> None:
    assert len(RECORDS) >= 60
    pmids = [int(record["pmid"]) for record in RECORDS]
    assert len(set(pmids)) == len(pmids)
    assert min(pmids) >= 99200001
    for record in RECORDS:
        assert record["synthetic"] is True
        assert record["journal"] == "Synthetic Journal of Test Records"
        assert set(record["expected"]) == set(comparable(Findings(scope="none")))


@pytest.mark.parametrize("record", RECORDS, ids=[f"{r['pmid']}-{r['trap'][:40]}" for r in RECORDS])
def test_every_labelled_field_matches(record: dict[str, Any]) -> None:
    assert comparable(findings_of(record)) == record["expected"]


@pytest.mark.parametrize("record", RECORDS, ids=[r["pmid"] for r in RECORDS])
def test_every_stated_field_has_a_snippet_from_the_article(record: dict[str, Any]) -> None:
    findings = findings_of(record)
    text = collapse(f"{record['title']} {record.get('abstract') or ''}")
    for section in record.get("abstract_sections") or ():
        text += " " + collapse(section["text"])
    fields = {source.field for source in findings.provenance}
    data = findings.to_dict()
    for name in ("sample_size", "dose_mg_per_day", "duration_weeks", "outcome_timepoint"):
        if data[name] is not None:
            assert name in fields, name
    if data["dose"] is not None:
        assert "dose" in fields
    if data["elemental_mg_per_day"] is not None:
        assert "elemental_mg_per_day" in fields
    if data["studies_included"] is not None:
        assert "studies_included" in fields
    for source in findings.provenance:
        if source.source_field != "derived":
            assert source.snippet in text, source


@pytest.mark.parametrize("record", RECORDS, ids=[r["pmid"] for r in RECORDS])
def test_extraction_after_the_real_tagger_stays_in_vocabulary(record: dict[str, Any]) -> None:
    an_article = article_of(record)
    findings = extract_findings(an_article, tag_article(an_article))
    assert findings.scope in SCOPES
    assert findings.reported_result in (*REPORTED_RESULTS, None)
    assert findings.comparator in (*COMPARATORS, None)
    json.dumps(findings.to_dict())


# --- numbers, durations, salts ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("120", 120),
        ("1,028", 1028),
        ("2.25", 2.25),
        ("forty-five", 45),
        ("Twenty two", 22),
        ("one hundred and twenty", 120),
        ("a hundred", 100),
        ("seventeen", 17),
        ("several", None),
    ],
)
def test_numbers_in_digits_and_words(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("number", "unit", "weeks"),
    [
        (10, "days", 1.4),
        (224, "days", 32.0),
        (12, "weeks", 12),
        (3, "months", 12),
        (6, "months", 24),
        (9, "months", 39),
        (1, "year", 52),
        (3, "cycles", None),
    ],
)
def test_durations_convert_to_weeks_as_the_labels_do(
    number: float, unit: str, weeks: float | None
) -> None:
    assert duration_in_weeks(number, unit) == weeks


def test_elemental_fractions_come_from_molar_masses() -> None:
    fractions = {name: compound.fraction for name, compound in ELEMENTAL_FRACTIONS.items()}
    assert fractions["oxide"] == 0.603  # MgO 40.304 g/mol
    assert fractions["hydroxide"] == 0.4168  # Mg(OH)2 58.319 g/mol
    assert fractions["sulfate heptahydrate"] == 0.0986  # MgSO4.7H2O 246.466 g/mol
    assert fractions["sulfate anhydrous"] == 0.2019
    assert fractions["chloride hexahydrate"] == 0.1196
    assert fractions["pidolate"] == 0.0866
    assert fractions["bisglycinate"] == 0.141
    assert ELEMENTAL_FRACTIONS["oxide"].derivation == "MgO: 24.305 / 40.304 g/mol = 0.603"
    # Names that cover several compounds never convert.
    assert not {"citrate", "sulfate", "chloride", "carbonate", "aspartate", "malate"} & set(
        ELEMENTAL_FRACTIONS
    )


# --- dose parsing -----------------------------------------------------------------------------


def dose_of(abstract: str, **kw: Any) -> tuple[Dose | None, float | None]:
    findings = study(abstract, **kw)
    return findings.dose, findings.dose_mg_per_day


def test_dose_per_dose_times_frequency_is_per_day() -> None:
    dose, per_day = dose_of("Patients took magnesium citrate 250 mg twice daily for 8 weeks.")
    assert (dose and dose.amount, dose and dose.times_per_day, per_day) == (250, 2, 500)


def test_dose_stated_per_day_is_kept() -> None:
    assert dose_of("Children received magnesium 400 mg/d or placebo.")[1] == 400
    assert dose_of("They took 600 mg of magnesium daily.")[1] == 600


def test_dose_without_frequency_is_not_per_day() -> None:
    dose, per_day = dose_of("Women took a modified-release magnesium 250 mg tablet.")
    assert dose is not None and dose.per is None and per_day is None


def test_single_intravenous_dose_is_that_days_amount() -> None:
    dose, per_day = dose_of("Adults received 1 g intravenous magnesium sulfate over 15 minutes.")
    assert dose is not None and dose.per == "single dose" and per_day == 1000


def test_mmol_mg_per_kg_and_ranges_give_no_mg_per_day() -> None:
    assert dose_of("They took 24 mmol of magnesium daily.")[1] is None
    assert dose_of("Children received magnesium sulfate 30 mg/kg intravenously.")[1] is None
    assert dose_of("Adults took magnesium 400-600 mg per day.")[1] is None


def test_elemental_and_salt_basis_as_the_text_says() -> None:
    elemental = study("They took 600 mg of magnesium given as trimagnesium dicitrate daily.")
    assert elemental.dose is not None
    assert (elemental.dose.basis, elemental.dose.salt) == ("elemental", "citrate")
    assert (elemental.elemental_mg_per_day, elemental.elemental_factor) == (600, 1.0)
    salt = study("They took magnesium oxide 500 mg daily.")
    assert salt.dose is not None and salt.dose.basis == "salt"
    assert (salt.elemental_mg_per_day, salt.elemental_factor) == (301.5, 0.603)
    unknown = study("They took magnesium citrate 500 mg daily.")
    assert unknown.elemental_mg_per_day is None and unknown.elemental_factor is None


def test_concentrations_and_other_ingredients_are_no_magnesium_dose() -> None:
    assert dose_of("Serum magnesium was 1.9 mg/dL in patients.")[0] is None
    assert (
        dose_of("Urinary magnesium was higher while taking magnesium (100.8 mg vs 74.1 mg).")[0]
        is None
    )
    assert dose_of("Patients took coenzyme Q10 100 mg daily or placebo.")[0] is None
    dose, per_day = dose_of(
        "A tablet providing 400 mg riboflavin, 300 mg magnesium and 75 mg feverfew per day."
    )
    assert dose is not None and per_day == 300 and dose.basis is None


def test_different_doses_in_different_arms_leave_mg_per_day_not_stated() -> None:
    findings = study(
        "Adults were randomised to magnesium 250 mg daily, magnesium 500 mg daily or placebo."
    )
    assert findings.dose is not None and findings.dose.amount == 250
    assert findings.dose_mg_per_day is None


# --- sample size ------------------------------------------------------------------------------


def size_of(abstract: str, study_type: str = "randomized_controlled_trial") -> tuple[Any, Any]:
    findings = study(abstract, study_type)
    return findings.sample_size, findings.sample_size_kind


def test_randomised_count_beats_screened_and_analysed() -> None:
    assert size_of(
        "We screened 300 adults. Of these, 120 were randomised, and 108 were analysed."
    ) == (120, "randomised")


def test_a_randomised_part_of_the_enrolled_is_the_figure() -> None:
    assert size_of("We recruited 100 adults, of whom 80 were randomised to magnesium.") == (
        80,
        "randomised",
    )
    assert size_of("We recruited 100 adults, of whom 80 had aura.", "single_arm_trial") == (
        100,
        "enrolled",
    )


def test_per_arm_counts_are_summed_only_without_a_total() -> None:
    assert size_of("Adults were assigned to magnesium (n = 42) or placebo (n = 44).") == (
        86,
        "randomised",
    )
    assert size_of(
        "A total of 90 adults were randomised to magnesium (n = 45) or placebo (n = 45)."
    ) == (90, "randomised")
    assert (
        size_of("We compared 52 children with migraine and 48 healthy controls.", "case_control")[0]
        == 100
    )


def test_subgroups_ages_and_background_counts_are_not_the_sample() -> None:
    assert size_of(
        "Forty children aged 6 to 12 years, 14 of whom had aura, took magnesium.",
        "single_arm_trial",
    ) == (40, "enrolled")
    assert size_of("A previous trial of 81 patients was positive. We enrolled 30 adults.")[0] == 30


def test_review_counts_studies_and_pooled_participants() -> None:
    findings = study(
        "Nine trials with 765 participants were included. Magnesium reduced attacks.",
        "meta_analysis",
    )
    assert (findings.studies_included, findings.sample_size, findings.sample_size_kind) == (
        9,
        765,
        "pooled",
    )


# --- reported result --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "polarity"),
    [
        ("attack frequency did not differ between groups", "null"),
        ("there was no significant difference in migraine days", "null"),
        ("magnesium was no better than placebo", "null"),
        ("migraine days were significantly fewer with magnesium", "pos"),
        ("metoclopramide was more effective than magnesium sulfate", "neg"),
        ("placebo was more effective than magnesium", "neg"),
        ("adverse events were significantly more frequent", None),
        ("the groups were similar at baseline", None),
    ],
)
def test_clause_polarity(clause: str, polarity: str | None) -> None:
    assert clause_polarity(clause) == polarity


def test_change_words_need_a_comparison_in_controlled_studies() -> None:
    assert clause_polarity("headache days fell by 40%") == "pos"
    assert clause_polarity("headache days fell by 40%", controlled=True) is None
    assert clause_polarity("headache days fell more than with placebo", controlled=True) == "pos"


def test_a_null_that_qualifies_the_same_comparison_wins() -> None:
    lower = "fewer days than sham, but none of the differences was significant."
    assert sentence_polarity(lower) == "null"
    assert (
        sentence_polarity("the 500 mg dose reduced days, whereas the 250 mg dose did not differ.")
        == "mixed"
    )


def test_secondary_outcome_results_are_not_the_primary_result() -> None:
    findings = study(
        "Adults were randomised to magnesium or placebo. The primary outcome was migraine days. "
        "Sleep quality, a secondary outcome, improved significantly with magnesium."
    )
    assert findings.reported_result == "not_reported"


# --- scope ------------------------------------------------------------------------------------


def test_scope_follows_the_study_type_and_unknown_types_need_human_cues() -> None:
    people = [Sentence("abstract", "Twenty patients took magnesium.")]
    cells = [Sentence("abstract", "Cultured neurons were exposed to magnesium.")]
    assert scope_for("randomized_controlled_trial") == "study"
    assert scope_for("meta_analysis") == "review"
    assert scope_for("trial_protocol") == "protocol"
    assert scope_for("narrative_review") == "commentary"
    assert scope_for("animal_study") == "none"
    assert scope_for("notice") == "none"
    assert scope_for("unclear", people) == "study"
    assert scope_for("unclear", cells) == "none"
    notice = [Sentence("title", "Expression of concern: magnesium in migraine"), *people]
    assert scope_for("randomized_controlled_trial", notice) == "none"


def test_protocols_never_report_a_result_and_animal_studies_give_nothing() -> None:
    protocol = study(
        "A total of 150 adults will be randomised to magnesium 300 mg daily or placebo.",
        "trial_protocol",
    )
    assert (protocol.sample_size, protocol.sample_size_kind, protocol.reported_result) == (
        150,
        "planned",
        None,
    )
    assert study("Rats received magnesium 90 mg/kg.", "animal_study") == Findings(scope="none")


# --- export shape and digest line -------------------------------------------------------------


def test_to_dict_has_the_documented_keys() -> None:
    findings = study("Sixty adults took magnesium oxide 500 mg daily for 12 weeks.")
    assert list(findings.to_dict()) == [
        "scope",
        "sample_size",
        "sample_size_kind",
        "arms",
        "studies_included",
        "dose_mg_per_day",
        "dose",
        "elemental_mg_per_day",
        "elemental_factor",
        "duration_weeks",
        "outcome_timepoint",
        "comparator",
        "comparator_detail",
        "reported_result",
        "provenance",
    ]
    assert (
        findings.to_dict()["provenance"][0]
        == FindingSource(
            "sample_size",
            "60",
            "abstract",
            "Sixty adults took magnesium oxide 500 mg daily for 12 weeks.",
        ).to_dict()
    )


def test_findings_line_reports_neutrally_and_omits_what_is_not_stated() -> None:
    record = next(r for r in RECORDS if r["pmid"] == "99200001")
    line = findings_line("RCT", record["forms"], findings_of(record))
    assert line == (
        "RCT, n=120, magnesium oxide 1000 mg/day for 12 weeks vs placebo; "
        "authors report fewer migraine days"
    )
    by_pmid = {r["pmid"]: r for r in RECORDS}
    several = by_pmid["99200025"]
    assert findings_line("RCT", several["forms"], findings_of(several)) == (
        "RCT, n=150, magnesium 250 mg daily or magnesium 500 mg daily for 12 weeks vs placebo; "
        "authors report mixed results"
    )
    acute = by_pmid["99200008"]
    assert findings_line("RCT", acute["forms"], findings_of(acute)) == (
        "RCT, n=74, magnesium sulfate 1 g single dose vs metoclopramide, outcome at 30 minutes; "
        "authors report a result favouring the comparator"
    )
    bare = findings_line("RCT", ["unspecified"], Findings(scope="study"))
    assert bare == "RCT"
    null = findings_line(
        "RCT", [], Findings(scope="study", comparator="placebo", reported_result="no_difference")
    )
    assert null == "RCT, vs placebo; authors report no difference"
    association = findings_line(
        "Cohort", ["dietary"], Findings(scope="study", reported_result="favours_magnesium")
    )
    assert association == "Cohort; authors report an association"
    review = findings_line(
        "Meta-analysis",
        [],
        Findings(scope="review", studies_included=9, sample_size=765, reported_result="mixed"),
    )
    assert (
        review == "Meta-analysis, 9 studies, 765 participants pooled; authors report mixed results"
    )
    for text in (line, null, association, review):
        assert "recommend" not in text and "should" not in text


# --- general failure modes found on real abstracts ---------------------------------------------


@pytest.mark.parametrize(
    ("clause", "polarity"),
    [
        ("the authors could not reach a firm conclusion", "mixed"),
        ("the evidence for oral magnesium was limited and inconsistent", "mixed"),
        ("the benefit was confined to migraine with aura", "mixed"),
        ("non-inferiority of the pidolate was confirmed", "pos"),
        ("magnesium was comparable to metoclopramide", "null"),
        ("responder rates were nearly identical (28% vs 29%)", "null"),
        ("adding magnesium did not help and may have lessened its effect", "neg"),
        ("benefit was recorded in 15 patients, no effect in 10", "pos"),
        ("the authors report a trend for frequency and significant benefit on pain", "mixed"),
        ("magnesium glycinate was absorbed better than magnesium oxide", "pos"),
        ("pain relief was better with magnesium (p = 0.02)", "pos"),
        ("pain, rescue medication and adverse effects did not differ", "null"),
        ("adverse events were more common with magnesium", None),
    ],
)
def test_reported_result_readings(clause: str, polarity: str | None) -> None:
    assert clause_polarity(clause, controlled=True) == polarity


def test_small_but_significant_is_one_finding_and_subtypes_are_subgroups() -> None:
    lower = (
        "serum magnesium was modestly but significantly lower in patients than in controls, "
        "with no differences among migraine subtypes."
    )
    assert sentence_polarity(lower) == "pos"


def test_commentary_reports_what_it_says_about_magnesium() -> None:
    review = "This review covers migraine prevention. The authors consider magnesium a safe option."
    assert (
        study(review, "narrative_review", forms=("unspecified",)).reported_result
        == "favours_magnesium"
    )
    # A piece that does not discuss magnesium reports nothing about it.
    other = "This review covers triptans. The authors conclude that triptans are effective."
    assert study(other, "narrative_review").reported_result is None
    guideline = "Magnesium was among the agents recommended for prevention."
    assert (
        study(guideline, "guideline", forms=("unspecified",)).reported_result == "favours_magnesium"
    )


def test_nothing_tested_means_no_result_outside_magnesium_studies() -> None:
    case = "The authors describe two patients with thunderclap headache. Both recovered well."
    assert study(case, "case_series").reported_result == "not_reported"
    survey = "This survey describes the burden of migraine: 18% of 900 adults (P < 0.01)."
    assert study(survey, "cross_sectional").reported_result == "not_reported"
    measured = "We measured serum magnesium in 40 adults. Hypomagnesaemia was common (p < 0.01)."
    assert study(measured, "cross_sectional", forms=("dietary",)).reported_result is not None


@pytest.mark.parametrize(
    ("abstract", "study_type", "expected"),
    [
        (
            "We compared 52 adults aged 18 to 60 with ICHD-3 migraine and 48 controls.",
            "case_control",
            100,
        ),
        (
            "The study enrolled 90 adults, 45 with chronic and 45 with episodic migraine.",
            "single_arm_trial",
            90,
        ),
        (
            "We randomised 40 patients with aura and 40 without aura to magnesium or placebo.",
            "randomized_controlled_trial",
            80,
        ),
        ("Charts of 212 patients were reviewed. Pain halved in 130 patients.", "case_series", 212),
        ("Forty visits by 25 children were identified.", "case_series", 25),
        ("In the 120-patient intention-to-treat population, days fell.", "single_arm_trial", 120),
        (
            "At three university hospitals, 64 adults were randomised.",
            "randomized_controlled_trial",
            64,
        ),
        ("Of 150 eligible patients, 132 had complete data.", "randomized_controlled_trial", 132),
        ("Adolescents aged 13 to 18 were analysed.", "case_series", None),
        ("We describe a 79-year-old woman who took a laxative daily.", "unclear", 1),
        (
            "Twenty-one trials were included: eleven on intravenous magnesium (948 participants)"
            " and ten on oral magnesium (789 participants).",
            "meta_analysis",
            1737,
        ),
    ],
)
def test_sample_size_readings(abstract: str, study_type: str, expected: int | None) -> None:
    assert study(abstract, study_type).sample_size == expected


@pytest.mark.parametrize(
    ("abstract", "expected"),
    [
        (
            "We compared adults taking magnesium with adults taking nothing. Each group had 350.",
            700,
        ),
        ("Adults were randomised into three groups, 40 per group.", 120),
        ("Of 220 patients, 110 were in each group.", 220),
        ("Each group had 40 patients.", None),  # how many groups is not stated
    ],
)
def test_a_size_per_group_counts_only_with_the_number_of_groups(
    abstract: str, expected: int | None
) -> None:
    assert study(abstract, "randomized_controlled_trial").sample_size == expected


@pytest.mark.parametrize(
    ("abstract", "weeks"),
    [
        ("Adults who had used triptans for two years took magnesium 400 mg daily for 6 weeks.", 6),
        ("She had been taking a laxative for two months before admission.", None),
        ("For 7 days before each test the women followed a restricted diet.", None),
        (
            "In one trial lozenges were taken for 5 days; in the second the regimen ran for"
            " 7 days.",
            None,
        ),
    ],
)
def test_duration_is_treatment_only(abstract: str, weeks: float | None) -> None:
    assert study(abstract, "randomized_controlled_trial").duration_weeks == weeks


def test_cohort_outcome_window_is_no_duration() -> None:
    abstract = (
        "We compared adults starting a triptan with adults starting another drug over 60 days."
    )
    assert study(abstract, "cohort").duration_weeks is None


def test_comparator_readings() -> None:
    before_after = "Frequency before treatment was compared with frequency after 3 months."
    assert study(before_after, "case_series").comparator != "active"
    purpose = (
        "Prochlorperazine, given with diphenhydramine against akathisia, was used in 92 children."
    )
    assert study(purpose, "case_series").comparator != "active"
    salts = (
        "Volunteers took magnesium glycinate and magnesium oxide on separate days, and the "
        "absorption of each preparation was compared."
    )
    findings = study(salts, "nonrandomized_controlled_trial", forms=("glycinate", "oxide"))
    assert findings.comparator == "another_form"
    pre_post = "Visits were compared before and after the implementation of a pathway."
    assert study(pre_post, "nonrandomized_controlled_trial").comparator == "usual_care"


def test_bench_scores_none_and_null_alike_for_uncontrolled_designs() -> None:
    from bench.findings_accuracy import score_findings

    records = [
        {
            "gold_study_type": "single_arm_trial",
            "comparator": None,
            "outcome_direction": "positive",
        },
        {"gold_study_type": "case_series", "comparator": "none", "outcome_direction": "positive"},
        {"gold_study_type": "cohort", "comparator": None, "outcome_direction": "positive"},
        {"gold_study_type": "animal_study", "comparator": None, "outcome_direction": "positive"},
    ]
    results = [
        Findings(scope="study", comparator="none", reported_result="favours_magnesium"),
        Findings(scope="study", comparator=None, reported_result="not_reported"),
        Findings(scope="study", comparator="none", reported_result="favours_magnesium"),
        Findings(scope="none"),
    ]
    scores = score_findings(records, results)
    comparator = scores["fields"]["comparator"]
    assert (comparator["matched"], comparator["none_null_equated"]) == (3, 2)
    assert comparator["values_where_gold_none"] == 1  # the cohort: a value where gold has none
    restricted = scores["result_restricted"]
    assert (restricted["scored"], restricted["matched"]) == (3, 2)  # not the animal study
    assert restricted["not_stated_share"] == pytest.approx(1 / 3)


# --- findings rules 2026.4: the reported result as a reviewer reads it --------------------------


def test_a_null_primary_beside_a_concluded_benefit_is_mixed() -> None:
    findings = study(
        "Sixty adults were randomised to magnesium or placebo. The primary outcome was the change "
        "in migraine days. Migraine days did not differ between the groups (p = 0.4). Severity "
        "fell significantly more with magnesium than with placebo. In conclusion, magnesium is an "
        "effective option for reducing attack severity.",
        forms=("unspecified",),
    )
    assert findings.reported_result == "mixed"


def test_magnesium_as_the_reference_of_a_comparison_favours_the_comparator() -> None:
    clause = (
        "relief occurred in 84% of the prochlorperazine group versus 50% of the magnesium group"
    )
    assert clause_polarity(clause + ", a significant difference") == "pos"
    assert clause_polarity(clause + ", a significant difference", tested=True) == "neg"
    assert (
        clause_polarity(
            "pain fell significantly more with magnesium than with placebo", tested=True
        )
        == "pos"
    )


def test_harm_of_magnesium_given_favours_the_comparator() -> None:
    clause = "patients given magnesium had a higher risk of atrial fibrillation (or 1.5)"
    assert clause_polarity(clause, tested=True) == "neg"
    assert (
        clause_polarity("higher intake was associated with a lower risk of stroke", tested=True)
        == "pos"
    )


@pytest.mark.parametrize(
    ("clause", "polarity"),
    [
        ("the authors found no prophylactic benefit of oral magnesium", "null"),
        ("no significant main effect of condition was found", "null"),
        ("neither active drug separated from placebo on the primary endpoint", "null"),
        ("serum magnesium did not seem to differ between the groups", "null"),
        ("oral magnesium citrate did not reduce adverse perinatal outcomes", "null"),
        ("magnesium citrate lowered urinary oxalate significantly", "pos"),
        ("it should be the first parenteral agent used", "pos"),
        ("real-world evidence is limited by retrospective designs", None),
    ],
)
def test_reported_result_readings_2026_4(clause: str, polarity: str | None) -> None:
    assert clause_polarity(clause, controlled=True) == polarity


def test_a_judging_closing_sentence_is_the_conclusion_but_a_results_one_is_not() -> None:
    judged = study(
        "Adults were randomly assigned to magnesium citrate or placebo for 8 weeks. Forty "
        "completed the trial. Blood pressure fell from 136 to 128 mmHg with magnesium. Oral "
        "magnesium citrate therefore appears to lower blood pressure.",
        forms=("citrate",),
    )
    assert judged.reported_result == "favours_magnesium"


@pytest.mark.parametrize(
    ("abstract", "study_type", "expected"),
    [
        ("We compared 40 normal pregnant and 40 preeclamptic women.", "cross_sectional", 80),
        (
            "The trial included 900 pregnant women and their 1,050 infants.",
            "randomized_controlled_trial",
            900,
        ),
        (
            "Records of 2,400 inpatients were extracted, and 260 met the inclusion criteria.",
            "cohort",
            260,
        ),
        (
            "Women were randomised in three groups of forty to A, B or C.",
            "randomized_controlled_trial",
            120,
        ),
        ("Each of the 150 cases was matched to 2 controls on age and sex.", "case_control", 450),
    ],
)
def test_sample_size_readings_2026_4(abstract: str, study_type: str, expected: int) -> None:
    assert study(abstract, study_type).sample_size == expected


def test_a_calendar_dated_period_is_no_treatment_duration() -> None:
    findings = study(
        "Over six months (January 2024 to June 2024) a randomised trial was run. Eighty children "
        "were randomly assigned to nebulised magnesium sulfate or salbutamol.",
        forms=("sulfate",),
    )
    assert findings.duration_weeks is None
