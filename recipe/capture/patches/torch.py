"""torch: tensors, modules and checkpoints saved and loaded (written by C++ code)."""

from __future__ import annotations

from ..patching import Input, Output

DECLARATIONS = [
    Output("torch", "save", "f"),
    Input("torch", "load", "f"),
]
