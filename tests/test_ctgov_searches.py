"""Saved ClinicalTrials.gov searches (queries/registry/*.toml): parsing, validation, where they
are found, and the fingerprint that restarts an edited search."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from aggregator.ctgov.searches import (
    RegistrySearch,
    load_registry_searches,
    parse_registry_file,
    resolve_registry_dir,
    shipped_registry_dir,
)
from aggregator.errors import QueryFileError
from aggregator.queries import load_queries, shipped_queries_dir

GOOD = """\
name = "ctgov-test"
description = "  A test search  "
start_date = 2010-01-01
query.cond = "migraine   OR headache"
query.intr = "magnesium"
"""


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_registry_search_file_parses_with_api_parameter_names(tmp_path: Path) -> None:
    path = write(tmp_path, "a.toml", GOOD)
    search = parse_registry_file(path)
    assert search == RegistrySearch(
        name="ctgov-test",
        start_date=dt.date(2010, 1, 1),
        cond="migraine OR headache",
        intr="magnesium",
        description="A test search",
        path=path,
    )
    assert search.params == {"query.cond": "migraine OR headache", "query.intr": "magnesium"}
    assert search.describe() == 'query.cond="migraine OR headache" query.intr="magnesium"'


def test_query_table_syntax_is_the_same_search(tmp_path: Path) -> None:
    dotted = parse_registry_file(write(tmp_path, "a.toml", GOOD))
    table = parse_registry_file(
        write(
            tmp_path,
            "b.toml",
            'name = "ctgov-test"\ndescription = "A test search"\nstart_date = 2010-01-01\n'
            '[query]\ncond = "migraine OR headache"\nintr = "magnesium"\n',
        )
    )
    assert (table.params, table.fingerprint) == (dotted.params, dotted.fingerprint)


def test_shipped_registry_searches() -> None:
    folder = shipped_registry_dir()
    assert load_registry_searches(folder) == [
        RegistrySearch(
            name="ctgov-magnesium-glycinate",
            start_date=dt.date(2000, 1, 1),
            term=(
                'magnesium AND (glycinate OR bisglycinate OR diglycinate OR "glycine chelate" '
                'OR "glycinate chelate" OR "amino acid chelate")'
            ),
            description=(
                "Registered studies of magnesium glycinate / bisglycinate / glycine chelate, "
                "any condition"
            ),
            path=folder / "ctgov-magnesium-glycinate.toml",
        ),
        RegistrySearch(
            name="ctgov-magnesium-migraine",
            start_date=dt.date(2000, 1, 1),
            cond="migraine OR headache",
            intr="magnesium",
            description="Registered trials of magnesium (any form) in migraine or headache",
            path=folder / "ctgov-magnesium-migraine.toml",
        ),
    ]


def test_pubmed_searches_do_not_pick_up_the_registry_folder() -> None:
    names = [query.name for query in load_queries(shipped_queries_dir())]
    assert names == ["magnesium-glycinate", "magnesium-migraine"]


def test_registry_names_differ_from_pubmed_names() -> None:
    pubmed = {query.name for query in load_queries(shipped_queries_dir())}
    registry = {search.name for search in load_registry_searches(shipped_registry_dir())}
    assert pubmed & registry == set()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            GOOD + 'term = "x"\n',
            "unknown key 'term' (allowed: name, start_date, query, description, enabled)",
        ),
        (
            GOOD + 'query.titles = "x"\n',
            "unknown key 'query.titles' (allowed: query.cond, query.intr, query.term)",
        ),
        (GOOD.replace('name = "ctgov-test"\n', ""), "missing required key 'name'"),
        (
            'name = "x"\nstart_date = 2010-01-01\n',
            "missing required key 'query'",
        ),
        (
            GOOD.replace('"ctgov-test"', '"Ctgov Test"'),
            "'name' must be lowercase letters, digits, '-' or '_' (got 'Ctgov Test')",
        ),
        (
            GOOD.replace("2010-01-01", '"2010-01-01"'),
            "'start_date' must be a TOML date like 2000-01-01 (got '2010-01-01')",
        ),
        (GOOD.replace("2010-01-01", "2999-01-01"), "'start_date' 2999-01-01 is in the future"),
        (GOOD.replace('"magnesium"', '"  "'), "'query.intr' must be a non-empty string"),
        (GOOD.replace('"magnesium"', "3"), "'query.intr' must be a non-empty string"),
        (
            'name = "x"\nstart_date = 2010-01-01\nquery = "magnesium"\n',
            "'query' must be a table of query.cond / query.intr / query.term values",
        ),
        (
            'name = "x"\nstart_date = 2010-01-01\n[query]\n',
            "'query' needs at least one of cond, intr or term",
        ),
        (GOOD + "enabled = 1\n", "'enabled' must be true or false"),
        (GOOD.replace('"  A test search  "', "[1]"), "'description' must be a string"),
    ],
)
def test_malformed_registry_search_is_refused_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(QueryFileError) as caught:
        parse_registry_file(path)
    assert str(caught.value) == f"{path}: {problem}"


def test_invalid_toml_and_non_utf8_are_refused_naming_the_file(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.toml", 'name = "x\n')
    latin = write(tmp_path, "latin.toml", b'name = "caf\xe9"\n')
    messages = []
    for path in (broken, latin):
        with pytest.raises(QueryFileError) as caught:
            parse_registry_file(path)
        messages.append(str(caught.value))
    assert messages[0].startswith(f"{broken}: invalid TOML: ")
    assert messages[1] == f"{latin}: not UTF-8 text (invalid continuation byte at byte 11)"


def test_duplicate_names_in_a_folder_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD)
    second = write(tmp_path, "b.toml", GOOD)
    with pytest.raises(QueryFileError) as caught:
        load_registry_searches(tmp_path)
    assert str(caught.value) == (
        f"{second}: name 'ctgov-test' is already used by {tmp_path / 'a.toml'}"
    )


def test_empty_or_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QueryFileError, match="no saved registry searches"):
        load_registry_searches(tmp_path)
    with pytest.raises(QueryFileError, match="registry searches folder does not exist"):
        load_registry_searches(tmp_path / "nope")


def test_disabled_search_loads_with_enabled_false(tmp_path: Path) -> None:
    search = parse_registry_file(write(tmp_path, "a.toml", GOOD + "enabled = false\n"))
    assert search.enabled is False


def test_fingerprint_follows_the_query_values_only() -> None:
    base = RegistrySearch("a", dt.date(2000, 1, 1), cond="migraine", intr="magnesium")
    fingerprints = {
        "same": RegistrySearch(
            "b", dt.date(2020, 1, 1), cond="migraine", intr="magnesium", description="other"
        ).fingerprint,
        "cond": RegistrySearch(
            "a", dt.date(2000, 1, 1), cond="headache", intr="magnesium"
        ).fingerprint,
        "term": RegistrySearch(
            "a", dt.date(2000, 1, 1), cond="migraine", intr="magnesium", term="x"
        ).fingerprint,
    }
    assert fingerprints["same"] == base.fingerprint
    assert base.fingerprint not in (fingerprints["cond"], fingerprints["term"])


def test_a_search_needs_a_query_value() -> None:
    with pytest.raises(ValueError, match="needs query.cond, query.intr or query.term"):
        RegistrySearch("a", dt.date(2000, 1, 1))


def test_registry_folder_is_found_like_the_pubmed_searches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = tmp_path / "mine"
    (configured / "registry").mkdir(parents=True)
    bare = tmp_path / "bare"
    bare.mkdir()
    work = tmp_path / "work"
    (work / "queries" / "registry").mkdir(parents=True)
    monkeypatch.chdir(work)
    found = {
        "configured": resolve_registry_dir(configured),
        "configured without registry/": resolve_registry_dir(bare),
        "./queries/registry empty": resolve_registry_dir(None),
    }
    write(work / "queries" / "registry", "a.toml", GOOD)
    found["./queries/registry with searches"] = resolve_registry_dir(None)
    assert found == {
        "configured": configured / "registry",
        "configured without registry/": None,
        "./queries/registry empty": shipped_registry_dir(),
        "./queries/registry with searches": work / "queries" / "registry",
    }
    with pytest.raises(QueryFileError, match="queries folder does not exist"):
        resolve_registry_dir(tmp_path / "nope")
