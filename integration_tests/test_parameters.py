"""recipe.Param / recipe.Output in a plain run, and `recipe inspect`."""

from __future__ import annotations

import json

from recipe_workspace import Workspace

TRAIN = """\
    import recipe
    import numpy as np
    layers = recipe.Param(32, name="layers")
    lr = recipe.Param(0.1, name="lr")
    fast = recipe.Param(True, name="fast")
    optimizer = recipe.Param(None, name="optimizer")
    recipe.Output(np.float64(0.5) * layers, name="score")
    recipe.Output(np.arange(3), name="weights")
    recipe.Output({"curve": [1, 2]}, name="history")
    """


def test_a_plain_run_records_param_defaults_label_and_results(ws: Workspace) -> None:
    ws.python(ws.write("train.py", TRAIN))
    run = ws.only_run()
    assert run["params"] == {"layers": 32, "lr": 0.1, "fast": True, "optimizer": None}
    assert run["label"] == "fast=yes layers=32 lr=0.1"
    assert run["results"] == {"score": 16.0, "weights": "<ndarray: array([0, 1, 2])>",
                              "history": {"curve": [1, 2]}}
    assert run["tags"] == ["model"]


def test_a_required_param_fails_a_plain_run_clearly(ws: Workspace) -> None:
    result = ws.python(ws.write("s.py", 'import recipe\nmode = recipe.Param(name="mode")\n'),
                       check=False)
    assert result.returncode == 1
    assert "MissingParameter: parameter 'mode' is required and has no default" in result.stderr
    assert ws.only_run()["status"] == "failed"


def test_inspect_lists_parameters_and_outputs_without_running(ws: Workspace) -> None:
    path = ws.write("train.py", TRAIN + 'open("ran", "w").close()\n')
    result = ws.recipe("inspect", str(path))
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["Parameters:"],
        ["NAME", "DEFAULT", "TYPE", "WHERE"],
        ["layers", "32", "int", "line", "3", "(Param)"],
        ["lr", "0.1", "float", "line", "4", "(Param)"],
        ["fast", "True", "bool", "line", "5", "(Param)"],
        ["optimizer", "None", "any", "line", "6", "(Param)"],
        ["Outputs:"],
        ["NAME", "WHERE"],
        ["score", "line", "7"], ["weights", "line", "8"], ["history", "line", "9"],
    ]
    data = json.loads(ws.recipe("inspect", str(path), "--json").stdout)
    assert [p["name"] for p in data["parameters"]] == ["layers", "lr", "fast", "optimizer"]
    assert data["parameters"][0] == {"name": "layers", "default": 32, "required": False,
                                     "type": "int", "line": 3, "source": "Param"}
    assert not (ws.root / "ran").exists() and ws.runs() == []


def test_inspect_of_a_script_without_parameters(ws: Workspace) -> None:
    result = ws.recipe("inspect", str(ws.write("s.py", "print(1)\n")))
    assert result.stdout == "Parameters: none\nOutputs: none\n"


def test_inspect_errors_are_one_line(ws: Workspace) -> None:
    bad = ws.write("bad.py", 'import recipe\na = recipe.Param(1, name="a")\n'
                             'b = recipe.Param(2, name="a")\n')
    for args in (["inspect", "missing.py"], ["inspect", str(bad)]):
        result = ws.recipe(*args, check=False)
        assert result.returncode == 2 and result.stderr.count("\n") == 1
