"""The store's interface: what the recorder's merge, the CLI, the GUI, lineage and sweeps
ask of a store, whichever backend holds the runs (`tinydb`, the embedded default).

Also what every backend shares: the errors (one line each for the user), the summary of a
run (what listing and search read), and the live status of a run still in the spool.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .query import RunFilter, RunQuery

MIN_PREFIX = 6

# What listing, `latest` and `search` read; `show` and `export` read the whole record.
SUMMARY_FIELDS = ("id", "script", "command", "cwd", "start", "end", "duration", "status",
                  "exit_code", "hostname", "pid", "label", "tags", "params", "results",
                  "computation", "sweep", "script_hash", "script_hash_algorithm")
SUMMARY_FILE_FIELDS = ("path", "hash", "hash_algorithm")


class StoreError(Exception):
    """A store problem reported to the user as one line; `exit_code` for the CLI."""

    exit_code = 2


class StoreDamaged(StoreError):
    """A store file is not valid JSON (or not recipe's); `recipe db repair` salvages it."""


class StoreMissing(StoreError):
    """The store directory does not exist: reading commands never create one."""


class StoreUnwritable(StoreError, OSError):
    """The store cannot be written (a read-only directory or mount, a full disk, a
    directory where a store file belongs); reading it still works. An OSError too, so
    callers that keep a run aside on OSError keep doing so."""


class StoreLocked(StoreError):
    """Another process held the store lock for longer than we could wait."""


class UnknownRun(StoreError):
    pass


def malformed(record: Any) -> str:
    """Why `record` is not a run record every reader can use ("" if it is): valid JSON
    of the wrong shape (a string, a list, an event without a path) is damage too."""
    if not isinstance(record, dict):
        return f"a {type(record).__name__}, not an object"
    for field in ("id", "start"):
        if not isinstance(record.get(field), str):
            return f"its {field} is missing or not a string"
    for field, kind in (("status", str), ("script", str), ("params", dict),
                        ("results", dict), ("tags", list), ("notes", list),
                        ("inputs", list), ("outputs", list)):
        value = record.get(field)
        if value is not None and not isinstance(value, kind):
            return f"its {field} is a {type(value).__name__}"
    for field in ("inputs", "outputs"):
        for event in record.get(field) or ():
            if not isinstance(event, dict) or not isinstance(event.get("path"), str):
                return f"one of its {field} is not a file event with a path"
    return ""


def _file_summary(event: dict[str, Any]) -> dict[str, Any]:
    """A file event as listings need it; why a file has no hash only where it has none."""
    result = {k: event.get(k) for k in SUMMARY_FILE_FIELDS}
    if event.get("hash_error"):
        result["hash_error"] = event["hash_error"]
    return result


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a record that listing and search need, a few hundred bytes."""
    result = {field: record.get(field) for field in SUMMARY_FIELDS}
    for kind in ("inputs", "outputs"):
        result[kind] = [_file_summary(event) for event in record.get(kind) or ()]
    git = record.get("git")
    result["git"] = {key: git.get(key) for key in ("commit", "branch", "dirty")} if git else None
    result["note_count"] = len(record.get("notes") or ())
    return result


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def with_live_status(record: dict[str, Any]) -> dict[str, Any]:
    """A `running` record whose process is gone from this host is `lost`."""
    if record.get("status") == "running" and record.get("hostname") == os.uname().nodename:
        pid = record.get("pid")
        if isinstance(pid, int) and not _pid_alive(pid):
            record = dict(record, status="lost")
    return record


def newest_completed(rows: Iterable[dict[str, Any]], computations: set[str]
                     ) -> dict[str, dict[str, Any]]:
    """The newest completed row of each of `computations` (`Store.completed`); of rows that
    started at once, the first."""
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        computation = row.get("computation")
        if (computation in computations and row.get("status") == "completed"
                and (computation not in found or (row.get("start") or "")
                     > (found[computation].get("start") or ""))):
            found[computation] = row
    return found


def page_among_spooled(stored: list[dict[str, Any]], extra: list[dict[str, Any]], skip: int,
                       offset: int, limit: int,
                       ordered: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
                       ) -> list[dict[str, Any]]:
    """Rows `offset` to `offset + limit` of a list of which a backend read `stored` (its
    own rows in order, from place `skip` on) and `extra` (this machine's spooled runs it
    lacks, all of them; each moves the backend's rows after it one place down, so the
    page's rows are among the backend's from `offset - len(extra)` on)."""
    merged = ordered(stored + extra)
    if skip and stored:  # the spooled runs before the first row read are before it
        before = next(place for place, row in enumerate(merged) if row is stored[0])
        merged, offset = merged[before:], offset - skip - before
    return merged[offset:offset + limit]


@contextmanager
def without_garbage_collection() -> Iterator[None]:
    """Decoding a large JSON text creates millions of objects that are all kept: the
    collector's passes over them would more than double the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Store:
    """A store of runs. Backends implement the methods that raise NotImplementedError;
    the others are written once here on top of them.

    Run records are dicts as `recorder.Run` writes them (docs/design.md); a *summary* is
    `summary(record)`. Reading methods see the runs still in the spool too (a running run,
    or one kept aside), with their live status."""

    home: str  # RECIPE_HOME: the spool, caches and backups live there whatever the backend
    warnings: list[str]  # what readers went without (a damaged part), one line each

    # -- writing -------------------------------------------------------------------------

    def merge_pending(self, *, timeout: float = 10.0) -> list[str]:
        """Bring every finished (or lost) run waiting in the spool into the store; return
        the ids merged. Nothing leaves the spool before the store holds it."""
        raise NotImplementedError

    def annotate(self, run_id: str, annotation: dict[str, Any]) -> None:
        """Add a note or tags (see journal.annotate) to a run, stored or in the spool."""
        raise NotImplementedError

    def save_sweep(self, sweep: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------

    def summaries(self, needles: list[str] | None = None) -> list[dict[str, Any]]:
        """Every run's summary, newest first. `needles` (query.Search.needles) is a
        prefilter a backend may use: every run returned must still be tested."""
        raise NotImplementedError

    def page(self, offset: int, limit: int, *, chosen: RunFilter | None = None
             ) -> tuple[list[dict[str, Any]], int]:
        """Summaries `offset` to `offset + limit` of the runs that `chosen` keeps, in its
        order (all runs, newest first, without it); and how many there are in all (the
        GUI's runs list)."""
        raise NotImplementedError

    def by_content(self) -> Any:
        """A snapshot answering `runs_touching(digests)` for one lineage walk."""
        raise NotImplementedError

    def find(self, query: RunQuery) -> list[dict[str, Any]]:
        """The summaries of the runs `query` keeps, in its order and slice. Backends
        answer it from an index; this version reads every summary the needles allow."""
        return query.ordered([run for run in self.summaries(query.needles())
                              if query.keep(run)])

    def count(self, query: RunQuery) -> int:
        """How many runs `query` keeps, its limit and offset aside."""
        return sum(1 for run in self.summaries(query.needles()) if query.keep(run))

    def records(self, run_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Full records, newest first: all of them, or those of `run_ids` (full ids)."""
        raise NotImplementedError

    def stream(self, run_ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """The records `records` gives, one at a time, newest first, so that an export of
        every run holds a few of them in memory, not all. This version reads them all."""
        return iter(self.records(run_ids))

    def runs_with_path(self, path: str) -> list[dict[str, Any]]:
        """The summaries of the runs that read or wrote exactly `path`, newest first
        (a lineage walk's question where content is unknown)."""
        needle = json.dumps(path, ensure_ascii=False)[1:-1]
        return [run for run in self.summaries([needle])
                if any(event.get("path") == path for kind in ("inputs", "outputs")
                       for event in run.get(kind) or ())]

    def export_lines(self, run_ids: list[str] | None = None) -> Iterator[str]:
        """Each record of `stream` as compact JSON text (`recipe export`)."""
        for record in self.stream(run_ids):
            yield json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    def newest_of_scripts(self, directory: str) -> list[dict[str, Any]]:
        """The summary of the newest run of each script under `directory` (what `recipe
        status` checks without paths)."""
        prefix = os.path.join(os.path.abspath(directory), "")
        newest: dict[str, dict[str, Any]] = {}
        for run in self.summaries([json.dumps(prefix, ensure_ascii=False)[1:-1]]):
            script = run.get("script") or ""
            if script.startswith(prefix) and script not in newest:  # newest first
                newest[script] = run
        return list(newest.values())

    def latest(self) -> dict[str, Any] | None:
        """The newest run's full record."""
        raise NotImplementedError

    def hash_algorithms(self) -> set[str]:
        """Every hash algorithm a stored run used (for searching by a file's content)."""
        raise NotImplementedError

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep, newest first, without its list of runs."""
        raise NotImplementedError

    def sweep(self, prefix: str) -> dict[str, Any]:
        """The sweep whose id starts with `prefix` (UnknownRun if none or several)."""
        raise NotImplementedError

    def get(self, run_id: str) -> dict[str, Any]:
        found = self.records([run_id])
        if not found:
            raise UnknownRun(f"no run {run_id}")
        return found[0]

    def resolve(self, prefix: str, ids: list[str] | None = None) -> str:
        """The one run id that starts with `prefix` (at least 6 characters)."""
        prefix = prefix.strip().lower()
        if len(prefix) < MIN_PREFIX:
            raise UnknownRun(f"run id prefix {prefix!r} is too short: give at least "
                             f"{MIN_PREFIX} characters")
        if ids is None:  # the prefix prefilters the shard indexes, as a search term does
            ids = [row["id"] for row in self.summaries([prefix])]
        matches = [run_id for run_id in ids if run_id.startswith(prefix)]
        if not matches:
            raise UnknownRun(f"no run has an id starting with {prefix!r}")
        if len(matches) > 1:
            raise UnknownRun(f"run id prefix {prefix!r} is ambiguous: it matches "
                             + ", ".join(m[:12] for m in matches[:5])
                             + (" ..." if len(matches) > 5 else ""))
        return matches[0]

    def completed(self, computations: set[str], script: str) -> dict[str, dict[str, Any]]:
        """The newest completed run (its summary) of each of `computations`, among the
        runs of `script` (a path, which prefilters the sealed shards)."""
        needle = json.dumps(script, ensure_ascii=False)[1:-1]  # as the index files spell it
        return newest_completed(self.summaries([needle]), computations)

    # -- the trash, and runs from elsewhere ------------------------------------------------

    def trash(self, run_ids: list[str]) -> list[str]:
        """Move stored runs (full ids) to the trash: no listing, search, lineage or export
        sees them until `restore`; `purge` deletes them for good. UnknownRun for an id
        that is not stored; StoreError for a run still in the spool (running)."""
        raise NotImplementedError

    def restore(self, run_ids: list[str]) -> list[str]:
        """Bring runs (full ids) back from the trash into the store."""
        raise NotImplementedError

    def trashed(self) -> list[dict[str, Any]]:
        """The summaries of the runs in the trash, newest first, each with `trashed` (the
        ISO time it was moved there)."""
        raise NotImplementedError

    def purge(self, before: str = "") -> list[str]:
        """Delete for good the runs moved to the trash before `before` (an ISO time; ""
        for all of them); return their ids."""
        raise NotImplementedError

    def import_records(self, records: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Store runs exported elsewhere (`recipe export`), keeping their ids; a run whose
        id is already here (stored, in the trash or in the spool) is skipped, so importing
        twice adds nothing. Returns (ids added, ids skipped). This version goes through
        the spool, as a finished run does; a backend may write them directly."""
        from ..record import journal

        here = {row["id"] for row in self.summaries([r["id"] for r in records])}
        here |= {row["id"] for row in self.trashed()} | set(journal.journals(self.home))
        added = [record for record in {r["id"]: r for r in records}.values()
                 if record["id"] not in here]
        for record in added:
            journal.Journal(self.home, record["id"]).write_record(record)
        self.merge_pending(timeout=60.0)
        return [r["id"] for r in added], [r["id"] for r in records if r["id"] in here]

    # -- checking and repairing ------------------------------------------------------------

    def check(self) -> list[str]:
        """Every problem found, one line each; an empty list means all is well."""
        raise NotImplementedError

    def pending(self) -> int:
        """How many finished runs wait in the spool (kept aside)."""
        raise NotImplementedError

    def repair(self) -> list[str]:
        """Salvage what can be read, merge the spool; what was done, one line each."""
        raise NotImplementedError
