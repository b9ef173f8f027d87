"""torch end to end: checkpoints saved and loaded (written by torch's C++ zip writer).

torch is large and not in the `test` extra: the test skips where it is not installed."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import torch as declarations

pytest.importorskip("torch")

SCRIPT = '''
import io
from pathlib import Path

import torch

model = torch.nn.Linear(3, 2)
torch.manual_seed(0)
torch.save(model.state_dict(), "model.pt")
torch.save({"weights": torch.arange(6.0)}, Path("checkpoint.pt"))
restored = torch.load("model.pt", weights_only=True)
print("keys", sorted(restored))
with open("checkpoint.pt", "rb") as handle:
    print("weights", torch.load(handle)["weights"].tolist())
buffer = io.BytesIO()
torch.save(torch.ones(2), buffer)  # a buffer: nothing logged
try:
    torch.load("missing.pt")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def torch_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT)


def test_checkpoints_saved_and_loaded_are_recorded(torch_run: LibraryRun) -> None:
    torch_run.assert_events([
        ("output", "torch.save", "model.pt"),
        ("output", "torch.save", "checkpoint.pt"),
        ("input", "torch.load", "model.pt"),
        ("input", "torch.load", "checkpoint.pt"),
    ])


def test_recording_changes_nothing_the_script_sees(torch_run: LibraryRun) -> None:
    torch_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in torch_run.stdout
