"""Item 9, child processes: what following them costs an interpreter.

Outside a recorded run the cost must be nothing at all: `python -c pass` in a virtual
environment with recipe installed against the same environment without it. Inside a run, a
Python child pays for recipe's bootstrap (import recipe, start a run of its own, hand it
to the store): shown for understanding, with the moment its stderr closes (a parent
capturing the child's output waits for that) and the moment its run is stored.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from common import (
    PYTHON,
    REPO,
    clean_env,
    median,
    ms,
    print_table,
    spread,
    temp_dir,
    timed,
    timed_recorded,
    verdict,
)

PASS = ["-c", "pass"]
# "Nothing measurable": medians of interleaved samples within this of each other.
NOTHING_MS = 1.0
PARENT_ID = "c0ffee" * 5 + "00"


def make_venv(directory: Path, *, with_recipe: bool) -> Path:
    """A virtual environment of this interpreter (no pip, no system site-packages),
    holding recipe's package as `pip install` would put it there, or nothing."""
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(directory)], check=True)
    python = directory / "bin" / "python"
    if with_recipe:
        site_packages = subprocess.run([str(python), "-c", "import site; "
                                        "print(site.getsitepackages()[0])"], check=True,
                                       capture_output=True, text=True).stdout.strip()
        shutil.copytree(REPO / "recipe", Path(site_packages) / "recipe",
                        ignore=shutil.ignore_patterns("__pycache__"))
    return python


def inside_a_run(root: Path) -> tuple[dict[str, str], Path]:
    """The environment a recorded run gives its children, and that run's store. (The
    parent's journal is left out: it would keep the spool from ever being empty, which
    is how a child's run is seen stored; naming itself there costs the child one append.)"""
    from recipe.capture.children import _variables

    home = root / "home"
    env = clean_env(RECIPE_HOME=str(home), RECIPE_QUIET="1",
                    PYTHONPATH=os.pathsep.join(filter(None, [str(REPO),
                                                             os.environ.get("PYTHONPATH")])))
    env.update(_variables(env, PARENT_ID, str(home)))
    return env, home


def children(args: Any) -> dict[str, Any]:
    with temp_dir("children") as root:
        cases = {
            "venv without recipe": [str(make_venv(root / "bare", with_recipe=False)), *PASS],
            "venv with recipe": [str(make_venv(root / "installed", with_recipe=True)), *PASS],
            "this python, outside a run": [PYTHON, *PASS],
        }
        inside_env, home = inside_a_run(root)
        samples: dict[str, list[float]] = {name: [] for name in cases}
        child: dict[str, list[float]] = {"exit": [], "eof": [], "stored": []}
        order = list(cases)
        for round_number in range(args.reps + 2):  # two warm-up rounds
            order = order[1:] + order[:1]  # rotated: the machine's drift hits all alike
            for name in order:
                elapsed, _ = timed(cases[name], env=clean_env())
                if round_number >= 2:
                    samples[name].append(elapsed)
            result = timed_recorded([PYTHON, *PASS], env=inside_env, cwd=root, home=home)
            if round_number >= 2:
                for moment in child:
                    child[moment].append(result[moment])

    rows = [(name, ms(median(values)), "{} - {}".format(*map(ms, spread(values))))
            for name, values in samples.items()]
    rows += [(f"a Python child inside a run: {moment}", ms(median(values)),
              "{} - {}".format(*map(ms, spread(values)))) for moment, values in child.items()]
    print_table("python -c pass", ("case", "median", "25-75%"), rows)
    outside_ms = (median(samples["venv with recipe"])
                  - median(samples["venv without recipe"])) * 1000
    inside_ms = (median(child["exit"]) - median(samples["this python, outside a run"])) * 1000
    ok = abs(outside_ms) <= NOTHING_MS
    print(f"outside a run, recipe installed vs not: {outside_ms:+.2f} ms "
          f"(target: nothing, within {NOTHING_MS} ms) {verdict(ok)}")
    print(f"inside a run, a Python child's start-up and end: {inside_ms:+.1f} ms to its exit "
          "(info)")
    return {"samples_s": samples, "child_s": child, "outside_ms": outside_ms,
            "inside_ms": inside_ms, "target_ms": NOTHING_MS, "ok": ok}
