"""What a run ran with: git state, library versions, platform, environment variables.

Git is asked through the `git` command rather than GitPython: `import git` alone costs
~66 ms, twice the start-up budget of `import recipe`, and GitPython shells out to the same
command for everything recipe needs.
"""

from __future__ import annotations

import os
import sys
import time

from ..config import glob_matcher
from .fields import REDACTED, Secrets
from .git_config import remote_urls

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

_GIT_TIMEOUT = 30
# Untracked files that are data or figures by their name, never source (text, but not code).
_DATA_SUFFIXES = (".csv", ".tsv", ".psv", ".dat", ".log", ".jsonl", ".ndjson", ".svg", ".eps",
                  ".ps", ".pdf", ".out")
_BINARY_SNIFF = 8000  # bytes git itself looks at for a NUL to call a file binary
# What recipe's own exports begin with (JSON, NDJSON, RO-Crate metadata; PROV-N) and hold
# near their start: each run record its version, PROV and RO-Crate the namespace of
# recipe's identifiers (provenance/exports.py).
_EXPORT_STARTS = (b"[", b"{", b"document")
_EXPORT_MARKS = (b'"recipe_version":', b"https://recipe.invalid/ns#")
_EXPORT_SNIFF = 64 * 1024


def redact_url(url: str | None, secrets: Secrets | None = None) -> str | None:
    """A remote URL with its user information (user name, password or token) replaced by
    *** and the values of secret query arguments (`?private_token=`) too."""
    if not url:
        return url
    return (secrets or Secrets()).value(url)


def environment_variables(secrets: Secrets | None = None) -> dict[str, str]:
    """os.environ with the values of secret-looking names replaced by *** and credentials
    removed from URLs in the others."""
    secrets = secrets or Secrets()
    return {name: REDACTED if secrets.is_secret(name) else secrets.value(value)
            for name, value in sorted(os.environ.items())}


def _git_all(root: str, *commands: tuple[str, ...]) -> list[tuple[int, str]]:
    """(exit status, output) of each git command, all run at the same time in `root`.

    Started with os.posix_spawnp and read through pipes with poll: `subprocess` would cost
    a script in a repository ~6 ms of imports (selectors, locale, signal) on the recorder's
    thread, which takes them from the script while it starts. git gets /dev/null for
    stdin and stderr and none of this process's other descriptors (a pipe the script's
    caller passed it must not stay open in a git that outlives the script)."""
    import select
    from _signal import SIGKILL  # the signal module itself costs an import

    from .delivery import inheritable_descriptors, spawn_actions

    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")  # never take index.lock
    devnull = os.open(os.devnull, os.O_RDWR)
    started: list[tuple[int, int]] = []  # (pid, read end of its stdout)
    try:
        inherited = inheritable_descriptors()
        for args in commands:
            read_end, write_end = os.pipe()
            try:
                pid = os.posix_spawnp("git", ["git", "-C", root, *args], env,
                                      file_actions=spawn_actions(devnull, write_end, devnull,
                                                                 inherited))
            except BaseException:
                os.close(read_end)
                raise
            finally:
                os.close(write_end)
            started.append((pid, read_end))
        chunks: dict[int, list[bytes]] = {read_end: [] for _pid, read_end in started}
        poller = select.poll()
        for read_end in chunks:
            poller.register(read_end, select.POLLIN)
        reading = set(chunks)
        deadline = time.monotonic() + _GIT_TIMEOUT
        while reading:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                slow = next(args for args, (_pid, read_end) in zip(commands, started, strict=True)
                            if read_end in reading)
                raise RuntimeError(f"git {slow[0]} took longer than {_GIT_TIMEOUT} s")
            for read_end, _event in poller.poll(remaining * 1000):
                chunk = os.read(read_end, 65536)
                if chunk:
                    chunks[read_end].append(chunk)
                else:
                    poller.unregister(read_end)
                    reading.discard(read_end)
        outputs = [b"".join(chunks[read_end]).decode("utf-8", errors="replace")
                   for _pid, read_end in started]
        pids = [pid for pid, _read_end in started]
        for _pid, read_end in started:
            os.close(read_end)
        started.clear()
        return [(_exit_status(pid), output) for pid, output in zip(pids, outputs, strict=True)]
    finally:
        os.close(devnull)
        for pid, read_end in started:  # not all started, or too slow: none left behind
            os.close(read_end)
            try:
                os.kill(pid, SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass


def _exit_status(pid: int) -> int:
    """The exit status of a child that has closed its output; 0 if it was reaped already
    (the script ignores SIGCHLD), which is what subprocess says then too."""
    try:
        _pid, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 0
    return os.waitstatus_to_exitcode(status)


def _git(root: str, *args: str) -> str | None:
    """Output of one git command in `root`; None if it failed."""
    [(status, output)] = _git_all(root, args)
    return output if status == 0 else None


def _find_repository(directory: str) -> str | None:
    """The work tree containing `directory`, found without running anything."""
    path = os.path.realpath(directory)
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _new_file_diff(root: str, name: str) -> str | None:
    """`git diff` of an untracked file against nothing, made here instead of by one more
    git process per file; None for a binary file (a NUL early on, as git decides) and for
    an export of recipe's (`recipe export -o runs.json`: data about runs, not code)."""
    with open(os.path.join(root, name), "rb") as handle:
        content = handle.read()
    if b"\0" in content[:_BINARY_SNIFF] or _is_export(content):
        return None
    header = f"diff --git a/{name} b/{name}\nnew file mode 100644\n"
    if not content:
        return header
    lines = content.decode("utf-8", errors="replace").splitlines(keepends=True)
    body = "".join("+" + line for line in lines)
    if not body.endswith("\n"):
        body += "\n\\ No newline at end of file\n"
    return header + f"--- /dev/null\n+++ b/{name}\n@@ -0,0 +1,{len(lines)} @@\n" + body


def _is_export(content: bytes) -> bool:
    """Whether a file is an export of recipe's (`recipe export -o runs.json`, `recipe runs
    --json > runs.json`, PROV, RO-Crate): data about runs, never code."""
    head = content[:_EXPORT_SNIFF]
    return head.lstrip().startswith(_EXPORT_STARTS) and any(mark in head
                                                            for mark in _EXPORT_MARKS)


def _parse_status(output: str) -> tuple[str | None, str | None, bool, list[str]]:
    """(commit, branch, whether a tracked file changed, untracked paths) from `git status
    --porcelain=v2 -z`."""
    commit = branch = None
    changed = False
    untracked = []
    fields = iter(output.split("\0"))
    for field in fields:
        if field.startswith("# branch.oid "):
            oid = field[len("# branch.oid "):]
            commit = None if oid == "(initial)" else oid
        elif field.startswith("# branch.head "):
            head = field[len("# branch.head "):]
            branch = None if head == "(detached)" else head
        elif field.startswith("? "):
            untracked.append(field[2:])
        elif field[:2] in ("1 ", "2 ", "u "):
            changed = True
            if field.startswith("2 "):
                next(fields, None)  # a rename's second field is its original path
    return commit, branch, changed, untracked


def _chosen_remote(remotes: list[tuple[str, str]], secrets: Secrets | None = None
                   ) -> str | None:
    """The URL of `origin`, else of the first remote, credentials redacted; `remotes`:
    (`remote.NAME.url`, URL) as git lists them (a later one of a name wins, as in git)."""
    urls = dict(remotes)
    return redact_url(urls.get("remote.origin.url") or next(iter(urls.values()), None),
                      secrets)


def _source_candidate(name: str, secret: Callable[[str], bool] | None,
                      touched: set[str]) -> bool:
    """Whether an untracked file may enter the diff as source, by what is known without
    reading it: not secret-like (`secret`: by its file name, `.env`), not data or a
    figure by its suffix, not a file a run read or wrote (`touched`)."""
    base = os.path.basename(name)
    return (name not in touched and not base.lower().endswith(_DATA_SUFFIXES)
            and not (secret is not None and secret(base)))


def git_info(directory: str, *, diff: bool = True, max_bytes: int = 256 * 1024,
             exclude: tuple[str, ...] = (), never_diff: tuple[str, ...] = (),
             secrets: Secrets | None = None, cache_dir: str | None = None) -> dict | None:
    """{root, commit, branch, remote, dirty, diff} of the repository holding `directory`,
    or None outside a repository (or without a usable git). Paths in `exclude` (recipe's
    own store, when it lies inside the repository) count neither as changes nor in the diff.

    The diff holds staged, unstaged and untracked changes, except files whose name
    matches a glob of `never_diff` (`.env`: their changes are never recorded, tracked or
    not). An untracked file enters it only as text source: not binary, not data by its
    suffix, not a file a run read or wrote (remembered in `cache_dir`, see
    `remember_touched`), not an export of recipe's, within `max_bytes`. Remote URLs lose
    their credentials.

    The remotes are read from git's configuration files (git_config.remote_urls), or by a
    `git config` beside `git status` where only git can tell; `git diff` after them, and
    only if status saw a tracked file changed (a clean work tree is common: one process
    fewer, 2-3 ms of CPU on a small repository, competing with the script for the cores)."""
    top = _find_repository(directory)
    if top is None:
        return None
    pathspec = ["."] + [f":(exclude){os.path.relpath(os.path.realpath(path), top)}"
                        for path in exclude
                        if os.path.realpath(path).startswith(top + os.sep)]
    remotes = remote_urls(top)
    commands = [("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", "--",
                 *pathspec)]
    if remotes is None:  # only git can tell
        commands.append(("config", "--get-regexp", r"^remote\..*\.url$"))
    unsaid = [f":(exclude,glob)**/{pattern}" for pattern in never_diff]
    try:
        (status, status_output), *asked = _git_all(top, *commands)
        if status != 0:
            return None  # not a usable repository
        if asked:
            remotes = [tuple(line.split(" ", 1)) for line in asked[0][1].splitlines()
                       if " " in line]
        commit, branch, changed, untracked = _parse_status(status_output)
        info: dict[str, Any] = {"root": top, "commit": commit, "branch": branch,
                                "remote": _chosen_remote(remotes, secrets),
                                "dirty": changed or bool(untracked), "diff": None}
        if not diff:
            return info
        text = ""
        if changed:
            # Against HEAD (before the first commit: the empty tree): staged and unstaged
            # changes together, as the script ran with them.
            base = commit or (_git(top, "hash-object", "-t", "tree", os.devnull) or "").strip()
            if base:
                text = _git(top, "diff", "--no-color", base, "--", *pathspec, *unsaid) or ""
    except (OSError, RuntimeError):
        return None  # no usable git
    truncated = False
    touched = touched_files(cache_dir, top) if cache_dir else set()
    secret = glob_matcher(never_diff)
    for name in untracked:
        if not _source_candidate(name, secret, touched):
            continue
        try:
            size = os.path.getsize(os.path.join(top, name))
            if len(text) + size > max_bytes:
                text += f"# recipe: untracked file left out (too large): {name}\n"
                truncated = True
                continue
            text += _new_file_diff(top, name) or ""
        except OSError:
            continue
    if len(text) > max_bytes:
        text = text[:max_bytes] + f"\n[recipe: diff truncated at {max_bytes // 1024} KB]\n"
        truncated = True
    if truncated:
        info["diff_truncated"] = True
    info["diff"] = text
    return info


def _touched_path(cache_dir: str, root: str) -> str:
    from .hashing import short_name

    return os.path.join(cache_dir, f"touched-{short_name(root)}.txt")


_touched: dict[str, set[str]] = {}  # by cache file: what this process read or added


def touched_files(cache_dir: str, root: str) -> set[str]:
    """The files under the work tree `root` (relative paths) that recorded runs read or
    wrote: data, never source for the diff."""
    path = _touched_path(cache_dir, root)
    if path not in _touched:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as handle:
                _touched[path] = {line.rstrip("\n") for line in handle}
        except OSError:
            _touched[path] = set()
    return _touched[path]


def remember_touched(cache_dir: str, root: str, paths: Iterable[str]) -> None:
    """Add the files among absolute `paths` that lie under `root` to `touched_files`: one
    append of the new ones (O_APPEND: concurrent runs add whole lines)."""
    inside = root.rstrip(os.sep) + os.sep
    known = touched_files(cache_dir, root)
    # The root is a real path; an event's path may pass through a symbolic link.
    real = (path if path.startswith(inside) else os.path.realpath(path) for path in paths)
    new = sorted({path[len(inside):] for path in real if path.startswith(inside)} - known)
    if not new:
        return
    os.makedirs(cache_dir, exist_ok=True)
    descriptor = os.open(_touched_path(cache_dir, root),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(descriptor, "".join(name + "\n" for name in new)
                 .encode("utf-8", errors="surrogateescape"))
    finally:
        os.close(descriptor)
    known.update(new)


def library_versions(module_names: set[str], cache_dir: str) -> dict[str, str]:
    """{distribution name: version} for the top-level modules given that come from an
    installed distribution (the standard library and local modules have none), found
    from import names (`PIL` is pillow, `dateutil` python-dateutil) on the first run too.

    From the cache of `cached_distributions`, made now if it is stale (the first run,
    or the first after a `pip install`); the worker thread usually made it already."""
    distributions = build_distributions_cache(cache_dir)  # once: it reads and decodes a file
    return {dist: version for name in sorted(module_names)
            for dist, version in distributions.get(name, ())}


def _distributions_cache(cache_dir: str) -> tuple[str, dict[str, int]]:
    """The cache file for this interpreter's installation, and the mtimes that validate it.

    Only directories where distributions are installed count: the script's own directory
    (sys.path[0]) changes with every file it writes, and the merger's sys.path differs in
    it, but the two share the cache."""
    stamps = {entry: os.stat(entry).st_mtime_ns for entry in sys.path
              if os.path.basename(entry) in ("site-packages", "dist-packages")
              and os.path.isdir(entry)}
    from .hashing import short_name

    key = short_name("\0".join([sys.executable, *stamps]))
    return os.path.join(cache_dir, f"distributions-{key}.json"), stamps


def cached_distributions(cache_dir: str) -> dict[str, list[list[str]]] | None:
    """{top-level module: [[distribution, version], ...]} from the cache; None if it is
    missing or stale (installing or removing a package changes its directory's mtime)."""
    from .quick_json import loads

    path, stamps = _distributions_cache(cache_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            cached = loads(handle.read())
        if cached["stamps"] == stamps:
            return cached["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def build_distributions_cache(cache_dir: str) -> dict[str, list[list[str]]]:
    """The mapping of `cached_distributions`, from the cache if it is fresh, else by
    scanning every installed distribution (`scan_distributions`) and caching the result."""
    cached = cached_distributions(cache_dir)
    if cached is not None:
        return cached
    path, stamps = _distributions_cache(cache_dir)
    mapping = scan_distributions()
    try:
        from .journal import atomic_write_json

        os.makedirs(cache_dir, exist_ok=True)
        atomic_write_json(path, {"stamps": stamps, "modules": mapping}, durable=False)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return mapping


def scan_distributions() -> dict[str, list[list[str]]]:
    """{top-level module: [[distribution, version], ...]} of every distribution installed
    on sys.path (the first of a name wins, as for imports).

    What `importlib.metadata.packages_distributions()` finds (`top_level.txt`, else the
    top-level names in `RECORD`), read directly from the `.dist-info`/`.egg-info`
    directories: ~10 ms here against ~130 ms, which importlib.metadata spends on path
    objects and on parsing every METADATA file in full with the email package."""
    mapping: dict[str, list[list[str]]] = {}
    seen: set[str] = set()
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue  # not a directory (a zip file, a missing path)
        for name in names:
            if not name.endswith((".dist-info", ".egg-info")):
                continue
            directory = os.path.join(entry or ".", name)
            dist, version = _name_and_version(directory)
            if not dist or not version or dist.lower() in seen:
                continue
            seen.add(dist.lower())
            for module in sorted(_top_level_modules(directory)):
                mapping.setdefault(module, []).append([dist, version])
    return mapping


def _name_and_version(directory: str) -> tuple[str | None, str | None]:
    """Name and Version from the header of METADATA (PKG-INFO for an egg)."""
    for file_name in ("METADATA", "PKG-INFO"):
        name = version = None
        try:
            with open(os.path.join(directory, file_name), encoding="utf-8",
                      errors="replace") as handle:
                for line in handle:
                    if not line.strip():
                        break  # the header ends at the first empty line
                    key, _, value = line.partition(":")
                    if key == "Name":
                        name = value.strip()
                    elif key == "Version":
                        version = value.strip()
        except OSError:
            continue
        return name, version
    return None, None


def _top_level_modules(directory: str) -> set[str]:
    """The import names a distribution provides: `top_level.txt`, else the first part of
    each path in RECORD (a package directory, or a module file's name)."""
    try:
        with open(os.path.join(directory, "top_level.txt"), encoding="utf-8") as handle:
            return set(handle.read().split())
    except OSError:
        pass
    modules = set()
    try:
        with open(os.path.join(directory, "RECORD"), encoding="utf-8",
                  errors="replace") as handle:
            for line in handle:
                first, nested, _rest = line.split(",", 1)[0].partition("/")
                if not nested:  # a file at the top: a module only if Python loads it
                    if not first.endswith((".py", ".so", ".pyd")):
                        continue
                    first = first.partition(".")[0]
                if first.isidentifier() and first != "__pycache__":
                    modules.add(first)
    except OSError:
        pass
    return modules


def third_party_modules(exclude: set[str]) -> set[str]:
    """Top-level names of imported modules that are not the standard library's."""
    names = set()
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith("_") or module is None or name in exclude:
            continue
        if name in sys.stdlib_module_names or name in sys.builtin_module_names:
            continue
        names.add(name)
    return names
