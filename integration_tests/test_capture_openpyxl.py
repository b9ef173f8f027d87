"""openpyxl end to end: workbooks loaded and saved (and pandas' Excel calls through openpyxl
logged once, under pandas' name)."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import openpyxl as declarations

pytest.importorskip("openpyxl")

SETUP = '''
import openpyxl

book = openpyxl.Workbook()
book.active.append(["site", "reading"])
book.active.append(["a", 1.5])
book.save("readings.xlsx")
'''

SCRIPT = '''
from pathlib import Path

import openpyxl
import pandas as pd

book = openpyxl.load_workbook("readings.xlsx")
print("rows", [row for row in book.active.iter_rows(values_only=True)])
book.active.append(["b", 2.5])
book.save(Path("more_readings.xlsx"))
frame = pd.read_excel("more_readings.xlsx")
print("frame", frame.shape)
frame.to_excel("from_pandas.xlsx", index=False)
try:
    openpyxl.load_workbook("missing.xlsx")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def openpyxl_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_workbooks_loaded_and_saved_are_recorded_once(openpyxl_run: LibraryRun) -> None:
    openpyxl_run.assert_events([
        ("input", "openpyxl.load_workbook", "readings.xlsx"),
        ("output", "openpyxl.Workbook.save", "more_readings.xlsx"),
        ("input", "pandas.read_excel", "more_readings.xlsx"),
        ("output", "pandas.DataFrame.to_excel", "from_pandas.xlsx"),
    ])


def test_recording_changes_nothing_the_script_sees(openpyxl_run: LibraryRun) -> None:
    openpyxl_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in openpyxl_run.stdout
