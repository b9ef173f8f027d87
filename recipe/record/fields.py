"""What goes into a run record, computed the same way wherever a record is made or shown:
timestamps, labels, computation identities, default tags, results JSON can hold, and what
never goes in: secrets."""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


_second: tuple[int, str] = (-1, "")  # the last whole second now() formatted, and its text


def now() -> str:
    """The current time as ISO 8601 in UTC, e.g. 2026-11-22T04:05:06.123456+00:00.

    Built from `time` rather than `datetime`, which recording would otherwise import; the
    date and time of day are formatted once per second (every recorded open asks)."""
    global _second
    seconds = time.time()
    whole = int(seconds)
    second, text = _second  # one tuple: another thread may replace it meanwhile
    if second != whole:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _second = (whole, text)
    return f"{text}.{int((seconds - whole) * 1e6):06d}+00:00"


def user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return os.environ.get("USER") or os.environ.get("USERNAME") or ""


def printable(text: str) -> str:
    """`text` as a record can hold it: a file name that is not valid UTF-8 reaches Python
    with its bad bytes as lone surrogates (os.fsdecode's surrogateescape), which no UTF-8
    file, JSON reader or terminal accepts; each such byte becomes the four characters
    `\\xNN` (b"caf\\xe9.npy" is recorded as "caf\\xe9.npy"). Valid text is returned as is."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no bytes decode to: escape the code point
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def printable_json(value: Any) -> Any:
    """`value` with every string in it (dict keys too) `printable`: what the journal keeps
    when a record or event holds text no UTF-8 file takes (an argument, a command's argv
    or a removed file's name that is not UTF-8)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_json(key): printable_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable_json(item) for item in value]
    return value


def label(params: dict[str, Any]) -> str:
    """`name=value` pairs sorted by name: floats by repr, bools yes/no, None left out."""
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        return repr(value) if isinstance(value, float) else str(value)

    return " ".join(f"{name}={text(value)}" for name, value in sorted(params.items())
                    if value is not None)


def computation(source: bytes, values: dict[str, Any]) -> str:
    """The identity of a computation: the code's content and every resolved parameter,
    names included. Runs with the same identity computed the same thing (1 and 1.0, or 1
    and True, differ: JSON keeps them apart)."""
    import xxhash

    from .quick_json import dumps

    text = dumps(values, sort_keys=True, ensure_ascii=True)  # as json.dumps made it
    return xxhash.xxh3_128(source + b"\0" + text.encode()).hexdigest()


def json_or_summary(value: Any) -> Any:
    """The value if JSON can hold it (a 0-d array as its scalar), else a short summary."""
    from .quick_json import dumps

    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    try:
        dumps(value)
        return value
    except (TypeError, ValueError):
        text = repr(value)
        return f"<{type(value).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}>"


def is_summary(value: Any) -> bool:
    """Whether a stored result is `json_or_summary`'s text for a value JSON cannot hold."""
    import re

    return isinstance(value, str) and re.fullmatch(r"<[\w.]+: .*>", value, re.S) is not None


def words(name: str) -> list[str]:
    """The words of a name, split on `_`, `-`, `.`, spaces, case changes and between
    letters and digits: `prepareData2.py` -> prepare, Data, 2, py; `HTTPServer` -> HTTP,
    Server. (By hand: `re` is not always imported when a run starts.)"""
    found: list[str] = []
    word = ""
    for index, char in enumerate(name):
        if char in "_-. /\\":
            if word:
                found.append(word)
            word = ""
            continue
        if word:
            last = word[-1]
            following = name[index + 1:index + 2]
            if ((char.isupper() and (last.islower() or last.isdigit()
                                     or (last.isupper() and following.islower())))
                    or (char.isdigit() != last.isdigit() and char.isalnum() and last.isalnum())):
                found.append(word)
                word = ""
        word += char
    if word:
        found.append(word)
    return found


def default_tags(script: str) -> list[str]:
    """`model` when a word of the script's file name is train/training, else `dataset`
    when one is prepare/preprocess (`constrained.py` gets neither)."""
    found = {word.lower() for word in words(os.path.basename(script))}
    if found & {"train", "training"}:
        return ["model"]
    if found & {"prepare", "preprocess"}:
        return ["dataset"]
    return []


REDACTED = "***"
# A name is secret when one of its words is one of these (contract, section 7), or ends
# in one of the long ones that cannot end another word by chance (PGPASSWORD, GHTOKEN).
SECRET_WORDS = frozenset({"KEY", "APIKEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASS",
                          "PWD", "PAT", "DSN", "AUTH", "CREDENTIAL", "CREDENTIALS"})
_SECRET_ENDINGS = ("PASSWORD", "PASSWD", "TOKEN", "SECRET", "APIKEY")


_QUERY_MARKS = frozenset("?&;")  # what starts a URL's query argument (`value` below)


class Secrets:
    """What must not enter a record: values of secret-looking names (environment
    variables, command-line options, parameters, URL query arguments) and credentials in
    URLs. `words`: more words that make a name secret; `keep`: names that stay visible
    although a word of theirs looks secret (`[secrets]` in the configuration)."""

    def __init__(self, words: tuple[str, ...] = (), keep: tuple[str, ...] = ()) -> None:
        self.words = SECRET_WORDS | {word.upper() for word in words}
        self.keep = {name.upper() for name in keep}

    def is_secret(self, name: str) -> bool:
        if name.upper() in self.keep:
            return False
        return any(word in self.words or word.endswith(_SECRET_ENDINGS)
                   for word in (word.upper() for word in words(name)))

    def value(self, text: str) -> str:
        """`text` with the credentials of every URL in it replaced by ***: the user
        information (`user:password@`, a token as user name) and query arguments with
        secret names (`?private_token=...`)."""
        if "://" not in text or ("@" not in text and not _QUERY_MARKS.intersection(text)):
            # No URL, or none with user information or query arguments (the usual remote):
            # returned as it is, without compiling the three expressions below (0.3 ms, and
            # importing `re` in a script that did not).
            return text
        import re

        def url(match: re.Match[str]) -> str:
            found = match.group(0)
            found = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s]*@", rf"\1{REDACTED}@",
                           found)
            return re.sub(r"([?&;])([^=&#;\s]+)=([^&#;\s]*)",
                          lambda arg: f"{arg.group(1)}{arg.group(2)}={REDACTED}"
                          if self.is_secret(arg.group(2)) else arg.group(0), found)

        return re.sub(r"[a-zA-Z][a-zA-Z0-9+.-]*://\S+", url, text)

    def command(self, argv: list[str]) -> list[str]:
        """argv with the values of secret options redacted (`--password=x`, `--api-key x`,
        `db.password=x`) and credentials in URLs removed; the script path stays."""
        shown = list(argv[:1])
        hide_next = False
        for word in argv[1:]:
            if hide_next and not word.startswith("-"):
                shown.append(REDACTED)
                hide_next = False
                continue
            hide_next = False
            name, equals, _value = word.lstrip("-").partition("=")
            if word.startswith("-") and word != "--" and self.is_secret(name):
                if equals:
                    word = word[:word.index("=") + 1] + REDACTED
                else:
                    hide_next = True
            elif equals and name and name.replace(".", "_").replace("-", "_").isidentifier() \
                    and self.is_secret(name):
                word = f"{name}={REDACTED}"
            shown.append(self.value(word))
        return shown

    def param(self, name: str, value: Any) -> Any:
        """A parameter's value as recorded: *** for a secret name, URLs without credentials."""
        if value is None:
            return None
        if self.is_secret(name):
            return REDACTED
        return self.value(value) if isinstance(value, str) else value
