"""pandas: the read_* readers, the DataFrame/Series to_* writers that take a path, HDFStore."""

from __future__ import annotations

import os

from ..patching import Closes, Input, Opens, Output, expanding_user

# reader -> name of its path parameter
READERS = {
    "read_csv": "filepath_or_buffer",
    "read_table": "filepath_or_buffer",
    "read_fwf": "filepath_or_buffer",
    "read_json": "path_or_buf",
    "read_excel": "io",
    "read_parquet": "path",
    "read_feather": "path",
    "read_pickle": "filepath_or_buffer",
    "read_hdf": "path_or_buf",
    "read_stata": "filepath_or_buffer",
    "read_sas": "filepath_or_buffer",
    "read_orc": "path",
    "read_xml": "path_or_buffer",
    "read_html": "io",
    "read_spss": "path",
}

# writer -> name of its path parameter; a writer given no path returns a string: nothing logged.
WRITERS = {
    "to_csv": "path_or_buf",
    "to_json": "path_or_buf",
    "to_excel": "excel_writer",
    "to_parquet": "path",
    "to_feather": "path",
    "to_pickle": "path",
    "to_hdf": "path_or_buf",
    "to_stata": "path",
    "to_orc": "path",
    "to_xml": "path_or_buffer",
    "to_html": "buf",
    "to_latex": "buf",
    "to_markdown": "buf",
    "to_string": "buf",
}

# pandas expands a leading ~ in every path it takes (io.common.stringify_path).
DECLARATIONS = expanding_user([
    Input("pandas", reader, argument) for reader, argument in READERS.items()
] + [
    # Declared per class (Series lacks some writers; those are skipped) so that the logged
    # name says which one wrote, although most are defined once on their common base.
    Output("pandas", f"{cls}.{writer}", argument)
    for cls in ("DataFrame", "Series")
    for writer, argument in WRITERS.items()
] + [
    # An HDFStore opens in "a" mode unless told otherwise: an input when only read.
    Opens("pandas", "HDFStore.__init__", "path", default="a"),
    Closes("pandas", "HDFStore.close", lambda store: store.filename),
    # to_excel(writer) logs the writer's file; closing the writer completes it (openpyxl's
    # Workbook.save, called by the close, is not logged again).
    Closes("pandas", "ExcelWriter.close", os.fspath),
])
