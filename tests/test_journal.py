"""recipe.record.journal: atomic JSON files, per-run journals, and reading them back after
a crash."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from recipe.record import journal as spool


def test_atomic_write_json_writes_readable_json(tmp_path: Path) -> None:
    target = tmp_path / "data.json"

    spool.atomic_write_json(target, {"a": [1, 2], "text": "é"})

    assert json.loads(target.read_text(encoding="utf-8")) == {"a": [1, 2], "text": "é"}
    assert os.listdir(tmp_path) == ["data.json"]


@pytest.mark.parametrize("durable", [True, False])
def test_atomic_write_json_replaces_content_and_leaves_no_temporary_file(
        durable: bool, tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    spool.atomic_write_json(target, {"version": 1, "padding": "x" * 1000})

    spool.atomic_write_json(target, {"version": 2}, durable=durable)

    assert json.loads(target.read_text()) == {"version": 2}
    assert os.listdir(tmp_path) == ["data.json"]


def test_atomic_write_json_failure_keeps_old_content_and_no_temporary_file(
        tmp_path: Path) -> None:
    target = tmp_path / "data.json"
    spool.atomic_write_json(target, {"version": 1})

    with pytest.raises(TypeError):
        spool.atomic_write_json(target, {"version": 2, "bad": object()})

    assert json.loads(target.read_text()) == {"version": 1}
    assert os.listdir(tmp_path) == ["data.json"]


def test_write_record_creates_the_spool_directory(home: Path) -> None:
    journal = spool.Journal(home, "a" * 32)

    journal.write_record({"id": "a" * 32, "status": "running"})

    assert Path(journal.record_path) == home / "spool" / f"{'a' * 32}.json"
    written = json.loads(Path(journal.record_path).read_text())
    assert written == {"id": "a" * 32, "status": "running"}


def test_append_events_writes_one_json_line_per_event(home: Path,
                                                      make_event: Callable[..., dict]) -> None:
    journal = spool.Journal(home, "b" * 32)
    first, second = make_event("input", "/d/in.csv"), make_event("output", "/d/out.csv")

    journal.append_events([first])
    journal.append_events([second])

    lines = Path(journal.events_path).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [first, second]


def test_append_no_events_writes_nothing(home: Path) -> None:
    journal = spool.Journal(home, "c" * 32)

    journal.append_events([])

    assert not os.path.exists(journal.events_path)


def test_read_merges_events_into_inputs_and_outputs(
        home: Path, make_record: Callable[..., dict], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    events = [make_event("input", "/d/a.csv", "1" * 32), make_event("output", "/d/b.csv", "2" * 32),
              make_event("input", "/d/c.csv", "3" * 32)]
    record = make_record(status="running")
    run_id = spool_run(record, events)

    read = spool.read(home, run_id)

    without_kind = [{k: v for k, v in e.items() if k != "kind"} for e in events]
    assert read["inputs"] == [without_kind[0], without_kind[2]]
    assert read["outputs"] == [without_kind[1]]
    assert read["id"] == run_id
    assert read["status"] == "running"


def test_a_removed_event_marks_the_earlier_events_of_its_path_transient(
        home: Path, make_record: Callable[..., dict], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    events = [make_event("output", "/d/tmp.pkl", "1" * 32), make_event("input", "/d/tmp.pkl",
                                                                        "1" * 32),
              make_event("output", "/d/kept.csv", "2" * 32),
              {"kind": "removed", "path": "/d/tmp.pkl", "time": "t"},
              make_event("output", "/d/tmp.pkl", "3" * 32)]  # written again, and kept
    run_id = spool_run(make_record(status="running"), events)

    read = spool.read(home, run_id)

    assert [(e["path"], e.get("transient")) for e in read["outputs"]] == [
        ("/d/tmp.pkl", True), ("/d/kept.csv", None), ("/d/tmp.pkl", None)]
    assert [e.get("transient") for e in read["inputs"]] == [True]


def test_read_keeps_inputs_already_in_the_record(
        home: Path, make_record: Callable[..., dict], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    earlier = {"path": "/d/old.csv", "hash": "9" * 32}
    run_id = spool_run(make_record(inputs=[earlier]), [make_event("input", "/d/new.csv")])

    paths = [event["path"] for event in spool.read(home, run_id)["inputs"]]

    assert paths == ["/d/old.csv", "/d/new.csv"]


def test_read_without_events_file_gives_empty_lists(
        home: Path, make_record: Callable[..., dict], spool_run: Callable[..., str]) -> None:
    run_id = spool_run(make_record())

    read = spool.read(home, run_id)

    assert (read["inputs"], read["outputs"]) == ([], [])


def test_read_skips_a_torn_last_line_and_keeps_earlier_events(
        home: Path, make_record: Callable[..., dict], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    events = [make_event("input", "/d/a.csv"), make_event("output", "/d/b.csv")]
    run_id = spool_run(make_record(status="running"), events)
    torn = json.dumps(make_event("output", "/d/torn.csv"))
    with open(spool.Journal(home, run_id).events_path, "a", encoding="utf-8") as handle:
        handle.write(torn[: len(torn) // 2])  # a process killed mid-write

    read = spool.read(home, run_id)

    assert [e["path"] for e in read["inputs"]] == ["/d/a.csv"]
    assert [e["path"] for e in read["outputs"]] == ["/d/b.csv"]


@pytest.mark.parametrize("garbage", [
    "not json\n", '{"no_kind": 1}\n', "\n", "null\n", '"text"\n',
    pytest.param("[1, 2]\n", id="a JSON array"),
])
def test_read_skips_lines_that_are_not_events(
        garbage: str, home: Path, make_record: Callable[..., dict],
        make_event: Callable[..., dict], spool_run: Callable[..., str]) -> None:
    run_id = spool_run(make_record(), [make_event("input", "/d/a.csv")])
    with open(spool.Journal(home, run_id).events_path, "a", encoding="utf-8") as handle:
        handle.write(garbage)
    spool.Journal(home, run_id).append_events([make_event("output", "/d/b.csv")])

    read = spool.read(home, run_id)

    assert [e["path"] for e in read["inputs"]] == ["/d/a.csv"]
    assert [e["path"] for e in read["outputs"]] == ["/d/b.csv"]


def test_read_raises_os_error_for_a_missing_record(home: Path) -> None:
    with pytest.raises(OSError):
        spool.read(home, "d" * 32)


@pytest.mark.parametrize("content", ['{"id": "', '{"id": "0123"}', "[]"])
def test_read_raises_value_error_for_a_bad_record(content: str, home: Path) -> None:
    run_id = "e" * 32
    journal = spool.Journal(home, run_id)
    os.makedirs(journal.directory)
    Path(journal.record_path).write_text(content)

    with pytest.raises(ValueError):
        spool.read(home, run_id)


# Store.update appends these to the journal of a run that is still in the spool (the CLI's
# `annotate` and `tag`); reading the journal turns them into notes and tags.
NOTE = {"kind": "note", "text": "looks good", "time": "2024-03-01T12:00:00+00:00"}


def test_read_applies_note_events_to_notes(
        home: Path, make_record: Callable[..., dict], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    earlier = {"text": "first", "time": "2024-03-01T11:00:00+00:00"}
    run_id = spool_run(make_record(status="running", notes=[earlier]),
                       [make_event("output", "/d/b.csv"), NOTE])

    read = spool.read(home, run_id)

    assert [e["path"] for e in read["outputs"]] == ["/d/b.csv"]
    assert read["notes"] == [earlier, {"text": "looks good", "time": NOTE["time"]}]


def test_read_applies_tags_events_to_tags_once_each(
        home: Path, make_record: Callable[..., dict], spool_run: Callable[..., str]) -> None:
    events = [{"kind": "tags", "tags": ["baseline", "model", "baseline"]},
              {"kind": "tags", "tags": ["final"]}]
    run_id = spool_run(make_record(status="running", tags=["model"]), events)

    read = spool.read(home, run_id)

    assert read["tags"] == ["model", "baseline", "final"]
    assert (read["inputs"], read["outputs"]) == ([], [])


def test_read_ignores_events_of_an_unknown_kind(
        home: Path, make_record: Callable[..., dict], spool_run: Callable[..., str]) -> None:
    run_id = spool_run(make_record(), [{"kind": "future-kind", "path": "/d/x"}])

    read = spool.read(home, run_id)

    assert (read["inputs"], read["outputs"]) == ([], [])


def test_journals_lists_run_ids_with_a_record(
        home: Path, make_record: Callable[..., dict], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    ids = {spool_run(make_record()) for _ in range(3)}
    # An events file alone, and a temporary file of atomic_write_json, are not journals.
    spool.Journal(home, "f" * 32).append_events([make_event("input", "/d/a.csv")])
    (home / "spool" / f".{'a' * 32}.json").write_text("{}")

    assert sorted(spool.journals(home)) == sorted(ids)


def test_journals_of_a_missing_spool_is_empty(home: Path) -> None:
    assert spool.journals(home) == []


def test_remove_deletes_record_and_events(
        home: Path, make_record: Callable[..., dict], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    kept = spool_run(make_record())
    gone = spool_run(make_record(), [make_event("input", "/d/a.csv")])

    spool.remove(home, gone)

    assert spool.journals(home) == [kept]
    assert sorted(os.listdir(home / "spool")) == [f"{kept}.json"]


def test_remove_of_a_missing_journal_does_nothing(home: Path) -> None:
    spool.remove(home, "0" * 32)

    assert spool.journals(home) == []


def records_equal(first: dict[str, Any], second: dict[str, Any]) -> bool:
    return json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_write_record_replaces_the_record_but_not_the_events(
        home: Path, make_record: Callable[..., dict], make_event: Callable[..., dict],
        spool_run: Callable[..., str]) -> None:
    record = make_record(status="running")
    run_id = spool_run(record, [make_event("input", "/d/a.csv")])
    finished = dict(record, status="completed", exit_code=0)

    spool.Journal(home, run_id).write_record(finished)

    read = spool.read(home, run_id)
    assert read["status"] == "completed"
    assert [e["path"] for e in read["inputs"]] == ["/d/a.csv"]
    assert records_equal({k: v for k, v in read.items() if k not in ("inputs", "outputs")},
                         finished)
