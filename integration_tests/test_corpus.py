"""The corpus of analysis scripts (integration_tests/corpus/): each run with `recipe run`
gets exactly its expected record, every hash that of the file left on disk.

Events only the open-event fallback can see (builtin open of json, csv, pickle) are marked
`fallback` and checked once `recipe.capture.audit` exists."""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest
from library_runs import assert_hash_of_file_on_disk
from recipe_workspace import Workspace

CORPUS = Path(__file__).parent / "corpus"
FALLBACK = importlib.util.find_spec("recipe.capture.audit") is not None


def unmatched(recorded: list[tuple[str, str, str]], expected: list[dict]) -> tuple[list, list]:
    """(recorded events no expected one matches, expected events never recorded); an
    expected path may be a glob (a joblib cache entry's hashed folder)."""
    left = list(expected)
    extra = []
    for kind, function, path in recorded:
        for want in left:
            if ((want["kind"], want["function"]) == (kind, function)
                    and fnmatch.fnmatchcase(path, want["path"])):
                left.remove(want)
                break
        else:
            extra.append((kind, function, path))
    return extra, left


@pytest.mark.parametrize("name", sorted(entry.name for entry in CORPUS.iterdir()
                                        if entry.is_dir()))
def test_script_gets_its_expected_record(name: str, ws: Workspace) -> None:
    spec = json.loads((CORPUS / name / "expected.json").read_text())
    for module in spec["requires"]:
        pytest.importorskip(module)
    shutil.copytree(CORPUS / name, ws.root, dirs_exist_ok=True)
    ws.python("make_data.py")

    ws.recipe("run", "script.py")

    run = ws.only_run()
    assert run["status"] == "completed"
    root = os.path.realpath(ws.root)
    recorded = [(kind, event["function"], os.path.relpath(event["path"], root))
                for kind in ("input", "output") for event in run[kind + "s"]]
    expected = [event for event in spec["events"] if FALLBACK or not event.get("fallback")]
    extra, missing = unmatched(recorded, expected)
    assert (extra, missing) == ([], [])
    for kind in ("input", "output"):
        for event in run[kind + "s"]:
            assert_hash_of_file_on_disk(event)
