"""recipe: `import recipe` at the top of a script records every file it reads and writes.

Importing this package from a script's `__main__` starts recording a run of that script;
in a cell of a notebook or IPython session, a run of the session (`%load_ext recipe`).
Imported from anywhere else (a library, a test, recipe's own command line) it records
nothing until asked. RECIPE_DISABLE=1 turns everything off. Only the standard library is
imported here: numpy, pandas, matplotlib, TinyDB and wrapt are imported when needed.
"""

from __future__ import annotations

import builtins
import contextvars
import os
import sys

__version__ = "0.1.0"

TYPE_CHECKING = False  # typing itself costs 3 ms to import: only for type checkers
if TYPE_CHECKING:
    from typing import IO, Any

__all__ = ["__version__", "open", "log_input", "log_output", "Param", "Output",
           "MissingParameter", "run", "sweep", "runs", "lineage", "new_run"]

_WRITING_MODES = set("wax+")


def _log(kind: str, path: Any, function: str) -> None:
    from .capture import patching
    from .record import recorder

    run = recorder.current()
    resolved = patching.path_of(path)
    if run is not None and resolved is not None:
        run.log(kind, resolved, function)


def log_input(path: str | os.PathLike) -> None:
    """Record `path` as an input of the current run (no-op when not recording)."""
    _log("input", path, "recipe.log_input")


def log_output(path: str | os.PathLike) -> None:
    """Record `path` as an output of the current run (no-op when not recording)."""
    _log("output", path, "recipe.log_output")


class _LoggedFile:
    """A file object that logs itself when closed: an output is hashed once written."""

    def __init__(self, handle: IO, kind: str) -> None:
        self._handle = handle
        self._kind = kind

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __iter__(self):
        return iter(self._handle)

    def __enter__(self) -> _LoggedFile:
        self._handle.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        already = self._handle.closed
        self._handle.close()
        if not already:
            _log(self._kind, self._handle.name, "recipe.open")


def open(file: str | os.PathLike, mode: str = "r", *args: Any, **kwargs: Any) -> Any:  # noqa: A001
    """`open()` that records the file as an input (read modes) or output (write modes)."""
    handle = builtins.open(file, mode, *args, **kwargs)
    kind = "output" if _WRITING_MODES & set(mode) else "input"
    if isinstance(handle.name, int):
        return handle
    return _LoggedFile(handle, kind)


_REQUIRED: Any = object()
# Per thread or task, as several runs of a sweep may share this process:
# the values given with `recipe run SCRIPT -p NAME=VALUE` or a sweep, which Param returns,
_injected: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "recipe_injected", default=None)
# and in a run started by recipe.run() or a sweep, where Output values go (recipe/child.py).
_capture: contextvars.ContextVar[Any] = contextvars.ContextVar("recipe_capture", default=None)


class MissingParameter(RuntimeError):
    """A `recipe.Param` without a default, in a run that was not given its value."""


def Param(default: Any = _REQUIRED, *, name: str) -> Any:
    """A parameter of the script: returns `default` in a plain run, or the value given with
    `recipe run SCRIPT -p NAME=VALUE`, and records it in the run's `params`. Without a
    default the parameter is required.

    `recipe inspect SCRIPT` lists a script's parameters without running it."""
    injected = _injected.get() or {}
    if name in injected:
        default = injected[name]
    elif default is _REQUIRED:
        raise MissingParameter(f"parameter {name!r} is required and has no default")
    from .record import recorder

    run = recorder.current()
    if run is not None:
        run.set_param(name, default)
    return default


def Output(value: Any, *, name: str) -> Any:
    """An output of the script: returns `value` unchanged, and records it in the run's
    `results` (JSON values as they are, anything else as a short summary)."""
    from .record import recorder

    run = recorder.current()
    if run is not None:
        run.set_result(name, value)
    capture = _capture.get()
    if capture is not None:
        capture.output(name, value)
    return value


def run(script: str | os.PathLike, params: dict[str, Any] | None = None, *,
        outputs: list[str] | None = None, stop_after_outputs: bool = False) -> Any:
    """Run a script in a fresh interpreter, recorded, with `params` given to its
    parameters; return a Results object: `res[params]["score"]`, `res.errors`,
    `res.to_dataframe()`. Unknown parameters or outputs, and missing required parameters,
    raise ValueError before anything runs; a failing script is reported in `res.errors`.
    `stop_after_outputs=True` ends the script right after the last of `outputs`."""
    from .execute.launch import run_in_subprocess

    return run_in_subprocess(os.fspath(script), params or {}, outputs=outputs,
                             stop_after_outputs=stop_after_outputs)


def sweep(target: Any, params: dict[str, Any], *, mode: str = "independent",
          nominal: dict[str, Any] | None = None, jobs: int = 1, executor: Any = "process",
          rerun: bool = False, outputs: list[str] | None = None,
          stop_after_outputs: bool = False) -> Any:
    """Run `target` over parameter values, each run recorded; return a Results object:
    `res[{"lr": 0.1}]["score"]`, `res.errors`, `res.to_dataframe()`, and the counts
    `res.executed`, `res.cached`, `res.failed`.

    `target`: a script path, "file.py:function", or a function (its keyword defaults are
    its parameters; a returned dict gives one output per key, anything else the output
    `result`; arguments named `_x` are passed from `nominal`, never parameters).
    `params`: {name: [values]}. Each swept parameter also takes its nominal value (its
    default, or `nominal[name]`) once; mode "independent" varies one parameter at a time
    around the nominal point, "grid" takes every combination.

    A point whose computation (the code's content and every parameter's value) already
    completed is served from the store, not run again, unless `rerun=True`. `executor`:
    "process" (a fresh interpreter per run, `jobs` at a time), "thread", "inline", or any
    concurrent.futures.Executor. A failing run is recorded as failed; the sweep goes on.
    Bad parameters raise ValueError before anything runs. See docs/sweeps.md."""
    from .execute.sweeps import sweep as run_sweep

    return run_sweep(target, params, mode=mode, nominal=nominal, jobs=jobs, executor=executor,
                     rerun=rerun, outputs=outputs, stop_after_outputs=stop_after_outputs)


def runs(*, script: str | None = None, status: str | None = None, tag: str | None = None,
         where: list[str] | tuple[str, ...] = (), sweep: str | None = None,
         as_dataframe: bool = False) -> Any:
    """Stored runs, newest first, filtered as `recipe runs` filters them (`where`:
    conditions like "lr>=0.1"; `sweep`: a sweep's id, its runs in the sweep's order): a
    list of run records, or with `as_dataframe=True` a pandas DataFrame with id, status,
    start, script, then one column per parameter and per scalar result."""
    from . import config
    from .store import open_store, query

    store = open_store(config.load())
    found = query.filter_runs(query.runs_of(store, sweep), script=script, status=status,
                              tag=tag, where=where)
    records = store.records([run["id"] for run in found]) if found else []
    if sweep is not None:
        order = {run["id"]: index for index, run in enumerate(found)}
        records.sort(key=lambda record: order[record["id"]])
    if not as_dataframe:
        return records
    import pandas as pd

    return pd.DataFrame([{"id": r["id"], "status": r["status"], "start": r["start"],
                          "script": r["script"], **(r.get("params") or {}),
                          **{k: v for k, v in (r.get("results") or {}).items()
                             if isinstance(v, (bool, int, float, str)) or v is None}}
                         for r in records])


def lineage(path: str | os.PathLike, *, direction: str = "up", depth: int | None = None
            ) -> dict[str, Any]:
    """Where a file came from (`direction="up"`) or what was made from it ("down"), as
    `recipe lineage` shows it: {path, hash, runs: [{id, script, start, status, relation,
    files: [...]}]}. `path` may also be a content hash. ValueError if no run touched it."""
    from . import config
    from .provenance import graph
    from .store import open_store

    if direction not in (graph.UP, graph.DOWN):
        raise ValueError(f"direction must be 'up' or 'down', not {direction!r}")
    return graph.lineage(open_store(config.load()), os.fspath(path), direction, depth)


def new_run() -> None:
    """In a notebook or IPython session: end the session's run and start the next one,
    whose code is the cells executed from here on (also `%recipe new`)."""
    from .capture import notebook

    notebook.new_run()


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext recipe`: record this notebook or IPython session as a run, cell by cell
    (`import recipe` in a cell does the same). See docs/notebooks.md."""
    from .capture import notebook

    notebook.load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """`%unload_ext recipe`: end the session's run; nothing more is recorded."""
    from .capture import notebook

    notebook.unload(ipython)


def _ipython_shell() -> Any:
    """The running IPython shell (a Jupyter kernel, `ipython`), if any; IPython is only
    asked when something imported it already, never imported here."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    return get_ipython() if get_ipython is not None else None


def _imported_by_main_script() -> bool:
    """True for `import recipe` (or `from recipe import ...`) in the `__main__` module.

    False when the import is on behalf of a submodule (`import recipe.cli`, as the
    console script does), so recipe's own command line never records itself."""
    frame = sys._getframe(2)  # 0: this function, 1: this package's module code
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        name = frame.f_locals.get("name")
        if isinstance(name, str) and name.startswith(__name__ + "."):
            return False
        frame = frame.f_back
    return frame is not None and frame.f_globals.get("__name__") == "__main__"


def _script_path() -> tuple[str, list[str]]:
    argv = list(sys.argv) or [""]
    first = argv[0]
    if first == "-":
        return "<stdin>", argv
    if first in ("", "-c") or hasattr(sys, "ps1"):
        return "<interactive>", argv
    return os.path.abspath(first), argv


def _disabled() -> bool:
    return os.environ.get("RECIPE_DISABLE", "").strip().lower() in ("1", "yes", "true", "on")


if not _disabled() and _imported_by_main_script():
    _shell = _ipython_shell()
    if _shell is not None:  # a cell of a notebook or IPython session
        load_ipython_extension(_shell)
    else:
        from .record import recorder as _recorder

        _recorder.start(*_script_path())
