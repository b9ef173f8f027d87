"""The run index beside the embedded store: `db.index.sqlite` (standard library sqlite3).

One row per stored run (a number, its id, start, script, status, computation, duration,
where it lives: 0 for the head, N for sealed shard N, and its summary as JSON), and the
columns a question starts from, each row naming its run by number: each file event's
path (also as three-character pieces, `_PATHS`) and content hash; each parameter's and
result's value; each tag. A question (`RunQuery`, the GUI's `RunFilter`) becomes a SQL
prefilter that returns a superset of the answer, newest first; `keep` stays the truth,
applied to the summaries the prefilter returns. So one question reads a few rows,
never every run.

The index is a cache of the store files, never the truth: it records the fingerprint of
the store files it describes (`fingerprint`), and one whose fingerprint differs is stale
and made again from the shard indexes (a few seconds at 100,000 runs, once). Writers that
find it fresh update it in the same exclusive lock as the store files, and give it the new
fingerprint last, so a writer that dies between the two leaves a stale index, not a wrong
one.
"""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from .base import summary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .query import RunFilter, RunQuery

SCHEMA = 5
HEAD = 0  # the location of a run in the head (db.json); N > 0: sealed shard N

_TABLES = """
CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE runs (number INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, start TEXT NOT NULL,
                   script TEXT, script_name TEXT, status TEXT, computation TEXT,
                   duration REAL, location INTEGER NOT NULL, summary TEXT NOT NULL);
CREATE INDEX runs_start ON runs (start);
CREATE INDEX runs_script ON runs (script, start);
CREATE INDEX runs_script_name ON runs (script_name, start);
CREATE INDEX runs_location ON runs (location);
CREATE INDEX runs_status ON runs (status, start);
CREATE INDEX runs_computation ON runs (computation);
CREATE INDEX runs_duration ON runs (duration, start);
CREATE TABLE files (run INTEGER NOT NULL, path TEXT, hash TEXT);
CREATE INDEX files_run ON files (run);
CREATE INDEX files_path ON files (path);
CREATE INDEX files_hash ON files (hash);
CREATE TABLE vals (run INTEGER NOT NULL, name TEXT, kind TEXT, number REAL, text TEXT);
CREATE INDEX vals_run ON vals (run);
CREATE INDEX vals_number ON vals (name, number);
CREATE INDEX vals_text ON vals (name, text);
CREATE TABLE tags (run INTEGER NOT NULL, tag TEXT);
CREATE INDEX tags_run ON tags (run);
CREATE INDEX tags_tag ON tags (tag);
CREATE TABLE algorithms (name TEXT PRIMARY KEY);
CREATE TABLE verified (location INTEGER PRIMARY KEY, stamp TEXT, ids TEXT);
"""
# Every file row's path again, as an index of its three-character pieces, so that a path
# substring (what `recipe search` asks) is found without reading 400,000 paths (a scan
# of 50 ms at 100,000 runs; 0.3-2 ms through this for a name few runs logged). SQLite
# 3.34+ has it; an older one has no such tokenizer, and searches scan the paths.
_PATHS = ("CREATE VIRTUAL TABLE paths USING fts5(path, tokenize='trigram case_sensitive 1', "
          "detail=none)")
TRIGRAM = 3  # a shorter term has no piece to look up: it scans the paths


def fingerprint(paths: Iterable[str]) -> str:
    """What the store files look like now: inode, size and mtime of the head and of the
    shard directory (every shard write renames a file into it, which changes its mtime),
    so any writer's change, this version's or another's, makes the index stale."""
    parts = []
    for path in paths:
        try:
            found = os.stat(path)
        except FileNotFoundError:
            parts.append("-")
            continue
        parts.append(f"{found.st_ino}:{found.st_size}:{found.st_mtime_ns}")
    return "|".join(parts)


def connect(path: str, *, read_only: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode=ro" if read_only else f"file:{path}"
    connection = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None,
                                 check_same_thread=False)
    connection.create_function("regexp", 2, _regexp, deterministic=True)
    return connection


def _regexp(pattern: str, text: str | None) -> bool:
    return text is not None and re.search(pattern, text) is not None


def open_fresh(path: str, expected: str) -> sqlite3.Connection | None:
    """The index at `path` if it describes the store as `expected` (its fingerprint),
    else None: missing, stale, of another schema, or unreadable."""
    if not os.path.exists(path):
        return None
    try:
        connection = connect(path, read_only=not os.access(path, os.W_OK))
        rows = dict(connection.execute("SELECT key, value FROM state"))
    except sqlite3.Error:
        return None
    if rows.get("schema") != str(SCHEMA) or rows.get("fingerprint") != expected:
        connection.close()
        return None
    return connection


def build(path: str, located: Iterable[tuple[int, Iterable[dict[str, Any]]]],
          stamp: str) -> sqlite3.Connection:
    """Make the index again from (location, summaries) pairs, in a new file renamed over
    the old one (a reader of the old one goes on undisturbed); OSError if it cannot be
    written."""
    temporary = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        connection = connect(temporary)
        connection.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                                 + _TABLES)
        try:
            connection.execute(_PATHS)
        except sqlite3.OperationalError:
            pass  # no FTS5 or no trigram tokenizer in this SQLite: searches scan the paths
        connection.execute("BEGIN")
        for location, rows in located:
            put(connection, location, rows)
        connection.executemany("INSERT INTO state VALUES (?, ?)",
                               [("schema", str(SCHEMA)), ("fingerprint", stamp)])
        connection.execute("COMMIT")
        connection.close()
        os.replace(temporary, path)
    except (OSError, sqlite3.Error) as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise OSError(f"cannot write the run index {path}: {exc}") from None
    return connect(path)


def put(connection: sqlite3.Connection, location: int, rows: Iterable[dict[str, Any]]) -> None:
    """Index runs (summaries or full records) at `location`, replacing any of the same id."""
    rows = list({row["id"]: row for row in rows}.values())
    drop(connection, [row["id"] for row in rows])
    number = connection.execute("SELECT COALESCE(MAX(number), 0) FROM runs").fetchone()[0]
    runs, files, values, tags, algorithms = [], [], [], [], set()
    for row in rows:
        row = summary(row) if "note_count" not in row else row
        number += 1
        script = row.get("script") or ""
        runs.append((number, row["id"], row.get("start") or "", script,
                     os.path.basename(script), row.get("status"), _text(row.get("computation")),
                     _number(row.get("duration")), location,
                     json.dumps(row, ensure_ascii=False, separators=(",", ":"))))
        for kind in ("inputs", "outputs"):
            for event in row.get(kind) or ():
                files.append((number, event.get("path") or "", event.get("hash")))
                algorithms.add(event.get("hash_algorithm"))
        for section in ("params", "results"):
            for name, value in (row.get(section) or {}).items():
                values.append((number, name, *_typed(value)))
        tags.extend((number, tag) for tag in row.get("tags") or () if isinstance(tag, str))
    connection.executemany("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
    connection.executemany("INSERT INTO files VALUES (?, ?, ?)", files)
    if files and has_paths(connection):
        connection.execute("INSERT INTO paths (rowid, path) SELECT rowid, path FROM files "
                           "WHERE run BETWEEN ? AND ?", (runs[0][0], number))
    connection.executemany("INSERT INTO vals VALUES (?, ?, ?, ?, ?)", values)
    connection.executemany("INSERT INTO tags VALUES (?, ?)", tags)
    connection.executemany("INSERT OR IGNORE INTO algorithms VALUES (?)",
                           [(name,) for name in algorithms if isinstance(name, str)])


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _typed(value: Any) -> tuple[str, float | None, str | None]:
    if isinstance(value, bool):
        return "bool", float(value), None
    if isinstance(value, (int, float)):
        number = float(value)
        return "number", number if math.isfinite(number) else None, None
    if isinstance(value, str):
        return "str", None, value
    return "other", None, None


def drop(connection: sqlite3.Connection, run_ids: list[str]) -> None:
    """Forget runs (they left the store: trashed, or about to be indexed again)."""
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start:start + 500]
        numbers = [number for (number,) in connection.execute(
            f"SELECT number FROM runs WHERE id IN ({','.join('?' * len(chunk))})", chunk)]
        if not numbers:
            continue
        marks = ",".join("?" * len(numbers))
        if has_paths(connection):
            connection.execute("DELETE FROM paths WHERE rowid IN (SELECT rowid FROM files "
                               f"WHERE run IN ({marks}))", numbers)
        for table, column in (("runs", "number"), ("files", "run"), ("vals", "run"),
                              ("tags", "run")):
            connection.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", numbers)


def has_paths(connection: sqlite3.Connection) -> bool:
    """Whether this index has the path pieces (`_PATHS`)."""
    return connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                              "name = 'paths'").fetchone() is not None


def move(connection: sqlite3.Connection, source: int, target: int) -> None:
    """Every run at `source` now lives at `target` (the head was sealed into a shard)."""
    connection.execute("UPDATE runs SET location = ? WHERE location = ?", (target, source))


def stamp(connection: sqlite3.Connection, value: str) -> None:
    connection.execute("INSERT OR REPLACE INTO state VALUES ('fingerprint', ?)", (value,))


def verified(connection: sqlite3.Connection) -> dict[int, tuple[str, list[str]]]:
    """The shards `db check` found sound, with the fingerprint of their files then and
    their run ids."""
    try:
        return {location: (stamp, json.loads(ids)) for location, stamp, ids in
                connection.execute("SELECT location, stamp, ids FROM verified")}
    except sqlite3.Error:
        return {}


def remember_verified(connection: sqlite3.Connection,
                      shards: list[tuple[int, str, list[str]]]) -> None:
    """Note shards found sound; a read-only index simply remembers nothing."""
    try:
        connection.executemany("INSERT OR REPLACE INTO verified VALUES (?, ?, ?)",
                               [(n, stamp, json.dumps(ids)) for n, stamp, ids in shards])
    except sqlite3.Error:
        pass


# -- questions -----------------------------------------------------------------------------

BROAD = 2000  # a condition that this many runs meet is tested run by run, newest first


def prefilter(query: RunQuery, connection: sqlite3.Connection, *, streaming: bool = False
              ) -> tuple[str, list[Any]]:
    """A SQL condition on `runs r` that every run `query.keep` accepts satisfies.

    Tags and `--where` conditions are sets of runs (`r.number IN (...)`): SQLite then
    starts from the set and sorts it, right for a narrow one. When `streaming` (a limit
    is coming) and every such set is broad (half the runs have `x>=5`), they are written
    as a test of each run instead, so that the walk down the start index stops at the
    first page."""
    clauses, args = [], []
    member = "r.number IN (SELECT run FROM {table} WHERE {test})"
    if streaming and _all_broad(connection, query):
        # INDEXED BY: the planner would otherwise scan the value index for each run.
        member = ("EXISTS (SELECT 1 FROM {table} INDEXED BY {table}_run "
                  "WHERE run = r.number AND {test})")
    if query.since:
        clauses.append("r.start >= ?")
        args.append(query.since)
    if query.until:
        clauses.append("r.start <= ?")
        args.append(query.until)
    if query.status:
        # A stored run of this host still `running` may read as lost (its pid is gone).
        clauses.append("r.status IN (?, 'running')" if query.status == "lost" else
                       "r.status = ?")
        args.append(query.status)
    if query.script:  # `filter_runs`' test: the file name, the path or a suffix of it
        clauses.append("r.script_name = ?")
        args.append(os.path.basename(query.script))
        if os.sep in query.script:
            suffix = os.sep + query.script.lstrip(os.sep)
            clauses.append("(r.script = ? OR substr(r.script, -?) = ?)")
            args.extend([query.script, len(suffix), suffix])
    if query.tag:
        clauses.append(member.format(table="tags", test="tag = ?"))
        args.append(query.tag)
    for condition in query.conditions:
        sql, values = _condition(condition)
        clauses.append(member.format(table="vals", test=f"name = ?{sql}"))
        args.extend([condition.name, *values])
    if query.search is not None:
        sql, values = search_clause(query.search, connection)
        clauses.append(sql)
        args.extend(values)
    return " AND ".join(clauses) or "1", args


def _all_broad(connection: sqlite3.Connection, query: RunQuery) -> bool:
    sets = [("tags", "tag = ?", [query.tag])] if query.tag else []
    for condition in query.conditions:
        sql, values = _condition(condition)
        sets.append(("vals", f"name = ?{sql}", [condition.name, *values]))
    if not sets or query.search is not None:
        return False
    return all(connection.execute(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE {test} LIMIT {BROAD})",
        values).fetchone()[0] >= BROAD for table, test, values in sets)


def _condition(condition: Any) -> tuple[str, list[Any]]:
    value, operator = condition.value, condition.operator
    if isinstance(value, bool):
        return (" AND kind = 'bool' AND number = ?", [float(value)]) if operator == "=" \
            else ("", [])
    if isinstance(value, (int, float)) and math.isfinite(value):
        slack = max(1e-12, abs(value) * 1e-9) * 2  # Condition's isclose, widened
        if operator == "=":
            return " AND number BETWEEN ? AND ?", [value - slack, value + slack]
        if operator in ("<", "<="):
            return " AND number <= ?", [value + slack]
        if operator in (">", ">="):
            return " AND number >= ?", [value - slack]
        return "", []
    if isinstance(value, str) and operator == "=":
        return " AND kind = 'str' AND text = ?", [value]
    return "", []


def filter_clause(chosen: RunFilter, connection: sqlite3.Connection) -> tuple[str, list[Any]]:
    """A SQL condition on `runs r` that every run `chosen.keep` (the GUI's runs list)
    accepts satisfies: `prefilter`'s, with a search term that may also be an id prefix."""
    from .query import RunQuery

    where, args = prefilter(RunQuery(script=chosen.script or None,
                                     status=chosen.status or None, tag=chosen.tag or None,
                                     since=chosen.since, until=chosen.until), connection)
    if chosen.search is not None:
        sql, values = search_clause(chosen.search, connection, or_id_prefix=True)
        where, args = f"{where} AND {sql}", [*args, *values]
    return where, args


def filter_exact(chosen: RunFilter) -> bool:
    """Whether `filter_clause(chosen)` holds for exactly the runs `chosen.keep` accepts:
    not for a status of `running` or `lost`, which depends on whether a process lives."""
    return chosen.status not in ("running", "lost")


def order(chosen: RunFilter) -> str:
    """`chosen.ordered` as an ORDER BY on `runs r`: SQLite puts NULL before numbers before
    text, as it does."""
    direction = "DESC" if chosen.descending else "ASC"
    if chosen.sort == "start":
        return f"r.start {direction}"
    return f"r.{chosen.sort} {direction}, r.start DESC"


def search_clause(search: Any, connection: sqlite3.Connection, *, or_id_prefix: bool = False
                  ) -> tuple[str, list[Any]]:
    """The runs a `query.Search` may match: by id prefix, a path regex, a path substring,
    a content hash, a hash prefix; with `or_id_prefix`, also the runs whose id starts
    with the term (in the set, not `OR r.id ...`, which would test every run)."""
    prefix = search.term.lower()
    if search.by_id:
        return "r.id >= ? AND r.id < ?", [prefix, prefix + "\uffff"]
    if search.pattern is not None:
        sets, args = ["SELECT run FROM files WHERE path REGEXP ?"], [search.pattern.pattern]
    else:
        sets, args = _file_sets(search, connection)
    if or_id_prefix:
        sets.append("SELECT number FROM runs WHERE id >= ? AND id < ?")
        args.extend([prefix, prefix + "\uffff"])
    return f"r.number IN ({' UNION '.join(sets)})", args


def _file_sets(search: Any, connection: sqlite3.Connection) -> tuple[list[str], list[Any]]:
    """The runs with a file a path-substring `Search` matches, as sets to unite (each
    can use its own index, where one query of ORs would scan every file row)."""
    if len(search.term) >= TRIGRAM and has_paths(connection):
        sets = ["SELECT run FROM files WHERE rowid IN (SELECT rowid FROM paths "
                "WHERE path GLOB ?)"]
        args: list[Any] = ["*" + _glob_literal(search.term) + "*"]
    else:
        sets, args = ["SELECT run FROM files WHERE instr(path, ?) > 0"], [search.term]
    digests = sorted({digest for _algorithm, digest in search.hashes})
    if digests:
        sets.append(f"SELECT run FROM files WHERE hash IN ({','.join('?' * len(digests))})")
        args.extend(digests)
    if search.hex_prefix is not None:
        sets.append("SELECT run FROM files WHERE hash >= ? AND hash < ?")
        args.extend([search.hex_prefix, search.hex_prefix + "\uffff"])
    return sets, args


def _glob_literal(text: str) -> str:
    """`text` as a GLOB pattern that matches exactly it: its wildcards in brackets."""
    return "".join(f"[{char}]" if char in "*?[" else char for char in text)


def needles_clause(needles: list[str] | None) -> tuple[str, list[Any]]:
    """`Store.summaries`' prefilter: the run's id or script, or a path or content hash it
    read or wrote, holds one of the needles (what every caller's needles are: paths,
    hashes, id prefixes, scripts; JSON-escaped, as the shard index files spell them)."""
    if needles is None:
        return "1", []
    if not needles:
        return "0", []
    texts = [_unescaped(needle) for needle in needles]
    files = " OR ".join("instr(path, ?) > 0 OR instr(hash, ?) > 0" for _ in texts)
    runs = " OR ".join("instr(r.id, ?) > 0 OR instr(r.script, ?) > 0" for _ in texts)
    pairs = [text for text in texts for _ in (0, 1)]
    return (f"({runs} OR r.number IN (SELECT run FROM files WHERE {files}))",
            [*pairs, *pairs])


def _unescaped(needle: str) -> str:
    try:
        text = json.loads(f'"{needle}"')
    except ValueError:
        return needle
    return text if isinstance(text, str) else needle


def rows(connection: sqlite3.Connection, where: str, args: list[Any]) -> Iterator[tuple[str]]:
    """The summaries (JSON text, one-tuples) of the runs that satisfy `where`, newest
    first. The runs are chosen and ordered by number and start alone (a sort of small
    rows, or a walk of the start index), and their summaries read in batches as the
    caller goes on: a caller that stops after a page reads a page of summaries."""
    chosen = connection.execute(f"SELECT r.number FROM runs r WHERE {where} "
                                "ORDER BY r.start DESC", args)
    while True:
        batch = [number for (number,) in chosen.fetchmany(200)]
        if not batch:
            return
        texts = dict(connection.execute(
            f"SELECT number, summary FROM runs WHERE number IN ({','.join('?' * len(batch))})",
            batch))
        for number in batch:
            yield (texts[number],)
