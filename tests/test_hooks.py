"""recipe.capture.hooks.when_imported: hooks run once a real module (written to tmp_path)
is imported."""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from recipe.capture import hooks as _hooks
from recipe.capture.hooks import when_imported


@pytest.fixture(autouse=True)
def clean_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_hooks, "_pending", {})
    monkeypatch.setattr(_hooks, "_firing", set())
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))  # drops recipe's finder after


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable]:
    """write_module(source, name=None) -> the name of a module importable from tmp_path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # a rewritten module is re-read
    tops: set[str] = set()

    def write(source: str = "", *, name: str | None = None) -> str:
        name = name or f"recipe_hooked_{uuid.uuid4().hex}"
        *packages, last = name.split(".")
        directory = tmp_path.joinpath(*packages)
        directory.mkdir(parents=True, exist_ok=True)
        for depth in range(1, len(packages) + 1):
            init = tmp_path.joinpath(*packages[:depth], "__init__.py")
            if not init.exists():
                init.write_text("")
        (directory / f"{last}.py").write_text(source)
        importlib.invalidate_caches()
        tops.add(name.split(".")[0])
        return name

    yield write
    for name in list(sys.modules):
        if name.split(".")[0] in tops:
            del sys.modules[name]


@pytest.fixture
def calls() -> list[ModuleType]:
    return []


def test_hook_fires_after_the_module_is_imported(write_module: Callable,
                                                 calls: list) -> None:
    name = write_module("FIRST = 1\nLAST = 'end of module'\n")
    seen = []

    when_imported(name, lambda module: seen.append(getattr(module, "LAST", None)))
    when_imported(name, calls.append)
    assert calls == []

    module = importlib.import_module(name)

    assert calls == [module]
    assert seen == ["end of module"]  # the hook sees the finished module


def test_hook_fires_at_once_for_a_module_already_imported(write_module: Callable,
                                                          calls: list) -> None:
    name = write_module("X = 1\n")
    module = importlib.import_module(name)

    when_imported(name, calls.append)

    assert calls == [module]
    assert _hooks._pending == {}


def test_hook_fires_once(write_module: Callable, calls: list) -> None:
    name = write_module("X = 1\n")
    when_imported(name, calls.append)
    module = importlib.import_module(name)

    importlib.import_module(name)
    importlib.reload(module)
    del sys.modules[name]
    importlib.import_module(name)

    assert calls == [module]


def test_hooks_fire_in_the_order_registered(write_module: Callable) -> None:
    name = write_module()
    order: list[str] = []
    for label in ("a", "b", "c"):
        when_imported(name, lambda module, label=label: order.append(label))

    importlib.import_module(name)

    assert order == ["a", "b", "c"]


def test_a_hook_registered_by_a_firing_hook_fires_too(write_module: Callable,
                                                      calls: list) -> None:
    name = write_module()

    def first(module: ModuleType) -> None:
        when_imported(name, calls.append)

    when_imported(name, first)
    module = importlib.import_module(name)

    assert calls == [module]


def test_the_module_sees_its_real_loader(write_module: Callable, calls: list) -> None:
    name = write_module("LOADER_DURING_IMPORT = __loader__\n")
    when_imported(name, calls.append)

    module = importlib.import_module(name)

    assert calls == [module]
    for loader in (module.__loader__, module.__spec__.loader, module.LOADER_DURING_IMPORT):
        assert type(loader) is importlib.machinery.SourceFileLoader
    assert module.__loader__.get_source(name) is not None


def test_a_hook_that_raises_does_not_break_the_import(
        write_module: Callable, calls: list, capsys: pytest.CaptureFixture[str]) -> None:
    name = write_module("X = 42\n")

    def broken(module: ModuleType) -> None:
        raise RuntimeError("patch bug")

    when_imported(name, broken)
    when_imported(name, calls.append)

    module = importlib.import_module(name)

    assert module.X == 42
    assert calls == [module]  # the next hook still ran
    assert capsys.readouterr().err.splitlines() == [
        f"recipe: warning: could not patch {name} (RuntimeError: patch bug); "
        "its files are not recorded"]


def test_a_hook_that_raises_for_an_imported_module_only_warns(
        write_module: Callable, capsys: pytest.CaptureFixture[str]) -> None:
    name = write_module()
    importlib.import_module(name)

    when_imported(name, lambda module: 1 / 0)

    assert capsys.readouterr().err.count("\n") == 1


def test_a_submodule_hook_waits_for_the_submodule(write_module: Callable,
                                                  calls: list) -> None:
    package = f"recipe_hooked_pkg_{uuid.uuid4().hex}"
    name = write_module("Y = 2\n", name=f"{package}.sub")
    when_imported(name, calls.append)

    importlib.import_module(package)
    assert calls == []

    module = importlib.import_module(name)
    assert calls == [module]
    assert type(module.__loader__) is importlib.machinery.SourceFileLoader


def test_a_failed_import_keeps_the_hook_for_the_next_attempt(write_module: Callable,
                                                             calls: list) -> None:
    name = write_module("raise ImportError('not yet')\n")
    when_imported(name, calls.append)

    with pytest.raises(ImportError, match="not yet"):
        importlib.import_module(name)
    assert calls == []

    write_module("FIXED = True\n", name=name)
    module = importlib.import_module(name)

    assert calls == [module]
    assert module.FIXED is True


def test_a_missing_module_stays_pending_and_imports_fail_normally(calls: list) -> None:
    name = f"recipe_never_written_{uuid.uuid4().hex}"
    when_imported(name, calls.append)

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(name)

    assert calls == []
    assert name in _hooks._pending


def test_one_finder_is_installed_however_many_hooks(write_module: Callable) -> None:
    for _ in range(3):
        when_imported(write_module(), lambda module: None)

    finders = [f for f in sys.meta_path if isinstance(f, _hooks._PostImportFinder)]
    assert len(finders) == 1


def test_install_with_every_library_disabled_registers_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from recipe.capture import arguments

    monkeypatch.setattr(_hooks, "_installed", set())
    # As config reads them: lower case ("pil" for PIL, "netcdf4" for netCDF4).
    _hooks.install(frozenset(name.lower() for name in _hooks.PATCH_MODULES)
                   | frozenset(arguments.PARSERS))

    assert _hooks._pending == {}


def test_install_watches_the_argument_parsers_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from recipe.capture import arguments

    watched: list[str] = []
    monkeypatch.setattr(_hooks, "_installed", set())
    monkeypatch.setattr(_hooks, "when_imported", lambda name, hook: watched.append(name))
    every_library = frozenset(name.lower() for name in _hooks.PATCH_MODULES)
    _hooks.install(every_library)
    _hooks.install(every_library)

    assert watched == ["argparse", "click"] == list(arguments.PARSERS)
