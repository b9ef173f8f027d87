"""Runs in a fresh interpreter (`recipe.run`, and sweeps with the process executor or an
executor of the user's), and the Results object both APIs return."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from .recorder import child_environment

EXECUTED, CACHED, FAILED = "executed", "cached", "failed"


class Outcome:
    """One run of a sweep (or of `recipe.run`): its parameters and what came of it."""

    def __init__(self, key: dict[str, Any], outputs: dict[str, Any] | None,
                 error: str | None, *, run_id: str | None = None, state: str = EXECUTED
                 ) -> None:
        self.key = key  # the parameters the caller looks it up by
        self.outputs = outputs  # None when the run failed
        self.error = error  # "Type: message" of a failed run
        self.run_id = run_id
        self.state = FAILED if error else state


class Results:
    """Outcomes keyed by the parameters given: `res[{"lr": 0.1}]["score"]`."""

    def __init__(self, sweep_id: str | None = None) -> None:
        self.sweep_id = sweep_id
        self.outcomes: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def __getitem__(self, key: dict[str, Any]) -> dict[str, Any]:
        """The outputs of the run whose parameters are `key` (extra keys are ignored).
        Values of the same type match first: 1, 1.0 and True may be three runs."""
        def matches(outcome: Outcome, same: Callable[[Any, Any], bool]) -> bool:
            return all(name in key and same(key[name], value)
                       for name, value in outcome.key.items())

        for same in (lambda a, b: type(a) is type(b) and a == b, lambda a, b: a == b):
            for outcome in self.outcomes:
                if matches(outcome, same):
                    if outcome.outputs is None:
                        raise KeyError(f"the run with {outcome.key} failed: {outcome.error}")
                    return outcome.outputs
        raise KeyError(f"no run with {key}")

    def __len__(self) -> int:
        return len(self.outcomes)

    def __iter__(self):
        return iter(self.outcomes)

    def _count(self, state: str) -> int:
        return sum(outcome.state == state for outcome in self.outcomes)

    @property
    def executed(self) -> int:
        """Runs that ran and completed."""
        return self._count(EXECUTED)

    @property
    def cached(self) -> int:
        """Runs served from the store: the same computation had completed before."""
        return self._count(CACHED)

    @property
    def failed(self) -> int:
        return self._count(FAILED)

    @property
    def errors(self) -> list[tuple[dict[str, Any], str]]:
        """(parameters, "Type: message") of every failed run."""
        return [(outcome.key, outcome.error) for outcome in self.outcomes if outcome.error]

    def rows(self, *, scalars_only: bool = False) -> list[dict[str, Any]]:
        """One dict per completed run: its parameters, then its outputs (with
        `scalars_only`, those one table cell can hold)."""
        return [{**outcome.key, **{name: scalar(value) for name, value in outcome.outputs.items()
                                   if is_scalar(value) or not scalars_only}}
                for outcome in self.outcomes if outcome.outputs is not None]

    def to_dataframe(self) -> Any:
        """One row per completed run: parameter columns, then output columns (any value,
        an array or a figure as much as a number)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def __repr__(self) -> str:
        return (f"<Results: {len(self)} run(s), {self.executed} executed, "
                f"{self.cached} cached, {self.failed} failed>")


def is_scalar(value: Any) -> bool:
    """A value one table cell can hold: a JSON scalar, or a 0-d array (numpy scalars)."""
    return (isinstance(value, (bool, int, float, str)) or value is None
            or (getattr(value, "ndim", None) == 0 and hasattr(value, "item")))


def scalar(value: Any) -> Any:
    """A 0-d array as the Python scalar it holds; anything else as it is."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 \
        else value


def launch(spec: dict[str, Any], start: Callable[[str], int] | None = None
           ) -> tuple[dict[str, Any] | None, str | None]:
    """Run `spec` (see recipe/child.py) in a process of its own: `python -m recipe.child`,
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
            returncode = subprocess.run([sys.executable, "-m", "recipe.child", spec_path],
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
    from . import config, recorder, spool

    settings = config.load()
    placement = spec["placement"]
    run_id = placement["run_id"]
    try:
        record = spool.read_record(settings.home, run_id)
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
                      label=recorder.label(spec.get("params") or {}))
    kind, _, message = error.partition(": ")
    from datetime import datetime, timezone

    try:
        started = datetime.fromisoformat(record["start"])
        duration = round((datetime.now(timezone.utc) - started).total_seconds(), 6)
    except (KeyError, TypeError, ValueError):
        duration = None
    record.update(end=recorder.now(), duration=duration, status="failed",
                  exit_code=128 - returncode if returncode < 0 else returncode,
                  exception={"type": kind, "message": message, "traceback": ""})
    spool.Journal(settings.home, run_id).write_record(record)


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
