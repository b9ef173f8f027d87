"""recipe.record.quick_json: json's C accelerator used without the json package, judged
against json.dumps and json.loads themselves."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys

import pytest

from recipe.record import quick_json

VALUES = [
    {"id": "ab12", "start": "2026-12-06T23:00:00+00:00", "exit_code": None, "ok": True,
     "params": {"lr": 0.1, "n": 10**30, "name": "naïve — ünïcode", "tiny": -0.0,
                "escapes": "tab\t\"quoted\" back\\slash \x00 \u2028 \ud800"},
     "tags": [], "notes": [{}], "nested": [[1, [2.5, [None]]]]},
    float("nan"), float("inf"), float("-inf"), 1e-300, 1.0, 0, True, "", [], {},
    {1: "int key", 2.5: "float key", None: "None key", False: "bool key"},
    (1, 2),  # a tuple is an array
]
BAD_VALUES = [{"a": object()}, {(1,): "tuple key"}, {1: "x", "b": "mixed keys sorted"}]


def random_value(rng: random.Random, depth: int = 0) -> object:
    kinds = ["int", "float", "str", "none", "bool"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.randint(-10**20, 10**20)
    if kind == "float":
        return rng.choice([rng.uniform(-1e9, 1e9), math.nan, math.inf, 5e-324])
    if kind == "str":
        return "".join(chr(rng.choice([rng.randint(0, 127), rng.randint(128, 0x10FFFF)]))
                       for _ in range(rng.randint(0, 8)))
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {"".join(rng.choice("abcé") for _ in range(3)): random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def outcome(function, *args, **kwargs) -> tuple[str, str]:
    try:
        return "value", repr(function(*args, **kwargs))
    except (TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize("sort_keys", [False, True])
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_dumps_writes_what_json_dumps_writes(sort_keys: bool, ensure_ascii: bool) -> None:
    rng = random.Random(14)
    for value in VALUES + BAD_VALUES + [random_value(rng) for _ in range(300)]:
        assert outcome(quick_json.dumps, value, sort_keys=sort_keys,
                       ensure_ascii=ensure_ascii) == \
            outcome(json.dumps, value, sort_keys=sort_keys, ensure_ascii=ensure_ascii,
                    separators=(",", ":"))


def test_a_failed_dumps_leaves_nothing_behind_for_the_next() -> None:
    """json's encoder remembers the containers it is inside of (to tell a circular
    reference): one that failed half-way must not make the next call see one."""
    shared = [1]
    with pytest.raises(TypeError):
        quick_json.dumps([shared, object()])
    assert quick_json.dumps([shared]) == "[[1]]"
    circular: list = []
    circular.append(circular)
    assert outcome(quick_json.dumps, circular) == outcome(json.dumps, circular)


def test_loads_reads_what_json_loads_reads() -> None:
    rng = random.Random(6)
    for value in VALUES + [random_value(rng) for _ in range(300)]:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        assert repr(quick_json.loads(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["", " ", "{", "[1,]", "1 2", "nul", '"\x01"', " 1", "1 ",
                                  "[1]x", "NaN", "-Infinity", '{"a":NaN}', "-0", "1e5",
                                  '"\\ud800"', '{"a":1,"a":2}', "[" * 5 + "]" * 5])
def test_loads_fails_or_succeeds_as_json_loads(text: str) -> None:
    assert outcome(quick_json.loads, text) == outcome(json.loads, text)


def test_a_process_that_never_imported_json_gets_the_same_answers_and_errors() -> None:
    """The C scanner reports bad JSON through json.decoder's error class, which it finds
    only once json.decoder is imported: in a recorded script, the usual case, it is not."""
    code = """if True:
        import sys
        from recipe.record import quick_json
        assert "json" not in sys.modules
        print(quick_json.loads(quick_json.dumps({"a": [1, 2.5, None, "é"]})))
        assert "json" not in sys.modules  # the usual path imports nothing more
        for bad in ['{"hash": [1, 2]', "", "[1,]", "nul", "{"]:
            try:
                quick_json.loads(bad)
            except ValueError as exc:
                print(type(exc).__name__)
        """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split("\n") == ["{'a': [1, 2.5, None, 'é']}",
                                         *["JSONDecodeError"] * 5, ""]
