"""recipe.capture.patching: path_of, and apply/remove on a real module imported from a file."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import io
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from recipe.capture import patching
from recipe.capture.patching import Closes, Input, Internal, Opens, Output

LIBRARY = '''
import io


def read_thing(path, mode="r"):
    """Read a whole file."""
    with open(path, mode) as handle:
        return handle.read()


def write_thing(data, fname, *, sep=","):
    """Write data to fname."""
    with open(fname, "w") as handle:
        handle.write(sep.join(data))
    return len(data)


def dump(data, path=None):
    """Like DataFrame.to_csv: no path, the text is returned; a buffer is written to."""
    if path is None:
        return ",".join(data)
    if isinstance(path, io.StringIO):
        return path.write(",".join(data))
    return write_thing(data, path)


def load_twice(path):
    """A declared function that calls another one."""
    return read_thing(path) + read_thing(path)


def fails(path):
    raise ValueError(f"cannot read {path}")


def savefig(*args, **kwargs):
    """Like pyplot.savefig: the path is the first of *args."""
    fname = args[0] if args else kwargs["fname"]
    with open(fname, "w") as handle:
        handle.write("figure")
    return fname


class Writer:
    def __init__(self, prefix=""):
        self.prefix = prefix

    def save(self, target, fmt="txt"):
        """Save to target."""
        with open(target, "w") as handle:
            handle.write(self.prefix + fmt)
        return self.prefix + fmt

    @classmethod
    def load(cls, path):
        return ("cls", path)

    @staticmethod
    def load_static(path):
        return ("static", path)


class Base:
    def export(self, path):
        with open(path, "w") as handle:
            handle.write("exported")
        return ("exported", path)


class Child(Base):
    pass


class Store:
    """Like h5py.File: the constructor opens the file, which is complete once closed."""

    def __init__(self, path, mode="r"):
        self._path = path
        self._handle = open(path, {"r": "rb", "w": "wb", "a": "ab", "r+": "r+b"}[mode])

    @property
    def path(self):
        if self._handle.closed:
            raise ValueError("closed")  # as h5py's File.filename once closed
        return self._path

    def write(self, data):
        self._handle.write(data)

    def close(self):
        if not self._handle.closed:
            self._handle.close()
            return read_thing(self._path, "rb")  # a declared call inside the close


def opens(*args, **kwargs):
    """Like a C function that inspect sees as (*args, **kwargs): opens args[0] by args[1]."""
    return Store(*args, **kwargs)


def count(files):
    """Like xarray.open_mfdataset: a list of paths, nested or not, or a glob pattern."""
    return files


class Cache:
    """Like joblib's store backend: a location of its own, entries named by a key."""

    def __init__(self, location):
        self.location = location

    def save_entry(self, key, data):
        write_thing(data, f"{self.location}/{key}")

    def bookkeeping(self):
        return read_thing(self.location + "/meta")


Immutable = int
'''


@pytest.fixture(autouse=True)
def reset_patching(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(patching, "_reported", set())
    yield
    patching.set_sink(None)
    patching.remove()


@pytest.fixture
def lib(tmp_path: Path) -> Iterator[ModuleType]:
    """The module above, written to a file and imported under a name of its own."""
    name = f"recipe_test_lib_{uuid.uuid4().hex}"
    path = tmp_path / f"{name}.py"
    path.write_text(LIBRARY)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    (tmp_path / "in.txt").write_text("content")
    yield module
    sys.modules.pop(name, None)


@pytest.fixture
def logged() -> list[tuple[str, str, str]]:
    """Every (kind, path, name) the sink receives."""
    events: list[tuple[str, str, str]] = []
    patching.set_sink(lambda kind, path, name, hash_at_end: events.append((kind, path, name)))
    return events


def declarations(module: ModuleType) -> list[patching.Declaration]:
    name = module.__name__
    return [
        Input(name, "read_thing", "path"),
        Output(name, "write_thing", "fname"),
        Output(name, "dump", "path"),
        Input(name, "load_twice", "path"),
        Input(name, "fails", "path"),
        Output(name, "savefig", "fname"),
        Output(name, "Writer.save", "target"),
        Output(name, "Child.export", "path"),
    ]


# -- path_of -------------------------------------------------------------------------------

class PathLike:
    def __fspath__(self) -> str:
        return "custom/place.csv"


@pytest.mark.parametrize(("value", "expected"), [
    ("data.csv", "{cwd}/data.csv"),
    (b"data.csv", "{cwd}/data.csv"),
    (Path("data.csv"), "{cwd}/data.csv"),
    (Path("sub/../data.csv"), "{cwd}/data.csv"),
    ("/abs/data.csv", "/abs/data.csv"),
    (PathLike(), "{cwd}/custom/place.csv"),
    ("~/x", "{cwd}/~/x"),  # as open() takes it: most libraries do not expand ~
    (io.BytesIO(b"x"), None),
    (io.StringIO("x"), None),
    (3, None),
    (None, None),
    ("", None),
    ("https://example.com/data.csv", None),
    ("s3://bucket/data.csv", None),
    ("file:///abs/data.csv", None),
    ("a,b\n1,2\n", None),  # CSV text, not a path
    (["data.csv"], None),
], ids=repr)
def test_path_of(value: Any, expected: str | None, tmp_path: Path,
                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))

    result = patching.path_of(value)

    assert result == (expected.format(cwd=tmp_path, user=tmp_path / "user")
                      if expected else None)


def test_path_of_expands_a_tilde_for_a_library_that_does(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))

    assert patching.path_of("~/x", expand_user=True) == str(tmp_path / "user" / "x")


@pytest.mark.parametrize("name", ["relative.txt", "{cwd}/absolute.txt"])
def test_path_of_an_open_file_is_its_absolute_name(name: str, tmp_path: Path) -> None:
    with open(name.format(cwd=tmp_path), "w") as handle:
        assert patching.path_of(handle) == str(tmp_path / os.path.basename(name))


def test_path_of_a_file_opened_from_a_descriptor_is_none(tmp_path: Path) -> None:
    descriptor = os.open(tmp_path / "f.txt", os.O_WRONLY | os.O_CREAT)
    with open(descriptor, "w", closefd=True) as handle:
        assert patching.path_of(handle) is None


# -- the wrapper keeps the function's behaviour ---------------------------------------------

@pytest.mark.parametrize("with_sink", [True, False])
def test_wrapped_function_keeps_its_return_value(with_sink: bool, lib: ModuleType,
                                                 tmp_path: Path) -> None:
    if with_sink:
        patching.set_sink(lambda *event: None)
    patching.apply(declarations(lib), lib)

    assert lib.read_thing("in.txt") == "content"
    assert lib.write_thing(["a", "b"], "out.txt", sep=";") == 2
    assert (tmp_path / "out.txt").read_text() == "a;b"
    assert lib.Writer("p-").save("w.txt") == "p-txt"


@pytest.mark.parametrize("with_sink", [True, False])
def test_wrapped_function_raises_the_same_exception(with_sink: bool, lib: ModuleType) -> None:
    if with_sink:
        patching.set_sink(lambda *event: None)
    patching.apply(declarations(lib), lib)

    with pytest.raises(ValueError, match="^cannot read x.txt$"):
        lib.fails("x.txt")
    with pytest.raises(FileNotFoundError):
        lib.read_thing("missing.txt")


@pytest.mark.parametrize("attribute", ["read_thing", "write_thing", "dump", "savefig",
                                       "Writer.save", "Child.export"])
def test_wrapped_function_keeps_signature_name_and_doc(attribute: str, lib: ModuleType) -> None:
    def lookup() -> Any:
        parent: Any = lib
        for part in attribute.split("."):
            parent = getattr(parent, part)
        return parent

    original = lookup()
    before = (inspect.signature(original), original.__name__, original.__doc__)

    patching.apply(declarations(lib), lib)

    wrapped = lookup()
    assert wrapped is not original
    assert (inspect.signature(wrapped), wrapped.__name__, wrapped.__doc__) == before


def test_bound_method_keeps_its_signature(lib: ModuleType) -> None:
    before = inspect.signature(lib.Writer().save)

    patching.apply(declarations(lib), lib)

    assert inspect.signature(lib.Writer().save) == before
    assert str(before) == "(target, fmt='txt')"


# -- what the sink receives ------------------------------------------------------------------

CALLS = {
    "positional": (lambda m: m.read_thing("in.txt"), ("input", "in.txt", "read_thing")),
    "keyword": (lambda m: m.read_thing(path="in.txt"), ("input", "in.txt", "read_thing")),
    "pathlib": (lambda m: m.read_thing(Path("in.txt")), ("input", "in.txt", "read_thing")),
    "second_positional": (lambda m: m.write_thing(["a"], "out.txt"),
                          ("output", "out.txt", "write_thing")),
    "second_keyword": (lambda m: m.write_thing(["a"], fname="out.txt"),
                       ("output", "out.txt", "write_thing")),
    "optional_given": (lambda m: m.dump(["a"], "d.txt"), ("output", "d.txt", "dump")),
    "var_positional": (lambda m: m.savefig("fig.png", dpi=3), ("output", "fig.png", "savefig")),
    "var_positional_keyword": (lambda m: m.savefig(fname="fig.png"),
                               ("output", "fig.png", "savefig")),
    "method": (lambda m: m.Writer().save("w.txt"), ("output", "w.txt", "Writer.save")),
    "method_keyword": (lambda m: m.Writer().save(target="w.txt", fmt="csv"),
                       ("output", "w.txt", "Writer.save")),
    "method_through_class": (lambda m: m.Writer.save(m.Writer(), "w.txt"),
                             ("output", "w.txt", "Writer.save")),
    "inherited_method": (lambda m: m.Child().export("e.txt"),
                         ("output", "e.txt", "Child.export")),
}


@pytest.mark.parametrize("call", CALLS.keys())
def test_sink_receives_kind_absolute_path_and_name(
        call: str, lib: ModuleType, logged: list, tmp_path: Path) -> None:
    invoke, (kind, path, attribute) = CALLS[call]
    patching.apply(declarations(lib), lib)

    invoke(lib)

    assert logged == [(kind, str(tmp_path / path), f"{lib.__name__}.{attribute}")]


@pytest.mark.parametrize("invoke", [
    lambda m: m.dump(["a"]),  # no path given: returns text
    lambda m: m.dump(["a"], io.StringIO()),  # a buffer
    lambda m: m.Base().export("e.txt"),  # only the subclass was declared
])
def test_calls_without_a_file_are_not_logged(invoke: Callable, lib: ModuleType,
                                             logged: list) -> None:
    patching.apply(declarations(lib), lib)

    invoke(lib)

    assert logged == []


def test_declared_name_and_actual_path_are_used(lib: ModuleType, logged: list,
                                                tmp_path: Path) -> None:
    seen = []

    def actual_path(path: str, given: Any, kwargs: dict) -> str:
        seen.append((path, given, kwargs))
        return path + ".npy"

    patching.apply([Output(lib.__name__, "write_thing", "fname", name="lib.save",
                           actual_path=actual_path)], lib)
    (tmp_path / "arr.npy").write_text("")  # what is logged must exist after the call

    lib.write_thing(["a"], "arr", sep="-")

    assert logged == [("output", str(tmp_path / "arr.npy"), "lib.save")]
    assert seen == [(str(tmp_path / "arr"), "arr", {"sep": "-"})]


def test_a_failing_call_is_not_logged(lib: ModuleType, logged: list) -> None:
    patching.apply(declarations(lib), lib)

    with pytest.raises(ValueError):
        lib.fails("in.txt")
    lib.read_thing("in.txt")  # the guard flag was reset by the exception

    assert [event[2] for event in logged] == [f"{lib.__name__}.read_thing"]


def test_a_nested_declared_call_is_logged_once(lib: ModuleType, logged: list,
                                               tmp_path: Path) -> None:
    patching.apply(declarations(lib), lib)

    assert lib.load_twice("in.txt") == "contentcontent"
    lib.read_thing("in.txt")

    assert logged == [("input", str(tmp_path / "in.txt"), f"{lib.__name__}.load_twice"),
                      ("input", str(tmp_path / "in.txt"), f"{lib.__name__}.read_thing")]


def test_calls_made_by_the_sink_are_not_logged(lib: ModuleType) -> None:
    events = []

    def sink(kind: str, path: str, name: str, hash_at_end: bool) -> None:
        events.append(name)
        lib.read_thing(path)  # as hashing reads the file through a patched function

    patching.set_sink(sink)
    patching.apply(declarations(lib), lib)

    lib.read_thing("in.txt")

    assert events == [f"{lib.__name__}.read_thing"]


def test_a_call_in_another_thread_is_logged_while_one_runs(lib: ModuleType,
                                                           tmp_path: Path) -> None:
    events = []
    inside, release = threading.Event(), threading.Event()

    def sink(kind: str, path: str, name: str, hash_at_end: bool) -> None:
        events.append(os.path.basename(path))
        if path.endswith("first.txt"):
            inside.set()
            release.wait(10)

    patching.set_sink(sink)
    patching.apply(declarations(lib), lib)
    (tmp_path / "first.txt").write_text("1")
    (tmp_path / "second.txt").write_text("2")
    thread = threading.Thread(target=lib.read_thing, args=("first.txt",))
    thread.start()
    assert inside.wait(10)

    lib.read_thing("second.txt")
    release.set()
    thread.join(10)

    assert events == ["first.txt", "second.txt"]


def test_no_sink_logs_nothing_and_calls_through(lib: ModuleType) -> None:
    calls = []
    patching.apply(declarations(lib), lib)
    patching.set_sink(None)

    assert lib.read_thing("in.txt") == "content"

    patching.set_sink(lambda *event: calls.append(event))
    lib.read_thing("in.txt")
    assert len(calls) == 1


# -- apply and remove ------------------------------------------------------------------------

def test_apply_returns_the_names_patched_and_skips_missing_attributes(lib: ModuleType,
                                                                     logged: list) -> None:
    name = lib.__name__
    patched = patching.apply([Input(name, "read_thing", "path"),
                              Input(name, "no_such_function", "path"),
                              Input(name, "NoSuchClass.method", "path"),
                              Output(name, "Writer.no_such_method", "path")], lib)

    assert patched == [f"{name}.read_thing"]
    assert not hasattr(lib, "no_such_function")
    assert not hasattr(lib.Writer, "no_such_method")
    lib.read_thing("in.txt")
    assert len(logged) == 1


def test_apply_twice_wraps_a_function_once(lib: ModuleType, logged: list) -> None:
    name = lib.__name__
    original = lib.read_thing
    assert patching.apply([Input(name, "read_thing", "path")], lib) == [f"{name}.read_thing"]

    assert patching.apply([Input(name, "read_thing", "path")], lib) == []

    assert lib.read_thing.__wrapped__ is original
    lib.read_thing("in.txt")
    assert len(logged) == 1
    patching.remove()
    assert lib.read_thing is original


@pytest.mark.parametrize(("attribute", "argument"), [("Writer.save", "target"),
                                                     ("Child.export", "path")])
def test_apply_twice_wraps_a_method_once(attribute: str, argument: str,
                                         lib: ModuleType) -> None:
    declaration = [Output(lib.__name__, attribute, argument)]
    class_name, method = attribute.split(".")
    patching.apply(declaration, lib)
    once = vars(getattr(lib, class_name))[method]

    assert patching.apply(declaration, lib) == []
    assert vars(getattr(lib, class_name))[method] is once


def test_a_method_applied_twice_still_logs_once_and_is_restored(lib: ModuleType,
                                                                 logged: list) -> None:
    save = vars(lib.Writer)["save"]
    patching.apply([Output(lib.__name__, "Writer.save", "target")], lib)
    patching.apply([Output(lib.__name__, "Writer.save", "target")], lib)

    lib.Writer().save("w.txt")
    patching.remove()

    assert len(logged) == 1
    assert vars(lib.Writer)["save"] is save


def test_remove_restores_every_original(lib: ModuleType, logged: list) -> None:
    functions = {name: getattr(lib, name) for name in
                 ("read_thing", "write_thing", "dump", "load_twice", "fails", "savefig")}
    save = vars(lib.Writer)["save"]
    patching.apply(declarations(lib), lib)
    assert "export" in vars(lib.Child)

    patching.remove()

    assert {name: getattr(lib, name) for name in functions} == functions
    assert all(getattr(lib, name) is function for name, function in functions.items())
    assert vars(lib.Writer)["save"] is save
    assert "export" not in vars(lib.Child)  # the inherited method is uncovered again
    assert lib.Child.export is lib.Base.export
    lib.read_thing("in.txt")
    lib.Child().export("e.txt")
    assert logged == []


def test_remove_then_apply_patches_again(lib: ModuleType, logged: list) -> None:
    patching.apply(declarations(lib), lib)
    patching.remove()

    assert patching.apply(declarations(lib), lib) != []

    lib.read_thing("in.txt")
    assert len(logged) == 1


def test_a_sink_that_raises_does_not_break_the_call(
        lib: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    def broken_sink(kind: str, path: str, name: str, hash_at_end: bool) -> None:
        raise RuntimeError("sink is broken")

    patching.set_sink(broken_sink)
    patching.apply(declarations(lib), lib)

    assert lib.read_thing("in.txt") == "content"
    assert lib.read_thing("in.txt") == "content"
    assert lib.write_thing(["x"], "out.txt") == 1

    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"recipe: warning: could not log a call of {lib.__name__}.read_thing "
        "(RuntimeError: sink is broken)",
        f"recipe: warning: could not log a call of {lib.__name__}.write_thing "
        "(RuntimeError: sink is broken)",
    ]


def test_an_actual_path_that_raises_does_not_break_the_call(
        lib: ModuleType, logged: list, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(path: str, given: Any, kwargs: dict) -> str:
        raise KeyError("oops")

    patching.apply([Input(lib.__name__, "read_thing", "path", actual_path=broken)], lib)

    assert lib.read_thing("in.txt") == "content"
    assert logged == []
    assert "could not log a call" in capsys.readouterr().err


# -- class and static methods: no declaration uses them yet, but patching is generic ---------

def test_a_classmethod_logs_a_positional_path(lib: ModuleType, logged: list,
                                              tmp_path: Path) -> None:
    patching.apply([Input(lib.__name__, "Writer.load", "path")], lib)

    assert lib.Writer.load("in.txt") == ("cls", "in.txt")
    assert logged == [("input", str(tmp_path / "in.txt"), f"{lib.__name__}.Writer.load")]


def test_a_staticmethod_keeps_working_through_an_instance(lib: ModuleType,
                                                          logged: list) -> None:
    patching.apply([Input(lib.__name__, "Writer.load_static", "path")], lib)

    assert lib.Writer().load_static("in.txt") == ("static", "in.txt")


def test_remove_restores_class_and_static_methods(lib: ModuleType) -> None:
    load, load_static = vars(lib.Writer)["load"], vars(lib.Writer)["load_static"]
    patching.apply([Input(lib.__name__, "Writer.load", "path"),
                    Input(lib.__name__, "Writer.load_static", "path")], lib)

    patching.remove()

    assert vars(lib.Writer)["load"] is load
    assert vars(lib.Writer)["load_static"] is load_static
    assert lib.Writer().load_static("x") == ("static", "x")


def test_declarations_default_their_name_to_module_and_attribute() -> None:
    declaration = Output("pkg.mod", "Frame.to_file", "path")

    assert (declaration.kind, declaration.name, declaration.argument) == (
        "output", "pkg.mod.Frame.to_file", "path")
    assert Input("pkg", "read", "f", name="pkg.read_it").name == "pkg.read_it"



# -- modes, objects that write until closed, and the rest of the declaration options ----------

@pytest.fixture
def sunk() -> list[tuple[str, str, str, bool]]:
    """Every (kind, path relative to the working directory, name, hash_at_end) sunk."""
    events: list[tuple[str, str, str, bool]] = []
    patching.set_sink(lambda kind, path, name, hash_at_end: events.append(
        (kind, os.path.relpath(path), name.rsplit(".", 1)[-1], hash_at_end)))
    return events


@pytest.mark.parametrize(("mode", "kind"), [
    ("r", "input"), ("rb", "input"), ("c", "input"), ("readonly", "input"),
    ("copyonwrite", "input"),
    ("w", "output"), ("wb", "output"), ("w-", "output"), ("x", "output"), ("w+", "output"),
    ("ws", "output"), ("write", "output"),
    ("a", "update"), ("r+", "update"), ("rb+", "update"), ("r+s", "update"),
    ("readwrite", "update"), ("z", "update"),
])
def test_kind_of_mode(mode: str, kind: str) -> None:
    assert patching.kind_of_mode(mode) == kind


def store_declarations(lib: ModuleType) -> list[patching.Declaration]:
    return [Opens(lib.__name__, "Store.__init__", "path"),
            Closes(lib.__name__, "Store.close", lambda store: store.path),
            Input(lib.__name__, "read_thing", "path")]


@pytest.mark.parametrize(("call", "expected"), [
    (lambda m: m.Store("in.txt"), [("input", "in.txt", "Store", False)]),
    (lambda m: m.Store("in.txt", mode="r"), [("input", "in.txt", "Store", False)]),
    (lambda m: m.Store("new.txt", "w"), [("output", "new.txt", "Store", True)]),
    (lambda m: m.Store(Path("new.txt"), "a"), [("output", "new.txt", "Store", True)]),
    (lambda m: m.Store("in.txt", "a"), [("before", "in.txt", "Store", False),
                                        ("update", "in.txt", "Store", True)]),
    (lambda m: m.Store(path="in.txt", mode="r+"), [("before", "in.txt", "Store", False),
                                                   ("update", "in.txt", "Store", True)]),
], ids=["default", "r", "w", "a-new", "a-existing", "r+-keywords"])
def test_a_constructor_opens_by_mode(call: Callable, expected: list, lib: ModuleType,
                                     sunk: list) -> None:
    patching.apply(store_declarations(lib), lib)

    store = call(lib)

    assert sunk == expected
    store.close()


def test_a_declared_constructor_is_named_after_its_class_and_keeps_the_signature(
        lib: ModuleType) -> None:
    before = inspect.signature(lib.Store)

    assert patching.apply(store_declarations(lib), lib)[:2] == [
        f"{lib.__name__}.Store", f"{lib.__name__}.Store.close"]

    assert inspect.signature(lib.Store) == before
    assert str(before) == "(path, mode='r')"
    store = lib.Store("in.txt")
    assert isinstance(store, lib.Store)
    store.close()


def test_a_close_completes_the_file_and_logs_nothing_inside(lib: ModuleType,
                                                            sunk: list) -> None:
    patching.apply(store_declarations(lib), lib)
    store = lib.Store("out.txt", "w")
    store.write(b"data")

    assert store.close() == b"data"
    assert store.close() is None  # closed twice: it has no path any more, nothing to log

    assert sunk == [("output", "out.txt", "Store", True),
                    ("complete", "out.txt", "close", False)]


def test_a_close_inside_a_logged_call_still_completes(lib: ModuleType, sunk: list) -> None:
    store_class = lib.Store
    patching.apply([*store_declarations(lib),
                    Output(lib.__name__, "dump", "path")], lib)
    store = store_class("out.txt", "w")
    lib.write_thing = lambda data, fname: store.close()  # dump -> write_thing -> close
    (Path("dumped.txt")).write_text("")

    lib.dump(["x"], "dumped.txt")

    assert ("complete", "out.txt", "close", False) in sunk


def test_a_constructor_that_fails_logs_nothing(lib: ModuleType, sunk: list) -> None:
    patching.apply(store_declarations(lib), lib)

    with pytest.raises(FileNotFoundError):
        lib.Store("missing.txt")
    with pytest.raises(KeyError):
        lib.Store("in.txt", "bad mode")

    # Only the note taken before opening for update (the recorder's digest of the file):
    # no file is logged.
    assert sunk == [("before", "in.txt", "Store", False)]


def test_positions_given_for_a_function_inspect_cannot_read(lib: ModuleType,
                                                           sunk: list) -> None:
    patching.apply([Opens(lib.__name__, "opens", "name", positional=("name", "mode"))], lib)

    for store in (lib.opens("in.txt", "r"), lib.opens("made.txt", "w"),
                  lib.opens("in.txt", mode="a")):
        store.close()

    assert sunk == [("input", "in.txt", "opens", False), ("output", "made.txt", "opens", True),
                    ("before", "in.txt", "opens", False), ("update", "in.txt", "opens", True)]


def test_a_mode_parameter_inspect_sees_only_as_args_is_read_by_keyword_only(
        lib: ModuleType, sunk: list) -> None:
    patching.apply([Opens(lib.__name__, "opens", "name")], lib)  # opens(*args, **kwargs)

    lib.opens("in.txt", mode="r").close()
    lib.opens("made.txt", "w").close()  # the mode by position is unknown: "r", the default

    assert sunk == [("input", "in.txt", "opens", False), ("input", "made.txt", "opens", False)]


@pytest.mark.parametrize(("given", "expected"), [
    ("in.txt", ["in.txt"]),
    (["in.txt", Path("b.txt")], ["in.txt", "b.txt"]),
    ([["in.txt"], ("b.txt", ["c.txt"])], ["in.txt", "b.txt", "c.txt"]),
    ("*.txt", ["b.txt", "c.txt", "in.txt"]),
    ("[b]*.txt", ["b.txt"]),
    (["in.txt", io.StringIO("x")], ["in.txt"]),
], ids=["one", "list", "nested", "glob", "glob-class", "with-buffer"])
def test_many_paths_are_logged_one_by_one(given: Any, expected: list, lib: ModuleType,
                                         sunk: list, tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("b")
    (tmp_path / "c.txt").write_text("c")
    patching.apply([Input(lib.__name__, "count", "files", many=True)], lib)

    assert lib.count(given) is given

    assert sunk == [("input", path, "count", False) for path in expected]


def test_a_path_named_like_a_glob_that_exists_is_that_file(lib: ModuleType, sunk: list,
                                                           tmp_path: Path) -> None:
    (tmp_path / "odd[1].txt").write_text("x")
    patching.apply([Input(lib.__name__, "count", "files", many=True)], lib)

    lib.count("odd[1].txt")

    assert sunk == [("input", "odd[1].txt", "count", False)]


def test_locate_finds_the_path_from_the_object_and_the_argument(lib: ModuleType, sunk: list,
                                                                tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    patching.apply([Output(lib.__name__, "Cache.save_entry", "key", name="lib.Cache",
                           locate=lambda cache, key: f"{cache.location}/{key}"),
                    Output(lib.__name__, "write_thing", "fname")], lib)

    lib.Cache("cache").save_entry("k1", ["x"])

    assert sunk == [("output", "cache/k1", "Cache", False)]  # write_thing inside: not again


def test_internal_calls_log_nothing_inside(lib: ModuleType, sunk: list, tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "meta").write_text("{}")
    patching.apply([Internal(lib.__name__, "Cache.bookkeeping"),
                    Input(lib.__name__, "read_thing", "path")], lib)

    assert lib.Cache("cache").bookkeeping() == "{}"
    lib.read_thing("cache/meta")

    assert sunk == [("input", "cache/meta", "read_thing", False)]


def test_an_actual_path_of_none_logs_nothing(lib: ModuleType, sunk: list) -> None:
    patching.apply([Input(lib.__name__, "read_thing", "path",
                          actual_path=lambda path, given, kwargs: None)], lib)

    assert lib.read_thing("in.txt") == "content"

    assert sunk == []


def test_a_method_of_an_immutable_type_is_skipped(lib: ModuleType) -> None:
    patched = patching.apply([Input(lib.__name__, "Immutable.bit_length", "x"),
                              Input(lib.__name__, "read_thing", "path")], lib)

    assert patched == [f"{lib.__name__}.read_thing"]
    assert int.bit_length is lib.Immutable.bit_length


class NamedNotAFile:
    name = "/"  # netCDF4's Dataset, h5py's FileID: a name, but no file object


def test_path_of_an_object_with_a_name_but_no_read_or_write_is_none() -> None:
    assert patching.path_of(NamedNotAFile()) is None


def _position_by_inspect(function: Any, is_method: bool, argument: str, path: bool) -> Any:
    """What `patching._position` answered when it asked `inspect.signature` for every
    function: the reference its faster reading of code objects must agree with."""
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
            return index if path else None
    return None


def _declared_functions() -> Iterator[tuple[str, Any, bool, str, bool]]:
    """(name, function, is_method, argument, is a path) of each declaration of every
    installed library, and of functions shaped like the hard cases."""
    from recipe.capture.hooks import PATCH_MODULES

    for library, declarations_module in PATCH_MODULES.items():
        if importlib.util.find_spec(library.partition(".")[0]) is None:
            continue
        declarations = importlib.import_module(declarations_module).DECLARATIONS
        for declaration in declarations:
            try:
                module = importlib.import_module(declaration.module)
            except ImportError:
                continue
            resolved = patching._resolve(module, declaration.attribute)
            if resolved is None or declaration.positional:
                continue
            parent, name = resolved
            is_class = isinstance(parent, type)
            raw = patching._static_lookup(parent, name) if is_class else getattr(parent, name)
            function = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
            takes_self = is_class and not isinstance(raw, staticmethod)
            for argument, is_path in ((declaration.argument, True),
                                      ((declaration.mode or (None,))[0], False),
                                      (declaration.mapped, False)):
                if isinstance(argument, str):
                    yield declaration.name, function, takes_self, argument, is_path

    def inner(a, b, /, c, *rest, d, **more):  # noqa: ANN001, ANN002, ANN003, ANN202
        return a

    @functools.wraps(inner)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        return inner(*args, **kwargs)

    def with_signature(x, path):  # noqa: ANN001, ANN202
        return path

    with_signature.__signature__ = inspect.signature(lambda path, x: None)
    cyclic = functools.partial(inner)
    for function in (inner, wrapper, with_signature, cyclic, print, dict.get):
        for argument in ("a", "c", "rest", "d", "more", "path", "x", "key", "nope"):
            for is_method in (False, True):
                for is_path in (False, True):
                    yield getattr(function, "__name__", "partial"), function, is_method, \
                        argument, is_path


def test_argument_positions_agree_with_inspect_for_every_declared_function() -> None:
    cases = list(_declared_functions())
    assert len({name for name, *_ in cases}) > 20  # numpy, pandas, matplotlib at least
    for name, function, is_method, argument, is_path in cases:
        assert patching._position(function, is_method, argument, path=is_path) == \
            _position_by_inspect(function, is_method, argument, is_path), (name, argument)
