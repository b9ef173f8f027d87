"""`recipe rm` / `restore` / `gc` (the trash) and `recipe import` of an export, through
the console script against real stores, sealed shards included."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from recipe_workspace import Workspace

PIPELINE = """\
    import recipe, sys
    source, target = sys.argv[1], sys.argv[2]
    text = open(source).read() if source != "-" else ""
    if source != "-":
        recipe.log_input(source)
    open(target, "w").write(text + target)
    recipe.log_output(target)
    """


def pipeline(ws: Workspace) -> list[str]:
    """Three runs, each reading what the one before wrote; their ids, oldest first."""
    script = ws.write("step.py", PIPELINE)
    ids = []
    for source, target in (("-", "a.txt"), ("a.txt", "b.txt"), ("b.txt", "c.txt")):
        ws.python(script, source, target)
        ids.append(ws.runs()[0]["id"])
    return ids


def another_workspace(root: Path) -> Workspace:
    """A second machine: its own directory and RECIPE_HOME (not created yet)."""
    root.mkdir()
    return Workspace(root)


def listed(ws: Workspace, *args: str) -> list[str]:
    return [run["id"] for run in json.loads(ws.recipe("runs", "--json", *args).stdout)]


def test_rm_hides_a_run_everywhere_and_restore_brings_it_back(ws: Workspace) -> None:
    first, middle, last = pipeline(ws)
    before = ws.runs()
    removed = ws.recipe("rm", middle[:8], "--json")
    assert json.loads(removed.stdout) == [middle]
    assert "moved 1 run(s) to the trash" in removed.stderr
    assert listed(ws) == [last, first]
    assert middle not in ws.recipe("search", "b.txt", check=False).stdout
    assert [run["id"] for run in ws.runs()] == [last, first]
    lineage = json.loads(ws.recipe("lineage", str(ws.root / "c.txt"), "--format",
                                   "ndjson").stdout.splitlines()[0])
    assert lineage["id"] == last  # and the walk stops: the run that wrote b.txt is gone
    assert ws.recipe("show", middle, check=False).returncode == 2
    assert listed(ws, "--trashed") == [middle]
    assert ws.recipe("rm", middle, check=False).returncode == 2  # not stored any more

    assert json.loads(ws.recipe("restore", middle[:8], "--json").stdout) == [middle]
    assert ws.runs() == before
    assert listed(ws, "--trashed") == []


def test_gc_deletes_the_trash_for_good(ws: Workspace) -> None:
    first, middle, last = pipeline(ws)
    ws.recipe("rm", first, middle)
    assert json.loads(ws.recipe("gc", "--older-than", "1d", "--json").stdout) == []
    assert sorted(json.loads(ws.recipe("gc", "--json").stdout)) == sorted([first, middle])
    assert listed(ws, "--trashed") == []
    assert listed(ws) == [last]
    assert ws.recipe("restore", first, check=False).returncode == 2
    assert first not in (ws.home / "db.json").read_text()
    assert first not in (ws.home / "db.trash.json").read_text()


def test_rm_and_restore_of_runs_in_sealed_shards(ws: Workspace) -> None:
    """200 generated runs seal a shard: rm takes a run out of it, its index and catalog."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from storegen import build_store

    build_store(ws.home, 205, progress=False)
    ids = [run["id"] for run in ws.runs()]
    sealed = ids[-10]  # an old run: in the shard
    ws.recipe("rm", sealed)
    assert sealed not in listed(ws)
    assert ws.recipe("db", "check").returncode == 0
    ws.recipe("restore", sealed)
    assert [run["id"] for run in ws.runs()] == ids
    assert ws.recipe("db", "check").returncode == 0


def test_rm_of_an_unknown_id_is_one_line(ws: Workspace) -> None:
    pipeline(ws)
    result = ws.recipe("rm", "abcdef99", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("recipe: error: ")


def test_import_of_an_export_into_an_empty_store_gives_the_same_export(
        ws: Workspace, tmp_path: Path) -> None:
    ids = pipeline(ws)
    exported = ws.recipe("export").stdout
    (tmp_path / "runs.json").write_text(exported)
    elsewhere = another_workspace(tmp_path / "elsewhere")
    result = elsewhere.recipe("import", str(tmp_path / "runs.json"), "--json")
    assert sorted(json.loads(result.stdout)["added"]) == sorted(ids)
    assert elsewhere.recipe("export").stdout == exported
    again = json.loads(elsewhere.recipe("import", str(tmp_path / "runs.json"),
                                        "--json").stdout)
    assert again["added"] == [] and sorted(again["skipped"]) == sorted(ids)
    assert elsewhere.recipe("export").stdout == exported
    # Lineage across the machines' runs is intact: c.txt's run, then b's, then a's.
    lineage = elsewhere.recipe("lineage", str(ws.root / "c.txt"), "--format", "ndjson")
    assert [json.loads(line)["id"] for line in lineage.stdout.splitlines()] == ids[::-1]


def test_import_from_standard_input_and_of_many_runs_sealing_shards(
        ws: Workspace, tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    from storegen import build_store

    build_store(tmp_path / "source", 450, progress=False)
    source = Workspace(tmp_path)
    source.home = tmp_path / "source"
    source.env["RECIPE_HOME"] = str(source.home)
    exported = source.recipe("export").stdout
    import subprocess

    result = subprocess.run([sys.executable, "-m", "recipe", "import", "-"], input=exported,
                            env=ws.env, cwd=ws.root, capture_output=True, text=True)
    assert result.returncode == 0 and "imported 450 run(s)" in result.stderr
    assert ws.recipe("export").stdout == exported
    assert ws.recipe("db", "check").returncode == 0


@pytest.mark.parametrize(("text", "reason"), [
    ("not json", "not JSON"),
    ('{"runs": 3}', "item 1 is not a run"),
    ('"a string"', "a JSON array of runs"),
    ('[{"id": "abc"}]', "item 1 is not a run (its start is missing or not a string)"),
])
def test_import_of_a_file_that_is_not_an_export_is_one_line_and_imports_nothing(
        ws: Workspace, tmp_path: Path, text: str, reason: str) -> None:
    pipeline(ws)
    good = tmp_path / "good.json"
    good.write_text(ws.recipe("export").stdout)
    bad = tmp_path / "bad.json"
    bad.write_text(text)
    empty = another_workspace(tmp_path / "empty")
    result = empty.recipe("import", str(good), str(bad), check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"recipe: error: {bad} is not a recipe export")
    assert reason in result.stderr
    assert not empty.home.exists()


def test_import_of_a_missing_file_is_one_line(ws: Workspace) -> None:
    result = ws.recipe("import", "/missing/runs.json", check=False)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["rm", "restore", "gc", "import"])
def test_each_new_command_has_an_example_in_its_help(ws: Workspace, command: str) -> None:
    assert "Example:" in ws.recipe(command, "--help").stdout
