"""Latency of `aggregator query` on a synthetic 100,000-article SQLite database.

Builds the database through the real migrations (so the FTS5 table, its triggers and the
0003 indexes are the production ones), fills it with invented articles by bulk
executemany (not the per-article upsert), then runs a mix of typical queries many times and
prints p50/p95 per query. Each timing covers what the command does after opening the
database: select the PMIDs, load the articles with their tags, render JSON.
Target: p95 <= 50 ms for every query.

    .venv/bin/python bench/query_latency.py [--articles 100000] [--repeat 30] [--keep DIR]

All articles are synthetic (PMIDs from 99000000 up, invented words and author names).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aggregator.export import write_records
from aggregator.findings import Findings, FindingSource
from aggregator.jobs.library import query_page
from aggregator.store import filters as library
from aggregator.store.codec import findings_columns, forms_column
from aggregator.store.engine import new_session, open_engine
from aggregator.store.models import ArticleRow, TagRow
from aggregator.vocab import EVIDENCE_LEVEL, FORMS, ROUTES, STUDY_TYPES

P95_TARGET_MS = 50.0
FIRST_PMID = 99_000_000
# Invented filler vocabulary; a few clinical words so text queries hit realistic fractions.
FILLER = tuple(
    " ".join(
        [
            "patients received daily treatment outcome frequency attacks reduction baseline",
            "placebo group analysis results significant compared dose weeks months serum level",
            "plasma intervention headache days severity measured primary secondary endpoint",
            "adverse events tolerability efficacy participants women men adults children study",
            "trial cohort observational supplement deficiency concentration association risk",
        ]
    ).split()
)
RARE = ("menstrual", "aura", "vestibular", "pediatric", "pregnancy", "emergency", "intravenous")
QUERIES: dict[str, library.ArticleFilter | tuple[library.ArticleFilter, str]] = {
    "no filter (level sort)": library.ArticleFilter(),
    "form glycinate": library.ArticleFilter(forms=("glycinate",)),
    "form oxide,citrate": library.ArticleFilter(forms=("oxide", "citrate")),
    "type RCT": library.ArticleFilter(study_types=("randomized_controlled_trial",)),
    "text 'menstrual migraine'": library.ArticleFilter(text='"menstrual migraine"'),
    "text magnesium (common)": library.ArticleFilter(text="magnesium"),
    "combined form+type+year+text": library.ArticleFilter(
        forms=("citrate",), study_types=("cohort",), since_year=2010, text="aura"
    ),
    "max-level 2, sort year": (library.ArticleFilter(max_level=2), "year"),
    "text 'placebo attacks' (common)": library.ArticleFilter(text="placebo attacks"),
    "no-retracted direct, sort date": (library.ArticleFilter(retracted=False, direct=True), "date"),
    # PubMed syntax (issue 18): Boolean operators, parentheses, truncation, spellings.
    "text 'migraine AND children'": library.ArticleFilter(text="migraine AND children"),
    "text 'placebo NOT pediatric'": library.ArticleFilter(text="placebo NOT pediatric"),
    "text '(aura OR menstrual) AND dose'": library.ArticleFilter(
        text="(aura OR menstrual) AND dose"
    ),
    "text 'magnes*' (common, truncated)": library.ArticleFilter(text="magnes*"),
    "text 'sulphate' (spellings)": library.ArticleFilter(text="sulphate"),
    # What the studies found (issue 13): sample size, reported result, comparator.
    "min-n 100": library.ArticleFilter(min_sample_size=100),
    "min-n 20000 (rare)": library.ArticleFilter(min_sample_size=20_000),
    "result no_difference": library.ArticleFilter(results=("no_difference",)),
    "result favours_comparator, RCT": library.ArticleFilter(
        results=("favours_comparator",), study_types=("randomized_controlled_trial",)
    ),
    "comparator placebo, min-n 100": library.ArticleFilter(
        comparators=("placebo",), min_sample_size=100
    ),
    "sort n": (library.ArticleFilter(), "n"),
    "comparator placebo, sort n": (library.ArticleFilter(comparators=("placebo",)), "n"),
    "form glycinate, result, sort n": (
        library.ArticleFilter(forms=("glycinate",), results=("favours_magnesium",)),
        "n",
    ),
}
# Synthetic findings: which share of articles states each value, and how often each value.
RESULT_WEIGHTS = {
    "favours_magnesium": 40,
    "no_difference": 20,
    "favours_comparator": 3,
    "mixed": 10,
    "not_reported": 12,
    None: 15,
}
COMPARATOR_WEIGHTS = {
    "placebo": 30,
    "active": 12,
    "usual_care": 4,
    "none": 14,
    "another_form": 2,
    None: 38,
}


def _abstract(rng: random.Random, forms: list[str]) -> str:
    words = rng.choices(FILLER, k=150)
    for form in forms:
        words.insert(rng.randrange(len(words)), f"magnesium {form}")
    if rng.random() < 0.05:
        words.insert(rng.randrange(len(words)), "menstrual migraine")
    words.insert(rng.randrange(len(words)), rng.choice(RARE))
    return " ".join(words) + "."


def _findings(rng: random.Random, study_type: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Synthetic design and findings columns, as the store writes them (sizes log-uniform
    from 8 to 50,000 for 70 % of the articles; a few snippets of provenance)."""
    sentence = " ".join(rng.choices(FILLER, k=28)) + "."
    size = int(8 * (50_000 / 8) ** rng.random()) if rng.random() < 0.7 else None
    result = rng.choices(list(RESULT_WEIGHTS), weights=list(RESULT_WEIGHTS.values()))[0]
    comparator = rng.choices(list(COMPARATOR_WEIGHTS), weights=list(COMPARATOR_WEIGHTS.values()))[0]
    dose = rng.choice((None, None, 250.0, 400.0, 500.0, 600.0))
    weeks = rng.choice((None, None, 4.0, 8.0, 12.0, 26.0))
    provenance = tuple(
        FindingSource(field, str(value), "abstract", sentence)
        for field, value in (
            ("sample_size", size),
            ("dose_mg_per_day", dose),
            ("duration_weeks", weeks),
            ("comparator", comparator),
            ("reported_result", result),
        )
        if value is not None
    )
    findings = Findings(
        scope="study",
        sample_size=size,
        sample_size_kind="randomised" if size else None,
        arms=2 if comparator not in (None, "none") else None,
        dose_mg_per_day=dose,
        duration_weeks=weeks,
        comparator=comparator,
        reported_result=result,
        provenance=provenance,
    )
    design = {
        "design_confidence": rng.choice((0.6, 0.75, 0.9, 0.95)),
        "design_explanation": f"cues: humans (mesh). path: indexed publication type -> "
        f"{study_type} (confidence 0.95)",
    }
    return design, findings_columns(findings)


def build(path: Path, count: int, seed: int = 7) -> float:
    """Create and fill the database; returns the seconds it took."""
    started = time.perf_counter()
    engine = open_engine(f"sqlite:///{path}")
    rng = random.Random(seed)
    now = dt.datetime(2025, 11, 20, tzinfo=dt.UTC)
    articles = ArticleRow.__table__  # type: ignore[attr-defined]
    tags = TagRow.__table__  # type: ignore[attr-defined]
    study_weights = [3, 3, 8, 2, 2, 6, 3, 4, 4, 8, 20, 1, 2, 8, 4, 10, 12]
    study_weights += [1] * (len(STUDY_TYPES) - len(study_weights))  # notice, unclear (added)
    form_weights = [6, 12, 10, 14, 3, 2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 30, 12]
    batch_articles: list[dict[str, Any]] = []
    batch_tags: list[dict[str, Any]] = []

    def flush(connection: sa.Connection) -> None:
        if batch_articles:
            connection.execute(sa.insert(articles), batch_articles)
            connection.execute(sa.insert(tags), batch_tags)
        batch_articles.clear()
        batch_tags.clear()

    with engine.begin() as connection:
        for i in range(count):
            pmid = FIRST_PMID + i
            study_type = rng.choices(STUDY_TYPES, weights=study_weights)[0]
            forms = sorted(set(rng.choices(FORMS, weights=form_weights, k=rng.randint(1, 2))))
            route = rng.choice(ROUTES)
            direct = rng.random() < 0.7
            year = rng.randint(1975, 2025)
            design, findings = _findings(rng, study_type)
            batch_articles.append(
                {
                    "pmid": pmid,
                    "title": f"Magnesium {forms[0]} and {rng.choice(FILLER)} in migraine "
                    f"{rng.choice(FILLER)} {rng.choice(RARE)}",
                    "abstract": _abstract(rng, forms),
                    "journal_title": f"Invented Journal of {rng.choice(FILLER).title()}",
                    "pub_year": year,
                    "entrez_date": dt.date(year, rng.randint(1, 12), rng.randint(1, 28)),
                    "authors": [{"last_name": f"Inventa{i % 997}", "initials": "Q"}],
                    "publication_types": ["Journal Article"],
                    "raw_xml": "<PubmedArticle><!-- synthetic --></PubmedArticle>",
                    "source": "demo",
                    "first_seen_at": now - dt.timedelta(days=rng.randint(0, 3000)),
                    "last_updated_at": now,
                    "last_fetched_at": now,
                    "retracted": rng.random() < 0.005,
                    "study_type": study_type,
                    "evidence_level": EVIDENCE_LEVEL[study_type],
                    "combination_product": rng.random() < 0.1,
                    "is_direct": direct,
                    "rules_version": "bench",
                    "forms": forms_column(forms),  # as the store writes it with the tags
                    **design,
                    **findings,
                }
            )
            values = [("form", f) for f in forms] + [("route", route), ("study_type", study_type)]
            values.append(("condition", "migraine" if direct else "other"))
            batch_tags += [
                {
                    "pmid": pmid,
                    "kind": kind,
                    "value": value,
                    "field": "abstract",
                    "snippet": value,
                    "rules_version": "bench",
                }
                for kind, value in values
            ]
            if len(batch_articles) >= 5000:
                flush(connection)
        flush(connection)
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


def run_query(session: Any, filt: library.ArticleFilter, sort: str, limit: int) -> int:
    """What `aggregator query --format json` does once the database is open."""
    result = query_page(session, filt, sort=sort, limit=limit)
    write_records(result.records, "json", io.StringIO())
    return len(result.records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database in this folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="query-latency-") as temp:
        folder = args.keep or Path(temp)
        path = folder / f"bench-{args.articles}.sqlite"
        if path.exists():
            print(f"reusing {path}")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            seconds = build(path, args.articles)
            size_mb = path.stat().st_size >> 20
            print(f"built {args.articles} articles in {seconds:.1f} s ({size_mb} MB)")
        engine = open_engine(f"sqlite:///{path}")
        worst = 0.0
        print(f"{'query':<34} {'rows':>5} {'p50 ms':>8} {'p95 ms':>8}")
        with new_session(engine) as session:
            for name, spec in QUERIES.items():
                filt, sort = spec if isinstance(spec, tuple) else (spec, "level")
                rows = run_query(session, filt, sort, args.limit)  # warm the cache
                times = []
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    run_query(session, filt, sort, args.limit)
                    times.append((time.perf_counter() - started) * 1000)
                p50 = statistics.median(times)
                p95 = statistics.quantiles(times, n=20, method="inclusive")[18]
                worst = max(worst, p95)
                print(f"{name:<34} {rows:>5} {p50:>8.1f} {p95:>8.1f}")
        engine.dispose()
    verdict = "OK" if worst <= P95_TARGET_MS else "TOO SLOW"
    print(f"worst p95 {worst:.1f} ms (target {P95_TARGET_MS:.0f} ms): {verdict}")
    return 0 if worst <= P95_TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
