"""What every command shares: opening the store, resolving ids, and how output looks."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import config, messages
from ..display import ago, duration
from ..store import Store, UnknownRun, open_store

STATUS_COLOURS = {"completed": "green", "failed": "red", "interrupted": "yellow",
                  "running": "cyan", "lost": "magenta"}


class NothingFound(Exception):
    """Exit 1 without an error message: the command said what it found (nothing)."""


def settings_or_fail() -> config.Config:
    try:
        settings = config.load()
    except config.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    messages.set_quiet(settings.quiet)
    return settings


def open_store_or_fail() -> Store:
    return open_store(settings_or_fail())


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


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def styled_status(status: str) -> str:
    return click.style(status, fg=STATUS_COLOURS.get(status))


def code_summary(run: dict[str, Any]) -> str:
    git = run.get("git") or {}
    if not git.get("commit"):
        return "not in git" if not git else "git, no commit yet"
    return (f"git {git['commit'][:8]}" + (f" on {git['branch']}" if git.get("branch") else "")
            + (" + uncommitted changes" if git.get("dirty") else ""))


def cell(value: Any, most: int = 40) -> str:
    """A table cell: floats by repr, whitespace collapsed, long text cut."""
    if value is None:
        return ""
    text = repr(value) if isinstance(value, float) else " ".join(str(value).split())
    return text if len(text) <= most else text[:most - 3] + "..."


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


def show_run(run: dict[str, Any], *, diff: bool) -> None:
    def line(name: str, value: Any) -> None:
        click.echo(f"{click.style(f'{name}:'.ljust(11), bold=True)} {value}")

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
        for event in events:
            click.echo(f"  {event['path']}  {event['hash'][:16]}  {event['size']} B  "
                       f"{event['function']}")
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
    for note in run.get("notes") or []:
        line("Note", f"{note['text']}  ({ago(note['time'])})")
    if diff:
        text = (git or {}).get("diff")
        click.echo(click.style("Diff:", bold=True) + ("" if text else " none"))
        if text:
            click.echo(text.rstrip("\n"))


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
