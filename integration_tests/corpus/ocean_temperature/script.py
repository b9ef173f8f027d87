"""Sea surface temperature climatology and anomalies (netCDF in, HDF5 and netCDF out)."""

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import xarray as xr  # noqa: E402

ds = xr.open_dataset("sst.nc")
with h5py.File("mask.h5", "r") as f:
    land = f["land"][()].astype(bool)

sst = ds["sst"].where(~land)
climatology = sst.mean("time")
anomaly = sst - climatology

with h5py.File("anomaly.h5", "w") as out:
    out.create_dataset("anomaly", data=anomaly.values, compression="gzip")
    out.attrs["source"] = "sst.nc"

climatology.to_netcdf("climatology.nc")
climatology.plot()
plt.title("Mean sea surface temperature")
plt.savefig("climatology.png")
print(float(anomaly.std()))
ds.close()
