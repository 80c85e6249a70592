"""Evidence-tracking PubMed aggregator for magnesium and migraine."""

__version__ = "0.1.0"
