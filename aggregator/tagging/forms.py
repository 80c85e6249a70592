"""Magnesium forms: which salt(s) the study gave, or "unspecified"/"dietary".

Salt names are data (:data:`SALT_WORDS`); adding a form means adding one row there (and the
value to ``aggregator.vocab.FORMS``). A salt only counts when it is attached to magnesium
("magnesium citrate", "Mg-citrate", "magnesium oxide, citrate or glycinate", "salts of
magnesium such as ..."), so caffeine citrate, nitric oxide or ferrous bisglycinate never count.

In primary studies, a salt named only as background ("unlike magnesium oxide, ...", "no study
has tested glycinate", "previous trials used oxide") is not the study's form; reviews cover
every salt they name. Magnesium valproate (an antiepileptic drug) and magnesium stearate (a
tablet excipient) are masked out before any rule runs. The element symbol written as a word
("IV Mg", "the Mg group", "serum Mg2+") counts like "magnesium" in the unspecified, intake and
status rules when the original reads "Mg" and no number precedes it ("400 mg" is a unit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.article import Article
from aggregator.tagging.text import (
    Gated,
    LiteralIndex,
    Sentence,
    collapse,
    gated,
    hypothetical_gate,
    is_cited,
    is_hypothetical,
    is_negated,
    lowercase,
    narrow,
    narrowed_or_never,
    snippet,
    whole_lower,
)
from aggregator.vocab import FORMS, SALT_FORMS, Tag

# form -> regex alternatives for the salt word (after "magnesium").
SALT_WORDS: dict[str, str] = {
    "glycinate": r"(?:bis-?|di-?)?glycinate|(?:bis)?glycine chelate|glycinate chelate",
    "oxide": r"oxide",
    "citrate": r"(?:di|tri)?citrate",
    "sulfate": r"sul(?:f|ph)ate(?: heptahydrate)?",
    "chloride": r"chloride",
    "pidolate": r"pidolate|pyroglutamate|pyrrolidone[- ]carboxyl(?:ic acid|ate)",
    "aspartate": r"(?:hydrogen[\s-]+)?(?:l-)?aspartate(?:[- ]hydrochloride)?",
    "lactate": r"(?:l-)?lactate",
    "malate": r"malate",
    "threonate": r"(?:l-)?threonate",
    "taurate": r"taur(?:ate|inate)",
    "carbonate": r"carbonate",
    "hydroxide": r"hydroxide",
    "orotate": r"orotate",
    "gluconate": r"gluconate",
}

# Formula-style names and trade words that are a form by themselves.
FORM_ALIASES: dict[str, str] = {
    "oxide": r"(?-i:\bMgO\b)",
    "sulfate": r"(?-i:\bMgSO4\b|\bMgSO₄)|\bepsom salts?\b",
    "chloride": r"(?-i:\bMgCl2\b|\bMgCl₂)",
    "hydroxide": r"\bmilk of magnesia\b|(?-i:\bMg\(OH\)2)",
    "citrate": r"\btrimagnesium dicitrate\b|\bmagnesium[- ]diasporal\b",
    # Trade names whose magnesium salt is known.
    "lactate": r"\bmag-tab\b",
    "threonate": r"\bmagtein\b",
    "orotate": r"\bmagnerot\b",
    "aspartate": r"\bmagnesiocard\b",
    "gluconate": r"\bmagonate\b",
    "carbonate": r"(?-i:\bMgCO3\b|\bMgCO₃)",
}
# Trade names that name oxide and chloride products.
_TRADE_NAMES: tuple[tuple[str, str], ...] = (
    ("oxide", r"\bmag-ox\b|\buro-mag\b"),
    ("chloride", r"\bslow-mag\b"),
)

_SALT_ANY = "|".join(f"(?:{alternatives})" for alternatives in SALT_WORDS.values())
_SALT_LOOKUP = tuple((form, re.compile(rf"^(?:{alt})$", re.I)) for form, alt in SALT_WORDS.items())
# The word, or the element symbol (also as the ion: Mg2+, Mg(2+), Mg++), or both ("magnesium
# (Mg) citrate"). Rules run on lower-cased text, where the symbol and the unit "mg" look alike:
# a match on "mg" is checked against the original case (see _dose_owner_is_magnesium).
_MG = r"(?:\b(?:tri|di)?magnesium(?:\s*\((?-i:Mg)\))?|(?-i:\bMg)(?:2\+|\(2\+\)|\+\+)?)"
# Every _MG match starts with t(ri), d(i) or m: checking that first lets the regex engine move
# past all other positions at once (about twice as fast on a sentence; matches are the same).
_MG_FIRST = r"(?=[tdm])"
# A salt word, singular or plural ("magnesium citrates").
_SALT_TOKEN = rf"(?:(?:l-|d-)?(?:{_SALT_ANY})s?)"
# A salt outside the vocabulary ("acetate", "glycerophosphate") may stand in a list of salts.
_OTHER_SALT = r"(?:[a-z]+(?:ate|ide)s?)"
# Salts joined in a list or a pair: commas, and/or, slashes, versus, hyphens ("lactate-citrate").
_LIST_JOIN = (
    r"\s*(?:,\s*(?:and\s+|or\s+)?|\s+and/or\s+|\s+and\s+|\s+or\s+|\s*/\s*|\s+vs\.?\s+|\s+versus\s+|"
    r"-)"
)
# A join, then magnesium repeated or not, or a suspended hyphen ("Mg-oxide, -citrate").
_NEXT = rf"{_LIST_JOIN}(?:(?:tri)?magnesium\s+|(?-i:Mg)[- ]?|-)?"
_SALT_LIST = rf"{_SALT_TOKEN}(?:{_NEXT}(?:{_SALT_TOKEN}|{_OTHER_SALT}(?={_NEXT}{_SALT_TOKEN})))*"
# After the word magnesium the list may open with a salt outside the vocabulary ("magnesium
# laevulinate, gluconate or sulfate").
_SALT_LIST_AFTER_MG = rf"(?:{_OTHER_SALT}{_NEXT})?{_SALT_LIST}"
# Acids whose magnesium salt is a vocabulary form ("magnesium salt of L-threonic acid",
# "L-threonic acid magnesium salt").
SALT_ACIDS: dict[str, str] = {
    "citric": "citrate",
    "aspartic": "aspartate",
    "lactic": "lactate",
    "gluconic": "gluconate",
    "orotic": "orotate",
    "malic": "malate",
    "threonic": "threonate",
    "pidolic": "pidolate",
    "pyroglutamic": "pidolate",
    "pyrrolidone carboxylic": "pidolate",
}
_ACIDS = "|".join(acid.replace(" ", "[- ]") for acid in SALT_ACIDS)

# An amount: "400 mg", "1.5 g/day", "24 mmol daily".
_DOSE = r"\d[\d.,]*\s*(?:mg|g|grams?|mmol|meq)\b(?:\s*(?:/\s*d(?:ay)?\b|daily|per day|a day))?"

SALT_STEMS = (
    "glycin",
    "oxide",
    "citrate",
    "sulfate",
    "sulphate",
    "chloride",
    "pidolate",
    "pyroglutam",
    "pyrrolidone",
    "aspartate",
    "lactate",
    "malate",
    "threonate",
    "taur",
    "carbonate",
    "hydroxide",
    "orotate",
    "gluconate",
)
SALT_PHRASES: tuple[Gated, ...] = (
    # magnesium citrate / Mg-citrate / magnesium (as) L-threonate / magnesium (lactate and
    # citrate) / magnesium 24 mmol as lactate-citrate, then any listed salts.
    gated(
        rf"{_MG_FIRST}{_MG}[\s-]*(?:\(\s*)?(?:{_DOSE}\s*,?\s*\(?\s*(?:as|of)\s+)?(?:(?:as|from)\s+)?"
        rf"(?:amino[- ]acid\s+)?{_SALT_LIST_AFTER_MG}\b",
        *SALT_STEMS,
    ),
    # magnesium salts such as oxide, citrate and glycinate
    gated(
        rf"{_MG_FIRST}{_MG}\s+(?:salts?|forms?|preparations?|compounds?|supplements?)\s*\(?\s*"
        rf"(?:such as|including|like|e\.g\.,?|i\.e\.,?|namely|:)?\s*{_SALT_LIST}\b",
        *SALT_STEMS,
    ),
    # "oxide, lactate and magnesium citrate" (bare salts listed before an anchored one)
    gated(rf"(?<![\w-])(?:{_SALT_TOKEN}{_LIST_JOIN})+{_MG}[\s-]*{_SALT_LIST}\b", *SALT_STEMS),
    # oxide, citrate and glycinate salts of magnesium / glycinate forms of magnesium
    gated(rf"\b{_SALT_LIST}\s+(?:salts?|forms?|preparations?)\s+of\s+magnesium\b", *SALT_STEMS),
)
# Cheap second gates in front of the slowest regexes, per SALT_PHRASES rule (same position):
# words (any one) every match contains besides a salt stem, and how many salt words every match
# holds (each salt word contains a stem, so fewer stem occurrences mean no match).
_PHRASE_ALSO: tuple[tuple[tuple[str, ...], int], ...] = (
    ((), 1),
    (("salt", "form", "preparation", "compound", "supplement"), 1),
    ((), 2),
    (("salt", "form", "preparation"), 1),
)
_ALIAS_LITERALS = ("mgo", "mgso", "mgcl", "mgco", "epsom", "magnesia", "mg(oh)", "dicitrate")
_TRADE_LITERALS = ("diasporal", "mag-tab", "magtein", "magnerot", "magnesiocard", "magonate")
ALIAS_PATTERNS: tuple[tuple[str, Gated], ...] = (
    *(
        (form, gated(pattern, *_ALIAS_LITERALS, *_TRADE_LITERALS))
        for form, pattern in FORM_ALIASES.items()
    ),
    *((form, gated(pattern, "mag-ox", "uro-mag", "slow-mag")) for form, pattern in _TRADE_NAMES),
)
_SALT_IN_PHRASE = re.compile(rf"(?<![a-z]){_SALT_TOKEN}\b", re.I)
# "400 mg of citrate", "300 mg (as citrate)": a salt after an amount whose owner is found before
# it (magnesium counts, another mineral does not; see _dose_owner_is_magnesium).
_DOSE_SALT = gated(rf"\b{_DOSE}\s*,?\s*\(?\s*(?:(?:as|of)\s+)?{_SALT_LIST}\b", *SALT_STEMS)
# "magnesium salt of L-threonic acid", "L-threonic acid magnesium salt".
_ACID_SALT = gated(
    rf"{_MG}\s+salts?\s+of\s+(?:l-|d-)?({_ACIDS})\s+acid\b|"
    rf"\b(?:l-|d-)?({_ACIDS})\s+acid[\s-]+(?:{_MG}\s+salt|salt\s+of\s+magnesium)\b",
    *(acid.split()[0] for acid in SALT_ACIDS),
)
# Elements and minerals a dose or a salt may belong to; the nearest one before an amount owns it.
_ELEMENT = re.compile(
    r"\b(?:magnesium|calcium|zinc|iron|ferrous|ferric|sodium|potassium|copper|selenium|"
    r"chromium|manganese|lithium|strontium|aluminium|aluminum|caffeine|vitamin\s+\w+)\b|"
    r"(?-i:\bMg)(?![a-z])",
    re.I,
)
_AMINO_CHELATE = re.compile(rf"{_MG}\s+amino[- ]acid\s+chelate\b", re.I)
_GLYCINE = re.compile(r"\bglycin", re.I)
# A bare salt word right after another element or drug belongs to that compound.
# Before a phrase that starts with magnesium, only a body fluid or a reagent makes it something
# other than the salt ("potassium magnesium aspartate" holds magnesium aspartate).
_NOT_SUPPLEMENT_BEFORE = re.compile(r"\b(?:serum|plasma|blood|methyl-?|ethylene)\s*$", re.I)
_OTHER_COMPOUND_BEFORE = re.compile(
    r"\b(?:zinc|iron|ferrous|ferric|calcium|sodium|potassium|copper|cupric|manganese|chromium|"
    r"alumin(?:i)?um|nitric|nitrous|caffeine|lithium|selenium|silver|titanium|ethylene|lysine|"
    r"clomiphene|sildenafil|tamoxifen|fentanyl|morphine|ringer'?s|serum|plasma|blood|"
    r"chondroitin|dehydroepiandrosterone|estrone|heparan|dextran|methyl-?(?:d-)?)\s*$",
    re.I,
)

# Magnesium compounds that are not a magnesium supplement form.
NOT_A_FORM = gated(
    r"\bmagnesium[\s-]+(?:valproate|stearate|trisilicate|valproic)\b|\bvalproate[\s-]+magnesium\b",
    "valpro",
    "stearate",
    "trisilicate",
)

# The word magnesium, or the element symbol written as a word ("IV Mg", "the Mg group", "oral Mg
# supplementation"). Rules run on lower-cased text, where the symbol looks like the unit: a match
# on "mg" must be "Mg" in the original and not follow a number (see _symbol_ok).
_MAGW = (
    r"(?:magnesium\b|(?<![\d.])(?<![\d.]\s)mg(?:2\+|\+\+|\(2\+\))?(?![\w/])"
    r"(?![\s-]*(?:/|kg\b|per\b|daily\b|a day\b|each\b|twice\b|once\b)))"
)

# "magnesium given, salt not stated"
UNSPECIFIED = (
    gated(
        r"\b(?:oral(?:ly)?|intravenous(?:ly)?|(?-i:IV|i\.v\.)|intramuscular|topical|transdermal|"
        r"parenteral|high-dose|low-dose|supplemental|elemental|intraperitoneal(?:ly)?|"
        r"subcutaneous(?:ly)?|intrathecal(?:ly)?|epidural|nebuli[sz]ed|inhaled|prophylactic|"
        rf"perioperative|intraoperative|adjuvant|adjunctive)\s+{_MAGW}",
        *("oral", "intravenous", " iv", "i.v.", "intramuscular", "topical", "transdermal"),
        *("parenteral", "high-dose", "low-dose", "supplemental", "elemental"),
        *("intraperitoneal", "subcutaneous", "intrathecal", "epidural", "nebuli", "inhaled"),
        *("prophylactic", "perioperative", "intraoperative", "adjuvant", "adjunctive"),
    ),
    # "doses of magnesium", "a bolus of magnesium", "replacement of magnesium" (rules 2026.4)
    gated(
        r"\b(?:doses?|bolus(?:es)?|infusions?|injections?|supplementation|replacement|repletion|"
        r"administration|loading)\s+of\s+(?:\w+\s+){0,2}magnesium\b(?![\s-]+(?:levels?|"
        r"concentrations?|status|deficiency|intake|depletion|loss|excretion|balance))",
        *("dose", "bolus", "infusion", "injection", "supplementation", "replacement"),
        *("repletion", "administration", "loading"),
    ),
    gated(
        rf"\b{_MAGW}\s+(?:supplement\w*|therapy|treatment|prophylaxis|infusions?|tablets?|"
        r"capsules?|administration|replacement|repletion|loading|load\b|sachets?|spray|oil|"
        r"cream|injections?|bolus|arm|group)",
        "magnesium ",
        "mg ",
    ),
    gated(
        r"\b\d+(?:\.\d+)?\s*(?:mg|mmol|g|meq|mEq|grams?)(?!\s*/\s*(?:l|dl|ml)\b)\s+(?:of\s+)?"
        r"(?:elemental\s+)?magnesium\b|\bmagnesium\s*\(?\s*\d+(?:\.\d+)?\s*(?:mg|mmol|g|meq|grams?)\b"
        r"(?!\s*/\s*(?:l|dl|ml)\b)",
        *("mg", "mmol", "g ", "meq", "gram"),
    ),
    gated(
        r"\b(?:received|receive|receiving|given|took|take|taking|administered|"
        r"treated (?:\w+\s+)?with|"
        r"randomi[sz]ed to|assigned to|allocated to|supplemented with|started on|infusion of)"
        rf"\s+(?:\w+\s+){{0,3}}{_MAGW}"
        r"(?![\s-]+(?:levels?|concentrations?|status|deficiency))",
        *("receiv", "given", "took", "take", "taking", "administ", "treated", "randomi"),
        *("assigned to", "allocated to", "supplemented", "started on", "infusion of"),
    ),
    gated(rf"\b{_MAGW}[^.]{{0,60}}\b(?:supplements?|supplementation)\b", "supplement"),
    # "magnesium was given with metoclopramide", "Mg was infused over 20 minutes", "magnesium
    # given systemically"
    gated(
        rf"\b{_MAGW}\s+(?:sulfate\s+|sulphate\s+)?(?:(?:was|were|is|being)\s+(?:\w+\s+)?(?:given|"
        r"administered|infused|injected|prescribed|started|added|supplemented)|given|administered|"
        r"infused|injected)\b",
        *("given", "administered", "infused", "injected", "prescribed", "started", "added"),
        "supplemented",
    ),
    gated(
        r"\bmagnesium[- ]containing (?:\w+ )?(?:cathartics?|antacids?|laxatives?|enemas?|"
        r"supplements?|products?|preparations?|medications?|drugs?)\b",
        "containing",
    ),
    gated(
        r"\b(?:trials?|studies|rcts)\s+(?:of|with|using)\s+(?:(?!dietary\b)\w+\s+){0,2}"
        rf"{_MAGW}(?![\s-]+"
        r"(?:levels?|concentrations?|status|deficiency|intake))",
        "trial",
        "studies",
        "rcts",
    ),
    gated(
        r"\b(?:supplements?|products?|preparations?|tablets?|capsules?)\s+(?:containing|combining|"
        r"with|providing)\s+(?:[\w.]+\s+){0,4}magnesium\b",
        *("containing", "combining", "with", "providing"),
    ),
)

DIETARY_INTAKE = gated(
    rf"\bdietary\s+(?:{_MAGW}(?![\s-]+(?:{_SALT_TOKEN}|supplement\w*|salts?)\b)|intake|"
    rf"deficiency|sources?|patterns?)\b|\b{_MAGW}\s+"
    r"(?:intake|consumption)\b|\bintake\s+of\s+magnesium\b|\b(?:amounts?|quantity)\s+of\s+"
    r"magnesium\s+(?:\w+\s+)?consumed\b|\bconsum\w*\s+(?:\w+\s+){0,3}(?:amounts?|quantity)\s+"
    r"of\s+magnesium\b|\b(?:recommended|adequate|daily|low|"
    r"high)\s+(?:dietary\s+)?(?:magnesium\s+)?intake\b|\bmagnesium[- ]rich\b|\brich in magnesium"
    r"\b|\b(?:mineral|drinking|tap|bottled) water\b|\bfood frequency\b|\b(?:through|from|via) "
    r"(?:the )?diet\b|\bdiet(?:s)?\b(?!ary supplement)[^.]{0,40}\bmagnesium\b|\bNHANES\b|"
    r"\bmagnesium\b[^.]{0,40}\bdiets?\b",
    "diet",
    "intake",
    "consum",
    "rich",
    "water",
    "food",
    "nhanes",
)
_COMPARTMENT = (
    r"(?:serum|plasma|erythrocyte|red (?:blood )?cell|RBC|ioni[sz]ed|intracellular|extracellular|"
    r"brain|whole[- ]blood|urinary|urine|salivary|CSF|cerebrospinal(?: fluid)?|tissue|lymphocyte|"
    r"cellular|mononuclear)"
)
STATUS = gated(
    rf"\b{_COMPARTMENT}\b[^.;]{{0,30}}?\b{_MAGW}|\b{_MAGW}\s+(?:levels?|concentrations?|"
    rf"status)\b|\bmagnesium in (?:the )?{_COMPARTMENT}|\bhypomagnes(?:a|ae|e)mi\w*|"
    r"\bmagnetic resonance spectroscopy\b",
    *("serum", "plasma", "erythrocyte", "red ", "rbc", "ioni", "cellular", "brain", "blood"),
    *("urin", "saliva", "csf", "cerebrospinal", "tissue", "lymphocyte", "mononuclear", "level"),
    *("concentration", "status", "hypomagnes", "spectroscopy"),
)
_DEFICIT = gated(
    r"\bmagnesium\s+(?:deficiency|deficit|depletion|insufficiency)\b",
    "deficien",
    "deficit",
    "depletion",
    "insufficien",
)
# The magnesium content of a diet given or compared (animal feeding, diet trials): intake.
DIET_CONTENT = gated(
    r"\bmagnesium[- ](?:deficient|adequate|depleted|free|restricted|supplemented|poor|rich|"
    r"enriched)\s+(?:\w+\s+)?diets?\b|\b(?:low|high|standard|normal|control)[- ](?:magnesium|mg)"
    r"(?:\s*\(mg\))?\s+(?:\w+\s+)?diets?\b|"
    r"\b\d+(?:\.\d+)?\s*(?:%|ppm|mg/kg|g/kg)\s+(?:of\s+)?(?:magnesium|mg)\s+diets?\b|"
    r"\bdiets?\s+(?:containing|with|providing)\s+(?:\w+\s+){0,3}(?:\d+(?:\.\d+)?\s*(?:%|ppm|mg/kg|g/kg)"
    r"\s+(?:of\s+)?)?magnesium\b",
    "diet",
)
_FED = re.compile(
    r"\b(?:fed|feeding|received|receiving|given|assigned|allocated|randomi[sz]ed|kept on|"
    r"maintained on|placed on|switched to|compared)\b|"
    # "mice on the low-Mg diet" (rules 2026.4)
    r"\b(?:animals|rats|mice|pigs|dogs|groups?)\s+(?:\w+\s+)?on\s+(?:a|the|their)\b"
)
_VEHICLE = re.compile(r"\b(?:in|via|through|with)\s+(?:the\s+|their\s+)?(?:drinking|tap)\s+water\b")
_CONDITIONAL = re.compile(r"\b(?:when|if|whether|unless)\b[^.,;]{0,40}$", re.I)
_OTHER_BEFORE = re.compile(r"\b(?:other|newer|alternative)\s+$")
_UNTESTED = re.compile(
    r"\bnot (?:been )?(?:studied|tested|used|compared|evaluated|examined|investigated)\b|"
    r"\bnever\b|\bno (?:trials?|studies)\b|\bunlike\b"
)
# The element symbol, capitalised ("Mg glycinate", "Mg2+"); "mg" alone is milligrams.
_MG_SYMBOL = re.compile(r"\bMg(?:\b|\d|\()")
_MENTIONS_MAGNESIUM = re.compile(
    r"magnes|\bmg(?:o|so|cl|co|\(oh\))|\bepsom\b|\bmag-(?:ox|tab)\b|\bslow-mag\b|\buro-mag\b|"
    r"\bmagtein\b|\bmagnerot\b|\bmagonate\b"
)
_MAGNESIUM_WORD = re.compile(r"\bmagnesium\b|\bmg(?:2\+|\+\+)?(?=[\s-])")
# A salt in a list: "a bisglycinate chelate", "the citrate", "lactate-citrate mixture".
_SALT_ITEM = (
    rf"(?:(?:a|an|the)\s+)?(?:(?:organic|inorganic|chelated|amino[- ]acid)\s+)?{_SALT_TOKEN}"
    rf"(?:[- /]{_SALT_TOKEN})*(?:\s+(?:chelate|mixture|salt|form|preparation|combination)s?)?"
)
# A salt outside the vocabulary may stand inside the list ("oxide, acetate, pidolate").
_ITEM_LIST = rf"{_SALT_ITEM}(?:{_LIST_JOIN}(?:{_SALT_ITEM}|{_OTHER_SALT}(?={_LIST_JOIN})))*"
# Salts named apart from the word magnesium, after a head that says they are forms given.
_SALTS_APART = gated(
    r"(?:\b(?:preparations?|formulations?|salts?|forms?|compounds?|supplements?|products?|"
    r"chelates?)\s*,?\s*\(?\s*(?:such as|including|like|e\.g\.,?|i\.e\.,?|namely|:|\()\s*|"
    # "the salts available (oxide, citrate, sulfate)"
    r"\b(?:salts|preparations|formulations|forms)\s+(?:\w+\s+){1,2}\(\s*|"
    r"\b(?:given|supplied|administered|provided|taken|delivered|supplemented|formulated|"
    r"dosed|prescribed|used)\s+as\s+|\bin the form of\s+|"
    # "... repleted with magnesium for two weeks as oxide, chloride, sulphate or citrate"
    rf"\bas\s+(?=(?:{_SALT_TOKEN}|{_OTHER_SALT}){_LIST_JOIN}(?:{_SALT_TOKEN}|{_OTHER_SALT})\b)|"
    r"\b(?:salts?|compounds?|preparations?|formulations?|forms?|supplements?|products?)\b[^.:;()]{0,40}?"
    r"\b(?:were|was)\s+(?:\w+\s+){0,2}(?:tested|compared|studied|used|given|evaluated|"
    r"investigated|administered)\s*:\s*|\bmagnesium,?\s+(?:mainly|mostly|chiefly|"
    r"largely|primarily|especially|particularly|predominantly|usually|typically)\s+|\b(?:organic|inorganic)\s+(?:\w+\s+)?"
    r"(?:salts?\s*)?\(\s*)"
    rf"{_ITEM_LIST}\b",
    *SALT_STEMS,
)
_TITLE_ABOUT_SALTS = re.compile(
    r"\b(?:magnesium|mg)\s+(?:\w+\s+)?(?:salts|preparations|formulations|compounds|supplements)\b|"
    r"\b(?:salts|forms|preparations|formulations) of magnesium\b"
)
# Magnesium as a treatment in a review (no salt named): not a level, status or deficiency.
_MAGNESIUM_TREATMENT = re.compile(
    r"\bmagnesium\b(?![\s-]+(?:levels?|concentrations?|status|deficiency|depletion|content|"
    r"homeostasis|physiology|biology|disorders?|disturbances?|abnormalit\w+|imbalance|"
    r"ions?|channels?|block|transport\w*|intake|metabolism|excretion|absorption|"
    r"loss|losses|wasting|balance|handling|reabsorption|uptake|"
    r"in (?:serum|plasma|the brain|blood))\b)"
    r"(?<!serum magnesium)(?<!plasma magnesium)(?<!brain magnesium)(?<!ionized magnesium)"
    r"(?<!ionised magnesium)(?<!low magnesium)"
)


# Designs in which the investigators assign (or plan to assign) the exposure. When they give
# magnesium, a level they measure is an outcome or a safety check, not an exposure: it counts
# only where the study treats it as a predictor of response or the title makes it a subject.
ASSIGNED_DESIGNS = frozenset(
    {
        "randomized_controlled_trial",
        "nonrandomized_controlled_trial",
        "single_arm_trial",
        "trial_protocol",
        "animal_study",
    }
)
# Reports of patients who were given magnesium (a level is their course, not an exposure).
_PATIENT_REPORTS = frozenset({"case_report", "case_series"})
# A title that makes the level an outcome of the supplement ("effects on intracellular
# magnesium", "ionized magnesium as a measure of bioavailability").
_OUTCOME_BEFORE = re.compile(
    r"\b(?:effects?|impact|influence)\s+(?:of\b[^:;]{0,80}?\s|(?:\w+\s+){0,3})on\b|\b(?:increas\w*|rais\w*|improv\w*|"
    r"restor\w*|normali[sz]\w*|correct\w*|bioavailab\w*|absorption|changes?\s+in|response of)\b"
)
# "... in children with type 1 diabetes and hypomagnesaemia": the status of the people studied
# (who they are), whatever the title says the supplement improved.
_POPULATION_WITH = re.compile(
    r"\b(?:in|among|for)\s+(?:[\w-]+\s+){0,3}?(?:patients|children|adults|women|men|people|"
    r"subjects|participants|migraineurs|infants|adolescents)\s+(?:with|who have|having)\s+"
    r"(?:[\w-]+\s+){0,6}?$"
)
_OUTCOME_AFTER = re.compile(
    r"^\W*(?:\w+\W+){0,2}?(?:as an? (?:measure|marker|index|indicator)\b|(?:after|following|"
    r"during|in response to)\b)|"
    # "... levels in neonates of mothers treated with magnesium sulfate": the people's magnesium
    r"\b(?:treated with|receiving|received|given|after|following)\s+(?:\S+\s+){0,4}?"
    r"(?:magnesium|mgso4)\b"
)
# A level read as a predictor of response: a response in the patients with a low level
# ("sustained relief in 86% of patients with low ionized magnesium"), a response related to the
# level ("responses correlated with low serum ionized magnesium", "response matched a low
# level"), or the level picking out responders. "Low brain magnesium has been linked to migraine,
# so we tested whether magnesium citrate is effective" names no response to the level.
_LOW = r"(?:low|lower|reduced|decreased|deficien\w*|hypomagnes\w*|subnormal)"
_RESPONSE_WORD = r"(?:respon\w*|relief|reliev\w*|benefit\w*|improve\w*|effective\w*|succe\w*)"
_RESPONSE_BY_LEVEL = re.compile(
    rf"\b{_RESPONSE_WORD}\b[^.;]{{0,80}}\b(?:patients|subjects|participants|migraineurs|those|"
    rf"people|children|women|men|infusions?|cases)\s+(?:with|who had|having)\s+(?:an?\s+)?{_LOW}\b|"
    rf"\b{_RESPONSE_WORD}\b[^.;]{{0,60}}\b(?:correlat\w*|associat\w*|related|matched|linked|"
    rf"coincided)\b[^.;]{{0,40}}\b(?:{_LOW}|levels?|magnesium)\b|"
    rf"\b(?:correlat\w*|associat\w*|relat\w*)\b[^.;]{{0,60}}\b(?:respon\w*|relief|benefit\w*)|"
    rf"\bwith\s+(?:an?\s+)?{_LOW}\b[^.;]{{0,60}}\b{_RESPONSE_WORD}"
)
_IDENTIFIES_RESPONDERS = re.compile(
    r"\b(?:predict\w*|identif\w*|pick\w* out|select\w*)\b[^.;]{0,60}\b(?:respon\w*|"
    r"benefit\w*|relief)"
)
# A level measured after the magnesium the people took (its outcome), or a supplement's effect on
# a level (bioavailability, "serum magnesium rose with magnesium", "prevents hypomagnesaemia").
_LEVEL_AFTER_GIVEN = re.compile(
    rf"\b(?:after|following|during)\s+(?:\w+\s+){{0,4}}?(?:(?:the\s+)?(?:intake|ingestion|"
    rf"administration|infusion|supplementation|treatment|loading|doses?)\s+of\s+)?"
    rf"(?:\w+\s+){{0,2}}?(?:magnesium|mg|salts?|supplements?|supplementation|infusions?|"
    rf"{_SALT_TOKEN})\b(?!\s+(?:deficiency|depletion|levels?|concentrations?|status))|"
    r"\b(?:different|various|the)\s+salts?\s+(?:were|was)\s+taken\b|"
    r"\bprevent\w*\s+(?:\w+\s+){0,2}hypomagnes\w*|\bbioavailab\w*|\babsorb\w*|\babsorption\b|"
    r"\b(?:rose|rises|rising|increased|raised|raises)\b[^.;]{0,30}\b(?:with|after|on)\s+"
    r"(?:oral\s+|intravenous\s+)?(?:magnesium|supplement\w*|treatment)\b"
)
# Status of people rather than a level in a mechanism ("intracellular magnesium regulates ...").
_PEOPLES_STATUS = re.compile(
    rf"\b{_LOW}\b|\bstatus\b|\b(?:in|of|among|between)\s+(?:\w+\s+)?(?:patients|migraineurs|"
    r"people|persons|subjects|individuals|children|adults|women|men|the population|sufferers|"
    r"those)\b|\bhypomagnes\w*|\bdeficien\w*|"
    # a level related to disease in people ("inversely correlated with the incidence of ...")
    r"\b(?:correlat\w*|associat\w*|linked|related|predict\w*)\b[^.;]{0,40}\b(?:incidence|risk|"
    r"diseases?|mortality|outcomes?|events?|severity|frequency)\b"
)
# An observational study of people who took magnesium: a level related to an outcome, or
# compared with controls, is an exposure.
_AS_PREDICTOR = re.compile(
    r"\b(?:predict\w*|associat\w*|risk|odds|hazard|correlat\w*|related to|relationship)\b"
)
_VS_CONTROLS = re.compile(
    r"\bthan (?:in )?(?:the )?(?:healthy |normal )?(?:controls|control (?:group|subjects))\b|"
    r"\b(?:compared|contrasted) (?:with|to) (?:\w+ ){0,2}(?:controls|healthy)\b|"
    r"\b(?:lower|higher|reduced|decreased) in (?:\w+ ){0,2}(?:patients|migraineurs|cases)\b"
)
# Two magnesium measurements related to each other ("correlation of neonatal and maternal serum
# magnesium levels", "relation between serum and intracellular magnesium"): no outside outcome.
_BETWEEN_LEVELS = re.compile(
    r"\b(?:correlat\w*|relation\w*|agreement|concordance|comparison)\s+(?:of|between)\s+"
    r"(?:[\w-]+\s+){0,3}(?:and|with)\s+(?:[\w-]+\s+){0,3}(?:magnesium|mg)\b"
)
# Hypo- or hypermagnesaemia named as a disorder (a patient's condition), unless the series
# measures how often it occurs or what goes with it ("frequency of hypomagnesemia in patients
# treated with cetuximab", "29.6% became hypomagnesemic", "associated with").
_DISORDER_WORD = re.compile(r"hyp(?:o|er)magnes")
_MEASURED_IN_SERIES = re.compile(
    r"\b(?:frequen\w*|incidence|prevalen\w*|risk|associat\w*|predict\w*|odds|"
    r"proportion)\b|\d\s*%"
)
# Magnesium in a bath, medium or perfusate (laboratory work) is no one's status.
_BATH = re.compile(
    r"\b(?:bath\w*|medium|media|perfus\w*|superfus\w*|slices?|solution|buffer|culture)\b|"
    r"\bmagnesium-free\b|\bmg2\+-free\b"
)
# "Low magnesium goes with insulin resistance": a review speaking of people's low magnesium.
_LOW_MAGNESIUM = gated(
    r"\b(?:low|lower|reduced|decreased|depleted|inadequate|insufficient|suboptimal|poor) "
    r"(?:serum |plasma |blood |body |tissue |total |ioni[sz]ed )?magnesium\b(?![\s-]+(?:doses?|"
    r"diets?|intake|salts?|supplement\w*|preparations?|group|arm))",
    *("low", "reduced", "decreased", "depleted", "inadequate", "insufficient", "suboptimal"),
    "poor",
)
# A review on magnesium's part in causing a disease, or on deficiency, discusses status.
PATHOGENESIS = gated(
    r"\bmagnesium(?:'s)?\b[^.;]{0,40}\b(?:pathogenesis|pathophysiology)\b|"
    r"\b(?:pathogenesis|pathophysiology)\b[^.;]{0,30}\bmagnesium\b|"
    r"\bmagnesium\b[^.;]{0,60}\bdeficien(?:cy|t)\b",
    "pathogenesis",
    "pathophysiology",
    "deficien",
)


@dataclass(frozen=True, slots=True)
class FormResult:
    forms: tuple[str, ...]
    tags: tuple[Tag, ...]
    supplement_given: bool  # a salt or an unspecified magnesium supplement was found
    intake_measured: bool  # diet/water intake (not only a lab level) was found
    # A measured level (serum, tissue, brain) was the study's exposure; with intake_measured,
    # the two meanings of the form "dietary" (see aggregator.tagging).
    status_measured: bool = False


def mask_non_forms(text: str) -> str:
    """Blank out magnesium valproate/stearate so no form rule can see them (offsets kept)."""
    if not NOT_A_FORM.may_match(text):
        return text
    # NOT_A_FORM is compiled for lower-case text; callers pass lower-cased text.
    return NOT_A_FORM.regex.sub(lambda m: " " * len(m.group(0)), text)


def salt_form(word: str) -> str | None:
    """The vocabulary form for one salt word ("bisglycinate" -> "glycinate", "citrates" ->
    "citrate")."""
    cleaned = word.strip().lower()
    cleaned = re.sub(r"^(?:l-|d-)", "", cleaned)
    for candidate in (cleaned, cleaned[:-1]) if cleaned.endswith("s") else (cleaned,):
        for form, pattern in _SALT_LOOKUP:
            if pattern.match(candidate):
                return form
    return None


def _dose_owner_is_magnesium(sentence: Sentence, lower: str, start: int) -> bool:
    """Does an amount at ``start`` ("400 mg ...") belong to magnesium? The nearest element named
    before it in the sentence owns it; with none named before, magnesium must be named in the
    sentence and no other element."""
    owners = [m for m in _ELEMENT.finditer(sentence.text, 0, start)]
    if owners:
        return owners[-1].group(0).lower().startswith("m")
    named = {m.group(0).lower()[:2] for m in _ELEMENT.finditer(sentence.text)}
    return named == {"ma"} or named == {"mg"} or named == {"ma", "mg"}


def _unit_not_symbol(sentence: Sentence, start: int) -> bool:
    """A match starting at "mg" that is the unit (lower case, after a number), not the symbol."""
    return sentence.text.startswith("mg", start) and bool(
        re.search(r"\d\s*$", sentence.text[max(0, start - 8) : start])
    )


# Words that cite other work when they head a clause ("several trials used oxide") but only
# describe the salts when they stand right before them ("we compared several magnesium salts").
_DESCRIBING_BEFORE = re.compile(
    r"\b(?:several|many|numerous|various|different|popular|marketed|like|commonly used|widely "
    r"used|commercially available)(?:\s+(?!(?:trials?|studies|reports?|authors?|investigators?|"
    r"researchers?|papers?|reviews?|groups?|have|has|had|were|was|are|is|used|showed|found|"
    r"tested|compared|reported)\b)[\w-]+){0,2}\s*\(?\s*$"
)


def _counts(sentence: Sentence, start: int, end: int, is_review: bool) -> bool:
    """Does a mention count for the study (a review covers every salt it names)?"""
    if is_review or not is_cited(sentence, start, end):
        return True
    describing = _DESCRIBING_BEFORE.search(sentence.lower, max(0, start - 60), start)
    if describing is None:
        return False
    # Read again without the describing words: still cited only for another reason.
    blank = " " * (describing.end() - describing.start())
    lower = sentence.lower[: describing.start()] + blank + sentence.lower[describing.end() :]
    reread = Sentence(sentence.field, sentence.text, sentence.category, lower)
    return not is_cited(reread, start, end)


@dataclass(frozen=True, slots=True)
class _FormText:
    """An article's sentences as the form rules read them: lower-cased, with magnesium
    valproate/stearate blanked out, plus the joined text and its literal index (for narrowing)."""

    masked: list[tuple[Sentence, str]]
    whole: str
    index: LiteralIndex | None

    @classmethod
    def of(cls, sentences: list[Sentence]) -> _FormText:
        if narrow(NOT_A_FORM, sentences) is None:
            masked = [(s, s.lower) for s in sentences]  # nothing to mask anywhere
        else:
            masked = [(s, mask_non_forms(s.lower)) for s in sentences]
        whole, index = whole_lower(sentences)
        return cls(masked, whole, index)


class _Found(dict[str, Tag]):
    """Forms found so far, each with the provenance of its first mention."""

    def add(self, form: str, sentence: Sentence, start: int, end: int) -> None:
        if form not in self:
            self[form] = Tag("form", form, sentence.field, snippet(sentence.text, start, end))


def find_forms(
    sentences: list[Sentence],
    *,
    is_review: bool,
    combination_product: bool,
    laboratory: bool = False,
    design: str | None = None,
) -> FormResult:
    """Forms given in the study (every form named, for a review), with provenance. Pass the
    already-decided design facts; ``laboratory`` (in vitro work) ignores magnesium in a bath or
    medium. Phases, in order: salts attached to magnesium (and formula, trade and chelate names);
    salts named apart from the word magnesium (lists, anaphora); magnesium given with no salt
    named; magnesium intake or measured status. ``design`` (the decided study type) says whether a
    measured level can be an exposure: see :func:`_dietary`."""
    text = _FormText.of(sentences)
    if not _MENTIONS_MAGNESIUM.search(text.whole) and not any(
        _MG_SYMBOL.search(sentence.text) for sentence in sentences
    ):
        # No magnesium anywhere: no form (another mineral's intake or salts never count).
        return FormResult((), (), supplement_given=combination_product, intake_measured=False)
    found = _Found()
    _attached_salts(text, found, is_review)
    _salts_named_apart(text, found, is_review)
    salts_found = bool(found)
    supplement_given = salts_found or combination_product
    observational = not is_review and design is not None and design not in ASSIGNED_DESIGNS
    pooled = design in ("systematic_review", "meta_analysis")
    if not salts_found:
        supplement_given = (
            _unspecified(text, found, is_review, observational=observational, design=design)
            or supplement_given
        )
    elif is_review:
        _agent_in_list(text, found)
    intake_measured, status_measured = _dietary(
        text,
        found,
        is_review=is_review,
        supplement_given=supplement_given,
        laboratory=laboratory,
        given_study=supplement_given
        and not is_review
        and (design in ASSIGNED_DESIGNS or design in _PATIENT_REPORTS or design == "unclear"),
        salts_reviewed=is_review and (salts_found or (pooled and _title_names_treatment(found))),
        one_patient=design == "case_report",
        pooled_review=pooled,
        patient_series=design == "case_series",
    )
    if (
        not salts_found
        and not is_review
        and "unspecified" in found
        and intake_measured
        and _diet_is_the_exposure(text)
    ):
        # "Rats fed a magnesium-deficient diet", "dietary magnesium supplementation": the
        # magnesium given is the diet's content, not a supplement product.
        del found["unspecified"]
    ordered = tuple(sorted(found, key=FORM_ORDER.__getitem__))
    return FormResult(
        forms=ordered,
        tags=tuple(found[form] for form in ordered),
        supplement_given=supplement_given,
        intake_measured=intake_measured,
        status_measured=status_measured,
    )


def _title_names_treatment(found: _Found) -> bool:
    """Does the title name magnesium given (a salt, or magnesium as a treatment)? A systematic
    review or meta-analysis asks the question its title states: when that is a treatment's effect,
    deficiency or low levels elsewhere in the abstract are its rationale or describe who took
    part (rules 2026.4), as for a review of named salts."""
    return any(tag.field == "title" and tag.value != "dietary" for tag in found.values())


def _diet_is_the_exposure(text: _FormText) -> bool:
    """Is a diet of stated magnesium content given to the subjects ("rats were fed a
    magnesium-deficient diet")?"""
    narrowed = DIET_CONTENT.narrowed(text.whole, text.index)
    if narrowed is None:
        return False
    return any(
        narrowed.search(lower, lower) is not None and _FED.search(lower) is not None
        for _, lower in text.masked
    )


def _attached_salts(text: _FormText, found: _Found, is_review: bool) -> None:
    """Phase 1: "magnesium citrate", "Mg-citrate", "magnesium oxide, citrate or glycinate",
    "salts of magnesium such as ...", MgO/MgSO4/Epsom salt, trade names, amino-acid chelate."""
    phrases = [
        (narrowed, also, min_salts)
        for phrase, (also, min_salts) in zip(SALT_PHRASES, _PHRASE_ALSO, strict=True)
        if (narrowed := phrase.narrowed(text.whole, text.index)) is not None
    ]
    aliases = [
        (form, narrowed)
        for form, alias in ALIAS_PATTERNS
        if (narrowed := alias.narrowed(text.whole, text.index)) is not None
    ]
    mentions_glycine = "glycin" in text.whole
    dose_salt = _DOSE_SALT.narrowed(text.whole, text.index)
    acid_salt = _ACID_SALT.narrowed(text.whole, text.index)
    for sentence, lower in text.masked:
        for phrase, also, min_salts in phrases:
            if also and not any(word in lower for word in also):
                continue
            # The narrowed rule's literals are the salt stems present in this article.
            if min_salts > 1 and sum(lower.count(stem) for stem in phrase.keywords) < min_salts:
                continue
            for match in phrase.finditer(lower, lower):
                forms = [salt_form(salt.group(0)) for salt in _SALT_IN_PHRASE.finditer(match[0])]
                if all(form is None or form in found for form in forms):
                    continue  # nothing new to add: skip the costly context checks
                if not _counts(sentence, match.start(), match.end(), is_review):
                    continue
                before = lower[max(0, match.start() - 30) : match.start()]
                starts_with_magnesium = match[0].startswith(("m", "tri", "di"))
                if starts_with_magnesium:
                    if _NOT_SUPPLEMENT_BEFORE.search(before):
                        continue
                    if _unit_not_symbol(sentence, match.start()) and not (
                        _dose_owner_is_magnesium(sentence, lower, match.start())
                    ):
                        continue  # "calcium 500 mg as citrate": the unit, not the symbol
                elif _OTHER_COMPOUND_BEFORE.search(before):
                    continue
                for form in forms:
                    if form:
                        found.add(form, sentence, match.start(), match.end())
        if dose_salt is not None:
            _add_dose_salts(dose_salt, sentence, lower, found, is_review)
        if acid_salt is not None:
            for match in acid_salt.finditer(lower, lower):
                form = SALT_ACIDS[re.sub(r"[- ]", " ", match.group(1) or match.group(2))]
                if form not in found and _counts(sentence, match.start(), match.end(), is_review):
                    found.add(form, sentence, match.start(), match.end())
        for form, alias in aliases:
            if form in found:
                continue
            for match in alias.finditer(lower, lower):
                if _counts(sentence, match.start(), match.end(), is_review):
                    found.add(form, sentence, match.start(), match.end())
                    break
        if "amino" not in lower or "glycinate" in found or not mentions_glycine:
            continue
        for match in _AMINO_CHELATE.finditer(lower):
            if _counts(sentence, match.start(), match.end(), is_review):
                found.add("glycinate", sentence, match.start(), match.end())


def _add_dose_salts(
    rule: Gated, sentence: Sentence, lower: str, found: _Found, is_review: bool
) -> None:
    """ "400 mg of citrate", "300 mg (as citrate)" in a sentence about magnesium: the salt counts
    when the amount is magnesium's."""
    if "magnes" not in lower and _MG_SYMBOL.search(sentence.text) is None:
        return
    for match in rule.finditer(lower, lower):
        forms = [salt_form(salt.group(0)) for salt in _SALT_IN_PHRASE.finditer(match[0])]
        if all(form is None or form in found for form in forms):
            continue
        if not _counts(sentence, match.start(), match.end(), is_review):
            continue
        if not _dose_owner_is_magnesium(sentence, lower, match.start()):
            continue
        for form in forms:
            if form:
                found.add(form, sentence, match.start(), match.end())


def _salts_named_apart(text: _FormText, found: _Found, is_review: bool) -> None:
    """Phase 2: salts named away from the word magnesium, in a sentence that mentions
    magnesium or right after one that does: "the magnesium trials used different preparations,
    including a bisglycinate chelate and a lactate-citrate mixture", "given as citrate or
    oxide", "organic (citrate, glycinate) and inorganic (oxide) salts". A salt word right after
    another element or drug (zinc gluconate, N-methyl-D-aspartate) is never counted."""
    apart = _SALTS_APART.narrowed(text.whole, text.index)
    if apart is None:
        return
    # A title about magnesium salts ("bioavailability of ten Mg salts") makes every salt list
    # of its abstract a list of magnesium salts.
    about_salts = any(
        _TITLE_ABOUT_SALTS.search(lower)
        for sentence, lower in text.masked
        if sentence.field == "title"
    )
    previous_mentions = False
    for sentence, lower in text.masked:
        mentions = _MAGNESIUM_WORD.search(lower) is not None
        if mentions or previous_mentions or about_salts:
            for match in apart.finditer(lower, lower):
                # Even in a review, a salt named apart only counts when it is not contrasted,
                # cited or said to be untested ("other salts such as glycinate were not
                # studied").
                if (
                    not _counts(sentence, match.start(), match.end(), is_review)
                    or _UNTESTED.search(lower)
                    or _OTHER_BEFORE.search(lower, max(0, match.start() - 12), match.start())
                ):
                    continue
                for salt in _SALT_IN_PHRASE.finditer(lower, match.start(), match.end()):
                    form = salt_form(salt.group(0))
                    if form is None or form in found:
                        continue
                    if _OTHER_COMPOUND_BEFORE.search(
                        lower[max(0, salt.start() - 30) : salt.start()]
                    ):
                        continue
                    found.add(form, sentence, match.start(), match.end())
        previous_mentions = mentions


def _unspecified(
    text: _FormText,
    found: _Found,
    is_review: bool,
    *,
    observational: bool = False,
    design: str | None = None,
) -> bool:
    """Phase 3: magnesium given (or, in a review, discussed as a treatment) with no salt named.
    True when magnesium was given.

    In a primary study, mentions in the background (a BACKGROUND section, or the preamble of an
    unstructured abstract before it states its own aim or design), speculation, and exclusion
    criteria ("patients taking magnesium-containing drugs were excluded") are not magnesium
    given. In an observational study, supplements named as part of the intake measured ("intake
    from food and supplements") or as a covariate recorded are not a supplement given. Outside
    observational studies, magnesium named as the intervention ("magnesium versus placebo",
    "efficacy of magnesium in ...") is given. A case report of hypo- or hypermagnesaemia reports
    magnesium taken (the cause) or given (the treatment)."""
    unspecified = _narrowed(UNSPECIFIED, text.whole, text.index)
    if not observational:
        unspecified = (*unspecified, *_narrowed(_INTERVENTION, text.whole, text.index))
    hypothetical = hypothetical_gate([sentence for sentence, _ in text.masked])
    intake = narrowed_or_never(DIETARY_INTAKE, [sentence for sentence, _ in text.masked])
    preamble = set() if is_review else _preamble(text.masked)
    for number, (sentence, lower) in enumerate(text.masked):
        if not is_review and (
            number in preamble
            or is_hypothetical(sentence, hypothetical)
            or sentence.category == "BACKGROUND"
        ):
            continue
        if observational and (
            intake.search(lower, lower) is not None or _COVARIATE.search(lower) is not None
        ):
            continue
        given = _first_unspecified(unspecified, lower, sentence, is_review)
        if given is not None:
            found.add("unspecified", sentence, given.start(), given.end())
            return True
    if design == "case_report":
        dysmagnesaemia = next(
            (
                (sentence, match)
                for sentence, lower in text.masked
                if (match := _DYSMAGNESAEMIA.search(lower)) is not None
            ),
            None,
        )
        if dysmagnesaemia is not None and any(
            _TAKEN_OR_TREATED.search(lower) and _MAGNESIUM_OR_ELECTROLYTES.search(lower)
            for _, lower in text.masked
        ):
            sentence, match = dysmagnesaemia
            found.add("unspecified", sentence, match.start(), match.end())
            return True
    if is_review:
        # A review naming magnesium as a treatment, or among the agents it reviews, covers it
        # even without dosing words. In a review about intake or status, magnesium named only as
        # intake, a level or a mechanism is no treatment: there it needs treatment wording.
        about_status = _about_intake(text) or _about_status(text)
        # A review that never speaks of treating with anything (physiology, "role of magnesium
        # in vitamin D activation") does not weigh magnesium as a treatment (rules 2026.4).
        treats = about_status or _TREATMENT_WORDS.search(text.whole) is not None
        for sentence, lower in text.masked:
            if intake.search(lower, lower) is not None:
                continue
            listed = _AGENT_LIST.search(lower)
            if listed is not None and _NOT_AN_AGENT.search(lower) is None:
                found.add("unspecified", sentence, listed.start(), listed.end())
                return True
            for match in _MAGNESIUM_TREATMENT.finditer(lower):
                if _STATUS_BEFORE.search(lower, max(0, match.start() - 20), match.start()):
                    continue  # "low blood magnesium": a level
                if _DISTURBED_BEFORE.search(lower, max(0, match.start() - 40), match.start()):
                    continue  # "cancer and its treatment disturb magnesium": status
                if not (
                    treats
                    or _USED_FOR.match(lower, match.end())
                    or _PRODUCT_AFTER.match(lower, match.end())
                ):
                    continue
                window = lower[max(0, match.start() - 50) : match.end() + 50]
                if (
                    not about_status
                    or _TREATMENT_WORDS.search(window)
                    or _USED_FOR.match(lower, match.end())
                ):
                    found.add("unspecified", sentence, match.start(), match.end())
                    return True
    return False


# The abstract's own aim, design or participants ("we", "this study", "the aim was", "patients
# were enrolled"): sentences before the first such one, in an unstructured abstract, are its
# preamble (background).
_OWN_WORK = re.compile(
    r"\b(?:we|our|us|this|these|here|herein|present|current|the authors?|the investigators|aim\w*|"
    r"objectives?|purpose|goal|hypothes\w*|design|methods?)\b|\b(?:were|was) (?:enrolled|included|"
    r"recruited|randomi[sz]ed|studied|assigned|allocated|evaluated|examined|treated|given|"
    r"conducted|performed|carried out|analy[sz]ed|measured|followed)\b|\b(?:patients|participants|"
    r"subjects|children|adults|women|men|volunteers)\b[^.;]{0,60}\b(?:received|took)\b|^\W*(?:a|an)"
    r" \d+-year-old\b|^\W*(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|"
    r"forty|fifty|sixty|seventy|eighty|ninety|hundred)\b"
)
_PREAMBLE_MAX = 3


def _preamble(masked: list[tuple[Sentence, str]]) -> set[int]:
    """Indices of the background sentences that open an unstructured abstract, before the first
    one about the article's own work (at most three; none when the abstract is structured or no
    sentence names the article's own work)."""
    abstract = [
        number for number, (sentence, _) in enumerate(masked) if sentence.field == "abstract"
    ]
    if not abstract or any(masked[number][0].category for number in abstract):
        return set()
    for position, number in enumerate(abstract[: _PREAMBLE_MAX + 1]):
        if _OWN_WORK.search(masked[number][1]):
            return set(abstract[:position])
    return set()


# Magnesium named as the intervention a study tested (not an observational exposure).
_INTERVENTION = (
    gated(
        # "magnesium (n = 40) or placebo": a group size may stand between (rules 2026.4)
        rf"\b{_MAGW}\s*(?:\([^()]{{0,24}}\)\s*)?(?:versus|vs\.?|compared (?:with|to)|or placebo|"
        r"and placebo)\b|^\W*magnesium\s+(?:therapy\s+|treatment\s+)?for\s+(?!\d)|"
        rf"\b(?:versus|vs\.?|compared (?:with|to))\s+(?:\w+\s+)?{_MAGW}(?![\s-]+(?:levels?|"
        r"concentrations?|status|deficiency|intake))|"
        r"\bmagnesium\s+(?:for|in)\s+(?:the\s+)?(?:acute\s+|preventive\s+|prophylactic\s+)?"
        r"(?:treatment|prevention|prophylaxis|management|therapy|relief|abortive)\b|"
        r"\bmagnesium\s+as\s+(?:an?\s+)?(?:adjuvant|adjunct\w*|treatment|therapy|abortive|"
        r"prophylactic|preventive|add-on)\b|\bmagnesium[- ]treated\b|"
        r"\b(?:efficacy|effectiveness|safety|tolerability|benefit)\s+of\s+(?:\w+\s+)?magnesium\b"
        r"(?![\s-]+(?:levels?|concentrations?|status|deficiency|intake|content))",
        *(
            "versus",
            "vs",
            "compared",
            "placebo",
            "magnesium for",
            "treatment",
            "prevention",
            "prophylaxis",
        ),
        *("management", "therapy", "relief", "abortive", " as ", "treated", "efficacy"),
        *("effectiveness", "safety", "tolerability", "benefit"),
    ),
)
# Supplements or drugs recorded as a covariate of an observational study, not given by it.
_COVARIATE = re.compile(
    r"\b(?:were|was) (?:also )?(?:recorded|collected|documented|noted|registered|retrieved|"
    r"extracted)\b|\badjust\w* for\b|\bcovariates?\b|\bconfounders?\b"
)
# A case report of too little or too much magnesium: taken (laxatives, antacids, infusions) or
# given back (supplementation, replacement, repletion).
_DYSMAGNESAEMIA = re.compile(
    r"\bhyp(?:o|er)magnes(?:a|ae|e)mi\w*|\b(?:low|high|elevated|raised|toxic)\s+(?:serum\s+)?"
    r"magnesium\b|\bmagnesium\s+(?:toxicity|intoxication|overdose|poisoning)\b"
)
_TAKEN_OR_TREATED = re.compile(
    r"\b(?:laxatives?|cathartics?|antacids?|enemas?|supplement\w*|replacement|repletion|replet\w*|"
    r"replenish\w*|"
    r"infus\w*|intravenous|oral|ingest\w*|overdose|taking|took|corrected|correction|given|"
    r"administered|treated with|substitution)\b"
)
_STATUS_BEFORE = re.compile(
    r"\b(?:low|lower|high|higher|blood|serum|plasma|brain|ioni[sz]ed|intracellular|extracellular|"
    r"urinary|dietary|tissue|total|free|cellular|erythrocyte|body)\s+$"
)
# Magnesium as the object of what disturbs it ("drugs that deplete magnesium", "how cancer
# disturbs magnesium"): the patients' status, not a treatment.
_DISTURBED_BEFORE = re.compile(
    r"\b(?:disturb|deplet|lower|reduc|wast|affect|alter|impair|decreas|derang|dysregulat|"
    r"los[es]|lost|losing)\w*\s+(?:\w+\s+){0,2}$"
)
# "The magnesium form matters", "magnesium preparations": the products people take.
_PRODUCT_AFTER = re.compile(
    r"[\s-]+(?:forms?|salts?|preparations?|formulations?|products?|supplements?|tablets?)\b"
)
# "Magnesium for migraine", "magnesium versus metoclopramide": magnesium as a treatment.
_USED_FOR = re.compile(r"\s+(?:for|versus|vs\.?|against|compared)\b")
_MAGNESIUM_OR_ELECTROLYTES = re.compile(r"magnes|\belectrolytes?\b|\bminerals?\b")
# Words on treating with magnesium, near the word (reviews covering magnesium, no salt named).
_TREATMENT_WORDS = re.compile(
    r"\b(?:treat\w*|therap\w*|prophyla\w*|prevent\w*|relie\w*|manag\w*|supplement\w*|"
    r"administ\w*|effective\w*|efficac\w*|doses?|dosing|infusions?|use of|used|"
    r"option|abortive|intravenous|oral|toleran\w*|tolerated|safe|trials?|rescue|acute)\b"
)


# Magnesium as one agent of several in a list ("feverfew, riboflavin and magnesium").
_AGENT_LIST = re.compile(
    r"(?:\b[\w-]+(?: [\w-]+)?, ){1,}(?:[\w-]+(?: [\w-]+)? )?(?:and |or )magnesium\b|"
    r"(?:\b[\w-]+(?: [\w-]+)?, ){2,}magnesium(?:,| and\b| or\b)|"
    r"\bmagnesium, (?:[\w-]+(?: [\w-]+)?, )*(?:[\w-]+(?: [\w-]+)?,? )?(?:and|or) [\w-]+|"
    r"\b(?:including|such as|like) (?:oral |intravenous )?magnesium\b"
)
# Magnesium in a list of minerals, levels or salts, or a sentence of search terms: not an agent.
_NOT_AN_AGENT = re.compile(
    rf"\b(?:serum|plasma|dietary|low|brain|ioni[sz]ed|intracellular|urinary|blood|tissue|total|"
    rf"cellular|erythrocyte)\s+magnesium\b|"
    rf"\bmagnesium[\s-]+(?:intakes?|levels?|deficien\w*|status|concentrations?|ions?)\b|"
    rf"\b(?:minerals?|electrolytes?|cations?|keywords?|search terms?|mesh|key words)\b|"
    rf"\bmagnesium[\s-]+{_SALT_TOKEN}\b|\bmagnesium,\s+(?:\w+\s+)?{_SALT_TOKEN}\b"
)


def _agent_in_list(text: _FormText, found: _Found) -> None:
    """A review that names salts for some studies but lists magnesium itself among the agents
    it reviews ("feverfew, riboflavin and magnesium carry level B support") covers magnesium
    with no salt as well."""
    for sentence, lower in text.masked:
        if "magnesium," not in lower and ", magnesium" not in lower and " magnesium" not in lower:
            continue
        match = _AGENT_LIST.search(lower)
        if match is None or _NOT_AN_AGENT.search(lower):
            continue
        found.add("unspecified", sentence, match.start(), match.end())
        return


def _about_status(text: _FormText) -> bool:
    """Does the article speak of magnesium status (a level, deficiency, hypomagnesaemia)?"""
    return any(
        (narrowed := rule.narrowed(text.whole, text.index)) is not None
        and narrowed.search(text.whole, text.whole) is not None
        for rule in (STATUS, _DEFICIT, _LOW_MAGNESIUM)
    )


def _about_intake(text: _FormText) -> bool:
    """Does the article speak of magnesium intake or diet anywhere?"""
    narrowed = DIETARY_INTAKE.narrowed(text.whole, text.index)
    return narrowed is not None and narrowed.search(text.whole, text.whole) is not None


def _dietary(
    text: _FormText,
    found: _Found,
    *,
    is_review: bool,
    supplement_given: bool,
    laboratory: bool,
    given_study: bool,
    salts_reviewed: bool = False,
    one_patient: bool = False,
    pooled_review: bool = False,
    patient_series: bool = False,
) -> tuple[bool, bool]:
    """Phase 4: magnesium intake (diet, water) or measured magnesium status (serum, tissue,
    brain) as the study's exposure. Returns (intake, status); both map to the form ``dietary``,
    only intake to the dietary route.

    ``given_study``: the investigators gave magnesium (a trial, a protocol, an animal study, a
    patient treated with it, or a study of unclear design that gave it). There, intake is the
    supplement (or background) unless the title studies it, and a level is an outcome or safety
    check unless it is read as a predictor of response or the title makes it a subject. Magnesium
    in a cell bath or medium is neither.

    ``salts_reviewed``: a review (letter, editorial) that names magnesium salts is about the
    supplements; the deficiency or low intake they are meant to correct is their background, so
    intake and status count there only in the title. ``one_patient``: a case report's level is
    that patient's course (a cause found, a treatment given), never a status compared between
    groups. ``pooled_review``: a systematic review or meta-analysis is about the studies it
    included; a status claim of earlier work in its background is not its subject."""
    # Masking only blanks characters, so a space-free literal in masked text is in the original.
    dietary_intake = narrowed_or_never(DIETARY_INTAKE, [sentence for sentence, _ in text.masked])
    diet_content = narrowed_or_never(DIET_CONTENT, [sentence for sentence, _ in text.masked])
    previous_mentions = False
    for sentence, lower in text.masked:
        mentions = _MAGNESIUM_WORD.search(lower) is not None
        near_magnesium, previous_mentions = mentions or previous_mentions, mentions
        if not is_review and sentence.category == "BACKGROUND":
            continue
        diet = diet_content.search(lower, lower)
        if diet is not None and _FED.search(lower) is None:
            diet = None  # a diet described ("magnesium-poor modern diets"), not one given
        if (given_study or salts_reviewed) and sentence.field != "title" and diet is None:
            continue
        intake = diet or next(
            (m for m in dietary_intake.finditer(lower, lower) if _symbol_ok(sentence, *m.span())),
            None,
        )
        if intake is None or not near_magnesium:
            continue  # intake of what? only magnesium's counts
        if supplement_given and _VEHICLE.search(lower, max(0, intake.start() - 12), intake.end()):
            continue  # "salt given in drinking water": water is the vehicle, not the exposure
        if _counts(sentence, intake.start(), intake.end(), is_review):
            found["dietary"] = Tag(
                "form", "dietary", sentence.field, snippet(sentence.text, *intake.span())
            )
            return True, False
    if laboratory or one_patient:
        return False, False
    status = _status_tag(
        text.masked,
        supplement_given=supplement_given,
        is_review=is_review,
        given_study=given_study,
        salts_reviewed=salts_reviewed,
        pooled_review=pooled_review,
        patient_series=patient_series,
        index=text.index,
    )
    if status is not None:
        found["dietary"] = status
    return False, status is not None


def merge_indexed_forms(result: FormResult, article: Article) -> FormResult:
    """When the wording names no salt, take salts from substances, MeSH and keywords.

    NLM indexes substances the full text discusses, so they only fill a gap: they never add a
    second salt next to one the abstract states. A salt found this way replaces "unspecified".
    """
    if any(form in SALT_WORDS for form in result.forms):
        return result
    sources = [
        *(("substance", chemical.name) for chemical in article.chemicals),
        *(("mesh", heading.descriptor) for heading in article.mesh_headings),
        *(("keyword", keyword) for keyword in article.keywords),
    ]
    found: dict[str, Tag] = {}
    for field, raw in sources:
        text = mask_non_forms(lowercase(collapse(raw)))
        for phrase in (*SALT_PHRASES, *(alias for _, alias in ALIAS_PATTERNS)):
            for match in phrase.finditer(text):
                words = [m.group(0) for m in _SALT_IN_PHRASE.finditer(match.group(0))]
                forms = [salt_form(w) for w in words] or [
                    form for form, alias in ALIAS_PATTERNS if alias.search(match.group(0))
                ]
                for form in forms:
                    if form and form not in found:
                        found[form] = Tag("form", form, field, collapse(raw))
    if not found:
        return result
    kept = {tag.value: tag for tag in result.tags if tag.value != "unspecified"}
    kept.update(found)
    ordered = tuple(sorted(kept, key=FORM_ORDER.__getitem__))
    return FormResult(
        forms=ordered,
        tags=tuple(kept[form] for form in ordered),
        supplement_given=True,
        intake_measured=result.intake_measured,
    )


def with_combination_form(result: FormResult, combination: Tag) -> FormResult:
    """A combination product whose magnesium salt is not named gives magnesium unspecified
    (the ``combination_product`` flag says it came in a product)."""
    if any(form in SALT_WORDS or form == "unspecified" for form in result.forms):
        return result
    tag = Tag("form", "unspecified", combination.field, combination.snippet)
    kept = {t.value: t for t in result.tags}
    kept["unspecified"] = tag
    ordered = tuple(sorted(kept, key=FORM_ORDER.__getitem__))
    return FormResult(
        forms=ordered,
        tags=tuple(kept[form] for form in ordered),
        supplement_given=True,
        intake_measured=result.intake_measured,
    )


def _narrowed(
    patterns: tuple[Gated, ...], whole: str, index: LiteralIndex | None = None
) -> tuple[Gated, ...]:
    narrowed = (pattern.narrowed(whole, index) for pattern in patterns)
    return tuple(pattern for pattern in narrowed if pattern is not None)


def _first_unspecified(
    patterns: tuple[Gated, ...], text: str, sentence: Sentence, is_review: bool
) -> re.Match[str] | None:
    for pattern in patterns:
        for match in pattern.finditer(text, text):
            if not _counts(sentence, match.start(), match.end(), is_review):
                continue
            if not _symbol_ok(sentence, match.start(), match.end()):
                continue  # "500 mg": the unit, not the element
            if not is_review and (
                _EXCLUSION_BEFORE.search(text, 0, match.start())
                or is_negated(sentence, match.start(), match.end())
            ):
                continue  # an exclusion criterion, or magnesium not given
            return match
    return None


_MG_TOKEN = re.compile(r"\bmg\b")
_NUMBER_BEFORE = re.compile(r"\d\s*$")


def _symbol_ok(sentence: Sentence, start: int, end: int) -> bool:
    """Every "mg" inside the match that does not follow a number (a unit: "250 mg") is the
    element symbol, written "Mg" in the original ("IV Mg", "the Mg group")."""
    lower = sentence.lower
    if "mg" not in lower[start:end]:
        return True
    for token in _MG_TOKEN.finditer(lower, start, end):
        at = token.start()
        if _NUMBER_BEFORE.search(sentence.text, max(0, at - 8), at):
            continue  # the unit of an amount
        if sentence.text[at : at + 2] != "Mg":
            return False
    return True


# An exclusion criterion before a mention ("after exclusion of ..., magnesium-containing drug
# intake", "patients not taking magnesium").
_EXCLUSION_BEFORE = re.compile(
    r"\bexclu\w+\b(?![^.;]{0,80}\b(?:were|was) (?:included|enrolled|randomi[sz]ed))|"
    r"\bnot (?:taking|receiving|using|given)\b|\bwithout (?:prior |previous )?(?:use of|taking)\b"
)


def _status_tag(
    masked: list[tuple[Sentence, str]],
    *,
    supplement_given: bool,
    is_review: bool,
    given_study: bool = False,
    salts_reviewed: bool = False,
    pooled_review: bool = False,
    patient_series: bool = False,
    index: LiteralIndex | None = None,
) -> Tag | None:
    """Magnesium status measured (serum, brain, ...) as the exposure counts as "dietary".

    - Where magnesium was given to the people studied (``given_study``), a level counts only in
      the title (unless framed as the supplement's effect) or read as a predictor of response.
    - In an observational study of people who took magnesium, a level counts when it is related
      to an outcome (predicts, is associated with) or compared with controls, not when it is
      measured after the magnesium they took (an outcome or safety check).
    - A review discussing deficiency, low levels in people or magnesium's part in a disease's
      pathogenesis discusses status; a level as the outcome of supplements (bioavailability,
      "serum magnesium rose", "prevents hypomagnesaemia") is not, nor a mechanism ("intracellular
      magnesium regulates ..."), nor any status mention outside the title of a review of salts
      (``salts_reviewed``). In a systematic review or meta-analysis (``pooled_review``), status
      counts outside its background (a BACKGROUND section, the preamble of an unstructured
      abstract, a claim of earlier work).
    - In a series of patients (``patient_series``), hypo- or hypermagnesaemia is the patients'
      disorder (what the report is about, like a case report's), not a status compared between
      groups: it counts only read as a predictor of response. A level measured across the series
      (serum, erythrocyte magnesium, "magnesium status") still can.
    - In an observational study of people who took magnesium, a level in the title too must be
      related to an outcome or compared with controls, and a relation between two magnesium
      measurements ("correlation of maternal and cord serum magnesium") is the treatment's
      pharmacokinetics, not an exposure.

    ``index`` is the literal index of the unmasked sentences, used only when masking changed
    nothing."""
    whole = " ".join(text for _, text in masked)
    if any(text is not sentence.lower for sentence, text in masked):
        index = None  # masked text differs from what the index saw
    rules: tuple[Gated, ...] = (STATUS,)
    if is_review:
        rules = (STATUS, _DEFICIT, PATHOGENESIS, _LOW_MAGNESIUM)
    elif not supplement_given:
        rules = (STATUS, _DEFICIT)
    status_patterns = _narrowed(rules, whole, index)
    if not status_patterns:
        return None
    preamble = _preamble(masked) if pooled_review else set()
    for number, (sentence, text) in enumerate(masked):
        if (not is_review or pooled_review) and sentence.category == "BACKGROUND":
            continue
        if (salts_reviewed and sentence.field != "title") or number in preamble:
            continue
        for pattern in status_patterns:
            match = next(
                (m for m in pattern.finditer(text, text) if _symbol_ok(sentence, *m.span())), None
            )
            if match is None:
                continue
            if (not is_review or pooled_review) and is_cited(sentence, match.start(), match.end()):
                continue
            if _BATH.search(text):
                continue  # magnesium in a bath or medium
            if (
                patient_series
                and _DISORDER_WORD.match(text, match.start())
                and not _MEASURED_IN_SERIES.search(text)
                and not _read_as_predictor_of_response(sentence, text)
            ):
                continue  # the patients' disorder, not a status measured or compared
            if given_study or (supplement_given and sentence.field == "title"):
                if sentence.field == "title":
                    population = _POPULATION_WITH.search(
                        text, max(0, match.start() - 80), match.start()
                    )
                    if population is None and (
                        _OUTCOME_BEFORE.search(text, 0, match.start())
                        or _OUTCOME_AFTER.search(text[match.end() :])
                    ):
                        continue
                    if (
                        population is None
                        and not given_study
                        and (
                            _BETWEEN_LEVELS.search(text)
                            or not (_AS_PREDICTOR.search(text) or _VS_CONTROLS.search(text))
                        )
                    ):
                        continue  # treated people observed: the level is the treatment's
                elif not _read_as_predictor_of_response(sentence, text):
                    continue
            elif is_review:
                if _LEVEL_AFTER_GIVEN.search(text):
                    continue  # the supplements' effect on the level
                if pattern.regex is STATUS.regex and not _PEOPLES_STATUS.search(text):
                    continue  # a level in a mechanism, not the status of people
            elif supplement_given and pattern.regex is STATUS.regex:
                if _LEVEL_AFTER_GIVEN.search(text) or not (
                    _AS_PREDICTOR.search(text) or _VS_CONTROLS.search(text)
                ):
                    continue
                if _CONDITIONAL.search(text[max(0, match.start() - 60) : match.start()]):
                    continue
            return Tag(
                "form",
                "dietary",
                sentence.field,
                snippet(sentence.text, match.start(), match.end()),
            )
    return None


def _read_as_predictor_of_response(sentence: Sentence, text: str) -> bool:
    """Is the level in this sentence read as a predictor of response to the magnesium given
    ("relief in 86% of patients with low ionized magnesium", "responses correlated with low
    serum magnesium", "measuring it may identify patients likely to benefit")? A speculative
    sentence counts only when it names the prediction."""
    if _IDENTIFIES_RESPONDERS.search(text):
        return True
    if _RESPONSE_BY_LEVEL.search(text) is None:
        return False
    return not is_hypothetical(sentence)


# One order of forms: the vocabulary's (SALT_WORDS must name the salts in that order).
FORM_ORDER: dict[str, int] = {form: index for index, form in enumerate(FORMS)}
if tuple(SALT_WORDS) != SALT_FORMS:
    raise RuntimeError("SALT_WORDS must list every salt of vocab.SALT_FORMS, in that order")
