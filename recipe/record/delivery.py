"""Where a finished run's record goes: from its journal in the spool into the store.

A plain script must not pay for the store at its end (importing TinyDB costs ~20 ms, and
the store lock may be busy), so a detached `python -m recipe.store.merge` does it.
"""

from __future__ import annotations

import os
import sys

from .. import messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .recorder import Run


def deliver(run: Run, saved: bool) -> None:
        """Bring the finished record from the spool into the TinyDB store.

        In a process that has not imported TinyDB (a plain script), a detached
        `python -m recipe.store.merge` does it: importing TinyDB costs ~20 ms, two thirds of the
        start-up budget, and the script need not wait for the store lock. The merger
        inherits stderr, so a store problem still reaches the user as one warning line."""
        if not saved:
            messages.warn(f"could not save run {run.id[:8]} under {run.config.home}: "
                          "the disk is full or not writable")
            return
        if not run.store_at_end:
            return
        messages.info(f"recorded run {run.id[:8]} ({run.record['status']})")
        if "tinydb" not in sys.modules and _spawn_merger(run.id):
            return
        from ..store.merge import merge_into_store

        merge_into_store(run.config, run.id)


def child_environment() -> dict[str, str]:
    """os.environ for a `python -m recipe.<module>` child: this recipe first on its path,
    however this process found it (installed, editable, or beside the script)."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


def _spawn_merger(run_id: str) -> bool:
    """Start `python -m recipe.store.merge RUN_ID` detached; False if it cannot be started."""
    if not sys.executable:
        return False
    env = child_environment()
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            os.posix_spawn(sys.executable,
                           [sys.executable, "-m", "recipe.store.merge", run_id], env,
                           file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                         (os.POSIX_SPAWN_DUP2, devnull, 1)],
                           setsid=True)  # its own session: a Ctrl-C meant for us spares it
        finally:
            os.close(devnull)
    except (OSError, AttributeError):  # AttributeError: no posix_spawn on this platform
        return False
    return True
