"""Queries pushed down to a backend (SQL on PostgreSQL) give what `RunQuery.keep` and
`RunQuery.ordered` give over every summary: the definition every backend must agree with."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from recipe import config
from recipe.store import Store, open_store
from recipe.store.query import RunFilter, RunQuery, Search

BASE = datetime(2024, 1, 1, tzinfo=timezone.utc)
PARAMS = [{"lr": 0.1, "layers": 32, "fast": True, "name": "adam"},
          {"lr": 0.1 + 0.2, "layers": 64, "fast": False, "name": "sgd"},
          {"lr": 0.5, "name": "b", "opt": None},
          {"layers": 128.0, "fast": True},
          {},
          {"lr": "high", "layers": 16}]
RESULTS = [{"score": 0.9}, {"score": 0.4, "lr": 5}, {}, {"score": 1}, {"layers": 3},
           {"score": "n/a"}]
SCRIPTS = ["/w/train.py", "/w/sub/train.py", "/w/prepare.py", "/w/train.py", "<stdin>",
           "/other/w/sub/train.py"]
STATUSES = ["completed", "failed", "completed", "interrupted", "completed", "lost"]
DURATIONS = [3.0, None, 12.5, 0.25, 3.0, 7]


@pytest.fixture
def db(backend: str, home: Path, make_record: Callable[..., dict[str, Any]],
       make_event: Callable[..., dict[str, Any]],
       spool_run: Callable[..., str]) -> Iterator[Store]:
    """Six runs of several scripts, statuses, parameters and results, and files."""
    for number in range(len(PARAMS)):
        record = make_record(
            run_id=f"{number:02d}ab{number}" + "0" * 27, script=SCRIPTS[number],
            status=STATUSES[number], params=PARAMS[number], results=RESULTS[number],
            duration=DURATIONS[number],
            start=BASE + timedelta(days=number), tags=["model"] if number % 2 else [])
        spool_run(record, [
            make_event("input", f"/data/raw/in_{number % 3}.csv", f"{number % 3:x}" * 32),
            make_event("output", f"/data/out/result-{number}.png", f"{number + 7:x}" * 32)])
    opened = open_store(config.load())
    assert len(opened.merge_pending()) == len(PARAMS)
    yield opened
    if hasattr(opened, "close"):
        opened.close()


def truth(db: Store, query: RunQuery) -> list[str]:
    return [run["id"] for run in query.ordered([r for r in db.summaries() if query.keep(r)])]


WHERE = ["lr>=0.1", "lr=0.3", "lr!=0.3", "layers<64", "layers>64", "layers>=32.0",
         "fast=yes", "fast=no", "fast>0", "name=adam", "name<b", "name>3", "opt=1",
         "score>0.5", "lr>=1", "lr<0.5", "lr=high", "layers=3", "score=n/a", "x=1"]


@pytest.mark.parametrize("where", WHERE)
def test_where_conditions_agree(db: Store, where: str) -> None:
    query = RunQuery(where=[where])
    assert [run["id"] for run in db.find(query)] == truth(db, query)
    assert db.count(query) == len(truth(db, query))


@pytest.mark.parametrize("filters", [
    {"script": "train.py"}, {"script": "sub/train.py"}, {"script": "/w/sub/train.py"},
    {"script": "<stdin>"}, {"status": "completed"}, {"tag": "model"},
    {"status": "completed", "tag": "model", "where": ["layers>=32"]},
    {"since": (BASE + timedelta(days=2)).isoformat()},
    {"until": (BASE + timedelta(days=2)).isoformat()},
    {"sort": "start"}, {"sort": "-lr"}, {"sort": "layers"}, {"sort": "-score"},
    {"limit": 2}, {"limit": 2, "offset": 3}, {"sort": "start", "limit": 1, "offset": 1},
    {"where": ["lr>0"], "limit": 1},
])
def test_filters_order_and_slices_agree(db: Store, filters: dict[str, Any]) -> None:
    query = RunQuery(**filters)
    assert [run["id"] for run in db.find(query)] == truth(db, query)


@pytest.mark.parametrize(("term", "options"), [
    ("/data/raw", {}), ("in_1.csv", {}), ("result-4", {}), (".png", {}), ("nothing", {}),
    ("%", {}), ("_", {}), ("2" * 12, {}), ("02ab2", {"by_id": True}),
    (r"result-[13]\.png$", {"regex": True}), ("stdin", {}),
])
def test_searches_agree(db: Store, term: str, options: dict[str, Any]) -> None:
    query = RunQuery(search=Search(term, algorithms=db.hash_algorithms(), **options))
    assert [run["id"] for run in db.find(query)] == truth(db, query)


def test_a_search_by_content_finds_the_file_under_another_name(db: Store,
                                                              tmp_path: Path) -> None:
    # The events' hashes are made up, so the content searched for is one made up too.
    query = RunQuery(search=Search("1" * 32))
    assert [run["id"][:2] for run in db.find(query)] == ["04", "01"]


@pytest.mark.parametrize(("term", "found"), [
    ("[1]*?", True), ("a[1", True), ("]*?.c", True), ("*", True), ("é", True),
    ("résumé", True), ("Résumé", False), ("a1", False), ("[1]*x", False), ("a?1", False),
])
def test_a_path_search_takes_its_term_literally(backend: str, home: Path,
                                                make_record: Callable[..., dict[str, Any]],
                                                make_event: Callable[..., dict[str, Any]],
                                                spool_run: Callable[..., str], term: str,
                                                found: bool) -> None:
    """Wildcards of GLOB and LIKE, case and accents in a name: a substring, as typed."""
    spool_run(make_record(), [make_event("output", "/data/résumé/a[1]*?.csv", "a" * 32)])
    spool_run(make_record(), [make_event("output", "/data/ab1.csv", "b" * 32)])
    store = open_store(config.load())
    store.merge_pending()

    runs = store.find(RunQuery(search=Search(term)))
    pages = store.page(0, 10, chosen=RunFilter(term=term))

    wanted = 1 if found else 0
    assert len(runs) == wanted and pages[1] == wanted, term
    if found:
        assert runs[0]["outputs"][0]["path"] == "/data/résumé/a[1]*?.csv"


@pytest.mark.parametrize("filters", [
    {}, {"term": "in_0"}, {"term": "03ab3"}, {"term": "ab"}, {"term": "result-[1]*"},
    {"status": "completed"}, {"status": "lost"}, {"script": "train.py"},
    {"script": "sub/train.py"}, {"tag": "model", "term": ".png"},
    {"since": "2024-01-03", "until": "2024-01-04"},
    {"sort": "start", "descending": False}, {"sort": "duration"},
    {"sort": "duration", "descending": False}, {"sort": "script"},
    {"sort": "status", "descending": False, "term": ".csv"},
])
@pytest.mark.parametrize("spooled", [False, True], ids=["stored", "some-in-the-spool"])
def test_gui_pages_agree(db: Store, filters: dict[str, Any], spooled: bool,
                         make_record: Callable[..., dict[str, Any]],
                         make_event: Callable[..., dict[str, Any]],
                         spool_run: Callable[..., str]) -> None:
    if spooled:  # runs not merged yet take their places among the stored ones
        for day, script in ((10, "/w/train.py"), (2.5, "/w/prepare.py")):
            spool_run(make_record(run_id=f"{int(day * 10):02d}cd" + "0" * 28, script=script,
                                  start=BASE + timedelta(days=day), duration=day),
                      [make_event("input", "/data/raw/in_0.csv", "0" * 32)])
    chosen = RunFilter(**filters)
    everything = [row["id"] for row in chosen.ordered(
        [row for row in db.summaries() if chosen.keep(row)])]

    for offset, limit in ((0, 2), (1, 2), (3, 2), (5, 3), (0, 100)):
        rows, total = db.page(offset, limit, chosen=chosen)

        assert [row["id"] for row in rows] == everything[offset:offset + limit], (offset, limit)
        assert total == len(everything)


def test_completed_gives_the_newest_completed_run_of_each_computation(
        backend: str, home: Path, make_record: Callable[..., dict[str, Any]],
        spool_run: Callable[..., str]) -> None:
    for day, (computation, status) in enumerate([("c1", "completed"), ("c1", "completed"),
                                                  ("c2", "failed"), ("c3", "completed")]):
        spool_run(make_record(run_id=f"{day:032x}", computation=computation, status=status,
                              start=BASE + timedelta(days=day)))
    store = open_store(config.load())
    store.merge_pending()

    found = store.completed({"c1", "c2"}, "/project/train.py")

    assert {name: row["id"] for name, row in found.items()} == {"c1": f"{1:032x}"}


def test_lineage_lookup_finds_the_runs_of_a_content(db: Store) -> None:
    touching = db.by_content().runs_touching({"1" * 32, "c" * 32})
    assert sorted(row["id"][:2] for row in touching) == ["01", "04", "05"]
    assert os.path.isdir(db.home)
