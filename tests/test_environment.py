"""recipe.record.environment: redaction, environment variables, git state of real repositories,
library versions."""

from __future__ import annotations

import importlib.metadata
import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from recipe import config
from recipe.record import environment
from recipe.record.environment import environment_variables, git_info, redact_url

# -- redaction -----------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:token@host/x", "https://***@host/x"),
    ("https://user:s3cr3t@github.com/owner/repo.git", "https://***@github.com/owner/repo.git"),
    ("https://ghp_abcdef123456@github.com/owner/repo.git", "https://***@github.com/owner/repo.git"),
    ("http://user:pw@host:8080/x", "http://***@host:8080/x"),
    ("HTTPS://user:pw@host/x", "HTTPS://***@host/x"),
    ("git@github.com:owner/repo.git", "git@github.com:owner/repo.git"),  # no password: kept
    ("https://github.com/owner/repo.git", "https://github.com/owner/repo.git"),
    ("https://host/path/with@sign", "https://host/path/with@sign"),  # '@' after the host
    ("/srv/git/repo.git", "/srv/git/repo.git"),
    ("", ""),
    (None, None),
])
def test_redact_url(url: str | None, expected: str | None) -> None:
    assert redact_url(url) == expected


def test_redact_url_hides_the_user_name_of_an_ssh_url_too() -> None:
    # The docstring promises "any user name, password or token": ssh://git@ is redacted
    # although it carries no secret (the scp-like git@host:path form is left as it is).
    assert redact_url("ssh://git@github.com/owner/repo.git") == "ssh://***@github.com/owner/repo.git"


def test_redact_url_hides_a_password_containing_at_signs() -> None:
    assert redact_url("https://user:p@ssw0rd@host/x") == "https://***@host/x"


@pytest.mark.parametrize(("url", "expected"), [
    ("https://gitlab.example/lab/repo.git?private_token=glpat-123",
     "https://gitlab.example/lab/repo.git?private_token=***"),
    ("https://host/repo.git?ref=main&access_token=abc", "https://host/repo.git?ref=main&access_token=***"),
    ("https://host/repo.git?ref=main", "https://host/repo.git?ref=main"),
])
def test_redact_url_hides_secret_query_arguments(url: str, expected: str) -> None:
    assert redact_url(url) == expected


# -- environment variables ----------------------------------------------------------------

SECRETS = ["MY_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "PGPASSWORD",
           "GOOGLE_APPLICATION_CREDENTIALS", "lower_token", "GITHUB_PAT", "MYSQL_PWD",
           "SENTRY_DSN", "AUTH_HEADER", "npmAuthToken", "APIKEY"]
# Words that only contain a secret word are not secret words (the contract's examples).
PLAIN = ["RECIPE_TEST_PLAIN", "LANG_TEST_VALUE", "PATH", "GIT_AUTHOR_NAME", "MAX_TOKENS",
         "COMPASS_HEADING", "TURKEY_COUNT"]


def test_environment_variables_mask_secret_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS + PLAIN:
        monkeypatch.setenv(name, f"value-of-{name}")

    variables = environment_variables()

    assert {name: variables[name] for name in SECRETS} == {name: "***" for name in SECRETS}
    assert {name: variables[name] for name in PLAIN} == {n: f"value-of-{n}" for n in PLAIN}
    assert list(variables) == sorted(variables)
    assert set(variables) == set(os.environ)
    assert not any(f"value-of-{name}" in json.dumps(variables) for name in SECRETS)


def test_environment_variables_lose_passwords_inside_urls(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://alice:s3cret@db.example:5432/lab")
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example/simple?private_token=s3cret")

    variables = environment_variables()

    assert variables["DATABASE_URL"] == "postgresql://***@db.example:5432/lab"
    assert variables["PIP_INDEX_URL"] == "https://pypi.example/simple?private_token=***"


# -- git -----------------------------------------------------------------------------------


@pytest.fixture
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git configuration; a fixed identity for commits."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-global-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Recipe Tester")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tester@example.com")


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                            check=True)
    return result.stdout.strip()


@pytest.fixture
def empty_repo(git_env: None, tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


@pytest.fixture
def repo(empty_repo: Path) -> Path:
    (empty_repo / "tracked.txt").write_text("line one\nline two\n")
    (empty_repo / "sub").mkdir()
    (empty_repo / "sub" / "script.py").write_text("print('hi')\n")
    git(empty_repo, "add", ".")
    git(empty_repo, "commit", "-q", "-m", "first")
    return empty_repo


def test_git_info_of_a_clean_repository(repo: Path) -> None:
    info = git_info(str(repo))

    assert info == {"root": str(repo), "commit": git(repo, "rev-parse", "HEAD"),
                    "branch": "main", "remote": None, "dirty": False, "diff": ""}
    assert len(info["commit"]) == 40


def test_git_info_from_a_subdirectory_finds_the_root(repo: Path) -> None:
    info = git_info(str(repo / "sub"))

    assert info is not None
    assert info["root"] == str(repo)
    assert info["commit"] == git(repo, "rev-parse", "HEAD")


@pytest.mark.parametrize(("url", "expected"), [
    ("https://user:s3cr3t@example.com/r.git", "https://***@example.com/r.git"),
    ("https://s3cr3t@example.com/r.git", "https://***@example.com/r.git"),
    ("git@github.com:owner/r.git", "git@github.com:owner/r.git"),
    ("https://example.com/r.git", "https://example.com/r.git"),
])
def test_git_info_redacts_credentials_of_the_remote(url: str, expected: str,
                                                    repo: Path) -> None:
    git(repo, "remote", "add", "origin", url)

    info = git_info(str(repo))

    assert info is not None
    assert info["remote"] == expected
    assert "s3cr3t" not in json.dumps(info)


def test_git_info_prefers_origin(repo: Path) -> None:
    git(repo, "remote", "add", "aaa-first", "https://example.com/first.git")
    git(repo, "remote", "add", "origin", "https://example.com/origin.git")

    assert git_info(str(repo))["remote"] == "https://example.com/origin.git"


def test_git_info_uses_another_remote_without_origin(repo: Path) -> None:
    git(repo, "remote", "add", "upstream", "https://example.com/upstream.git")

    assert git_info(str(repo))["remote"] == "https://example.com/upstream.git"


def make_change(repo: Path, kind: str) -> str:
    """One change of `kind`; returns a line that must appear in the diff."""
    if kind == "staged":
        (repo / "tracked.txt").write_text("line one\nSTAGED CHANGE\n")
        git(repo, "add", "tracked.txt")
        return "+STAGED CHANGE"
    if kind == "unstaged":
        (repo / "sub" / "script.py").write_text("print('UNSTAGED CHANGE')\n")
        return "+print('UNSTAGED CHANGE')"
    (repo / "new_file.txt").write_text("UNTRACKED CONTENT\n")
    return "+UNTRACKED CONTENT"


@pytest.mark.parametrize("kind", ["staged", "unstaged", "untracked"])
def test_a_change_makes_the_tree_dirty_and_is_in_the_diff(kind: str, repo: Path) -> None:
    line = make_change(repo, kind)

    info = git_info(str(repo))

    assert info["dirty"] is True
    assert line in info["diff"].splitlines()
    assert "diff_truncated" not in info


def test_the_diff_holds_staged_unstaged_and_untracked_changes_together(repo: Path) -> None:
    lines = [make_change(repo, kind) for kind in ("staged", "unstaged", "untracked")]

    diff = git_info(str(repo))["diff"].splitlines()

    assert all(line in diff for line in lines)
    assert "-line two" in diff


def test_diff_disabled_still_reports_dirty(repo: Path) -> None:
    make_change(repo, "unstaged")

    info = git_info(str(repo), diff=False)

    assert info["dirty"] is True
    assert info["diff"] is None


def test_a_detached_head_has_no_branch(repo: Path) -> None:
    commit = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach")

    info = git_info(str(repo))

    assert (info["commit"], info["branch"]) == (commit, None)


def test_a_repository_without_commits_has_no_commit(empty_repo: Path) -> None:
    (empty_repo / "staged.txt").write_text("STAGED BEFORE FIRST COMMIT\n")
    git(empty_repo, "add", "staged.txt")
    (empty_repo / "loose.txt").write_text("NOT ADDED\n")

    info = git_info(str(empty_repo))

    assert info["commit"] is None
    assert info["branch"] == "main"
    assert info["dirty"] is True
    diff = info["diff"].splitlines()
    assert "+STAGED BEFORE FIRST COMMIT" in diff
    assert "+NOT ADDED" in diff


def test_an_empty_repository_is_clean(empty_repo: Path) -> None:
    info = git_info(str(empty_repo))

    assert (info["commit"], info["dirty"], info["diff"]) == (None, False, "")


def test_a_repository_without_commits_records_unstaged_edits(empty_repo: Path) -> None:
    (empty_repo / "script.py").write_text("print('staged')\n")
    git(empty_repo, "add", "script.py")
    (empty_repo / "script.py").write_text("print('edited after add')\n")

    diff = git_info(str(empty_repo))["diff"].splitlines()

    assert "+print('edited after add')" in diff


def test_outside_a_repository_there_is_no_git_info(git_env: None, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()

    assert git_info(str(plain)) is None


def test_without_a_git_command_there_is_no_git_info(repo: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(repo / "no-such-directory"))

    assert git_info(str(repo)) is None


def fake_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """A `git` first on PATH that runs the shell `body` (what real git never does on
    cue: hang, or show what it inherited)."""
    directory = tmp_path / "fake-bin"
    directory.mkdir()
    (directory / "git").write_text(f"#!/bin/sh\n{body}\n")
    (directory / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")


def test_a_git_that_hangs_is_stopped_at_the_timeout_and_left_behind_by_none(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_git(tmp_path, monkeypatch, f'echo $$ >> {tmp_path / "pids"}\nexec sleep 60')
    monkeypatch.setattr(environment, "_GIT_TIMEOUT", 0.5)

    with pytest.raises(RuntimeError, match="git status took longer than 0.5 s"):
        environment._git_all(str(repo), ("status",), ("config",))
    pids = [int(line) for line in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 2
    for pid in pids:  # killed and reaped: not even a zombie
        assert not Path(f"/proc/{pid}").exists()
    assert git_info(str(repo)) is None  # and so: no git information, nothing raised


def test_git_holds_none_of_the_callers_descriptors_and_all_its_output_is_read(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe the script's caller passed it stays out of git; outputs larger than a pipe
    holds, from commands run at the same time, arrive whole; no pipe stays open here."""
    fake_git(tmp_path, monkeypatch,
             'ls /proc/self/fd; head -c 300000 /dev/zero | tr "\\0" x; exit 3')
    open_before = sorted(os.listdir("/proc/self/fd"))
    read_end, write_end = os.pipe()
    passed = os.dup2(write_end, 57)  # inheritable, as a caller's pass_fds leaves it
    try:
        results = environment._git_all(str(repo), ("status",), ("diff",))
    finally:
        for descriptor in (read_end, write_end, passed):
            os.close(descriptor)
    for status, output in results:
        descriptors, _, filler = output.partition("x")
        assert status == 3 and len(filler) == 300000 - 1
        assert "57" not in descriptors.split()
    assert sorted(os.listdir("/proc/self/fd")) == open_before  # none left open here


def test_git_diff_runs_only_when_a_tracked_file_changed_and_config_only_when_needed(
        repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_git = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True,
                              check=True).stdout.strip()
    log = tmp_path / "commands"
    fake_git(tmp_path, monkeypatch, f'echo "$3" >> {log}\nexec {real_git} "$@"')

    (repo / "notes.txt").write_text("untracked only\n")
    assert git_info(str(repo))["dirty"] is True
    assert sorted(log.read_text().split()) == ["status"]  # the remotes: read from files
    log.unlink()
    (repo / "tracked.txt").write_text("changed\n")
    assert "+changed" in git_info(str(repo))["diff"]
    assert sorted(log.read_text().split()) == ["diff", "status"]
    log.unlink()
    (tmp_path / "more").write_text('[remote "origin"]\n\turl = https://example.com/r.git\n')
    git(repo, "config", "include.path", str(tmp_path / "more"))  # only git can tell now
    log.unlink()
    assert git_info(str(repo))["remote"] == "https://example.com/r.git"
    assert sorted(log.read_text().split()) == ["config", "diff", "status"]


def test_git_is_read_in_a_script_that_ignores_sigchld(repo: Path) -> None:
    """Its children are then reaped by the kernel: no exit status to wait for."""
    previous = signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    try:
        info = git_info(str(repo))
    finally:
        signal.signal(signal.SIGCHLD, previous)

    assert info is not None and info["commit"] == git(repo, "rev-parse", "HEAD")


def test_a_large_diff_is_truncated_at_the_cap(repo: Path) -> None:
    (repo / "tracked.txt").write_text("".join(f"changed line {i}\n" for i in range(500)))
    full = subprocess.run(["git", "-C", str(repo), "diff", "--no-color", "HEAD"],
                          capture_output=True, text=True, check=True).stdout
    assert len(full) > 4096

    info = git_info(str(repo), max_bytes=4096)

    assert info["diff_truncated"] is True
    assert info["diff"] == full[:4096] + "\n[recipe: diff truncated at 4 KB]\n"


def test_a_large_untracked_file_is_left_out_and_flagged(repo: Path) -> None:
    (repo / "big.txt").write_text("x" * 10_000)
    (repo / "small.txt").write_text("SMALL\n")

    info = git_info(str(repo), max_bytes=4096)

    assert info["diff_truncated"] is True
    assert "# recipe: untracked file left out (too large): big.txt" in info["diff"]
    assert "+SMALL" in info["diff"].splitlines()
    assert "x" * 100 not in info["diff"]


DEFAULT_NEVER_DIFF = tuple(
    pattern.strip() for pattern in config.DEFAULTS["git"]["diff_exclude"].split(","))


@pytest.mark.parametrize("name", [".env", ".env.local", "prod.env", ".envrc", ".netrc",
                                  "server.pem", "id_ed25519", "credentials.json"])
def test_secret_like_files_are_never_in_the_diff_tracked_or_not(repo: Path, name: str) -> None:
    (repo / "sub" / name).write_text("API_KEY=s3cret\n")
    untracked = git_info(str(repo), never_diff=DEFAULT_NEVER_DIFF)
    assert untracked["dirty"] is True and "s3cret" not in untracked["diff"]
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "secret committed by mistake")
    (repo / "sub" / name).write_text("API_KEY=changed-s3cret\n")
    tracked = git_info(str(repo), never_diff=DEFAULT_NEVER_DIFF)
    assert tracked["dirty"] is True and "s3cret" not in tracked["diff"]


@pytest.mark.parametrize(("name", "content"), [
    ("figure.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("results.csv", b"year,t\n2000,14.0\n"),
    ("plot.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>\n"),
    ("run.log", b"step 1\n"),
])
def test_untracked_data_and_figures_stay_out_of_the_diff(repo: Path, name: str,
                                                         content: bytes) -> None:
    (repo / name).write_bytes(content)
    (repo / "helper.py").write_text("VALUE = 1\n")

    info = git_info(str(repo))

    assert name not in info["diff"] and "+VALUE = 1" in info["diff"].splitlines()


@pytest.mark.parametrize("args", [["export", "-o", "runs.json"],
                                  ["export", "--format", "prov-n", "-o", "runs.json"],
                                  ["export", "--format", "prov-json", "-o", "runs.json"]])
def test_recipes_own_exports_stay_out_of_the_diff(repo: Path, settings: config.Config,
                                                  make_record: Callable, spool_run: Callable,
                                                  args: list[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from recipe.cli import main

    spool_run(make_record(script=str(repo / "sub" / "script.py")))
    monkeypatch.chdir(repo)
    assert main(args) == 0
    (repo / "helper.py").write_text("import json  # source that reads JSON\n")

    diff = git_info(str(repo))["diff"]

    assert "runs.json" not in diff and "+import json  # source that reads JSON" in diff


def test_untracked_files_a_run_touched_stay_out_of_the_diff(repo: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    (repo / "sub" / "summary.json").write_text('{"mean": 1}\n')
    (repo / "notes.txt").write_text("NOTES\n")
    assert "summary.json" in git_info(str(repo), cache_dir=cache)["diff"]

    environment.remember_touched(cache, str(repo), [str(repo / "sub" / "summary.json"),
                                                    "/elsewhere/x.json"])
    environment._touched.clear()  # as a later process, which reads the file again

    diff = git_info(str(repo), cache_dir=cache)["diff"]
    assert "summary.json" not in diff and "+NOTES" in diff.splitlines()
    assert environment.touched_files(cache, str(repo)) == {"sub/summary.json"}


def test_excluded_paths_count_neither_as_changes_nor_in_the_diff(repo: Path,
                                                                 tmp_path: Path) -> None:
    store = repo / ".recipe-home"
    store.mkdir()
    (store / "db.json").write_text("{}")

    info = git_info(str(repo), exclude=(str(store), str(tmp_path / "elsewhere")))

    assert (info["dirty"], info["diff"]) == (False, "")
    assert git_info(str(repo))["dirty"] is True  # not excluded: an untracked directory


# -- libraries -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One cache for the plain look-ups: building it reads every installed distribution."""
    cache_dir = str(tmp_path_factory.mktemp("distributions"))
    environment.build_distributions_cache(cache_dir)
    return cache_dir


@pytest.mark.parametrize(("modules", "expected"), [
    ({"pytest"}, {"pytest": pytest.__version__}),
    ({"_pytest"}, {"pytest": pytest.__version__}),  # module name differs from distribution
    ({"json", "recipe_no_such_module_xyz"}, {}),
])
def test_library_versions(modules: set[str], expected: dict[str, str],
                          shared_cache: str) -> None:
    assert environment.library_versions(modules, shared_cache) == expected


def test_without_a_cache_import_names_still_find_their_distribution(tmp_path: Path) -> None:
    assert environment.library_versions({"_pytest", "PIL", "dateutil"}, str(tmp_path)) == {
        "pytest": pytest.__version__, "pillow": importlib.metadata.version("pillow"),
        "python-dateutil": importlib.metadata.version("python-dateutil")}
    assert len(list(tmp_path.iterdir())) == 1  # and the cache is made for the next runs


def test_the_scan_finds_what_importlib_metadata_finds() -> None:
    found = {module: sorted(dist for dist, _version in dists)
             for module, dists in environment.scan_distributions().items()}
    expected = {module: sorted(set(dists))
                for module, dists in importlib.metadata.packages_distributions().items()}
    # Python 3.11's packages_distributions misses extension modules at the top level
    # (3.12 finds them): the scan may know more, never less.
    assert {module: found.get(module) for module in expected} == expected


def test_library_versions_come_from_a_cache_while_site_packages_is_unchanged(
        tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    environment.build_distributions_cache(str(cache_dir))
    (cache_file,) = cache_dir.iterdir()
    cached = json.loads(cache_file.read_text())
    cached["modules"]["pytest"] = [["pytest", "0.0-from-cache"]]
    cache_file.write_text(json.dumps(cached))

    assert environment.library_versions({"pytest"}, str(cache_dir)) == {
        "pytest": "0.0-from-cache"}

    cached["stamps"] = {"/no/such/site-packages": 1}  # as if a package had been installed
    cache_file.write_text(json.dumps(cached))
    assert environment.library_versions({"pytest"}, str(cache_dir)) == {
        "pytest": pytest.__version__}


def test_third_party_modules_excludes_stdlib_private_and_excluded() -> None:
    names = environment.third_party_modules({"xxhash"})

    assert "pytest" in names
    assert "json" not in names and "os" not in names
    assert "_pytest" not in names
    assert "xxhash" not in names
    assert all("." not in name for name in names)
