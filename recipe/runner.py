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

from . import recorder


class ScriptNotFound(Exception):
    exit_code = 2


class BadParameters(ValueError):
    """Unknown parameter, bad value or missing required one: nothing was run."""


def _inject(found, values: dict, given: dict[str, str], tree: ast.Module,  # noqa: ANN001
            args: list[str]) -> list[str]:
    """Make the script see the given values: through recipe.Param, by replacing the first
    assignment of a module-level literal, or as argparse options. Returns the argv tail."""
    import recipe

    style = found.parameters[0].source if found.parameters else None
    if style == "Param":
        recipe._injected.update({name: values[name] for name in given})
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
    return args


def run_script(script: str, args: list[str], given: dict[str, Any] | None = None, *,
               typed: bool = False, tags: list[str] = (), label: str | None = None) -> int:
    """Run `script` with `args` and the parameter values `given` (as typed after -p, or
    Python values if `typed`), recorded; return the exit code the script would have had.
    Raises ScriptNotFound, or BadParameters before anything runs."""
    from . import params as discovery_module

    path = os.path.abspath(script)
    if not os.path.isfile(path):
        raise ScriptNotFound(f"no script {script!r}")
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        tree = ast.parse(source, filename=path)
    except SyntaxError:
        traceback.print_exc(limit=0)
        return 1
    except OSError as exc:
        raise ScriptNotFound(f"cannot read {script!r}: {exc.strerror}") from None
    try:
        found = discovery_module.discover_in(tree, path)
        values = discovery_module.resolve(found, given or {}, typed=typed)
    except ValueError as exc:  # DiscoveryError is one
        raise BadParameters(str(exc)) from None
    args = _inject(found, values, given or {}, tree, list(args))
    code = compile(tree, path, "exec", dont_inherit=True)

    own_modules = {name.partition(".")[0] for name in sys.modules}
    sys.argv = [script, *args]
    sys.path[0] = os.path.dirname(path)
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__builtins__ = builtins
    main.__loader__ = None
    sys.modules["__main__"] = main

    run = recorder.start(path, sys.argv, own_modules=own_modules)
    if run is not None:
        if label is not None:
            run.set_label(label)
        run.add_tags(list(tags))
        for name, value in values.items():
            run.set_param(name, value)
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

