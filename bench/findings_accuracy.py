"""Score the findings extractor (aggregator/tagging/findings.py) against labelled abstracts.

Usage:
    python bench/findings_accuracy.py [--eval-dev FILE] [--real DIR] [--show-tune-errors]
                                      [--no-timing]

Data sets, each scored separately:
- eval-dev (default ../shared/eval-dev/dev.jsonl, read at run time only): labels
  `sample_size` and `outcome_direction`; its `dose_mg_per_day` was not annotated, so dose is
  not scored there. Its individual errors are never listed.
- the project's real paraphrased abstracts (bench/data/real/*.jsonl), split by `split`:
  `tune` (errors may be listed with --show-tune-errors) and `report` (scores only: its
  individual errors are never listed, so no rule is ever fitted to them).

Every record is built into an Article as bench/tagging_accuracy.py does (publication types and
MeSH withheld, like a new PubMed record), tagged with aggregator.tagging.tag_article (without
its findings), then given to extract_findings (what tag_article does in the same call).
Printed per data set and field: exact-match accuracy over the records the gold labels (null
counts as a value: "not stated" must be predicted as not stated), the share the extractor
marked not stated, and how often it gave a value where the gold says none.
`score_findings(records, results)` returns the same figures as a dict for other scripts.

Two scoring conventions, printed with the figures:
- comparator: for uncontrolled designs (gold single-arm trial, case series, case report) `none`
  and null are scored as equal. The extractor reports `none` for "no comparison group" (see
  aggregator/tagging/findings.py); the labelled files disagree on this (one labels such
  studies `none`, the others null), so neither reading is counted as an error.
- reported result, restricted: besides the figure over every record, accuracy over the records
  whose gold is a real direction (positive, null, negative, mixed) and whose gold design is one
  the extractor reports a result for (studies, reviews, commentaries; not protocols, animal or
  in-vitro studies or notices), with the share of them the extractor marked not stated.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tagging_accuracy import to_article  # noqa: E402  (bench/ is not a package)

from aggregator.article import Article  # noqa: E402
from aggregator.tagging import tag_article  # noqa: E402
from aggregator.tagging.findings import Findings, extract_findings, scope_for  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EVAL_DEV = ROOT.parent / "shared" / "eval-dev" / "dev.jsonl"
DEFAULT_REAL = ROOT / "bench" / "data" / "real"

# reported_result -> the labels' outcome_direction
DIRECTION = {
    "favours_magnesium": "positive",
    "no_difference": "null",
    "favours_comparator": "negative",
    "mixed": "mixed",
    "not_reported": "not_applicable",
    None: "not_applicable",
}
DURATION_TOLERANCE = 0.05  # weeks: the labels round days/7 to one or two decimals
DOSE_TOLERANCE = 0.5  # mg


def _number_equal(tolerance: float) -> Callable[[Any, Any], bool]:
    def equal(gold: Any, predicted: Any) -> bool:
        if gold is None or predicted is None:
            return gold is None and predicted is None
        return abs(float(gold) - float(predicted)) <= tolerance

    return equal


def _plain_equal(gold: Any, predicted: Any) -> bool:
    return bool(gold == predicted)


# field name in the output -> (gold key, how to read the prediction, how to compare)
FIELDS: dict[str, tuple[str, Callable[[Findings], Any], Callable[[Any, Any], bool]]] = {
    "sample_size": ("sample_size", lambda f: f.sample_size, _plain_equal),
    "dose_mg_per_day": (
        "dose_mg_per_day",
        lambda f: f.dose_mg_per_day,
        _number_equal(DOSE_TOLERANCE),
    ),
    "duration_weeks": (
        "duration_weeks",
        lambda f: f.duration_weeks,
        _number_equal(DURATION_TOLERANCE),
    ),
    "comparator": ("comparator", lambda f: f.comparator, _plain_equal),
    "reported_result": (
        "outcome_direction",
        lambda f: DIRECTION[f.reported_result],
        _plain_equal,
    ),
}
# Not a "value" for the no-value-where-gold-has-none count: every record has a direction.
NOT_APPLICABLE = {"reported_result": "not_applicable"}
# Designs without a comparison group: `none` and null both mean "no comparator" there.
UNCONTROLLED = frozenset({"single_arm_trial", "case_series", "case_report"})
DIRECTIONS = frozenset({"positive", "null", "negative", "mixed"})
RESULT_SCOPES = frozenset({"study", "review", "commentary"})


def gold_design(record: dict[str, Any]) -> str | None:
    """The annotator's design in the project vocabulary: the first accepted study type, else
    the single best label."""
    accepted = record.get("study_type_ok")
    if isinstance(accepted, list) and accepted:
        return str(accepted[0])
    design = record.get("gold_study_type")
    return str(design) if design else None


def uncontrolled(record: dict[str, Any]) -> bool:
    return record.get("gold_study_type") in UNCONTROLLED


def _same_comparator(record: dict[str, Any], gold: Any, predicted: Any) -> bool:
    if uncontrolled(record) and gold in (None, "none") and predicted in (None, "none"):
        return True
    return bool(gold == predicted)


def result_scored(record: dict[str, Any]) -> bool:
    """Whether the restricted result figure counts this record: a real gold direction and a
    gold design the extractor reports a result for."""
    design = gold_design(record)
    return (
        record.get("outcome_direction") in DIRECTIONS
        and design is not None
        and scope_for(design) in RESULT_SCOPES
    )


def unlabelled_fields(records: Sequence[dict[str, Any]]) -> frozenset[str]:
    """Fields no record of the set labels (null everywhere: not annotated), to skip."""
    return frozenset(
        name
        for name, (key, _, _) in FIELDS.items()
        if name != "reported_result" and all(record.get(key) is None for record in records)
    )


def load_records(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"error: {path}:{number}: invalid JSON ({exc.msg})") from exc
        record["_line"] = number
        record["_file"] = path.name
        records.append(record)
    return records


def build_articles(records: Sequence[dict[str, Any]]) -> list[Article]:
    return [
        to_article(record, record.get("_line", i + 1), False) for i, record in enumerate(records)
    ]


def run_extractor(articles: Sequence[Article]) -> list[Findings]:
    return [extract_findings(article, tag_article(article, findings=False)) for article in articles]


def score_findings(
    records: Sequence[dict[str, Any]],
    results: Sequence[Findings],
    *,
    skip: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Per field: how many records the gold labels, exact matches, accuracy, share predicted
    "not stated", values given where the gold has none, and the mismatches (field, record
    index, gold, predicted). Fields a record does not carry (or named in ``skip``) are not
    scored for it."""
    scores: dict[str, Any] = {"records": len(records), "fields": {}}
    for name, (key, read, equal) in FIELDS.items():
        if name in skip:
            continue
        scored = matched = not_stated = spurious = gold_none = equated = 0
        errors: list[tuple[int, Any, Any]] = []
        for index, (record, findings) in enumerate(zip(records, results, strict=True)):
            if key not in record:
                continue
            gold = record[key]
            predicted = read(findings)
            scored += 1
            none_value = NOT_APPLICABLE.get(name)
            if name == "comparator" and uncontrolled(record) and gold is None:
                none_value = "none"  # "no comparison group" either way
            if predicted is None or predicted == none_value:
                not_stated += 1
            if gold is None or gold == none_value:
                gold_none += 1
                if predicted is not None and predicted != none_value:
                    spurious += 1
            same = (
                _same_comparator(record, gold, predicted)
                if name == "comparator"
                else equal(gold, predicted)
            )
            if name == "comparator" and same and gold != predicted:
                equated += 1
            if same:
                matched += 1
            else:
                errors.append((index, gold, predicted))
        if scored:
            scores["fields"][name] = {
                "scored": scored,
                "matched": matched,
                "accuracy": matched / scored,
                "not_stated_share": not_stated / scored,
                "gold_none": gold_none,
                "values_where_gold_none": spurious,
                "errors": errors,
            }
            if name == "comparator":
                scores["fields"][name]["none_null_equated"] = equated
    if "reported_result" not in skip:
        scores["result_restricted"] = _restricted_result(records, results)
    return scores


def _restricted_result(
    records: Sequence[dict[str, Any]], results: Sequence[Findings]
) -> dict[str, Any]:
    """Reported result over the records with a real gold direction and a design the extractor
    reports a result for: accuracy and the share marked not stated."""
    scored = matched = not_stated = 0
    for record, findings in zip(records, results, strict=True):
        if not result_scored(record):
            continue
        predicted = DIRECTION[findings.reported_result]
        scored += 1
        matched += predicted == record["outcome_direction"]
        not_stated += predicted == "not_applicable"
    return {
        "scored": scored,
        "matched": matched,
        "accuracy": matched / scored if scored else 0.0,
        "not_stated_share": not_stated / scored if scored else 0.0,
    }


def print_scores(title: str, records: Sequence[dict[str, Any]], scores: dict[str, Any]) -> None:
    print(f"\n{title}: {scores['records']} records")
    print(
        f"  {'field':<18}{'scored':>7}{'exact':>8}{'accuracy':>10}{'not stated':>12}"
        f"{'value where gold none':>24}"
    )
    for name, row in scores["fields"].items():
        label = "result (direction)" if name == "reported_result" else name
        print(
            f"  {label:<18}{row['scored']:>7}{row['matched']:>8}{row['accuracy']:>10.3f}"
            f"{row['not_stated_share']:>12.3f}"
            f"{row['values_where_gold_none']:>14} of {row['gold_none']:<4}"
        )
    restricted = scores.get("result_restricted")
    if restricted and restricted["scored"]:
        print(
            f"  {'result, restricted':<18}{restricted['scored']:>7}{restricted['matched']:>8}"
            f"{restricted['accuracy']:>10.3f}{restricted['not_stated_share']:>12.3f}"
            "   (gold a real direction; design one the extractor reports a result for)"
        )
    comparator = scores["fields"].get("comparator")
    if comparator and comparator.get("none_null_equated"):
        print(
            f"  comparator: `none` and null scored as equal for uncontrolled designs (single-arm,"
            f" case series, case report; the labels use both): {comparator['none_null_equated']}"
            " record(s) counted as matches that way"
        )


def print_confusion(records: Sequence[dict[str, Any]], results: Sequence[Findings]) -> None:
    """Counts of gold direction x predicted direction (aggregate only, no records named)."""
    values = ["positive", "null", "negative", "mixed", "not_applicable"]
    table: dict[tuple[str, str], int] = {}
    for record, findings in zip(records, results, strict=True):
        if "outcome_direction" not in record:
            continue
        key = (str(record["outcome_direction"]), DIRECTION[findings.reported_result])
        table[key] = table.get(key, 0) + 1
    print("  result: gold (rows) x predicted (columns)")
    print("  " + " " * 16 + "".join(f"{v[:8]:>9}" for v in values))
    for gold in values:
        print(f"  {gold:<16}" + "".join(f"{table.get((gold, p), 0):>9}" for p in values))


def print_errors(
    records: Sequence[dict[str, Any]], results: Sequence[Findings], scores: dict[str, Any]
) -> None:
    for name, row in scores["fields"].items():
        for index, gold, predicted in row["errors"]:
            record = records[index]
            where = f"{record['_file']}:{record['_line']}"
            print(
                f"  {where} {name}: gold {gold!r} predicted {predicted!r} "
                f"[{results[index].scope}] {record.get('title', '')[:70]}"
            )


def throughput(articles: Sequence[Article], passes: int) -> tuple[float, float, float]:
    """Articles/s for tagging alone, findings alone (tags given) and tagging + findings: the
    best of ``passes`` interleaved passes of CPU time of this process (the machine is shared;
    CPU time is what other processes disturb least)."""
    tags = [tag_article(article, findings=False) for article in articles]
    best_tag = best_findings = best_both = float("inf")
    for _ in range(passes):
        started = time.process_time()
        for article in articles:
            tag_article(article, findings=False)
        best_tag = min(best_tag, time.process_time() - started)
        started = time.process_time()
        for article, tagged in zip(articles, tags, strict=True):
            extract_findings(article, tagged)
        best_findings = min(best_findings, time.process_time() - started)
        started = time.process_time()
        for article in articles:
            tag_article(article)  # the tagger of record: tags and findings in one pass
        best_both = min(best_both, time.process_time() - started)
    n = len(articles)
    return n / best_tag, n / best_findings, n / best_both


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dev", type=Path, default=DEFAULT_EVAL_DEV)
    parser.add_argument(
        "--real",
        type=Path,
        default=DEFAULT_REAL,
        help="folder of the project's real paraphrased abstracts (*.jsonl)",
    )
    parser.add_argument(
        "--show-tune-errors",
        action="store_true",
        help="list every mismatch on the tune split (never the report split)",
    )
    parser.add_argument("--no-timing", action="store_true")
    args = parser.parse_args(argv)

    print(
        f"findings_accuracy {date.today()} python {platform.python_version()} cpus {os.cpu_count()}"
    )
    everything: list[Article] = []
    if args.eval_dev.exists():
        records = load_records(args.eval_dev)
        articles = build_articles(records)
        everything.extend(articles)
        results = run_extractor(articles)
        scores = score_findings(records, results, skip=unlabelled_fields(records))
        print_scores(f"eval-dev ({args.eval_dev})", records, scores)
        print_confusion(records, results)
    else:
        print(f"\neval-dev: {args.eval_dev} not found, skipped")

    real_records: list[dict[str, Any]] = []
    for path in sorted(args.real.glob("*.jsonl")):
        real_records.extend(load_records(path))
    for split in ("tune", "report"):
        records = [record for record in real_records if record.get("split") == split]
        if not records:
            continue
        articles = build_articles(records)
        everything.extend(articles)
        results = run_extractor(articles)
        scores = score_findings(records, results)
        print_scores(f"own real abstracts, split={split}", records, scores)
        print_confusion(records, results)
        if split == "tune" and args.show_tune_errors:
            print_errors(records, results, scores)

    if not args.no_timing and everything:
        passes = max(5, 4000 // len(everything))
        tag_rate, findings_rate, both_rate = throughput(everything, passes)
        print(
            f"\nthroughput on {len(everything)} abstracts (best of {passes} passes, CPU time): "
            f"tagging {tag_rate:,.0f} articles/s, findings alone {findings_rate:,.0f} "
            f"articles/s, tagging + findings {both_rate:,.0f} articles/s "
            f"({both_rate / tag_rate:.0%} of tagging alone)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
