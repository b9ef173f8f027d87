"""tifffile: TIFF images and stacks read and written."""

from __future__ import annotations

from ..patching import Closes, Input, Opens, Output

DECLARATIONS = [
    # `files`: one file, a list of files or a glob pattern (a stack of images).
    Input("tifffile", "imread", "files", many=True),
    Output("tifffile", "imwrite", "file"),
    Input("tifffile", "TiffFile.__init__", "file"),
    Output("tifffile", "TiffWriter.__init__", "file", until_closed=True),
    Closes("tifffile", "TiffWriter.close", lambda writer: writer.filehandle.path),
    Opens("tifffile", "memmap", "filename", default="r+"),
]
