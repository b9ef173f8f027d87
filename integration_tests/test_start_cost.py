"""What recording loads into a script's interpreter (issue 14): every module is start-up
time the script pays, so a recorded run imports nothing the script would not have, beyond
recipe's own few. Checked through `python -X importtime`, which lists every import of the
process, the recorder's thread and the run's end included; timings live in bench/."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
from recipe_workspace import Workspace

import recipe

# Standard modules a recorded run does without, and did not always: json (1.5 ms: the
# journal is written and read by json's C accelerator directly), subprocess (git is
# started with posix_spawn), re (a remote URL without credentials is kept as it is), ast
# (the script's parameters are found once, then remembered).
NOT_NEEDED = ("json", "json.decoder", "subprocess", "re", "ast")


def imported(ws: Workspace, script: Path) -> set[str]:
    """Every module the script's process imports. Without `site` (-S), which imports re
    and zlib itself on some installations (an editable install's finder): recipe from its
    source tree, its dependencies from site-packages, both by PYTHONPATH."""
    path = os.pathsep.join([str(Path(recipe.__file__).parent.parent),
                            *site.getsitepackages()])
    result = subprocess.run([sys.executable, "-S", "-X", "importtime", str(script)],
                            cwd=ws.root, env={**ws.env, "PYTHONPATH": path},
                            capture_output=True, text=True, check=True)
    return {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("where", ["a directory", "a git repository with a remote"])
def test_a_recorded_script_imports_none_of_what_it_does_not_use(ws: Workspace,
                                                                where: str) -> None:
    ws.write("analysis.py", """\
        import recipe

        with open("data.txt") as source, open("out.txt", "w") as target:
            target.write(source.read().upper())
        """)
    ws.write("data.txt", "some data\n")
    if where != "a directory":
        for args in (["init", "-q"], ["add", "analysis.py"],
                     ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm",
                      "x"], ["remote", "add", "origin", "https://example.com/lab/analysis.git"]):
            subprocess.run(["git", "-C", str(ws.root), *args], check=True)
    baseline = imported(ws, ws.write("bare.py", "open('data.txt').read()\n"))
    imported(ws, ws.root / "analysis.py")  # the first run of a script reads its parameters

    modules = imported(ws, ws.root / "analysis.py")

    assert sorted(set(NOT_NEEDED) & (modules - baseline)) == []
    runs = ws.runs()
    assert [[event["path"] for event in run["outputs"]] for run in runs] == [
        [str(ws.root / "out.txt")]] * 2
    if where != "a directory":
        assert runs[0]["git"]["remote"] == "https://example.com/lab/analysis.git"


# What a recorded numpy script imports that numpy does not: the recorder's own needs (its
# thread, the journal's JSON, the hash, the user's name), and `site`, which `-S` leaves
# out and the fallback asks for the site-packages directories.
# Patching numpy loads wrapt's FunctionWrapper by spec (not listed by -X importtime),
# and without importlib.util, which numpy does not import (0.3-0.4 ms).
ADDED_TO_NUMPY = {"__future__", "_json", "atexit", "pwd", "threading", "xxhash",
                  "xxhash._xxhash", "xxhash.version", "site", "_sitebuiltins"}


def test_a_recorded_numpy_script_imports_only_what_recording_needs(ws: Workspace) -> None:
    body = "import numpy as np\nnp.save('a.npy', np.zeros(3))\n"
    baseline = imported(ws, ws.write("bare.py", body))
    script = ws.write("analysis.py", "import recipe\n" + body)
    imported(ws, script)  # the first run of a script reads its parameters

    modules = imported(ws, script)

    added = {name for name in modules - baseline if not name.startswith("recipe")}
    assert sorted(added - ADDED_TO_NUMPY) == []
    assert [[event["path"] for event in run["outputs"]] for run in ws.runs()] == [
        [str(ws.root / "a.npy")]] * 2
