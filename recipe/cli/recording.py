"""Running things recorded: run, sweep, and inspect (a script's parameters)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .. import messages
from ..display import duration
from ..record.fields import label as recorder_label
from .output import aligned, cell, emit_json, open_store_or_fail, table
from .run_words import RunWords


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Give a parameter a value (repeatable); see `recipe inspect SCRIPT`.")
@click.argument("script", type=click.Path(dir_okay=False))
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.option("--tag", "tags", multiple=True, help="Tag the run (repeatable).")
@click.option("--label", help="Label the run (instead of its parameters' name=value list).")
@click.option("--json", "as_json", is_flag=True,
              help="After the script, print its run's record as JSON on standard output.")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="A notebook's executed copy (default: NAME.executed.ipynb beside it).")
@click.option("--kernel", metavar="NAME",
              help="A notebook's Jupyter kernel (default: the one it names).")
def run(params: tuple[str, ...], tags: tuple[str, ...], label: str | None, as_json: bool,
        output: str | None, kernel: str | None, script: str, args: tuple[str, ...]) -> int:
    """Run SCRIPT recorded, as if it began with `import recipe`.

    `-p NAME=VALUE` (or a bare NAME=VALUE before `--`) sets a parameter: a
    recipe.Param, a module-level literal assignment, or an argparse option. Values take
    the parameter's type (bools: true/false, yes/no, 1/0, on/off). Everything after `--`
    goes to the script as its arguments; what its argparse or click parser returns is
    recorded as its parameters. The exit status is the script's.

    A notebook (NAME.ipynb) is executed in a Jupyter kernel: its parameters are the
    cell tagged `parameters` (papermill's convention), the executed copy with its
    outputs is kept (-o), and a cell that raises fails the run (exit status 1).

    \b
    Example:
      recipe run train.py -p layers=64 -p lr=0.01 --tag baseline
      recipe run train.py layers=64 --label "wide net"
      recipe run analysis.py -- --input data.csv --window 5
      recipe run train.py --json -p layers=64 > run.json   # a script that prints nothing
      recipe run analysis.ipynb -p year=2020 -o results/analysis-2020.ipynb
    """
    from ..execute.runner import BadParameters, ScriptNotFound, run_script

    notebook = script.endswith(".ipynb")
    words = RunWords(list(params), list(tags), label, as_json, output, kernel)
    words.take_after_script(list(args), notebook=notebook)
    try:
        given = words.given()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if notebook:
        return _run_notebook(script, words.script_args, given, output=words.output,
                             kernel=words.kernel, tags=words.tags, label=words.label)
    if words.output or words.kernel:
        raise click.UsageError("-o/--output and --kernel are for notebooks (NAME.ipynb); "
                               "give a script's own options after `--`")
    try:
        status = run_script(script, words.script_args, given, tags=words.tags,
                            label=words.label)
    except (ScriptNotFound, BadParameters) as exc:
        raise click.UsageError(str(exc)) from None
    if words.as_json:
        from ..record import recorder

        finished = recorder.current()
        if finished is not None:
            sys.stdout.flush()  # the script's own output first
            store = open_store_or_fail(create=True)
            emit_json(store.get(finished.id))
    return status


def _run_notebook(script: str, args: list[str], given: dict[str, str], **options: Any) -> int:
    from ..execute.notebook import NotebookError, run_notebook
    from ..execute.runner import BadParameters, ScriptNotFound

    if args:
        raise click.UsageError(f"a notebook takes no arguments, only -p NAME=VALUE: {args[0]!r}")
    try:
        return run_notebook(script, given, **options).exit_code
    except (ScriptNotFound, BadParameters, NotebookError) as exc:
        raise click.UsageError(str(exc)) from None


@click.command("sweep")
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
    SCRIPT may also be FILE.py:FUNCTION (its keyword defaults are its parameters), or a
    notebook (NAME.ipynb: the literals of its cell tagged `parameters`).

    Prints a progress bar, then one row per run; exit status 1 if any run failed.
    `recipe runs --sweep ID` shows the table again later.

    \b
    Example:
      recipe sweep train.py -p lr=0.01,0.1 -p layers=32,64 -j 4
      recipe sweep train.py -p lr=0.01,0.1 -p layers=32,64 --grid --csv grid.csv
      recipe sweep model.py:simulate -p steps=10,100,1000 --nominal seed=1
      recipe sweep analysis.ipynb -p year=2019,2020,2021
    """
    from ..execute import targets
    from ..execute.params import coerce
    from ..execute.sweeps import sweep

    store = open_store_or_fail(create=True)  # also applies RECIPE_QUIET
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
        emit_json([records[o.run_id] for o in results if o.run_id in records])
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
    from ..execute.results import is_scalar, scalar

    outputs = list(dict.fromkeys(name for o in results for name, value in
                                 (o.outputs or {}).items() if is_scalar(value)))
    titles = ["RUN", "STATE", *swept, *outputs, *(["ERROR"] if results.failed else [])]
    shown = [[(o.run_id or "")[:8], o.state,
              *(cell(o.key.get(name), rounded=True) for name in swept),
              *(cell(scalar((o.outputs or {}).get(name)), rounded=True) for name in outputs),
              *([cell(o.error or "", 60)] if results.failed else [])] for o in results]
    table(titles, shown)


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
                f" ({outcome.state} {cell(recorder_label(outcome.key), 40)}){left}")
        if self._tty:
            click.echo("\r" + line.ljust(100)[:100], nl=False, err=True)
            self._drawn = True
        elif tenth != self._tenth:
            self._tenth = tenth
            click.echo(line, err=True)

    def close(self) -> None:
        if self._drawn:
            click.echo(err=True)


@click.command("inspect")
@click.argument("script", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print parameters and outputs as JSON.")
def inspect_script(script: str, as_json: bool) -> int:
    """List the parameters and outputs SCRIPT declares, without running it.

    Parameters are its recipe.Param(...) calls; a script without any has its module-level
    literal assignments (`layers = 32`), or else its argparse options. A notebook's are
    the literal assignments of its cell tagged `parameters` (papermill's convention).

    \b
    Example:
      recipe inspect train.py
      recipe inspect train.py --json
      recipe inspect analysis.ipynb
    """
    from ..execute.params import DiscoveryError, discover

    if not os.path.isfile(script):
        raise click.UsageError(f"no script {script!r}")
    where, cell = "", None
    try:
        if script.endswith(".ipynb"):
            from ..execute import notebook

            document = notebook.read(script)
            found = notebook.discover(document, script)
            cell = notebook.parameters_cell(document)
            where = "" if cell is None else f"cell {cell}, "
        else:
            found = discover(script)
    except DiscoveryError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        emit_json({"parameters": [p.to_json() for p in found.parameters],
                    "outputs": [{"name": o.name, "line": o.line} for o in found.outputs],
                    **({"parameters_cell": cell} if script.endswith(".ipynb") else {})})
        return 0
    rows = [(p.name, "required" if p.required else repr(p.default), p.type,
             f"{where}line {p.line} ({p.source})") for p in found.parameters]
    aligned("Parameters", ("NAME", "DEFAULT", "TYPE", "WHERE"), rows)
    aligned("Outputs", ("NAME", "WHERE"), [(o.name, f"line {o.line}") for o in found.outputs])
    return 0


COMMANDS = [run, sweep_command, inspect_script]
