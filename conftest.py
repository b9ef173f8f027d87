"""A real PostgreSQL server for the tests of the team store (tests/ and integration_tests/).

`postgres_server` (one per session) runs Debian's PostgreSQL (`postgresql` package:
/usr/lib/postgresql/*/bin) from a temporary directory on a free loopback port, as the
`postgres` (or `nobody`) user when the tests run as root, with a password (SCRAM) so that
the tests can show it never leaks. `postgres_url` gives each test a database of its own.
Tests that need the server are skipped only where these binaries are absent (or psycopg is).
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PASSWORD = "pw-" + os.urandom(6).hex()  # what must never be printed or stored
USER = "recipe_tester"


def _binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(path.split("/")[4]) if path.split("/")[4].isdigit()
                   else 0)
    return os.path.dirname(found[-1]) if found else None


def _free_port() -> int:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


class PostgresServer:
    """One server: `url(database)` names a database on it; `stop()`/`start()` take it down
    and up again (the server stopped mid-sweep); `create_database()` a fresh one."""

    def __init__(self, bindir: str, root: Path) -> None:
        self.bindir, self.root = bindir, root
        self.password = PASSWORD
        self.data, self.sockets = root / "data", root / "sockets"
        self.port = _free_port()
        self.owner: str | None = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            names = {entry.pw_name for entry in pwd.getpwall()}
            self.owner = "postgres" if "postgres" in names else "nobody"
        self.sockets.mkdir(parents=True)
        password_file = root / "password"
        password_file.write_text(PASSWORD + "\n")
        if self.owner:
            shutil.chown(root, self.owner)
            for path in (self.sockets, password_file):
                shutil.chown(path, self.owner)
        self._as_owner(["initdb", "-D", str(self.data), "-U", USER, "-E", "UTF8",
                        "--locale=C", "--auth=scram-sha-256", f"--pwfile={password_file}"])
        self.numbers = itertools.count(1)
        self.start()

    def _as_owner(self, argv: list[str]) -> None:
        command = [os.path.join(self.bindir, argv[0]), *argv[1:]]
        if self.owner:
            command = ["runuser", "-u", self.owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.root)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._as_owner(["pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"),
                        "-o", options, "-w", "-t", "60", "start"])

    def stop(self) -> None:
        self._as_owner(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import psycopg

        name = f"recipe_test_{next(self.numbers)}"
        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        return name


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (Debian package postgresql)")
    pytest.importorskip("psycopg", reason="psycopg is not installed (the postgres extra)")
    # Not under pytest's own temporary directory, which only root may enter.
    root = Path(tempfile.mkdtemp(prefix="recipe-postgres-"))
    try:
        server = PostgresServer(bindir, root)
        try:
            yield server
        finally:
            try:
                server.stop()
            except subprocess.CalledProcessError:
                pass  # a test left it stopped
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL (with its password) of a fresh, empty database for this test."""
    return postgres_server.url(postgres_server.create_database())


BACKENDS = ("tinydb", "postgres")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each store backend in turn: for `postgres`, RECIPE_STORE_URL names a fresh
    database (request this fixture after the one that clears RECIPE_* variables)."""
    if request.param == "postgres":
        monkeypatch.setenv("RECIPE_STORE_URL", request.getfixturevalue("postgres_url"))
    return request.param
