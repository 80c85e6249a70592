"""Rule-based tagger: magnesium form, route, study type, condition, population and
combination-product flag for one article, each tag with provenance.

``tag_article`` is pure and deterministic: the same article and ``RULES_VERSION`` always give
the same :class:`~aggregator.vocab.ArticleTags`. Bump ``RULES_VERSION`` whenever a rule changes,
so stored tags can be re-derived.
"""

from __future__ import annotations

from aggregator.tagging.tagger import RULES_VERSION, tag_article

__all__ = ["RULES_VERSION", "tag_article"]
