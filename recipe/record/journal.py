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

A run whose journal cannot be written under RECIPE_HOME (read-only, full, not
permitted) waits in a fallback spool outside it (`fallback_directories`), where every
reader and merge of that store finds it as if it were in `spool/`.
"""

from __future__ import annotations

import os

from . import quick_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SPOOL_DIR = "spool"
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


def atomic_write_json(path: str, data: Any, *, durable: bool = True,
                      indent: int | None = None) -> None:
    """Write JSON so that readers see the old file or the new one, never a half-written one."""
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        if indent:
            import json

            text = json.dumps(data, ensure_ascii=False, indent=indent)
        else:  # json's C encoder, as json.dumps would use (5x faster than json.dump)
            text = quick_json.dumps(data)
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


def fallback_directories(home: str) -> list[str]:
    """Where the runs of a store that cannot be written wait, in order of preference: the
    user's cache directory, else the temp dir; one directory per store (named by a hash
    of its path, with the path itself in a `home` file to tell collisions apart)."""
    import zlib

    home = os.path.abspath(os.fspath(home))
    encoded = home.encode("utf-8", "surrogateescape")
    name = f"{zlib.crc32(encoded):08x}{zlib.adler32(encoded):08x}"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    temp = os.environ.get("TMPDIR") or "/tmp"
    return [os.path.join(cache, "recipe", "spool", name),
            os.path.join(temp, f"recipe-{os.getuid()}", "spool", name)]


def _fallbacks_of(home: str) -> list[str]:
    """The fallback spools of `home` that exist and are its own."""
    found = []
    for directory in fallback_directories(home):
        try:
            with open(os.path.join(directory, "home"), encoding="utf-8",
                      errors="surrogateescape") as handle:
                if handle.read() == os.path.abspath(os.fspath(home)):
                    found.append(directory)
        except OSError:
            pass
    return found


class Journal:
    """The spool files of one run, written by the process that records it.

    `on_moved(directory, error)` is called once if the run has to move to a fallback
    spool (the error that made it move)."""

    def __init__(self, home: str, run_id: str, on_moved: Any = None, *, new: bool = False
                 ) -> None:
        """`new`: a run that has just got its id, so has no files anywhere yet."""
        self.home = home
        self.run_id = run_id
        self._on_moved = on_moved
        self.aside = False  # in a fallback spool: RECIPE_HOME could not be written
        self._place(os.path.join(home, SPOOL_DIR))
        if not new and not os.path.exists(self.record_path):  # waiting aside? (rare: only then)
            for directory in _fallbacks_of(home):
                if os.path.exists(os.path.join(directory, f"{run_id}.json")):
                    self._place(directory)
                    self.aside = True
                    break

    def sync(self) -> None:
        """fsync the run's files: the end of a run writes them without, and the process
        that takes the run on (the detached merger, or delivery) makes them durable."""
        for path in (self.events_path, self.record_path):
            try:
                descriptor = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(descriptor)
            except OSError:
                pass
            finally:
                os.close(descriptor)
        try:
            descriptor = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(descriptor)  # the renames that put the record in place
            finally:
                os.close(descriptor)
        except OSError:
            pass

    def _place(self, directory: str) -> None:
        self.directory = directory
        self.record_path = os.path.join(directory, f"{self.run_id}.json")
        self.events_path = os.path.join(directory, f"{self.run_id}.events")

    def _in_directory(self, write: Callable[[], Any]) -> Any:
        """`write()`, and again once the spool directory is made if it was missing (the
        first run ever, or removed meanwhile)."""
        try:
            return write()
        except FileNotFoundError:
            os.makedirs(self.directory, exist_ok=True)
            return write()

    def write_record(self, record: dict[str, Any], *, durable: bool = True) -> None:
        try:
            self._in_directory(lambda: atomic_write_json(self.record_path, record,
                                                         durable=durable))
        except OSError as exc:
            if not self._move_aside(exc):
                raise
            atomic_write_json(self.record_path, record, durable=durable)

    def append_events(self, events: list[dict[str, Any]], *, durable: bool = True) -> None:
        """Append events; `durable=False` leaves them to the OS (a killed process loses
        nothing written, only a power loss could), sparing the script the fsync's stall."""
        if not events:
            return
        lines = "".join(quick_json.dumps(event) + "\n" for event in events)
        try:
            self._append(lines, durable)
        except OSError as exc:
            if not self._move_aside(exc):
                raise
            self._append(lines, durable)

    def create_events(self) -> None:
        """Make the events file, empty, ahead of the first append: that one runs on the
        script's thread (a run killed right after its first file keeps it), where
        creating the file cost ~90 µs of the run's first logged call (a cold process,
        tmpfs) and opening it costs a few (docs/performance.md, item 2)."""
        try:
            os.close(os.open(self.events_path, _APPEND_FLAGS, 0o666))
        except OSError:
            pass  # the first append makes it, or says why it cannot

    def _append(self, lines: str, durable: bool) -> None:
        """Append whole lines or nothing: a full disk must leave no empty file and no
        torn line that the next append would run into.

        Through a descriptor, and the spool directory made only when it is missing: a
        run's first file event is appended on the script's own thread, where a text file
        object and `os.makedirs` (which raises and catches FileExistsError) made an
        append 32 µs instead of 17 (tmpfs; docs/performance.md, item 13's fifth pass)."""
        data = lines.encode("utf-8")  # before anything is written: unencodable text raises
        try:
            size = os.stat(self.events_path).st_size
        except FileNotFoundError:
            size = None
        try:
            descriptor = self._in_directory(
                lambda: os.open(self.events_path, _APPEND_FLAGS, 0o666))
            try:
                remaining = memoryview(data)
                while remaining:
                    remaining = remaining[os.write(descriptor, remaining):]
                if durable:
                    os.fsync(descriptor)
            finally:
                os.close(descriptor)
        except OSError:
            try:
                if size is None:
                    os.unlink(self.events_path)
                else:
                    os.truncate(self.events_path, size)
            except OSError:
                pass
            raise

    def _move_aside(self, error: OSError) -> bool:
        """Move this run's journal to the first fallback spool that takes it, with the
        events written so far; False if it is there already or none does."""
        if self.aside:
            return False
        home = os.path.abspath(os.fspath(self.home))
        for directory in fallback_directories(home):
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
                marker = os.path.join(directory, "home")
                if not os.path.exists(marker):
                    with open(marker, "w", encoding="utf-8", errors="surrogateescape") as handle:
                        handle.write(home)
                elif directory not in _fallbacks_of(home):
                    continue  # another store's, by a hash collision
                old_events = self.events_path
                self._place(directory)
                _copy_whole_lines(old_events, self.events_path)
            except OSError:
                continue
            for stale in (old_events, old_events[:-len(".events")] + ".json"):
                try:
                    os.unlink(stale)
                except OSError:
                    pass
            self.aside = True
            if self._on_moved is not None:
                self._on_moved(directory, error)
            return True
        return False


def _copy_whole_lines(source: str, target: str) -> None:
    try:
        with open(source, encoding="utf-8", errors="surrogateescape") as handle:
            text = handle.read()
    except FileNotFoundError:
        return
    text = text[:text.rfind("\n") + 1]
    if text:
        with open(target, "a", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)


def journals(home: str) -> list[str]:
    """Run ids that have a record in the spool, or in a fallback spool of this store."""
    found: dict[str, None] = {}
    for directory in (os.path.join(home, SPOOL_DIR), *_fallbacks_of(home)):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        found.update((name[:-5], None) for name in names
                     if name.endswith(".json") and not name.startswith("."))
    return list(found)


def unreadable(home: str) -> list[str]:
    """One line for each journal in the spool whose record cannot be read: `recipe db
    check` reports them whichever store the spool feeds."""
    problems = []
    for run_id in journals(home):
        try:
            read(home, run_id)
        except (OSError, ValueError) as exc:
            problems.append(f"spool journal of run {run_id} is unreadable ({exc})")
    return problems


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
            event = quick_json.loads(line.rstrip("\n"))
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
        record = quick_json.loads(handle.read())
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
    for directory in (os.path.join(home, SPOOL_DIR), *_fallbacks_of(home)):
        for suffix in (".events", ".json"):
            try:
                os.unlink(os.path.join(directory, run_id + suffix))
            except FileNotFoundError:
                pass
