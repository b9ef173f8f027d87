"""The store under stress: many writers at once, a damaged file, runs kept aside."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from recipe_workspace import Workspace

SCRIPT = """\
    import recipe, sys
    import numpy as np
    np.save(f"out-{sys.argv[1]}.npy", np.arange(4))
    """


def test_eight_concurrent_writers_lose_nothing(ws: Workspace) -> None:
    script = ws.write("write.py", SCRIPT)
    names = [f"{writer}-{i}" for writer in range(8) for i in range(5)]

    def one_writer(writer: int) -> None:
        for i in range(5):
            subprocess.run([sys.executable, str(script), f"{writer}-{i}"], cwd=ws.root,
                           env=ws.env, check=True, capture_output=True, timeout=120)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one_writer, range(8)))

    runs = ws.runs()
    assert len(runs) == len(names) == len({run["id"] for run in runs})
    written = sorted(run["outputs"][0]["path"] for run in runs)
    assert written == sorted(str(ws.root / f"out-{name}.npy") for name in names)
    assert all(run["status"] == "completed" for run in runs)
    json.loads((ws.home / "db.json").read_text())  # one valid TinyDB file
    assert ws.recipe("db", "check").returncode == 0


def test_a_damaged_store_never_breaks_the_script_and_repair_recovers_everything(
        ws: Workspace) -> None:
    script = ws.write("write.py", SCRIPT)
    ws.python(script, "intact")
    ws.python(script, "damaged")
    damaged_id = next(run["id"] for run in ws.runs() if "damaged" in run["outputs"][0]["path"])
    db = ws.home / "db.json"
    text = db.read_text()
    cut = text.index(damaged_id) + 100
    db.write_text(text[:cut] + "\x00garbage" + text[cut + 20:])

    result = ws.python(script, "during")
    assert result.returncode == 0 and (ws.root / "out-during.npy").exists()
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "recipe db repair" in warnings[0]

    check = ws.recipe("db", "check", check=False)
    assert check.returncode == 1 and "damaged" in check.stdout

    repair = ws.recipe("db", "repair", env={"RECIPE_QUIET": "1"})
    assert "kept as" in repair.stderr  # store warnings show even when quiet
    [backup] = (ws.home / "backups").iterdir()
    assert "garbage" in backup.read_text()
    outputs = sorted(run["outputs"][0]["path"] for run in ws.runs())
    assert outputs == [str(ws.root / "out-during.npy"), str(ws.root / "out-intact.npy")]
    assert ws.recipe("db", "check").returncode == 0


def test_runs_kept_aside_are_brought_in_by_the_next_successful_write(ws: Workspace) -> None:
    script = ws.write("write.py", SCRIPT)
    db = ws.home / "db.json"
    ws.home.mkdir()
    db.write_text("not json")
    ws.python(script, "aside")
    assert (ws.home / "spool").exists() and list((ws.home / "spool").glob("*.json"))
    db.unlink()  # the user removes the damaged file; the next run writes the store again
    ws.python(script, "next")
    runs = ws.runs()
    assert {run["outputs"][0]["path"] for run in runs} == {
        str(ws.root / "out-aside.npy"), str(ws.root / "out-next.npy")}
    assert not list((ws.home / "spool").glob("*.json"))
