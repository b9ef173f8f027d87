"""The store wing: one interface (`base.Store`) and its backends; `open_store` picks one.

- `base`: the interface, the errors, run summaries;
- `tinydb`: the embedded default, sharded TinyDB files under RECIPE_HOME;
- `postgres`: a team store on a PostgreSQL server (`[store] url`, the `postgres` extra);
- `query`: search, filters and id prefixes, shared by the CLI and the GUI;
- `merge`: `python -m recipe.store.merge`, the spool brought into the store after a run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from .base import (
    MIN_PREFIX,
    Store,
    StoreDamaged,
    StoreError,
    StoreLocked,
    StoreMissing,
    StoreUnwritable,
    UnknownRun,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..config import Config

__all__ = ["MIN_PREFIX", "Store", "StoreDamaged", "StoreError", "StoreLocked", "StoreMissing",
           "StoreUnwritable", "UnknownRun", "copy_runs", "open_store", "open_target"]


def open_store(settings: Config) -> Store:
    """The store the settings name: the server of `[store] url` (RECIPE_STORE_URL), else
    the TinyDB files under RECIPE_HOME. Imports its backend (TinyDB, psycopg) only now."""
    if settings.store_url:
        try:
            import psycopg  # noqa: F401  (the `postgres` extra)
        except ImportError:
            raise StoreError("[store] url names a PostgreSQL server, but psycopg is not "
                             "installed: pip install 'recipe[postgres]'") from None
        from .postgres import PostgresStore

        return PostgresStore(settings)
    from .tinydb import TinyStore

    return TinyStore(settings)


def open_target(settings: Config, where: str) -> Store:
    """The store `recipe db copy --to WHERE` names: a PostgreSQL URL (or conninfo), or
    the path of a TinyDB store file (created there, its spool beside it)."""
    from .postgres import is_url

    if is_url(where):
        from .postgres import PostgresStore

        return PostgresStore(settings, url=where)
    from .. import config as configuration
    from .tinydb import TinyStore

    path = os.path.abspath(os.path.expanduser(where))
    if os.path.isdir(path):
        path = os.path.join(path, "db.json")
    if not settings.store_url and path == settings.db_path:
        raise StoreError(f"{where} is the store itself")
    target = configuration.Config(**{**settings.__dict__, "db_path": path, "store_url": "",
                                     "home": os.path.dirname(path)})
    return TinyStore(target)


def copy_runs(source: Store, target: Store, *, batch: int = 2000,
              progress: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Copy every finished run of `source` that `target` lacks, `batch` at a time;
    (copied, already there). Copying twice adds nothing. `progress(copied)` after each
    batch."""
    from .postgres import PostgresStore

    to_server = isinstance(target, PostgresStore)
    there = (target.stored_ids() if to_server else
             {row["id"] for row in [*target.summaries(), *target.trashed()]})
    streamed: Iterable[dict[str, Any]] = (source.iter_records()
                                          if isinstance(source, PostgresStore)
                                          else source.records())
    copied = skipped = 0
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal copied, chunk
        if to_server:
            target.copy_in(chunk, batch=batch)
        else:
            target.import_records(chunk)
        copied += len(chunk)
        chunk = []
        if progress is not None:
            progress(copied)

    for record in streamed:
        if record.get("status") == "running":
            continue  # it comes with its end
        if record["id"] in there:
            skipped += 1
            continue
        chunk.append(record)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()
    return copied, skipped
