"""zarr: stores on disk, each a directory logged as one file (`hash_tree` of its contents).

An array or group opened for writing has no close: it is hashed when the run ends. Its
chunks are written by zarr's own event-loop threads, outside the declared call; those
writes are declared internal, so that nothing else logs each chunk file."""

from __future__ import annotations

from ..patching import Input, Internal, Opens, Output


def _store_root(_instance: None, store: object) -> object:
    """A path, or a LocalStore (its root directory); other stores are not local files."""
    from zarr.storage import LocalStore

    return store.root if isinstance(store, LocalStore) else store


def _opens(attribute: str, mode: str | None = "mode", default: str = "a") -> object:
    # zarr's mode=None means "a" (read and write, create if missing).
    return Opens("zarr", attribute, "store", mode=mode, default=default, locate=_store_root)


DECLARATIONS = [
    _opens("open"),
    _opens("open_array"),
    _opens("open_group"),
    _opens("open_consolidated"),
    _opens("group", mode=None),
    *(Output("zarr", attribute, "store", until_closed=True, locate=_store_root)
      for attribute in ("create", "create_array", "create_group")),
    *(Output("zarr", attribute, "store", locate=_store_root)
      for attribute in ("save", "save_array", "save_group", "from_array")),
    Input("zarr", "load", "store", locate=_store_root),
    Internal("zarr.storage._local", "_put"),
    Internal("zarr.storage._local", "_get"),
]
