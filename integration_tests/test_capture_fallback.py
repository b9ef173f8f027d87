"""The open-event fallback end to end: files a script opens in Python (builtin open, os.open,
pathlib, json/csv/pickle) are recorded by mode, renames followed, deleted outputs
transient, and nothing else: no interpreter, library, font, bytecode or temp file."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from library_runs import assert_hash_of_file_on_disk
from recipe_workspace import Workspace


def events(ws: Workspace, run: dict) -> Counter:
    """(kind, function, path relative to the workspace) of every stored file event."""
    root = os.path.realpath(ws.root)
    return Counter((kind, event["function"], os.path.relpath(event["path"], root))
                   for kind in ("input", "output") for event in run[kind + "s"])


def recorded(ws: Workspace, script: str, env: dict[str, str] | None = None) -> dict:
    """The stored run of `script` (recipe imported first), run with `python`."""
    ws.write("script.py", "import recipe\n" + textwrap.dedent(script))
    ws.python("script.py", env=env)
    run = ws.only_run()
    assert run["status"] == "completed"
    return run


def assert_events(ws: Workspace, run: dict, expected: list[tuple[str, str, str]]) -> None:
    actual, wanted = events(ws, run), Counter(expected)
    assert actual == wanted, (f"missing: {sorted((wanted - actual).elements())}\n"
                              f"unexpected: {sorted((actual - wanted).elements())}")


def test_json_csv_pickle_are_recorded_and_nothing_else(ws: Workspace) -> None:
    """A lesson-style script: its own helper module, a warning (linecache reads the
    script), matplotlib with its fonts and caches; only the data files are recorded, each
    with the hash of its final bytes."""
    pytest.importorskip("matplotlib")
    ws.write("config.json", '{"scale": 2}')
    ws.write("data/table.csv", "a,b\n1,2\n3,4\n")
    ws.write("helpers.py", "def double(x):\n    return 2 * x\n")
    run = recorded(ws, """\
        import csv, json, pickle, warnings
        import matplotlib.pyplot as plt
        import helpers

        with open("config.json") as f:
            config = json.load(f)
        with open("data/table.csv", newline="") as f:
            rows = [{k: int(v) * config["scale"] for k, v in row.items()}
                    for row in csv.DictReader(f)]
        with open("rows.pkl", "wb") as f:
            pickle.dump(rows, f)
        with open("out.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["a", "b"])
            writer.writeheader()
            writer.writerows(rows)
        warnings.warn("a warning shows the script's line")
        with open("rows.pkl", "rb") as f:
            assert pickle.load(f) == rows
        plt.plot([r["a"] for r in rows])
        plt.title("fonts are read")
        plt.savefig("plot.png")
        print(helpers.double(len(rows)))
        """)
    assert_events(ws, run, [
        ("input", "open", "config.json"),
        ("input", "open", "data/table.csv"),
        ("output", "open", "rows.pkl"),
        ("output", "open", "out.csv"),
        ("input", "open", "rows.pkl"),
        ("output", "matplotlib.pyplot.savefig", "plot.png"),
    ])
    for kind in ("input", "output"):
        for event in run[kind + "s"]:
            assert_hash_of_file_on_disk(event)
            assert "transient" not in event


def test_os_open_by_its_flags(ws: Workspace) -> None:
    for name in ("read.bin", "kept.bin", "appended.bin"):
        ws.write(name, name)
    run = recorded(ws, """\
        import os

        fd = os.open("read.bin", os.O_RDONLY)
        os.read(fd, 100)
        os.close(fd)
        fd = os.open("new.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.write(fd, b"new")
        os.close(fd)
        fd = os.open("excl.bin", os.O_RDWR | os.O_CREAT | os.O_EXCL)
        os.write(fd, b"exclusive")
        os.close(fd)
        fd = os.open("kept.bin", os.O_RDWR)  # read and written back unchanged
        data = os.read(fd, 100)
        os.lseek(fd, 0, 0)
        os.write(fd, data)
        os.close(fd)
        fd = os.open("appended.bin", os.O_WRONLY | os.O_APPEND)
        os.write(fd, b" and more")
        os.close(fd)
        """)
    assert_events(ws, run, [
        ("input", "os.open", "read.bin"),
        ("output", "os.open", "new.bin"),
        ("output", "os.open", "excl.bin"),
        ("input", "os.open", "kept.bin"),
        ("output", "os.open", "appended.bin"),
    ])
    for event in run["inputs"] + run["outputs"]:
        assert_hash_of_file_on_disk(event)


def test_pathlib_and_read_write_modes(ws: Workspace) -> None:
    """`r+` left unchanged is an input, changed an output; `a` that appends an output."""
    for name in ("text.txt", "unchanged.txt", "changed.txt", "log.txt"):
        ws.write(name, name + "\n")
    run = recorded(ws, """\
        from pathlib import Path

        print(Path("text.txt").read_text())
        Path("blob.bin").write_bytes(b"\\x00\\x01")
        with open("unchanged.txt", "r+") as f:
            f.read()
        with open("changed.txt", "r+") as f:
            f.write("CHANGED")
        with open("log.txt", "a") as f:
            f.write("one more line\\n")
        """)
    assert_events(ws, run, [
        ("input", "open", "text.txt"),
        ("output", "open", "blob.bin"),
        ("input", "open", "unchanged.txt"),
        ("output", "open", "changed.txt"),
        ("output", "open", "log.txt"),
    ])
    for event in run["inputs"] + run["outputs"]:
        assert_hash_of_file_on_disk(event)


def test_a_file_renamed_into_place_is_the_output_under_its_final_name(ws: Workspace) -> None:
    run = recorded(ws, """\
        import json, os, tempfile

        with open("result.json.tmp", "w") as f:  # the usual atomic write
            json.dump({"answer": 42}, f)
        os.replace("result.json.tmp", "result.json")

        fd, temporary = tempfile.mkstemp(dir=".", suffix=".part")  # os.open, then fdopen
        with os.fdopen(fd, "w") as f:
            f.write("table")
        os.rename(temporary, "table.txt")

        with open("draft.txt", "w") as f:  # written, read back (so hashed), then renamed
            f.write("draft")
        with open("draft.txt") as f:
            f.read()
        os.rename("draft.txt", "final.txt")
        """)
    assert_events(ws, run, [
        ("output", "open", "result.json"),
        ("output", "os.open", "table.txt"),
        ("output", "open", "draft.txt"),
        ("input", "open", "draft.txt"),
        ("output", "os.rename", "final.txt"),
    ])
    for event in run["inputs"] + run["outputs"]:
        if event["path"].endswith("draft.txt"):
            assert event["transient"] is True
        else:
            assert_hash_of_file_on_disk(event)
            assert "transient" not in event
    draft = [e for e in run["outputs"] if e["path"].endswith("draft.txt")][0]
    final = [e for e in run["outputs"] if e["path"].endswith("final.txt")][0]
    assert draft["hash"] == final["hash"]


def test_a_file_written_and_deleted_is_transient(ws: Workspace) -> None:
    ws.write("kept.txt", "kept")
    run = recorded(ws, """\
        import os, pickle
        from pathlib import Path

        with open("scratch.pkl", "wb") as f:
            pickle.dump(list(range(10)), f)
        with open("scratch.pkl", "rb") as f:
            numbers = pickle.load(f)
        os.remove("scratch.pkl")
        Path("never_read.txt").write_text("gone")
        Path("never_read.txt").unlink()
        with open("kept.txt") as f:  # read, not written: deleting it is no transient
            f.read()
        os.remove("kept.txt")
        with open("summary.txt", "w") as f:
            f.write(str(sum(numbers)))
        """)
    assert_events(ws, run, [
        ("output", "open", "scratch.pkl"),
        ("input", "open", "scratch.pkl"),
        ("output", "open", "never_read.txt"),
        ("input", "open", "kept.txt"),
        ("output", "open", "summary.txt"),
    ])
    transient = {os.path.basename(event["path"]) for event in run["inputs"] + run["outputs"]
                 if event.get("transient")}
    assert transient == {"scratch.pkl", "never_read.txt"}
    never_read = [e for e in run["outputs"] if e["path"].endswith("never_read.txt")][0]
    assert never_read["size"] == 4  # hashed before it was deleted


TEMP_SCRIPT = """\
    import os, tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("scratch")
    print(f.name)
    with open(os.path.join(tempfile.gettempdir(), "shared.txt"), "w") as f:
        f.write("shared")
    with open("result.txt", "w") as f:
        f.write("result")
"""


@pytest.fixture
def temp_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A TMPDIR of its own, outside the workspace."""
    return {"TMPDIR": str(tmp_path_factory.mktemp("tmpdir"))}


def test_the_temp_dir_is_left_out_unless_configured(ws: Workspace,
                                                    temp_dir: dict[str, str]) -> None:
    run = recorded(ws, TEMP_SCRIPT, env=temp_dir)
    assert_events(ws, run, [("output", "open", "result.txt")])


def test_capture_temp_yes_records_the_temp_dir(ws: Workspace, temp_dir: dict[str, str]
                                               ) -> None:
    """Everything there: also the file tempfile writes and deletes again to learn that
    the directory is writable (a transient output)."""
    run = recorded(ws, TEMP_SCRIPT, env={**temp_dir, "RECIPE_CAPTURE_TEMP": "yes"})
    kept = sorted(os.path.dirname(e["path"]) == os.path.realpath(temp_dir["TMPDIR"])
                  for e in run["outputs"] if not e.get("transient"))
    assert kept == [False, True, True]


def test_include_and_exclude_globs(ws: Workspace, temp_dir: dict[str, str]) -> None:
    ws.write("notes.log", "old log")
    run = recorded(ws, TEMP_SCRIPT + """\
    with open("notes.log") as f:
        f.read()
    with open("debug.log", "w") as f:
        f.write("debug")
""", env={**temp_dir, "RECIPE_CAPTURE_INCLUDE": "*/shared.txt, */result.txt",
              "RECIPE_CAPTURE_EXCLUDE": "*.log, */result.txt"})
    assert [Path(e["path"]).name for e in run["inputs"] + run["outputs"]] == ["shared.txt"]


def test_capture_audit_no_records_only_declared_functions(ws: Workspace) -> None:
    pytest.importorskip("numpy")
    ws.write("config.json", "{}")
    run = recorded(ws, """\
        import json
        import numpy as np

        with open("config.json") as f:
            json.load(f)
        np.save("array.npy", np.arange(3))
        with open("out.txt", "w") as f:
            f.write("x")
        """, env={"RECIPE_CAPTURE_AUDIT": "no"})
    assert_events(ws, run, [("output", "numpy.save", "array.npy")])


def test_declared_functions_keep_their_name_and_are_logged_once(ws: Workspace) -> None:
    """np.save / np.load open their files in Python: one event each, as numpy.*; pandas
    too; recipe.open is one event, and so is a file read by the script after np.save."""
    np = pytest.importorskip("numpy")
    del np
    pandas = pytest.importorskip("pandas")
    del pandas
    ws.write("table.csv", "a,b\n1,2\n")
    run = recorded(ws, """\
        import numpy as np
        import pandas as pd
        import recipe

        np.save("array.npy", np.arange(5))
        np.load("array.npy")
        frame = pd.read_csv("table.csv")
        frame.to_csv("copy.csv", index=False)
        with recipe.open("by_hand.txt", "w") as f:
            f.write("by hand")
        with open("array.npy", "rb") as f:  # the script itself reads it: open
            f.read()
        """)
    assert_events(ws, run, [
        ("output", "numpy.save", "array.npy"),
        ("input", "numpy.load", "array.npy"),
        ("input", "pandas.read_csv", "table.csv"),
        ("output", "pandas.DataFrame.to_csv", "copy.csv"),
        ("output", "recipe.open", "by_hand.txt"),
        ("input", "open", "array.npy"),
    ])


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_workers_files_go_into_the_parents_run_with_its_pid(ws: Workspace,
                                                              method: str) -> None:
    ws.write("input.txt", "shared input")
    script = ws.write("main.py", f"""\
        import recipe
        import multiprocessing, os

        def work(i):
            with open("input.txt") as f:
                text = f.read()
            with open(f"w{{i}}-{{os.getpid()}}.txt", "w") as f:
                f.write(text * i)

        if __name__ == "__main__":
            context = multiprocessing.get_context({method!r})
            procs = [context.Process(target=work, args=(i,)) for i in range(2)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
        """)
    ws.python(script)
    run = ws.only_run()
    outputs = {Path(e["path"]).name: e for e in run["outputs"]}
    assert len(outputs) == 2 and len(run["inputs"]) == 2
    for name, event in outputs.items():
        assert event["function"] == "open"
        assert name.endswith(f"-{event['pid']}.txt") and event["pid"] != run["pid"]
        assert_hash_of_file_on_disk(event)
    assert {e["pid"] for e in run["inputs"]} == {e["pid"] for e in outputs.values()}
    assert {Path(e["path"]).name for e in run["inputs"]} == {"input.txt"}


def test_sqlite3_connect_seen_by_its_event_when_not_declared(ws: Workspace) -> None:
    run = recorded(ws, """\
        import sqlite3

        db = sqlite3.connect("data.db")
        db.execute("create table t (x)")
        db.commit()
        db.close()
        sqlite3.connect(":memory:").close()
        """, env={"RECIPE_LIBRARIES_DISABLED": "sqlite3"})
    assert_events(ws, run, [("output", "sqlite3.connect", "data.db")])
    assert_hash_of_file_on_disk(run["outputs"][0])


def test_a_fifo_opened_by_the_script_is_recorded_and_never_read(ws: Workspace) -> None:
    os.mkfifo(ws.root / "pipe")
    ws.write("script.py", """\
        import recipe
        import threading

        def writer():
            with open("pipe", "w") as f:
                f.write("through the pipe")

        thread = threading.Thread(target=writer)
        thread.start()
        with open("pipe") as f:
            print(f.read())
        thread.join()
        """)
    result = ws.python("script.py", timeout=60)
    assert result.stdout == "through the pipe\n"
    run = ws.only_run()
    # contract section 4: a FIFO is recorded with hash null and why, never left out
    assert_events(ws, run, [("input", "open", "pipe"), ("output", "open", "pipe")])
    assert {(event["hash"], event["hash_error"]) for event in run["inputs"] + run["outputs"]
            } == {(None, "fifo")}


def test_a_closed_output_reaches_the_journal_while_the_run_goes_on(ws: Workspace) -> None:
    """Hashed once closed (the recorder's thread sees no descriptor left), not only at
    the end: the script waits until its journal shows the file."""
    ws.write("script.py", f"""\
        import recipe
        import glob, json, time

        with open("early.txt", "w") as f:
            f.write("early")
        for _ in range(600):
            logged = [json.loads(line)["path"] for name in glob.glob({str(ws.home)!r}
                      + "/spool/*.events") for line in open(name)]
            if any(path.endswith("early.txt") for path in logged):
                print("in the journal")
                break
            time.sleep(0.1)
        """)
    result = ws.python("script.py", env={"RECIPE_STORE_FLUSH_INTERVAL": "0.2"})
    assert result.stdout == "in the journal\n"
    assert_events(ws, ws.only_run(), [("output", "open", "early.txt")])
    assert json.loads(ws.recipe("latest", "--json").stdout)["outputs"][0]["size"] == 5


def test_a_file_never_closed_is_hashed_with_what_the_script_wrote(ws: Workspace) -> None:
    """Its Python buffer is flushed as the run ends (the shutdown would flush it later)."""
    run = recorded(ws, """\
        log = open("log.txt", "w")
        log.write("a line the buffer still holds\\n")
        """)
    assert_events(ws, run, [("output", "open", "log.txt")])
    assert_hash_of_file_on_disk(run["outputs"][0])
    assert run["outputs"][0]["size"] == 30


def test_an_open_that_fails_records_nothing(ws: Workspace) -> None:
    ws.write("kept.txt", "kept")
    run = recorded(ws, """\
        for path, mode in (("no_such_dir/out.txt", "w"), ("missing.txt", "r"),
                           ("no_such_dir/log.txt", "a"), ("kept.txt", "x")):
            try:
                open(path, mode)
            except OSError as exc:
                print(type(exc).__name__)
        """)
    assert_events(ws, run, [])


def test_a_file_read_for_long_reaches_the_journal_while_still_open(ws: Workspace) -> None:
    """A run killed while it reads a big file still shows that input."""
    ws.write("big.csv", "a,b\n1,2\n")
    ws.write("script.py", f"""\
        import recipe
        import glob, json, time

        with open("big.csv") as f:
            for _ in range(600):
                logged = [json.loads(line)["path"] for name in glob.glob({str(ws.home)!r}
                          + "/spool/*.events") for line in open(name)]
                if any(path.endswith("big.csv") for path in logged):
                    print("in the journal while open")
                    break
                time.sleep(0.1)
        """)
    result = ws.python("script.py", env={"RECIPE_STORE_FLUSH_INTERVAL": "0.5"})
    assert result.stdout == "in the journal while open\n"
    assert_events(ws, ws.only_run(), [("input", "open", "big.csv")])


def test_a_file_written_again_before_it_is_read_is_one_output(ws: Workspace) -> None:
    """A log appended to line by line is hashed once (its final bytes), not per open; a
    read in between makes the version written so far an output of its own."""
    run = recorded(ws, """\
        for i in range(200):
            with open("progress.log", "a") as log:
                log.write(f"step {i}\\n")
        with open("table.csv", "w") as f:
            f.write("first version")
        with open("table.csv") as f:
            f.read()
        with open("table.csv", "w") as f:
            f.write("second version")
        """)
    assert_events(ws, run, [("output", "open", "progress.log"),
                            ("output", "open", "table.csv"), ("input", "open", "table.csv"),
                            ("output", "open", "table.csv")])
    [log] = [e for e in run["outputs"] if e["path"].endswith("progress.log")]
    assert_hash_of_file_on_disk(log)
    assert sorted(e["size"] for e in run["outputs"] if e["path"].endswith("table.csv")) == [
        13, 14]


def test_a_path_through_a_library_directory_names_the_file_it_reaches(ws: Workspace) -> None:
    """`/usr/lib/../../home/me/data.txt` starts like a system library's file but is the
    user's: the hook's quick return for library files must not take it for one."""
    ws.write("data.txt", "user data")
    detour = "/usr/lib/../.." + os.path.realpath(ws.root)
    run = recorded(ws, f"""\
        with open({detour + "/data.txt"!r}) as f:
            f.read()
        """)
    assert_events(ws, run, [("input", "open", "data.txt")])


def test_an_include_glob_takes_back_a_file_of_the_interpreters(ws: Workspace) -> None:
    """A library's file is noise, unless `[capture] include` names it: the script reads the
    standard library's os.py as data."""
    script = """\
        import os
        with open(os.__file__) as f:
            f.read()
        """
    assert recorded(ws, script)["inputs"] == []
    shutil.rmtree(ws.home)
    run = recorded(ws, script, env={"RECIPE_CAPTURE_INCLUDE": "*/os.py"})
    assert [Path(e["path"]).name for e in run["inputs"]] == ["os.py"]
