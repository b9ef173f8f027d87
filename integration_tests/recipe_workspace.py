"""The workspace of an end-to-end test: real scripts in subprocesses, a temporary store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


class Workspace:
    """A temporary directory with its own RECIPE_HOME; runs scripts and reads the store back
    through the real `recipe` command line."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "recipe-home"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RECIPE_")}
        self.env.update(RECIPE_HOME=str(self.home), PYTHONDONTWRITEBYTECODE="1",
                        MPLBACKEND="Agg")

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def python(self, script: str | Path, *args: str, check: bool = True,
               env: dict[str, str] | None = None, timeout: float = 120,
               ) -> subprocess.CompletedProcess:
        """Run `python script args` in the workspace."""
        result = subprocess.run([sys.executable, str(script), *args], cwd=self.root,
                                env={**self.env, **(env or {})}, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"script failed ({result.returncode}):\n{result.stderr}")
        return result

    def recipe(self, *args: str, check: bool = True, env: dict[str, str] | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess:
        """Run the `recipe` command line (as `python -m recipe`) in the workspace."""
        result = subprocess.run([sys.executable, "-m", "recipe", *args], cwd=self.root,
                                env={**self.env, **(env or {})}, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"recipe {' '.join(args)} failed ({result.returncode}):\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def runs(self) -> list[dict]:
        """Every stored run, newest first, as `recipe export` gives them; none when no
        store was ever made (reading a missing store is an error, exit 2)."""
        if not self.home.exists():
            return []
        return json.loads(self.recipe("export").stdout)

    def only_run(self) -> dict:
        runs = self.runs()
        assert len(runs) == 1, f"expected one run, found {len(runs)}"
        return runs[0]
