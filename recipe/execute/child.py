"""`python -m recipe.execute.child SPEC`: one run started by `recipe.run` or a sweep, in a fresh
interpreter.

SPEC is a pickle of {script | function, params, outputs, stop_after_outputs, results,
placement?, sys_path?} (see launch.launch). Output values are appended, pickled, to the
`results` file as they are produced (so they survive a later crash); the run ends with
("__error__", "Type: message") there if it failed.
"""

from __future__ import annotations

import pickle
import sys
from typing import Any

import recipe


class Capture:
    """Where recipe.Output (and a function's return value) sends values in a run started
    by `recipe.run` or a sweep: to `keep(name, value)`, only the `wanted` ones if given."""

    def __init__(self, keep: Any, wanted: list[str] | None, stop: bool) -> None:
        self.keep = keep
        self.wanted = set(wanted) if wanted is not None else None
        self.stop = stop
        self.seen: set[str] = set()

    def output(self, name: str, value: Any) -> None:
        if self.wanted is not None and name not in self.wanted:
            return
        self.keep(name, value)
        self.seen.add(name)
        if self.stop and self.wanted is not None and self.wanted <= self.seen:
            raise SystemExit(0)  # every requested output is in: that counts as success


def _appender(path: str) -> Any:
    def keep(name: str, value: Any) -> None:
        try:
            data = pickle.dumps((name, value))
        except Exception as exc:  # never-raise guard: an unpicklable value is reported
            data = pickle.dumps((name, f"<unpicklable {type(value).__name__}: {exc}>"))
        with open(path, "ab") as handle:
            handle.write(data)

    return keep


def _run_function(spec: dict[str, Any], capture: Capture) -> int:
    from ..record import recorder
    from . import targets

    own_modules = {name.partition(".")[0] for name in sys.modules}
    function = targets.load_function(spec["function"])
    where = spec["function"]
    script = where.get("file") or sys.modules[where["module"]].__file__
    placement = dict(spec.get("placement") or {})
    placement["fields"] = {**placement.get("fields", {}), "params": dict(spec["params"])}
    run = recorder.start(script, [f"{script}:{where['qualname']}"], own_modules=own_modules,
                         **placement)
    status, exit_code, _error = call_function(run, function, spec["params"],
                                              spec.get("passed", {}), capture)
    if run is not None:
        run.finish(status, exit_code)
    return exit_code


def call_function(run: Any, function: Any, params: dict[str, Any], passed: dict[str, Any],
                  capture: Capture) -> tuple[str, int, str | None]:
    """Call a function target as the body of `run`: what it returns becomes the run's
    outputs. Returns (status, exit code, "Type: message" if it failed)."""
    from .runner import guarded

    status, exit_code, returned, error = guarded(run, function, **params, **passed)
    if status == "completed":
        status, exit_code, _, error = guarded(run, _keep_outputs, run, capture, returned)
    return status, exit_code, error


def _keep_outputs(run: Any, capture: Capture, returned: Any) -> None:
    from .targets import outputs_of

    for name, value in outputs_of(returned).items():
        if run is not None:
            run.set_result(name, value)
        capture.output(name, value)


def main(argv: list[str]) -> int:
    with open(argv[0], "rb") as handle:
        spec = pickle.load(handle)
    sys.path[len(sys.path):] = [p for p in spec.get("sys_path", ()) if p not in sys.path]
    keep = _appender(spec["results"])
    capture = Capture(keep, spec.get("outputs"), spec.get("stop_after_outputs", False))
    recipe._capture.set(capture)
    if spec.get("function"):
        status = _run_function(spec, capture)
    elif spec["script"].endswith(".ipynb"):
        from .notebook import run_notebook

        finished = run_notebook(spec["script"], spec["params"], typed=True,
                                placement=spec.get("placement"))
        for name, value in finished.results.items():  # what it recorded in its kernel
            capture.output(name, value)
        if finished.error:
            keep("__error__", finished.error)
        return finished.exit_code
    else:
        from .runner import run_script

        status = run_script(spec["script"], [], spec["params"], typed=True,
                            placement=spec.get("placement"))
    if status != 0:
        from ..record import recorder

        run = recorder.current()
        exception = (run.record.get("exception") if run is not None else None) or {}
        keep("__error__", f"{exception.get('type', 'SystemExit')}: "
                          f"{exception.get('message', f'exit status {status}')}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
