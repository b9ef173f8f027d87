"""What every command shares: opening the store, resolving ids, the options of listing
commands, and how output looks (tables, JSON, NDJSON, CSV, colours, human units)."""

from __future__ import annotations

import functools
import json
import math
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

import click

from .. import config, messages
from ..display import ago, duration
from ..record import delivery
from ..store import MIN_PREFIX, Store, StoreMissing, UnknownRun, open_store
from ..store.query import RunQuery, moment

STATUS_COLOURS = {"completed": "green", "failed": "red", "interrupted": "yellow",
                  "running": "cyan", "lost": "magenta"}
FORMATS = ("table", "json", "ndjson", "csv")


class NothingFound(Exception):
    """Exit 1 without an error message: the command said what it found (nothing)."""


def settings_or_fail() -> config.Config:
    try:
        settings = config.load()
    except config.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    messages.set_quiet(settings.quiet)
    delivery.show_background_warnings(settings.home)
    return settings


def open_store_or_fail(*, create: bool = False) -> Store:
    """The configured store. Only commands that record (`create`) may start a new one:
    for every other command a missing RECIPE_HOME is a mistyped path, an error."""
    settings = settings_or_fail()
    if not create:
        require_store(settings)
    return open_store(settings)


def require_store(settings: config.Config) -> None:
    """StoreMissing unless the store directory exists (nothing is created to find out).
    A store on a server (`[store] url`) needs none: RECIPE_HOME only holds this machine's
    spool there."""
    if not settings.store_url and not os.path.isdir(settings.home):
        raise StoreMissing(f"no store at {settings.home} (RECIPE_HOME)")


def fail(message: str) -> NoReturn:
    """One line `recipe: error: MESSAGE`, exit status 2: bad input that is not an option
    (a file that cannot be written, an import file that is not an export)."""
    error = click.ClickException(message)
    error.exit_code = 2
    raise error


def resolve_id(store: Store, prefix: str) -> str:
    try:
        return store.resolve(prefix)
    except UnknownRun as exc:
        raise click.UsageError(str(exc)) from None


def resolve_among(store: Store, prefix: str, ids: list[str]) -> str:
    try:
        return store.resolve(prefix, ids)
    except UnknownRun as exc:
        raise click.UsageError(str(exc)) from None


def check_prefix(prefix: str, what: str = "run") -> str:
    """An id prefix, lower case, if it is long enough: the same minimum for runs and
    sweeps, with the same message."""
    prefix = prefix.strip().lower()
    if len(prefix) < MIN_PREFIX:
        raise click.UsageError(f"{what} id prefix {prefix!r} is too short: give at least "
                               f"{MIN_PREFIX} characters")
    return prefix


def complete_run_id(_ctx: click.Context, _param: click.Parameter, incomplete: str
                    ) -> list[str]:
    """Shell completion of a run id: the ids starting with what was typed (the newest
    runs first), never an error and never a new store."""
    try:
        settings = config.load()
        if not os.path.isdir(settings.home):
            return []
        store = open_store(settings)
        needle = [incomplete.lower()] if incomplete else None
        return [run["id"] for run in store.summaries(needle)
                if run["id"].startswith(incomplete.lower())][:50]
    except Exception:  # never-raise guard: a completion must not print a traceback
        return []


class Listing:
    """What a listing command (`search`, `runs`, `lineage`, `status`) was asked for: an
    output format, and which items in which order (`--limit`, `--sort`, `--since`,
    `--until`), applied by the store (`query`) or to a list at hand (`select`)."""

    def __init__(self, fmt: str, limit: int | None, sort: str | None, since: str | None,
                 until: str | None) -> None:
        self.format, self.limit, self.sort = fmt, limit, sort
        try:
            self.since = moment(since) if since else ""
            self.until = moment(until, end_of_day=True) if until else ""
        except ValueError as exc:
            raise click.UsageError(f"--since/--until: {exc}") from None

    def query(self, **filters: Any) -> RunQuery:
        """The store query: `filters` as RunQuery takes them, newest first by default."""
        try:
            return RunQuery(since=self.since, until=self.until, sort=self.sort or "-start",
                            limit=self.limit, **filters)
        except ValueError as exc:  # a malformed --where
            raise click.UsageError(str(exc)) from None

    def select(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Items (each with a `start`) in their order, or sorted by --sort, within
        --since/--until, at most --limit of them."""
        chosen = self.query()
        kept = [item for item in items if chosen.keep(item)]
        if self.sort:
            return chosen.ordered(kept)
        return kept if self.limit is None else kept[:self.limit]


def listing_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every listing command has; the command gets them as `listing`."""
    @functools.wraps(command)
    def with_listing(*args: Any, limit: int | None, sort: str | None, since: str | None,
                     until: str | None, fmt: str | None, as_json: bool, as_csv: bool,
                     **kwargs: Any) -> Any:
        chosen = [name for name, given in (("--format", fmt), ("--json", as_json),
                                           ("--csv", as_csv)) if given]
        if len(chosen) > 1:
            raise click.UsageError(f"{' and '.join(chosen)} exclude each other")
        fmt = fmt or ("json" if as_json else "csv" if as_csv else "table")
        return command(*args, listing=Listing(fmt, limit, sort, since, until), **kwargs)

    for option in reversed([
        click.option("--limit", type=click.IntRange(min=0), metavar="N",
                     help="At most N of them."),
        click.option("--sort", metavar="FIELD",
                     help="Order by a field, parameter or result; -FIELD for descending "
                          "(default: newest first)."),
        click.option("--since", metavar="WHEN",
                     help="Only runs started since WHEN: an ISO date or time, or a span "
                          "back from now (30min, 12h, 3d, 2w)."),
        click.option("--until", metavar="WHEN",
                     help="Only runs started until WHEN (a date alone: its whole day)."),
        click.option("--format", "fmt", type=click.Choice(FORMATS),
                     help="Output format (default: table)."),
        click.option("--json", "as_json", is_flag=True, help="Short for --format json."),
        click.option("--csv", "as_csv", is_flag=True, help="Short for --format csv."),
    ]):
        with_listing = option(with_listing)
    return with_listing


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def emit_ndjson(items: Iterable[Any]) -> None:
    """One compact JSON value per line (`jq -c`, pandas.read_json(lines=True))."""
    for item in items:
        click.echo(json.dumps(item, ensure_ascii=False, separators=(",", ":")))


def emit_csv(header: list[str], rows: Iterable[list[Any]]) -> None:
    """CSV on stdout, values at full precision, None as an empty cell."""
    import csv

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if value is None else value for value in row] for row in rows)


def emit(listing: Listing, items: list[dict[str, Any]], header: list[str],
         row: Callable[[dict[str, Any]], list[Any]], table: Callable[[], None]) -> None:
    """Items in the listing's format: JSON, NDJSON, CSV (`header`, `row` of each item), or
    the command's own `table`."""
    if listing.format == "json":
        emit_json(items)
    elif listing.format == "ndjson":
        emit_ndjson(items)
    elif listing.format == "csv":
        emit_csv(header, (row(item) for item in items))
    else:
        table()


def full_records(store: Store, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The full records of `runs` (summaries), in their order."""
    if not runs:
        return []
    by_id = {record["id"]: record for record in store.records([run["id"] for run in runs])}
    return [by_id[run["id"]] for run in runs if run["id"] in by_id]


def human_size(size: int | None) -> str:
    """Bytes as a person reads them: 812 B, 29 KB, 4.2 MB (powers of 1024)."""
    if size is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            if unit == "B":
                return f"{size} B"
            return f"{size:.1f} {unit}" if size < 10 else f"{size:.0f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_number(value: float) -> str:
    """A float rounded for a table: 4 significant digits, no exponent between 0.001 and
    a million."""
    if not math.isfinite(value) or value == 0:
        return repr(value)
    if 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    if 1e4 <= abs(value) < 1e6:
        return f"{value:.0f}"
    return f"{value:.3e}"


def styled_status(status: str) -> str:
    return click.style(status, fg=STATUS_COLOURS.get(status))


def code_summary(run: dict[str, Any]) -> str:
    git = run.get("git") or {}
    if not git.get("commit"):
        return "not in git" if not git else "git, no commit yet"
    return (f"git {git['commit'][:8]}" + (f" on {git['branch']}" if git.get("branch") else "")
            + (" + uncommitted changes" if git.get("dirty") else ""))


def cell(value: Any, most: int = 40, *, rounded: bool = False) -> str:
    """A table cell: floats by repr (`rounded`: for humans), whitespace collapsed, long
    text cut."""
    if value is None:
        return ""
    if isinstance(value, float):
        text = human_number(value) if rounded else repr(value)
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= most else text[:most - 3] + "..."


def table(header: list[str], rows: list[list[str]], *, status_column: int | None = None
          ) -> None:
    """An aligned table; the cells of `status_column` coloured by status (after padding,
    so that escape codes do not count as width)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    click.echo("  ".join(c.ljust(w) for c, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        padded = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
        if status_column is not None:
            padded[status_column] = (styled_status(row[status_column])
                                     + padded[status_column][len(row[status_column]):])
        click.echo("  ".join(padded).rstrip())


def label_and_tags(run: dict[str, Any]) -> str:
    """A run's label when the user chose it (the one made of its parameters says what
    the parameter columns say), then its tags as #tag."""
    from ..record.fields import label

    chosen = run.get("label") or ""
    if chosen == label(run.get("params") or {}):
        chosen = ""
    return " ".join(filter(None, [chosen, *(f"#{tag}" for tag in run.get("tags") or ())]))


def provenance_table(runs: list[dict[str, Any]], matches: Any, most: int = 10) -> None:
    """Which run made this file, from which inputs, with which code: an aligned table of
    the runs, each followed by the files that matched and what else it read."""
    header = ("RUN", "STATUS", "STARTED", "SCRIPT", "CODE", "LABEL / TAGS")
    rows = [(run["id"][:8], run["status"], ago(run.get("start")), run["script"],
             code_summary(run), " ".join(filter(None, [run.get("label") or "",
                                                *(f"#{t}" for t in run.get("tags") or ())])))
            for run in runs]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...], *, coloured: bool = True) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
        if coloured:  # after padding: escape codes must not count as width
            padded[1] = styled_status(cells[1]) + padded[1][len(cells[1]):]
        return "  ".join(padded).rstrip()

    click.echo(line(header, coloured=False))
    for run, row in zip(runs, rows, strict=True):
        click.echo(line(row))
        files = [("wrote", event) for event in run.get("outputs") or () if matches(event)]
        files += [("read", event) for event in run.get("inputs") or () if matches(event)]
        others = [("from", event) for event in run.get("inputs") or () if not matches(event)]
        shown = files + others[:most]
        width = max(len(event["path"]) for _verb, event in shown) if shown else 0
        for verb, event in shown:
            click.echo(f"  {verb:<5}  {event['path']:<{width}}  {(event.get('hash') or '')[:12]}")
        if len(others) > most:
            click.echo(f"  ... and {len(others) - most} more input(s): "
                       f"recipe show {run['id'][:8]}")


LABEL_WIDTH = 12  # "Parameters:" and a space: every row of `show` starts its value here


def show_run(run: dict[str, Any], *, diff: bool) -> None:
    def line(name: str, value: Any) -> None:
        click.echo(f"{click.style(f'{name}:'.ljust(LABEL_WIDTH), bold=True)}{value}")

    def lines(name: str, values: list[str]) -> None:
        for index, value in enumerate(values):
            line(name, value) if index == 0 else click.echo(" " * 12 + value)

    line("Run", run["id"])
    line("Script", run["script"])
    line("Command", " ".join(run.get("command") or []))
    line("Directory", run.get("cwd"))
    line("Status", styled_status(run["status"])
         + (f" (exit code {run['exit_code']})" if run.get("exit_code") is not None else ""))
    line("Started", f"{run['start']} ({ago(run['start'])})")
    line("Ended", run.get("end") or "-")
    line("Duration", duration(run.get("duration")))
    line("Host", f"{run.get('user')}@{run.get('hostname')}, {run.get('platform')}, "
                 f"Python {run.get('python')}")
    if run.get("label"):
        line("Label", run["label"])
    if run.get("tags"):
        line("Tags", ", ".join(run["tags"]))
    git = run.get("git")
    if git:
        line("Git", f"{git.get('root')} @ {(git.get('commit') or 'no commit')[:12]}"
                    f" on {git.get('branch') or 'detached HEAD'}"
                    + (" (uncommitted changes)" if git.get("dirty") else ""))
        if git.get("remote"):
            line("Remote", git["remote"])
    if run.get("parent"):
        line("Parent", run["parent"])
    lines("Children", run.get("children") or [])
    lines("Commands", [command_line(command) for command in run.get("commands") or []])
    for kind in ("inputs", "outputs"):
        events = run.get(kind) or []
        click.echo(click.style(f"{kind.capitalize()} ({len(events)}):", bold=True))
        rows = [[event.get("path") or "", (event.get("hash") or "-")[:16],
                 human_size(event.get("size")) if event.get("hash") else
                 f"({event.get('hash_error') or 'not hashed'})", event.get("function") or ""]
                for event in events]
        widths = [max((len(row[i]) for row in rows), default=0) for i in range(4)]
        for row in rows:
            click.echo("  " + "  ".join([row[0].ljust(widths[0]), row[1].ljust(widths[1]),
                                         row[2].rjust(widths[2]), row[3]]).rstrip())
    if run.get("cells"):
        show_cells(run)
    if run.get("params"):
        line("Parameters", json.dumps(run["params"]))
    if run.get("results"):
        line("Results", json.dumps(run["results"]))
    if run.get("libraries"):
        line("Libraries", ", ".join(f"{k} {v}" for k, v in sorted(run["libraries"].items())))
    exception = run.get("exception")
    if exception:
        click.echo(click.style("Exception:", bold=True)
                   + f" {exception['type']}: {exception['message']}")
        click.echo(exception.get("traceback") or "")
    for number, note in enumerate(run.get("notes") or [], 1):
        line(f"Note {number}", f"{note['text']}  ({ago(note['time'])})")
    if diff:
        text = (git or {}).get("diff")
        click.echo(click.style("Diff:", bold=True) + ("" if text else " none"))
        if text:
            click.echo(text.rstrip("\n"))


def show_cells(run: dict[str, Any]) -> None:
    """A notebook run's cells in the order they executed: number, time, error, code, and
    the files it read and wrote."""
    cells = run["cells"]
    click.echo(click.style(f"Cells ({len(cells)}):", bold=True))
    for cell in cells:
        count = cell.get("execution_count")
        header = f"  [{'' if count is None else count}]"
        if cell.get("duration") is not None:
            header += f"  {duration(cell['duration'])}"
        if cell.get("error"):
            header += "  " + click.style(f"raised {cell['error']}", fg="red")
        click.echo(click.style(header, bold=True))
        for text in (cell.get("code") or "").splitlines():
            click.echo(f"      {text}")
        if count is None:  # not numbered (store_history off): no file names it
            continue
        for verb, kind in (("read", "inputs"), ("wrote", "outputs")):
            for event in run.get(kind) or ():
                if event.get("cell") == count:
                    click.echo(f"    {verb:<5} {event['path']}  "
                               f"{(event.get('hash') or '')[:12]}")


def command_line(command: dict[str, Any]) -> str:
    """A program a run started, as a shell would take it, with its exit code."""
    import shlex

    code = command.get("exit_code")
    return (shlex.join(command.get("argv") or [])
            + f"  (exit code {'unknown' if code is None else code})")


def aligned(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    if not rows:
        click.echo(f"{title}: none")
        return
    click.echo(f"{title}:")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
