"""The `recipe` command group (click): every command, and how its errors are said."""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..store import StoreError
from . import finding, lineage, recording, shell, upkeep
from .output import NothingFound


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             invoke_without_command=True, epilog="""\b
Examples:
  python analysis.py               # a script with `import recipe` at its top
  recipe run other.py -- --flag    # the same for a script without the import line
  recipe search graph.png          # which run made graph.png, from which inputs
  recipe show 1a2b3c --diff        # one run in full, with its uncommitted changes
  recipe export -o runs.json       # everything, as JSON
  recipe lineage graph.png         # where it came from, run by run
  recipe runs --since 3d --where 'score>0.9'  # runs by time, parameter or result
  recipe sweep train.py -p lr=0.01,0.1 -j 2   # many runs, none of them twice
  recipe run analysis.ipynb -p year=2020      # a notebook in a Jupyter kernel, recorded
  recipe gui                       # browse, compare and annotate in a web browser
  recipe config --show-origin      # the settings in force, and where each came from

The store is $RECIPE_HOME (default ~/.recipe); see config.example.ini for every option.
Colour only on a terminal, never with NO_COLOR set. Tab completion: recipe completion bash.""")
@click.version_option(__version__, "-V", "--version", prog_name="recipe")
@click.option("--color/--no-color", "colour", default=None,
              help="Colour the output even when it is not a terminal, or never.")
@click.pass_context
def cli(ctx: click.Context, colour: bool | None) -> None:
    """recipe: which run made this file, from which inputs, with which code.

    Add `import recipe` to a script (or run it with `recipe run`) and every file it
    reads or writes is recorded with its content hash, together with the git commit and
    diff, library versions, parameters and the run's outcome.
    """
    if colour is None and os.environ.get("NO_COLOR"):  # https://no-color.org
        colour = False
    ctx.color = colour  # None: click colours a terminal only
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


for _command in (*finding.COMMANDS, *recording.COMMANDS, *lineage.COMMANDS, *upkeep.COMMANDS,
                 *shell.COMMANDS):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` asks for and return its exit status; errors are one line on
    stderr, no traceback."""
    try:
        result = cli.main(args=argv, prog_name="recipe", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "recipe"
        command = where.partition(" ")[2]  # "recipe" is said once, by print_error
        print_error(f"{command + ': ' if command else ''}{exc.format_message()} "
                    f"(see '{where} --help')")
        return 2
    except click.ClickException as exc:
        print_error(exc.format_message())
        return exc.exit_code
    except click.exceptions.Abort:
        print_error("aborted")
        return 130
    except NothingFound:
        return 1
    except StoreError as exc:
        print_error(str(exc))
        return exc.exit_code
    except BrokenPipeError:
        # `recipe export | head`: the reader left; not an error of ours.
        sys.stderr.close()
        return 0
    return result if isinstance(result, int) else 0


def print_error(text: str) -> None:
    click.echo(f"recipe: error: {text}", err=True)
