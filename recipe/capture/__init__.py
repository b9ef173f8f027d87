"""How recipe sees a file: everything that notices a script's I/O lives in this wing.

- `hooks`: the one place that registers import hooks (`PATCH_MODULES`: which library has
  a declaration module), without importing any library;
- `patching`: `Input`/`Output`/`Opens`/`Closes` declarations, the one wrapper that logs a
  declared call, apply/remove; it knows no library and hands logged files to a sink (the
  recorder);
- `patches/<library>.py`: one declaration module per library, mostly data;
- `audit`: the open-event fallback, an audit hook that sees every file Python code opens
  (builtin open, os.open, pathlib, json/csv/pickle...), renames and removes;
- `children`: the processes a run starts (workers, child runs, commands), with
  `bootstrap/sitecustomize.py`, which brings recipe into the interpreters a run starts.

A new library is one `patches/<library>.py`, one line in `hooks.PATCH_MODULES`, and one
test.
"""
