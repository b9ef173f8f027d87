"""Git information of a run, from a real repository."""

from __future__ import annotations

import json
import subprocess

from recipe_workspace import Workspace


def git(ws: Workspace, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
                          cwd=ws.root, check=True, capture_output=True, text=True).stdout


def make_repository(ws: Workspace) -> None:
    git(ws, "init", "-q", "-b", "main")
    ws.write("analysis.py", "import recipe\nx = 1\n")
    ws.write("helper.py", "VALUE = 1\n")
    git(ws, "add", ".")
    git(ws, "commit", "-qm", "first")
    git(ws, "remote", "add", "origin", "https://alice:s3cret-token@example.org/lab/repo.git")


def test_a_clean_repository_is_recorded_with_commit_branch_and_redacted_remote(
        ws: Workspace) -> None:
    make_repository(ws)
    ws.python(ws.root / "analysis.py")
    run = ws.only_run()
    assert run["git"] == {
        "root": str(ws.root),
        "commit": git(ws, "rev-parse", "HEAD").strip(),
        "branch": "main",
        "remote": "https://***@example.org/lab/repo.git",
        "dirty": False,
        "diff": "",
    }
    assert "s3cret" not in json.dumps(run)


def test_the_diff_holds_staged_unstaged_and_untracked_changes(ws: Workspace) -> None:
    make_repository(ws)
    ws.write("helper.py", "VALUE = 2  # staged\n")
    git(ws, "add", "helper.py")
    ws.write("analysis.py", "import recipe\nx = 2  # unstaged\n")
    ws.write("new_module.py", "NEW = True  # untracked\n")
    ws.python(ws.root / "analysis.py")
    info = ws.only_run()["git"]
    assert info["dirty"] is True
    for change in ("+VALUE = 2  # staged", "+x = 2  # unstaged", "+NEW = True  # untracked"):
        assert change in info["diff"]
    shown = ws.recipe("show", ws.only_run()["id"], "--diff").stdout
    assert "+x = 2  # unstaged" in shown


def test_git_is_read_from_the_scripts_directory_not_the_working_directory(
        ws: Workspace) -> None:
    make_repository(ws)
    elsewhere = ws.root.parent / (ws.root.name + "-cwd")
    elsewhere.mkdir()
    subprocess.run(["python", str(ws.root / "analysis.py")], cwd=elsewhere, env=ws.env,
                   check=True, capture_output=True)
    assert ws.only_run()["git"]["root"] == str(ws.root)


def test_the_diff_is_capped_and_git_can_be_switched_off(ws: Workspace) -> None:
    make_repository(ws)
    ws.write("big.txt", "x" * 5000 + "\n")
    ws.python(ws.root / "analysis.py", env={"RECIPE_GIT_DIFF_MAX_KB": "1"})
    info = ws.only_run()["git"]
    assert info["diff_truncated"] is True and len(info["diff"]) < 1200
    ws.python(ws.root / "analysis.py", env={"RECIPE_GIT_ENABLED": "no"})
    assert ws.runs()[0]["git"] is None
