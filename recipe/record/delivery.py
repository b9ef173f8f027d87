"""Where a finished run's record goes: from its journal in the spool into the store.

A plain script must not pay for the store at its end (importing TinyDB costs ~20 ms, and
the store lock may be busy), so a detached `python -m recipe.store.merge` does it. That
process holds nothing of the script's: stdin, stdout and stderr are /dev/null, every
other inheritable descriptor is closed, it has a session of its own; what it has to say
goes to `$RECIPE_HOME/merge.log`, which the next recorded run or command shows once.
"""

from __future__ import annotations

import os
import sys

from .. import messages

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .recorder import Run


def deliver(run: Run, saved: bool) -> None:
    """Bring the finished record from the spool into the store.

    In a process that has not imported TinyDB (a plain script), a detached
    `python -m recipe.store.merge` does it: importing TinyDB costs ~20 ms, and the script
    need not wait for the store lock. A caller that captures the script's output must not
    wait for it either, so its warnings wait in the log that `show_background_warnings`
    prints. With the embedded store, that merger starts only once a batch of runs waits
    (`_batch_is_due`): until then the run waits in the spool, where every reader sees it
    and merges it first."""
    if not saved:
        messages.warn(f"could not save run {run.id[:8]} under {run.config.home}: "
                      "the disk is full or not writable")
        return
    if not run.store_at_end:
        run.journal.sync()
        return
    messages.info(f"recorded run {run.id[:8]} ({run.record['status']})")
    if run.journal.aside:
        run.journal.sync()  # it waits there until the store can be written
        return
    show_background_warnings(run.config.home)
    if "tinydb" not in sys.modules:
        if not run.config.store_url and not _batch_is_due(run.config):
            return  # it waits in the spool with the others, for the next merge
        if not claim_merge(run.config.home):
            return  # a merger is under way: it takes this run too before it ends
        if _spawn_merger(run.id):
            return  # the merger syncs the journal before anything else
        release_merge(run.config.home)
    from ..store.merge import merge_into_store

    run.journal.sync()
    merge_into_store(run.config, run.id)


def child_environment() -> dict[str, str]:
    """os.environ for a `python -m recipe.<module>` child: this recipe first on its path,
    however this process found it (installed, editable, or beside the script)."""
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    return env


# What detached merges had to say (a busy or damaged store), until someone shows it.
BACKGROUND_LOG = "merge.log"


def show_background_warnings(home: str) -> None:
    """Print, once, the warnings detached merges left in `$RECIPE_HOME/merge.log`: the
    log is claimed by renaming it, so two processes never both show it."""
    path = os.path.join(home, BACKGROUND_LOG)
    claimed = f"{path}.{os.getpid()}.shown"
    try:
        os.rename(path, claimed)
    except OSError:
        return  # none (the usual case: one failed rename), or not ours to take
    try:
        with open(claimed, encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
        os.unlink(claimed)
    except OSError:
        return
    for line in filter(None, lines):
        messages.warn(line.removeprefix("recipe: warning: "))


# A detached merger is a whole interpreter importing TinyDB and rewriting the store's head:
# ~40 ms of CPU, more than all the rest of recording a small script (docs/performance.md,
# item 13). With the embedded store every reader merges the spool before it answers and
# sees the runs still in it, so a plain script's run need not be merged at once: one
# merger starts when `[store] merge_batch` finished runs are in the spool, or the oldest
# run has waited this long (a server store's runs are sent at once: other machines read it).
MERGE_AFTER_SECONDS = 600.0

# The claim a starting merger leaves in the spool: while it is there, ending runs leave
# their records to that merger instead of starting one each (8 scripts writing at once
# started a merger at nearly every run's end). Older than this, its merger is taken for
# dead (killed; it waits at most 30 s for the store's lock).
MERGER_CLAIM = ".merger"
MERGER_CLAIM_SECONDS = 60.0


def _batch_is_due(settings: Any) -> bool:
    """Whether the spool holds a batch worth a merger: `[store] merge_batch` finished
    runs, or a run that has waited MERGE_AFTER_SECONDS. Records are read only once the
    spool holds that many runs, running or not, and no merger is at work (it takes this
    run too): a script's end usually only lists the spool."""
    import time

    from .journal import SPOOL_DIR

    if settings.merge_batch <= 1:
        return True
    directory = os.path.join(settings.home, SPOOL_DIR)
    try:
        records = [entry for entry in os.scandir(directory)
                   if entry.name.endswith(".json") and not entry.name.startswith(".")]
    except OSError:
        return True
    if len(records) >= settings.merge_batch:
        if _merger_at_work(settings.home):
            return False  # it takes this run too before it ends: no records to read
        if _finished(settings.home, records) >= settings.merge_batch:
            return True
    oldest = time.time() - MERGE_AFTER_SECONDS
    for entry in records:
        try:
            if entry.stat().st_mtime < oldest:
                return True
        except OSError:
            pass  # merged meanwhile
    return False


def _finished(home: str, records: list[os.DirEntry]) -> int:
    """How many of these spooled records are of runs that ended (a merge takes those)."""
    from .journal import read_record

    count = 0
    for entry in records:
        try:
            record = read_record(home, entry.name[:-len(".json")])
        except (OSError, ValueError):
            continue  # merged meanwhile, or unreadable (`db check` reports it)
        if record.get("status") != "running":
            count += 1
    return count


def _claim_path(home: str) -> str:
    from .journal import SPOOL_DIR

    return os.path.join(home, SPOOL_DIR, MERGER_CLAIM)


def _held_by_live_merger(claim: str) -> bool:
    """Whether the claim at `claim` is younger than a merger can live; FileNotFoundError
    if there is none."""
    import time

    return os.stat(claim).st_mtime > time.time() - MERGER_CLAIM_SECONDS


def _merger_at_work(home: str) -> bool:
    try:
        return _held_by_live_merger(_claim_path(home))
    except OSError:
        return False


def claim_merge(home: str) -> bool:
    """Leave the merger's claim in the spool; False if a live merger holds it already."""
    path = _claim_path(home)
    for _ in range(2):
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            return True
        except FileExistsError:
            try:
                if _held_by_live_merger(path):
                    return False
                os.unlink(path)  # its merger died: claim it anew
            except FileNotFoundError:
                pass  # released meanwhile: try again
        except OSError:
            return True  # a spool that cannot take the claim: merge all the same
    return False


def release_merge(home: str) -> None:
    """Remove the claim: from now on an ending run starts a merger of its own when due."""
    try:
        os.unlink(_claim_path(home))
    except OSError:
        pass


def inheritable_descriptors() -> list[int]:
    """This process's descriptors above stderr that a spawned program would inherit (a
    pipe the script's caller passed it, say): what recipe starts must not keep them open."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return []
    found = []
    for name in names:
        descriptor = int(name)
        try:
            if descriptor > 2 and os.get_inheritable(descriptor):
                found.append(descriptor)
        except OSError:
            pass  # the listing's own descriptor, closed by now
    return found


def spawn_actions(stdin: int, stdout: int, stderr: int,
                  inherited: list[int] | None = None) -> list[tuple[int, ...]]:
    """posix_spawn's file actions for a program recipe starts: these three descriptors as
    its stdio, and none of the `inherited` ones (default: `inheritable_descriptors()`,
    which a caller starting several programs reads once)."""
    if inherited is None:
        inherited = inheritable_descriptors()
    stdio = (stdin, stdout, stderr)
    return [*((os.POSIX_SPAWN_DUP2, descriptor, target)
              for target, descriptor in enumerate(stdio)),
            *((os.POSIX_SPAWN_CLOSE, descriptor) for descriptor in inherited
              if descriptor not in stdio)]


def _spawn_merger(run_id: str) -> bool:
    """Start `python -m recipe.store.merge RUN_ID` detached, holding none of this
    process's descriptors; False if it cannot be started."""
    if not sys.executable:
        return False
    env = child_environment()
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        try:
            os.posix_spawn(sys.executable,
                           [sys.executable, "-m", "recipe.store.merge", run_id], env,
                           file_actions=spawn_actions(devnull, devnull, devnull),
                           setsid=True)  # its own session: a Ctrl-C meant for us spares it
        finally:
            os.close(devnull)
    except (OSError, AttributeError):  # AttributeError: no posix_spawn on this platform
        return False
    return True
