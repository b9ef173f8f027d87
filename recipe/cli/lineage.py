"""Following files across runs: lineage, status, and diff of two runs."""

from __future__ import annotations

import os
from typing import Any

import click

from .. import messages
from ..store import query
from .output import (
    Listing,
    NothingFound,
    cell,
    complete_run_id,
    emit,
    emit_csv,
    emit_json,
    listing_options,
    open_store_or_fail,
    resolve_id,
)


@click.command("lineage")
@click.argument("term", metavar="PATH_OR_HASH")
@click.option("--up", "direction", flag_value="up", default=True,
              help="Where it came from: the runs that wrote it, what they read... (default)")
@click.option("--down", "direction", flag_value="down",
              help="What depends on it: the runs that read it, what they wrote...")
@click.option("--depth", type=click.IntRange(min=1), help="At most this many runs deep.")
@click.option("--dot", "as_dot", is_flag=True, help="Print Graphviz dot (`| dot -Tsvg`).")
@listing_options
def lineage_command(term: str, direction: str, depth: int | None, as_dot: bool,
                    listing: Listing) -> int:
    """Where a file came from (--up) or what was made from it (--down), across runs.

    PATH_OR_HASH is a file (matched by its content, so a renamed copy is found too), a
    recorded path, or a content hash (8+ hex digits). Exit status 1 when no run touched it
    (`--json` then prints []). The table and JSON are the tree: --since/--until drop runs
    (with what only they explain), --sort orders the runs under each file, --limit keeps
    the first runs met. NDJSON and CSV list each run once: depth, relation, id, script.

    \b
    Example:
      recipe lineage results/graph.png
      recipe lineage data/raw.csv --down --depth 2 --since 1w
      recipe lineage results/graph.png --format csv
      recipe lineage results/graph.png --dot | dot -Tsvg > lineage.svg
    """
    from ..provenance import graph

    if as_dot and listing.format != "table":
        raise click.UsageError(f"--dot and --format {listing.format} exclude each other")
    try:
        tree = graph.lineage(open_store_or_fail(), term, direction, depth)
    except ValueError as exc:
        messages.info(str(exc))
        if listing.format == "json":
            emit_json([])
        elif listing.format == "csv":
            emit_csv(list(LINEAGE_COLUMNS), [])
        raise NothingFound() from None
    runs = listing.select(_runs_in(tree))
    if listing.format in ("ndjson", "csv"):
        emit(listing, runs, list(LINEAGE_COLUMNS),
             lambda run: [run.get(column) for column in LINEAGE_COLUMNS], lambda: None)
        return 0
    tree = _pruned(tree, [run["id"] for run in runs])
    if listing.format == "json":
        emit_json(tree)
    elif as_dot:
        click.echo(graph.to_dot(tree, direction), nl=False)
    else:
        for line in graph.to_text(tree, direction):
            click.echo(line)
    return 0


LINEAGE_COLUMNS = ("depth", "relation", "id", "script", "start", "status", "path", "hash")


def _runs_in(tree: dict[str, Any]) -> list[dict[str, Any]]:
    """Each run of a lineage tree once, in the order met (depth first), with how deep it
    is and the file through which it was reached (`path`, `hash`)."""
    found: dict[str, dict[str, Any]] = {}

    def visit(file: dict[str, Any], depth: int) -> None:
        for run in file["runs"]:
            if run["id"] not in found:
                found[run["id"]] = {"depth": depth, "relation": run.get("relation"),
                                    **{key: run.get(key) for key in
                                       ("id", "script", "start", "status")},
                                    "path": file.get("path"), "hash": file.get("hash")}
            for child in run["files"]:
                visit(child, depth + 1)

    visit(tree, 1)
    return list(found.values())


def _pruned(tree: dict[str, Any], kept: list[str]) -> dict[str, Any]:
    """The tree with only the runs in `kept` (and below them), siblings in its order."""
    order = {run_id: index for index, run_id in enumerate(kept)}

    def file_node(file: dict[str, Any]) -> dict[str, Any]:
        runs = sorted((run for run in file["runs"] if run["id"] in order),
                      key=lambda run: order[run["id"]])
        return {**file, "runs": [{**run, "files": [file_node(child) for child in run["files"]]}
                                 for run in runs]}

    return file_node(tree)


@click.command("status")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@listing_options
def status_command(paths: tuple[str, ...], listing: Listing) -> int:
    """Are these outputs still what their runs wrote, and still up to date?

    For each file: `ok`; `modified` or `missing` (it changed on disk since its run wrote
    it); `stale` (an input changed or is gone since, an input came from a run that is
    itself stale, or the script changed); `unknown` (no recorded run wrote it). Without
    PATHS: every output of the newest run of each script under this directory, in the
    order the runs started. --since/--until choose by the start of the run that wrote
    each file; --sort takes path, state, run or start. Exit status 1 when anything
    listed is modified, missing or stale.

    \b
    Example:
      recipe status
      recipe status results/graph.png results/table.csv
      recipe status --format csv --sort state
    """
    from ..provenance.graph import Checker, Graph, latest_outputs

    store = open_store_or_fail()
    # Around the store: the walk learns only the runs the files it checks lead to.
    runs = Graph.around(store)
    targets = [os.path.abspath(path) for path in paths] or latest_outputs(
        Graph(store.newest_of_scripts(os.getcwd())), os.getcwd())
    checker = Checker(runs)
    # Chosen by the start of the run that wrote each file, shown as Checker says them.
    dated = listing.select([{**verdict, "start": (runs.runs.get(verdict["run"]) or {})
                             .get("start")} for verdict in map(checker.check, targets)])
    verdicts = [{key: value for key, value in verdict.items() if key != "start"}
                for verdict in dated]

    def text_table() -> None:
        if not verdicts:
            messages.info("no recorded run of a script under this directory wrote anything")
            return
        colours = {"ok": "green", "modified": "red", "missing": "red", "stale": "yellow"}
        width = max(len(os.path.relpath(v["path"])) for v in verdicts)
        for verdict in verdicts:
            click.echo(f"{click.style(verdict['state'].ljust(8), fg=colours.get(verdict['state']))}"
                       f"  {os.path.relpath(verdict['path']).ljust(width)}  {verdict['reason']}")

    emit(listing, verdicts, list(STATUS_COLUMNS),
         lambda verdict: [verdict.get(column) for column in STATUS_COLUMNS], text_table)
    if any(v["state"] in ("modified", "missing", "stale") for v in verdicts):
        raise NothingFound()
    return 0


STATUS_COLUMNS = ("state", "path", "run", "reason")


@click.command("diff")
@click.argument("first", metavar="RUN_A", shell_complete=complete_run_id)
@click.argument("second", metavar="RUN_B", shell_complete=complete_run_id)
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff_command(first: str, second: str, as_json: bool) -> int:
    """What differs between two runs: parameters, results, files, libraries, Python, git
    commit, and the code (the difference between their recorded uncommitted changes).
    Notebook runs are also compared cell by cell, in the order their cells executed.

    \b
    Example:
      recipe diff 1a2b3c 4d5e6f
    """
    store = open_store_or_fail()
    records = [store.get(resolve_id(store, prefix)) for prefix in (first, second)]
    sections = query.compare(records)
    code = query.code_difference(*records)
    cells = _cell_changes(*records) if any(r.get("cells") for r in records) else None
    if as_json:
        emit_json({"runs": [r["id"] for r in records],
                    "sections": [{"title": s["title"],
                                  "rows": [r for r in s["rows"] if r["differs"]]}
                                 for s in sections],
                    "code": code, **({"cells": cells} if cells is not None else {})})
        return 0
    click.echo(f"--- run {records[0]['id'][:8]}  {records[0].get('script')}  "
               f"{records[0].get('start')}")
    click.echo(f"+++ run {records[1]['id'][:8]}  {records[1].get('script')}  "
               f"{records[1].get('start')}")
    noise = {("run", "start"), ("run", "duration"), ("git", "diff")}  # shown elsewhere
    for section in sections:
        differing = [row for row in section["rows"] if row["differs"]
                     and (section["title"], row["name"]) not in noise]
        if not differing:
            continue
        click.echo(f"{section['title']}:")
        for row in differing:
            before, after = (cell(value, 60) or "-" for value in row["values"])
            click.echo(f"  {row['name']}: {before} -> {after}")
    click.echo("code: " + ("the same" if not code else "differs"))
    for line in code.splitlines():
        click.echo("  " + line)
    if cells is not None:
        _show_cell_changes(cells, records)
    return 0


def _cell_changes(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, Any]]:
    """The two runs' cells matched in execution order by their code (difflib), each pair or
    lone cell as {state: same/changed/removed/added, a, b (execution counts), diff}."""
    import difflib

    cells = [first.get("cells") or [], second.get("cells") or []]
    codes = [[cell.get("code") or "" for cell in side] for side in cells]
    found = []

    def add(state: str, i: int | None, j: int | None) -> None:
        # The hunks of a changed cell, without unified_diff's ---/+++ header lines.
        diff = list(difflib.unified_diff(codes[0][i].splitlines(), codes[1][j].splitlines(),
                                         lineterm="", n=1))[2:] if state == "changed" else []
        found.append({"state": state,
                      "a": None if i is None else cells[0][i].get("execution_count"),
                      "b": None if j is None else cells[1][j].get("execution_count"),
                      "diff": "\n".join(diff)})

    matcher = difflib.SequenceMatcher(None, codes[0], codes[1], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                add("same", i1 + k, j1 + k)
            continue
        pairs = min(i2 - i1, j2 - j1)  # a replaced block: its cells side by side
        for k in range(pairs):
            add("changed", i1 + k, j1 + k)
        for i in range(i1 + pairs, i2):
            add("removed", i, None)
        for j in range(j1 + pairs, j2):
            add("added", None, j)
    return found


def _show_cell_changes(changes: list[dict[str, Any]], records: list[dict[str, Any]]) -> None:
    counts = {state: sum(change["state"] == state for change in changes)
              for state in ("same", "changed", "removed", "added")}
    first, second = (record["id"][:8] for record in records)
    click.echo(f"cells: {counts['same']} the same, {counts['changed']} changed, "
               f"{counts['removed']} only in run {first}, {counts['added']} only in run "
               f"{second}")
    for change in changes:
        a, b = (f"[{'' if n is None else n}]" for n in (change["a"], change["b"]))
        if change["state"] == "changed":
            click.echo(f"  {a} -> {b} changed:")
            for line in change["diff"].splitlines():
                click.echo(f"      {line}")
        elif change["state"] == "removed":
            click.echo(f"  {a} only in run {first}")
        elif change["state"] == "added":
            click.echo(f"  {b} only in run {second}")


COMMANDS = [lineage_command, status_command, diff_command]
