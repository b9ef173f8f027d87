"""The one place that registers import hooks: run a callback once a module has been imported.

recipe has its own small `sys.meta_path` finder instead of `wrapt.register_post_import_hook`
because `import wrapt` costs ~29 ms here (its importer module imports importlib.metadata),
which is the whole start-up budget of `import recipe`. Of wrapt, only its C extension's
FunctionWrapper is loaded (capture/wrapping.py), when a supported library actually gets
patched.
"""

from __future__ import annotations

import sys

from .. import messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    Hook = Callable[[ModuleType], None]

# Modules whose patch declarations live in recipe.capture.patches: import name -> patch
# module. Static, so registering hooks imports neither the library nor any patch code.
PATCH_MODULES = {
    "numpy": "recipe.capture.patches.numpy",
    "pandas": "recipe.capture.patches.pandas",
    "matplotlib": "recipe.capture.patches.matplotlib",
    "h5py": "recipe.capture.patches.h5py",
    "netCDF4": "recipe.capture.patches.netCDF4",
    "xarray": "recipe.capture.patches.xarray",
    "tables": "recipe.capture.patches.tables",
    "pyarrow": "recipe.capture.patches.pyarrow",
    "zarr": "recipe.capture.patches.zarr",
    "sqlite3": "recipe.capture.patches.sqlite3",
    "PIL": "recipe.capture.patches.PIL",
    "imageio": "recipe.capture.patches.imageio",
    "tifffile": "recipe.capture.patches.tifffile",
    "scipy": "recipe.capture.patches.scipy",
    "joblib": "recipe.capture.patches.joblib",
    "torch": "recipe.capture.patches.torch",
    "xml.etree.ElementTree": "recipe.capture.patches.xml",
    "lxml": "recipe.capture.patches.lxml",
    "openpyxl": "recipe.capture.patches.openpyxl",
    "sklearn": "recipe.capture.patches.sklearn",
}

_pending: dict[str, list[Hook]] = {}
_finding: set[str] = set()
_firing: set[str] = set()  # modules whose code has run, whose import is not yet complete


def when_imported(name: str, hook: Hook) -> None:
    """Call `hook(module)` once `name` has finished importing; now if it already has."""
    module = sys.modules.get(name)
    if module is not None and (name in _firing or not _initializing(module)):
        _call(name, hook, module)
        return
    _pending.setdefault(name, []).append(hook)
    if not any(isinstance(finder, _PostImportFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder())


def _initializing(module: ModuleType) -> bool:
    spec = getattr(module, "__spec__", None)
    return bool(getattr(spec, "_initializing", False))


def _call(name: str, hook: Hook, module: ModuleType) -> None:
    try:
        hook(module)
    except Exception as exc:  # never-raise guard: a patch bug must not break the user's import
        messages.warn(f"could not patch {name} ({type(exc).__name__}: {exc}); "
                      "its files are not recorded")


def _fire(name: str) -> None:
    module = sys.modules.get(name)
    if module is None:
        return
    _firing.add(name)
    try:
        while _pending.get(name):  # a hook may register more hooks for the same module
            for hook in _pending.pop(name):
                _call(name, hook, module)
    finally:
        _firing.discard(name)


class _PostImportFinder:
    """Finds nothing itself: for a watched module it asks the other finders for the spec
    and wraps its loader so that the hooks run right after the module has executed."""

    def find_spec(self, fullname: str, path=None, target=None):  # noqa: ANN001 - finder protocol
        if fullname not in _pending or fullname in _finding:
            return None
        _finding.add(fullname)
        try:
            spec = spec_from_other_finders(fullname, path, target)
        except (ImportError, ValueError):
            return None
        finally:
            _finding.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _PostImportLoader(spec.loader)
        return spec

    def invalidate_caches(self) -> None:
        pass


def spec_from_other_finders(fullname: str, path=None, target=None  # noqa: ANN001
                            ) -> ModuleSpec | None:
    """The spec the import system would get without recipe's finder: the first the other
    finders of `sys.meta_path` give, asked as it asks them (it finds, it does not import).
    Not `importlib.util.find_spec`: importing importlib.util and importlib._abc, which
    numpy and matplotlib do not, cost their scripts 0.3-0.4 ms (-X importtime)."""
    for finder in list(sys.meta_path):
        find_spec = getattr(finder, "find_spec", None)
        if isinstance(finder, _PostImportFinder) or find_spec is None:
            continue
        spec = find_spec(fullname, path, target)
        if spec is not None:
            return spec
    return None


class _PostImportLoader:
    """Delegates to the real loader; the module itself only ever sees the real one."""

    def __init__(self, loader) -> None:  # noqa: ANN001
        self._loader = loader

    def create_module(self, spec):  # noqa: ANN001
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _fire(module.__name__)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


_installed: set[str] = set()


def install(disabled_libraries: frozenset[str]) -> None:
    """Patch every supported library when it is imported (at once if it already is), and
    the argument parsers (`arguments.PARSERS`). Once per library: a sweep starts many runs
    in one process. `disabled_libraries` are lower case (config reads them so): "pil" and
    "PIL" both disable PIL."""
    from . import arguments

    for library, patch_module in PATCH_MODULES.items():
        if library.lower() not in disabled_libraries and library not in _installed:
            _installed.add(library)
            when_imported(library, _patcher(patch_module))
    for library in arguments.PARSERS:
        if library not in disabled_libraries and library not in _installed:
            _installed.add(library)
            when_imported(library, arguments.patch)


def _patcher(patch_module: str) -> Hook:
    def load_declarations(_library: ModuleType) -> None:
        import importlib  # here: with the warnings it imports, 0.4 ms of every start

        from . import patching

        declarations = importlib.import_module(patch_module).DECLARATIONS
        by_module: dict[str, list[patching.Declaration]] = {}
        for declaration in declarations:
            by_module.setdefault(declaration.module, []).append(declaration)
        for module_name, group in by_module.items():
            # Submodules (matplotlib.pyplot) are patched when, and only if, they are imported.
            when_imported(module_name, lambda module, group=group: patching.apply(group, module))

    return load_declarations
