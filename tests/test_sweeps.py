"""Sweep planning without running anything: targets, points, identities, Results."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from recipe.execute import targets
from recipe.execute.params import REQUIRED
from recipe.execute.results import CACHED, EXECUTED, Outcome, Results
from recipe.execute.sweeps import points
from recipe.record.fields import computation


def script(tmp_path: Path, text: str, name: str = "model.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def model(tmp_path: Path) -> targets.Target:
    return targets.of(script(tmp_path, """\
        import recipe
        a = recipe.Param(1, name="a")
        b = recipe.Param(10, name="b")
        c = recipe.Param(name="c")
        """))


def test_independent_varies_one_parameter_at_a_time_around_the_defaults(model) -> None:
    assert points(model, {"a": [2, 3], "b": [20]}, "independent", {"c": 0}) == [
        {"a": 1, "b": 10}, {"a": 2, "b": 10}, {"a": 3, "b": 10}, {"a": 1, "b": 20}]


def test_nominal_values_replace_the_defaults_and_are_included_once(model) -> None:
    assert points(model, {"a": [2, 5]}, "independent", {"a": 5, "c": 0}) == [
        {"a": 5}, {"a": 2}]


def test_grid_takes_every_combination_of_the_values_and_the_default(model) -> None:
    found = points(model, {"a": [2], "b": [20, 30]}, "grid", {"c": 0})
    assert found == [{"a": 1, "b": 10}, {"a": 1, "b": 20}, {"a": 1, "b": 30},
                     {"a": 2, "b": 10}, {"a": 2, "b": 20}, {"a": 2, "b": 30}]


def test_a_single_value_counts_as_a_list_of_one(model) -> None:
    assert points(model, {"a": 4}, "grid", {}) == [{"a": 1}, {"a": 4}]


def test_equal_values_of_different_types_stay_apart(model) -> None:
    assert points(model, {"a": [1, 1.0, True, 1]}, "grid", {}) == [
        {"a": 1}, {"a": 1.0}, {"a": True}]


@pytest.mark.parametrize(("params", "nominal", "message"), [
    ({"c": [1, 2]}, {}, "parameter 'c' has no default"),
    ({"zz": [1]}, {}, "unknown parameter 'zz'"),
    ({"_a": [1]}, {}, "starts with '_'"),
])
def test_bad_sweeps_are_value_errors(model, params, nominal, message) -> None:
    with pytest.raises(ValueError, match=message):
        points(model, params, "independent", nominal)


def test_a_function_in_a_file_is_read_without_importing_it(tmp_path: Path) -> None:
    path = script(tmp_path, """\
        raise SystemExit("importing me is a mistake")

        @staticmethod
        def simulate(steps, rate=0.5, *, name="x", _cache=None, table=[1, 2], when=None):
            return steps
        """, "sim.py")
    target = targets.of(f"{path}:simulate")
    assert target.is_function and target.path == str(path)
    assert target.argv == [f"{path}:simulate"]
    assert [(p.name, p.default, p.type) for p in target.discovered.parameters] == [
        ("steps", REQUIRED, "any"), ("rate", 0.5, "float"), ("name", "x", "str"),
        ("when", None, "any")]
    assert target.code.decode().startswith("@staticmethod\ndef simulate(")


def test_a_missing_function_or_file_is_a_value_error(tmp_path: Path) -> None:
    path = script(tmp_path, "def other(): pass\n", "sim.py")
    with pytest.raises(ValueError, match="no top-level function 'simulate'"):
        targets.of(f"{path}:simulate")
    with pytest.raises(ValueError, match="cannot read"):
        targets.of(str(tmp_path / "missing.py"))


def simulate(steps, rate=0.5, _scale=1, label="a"):
    return {"total": steps * rate * _scale}


def test_a_callable_has_its_keyword_defaults_as_parameters() -> None:
    target = targets.of(simulate)
    assert [(p.name, p.default) for p in target.discovered.parameters] == [
        ("steps", REQUIRED), ("rate", 0.5), ("label", "a")]
    assert target.path == __file__
    assert target.module == __name__  # found again by module in a fresh interpreter
    assert target.function() is simulate
    target.check_portable()


def test_a_lambda_cannot_go_to_a_fresh_interpreter() -> None:
    target = targets.of(lambda rate=1: rate)
    with pytest.raises(ValueError, match="cannot be found by a fresh interpreter"):
        target.check_portable()


def test_a_function_loaded_from_its_file_does_not_run_its_main_block(tmp_path: Path) -> None:
    path = script(tmp_path, """\
        def double(x=1):
            return 2 * x

        if __name__ == "__main__":
            raise SystemExit("main block ran")
        """, "dbl.py")
    function = targets.load_function({"file": str(path), "qualname": "double"})
    assert function(x=4) == 8


def test_the_identity_depends_on_the_code_and_every_value_with_its_type() -> None:
    base = computation(b"x = 1\n", {"a": 1, "b": "s"})
    assert base == computation(b"x = 1\n", {"b": "s", "a": 1})  # order does not matter
    assert len({base, computation(b"x = 2\n", {"a": 1, "b": "s"}),
                computation(b"x = 1\n", {"a": 1.0, "b": "s"}),
                computation(b"x = 1\n", {"a": True, "b": "s"}),
                computation(b"x = 1\n", {"a": 1, "b": "s", "c": None})}) == 5


def test_outputs_of_a_function() -> None:
    assert targets.outputs_of({"a": 1, "b": [2]}) == {"a": 1, "b": [2]}
    assert targets.outputs_of(3.5) == {"result": 3.5}
    assert targets.outputs_of({1: "x"}) == {"result": {1: "x"}}


def test_results_count_and_table_the_outcomes() -> None:
    import numpy as np

    results = Results("s1")
    results.add(Outcome({"a": 1}, {"score": np.float64(0.5), "w": np.arange(3)}, None,
                        run_id="r1", state=EXECUTED))
    results.add(Outcome({"a": 2}, {"score": 0.7}, None, run_id="r2", state=CACHED))
    results.add(Outcome({"a": 3}, None, "ValueError: no", run_id="r3"))
    assert (results.executed, results.cached, results.failed) == (1, 1, 1)
    assert results.errors == [({"a": 3}, "ValueError: no")]
    assert results.rows(scalars_only=True) == [{"a": 1, "score": 0.5}, {"a": 2, "score": 0.7}]
    assert list(results.to_dataframe().columns) == ["a", "score", "w"]
    assert results[{"a": 2, "other": 0}] == {"score": 0.7}
    with pytest.raises(KeyError, match="failed: ValueError: no"):
        results[{"a": 3}]
    with pytest.raises(KeyError, match="no run with"):
        results[{"a": 4}]
