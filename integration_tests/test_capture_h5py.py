"""h5py end to end: File by mode (read, write, update), hashed once closed, never twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from library_runs import LibraryRun, assert_hash_of_file_on_disk
from recipe_workspace import Workspace

from recipe.capture.patches import h5py as declarations

pytest.importorskip("h5py")

SETUP = '''
import h5py
import numpy as np

with h5py.File("measurements.h5", "w") as f:
    f["temperature"] = np.linspace(10.0, 20.0, 50)
with h5py.File("untouched.h5", "w") as f:
    f["counts"] = np.arange(10)
with h5py.File("appended.h5", "w") as f:
    f["first"] = np.arange(3)
'''

SCRIPT = '''
from pathlib import Path

import h5py
import numpy as np

with h5py.File("measurements.h5") as f:  # mode "r", the default
    temperature = f["temperature"][()]
    print("mean", round(float(temperature.mean()), 3), f["temperature"].file.filename)
with h5py.File(Path("untouched.h5"), "a") as f:  # opened to write, only read: an input
    print("counts", int(f["counts"][()].sum()))
with h5py.File("appended.h5", "r+") as f:  # changed: an output
    f["second"] = np.arange(4)
f = h5py.File("results.h5", mode="w")
f["anomaly"] = temperature - temperature.mean()
f.close()
with h5py.File("never_closed.h5", "w") as g:
    pass
kept_open = h5py.File("left_open.h5", "w")  # hashed when the run ends
kept_open["x"] = np.ones(3)
kept_open.flush()
try:
    h5py.File("missing.h5")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def h5py_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_files_are_recorded_by_mode_with_their_final_hash(h5py_run: LibraryRun) -> None:
    h5py_run.assert_events([
        ("input", "h5py.File", "measurements.h5"),
        ("input", "h5py.File", "untouched.h5"),
        ("output", "h5py.File", "appended.h5"),
        ("output", "h5py.File", "results.h5"),
        ("output", "h5py.File", "never_closed.h5"),
        ("output", "h5py.File", "left_open.h5"),
    ], open_at_exit=("left_open.h5",))


def test_recording_changes_nothing_the_script_sees(h5py_run: LibraryRun) -> None:
    h5py_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in h5py_run.stdout


PAUSED = '''
import os
import time

import h5py
import numpy as np

with h5py.File("grows.h5", "w") as f:
    f["a"] = np.arange(5)
os.mkdir("closed")  # a signal that opens no file
while not os.path.isdir("go"):
    time.sleep(0.05)
with h5py.File("grows.h5", "a") as f:
    f["b"] = np.arange(7)
'''


def test_a_closed_file_is_hashed_at_close_and_shown_while_the_run_goes_on(
        ws: Workspace) -> None:
    ws.write("paused.py", "import recipe\n" + PAUSED)
    process = subprocess.Popen([sys.executable, "paused.py"], cwd=ws.root, env=ws.env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (ws.root / "closed").is_dir():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        at_close = []
        while not at_close:  # the worker flushes events every couple of seconds
            assert time.monotonic() < deadline, "the closed file never reached the spool"
            run = json.loads(ws.recipe("latest", "--json").stdout)
            at_close = run["outputs"]
            time.sleep(0.2)
        assert run["status"] == "running"
        assert_hash_of_file_on_disk(at_close[0])  # as it was once closed
        (ws.root / "go").mkdir()
        assert process.wait(60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    outputs = ws.only_run()["outputs"]
    assert [event["function"] for event in outputs] == ["h5py.File", "h5py.File"]
    assert outputs[0]["hash"] == at_close[0]["hash"] != outputs[1]["hash"]
    assert_hash_of_file_on_disk(outputs[1])
