"""Configuration options and the hand-logging API, seen through what a real run stores."""

from __future__ import annotations

import hashlib
import json

import pytest
from recipe_workspace import Workspace

WRITE_TWO = """\
    import recipe
    import numpy as np
    np.save("keep.npy", np.arange(3))
    np.save("scratch/tmp.npy", np.arange(3))
    """


def test_hash_algorithm_from_a_recipe_ini_in_the_working_directory(ws: Workspace) -> None:
    ws.write("recipe.ini", "[hash]\nalgorithm = sha256\n")
    (ws.root / "scratch").mkdir()
    ws.python(ws.write("s.py", WRITE_TWO))
    output = ws.only_run()["outputs"][0]
    assert output["hash_algorithm"] == "sha256"
    assert output["hash"] == hashlib.sha256((ws.root / "keep.npy").read_bytes()).hexdigest()
    # search by content uses the algorithm the run used
    (ws.root / "copy.npy").write_bytes((ws.root / "keep.npy").read_bytes())
    assert len(json.loads(ws.recipe("search", "copy.npy", "--json").stdout)) == 1


def test_environment_variables_outrank_configuration_files(ws: Workspace) -> None:
    ws.write("recipe.ini", "[hash]\nalgorithm = sha256\n")
    (ws.root / "scratch").mkdir()
    ws.python(ws.write("s.py", WRITE_TWO), env={"RECIPE_HASH_ALGORITHM": "xxh64"})
    assert ws.only_run()["outputs"][0]["hash_algorithm"] == "xxh64"


@pytest.mark.parametrize("globs", ["*/scratch/*, /nowhere", "{root}/scratch/*",
                                   "{root}/scr?tch/*", "{root}/scratch/tmp.npy"])
def test_ignored_paths_are_not_logged(ws: Workspace, globs: str) -> None:
    (ws.root / "scratch").mkdir()
    ws.python(ws.write("s.py", WRITE_TWO),
              env={"RECIPE_IGNORE_PATHS": globs.format(root=ws.root)})
    assert [o["path"] for o in ws.only_run()["outputs"]] == [str(ws.root / "keep.npy")]


def test_files_in_a_store_whose_path_looks_like_a_glob_are_not_the_scripts(
        ws: Workspace) -> None:
    """RECIPE_HOME is a directory, never a pattern: `[1]` in its name is no character set."""
    home = ws.root / "store[1]"
    ws.python(ws.write("s.py", """\
        import os, recipe
        import numpy as np
        np.save(os.path.join(os.environ["RECIPE_HOME"], "mine.npy"), np.arange(3))
        np.save("theirs.npy", np.arange(3))
        """), env={"RECIPE_HOME": str(home)})
    [run] = json.loads(ws.recipe("export", env={"RECIPE_HOME": str(home)}).stdout)
    assert [o["path"] for o in run["outputs"]] == [str(ws.root / "theirs.npy")]


def test_a_bad_configuration_still_records_with_defaults_and_warns(ws: Workspace) -> None:
    ws.write("recipe.ini", "[hash]\nalgorithm = md5\n")
    result = ws.python(ws.write("s.py", "import recipe\n"))
    assert "md5" in result.stderr
    ws.write("recipe.ini", "")
    assert ws.only_run()["status"] == "completed"


def test_environment_is_recorded_on_request_with_secrets_masked(ws: Workspace) -> None:
    script = ws.write("s.py", "import recipe\n")
    ws.python(script, env={"MY_API_KEY": "abc", "DB_PASSWORD": "pw", "PLAIN": "visible"})
    assert "environment" not in ws.only_run()
    ws.python(script, env={"RECIPE_ENVIRONMENT_RECORD": "yes", "MY_API_KEY": "abc",
                           "DB_PASSWORD": "pw", "PLAIN": "visible"})
    environment = ws.runs()[0]["environment"]
    assert environment["MY_API_KEY"] == environment["DB_PASSWORD"] == "***"
    assert environment["PLAIN"] == "visible"


@pytest.mark.parametrize(("name", "tags"), [
    ("train_model.py", ["model"]),
    ("prepare_data.py", ["dataset"]),
    ("prepare_and_train.py", ["model"]),
    ("analysis.py", []),
])
def test_default_tags_from_the_script_name(ws: Workspace, name: str, tags: list[str]) -> None:
    ws.python(ws.write(name, "import recipe\n"))
    assert ws.only_run()["tags"] == tags


def test_default_tags_can_be_switched_off(ws: Workspace) -> None:
    ws.python(ws.write("train.py", "import recipe\n"), env={"RECIPE_TAGS_DEFAULTS": "no"})
    assert ws.only_run()["tags"] == []


def test_recipe_open_and_log_functions(ws: Workspace) -> None:
    ws.write("notes.txt", "hello\n")
    ws.python(ws.write("s.py", """\
        import recipe
        from pathlib import Path
        with recipe.open("notes.txt") as f:
            text = f.read()
        with recipe.open(Path("copy.txt"), "w") as f:
            f.write(text.upper())
        Path("by-hand.bin").write_bytes(b"\\x00\\x01")
        recipe.log_output("by-hand.bin")
        recipe.log_input(Path("notes.txt"))
        """))
    run = ws.only_run()
    assert (ws.root / "copy.txt").read_text() == "HELLO\n"
    assert [(e["path"], e["function"]) for e in run["inputs"]] == [
        (str(ws.root / "notes.txt"), "recipe.open"),
        (str(ws.root / "notes.txt"), "recipe.log_input")]
    assert [(e["path"], e["function"], e["size"]) for e in run["outputs"]] == [
        (str(ws.root / "copy.txt"), "recipe.open", 6),
        (str(ws.root / "by-hand.bin"), "recipe.log_output", 2)]
