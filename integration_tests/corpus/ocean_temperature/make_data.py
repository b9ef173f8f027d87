"""Writes sst.nc (sea surface temperature, netCDF4) and mask.h5 (a land mask, h5py)."""

import h5py
import netCDF4
import numpy as np

rng = np.random.default_rng(3)
with netCDF4.Dataset("sst.nc", "w") as ds:
    ds.createDimension("time", 12)
    ds.createDimension("lat", 5)
    ds.createDimension("lon", 8)
    ds.createVariable("time", "i4", ("time",))[:] = np.arange(12)
    ds["time"].units = "days since 2024-01-01"
    ds.createVariable("lat", "f4", ("lat",))[:] = np.linspace(-60, 60, 5)
    ds.createVariable("lon", "f4", ("lon",))[:] = np.linspace(0, 315, 8)
    sst = ds.createVariable("sst", "f4", ("time", "lat", "lon"))
    sst.units = "degC"
    sst[:] = 15 + 10 * np.cos(np.radians(np.linspace(-60, 60, 5)))[None, :, None] \
        + rng.normal(0, 1, (12, 5, 8))
with h5py.File("mask.h5", "w") as f:
    f["land"] = (rng.random((5, 8)) > 0.8).astype("u1")
