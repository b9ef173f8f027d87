"""What loading only wrapt's FunctionWrapper saves (issue 14, first bullet).

    python bench/wrapping.py --before DIR [--pairs 20]

Runs `import recipe; import numpy as np; np.save("a.npy", np.zeros(3))` with stdout and
stderr captured through pipes, interleaved: bare (RECIPE_DISABLE=1), recorded by the recipe
in DIR (a checkout of the commit before: `git archive <commit> | tar -x -C DIR`), and
recorded by this tree. Prints medians and min/max of the wall time, and the
`python -X importtime` cumulative time of how each loads wrapt.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402 - after making bench/ importable
    PYTHON,
    REPO,
    bytecode_cache,
    clean_env,
    load_average,
    median,
    temp_dir,
    timed,
)

SCRIPT = 'import recipe\nimport numpy as np\nnp.save("a.npy", np.zeros(3))\n'
# What loads wrapt: the package before, recipe.capture.wrapping (the extension) after.
IMPORTTIME = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s+(wrapt|recipe\.capture\.wrapping)$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, type=Path, help="the recipe to compare with")
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args()
    trees = {"bare": REPO, "before": args.before.resolve(), "after": REPO}
    times: dict[str, list[float]] = {name: [] for name in trees}
    loading: dict[str, list[float]] = {"before": [], "after": []}
    print(f"load average before: {load_average()}")
    with temp_dir("wrapping") as root, bytecode_cache(enabled=True):
        script = root / "tiny.py"
        script.write_text(SCRIPT)
        for index in range(args.pairs + 2):  # the first two warm the page cache
            for name, tree in trees.items():
                env = clean_env(PYTHONPATH=str(tree), RECIPE_HOME=str(root / f"home-{name}"),
                                RECIPE_QUIET="1")
                if name == "bare":
                    env["RECIPE_DISABLE"] = "1"
                elapsed, _result = timed([PYTHON, str(script)], env=env, cwd=root)
                if index >= 2:
                    times[name].append(elapsed * 1000)
                if name in loading and index >= 2:
                    stderr = subprocess.run([PYTHON, "-X", "importtime", str(script)],
                                            env=env, cwd=root, capture_output=True,
                                            text=True).stderr
                    loading[name] += [int(match[1]) / 1000 for match in
                                      map(IMPORTTIME.match, stderr.splitlines()) if match]
    print(f"load average after: {load_average()}")
    print(f"{'':8} {'median ms':>10} {'min':>7} {'max':>7}   wrapt loading ms (median)")
    for name, values in times.items():
        load = f"{median(loading[name]):.2f}" if loading.get(name) else ""
        print(f"{name:8} {median(values):10.1f} {min(values):7.1f} {max(values):7.1f}   {load}")
    for name in ("before", "after"):
        print(f"{name} - bare: {median(times[name]) - median(times['bare']):+.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
