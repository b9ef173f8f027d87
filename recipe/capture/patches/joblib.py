"""joblib: dump/load, and the cache entries of Memory.

A cached call's result is data like any other: the call that computes it writes the entry
`<location>/joblib/<module>/<function>/<args hash>/output.pkl` (an output), and a call
answered from the cache, in this run or a later one, reads it (an input), so lineage links
the run that used a cached result to the run that computed it. Both are logged as
"joblib.Memory". The entry's bookkeeping (metadata.json, func_code.py, the cache's
.gitignore) is not data: nothing in the methods that read or write it is logged. What the
cached function itself reads and writes while it runs is logged as usual."""

from __future__ import annotations

import os

from ..patching import Input, Internal, Output

_BACKEND = "joblib._store_backends"


def _cache_entry(backend: object, call_id: object) -> str | None:
    """The file holding a cached result: the backend's location, the call id's parts,
    output.pkl (as FileSystemStoreBackend.load_item and dump_item build it)."""
    location = getattr(backend, "location", None)
    if not isinstance(location, str) or not isinstance(call_id, (list, tuple)):
        return None
    return os.path.join(location, *call_id, "output.pkl")


DECLARATIONS = [
    Output("joblib", "dump", "filename"),
    Input("joblib", "load", "filename"),
    # dump_item writes a temporary file renamed into place and turns its own errors into
    # a warning: an entry that is not on disk after the call is not logged.
    Output(_BACKEND, "StoreBackendMixin.dump_item", "call_id", name="joblib.Memory",
           locate=_cache_entry),
    Input(_BACKEND, "StoreBackendMixin.load_item", "call_id", name="joblib.Memory",
          locate=_cache_entry),
    *(Internal(_BACKEND, f"StoreBackendMixin.{method}")
      for method in ("store_metadata", "get_metadata", "store_cached_func_code",
                     "get_cached_func_code", "get_cached_func_info")),
    Internal(_BACKEND, "FileSystemStoreBackend.configure"),
]
