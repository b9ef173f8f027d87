"""The one-minute tour: a real analysis script recorded, then found again with the CLI.

Runs in a temporary directory with its own store, so your ~/.recipe stays untouched.
"""

from __future__ import annotations

import os
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


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="recipe-demo-") as directory:
        root = Path(directory)
        env = dict(os.environ, RECIPE_HOME=str(root / "store"))
        (root / "data.csv").write_text(
            "year,temperature\n" + "".join(f"{y},{14 + (y - 2000) * 0.02:.2f}\n"
                                           for y in range(2000, 2025)))
        (root / "analysis.py").write_text(textwrap.dedent(ANALYSIS))

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
