"""The `recipe` command line: thin commands over the store and query layers."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from . import config, messages, query
from .display import ago, duration
from .recorder import __version__, now
from .recorder import label as recorder_label
from .store import Store, StoreError, UnknownRun

STATUS_COLOURS = {"completed": "green", "failed": "red", "interrupted": "yellow",
                  "running": "cyan", "lost": "magenta"}


class NothingFound(Exception):
    """Exit 1 without an error message: the command said what it found (nothing)."""


def _store() -> Store:
    try:
        settings = config.load()
    except config.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    messages.set_quiet(settings.quiet)
    return Store(settings)


def _emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _status(status: str) -> str:
    return click.style(status, fg=STATUS_COLOURS.get(status))


def _code(run: dict[str, Any]) -> str:
    git = run.get("git") or {}
    if not git.get("commit"):
        return "not in git" if not git else "git, no commit yet"
    return (f"git {git['commit'][:8]}" + (f" on {git['branch']}" if git.get("branch") else "")
            + (" + uncommitted changes" if git.get("dirty") else ""))


def _cell(value: Any, most: int = 40) -> str:
    """A table cell: floats by repr, whitespace collapsed, long text cut."""
    if value is None:
        return ""
    text = repr(value) if isinstance(value, float) else " ".join(str(value).split())
    return text if len(text) <= most else text[:most - 3] + "..."


def _provenance(runs: list[dict[str, Any]], matches: Any, most: int = 10) -> None:
    """Which run made this file, from which inputs, with which code: an aligned table of
    the runs, each followed by the files that matched and what else it read."""
    header = ("RUN", "STATUS", "STARTED", "SCRIPT", "CODE", "LABEL / TAGS")
    rows = [(run["id"][:8], run["status"], ago(run.get("start")), run["script"],
             _code(run), " ".join(filter(None, [run.get("label") or "",
                                                *(f"#{t}" for t in run.get("tags") or ())])))
            for run in runs]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: tuple[str, ...], *, coloured: bool = True) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=True)]
        if coloured:  # after padding: escape codes must not count as width
            padded[1] = _status(cells[1]) + padded[1][len(cells[1]):]
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


def _show(run: dict[str, Any], *, diff: bool) -> None:
    def line(name: str, value: Any) -> None:
        click.echo(f"{click.style(f'{name}:'.ljust(11), bold=True)} {value}")

    line("Run", run["id"])
    line("Script", run["script"])
    line("Command", " ".join(run.get("command") or []))
    line("Directory", run.get("cwd"))
    line("Status", _status(run["status"])
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="""\b
Examples:
  python analysis.py               # a script with `import recipe` at its top
  recipe run other.py -- --flag    # the same for a script without the import line
  recipe search graph.png          # which run made graph.png, from which inputs
  recipe show 1a2b3c --diff        # one run in full, with its uncommitted changes
  recipe export -o runs.json       # everything, as JSON
  recipe lineage graph.png         # where it came from, run by run
  recipe sweep train.py -p lr=0.01,0.1 -j 2   # many runs, none of them twice
  recipe gui                       # browse, compare and annotate in a web browser

The store is $RECIPE_HOME (default ~/.recipe); see config.example.ini for every option.""")
@click.version_option(__version__, "-V", "--version", prog_name="recipe")
def cli() -> None:
    """recipe: which run made this file, from which inputs, with which code.

    Add `import recipe` to a script (or run it with `recipe run`) and every file it
    reads or writes with numpy, pandas or matplotlib is recorded with its content hash,
    together with the git commit and diff, library versions and the run's outcome.
    """


@cli.command()
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
    store = _store()
    try:
        search = query.Search(term, algorithms=store.hash_algorithms(), regex=regex,
                              by_id=by_id)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    found = [run for run in store.summaries(search.needles()) if search.matches(run)]
    if as_json:
        _emit_json(store.records([run["id"] for run in found]) if found else [])
    elif found:
        _provenance(found, search.matches_file)
    else:
        messages.info(f"no run read or wrote anything matching {term!r}")
    if not found:
        raise NothingFound()
    return 0


@cli.command("runs")
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
    store = _store()
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
        _emit_json([records[run["id"]] for run in found if run["id"] in records])
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
              os.path.basename(run.get("script") or ""), *map(_cell, row[4:])]
             for run, row in zip(found, rows, strict=True)]
    titles = ["RUN", "STATUS", "STARTED", "SCRIPT", *params, *results]
    widths = [max(len(r[i]) for r in [titles, *shown]) for i in range(len(titles))]
    for line in [titles, *shown]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run as a JSON object.")
def latest(as_json: bool) -> int:
    """Show the newest run (exit status 1 when the store is empty)."""
    run = _store().latest()
    if run is None:
        messages.info("no runs recorded yet")
        raise NothingFound()
    _emit_json(run) if as_json else _show(run, diff=False)
    return 0


def _resolve(store: Store, prefix: str) -> str:
    try:
        return store.resolve(prefix)
    except UnknownRun as exc:
        raise click.UsageError(str(exc)) from None


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the run as a JSON object.")
@click.option("--diff", is_flag=True, help="Also print the uncommitted changes (git diff).")
def show(run_id: str, as_json: bool, diff: bool) -> int:
    """Show one run in full. ID is any unique prefix of at least 6 characters.

    \b
    Example:
      recipe show 1a2b3c --diff
    """
    store = _store()
    run = store.get(_resolve(store, run_id))
    _emit_json(run) if as_json else _show(run, diff=diff)
    return 0


@cli.command()
@click.argument("run_id", metavar="ID")
@click.option("-m", "--message", required=True, help="The note's text.")
def annotate(run_id: str, message: str) -> int:
    """Add a note to a run.

    \b
    Example:
      recipe annotate 1a2b3c -m "figure 3 of the paper"
    """
    store = _store()
    full_id = _resolve(store, run_id)
    store.annotate(full_id, {"kind": "note", "text": message, "time": now()})
    messages.info(f"noted on run {full_id[:8]}")
    return 0


@cli.command()
@click.argument("run_id", metavar="ID")
@click.argument("tags", nargs=-1, required=True)
def tag(run_id: str, tags: tuple[str, ...]) -> int:
    """Add tags to a run.

    \b
    Example:
      recipe tag 1a2b3c paper baseline
    """
    store = _store()
    full_id = _resolve(store, run_id)

    store.annotate(full_id, {"kind": "tags", "tags": list(tags)})
    messages.info(f"tagged run {full_id[:8]}: {' '.join(tags)}")
    return 0


@cli.command()
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
    store = _store()
    if run_ids:
        known = [row["id"] for row in store.summaries()]
        ids = list(dict.fromkeys(_resolve_among(store, prefix, known) for prefix in run_ids))
        runs = store.records(ids)
    else:
        runs = store.records()
    if fmt == "json":
        if output is None:
            _emit_json(runs)
        else:
            from .spool import atomic_write_json

            atomic_write_json(os.path.abspath(output), runs, indent=2)
            messages.info(f"exported {len(runs)} run(s) to {output}")
        return 0

    from . import exports

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


def _resolve_among(store: Store, prefix: str, ids: list[str]) -> str:
    try:
        return store.resolve(prefix, ids)
    except UnknownRun as exc:
        raise click.UsageError(str(exc)) from None


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Give a parameter a value (repeatable); see `recipe inspect SCRIPT`.")
@click.argument("script", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--tag", "tags", multiple=True, help="Tag the run (repeatable).")
@click.option("--label", help="Label the run (instead of its parameters' name=value list).")
def run(params: tuple[str, ...], tags: tuple[str, ...], label: str | None, script: str,
        args: tuple[str, ...]) -> int:
    """Run SCRIPT recorded, as if it began with `import recipe`.

    `-p NAME=VALUE` (or a bare NAME=VALUE before `--`) sets a parameter: a
    recipe.Param, a module-level literal assignment, or an argparse option. Values take
    the parameter's type (bools: true/false, yes/no, 1/0, on/off). Everything after `--`
    goes to the script as its arguments. The exit status is the script's.

    \b
    Example:
      recipe run train.py -p layers=64 -p lr=0.01 --tag baseline
      recipe run train.py layers=64 --label "wide net"
      recipe run analysis.py -- --input data.csv
    """
    from .runner import BadParameters, ScriptNotFound, run_script

    options = list(params)
    rest = list(args)
    if "--" in rest:
        cut = rest.index("--")
        before, rest = rest[:cut], rest[cut + 1:]
    else:
        before, rest = rest, []
    # Before `--` (click stops parsing options at SCRIPT): `-p NAME=VALUE` and bare
    # NAME=VALUE words are parameters; anything else goes to the script.
    script_args = []
    tags, label = list(tags), label
    words = iter(before)
    for word in words:
        if word in ("-p", "--param"):
            options.append(next(words, ""))
        elif word.startswith("--param="):
            options.append(word[len("--param="):])
        elif word == "--tag":
            tags.append(next(words, ""))
        elif word == "--label":
            label = next(words, "")
        elif _is_assignment(word):
            options.append(word)
        else:
            script_args.append(word)
    given = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"-p wants NAME=VALUE, not {option!r}")
        given[name.strip()] = value
    try:
        return run_script(script, script_args + rest, given, tags=tags, label=label)
    except (ScriptNotFound, BadParameters) as exc:
        raise click.UsageError(str(exc)) from None


@cli.command("sweep")
@click.argument("target", metavar="SCRIPT")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=V1,V2,...",
              help="Values to try for a parameter, comma-separated (repeatable).")
@click.option("--nominal", "nominal", multiple=True, metavar="NAME=VALUE",
              help="The value of a parameter when others vary (default: its default).")
@click.option("--grid", is_flag=True, help="Every combination, not one parameter at a time.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs at a time.")
@click.option("--executor", type=click.Choice(["process", "thread", "inline"]),
              default="process", show_default=True,
              help="process: a fresh interpreter per run; thread/inline: in this process.")
@click.option("--rerun", is_flag=True, help="Run everything, even what completed before.")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, writable=True),
              help="Also write the table (parameters, then outputs) to this CSV file.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON array.")
def sweep_command(target: str, params: tuple[str, ...], nominal: tuple[str, ...], grid: bool,
                  jobs: int, executor: str, rerun: bool, csv_file: str | None,
                  as_json: bool) -> int:
    """Run SCRIPT over parameter values; what completed before is not run again.

    Each -p parameter takes its default (or --nominal value) once, then each value
    given. By default one parameter varies at a time around the nominal point; --grid
    takes every combination. A point whose computation (the script's content and every
    parameter's value) already completed is served from the store, unless --rerun.
    SCRIPT may also be FILE.py:FUNCTION (its keyword defaults are its parameters).

    Prints a progress bar, then one row per run; exit status 1 if any run failed.
    `recipe runs --sweep ID` shows the table again later.

    \b
    Example:
      recipe sweep train.py -p lr=0.01,0.1 -p layers=32,64 -j 4
      recipe sweep train.py -p lr=0.01,0.1 -p layers=32,64 --grid --csv grid.csv
      recipe sweep model.py:simulate -p steps=10,100,1000 --nominal seed=1
    """
    from . import targets
    from .params import coerce
    from .sweeps import sweep

    store = _store()  # also applies RECIPE_QUIET
    try:
        chosen = targets.of(target)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    known = chosen.parameters

    def typed(option: str, text: str, *, many: bool) -> tuple[str, Any]:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.UsageError(f"{option} wants NAME=VALUE, not {text!r}")
        if name not in known:
            raise click.UsageError(f"unknown parameter {name!r} (the parameters of "
                                   f"{target}: {', '.join(known) or 'none'})")
        try:
            if many:
                return name, [coerce(word, known[name].type) for word in value.split(",")]
            return name, coerce(value, known[name].type)
        except ValueError as exc:
            raise click.UsageError(f"parameter {name!r}: {exc}") from None

    swept = dict(typed("-p", text, many=True) for text in params)
    fixed = dict(typed("--nominal", text, many=False) for text in nominal)
    if not swept:
        raise click.UsageError("give at least one -p NAME=V1,V2,...")
    bar = _ProgressBar()
    try:
        results = sweep(chosen.argv[0], swept, mode="grid" if grid else "independent",
                        nominal=fixed, jobs=jobs, executor=executor, rerun=rerun,
                        progress=bar.update,
                        own_modules=frozenset(name.partition(".")[0] for name in sys.modules))
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    finally:
        bar.close()
    if as_json:
        records = {r["id"]: r for r in store.records([o.run_id for o in results])}
        _emit_json([records[o.run_id] for o in results if o.run_id in records])
    else:
        _sweep_table(results, list(swept))
    if csv_file:
        import csv

        rows = results.rows(scalars_only=True)
        header = list(dict.fromkeys(name for row in rows for name in row))
        with open(csv_file, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    messages.info(f"{len(results)} run(s): {results.executed} executed, {results.cached} "
                  f"cached, {results.failed} failed in {duration(bar.elapsed())}; "
                  f"`recipe runs --sweep {results.sweep_id[:8]}` shows them again")
    return 1 if results.failed else 0


def _sweep_table(results: Any, swept: list[str]) -> None:
    from .execute import is_scalar, scalar

    outputs = list(dict.fromkeys(name for o in results for name, value in
                                 (o.outputs or {}).items() if is_scalar(value)))
    titles = ["RUN", "STATE", *swept, *outputs, *(["ERROR"] if results.failed else [])]
    shown = [[(o.run_id or "")[:8], o.state, *(_cell(o.key.get(name)) for name in swept),
              *(_cell(scalar((o.outputs or {}).get(name))) for name in outputs),
              *([_cell(o.error or "", 60)] if results.failed else [])] for o in results]
    widths = [max(len(r[i]) for r in [titles, *shown]) for i in range(len(titles))]
    for line in [titles, *shown]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


class _ProgressBar:
    """Runs done of all, with an estimate of the time left, on stderr: redrawn in place on
    a terminal, else one line at each tenth of the way."""

    WIDTH = 30

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self._started = self._clock()
        self._ran = 0  # runs that really ran (cached ones take no time)
        self._tty = sys.stderr.isatty()
        self._tenth = -1
        self._drawn = False

    def elapsed(self) -> float:
        return self._clock() - self._started

    def update(self, outcome: Any, done: int, total: int) -> None:
        if outcome.state != "cached":
            self._ran += 1
        left = ""
        if 0 < self._ran and done < total:
            rate = self.elapsed() / self._ran
            left = f", about {duration(rate * (total - done))} left"
        tenth = 10 * done // total
        filled = self.WIDTH * done // total
        line = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} runs"
                f" ({outcome.state} {_cell(recorder_label(outcome.key), 40)}){left}")
        if self._tty:
            click.echo("\r" + line.ljust(100)[:100], nl=False, err=True)
            self._drawn = True
        elif tenth != self._tenth:
            self._tenth = tenth
            click.echo(line, err=True)

    def close(self) -> None:
        if self._drawn:
            click.echo(err=True)


@cli.command("gui")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to serve on; another than this machine's loopback shows your "
                   "runs to the network.")
@click.option("--port", type=click.IntRange(0, 65535), default=8321, show_default=True,
              help="Port to serve on (0: any free port).")
@click.option("--no-browser", is_flag=True, help="Do not open a web browser.")
def gui(host: str, port: int, no_browser: bool) -> int:
    """Browse, search, compare and annotate runs in a web browser.

    Serves the viewer on http://127.0.0.1:8321/ (or --port) until Ctrl-C, and opens it
    in your browser. Every page has a JSON twin: add .json to its path.

    \b
    Example:
      recipe gui
      recipe gui --port 0 --no-browser      # any free port; the URL is printed
    """
    from werkzeug.serving import make_server

    settings = _store_settings()
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if not loopback:
        messages.warn(f"serving on {host}: anyone who can reach this address can read your "
                      "runs and annotate them")
    try:
        server = make_server(host, port, _app_for(settings, host, loopback), threaded=True)
    except OSError as exc:
        raise click.UsageError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.server_port}/"
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


def _app_for(settings: config.Config, host: str, loopback: bool) -> Any:
    """The app; on loopback it answers only Host headers that name loopback, so that a web
    page elsewhere cannot reach it through DNS rebinding."""
    from recipe_gui import create_app

    return create_app({"RECIPE_SETTINGS": settings,
                       "ALLOWED_HOSTS": {"127.0.0.1", "localhost", "::1"} if loopback
                       else None})


def _store_settings() -> config.Config:
    try:
        settings = config.load()
    except config.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    messages.set_quiet(settings.quiet)
    return settings


@cli.command("lineage")
@click.argument("term", metavar="PATH_OR_HASH")
@click.option("--up", "direction", flag_value="up", default=True,
              help="Where it came from: the runs that wrote it, what they read... (default)")
@click.option("--down", "direction", flag_value="down",
              help="What depends on it: the runs that read it, what they wrote...")
@click.option("--depth", type=click.IntRange(min=1), help="At most this many runs deep.")
@click.option("--json", "as_json", is_flag=True, help="Print the tree as JSON.")
@click.option("--dot", "as_dot", is_flag=True, help="Print Graphviz dot (`| dot -Tsvg`).")
def lineage_command(term: str, direction: str, depth: int | None, as_json: bool,
                    as_dot: bool) -> int:
    """Where a file came from (--up) or what was made from it (--down), across runs.

    PATH_OR_HASH is a file (matched by its content, so a renamed copy is found too), a
    recorded path, or a content hash (8+ hex digits). Exit status 1 when no run touched it.

    \b
    Example:
      recipe lineage results/graph.png
      recipe lineage data/raw.csv --down --depth 2
      recipe lineage results/graph.png --dot | dot -Tsvg > lineage.svg
    """
    from . import graph

    if as_json and as_dot:
        raise click.UsageError("--json and --dot exclude each other")
    try:
        tree = graph.lineage(_store(), term, direction, depth)
    except ValueError as exc:
        messages.info(str(exc))
        raise NothingFound() from None
    if as_json:
        _emit_json(tree)
    elif as_dot:
        click.echo(graph.to_dot(tree, direction), nl=False)
    else:
        for line in graph.to_text(tree, direction):
            click.echo(line)
    return 0


@cli.command("status")
@click.argument("paths", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
def status_command(paths: tuple[str, ...], as_json: bool) -> int:
    """Are these outputs still what their runs wrote, and still up to date?

    For each file: `ok`; `modified` or `missing` (it changed on disk since its run wrote
    it); `stale` (an input changed or is gone since, an input came from a run that is
    itself stale, or the script changed); `unknown` (no recorded run wrote it). Without
    PATHS: every output of the newest run of each script under this directory.
    Exit status 1 when anything is modified, missing or stale.

    \b
    Example:
      recipe status
      recipe status results/graph.png results/table.csv
    """
    from .graph import Checker, Graph, latest_outputs

    runs = Graph.from_store(_store())
    targets = [os.path.abspath(path) for path in paths] or latest_outputs(runs, os.getcwd())
    checker = Checker(runs)
    verdicts = [checker.check(path) for path in targets]
    if as_json:
        _emit_json(verdicts)
    elif not verdicts:
        messages.info("no recorded run of a script under this directory wrote anything")
    else:
        colours = {"ok": "green", "modified": "red", "missing": "red", "stale": "yellow"}
        width = max(len(os.path.relpath(v["path"])) for v in verdicts)
        for verdict in verdicts:
            click.echo(f"{click.style(verdict['state'].ljust(8), fg=colours.get(verdict['state']))}"
                       f"  {os.path.relpath(verdict['path']).ljust(width)}  {verdict['reason']}")
    bad = [v for v in verdicts if v["state"] in ("modified", "missing", "stale")]
    if bad:
        raise NothingFound()
    return 0


@cli.command("diff")
@click.argument("first", metavar="RUN_A")
@click.argument("second", metavar="RUN_B")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff_command(first: str, second: str, as_json: bool) -> int:
    """What differs between two runs: parameters, results, files, libraries, Python, git
    commit, and the code (the difference between their recorded uncommitted changes).

    \b
    Example:
      recipe diff 1a2b3c 4d5e6f
    """
    store = _store()
    records = [store.get(_resolve(store, prefix)) for prefix in (first, second)]
    sections = query.compare(records)
    code = query.code_difference(*records)
    if as_json:
        _emit_json({"runs": [r["id"] for r in records],
                    "sections": [{"title": s["title"],
                                  "rows": [r for r in s["rows"] if r["differs"]]}
                                 for s in sections],
                    "code": code})
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
            before, after = (_cell(value, 60) or "-" for value in row["values"])
            click.echo(f"  {row['name']}: {before} -> {after}")
    click.echo("code: " + ("the same" if not code else "differs"))
    for line in code.splitlines():
        click.echo("  " + line)
    return 0


def _is_assignment(word: str) -> bool:
    name, sep, _value = word.partition("=")
    return bool(sep) and name.isidentifier()


@cli.command("inspect")
@click.argument("script", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print parameters and outputs as JSON.")
def inspect_script(script: str, as_json: bool) -> int:
    """List the parameters and outputs SCRIPT declares, without running it.

    Parameters are its recipe.Param(...) calls; a script without any has its module-level
    literal assignments (`layers = 32`), or else its argparse options.

    \b
    Example:
      recipe inspect train.py
      recipe inspect train.py --json
    """
    from .params import DiscoveryError, discover

    if not os.path.isfile(script):
        raise click.UsageError(f"no script {script!r}")
    try:
        found = discover(script)
    except DiscoveryError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        _emit_json({"parameters": [p.to_json() for p in found.parameters],
                    "outputs": [{"name": o.name, "line": o.line} for o in found.outputs]})
        return 0
    rows = [(p.name, "required" if p.required else repr(p.default), p.type,
             f"line {p.line} ({p.source})") for p in found.parameters]
    _aligned("Parameters", ("NAME", "DEFAULT", "TYPE", "WHERE"), rows)
    _aligned("Outputs", ("NAME", "WHERE"), [(o.name, f"line {o.line}") for o in found.outputs])
    return 0


def _aligned(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    if not rows:
        click.echo(f"{title}: none")
        return
    click.echo(f"{title}:")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@cli.group()
def db() -> None:
    """Check or repair the store."""


@db.command()
def check() -> int:
    """Verify every store file; exit status 1 if anything is damaged."""
    store = _store()
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
    store = _store()
    report = store.repair()
    for line in report:
        messages.warn(line)  # store warnings are shown even when quiet
    click.echo("store repaired" if report else "nothing to repair")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status; errors are one line on stderr, no traceback."""
    try:
        result = cli.main(args=argv, prog_name="recipe", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "recipe"
        _error(f"{where}: {exc.format_message()} (see '{where} --help')")
        return 2
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except click.exceptions.Abort:
        _error("aborted")
        return 130
    except NothingFound:
        return 1
    except StoreError as exc:
        _error(str(exc))
        return exc.exit_code
    except BrokenPipeError:
        # `recipe export | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return 0
    return result if isinstance(result, int) else 0


def _error(text: str) -> None:
    click.echo(f"recipe: error: {text}", err=True)

