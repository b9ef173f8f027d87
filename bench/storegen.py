"""Fill a store with many realistic runs quickly, through the real store API.

Running 100,000 real scripts would take hours; this writes each run exactly as a recorder
does at its end (its record into the spool journal, then its file events appended) and
calls `Store.merge_pending()` every `batch` runs, as the next run or reader would. With
`batch` = 200 (the head's limit) the shards come out as a run-at-a-time store makes them.

Each run has the fields of `recipe.recorder.Run.__init__`, 2 inputs and 2 outputs with paths
of their own, a git dict with a small diff, and a dozen libraries.
"""

from __future__ import annotations

import os
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SCRIPTS = ("prepare_data", "train_model", "evaluate", "plot_results", "clean_raw",
           "features", "train_baseline", "prepare_split", "report", "sweep")
LIBRARIES = {"numpy": "2.4.6", "pandas": "2.3.3", "matplotlib": "3.10.7", "scipy": "1.16.3",
             "scikit-learn": "1.7.2", "pyarrow": "22.0.0", "tinydb": "4.8.2",
             "xxhash": "3.6.0", "wrapt": "2.0.1", "requests": "2.32.5", "tqdm": "4.67.1",
             "PyYAML": "6.0.3"}
DIFF = """diff --git a/scripts/{name}.py b/scripts/{name}.py
index 3f2a1b4..9c0d7e2 100644
--- a/scripts/{name}.py
+++ b/scripts/{name}.py
@@ -12,7 +12,8 @@ def main():
     data = np.load(args.input)
-    model = fit(data, alpha=0.1)
+    model = fit(data, alpha={alpha})
+    print("alpha", {alpha})
     np.save(args.output, model)
"""
EPOCH = datetime(2023, 1, 1, tzinfo=timezone.utc)


def input_name(index: int, which: int) -> str:
    """The file name of input `which` (0 or 1) of run `index`: unique to that run."""
    return f"sample_{index:06d}_{'ab'[which]}.csv"


def make_run(index: int, rng: random.Random, upstream: dict[str, Any] | None = None
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(record, file events) of the index-th run, started 5 minutes after the previous one.
    With `upstream` (an output event of an earlier run) its first input is that file."""
    run_id = f"{rng.getrandbits(128):032x}"
    name = SCRIPTS[index % len(SCRIPTS)]
    script = f"/home/ana/projects/churn/scripts/{name}.py"
    start = EPOCH + timedelta(minutes=5 * index)
    duration = round(rng.uniform(0.5, 120.0), 6)
    end = start + timedelta(seconds=duration)
    failed = rng.random() < 0.05
    alpha = round(rng.uniform(0.01, 1.0), 3)
    record: dict[str, Any] = {
        "id": run_id,
        "script": script,
        "command": [script, "--alpha", str(alpha)],
        "cwd": "/home/ana/projects/churn",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "duration": duration,
        "status": "failed" if failed else "completed",
        "exit_code": 1 if failed else 0,
        "exception": None,
        "hostname": "ana-workstation",
        "pid": 10000 + index % 50000,
        "user": "ana",
        "platform": "Linux-6.1.0-x86_64",
        "python": "3.11.7",
        "python_executable": "/usr/bin/python3",
        "recipe_version": "0.1.0",
        "git": {
            "root": "/home/ana/projects/churn",
            "commit": f"{rng.getrandbits(160):040x}",
            "branch": "main",
            "remote": "git@example.org:ana/churn.git",
            "dirty": True,
            "diff": DIFF.format(name=name, alpha=alpha),
        },
        "libraries": dict(LIBRARIES),
        "params": {"x": index % 10, "alpha": alpha},
        "results": {"score": round(rng.random(), 4)},
        "label": f"alpha={alpha!r} x={index % 10}",
        "tags": ["model"] if "train" in name else (["dataset"] if "prepare" in name else []),
        "notes": [],
    }
    events = []
    paths = [("input", f"/home/ana/projects/churn/data/raw/{input_name(index, w)}")
             for w in (0, 1)]
    paths += [("output", f"/home/ana/projects/churn/results/run_{index:06d}/{out}")
              for out in ("model.npy", "scores.png")]
    for offset, (kind, path) in enumerate(paths):
        events.append({"kind": kind, "path": path, "hash": f"{rng.getrandbits(128):032x}",
                       "hash_algorithm": "xxh3_128", "size": rng.randrange(1_000, 50_000_000),
                       "function": "numpy.load" if kind == "input" else "numpy.save",
                       "time": (start + timedelta(seconds=offset)).isoformat()})
    if upstream is not None:
        events[0].update(path=upstream["path"], hash=upstream["hash"])
    return record, events


def build_store(home: Path, runs: int, *, batch: int = 200, seed: int = 1,
                progress: bool = True, chain: int | None = None) -> dict[str, Any]:
    """Fill the store at `home` with `runs` generated runs; returns timing and facts.
    With `chain`, runs come in chains of that length: each run of a chain reads the
    first output of the run before it (lineage `chain` runs deep)."""
    previous = os.environ.get("RECIPE_HOME")
    os.environ["RECIPE_HOME"] = str(home)
    try:
        from recipe import config
        from recipe.record import journal as spool
        from recipe.store import open_store

        store = open_store(config.load())
        rng = random.Random(seed)
        started = time.perf_counter()
        last_report = started
        upstream = None
        for index in range(runs):
            if chain and index % chain == 0:
                upstream = None
            record, events = make_run(index, rng, upstream if chain else None)
            upstream = next(e for e in events if e["kind"] == "output")
            journal = spool.Journal(store.home, record["id"])
            journal.write_record(record)
            journal.append_events(events)
            if (index + 1) % batch == 0 or index + 1 == runs:
                store.merge_pending(timeout=60.0)
            if progress and time.perf_counter() - last_report > 15:
                last_report = time.perf_counter()
                print(f"  ... {index + 1:,} runs built in {last_report - started:.0f} s",
                      flush=True)
        elapsed = time.perf_counter() - started
    finally:
        if previous is None:
            os.environ.pop("RECIPE_HOME", None)
        else:
            os.environ["RECIPE_HOME"] = previous
    return {"runs": runs, "seconds": elapsed}
