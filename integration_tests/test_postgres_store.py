"""The team store end to end: real scripts recorded into a real PostgreSQL server (the
`postgres_server` fixture of conftest.py), read back with the command line; the server
going away and coming back; `db copy` both ways; the password never shown or kept."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from recipe_workspace import Workspace

PostgresServer = Any  # conftest.py's, given by the postgres_server fixture

SCRIPT = """\
    import sys
    import recipe
    x = 1
    with recipe.open(f"out-{sys.argv[1]}.txt", "w") as handle:
        handle.write(sys.argv[1])
    """


@pytest.fixture
def team(ws: Workspace, postgres_url: str) -> Workspace:
    """The workspace, its store on the server."""
    ws.env["RECIPE_STORE_URL"] = postgres_url
    return ws


def outputs(runs: list[dict]) -> list[str]:
    return sorted(os.path.basename(run["outputs"][0]["path"]) for run in runs)


def test_every_command_reads_the_runs_of_several_machines(team: Workspace,
                                                         tmp_path: Path) -> None:
    script = team.write("work.py", SCRIPT)
    for machine in ("laptop", "cluster-node"):  # two RECIPE_HOMEs, one server
        team.python(script, machine, env={"RECIPE_HOME": str(tmp_path / machine)})
    team.python(script, "here")

    assert outputs(team.runs()) == ["out-cluster-node.txt", "out-here.txt", "out-laptop.txt"]
    found = team.recipe("search", "out-laptop.txt", "--json")
    [run] = json.loads(found.stdout)
    assert team.recipe("show", run["id"][:8]).stdout.count("out-laptop.txt") == 1
    assert len(json.loads(team.recipe("runs", "--where", "x>=1", "--json").stdout)) == 3
    assert json.loads(team.recipe("latest", "--json").stdout)["outputs"][0]["path"].endswith(
        "out-here.txt")
    assert "out-laptop.txt" in team.recipe("lineage", str(team.root / "out-laptop.txt")).stdout
    assert team.recipe("db", "check").returncode == 0


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_run_while_the_server_is_down_is_spooled_with_one_warning_and_sent_later(
        team: Workspace, postgres_server: PostgresServer) -> None:
    script = team.write("work.py", SCRIPT)
    postgres_server.stop()
    try:
        result = team.python(script, "offline")
        assert result.returncode == 0 and "Traceback" not in result.stderr
        assert (team.root / "out-offline.txt").read_text() == "offline"
        # The detached merge could not reach the server: its one warning waits in the
        # log for the next command, and the run in the spool.
        _wait_for(team.home / "merge.log")
        assert list((team.home / "spool").glob("*.json"))
    finally:
        postgres_server.start()
    online = team.python(script, "online")  # its merge sends the one kept aside too

    warnings = [line for line in online.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "recipe db repair" in warnings[0], online.stderr
    assert outputs(team.runs()) == ["out-offline.txt", "out-online.txt"]
    assert not list((team.home / "spool").glob("*.json"))


def test_a_command_while_the_server_is_down_says_so_in_one_line(
        team: Workspace, postgres_server: PostgresServer) -> None:
    team.python(team.write("work.py", SCRIPT), "one")
    assert len(team.runs()) == 1  # stored (its merge done) before the server goes
    postgres_server.stop()
    try:
        listed = team.recipe("runs", check=False)
    finally:
        postgres_server.start()

    assert listed.returncode == 2
    assert listed.stderr.startswith("recipe: error: cannot reach the store postgresql://")
    assert len(listed.stderr.splitlines()) == 1


def test_rm_restore_gc_and_import_on_the_server(team: Workspace, tmp_path: Path) -> None:
    script = team.write("work.py", SCRIPT)
    for name in ("a", "b"):
        team.python(script, name)
    first, second = sorted(team.runs(), key=lambda run: run["start"])
    exported = tmp_path / "export.json"
    team.recipe("export", "-o", str(exported))

    team.recipe("rm", first["id"][:8])
    assert outputs(team.runs()) == ["out-b.txt"]
    team.recipe("restore", first["id"][:8])
    assert outputs(team.runs()) == ["out-a.txt", "out-b.txt"]
    team.recipe("rm", first["id"][:8])
    team.recipe("gc")
    assert team.recipe("restore", first["id"][:8], check=False).returncode == 2

    imported = team.recipe("import", str(exported))
    again = team.recipe("import", str(exported))

    assert outputs(team.runs()) == ["out-a.txt", "out-b.txt"]
    assert "imported 1 run(s); 1 already here" in imported.stderr
    assert "imported 0 run(s); 2 already here" in again.stderr


def test_the_server_stopped_mid_sweep_loses_no_run(team: Workspace,
                                                   postgres_server: PostgresServer) -> None:
    # The third run of the sweep stops the server: the rest wait in the spool.
    stop = ["runuser", "-u", postgres_server.owner, "--"] if postgres_server.owner else []
    stop += [os.path.join(postgres_server.bindir, "pg_ctl"), "-D", str(postgres_server.data),
             "-m", "fast", "-w", "stop"]
    script = team.write("sweep.py", f"""\
        import subprocess
        import recipe
        x = 0
        if x == 3:
            subprocess.run({stop!r}, check=True, capture_output=True)
        with recipe.open(f"out-{{x}}.txt", "w") as handle:
            handle.write(str(x))
        """)
    try:
        swept = team.recipe("sweep", str(script), "-p", "x=1,2,3,4,5", "-j", "1",
                            check=False)
        assert swept.returncode == 0, swept.stderr
        assert "recipe db repair" in swept.stderr
        assert list((team.home / "spool").glob("*.json"))
    finally:
        postgres_server.start()
    repaired = team.recipe("db", "repair")

    assert "sent" in repaired.stderr
    runs = team.runs()
    assert sorted(run["params"]["x"] for run in runs) == [0, 1, 2, 3, 4, 5]  # 0: nominal
    assert len({run["id"] for run in runs}) == 6
    assert not list((team.home / "spool").glob("*.json"))


def test_db_copy_goes_to_the_server_and_back_and_twice_adds_nothing(
        ws: Workspace, postgres_url: str, postgres_server: PostgresServer,
        tmp_path: Path) -> None:
    script = ws.write("work.py", SCRIPT)
    for name in ("a", "b", "c"):
        ws.python(script, name)
    local = ws.runs()

    first = ws.recipe("db", "copy", "--to", postgres_url)
    again = ws.recipe("db", "copy", "--to", postgres_url)

    assert "copied 3 run(s)" in first.stdout
    assert "copied 0 run(s)" in again.stdout and "3 were there already" in again.stdout
    on_server = ws.recipe("export", env={"RECIPE_STORE_URL": postgres_url}).stdout
    assert json.loads(on_server) == local
    back = tmp_path / "back" / "db.json"
    ws.recipe("db", "copy", "--to", str(back), env={"RECIPE_STORE_URL": postgres_url})
    assert json.loads(ws.recipe("export", env={"RECIPE_HOME": str(back.parent)}).stdout) == local
    assert postgres_server.password not in first.stdout + first.stderr + again.stdout


def test_the_password_is_never_printed_or_kept(team: Workspace, postgres_url: str,
                                              postgres_server: PostgresServer) -> None:
    password = postgres_server.password
    script = team.write("work.py", SCRIPT)
    team.python(script, "kept", env={"RECIPE_ENVIRONMENT_RECORD": "yes"})  # env recorded
    wrong_database = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    conninfo = (f"host=127.0.0.1 port={postgres_server.port} user=recipe_tester "
                f"password={password} dbname=no_such_database")
    shown = [
        team.recipe("config", "--show-origin"),
        team.recipe("config", "--json"),
        team.recipe("db", "check"),
        team.recipe("export"),
        team.recipe("runs", check=False, env={"RECIPE_STORE_URL": wrong_database}),
        team.recipe("runs", check=False, env={"RECIPE_STORE_URL": conninfo}),
        team.recipe("runs", check=False, env={"RECIPE_STORE_URL": postgres_url + "?x=1"}),
        team.python(script, "gone", env={"RECIPE_STORE_URL": wrong_database}),
    ]
    # The server's own (password-less) URL with PGPASSWORD works, and hides it too.
    shown.append(team.recipe("runs", env={"RECIPE_STORE_URL": postgres_server.url(
        postgres_url.rsplit("/", 1)[1], password=False), "PGPASSWORD": password}))

    assert all(password not in result.stdout + result.stderr for result in shown)
    assert "***" in shown[0].stdout
    assert [result.returncode for result in shown[4:7]] == [2, 2, 2]
    assert all(len(result.stderr.strip().splitlines()) == 1 for result in shown[4:7])
    assert "out-kept.txt" in shown[3].stdout and "postgresql://***@127.0.0.1" in shown[3].stdout
    for path in team.home.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
