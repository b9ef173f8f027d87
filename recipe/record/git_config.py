"""The remote URLs of a repository, read from git's configuration files as git reads them.

One `git config` process per recorded run cost ~1.1 ms of CPU on another core and, worse,
0.2-1 ms of the script's own time: os.posix_spawnp holds the interpreter lock until the
child has exec'd, and the recorder's thread starts git while the script imports its
libraries. The files are small and their syntax fixed (git-config(1), "CONFIGURATION
FILE"); this reader follows git's own parser (config.c) for what it reads, and gives up,
so that `git config` is asked after all, wherever git could see more than the files named
here: includes, per-worktree configuration, configuration given through the environment.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

# Configuration passed to git by the environment, or a repository elsewhere than the work
# tree says: only git itself knows what it reads then.
_GIT_ENVIRONMENT = ("GIT_CONFIG", "GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS", "GIT_DIR",
                    "GIT_COMMON_DIR", "GIT_CONFIG_SYSTEM")


class Unreadable(Exception):
    """What git sees cannot be told from the files alone: ask `git config`."""


def remote_urls(top: str) -> list[tuple[str, str]] | None:
    """(key, URL) of every `remote.<name>.url` of the repository whose work tree is `top`,
    in the order `git config --get-regexp '^remote\\..*\\.url$'` lists them (system,
    global, then the repository's own file); None when only git can tell."""
    if any(os.environ.get(name) for name in _GIT_ENVIRONMENT):
        return None
    try:
        files = [*_system_and_global_files(), os.path.join(_common_dir(top), "config")]
        found = []
        for path in files:
            try:
                with open(path, "rb") as handle:
                    text = handle.read().decode("utf-8", errors="surrogateescape")
            except FileNotFoundError:
                continue
            for key, value in entries(text):
                if key == "include.path" or key.startswith("includeif."):
                    raise Unreadable(key)
                if (value is not None and key.startswith("remote.") and key.endswith(".url")
                        and len(key) >= len("remote..url")):
                    found.append((key, value))
        return found
    except (OSError, UnicodeError, Unreadable):
        return None


def _system_and_global_files() -> list[str]:
    """The files git reads before the repository's: its system-wide one where a standard
    build places it (/etc for the git in /usr/bin, else PREFIX/etc for PREFIX/bin/git),
    then the user's (XDG, ~/.gitconfig), or the one GIT_CONFIG_GLOBAL names."""
    files = []
    if os.environ.get("GIT_CONFIG_NOSYSTEM", "").lower() not in ("1", "true", "yes", "on"):
        git = _git_executable()
        if git is None:
            raise Unreadable("no git on PATH")
        prefix = os.path.dirname(os.path.dirname(git))
        files.append("/etc/gitconfig" if prefix == "/usr" else
                     os.path.join(prefix, "etc", "gitconfig"))
    if "GIT_CONFIG_GLOBAL" in os.environ:
        files.append(os.environ["GIT_CONFIG_GLOBAL"])
    else:
        home = os.path.expanduser("~")
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        files += [os.path.join(xdg, "git", "config"), os.path.join(home, ".gitconfig")]
    return files


def _git_executable() -> str | None:
    """The `git` a command would run (shutil.which, without importing shutil: it imports
    fnmatch, so `re`)."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", "git")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _common_dir(top: str) -> str:
    """The directory of the repository's own `config`: `.git`, or for a linked worktree
    (`.git` is a file: `gitdir: ...`) the main repository's, which its `commondir` names."""
    dot_git = os.path.join(top, ".git")
    if os.path.isdir(dot_git):
        git_dir = dot_git
    else:
        with open(dot_git, encoding="utf-8") as handle:
            line = handle.readline().rstrip("\r\n")
        if not line.startswith("gitdir: "):
            raise Unreadable(".git file")
        git_dir = os.path.join(top, line[len("gitdir: "):])
    if os.path.exists(os.path.join(git_dir, "config.worktree")):
        raise Unreadable("per-worktree configuration")
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as handle:
            return os.path.join(git_dir, handle.readline().rstrip("\r\n"))
    except FileNotFoundError:
        return git_dir


def entries(text: str) -> Iterator[tuple[str, str | None]]:
    """(key, value) of each variable of a configuration file, keys as git names them
    (`remote.origin.url`: section and name lower case, subsection as written), None for a
    variable without `=` (a boolean true). Raises Unreadable for a line git would call bad
    (git itself then fails, and so would `git config`), and for the rare forms this reader
    leaves to git (a variable on its section's line, escapes in a subsection's name)."""
    lines = text.removeprefix("\ufeff").replace("\r\n", "\n").split("\n")
    section = None
    at = 0
    while at < len(lines):
        line = lines[at].lstrip(_BLANKS)
        at += 1
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            section = _section(line)
            continue
        name = _name(line)
        rest = line[len(name):].lstrip(_BLANKS)
        if section is None or not name or not (rest == "" or rest[0] == "="):
            raise Unreadable(f"bad config line {at}")
        if not rest:
            yield f"{section}.{name.lower()}", None
            continue
        value, at = _value(rest[1:], lines, at)
        yield f"{section}.{name.lower()}", value


_BLANKS = " \t\r"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _name(line: str) -> str:
    """The variable name a line begins with: a letter, then letters, digits and `-`."""
    if not ("a" <= line[0].lower() <= "z"):
        return ""
    end = 1
    while end < len(line) and line[end] in _NAME_CHARS:
        end += 1
    return line[:end]


def _section(line: str) -> str:
    """`[section]`, `[section "subsection"]` or the old `[section.subsection]`, then at
    most a comment."""
    close = line.rfind("]")
    after = line[close + 1:].lstrip(_BLANKS)
    if close < 0 or (after and after[0] not in "#;"):
        raise Unreadable(f"section header {line!r}")
    header = line[1:close]
    name, blank, subsection = header.partition(" ")
    if not name or not _NAME_CHARS.union(".").issuperset(name):
        raise Unreadable(f"section header {line!r}")
    if not blank:
        return name.lower()
    subsection = subsection.lstrip(" \t")
    inner = subsection[1:-1]
    if (len(subsection) < 2 or subsection[0] != '"' or subsection[-1] != '"'
            or '"' in inner or "\\" in inner):
        raise Unreadable(f"section header {line!r}")
    return f"{name.lower()}.{inner}"


_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "\\": "\\", '"': '"'}


def _value(text: str, lines: list[str], at: int) -> tuple[str, int]:
    """The value after `=` and the index of the line after it, as git's parse_value makes
    it: blanks around it dropped, each blank inside kept as a space, comments (`#`, `;`
    unquoted) cut, quotes removed, escapes resolved, a `\\` at a line's end continuing it
    on the next line."""
    if '"' not in text and "\\" not in text:  # the usual value: no character-wise reading
        for mark in "#;":
            text = text.partition(mark)[0]
        return "".join(" " if c in _BLANKS else c for c in text.strip(_BLANKS)), at
    value: list[str] = []
    quoted = comment = False
    spaces = 0
    position = 0
    while True:
        if position == len(text):
            if quoted:
                raise Unreadable(f"unclosed quote, line {at}")
            return "".join(value), at
        c = text[position]
        position += 1
        if comment:
            continue
        if c in _BLANKS and not quoted:
            spaces += bool(value)
            continue
        if not quoted and c in ";#":
            comment = True
            continue
        value.append(" " * spaces)
        spaces = 0
        if c == '"':
            quoted = not quoted
        elif c != "\\":
            value.append(c)
        elif position == len(text):  # a continuation: the value goes on on the next line
            if at == len(lines):
                return "".join(value), at
            text, position, at = lines[at], 0, at + 1
        elif text[position] in _ESCAPES:
            value.append(_ESCAPES[text[position]])
            position += 1
        else:
            raise Unreadable(f"bad escape, line {at}")
