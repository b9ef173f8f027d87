"""zarr end to end: a store on disk is one directory event, by mode, hashed as a tree."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import zarr as declarations

pytest.importorskip("zarr")

SETUP = '''
import numpy as np
import zarr

zarr.save("saved.zarr", np.arange(10))
zarr.save("kept.zarr", np.arange(5))
'''

SCRIPT = '''
import numpy as np
import zarr
from zarr.storage import LocalStore

print("loaded", zarr.load("saved.zarr").tolist())
array = zarr.open("made.zarr", mode="w", shape=(4, 4), chunks=(2, 2), dtype="f8")
array[:] = np.arange(16.0).reshape(4, 4)  # chunks written after the call: hashed at the end
print("kept", zarr.open_array("kept.zarr", mode="a")[:].sum())  # only read: an input
group = zarr.open_group(LocalStore("grouped.zarr"), mode="w")
group.create_array("x", shape=(3,), dtype="i4")[:] = [1, 2, 3]
zarr.save_array("array.zarr", np.ones(3))
in_memory = zarr.open(mode="w", shape=(2,), dtype="i4")  # no store given: memory
in_memory[:] = 1
try:
    zarr.open("missing.zarr", mode="r")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def zarr_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_stores_are_recorded_as_directories_by_mode(zarr_run: LibraryRun) -> None:
    zarr_run.assert_events([
        ("input", "zarr.load", "saved.zarr"),
        ("output", "zarr.open", "made.zarr"),
        ("input", "zarr.open_array", "kept.zarr"),
        ("output", "zarr.open_group", "grouped.zarr"),
        ("output", "zarr.save_array", "array.zarr"),
    ])


def test_recording_changes_nothing_the_script_sees(zarr_run: LibraryRun) -> None:
    zarr_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in zarr_run.stdout
