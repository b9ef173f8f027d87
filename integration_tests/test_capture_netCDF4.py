"""netCDF4 end to end: Dataset by mode, positional or keyword, MFDataset over a glob."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import netCDF4 as declarations

pytest.importorskip("netCDF4")

SETUP = '''
import netCDF4
import numpy as np

for name, fmt in [("grid.nc", "NETCDF4"), ("part_1.nc", "NETCDF4_CLASSIC"),
                  ("part_2.nc", "NETCDF4_CLASSIC"), ("kept.nc", "NETCDF4"),
                  ("amended.nc", "NETCDF4")]:
    with netCDF4.Dataset(name, "w", format=fmt) as ds:
        ds.createDimension("time", None)
        ds.createVariable("t", "f8", ("time",))[:] = np.arange(3.0) + len(name)
'''

SCRIPT = '''
from pathlib import Path

import netCDF4
import numpy as np

ds = netCDF4.Dataset("grid.nc")  # mode "r", the default
print("grid", float(ds["t"][:].sum()), ds.name)
ds.close()
with netCDF4.Dataset(Path("written.nc"), "w") as ds:  # mode given by position
    ds.createDimension("x", 4)
    ds.createVariable("v", "i4", ("x",))[:] = np.arange(4)
    ds.createGroup("details").setncattr("note", "a group is no file of its own")
with netCDF4.Dataset(filename="kept.nc", mode="r+") as ds:  # only read: an input
    print("kept", float(ds["t"][:].mean()))
with netCDF4.Dataset("amended.nc", mode="a") as ds:  # changed: an output
    ds.title = "amended"
mf = netCDF4.MFDataset("part_*.nc")
print("parts", float(mf["t"][:].sum()))
mf.close()
netCDF4.Dataset("in_memory.nc", "w", diskless=True).close()  # never on disk
try:
    netCDF4.Dataset("missing.nc")
except OSError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def netcdf_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_datasets_are_recorded_by_mode_and_files_of_a_glob_one_by_one(
        netcdf_run: LibraryRun) -> None:
    netcdf_run.assert_events([
        ("input", "netCDF4.Dataset", "grid.nc"),
        ("output", "netCDF4.Dataset", "written.nc"),
        ("input", "netCDF4.Dataset", "kept.nc"),
        ("output", "netCDF4.Dataset", "amended.nc"),
        ("input", "netCDF4.MFDataset", "part_1.nc"),
        ("input", "netCDF4.MFDataset", "part_2.nc"),
    ])


def test_recording_changes_nothing_the_script_sees(netcdf_run: LibraryRun) -> None:
    netcdf_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in netcdf_run.stdout
