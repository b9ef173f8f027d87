"""Shared fixtures: every test gets its own RECIPE_HOME and working directory, and builders
for run records shaped like the ones `recorder.Run` writes."""

from __future__ import annotations

import itertools
import os
import socket
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from recipe import config
from recipe.record import journal as spool

BASE_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An isolated store directory; no RECIPE_* variable from the outer environment."""
    for name in list(os.environ):
        if name.startswith("RECIPE_"):
            monkeypatch.delenv(name)
    directory = tmp_path / "home"
    monkeypatch.setenv("RECIPE_HOME", str(directory))
    monkeypatch.chdir(tmp_path)
    return directory


@pytest.fixture
def settings(home: Path) -> config.Config:
    return config.load()


@pytest.fixture
def make_record() -> Callable[..., dict[str, Any]]:
    """Records with the fields `recorder.Run.__init__` gives them (`id` first); each new
    record starts one minute after the previous one unless `start` is given."""
    counter = itertools.count()

    def make(*, status: str = "completed", run_id: str | None = None,
             start: datetime | None = None, pid: int | None = None,
             hostname: str | None = None, script: str = "/project/train.py",
             **extra: Any) -> dict[str, Any]:
        number = next(counter)
        begin = start or BASE_TIME + timedelta(minutes=number)
        finished = status != "running"
        record = {
            "id": run_id or os.urandom(16).hex(),
            "script": script,
            "command": [os.path.basename(script)],
            "cwd": os.path.dirname(script),
            "start": begin.isoformat(),
            "end": (begin + timedelta(seconds=3)).isoformat() if finished else None,
            "duration": 3.0 if finished else None,
            "status": status,
            "exit_code": {"completed": 0, "failed": 1, "interrupted": 130}.get(status),
            "exception": None,
            "hostname": hostname or socket.gethostname(),
            "pid": pid if pid is not None else os.getpid(),
            "user": "tester",
            "platform": "Linux-6.0-x86_64",
            "python": "{}.{}.{}".format(*sys.version_info[:3]),
            "python_executable": sys.executable,
            "recipe_version": "0.1.0",
            "git": None,
            "libraries": {},
            "params": {},
            "results": {},
            "label": "",
            "tags": [],
            "notes": [],
        }
        record.update(extra)
        return record

    return make


@pytest.fixture
def spool_run(home: Path) -> Callable[..., str]:
    """Write a record (and its file events) into the spool, as a recording process does."""

    def write(record: dict[str, Any], events: list[dict[str, Any]] = ()) -> str:
        journal = spool.Journal(home, record["id"])
        journal.write_record(record)
        journal.append_events(list(events))
        return record["id"]

    return write


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """One file event as the recorder appends it to a journal."""

    def make(kind: str, path: str, digest: str = "0" * 32, *, algorithm: str = "xxh3_128",
             function: str = "numpy.load") -> dict[str, Any]:
        return {"kind": kind, "path": path, "hash": digest, "hash_algorithm": algorithm,
                "size": 4, "function": function, "time": BASE_TIME.isoformat()}

    return make
