"""recipe.run(): a script run in a fresh interpreter from Python, with its outputs back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from recipe_workspace import Workspace

SCRIPT = """\
    import recipe
    import numpy as np
    layers = recipe.Param(32, name="layers")
    mode = recipe.Param("a", name="mode")
    recipe.Output(np.arange(layers), name="weights")
    recipe.Output(layers * 2, name="score")
    if mode == "crash":
        raise ValueError("bad mode")
    open("after-outputs", "w").close()
    """


def call(ws: Workspace, code: str) -> str:
    """Run Python code that uses recipe.run in the workspace; its stdout."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ws.root,
                            env={**ws.env, "RECIPE_DISABLE": "0"}, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_run_returns_outputs_of_any_type_keyed_by_the_params_given(ws: Workspace) -> None:
    ws.write("model.py", SCRIPT)
    out = call(ws, """\
        from recipe import run
        res = run("model.py", {"layers": 4})
        print(res[{"layers": 4, "ignored": 1}]["score"], res[{"layers": 4}]["weights"].tolist())
        print(res.errors, list(res.to_dataframe().columns))
        """)
    assert out == "8 [0, 1, 2, 3]\n[] ['layers', 'weights', 'score']\n"
    stored = [run for run in ws.runs() if run["script"].endswith("model.py")]
    assert [(r["params"], r["results"]["score"], r["status"]) for r in stored] == [
        ({"layers": 4, "mode": "a"}, 8, "completed")]


def test_a_failing_script_is_reported_not_raised(ws: Workspace) -> None:
    ws.write("model.py", SCRIPT)
    out = call(ws, """\
        from recipe import run
        res = run("model.py", {"mode": "crash"})
        print(res.errors, len(res.to_dataframe()))
        """)
    assert out == "[({'mode': 'crash'}, 'ValueError: bad mode')] 0\n"
    [failed] = [run for run in ws.runs() if run["script"].endswith("model.py")]
    assert failed["status"] == "failed"


def test_stop_after_outputs_ends_the_script_early_as_a_success(ws: Workspace) -> None:
    ws.write("model.py", SCRIPT)
    out = call(ws, """\
        from recipe import run
        res = run("model.py", {"layers": 2}, outputs=["score"], stop_after_outputs=True)
        print(res[{"layers": 2}], res.errors)
        """)
    assert out == "{'score': 4} []\n"
    assert not (ws.root / "after-outputs").exists()
    [stored] = [run for run in ws.runs() if run["script"].endswith("model.py")]
    assert stored["status"] == "completed"


def test_bad_arguments_raise_value_error_before_anything_runs(ws: Workspace) -> None:
    ws.write("model.py", SCRIPT)
    ws.write("required.py", 'import recipe\nx = recipe.Param(name="x")\n')
    out = call(ws, """\
        from recipe import run
        for args, kwargs in [(("model.py", {"nope": 1}), {}),
                             (("model.py", {}), {"outputs": ["nope"]}),
                             (("model.py", {"layers": [1]}), {}),
                             (("required.py", {}), {})]:
            try:
                run(*args, **kwargs)
            except ValueError as exc:
                print(exc)
        """)
    assert out.splitlines() == [
        "unknown parameter 'nope' (the script's parameters: layers, mode)",
        "unknown output 'nope' (the script's outputs: weights, score)",
        "parameter 'layers': a bool, int, float, str or None, not list",
        "parameter 'x' is required: give it with -p x=VALUE",
    ]
    assert [run for run in ws.runs() if not run["script"] == "<interactive>"] == []
