"""sqlite3: the database file of a connection, read and written by SQLite's C code.

An output when the run changed its bytes, else an input. A connection cannot announce its
close (sqlite3.Connection is an immutable C type), so the file is compared when the run
ends; a database in WAL mode keeps new pages in its -wal file until the last connection
closes, so changes still sitting there are not seen."""

from __future__ import annotations

from ..patching import Opens


def _database_file(_connection: None, database: object) -> object:
    """":memory:" and "" are databases in memory; a URI ("file:data.db?mode=ro", given
    with uri=True) names its path, unless it is "file::memory:" or mode=memory."""
    if database in (":memory:", "", b":memory:", b""):
        return None
    if isinstance(database, str) and database.startswith("file:"):
        from urllib.parse import parse_qs, unquote, urlsplit

        parts = urlsplit(database)
        if parse_qs(parts.query).get("mode") == ["memory"] or parts.path in ("", ":memory:"):
            return None
        return unquote(parts.path)
    return database


DECLARATIONS = [
    # connect is a C function whose text signature inspect rejects: its first positional
    # parameter is named here. sqlite3.dbapi2 re-exports the same function.
    Opens(module, "connect", "database", mode=None, positional=("database",),
          locate=_database_file)
    for module in ("sqlite3", "sqlite3.dbapi2")
]
