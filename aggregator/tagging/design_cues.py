"""Design cues: what a reviewer looks for before naming a study design.

Each cue answers part of one question of the design procedure (``study_design.py``):

- what kind of publication is it: a notice (retraction, erratum, expression of concern), a
  protocol or registration, a letter or editorial, a guideline, a review;
- for a review: were sources searched systematically, were results pooled;
- who or what was studied: people, animals of any species, cells or tissue in the laboratory;
- did the investigators assign an intervention; is there a comparison group and how was it formed
  (randomly, by site, by time, by patient choice, concurrently without randomisation); crossover;
  blinding;
- when were outcomes measured relative to exposure: once (cross-sectional), forward (cohort),
  backward from the outcome (case-control), or is it a description of one or a few patients.

Every cue is one :class:`CueRule` row: a name, a gated regex (see ``text.Gated``) and where it
may be found. Mentions that refer to other work ("previous randomised trials showed ...", "a
placebo-controlled trial is needed") are skipped, so a cohort study citing trials has no
``randomised`` cue. Only the first occurrence of each cue is kept (with its snippet), plus a count
for the cues whose recurrence matters.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass

from aggregator.tagging.text import (
    Gated,
    LiteralIndex,
    Sentence,
    gated,
    is_cited,
    is_negated,
    snippet,
    whole_lower,
)
from aggregator.vocab import Tag


@dataclass(frozen=True, slots=True)
class CueRule:
    """Wording that signals one cue. ``where`` is "title", "abstract", "any" or "sentence" (an
    abstract sentence at a time, so ``^`` anchors at each sentence's start); ``cited_ok``
    cues count even in a mention of other work (article kinds, subjects of a review)."""

    name: str
    pattern: Gated
    where: str = "any"
    cited_ok: bool = False
    # Fires only when the same sentence also matches this (e.g. healthy controls need patients).
    requires: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Cue:
    name: str
    tag: Tag  # kind "design_cue", value = name, field and snippet of the first occurrence
    count: int  # sentences with this cue (counted up to 3)


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


_DATABASES = (
    r"(?:pubmed|medline|embase|cochrane(?: library| central| register)?|central|web of science|"
    r"scopus|cinahl|psycinfo|google scholar|lilacs|clinicaltrials\.gov|(?:trials?|speciali[sz]ed|"
    r"study|group)(?:'s)? registers?|(?:electronic |bibliographic )?databases?)"
)
_PATIENTS = _rx(
    r"\b(?:patients|migraineurs|cases|sufferers|(?:individuals|people|subjects|children|women|"
    r"adults|adolescents|participants) (?:with|who had|suffering)|(?:with|without) (?:\w+[- ])?"
    r"(?:migraine|headache|disease|sclerosis|diabetes))\b"
)
_ANIMALS = (
    r"rats?|mice|mouse|murine|rodents?|rabbits?|guinea[- ]pigs?|hamsters?|gerbils?|ferrets?|"
    r"cats|felines?|dogs|canines?|pigs|piglets?|swine|porcine|minipigs?|sows|boars?|sheep|lambs|"
    r"ewes?|goats?|cattle|cows|calves|heifers|steers|bulls|bovine|horses?|ponies|foals|mares?|"
    r"equine|poultry|chickens?|chicks|broilers?|hens|laying hens|quails?|turkeys|ducks|fish(?! oil)"
    r"|"
    r"zebrafish|trout|salmon|carp|tilapia|monkeys?|macaques?|primates|baboons?|marmosets?|"
    r"drosophila|c\. elegans|nematodes?|animals|wistar|sprague[- ]dawley|c57bl\S*|balb/c"
)

RULES: tuple[CueRule, ...] = (
    # --- what kind of publication -------------------------------------------------------------
    CueRule(
        "notice",
        gated(
            r"^(?:notice of )?(?:retraction|retracted|erratum|errata|corrigendum|correction|"
            r"expression of concern|withdrawn|withdrawal)\b(?:\s*(?:notice|note|statement))?\s*"
            r"(?:[:\-–(\[]|to\b|for\b|of\b|in\b|$)",
            *("retract", "errat", "corrigend", "correction", "concern", "withdraw"),
        ),
        where="title",
    ),
    CueRule(
        "notice",
        gated(
            r"\b(?:this|the) (?:\w+ ){0,2}(?:article|paper|review|publication|report|manuscript)"
            r"(?: \w+){0,3} (?:has been|was|is being|is) (?:retracted|withdrawn)|"
            r"\b(?:editors?|publishers?|journal|authors) (?:\w+ ){0,3}(?:have |has )?(?:retracted|"
            r"retract|issu\w+ an expression of concern)|\bexpression of concern\b|"
            r"\b(?:notice of|this) retraction\b|\bretraction (?:notice|note)\b|"
            r"\bthis (?:erratum|correction|corrigendum)\b|\ban error (?:was|has been) (?:found|iden"
            r"tified|noticed|made|discovered)\b|\b(?:withdrawal|retraction) notice\b|"
            r"\bthe authors regret\b|\bthis corrects\b|\b(?:has been|was) withdrawn from\b",
            *("retract", "concern", "erratum", "correction", "corrigendum", "error", "regret"),
            *("corrects", "withdrawn"),
        ),
        cited_ok=True,
    ),
    CueRule(
        "protocol",
        gated(
            r"\bprotocol\b(?! (?:violation|deviation))|\brationale and design\b|"
            r"\bdesign and rationale\b|\bstudy design\b(?=\s*(?:$|:))",
            "protocol",
            "rationale",
        ),
        where="title",
        cited_ok=True,
    ),
    CueRule(
        "protocol",
        gated(
            r"\b(?:study|trial|review) protocol\b|\bthis protocol\b|\bprotocol (?:for|of) (?:a|an|"
            r"the) (?:\w+[- ]){0,4}(?:trial|study|review)|\bthe protocol (?:describes|outlines)\b",
            "protocol",
        ),
    ),
    CueRule(
        "future_design",
        gated(
            r"\b(?:will|would|shall) (?:be )?(?:randomi[sz]ed|randomly|recruit\w*|enrol\w*|"
            r"allocated|assigned|included|screened|followed|invited|stratified|blinded|"
            r"measured|assessed|compared|analy[sz]ed|collected|conducted|performed|evaluated|"
            r"receive|undergo|test|determine|examine|investigate|be the primary|compare|assess|"
            r"evaluate|measure|enrol|enroll|recruit|include|randomi[sz]e|allocate|assign)\b|"
            r"\bwe (?:will|plan to|intend to|propose to) (?:\w+ )?(?:recruit|randomi[sz]e|enrol\w*|"
            r"compare|assess|conduct|include|search|evaluate|test|examine|investigate|measure|"
            r"determine|follow)\b|\b(?:are|is) being (?:recruited|conducted|enrolled|randomi[sz]ed)"
            r"\b|\b(?:is|are|was) (?:planned|proposed)\b|\bplanned (?:sample|enrol\w*|recruitment)"
            r"\b|\bthe (?:planned|proposed) (?:trial|study)\b|\b(?:a|the) (?:planned|proposed|"
            r"forthcoming) (?:[\w-]+ ){0,3}(?:review|trial|study)\b|\bwas (?:meant|intended) to "
            r"(?:compare|test|assess|evaluate|enrol\w*|recruit|include|randomi[sz]e|examine|"
            r"determine|measure)\b|"
            # A registration read later: what each participant "was to" do, no results posted.
            r"\b(?:was|were) to (?:be )?(?:randomi[sz]ed|take|receive|cross(?:ed)? over|undergo|"
            r"given|assigned|allocated|followed|recruited|enrolled)\b|\bno results (?:were |have "
            r"been |are )?(?:posted|shown|reported|available)\b|\bwith no results\b",
            *("will", "would", "shall", "plan", "intend", "propose", "being", "was to "),
            *("forthcoming", "meant to"),
            *("were to ", "no results"),
        ),
        where="abstract",
    ),
    CueRule(
        "withdrawn_trial",
        gated(
            r"\b(?:trial|study) (?:was|has been) (?:withdrawn|terminated|stopped|suspended) "
            r"(?:before|prior to|without)\b|\bno (?:participants|patients) (?:were|was) "
            r"(?:enrolled|recruited)\b|\bwithdrawn before enrol\w*|\b(?:listed|registered|marked|"
            r"recorded|status(?: is)?:?) as withdrawn\b|\bwithdrawn (?:before|prior to) "
            r"(?:enrol\w*|"
            r"recruitment|the start|starting)\b",
            *("withdrawn", "terminated", "stopped", "suspended", "no participants", "no patients"),
            *("listed as", "registered as", "marked as", "recorded as", "status"),
        ),
    ),
    CueRule(
        "results",
        gated(
            r"\bp ?[<=>≤] ?0?\.\d|\b95 ?% ?ci\b|\bconfidence interval|\bsignificant(?:ly)? "
            r"(?:\w+ )?(?:reduc|improv|increas|decreas|higher|lower|better|worse|associat|differ)\w"
            r"*|"
            r"\b(?:was|were) (?:significantly |not |no )?(?:associated|reduced|improved|increased|"
            r"decreased|lower|higher|similar|comparable|found|observed|detected)\b|"
            r"\b(?:did not|didn't) (?:differ|improve|reduce|change)\b|\bwe found\b|"
            r"\b(?:odds|hazard|risk) ratio\b|\bresponder rate\b|"
            # rules 2026.4: "(P trend = 0.01)", "(HR 1.39", "(aOR 2.1", "(RR 0.64"
            r"\bp(?: for)?[ -]trend\b|\((?:a?hr|a?or|rr|irr)s?\b[ ,=:]*\d",
            *(
                "p ",
                "p<",
                "p=",
                "p>",
                "p≤",
                "ci",
                "confidence",
                "significant",
                "was ",
                "were ",
                "did",
            ),
            *("found", "ratio", "responder", "trend", "(hr", "(or", "(rr", "(ahr", "(aor", "(irr"),
        ),
        where="abstract",
    ),
    CueRule(
        "letter",
        gated(
            r"letter to the editor|\bin this letter\b|\bthis letter\b|\bdear editor\b|"
            r"\b(?:this|an|the present) editorial\b|\bthis commentary\b|\bwe read with (?:great )?"
            r"interest|\bauthors'? reply\b|\bin (?:response|reply) to (?:the |your |our |a |an |"
            r"their |his |her )?(?:\w+ ){0,2}(?:letter|comments?|article|correspondence|editorial|"
            r"critique|"
            r"concerns|dr\b|paper|review|report|quer(?:y|ies)|questions|remarks|criticism)\b|"
            r"\bcomment(?:s|ing)? on (?:the |a |an |this |their )?(?:\w+ ){0,3}(?:article|paper|"
            r"letter|review|editorial|report|publication)\b|\bwe (?:would like|wish|want) to "
            r"(?:comment|add|point out|respond|draw attention|raise)\b|\b(?:recently|recent) "
            r"(?:published )?(?:article|paper|report|letter) (?:by|of|in)\b|"
            r"\bi read (?:with|the)\b|"
            r"\bto the editor\b|\bwe thank (?:the authors|dr\b|professor)",
            *("letter", "editor", "commentary", "read with", "reply", "response to", "comment"),
            *("would like to", "wish to", "want to", "recent article", "recent paper"),
            *("recent report", "recent letter", "recently published", "i read", "we thank"),
        ),
        cited_ok=True,
    ),
    # A salutation opening a sentence of the abstract ("Madam, ...", "Dear Sir,").
    CueRule(
        "letter",
        gated(r"^\W*(?:dear )?(?:sirs?|madam)\b", "sir", "madam"),
        where="sentence",
        cited_ok=True,
    ),
    CueRule(
        "letter",
        gated(
            r"^(?:comment(?:ary)? on|reply|response to|re:|letter:|editorial:|in reply|"
            r"correspondence\b|author(?:s'?|'s) reply|a reply\b|a response to)",
            *("comment", "reply", "response", "re:", "letter", "editorial", "correspondence"),
        ),
        where="title",
    ),
    CueRule(
        "opinion",
        gated(
            r"\bexpert opinion\b|\bopinion (?:piece|paper|article)\b|\bpersonal view\b|"
            r"\bviewpoint\b|\bperspective(?:s)? (?:on|article)\b|\bin this perspective\b|"
            r"\bwe (?:argue|contend|propose that)\b|\bten beliefs\b|\bmyths?\b|\bdebate\b|"
            r"\b(?:the authors?|we) (?:argu\w*|advis\w*|contend\w*|caution\w*|maintain\w*|"
            r"believ\w*)\b",
            *("opinion", "personal view", "viewpoint", "perspective", "argu", "contend"),
            *("propose that", "beliefs", "myth", "debate", "advis", "caution", "maintain"),
            "believ",
        ),
    ),
    CueRule(
        "opinion",
        gated(r"^(?:why|how|should|can|is|are|do|does|what) [^.?]{3,160}\?$", "?"),
        where="title",
    ),
    CueRule(
        "guideline",
        gated(
            r"\bguidelines?\b|\bconsensus\b|position (?:statement|paper)|practice parameter|"
            r"\brecommendations (?:of|from|for|on)\b|\bkey methodological\b|\bgood practice\b",
            *("guideline", "consensus", "position", "practice parameter", "recommendations"),
            *("key methodological", "good practice"),
        ),
        where="title",
        cited_ok=True,
    ),
    CueRule(
        "guideline",
        gated(
            r"\bth(?:is|ese) guidelines?\b|guideline (?:panel|committee|development|update|group)|"
            r"\b(?:expert|consensus|guideline|task force) (?:panel|group)\b|\btask force\b|"
            r"consensus (?:statement|conference|meeting|process|recommendations?|document)|"
            r"\bdelphi\b|\bwe (?:issue|provide|present|make|developed|formulated|offer|propose) "
            r"(?:\w+ ){0,3}recommendations\b|\blevel [a-c] (?:recommendations?|evidence)\b|"
            r"\b(?:strong|weak|conditional) recommendations?\b|\brecommendations (?:are|were) "
            r"(?:made|given|provided|formulated|graded)\b|\bgrade (?:of|system)\b",
            *("guideline", "panel", "group", "task force", "consensus", "delphi", "recommendation"),
            "grade",
        ),
    ),
    CueRule(
        "guidelines_compared",
        gated(
            r"\b(?:compar\w*|review\w*|apprais\w*|summari[sz]\w*|summary of|analy[sz]\w*) (?:\w+[- "
            r"]){0,4}"
            r"(?:guidelines|recommendations)\b|\b(?:guidelines|recommendations) (?:\w+ ){0,3}"
            r"(?:were|are) (?:compared|reviewed|appraised|analy[sz]ed)\b|\bacross (?:\w+ ){0,3}"
            r"guidelines\b",
            *("guidelines", "recommendations"),
        ),
    ),
    CueRule(
        "review_of_reviews",
        gated(
            r"\b(?:scoping|umbrella) reviews?\b|\boverview of (?:\w+ ){0,2}reviews\b|\breview of "
            r"(?:\w+ ){0,2}(?:systematic reviews|meta-?analyses|reviews)\b",
            "scoping",
            "umbrella",
            "reviews",
            "analyses",
        ),
    ),
    # --- reviews --------------------------------------------------------------------------------
    CueRule(
        "review",
        gated(
            r"(?<!retrospective )(?<!chart )(?<!record )(?<!records )(?<!case )(?<!peer )\breview\b"
            r"|"
            r"\boverview\b|\bupdate on\b|\bstate of the art\b|\bcurrent (?:concepts|evidence|"
            r"perspectives|status|understanding)\b|\bwhat (?:do|we) (?:we )?know\b|\bbeliefs\b|"
            r"\bfrom bench to bedside\b",
            *("review", "overview", "update on", "state of the art", "current", "what "),
            *("beliefs", "bench to bedside"),
        ),
        where="title",
    ),
    CueRule(
        "review",
        gated(
            r"\b(?:this|the present|our|the current|a) (?:\w+[- ]){0,3}(?<!retrospective )(?<!chart"
            r" )"
            r"(?<!record )(?<!records )(?<!case )(?<!peer )(?:review|overview)\b(?! "
            r"(?:board|committee|process))|"
            r"\b(?:we|the authors?|this (?:article|paper|chapter)) (?:\w+ )?(?:review|reviews|"
            r"overview|appraises?)\b|\bin this (?:review|chapter)\b|\b(?:this|the) (?:article|"
            r"paper|chapter|narrative) (?:\w+ )?(?:reviews|summari[sz]es|discusses|examines|surveys"
            r"|"
            r"describes|explores|outlines|considers)\b|\bnarrative review\b|\bliterature review\b|"
            r"\bpurpose of (?:this |the )?review\b|"
            r"\breview (?:of|on) (?:the )?(?:literature|evidence|current|published)|\b(?:integrated"
            r"|"
            r"integrative|comprehensive|critical|clinical|updated|brief|mini-?) review\b|"
            r"\ban overview of\b|\bthis chapter\b|\bin this chapter\b|\bbook chapter\b|"
            r"\bwe (?:provide|give|present) (?:an? )?(?:\w+ ){0,2}(?:overview|summary|update|"
            r"appraisal)\b|\b(?:brings?|draws?|pulls?) together (?:the )?(?:[\w-]+ ){0,4}"
            r"(?:evidence|data|literature|studies|trials|findings|research)\b|\bthe chapter\b|"
            r"\b(?:this|the) (?:article|paper|chapter) (?:\w+ )?(?:traces|recounts|tells|charts|"
            r"reflects on|synthesi[sz]es)\b",
            *("review", "overview", "summar", "discuss", "apprais", "describe", "examine"),
            *("article", "paper", "chapter", "narrative", "update", "together"),
        ),
        cited_ok=True,
    ),
    CueRule(
        "discussion",
        gated(
            r"\b(?:we|the authors?|this (?:article|paper|chapter)) (?:\w+ )?(?:summari[sz]es?|"
            r"discuss(?:es)?|outlines?|explores?|surveys?|presents? and discusses|describes? the "
            r"(?:evidence|literature|current)|examines? the (?:evidence|literature)|looks? at "
            r"(?:the|what))\b|\bin this (?:article|paper)\b",
            *("summar", "discuss", "outline", "explore", "survey", "describe", "examine", "look"),
            "in this",
        ),
        cited_ok=True,
    ),
    CueRule(
        "literature_review_attached",
        gated(
            r"\b(?:and|with|plus)(?: a)? (?:\w+ )?(?:review of (?:the )?literature|literature "
            r"review)\b|\b(?:our|a) (?:brief )?review of (?:the )?(?:literature|published (?:cases|"
            r"reports))\b",
            "review of",
            "literature review",
        ),
        cited_ok=True,
    ),
    CueRule(
        "systematic_search",
        gated(
            r"\bsystematic(?:al)? review\b(?!s| of (?:the )?(?:medical )?records)|"
            r"\bsystematically (?:searched|reviewed|identified|assessed)\b|"
            r"\bprisma\b|\b(?:scoping|umbrella) reviews?\b|\b(?:searched|search(?:es)? of|"
            rf"searching)(?: [\w'’]+){{0,7}} {_DATABASES}|{_DATABASES}(?: (?:and|,)? ?[\w.]+)"
            rf"{{0,6}} "
            r"(?:were|was) searched\b|\bsystematic (?:literature )?search\b|\bliterature "
            r"search(?:es)? (?:was|were) (?:performed|conducted|carried out)\b|\bselection "
            r"criteria\b|\b(?:two|2|independent) (?:\w+ )?reviewers\b|\bincluded (?:studies|"
            r"trials|rcts)\b|\b(?:studies|trials|rcts) were (?:eligible|included|identified)\b|"
            r"\brisk of bias\b|\bnetwork meta-?analys|\bcochrane (?:systematic )?review\b|\b(?:soug"
            r"ht|"
            r"searched for|looked for) (?:\w+ ){0,3}(?:randomi[sz]ed|controlled|clinical) "
            r"(?:\w+ )?(?:trials|studies)\b",
            *("systematic", "prisma", "scoping", "umbrella", "search", "selection criteria"),
            *("reviewers", "included", "eligible", "identified", "risk of bias", "network"),
            *("cochrane", "sought", "looked for"),
        ),
    ),
    CueRule(
        "pooled",
        gated(
            r"\bmeta-?analy(?:sis|ses)\b|\bmetaanalys[ie]s\b|\bpooled analysis\b",
            "meta",
            "pooled analysis",
        ),
        where="title",
    ),
    CueRule(
        "pooled",
        gated(
            r"\b(?:this|our|the present|the current|we (?:\w+ )?(?:performed|conducted|did|"
            r"undertook|carried out) a) (?:\w+[- ]){0,3}meta-?analysis\b|\bsystematic review (?:and"
            r"|"
            r"with) (?:a )?meta-?analysis\b|\bmeta-?analy(?:sis|ses) (?:was|were) (?:performed|"
            r"conducted|done|carried out|undertaken|used)\b|\bmeta-?analy[sz]ed\b|\bpool(?:ed|ing) "
            r"(?:\w+ ){0,3}(?:trials|studies|rcts|data)\b|\b(?:trials|studies|data|results) were "
            r"pooled\b|\bwe pooled\b|\bpooled (?:analysis|estimates?|effects?|odds ratios?|risk "
            r"ratios?|mean differences?|relative risks?|prevalence|results)\b|random[- ]effects? "
            r"(?:model|meta)|\bforest plots?\b|\bstandardi[sz]ed mean differences?\b|\bindividual "
            r"patient data\b",
            *("meta", "pool", "random-effect", "random effect", "forest plot", "standardi"),
            "individual patient data",
        ),
        where="abstract",
    ),
    CueRule(
        "meta_analysis_mentioned",
        gated(r"\bmeta-?analy(?:sis|ses)\b", "meta"),
        where="abstract",
        cited_ok=True,
    ),
    # --- who or what was studied ----------------------------------------------------------------
    CueRule(
        "cells",
        gated(
            r"\b(?:endothelial|epithelial|smooth muscle|cancer|tumou?r|stem|neuronal|glial|hela|"
            r"cultured|isolated) cells?\b|\bhuvecs?\b|\bcell (?:lines?|cultures?|models?)\b|"
            r"\bin vitro\b",
            *("cells", "huvec", "cell line", "cell culture", "cell model", "in vitro"),
        ),
        where="title",
    ),
    CueRule(
        "cells",
        gated(
            r"\b(?:cells|neurons|astrocytes|slices|myocytes|cardiomyocytes|macrophages|"
            r"fibroblasts|keratinocytes|monolayers) (?:were|was) (?:\w+ )?(?:cultured|incubated|"
            r"grown|superfused|perfused|bathed)\b|\b(?:magnesium|mg2\+|mg)[- ]free (?:medium|"
            r"solution|buffer|bath)\b|"
            r"\bin vitro\b|\bex vivo\b|\bcultured (?:\w+ ){0,2}(?:cells|neurons|astrocytes|"
            r"myocytes|cardiomyocytes|slices|macrophages)\b|\bcell cultures?\b|\bcell lines?\b|"
            r"\b(?:brain|hippocampal|cortical) slices\b|\bpatch[- ]clamp\b|\borganotypic\b|"
            r"\bhek ?293\b|\bsh-sy5y\b|\bcaco-?2\b|\borgan baths?\b|\bisolated (?:\w+ ){0,2}"
            r"(?:arter(?:y|ies)|vessels?|segments|rings|tissues?|hearts?|cells|mitochondria)\b|"
            r"\b(?:arterial|vascular) (?:rings|segments)\b|\bbioaccessib\w*|\bsimulated (?:\w+ )?"
            r"(?:digestion|gastric|intestinal)\b|\bdissolution (?:test|testing|profiles?|rate)\b|"
            r"\b(?:incubated|exposed) (?:\w+ ){0,3}(?:cells|neurons|slices|tissue|medium)\b|"
            r"\bculture medium\b|\bbath(?:ing)? (?:solution|medium)\b|\bmacrophages\b|\bfreshly "
            r"(?:obtained|isolated|excised|dissected)\b|\b10 ?(?:\^|\()?[-−–]\d+\)? ?m\b|"
            r"\bconcentration[- ]response\b|\bcontractile responses?\b",
            *("vitro", "vivo", "cultur", "cell line", "slices", "patch", "organotypic", "hek"),
            *("sh-sy5y", "caco", "organ bath", "isolated", "rings", "segments", "bioaccessib"),
            *("simulated", "dissolution", "incubated", "exposed", "bath", "macrophage"),
            *("freshly", "10", "concentration-response", "concentration response", "contractile"),
            *("grown", "perfused", "free medium", "free solution", "free buffer", "free bath"),
        ),
    ),
    CueRule(
        "animals",
        gated(
            rf"\b(?:{_ANIMALS})\b|\banimal (?:models?|study|studies|experiments?)\b|"
            r"\bin vivo\b|\bexperimental (?:animals|model)\b",
            *("rat", "mice", "mouse", "murine", "rodent", "rabbit", "pig", "hamster", "gerbil"),
            *("ferret", "cats", "feline", "dogs", "canine", "swine", "porcine", "sows", "boar"),
            *("sheep", "lamb", "ewe", "goat", "cattle", "cows", "calves", "heifer"),
            *("steer", "bull", "bovine", "horse", "poni", "foal", "mare", "equine", "poultry"),
            *("chick", "broiler", "hens", "quail", "turkeys", "ducks", "fish", "trout", "salmon"),
            *("carp", "tilapia", "monkey", "macaque", "primate", "baboon", "marmoset"),
            *("drosophila", "elegans", "nematode", "animal", "wistar", "sprague", "c57bl"),
            *("balb", "in vivo", "experimental"),
        ),
    ),
    CueRule(
        "humans",
        gated(
            r"\b(?:patients|participants|volunteers|migraineurs|women|men|children|adults|"
            r"adolescents|people|outpatients|inpatients|subjects|individuals|infants|students|"
            r"residents|respondents|pregnan\w+|mothers|workers|athletes|veterans|consumers|"
            r"persons|population|humans?(?! (?:skin|tissues?|cells?|cell lines?|serum|plasma|"
            r"samples?|keratinocytes|fibroblasts|hair|explants?|biopsies|donors?|brain slices))|"
            r"healthy (?:\w+ )?(?:males|females)|(?:a|an) \d+-year-old)\b",
            *("patient", "participant", "volunteer", "migraineur", "women", "men", "children"),
            *("adult", "adolescent", "people", "subject", "individual", "infant", "student"),
            *("resident", "respondent", "pregnan", "mother", "worker", "athlete", "veteran"),
            *("consumer", "person", "population", "human", "male", "female", "year-old"),
        ),
    ),
    # --- single patients and series -----------------------------------------------------------
    CueRule(
        "single_patient",
        gated(
            r"\bcase report\b|\b(?:we|the authors?) (?:report|describe|present) (?:a|an|the|one) (?"
            r":case|patient|"
            r"\d+-year-old|(?:\w+[- ]){0,2}(?:man|woman|boy|girl|patient|primigravida))\b|"
            r"\b(?:a|an) \d+-year-old (?:\w+ ){0,2}(?:man|woman|boy|girl|patient|female|male|"
            r"primigravida|multigravida|gravida)\b|\bcase of (?:a|an) \d+-year-old|\bthis case\b(?!"
            r"[- ]"
            r"(?:control|series|crossover))|"
            r"\bsingle case\b|\bcase presentation\b|\bthe patient (?:was|had|presented|developed|"
            r"underwent|received)\b|\b(?:a|an|one) (?:young |elderly |middle-aged )?(?:man|woman|"
            r"boy|girl) (?:who|with|presented|presenting)\b",
            *("case", "year-old", "we report", "we describe", "we present", "the patient"),
            *("man ", "woman", "boy", "girl", "authors describe", "authors report"),
            *("authors present", "author describes", "author reports", "author presents"),
        ),
    ),
    CueRule(
        "case_series",
        gated(
            r"\bcase series\b|\bseries of (?:\d+|\w+) (?:\w+ )?(?:patients|cases|children|adults|"
            r"injections)\b|\bconsecutive (?:cases|patients)\b|\b(?:two|three|four|five|six|seven|"
            r"eight|nine|ten|\d+) (?:\w+ )?(?:cases|patients) (?:are|were) (?:described|reported|"
            r"presented)\b|\bwe (?:describe|report|present) (?:two|three|four|five|six|seven|eight|"
            r"nine|ten|\d+) (?:\w+ )?(?:cases|patients)\b|\bcase reports? and (?:a )?series\b|"
            r"\b(?:the authors?|we|to) (?:describe|report|present) (?:two|three|four|five|six|"
            r"seven|eight|nine|ten|\d+) (?:\w+ )?(?:cases|patients|people|children|infants|"
            r"neonates|adults|women|men)\b|"
            r"\b(?:clinical|replication|consecutive|treatment) series\b|\bcase histories\b",
            *("case series", "series of", "consecutive", "cases", "patients", "describe", "report"),
            *("present", "series", "case histories"),
        ),
    ),
    # --- intervention and allocation ------------------------------------------------------------
    CueRule(
        "randomised",
        gated(
            # Every alternative starts with "random": the look-ahead skips other positions fast.
            r"(?=random)(?:(?<![\w-])randomi[sz](?:ed|ation|ing)\b|\brandomly (?:assigned|"
            r"allocated|divided|distributed|selected to receive)\b|\brandom (?:allocation|"
            r"assignment|order|sequence)\b)",
            "random",
        ),
    ),
    CueRule(
        "not_randomised",
        gated(
            r"\bnon-?randomi[sz]ed\b|\bnot randomi[sz]ed\b|\bwithout randomi[sz]ation\b|"
            r"\bquasi-?(?:experimental|randomi[sz]ed)\b|\bnon-?random(?:ly)? (?:allocat|assign)\w*|"
            r"\bnot (?:randomly|random) (?:allocated|assigned)\b",
            "random",
            "quasi",
        ),
    ),
    CueRule(
        "randomised",
        gated(
            r"\b(?:divided|allocated|assigned|distributed|split|placed|sorted) (?:\w+ ){0,2}"
            r"randomly\b|"
            r"\brandomly (?:\w+ )?into (?:two|three|four|2|3|4) (?:\w+ )?(?:groups|arms)\b",
            "randomly",
        ),
    ),
    # The authors call their study a controlled (interventional) one: a comparison they formed.
    CueRule(
        "controlled_study",
        gated(
            r"(?<!case-)(?<!case )(?<!placebo-)(?<!placebo )(?<!sham-)\bcontrolled "
            r"(?:interventional |intervention |clinical |before[- ]and[- ]after |comparative "
            r"|prospective )?(?:study|trial)\b|"
            r"\binterventional (?:comparative |controlled |prospective )?(?:study|trial)\b|"
            r"\bprospective (?:interventional|comparative) (?:\w+ )?study\b|\bcomparative "
            r"(?:clinical |interventional |prospective )?(?:study|trial) of\b",
            *("controlled study", "controlled trial", "controlled interventional"),
            *("controlled intervention", "controlled clinical", "controlled before"),
            *("controlled comparative", "controlled prospective", "interventional"),
            *("prospective comparative", "comparative"),
        ),
    ),
    CueRule(
        "allocation_by_site_time_or_choice",
        gated(
            r"\bhistorical (?:controls?|cohort|comparison)\b|\balternate(?:ly)? allocat\w*|"
            r"\ballocated alternately\b|\b(?:allocated|assigned) (?:\w+ ){0,3}(?:by|according to) "
            r"(?:site|centre|center|hospital|ward|week|day|month|preference|choice|birth date|date)"
            r"\b|"
            r"\b(?:patient|participant|parental|own) (?:preference|choice)\b|\b(?:chose|elected|"
            r"opted|preferred) (?:to (?:receive|take|use)|either|between)\b|"
            r"\b(?:before|after) (?:the )?"
            r"(?:implementation|introduction)\b|\bbefore and after (?:the )?(?:\w+ ){0,3}(?:was|wer"
            r"e) "
            r"(?:introduced|implemented|adopted)\b|\bpre-?(?:implementation|intervention) (?:period"
            r"|"
            r"phase|cohort|group)\b|\b(?:two|both|each of (?:the )?two) (?:\w+ ){0,2}(?:emergency "
            r"departments|hospitals|centres|centers|sites|clinics|wards|units)\b[^.;]{0,80}\b"
            r"(?:each|one|the other|respectively)\b|\bconsecutive "
            r"(?:\w+ ){0,2}patients\b[^.;]{0,120}\b(?:other|another|previous|subsequent|"
            r"following) (?:\d+ )?(?:\w+ ){0,2}(?:consecutive )?patients\b|\bserved as "
            r"(?:the )?(?:controls?|comparison|control group)\b|\bcontemporaneous controls?\b|"
            r"\bconcurrent (?:control|comparison)\b|"
            r"\bgroup (?:i|1|a)\b[^.]{0,120}\b(?:19|20)\d\d\b[^.]{0,200}"
            r"\bgroup (?:ii|2|b)\b[^.]{0,120}\b(?:19|20)\d\d\b",
            *("historical", "alternate", "allocated", "assigned", "preference", "choice", "chose"),
            *("elected", "opted", "preferred", "implementation", "introduction", "pre-"),
            *("introduced", "implemented", "adopted"),
            *("pre", "two", "both", "each", "consecutive", "served as", "contemporaneous"),
            "concurrent",
            "group",
        ),
    ),
    CueRule(
        "crossover",
        gated(
            r"\bcross-?over\b|\bcrossed over\b|\b(?:received|took|given|taking|receiving) "
            r"(?:[\w/.-]+ ){0,4}each (?:of (?:the )?)?(?:\w+ ){0,3}(?:preparations?|products?|"
            r"formulations?|supplements?|salts?|compounds?)\b",
            *("crossover", "cross-over", "crossed", "each"),
        ),
    ),
    CueRule(
        "blinded",
        gated(
            r"\b(?:double|single|triple|patient|observer|assessor|investigator)[- ]blind(?:ed)?\b|"
            r"\bblinded\b|\bmasked\b",
            "blind",
            "masked",
        ),
    ),
    CueRule(
        "placebo",
        gated(
            r"(?:\bplacebo[- ]controlled\b|\b(?:versus|vs\.?|or|to|with|and|than) (?:a )?(?:matchin"
            r"g |"
            r"identical |inert |saline )?placebo\b|\bplacebo (?:group|arm|tablets?|capsules?)\b|"
            r"\b(?:received|receiving|given|took|taking|administered) (?:a |an |the )?(?:matching |"
            r"identical )?placebo\b|"
            r"\bsham\b)(?! effects?\b| responses?\b)",
            "placebo",
            "sham",
        ),
    ),
    CueRule(
        "trial",
        gated(
            r"(?<!target )\btrials?\b(?! (?:registration|register|registry|number|identifier|emulat"
            r"ion))|"
            r"\bintervention study\b|\bdose[- ]finding\b|\bphase (?:i{1,3}|iv|[1-4])\b",
            "trial",
            "intervention study",
            "dose",
            "phase",
        ),
        where="title",
    ),
    CueRule(
        "trial",
        gated(
            r"\b(?:this|our|the present|the current|a|an) (?:\w+[- ]){0,5}(?:(?<!target )trial|"
            r"intervention study)\b(?! emulation)|\bclinical (?:trial|study) (?:of|was|in)\b",
            "trial",
            "intervention study",
            "clinical",
        ),
    ),
    CueRule(
        "assigned_intervention",
        gated(
            r"\b(?:patients|participants|subjects|children|adults|women|men|volunteers|"
            r"migraineurs|inpatients|outpatients|students|adolescents|infants|they|all|each|"
            r"group|groups|arm|\d+)\b[^.;]{0,100}\b(?:received|were given|were treated with|took|"
            r"were administered|were started on|were supplemented|were assigned|were allocated|"
            r"were injected|were infused|consumed|ingested|were switched)\b|"
            r"\b(?:allocated|assigned) to (?:receive|take|either|one of)\b|"
            r"\btreatment (?:group|arm)\b|\bsupplementation (?:group|arm)\b|"
            r"\bgroups? (?:i{1,3}|iv|[a-d1-4])\b[^.;]{0,20}\b(?:had|got|took|received|was given|"
            r"were given)\b|"
            r"\b(?:given|administered|supplemented) (?:\w+ ){0,3}(?:daily|twice|once|for \d+)\b|"
            r"\b(?:we|the authors?|investigators) (?:gave|administered|treated|offered|prescribed|"
            r"infused|injected)\b|\b(?:were|was) (?:treated|infused|injected)\b|"
            r"\bwe (?:evaluated|assessed|tested|studied|examined) the (?:efficacy|effects?|"
            r"effectiveness|safety) of (?:an? )?(?:[\w-]+ ){0,5}(?:infusion|injection|treatment|"
            r"administration|supplementation|regimen)\b|\b(?:patients|participants|subjects) "
            r"(?:treated|infused|injected) with\b",
            *("received", "given", "treated with", "took", "administered", "started on"),
            *("supplemented", "assigned", "allocated", "injected", "infused", "consumed"),
            *("ingested", "switched", "treatment group", "treatment arm", "supplementation"),
            *("gave", "treated", "offered", "prescribed", "infused", "we evaluated the"),
            *("we assessed the", "we tested the", "we studied the", "we examined the"),
        ),
    ),
    CueRule(
        "single_arm",
        gated(
            r"\bopen[- ]label\b(?![,]? (?:randomi|controlled))|\bsingle[- ](?:arm|group)\b|"
            r"\buncontrolled\b|\bpilot (?:study|trial)\b|\bnon-?comparative\b|"
            r"\b(?:no|without an?) (?:control|comparison|placebo) (?:group|arm)\b|"
            r"\bopen (?:(?:clinical|pilot|prospective) )?(?:trial|study)\b",
            *("open-label", "open label", "single", "uncontrolled", "pilot", "comparative"),
            *("no control", "no comparison", "no placebo", "without a"),
            *("open trial", "open study", "open clinical", "open pilot", "open prospective"),
        ),
    ),
    # Outcomes compared with the same people's baseline: a single-arm trial's analysis, but also
    # a chart review's ("pain before and after treatment was recorded"), so not a trial by itself.
    CueRule(
        "pre_post",
        gated(
            r"\bbefore[- ]and[- ]after\b|\bpre-?post\b|"
            r"\b(?:changes?|improvements?|reductions?|decreases?|increases?|fell|rose|improved|"
            r"decreased|increased|reduced|declined|dropped) (?:\w+ ){0,3}from baseline\b|"
            r"\bcompared (?:with|to) (?:the |their )?(?:own )?(?:baseline|pre-?treatment)\b",
            *("before", "pre-post", "prepost", "baseline", "pretreatment", "pre-treatment"),
        ),
    ),
    CueRule(
        "two_groups",
        gated(
            r"\bgroups? (?:ii|b|2)\b|\bboth (?:\w+ )?groups\b|"
            r"\b(?:two|2) (?:\w+ ){0,2}(?:groups|arms|regimens|regimes|cohorts)\b|"
            r"\beach (?:treatment |study )?group\b|\bthe other group\b|"
            r"\bbetween (?:the )?(?:two )?groups\b",
            *("group", "arms", "regimen", "regime", "cohorts"),
        ),
        where="abstract",
    ),
    CueRule(
        "control_group",
        gated(
            r"\bcontrol (?:group|arm|condition|subjects|participants)\b|\b(?:versus|vs\.?|against)"
            r"\b|\bcompared (?:with|to) (?:a |an |the )?(?:\w+ ){0,3}(?:group|arm|controls|patients"
            r" who|those who|standard|usual|conventional)\b|\bcomparison group\b|\bactive "
            r"comparator\b|\b(?:\d+|two|three|four) (?:\w+ )?(?:groups|arms)\b|\bcontrols\b",
            *("control", "versus", "vs", "against", "compared", "comparison", "comparator"),
            *("groups", "arms"),
        ),
        where="abstract",
    ),
    # --- observational timing ----------------------------------------------------------------
    CueRule(
        "case_control_label",
        gated(
            r"\bcase[- ](?:control|referent|crossover)\b(?! comparison)|\bmatched controls?\b|"
            r"\bnested case\b",
            *("case-control", "case control", "case-referent", "case referent", "case-crossover"),
            *("case crossover", "matched control", "nested case"),
        ),
    ),
    CueRule(
        "healthy_controls",
        gated(
            r"\b(?:healthy|age-matched|sex-matched|age- and sex-matched|non-?migraine|"
            r"headache-free|normal|unaffected) (?:\w+ )?(?:controls|control subjects|control "
            r"group|volunteers|subjects|individuals|siblings|people)\b|\bcontrol subjects\b|"
            r"\b\d+ (?:\w+ )?controls\b|\band (?:\w+ ){0,2}controls\b|\bthan (?:in )?controls\b|"
            r"\b(?:compared|contrasted) (?:with|to) (?:\w+ ){0,2}(?:controls|siblings|healthy)\b",
            *("control", "volunteers", "healthy", "subjects", "individuals", "siblings", "people"),
        ),
        requires=_PATIENTS,
    ),
    CueRule(
        "cross_sectional_label",
        gated(
            r"\bcross-?sectional\b|(?<!authors )(?<!we )\bsurveys?\b(?! (?:the|of the) (?:evidence|"
            r"literature))|\bquestionnaire(?:[- ]based|s? (?:was|were) "
            r"(?:sent|distributed|administered|completed|mailed))\b|\bprevalence (?:study|survey)\b"
            r"|"
            r"\bnhanes\b|\bdoor-to-door\b|\bonline questionnaire\b|\bnational (?:health )?"
            r"(?:survey|sample)\b|\bsingle (?:visit|time point|measurement)\b|\bat one time point\b"
            r"",
            *("cross", "survey", "questionnaire", "prevalence", "nhanes", "door-to-door"),
            *("national", "single", "one time"),
        ),
    ),
    CueRule(
        "cross_sectional_label",
        gated(r"\bprevalence\b|\bsurvey\b", "prevalence", "survey"),
        where="title",
    ),
    # People sampled from a population and examined once: a survey's design words.
    CueRule(
        "population_sample",
        gated(
            r"\bpopulation[- ]based (?:study|sample|survey|screening)\b|\bpopulation study\b|"
            r"\b(?:random|representative|stratified) (?:\w+ )?sample of\b|\bepidemiological "
            r"(?:study|survey)\b(?! (?:with|and) follow)|\bcommunity[- ]based (?:study|survey|"
            r"sample)\b|\bhospital[- ]based (?:cross|study|survey)",
            *("population", "sample of", "epidemiological", "community", "hospital"),
        ),
    ),
    CueRule(
        "observational",
        gated(
            r"\bprospective(?:ly)? (?:observational|registry)\b|\bobservational "
            r"(?:study|analysis|design|cohort)\b|\bnon-?interventional (?:study|analysis)\b",
            "prospective",
            "observational",
            "interventional",
        ),
    ),
    # "Prospective study": a time direction, used by trials and cohorts alike.
    CueRule(
        "prospective",
        gated(
            r"\bprospective(?:ly)? (?:study|analysis|evaluation|series)\b|\bprospectively "
            r"(?:enrolled|recruited|collected|included|studied|evaluated)\b",
            "prospective",
        ),
    ),
    CueRule(
        "cohort_label",
        gated(
            r"\bcohort\b(?! of (?:\d+ )?(?:patients|children) (?:was|were) randomi)|"
            r"\bprospective(?:ly)? follow\w*|\blongitudinal\b|\bfollow-up study\b|"
            r"\bregistry\b|\breal-world\b|\btarget trial emulation\b|"
            r"\b(?:the |an? )?incidence of\b(?=[^.;]{0,80}\b(?:was|were|rose|fell|increased|"
            r"decreased|\d))|"
            r"\bincident (?:cases|dementia|disease)\b|\bfollowed (?:up )?(?:for|over|during|since|"
            r"until)\b|\b(?:were|was) followed\b|\bfollowed (?:them|these|the \w+) up\b|"
            r"\bmedian follow-up\b|\bover (?:\w+ ){0,2}years of follow-up\b|"
            # outcomes counted forward from the exposure ("attacks over the following year")
            r"\b(?:over|during|in|within) the (?:following|next|subsequent|ensuing) (?:\d+ |\w+ )?"
            r"(?:years?|months?)\b|"
            # Matching treated with untreated patients on a propensity score: a cohort comparison.
            r"\bpropensity[- ]score\b|"
            # Survival over follow-up (rules 2026.4): time-to-event models follow people forward.
            r"\bcox (?:proportional[- ]hazards? )?(?:regression|models?|analys[ie]s)\b|"
            r"\b(?:time-dependent|time-varying) (?:\w+ )?(?:survival|cox|models?|analys[ie]s|"
            r"serum|levels?|exposures?)\b",
            *("cohort", "prospective", "longitudinal", "follow", "registry", "propensity"),
            *("cox ", "time-dependent", "time-varying"),
            *("next", "subsequent", "ensuing"),
            *("real-world", "target trial", "incidence", "incident"),
        ),
    ),
    CueRule(
        "cohort_label",
        gated(
            r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|long)[- ](?:years?|months?"
            r"|term)[- ]follow[- ]up (?:study )?of (?:\w+ ){0,3}(?:patients|participants|people|"
            r"children|adults|women|men|subjects)\b",
            "follow",
        ),
        where="title",
    ),
    # The title names the article's own observational study ("...: the SUN cohort", "a
    # case-control study"), not studies of that kind it reviews ("cohort studies of ...").
    CueRule(
        "own_design_titled",
        gated(
            r"\b(?:the|a|an|our) (?:[\w-]+ ){0,3}(?:cohort|case-control study|cross-sectional "
            r"(?:study|survey|analysis))\b(?! stud)",
            "cohort",
            "case-control",
            "cross-sectional",
        ),
        where="title",
    ),
    CueRule(
        "retrospective",
        gated(
            r"\bretrospective(?:ly)?\b|\b(?:medical |clinical |hospital |electronic (?:health |"
            r"medical )?)?(?:records|charts) (?:were|was) (?:\w+ )?(?:searched|reviewed|"
            r"examined|analy[sz]ed)\b|\bchart review\b|\breview of (?:\w+ ){0,2}(?:records|charts)"
            r"\b|"
            r"\bdatabase (?:study|analysis|review)\b|\bclaims data\b|\b(?:looked|went|going) back\b"
            r"|"
            r"\b(?:reviewed|examined|analy[sz]ed|searched|through) (?:\w+ ){0,3}(?:records|charts|"
            r"case notes|files)\b|\b(?:medical|clinical|hospital|health|electronic|patient) "
            r"(?:records|charts|files)\b[^.;]{0,100}\b(?:were|was) (?:\w+ )?(?:reviewed|searched|"
            r"examined|analy[sz]ed|retrieved|screened)\b",
            *("retrospective", "records", "charts", "chart review", "database", "claims"),
            *("back", "case notes", "files"),
        ),
    ),
    CueRule(
        "measured_once",
        gated(
            r"\b(?:was|were) (?:measured|assessed|determined|evaluated|recorded) (?:in|among|for)\b"
            r"|"
            r"\bassociation (?:between|of)\b|\bassociated with\b|\bprevalence\b|\bcorrelat\w+\b",
            *("measured", "assessed", "determined", "evaluated", "recorded", "associat"),
            *("prevalence", "correlat"),
        ),
    ),
    # --- weaker cues, read only when no design was decided ---------------------------------------
    # People studied, without a design word ("60 patients with migraine were examined").
    CueRule(
        "people_studied",
        gated(
            r"\b(?:were|was) (?:\w+ )?(?:studied|examined|evaluated|investigated|assessed|enrolled|"
            r"included|recruited|interviewed|surveyed|screened|tested|analy[sz]ed|compared)\b|"
            r"\bwe (?:studied|examined|evaluated|investigated|assessed|enrolled|included|recruited|"
            r"analy[sz]ed|measured|compared|interviewed|surveyed|tested|determined)\b",
            *("were", "was", "we "),
        ),
        where="abstract",
    ),
    CueRule(
        "report_own",
        gated(
            r"\b(?:we|the authors?) (?:report|describe|present|document)\b|\bare (?:reported|"
            r"described|presented)\b|\bthis report\b",
            *("report", "describe", "present", "document"),
        ),
    ),
    CueRule(
        "reviewing_words",
        gated(
            r"\b(?:we|the authors?) (?:review|discuss|summari[sz]e|outline|consider|examine the "
            r"(?:evidence|literature|role))\b|\b(?:is|are) (?:reviewed|discussed|summari[sz]ed|"
            r"outlined|considered|highlighted)\b|"
            r"\bthe (?:role|place|use) of\b[^.;]{0,80}\b(?:is|are) "
            r"(?:discussed|reviewed|described)\b|"
            r"\bevidence (?:for|on|regarding) (?:the )?(?:use|role|efficacy)\b",
            *("review", "discuss", "summar", "outline", "consider", "examine the", "highlight"),
            *("describ", "evidence"),
        ),
        cited_ok=True,
    ),
    # Laboratory measurements with no person or animal named (skin or tissue samples, solutions).
    CueRule(
        "laboratory_measure",
        gated(
            r"\b(?:permeat\w*|penetrat\w*) (?:\w+ ){0,3}(?:skin|membrane|stratum corneum|barrier)|"
            r"\bstratum corneum\b|\b(?:excised|explanted|ex vivo|donor) (?:\w+ )?(?:skin|tissue)|"
            r"\bconcentration[- ](?:and time[- ])?dependent\b|\b(?:franz|diffusion) cells?\b|"
            r"\b(?:solution|suspension) was applied\b|\bin an? (?:\w+ )?(?:model|assay|system) "
            r"(?:of|for) (?:the )?(?:human )?(?:skin|gut|intestin\w*|barrier)",
            *("permeat", "penetrat", "stratum corneum", "excised", "explanted", "ex vivo"),
            *("donor", "dependent", "franz", "diffusion", "was applied", "model", "assay"),
            "system",
        ),
    ),
    # --- other research -----------------------------------------------------------------------
    # Publications counted and mapped, not their findings synthesised.
    CueRule(
        "bibliometric",
        gated(
            r"\b(?:bibliometric|scientometric|altmetric)\w*\b|\bcitation analysis\b|"
            r"\bresearch (?:trends|hotspots|landscape)\b",
            *("bibliometric", "scientometric", "altmetric", "citation analysis", "research trends"),
            *("research hotspots", "research landscape"),
        ),
    ),
    # Genetic variants as instruments for an exposure (Mendelian randomisation): no one is
    # allocated, followed or sampled by the authors.
    CueRule(
        "genetic_instruments",
        gated(
            r"\bmendelian[- ]randomi[sz]ation\b|"
            r"\bgenetic (?:instruments?|variants as instruments)\b",
            "mendelian",
            "genetic instrument",
            "genetic variants as",
        ),
    ),
    CueRule(
        "modelling_or_product_analysis",
        gated(
            r"\bcost[- ](?:effectiveness|utility|benefit)\b|\bdecision(?:[- ]analytic)? model\b|"
            r"\bproduct analysis\b|\bwe (?:bought|purchased|obtained|sampled) \d+ (?:\w+ ){0,3}"
            r"(?:supplements|products|brands)\b|\bmarkov model\b|\beconomic evaluation\b|"
            r"\bbudget impact\b|\b(?:products|"
            r"supplements|labels?) (?:were|was) (?:purchased|bought|analy[sz]ed|tested)\b|"
            r"\blabel(?:led|ed)? (?:claims|content)\b|\b(?:analy[sz]ed|examined|assessed|tested|bou"
            r"ght|"
            r"purchased) the (?:labels?|contents?|products?) of\b|\bcontent analysis\b|\bmodel(?:l)"
            r"?ing "
            r"study\b|\bsimulation (?:study|model)\b",
            *("cost", "decision", "markov", "economic", "budget", "products", "supplements"),
            *("product analysis", "brands"),
            *("label", "content analysis", "modelling", "modeling", "simulation"),
        ),
    ),
)

# "Randomized trials found ...": a design named as the subject of a finding is cited work.
_FINDING_AFTER = re.compile(
    r"\s*(?:[\w-]+\s+){0,2}?(?:showed|shows?|found|reported|concluded|suggested|demonstrated|"
    r"indicated)\b"
)
_SELF_NEAR = re.compile(r"\b(?:this|our|we|the present|the current)\b[^.;]{0,40}$")
_NOT_RANDOM_BEFORE = re.compile(
    r"\b(?:non|not|without|quasi|pseudo|no)[- ]?(?:\w+ )?$|"
    # "Mendelian randomization": genetic variants as instruments, no one allocated
    r"\bmendelian[- ]$"
)
_SURVEY_RANDOM = re.compile(r"^\w*\s+(?:selected|sampled|chosen)|^\w*\s+sample")
_NO_CONSENSUS = re.compile(r"\b(?:no|lack of|without|absence of)\s+(?:\w+\s+)?$")
# Cues about the article as a whole or its subjects: in the title they are never "cited".
_TITLE_SELF = frozenset(
    {"notice", "protocol", "letter", "guideline", "review", "opinion", "cells", "animals"}
)
# Cues whose recurrence matters (laboratory work mentioned once may be background).
COUNTED = frozenset({"cells", "animals"})


def _skip(rule: CueRule, sentence: Sentence, match: _Span) -> bool:
    lower = sentence.lower
    start, end = match.span()
    if rule.requires is not None and not rule.requires.search(lower):
        return True
    if rule.name == "randomised":
        if _NOT_RANDOM_BEFORE.search(lower[max(0, start - 25) : start]):
            return True
        if _SURVEY_RANDOM.search(lower[start:]):
            return True
    if rule.name == "guideline" and _NO_CONSENSUS.search(lower[max(0, start - 30) : start]):
        return True
    if rule.name == "control_group" and is_negated(sentence, start, end):
        return True  # "without a control group"
    if rule.cited_ok or (sentence.field == "title" and rule.name in _TITLE_SELF):
        return False
    if _FINDING_AFTER.match(lower, end) and not _SELF_NEAR.search(lower, max(0, start - 40), start):
        return True
    return is_cited(sentence, start, end)


class CueFinder:
    """The design cues of one article, each found when first asked for (most articles need only
    some of them: the decision stops at the first question it can answer), then remembered.

    Each live rule (one of its literals occurs in the article) runs once over the article's
    joined text rather than once per sentence; a match is then placed in its sentence for the
    context checks. Title-only rules, which may anchor on the title's start or end, run on each
    title sentence.
    """

    __slots__ = (
        "_abstract_start",
        "_found",
        "_index",
        "_sentences",
        "_starts",
        "_titles",
        "_whole",
    )

    def __init__(self, sentences: list[Sentence]) -> None:
        self._sentences = sentences
        self._whole, self._index = whole_lower(sentences)
        starts: list[int] = []
        position = 0
        for sentence in sentences:
            starts.append(position)
            position += len(sentence.lower) + 1  # joined by one space
        self._starts = starts
        self._titles = sum(1 for sentence in sentences if sentence.field == "title")
        self._abstract_start = (
            starts[self._titles] if self._titles < len(sentences) else len(self._whole)
        )
        self._found: dict[str, Cue | None] = {}

    def get(self, name: str) -> Cue | None:
        """The cue ``name`` (first occurrence, count), or None when the text has none."""
        if name in self._found:
            return self._found[name]
        best: tuple[int, int, Cue] | None = None
        count = 0
        for order, rule in _RULES_BY_NAME.get(name, ()):
            hit = self._first(rule)
            if hit is None:
                continue
            number, span, seen = hit
            count += seen
            if best is None or (number, order) < best[:2]:
                sentence = self._sentences[number]
                text = snippet(sentence.text, span.start(), span.end())
                best = (number, order, Cue(name, Tag("design_cue", name, sentence.field, text), 0))
        cue = None if best is None else Cue(name, best[2].tag, min(count, 3))
        self._found[name] = cue
        return cue

    def abstract_sentences(self) -> int:
        """How many sentences the abstract has."""
        return len(self._sentences) - self._titles

    def seen(self) -> dict[str, Cue]:
        """The cues asked for so far that the text has."""
        return {name: cue for name, cue in self._found.items() if cue is not None}

    def _first(self, rule: CueRule) -> tuple[int, _Span, int] | None:
        if not self._sentences or not _live(rule.pattern, self._whole, self._index):
            return None
        counted = rule.name in COUNTED
        first: tuple[int, _Span] | None = None
        seen: set[int] = set()
        for number, span in self._matches(rule):
            if number in seen or _skip(rule, self._sentences[number], span):
                continue
            seen.add(number)
            if first is None:
                first = (number, span)
            if not counted or len(seen) >= 3:
                break
        return None if first is None else (*first, len(seen))

    def _matches(self, rule: CueRule) -> Iterator[tuple[int, _Span]]:
        """Matches of a rule as (sentence number, span in that sentence), in text order."""
        regex = rule.pattern.regex
        sentences = self._sentences
        if rule.where in ("title", "sentence"):
            numbers = (
                range(self._titles)
                if rule.where == "title"
                else range(self._titles, len(sentences))
            )
            for number in numbers:
                for one_match in regex.finditer(sentences[number].lower):
                    yield number, _Span(*one_match.span())
            return
        whole, starts = self._whole, self._starts
        position = self._abstract_start if rule.where == "abstract" else 0
        search = regex.search
        while True:
            match = search(whole, position)
            if match is None:
                return
            number = bisect_right(starts, match.start()) - 1
            offset = starts[number]
            lower = sentences[number].lower
            if match.end() - offset <= len(lower):
                yield number, _Span(match.start() - offset, match.end() - offset)
                position = max(match.end(), match.start() + 1)
                continue
            # The match runs into the next sentence: look again inside this sentence alone,
            # then go on from the next sentence.
            for local in regex.finditer(lower, match.start() - offset):
                yield number, _Span(*local.span())
            position = offset + len(lower) + 1


def find_cues(sentences: list[Sentence]) -> dict[str, Cue]:
    """Every design cue in the title and abstract (each rule checked)."""
    finder = CueFinder(sentences)
    for name in _RULES_BY_NAME:
        finder.get(name)
    return finder.seen()


@dataclass(frozen=True, slots=True)
class _Span:
    """A match's offsets inside its sentence (what the context checks need of a match)."""

    begin: int
    stop: int

    def start(self) -> int:
        return self.begin

    def end(self) -> int:
        return self.stop

    def span(self) -> tuple[int, int]:
        return self.begin, self.stop


def _live(pattern: Gated, whole: str, index: LiteralIndex | None) -> bool:
    if index is not None:
        return index.has_any(pattern.keyword_set, pattern.keywords)
    return pattern.may_match(whole)


_RULES_BY_NAME: dict[str, list[tuple[int, CueRule]]] = {}
for _order, _rule in enumerate(RULES):
    _RULES_BY_NAME.setdefault(_rule.name, []).append((_order, _rule))
