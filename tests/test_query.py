"""recipe.store.query.search: by path, basename, regex, id prefix and content hash."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import xxhash

from recipe.record.hashing import hash_file
from recipe.store import query
from recipe.store.query import search

Run = dict[str, Any]

CONTENT = b"a,b\n1,2\n"
XXH3 = xxhash.xxh3_128(CONTENT).hexdigest()
SHA = hashlib.sha256(CONTENT).hexdigest()


def file_event(path: str, digest: str | None, algorithm: str | None = "xxh3_128") -> dict:
    return {"path": path, "hash": digest, "hash_algorithm": algorithm}


def make_runs() -> list[Run]:
    """Newest first, as the store gives them."""
    return [
        {"id": "aaaa11" + "0" * 26,
         "inputs": [file_event("/data/raw/train.csv", XXH3)],
         "outputs": [file_event("/data/models/model.pkl", "1" * 32)]},
        {"id": "aaaa22" + "0" * 26,
         "inputs": [file_event("/data/raw/test.csv", "2" * 32)],
         "outputs": []},
        {"id": "bbbb11" + "0" * 26,
         "inputs": [],
         "outputs": [file_event("/elsewhere/copy_of_train.csv", SHA, "sha256")]},
        {"id": "cccc11" + "0" * 26,  # no hash recorded (e.g. a summary of an odd event)
         "inputs": [file_event("/data/plots/figure.png", None, None)]},
        {"id": "dddd11" + "0" * 26},  # logged no file at all
    ]


def ids(runs: list[Run]) -> list[str]:
    return [run["id"][:6] for run in runs]


@pytest.mark.parametrize(("term", "expected"), [
    ("/data/raw", ["aaaa11", "aaaa22"]),
    ("train.csv", ["aaaa11", "bbbb11"]),
    ("model.pkl", ["aaaa11"]),
    ("figure", ["cccc11"]),
    (".csv", ["aaaa11", "aaaa22", "bbbb11"]),
    ("nothing-like-this", []),
])
def test_search_matches_a_substring_of_a_path(term: str, expected: list[str]) -> None:
    assert ids(search(make_runs(), term)) == expected


def test_search_is_case_sensitive_on_paths() -> None:
    assert search(make_runs(), "TRAIN.CSV") == []


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"t(rain|est)\.csv$", ["aaaa11", "aaaa22", "bbbb11"]),
    (r"^/data/raw/", ["aaaa11", "aaaa22"]),
    (r"\.pkl$", ["aaaa11"]),
    (r"^train", []),  # re.search on the whole path, which is absolute
])
def test_search_by_regex(pattern: str, expected: list[str]) -> None:
    assert ids(search(make_runs(), pattern, regex=True)) == expected


def test_a_regex_term_without_regex_is_a_plain_substring() -> None:
    assert search(make_runs(), r"\.csv$") == []


def test_invalid_regex_raises_value_error() -> None:
    with pytest.raises(ValueError, match=r"invalid regular expression '\(\['"):
        search(make_runs(), "([", regex=True)


@pytest.mark.parametrize(("prefix", "expected"), [
    ("aaaa", ["aaaa11", "aaaa22"]),
    ("AAAA22", ["aaaa22"]),
    ("dddd11" + "0" * 26, ["dddd11"]),
    ("eeee", []),
])
def test_search_by_id_prefix(prefix: str, expected: list[str]) -> None:
    assert ids(search(make_runs(), prefix, by_id=True)) == expected


def test_by_id_does_not_search_paths() -> None:
    assert search(make_runs(), "train", by_id=True) == []


def test_an_existing_file_matches_runs_that_logged_the_same_content(tmp_path: Path) -> None:
    (tmp_path / "renamed.txt").write_bytes(CONTENT)

    # Matches both the xxh3_128 event of run aaaa11 and the sha256 event of run bbbb11.
    assert ids(search(make_runs(), "renamed.txt")) == ["aaaa11", "bbbb11"]
    assert ids(search(make_runs(), str(tmp_path / "renamed.txt"))) == ["aaaa11", "bbbb11"]


def test_an_existing_file_with_other_content_matches_no_hash(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_bytes(b"different")

    assert search(make_runs(), "other.txt") == []


def test_a_missing_file_name_matches_nothing(tmp_path: Path) -> None:
    runs = make_runs()

    # Not runs without a hash (cccc11), nor runs without files (dddd11).
    assert search(runs, "missing.txt") == []
    assert search(runs, str(tmp_path / "missing.txt")) == []


def test_an_empty_existing_file_matches_only_its_own_content(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")

    assert search(make_runs(), "empty") == []


@pytest.mark.parametrize(("term", "expected"), [
    (XXH3[:8], ["aaaa11"]),
    (XXH3[:8].upper(), ["aaaa11"]),
    (XXH3, ["aaaa11"]),
    (SHA[:12], ["bbbb11"]),
    ("22222222", ["aaaa22"]),
])
def test_a_hex_prefix_of_eight_or_more_matches_hashes(term: str, expected: list[str]) -> None:
    assert ids(search(make_runs(), term)) == expected


def test_a_hex_prefix_shorter_than_eight_does_not_match_hashes() -> None:
    assert search(make_runs(), "2222222") == []


def test_search_keeps_the_order_of_the_runs_given() -> None:
    runs = make_runs()[::-1]

    assert ids(search(runs, ".csv")) == ["bbbb11", "aaaa22", "aaaa11"]
    assert ids(search(runs, "aaaa", by_id=True)) == ["aaaa22", "aaaa11"]
    assert ids(search(runs, r"csv$", regex=True)) == ["bbbb11", "aaaa22", "aaaa11"]


def test_search_returns_the_run_objects_themselves() -> None:
    runs = make_runs()

    found = search(runs, "test.csv")

    assert found == [runs[1]]
    assert found[0] is runs[1]


@pytest.mark.parametrize(("term", "options", "needles"), [
    ("graph.png", {}, ["graph.png"]),
    ('odd"name', {}, ['odd\\"name']),  # as the JSON text of an index spells it
    ("ABCDEF12", {"by_id": True}, ["abcdef12"]),
    ("ABCDEF12", {}, ["ABCDEF12", "abcdef12"]),  # a path, or a hash typed in upper case
    (r"gr.ph", {"regex": True}, None),
])
def test_needles_are_what_a_matching_run_must_contain(term: str, options: dict,
                                                      needles: list[str] | None) -> None:
    assert query.Search(term, **options).needles() == needles


def test_needles_include_the_content_hash_of_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n")
    search = query.Search(str(path), algorithms={"xxh64"})
    assert search.needles() == [str(path), hash_file(str(path), "xxh64")]


def run_with(**params: object) -> dict:
    return {"id": "0" * 32, "params": params}


@pytest.mark.parametrize(("expression", "params", "holds"), [
    ("lr>=0.1", {"lr": 0.1}, True),
    ("lr=0.3", {"lr": 0.1 + 0.2}, True),  # floats compared with a tolerance
    ("lr!=0.3", {"lr": 0.1 + 0.2}, False),
    ("layers<64", {"layers": 32}, True),
    ("layers>64", {"layers": 32}, False),
    ("layers>=32.0", {"layers": 32}, True),
    ("fast=yes", {"fast": True}, True),
    ("fast=no", {"fast": True}, False),
    ("fast>0", {"fast": True}, False),  # bools are not ordered
    ("name=adam", {"name": "adam"}, True),
    ("name<b", {"name": "adam"}, True),
    ("name>3", {"name": "adam"}, False),  # mismatched types never match, never crash
    ("layers=1", {"lr": 1}, False),  # a run without the parameter never matches
    ("opt=1", {"opt": None}, False),
])
def test_where_conditions(expression: str, params: dict, holds: bool) -> None:
    assert query.Condition(expression).holds(run_with(**params)) is holds


@pytest.mark.parametrize(("expression", "message"), [
    ("x", "no operator; write NAME OP VALUE"),
    ("lr", "no operator; write NAME OP VALUE"),
    ("=1", "no parameter or result name before '='"),
    (">=3", "no parameter or result name before '>='"),
    ("lr>", "no value after '>'"),
    ("lr>=", "no value after '>='"),
    ("lr==0.1", "unknown operator '=='"),
    ("lr>>1", "unknown operator '>>'"),
    ("lr=<1", "unknown operator '=<'"),
    ("lr<>1", "unknown operator '<>'"),
])
def test_malformed_where_is_a_value_error_saying_what_is_wrong(expression: str,
                                                               message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        query.Condition(expression)


@pytest.mark.parametrize(("expression", "name", "operator", "value"), [
    ("lr>=0.1", "lr", ">=", 0.1),
    (" lr = 0.1 ", "lr", "=", 0.1),
    ("mode=a=b", "mode", "=", "a=b"),
    ("layers!=3", "layers", "!=", 3),
    ("fast=yes", "fast", "=", True),
])
def test_well_formed_where_conditions_parse(expression: str, name: str, operator: str,
                                            value: object) -> None:
    condition = query.Condition(expression)
    assert (condition.name, condition.operator, condition.value) == (name, operator, value)


def test_filter_runs_by_script_status_tag_and_where() -> None:
    runs = [
        {"id": "a", "script": "/w/train.py", "status": "completed", "tags": ["model"],
         "params": {"lr": 0.1}},
        {"id": "b", "script": "/w/sub/train.py", "status": "failed", "tags": [],
         "params": {"lr": 0.5}},
        {"id": "c", "script": "/w/prepare.py", "status": "completed", "tags": [],
         "params": {}},
    ]
    ids = lambda found: [run["id"] for run in found]  # noqa: E731
    assert ids(query.filter_runs(runs, script="train.py")) == ["a", "b"]
    assert ids(query.filter_runs(runs, script="sub/train.py")) == ["b"]
    assert ids(query.filter_runs(runs, status="completed", tag="model")) == ["a"]
    assert ids(query.filter_runs(runs, where=["lr>0.2"])) == ["b"]
    assert ids(query.filter_runs(runs, where=["lr>0", "lr<0.2"])) == ["a"]


def test_where_also_matches_results_and_a_parameter_wins_over_a_result() -> None:
    runs = [{"id": "a", "params": {"lr": 0.1}, "results": {"score": 0.9}},
            {"id": "b", "params": {}, "results": {"score": 0.4, "lr": 5}},
            {"id": "c", "params": {"lr": 1}, "results": {"lr": 0.0}}]
    assert ids(query.filter_runs(runs, where=["score>0.5"])) == ["a"]
    assert ids(query.filter_runs(runs, where=["lr>=1"])) == ["b", "c"]
    assert ids(query.filter_runs(runs, where=["lr<0.5"])) == ["a"]


def test_run_query_sorts_by_field_parameter_or_result_with_missing_values_last() -> None:
    runs = [{"id": "a", "start": "2024-01-03", "params": {"lr": 0.1}, "results": {}},
            {"id": "b", "start": "2024-01-01", "params": {}, "results": {"lr": 0.5}},
            {"id": "c", "start": "2024-01-02", "params": {}, "results": {}}]
    assert ids(query.RunQuery().ordered(runs)) == ["a", "c", "b"]
    assert ids(query.RunQuery(sort="start").ordered(runs)) == ["b", "c", "a"]
    assert ids(query.RunQuery(sort="-lr").ordered(runs)) == ["b", "a", "c"]
    assert ids(query.RunQuery(sort="lr", limit=1, offset=1).ordered(runs)) == ["b"]


def test_run_query_keeps_runs_by_start_range_and_conditions() -> None:
    runs = [{"id": "a", "start": "2024-01-03T00:00:00+00:00", "params": {"x": 1}},
            {"id": "b", "start": "2024-01-01T00:00:00+00:00", "params": {"x": 2}}]
    since = query.moment("2024-01-02T00:00:00+00:00")
    assert [r["id"] for r in runs if query.RunQuery(since=since).keep(r)] == ["a"]
    assert [r["id"] for r in runs if query.RunQuery(where=["x=2"]).keep(r)] == ["b"]


@pytest.mark.parametrize("text", ["3d", "2w", "12h", "30min"])
def test_moment_reads_spans_back_from_now(text: str) -> None:
    from datetime import datetime, timezone

    assert datetime.fromisoformat(query.moment(text)) < datetime.now(timezone.utc)


def test_moment_of_a_date_with_end_of_day_is_its_last_instant() -> None:
    assert query.moment("2024-01-02", end_of_day=True) > query.moment("2024-01-02T23:59:59")
    with pytest.raises(ValueError, match="not a date"):
        query.moment("yesterday")
