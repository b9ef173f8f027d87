"""The words of `recipe run`, read without click.

`recipe run SCRIPT` starts the user's script in this process, so whatever the command
line imports first is paid on every recorded run: click and what it imports (inspect,
typing, datetime, uuid) cost ~20 ms before the script's first line (docs/performance.md,
item 13). A plain `recipe run [-p NAME=VALUE] [--tag T] [--label L] SCRIPT [ARGS]` is
therefore read here and run at once; any other word before SCRIPT (`--help`, `--json`, a
notebook's options, a typo), a notebook, or a script or parameter recipe cannot run goes
to the click command, which runs it or explains the mistake. Both read the words after
SCRIPT with `take_after_script`, so the two ways cannot disagree.
"""

from __future__ import annotations

# Options of `recipe run` that take a value, by every spelling click accepts for them.
_VALUED = {"-p": "params", "--param": "params", "--tag": "tags", "--label": "label"}


class RunWords:
    """What the words of `recipe run` ask for."""

    def __init__(self, params: list[str] | None = None, tags: list[str] | None = None,
                 label: str | None = None, as_json: bool = False, output: str | None = None,
                 kernel: str | None = None) -> None:
        self.params = params or []
        self.tags = tags or []
        self.label = label
        self.as_json = as_json
        self.output = output
        self.kernel = kernel
        self.script_args: list[str] = []

    def _set(self, field: str, value: str) -> None:
        if field == "label":
            self.label = value
        else:
            getattr(self, field).append(value)

    def take_after_script(self, words: list[str], *, notebook: bool) -> None:
        """The words after SCRIPT: up to `--`, `-p NAME=VALUE` and bare NAME=VALUE words
        are parameters and recipe's own options are recipe's; anything else, and all
        after `--`, goes to the script (click stops parsing options at SCRIPT)."""
        if "--" in words:
            cut = words.index("--")
            words, rest = words[:cut], words[cut + 1:]
        else:
            rest = []
        remaining = iter(words)
        for word in remaining:
            if word in _VALUED:
                self._set(_VALUED[word], next(remaining, ""))
            elif word.startswith("--param="):
                self.params.append(word[len("--param="):])
            elif word == "--json":
                self.as_json = True
            elif word in ("-o", "--output") and notebook:
                self.output = next(remaining, "")
            elif word == "--kernel" and notebook:
                self.kernel = next(remaining, "")
            elif _is_assignment(word):
                self.params.append(word)
            else:
                self.script_args.append(word)
        self.script_args += rest

    def given(self) -> dict[str, str]:
        """{name: value as typed} of the parameters; ValueError for a malformed one."""
        given = {}
        for option in self.params:
            name, sep, value = option.partition("=")
            if not sep or not name.strip():
                raise ValueError(f"-p wants NAME=VALUE, not {option!r}")
            given[name.strip()] = value
        return given


def _is_assignment(word: str) -> bool:
    name, sep, _value = word.partition("=")
    return bool(sep) and name.isidentifier()


def _before_script(args: list[str]) -> tuple[RunWords, str, list[str]] | None:
    """(options, SCRIPT, the words after it) if only -p/--param, --tag and --label (in any
    spelling click accepts) come before SCRIPT; None for anything else."""
    words = RunWords()
    remaining = iter(enumerate(args))
    for index, word in remaining:
        if not word.startswith("-") or word == "-":
            return words, word, args[index + 1:]
        name, sep, value = word.partition("=")
        if word.startswith("-p") and not word.startswith("--") and len(word) > 2:
            words.params.append(word[2:])  # -pNAME=VALUE
        elif name in _VALUED and name.startswith("--") and sep:
            words._set(_VALUED[name], value)  # --param=NAME=VALUE
        elif word in _VALUED:
            following = next(remaining, None)
            if following is None:
                return None
            words._set(_VALUED[word], following[1])
        else:
            return None  # --help, --json, --, a notebook's option, a mistake: click's
    return None  # no SCRIPT


def run_plain_script(args: list[str]) -> int | None:
    """Run `recipe run ARGS` (ARGS: the words after `run`) without importing click and
    return the exit status, or None when the click command must read ARGS: then nothing
    has run yet."""
    import os

    found = _before_script(args)
    if found is None:
        return None
    words, script, after = found
    if script.endswith(".ipynb") or os.path.isdir(script):
        return None
    words.take_after_script(after, notebook=False)
    if words.as_json:
        return None
    try:
        given = words.given()
    except ValueError:
        return None
    from ..execute.runner import BadParameters, ScriptNotFound, run_script

    try:
        return run_script(script, words.script_args, given, tags=words.tags, label=words.label)
    except (ScriptNotFound, BadParameters):
        return None  # raised before anything ran: click says what is wrong

