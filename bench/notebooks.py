"""Benchmark item 9, notebooks: what recording costs per cell in a live kernel, and
`recipe run NB.ipynb` against `jupyter nbconvert --execute` on the same notebook.

Per cell: in a fresh ipykernel each round (driven through jupyter_client), one cell runs
`get_ipython().run_cell("x = 1")` N times and times the loop inside the kernel, without
recipe and with `%load_ext recipe`; the difference per cell is recipe's (its pre/post
cell callbacks and the journal writes they wake). Headless: both commands execute the
same notebook of numpy cells in a kernel of their own and write the executed copy.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import nbformat
from common import (
    PYTHON,
    REPO,
    clean_env,
    median,
    ms,
    print_table,
    recipe_command,
    spread,
    temp_dir,
    timed,
    verdict,
)

CELL_TARGET_MS = 2.0
HEADLESS_TARGET_RATIO = 1.3

TIMING_CELL = """\
import time
_shell = get_ipython()
_start = time.perf_counter()
for _ in range({cells}):
    _shell.run_cell("x = 1", store_history=True)
print((time.perf_counter() - _start) / {cells})
"""

HEADLESS_CELLS = [
    "import numpy as np",
    "size = 200_000\nseed = 1",
    "rng = np.random.default_rng(seed)\ndata = rng.normal(size=size)",
    "np.save('data.npy', data)",
    "loaded = np.load('data.npy')\nsummary = np.percentile(loaded, [5, 50, 95])",
    "np.savetxt('summary.txt', summary)",
    "print(summary)",
    "squares = (loaded ** 2).cumsum()\nnp.save('squares.npy', squares)",
]


def _environment(root: Path) -> dict[str, str]:
    return clean_env(RECIPE_HOME=str(root / "recipe-home"), PYTHONPATH=str(REPO),
                     JUPYTER_RUNTIME_DIR=str(root / "jupyter-runtime"),
                     IPYTHONDIR=str(root / "ipython"), JUPYTER_PLATFORM_DIRS="1",
                     RECIPE_QUIET="1")


def _per_cell_seconds(root: Path, cells: int, recorded: bool) -> float:
    """Seconds per trivial cell, timed inside a fresh kernel."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3", cwd=str(root),
                                       env=_environment(root))
    try:
        printed: list[str] = []

        def keep(message: dict[str, Any]) -> None:
            printed.append(message["content"].get("text", ""))

        if recorded:
            client.execute_interactive("%load_ext recipe", timeout=60, output_hook=keep)
        client.execute_interactive(TIMING_CELL.format(cells=50), timeout=120,
                                   output_hook=keep)  # warm up
        client.execute_interactive(TIMING_CELL.format(cells=cells), timeout=600,
                                   output_hook=keep)
        # The last line: IPython may say first that nested cells renumbered its history.
        return float("".join(printed).strip().splitlines()[-1])
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)


def _headless_notebook(root: Path) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in HEADLESS_CELLS]
    notebook.cells[1].metadata["tags"] = ["parameters"]
    path = root / "analysis.ipynb"
    nbformat.write(notebook, str(path))
    return path


def notebook(args: argparse.Namespace) -> dict[str, Any]:
    with temp_dir("notebook") as root:
        per_cell: dict[str, list[float]] = {"bare": [], "recipe": []}
        for _ in range(args.rounds):  # the two kinds alternated: drift hits both alike
            for kind in per_cell:
                per_cell[kind].append(_per_cell_seconds(root, args.cells, kind == "recipe"))
        overhead_ms = (median(per_cell["recipe"]) - median(per_cell["bare"])) * 1000

        path = _headless_notebook(root)
        env = _environment(root)
        commands = {
            "jupyter nbconvert --execute": [PYTHON, "-m", "jupyter", "nbconvert", "--to",
                                            "notebook", "--execute", str(path), "--output",
                                            str(root / "nbconvert.ipynb")],
            "recipe run": [*recipe_command(), "run", str(path)],
        }
        walls: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.reps):
            for name, command in commands.items():
                seconds, result = timed(command, env=env, cwd=root)
                if result.returncode != 0:
                    raise RuntimeError(f"{name} exited {result.returncode}:\n{result.stderr}")
                walls[name].append(seconds)
        recorded = json.loads(timed([*recipe_command(), "export"], env=env)[1].stdout)
    ratio = median(walls["recipe run"]) / median(walls["jupyter nbconvert --execute"])
    print_table(f"9a. per cell in a live kernel, ms, median of {args.rounds} kernels x "
                f"{args.cells} cells", ("case", "ms/cell", "p25-p75", "target", "verdict"),
                [("bare kernel", f"{median(per_cell['bare']) * 1000:.3f}",
                  "-".join(f"{v * 1000:.3f}" for v in spread(per_cell["bare"])), "", ""),
                 ("%load_ext recipe", f"{median(per_cell['recipe']) * 1000:.3f}",
                  "-".join(f"{v * 1000:.3f}" for v in spread(per_cell["recipe"])), "", ""),
                 ("recipe's cost", f"{overhead_ms:.3f}", "", f"<= {CELL_TARGET_MS:g}",
                  verdict(overhead_ms <= CELL_TARGET_MS))])
    print_table(f"9b. a notebook of {len(HEADLESS_CELLS)} numpy cells executed headless, "
                f"wall ms, median of {args.reps}", ("command", "ms", "p25-p75", "ratio",
                                                    "target", "verdict"),
                [(name, ms(median(values)), "-".join(ms(v) for v in spread(values)),
                  f"{median(values) / median(walls['jupyter nbconvert --execute']):.2f}",
                  *((f"<= {HEADLESS_TARGET_RATIO:g}", verdict(ratio <= HEADLESS_TARGET_RATIO))
                    if name == "recipe run" else ("", "")))
                 for name, values in walls.items()])
    runs = [run for run in recorded if run.get("script") == str(path)]
    print(f"recorded: {len(runs)} run(s) of {path.name}, "
          f"{len(runs[0]['outputs']) if runs else 0} output(s) in the newest")
    return {"rounds": args.rounds, "cells": args.cells, "reps": args.reps,
            "per_cell_s": per_cell, "cell_overhead_ms": overhead_ms, "headless_s": walls,
            "headless_ratio": ratio}

