"""The open-event fallback: every file the script's Python code opens is an input or an
output of its run, seen through the interpreter's audit events (`sys.addaudithook`).

`open`, `io.open`, pathlib and every library that opens files in Python (json, csv,
pickle, PIL, ...) raise the "open" event, `os.open` too (with flags instead of a mode);
`os.rename`/`os.replace` raise "os.rename", `os.remove`/`os.unlink` "os.remove", and
`sqlite3.connect` "sqlite3.connect". Each event comes *before* the operation: a file opened
to read is hashed then (its bytes are what the open will read), one opened to write is
noted and hashed once it is complete (`complete_closed`, at the latest as the run ends).
Either event waits while the file is open: a declared function given the open file
(`np.save(f, a)`) logs it under its own name instead.

Declared functions keep their own name: an event inside a logged call (the patching
`ContextVar`, also set by `Internal` declarations) is not logged again, so `np.save` stays
one `numpy.save` output. Files go to the run through `Run.log`, the patching sink's own
path, so notebook cells, pauses and workers work as for declared calls.

An audit hook cannot be removed: when the fallback is off it returns on its first line,
when nothing records on its second. recipe's own I/O (hashing, the journal, the store,
git) is never seen: the recorder's thread and every call into the run run inside the
same `ContextVar`, files under RECIPE_HOME are noise, and an open made by recipe's code
is skipped by its caller's frame. See "The open-event fallback" in docs/design.md.
"""

from __future__ import annotations

import os
import sys
import time
from stat import S_ISREG

from ..config import glob_matcher
from .patching import _inside_logged_call, absolute, is_normal, kind_of_mode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .. import config

_RECIPE_DIRECTORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Code that opens files to run them, not as data: the import system (a module's source,
# its bytecode) and runpy (the main script of a spawn worker, `python -m`).
_CODE_LOADERS = frozenset({"<frozen importlib._bootstrap_external>",
                           "<frozen importlib._bootstrap>", "<frozen zipimport>",
                           "<frozen runpy>",  # deep-frozen in 3.11+, whatever __file__ says
                           os.path.join(os.path.dirname(os.__file__), "runpy.py")})
_CODE_SUFFIXES = (".py", ".pyc", ".pyw", ".so", ".pyd")
# The system's own data and configuration, read by libraries (time zones, certificates,
# locales, mime types, fonts): the libraries' files outside sys.prefix.
_SYSTEM_FILES = ("/etc", "/usr/share", "/usr/lib", "/usr/lib64", "/usr/local/share",
                 "/usr/local/lib", "/lib", "/lib64", "/run", "/var/cache", "/var/lib")
# A file noted when opened is complete once no descriptor or mapping of this process holds
# it; one noted less than this long ago may not be open yet (the event precedes the open).
_SETTLE_SECONDS = 0.5
# A file read that stays open longer than this (a big file read line by line) has its
# input event journaled anyway: a run killed an hour later still shows it. A declared
# function given the open file (np.load(f)) comes long before.
_RELEASE_READ_SECONDS = 5.0


def _no_run() -> Any:
    return None


_installed = False
_current: Callable[[], Any] = _no_run  # the recorder's `current`, once installed
_handlers: dict[str, Callable[[Any, tuple], None]] = {}  # empty: the fallback is off
_noise: Noise | None = None
# Directories every file under which is noise whatever the settings say (recipe's store;
# the libraries' and system's, unless `[capture] include` globs may take some back): an
# open of a file there, named plainly, returns on the hook's first lines. Each import opens
# its bytecode, 360 times while matplotlib.pyplot imports: 3.3 µs each the long way.
_quiet: tuple[str, ...] = ()
# path -> monotonic time it was noted: files opened whose event waits until they are
# complete (closed, renamed, removed, opened again, or the run's end).
_waiting: dict[str, float] = {}


def install(settings: config.Config, current: Callable[[], Any]) -> None:
    """Turn the fallback on (or off: `[capture] audit = no`) for the runs that start now;
    the hook itself is added once per process. `current` gives the run of the caller."""
    global _installed, _current, _handlers, _noise, _quiet
    _current = current
    _waiting.clear()
    _handlers = {}
    _quiet = ()
    if not settings.capture_audit:
        return
    try:
        _noise = Noise(settings)
    except Exception as exc:  # never-raise guard: `import recipe` must not fail for this
        _report(exc)
        return
    _handlers = {"open": _opened, "os.rename": _renamed, "os.remove": _removed,
                 "sqlite3.connect": _connected}
    _quiet = _noise.always
    if not _installed:
        _installed = True
        sys.addaudithook(_hook)
        os.register_at_fork(after_in_child=_waiting.clear)  # the parent's files, not ours


def _hook(event: str, args: tuple) -> None:
    """Called for every audit event of the process, ~20,000 while pandas, matplotlib and
    scipy are imported: anything but a watched event returns at once."""
    handler = _handlers.get(event)
    if handler is None:
        return
    if event == "open" and _quiet:
        path = args[0]
        if type(path) is str and path.startswith(_quiet) and is_normal(path):
            return  # what `_opened` would find, sooner: noise
    if _inside_logged_call.get():  # a declared call's own I/O, or recipe's
        return
    run = _current()
    if run is None or run.paused or run.ended:
        return
    token = _inside_logged_call.set(True)  # what the run does with the file is its own I/O
    try:
        handler(run, args)
    except Exception as exc:  # never-raise guard: an exception here would fail the open
        _report(exc)
    finally:
        _inside_logged_call.reset(token)


def _from_own_code() -> bool:
    """Whether the code that raised the event is recipe's, code being loaded to run, or no
    Python code at all (the interpreter reading the main script)."""
    try:  # this function, the handler, the hook, then the caller
        filename = sys._getframe(3).f_code.co_filename
    except ValueError:
        return True
    return filename.startswith(_RECIPE_DIRECTORY) or filename in _CODE_LOADERS


def _absolute(path: Any, directory_fd: int = -1) -> str | None:
    """The absolute path an event names; None for a descriptor (`open(fd)`)."""
    if not isinstance(path, str):
        if isinstance(path, int):
            return None
        try:
            path = os.fsdecode(os.fspath(path))
        except TypeError:
            return None
    if not path:
        return None
    if path[0] != "/" and directory_fd not in (-1, None):
        try:  # relative to a directory descriptor (shutil.rmtree's unlinks)
            path = os.path.join(os.readlink(f"/proc/self/fd/{directory_fd}"), path)
        except OSError:
            return None
    return absolute(path)


def _kind_of_flags(flags: int) -> str:
    """os.open: read only is an input, truncated an output, anything else an update."""
    if flags & os.O_ACCMODE == os.O_RDONLY:
        return "input"
    return "output" if flags & os.O_TRUNC else "update"


def _regular(path: str) -> bool | None:
    """True for a regular file, False for anything else there (a directory, a FIFO, a
    device: never read by recipe), None when nothing is there."""
    try:
        return S_ISREG(os.stat(path).st_mode)
    except OSError:
        return None


def _complete_if_waiting(run: Any, path: str) -> None:
    """A file noted when opened is opened, renamed or removed again: it is complete (the
    event comes before the operation), what the run wrote into it is hashed now."""
    if _waiting.pop(path, None) is not None:
        run.log("complete", path, "", fallback=True)


def _note(run: Any, kind: str, path: str, function: str, exclusive: bool = False) -> None:
    """An input is hashed now, an output or an update once the file is complete; each
    waits until then, for a declared function given the open file to replace it.
    `exclusive`: the open fails if the file exists (mode "x", O_CREAT | O_EXCL)."""
    present = _regular(path)
    if present is False and os.path.isdir(path):
        return  # no file of its own (the open fails, or it is os.open of a directory)
    # A FIFO, socket or device the script opens is recorded, unhashed (the recorder never
    # opens one): /dev itself is noise, but a FIFO in the script's directory is its input.
    if present and kind != "input" and (exclusive or not os.access(path, os.W_OK)):
        return  # one the open will fail to write
    if present is None:
        if kind == "input":
            return  # the open will fail
        kind = "output"  # created by this open
    if kind == "update":
        run.log("before", path, function)
    run.log(kind, path, function, kind != "input", fallback=True)
    _waiting[path] = time.monotonic()


def _opened(run: Any, args: tuple) -> None:
    path, mode, flags = args
    path = _absolute(path)
    if path is None or _noise is None or _noise.matches(path) or _from_own_code():
        return
    kind = kind_of_mode(mode) if mode is not None else _kind_of_flags(flags)
    if kind != "input" and path in _waiting:
        _waiting[path] = time.monotonic()  # not complete: written again (before the check)
        if run.writes_waiting(path):
            # Written again before anyone read it: one event, hashed once complete. A log
            # appended to a thousand times is hashed once, not a thousand times.
            return
    _complete_if_waiting(run, path)
    if mode is None:
        _note(run, kind, path, "os.open",
              flags & (os.O_CREAT | os.O_EXCL) == os.O_CREAT | os.O_EXCL)
    else:
        _note(run, kind, path, "open", "x" in mode)


def _renamed(run: Any, args: tuple) -> None:
    """os.rename / os.replace: the file is an output under its new name (written as x.tmp
    and replaced to x: the output x); what the run wrote under the old name is transient."""
    source, target = _absolute(args[0], args[2]), _absolute(args[1], args[3])
    if source is None or target is None or _noise is None or _from_own_code():
        return
    if not _regular(source):
        return  # a directory moved (or nothing: the rename fails) is no file of its own
    _complete_if_waiting(run, target)  # its old bytes, about to be replaced
    _waiting.pop(source, None)
    if _noise.matches(target):
        run.removed(source)
        return
    run.moved(source, target)
    _waiting[target] = time.monotonic()


def _removed(run: Any, args: tuple) -> None:
    path = _absolute(args[0], args[1])
    if path is None or _noise is None or _noise.matches(path) or _from_own_code():
        return
    _waiting.pop(path, None)
    run.removed(path)


def _connected(run: Any, args: tuple) -> None:
    """sqlite3.connect with the sqlite3 declaration disabled: its database is an update."""
    from .patches.sqlite3 import _database_file

    path = _absolute(_database_file(None, args[0]))
    if path is None or _noise is None or _noise.matches(path) or _from_own_code():
        return
    _complete_if_waiting(run, path)
    _note(run, "update", path, "sqlite3.connect")


def complete_closed() -> None:
    """Complete the files noted when opened that this process no longer holds open (no
    descriptor, no memory mapping): called by the recorder's thread before each flush,
    so an event reaches the journal within seconds of its file's close, not at the end.
    Linux only (/proc/self); elsewhere they are hashed when opened again or at the end."""
    now = time.monotonic()
    settled = [path for path, noted in list(_waiting.items()) if now - noted > _SETTLE_SECONDS]
    if not settled or not os.path.isdir("/proc/self/fd"):
        return
    run = _current()
    if run is None or run.ended:
        return
    held = _files_held()
    held_names = {os.path.basename(path) for path in held}
    for path in settled:
        # /proc names the file by its real path: resolve the noted one only when it may
        # be one of those under another name (a symlink on the way)
        if path in held or ((os.path.basename(path) in held_names or os.path.islink(path))
                            and os.path.realpath(path) in held):
            if now - _waiting.get(path, now) > _RELEASE_READ_SECONDS:
                run.release_reads(path)
            continue
        noted = _waiting.get(path)
        if noted is not None and now - noted > _SETTLE_SECONDS:  # not opened again since
            if _waiting.pop(path, None) is not None:
                run.log("complete", path, "", fallback=True)


def flush_unclosed() -> None:
    """The run ends before the interpreter's shutdown closes the files the script never
    closed (`f = open("log.txt", "w")` with no close): flush the Python buffers of those
    it opened for writing, so that their hash is of the bytes they will hold. Costs a walk
    over the garbage collector's objects, only when such a file is still open."""
    if not _waiting:
        return
    held = _files_held() if os.path.isdir("/proc/self/fd") else None
    # A copy: a sweep's runs in other threads of this process open files meanwhile.
    still_open = {path for path in list(_waiting)
                  if held is None or path in held or os.path.realpath(path) in held}
    if not still_open:
        return
    import gc
    import io

    for obj in gc.get_objects():
        if isinstance(obj, (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom)):
            try:
                if (not obj.closed and obj.writable() and isinstance(obj.name, str)
                        and os.path.abspath(obj.name) in still_open):
                    obj.flush()
            except (OSError, ValueError):
                pass  # closed meanwhile, or a broken file: the interpreter's problem too


def _files_held() -> set[str]:
    """The files this process has open or mapped into memory (mmap keeps writing after
    its descriptor is closed)."""
    held = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            held.add(os.readlink(f"/proc/self/fd/{name}"))
        except OSError:
            pass  # closed meanwhile
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                fields = line.split(None, 5)
                if len(fields) == 6:
                    held.add(fields[5].rstrip("\n"))
    except OSError:
        pass
    return held


class Noise:
    """Which paths the fallback leaves out: the interpreter's and the libraries' own files,
    recipe's store, the kernel's pseudo-files, user caches and configuration, the temp
    dir; then `[capture] include` and `exclude` globs decide (exclude wins)."""

    def __init__(self, settings: config.Config) -> None:
        def directories(*paths: str | None, resolve: bool = False) -> tuple[str, ...]:
            """As given and, with `resolve`, also with symlinks resolved (macOS's /tmp is
            /private/tmp); realpath for every library directory would cost 0.4 ms of
            start-up, and their files are opened under the names sys.path gives."""
            found = []
            for path in paths:
                if path:
                    forms = (os.path.abspath(path), os.path.realpath(path)) if resolve \
                        else (os.path.abspath(path),)
                    found.extend(form.rstrip(os.sep) + os.sep for form in forms)
            return tuple(dict.fromkeys(found))

        home = os.path.expanduser("~")
        sites: list[str] = []
        try:
            import site

            sites = [*site.getsitepackages(), site.getusersitepackages()]
        except (AttributeError, ImportError):  # a virtualenv's old site.py, python -S
            pass
        self.never = directories(settings.home, resolve=True)
        self.libraries = directories(
            sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *sites,
            sys.pycache_prefix,
            _RECIPE_DIRECTORY, "/proc", "/sys", "/dev", *_SYSTEM_FILES,
            os.environ.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"),
            os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"),
            os.environ.get("MPLCONFIGDIR"), os.path.join(home, ".matplotlib"),
            os.environ.get("IPYTHONDIR") or os.path.join(home, ".ipython"),
            os.path.join(home, ".jupyter"), os.environ.get("JUPYTER_RUNTIME_DIR"),
            os.path.join(os.environ.get("XDG_DATA_HOME")
                         or os.path.join(home, ".local", "share"), "jupyter"))
        # The temp dir (tempfile's candidates), but not the run's working directory when it
        # lies inside it: a project in /tmp/project is the user's, /tmp/tmpab12cd a library's.
        self.temp = () if settings.capture_temp else directories(
            os.environ.get("TMPDIR"), os.environ.get("TEMP"), os.environ.get("TMP"),
            "/tmp", "/var/tmp", "/usr/tmp", resolve=True)
        try:
            self.workdir = directories(os.getcwd(), resolve=True)
        except OSError:  # the working directory was removed
            self.workdir = ()
        self.include = glob_matcher(settings.capture_include)
        self.exclude = glob_matcher(settings.capture_exclude)
        # Where `matches` is true whatever the path's name: recipe's store, and the
        # libraries' directories unless an include glob could take a file back.
        self.always = self.never + (self.libraries if self.include is None else ())
        self._modules_seen = -1
        self._module_files: set[str] = set()

    def matches(self, path: str) -> bool:
        """Whether `path` (absolute) is left out."""
        if path.startswith(self.never):
            return True
        if self.exclude is not None and self.exclude(path):
            return True
        if self.include is not None and self.include(path):
            return False
        if (path.startswith(self.libraries) or "/site-packages/" in path
                or "/dist-packages/" in path or "/__pycache__/" in path
                # a package's metadata wherever it is installed (an editable install's
                # egg-info in the project), read by importlib.metadata
                or ".dist-info/" in path or ".egg-info/" in path):
            return True
        if self.temp and path.startswith(self.temp) and not path.startswith(self.workdir):
            return True
        return path.endswith(_CODE_SUFFIXES) and path in self._modules()

    def _modules(self) -> set[str]:
        """The files of the imported modules (a traceback's or a warning's source line is
        read through linecache), computed again only when more modules were imported."""
        modules = sys.modules
        if len(modules) != self._modules_seen:
            self._modules_seen = len(modules)
            files = set()
            for module in list(modules.values()):
                name = getattr(module, "__file__", None)
                if isinstance(name, str):
                    files.add(os.path.abspath(name))
            self._module_files = files
        return self._module_files


_reported = False


def _report(exc: Exception) -> None:
    """One warning for the whole process, never an exception into the audited call."""
    global _reported
    if not _reported:
        _reported = True
        from .. import messages

        messages.warn(f"could not record a file opened ({type(exc).__name__}: {exc})")
