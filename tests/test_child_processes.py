"""recipe.capture.children's pieces: what a new interpreter is, the environment a child
gets, and how a journal's process events become `children` and `commands`."""

from __future__ import annotations

import copy
import os
import pickle
import subprocess
from pathlib import Path

import pytest

from recipe.capture import children
from recipe.record import journal as spool

PYTHON = "/usr/bin/python3"
SPAWN = "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)"
FORKSERVER = "from multiprocessing.forkserver import main; main(8, 9, ['__main__'], **{})"
TRACKER = "from multiprocessing.resource_tracker import main;main(4)"
LOKY_TRACKER = "from joblib.externals.loky.backend.resource_tracker import main; main(3, 0)"
LOKY = "joblib.externals.loky.backend.popen_loky_posix"


@pytest.mark.parametrize("argv, orig_argv, kind", [
    (["-c", "--multiprocessing-fork"], [PYTHON, "-B", "-c", SPAWN, "--multiprocessing-fork"],
     "worker"),
    (["-c"], [PYTHON, "-c", FORKSERVER], "worker"),
    (["-m", "--process-name", "P", "--pipe", "5"],
     [PYTHON, "-m", LOKY, "--process-name", "P", "--pipe", "5"], "worker"),
    (["-c"], [PYTHON, "-c", TRACKER], "other"),
    (["-c"], [PYTHON, "-c", LOKY_TRACKER], "other"),
    (["-m", "run", "x.py"], [PYTHON, "-m", "recipe", "run", "x.py"], "other"),
    (["-m", "abc"], [PYTHON, "-m", "recipe.store.merge", "abc"], "other"),
    (["-m", "-f", "k.json"], [PYTHON, "-m", "ipykernel_launcher", "-f", "k.json"], "other"),
    (["/env/lib/ipykernel_launcher.py", "-f", "k.json"],
     [PYTHON, "/env/lib/ipykernel_launcher.py", "-f", "k.json"], "other"),
    (["train.py", "--lr", "0.1"], [PYTHON, "train.py", "--lr", "0.1"], "run"),
    (["-c", "x"], [PYTHON, "-c", "print(1)", "x"], "run"),
    (["-m", "install", "x"], [PYTHON, "-m", "pip", "install", "x"], "run"),
    (["-m"], [PYTHON, "-m", "recipes_of_mine"], "run"),
    (["-"], [PYTHON, "-"], "run"),
])
def test_process_kind_from_the_command_line(argv: list[str], orig_argv: list[str],
                                            kind: str) -> None:
    assert children.process_kind(argv, orig_argv) == kind


@pytest.mark.parametrize("text, kind", [
    ("#!/env/bin/python\nimport sys\nfrom recipe.cli import main\nsys.exit(main())\n", "other"),
    ("print('a script of mine that happens to be called recipe')\n", "run"),
])
def test_recipes_console_script_is_told_by_its_content(tmp_path: Path, text: str,
                                                       kind: str) -> None:
    script = tmp_path / "recipe"
    script.write_text(text)
    assert children.process_kind([str(script)], [PYTHON, str(script)]) == kind


@pytest.mark.parametrize("given, expected_rest", [
    ({}, []),
    ({"PYTHONPATH": "/src"}, ["/src"]),
    ({"PYTHONPATH": f"/src{os.pathsep}{children.BOOTSTRAP_DIRECTORY}{os.pathsep}/lib"},
     ["/src", "/lib"]),
])
def test_the_bootstrap_comes_first_on_pythonpath_once(given: dict[str, str],
                                                      expected_rest: list[str]) -> None:
    variables = children._variables(given, "ab" * 16, "/home/u/.recipe")
    assert variables[children.ENVIRONMENT_VARIABLE] == "ab" * 16 + ":/home/u/.recipe"
    assert variables["PYTHONPATH"].split(os.pathsep) == [children.BOOTSTRAP_DIRECTORY,
                                                         *expected_rest]


def test_parent_run_ignores_the_runs_of_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(children.ENVIRONMENT_VARIABLE, "cd" * 16 + ":/store:with:colons")
    assert children.parent_run() == ("cd" * 16, "/store:with:colons")
    monkeypatch.setattr(children, "_followed", {"cd" * 16})
    assert children.parent_run() is None


def write_journal(home: Path, events: list[dict]) -> dict:
    journal = spool.Journal(str(home), "ef" * 16)
    journal.write_record({"id": "ef" * 16, "children": [], "commands": []})
    journal.append_events(events)
    return spool.read(str(home), "ef" * 16)


def test_commands_get_their_exit_codes_and_child_runs_leave_them(tmp_path: Path) -> None:
    record = write_journal(tmp_path, [
        {"kind": "command", "argv": ["python", "child.py"], "pid": 10, "time": "t1",
         "exit_code": None},
        {"kind": "command", "argv": ["sh", "-c", "exit 3"], "pid": 11, "time": "t2",
         "exit_code": None},
        {"kind": "child", "id": "01" * 16, "pid": 10, "time": "t3"},
        {"kind": "exit", "pid": 11, "exit_code": 3},
        {"kind": "exit", "pid": 10, "exit_code": 0},
        {"kind": "command", "argv": ["/bin/sh", "-c", "true"], "pid": None, "time": "t4",
         "exit_code": 0},
        {"kind": "command", "argv": ["sleep", "9"], "pid": 11, "time": "t5",  # pid reused
         "exit_code": None},
    ])
    assert record["children"] == ["01" * 16]
    assert record["commands"] == [
        {"argv": ["sh", "-c", "exit 3"], "exit_code": 3, "time": "t2", "pid": 11},
        {"argv": ["/bin/sh", "-c", "true"], "exit_code": 0, "time": "t4", "pid": None},
        {"argv": ["sleep", "9"], "exit_code": None, "time": "t5", "pid": 11},
    ]


def test_a_journal_without_process_events_keeps_empty_lists(tmp_path: Path) -> None:
    record = write_journal(tmp_path, [{"kind": "output", "path": "/x", "hash": None}])
    assert (record["children"], record["commands"]) == ([], [])


@pytest.fixture
def wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The wrappers installed for a run, put back as they were afterwards."""
    for name in ("system", "execv", "execve", "posix_spawn", "posix_spawnp", "waitpid",
                 "wait", "_exit"):
        monkeypatch.setattr(os, name, getattr(os, name))
    for name in ("__init__", "wait", "poll"):
        monkeypatch.setattr(subprocess.Popen, name, getattr(subprocess.Popen, name))
    monkeypatch.setattr(children, "_exit_wrapped", False)
    children._wrap_os()
    children._wrap_subprocess(subprocess)
    children.end_workers_at_exit()


@pytest.mark.parametrize("name", ["os.system", "os.execv", "os.execve", "os.posix_spawn",
                                  "os.waitpid", "os.wait", "os._exit",
                                  "subprocess.Popen.wait", "subprocess.Popen.__init__"])
def test_wrapped_functions_pickle_and_copy_as_the_originals(wrapped: None, name: str) -> None:
    module, _, attribute = name.partition(".")
    function = {"os": os, "subprocess": subprocess}[module]
    for part in attribute.split("."):
        function = getattr(function, part)
    assert hasattr(function, "__wrapped__")  # it is the wrapper
    assert pickle.loads(pickle.dumps(function)) is function
    assert copy.copy(function) is function and copy.deepcopy(function) is function
