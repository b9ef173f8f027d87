"""imageio end to end: v2 (top-level and imageio.v2) and v3 calls, each logged once under
the name the script used; uris that are no local file log nothing."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import imageio as declarations

pytest.importorskip("imageio")

SETUP = '''
import numpy as np
import imageio.v3 as iio

iio.imwrite("frame.png", np.full((6, 8, 3), 90, dtype=np.uint8))
iio.imwrite("clip.gif", np.zeros((3, 6, 8, 3), dtype=np.uint8))
'''

SCRIPT = '''
import warnings

import imageio
import imageio.v2
import imageio.v3 as iio
import numpy as np

warnings.simplefilter("ignore", DeprecationWarning)  # imageio.imread's v3 notice
frame = imageio.imread("frame.png")
print("frame", frame.shape, int(frame.mean()))
imageio.imwrite("copy.png", frame)
frames = imageio.v2.mimread("clip.gif")
print("frames", len(frames))
imageio.mimsave("brighter.gif", [f + 10 for f in frames])
print("v3", iio.imread("frame.png").shape, iio.improps("clip.gif").shape)
iio.imwrite("v3.png", frame[::2, ::2])
with imageio.get_writer("streamed.gif") as writer:
    for f in frames:
        writer.append_data(f)
with iio.imopen("opened.gif", "w") as file:
    file.write(frames)
encoded = iio.imwrite("<bytes>", frame, extension=".png")  # bytes in memory, no file
print("encoded", iio.imread(encoded).shape)
try:
    iio.imread("missing.png")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def imageio_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_each_call_is_one_event_under_the_name_the_script_used(imageio_run: LibraryRun) -> None:
    imageio_run.assert_events([
        ("input", "imageio.imread", "frame.png"),
        ("output", "imageio.imwrite", "copy.png"),
        ("input", "imageio.v2.mimread", "clip.gif"),
        ("output", "imageio.mimsave", "brighter.gif"),
        ("input", "imageio.v3.imread", "frame.png"),
        ("input", "imageio.v3.improps", "clip.gif"),
        ("output", "imageio.v3.imwrite", "v3.png"),
        ("output", "imageio.get_writer", "streamed.gif"),
        ("output", "imageio.v3.imopen", "opened.gif"),
    ])


def test_recording_changes_nothing_the_script_sees(imageio_run: LibraryRun) -> None:
    imageio_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in imageio_run.stdout
