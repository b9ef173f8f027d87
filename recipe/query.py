"""Finding runs: search by path, content hash or id prefix. Shared by the CLI and the GUI."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from typing import Any

from .hashing import hash_file

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
    used). Raises ValueError for an invalid regular expression.
    """

    def __init__(self, term: str, *, algorithms: Iterable[str] = (), regex: bool = False,
                 by_id: bool = False) -> None:
        self.term = term
        self.by_id = by_id
        self.pattern = None
        self.hashes: set[tuple[str, str]] = set()
        if regex:
            try:
                self.pattern = re.compile(term)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {term!r}: {exc}") from None
        elif not by_id and os.path.isfile(term):
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


class Condition:
    """One `--where` condition, `NAME OP VALUE` with OP one of = != < <= > >=; the value is
    typed like a `-p` value of unknown type (int, float, bool word, else string)."""

    def __init__(self, expression: str) -> None:
        from .params import coerce

        for operator in _OPERATORS:
            name, found, value = expression.partition(operator)
            if found and name.strip() and value.strip():
                self.name, self.operator = name.strip(), operator
                self.value = coerce(value.strip(), "any")
                return
        raise ValueError(f"--where wants NAME OP VALUE with OP one of = != < <= > >=, "
                         f"not {expression!r}")

    def holds(self, run: dict[str, Any]) -> bool:
        """False for a run without the parameter, or whose value cannot be compared."""
        params = run.get("params") or {}
        if self.name not in params:
            return False
        actual, wanted = params[self.name], self.value
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


def runs_of(store: Any, sweep: str | None = None) -> list[dict[str, Any]]:
    """Every run's summary, newest first; or with `sweep` (an id prefix), the runs of that
    sweep in its own order, the ones it served from earlier sweeps included."""
    if sweep is None:
        return store.summaries()
    order = {run["id"]: index for index, run in enumerate(store.sweep(sweep)["runs"])}
    found = [run for run in store.summaries() if run["id"] in order]
    found.sort(key=lambda run: order[run["id"]])
    return found
