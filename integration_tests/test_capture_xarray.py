"""xarray end to end: one event per call, named as the script called it (the netCDF4,
scipy or zarr calls inside are not logged again), zarr stores as one directory."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import xarray as declarations

pytest.importorskip("xarray")
pytest.importorskip("netCDF4")

SETUP = '''
import numpy as np
import pandas as pd
import xarray as xr

time = pd.date_range("2024-01-01", periods=6, freq="D")
obs = xr.Dataset({"temperature": (("time", "site"), np.arange(12.0).reshape(6, 2))},
                 coords={"time": time, "site": ["a", "b"]})
obs.to_netcdf("obs.nc")
obs.temperature.to_netcdf("single.nc")
obs.to_netcdf("obs3.nc", format="NETCDF3_64BIT")
obs.isel(time=slice(0, 3)).to_netcdf("month_01.nc")
obs.isel(time=slice(3, 6)).to_netcdf("month_02.nc")
'''

SCRIPT = '''
from pathlib import Path

import xarray as xr

ds = xr.open_dataset("obs.nc")
mean = ds.temperature.mean("time")
print("mean", mean.values.tolist())
mean.to_netcdf("mean.nc")
ds.close()
with xr.open_dataarray(Path("single.nc")) as da:
    print("single", float(da.sum()))
print("scipy", float(xr.load_dataset("obs3.nc", engine="scipy").temperature.max()))
both = xr.open_mfdataset("month_*.nc", combine="by_coords")
both.to_zarr("months.zarr", mode="w")
both.close()
with xr.open_zarr("months.zarr") as store:
    print("zarr", float(store.temperature.sum()))
first, second = (mean + 1).to_dataset(), (mean + 2).to_dataset()
xr.save_mfdataset([first, second], ["plus_1.nc", "plus_2.nc"])
print("bytes", type(mean.to_dataset().to_netcdf()).__name__)  # no path: nothing logged
try:
    xr.open_dataset("missing.nc")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def xarray_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_each_call_is_one_event_under_the_name_the_script_used(xarray_run: LibraryRun) -> None:
    xarray_run.assert_events([
        ("input", "xarray.open_dataset", "obs.nc"),
        ("output", "xarray.DataArray.to_netcdf", "mean.nc"),
        ("input", "xarray.open_dataarray", "single.nc"),
        ("input", "xarray.load_dataset", "obs3.nc"),
        ("input", "xarray.open_mfdataset", "month_01.nc"),
        ("input", "xarray.open_mfdataset", "month_02.nc"),
        ("output", "xarray.Dataset.to_zarr", "months.zarr"),
        ("input", "xarray.open_zarr", "months.zarr"),
        ("output", "xarray.save_mfdataset", "plus_1.nc"),
        ("output", "xarray.save_mfdataset", "plus_2.nc"),
    ])


def test_recording_changes_nothing_the_script_sees(xarray_run: LibraryRun) -> None:
    xarray_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in xarray_run.stdout
