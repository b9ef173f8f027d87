"""The command line about itself: the effective settings (config) and shell completion."""

from __future__ import annotations

import click

from .. import config as configuration
from .output import emit_json

SHELLS = ("bash", "zsh", "fish")


@click.command("config")
@click.option("--show-origin", is_flag=True,
              help="Also say where each value came from: default, a file, or a variable.")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def config_command(show_origin: bool, as_json: bool) -> int:
    """Show the effective settings: every option of config.example.ini with the value in
    force here, after $RECIPE_HOME/config.ini, ./recipe.ini, $RECIPE_CONFIG and the
    RECIPE_<SECTION>_<KEY> variables. Exit status 2 if a value is not usable.

    \b
    Example:
      recipe config
      recipe config --show-origin
      RECIPE_HASH_ALGORITHM=sha256 recipe config --show-origin | grep hash
    """
    try:
        (home, home_origin), options = configuration.effective()
    except configuration.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        emit_json({"home": {"value": home, "origin": home_origin},
                   "options": [{"section": section, "key": key, "value": value,
                                "origin": origin} for section, key, value, origin in options]})
    else:
        rows = [("home", home, home_origin)] + [(f"{section}.{key}", value, origin)
                                                for section, key, value, origin in options]
        width = max(len(name) for name, _value, _origin in rows)
        if show_origin:
            origins = max(len(origin) for _name, _value, origin in rows)
            for name, value, origin in rows:
                click.echo(f"{origin.ljust(origins)}  {name.ljust(width)} = {value}".rstrip())
        else:
            for name, value, _origin in rows:
                click.echo(f"{name.ljust(width)} = {value}".rstrip())
    try:
        configuration.load()
    except configuration.ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    return 0


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> int:
    """Print the script that makes SHELL complete recipe's commands, options and run ids.

    \b
    Example:
      eval "$(recipe completion bash)"      # in ~/.bashrc
      eval "$(recipe completion zsh)"       # in ~/.zshrc
      recipe completion fish > ~/.config/fish/completions/recipe.fish
    """
    from click.shell_completion import get_completion_class

    root = click.get_current_context().find_root().command
    completer = get_completion_class(shell)(root, {}, "recipe", "_RECIPE_COMPLETE")
    click.echo(completer.source())
    return 0


COMMANDS = [config_command, completion]
