"""What `recipe.sweep` runs: a script, a notebook, or a function given as "file.py:function"
or as a Python callable. One interface for all: its parameters, how to resolve given
values, the identity of a computation, and the record fields of its runs."""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import threading
from typing import Any

from ..record.fields import computation
from . import params as discovery
from .params import REQUIRED, SCALARS, Discovery, Parameter

# Set while a function's file is imported to find the function in it: a `recipe.sweep`
# call at its top level (not under `if __name__ == "__main__":`) would start sweeps
# recursively, so it raises instead (see recipe.sweep).
importing_target = threading.local()


class Target:
    """A script or a function, with its parameters and the code that identifies it."""

    def __init__(self, *, path: str, discovered: Discovery, code: bytes,
                 qualname: str | None = None, module: str | None = None,
                 function: Any = None) -> None:
        self.path = path  # the script, or the function's file: the runs' `script`
        self.discovered = discovered
        self.code = code  # the script's content or the function's source lines
        self.qualname = qualname  # None for a script
        self.module = module  # an importable module holding the function, if not a file
        self._function = function
        self._lock = threading.Lock()

    @property
    def is_function(self) -> bool:
        return self.qualname is not None

    @property
    def is_notebook(self) -> bool:
        """A notebook, run in a Jupyter kernel of its own (execute/notebook.py)."""
        return not self.is_function and self.path.endswith(".ipynb")

    @property
    def parameters(self) -> dict[str, Parameter]:
        return {parameter.name: parameter for parameter in self.discovered.parameters}

    @property
    def argv(self) -> list[str]:
        """The runs' `command`: the script, or "file.py:function"."""
        return [f"{self.path}:{self.qualname}"] if self.is_function else [self.path]

    def resolve(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every parameter's value (ValueError: unknown, bad or missing)."""
        return discovery.resolve(self.discovered, given, typed=True)

    def computation(self, values: dict[str, Any]) -> str:
        return computation(self.code, values)

    def reads_argv(self) -> bool:
        parameters = self.discovered.parameters
        return bool(parameters) and parameters[0].source == "argparse"

    def function(self) -> Any:
        """The function itself, importing its file once in this process if need be."""
        with self._lock:
            if self._function is None:
                self._function = load_function(self.where())
            return self._function

    def check_portable(self) -> None:
        """ValueError unless a fresh interpreter can find the function."""
        if self.is_function and ("<" in self.qualname or not os.path.isfile(self.path)):
            raise ValueError(f"{self.qualname} cannot be found by a fresh interpreter (a "
                             "lambda, a nested function, or code without a file): define it "
                             "at the top level of a file, or use the thread or inline "
                             "executor")

    def where(self) -> dict[str, Any]:
        """How a fresh interpreter finds the function (see `load_function`)."""
        return {"file": None if self.module else self.path, "module": self.module,
                "qualname": self.qualname}


def of(target: Any) -> Target:
    """The Target for a script or notebook path, "file.py:function", or a callable
    (ValueError)."""
    if callable(target):
        return _of_callable(target)
    text = os.fspath(target)
    if text.endswith(".ipynb"):
        return _of_notebook(text)
    file, colon, name = text.rpartition(":")
    if colon and file.endswith(".py") and name.isidentifier():
        return _of_file_function(file, name)
    return _of_script(text)


def _of_script(script: str) -> Target:
    path = os.path.abspath(script)
    try:
        with open(path, "rb") as handle:
            code = handle.read()
    except OSError as exc:
        raise ValueError(f"cannot read the script {script!r}: {exc.strerror}") from None
    try:
        tree = ast.parse(code, filename=path)
    except SyntaxError as exc:
        raise ValueError(f"{path}:{exc.lineno}: cannot parse the script: {exc.msg}") from None
    return Target(path=path, discovered=discovery.discover_in(tree, path), code=code)


def _of_notebook(notebook: str) -> Target:
    """A notebook: its parameters cell's literals; its code cells identify it."""
    from ..capture.notebook import code_of
    from .notebook import discover, read

    path = os.path.abspath(notebook)
    document = read(path)  # DiscoveryError is a ValueError
    return Target(path=path, discovered=discover(document, path), code=code_of(document))


def _of_file_function(file: str, name: str) -> Target:
    """A top-level function of a file, read from its source without importing it."""
    path = os.path.abspath(file)
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        tree = ast.parse(source, filename=path)
    except OSError as exc:
        raise ValueError(f"cannot read {file!r}: {exc.strerror}") from None
    except SyntaxError as exc:
        raise ValueError(f"{path}:{exc.lineno}: cannot parse the file: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            break
    else:
        raise ValueError(f"{file} has no top-level function {name!r}")
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    lines = source.decode("utf-8", "replace").splitlines(keepends=True)
    code = "".join(lines[first - 1:node.end_lineno]).encode()
    return Target(path=path, discovered=Discovery(_ast_parameters(node, path), []), code=code,
                  qualname=name)


def _ast_parameters(node: ast.FunctionDef, path: str) -> list[Parameter]:
    arguments = node.args
    positional = arguments.posonlyargs + arguments.args
    defaults: list[ast.expr | None] = \
        [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    pairs = list(zip(positional, defaults, strict=True)) + list(
        zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True))
    found = []
    for argument, default in pairs:
        if default is None:
            value = REQUIRED
        else:
            try:
                value = ast.literal_eval(default)
            except ValueError:
                continue  # not a literal: the function keeps its own default
        found.append((argument.arg, value, argument.lineno))
    return _parameters(found, path)


def _parameters(found: list[tuple[str, Any, int]], path: str) -> list[Parameter]:
    """Function parameters: those with a scalar default, or none (required); a name
    starting with `_` is passed when given, never a parameter."""
    return [Parameter(name, value, discovery.type_name(value), line, "function")
            for name, value, line in found
            if not name.startswith("_") and (value is REQUIRED or isinstance(value, SCALARS))]


def _of_callable(function: Any) -> Target:
    import inspect

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        raise ValueError(f"cannot read the parameters of {function!r}") from None
    try:
        lines, first_line = inspect.getsourcelines(function)
        path = inspect.getsourcefile(function) or "<unknown>"
    except (OSError, TypeError):
        raise ValueError(f"cannot read the source of {function!r}: recipe identifies a "
                         "computation by its code") from None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    found = [(p.name, REQUIRED if p.default is inspect.Parameter.empty else p.default,
              first_line) for p in signature.parameters.values() if p.kind in kinds]
    qualname = getattr(function, "__qualname__", None) or getattr(function, "__name__", "")
    module = getattr(function, "__module__", None)
    if module == "__main__" or not module or module.startswith("__recipe_target_"):
        module = None  # found again by its file, in a fresh interpreter
    return Target(path=os.path.abspath(path) if not path.startswith("<") else path,
                  discovered=Discovery(_parameters(found, path), []),
                  code="".join(lines).encode(), qualname=qualname, module=module,
                  function=function)


def load_function(where: dict[str, Any]) -> Any:
    """The function `where` names: {"module": importable name} or {"file": path}, and
    its "qualname". A file is imported as a module that is not `__main__`, so its
    `if __name__ == "__main__":` block does not run."""
    if where.get("module"):
        namespace: Any = importlib.import_module(where["module"])
    else:
        path = where["file"]
        name = "__recipe_target_" + computation(path.encode(), {})[:12]
        namespace = sys.modules.get(name)
        if namespace is None:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise ValueError(f"cannot import {path}")
            namespace = importlib.util.module_from_spec(spec)
            directory = os.path.dirname(path)
            if directory not in sys.path:
                sys.path.insert(0, directory)  # its sibling modules, as when run as a script
            sys.modules[name] = namespace
            importing_target.active = True
            try:
                spec.loader.exec_module(namespace)
            except BaseException:
                del sys.modules[name]
                raise
            finally:
                importing_target.active = False
    for part in where["qualname"].split("."):
        namespace = getattr(namespace, part)
    return namespace


def outputs_of(returned: Any) -> dict[str, Any]:
    """A function's outputs: a dict gives one output per key, anything else `result`."""
    if isinstance(returned, dict) and all(isinstance(key, str) for key in returned):
        return dict(returned)
    return {"result": returned}
