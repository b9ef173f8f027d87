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


@pytest.fixture
def db(backend: str, home: Path, make_record: Callable[..., dict[str, Any]],
       make_event: Callable[..., dict[str, Any]],
       spool_run: Callable[..., str]) -> Iterator[Store]:
    """Six runs of several scripts, statuses, parameters and results, and files."""
    for number in range(len(PARAMS)):
        record = make_record(
            run_id=f"{number:02d}ab{number}" + "0" * 27, script=SCRIPTS[number],
            status=STATUSES[number], params=PARAMS[number], results=RESULTS[number],
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


@pytest.mark.parametrize("filters", [
    {}, {"term": "in_0"}, {"term": "03ab3"}, {"status": "completed"}, {"script": "train.py"},
    {"tag": "model", "term": ".png"}, {"since": "2024-01-03", "until": "2024-01-04"},
])
def test_gui_pages_agree(db: Store, filters: dict[str, Any]) -> None:
    since, until = filters.pop("since", ""), filters.pop("until", "")
    chosen = RunFilter(**filters, since=since, until=until)
    keep = None if chosen.empty else chosen.keep
    everything = [row["id"] for row in db.summaries()
                  if (keep is None or keep(row)) and row["start"] >= chosen.since
                  and (not chosen.until or row["start"] <= chosen.until)]

    rows, total = db.page(1, 2, keep=keep, needles=chosen.needles(), since=chosen.since,
                          until=chosen.until)

    assert [row["id"] for row in rows] == everything[1:3]
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
