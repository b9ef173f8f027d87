"""recipe.record.git_config: git's configuration files read as git reads them, real git the
judge: every file below is also listed by `git config --file F --list`."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from recipe.record.git_config import Unreadable, entries, remote_urls

CONFIGS = {
    "as git writes it": """\
        [core]
        \trepositoryformatversion = 0
        \tbare = false
        [remote "origin"]
        \turl = https://example.com/r.git
        \tfetch = +refs/heads/*:refs/remotes/origin/*
        [branch "main"]
        \tremote = origin
        """,
    "case, blanks and comments": """\
        # a comment
        ; another
        [Remote "Up Stream"]   # after a header
          URL=git@example.com:a/b.git ; trailing comment
        \tPushUrl =   spaced   out\tvalue   # comment
        [core]
        flag
        empty =
        """,
    "quotes, escapes and continuations": """\
        [alias]
        \tlg = "log --graph  --oneline" # kept inside quotes: ; and #
        \tq = "semi;colon" and "hash#mark"
        \tesc = tab\\there \\"quoted\\" back\\\\slash new\\nline
        \tlong = first \\
        \t   second \\
        third
        """,
    "the old subsection form": """\
        [remote.Origin]
        \turl = https://example.com/old.git
        """,
    "CRLF lines, no last newline": "[remote \"o\"]\r\n\turl = https://example.com/crlf.git\r\n"
                                   "[core]\r\n\tx = 1",
    "a later value of the same key": """\
        [remote "origin"]
        \turl = https://example.com/first.git
        \turl = https://example.com/second.git
        [remote "origin"]
        \turl = https://example.com/third.git
        """,
}


def git_list(path: Path) -> list[tuple[str, str | None]]:
    output = subprocess.run(["git", "config", "--file", str(path), "--list", "-z"],
                            capture_output=True, check=True).stdout.decode()
    pairs: list[tuple[str, str | None]] = []
    for item in output.split("\0")[:-1]:
        key, newline, value = item.partition("\n")
        pairs.append((key, value if newline else None))
    return pairs


@pytest.mark.parametrize("name", CONFIGS)
def test_every_variable_reads_as_git_lists_it(name: str, tmp_path: Path) -> None:
    text = textwrap.dedent(CONFIGS[name])
    path = tmp_path / "config"
    path.write_bytes(text.encode())

    assert list(entries(text)) == git_list(path)


@pytest.mark.parametrize("text", [
    "url = x\n",                      # a variable before any section: git fails too
    "[core]\nname: value\n",          # not a variable line
    "[core]\nx = \"unclosed\n",       # an unclosed quote
    "[core]\nx = bad \\q escape\n",   # an unknown escape
    "[remote \"o\"] url = x\n",        # a variable on its section's line: left to git
    "[remote \"a\\\"b\"]\nurl = x\n",  # an escape in a subsection: left to git
])
def test_what_this_reader_leaves_to_git(text: str) -> None:
    with pytest.raises(Unreadable):
        list(entries(text))


@pytest.fixture
def repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_COMMON_DIR", "GIT_CONFIG", "GIT_CONFIG_COUNT",
                 "GIT_CONFIG_PARAMETERS"):
        monkeypatch.delenv(name, raising=False)
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def git_remotes(repo: Path) -> list[tuple[str, str]]:
    result = subprocess.run(["git", "-C", str(repo), "config", "--get-regexp",
                             r"^remote\..*\.url$"], capture_output=True, text=True)
    return [tuple(line.split(" ", 1)) for line in result.stdout.splitlines()]


def test_remotes_of_the_global_file_come_before_the_repositorys(
        repository: Path, tmp_path: Path) -> None:
    (tmp_path / "global-gitconfig").write_text('[remote "shared"]\n\turl = /srv/shared.git\n')
    subprocess.run(["git", "-C", str(repository), "remote", "add", "origin",
                    "https://example.com/r.git"], check=True)

    assert remote_urls(str(repository)) == git_remotes(repository) == [
        ("remote.shared.url", "/srv/shared.git"),
        ("remote.origin.url", "https://example.com/r.git")]


def test_a_linked_worktree_reads_the_main_repositorys_file(repository: Path,
                                                           tmp_path: Path) -> None:
    subprocess.run(["git", "-C", str(repository), "remote", "add", "origin",
                    "https://example.com/r.git"], check=True)
    subprocess.run(["git", "-C", str(repository), "-c", "user.name=t", "-c",
                    "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True)
    subprocess.run(["git", "-C", str(repository), "worktree", "add", "-q",
                    str(tmp_path / "linked")], check=True)

    assert remote_urls(str(tmp_path / "linked")) == [
        ("remote.origin.url", "https://example.com/r.git")] == git_remotes(tmp_path / "linked")


@pytest.mark.parametrize("setup", ["include", "environment"])
def test_where_git_could_see_more_than_the_files_it_is_left_to_git(
        setup: str, repository: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if setup == "include":
        (tmp_path / "more").write_text('[remote "extra"]\n\turl = /srv/extra.git\n')
        subprocess.run(["git", "-C", str(repository), "config", "include.path",
                        str(tmp_path / "more")], check=True)
    else:
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", "remote.extra.url")
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", "/srv/extra.git")

    assert remote_urls(str(repository)) is None
    assert git_remotes(repository) == [("remote.extra.url", "/srv/extra.git")]
