"""h5py: HDF5 files, read and written by the HDF5 C library (no Python-level open)."""

from __future__ import annotations

from ..patching import Closes, Opens

DECLARATIONS = [
    # Modes: "r" (the default) reads, "w"/"w-"/"x" write, "a"/"r+" update; what a File
    # writes is complete once it is closed (`with` closes it too).
    Opens("h5py", "File.__init__", "name"),
    Closes("h5py", "File.close", lambda file: file.filename),
]
