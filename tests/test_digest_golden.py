"""Golden-output tests: Markdown and JSON digests for five simulated weeks.

The inputs are the SYNTHETIC corpus of tests/test_digest_corpus.py. To regenerate the files in
tests/golden/ after an intended change, run with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aggregator.digest import build_digest, render_json, render_markdown
from aggregator.vocab import FORMS, STUDY_TYPES
from tests.test_digest_corpus import (
    WEEKS,
    corpus_changes,
    corpus_registry,
    corpus_runs,
    retracted_corpus_articles,
)

GOLDEN_DIR = Path(__file__).parent / "golden"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN_DIR / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("week", WEEKS)
def test_markdown_matches_golden(week: str) -> None:
    digest = build_digest(
        week,
        retracted_corpus_articles(),
        corpus_changes(),
        corpus_runs(),
        registry=corpus_registry(),
    )
    check_golden(f"digest-{week}.md", render_markdown(digest))


@pytest.mark.parametrize("week", WEEKS)
def test_json_matches_golden(week: str) -> None:
    digest = build_digest(
        week,
        retracted_corpus_articles(),
        corpus_changes(),
        corpus_runs(),
        registry=corpus_registry(),
    )
    text = render_json(digest)
    check_golden(f"digest-{week}.json", text)
    assert json.loads(text)["week"] == week


def test_demo_markdown_matches_golden() -> None:
    digest = build_digest(
        "2026-W48",
        retracted_corpus_articles(),
        corpus_changes(),
        corpus_runs(),
        demo=True,
        registry=corpus_registry(),
    )
    check_golden("digest-2026-W48-demo.md", render_markdown(digest))


def test_json_uses_vocabulary_strings_and_stable_keys() -> None:
    data = json.loads(
        render_json(
            build_digest("2026-W48", retracted_corpus_articles(), corpus_changes(), corpus_runs())
        )
    )
    rows = data["evidence_map"]["rows"]
    assert [row["form"] for row in rows] == [
        "glycinate",
        "oxide",
        "citrate",
        "sulfate",
        "chloride",
        "unspecified",
        "dietary",
    ]
    assert all(list(row["by_study_type"]) == list(STUDY_TYPES) for row in rows)
    articles = data["new_articles"] + data["glycinate_articles"]
    assert {a["study_type"] for a in articles} <= set(STUDY_TYPES)
    assert {f for a in articles for f in a["forms"]} <= set(FORMS)
    assert data["headline"]["migraine_rcts_by_form"] == [
        {"form": "oxide", "count": 4},
        {"form": "citrate", "count": 2},
        {"form": "glycinate", "count": 1},
        {"form": "sulfate", "count": 1},
    ]
