"""Secrets never enter a record (issue 12 item 12, contract section 7): command-line
options, parameters, environment variables, passwords in URLs and git remote credentials,
seen through `recipe export`, `show --json`, every listing format and the web viewer."""

from __future__ import annotations

import json
import subprocess

import pytest
from recipe_workspace import Workspace

SECRETS = ["hunter2", "k-3a3a3a", "t-4b4b4b", "db-5c5c5c", "ghp-6d6d6d", "glpat-7e7e7e",
           "pat-8f8f8f", "pwd-9a9a9a", "dsn-0b0b0b", "auth-1c1c1c", "url-2d2d2d", "param-3e3e"]
SCRIPT = """\
    import argparse
    import recipe
    parser = argparse.ArgumentParser()
    parser.add_argument("--password")
    parser.add_argument("--api-key")
    parser.add_argument("--token")
    parser.add_argument("--database")
    parser.add_argument("--window", type=int, default=3)
    args = parser.parse_args()
    secret = recipe.Param("param-3e3e", name="client_secret")
    print("ran with", args.password, args.window)
    """


@pytest.fixture
def recorded(ws: Workspace) -> Workspace:
    """One run that meets every kind of secret."""
    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=T", "-c", "user.email=t@example.org", *args],
                       cwd=ws.root, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    script = ws.write("train.py", SCRIPT)
    git("add", "train.py")
    git("commit", "-qm", "train")
    git("remote", "add", "origin",
        "https://alice:ghp-6d6d6d@gitlab.example/lab/repo.git?private_token=glpat-7e7e7e")
    result = ws.python(script, "--password=hunter2", "--api-key", "k-3a3a3a", "--token",
                       "t-4b4b4b", "--database", "postgresql://bob:db-5c5c5c@db/lab",
                       "--window", "5",
                       env={"RECIPE_ENVIRONMENT_RECORD": "yes",
                            "GITHUB_PAT": "pat-8f8f8f", "MYSQL_PWD": "pwd-9a9a9a",
                            "SENTRY_DSN": "dsn-0b0b0b", "AUTH_HEADER": "auth-1c1c1c",
                            "DATABASE_URL": "postgresql://carol:url-2d2d2d@db:5432/lab",
                            "PLAIN_SETTING": "visible-value"})
    assert result.stdout == "ran with hunter2 5\n"  # the script itself got them all
    return ws


def test_a_run_keeps_no_secret_anywhere(recorded: Workspace) -> None:
    [run] = recorded.runs()
    shown = {
        "export": recorded.recipe("export").stdout,
        "show --json": recorded.recipe("show", run["id"], "--json").stdout,
        "show": recorded.recipe("show", run["id"], "--diff").stdout,
        "runs": recorded.recipe("runs").stdout,
        "runs --format ndjson": recorded.recipe("runs", "--format", "ndjson").stdout,
        "runs --csv": recorded.recipe("runs", "--csv").stdout,
        "prov-n": recorded.recipe("export", "--format", "prov-n").stdout,
    }
    spool_and_store = "".join(path.read_text(errors="replace")
                              for path in recorded.home.rglob("*") if path.is_file())
    for where, text in [*shown.items(), ("the store's files", spool_and_store)]:
        for secret in SECRETS:
            assert secret not in text, (where, secret)


def test_what_is_redacted_still_says_what_it_was(recorded: Workspace) -> None:
    [run] = recorded.runs()
    assert run["command"] == [
        str(recorded.root / "train.py"), "--password=***", "--api-key", "***", "--token",
        "***", "--database", "postgresql://***@db/lab", "--window", "5"]
    assert run["params"] == {"password": "***", "api_key": "***", "token": "***",
                             "database": "postgresql://***@db/lab", "window": 5,
                             "client_secret": "***"}
    assert run["git"]["remote"] == "https://***@gitlab.example/lab/repo.git?private_token=***"
    environment = run["environment"]
    assert {name: environment[name] for name in
            ("GITHUB_PAT", "MYSQL_PWD", "SENTRY_DSN", "AUTH_HEADER", "DATABASE_URL",
             "PLAIN_SETTING")} == {
        "GITHUB_PAT": "***", "MYSQL_PWD": "***", "SENTRY_DSN": "***", "AUTH_HEADER": "***",
        "DATABASE_URL": "postgresql://***@db:5432/lab", "PLAIN_SETTING": "visible-value"}
    assert environment["PATH"] not in ("", "***")  # a name that only contains PAT


def test_the_web_viewer_shows_no_secret(recorded: Workspace,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from recipe import config
    from recipe_gui import create_app

    [run] = recorded.runs()
    monkeypatch.setenv("RECIPE_HOME", str(recorded.home))
    client = create_app({"RECIPE_SETTINGS": config.load()}).test_client()
    for url in ("/", "/runs.json", f"/run/{run['id']}", f"/run/{run['id']}.json",
                f"/run/{run['id']}/download"):
        page = client.get(url).get_data(as_text=True)
        assert run["id"] in page
        for secret in SECRETS:
            assert secret not in page, (url, secret)


def test_the_computation_still_tells_secret_values_apart(ws: Workspace) -> None:
    """Two runs with different secret parameters are different computations, although
    both record ***."""
    script = ws.write("s.py", 'import recipe\ntoken = recipe.Param("a", name="token")\n')
    ws.recipe("run", str(script), "-p", "token=first")
    ws.recipe("run", str(script), "-p", "token=second")
    runs = ws.runs()
    assert [run["params"] for run in runs] == [{"token": "***"}, {"token": "***"}]
    assert runs[0]["computation"] != runs[1]["computation"]
    assert "first" not in json.dumps(runs) and "second" not in json.dumps(runs)


def test_secret_words_and_kept_names_are_configurable(ws: Workspace) -> None:
    script = ws.write("s.py", "import recipe\n")
    ws.python(script, "--signature", "sig-123", "--sort-key", "name",
              env={"RECIPE_SECRETS_WORDS": "signature", "RECIPE_SECRETS_KEEP": "sort-key"})
    assert ws.only_run()["command"][1:] == ["--signature", "***", "--sort-key", "name"]
