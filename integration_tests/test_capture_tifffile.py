"""tifffile end to end: imread of one file or a glob, imwrite, TiffFile, TiffWriter (complete
once closed) and memmap by mode."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import tifffile as declarations

pytest.importorskip("tifffile")

SETUP = '''
import numpy as np
import tifffile

for index in range(3):
    tifffile.imwrite(f"slice_{index}.tif", np.full((4, 5), index, dtype=np.uint16))
tifffile.imwrite("stack.tif", np.arange(40, dtype=np.uint16).reshape(2, 4, 5))
'''

SCRIPT = '''
import numpy as np
import tifffile

print("one", tifffile.imread("slice_0.tif").shape)
print("glob", tifffile.imread("slice_*.tif").shape)
with tifffile.TiffFile("stack.tif") as tif:
    print("pages", len(tif.pages))
tifffile.imwrite("result.tif", np.ones((3, 3), dtype=np.float32))
with tifffile.TiffWriter("pages.tif") as writer:
    for index in range(2):
        writer.write(np.full((2, 2), index, dtype=np.uint8))
mapped = tifffile.memmap("mapped.tif", shape=(4, 4), dtype="uint8")
mapped[:] = 7
mapped.flush()
del mapped
try:
    tifffile.imread("missing.tif")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def tifffile_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_images_and_stacks_are_recorded(tifffile_run: LibraryRun) -> None:
    tifffile_run.assert_events([
        ("input", "tifffile.imread", "slice_0.tif"),
        ("input", "tifffile.imread", "slice_0.tif"),
        ("input", "tifffile.imread", "slice_1.tif"),
        ("input", "tifffile.imread", "slice_2.tif"),
        ("input", "tifffile.TiffFile", "stack.tif"),
        ("output", "tifffile.imwrite", "result.tif"),
        ("output", "tifffile.TiffWriter", "pages.tif"),
        ("output", "tifffile.memmap", "mapped.tif"),
    ])


def test_recording_changes_nothing_the_script_sees(tifffile_run: LibraryRun) -> None:
    tifffile_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in tifffile_run.stdout
