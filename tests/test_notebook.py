"""A notebook's code, parameters and injected cell, read and written without a kernel."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from recipe.capture.notebook import code_of, notebook_path
from recipe.execute import notebook
from recipe.execute.params import DiscoveryError


def cell(source: str | list[str], *tags: str, kind: str = "code", **extra: object) -> dict:
    return {"cell_type": kind, "source": source, "metadata": {"tags": list(tags)},
            "outputs": [], "execution_count": None, **extra}


def document(*cells: dict) -> dict:
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_code_is_the_code_cells_alone() -> None:
    plain = document(cell("a = 1"), cell("print(a)"))
    noisy = document(cell("# Title", kind="markdown"), cell(["a ", "= 1"]),
                     cell("a = 2", "injected-parameters"),
                     cell("print(a)", execution_count=7,
                          outputs=[{"output_type": "stream", "text": "1\n"}]))
    noisy["metadata"] = {"kernelspec": {"name": "python3"}}

    assert code_of(plain) == code_of(noisy)
    assert code_of(plain) != code_of(document(cell("a = 1\nprint(a)")))  # cells count


def test_code_of_something_else_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a Jupyter notebook"):
        code_of({"worksheets": []})


def test_discover_reads_the_parameters_cell() -> None:
    found = notebook.discover(document(cell("import x"), cell(
        "year = 2020\nrate: float = 0.5\nname = 'n'\nderived = year * 2\n_hidden = 1",
        "parameters"), cell("late = 3", "parameters")), "nb.ipynb")

    assert [(p.name, p.default, p.type, p.line, p.source) for p in found.parameters] == [
        ("year", 2020, "int", 1, "notebook"), ("rate", 0.5, "float", 2, "notebook"),
        ("name", "n", "str", 3, "notebook")]


def test_a_notebook_without_parameters_cell_has_no_parameters() -> None:
    assert notebook.discover(document(cell("year = 2020")), "nb.ipynb").parameters == []


def test_a_parameters_cell_that_does_not_parse_is_an_error() -> None:
    with pytest.raises(DiscoveryError, match=r"nb.ipynb \(cell 0, tagged parameters\):1"):
        notebook.discover(document(cell("%matplotlib inline", "parameters")), "nb.ipynb")


@pytest.mark.parametrize("cells, injected_at", [
    ([cell("import x"), cell("year = 1", "parameters"), cell("use(year)")], 2),
    ([cell("import x"), cell("use(year)")], 0),  # papermill's choice: the top
])
def test_inject_puts_values_after_the_parameters_cell(cells: list[dict], injected_at: int
                                                      ) -> None:
    found = document(*cells)

    notebook.inject(found, {"year": 2021, "name": "b"})

    injected = found["cells"][injected_at]
    assert injected["metadata"]["tags"] == ["injected-parameters"]
    assert injected["source"] == "# Parameters\nyear = 2021\nname = 'b'\n"
    assert len(found["cells"]) == len(cells) + 1


def test_inject_replaces_the_cell_an_earlier_run_injected() -> None:
    found = document(cell("year = 1", "parameters"), cell("year = 7", "injected-parameters"),
                     cell("use(year)"))

    notebook.inject(found, {})

    assert [c["source"] for c in found["cells"]] == ["year = 1", "use(year)"]


@pytest.mark.parametrize("value", [True, None, 3, -2.5, "it's", math.inf, -math.inf])
def test_literal_reads_back_as_the_value(value: object) -> None:
    assert eval(notebook.literal(value)) == value


def test_literal_of_nan_is_nan() -> None:
    assert math.isnan(eval(notebook.literal(math.nan)))


@pytest.mark.parametrize("run_id, expected", [
    (None, "/d/analysis.executed.ipynb"),
    ("1a2b3c4d5e6f", "/d/analysis.executed-1a2b3c4d.ipynb"),
])
def test_executed_copy_goes_beside_the_notebook(run_id: str | None, expected: str) -> None:
    assert notebook.executed_path("/d/analysis.ipynb", run_id) == expected


@pytest.mark.parametrize("told", [
    {"namespace": {"__vsc_ipynb_file__": "{dir}/nb.ipynb"}},  # VS Code
    {"namespace": {"__session__": "{dir}/nb.ipynb"}},  # ipykernel, from Jupyter's server
    {"env": "{dir}/nb.ipynb"},  # JPY_SESSION_NAME itself
    {"env": "some/folder/nb.ipynb"},  # an older server: under its root, kernel beside it
])
def test_the_kernel_finds_the_notebook_it_is_told(told: dict, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nb.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    namespace = {name: value.format(dir=tmp_path)
                 for name, value in told.get("namespace", {}).items()}
    if "env" in told:
        monkeypatch.setenv("JPY_SESSION_NAME", told["env"].format(dir=tmp_path))

    assert notebook_path(SimpleNamespace(user_ns=namespace)) == str(tmp_path / "nb.ipynb")


def test_a_kernel_told_nothing_that_exists_has_no_notebook(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "gone.ipynb"))

    assert notebook_path(SimpleNamespace(user_ns={"__session__": "console-1"})) is None


def test_cells_of_two_runs_are_matched_in_execution_order() -> None:
    from recipe.cli.lineage import _cell_changes

    def run(*codes: str) -> dict:
        return {"cells": [{"execution_count": n, "code": code}
                          for n, code in enumerate(codes, start=1)]}

    changes = _cell_changes(run("import x", "a = 1", "plot(a)", "save()"),
                            run("import x", "a = 2", "plot(a)", "extra()", "save()"))

    assert [(c["state"], c["a"], c["b"]) for c in changes] == [
        ("same", 1, 1), ("changed", 2, 2), ("same", 3, 3), ("added", None, 4),
        ("same", 4, 5)]
    assert changes[1]["diff"] == "@@ -1 +1 @@\n-a = 1\n+a = 2"
    assert [c["state"] for c in _cell_changes(run("a", "b"), run("a"))] == ["same", "removed"]
