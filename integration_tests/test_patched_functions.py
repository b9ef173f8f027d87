"""Patched callables behave as the originals (issue 12 items 3 and 16, issue 14): they
pickle, copy and deep-copy as the originals do, a patched function that raises gives the
script the traceback it has without recipe, and recording loads only wrapt's C extension.
Real scripts in subprocesses; the same script with RECIPE_DISABLE=1 is the reference."""

from __future__ import annotations

import sys

import pytest
from recipe_workspace import Workspace

pytest.importorskip("numpy")


def test_patched_functions_pickle_and_copy_as_the_originals(ws: Workspace) -> None:
    script = ws.write("pickling.py", """\
        import copy, pickle, sys
        import numpy as np
        before = pickle.dumps(np.save)
        import recipe  # patches numpy now
        from concurrent.futures import ProcessPoolExecutor
        assert type(np.save).__name__ == "FunctionWrapper"  # patched indeed
        assert pickle.dumps(np.save) == before
        assert pickle.loads(pickle.dumps(np.save)) is np.save
        assert copy.copy(np.save) is np.save and copy.deepcopy(np.save) is np.save
        assert copy.deepcopy({"save": np.save})["save"] is np.save
        if __name__ == "__main__":
            with ProcessPoolExecutor(1) as pool:
                pool.submit(np.save, "from_worker.npy", np.arange(3)).result()
            print(np.load("from_worker.npy").sum())
        """)

    result = ws.python(script)

    assert result.stdout == "3\n"
    run = ws.only_run()
    assert run["status"] == "completed"
    assert [event["path"] for event in run["outputs"]] == [str(ws.root / "from_worker.npy")]


def test_bound_methods_pickle_and_copy_as_the_originals(ws: Workspace) -> None:
    pytest.importorskip("pandas")
    script = ws.write("methods.py", """\
        import recipe
        import copy, pickle
        import pandas as pd
        frame = pd.DataFrame({"a": [1, 2]})
        assert type(frame.to_csv).__name__ == "BoundFunctionWrapper"  # patched indeed
        again = pickle.loads(pickle.dumps(frame.to_csv))
        print(again(index=False).split())
        print(copy.copy(frame.to_csv)(index=False) == copy.deepcopy(frame.to_csv)(index=False))
        print(pickle.loads(pickle.dumps(pd.read_csv)).__name__)
        """)

    assert ws.python(script).stdout.splitlines() == ["['a', '1', '2']", "True", "read_csv"]


FAILING = """\
    import recipe, subprocess
    import numpy as np
    np.save("kept.npy", np.zeros(2))
    try:
        np.fromfile("missing.bin")  # a C function
    except FileNotFoundError:
        import traceback
        traceback.print_exc()
    try:
        subprocess.run(["no-such-program-anywhere"])
    except FileNotFoundError:
        import traceback
        traceback.print_exc()
    np.load("missing.npy")  # a Python function, uncaught
    """


def test_a_patched_function_that_raises_shows_the_traceback_of_the_original(
        ws: Workspace) -> None:
    script = ws.write("failing.py", FAILING)

    bare = ws.python(script, check=False, env={"RECIPE_DISABLE": "1"})
    recorded = ws.python(script, check=False)

    assert recorded.returncode == bare.returncode == 1
    assert "recipe" not in bare.stderr
    assert recorded.stderr.splitlines()[:-1] == bare.stderr.splitlines()
    assert recorded.stderr.splitlines()[-1].startswith("recipe: recorded run")
    stored = ws.only_run()["exception"]["traceback"]
    assert "recipe" not in stored
    assert stored.strip() == ("Traceback" + bare.stderr.rpartition("Traceback")[2]).strip()


def test_recording_loads_only_wrapts_c_extension(ws: Workspace) -> None:
    script = ws.write("light.py", """\
        import recipe, sys
        import numpy as np
        np.save("a.npy", np.zeros(3))
        print(type(np.save).__name__, "wrapt" in sys.modules, "asyncio" in sys.modules,
              "importlib.metadata" in sys.modules)
        import wrapt  # the script's own import still gets the whole package
        print(isinstance(np.save, wrapt.FunctionWrapper), wrapt.exceptions.__name__,
              wrapt._wrappers.FunctionWrapper is wrapt.FunctionWrapper)
        """)

    result = ws.python(script)

    assert result.stdout.splitlines() == ["FunctionWrapper False False False",
                                          "True wrapt.exceptions True"]
    assert [event["function"] for event in ws.only_run()["outputs"]] == ["numpy.save"]


@pytest.mark.skipif(sys.platform != "linux", reason="the extension's fallback is the same")
def test_without_wraps_c_extension_recording_falls_back_to_the_package(
        ws: Workspace) -> None:
    script = ws.write("fallback.py", """\
        import recipe, sys
        import numpy as np
        np.save("a.npy", np.zeros(3))
        print("wrapt" in sys.modules)
        """)

    result = ws.python(script, env={"WRAPT_DISABLE_EXTENSIONS": "1"})

    assert result.stdout == "True\n"
    assert [event["function"] for event in ws.only_run()["outputs"]] == ["numpy.save"]
