"""Per-run journal files: where a run lives while it runs, and where it waits if the store
cannot take it. Standard library only: the recorder writes here without importing TinyDB.

Each run has `spool/<id>.json`, its record without file events, replaced atomically, and
`spool/<id>.events`, one JSON object per line, only ever appended: the files it logged
(kind `input`/`output`, also from its workers; `removed`: a file it wrote was deleted, so
its events so far are `transient`), the processes it started (`command`,
`exit`, and `child` from a child run), and the notes and tags added by `recipe
annotate`/`tag` while it runs (the recorder owns the record file, so others only append
here). A torn last line (a
process killed mid-write) is skipped on reading; everything before it is kept.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SPOOL_DIR = "spool"


def atomic_write_json(path: str, data: Any, *, durable: bool = True,
                      indent: int | None = None) -> None:
    """Write JSON so that readers see the old file or the new one, never a half-written one."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        # json.dumps, not json.dump: only dumps uses the C encoder (5x faster on a head).
        text = json.dumps(data, ensure_ascii=False, indent=indent,
                          separators=(",", ": ") if indent else (",", ":"))
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text + "\n" if indent else text)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


class Journal:
    """The spool files of one run, written by the process that records it."""

    def __init__(self, home: str, run_id: str) -> None:
        self.directory = os.path.join(home, SPOOL_DIR)
        self.record_path = os.path.join(self.directory, f"{run_id}.json")
        self.events_path = os.path.join(self.directory, f"{run_id}.events")

    def write_record(self, record: dict[str, Any], *, durable: bool = True) -> None:
        os.makedirs(self.directory, exist_ok=True)
        atomic_write_json(self.record_path, record, durable=durable)

    def append_events(self, events: list[dict[str, Any]], *, durable: bool = True) -> None:
        """Append events; `durable=False` leaves them to the OS (a killed process loses
        nothing written, only a power loss could), sparing the script the fsync's stall."""
        if not events:
            return
        lines = "".join(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n"
                        for event in events)
        os.makedirs(self.directory, exist_ok=True)
        with open(self.events_path, "a", encoding="utf-8") as handle:
            handle.write(lines)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())


def journals(home: str) -> list[str]:
    """Run ids that have a record in the spool."""
    try:
        names = os.listdir(os.path.join(home, SPOOL_DIR))
    except FileNotFoundError:
        return []
    return [name[:-5] for name in names if name.endswith(".json") and not name.startswith(".")]


def orphans(home: str) -> list[str]:
    """Run ids that have events in the spool but no record: a forked child that outlived
    its run appended after the store took the run's journal (or a full disk kept the
    record from being written). `recipe db check` reports them, `db repair` merges them."""
    try:
        names = set(os.listdir(os.path.join(home, SPOOL_DIR)))
    except FileNotFoundError:
        return []
    return [name[:-7] for name in names if name.endswith(".events")
            and not name.startswith(".") and name[:-7] + ".json" not in names]


def read(home: str, run_id: str) -> dict[str, Any]:
    """The run's full record: its record file with the events appended so far.

    Raises OSError or ValueError if the record file itself is unreadable."""
    record = read_record(home, run_id)
    apply_events(record, read_events(home, run_id))
    return record


def read_events(home: str, run_id: str) -> list[dict[str, Any]]:
    """The run's events appended so far (none if it has no events file); a torn line of
    a killed process, or one that is not an object, is skipped."""
    try:
        with open(Journal(home, run_id).events_path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except FileNotFoundError:
        return []
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # torn line of a killed process
        if isinstance(event, dict):
            events.append(event)
    return events


def apply_events(record: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Fold events into a record: files into inputs/outputs (a file "removed" later in
    the run marks its events `transient`), processes into children and commands,
    annotations into notes and tags."""
    record.setdefault("inputs", [])
    record.setdefault("outputs", [])
    processes = []
    by_path: dict[str, list[dict[str, Any]]] = {}  # the file events so far, per path
    for event in events:
        event = dict(event)
        kind = event.get("kind")
        if kind in ("input", "output"):
            del event["kind"]
            record[kind + "s"].append(event)
            by_path.setdefault(event.get("path"), []).append(event)
        elif kind == "removed":
            for earlier in by_path.pop(event.get("path"), ()):
                earlier["transient"] = True
        elif kind in PROCESS_EVENTS:
            processes.append(event)
        else:
            annotate(record, event)
    if processes:
        add_processes(record, processes)


# What a run's journal says about the processes it started (recipe/capture/children.py).
PROCESS_EVENTS = ("command", "exit", "child")


def add_processes(record: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Fold process events into `children` (the ids of the runs it started, each of
    which appended {"kind": "child", "id", "pid"} itself) and `commands` ({argv,
    exit_code, time, pid} of each program started, from {"kind": "command"} and its
    {"kind": "exit", "pid", "exit_code"}), leaving out of the commands the programs that
    turned out to be child runs."""
    children = record.setdefault("children", [])
    commands = record.setdefault("commands", [])
    child_pids = set()
    started = []
    for event in events:
        kind = event.get("kind")
        if kind == "child" and isinstance(event.get("id"), str):
            if event["id"] not in children:
                children.append(event["id"])
            child_pids.add(event.get("pid"))
        elif kind == "command":
            started.append({"argv": event.get("argv"), "exit_code": event.get("exit_code"),
                            "time": event.get("time"), "pid": event.get("pid")})
        elif kind == "exit":
            for command in reversed(started):  # the latest with that pid (pids are reused)
                if command["pid"] == event.get("pid") and command["exit_code"] is None:
                    command["exit_code"] = event.get("exit_code")
                    break
    commands.extend(command for command in started
                    if command["pid"] is None or command["pid"] not in child_pids)


def read_record(home: str, run_id: str) -> dict[str, Any]:
    """The run's record file alone, without its events."""
    path = Journal(home, run_id).record_path
    with open(path, encoding="utf-8") as handle:
        record = json.load(handle)
    if not isinstance(record, dict) or record.get("id") != run_id:
        raise ValueError(f"{path} is not the record of run {run_id}")
    return record


def annotate(record: dict[str, Any], event: dict[str, Any]) -> None:
    """Apply an annotation to a record: {"kind": "note", "text", "time"} appends a note,
    {"kind": "unnote", "text", "time"} removes the note with that text and time;
    {"kind": "tags", "tags": [...]} adds the tags it lacks, {"kind": "untag", "tags": [...]}
    removes those. The same events go into the journal of a run still in the spool, so
    both ways give the same record."""
    kind = event.get("kind")
    if kind == "note":
        record.setdefault("notes", []).append({"text": event.get("text"),
                                               "time": event.get("time")})
    elif kind == "unnote":
        notes = record.setdefault("notes", [])
        wanted = {"text": event.get("text"), "time": event.get("time")}
        if wanted in notes:
            notes.remove(wanted)
    elif kind == "tags":
        tags = record.setdefault("tags", [])
        tags.extend(tag for tag in dict.fromkeys(event.get("tags", ())) if tag not in tags)
    elif kind == "untag":
        removed = set(event.get("tags", ()))
        record["tags"] = [tag for tag in record.get("tags") or () if tag not in removed]


def remove(home: str, run_id: str) -> None:
    journal = Journal(home, run_id)
    for path in (journal.events_path, journal.record_path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
