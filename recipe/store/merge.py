"""`python -m recipe.store.merge RUN_ID`: bring finished runs from the spool into the store.

Started detached by a recorded script at its end (see Run._store), so that the script
neither imports TinyDB nor waits for the store lock; it then refreshes the cache of
installed distributions if a `pip install` made it stale.
"""

from __future__ import annotations

import os
import sys

from .. import config, messages


def merge_into_store(settings: config.Config, run_id: str) -> None:
    """Merge every finished run waiting in the spool; on failure one warning line that
    names `run_id`, whose record stays in the spool until a later merge or repair."""
    try:
        from . import open_store

        open_store(settings).merge_pending(timeout=30.0)
    except Exception as exc:  # never-raise guard: the script's end must stay normal
        reason = str(exc) or type(exc).__name__
        messages.warn(f"run {run_id[:8]} kept aside in the spool of {settings.home} ({reason}); "
                      "`recipe db repair` or the next run brings it into the store")


def main(argv: list[str]) -> int:
    try:
        settings = config.load()
    except config.ConfigError:
        settings = config.defaults()
    messages.set_quiet(settings.quiet)
    merge_into_store(settings, argv[0] if argv else "?")
    # Nothing more to say: let go of the script's stderr, which a caller that captures it
    # is waiting on to close, before the slow part.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:  # after a `pip install`, the scan the script was spared (environment.py)
        from ..record.environment import build_distributions_cache

        build_distributions_cache(os.path.join(settings.home, "cache"))
    except Exception:  # never-raise guard: a cache only saves time
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
