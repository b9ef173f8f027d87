"""netCDF4: netCDF files, read and written by the netCDF C library."""

from __future__ import annotations

from ..patching import Closes, Input, Opens


def _persisted(path: str, given: object, kwargs: dict) -> str | None:
    """Dataset(..., diskless=True) keeps the dataset in memory: a file only if persisted."""
    return None if kwargs.get("diskless") and not kwargs.get("persist") else path


DECLARATIONS = [
    # Dataset is a Cython class: inspect sees only (*args, **kwargs), so the positions of
    # filename and mode are given.
    Opens("netCDF4", "Dataset.__init__", "filename", positional=("filename", "mode"),
          actual_path=_persisted),
    Closes("netCDF4", "Dataset.close", lambda dataset: dataset.filepath()),
    # A list of files or a glob pattern, read as one dataset.
    Input("netCDF4", "MFDataset.__init__", "files", many=True),
]
