"""Small helpers shared by the benchmark items: timing, statistics, machine facts, tables.

Nothing here asserts a time: the benchmark reports figures, it never fails a test suite.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

# The interpreter running the benchmark, never a version-manager shim (a pyenv shim is a
# bash script that adds ~80 ms to every subprocess here and would hide what recipe costs):
# the shim execs the real interpreter, whose sys.executable is itself. Not realpath: in a
# venv that is the base interpreter, which has neither the venv's recipe nor its packages.
PYTHON = os.path.abspath(sys.executable)
REPO = Path(__file__).resolve().parent.parent


def recipe_command() -> list[str]:
    """The `recipe` console script installed next to this interpreter (what users run)."""
    script = Path(sys.executable).parent / "recipe"
    if script.exists():
        return [str(script)]
    return [PYTHON, "-m", "recipe"]


def clean_env(**extra: str) -> dict[str, str]:
    """os.environ without any RECIPE_* setting of the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECIPE_")}
    env.update(extra)
    return env


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A directory under /tmp, removed on leaving the block whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=f"recipe-bench-{prefix}-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def bytecode_cache(*, enabled: bool) -> Iterator[str]:
    """Give the scripts the benchmark starts what a user has: compiled bytecode.

    A user's recipe is byte-compiled (pip compiles at install; Python writes __pycache__ on
    first import). This workplace sets PYTHONDONTWRITEBYTECODE=1, so an editable install
    is compiled from source at every start (+15-25 ms). Enabled, the bytecode goes to a
    temporary PYTHONPYCACHEPREFIX (nothing is written into the repository) and the first
    (warm-up) runs fill it; disabled, every run compiles recipe again."""
    saved = {name: os.environ.get(name)
             for name in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    try:
        if enabled:
            with temp_dir("pycache") as cache:
                os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
                os.environ["PYTHONPYCACHEPREFIX"] = str(cache)
                yield f"PYTHONPYCACHEPREFIX={cache} (written by the warm-up runs)"
        else:
            os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
            os.environ.pop("PYTHONPYCACHEPREFIX", None)
            yield "none: PYTHONDONTWRITEBYTECODE=1, recipe compiled at every start"
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def timed(cmd: Sequence[str], *, env: dict[str, str], cwd: Path | str | None = None,
          check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    """Wall time (s) of one subprocess, from spawn to exit, output captured."""
    start = time.perf_counter()
    result = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if check and result.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stderr}")
    return elapsed, result


def _journals_waiting(spool: Path) -> bool:
    try:
        return any(name.endswith(".json") and not name.startswith(".")
                   for name in os.listdir(spool))
    except FileNotFoundError:
        return False


def timed_recorded(cmd: Sequence[str], *, env: dict[str, str], cwd: Path, home: Path,
                   timeout: float = 60.0) -> dict[str, Any]:
    """One run of a script, three wall times from spawn (s):

    - `exit`: the script's process exits (what a person at a terminal waits for);
    - `stored`: its run is in the store, no journal left in RECIPE_HOME/spool (recipe may
      finish that in a detached process after the script exited);
    - `eof`: its stderr is closed by every process holding it (what a caller capturing
      the output waits for: `subprocess.run(capture_output=True)`, `| tee`, CI logs).
    Waiting for `stored` also keeps one run's leftover work out of the next measurement."""
    # Every run merged when it ends (else 7 in 8 wait in the spool for the next, and
    # `stored` never comes): the worst case of the exit, the one that waits for no other.
    env = {**env, "RECIPE_STORE_MERGE_BATCH": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    drained: dict[str, Any] = {}

    def drain() -> None:
        drained["stderr"] = proc.stderr.read().decode(errors="replace")
        drained["eof"] = time.perf_counter() - start

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    # A blocking wait: Popen.wait(timeout=...) polls with sleeps of up to 50 ms, which
    # would round the exit time up to those steps. A timer kills a run that hangs.
    watchdog = threading.Timer(timeout, proc.kill)
    watchdog.start()
    try:
        returncode = proc.wait()
    finally:
        watchdog.cancel()
    exited = time.perf_counter() - start
    while _journals_waiting(home / "spool"):
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"{' '.join(cmd)}: its run was not stored after {timeout:g} s")
        time.sleep(0.001)
    stored = time.perf_counter() - start
    reader.join(timeout=timeout)
    return {"exit": exited, "stored": max(stored, exited), "eof": drained.get("eof", exited),
            "stderr": drained.get("stderr", ""), "returncode": returncode}


def clone_store(source: Path, target: Path) -> None:
    """An identical store in `target`, made of hard links: cheap, and safe because the store
    replaces every file atomically (a link is never written through)."""
    shutil.copytree(source, target, copy_function=os.link)


def git_repository(directory: Path) -> None:
    """Make `directory` a repository with its files committed and an `origin` remote, as
    users' scripts live in (a clone): recipe then reads git, remote URL included."""
    for args in (["init", "-q"], ["add", "."],
                 ["-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit",
                  "-qm", "scripts"],
                 ["remote", "add", "origin", "https://github.com/example/analysis.git"]):
        subprocess.run(["git", "-C", str(directory), *args], check=True, capture_output=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> tuple[float, float]:
    """(25th, 75th) percentile: how noisy a median is."""
    if len(values) < 4:
        return min(values), max(values)
    quartiles = statistics.quantiles(values, n=4, method="inclusive")
    return quartiles[0], quartiles[2]


def du_bytes(path: Path) -> int:
    """Bytes on disk (allocated blocks) of everything under `path`."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total


def machine() -> dict[str, str]:
    """The facts a reader needs to compare figures: cores, memory, CPU, Python, OS."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        lines = subprocess.run(["free", "-h"], capture_output=True, text=True).stdout
        memory = next((line.split()[1] for line in lines.splitlines()
                       if line.startswith("Mem:")), "")
    nproc = str(os.cpu_count())
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return {"nproc": nproc, "memory (free -h total)": memory, "cpu": cpu,
            "python": platform.python_version(), "python executable": PYTHON,
            "kernel": platform.release()}


def code_state() -> str:
    """Which recipe was measured: the commit, and a digest of any uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True,
                              text=True).stdout

    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    diff = git("diff", "HEAD", "--", "recipe")
    if not diff:
        return f"{head} (recipe/ as committed)"
    import hashlib

    digest = hashlib.sha1(diff.encode()).hexdigest()[:10]
    return f"{head} + uncommitted changes to recipe/ (diff sha1 {digest})"


def load_average() -> str:
    """The 1-minute load average: above ~0.3 before an item, something else was running."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """An aligned plain-text table."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n== {title}")
    for index, row in enumerate(cells):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print(line.rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))
    sys.stdout.flush()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def paired_difference(differences: Sequence[float], confidence: float = 0.95
                      ) -> tuple[float, float, float]:
    """(median, low, high) of the differences of interleaved pairs, with the
    distribution-free confidence interval of that median: the order statistics k and
    n-1-k, k the largest with P(Binomial(n, 1/2) <= k) <= (1 - confidence) / 2. A pair
    runs within a second, so the machine's slow and fast phases (minutes, here) fall on
    both of its runs; the difference of the two medians carries them."""
    ordered = sorted(differences)
    count = len(ordered)
    tail, k = 0.0, -1
    while k + 1 < count // 2:
        tail += math.comb(count, k + 1) / 2 ** count
        if tail > (1 - confidence) / 2:
            break
        k += 1
    if k < 0:  # too few pairs for this confidence: the whole range
        return median(ordered), ordered[0], ordered[-1]
    return median(ordered), ordered[k], ordered[count - 1 - k]


def bounded_verdict(low: float, high: float, target: float) -> str:
    """PASS when the whole interval is within the target, FAIL when none of it is, and
    UNDECIDED when the machine's noise straddles it (more pairs, or a quieter machine)."""
    if high <= target:
        return "PASS"
    return "FAIL" if low > target else "UNDECIDED"
