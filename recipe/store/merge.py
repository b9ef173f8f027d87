"""`python -m recipe.store.merge RUN_ID`: bring finished runs from the spool into the store.

Started detached by a recorded script at its end (record/delivery.py), so that the script
neither imports TinyDB nor waits for the store lock; it then refreshes the cache of
installed distributions if a `pip install` made it stale. Its stdio is /dev/null: a
warning goes to `$RECIPE_HOME/merge.log`, which the next recorded run or command shows.
"""

from __future__ import annotations

import os
import sys

from .. import config, messages


def merge_into_store(settings: config.Config, run_id: str) -> bool:
    """Merge every finished run waiting in the spool; on failure one warning line that
    names `run_id`, whose record stays in the spool until a later merge or repair."""
    try:
        from . import open_store

        open_store(settings).merge_pending(timeout=30.0)
        return True
    except Exception as exc:  # never-raise guard: the script's end must stay normal
        reason = str(exc) or type(exc).__name__
        messages.warn(f"run {run_id[:8]} kept aside in the spool of {settings.home} ({reason}); "
                      "`recipe db repair` or the next run brings it into the store")
        return False


def main(argv: list[str]) -> int:
    try:
        settings = config.load()
    except config.ConfigError:
        settings = config.defaults()
    messages.set_quiet(True)  # nobody reads its stderr: only warnings are kept, in the log
    if argv:  # the script wrote its run's end without waiting for the disk: now it is durable
        from ..record.journal import Journal

        Journal(settings.home, argv[0]).sync()
    import io

    from ..record.delivery import release_merge

    said, sys.stderr = sys.stderr, io.StringIO()
    try:
        run_id = argv[0] if argv else "?"
        merged = merge_into_store(settings, run_id)
        release_merge(settings.home)
        if merged:  # the runs that ended while the claim was there left them to this merge
            merge_into_store(settings, run_id)
    finally:
        said, sys.stderr = sys.stderr.getvalue(), said
    if said:
        _keep_for_later(settings.home, said)
    try:  # after a `pip install`, the scan the script was spared (environment.py)
        from ..record.environment import build_distributions_cache

        build_distributions_cache(os.path.join(settings.home, "cache"))
    except Exception:  # never-raise guard: a cache only saves time
        pass
    return 0


def _keep_for_later(home: str, text: str) -> None:
    """Append to the log that the next recorded run or command shows."""
    from ..record.delivery import BACKGROUND_LOG

    try:
        descriptor = os.open(os.path.join(home, BACKGROUND_LOG),
                             os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(descriptor, text.encode("utf-8", "replace"))
        finally:
            os.close(descriptor)
    except OSError:
        pass  # a store that cannot take a log line: its run waits in the spool all the same


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
