"""Browsing the database in datasette: labels, hidden tables and columns, canned queries.

``datasette db/demo.sqlite`` (with datasette installed next to aggregator: the ``browse``
extra) picks this up by itself through the plugin in :mod:`aggregator.store.datasette_plugin`;
for a datasette installed elsewhere, ``python -m aggregator.store.browse > metadata.json``
writes it for ``datasette --metadata metadata.json``. The canned
queries read the ``article_summary`` view (revision 0008): one narrow row per article, forms as
a JSON array, so the article pages stay small and forms facet one value each.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from aggregator.vocab import EVIDENCE_CLASSES, FORMS, STUDY_TYPES

CANNED_QUERIES: dict[str, dict[str, Any]] = {
    "glycinate_direct": {
        "title": "Glycinate, direct evidence",
        "description": "Articles on magnesium glycinate with a migraine or headache outcome, "
        "strongest evidence first.",
        "sql": "SELECT pmid, title, year, journal, study_type, evidence_level, "
        "evidence_class, forms, "
        "retracted, pubmed_url FROM article_summary "
        "WHERE evidence_class = 'direct' AND pmid IN "
        "(SELECT pmid FROM tag WHERE kind = 'form' AND value = 'glycinate') "
        "ORDER BY coalesce(evidence_level, 9), year DESC, pmid DESC",
    },
    "retractions": {
        "title": "Retractions",
        "description": "Retracted articles, the most recently noted first.",
        "sql": "SELECT a.pmid, a.title, a.pub_year AS year, a.retracted_at, "
        "a.retraction_notice_pmid, s.pubmed_url FROM article a "
        "JOIN article_summary s ON s.pmid = a.pmid WHERE a.retracted "
        "ORDER BY a.retracted_at DESC, a.pmid DESC",
    },
    "evidence_by_form": {
        "title": "Evidence by form",
        "description": "Articles per magnesium form and evidence class.",
        "sql": "SELECT t.value AS form, coalesce(a.evidence_class, 'untagged') AS "
        "evidence_class, count(*) AS articles FROM tag t JOIN article a ON a.pmid = t.pmid "
        "WHERE t.kind = 'form' GROUP BY t.value, a.evidence_class ORDER BY articles DESC",
    },
    "search_title_abstract": {
        "title": "Search title and abstract",
        "description": "Full-text search (SQLite FTS5 syntax; `aggregator query --text` "
        "reads PubMed syntax).",
        "sql": "SELECT pmid, title, year, journal, study_type, evidence_level, "
        "evidence_class, forms, "
        "retracted, pubmed_url FROM article_summary "
        "WHERE pmid IN "
        "(SELECT rowid FROM article_fts WHERE article_fts MATCH :text) "
        "ORDER BY coalesce(evidence_level, 9), year DESC",
    },
}
# Tables a reader does not need (bookkeeping); they stay reachable by URL.
HIDDEN_TABLES = ("alembic_version", "run_lock", "pending_retraction", "digest", "query_hit")


def datasette_metadata(databases: Iterable[str] = ("aggregator", "demo")) -> dict[str, Any]:
    """datasette metadata for aggregator databases named ``databases`` (a database is named
    after its file: db/demo.sqlite is "demo")."""
    per_database = {
        "description": "Magnesium and migraine articles from PubMed, tagged by form, study "
        "type and evidence class. Start with the article_summary view.",
        "queries": CANNED_QUERIES,
        "tables": {
            "article_summary": {
                "label_column": "title",
                "description": "One row per article; forms is a JSON array (facet it by "
                "array). Evidence classes: " + ", ".join(EVIDENCE_CLASSES) + ". "
                "sample_size, dose_mg_per_day, duration_weeks, comparator and "
                "reported_result are what the abstract states the study found, as the "
                "authors report it (null: not stated, or not extracted before "
                "`aggregator retag`).",
                "facets": [{"array": "forms"}, "study_type", "evidence_class", "retracted"],
                "sortable_columns": ["pmid", "year", "evidence_level", "first_seen_at"],
                "fts_table": "article_fts",
                "fts_pk": "pmid",
                "size": 50,
            },
            "article": {
                "label_column": "title",
                "hidden": True,
                "description": "Every parsed field, the raw record and bookkeeping (wide: "
                "browse article_summary instead).",
                "fts_table": "article_fts",
                "fts_pk": "pmid",
                "size": 20,
            },
            "tag": {
                "description": "One row per tag value with its provenance (field, snippet). "
                "Forms: " + ", ".join(FORMS) + ". Study types: " + ", ".join(STUDY_TYPES) + ".",
                "facets": ["kind", "value", "field"],
            },
            **{name: {"hidden": True} for name in HIDDEN_TABLES},
        },
    }
    return {
        "title": "Magnesium and migraine evidence",
        "source": "PubMed (NCBI/NLM)",
        "source_url": "https://pubmed.ncbi.nlm.nih.gov/",
        "about": "mg-migraine-aggregator",
        "databases": {name: per_database for name in databases},
    }


@functools.lru_cache(maxsize=64)
def _has_schema(path: str, mtime: float) -> bool:
    try:
        uri = Path(path).resolve().as_uri() + "?mode=ro"
        with sqlite3.connect(uri, uri=True) as connection:
            names = {
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
                )
            }
    except sqlite3.Error:
        return False
    return {"article", "tag", "article_summary"} <= names


def is_aggregator_database(path: str | None) -> bool:
    """An SQLite file with aggregator's schema (at revision 0008 or later)."""
    if not path or not Path(path).is_file():
        return False
    return _has_schema(str(path), Path(path).stat().st_mtime)


if __name__ == "__main__":  # pragma: no cover - python -m aggregator.store.browse
    print(json.dumps(datasette_metadata(), indent=2))
