"""PyTables: HDF5 files opened with tables.open_file (pandas.HDFStore goes through it)."""

from __future__ import annotations

from ..patching import Closes, Opens

DECLARATIONS = [
    Opens("tables", "open_file", "filename"),
    Closes("tables", "File.close", lambda file: file.filename),
]
