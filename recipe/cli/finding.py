"""Finding runs: search, runs, latest, show, export, and annotating them (annotate, tag,
untag)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

import click

from .. import messages
from ..display import ago
from ..record.fields import now
from ..store import UnknownRun, query
from .output import (
    STATUS_COLOURS,
    Listing,
    NothingFound,
    cell,
    check_prefix,
    complete_run_id,
    emit_csv,
    emit_json,
    emit_ndjson,
    fail,
    full_records,
    label_and_tags,
    listing_options,
    open_store_or_fail,
    provenance_table,
    resolve_id,
    show_run,
    table,
)


@click.command()
@click.argument("term")
@click.option("--regex", is_flag=True, help="TERM is a regular expression matched against paths.")
@click.option("--id", "by_id", is_flag=True, help="TERM is the start of a run id.")
@listing_options
def search(term: str, regex: bool, by_id: bool, listing: Listing) -> int:
    """Find the runs that read or wrote a file.

    TERM matches any logged path containing it. When TERM is an existing file, runs
    that read or wrote a file with the same content match too, even under another name.
    Newest first; exit status 1 when nothing matches. JSON, NDJSON and CSV give the
    runs' full records (CSV: one row per run, its parameters and results).

    \b
    Example:
      recipe search graph.png
      recipe search --regex 'results/.*\\.csv$' --since 2w --limit 5
      recipe search data.csv --format ndjson | jq -r .id
    """
    if by_id:
        term = check_prefix(term)
    store = open_store_or_fail()
    try:
        wanted = query.Search(term, algorithms=store.hash_algorithms(), regex=regex,
                              by_id=by_id)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    found = store.find(listing.query(search=wanted))
    if not found:
        if listing.format == "json":
            emit_json([])
        elif listing.format == "csv":
            emit_csv(*_run_rows([]))
        messages.info(f"no run read or wrote anything matching {term!r}")
        raise NothingFound()
    _emit_runs(store, listing, found,
               lambda: provenance_table(found, wanted.matches_file))
    return 0


@click.command("runs")
@click.option("--script", help="Only runs of this script (file name or path suffix).")
@click.option("--status", type=click.Choice(list(STATUS_COLOURS)), help="Only runs ended so.")
@click.option("--tag", help="Only runs with this tag.")
@click.option("--where", "where", multiple=True, metavar="EXPR",
              help="A condition on a parameter or a result, NAME OP VALUE with OP = != < <= "
                   "> >= (repeatable: all must hold).")
@click.option("--sweep", metavar="ID", help="Only the runs of this sweep, in its order.")
@click.option("--trashed", is_flag=True,
              help="List the runs in the trash instead (`recipe rm`; JSON: their summaries, "
                   "each with the time it was trashed).")
@listing_options
def list_runs(script: str | None, status: str | None, tag: str | None, where: tuple[str, ...],
              sweep: str | None, trashed: bool, listing: Listing) -> int:
    """List runs with their parameters and results, newest first.

    A run without the parameter or result a condition names never matches it. No match
    prints an empty table (exit status 0). Runs of several scripts are listed in one
    table per script. Tables round numbers; JSON, NDJSON and CSV keep them whole.
    `--sweep ID` lists a sweep's runs as `recipe sweep` did, the ones it took from
    earlier sweeps included.

    \b
    Example:
      recipe runs --script train.py --where 'layers>=64' --where 'score<0.1'
      recipe runs --since 3d --sort -score --limit 10
      recipe runs --status failed --csv > failed.csv
      recipe runs --sweep 1a2b3c4d
      recipe runs --trashed
    """
    store = open_store_or_fail()
    chosen = listing.query(script=script, status=status, tag=tag, where=where)
    if trashed:
        if sweep is not None:
            raise click.UsageError("--trashed and --sweep exclude each other")
        found = chosen.ordered([run for run in store.trashed() if chosen.keep(run)])
        if listing.format in ("json", "ndjson"):
            (emit_json if listing.format == "json" else emit_ndjson)(found)
        else:
            _emit_runs(store, listing, found, lambda: _runs_tables(found))
        return 0
    if sweep is None:
        found = store.find(chosen)
    else:
        try:
            in_order = query.runs_of(store, check_prefix(sweep, "sweep"))
        except UnknownRun as exc:
            raise click.UsageError(str(exc)) from None
        found = [run for run in in_order if chosen.keep(run)]
        found = chosen.ordered(found) if listing.sort else found[:listing.limit]
    _emit_runs(store, listing, found, lambda: _runs_tables(found))
    return 0


def _emit_runs(store: Any, listing: Listing, found: list[dict[str, Any]],
               table_of_runs: Callable[[], None]) -> None:
    """Runs in the listing's format: their full records in JSON and NDJSON, one row of
    parameters and results each in CSV."""
    if listing.format == "json":
        emit_json(full_records(store, found))
    elif listing.format == "ndjson":
        emit_ndjson(full_records(store, found))
    elif listing.format == "csv":
        emit_csv(*_run_rows(found))
    else:
        table_of_runs()


def _columns(runs: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """The parameter names and scalar result names of the runs, in order of appearance."""
    params = list(dict.fromkeys(name for run in runs for name in run.get("params") or {}))
    results = list(dict.fromkeys(
        name for run in runs for name, value in (run.get("results") or {}).items()
        if isinstance(value, (bool, int, float, str)) or value is None))
    return params, results


def _run_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """CSV: id, status, start, script, then a column per parameter and per result."""
    params, results = _columns(runs)
    return (["id", "status", "start", "script", *params, *results],
            [[run["id"], run["status"], run.get("start") or "", run.get("script") or "",
              *((run.get("params") or {}).get(name) for name in params),
              *((run.get("results") or {}).get(name) for name in results)] for run in runs])


def _runs_tables(runs: list[dict[str, Any]]) -> None:
    """One aligned table per script (each with its own parameter columns), the scripts
    in the order of their newest run; a heading names the script when there are several."""
    by_script: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by_script.setdefault(run.get("script") or "", []).append(run)
    if not by_script:
        by_script[""] = []
    for index, (script, group) in enumerate(by_script.items()):
        if len(by_script) > 1:
            click.echo(("\n" if index else "") + click.style(
                f"{os.path.basename(script)} ({len(group)} run(s), {script})", bold=True))
        params, results = _columns(group)
        labels = [label_and_tags(run) for run in group]
        extra = ["LABEL / TAGS"] if any(labels) else []
        rows = [[run["id"][:8], run["status"], ago(run.get("start")),
                 os.path.basename(run.get("script") or ""), *([shown] if extra else []),
                 *(cell((run.get("params") or {}).get(name), rounded=True) for name in params),
                 *(cell((run.get("results") or {}).get(name), rounded=True)
                   for name in results)]
                for run, shown in zip(group, labels, strict=True)]
        table(["RUN", "STATUS", "STARTED", "SCRIPT", *extra, *params, *results], rows,
              status_column=1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run as a JSON object.")
def latest(as_json: bool) -> int:
    """Show the newest run (exit status 1 when the store is empty).

    \b
    Example:
      recipe latest
      recipe latest --json | jq .outputs
    """
    run = open_store_or_fail().latest()
    if run is None:
        messages.info("no runs recorded yet")
        raise NothingFound()
    emit_json(run) if as_json else show_run(run, diff=False)
    return 0


@click.command()
@click.argument("run_id", metavar="ID", shell_complete=complete_run_id)
@click.option("--json", "as_json", is_flag=True, help="Print the run as a JSON object.")
@click.option("--diff", is_flag=True, help="Also print the uncommitted changes (git diff).")
def show(run_id: str, as_json: bool, diff: bool) -> int:
    """Show one run in full. ID is any unique prefix of at least 6 characters.

    \b
    Example:
      recipe show 1a2b3c --diff
    """
    store = open_store_or_fail()
    run = store.get(resolve_id(store, run_id))
    emit_json(run) if as_json else show_run(run, diff=diff)
    return 0


@click.command()
@click.argument("run_id", metavar="ID", shell_complete=complete_run_id)
@click.option("-m", "--message", help="The note's text.")
@click.option("--remove", "remove", type=click.IntRange(min=1), metavar="N",
              help="Remove note N instead (as numbered by `recipe show`).")
@click.option("--json", "as_json", is_flag=True, help="Print the run afterwards, as JSON.")
def annotate(run_id: str, message: str | None, remove: int | None, as_json: bool) -> int:
    """Add a note to a run, or remove one.

    \b
    Example:
      recipe annotate 1a2b3c -m "figure 3 of the paper"
      recipe annotate 1a2b3c --remove 1
    """
    if (message is None) == (remove is None):
        raise click.UsageError("give a note with -m TEXT, or --remove N")
    if message is not None:
        return _annotate(run_id, lambda _store, _run: {"kind": "note", "text": message,
                                                        "time": now()},
                         lambda run: f"noted on run {run}", as_json)

    def unnote(store: Any, full_id: str) -> dict[str, Any]:
        notes = store.get(full_id).get("notes") or []
        if remove > len(notes):
            raise click.UsageError(f"run {full_id[:8]} has {len(notes)} note(s), no note "
                                   f"{remove}")
        note = notes[remove - 1]
        return {"kind": "unnote", "text": note.get("text"), "time": note.get("time")}

    return _annotate(run_id, unnote, lambda run: f"removed note {remove} of run {run}",
                     as_json)


@click.command()
@click.argument("run_id", metavar="ID", shell_complete=complete_run_id)
@click.argument("tags", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the run afterwards, as JSON.")
def tag(run_id: str, tags: tuple[str, ...], as_json: bool) -> int:
    """Add tags to a run.

    \b
    Example:
      recipe tag 1a2b3c paper baseline
    """
    return _annotate(run_id, lambda _store, _run: {"kind": "tags", "tags": list(tags)},
                     lambda run: f"tagged run {run}: {' '.join(tags)}", as_json)


@click.command()
@click.argument("run_id", metavar="ID", shell_complete=complete_run_id)
@click.argument("tags", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the run afterwards, as JSON.")
def untag(run_id: str, tags: tuple[str, ...], as_json: bool) -> int:
    """Remove tags from a run (the default ones too).

    \b
    Example:
      recipe untag 1a2b3c baseline
    """
    return _annotate(run_id, lambda _store, _run: {"kind": "untag", "tags": list(tags)},
                     lambda run: f"untagged run {run}: {' '.join(tags)}", as_json)


def _annotate(prefix: str, annotation: Callable[[Any, str], dict[str, Any]],
              done: Callable[[str], str], as_json: bool) -> int:
    """Apply `annotation(store, run id)` (see journal.annotate) to the run `prefix` names,
    say `done(its short id)`, and print the run afterwards with `as_json`."""
    store = open_store_or_fail()
    full_id = resolve_id(store, prefix)
    store.annotate(full_id, annotation(store, full_id))
    messages.info(done(full_id[:8]))
    if as_json:
        emit_json(store.get(full_id))
    return 0


@click.command()
@click.argument("run_ids", metavar="[ID]...", nargs=-1, shell_complete=complete_run_id)
@click.option("--format", "fmt", type=click.Choice(["json", "prov-json", "prov-n", "ro-crate"]),
              default="json", show_default=True,
              help="json: recipe's records; prov-json, prov-n: W3C PROV; ro-crate: an "
                   "RO-Crate (Process Run Crate) directory, given with -o.")
@click.option("-o", "--output", type=click.Path(),
              help="Write to this file instead of standard output (for ro-crate: this "
                   "directory, new, empty or an earlier crate).")
@click.option("--include-files", is_flag=True,
              help="ro-crate: copy into the crate every file still on disk with the content "
                   "the run saw.")
def export(run_ids: tuple[str, ...], fmt: str, output: str | None, include_files: bool) -> int:
    """Export all runs (or the given ones): as recipe's JSON array, newest first, as W3C
    PROV (PROV-JSON or PROV-N), or as an RO-Crate directory.

    \b
    Example:
      recipe export -o runs.json
      recipe export 1a2b3c 4d5e6f
      recipe export --format prov-n
      recipe export --format ro-crate -o crate/ --include-files
    """
    if include_files and fmt != "ro-crate":
        raise click.UsageError("--include-files goes with --format ro-crate")
    if fmt == "ro-crate" and output is None:
        raise click.UsageError("--format ro-crate writes a directory: name it with -o DIR")
    if fmt != "ro-crate" and output is not None and os.path.isdir(output):
        raise click.UsageError(f"{output} is a directory: -o takes a file for --format {fmt}")
    store = open_store_or_fail()
    ids = list(dict.fromkeys(resolve_id(store, prefix) for prefix in run_ids)) if run_ids \
        else None
    if fmt == "json":
        if output is None:
            _write_export(store.export_lines(ids), sys.stdout)
            return 0
        try:
            with click.open_file(output, "w", encoding="utf-8", atomic=True) as handle:
                count = _write_export(store.export_lines(ids), handle)
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        messages.info(f"exported {count} run(s) to {output}")
        return 0
    runs = store.records(ids)

    from ..provenance import exports

    if fmt == "ro-crate":
        try:
            exports.write_ro_crate(runs, output, include_files=include_files)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"cannot write the RO-Crate in {output}: {exc}") from None
        messages.info(f"exported {len(runs)} run(s) as an RO-Crate in {output}")
        return 0
    text = exports.to_prov_json(runs) if fmt == "prov-json" else exports.to_prov_n(runs)
    if output is None:
        click.echo(text, nl=not text.endswith("\n"))
    else:
        try:
            with click.open_file(output, "w", encoding="utf-8", atomic=True) as handle:
                handle.write(text if text.endswith("\n") else text + "\n")
        except OSError as exc:
            fail(f"cannot write {output}: {exc.strerror or exc}")
        messages.info(f"exported {len(runs)} run(s) as {fmt} to {output}")
    return 0


def _write_export(lines: Iterator[str], handle: TextIO) -> int:
    """recipe's JSON export, streamed: an array with one run per line, written as each
    record is read, so that exporting 100,000 runs holds a shard's worth in memory (the
    JSON encoder's indented form is three times slower). Returns the count."""
    count = 0
    handle.write("[")
    for line in lines:
        handle.write(("\n" if not count else ",\n") + line)
        count += 1
    handle.write("\n]\n" if count else "]\n")
    return count


COMMANDS = [search, list_runs, latest, show, annotate, tag, untag, export]
