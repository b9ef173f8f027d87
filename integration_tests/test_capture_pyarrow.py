"""pyarrow end to end: Parquet (files, datasets, a writer closed row group by row group),
Feather and CSV, each call one event (pandas' and pyarrow's own calls inside are not)."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import pyarrow as declarations

pytest.importorskip("pyarrow")

SETUP = '''
import pyarrow as pa
import pyarrow.csv as csv
import pyarrow.parquet as pq

table = pa.table({"n": [1, 2, 3], "x": [0.5, 1.5, 2.5]})
pq.write_table(table, "input.parquet")
csv.write_csv(table, "input.csv")
'''

SCRIPT = '''
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as csv
import pyarrow.feather as feather
import pyarrow.parquet as pq

table = pq.read_table("input.parquet")
print("rows", table.num_rows, pq.ParquetFile(Path("input.parquet")).metadata.num_columns)
pq.write_table(table, "copy.parquet")
with pq.ParquetWriter("batches.parquet", table.schema) as writer:
    writer.write_table(table)
    writer.write_table(table)
pq.write_to_dataset(table, "dataset", partition_cols=["n"])
print("dataset", pq.read_table("dataset").num_rows)
feather.write_feather(table, "table.feather")
print("feather", feather.read_table("table.feather").num_rows)
print("csv", csv.read_csv("input.csv").num_columns)
csv.write_csv(table, "output.csv")
sink = pa.BufferOutputStream()
pq.write_table(table, sink)  # a buffer: nothing logged
print("buffer", sink.getvalue().size > 0)
try:
    pq.read_table("missing.parquet")
except OSError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def pyarrow_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_each_call_is_one_event_with_the_final_hash(pyarrow_run: LibraryRun) -> None:
    pyarrow_run.assert_events([
        ("input", "pyarrow.parquet.read_table", "input.parquet"),
        ("input", "pyarrow.parquet.ParquetFile", "input.parquet"),
        ("output", "pyarrow.parquet.write_table", "copy.parquet"),
        ("output", "pyarrow.parquet.ParquetWriter", "batches.parquet"),
        ("output", "pyarrow.parquet.write_to_dataset", "dataset"),
        ("input", "pyarrow.parquet.read_table", "dataset"),
        ("output", "pyarrow.feather.write_feather", "table.feather"),
        ("input", "pyarrow.feather.read_table", "table.feather"),
        ("input", "pyarrow.csv.read_csv", "input.csv"),
        ("output", "pyarrow.csv.write_csv", "output.csv"),
    ])


def test_recording_changes_nothing_the_script_sees(pyarrow_run: LibraryRun) -> None:
    pyarrow_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in pyarrow_run.stdout
