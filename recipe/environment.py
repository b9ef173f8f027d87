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
_URL_CREDENTIALS = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<credentials>[^@/]+)@")
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


def _untracked_diff(root: str, max_bytes: int, pathspec: list[str]) -> tuple[str, bool]:
    """New-file diffs of untracked files within `max_bytes`, and whether any was left out."""
    listing = _git(root, "ls-files", "--others", "--exclude-standard", "-z", "--", *pathspec,
                   check=False) or ""
    parts = []
    budget = max_bytes
    left_out = False
    for name in filter(None, listing.split("\0")):
        path = os.path.join(root, name)
        try:
            size = os.path.getsize(path)
        except OSError:
            continue
        if size > budget:
            parts.append(f"# recipe: untracked file left out (too large): {name}\n")
            left_out = True
            continue
        # `git diff --no-index` exits 1 when the files differ, as they always do here.
        diff = _run_git(root, "diff", "--no-index", "--no-color", "--", "/dev/null", name)
        parts.append(diff.stdout.decode("utf-8", errors="replace"))
        budget -= len(parts[-1])
        if budget <= 0:
            break
    return "".join(parts), left_out


def git_info(directory: str, *, diff: bool = True, max_bytes: int = 256 * 1024,
             exclude: tuple[str, ...] = ()) -> dict | None:
    """{root, commit, branch, remote, dirty, diff} of the repository holding `directory`,
    or None outside a repository (or without a usable git). Paths in `exclude` (recipe's
    own store, when it lies inside the repository) count neither as changes nor in the diff."""
    root = _find_repository(directory)
    if root is None:
        return None
    try:
        top = _git(root, "rev-parse", "--show-toplevel").strip()
    except (OSError, RuntimeError):
        return None
    commit = (_git(top, "rev-parse", "--verify", "-q", "HEAD", check=False) or "").strip() or None
    branch = (_git(top, "symbolic-ref", "-q", "--short", "HEAD", check=False) or "").strip()
    remote_name = "origin"
    remotes = (_git(top, "remote", check=False) or "").split()
    if remotes and remote_name not in remotes:
        remote_name = remotes[0]
    remote = None
    if remotes:
        remote = redact_url((_git(top, "remote", "get-url", remote_name, check=False)
                             or "").strip() or None)
    real_top = os.path.realpath(top)
    pathspec = ["."] + [f":(exclude){os.path.relpath(os.path.realpath(path), real_top)}"
                        for path in exclude
                        if os.path.realpath(path).startswith(real_top + os.sep)]
    status = _git(top, "status", "--porcelain", "--", *pathspec, check=False) or ""
    info: dict[str, Any] = {
        "root": top,
        "commit": commit,
        "branch": branch or None,
        "remote": remote,
        "dirty": bool(status.strip()),
        "diff": None,
    }
    if diff:
        # Against HEAD: staged and unstaged changes together; untracked files appended.
        against = "HEAD" if commit else "--cached"
        text = _git(top, "diff", "--no-color", against, "--", *pathspec, check=False) or ""
        left_out = False
        if len(text) < max_bytes:
            untracked, left_out = _untracked_diff(top, max_bytes - len(text), pathspec)
            text += untracked
        if len(text) > max_bytes:
            text = text[:max_bytes] + f"\n[recipe: diff truncated at {max_bytes // 1024} KB]\n"
            left_out = True
        if left_out:
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
