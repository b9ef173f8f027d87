"""numpy: the functions that read or write files, and memory-mapped arrays."""

from __future__ import annotations

from ..patching import Input, Opens, Output, with_suffix

DECLARATIONS = [
    # mmap_mode maps the file: its bytes are read when the array is, so it is hashed off
    # the call (a 2 GiB np.load(mmap_mode="r") returns at once, as it does unrecorded).
    Input("numpy", "load", "file", mapped="mmap_mode"),
    Input("numpy", "loadtxt", "fname"),
    Input("numpy", "genfromtxt", "fname"),
    Input("numpy", "fromfile", "file"),
    Input("numpy", "fromregex", "file"),
    Output("numpy", "save", "file", actual_path=with_suffix(".npy")),
    Output("numpy", "savez", "file", actual_path=with_suffix(".npz")),
    Output("numpy", "savez_compressed", "file", actual_path=with_suffix(".npz")),
    Output("numpy", "savetxt", "fname"),
    # A memmap writes through the page cache until the run ends: its modes "r" and "c"
    # (copy-on-write) read, "w+" writes, "r+" (the default) updates.
    Opens("numpy", "memmap.__new__", "filename", default="r+", mapped=True),
    # ndarray.tofile is not declared: ndarray is a C type whose methods cannot be replaced
    # without touching numpy's type internals.
]
