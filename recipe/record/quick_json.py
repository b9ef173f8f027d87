"""JSON through the standard library's C accelerator (`_json`), without importing `json`.

What the recorder writes and reads while a script runs (its journal, its computation
identity, its caches) is JSON made and read by the same C code `json.dumps` and
`json.loads` use; importing the `json` package costs a script 1.5 ms at start (its
decoder and encoder modules compile six regular expressions), and a script that imports
numpy never imports it otherwise. Where `_json` is missing (another interpreter) the
`json` package does the work. Same output as `json.dumps(value, ensure_ascii=False,
separators=(",", ":"), sort_keys=...)`, same values as `json.loads`; tests compare them.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class _Decoding:
    """What the C scanner reads off its context: json.JSONDecoder's defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__


try:
    from _json import encode_basestring, encode_basestring_ascii, make_encoder, make_scanner

    _scan = make_scanner(_Decoding())
except (ImportError, TypeError):  # no C accelerator: the json package does it all
    make_encoder = None


def dumps(value: Any, *, sort_keys: bool = False, ensure_ascii: bool = False) -> str:
    """`json.dumps(value, ensure_ascii=..., separators=(",", ":"), sort_keys=...)`."""
    if make_encoder is None:
        import json

        return json.dumps(value, ensure_ascii=ensure_ascii, separators=(",", ":"),
                          sort_keys=sort_keys)
    # As json.encoder.JSONEncoder.iterencode makes it (markers, default, string encoder,
    # indent, separators, sort_keys, skipkeys, allow_nan); one per call, as there: the
    # markers of circular references stay behind in it when an encoding fails.
    encoder = make_encoder({}, _not_serializable,
                           encode_basestring_ascii if ensure_ascii else encode_basestring,
                           None, ":", ",", sort_keys, False, True)
    return "".join(encoder(value, 0))


def loads(text: str) -> Any:
    """`json.loads(text)`. Blanks around the document (never what `dumps` wrote) and
    anything that is not JSON go to json.loads itself, for its exact errors."""
    if make_encoder is None or text[:1].isspace() or text[-1:].isspace():
        import json

        return json.loads(text)
    try:
        value, end = _scan(text, 0)
    except Exception:  # noqa: BLE001 - not JSON: the C scanner raises its JSONDecodeError
        end = -1       # only once json.decoder is imported (a SystemError before)
    if end != len(text):  # not one JSON document: json.loads raises its exact error
        import json

        return json.loads(text)
    return value
