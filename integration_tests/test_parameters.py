"""recipe.Param / recipe.Output in a plain run, and `recipe inspect`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
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


def test_a_plain_run_records_the_literals_of_the_script_as_it_is_now(ws: Workspace) -> None:
    """A plain run's parameters are remembered by the script's content: an edited script
    records its new literals, the old content its old ones again."""
    versions = ["import recipe\nlr = 0.1\n", "import recipe\nlr = 0.2\nepochs = 3\n",
                "import recipe\nlr = 0.1\n"]
    for text in versions:
        ws.python(ws.write("fit.py", text))
    assert [run["params"] for run in reversed(ws.runs())] == [
        {"lr": 0.1}, {"lr": 0.2, "epochs": 3}, {"lr": 0.1}]
    identities = [run["computation"] for run in reversed(ws.runs())]
    assert identities[0] == identities[2] != identities[1]


def test_the_remembered_parameters_are_used_and_a_damaged_memory_is_not(ws: Workspace
                                                                       ) -> None:
    script = ws.write("fit.py", "import recipe\nlr = 0.1\n")
    ws.python(script)
    [cache] = (ws.home / "cache").glob("parameters-*.json")
    remembered = json.loads(cache.read_text())
    assert remembered["found"] == ["global", ["lr"], [["lr", 0.1]]]
    # What the cache says for this content is what a run records (nothing parses again)...
    remembered["found"] = ["global", ["lr"], [["lr", 0.5]]]
    cache.write_text(json.dumps(remembered))
    ws.python(script)
    # ...and a cache file that is not one is read past: the script is parsed again.
    cache.write_text('{"hash": [1, 2]')
    ws.python(script)
    cache.write_text(json.dumps({"hash": remembered["hash"], "found": [1]}))
    ws.python(script)
    assert [run["params"] for run in reversed(ws.runs())] == [
        {"lr": 0.1}, {"lr": 0.5}, {"lr": 0.1}, {"lr": 0.1}]


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


PARAM_SCRIPT = """\
    import recipe
    layers = recipe.Param(32, name="layers")
    lr = recipe.Param(0.1, name="lr")
    fast = recipe.Param(False, name="fast")
    tag = recipe.Param("a", name="tag")
    print(repr(layers), repr(lr), repr(fast), repr(tag))
    """


def test_run_injects_param_values_with_their_types(ws: Workspace) -> None:
    script = ws.write("train.py", PARAM_SCRIPT)
    result = ws.recipe("run", str(script), "-p", "layers=2.5", "lr=1", "--param", "fast=on",
                       "-p", "tag=007")
    assert result.stdout == "2.5 1.0 True '007'\n"  # an int given 2.5 keeps 2.5
    run = ws.only_run()
    assert run["params"] == {"layers": 2.5, "lr": 1.0, "fast": True, "tag": "007"}
    assert run["label"] == "fast=yes layers=2.5 lr=1.0 tag=007"


def test_run_overrides_module_level_literals_at_their_first_assignment(ws: Workspace) -> None:
    script = ws.write("plain.py", 'layers = 32\nname = "foo"\nprint(layers, name)\n')
    assert ws.recipe("run", str(script), "layers=64").stdout == "64 foo\n"
    assert ws.only_run()["params"] == {"layers": 64, "name": "foo"}


@pytest.mark.parametrize("options", [
    ["-p", "layers=3", "--tag", "paper", "--label", "small"],
    ["-players=3", "--tag=paper", "--label=small"],
    ["--param=layers=3", "--tag", "paper", "--label", "small"],
    ["--param", "layers=3", "--label=small", "--tag=paper"],
])
def test_run_reads_its_options_before_the_script_in_every_spelling(
        ws: Workspace, options: list[str]) -> None:
    script = ws.write("train.py", PARAM_SCRIPT)
    result = ws.recipe("run", *options, str(script), "lr=0.5", "--tag", "final", "--",
                       "--lr=9")
    assert result.stdout == "3 0.5 False 'a'\n"
    run = ws.only_run()
    assert run["params"] == {"layers": 3, "lr": 0.5, "fast": False, "tag": "a"}
    assert {"paper", "final"} <= set(run["tags"]) and run["label"] == "small"
    assert run["command"] == [str(script), "--lr=9"]


def test_a_script_run_with_recipe_run_imports_only_what_it_imports(ws: Workspace) -> None:
    """The command line's own libraries are not loaded into the script's interpreter, so
    a script that uses one of them (click) has its version recorded."""
    script = ws.write("tool.py", "import sys\nprint('click' in sys.modules)\nimport click\n")
    assert ws.recipe("run", str(script)).stdout == "False\n"
    assert "click" in ws.only_run()["libraries"]


def test_run_passes_argparse_options(ws: Workspace) -> None:
    script = ws.write("cli.py", """\
        import argparse
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        parser.add_argument("--fast", action="store_true")
        parser.add_argument("data")
        print(vars(parser.parse_args()))
        """)
    result = ws.recipe("run", str(script), "-p", "lr=0.5", "-p", "fast=yes", "--", "x.csv")
    assert result.stdout == "{'lr': 0.5, 'fast': True, 'data': 'x.csv'}\n"
    # What the parser returned, the positional given after `--` too.
    assert ws.only_run()["params"] == {"lr": 0.5, "fast": True, "data": "x.csv"}


@pytest.mark.parametrize(("args", "message"), [
    (["-p", "nope=1"], "unknown parameter 'nope'"),
    (["-p", "fast=maybe"], "'maybe' is not a boolean"),
    (["-p", "lr=fast"], "'fast' is not a number"),
    (["-p", "novalue"], "NAME=VALUE"),
])
def test_bad_parameters_are_one_line_errors_and_record_no_run(ws: Workspace, args: list[str],
                                                               message: str) -> None:
    result = ws.recipe("run", str(ws.write("train.py", PARAM_SCRIPT)), *args, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert message in result.stderr and result.stdout == ""
    assert ws.runs() == []


def test_a_required_param_must_be_given(ws: Workspace) -> None:
    script = ws.write("s.py", 'import recipe\nmode = recipe.Param(name="mode")\nprint(mode)\n')
    result = ws.recipe("run", str(script), check=False)
    assert result.returncode == 2 and "'mode' is required" in result.stderr
    assert ws.recipe("run", str(script), "mode=fast").stdout == "fast\n"


def test_runs_lists_and_filters_by_parameter(ws: Workspace) -> None:
    script = ws.write("train.py", PARAM_SCRIPT + 'recipe.Output(layers * 2, name="score")\n')
    for layers in ("16", "64", "128"):
        ws.recipe("run", str(script), f"layers={layers}")
    table = ws.recipe("runs", "--script", "train.py", "--where", "layers>=64").stdout
    lines = [line.split() for line in table.splitlines()]
    assert lines[0] == ["RUN", "STATUS", "STARTED", "SCRIPT", "LABEL", "/", "TAGS", "layers",
                        "lr", "fast", "tag", "score"]
    assert [(line[5], line[6], line[-1]) for line in lines[1:]] == [
        ("#model", "128", "256"), ("#model", "64", "128")]
    rows = ws.recipe("runs", "--where", "layers<64", "--csv").stdout.splitlines()
    assert rows[0] == "id,status,start,script,layers,lr,fast,tag,score"
    assert rows[1].endswith(",16,0.1,False,a,32") and len(rows) == 2
    assert [r["params"]["layers"] for r in json.loads(
        ws.recipe("runs", "--where", "layers>16", "--json").stdout)] == [128, 64]
    empty = ws.recipe("runs", "--where", "missing=1")
    assert empty.returncode == 0 and empty.stdout.splitlines() == [
        "RUN  STATUS  STARTED  SCRIPT"]
    bad = ws.recipe("runs", "--where", "layers", check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_run_tag_and_label_options(ws: Workspace) -> None:
    script = ws.write("train.py", PARAM_SCRIPT)
    ws.recipe("run", str(script), "layers=5", "--tag", "baseline", "--tag", "paper",
              "--label", "wide net")
    run = ws.only_run()
    assert (run["tags"], run["label"]) == (["model", "baseline", "paper"], "wide net")
    assert run["params"]["layers"] == 5


def test_runs_query_in_python(ws: Workspace) -> None:
    script = ws.write("train.py", PARAM_SCRIPT + 'recipe.Output(layers * 2, name="score")\n')
    for layers in ("16", "64"):
        ws.recipe("run", str(script), f"layers={layers}")
    code = ("import recipe\n"
            "print([r['params']['layers'] for r in recipe.runs(where=['layers>10'])])\n"
            "frame = recipe.runs(script='train.py', as_dataframe=True)\n"
            "print(list(frame.columns), frame['score'].tolist())\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ws.root,
                            env={**ws.env, "RECIPE_DISABLE": "1"}, capture_output=True,
                            text=True, timeout=60)
    assert result.stdout.splitlines() == [
        "[64, 16]",
        "['id', 'status', 'start', 'script', 'layers', 'lr', 'fast', 'tag', 'score'] [128, 32]"]


def test_a_literal_after_a_computed_assignment_is_the_one_overridden(ws: Workspace) -> None:
    script = ws.write("s.py", "import os\nlayers = os.cpu_count()\nlayers = 32\nprint(layers)\n")
    assert ws.recipe("run", str(script), "layers=7").stdout == "7\n"
    assert ws.only_run()["params"] == {"layers": 7}
