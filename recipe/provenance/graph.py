"""Lineage across runs: where a file came from, what depends on it, and whether it is stale.

A file version is a path with a content hash. Runs connect them: a run read some versions
and wrote others. Going up from a file: the runs that wrote its content, the versions they
read, the runs that wrote those, and so on; going down: the runs that read it, what they
wrote, who read that. Files are matched by content hash first (a renamed or copied file is
still found), by path where the content is unknown. An input is only explained by a run
that started before the run that read it, and an output only feeds runs that started after.

One index over every run's summary (a few hundred bytes each) answers the whole walk in
memory: the store is read once, however deep the chain.
"""

from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from ..capture.notebook import code_hash
from ..record.hashing import FileHasher
from ..store.base import without_garbage_collection

UP, DOWN = "up", "down"


class Graph:
    """Which runs read and wrote which content, indexed both ways.

    Made from runs given (`Graph(runs)`, `from_store`: every run), or around a store
    (`around`): then it learns the runs it needs as a walk asks for content, so a lineage
    50 runs deep in 100,000 opens a few shards, not all of them."""

    def __init__(self, runs: list[dict[str, Any]] = (), *, store: Any = None) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self._by: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
        self._store = store
        self._lookup = store.by_content() if store is not None else None
        self._asked: set[str] = set()
        self._learn(list(runs))

    @classmethod
    def from_store(cls, store: Any) -> Graph:
        return cls(store.summaries())

    @classmethod
    def around(cls, store: Any) -> Graph:
        return cls(store=store)

    def _learn(self, runs: list[dict[str, Any]]) -> None:
        new = [run for run in runs if run["id"] not in self.runs]
        for run in new:
            self.runs[run["id"]] = run
        with without_garbage_collection():  # many new references, all kept
            for (kind, key), index in self._by.items():
                self._add(index, new, kind, key)

    @staticmethod
    def _add(index: dict[str, list[dict[str, Any]]], runs: Any, kind: str, key: str) -> None:
        for run in runs:
            for event in run.get(kind) or ():
                value = event.get(key)
                if value:
                    index[value].append(run)

    def _index(self, kind: str, key: str) -> dict[str, list[dict[str, Any]]]:
        """Runs by the hash (or path) of their inputs (or outputs), built when first
        asked for and kept up to date as runs are learnt."""
        index = self._by.get((kind, key))
        if index is None:
            index = self._by[kind, key] = defaultdict(list)
            with without_garbage_collection():
                self._add(index, self.runs.values(), kind, key)
        return index

    def _ensure(self, version: dict[str, Any]) -> None:
        """Around a store: learn the runs that read or wrote this content (or, where the
        content is unknown, this path) before they are looked up."""
        if self._store is None:
            return
        digest = version.get("hash")
        if digest and digest not in self._asked:
            self._asked.add(digest)
            self._learn(self._lookup.runs_touching({digest}))
        elif not digest and version.get("path"):
            self._search(version["path"])

    def _search(self, path: str) -> None:
        """Around a store: learn the runs that read or wrote `path`."""
        if self._store is not None and path not in self._asked:
            self._asked.add(path)
            self._learn(self._store.runs_with_path(path))

    def algorithms(self) -> set[str]:
        if self._store is not None:
            return self._store.hash_algorithms()
        return {event.get("hash_algorithm") for run in self.runs.values()
                for kind in ("inputs", "outputs") for event in run.get(kind) or ()
                if event.get("hash_algorithm")}

    def runs_with(self, kind: str, version: dict[str, Any]) -> list[dict[str, Any]]:
        """Runs whose `kind` ("inputs"/"outputs") include this content (or path, where the
        content is unknown), oldest first."""
        self._ensure(version)
        key = "hash" if version.get("hash") else "path"
        found = {run["id"]: run for run in self._index(kind, key).get(version.get(key), ())}
        return sorted(found.values(), key=lambda run: run.get("start") or "")

    def versions_of(self, path: str) -> list[dict[str, Any]]:
        """Every recorded version of `path`, newest first, as {path, hash, hash_algorithm}."""
        self._search(path)
        seen: dict[str, dict[str, Any]] = {}
        for kind in ("outputs", "inputs"):
            for run in self._index(kind, "path").get(path, ()):
                for event in run.get(kind) or ():
                    if event.get("path") == path and event.get("hash"):
                        known = seen.get(event["hash"])
                        when = run.get("start") or ""
                        if known is None or when > known["when"]:
                            seen[event["hash"]] = {"path": path, "hash": event["hash"],
                                                   "hash_algorithm": event.get("hash_algorithm"),
                                                   "when": when}
        return sorted(seen.values(), key=lambda version: version["when"], reverse=True)

    def start(self, term: str) -> dict[str, Any]:
        """The file version a lineage starts from: an existing file (hashed now), a path
        (its newest recorded version), or a hash or hash prefix of 8+ hex digits.
        ValueError when nothing recorded matches."""
        path = os.path.abspath(term)
        if os.path.isfile(path):
            for algorithm in sorted(self.algorithms()) or ["xxh3_128"]:
                try:
                    digest, _size = FileHasher(algorithm).hash(path)
                except (OSError, KeyError):
                    continue
                version = {"path": path, "hash": digest, "hash_algorithm": algorithm}
                if self.runs_with("outputs", version) or self.runs_with("inputs", version):
                    return version
        versions = self.versions_of(path)
        if versions:
            return versions[0]
        if self._index("outputs", "path").get(path) or self._index("inputs", "path").get(path):
            return {"path": path, "hash": None}  # recorded without its content: by path
        if len(term) >= 8 and all(c in "0123456789abcdefABCDEF" for c in term):
            prefix = term.lower()
            if self._store is not None:  # the runs whose summary holds the hash prefix
                self._learn(self._store.summaries([prefix]))
            digests = {digest for kind in ("inputs", "outputs")
                       for digest in self._index(kind, "hash") if digest.startswith(prefix)}
            if len(digests) == 1:
                digest = digests.pop()
                paths = [event["path"] for kind in ("outputs", "inputs")
                         for run in self._index(kind, "hash")[digest]
                         for event in run.get(kind) or () if event.get("hash") == digest]
                return {"path": paths[0] if paths else None, "hash": digest}
            if digests:
                raise ValueError(f"hash prefix {term} is ambiguous ({len(digests)} contents)")
        raise ValueError(f"no recorded run read or wrote {term!r}")

    def walk(self, version: dict[str, Any], direction: str, depth: int | None = None
             ) -> dict[str, Any]:
        """The lineage tree from `version`: {path, hash, runs: [{id, script, start, status,
        relation, files: [...]}]}. A run met twice is listed again with `seen: true` and
        not expanded; `depth` counts runs from the start, and a file where it cut the
        walk short has `more: true`. Each run is expanded where it is nearest the start,
        so a depth limit never hides a run within it."""
        kind = "outputs" if direction == UP else "inputs"

        def neighbours(file: dict[str, Any], reader_start: str | None
                       ) -> list[dict[str, Any]]:
            """The runs that wrote (up) or read (down) the file, on the right side of the
            time of the run it was reached from."""
            found = []
            for run in self.runs_with(kind, file):
                start = run.get("start") or ""
                if reader_start is None or (start < reader_start if direction == UP
                                            else start > reader_start):
                    found.append(run)
            return found

        def files_of(run: dict[str, Any]) -> list[dict[str, Any]]:
            return list(run.get("inputs" if direction == UP else "outputs") or ())

        nearest: dict[str, int] = {}  # run id: fewest runs from the start (breadth first)
        frontier = [(version, None)]
        level = 0
        while frontier and (depth is None or level < depth):
            level += 1
            following = []
            for file, reader_start in frontier:
                for run in neighbours(file, reader_start):
                    if run["id"] not in nearest:
                        nearest[run["id"]] = level
                        following.extend((child, run.get("start") or "")
                                         for child in files_of(run))
            frontier = following

        expanded: set[str] = set()

        def file_node(file: dict[str, Any], reader_start: str | None, level: int
                      ) -> dict[str, Any]:
            node: dict[str, Any] = {"path": file.get("path"), "hash": file.get("hash"),
                                    "runs": []}
            found = neighbours(file, reader_start)
            if depth is not None and level >= depth:
                if found:
                    node["more"] = True
                return node
            node["runs"] = [run_node(run, level + 1) for run in found]
            return node

        def run_node(run: dict[str, Any], level: int) -> dict[str, Any]:
            node = {"id": run["id"], "script": run.get("script"), "start": run.get("start"),
                    "status": run.get("status"),
                    "relation": "wrote" if direction == UP else "read", "files": []}
            if run["id"] in expanded or nearest.get(run["id"], level) < level:
                node["seen"] = True
                return node
            expanded.add(run["id"])
            node["files"] = [file_node(child, run.get("start") or "", level)
                             for child in files_of(run)]
            return node

        return file_node(version, None, 0)


def lineage(store: Any, term: str, direction: str = UP, depth: int | None = None
            ) -> dict[str, Any]:
    """`recipe lineage`'s tree for a path, file or hash (ValueError if nothing matches)."""
    graph = Graph.around(store)
    return graph.walk(graph.start(term), direction, depth)


def to_text(tree: dict[str, Any], direction: str) -> list[str]:
    """An indented tree: files with their hash, runs with id, script, time and status."""
    lines: list[str] = []

    def label(file: dict[str, Any]) -> str:
        digest = (file.get("hash") or "")[:12]
        return f"{file.get('path') or '(unknown path)'}" + (f"  [{digest}]" if digest else "")

    def file_lines(file: dict[str, Any], prefix: str) -> None:
        for index, run in enumerate(file["runs"]):
            last = index == len(file["runs"]) - 1
            branch, below = ("└─ ", "   ") if last else ("├─ ", "│  ")
            when = (run.get("start") or "")[:19].replace("T", " ")
            verb = "written by" if direction == UP else "read by"
            lines.append(f"{prefix}{branch}{verb} {run['id'][:8]}  "
                         f"{os.path.basename(run.get('script') or '')}  {when}  "
                         f"{run.get('status')}" + ("  (shown above)" if run.get("seen") else ""))
            for position, child in enumerate(run["files"]):
                child_last = position == len(run["files"]) - 1
                twig, deeper = ("└─ ", "   ") if child_last else ("├─ ", "│  ")
                verb = "read" if direction == UP else "wrote"
                lines.append(f"{prefix}{below}{twig}{verb} {label(child)}"
                             + ("  (more beyond --depth)" if child.get("more") else ""))
                file_lines(child, prefix + below + deeper)

    lines.append(label(tree))
    file_lines(tree, "")
    if not tree["runs"]:
        lines.append("  (no recorded run " + ("wrote this content)" if direction == UP
                                             else "read this content)"))
    return lines


def to_dot(tree: dict[str, Any], direction: str) -> str:
    """Graphviz: files as notes, runs as boxes, arrows in the direction data flowed."""
    nodes: dict[str, str] = {}
    edges: set[tuple[str, str]] = set()

    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    def file_id(file: dict[str, Any]) -> str:
        key = f"file:{file.get('hash') or file.get('path')}"
        nodes.setdefault(key, f"{quote(key)} [shape=note, label="
                              f"{quote(os.path.basename(file.get('path') or '?'))}];")
        return key

    def run_id(run: dict[str, Any]) -> str:
        key = f"run:{run['id']}"
        name = f"{os.path.basename(run.get('script') or '')} {run['id'][:8]}"
        nodes.setdefault(key, f"{quote(key)} [shape=box, label={quote(name)}];")
        return key

    def visit(file: dict[str, Any]) -> None:
        this = file_id(file)
        for run in file["runs"]:
            that = run_id(run)
            edges.add((that, this) if direction == UP else (this, that))
            for child in run["files"]:
                other = file_id(child)
                edges.add((other, that) if direction == UP else (that, other))
                visit(child)

    visit(tree)
    body = [f"  {line}" for line in nodes.values()]
    body += [f"  {quote(a)} -> {quote(b)};" for a, b in sorted(edges)]
    return "digraph lineage {\n  rankdir=LR;\n" + "\n".join(body) + "\n}\n"


class Checker:
    """Is a file still what its run wrote, and is that run's work still current?"""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.hashers: dict[str, FileHasher] = {}
        self._verdicts: dict[str, str | None] = {}

    def now(self, path: str, algorithm: str | None) -> str | None:
        """The content hash of `path` on disk now, None if it is gone, "" if this recipe
        cannot compute that algorithm (a store written by another version)."""
        algorithm = algorithm or "xxh3_128"
        try:
            hasher = self.hashers.get(algorithm) or FileHasher(algorithm)
            self.hashers[algorithm] = hasher
            return hasher.hash(path)[0]
        except OSError:
            return None
        except (KeyError, ValueError):
            return ""

    def script_now(self, script: str, algorithm: str | None) -> str | None:
        """As `now`, for a run's script; a notebook's hash is that of its code cells, as
        the recorder takes it, so running it (new outputs) changes nothing."""
        if not script.endswith(".ipynb"):
            return self.now(script, algorithm)
        try:
            return code_hash(script, algorithm or "xxh3_128")
        except OSError:
            return None
        except KeyError:
            return ""
        except ValueError:
            return "not a notebook any more"  # no hash: it changed

    def stale(self, run: dict[str, Any], trail: frozenset[str] = frozenset()) -> str | None:
        """Why the run's outputs are out of date, or None: an input that changed or went
        away, an input made by a run that is itself stale, or a changed script."""
        if run["id"] in self._verdicts:
            return self._verdicts[run["id"]]
        if run["id"] in trail:  # a cycle: judged where it started
            return None
        reason = None
        script, recorded = run.get("script") or "", run.get("script_hash")
        if recorded and os.path.isabs(script):
            current = self.script_now(script, run.get("script_hash_algorithm"))
            if current != recorded and current != "":
                reason = f"its script {os.path.basename(script)} " + \
                         ("is gone" if current is None else "changed") + \
                         f" since run {run['id'][:8]}"
        for event in run.get("inputs") or ():
            if reason:
                break
            path = event.get("path") or ""
            current = self.now(path, event.get("hash_algorithm"))
            if current is None:
                reason = f"its input {shown(path)} is gone"
            elif event.get("hash") and current not in (event["hash"], ""):
                reason = f"its input {shown(path)} changed since run {run['id'][:8]} read it"
            else:
                start = run.get("start") or ""
                makers = [maker for maker in self.graph.runs_with("outputs", event)
                          if (maker.get("start") or "") < start]
                if makers:
                    upstream = self.stale(makers[-1], trail | {run["id"]})
                    if upstream:
                        reason = f"its input {shown(path)} comes from run " \
                                 f"{makers[-1]['id'][:8]}, whose " \
                                 f"{upstream.removeprefix('its ')}"
        self._verdicts[run["id"]] = reason
        return reason

    def check(self, path: str) -> dict[str, Any]:
        """{path, state: ok/modified/missing/stale/unknown, reason, run} for one file: the
        newest run that wrote this path decides, else (a renamed or copied file) the newest
        that wrote its content."""
        writers = self.graph.runs_with("outputs", {"path": path})
        key = "path"
        if not writers:
            for algorithm in sorted(self.graph.algorithms()):
                digest = self.now(path, algorithm)
                if digest:
                    writers = self.graph.runs_with("outputs", {"hash": digest})
                    if writers:
                        key, path_or_hash = "hash", digest
                        break
        if not writers:
            return {"path": path, "state": "unknown", "run": None,
                    "reason": "no recorded run wrote this file"}
        run = writers[-1]
        wanted = path if key == "path" else path_or_hash
        event = next(e for e in reversed(run.get("outputs") or ()) if e.get(key) == wanted)
        current = self.now(path, event.get("hash_algorithm"))
        base = {"path": path, "run": run["id"]}
        if current == "":
            return {**base, "state": "unknown", "reason": "hashed with "
                    f"{event.get('hash_algorithm')}, which this recipe cannot compute"}
        if current is None:
            return {**base, "state": "missing",
                    "reason": f"gone since run {run['id'][:8]} wrote it"}
        if event.get("hash") and current != event["hash"]:
            return {**base, "state": "modified",
                    "reason": f"changed on disk since run {run['id'][:8]} wrote it"}
        reason = self.stale(run)
        if reason:
            return {**base, "state": "stale", "reason": reason}
        written = "" if key == "path" else f" as {shown(event.get('path') or '')}"
        return {**base, "state": "ok",
                "reason": f"as run {run['id'][:8]} ({os.path.basename(run.get('script') or '')})"
                          f" wrote it{written}"}


def shown(path: str) -> str:
    """A path as the user would type it here: relative under the working directory."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def latest_outputs(graph: Graph, directory: str) -> list[str]:
    """Every output of the newest run of each script under `directory`, in the order the
    runs started (a pipeline reads top to bottom)."""
    newest: dict[str, dict[str, Any]] = {}
    prefix = os.path.join(os.path.abspath(directory), "")
    for run in graph.runs.values():
        script = run.get("script") or ""
        if script.startswith(prefix) and (script not in newest or (run.get("start") or "")
                                          > (newest[script].get("start") or "")):
            newest[script] = run
    in_order = sorted(newest.values(), key=lambda run: run.get("start") or "")  # pipeline order
    return list(dict.fromkeys(event["path"] for run in in_order
                              for event in run.get("outputs") or () if event.get("path")))
