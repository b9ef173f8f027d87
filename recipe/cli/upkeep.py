"""Keeping the store well: db check, db repair, db upgrade, db copy, rm / restore / gc (the
trash), import; and the web viewer (gui)."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import config, messages
from .output import (
    NothingFound,
    complete_run_id,
    emit_json,
    fail,
    open_store_or_fail,
    require_store,
    resolve_among,
    resolve_id,
    settings_or_fail,
)


@click.group()
def db() -> None:
    """Check, repair, upgrade or copy the store.

    \b
    Example:
      recipe db check
      recipe db repair
    """


@db.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print {store, ok, problems, pending} as JSON.")
@click.option("--full", is_flag=True,
              help="Decode every sealed shard again, also those an earlier check found "
                   "sound and nothing has rewritten since.")
def check(as_json: bool, full: bool) -> int:
    """Verify every store file and the spool; exit status 1 if anything is damaged.

    Reports damaged or wrong-shaped files, shards missing from the catalog, runs stored
    twice, unreadable journals and orphan journals (events whose run's record is gone).
    A sealed shard found sound once is decoded again only when a write replaced it;
    --full decodes them all.

    \b
    Example:
      recipe db check
      recipe db check --json | jq .problems
      recipe db check --full
    """
    store = open_store_or_fail()
    problems = store.check(full=True) if full else store.check()
    pending = store.pending()
    if as_json:
        emit_json({"store": store.home, "ok": not problems, "problems": problems,
                   "pending": pending})
    else:
        for problem in problems:
            click.echo(f"problem: {problem}")
        if problems:
            click.echo("run `recipe db repair` to salvage what can be read")
        else:
            click.echo(f"store OK: {store.home}"
                       + (f" ({pending} run(s) waiting in the spool)" if pending else ""))
    if problems:
        raise NothingFound()
    return 0


@db.command()
def repair() -> int:
    """Salvage every readable run from damaged files (a backup of each is kept, and what
    is not a run is set aside in backups/), rebuild the indexes, and bring in the runs
    kept aside in the spool and orphan journals (as `lost` runs).

    \b
    Example:
      recipe db repair
    """
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


@click.command("rm")
@click.argument("run_ids", metavar="ID...", nargs=-1, required=True,
                shell_complete=complete_run_id)
@click.option("--json", "as_json", is_flag=True, help="Print the ids moved, as JSON.")
def remove(run_ids: tuple[str, ...], as_json: bool) -> int:
    """Move runs to the trash: no listing, search, lineage or export shows them any more.

    Nothing is deleted: `recipe restore ID` brings a run back, `recipe runs --trashed`
    lists the trash, `recipe gc` empties it for good. So rm never asks first.

    \b
    Example:
      recipe rm 1a2b3c 4d5e6f
      recipe runs --status failed --format ndjson | jq -r .id | xargs recipe rm
    """
    store = open_store_or_fail()
    ids = list(dict.fromkeys(resolve_id(store, prefix) for prefix in run_ids))
    moved = store.trash(ids)
    if as_json:
        emit_json(moved)
    messages.info(f"moved {len(moved)} run(s) to the trash; `recipe restore ID` brings one "
                  "back, `recipe gc` deletes them for good")
    return 0


@click.command("restore")
@click.argument("run_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the ids restored, as JSON.")
def restore(run_ids: tuple[str, ...], as_json: bool) -> int:
    """Bring runs back from the trash (`recipe runs --trashed` lists it).

    \b
    Example:
      recipe restore 1a2b3c
    """
    store = open_store_or_fail()
    in_trash = [row["id"] for row in store.trashed()]
    ids = list(dict.fromkeys(resolve_among(store, prefix, in_trash) for prefix in run_ids))
    restored = store.restore(ids)
    if as_json:
        emit_json(restored)
    messages.info(f"restored {len(restored)} run(s) from the trash")
    return 0


@click.command("gc")
@click.option("--older-than", "older_than", metavar="AGE",
              help="Only runs moved to the trash more than AGE ago (30min, 12h, 3d, 2w).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask first (on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the ids deleted, as JSON.")
def gc(older_than: str | None, yes: bool, as_json: bool) -> int:
    """Empty the trash: delete for good the runs `recipe rm` moved there.

    On a terminal it says how many runs and asks first, unless --yes; in a script (no
    terminal) it does not ask: those runs were already removed by hand once.

    \b
    Example:
      recipe gc --older-than 30d
      recipe gc --yes
    """
    from ..store.query import moment

    before = ""
    if older_than is not None:
        try:
            before = moment(older_than)
        except ValueError as exc:
            raise click.UsageError(f"--older-than: {exc}") from None
    store = open_store_or_fail()
    doomed = [row for row in store.trashed() if not before or (row.get("trashed") or "") < before]
    if doomed and not yes and sys.stdin.isatty():
        click.confirm(f"delete {len(doomed)} run(s) in the trash for good?", abort=True)
    deleted = store.purge(before) if doomed else []
    if as_json:
        emit_json(deleted)
    messages.info(f"deleted {len(deleted)} run(s) from the trash for good")
    return 0


@click.command("import")
@click.argument("files", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print {added: [ids], skipped: [ids]} as JSON.")
def import_command(files: tuple[str, ...], as_json: bool) -> int:
    """Bring runs exported by `recipe export` (on another machine, by a cluster job) into
    this store, with their ids: lineage across machines just works. A run already here
    is skipped, so importing the same file twice adds nothing. `-` reads standard input.

    \b
    Example:
      recipe import cluster-runs.json laptop-runs.json
      ssh lab recipe export | recipe import -
    """
    records = [record for name in files for record in _exported_runs(name)]
    store = open_store_or_fail(create=True)
    added, skipped = store.import_records(records)
    if as_json:
        emit_json({"added": added, "skipped": skipped})
    messages.info(f"imported {len(added)} run(s)"
                  + (f"; {len(skipped)} already here, skipped" if skipped else ""))
    return 0


def _exported_runs(name: str) -> list[dict[str, Any]]:
    """The run records in an export file (a JSON array of runs, or one run as `show --json`
    prints it); one line, exit 2, for anything else."""
    import json

    from ..store.base import malformed

    try:
        with click.open_file(name, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        fail(f"cannot read {name}: {exc.strerror or exc}")
    except (ValueError, UnicodeDecodeError) as exc:
        fail(f"{name} is not a recipe export: not JSON ({exc})")
    runs = [data] if isinstance(data, dict) else data
    if not isinstance(runs, list):
        fail(f"{name} is not a recipe export: a JSON array of runs (`recipe export`)")
    for index, run in enumerate(runs):
        problem = malformed(run)
        if problem:
            fail(f"{name} is not a recipe export: item {index + 1} is not a run ({problem})")
    return runs


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
    require_store(settings)
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


COMMANDS = [db, remove, restore, gc, import_command, gui]
