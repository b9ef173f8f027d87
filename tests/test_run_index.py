"""recipe.store.index: the run index beside the store answers what the store files would,
stays fresh through every write, and is made again when anything else changed them."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recipe import config
from recipe.store import open_store
from recipe.store import tinydb as store
from recipe.store.query import RunQuery, Search

Record = dict[str, Any]


@pytest.fixture
def sealed_store(monkeypatch: pytest.MonkeyPatch, settings: config.Config,
                 make_record: Callable[..., Record], spool_run: Callable[..., str],
                 make_event: Callable[..., Record]) -> tuple[store.TinyStore, list[str]]:
    """17 runs with HEAD_MAX_RUNS = 5 (three sealed shards); their ids, newest first."""
    monkeypatch.setattr(store, "HEAD_MAX_RUNS", 5)
    db = open_store(settings)
    ids = []
    for number in range(17):
        record = make_record(params={"x": number % 4, "name": f"n{number}"},
                             results={"score": number / 10}, tags=["even"] if number % 2
                             == 0 else [])
        ids.append(spool_run(record, [make_event("output", f"/out/{number}.csv",
                                                 f"{number:032x}")]))
        db.merge_pending()
    return db, ids[::-1]


def rebuilds(db: store.TinyStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    build = db._build_index
    monkeypatch.setattr(db, "_build_index", lambda stamp: made.append(stamp) or build(stamp))
    return made


def files_only(settings: config.Config, monkeypatch: pytest.MonkeyPatch) -> store.TinyStore:
    other = open_store(settings)
    monkeypatch.setattr(other, "_fresh_index", lambda: None)
    return other


QUERIES = [
    {}, {"limit": 3}, {"where": ["x>=2"], "limit": 2}, {"where": ["x=1"]},
    {"where": ["score<0.5", "x!=0"]}, {"where": ["name=n3"]}, {"tag": "even", "limit": 4},
    {"status": "completed", "sort": "x"}, {"script": "train.py", "limit": 1, "offset": 2},
    {"search": "/out/1"}, {"search": f"{7:032x}"}, {"search": "0000000000000", "limit": 2},
]


@pytest.mark.parametrize("asked", QUERIES, ids=str)
def test_the_index_answers_as_the_store_files_do(
        sealed_store: tuple[store.TinyStore, list[str]], settings: config.Config,
        monkeypatch: pytest.MonkeyPatch, asked: dict[str, Any]) -> None:
    db, _ids = sealed_store
    term = asked.pop("search", None)

    def ask(backend: store.TinyStore) -> list[str]:
        search = Search(term, algorithms=["xxh3_128"]) if term else None
        return [row["id"] for row in backend.find(RunQuery(search=search, **asked))]

    assert db._fresh_index() is not None
    assert ask(db) == ask(files_only(settings, monkeypatch))


def test_writes_keep_the_index_fresh_without_rebuilding_it(
        sealed_store: tuple[store.TinyStore, list[str]], monkeypatch: pytest.MonkeyPatch,
        make_record: Callable[..., Record], spool_run: Callable[..., str]) -> None:
    db, ids = sealed_store
    db.summaries()  # made once
    made = rebuilds(db, monkeypatch)
    db.annotate(ids[-1], {"kind": "tags", "tags": ["paper"]})  # a run in a shard
    assert [r["id"] for r in db.find(RunQuery(tag="paper"))] == [ids[-1]]
    db.trash([ids[0], ids[-2]])
    assert ids[0] not in [r["id"] for r in db.find(RunQuery())]
    db.restore([ids[0]])
    for _ in range(6):  # fills the head: a seal
        spool_run(make_record(params={"x": 9}))
        db.merge_pending()
    assert len(db.find(RunQuery(where=["x=9"]))) == 6
    assert [r["id"] for r in db.find(RunQuery())] == [r["id"] for r in db.records()]
    assert len(db.records()) == 17 - 2 + 1 + 6
    assert made == []


@pytest.mark.parametrize("pieces", [True, False], ids=["path-pieces", "no-fts5"])
def test_a_path_search_stays_exact_through_writes(
        sealed_store: tuple[store.TinyStore, list[str]], settings: config.Config,
        monkeypatch: pytest.MonkeyPatch, make_record: Callable[..., Record],
        spool_run: Callable[..., str], make_event: Callable[..., Record],
        pieces: bool) -> None:
    """The path pieces follow every write (a note, the trash and back, a seal); an index
    made by a SQLite without FTS5's trigrams has none, and searches scan the paths."""
    db, ids = sealed_store
    db.summaries()  # made once
    connection = sqlite3.connect(db.index_path)
    if not pieces:
        connection.execute("DROP TABLE paths")
        connection.commit()
    made = rebuilds(db, monkeypatch)

    def found(term: str) -> list[str]:
        return [row["id"] for row in db.find(RunQuery(search=Search(term)))]

    assert found("/out/16.csv") == [ids[0]]
    db.annotate(ids[0], {"kind": "note", "text": "again"})  # its rows indexed anew
    assert found("/out/16.csv") == [ids[0]]
    db.trash([ids[0]])
    assert found("/out/16.csv") == []
    db.restore([ids[0]])
    assert found("/out/16.csv") == [ids[0]]
    for number in range(6):  # fills the head: a seal
        spool_run(make_record(), [make_event("input", f"/in/new-{number}.csv", "f" * 32)])
        db.merge_pending()
    assert len(found("/in/new-")) == 6
    assert found("/out/1") == [*ids[:7], ids[15]]  # 16 down to 10, then 1: newest first
    assert made == []
    files = connection.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    if pieces:
        assert connection.execute("SELECT COUNT(*) FROM paths").fetchone()[0] == files
    assert files == 17 + 6


def test_a_change_by_another_writer_makes_the_index_again(
        sealed_store: tuple[store.TinyStore, list[str]], settings: config.Config,
        monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    db, ids = sealed_store
    db.summaries()
    data = json.loads((home / "db.json").read_text())
    (first,) = [key for key, run in data["runs"].items() if run["id"] == ids[0]]
    del data["runs"][first]
    (home / "db.json").write_text(json.dumps(data))  # not through the store: no update
    fresh = open_store(settings)
    made = rebuilds(fresh, monkeypatch)
    assert ids[0] not in [row["id"] for row in fresh.find(RunQuery())]
    assert len(made) == 1


def test_a_missing_or_damaged_index_is_made_again(
        sealed_store: tuple[store.TinyStore, list[str]], settings: config.Config,
        home: Path) -> None:
    db, ids = sealed_store
    db.summaries()
    (home / "db.index.sqlite").write_bytes(b"not a database")
    assert [row["id"] for row in open_store(settings).find(RunQuery())] == ids
    (home / "db.index.sqlite").unlink()
    assert [row["id"] for row in open_store(settings).find(RunQuery())] == ids
    assert sqlite3.connect(home / "db.index.sqlite").execute(
        "SELECT COUNT(*) FROM runs").fetchone() == (len(ids),)


def test_repair_makes_the_index_again(sealed_store: tuple[store.TinyStore, list[str]],
                                      home: Path) -> None:
    db, ids = sealed_store
    (home / "db.index.sqlite").unlink(missing_ok=True)
    db.repair()
    assert sqlite3.connect(home / "db.index.sqlite").execute(
        "SELECT COUNT(*) FROM runs").fetchone() == (len(ids),)


def test_an_index_that_cannot_be_written_leaves_reading_to_the_files(
        sealed_store: tuple[store.TinyStore, list[str]], settings: config.Config,
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _db, ids = sealed_store
    (home / "db.index.sqlite").unlink(missing_ok=True)

    def refuse(*_args: Any) -> None:
        raise OSError("read-only")

    monkeypatch.setattr(store.index, "build", refuse)
    reader = open_store(settings)
    assert [row["id"] for row in reader.find(RunQuery(limit=50))] == ids
    assert not os.path.exists(home / "db.index.sqlite")


def test_export_lines_are_the_records_newest_first(
        sealed_store: tuple[store.TinyStore, list[str]]) -> None:
    db, ids = sealed_store
    lines = [json.loads(line) for line in db.export_lines()]
    assert lines == db.records()
    assert [record["id"] for record in lines] == ids
