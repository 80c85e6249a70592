"""What each study found: sample size, magnesium dose, duration, comparator and the reported
result, each with the sentence that says so (issue 13, extraction half).

:func:`extract_findings` reads an article's title and abstract (never its indexing) after the
tagger has run, and returns :class:`Findings`. It reports what the text states and nothing else:
a field the abstract does not state is ``None`` ("not stated"), never inferred from other studies,
from the magnesium form or from the design. Every value carries a :class:`FindingSource` (field,
value, where it came from, the matched snippet), like :class:`aggregator.vocab.Tag`. The result is
*reporting*: every wording says "authors report ...", never a recommendation.

Which fields apply depends on ``tags.study_type`` (:func:`scope_for`):

- ``study`` (trials, cohorts, case-control, cross-sectional, case series and reports; an unknown
  type such as ``unclear`` or ``other`` only when the text speaks of people and not of animals or
  cells): every field.
- ``review`` (systematic reviews, meta-analyses): ``studies_included``, pooled participants as
  ``sample_size`` (kind ``pooled``), ``comparator`` and ``reported_result``; no dose or duration
  (those belong to the included trials).
- ``protocol`` (trial protocols, registrations): the planned design only (``sample_size`` of kind
  ``planned``, arms, dose, duration, comparator); never a result.
- ``commentary`` (narrative reviews, editorials, letters, guidelines): only
  ``reported_result``: what the piece says about magnesium (the judgements of its sentences that
  name magnesium, with its conclusion; a guideline's recommendation of magnesium counts). A piece
  that does not discuss magnesium reports nothing about it (null, as for a piece without a
  judgement). A number such a piece quotes belongs to the studies it discusses.
- ``none`` (animal, in vitro, notices, unknown types without human cues, and any record whose
  title announces a retraction, expression of concern or erratum): nothing.

Only abstract sentences outside BACKGROUND sections count, and nothing that reads as cited work
("a previous trial of 81 patients"; "in the past three months" and "aged 21 or older" are not
citations). Observational designs (cohort, case-control, cross-sectional) get no dose (intake
categories are exposures) and no duration unless a treatment is received (follow-up and outcome
windows are not treatment).

Export shape (:meth:`Findings.to_dict`; additive, every key always present)::

    scope                 "study" | "review" | "protocol" | "commentary" | "none"
    sample_size           int | null: the abstract's main participant figure (randomised, else
                          enrolled, else analysed; pooled participants for a review; planned
                          for a protocol). Screened counts never count. Per-arm counts
                          ("(n = 42) ... (n = 44)", "22 patients ... against ... 14 patients",
                          "105 patients and 110 controls", "compared 905 adults ... with 2721
                          controls", "60 patients with aura and 60 without") are summed only
                          when the text gives no total; a stated total always wins, and counts
                          that add up to the one before them are its parts ("100 adults, 50
                          with migraine and 50 healthy volunteers" = 100). A count smaller than
                          one stated before it is part of that sample (completers, responders,
                          a subgroup), unless it is the randomised figure. Never a count
                          inside parentheses ("48 patients (29 women)"), the end of an age
                          range ("aged 13 to 18 were analysed"), eligible patients a later
                          count is drawn from ("of 120 eligible patients, 113 had complete
                          data" = 113 analysed), or visits/episodes when people are counted
                          ("18 encounters involving 9 children" = 9). Numbers in words
                          ("forty-two"), "n = 120", "1,028" and "the 68-patient population"
                          count; an abstract that describes one patient gives 1. A size given
                          per group ("each group had 350", "40 per group") counts times the
                          number of groups the abstract states (two for "compared X with Y"),
                          never alone, and below any count stated as a whole. A review's
                          pooled participants stated only per part of its included studies
                          ("(948 participants) and ... (789 participants)") are summed;
                          "nine trials (612 participants, ...)" gives 612. Rules 2026.4: one
                          noun for two counts ("40 normal pregnant and 40 preeclamptic
                          women" = 80); dependants are never added ("900 women and their
                          1,050 infants" = 900); the part of a records pool that "met the
                          criteria" is the sample; "three groups
                          of forty" = 120; "each of the 150 cases was matched to 2 controls" =
                          450; "the one patient with ..." is one of the sample, not its size.
    sample_size_kind      "randomised" | "enrolled" | "analysed" | "pooled" | "planned" | null
    arms                  int | null: stated ("three-arm", "two groups", one "(n = x)" per arm),
                          1 for a single-arm trial or treated series, 2 for a controlled trial
                          whose comparator is stated; else null
    studies_included      int | null: included studies of a systematic review/meta-analysis
    dose_mg_per_day       number | null: the magnesium dose in mg per day as stated (salt or
                          elemental weight, as written; g converted to mg; a per-dose amount
                          times a stated frequency, "250 mg twice daily" = 500; a single
                          intravenous dose counts as that day's amount). Null when the dose is
                          only in mmol, mEq or mg/kg, when no frequency is stated for repeated
                          oral dosing, for a range, or when arms get different doses.
    dose                  object | null: {amount, unit ("mg" "g" "mmol" "mEq" "mg/kg"), per
                          ("day" "dose" "single dose" null), times_per_day, basis ("elemental"
                          "salt" null), salt (vocabulary form or null), text (as written; other
                          stated doses follow after "; ")}. With different doses in different
                          arms this is the first one stated, and dose_mg_per_day is null.
    elemental_mg_per_day  number | null, and
    elemental_factor      number | null: mg of elemental magnesium per stated unit. Given only
                          when the basis is known: elemental mg (factor 1), mmol (24.305 mg per
                          mmol, magnesium's molar mass), mEq (12.153 mg), or salt weight of a
                          salt whose compound the name fixes (see ELEMENTAL_FRACTIONS: molar
                          masses with their formulas; salts sold as several hydrates or
                          stoichiometries convert only when the text names which). An elemental
                          amount the text states beside the salt weight ("865 mg (520 mg
                          elemental)") wins, with the stated ratio as the factor.
    duration_weeks        number | null: treatment duration (days / 7 to one decimal; months
                          x 4 up to 6 months, x 52/12 from 7 months; years x 52); for a
                          crossover, the length of one treatment period. Never a history ("had
                          used triptans for two years", "3-month history"), a run-in or lead-in
                          ("for 7 days before each test"), follow-up alone or an outcome window;
                          null when two treatment durations are stated equally ("for 5 days"
                          in one trial, "for 7 days" in the other)
    outcome_timepoint     str | null: acute treatment, time of the primary outcome ("2 hours")
    comparator            "placebo" | "active" | "usual_care" | "none" | "another_form" | null.
                          Convention: "none" means no comparison group that received something
                          else: an untreated control arm (arms >= 2, "vs no treatment") or an
                          uncontrolled design whose abstract shows it (single-arm trial, case
                          series or report of a treatment; arms 1, "no comparator"). null means
                          the abstract does not state a comparator. "usual_care" includes care
                          before an implementation and control periods; "another_form" when
                          the text compares two magnesium salts it gives. A before-after
                          comparison ("compared with frequency after 3 months") and what a drug
                          is given against ("against akathisia") are no active comparator.
    comparator_detail     str | null: as written ("metoclopramide", "sham acupuncture")
    reported_result       "favours_magnesium" | "no_difference" | "favours_comparator" |
                          "mixed" | "not_reported" | null (field does not apply). What the
                          authors report for the studied intervention (in this corpus:
                          magnesium) on the primary outcome, read as a reviewer reads it
                          (rules 2026.4):
                          1. The authors' report is their conclusion: the CONCLUSION(S) /
                          INTERPRETATION section, else sentences that say they conclude ("In
                          conclusion", "The authors conclude"), else other authors' cues ("we
                          found", "these results"), else the closing sentence of an
                          unstructured abstract when it judges ("suggest", "effective", "may",
                          "therefore") rather than reports numbers (p values, percentages,
                          intervals). The first of these tiers that judges is the conclusion;
                          its sentences together ("magnesium reduced pain; more trials are
                          needed" = favours; a benefit beside a null = mixed).
                          2. The primary outcome's result: the results sentence for an outcome
                          named primary/main (its definition, "the primary outcome was the
                          change in ...", is no result), else the first outcome the objective
                          names.
                          3. Together: agreement is that direction; a null (or harmful)
                          primary outcome beside a benefit the conclusion presents is "mixed";
                          otherwise an explicit conclusion (tiers one and two) decides, while a
                          weaker one (other cues, a closing sentence) does not outweigh the
                          stated primary result. Without either, the results sentences taken
                          together (a tie is "mixed"), else a title that states a result.
                          Results only for secondary outcomes or subgroups are "not_reported".
                          Hedges ("may", "might", "suggest") do not change a direction; a call
                          for more research is not a judgement.
                          Direction for magnesium: a benefit stated for another arm with
                          magnesium as the reference ("relief in 84% with prochlorperazine
                          versus 50% with magnesium", "improved more with albuterol than with
                          magnesium"), the active comparator judged effective in a sentence that
                          does not name magnesium, "worse than", "less effective than",
                          "inferior to", "lessened its effect", "not recommended", warnings
                          ("urge caution"), and "did not help and may have lessened its effect"
                          favour the comparator. One magnesium form found better than another
                          favours the first-named; a non-inferiority hypothesis met favours the
                          intervention tested; "did not differ", "comparable to", "(nearly)
                          identical", "no prophylactic benefit" = no difference.
                          Inconclusive evidence ("could not reach a firm conclusion", "evidence
                          was limited", "insufficient evidence", "mixed results", "benefit
                          confined to ...", "effectiveness needs further study"; not "limited by
                          its design") and a trend beside a significant benefit are "mixed".
                          Adverse events alone are no efficacy result ("adverse perinatal
                          outcomes" are an outcome, not adverse events); "no effect in 10
                          patients" is a tally, not a null.
                          Observational studies: "favours_magnesium" = the authors report the
                          association they tested for (lower magnesium in patients, higher
                          intake with fewer events, a risk factor found), "no_difference" = no
                          association, "favours_comparator" = the opposite association or harm
                          (magnesium given, or a higher dose, tied to a higher risk or more
                          complications). Case reports and series: a title that says the
                          product taken caused the harm ("hypermagnesemia induced by magnesium
                          oxide", "Epsom salt ingestion leading to ...") favours the comparator.
                          Reviews: their conclusion, else the pooled estimate. "not_reported"
                          also for a case report or series in which no treatment is given, an
                          observational survey that only describes (prevalence, burden) and
                          tests no association (neither asked of articles about magnesium), and
                          an abstract that states no result; protocols, notices, animal and
                          in-vitro studies have no result (null). When the reading stays
                          uncertain, "not_reported" is preferred to a guessed direction.
    provenance            [{field, value, source_field ("title" "abstract" "derived"), snippet}]

:func:`findings_line` turns findings into one neutral digest line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from aggregator.article import Article

# The result types and vocabularies are defined below every layer (the store, exports and
# digest show them) and re-exported here, where the rules that produce them live.
from aggregator.findings import ASSOCIATION_WORDS as _ASSOCIATION_WORDS
from aggregator.findings import COMPARATORS as COMPARATORS
from aggregator.findings import OBSERVATIONAL_TYPES as OBSERVATIONAL_TYPES
from aggregator.findings import REPORTED_RESULTS as REPORTED_RESULTS
from aggregator.findings import RESULT_WORDS as _RESULT_WORDS
from aggregator.findings import SCOPES as SCOPES
from aggregator.findings import Dose as Dose
from aggregator.findings import Findings as Findings
from aggregator.findings import FindingSource as FindingSource
from aggregator.findings import clean_number as _clean_number
from aggregator.tagging.forms import salt_form
from aggregator.tagging.text import Sentence, article_sentences, is_cited, snippet
from aggregator.vocab import ArticleTags

# --- scope ------------------------------------------------------------------------------------

HUMAN_STUDY_TYPES = frozenset(
    {
        "randomized_controlled_trial",
        "nonrandomized_controlled_trial",
        "single_arm_trial",
        "cohort",
        "case_control",
        "cross_sectional",
        "case_series",
        "case_report",
    }
)
REVIEW_TYPES = frozenset({"meta_analysis", "systematic_review"})
PROTOCOL_TYPES = frozenset({"trial_protocol"})
COMMENTARY_TYPES = frozenset({"narrative_review", "guideline", "editorial_or_letter"})
NO_FINDINGS_TYPES = frozenset({"animal_study", "in_vitro", "notice"})


_HUMAN_CUES = re.compile(
    r"\b(?:patients?|participants?|volunteers?|subjects|women|men|woman|man|children|child|girls?|"
    r"boys?|adults|people|"
    r"individuals|migraineurs|adolescents|infants|students)\b"
)
_NONHUMAN_CUES = re.compile(
    r"\b(?:rats?|mice|mouse|murine|rodents?|rabbits?|pigs?|dogs?|cats?|animals?|in vitro|"
    r"cell lines?|cultured|zebrafish|boars?|piglets?)\b"
)


_NOTICE_TITLE = re.compile(
    r"\W*(?:expression of concern|retraction(?: note| notice)?\b|retracted\b|notice of retraction|"
    r"erratum|corrigendum|correction to)\b"
)


def scope_for(study_type: str, sentences: Iterable[Sentence] = ()) -> str:
    """Which findings apply to a study type (see the module docstring). Unknown types (the
    other engineer's ``unclear``, ``other``) are a human study only when the text speaks of
    people and not of animals or cells. A record whose title announces a notice (retraction,
    expression of concern, erratum) gives nothing, whatever its type."""
    sentences = list(sentences)
    if any(s.field == "title" and _NOTICE_TITLE.match(s.lower) for s in sentences):
        return "none"
    if study_type in HUMAN_STUDY_TYPES:
        return "study"
    if study_type in REVIEW_TYPES:
        return "review"
    if study_type in PROTOCOL_TYPES:
        return "protocol"
    if study_type in COMMENTARY_TYPES or study_type in NO_FINDINGS_TYPES:
        return "commentary" if study_type in COMMENTARY_TYPES else "none"
    text = " ".join(s.lower for s in sentences)
    if _HUMAN_CUES.search(text) and not _NONHUMAN_CUES.search(text):
        return "study"
    return "none"


def _has_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether any of ``words`` occurs in ``text``: a plain loop of substring tests, far cheaper
    than a regex scan, used to skip rules that cannot match."""
    for word in words:  # noqa: SIM110 - any() over a generator costs more on this hot path
        if word in text:
            return True
    return False


class _Rule:
    """A regex plus literals every match contains: ``search`` tests the literals first (a
    substring test costs far less than a regex scan, and most sentences hold none of them)."""

    __slots__ = ("regex", "words")

    def __init__(self, pattern: str, *words: str) -> None:
        self.regex = re.compile(pattern)
        self.words = words

    def search(self, text: str) -> re.Match[str] | None:
        return self.regex.search(text) if _has_any(text, self.words) else None


# --- numbers ----------------------------------------------------------------------------------

_UNITS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_WORD_VALUES = {**_UNITS, **_TEENS, **_TENS}
_U = "|".join(_UNITS)
_T = "|".join(_TEENS)
_X = "|".join(_TENS)
_BELOW_100 = rf"(?:(?:{_X})(?:[- ](?:{_U}))?|{_T}|{_U})"
NUMBER_WORDS = rf"(?:(?:(?:{_U})\s+|a\s+)?hundred(?:\s+(?:and\s+)?{_BELOW_100})?|{_BELOW_100})"
NUMBER = rf"(?:\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d+(?:\.\d+)?|{NUMBER_WORDS})"


def parse_number(text: str) -> float | None:
    """A number written in digits ("1,028", "2.25") or words ("forty-five", "one hundred and
    twenty"); None when it is neither."""
    cleaned = text.strip().lower()
    if not cleaned:
        return None
    digits = cleaned.replace(",", "")
    try:
        return float(digits)
    except ValueError:
        pass
    total = 0
    current = 0
    for word in re.split(r"[\s-]+", cleaned):
        if word in ("and", ""):
            continue
        if word == "a":
            current = 1
        elif word == "hundred":
            current = (current or 1) * 100
        elif word in _WORD_VALUES:
            current += _WORD_VALUES[word]
        else:
            return None
    total += current
    return float(total) if total else None


def _int(text: str) -> int | None:
    value = parse_number(text)
    return int(value) if value is not None and value == int(value) else None


# --- sample size ------------------------------------------------------------------------------

PERSON_NOUNS = (
    r"(?:patients?|participants?|subjects|volunteers|women|men|children|adolescents|adults|"
    r"people|persons|individuals|migraineurs|cases|controls|students|respondents|infants|"
    r"neonates|newborns|girls|boys|mothers|athletes|residents|workers|employees|veterans|"
    r"nurses|pupils|teenagers|youths|outpatients|inpatients|users|non-users|twins|pairs|"
    r"sufferers|recipients|smokers|elderly|older adults|healthy controls)"
)
_OTHER_UNITS = r"(?:encounters|visits|episodes|admissions|presentations)"
# Filler words between a number and its noun ("22 consecutive patients"); never units, verbs or
# prepositions, so "12 weeks in 40 patients" cannot join 12 to patients.
_FILLER = (
    r"(?:(?!(?:in|of|with|to|from|at|for|by|per|and|or|than|were|was|who|had|have|years?|"
    r"months?|weeks?|days?|hours?|minutes?|mg|g|mmol|times|doses?|each|groups?|arms?|had|"
    r"hospitals?|centres?|centers?|clinics?|sites?|countries|cities|regions|provinces|states|"
    r"districts|towns|villages|schools|universities|departments|practices|wards|units|"
    r"institutions|studies|trials|databases|cohorts|surveys)\b)"
    r"[a-z][\w'/-]*,?\s+|[a-z]+-\s+and\s+)"
)
_PERSON_COUNT = re.compile(
    rf"(?<![\w.,/-])(?P<num>{NUMBER})\s+(?P<filler>{_FILLER}{{0,4}}?)"
    rf"(?P<noun>{PERSON_NOUNS}|{_OTHER_UNITS})\b"
)
_VERB_COUNT = re.compile(
    rf"(?<![\w.,/-])(?P<num>{NUMBER})\s+(?:\([^)%]{{0,60}}\)\s+)?(?:of (?:them|these)\s+)?"
    r"(?:(?:who|that)\s+(?:[a-z]+\s+){0,3}?)?"
    r"(?:(?:were|was|had been|have been)\s+(?:then\s+|subsequently\s+|finally\s+|eventually\s+)?"
    r"(?P<verb>randomi[sz]ed|randomly|enrolled|included|recruited|analy[sz]ed|evaluated|"
    r"allocated|assigned|excluded|screened|treated|studied)|"
    r"(?P<bare>participated|took part|completed|had (?:complete|full|usable|evaluable|"
    r"available) (?:data|follow-up|records|diaries)|met (?:the |all )?(?:inclusion |eligibility |"
    r"study |entry )?criteria|were eligible)\b)"
)
_HYPHEN_COUNT = re.compile(
    rf"(?<![\w.,/-])(?P<num>{NUMBER})-(?P<noun>patients?|participants?|subjects?|persons?|"
    r"people|women|woman|men|man|children|child|adults?|volunteers?|members?|individuals?)\b"
)
# "60 patients with migraine without aura and 60 with migraine with aura": the second count
# leaves its noun out; it takes the noun of the count before it in the sentence.
_ELLIPTIC_COUNT = re.compile(
    rf"(?:\band|,|:|\bversus|\bvs\.?|\bagainst)\s+(?P<num>{NUMBER})\s+"
    r"(?=(?:with|without|who|receiving|taking|on|from)\b)"
)
# "30 normal pregnant and 30 preeclamptic women", "13 supplemented and 11 placebo participants":
# the first count leaves its noun out; it takes the noun of the count after it.
_LEADING_ELLIPTIC = re.compile(
    rf"(?<![\w.,/-])(?P<num>{NUMBER})\s+{_FILLER}{{1,3}}?and\s+(?P<next>{NUMBER})\s"
)
_BARE_GROUP = re.compile(
    rf"(?<![\w.,/-])(?P<num>{NUMBER})\s+(?:took|received|chose|got|were given)\s+"
    r"(?:no\b|the\b|magnesium|placebo|[a-z]+)"
)
_POPULATION_OF = re.compile(
    rf"\b(?:population|sample|cohort|analysis set|set) (?:of|was|were|comprised|included|held)"
    rf"\s+(?P<num>{NUMBER})\b(?!\s*(?:%|years|months|weeks|days))"
)
_N_EQUALS_WORDS = ("n =", "n=", "groups of", "arms of")
_N_EQUALS = re.compile(r"\bn\s*=\s*(?P<num>\d{1,3}(?:,\d{3})+(?!\d)|\d+)")
_GROUPS_OF = re.compile(rf"\b(?P<groups>{NUMBER})\s+(?:groups|arms)\s+of\s+(?P<each>{NUMBER})\b")
_TOTAL_WORDS = re.compile(r"\b(?:a total of|in total|in all|overall|altogether|total of)\b")

_VERB_KINDS = {
    "random": "randomised",
    "alloca": "randomised",
    "assign": "randomised",
    "analys": "analysed",
    "analyz": "analysed",
    "evalua": "analysed",
    "comple": "analysed",
}
_KIND_RANK = {"randomised": 6, "eligible": 5, "enrolled": 5, "plain": 4, "analysed": 2, "unit": 1}
_RANDOMISED = re.compile(
    r"\brandomi[sz]|\brandomly (?:assigned|allocated|divided|split)|\ballocated\b|"
    r"\bassigned\b"
)
_NOT_RANDOMISED = re.compile(
    r"\brandomly (?:selected|drawn|sampled|chosen|recruited)|\ballocated (?:by|according to|"
    r"on the basis of)\b"
)
_SCREENED = re.compile(
    r"\bscreened\b|\bassessed for eligibility\b|\bapproached\b|\binvited\b|\bexcluded\b|"
    r"\bineligible\b|\bdeclined\b|\bwithdr[ae]w|\blost to follow|\bdropped out|\bdid not\b"
)
_ANALYSED = re.compile(
    r"\banaly[sz]|\bevaluable\b|\bcompleted\b|\bfinished\b|\banalysis set\b|"
    r"\bdata (?:were |was )?(?:available|complete)|\bremained\b|\bstill had\b|\bper protocol\b|"
    r"\bintention[- ]to[- ]treat population|\breviewed\b|\brecords of\b|\bcharts? of\b"
)
_ENROLLED = re.compile(
    r"\benrol|\brecruit|\bincluded\b|\bentered\b|\bparticipated\b|\btook part\b|"
    r"\bwere studied\b|\breceived\b|\btook\b|\bwere given\b|\bwere treated\b|\bunderwent\b|"
    r"\bidentified\b|\bfollowed\b|\bselected\b|\bconsisted of\b|\bcomprised\b|\bregistered\b"
)
_PARTICIPATED = re.compile(
    r"\benrol|\brecruit|\bincluded\b|\bentered\b|\bparticipated\b|\btook part\b|"
    r"\bwere studied\b|\bidentified\b|\bselected\b|\bconsisted of\b|\bcomprised\b"
)
# Used with .match(text, pos), which anchors at pos: no "^" (it would only match at 0).
_SUBSET_AFTER = re.compile(r"\s*(?:\(\s*\d+(?:\.\d+)?\s*%\s*\)|of whom\b|of them\b)")
_SUBSET_BEFORE = re.compile(
    r"(?:\(|\bincluding|\bof whom|\bof which|\bamong them|\baged|\bage|\bmean|\bmedian|"
    r"\bthan|\bunder|\bover|\babout|\bapproximately|\bleast|\bmost|\bonly|\bexcept|"
    r"\bwhile|\bwhereas|\bvs\.?|\bversus|\bof the|\bin each|\bper|\bmatched (?:to|with)|"
    r"\b(?:groups|arms) of)\s*$"
)
_SUM_GAP = re.compile(
    r"^[^;]{0,140}?\b(?:and|versus|vs\.?|against|compared (?:with|to)|as well as|to)\b[^;]{0,60}$"
)


@dataclass(frozen=True, slots=True)
class _Count:
    value: int
    kind: str
    sentence: int  # index into the sentence list
    start: int
    end: int
    noun: str

    @property
    def rank(self) -> int:
        return _KIND_RANK[self.kind]


def _kind_for(lower: str, start: int, end: int, noun: str) -> str | None:
    """randomised/enrolled/analysed/plain/unit for a count, None for screened or excluded ones."""
    clause_start = max(lower.rfind(";", 0, start), lower.rfind(". ", 0, start)) + 1
    before = lower[max(clause_start, start - 70) : start]
    tail = lower[end : end + 90]
    stop = re.search(
        r"[;]|,\s*(?:and\s+)?\d|,?\s*of whom\b|\band (?:\d|[a-z]+-?[a-z]* (?:were|was))", tail
    )
    after = tail[: stop.start()] if stop else tail
    if _SCREENED.search(after) or re.search(r"\b(?:screened|assessed)\b[^,;]{0,10}$", before):
        return None
    # The verb after the count decides ("120 were randomised", "108 patients were analysed");
    # a treatment verb ("130 adults took ...") defers to the nearest verb before the count
    # ("in this randomised trial, 130 adults took ...", "a trial enrolled 140 adults").
    if _RANDOMISED.search(after) and not _NOT_RANDOMISED.search(after):
        return "randomised"
    if _ANALYSED.search(after):
        return "analysed"
    if _PARTICIPATED.search(after):
        return "enrolled"
    nearest: tuple[int, str] | None = None
    for kind, regex in (
        ("randomised", _RANDOMISED),
        ("analysed", _ANALYSED),
        ("enrolled", _ENROLLED),
    ):
        for match in regex.finditer(before):
            if kind == "randomised" and _NOT_RANDOMISED.search(before, match.start()):
                continue
            if nearest is None or match.start() > nearest[0]:
                nearest = (match.start(), kind)
    if nearest is not None:
        return nearest[1]
    if _ENROLLED.search(after):
        return "enrolled"
    if re.match(_OTHER_UNITS, noun):
        return "unit"
    return "plain"


def _person_counts(sentences: list[Sentence], *, include_cited: bool) -> list[_Count]:
    counts: list[_Count] = []
    for index, sentence in enumerate(sentences):
        lower = sentence.lower
        if sentence.category == "BACKGROUND" or not _has_count_words(lower):
            continue
        found: list[_Count] = []
        for regex, match in _count_matches(lower):
            count = _count_of(sentence, index, regex, match, include_cited=include_cited)
            if count is not None:
                found.append(count)
        if found and _has_any(lower, ("and ", ", ", "vers", "vs", "against")):
            found.extend(_elliptic_counts(sentence, index, found))
        counts.extend(found)
    # One count per position (the person and the verb rule may both match).
    unique: dict[tuple[int, int], _Count] = {}
    for count in counts:
        key = (count.sentence, count.start)
        if key not in unique or count.rank > unique[key].rank:
            unique[key] = count
    return sorted(unique.values(), key=lambda c: (c.sentence, c.start))


_RANGE_START = re.compile(r"\b(?:between|aged?|from)\s+\S+\s*$")


def _elliptic_counts(sentence: Sentence, index: int, counts: list[_Count]) -> list[_Count]:
    """Counts that leave their noun out ("60 patients with aura and 60 with migraine without
    aura"): each takes the noun and kind of the nearest person count before it."""
    lower = sentence.lower
    taken = {count.start for count in counts}
    found: list[_Count] = []
    for match in _ELLIPTIC_COUNT.finditer(lower):
        start, end = match.span("num")
        if start in taken:
            continue
        before = [c for c in counts if c.end <= match.start() and c.noun and c.kind != "unit"]
        if not before or _RANGE_START.search(lower, max(0, match.start() - 30), match.start()):
            continue
        value = _int(match.group("num"))
        if not value or lower.count("(", 0, start) > lower.count(")", 0, start):
            continue
        previous = before[-1]
        found.append(_Count(value, previous.kind, index, start, end, previous.noun))
    by_start = {count.start: count for count in counts}
    for match in _LEADING_ELLIPTIC.finditer(lower):
        start, end = match.span("num")
        following = by_start.get(match.start("next"))
        if start in taken or following is None or not following.noun:
            continue
        if following.kind == "unit" or _RANGE_START.search(lower, max(0, start - 30), start):
            continue
        value = _int(match.group("num"))
        if not value or lower.count("(", 0, start) > lower.count(")", 0, start):
            continue
        found.append(_Count(value, following.kind, index, start, end, following.noun))
    return found


def _count_of(
    sentence: Sentence,
    index: int,
    regex: re.Pattern[str],
    match: re.Match[str],
    *,
    include_cited: bool,
) -> _Count | None:
    """One participant count, or None for subsets, years, screened or cited counts."""
    lower = sentence.lower
    start, end = match.span("num")
    noun = match.group("noun") if regex in (_PERSON_COUNT, _HYPHEN_COUNT) else ""
    value = _int(match.group("num"))
    if not value:
        return None
    if _SUBSET_AFTER.match(lower, match.end()):
        return None
    if value == 1 and lower.endswith("the ", 0, start):
        return None  # "the one patient with chronic cluster headache": one of the sample
    if _is_year(match.group("num"), lower, end) or (
        regex not in (_PERSON_COUNT, _HYPHEN_COUNT) and _looks_like_year(match.group("num"))
    ):
        return None
    if lower.count("(", 0, start) > lower.count(")", 0, start):
        return None  # "48 patients (19 men, 29 women)": parts of a count
    if "subgroup" in lower[max(0, start - 40) : start]:
        return None
    if _PER_GROUP_AFTER.match(lower, match.end()) or _PER_GROUP_BEFORE.search(
        lower, max(0, start - 40), start
    ):
        return None  # "41 per group", "each group had 3518 patients": one group's size
    if _AGE_RANGE_BEFORE.search(lower, max(0, start - 30), start):
        return None  # "adolescents aged 13 to 18 were analysed": the end of an age range
    if (
        regex is _PERSON_COUNT
        and "eligible" in match.group("filler")
        and re.search(r"\bof\s+$", lower[max(0, start - 6) : start])
    ):
        return None  # "of 120 eligible patients, 113 had complete data": a screening stage
    if not include_cited and _is_cited(sentence, start, end):
        return None
    kind: str | None
    if regex is _BARE_GROUP:
        kind, noun = "plain", "(group)"  # "and 38 took no supplement"
    elif regex is _POPULATION_OF:
        kind = _kind_for(lower, match.start(), match.end(), "")
    elif regex is _VERB_COUNT:
        verb = match.group("verb") or match.group("bare")
        if verb in ("excluded", "screened"):
            return None
        if verb.startswith(("met ", "were eligible")):
            kind = "eligible"  # "320 met the criteria": the sample drawn from a larger pool
        else:
            kind = "analysed" if verb.startswith("had ") else _VERB_KINDS.get(verb[:6], "enrolled")
    else:
        kind = _kind_for(lower, start, match.end(), noun)
        filler = match.group("filler") if regex is _PERSON_COUNT else ""
        if kind is not None and filler:
            if "random" in filler and _RANDOMISED_WORD.search(filler):
                kind = "randomised"  # "140 randomised adults"
            elif _has_any(filler, ("analy", "evaluable")) and _ANALYSED_WORD.search(filler):
                kind = "analysed"  # "96 analysed patients"
        if kind is not None and re.match(_OTHER_UNITS, noun):
            kind = "unit"  # "eighteen encounters involving nine children were identified"
    if kind is None:
        return None
    subset = _SUBSET_BEFORE.search(lower[max(0, start - 25) : start])
    # "100 were recruited, of whom 80 were randomised": the randomised part is the figure.
    if subset and not (kind == "randomised" and _OF_WHOM.search(subset.group(0))):
        return None
    return _Count(value, kind, index, start, match.end(), noun)


_RANDOMISED_WORD = re.compile(r"\brandomi[sz]ed\b")
_ANALYSED_WORD = re.compile(r"\b(?:analy[sz]ed|evaluable)\b")
_AGE_RANGE_BEFORE = re.compile(
    r"\b(?:aged?|ages|between)\s+(?:between\s+)?\d+(?:\.\d+)?\s*(?:to|-|–|and)\s*$"
)
_OF_WHOM = re.compile(r"of whom|of which|among them|of (?:these|them)")


# Words that mark cited work elsewhere but here only date or describe people: "in the past three
# months", "aged 21 or older". Masked before asking whether a mention is cited.
_NOT_CITING = re.compile(
    r"\b(?:past|previous|prior|last|preceding)(?=\s+(?:[\w-]+\s+)?(?:days?|weeks?|months?|years?|"
    r"decades?|nights?)\b)|(?<=\d or )older\b|(?<=\d and )older\b"
)


def _is_cited(sentence: Sentence, start: int, end: int) -> bool:
    """:func:`is_cited` for a count or duration, with time and age phrases masked."""
    if not _NOT_CITING.search(sentence.lower, 0, start):
        return is_cited(sentence, start, end)
    masked = _NOT_CITING.sub(lambda m: "x" * len(m.group(0)), sentence.lower[:start])
    text = masked + sentence.lower[start:]
    return is_cited(Sentence(sentence.field, text, sentence.category, text), start, end)


_HISTORY = re.compile(r"\bhad (?:been|had|taken|used|suffered|experienced)\b")


def _is_history(head: str) -> bool:
    """Whether a duration at the end of ``head`` belongs to a history ("had used triptans for
    two years"), not to a treatment taken after it ("who had used triptans took magnesium for
    6 weeks")."""
    last = None
    for last in _HISTORY.finditer(head):  # noqa: B007 - the last match is wanted
        pass
    return last is not None and not _TAKEN.search(head, last.end())


_TAKEN = re.compile(
    r"\b(?:took|take|received|were given|was given|were treated|treated with|supplemented|"
    r"were randomi[sz]ed|were assigned)\b"
)


def _clause_head(lower: str, start: int) -> str:
    """The text of the clause before ``start`` (from the last ";", ". " or sentence start)."""
    return lower[max(lower.rfind(";", 0, start), lower.rfind(". ", 0, start)) + 1 : start]


def _has_count_words(lower: str) -> bool:
    return _DIGIT.search(lower) is not None or _has_any(lower, _NUMBER_WORD_STEMS)


_DIGIT = re.compile(r"\d")


# Where a count can start: digits, or a number word (checked with one regex per sentence; the
# count rules are then tried only at these positions, which keeps extraction fast).
def _number_positions(lower: str) -> list[int]:
    """Where a number (digits or words) starts in the sentence."""
    starts = [m.start() for m in _ANY_DIGIT_START.finditer(lower)]
    if _has_any(lower, _NUMBER_WORD_STEMS) and _NUMBER_WORD_GATE.search(lower):
        starts.extend(m.start() for m in _WORD_NUMBER_START.finditer(lower))
    return starts


_ANY_DIGIT_START = re.compile(r"(?<![\w.])\d")
_DIGIT_START = re.compile(r"(?<![\w.,/-])\d(?![\d,]*(?:\.\d|\s*(?:%|-\d|–|:|/|×)))")
_WORD_NUMBER_START = re.compile(rf"(?<![\w.,/-]){NUMBER_WORDS}\b")


# Literals every match of each count rule contains (a sentence without any skips the rule).
_PERSON_WORDS = (
    *("patient", "participant", "subject", "volunteer", "women", "men", "child", "adolescent"),
    *("adult", "people", "person", "individual", "migraineur", "case", "control", "student"),
    *("respondent", "infant", "neonate", "newborn", "girl", "boy", "mother", "athlete"),
    *("resident", "worker", "employee", "veteran", "nurse", "pupil", "teenager", "youth"),
    *("user", "twin", "pair", "sufferer", "recipient", "smoker", "elderly", "encounter"),
    *("visit", "episode", "admission", "presentation"),
)
_VERB_WORDS = (
    *("randomi", "enrolled", "included", "recruited", "analy", "evaluated", "allocated"),
    *("assigned", "excluded", "screened", "treated", "studied", "participated", "took part"),
    *("completed", "had ", "criteria", "eligible"),
)
_BARE_WORDS = ("took", "received", "chose", "got", "given")
_HYPHEN_WORDS = (
    *("-patient", "-participant", "-subject", "-person", "-people", "-wom", "-men", "-man"),
    "-child",
    *("-adult", "-volunteer", "-member", "-individual"),
)


def _count_matches(lower: str) -> list[tuple[re.Pattern[str], re.Match[str]]]:
    """Matches of the count rules anchored at each number of the sentence, plus "population of
    N" (whose number comes last)."""
    found: list[tuple[re.Pattern[str], re.Match[str]]] = []
    # Decimals, percentages, ranges and ratios are never participant counts.
    starts = [m.start() for m in _DIGIT_START.finditer(lower)]
    if _has_any(lower, _NUMBER_WORD_STEMS) and _NUMBER_WORD_GATE.search(lower):
        starts.extend(m.start() for m in _WORD_NUMBER_START.finditer(lower))
    rules = [
        regex
        for regex, words in (
            (_PERSON_COUNT, _PERSON_WORDS),
            (_VERB_COUNT, _VERB_WORDS),
            (_BARE_GROUP, _BARE_WORDS),
            (_HYPHEN_COUNT, _HYPHEN_WORDS),
        )
        if _has_any(lower, words)
    ]
    for position in starts if rules else ():
        for regex in rules:
            match = regex.match(lower, position)
            if match is not None:
                found.append((regex, match))
    if _has_any(lower, ("population", "sample", "cohort", " set ")):
        found.extend((_POPULATION_OF, match) for match in _POPULATION_OF.finditer(lower))
    return found


_NUMBER_WORD_GATE = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|a hundred)\b"
)
_NUMBER_WORD_STEMS = (
    *_UNITS,
    *("ten", "eleven", "twelve", "teen", "twenty", "thirty", "forty", "fifty", "sixty"),
    *("seventy", "eighty", "ninety", "hundred"),
)


def _is_year(raw: str, lower: str, end: int) -> bool:
    value = parse_number(raw)
    return bool(
        value is not None
        and 1900 <= value <= 2100
        and "," not in raw
        and re.match(r"\s*(?:and|to|-)\s*(?:19|20)\d\d", lower[end:]) is not None
    )


def _looks_like_year(raw: str) -> bool:
    value = parse_number(raw)
    return value is not None and 1900 <= value <= 2100 and "," not in raw and "." not in raw


def _arm_counts(sentence: Sentence) -> list[tuple[int, int]]:
    """Per-arm "(n = x)" counts of one sentence as (value, position)."""
    found = []
    for match in _N_EQUALS.finditer(sentence.lower):
        value = _int(match.group("num"))
        if value:
            found.append((value, match.start()))
    return found


def _summable(lower: str, first: _Count, second: _Count) -> bool:
    gap = lower[first.end : second.start]
    if _TOTAL_WORDS.search(gap) or " their " in gap:
        return False  # "1433 pregnant individuals and their 1679 infants": dependants
    if not first.noun or not second.noun:
        return False  # "40 were enrolled and 35 analysed" are stages, not groups
    if (first.kind == "randomised") != (second.kind == "randomised"):
        return False
    if (first.kind == "unit") != (second.kind == "unit"):
        return False
    bare = _PARENTHESES.sub("", gap) if "(" in gap else gap
    if _COUNTISH.search(bare):
        return False  # another count in between: "of 166 volunteers, 72 were excluded and 94"
    if ";" in gap:
        return second.noun in _CONTROL_NOUNS and len(gap) < 140
    if "%" in bare:
        return False
    joined = _WITH_END.search(gap)
    # "905 adults ... with 2721 controls": a control group joined by "with"
    if joined and joined.group(1) == "with" and second.noun in _CONTROL_NOUNS and len(gap) < 200:
        return True
    # "compared 1,850 adults starting X with 3,700 adults starting Y"
    if (
        joined
        and len(gap) < 120
        and _COMPARED_BEFORE.search(lower, max(0, first.start - 80), first.start)
    ):
        return True
    return bool(_SUM_GAP.match(gap))


_CONTROL_NOUNS = ("controls", "healthy controls", "cases", "non-users")
_PARENTHESES = re.compile(r"\([^)]*\)")
_WITH_END = re.compile(r"\b(with|to)\s*$")
_COMPARED_BEFORE = re.compile(r"\bcompar\w*\b[^;]{0,60}$")
# A number in the gap between two counts that is itself a count ("72 were excluded", "of 166
# volunteers"), not a dose, an age, a year or a code ("6 mg", "aged 20 to 50", "2008", "ICHD-3").
_COUNTISH = re.compile(
    rf"(?<![\w.,/-])(?!(?:19|20)\d\d\b)(?P<num>{NUMBER})\s+(?:[a-z][\w-]*\s+){{0,2}}?"
    rf"(?:{PERSON_NOUNS}|were|was|had|did)\b"
)


@dataclass(frozen=True, slots=True)
class _Size:
    value: int
    kind: str
    source: FindingSource


@dataclass(frozen=True, slots=True)
class _SizeCandidate:
    rank: float
    sentence: int
    start: int
    end: int
    value: int
    kind: str

    @property
    def order(self) -> tuple[float, int, int]:
        """Higher kind first, then the earliest mention."""
        return (self.rank, -self.sentence, -self.start)


def _breakdown(group: list[_Count], i: int) -> list[int]:
    """Indexes of the counts right after ``group[i]`` that add up to it (two or more): its
    parts, not further groups."""
    total = 0
    for j in range(i + 1, min(len(group), i + 5)):
        if group[j].kind == "unit" or group[j].value >= group[i].value:
            return []
        total += group[j].value
        if total == group[i].value and j > i + 1:
            return list(range(i + 1, j + 1))
        if total > group[i].value:
            return []
    return []


def _without_later_parts(candidates: list[_SizeCandidate]) -> list[_SizeCandidate]:
    """A count smaller than one stated before it in the abstract describes part of that sample
    (completers, responders, a subgroup: "reviewed 234 patients ... 127 patients had a
    meaningful reduction"), not the sample; a randomised count is the exception ("100 were
    recruited ... 80 were randomised"). Person counts and unit counts (visits, episodes) are
    compared only among themselves."""
    ordered = sorted(candidates, key=lambda c: (c.sentence, c.start))
    kept: list[_SizeCandidate] = []
    largest = {True: 0, False: 0}
    for candidate in ordered:
        unit = candidate.kind == "unit"
        if candidate.kind not in ("randomised", "eligible") and candidate.value < largest[unit]:
            continue
        largest[unit] = max(largest[unit], candidate.value)
        kept.append(candidate)
    return kept


_PER_GROUP_WORDS = ("each group", "each arm", "per group", "per arm", "each of the")
# "each group had 3518 matched patients", "41 per group", "110 were in each arm"
_PER_GROUP = re.compile(
    rf"\beach (?:group|arm)\s+(?:had|included|comprised|contained|consisted of|of)\s+"
    rf"(?P<a>{NUMBER})\b|(?<![\w.,/-])(?P<b>{NUMBER})\s+(?:[a-z][\w-]*\s+){{0,2}}?"
    r"(?:per|in each|for each|in every) (?:group|arm)\b"
)
_PER_GROUP_AFTER = re.compile(
    r"\s*(?:[a-z][\w-]*\s+){0,2}?(?:per|in each|for each) (?:group|arm)\b"
)
_PER_GROUP_BEFORE = re.compile(
    r"\beach (?:group|arm)\s+(?:had|included|comprised|contained|consisted of|of)\s*$"
)
_TWO_WAY = re.compile(
    r"\bcompar\w*\b[^.;]{0,120}?\b(?:with|to|and)\b|\bversus\b|\bvs\b|\bboth (?:groups|arms)\b"
)


def _group_number(sentences: list[Sentence]) -> int | None:
    """How many groups the abstract says it compares: a stated number ("three groups",
    "two-arm"), else two for a two-way comparison ("compared X with Y", "versus")."""
    text = " ".join(s.lower for s in sentences if s.category != "BACKGROUND")
    explicit = _ARMS_EXPLICIT.search(text)
    if explicit is not None:
        return _int(explicit.group("n") or explicit.group("m"))
    return 2 if _TWO_WAY.search(text) else None


def _per_group_totals(sentences: list[Sentence]) -> list[_SizeCandidate]:
    """A size stated per group ("each group had 3518 patients"), times the number of groups the
    abstract states or shows; a fallback below any count stated as a whole."""
    found: list[_SizeCandidate] = []
    groups: int | None = None
    for index, sentence in enumerate(sentences):
        lower = sentence.lower
        if sentence.category == "BACKGROUND" or not _has_any(lower, _PER_GROUP_WORDS):
            continue
        for match in _PER_GROUP.finditer(lower):
            each = _int(match.group("a") or match.group("b"))
            if not each or _is_cited(sentence, match.start(), match.end()):
                continue
            groups = groups or _group_number(sentences)
            if not groups or not 2 <= groups <= 6:
                return []
            kind = _kind_for(lower, match.start(), match.end(), "") or "plain"
            rank = _KIND_RANK[kind] - 0.5
            found.append(
                _SizeCandidate(rank, index, match.start(), match.end(), groups * each, kind)
            )
    return found


_MATCHED_CONTROLS = re.compile(
    rf"\b(?:each of (?:the )?|all )(?P<n>{NUMBER})\s+(?:[a-z][\w-]*\s+)?cases\s+"
    r"(?:(?:of|with)\s+(?:[\w-]+\s+){0,3}?)?(?:was|were)\s+(?:individually\s+)?matched\s+"
    rf"(?:to|with)\s+(?P<k>{NUMBER})\s+(?:[a-z][\w-]*\s+)?controls\b"
)


def _study_sample_size(sentences: list[Sentence], *, planned: bool) -> _Size | None:
    """The abstract's main participant figure: randomised, else enrolled, else analysed."""
    counts = _person_counts(sentences, include_cited=planned)
    by_sentence: dict[int, list[_Count]] = {}
    for count in counts:
        by_sentence.setdefault(count.sentence, []).append(count)
    candidates: list[_SizeCandidate] = []
    for index, group in by_sentence.items():
        lower = sentences[index].lower
        used: set[int] = set()
        for i, count in enumerate(group):
            if i in used:
                continue
            value, end, j = count.value, count.end, i + 1
            # "100 adults, 50 with migraine and 50 healthy volunteers": a total and its parts.
            parts = _breakdown(group, i)
            if parts:
                used.update(parts)
                j = len(group)  # nothing to add to a total
            # "105 patients ... and 110 controls": arms summed when the text gives no total.
            while j < len(group) and _summable(lower, group[j - 1], group[j]):
                value += group[j].value
                end = group[j].end
                used.add(j)
                j += 1
            candidates.append(
                _SizeCandidate(count.rank, index, count.start, end, value, count.kind)
            )
    # Per-arm "(n = x)" counts and "three groups of 83": a fallback below any stated total.
    for index, sentence in enumerate(sentences):
        lower = sentence.lower
        if sentence.category == "BACKGROUND" or not _has_any(lower, _N_EQUALS_WORDS):
            continue
        arms = _arm_counts(sentence)
        if len(arms) >= 2:
            start, end = arms[0][1], min(len(lower), arms[-1][1] + 8)
            kind = _kind_for(lower, start, end, "") or "plain"
            rank = float(_KIND_RANK[kind])
            total = sum(value for value, _ in arms)
            candidates.append(_SizeCandidate(rank, index, start, end, total, kind))
        elif len(arms) == 1 and index not in by_sentence:
            value, start = arms[0]
            end = min(len(lower), start + 8)
            kind = _kind_for(lower, start, end, "") or "plain"
            candidates.append(_SizeCandidate(_KIND_RANK[kind], index, start, end, value, kind))
        for match in _GROUPS_OF.finditer(lower):
            groups, each = _int(match.group("groups")), _int(match.group("each"))
            if groups and each and 2 <= groups <= 6:
                kind = _kind_for(lower, match.start(), match.end(), "") or "plain"
                rank = _KIND_RANK[kind] - 0.5
                candidates.append(
                    _SizeCandidate(rank, index, match.start(), match.end(), groups * each, kind)
                )
    candidates.extend(_per_group_totals(sentences))
    # "each of the 257 cases was matched to 2 controls": cases and their controls, summed.
    for index, sentence in enumerate(sentences):
        if sentence.category == "BACKGROUND" or "matched" not in sentence.lower:
            continue
        for match in _MATCHED_CONTROLS.finditer(sentence.lower):
            cases, ratio = _int(match.group("n")), _int(match.group("k"))
            if cases and ratio and ratio <= 10:
                candidates.append(
                    _SizeCandidate(
                        _KIND_RANK["enrolled"],
                        index,
                        match.start(),
                        match.end(),
                        cases * (1 + ratio),
                        "enrolled",
                    )
                )
    candidates = _without_later_parts(candidates)
    if not candidates:
        return None
    best = max(candidates, key=lambda c: c.order)
    sentence = sentences[best.sentence]
    kind = (
        "planned"
        if planned
        else {"plain": "enrolled", "unit": "analysed", "eligible": "enrolled"}.get(
            best.kind, best.kind
        )
    )
    end = min(best.end, len(sentence.text))
    source = FindingSource(
        "sample_size", str(best.value), sentence.field, snippet(sentence.text, best.start, end)
    )
    return _Size(best.value, kind, source)


_REVIEW_POOL = re.compile(
    rf"(?<![\w.,-])(?P<k>{NUMBER})\s+(?:[a-z][\w-]*,?\s+){{0,5}}?(?:trials|studies|rcts|"
    r"articles|cohorts|reports|papers|publications|datasets)\b(?:[^.;]{0,60}?\b(?:with|including|"
    r"involving|enrolling|comprising|of|totall?ing|in which|covering|and)\s+|"
    r"(?:\s+[\w-]+){0,4}?\s*\(\s*)(?:a total of\s+|"
    rf"data (?:from|on)\s+|overall\s+)?(?P<n>{NUMBER})\s+(?:[a-z][\w-]*\s+){{0,3}}?"
    rf"(?:{PERSON_NOUNS})\b"
)
_REVIEW_K = re.compile(
    rf"(?<![\w.,-])(?P<k>{NUMBER})\s+(?:(?!(?:were|was|are|is|with|in|of|from|to|across|"
    rf"and|who)\b)[a-z][\w-]*,?\s+){{0,5}}?(?:trials|studies|rcts|"
    r"articles|cohorts|reports|papers|publications)\b"
)
_REVIEW_N = re.compile(
    rf"(?<![\w.,-])(?P<n>{NUMBER})\s+(?:[a-z][\w-]*\s+){{0,3}}?(?:{PERSON_NOUNS})\b"
)
_REVIEW_N_CONTEXT = re.compile(r"\b(?:total|pooled|included|involving|comprising|overall)\b")
_REVIEW_K_CONTEXT = re.compile(
    r"\b(?:includ\w*|identified|eligible|qualified|met|pooled|selected|retrieved|analy[sz]\w*|"
    r"found|gathered|reviewed|combined|synthesi[sz]ed|examined|yielded|review of|"
    r"meta-analysis of|gave|assessed)\b"
)


def _review_counts(
    sentences: list[Sentence],
) -> tuple[tuple[int, FindingSource] | None, tuple[int, FindingSource] | None]:
    """(studies included, pooled participants) of a review, each with provenance."""
    k: tuple[int, FindingSource] | None = None
    n: tuple[int, FindingSource] | None = None
    for sentence in sentences:
        lower = sentence.lower
        if sentence.category == "BACKGROUND" or not _has_count_words(lower):
            continue
        for match in _REVIEW_POOL.finditer(lower):
            if is_cited(sentence, match.start(), match.end()) and sentence.field != "title":
                continue
            if "(" in match.group(0) and len(_REVIEW_PART.findall(lower)) >= 2:
                continue  # participants given per part of the studies: summed below
            k_value, n_value = _int(match.group("k")), _int(match.group("n"))
            text = snippet(sentence.text, match.start(), match.end())
            if k is None and k_value:
                k = (k_value, FindingSource("studies_included", str(k_value), sentence.field, text))
            if n is None and n_value:
                n = (n_value, FindingSource("sample_size", str(n_value), sentence.field, text))
            break
        if k is None:
            for match in _REVIEW_K.finditer(lower):
                if _is_year(match.group("k"), lower, match.end("k")):
                    continue
                if sentence.field != "title" and (
                    is_cited(sentence, match.start(), match.end())
                    or not _REVIEW_K_CONTEXT.search(lower)
                ):
                    continue
                if _SUBSET_BEFORE.search(lower[max(0, match.start() - 25) : match.start()]):
                    continue
                value = _int(match.group("k"))
                if value:
                    text = snippet(sentence.text, match.start(), match.end())
                    k = (value, FindingSource("studies_included", str(value), sentence.field, text))
                    break
        if n is None and _REVIEW_N_CONTEXT.search(lower) and sentence.field != "title":
            for match in _REVIEW_N.finditer(lower):
                if _SUBSET_BEFORE.search(lower[max(0, match.start() - 25) : match.start()]):
                    continue
                if _SUBSET_AFTER.match(lower, match.end()):
                    continue
                value = _int(match.group("n"))
                if value and not is_cited(sentence, match.start(), match.end()):
                    text = snippet(sentence.text, match.start(), match.end())
                    n = (value, FindingSource("sample_size", str(value), sentence.field, text))
                    break
    if n is None:
        n = _review_parts(sentences)
    return k, n


_REVIEW_PART = re.compile(rf"\(\s*(?P<n>{NUMBER})\s+(?:{PERSON_NOUNS})\s*\)")


def _review_parts(sentences: list[Sentence]) -> tuple[int, FindingSource] | None:
    """Pooled participants given only per part of the included studies ("eleven trials on
    intravenous magnesium (948 participants) and ten on oral magnesium (789 participants)"):
    their sum, when one sentence names the included studies and two or more such parts."""
    for sentence in sentences:
        lower = sentence.lower
        if sentence.category == "BACKGROUND" or "(" not in lower:
            continue
        if not _REVIEW_K_CONTEXT.search(lower):
            continue
        parts = list(_REVIEW_PART.finditer(lower))
        values = [_int(match.group("n")) for match in parts]
        if len(parts) >= 2 and all(values):
            total = sum(v for v in values if v)
            text = snippet(sentence.text, parts[0].start(), parts[-1].end())
            return total, FindingSource("sample_size", str(total), sentence.field, text)
    return None


# --- magnesium dose ---------------------------------------------------------------------------

MAGNESIUM_MOLAR_MASS = 24.305  # g/mol, IUPAC standard atomic weight (abridged)
# Standard atomic weights (IUPAC, abridged to 3-4 decimals) used for the salt molar masses.
ATOMIC_WEIGHTS = {
    "Mg": 24.305,
    "H": 1.008,
    "C": 12.011,
    "N": 14.007,
    "O": 15.999,
    "S": 32.06,
    "Cl": 35.45,
}
MG_PER_MEQ = MAGNESIUM_MOLAR_MASS / 2  # magnesium is divalent: 1 mEq = 0.5 mmol


@dataclass(frozen=True, slots=True)
class SaltCompound:
    """One magnesium compound with a fixed composition: the formula and its element counts."""

    name: str
    formula: str
    atoms: tuple[tuple[str, int], ...]

    @property
    def molar_mass(self) -> float:
        return round(sum(ATOMIC_WEIGHTS[element] * n for element, n in self.atoms), 3)

    @property
    def magnesium_atoms(self) -> int:
        return dict(self.atoms)["Mg"]

    @property
    def fraction(self) -> float:
        """Elemental magnesium per unit of salt weight, to 4 decimals."""
        return round(MAGNESIUM_MOLAR_MASS * self.magnesium_atoms / self.molar_mass, 4)

    @property
    def derivation(self) -> str:
        mg = MAGNESIUM_MOLAR_MASS * self.magnesium_atoms
        return f"{self.formula}: {mg:g} / {self.molar_mass:g} g/mol = {self.fraction:g}"


_WATER = (("H", 2), ("O", 1))


def _hydrate(atoms: tuple[tuple[str, int], ...], waters: int) -> tuple[tuple[str, int], ...]:
    counts = dict(atoms)
    for element, n in _WATER:
        counts[element] = counts.get(element, 0) + n * waters
    return tuple(counts.items())


_MGSO4 = (("Mg", 1), ("S", 1), ("O", 4))
_MGCL2 = (("Mg", 1), ("Cl", 2))
_TRICITRATE = (("Mg", 3), ("C", 12), ("H", 10), ("O", 14))
_LACTATE = (("Mg", 1), ("C", 6), ("H", 10), ("O", 6))
_GLUCONATE = (("Mg", 1), ("C", 12), ("H", 22), ("O", 14))
_OROTATE = (("Mg", 1), ("C", 10), ("H", 6), ("N", 4), ("O", 8))

# Compounds whose name fixes the composition. Salts sold as several hydrates or stoichiometries
# ("magnesium sulfate" may be anhydrous or the heptahydrate of injections, "magnesium citrate"
# trimagnesium dicitrate or magnesium hydrogen citrate, "magnesium carbonate" often the basic
# carbonate) convert only when the text names the hydrate; aspartate, malate and carbonate never.
ELEMENTAL_FRACTIONS: dict[str, SaltCompound] = {
    compound.name: compound
    for compound in (
        SaltCompound("oxide", "MgO", (("Mg", 1), ("O", 1))),
        SaltCompound("hydroxide", "Mg(OH)2", (("Mg", 1), ("O", 2), ("H", 2))),
        SaltCompound(
            "pidolate", "Mg(C5H6NO3)2", (("Mg", 1), ("C", 10), ("H", 12), ("N", 2), ("O", 6))
        ),
        SaltCompound(
            "bisglycinate", "Mg(C2H4NO2)2", (("Mg", 1), ("C", 4), ("H", 8), ("N", 2), ("O", 4))
        ),
        SaltCompound(
            "taurate",
            "Mg(C2H6NO3S)2",
            (("Mg", 1), ("C", 4), ("H", 12), ("N", 2), ("O", 6), ("S", 2)),
        ),
        SaltCompound("threonate", "Mg(C4H7O5)2", (("Mg", 1), ("C", 8), ("H", 14), ("O", 10))),
        SaltCompound("sulfate anhydrous", "MgSO4", _MGSO4),
        SaltCompound("sulfate heptahydrate", "MgSO4·7H2O", _hydrate(_MGSO4, 7)),
        SaltCompound("chloride anhydrous", "MgCl2", _MGCL2),
        SaltCompound("chloride hexahydrate", "MgCl2·6H2O", _hydrate(_MGCL2, 6)),
        SaltCompound("trimagnesium dicitrate anhydrous", "Mg3(C6H5O7)2", _TRICITRATE),
        SaltCompound(
            "trimagnesium dicitrate nonahydrate", "Mg3(C6H5O7)2·9H2O", _hydrate(_TRICITRATE, 9)
        ),
        SaltCompound("lactate dihydrate", "Mg(C3H5O3)2·2H2O", _hydrate(_LACTATE, 2)),
        SaltCompound("gluconate dihydrate", "Mg(C6H11O7)2·2H2O", _hydrate(_GLUCONATE, 2)),
        SaltCompound("orotate dihydrate", "Mg(C5H3N2O4)2·2H2O", _hydrate(_OROTATE, 2)),
    )
}

_SALT_WORD = (
    r"(?:(?:bis-?|di-?)?glycinate(?: chelate)?|(?:bis)?glycine chelate|oxide|"
    r"(?:di|tri)?citrate|sul(?:f|ph)ate|chloride|pidolate|pyrrolidone[- ]carboxylate|"
    r"(?:l-)?aspartate(?:[- ]hydrochloride)?|(?:l-)?lactate|malate|(?:l-)?threonate|"
    r"(?:acetyl )?taur(?:ate|inate)|carbonate|hydroxide|orotate|gluconate)"
    r"(?:\s+(?:heptahydrate|hexahydrate|nonahydrate|dihydrate|tetrahydrate|anhydrous))?"
)
_MAG = r"(?:(?:tri|di)?magnesium|mgso4|mgso₄|mgo|mgcl2|mgcl₂|mg\(oh\)2|epsom salts?)"
_AMOUNT = (
    r"(?P<amount>\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?)"
    r"(?P<alt>\s*(?:-|–|to|or|and)\s*(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?)(?=\s*(?:mg|g|mmol)))?"
)
_UNIT = (
    r"(?P<unit>mg/kg|mg|milligrams?|grams?|gm|g|mmol|millimoles?|meq)"
    r"(?![a-z])(?!\s*/\s*(?:l|dl|ml|kg|litre|liter|h|hr|hour|min)\b)"
    r"(?P<perunit>\s*/\s*(?:day|d)\b|\s+per\s+day\b|\s+a\s+day\b|\s+daily\b)?"
)
_ROUTE_WORDS = (
    r"(?:(?:elemental|oral|orally|intravenous|iv|i\.v\.|intramuscular|nebuli[sz]ed|supplemental|"
    r"chelated|modified-release|sustained-release|slow-release|extended-release|daily|an|a)\s+)"
)
DOSE_BEFORE = re.compile(
    rf"(?<![\w.])(?:{_AMOUNT})\s*{_UNIT}\s+(?:of\s+)?(?P<pre>{_ROUTE_WORDS}*)"
    rf"(?P<mag>{_MAG})(?:[\s-]+(?P<salt>{_SALT_WORD}))?(?!\s+(?:intake|levels?|concentrations?|"
    r"status|content|excretion|deficiency))"
)
DOSE_AFTER = re.compile(
    rf"(?P<pre>{_ROUTE_WORDS}*)(?P<mag>{_MAG})(?:[\s-]+(?P<salt>{_SALT_WORD}))?"
    r"(?P<mid>(?:\s+(?:tablets?|capsules?|supplements?|supplementation|chelate|powder|sachets?|"
    r"infusion|solution|alone|salt))?\s*(?:\(|,|:|=)?\s*(?:(?:at|in)\s+(?:a\s+)?(?:daily\s+)?"
    r"doses?\s+of\s+|(?:a\s+)?dose\s+of\s+|given\s+as\s+|of\s+)?)"
    rf"(?<![\w.])(?:{_AMOUNT})\s*{_UNIT}"
)
_DOSE_GATE_RE = re.compile(r"magnes|mgo|mgso|mgcl|mg\(oh\)|epsom")
_EQUIVALENT = re.compile(
    r"^\s*(?:\(|\[|=|/|,)\s*(?:=\s*)?(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>mg|g|gm|grams?|mmol|meq)"
    r"(?![a-z])"
)
_ELEMENTAL_AFTER = re.compile(
    rf"^\s*\(?\s*(?:given |provided |supplied |administered |taken )?(?:as|from|in the form of)"
    rf"\s+(?:the\s+)?(?:(?:{_MAG})[\s-]*)?(?P<salt>{_SALT_WORD}|mgo|mgso4|mgcl2|mg\(oh\)2|"
    r"trimagnesium dicitrate)?"
)
_ELEMENTAL_BEFORE = re.compile(
    r"\b(?:providing|containing|delivering|supplying|equivalent to|corresponding to|"
    r"equalling|equaling|yielding)\s*$"
)
_MEASURED_BEFORE = re.compile(
    r"\b(?:urinary|urine|serum|plasma|blood|erythrocyte|ioni[sz]ed|total|tissue)\s+magnesium\b"
    r"[^.;]{0,40}$|\bmagnesium\s+(?:intake|levels?|concentrations?|excretion|content|status)\b"
    r"[^.;]{0,40}$|\b(?:intake|consum\w+|dietary|diets?|increment)\b[^.;]{0,30}$"
)
_ALTERNATIVE_AFTER = re.compile(r"\s*(?:or|to|-|–)\s*\d+(?:\.\d+)?\s*(?:mg|g)\b")
# "magnesium oxide 865 mg (520 mg elemental magnesium)", "... 500 mg daily, providing 70 mg of
# elemental magnesium": the same dose restated as elemental magnesium.
_ELEMENTAL_RESTATED = re.compile(
    r"[^.;]{0,25}?(?:\(|,|\bproviding|\bcontaining|\bdelivering|\bsupplying|\bequivalent to|"
    r"\bcorresponding to|=)\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>mg|g)\s+(?:of\s+)?"
    r"(?:elemental\s+(?:magnesium|mg)\b|magnesium\s+elemental\b|elemental\b)"
)
_CONTAINER_BEFORE = re.compile(r"\b(?:bag|vial|ampoule|ampule|bottle|pack)s?\b[^.;]{0,30}$")
_FREQUENCIES: tuple[tuple[re.Pattern[str], str, int], ...] = (
    (
        re.compile(
            r"\b(?:twice|two times)\s+(?:a\s+|per\s+|each\s+)?(?:day|daily)\b|"
            r"\bb\.?i\.?d\b|\bevery 12 (?:hours|h)\b|\bin two (?:divided )?doses\b"
        ),
        "dose",
        2,
    ),
    (
        re.compile(
            r"\b(?:three times|thrice)\s+(?:a\s+|per\s+|each\s+)?(?:day|daily)\b|"
            r"\bt\.?i\.?d\b|\bevery 8 (?:hours|h)\b"
        ),
        "dose",
        3,
    ),
    (
        re.compile(
            r"\bfour times\s+(?:a\s+|per\s+|each\s+)?(?:day|daily)\b|\bq\.?i\.?d\b|"
            r"\bevery 6 (?:hours|h)\b"
        ),
        "dose",
        4,
    ),
    (
        re.compile(
            r"\b(?:once\s+(?:a\s+|per\s+)?(?:day|daily)|daily|a day|per day|each day|"
            r"every day|/\s*d(?:ay)?\b|nightly|every night|each night|at bedtime|"
            r"once nightly)\b"
        ),
        "day",
        1,
    ),
)
_SINGLE_DOSE = re.compile(
    r"\b(?:single|one-off|once|bolus|loading)\b|\bover\s+\d+\s*(?:min|minutes|hours?|h)\b"
)
_PARENTERAL = re.compile(
    r"\b(?:intravenous(?:ly)?|infusions?|infused|i\.v\.|iv|bolus|injections?|injected|"
    r"intramuscular(?:ly)?|nebuli[sz]\w+)\b"
)
_FORMULA_SALTS = {
    "mgo": "oxide",
    "mgso4": "sulfate",
    "mgso₄": "sulfate",
    "mgcl2": "chloride",
    "mgcl₂": "chloride",
    "mg(oh)2": "hydroxide",
    "epsom salt": "sulfate",
    "epsom salts": "sulfate",
}


def _salt_of(mag: str, salt: str | None) -> tuple[str | None, str | None]:
    """(vocabulary form, exact compound key in ELEMENTAL_FRACTIONS or None)."""
    mag = mag.strip()
    form: str | None = None
    words = (salt or "").strip()
    if words:
        base = re.sub(
            r"\s+(?:heptahydrate|hexahydrate|nonahydrate|dihydrate|tetrahydrate|anhydrous)$",
            "",
            words,
        )
        base = re.sub(r"^acetyl\s+", "", base)
        base = re.sub(r"\s+chelate$", "", base)
        form = salt_form(base)
    elif mag in _FORMULA_SALTS:
        form = _FORMULA_SALTS[mag]
    if form is None:
        return None, None
    hydrate = re.search(r"(heptahydrate|hexahydrate|nonahydrate|dihydrate|anhydrous)", words)
    compound: str | None = None
    if form in ("oxide", "hydroxide", "pidolate", "taurate", "threonate"):
        compound = form
    elif form == "glycinate" and re.match(r"(?:bis|di)-?glycinate", words):
        compound = "bisglycinate"
    elif form == "sulfate" and mag in ("mgso4", "mgso₄") and hydrate is None:
        compound = None
    elif hydrate is not None:
        prefix = "trimagnesium dicitrate" if form == "citrate" and mag == "trimagnesium" else form
        key = f"{prefix} {hydrate.group(1)}"
        compound = key if key in ELEMENTAL_FRACTIONS else None
    return form, compound


def _frequency(window: str) -> tuple[str, int] | None:
    for regex, per, times in _FREQUENCIES:
        if regex.search(window):
            return per, times
    return None


@dataclass(frozen=True, slots=True)
class _DoseHit:
    dose: Dose
    sentence: Sentence
    start: int
    end: int


def _unit_name(raw: str) -> str:
    raw = raw.strip()
    if raw in ("g", "gm", "gram", "grams"):
        return "g"
    if raw in ("mg", "milligram", "milligrams"):
        return "mg"
    if raw in ("mmol", "millimole", "millimoles"):
        return "mmol"
    if raw == "meq":
        return "mEq"
    return raw  # mg/kg


# A word right after an amount that names another ingredient, not a form, unit or schedule.
_OTHER_INGREDIENT = re.compile(
    r"\s+(?!(?:of|elemental|magnes\w*|daily|per|a|an|twice|once|three|four|every|each|tablets?|"
    r"capsules?|sachets?|doses?|orally|oral|intraven\w*|iv|at|in|for|and|or|given|taken|was|"
    r"were|over|bid|tid|qid|as|to|with|on|from|nightly|morning|evening|day|days|weeks?|months?)"
    r"\b)[a-z][a-z-]{2,}"
)


def _dose_hits(sentence: Sentence) -> list[_DoseHit]:
    lower = sentence.lower
    if _DOSE_GATE_RE.search(lower) is None or _DIGIT.search(lower) is None:
        return []
    hits: list[_DoseHit] = []
    taken: list[tuple[int, int]] = []
    for regex in (DOSE_AFTER, DOSE_BEFORE):
        for match in regex.finditer(lower):
            a_start = match.start("amount")
            if any(s <= a_start < e for s, e in taken):
                continue
            if _CONTAINER_BEFORE.search(lower[max(0, match.start() - 40) : match.start()]):
                continue
            if _MEASURED_BEFORE.search(lower[max(0, match.start() - 80) : match.start()]):
                continue  # "urinary magnesium was higher (100.8 mg ...)": a measurement
            if (
                regex is DOSE_AFTER
                and match.group("mid").strip() in (",", ":")
                and _OTHER_INGREDIENT.match(lower, match.end())
            ):
                continue  # "112 mg magnesium, 200 mg riboflavin": the amount names the next one
            hit = _dose_from_match(sentence, match, regex is DOSE_BEFORE)
            if hit is not None:
                hits.append(hit)
                taken.append((a_start, max(match.end(), hit.end)))
    return hits


def _dose_from_match(sentence: Sentence, match: re.Match[str], before: bool) -> _DoseHit | None:
    lower = sentence.lower
    unit = _unit_name(match.group("unit"))
    amount_text = match.group("amount").replace(",", "")
    amount: float | None = float(amount_text)
    if match.group("alt") or (not before and _ALTERNATIVE_AFTER.match(lower, match.end("unit"))):
        amount = None  # a range or alternatives ("250 or 500 mg", "250 mg or 500 mg")
    start, end = match.start(), match.end()
    pre = match.group("pre") or ""
    mag = match.group("mag")
    form, compound = _salt_of(mag, match.group("salt"))
    basis: str | None = None
    if "elemental" in pre or "elemental" in lower[max(0, start - 12) : start]:
        basis = "elemental"
    tail = lower[end : end + 80]
    if before:
        if match.group("salt") is None and mag == "magnesium":
            elemental = _ELEMENTAL_AFTER.match(tail)
            if elemental is not None:
                basis = "elemental"
                if elemental.group("salt"):
                    form, compound = _salt_of(
                        "magnesium"
                        if elemental.group("salt") not in _FORMULA_SALTS
                        else elemental.group("salt"),
                        None
                        if elemental.group("salt") in _FORMULA_SALTS
                        else elemental.group("salt"),
                    )
                end = min(len(lower), end + elemental.end())
        if basis is None and _ELEMENTAL_BEFORE.search(lower[max(0, start - 30) : start]):
            basis = "elemental"
    if re.match(r"\s+(?:of\s+)?elemental\b", lower[match.end("unit") :]):
        basis = "elemental"  # "magnesium oxide 520 mg elemental"
    if unit in ("mmol", "mEq"):
        basis = "elemental"
    elif basis is None and form is not None:
        basis = "salt"
    # An equivalent stated right after ("10 mmol (2.47 g)", "360 mg = 15 mmol"): prefer weight.
    equivalent = _EQUIVALENT.match(tail)
    if equivalent is not None:
        eq_unit = _unit_name(equivalent.group("unit"))
        if unit in ("mmol", "mEq") and eq_unit in ("mg", "g"):
            amount = float(equivalent.group("amount"))
            unit = eq_unit
            basis = "salt" if form is not None else None
        end = min(len(lower), end + equivalent.end())
    per: str | None = None
    times: int | None = None
    if match.group("perunit"):
        per, times = "day", 1
    else:
        window = re.split(r"[;:]|\.\s", lower[end : end + 70], maxsplit=1)[0]
        head = re.split(r"[;:]|\.\s", lower[max(0, start - 60) : start])[-1]
        found = _frequency(window) or _frequency(head)
        if found is not None:
            per, times = found
            if per == "day" and re.search(r"\bdivided\b", window):
                per, times = "day", 1
        elif unit != "mg/kg" and (
            _PARENTERAL.search(lower) or _SINGLE_DOSE.search(lower[max(0, start - 40) : end + 40])
        ):
            per, times = "single dose", 1
    if unit == "mg/kg" and per is None:
        per = "dose"
    elemental_stated: float | None = None
    if basis == "salt" and unit in ("mg", "g"):
        restated = _ELEMENTAL_RESTATED.match(lower, end)
        if restated is not None:
            stated = float(restated.group("amount"))
            elemental_stated = stated * (1000 if restated.group("unit") == "g" else 1)
            end = restated.end()
    text = sentence.text[start:end].strip(" ,;(")
    times_out = times if per in ("dose", "day") else None
    dose = Dose(amount, unit, per, times_out, basis, form, text, compound, elemental_stated)
    return _DoseHit(dose, sentence, start, end)


def _dose_mg(dose: Dose) -> float | None:
    if dose.amount is None or dose.unit not in ("mg", "g"):
        return None
    return dose.amount * (1000 if dose.unit == "g" else 1)


def _same_dose(one: Dose, other: Dose) -> bool:
    """Two mentions of one dose: the same amount, or a salt weight and the elemental amount the
    text gives for it ("magnesium oxide 865 mg (520 mg elemental)" and "520 mg elemental")."""
    if one.amount is None or other.amount is None:
        return False
    if one.amount == other.amount and one.unit == other.unit:
        return True
    for salt, elemental in ((one, other), (other, one)):
        if (
            salt.elemental_stated is not None
            and elemental.basis == "elemental"
            and _dose_mg(elemental) == salt.elemental_stated
        ):
            return True
    return False


def _richer(new: Dose, old: Dose) -> bool:
    """Whether a later mention of the same dose says more (a frequency, a stated elemental
    equivalent) than the one kept."""
    if new.elemental_stated is not None and old.elemental_stated is None:
        return True
    return old.per is None and new.per is not None and old.elemental_stated is None


def _choose_dose(hits: list[_DoseHit]) -> tuple[Dose | None, float | None, list[FindingSource]]:
    """The study's dose: several mentions of one amount merge (the one with a frequency wins);
    different amounts in mg (arms with different doses) leave mg/day not stated."""
    if not hits:
        return None, None, []
    merged: list[_DoseHit] = []
    for hit in hits:
        same = next((m for m in merged if _same_dose(m.dose, hit.dose)), None)
        if same is None:
            merged.append(hit)
        elif _richer(hit.dose, same.dose):
            merged[merged.index(same)] = hit
    weights = [m for m in merged if m.dose.unit in ("mg", "g")]
    first = weights[0] if weights else merged[0]
    sources = [
        FindingSource(
            "dose", m.dose.text, m.sentence.field, snippet(m.sentence.text, m.start, m.end)
        )
        for m in merged
    ]
    distinct = {(m.dose.amount or 0) * (1000 if m.dose.unit == "g" else 1) for m in weights}
    several = len(distinct) > 1 or any(m.dose.amount is None for m in weights)
    dose = first.dose
    if len(merged) > 1:
        others = [m.dose.text for m in merged if m is not first]
        dose = Dose(
            dose.amount,
            dose.unit,
            dose.per,
            dose.times_per_day,
            dose.basis,
            dose.salt,
            "; ".join([dose.text, *others]),
            dose.compound,
        )
    mg_per_day = None if several else first.dose.mg_per_day
    return dose, mg_per_day, sources


def _elemental(dose: Dose) -> tuple[float | None, float | None, str | None]:
    """(elemental mg/day, factor, derivation) when the basis is known; else Nones."""
    if dose.amount is None or dose.per is None:
        return None, None, None
    times = dose.times_per_day or 1
    per_day = dose.amount * (times if dose.per == "dose" else 1)
    if dose.unit == "mmol":
        factor = MAGNESIUM_MOLAR_MASS
        return _clean_number(per_day * factor), factor, f"1 mmol Mg = {factor} mg"
    if dose.unit == "mEq":
        factor = round(MG_PER_MEQ, 4)
        return _clean_number(per_day * factor), factor, f"1 mEq Mg = {factor} mg (divalent)"
    if dose.unit not in ("mg", "g"):
        return None, None, None
    mg = per_day * (1000 if dose.unit == "g" else 1)
    if dose.elemental_stated is not None and mg:
        amount_mg = dose.amount * (1000 if dose.unit == "g" else 1)
        factor = round(dose.elemental_stated / amount_mg, 4)
        elemental = _clean_number(dose.elemental_stated * mg / amount_mg)
        return (
            elemental,
            factor,
            f"stated: {dose.elemental_stated:g} mg elemental per {amount_mg:g} mg",
        )
    if dose.basis == "elemental":
        return _clean_number(mg), 1.0, "stated as elemental magnesium"
    if dose.basis == "salt" and dose.compound in ELEMENTAL_FRACTIONS:
        compound = ELEMENTAL_FRACTIONS[dose.compound]
        return round(mg * compound.fraction, 1), compound.fraction, compound.derivation
    return None, None, None


# --- duration and time point ------------------------------------------------------------------

_DUR_UNIT = r"(?P<unit>days?|weeks?|wk|wks|months?|mo|years?|yrs?|(?:menstrual )?cycles?)"
# (rule, weight, opens with the number: then tried only where a number starts)
_DURATION_PATTERNS: tuple[tuple[re.Pattern[str], int, bool], ...] = (
    # "12-week treatment", "a 3-month trial", "two 12-week periods", "224-day study period"
    (
        re.compile(
            rf"(?<![\w.])(?P<num>{NUMBER})[- ]{_DUR_UNIT[:-1]})[- ](?:(?:double-blind|open-label|"
            r"randomi[sz]ed|placebo-controlled|active|intervention|supplementation)\s+)*"
            r"(?:treatment|supplementation|intervention|trial|study|course|therapy|period|phase|"
            r"regimen|prophylaxis|programme|program|administration)"
        ),
        3,
        True,
    ),
    # "for 12 weeks", "over 4 months", "during 8 weeks"
    (
        re.compile(
            rf"\b(?:for|over|during|lasting|throughout)\s+(?:a\s+(?:period|total)\s+of\s+|"
            rf"another\s+|up to\s+|the (?:next|following)\s+)?(?P<num>{NUMBER})\s+{_DUR_UNIT}\b"
        ),
        2,
        False,
    ),
    # "3 months of intervention", "eleven intervention days"
    (
        re.compile(
            rf"(?<![\w.])(?P<num>{NUMBER})\s+{_DUR_UNIT}\s+of\s+(?:\w+\s+)?(?:treatment|"
            r"supplementation|intervention|therapy|prophylaxis|magnesium|administration)"
        ),
        3,
        True,
    ),
    (
        re.compile(
            rf"(?<![\w.])(?P<num>{NUMBER})\s+(?:intervention|treatment|supplementation)\s+"
            rf"{_DUR_UNIT}"
        ),
        3,
        True,
    ),
    # "after 12 weeks": the evaluation that ends a course (weight 1: needs treatment words)
    (
        re.compile(rf"\bafter\s+(?P<num>{NUMBER})\s+(?P<unit>weeks?|months?)\b(?!\s+of follow)"),
        1,
        False,
    ),
)
_DURATION_EXCLUDE_BEFORE = re.compile(
    r"\b(?:baseline|run-in|run in|washout|wash-out|screening|follow-?up|followed up|observation|"
    r"history|preceding|previous|prior|last|past|within|before|aged?|back|migrainosus|"
    r"headaches?|pain|symptoms?|attacks?|illness|disease|complaints?|"
    r"at least|more than|longer than|mean|median|up to \d+ (?:times|doses)|in the|period of)"
    r"[ -]*(?:[\w-]+ +)?$"
)
_DURATION_EXCLUDE_AFTER = re.compile(
    r"\W*(?:baseline|run-in|washout|wash-out|screening|follow-?up|observation|history|"
    r"(?:before|after|post)\W+(?:the\s+)?(?:start|onset|baseline|randomi|treatment|injection|"
    r"infusion|dose|enrol|inoculation|entry|the (?:first|last)|each|every)|old|of age|"
    r"of (?:gestation|follow)|gestation|postpartum|later|earlier|ago|"
    r"\(\s*(?:from\s+)?(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+)?"
    r"(?:19|20)\d\d\b)"
)
_TREATMENT_WORDS = re.compile(
    r"\b(?:took|take|taking|received|receive|given|treated|treatment|supplement\w*|"
    r"administ\w+|randomi[sz]ed|assigned|allocated|daily|twice|capsules?|tablets?|intervention|"
    r"therapy|placebo|magnesium|dose|trial|study|infusion|course|regimen)\b"
)


def duration_in_weeks(number: float, unit: str) -> float | None:
    """Weeks for a stated duration: days / 7 (one decimal), months x 4 up to 6 months and
    x 52/12 from 7 months (the labels' "3 months = 12 weeks", "1 year = 52 weeks"), years x 52.
    Menstrual cycles have no fixed length: None."""
    unit = unit.lower()
    if unit.startswith("d"):
        return round(number / 7, 1)
    if unit.startswith("w"):
        return _clean_number(number)
    if unit.startswith("mo"):
        return _clean_number(number * 4) if number <= 6 else float(round(number * 52 / 12))
    if unit.startswith("y"):
        return _clean_number(number * 52)
    return None


_OBSERVED_TREATMENT = re.compile(
    r"\b(?:took|received|were treated|was treated|were given|was given|supplemented|"
    r"supplementation|injections?|infusions?)\b"
)


def _duration(
    sentences: list[Sentence], *, observational: bool = False
) -> tuple[float | None, FindingSource | None]:
    best: tuple[int, int, int, float, FindingSource] | None = None
    top_values: dict[int, set[float]] = {}
    for index, sentence in enumerate(sentences):
        lower = sentence.lower
        if sentence.category == "BACKGROUND" or not any(
            word in lower for word in ("day", "week", "wk", "month", "year", "mo ", "cycle")
        ):
            continue
        starts = _number_positions(lower)
        for regex, weight, anchored in _DURATION_PATTERNS:
            if anchored:
                found = [m for m in (regex.match(lower, at) for at in starts) if m is not None]
            else:
                found = list(regex.finditer(lower))
            for match in found:
                before = lower[max(0, match.start() - 30) : match.start()]
                if _DURATION_EXCLUDE_BEFORE.search(before):
                    continue
                if _DURATION_EXCLUDE_AFTER.match(lower, match.end()):
                    continue
                if _is_cited(sentence, match.start(), match.end()):
                    continue
                if _is_history(_clause_head(lower, match.start())):
                    continue  # "she had been inhaling ... for two months": history
                number = parse_number(match.group("num"))
                if number is None or number <= 0:
                    continue
                weeks = duration_in_weeks(number, match.group("unit"))
                if weeks is None:
                    continue
                if observational and not _OBSERVED_TREATMENT.search(lower):
                    continue  # follow-up of a cohort is not a treatment duration
                score = weight + (1 if _TREATMENT_WORDS.search(lower) else 0)
                if "follow" in lower[max(0, match.start() - 20) : match.start()]:
                    score -= 2
                source = FindingSource(
                    "duration_weeks",
                    _format_number(weeks),
                    sentence.field,
                    snippet(sentence.text, match.start(), match.end()),
                )
                candidate = (score, -index, -match.start(), weeks, source)
                top_values.setdefault(score, set()).add(weeks)
                if best is None or candidate[:3] > best[:3]:
                    best = candidate
    if best is None or best[0] < 2:
        return None, None
    if len(top_values[best[0]]) > 1 and best[0] >= 3:
        # Two treatment durations stated as strongly ("for 5 days" in one trial, "for 7 days" in
        # the other): which one is the study's is not stated.
        return None, None
    return best[3], best[4]


_TIMEPOINT = re.compile(
    rf"\b(?:at|after|within|by)\s+(?P<num>{NUMBER})\s*(?P<unit>minutes?|mins?|min|hours?|hrs?|h)\b"
    rf"|(?<![\w.])(?P<num2>{NUMBER})[- ](?P<unit2>minute|hour|min|h)\b"
    r"(?=\s+(?:pain|headache|response|relief|sustained|improvement|outcome|end ?point|"
    r"responder|change|reduction|score))"
    rf"|(?<![\w.])(?P<num3>{NUMBER})\s*(?P<unit3>minutes?|mins?|hours?|h)\s+(?:after|post)"
    r"[- ](?:the\s+)?(?:dose|dosing|treatment|infusion|injection|administration|"
    r"randomi[sz]ation|study drug)"
)
_TIME_UNIT_GATE = re.compile(r"\d\s*(?:h|min)|hour|minute")
_ACUTE_CUES = re.compile(
    r"\b(?:acute|attacks?|emergency|abortive|pain[- ]free(?:dom)?|pain relief|headache relief|"
    r"rescue|infusion|intravenous|injection)\b"
)
_NOT_TIMEPOINT_AFTER = re.compile(r"\W*(?:of (?:onset|the (?:start|onset))|from onset)")


def _unit_word(unit: str, number: float) -> str:
    unit = unit.lower()
    word = "minute" if unit.startswith("m") else "hour"
    return f"{_format_number(number)} {word}{'' if number == 1 else 's'}"


def _timepoint(sentences: list[Sentence]) -> tuple[str | None, FindingSource | None]:
    """Time of the primary outcome of an acute treatment, when stated ("2 hours")."""
    whole = " ".join(s.lower for s in sentences)
    if not _ACUTE_CUES.search(whole):
        return None, None
    best: tuple[int, int, int, str, FindingSource] | None = None
    for index, sentence in enumerate(sentences):
        lower = sentence.lower
        if sentence.category == "BACKGROUND" or _TIME_UNIT_GATE.search(lower) is None:
            continue
        for match in _TIMEPOINT.finditer(lower):
            if _NOT_TIMEPOINT_AFTER.match(lower, match.end()):
                continue
            raw = match.group("num") or match.group("num2") or match.group("num3")
            unit = match.group("unit") or match.group("unit2") or match.group("unit3")
            number = parse_number(raw)
            if number is None or (unit.startswith("h") and number > 72):
                continue
            score = 1
            if re.search(r"\b(?:primary|main|principal)\b", lower):
                score += 3
            if re.search(r"\b(?:pain|headache|relief|free|response|improvement)\b", lower):
                score += 1
            if "secondary" in lower[max(0, match.start() - 60) : match.start()]:
                score -= 2
            value = _unit_word(unit, number)
            source = FindingSource(
                "outcome_timepoint",
                value,
                sentence.field,
                snippet(sentence.text, match.start(), match.end()),
            )
            candidate = (score, -index, -match.start(), value, source)
            if best is None or candidate[:3] > best[:3]:
                best = candidate
    if best is None or best[0] < 2:
        return None, None
    return best[3], best[4]


def _format_number(value: float) -> str:
    return f"{value:g}"


# --- comparator -------------------------------------------------------------------------------

_PLACEBO = re.compile(
    r"\bplacebo[- ]controlled\b|\b(?:sham|dummy)(?:[- ]\w+)?|"
    r"\b(?:or|versus|vs\.?|against|to|with|than|and|matching|matched|identical|look-alike|"
    r"similar-looking|saline|receive|received|took|given)\s+(?:an?\s+|the\s+)?(?:[\w-]+\s+){0,2}?"
    r"placebo\b|\bplacebo\s+(?:group|arm|tablets?|capsules?|pills?|infusion|injection|"
    r"treatment|condition|phase|period|was|were|or|in|\()"
)
_NOT_PLACEBO_AFTER = re.compile(r"\s*(?:effects?|responses?|responders)\b")
_USUAL_CARE = re.compile(
    r"\b(?:or|versus|vs\.?|compared (?:with|to)|than|to|continued|continuing|received|receiving|"
    r"with|only) (?:the\s+|their\s+)?(?P<care>(?:usual|standard|routine|conventional) (?:care|"
    r"treatment|therapy|practice|management))\b(?! plus| and)|"
    r"\b(?:usual|standard|routine) care (?:group|arm|control)|\bwait(?:ing)?[- ]?list\b|"
    r"\bhistorical controls?\b|\bpre-\w+ period\b|"
    r"\bbefore the (?:algorithm|intervention|programme|program) was introduced\b|"
    r"\bprinted (?:copy|guideline)\b|\bbefore and after (?:the )?(?:implementation|"
    r"introduction)\b|\bcontrol (?:\(n ?= ?\d+\) )?(?:and \w+ (?:\(n ?= ?\d+\) )?)?periods?\b"
)
_USUAL_WORDS = (
    *("usual", "standard", "routine", "conventional", "wait", "historical", "pre-"),
    *("before the", "printed", "before and after", "period"),
)
_NONE_WORDS = ("no ", "none", "nothing", "untreated", "without")
_NO_TREATMENT = re.compile(
    r"\b(?:received|receiving|given|got|took|chose|or|to) (?:none|nothing|no (?:treatment|"
    r"magnesium|supplements?|intervention))\b|\bcontrol group (?:without|not receiving|"
    r"with no|that received no)\b|"
    r"\bno[- ]treatment (?:control|group|arm)\b|\buntreated (?:control|group)\b|"
    r"\bcontrol group without\b"
)
_UNCONTROLLED = re.compile(
    r"\b(?:open[- ]label|uncontrolled|single[- ]arm|single[- ]group|one[- ]group|before[- ]and[- ]"
    r"after|pre-?post|non-?comparative|open (?:pilot )?study|consecutive|quasi-experimental|"
    r"treated|received|took|were given|was given|injected|infusions?|gave|given|administered|"
    r"injections?)\b"
)
_COMPARISON = re.compile(
    r"\b(?:versus|vs\.?|compared (?:with|to)|compar(?:ed|ing)\s+(?:[\w-]+\s+){1,4}?(?:with|to)|"
    r"against|or to|or with|or)\s+"
    r"(?P<drug>(?:(?:\d+(?:\.\d+)?\s*(?:mg|g|µg|mcg|units?)\s+)?(?:(?:oral|intravenous|iv|"
    r"subcutaneous|intramuscular|nebuli[sz]ed|the)\s+)*[a-z][\w-]*(?:\s+(?!and\b|or\b|in\b|for\b|"
    r"at\b|with\b|on\b|to\b|was\b|were\b|group\b|arm\b|alone\b|daily\b|twice\b|each\b|"
    r"per\b|after\b|before\b|over\b|during\b|as\b|among\b|who\b|but\b|providing\b|"
    r"containing\b|given\b|taken\b|plus\b|delivering\b|supplying\b)[a-z][\w-]*){0,2}))"
)
_COMPARISON_CONTEXT = re.compile(
    r"\brandomi[sz]|\ballocated\b|\bassigned\b|\bcompar\w+|\bversus\b|\bvs\b|\bagainst\b|"
    r"\btrial\b|\bgroups?\b|\barms?\b"
)
_NOT_A_DRUG = re.compile(
    r"^(?:the\s+)?(?:placebo|sham|baseline|controls?|control group|healthy|each other|"
    r"before|pre|post|usual|standard|routine|conventional|no|none|nothing|not|non|both|"
    r"either|other|another|those|these|them|patients?|participants?|subjects|people|men|"
    r"women|children|adults|volunteers|groups?|arms?|without|more|less|higher|lower|greater|"
    r"fewer|better|worse|similar|same|previous|earlier|prior|absence|presence|lack|"
    r"normal|nonusers|non-users|users|severe|mild|moderate|only|all|any|in|its|their|"
    r"\d|a |an |one|two|three|four|five|six|week|month|year|day|hour|minute|male|female|"
    r"intention|per|wait|waiting|usual|run-in|the run-in|pre-?treatment|the previous|"
    r"the first|the second|the last|the end|the start|"
    r"(?:the\s+)?(?:frequency|severity|intensity|scores?|levels?|values|rates?|numbers?|"
    r"duration|concentrations?|outcomes?|results?|measurements?|findings)\b)"
)


# "against" names a comparator only after a comparison verb ("tested against placebo"); otherwise
# it names what a drug is for ("prophylaxis against arrhythmia").
_TESTED_AGAINST = re.compile(
    r"\b(?:compar\w*|tested|test|trial|randomi[sz]\w*|evaluat\w*|assess\w*|pitted|"
    r"benchmark\w*|versus)\b"
)


_SALT_NAMES = re.compile(rf"\bmagnesium\s+(?P<salt>{_SALT_WORD})|\b(?P<formula>mgo|mgso4|mgcl2)\b")
_SALT_COMPARED = re.compile(
    r"\bcompar\w*|\bversus\b|\bvs\b|\bthan\b|\bwhereas\b|\beach (?:\w+ )?(?:preparation|"
    r"salt|form|compound|supplement|product)s?\b|\bbioavailab\w*|\babsorb\w*|\bcrossover\b"
)


_SALTS_COMBINED = re.compile(r"\b(?:combin\w+|plus|together with|mixture|blend|containing)\b")


def _salt_comparison(sentences: list[Sentence], forms: Iterable[str]) -> FindingSource | None:
    """A sentence that names two or more magnesium salts the article gives and compares them
    (a comparison word in the same sentence), as provenance; else None."""
    salts = {form for form in forms if form not in ("unspecified", "dietary")}
    if len(salts) < 2:
        return None
    for sentence in sentences:
        lower = sentence.lower
        if sentence.category == "BACKGROUND" or "magnes" not in lower and "mg" not in lower:
            continue
        named = set()
        for match in _SALT_NAMES.finditer(lower):
            word = match.group("salt") or match.group("formula")
            base = re.sub(r"\s+\w+hydrate$|\s+anhydrous$", "", word)
            form = _FORMULA_SALTS.get(word) or salt_form(base)
            if form in salts:
                named.add(form)
        if len(named) >= 2 and not _SALTS_COMBINED.search(lower):
            compared = _SALT_COMPARED.search(lower)
            if compared and not is_cited(sentence, compared.start(), compared.end()):
                return FindingSource(
                    "comparator",
                    "another_form",
                    sentence.field,
                    snippet(sentence.text, compared.start(), compared.end()),
                )
    return None


def _care_detail(matched: str) -> str:
    """A readable comparator_detail for usual-care wordings that name a period or a group."""
    if matched.startswith("before and after"):
        return "before " + matched[len("before and after ") :]
    if matched.startswith("control"):
        return "control period"
    return matched


def _comparator(
    sentences: list[Sentence], scope: str, study_type: str, magnesium_given: bool
) -> tuple[str | None, str | None, FindingSource | None]:
    placebo: tuple[str, FindingSource] | None = None
    usual: tuple[str, FindingSource] | None = None
    nothing: tuple[str, FindingSource] | None = None
    active: tuple[str, FindingSource] | None = None
    other_form: tuple[str, FindingSource] | None = None
    # The abstract's wording first; the title only fills what the abstract leaves out.
    ordered = [s for s in sentences if s.field != "title"] + [
        s for s in sentences if s.field == "title"
    ]
    for sentence in ordered:
        lower = sentence.lower
        if sentence.category == "BACKGROUND":
            continue
        if placebo is None and ("placebo" in lower or "sham" in lower or "dummy" in lower):
            for match in _PLACEBO.finditer(lower):
                if _NOT_PLACEBO_AFTER.match(lower, match.end()):
                    continue
                if sentence.field != "title" and is_cited(sentence, match.start(), match.end()):
                    continue
                word = re.search(r"(?:sham|dummy)(?:[- ]\w+)?|placebo", match.group(0))
                detail = word.group(0) if word else "placebo"
                if detail.startswith("sham") or detail.startswith("dummy"):
                    detail = re.sub(r"[- ](?:controlled|control|group|arm)$", "", detail)
                placebo = (
                    detail,
                    FindingSource(
                        "comparator",
                        "placebo",
                        sentence.field,
                        snippet(sentence.text, match.start(), match.end()),
                    ),
                )
                break
        if usual is None and _has_any(lower, _USUAL_WORDS):
            care = _USUAL_CARE.search(lower)
            if care and not is_cited(sentence, care.start(), care.end()):
                usual = (
                    care.group("care") or _care_detail(care.group(0)),
                    FindingSource(
                        "comparator",
                        "usual_care",
                        sentence.field,
                        snippet(sentence.text, care.start(), care.end()),
                    ),
                )
        if nothing is None and _has_any(lower, _NONE_WORDS):
            untreated = _NO_TREATMENT.search(lower)
            if untreated:
                nothing = (
                    untreated.group(0),
                    FindingSource(
                        "comparator",
                        "none",
                        sentence.field,
                        snippet(sentence.text, untreated.start(), untreated.end()),
                    ),
                )
        if (
            active is None
            and scope in ("study", "protocol")
            and study_type not in OBSERVATIONAL_TYPES
            and _COMPARISON_CONTEXT.search(lower)
        ):
            for match in _COMPARISON.finditer(lower):
                drug = match.group("drug").strip()
                drug = re.sub(r"^(?:the|oral|intravenous|iv)\s+", "", drug)
                drug = re.sub(r"^\d+(?:\.\d+)?\s*(?:mg|g|µg|mcg|units?)\s+", "", drug)
                drug = re.sub(r"^(?:oral|intravenous|iv|subcutaneous|intramuscular)\s+", "", drug)
                if not drug or _NOT_A_DRUG.match(drug):
                    continue
                if match.group(0).startswith("against") and not _TESTED_AGAINST.search(
                    lower, 0, match.start()
                ):
                    continue  # "given with diphenhydramine against akathisia": a purpose
                if match.group(0).startswith("or") and (
                    sentence.field == "title"
                    or not re.search(
                        r"\b(?:randomi[sz]\w*|allocated|assigned|received|receive|given|took)\b",
                        lower[max(0, match.start() - 250) : match.start()],
                    )
                ):
                    continue
                if is_cited(sentence, match.start(), match.end()):
                    continue
                source_text = snippet(sentence.text, match.start(), match.end())
                if "magnes" in drug or re.match(r"mg(?:o|so4|cl2)\b", drug):
                    # The first half: before the connector, or inside "compared X with".
                    before = lower[max(0, match.start() - 60) : match.start("drug")]
                    if "magnes" in before or re.search(r"\bmg(?:o|so4|cl2)\b", before):
                        if other_form is None:
                            other_form = (
                                drug,
                                FindingSource(
                                    "comparator", "another_form", sentence.field, source_text
                                ),
                            )
                        continue
                    # Magnesium is the comparison's second half: the comparator is the first.
                    first = re.search(r"([a-z][\w-]+)\s*(?:\([^)]*\)\s*)?$", before.rstrip())
                    if not first or _NOT_A_DRUG.match(first.group(1)):
                        continue
                    drug = first.group(1)
                if active is None:
                    active = (
                        drug,
                        FindingSource("comparator", "active", sentence.field, source_text),
                    )
                break
    if scope == "review":
        if placebo is not None:
            return "placebo", placebo[0], placebo[1]
        return None, None, None
    if placebo is not None:
        return "placebo", placebo[0], placebo[1]
    if other_form is not None and magnesium_given:
        return "another_form", other_form[0], other_form[1]
    if active is not None:
        return "active", active[0], active[1]
    if usual is not None:
        return "usual_care", usual[0], usual[1]
    if nothing is not None:
        return "none", None, nothing[1]
    uncontrolled_types = {"single_arm_trial", "case_series", "case_report", "cohort"}
    if study_type in uncontrolled_types and scope == "study":
        for sentence in sentences:
            if sentence.category == "BACKGROUND":
                continue
            cue = _UNCONTROLLED.search(sentence.lower)
            if cue and (study_type != "case_report" or magnesium_given):
                return (
                    "none",
                    None,
                    FindingSource(
                        "comparator",
                        "none",
                        sentence.field,
                        snippet(sentence.text, cue.start(), cue.end()),
                    ),
                )
    return None, None, None


# --- reported result --------------------------------------------------------------------------

_NULL_CUE = re.compile(
    r"\bno (?:statistically |statistical |clinically )?(?:(?:significant|"
    r"meaningful|relevant|measurable|"
    r"detectable|clear|additional|further|real|overall|preventive|conclusive|"
    r"(?!adverse|side|serious|major|new|other|such|one|patients?)[a-z-]+) ){0,2}"
    r"(?:difference|differences|effect|effects|change|changes|improvement|reduction|benefit|"
    r"advantage|association|associations|relationship|correlation|evidence|impact|influence|"
    r"link)\b|\bdid not (?:seem|appear) to (?:differ|change|improve|reduce|affect)\b|"
    r"\bneither (?:\w+ )?(?:difference|change|comparison)s? (?:was|were|reached) "
    r"(?:statistically )?significant|"
    r"\bnot (?:statistically |significantly )?(?:significant(?:ly)?|different|differ|"
    r"superior|better|effective|efficacious|associated|related|correlated|reduce|improve|"
    r"change|lower|help)\b|\bdid not (?:significantly )?(?:differ|reach|reduce|improve|prevent|"
    r"lower|change|show|separate|lessen|alter|decrease|affect|help|shorten|relieve|influence|"
    r"vary|fall|benefit|demonstrate)\b|\bdid not \w+ more\b|\bno better than\b|"
    r"\bno more effective\b|\bnon-?significant(?:ly)?\b|\bwas not effective\b|\bineffective\b|"
    r"\b(?:were|was|remained) (?:similar|comparable|unchanged|unaffected|unrelated|equivalent)\b|"
    r"\bsimilar (?:in|between|across) (?:the )?(?:two |three |both |all )?(?:groups|arms)\b|"
    r"\bfail(?:ed|s)? to\b|\bthe same (?:during|in|with|for)\b|\bneither\b[^.]{0,80}\bnor\b|"
    r"\bneither (?:\w+ ){0,3}?(?:separated|differed|reduced|improved|changed|affected|altered|"
    r"showed|prevented|lowered)\b|"
    r"\bequally (?:effective|well)\b|\bunrelated to\b|\bno (?:preventive|protective) effect\b|"
    r"\b(?:none|neither) of (?:the )?\w+[^.;]{0,40}\bsignificant|\bnot (?:clinically )?"
    r"(?:worthwhile|meaningful|relevant|useful|helpful)\b|\bno (?:\w+ )?advantage\b|"
    r"\bnot (?:\w+ )?(?:separate|differ)\w*\b|\bdid not help\b|"
    r"\b(?:comparable|equivalent|similar) (?:to|with)\b|"
    r"\b(?:nearly |almost |virtually )?identical\b|\bin neither (?:trial|study|group|arm)\b|"
    r"\b(?:a |non-?significant )?trend (?:toward|towards|for)\b|\bno support\b|"
    r"\bleft\b[^.;]{0,60}\bunchanged\b|\b(?:does|do) not (?:show|support|"
    r"demonstrate|reduce|improve|prevent|help|lower|change)\b"
)
_NEG_CUE = re.compile(
    r"\b(?:better|more effective|superior|outperformed)\b[^.;]{0,30}?\b(?:than|to)\s+"
    r"(?:with\s+)?(?:the\s+)?(?:oral\s+|intravenous\s+|iv\s+)?(?:magnesium|mgso4)\b|"
    r"\boutperformed (?:the\s+)?(?:magnesium|mgso4)\b|\bplacebo (?:was|were|proved|did) "
    r"(?:significantly )?(?:more effective|superior|better)\b|\bfavou?r(?:ed|ing) (?:the )?"
    r"placebo\b|\b(?:worse|(?<!non-)(?<!non)inferior|less effective)\b|"
    r"\bharm(?:ful|ed)?\b|\bdetrimental\b|"
    r"\bdeleterious\b|\bfatal\b|\bpoisoning\b|\btoxicity\b"
)
_POS_CUE = re.compile(
    r"\bsignificant(?:ly)? (?:\w+ ){0,3}?(?:reduc\w*|lower\w*|fewer|decreas\w*|improv\w*|better|"
    r"greater|shorter|increas\w*|higher|more|less|faster|benefit\w*|relief|superior|drop|fall|"
    r"declin\w*|associated|inverse\w*)|\b(?:effective|efficacious|beneficial|useful|helpful|"
    r"promising|superior|worthwhile|encouraging|valuable|successful(?:ly)?|meaningful|"
    r"reasonable|favou?rable)\b|\b(?:is|are|be|was|were) (?:\w+ )?recommended\b|"
    r"\brecommend(?:s|ed)? (?:the use|its use|their use|oral|intravenous|magnesium|it\b|"
    r"them\b)|\b(?:is|as) (?:a )?"
    r"first[- ]line\b|\b(?:treatment|therapeutic|viable|safe|useful|"
    r"preventive|valuable|good|effective|alternative|an|additional) option\b|\b(?:should|can|"
    r"could|may) be (?:considered|used|recommended|offered|tried|added)\b|"
    r"\bbenefit\w*\b|\bbetter than\b|\bmore effective\b|\bassociat(?:ed|ion) (?:with|between)\b|"
    r"\b(?:reduc\w*|lower\w*|decreas\w*|improv\w*|increas\w*|rais\w*|fell|dropped)\b"
    r"(?:[^.;]{0,60}?)\bsignificant(?:ly)?\b(?! (?:in|among|only|for) )|"
    r"\b(?<!no )(?<!not )(?<!non-)significant (?:\w+ ){0,2}?differences? (?:in|between|favou?r)|"
    r"\b(?<!no )(?<!not )(?<!non-)(?:a |with a )significant (?:\w+ ){0,2}?difference\b|"
    r"\bshould be (?:the )?(?:first|preferred|standard|drug of choice|treatment of choice)\b|"
    r"\b(?:strongly )?support(?:s|ed)? (?:the use of )?(?:magnesium|it\b|this\b|these\b)|"
    r"\bworks\b|"
    r"\binverse(?:ly)?\b|\brisk factor\b|"
    r"\b(?:was|were|is|are|as|an?) (?:\w+ ){0,3}?risk factors\b|\bpredict\w*|"
    r"\b(?:higher|increased|raised) "
    r"(?:risk|odds|incidence|prevalence|rates?)\b|\bmore (?:frequent|common|likely|often)\b|"
    r"\blower (?:in|among|than)\b|\bp\s*[<≤]\s*0?\.0[0-5]\d*|\bp\s*=\s*0?\.0[0-4]\d*|"
    r"\bp\s*<\s*0?\.001\b|\bsupport(?:s|ed)? (?:the|a|its|their)\b|\bworked\b|\bresponded\b|"
    r"\bassociated\b|\bcorrelated\b|\bsupport(?:s|ed|ing)? for\b|\bin support of\b|"
    r"\baccompanied by\b|\b(?:linked|tied) (?:to|with)\b|\bimportant (?:role|factor|part)\b|"
    r"\breasons? to (?:consider|use|try)\b|\bconsider(?:ed|ing)? (?:it|its use|them|magnesium)\b|"
    r"\b(?:clinical |good |favou?rable |positive )?response (?:occurred|was (?:seen|observed|"
    r"achieved|noted))\b|\b(?:is|are|was|were) (?:\w+ )?indicated\b|\bprobably effective\b|"
    r"\b(?:level|grade) [ab]\b|\brecommended (?:for|as|in)\b|"
    r"\b(?:can|may|might|could|does|do) (?:cause|induce|lead to|contribute to)\b|"
    r"\b(?:suggest|show|indicat|demonstrat|confirm)\w*\s+that\s+(?:[\w-]+\s+){0,4}?"
    r"(?:can|may|could|might|does|do|did|will)?\s*(?:relieve|reduce|prevent|improve|lower|"
    r"decrease|alleviate|help|benefit)\w*"
)
# Descriptive change words: evidence of benefit in an uncontrolled study, but in a controlled
# one only with a comparison in the same clause ("fell more than with placebo").
_WEAK_POS_CUE = re.compile(
    r"\b(?:reduc(?:e|ed|es|tion|ing)|lower(?:ed|s)?|decreas(?:e|ed|es|ing)|improv(?:e|ed|es|"
    r"ement|ing)|reliev(?:e|ed|es)|prevent(?:ed|s)?|shorten(?:ed|s)?|eliminated|cut|cuts|fell|"
    r"dropped|falls|drops|alleviat\w+|lessen(?:ed|s)?|eased?|reversed|relief|halved|fewer|cleared|"
    r"resolved|"
    r"recovered|shorter|faster|disappeared|stopped|doubled|tripled|halved|normali[sz]ed)\b"
)
_COMPARATIVE = re.compile(
    r"\bthan\b|\bversus\b|\bvs\b|\bcompared\b|\brelative to\b|\bagainst\b|\bover placebo\b|"
    r"\bpool(?:ed|ing)\b|\boverall effects?\b"
)
_CONTRAST = re.compile(
    r"[;]|,?\s\b(?:but(?!\s+(?:statistically\s+)?significant)|although|though|whereas|while|"
    r"however|yet|except)\b|^(?:although|though|while)\b|,(?=\s+with (?:no|little)\b)"
)
_CONTRAST_WORDS = (
    *(";", "but", "although", "though", "whereas", "while", "however", "yet", "except"),
    ", with no",
    ", with little",
)
_SKIP_CLAUSE = re.compile(
    r"\b(?:baseline (?:characteristics|features|values|demographics)|(?:similar|comparable|"
    r"balanced|alike) at (?:baseline|entry)|at entry|demographic|characteristics|age and sex|"
    r"adverse (?:events?|effects?|reactions?|drug)|side[- ]effects?|withdr\w+|dropouts?|"
    r"compliance|adherence)\b|\b(?:were|was) "
    r"(?:randomly )?(?:assigned|allocated|randomi[sz]ed|enrolled|excluded|recruited|screened)\b|"
    r"\bexcluded\b"
)
# A call for more research ends what a clause reports: "selenium lowers these antibodies and
# call for studies of ..." keeps "selenium lowers these antibodies".
_RESEARCH_CALL = re.compile(
    r"(?:\b(?:and|but|while)\s+)?\b(?:(?:is|are|was|were) )?(?:needed|warranted|required|"
    r"further (?:research|studies|trials|work)|future|larger (?:studies|trials)|"
    r"call(?:s|ed|ing)? for|to confirm|confirmation|confirmatory)\b"
)
_RESEARCH_WORDS = (
    "need",
    "warrant",
    "require",
    "further",
    "future",
    "larger",
    "should",
    "call",
    "confirm",
)
_BOTH_GROUPS = re.compile(
    r"\b(?:both|all three|all four|all) (?:groups|arms|binders|treatments|conditions)\b|"
    r"\bin both\b|\bin either\b|\bboth the\b|\bwhatever the sequence\b|\bover time\b|"
    r"\beveryone improv|\bfrom baseline in both\b"
)
_HARMLESS = re.compile(
    r"\b(?:without|with no|with few|and no|no)\s+(?:\w+\s+){0,2}(?:adverse (?:events?|effects?)|"
    r"side[- ]effects?)|\bno effect modification\b|\bwell tolerated\b"
)
_NULL_QUALIFIER = re.compile(
    r"\W*(?:none|neither|no\b|not\b|this|these|it\b|the differences?|differences?|"
    r"the (?:effect|change|reduction|improvement)s?\b)"
)
_AIM = _Rule(
    r"\b(?:whether|aim\w*|objective|purpose|sought to|set out to|asked|hypothes\w+|"
    r"was designed|were designed|to (?:assess|evaluate|examine|investigate|determine|test|"
    r"compare|measure|explore|establish|gauge|judge|define))\b|"
    r"\bhow (?:well|effective(?:ly)?|safe|much|often)\b",
    *("whether", "aim", "objective", "purpose", "sought", "set out", "asked", "hypothes"),
    *("designed", "to ", "how "),
)
_CONCLUSION = _Rule(
    r"\b(?:conclu\w+|(?:the )?authors? (?:conclude|judge|consider|regard|argue|interpret|found|"
    r"find|report|suggest|propose|see|believe|note|say|state|urge|caution|warn)\w*|"
    r"they (?:conclude|judge|"
    r"consider|regard|argue|found|find|suggest|propose|see|believe|grade|rate)\w*|"
    r"we (?:found|show|demonstrate|"
    r"suggest|report)|in summary|"
    r"overall,|these (?:results|findings|data)|this (?:study|trial) (?:shows|suggests|indicates|"
    r"demonstrates|found)|our (?:results|findings|data)|taken together)\b",
    *("conclu", "author", "we ", "in summary", "overall,", "these", "this ", "our ", "taken"),
    "they ",
)
_PRIMARY = _Rule(
    r"\b(?:primary|main|principal) (?:[a-z-]+ ){0,2}?(?:outcome|end ?-?point|efficacy|measure|"
    r"variable|analysis|objective|result)s?\b|\bprimary(?:,|\))",
    *("primary", "main", "principal"),
)
_SECONDARY = _Rule(
    r"\bsecondary\b|\bsub(?:groups?|types?)\b|\binteraction\b",
    *("secondary", "subgroup", "subtype", "interaction"),
)
_BACKGROUND_SENTENCE = _Rule(
    r"\b(?:earlier (?:studies|trials|work|reports|research|findings|data|reviews)|"
    r"previous(?:ly)?|prior|have been|has been|is known|are known|literature|"
    r"other studies|is thought|are thought|is believed|has shown|have shown|is common|"
    r"is often|are often)\b",
    *("earlier", "previous", "prior", "been", "known", "literature", "other studies"),
    *("thought", "believed", "shown", "common", "often"),
)
_TITLE_RESULT = re.compile(
    r"^(?:no|failure|lack) of\b|\bno (?:effect|benefit|association)\b|\bdoes not\b|"
    r"\bdo not\b|\bineffective\b|\b(?:is|are) (?:an? )?(?:effective|safe and effective)\b|"
    r"\bsuperiority\b|\b(?:improves|reduces|prevents|relieves|alleviates|lowers|decreases)\b|"
    r"\b(?:can|may|could) (?:decrease|reduce|improve|prevent|relieve|alleviate|lower)\b"
)

_POLARITY_TO_RESULT = {
    "pos": "favours_magnesium",
    "null": "no_difference",
    "neg": "favours_comparator",
    "mixed": "mixed",
}


def _clauses(lower: str) -> list[str]:
    pieces: list[str] = []
    last = 0
    if not _has_any(lower, _CONTRAST_WORDS):
        return [lower]
    for match in _CONTRAST.finditer(lower):
        pieces.append(lower[last : match.start()])
        last = match.end()
    pieces.append(lower[last:])
    return [piece for piece in pieces if piece.strip()]


def _cue(regex: re.Pattern[str], words: tuple[str, ...], text: str) -> bool:
    """``regex`` matches ``text``; ``words`` are literals every match contains (checked first:
    most clauses hold none of them, and a substring test costs far less than a regex scan)."""
    return _has_any(text, words) and regex.search(text) is not None


_HARMLESS_WORDS = ("side", "adverse", "modification", "tolerated")
_SKIP_WORDS = (
    *("baseline", "entry", "demographic", "characteristic", "age and sex", "adverse", "side"),
    *("withdr", "dropout", "compliance", "adherence", "assigned", "allocated"),
    *("randomi", "enrolled", "excluded", "recruited", "screened"),
)
_NULL_WORDS = (
    *("no", "similar", "comparable", "unchanged", "unaffected", "unrelated", "equivalent"),
    *("identical", "trend"),
    *("fail", "ineffective", "same", "equally", "neither"),
)
_NEG_WORDS = (
    *("better", "effective", "superior", "outperformed", "placebo", "favo", "worse"),
    *("inferior", "harm", "detrimental", "deleterious", "fatal", "poisoning", "toxicity"),
)
_POS_WORDS = (
    *("significan", "effective", "efficacious", "beneficial", "useful", "helpful", "promising"),
    *("superior", "worthwhile", "encouraging", "valuable", "successful", "benefit", "better"),
    *("meaningful", "recommend", "reasonable", "first", "option", "considered", "used", "favo"),
    *("offered", "tried", "added"),
    *("associat", "inverse", "risk", "predict", "odds", "incidence", "prevalence", "rate"),
    *("more ", "lower ", "p ", "p<", "p=", "p≤", "support", "worked", "responded", "correlated"),
    *("accompanied", "linked", "tied", "important", "reason", "consider", "response"),
    *("indicated", "level ", "grade ", "recommended", "suggest", "show", "indicat", "demonstrat"),
    *("cause", "induce", "lead to", "contribute"),
    *("confirm", "should be", "works"),
)
_WEAK_WORDS = (
    *("reduc", "lower", "decreas", "improv", "reliev", "prevent", "shorten", "eliminated", "cut"),
    *("fell", "dropped", "alleviat", "lessen", "ease", "reversed", "relief", "halved", "fewer"),
    *("cleared", "resolved", "recovered", "shorter", "faster", "disappeared", "stopped"),
    *("doubled", "tripled", "normali", "falls", "drops"),
)
_BOTH_WORDS = ("both", "all ", "either", "whatever", "over time", "everyone")
_COMPARATIVE_WORDS = (
    *("than", "versus", "vs", "compared", "relative to", "against", "over placebo", "pool"),
    "overall effect",
)


# Efficacy outcomes: a clause naming one is a result even when it lists adverse events too
# ("pain at 60 minutes, rescue analgesia and adverse effects did not differ").
_EFFICACY = re.compile(
    r"\b(?:pain|headache|migraine|attacks?|relief|frequency|severity|intensity|score|scores|"
    r"days|symptoms?|response|responders?|rescue|recurrence|disability|blood pressure|"
    r"cramps?|outcome|endpoint)\b"
)
_EFFICACY_WORDS = (
    *("pain", "headache", "migraine", "attack", "relief", "frequency", "severity", "intensity"),
    *("score", "days", "symptom", "respon", "rescue", "recurrence", "disability", "pressure"),
    *("cramp", "outcome", "endpoint"),
)
# "non-inferiority of CaMg was confirmed", "was non-inferior to": the tested hypothesis met.
_NONINFERIOR = re.compile(
    r"\bnon-?inferiority\b[^.;]{0,40}\b(?:confirmed|shown|demonstrated|established|met)\b|"
    r"\b(?:is|was|were|proved|proven|be) non-?inferior\b"
)
# The evidence is inconclusive: the authors report neither a benefit nor its absence.
_INCONCLUSIVE = re.compile(
    r"\b(?:mixed|conflicting|inconsistent|contradictory) (?:results|findings|evidence|data)\b|"
    r"\binconclusive\b|\b(?:could|can|did|do|does) not (?:conclude|reach (?:a |any )?(?:firm |"
    r"clear )?conclusions?|draw (?:a |any )?(?:firm |clear )?conclusions?|be concluded)\b|"
    r"\bno (?:firm|clear|definite|definitive) conclusions?\b|\binsufficient (?:evidence|data)\b|"
    r"\b(?:evidence|data)\b[^.;]{0,40}\b(?:is|was|are|were|remains?|seems?|to be|as) "
    r"(?:still |too )?"
    r"(?:limited(?! by)|insufficient|weak|scarce|sparse|inconclusive|conflicting|inconsistent|"
    r"lacking|equivocal)\b|\blimited (?:\w+ ){0,3}?(?:evidence|data)\b|"
    r"\bnot (?:statistically |clinically )?convincing\b|\bunconvincing\b|"
    r"\b(?:effect|benefit|efficacy|improvement)s? (?:\w+ )?(?:seemed |appeared |was |were |"
    r"remained )?(?:limited|confined|restricted) to\b|"
    r"\b(?:efficacy|effectiveness|benefit) (?:needs|requires|awaits|remains to be|is yet to be|"
    r"has yet to be|needs to be)\b|\b(?:efficacy|effectiveness|benefit) (?:is|was|remains?) "
    r"(?:uncertain|unclear|unproven|unknown|undetermined)\b"
)
_INCONCLUSIVE_WORDS = (
    *("mixed", "conflicting", "inconsistent", "contradictory", "inconclusive", "not conclude"),
    *("not reach", "not draw", "not be concluded", "conclusion", "insufficient", "limited"),
    *("weak", "scarce", "sparse", "lacking", "equivocal", "needs", "requires", "awaits"),
    *("remains to", "yet to", "uncertain", "unclear", "unproven", "unknown", "undetermined"),
    *("convincing", "confined", "restricted"),
)
# A result against the studied intervention that a null wording must not hide ("did not help
# and may have lessened its effect").
_STRONG_NEG = re.compile(
    r"(?<!no )\bworse than\b|\bless effective than\b|(?<!non-)(?<!non)\binferior to\b|"
    r"\b(?:lessen|weaken|blunt|attenuat|diminish|counteract)\w* (?:its|the|their) "
    r"(?:effect|efficacy|benefit|effectiveness|action)\b|\bfavou?r(?:ed|ing|s) (?:the )?placebo\b|"
    r"\bnot (?:be )?recommended\b|\bcarr(?:y|ies|ied) (?:\w+ )?risks?\b|"
    r"\burg\w* (?:more )?caution|\bmore cautious use\b|\bcaution (?:with|against|about)\b|"
    r"\bwarn\w* (?:against|about|of)\b"
)
_STRONG_NEG_WORDS = (
    *("worse than", "less effective than", "inferior to", "lessen", "weaken", "blunt"),
    *("attenuat", "diminish", "counteract", "favo", "recommended", "carr", "caution", "warn"),
)
# "no effect in 10 (patients)": a tally of non-responders, not a null result.
_TALLY_AFTER = re.compile(r"\s+(?:was\s+(?:seen|recorded|observed|noted)\s+)?in\s+\d")


# A comparison whose reference is named right after its marker ("versus 56% of the magnesium
# group", "than with magnesium", "compared with magnesium").
_REFERENCE_MARKER = re.compile(r"\b(?:than|versus|vs\.?|compared (?:with|to)|relative to|over)\s")
_REFERENCE_WORDS = ("than", "versus", "vs", "compared", "relative to", "over ")


def _reference_is_magnesium(clause: str) -> bool:
    """The clause compares something else against magnesium: magnesium is named only as the
    reference of its comparison ("relief in 90% with prochlorperazine versus 56% with
    magnesium", "the placebo group improved more than the magnesium group")."""
    if not _has_any(clause, _REFERENCE_WORDS):
        return False
    for marker in _REFERENCE_MARKER.finditer(clause):
        reference_end = marker.end() + 45
        reference = clause[marker.end() : reference_end]
        cut = re.search(r"[,;(]|\b(?:and|but|with a|a significant)\b", reference)
        if cut is not None:
            reference_end = marker.end() + cut.start()
            reference = reference[: cut.start()]
        if not _MAGNESIUM_MENTION.search(reference):
            continue
        rest = clause[: marker.start()] + " " + clause[reference_end:]
        if _MAGNESIUM_MENTION.search(rest) is None and rest.strip():
            return True
    return False


# Magnesium given or raised ("patients given magnesium", "magnesium supplementation", "higher
# maternal doses") tied to a higher risk or more harm: an association against magnesium.
_MAGNESIUM_EXPOSED = re.compile(
    r"\b(?:given|receiving|received|taking|exposure to|use of|treated with)\s+(?:\w+\s+)?"
    r"magnesium|\bmagnesium (?:\w+ )?(?:supplementation|supplements?|use|exposure|administration|"
    r"prophylaxis|treatment|therapy)\b|\bhigher (?:\w+ )?doses?\b|\bwith (?:the )?dose\b"
)
_HARM_RISK = re.compile(
    r"\b(?:higher|increased|greater|raised|excess) (?:\w+ )?"
    r"(?:risk|odds|hazard|incidence|mortality)\b|"
    r"\bincreased (?:significantly )?with (?:the )?(?:maternal )?dose\b|"
    r"\b(?:more|increased) (?:\w+ ){0,2}?"
    r"(?:complications|deaths|toxicity|adverse (?:events|effects))\b"
)


def _harm_of_magnesium(clause: str) -> bool:
    """The clause ties magnesium given (or a higher dose) to a higher risk or more harm."""
    if not _has_any(clause, ("magnes", "dose")):
        return False
    return bool(_MAGNESIUM_EXPOSED.search(clause)) and bool(_HARM_RISK.search(clause))


def clause_polarity(clause: str, *, controlled: bool = False, tested: bool = False) -> str | None:
    """pos/null/neg for one clause (lower-case), None when it reports nothing usable. In a
    ``controlled`` study a change word alone ("pain fell") is not a between-group result.
    ``tested``: the article is about magnesium, so a benefit stated for another arm against
    magnesium as the reference favours that arm."""
    polarity = _clause_polarity(clause, controlled=controlled)
    if (
        tested
        and polarity == "pos"
        and (_reference_is_magnesium(clause) or _harm_of_magnesium(clause))
    ):
        return "neg"
    return polarity


def _clause_polarity(clause: str, *, controlled: bool = False) -> str | None:
    if _has_any(clause, _HARMLESS_WORDS):
        clause = _HARMLESS.sub(" ", clause)  # "improved ... without notable side effects"
    if _has_any(clause, _RESEARCH_WORDS):
        call = _RESEARCH_CALL.search(clause)
        if call is not None:
            clause = clause[: call.start()]
    if _cue(_SKIP_CLAUSE, _SKIP_WORDS, clause) and not (
        _has_any(clause, ("adverse", "side")) and _cue(_EFFICACY, _EFFICACY_WORDS, clause)
    ):
        return None
    if _cue(_NONINFERIOR, ("inferior",), clause):
        return "pos"  # a non-inferiority hypothesis met
    if _cue(_INCONCLUSIVE, _INCONCLUSIVE_WORDS, clause):
        return "mixed"
    if _cue(_STRONG_NEG, _STRONG_NEG_WORDS, clause):
        return "neg"
    null = _NULL_CUE.search(clause) if _has_any(clause, _NULL_WORDS) else None
    if null is not None and not _TALLY_AFTER.match(clause, null.end()):
        if "trend" in null.group(0) and _cue(_POS_CUE, _POS_WORDS, clause[null.end() :]):
            return "mixed"  # "a trend for frequency and significant benefit on symptoms"
        return "null"
    neg = _NEG_CUE.search(clause) if _has_any(clause, _NEG_WORDS) else None
    if neg is not None:
        if _MAGNESIUM_MENTION.search(neg.group(0)) and _MAGNESIUM_MENTION.search(
            clause, 0, neg.start()
        ):
            return "pos"  # "magnesium glycinate was absorbed better than magnesium oxide"
        return "neg"
    strong = _cue(_POS_CUE, _POS_WORDS, clause)
    weak = not strong and _cue(_WEAK_POS_CUE, _WEAK_WORDS, clause)
    if weak and controlled and not _cue(_COMPARATIVE, _COMPARATIVE_WORDS, clause):
        return None
    if strong or weak:
        if _cue(_BOTH_GROUPS, _BOTH_WORDS, clause):
            return None
        return "pos"
    return None


def sentence_polarity(
    lower: str,
    *,
    allow_secondary: bool = False,
    controlled: bool = False,
    primary: bool = False,
    tested: bool = False,
) -> str | None:
    """pos/null/neg/mixed for a sentence's clauses; clauses about secondary outcomes or
    subgroups are left out unless ``allow_secondary``. For a ``primary`` outcome sentence a
    null clause wins ("fewer days than sham, but none of the differences was significant")."""
    found: set[str] = set()
    first: str | None = None
    qualified = False  # "..., but the difference was not significant": a null that qualifies
    clauses = _clauses(lower)
    if tested and len(clauses) > 1:
        # A harm the sentence states of magnesium is not diluted by what its other clauses say
        # of other agents ("potassium may reduce AF; magnesium supplementation was linked to a
        # higher risk").
        named = [clause for clause in clauses if _harm_of_magnesium(clause)]
        if named and len(named) < len(clauses):
            clauses = named
    for clause in clauses:
        if not allow_secondary and _SECONDARY.search(clause) and "primary" not in clause:
            continue
        polarity = clause_polarity(clause, controlled=controlled, tested=tested)
        if polarity:
            found.add(polarity)
            first = first or polarity
            if polarity == "null" and _NULL_QUALIFIER.match(clause):
                qualified = True
    if not found:
        return None
    if len(found) == 1:
        return found.pop()
    if "null" in found and "pos" in found and (qualified or (primary and first == "null")):
        return "null"
    if "neg" in found and "pos" not in found:
        return "neg"
    return "mixed"


_OUTCOME_TERMS = re.compile(
    r"\b(?:migraine days|headache days|attack frequency|headache frequency|frequency|severity|"
    r"intensity|pain relief|pain|attacks|relief|blood pressure|cramps|absorption|"
    r"bioavailability|quality of life|disability|recurrence|response)\b"
)


def _objective_outcome(abstract: list[Sentence]) -> str | None:
    """The first outcome the objective names ("to assess magnesium's effect on attack frequency
    and severity" -> "attack frequency"), or None."""
    for sentence in abstract:
        lower = sentence.lower
        if sentence.category not in (None, "OBJECTIVE", "BACKGROUND") and sentence.category:
            continue
        aim = _AIM.search(lower)
        if aim is None or _CONCLUSION.search(lower):
            continue
        outcome = _OUTCOME_TERMS.search(lower, aim.start())
        if outcome is not None:
            return outcome.group(0)
    return None


# "The primary outcome was the change in ...": what was measured, not its result.
_PRIMARY_DEFINED = re.compile(
    r"\b(?:primary|main|principal) (?:[a-z-]+ ){0,2}?(?:outcome|end ?-?point|measure|variable)s? "
    r"(?:was|were|is|are|included|comprised)\s+(?:the|a|an|defined|change|changes|number|"
    r"proportion|time|percentage|mean|rate|frequency|reduction|response|pain|headache|migraine|"
    r"whether|relief|occurrence|incidence|composite|any|at least|\w+ing)\b"
)


# A closing sentence reads as the authors' conclusion when it judges ("suggest", "effective",
# "may", "therefore") rather than reports numbers (p values, percentages, intervals).
_JUDGEMENT = _Rule(
    r"\b(?:suggest\w*|indicat\w*|shows?|demonstrat\w*|supports?|effective|ineffective|"
    r"efficacious|safe|useful|beneficial|recommend\w*|may|might|can|could|should|appears?|"
    r"seems?|therefore|thus|hence|overall|worked|works|helps?|warrant\w*|option|promising|"
    r"judged?|regard\w*|consider\w*|little benefit|no benefit|no evidence|worth\w*|"
    r"valuable|appropriate|alternative|advis\w*|caution|argue\w*|propose\w*|confirm\w*)\b",
    *("suggest", "indicat", "show", "demonstrat", "support", "effective", "efficacious", "safe"),
    *("useful", "beneficial", "recommend", "may", "might", "can", "could", "should", "appear"),
    *("seem", "therefore", "thus", "hence", "overall", "work", "help", "warrant", "option"),
    *("promising", "judge", "regard", "consider", "benefit", "evidence", "worth", "valuable"),
    *("appropriate", "alternative", "advis", "caution", "argue", "propose", "confirm"),
)
_STATISTICS = re.compile(r"\bp\s*[<=>≤]|%|\b95\s*%|\bci\b|\b(?:or|rr|hr)\s+\d|\(\s*\d")


def _judges(sentence: Sentence) -> bool:
    return _JUDGEMENT.search(sentence.lower) is not None and not _STATISTICS.search(sentence.lower)


_REFERENCE_BEFORE = re.compile(r"\b(?:than|to|with|versus|vs|over|against|and|or)\s+(?:\w+\s+)?$")


def _rival_judged(lower: str, rival: str) -> bool:
    """The active comparator is the subject of the sentence's judgement: named, and not as the
    reference of a comparison ("non-inferior to X", "than with X")."""
    if len(rival) < 4:
        return False
    found = re.search(rf"\b{re.escape(rival)}\b", lower)
    return found is not None and _REFERENCE_BEFORE.search(lower, 0, found.start()) is None


def _combine(polarities: list[str]) -> str | None:
    """One polarity for several sentences of the same part (the conclusion): agreement is that
    polarity; a benefit beside a null or an inconclusive judgement is "mixed"; a harm beside a
    null is a harm."""
    found = set(polarities)
    if not found:
        return None
    if len(found) == 1:
        return polarities[0]
    if "neg" in found and "pos" not in found:
        return "neg"
    return "mixed"


def _reported_result(
    sentences: list[Sentence],
    *,
    controlled: bool = False,
    conclusion_only: bool = False,
    review: bool = False,
    tested: bool = False,
    rival: str | None = None,
) -> tuple[str, FindingSource | None]:
    """What the authors report on the primary outcome (the reading the module docstring
    defines): the authors' conclusion, set against the stated primary outcome's result when
    both are given; else the primary outcome's result; else (a study) the result on the first
    outcome its objective names; else the result sentences taken together (a tie is "mixed");
    else a title that states a result. ``tested``: the article is about magnesium, so a
    comparison whose reference is magnesium ("90% with X versus 56% with magnesium") is read
    for magnesium, and ``rival`` (the active comparator's name) judged effective in a sentence
    that does not name magnesium is a result against magnesium ("metoclopramide gave better
    early relief")."""
    abstract = [s for s in sentences if s.field == "abstract"]
    structured = any(s.category for s in abstract)
    usable: list[Sentence] = []
    for position, sentence in enumerate(abstract):
        if sentence.category in ("BACKGROUND", "OBJECTIVE"):
            continue
        if not structured and position == 0 and len(abstract) >= 4:
            continue
        if _AIM.search(sentence.lower) and not _CONCLUSION.search(sentence.lower):
            continue
        usable.append(sentence)

    memo: dict[tuple[int, bool, bool], str | None] = {}

    def concluding(sentence: Sentence) -> bool:
        return sentence.category == "CONCLUSIONS" or _CONCLUSION.search(sentence.lower) is not None

    def polarity_of(sentence: Sentence, primary: bool = False, closing: bool = False) -> str | None:
        key = (id(sentence), primary, closing)
        if key not in memo:
            # The authors' conclusion is their comparison: change words count there as they are.
            polarity = sentence_polarity(
                sentence.lower,
                controlled=controlled and not (closing or concluding(sentence)),
                primary=primary,
                tested=tested,
            )
            if (
                polarity == "pos"
                and tested
                and rival
                and _rival_judged(sentence.lower, rival)
                and not _MAGNESIUM_MENTION.search(sentence.lower)
            ):
                polarity = "neg"
            memo[key] = polarity
        return memo[key]

    def answer(sentence: Sentence, polarity: str) -> tuple[str, FindingSource]:
        result = _POLARITY_TO_RESULT[polarity]
        text = snippet(sentence.text, 0, min(len(sentence.text), 160))
        return result, FindingSource("reported_result", result, sentence.field, text)

    # 1. The authors' conclusion: the CONCLUSIONS section, else sentences that say they
    # conclude, else the closing sentence of an unstructured abstract (or a commentary's).
    # Tiers: the section, then "conclude" / "in conclusion", then the other cues ("we found",
    # "these results"); the first tier that judges is the conclusion.
    conclusion: list[tuple[Sentence, str]] = []
    tiers = (
        [s for s in usable if s.category == "CONCLUSIONS"],
        [s for s in usable if s.category != "CONCLUSIONS" and "conclu" in s.lower],
        [s for s in usable if concluding(s) and "conclu" not in s.lower],
    )
    for tier in tiers:
        for sentence in tier:
            polarity = polarity_of(sentence, primary=_PRIMARY.search(sentence.lower) is not None)
            if polarity is not None:
                conclusion.append((sentence, polarity))
        if conclusion:
            break
    strong = bool(conclusion) and (bool(tiers[0]) or bool(tiers[1]))
    if strong and not tiers[0] and not any("conclu" in s.lower for s, _ in conclusion):
        strong = False
    if not conclusion and usable and not structured:
        closing_sentence = usable[-1]
        if closing_sentence.category != "METHODS" and _judges(closing_sentence):
            polarity = polarity_of(closing_sentence, closing=True)
            if polarity is not None:
                conclusion.append((closing_sentence, polarity))
    concluded = _combine([polarity for _, polarity in conclusion])
    if conclusion_only:
        if concluded is None:
            return "not_reported", None
        return answer(conclusion[0][0], concluded)

    # 2. The stated primary outcome's result (results sentences, not the conclusion).
    primary_result: tuple[Sentence, str] | None = None
    for position, sentence in enumerate(usable):
        primary = _PRIMARY.search(sentence.lower)
        if primary is None or concluding(sentence):
            continue
        defined = _PRIMARY_DEFINED.search(sentence.lower, primary.start())
        polarity = (
            None
            if defined is not None and defined.start() == primary.start()
            else sentence_polarity(
                sentence.lower[primary.start() :],
                controlled=controlled,
                primary=True,
                tested=tested,
            )
        )
        if polarity is not None:
            primary_result = (sentence, polarity)
            break
        for following in usable[position + 1 : position + 5]:
            if _SECONDARY.search(following.lower) and not _PRIMARY.search(following.lower):
                continue
            if concluding(following):
                break
            polarity = polarity_of(following, primary=True)
            if polarity is not None:
                primary_result = (following, polarity)
                break
        break

    if concluded is not None and primary_result is not None:
        stated = primary_result[1]
        if not strong and not (stated in ("null", "neg") and concluded == "pos"):
            # A weak conclusion ("we found", a closing sentence) does not outweigh the stated
            # primary outcome's result.
            return answer(*primary_result)
        if stated == concluded:
            return answer(*primary_result)
        if stated in ("null", "neg") and concluded == "pos":
            # A null primary outcome beside a benefit the conclusion presents: "mixed".
            return answer(conclusion[0][0], "mixed")
        return answer(conclusion[0][0], concluded)
    if concluded is not None:
        return answer(conclusion[0][0], concluded)
    if primary_result is not None:
        return answer(*primary_result)

    # 3. No conclusion and no primary outcome's result: the first outcome the objective names
    # is the primary one; its first result decides (a review: its results together).
    outcome = _objective_outcome(abstract) if not review else None
    if outcome is not None:
        for sentence in usable:
            lower = sentence.lower
            if outcome not in lower or sentence.category == "METHODS":
                continue
            for clause in _clauses(lower):
                if outcome in clause and not _SECONDARY.search(clause):
                    polarity = clause_polarity(clause, controlled=controlled, tested=tested)
                    if polarity is not None:
                        return answer(sentence, polarity)
    # 4. The result sentences taken together (clauses about secondary outcomes left out).
    votes: dict[str, float] = {}
    first: dict[str, Sentence] = {}
    for position, sentence in enumerate(usable):
        if sentence.category == "METHODS" or _BACKGROUND_SENTENCE.search(sentence.lower):
            continue
        polarity = polarity_of(sentence)
        if polarity is None:
            continue
        weight = 1.5 if position == len(usable) - 1 and not structured else 1.0
        kinds = ("pos", "null") if polarity == "mixed" else (polarity,)
        for kind in kinds:
            votes[kind] = votes.get(kind, 0.0) + weight / len(kinds)
            first.setdefault(kind, sentence)
    if votes:
        ranked = sorted(votes.items(), key=lambda item: -item[1])
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < 0.5:
            return answer(first[ranked[0][0]], "mixed")
        return answer(first[ranked[0][0]], ranked[0][0])
    # 5. A title that states the result.
    for sentence in sentences:
        if sentence.field == "title" and _TITLE_RESULT.search(sentence.lower):
            polarity = sentence_polarity(sentence.lower, allow_secondary=True, tested=tested)
            if polarity is not None:
                return answer(sentence, polarity)
    return "not_reported", None


_MAGNESIUM_MENTION = re.compile(r"magnes|\bmg(?:o|so4|cl2)\b|epsom")


def _stance(sentences: list[Sentence]) -> tuple[str, FindingSource | None]:
    """What a narrative review, letter or guideline says about magnesium: the judgements of
    its sentences that name magnesium, together with its conclusion (the closing sentence
    counts one and a half). Background, aims and scope statements say nothing; opposite
    judgements in equal weight are "mixed". Nothing stated: ("not_reported", None)."""
    abstract = [s for s in sentences if s.field == "abstract"]
    structured = any(s.category for s in abstract)
    votes: dict[str, float] = {}
    first: dict[str, Sentence] = {}
    for position, sentence in enumerate(abstract):
        lower = sentence.lower
        if sentence.category in ("BACKGROUND", "OBJECTIVE", "METHODS"):
            continue
        closing = position == len(abstract) - 1 and not structured
        concluding = closing or sentence.category == "CONCLUSIONS" or _CONCLUSION.search(lower)
        if not concluding and not _MAGNESIUM_MENTION.search(lower):
            continue
        if _AIM.search(lower) and not _CONCLUSION.search(lower):
            continue
        polarity = sentence_polarity(lower, allow_secondary=True)
        if polarity is None:
            continue
        weight = 1.5 if closing else 1.0
        kinds = ("pos", "null") if polarity == "mixed" else (polarity,)
        for kind in kinds:
            votes[kind] = votes.get(kind, 0.0) + weight / len(kinds)
            first.setdefault(kind, sentence)
    if not votes:
        return "not_reported", None
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    polarity = ranked[0][0]
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < 0.5:
        polarity = "mixed"
    sentence = first[ranked[0][0]]
    result = _POLARITY_TO_RESULT[polarity]
    text = snippet(sentence.text, 0, min(len(sentence.text), 160))
    return result, FindingSource("reported_result", result, sentence.field, text)


# --- arms -------------------------------------------------------------------------------------

_ARMS_EXPLICIT = re.compile(
    r"\b(?P<n>two|three|four|five|six|2|3|4|5|6)[- ](?:arm(?:ed)?|group|way|period)\b|"
    r"\b(?:into|to|in|among|between)\s+(?P<m>two|three|four|five|six|2|3|4|5|6)\s+"
    r"(?:\w+\s+)?(?:groups|arms)\b"
)
_GROUP_LETTER = re.compile(r"\bgroup ([a-f1-6])\b")


def _arms(
    sentences: list[Sentence], study_type: str, comparator: str | None, scope: str
) -> tuple[int | None, FindingSource | None]:
    for sentence in sentences:
        if sentence.category == "BACKGROUND":
            continue
        lower = sentence.lower
        grouped = "arm" in lower or "group" in lower or "way" in lower or "period" in lower
        match = _ARMS_EXPLICIT.search(lower) if grouped else None
        if match and not is_cited(sentence, match.start(), match.end()):
            value = _int(match.group("n") or match.group("m"))
            if value:
                return value, FindingSource(
                    "arms",
                    str(value),
                    sentence.field,
                    snippet(sentence.text, match.start(), match.end()),
                )
        letters = {m.group(1) for m in _GROUP_LETTER.finditer(lower)} if grouped else set()
        if len(letters) >= 2:
            first = _GROUP_LETTER.search(lower)
            assert first is not None
            return len(letters), FindingSource(
                "arms",
                str(len(letters)),
                sentence.field,
                snippet(sentence.text, first.start(), first.end()),
            )
        arm_counts = _arm_counts(sentence) if _has_any(lower, _N_EQUALS_WORDS) else []
        if len(arm_counts) >= 2:
            return len(arm_counts), FindingSource(
                "arms",
                str(len(arm_counts)),
                sentence.field,
                snippet(sentence.text, arm_counts[0][1], arm_counts[-1][1] + 6),
            )
    if study_type in OBSERVATIONAL_TYPES and study_type != "cohort":
        return None, None
    if comparator == "none" and study_type in ("single_arm_trial", "case_series", "cohort"):
        return 1, FindingSource("arms", "1", "derived", f"{study_type}, no comparator")
    if comparator in ("placebo", "active", "usual_care", "another_form", "none") and (
        study_type in ("randomized_controlled_trial", "nonrandomized_controlled_trial")
        or scope == "protocol"
    ):
        return 2, FindingSource("arms", "2", "derived", f"controlled trial vs {comparator}")
    return None, None


# --- the extractor ----------------------------------------------------------------------------

_CASE_SUBJECT = re.compile(
    r"\b(?:a|an|one)\s+(?:\d+-year-old\s+|(?:young|elderly|older|pregnant)\s+)?"
    r"(?:woman|man|patient|girl|boy|child|infant|female|male|adolescent)\b"
)


# A treatment given (case reports and series report its result; without one they describe).
_TREATMENT_GIVEN = re.compile(
    r"\b(?:treated|treating|treatment|received|receiving|given|gave|took|taking|administered|"
    r"administration|infusions?|infused|injections?|injected|prescribed|supplement\w*|therapy|"
    r"dose|doses|dosing|managed with|responded|underwent|surgery|surgical|closure|operation|"
    r"procedure|implant\w*|stopp\w+|withdraw\w*|discontinu\w+)\b"
)
# Observational studies that only count (prevalence, burden, patterns) and test no association.
_DESCRIPTIVE_AIM = re.compile(
    r"\b(?:prevalence|burden|incidence|epidemiology|patterns? of|characteristics of|describes?|"
    r"descriptive|how (?:common|often))\b"
)
_ASSOCIATION_TESTED = re.compile(
    r"\b(?:associat\w*|risk factors?|relation\w*|related to|link\w*|whether|correlat\w*|"
    r"predict\w*|odds ratio|hazard ratio|relative risk|controls|control group|compared with|"
    r"compared to|versus|hypothes\w+|exposure|exposed)\b"
)


def _nothing_tested(sentences: list[Sentence], study_type: str) -> bool:
    """True when the abstract reports no tested intervention or association: a case report or
    series in which no treatment is given, or an observational study that only describes
    (prevalence, burden) without testing an association. Its result is "not_reported". (Not
    asked for studies of magnesium: measuring or giving magnesium is what they test.)"""
    text = " ".join(s.lower for s in sentences if s.category != "BACKGROUND")
    if study_type in ("case_report", "case_series"):
        return _TREATMENT_GIVEN.search(text) is None
    if study_type in OBSERVATIONAL_TYPES:
        return _DESCRIPTIVE_AIM.search(text) is not None and not _ASSOCIATION_TESTED.search(text)
    return False


# A case report or series whose subject is harm from the product taken ("hypermagnesemia induced
# by magnesium oxide", "Epsom salt ingestion leading to ...", "cathartic-induced fatal ...").
_HARM_TITLE = re.compile(
    r"\b(?:hypermagnes\w+|toxicity|poisoning|overdose|intoxication|fatal|death|deficiency|"
    r"injury|arrest)\b"
)
_HARM_CAUSE = re.compile(
    r"(?:\b(?:magnesium|epsom|cathartic|laxative|antacid|supplement\w*|mgo)\S*[- ]induced\b|"
    r"\b(?:induced by|caused by|due to|secondary to|after|following|from)\s+(?:\w+\s+){0,3}?"
    r"(?:magnesium|epsom|cathartics?|laxatives?|antacids?|supplement\w*|mgo|overuse|ingestion)|"
    r"\b(?:magnesium|epsom|salt|cathartic|laxative|antacid|supplement\w*)\s+(?:\w+\s+)?"
    r"(?:ingestion|overuse|use|intake)\s+(?:leading|led) to\b)"
)


def _harm_case(sentences: list[Sentence]) -> FindingSource | None:
    """A case report or series whose title says the product taken caused the harm."""
    for sentence in sentences:
        if sentence.field != "title":
            continue
        lower = sentence.lower
        if _HARM_TITLE.search(lower) and _HARM_CAUSE.search(lower):
            text = snippet(sentence.text, 0, min(len(sentence.text), 160))
            return FindingSource("reported_result", "favours_comparator", "title", text)
    return None


_CASE_DESCRIBED = re.compile(
    r"\b(?:we|authors?)\s+(?:describe|report|present)\s+(?:the case of\s+)?(?:a|an|one)\s+"
    r"(?:\d+-year-old\s+|(?:young|elderly|older|pregnant)\s+)?"
    r"(?:woman|man|patient|girl|boy|child|infant|female|male|adolescent)\b"
)


def extract_findings(article: Article, tags: ArticleTags) -> Findings:
    """What the article's title and abstract state about the study's findings (module
    docstring). Pure: the same article and tags always give the same findings."""
    sentences = list(article_sentences(article))
    scope = "none" if article.is_retraction_notice else scope_for(tags.study_type, sentences)
    if scope == "none":
        return Findings(scope=scope)
    if scope == "commentary":
        # Narrative reviews, letters, guidelines: what they say about magnesium when they
        # discuss it; otherwise only what a (non-guideline) conclusion says.
        # A piece that does not discuss magnesium reports nothing about it.
        if not (tags.combination_product or tags.forms):
            return Findings(scope=scope)
        opinion, opinion_source = _stance(sentences)
        if opinion_source is None and tags.study_type != "guideline":
            opinion, opinion_source = _reported_result(sentences, conclusion_only=True)
        if opinion_source is None:
            return Findings(scope=scope)
        return Findings(scope=scope, reported_result=opinion, provenance=(opinion_source,))
    provenance: list[FindingSource] = []
    magnesium_given = tags.combination_product or any(form != "dietary" for form in tags.forms)
    if scope == "review":
        k, n = _review_counts(sentences)
        comparator, detail, comparator_source = _comparator(
            sentences, scope, tags.study_type, magnesium_given
        )
        review_result, review_source = _reported_result(
            sentences, controlled=True, review=True, tested=magnesium_given
        )
        for item in (k, n):
            if item is not None:
                provenance.append(item[1])
        for src in (comparator_source, review_source):
            if src is not None:
                provenance.append(src)
        return Findings(
            scope=scope,
            sample_size=n[0] if n else None,
            sample_size_kind="pooled" if n else None,
            studies_included=k[0] if k else None,
            comparator=comparator,
            comparator_detail=detail,
            reported_result=review_result,
            provenance=tuple(provenance),
        )

    observational = tags.study_type in OBSERVATIONAL_TYPES
    size = _study_sample_size(sentences, planned=scope == "protocol")
    sample_size = size.value if size else None
    sample_kind = size.kind if size else None
    if size is not None:
        provenance.append(size.source)
    elif tags.study_type == "case_report" or any(
        _CASE_DESCRIBED.search(s.lower) for s in sentences if s.field == "abstract"
    ):
        # A case report, or an abstract that says it describes one patient: n = 1.
        for sentence in sentences:
            match = _CASE_SUBJECT.search(sentence.lower)
            if match and sentence.category != "BACKGROUND":
                sample_size, sample_kind = 1, "enrolled"
                provenance.append(
                    FindingSource(
                        "sample_size",
                        "1",
                        sentence.field,
                        snippet(sentence.text, match.start(), match.end()),
                    )
                )
                break

    dose: Dose | None = None
    mg_per_day: float | None = None
    elemental_mg: float | None = None
    factor: float | None = None
    if not observational:
        hits = [
            hit
            for sentence in sentences
            if sentence.category != "BACKGROUND"
            for hit in _dose_hits(sentence)
            if not is_cited(hit.sentence, hit.start, hit.end)
        ]
        dose, mg_per_day, dose_sources = _choose_dose(hits)
        provenance.extend(dose_sources)
        if dose is not None:
            if mg_per_day is not None:
                provenance.append(
                    FindingSource(
                        "dose_mg_per_day",
                        _format_number(mg_per_day),
                        "derived",
                        _dose_derivation(dose, mg_per_day),
                    )
                )
            elemental_mg, factor, how = (
                _elemental(dose)
                if mg_per_day is not None or dose.unit in ("mmol", "mEq")
                else (None, None, None)
            )
            if elemental_mg is not None and how is not None:
                provenance.append(
                    FindingSource(
                        "elemental_mg_per_day", _format_number(elemental_mg), "derived", how
                    )
                )

    duration: float | None = None
    timepoint: str | None = None
    if tags.study_type not in ("case_control", "cross_sectional"):
        duration, duration_source = _duration(sentences, observational=observational)
        if duration_source is not None:
            provenance.append(duration_source)
        if duration is None:
            timepoint, timepoint_source = _timepoint(sentences)
            if timepoint_source is not None:
                provenance.append(timepoint_source)

    comparator, detail, comparator_source = _comparator(
        sentences, scope, tags.study_type, magnesium_given
    )
    if observational and comparator not in ("none",) and tags.study_type != "cohort":
        comparator, detail, comparator_source = None, None, None
    if comparator in (None, "none") and scope in ("study", "protocol") and not observational:
        # Several magnesium salts given and compared with each other ("each test preparation",
        # "oxide was poorly available, whereas chloride ..."): the comparator is another form.
        salt_source = _salt_comparison(sentences, tags.forms)
        if salt_source is not None:
            comparator, detail, comparator_source = "another_form", None, salt_source
    if comparator_source is not None:
        provenance.append(comparator_source)
    arms, arms_source = _arms(sentences, tags.study_type, comparator, scope)
    if arms_source is not None:
        provenance.append(arms_source)

    result: str | None = None
    if scope == "study":
        discussed = tags.combination_product or bool(tags.forms)
        harm = _harm_case(sentences) if tags.study_type in ("case_report", "case_series") else None
        if harm is not None:
            result = "favours_comparator"
            provenance.append(harm)
        elif not discussed and _nothing_tested(sentences, tags.study_type):
            result = "not_reported"
        else:
            controlled = comparator in ("placebo", "active", "usual_care", "another_form")
            rival = detail.lower() if comparator == "active" and detail else None
            result, result_source = _reported_result(
                sentences, controlled=controlled, tested=magnesium_given, rival=rival
            )
            if result_source is not None:
                provenance.append(result_source)

    return Findings(
        scope=scope,
        sample_size=sample_size,
        sample_size_kind=sample_kind,
        arms=arms,
        studies_included=None,
        dose_mg_per_day=mg_per_day,
        dose=dose,
        elemental_mg_per_day=elemental_mg,
        elemental_factor=factor,
        duration_weeks=duration,
        outcome_timepoint=timepoint,
        comparator=comparator,
        comparator_detail=detail,
        reported_result=result,
        provenance=tuple(provenance),
    )


def _dose_derivation(dose: Dose, mg_per_day: float) -> str:
    amount = _format_number(dose.amount or 0)
    if dose.per == "dose" and dose.times_per_day:
        return (
            f"{amount} {dose.unit} x {dose.times_per_day} a day = {_format_number(mg_per_day)} mg"
        )
    if dose.per == "single dose":
        return f"{amount} {dose.unit} given once = {_format_number(mg_per_day)} mg that day"
    return f"{amount} {dose.unit} per day = {_format_number(mg_per_day)} mg"


# --- the digest line --------------------------------------------------------------------------

_OBSERVATIONAL_LABELS = frozenset({"Cohort", "Case-control", "Cross-sectional"})
_OUTCOME_PHRASE = re.compile(
    r"\b(?:fewer|less frequent|less severe|shorter|reduced|lower|decreased)\s+(?:\w+\s+){0,2}?"
    r"(?:migraine|headache|attack|pain|cramp)\w*(?:\s+(?:days|attacks|frequency|severity|"
    r"intensity|duration|scores?))?",
    re.I,
)


def _dose_words(forms: Iterable[str], findings: Findings) -> str | None:
    salts = [form for form in forms if form not in ("unspecified", "dietary")]
    name = f"magnesium {salts[0]}" if len(salts) == 1 else "magnesium"
    dose = findings.dose
    if dose is not None and dose.per == "single dose" and dose.amount is not None:
        return f"{name} {_format_number(dose.amount)} {dose.unit} single dose"
    if findings.dose_mg_per_day is not None:
        return f"{name} {_format_number(findings.dose_mg_per_day)} mg/day"
    if dose is not None and (dose.amount is None or "; " in dose.text):
        # A range, alternatives or different doses by arm: as written.
        return " or ".join(dict.fromkeys(dose.text.split("; ")))
    if dose is not None and dose.amount is not None:
        per = {"day": "/day", "dose": " per dose", "single dose": " single dose"}.get(
            dose.per or "", ""
        )
        if dose.per == "day" and dose.unit == "mg/kg":
            per = " per day"
        return f"{name} {_format_number(dose.amount)} {dose.unit}{per}"
    return None


def findings_line(study_type_label: str, forms: Iterable[str], findings: Findings) -> str:
    """One neutral line for the digest, e.g. "RCT, n=120, magnesium oxide 500 mg/day for 12
    weeks vs placebo; authors report fewer migraine days". Parts the abstract does not state
    are left out; the wording reports ("authors report ..."), it never advises."""
    parts = [study_type_label]
    if findings.scope == "review":
        if findings.studies_included is not None:
            parts.append(f"{findings.studies_included} studies")
        if findings.sample_size is not None:
            parts.append(f"{findings.sample_size:,} participants pooled")
    elif findings.sample_size is not None:
        prefix = "planned n=" if findings.sample_size_kind == "planned" else "n="
        parts.append(f"{prefix}{findings.sample_size:,}")
    design = []
    dose = _dose_words(forms, findings) if findings.scope != "review" else None
    if dose:
        design.append(dose)
    if findings.duration_weeks is not None:
        weeks = _format_number(findings.duration_weeks)
        design.append(f"for {weeks} week{'' if findings.duration_weeks == 1 else 's'}")
    comparator = {
        "placebo": "vs placebo",
        "usual_care": "vs usual care",
        "none": "vs no treatment" if (findings.arms or 0) >= 2 else "no comparator",
        "another_form": f"vs {findings.comparator_detail or 'another magnesium form'}",
        "active": f"vs {findings.comparator_detail or 'an active comparator'}",
    }.get(findings.comparator or "")
    if comparator:
        design.append(comparator)
    if design:
        parts.append(" ".join(design))
    if findings.outcome_timepoint:
        parts.append(f"outcome at {findings.outcome_timepoint}")
    line = ", ".join(parts)
    result = findings.reported_result
    if result in _RESULT_WORDS:
        words = (
            _ASSOCIATION_WORDS[result]
            if study_type_label in _OBSERVATIONAL_LABELS
            else _RESULT_WORDS[result]
        )
        if result == "favours_magnesium" and study_type_label not in _OBSERVATIONAL_LABELS:
            phrase = next(
                (
                    _OUTCOME_PHRASE.search(source.snippet)
                    for source in findings.provenance
                    if source.field == "reported_result" and _OUTCOME_PHRASE.search(source.snippet)
                ),
                None,
            )
            if phrase is not None:
                words = f"authors report {phrase.group(0).lower()}"
        line = f"{line}; {words}"
    return line
