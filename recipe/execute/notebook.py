"""`recipe run NOTEBOOK.ipynb`: a notebook executed headless in a real Jupyter kernel
(nbclient), its parameters injected the way papermill does, recorded inside the kernel.

Parameters are the literal assignments of the first cell tagged `parameters`; given values
go into a new cell tagged `injected-parameters` right after it (replacing one a previous
papermill or recipe run left), so the notebook's own defaults come first and are then
overridden. The kernel starts with recipe's IPython extension (`--ext=recipe`), which
records the run this process chose (id, parameters, computation identity) as a session
of the notebook (capture/notebook.py); this process writes the executed notebook, adds it
to the run's outputs, ends the run if the kernel died, and brings it into the store.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any

from .. import config, messages
from ..capture import notebook as session
from ..record import delivery, journal
from ..record.fields import computation, now
from . import params as discovery
from .runner import BadParameters, ScriptNotFound


class NotebookError(Exception):
    """The notebook cannot be run here (no kernel, no nbclient); nothing was recorded."""

    exit_code = 2


class Finished:
    """How a notebook run ended: exit status (0, 1, 130), its results, and "Type: message"
    of a failure."""

    def __init__(self, run_id: str, exit_code: int, results: dict[str, Any],
                 error: str | None, executed: str | None) -> None:
        self.run_id = run_id
        self.exit_code = exit_code
        self.results = results
        self.error = error
        self.executed = executed  # the executed notebook's path, None if it was not kept


def read(path: str) -> dict[str, Any]:
    """The notebook at `path` as JSON (DiscoveryError if it cannot be read or is not one)."""
    try:
        with open(path, "rb") as handle:
            text = handle.read()
    except OSError as exc:
        raise discovery.DiscoveryError(f"cannot read {path}: {exc.strerror}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise discovery.DiscoveryError(f"{path} is not a Jupyter notebook (not JSON: "
                                       f"{exc})") from None
    try:
        session.code_of(document)
    except ValueError as exc:
        raise discovery.DiscoveryError(f"{path}: {exc}") from None
    return document


def parameters_cell(document: dict[str, Any]) -> int | None:
    """The index of the first cell tagged `parameters`, as papermill finds it."""
    return next((index for index, cell in enumerate(document["cells"])
                 if session.PARAMETERS_TAG in session.tags(cell)), None)


def discover(document: dict[str, Any], path: str) -> discovery.Discovery:
    """The notebook's parameters: the module-level literal assignments of its parameters
    cell (`year = 2020`), typed by their defaults. DiscoveryError if it does not parse."""
    index = parameters_cell(document)
    if index is None:
        return discovery.Discovery([], [])
    import ast

    where = f"{path} (cell {index}, tagged parameters)"
    try:
        tree = ast.parse(session.cell_source(document["cells"][index]), filename=where)
    except SyntaxError as exc:
        raise discovery.DiscoveryError(f"{where}:{exc.lineno}: cannot parse the parameters "
                                       f"cell: {exc.msg}") from None
    return discovery.Discovery([discovery.Parameter(p.name, p.default, p.type, p.line,
                                                    "notebook")
                                for p in discovery.module_literals(tree)], [])


def literal(value: Any) -> str:
    """Python source for a parameter value (bool, int, float, str or None)."""
    if isinstance(value, float) and value != value:
        return "float('nan')"
    if isinstance(value, float) and value in (float("inf"), -float("inf")):
        return f"{'-' if value < 0 else ''}float('inf')"
    return repr(value)


def inject(document: dict[str, Any], values: dict[str, Any]) -> None:
    """Put `values` into a cell tagged `injected-parameters` after the parameters cell (at
    the top without one). A cell an earlier run injected goes: its values are not this
    run's parameters."""
    cells = [cell for cell in document["cells"] if session.INJECTED_TAG not in session.tags(cell)]
    if values:
        index = parameters_cell({"cells": cells})
        source = "# Parameters\n" + "".join(f"{name} = {literal(value)}\n"
                                            for name, value in values.items())
        cells.insert(0 if index is None else index + 1, {
            "cell_type": "code", "execution_count": None, "id": os.urandom(4).hex(),
            "metadata": {"tags": [session.INJECTED_TAG]}, "outputs": [], "source": source})
    document["cells"] = cells


def executed_path(path: str, run_id: str | None = None) -> str:
    """Where the executed notebook goes by default: beside it, `NAME.executed.ipynb`; for
    a run of a sweep, whose runs may execute side by side, `NAME.executed-RUNID.ipynb`."""
    stem = path[:-len(".ipynb")] if path.endswith(".ipynb") else path
    return f"{stem}.executed{f'-{run_id[:8]}' if run_id else ''}.ipynb"


def run_notebook(script: str, given: dict[str, Any] | None = None, *, typed: bool = False,
                 output: str | None = None, kernel: str | None = None,
                 tags: list[str] | tuple[str, ...] = (), label: str | None = None,
                 placement: dict[str, Any] | None = None) -> Finished:
    """Execute the notebook with the parameter values `given` (text as typed after -p, or
    Python values if `typed`), recorded; write the executed notebook to `output` (default
    `executed_path`). Raises ScriptNotFound, BadParameters or NotebookError before
    anything runs. `placement`: what a sweep tells the recorder (recorder.start's keyword
    arguments: run_id, fields, git, store_at_end)."""
    path = os.path.abspath(script)
    if not os.path.isfile(path):
        raise ScriptNotFound(f"no notebook {script!r}")
    given = given or {}
    try:
        document = read(path)
        values = discovery.resolve(discover(document, path), given, typed=typed)
    except ValueError as exc:  # DiscoveryError is one
        raise BadParameters(str(exc)) from None
    try:
        import nbclient
        import nbformat
        from jupyter_client.kernelspec import NoSuchKernel
    except ImportError as exc:
        raise NotebookError(f"running a notebook needs {exc.name}: pip install "
                            "'recipe[notebook]'") from None
    inject(document, {name: values[name] for name in given})

    try:
        settings = config.load()
    except config.ConfigError as exc:
        raise NotebookError(str(exc)) from None
    placement = dict(placement or {})
    run_id = placement.get("run_id") or os.urandom(16).hex()
    fields = {"computation": computation(session.code_of(document), values),
              "params": dict(values), **placement.get("fields", {})}
    store_at_end = placement.get("store_at_end", True)
    output = os.path.abspath(output) if output else \
        executed_path(path, run_id if "sweep" in fields else None)
    try:  # before anything runs: a copy that cannot be kept is a usage error
        os.makedirs(os.path.dirname(output), exist_ok=True)
    except OSError as exc:
        raise NotebookError(f"cannot write {output}: {exc.strerror}") from None
    spec = {"run_id": run_id, "notebook": path, "command": [script], "fields": fields,
            "tags": list(tags), "label": label}
    if "git" in placement:
        spec["git"] = placement["git"]

    notebook = nbformat.reads(json.dumps(document), as_version=4)  # lines joined again
    with tempfile.TemporaryDirectory(prefix="recipe-notebook-") as directory:
        spec_path = os.path.join(directory, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as handle:
            json.dump(spec, handle)
        client = nbclient.NotebookClient(
            notebook, kernel_name=kernel or "", extra_arguments=["--ext=recipe"],
            # Like Jupyter and nbconvert: the kernel works in the notebook's directory.
            resources={"metadata": {"path": os.path.dirname(path)}},
            on_notebook_start=lambda notebook: _check_recording(settings, run_id, client))
        env = {**delivery.child_environment(), session.SPEC_VARIABLE: spec_path}
        error = None
        try:
            client.execute(env=env)
        except nbclient.exceptions.CellExecutionError:
            pass  # the kernel recorded the cell and its traceback
        except NoSuchKernel as exc:
            raise NotebookError(f"no Jupyter kernel named {exc.args[0]!r} is installed "
                                "(`jupyter kernelspec list` shows them)") from None
        except NotebookError:
            raise
        except Exception as exc:  # the kernel died, or nbclient tripped over its own
            # cleanup after Ctrl-C (it shuts the kernel down from a signal handler and
            # again on the way out): the run's journal says what happened to it
            error = f"{type(exc).__name__}: {exc}"
    notebook.metadata["recipe"] = {"run": run_id, "parameters": values}
    try:
        nbformat.write(notebook, output)
    except OSError as exc:
        messages.warn(f"could not write the executed notebook {output} ({exc.strerror})")
        output = None
    # Ctrl-C or SIGTERM between two cells interrupts no cell: nbclient shuts the kernel
    # down, which ends its run as completed, though the cells after it never ran.
    stopped = any(cell.get("cell_type") == "code" and cell.get("execution_count") is None
                  and cell.get("source", "").strip()  # nbclient runs no empty cell
                  and "skip-execution" not in cell.get("metadata", {}).get("tags", ())
                  for cell in notebook.cells)
    return _finish(settings, run_id, spec, output, error, store_at_end, stopped)


def _check_recording(settings: config.Config, run_id: str, client: Any) -> None:
    """Before the first cell: a kernel that could not load recipe would run unrecorded."""
    if not os.path.exists(journal.Journal(settings.home, run_id).record_path):
        raise NotebookError(f"the kernel {client.kernel_name or 'python3'!r} did not start "
                            "recording (is recipe installed in its Python?); nothing was run")


def _finish(settings: config.Config, run_id: str, spec: dict[str, Any],
            executed: str | None, error: str | None, store_at_end: bool,
            stopped: bool) -> Finished:
    """The kernel has ended (its run with it, unless it died): record the executed notebook
    as an output, end a run the kernel left running, or ended `completed` although it was
    `stopped` before its last cell, and bring it into the store."""
    from ..record.hashing import FileHasher

    try:
        record = journal.read_record(settings.home, run_id)
    except (OSError, ValueError):  # the kernel never got as far as starting the run
        raise NotebookError(f"the notebook could not be run: {error}") from None
    if record.get("status") == "running":
        from .launch import _end_abandoned_run

        error = error or "DeadKernelError: the kernel ended without ending its run"
        _end_abandoned_run({"script": spec["notebook"], "params": spec["fields"]["params"],
                            "placement": {"run_id": run_id, "fields": spec["fields"]}},
                           1, error)
        record = journal.read_record(settings.home, run_id)
    if stopped and record.get("status") == "completed":
        record.update(status="interrupted", exit_code=130, exception={
            "type": "KeyboardInterrupt", "message": "interrupted between two cells",
            "traceback": "", "cell": None})
        journal.Journal(settings.home, run_id).write_record(record)
    if executed is not None:
        digest, size = FileHasher(settings.hash_algorithm).hash(executed)
        journal.Journal(settings.home, run_id).append_events([{
            "kind": "output", "path": executed, "hash": digest,
            "hash_algorithm": settings.hash_algorithm, "size": size,
            "function": "nbformat.write", "time": now()}])
    exception = record.get("exception") or {}
    if record["status"] != "completed":
        if exception.get("traceback"):
            sys.stderr.write(exception["traceback"])
        error = error or f"{exception.get('type')}: {exception.get('message')}"
        if exception.get("cell") is not None:
            messages.info(f"cell [{exception['cell']}] raised {exception.get('type')}")
    if store_at_end:
        messages.info(f"recorded run {run_id[:8]} ({record['status']})"
                      + (f"; the executed notebook is {os.path.relpath(executed)}"
                         if executed else ""))
        from ..store.merge import merge_into_store

        merge_into_store(settings, run_id)
    exit_code = {"completed": 0, "interrupted": 130}.get(record["status"], 1)
    return Finished(run_id, exit_code, record.get("results") or {},
                    None if exit_code == 0 else error, executed)
