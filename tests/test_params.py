"""recipe.execute.params.discover: parameters and outputs read from a script's source."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from recipe.execute.params import REQUIRED, DiscoveryError, coerce, discover, resolve


def script(tmp_path: Path, text: str) -> str:
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(text))
    return str(path)


def table(path: str) -> list[tuple]:
    return [(p.name, p.default, p.type, p.source) for p in discover(path).parameters]


def test_param_calls_are_the_parameters_when_there_are_any(tmp_path: Path) -> None:
    path = script(tmp_path, """\
        import recipe
        from recipe import Param
        other = 5
        layers = recipe.Param(32, name="layers")
        lr = recipe.Param(default=-0.1, name="lr")
        mode = Param(name="mode")
        name = recipe.Param(None, name="opt")
        recipe.Output(layers, name="score")
        """)
    assert table(path) == [("layers", 32, "int", "Param"), ("lr", -0.1, "float", "Param"),
                           ("mode", REQUIRED, "any", "Param"), ("opt", None, "any", "Param")]
    assert [(o.name, o.line) for o in discover(path).outputs] == [("score", 8)]


def test_module_level_literals_are_parameters_without_param_calls(tmp_path: Path) -> None:
    path = script(tmp_path, """\
        layers = 32
        _private = 1
        name = "foo"
        skip = True
        ratio: float = 0.5
        layers = 64
        listed = [1, 2]
        computed = layers * 2
        a = b = 3
        def f():
            inner = 2
        if True:
            nested = 1
        """)
    assert table(path) == [("layers", 32, "int", "global"), ("name", "foo", "str", "global"),
                           ("skip", True, "bool", "global"), ("ratio", 0.5, "float", "global")]


def test_output_calls_alone_leave_the_module_level_literals_as_parameters(
        tmp_path: Path) -> None:
    path = script(tmp_path, """\
        import recipe
        degree = 1
        recipe.Output(degree * 2, name="slope")
        """)
    assert table(path) == [("degree", 1, "int", "global")]
    assert [o.name for o in discover(path).outputs] == ["slope"]


def test_argparse_options_are_parameters_otherwise(tmp_path: Path) -> None:
    path = script(tmp_path, """\
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        parser.add_argument("--fast", action="store_true")
        parser.add_argument("--no-cache", dest="cache", action="store_false")
        parser.add_argument("-e", "--epochs", type=int, required=True)
        parser.add_argument("data")
        args = parser.parse_args()
        """)
    assert table(path) == [("lr", 0.1, "float", "argparse"), ("fast", False, "bool", "argparse"),
                           ("cache", True, "bool", "argparse"),
                           ("epochs", REQUIRED, "int", "argparse"),
                           ("data", REQUIRED, "any", "argparse")]


def test_no_parameters_at_all(tmp_path: Path) -> None:
    assert discover(script(tmp_path, "print('hello')\n")).parameters == []


@pytest.mark.parametrize(("text", "message"), [
    ('import recipe\na = recipe.Param(1, name="a")\nb = recipe.Param(2, name="a")\n',
     "'a' is declared twice (first on line 2)"),
    ('import recipe\na = recipe.Param(1, name="a")\nrecipe.Output(a, name="a")\n',
     "'a' is declared twice"),
    ('import recipe\na = recipe.Param(1)\n', "needs name="),
    ('import recipe\na = recipe.Param([1], name="a")\n', "not list"),
    ('import recipe\na = recipe.Param(f(), name="a")\n', "must be a literal"),
    ("def broken(:\n", "cannot parse the script"),
])
def test_errors_say_where_and_why(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DiscoveryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        discover(script(tmp_path, text))


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("yes", "bool", True), ("Off", "bool", False), ("1", "bool", True), ("0", "bool", False),
    ("3", "int", 3), ("2.5", "int", 2.5), ("-1e3", "float", -1000.0), ("007", "str", "007"),
    (" spaced ", "str", " spaced "), ("4", "any", 4), ("4.5", "any", 4.5),
    ("true", "any", True), ("adam", "any", "adam"),
])
def test_coerce_by_type(text: str, kind: str, value: object) -> None:
    result = coerce(text, kind)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize(("text", "kind"), [("maybe", "bool"), ("fast", "int"),
                                            ("x", "float")])
def test_coerce_rejects_values_of_the_wrong_type(text: str, kind: str) -> None:
    with pytest.raises(ValueError):
        coerce(text, kind)


def test_resolve_fills_defaults_and_checks_names(tmp_path: Path) -> None:
    found = discover(script(tmp_path, 'import recipe\na = recipe.Param(1, name="a")\n'
                                      'b = recipe.Param(name="b")\n'))
    assert resolve(found, {"b": "x"}) == {"a": 1, "b": "x"}
    with pytest.raises(ValueError, match="'b' is required"):
        resolve(found, {})
    with pytest.raises(ValueError, match="unknown parameter 'c'"):
        resolve(found, {"b": "1", "c": "2"})
