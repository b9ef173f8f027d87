"""Item 2 in process: what recording adds to one np.save and one np.load, each wrapped call
timed against the function it wraps in the same process, called inside the same
`ContextVar` flag (so numpy's own inner calls pass through alike), best of 9 x 2,000
calls, median of 3 such comparisons. No file churn, no other process: recipe's own cost
per call, the recorder thread's writing of the events included (it flushes every 1,024
events, so every round holds flushes), where `bench/run.py calls` gives what a loop over
1,000 new files sees.

    env -u PYTHONPATH /tmp/benvmain/bin/python bench/calls_in_process.py [--processes 5]
        [--pieces]

`--pieces` also times the parts of a logged np.load (the stat, the working directory, the
wrapper's argument lookup, the recorder, the hash, the timestamp) alone and right after a
bare np.load: in situ each costs 2-3 times what it costs in a loop of its own (item 2).

Each process records into a RECIPE_HOME of its own under a temporary directory, and its
files go to /dev/shm (tmpfs) where there is one: creating a file on this VM's ext4 costs
200-1,000 µs and varies by more than recipe adds (item 2).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from common import clean_env

PROCESS = """\
import json, os, statistics, sys, time
import recipe
import numpy as np
from recipe.capture import patching

array = np.zeros(16)
np.save("x.npy", array)
unwrapped = {"np.save": np.save.__wrapped__, "np.load": np.load.__wrapped__}
arguments = {"np.save": ("y.npy", array), "np.load": ("x.npy",)}


def best(function, arguments, calls=2000, rounds=9):
    fastest = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            function(*arguments)
        fastest = min(fastest, (time.perf_counter() - start) / calls)
    return fastest * 1e6


def added(function, baseline, arguments=()):  # a call's cost over the baseline's
    return best(function, arguments) - best(baseline, arguments)


def inside_the_flag(function):
    def call(*arguments):
        token = patching._inside_logged_call.set(True)
        try:
            return function(*arguments)
        finally:
            patching._inside_logged_call.reset(token)
    return call


comparisons = {"np.save": [], "np.load": []}
for _ in range(3):
    for name, wrapped in (("np.save", np.save), ("np.load", np.load)):
        comparisons[name].append(added(wrapped, inside_the_flag(unwrapped[name]),
                                       arguments[name]))
results = {name: statistics.median(values) for name, values in comparisons.items()}

if "--pieces" in sys.argv:
    # What the parts of a logged np.load cost alone, and between the calls of the function
    # it wraps (each piece after a bare np.load inside the flag, less that np.load): in
    # situ, the code and data of numpy's call and recipe's evict each other's.
    from recipe.record import fields, hashing, recorder

    run = recorder.current()
    path = os.path.abspath("x.npy")
    status = os.stat(path)
    closure = np.load._self_wrapper.__code__.co_freevars
    cells = dict(zip(closure, (cell.cell_contents for cell in np.load._self_wrapper.__closure__)))
    pieces = {
        "os.stat": lambda: os.stat(path),
        "os.getcwd": os.getcwd,
        "the wrapper's files()": lambda: cells["files"](None, ("x.npy",), {}),
        "the recorder (log_to_current)": lambda: recorder.log_to_current(
            "input", path, "numpy.load", False),
        "Run.log, given the stat": lambda: run.log("input", path, "numpy.load", stat=status),
        "hashing the file": lambda: hashing._hash_regular(path, "xxh3_128", status.st_size),
        "the event's timestamp": fields.now,
    }
    bare_load = inside_the_flag(lambda: unwrapped["np.load"](path))
    for name, piece in pieces.items():
        def after_a_load(piece=piece):
            unwrapped["np.load"](path)
            piece()
        results[f"{name}, alone"] = best(inside_the_flag(piece), ())
        results[f"{name}, after a np.load"] = added(inside_the_flag(after_a_load), bare_load)
    # Inside the flag the wrapper only calls through: wrapt's call, the flag's check.
    results["wrapt and the wrapper calling through"] = added(
        inside_the_flag(lambda: np.load(path)), bare_load)
print(json.dumps(results))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--pieces", action="store_true",
                        help="also time the parts of a logged np.load, alone and between calls")
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    where = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="recipe-bench-inprocess-", dir=where) as root:
        script = os.path.join(root, "calls.py")
        with open(script, "w") as handle:
            handle.write(PROCESS)
        for number in range(args.processes):
            env = clean_env(RECIPE_HOME=os.path.join(root, f"home-{number}"))
            env.pop("PYTHONPATH", None)  # the installed recipe, not a work tree
            done = subprocess.run([sys.executable, script, *(["--pieces"] * args.pieces)],
                                  cwd=root, env=env, check=True, capture_output=True, text=True)
            for name, value in json.loads(done.stdout.splitlines()[-1]).items():
                results.setdefault(name, []).append(value)
    for name, values in results.items():
        print(f"{name}: {statistics.median(values):+.1f} µs a call (median of "
              f"{len(values)} processes; each {', '.join(f'{v:+.1f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
