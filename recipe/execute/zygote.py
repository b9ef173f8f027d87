"""A process that forks one pristine child per run of a process-executor sweep.

Starting an interpreter and importing recipe costs tens of milliseconds, more than a
trivial run itself. The zygote pays for it once: it imports what every run needs, then for
each run forks a copy of its untouched self, as multiprocessing's forkserver does. Each
run still has a process of its own (nothing leaks from one run to the next, a crash kills
only that run), started in about a millisecond.

Protocol, on two pipes given to `python -m recipe.execute.zygote REQUEST_FD REPLY_FD`: the sweep
writes "TOKEN SPEC_PATH\\n" (a spec as for `python -m recipe.execute.child`); the zygote answers
"TOKEN EXIT_STATUS\\n" when that run's process has ended (negative: killed by a signal).
It ends when the request pipe closes and its children are done.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import threading
from typing import Any

# Preloaded, with all they import: what every run needs is imported once, not per run.
from . import child, runner  # noqa: F401 - runner only preloaded


def serve(request_fd: int, reply_fd: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the runs and the sweep
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(request_fd, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    running: dict[int, str] = {}
    unread = b""
    reading = True
    while reading or running:
        for key, _ in selector.select():
            if key.fd == wake_read:
                os.read(wake_read, 4096)
                continue
            data = os.read(request_fd, 65536)
            if not data:
                reading = False
                selector.unregister(request_fd)
                continue
            unread += data
            while b"\n" in unread:
                line, unread = unread.split(b"\n", 1)
                token, _, spec_path = line.decode().partition(" ")
                pid = os.fork()
                if pid == 0:
                    _be_the_run(spec_path, (request_fd, reply_fd, wake_read, wake_write))
                running[pid] = token
        while running:  # reap whatever has ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            token = running.pop(pid, None)
            if token is not None:
                os.write(reply_fd, f"{token} {os.waitstatus_to_exitcode(status)}\n".encode())


def _be_the_run(spec_path: str, protocol_fds: tuple[int, ...]) -> None:
    """In the forked child: run as `python -m recipe.execute.child SPEC_PATH` would, then exit as
    an interpreter does (threads joined, atexit handlers run, streams flushed)."""
    status = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in protocol_fds:
            os.close(fd)
        status = child.main([spec_path])
        threading._shutdown()  # what the interpreter does at exit: wait for the threads
        import atexit

        atexit._run_exitfuncs()
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # never-raise guard: report, and end this child only
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # never-raise guard: a closed stream
                pass
        os._exit(status)


class Zygote:
    """The sweep's end: start the zygote, run specs through it from several threads."""

    def __init__(self) -> None:
        from ..record.delivery import child_environment

        request_read, self._request_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "recipe.execute.zygote", str(request_read),
                 str(reply_write)],
                pass_fds=(request_read, reply_write), env=child_environment())
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._lock = threading.Lock()
        self._waiting: dict[str, list[Any]] = {}  # token: [event, exit status]
        self._tokens = iter(range(1 << 62))
        self._reader = threading.Thread(target=self._read_replies, name="recipe-zygote",
                                        daemon=True)
        self._reader.start()

    def run(self, spec_path: str) -> int:
        """Run the spec in a forked child; its exit status (negative: killed by a signal).
        Raises ChildProcessError if the zygote itself is gone."""
        event = threading.Event()
        with self._lock:
            token = str(next(self._tokens))
            slot = self._waiting[token] = [event, None]
            try:
                os.write(self._request_write, f"{token} {spec_path}\n".encode())
            except OSError:
                slot[1] = None
                event.set()
        event.wait()
        if slot[1] is None:
            raise ChildProcessError("the process that starts the sweep's runs has died")
        return slot[1]

    def _read_replies(self) -> None:
        with os.fdopen(self._reply_read, "rb") as replies:
            for line in replies:
                token, _, status = line.decode().partition(" ")
                with self._lock:
                    slot = self._waiting.pop(token, None)
                if slot is not None:
                    slot[1] = int(status)
                    slot[0].set()
        with self._lock:  # the zygote is gone: nobody may wait forever
            for slot in self._waiting.values():
                slot[0].set()
            self._waiting.clear()

    def close(self) -> None:
        os.close(self._request_write)
        self.process.wait()
        self._reader.join()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
