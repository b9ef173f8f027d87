"""Child processes of a recorded run: workers belong to it, Python programs become runs of
their own, other programs are listed as its commands.

A recorded run puts `RECIPE_PARENT_RUN` (its id and store) into `os.environ`, and the
directory of recipe's bootstrap `sitecustomize` first on PYTHONPATH (ddtrace-run's way;
coverage.py's `.pth` file would be read by every interpreter, in a run or not). So every
interpreter the run starts, directly or through a shell, runs `bootstrap()` at start-up,
and an interpreter outside a run pays nothing at all. `bootstrap()` tells what the new
process is from its command line: a multiprocessing or loky worker logs into the parent's
journal with its own pid; multiprocessing's trackers, recipe's own commands and Jupyter
kernels are left alone (recipe's commands and a kernel that records read the parent from
the environment themselves); anything else is a run whose `parent` is the starting run,
and tells that run so by appending a `child` event to its journal. Forked processes need
none of this: they inherit the run itself (see `Run._after_fork_in_child`).

What the run starts is seen by wrapping `subprocess.Popen` (its environment, pid and exit
status), `os.system`, `os.posix_spawn[p]`, `os.exec*` and `os.waitpid`/`os.wait`; each
program goes into the journal as a `command` event, its exit status as an `exit` event,
and `journal.read` lists as `commands` those that did not turn out to be child runs.
"""

from __future__ import annotations

import os
import sys

from .. import messages
from .patching import without_this_frame

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import ModuleType
    from typing import Any

    from ..record.recorder import Run

ENVIRONMENT_VARIABLE = "RECIPE_PARENT_RUN"  # "<run id>:<RECIPE_HOME>"
BOOTSTRAP_DIRECTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap")

# Modules imported to start a worker in a new interpreter: where the bootstrap is needed.
_WORKER_STARTERS = ("multiprocessing.popen_spawn_posix", "multiprocessing.popen_forkserver",
                    "joblib.externals.loky.backend.popen_loky_posix",
                    "loky.backend.popen_loky_posix")

_installed = False
_exit_wrapped = False
_warned_workers = False
_followed: set[str] = set()  # the runs this process set ENVIRONMENT_VARIABLE for
_unwaited: dict[int, None] = {}  # pids of commands whose exit status is not known yet


# -- in the new interpreter ----------------------------------------------------------------

def parent_run() -> tuple[str, str] | None:
    """(id, RECIPE_HOME) of the recorded run that started this process, if one did (not
    a run of this process itself: `recipe.new_run()` starts the next one here)."""
    run_id, _, home = os.environ.get(ENVIRONMENT_VARIABLE, "").partition(":")
    return (run_id, home) if run_id and home and run_id not in _followed else None


def process_kind(argv: list[str], orig_argv: list[str]) -> str:
    """What an interpreter started inside a run is, from its command line: "worker" (its
    files belong to the parent run), "run" (a run of its own) or "other" (nothing to do:
    a helper of multiprocessing, recipe's own command, a Jupyter kernel)."""
    mode = argv[0] if argv else ""
    # The code of -c, the module of -m, else the script: where orig_argv ends with argv[1:].
    target = orig_argv[-len(argv)] if argv and len(orig_argv) >= len(argv) else mode
    if mode == "-c":
        if "--multiprocessing-fork" in argv or target.startswith(
                "from multiprocessing.forkserver import main"):
            return "worker"
        if "resource_tracker import main" in target or "semaphore_tracker" in target:
            return "other"
        return "run"
    if mode == "-m":
        if target.endswith("loky.backend.popen_loky_posix"):
            return "worker"
        if target.partition(".")[0] in ("recipe", "ipykernel", "ipykernel_launcher"):
            return "other"
        return "run"
    if os.path.basename(mode) == "ipykernel_launcher.py" or _is_recipe_command(mode):
        return "other"
    return "run"


def _is_recipe_command(path: str) -> bool:
    """recipe's console script (`pip` writes one that imports `recipe.cli`)."""
    if os.path.basename(path) != "recipe":
        return False
    try:
        with open(path, "rb") as handle:
            return b"recipe.cli" in handle.read(4096)
    except OSError:
        return False


def bootstrap() -> None:
    """Called by the bootstrap `sitecustomize` of an interpreter started inside a run."""
    try:
        from .. import _script_path, config

        parent = parent_run()
        if parent is None or config.disabled():
            return
        kind = process_kind(sys.argv, getattr(sys, "orig_argv", sys.argv))
        if kind == "other":
            return
        if config.recipe_home() != parent[1]:
            os.environ["RECIPE_HOME"] = parent[1]  # the child's run goes next to its parent
        from ..record import recorder

        if kind == "worker":
            recorder.start_worker(parent[0])
            return
        script, argv = _script_path()
        if argv and argv[0] == "-c":  # keep the code run, which sys.argv leaves out
            argv = ["-c", sys.orig_argv[-len(argv)], *argv[1:]]
        own = {name.partition(".")[0] for name in sys.modules}
        run = recorder.start(script, argv, own_modules=own)
        # Its stderr may be data to the parent (captured, parsed): no "recorded run" line.
        messages.set_quiet(True)
        if run is not None and argv and argv[0] == "-m":
            import atexit

            atexit.register(_name_the_main_module, run)  # runs before the run's end
    except Exception as exc:  # never-raise guard: the program must start as it would
        messages.warn(f"could not record this child process ({type(exc).__name__}: {exc})")


def _name_the_main_module(run: Run) -> None:
    """`python -m module`: the script's file is known only once runpy found it."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if path:
        run.record["script"] = os.path.abspath(path)
        run.record["command"] = list(sys.argv)


# -- in the recorded run ---------------------------------------------------------------------

def install(run: Run) -> None:
    """Follow the child processes of `run`, this process's run (or, in a worker, the run
    it works for): set the environment its children inherit, and watch what it starts.
    A child run also tells its parent about itself here."""
    global _installed
    if not run.config.capture_children:
        return
    follow(run.id, run.config.home)
    if run.record.get("parent") and run.worker_pid is None:
        _tell_parent(run)
    if _installed:
        return
    _installed = True
    from . import hooks

    _wrap_os()
    hooks.when_imported("subprocess", _wrap_subprocess)
    if run.worker_pid is None:
        _end_after_multiprocessing()
    if sys.flags.no_site or sys.flags.ignore_environment:
        for module in _WORKER_STARTERS:
            hooks.when_imported(module, _warn_workers_unrecorded)


def follow(run_id: str, home: str) -> None:
    """Make the interpreters started from now on bootstrap into `run_id`."""
    _followed.add(run_id)
    os.environ.update(_variables(os.environ, run_id, home))


def _variables(env: Mapping[str, str], run_id: str, home: str) -> dict[str, str]:
    """The bootstrap must come first on PYTHONPATH: a `sitecustomize` before it would
    shadow it (it runs the one it shadows itself)."""
    others = [entry for entry in env.get("PYTHONPATH", "").split(os.pathsep)
              if entry and entry != BOOTSTRAP_DIRECTORY]
    return {ENVIRONMENT_VARIABLE: f"{run_id}:{home}",
            "PYTHONPATH": os.pathsep.join([BOOTSTRAP_DIRECTORY, *others])}


def _tell_parent(run: Run) -> None:
    from ..record import journal
    from ..record.fields import now

    parent_id, home = run.record["parent"], run.config.home
    parent = journal.Journal(home, parent_id)
    if not os.path.exists(parent.record_path):
        return  # the parent's run has ended and is stored: the link stays one-way
    try:
        parent.append_events([{"kind": "child", "id": run.id, "pid": os.getpid(),
                               "time": now()}], durable=False)
    except OSError:
        pass  # the parent cannot be written either: its own warning says so


def _end_after_multiprocessing() -> None:
    """multiprocessing joins the processes left running at exit (an `atexit` handler of
    its own), and what they write belongs to the run: so the run must end after that
    handler. atexit runs the last registered first; multiprocessing imported before
    recipe registered its handler earlier, so it is registered again, as multiprocessing
    itself does in `util.get_logger`."""
    util = sys.modules.get("multiprocessing.util")
    exit_function = getattr(util, "_exit_function", None)
    if exit_function is not None:
        import atexit

        atexit.unregister(exit_function)
        atexit.register(exit_function)


def _warn_workers_unrecorded(_module: ModuleType) -> None:
    global _warned_workers
    if not _warned_workers:
        _warned_workers = True
        messages.warn("the files of this run's spawn, forkserver and loky workers are not "
                      "recorded: python -S, -E or -I keeps recipe out of new interpreters")


def _user_run() -> Run | None:
    """The run that a process started here and now belongs to; None when the user's code
    is not recording, or this is recipe's own work (git, the store's merger)."""
    import threading

    from ..record import recorder

    run = recorder.current()
    if run is None or run.ended or threading.current_thread() is run.own_thread:
        return None
    return run


def _with_variables(env: Any, run: Run) -> Any:
    """An environment given explicitly for a child, with what makes it bootstrap (a
    new mapping: the caller's is left as it was)."""
    if env is None or not all(isinstance(key, str) for key in env):
        return env  # None: os.environ, which has them; bytes keys: left as given
    return {**env, **_variables(env, run.id, run.config.home)}


def _argv(args: Any, shell: bool = False) -> list[str]:
    if isinstance(args, (str, bytes, os.PathLike)):
        args = [args]
    argv = [os.fsdecode(os.fspath(arg)) if isinstance(arg, (str, bytes, os.PathLike))
            else str(arg) for arg in args]
    return ["/bin/sh", "-c", *argv] if shell else argv


def _started(run: Run, argv: list[str], pid: int | None, exit_code: int | None = None
             ) -> None:
    from ..record.fields import now

    event: dict[str, Any] = {"kind": "command", "argv": argv, "pid": pid, "time": now(),
                             "exit_code": exit_code}
    if exit_code is None and pid is not None:
        _unwaited[pid] = None
    run.log_event(event)


def _exit_code(status: int) -> int | None:
    """The exit code (-N: killed by signal N, as subprocess says) of a wait status; None
    for a process that did not end (stopped, or os.system's -1: no shell started)."""
    try:
        return os.waitstatus_to_exitcode(status)
    except ValueError:
        return None


def _exited(pid: int, code: int | None, run: Run | None = None) -> None:
    """A command this process started has ended."""
    from ..record import recorder

    run = run or recorder.current()
    if code is None or pid not in _unwaited or run is None:
        return
    del _unwaited[pid]
    run.log_event({"kind": "exit", "pid": pid, "exit_code": code})


def end_of_run(run: Run) -> None:
    """At the end of `run`: the exit status of each command that ended but was never
    waited for, read without reaping it (WNOWAIT), so whoever waits later still can."""
    for pid in list(_unwaited):
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except (ChildProcessError, OSError):
            _unwaited.pop(pid, None)  # reaped behind our back (a library's own waitpid)
            continue
        if info is None:
            continue  # still running: its exit code stays null
        code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        _exited(pid, code, run)


def forget_commands() -> None:
    """In a forked child: the commands its parent started are not its to wait for."""
    _unwaited.clear()


# -- wrappers --------------------------------------------------------------------------------

def _wraps(original: Callable, wrapper: Callable) -> Callable:
    """`wrapper` named as `original`, seen by `inspect.signature` through __wrapped__, and
    pickled (by reference, to a worker, say) as the name it replaces: `os.system`, where
    the original's own module (`posix`) still holds the original."""
    import functools

    wrapped = functools.wraps(original)(wrapper)
    if wrapped.__module__ == os.name:
        wrapped.__module__ = "os"
    return wrapped


def _guarded(what: str, action: Callable[[], None]) -> None:
    try:
        action()
    except Exception as exc:  # never-raise guard: the program's process call must happen
        messages.warn(f"could not record {what} ({type(exc).__name__}: {exc})")


def _wrap_subprocess(subprocess: ModuleType) -> None:
    popen = subprocess.Popen
    original_init, original_wait, original_poll = popen.__init__, popen.wait, popen.poll

    def __init__(self: Any, args: Any, *more: Any, **kwargs: Any) -> None:
        run = _user_run()
        if run is not None:
            if len(more) > 9:  # env given by position: bufsize ... cwd, env
                more = (*more[:9], _with_variables(more[9], run), *more[10:])
            elif kwargs.get("env") is not None:
                kwargs["env"] = _with_variables(kwargs["env"], run)
        with without_this_frame:
            original_init(self, args, *more, **kwargs)
        if run is not None:
            shell = kwargs.get("shell", more[7] if len(more) > 7 else False)
            _guarded("a command", lambda: _started(run, _argv(self.args, bool(shell)),
                                                  self.pid))

    def wait(self: Any, *args: Any, **kwargs: Any) -> Any:
        with without_this_frame:
            code = original_wait(self, *args, **kwargs)
        if self.pid in _unwaited:
            _guarded("an exit status", lambda: _exited(self.pid, code))
        return code

    def poll(self: Any) -> Any:
        with without_this_frame:
            code = original_poll(self)
        if code is not None and self.pid in _unwaited:
            _guarded("an exit status", lambda: _exited(self.pid, code))
        return code

    popen.__init__ = _wraps(original_init, __init__)
    popen.wait = _wraps(original_wait, wait)
    popen.poll = _wraps(original_poll, poll)


def _wrap_os() -> None:
    system, execv, execve = os.system, os.execv, os.execve
    posix_spawn, posix_spawnp = os.posix_spawn, os.posix_spawnp
    waitpid, wait = os.waitpid, os.wait

    def os_system(command: Any) -> int:
        with without_this_frame:
            status = system(command)
        run = _user_run()
        if run is not None:
            _guarded("a command", lambda: _started(run, _argv(command, shell=True), None,
                                                  _exit_code(status)))
        return status

    def spawner(original: Callable) -> Callable:
        def spawn(path: Any, argv: Any, env: Any, /, *args: Any, **kwargs: Any) -> int:
            run = _user_run()
            if run is not None:
                env = _with_variables(env, run)
            with without_this_frame:
                pid = original(path, argv, env, *args, **kwargs)
            if run is not None:
                _guarded("a command", lambda: _started(run, _argv(argv), pid))
            return pid

        return _wraps(original, spawn)

    def exec_before(path: Any, argv: Any) -> None:
        """The process becomes another program: it goes into the commands, and the run
        ends here (status completed, no exit code) instead of vanishing unfinished.
        A path that cannot be run fails as it would, the run going on (os.execvp tries
        each directory of PATH in turn)."""
        run = _user_run()
        if run is None or not os.access(path, os.X_OK):
            return
        _started(run, _argv(argv), os.getpid())
        if run.worker_pid is None:
            # Not into the store yet: a Python program after the exec registers in this
            # run's journal as its child, and its own end stores both.
            run.store_at_end = False
            run.finish("completed", None)

    def os_execv(path: Any, argv: Any, /) -> None:
        _guarded("a command", lambda: exec_before(path, argv))
        with without_this_frame:
            execv(path, argv)

    def os_execve(path: Any, argv: Any, env: Any) -> None:
        run = _user_run()
        if run is not None:
            env = _with_variables(env, run)
        _guarded("a command", lambda: exec_before(path, argv))
        with without_this_frame:
            execve(path, argv, env)

    def reaper(original: Callable) -> Callable:
        def reap(*args: Any) -> Any:
            with without_this_frame:
                pid, status = result = original(*args)
            if pid:
                _guarded("an exit status", lambda: _exited(pid, _exit_code(status)))
            return result

        return _wraps(original, reap)

    os.system = _wraps(system, os_system)
    os.posix_spawn, os.posix_spawnp = spawner(posix_spawn), spawner(posix_spawnp)
    os.execv, os.execve = _wraps(execv, os_execv), _wraps(execve, os_execve)
    os.waitpid, os.wait = reaper(waitpid), reaper(wait)


def end_workers_at_exit() -> None:
    """A worker leaves through os._exit (multiprocessing's way), which runs no atexit
    handler: its part of the run ends first. Once: forked workers inherit the wrapper."""
    global _exit_wrapped
    if _exit_wrapped:
        return
    _exit_wrapped = True
    original = os._exit

    def _exit(status: int) -> None:
        from ..record import recorder

        run = recorder.current()
        if run is not None and run.worker_pid is not None:
            _guarded("a worker's end", run.end_as_worker)
        original(status)

    os._exit = _wraps(original, _exit)
