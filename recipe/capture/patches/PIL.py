"""Pillow: images opened and saved."""

from __future__ import annotations

from ..patching import Input, Output

DECLARATIONS = [
    # open reads the header; the pixels are read later from the same open file.
    Input("PIL.Image", "open", "fp"),
    Output("PIL.Image", "Image.save", "fp"),
]
