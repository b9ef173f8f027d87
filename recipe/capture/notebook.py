"""A Jupyter or IPython session recorded as a run: the cells as they execute, each file
event tagged with the cell it happened in (`%load_ext recipe`, or `import recipe` in a cell).

Standard library only, and IPython is never imported here: the shell comes from the
caller, so a plain script that imports recipe pays nothing for this module. The run itself
is an ordinary `recorder.start`, so every capture path of the script world works the same
inside a kernel. `recipe run NOTEBOOK` (execute/notebook.py) starts the kernel with this
extension and names the run to record in a spec file (`SPEC_VARIABLE`).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import time

from .. import messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..record.recorder import Run

# The path of a JSON spec from `recipe run NOTEBOOK`: {run_id, notebook, command, fields,
# tags, label, git?}. Removed from the kernel's environment once read, so that nothing
# the notebook starts takes the run for its own.
SPEC_VARIABLE = "RECIPE_NOTEBOOK_SPEC"
PARAMETERS_TAG = "parameters"  # papermill's convention: the cell holding the defaults
INJECTED_TAG = "injected-parameters"  # the cell `recipe run -p` (or papermill) adds after it

_session: Session | None = None
_reported: set[str] = set()


def _never_raises(function: Any) -> Any:
    """For what IPython calls (cell callbacks, the magic, the extension's loading) and
    atexit: a bug of recipe's is one warning line, never a traceback in the user's cell."""
    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:  # the never-raise guard of the notebook side
            if function.__name__ not in _reported:
                _reported.add(function.__name__)
                messages.warn(f"notebook recording failed in {function.__name__} "
                              f"({type(exc).__name__}: {exc})")
        return None

    return guarded


def cell_source(cell: dict[str, Any]) -> str:
    """A cell's source: nbformat keeps it as one string or as a list of lines."""
    source = cell.get("source") or ""
    return "".join(source) if isinstance(source, list) else str(source)


def tags(cell: dict[str, Any]) -> list[str]:
    return list((cell.get("metadata") or {}).get("tags") or ())


def code_of(document: dict[str, Any]) -> bytes:
    """What a notebook computes: its code cells' sources in order, without outputs,
    metadata or an injected-parameters cell (its values are the run's parameters).
    ValueError when `document` is not a notebook (nbformat 4)."""
    cells = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(cells, list):
        raise ValueError("not a Jupyter notebook (nbformat 4)")
    return "\0".join(cell_source(cell) for cell in cells if isinstance(cell, dict)
                     and cell.get("cell_type") == "code"
                     and INJECTED_TAG not in tags(cell)).encode()


def code(notebook: bytes) -> bytes:
    """`code_of` the notebook file's content (ValueError if it is not one)."""
    return code_of(json.loads(notebook))


def code_hash(path: str, algorithm: str) -> str:
    """The content hash of a notebook's code (OSError, ValueError)."""
    from ..record.hashing import hash_bytes

    with open(path, "rb") as handle:
        return hash_bytes(code(handle.read()), algorithm)


def notebook_path(shell: Any) -> str | None:
    """The notebook this kernel runs, when it is told: VS Code sets `__vsc_ipynb_file__`;
    Jupyter's server sets JPY_SESSION_NAME (which ipykernel copies to `__session__`), an
    absolute path on current servers, a path under the server's root on older ones,
    whose kernels run in the notebook's directory."""
    namespace = shell.user_ns
    for named in (namespace.get("__vsc_ipynb_file__"), namespace.get("__session__"),
                  os.environ.get("JPY_SESSION_NAME")):
        if not isinstance(named, str) or not named.endswith(".ipynb"):
            continue
        for candidate in (named, os.path.join(os.getcwd(), os.path.basename(named))):
            if os.path.isabs(candidate) and os.path.isfile(candidate):
                return candidate
    return None


class Session:
    """The run of one IPython session, cell by cell; `spec` when `recipe run NOTEBOOK`
    started the kernel (the run's id and fields are chosen there, a failing cell fails
    the run, and that process brings the run into the store)."""

    def __init__(self, shell: Any, spec: dict[str, Any] | None) -> None:
        self.shell = shell
        self.spec = spec
        self.run: Run | None = None
        self.cells: list[dict[str, Any]] = []
        # The cells executing now, with when each began: a cell may run others
        # (get_ipython().run_cell), whose pre/post callbacks nest inside its own.
        self.running: list[tuple[int, float]] = []  # (index in `cells`, monotonic start)
        self.failure: dict[str, Any] | None = None  # a headless run's failing cell
        self.ending: tuple[str, int] | None = None  # and the status and exit code it gives

    def start(self) -> None:
        from ..record import recorder

        spec = self.spec
        placement: dict[str, Any] = {}
        if spec is None:
            script, argv = notebook_path(self.shell) or "<interactive>", list(sys.argv)
        else:
            script, argv = spec["notebook"], spec["command"]
            placement = {"run_id": spec["run_id"], "fields": spec.get("fields") or {},
                         "store_at_end": False,
                         # Loaded as the kernel starts: all there is is the kernel's own.
                         "own_modules": {name.partition(".")[0] for name in sys.modules}}
            if "git" in spec:
                placement["git"] = spec["git"]
        run = recorder.start(script, argv, exits=False, **placement)
        if run is None:
            return
        self.run, self.cells, self.running, self.failure, self.ending = run, [], [], None, None
        if spec is not None:
            if spec.get("label") is not None:
                run.set_label(spec["label"])
            run.add_tags(list(spec.get("tags") or ()))
        else:
            messages.info(f"recording this session as run {run.id[:8]}"
                          + (f" of {os.path.basename(script)}" if script.endswith(".ipynb")
                             else ""))
        self._begin_running_cell()

    def _begin_running_cell(self) -> None:
        """When started from a cell (`%load_ext recipe`, `import recipe`, `%recipe on`),
        that cell is the run's first: it began before the run could see it."""
        history = self.shell.history_manager.input_hist_raw
        count = self.shell.execution_count
        if len(history) == count + 1:  # IPython stores a cell's input as it begins
            self._begin(history[-1], count, None)

    def _begin(self, source: str, count: int | None, cell_id: str | None) -> None:
        from ..record.fields import now

        run = self.run
        cell = {"execution_count": count, "code": source, "start": now()}
        if cell_id:
            cell["id"] = cell_id
        self.running.append((len(self.cells), time.monotonic()))
        self.cells.append(cell)
        run.event_fields = {"cell": count}
        run.set_field("cells", list(self.cells))

    @_never_raises
    def pre_run_cell(self, info: Any) -> None:
        if self.run is None or self.run.paused:
            return
        count = self.shell.execution_count if info.store_history else None
        self._begin(info.raw_cell, count, getattr(info, "cell_id", None))

    @_never_raises
    def post_run_cell(self, result: Any) -> None:
        run = self.run
        if not self.running or run is None:
            return
        index, started = self.running.pop()
        cell = self.cells[index]
        if self.running:  # a nested cell ended: files are its caller's again
            run.event_fields = {"cell": self.cells[self.running[-1][0]]["execution_count"]}
        done = {**cell, "duration": round(time.monotonic() - started, 6)}
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            done["error"] = f"{type(error).__name__}: {error}"
            if self.spec is not None and self.failure is None:
                self.failure = {"type": type(error).__name__, "message": str(error),
                                "traceback": _traceback(error),
                                "cell": cell["execution_count"]}
                # Stopped from outside (Ctrl-C, a timeout): the kernel was interrupted.
                self.ending = ("interrupted", 130) if isinstance(error, KeyboardInterrupt) \
                    else ("failed", 1)
                run.set_field("exception", self.failure)
        self.cells[index] = done  # replaced, not changed: the recorder may be saving it
        run.set_field("cells", list(self.cells))
        run.flush_soon()

    def end(self) -> None:
        """End the run: with the notebook's code as saved by now (a session edits it as
        it goes), failed if `recipe run`'s notebook raised in a cell."""
        from ..record import recorder

        run, self.run, self.running = self.run, None, []
        if run is None or run is not recorder.current():
            return
        script = run.record["script"]
        if self.spec is None and script.endswith(".ipynb"):
            try:
                run.set_field("script_hash", code_hash(script, run.hasher.algorithm))
            except (OSError, ValueError):
                pass  # gone or not saved as JSON: the hash taken at the start stays
        recorder.end_current(*(self.ending or ()))

    def new_run(self) -> None:
        self.end()
        self.start()

    def pause(self) -> None:
        if self.run is not None:
            self.run.paused = True

    def resume(self) -> None:
        if self.run is not None and self.run.paused:
            self.run.paused = False
            self._begin_running_cell()


def _traceback(error: BaseException) -> str:
    """The traceback from the cell's own code down, without IPython's frames above it."""
    import traceback

    ipython_dir = os.path.dirname(sys.modules["IPython"].__file__ or "") + os.sep
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(ipython_dir):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(error), error, tb))


def _read_spec() -> dict[str, Any] | None:
    path = os.environ.pop(SPEC_VARIABLE, None)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        messages.warn(f"cannot read the run's spec {path} ({exc}); recording as a session")
        return None


@_never_raises
def load(shell: Any) -> None:
    """`%load_ext recipe`: record this session (once; loading again changes nothing)."""
    global _session
    if _session is not None or _disabled():
        return
    session = _session = Session(shell, _read_spec())
    shell.events.register("pre_run_cell", session.pre_run_cell)
    shell.events.register("post_run_cell", session.post_run_cell)
    shell.register_magic_function(_magic, magic_kind="line", magic_name="recipe")
    session.start()
    atexit.register(_end_at_exit)  # after the recorder's own hook: atexit runs it first


@_never_raises
def unload(shell: Any) -> None:
    """`%unload_ext recipe`: end the session's run and record nothing more."""
    global _session
    session, _session = _session, None
    if session is None:
        return
    shell.events.unregister("pre_run_cell", session.pre_run_cell)
    shell.events.unregister("post_run_cell", session.post_run_cell)
    session.end()


@_never_raises
def _end_at_exit() -> None:
    if _session is not None:
        _session.end()


def _disabled() -> bool:
    from .. import config

    return config.disabled()


@_never_raises
def new_run() -> None:
    """`recipe.new_run()` and `%recipe new`: end the session's run, start the next."""
    if _session is None:
        if not _disabled():
            messages.warn("recipe.new_run() splits a notebook or IPython session into runs; "
                          "this is not one (or it is not recorded: %load_ext recipe)")
        return
    _session.new_run()


_USAGE = "usage: %recipe [status | new | off | on]"


@_never_raises
def _magic(line: str) -> None:
    """%recipe: the session's run (status), a new run (new), pause (off), resume (on)."""
    word = line.strip()
    session = _session
    if word == "new":
        new_run()
    elif word == "off" and session is not None:
        session.pause()
    elif word == "on" and session is not None:
        session.resume()
    elif word not in ("", "status"):
        print(_USAGE)
        return
    run = session.run if session is not None else None
    if run is None:
        print("recipe: not recording")
    else:
        print(f"recipe: run {run.id[:8]} of {run.record['script']}: "
              + ("paused" if run.paused else f"recording, {len(session.cells)} cell(s)"))
