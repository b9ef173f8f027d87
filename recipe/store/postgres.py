"""A team store on a PostgreSQL server (psycopg 3): the `Store` interface in SQL.

    runs            one row per run: the full record (JSONB), its summary (what listing
                    reads), and the columns queries filter and order by: started, script,
                    script_name, status, computation, params/results (JSONB, GIN), trashed (when
                    it was moved to the trash; NULL for a run in the store)
    files           one row per logged file event: run id, kind, path, basename, hash
    hash_algorithms every hash algorithm a stored run used (search hashes a file by each)
    sweeps          one row per sweep
    schema_version  the schema's version; `recipe db upgrade` brings it up to date

Every query is answered by SQL over indexes (never "read every run, then filter"); the
spool under RECIPE_HOME (runs in progress, or kept aside while the server is unreachable)
is read as with the embedded store, so a run shows here while it runs. Writes are upserts
by run id: merging the same journal twice, from two processes or two machines, stores it
once. The password (URL, PGPASSWORD, PGPASSFILE) never appears in a message.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .. import config
from ..record import journal
from .base import (
    MIN_PREFIX,
    Store,
    StoreError,
    StoreLocked,
    UnknownRun,
    newest_completed,
    page_among_spooled,
    summary,
    with_live_status,
)
from .query import Condition, RunFilter, RunQuery, Search

SCHEMA_VERSION = 2
CONNECT_TIMEOUT = 5  # seconds; a merge detached from a script must not hang on a dead host
_SCHEMA_LOCK = 0x7265636970  # pg_advisory_xact_lock key while creating or upgrading

# Text columns compare in byte order ("C"): ISO times sort as strings, as in TinyDB, and
# `LIKE 'prefix%'` can use the btree indexes.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id text COLLATE "C" PRIMARY KEY,
    record jsonb NOT NULL,
    summary jsonb NOT NULL,
    started text COLLATE "C" NOT NULL DEFAULT '',
    script text COLLATE "C",
    script_name text COLLATE "C",
    status text COLLATE "C",
    hostname text COLLATE "C",
    computation text COLLATE "C",
    params jsonb NOT NULL DEFAULT '{}',
    results jsonb NOT NULL DEFAULT '{}',
    tags jsonb NOT NULL DEFAULT '[]',
    trashed text COLLATE "C"
);
CREATE TABLE IF NOT EXISTS files (
    run_id text COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind text COLLATE "C" NOT NULL,
    path text COLLATE "C",
    basename text COLLATE "C",
    hash text COLLATE "C",
    hash_algorithm text COLLATE "C"
);
CREATE TABLE IF NOT EXISTS hash_algorithms (name text COLLATE "C" PRIMARY KEY);
CREATE TABLE IF NOT EXISTS sweeps (
    id text COLLATE "C" PRIMARY KEY,
    started text COLLATE "C" NOT NULL DEFAULT '',
    document jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
CREATE INDEX IF NOT EXISTS runs_script ON runs (script);
CREATE INDEX IF NOT EXISTS runs_script_name ON runs (script_name);
CREATE INDEX IF NOT EXISTS runs_status ON runs (status);
CREATE INDEX IF NOT EXISTS runs_computation ON runs (computation);
CREATE INDEX IF NOT EXISTS runs_params ON runs USING gin (params);
CREATE INDEX IF NOT EXISTS runs_results ON runs USING gin (results);
CREATE INDEX IF NOT EXISTS runs_tags ON runs USING gin (tags);
CREATE INDEX IF NOT EXISTS files_run ON files (run_id);
CREATE INDEX IF NOT EXISTS files_path ON files (path);
CREATE INDEX IF NOT EXISTS files_basename ON files (basename);
CREATE INDEX IF NOT EXISTS files_hash ON files (hash);
"""
# A path substring (`recipe search graph.png`) is found through trigrams: pg_trgm comes
# with Debian's postgresql package and is a trusted extension (a database owner may
# create it). Without it substring search still works, by scanning `files`.
TRIGRAMS = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX IF NOT EXISTS files_path_trigrams ON files USING gin (path gin_trgm_ops);
"""

# What each schema version adds to the one before, applied in order by `recipe db upgrade`
# (a new database gets SCHEMA_V1 and every step at once).
MIGRATIONS = {
    # The runs list counts the runs not in the trash (its page count): over this partial
    # index of empty keys, 7 MB at 1M runs, an index-only scan of 30-36 ms instead of a
    # 270 ms scan of every row (docs/performance.md, item 14).
    2: "CREATE INDEX IF NOT EXISTS runs_untrashed ON runs (trashed) WHERE trashed IS NULL",
}


def is_url(text: str) -> bool:
    """Does `[store] url` (or `db copy --to`) name a PostgreSQL server?"""
    return text.startswith(("postgresql://", "postgres://")) or (
        "=" in text and "://" not in text and not os.path.exists(text))


def redact(text: str, url: str = "") -> str:
    """`text` without the password: the one in `url` (and PGPASSWORD) wherever it occurs,
    and any `user:password@` or `password=` in it."""
    text = config.redact_url(text)
    secrets = {os.environ.get("PGPASSWORD", "")}
    if url:
        try:
            from psycopg.conninfo import conninfo_to_dict

            secrets.add(str(conninfo_to_dict(url).get("password") or ""))
        except Exception:  # never-raise guard: a malformed URL is reported elsewhere
            pass
    for secret in secrets - {""}:
        text = text.replace(secret, config.REDACTED)
    return text


class StoreUnreachable(StoreError):
    """The server could not be reached (or refused us); the run waits in the spool."""


def _like(text: str) -> str:
    """`text` for a LIKE pattern, its wildcards taken literally (the escape is \\)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json(value: Any) -> str:
    """JSON that PostgreSQL accepts: NaN and infinities (which Python's json writes but
    JSONB refuses) become the strings "NaN", "Infinity", "-Infinity"."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def _columns(record: dict[str, Any]) -> tuple[Any, ...]:
    """The `runs` row of a record, in INSERT order."""
    script = record.get("script") or ""
    return (record["id"], _json(record), _json(summary(record)), record.get("start") or "",
            script, os.path.basename(script) or script, record.get("status"),
            record.get("hostname"), record.get("computation"),
            _json(record.get("params") or {}), _json(record.get("results") or {}),
            _json(record.get("tags") or []))


def _file_rows(record: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    for kind in ("inputs", "outputs"):
        for event in record.get(kind) or ():
            path = event.get("path")
            yield (record["id"], kind[:-1], path,
                   os.path.basename(path) if isinstance(path, str) else None,
                   event.get("hash"), event.get("hash_algorithm"))


RUN_COLUMNS = ("id, record, summary, started, script, script_name, status, hostname, "
               "computation, params, results, tags")
_UPSERT = (f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
           "%s, %s, %s) ON CONFLICT (id) DO UPDATE SET " + ", ".join(
               f"{name} = EXCLUDED.{name}" for name in RUN_COLUMNS.split(", ")[1:]))
_INSERT_FILE = ("INSERT INTO files (run_id, kind, path, basename, hash, hash_algorithm) "
                "VALUES (%s, %s, %s, %s, %s, %s)")


class _Where:
    """A WHERE clause under construction: SQL fragments and their parameters."""

    def __init__(self) -> None:
        self.parts: list[str] = ["trashed IS NULL"]
        self.args: list[Any] = []

    def add(self, sql: str, *args: Any) -> None:
        self.parts.append(sql)
        self.args.extend(args)

    @property
    def sql(self) -> str:
        return " AND ".join(self.parts)


class PostgresStore(Store):
    """Runs on a PostgreSQL server, named by `[store] url` (or RECIPE_STORE_URL)."""

    def __init__(self, settings: config.Config, url: str | None = None) -> None:
        self.home = settings.home
        self.url = url if url is not None else settings.store_url
        self.db_path = redact(self.url, self.url)  # what messages call the store
        self.warnings: list[str] = []
        self._connection: Any = None

    # -- the connection ------------------------------------------------------------------

    def _connect(self) -> Any:
        """The store's connection, opened once, to a database of this recipe's schema."""
        if self._connection is not None and not self._connection.closed:
            return self._connection
        connection = self._open()
        try:
            self._prepare_schema(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _open(self) -> Any:
        """A new connection to the server, whatever its schema."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        try:
            given = conninfo_to_dict(self.url)
        except psycopg.Error as exc:
            raise StoreError(f"[store] url is not a PostgreSQL URL or conninfo "
                             f"({' '.join(redact(str(exc), self.url).split())})") from None
        extra: dict[str, Any] = {}
        if "connect_timeout" not in given and not os.environ.get("PGCONNECT_TIMEOUT"):
            extra["connect_timeout"] = CONNECT_TIMEOUT
        if "application_name" not in given and not os.environ.get("PGAPPNAME"):
            extra["application_name"] = "recipe"
        try:
            return psycopg.connect(self.url, autocommit=True, **extra)
        except psycopg.Error as exc:
            reason = " ".join(redact(str(exc), self.url).split())
            raise StoreUnreachable(f"cannot reach the store {self.db_path}: {reason}"
                                   ) from None

    @contextmanager
    def _cursor(self, *, transaction: bool = False) -> Iterator[Any]:
        """A cursor; with `transaction`, everything done with it commits together.
        Server errors become one StoreError line (the password redacted)."""
        import psycopg

        connection = self._connect()
        try:
            if transaction:
                with connection.transaction(), connection.cursor() as cursor:
                    yield cursor
            else:
                with connection.cursor() as cursor:
                    yield cursor
        except psycopg.OperationalError as exc:
            self.close()
            raise StoreUnreachable(f"lost the store {self.db_path}: "
                                   f"{' '.join(redact(str(exc), self.url).split())}") from None
        except psycopg.Error as exc:
            raise StoreError(f"the store {self.db_path} refused a query: "
                             f"{' '.join(redact(str(exc), self.url).split())}") from None

    def __del__(self) -> None:
        self.close()  # before psycopg's own finalizer warns of an open connection

    def close(self) -> None:
        if getattr(self, "_connection", None) is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def _prepare_schema(self, connection: Any) -> None:
        """Create the schema in an empty database; refuse one of another version."""
        version = self.schema_version(connection)
        if version is None:
            self.upgrade(connection)
        elif version > SCHEMA_VERSION:
            raise StoreError(f"the store {self.db_path} has schema {version}; this recipe "
                             f"reads schema {SCHEMA_VERSION}: upgrade recipe")
        elif version < SCHEMA_VERSION:
            raise StoreError(f"the store {self.db_path} has schema {version}: run "
                             "`recipe db upgrade`")

    @staticmethod
    def schema_version(connection: Any) -> int | None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('schema_version') IS NOT NULL")
            if not cursor.fetchone()[0]:
                return None
            cursor.execute("SELECT max(version) FROM schema_version")
            return cursor.fetchone()[0]

    def upgrade(self, connection: Any = None) -> list[str]:
        """Create the schema, or bring it to SCHEMA_VERSION; what was done, one line each.
        Several processes may do it at once: an advisory lock makes them take turns."""
        if connection is None:  # `recipe db upgrade`: a connection of its own, closed after
            with self._open() as connection:
                return self.upgrade(connection)
        import psycopg

        done: list[str] = []
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            version = self.schema_version(connection)
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(f"the store {self.db_path} has schema {version}, newer "
                                 f"than this recipe's {SCHEMA_VERSION}: upgrade recipe")
            if version == SCHEMA_VERSION:
                return done
            if version is None:
                cursor.execute(SCHEMA_V1)
                try:
                    with connection.transaction():
                        cursor.execute(TRIGRAMS)
                except psycopg.Error as exc:
                    done.append("no trigram index (pg_trgm: "
                                f"{' '.join(str(exc).split())}): path search scans")
            for step in range((version or 1) + 1, SCHEMA_VERSION + 1):
                cursor.execute(MIGRATIONS[step])
            cursor.execute("INSERT INTO schema_version (version) VALUES (%s)",
                           (SCHEMA_VERSION,))
            done.insert(0, f"created the store schema {SCHEMA_VERSION} in {self.db_path}"
                        if version is None else
                        f"upgraded the store {self.db_path} from schema {version} to "
                        f"{SCHEMA_VERSION}")
        return done

    # -- writing -------------------------------------------------------------------------

    def merge_pending(self, *, timeout: float = 10.0) -> list[str]:
        """Send every finished (or lost) run in the spool to the server, then remove its
        journal. Raises StoreUnreachable (the spool kept as it was) when the server is
        down: nothing leaves the spool before the server holds it. The merges of one
        machine take turns (a lock under RECIPE_HOME): one reading a journal that another
        is removing would store the run without its files."""
        if not journal.journals(self.home):
            return []
        with self._spool_locked(timeout):
            records = []
            for run_id in journal.journals(self.home):
                try:
                    record = with_live_status(journal.read(self.home, run_id))
                except (OSError, ValueError):
                    continue  # unreadable journal: `db check` reports it
                if record.get("status") != "running":
                    records.append(record)
            if not records:
                return []
            self.put(records)
            for record in records:
                journal.remove(self.home, record["id"])
        return [record["id"] for record in records]

    @contextmanager
    def _spool_locked(self, timeout: float) -> Iterator[None]:
        import fcntl
        import time

        descriptor = os.open(os.path.join(self.home, "spool.lock"), os.O_RDWR | os.O_CREAT,
                             0o600)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreLocked(f"the spool of {self.home} stayed locked for "
                                          f"{timeout:g} s") from None
                    time.sleep(0.005)
            yield
        finally:
            os.close(descriptor)  # closing releases the lock

    def put(self, records: list[dict[str, Any]]) -> None:
        """Store whole records, replacing any stored under the same id (one transaction)."""
        algorithms = sorted({event.get("hash_algorithm") for record in records
                             for kind in ("inputs", "outputs")
                             for event in record.get(kind) or ()} - {None})
        with self._cursor(transaction=True) as cursor:
            # The upsert first: it locks the row, so that a second merge of the same run
            # waits here and then replaces the files the first one wrote.
            cursor.executemany(_UPSERT, [_columns(record) for record in records])
            cursor.execute("DELETE FROM files WHERE run_id = ANY(%s)",
                           ([record["id"] for record in records],))
            cursor.executemany(_INSERT_FILE, [row for record in records
                                              for row in _file_rows(record)])
            if algorithms:
                cursor.executemany("INSERT INTO hash_algorithms VALUES (%s) "
                                   "ON CONFLICT DO NOTHING", [(a,) for a in algorithms])

    def copy_in(self, records: Iterable[dict[str, Any]], *, batch: int = 5000,
                progress: Callable[[int], None] | None = None) -> int:
        """Bulk load (`db copy`, bench): records in batches through COPY into staging
        tables, then upserted, so that copying the same store twice adds nothing."""
        total = 0
        chunk: list[dict[str, Any]] = []
        for record in records:
            chunk.append(record)
            if len(chunk) >= batch:
                total += self._copy_batch(chunk)
                chunk = []
                if progress is not None:
                    progress(total)
        if chunk:
            total += self._copy_batch(chunk)
            if progress is not None:
                progress(total)
        return total

    def _copy_batch(self, records: list[dict[str, Any]]) -> int:
        records = list({record["id"]: record for record in records}.values())
        algorithms = sorted({row[5] for record in records for row in _file_rows(record)}
                            - {None})
        with self._cursor(transaction=True) as cursor:
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS staged_runs "
                           "(LIKE runs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS staged_files "
                           "(LIKE files) ON COMMIT DELETE ROWS")
            with cursor.copy(f"COPY staged_runs ({RUN_COLUMNS}) FROM STDIN") as copy:
                for record in records:
                    copy.write_row(_columns(record))
            with cursor.copy("COPY staged_files (run_id, kind, path, basename, hash, "
                             "hash_algorithm) FROM STDIN") as copy:
                for record in records:
                    for row in _file_rows(record):
                        copy.write_row(row)
            cursor.execute(f"INSERT INTO runs ({RUN_COLUMNS}) SELECT {RUN_COLUMNS} FROM "
                           "staged_runs ON CONFLICT (id) DO UPDATE SET " + ", ".join(
                               f"{name} = EXCLUDED.{name}"
                               for name in RUN_COLUMNS.split(", ")[1:]))
            cursor.execute("DELETE FROM files WHERE run_id IN (SELECT id FROM staged_runs)")
            cursor.execute("INSERT INTO files SELECT * FROM staged_files")
            if algorithms:
                cursor.executemany("INSERT INTO hash_algorithms VALUES (%s) "
                                   "ON CONFLICT DO NOTHING", [(a,) for a in algorithms])
        return len(records)

    def annotate(self, run_id: str, annotation: dict[str, Any]) -> None:
        """Add a note or tags to a stored run (row locked while it changes); to a run
        still in this machine's spool, by appending to its journal."""
        if run_id in journal.journals(self.home):
            journal.Journal(self.home, run_id).append_events([annotation])
            return
        with self._cursor(transaction=True) as cursor:
            cursor.execute("SELECT record FROM runs WHERE id = %s FOR UPDATE", (run_id,))
            found = cursor.fetchone()
            if found is None:
                raise UnknownRun(f"no run {run_id}")
            record = found[0]
            journal.annotate(record, annotation)
            cursor.execute("UPDATE runs SET record = %s, summary = %s, tags = %s "
                           "WHERE id = %s", (_json(record), _json(summary(record)),
                                             _json(record.get("tags") or []), run_id))

    # -- the trash, and runs from elsewhere ------------------------------------------------

    def trash(self, run_ids: list[str]) -> list[str]:
        """Mark stored runs as in the trash (the time they went there)."""
        from datetime import datetime, timezone

        wanted = sorted(set(run_ids))
        try:
            self.merge_pending()
        except (StoreError, OSError):
            pass  # a run kept aside is reported below as not stored yet
        spooled = set(wanted) & set(journal.journals(self.home))
        if spooled:
            raise StoreError(f"run {min(spooled)[:8]} is still running (or waits in the "
                             "spool): remove it once it has ended and been stored")
        with self._cursor(transaction=True) as cursor:
            cursor.execute("UPDATE runs SET trashed = %s WHERE id = ANY(%s) AND trashed IS "
                           "NULL RETURNING id",
                           (datetime.now(timezone.utc).isoformat(), wanted))
            missing = set(wanted) - {row[0] for row in cursor.fetchall()}
            if missing:  # rolls the others back: all or nothing, as with TinyDB
                raise UnknownRun(f"no run {min(missing)}")
        return wanted

    def restore(self, run_ids: list[str]) -> list[str]:
        wanted = sorted(set(run_ids))
        with self._cursor(transaction=True) as cursor:
            cursor.execute("UPDATE runs SET trashed = NULL WHERE id = ANY(%s) AND trashed IS "
                           "NOT NULL RETURNING id", (wanted,))
            missing = set(wanted) - {row[0] for row in cursor.fetchall()}
            if missing:
                raise UnknownRun(f"no run {min(missing)} in the trash")
        return wanted

    def trashed(self) -> list[dict[str, Any]]:
        with self._cursor() as cursor:
            cursor.execute("SELECT summary, trashed FROM runs WHERE trashed IS NOT NULL "
                           "ORDER BY started DESC, id DESC")
            return [dict(row[0], trashed=row[1]) for row in cursor.fetchall()]

    def purge(self, before: str = "") -> list[str]:
        with self._cursor() as cursor:
            cursor.execute("DELETE FROM runs WHERE trashed IS NOT NULL AND (%s = '' OR "
                           "trashed < %s) RETURNING id", (before, before))
            return sorted(row[0] for row in cursor.fetchall())

    def import_records(self, records: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Store exported runs with their ids, straight to the server, skipping those it
        holds (in the store or the trash) or this machine's spool holds."""
        unique = list({record["id"]: record for record in records}.values())
        here = self._stored_among([record["id"] for record in unique])
        here |= set(journal.journals(self.home))
        added = [record for record in unique if record["id"] not in here]
        if added:
            self.copy_in(added)
        return ([record["id"] for record in added],
                [record["id"] for record in records if record["id"] in here])

    def save_sweep(self, sweep: dict[str, Any]) -> None:
        with self._cursor() as cursor:
            cursor.execute("INSERT INTO sweeps (id, started, document) VALUES (%s, %s, %s) "
                           "ON CONFLICT (id) DO UPDATE SET started = EXCLUDED.started, "
                           "document = EXCLUDED.document",
                           (sweep["id"], sweep.get("start") or "", _json(sweep)))

    # -- the spool: this machine's runs in progress, or kept aside -----------------------

    def _spooled(self) -> list[dict[str, Any]]:
        records = []
        for run_id in journal.journals(self.home):
            try:
                records.append(with_live_status(journal.read(self.home, run_id)))
            except (OSError, ValueError):
                continue
        return records

    def _reading(self) -> list[dict[str, Any]]:
        """Before reading: bring finished runs in (so the spool stays short); the records
        still in the spool, which readers show beside the server's."""
        try:
            self.merge_pending()
        except StoreUnreachable:
            raise  # nothing can be read either: one error line
        except (StoreError, OSError):
            pass  # a journal that cannot go: `db check` says why
        return self._spooled()

    # -- reading -------------------------------------------------------------------------

    def _summaries_where(self, where: _Where, *, order: str = "started DESC, id DESC",
                         limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:
        sql = f"SELECT summary FROM runs WHERE {where.sql} ORDER BY {order}"
        args = list(where.args)
        if limit is not None:
            sql += " LIMIT %s OFFSET %s"
            args += [limit, offset]
        with self._cursor() as cursor:
            cursor.execute(sql, args)
            return [with_live_status(row[0]) for row in cursor.fetchall()]

    @staticmethod
    def _needles_sql(needles: list[str], where: _Where) -> None:
        """Runs that may hold one of `needles` (JSON-escaped strings) where the callers of
        `summaries(needles)` look for it: a file path containing it, a hash or an id
        starting with it. (`completed`, which looks for a script, has its own query.)"""
        texts = [json.loads(f'"{needle}"') for needle in needles]
        parts, args = [], []
        for text in texts:
            parts += ["SELECT run_id FROM files WHERE path LIKE %s",
                      "SELECT run_id FROM files WHERE hash LIKE %s",
                      "SELECT id FROM runs WHERE id LIKE %s"]
            args += [f"%{_like(text)}%", _like(text) + "%", _like(text.lower()) + "%"]
        where.add(f"id IN ({' UNION '.join(parts)})", *args)

    def summaries(self, needles: list[str] | None = None) -> list[dict[str, Any]]:
        spooled = self._reading()
        where = _Where()
        if needles is not None:
            if not needles:
                return []
            self._needles_sql(needles, where)
        return self._with_spooled(self._summaries_where(where), spooled)

    @staticmethod
    def _with_spooled(rows: list[dict[str, Any]], spooled: list[dict[str, Any]],
                      keep: Callable[[dict[str, Any]], bool] | None = None
                      ) -> list[dict[str, Any]]:
        """The server's rows and the spooled runs it lacks, newest first."""
        stored = {row["id"] for row in rows}
        return _newest_first(rows + [
            summary(record) for record in spooled
            if record["id"] not in stored and (keep is None or keep(summary(record)))])

    def _search_sql(self, search: Search, where: _Where, *, or_id_prefix: bool = False
                    ) -> None:
        """The runs `search` matches, in SQL (exactly `Search.matches`)."""
        if search.by_id:
            where.add("id LIKE %s", _like(search.term.lower()) + "%")
            return
        if search.pattern is not None:
            # Python's regular expressions are not PostgreSQL's: test the distinct paths.
            with self._cursor() as cursor:
                cursor.execute("SELECT DISTINCT path FROM files WHERE path IS NOT NULL")
                paths = [row[0] for row in cursor if search.pattern.search(row[0])]
            parts = ["SELECT run_id FROM files WHERE path = ANY(%s)"]
            args: list[Any] = [paths]
        else:
            parts = ["SELECT run_id FROM files WHERE path LIKE %s"]
            args = [f"%{_like(search.term)}%"]
            for algorithm, digest in sorted(search.hashes):
                parts.append("SELECT run_id FROM files WHERE hash = %s AND hash_algorithm = %s")
                args += [digest, algorithm]
            if search.hex_prefix is not None:
                parts.append("SELECT run_id FROM files WHERE hash LIKE %s")
                args.append(_like(search.hex_prefix) + "%")
        if or_id_prefix:  # in the UNION, not `OR id LIKE`: an OR made the server test
            parts.append("SELECT id FROM runs WHERE id LIKE %s")  # every run (1.1 s at 1M)
            args.append(_like(search.term.lower()) + "%")
        where.add(f"id IN ({' UNION '.join(parts)})", *args)

    @staticmethod
    def _script_sql(script: str, where: _Where) -> None:
        """`filter_runs`'s script test: its file name, its path, or a suffix of it."""
        if os.sep not in script:
            where.add("(script_name = %s OR script = %s)", script, script)
        else:
            where.add("(script = %s OR script LIKE %s)", script,
                      "%" + _like(os.sep + script.lstrip(os.sep)))

    @staticmethod
    def _condition_sql(condition: Condition, where: _Where) -> bool:
        """`Condition.holds` in SQL; False if this one cannot be said exactly in SQL."""
        wanted, operator = condition.value, condition.operator
        value = ("(CASE WHEN params ? %s THEN params -> %s WHEN results ? %s "
                 "THEN results -> %s END)")
        names = [condition.name] * 4
        # CASE, not AND: SQL does not promise to test the type before casting.
        if isinstance(wanted, bool):
            if operator not in ("=", "!="):
                where.add("false")
                return True
            where.add(f"CASE WHEN jsonb_typeof({value}) = 'boolean' THEN ({value})::boolean "
                      f"{'=' if operator == '=' else '<>'} %s ELSE false END",
                      *names, *names, wanted)
        elif isinstance(wanted, (int, float)):
            if isinstance(wanted, float) and not math.isfinite(wanted):
                return False
            number = f"({value})::numeric"
            if operator in ("=", "!="):
                test = (f"{'' if operator == '=' else 'NOT '}(abs({number} - %s) <= "
                        f"greatest(1e-9 * greatest(abs({number}), abs(%s)), 1e-12))")
                args = [*names, wanted, *names, wanted]
            else:
                test, args = f"{number} {operator} %s", [*names, wanted]
            where.add(f"CASE WHEN jsonb_typeof({value}) = 'number' THEN {test} ELSE false END",
                      *names, *args)
        elif isinstance(wanted, str):
            text = f"(({value}) #>> '{{}}') COLLATE \"C\""
            sql_operator = "<>" if operator == "!=" else operator
            where.add(f"CASE WHEN jsonb_typeof({value}) = 'string' THEN {text} {sql_operator} "
                      "%s ELSE false END", *names, *names, wanted)
        else:
            return False
        return True

    def _query_sql(self, query: RunQuery) -> tuple[_Where, bool]:
        """The WHERE clause of `query`, and whether it is exact (else a superset that
        `query.keep` must still test)."""
        where = _Where()
        exact = True
        if query.search is not None:
            self._search_sql(query.search, where)
        if query.since:
            where.add("started >= %s", query.since)
        if query.until:
            where.add("started <= %s", query.until)
        if query.script is not None:
            self._script_sql(query.script, where)
        if query.status is not None:
            where.add("status = %s", query.status)
        if query.tag is not None:
            where.add("tags ? %s", query.tag)
        for condition in query.conditions:
            exact = self._condition_sql(condition, where) and exact
        return where, exact

    def find(self, query: RunQuery) -> list[dict[str, Any]]:
        """The runs `query` keeps, ordered and sliced by the server where the order is
        the start time; another order sorts the matching summaries here."""
        spooled = [summary(record) for record in self._reading()]
        where, exact = self._query_sql(query)
        by_start = query.sort_field == "start" and exact
        if by_start:
            end = None if query.limit is None else query.offset + query.limit
            order = "started DESC, id DESC" if query.descending else "started, id"
            rows = self._summaries_where(where, order=order, limit=end)
            stored = {row["id"] for row in rows}
            rows += [row for row in spooled if row["id"] not in stored and query.keep(row)]
            return query.ordered(rows)
        rows = [row for row in self._summaries_where(where) if query.keep(row)]
        stored = {row["id"] for row in rows}
        rows += [row for row in spooled if row["id"] not in stored and query.keep(row)]
        return query.ordered(rows)

    def count(self, query: RunQuery) -> int:
        spooled = [summary(record) for record in self._reading()]
        where, exact = self._query_sql(query)
        if not exact:
            rows = self._with_spooled(self._summaries_where(where), spooled)
            return sum(1 for row in rows if query.keep(row))
        stored = self._stored_among([row["id"] for row in spooled])
        return self._count(where) + sum(1 for row in spooled
                                        if row["id"] not in stored and query.keep(row))

    def _count(self, where: _Where) -> int:
        with self._cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM runs WHERE {where.sql}", where.args)
            return cursor.fetchone()[0]

    def _stored_among(self, run_ids: list[str]) -> set[str]:
        """Which of these (spooled) runs the server holds already."""
        if not run_ids:
            return set()
        with self._cursor() as cursor:
            cursor.execute("SELECT id FROM runs WHERE id = ANY(%s)", (run_ids,))
            return {row[0] for row in cursor.fetchall()}

    def page(self, offset: int, limit: int, *, chosen: RunFilter | None = None
             ) -> tuple[list[dict[str, Any]], int]:
        """A page of the runs list. `chosen` (its filter and its order) is said in SQL, and
        the server sends only the page's rows. This machine's spooled runs the server
        lacks take their places."""
        chosen = chosen if chosen is not None else RunFilter()
        spooled = [summary(record) for record in self._reading()]
        stored = self._stored_among([row["id"] for row in spooled])
        where = _Where()
        self._filter_sql(chosen, where)
        extra = [row for row in spooled if row["id"] not in stored and chosen.keep(row)]
        total = self._count(where) + len(extra)
        if not extra and offset > total // 2:  # the far end of the list: read from there
            count = max(0, min(limit, total - offset))
            rows = self._summaries_where(where, order=_list_order(chosen, reverse=True),
                                         limit=count, offset=max(0, total - offset - count))
            return rows[::-1], total
        order = _list_order(chosen)
        skip = max(0, offset - len(extra))
        rows = self._summaries_where(where, order=order, limit=offset + limit - skip,
                                     offset=skip)
        if skip and not rows:  # past the server's last row: the spooled runs' places
            skip, rows = 0, self._summaries_where(where, order=order, limit=offset + limit)
        return page_among_spooled(rows, extra, skip, offset, limit, chosen.ordered), total

    def _filter_sql(self, chosen: RunFilter, where: _Where) -> None:
        if chosen.since:
            where.add("started >= %s", chosen.since)
        if chosen.until:
            where.add("started <= %s", chosen.until)
        if chosen.search is not None:
            self._search_sql(chosen.search, where, or_id_prefix=True)
        if chosen.script:
            self._script_sql(chosen.script, where)
        if chosen.status:
            where.add("status = %s", chosen.status)
        if chosen.tag:
            where.add("tags ? %s", chosen.tag)

    def by_content(self) -> ContentLookup:
        return ContentLookup(self)

    def records(self, run_ids: list[str] | None = None) -> list[dict[str, Any]]:
        spooled = self._reading()
        with self._cursor() as cursor:
            if run_ids is None:
                cursor.execute("SELECT record FROM runs WHERE trashed IS NULL "
                               "ORDER BY started DESC, id DESC")
            else:
                cursor.execute("SELECT record FROM runs WHERE trashed IS NULL AND id = ANY(%s) "
                               "ORDER BY started DESC, id DESC", (list(run_ids),))
            found = [row[0] for row in cursor.fetchall()]
        wanted = set(run_ids) if run_ids is not None else None
        stored = {record["id"] for record in found}
        found += [record for record in spooled if record["id"] not in stored
                  and (wanted is None or record["id"] in wanted)]
        return _newest_first([with_live_status(record) for record in found])

    def iter_records(self, batch: int = 2000) -> Iterator[dict[str, Any]]:
        """Every stored record, newest first, read `batch` at a time (a server-side
        cursor: copying a million runs does not hold them all), then the spooled ones."""
        spooled = self._reading()
        stored = self._stored_among([record["id"] for record in spooled])
        connection = self._connect()
        with connection.transaction(), connection.cursor(name="recipe_records") as cursor:
            cursor.itersize = batch
            cursor.execute("SELECT record FROM runs WHERE trashed IS NULL "
                           "ORDER BY started DESC, id DESC")
            for (record,) in cursor:
                yield with_live_status(record)
        yield from (record for record in spooled if record["id"] not in stored)

    def stream(self, run_ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
        if run_ids is not None:
            return iter(self.records(run_ids))
        return self.iter_records()

    def runs_with_path(self, path: str) -> list[dict[str, Any]]:
        """Runs that read or wrote exactly `path`: the btree index, not a substring."""
        spooled = [summary(record) for record in self._reading()]
        where = _Where()
        where.add("id IN (SELECT run_id FROM files WHERE path = %s)", path)
        return self._with_spooled(self._summaries_where(where), spooled, lambda row: any(
            event.get("path") == path for kind in ("inputs", "outputs")
            for event in row.get(kind) or ()))

    def newest_of_scripts(self, directory: str) -> list[dict[str, Any]]:
        """The newest run of each script under `directory`, by the script index."""
        prefix = os.path.join(os.path.abspath(directory), "")
        spooled = [summary(record) for record in self._reading()]
        where = _Where()
        where.add("script LIKE %s", _like(prefix) + "%")
        rows = self._with_spooled(self._summaries_where(where), spooled,
                                  lambda row: (row.get("script") or "").startswith(prefix))
        newest: dict[str, dict[str, Any]] = {}
        for row in rows:  # newest first
            newest.setdefault(row.get("script") or "", row)
        return list(newest.values())

    def stored_ids(self) -> set[str]:
        with self._cursor() as cursor:
            cursor.execute("SELECT id FROM runs")
            return {row[0] for row in cursor.fetchall()}

    def latest(self) -> dict[str, Any] | None:
        spooled = self._reading()
        with self._cursor() as cursor:
            cursor.execute("SELECT record FROM runs WHERE trashed IS NULL "
                           "ORDER BY started DESC, id DESC LIMIT 1")
            row = cursor.fetchone()
        candidates = spooled + ([row[0]] if row else [])
        if not candidates:
            return None
        return with_live_status(max(candidates, key=lambda c: c.get("start") or ""))

    def resolve(self, prefix: str, ids: list[str] | None = None) -> str:
        if ids is None:
            prefix = prefix.strip().lower()
            if len(prefix) >= MIN_PREFIX:
                with self._cursor() as cursor:
                    cursor.execute("SELECT id FROM runs WHERE trashed IS NULL AND id LIKE %s "
                                   "LIMIT 6", (_like(prefix) + "%",))
                    ids = [row[0] for row in cursor.fetchall()]
                ids += [run_id for run_id in journal.journals(self.home)
                        if run_id.startswith(prefix) and run_id not in ids]
        return super().resolve(prefix, ids)

    def completed(self, computations: set[str], script: str) -> dict[str, dict[str, Any]]:
        """The newest completed run of each computation (its identity names the script)."""
        spooled = self._reading()
        with self._cursor() as cursor:
            cursor.execute("SELECT DISTINCT ON (computation) computation, summary FROM runs "
                           "WHERE trashed IS NULL AND status = 'completed' AND computation = "
                           "ANY(%s) ORDER BY computation, started DESC",
                           (sorted(computations),))
            stored = [row[1] for row in cursor.fetchall()]
        return newest_completed([*stored, *(summary(record) for record in spooled)],
                                computations)

    def hash_algorithms(self) -> set[str]:
        spooled = self._reading()
        with self._cursor() as cursor:
            cursor.execute("SELECT name FROM hash_algorithms")
            used = {row[0] for row in cursor.fetchall()}
        used |= {event.get("hash_algorithm") for record in spooled
                 for kind in ("inputs", "outputs") for event in record.get(kind) or ()}
        return used - {None}

    def sweeps(self) -> list[dict[str, Any]]:
        with self._cursor() as cursor:
            cursor.execute("SELECT document FROM sweeps ORDER BY started DESC")
            found = [row[0] for row in cursor.fetchall()]
        for document in found:
            document["run_count"] = len(document.pop("runs", ()))
        return found

    def sweep(self, prefix: str) -> dict[str, Any]:
        prefix = prefix.strip().lower()
        ids: list[str] = []
        if len(prefix) >= MIN_PREFIX:
            with self._cursor() as cursor:
                cursor.execute("SELECT id FROM sweeps WHERE id LIKE %s LIMIT 2",
                               (_like(prefix) + "%",))
                ids = [row[0] for row in cursor.fetchall()]
        if len(ids) != 1:
            raise UnknownRun(f"no sweep {prefix}" if not ids
                             else f"sweep id {prefix} is ambiguous ({len(ids)} sweeps)")
        with self._cursor() as cursor:
            cursor.execute("SELECT document FROM sweeps WHERE id = %s", (ids[0],))
            return cursor.fetchone()[0]

    # -- checking and repairing ------------------------------------------------------------

    def check(self) -> list[str]:
        problems = []
        try:
            with self._cursor() as cursor:
                cursor.execute("SELECT count(*) FROM files f WHERE NOT EXISTS "
                               "(SELECT 1 FROM runs r WHERE r.id = f.run_id)")
                orphans = cursor.fetchone()[0]
            if orphans:
                problems.append(f"{orphans} file row(s) belong to no run")
        except StoreError as exc:
            problems.append(str(exc))
        problems += journal.unreadable(self.home)
        return problems

    def pending(self) -> int:
        return sum(1 for record in self._spooled() if record.get("status") != "running")

    def repair(self) -> list[str]:
        """Send the runs kept aside in the spool (the server keeps itself whole)."""
        merged = self.merge_pending()
        if not merged:
            return []
        kept = os.path.join(self.home, journal.SPOOL_DIR)
        return [f"sent {len(merged)} run(s) kept aside in {kept} to {self.db_path}"]


def _newest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server's runs (newest first already) with spooled ones among them, newest
    first; stable, so a spooled run that started with a stored one comes after it."""
    return sorted(rows, key=lambda row: row.get("start") or "", reverse=True)


def _list_order(chosen: RunFilter, *, reverse: bool = False) -> str:
    """`chosen.ordered` as an ORDER BY (`reverse`: read from the list's far end): missing
    values first, ties newest first, the id last so that the order is total."""
    descending = chosen.descending != reverse
    newest = "ASC" if reverse else "DESC"
    ends = "DESC NULLS LAST" if descending else "ASC NULLS FIRST"
    if chosen.sort == "start":
        return f"started {'DESC' if descending else 'ASC'}, id {newest}"
    column = {"duration": "summary -> 'duration'", "script": "script", "status": "status"}
    return f"{column[chosen.sort]} {ends}, started {newest}, id {newest}"


class ContentLookup:
    """The runs that read or wrote given content, for one lineage walk: an indexed query
    per level, and this machine's spooled runs read once."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store
        self.spooled = [summary(record) for record in store._reading()]

    def runs_touching(self, digests: set[str]) -> list[dict[str, Any]]:
        if not digests:
            return []
        where = _Where()
        where.add("id IN (SELECT run_id FROM files WHERE hash = ANY(%s))", sorted(digests))
        rows = self.store._summaries_where(where)
        stored = {row["id"] for row in rows}
        rows += [row for row in self.spooled if row["id"] not in stored and any(
            event.get("hash") in digests
            for kind in ("inputs", "outputs") for event in row.get(kind) or ())]
        return rows

