"""Notebooks end to end, in real Jupyter kernels: a session recorded cell by cell
(`import recipe` / `%load_ext recipe` in a kernel driven through jupyter_client), and
`recipe run/inspect/sweep NOTEBOOK.ipynb` executing notebooks headless through nbclient."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from recipe_workspace import Workspace

from recipe.capture.notebook import code_hash
from recipe.record.hashing import hash_file

DRIVER = Path(__file__).with_name("kernel_driver.py")

ANALYSIS = [
    ("import numpy as np\nimport recipe",),
    ("year = 2019\nscale = 1.5\nregion = 'north'", "parameters"),
    ("data = np.arange(3) * year\nnp.save('data.npy', data)\nprint('year', year)",),
    ("loaded = np.load('data.npy')\nnp.savetxt(f'table-{region}.txt', loaded * scale)\n"
     "recipe.Output(int(loaded.sum()), name='total')",),
    ("if year == 2021:\n    raise ValueError('no data for 2021')",),
]


@pytest.fixture
def nb(ws: Workspace, tmp_path: Path) -> Workspace:
    """The workspace, with Jupyter's and IPython's own files in directories of this test."""
    ws.env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
                  JUPYTER_DATA_DIR=str(tmp_path / "jupyter-data"),
                  JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
                  IPYTHONDIR=str(tmp_path / "ipython"), JUPYTER_PLATFORM_DIRS="1")
    return ws


def write_notebook(path: Path, cells: list[tuple[str, ...]]) -> Path:
    """A notebook of code cells, each (source, *tags)."""
    notebook = nbformat.v4.new_notebook()
    for source, *tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = list(tags)
        notebook.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))
    return path


def in_kernel(ws: Workspace, cells: list[str], *, notebook: Path | None = None,
              kill_when_logged: str | None = None) -> dict:
    """Execute `cells` one by one in a real kernel; JPY_SESSION_NAME names `notebook` as a
    Jupyter server does."""
    (ws.root / "cells.json").write_text(json.dumps(cells))
    args = ["cells.json", *(["--kill-when-logged", kill_when_logged] if kill_when_logged
                            else [])]
    env = {"JPY_SESSION_NAME": str(notebook)} if notebook else {}
    return json.loads(ws.python(DRIVER, *args, env=env).stdout)


def by_name(events: list[dict]) -> dict[str, dict]:
    return {os.path.basename(event["path"]): event for event in events}


def code_cells(path: Path) -> list[dict]:
    return [cell for cell in nbformat.read(str(path), as_version=4).cells
            if cell.cell_type == "code"]


@pytest.mark.parametrize("start", ["import recipe", "%load_ext recipe"])
def test_session_is_one_run_with_each_file_attributed_to_its_cell(nb: Workspace,
                                                                  start: str) -> None:
    project = nb.root / "project"
    notebook = write_notebook(project / "explore.ipynb", [("x = 1",)])
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    cells = [start,
             "import numpy as np\nnp.save('a.npy', np.arange(4))",
             "1/0",
             "b = np.load('a.npy') * 2\nnp.save('b.npy', b)"]

    in_kernel(nb, cells, notebook=notebook)

    run = nb.only_run()
    assert run["script"] == str(notebook)
    assert run["status"] == "completed"
    assert [(cell["execution_count"], cell["code"]) for cell in run["cells"]] == \
        list(enumerate(cells, start=1))
    assert run["cells"][2]["error"] == "ZeroDivisionError: division by zero"
    outputs, inputs = by_name(run["outputs"]), by_name(run["inputs"])
    assert (outputs["a.npy"]["cell"], inputs["a.npy"]["cell"], outputs["b.npy"]["cell"]) \
        == (2, 4, 4)
    assert outputs["a.npy"]["path"] == str(nb.root / "a.npy")  # the kernel's directory
    assert run["git"]["root"] == str(project)  # the notebook's, not the kernel's
    assert run["script_hash"] == code_hash(str(notebook), run["script_hash_algorithm"])


def test_killed_kernel_leaves_a_lost_run_with_what_it_logged(nb: Workspace) -> None:
    cells = ["import recipe",
             "import numpy as np\nnp.save('before-kill.npy', np.arange(3))"]

    result = in_kernel(nb, cells, kill_when_logged="before-kill.npy")

    run = nb.only_run()
    assert run["pid"] == result["pid"]
    assert run["status"] == "lost"
    assert by_name(run["outputs"])["before-kill.npy"]["cell"] == 2
    assert [cell["code"] for cell in run["cells"]] == cells


def test_new_run_splits_the_session(nb: Workspace) -> None:
    in_kernel(nb, ["import recipe, numpy as np",
                   "np.save('first.npy', np.arange(1))",
                   "recipe.new_run()",
                   "np.save('second.npy', np.arange(2))",
                   "%recipe new",
                   "np.save('third.npy', np.arange(3))"])

    runs = sorted(nb.runs(), key=lambda run: run["start"])
    assert [sorted(by_name(run["outputs"])) for run in runs] == \
        [["first.npy"], ["second.npy"], ["third.npy"]]
    assert [[cell["execution_count"] for cell in run["cells"]] for run in runs] == \
        [[1, 2, 3], [3, 4, 5], [5, 6]]  # the splitting cell ends one run and starts the next
    assert {run["status"] for run in runs} == {"completed"}


def test_recipe_off_pauses_on_resumes_and_unload_ends(nb: Workspace) -> None:
    result = in_kernel(nb, ["%load_ext recipe",
                            "import numpy as np\nnp.save('kept.npy', np.arange(1))",
                            "%recipe off",
                            "np.save('private.npy', np.arange(2))",
                            "%recipe on",
                            "np.save('kept-too.npy', np.arange(3))",
                            "%unload_ext recipe",
                            "np.save('after.npy', np.arange(4))"])

    run = nb.only_run()
    assert sorted(by_name(run["outputs"])) == ["kept-too.npy", "kept.npy"]
    assert [cell["execution_count"] for cell in run["cells"]] == [1, 2, 3, 5, 6, 7]
    assert "paused" in result["cells"][2]["text"]
    assert run["status"] == "completed"


def test_headless_run_injects_parameters_and_keeps_the_executed_notebook(nb: Workspace
                                                                         ) -> None:
    notebook = write_notebook(nb.root / "analysis.ipynb", ANALYSIS)

    result = nb.recipe("run", "analysis.ipynb", "-p", "year=2020", "--tag", "report")

    run = nb.only_run()
    executed = nb.root / "analysis.executed.ipynb"
    assert run["script"] == str(notebook)
    assert run["status"] == "completed" and run["exit_code"] == 0
    assert run["params"] == {"year": 2020, "scale": 1.5, "region": "north"}
    assert run["label"] == "region=north scale=1.5 year=2020"
    assert "report" in run["tags"]
    assert run["results"] == {"total": 6060}
    outputs = by_name(run["outputs"])
    assert (outputs["data.npy"]["cell"], outputs["table-north.txt"]["cell"]) == (4, 5)
    kept = outputs["analysis.executed.ipynb"]
    assert (kept["path"], kept["hash"]) == (str(executed),
                                            hash_file(str(executed), kept["hash_algorithm"]))
    cells = code_cells(executed)
    assert cells[2].metadata.tags == ["injected-parameters"]  # right after `parameters`
    assert cells[2].source == "# Parameters\nyear = 2020\n"
    assert "year 2020" in cells[3].outputs[0]["text"]
    assert [cell["execution_count"] for cell in run["cells"]] == [1, 2, 3, 4, 5, 6]
    assert "recorded run" in result.stderr


def test_headless_run_writes_the_executed_notebook_where_told(nb: Workspace) -> None:
    write_notebook(nb.root / "analysis.ipynb", ANALYSIS)

    nb.recipe("run", "-o", "out/2020.ipynb", "analysis.ipynb", "year=2020")

    assert "out/2020.ipynb" in {os.path.relpath(event["path"], nb.root)
                                for event in nb.only_run()["outputs"]}
    assert code_cells(nb.root / "out" / "2020.ipynb")[2].source.endswith("year = 2020\n")


def test_failing_cell_fails_the_run_with_its_number_and_traceback(nb: Workspace) -> None:
    write_notebook(nb.root / "analysis.ipynb", ANALYSIS)

    result = nb.recipe("run", "analysis.ipynb", "-p", "year=2021", check=False)

    assert result.returncode == 1
    run = nb.only_run()
    assert run["status"] == "failed" and run["exit_code"] == 1
    exception = run["exception"]
    assert (exception["type"], exception["message"], exception["cell"]) == \
        ("ValueError", "no data for 2021", 6)
    assert "raise ValueError('no data for 2021')" in exception["traceback"]
    assert "interactiveshell" not in exception["traceback"]  # the cell's frames only
    assert "ValueError: no data for 2021" in result.stderr
    executed = code_cells(nb.root / "analysis.executed.ipynb")
    assert executed[-1].outputs[0]["ename"] == "ValueError"  # kept, with the error


@pytest.mark.parametrize("args, message", [
    (["-p", "month=3"], "unknown parameter 'month'"),
    (["-p", "year=soon"], "parameter 'year': 'soon' is not a number"),
    (["--kernel", "nosuch"], "no Jupyter kernel named 'nosuch'"),
    (["--", "--flag"], "a notebook takes no arguments"),
])
def test_bad_notebook_run_is_one_error_line_and_records_nothing(nb: Workspace, args: list[str],
                                                                message: str) -> None:
    write_notebook(nb.root / "analysis.ipynb", ANALYSIS)

    result = nb.recipe("run", "analysis.ipynb", *args, check=False)

    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert nb.runs() == []


def test_kernel_that_cannot_record_is_refused_before_any_cell(nb: Workspace) -> None:
    spec = Path(nb.env["JUPYTER_DATA_DIR"]) / "kernels" / "unrecorded" / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "recipe disabled", "language": "python",
        "env": {"RECIPE_DISABLE": "1"}}))
    write_notebook(nb.root / "writes.ipynb",
                   [("import numpy as np\nnp.save('never.npy', np.arange(1))",)])

    result = nb.recipe("run", "writes.ipynb", "--kernel", "unrecorded", check=False)

    assert result.returncode == 2
    assert "did not start recording" in result.stderr
    assert not (nb.root / "never.npy").exists()


def test_inspect_lists_the_parameters_cell(nb: Workspace) -> None:
    write_notebook(nb.root / "analysis.ipynb", ANALYSIS)

    text = nb.recipe("inspect", "analysis.ipynb").stdout
    found = json.loads(nb.recipe("inspect", "analysis.ipynb", "--json").stdout)

    assert "cell 1, line 1 (notebook)" in text
    assert [(p["name"], p["default"], p["type"]) for p in found["parameters"]] == \
        [("year", 2019, "int"), ("scale", 1.5, "float"), ("region", "north", "str")]
    assert found["parameters_cell"] == 1


def test_sweep_over_a_notebook_never_recomputes_a_point(nb: Workspace) -> None:
    write_notebook(nb.root / "analysis.ipynb", ANALYSIS)

    first = nb.recipe("sweep", "analysis.ipynb", "-p", "year=2020,2022", "--json")
    again = nb.recipe("sweep", "analysis.ipynb", "-p", "year=2020,2022")

    runs = json.loads(first.stdout)
    assert [(run["params"]["year"], run["results"]["total"]) for run in runs] == \
        [(2019, 6057), (2020, 6060), (2022, 6066)]
    assert "3 executed, 0 cached" in first.stderr
    assert "0 executed, 3 cached" in again.stderr
    executed = {os.path.basename(event["path"]) for run in runs for event in run["outputs"]}
    assert {f"analysis.executed-{run['id'][:8]}.ipynb" for run in runs} <= executed


def test_show_and_diff_go_cell_by_cell(nb: Workspace) -> None:
    write_notebook(nb.root / "analysis.ipynb", ANALYSIS)
    nb.recipe("run", "analysis.ipynb", "-p", "year=2020")
    nb.recipe("run", "analysis.ipynb", "-p", "year=2022", "-p", "region=south")
    second, first = (run["id"] for run in nb.runs())

    shown = nb.recipe("show", first).stdout
    diff = nb.recipe("diff", first, second).stdout
    changes = json.loads(nb.recipe("diff", first, second, "--json").stdout)["cells"]

    cells = shown[shown.index("Cells (6):"):]
    assert "  [4]" in cells and "np.save('data.npy', data)" in cells
    assert f"wrote {nb.root / 'data.npy'}" in cells.split("[5]")[0].split("[4]")[1]
    assert "cells: 5 the same, 1 changed" in diff
    assert "-year = 2020\n" in diff and "+year = 2022\n" in diff and "+region = 'south'" in diff
    assert [change["state"] for change in changes].count("same") == 5


def test_lineage_and_status_treat_a_notebook_as_a_script(nb: Workspace) -> None:
    nb.write("prepare.py", """
        import numpy as np
        import recipe
        np.savetxt("raw.txt", np.arange(5))
    """)
    nb.python("prepare.py")
    notebook = write_notebook(nb.root / "report.ipynb", [
        ("import numpy as np",),
        ("np.save('summary.npy', np.loadtxt('raw.txt').cumsum())",)])
    nb.recipe("run", "report.ipynb")

    lineage = nb.recipe("lineage", "summary.npy").stdout
    assert "report.ipynb" in lineage and "prepare.py" in lineage
    assert nb.recipe("status", "summary.npy").stdout.startswith("ok")

    document = nbformat.read(str(notebook), as_version=4)  # saved again with outputs
    document.cells[1].outputs = [nbformat.v4.new_output("stream", text="ran\n")]
    document.cells[1].execution_count = 7
    nbformat.write(document, str(notebook))
    assert nb.recipe("status", "summary.npy").stdout.startswith("ok")

    document.cells[1].source = "np.save('summary.npy', np.loadtxt('raw.txt').cumprod())"
    nbformat.write(document, str(notebook))
    stale = nb.recipe("status", "summary.npy", check=False)
    assert stale.returncode == 1
    assert "stale" in stale.stdout and "its script report.ipynb changed" in stale.stdout


def test_import_recipe_imports_no_notebook_library_in_a_script(ws: Workspace) -> None:
    ws.write("plain.py", """
        import sys
        import recipe
        heavy = ("IPython", "ipykernel", "nbclient", "nbformat", "jupyter_client", "zmq")
        print(sorted(name for name in heavy if name in sys.modules))
    """)

    assert ws.python("plain.py").stdout.strip() == "[]"
    assert ws.only_run()["script"] == str(ws.root / "plain.py")


def test_ctrl_c_interrupts_a_headless_run(nb: Workspace) -> None:
    write_notebook(nb.root / "slow.ipynb", [
        ("import numpy as np\nnp.save('early.npy', np.arange(1))",),
        ("import time\nnp.save('asleep.npy', np.arange(1))\ntime.sleep(60)",)])
    started = subprocess.Popen([sys.executable, "-m", "recipe", "run", "slow.ipynb"],
                               cwd=nb.root, env=nb.env, stderr=subprocess.PIPE, text=True)
    spool = nb.home / "spool"
    # events reach the journal at once: wait until the second cell runs
    while not any("asleep.npy" in path.read_text() for path in spool.glob("*.events")):
        assert started.poll() is None, started.stderr.read()
        time.sleep(0.05)
    started.send_signal(signal.SIGINT)
    _, stderr = started.communicate(timeout=60)

    assert started.returncode == 130, stderr
    run = nb.only_run()
    assert (run["status"], run["exception"]["cell"]) == ("interrupted", 2)
    assert "early.npy" in by_name(run["outputs"])


def test_ctrl_c_that_interrupts_no_cell_still_interrupts_the_run(nb: Workspace) -> None:
    # SIGINT to `recipe run` just after a cell ended: nbclient shuts the kernel down, no
    # cell sees a KeyboardInterrupt; the run is interrupted, since the cells after it
    # never ran
    write_notebook(nb.root / "stop.ipynb", [
        ("import numpy as np, os, signal, threading\nnp.save('early.npy', np.arange(1))\n"
         "threading.Timer(0.02, os.kill, (os.getppid(), signal.SIGINT)).start()",),
        *[("pass",)] * 20,
        ("np.save('late.npy', np.arange(1))",)])
    result = subprocess.run([sys.executable, "-m", "recipe", "run", "stop.ipynb"],
                            cwd=nb.root, env=nb.env, capture_output=True, text=True,
                            timeout=120)

    assert result.returncode == 130, result.stderr
    run = nb.only_run()
    assert run["status"] == "interrupted"
    assert not (nb.root / "late.npy").exists()
    assert "early.npy" in by_name(run["outputs"])
