"""Files that cannot be hashed (issue 12 items 1, 2, 4; issue 11 part 4): FIFOs, devices,
/dev/stdout into a pipe, files gone before the hash. Each is recorded with `hash: null`
and a `hash_error`, never dropped, never read, and the script runs as it would without
recipe; a memory-mapped file is hashed off the call (issue 12 "Also"). Real FIFOs and
devices, scripts in subprocesses with a timeout."""

from __future__ import annotations

import subprocess
import sys

import pytest
from recipe_workspace import Workspace

pytest.importorskip("numpy")


def events(run: dict) -> list[tuple[str, str, str | None, str | None]]:
    return sorted((kind, event["path"], event["hash"], event.get("hash_error"))
                  for kind in ("inputs", "outputs") for event in run[kind])


def test_fifos_are_recorded_unhashed_and_never_block(ws: Workspace) -> None:
    script = ws.write("fifo.py", """\
        import recipe, os, threading
        import numpy as np
        os.mkfifo("out.fifo")
        os.mkfifo("in.fifo")
        got = []

        def reader():  # np.savetxt opens its file twice (the first to create it)
            while not got or not got[-1]:
                with open("out.fifo") as fifo:
                    got.append(fifo.read())

        def writer():
            with open("in.fifo", "w") as fifo:
                fifo.write("1 2\\n3 4\\n")

        threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
        for thread in threads:
            thread.start()
        np.savetxt("out.fifo", np.arange(3), fmt="%d")
        print(np.loadtxt("in.fifo").sum())
        for thread in threads:
            thread.join()
        print(got[-1].split())
        """)

    result = ws.python(script, timeout=60)

    assert result.stdout.splitlines() == ["10.0", "['0', '1', '2']"]
    run = ws.only_run()
    assert run["status"] == "completed"
    in_fifo, out_fifo = str(ws.root / "in.fifo"), str(ws.root / "out.fifo")
    # numpy's calls, and the opens of the script's own threads (the open-event fallback)
    assert {(kind, event["path"], event["function"], event["hash"], event["hash_error"])
            for kind in ("inputs", "outputs") for event in run[kind]} == {
        ("inputs", in_fifo, "numpy.loadtxt", None, "fifo"),
        ("outputs", out_fifo, "numpy.savetxt", None, "fifo"),
        ("outputs", in_fifo, "open", None, "fifo"),
        ("inputs", out_fifo, "open", None, "fifo")}


def test_savetxt_to_dev_stdout_reaches_the_reader_of_the_pipe(ws: Workspace) -> None:
    script = ws.write("stdout.py", """\
        import recipe
        import numpy as np
        np.savetxt("/dev/stdout", np.arange(3), fmt="%d")
        """)

    result = ws.python(script, timeout=60)  # stdout is a pipe: capture_output

    assert result.stdout == "0\n1\n2\n"
    assert events(ws.only_run()) == [("outputs", "/dev/stdout", None, "fifo")]


def test_a_device_is_never_read_to_its_end(ws: Workspace) -> None:
    script = ws.write("device.py", """\
        import recipe
        import numpy as np
        print(np.fromfile("/dev/urandom", dtype=np.uint8, count=16).size)
        """)

    result = ws.python(script, timeout=60)

    assert result.stdout == "16\n"
    assert events(ws.only_run()) == [("inputs", "/dev/urandom", None, "device")]


def test_a_file_gone_before_its_hash_is_recorded_as_vanished(ws: Workspace) -> None:
    # A memmap's output is hashed at the end of the run: another program removed it by
    # then (an os.remove by the script itself is seen, and hashes the file first).
    script = ws.write("vanish.py", """\
        import recipe, subprocess
        import numpy as np
        array = np.memmap("scratch.dat", dtype="uint8", mode="w+", shape=(8,))
        array[:] = 1
        array.flush()
        del array
        subprocess.run(["rm", "scratch.dat"], check=True)
        np.save("kept.npy", np.zeros(2))
        """)

    ws.python(script)

    run = ws.only_run()
    assert run["status"] == "completed"
    scratch, kept = sorted(run["outputs"], key=lambda event: event["path"])[::-1]
    assert (scratch["path"], scratch["hash"], scratch["hash_error"]) == (
        str(ws.root / "scratch.dat"), None, "vanished")
    assert kept["hash"] and "hash_error" not in kept


def test_a_missing_file_the_script_logs_itself_is_recorded_as_vanished(
        ws: Workspace) -> None:
    # A declared call's path that is not on disk once it returned is no file and is
    # dropped (imageio's "<bytes>", test_capture_imageio.py); `recipe.log_input` of a
    # missing file is the script's own word, and kept.
    script = ws.write("names.py", """\
        import recipe
        import numpy as np
        np.save("kept.npy", np.zeros(2))
        recipe.log_input("missing.csv")
        """)

    ws.python(script)

    assert [(kind, path, error) for kind, path, _hash, error in events(ws.only_run())] == [
        ("inputs", str(ws.root / "missing.csv"), "vanished"),
        ("outputs", str(ws.root / "kept.npy"), None)]


def test_show_and_search_handle_files_without_a_hash(ws: Workspace) -> None:
    script = ws.write("device.py", """\
        import recipe
        import numpy as np
        np.fromfile("/dev/zero", dtype=np.uint8, count=4)
        np.save("zeros.npy", np.zeros(4))
        """)
    ws.python(script)
    run_id = ws.only_run()["id"]

    shown = ws.recipe("show", run_id).stdout
    assert "/dev/zero" in shown and "(device)" in shown
    found = ws.recipe("search", str(ws.root / "zeros.npy"), "--json").stdout
    assert run_id in found
    assert ws.recipe("search", "/dev/zero").returncode == 0
    assert ws.recipe("export", "--format", "prov-json").returncode == 0


def test_the_gui_shows_why_a_file_has_no_hash(ws: Workspace) -> None:
    pytest.importorskip("flask")
    script = ws.write("device.py", """\
        import recipe
        import numpy as np
        np.fromfile("/dev/zero", dtype=np.uint8, count=4)
        """)
    ws.python(script)
    run_id = ws.only_run()["id"]
    page = subprocess.run(
        [sys.executable, "-c", f"""
from recipe_gui import create_app
client = create_app().test_client()
for url in ("/run/{run_id}", "/file?path=/dev/zero"):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    print(response.get_data(as_text=True))
"""], cwd=ws.root, env=ws.env, capture_output=True, text=True, timeout=120, check=True)

    run_page, file_page = page.stdout.split("</html>")[:2]
    assert ">device<" in run_page and ">device<" in file_page


def test_a_memory_mapped_input_is_hashed_off_the_call(ws: Workspace) -> None:
    # Written by an unrecorded process: the run has no cached hash of it.
    ws.python(ws.write("make.py", """\
        import numpy as np
        np.save("big.npy", np.arange(2**20))
        """))
    script = ws.write("mapped.py", """\
        import recipe, sys, threading
        import numpy as np
        opened = []  # the opens of the file by the script's thread
        sys.addaudithook(lambda event, args: event == "open" and str(args[0]).endswith(
            "big.npy") and threading.current_thread() is threading.main_thread()
            and opened.append(event))
        array = np.load("big.npy", mmap_mode="r")
        mapped = np.memmap("big.npy", mode="r")
        print(int(array[-1]), mapped.size, len(opened))
        """)

    bare = ws.python(script, env={"RECIPE_DISABLE": "1"})
    result = ws.python(script)

    # numpy's own opens, and no more: the hash's open is not in the call
    assert result.stdout == bare.stdout
    assert bare.stdout.startswith("1048575 8388736 ")
    run = ws.only_run()
    digest = run["inputs"][0]["hash"]
    assert [(event["function"], event["hash"]) for event in run["inputs"]] == [
        ("numpy.load", digest), ("numpy.memmap", digest)]
    from recipe.record.hashing import hash_file

    assert digest == hash_file(str(ws.root / "big.npy"))

