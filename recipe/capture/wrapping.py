"""The wrapper of a patched function: wrapt's `FunctionWrapper`, loaded without the rest of
wrapt, made to pickle and copy as the function it wraps.

Why not `import wrapt`: wrapt 2.x's package `__init__` imports everything wrapt offers, and
`wrapt.synchronization` imports asyncio (20-23 ms, with ssl and email) and `wrapt.importer`
importlib.metadata (12-13 ms). recipe uses only `FunctionWrapper`, which lives in the C
extension `wrapt._wrappers`; that extension needs only `wrapt.exceptions` (a few exception
classes). Measured with `python -X importtime` on `import recipe; import numpy as np;
np.save("a.npy", np.zeros(3))`, wrapt 2.5.2, Python 3.11: `import wrapt` 32-84 ms (the
machine was loaded), this module with the two it loads 0.7-1.8 ms (docs/performance.md,
"Loading only wrapt's FunctionWrapper"). They are loaded by spec under their real names,
so a later `import wrapt` by the script finds them in `sys.modules` and uses the same
types (`isinstance(np.save, wrapt.FunctionWrapper)` holds); the package's attributes for
them are set when it is imported. Anything unexpected (no C extension, a wrapt whose
layout differs, WRAPT_DISABLE_EXTENSIONS) falls back to `import wrapt`.

Why a subclass: wrapt's proxies refuse `pickle`, `copy` and `deepcopy` ("object proxy must
define __reduce__()"), so `ProcessPoolExecutor().submit(np.save, ...)` failed under recipe.
The subclasses reduce as the wrapped function does (`_reduction`): a module-level function
pickles by its qualified name, which resolves to the patched one (the same bytes as
unpatched), a bound method as (getattr, (instance, name)); a copy of a function is the
function itself.
"""

from __future__ import annotations

import os
import sys
from types import FunctionType

from . import hooks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

# The modules of the wrapt package that FunctionWrapper needs, in the order they load.
_NEEDED = ("wrapt.exceptions", "wrapt._wrappers")


def _load_wrappers() -> ModuleType:
    """wrapt's C extension, loaded without running `wrapt/__init__.py`."""
    if "wrapt" in sys.modules or os.environ.get("WRAPT_DISABLE_EXTENSIONS"):
        return _import_wrapt()
    try:
        import importlib.machinery

        # importlib.util's own: importing importlib.util and importlib._abc, which numpy
        # and matplotlib do not, cost their scripts 0.3-0.4 ms (-X importtime).
        from importlib._bootstrap import module_from_spec

        package = hooks.spec_from_other_finders("wrapt")
        locations = package.submodule_search_locations if package else None
        if not locations:
            return _import_wrapt()
        loaded = []
        for name in _NEEDED:
            module = sys.modules.get(name)
            if module is None:
                spec = importlib.machinery.PathFinder.find_spec(name, list(locations))
                if spec is None or spec.loader is None:
                    raise ImportError(f"no {name} in {locations}")
                module = module_from_spec(spec)
                sys.modules[name] = module
                # The extension imports "wrapt.exceptions" through PyImport_ImportModule,
                # which imports the top-level package too (to return it): a stand-in
                # package, for the moment of that import only, keeps wrapt's __init__ out.
                stand_in = "wrapt" not in sys.modules
                if stand_in:
                    sys.modules["wrapt"] = module_from_spec(
                        importlib.machinery.ModuleSpec("wrapt", None, is_package=True))
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
                finally:
                    if stand_in:
                        del sys.modules["wrapt"]
            loaded.append(module)
        wrappers = loaded[-1]
        wrappers.FunctionWrapper  # noqa: B018 - the one name recipe needs must be there
    except (ImportError, AttributeError, OSError):
        for name in _NEEDED:
            sys.modules.pop(name, None)
        return _import_wrapt()
    hooks.when_imported("wrapt", _attach_submodules)
    return wrappers


def _import_wrapt() -> ModuleType:
    import wrapt

    return wrapt


def _attach_submodules(package: ModuleType) -> None:
    """A package imported after its submodules were loaded on their own lacks them as
    attributes (the import system sets those only when it loads the submodule itself)."""
    for name in _NEEDED:
        short = name.rpartition(".")[2]
        if not hasattr(package, short) and name in sys.modules:
            setattr(package, short, sys.modules[name])


_wrappers = _load_wrappers()


def _reduction(wrapper: Any, protocol: int) -> Any:
    """What pickle and copy use for `wrapper`: the wrapped function's own reduction, so
    that unpickling needs no recipe. A Python function has none (pickle saves functions by
    reference): a module-level one that its name resolves to the wrapper gives that name
    (the bytes of the unpatched function), a method (getattr, (class, name)); one whose
    name resolves to the original (patched under another module's name) the original."""
    wrapped = wrapper.__wrapped__
    if not isinstance(wrapped, FunctionType):  # a bound method, a builtin
        return wrapped.__reduce_ex__(protocol)
    module = sys.modules.get(wrapped.__module__)
    *path, name = wrapped.__qualname__.split(".")
    parent: Any = module
    for part in path:
        parent = getattr(parent, part, None)
    if parent is module and module is not None:
        if getattr(module, name, None) is wrapper:
            return wrapped.__qualname__
    elif isinstance(parent, type):
        return getattr, (parent, name)
    import copy

    return copy.copy, (wrapped,)  # copy.copy(f) is f: the original, saved by reference


class BoundFunctionWrapper(_wrappers.BoundFunctionWrapper):
    """What a wrapped method is when bound to an instance or class."""

    def __reduce_ex__(self, protocol: int) -> Any:
        return _reduction(self, protocol)

    def __reduce__(self) -> Any:
        return _reduction(self, 2)

    def __copy__(self) -> BoundFunctionWrapper:
        return self  # bound to the same object, as a copied bound method is

    def __deepcopy__(self, memo: dict) -> Any:
        instance = self._self_instance
        if instance is None or isinstance(instance, type):
            return self
        import copy

        return getattr(copy.deepcopy(instance, memo), self.__name__)


class FunctionWrapper(_wrappers.FunctionWrapper):
    """wrapt's FunctionWrapper that pickles, copies and deep-copies as the original."""

    __bound_function_wrapper__ = BoundFunctionWrapper

    def __reduce_ex__(self, protocol: int) -> Any:
        return _reduction(self, protocol)

    def __reduce__(self) -> Any:
        return _reduction(self, 2)

    def __copy__(self) -> FunctionWrapper:
        return self  # a function is its own copy

    def __deepcopy__(self, memo: dict) -> FunctionWrapper:
        return self
