"""Keeping the store well: db check, db repair, db upgrade, db copy; and the web viewer
(gui)."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import config, messages
from .output import NothingFound, open_store_or_fail, settings_or_fail


@click.group()
def db() -> None:
    """Check, repair, upgrade or copy the store."""


@db.command()
def check() -> int:
    """Verify every store file; exit status 1 if anything is damaged."""
    store = open_store_or_fail()
    problems = store.check()
    for problem in problems:
        click.echo(f"problem: {problem}")
    if problems:
        click.echo("run `recipe db repair` to salvage what can be read")
        raise NothingFound()
    pending = store.pending()
    click.echo(f"store OK: {store.db_path}"
               + (f" ({pending} run(s) waiting in the spool)" if pending else ""))
    return 0


@db.command()
def repair() -> int:
    """Salvage every readable run from damaged files (a backup of each is kept) and bring
    in the runs kept aside in the spool."""
    store = open_store_or_fail()
    report = store.repair()
    for line in report:
        messages.warn(line)  # store warnings are shown even when quiet
    click.echo("store repaired" if report else "nothing to repair")
    return 0


@db.command()
def upgrade() -> int:
    """Create the schema of a PostgreSQL store ([store] url), or bring it up to this
    recipe's version; a TinyDB store needs nothing.

    \b
    Example:
      RECIPE_STORE_URL=postgresql://alice@db.lab/recipe recipe db upgrade
    """
    from ..store.postgres import SCHEMA_VERSION, PostgresStore

    store = open_store_or_fail()
    if not isinstance(store, PostgresStore):
        click.echo(f"the TinyDB store {store.db_path} needs no upgrade")
        return 0
    done = store.upgrade()
    for line in done:
        click.echo(line)
    if not done:
        click.echo(f"the store {store.db_path} has schema {SCHEMA_VERSION}: nothing to do")
    return 0


@db.command("copy")
@click.option("--to", "where", required=True, metavar="URL_OR_PATH",
              help="A PostgreSQL URL (postgresql://user@host/db) or a TinyDB store file "
                   "(created if missing).")
def copy_command(where: str) -> int:
    """Copy every finished run of this store into another: TinyDB to PostgreSQL and back.
    Runs already there are left as they are, so copying twice adds nothing.

    \b
    Example:
      recipe db copy --to postgresql://alice@db.lab/recipe
      RECIPE_STORE_URL=postgresql://alice@db.lab/recipe recipe db copy --to ~/backup/db.json
    """
    import time

    from ..store import copy_runs, open_target

    source = open_store_or_fail()
    target = open_target(settings_or_fail(), where)
    started = time.monotonic()
    last = [started]

    def progress(copied: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 2.0:  # a long copy says how far it got, a short one nothing
            last[0] = now
            messages.info(f"copied {copied} runs ({now - started:.0f} s)")

    copied, there = copy_runs(source, target, progress=progress)
    click.echo(f"copied {copied} run(s) from {source.db_path} to {target.db_path}"
               + (f"; {there} were there already" if there else ""))
    return 0


@click.command("gui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on; another than this machine's loopback shows your "
                   "runs to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8321, show_default=True,
              help="Port to serve on (0: any free port).")
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
@click.option("--allow-host", "allowed", multiple=True, metavar="NAME",
              help="Also answer requests that name the server NAME (its DNS name, when "
                   "serving on another address; repeatable).")
def gui(host: str, port: int, no_browser: bool, allowed: tuple[str, ...]) -> int:
    """Browse, search, compare and annotate runs in a web browser.

    Serves the viewer on http://127.0.0.1:8321/ (or --port) until Ctrl-C, and opens it
    in your browser. Every page has a JSON twin: add .json to its path. Requests must
    name the server by the address it is bound to, a localhost name, or a name given with
    --allow-host (a web page elsewhere cannot reach it through DNS rebinding).

    \b
    Example:
      recipe gui
      recipe gui --port 0 --no-browser      # any free port; the URL is printed
      recipe gui --host 0.0.0.0 --allow-host lab-server.example.org
    """
    import errno
    import socket

    from werkzeug.serving import make_server

    settings = settings_or_fail()
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if not loopback:
        messages.warn(f"serving on {host}: anyone who can reach this address can read your "
                      "runs and annotate them")
    # Bound here, not by werkzeug, which prints its own lines and exits on a port in use.
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        listener = socket.create_server((host, port), family=family)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise click.UsageError(f"port {port} on {host} is in use: give another with "
                                   "--port N, or --port 0 for any free port") from None
        raise click.UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc}"
                               ) from None
    with listener:
        server = make_server(host, port, _app_for(settings, host, allowed), threaded=True,
                             fd=listener.fileno())
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.socket.getsockname()[1]}/"
    click.echo(f"recipe gui: serving {settings.home} on {url} (Ctrl-C stops)", err=True)
    click.echo(url)
    sys.stdout.flush()
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _app_for(settings: config.Config, host: str, allowed: tuple[str, ...]) -> Any:
    """The app, answering only Host headers that name the bound address, localhost, or
    an --allow-host name, so that a web page elsewhere cannot reach it through DNS
    rebinding (a name of the attacker's that resolves to this machine)."""
    from recipe_gui import allowed_hosts, create_app

    return create_app({"RECIPE_SETTINGS": settings,
                       "ALLOWED_HOSTS": allowed_hosts(host, allowed)})


COMMANDS = [db, gui]
