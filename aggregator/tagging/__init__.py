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

Study types ``notice`` and ``unclear`` have no evidence level; a notice has no form, route or
condition. Forms: a combination product with no magnesium salt named is ``unspecified``; the
form ``dietary`` covers magnesium intake and measured magnesium status (serum, tissue), as the
vocabulary defines it (only intake gives the ``dietary`` route).
"""

from __future__ import annotations

from aggregator.tagging.tagger import RULES_VERSION, tag_article

__all__ = ["RULES_VERSION", "tag_article"]
