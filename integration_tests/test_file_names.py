"""File names as the system gives them (issue 12 item 5 and "Also"): names that are not
valid UTF-8 are recorded escaped, never lose the run; `~` is recorded as the library took
it. Real scripts in subprocesses, read back through the real command line."""

from __future__ import annotations

import os

import pytest
from recipe_workspace import Workspace

pytest.importorskip("numpy")

NOT_UTF8 = os.fsdecode(b"caf\xe9")  # Latin-1 "café": its \xe9 byte is no UTF-8


def test_a_name_that_is_not_utf8_is_recorded_escaped_with_every_other_file(
        ws: Workspace) -> None:
    script = ws.write("names.py", """\
        import recipe, os
        import numpy as np
        np.save("good.npy", np.zeros(2))
        odd = os.fsdecode(b"caf\\xe9.npy")
        np.save(odd, np.arange(3))
        print(np.load(odd).sum())
        """)

    result = ws.python(script, env={"PYTHONIOENCODING": "utf-8"})

    assert result.stdout == "3\n"
    assert "Traceback" not in result.stderr
    run = ws.only_run()
    assert run["status"] == "completed"
    odd = str(ws.root / "caf\\xe9.npy")  # the byte as the four characters \xe9
    assert sorted(event["path"] for event in run["outputs"]) == [odd, str(ws.root / "good.npy")]
    assert [event["path"] for event in run["inputs"]] == [odd]
    assert all(event["hash"] for event in run["inputs"] + run["outputs"])

    shown = ws.recipe("show", run["id"]).stdout
    assert "caf\\xe9.npy" in shown
    for term in ("caf\\xe9", NOT_UTF8):  # as shown, or as the shell passes the real name
        assert run["id"] in ws.recipe("search", term, "--json").stdout


def test_a_script_in_a_directory_that_is_not_utf8_is_recorded(ws: Workspace) -> None:
    directory = ws.root / NOT_UTF8
    directory.mkdir()
    script = directory / "run.py"
    script.write_text("import recipe, sys\nimport numpy as np\n"
                      "np.save(sys.argv[1], np.zeros(2))\n")

    ws.python(script, NOT_UTF8 + ".npy")

    run = ws.only_run()
    escaped = str(ws.root / "caf\\xe9")
    assert run["status"] == "completed"
    assert run["script"] == escaped + "/run.py"
    assert run["command"][1:] == ["caf\\xe9.npy"]
    assert [event["path"] for event in run["outputs"]] == [str(ws.root / "caf\\xe9.npy")]
    assert run["script_hash"]  # read under its real name


def test_a_tilde_is_recorded_as_the_library_took_it(ws: Workspace) -> None:
    pytest.importorskip("pandas")
    home = ws.root / "home"
    home.mkdir()
    (ws.root / "~").mkdir()
    script = ws.write("tilde.py", """\
        import recipe
        import numpy as np
        import pandas as pd
        np.save("~/literal.npy", np.zeros(2))  # numpy opens ./~/literal.npy
        pd.DataFrame({"a": [1]}).to_csv("~/expanded.csv")  # pandas expands ~
        """)

    ws.python(script, env={"HOME": str(home)})

    assert (ws.root / "~" / "literal.npy").exists() and (home / "expanded.csv").exists()
    assert {event["path"]: event["function"] for event in ws.only_run()["outputs"]} == {
        str(ws.root / "~" / "literal.npy"): "numpy.save",
        str(home / "expanded.csv"): "pandas.DataFrame.to_csv"}


def test_a_command_and_a_removed_file_named_not_in_utf8_keep_the_run(ws: Workspace) -> None:
    script = ws.write("commands.py", """\
        import recipe, os, subprocess
        odd = os.fsdecode(b"caf\\xe9.txt")
        with open(odd, "w") as handle:
            handle.write("scratch")
        subprocess.run(["cat", odd], stdout=subprocess.DEVNULL, check=True)
        os.remove(odd)
        with open("kept.txt", "w") as handle:
            handle.write("kept")
        """)

    ws.python(script)

    run = ws.only_run()
    assert run["status"] == "completed"
    assert [command["argv"] for command in run["commands"]] == [["cat", "caf\\xe9.txt"]]
    assert {(event["path"], bool(event.get("transient"))) for event in run["outputs"]} == {
        (str(ws.root / "caf\\xe9.txt"), True), (str(ws.root / "kept.txt"), False)}
