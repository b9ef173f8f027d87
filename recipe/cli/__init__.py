"""The `recipe` command line: thin commands over the store and query layers, one module
per group (finding, recording, lineage, upkeep, shell), their shared output in `output`,
the click group in `app`.

`main` runs a plain `recipe run SCRIPT` before click is even imported (`run_words`): the
script's start-up should cost what `import recipe` costs, not a command line's too."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns the exit status; errors are one line on stderr, no traceback."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["run"]:
        from .run_words import run_plain_script

        status = run_plain_script(args[1:])
        if status is not None:
            return status
    from .app import main as click_main

    return click_main(args)
