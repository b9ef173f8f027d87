"""Every way a run can end, as the store sees it afterwards."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from recipe_workspace import Workspace

from recipe.record.hashing import hash_bytes, hash_file

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


def test_a_completed_run_has_every_contract_field(ws: Workspace) -> None:
    script = ws.write("analysis.py", """\
        import recipe
        import numpy as np
        np.save("t.npy", np.arange(5))
        print("done")
        """)
    result = ws.python(script, "--flag")
    assert result.stdout == "done\n"
    run = ws.only_run()
    assert re.fullmatch(r"[0-9a-f]{32}", run["id"])
    assert run["script"] == str(script)
    assert run["command"] == [str(script), "--flag"]
    assert run["cwd"] == str(ws.root)
    assert ISO_WITH_OFFSET.match(run["start"]) and ISO_WITH_OFFSET.match(run["end"])
    assert run["end"] >= run["start"] and run["duration"] >= 0
    assert (run["status"], run["exit_code"], run["exception"]) == ("completed", 0, None)
    assert run["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    for field in ("hostname", "user", "platform"):
        assert isinstance(run[field], str) and run[field]
    assert run["git"] is None  # tmp dirs are outside any repository
    assert run["libraries"]["numpy"] == __import__("numpy").__version__
    assert (run["params"], run["results"], run["label"], run["tags"], run["notes"]) == (
        {}, {}, "", [], [])
    [output] = run["outputs"]
    path = ws.root / "t.npy"
    assert output["path"] == str(path)
    assert output["hash"] == hash_file(str(path)) and output["hash_algorithm"] == "xxh3_128"
    assert output["size"] == path.stat().st_size and output["function"] == "numpy.save"
    assert ISO_WITH_OFFSET.match(output["time"])
    assert run["inputs"] == []


def test_an_uncaught_exception_fails_the_run_and_keeps_the_traceback(ws: Workspace) -> None:
    script = ws.write("fail.py", """\
        import recipe
        def compute():
            raise ValueError("bad input")
        compute()
        """)
    result = ws.python(script, check=False)
    assert result.returncode == 1
    assert "ValueError: bad input" in result.stderr  # the user still sees their traceback
    run = ws.only_run()
    assert (run["status"], run["exit_code"]) == ("failed", 1)
    exception = run["exception"]
    assert (exception["type"], exception["message"]) == ("ValueError", "bad input")
    assert "in compute" in exception["traceback"]


@pytest.mark.parametrize(("code", "status", "exit_code"), [
    ("sys.exit(3)", "failed", 3),
    ("sys.exit(0)", "completed", 0),
    ("sys.exit()", "completed", 0),
    ("sys.exit('a message')", "failed", 1),
    ("exit(2)", "failed", 2),
])
def test_sys_exit_sets_status_and_exit_code(ws: Workspace, code: str, status: str,
                                            exit_code: int) -> None:
    script = ws.write("exits.py", f"import recipe, sys\n{code}\n")
    assert ws.python(script, check=False).returncode == exit_code
    run = ws.only_run()
    assert (run["status"], run["exit_code"]) == (status, exit_code)


@pytest.mark.parametrize(("code", "status", "exit_code"), [
    ("raise SystemExit(5)", "failed", 5),
    ("raise SystemExit('a message')", "failed", 1),
    ("raise SystemExit", "completed", 0),
    ("raise SystemExit(0)", "completed", 0),
    ("code = 7\nraise SystemExit(code)", "failed", 7),
    ("try:\n    sys.exit(3)\nexcept SystemExit:\n    pass", "completed", 0),
    ("import threading\nt = threading.Thread(target=sys.exit, args=(4,))\nt.start()\n"
     "t.join()", "completed", 0),
    ("try:\n    sys.exit(3)\nfinally:\n    print('cleanup')", "failed", 3),
])
def test_the_record_has_the_exit_status_the_process_really_had(
        ws: Workspace, code: str, status: str, exit_code: int) -> None:
    script = ws.write("exits.py", f"import recipe, sys\n{code}\n")
    assert ws.python(script, check=False).returncode == exit_code
    run = ws.only_run()
    assert (run["status"], run["exit_code"]) == (status, exit_code)


def test_a_script_with_its_own_excepthook_that_raises_is_failed(ws: Workspace) -> None:
    script = ws.write("hook.py", """\
        import recipe, sys
        def quiet(kind, value, tb):
            print("my hook:", value, file=sys.stderr)
        sys.excepthook = quiet
        raise ValueError("bad")
        """)
    result = ws.python(script, check=False)
    assert result.returncode == 1 and "my hook: bad" in result.stderr
    run = ws.only_run()
    assert (run["status"], run["exit_code"]) == ("failed", 1)
    assert (run["exception"]["type"], run["exception"]["message"]) == ("ValueError", "bad")


def test_a_system_exit_whose_code_cannot_be_seen_is_not_recorded_as_a_success(
        ws: Workspace) -> None:
    script = ws.write("computed.py", """\
        import recipe
        def main():
            return 4
        raise SystemExit(main())
        """)
    assert ws.python(script, check=False).returncode == 4
    run = ws.only_run()
    assert (run["status"], run["exit_code"]) == ("failed", None)
    assert run["exception"]["type"] == "SystemExit"
    assert "not known" in run["exception"]["message"]


def test_os_exit_leaves_a_lost_run_not_a_completed_one(ws: Workspace) -> None:
    script = ws.write("hard.py", """\
        import recipe, os
        import numpy as np
        np.save("kept.npy", np.arange(3))
        os._exit(3)
        """)
    assert ws.python(script, check=False).returncode == 3
    run = ws.only_run()
    assert (run["status"], run["exit_code"]) == ("lost", None)
    assert [o["path"] for o in run["outputs"]] == [str(ws.root / "kept.npy")]


def test_keyboard_interrupt_is_interrupted_and_keeps_pythons_exit_status(ws: Workspace) -> None:
    script = ws.write("kbd.py", "import recipe, time\ntime.sleep(0.5)\nraise KeyboardInterrupt\n")
    result = ws.python(script, check=False)
    assert result.returncode == -signal.SIGINT  # as without recipe: death by SIGINT
    run = ws.only_run()
    assert (run["status"], run["exception"]["type"]) == ("interrupted", "KeyboardInterrupt")


def _start(ws: Workspace, script) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script)], cwd=ws.root, env=ws.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for(path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


LONG_SCRIPT = """\
    import recipe, time
    import numpy as np
    np.save("early.npy", np.arange(3))
    open("started", "w").close()
    time.sleep(60)
    """


def test_sigterm_ends_the_run_as_interrupted_and_the_process_dies_of_it(ws: Workspace) -> None:
    script = ws.write("long.py", LONG_SCRIPT)
    process = _start(ws, script)
    _wait_for(ws.root / "started")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == -signal.SIGTERM
    run = ws.only_run()
    assert (run["status"], run["exit_code"]) == ("interrupted", 128 + signal.SIGTERM)
    assert [o["path"] for o in run["outputs"]] == [str(ws.root / "early.npy"),
                                                    str(ws.root / "started")]


def test_sigterm_chains_to_the_scripts_own_handler(ws: Workspace) -> None:
    script = ws.write("handler.py", """\
        import recipe, signal, sys, time
        def handler(signum, frame):
            open("handled", "w").close()
            sys.exit(5)
        signal.signal(signal.SIGTERM, handler)
        open("started", "w").close()
        time.sleep(60)
        """)
    process = _start(ws, script)
    _wait_for(ws.root / "started")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 5
    assert (ws.root / "handled").exists()
    # The script's handler replaced recipe's: its sys.exit(5) decides the ending.
    run = ws.only_run()
    assert (run["status"], run["exit_code"]) == ("failed", 5)


def test_a_killed_run_shows_running_then_lost_with_the_files_it_logged(ws: Workspace) -> None:
    script = ws.write("long.py", LONG_SCRIPT)
    process = _start(ws, script)
    try:
        _wait_for(ws.root / "started")
        time.sleep(3)  # the recorder flushes logged files every 2 s
        [run] = ws.runs()
        assert run["status"] == "running" and run["end"] is None
        # "started" was closed 3 s ago: the recorder's thread has hashed it since
        logged = [str(ws.root / "early.npy"), str(ws.root / "started")]
        assert [o["path"] for o in run["outputs"]] == logged
    finally:
        process.kill()
        process.wait(timeout=30)
    [run] = ws.runs()
    assert run["status"] == "lost"
    assert [o["path"] for o in run["outputs"]] == logged
    assert ws.recipe("db", "check").returncode == 0


@pytest.mark.parametrize("interval", ["0.001", "0"])
def test_the_recorder_flushing_as_the_script_ends_loses_and_repeats_nothing(
        ws: Workspace, interval: str) -> None:
    # Every millisecond the recorder's thread flushes events and saves the record (a
    # result changed) while the script writes; the run's end must wait for the flush under
    # way, not run beside it. "0": the thread flushes only when woken.
    script = ws.write("busy.py", """\
        import recipe
        import numpy as np
        for i in range(150):
            np.save(f"a{i}.npy", np.arange(i))
            with open(f"b{i}.txt", "w") as f:
                f.write(str(i))
            recipe.Output(i, name="last")
        """)
    ws.python(script, env={"RECIPE_STORE_FLUSH_INTERVAL": interval})
    run = ws.only_run()
    assert (run["status"], run["results"]) == ("completed", {"last": 149})
    paths = [output["path"] for output in run["outputs"]]
    expected = [str(ws.root / name) for i in range(150) for name in (f"a{i}.npy", f"b{i}.txt")]
    assert sorted(paths) == sorted(expected)
    assert ws.recipe("db", "check").returncode == 0


def test_the_run_ends_after_the_recorder_finished_hashing_a_mapped_input(
        ws: Workspace) -> None:
    # A memory-mapped input is hashed by the recorder's thread at its next flush (every
    # millisecond here); the script ends while it hashes 512 MB: the end waits for it.
    import numpy as np

    big = np.lib.format.open_memmap(ws.root / "big.npy", mode="w+", dtype=np.uint8,
                                    shape=(512 * 2**20,))  # sparse: no disk used
    del big
    script = ws.write("mapped.py", """\
        import recipe
        import time
        import numpy as np
        np.load("big.npy", mmap_mode="r")
        time.sleep(0.02)
        """)
    ws.python(script, env={"RECIPE_STORE_FLUSH_INTERVAL": "0.001"})
    [read] = ws.only_run()["inputs"]
    assert (read["path"], read["hash"]) == (str(ws.root / "big.npy"),
                                            hash_file(str(ws.root / "big.npy")))


def test_a_run_killed_right_after_its_first_write_keeps_that_output(ws: Workspace) -> None:
    # The periodic flush is a minute away: only the flush after the first file event
    # can have written the output before the SIGKILL.
    script = ws.write("long.py", LONG_SCRIPT)
    process = subprocess.Popen([sys.executable, str(script)], cwd=ws.root,
                               env={**ws.env, "RECIPE_STORE_FLUSH_INTERVAL": "60"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(ws.root / "started")
    finally:
        process.kill()
        process.wait(timeout=30)
    [run] = ws.runs()
    assert run["status"] == "lost"
    assert str(ws.root / "early.npy") in [o["path"] for o in run["outputs"]]


def test_a_burst_of_logged_files_is_journaled_without_waiting_for_the_tick(
        ws: Workspace) -> None:
    # The periodic flush is a minute away: thousands of events must not wait for it in
    # memory (a run killed meanwhile would lose them too).
    script = ws.write("burst.py", """\
        import recipe, time
        import numpy as np
        for i in range(3000):
            np.save(f"a{i}.npy", np.arange(3))
        open("written", "w").close()
        time.sleep(60)
        """)
    process = subprocess.Popen([sys.executable, str(script)], cwd=ws.root,
                               env={**ws.env, "RECIPE_STORE_FLUSH_INTERVAL": "60"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(ws.root / "written")
        deadline = time.monotonic() + 20
        while len(ws.runs()[0]["outputs"]) < 2048 and time.monotonic() < deadline:
            time.sleep(0.2)
        [run] = ws.runs()
    finally:
        process.kill()
        process.wait(timeout=30)
    paths = [output["path"] for output in run["outputs"]]
    assert len(paths) >= 2048
    assert paths == [str(ws.root / f"a{i}.npy") for i in range(len(paths))]


def test_a_run_killed_right_after_its_first_write_keeps_what_it_set_before(
        ws: Workspace) -> None:
    # The first file's event is written at once; the parameter and result set before it
    # must be in the journal by then too (a kernel's cell, a script's argparse values).
    script = ws.write("set-then-write.py", """\
        import argparse, os, signal
        import numpy as np
        import recipe
        parser = argparse.ArgumentParser()
        parser.add_argument("--year", type=int, default=2019)
        parser.parse_args()
        recipe.Output(7, name="early")
        np.save("first.npy", np.arange(3))
        os.kill(os.getpid(), signal.SIGKILL)
        """)
    result = ws.python(script, env={"RECIPE_STORE_FLUSH_INTERVAL": "60"}, check=False)
    assert result.returncode == -signal.SIGKILL
    run = ws.only_run()
    assert run["status"] == "lost"
    assert [o["path"] for o in run["outputs"]] == [str(ws.root / "first.npy")]
    assert (run["params"], run["results"]) == ({"year": 2019}, {"early": 7})


def test_the_script_is_hashed_as_it_started_though_its_hash_is_taken_later(
        ws: Workspace) -> None:
    # The recorder's thread hashes the script while the script runs on: a script changed
    # meanwhile (an editor saving it, or the script itself) keeps the hash and literal
    # parameters of the bytes that ran, read as the run started.
    script = ws.write("rewrites.py", """\
        import recipe
        lr = 0.5
        with open(__file__, "w") as handle:
            handle.write("lr = 0.7\\n")
        """)
    original = script.read_bytes()
    ws.python(script)
    run = ws.only_run()
    assert script.read_bytes() == b"lr = 0.7\n"
    assert run["script_hash"] == hash_bytes(original, run["script_hash_algorithm"])
    assert run["params"] == {"lr": 0.5}


def test_a_run_killed_once_started_keeps_its_script_hash_and_parameters(
        ws: Workspace) -> None:
    # The periodic flush is a minute away: only the thread's own flush after its start-up
    # work (the script's hash and parameters, git if read) can have saved what that work
    # found; with git not read, too.
    script = ws.write("slow.py", """\
        import os, signal, time
        import recipe
        lr = 0.5
        time.sleep(1.5)
        os.kill(os.getpid(), signal.SIGKILL)
        """)
    result = ws.python(script, env={"RECIPE_STORE_FLUSH_INTERVAL": "60",
                                    "RECIPE_GIT_ENABLED": "no"}, check=False)
    assert result.returncode == -signal.SIGKILL
    run = ws.only_run()
    assert run["status"] == "lost"
    assert run["script_hash"] == hash_bytes(script.read_bytes(), run["script_hash_algorithm"])
    assert run["params"] == {"lr": 0.5}


def test_recipe_run_records_a_script_without_the_import_line(ws: Workspace) -> None:
    script = ws.write("plain.py", """\
        import sys
        import numpy as np
        np.save("out.npy", np.arange(3))
        if __name__ == "__main__":
            print(sys.argv, sys.path[0])
        """)
    (ws.root / "elsewhere").mkdir()
    result = ws.recipe("run", str(script), "--", "a", "--b")
    assert result.stdout == f"{[str(script), 'a', '--b']} {ws.root}\n"
    run = ws.only_run()
    assert run["script"] == str(script) and run["command"] == [str(script), "a", "--b"]
    assert (run["status"], run["exit_code"]) == ("completed", 0)
    assert [o["path"] for o in run["outputs"]] == [str(ws.root / "out.npy")]
    assert "numpy" in run["libraries"] and "click" not in run["libraries"]


def test_recipe_run_passes_on_the_exit_status_and_hides_its_own_frames(ws: Workspace) -> None:
    script = ws.write("boom.py", "def f():\n    raise RuntimeError('boom')\nf()\n")
    result = ws.recipe("run", str(script), check=False)
    assert result.returncode == 1
    assert "RuntimeError: boom" in result.stderr
    frames = re.findall(r'File "([^"]+)"', result.stderr)
    assert frames == [str(script), str(script)]  # <module> and f: none of recipe's
    run = ws.only_run()
    assert (run["status"], run["exception"]["type"]) == ("failed", "RuntimeError")
    exits = ws.write("exits.py", "import sys\nsys.exit(4)\n")
    assert ws.recipe("run", str(exits), check=False).returncode == 4


def test_recipe_run_of_a_missing_script_is_a_usage_error(ws: Workspace) -> None:
    result = ws.recipe("run", "nope.py", check=False)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nope.py" in result.stderr
    assert ws.runs() == []


def test_recipe_disable_records_nothing(ws: Workspace) -> None:
    script = ws.write("s.py", "import recipe\nimport numpy as np\nnp.save('x.npy', [1])\n")
    ws.python(script, env={"RECIPE_DISABLE": "1"})
    assert ws.runs() == []


def test_quiet_hides_the_informational_line(ws: Workspace) -> None:
    script = ws.write("s.py", "import recipe\n")
    assert "recipe: recorded run" in ws.python(script).stderr
    assert ws.python(script, env={"RECIPE_QUIET": "1"}).stderr == ""


def test_the_command_line_never_records_itself(ws: Workspace) -> None:
    assert ws.recipe("latest", check=False).returncode == 2  # no store: an error...
    assert not ws.home.exists()  # ...that does not make one
    ws.home.mkdir()  # an empty store
    ws.recipe("latest", check=False)
    ws.recipe("export", check=False)
    ws.recipe("--help")
    assert ws.runs() == []
    assert not (ws.home / "spool").exists() or not list((ws.home / "spool").iterdir())


def test_a_module_importing_recipe_does_not_start_a_run(ws: Workspace) -> None:
    ws.write("helper.py", "import recipe\n")
    script = ws.write("main.py", "import helper\n")
    ws.python(script)
    assert ws.runs() == []


def test_export_writes_a_json_file(ws: Workspace) -> None:
    ws.python(ws.write("s.py", "import recipe\n"))
    ws.recipe("export", "-o", "runs.json")
    runs = json.loads((ws.root / "runs.json").read_text())
    assert len(runs) == 1 and runs == ws.runs()
