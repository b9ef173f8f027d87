"""scipy.io end to end: MATLAB (with and without the .mat suffix), WAV, Matrix Market,
netCDF 3 by mode and Fortran files."""

from __future__ import annotations

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import scipy as declarations

pytest.importorskip("scipy")

SETUP = '''
import numpy as np
import scipy.io
from scipy.io import wavfile

scipy.io.savemat("experiment.mat", {"signal": np.arange(6.0)})
wavfile.write("tone.wav", 8000, np.sin(np.linspace(0, 20, 800)).astype(np.float32))
scipy.io.mmwrite("sparse.mtx", np.eye(3))
with scipy.io.netcdf_file("climate.nc", "w") as nc:
    nc.createDimension("t", 3)
    nc.createVariable("temp", "d", ("t",))[:] = [1.0, 2.0, 3.0]
'''

SCRIPT = '''
import numpy as np
import scipy.io
from scipy.io import FortranFile, wavfile

data = scipy.io.loadmat("experiment")  # appendmat: reads experiment.mat
print("signal", data["signal"].ravel().tolist())
scipy.io.savemat("result.mat", {"doubled": data["signal"] * 2})
rate, tone = wavfile.read("tone.wav")
print("rate", rate, tone.shape)
wavfile.write("quieter.wav", rate, tone / 2)
print("sparse", scipy.io.mmread("sparse.mtx").shape)
scipy.io.mmwrite("identity", np.eye(2))  # writes identity.mtx
with scipy.io.netcdf_file("climate.nc") as nc:
    print("temp", nc.variables["temp"][:].tolist())
nc = scipy.io.netcdf_file("summary.nc", "w")
nc.createDimension("one", 1)
nc.createVariable("mean", "d", ("one",))[:] = [2.0]
nc.close()
with FortranFile("records.unf", "w") as fortran:
    fortran.write_record(np.arange(4, dtype=np.int32))
try:
    scipy.io.loadmat("missing.mat")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def scipy_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_files_read_and_written_are_recorded(scipy_run: LibraryRun) -> None:
    scipy_run.assert_events([
        ("input", "scipy.io.loadmat", "experiment.mat"),
        ("output", "scipy.io.savemat", "result.mat"),
        ("input", "scipy.io.wavfile.read", "tone.wav"),
        ("output", "scipy.io.wavfile.write", "quieter.wav"),
        ("input", "scipy.io.mmread", "sparse.mtx"),
        ("output", "scipy.io.mmwrite", "identity.mtx"),
        ("input", "scipy.io.netcdf_file", "climate.nc"),
        ("output", "scipy.io.netcdf_file", "summary.nc"),
        ("output", "scipy.io.FortranFile", "records.unf"),
    ])


def test_recording_changes_nothing_the_script_sees(scipy_run: LibraryRun) -> None:
    scipy_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in scipy_run.stdout
