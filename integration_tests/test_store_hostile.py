"""The store as a hostile user leaves it: missing, read-only, a directory where the lock
belongs, a db.json of the wrong shape, an orphan journal. Reading always works or says
why in one line; nothing is created by reading; repair salvages and sets aside."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from recipe_workspace import Workspace

SCRIPT = """\
    import recipe, sys
    open(sys.argv[1], "w").write("x")
    recipe.log_output(sys.argv[1])
    """
READING = [["runs"], ["search", "out"], ["latest"], ["show", "abcdef"], ["status"],
           ["export"], ["lineage", "out"], ["db", "check"], ["gui", "--no-browser"],
           ["diff", "abcdef", "123456"]]


def one_run(ws: Workspace, name: str = "out.txt") -> str:
    ws.python(ws.write("write.py", SCRIPT), name)
    return ws.runs()[0]["id"]


@pytest.mark.parametrize("argv", READING, ids=" ".join)
def test_a_reading_command_on_a_missing_store_is_an_error_and_creates_nothing(
        ws: Workspace, argv: list[str]) -> None:
    result = ws.recipe(*argv, check=False)
    assert result.returncode == 2
    assert result.stderr == f"recipe: error: no store at {ws.home} (RECIPE_HOME)\n"
    assert not ws.home.exists()


def test_a_reading_command_on_a_clean_store_writes_nothing(ws: Workspace) -> None:
    run_id = one_run(ws)
    before = sorted(p.relative_to(ws.home) for p in ws.home.rglob("*"))
    (ws.home / "db.lock").unlink()
    for argv in (["runs"], ["show", run_id[:8]], ["search", "out"], ["db", "check"]):
        ws.recipe(*argv)
    after = sorted(p.relative_to(ws.home) for p in ws.home.rglob("*"))
    assert after == [p for p in before if str(p) != "db.lock"]


@pytest.fixture
def read_only(ws: Workspace) -> Iterator[str]:
    """A store with one run, made read-only: as root a read-only bind mount of it (root
    writes through permissions), else chmod -R a-w."""
    run_id = one_run(ws)
    if os.geteuid() == 0:
        mounted = subprocess.run(["mount", "--bind", str(ws.home), str(ws.home)],
                                 capture_output=True)
        if mounted.returncode != 0:
            pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ws.home)], check=True)
        try:
            yield run_id
        finally:
            subprocess.run(["umount", str(ws.home)], check=True)
    else:
        subprocess.run(["chmod", "-R", "a-w", str(ws.home)], check=True)
        try:
            yield run_id
        finally:
            subprocess.run(["chmod", "-R", "u+w", str(ws.home)], check=True)


def test_a_read_only_store_is_readable(ws: Workspace, read_only: str) -> None:
    assert read_only[:8] in ws.recipe("runs").stdout
    assert ws.recipe("show", read_only).stdout.startswith(f"Run:        {read_only}")
    assert read_only[:8] in ws.recipe("search", "out.txt").stdout
    assert [run["id"] for run in ws.runs()] == [read_only]
    assert ws.recipe("db", "check").returncode == 0


def test_writing_to_a_read_only_store_is_one_line(ws: Workspace, read_only: str) -> None:
    result = ws.recipe("tag", read_only, "paper", check=False)
    assert result.returncode == 2
    assert result.stderr.startswith(f"recipe: error: the store {ws.home} cannot be changed")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_directory_at_db_lock_is_one_line_for_writers_and_readers_still_read(
        ws: Workspace) -> None:
    run_id = one_run(ws)
    (ws.home / "db.lock").unlink()
    (ws.home / "db.lock").mkdir()
    assert run_id[:8] in ws.recipe("runs").stdout
    result = ws.recipe("tag", run_id, "paper", check=False)
    assert (result.returncode, result.stderr) == (
        2, f"recipe: error: the store {ws.home} cannot be changed: {ws.home / 'db.lock'} "
           "is a directory\n")
    checked = ws.recipe("db", "check", check=False)
    assert checked.returncode == 1 and "db.lock is not a file" in checked.stdout


@pytest.mark.parametrize("fmt", ["json", "prov-json"])
def test_export_into_a_missing_directory_is_one_line(ws: Workspace, fmt: str) -> None:
    one_run(ws)
    result = ws.recipe("export", "--format", fmt, "-o", "/missing/dir/x.json", check=False)
    assert (result.returncode, result.stderr) == (
        2, "recipe: error: cannot write /missing/dir/x.json: No such file or directory\n")
    assert not Path("/missing").exists()


def head(ws: Workspace) -> dict:
    return json.loads((ws.home / "db.json").read_text())
