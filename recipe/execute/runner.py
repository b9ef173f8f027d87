"""`recipe run`: execute a script as the real `__main__` of this process, recorded.

Like coverage.py's PyRunner: `sys.argv` is the script's, `sys.path[0]` its directory,
`if __name__ == "__main__":` blocks run, and a traceback shows none of recipe's frames.
"""

from __future__ import annotations

import ast
import builtins
import os
import sys
import traceback
import types
from typing import Any

from ..record import endings, recorder
from ..record.fields import computation
from . import params as discovery_module


class ScriptNotFound(Exception):
    exit_code = 2


class BadParameters(ValueError):
    """Unknown parameter, bad value or missing required one: nothing was run."""


class Prepared:
    """A script read, its parameters resolved and injected: ready to execute."""

    def __init__(self, path: str, source: bytes, code: types.CodeType,
                 values: dict[str, Any], injected: dict[str, Any], args: list[str],
                 reads_argv: bool) -> None:
        self.path = path
        self.code = code
        self.values = values  # every parameter's value, as recorded
        self.injected = injected  # what recipe.Param returns instead of its default
        self.args = args  # the script's argv after its path
        self.reads_argv = reads_argv  # argparse parameters: the values travel in `args`
        self.computation = computation(source, values)


def prepare(script: str, args: list[str], given: dict[str, Any] | None = None, *,
            typed: bool = False) -> Prepared:
    """Read `script` and make it see the values `given` (as typed after -p, or Python
    values if `typed`): through recipe.Param, by replacing the first assignment of a
    module-level literal, or as argparse options. Raises ScriptNotFound, SyntaxError, or
    BadParameters."""
    path = os.path.abspath(script)
    if not os.path.isfile(path):
        raise ScriptNotFound(f"no script {script!r}")
    try:
        with open(path, "rb") as handle:
            source = handle.read()
    except OSError as exc:
        raise ScriptNotFound(f"cannot read {script!r}: {exc.strerror}") from None
    tree = ast.parse(source, filename=path)
    given = given or {}
    try:
        found = discovery_module.discover_in(tree, path)
        values = discovery_module.resolve(found, given, typed=typed)
    except ValueError as exc:  # DiscoveryError is one
        raise BadParameters(str(exc)) from None
    args = list(args)
    injected = {}
    style = found.parameters[0].source if found.parameters else None
    if style == "Param":
        injected = {name: values[name] for name in given}
    elif style == "global":
        # The assignment discovery took the default from (the first literal one).
        lines = {p.line: p.name for p in found.parameters if p.name in given}
        for node in tree.body:
            if node.lineno in lines and isinstance(node, (ast.Assign, ast.AnnAssign)):
                node.value = ast.copy_location(ast.Constant(values[lines[node.lineno]]),
                                               node.value)
    elif style == "argparse":
        for parameter in found.parameters:
            if parameter.name not in given:
                continue
            value = values[parameter.name]
            if parameter.action in ("store_true", "store_false"):
                if value == (parameter.action == "store_true"):
                    args.append(parameter.flag)
            elif parameter.flag.startswith("-"):
                args += [parameter.flag, str(value)]
            else:
                args.append(str(value))
    code = compile(tree, path, "exec", dont_inherit=True)
    return Prepared(path, source, code, values, injected, args, style == "argparse")


def run_script(script: str, args: list[str], given: dict[str, Any] | None = None, *,
               typed: bool = False, tags: list[str] = (), label: str | None = None,
               placement: dict[str, Any] | None = None) -> int:
    """Run `script` with `args` and the parameter values `given` (as typed after -p, or
    Python values if `typed`), recorded; return the exit code the script would have had.
    Raises ScriptNotFound, or BadParameters before anything runs. `placement`: what a
    sweep tells the recorder (recorder.start's keyword arguments)."""
    import recipe

    try:
        prepared = prepare(script, args, given, typed=typed)
    except SyntaxError:
        traceback.print_exc(limit=0)
        return 1
    recipe._injected.set(prepared.injected)

    own_modules = {name.partition(".")[0] for name in sys.modules}
    sys.argv = [script, *prepared.args]
    sys.path[0] = os.path.dirname(prepared.path)
    main = types.ModuleType("__main__")
    main.__file__ = prepared.path
    main.__builtins__ = builtins
    main.__loader__ = None
    sys.modules["__main__"] = main

    # In the start record already: a run that dies early still says what it computed.
    fields = {"computation": prepared.computation, "params": dict(prepared.values)}
    placement = dict(placement or {})
    fields.update(placement.pop("fields", {}))
    run = recorder.start(prepared.path, sys.argv, own_modules=own_modules, fields=fields,
                         **placement)
    if run is not None:
        if label is not None:
            run.set_label(label)
        run.add_tags(list(tags))
    status, exit_code, _value, _error = guarded(run, exec, prepared.code, main.__dict__)
    if run is not None:
        run.finish(status, exit_code)
    return exit_code


def guarded(run: recorder.Run | None, call: Any, /, *args: Any, **kwargs: Any
            ) -> tuple[str, int, Any, str | None]:
    """Call the user's code as the interpreter would run it: a traceback (without this
    frame) on stderr, sys.exit(n) an exit status. Returns (status, exit code, returned
    value, "Type: message" if it failed); the run learns the exception or exit code."""
    try:
        return "completed", 0, call(*args, **kwargs), None
    except SystemExit as exc:
        if run is not None:
            run.note_exit(exc.code)
        exit_code = endings.exit_status(exc.code)
        if exc.code is not None and not isinstance(exc.code, int):
            print(exc.code, file=sys.stderr)
        if exit_code == 0:
            return "completed", 0, None, None
        return "failed", exit_code, None, f"SystemExit: {exc.code}"
    except BaseException as exc:
        # Drop this frame from the traceback: the user sees only their own code.
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)
        if run is not None:
            run.note_exception(exc)
        status, exit_code = ("interrupted", 130) if isinstance(exc, KeyboardInterrupt) \
            else ("failed", 1)
        return status, exit_code, None, f"{type(exc).__name__}: {exc}"
