"""`recipe run`: execute a script as the real `__main__` of this process, recorded.

Like coverage.py's PyRunner: `sys.argv` is the script's, `sys.path[0]` its directory,
`if __name__ == "__main__":` blocks run, and a traceback shows none of recipe's frames.
"""

from __future__ import annotations

import builtins
import os
import sys
import traceback
import types

from . import recorder


class ScriptNotFound(Exception):
    exit_code = 2


def run_script(script: str, args: list[str]) -> int:
    """Run `script` with `args`, recorded; return the exit code the script would have had."""
    path = os.path.abspath(script)
    if not os.path.isfile(path):
        raise ScriptNotFound(f"no script {script!r}")
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        code = compile(source, path, "exec", dont_inherit=True)
    except SyntaxError:
        traceback.print_exc(limit=0)
        return 1
    except OSError as exc:
        raise ScriptNotFound(f"cannot read {script!r}: {exc.strerror}") from None

    own_modules = {name.partition(".")[0] for name in sys.modules}
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(path)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__loader__ = None
    sys.modules["__main__"] = main

    run = recorder.start(path, sys.argv, own_modules=own_modules)
    status, exit_code = "completed", 0
    try:
        exec(code, main.__dict__)
    except SystemExit as exc:
        if run is not None:
            run.note_exit(exc.code)
        exit_code = recorder.exit_status(exc.code)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
        status = "completed" if exit_code == 0 else "failed"
    except BaseException as exc:
        # Drop this frame from the traceback: the user sees only their own code.
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        if run is not None:
            run.note_exception(exc)
        status, exit_code = ("interrupted", 130) if isinstance(exc, KeyboardInterrupt) \
            else ("failed", 1)
    if run is not None:
        run.finish(status, exit_code)
    return exit_code

