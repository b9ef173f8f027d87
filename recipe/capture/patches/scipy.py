"""scipy.io: MATLAB, WAV, Matrix Market, netCDF 3, IDL, Harwell-Boeing and Fortran files."""

from __future__ import annotations

import os

from ..patching import Closes, Input, Opens, Output, with_suffix


def _mat_file(path: str, given: object, kwargs: dict) -> str:
    """loadmat("x") reads x.mat when there is no file "x" (appendmat, the default)."""
    if (kwargs.get("appendmat", True) and isinstance(given, (str, os.PathLike))
            and not os.path.exists(path) and not path.endswith(".mat")):
        return path + ".mat"
    return path


DECLARATIONS = [
    Input("scipy.io", "loadmat", "file_name", actual_path=_mat_file),
    Input("scipy.io", "whosmat", "file_name", actual_path=_mat_file),
    # savemat("x") writes "x" as given: it appends .mat only when "x" cannot be opened.
    Output("scipy.io", "savemat", "file_name", actual_path=_mat_file),
    Input("scipy.io.wavfile", "read", "filename"),
    Output("scipy.io.wavfile", "write", "filename"),
    Input("scipy.io", "mmread", "source"),
    Input("scipy.io", "mminfo", "source"),
    Output("scipy.io", "mmwrite", "target", actual_path=with_suffix(".mtx")),
    Opens("scipy.io", "netcdf_file.__init__", "filename"),
    Closes("scipy.io", "netcdf_file.close", lambda netcdf: netcdf.filename),
    Input("scipy.io", "readsav", "file_name"),
    Input("scipy.io", "hb_read", "path_or_open_file"),
    Output("scipy.io", "hb_write", "path_or_open_file"),
    Opens("scipy.io", "FortranFile.__init__", "filename"),
    Closes("scipy.io", "FortranFile.close", lambda fortran: fortran._fp.name),
]
