"""End-to-end tests of sweeps: `recipe.sweep` from Python and `recipe sweep` on the command line.

Every test runs real scripts (real numpy) in subprocesses against the workspace's temporary
RECIPE_HOME, then reads back what was stored (`recipe export`, `recipe runs --sweep`, the
command's output). Each swept script appends one line to `executions.log` each time it
really runs, so the tests count real executions, not what recipe says it did.

(Not named test_sweeps.py: tests/test_sweeps.py holds the unit tests, and pytest's
default import mode needs test modules' basenames to differ across the two directories.)
"""

from __future__ import annotations

import csv
import json
import os
import textwrap
from typing import Any

import pytest
from recipe_workspace import Workspace

MODEL = """\
    import recipe
    a = recipe.Param(1, name="a")
    b = recipe.Param(10, name="b")
    with open("executions.log", "a") as log:
        log.write(f"{a} {b}\\n")
    if a == 13:
        raise ValueError("unlucky")
    recipe.Output(a * b, name="out")
    """

REQUIRED = """\
    import recipe
    x = recipe.Param(name="x")
    y = recipe.Param(1, name="y")
    with open("executions.log", "a") as log:
        log.write(f"{x} {y}\\n")
    """

CRASH = """\
    import os
    import recipe
    a = recipe.Param(1, name="a")
    with open("executions.log", "a") as log:
        log.write(f"{a}\\n")
    if a == 3:
        os._exit(3)
    if a == 4:
        import ctypes
        ctypes.string_at(0)
    recipe.Output(a * 2, name="out")
    """

FILES = """\
    import time
    import numpy as np
    import recipe
    a = recipe.Param(1, name="a")
    with open("executions.log", "a") as log:
        log.write(f"{a}\\n")
    np.save(f"first_{a}.npy", np.arange(a))
    time.sleep(0.3)
    np.save(f"second_{a}.npy", np.ones(a))
    recipe.Output(a, name="out")
    """

FUNCTIONS = """\
    def simulate(steps=3, seed=1, _scale=1):
        with open("executions.log", "a") as log:
            log.write(f"simulate {steps} {seed} {_scale}\\n")
        return {"total": steps * seed * _scale, "steps_seen": steps}


    def square(x=2):
        with open("executions.log", "a") as log:
            log.write(f"square {x}\\n")
        return x * x
    """

# The top of every driver script: the sweep itself goes under `if __name__ == "__main__":`.
DRIVER = """\
import concurrent.futures
import json
import sys

import recipe


def report(value):
    print("RESULT " + json.dumps(value))


def summary(res):
    return {"keys": [o.key for o in res], "states": [o.state for o in res],
            "outputs": [o.outputs for o in res], "errors": [list(e) for e in res.errors],
            "counts": [res.executed, res.cached, res.failed],
            "ids": [o.run_id for o in res], "sweep": res.sweep_id}


"""


def drive(ws: Workspace, body: str, *args: str, functions: str = "",
          timeout: float = 120) -> Any:
    """Write driver.py (`functions` at its top level, `body` under the main guard), run it,
    and return the JSON it reported last (see `report` in DRIVER)."""
    text = (DRIVER + textwrap.dedent(functions) + '\nif __name__ == "__main__":\n'
            + textwrap.indent(textwrap.dedent(body), "    "))
    ws.write("driver.py", text)
    result = ws.python("driver.py", *args, timeout=timeout)
    reported = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert reported, f"the driver reported nothing:\n{result.stdout}\n{result.stderr}"
    return json.loads(reported[-1][len("RESULT "):])


def executions(ws: Workspace) -> list[str]:
    """The lines the swept code appended, one per real execution."""
    path = ws.root / "executions.log"
    return path.read_text().splitlines() if path.exists() else []


def stored(ws: Workspace, name: str) -> list[dict]:
    """The stored runs whose script is the file `name` of the workspace, newest first."""
    return [run for run in ws.runs() if os.path.basename(run["script"]) == name]


def by_params(runs: list[dict]) -> dict[tuple, dict]:
    """Runs keyed by their sorted parameter items (each key must be unique)."""
    keyed = {tuple(sorted(run["params"].items())): run for run in runs}
    assert len(keyed) == len(runs), [run["params"] for run in runs]
    return keyed


def table(stdout: str) -> list[list[str]]:
    """The rows of a table printed by the CLI, split on whitespace, header first."""
    return [line.split(None) for line in stdout.splitlines() if line.strip()]


# 1. Which points a sweep runs ------------------------------------------------------------


def test_independent_sweep_moves_one_parameter_at_a_time_around_the_defaults(
        ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    got = drive(ws, """\
        res = recipe.sweep("model.py", {"a": [2, 3], "b": [20]}, executor="thread")
        frame = res.to_dataframe()
        report({**summary(res), "columns": list(frame.columns),
                "rows": frame.values.tolist(), "lookup": res[{"a": 3, "b": 10, "x": 0}]})
        """)
    assert got["keys"] == [{"a": 1, "b": 10}, {"a": 2, "b": 10}, {"a": 3, "b": 10},
                           {"a": 1, "b": 20}]
    assert got["counts"] == [4, 0, 0]
    assert got["states"] == ["executed"] * 4
    assert got["outputs"] == [{"out": 10}, {"out": 20}, {"out": 30}, {"out": 20}]
    assert got["columns"] == ["a", "b", "out"]
    assert got["rows"] == [[1, 10, 10], [2, 10, 20], [3, 10, 30], [1, 20, 20]]
    assert got["lookup"] == {"out": 30}
    assert sorted(executions(ws)) == ["1 10", "1 20", "2 10", "3 10"]
    runs = by_params(stored(ws, "model.py"))
    assert set(runs) == {(("a", 1), ("b", 10)), (("a", 2), ("b", 10)),
                         (("a", 3), ("b", 10)), (("a", 1), ("b", 20))}
    for run in runs.values():
        assert run["status"] == "completed"
        assert run["results"] == {"out": run["params"]["a"] * run["params"]["b"]}
        assert run["sweep"] == got["sweep"]
        assert run["id"] in got["ids"]


def test_nominal_values_replace_the_defaults_of_the_points(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    got = drive(ws, """\
        res = recipe.sweep("model.py", {"a": [2, 3], "b": [20]}, nominal={"b": 5},
                           executor="inline")
        report(summary(res))
        """)
    assert got["keys"] == [{"a": 1, "b": 5}, {"a": 2, "b": 5}, {"a": 3, "b": 5},
                           {"a": 1, "b": 20}]
    assert got["outputs"] == [{"out": 5}, {"out": 10}, {"out": 15}, {"out": 20}]
    assert got["counts"] == [4, 0, 0]
    assert executions(ws) == ["1 5", "2 5", "3 5", "1 20"]
    assert sorted((r["params"]["a"], r["params"]["b"]) for r in stored(ws, "model.py")) == [
        (1, 5), (1, 20), (2, 5), (3, 5)]


def test_a_swept_value_equal_to_the_default_is_run_once(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    got = drive(ws, """\
        report(summary(recipe.sweep("model.py", {"a": [1, 2, 2]}, executor="inline")))
        """)
    assert got["keys"] == [{"a": 1}, {"a": 2}]
    assert executions(ws) == ["1 10", "2 10"]
    assert len(stored(ws, "model.py")) == 2


def test_grid_takes_every_combination_of_given_values_and_defaults(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    got = drive(ws, """\
        res = recipe.sweep("model.py", {"a": [2, 3], "b": [20]}, mode="grid",
                           executor="thread", jobs=2)
        report({**summary(res), "rows": res.to_dataframe().values.tolist()})
        """)
    assert got["keys"] == [{"a": 1, "b": 10}, {"a": 1, "b": 20}, {"a": 2, "b": 10},
                           {"a": 2, "b": 20}, {"a": 3, "b": 10}, {"a": 3, "b": 20}]
    assert got["rows"] == [[1, 10, 10], [1, 20, 20], [2, 10, 20], [2, 20, 40], [3, 10, 30],
                           [3, 20, 60]]
    assert got["counts"] == [6, 0, 0]
    assert sorted(executions(ws)) == ["1 10", "1 20", "2 10", "2 20", "3 10", "3 20"]
    assert len(stored(ws, "model.py")) == 6


# 2. Bad arguments -----------------------------------------------------------------------


def test_bad_arguments_raise_value_error_before_anything_runs(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    ws.write("required.py", REQUIRED)
    got = drive(ws, """\
        cases = [
            (("required.py", {"x": [1, 2]}), {}),  # swept, no default, no nominal
            (("required.py", {"y": [2]}), {}),  # required, neither swept nor nominal
            (("model.py", {"c": [1]}), {}),  # unknown parameter
            (("model.py", {"a": [2]}), {"nominal": {"w": 1}}),  # unknown nominal
            (("model.py", {"a": [2]}), {"mode": "diagonal"}),
            (("model.py", {"a": [2]}), {"jobs": 0}),
            (("model.py", {"a": [2]}), {"executor": "fork"}),
            (("missing.py", {"a": [2]}), {}),
        ]
        raised = []
        for args, kwargs in cases:
            try:
                recipe.sweep(*args, **kwargs)
            except Exception as exc:
                raised.append([type(exc).__name__, str(exc)])
            else:
                raised.append(None)
        report(raised)
        """)
    expected = ["'x' has no default", "'x' is required", "unknown parameter 'c'",
                "unknown parameter 'w'", "mode must be one of independent, grid",
                "jobs must be a positive integer", "executor must be one of",
                "cannot read the script 'missing.py'"]
    assert len(got) == len(expected)
    for answer, fragment in zip(got, expected, strict=True):
        assert answer is not None, f"no error for the case expecting {fragment!r}"
        kind, message = answer
        assert kind == "ValueError" and fragment in message, answer
    assert executions(ws) == []
    assert [os.path.basename(run["script"]) for run in ws.runs()] == ["driver.py"]


# 3. Never recompute ---------------------------------------------------------------------

SWEEP_A = """\
    res = recipe.sweep("model.py", {"a": [2, 3], "b": [20]}, executor=sys.argv[1],
                       rerun=sys.argv[2:] == ["rerun"])
    report({**summary(res), "lookup": res[{"a": 3, "b": 10}]["out"]})
    """


def test_repeating_a_sweep_runs_nothing_and_serves_outputs_from_the_store(
        ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    first = drive(ws, SWEEP_A, "process")
    second = drive(ws, SWEEP_A, "process")  # another interpreter: only the store remembers
    assert first["counts"] == [4, 0, 0]
    assert second["counts"] == [0, 4, 0]
    assert second["states"] == ["cached"] * 4
    assert second["keys"] == first["keys"]
    assert second["outputs"] == first["outputs"] == [{"out": 10}, {"out": 20}, {"out": 30},
                                                     {"out": 20}]
    assert second["lookup"] == 30
    assert second["ids"] == first["ids"]  # the runs of the first sweep, not new ones
    assert second["sweep"] != first["sweep"]
    assert sorted(executions(ws)) == ["1 10", "1 20", "2 10", "3 10"]
    assert len(stored(ws, "model.py")) == 4


def test_extending_a_sweep_runs_only_the_new_points(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    first = drive(ws, """\
        report(summary(recipe.sweep("model.py", {"a": [2]}, executor="inline")))
        """)
    second = drive(ws, """\
        report(summary(recipe.sweep("model.py", {"a": [2, 3]}, executor="inline")))
        """)
    assert first["counts"] == [2, 0, 0]
    assert second["counts"] == [1, 2, 0]
    assert second["states"] == ["cached", "cached", "executed"]
    assert second["ids"][:2] == first["ids"]
    assert executions(ws) == ["1 10", "2 10", "3 10"]
    assert len(stored(ws, "model.py")) == 3


def test_rerun_runs_every_point_again(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    first = drive(ws, SWEEP_A, "thread")
    again = drive(ws, SWEEP_A, "thread", "rerun")
    assert again["counts"] == [4, 0, 0]
    assert again["states"] == ["executed"] * 4
    assert not set(again["ids"]) & set(first["ids"])
    assert sorted(executions(ws)) == sorted(["1 10", "2 10", "3 10", "1 20"] * 2)
    assert len(stored(ws, "model.py")) == 8


def test_editing_the_script_makes_every_point_run_again(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    drive(ws, SWEEP_A, "inline")
    ws.write("model.py", "# only a comment changed\n" + textwrap.dedent(MODEL))
    edited = drive(ws, SWEEP_A, "inline")
    assert edited["counts"] == [4, 0, 0]
    ws.write("model.py", textwrap.dedent(MODEL).replace("a * b", "b * a"))
    recoded = drive(ws, SWEEP_A, "inline")
    assert recoded["counts"] == [4, 0, 0]
    assert executions(ws) == ["1 10", "2 10", "3 10", "1 20"] * 3
    unchanged = drive(ws, SWEEP_A, "inline")
    assert unchanged["counts"] == [0, 4, 0]
    assert len(executions(ws)) == 12


def test_a_failed_point_is_retried_while_completed_ones_are_cached(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    body = """\
        report(summary(recipe.sweep("model.py", {"a": [2, 13]}, executor="process")))
        """
    first = drive(ws, body)
    second = drive(ws, body)
    assert first["counts"] == [2, 0, 1]
    assert second["counts"] == [0, 2, 1]
    assert second["states"] == ["cached", "cached", "failed"]
    assert second["errors"] == [[{"a": 13}, "ValueError: unlucky"]]
    assert second["ids"][2] != first["ids"][2]  # a new run, recorded as failed again
    assert executions(ws) == ["1 10", "2 10", "13 10", "13 10"]
    failed = [run for run in stored(ws, "model.py") if run["status"] == "failed"]
    assert sorted(run["id"] for run in failed) == sorted([first["ids"][2], second["ids"][2]])
    assert all(run["params"] == {"a": 13, "b": 10} for run in failed)


def test_a_failed_point_completes_once_what_broke_it_is_fixed(ws: Workspace) -> None:
    ws.write("flaky.py", """\
        import os
        import recipe
        a = recipe.Param(1, name="a")
        with open("executions.log", "a") as log:
            log.write(f"{a}\\n")
        if a == 2 and os.path.exists("broken"):
            raise RuntimeError("broken")
        recipe.Output(a + 100, name="out")
        """)
    (ws.root / "broken").touch()
    body = """\
        report(summary(recipe.sweep("flaky.py", {"a": [2, 3]}, executor="thread")))
        """
    first = drive(ws, body)
    (ws.root / "broken").unlink()
    second = drive(ws, body)
    assert first["errors"] == [[{"a": 2}, "RuntimeError: broken"]]
    assert second["counts"] == [1, 2, 0]
    assert second["states"] == ["cached", "executed", "cached"]
    assert second["outputs"] == [{"out": 101}, {"out": 102}, {"out": 103}]
    assert executions(ws) == ["1", "2", "3", "2"]


# 4. and 5. Failures and crashes, in every executor -----------------------------------------

SWEEP_WITH = """\
    target, kind = sys.argv[1], sys.argv[2]
    values = [int(v) for v in sys.argv[3].split(",")]
    if kind == "pool":
        with concurrent.futures.ProcessPoolExecutor(2) as pool:
            res = recipe.sweep(target, {"a": values}, executor=pool)
    else:
        res = recipe.sweep(target, {"a": values}, executor=kind, jobs=2)
    report(summary(res))
    """


@pytest.mark.parametrize("kind", ["process", "thread", "inline", "pool"])
def test_a_failing_point_is_recorded_as_failed_and_the_sweep_goes_on(
        ws: Workspace, kind: str) -> None:
    ws.write("model.py", MODEL)
    got = drive(ws, SWEEP_WITH, "model.py", kind, "2,13,3")
    assert got["keys"] == [{"a": 1}, {"a": 2}, {"a": 13}, {"a": 3}]
    assert got["errors"] == [[{"a": 13}, "ValueError: unlucky"]]
    assert got["counts"] == [3, 0, 1]
    assert got["states"] == ["executed", "executed", "failed", "executed"]
    assert got["outputs"] == [{"out": 10}, {"out": 20}, None, {"out": 30}]
    assert sorted(executions(ws)) == ["1 10", "13 10", "2 10", "3 10"]
    runs = {run["params"]["a"]: run for run in stored(ws, "model.py")}
    assert sorted(runs) == [1, 2, 3, 13]
    failed = runs.pop(13)
    assert failed["status"] == "failed"
    assert failed["params"] == {"a": 13, "b": 10}
    assert (failed["exception"]["type"], failed["exception"]["message"]) == (
        "ValueError", "unlucky")
    assert failed["id"] == got["ids"][2]
    for a, run in runs.items():
        assert (run["status"], run["results"], run["exception"]) == (
            "completed", {"out": a * 10}, None)


@pytest.mark.parametrize("kind", ["process", "pool"])
def test_a_run_whose_process_dies_is_a_failed_run_and_the_sweep_goes_on(
        ws: Workspace, kind: str) -> None:
    ws.write("crash.py", CRASH)
    got = drive(ws, SWEEP_WITH, "crash.py", kind, "2,3,4,5", timeout=60)
    assert got["keys"] == [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}, {"a": 5}]
    assert got["counts"] == [3, 0, 2]
    errors = dict((e[0]["a"], e[1]) for e in got["errors"])
    assert sorted(errors) == [3, 4]
    assert errors[3] == "ChildProcessError: the run's process exited with status 3"
    assert errors[4].startswith("ChildProcessError") and "SIGSEGV" in errors[4], errors[4]
    assert got["outputs"] == [{"out": 2}, {"out": 4}, None, None, {"out": 10}]
    assert sorted(executions(ws)) == ["1", "2", "3", "4", "5"]
    runs = {run["params"]["a"]: run for run in stored(ws, "crash.py")}
    assert sorted(runs) == [1, 2, 3, 4, 5]
    for a in (3, 4):
        assert runs[a]["status"] == "failed"
        assert runs[a]["params"] == {"a": a}
        assert runs[a]["exception"]["type"] == "ChildProcessError"
        assert runs[a]["id"] == got["ids"][a - 1]
    assert runs[3]["exit_code"] == 3
    for a in (1, 2, 5):
        assert (runs[a]["status"], runs[a]["results"]) == ("completed", {"out": 2 * a})


# 6. Function targets ----------------------------------------------------------------------


def test_a_file_function_target_records_its_file_params_and_results(ws: Workspace) -> None:
    ws.write("funcs.py", FUNCTIONS)
    got = drive(ws, """\
        simulated = recipe.sweep("funcs.py:simulate", {"steps": [4]},
                                 nominal={"_scale": 10})
        squared = recipe.sweep("funcs.py:square", {"x": [3]})
        report([summary(simulated), summary(squared)])
        """)
    simulated, squared = got
    assert simulated["keys"] == [{"steps": 3}, {"steps": 4}]
    assert simulated["outputs"] == [{"total": 30, "steps_seen": 3},
                                    {"total": 40, "steps_seen": 4}]
    assert squared["outputs"] == [{"result": 4}, {"result": 9}]
    assert executions(ws) == ["simulate 3 1 10", "simulate 4 1 10", "square 2", "square 3"]
    path = str(ws.root / "funcs.py")
    runs = stored(ws, "funcs.py")
    assert len(runs) == 4
    for run in runs:
        assert run["script"] == path and run["status"] == "completed"
        assert "_scale" not in run["params"]
    steps = {run["params"]["steps"]: run for run in runs if "steps" in run["params"]}
    assert {n: r["results"] for n, r in steps.items()} == {
        3: {"total": 30, "steps_seen": 3}, 4: {"total": 40, "steps_seen": 4}}
    assert {n: r["command"] for n, r in steps.items()} == {
        3: [f"{path}:simulate"], 4: [f"{path}:simulate"]}
    xs = {run["params"]["x"]: run["results"] for run in runs if "x" in run["params"]}
    assert xs == {2: {"result": 4}, 3: {"result": 9}}


def test_a_function_run_stores_every_parameter_like_a_script_run(ws: Workspace) -> None:
    ws.write("funcs.py", FUNCTIONS)
    drive(ws, """\
        report(summary(recipe.sweep("funcs.py:simulate", {"steps": [4]}, executor="inline")))
        """)
    runs = sorted(stored(ws, "funcs.py"), key=lambda run: run["label"])
    assert [(run["params"], run["label"]) for run in runs] == [
        ({"seed": 1, "steps": 3}, "seed=1 steps=3"), ({"seed": 1, "steps": 4}, "seed=1 steps=4")]


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_a_function_defined_in_the_driver_is_a_target(ws: Workspace, kind: str) -> None:
    got = drive(ws, """\
        res = recipe.sweep(local, {"n": [5]}, nominal={"_scale": 10}, executor=sys.argv[1])
        try:
            recipe.sweep(lambda z=1: z, {"z": [2]}, executor="process")
        except ValueError as exc:
            refused = str(exc)
        else:
            refused = None
        report({**summary(res), "refused": refused})
        """, kind, functions="""\
        def local(n=1, _scale=1):
            with open("executions.log", "a") as log:
                log.write(f"local {n} {_scale}\\n")
            return 2 * n * _scale
        """)
    assert got["keys"] == [{"n": 1}, {"n": 5}]
    assert got["outputs"] == [{"result": 20}, {"result": 100}]
    assert got["counts"] == [2, 0, 0]
    assert got["refused"] is not None and "<lambda>" in got["refused"]
    assert executions(ws) == ["local 1 10", "local 5 10"]
    runs = [run for run in ws.runs() if run.get("sweep") == got["sweep"]]
    assert sorted((r["params"]["n"], r["results"]["result"]) for r in runs) == [(1, 20),
                                                                               (5, 100)]
    for run in runs:
        assert run["script"] == str(ws.root / "driver.py")
        assert run["params"] == {"n": run["params"]["n"]}  # `_scale` passed, not a parameter
        assert run["status"] == "completed"
    assert len([r for r in ws.runs() if "z" in (r.get("params") or {})]) == 0


# 7. Files attributed to the run that touched them -------------------------------------------


@pytest.mark.parametrize("kind", ["process", "thread"])
def test_each_run_of_a_parallel_sweep_owns_exactly_its_files(ws: Workspace, kind: str) -> None:
    ws.write("files.py", FILES)
    got = drive(ws, """\
        report(summary(recipe.sweep("files.py", {"a": [2, 3, 4]}, executor=sys.argv[1],
                                    jobs=2)))
        """, kind)
    assert got["counts"] == [4, 0, 0]
    assert sorted(executions(ws)) == ["1", "2", "3", "4"]
    runs = stored(ws, "files.py")
    assert len(runs) == 4
    for run in runs:
        a = run["params"]["a"]
        assert sorted((os.path.basename(o["path"]), o["function"]) for o in run["outputs"]) == [
            ("executions.log", "open"),  # appended by every run (the open-event fallback)
            (f"first_{a}.npy", "numpy.save"), (f"second_{a}.npy", "numpy.save")]
        assert run["inputs"] == []
    [driver] = stored(ws, "driver.py")
    assert driver["outputs"] == []


# 8. The command line -------------------------------------------------------------------


def test_cli_sweep_prints_a_row_per_run_and_serves_a_repeat_from_the_store(
        ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    first = ws.recipe("sweep", "model.py", "-p", "a=2,3", "-p", "b=20", "-j", "2")
    rows = table(first.stdout)
    assert rows[0] == ["RUN", "STATE", "a", "b", "out"]
    assert [row[1:] for row in rows[1:]] == [["executed", "1", "10", "10"],
                                             ["executed", "2", "10", "20"],
                                             ["executed", "3", "10", "30"],
                                             ["executed", "1", "20", "20"]]
    progress = [line for line in first.stderr.splitlines() if "/4 runs" in line]
    assert len(progress) == 4 and "4/4 runs" in progress[-1]
    last = first.stderr.splitlines()[-1]
    assert last.startswith("recipe: 4 run(s): 4 executed, 0 cached, 0 failed in ")
    assert "Traceback" not in first.stderr
    again = ws.recipe("sweep", "model.py", "-p", "a=2,3", "-p", "b=20")
    assert [row[:2] for row in table(again.stdout)[1:]] == [
        [row[0], "cached"] for row in rows[1:]]
    assert "4 run(s): 0 executed, 4 cached, 0 failed" in again.stderr
    assert sorted(executions(ws)) == ["1 10", "1 20", "2 10", "3 10"]


def test_cli_grid_with_csv_writes_a_row_per_completed_run(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    done = ws.recipe("sweep", "model.py", "-p", "a=2,3", "-p", "b=20", "--grid",
                     "--executor", "thread", "--csv", "out.csv")
    assert len(table(done.stdout)) == 1 + 6
    with open(ws.root / "out.csv", newline="") as handle:
        written = list(csv.reader(handle))
    assert written == [["a", "b", "out"], ["1", "10", "10"], ["1", "20", "20"],
                       ["2", "10", "20"], ["2", "20", "40"], ["3", "10", "30"],
                       ["3", "20", "60"]]
    assert len(executions(ws)) == 6


def test_cli_rerun_runs_everything_again(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    ws.recipe("sweep", "model.py", "-p", "a=2", "--executor", "inline")
    again = ws.recipe("sweep", "model.py", "-p", "a=2", "--executor", "inline", "--rerun")
    assert [row[1] for row in table(again.stdout)[1:]] == ["executed", "executed"]
    assert executions(ws) == ["1 10", "2 10", "1 10", "2 10"]
    assert len(stored(ws, "model.py")) == 4


def test_cli_sweep_with_a_failing_run_exits_1_and_shows_the_error(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    done = ws.recipe("sweep", "model.py", "-p", "a=2,13", "--csv", "out.csv", check=False)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["RUN", "STATE", "a", "out", "ERROR"]
    assert [line.split()[1:] for line in lines[1:]] == [
        ["executed", "1", "10"], ["executed", "2", "20"],
        ["failed", "13", "ValueError:", "unlucky"]]
    assert "1 failed" in done.stderr.splitlines()[-1]
    with open(ws.root / "out.csv", newline="") as handle:
        assert list(csv.reader(handle)) == [["a", "out"], ["1", "10"], ["2", "20"]]
    runs = {run["params"]["a"]: run["status"] for run in stored(ws, "model.py")}
    assert runs == {1: "completed", 2: "completed", 13: "failed"}


@pytest.mark.parametrize("args", [["model.py", "-p", "c=1,2"], ["model.py", "-p", "a=x"],
                                  ["missing.py", "-p", "a=1"]],
                         ids=["unknown-parameter", "bad-int", "missing-script"])
def test_cli_bad_usage_is_one_error_line_exit_2_and_no_run(
        ws: Workspace, args: list[str]) -> None:
    ws.write("model.py", MODEL)
    done = ws.recipe("sweep", *args, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("recipe: error:"), done.stderr
    assert "Traceback" not in done.stderr
    assert ws.runs() == []
    assert executions(ws) == []


def test_cli_runs_sweep_lists_that_sweep_with_its_cached_runs(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    first = json.loads(ws.recipe("sweep", "model.py", "-p", "a=2", "--json").stdout)
    second = ws.recipe("sweep", "model.py", "-p", "a=2,3", "--json")
    runs = json.loads(second.stdout)
    assert [run["params"]["a"] for run in runs] == [1, 2, 3]
    assert [run["id"] for run in runs[:2]] == [run["id"] for run in first]
    tail = second.stderr.splitlines()[-1]
    assert tail.endswith("` shows them again"), tail
    sweep_id = tail.split("`recipe runs --sweep ")[1].split("`")[0]
    assert len(sweep_id) == 8
    listed = json.loads(ws.recipe("runs", "--sweep", sweep_id, "--json").stdout)
    assert [run["id"] for run in listed] == [run["id"] for run in runs]
    assert listed[2]["sweep"].startswith(sweep_id)
    assert not listed[0]["sweep"].startswith(sweep_id)  # served from the first sweep
    shown = table(ws.recipe("runs", "--sweep", sweep_id).stdout)
    assert [row[0] for row in shown[1:]] == [run["id"][:8] for run in runs]
    unknown = ws.recipe("runs", "--sweep", "deadbeef", check=False)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("recipe: error:") and "Traceback" not in unknown.stderr


def test_cli_sweep_summary_line_is_hidden_by_recipe_quiet(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    done = ws.recipe("sweep", "model.py", "-p", "a=2", "--executor", "inline",
                     env={"RECIPE_QUIET": "1"})
    assert len(table(done.stdout)) == 3
    assert not [line for line in done.stderr.splitlines() if line.startswith("recipe: ")]


# Cached outputs that are not JSON values --------------------------------------------------

ARRAY = """\
    import numpy as np
    import recipe
    a = recipe.Param(1, name="a")
    recipe.Output(np.arange(a), name="arr")
    recipe.Output(a / 2, name="half")
    """


def test_a_cached_result_holds_only_the_outputs_json_can_hold(ws: Workspace) -> None:
    """docs/sweeps.md: the store keeps only a text summary of an array: not an output."""
    ws.write("arrays.py", ARRAY)
    body = """\
        res = recipe.sweep("arrays.py", {"a": [2]}, executor="inline")
        outputs = res[{"a": 2}]
        arr = outputs.get("arr")
        report([res.executed, res.cached, type(arr).__name__,
                arr.tolist() if hasattr(arr, "tolist") else arr, outputs["half"]])
        """
    assert drive(ws, body) == [2, 0, "ndarray", [0, 1], 1.0]
    assert drive(ws, body) == [0, 2, "NoneType", None, 1.0]


def test_cli_a_repeated_sweep_writes_the_same_csv(ws: Workspace) -> None:
    ws.write("arrays.py", ARRAY)
    ws.recipe("sweep", "arrays.py", "-p", "a=2", "--csv", "first.csv")
    ws.recipe("sweep", "arrays.py", "-p", "a=2", "--csv", "second.csv")
    first = (ws.root / "first.csv").read_text()
    assert first == "a,half\n1,0.5\n2,1.0\n"
    assert (ws.root / "second.csv").read_text() == first


def test_lookup_tells_apart_points_that_are_equal_but_of_other_types(ws: Workspace) -> None:
    ws.write("typed.py", """\
        import recipe
        a = recipe.Param(1, name="a")
        recipe.Output(repr(a), name="r")
        """)
    got = drive(ws, """\
        res = recipe.sweep("typed.py", {"a": [1.0, True]}, executor="inline")
        report([[o.outputs for o in res],
                [res[{"a": v}]["r"] for v in (1, 1.0, True)]])
        """)
    assert got[0] == [{"r": "1"}, {"r": "1.0"}, {"r": "True"}]
    assert got[1] == ["1", "1.0", "True"]


# 9. recipe.runs(sweep=...) ---------------------------------------------------------------


def test_runs_of_a_sweep_come_back_in_the_sweeps_order(ws: Workspace) -> None:
    ws.write("model.py", MODEL)
    got = drive(ws, """\
        first = recipe.sweep("model.py", {"a": [3]}, executor="inline")
        res = recipe.sweep("model.py", {"a": [2, 3], "b": [20]}, executor="thread", jobs=2)
        records = recipe.runs(sweep=res.sweep_id)
        short = recipe.runs(sweep=res.sweep_id[:8])
        report({"first": summary(first), "res": summary(res),
                "records": [[r["id"], r["params"], r["sweep"]] for r in records],
                "short": [r["id"] for r in short]})
        """)
    res = got["res"]
    assert res["counts"] == [2, 2, 0]
    assert [r[0] for r in got["records"]] == res["ids"] == got["short"]
    assert [r[1] for r in got["records"]] == [{"a": 1, "b": 10}, {"a": 2, "b": 10},
                                              {"a": 3, "b": 10}, {"a": 1, "b": 20}]
    first = got["first"]
    assert [r[2] for r in got["records"]] == [first["sweep"], res["sweep"], first["sweep"],
                                              res["sweep"]]
    assert len(executions(ws)) == 4


# 10. Any concurrent.futures executor: dask.distributed, when installed ----------------------


def test_a_dask_distributed_executor_runs_the_sweep(ws: Workspace) -> None:
    pytest.importorskip("distributed")
    ws.write("model.py", MODEL)
    got = drive(ws, """\
        from dask.distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            res = recipe.sweep("model.py", {"a": [2, 13], "b": [20]},
                               executor=client.get_executor())
        report(summary(res))
        """, timeout=180)
    assert got["keys"] == [{"a": 1, "b": 10}, {"a": 2, "b": 10}, {"a": 13, "b": 10},
                           {"a": 1, "b": 20}]
    assert got["counts"] == [3, 0, 1]
    assert got["errors"] == [[{"a": 13, "b": 10}, "ValueError: unlucky"]]
    assert sorted(executions(ws)) == ["1 10", "1 20", "13 10", "2 10"]
    runs = by_params(stored(ws, "model.py"))
    assert {key: run["status"] for key, run in runs.items()} == {
        (("a", 1), ("b", 10)): "completed", (("a", 2), ("b", 10)): "completed",
        (("a", 13), ("b", 10)): "failed", (("a", 1), ("b", 20)): "completed"}


def test_an_extended_sweep_still_hands_back_every_output_of_its_new_runs(ws: Workspace) -> None:
    """The cached points' stored results must not stand in for the outputs asked for."""
    ws.write("two.py", """\
        import recipe
        a = recipe.Param(1, name="a")
        recipe.Output(a * 2, name="double")
        if a > 1:
            recipe.Output(a * 3, name="triple")
        """)
    got = drive(ws, """\
        recipe.sweep("two.py", {"a": [0]}, executor="inline")
        res = recipe.sweep("two.py", {"a": [0, 5]}, executor="inline")
        report([res.executed, res.cached, res[{"a": 5}]])
        """)
    assert got == [1, 2, {"double": 10, "triple": 15}]


@pytest.mark.parametrize("style", ["Param", "global"])
def test_a_plain_run_is_a_computation_a_sweep_does_not_repeat(ws: Workspace, style: str) -> None:
    """`python model.py` records its parameters and identity: the sweep serves that point."""
    ws.write("model.py", MODEL if style == "Param" else """\
        import recipe
        a = 1
        b = 10
        with open("executions.log", "a") as log:
            log.write(f"{a} {b}\\n")
        recipe.Output(a * b, name="out")
        """)
    ws.python("model.py")
    [plain] = stored(ws, "model.py")
    assert plain["params"] == {"a": 1, "b": 10} and plain["computation"]
    got = drive(ws, """\
        report(summary(recipe.sweep("model.py", {"a": [2]}, executor="inline")))
        """)
    assert got["states"] == ["cached", "executed"] and got["ids"][0] == plain["id"]
    assert got["outputs"][0] == {"out": 10}
    assert executions(ws) == ["1 10", "2 10"]


def test_large_results_come_back_whole_from_every_process_executor(ws: Workspace) -> None:
    """Outputs travel through files, never pipes: 40 MB each cannot block a run."""
    got = drive(ws, """\
        import concurrent.futures

        answers = []
        with concurrent.futures.ProcessPoolExecutor(2) as pool:
            for executor in ("process", pool):
                res = recipe.sweep(big, {"n": [5_000_001]}, executor=executor, jobs=2,
                                   rerun=True)
                answers.append([res.failed, res[{"n": 5_000_001}]["result"].nbytes,
                                float(res[{"n": 5_000_001}]["result"][-1])])
        report(answers)
        """, functions="""\
        import numpy as np

        def big(n=5_000_000):
            return np.arange(n, dtype=np.float64)
        """, timeout=240)
    assert got == [[0, 40_000_008, 5_000_000.0], [0, 40_000_008, 5_000_000.0]]
