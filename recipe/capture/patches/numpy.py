"""numpy: the functions that read or write files."""

from __future__ import annotations

import os

from ..patching import Input, Output


def _with_suffix(suffix: str):
    """numpy appends the suffix to a path (not to an open file) that lacks it:
    np.save("x") writes x.npy."""

    def actual_path(path: str, given: object, kwargs: dict) -> str:
        if isinstance(given, (str, bytes, os.PathLike)) and not path.endswith(suffix):
            return path + suffix
        return path

    return actual_path


DECLARATIONS = [
    Input("numpy", "load", "file"),
    Input("numpy", "loadtxt", "fname"),
    Input("numpy", "genfromtxt", "fname"),
    Input("numpy", "fromfile", "file"),
    Input("numpy", "fromregex", "file"),
    Output("numpy", "save", "file", actual_path=_with_suffix(".npy")),
    Output("numpy", "savez", "file", actual_path=_with_suffix(".npz")),
    Output("numpy", "savez_compressed", "file", actual_path=_with_suffix(".npz")),
    Output("numpy", "savetxt", "fname"),
    # ndarray.tofile is not declared: ndarray is a C type whose methods cannot be replaced
    # without touching numpy's type internals.
]
