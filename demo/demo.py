"""The one-minute tour: a real analysis recorded, found again, traced, swept and checked
with the CLI.

Runs in a temporary directory with its own store, so your ~/.recipe stays untouched; the
directory is removed at the end unless `--keep` is given (then `recipe gui` can browse it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ANALYSIS = """\
    import recipe
    import numpy as np, pandas as pd
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = pd.read_csv("data.csv")
    plt.plot(data.year, data.temperature)
    plt.savefig("graph.png")
    np.save("t.npy", data.temperature.to_numpy())
    """


TREND = """\
    import recipe
    import numpy as np

    degree = 1
    t = np.load("t.npy")
    coefficients = np.polyfit(np.arange(len(t)), t, degree)
    np.savetxt("trend.txt", coefficients)
    recipe.Output(float(coefficients[-2]), name="slope")
    """


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true",
                        help="keep the demo directory and its store, to browse with recipe gui")
    keep = parser.parse_args().keep
    root = Path(tempfile.mkdtemp(prefix="recipe-demo-"))
    try:
        env = dict(os.environ, RECIPE_HOME=str(root / "store"))
        (root / "data.csv").write_text(
            "year,temperature\n" + "".join(f"{y},{14 + (y - 2000) * 0.02:.2f}\n"
                                           for y in range(2000, 2025)))
        (root / "analysis.py").write_text(textwrap.dedent(ANALYSIS))
        (root / "trend.py").write_text(textwrap.dedent(TREND))

        def step(title: str, *command: str) -> None:
            print(f"\n$ {' '.join(command)}    # {title}", flush=True)
            subprocess.run(command, cwd=root, env=env, check=False)

        script = textwrap.indent(textwrap.dedent(ANALYSIS), "    ")
        print(f"Demo directory: {root}\n\nanalysis.py:\n{script}")
        step("run the script: recipe records it", sys.executable, "analysis.py")
        step("which run made graph.png?", "recipe", "search", "graph.png")
        step("the whole record of the newest run", "recipe", "latest")
        step("everything, as JSON", "recipe", "export", "-o", "runs.json")
        lines = (root / "runs.json").read_text().splitlines()
        print("\n".join(lines[:12] + [f"  ... ({len(lines) - 12} more lines in runs.json)"]))

        trend = textwrap.indent(textwrap.dedent(TREND), "    ")
        print(f"\ntrend.py reads what analysis.py wrote:\n{trend}")
        step("a second script, recorded too", sys.executable, "trend.py")
        step("where did trend.txt come from?", "recipe", "lineage", "trend.txt")
        step("try other degrees, two at a time", "recipe", "sweep", "trend.py",
             "-p", "degree=1,2,3", "-j", "2")
        step("again: nothing is computed twice", "recipe", "sweep", "trend.py",
             "-p", "degree=1,2,3")
        with open(root / "data.csv", "a") as data:
            data.write("2025,14.60\n")
        step("data.csv changed: what is out of date?", "recipe", "status")
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    if keep:
        print(f"\nThe demo directory is kept. Browse its runs in a web browser with\n"
              f"  RECIPE_HOME={root / 'store'} recipe gui\nand remove it with\n"
              f"  rm -r {root}")
    else:
        print("\nThe demo directory is removed. `python demo/demo.py --keep` keeps it, to "
              "browse its runs in a web browser with `recipe gui`.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
