"""Every way a run can end, seen without changing how the script ends: at exit, how the
script's outermost frame ended (returned, or left by an exception: `sys.last_value`, or a
SystemExit whose code sys.exit/exit(n) noted or the raising bytecode shows), SIGTERM
handled.

See docs/design.md ("How a run ends") for the table of endings and two CPython details
that shape this module.
"""

from __future__ import annotations

# The C module behind `signal`: the same functions without the enum conversions that make
# `import signal` cost ~5 ms, a sixth of the start-up budget.
import _signal as signal
import atexit
import os
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .recorder import Run


def exit_status(code: Any) -> int:
    """The process exit status of sys.exit(code): None is 0, an int itself, else 1."""
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def format_exception(exc: BaseException) -> str:
    """The traceback as Python prints it, formatted by the interpreter's own C code:
    importing `traceback` here would cost the KeyboardInterrupt exit status (see
    `preload_ending_modules`)."""
    import io

    buffer = io.StringIO()
    saved, sys.stderr = sys.stderr, buffer
    try:
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
    finally:
        sys.stderr = saved
    return buffer.getvalue()


def preload_ending_modules(cache_dir: str) -> None:
    """Import (and cache) what `finish` needs while the script still runs, off its
    critical path.

    A plain script hands its run to a detached merger: it never needs the store's modules
    (typing, contextlib: ~8 ms of CPU on the recorder's thread, which competes with the
    script for the interpreter lock).

    Also a correctness matter: CPython exits with status 130 after an uncaught
    KeyboardInterrupt only if no `exec` of a source string happens afterwards, and imports
    that build namedtuples or dataclasses do exactly that."""
    try:
        if "tinydb" in sys.modules:  # `delivery` merges in this process, not in a merger
            from ..store import merge  # noqa: F401
        from . import environment

        environment.build_distributions_cache(cache_dir)  # library_versions reads it
    except Exception:  # never-raise guard: `finish` does it all again and reports
        pass


class _NotingExit:
    """sys.exit / exit / quit that first tell the run the exit code they were given (on the
    main thread only: elsewhere SystemExit ends just that thread)."""

    def __init__(self, original: Any) -> None:
        self._original = original
        self.__doc__ = original.__doc__

    def __call__(self, code: Any = None) -> None:
        if threading.current_thread() is threading.main_thread():
            _run.note_exit(code)
        self._original(code)

    def __repr__(self) -> str:
        return repr(self._original)


# The run the hooks act on: installed once per process, they move on to each new run of a
# process that records one run after another (a notebook session's `recipe.new_run()`).
_run: Run | None = None
# The outermost frame of the main thread running the script (`python script.py`, `-c`,
# `-m`'s runpy frame): kept while it runs, so that at exit its last instruction tells
# whether it returned or an exception left it.
_main_frame: Any = None
_watching = False  # a process that ends when the script does, not an interactive one


def install(run: Run, *, exits: bool = True) -> None:
    """Chain to whatever hooks were there before; never replace them blindly. `exits`:
    the process ends when the script does (not a kernel, which catches SystemExit)."""
    global _run
    first = _run is None
    _run = run
    if not first:
        return
    if exits:
        global _watching
        _watching = not (sys.flags.interactive or hasattr(sys, "ps1"))
        watch_main_frame()
        sys.exit = _NotingExit(sys.exit)
        import builtins

        for name in ("exit", "quit"):  # the site module's exit(n), common in scripts
            if hasattr(builtins, name):
                setattr(builtins, name, _NotingExit(getattr(builtins, name)))
        atexit.register(_at_exit)
    else:
        atexit.register(lambda: _run.finish())

    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous == signal.SIG_IGN:
        return

    def on_sigterm(signum: int, frame: Any) -> None:
        _run.finish("interrupted", 128 + signum)
        if callable(previous):
            previous(signum, frame)
            return
        # Die of the signal as the script would have without recipe.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, on_sigterm)


def watch_main_frame() -> bool:
    """Find the frame the script runs in, if it runs yet: the outermost frame of the main
    thread, when it executes in `__main__` (or is runpy's, for `python -m`). True once
    found. Called at the start and again by the recorder's thread (a child run starts
    from `sitecustomize`, before the script does)."""
    global _main_frame
    if _main_frame is not None or not _watching:
        return True
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None and frame.f_back is not None:
        frame = frame.f_back
    if frame is None:
        return False
    main = sys.modules.get("__main__")
    runpy = sys.modules.get("runpy")
    if (main is not None and frame.f_globals is vars(main)) or (
            runpy is not None and frame.f_code is getattr(
                getattr(runpy, "_run_module_as_main", None), "__code__", None)):
        _main_frame = frame
        return True
    return False


# The exit status is not visible: a SystemExit raised with a computed code on Python 3.11.
UNKNOWN_STATUS = object()


def _at_exit() -> None:
    """The normal end of the process: end the run with the status the interpreter exits
    with."""
    run = _run
    if run is None:
        return
    global _main_frame
    frame, _main_frame = _main_frame, None  # let the frame go before the modules are cleared
    if frame is None:  # never seen: what sys.exit noted, or the exception left unhandled
        exception = getattr(sys, "last_value", None)
        if exception is not None:
            run.note_exception(exception)
        run.finish()
        return
    status, exception = how_the_frame_ended(frame, run.noted_exit)
    if exception is not None:
        run.note_exception(exception)
        run.finish()
    elif status is UNKNOWN_STATUS:
        run.finish("failed", None, exit_unknown=True)
    else:
        run.finish("completed" if status == 0 else "failed", status)


def _returns_a_value(value: Any) -> Any:
    return value


def _returns_none() -> None:
    return None


# The opcodes a frame returns with (RETURN_VALUE; also RETURN_CONST on 3.12 and 3.13), read
# off the last instruction of two functions this interpreter compiled: `import opcode`
# costs a script that imports no `dis` or `inspect` itself 0.5-2 ms.
_RETURN_OPCODES = frozenset(function.__code__.co_code[-2]
                            for function in (_returns_a_value, _returns_none))


def how_the_frame_ended(frame: Any, noted_exit: int | None
                        ) -> tuple[int | object | None, BaseException | None]:
    """(exit status, uncaught exception) of a script whose outermost frame has ended.

    It returned (its last instruction is a return): 0, whatever sys.exit was called and
    caught on the way. An exception left it: the interpreter set `sys.last_value` before
    calling whatever `sys.excepthook` the script installed, for every exception but
    SystemExit. Else a SystemExit: the code sys.exit/exit(n) noted, or the literal or
    module-level name of a `raise SystemExit(...)` in that frame; UNKNOWN_STATUS if
    none of these tells it."""
    code = frame.f_code.co_code
    last = code[frame.f_lasti] if 0 <= frame.f_lasti < len(code) else None
    if last in _RETURN_OPCODES:
        return 0, None
    exception = getattr(sys, "last_value", None)
    if exception is not None and _raised_through(exception, frame):
        return None, exception
    raised = _raised_code(frame)
    if raised is not UNKNOWN_STATUS:
        return exit_status(raised), None
    if noted_exit is not None:
        return noted_exit, None
    return UNKNOWN_STATUS, None


def _raised_through(exception: BaseException, frame: Any) -> bool:
    traceback = exception.__traceback__
    while traceback is not None:
        if traceback.tb_frame is frame:
            return True
        traceback = traceback.tb_next
    return False


_IGNORED_OPCODES = {"PUSH_NULL", "PRECALL", "CACHE", "NOP", "EXTENDED_ARG", "KW_NAMES"}


def _raised_code(frame: Any) -> Any:
    """The code of the `raise SystemExit`, `raise SystemExit(<literal>)` or `raise
    SystemExit(<module global>)` the frame ended at, else UNKNOWN_STATUS. Rare enough
    (every other ending is known before this) to pay for importing `dis`."""
    import dis

    tail = [instruction for instruction in dis.get_instructions(frame.f_code)
            if instruction.offset <= frame.f_lasti
            and instruction.opname not in _IGNORED_OPCODES][-4:]
    names = [instruction.opname for instruction in tail]
    if names[-1:] != ["RAISE_VARARGS"] or tail[-1].arg != 1:
        return UNKNOWN_STATUS
    if names[-2:-1] in (["LOAD_NAME"], ["LOAD_GLOBAL"]) and tail[-2].argval == "SystemExit":
        return None
    if (len(tail) < 4 or names[-2] != "CALL" or tail[-2].arg != 1
            or names[-4] not in ("LOAD_NAME", "LOAD_GLOBAL") or tail[-4].argval != "SystemExit"):
        return UNKNOWN_STATUS
    argument = tail[-3]
    if argument.opname == "LOAD_CONST":
        return argument.argval
    if argument.opname in ("LOAD_NAME", "LOAD_GLOBAL") and argument.argval in frame.f_globals:
        return frame.f_globals[argument.argval]
    return UNKNOWN_STATUS
