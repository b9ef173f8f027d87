"""Finding runs: search by path, content hash or id prefix. Shared by the CLI and the GUI."""

from __future__ import annotations

import os
import re
from typing import Any

from .hashing import hash_file

_HEX = re.compile(r"[0-9a-fA-F]{8,}")


def _events(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [*(run.get("inputs") or ()), *(run.get("outputs") or ())]


def search(runs: list[dict[str, Any]], term: str, *, regex: bool = False,
           by_id: bool = False) -> list[dict[str, Any]]:
    """Runs (summaries or records, kept in their order) that match `term`.

    - `by_id`: the run id starts with `term`;
    - `regex`: a logged path matches the regular expression (re.search);
    - otherwise a logged path contains `term`; and when `term` names an existing file,
      runs that logged a file with the same content (even under another name) match too;
      a term of 8+ hex digits also matches content hashes that start with it.
    Raises ValueError for an invalid regular expression.
    """
    if by_id:
        prefix = term.lower()
        return [run for run in runs if run["id"].startswith(prefix)]
    if regex:
        try:
            pattern = re.compile(term)
        except re.error as exc:
            raise ValueError(f"invalid regular expression {term!r}: {exc}") from None
        return [run for run in runs
                if any(pattern.search(event.get("path") or "") for event in _events(run))]

    hashes = _hashes_of_file(term, runs)
    hex_prefix = term.lower() if _HEX.fullmatch(term) else None

    def matches(event: dict[str, Any]) -> bool:
        digest = event.get("hash") or ""
        return (term in (event.get("path") or "")
                or (event.get("hash_algorithm"), digest) in hashes
                or (hex_prefix is not None and digest.startswith(hex_prefix)))

    return [run for run in runs if any(matches(event) for event in _events(run))]


def _hashes_of_file(term: str, runs: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(algorithm, digest) of the file `term` names, for each algorithm the runs used."""
    if not os.path.isfile(term):
        return set()
    algorithms = {event.get("hash_algorithm") for run in runs for event in _events(run)}
    found = set()
    for algorithm in algorithms - {None}:
        try:
            found.add((algorithm, hash_file(term, algorithm)))
        except (OSError, KeyError):
            continue
    return found
