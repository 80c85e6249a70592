"""Rule-based tagger: magnesium form, route, study type, condition, population and
combination-product flag for one article, each tag with provenance.

``tag_article`` is pure and deterministic: the same article and ``RULES_VERSION`` always give
the same :class:`~aggregator.vocab.ArticleTags`. Bump ``RULES_VERSION`` whenever a rule changes,
so stored tags can be re-derived.

ArticleTags fields added in rules 2026.1 (additive; older constructors still work):

- ``evidence_class``: one of ``vocab.EVIDENCE_CLASSES`` -- direct (a human study or synthesis
  with a migraine/headache outcome), indirect (other outcomes), planned (protocols,
  registrations), commentary (narrative reviews, editorials, letters, guidelines), preclinical
  (animal, in vitro), notice (retraction notices, errata, expressions of concern).
- ``design``: a ``vocab.DesignDecision`` -- the study type, a confidence (0..1; 0 for
  ``unclear``), the cues it rests on (``Tag`` objects of kind ``design_cue``: value = cue name,
  field, snippet; they are also in ``tags``, so they are stored) and an explanation listing the
  cues and the path through the procedure in ``study_design.py`` (what ``show`` prints).

Findings are a product of tagging (issue 13). ``tag_article`` runs the findings extractor
(:func:`aggregator.tagging.findings.extract_findings`) after the vocabulary rules, in the same
call, and returns them as ``ArticleTags.findings`` (:class:`aggregator.findings.Findings`:
sample size, dose, duration, comparator, reported result, each with its provenance). So every
path that tags re-derives them with no second pass over the articles: harvest, import,
``search`` (and ``--save``), ``retag`` and the digest's re-tagging of a past week's version
(``store/digest_reader.as_of_version`` through its ``retag`` callback). The store keeps them
with the tags (``article.findings`` and five filter/sort columns, revision 0009) and compares
them when deciding whether stored tags changed, so ``retag`` reports and stores a finding
that changed like any tag. ``tag_article(article, findings=False)`` skips the extraction for
callers that only want the vocabulary tags (the registry's form and condition rules).
``ArticleTags.design`` is stored too: its confidence and explanation as article columns, its
cues as tag rows. ``RULES_VERSION`` covers the findings rules as well: bump it when either
changes.

Study types ``notice`` and ``unclear`` have no evidence level; a notice has no form, route or
condition. Forms: a combination product with no magnesium salt named is ``unspecified``.

The form ``dietary`` (rules 2026.2) means magnesium *status as an exposure*. The form rules read
the decided design (``forms.find_forms(design=...)``) and keep two meanings apart internally
(``FormResult.intake_measured`` and ``FormResult.status_measured``):

- intake: diet, drinking water, food-frequency intake -- the study's exposure. Maps to the form
  ``dietary`` and to the route ``dietary``.
- measured status: a serum, erythrocyte, tissue or brain level (or deficiency) compared between
  groups or related to an outcome in an observational study, or discussed as a cause in a review.
  Maps to the form ``dietary`` only (no route: nothing was eaten).
- not dietary: where the investigators gave magnesium (a trial, a protocol, an animal study, a
  patient treated with it), a level is an outcome or safety check, and intake words are the
  supplement's; the level counts only when read as a predictor of response ("relief in patients
  with low ionized magnesium") or when the title makes it a subject not framed as the
  supplement's effect. Magnesium removed from or added to a cell bath or medium is neither.

Rules 2026.3 make the same convention hold on text nobody tuned to:

- a trial giving a named salt that cites "magnesium deficiency" or low brain magnesium as its
  rationale is not dietary (a predictor of response must name a response and the level);
- in an observational study of people who took magnesium (women given magnesium sulfate, a
  cohort of treated patients), a level measured after it is its outcome; it counts only when
  related to an outcome (predicts, is associated with) or compared with controls;
- a case report is never dietary by a level: hypo- or hypermagnesaemia there is magnesium taken
  (laxatives, antacids) or given back (replacement), i.e. ``unspecified`` when no salt is named;
- a review's status must be people's (deficiency, low levels, hypomagnesaemia, "magnesium
  status"), not a mechanism ("intracellular magnesium regulates ...") nor the supplements'
  effect (bioavailability, "serum magnesium rose", "prevents hypomagnesaemia"); a review of named
  salts counts status or intake only in its title; a systematic review or meta-analysis not in
  its background (section, unstructured preamble, claims of earlier work);
- ``unspecified`` covers magnesium named as the tested intervention ("magnesium versus
  placebo", "efficacy of magnesium in ...") and magnesium listed among the agents a review weighs
  even when a salt is named for some of its trials; not magnesium in an exclusion criterion, in
  the opening background of an unstructured abstract, or recorded as a covariate.

Rules 2026.4 write down what real texts about other conditions (``bench/data/real/
forms-status.jsonl``) showed the conventions had left unclear:

- drug-induced low magnesium (proton pump inhibitors, diuretics, cisplatin, anti-EGFR antibodies)
  is status: levels compared between users and non-users, or related to the drug's dose or
  duration, in an observational study or a synthesis are ``dietary``; in a trial of magnesium
  against it the level is that magnesium's outcome; in a case report the convention above holds
  (magnesium given back is ``unspecified``; with nothing given, no form);
- in a series of patients, hypo- or hypermagnesaemia that is the patients' disorder (congenital
  hypomagnesaemia, Gitelman syndrome) is what the report is about, not a status compared: it is
  ``dietary`` only read as a predictor of response, or when the series measures how often it
  occurs or what goes with it;
- in an observational study of people given magnesium (women given magnesium sulfate), a level
  in the title too must be related to an outcome or compared with controls; two magnesium
  measurements related to each other (maternal and cord serum) are the treatment's
  pharmacokinetics;
- a systematic review or meta-analysis whose title names magnesium given (supplementation,
  therapy, a salt) asks about that treatment: deficiency or low levels elsewhere in its abstract
  are its rationale or describe who took part, as for a review of named salts;
- an entry criterion on status or intake of a trial ("hypomagnesaemic adults", "girls eating
  less than 220 mg a day") is not ``dietary``, nor is a supplement called "dietary magnesium
  supplementation"; magnesium-rich *products* given (an electrolyte mix) are ``unspecified``
  (with the combination flag), magnesium-rich *water or food* is intake (``dietary``); a diet of
  stated magnesium content given to animals ("mice on the low-Mg diet") is ``dietary``;
- a review that lists hypomagnesaemia as one feature of another disorder (refeeding syndrome)
  or treats magnesium only as physiology, and never as a treatment, has no form from that;
- ``unspecified`` covers magnesium given in any wording: a route or setting word before it
  (intraperitoneal, nebulised, prophylactic, perioperative, adjuvant), "doses / a bolus /
  replacement of magnesium", "magnesium given systemically", "treated initially with
  magnesium", "allocated to magnesium (n = 40) or placebo", a title "Magnesium for ...", and in a
  case report magnesium stores "replenished".

In the digest, ``dietary`` is listed with the forms like any other value (an article about
magnesium status or intake); the evidence class still comes from the design and the conditions.
"""

from __future__ import annotations

from aggregator.tagging.tagger import RULES_VERSION, tag_article

__all__ = ["RULES_VERSION", "tag_article"]
