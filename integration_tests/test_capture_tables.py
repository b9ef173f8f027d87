"""PyTables end to end: open_file by mode, closed or left for the interpreter to close."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import tables as declarations

pytest.importorskip("tables")

SETUP = '''
import numpy as np
import tables

for name in ("readings.h5", "kept.h5", "extended.h5"):
    with tables.open_file(name, "w") as h5:
        h5.create_array("/", "values", np.arange(8.0))
'''

SCRIPT = '''
import numpy as np
import tables

with tables.open_file("readings.h5") as h5:  # mode "r", the default
    print("sum", float(h5.root.values.read().sum()))
h5 = tables.open_file("kept.h5", mode="a")  # only read: an input
print("first", float(h5.root.values[0]))
h5.close()
with tables.open_file("extended.h5", "r+") as h5:
    h5.create_array("/", "more", np.ones(2))
with tables.open_file("table.h5", "w") as h5:
    table = h5.create_table("/", "runs", {"n": tables.Int32Col(), "x": tables.Float64Col()})
    table.append([(1, 0.5), (2, 1.5)])
try:
    tables.open_file("missing.h5")
except OSError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def tables_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_files_are_recorded_by_mode_with_their_final_hash(tables_run: LibraryRun) -> None:
    tables_run.assert_events([
        ("input", "tables.open_file", "readings.h5"),
        ("input", "tables.open_file", "kept.h5"),
        ("output", "tables.open_file", "extended.h5"),
        ("output", "tables.open_file", "table.h5"),
    ])


def test_recording_changes_nothing_the_script_sees(tables_run: LibraryRun) -> None:
    tables_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in tables_run.stdout
