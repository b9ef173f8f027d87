"""What goes into a run record, computed the same way wherever a record is made or shown:
timestamps, labels, default tags, results JSON can hold."""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def now() -> str:
    """The current time as ISO 8601 in UTC, e.g. 2026-11-22T04:05:06.123456+00:00.

    Built from `time` rather than `datetime`, which recording would otherwise import."""
    seconds = time.time()
    whole = int(seconds)
    return (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            + f".{int((seconds - whole) * 1e6):06d}+00:00")


def user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or ""


def label(params: dict[str, Any]) -> str:
    """`name=value` pairs sorted by name: floats by repr, bools yes/no, None left out."""
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return repr(value) if isinstance(value, float) else str(value)

    return " ".join(f"{name}={text(value)}" for name, value in sorted(params.items())
                    if value is not None)


def json_or_summary(value: Any) -> Any:
    """The value if JSON can hold it (a 0-d array as its scalar), else a short summary."""
    import json

    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    try:
        json.dumps(value, allow_nan=True)
        return value
    except (TypeError, ValueError):
        text = repr(value)
        return f"<{type(value).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}>"


def is_summary(value: Any) -> bool:
    """Whether a stored result is `json_or_summary`'s text for a value JSON cannot hold."""
    import re

    return isinstance(value, str) and re.fullmatch(r"<[\w.]+: .*>", value, re.S) is not None


def default_tags(script: str) -> list[str]:
    """`model` for a script whose file name contains "train", else `dataset` for "prepare"."""
    name = os.path.basename(script).lower()
    if "train" in name:
        return ["model"]
    if "prepare" in name:
        return ["dataset"]
    return []
