"""What `recipe.run` and `recipe.sweep` hand back: one Outcome per run, keyed by its
parameters, in a Results object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EXECUTED, CACHED, FAILED = "executed", "cached", "failed"


class Outcome:
    """One run of a sweep (or of `recipe.run`): its parameters and what came of it."""

    def __init__(self, key: dict[str, Any], outputs: dict[str, Any] | None,
                 error: str | None, *, run_id: str | None = None, state: str = EXECUTED
                 ) -> None:
        self.key = key  # the parameters the caller looks it up by
        self.outputs = outputs  # None when the run failed
        self.error = error  # "Type: message" of a failed run
        self.run_id = run_id
        self.state = FAILED if error else state


class Results:
    """Outcomes keyed by the parameters given: `res[{"lr": 0.1}]["score"]`."""

    def __init__(self, sweep_id: str | None = None) -> None:
        self.sweep_id = sweep_id
        self.outcomes: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def __getitem__(self, key: dict[str, Any]) -> dict[str, Any]:
        """The outputs of the run whose parameters are `key` (extra keys are ignored).
        Values of the same type match first: 1, 1.0 and True may be three runs."""
        def matches(outcome: Outcome, same: Callable[[Any, Any], bool]) -> bool:
            return all(name in key and same(key[name], value)
                       for name, value in outcome.key.items())

        for same in (lambda a, b: type(a) is type(b) and a == b, lambda a, b: a == b):
            for outcome in self.outcomes:
                if matches(outcome, same):
                    if outcome.outputs is None:
                        raise KeyError(f"the run with {outcome.key} failed: {outcome.error}")
                    return outcome.outputs
        raise KeyError(f"no run with {key}")

    def __len__(self) -> int:
        return len(self.outcomes)

    def __iter__(self):
        return iter(self.outcomes)

    def _count(self, state: str) -> int:
        return sum(outcome.state == state for outcome in self.outcomes)

    @property
    def executed(self) -> int:
        """Runs that ran and completed."""
        return self._count(EXECUTED)

    @property
    def cached(self) -> int:
        """Runs served from the store: the same computation had completed before."""
        return self._count(CACHED)

    @property
    def failed(self) -> int:
        return self._count(FAILED)

    @property
    def errors(self) -> list[tuple[dict[str, Any], str]]:
        """(parameters, "Type: message") of every failed run."""
        return [(outcome.key, outcome.error) for outcome in self.outcomes if outcome.error]

    def rows(self, *, scalars_only: bool = False) -> list[dict[str, Any]]:
        """One dict per completed run: its parameters, then its outputs (with
        `scalars_only`, those one table cell can hold)."""
        return [{**outcome.key, **{name: scalar(value) for name, value in outcome.outputs.items()
                                   if is_scalar(value) or not scalars_only}}
                for outcome in self.outcomes if outcome.outputs is not None]

    def to_dataframe(self) -> Any:
        """One row per completed run: parameter columns, then output columns (any value,
        an array or a figure as much as a number)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def __repr__(self) -> str:
        return (f"<Results: {len(self)} run(s), {self.executed} executed, "
                f"{self.cached} cached, {self.failed} failed>")


def is_scalar(value: Any) -> bool:
    """A value one table cell can hold: a JSON scalar, or a 0-d array (numpy scalars)."""
    return (isinstance(value, (bool, int, float, str)) or value is None
            or (getattr(value, "ndim", None) == 0 and hasattr(value, "item")))


def scalar(value: Any) -> Any:
    """A 0-d array as the Python scalar it holds; anything else as it is."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", None) == 0 \
        else value
