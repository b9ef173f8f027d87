"""Finding runs: search by path, content hash or id prefix. Shared by the CLI and the GUI."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from .hashing import hash_file

_HEX = re.compile(r"[0-9a-fA-F]{8,}")


def events(run: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's logged files, inputs then outputs."""
    return [*(run.get("inputs") or ()), *(run.get("outputs") or ())]


def search(runs: list[dict[str, Any]], term: str, *, regex: bool = False,
           by_id: bool = False) -> list[dict[str, Any]]:
    """Runs (summaries or records, kept in their order) that match `term`: by id prefix
    (`by_id`), else those that logged a file `file_matcher` accepts."""
    if by_id:
        prefix = term.lower()
        return [run for run in runs if run["id"].startswith(prefix)]
    matches = file_matcher(term, runs, regex=regex)
    return [run for run in runs if any(matches(event) for event in events(run))]


def file_matcher(term: str, runs: list[dict[str, Any]], *,
                 regex: bool = False) -> Callable[[dict[str, Any]], bool]:
    """A test of logged file events against `term`:

    - `regex`: the path matches the regular expression (re.search);
    - otherwise the path contains `term`; and when `term` names an existing file, events
      with the same content (even under another name) match too; a term of 8+ hex digits
      also matches content hashes that start with it.
    `runs` tell which hash algorithms to hash an existing file with. Raises ValueError for
    an invalid regular expression.
    """
    if regex:
        try:
            pattern = re.compile(term)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {term!r}: {exc}") from None
        return lambda event: pattern.search(event.get("path") or "") is not None

    hashes = _hashes_of_file(term, runs)
    hex_prefix = term.lower() if _HEX.fullmatch(term) else None

    def matches(event: dict[str, Any]) -> bool:
        digest = event.get("hash") or ""
        return (term in (event.get("path") or "")
                or (event.get("hash_algorithm"), digest) in hashes
                or (hex_prefix is not None and digest.startswith(hex_prefix)))

    return matches


def _hashes_of_file(term: str, runs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(algorithm, digest) of the file `term` names, for each algorithm the runs used."""
    if not os.path.isfile(term):
        return set()
    algorithms = {event.get("hash_algorithm") for run in runs for event in events(run)}
    found = set()
    for algorithm in algorithms - {None}:
        try:
            found.add((algorithm, hash_file(term, algorithm)))
        except (OSError, KeyError):
            continue
    return found
