"""Finding runs: search, runs, latest, show, export, and annotating them (annotate, tag)."""

from __future__ import annotations

import os
import sys

import click

from .. import messages
from ..display import ago
from ..record.fields import now
from ..store import UnknownRun, query
from .output import (
    STATUS_COLOURS,
    NothingFound,
    cell,
    emit_json,
    open_store_or_fail,
    provenance_table,
    resolve_among,
    resolve_id,
    show_run,
)


@click.command()
@click.argument("term")
@click.option("--regex", is_flag=True, help="TERM is a regular expression matched against paths.")
@click.option("--id", "by_id", is_flag=True, help="TERM is the start of a run id.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of full runs.")
def search(term: str, regex: bool, by_id: bool, as_json: bool) -> int:
    """Find the runs that read or wrote a file.

    TERM matches any logged path containing it. When TERM is an existing file, runs
    that read or wrote a file with the same content match too, even under another name.
    Newest first; exit status 1 when nothing matches.

    \b
    Example:
      recipe search graph.png
      recipe search --regex 'results/.*\\.csv$'
    """
    store = open_store_or_fail()
    try:
        search = query.Search(term, algorithms=store.hash_algorithms(), regex=regex,
                              by_id=by_id)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    found = [run for run in store.summaries(search.needles()) if search.matches(run)]
    if as_json:
        emit_json(store.records([run["id"] for run in found]) if found else [])
    elif found:
        provenance_table(found, search.matches_file)
    else:
        messages.info(f"no run read or wrote anything matching {term!r}")
    if not found:
        raise NothingFound()
    return 0


@click.command("runs")
@click.option("--script", help="Only runs of this script (file name or path suffix).")
@click.option("--status", type=click.Choice(list(STATUS_COLOURS)), help="Only runs ended so.")
@click.option("--tag", help="Only runs with this tag.")
@click.option("--where", "where", multiple=True, metavar="EXPR",
              help="A condition on a parameter, NAME OP VALUE with OP = != < <= > >= "
                   "(repeatable: all must hold).")
@click.option("--sweep", metavar="ID", help="Only the runs of this sweep, in its order.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of full runs.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: one row per run.")
def list_runs(script: str | None, status: str | None, tag: str | None, where: tuple[str, ...],
              sweep: str | None, as_json: bool, as_csv: bool) -> int:
    """List runs with their parameters and results, newest first.

    A run without the parameter a condition names never matches it. No match prints
    an empty table (exit status 0). `--sweep ID` lists a sweep's runs as `recipe sweep`
    did, the ones it took from earlier sweeps included.

    \b
    Example:
      recipe runs --script train.py --where 'layers>=64' --where 'lr<0.1'
      recipe runs --status failed --csv > failed.csv
      recipe runs --sweep 1a2b3c4d
    """
    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other")
    store = open_store_or_fail()
    try:
        found = query.filter_runs(query.runs_of(store, sweep), script=script, status=status,
                                  tag=tag, where=where)
    except UnknownRun as exc:
        raise click.UsageError(str(exc)) from None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        records = {r["id"]: r for r in store.records([run["id"] for run in found])} \
            if found else {}
        emit_json([records[run["id"]] for run in found if run["id"] in records])
        return 0
    params = list(dict.fromkeys(name for run in found for name in run.get("params") or {}))
    results = list(dict.fromkeys(
        name for run in found for name, value in (run.get("results") or {}).items()
        if isinstance(value, (bool, int, float, str)) or value is None))
    header = ["id", "status", "start", "script", *params, *results]
    rows = [[run["id"], run["status"], run.get("start") or "", run.get("script") or "",
             *((run.get("params") or {}).get(name) for name in params),
             *((run.get("results") or {}).get(name) for name in results)] for run in found]
    if as_csv:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if cell is None else cell for cell in row] for row in rows)
        return 0
    shown = [[run["id"][:8], run["status"], ago(run.get("start")),
              os.path.basename(run.get("script") or ""), *map(cell, row[4:])]
             for run, row in zip(found, rows, strict=True)]
    titles = ["RUN", "STATUS", "STARTED", "SCRIPT", *params, *results]
    widths = [max(len(r[i]) for r in [titles, *shown]) for i in range(len(titles))]
    for line in [titles, *shown]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run as a JSON object.")
def latest(as_json: bool) -> int:
    """Show the newest run (exit status 1 when the store is empty)."""
    run = open_store_or_fail().latest()
    if run is None:
        messages.info("no runs recorded yet")
        raise NothingFound()
    emit_json(run) if as_json else show_run(run, diff=False)
    return 0


@click.command()
@click.argument("run_id", metavar="ID")
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
@click.argument("run_id", metavar="ID")
@click.option("-m", "--message", required=True, help="The note's text.")
def annotate(run_id: str, message: str) -> int:
    """Add a note to a run.

    \b
    Example:
      recipe annotate 1a2b3c -m "figure 3 of the paper"
    """
    store = open_store_or_fail()
    full_id = resolve_id(store, run_id)
    store.annotate(full_id, {"kind": "note", "text": message, "time": now()})
    messages.info(f"noted on run {full_id[:8]}")
    return 0


@click.command()
@click.argument("run_id", metavar="ID")
@click.argument("tags", nargs=-1, required=True)
def tag(run_id: str, tags: tuple[str, ...]) -> int:
    """Add tags to a run.

    \b
    Example:
      recipe tag 1a2b3c paper baseline
    """
    store = open_store_or_fail()
    full_id = resolve_id(store, run_id)

    store.annotate(full_id, {"kind": "tags", "tags": list(tags)})
    messages.info(f"tagged run {full_id[:8]}: {' '.join(tags)}")
    return 0


@click.command()
@click.argument("run_ids", metavar="[ID]...", nargs=-1)
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
    if run_ids:
        known = [row["id"] for row in store.summaries()]
        ids = list(dict.fromkeys(resolve_among(store, prefix, known) for prefix in run_ids))
        runs = store.records(ids)
    else:
        runs = store.records()
    if fmt == "json":
        if output is None:
            emit_json(runs)
        else:
            from ..record.journal import atomic_write_json

            atomic_write_json(os.path.abspath(output), runs, indent=2)
            messages.info(f"exported {len(runs)} run(s) to {output}")
        return 0

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
        with click.open_file(output, "w", encoding="utf-8", atomic=True) as handle:
            handle.write(text if text.endswith("\n") else text + "\n")
        messages.info(f"exported {len(runs)} run(s) as {fmt} to {output}")
    return 0


COMMANDS = [search, list_runs, latest, show, annotate, tag, export]
