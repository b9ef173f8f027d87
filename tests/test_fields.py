"""recipe.record.fields: the words of a name, default tags by words, and what never enters a
record (secret names, credentials in URLs, secret options on the command line)."""

from __future__ import annotations

import pytest

from recipe.record.fields import REDACTED, Secrets, default_tags, words


@pytest.mark.parametrize(("name", "expected"), [
    ("train_model.py", ["train", "model", "py"]),
    ("prepare-data.v2.py", ["prepare", "data", "v", "2", "py"]),
    ("prepareData2", ["prepare", "Data", "2"]),
    ("HTTPServer", ["HTTP", "Server"]),
    ("apiKey", ["api", "Key"]),
    ("GIT_AUTHOR_NAME", ["GIT", "AUTHOR", "NAME"]),
    ("constrained", ["constrained"]),
    ("", []),
])
def test_words_split_on_separators_case_changes_and_digits(name: str,
                                                           expected: list[str]) -> None:
    assert words(name) == expected


@pytest.mark.parametrize(("script", "tags"), [
    ("/w/train.py", ["model"]),
    ("/w/training_loop.py", ["model"]),
    ("/w/TrainModel.py", ["model"]),
    ("/w/train2.py", ["model"]),
    ("/w/prepare_data.py", ["dataset"]),
    ("/w/preprocess.py", ["dataset"]),
    ("/w/prepare_and_train.py", ["model"]),  # train wins
    ("/w/constrained.py", []),  # "train" inside a word is no word
    ("/w/retrain.py", []),
    ("/w/unprepared.py", []),
    ("/train/analysis.py", []),  # the file's name only, not its directory
])
def test_default_tags_match_words_of_the_file_name(script: str, tags: list[str]) -> None:
    assert default_tags(script) == tags


@pytest.mark.parametrize("name", [
    "password", "PASSWORD", "db_password", "passwd", "MYSQL_PWD", "api_key", "apiKey",
    "APIKEY", "api-key", "token", "GITHUB_TOKEN", "GITHUB_PAT", "SENTRY_DSN", "AUTH_HEADER",
    "client_secret", "GOOGLE_APPLICATION_CREDENTIALS", "credential", "PGPASSWORD", "pass",
])
def test_secret_names(name: str) -> None:
    assert Secrets().is_secret(name)


@pytest.mark.parametrize("name", [
    "PATH", "GIT_AUTHOR_NAME", "max_tokens", "patience", "monkey", "compass", "author",
    "keyboard", "lr", "window", "",
])
def test_names_that_only_contain_a_secret_word_are_not_secret(name: str) -> None:
    assert not Secrets().is_secret(name)


def test_secret_words_and_kept_names_are_configurable() -> None:
    secrets = Secrets(words=("signature",), keep=("sort_key",))
    assert secrets.is_secret("REQUEST_SIGNATURE") and not secrets.is_secret("sort_key")
    assert secrets.is_secret("api_key")


@pytest.mark.parametrize(("argv", "shown"), [
    (["s.py", "--password=hunter2", "--window", "5"],
     ["s.py", f"--password={REDACTED}", "--window", "5"]),
    (["s.py", "--api-key", "k-123", "data.csv"], ["s.py", "--api-key", REDACTED, "data.csv"]),
    (["s.py", "--token", "t-1", "--fast"], ["s.py", "--token", REDACTED, "--fast"]),
    (["s.py", "-api_key=x"], ["s.py", f"-api_key={REDACTED}"]),
    (["s.py", "db.password=x", "lr=0.1"], ["s.py", f"db.password={REDACTED}", "lr=0.1"]),
    (["s.py", "--db", "postgresql://alice:pw@host/x"],
     ["s.py", "--db", f"postgresql://{REDACTED}@host/x"]),
    (["s.py", "--use-token-cache", "--verbose"], ["s.py", "--use-token-cache", "--verbose"]),
    (["/w/token.py", "--lr", "0.1"], ["/w/token.py", "--lr", "0.1"]),  # the script stays
    (["s.py", "--", "--password", "x"], ["s.py", "--", "--password", REDACTED]),
])
def test_the_command_line_loses_secret_values(argv: list[str], shown: list[str]) -> None:
    assert Secrets().command(argv) == shown


@pytest.mark.parametrize(("name", "value", "shown"), [
    ("password", "hunter2", REDACTED),
    ("api_key", 12345, REDACTED),
    ("token", None, None),
    ("db", "mysql://root:pw@localhost/x", f"mysql://{REDACTED}@localhost/x"),
    ("lr", 0.1, 0.1),
    ("name", "plain text", "plain text"),
])
def test_parameter_values_as_recorded(name: str, value: object, shown: object) -> None:
    assert Secrets().param(name, value) == shown


def test_urls_inside_any_text_lose_their_credentials() -> None:
    text = ("see https://u:p@a.example/x?access_token=t&page=2 and "
            "ftp://anon@b.example/ but not user@c.example")
    assert Secrets().value(text) == (
        f"see https://{REDACTED}@a.example/x?access_token={REDACTED}&page=2 and "
        f"ftp://{REDACTED}@b.example/ but not user@c.example")
