"""The only place recipe writes to stderr: informational lines (hidden by quiet) and warnings."""

from __future__ import annotations

import sys

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def info(text: str) -> None:
    """An informational line; RECIPE_QUIET hides it."""
    if not _quiet:
        _write(f"recipe: {text}")


def warn(text: str) -> None:
    """A warning line; always shown, quiet or not."""
    _write(f"recipe: warning: {text}")


def _write(line: str) -> None:
    try:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass  # stderr closed or replaced by something odd: nothing better to do
