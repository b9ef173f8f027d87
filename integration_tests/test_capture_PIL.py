"""Pillow end to end: Image.open and Image.save, by path, pathlib or open file."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun
from recipe_workspace import Workspace

from recipe.capture.patches import PIL as declarations

pytest.importorskip("PIL")

SETUP = '''
from PIL import Image

Image.new("RGB", (8, 6), (200, 30, 30)).save("photo.png")
Image.new("L", (4, 4), 128).save("mask.png")
'''

SCRIPT = '''
import io
from pathlib import Path

from PIL import Image

with Image.open("photo.png") as photo:
    print("size", photo.size, photo.mode)
    photo.convert("L").resize((4, 3)).save("thumbnail.png")
    photo.save(Path("photo.jpg"), format="JPEG", quality=90)
with open("mask.png", "rb") as handle:
    print("mask", Image.open(handle).getpixel((0, 0)))
buffer = io.BytesIO()
Image.new("RGB", (2, 2)).save(buffer, format="PNG")  # a buffer: nothing logged
print("buffer", Image.open(io.BytesIO(buffer.getvalue())).size)
try:
    Image.open("missing.png")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def pil_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_images_opened_and_saved_are_recorded(pil_run: LibraryRun) -> None:
    pil_run.assert_events([
        ("input", "PIL.Image.open", "photo.png"),
        ("output", "PIL.Image.Image.save", "thumbnail.png"),
        ("output", "PIL.Image.Image.save", "photo.jpg"),
        ("input", "PIL.Image.open", "mask.png"),
    ])


def test_recording_changes_nothing_the_script_sees(pil_run: LibraryRun) -> None:
    pil_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in pil_run.stdout


@pytest.mark.parametrize("name", ["PIL", "pil"])
def test_a_library_disabled_by_its_import_name_in_any_case_is_not_logged(
        name: str, ws: Workspace) -> None:
    ws.write("setup.py", SETUP)
    ws.python("setup.py")
    ws.write("disabled.py", 'import recipe\nfrom PIL import Image\n'
                            'print(Image.open("photo.png").size)\n')

    result = ws.python("disabled.py", env={"RECIPE_LIBRARIES_DISABLED": name})

    assert result.stdout == "(8, 6)\n"
    # Not patched: only the open-event fallback sees the file, as a plain `open`.
    assert [event["function"] for event in ws.only_run()["inputs"]] == ["open"]
