"""Every way a run can end, seen without changing how the script ends: sys.exit and
exit(n) noted, the excepthook chained, SIGTERM handled, atexit for the normal end.

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

    Also a correctness matter: CPython exits with status 130 after an uncaught
    KeyboardInterrupt only if no `exec` of a source string happens afterwards, and imports
    that build namedtuples or dataclasses do exactly that."""
    try:
        from ..store import merge  # noqa: F401
        from . import environment

        environment.build_distributions_cache(cache_dir)  # library_versions reads it
    except Exception:  # never-raise guard: `finish` does it all again and reports
        pass


class _NotingExit:
    """sys.exit / exit / quit that first tell the run the exit code they were given."""

    def __init__(self, original: Any) -> None:
        self._original = original
        self.__doc__ = original.__doc__

    def __call__(self, code: Any = None) -> None:
        _run.note_exit(code)
        self._original(code)

    def __repr__(self) -> str:
        return repr(self._original)


# The run the hooks act on: installed once per process, they move on to each new run of a
# process that records one run after another (a notebook session's `recipe.new_run()`).
_run: Run | None = None


def install(run: Run, *, exits: bool = True) -> None:
    """Chain to whatever hooks were there before; never replace them blindly. `exits`:
    note sys.exit / exit / quit codes (not in a kernel, which catches SystemExit)."""
    global _run
    first = _run is None
    _run = run
    if not first:
        return
    previous_excepthook = sys.excepthook

    def excepthook(kind, value, tb):  # noqa: ANN001 - sys.excepthook signature
        _run.note_exception(value)
        previous_excepthook(kind, value, tb)

    sys.excepthook = excepthook

    if exits:
        sys.exit = _NotingExit(sys.exit)
        import builtins

        for name in ("exit", "quit"):  # the site module's exit(n), common in scripts
            if hasattr(builtins, name):
                setattr(builtins, name, _NotingExit(getattr(builtins, name)))
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
