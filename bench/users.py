"""Item 13, "users": what recording costs a script the way users run it (issue 14).

The scripts import numpy (pandas, matplotlib.pyplot; numpy once more from inside a git
repository, where users' scripts live and recipe reads git), the interpreter is the one this
benchmark runs under (run it from a venv with a regular, non-editable `pip install` of
recipe and the newest releases of its dependencies), and the parent captures stdout and
stderr through pipes, so a run ends for it when the script has exited AND both pipes are
closed by every process holding them. Bare and recorded runs alternate, 20+ pairs.

The wall target is judged on the median of each pair's difference and its 95% interval
(`common.paired_difference`): PASS only when the whole interval is within it, FAIL when
none of it is, UNDECIDED when this machine's noise straddles it. The difference of the
two medians, shown beside it, moved 11 -> 33 ms between two runs of the same code here.

CPU comes from `wait4`: this process makes itself a child subreaper, so the detached
merger a recorded script leaves behind is reparented here when the script exits, and its
CPU is counted in the recorded run's ("including anything recipe starts"). Peak RSS is
the script's VmHWM, read by an atexit handler registered before anything else (so it runs
last, after recipe's): `ru_maxrss` would count the pages of the forking parent (Linux
keeps the old memory's high-water mark across exec).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import (
    bounded_verdict,
    clean_env,
    git_repository,
    median,
    paired_difference,
    print_table,
    recipe_command,
    temp_dir,
    verdict,
)

CASES = {
    "numpy": "import numpy as np\nnp.save('a.npy', np.zeros(3))\n",
    "pandas": "import pandas\n",
    "matplotlib": "import matplotlib.pyplot\n",
    "x = 1": "x = 1\n",
}
# The script's first lines: an atexit handler registered before anything else (so it runs
# last, after recipe's) writes the script's peak RSS and the marks of its phases.
PRELUDE = """\
import atexit, os, time
_marks = [time.perf_counter()]
def _at_exit(path=os.environ.get("BENCH_PEAK_FILE")):
    _marks.append(time.perf_counter())
    with open("/proc/self/status") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(" ".join([peak, *map(repr, _marks)]))
atexit.register(_at_exit)
"""
MARK = "_marks.append(time.perf_counter())\n"
# Where a run's wall time goes, from the marks (the script's clock is the parent's:
# perf_counter is CLOCK_MONOTONIC on Linux): the interpreter's start up to the script's
# first line, `import recipe` (none in a bare script), the script's own lines, the end
# (atexit handlers: recipe's end of the run), and the teardown (finalization, exit, the
# pipes closed, reaped).
PHASES = ("start", "import recipe", "body", "end", "teardown")


def bare_script(body: str) -> str:
    return PRELUDE + MARK + body + MARK


def recorded_script(body: str) -> str:
    return PRELUDE + "import recipe\n" + MARK + body + MARK


# Targets of issue 14 (the x = 1 script has none: it is there to separate costs).
WALL_MS, CPU_MS, RSS_MB, RECIPE_RUN_MS = 15.0, 40.0, 5.0, 25.0
PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> bool:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _cpu(usage: Any) -> float:
    return usage.ru_utime + usage.ru_stime


def one_run(cmd: list[str], *, env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Wall time until exit and end of file on both pipes; CPU of the script and of what
    it left behind (reaped here); peak RSS of the script; its PHASES (s), when it is a
    `bare_script` or `recorded_script`."""
    peak_file = Path(cwd) / "peak"
    env = dict(env, BENCH_PEAK_FILE=str(peak_file))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ends: dict[str, float] = {}

    def drain(name: str, stream: Any) -> None:
        stream.read()
        ends[name] = time.perf_counter()

    readers = [threading.Thread(target=drain, args=(name, stream), daemon=True)
               for name, stream in (("out", proc.stdout), ("err", proc.stderr))]
    for reader in readers:
        reader.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    exited = time.perf_counter()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join(timeout=120)
    eof = max(ends.values(), default=exited)
    left_cpu = 0.0
    while True:  # whatever the script left behind, reparented to this subreaper
        try:
            _pid, _status, left = os.wait4(-1, 0)
        except ChildProcessError:
            break
        left_cpu += _cpu(left)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}")
    peak, *marks = peak_file.read_text().split()
    ended = max(eof, exited)
    result = {"wall": ended - start, "exit": exited - start,
              "held": max(0.0, eof - exited), "cpu": _cpu(usage) + left_cpu,
              "script_cpu": _cpu(usage), "left_cpu": left_cpu, "rss": int(peak) * 1024}
    if len(marks) == len(PHASES) - 1:
        times = [start, *map(float, marks), ended]
        result["phases"] = {phase: later - earlier for phase, earlier, later
                            in zip(PHASES, times[:-1], times[1:], strict=True)}
    return result


def _stats(samples: list[dict[str, float]], key: str) -> tuple[float, float, float]:
    values = [sample[key] for sample in samples]
    return median(values), min(values), max(values)


def _paired_ms(bare: list[dict[str, Any]], recorded: list[dict[str, Any]],
               value: Any) -> tuple[float, float, float]:
    """The median of each pair's difference of `value(sample)` (s), in ms, with its 95%
    interval (`common.paired_difference`)."""
    return paired_difference([(value(r) - value(b)) * 1000
                              for b, r in zip(bare, recorded, strict=True)])


def _phase_differences(bare: list[dict[str, Any]], recorded: list[dict[str, Any]]
                       ) -> dict[str, tuple[float, float, float, float]]:
    """Per phase (ms): the bare runs' median, and the median of each pair's difference
    with its 95% interval; none if the runs have no marks."""
    if not all("phases" in sample for sample in (*bare, *recorded)):
        return {}
    return {phase: (median([b["phases"][phase] * 1000 for b in bare]),
                    *_paired_ms(bare, recorded, lambda sample, phase=phase:
                                sample["phases"][phase]))
            for phase in PHASES}


def _mean(samples: list[dict[str, float]], key: str) -> float:
    return sum(sample[key] for sample in samples) / len(samples)


def users(args: Any) -> dict[str, Any]:
    subreaper = _become_subreaper()
    python = sys.executable  # the venv's own, never the base interpreter behind it
    probe = subprocess.run([python, "-c", "import recipe, wrapt, tinydb, xxhash, numpy; "
                            "print(recipe.__file__, wrapt.__version__, tinydb.__version__, "
                            "xxhash.VERSION, numpy.__version__)"],
                           env=clean_env(), capture_output=True, text=True, check=True,
                           cwd="/")  # not the checkout: its recipe/ would be imported
    print(f"interpreter {python}; recipe, wrapt, tinydb, xxhash, numpy: {probe.stdout.strip()}"
          f"; subreaper: {subreaper}")
    results: dict[str, Any] = {"python": python, "versions": probe.stdout.strip(),
                               "subreaper": subreaper, "cases": {}}
    rows, phase_rows = [], []
    with temp_dir("users") as root:
        env = clean_env(MPLBACKEND="Agg", RECIPE_HOME=str(root / "home"))
        env.pop("PYTHONPATH", None)  # the installed recipe, not a work tree
        pairs: list[tuple[str, list[str], list[str]]] = []
        for name, body in CASES.items():
            bare = root / f"bare_{len(pairs)}.py"
            recorded = root / f"recorded_{len(pairs)}.py"
            bare.write_text(bare_script(body))
            recorded.write_text(recorded_script(body))
            pairs.append((name, [python, str(bare)], [python, str(recorded)]))
        # Users' scripts live in git repositories: then recipe also reads git (`git status`
        # beside the script, its output and the remote URL read on recipe's thread).
        repo = root / "repo"
        repo.mkdir()
        (repo / "bare.py").write_text(bare_script(CASES["numpy"]))
        (repo / "recorded.py").write_text(recorded_script(CASES["numpy"]))
        git_repository(repo)
        pairs.append(("numpy, in a git repo", [python, str(repo / "bare.py")],
                      [python, str(repo / "recorded.py")]))
        plain = root / "plain_numpy.py"
        plain.write_text(bare_script(CASES["numpy"]))
        pairs.append(("recipe run (numpy)", [python, str(plain)],
                      [*recipe_command(), "run", str(plain)]))
        for name, bare_cmd, recorded_cmd in pairs:
            for _ in range(args.warmup):
                one_run(bare_cmd, env=env, cwd=root)
                one_run(recorded_cmd, env=env, cwd=root)
            bare_samples, recorded_samples = [], []
            for index in range(args.pairs):
                order = [(bare_cmd, bare_samples), (recorded_cmd, recorded_samples)]
                for cmd, samples in order if index % 2 else reversed(order):
                    samples.append(one_run(cmd, env=env, cwd=root))
            entry = {"bare": bare_samples, "recorded": recorded_samples}
            results["cases"][name] = entry
            b_wall, r_wall = _stats(bare_samples, "wall"), _stats(recorded_samples, "wall")
            b_cpu, r_cpu = _stats(bare_samples, "cpu"), _stats(recorded_samples, "cpu")
            b_rss, r_rss = _stats(bare_samples, "rss"), _stats(recorded_samples, "rss")
            wall = (r_wall[0] - b_wall[0]) * 1000
            # The judge: the median of each pair's difference, with its 95% interval.
            paired, low, high = _paired_ms(bare_samples, recorded_samples,
                                           lambda sample: sample["wall"])
            cpu = (r_cpu[0] - b_cpu[0]) * 1000
            # The mean, not the median, judges CPU: with the embedded store one run in
            # `[store] merge_batch` starts the merger for the batch, so its cost is shared
            # by the runs, which a median would not show.
            cpu_mean = (_mean(recorded_samples, "cpu") - _mean(bare_samples, "cpu")) * 1000
            left_mean = _mean(recorded_samples, "left_cpu") * 1000
            rss = (r_rss[0] - b_rss[0]) / 2**20
            held = _stats(recorded_samples, "held")[0] * 1000
            left = _stats(recorded_samples, "left_cpu")[0] * 1000
            checks: list[tuple[str, str]] = []
            if name.startswith("recipe run"):
                checks = [("wall", bounded_verdict(low, high, RECIPE_RUN_MS))]
            elif name != "x = 1":
                checks = [("wall", bounded_verdict(low, high, WALL_MS)),
                          ("cpu", verdict(cpu_mean <= CPU_MS)), ("rss", verdict(rss <= RSS_MB))]
            phases = _phase_differences(bare_samples, recorded_samples)
            if phases:
                phase_rows.append([name, *(f"{bare:.1f} {paired:+.1f} [{low:+.0f}, {high:+.0f}]"
                                           for bare, paired, low, high in phases.values())])
            entry["overhead"] = {"wall_ms": wall, "wall_paired_ms": paired,
                                 "wall_paired_95ci_ms": [low, high], "cpu_ms": cpu,
                                 "cpu_mean_ms": cpu_mean,
                                 "left_behind_cpu_mean_ms": left_mean, "rss_mb": rss,
                                 "stdio_held_ms": held, "left_behind_cpu_ms": left,
                                 "phases_ms": {phase: dict(zip(
                                     ("bare", "paired", "paired_95ci_low", "paired_95ci_high"),
                                     values, strict=True))
                                     for phase, values in phases.items()},
                                 "verdicts": dict(checks)}
            rows.append([name,
                         f"{b_wall[0]*1000:.1f} [{b_wall[1]*1000:.0f}-{b_wall[2]*1000:.0f}]",
                         f"{r_wall[0]*1000:.1f} [{r_wall[1]*1000:.0f}-{r_wall[2]*1000:.0f}]",
                         f"{wall:+.1f}", f"{paired:+.1f} [{low:+.0f}, {high:+.0f}]",
                         f"{cpu:+.1f}", f"{cpu_mean:+.1f}",
                         f"{left:.1f} / {left_mean:.1f}", f"{rss:+.1f}",
                         f"{held:.1f}",
                         " ".join(f"{k} {v}" for k, v in checks) or "-"])
    print_table(f"users: {args.pairs} interleaved pairs, pipes captured; medians "
                "[min-max] ms", ["script", "bare wall", "recorded wall", "+wall",
                                 "+wall paired [95% CI]", "+cpu (incl. left)", "+cpu mean",
                                 "left-behind cpu (median / mean)", "+rss MB",
                                 "stdio held", "verdict"], rows)
    print_table("where the wall goes: each phase's bare median, then the median of each "
                "pair's difference [95% CI], ms", ["script", *PHASES], phase_rows)
    return results
