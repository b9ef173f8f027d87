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


def _git_all(root: str, *commands: tuple[str, ...]) -> list[tuple[int, str]]:
    """(exit status, output) of each git command, all run at the same time in `root`."""
    import subprocess  # only for scripts in a repository: ~13 ms of imports

    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", LC_ALL="C")  # never take index.lock
    processes = [subprocess.Popen(["git", "-C", root, *args], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
                 for args in commands]
    results = []
    for args, process in zip(commands, processes, strict=True):
        try:
            output, _errors = process.communicate(timeout=_GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
                other.communicate()
            raise RuntimeError(f"git {args[0]} took longer than {_GIT_TIMEOUT} s") from None
        results.append((process.returncode, output.decode("utf-8", errors="replace")))
    return results


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


def _parse_status(output: str) -> tuple[str | None, str | None, bool, list[str]]:
    """(commit, branch, dirty, untracked paths) from `git status --porcelain=v2 -z`."""
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


def _parse_remote(output: str) -> str | None:
    """The URL of `origin`, else of the first remote, credentials redacted."""
    urls = dict(line.split(" ", 1) for line in output.splitlines() if " " in line)
    return redact_url(urls.get("remote.origin.url") or next(iter(urls.values()), None))


def git_info(directory: str, *, diff: bool = True, max_bytes: int = 256 * 1024,
             exclude: tuple[str, ...] = ()) -> dict | None:
    """{root, commit, branch, remote, dirty, diff} of the repository holding `directory`,
    or None outside a repository (or without a usable git). Paths in `exclude` (recipe's
    own store, when it lies inside the repository) count neither as changes nor in the diff.

    Three git processes (status, config, diff), run at the same time."""
    top = _find_repository(directory)
    if top is None:
        return None
    pathspec = ["."] + [f":(exclude){os.path.relpath(os.path.realpath(path), top)}"
                        for path in exclude
                        if os.path.realpath(path).startswith(top + os.sep)]
    commands = [("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", "--",
                 *pathspec),
                ("config", "--get-regexp", r"^remote\..*\.url$")]
    if diff:
        # Against HEAD: staged and unstaged changes together, as the script ran with them.
        commands.append(("diff", "--no-color", "HEAD", "--", *pathspec))
    try:
        (status, status_output), (_, remotes), *diffs = _git_all(top, *commands)
    except (OSError, RuntimeError):
        return None  # no usable git
    if status != 0:
        return None  # not a usable repository
    commit, branch, dirty, untracked = _parse_status(status_output)
    info: dict[str, Any] = {"root": top, "commit": commit, "branch": branch,
                            "remote": _parse_remote(remotes), "dirty": dirty, "diff": None}
    if not diff:
        return info
    text = diffs[0][1] if commit else ""
    if not commit:  # no HEAD yet: against the empty tree
        empty_tree = (_git(top, "hash-object", "-t", "tree", os.devnull) or "").strip()
        if empty_tree:
            text = _git(top, "diff", "--no-color", empty_tree, "--", *pathspec) or ""
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
    installed distribution (the standard library and local modules have none).

    From the cache of `cached_distributions`; while it is stale (the first run, or the
    first after a `pip install`), only modules named like their distribution are found
    (numpy, pandas, matplotlib...): a full scan costs ~250 ms, which the detached merger
    pays after the run (`build_distributions_cache`), not the script."""
    mapping = cached_distributions(cache_dir)
    if mapping is not None:
        return {dist: version for name in sorted(module_names)
                for dist, version in mapping.get(name, ())}
    import importlib.metadata as metadata

    versions = {}
    for name in sorted(module_names):
        try:
            dist = metadata.distribution(name)
        except (metadata.PackageNotFoundError, ValueError):
            continue
        versions[dist.metadata["Name"] or name] = dist.version
    return versions


def _distributions_cache(cache_dir: str) -> tuple[str, dict[str, int]]:
    """The cache file for this interpreter's installation, and the mtimes that validate it.

    Only directories where distributions are installed count: the script's own directory
    (sys.path[0]) changes with every file it writes, and the merger's sys.path differs in
    it, but the two share the cache."""
    import zlib

    stamps = {entry: os.stat(entry).st_mtime_ns for entry in sys.path
              if os.path.basename(entry) in ("site-packages", "dist-packages")
              and os.path.isdir(entry)}
    key = zlib.crc32("\0".join([sys.executable, *stamps]).encode())
    return os.path.join(cache_dir, f"distributions-{key:08x}.json"), stamps


def cached_distributions(cache_dir: str) -> dict[str, list[list[str]]] | None:
    """{top-level module: [[distribution, version], ...]} from the cache; None if it is
    missing or stale (installing or removing a package changes its directory's mtime)."""
    import json

    path, stamps = _distributions_cache(cache_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            cached = json.load(handle)
        if cached["stamps"] == stamps:
            return cached["modules"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def build_distributions_cache(cache_dir: str) -> None:
    """Scan every installed distribution (~250 ms: importlib.metadata opens each one's
    RECORD) and cache which top-level modules each provides, unless the cache is fresh."""
    if cached_distributions(cache_dir) is not None:
        return
    import importlib.metadata as metadata

    path, stamps = _distributions_cache(cache_dir)
    versions = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name not in versions:
            versions[name] = dist.version
    mapping = {module: [[dist, versions[dist]] for dist in dict.fromkeys(dists) if dist in versions]
               for module, dists in metadata.packages_distributions().items()}
    try:
        from .journal import atomic_write_json

        os.makedirs(cache_dir, exist_ok=True)
        atomic_write_json(path, {"stamps": stamps, "modules": mapping}, durable=False)
    except OSError:
        pass  # a cache that cannot be written only costs time


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
