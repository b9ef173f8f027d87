"""The store under stress: many writers at once, a damaged file, runs kept aside."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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
    ws.env["RECIPE_STORE_MERGE_BATCH"] = "1"  # a detached merger after every run
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
    assert "Traceback" not in result.stderr
    # The detached merge found the damage after the script ended: its one warning
    # waits in the log until the next command shows it.
    _wait_for(ws.home / "merge.log")
    check = ws.recipe("db", "check", check=False)
    assert check.returncode == 1 and "damaged" in check.stdout
    warnings = [line for line in check.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "recipe db repair" in warnings[0]
    assert not (ws.home / "merge.log").exists()

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


def _wait_for(path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _merger_of(run_id: str) -> list[int]:
    """Pids of the live `python -m recipe.store.merge` processes started for `run_id`."""
    pids = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"recipe.store.merge" in argv and run_id.encode() in argv:
            pids.append(int(name))
    return pids


def test_a_caller_capturing_the_output_never_waits_for_the_busy_store(ws: Workspace) -> None:
    ws.env["RECIPE_STORE_MERGE_BATCH"] = "1"  # a detached merger after every run
    script = ws.write("write.py", SCRIPT)
    ws.python(script, "first")  # the store exists, with its lock file
    _wait_until_merged(ws)  # its merger's claim gone: the next run starts one of its own
    extra_read, extra_write = os.pipe()  # a descriptor the caller passes the script
    with open(ws.home / "db.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the store is busy: the merger must wait
        try:
            process = subprocess.Popen([sys.executable, str(script), "busy"], cwd=ws.root,
                                       env=ws.env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, pass_fds=(extra_write,))
            os.close(extra_write)
            stdout, stderr = process.communicate(timeout=120)
            with os.fdopen(extra_read, "rb") as extra:
                assert extra.read() == b""  # end of file: nobody holds the passed pipe
            assert process.returncode == 0 and b"warning" not in stderr
            run_id = stderr.decode().split("recorded run ")[1][:8]
            [record] = [path.stem for path in (ws.home / "spool").glob(f"{run_id}*.json")]
            # The script's pipes are closed while its merger still waits for the lock.
            assert _merger_of(record), "the merger ended before the store was free"
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    outputs = {run["outputs"][0]["path"] for run in ws.runs()}
    assert str(ws.root / "out-busy.npy") in outputs


def test_plain_runs_wait_in_the_spool_for_one_merger_per_batch(ws: Workspace) -> None:
    ws.env["RECIPE_STORE_MERGE_BATCH"] = "3"
    script = ws.write("write.py", SCRIPT)
    for name in ("one", "two"):
        ws.python(script, name)
    spool = ws.home / "spool"
    assert len(list(spool.glob("*.json"))) == 2  # no merger yet: they wait
    assert not (ws.home / "db.json").exists()

    ws.python(script, "three")  # the third makes a batch: one merger takes them all
    deadline = time.monotonic() + 60
    while list(spool.glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(spool.glob("*.json")) == []
    assert sorted(Path(run["outputs"][0]["path"]).name for run in ws.runs()) == [
        "out-one.npy", "out-three.npy", "out-two.npy"]


def _run_id(result: subprocess.CompletedProcess, ws: Workspace) -> str:
    """The full id of the run whose end `result` printed, from its record in the spool."""
    short = result.stderr.split("recorded run ")[1][:8]
    [record] = [path.stem for path in (ws.home / "spool").glob(f"{short}*.json")]
    return record


def _spooled(ws: Workspace) -> set[str]:
    return {path.stem for path in (ws.home / "spool").glob("*.json")}


def _wait_until_merged(ws: Workspace, keep: set[str] = frozenset()) -> None:
    """Until the spool holds only `keep` and no merger's claim."""
    deadline = time.monotonic() + 60
    while _spooled(ws) - keep or (ws.home / "spool" / ".merger").exists():
        assert time.monotonic() < deadline, "the spool was never merged"
        time.sleep(0.05)


def test_a_running_run_does_not_count_towards_a_batch(ws: Workspace) -> None:
    # Counted, it made a batch of every run's end while others ran: 8 scripts writing at
    # once started a merger (a whole interpreter) at nearly every end.
    ws.env["RECIPE_STORE_MERGE_BATCH"] = "2"
    script = ws.write("write.py", SCRIPT)
    waiting = ws.write("wait.py", """\
        import recipe, os, time
        while not os.path.exists("go"):
            time.sleep(0.02)
        """)
    process = subprocess.Popen([sys.executable, str(waiting)], cwd=ws.root, env=ws.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not _spooled(ws):
            assert time.monotonic() < deadline, "the waiting script never started its run"
            time.sleep(0.02)
        [running] = _spooled(ws)
        one = _run_id(ws.python(script, "one"), ws)
        # A merger would have been started before the script ended: it would be at work
        # now, or done, with the record gone from the spool.
        assert _merger_of(one) == [] and _spooled(ws) == {running, one}

        ws.python(script, "two")  # two finished runs: a batch
        _wait_until_merged(ws, keep={running})
        assert sorted(Path(run["outputs"][0]["path"]).name for run in ws.runs()
                      if run["outputs"]) == ["out-one.npy", "out-two.npy"]
    finally:
        (ws.root / "go").touch()
        process.wait(timeout=60)


def test_runs_that_end_while_a_merger_is_at_work_are_left_to_it(ws: Workspace) -> None:
    ws.env["RECIPE_STORE_MERGE_BATCH"] = "1"  # a detached merger after every run
    script = ws.write("write.py", SCRIPT)
    ws.python(script, "first")  # the store exists, with its lock file
    _wait_until_merged(ws)
    with open(ws.home / "db.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the merger waits for the lock, claim held
        try:
            first = _run_id(ws.python(script, "a"), ws)
            assert _merger_of(first)
            later = [_run_id(ws.python(script, name), ws) for name in ("b", "c")]
            assert [_merger_of(run_id) for run_id in later] == [[], []]
            assert _spooled(ws) == {first, *later}
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _wait_until_merged(ws)  # that one merger took all three
    assert sorted(Path(run["outputs"][0]["path"]).name for run in ws.runs()) == [
        "out-a.npy", "out-b.npy", "out-c.npy", "out-first.npy"]


def test_a_dead_mergers_claim_is_taken_over(ws: Workspace) -> None:
    ws.env["RECIPE_STORE_MERGE_BATCH"] = "1"
    script = ws.write("write.py", SCRIPT)
    claim = ws.home / "spool" / ".merger"
    claim.parent.mkdir(parents=True)
    claim.touch()
    old = time.time() - 120  # its merger was killed two minutes ago
    os.utime(claim, (old, old))
    ws.python(script, "after")
    _wait_until_merged(ws)
    assert [Path(run["outputs"][0]["path"]).name for run in ws.runs()] == ["out-after.npy"]


def test_a_run_waiting_in_the_spool_is_seen_by_every_reader(ws: Workspace) -> None:
    script = ws.write("write.py", SCRIPT)
    ws.python(script, "waiting")
    assert len(list((ws.home / "spool").glob("*.json"))) == 1  # below the batch of 8

    found = ws.recipe("search", "out-waiting.npy", "--json")
    assert [Path(run["outputs"][0]["path"]).name for run in json.loads(found.stdout)] == [
        "out-waiting.npy"]
    assert list((ws.home / "spool").glob("*.json")) == []  # the reader merged it first
