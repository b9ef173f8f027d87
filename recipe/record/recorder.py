"""The run lifecycle: the start record, the event buffer, and the end of a run.

Knows no library: patched functions reach it through `patching.set_sink(run.log)`.
Start-up does only cheap work (one small journal write); git runs in a background thread
that then flushes buffered file events every few seconds; the end (`endings` sees how the
script ends) writes the final record, which `delivery` brings into the store, or keeps in
the spool with one warning if it cannot.
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time

from .. import __version__, config, messages
from ..capture import hooks, patching
from . import delivery, endings, journal
from .fields import default_tags, json_or_summary, label, now, user
from .hashing import FileHasher

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Modules recipe itself may import while recording: not the script's libraries.
_OWN_MODULES = {"recipe", "wrapt", "xxhash", "tinydb"}

_current: Run | None = None
UNKNOWN: Any = object()  # git information not read yet
# The run of the current thread or task, when several runs share this process (a sweep
# with the thread or inline executor); it takes precedence over `_current`.
_context_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "recipe_run", default=None)


def current() -> Run | None:
    """The run that files read or written here and now belong to, if any."""
    return _context_run.get() or _current


def log_to_current(kind: str, path: str, function: str, hash_at_end: bool = False) -> None:
    """The patching sink: a logged file goes to the run of this thread or task."""
    run = current()
    if run is not None:
        run.log(kind, path, function, hash_at_end)


class Run:
    """One recorded run of a script in this process."""

    def __init__(self, settings: config.Config, script: str, argv: list[str],
                 own_modules: frozenset[str] = frozenset(), *, run_id: str | None = None,
                 fields: dict[str, Any] | None = None, store_at_end: bool = True) -> None:
        """`run_id` and `fields` of the record known from the start (params, computation,
        sweep) come from `recipe run` or a sweep, which merges its runs into the store
        itself (`store_at_end=False`)."""
        self.config = settings
        self.id = run_id or os.urandom(16).hex()
        self.store_at_end = store_at_end
        self.hasher = FileHasher(settings.hash_algorithm)
        self.journal = journal.Journal(settings.home, self.id)
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        # path -> (kind, path, function, time, digest before) of each event whose file is
        # not complete yet
        self._hash_at_end: dict[str, list[tuple[str, str, str, str, str | None]]] = {}
        self._before_update: dict[str, str | None] = {}  # path -> digest before opened
        self._wake = threading.Event()
        self._ended = False
        self._forked_child = False
        self._record_changed = False  # params or results set since the last save
        self._label_given = False
        # (script source, parameter names) of a plain run, for its computation identity
        self._identity_source: tuple[bytes, set[str]] | None = None
        self._worker: threading.Thread | None = None
        self._exit_code: int | None = None
        self._exception: BaseException | None = None
        self._own_modules = _OWN_MODULES | own_modules
        uname = os.uname()
        self.record: dict[str, Any] = {
            "id": self.id,  # first key: `recipe db repair` finds records by it
            "script": script,
            "command": list(argv),
            "cwd": os.getcwd(),
            "start": now(),
            "end": None,
            "duration": None,
            "status": "running",
            "exit_code": None,
            "exception": None,
            "hostname": uname.nodename,
            "pid": os.getpid(),
            "user": user(),
            "platform": f"{uname.sysname}-{uname.release}-{uname.machine}",
            "python": "{}.{}.{}".format(*sys.version_info[:3]),
            "python_executable": sys.executable,
            "recipe_version": __version__,
            "git": None,
            "libraries": {},
            "params": {},
            "results": {},
            "label": "",
            "tags": default_tags(script) if settings.default_tags else [],
            "notes": [],
            **(fields or {}),
        }
        if self.record["params"] and not self.record["label"]:
            self.record["label"] = label(self.record["params"])
        if settings.record_environment:
            from .environment import environment_variables

            self.record["environment"] = environment_variables()
        self._ignored = (settings.home + os.sep + "*", *settings.ignore_paths)

    # -- starting --------------------------------------------------------------------

    def start(self, *, git: Any = UNKNOWN, worker: bool = True) -> None:
        """Write the start record (so even a SIGKILLed run leaves a trace) and start the
        worker that collects git information and flushes events.

        A sweep passes the `git` information it read once for all its runs; its runs that
        share a process have no `worker`: they keep their events until they end."""
        if git is not UNKNOWN:
            self.record["git"] = git
        try:
            self.journal.write_record(self.record, durable=False)
        except OSError as exc:
            messages.warn(f"cannot write to {self.config.home} ({exc}); "
                          "this run is kept in memory and saved at its end if possible")
        if not worker:
            self._note_script()
            return
        self._worker = threading.Thread(target=self._work, args=(git is UNKNOWN,),
                                        name="recipe-recorder", daemon=True)
        self._worker.start()
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    def _note_script(self) -> None:
        """Read the script once, off the start-up path: its content hash as it started
        (so `recipe status` tells a changed script), and for a plain `python script.py`
        run its module-level literal parameters (`lr = 0.1`) at their values, as `recipe
        run` records them; recipe.Param calls record themselves, and argparse options are
        only known to the script. Its computation identity is then set at its end, so a
        sweep need not compute it again."""
        script = self.record["script"]
        if not os.path.isabs(script):
            return
        try:
            with open(script, "rb") as handle:
                source = handle.read()
        except OSError:
            return
        from .hashing import hash_bytes

        with self._lock:
            self.record["script_hash"] = hash_bytes(source, self.hasher.algorithm)
            self.record["script_hash_algorithm"] = self.hasher.algorithm
        if "computation" in self.record:
            return  # started by `recipe run` or a sweep, which know its parameters
        try:
            import ast

            from ..execute.params import discover_in

            found = discover_in(ast.parse(source, filename=script), script)
        except Exception:  # never-raise guard: a script recipe cannot read has no params
            return
        style = found.parameters[0].source if found.parameters else None
        if style == "global":
            for parameter in found.parameters:
                if parameter.name not in self.record["params"]:
                    self.set_param(parameter.name, parameter.default)
        if style != "argparse":  # its identity is known once its parameters are
            self._identity_source = (source, {p.name for p in found.parameters})

    def _work(self, read_git: bool) -> None:
        self._note_script()
        if read_git and self.config.git_enabled:
            try:
                from .environment import git_info

                script_dir = (os.path.dirname(self.record["script"])
                              if os.path.isabs(self.record["script"]) else self.record["cwd"])
                git = git_info(script_dir, diff=self.config.git_diff,
                               max_bytes=self.config.git_diff_max_bytes,
                               exclude=(self.config.home,))
            except Exception as exc:  # never-raise guard: git trouble must not stop recording
                git = None
                messages.warn(f"could not read git information ({type(exc).__name__}: {exc})")
            with self._lock:
                self.record["git"] = git
                if not self._ended:
                    self._save_record(durable=False)
        endings.preload_ending_modules(os.path.join(self.config.home, "cache"))
        while not self._ended:
            self._wake.wait(self.config.flush_interval or None)
            self._wake.clear()
            if not self._ended:
                self._flush_events()
                if self._record_changed:
                    with self._lock:
                        self._record_changed = False
                        self._save_record(durable=False)

    # -- events ----------------------------------------------------------------------

    def log(self, kind: str, path: str, function: str, hash_at_end: bool = False) -> None:
        """Hash the file and buffer the event; called right after the I/O returned.
        `hash_at_end`: the file may be complete only later (a writer object that writes
        when closed), so it is hashed when a "complete" event for its path comes (it was
        closed) or when the run ends. An "update" (opened to read and write) is compared
        then with its content noted by the "before" event its call sent before opening
        it: an input if the bytes stayed the same, else an output."""
        if kind == "before":
            digest = self._digest(path)
            with self._lock:
                self._before_update[path] = digest
            return
        if kind == "complete":
            self._complete(path)
            return
        if hash_at_end:
            with self._lock:
                before = self._before_update.pop(path, None) if kind == "update" else None
                self._hash_at_end.setdefault(path, []).append(
                    (kind, path, function, now(), before))
            return
        self._log(kind, path, function, now())

    def _digest(self, path: str) -> str | None:
        try:
            return self.hasher.hash(path)[0]
        except OSError:
            return None

    def _complete(self, path: str) -> None:
        with self._lock:
            done = self._hash_at_end.pop(path, [])
        for entry in done:
            self._log_deferred(*entry)

    def _log_deferred(self, kind: str, path: str, function: str, at: str,
                      before: str | None) -> None:
        if kind == "update":
            kind = "input" if before is not None and self._digest(path) == before else "output"
        self._log(kind, path, function, at)

    def _log(self, kind: str, path: str, function: str, at: str) -> None:
        import fnmatch

        if any(fnmatch.fnmatch(path, pattern) for pattern in self._ignored):
            return
        try:
            digest, size = self.hasher.hash(path)
        except OSError:
            return  # not a readable regular file (never written, a directory, a pipe)
        event = {"kind": kind, "path": path, "hash": digest,
                 "hash_algorithm": self.hasher.algorithm, "size": size,
                 "function": function, "time": at}
        if self._forked_child:
            # A forked child has no worker thread: its events go straight to the journal.
            self._append_events([event])
            return
        with self._lock:
            self._pending.append(event)

    def _flush_events(self, *, durable: bool = False) -> None:
        with self._lock:
            events, self._pending = self._pending, []
        self._append_events(events, durable=durable)

    def _append_events(self, events: list[dict[str, Any]], *, durable: bool = False) -> None:
        try:
            self.journal.append_events(events, durable=durable)
        except OSError:
            with self._lock:  # keep them for the next try
                self._pending[:0] = events

    def _save_record(self, *, durable: bool) -> bool:
        try:
            self.journal.write_record(self.record, durable=durable)
            return True
        except OSError:
            return False

    def _after_fork_in_child(self) -> None:
        self._forked_child = True
        self._pending = []

    # -- parameters and results ------------------------------------------------------

    def set_param(self, name: str, value: Any) -> None:
        with self._lock:
            self.record["params"][name] = value
            if not self._label_given:
                self.record["label"] = label(self.record["params"])
            self._record_changed = True

    def set_label(self, text: str) -> None:
        """A label chosen by the user, instead of the one made from the parameters."""
        with self._lock:
            self._label_given = True
            self.record["label"] = text
            self._record_changed = True

    def add_tags(self, tags: list[str]) -> None:
        with self._lock:
            journal.annotate(self.record, {"kind": "tags", "tags": tags})
            self._record_changed = True

    def set_result(self, name: str, value: Any) -> None:
        with self._lock:
            self.record["results"][name] = json_or_summary(value)
            self._record_changed = True

    # -- ending ----------------------------------------------------------------------

    def note_exit(self, code: Any) -> None:
        """Remember the argument of sys.exit()."""
        self._exit_code = endings.exit_status(code)

    def note_exception(self, exc: BaseException) -> None:
        self._exception = exc

    def finish(self, status: str | None = None, exit_code: int | None = None) -> None:
        """End the run once: final record, events, libraries; then into the store."""
        if self._ended or self._forked_child:
            return
        exc = self._exception
        if status is None:
            if isinstance(exc, KeyboardInterrupt):
                status, exit_code = "interrupted", 130
            elif exc is not None:
                status, exit_code = "failed", 1
            else:
                exit_code = self._exit_code or 0
                status = "completed" if exit_code == 0 else "failed"
        self._ended = True
        self._wake.set()
        if self._worker is not None and self._worker.is_alive():
            # Git on a huge repository may take a while; a SIGTERM'd run must die promptly.
            self._worker.join(timeout=2 if status == "interrupted" else 30)
        record = self.record
        with self._lock:
            if self._identity_source is not None and "computation" not in record:
                source, names = self._identity_source
                if set(record["params"]) == names:
                    from ..execute.params import computation

                    record["computation"] = computation(source, record["params"])
            record["end"] = now()
            record["duration"] = round(time.monotonic() - self._started, 6)
            record["status"] = status
            record["exit_code"] = exit_code
            if exc is not None:
                record["exception"] = {
                    "type": type(exc).__name__,
                    "message": str(exc),
                    "traceback": endings.format_exception(exc),
                }
        try:
            from .environment import library_versions, third_party_modules

            record["libraries"] = library_versions(
                third_party_modules(self._own_modules) | self.patched_libraries(),
                os.path.join(self.config.home, "cache"))
        except Exception as exc:  # never-raise guard: versions are nice to have
            messages.warn(f"could not read library versions ({type(exc).__name__}: {exc})")
        for entries in self._hash_at_end.values():
            for entry in entries:
                self._log_deferred(*entry)
        self._flush_events(durable=True)
        saved = self._save_record(durable=True) and not self._pending
        delivery.deliver(self, saved)

    def patched_libraries(self) -> set[str]:
        return {name for name in hooks.PATCH_MODULES if name in sys.modules}


def start(script: str, argv: list[str], *,
          own_modules: frozenset[str] | set[str] = frozenset(), git: Any = UNKNOWN,
          **placement: Any) -> Run | None:
    """Start recording this process as a run of `script`. Never raises: a recorder that
    cannot start prints one warning and the script runs unrecorded. `own_modules`: modules
    already imported by whoever starts the run (recipe's CLI), not the script's libraries.
    A sweep gives `git` and the `placement` of the run (Run's keyword arguments)."""
    global _current
    if _current is not None:
        return _current
    try:
        settings = config.load()
    except config.ConfigError as exc:
        messages.warn(f"{exc}; recording with the default settings")
        settings = config.defaults()
    messages.set_quiet(settings.quiet)
    try:
        run = Run(settings, script, argv, frozenset(own_modules), **placement)
        run.start(git=git)
    except Exception as exc:  # never-raise guard
        messages.warn(f"could not start recording ({type(exc).__name__}: {exc})")
        return None
    _current = run
    endings.install(run)
    patching.set_sink(log_to_current)
    hooks.install(settings.disabled_libraries)
    return run


def start_in_context(settings: config.Config, script: str, argv: list[str], *, git: Any,
                     **placement: Any) -> Run:
    """Start a run that shares this process with others (a sweep's thread or inline
    executor): it is current only in the calling thread or task, so call this in a context
    of the run's own (`contextvars.copy_context().run`). The caller ends it with `finish`."""
    run = Run(settings, script, argv, store_at_end=False, **placement)
    run.start(git=git, worker=False)
    _context_run.set(run)
    patching.set_sink(log_to_current)
    hooks.install(settings.disabled_libraries)
    return run
