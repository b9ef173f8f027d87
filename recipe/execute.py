"""`recipe.run`: a script run in a fresh interpreter, and the Results object it returns."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
from typing import Any

from .params import discover, resolve
from .recorder import child_environment


class Results:
    """Outcomes keyed by the parameters given: `res[{"lr": 0.1}]["score"]`."""

    def __init__(self) -> None:
        self.outcomes: list[tuple[dict[str, Any], dict[str, Any] | None, str | None]] = []

    def add(self, key: dict[str, Any], outputs: dict[str, Any] | None,
            error: str | None) -> None:
        self.outcomes.append((key, outputs, error))

    def __getitem__(self, key: dict[str, Any]) -> dict[str, Any]:
        """The outputs of the run whose parameters are `key` (extra keys are ignored)."""
        for params, outputs, error in self.outcomes:
            if all(name in key and key[name] == value for name, value in params.items()):
                if outputs is None:
                    raise KeyError(f"the run with {params} failed: {error}")
                return outputs
        raise KeyError(f"no run with {key}")

    def __len__(self) -> int:
        return len(self.outcomes)

    @property
    def errors(self) -> list[tuple[dict[str, Any], str]]:
        return [(params, error) for params, _outputs, error in self.outcomes if error]

    def to_dataframe(self) -> Any:
        """One row per completed run: parameter columns, then output columns."""
        import pandas as pd

        rows = [{**params, **outputs} for params, outputs, error in self.outcomes
                if outputs is not None and not error]
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return f"<Results: {len(self)} run(s), {len(self.errors)} failed>"


def run_in_subprocess(script: str, params: dict[str, Any], *, outputs: list[str] | None,
                      stop_after_outputs: bool) -> Results:
    found = discover(script)  # DiscoveryError is a ValueError
    resolve(found, params, typed=True)  # unknown, bad or missing: ValueError, nothing run
    declared = [output.name for output in found.outputs]
    unknown = [name for name in outputs or () if name not in declared]
    if unknown:
        raise ValueError(f"unknown output {unknown[0]!r} (the script's outputs: "
                         f"{', '.join(declared) or 'none'})")
    results = Results()
    with tempfile.TemporaryDirectory(prefix="recipe-run-") as directory:
        spec = os.path.join(directory, "spec.json")
        captured = os.path.join(directory, "results.pickle")
        with open(spec, "w", encoding="utf-8") as handle:
            json.dump({"script": os.path.abspath(script), "params": params,
                       "outputs": outputs, "stop_after_outputs": stop_after_outputs,
                       "results": captured}, handle)
        process = subprocess.run([sys.executable, "-m", "recipe.child", spec],
                                 env=child_environment())
        values: dict[str, Any] = {}
        error = None
        try:
            with open(captured, "rb") as handle:
                while True:
                    try:
                        name, value = pickle.load(handle)
                    except EOFError:
                        break
                    if name == "__error__":
                        error = value
                    else:
                        values[name] = value
        except FileNotFoundError:
            pass
        if process.returncode != 0 and error is None:
            error = f"ChildProcessError: exit status {process.returncode}"
    results.add(dict(params), None if error else values, error)
    return results
