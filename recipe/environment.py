"""What a run ran with: git state, library versions, platform, environment variables.

Git is asked through the `git` command rather than GitPython: `import git` alone costs
~66 ms, twice the start-up budget of `import recipe`, and GitPython shells out to the same
command for everything recipe needs.
"""

from __future__ import annotations

import os
import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import Any

SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASS|CREDENTIAL", re.IGNORECASE)
# scheme://user:password@host or scheme://token@host
# Greedy up to the last "@" before the path: a password may itself contain "@".
_URL_CREDENTIALS = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<credentials>[^/]*)@")
_GIT_TIMEOUT = 30


def redact_url(url: str | None) -> str | None:
    """A remote URL with any user name, password or token replaced by ***."""
    if not url:
        return url
    return _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + "***@", url)


def environment_variables() -> dict[str, str]:
    """os.environ with the values of secret-looking names replaced by ***."""
    return {name: "***" if SECRET_NAME.search(name) else value
            for name, value in sorted(os.environ.items())}


def _run_git(root: str, *args: str) -> subprocess.CompletedProcess:
    import subprocess  # only for scripts in a repository: ~13 ms of imports

    try:
        return subprocess.run(
            ["git", "-C", root, *args], capture_output=True, timeout=_GIT_TIMEOUT,
            env=dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C"),  # never take index.lock
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"git {args[0]} took longer than {_GIT_TIMEOUT} s") from None


def _git(root: str, *args: str, check: bool = True) -> str | None:
    """Output of one git command in `root`; None if it failed and `check` is false."""
    result = _run_git(root, *args)
    if result.returncode != 0:
        if check:
            raise RuntimeError(result.stderr.decode(errors="replace").strip())
        return None
    return result.stdout.decode("utf-8", errors="replace")


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


def _new_file_diff(root: str, name: str) -> str:
    """`git diff` of an untracked file against nothing, made here instead of by one more
    git process per file."""
    with open(os.path.join(root, name), "rb") as handle:
        content = handle.read()
    header = f"diff --git a/{name} b/{name}\nnew file mode 100644\n"
    if b"\0" in content:
        return header + f"Binary files /dev/null and b/{name} differ\n"
    if not content:
        return header
    lines = content.decode("utf-8", errors="replace").splitlines(keepends=True)
    body = "".join("+" + line for line in lines)
    if not body.endswith("\n"):
        body += "\n\\ No newline at end of file\n"
    return header + f"--- /dev/null\n+++ b/{name}\n@@ -0,0 +1,{len(lines)} @@\n" + body


def _status(top: str, pathspec: list[str]) -> tuple[str | None, str | None, bool, list[str]]:
    """(commit, branch, dirty, untracked paths) from one `git status --porcelain=v2`."""
    output = _git(top, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all",
                  "--", *pathspec) or ""
    commit = branch = None
    dirty = False
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
            dirty = True
            untracked.append(field[2:])
        elif field[:2] in ("1 ", "2 ", "u "):
            dirty = True
            if field.startswith("2 "):
                next(fields, None)  # a rename's second field is its original path
    return commit, branch, dirty, untracked


def _remote(top: str) -> str | None:
    """The URL of `origin`, else of the first remote, credentials redacted."""
    output = _git(top, "config", "--get-regexp", r"^remote\..*\.url$", check=False) or ""
    urls = dict(line.split(" ", 1) for line in output.splitlines() if " " in line)
    url = urls.get("remote.origin.url") or next(iter(urls.values()), None)
    return redact_url(url)


def git_info(directory: str, *, diff: bool = True, max_bytes: int = 256 * 1024,
             exclude: tuple[str, ...] = ()) -> dict | None:
    """{root, commit, branch, remote, dirty, diff} of the repository holding `directory`,
    or None outside a repository (or without a usable git). Paths in `exclude` (recipe's
    own store, when it lies inside the repository) count neither as changes nor in the diff.

    Three git processes at most (status, config, diff): each costs a few milliseconds."""
    top = _find_repository(directory)
    if top is None:
        return None
    pathspec = ["."] + [f":(exclude){os.path.relpath(os.path.realpath(path), top)}"
                        for path in exclude
                        if os.path.realpath(path).startswith(top + os.sep)]
    try:
        commit, branch, dirty, untracked = _status(top, pathspec)
    except (OSError, RuntimeError):
        return None  # not a usable repository, or no git
    info: dict[str, Any] = {"root": top, "commit": commit, "branch": branch,
                            "remote": _remote(top), "dirty": dirty, "diff": None}
    if not diff:
        return info
    # Against HEAD (before the first commit: the empty tree), staged and unstaged changes
    # together, so the diff shows the files as the script ran with them.
    empty_tree = _git(top, "hash-object", "-t", "tree", os.devnull, check=False) if not commit \
        else None
    against = commit or (empty_tree or "").strip() or "--cached"
    text = _git(top, "diff", "--no-color", against, "--", *pathspec, check=False) or ""
    truncated = False
    for name in untracked:
        try:
            size = os.path.getsize(os.path.join(top, name))
            if len(text) + size > max_bytes:
                text += f"# recipe: untracked file left out (too large): {name}\n"
                truncated = True
                continue
            text += _new_file_diff(top, name)
        except OSError:
            continue
    if len(text) > max_bytes:
        text = text[:max_bytes] + f"\n[recipe: diff truncated at {max_bytes // 1024} KB]\n"
        truncated = True
    if truncated:
        info["diff_truncated"] = True
    info["diff"] = text
    return info


def library_versions(module_names: set[str], cache_dir: str) -> dict[str, str]:
    """{distribution name: version} for the top-level modules given that come from an
    installed distribution (the standard library and local modules have none)."""
    mapping = distributions_by_module(cache_dir)
    return {dist: version for name in sorted(module_names)
            for dist, version in mapping.get(name, ())}


def distributions_by_module(cache_dir: str) -> dict[str, list[list[str]]]:
    """{top-level module: [[distribution, version], ...]} of this interpreter's sys.path.

    Reading it from the installed metadata costs ~100 ms (importlib.metadata opens every
    distribution's RECORD), so it is cached per sys.path and rebuilt only when one of its
    directories changed (installing or removing a package changes its directory's mtime)."""
    import json
    import zlib

    entries = [entry for entry in sys.path[1:] if entry and os.path.isdir(entry)]
    # Only where distributions are installed: the script's own directory (sys.path[0])
    # changes with every file it writes.
    stamps = {entry: os.stat(entry).st_mtime_ns for entry in entries
              if os.path.basename(entry) in ("site-packages", "dist-packages")}
    key = zlib.crc32("\0".join([sys.executable, *entries]).encode())
    cache = os.path.join(cache_dir, f"distributions-{key:08x}.json")
    try:
        with open(cache, encoding="utf-8") as handle:
            cached = json.load(handle)
        if cached["stamps"] == stamps:
            return cached["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import importlib.metadata as metadata

    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in versions:
            versions[name] = dist.version
    mapping = {module: [[dist, versions[dist]] for dist in dict.fromkeys(dists) if dist in versions]
               for module, dists in metadata.packages_distributions().items()}
    try:
        from .spool import atomic_write_json

        os.makedirs(cache_dir, exist_ok=True)
        atomic_write_json(cache, {"stamps": stamps, "modules": mapping}, durable=False)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return mapping


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
