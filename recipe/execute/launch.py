"""One run in a fresh interpreter (`recipe.run`, and sweeps with the process executor or
an executor of the user's): `python -m recipe.execute.child`, and the end of a run whose
process died before it could end it."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from ..record.delivery import child_environment
from .results import Outcome, Results


def launch(spec: dict[str, Any], start: Callable[[str], int] | None = None
           ) -> tuple[dict[str, Any] | None, str | None]:
    """Run `spec` (see child.py) in a process of its own: `python -m recipe.execute.child`,
    or `start(spec_path) -> exit status` (a zygote's fork); return (outputs, None) or
    (None, "Type: message"). A child that dies without ending its run (os._exit, a
    signal) gets its run ended here, as failed. A module-level function, so that any
    concurrent.futures executor can run it, on whatever machine shares RECIPE_HOME."""
    with tempfile.TemporaryDirectory(prefix="recipe-run-") as directory:
        spec = dict(spec, results=os.path.join(directory, "results.pickle"))
        spec_path = os.path.join(directory, "spec.pickle")
        with open(spec_path, "wb") as handle:
            pickle.dump(spec, handle)
        # Outputs travel through a file, never a pipe: a large one cannot block the child.
        if start is None:
            returncode = subprocess.run([sys.executable, "-m", "recipe.execute.child", spec_path],
                                        env=child_environment()).returncode
        else:
            returncode = start(spec_path)
        values: dict[str, Any] = {}
        error = None
        try:
            with open(spec["results"], "rb") as handle:
                while True:
                    try:
                        name, value = pickle.load(handle)
                    except EOFError:
                        break
                    if name == "__error__":
                        error = value
                    else:
                        values[name] = value
        except (OSError, pickle.UnpicklingError):
            pass  # no file, or a torn last value: what was read stays
    if returncode != 0 and error is None:
        error = _died(returncode)
        if spec.get("placement"):
            _end_abandoned_run(spec, returncode, error)
    return (None, error) if error else (values, None)


def _died(returncode: int) -> str:
    if returncode < 0:
        import signal

        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"ChildProcessError: the run's process was killed by {name}"
    return f"ChildProcessError: the run's process exited with status {returncode}"


def _end_abandoned_run(spec: dict[str, Any], returncode: int, error: str) -> None:
    """Record the end of a run whose process died before it could: failed, with the
    cause, keeping whatever its journal already holds."""
    from .. import config
    from ..record import fields, journal, recorder

    settings = config.load()
    placement = spec["placement"]
    run_id = placement["run_id"]
    try:
        record = journal.read_record(settings.home, run_id)
    except (OSError, ValueError):
        record = None
    if record is not None and record.get("status") != "running":
        return  # it did end: the exit status came after (an atexit hook, say)
    if record is None:  # it died before recording anything
        where = spec.get("function")
        script = spec.get("script") or where["file"] or where["module"]
        argv = [f"{script}:{where['qualname']}"] if where else [script]
        record = recorder.Run(settings, script, argv, run_id=run_id,
                              fields=placement.get("fields")).record
        record.update(git=placement.get("git"), params=dict(spec.get("params") or {}),
                      label=fields.label(spec.get("params") or {}))
    kind, _, message = error.partition(": ")
    from datetime import datetime, timezone

    try:
        started = datetime.fromisoformat(record["start"])
        duration = round((datetime.now(timezone.utc) - started).total_seconds(), 6)
    except (KeyError, TypeError, ValueError):
        duration = None
    record.update(end=fields.now(), duration=duration, status="failed",
                  exit_code=128 - returncode if returncode < 0 else returncode,
                  exception={"type": kind, "message": message, "traceback": ""})
    journal.Journal(settings.home, run_id).write_record(record)


def run_in_subprocess(script: str, params: dict[str, Any], *, outputs: list[str] | None,
                      stop_after_outputs: bool) -> Results:
    """`recipe.run`: one recorded run of `script` in a fresh interpreter."""
    from .params import discover, resolve

    found = discover(script)  # DiscoveryError is a ValueError
    resolve(found, params, typed=True)  # unknown, bad or missing: ValueError, nothing run
    declared = [output.name for output in found.outputs]
    unknown = [name for name in outputs or () if name not in declared]
    if unknown:
        raise ValueError(f"unknown output {unknown[0]!r} (the script's outputs: "
                         f"{', '.join(declared) or 'none'})")
    # The run's id is chosen here, so that a child that dies still leaves a failed run.
    values, error = launch({"script": os.path.abspath(script), "params": params,
                            "outputs": outputs, "stop_after_outputs": stop_after_outputs,
                            "placement": {"run_id": os.urandom(16).hex()}})
    results = Results()
    results.add(Outcome(dict(params), values, error))
    return results
