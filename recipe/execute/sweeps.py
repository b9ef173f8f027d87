"""`recipe.sweep` and `recipe sweep`: many recorded runs over parameter values.

The identity of a computation is the hash of the code (the script's content, or the
function's source) and of every resolved parameter: a sweep runs only the points that have
no completed run with that identity yet and serves the others from the store. Each run is
an ordinary run in the store, with the sweep's id; the sweep itself is a small document
(`Store.save_sweep`) listing its runs in order, cached ones included.

Executors: "process" (the default) starts a fresh interpreter per run, `jobs` at a time;
"thread" and "inline" run in this process, each run recorded in a context of its own so
that files are attributed to the run that touched them; any concurrent.futures.Executor
runs `execute.launch` (a fresh interpreter per run, started by the executor's worker).
"""

from __future__ import annotations

import builtins
import concurrent.futures
import contextvars
import functools
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from .. import config, messages
from ..record import fields, recorder
from . import targets
from .launch import launch
from .results import CACHED, EXECUTED, FAILED, Outcome, Results

MODES = ("independent", "grid")
EXECUTORS = ("process", "thread", "inline")
MERGE_EVERY = 5.0  # seconds: finished runs are brought into the store this often


class Task:
    """One point of the sweep that has to run."""

    def __init__(self, index: int, key: dict[str, Any], given: dict[str, Any],
                 computation: str) -> None:
        self.index = index  # its place in the sweep's table
        self.key = key  # the swept parameters' values
        self.given = given  # key plus the nominal values of the other parameters
        self.computation = computation
        self.run_id = os.urandom(16).hex()


def points(target: targets.Target, params: dict[str, Any], mode: str,
           nominal: dict[str, Any]) -> list[dict[str, Any]]:
    """The swept parameters' values at each point, in order: the nominal point first.

    Each swept parameter takes its nominal value (from `nominal`, else its default) once,
    then its given values. "independent" moves one parameter at a time away from the
    nominal point; "grid" takes every combination."""
    known = target.parameters
    for name in params:
        if name.startswith("_"):
            raise ValueError(f"{name!r} starts with '_': it is passed through, not a "
                             "parameter, and cannot be swept (give it in nominal)")
        if name not in known:
            raise ValueError(f"unknown parameter {name!r} (the parameters of "
                             f"{target.argv[0]}: {', '.join(known) or 'none'})")
    axes = {}
    for name, given in params.items():
        values = list(given) if isinstance(given, (list, tuple, range)) else [given]
        if name in nominal:
            centre = nominal[name]
        elif known[name].required:
            raise ValueError(f"parameter {name!r} has no default: give its nominal value "
                             f"(nominal={{{name!r}: ...}} or -p {name}=... with one value "
                             "in --nominal)")
        else:
            centre = known[name].default
        axes[name] = _unique([centre, *values])
    if mode == "grid":
        return [dict(zip(axes, combination, strict=True))
                for combination in itertools.product(*axes.values())]
    centre = {name: values[0] for name, values in axes.items()}
    found = [centre]
    for name, values in axes.items():
        found.extend({**centre, name: value} for value in values[1:])
    return found


def _unique(values: list[Any]) -> list[Any]:
    """Without repeats; 1, 1.0 and True stay apart, as they are different computations."""
    seen: set[tuple[type, Any]] = set()
    kept = []
    for value in values:
        if (type(value), value) not in seen:
            seen.add((type(value), value))
            kept.append(value)
    return kept


def sweep(target: Any, params: dict[str, Any], *, mode: str = "independent",
          nominal: dict[str, Any] | None = None, jobs: int = 1,
          executor: str | concurrent.futures.Executor = "process", rerun: bool = False,
          outputs: list[str] | None = None, stop_after_outputs: bool = False,
          progress: Callable[[Outcome, int, int], None] | None = None,
          own_modules: frozenset[str] = frozenset()) -> Results:
    """See `recipe.sweep`. `progress(outcome, done, total)` is called as each run ends;
    `own_modules`: modules of the caller (recipe's CLI) that in-process runs did not use."""
    if targets.importing_target.__dict__.get("active"):
        raise RuntimeError("recipe.sweep() was called while its target's file was being "
                           "imported: put the call under `if __name__ == '__main__':`")
    _check_choices(mode, jobs, executor)
    chosen = targets.of(target)
    nominal = dict(nominal or {})
    passed = {name: nominal.pop(name) for name in list(nominal) if name.startswith("_")}
    _check_target(chosen, executor, passed, outputs)
    keys, givens, computations = _plan(chosen, params, mode, nominal, outputs,
                                       stop_after_outputs)

    from ..store import open_store

    settings = config.load()
    store = open_store(settings)
    results = Results(os.urandom(8).hex())
    cached = {} if rerun else store.completed(set(computations), chosen.path)
    slots: list[Outcome | None] = [None] * len(keys)
    tasks: list[Task] = []
    for index, (key, given, computation) in enumerate(zip(keys, givens, computations,
                                                          strict=True)):
        if computation in cached:
            row = cached[computation]
            # What the store holds: values JSON could not hold are only text summaries.
            stored = {name: value for name, value in (row.get("results") or {}).items()
                      if not fields.is_summary(value)}
            slots[index] = Outcome(key, stored, None, run_id=row["id"], state=CACHED)
        else:
            tasks.append(Task(index, key, given, computation))
    document = {"id": results.sweep_id, "target": chosen.argv[0], "mode": mode,
                "params": {name: list(values) if isinstance(values, (list, tuple, range))
                           else [values] for name, values in params.items()},
                "nominal": nominal, "executor": executor if isinstance(executor, str)
                else type(executor).__name__, "jobs": jobs, "start": fields.now(),
                "end": None, "status": "running", "runs": []}

    shared = {"git": _git_information(settings, chosen.path), "store_at_end": False}
    if tasks:
        _cache_distributions(settings)

    def specification(task: Task) -> dict[str, Any]:
        fields = {"sweep": results.sweep_id}
        if chosen.is_function:
            fields["computation"] = task.computation
        spec: dict[str, Any] = {
            "params": task.given, "outputs": outputs, "stop_after_outputs": stop_after_outputs,
            "placement": {**shared, "run_id": task.run_id, "fields": fields}}
        if chosen.is_function:
            spec["function"] = chosen.where()
            spec["passed"] = passed
            # The caller's import path, where a fresh interpreter finds the module again.
            spec["sys_path"] = [p for p in sys.path if p and os.path.isdir(p)] \
                if chosen.module else []
        else:
            spec["script"] = chosen.path
        return spec

    finished = 0

    def record(index: int, outcome: Outcome) -> None:
        nonlocal finished
        slots[index] = outcome
        finished += 1
        if progress is not None:
            progress(outcome, finished, len(keys))

    for index, outcome in enumerate(slots):
        if outcome is not None:
            record(index, outcome)
    _save(store, document, slots)
    merger = _Merger(store)
    status = "completed"
    try:
        run_here = functools.partial(_run_here, chosen, settings=settings,
                                     own_modules=own_modules)
        for task, answer in _execute(tasks, specification, executor, jobs, run_here):
            record(task.index, Outcome(task.key, *answer, run_id=task.run_id))
            merger.maybe()
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        merger.now()
        for outcome in slots:
            if outcome is not None:
                results.add(outcome)
        if status != "interrupted" and results.failed:
            status = "failed"
        document.update(end=fields.now(), status=status)
        _save(store, document, slots)
    return results


def _check_choices(mode: str, jobs: int, executor: Any) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, not {jobs!r}")
    if not isinstance(executor, concurrent.futures.Executor) and executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)} or a "
                         f"concurrent.futures.Executor, not {executor!r}")


def _check_target(chosen: targets.Target, executor: Any, passed: dict[str, Any],
                  outputs: list[str] | None) -> None:
    if passed and not chosen.is_function:
        raise ValueError(f"{next(iter(passed))!r}: only a function target takes values "
                         "that are not parameters (names starting with '_')")
    if executor not in ("thread", "inline"):
        chosen.check_portable()
    if executor == "thread" and chosen.reads_argv():
        raise ValueError(f"{chosen.path} reads its parameters from sys.argv (argparse), "
                         "which threads share: use the process or inline executor")
    declared = [output.name for output in chosen.discovered.outputs]
    unknown = [name for name in outputs or () if name not in declared]
    if unknown and not chosen.is_function:
        raise ValueError(f"unknown output {unknown[0]!r} (the script's outputs: "
                         f"{', '.join(declared) or 'none'})")


def _plan(chosen: targets.Target, params: dict[str, Any], mode: str, nominal: dict[str, Any],
          outputs: list[str] | None, stop_after_outputs: bool
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Every point before anything runs: its key (the swept values), what its run is
    given, and its computation identity. ValueError for any bad parameter."""
    keys = points(chosen, params, mode, nominal)
    for parameter in chosen.discovered.parameters:
        if (parameter.required and parameter.source != "argparse"
                and parameter.name not in params and parameter.name not in nominal):
            raise ValueError(f"parameter {parameter.name!r} is required: sweep it, or give "
                             f"its value in nominal={{{parameter.name!r}: ...}}")
    givens = [{**nominal, **key} for key in keys]
    resolved = [chosen.resolve(given) for given in givens]  # unknown or bad: ValueError
    computations = [chosen.computation(
        # a run cut short after some outputs is another computation
        {**values, "<stop after>": sorted(outputs)} if stop_after_outputs and outputs
        else values) for values in resolved]
    # A function is called with every parameter, so its run records them all; a script
    # resolves the values it is given itself (and records them all).
    return keys, resolved if chosen.is_function else givens, computations


def _execute(tasks: list[Task], specification: Callable[[Task], dict[str, Any]],
             executor: Any, jobs: int, run_here: Callable[..., Any]
             ) -> Iterator[tuple[Task, tuple[dict[str, Any] | None, str | None]]]:
    """Run the tasks with the executor chosen; yield (task, (outputs, error)) as each run
    ends. `run_here(spec, inline=...)`: one run in this process (thread, inline)."""
    if executor == "inline":
        for task in tasks:
            yield task, contextvars.copy_context().run(run_here, specification(task),
                                                       inline=True)
        return
    zygote = pool = None
    if isinstance(executor, concurrent.futures.Executor):
        def submit(task: Task) -> concurrent.futures.Future:
            return executor.submit(launch, specification(task))
    elif executor == "thread":
        pool = concurrent.futures.ThreadPoolExecutor(jobs, "recipe-sweep")

        def submit(task: Task) -> concurrent.futures.Future:
            return pool.submit(contextvars.copy_context().run, run_here,
                               specification(task), inline=False)
    else:
        from .zygote import Zygote

        pool = concurrent.futures.ThreadPoolExecutor(jobs, "recipe-sweep")
        zygote = Zygote()

        def submit(task: Task) -> concurrent.futures.Future:
            return pool.submit(launch, specification(task), zygote.run)
    try:
        futures = {submit(task): task for task in tasks}
        for future in concurrent.futures.as_completed(futures):
            try:
                answer = future.result()
            except Exception as exc:  # the executor itself failed (a lost worker)
                answer = (None, f"{type(exc).__name__}: {exc}")
            yield futures[future], answer
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if zygote is not None:
            zygote.close()


def _save(store: Any, document: dict[str, Any], slots: list[Outcome | None]) -> None:
    document["runs"] = [{"id": o.run_id, "key": o.key, "state": o.state, "error": o.error}
                        for o in slots if o is not None]
    document["counts"] = {state: sum(o.state == state for o in slots if o is not None)
                          for state in (EXECUTED, CACHED, FAILED)}
    from ..store import StoreError

    try:
        store.save_sweep(document)
    except (StoreError, OSError) as exc:  # a server gone away: the runs wait in the spool
        messages.warn(f"could not save sweep {document['id'][:8]} ({exc})")


def _git_information(settings: config.Config, path: str) -> dict[str, Any] | None:
    """Read once for every run of the sweep: they all run the same code."""
    if not settings.git_enabled:
        return None
    from ..record.environment import git_info

    try:
        return git_info(os.path.dirname(path) if os.path.isabs(path) else os.getcwd(),
                        diff=settings.git_diff, max_bytes=settings.git_diff_max_bytes,
                        exclude=(settings.home,))
    except Exception as exc:  # never-raise guard: git trouble must not stop the sweep
        messages.warn(f"could not read git information ({type(exc).__name__}: {exc})")
        return None


def _cache_distributions(settings: config.Config) -> None:
    """Once per sweep, so that no run scans every installed package for its versions
    (a plain run leaves that to its merger, which sweeps do without)."""
    from ..record.environment import build_distributions_cache

    try:
        build_distributions_cache(os.path.join(settings.home, "cache"))
    except Exception:  # never-raise guard: a cache only saves time
        pass


class _Merger:
    """Brings the sweep's finished runs from the spool into the store every few seconds,
    and once more at the end, instead of once per run."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.last = time.monotonic()

    def maybe(self) -> None:
        if time.monotonic() - self.last >= MERGE_EVERY:
            self.now()

    def now(self) -> None:
        from ..store import StoreError

        self.last = time.monotonic()
        try:
            self.store.merge_pending(timeout=30.0)
        except (StoreError, OSError) as exc:
            messages.warn(f"the sweep's runs wait in the spool of {self.store.home} ({exc}); "
                          "`recipe db repair` or the next run brings them into the store")


def _run_here(target: targets.Target, spec: dict[str, Any], *, settings: config.Config,
              own_modules: frozenset[str], inline: bool
              ) -> tuple[dict[str, Any] | None, str | None]:
    """One run in this process, in a context of its own (see recorder.start_in_context)."""
    import recipe

    from .child import Capture, call_function
    from .runner import guarded, prepare

    kept: dict[str, Any] = {}
    capture = Capture(kept.__setitem__, spec["outputs"], spec["stop_after_outputs"])
    recipe._capture.set(capture)
    placement = dict(spec["placement"])
    git = placement.pop("git")
    placement.pop("store_at_end")
    saved_argv = None
    if target.is_notebook:  # its run is recorded in its kernel, a process of its own
        from .notebook import run_notebook

        finished = run_notebook(target.path, spec["params"], typed=True,
                                placement=spec["placement"])
        if finished.exit_code == 130:
            raise KeyboardInterrupt
        return (finished.results, None) if finished.exit_code == 0 else (None, finished.error)
    if target.is_function:
        function = target.function()
        placement["fields"] = {**placement["fields"], "params": dict(spec["params"])}
        run = recorder.start_in_context(settings, target.path, target.argv, git=git,
                                        own_modules=own_modules, **placement)
        status, exit_code, error = call_function(run, function, spec["params"],
                                                 spec["passed"], capture)
    else:
        try:
            prepared = prepare(target.path, [], spec["params"], typed=True)
        except SyntaxError as exc:
            return None, f"SyntaxError: {exc}"
        recipe._injected.set(prepared.injected)
        placement["fields"] = {**placement["fields"], "computation": prepared.computation,
                               "params": dict(prepared.values)}
        argv = [target.path, *prepared.args]
        run = recorder.start_in_context(settings, target.path, argv, git=git,
                                        own_modules=own_modules, **placement)
        namespace = {"__name__": "__main__", "__file__": target.path,
                     "__builtins__": builtins}
        if inline and prepared.reads_argv:
            saved_argv, sys.argv = sys.argv, argv
        try:
            status, exit_code, _, error = guarded(run, exec, prepared.code, namespace)
        finally:
            if saved_argv is not None:
                sys.argv = saved_argv
    run.finish(status, exit_code)
    if status == "interrupted":
        raise KeyboardInterrupt
    return (kept, None) if status == "completed" else (None, error)
