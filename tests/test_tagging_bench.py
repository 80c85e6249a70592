"""The accuracy benchmark script: scoring output and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.tagging_accuracy import main, prf, route_agrees

FIXTURE = Path(__file__).parent / "fixtures" / "tagging" / "labelled.jsonl"


def test_bench_scores_the_synthetic_set_perfectly_with_indexing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([str(FIXTURE), "--with-indexing", "--no-timing"]) == 0
    summary = capsys.readouterr().out.splitlines()
    assert "forms micro      P 1.000  R 1.000  F1 1.000" in summary
    assert "glycinate        P 1.000  R 1.000  F1 1.000" in summary
    assert "study type accuracy      1.000 (231/231)" in summary
    assert "combination accuracy     1.000 (231/231)" in summary


def test_bench_reports_errors_per_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {
        "pmid": "99000900",
        "title": "Magnesium oxide for migraine: a randomized trial",
        "abstract": "",
        "forms": ["glycinate"],
        "study_type_ok": ["cohort"],
        "combination_product": False,
        "route": "oral",
        "population": "adults",
    }
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert main([str(path), "--show-errors", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "pmid 99000900 (line 1): forms ['oxide'] expected ['glycinate']" in out
    assert "pmid 99000900 (line 1): study_type randomized_controlled_trial expected one of" in out
    assert "study type accuracy      0.000 (0/1)" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json\n", "one.jsonl:1: invalid JSON"),
        ('{"title": "x", "forms": "oxide"}\n', "one.jsonl:1: 'forms' must be a list"),
        ("\n", "one.jsonl: no labelled studies"),
    ],
)
def test_bench_bad_input_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(content, encoding="utf-8")
    assert main([str(path), "--no-timing"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


def test_missing_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "absent.jsonl")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_scoring_helpers() -> None:
    assert prf(2, 0, 1) == (1.0, 2 / 3, 0.8)
    assert route_agrees("mixed", ("oral", "intravenous")) is True
    assert route_agrees("not_applicable", ("oral",)) is False
    assert route_agrees(["oral"], ("oral",)) is True
    assert route_agrees(None, ()) is None


def test_throughput_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"title": "Magnesium", "forms": []}) + "\n", encoding="utf-8")
    assert main([str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("throughput ")


def test_bench_scores_splits_separately_and_never_lists_report_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = {
        "title": "Magnesium oxide for migraine: a randomized trial",
        "abstract": "",
        "forms": ["glycinate"],
        "study_type_ok": ["cohort"],
        "condition": "migraine",
        "evidence_class": "direct",
    }
    lines = [
        json.dumps({**base, "pmid": "99000901", "split": "tune"}),
        json.dumps({**base, "pmid": "99000902", "split": "report"}),
    ]
    path = tmp_path / "real.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main([str(path), "--show-errors", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "-- split tune" in out and "-- split report" in out
    assert "pmid 99000901" in out and "pmid 99000902" not in out
    assert "report split: individual errors are not listed" in out
    assert "tagged unclear           0.000 (0/1)" in out
    assert "direct vs indirect       1.000 (1/1)" in out
    assert "evidence class accuracy  1.000 (1/1)" in out
    assert "cohort                           1: randomized_controlled_trial 1" in out


def test_report_errors_are_listed_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {
        "pmid": "99000903",
        "title": "Magnesium oxide for migraine: a randomized trial",
        "abstract": "",
        "forms": ["glycinate"],
        "study_type_ok": ["cohort"],
        "split": "report",
    }
    path = tmp_path / "real.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert main([str(path), "--show-errors", "--show-report-errors", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "pmid 99000903 (line 1): forms ['oxide'] expected ['glycinate']" in out
    assert "individual errors are not listed" not in out


def test_holdout_folder_is_scored_as_one_set_and_never_lists_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import bench.tagging_accuracy as bench

    base = {
        "title": "Magnesium oxide for migraine: a randomized trial",
        "abstract": "",
        "forms": ["glycinate"],
        "study_type_ok": ["cohort"],
    }
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.jsonl").write_text(
        json.dumps({**base, "pmid": "99000904", "split": "tune"}) + "\n", encoding="utf-8"
    )
    holdout = tmp_path / "holdout"
    holdout.mkdir()
    (holdout / "h.jsonl").write_text(
        "\n".join(
            json.dumps({**base, "pmid": pmid, "split": split})
            for pmid, split in (("99000905", "tune"), ("99000906", "report"))
        )
        + "\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(bench, "DEFAULT_EVAL_DEV", tmp_path / "absent.jsonl")
    monkeypatch.setattr(bench, "DEFAULT_REAL", real)
    monkeypatch.setattr(bench, "DEFAULT_HOLDOUT", holdout)
    assert main(["--show-errors", "--show-report-errors", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "-- holdout" in out and "== holdout (" in out
    assert "holdout set: individual errors are not listed" in out
    assert "pmid 99000904" in out  # the real data's tune errors are listed
    assert "99000905" not in out and "99000906" not in out
    assert "study type accuracy      0.000 (0/2)" in out  # both records in one set
    # Passed explicitly, a folder named holdout is withheld the same way.
    assert main([str(holdout), "--show-errors", "--show-report-errors", "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "-- holdout" in out and "99000905" not in out and "99000906" not in out
