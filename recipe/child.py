"""`python -m recipe.child SPEC`: one run started by `recipe.run`, in a fresh interpreter.

SPEC is a JSON file {script, params, outputs, stop_after_outputs, results}. Output values
are appended, pickled, to the `results` file as they are produced (so they survive a
later crash); the run ends with ("__error__", "Type: message") there if it failed.
"""

from __future__ import annotations

import json
import pickle
import sys
from typing import Any

import recipe

from .runner import run_script


class Capture:
    """Where recipe.Output sends values in a child run."""

    def __init__(self, path: str, wanted: list[str] | None, stop: bool) -> None:
        self.path = path
        self.wanted = set(wanted) if wanted is not None else None
        self.stop = stop
        self.seen: set[str] = set()

    def output(self, name: str, value: Any) -> None:
        if self.wanted is not None and name not in self.wanted:
            return
        try:
            data = pickle.dumps((name, value))
        except Exception as exc:  # never-raise guard: an unpicklable value is reported
            data = pickle.dumps((name, f"<unpicklable {type(value).__name__}: {exc}>"))
        with open(self.path, "ab") as handle:
            handle.write(data)
        self.seen.add(name)
        if self.stop and self.wanted is not None and self.wanted <= self.seen:
            raise SystemExit(0)  # every requested output is in: that counts as success

    def error(self, text: str) -> None:
        with open(self.path, "ab") as handle:
            handle.write(pickle.dumps(("__error__", text)))


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        spec = json.load(handle)
    capture = Capture(spec["results"], spec["outputs"], spec["stop_after_outputs"])
    recipe._capture = capture
    status = run_script(spec["script"], [], spec["params"], typed=True)
    if status != 0:
        from . import recorder

        run = recorder.current()
        exception = (run.record.get("exception") if run is not None else None) or {}
        capture.error(f"{exception.get('type', 'SystemExit')}: "
                      f"{exception.get('message', f'exit status {status}')}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
