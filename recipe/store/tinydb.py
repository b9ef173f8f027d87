"""The embedded store: the only module that knows TinyDB. See docs/design.md for the layout.

    $RECIPE_HOME/db.json        TinyDB: table `runs` = the newest runs (the head), at most
                                HEAD_MAX_RUNS; table `catalog` = one row per sealed shard
    $RECIPE_HOME/db.shards/     sealed shards: NNNNNN.json (TinyDB, table `runs`) and
                                NNNNNN.index.json (the summaries that listing/search need)
    $RECIPE_HOME/db.lock        flock: shared for readers, exclusive for writers
    $RECIPE_HOME/spool/         runs in progress, or kept aside until the store takes them
    $RECIPE_HOME/backups/       damaged files, copied before `recipe db repair` salvages them

Every file is replaced atomically, so a crash never leaves half a file; writing a run costs
one rewrite of the bounded head, whatever the number of runs stored.
"""

from __future__ import annotations

import errno
import fcntl
import itertools
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from tinydb import Query, Storage, TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import MemoryStorage

from .. import messages
from ..config import HASH_ALGORITHMS, Config
from ..record import journal
from . import index
from .base import (
    MIN_PREFIX,
    Store,
    StoreDamaged,
    StoreError,
    StoreLocked,
    StoreUnwritable,
    UnknownRun,
    malformed,
    newest_completed,
    page_among_spooled,
    summary,
    with_live_status,
    without_garbage_collection,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .query import RunFilter, RunQuery

SCHEMA_VERSION = 1
HEAD_MAX_RUNS = 200
HEAD_MAX_BYTES = 4 << 20
LONG_INDEX_BUILD = 20_000  # runs: building their index takes seconds; say so first
RUNS, CATALOG, META = "runs", "catalog", "meta"


class _AtomicJSONStorage(Storage):
    """TinyDB storage that never writes in place: write to a temporary file, fsync, rename.

    TinyDB's stock JSONStorage seeks, writes and truncates the live file, so a crash or a
    second writer leaves it torn; this one is safe with the store lock held by writers."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> dict[str, Any] | None:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreDamaged(f"{self.path} is damaged ({exc}); run `recipe db repair`") from None
        if not isinstance(data, dict):
            raise StoreDamaged(f"{self.path} is not a recipe store; run `recipe db repair`")
        problem = _shape_problem(data)
        if problem:
            raise StoreDamaged(f"{self.path} is damaged ({problem}); run `recipe db repair`")
        return data

    def write(self, data: dict[str, Any]) -> None:
        journal.atomic_write_json(self.path, data)

    def close(self) -> None:
        pass


class TinyStore(Store):
    """Runs in sharded TinyDB files: a bounded head, sealed shards with their indexes."""

    def __init__(self, config: Config) -> None:
        self.home = config.home
        self.db_path = config.db_path
        stem = os.path.splitext(self.db_path)[0]
        self.shard_dir = stem + ".shards"
        self.sweep_dir = stem + ".sweeps"
        self.lock_path = stem + ".lock"
        self.trash_path = stem + ".trash.json"
        self.index_path = stem + ".index.sqlite"
        self._index: sqlite3.Connection | None = None  # fresh as of `_index_stamp`
        self._index_stamp = ""
        self.backup_dir = os.path.join(self.home, "backups")
        self.warnings: list[str] = []  # what readers went without (a damaged head)
        self._shard_hashes: dict[int, set[str]] = {}  # sealed shards do not change files

    # -- locking -------------------------------------------------------------------------

    @contextmanager
    def _locked(self, *, exclusive: bool, timeout: float) -> Iterator[None]:
        """The store lock: exclusive for a writer, shared for a reader. A reader never
        creates the lock file, and reads without the lock when it cannot open it (a
        read-only store, or one nothing was written to yet): every store file is replaced
        atomically, in an order that keeps what the head names on disk first, so a
        lockless reader sees a consistent store (docs/design.md, "Reading a read-only
        store"). A writer that cannot have the lock gets StoreUnwritable, as does any
        OSError while it writes."""
        if exclusive:
            try:
                os.makedirs(os.path.dirname(self.lock_path), exist_ok=True)
                descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise self._unwritable(exc) from None
        else:
            try:
                descriptor = os.open(self.lock_path, os.O_RDONLY)
            except OSError:
                yield
                return
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(descriptor, mode)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreLocked(
                            f"the store {self.db_path} stayed locked for {timeout:g} s"
                        ) from None
                    time.sleep(0.005)
            try:
                yield
            except OSError as exc:
                if exclusive:
                    raise self._unwritable(exc) from None
                raise
        finally:
            os.close(descriptor)  # closing releases the lock

    def _unwritable(self, error: OSError) -> StoreUnwritable:
        where = error.filename or self.home
        reason = ("is a directory" if error.errno == errno.EISDIR
                  else f"cannot be written ({error.strerror or error})")
        return StoreUnwritable(f"the store {self.home} cannot be changed: {where} {reason}")

    # -- files ---------------------------------------------------------------------------

    @contextmanager
    def _db(self, path: str) -> Iterator[TinyDB]:
        """A TinyDB over one store file, read once and written once (on leaving the block)
        whatever the number of operations: CachingMiddleware holds it in between."""
        with TinyDB(path, storage=CachingMiddleware(_AtomicJSONStorage)) as db:
            rows = (db.storage.read() or {}).get(META) or {}
            version = next(iter(rows.values()), {}).get("schema", SCHEMA_VERSION)
            if version != SCHEMA_VERSION:
                raise StoreError(f"{path} has store schema {version}; this recipe reads "
                                 f"schema {SCHEMA_VERSION}: upgrade recipe")
            yield db

    def _shard_path(self, number: int) -> str:
        return os.path.join(self.shard_dir, f"{number:06d}.json")

    def _index_path(self, number: int) -> str:
        return os.path.join(self.shard_dir, f"{number:06d}.index.json")

    def _catalog(self, head: TinyDB) -> list[dict[str, Any]]:
        return sorted(head.table(CATALOG).all(), key=lambda row: row["shard"])

    def _read_index(self, number: int, needles: list[str] | None = None) -> list[dict[str, Any]]:
        """A shard's summaries; none, without decoding, if its text has none of `needles`."""
        path = self._index_path(number)
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            if needles is not None and not any(needle in text for needle in needles):
                return []
            with without_garbage_collection():
                rows = json.loads(text)
        except (OSError, ValueError) as exc:
            raise StoreDamaged(f"{path} is damaged ({exc}); run `recipe db repair`") from None
        problem = (f"a {type(rows).__name__}, not a list" if not isinstance(rows, list)
                   else next(filter(None, map(malformed, rows)), ""))
        if problem:
            raise StoreDamaged(f"{path} is damaged ({problem}); run `recipe db repair`")
        return rows

    def _write_index(self, number: int, records: list[dict[str, Any]]) -> None:
        rows = [summary(r) for r in records]
        journal.atomic_write_json(self._index_path(number), rows)
        journal.atomic_write_json(self._hashes_path(number), _content_hashes(rows))

    def _hashes_path(self, number: int) -> str:
        return os.path.join(self.shard_dir, f"{number:06d}.hashes.json")

    def _hashes_of_shard(self, number: int) -> set[str]:
        """Every content hash the shard's runs read or wrote: which shards a lineage walk
        must open, without decoding their indexes. Made from the index (and kept) for a
        shard sealed before these files existed."""
        cached = self._shard_hashes.get(number)
        if cached is not None:
            return cached
        path = self._hashes_path(number)
        try:
            with open(path, encoding="utf-8") as handle:
                hashes = set(json.load(handle))
        except (OSError, ValueError, TypeError):
            hashes = set(_content_hashes(self._read_index(number)))
            try:
                journal.atomic_write_json(path, sorted(hashes), durable=False)
            except OSError:
                pass  # a read-only store: made again next time
        self._shard_hashes[number] = hashes
        return hashes

    # -- the run index (index.py): a cache of the store files, for questions --------------

    def _fingerprint(self) -> str:
        return index.fingerprint([self.db_path, self.shard_dir])

    @contextmanager
    def _index_changes(self) -> Iterator[list[Callable[[Any], None]]]:
        """For a writer, in its exclusive lock: the list to which it appends what changed
        (functions of the index connection), applied when its store files are written. An
        index that was not fresh before the write is left alone (a reader makes it
        again); one that fails to update is left stale."""
        connection = index.open_fresh(self.index_path, self._fingerprint())
        changes: list[Callable[[Any], None]] = []
        try:
            yield changes
            if connection is not None:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    for change in changes:
                        change(connection)
                    index.stamp(connection, self._fingerprint())
                    connection.execute("COMMIT")
                except sqlite3.Error:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
        finally:
            if connection is not None:
                connection.close()
            self._index = None  # this process's reading connection is checked again

    def _fresh_index(self) -> sqlite3.Connection | None:
        """For a reader, in its shared lock: the index, made again if missing or stale;
        None if it cannot be (a read-only store, a damaged file): then the caller reads
        the store files as before the index existed."""
        stamp = self._fingerprint()
        if self._index is not None and self._index_stamp == stamp:
            return self._index
        connection = index.open_fresh(self.index_path, stamp)
        if connection is None:
            try:
                connection = self._build_index(stamp)
            except (OSError, StoreError):
                return None
        self._index, self._index_stamp = connection, stamp
        return connection

    def _build_index(self, stamp: str) -> sqlite3.Connection | None:
        if not os.path.exists(self.db_path):
            return None  # nothing stored yet: nothing to index, nothing written
        with self._db(self.db_path) as head, without_garbage_collection():
            head_rows = [dict(doc) for doc in head.table(RUNS).all()]
            catalog = self._catalog(head)
            shards = [row["shard"] for row in catalog]
            runs = len(head_rows) + sum(row["count"] for row in catalog)
            if runs >= LONG_INDEX_BUILD:  # 10 s at 100,000 runs: say why the wait
                messages.info(f"indexing the {runs:,} stored runs (once, a few seconds) ...")
            # A generator: one shard's summaries in memory at a time.
            located = itertools.chain([(index.HEAD, head_rows)],
                                      ((number, self._read_index(number)) for number in shards))
            return index.build(self.index_path, located, stamp)

    @contextmanager
    def _indexed(self) -> Iterator[sqlite3.Connection | None]:
        """Read through the index: the spool merged first (as `_reading` does), then the
        shared lock held while the index answers. None: read the store files instead."""
        try:
            self.merge_pending(timeout=2.0)
        except (StoreError, OSError):
            pass
        with self._locked(exclusive=False, timeout=30.0):
            yield self._fresh_index()

    def _spooled_summaries(self, known: sqlite3.Connection) -> list[dict[str, Any]]:
        """Summaries of the runs in the spool that the index does not hold."""
        found = []
        for record in self._spooled(set()):
            if known.execute("SELECT 1 FROM runs WHERE id = ?", (record["id"],)).fetchone():
                continue  # a merge that died before removing the journal
            found.append(summary(record))
        return found

    def find(self, query: RunQuery) -> list[dict[str, Any]]:
        """The runs `query` keeps, from the index's prefilter: newest first, a default
        order with a limit stops reading as soon as the page is full."""
        with self._indexed() as connection:
            if connection is None:
                return super().find(query)
            streaming = (query.sort_field == "start" and query.descending
                         and query.limit is not None)
            where, args = index.prefilter(query, connection, streaming=streaming)
            kept = [row for row in self._spooled_summaries(connection) if query.keep(row)]
            need = query.offset + (query.limit or 0)
            found = []
            with without_garbage_collection():
                for (text,) in index.rows(connection, where, args):
                    row = with_live_status(json.loads(text))
                    if query.keep(row):
                        found.append(row)
                        if streaming and len(found) >= need:
                            break
        return query.ordered(kept + found)

    def count(self, query: RunQuery) -> int:
        """How many runs `query` keeps, its limit and offset aside."""
        with self._indexed() as connection:
            if connection is None:
                return super().count(query)
            where, args = index.prefilter(query, connection)
            spooled = sum(1 for row in self._spooled_summaries(connection) if query.keep(row))
            with without_garbage_collection():
                return spooled + sum(1 for (text,) in index.rows(connection, where, args)
                                     if query.keep(with_live_status(json.loads(text))))

    def resolve(self, prefix: str, ids: list[str] | None = None) -> str:
        if ids is None:
            wanted = prefix.strip().lower()
            with self._indexed() as connection:
                if connection is not None:
                    ids = [row[0] for row in connection.execute(
                        "SELECT id FROM runs WHERE id >= ? AND id < ? LIMIT 6",
                        (wanted, wanted + "\uffff"))]
                    ids += [run_id for run_id in journal.journals(self.home)
                            if run_id.startswith(wanted) and run_id not in ids]
        return super().resolve(prefix, ids)

    def runs_with_path(self, path: str) -> list[dict[str, Any]]:
        with self._indexed() as connection:
            if connection is not None:
                where = "r.number IN (SELECT run FROM files WHERE path = ?)"
                with without_garbage_collection():
                    rows = [json.loads(text) for (text,) in index.rows(connection, where, [path])]
                    rows += [row for row in self._spooled_summaries(connection)
                             if any(event.get("path") == path for kind in ("inputs", "outputs")
                                    for event in row.get(kind) or ())]
                rows = [with_live_status(row) for row in rows]
                rows.sort(key=lambda row: row.get("start") or "", reverse=True)
                return rows
        return super().runs_with_path(path)

    def completed(self, computations: set[str], script: str) -> dict[str, dict[str, Any]]:
        """The newest completed run of each computation (its identity names the script)."""
        with self._indexed() as connection:
            if connection is None:
                return super().completed(computations, script)
            ordered = sorted(computations)
            rows = self._spooled_summaries(connection)
            with without_garbage_collection():
                for start in range(0, len(ordered), 500):
                    chunk = ordered[start:start + 500]
                    rows += (json.loads(text) for (text,) in connection.execute(
                        "SELECT summary FROM runs WHERE status = 'completed' AND computation "
                        f"IN ({','.join('?' * len(chunk))})", chunk))
        return newest_completed(rows, computations)

    def newest_of_scripts(self, directory: str) -> list[dict[str, Any]]:
        """The summary of the newest run of each script under `directory`."""
        prefix = os.path.join(os.path.abspath(directory), "")
        with self._indexed() as connection:
            if connection is None:
                return super().newest_of_scripts(directory)
            rows = [json.loads(text) for _script, _start, text in connection.execute(
                "SELECT script, MAX(start), summary FROM runs WHERE script >= ? AND "
                "script < ? GROUP BY script", (prefix, prefix + "\uffff"))]
            rows += [row for row in self._spooled_summaries(connection)
                     if (row.get("script") or "").startswith(prefix)]
        newest: dict[str, dict[str, Any]] = {}
        for row in rows:
            known = newest.get(row["script"])
            if known is None or (row.get("start") or "") > (known.get("start") or ""):
                newest[row["script"]] = with_live_status(row)
        return list(newest.values())

    # -- writing -------------------------------------------------------------------------

    def merge_pending(self, *, timeout: float = 10.0) -> list[str]:
        """Bring every finished (or lost) run waiting in the spool into the store.

        Returns the ids merged. Raises StoreLocked / StoreDamaged / OSError, leaving the
        spool as it was: nothing is deleted from it before the store holds it. An empty
        spool costs no lock and writes nothing (so readers of a clean store write nothing)."""
        if not journal.journals(self.home):
            return []
        with self._locked(exclusive=True, timeout=timeout), self._index_changes() as changes:
            records = []
            for run_id in journal.journals(self.home):
                try:
                    record = journal.read(self.home, run_id)
                except (OSError, ValueError):
                    continue  # unreadable journal: `db check` reports it
                record = with_live_status(record)
                if record.get("status") != "running":
                    records.append(record)
            if not records:
                return []
            with self._db(self.db_path) as head:
                runs = head.table(RUNS)
                merged = {record["id"] for record in records}
                already = [doc.doc_id for doc in runs.all() if doc.get("id") in merged]
                if already:  # a merge that died after writing the store, before the spool
                    runs.remove(doc_ids=already)
                runs.insert_multiple(records)
                if not head.table(META):
                    head.table(META).insert({"schema": SCHEMA_VERSION})
                changes.append(lambda connection: index.put(connection, index.HEAD, records))
                self._seal_if_full(head, changes)
            # Only now that the store file holds them may their journals go.
            for record in records:
                journal.remove(self.home, record["id"])
            return [record["id"] for record in records]

    def _seal_if_full(self, head: TinyDB, changes: list[Callable[[Any], None]]) -> None:
        runs = head.table(RUNS)
        try:
            size = os.path.getsize(self.db_path)  # as last written: close enough for a limit
        except FileNotFoundError:
            size = 0
        if len(runs) < HEAD_MAX_RUNS and size < HEAD_MAX_BYTES:
            return
        records = [dict(doc) for doc in runs.all()]
        catalog = self._catalog(head)
        number = (catalog[-1]["shard"] + 1) if catalog else 1
        os.makedirs(self.shard_dir, exist_ok=True)
        _AtomicJSONStorage(self._shard_path(number)).write(
            {RUNS: {str(i): r for i, r in enumerate(records, 1)}})
        self._write_index(number, records)
        # One atomic replace of the head (on leaving `_db`): empty the runs and list the
        # shard together. A crash before it leaves an unlisted shard that the next seal
        # overwrites.
        data = head.storage.read() or {}
        data[RUNS] = {}
        catalog_rows = data.setdefault(CATALOG, {})
        catalog_rows[str(number)] = _catalog_row(number, records)
        head.storage.write(data)
        changes.append(lambda connection: index.move(connection, index.HEAD, number))

    # -- the trash: db.trash.json, runs moved out of the store whole -----------------------

    def trash(self, run_ids: list[str]) -> list[str]:
        """Move stored runs to the trash file. The trash is written first, then the shards
        and the head without them: a crash in between leaves a run in both, never in
        neither."""
        wanted = set(run_ids)
        try:
            self.merge_pending(timeout=10.0)
        except (StoreError, OSError):
            pass  # a run kept aside is reported below as not stored yet
        with self._locked(exclusive=True, timeout=10.0), self._index_changes() as changes:
            spooled = wanted & set(journal.journals(self.home))
            if spooled:
                raise StoreError(f"run {min(spooled)[:8]} is still running (or waits in the "
                                 "spool): remove it once it has ended and been stored")
            with self._db(self.db_path) as head:
                found = {doc["id"]: dict(doc) for doc in head.table(RUNS).all()
                         if doc["id"] in wanted}
                shards: dict[int, list[dict[str, Any]]] = {}
                for row in self._catalog(head):
                    if len(found) == len(wanted):
                        break
                    number = row["shard"]
                    needles = sorted(wanted - found.keys())
                    if any(s["id"] in wanted for s in self._read_index(number, needles)):
                        shards[number] = self._records_of_shard(number)
                        found.update((r["id"], r) for r in shards[number] if r["id"] in wanted)
                if wanted - found.keys():
                    raise UnknownRun(f"no run {min(wanted - found.keys())}")
                stamp = datetime.now(timezone.utc).isoformat()
                with self._db(self.trash_path) as trash:
                    self._replace_runs(trash, [dict(r, trashed=stamp) for r in found.values()])
                for number, records in shards.items():
                    kept = [r for r in records if r["id"] not in wanted]
                    _AtomicJSONStorage(self._shard_path(number)).write(
                        {RUNS: {str(i): r for i, r in enumerate(kept, 1)}})
                    self._write_index(number, kept)
                    self._shard_hashes.pop(number, None)
                    head.table(CATALOG).update(_catalog_row(number, kept), doc_ids=[number])
                head.table(RUNS).remove(lambda doc: doc["id"] in wanted)
                changes.append(lambda connection: index.drop(connection, sorted(wanted)))
        return sorted(found)

    def restore(self, run_ids: list[str]) -> list[str]:
        """Bring runs back from the trash into the head (the store first, then the trash
        without them: a crash in between leaves a run in both)."""
        wanted = set(run_ids)
        with self._locked(exclusive=True, timeout=10.0), self._index_changes() as changes:
            with self._db(self.trash_path) as trash:
                found = [dict(doc) for doc in trash.table(RUNS).all() if doc["id"] in wanted]
                missing = wanted - {r["id"] for r in found}
                if missing:
                    raise UnknownRun(f"no run {min(missing)} in the trash")
                for record in found:
                    del record["trashed"]
                self._insert(found, changes)
                trash.table(RUNS).remove(lambda doc: doc["id"] in wanted)
        return sorted(wanted)

    def trashed(self) -> list[dict[str, Any]]:
        """The summaries of the runs in the trash, newest first, each with `trashed`."""
        if not os.path.exists(self.trash_path):
            return []
        with self._locked(exclusive=False, timeout=30.0), self._db(self.trash_path) as trash:
            rows = [dict(summary(doc), trashed=doc.get("trashed"))
                    for doc in trash.table(RUNS).all()]
        rows.sort(key=lambda row: row.get("start") or "", reverse=True)
        return rows

    def purge(self, before: str = "") -> list[str]:
        """Delete for good the runs moved to the trash before `before` ("" for all)."""
        if not os.path.exists(self.trash_path):
            return []
        with self._locked(exclusive=True, timeout=10.0), self._db(self.trash_path) as trash:
            table = trash.table(RUNS)
            gone = [doc for doc in table.all()
                    if not before or (doc.get("trashed") or "") < before]
            table.remove(doc_ids=[doc.doc_id for doc in gone])
        return sorted(doc["id"] for doc in gone)

    def import_records(self, records: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Store exported runs with their ids, skipping those already here (stored, in
        the trash, in the spool); straight into the head, sealed as it fills, so a running
        run of another machine is stored as it was exported."""
        unique = list({r["id"]: r for r in records}.values())
        with self._locked(exclusive=True, timeout=60.0), self._index_changes() as changes:
            here = self._ids_here({r["id"] for r in unique})
            added = [r for r in unique if r["id"] not in here]
            self._insert(added, changes)
        return [r["id"] for r in added], [r["id"] for r in records if r["id"] in here]

    def _ids_here(self, ids: set[str]) -> set[str]:
        """Which of `ids` the store, the trash or the spool holds (the lock held)."""
        here = ids & set(journal.journals(self.home))
        needles = sorted(ids) if len(ids) <= 64 else None
        with self._db(self.db_path) as head:
            here |= {doc["id"] for doc in head.table(RUNS).all()} & ids
            for row in self._catalog(head):
                here |= {s["id"] for s in self._read_index(row["shard"], needles)} & ids
        if os.path.exists(self.trash_path):
            with self._db(self.trash_path) as trash:
                here |= {doc["id"] for doc in trash.table(RUNS).all()} & ids
        return here

    def _insert(self, records: list[dict[str, Any]], changes: list[Callable[[Any], None]]
                ) -> None:
        """Insert records into the head (replacing a run of the same id there), sealing
        it each time it fills up (the lock held)."""
        position = 0
        while position < len(records):
            with self._db(self.db_path) as head:
                runs = head.table(RUNS)
                room = max(HEAD_MAX_RUNS - len(runs), 1)
                batch = records[position:position + room]
                ids = {record["id"] for record in batch}
                same = [doc.doc_id for doc in runs.all() if doc["id"] in ids]
                if same:
                    runs.remove(doc_ids=same)
                runs.insert_multiple(batch)
                if not head.table(META):
                    head.table(META).insert({"schema": SCHEMA_VERSION})
                changes.append(lambda connection, batch=batch: index.put(connection, index.HEAD,
                                                                         batch))
                self._seal_if_full(head, changes)
            position += len(batch)

    @staticmethod
    def _replace_runs(db: TinyDB, records: list[dict[str, Any]]) -> None:
        ids = {record["id"] for record in records}
        db.table(RUNS).remove(lambda doc: doc["id"] in ids)
        db.table(RUNS).insert_multiple(records)

    def annotate(self, run_id: str, annotation: dict[str, Any]) -> None:
        """Add a note or tags (see journal.annotate) to a stored run; to a run still in the
        spool, by appending the annotation to its journal (its recorder owns the record)."""
        def change(record: dict[str, Any]) -> None:
            journal.annotate(record, annotation)

        with self._locked(exclusive=True, timeout=10.0), self._index_changes() as changes:
            if run_id in journal.journals(self.home):
                journal.Journal(self.home, run_id).append_events([annotation])
                return
            if self._change_stored(run_id, change, changes):
                return
        raise UnknownRun(f"no run {run_id}")

    def _change_stored(self, run_id: str, change: Callable[[dict[str, Any]], None],
                       changes: list[Callable[[Any], None]]) -> bool:
        """Apply `change` to the stored record of `run_id`, in the head or in its shard
        (whose index is written again); False if no stored run has that id. The caller
        holds the exclusive lock."""
        with self._db(self.db_path) as head:
            changed = self._update_in(head, run_id, change)
            if changed is not None:
                changes.append(lambda connection: index.put(connection, index.HEAD, [changed]))
                return True
            catalog = self._catalog(head)
        for row in catalog:
            number = row["shard"]
            if any(s["id"] == run_id for s in self._read_index(number, [run_id])):
                with self._db(self._shard_path(number)) as shard:
                    changed = self._update_in(shard, run_id, change)
                    records = [dict(doc) for doc in shard.table(RUNS).all()]
                self._write_index(number, records)
                changes.append(lambda connection, number=number, changed=changed:
                               index.put(connection, number, [changed]))
                return True
        return False

    @staticmethod
    def _update_in(db: TinyDB, run_id: str, change: Callable[[dict[str, Any]], None]
                   ) -> dict[str, Any] | None:
        """The record of `run_id` in `db` after `change`, or None if `db` has no such run."""
        table = db.table(RUNS)
        found = table.get(Query().id == run_id)
        if found is None:
            return None
        record = dict(found)
        change(record)
        table.update(lambda doc: doc.update(record), doc_ids=[found.doc_id])
        return record

    # -- reading -------------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[TinyDB]:
        # Readers first bring finished runs in, so the spool stays short; a busy or
        # damaged store still lets them read (the spool and whatever else is readable).
        try:
            self.merge_pending(timeout=2.0)
        except (StoreError, OSError):
            pass
        with self._locked(exclusive=False, timeout=30.0):
            opened = False
            try:
                with self._db(self.db_path) as head:
                    opened = True
                    yield head
                    return
            except StoreDamaged as exc:
                if opened:  # a damaged shard, met by the caller: theirs to report
                    raise
                messages.warn(str(exc))
                self.warnings.append(str(exc))
            # The head is unreadable: show the runs in the spool, and say so (above).
            yield TinyDB(storage=MemoryStorage)

    def _loose(self, head: TinyDB) -> list[dict[str, Any]]:
        """Summaries of the runs not in a sealed shard: the head's, then the spool's."""
        rows = [summary(doc) for doc in head.table(RUNS).all()]
        rows.extend(summary(record) for record in self._spooled({r["id"] for r in rows}))
        return [with_live_status(row) for row in rows]

    def _spooled(self, skip: set[str]) -> list[dict[str, Any]]:
        records = []
        for run_id in journal.journals(self.home):
            if run_id in skip:
                continue
            try:
                records.append(with_live_status(journal.read(self.home, run_id)))
            except (OSError, ValueError):
                continue
        return records

    def summaries(self, needles: list[str] | None = None) -> list[dict[str, Any]]:
        """Every run's summary, newest first. With `needles` (see query.Search.needles),
        sealed shards whose index contains none of them are skipped: a prefilter, so the
        caller still tests each row, and `recipe search` need not decode 100,000 runs."""
        with self._indexed() as connection:
            if connection is not None:
                where, args = index.needles_clause(needles)
                with without_garbage_collection():
                    rows = [json.loads(text) for (text,) in index.rows(connection, where, args)]
                    rows += self._spooled_summaries(connection)
                rows = [with_live_status(row) for row in rows]
                rows.sort(key=lambda row: row.get("start") or "", reverse=True)
                return rows
        with self._reading() as head, without_garbage_collection():
            rows = [summary(doc) for doc in head.table(RUNS).all()]
            for row in self._catalog(head):
                rows.extend(self._read_index(row["shard"], needles))
            seen = {row["id"] for row in rows}
            rows.extend(summary(record) for record in self._spooled(seen))
        rows = [with_live_status(row) for row in rows]
        rows.sort(key=lambda row: row.get("start") or "", reverse=True)
        return rows

    def page(self, offset: int, limit: int, *, chosen: RunFilter | None = None
             ) -> tuple[list[dict[str, Any]], int]:
        """Summaries `offset` to `offset + limit` of the runs `chosen` keeps, in its order
        (newest first without it); and how many there are in all. From the run index: the
        filter and the order as SQL. Without the index, and without a filter, only the
        newest shards are read (the catalog knows each one's time span and size): the
        first page of 100,000 runs reads the head and one or two indexes."""
        with self._indexed() as connection:
            if connection is not None:
                return self._indexed_page(connection, offset, limit, chosen)
        since = chosen.since if chosen is not None else ""
        until = chosen.until if chosen is not None else ""
        needles = chosen.needles() if chosen is not None else None

        def wanted(row: dict[str, Any]) -> bool:
            return chosen is None or chosen.keep(row)

        with self._reading() as head, without_garbage_collection():
            rows = [row for row in self._loose(head) if wanted(row)]
            shards = [row for row in self._catalog(head)
                      if row["last_start"] >= since and (not until or row["first_start"] <= until)]
            shards.sort(key=lambda row: row["last_start"], reverse=True)
            # The newest runs, unfiltered: the shards' sizes count them.
            counting_only = chosen is None or (chosen.empty and not since and not until
                                               and chosen.newest_first)
            total = len(rows) + sum(row["count"] for row in shards) if counting_only else None
            need = offset + limit
            newest_first = {"key": lambda row: row.get("start") or "", "reverse": True}
            rows.sort(**newest_first)
            for shard in shards:
                if (counting_only and len(rows) >= need
                        and (rows[need - 1].get("start") or "") >= shard["last_start"]):
                    break  # no run in this shard or any later one is new enough for the page
                rows.extend(row for row in self._read_index(shard["shard"], needles)
                            if wanted(row))
                if counting_only:
                    rows.sort(**newest_first)
        rows = chosen.ordered(rows) if chosen is not None else sorted(rows, **newest_first)
        return rows[offset:need], total if total is not None else len(rows)

    def _indexed_page(self, connection: sqlite3.Connection, offset: int, limit: int,
                      chosen: RunFilter | None) -> tuple[list[dict[str, Any]], int]:
        """`page` from the index. Where the filter's SQL is exact, SQL counts, orders and
        pages it, and only the page's summaries are decoded; else every row it leaves is
        tested. The spool's runs the index lacks take their places in the list."""
        from .query import RunFilter  # not at the top: the merger never needs it

        chosen = chosen if chosen is not None else RunFilter()
        where, args = index.filter_clause(chosen, connection)
        extra = [row for row in map(with_live_status, self._spooled_summaries(connection))
                 if chosen.keep(row)]
        with without_garbage_collection():
            if not index.filter_exact(chosen):
                rows = extra + [row for (text,) in index.rows(connection, where, args)
                                if chosen.keep(row := with_live_status(json.loads(text)))]
                return chosen.ordered(rows)[offset:offset + limit], len(rows)
            total = len(extra) + connection.execute(
                f"SELECT COUNT(*) FROM runs r WHERE {where}", args).fetchone()[0]
            skip = max(0, offset - len(extra))
            stored = [with_live_status(json.loads(text)) for (text,) in connection.execute(
                f"SELECT r.summary FROM runs r WHERE {where} ORDER BY {index.order(chosen)} "
                "LIMIT ? OFFSET ?", [*args, offset + limit - skip, skip])]
        return page_among_spooled(stored, extra, skip, offset, limit, chosen.ordered), total

    def by_content(self) -> ContentLookup | IndexedLookup:
        """A snapshot for many lookups of runs by content hash (one lineage walk)."""
        with self._indexed() as connection:
            if connection is not None:
                return IndexedLookup(connection, [with_live_status(row) for row in
                                                  self._spooled_summaries(connection)])
        return ContentLookup(self)

    # -- sweeps: one small file each, written by the process that runs the sweep ----------

    def save_sweep(self, sweep: dict[str, Any]) -> None:
        os.makedirs(self.sweep_dir, exist_ok=True)
        journal.atomic_write_json(os.path.join(self.sweep_dir, f"{sweep['id']}.json"), sweep,
                                durable=False)

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep, newest first, without its list of runs."""
        names = os.listdir(self.sweep_dir) if os.path.isdir(self.sweep_dir) else []
        found = []
        for name in names:
            if name.endswith(".json") and not name.startswith("."):
                try:
                    with open(os.path.join(self.sweep_dir, name), encoding="utf-8") as handle:
                        document = json.load(handle)
                except (OSError, ValueError):
                    continue  # `sweep(id)` reports a damaged one
                document["run_count"] = len(document.pop("runs", ()))
                found.append(document)
        found.sort(key=lambda document: document.get("start") or "", reverse=True)
        return found

    def sweep(self, prefix: str) -> dict[str, Any]:
        """The sweep whose id starts with `prefix` (UnknownRun if none or several)."""
        names = os.listdir(self.sweep_dir) if os.path.isdir(self.sweep_dir) else []
        ids = [name[:-5] for name in names if name.endswith(".json") and
               not name.startswith(".") and name.startswith(prefix.lower())]
        if len(prefix) < MIN_PREFIX or len(ids) != 1:
            raise UnknownRun(f"no sweep {prefix}" if not ids or len(prefix) < MIN_PREFIX
                             else f"sweep id {prefix} is ambiguous ({len(ids)} sweeps)")
        path = os.path.join(self.sweep_dir, ids[0] + ".json")
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError) as exc:
            raise StoreDamaged(f"{path} is damaged ({exc})") from None

    def hash_algorithms(self) -> set[str]:
        """Every hash algorithm a stored run used (for searching by a file's content)."""
        with self._indexed() as connection:
            if connection is not None:
                used = {name for (name,) in connection.execute("SELECT name FROM algorithms")}
                used.update(event.get("hash_algorithm") for run in self._spooled(set())
                            for event in [*(run.get("inputs") or ()),
                                          *(run.get("outputs") or ())])
                return used - {None}
        with self._reading() as head:
            runs = [dict(doc) for doc in head.table(RUNS).all()]
            runs += self._spooled({run["id"] for run in runs})
            catalog = self._catalog(head)
        used = {event.get("hash_algorithm") for run in runs
                for event in [*(run.get("inputs") or ()), *(run.get("outputs") or ())]}
        for row in catalog:
            used.update(row.get("hash_algorithms", HASH_ALGORITHMS))
        return used - {None}

    def latest(self) -> dict[str, Any] | None:
        """The newest run's full record, reading only the shards that could hold it."""
        with self._reading() as head:
            candidates = [dict(doc) for doc in head.table(RUNS).all()]
            candidates += self._spooled({c["id"] for c in candidates})
            best = max((c.get("start") or "" for c in candidates), default="")
            for row in reversed(self._catalog(head)):
                if row["last_start"] > best:
                    candidates += self._records_of_shard(row["shard"])
                    best = max(best, row["last_start"])
        if not candidates:
            return None
        return with_live_status(max(candidates, key=lambda c: c.get("start") or ""))

    def _records_of_shard(self, number: int) -> list[dict[str, Any]]:
        with self._db(self._shard_path(number)) as shard:
            return [dict(doc) for doc in shard.table(RUNS).all()]

    def records(self, run_ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Full records, newest first: all of them, or those of `run_ids` (full ids)."""
        if run_ids is not None:
            with self._indexed() as connection:
                if connection is not None:
                    found = self._located(connection, run_ids)
                    found.sort(key=lambda r: r.get("start") or "", reverse=True)
                    return found
        wanted = set(run_ids) if run_ids is not None else None
        # A few ids prefilter the indexes by their raw text, as a search term does.
        needles = sorted(wanted) if wanted is not None and len(wanted) <= 64 else None
        with self._reading() as head, without_garbage_collection():
            found = [dict(doc) for doc in head.table(RUNS).all()
                     if wanted is None or doc["id"] in wanted]
            for row in self._catalog(head):
                if wanted is not None:
                    ids = {s["id"] for s in self._read_index(row["shard"], needles)}
                    if not ids & wanted:
                        continue
                found.extend(r for r in self._records_of_shard(row["shard"])
                             if wanted is None or r["id"] in wanted)
            seen = {r["id"] for r in found}
            found.extend(r for r in self._spooled(seen) if wanted is None or r["id"] in wanted)
        found = [with_live_status(r) for r in found]
        found.sort(key=lambda r: r.get("start") or "", reverse=True)
        return found

    def _located(self, connection: sqlite3.Connection, run_ids: list[str]
                 ) -> list[dict[str, Any]]:
        """The full records of `run_ids`, read from where the index says each lives (the
        head, one shard each), and from the spool."""
        wanted = set(run_ids)
        where: dict[int, set[str]] = {}
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start:start + 500]
            for run_id, location in connection.execute(
                    f"SELECT id, location FROM runs WHERE id IN ({','.join('?' * len(chunk))})",
                    chunk):
                where.setdefault(location, set()).add(run_id)
        found = []
        with without_garbage_collection():
            for location, ids in sorted(where.items()):
                if location == index.HEAD:
                    with self._db(self.db_path) as head:
                        found += [dict(doc) for doc in head.table(RUNS).all() if doc["id"] in ids]
                else:
                    found += [r for r in self._records_of_shard(location) if r["id"] in ids]
        seen = {record["id"] for record in found}
        found += [r for r in self._spooled(seen) if r["id"] in wanted]
        return [with_live_status(record) for record in found]

    def stream(self, run_ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
        for record, _text in self._streamed(run_ids):
            yield record

    def export_lines(self, run_ids: list[str] | None = None) -> Iterator[str]:
        """Each record as compact JSON, newest first: a sealed run's text is cut from its
        shard file as it was written (the same encoder and settings), not encoded again."""
        for record, text in self._streamed(run_ids):
            yield text if text is not None else json.dumps(record, ensure_ascii=False,
                                                            separators=(",", ":"))

    def _streamed(self, run_ids: list[str] | None
                  ) -> Iterator[tuple[dict[str, Any], str | None]]:
        """Records newest first, with their JSON text where it is at hand, a shard at a
        time: the order comes from the index (under the lock for that moment only), then
        each shard is read when its first run comes up (store files are replaced whole,
        so reading them without the lock is safe) and dropped when its runs are out. A run
        that moved meanwhile (a seal) is looked up again; one removed meanwhile (rm) is
        left out."""
        with self._indexed() as connection:
            order = None
            if connection is not None and run_ids is None:
                order = connection.execute(
                    "SELECT id, location, start FROM runs ORDER BY start DESC").fetchall()
                spooled = [with_live_status(r) for r in self._spooled(set())
                           if not connection.execute("SELECT 1 FROM runs WHERE id = ?",
                                                     (r["id"],)).fetchone()]
        if order is None:  # a few runs (`records` reads only their shards), or no index
            for record in self.records(run_ids):
                yield record, None
            return
        spooled.sort(key=lambda r: r.get("start") or "", reverse=True)
        cache: dict[int, dict[str, tuple[dict[str, Any], str | None]]] = {}
        for run_id, location, start in order:
            while spooled and (spooled[0].get("start") or "") >= start:
                yield spooled.pop(0), None
            if location not in cache:
                if len(cache) >= 4:
                    del cache[next(iter(cache))]  # the oldest shard read: its runs are out
                cache[location] = self._runs_at(location)
            found = cache[location].get(run_id)
            if found is None:
                moved = next(iter(self.records([run_id])), None)
                found = (moved, None) if moved is not None else None
            if found is not None:
                record, text = found
                if record.get("status") == "running":
                    record, text = with_live_status(record), None
                yield record, text
        for record in spooled:
            yield record, None

    def _runs_at(self, location: int) -> dict[str, tuple[dict[str, Any], str | None]]:
        """The full records in the head or in one shard, by id, each with its JSON text
        when the file is a shard as `_seal_if_full` writes it ({"runs":{"1":{...},...}})."""
        path = self.db_path if location == index.HEAD else self._shard_path(location)
        if location != index.HEAD:
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
                with without_garbage_collection():
                    return _shard_records(text)
            except (OSError, ValueError):
                pass  # read as any store file is, below: damage is reported as such
        with without_garbage_collection():
            data = _AtomicJSONStorage(path).read() or {}
        return {record["id"]: (record, None) for record in (data.get(RUNS) or {}).values()}

    # -- checking and repairing ------------------------------------------------------------

    def check(self, *, full: bool = False) -> list[str]:
        """Every problem found, one line each; an empty list means all is well.

        A sealed shard is decoded and compared with its index file unless the run index
        remembers doing so for the same files (inode, size and mtime of both: every
        rewrite renames a new file into place); `full` decodes every shard again."""
        problems = []
        if os.path.lexists(self.lock_path) and not os.path.isfile(self.lock_path):
            problems.append(f"{self.lock_path} is not a file: nothing can write the store "
                            "until it is removed")
        try:
            with self._locked(exclusive=False, timeout=30.0):
                with self._db(self.db_path) as head:
                    catalog = self._catalog(head)
                    seen = [doc["id"] for doc in head.table(RUNS).all()]
                listed = [row["shard"] for row in catalog]
                for number in sorted(set(self._shard_files()) - set(listed)):
                    problems.append(f"{self._shard_path(number)} is not in the catalog "
                                    "(an interrupted seal)")
                connection = self._fresh_index()
                verified = {} if full or connection is None else index.verified(connection)
                newly = []
                for number in listed:
                    stamp = index.fingerprint([self._shard_path(number), self._index_path(number)])
                    if verified.get(number, (None,))[0] == stamp:
                        seen += verified[number][1]
                        continue
                    try:
                        ids = [r["id"] for r in self._records_of_shard(number)]
                        indexed = [s["id"] for s in self._read_index(number)]
                    except StoreError as exc:
                        problems.append(str(exc))
                        continue
                    if sorted(ids) != sorted(indexed):
                        problems.append(f"{self._index_path(number)} does not match its shard")
                    else:
                        newly.append((number, stamp, ids))
                    seen += ids
                if connection is not None and newly:
                    index.remember_verified(connection, newly)
                if len(seen) != len(set(seen)):
                    problems.append(f"{len(seen) - len(set(seen))} run(s) are stored twice")
        except StoreError as exc:
            problems.append(str(exc))
        problems += journal.unreadable(self.home)
        for run_id in journal.orphans(self.home):
            problems.append(f"{journal.Journal(self.home, run_id).events_path} has events "
                            "but no record (a process that outlived its run): repair merges it")
        return problems

    def pending(self) -> int:
        """How many finished runs wait in the spool (kept aside)."""
        return sum(1 for r in self._spooled(set()) if r.get("status") != "running")

    def repair(self) -> list[str]:
        """Salvage every readable run from damaged files (backed up first), rebuild the
        shard indexes, and merge the spool. Returns what was done, one line each."""
        report = []
        with self._locked(exclusive=True, timeout=60.0):
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
            head_data = self._salvage(self.db_path, stamp, report)
            catalog = {}  # made again from the shards on disk: a row may name a lost one
            in_shards: set[str] = set()
            for number in self._shard_files():
                shard_data = self._salvage(self._shard_path(number), stamp, report)
                records = [r for r in (shard_data.get(RUNS) or {}).values()
                           if r.get("id") not in in_shards]
                in_shards.update(r["id"] for r in records)
                self._write_index(number, records)
                catalog[number] = _catalog_row(number, records)
            head_data[CATALOG] = {str(n): row for n, row in sorted(catalog.items())}
            # A seal interrupted after writing its shard left the same runs in the head.
            head_runs = [r for r in (head_data.get(RUNS) or {}).values()
                         if r.get("id") not in in_shards]
            if len(head_runs) != len(head_data.get(RUNS) or {}):
                report.append(f"{len(head_data[RUNS]) - len(head_runs)} run(s) were both in "
                              f"{self.db_path} and a shard: kept once")
            head_data[RUNS] = {str(i): r for i, r in enumerate(head_runs, 1)}
            # ...and may have left the journals of runs that its shard already holds.
            for run_id in set(journal.journals(self.home)) & in_shards:
                journal.remove(self.home, run_id)
            head_data[META] = {"1": {"schema": SCHEMA_VERSION}}
            os.makedirs(os.path.dirname(self.db_path), exist_ok=True)
            journal.atomic_write_json(self.db_path, head_data)
            for run_id in journal.orphans(self.home):
                report.append(self._adopt_orphan(run_id))
        merged = self.merge_pending(timeout=60.0)
        if merged:
            kept = os.path.join(self.home, journal.SPOOL_DIR)
            report.append(f"merged {len(merged)} run(s) kept aside in {kept}")
        with self._locked(exclusive=True, timeout=60.0):  # the run index, made again
            try:
                self._index = None
                self._build_index(self._fingerprint())
            except OSError as exc:
                report.append(str(exc))
        return report

    def _adopt_orphan(self, run_id: str) -> str:
        """Bring an orphan journal's events in (the caller holds the exclusive lock): into
        its run if the store holds it, else as a run of its own, `lost`, with what the
        events say; the merge that follows takes it. Returns what was done."""
        events = journal.read_events(self.home, run_id)
        target = journal.Journal(self.home, run_id)
        files = sum(event.get("kind") in ("input", "output") for event in events)
        if self._change_stored(run_id, lambda record: journal.apply_events(record, events), []):
            os.unlink(target.events_path)
            return f"added {files} file event(s) of an orphan journal to run {run_id[:8]}"
        times = sorted(event["time"] for event in events if isinstance(event.get("time"), str))
        when = times[0] if times else datetime.fromtimestamp(
            os.path.getmtime(target.events_path), timezone.utc).isoformat()
        target.write_record({
            "id": run_id, "script": "<unknown>", "command": [], "cwd": "", "start": when,
            "end": None, "duration": None, "status": "lost", "exit_code": None,
            "exception": None, "hostname": "", "user": "", "platform": "", "python": "",
            "git": None, "libraries": {}, "params": {}, "results": {}, "label": "",
            "tags": [], "parent": None, "children": [], "commands": [],
            "notes": [{"text": "made by `recipe db repair` from events found without their "
                               "run's record (a process that outlived its run)",
                       "time": datetime.now(timezone.utc).isoformat()}]})
        return f"stored an orphan journal ({files} file event(s)) as lost run {run_id[:8]}"

    def _shard_files(self) -> list[int]:
        """Numbers of the shard files on disk, listed in the catalog or not."""
        names = os.listdir(self.shard_dir) if os.path.isdir(self.shard_dir) else []
        return sorted(int(name[:-5]) for name in names if re.fullmatch(r"\d+\.json", name))

    def _salvage(self, path: str, stamp: str, report: list[str]) -> dict[str, Any]:
        """The file's data; if damaged, a backup copy and every well-formed run that can
        be read from it. What is valid JSON but not a run (a string, a list, a run
        without its id) is set aside in `backups/`, never dropped unsaid."""
        storage = _AtomicJSONStorage(path)
        try:
            return storage.read() or {}
        except StoreDamaged:
            pass
        import shutil

        os.makedirs(self.backup_dir, exist_ok=True)
        backup = os.path.join(self.backup_dir, f"{os.path.basename(path)}.{stamp}.damaged")
        shutil.copy2(path, backup)
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
        try:
            runs, aside = _sort_out(json.loads(text))
        except ValueError:  # not JSON (torn): find the run objects in the text
            runs, aside = _sort_out({RUNS: _salvage_runs(text)})
        data = {RUNS: {str(i): r for i, r in enumerate(runs, 1)}}
        storage.write(data)
        said = f"salvaged {len(runs)} run(s)"
        if aside:
            kept = os.path.join(self.backup_dir, f"{os.path.basename(path)}.{stamp}.set-aside.json")
            journal.atomic_write_json(kept, aside, indent=2)
            said += f", set aside {len(aside)} entr{'y' if len(aside) == 1 else 'ies'} that " \
                    f"are not runs in {kept}"
        report.append(f"{path} was damaged: {said}; the damaged file is kept as {backup}")
        return data


def _sort_out(data: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """The well-formed runs of a store file's data, whatever its shape (a table that is a
    list, a file that is one), each once; and the entries of its runs tables that are not
    runs. Catalog and meta rows are neither: repair makes them again."""
    tables = data if isinstance(data, dict) else {RUNS: data}
    runs, aside, seen = [], [], set()
    for name, rows in tables.items():
        if name in (CATALOG, META):
            continue
        entries = rows.values() if isinstance(rows, dict) else rows if isinstance(rows, list) \
            else [rows]
        for entry in entries:
            if malformed(entry):
                aside.append(entry)
            elif entry["id"] not in seen:
                seen.add(entry["id"])
                runs.append(entry)
    return runs, aside


def _shape_problem(data: dict[str, Any]) -> str:
    """What is wrong with the shape of a store file's tables ("" if nothing): TinyDB
    expects each table to be an object of objects, readers expect runs and catalog rows
    to have their fields."""
    for name, rows in data.items():
        if not isinstance(rows, dict):
            return f"its table {name!r} is a {type(rows).__name__}, not an object"
        for key, row in rows.items():
            if name == RUNS:
                problem = malformed(row)
            elif name == CATALOG:
                problem = _catalog_problem(row)
            else:
                problem = "" if isinstance(row, dict) else f"a {type(row).__name__}"
            if problem:
                return f"{name} row {key}: {problem}"
    return ""


def _catalog_problem(row: Any) -> str:
    if not isinstance(row, dict):
        return f"a {type(row).__name__}, not an object"
    for field, kind in (("shard", int), ("count", int), ("first_start", str),
                        ("last_start", str)):
        if not isinstance(row.get(field), kind):
            return f"its {field} is missing or not a{'n' if kind is int else ''} {kind.__name__}"
    return ""


class ContentLookup:
    """The runs that read or wrote given content, level after level of a lineage walk:
    the head and the spool are read once, and a sealed shard is decoded only when its
    hash list holds content asked for (then kept)."""

    def __init__(self, store: TinyStore) -> None:
        self.store = store
        with store._reading() as head, without_garbage_collection():
            self.loose = store._loose(head)
            self.shards = [row["shard"] for row in store._catalog(head)]
        self.decoded: dict[int, list[dict[str, Any]]] = {}

    def runs_touching(self, digests: set[str]) -> list[dict[str, Any]]:
        def touches(row: dict[str, Any]) -> bool:
            return any(event.get("hash") in digests
                       for kind in ("inputs", "outputs") for event in row.get(kind) or ())

        found = [row for row in self.loose if touches(row)]
        with without_garbage_collection():
            for number in self.shards:
                if not digests.isdisjoint(self.store._hashes_of_shard(number)):
                    if number not in self.decoded:
                        self.decoded[number] = self.store._read_index(number)
                    found.extend(row for row in self.decoded[number] if touches(row))
        return found


class IndexedLookup:
    """The runs that read or wrote given content, from the run index's hash column (and
    the spool's runs, read once)."""

    def __init__(self, connection: sqlite3.Connection, spooled: list[dict[str, Any]]) -> None:
        self.connection = connection
        self.spooled = spooled

    def runs_touching(self, digests: set[str]) -> list[dict[str, Any]]:
        def touches(row: dict[str, Any]) -> bool:
            return any(event.get("hash") in digests
                       for kind in ("inputs", "outputs") for event in row.get(kind) or ())

        found = [row for row in self.spooled if touches(row)]
        ordered = sorted(digests)
        with without_garbage_collection():
            for start in range(0, len(ordered), 500):
                chunk = ordered[start:start + 500]
                found += (with_live_status(json.loads(text)) for (text,) in self.connection.execute(
                    "SELECT r.summary FROM runs r WHERE r.number IN (SELECT run FROM files WHERE "
                    f"hash IN ({','.join('?' * len(chunk))}))", chunk))
        return list({row["id"]: row for row in found}.values())


_SHARD_START = '{"' + RUNS + '":{'
_DECODER = json.JSONDecoder()


def _shard_records(text: str) -> dict[str, tuple[dict[str, Any], str]]:
    """The runs of a shard file's text, by id, each with the slice of text that encodes
    it. ValueError if the text is not laid out as a seal writes it."""
    if not text.startswith(_SHARD_START):
        raise ValueError("not a sealed shard's layout")
    found, position, end = {}, len(_SHARD_START), len(text)
    while position < end and text[position] != "}":
        _key, position = _DECODER.raw_decode(text, position)
        if text[position] != ":":
            raise ValueError("not a sealed shard's layout")
        record, after = _DECODER.raw_decode(text, position + 1)
        if not isinstance(record, dict) or not isinstance(record.get("id"), str):
            raise ValueError("not a run")
        found[record["id"]] = (record, text[position + 1:after])
        position = after + 1 if after < end and text[after] == "," else after
    return found


def _content_hashes(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({event["hash"] for row in rows for kind in ("inputs", "outputs")
                   for event in row.get(kind) or () if event.get("hash")})


def _catalog_row(number: int, records: list[dict[str, Any]]) -> dict[str, Any]:
    """What the head knows of a sealed shard without reading it."""
    starts = [record.get("start") or "" for record in records] or [""]
    algorithms = {event.get("hash_algorithm") for record in records
                  for event in [*(record.get("inputs") or ()), *(record.get("outputs") or ())]}
    return {"shard": number, "count": len(records), "first_start": min(starts),
            "last_start": max(starts), "hash_algorithms": sorted(algorithms - {None})}


_RUN_START = re.compile(r'\{"id":\s*"[0-9a-f]{32}"')


def _salvage_runs(text: str) -> list[dict[str, Any]]:
    """Every complete run object in a damaged JSON text (records begin with their id)."""
    decoder = json.JSONDecoder()
    runs, seen = [], set()
    for match in _RUN_START.finditer(text):
        try:
            record, _end = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("start") and record["id"] not in seen:
            seen.add(record["id"])
            runs.append(record)
    return runs
