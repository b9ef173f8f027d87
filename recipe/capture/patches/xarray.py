"""xarray: datasets opened and saved as netCDF or zarr (through netCDF4, h5netcdf, scipy or
zarr, whose own calls inside are not logged again)."""

from __future__ import annotations

from ..patching import Input, Output, expanding_user

# xarray expands a leading ~ in every path it takes (backends.common._normalize_path).
DECLARATIONS = expanding_user([
    Input("xarray", "open_dataset", "filename_or_obj"),
    Input("xarray", "open_dataarray", "filename_or_obj"),
    Input("xarray", "load_dataset", "filename_or_obj"),
    Input("xarray", "load_dataarray", "filename_or_obj"),
    Input("xarray", "open_datatree", "filename_or_obj"),
    Input("xarray", "open_groups", "filename_or_obj"),
    Input("xarray", "open_mfdataset", "paths", many=True),
    Input("xarray", "open_zarr", "store"),
    Output("xarray", "Dataset.to_netcdf", "path"),
    Output("xarray", "DataArray.to_netcdf", "path"),
    Output("xarray", "DataTree.to_netcdf", "filepath"),
    Output("xarray", "Dataset.to_zarr", "store"),
    Output("xarray", "DataArray.to_zarr", "store"),
    Output("xarray", "DataTree.to_zarr", "store"),
    Output("xarray", "save_mfdataset", "paths", many=True),
])
