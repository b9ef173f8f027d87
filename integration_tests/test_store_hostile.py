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


def wrong_shapes(good: dict) -> dict[str, dict]:
    """db.json texts that are valid JSON of the wrong shape, each still holding `good`."""
    return {
        "a run that is a string": {"runs": {"1": "not a run", "2": good}},
        "a run without its id": {"runs": {"1": {"start": "2026"}, "2": good}},
        "an event without a path": {"runs": {"1": {**good, "id": "f" * 32,
                                                   "outputs": [{"hash": "x"}]},
                                             "2": good}},
        "a catalog entry missing keys": {"runs": {"1": good}, "catalog": {"1": {"shard": 1}}},
        "a list where an object belongs": {"runs": [good]},
        "a table that is a number": {"runs": {"1": good}, "meta": 3},
    }


SHAPES = list(wrong_shapes({}))


@pytest.mark.parametrize("shape", SHAPES)
def test_a_wrong_shaped_db_json_is_damage_reported_in_one_line_and_repaired(
        ws: Workspace, shape: str) -> None:
    run_id = one_run(ws)
    good = next(iter(head(ws)["runs"].values()))
    (ws.home / "db.json").write_text(json.dumps(wrong_shapes(good)[shape]))

    checked = ws.recipe("db", "check", "--json", check=False)
    assert checked.returncode == 1 and "Traceback" not in checked.stderr
    report = json.loads(checked.stdout)
    assert not report["ok"] and "db.json is damaged" in report["problems"][0]
    for argv in (["latest"], ["runs"], ["search", "out"], ["export"]):
        result = ws.recipe(*argv, check=False)
        assert "Traceback" not in result.stderr and result.returncode in (0, 1), argv
        assert "db.json is damaged" in result.stderr

    repaired = ws.recipe("db", "repair")
    assert "Traceback" not in repaired.stderr
    assert [run["id"] for run in ws.runs()] == [run_id]
    assert ws.recipe("db", "check").returncode == 0
    backups = sorted(p.name for p in (ws.home / "backups").iterdir())
    assert any(name.endswith(".damaged") for name in backups)
    if shape in ("a run that is a string", "a run without its id", "an event without a path"):
        aside = next(ws.home.joinpath("backups").glob("*.set-aside.json"))
        assert len(json.loads(aside.read_text())) == 1  # kept, not silently dropped
    # ...and later runs merge normally.
    later = one_run(ws, "later.txt")
    assert later != run_id and {run["id"] for run in ws.runs()} == {run_id, later}


def test_the_gui_shows_a_wrong_shaped_store_as_damaged_not_500(ws: Workspace) -> None:
    from recipe import config
    from recipe_gui import create_app

    run_id = one_run(ws)
    (ws.home / "db.json").write_text(json.dumps({"runs": {"1": "not a run"}}))
    os.environ["RECIPE_HOME"] = str(ws.home)
    try:
        app = create_app({"RECIPE_SETTINGS": config.load()})
    finally:
        del os.environ["RECIPE_HOME"]
    client = app.test_client()
    for path in ("/", "/runs.json", f"/run/{run_id}", "/?q=out", "/file?path=/x"):
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        if response.status_code == 200 and path == "/":
            assert b"recipe db repair" in response.data


ORPHAN_EVENT = {"kind": "output", "path": "/data/late.csv", "hash": "ab" * 16,
                "hash_algorithm": "xxh3_128", "size": 3, "function": "open",
                "time": "2026-01-02T03:04:05+00:00", "pid": 4242}


def test_an_orphan_journal_is_reported_and_repair_stores_it_as_lost(ws: Workspace) -> None:
    one_run(ws)
    orphan = "0123456789abcdef" * 2
    (ws.home / "spool" / f"{orphan}.events").write_text(json.dumps(ORPHAN_EVENT) + "\n")
    checked = ws.recipe("db", "check", check=False)
    assert checked.returncode == 1 and f"{orphan}.events has events but no record" in \
        checked.stdout
    assert f"as lost run {orphan[:8]}" in ws.recipe("db", "repair").stderr
    run = next(run for run in ws.runs() if run["id"] == orphan)
    assert run["status"] == "lost" and run["outputs"][0]["path"] == "/data/late.csv"
    assert run["start"] == ORPHAN_EVENT["time"]
    assert ws.recipe("db", "check").returncode == 0


def test_an_orphan_journal_of_a_stored_run_joins_that_run(ws: Workspace) -> None:
    run_id = one_run(ws)
    (ws.home / "spool" / f"{run_id}.events").write_text(json.dumps(ORPHAN_EVENT) + "\n")
    assert ws.recipe("db", "check", check=False).returncode == 1
    ws.recipe("db", "repair")
    (run,) = ws.runs()
    assert [event["path"] for event in run["outputs"]][-1] == "/data/late.csv"
    assert ws.recipe("db", "check").returncode == 0
