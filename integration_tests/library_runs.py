"""One library's declarations end to end: a script run recorded and plain, what was stored.

Each `test_capture_<library>.py` gives a setup script (writes the inputs, unrecorded), a
script that calls the library's declared functions, and the events that run must store,
nothing else. `LibraryRun.of` runs the script twice at once, recorded in one workspace and
without recipe in a copy of it, and appends to both a report of every declared function
(signature, name, docstring, whether patched) printed on stdout, so one comparison shows
that recording changed neither what the script printed nor any signature.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from recipe_workspace import Workspace

from recipe.capture.patching import Declaration
from recipe.record.hashing import hash_file, hash_tree

REPORT = '''
import importlib as _importlib
import inspect as _inspect
import json as _json
import re as _re

import wrapt as _wrapt


def _describe(module, attribute):
    obj = _importlib.import_module(module)
    for part in attribute.split("."):
        obj = getattr(obj, part, None)
    if obj is None:
        return None
    try:
        # Defaults that are objects print their address, which differs between processes.
        signature = _re.sub(" at 0x[0-9a-f]+", "", str(_inspect.signature(obj)))
    except (TypeError, ValueError) as exc:
        signature = f"{{type(exc).__name__}}: {{exc}}"
    # A wrapt proxy passes isinstance() checks on to what it wraps: look at its type.
    patched = issubclass(type(obj), (_wrapt.FunctionWrapper, _wrapt.BoundFunctionWrapper))
    return {{"signature": signature, "name": getattr(obj, "__name__", None),
            "qualname": getattr(obj, "__qualname__", None), "doc": obj.__doc__,
            "patched": patched}}


print("DECLARED " + _json.dumps({{name: _describe(module, attribute)
                                 for name, module, attribute in {declared!r}}}))
'''


@dataclass
class LibraryRun:
    """A library script's recorded run, and what it printed with and without recipe."""

    ws: Workspace
    run: dict
    stdout: str
    plain_stdout: str

    @classmethod
    def of(cls, factory: pytest.TempPathFactory, declarations: list[Declaration],
           script: str, setup: str = "") -> LibraryRun:
        ws = Workspace(factory.mktemp("recorded"))
        plain = Workspace(factory.mktemp("plain"))
        if setup:
            ws.write("setup.py", setup)
            ws.python("setup.py")
            (ws.root / "setup.py").unlink()
        shutil.copytree(ws.root, plain.root, dirs_exist_ok=True)
        declared = [(d.name, d.module, d.attribute) for d in declarations
                    if d.kind not in ("complete", "internal")]
        report = REPORT.format(declared=declared)
        ws.write("script.py", "import recipe\n" + script + report)
        plain.write("script.py", script + report)
        with ThreadPoolExecutor(2) as pool:
            recorded, without = pool.map(lambda w: w.python("script.py"), (ws, plain))
        run = ws.only_run()
        assert run["status"] == "completed"
        return cls(ws, run, recorded.stdout, without.stdout)

    def path(self, relative: str) -> str:
        return os.path.join(os.path.realpath(self.ws.root), relative)

    def events(self) -> Counter:
        """(kind, function, path relative to the workspace) of every stored file event."""
        root = os.path.realpath(self.ws.root)
        return Counter((kind, event["function"], os.path.relpath(event["path"], root))
                       for kind in ("input", "output") for event in self.run[kind + "s"])

    def assert_events(self, expected: list[tuple[str, str, str]], *,
                      open_at_exit: tuple[str, ...] = ()) -> None:
        """Exactly these events were stored, each with the hash and size of its file as it
        is on disk now that the run has ended; except the files in `open_at_exit`, left
        open by the script: the run hashes them as it ends, and the interpreter's shutdown
        closes them later (HDF5 writes its last bookkeeping then)."""
        actual, wanted = self.events(), Counter(expected)
        assert actual == wanted, (f"missing: {sorted((wanted - actual).elements())}\n"
                                  f"unexpected: {sorted((actual - wanted).elements())}")
        root = os.path.realpath(self.ws.root)
        for kind in ("input", "output"):
            for event in self.run[kind + "s"]:
                if os.path.relpath(event["path"], root) not in open_at_exit:
                    assert_hash_of_file_on_disk(event)

    def declared(self, stdout: str) -> dict:
        line = stdout.splitlines()[-1]
        assert line.startswith("DECLARED ")
        return json.loads(line.removeprefix("DECLARED "))

    def assert_behaviour_unchanged(self) -> None:
        """Same printed output; every declared function present is patched, with the same
        signature, name and docstring as without recipe."""
        recorded, plain = self.declared(self.stdout), self.declared(self.plain_stdout)
        assert self.stdout.splitlines()[:-1] == self.plain_stdout.splitlines()[:-1]
        assert recorded.keys() == plain.keys()
        for name, description in plain.items():
            if description is None:  # not in the installed version: skipped, not invented
                assert recorded[name] is None, name
                continue
            assert recorded[name]["patched"] and not description["patched"], name
            assert {**recorded[name], "patched": False} == description, name


def assert_hash_of_file_on_disk(event: dict) -> None:
    path = event["path"]
    assert os.path.isabs(path)
    assert event["hash_algorithm"] == "xxh3_128"
    if os.path.isdir(path):
        digest, size = hash_tree(path)
    else:
        digest, size = hash_file(path), os.path.getsize(path)
    assert (event["hash"], event["size"]) == (digest, size), f"{path} differs from its record"
