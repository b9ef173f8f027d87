"""A script's parameters and outputs, read from its source (never by running it).

One mechanism for `recipe inspect`, and later `recipe run -p` and sweeps:

1. `recipe.Param(default, name=...)` calls, when the script has any: only those are
   parameters; `recipe.Output(value, name=...)` calls are its outputs.
2. Otherwise module-level assignments of literal scalars at column 0 (`layers = 32`): the
   first assignment gives the default; names starting with `_` are skipped.
3. Otherwise the options of an `argparse` parser (`add_argument("--lr", type=float, ...)`).
"""

from __future__ import annotations

import ast

TYPE_CHECKING = False  # typing and dataclasses cost 10 ms: a plain run's worker imports this
if TYPE_CHECKING:
    from typing import Any

SCALARS = (bool, int, float, str, type(None))
REQUIRED = object()  # the default of a parameter that has none


class DiscoveryError(ValueError):
    """The script's parameters cannot be read; the message says where and why."""


class _Record:
    """A small value object: fields given in `__slots__`, compared and shown by value."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self.__slots__))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Parameter(_Record):
    """One parameter: `default` is REQUIRED when it has none; `type` is "bool", "int",
    "float", "str" or "any" (a None default says nothing); `source` is "Param", "global",
    "argparse" or "function"; argparse's option string in `flag` (a positional's name has
    no dash) and "store_true"/"store_false" in `action`."""

    __slots__ = ("name", "default", "type", "line", "source", "flag", "action")

    def __init__(self, name: str, default: Any, type: str, line: int, source: str,  # noqa: A002
                 flag: str = "", action: str | None = None) -> None:
        self.name, self.default, self.type, self.line = name, default, type, line
        self.source, self.flag, self.action = source, flag, action

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "default": None if self.required else self.default,
                "required": self.required, "type": self.type, "line": self.line,
                "source": self.source}


class Outputs(_Record):
    __slots__ = ("name", "line")

    def __init__(self, name: str, line: int) -> None:
        self.name, self.line = name, line


class Discovery(_Record):
    __slots__ = ("parameters", "outputs")

    def __init__(self, parameters: list[Parameter], outputs: list[Outputs]) -> None:
        self.parameters, self.outputs = parameters, outputs


def type_name(value: Any) -> str:
    if value is REQUIRED or value is None:
        return "any"
    return type(value).__name__


def discover(path: str) -> Discovery:
    """Parameters and outputs of the script at `path`, in source order."""
    try:
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), filename=path)
    except SyntaxError as exc:
        raise DiscoveryError(f"{path}:{exc.lineno}: cannot parse the script: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DiscoveryError(f"cannot read {path}: {exc}") from None
    return discover_in(tree, path)


def discover_in(tree: ast.Module, path: str) -> Discovery:
    """Parameters and outputs of a script already parsed (`path` only for messages)."""
    params, outputs = _annotations(tree, path)
    # Without recipe.Param calls (recipe.Output calls alone do not count), the parameters
    # are the module-level literals, else the argparse options.
    result = Discovery(params or module_literals(tree) or _argparse(tree, path), outputs)
    _check_unique(result, path)
    return result


def _call_name(node: ast.Call) -> str | None:
    """"Param" for `recipe.Param(...)` or `Param(...)`; likewise "Output"."""
    function = node.func
    if isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name) \
            and function.value.id == "recipe":
        return function.attr
    if isinstance(function, ast.Name):
        return function.id
    return None


def _literal(node: ast.AST, path: str, what: str) -> Any:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise DiscoveryError(f"{path}:{node.lineno}: the default of {what} must be a literal "
                             f"(bool, int, float, str or None)") from None
    if not isinstance(value, SCALARS):
        raise DiscoveryError(f"{path}:{node.lineno}: the default of {what} must be a bool, "
                             f"int, float, str or None, not {type(value).__name__}")
    return value


def _keyword(node: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in node.keywords if k.arg == name), None)


def _annotations(tree: ast.AST, path: str) -> tuple[list[Parameter], list[Outputs]]:
    params, outputs = [], []
    calls = sorted((node for node in ast.walk(tree) if isinstance(node, ast.Call)
                    and _call_name(node) in ("Param", "Output")),
                   key=lambda node: (node.lineno, node.col_offset))
    for node in calls:
        kind = _call_name(node)
        name_node = _keyword(node, "name")
        if name_node is None or not (isinstance(name_node, ast.Constant)
                                     and isinstance(name_node.value, str)):
            raise DiscoveryError(f"{path}:{node.lineno}: recipe.{kind}(...) needs name= "
                                 "with a literal string")
        name = name_node.value
        if kind == "Output":
            outputs.append(Outputs(name, node.lineno))
            continue
        default_node = node.args[0] if node.args else _keyword(node, "default")
        default = REQUIRED if default_node is None else \
            _literal(default_node, path, f"parameter {name!r}")
        params.append(Parameter(name, default, type_name(default), node.lineno, "Param"))
    return params, outputs


def module_literals(tree: ast.Module) -> list[Parameter]:
    """Module-level `name = literal scalar` (or `name: T = ...`), first assignment wins."""
    found: dict[str, Parameter] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if not isinstance(target, ast.Name) or target.id.startswith("_") \
                or target.id in found or node.col_offset != 0:
            continue
        try:
            default = ast.literal_eval(value)
        except ValueError:
            continue
        if isinstance(default, SCALARS):
            found[target.id] = Parameter(target.id, default, type_name(default), node.lineno,
                                         "global")
    return list(found.values())


_ARGPARSE_TYPES = {"int": int, "float": float, "str": str}


def _argparse(tree: ast.AST, path: str) -> list[Parameter]:
    """Options of `parser.add_argument("--name", ...)` calls; positionals are required."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument" and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            continue
        flags = [a.value for a in node.args if isinstance(a, ast.Constant)
                 and isinstance(a.value, str)]
        long = next((f for f in flags if f.startswith("--")), flags[0])
        dest_node = _keyword(node, "dest")
        name = dest_node.value if isinstance(dest_node, ast.Constant) else \
            long.lstrip("-").replace("-", "_")
        action = _keyword(node, "action")
        action = action.value if isinstance(action, ast.Constant) else None
        default_node = _keyword(node, "default")
        type_node = _keyword(node, "type")
        kind = type_node.id if isinstance(type_node, ast.Name) else None
        if action in ("store_true", "store_false"):
            default = action == "store_false" if default_node is None else \
                _literal(default_node, path, f"option {long}")
            kind = "bool"
        elif default_node is not None:
            default = _literal(default_node, path, f"option {long}")
            kind = kind or type_name(default)
        elif not long.startswith("-") or _is_true(_keyword(node, "required")):
            default = REQUIRED
        else:
            default = None
        found.append(Parameter(name, default, kind if kind in (*_ARGPARSE_TYPES, "bool")
                               else type_name(default), node.lineno, "argparse", long, action))
    return sorted(found, key=lambda p: p.line)


def _is_true(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _check_unique(discovery: Discovery, path: str) -> None:
    seen: dict[str, int] = {}
    for item in [*discovery.parameters, *discovery.outputs]:
        if item.name in seen:
            raise DiscoveryError(f"{path}:{item.line}: {item.name!r} is declared twice "
                                 f"(first on line {seen[item.name]})")
        seen[item.name] = item.line


_TRUE_WORDS = {"true", "yes", "1", "on"}
_FALSE_WORDS = {"false", "no", "0", "off"}


def coerce(text: str, kind: str) -> Any:
    """A `-p` value as the parameter's type: bool words (true/false/yes/no/1/0/on/off);
    an int parameter given "2.5" keeps 2.5; strings verbatim; for type "any", the first of
    int, float, bool word that fits, else the string. ValueError when it fits no type."""
    word = text.strip().lower()
    if kind == "bool":
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
        raise ValueError(f"{text!r} is not a boolean (true/false, yes/no, 1/0, on/off)")
    if kind == "str":
        return text
    if kind in ("int", "float", "any"):
        try:
            return int(text) if kind != "float" else float(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            pass
        if kind == "any":
            if word in _TRUE_WORDS - {"1"} or word in _FALSE_WORDS - {"0"}:
                return word in _TRUE_WORDS
            return text
        raise ValueError(f"{text!r} is not a number")
    return text


def resolve(discovery: Discovery, given: dict[str, Any], *, typed: bool = False
            ) -> dict[str, Any]:
    """Every parameter's value: the given ones (text to coerce, or Python values if
    `typed`), the others at their defaults. ValueError names an unknown parameter, a bad
    value or a missing required one."""
    by_name = {p.name: p for p in discovery.parameters}
    unknown = [name for name in given if name not in by_name]
    if unknown:
        known = ", ".join(by_name) or "none"
        raise ValueError(f"unknown parameter {unknown[0]!r} (the script's parameters: {known})")
    values = {}
    for parameter in discovery.parameters:
        if parameter.name in given and typed:
            value = given[parameter.name]
            if not isinstance(value, SCALARS):
                raise ValueError(f"parameter {parameter.name!r}: a bool, int, float, str or "
                                 f"None, not {type(value).__name__}")
            values[parameter.name] = value
        elif parameter.name in given:
            try:
                values[parameter.name] = coerce(given[parameter.name], parameter.type)
            except ValueError as exc:
                raise ValueError(f"parameter {parameter.name!r}: {exc}") from None
        elif parameter.required and parameter.source == "argparse":
            continue  # may come as a script argument after `--`: argparse itself checks
        elif parameter.required:
            raise ValueError(f"parameter {parameter.name!r} is required: give it with "
                             f"-p {parameter.name}=VALUE")
        else:
            values[parameter.name] = parameter.default
    return values
