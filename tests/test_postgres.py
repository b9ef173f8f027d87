"""recipe.store.postgres beyond the shared store suite: the password kept out of every
message, the schema's version, the GUI on a server, copying between backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recipe import config
from recipe.store import StoreError, copy_runs, open_store, open_target

psycopg = pytest.importorskip("psycopg")
from recipe.store import postgres  # noqa: E402  (needs psycopg)


@pytest.mark.parametrize(("text", "shown"), [
    ("postgresql://alice:s3cret@db.lab:5432/recipe?sslmode=require",
     "postgresql://alice:***@db.lab:5432/recipe?sslmode=require"),
    ("postgresql://alice@db.lab/recipe", "postgresql://alice@db.lab/recipe"),
    ("host=db user=alice password=s3cret dbname=recipe",
     "host=db user=alice password=*** dbname=recipe"),
    ("host=db password='s3 cret' dbname=recipe", "host=db password=*** dbname=recipe"),
    ("postgresql://db/recipe?password=s3cret&sslmode=require",
     "postgresql://db/recipe?password=***&sslmode=require"),
    ("failed: missing \"=\" after \"postgresql://alice:s3cret@db\" in connection info",
     "failed: missing \"=\" after \"postgresql://alice:***@db\" in connection info"),
])
def test_redact_hides_the_password_in_urls_conninfo_and_messages(text: str,
                                                                 shown: str) -> None:
    assert postgres.redact(text) == shown


def test_redact_hides_the_password_of_the_url_and_pgpassword_wherever_they_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    message = "server said: bad password s3cret, or from-the-environment"
    assert postgres.redact(message, "postgresql://alice:s3cret@db/recipe") == (
        "server said: bad password ***, or ***")


@pytest.mark.parametrize(("where", "url"), [
    ("postgresql://alice@db/recipe", True), ("postgres://db/recipe", True),
    ("host=db dbname=recipe", True), ("backup/db.json", False), ("/tmp/x", False)])
def test_is_url_tells_a_server_from_a_store_file(where: str, url: bool) -> None:
    assert postgres.is_url(where) is url


def test_config_shows_the_store_url_without_its_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECIPE_STORE_URL", "postgresql://alice:s3cret@db/recipe")
    _home, options = config.effective()
    [(value, origin)] = [(value, origin) for section, key, value, origin in options
                         if (section, key) == ("store", "url")]
    assert (value, origin) == ("postgresql://alice:***@db/recipe", "RECIPE_STORE_URL")
    assert config.load().store_url == "postgresql://alice:s3cret@db/recipe"


def test_upgrade_creates_the_schema_once(postgres_url: str, settings: config.Config) -> None:
    store = postgres.PostgresStore(settings, url=postgres_url)
    with psycopg.connect(postgres_url) as connection:
        assert store.schema_version(connection) is None
    store.close()

    store = postgres.PostgresStore(settings, url=postgres_url)
    [created] = store.upgrade()
    assert created.startswith(f"created the store schema {postgres.SCHEMA_VERSION} in ")
    assert store.upgrade() == []
    assert store.summaries() == []  # connecting finds it made
    with psycopg.connect(postgres_url) as connection:
        assert store.schema_version(connection) == postgres.SCHEMA_VERSION
    store.close()


def test_a_store_of_a_newer_schema_is_refused_in_one_line(postgres_url: str,
                                                         settings: config.Config) -> None:
    postgres.PostgresStore(settings, url=postgres_url).summaries()  # creates schema 1
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute("INSERT INTO schema_version VALUES (99)")

    with pytest.raises(StoreError, match="has schema 99; this recipe reads schema "
                                         f"{postgres.SCHEMA_VERSION}: upgrade recipe"):
        postgres.PostgresStore(settings, url=postgres_url).summaries()


def test_db_upgrade_brings_a_schema_1_store_up_and_keeps_its_runs(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch, settings: config.Config,
        capsys: pytest.CaptureFixture[str], make_record: Callable[..., dict[str, Any]],
        spool_run: Callable[..., str]) -> None:
    run_id = spool_run(make_record())
    store = postgres.PostgresStore(settings, url=postgres_url)
    store.merge_pending()
    store.close()
    with psycopg.connect(postgres_url, autocommit=True) as connection:  # as schema 1 was
        connection.execute("DROP INDEX runs_untrashed")
        connection.execute("UPDATE schema_version SET version = 1")

    with pytest.raises(StoreError, match="has schema 1: run `recipe db upgrade`"):
        postgres.PostgresStore(settings, url=postgres_url).summaries()
    monkeypatch.setenv("RECIPE_STORE_URL", postgres_url)
    from recipe.cli import main

    assert main(["db", "upgrade"]) == 0
    upgraded = capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    again = capsys.readouterr().out

    assert f"from schema 1 to {postgres.SCHEMA_VERSION}" in upgraded
    assert "nothing to do" in again
    with psycopg.connect(postgres_url) as connection:
        assert connection.execute("SELECT to_regclass('runs_untrashed') IS NOT NULL"
                                  ).fetchone()[0]
    store = postgres.PostgresStore(settings, url=postgres_url)
    assert [row["id"] for row in store.summaries()] == [run_id]
    store.close()


def test_an_unreachable_server_is_one_line_without_the_password(
        settings: config.Config) -> None:
    store = postgres.PostgresStore(settings,
                                   url="postgresql://alice:s3cret@127.0.0.1:1/recipe")
    with pytest.raises(postgres.StoreUnreachable) as raised:
        store.summaries()
    assert "s3cret" not in str(raised.value) and "\n" not in str(raised.value)
    assert str(raised.value).startswith("cannot reach the store postgresql://alice:***@")


def test_the_gui_lists_and_shows_runs_of_a_server_store(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch,
        make_record: Callable[..., dict[str, Any]], make_event: Callable[..., dict[str, Any]],
        spool_run: Callable[..., str]) -> None:
    from recipe_gui import create_app

    monkeypatch.setenv("RECIPE_STORE_URL", postgres_url)
    ids = [spool_run(make_record(), [make_event("output", f"/d/out-{n}.csv")])
           for n in range(3)]
    client = create_app({"RECIPE_SETTINGS": config.load()}).test_client()

    listed = client.get("/runs.json?per_page=2").get_json()
    searched = client.get("/runs.json?q=out-1").get_json()
    shown = client.get(f"/run/{ids[0][:8]}.json")

    assert [row["id"] for row in listed["runs"]] == ids[::-1][:2] and listed["total"] == 3
    assert [row["id"] for row in searched["runs"]] == [ids[1]]
    assert shown.status_code == 200 and shown.get_json()["run"]["id"] == ids[0]
    assert client.get("/run/ffffffffffff").status_code == 404


def test_copy_to_a_server_and_back_keeps_every_record(
        postgres_url: str, home: Path, tmp_path: Path, settings: config.Config,
        make_record: Callable[..., dict[str, Any]], make_event: Callable[..., dict[str, Any]],
        spool_run: Callable[..., str]) -> None:
    for n in range(5):
        spool_run(make_record(params={"n": n}), [make_event("input", f"/d/{n}.csv")])
    local = open_store(settings)
    local.merge_pending()
    server = open_target(settings, postgres_url)

    assert copy_runs(local, server, batch=2) == (5, 0)
    assert copy_runs(local, server, batch=2) == (0, 5)
    back = open_target(settings, str(tmp_path / "back"))
    assert copy_runs(server, back) == (5, 0)

    assert back.records() == server.records() == local.records()
    server.close()
