"""Declared input/output functions, the one wrapper that logs them, and apply/remove.

This module knows no library: each `recipe/patches/<library>.py` is a list of `Input` /
`Output` declarations, and the recorder registers itself as the sink of logged files.
"""

from __future__ import annotations

import contextvars
import os

TYPE_CHECKING = False  # keep typing, dataclasses and inspect off `import recipe`'s path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from types import ModuleType
    from typing import Any

    # The recorder's callback: sink(kind, path, function_name, hash_at_end).
    Sink = Callable[[str, str, str, bool], None]

# Set while a logged call runs: a declared function called by another one (np.load calling
# np.fromfile, savefig calling imsave) is not logged twice. Per thread and per task.
_inside_logged_call: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "recipe_inside_logged_call", default=False
)

# The recorder's callback; None: wrappers only call through.
_sink: Sink | None = None

# What `apply` changed, so that `remove` can put every original back:
# (owner, name, original attribute, whether the owner itself held it).
_applied: list[tuple[Any, str, Any, bool]] = []


class Declaration:
    """One function that reads (`kind="input"`) or writes (`"output"`) a file.

    `module` is where the attribute is looked up, `attribute` a dotted path inside it
    ("save", "Figure.savefig"), `argument` the name of the path parameter.
    `actual_path(path, given, kwargs)` maps the absolute path to the file really touched
    (np.save("x") writes x.npy), knowing the argument as given and the keyword arguments.
    """

    __slots__ = ("kind", "module", "attribute", "argument", "name", "actual_path")

    def __init__(self, kind: str, module: str, attribute: str, argument: str, name: str,
                 actual_path: Callable[[str, Any, dict], str] | None = None) -> None:
        self.kind = kind
        self.module = module
        self.attribute = attribute
        self.argument = argument
        self.name = name
        self.actual_path = actual_path

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}>"


def Input(module: str, attribute: str, argument: str, *, name: str | None = None,
          actual_path: Callable[[str, Any, dict], str] | None = None) -> Declaration:
    return Declaration("input", module, attribute, argument,
                       name or f"{module}.{attribute}", actual_path)


def Output(module: str, attribute: str, argument: str, *, name: str | None = None,
           actual_path: Callable[[str, Any, dict], str] | None = None) -> Declaration:
    return Declaration("output", module, attribute, argument,
                       name or f"{module}.{attribute}", actual_path)


def set_sink(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def path_of(value: Any) -> str | None:
    """The local file a path argument names: str, bytes, os.PathLike or an open file's
    `.name`; None for buffers, descriptors, URLs and anything else."""
    if isinstance(value, (str, bytes, os.PathLike)):
        try:
            path = os.fsdecode(os.fspath(value))
        except TypeError:
            return None
    else:
        name = getattr(value, "name", None)
        if not isinstance(name, (str, bytes)):
            return None
        path = os.fsdecode(name)
    if not path or "://" in path or "\n" in path:
        return None
    return os.path.abspath(os.path.expanduser(path))


def _path_position(function: Any, is_method: bool, argument: str) -> int | None:
    """Index of `argument` among the positional arguments a caller passes (self excluded).

    A function declared as `f(*args, **kwargs)` (pyplot.savefig) takes the path first."""
    import inspect

    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return None
    if is_method and parameters:
        parameters = parameters[1:]
    for index, parameter in enumerate(parameters):
        if parameter.name == argument:
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                return index
            return None
        if parameter.kind == parameter.VAR_POSITIONAL:
            return index
    return None


def _written_through(given: Any) -> bool:
    """Whether what an output call wrote is in the file once it returns. For a path, yes;
    for a plain open file, yes once flushed (flushing a plain file changes none of its
    bytes). Anything else (an ExcelWriter, a gzip stream) may hold the bytes until it is
    closed, so the file is hashed at the end of the run instead."""
    import io
    import pathlib

    if isinstance(given, (str, bytes, pathlib.PurePath)):
        return True
    if isinstance(given, (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom, io.FileIO)):
        if not given.closed:
            given.flush()
        return True
    return False


def _make_wrapper(declaration: Declaration, position: int | None, is_method: bool) -> Callable:
    argument = declaration.argument

    def log(instance: Any, args: tuple, kwargs: dict) -> None:
        if is_method and instance is None and args:
            args = args[1:]  # called through the class: Class.method(obj, path)
        if argument in kwargs:
            given = kwargs[argument]
        elif position is not None and position < len(args):
            given = args[position]
        else:
            return
        path = path_of(given)
        if path is None:
            return
        if declaration.actual_path is not None:
            path = declaration.actual_path(path, given, kwargs)
        deferred = declaration.kind == "output" and not _written_through(given)
        sink = _sink
        if sink is not None:
            sink(declaration.kind, path, declaration.name, deferred)

    def wrapper(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        if _sink is None or _inside_logged_call.get():
            return wrapped(*args, **kwargs)
        token = _inside_logged_call.set(True)
        try:
            result = wrapped(*args, **kwargs)
            # Logged inside the flag, so hashing and bookkeeping are never logged themselves.
            try:
                log(instance, args, kwargs)
            except Exception as exc:  # the one never-raise guard: recording must not break I/O
                _report_internal_error(declaration.name, exc)
            return result
        finally:
            _inside_logged_call.reset(token)

    return wrapper


_reported: set[str] = set()


def _report_internal_error(function_name: str, exc: Exception) -> None:
    """One line on stderr per function, never an exception into the user's code."""
    if function_name in _reported:
        return
    _reported.add(function_name)
    from .. import messages

    messages.warn(f"could not log a call of {function_name} ({type(exc).__name__}: {exc})")


def _resolve(module: ModuleType, attribute: str) -> tuple[Any, str] | None:
    """(object holding the attribute, last name), or None when the library lacks it."""
    parent: Any = module
    *path, last = attribute.split(".")
    for part in path:
        parent = getattr(parent, part, None)
        if parent is None:
            return None
    if not hasattr(parent, last):
        return None
    return parent, last


def apply(declarations: Iterable[Declaration], module: ModuleType) -> list[str]:
    """Wrap each declared function found in `module`; return the names patched.

    A name the installed version lacks is skipped: a library that renamed or dropped a
    function must never make its own import fail.
    """
    import wrapt  # lazily: only once a supported library is imported

    patched = []
    for declaration in declarations:
        resolved = _resolve(module, declaration.attribute)
        if resolved is None:
            continue
        parent, name = resolved
        is_class = isinstance(parent, type)
        # The attribute itself, not what binding makes of it: a wrapped method's getattr is
        # a fresh bound wrapper, and static/class methods must keep their descriptor type.
        raw = _static_lookup(parent, name) if is_class else getattr(parent, name)
        descriptor = type(raw) if isinstance(raw, (staticmethod, classmethod)) else None
        function = raw.__func__ if descriptor else raw
        if getattr(function, "_self_recipe_declaration", None) is not None:
            continue  # idempotent: already ours
        takes_self = is_class and descriptor is not staticmethod
        position = _path_position(function, takes_self, declaration.argument)
        wrapper = wrapt.FunctionWrapper(function,
                                        _make_wrapper(declaration, position, takes_self))
        # wrapt keeps `_self_` attributes on the wrapper instead of passing them through.
        wrapper._self_recipe_declaration = declaration
        own = not is_class or name in vars(parent)
        setattr(parent, name, descriptor(wrapper) if descriptor else wrapper)
        _applied.append((parent, name, raw, own))
        patched.append(declaration.name)
    return patched


def _static_lookup(cls: type, name: str) -> Any:
    """The attribute as stored in the first class of the MRO that has it."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    return getattr(cls, name)


def remove() -> None:
    """Put every original function back (the mirror of `apply`)."""
    while _applied:
        parent, name, original, owned = _applied.pop()
        if owned:
            setattr(parent, name, original)
        else:
            delattr(parent, name)  # the class inherited it: uncover the base's function again
