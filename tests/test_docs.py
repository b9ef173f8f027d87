"""The examples in docs/ run as doctests, so the documentation cannot drift."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize("name", ["parameters.md", "sweeps.md"])
def test_doc_examples_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the examples write their scripts here
    monkeypatch.setenv("RECIPE_HOME", str(tmp_path / "recipe-home"))  # and runs here
    monkeypatch.setenv("RECIPE_QUIET", "1")
    result = doctest.testfile(str(DOCS / name), module_relative=False,
                              optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
