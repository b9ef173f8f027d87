"""The store wing: one interface (`base.Store`) and its backends; `open_store` picks one.

- `base`: the interface, the errors, run summaries;
- `tinydb`: the embedded default, sharded TinyDB files under RECIPE_HOME;
- `postgres`: a team store on a PostgreSQL server (`[store] url`, the `postgres` extra);
- `query`: search, filters and id prefixes, shared by the CLI and the GUI;
- `merge`: `python -m recipe.store.merge`, the spool brought into the store after a run.
"""

from __future__ import annotations

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
           "StoreUnwritable", "UnknownRun", "open_store"]


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
