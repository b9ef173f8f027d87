"""The command line as a user types it, against runs recorded by real scripts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from recipe_workspace import Workspace

from recipe.record.journal import Journal

PIPELINE = {
    "prepare.py": """\
        import recipe
        import pandas as pd
        pd.DataFrame({"year": [2000, 2001], "t": [1.5, 1.7]}).to_csv("data.csv", index=False)
        """,
    "plot.py": """\
        import recipe
        import pandas as pd, matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        data = pd.read_csv("data.csv")
        plt.plot(data.year, data.t)
        plt.savefig("graph.png")
        """,
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Two recorded runs: prepare.py writes data.csv, plot.py reads it and writes graph.png."""
    ws = Workspace(tmp_path_factory.mktemp("pipeline"))
    for name, text in PIPELINE.items():
        ws.python(ws.write(name, text))
    return ws


def test_search_by_file_name_says_which_run_made_it_from_which_inputs(
        pipeline: Workspace) -> None:
    result = pipeline.recipe("search", "graph.png")
    [plot] = [run for run in pipeline.runs() if run["script"].endswith("plot.py")]
    graph, data = pipeline.root / "graph.png", pipeline.root / "data.csv"
    script = plot["script"]
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["RUN", "STATUS", "STARTED", "SCRIPT", "CODE", "LABEL", "/", "TAGS"],
        [plot["id"][:8], "completed", "just", "now", script, "not", "in", "git"],
        ["wrote", str(graph), plot["outputs"][0]["hash"][:12]],
        ["from", str(data), plot["inputs"][0]["hash"][:12]],
    ]
    assert result.stdout.splitlines()[1].index(script) == result.stdout.index("SCRIPT")


def test_search_lists_every_run_that_touched_a_file_newest_first(pipeline: Workspace) -> None:
    runs = pipeline.runs()
    result = pipeline.recipe("search", "data.csv", "--json")
    assert [run["id"] for run in json.loads(result.stdout)] == [run["id"] for run in runs]


def test_search_by_content_finds_a_renamed_copy(pipeline: Workspace) -> None:
    shutil.copy(pipeline.root / "graph.png", pipeline.root / "figure-3-final.png")
    result = pipeline.recipe("search", "figure-3-final.png", "--json")
    [run] = json.loads(result.stdout)
    assert run["script"].endswith("plot.py")


def test_search_by_regex_and_by_id(pipeline: Workspace) -> None:
    [found] = json.loads(pipeline.recipe("search", "--regex", r"gr.ph\.png$", "--json").stdout)
    by_id = json.loads(pipeline.recipe("search", "--id", found["id"][:6], "--json").stdout)
    assert [run["id"] for run in by_id] == [found["id"]]


@pytest.mark.parametrize("args", [["search", "no-such-file.txt"], ["search", "--id", "ffffff0"]])
def test_search_with_no_match_exits_1(pipeline: Workspace, args: list[str]) -> None:
    result = pipeline.recipe(*args, check=False)
    assert result.returncode == 1 and result.stdout == ""


def test_invalid_regex_is_a_one_line_usage_error(pipeline: Workspace) -> None:
    result = pipeline.recipe("search", "--regex", "(", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "invalid regular expression" in result.stderr


def test_latest_is_the_newest_run(pipeline: Workspace) -> None:
    latest = json.loads(pipeline.recipe("latest", "--json").stdout)
    assert latest == pipeline.runs()[0]
    assert latest["script"].endswith("plot.py")
    text = pipeline.recipe("latest").stdout
    assert latest["id"] in text and "graph.png" in text and "data.csv" in text


def test_latest_on_an_empty_store_exits_1(ws: Workspace) -> None:
    ws.home.mkdir()  # an empty store; a missing one is an error (exit 2)
    assert ws.recipe("latest", check=False).returncode == 1


def test_show_accepts_an_id_prefix(pipeline: Workspace) -> None:
    run = pipeline.runs()[-1]
    shown = json.loads(pipeline.recipe("show", run["id"][:6], "--json").stdout)
    assert shown == run
    text = pipeline.recipe("show", run["id"][:10]).stdout
    assert str(pipeline.root / "data.csv") in text and run["outputs"][0]["hash"][:16] in text


@pytest.mark.parametrize(("prefix", "message"), [
    ("abc", "too short"),
    ("ffffffffff", "no run"),
])
def test_show_with_a_bad_id_is_a_one_line_error(pipeline: Workspace, prefix: str,
                                                message: str) -> None:
    result = pipeline.recipe("show", prefix, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_ambiguous_prefix_is_an_error(ws: Workspace) -> None:
    ws.python(ws.write("s.py", "import recipe\n"))
    [run] = ws.runs()
    for suffix in ("1", "2"):  # two runs whose ids share their first 31 characters
        twin = dict(run, id="abcdef" + "0" * 25 + suffix)
        Journal(ws.home, twin["id"]).write_record(twin)
    result = ws.recipe("show", "abcdef", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "ambiguous" in result.stderr
    assert ws.recipe("show", "abcdef" + "0" * 25 + "2").returncode == 0


def test_annotate_and_tag_are_stored(pipeline: Workspace) -> None:
    run = pipeline.runs()[0]
    pipeline.recipe("annotate", run["id"][:8], "-m", "figure 3 of the paper")
    pipeline.recipe("tag", run["id"][:8], "paper", "final", "paper")
    stored = json.loads(pipeline.recipe("show", run["id"], "--json").stdout)
    assert [note["text"] for note in stored["notes"]] == ["figure 3 of the paper"]
    assert stored["tags"] == ["paper", "final"]
    assert "#paper" in pipeline.recipe("search", "graph.png").stdout


def test_annotate_a_running_run_keeps_the_note_after_it_ends(ws: Workspace) -> None:
    script = ws.write("slow.py", """\
        import recipe, time, os
        open("started", "w").close()
        while not os.path.exists("go"):
            time.sleep(0.05)
        """)
    process = subprocess.Popen([sys.executable, str(script)], cwd=ws.root, env=ws.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not (ws.root / "started").exists():
            time.sleep(0.05)
        [run] = ws.runs()
        ws.recipe("annotate", run["id"][:8], "-m", "while running")
        ws.recipe("tag", run["id"][:8], "live")
    finally:
        (ws.root / "go").touch()
        process.wait(timeout=60)
    [run] = ws.runs()
    assert run["status"] == "completed"
    assert [note["text"] for note in run["notes"]] == ["while running"]
    assert run["tags"] == ["live"]


def test_export_of_given_ids(pipeline: Workspace) -> None:
    runs = pipeline.runs()
    exported = json.loads(pipeline.recipe("export", runs[-1]["id"][:8]).stdout)
    assert exported == [runs[-1]]


@pytest.mark.parametrize("command", [
    [], ["search"], ["latest"], ["show"], ["annotate"], ["tag"], ["export"], ["run"],
    ["db"], ["db", "check"], ["db", "repair"], ["inspect"], ["runs"],
])
def test_every_command_has_help(ws: Workspace, command: list[str]) -> None:
    result = ws.recipe(*command, "--help")
    assert result.stdout.startswith("Usage: recipe")


def test_unknown_command_is_a_one_line_error(ws: Workspace) -> None:
    result = ws.recipe("serch", "x", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "search" in result.stderr  # the suggestion


def test_bad_configuration_is_a_one_line_error(ws: Workspace) -> None:
    result = ws.recipe("latest", env={"RECIPE_HASH_ALGORITHM": "md5"}, check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "md5" in result.stderr and "RECIPE_HASH_ALGORITHM" in result.stderr
