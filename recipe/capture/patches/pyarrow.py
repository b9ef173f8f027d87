"""pyarrow: Parquet, Feather and CSV files, read and written by Arrow's C++ code."""

from __future__ import annotations

from ..patching import Closes, Input, Output, expanding_user

# pyarrow expands a leading ~ in every local path it takes.
DECLARATIONS = expanding_user([
    # A source may be a file or a directory of files (a dataset).
    Input("pyarrow.parquet", "read_table", "source"),
    Input("pyarrow.parquet", "read_metadata", "where"),
    Input("pyarrow.parquet", "read_schema", "where"),
    Input("pyarrow.parquet", "ParquetFile.__init__", "source"),
    Input("pyarrow.parquet", "ParquetDataset.__init__", "path_or_paths", many=True),
    Output("pyarrow.parquet", "write_table", "where"),
    Output("pyarrow.parquet", "write_to_dataset", "root_path"),
    # Row groups are written one by one; the file is complete (its footer written) once
    # the writer is closed.
    Output("pyarrow.parquet", "ParquetWriter.__init__", "where", until_closed=True),
    Closes("pyarrow.parquet", "ParquetWriter.close", lambda writer: writer.where),
    Input("pyarrow.feather", "read_feather", "source"),
    Input("pyarrow.feather", "read_table", "source"),
    Output("pyarrow.feather", "write_feather", "dest"),
    Input("pyarrow.csv", "read_csv", "input_file"),
    Input("pyarrow.csv", "open_csv", "input_file"),
    Output("pyarrow.csv", "write_csv", "output_file"),
])
