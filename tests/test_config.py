"""recipe.config: defaults, the precedence of the layers, and errors that name their source."""

from __future__ import annotations

import fnmatch
import itertools
from pathlib import Path

import pytest

from recipe import config
from recipe.store import open_store


def write_ini(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_apply_without_any_configuration(home: Path) -> None:
    settings = config.load()

    assert Path(settings.home) == home
    assert Path(settings.db_path) == home / "db.json"
    assert settings.quiet is False
    assert settings.flush_interval == 2.0
    assert settings.hash_algorithm == "xxh3_128"
    assert settings.git_enabled is True
    assert settings.git_diff is True
    assert settings.git_diff_max_bytes == 256 * 1024
    assert settings.default_tags is True
    assert settings.ignore_paths == ()
    assert settings.disabled_libraries == frozenset()
    assert settings.record_environment is False
    assert settings.sources == ()


def test_home_defaults_to_dot_recipe_in_the_user_home(monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.delenv("RECIPE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))

    assert Path(config.recipe_home()) == tmp_path / "user" / ".recipe"


def test_relative_recipe_home_is_made_absolute(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("RECIPE_HOME", "store")

    assert Path(config.load().db_path) == tmp_path / "store" / "db.json"


# Each layer sets [git] diff_max_kb to its own rank; the highest layer present must win.
LAYERS = ("home", "cwd", "named", "env")


@pytest.mark.parametrize("present", [
    ("home",), ("cwd",), ("named",), ("env",),
    ("home", "cwd"), ("home", "named"), ("cwd", "named"), ("home", "env"),
    ("home", "cwd", "named"), ("home", "cwd", "named", "env"),
])
def test_higher_layer_wins(present: tuple[str, ...], home: Path, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    for layer in present:
        rank = LAYERS.index(layer) + 1
        text = f"[git]\ndiff_max_kb = {rank}\n"
        if layer == "home":
            write_ini(home / "config.ini", text)
        elif layer == "cwd":
            write_ini(tmp_path / "recipe.ini", text)
        elif layer == "named":
            named = write_ini(tmp_path / "elsewhere" / "named.ini", text)
            monkeypatch.setenv("RECIPE_CONFIG", str(named))
        else:
            monkeypatch.setenv("RECIPE_GIT_DIFF_MAX_KB", str(rank))

    expected = max(LAYERS.index(layer) + 1 for layer in present)
    assert config.load().git_diff_max_bytes == expected * 1024


def test_layers_merge_option_by_option(home: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    write_ini(home / "config.ini", "[hash]\nalgorithm = sha256\n[git]\ndiff = no\n")
    write_ini(tmp_path / "recipe.ini", "[git]\ndiff = yes\nenabled = no\n")
    named = write_ini(tmp_path / "named.ini", "[tags]\ndefaults = no\n")
    monkeypatch.setenv("RECIPE_CONFIG", str(named))
    monkeypatch.setenv("RECIPE_ENVIRONMENT_RECORD", "yes")

    settings = config.load()

    assert settings.hash_algorithm == "sha256"  # only the home file sets it
    assert settings.git_diff is True  # ./recipe.ini over the home file
    assert settings.git_enabled is False
    assert settings.default_tags is False
    assert settings.record_environment is True
    assert settings.sources == (str(home / "config.ini"), str(tmp_path / "recipe.ini"),
                                str(named))


@pytest.mark.parametrize(("value", "quiet"), [("1", True), ("yes", True), ("0", False),
                                              ("no", False)])
def test_recipe_quiet_sets_quiet(value: str, quiet: bool, monkeypatch: pytest.MonkeyPatch,
                                 tmp_path: Path) -> None:
    # The file says the opposite: the environment variable wins.
    write_ini(tmp_path / "recipe.ini", f"[general]\nquiet = {'no' if quiet else 'yes'}\n")
    monkeypatch.setenv("RECIPE_QUIET", value)

    assert config.load().quiet is quiet


def test_recipe_quiet_wins_over_recipe_general_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECIPE_GENERAL_QUIET", "no")
    monkeypatch.setenv("RECIPE_QUIET", "1")

    assert config.load().quiet is True


@pytest.mark.parametrize(("value", "disabled"), [
    (None, False), ("1", True), ("yes", True), ("true", True), (" ON ", True),
    ("0", False), ("no", False), ("", False), ("maybe", False),
])
def test_recipe_disable_is_read_by_disabled(value: str | None, disabled: bool,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if value is not None:
        monkeypatch.setenv("RECIPE_DISABLE", value)

    assert config.disabled() is disabled


@pytest.mark.parametrize(("given", "expected"), [
    ("custom/runs.json", "{cwd}/custom/runs.json"),
    ("{cwd}/abs/runs.json", "{cwd}/abs/runs.json"),
    ("~/runs.json", "{user}/runs.json"),
])
def test_store_path_changes_db_path(given: str, expected: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    names = {"cwd": tmp_path, "user": tmp_path / "user"}
    write_ini(tmp_path / "recipe.ini", f"[store]\npath = {given.format(**names)}\n")

    settings = config.load()

    assert Path(settings.db_path) == Path(expected.format(**names))
    assert Path(open_store(settings).db_path) == Path(expected.format(**names))


def test_store_path_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RECIPE_STORE_PATH", str(tmp_path / "env.json"))

    assert Path(config.load().db_path) == tmp_path / "env.json"


def test_lists_are_split_trimmed_and_expanded(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    write_ini(tmp_path / "recipe.ini",
              "[ignore]\npaths = /tmp/* , ~/cache/*,,\n[libraries]\ndisabled = Pandas, numpy\n")

    settings = config.load()

    assert settings.ignore_paths == ("/tmp/*", f"{tmp_path}/user/cache/*")
    assert settings.disabled_libraries == frozenset({"pandas", "numpy"})


@pytest.mark.parametrize("algorithm", ["xxh3_128", "xxh64", "sha256", "SHA256"])
def test_hash_algorithm_accepts_the_supported_ones(algorithm: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECIPE_HASH_ALGORITHM", algorithm)

    assert config.load().hash_algorithm == algorithm.lower()


def test_unknown_option_in_a_file_names_option_and_file(tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "recipe.ini", "[store]\ncolour = blue\n")

    with pytest.raises(config.ConfigError) as raised:
        config.load()

    assert "[store] colour" in str(raised.value)
    assert str(ini) in str(raised.value)


def test_unknown_section_is_an_unknown_option(home: Path) -> None:
    ini = write_ini(home / "config.ini", "[colours]\nbackground = blue\n")

    with pytest.raises(config.ConfigError) as raised:
        config.load()

    assert "unknown option [colours] background" in str(raised.value)
    assert str(ini) in str(raised.value)


@pytest.mark.parametrize(("where", "source"), [
    ("file", "{cwd}/recipe.ini"),
    ("env", "RECIPE_GIT_ENABLED"),
])
def test_bad_boolean_names_option_value_and_source(where: str, source: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if where == "file":
        write_ini(tmp_path / "recipe.ini", "[git]\nenabled = maybe\n")
    else:
        monkeypatch.setenv("RECIPE_GIT_ENABLED", "maybe")

    with pytest.raises(config.ConfigError) as raised:
        config.load()

    message = str(raised.value)
    assert "[git] enabled" in message
    assert "'maybe'" in message
    assert source.format(cwd=tmp_path) in message


def test_bad_hash_algorithm_names_option_and_source(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    named = write_ini(tmp_path / "named.ini", "[hash]\nalgorithm = md5\n")
    monkeypatch.setenv("RECIPE_CONFIG", str(named))

    with pytest.raises(config.ConfigError) as raised:
        config.load()

    message = str(raised.value)
    assert "[hash] algorithm" in message
    assert "md5" in message
    assert str(named) in message
    assert "xxh3_128" in message  # says what would be accepted


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_bad_number_names_option_and_source(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECIPE_STORE_FLUSH_INTERVAL", value)

    with pytest.raises(config.ConfigError) as raised:
        config.load()

    assert "[store] flush_interval" in str(raised.value)
    assert "RECIPE_STORE_FLUSH_INTERVAL" in str(raised.value)


def test_recipe_config_naming_a_missing_file_is_an_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere.ini"
    monkeypatch.setenv("RECIPE_CONFIG", str(missing))

    with pytest.raises(config.ConfigError) as raised:
        config.load()

    assert "RECIPE_CONFIG" in str(raised.value)
    assert str(missing) in str(raised.value)


def test_malformed_file_names_the_file(tmp_path: Path) -> None:
    ini = write_ini(tmp_path / "recipe.ini", "quiet = yes\n")  # no section header

    with pytest.raises(config.ConfigError) as raised:
        config.load()

    assert str(ini) in str(raised.value)


def test_config_error_is_a_value_error() -> None:
    assert issubclass(config.ConfigError, ValueError)


def test_defaults_ignore_broken_configuration(home: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write_ini(tmp_path / "recipe.ini", "[hash]\nalgorithm = md5\n")
    monkeypatch.setenv("RECIPE_GIT_ENABLED", "maybe")
    monkeypatch.setenv("RECIPE_QUIET", "1")
    with pytest.raises(config.ConfigError):
        config.load()

    settings = config.defaults()

    assert settings.hash_algorithm == "xxh3_128"
    assert settings.git_enabled is True
    assert Path(settings.db_path) == home / "db.json"
    assert settings.quiet is True  # RECIPE_QUIET is still honoured
    assert settings.sources == ()


def test_defaults_are_not_quiet_without_recipe_quiet() -> None:
    assert config.defaults().quiet is False


GLOBS = [".env", ".env.*", "*.env", "id_rsa*", "*secret*", "*", "a*b", "x?y", "[ab]c", "*.pem"]
NAMES = [".env", ".env.local", "prod.env", "id_rsa", "id_rsa.pub", "my_secret_file", "ab",
         "acb", "xzy", "ac", "bc", "key.pem", "", "ENV", ".ENV", "*", "a*b"]


@pytest.mark.parametrize("count", [1, 2, 3])
def test_glob_matcher_matches_as_fnmatchcase(count: int) -> None:
    """Literal, prefix, suffix and infix globs are matched by string methods, the rest by
    a regular expression: together, as fnmatch.fnmatchcase says, in any combination."""
    for globs in itertools.combinations(GLOBS, count):
        matches = config.glob_matcher(globs)
        for name in NAMES:
            assert matches(name) == any(fnmatch.fnmatchcase(name, g) for g in globs), \
                (globs, name)
    assert config.glob_matcher(()) is None
