"""The store backends (recipe.store.tinydb, recipe.store.postgres against a real server):
merging the spool, reading back, sealed shards, updates, check and repair. Tests that
take `db` run on every backend; `tinydb_only` ones look at TinyDB's files."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from recipe import config
from recipe.record import journal as spool
from recipe.store import Store, StoreDamaged, UnknownRun, open_store
from recipe.store import tinydb as store
from recipe.store.base import SUMMARY_FIELDS

Record = dict[str, Any]


def runs_in_file(db_path: Path) -> list[Record]:
    """The runs of a store file, read with nothing but json."""
    with open(db_path, encoding="utf-8") as handle:
        data = json.load(handle)
    return list(data["runs"].values())


def stored_runs(db: Store) -> list[Record]:
    """What the store holds, not the spool: TinyDB's head file read with nothing but
    json, or the server's rows read with SQL."""
    if isinstance(db, store.TinyStore):
        return runs_in_file(Path(db.db_path))
    with db._cursor() as cursor:
        cursor.execute("SELECT record FROM runs")
        return [row[0] for row in cursor.fetchall()]


# For the tests that look at TinyDB's files.
tinydb_only = pytest.mark.parametrize("backend", ["tinydb"], indirect=True)


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def spool_files(home: Path) -> list[str]:
    try:
        return sorted(os.listdir(home / "spool"))
    except FileNotFoundError:
        return []


@pytest.fixture(params=["indexed", "files only"])
def db(request: pytest.FixtureRequest, backend: str, home: Path,
       monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The store on each backend; TinyDB's also (a read-only store whose index cannot be
    made) answering from its files alone: both must give the same answers."""
    if request.param == "files only":
        if backend != "tinydb":
            pytest.skip("only a TinyDB store answers from its files alone")
        monkeypatch.setattr(store.TinyStore, "_fresh_index", lambda self: None)
    opened = open_store(config.load())
    yield opened
    if hasattr(opened, "close"):
        opened.close()


@pytest.fixture
def add_runs(make_record: Callable[..., Record], spool_run: Callable[..., str],
             db: Store) -> Callable[..., list[str]]:
    """Spool `count` finished runs and merge them into the store; their ids, oldest first."""

    def add(count: int, **fields: Any) -> list[str]:
        ids = [spool_run(make_record(**fields)) for _ in range(count)]
        assert sorted(db.merge_pending()) == sorted(ids)
        return ids

    return add


# -- merging the spool ---------------------------------------------------------------------

def test_merge_pending_moves_finished_runs_into_db_json(
        db: Store, home: Path, make_record: Callable[..., Record],
        make_event: Callable[..., Record], spool_run: Callable[..., str]) -> None:
    ids = [spool_run(make_record(status=status), [make_event("input", f"/d/{status}.csv")])
           for status in ("completed", "failed", "interrupted")]

    merged = db.merge_pending()

    assert sorted(merged) == sorted(ids)
    runs = stored_runs(db)
    assert sorted(run["id"] for run in runs) == sorted(ids)
    assert {run["status"] for run in runs} == {"completed", "failed", "interrupted"}
    assert all(len(run["inputs"]) == 1 and "kind" not in run["inputs"][0] for run in runs)
    assert spool_files(home) == []


def test_merge_pending_with_an_empty_spool_writes_nothing(db: Store, home: Path) -> None:
    assert db.merge_pending() == []
    assert not (home / "db.json").exists()


def test_merge_pending_leaves_a_running_run_whose_process_lives(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str]) -> None:
    running = spool_run(make_record(status="running", pid=os.getpid()))
    finished = spool_run(make_record())

    assert db.merge_pending() == [finished]

    assert [run["id"] for run in stored_runs(db)] == [finished]
    assert spool.journals(home) == [running]


def test_merge_pending_stores_a_running_run_whose_process_died_as_lost(
        db: Store, home: Path, make_record: Callable[..., Record],
        make_event: Callable[..., Record], spool_run: Callable[..., str]) -> None:
    run_id = spool_run(make_record(status="running", pid=dead_pid()),
                       [make_event("output", "/d/partial.csv")])

    assert db.merge_pending() == [run_id]

    (run,) = stored_runs(db)
    assert run["status"] == "lost"
    assert run["end"] is None
    assert [event["path"] for event in run["outputs"]] == ["/d/partial.csv"]
    assert spool.journals(home) == []


def test_running_run_of_another_host_is_not_judged_by_a_local_pid(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str]) -> None:
    run_id = spool_run(make_record(status="running", pid=dead_pid(),
                                   hostname="some-other-host.invalid"))

    assert db.merge_pending() == []
    assert spool.journals(home) == [run_id]
    assert db.summaries()[0]["status"] == "running"


def test_merge_pending_does_not_duplicate_a_run_already_stored(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str]) -> None:
    record = make_record()
    spool_run(record)
    db.merge_pending()
    spool_run(record)  # a merge that died after writing the store, before the spool

    assert db.merge_pending() == [record["id"]]

    assert [run["id"] for run in stored_runs(db)] == [record["id"]]


def test_merge_pending_skips_an_unreadable_journal(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str]) -> None:
    good = spool_run(make_record())
    bad = "ab" * 16
    (home / "spool" / f"{bad}.json").write_text('{"id": "ab')

    assert db.merge_pending() == [good]
    assert spool.journals(home) == [bad]
    (problem,) = db.check()
    assert bad in problem


def test_merge_pending_survives_an_events_line_that_is_a_json_array(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str]) -> None:
    good = spool_run(make_record())
    odd = spool_run(make_record())
    with open(spool.Journal(home, odd).events_path, "a", encoding="utf-8") as handle:
        handle.write("[]\n")

    assert good in db.merge_pending()


# -- reading -------------------------------------------------------------------------------

def test_summaries_are_newest_first_and_include_running_spooled_runs(
        db: Store, make_record: Callable[..., Record], make_event: Callable[..., Record],
        spool_run: Callable[..., str], add_runs: Callable[..., list[str]]) -> None:
    old = add_runs(2)
    running = spool_run(make_record(status="running"), [make_event("input", "/d/in.csv")])
    # Stored after the running one started, but older: order is by start time.
    older = spool_run(make_record(start=datetime(2020, 1, 1, tzinfo=timezone.utc)))
    db.merge_pending()

    rows = db.summaries()

    assert [row["id"] for row in rows] == [running, old[1], old[0], older]
    assert rows[0]["status"] == "running"
    assert rows[0]["inputs"] == [{"path": "/d/in.csv", "hash": "0" * 32,
                                  "hash_algorithm": "xxh3_128"}]
    assert set(rows[1]) == {*SUMMARY_FIELDS, "inputs", "outputs", "git", "note_count"}


def test_every_page_is_its_slice_of_the_list_also_with_running_spooled_runs(
        db: Store, make_record: Callable[..., Record], spool_run: Callable[..., str],
        add_runs: Callable[..., list[str]]) -> None:
    stored = add_runs(12)  # a minute apart
    for limit in (1, 5, 12):  # near either end of the list
        for offset in range(0, 14):
            rows, total = db.page(offset, limit)
            assert (total, [row["id"] for row in rows]) == \
                (12, stored[::-1][offset:offset + limit]), (offset, limit)
    base = datetime.fromisoformat(db.summaries()[-1]["start"])
    # Still running here, so only in the spool: one newest, one among the stored runs,
    # one a second after a stored one, one oldest.
    for start in (base + timedelta(hours=1), base + timedelta(minutes=6, seconds=30),
                  base + timedelta(minutes=3, seconds=1), base - timedelta(hours=1)):
        spool_run(make_record(status="running", start=start))
    whole = [row["id"] for row in db.summaries()]
    assert len(whole) == 16 and set(stored) < set(whole)

    for limit in (1, 3, 5, 16):
        for offset in range(0, 18):
            rows, total = db.page(offset, limit)
            assert total == 16
            assert [row["id"] for row in rows] == whole[offset:offset + limit], \
                (offset, limit)


def test_summaries_of_an_empty_store_are_empty(db: Store) -> None:
    assert db.summaries() == []


@tinydb_only
def test_summaries_show_a_dead_running_run_as_lost(
        db: Store, home: Path, make_record: Callable[..., Record]) -> None:
    # Written straight into the store (as a merge of an older recipe might have).
    Path(home).mkdir()
    record = make_record(status="running", pid=dead_pid())
    spool.atomic_write_json(home / "db.json", {"runs": {"1": record}})

    assert [row["status"] for row in db.summaries()] == ["lost"]
    assert db.get(record["id"])["status"] == "lost"


def test_latest_is_the_newest_full_record(db: Store,
                                         add_runs: Callable[..., list[str]]) -> None:
    ids = add_runs(3)
    newest = ids[-1]

    latest = db.latest()

    assert latest is not None
    assert latest["id"] == newest
    assert latest["python_executable"]  # the full record, not a summary


def test_latest_includes_a_running_run_in_the_spool(
        db: Store, make_record: Callable[..., Record], spool_run: Callable[..., str],
        add_runs: Callable[..., list[str]]) -> None:
    add_runs(2)
    running = spool_run(make_record(status="running"))

    latest = db.latest()

    assert latest is not None and latest["id"] == running


def test_latest_of_an_empty_store_is_none(db: Store) -> None:
    assert db.latest() is None


def test_records_gives_all_or_the_ones_asked_for(
        db: Store, add_runs: Callable[..., list[str]]) -> None:
    ids = add_runs(4)

    assert [r["id"] for r in db.records()] == ids[::-1]
    assert [r["id"] for r in db.records([ids[0], ids[2]])] == [ids[2], ids[0]]
    assert db.records(["f" * 32]) == []


def test_get_returns_the_full_record(
        db: Store, make_record: Callable[..., Record], make_event: Callable[..., Record],
        spool_run: Callable[..., str]) -> None:
    record = make_record(params={"lr": 0.1}, results={"loss": 0.5})
    spool_run(record, [make_event("input", "/d/a.csv"), make_event("output", "/d/b.csv")])
    db.merge_pending()

    got = db.get(record["id"])

    event = make_event("input", "/d/a.csv")
    del event["kind"]
    assert got["inputs"] == [event]
    assert [e["path"] for e in got["outputs"]] == ["/d/b.csv"]
    assert {k: got[k] for k in record} == record


def test_get_of_an_unknown_run_raises_unknown_run(db: Store, add_runs: Callable) -> None:
    add_runs(1)

    with pytest.raises(UnknownRun, match="no run"):
        db.get("0" * 32)


def test_resolve_finds_the_run_of_a_unique_prefix(db: Store, add_runs: Callable) -> None:
    ids = add_runs(3)

    assert db.resolve(ids[1][:6]) == ids[1]
    assert db.resolve(ids[1].upper()[:10]) == ids[1]
    assert db.resolve(f"  {ids[1]} ") == ids[1]


@pytest.mark.parametrize(("prefix", "fragments"), [
    ("abcde", ["'abcde' is too short", "at least 6 characters"]),
    ("abcdef", ["'abcdef' is ambiguous", "abcdef000000", "abcdef111111"]),
    ("123456", ["no run has an id starting with '123456'"]),
])
def test_resolve_rejects_bad_prefixes_with_a_clear_message(
        prefix: str, fragments: list[str], db: Store, make_record: Callable[..., Record],
        spool_run: Callable[..., str]) -> None:
    for digit in "01":
        spool_run(make_record(run_id="abcdef" + digit * 26))
    db.merge_pending()

    with pytest.raises(UnknownRun) as raised:
        db.resolve(prefix)

    assert all(fragment in str(raised.value) for fragment in fragments), str(raised.value)


def test_resolve_is_a_usage_error_for_the_cli() -> None:
    assert UnknownRun.exit_code == 2


# -- sealed shards -------------------------------------------------------------------------

BATCHES = (3, 4, 2, 6, 1, 5, 2)  # 23 runs; heads of 7, 8 and 6 runs get sealed


@pytest.fixture
def sealed(monkeypatch: pytest.MonkeyPatch, db: Store, home: Path,
           make_record: Callable[..., Record], spool_run: Callable[..., str],
           make_event: Callable[..., Record]) -> list[str]:
    """23 runs merged in several batches with HEAD_MAX_RUNS = 5; ids newest first. Start
    times are shuffled, so the newest run sits in a sealed shard, not in the head."""
    monkeypatch.setattr(store, "HEAD_MAX_RUNS", 5)
    starts = [datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(hours=h) for h in range(23)]
    random.Random(7).shuffle(starts)
    newest = starts.index(max(starts))
    assert newest < 3 + 4  # in the first shard
    records = [make_record(start=start) for start in starts]
    position = 0
    for size in BATCHES:
        for record in records[position:position + size]:
            spool_run(record, [make_event("input", f"/d/{record['id']}.csv", record["id"])])
        assert len(db.merge_pending()) == size
        position += size
    return [r["id"] for r in sorted(records, key=lambda r: r["start"], reverse=True)]


@tinydb_only
def test_sealing_moves_runs_into_shards_with_indexes(sealed: list[str], db: Store,
                                                   home: Path) -> None:
    shard_dir = home / "db.shards"
    assert sorted(os.listdir(shard_dir)) == [
        "000001.hashes.json", "000001.index.json", "000001.json", "000002.hashes.json",
        "000002.index.json", "000002.json", "000003.hashes.json", "000003.index.json",
        "000003.json"]
    head = stored_runs(db)
    assert len(head) < 5
    with open(home / "db.json", encoding="utf-8") as handle:
        catalog = sorted(json.load(handle)["catalog"].values(), key=lambda row: row["shard"])
    assert [row["count"] for row in catalog] == [7, 8, 6]
    in_shards = [run["id"] for n in (1, 2, 3) for run in runs_in_file(shard_dir / f"00000{n}.json")]
    assert sorted(in_shards + [run["id"] for run in head]) == sorted(sealed)
    for number in (1, 2, 3):
        with open(shard_dir / f"00000{number}.index.json", encoding="utf-8") as handle:
            index = json.load(handle)
        assert sorted(row["id"] for row in index) == sorted(
            run["id"] for run in runs_in_file(shard_dir / f"00000{number}.json"))


@tinydb_only
def test_by_content_opens_only_the_shards_that_hold_the_content(
        sealed: list[str], db: Store, home: Path, monkeypatch: pytest.MonkeyPatch,
        settings: config.Config) -> None:
    if db._fresh_index() is not None:
        pytest.skip("the run index answers without opening any shard")
    head = {run["id"] for run in stored_runs(db)}
    shard_of = {run["id"]: number for number in (1, 2, 3)
                for run in runs_in_file(home / "db.shards" / f"00000{number}.json")}
    wanted = next(run_id for run_id in sealed if run_id not in head)
    [record] = db.records([wanted])
    digest = record["inputs"][0]["hash"]
    opened: list[int] = []
    read_index = db._read_index
    monkeypatch.setattr(db, "_read_index",
                        lambda number, needles=None: opened.append(number)
                        or read_index(number, needles))
    lookup = db.by_content()
    assert [run["id"] for run in lookup.runs_touching({digest})] == [wanted]
    assert opened == [shard_of[wanted]]
    assert lookup.runs_touching({"f" * 32}) == [] and opened == [shard_of[wanted]]
    # a shard sealed before hash lists existed gets one, made from its index
    listed = home / "db.shards" / f"{shard_of[wanted]:06d}.hashes.json"
    listed.unlink()
    again = open_store(settings).by_content().runs_touching({digest})
    assert [run["id"] for run in again] == [wanted] and digest in json.loads(listed.read_text())


def test_every_sealed_run_is_found_once(sealed: list[str], db: Store) -> None:
    assert [row["id"] for row in db.summaries()] == sealed
    assert [record["id"] for record in db.records()] == sealed
    assert [record["id"] for record in db.records(sealed[::5])] == sealed[::5]


@tinydb_only
def test_summaries_with_needles_skips_shards_that_cannot_match(sealed: list[str], db: Store,
                                                               home: Path) -> None:
    head = {run["id"] for run in stored_runs(db)}
    wanted = next(run_id for run_id in sealed if run_id not in head)
    shard_of_wanted = next(
        {run["id"] for run in runs_in_file(path)}
        for path in sorted((home / "db.shards").glob("[0-9]*[0-9].json"))
        if wanted in {run["id"] for run in runs_in_file(path)})

    rows = {row["id"] for row in db.summaries([f"/d/{wanted}.csv"])}

    if db._fresh_index() is not None:
        assert rows == {wanted}  # the index tests every summary's text
    else:
        assert rows == head | shard_of_wanted  # the head always, and only the one shard
    assert {row["id"] for row in db.summaries(None)} == set(sealed)


def test_hash_algorithms_come_from_the_catalog_head_and_spool(sealed: list[str],
                                                              db: Store) -> None:
    assert db.hash_algorithms() == {"xxh3_128"}


@pytest.mark.parametrize("position", [0, 6, 11, 22])
def test_get_finds_a_run_wherever_it_is(position: int, sealed: list[str], db: Store) -> None:
    record = db.get(sealed[position])

    assert record["id"] == sealed[position]
    assert [e["path"] for e in record["inputs"]] == [f"/d/{sealed[position]}.csv"]


@tinydb_only
def test_latest_finds_the_newest_run_in_a_shard(sealed: list[str], db: Store,
                                                home: Path) -> None:
    assert sealed[0] not in {run["id"] for run in stored_runs(db)}

    latest = db.latest()

    assert latest is not None and latest["id"] == sealed[0]


def test_resolve_finds_runs_in_shards(sealed: list[str], db: Store) -> None:
    assert [db.resolve(run_id[:8]) for run_id in sealed] == sealed


def test_check_is_empty_for_a_sealed_store(sealed: list[str], db: Store) -> None:
    assert db.check() == []


# -- updates -------------------------------------------------------------------------------

NOTE = {"text": "checked by hand", "time": "2024-05-01T00:00:00+00:00"}


def add_note(db: Store, run_id: str) -> None:
    db.annotate(run_id, {"kind": "note", **NOTE})


def test_annotate_changes_a_run_in_the_head(db: Store, home: Path,
                                          add_runs: Callable[..., list[str]]) -> None:
    ids = add_runs(3)

    add_note(db, ids[1])

    notes = {run["id"]: run["notes"] for run in stored_runs(db)}
    assert notes == {ids[0]: [], ids[1]: [NOTE], ids[2]: []}
    assert db.get(ids[1])["notes"] == [NOTE]


@tinydb_only
def test_annotate_changes_a_run_in_a_sealed_shard_and_its_index(
        sealed: list[str], db: Store, home: Path) -> None:
    head_ids = {run["id"] for run in stored_runs(db)}
    target = next(run_id for run_id in sealed if run_id not in head_ids)
    number = next(n for n in (1, 2, 3) if target in
                  {r["id"] for r in runs_in_file(home / "db.shards" / f"00000{n}.json")})

    add_note(db, target)

    assert db.get(target)["notes"] == [NOTE]
    with open(home / "db.shards" / f"00000{number}.index.json", encoding="utf-8") as handle:
        counts = {row["id"]: row["note_count"] for row in json.load(handle)}
    assert counts[target] == 1
    assert sum(counts.values()) == 1
    assert {row["id"]: row["note_count"] for row in db.summaries()}[target] == 1
    assert db.check() == []


def test_annotate_of_a_running_run_goes_to_its_journal(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str], add_runs: Callable[..., list[str]]) -> None:
    add_runs(1)
    record = make_record(status="running")
    run_id = spool_run(record)
    before = stored_runs(db)

    add_note(db, run_id)

    assert stored_runs(db) == before
    lines = Path(spool.Journal(home, run_id).events_path).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"kind": "note", **NOTE}]
    assert db.get(run_id)["notes"] == [NOTE]


def test_note_on_a_running_run_survives_its_end(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str]) -> None:
    record = make_record(status="running")
    run_id = spool_run(record)
    add_note(db, run_id)

    # The recorder ends the run: it rewrites its record file, which knows nothing of the note.
    spool.Journal(home, run_id).write_record(dict(record, status="completed", exit_code=0))
    db.merge_pending()

    assert db.get(run_id)["notes"] == [NOTE]
    assert db.get(run_id)["outputs"] == []


def test_annotate_of_an_unknown_run_raises_unknown_run(
        db: Store, add_runs: Callable[..., list[str]]) -> None:
    add_runs(2)

    with pytest.raises(UnknownRun):
        add_note(db, "0" * 32)


# -- check and repair ----------------------------------------------------------------------

def test_check_is_empty_for_a_healthy_store(db: Store, add_runs: Callable) -> None:
    assert db.check() == []
    add_runs(3)
    assert db.check() == []


@tinydb_only
@pytest.mark.parametrize("garbage", [b'{"runs": {"1": {"id": "', b"\x00" * 64, b"[1, 2, 3]"])
def test_check_reports_a_garbage_db_json(garbage: bytes, db: Store, home: Path,
                                         add_runs: Callable) -> None:
    add_runs(2)
    (home / "db.json").write_bytes(garbage)

    problems = db.check()

    assert len(problems) == 1
    assert str(home / "db.json") in problems[0]
    assert "recipe db repair" in problems[0]


@tinydb_only
def test_check_reports_a_garbage_index_file(sealed: list[str], db: Store, home: Path) -> None:
    index = home / "db.shards" / "000002.index.json"
    index.write_text("{not json")

    problems = db.check()

    assert len(problems) == 1
    assert str(index) in problems[0]


@tinydb_only
def test_check_reports_an_index_that_does_not_match_its_shard(
        sealed: list[str], db: Store, home: Path) -> None:
    index = home / "db.shards" / "000001.index.json"
    rows = json.loads(index.read_text())
    index.write_text(json.dumps(rows[1:]))

    assert db.check() == [f"{index} does not match its shard"]


def damage_run_in_the_middle(path: Path, run_id: str) -> None:
    """Overwrite bytes inside one run's record, as a disk error would."""
    data = bytearray(path.read_bytes())
    inside = data.index(run_id.encode()) + 200
    data[inside:inside + 40] = b"\x00#garbage#\x00" * 3 + b"\xff" * 4
    path.write_bytes(bytes(data))


@tinydb_only
def test_repair_salvages_intact_runs_and_merges_the_spool(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str], add_runs: Callable[..., list[str]]) -> None:
    ids = add_runs(5)
    damage_run_in_the_middle(home / "db.json", ids[2])
    damaged = (home / "db.json").read_bytes()
    waiting = spool_run(make_record())
    assert db.check() != []

    report = db.repair()

    (backup,) = list((home / "backups").iterdir())
    assert backup.read_bytes() == damaged
    assert backup.name.startswith("db.json.")
    assert any("salvaged 4 run(s)" in line and str(backup) in line for line in report)
    assert any("merged 1 run(s)" in line for line in report)
    assert sorted(r["id"] for r in db.records()) == sorted([*ids[:2], *ids[3:], waiting])
    assert spool.journals(home) == []
    assert db.check() == []
    assert len(stored_runs(db)) == 5


@tinydb_only
def test_repair_of_a_healthy_store_changes_nothing(
        db: Store, home: Path, sealed: list[str]) -> None:
    report = db.repair()

    assert report == []
    assert not (home / "backups").exists()
    assert [row["id"] for row in db.summaries()] == sealed


@tinydb_only
def test_repair_salvages_a_damaged_shard(sealed: list[str], db: Store, home: Path) -> None:
    shard = home / "db.shards" / "000002.json"
    victim = runs_in_file(shard)[3]["id"]
    damage_run_in_the_middle(shard, victim)
    assert db.check() != []

    db.repair()

    assert [(home / "backups" / name).name.split(".")[0] for name in
            os.listdir(home / "backups")] == ["000002"]
    assert [row["id"] for row in db.summaries()] == [r for r in sealed if r != victim]
    assert db.check() == []


@tinydb_only
def test_repair_rebuilds_a_garbage_index(sealed: list[str], db: Store, home: Path) -> None:
    (home / "db.shards" / "000003.index.json").write_text("garbage")

    db.repair()

    assert db.check() == []
    assert [row["id"] for row in db.summaries()] == sealed


@tinydb_only
def test_repair_relists_shards_when_db_json_is_lost(sealed: list[str], db: Store,
                                                    home: Path) -> None:
    (home / "db.json").unlink()

    db.repair()

    assert sorted(row["id"] for row in db.summaries()) == sorted(
        run_id for n in (1, 2, 3)
        for run_id in (r["id"] for r in runs_in_file(home / "db.shards" / f"00000{n}.json")))


@tinydb_only
def test_damaged_db_json_makes_merge_pending_raise_and_keeps_the_journal(
        db: Store, home: Path, make_record: Callable[..., Record],
        spool_run: Callable[..., str], add_runs: Callable[..., list[str]]) -> None:
    add_runs(2)
    (home / "db.json").write_text('{"runs": {"1": {"id": ')
    waiting = spool_run(make_record())

    with pytest.raises(StoreDamaged, match="recipe db repair"):
        db.merge_pending()

    assert spool.journals(home) == [waiting]
    assert spool.read(home, waiting)["id"] == waiting


@tinydb_only
def test_repair_after_an_interrupted_seal_keeps_each_run_once(
        monkeypatch: pytest.MonkeyPatch, db: Store, home: Path,
        make_record: Callable[..., Record], spool_run: Callable[..., str],
        add_runs: Callable[..., list[str]]) -> None:
    monkeypatch.setattr(store, "HEAD_MAX_RUNS", 5)
    ids = add_runs(4)
    waiting = spool_run(make_record())
    real_write = spool.atomic_write_json

    def disk_full_for_the_head(path: Path, data: Any, **kwargs: Any) -> None:
        if os.fspath(path) == os.fspath(db.db_path):
            raise OSError(28, "No space left on device")
        real_write(path, data, **kwargs)

    monkeypatch.setattr(spool, "atomic_write_json", disk_full_for_the_head)
    with pytest.raises(OSError):
        db.merge_pending()  # shard 1 and its index written, the head not
    monkeypatch.setattr(spool, "atomic_write_json", real_write)
    # (Reading through summaries() now would merge and re-seal over shard 1, healing it.)
    assert sorted(r["id"] for r in stored_runs(db)) == sorted(ids)
    assert len(runs_in_file(home / "db.shards" / "000001.json")) == 5  # unlisted
    assert spool.journals(home) == [waiting]

    db.repair()  # what the warning of a kept-aside run tells the user to do

    assert sorted(r["id"] for r in db.summaries()) == sorted([*ids, waiting])


# -- many writers --------------------------------------------------------------------------

WORKERS, RUNS_PER_WORKER = 4, 25


def _write_and_merge(worker: int) -> None:
    """In a fresh process: spool runs one by one and merge after each, as recorders do."""
    settings = config.load()
    db = open_store(settings)
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for number in range(RUNS_PER_WORKER):
        run_id = f"{worker:08x}{number:024x}"
        record = {"id": run_id, "script": f"/w/{worker}.py", "status": "completed",
                  "start": (base + timedelta(seconds=worker * 100 + number)).isoformat(),
                  "pid": os.getpid(), "notes": [], "tags": []}
        journal = spool.Journal(settings.home, run_id)
        # Events first, then the finished record: the order of recorder.Run.finish.
        journal.append_events([{"kind": "output", "path": f"/w/{run_id}", "hash": run_id,
                                "hash_algorithm": "xxh3_128", "size": 1}])
        journal.write_record(record)
        db.merge_pending(timeout=60)


def test_concurrent_writers_lose_nothing(db: Store, home: Path) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write_and_merge, args=(w,)) for w in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [process.exitcode for process in processes] == [0] * WORKERS
    expected = {f"{w:08x}{n:024x}" for w in range(WORKERS) for n in range(RUNS_PER_WORKER)}
    runs = stored_runs(db)  # valid JSON, or this raises
    assert len(runs) == WORKERS * RUNS_PER_WORKER
    assert {run["id"] for run in runs} == expected
    assert all([e["path"] for e in run["outputs"]] == [f"/w/{run['id']}"] for run in runs)
    assert spool_files(home) == []
    assert db.check() == []


MACHINES, RUNS_PER_MACHINE = 8, 50


def _machine_writes(url: str, home: str, machine: int) -> None:
    """In a fresh process with a RECIPE_HOME of its own (another machine): record runs
    one by one into the server's store, merging after each as recorders do."""
    os.environ["RECIPE_HOME"], os.environ["RECIPE_STORE_URL"] = home, url
    db = open_store(config.load())
    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    for number in range(RUNS_PER_MACHINE):
        run_id = f"{machine:08x}{number:024x}"
        journal = spool.Journal(home, run_id)
        journal.append_events([{"kind": "output", "path": f"/m{machine}/{number}.csv",
                                "hash": run_id, "hash_algorithm": "xxh3_128", "size": 1}])
        journal.write_record({"id": run_id, "script": f"/m/{machine}.py", "pid": os.getpid(),
                              "status": "completed", "notes": [], "tags": [],
                              "start": (base + timedelta(seconds=number)).isoformat()})
        db.merge_pending(timeout=60)


def test_eight_machines_writing_fifty_runs_each_to_one_server_lose_nothing(
        postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_machine_writes,
                                 args=(postgres_url, str(tmp_path / f"m{m}"), m))
                 for m in range(MACHINES)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)

    assert [process.exitcode for process in processes] == [0] * MACHINES
    monkeypatch.setenv("RECIPE_STORE_URL", postgres_url)
    db = open_store(config.load())
    runs = stored_runs(db)
    assert len(runs) == len({run["id"] for run in runs}) == MACHINES * RUNS_PER_MACHINE
    assert all(len(run["outputs"]) == 1 for run in runs)
    assert len(db.summaries([".csv"])) == MACHINES * RUNS_PER_MACHINE
    assert db.check() == []
    db.close()
