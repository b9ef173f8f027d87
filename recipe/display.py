"""How times and durations read, the same in the command line and the web viewer."""

from __future__ import annotations

from datetime import datetime, timezone


def ago(timestamp: str | None) -> str:
    """An ISO time as "3 h ago" (the text itself if it is not one; "-" if none)."""
    if not timestamp:
        return "-"
    try:
        then = datetime.fromisoformat(timestamp)
    except ValueError:
        return timestamp
    seconds = (datetime.now(timezone.utc) - then).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def duration(seconds: float | None, *, fine: bool = False) -> str:
    """Seconds as "4.2 s" ("0.24 s" when `fine` and short), "3:05" or "1:02:03"."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.2f} s" if fine and seconds < 10 else f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
