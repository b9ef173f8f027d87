"""joblib end to end: dump/load, and Memory's cache entries (written when a call is
computed, read when it is answered from the cache), without the cache's bookkeeping."""

from __future__ import annotations

import os

import pytest
from library_runs import LibraryRun

from recipe.capture.patches import joblib as declarations

pytest.importorskip("joblib")

SETUP = '''
import numpy as np

np.savetxt("samples.txt", np.arange(20.0).reshape(10, 2))
'''

SCRIPT = '''
import joblib
import numpy as np

memory = joblib.Memory("cache", verbose=0)


@memory.cache
def column_means(path, scale):
    return np.loadtxt(path).mean(axis=0) * scale


print("first", column_means("samples.txt", 1).tolist())
print("again", column_means("samples.txt", 1).tolist())  # from the cache
print("other", column_means("samples.txt", 2).tolist())
joblib.dump({"means": column_means("samples.txt", 2)}, "model.joblib", compress=3)
print("model", joblib.load("model.joblib")["means"].tolist())
try:
    joblib.load("missing.joblib")
except FileNotFoundError as exc:
    print("missing:", type(exc).__name__)
'''


@pytest.fixture(scope="module")
def joblib_run(tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    return LibraryRun.of(tmp_path_factory, declarations.DECLARATIONS, SCRIPT, SETUP)


def test_cache_entries_are_outputs_when_computed_and_inputs_when_reused(
        joblib_run: LibraryRun) -> None:
    computed = [os.path.relpath(event["path"], joblib_run.path("")) for event in
                joblib_run.run["outputs"] if event["function"] == "joblib.Memory"]
    assert len(computed) == 2, computed
    first, other = computed
    assert first.startswith("cache/joblib/") and first.endswith("/output.pkl")
    joblib_run.assert_events([
        ("input", "numpy.loadtxt", "samples.txt"),
        ("output", "joblib.Memory", first),
        ("input", "joblib.Memory", first),
        ("input", "numpy.loadtxt", "samples.txt"),
        ("output", "joblib.Memory", other),
        ("input", "joblib.Memory", other),
        ("output", "joblib.dump", "model.joblib"),
        ("input", "joblib.load", "model.joblib"),
    ])


def test_recording_changes_nothing_the_script_sees(joblib_run: LibraryRun) -> None:
    joblib_run.assert_behaviour_unchanged()
    assert "missing: FileNotFoundError" in joblib_run.stdout
