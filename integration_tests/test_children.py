"""Child processes of a recorded run: workers' files go into its record with their pids,
Python programs it starts are runs of their own with `parent`, other programs are its
`commands`. Real processes, read back through the real command line."""

from __future__ import annotations

import glob
import os
import shutil
import site
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from recipe_workspace import Workspace

from recipe.capture.children import BOOTSTRAP_DIRECTORY, ENVIRONMENT_VARIABLE

# A recorded script whose workers each save a file named after their pid, so that each
# event's pid can be checked; the script's main part follows.
WORKER = """\
import recipe
import os
import numpy as np

def work(i):
    np.save(f"w{i}-{os.getpid()}.npy", np.arange(i + 1))
    return os.getpid()

"""


def with_workers(ws: Workspace, main: str) -> Path:
    return ws.write("main.py", WORKER + textwrap.dedent(main))


def by_script(ws: Workspace) -> dict[str, dict]:
    """Every stored run by its script's file name (each script runs once per test)."""
    return {os.path.basename(run["script"]): run for run in ws.runs()}


def worker_outputs(run: dict) -> dict[str, int | None]:
    return {Path(event["path"]).name: event.get("pid") for event in run["outputs"]}


def assert_worker_files_have_their_pids(run: dict, expected_files: int) -> None:
    outputs = worker_outputs(run)
    assert len(outputs) == expected_files
    for name, pid in outputs.items():
        assert name.endswith(f"-{pid}.npy"), (name, pid)
        assert pid != run["pid"]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
@pytest.mark.parametrize("api", ["Process", "Pool"])
def test_multiprocessing_workers_files_belong_to_the_run(ws: Workspace, method: str,
                                                         api: str) -> None:
    start = {
        "Process": """\
            procs = [context.Process(target=work, args=(i,)) for i in range(3)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            """,
        "Pool": """\
            with context.Pool(3) as pool:
                pool.map(work, range(3))
            """,
    }[api]
    script = with_workers(ws, textwrap.dedent(f"""\
        import multiprocessing
        context = multiprocessing.get_context({method!r})
        if __name__ == "__main__":
        """) + textwrap.indent(textwrap.dedent(start), "    "))
    result = ws.python(script)
    assert result.stderr.count("recipe: ") == 1  # "recorded run ...", no warning
    run = ws.only_run()  # workers are not runs of their own
    assert_worker_files_have_their_pids(run, 3)
    assert (run["children"], run["commands"]) == ([], [])


def test_a_process_left_running_at_the_end_is_still_the_runs(ws: Workspace) -> None:
    """multiprocessing joins it at exit, in a handler it registered before recipe's."""
    script = ws.write("main.py", """\
        import multiprocessing.pool  # imports multiprocessing.util, which registers it
        import os, time
        import recipe
        import numpy as np

        def work():
            time.sleep(0.5)
            np.save(f"late-{os.getpid()}.npy", np.arange(1))

        if __name__ == "__main__":
            multiprocessing.get_context("fork").Process(target=work).start()
        """)
    ws.python(script)
    run = ws.only_run()  # no run of the worker's own: it did not outlive the run
    assert_worker_files_have_their_pids(run, 1)


def test_process_pool_executor_with_spawn_workers(ws: Workspace) -> None:
    script = with_workers(ws, """\
    if __name__ == "__main__":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
            print(sorted(set(pool.map(work, range(4)))))
    """)
    pids = eval(ws.python(script).stdout)
    run = ws.only_run()
    assert_worker_files_have_their_pids(run, 4)
    assert set(worker_outputs(run).values()) == set(pids)


def test_joblib_loky_workers(ws: Workspace) -> None:
    pytest.importorskip("joblib")
    script = with_workers(ws, """\
    if __name__ == "__main__":
        from joblib import Parallel, delayed

        print(sorted(set(Parallel(n_jobs=2)(delayed(work)(i) for i in range(4)))))
    """)
    pids = eval(ws.python(script).stdout)
    run = ws.only_run()
    assert_worker_files_have_their_pids(run, 4)
    assert set(worker_outputs(run).values()) == set(pids)


@pytest.mark.parametrize("imports_recipe", [False, True])
def test_a_python_subprocess_is_a_run_of_its_own(ws: Workspace, imports_recipe: bool) -> None:
    ws.write("child.py", ("import recipe\n" if imports_recipe else "") + textwrap.dedent("""\
        import sys
        import numpy as np
        np.save("child.npy", np.arange(int(sys.argv[1])))
        print("child says hi")
        """))
    parent = ws.write("parent.py", """\
        import recipe
        import subprocess, sys
        import numpy as np
        np.save("parent.npy", np.arange(2))
        done = subprocess.run([sys.executable, "child.py", "3"], capture_output=True, text=True)
        print(repr(done.stdout), repr(done.stderr), done.returncode)
        """)
    # What the child prints reaches the parent unchanged: no "recorded run" line either.
    assert ws.python(parent).stdout == "'child says hi\\n' '' 0\n"
    runs = by_script(ws)
    parent_run, child_run = runs["parent.py"], runs["child.py"]
    assert child_run["parent"] == parent_run["id"] and parent_run["parent"] is None
    assert parent_run["children"] == [child_run["id"]]
    assert parent_run["commands"] == []  # the child is a run, not a command
    assert child_run["command"] == ["child.py", "3"] and child_run["status"] == "completed"
    assert [Path(e["path"]).name for e in child_run["outputs"]] == ["child.npy"]
    assert [Path(e["path"]).name for e in parent_run["outputs"]] == ["parent.npy"]


def test_a_grandchild_is_the_child_of_the_child(ws: Workspace) -> None:
    ws.write("grandchild.py", "import numpy as np\nnp.save('leaf.npy', np.arange(1))\n")
    ws.write("child.py", """\
        import subprocess, sys
        subprocess.run([sys.executable, "grandchild.py"], check=True)
        """)
    parent = ws.write("parent.py", """\
        import recipe
        import os
        os.system(f"{__import__('sys').executable} child.py")  # through a shell
        """)
    ws.python(parent)
    runs = by_script(ws)
    assert runs["grandchild.py"]["parent"] == runs["child.py"]["id"]
    assert runs["child.py"]["parent"] == runs["parent.py"]["id"]
    assert runs["child.py"]["children"] == [runs["grandchild.py"]["id"]]
    assert runs["parent.py"]["children"] == [runs["child.py"]["id"]]
    assert [Path(e["path"]).name for e in runs["grandchild.py"]["outputs"]] == ["leaf.npy"]
    # os.system runs a shell, which is a command; the Python program behind it is a run.
    [shell] = runs["parent.py"]["commands"]
    assert shell["argv"][:2] == ["/bin/sh", "-c"] and shell["exit_code"] == 0


def test_other_programs_are_commands_with_argv_and_exit_code(ws: Workspace) -> None:
    ws.write("data.txt", "some data\n")
    parent = ws.write("parent.py", """\
        import recipe
        import os, subprocess
        subprocess.run(["cat", "data.txt"], stdout=subprocess.DEVNULL)
        subprocess.run(["sh", "-c", "exit 3"])
        subprocess.run("exit 4", shell=True)
        os.waitpid(os.posix_spawnp("true", ["true", "x"], os.environ), 0)
        ended = subprocess.Popen(["sh", "-c", "exit 5"])  # ended, never waited for
        os.waitid(os.P_PID, ended.pid, os.WEXITED | os.WNOWAIT)  # (it ends; not reaped)
        """)
    ws.python(parent)
    run = ws.only_run()
    commands = [(c["argv"], c["exit_code"]) for c in run["commands"]]
    assert commands == [(["cat", "data.txt"], 0), (["sh", "-c", "exit 3"], 3),
                        (["/bin/sh", "-c", "exit 4"], 4), (["true", "x"], 0),
                        (["sh", "-c", "exit 5"], 5)]
    assert all(c["time"] >= run["start"] and isinstance(c["pid"], int) for c in run["commands"])
    assert run["children"] == []


def test_a_command_still_running_at_the_end_has_no_exit_code(ws: Workspace) -> None:
    parent = ws.write("parent.py", """\
        import recipe
        import subprocess
        subprocess.Popen(["sleep", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        """)
    ws.python(parent)
    [command] = ws.only_run()["commands"]
    assert (command["argv"], command["exit_code"]) == (["sleep", "2"], None)


def test_a_python_child_that_cannot_load_recipe_is_a_command(ws: Workspace) -> None:
    parent = ws.write("parent.py", """\
        import recipe
        import subprocess, sys
        subprocess.run([sys.executable, "-S", "-c", "raise SystemExit(7)"])
        """)
    ws.python(parent)
    run = ws.only_run()  # -S: no site, so no bootstrap; nothing is lost, nor hidden
    assert [(c["argv"][1:], c["exit_code"]) for c in run["commands"]] == [
        (["-S", "-c", "raise SystemExit(7)"], 7)]


def test_a_child_with_a_recipe_module_of_its_own_imports_its_own(ws: Workspace) -> None:
    ws.write("other/recipe.py", "KIND = 'a cookbook'\n")
    ws.write("other/cook.py", "import recipe\nprint(recipe.KIND)\n")
    parent = ws.write("parent.py", """\
        import recipe
        import subprocess, sys
        subprocess.run([sys.executable, "other/cook.py"])
        """)
    assert ws.python(parent).stdout == "a cookbook\n"
    [command] = ws.only_run()["commands"]  # not recorded: it is listed instead
    assert (command["argv"][1:], command["exit_code"]) == (["other/cook.py"], 0)


def test_exec_ends_the_run_and_the_new_program_is_its_child(ws: Workspace) -> None:
    parent = ws.write("parent.py", """\
        import recipe
        import os, sys
        import numpy as np
        np.save("before.npy", np.arange(2))
        os.execv(sys.executable, [sys.executable, "after.py"])
        """)
    ws.write("after.py", "import numpy as np\nnp.save('after.npy', np.arange(3))\n"
                         "print('replaced')\n")
    assert ws.python(parent).stdout == "replaced\n"
    runs = by_script(ws)
    parent_run, after = runs["parent.py"], runs["after.py"]
    assert (parent_run["status"], parent_run["exit_code"]) == ("completed", None)
    assert parent_run["children"] == [after["id"]] and after["parent"] == parent_run["id"]
    assert after["pid"] == parent_run["pid"]  # the same process, another program
    assert [Path(e["path"]).name for e in parent_run["outputs"]] == ["before.npy"]
    assert [Path(e["path"]).name for e in after["outputs"]] == ["after.npy"]


def test_a_forked_child_that_outlives_the_run_goes_into_a_run_of_its_own(
        ws: Workspace) -> None:
    ws.env["RECIPE_STORE_MERGE_BATCH"] = "1"  # the parent's run is stored at its end
    script = ws.write("main.py", """\
        import recipe
        import os, sys, time
        import numpy as np
        from recipe.record import recorder

        journal = recorder.current().journal.record_path
        if os.fork() == 0:
            np.save("early.npy", np.arange(1))
            devnull = os.open(os.devnull, os.O_WRONLY)  # let the caller see the parent end
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            deadline = time.monotonic() + 60
            while os.path.exists(journal) and time.monotonic() < deadline:
                time.sleep(0.05)  # until the parent's run has been stored
            np.save("late.npy", np.arange(1))
            sys.exit(0)
        """)
    ws.python(script)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
            not (ws.root / "late.npy").exists() or os.listdir(ws.home / "spool")):
        time.sleep(0.1)  # the late run ends, and is stored
    runs = {run["id"]: run for run in ws.runs()}
    [first] = [run for run in runs.values() if run["parent"] is None]
    [late] = [run for run in runs.values() if run["parent"] == first["id"]]
    assert [Path(e["path"]).name for e in first["outputs"]] == ["early.npy"]
    assert [Path(e["path"]).name for e in late["outputs"]] == ["late.npy"]
    assert first["outputs"][0]["pid"] == late["pid"] == late["outputs"][0]["pid"]
    assert late["status"] == "completed" and late["script"] == str(script)
    assert os.listdir(ws.home / "spool") == []  # no orphan journal left behind


def python_312() -> str | None:
    """A Python 3.12 that runs (a pyenv shim on PATH may not), or None."""
    candidates = [shutil.which("python3.12"), *sorted(glob.glob(
        os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))]
    for candidate in filter(None, candidates):
        if subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def package_root() -> str:
    """The directory holding this recipe, for an interpreter that has it not installed."""
    import recipe

    return os.path.dirname(os.path.dirname(os.path.abspath(recipe.__file__)))


def test_forks_of_a_recorded_script_stay_warning_free_on_python_312(ws: Workspace) -> None:
    """Python 3.12 warns when a process with threads forks: recipe's thread stops first.
    (This interpreter has none of recipe's dependencies: sha256 needs none.)"""
    python = python_312()
    if python is None:
        pytest.skip("needs a python3.12")
    script = ws.write("main.py", """\
        import recipe
        import os
        for name in ("first", "second"):
            pid = os.fork()  # the first at once, while the recorder's thread still works
            if pid == 0:
                with open(name, "w") as handle:
                    handle.write(name)
                recipe.log_output(name)
                os._exit(0)
            os.waitpid(pid, 0)
        print("forked twice")
        """)
    result = subprocess.run([python, "-W", "error::DeprecationWarning", str(script)],
                            cwd=ws.root, capture_output=True, text=True, timeout=120,
                            env={**ws.env, "RECIPE_HASH_ALGORITHM": "sha256",
                                 "PYTHONPATH": package_root()})
    assert result.stdout == "forked twice\n", result.stderr
    assert "multi-threaded" not in result.stderr
    [run] = ws.runs()
    assert {Path(e["path"]).name: e["pid"] != run["pid"] for e in run["outputs"]} == {
        "first": True, "second": True}


def test_spawn_workers_that_cannot_be_recorded_get_one_warning(ws: Workspace) -> None:
    script = with_workers(ws, """\
    import multiprocessing
    if __name__ == "__main__":
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            pool.map(work, range(4))
    """)
    # -S: no site module, so new interpreters never run recipe's bootstrap; the script
    # finds recipe and numpy on PYTHONPATH instead.
    path = os.pathsep.join(filter(None, [package_root(), ws.env.get("PYTHONPATH"),
                                        *site.getsitepackages()]))
    result = subprocess.run([sys.executable, "-S", str(script)], cwd=ws.root,
                            capture_output=True, text=True, timeout=120,
                            env={**ws.env, "PYTHONPATH": path})
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "workers are not recorded" in warnings[0]


def test_capture_children_no_follows_nothing(ws: Workspace) -> None:
    ws.write("recipe.ini", "[capture]\nchildren = no\n")
    ws.write("child.py", "import os, sys\nprint(os.environ.get('RECIPE_PARENT_RUN'), "
                         "any('bootstrap' in p for p in sys.path))\n")
    parent = with_workers(ws, """\
    if __name__ == "__main__":
        import multiprocessing, subprocess, sys
        subprocess.run([sys.executable, "child.py"])
        subprocess.run(["true"])
        with multiprocessing.get_context("fork").Pool(1) as pool:
            pool.map(work, range(1))
    """)
    assert ws.python(parent).stdout == "None False\n"
    run = ws.only_run()
    assert (run["children"], run["commands"], run["outputs"]) == ([], [], [])


def test_a_shadowed_sitecustomize_still_runs_in_the_child(ws: Workspace) -> None:
    ws.write("site-dir/sitecustomize.py", "import builtins\nbuiltins.CUSTOMIZED = 'yes'\n")
    ws.write("child.py", "import sys\nprint(CUSTOMIZED, sys.modules['sitecustomize'].__file__)\n")
    parent = ws.write("parent.py", """\
        import recipe
        import os, subprocess, sys
        path = os.pathsep.join([os.path.abspath("site-dir"), os.environ["PYTHONPATH"]])
        env = {**os.environ, "PYTHONPATH": path}
        print(subprocess.run([sys.executable, "child.py"], env=env, capture_output=True,
                             text=True).stdout, end="")
        """)
    assert ws.python(parent).stdout == f"yes {ws.root / 'site-dir' / 'sitecustomize.py'}\n"
    runs = by_script(ws)
    assert runs["child.py"]["parent"] == runs["parent.py"]["id"]


def test_outside_a_recorded_run_nothing_changes(ws: Workspace) -> None:
    """No run: no variable, no bootstrap, for the process and the ones it starts."""
    ws.write("child.py", "import os, sys\n"
                         f"print({ENVIRONMENT_VARIABLE!r} in os.environ, "
                         f"{BOOTSTRAP_DIRECTORY!r} in sys.path, "
                         f"{BOOTSTRAP_DIRECTORY!r} in os.environ.get('PYTHONPATH', ''))\n")
    script = ws.write("plain.py", """\
        import recipe.capture.children  # imported as a library: records nothing
        import subprocess, sys
        subprocess.run([sys.executable, "child.py"])
        """)
    assert ws.python(script).stdout == "False False False\n"
    assert not ws.home.exists()


def test_a_run_that_starts_nothing_has_empty_process_fields(ws: Workspace) -> None:
    script = ws.write("alone.py", "import recipe\nprint('alone')\n")
    ws.python(script)
    run = ws.only_run()
    assert (run["parent"], run["children"], run["commands"]) == (None, [], [])


def test_show_and_the_gui_link_parent_children_and_commands(
        ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    ws.write("child.py", "print('hi')\n")
    parent = ws.write("parent.py", """\
        import recipe
        import subprocess, sys
        subprocess.run([sys.executable, "child.py"], stdout=subprocess.DEVNULL)
        subprocess.run(["sh", "-c", "exit 3"])
        """)
    ws.python(parent)
    runs = by_script(ws)
    parent_id, child_id = runs["parent.py"]["id"], runs["child.py"]["id"]
    shown = ws.recipe("show", parent_id[:8]).stdout
    assert f"Children:   {child_id}\n" in shown
    assert "Commands:   sh -c 'exit 3'  (exit code 3)\n" in shown
    assert f"Parent:     {parent_id}\n" in ws.recipe("show", child_id[:8]).stdout

    monkeypatch.setenv("RECIPE_HOME", str(ws.home))
    from recipe import config
    from recipe_gui import create_app

    client = create_app({"RECIPE_SETTINGS": config.load()}).test_client()
    page = client.get(f"/run/{parent_id}").get_data(as_text=True)
    assert f'href="/run/{child_id}">{child_id[:8]}</a>' in page
    assert "<code>sh -c exit 3</code></td><td>3</td>" in page
    child_page = client.get(f"/run/{child_id}").get_data(as_text=True)
    assert f'href="/run/{parent_id}">{parent_id[:8]}</a>' in child_page
    assert client.get(f"/run/{parent_id}.json").get_json()["run"]["children"] == [child_id]
