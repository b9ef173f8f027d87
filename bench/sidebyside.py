"""What a change to recipe's start and end costs, measured against the commit before it.

    git archive <commit> recipe | tar -x -C DIR
    python bench/sidebyside.py --before DIR [--rounds 40]

Runs three scripts (numpy saving a file, `x = 1`, and the numpy one in a git repository)
bare and recorded by the recipe in DIR ("before") and by this checkout ("after"),
interleaved, stdout and stderr through pipes. Every case gets a `PYTHONPATH` entry (an
empty directory for the bare one), so the few ms an extra path entry costs each import
are the same for all. `OPENBLAS_NUM_THREADS=1` (`--blas-threads`): numpy's BLAS threads
would otherwise add CPU time and noise, and with one thread the script's CPU time is its
wall time, which is steadier on a shared machine. `--blas-threads 0` leaves them as users
have them: right after numpy's import they spin on the other cores, so whatever recipe
starts or wakes at the script's end waits for a core. Each run is measured as item 13
measures it (`users.py`: wall time until the script exited and both pipes are closed);
printed: the medians of wall time and of the script's own CPU time (user + system, by
wait4) over the bare script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402 - after making bench/ importable
    PYTHON,
    REPO,
    bytecode_cache,
    clean_env,
    git_repository,
    load_average,
    median,
    print_table,
    temp_dir,
)
from users import CASES, bare_script, one_run, recorded_script  # noqa: E402 - measured as item 13 measures

SCRIPTS = {"numpy": CASES["numpy"], "x = 1": CASES["x = 1"],
           "numpy, in a git repository": CASES["numpy"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, type=Path, help="the recipe to compare with")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="OPENBLAS_NUM_THREADS (0: not set, as users run it)")
    args = parser.parse_args()
    print(f"load average before: {load_average()}")
    blas = {"OPENBLAS_NUM_THREADS": str(args.blas_threads)} if args.blas_threads else {}
    rows = []
    with temp_dir("sidebyside") as root, bytecode_cache(enabled=True):
        (root / "empty").mkdir()
        trees = {"bare": root / "empty", "before": args.before.resolve(), "after": REPO}
        for name, body in SCRIPTS.items():
            directory = root / name.replace(" ", "_").replace(",", "")
            directory.mkdir()
            (directory / "bare.py").write_text(bare_script(body))
            (directory / "recorded.py").write_text(recorded_script(body))
            if "git" in name:
                git_repository(directory)
            samples: dict[str, list[tuple[float, float]]] = {tree: [] for tree in trees}
            for index in range(args.rounds + 3):  # three warm-up rounds
                order = list(trees.items())
                for tree, path in order if index % 2 else reversed(order):
                    env = clean_env(PYTHONPATH=str(path), **blas,
                                    RECIPE_HOME=str(root / f"home-{tree}"), RECIPE_QUIET="1")
                    script = directory / ("bare.py" if tree == "bare" else "recorded.py")
                    measured = one_run([PYTHON, str(script)], env=env, cwd=root)
                    if index >= 3:
                        samples[tree].append((measured["wall"] * 1000,
                                              measured["script_cpu"] * 1000))
            bare_wall = median([wall for wall, _cpu in samples["bare"]])
            bare_cpu = median([cpu for _wall, cpu in samples["bare"]])
            rows.append([name, f"{bare_wall:.1f} / {bare_cpu:.1f}"] + [
                f"{median([w for w, _ in samples[tree]]) - bare_wall:+.1f} / "
                f"{median([c for _, c in samples[tree]]) - bare_cpu:+.1f}"
                for tree in ("before", "after")])
    print_table(f"side by side, {args.rounds} interleaved rounds, OPENBLAS_NUM_THREADS "
                f"{args.blas_threads or 'not set'}, medians, ms (wall / CPU)",
                ["script", "bare", "before: over bare", "after: over bare"], rows)
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
