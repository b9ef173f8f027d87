"""The run lifecycle: the start record, the event buffer, and the end of a run.

Knows no library: patched functions reach it through `patching.set_sink(run.log)`.
Start-up does only cheap work (one small journal write); git runs in a background thread
that then flushes buffered file events every few seconds; the end (`endings` sees how the
script ends) writes the final record, which `delivery` brings into the store, or keeps in
the spool with one warning if it cannot. A forked child and a multiprocessing worker
hold a `Run` too, in worker mode: their events, with their pid, go to the journal of the
run they work for, which they never end (see "Child processes" in docs/design.md).
"""

from __future__ import annotations

import contextvars
import os
import sys
import threading
import time

from .. import __version__, config, messages
from ..capture import arguments, audit, children, hooks, patching
from . import delivery, endings, journal, quick_json
from .fields import (
    Secrets,
    computation,
    default_tags,
    json_or_summary,
    label,
    now,
    printable,
    printable_json,
    user,
)
from .hashing import FileHasher, hash_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

# Modules recipe itself may import while recording: not the script's libraries.
_OWN_MODULES = {"recipe", "wrapt", "xxhash", "tinydb"}

# Events waiting for the recorder's thread beyond this many wake it before its tick: each
# holds ~1 KB until written, and a loop saving and loading 20,000 files in 3 s peaked at
# +34 MB of RSS waiting for ticks 2 s apart (+11 MB with this; docs/performance.md, 2).
FLUSH_AT_EVENTS = 1024

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
        run.log_call(kind, path, function, hash_at_end)


def arguments_to_current(values: dict[str, Any]) -> None:
    """The argument parsers' sink: what the script's parser returned, to its run."""
    run = current()
    if run is not None:
        run.set_arguments(values)


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
        self.journal = journal.Journal(settings.home, self.id, on_moved=self._moved_aside,
                                       new=run_id is None)
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        # path -> (kind, path, function, time, digest before, event fields) of each event
        # whose file is not complete yet
        self._hash_at_end: dict[str, list[tuple[str, str, str, str, str | None,
                                                dict[str, Any]]]] = {}
        self._before_update: dict[str, str | None] = {}  # path -> digest before opened
        # (kind, path, function, time, fields) of memory-mapped inputs, which the
        # recorder's thread hashes: the call that mapped the file must not wait for that
        self._hash_soon: list[tuple[str, str, str, str, dict[str, Any]]] = []
        # path -> what the open-event fallback saw of the file while it is open: ("input",
        # its event, hashed when opened) or ("output"/"update", an entry as above)
        self._opened: dict[str, list[tuple[str, Any]]] = {}
        self._wake = threading.Event()
        # Held by the recorder's thread through each flush, and taken by `finish`: a flush
        # under way ends before the run's last writes, and none starts after them.
        self._tick = threading.Lock()
        self._started_up = False  # the thread's one-off work (script, git) is done
        self._ended = False
        # The pid of this process when it works for a run started by another one (a
        # forked child, a multiprocessing worker): its events go to that run's journal.
        self.worker_pid: int | None = None
        self._late: Run | None = None  # this worker's own run, once that run has ended
        self._pausing = False  # the recorder's thread is asked to stop: a fork is coming
        self._record_changed = False  # params or results set since the last save
        self._flushed_any = False  # the first file event was written to the journal
        self._label_given = False
        self.secrets = Secrets(settings.secret_words, settings.secret_keep)
        # The script's content once the worker read it (and its parameters, in a plain run),
        # and the parameter names a plain run's computation identity waits for (None: its
        # argument parser's, once it returned).
        self._source: bytes | None = None
        self._identity_names: set[str] | None = set()
        self._parsed: set[str] = set()  # names the script's argument parser returned
        self._touched: set[str] = set()  # every path logged, for `_remember_files`
        self._written: set[str] = set()  # every path logged as an output: removed, transient
        self._worker: threading.Thread | None = None
        self._exit_code: int | None = None
        self._exception: BaseException | None = None
        self._own_modules = _OWN_MODULES | own_modules
        # Fields every file event gets from now on (a notebook's `cell`), and a pause:
        # what a session changes between cells, read by `log` at each call.
        self.event_fields: dict[str, Any] = {}
        self.paused = False
        uname = os.uname()
        # The script and directory as the system names them, to read them; the record
        # holds them `printable` (a name that is not UTF-8 would make it unwritable).
        self._script_file, self._cwd = script, os.getcwd()
        self.record: dict[str, Any] = {
            "id": self.id,  # first key: `recipe db repair` finds records by it
            "script": printable(script),
            "command": self.secrets.command([printable(arg) for arg in argv]),
            "cwd": printable(self._cwd),
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
            "parent": None,  # the run that started this process, children: runs it started
            "children": [],
            "commands": [],
            **(fields or {}),
        }
        # The real values make the computation's identity; the record shows them redacted.
        self._params = dict(self.record["params"])
        self._planned_params = dict(self._params)  # what `recipe run` or a sweep passed
        self.record["params"] = {name: self.secrets.param(name, value)
                                 for name, value in self._params.items()}
        if self.record["params"] and not self.record["label"]:
            self.record["label"] = label(self.record["params"])
        if settings.record_environment:
            from .environment import environment_variables

            self.record["environment"] = environment_variables(self.secrets)
        self._ignored = _path_matcher(settings.home + os.sep, settings.ignore_paths)

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
        source = self._read_script()  # as it started: it may be edited while it runs
        if not worker:
            self._note_script(source)
            return
        self._worker = threading.Thread(target=self._work, args=(git is UNKNOWN, source),
                                        name="recipe-recorder", daemon=True)
        self._worker.start()
        os.register_at_fork(before=self._before_fork, after_in_parent=self._after_fork_in_parent,
                            after_in_child=self._after_fork_in_child)

    def _moved_aside(self, directory: str, error: OSError) -> None:
        """The one warning of a run that RECIPE_HOME cannot take (read-only, full)."""
        reason = error.strerror or type(error).__name__
        messages.warn(f"cannot write to {self.config.home} ({reason}); run {self.id[:8]} "
                      f"waits in {directory} until the next run or `recipe db repair` "
                      "can write the store")

    def _read_script(self) -> bytes | None:
        """The script's bytes as the run starts; None for a session or a `-c` command."""
        if not os.path.isabs(self._script_file):
            return None
        try:
            with open(self._script_file, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def _note_script(self, source: bytes | None) -> None:
        """What the script's bytes as it started (`_read_script`) tell, on the recorder's
        thread: its content hash (so `recipe status` tells a changed script), and for a
        plain `python script.py` run its module-level literal parameters (`lr = 0.1`) at
        their values, as `recipe run` records them; recipe.Param calls record themselves,
        and argparse options are known once the script's parser returned them
        (`set_arguments`). Its computation identity is then set at its end
        (`_computation`), so a sweep need not compute it again."""
        if source is None:
            return
        script = self._script_file
        notebook = script.endswith(".ipynb")
        if notebook:  # its code cells: saving outputs or metadata changes nothing it does
            from ..capture.notebook import code

            try:
                source = code(source)
            except ValueError:
                return
        from .hashing import hash_bytes

        digest = hash_bytes(source, self.hasher.algorithm)
        with self._lock:
            self.record["script_hash"] = digest
            self.record["script_hash_algorithm"] = self.hasher.algorithm
        if notebook:
            return  # its identity (code cells and parameters) is set by whoever ran it
        if "computation" in self.record:  # started by `recipe run` or a sweep, which
            with self._lock:               # know its parameters
                self._source = source
            return
        found = _script_parameters(source, f"{self.hasher.algorithm}:{digest}", script,
                                   os.path.join(self.config.home, "cache"))
        if found is None:
            return  # a script recipe cannot read has no parameters
        style, names, literals = found
        for name, default in literals:
            if name not in self.record["params"]:
                self.set_param(name, default)
        with self._lock:
            self._source = source
            self._identity_names = None if style == "argparse" else set(names)

    def _work(self, read_git: bool, source: bytes | None) -> None:
        patching._inside_logged_call.set(True)  # this thread's I/O is recipe's own (git)
        with self._lock:
            if not self._ended:  # else the store may have taken the journal already
                self.journal.create_events()
        endings.watch_main_frame()
        try:
            self._note_script(source)
        except Exception as exc:  # never-raise guard: this thread must go on flushing
            messages.warn(f"could not read the script ({type(exc).__name__}: {exc})")
        git = UNKNOWN
        if read_git and self.config.git_enabled:
            try:
                from .environment import git_info

                script_dir = (os.path.dirname(self._script_file)
                              if os.path.isabs(self._script_file) else self._cwd)
                git = git_info(script_dir, diff=self.config.git_diff,
                               max_bytes=self.config.git_diff_max_bytes,
                               exclude=(self.config.home,),
                               never_diff=self.config.git_diff_exclude, secrets=self.secrets,
                               cache_dir=os.path.join(self.config.home, "cache"))
            except Exception as exc:  # never-raise guard: git trouble must not stop recording
                git = None
                messages.warn(f"could not read git information ({type(exc).__name__}: {exc})")
        with self._lock:  # the script's hash, parameters and git, for a killed run
            if git is not UNKNOWN:
                self.record["git"] = git
            if not self._ended:
                self._save_record(durable=False)
        endings.preload_ending_modules(os.path.join(self.config.home, "cache"))
        self._started_up = True
        self._flush_loop()

    def _flush_loop(self) -> None:
        patching._inside_logged_call.set(True)  # this thread's I/O is recipe's own
        while True:
            self._wake.wait(self.config.flush_interval or None)
            self._wake.clear()
            with self._tick:
                if self._ended or self._pausing:
                    return
                self._hash_mapped()
                endings.watch_main_frame()
                audit.complete_closed()  # files the fallback saw opened, closed since
                self._flush_changes()

    # -- events ----------------------------------------------------------------------

    def log(self, kind: str, path: str, function: str, hash_at_end: bool = False, *,
            fallback: bool = False, stat: os.stat_result | None = None) -> None:
        """Hash the file and buffer the event; called right after the I/O returned.
        `hash_at_end`: the file may be complete only later (a writer object that writes
        when closed), so it is hashed when a "complete" event for its path comes (it was
        closed) or when the run ends. An "update" (opened to read and write) is compared
        then with its content noted by the "before" event its call sent before opening
        it: an input if the bytes stayed the same, else an output. An input with
        `hash_at_end` is memory-mapped (read lazily): the recorder's thread hashes it at
        once, off the script's call.

        `fallback`: an open seen by the open-event fallback (capture/audit.py). Its event
        waits until the file is complete (closed, or the run's end), and a declared
        function that logs the same file meanwhile replaces it: `with open(p, "wb") as f:
        np.save(f, a)` is one numpy.save output, not an "open" one as well.

        `stat`: the caller's `os.stat(path)` of a moment ago, for the hash (`log_call`)."""
        if self.paused:
            return
        if kind == "before":
            digest = self._digest(path)
            with self._lock:
                self._before_update[path] = digest
            return
        if kind == "complete":
            # A library closing its writer does not close the script's file object it
            # wrote into (ParquetWriter.close on a file opened by the script).
            self._complete(path, opened=fallback)
            return
        self._touched.add(path)
        fields = self.event_fields  # replaced, never changed in place: safe to keep
        if fallback:
            self._log_opened(kind, path, function, fields)
            return
        if self._opened:
            self._supersede(kind, path)
        if hash_at_end and kind == "input":
            if self._worker is None or self._ended:  # no thread of its own: hash it now
                self._log(kind, path, function, now(), fields)
                return
            with self._lock:
                self._hash_soon.append((kind, path, function, now(), fields))
            self._wake.set()
            return
        if hash_at_end:
            with self._lock:
                before = self._before_update.pop(path, None) if kind == "update" else None
                self._hash_at_end.setdefault(path, []).append(
                    (kind, path, function, now(), before, fields))
            return
        self._log(kind, path, function, now(), fields, stat)

    def log_call(self, kind: str, path: str, function: str, hash_at_end: bool) -> None:
        """`log` for a declared call that returned (the patching sink). An input or output
        hashed at once, the common case, is stat'ed once, and only kept if it is there:
        what a call that returned did not leave on disk was no local file (a style name,
        an imageio "<bytes>" or "imageio:chelsea.png", a zip member's name). The stat is
        then the hash cache's too (docs/performance.md, item 2, "Doing less per call")."""
        if hash_at_end or (kind != "input" and kind != "output"):
            self.log(kind, path, function, hash_at_end)
            return
        try:
            stat = os.stat(path)
        except (OSError, ValueError):  # as os.path.exists: any failing stat, a NUL byte
            return
        self.log(kind, path, function, stat=stat)

    def _hash_mapped(self) -> None:
        with self._lock:
            waiting, self._hash_soon = self._hash_soon, []
        for entry in waiting:
            self._log(*entry)

    def _digest(self, path: str) -> str | None:
        try:
            return self.hasher.hash(path)[0]
        except OSError:
            return None

    def _log_opened(self, kind: str, path: str, function: str,
                    fields: dict[str, Any]) -> None:
        at = now()
        item: tuple[str, Any]
        if kind == "input":  # hashed now: what the open reads
            event = self._event(kind, path, function, at, fields)
            if event is None or event.get("hash_error") in ("vanished", "permission denied"):
                return  # a file recipe cannot read, the script's open cannot either
            # (a FIFO, a device or a socket it opens is recorded, unhashed)
            item = (kind, event)
        else:
            with self._lock:
                before = self._before_update.pop(path, None) if kind == "update" else None
            item = (kind, (kind, path, function, at, before, fields))
        with self._lock:
            self._opened.setdefault(path, []).append(item)

    def _supersede(self, kind: str, path: str) -> None:
        """A declared function logged `path`: what the fallback saw of it in the same
        direction (read, or written) while it is open is that call's, not the script's."""
        writes = kind != "input"
        with self._lock:
            items = self._opened.pop(path, [])
            kept = [item for item in items if (item[0] != "input") != writes]
            if kept:
                self._opened[path] = kept

    def _complete(self, path: str, *, opened: bool = True) -> None:
        """The file is complete: hash what waited for it (with `opened`, the fallback's
        events too, which only the fallback completes)."""
        with self._lock:
            seen = self._opened.pop(path, []) if opened else []
            done = self._hash_at_end.pop(path, [])
        for kind, item in seen:
            if kind == "input":
                self.log_event(item)
            elif os.path.lexists(path):  # else the script's open failed: nothing written
                self._log_deferred(*item)
        for entry in done:
            self._log_deferred(*entry)

    def writes_waiting(self, path: str) -> bool:
        """Whether the fallback saw `path` opened for writing and it is not complete yet."""
        with self._lock:
            return any(kind != "input" for kind, _item in self._opened.get(path, ()))

    def release_reads(self, path: str) -> None:
        """The fallback's input events of `path`, a file still open long after it was
        opened: into the journal now (hashed when opened); what it writes still waits."""
        with self._lock:
            items = self._opened.pop(path, [])
            kept = [item for item in items if item[0] != "input"]
            if kept:
                self._opened[path] = kept
        for kind, event in items:
            if kind == "input":
                self.log_event(event)

    def _complete_all(self) -> None:
        """The run (or a worker's part of it) ends: every file still waiting is hashed."""
        for path in [*self._opened, *self._hash_at_end]:
            self._complete(path)

    def _log_deferred(self, kind: str, path: str, function: str, at: str,
                      before: str | None, fields: dict[str, Any]) -> None:
        if kind == "update":
            kind = "input" if before is not None and self._digest(path) == before else "output"
        self._log(kind, path, function, at, fields)

    def _log(self, kind: str, path: str, function: str, at: str,
             fields: dict[str, Any], stat: os.stat_result | None = None) -> None:
        event = self._event(kind, path, function, at, fields, stat)
        if event is None:
            return
        if kind == "output":
            self._written.add(path)
        self.log_event(event)

    def _event(self, kind: str, path: str, function: str, at: str,
               fields: dict[str, Any], stat: os.stat_result | None = None
               ) -> dict[str, Any] | None:
        if self._ignored(path):
            return None
        try:
            digest, size = self.hasher.hash(path, stat)
            error = None
        except OSError as exc:  # recorded all the same: vanished, unreadable, a FIFO, a device
            digest, size, error = None, None, hash_error(exc)
        event = {"kind": kind, "path": printable(path), "hash": digest,
                 "hash_algorithm": self.hasher.algorithm, "size": size,
                 "function": function, "time": at, **fields}
        if error is not None:
            event["hash_error"] = error
        if self.worker_pid is not None:
            event["pid"] = self.worker_pid
        return event

    def moved(self, source: str, target: str) -> None:
        """`source` is renamed to `target` (the open-event fallback saw os.rename or
        os.replace): the file is an output under its new name, hashed once complete. What
        waited to be hashed as `source` (written as x.tmp, replaced to x) waits as
        `target`, under the function that wrote it; anything else gets "os.rename". What
        the run logged as written under the old name is transient."""
        if self.paused:
            return
        self._touched.add(target)
        with self._lock:
            opened = self._opened.pop(source, [])
            waiting = self._hash_at_end.pop(source, [])
        for kind, item in opened:
            if kind == "input":  # the file was read under its old name
                self.log_event(item)

        def as_output(entry: tuple) -> tuple:
            _kind, _path, function, at, _before, fields = entry
            return ("output", target, function, at, None, fields)

        written = [entry for kind, entry in opened if kind != "input"]
        if not written and not waiting:
            written = [("output", source, "os.rename", now(), None, self.event_fields)]
        with self._lock:
            if waiting:
                self._hash_at_end.setdefault(target, []).extend(map(as_output, waiting))
            if written:
                self._opened.setdefault(target, []).extend(
                    ("output", as_output(entry)) for entry in written)
        self._mark_transient(source)

    def removed(self, path: str) -> None:
        """`path` is about to be deleted (os.remove, os.unlink): what waited to be hashed
        is hashed now, and a file the run wrote is transient."""
        if self.paused:
            return
        self._complete(path)
        self._mark_transient(path)

    def _mark_transient(self, path: str) -> None:
        """`journal.read` marks each event of `path` logged before this one transient."""
        if path in self._written:
            self._written.discard(path)
            self.log_event({"kind": "removed", "path": path, "time": now()})

    def log_event(self, event: dict[str, Any]) -> None:
        """Any journal event: a file, a command started, a child run."""
        if self.worker_pid is not None:
            self._log_as_worker(event)
            return
        with self._lock:
            self._pending.append(event)
            many = len(self._pending) >= FLUSH_AT_EVENTS
            first = not self._flushed_any and event.get("kind") in ("input", "output")
            if first:
                self._flushed_any = True
        if many:
            self._wake.set()  # the thread's tick is seconds away
        if first and self._worker is not None:
            # A run killed in its first seconds keeps its first file: written now, on the
            # caller's thread (one small append, after the record if that changed; no
            # fsync), not at the thread's next tick, which may also be waiting for git.
            self._flush_changes()

    def _flush_changes(self) -> None:
        """The record if it changed, then the events: an event in the journal is never
        ahead of the record it belongs to (a kernel killed after a cell's first file
        keeps the cell that wrote it)."""
        if self._record_changed:
            with self._lock:
                self._record_changed = False
                if not self._save_record(durable=False):
                    self._record_changed = True
        self._flush_events()

    def _flush_events(self, *, durable: bool = False) -> None:
        with self._lock:
            events, self._pending = self._pending, []
        self._append_events(events, durable=durable)

    def _append_events(self, events: list[dict[str, Any]], *, durable: bool = False) -> None:
        try:
            try:
                self.journal.append_events(events, durable=durable)
            except UnicodeEncodeError:  # text that is not UTF-8 (a command's argv): escaped
                self.journal.append_events(printable_json(events), durable=durable)
        except OSError:
            with self._lock:  # keep them for the next try
                self._pending[:0] = events

    def _save_record(self, *, durable: bool) -> bool:
        try:
            try:
                self.journal.write_record(self.record, durable=durable)
            except UnicodeEncodeError:  # a result or field whose text is not UTF-8: escaped
                self.journal.write_record(printable_json(self.record), durable=durable)
            return True
        except OSError:
            return False

    # -- child processes (recipe/capture/children.py) ------------------------------------

    @property
    def ended(self) -> bool:
        """Nothing more is recorded here: the run ended, or this worker's own run did."""
        return self._ended or (self._late is not None and self._late._ended)

    @property
    def own_thread(self) -> threading.Thread | None:
        """The recorder's thread: what it starts (git) is recipe's, not the script's."""
        return self._worker

    def _log_as_worker(self, event: dict[str, Any]) -> None:
        """A worker has no thread: its events go straight to the journal of the run it
        works for while that run's record is in the spool; after that run was stored (a
        process that outlived it), to a run of its own, whose `parent` is that run. The
        second look catches the store taking the journal during the append."""
        if not self.config.capture_children:
            return
        if self._late is None:
            if os.path.exists(self.journal.record_path):
                self._append_events([event])
                if os.path.exists(self.journal.record_path):
                    return
                try:  # the append may have made a journal of a stored run: not kept
                    os.unlink(self.journal.events_path)
                except OSError:
                    pass
            self._late = Run(self.config, self._worker_script(), sys.argv,
                             fields={"parent": self.id})
            self._late.start(worker=False)
        self._late._append_events([event])

    def _worker_script(self) -> str:
        """A spawned worker runs the script it works for as `__mp_main__`."""
        main = sys.modules.get("__mp_main__")
        return os.path.abspath(main.__file__) if getattr(main, "__file__", None) \
            else self.record["script"]

    def _before_fork(self) -> None:
        """Python 3.12 warns on fork() in a process with threads, and a thread holding a
        lock at the fork would deadlock the child: the recorder's thread stops first, and
        the parent starts it again after. Its one-off work (git) gets half a second; a
        fork that comes during a longer one goes ahead with the thread running."""
        thread = self._worker
        if (thread is None or self._ended or not thread.is_alive()
                or thread is threading.current_thread()):
            return
        self._pausing = True
        self._wake.set()
        thread.join(timeout=0.5)
        if thread.is_alive():
            self._pausing = False

    def _after_fork_in_parent(self) -> None:
        if self._pausing:
            self._pausing = False
            self._worker = threading.Thread(target=self._flush_loop, name="recipe-recorder",
                                            daemon=True)
            self._worker.start()

    def _after_fork_in_child(self) -> None:
        """A forked child works for the run: its events, with its pid, go to the run's
        journal; the parent flushes what was buffered and ends the run."""
        self._lock = threading.Lock()  # another thread may have held it at the fork
        self._pending = []
        self._hash_at_end = {}
        self._before_update = {}
        self._opened = {}
        self._hash_soon = []  # the parent's thread hashes what it mapped
        self._worker = None
        self._pausing = False
        self._late = None
        self._become_worker()

    def _become_worker(self) -> None:
        import atexit

        self.worker_pid = os.getpid()
        children.forget_commands()
        children.end_workers_at_exit()
        atexit.unregister(self.end_as_worker)  # once, however many forks it went through
        atexit.register(self.end_as_worker)

    def end_as_worker(self) -> None:
        """The end of a worker's part: the files it left to hash at the end, and its own
        run, if it outlived the one it worked for."""
        self._complete_all()
        if self._late is not None:
            self._late.finish()

    # -- parameters and results ------------------------------------------------------

    def set_param(self, name: str, value: Any) -> None:
        with self._lock:
            self._set_param(name, value)

    def _set_param(self, name: str, value: Any) -> None:
        self._params[name] = value
        if isinstance(value, str):  # a file name given on the command line may not be UTF-8
            value = printable(value)
        elif isinstance(value, list):
            value = [printable(item) if isinstance(item, str) else item for item in value]
        self.record["params"][name] = self.secrets.param(name, value)
        if not self._label_given:
            self.record["label"] = label(self.record["params"])
        self._record_changed = True

    def set_arguments(self, values: dict[str, Any]) -> None:
        """What the script's argument parser (argparse, click) returned: its parameters,
        at the values it received, whatever was planned or defaulted."""
        with self._lock:
            self._parsed.update(values)
            for name, value in values.items():
                self._set_param(name, value)

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

    def set_field(self, name: str, value: Any) -> None:
        """Set a field of the record (a notebook session's `cells`), saved within seconds."""
        with self._lock:
            self.record[name] = value
            self._record_changed = True

    def flush_soon(self) -> None:
        """Have the worker save the record and events now rather than at its next tick
        (a notebook cell has ended: a kernel may be killed at any time after)."""
        self._wake.set()

    # -- ending ----------------------------------------------------------------------

    def note_exit(self, code: Any) -> None:
        """Remember the argument of sys.exit()."""
        self._exit_code = endings.exit_status(code)

    @property
    def noted_exit(self) -> int | None:
        return self._exit_code

    def note_exception(self, exc: BaseException) -> None:
        self._exception = exc

    def finish(self, status: str | None = None, exit_code: int | None = None, *,
               exit_unknown: bool = False) -> None:
        """End the run once: final record, events, libraries; then into the store.
        `exit_unknown`: the script ended by a SystemExit whose code recipe cannot see
        (endings.how_the_frame_ended), said so in `exception` rather than guessed."""
        if self._ended or self.worker_pid is not None:
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
        self._await_worker(status)
        record = self.record
        with self._lock:
            identity = self._computation()
            if identity is not None:
                record["computation"] = identity
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
            elif exit_unknown:
                record["exception"] = {
                    "type": "SystemExit",
                    "message": "raised with an exit code recipe cannot see (a computed "
                               "`raise SystemExit(...)`); the process's exit status is "
                               "not known",
                    "traceback": "",
                }
        try:
            from .environment import library_versions, third_party_modules

            record["libraries"] = library_versions(
                third_party_modules(self._own_modules) | self.patched_libraries(),
                os.path.join(self.config.home, "cache"))
        except Exception as exc:  # never-raise guard: versions are nice to have
            messages.warn(f"could not read library versions ({type(exc).__name__}: {exc})")
        self._hash_mapped()
        if status in ("completed", "failed") and exit_code is not None:
            # the interpreter's shutdown will flush them anyway (not so after a signal or
            # before an exec: the program's bytes must stay what they would have been)
            audit.flush_unclosed()
        self._complete_all()
        self._remember_files()
        children.end_of_run(self)
        # Not fsynced here: the script would wait for the disk (1-12 ms measured) at its
        # end; whoever takes the run next makes it durable first (delivery.deliver).
        self._flush_events(durable=False)
        saved = self._save_record(durable=False) and not self._pending
        delivery.deliver(self, saved)

    def _await_worker(self, status: str) -> None:
        """Let the recorder's thread finish what the record needs, now that `_ended` is set:
        its one-off work (the script's hash, git), or only the flush under way.

        A thread that is only waiting for its next flush is not woken and joined: waking it
        costs the script's end a thread switch, and on a machine whose cores are all busy
        (numpy's BLAS threads spin for a while after any call) the switch waited up to
        4 ms for a core. It sees `_ended` at its next tick and returns; a daemon thread, it
        never delays the interpreter's exit."""
        worker = self._worker
        if worker is None or worker is threading.current_thread() or not worker.is_alive():
            return
        if self._started_up:
            with self._tick:
                pass
            if not self.config.flush_interval:
                self._wake.set()  # it would wait for a wake-up forever: let it end
            return
        self._wake.set()
        # Git on a huge repository may take a while; a SIGTERM'd run must die promptly.
        worker.join(timeout=2 if status == "interrupted" else 30)

    def _computation(self) -> str | None:
        """The computation identity to record: the one `recipe run` or a sweep planned,
        unless the script's argument parser returned other values than it passed; for a
        plain run, once every parameter is known (argparse options: once parsed)."""
        planned = self.record.get("computation")
        if self._source is None:
            return planned
        if planned is not None:
            changed = self._parsed and self._params != self._planned_params
            return computation(self._source, self._params) if changed else planned
        names = self._identity_names
        ready = bool(self._parsed) if names is None else \
            set(self._params) == names | self._parsed
        return computation(self._source, self._params) if ready else None

    def _remember_files(self) -> None:
        """Every file this run read or wrote in its repository is data: later runs leave
        it out of their diff of untracked files (environment.git_info)."""
        git = self.record.get("git")
        if not git or not git.get("root") or not self.config.git_diff:
            return
        from .environment import remember_touched

        try:
            remember_touched(os.path.join(self.config.home, "cache"), git["root"],
                             self._touched)
        except OSError:
            pass  # then untracked outputs may show in a later diff: no harm to this run

    def patched_libraries(self) -> set[str]:
        return {name for name in hooks.PATCH_MODULES if name in sys.modules}


def _path_matcher(directory: str, globs: tuple[str, ...]) -> Callable[[str], bool]:
    """Whether a path lies under `directory` (recipe's own store) or matches one of the
    `[ignore] paths` globs (`DIR/*`, the usual kind, without a regular expression)."""
    ignored = config.glob_matcher(globs)
    if ignored is None:
        return lambda path: path.startswith(directory)
    return lambda path: path.startswith(directory) or ignored(path)


def _script_parameters(source: bytes, digest: str, script: str, cache_dir: str
                       ) -> tuple[str | None, list[str], list[list[Any]]] | None:
    """(style, names, [[name, default], ...] of its module-level literals) of the
    parameters `recipe inspect` finds in a plain run's script, None if it cannot read
    them. Remembered by the script's path and content hash in the cache: parsing and
    walking a script of 900 lines costs ~13 ms of the interpreter lock, taken from the
    script while it starts, and scripts are run again and again unchanged. The key also
    holds the version and modification time of the code that finds them, so another
    recipe finds them again."""
    from .hashing import short_name

    path = os.path.join(cache_dir, f"parameters-{short_name(script)}.json")
    finder = os.path.join(os.path.dirname(os.path.dirname(__file__)), "execute", "params.py")
    stamp = __version__
    try:
        stamp += f" {os.stat(finder).st_mtime_ns}"
    except OSError:
        pass  # no source file to look at (a zipped recipe): the version alone
    digest = f"{digest} {stamp}"
    try:
        with open(path, encoding="utf-8") as handle:
            cached = quick_json.loads(handle.read())
        if cached["hash"] == digest:
            if cached["found"] is None:
                return None
            style, names, literals = cached["found"]
            return style, list(names), [[name, default] for name, default in literals]
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not seen yet, changed since, or not a cache file of this shape
    try:
        import ast

        from ..execute.params import discover_in

        parameters = discover_in(ast.parse(source, filename=script), script).parameters
        style = parameters[0].source if parameters else None
        found = (style, [p.name for p in parameters],
                 [[p.name, p.default] for p in parameters] if style == "global" else [])
    except Exception:  # never-raise guard: a script recipe cannot read has no params
        found = None
    try:
        os.makedirs(cache_dir, exist_ok=True)
        journal.atomic_write_json(path, {"hash": digest, "found": found}, durable=False)
    except (OSError, ValueError):
        pass  # a cache that cannot be written only costs time
    return found


def start(script: str, argv: list[str], *,
          own_modules: frozenset[str] | set[str] = frozenset(), git: Any = UNKNOWN,
          exits: bool = True, **placement: Any) -> Run | None:
    """Start recording this process as a run of `script`. Never raises: a recorder that
    cannot start prints one warning and the script runs unrecorded. `own_modules`: modules
    already imported by whoever starts the run (recipe's CLI), not the script's libraries.
    A sweep gives `git` and the `placement` of the run (Run's keyword arguments).
    `exits=False`: sys.exit does not end this process (a kernel catches it in a cell)."""
    global _current
    if _current is not None:
        return _current
    settings = _settings()
    parent = children.parent_run()
    if parent is not None:  # started inside another recorded run
        placement["fields"] = {"parent": parent[0], **placement.get("fields", {})}
    try:
        run = Run(settings, script, argv, frozenset(own_modules), **placement)
        run.start(git=git)
    except Exception as exc:  # never-raise guard
        messages.warn(f"could not start recording ({type(exc).__name__}: {exc})")
        return None
    _current = run
    endings.install(run, exits=exits)
    install_capture(settings)
    children.install(run)
    return run


def start_worker(run_id: str) -> Run | None:
    """Record this process as a worker of the run `run_id` of another process (a
    multiprocessing spawn or forkserver worker, a loky worker): its files go into that
    run's journal with this pid; it never ends the run. Never raises."""
    global _current
    settings = _settings()
    try:
        run = Run(settings, "<worker>", sys.argv, run_id=run_id)
        run._become_worker()
        os.register_at_fork(after_in_child=run._after_fork_in_child)
    except Exception as exc:  # never-raise guard
        messages.warn(f"could not record this worker ({type(exc).__name__}: {exc}); "
                      "its files are not recorded")
        return None
    _current = run
    install_capture(settings)
    children.install(run)
    return run


def _settings() -> config.Config:
    try:
        settings = config.load()
    except config.ConfigError as exc:
        messages.warn(f"{exc}; recording with the default settings")
        settings = config.defaults()
    messages.set_quiet(settings.quiet)
    return settings


def install_capture(settings: config.Config) -> None:
    """Every way recipe sees a file, sending it to the run of the calling thread or task:
    for a run, a sweep's runs in one process, and a worker alike."""
    patching.set_sink(log_to_current)
    arguments.set_sink(arguments_to_current)
    audit.install(settings, current)
    hooks.install(settings.disabled_libraries)


def end_current(status: str | None = None, exit_code: int | None = None) -> None:
    """End this process's run now, so that `start` can begin another (a notebook
    session's `recipe.new_run()`); the hooks of `endings` stay, for the next run."""
    global _current
    run, _current = _current, None
    if run is not None:
        run.finish(status, exit_code)


def start_in_context(settings: config.Config, script: str, argv: list[str], *, git: Any,
                     **placement: Any) -> Run:
    """Start a run that shares this process with others (a sweep's thread or inline
    executor): it is current only in the calling thread or task, so call this in a context
    of the run's own (`contextvars.copy_context().run`). The caller ends it with `finish`."""
    run = Run(settings, script, argv, store_at_end=False, **placement)
    run.start(git=git, worker=False)
    _context_run.set(run)
    install_capture(settings)
    return run
