"""Declared file functions (Input, Output, Opens, Closes), the one wrapper that logs them,
and apply/remove.

This module knows no library: each `capture/patches/<library>.py` is a list of
declarations, and the recorder registers itself as the sink of logged files.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys
from types import FunctionType

TYPE_CHECKING = False  # keep typing, dataclasses and inspect off `import recipe`'s path
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import ModuleType
    from typing import Any

    # The recorder's callback: sink(kind, path, function_name, hash_at_end); kind is
    # "input", "output", "update" (read and written: the bytes decide), "before" (sent
    # before a call opens a file for update: note its content) or "complete" (the file
    # is closed: hash what waits for it). An input with hash_at_end is memory-mapped:
    # hashed soon, off the call. An input or output without hash_at_end that is not on
    # disk is dropped by the sink (the call left no local file).
    Sink = Callable[[str, str, str, bool], None]
    ActualPath = Callable[[str, Any, dict], "str | None"]
    Locate = Callable[[Any, Any], Any]

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
    """One function or method that reads or writes files, as data.

    `kind` says what a successful call means:

    - "input" / "output": it read / wrote the file named by `argument`; an output is hashed
      once the call returned, or later if given a writer object that may still hold the
      bytes, or if `until_closed` (it returns an object that writes until closed);
    - "open": it returns an open file or dataset, an input or an output by its `mode`
      argument (`kind_of_mode`); an output is hashed once closed (a "complete"
      declaration of the object's close method) or at the end of the run;
    - "complete": a close method; the file its object wrote is complete now;
    - "internal": the library's own bookkeeping (a cache's metadata): nothing inside the
      call is logged, by a declaration or otherwise.

    `module` is where the attribute is looked up, `attribute` a dotted path inside it
    ("save", "Figure.savefig"; "File.__init__" or "memmap.__new__" declare a class's
    constructor, named after the class), `argument` the name of the path parameter.
    Options, each for the odd case:

    - `actual_path(path, given, kwargs)`: the file really touched (np.save("x") writes
      x.npy), knowing the argument as given and the keyword arguments; None: no local file;
    - `mode`: (parameter, default) of an "open" declaration; no parameter: it always
      reads and writes (sqlite3.connect);
    - `many`: the argument may name several files (a list, nested too, or a glob pattern);
    - `locate(instance, given)`: the path when it is not the argument itself (kept on the
      object, or inside a store object given);
    - `positional`: the leading positional parameters, for a C function whose signature
      inspect cannot read;
    - `mapped`: the file is memory-mapped, its bytes read lazily, so an input is hashed
      by the recorder's thread instead of in the call (np.load of a 2 GiB file must not
      wait 6 s): True always (np.memmap), or the name of a parameter that maps it when
      given and not None (np.load's `mmap_mode`);
    - `expands_user`: the library expands a leading `~` to the home directory (pandas,
      xarray, pyarrow and imageio do; numpy and most others open `./~/x` as given), set
      for a whole library by `expanding_user`.
    """

    __slots__ = ("kind", "module", "attribute", "argument", "name", "actual_path", "mode",
                 "many", "until_closed", "locate", "positional", "mapped", "expands_user")

    def __init__(self, kind: str, module: str, attribute: str, argument: str | None,
                 name: str | None = None, actual_path: ActualPath | None = None, *,
                 mode: tuple[str | None, str] | None = None, many: bool = False,
                 until_closed: bool = False, locate: Locate | None = None,
                 positional: tuple[str, ...] = (), mapped: bool | str = False) -> None:
        self.kind = kind
        self.module = module
        self.attribute = attribute
        self.argument = argument
        self.name = name or f"{module}.{attribute}".removesuffix(".__init__").removesuffix(
            ".__new__")
        self.actual_path = actual_path
        self.mode = mode
        self.many = many
        self.until_closed = until_closed
        self.locate = locate
        self.positional = positional
        self.mapped = mapped
        self.expands_user = False

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name}>"


def Input(module: str, attribute: str, argument: str, *, name: str | None = None,
          actual_path: ActualPath | None = None, many: bool = False,
          locate: Locate | None = None, positional: tuple[str, ...] = (),
          mapped: bool | str = False) -> Declaration:
    return Declaration("input", module, attribute, argument, name, actual_path, many=many,
                       locate=locate, positional=positional, mapped=mapped)


def Output(module: str, attribute: str, argument: str, *, name: str | None = None,
           actual_path: ActualPath | None = None, many: bool = False,
           until_closed: bool = False, locate: Locate | None = None,
           positional: tuple[str, ...] = ()) -> Declaration:
    return Declaration("output", module, attribute, argument, name, actual_path, many=many,
                       until_closed=until_closed, locate=locate, positional=positional)


def Opens(module: str, attribute: str, argument: str, *, mode: str | None = "mode",
          default: str = "r", name: str | None = None, actual_path: ActualPath | None = None,
          locate: Locate | None = None, positional: tuple[str, ...] = (),
          mapped: bool = False) -> Declaration:
    """A function or constructor that returns an open file or dataset: `mode` (the name of
    its mode parameter, `default` when not given) decides input or output; `mode=None`:
    it always reads and writes, an input if the run left the bytes unchanged."""
    return Declaration("open", module, attribute, argument, name, actual_path,
                       mode=(mode, default if mode else "r+"), until_closed=True, locate=locate,
                       positional=positional, mapped=mapped)


def Closes(module: str, attribute: str, path_on_self: Callable[[Any], Any], *,
           name: str | None = None) -> Declaration:
    """A close method: what its object wrote to the file `path_on_self(obj)` is complete."""
    return Declaration("complete", module, attribute, None, name,
                       locate=lambda instance, _given: path_on_self(instance))


def Internal(module: str, attribute: str) -> Declaration:
    """A method whose files are the library's own bookkeeping: nothing in it is logged."""
    return Declaration("internal", module, attribute, None)


def expanding_user(declarations: list[Declaration]) -> list[Declaration]:
    """The declarations of a library that expands `~` in every path it takes."""
    for declaration in declarations:
        declaration.expands_user = True
    return declarations


def with_suffix(suffix: str) -> ActualPath:
    """An `actual_path` for libraries that append `suffix` to a path (not to an open file)
    that lacks it: np.save("x") writes x.npy."""

    def actual_path(path: str, given: object, kwargs: dict) -> str:
        if isinstance(given, (str, bytes, os.PathLike)) and not path.endswith(suffix):
            return path + suffix
        return path

    return actual_path


def kind_of_mode(mode: str) -> str:
    """"input", "output" or "update" (reads and writes: an input if the run left the bytes
    unchanged, else an output) for a file mode as libraries spell it: "r" reads; "w", "x",
    "w-" (create or truncate) write; "a", "r+" update; numpy.memmap's "c" (copy-on-write)
    and the long names "readonly", "readwrite", "write", "copyonwrite" too."""
    mode = mode.lower()
    if mode in ("c", "readonly", "copyonwrite"):
        return "input"
    if mode == "readwrite":
        return "update"
    if "w" in mode or "x" in mode:
        return "output"
    if "+" in mode or "a" in mode:
        return "update"
    if "r" in mode:
        return "input"
    return "update"  # a mode this rule does not know: the bytes decide


def set_sink(sink: Sink | None) -> None:
    global _sink
    _sink = sink


def path_of(value: Any, expand_user: bool = False) -> str | None:
    """The local file a path argument names: str, bytes, os.PathLike or an open file's
    `.name`; None for buffers, descriptors, URLs and anything else. A leading `~` is the
    directory `./~`, as `open` takes it, unless the library expands it (`expand_user`)."""
    if type(value) is str:  # the usual argument, taken first: every logged call asks
        path = value
    elif isinstance(value, (str, bytes, os.PathLike)):
        try:
            path = os.fsdecode(os.fspath(value))
        except TypeError:
            return None
    else:
        name = getattr(value, "name", None)
        # Only a file object's name is a path: h5py's FileID and netCDF4's Dataset have a
        # `name` too (the latter "/").
        if not isinstance(name, (str, bytes)) or not (
                hasattr(value, "read") or hasattr(value, "write")):
            return None
        path = os.fsdecode(name)
    if not path or "://" in path or "\n" in path:
        return None
    return absolute(os.path.expanduser(path) if expand_user else path)


def absolute(path: str) -> str:
    """os.path.abspath of a non-empty str, 0.8 us against 1.6 (every logged call and
    every recorded open asks): no os.path.join, and normpath only for a path it would
    change (Python 3.10's is written in Python, 1.2 us)."""
    if path[0] != "/":
        directory = os.getcwd()
        path = f"{directory}/{path}" if directory != "/" else f"/{path}"
    return path if is_normal(path) else os.path.normpath(path)


def is_normal(path: str) -> bool:
    """Whether an absolute path is as os.path.normpath would give it."""
    return ("//" not in path and "/./" not in path and "/../" not in path
            and not path.endswith(("/", "/.", "/..")))


def _each_given(given: Any, expand_user: bool) -> Iterator[Any]:
    """What a `many` argument names, one by one: the items of a list or tuple (nested
    too), the files a glob pattern matches (sorted, as xarray and netCDF4 expand them), or
    the argument itself."""
    if isinstance(given, (list, tuple)):
        for item in given:
            yield from _each_given(item, expand_user)
        return
    if isinstance(given, (str, os.PathLike)):
        pattern = os.fsdecode(os.fspath(given))
        if expand_user:
            pattern = os.path.expanduser(pattern)
        if any(char in pattern for char in "*?[") and not os.path.exists(pattern):
            import glob

            yield from sorted(glob.glob(pattern))
            return
    yield given


def _position(function: Any, is_method: bool, argument: str, *, path: bool,
              positional: tuple[str, ...] = ()) -> int | None:
    """Index of `argument` among the positional arguments a caller passes (self excluded).

    `positional` names them when inspect cannot (C functions). A function declared as
    `f(*args, **kwargs)` (pyplot.savefig) takes the path first, and any other argument by
    keyword only."""
    if positional:
        return positional.index(argument) if argument in positional else None
    parameters = _parameters(function)
    if parameters is None:
        return None
    if is_method and parameters:
        parameters = parameters[1:]
    for index, (name, kind) in enumerate(parameters):
        if name == argument:
            return index if kind == _POSITIONAL else None
        if kind == _VAR_POSITIONAL:
            return index if path else None
    return None


_POSITIONAL, _VAR_POSITIONAL, _OTHER = "positional", "*args", "other"
_CO_VARARGS = 0x04  # inspect.CO_VARARGS, without importing inspect


def _parameters(function: Any) -> list[tuple[str, str]] | None:
    """(name, kind) of each parameter, in order, as `inspect.signature` lists them; None
    when it cannot tell. A Python function (behind `__wrapped__`, as numpy's dispatchers
    and functools.wraps leave it) is read from its code object: `inspect.signature`
    costs 25-60 µs per function, paid by the first call of each declared one."""
    code_owner = function
    for _depth in range(64):
        if hasattr(code_owner, "__signature__") or not hasattr(code_owner, "__wrapped__"):
            break
        code_owner = code_owner.__wrapped__
    else:
        code_owner = None  # a cycle of __wrapped__ (or a chain that long): inspect's to say
    if type(code_owner) is FunctionType and not hasattr(code_owner, "__signature__"):
        code = code_owner.__code__
        names = code.co_varnames
        parameters = [(name, _POSITIONAL) for name in names[:code.co_argcount]]
        if code.co_flags & _CO_VARARGS:
            parameters.append((names[code.co_argcount + code.co_kwonlyargcount],
                               _VAR_POSITIONAL))
        return parameters + [(name, _OTHER) for name in
                             names[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]]
    import inspect

    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    return [(parameter.name,
             _POSITIONAL if parameter.kind in (parameter.POSITIONAL_ONLY,
                                               parameter.POSITIONAL_OR_KEYWORD)
             else _VAR_POSITIONAL if parameter.kind == parameter.VAR_POSITIONAL else _OTHER)
            for parameter in signature.parameters.values()]


def _written_through(given: Any) -> bool:
    """Whether what an output call wrote is in the file once it returns. For a path, yes;
    for a plain open file, yes once flushed (flushing a plain file changes none of its
    bytes). Anything else (an ExcelWriter, a gzip stream) may hold the bytes until it is
    closed, so the file is hashed at the end of the run instead."""
    if isinstance(given, (str, bytes)):  # the usual case, before the import statement
        return True
    import io

    # A Path exists only once pathlib is imported: importing it here cost a numpy script's
    # first save 4 ms. (Not os.PathLike: pandas' ExcelWriter is one, and holds its bytes.)
    pathlib = sys.modules.get("pathlib")
    if pathlib is not None and isinstance(given, pathlib.PurePath):
        return True
    if isinstance(given, (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom, io.FileIO)):
        if not given.closed:
            given.flush()
        return True
    return False


_MISSING: Any = object()


def _value(args: tuple, kwargs: dict, name: str | None, position: int | None) -> Any:
    if name in kwargs:
        return kwargs[name]
    if position is not None and position < len(args):
        return args[position]
    return _MISSING


def _make_wrapper(declaration: Declaration, function: Any, is_method: bool) -> Callable:
    """The wrapt wrapper of one declared function: the call goes through untouched, and
    its files go to the sink once it returned."""
    kind = declaration.kind
    if kind == "internal":
        def internal(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
            token = _inside_logged_call.set(True)
            try:
                with without_this_frame:
                    return wrapped(*args, **kwargs)
            finally:
                _inside_logged_call.reset(token)

        return internal

    argument = declaration.argument
    positional = declaration.positional
    mode_name, default_mode = declaration.mode or (None, "")
    expand_user = declaration.expands_user
    mapped = declaration.mapped

    @functools.cache
    def where_given() -> tuple[int | None, int | None, int | None]:
        """The positions of the path, mode and mapping arguments, found at the first call:
        `inspect.signature` of numpy's 11 declared functions cost ~6 ms of every numpy
        script's import, most of them never called."""
        return (
            None if argument is None else
            _position(function, is_method, argument, path=True, positional=positional),
            None if mode_name is None else
            _position(function, is_method, mode_name, path=False, positional=positional),
            _position(function, is_method, mapped, path=False, positional=positional)
            if isinstance(mapped, str) else None)

    def files(instance: Any, args: tuple, kwargs: dict) -> list[tuple[str, str, Any]]:
        """(kind, absolute path, argument as given) of each file the call touches."""
        if is_method and instance is None and args:
            instance, args = args[0], args[1:]  # called through the class: Class.method(obj)
        position, mode_position, mapped_position = where_given()
        given = None if argument is None else _value(args, kwargs, argument, position)
        if given is _MISSING:
            return []
        if declaration.locate is not None:
            given = declaration.locate(instance, given)
        file_kind = kind
        if kind == "open":
            mode = _value(args, kwargs, mode_name, mode_position)
            file_kind = kind_of_mode(mode if isinstance(mode, str) else default_mode)
        if file_kind == "input" and (mapped is True or isinstance(mapped, str) and _value(
                args, kwargs, mapped, mapped_position) not in (None, _MISSING)):
            file_kind = "mapped"  # an input whose bytes are read lazily: hashed off the call
        found = []
        for one in (_each_given(given, expand_user) if declaration.many else (given,)):
            path = path_of(one, expand_user)
            if path is not None and declaration.actual_path is not None:
                path = declaration.actual_path(path, one, kwargs)
            if path is None:
                continue
            if file_kind == "update" and not os.path.exists(path):
                found.append(("output", path, one))  # created by this call
            else:
                found.append((file_kind, path, one))
        return found

    def log(found: list[tuple[str, str, Any]]) -> None:
        sink = _sink
        for file_kind, path, given in found:
            if sink is None:
                return
            if file_kind == "complete":
                sink(file_kind, path, declaration.name, False)
                continue
            if file_kind == "mapped":
                if os.path.exists(path):
                    sink("input", path, declaration.name, True)
                continue
            deferred = file_kind == "update" or (file_kind == "output" and (
                declaration.until_closed or not _written_through(given)))
            sink(file_kind, path, declaration.name, deferred)  # not on disk: dropped there

    if kind == "complete":
        def complete(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
            # Not skipped inside a logged call: a file is complete whoever closes it. What
            # the close itself writes is the object's file, logged already: the flag is set
            # (pandas' ExcelWriter.close calls openpyxl's Workbook.save).
            if _sink is None:
                with without_this_frame:
                    return wrapped(*args, **kwargs)
            try:
                found = files(instance, args, kwargs)  # before: a closed object has no path
            except Exception:  # an object closed twice has no path: nothing to log
                found = []
            token = _inside_logged_call.set(True)
            try:
                with without_this_frame:
                    result = wrapped(*args, **kwargs)
            finally:
                _inside_logged_call.reset(token)
            try:
                log(found)
            except Exception as exc:  # the one never-raise guard: recording must not break I/O
                _report_internal_error(declaration.name, exc)
            return result

        return complete

    # A file opened for update is known to be new, and its content as it was, only
    # before the call opens it (HDF5 marks a file open for writing in its superblock).
    before_the_call = kind == "open"

    def wrapper(wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        if _sink is None or _inside_logged_call.get():
            with without_this_frame:
                return wrapped(*args, **kwargs)
        token = _inside_logged_call.set(True)
        try:
            found = None
            if before_the_call:
                try:
                    found = files(instance, args, kwargs)
                    for file_kind, path, _given in found:
                        if file_kind == "update":
                            _sink("before", path, declaration.name, False)
                except Exception as exc:  # the one never-raise guard
                    _report_internal_error(declaration.name, exc)
                    found = []
            with without_this_frame:
                result = wrapped(*args, **kwargs)
            # Logged inside the flag, so hashing and bookkeeping are never logged themselves.
            try:
                log(files(instance, args, kwargs) if found is None else found)
            except Exception as exc:  # the one never-raise guard: recording must not break I/O
                _report_internal_error(declaration.name, exc)
            return result
        finally:
            _inside_logged_call.reset(token)

    return wrapper


class _WithoutThisFrame:
    """`with without_this_frame:` around a wrapper's call of the original: an exception
    leaves without the wrapper's own frame, so the script's traceback, printed or stored,
    is exactly the one it has without recipe. On the way out the wrapper's frame is the
    first of the traceback, and the re-raise after `__exit__` adds none (CPython 3.11+,
    which re-raises with the exception's `__traceback__`; 3.10 still shows the frame)."""

    def __enter__(self) -> None:
        pass

    def __exit__(self, kind: object, exc: BaseException | None, traceback: Any) -> bool:
        if exc is not None and traceback is not None:
            exc.__traceback__ = traceback.tb_next
        return False


without_this_frame = _WithoutThisFrame()


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
    from .wrapping import FunctionWrapper  # lazily: only once a supported library is imported

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
        wrapper = FunctionWrapper(function, _make_wrapper(declaration, function, takes_self))
        # wrapt keeps `_self_` attributes on the wrapper instead of passing them through.
        wrapper._self_recipe_declaration = declaration
        own = not is_class or name in vars(parent)
        try:
            setattr(parent, name, descriptor(wrapper) if descriptor else wrapper)
        except TypeError:
            continue  # an immutable C type (lxml's _ElementTree): its methods stay unlogged
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
