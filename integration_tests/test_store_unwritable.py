"""A RECIPE_HOME that cannot be written (read-only, full, not permitted): the script runs
to its normal end with one warning, and its run waits in a fallback spool until the store
can take it. Real mounts, so these run as root only; the permission variant as a user."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
from recipe_workspace import Workspace

from recipe.record import journal

SCRIPT = """\
    import recipe, sys
    import numpy as np
    np.save(f"out-{sys.argv[1]}.npy", np.arange(4))
    print("done", sys.argv[1])
    """

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


@pytest.fixture
def store_ws(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace whose fallback spool is its own (not the user's ~/.cache)."""
    ws.env["XDG_CACHE_HOME"] = str(ws.root / "cache")
    monkeypatch.setenv("XDG_CACHE_HOME", ws.env["XDG_CACHE_HOME"])  # for _fallback
    return ws


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _fallback(ws: Workspace) -> Path:
    return Path(journal.fallback_directories(str(ws.home))[0])


def _aside(ws: Workspace) -> list[str]:
    directory = _fallback(ws)
    return sorted(p.stem for p in directory.glob("*.json")) if directory.exists() else []


def _one_warning(result: subprocess.CompletedProcess, name: str) -> str:
    assert result.returncode == 0 and result.stdout == f"done {name}\n"
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return warnings[0]


def _outputs(ws: Workspace) -> set[str]:
    return {Path(run["outputs"][0]["path"]).name for run in ws.runs()}


@as_root
def test_a_read_only_store_keeps_the_run_aside_until_the_next_run_merges_it(
        store_ws: Workspace) -> None:
    ws = store_ws
    script = ws.write("write.py", SCRIPT)
    ws.python(script, "before")
    assert _outputs(ws) == {"out-before.npy"}
    store_files = sorted(p.name for p in ws.home.iterdir())
    _mount("--bind", str(ws.home), str(ws.home))
    try:
        _mount("-o", "remount,bind,ro", str(ws.home))
        warning = _one_warning(ws.python(script, "readonly"), "readonly")
        assert "waits in" in warning and "recipe db repair" in warning
        assert len(_aside(ws)) == 1
    finally:
        subprocess.run(["umount", str(ws.home)], check=True)
    assert sorted(p.name for p in ws.home.iterdir()) == store_files
    assert ws.python(script, "after").stderr.count("warning") == 0
    assert _outputs(ws) == {"out-before.npy", "out-readonly.npy", "out-after.npy"}
    assert _aside(ws) == []


@as_root
def test_a_full_store_disk_leaves_no_orphan_and_repair_brings_the_run_in(
        store_ws: Workspace) -> None:
    ws = store_ws
    script = ws.write("write.py", SCRIPT)
    ws.home.mkdir()
    _mount("-t", "tmpfs", "-o", "size=512k", "tmpfs", str(ws.home))
    try:
        ws.python(script, "before")
        assert _outputs(ws) == {"out-before.npy"}
        filler = ws.home / "filler"
        with open(filler, "wb", buffering=0) as handle:  # fill the disk to its last byte
            try:
                while handle.write(b"\0" * 4096):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        warning = _one_warning(ws.python(script, "full"), "full")
        assert "waits in" in warning
        [aside] = _aside(ws)
        spool = ws.home / "spool"
        assert not list(spool.iterdir()), "nothing left in the full store's spool"
        filler.unlink()
        ws.recipe("db", "repair")
        assert _outputs(ws) == {"out-before.npy", "out-full.npy"}
        assert _aside(ws) == []
        [run] = [run for run in ws.runs() if run["id"] == aside]
        assert (run["status"], run["exit_code"]) == ("completed", 0)
    finally:
        subprocess.run(["umount", str(ws.home)], check=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through a 0500 directory")
def test_a_store_without_write_permission_keeps_the_run_aside(store_ws: Workspace) -> None:
    ws = store_ws
    script = ws.write("write.py", SCRIPT)
    ws.python(script, "before")
    ws.home.chmod(0o500)
    try:
        warning = _one_warning(ws.python(script, "denied"), "denied")
        assert "waits in" in warning
        assert len(_aside(ws)) == 1
    finally:
        ws.home.chmod(0o700)
    ws.python(script, "after")
    assert _outputs(ws) == {"out-before.npy", "out-denied.npy", "out-after.npy"}
