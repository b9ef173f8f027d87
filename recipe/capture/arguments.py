"""What a script received on its command line: the values its argparse or click parser
returned, handed to the run as its parameters (`recipe run s.py -- --window 5` and
`python s.py --window 5` alike), never the defaults a reading of the source would give.

The parsers are wrapped, not changed: the wrapper calls the original and only looks at
what it returned; an error or `--help` passes through untouched and records nothing. Only
a parse of the script's own command line counts (no `args`, or `sys.argv[1:]`): a parser
fed other strings (a configuration, a test) says nothing about the run.
"""

from __future__ import annotations

import contextvars
import functools
import os
import sys

from .. import messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any

PARSERS = ("argparse", "click")  # import names whose parsing `patch` captures

_sink: Callable[[dict[str, Any]], None] | None = None
# Set while the script's own command line is parsed (argparse) or run (click's main):
# nested parses (subparsers, intermixed arguments, click subcommands) belong to it.
_parsing: contextvars.ContextVar[bool] = contextvars.ContextVar("recipe_parsing",
                                                                  default=False)
_SKIPPED = object()  # a value that is not a parameter (a function, an open file)


def set_sink(sink: Callable[[dict[str, Any]], None]) -> None:
    """Where the parsed values go: the recorder's run of the calling thread."""
    global _sink
    _sink = sink


def patch(module: ModuleType) -> None:
    """The import hook of each of PARSERS: wrap its parsing functions, once."""
    if module.__name__ == "argparse":
        for name in ("parse_known_args", "parse_known_intermixed_args"):
            _wrap(module.ArgumentParser, name, _argparse_wrapper)
    elif module.__name__ == "click":
        command = module.Command
        # Where click defines them (8.2 merged BaseCommand into Command).
        for name in ("main", "make_context"):
            owner = next((cls for cls in command.__mro__ if name in vars(cls)), None)
            if owner is not None:
                _wrap(owner, name, _click_main if name == "main" else _click_context)


def _wrap(owner: type, name: str, make: Callable[[Any], Any]) -> None:
    original = vars(owner).get(name)
    if original is None or getattr(original, "__recipe_original__", None) is not None:
        return  # missing in this version, or wrapped already
    wrapper = functools.wraps(original)(make(original))  # keeps inspect.signature
    wrapper.__recipe_original__ = original
    setattr(owner, name, wrapper)


def _is_command_line(args: Any) -> bool:
    """Whether a parser's `args` is the script's own command line (compared only when it
    is a list or tuple: reading an iterator would take the parser's arguments away)."""
    if args is None:
        return True
    return isinstance(args, (list, tuple)) and list(args) == sys.argv[1:]


def _parsing_the_command_line(original: Callable[..., Any],
                               then: Callable[[Any], None] | None = None) -> Callable[..., Any]:
    """`original` (a parse, or click's main that parses and runs) marked as the parse of
    the command line when it is given no `args` or sys.argv[1:]; `then` sees its result."""
    def parse(self: Any, *args: Any, **kwargs: Any) -> Any:
        given = args[0] if args else kwargs.get("args")
        if _parsing.get() or not _is_command_line(given):
            return original(self, *args, **kwargs)
        token = _parsing.set(True)
        try:
            result = original(self, *args, **kwargs)
        finally:
            _parsing.reset(token)
        if then is not None:
            then(result)
        return result

    return parse


def _argparse_wrapper(original: Callable[..., Any]) -> Callable[..., Any]:
    return _parsing_the_command_line(original, lambda result: _report(result[0]))


def _click_main(original: Callable[..., Any]) -> Callable[..., Any]:
    return _parsing_the_command_line(original)  # the contexts it makes report themselves


def _click_context(original: Callable[..., Any]) -> Callable[..., Any]:
    def make_context(self: Any, *args: Any, **kwargs: Any) -> Any:
        context = original(self, *args, **kwargs)
        if _parsing.get():  # the command line's command, or one of its subcommands
            _report(context.params)
        return context

    return make_context


def _report(parsed: Any) -> None:
    if _sink is None:
        return
    try:
        values = {name: _plain(value) for name, value in dict(vars(parsed)
                  if not isinstance(parsed, dict) else parsed).items()
                  if isinstance(name, str) and not name.startswith("_")}
        values = {name: value for name, value in values.items() if value is not _SKIPPED}
        if values:
            _sink(values)
    except Exception as exc:  # never-raise guard: the script gets its values regardless
        messages.warn(f"could not record the command-line arguments "
                      f"({type(exc).__name__}: {exc})")


def _plain(value: Any) -> Any:
    """A parameter value JSON can hold: scalars as they are, paths as strings, lists of
    those; anything else (a function from set_defaults, an open file) is _SKIPPED."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        return path if isinstance(path, str) else os.fsdecode(path)
    if isinstance(value, (list, tuple)):
        items = [_plain(item) for item in value]
        return _SKIPPED if any(item is _SKIPPED for item in items) else items
    return _SKIPPED
