"""Finding runs: search by path, content hash or id prefix. Shared by the CLI and the GUI."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from typing import Any

from ..record.fields import printable
from ..record.hashing import hash_file

_HEX = re.compile(r"[0-9a-fA-F]{8,}")


def events(run: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's logged files, inputs then outputs."""
    return [*(run.get("inputs") or ()), *(run.get("outputs") or ())]


def hash_algorithms(runs: Iterable[dict[str, Any]]) -> set[str]:
    """The hash algorithms the runs' logged files were hashed with."""
    return {event["hash_algorithm"] for run in runs for event in events(run)
            if event.get("hash_algorithm")}


class Search:
    """One search term, ready to test runs:

    - `by_id`: the run id starts with `term`;
    - `regex`: a logged path matches the regular expression (re.search);
    - otherwise a logged path contains `term`; and when `term` names an existing file,
      files with the same content (even under another name) match too; a term of 8+ hex
      digits also matches content hashes that start with it.

    `algorithms`: the hash algorithms to hash an existing file with (those the store
    used); `max_hash_bytes`: a larger file is not hashed (its content is not searched,
    `unhashed` says why): a web request must not read a huge file. Raises ValueError for
    an invalid regular expression.
    """

    def __init__(self, term: str, *, algorithms: Iterable[str] = (), regex: bool = False,
                 by_id: bool = False, max_hash_bytes: int | None = None) -> None:
        self.term = printable(term)  # as a name that is not UTF-8 was recorded
        self.by_id = by_id
        self.pattern = None
        self.hashes: set[tuple[str, str]] = set()
        self.unhashed = ""
        if regex:
            try:
                self.pattern = re.compile(term)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {term!r}: {exc}") from None
        elif not by_id and os.path.isfile(term):
            size = os.path.getsize(term)
            if max_hash_bytes is not None and size > max_hash_bytes:
                self.unhashed = (f"{term} is {size // 2**20} MiB, more than "
                                 f"{max_hash_bytes // 2**20} MiB: its content is not "
                                 "searched here (`recipe search` does)")
                algorithms = ()
            for algorithm in set(algorithms):
                try:
                    self.hashes.add((algorithm, hash_file(term, algorithm)))
                except (OSError, KeyError):
                    continue
        self.hex_prefix = term.lower() if _HEX.fullmatch(term) else None

    def needles(self) -> list[str] | None:
        """Strings one of which the JSON text of every matching run contains (None: any
        run may match). The store skips, undecoded, index files holding none of them."""
        if self.pattern is not None:
            return None
        texts = [self.term.lower() if self.by_id else self.term]
        if self.hex_prefix is not None and self.hex_prefix not in texts:
            texts.append(self.hex_prefix)  # ids and hashes are stored in lower case
        texts += [digest for _algorithm, digest in self.hashes]
        return [json.dumps(text, ensure_ascii=False)[1:-1] for text in texts]

    def matches_file(self, event: dict[str, Any]) -> bool:
        if self.by_id:
            return False
        path = event.get("path") or ""
        if self.pattern is not None:
            return self.pattern.search(path) is not None
        digest = event.get("hash") or ""
        return (self.term in path
                or (event.get("hash_algorithm"), digest) in self.hashes
                or (self.hex_prefix is not None and digest.startswith(self.hex_prefix)))

    def matches(self, run: dict[str, Any]) -> bool:
        if self.by_id:
            return run["id"].startswith(self.term.lower())
        return any(self.matches_file(event) for event in events(run))


def search(runs: list[dict[str, Any]], term: str, *, regex: bool = False,
           by_id: bool = False) -> list[dict[str, Any]]:
    """The runs (kept in their order) that match `term`, as `Search` describes."""
    query = Search(term, algorithms=hash_algorithms(runs), regex=regex, by_id=by_id)
    return [run for run in runs if query.matches(run)]


_OPERATORS = ("<=", ">=", "!=", "=", "<", ">")
_CONDITION = re.compile(r"\s*(?P<name>[^<>=!]*?)\s*(?P<operator>[<>=!]+)\s*(?P<value>.*?)\s*",
                        re.DOTALL)


class Condition:
    """One `--where` condition, `NAME OP VALUE` with OP one of = != < <= > >=; the value is
    typed like a `-p` value of unknown type (int, float, bool word, else string). Raises
    ValueError, saying what is wrong, for anything else (`lr==0.1`, `lr>=`, `>=3`)."""

    def __init__(self, expression: str) -> None:
        from ..execute.params import coerce

        found = _CONDITION.fullmatch(expression)
        if found is None:
            raise ValueError(f"--where {expression!r}: no operator; write NAME OP VALUE "
                             "with OP one of = != < <= > >=")
        name, operator, value = found.group("name", "operator", "value")
        if operator not in _OPERATORS:
            raise ValueError(f"--where {expression!r}: unknown operator {operator!r}; use one "
                             "of = != < <= > >=")
        if not name:
            raise ValueError(f"--where {expression!r}: no parameter or result name before "
                             f"{operator!r}")
        if not value or value[0] in "<>=!":
            raise ValueError(f"--where {expression!r}: no value after {operator!r}")
        self.name, self.operator = name, operator
        self.value = coerce(value, "any")

    def holds(self, run: dict[str, Any]) -> bool:
        """False for a run with neither a parameter nor a result of that name, or whose
        value cannot be compared. A parameter wins over a result of the same name."""
        for section in ("params", "results"):
            values = run.get(section) or {}
            if self.name in values:
                actual = values[self.name]
                break
        else:
            return False
        wanted = self.value
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool)
                      for v in (actual, wanted))
        if not numbers and type(actual) is not type(wanted):
            return False
        if isinstance(actual, bool) and self.operator not in ("=", "!="):
            return False
        if self.operator in ("=", "!="):
            equal = math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=1e-12) if numbers \
                else actual == wanted
            return equal if self.operator == "=" else not equal
        try:
            return {"<": actual < wanted, "<=": actual <= wanted,
                    ">": actual > wanted, ">=": actual >= wanted}[self.operator]
        except TypeError:
            return False


def filter_runs(runs: list[dict[str, Any]], *, script: str | None = None,
                status: str | None = None, tag: str | None = None,
                where: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Runs whose script file name (or path suffix) is `script`, with that status and tag,
    for which every `where` condition holds. Raises ValueError for a malformed condition."""
    conditions = [Condition(expression) for expression in where]

    def script_matches(path: str) -> bool:
        return (os.path.basename(path) == script or path == script
                or path.endswith(os.sep + script.lstrip(os.sep)))

    return [run for run in runs
            if (script is None or script_matches(run.get("script") or ""))
            and (status is None or run.get("status") == status)
            and (tag is None or tag in (run.get("tags") or ()))
            and all(condition.holds(run) for condition in conditions)]


_SPANS = {"min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def moment(text: str, *, end_of_day: bool = False) -> str:
    """An ISO time to compare start times with, from what a user types: an ISO date or
    time (a date alone with `end_of_day`: the last moment of that day), or a span back
    from now, `30min`, `12h`, `3d`, `2w`. Raises ValueError for anything else."""
    import re as regex
    from datetime import datetime, timedelta, timezone

    text = text.strip()
    span = regex.fullmatch(r"(\d+(?:\.\d+)?)\s*(min|h|d|w)", text)
    if span:
        then = datetime.now(timezone.utc) - timedelta(
            seconds=float(span.group(1)) * _SPANS[span.group(2)])
        return then.isoformat()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date, a time or a span like 3d: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # as the user meant it: in local time
    if end_of_day and "T" not in text and " " not in text:
        parsed += timedelta(days=1, microseconds=-1)
    return parsed.astimezone(timezone.utc).isoformat()


def _sort_value(run: dict[str, Any], field: str) -> Any:
    """A run's value for `--sort FIELD`: a record field, else a parameter, else a result."""
    if field in run and field not in ("params", "results"):
        return run[field]
    for section in ("params", "results"):
        values = run.get(section) or {}
        if field in values:
            return values[field]
    return None


class RunQuery:
    """What a listing asks of the store: which runs, in which order, how many.

    `search` (a Search) and the filters of `filter_runs` (`script`, `status`, `tag`,
    `where`); `since`/`until`: ISO bounds on the start time (see `moment`); `sort`: a
    field, a parameter or a result, `-name` for descending (runs without it last);
    `limit`/`offset`: the slice of the sorted list. `keep` is the truth every backend
    must agree with; backends answer it without reading every run where they can."""

    def __init__(self, *, search: Search | None = None, script: str | None = None,
                 status: str | None = None, tag: str | None = None,
                 where: Iterable[str] = (), since: str = "", until: str = "",
                 sort: str = "-start", limit: int | None = None, offset: int = 0) -> None:
        self.search = search
        self.script, self.status, self.tag = script, status, tag
        self.conditions = [Condition(expression) for expression in where]
        self.since, self.until = since, until
        self.descending = sort.startswith("-")
        self.sort_field = sort.lstrip("-") or "start"
        self.limit, self.offset = limit, offset

    def needles(self) -> list[str] | None:
        return self.search.needles() if self.search is not None else None

    def keep(self, run: dict[str, Any]) -> bool:
        start = run.get("start") or ""
        return ((self.search is None or self.search.matches(run))
                and start >= self.since and (not self.until or start <= self.until)
                and bool(filter_runs([run], script=self.script, status=self.status,
                                     tag=self.tag))
                and all(condition.holds(run) for condition in self.conditions))

    def ordered(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The runs in the asked order, then sliced by offset and limit."""
        present = [run for run in runs if _sort_value(run, self.sort_field) is not None]
        missing = [run for run in runs if _sort_value(run, self.sort_field) is None]

        def key(run: dict[str, Any]) -> tuple[int, Any]:
            value = _sort_value(run, self.sort_field)
            # Numbers before text, so that a mixed column still sorts.
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return (0, value)
            return (1, str(value))

        present.sort(key=key, reverse=self.descending)
        result = present + missing
        end = None if self.limit is None else self.offset + self.limit
        return result[self.offset:end]


def runs_of(store: Any, sweep: str | None = None) -> list[dict[str, Any]]:
    """Every run's summary, newest first; or with `sweep` (an id prefix), the runs of that
    sweep in its own order, the ones it served from earlier sweeps included."""
    if sweep is None:
        return store.summaries()
    order = {run["id"]: index for index, run in enumerate(store.sweep(sweep)["runs"])}
    found = [run for run in store.summaries() if run["id"] in order]
    found.sort(key=lambda run: order[run["id"]])
    return found


class RunFilter:
    """What the GUI's runs list (and any caller) may ask for: a search term with the
    semantics of `recipe search`, a script, a status, a tag, a start-date range
    (ISO dates or times, `until` inclusive of its whole day when only a date); and the
    order, by one of `SORTS` (then newest first)."""

    SORTS = ("start", "duration", "script", "status")

    def __init__(self, *, term: str = "", script: str = "", status: str = "", tag: str = "",
                 since: str = "", until: str = "", algorithms: Iterable[str] = (),
                 max_hash_bytes: int | None = None, sort: str = "start",
                 descending: bool = True) -> None:
        if sort not in self.SORTS:
            raise ValueError(f"sort must be one of {', '.join(self.SORTS)}")
        self.search = Search(term, algorithms=algorithms, max_hash_bytes=max_hash_bytes) \
            if term else None
        self.script, self.status, self.tag = script, status, tag
        self.since = since
        self.until = until + "T99" if until and "T" not in until else until
        self.sort, self.descending = sort, descending

    @property
    def newest_first(self) -> bool:
        return self.sort == "start" and self.descending

    def ordered(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows in the asked order (in place): missing values first, then numbers,
        then text (a column may hold all three), reversed when descending; ties newest
        first."""
        rows.sort(key=lambda row: row.get("start") or "", reverse=True)
        if not self.newest_first:
            rows.sort(key=lambda row: _list_key(row.get(self.sort)), reverse=self.descending)
        return rows

    @property
    def empty(self) -> bool:
        """Nothing asked but a start-date range (the list the catalog can page alone)."""
        return not (self.search or self.script or self.status or self.tag)

    def needles(self) -> list[str] | None:
        return self.search.needles() if self.search else None

    def keep(self, run: dict[str, Any]) -> bool:
        start = run.get("start") or ""
        return (start >= self.since and (not self.until or start <= self.until)
                and (self.search is None or self.search.matches(run)
                     or run["id"].startswith(self.search.term.lower()))
                and bool(filter_runs([run], script=self.script or None,
                                     status=self.status or None, tag=self.tag or None)))


def _list_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    return (1, value) if isinstance(value, (int, float)) else (2, str(value))


def related_runs(store: Any, run: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """For each content hash the run read or wrote, the other runs that read or wrote the
    same content, oldest first, each as {id, script, start, status, kind, path}: one hop
    of lineage up (who wrote what it read) and down (who read what it wrote)."""
    digests = {event["hash"] for event in events(run) if event.get("hash")}
    if not digests:
        return {}
    found: dict[str, list[dict[str, Any]]] = {digest: [] for digest in digests}
    for other in store.by_content().runs_touching(digests):
        if other["id"] == run["id"]:
            continue
        for kind in ("inputs", "outputs"):
            for event in other.get(kind) or ():
                if event.get("hash") in digests:
                    found[event["hash"]].append({
                        "id": other["id"], "script": other.get("script"),
                        "start": other.get("start"), "status": other.get("status"),
                        "kind": "read" if kind == "inputs" else "wrote",
                        "path": event.get("path")})
    for entries in found.values():
        entries.sort(key=lambda entry: entry.get("start") or "")
    return {digest: entries for digest, entries in found.items() if entries}


def file_history(store: Any, *, path: str = "", digest: str = "") -> list[dict[str, Any]]:
    """Every run that read or wrote the file at `path` (or any file with content `digest`),
    oldest first: {run: summary, kind: read/wrote, event, inputs: what that run read}."""
    runs = store.runs_with_path(path) if path else store.by_content().runs_touching({digest})
    history = []
    for run in runs:
        for kind in ("inputs", "outputs"):
            for event in run.get(kind) or ():
                if (path and event.get("path") == path) or (digest and
                                                            event.get("hash") == digest):
                    history.append({"run": run, "kind": "read" if kind == "inputs" else "wrote",
                                    "event": event, "inputs": run.get("inputs") or []})
    history.sort(key=lambda entry: entry["run"].get("start") or "")
    return history


def compare(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Side by side what the runs record: sections of rows {name, values (one per run,
    None where a run has none), differs}. Files are keyed by path, valued by hash."""
    def files(run: dict[str, Any], kind: str) -> dict[str, str]:
        return {event.get("path"): event.get("hash") for event in run.get(kind) or ()}

    def git(run: dict[str, Any]) -> dict[str, Any]:
        found = run.get("git") or {}
        return {"commit": found.get("commit"), "branch": found.get("branch"),
                "dirty": found.get("dirty"), "diff": found.get("diff")}

    sources = {
        "run": lambda r: {k: r.get(k) for k in ("script", "status", "start", "duration",
                                                "exit_code", "python", "hostname", "label")},
        "parameters": lambda r: r.get("params") or {},
        "results": lambda r: r.get("results") or {},
        "inputs": lambda r: files(r, "inputs"),
        "outputs": lambda r: files(r, "outputs"),
        "libraries": lambda r: r.get("libraries") or {},
        "git": git,
    }
    sections = []
    for title, source in sources.items():
        tables = [source(run) for run in runs]
        names = list(dict.fromkeys(name for table in tables for name in table))
        rows = []
        for name in names:
            values = [table.get(name) for table in tables]
            rows.append({"name": name, "values": values,
                         "differs": any(value != values[0] for value in values[1:])})
        sections.append({"title": title, "rows": rows})
    return sections


def code_difference(first: dict[str, Any], second: dict[str, Any]) -> str:
    """How the code of two runs differs: the script's content hash if it changed, the
    commits if they differ, then a unified diff of their recorded git diffs (uncommitted
    changes). Empty when nothing says the code differed."""
    import difflib

    git_a, git_b = first.get("git") or {}, second.get("git") or {}
    lines = []
    script_a, script_b = first.get("script_hash"), second.get("script_hash")
    if script_a and script_b and script_a != script_b:
        lines.append(f"script content {script_a[:12]} -> {script_b[:12]}")
    if git_a.get("commit") != git_b.get("commit"):
        lines.append(f"commit {git_a.get('commit') or '(none)'} -> "
                     f"{git_b.get('commit') or '(none)'}")
    diff_a = (git_a.get("diff") or "").splitlines(keepends=True)
    diff_b = (git_b.get("diff") or "").splitlines(keepends=True)
    lines.extend(line.rstrip("\n") for line in difflib.unified_diff(
        diff_a, diff_b, f"uncommitted changes of run {first['id'][:8]}",
        f"uncommitted changes of run {second['id'][:8]}"))
    return "\n".join(lines)
