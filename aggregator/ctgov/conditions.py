"""The conditions a registered trial studies, by the same rules as articles.

The registry's ``conditionsModule.conditions`` are free text ("Episodic Migraine", "Headache
in Children", "Migraine Disorders"). They are read by the article tagger's condition rules
(:func:`aggregator.tagging.tag_article` on an article whose abstract sections are the
condition names, one per section), so a trial is "migraine or headache" exactly when an
article naming those conditions would be direct evidence. Keywords, titles and summaries are
not used: a keyword such as "headache" may name a side effect, not what is studied.
"""

from __future__ import annotations

from aggregator.article import AbstractSection, Article
from aggregator.ctgov.studies import Trial
from aggregator.tagging import tag_article
from aggregator.tagging.text import collapse
from aggregator.vocab import DIRECT_CONDITIONS


def trial_conditions(trial: Trial) -> tuple[str, ...]:
    """The vocabulary conditions (aggregator.vocab.CONDITIONS) of the trial's conditions."""
    texts = [text for raw in trial.conditions if (text := collapse(raw))]
    if not texts:
        return ()
    article = Article(
        pmid=int(trial.nct_id[3:]),  # the tagger never reads it
        title="",
        abstract_sections=tuple(AbstractSection(text=text) for text in texts),
        source_format="ctgov",
    )
    return tag_article(article, findings=False).conditions


def is_migraine_or_headache(trial: Trial) -> bool:
    """The trial studies migraine or another headache (what makes an article direct)."""
    return not DIRECT_CONDITIONS.isdisjoint(trial_conditions(trial))
