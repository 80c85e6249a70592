"""The one order tag values are stored, shown and counted in."""

from __future__ import annotations

from aggregator.vocab import in_vocabulary_order


def test_values_come_distinct_in_vocabulary_order_unknown_ones_last() -> None:
    values = ["dietary", "zz-invented", "oxide", "glycinate", "oxide", "aa-invented"]
    assert in_vocabulary_order("form", values) == (
        "glycinate",
        "oxide",
        "dietary",
        "aa-invented",
        "zz-invented",
    )
    assert in_vocabulary_order("condition", ["other", "migraine"]) == ("migraine", "other")
    assert in_vocabulary_order("form", []) == ()
