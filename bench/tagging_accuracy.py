"""Score the tagger against JSONL files of labelled studies.

Usage: python bench/tagging_accuracy.py [FILE.jsonl|DIR ...] [--with-indexing] [--show-errors]
       [--show-report-errors] [--split tune|report|all] [--no-timing]

Without arguments it scores ../shared/eval-dev/dev.jsonl, the project's own real data
(bench/data/real/*.jsonl) and, when the folder exists, a hold-out set (bench/data/holdout/*.jsonl)
separately, and times the tagger on the synthetic labelled set. A DIR argument is one data set
made of every *.jsonl in it.

Each line is one study in the eval-dev format (pmid, title, abstract, forms, study_type_ok,
combination_product, route, population, condition, ...; the own real data add `split` and
`evidence_class`). Records with a `split` are scored per split: `tune` and `report`. Errors of
`report` records are listed only with --show-report-errors (since rules 2026.3 both splits may be
used for development: see bench/data/real/README.md). The hold-out folder (bench/data/holdout,
or any DIR named ``holdout``) is scored as one data set, "holdout", whatever its records' `split`,
and its individual errors are never listed, whatever the options.
Publication types, MeSH, substances and keywords are only given to the tagger with
--with-indexing (the eval-dev set withholds them, like a brand-new PubMed record).

Prints per-form precision/recall/F1, form micro-F1, glycinate precision/recall, study type
accuracy (``unclear`` counts as wrong) and the share tagged unclear, direct-vs-indirect accuracy
(has a migraine/headache outcome), evidence-class accuracy where the gold has one, combination
product accuracy, route/population agreement, a confusion table of designs (gold -> predicted)
and throughput.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aggregator.article import AbstractSection, Article, Chemical, MeshHeading
from aggregator.tagging import RULES_VERSION, tag_article
from aggregator.vocab import DIRECT_CONDITIONS, FORMS, STUDY_TYPES, ArticleTags

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVAL_DEV = ROOT.parent / "shared" / "eval-dev" / "dev.jsonl"
DEFAULT_REAL = ROOT / "bench" / "data" / "real"
DEFAULT_HOLDOUT = ROOT / "bench" / "data" / "holdout"
HOLDOUT = "holdout"
SYNTHETIC = ROOT / "tests" / "fixtures" / "tagging" / "labelled.jsonl"
REPORT = "report"

# eval-dev population labels -> tagger vocabulary
POPULATION_ALIASES = {"children_adolescents": "children"}


class BenchInputError(Exception):
    """The labelled file cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Labelled:
    line: int
    record: dict[str, Any]
    article: Article
    file: str = ""  # the file's name when the data set is a folder of several files


def load(path: Path, *, with_indexing: bool) -> list[Labelled]:
    """Read labelled studies (a file, or every *.jsonl in a directory); raises BenchInputError
    naming the file/line on bad input."""
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise BenchInputError(f"{path}: no *.jsonl files")
        return [
            Labelled(study.line, study.record, study.article, file.name)
            for file in files
            for study in load(file, with_indexing=with_indexing)
        ]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BenchInputError(f"cannot read {path}: {exc.strerror}") from exc
    studies: list[Labelled] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BenchInputError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or not isinstance(record.get("title"), str):
            raise BenchInputError(f"{path}:{number}: each line needs an object with a 'title'")
        if not isinstance(record.get("forms"), list):
            raise BenchInputError(f"{path}:{number}: 'forms' must be a list")
        studies.append(Labelled(number, record, to_article(record, number, with_indexing)))
    if not studies:
        raise BenchInputError(f"{path}: no labelled studies")
    return studies


def to_article(record: dict[str, Any], line: int, with_indexing: bool) -> Article:
    """Build the Article the tagger sees from one labelled record."""
    pmid_text = str(record.get("pmid") or "")
    pmid = int(pmid_text) if pmid_text.isdigit() else line
    sections = tuple(
        AbstractSection(text=s["text"], label=s.get("label"), category=s.get("category"))
        for s in record.get("abstract_sections") or ()
    )
    indexing: dict[str, Any] = {}
    if with_indexing:
        indexing = {
            "publication_types": tuple(record.get("publication_types") or ()),
            "mesh_headings": tuple(MeshHeading(d) for d in record.get("mesh") or ()),
            "chemicals": tuple(Chemical(c) for c in record.get("chemicals") or ()),
            "keywords": tuple(record.get("keywords") or ()),
        }
    return Article(
        pmid=pmid,
        title=record["title"],
        abstract=record.get("abstract") or "",
        abstract_sections=sections,
        pub_year=record.get("year"),
        journal_title=record.get("journal"),
        **indexing,
    )


def route_agrees(gold: Any, predicted: tuple[str, ...]) -> bool | None:
    """Gold route is a list (synthetic set) or one word / 'mixed' / 'not_applicable' (eval-dev)."""
    if gold is None:
        return None
    if isinstance(gold, list):
        return set(gold) == set(predicted)
    if gold == "mixed":
        return len(predicted) >= 2
    if gold == "not_applicable":
        return not predicted
    return set(predicted) == {gold}


def population_agrees(gold: Any, predicted: tuple[str, ...]) -> bool | None:
    """Recall-style: every gold population value must be predicted ('mixed' is not scored)."""
    if gold is None or gold == "mixed":
        return None
    values = gold if isinstance(gold, list) else [gold]
    return all(POPULATION_ALIASES.get(v, v) in predicted for v in values)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def gold_study_type(record: dict[str, Any]) -> str | None:
    """The annotator's design in the project vocabulary (for the confusion table)."""
    for key in ("gold_study_type", "study_type"):
        value = record.get(key)
        if value in STUDY_TYPES:
            return str(value)
    accepted = record.get("study_type_ok")
    return str(accepted[0]) if accepted else None


def gold_direct(record: dict[str, Any]) -> bool | None:
    """Has the gold a migraine/headache outcome? None when the gold does not say."""
    if isinstance(record.get("conditions"), list):
        return any(c in DIRECT_CONDITIONS for c in record["conditions"])
    condition = record.get("condition")
    if condition is None:
        return None
    return condition in DIRECT_CONDITIONS


@dataclass
class Scores:
    """Counts for one data set (or one split of it)."""

    n: int = 0
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    type_scored: int = 0
    type_ok: int = 0
    unclear: int = 0
    combo_ok: int = 0
    all_ok: int = 0
    route_scored: int = 0
    route_ok: int = 0
    pop_scored: int = 0
    pop_ok: int = 0
    direct_scored: int = 0
    direct_ok: int = 0
    class_scored: int = 0
    class_ok: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def score_one(scores: Scores, study: Labelled, tags: ArticleTags) -> None:
    record = study.record
    scores.n += 1
    gold_forms, predicted = set(record["forms"]), set(tags.forms)
    for form in gold_forms & predicted:
        scores.tp[form] += 1
    for form in predicted - gold_forms:
        scores.fp[form] += 1
    for form in gold_forms - predicted:
        scores.fn[form] += 1
    scores.unclear += tags.study_type == "unclear"
    ok_types = record.get("study_type_ok")
    type_right = True
    if ok_types is not None:
        scores.type_scored += 1
        type_right = tags.study_type in ok_types
        scores.type_ok += type_right
        gold = gold_study_type(record)
        if gold is not None:
            scores.confusion[(gold, tags.study_type)] += 1
    combo_right = tags.combination_product == bool(record.get("combination_product"))
    scores.combo_ok += combo_right
    forms_right = gold_forms == predicted
    scores.all_ok += forms_right and type_right and combo_right
    route = route_agrees(record.get("routes", record.get("route")), tags.routes)
    if route is not None:
        scores.route_scored += 1
        scores.route_ok += route
    population = population_agrees(
        record.get("populations", record.get("population")), tags.population
    )
    if population is not None:
        scores.pop_scored += 1
        scores.pop_ok += population
    direct = gold_direct(record)
    direct_right = True
    if direct is not None:
        scores.direct_scored += 1
        direct_right = direct == tags.is_direct
        scores.direct_ok += direct_right
    gold_class = record.get("evidence_class")
    class_right = True
    if gold_class:
        scores.class_scored += 1
        class_right = gold_class == tags.evidence_class
        scores.class_ok += class_right
    where = f"{study.file}:{study.line}" if study.file else f"line {study.line}"
    label = f"pmid {record.get('pmid')} ({where})"
    if not forms_right:
        scores.errors.append(f"{label}: forms {sorted(predicted)} expected {sorted(gold_forms)}")
    if not type_right:
        scores.errors.append(f"{label}: study_type {tags.study_type} expected one of {ok_types}")
    if not combo_right:
        scores.errors.append(f"{label}: combination_product {tags.combination_product}")
    if not direct_right:
        scores.errors.append(f"{label}: direct {tags.is_direct} expected {direct}")
    if not class_right:
        scores.errors.append(f"{label}: evidence_class {tags.evidence_class} expected {gold_class}")


def ratio(ok: int, total: int) -> str:
    return f"{ok / total:.3f} ({ok}/{total})" if total else "n/a"


def print_scores(scores: Scores, *, show_errors: bool, withheld: str = "") -> None:
    """Print one data set's figures; ``withheld`` (the name of a report split or a hold-out set)
    lists no individual errors."""
    print(f"rules {RULES_VERSION}: {scores.n} studies")
    print(f"{'form':<14}{'support':>8}{'P':>8}{'R':>8}{'F1':>8}")
    tp, fp, fn = scores.tp, scores.fp, scores.fn
    for form in FORMS:
        support = tp[form] + fn[form]
        if support == 0 and fp[form] == 0:
            continue
        p, r, f = prf(tp[form], fp[form], fn[form])
        print(f"{form:<14}{support:>8}{p:>8.3f}{r:>8.3f}{f:>8.3f}")
    micro = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    glycinate = prf(tp["glycinate"], fp["glycinate"], fn["glycinate"])
    print(f"forms micro      P {micro[0]:.3f}  R {micro[1]:.3f}  F1 {micro[2]:.3f}")
    print(f"glycinate        P {glycinate[0]:.3f}  R {glycinate[1]:.3f}  F1 {glycinate[2]:.3f}")
    if scores.type_scored:
        print(f"study type accuracy      {ratio(scores.type_ok, scores.type_scored)}")
    print(f"tagged unclear           {ratio(scores.unclear, scores.n)}")
    if scores.direct_scored:
        print(f"direct vs indirect       {ratio(scores.direct_ok, scores.direct_scored)}")
    if scores.class_scored:
        print(f"evidence class accuracy  {ratio(scores.class_ok, scores.class_scored)}")
    n = scores.n
    print(f"combination accuracy     {ratio(scores.combo_ok, n)}")
    if scores.route_scored:
        print(f"route agreement          {ratio(scores.route_ok, scores.route_scored)}")
    if scores.pop_scored:
        print(f"population recall        {ratio(scores.pop_ok, scores.pop_scored)}")
    print(f"records fully correct    {ratio(scores.all_ok, n)} [forms, type, combination]")
    if scores.confusion:
        print("designs (gold -> predicted, count):")
        for gold in sorted({g for g, _ in scores.confusion}, key=_type_rank):
            row = sorted(
                ((p, c) for (g, p), c in scores.confusion.items() if g == gold),
                key=lambda item: (-item[1], _type_rank(item[0])),
            )
            total = sum(c for _, c in row)
            cells = ", ".join(f"{p} {c}" if p != gold else f"= {c}" for p, c in row)
            print(f"  {gold:<31}{total:>3}: {cells}")
    if show_errors:
        if withheld:
            print(f"  ({withheld}: individual errors are not listed)")
        else:
            for error in scores.errors:
                print("  " + error)


def _type_rank(study_type: str) -> int:
    return STUDY_TYPES.index(study_type) if study_type in STUDY_TYPES else len(STUDY_TYPES)


def score(
    studies: list[Labelled],
    results: list[ArticleTags],
    show_errors: bool,
    *,
    split: str = "all",
    holdout: bool = False,
    show_report_errors: bool = False,
) -> None:
    """Print the figures of one data set; records with a ``split`` are scored per split. A
    ``holdout`` data set is one group whose individual errors are never listed."""
    if holdout:
        scores = Scores()
        for study, tags in zip(studies, results, strict=True):
            score_one(scores, study, tags)
        print(f"-- {HOLDOUT}")
        print_scores(scores, show_errors=show_errors, withheld="holdout set")
        return
    groups: dict[str, Scores] = {}
    for study, tags in zip(studies, results, strict=True):
        name = str(study.record.get("split") or "")
        if split != "all" and name and name != split:
            continue
        score_one(groups.setdefault(name, Scores()), study, tags)
    for name in sorted(groups, key=lambda n: (n != "", n != "tune", n)):
        if name:
            print(f"-- split {name}")
        withheld = "report split" if name == REPORT and not show_report_errors else ""
        print_scores(groups[name], show_errors=show_errors, withheld=withheld)


def is_holdout(path: Path) -> bool:
    """The hold-out folder (bench/data/holdout, or any folder named so, or a file in one)."""
    resolved = path.resolve()
    return (
        resolved == DEFAULT_HOLDOUT.resolve()
        or resolved.name == HOLDOUT
        or (resolved.is_file() and resolved.parent.name == HOLDOUT)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "files",
        type=Path,
        nargs="*",
        help="labelled JSONL files or directories (default: eval-dev and bench/data/real)",
    )
    parser.add_argument(
        "--with-indexing",
        action="store_true",
        help="give the tagger publication types, MeSH, substances and keywords when present",
    )
    parser.add_argument("--show-errors", action="store_true", help="list every wrong label")
    parser.add_argument(
        "--show-report-errors",
        action="store_true",
        help="with --show-errors, list the report split's errors too (never the hold-out set's)",
    )
    parser.add_argument("--no-timing", action="store_true", help="skip the throughput measurement")
    parser.add_argument(
        "--split",
        choices=("tune", "report", "all"),
        default="all",
        help="score only this split of records that have one (default: both, separately)",
    )
    args = parser.parse_args(argv)
    files: list[Path] = args.files or [
        p for p in (DEFAULT_EVAL_DEV, DEFAULT_REAL, DEFAULT_HOLDOUT) if p.exists()
    ]
    if not files:
        print("error: no labelled data found; pass a file", file=sys.stderr)
        return 2
    try:
        data_sets = [(path, load(path, with_indexing=args.with_indexing)) for path in files]
        timed = data_sets[0][1] if args.files else load(SYNTHETIC, with_indexing=False)
    except BenchInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for index, (path, studies) in enumerate(data_sets):
        holdout = is_holdout(path)
        if len(data_sets) > 1:
            name = f"{HOLDOUT} ({_display(path)})" if holdout else _display(path)
            print(("\n" if index else "") + f"== {name}")
        results = [tag_article(study.article) for study in studies]
        score(
            studies,
            results,
            args.show_errors,
            split=args.split,
            holdout=holdout,
            show_report_errors=args.show_report_errors,
        )
    print_findings(data_sets, split=args.split)
    if args.no_timing:
        return 0
    studies = timed
    if not args.files:
        print(f"\n== throughput on {_display(SYNTHETIC)} (text only)")
    # Best pass of several: the machine is shared, and the best pass is the least disturbed one.
    passes = max(3, 2000 // len(studies))
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        for study in studies:
            tag_article(study.article, findings=False)  # the vocabulary rules alone
        best = min(best, time.perf_counter() - started)
    print(
        f"throughput               {len(studies) / best:,.0f} articles/s (best of {passes} passes)"
    )
    return 0


def print_findings(data_sets: list[tuple[Path, list[Labelled]]], *, split: str = "all") -> None:
    """The findings extractor's figures on the same data sets (bench/findings_accuracy.py's
    score_findings; per split, never listing a record)."""
    if __package__:  # imported as bench.tagging_accuracy (tests)
        from bench import findings_accuracy as fa
    else:  # run as a script: bench/ is on sys.path
        import findings_accuracy as fa

    from aggregator.tagging.findings import extract_findings

    print("\n== findings (sample size, dose, duration, comparator, reported result)")
    for path, studies in data_sets:
        groups: dict[str, list[Labelled]] = {}
        for study in studies:
            name = str(study.record.get("split") or "")
            if split == "all" or not name or name == split:
                groups.setdefault(name, []).append(study)
        for name, members in sorted(groups.items(), key=lambda item: (item[0] != "tune", item[0])):
            records = [study.record for study in members]
            results = [
                extract_findings(s.article, tag_article(s.article, findings=False)) for s in members
            ]
            scores = fa.score_findings(records, results, skip=fa.unlabelled_fields(records))
            if not scores["fields"]:
                continue  # no findings labels in this set
            title = _display(path) + (f", split {name}" if name else "")
            fa.print_scores(title, records, scores)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT.parent))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
