"""EventBridge event patterns: parse and validate a pattern, match an event against it.

The semantics are EventBridge's (user guide, "Event patterns" and "Comparison operators for use in event
patterns"): a pattern is a JSON object whose leaves are arrays of match values; a field matches when any of
its values matches any entry of the array; an event field that is an array matches when any element does
(arrays of objects are flattened, as EventBridge does). Entries are a literal (string; number in the same
representation, 300 is not 300.0: "Number matching is at the string representation level"; ``null``;
``true``/``false``) or one of the operators ``prefix``, ``suffix`` (each optionally ``{"equals-ignore-case": ...}``), ``equals-ignore-case``, ``wildcard``, ``anything-but`` (a literal, a list,
or ``prefix`` / ``suffix`` / ``equals-ignore-case`` / ``wildcard``), ``numeric``, ``exists`` (leaves only),
``cidr``; ``"$or": [pattern, ...]`` matches when any alternative does.

moto's matcher (``moto.events.models.EventPattern``) does not look into arrays of objects, compares literal
numbers by value, accepts ``$or`` with one alternative and unknown operators, and moto has no TestEventPattern
(bench/events_patterns.py counts the differences); this module is what the local cloud's EventBridge uses for
PutRule validation, TestEventPattern and every delivery.
"""
from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from typing import Any

NUMERIC_OPS = ("<", "<=", "=", ">=", ">")
STRING_OPS = ("prefix", "suffix", "equals-ignore-case", "wildcard")
OPERATORS = STRING_OPS + ("anything-but", "numeric", "exists", "cidr")
_MISSING: list = []


class InvalidEventPattern(ValueError):
    """A pattern EventBridge rejects; the message is the reason EventBridge gives after 'Reason: '."""


# --- parsing and validation ----------------------------------------------------------------------------
def parse(text: str | None) -> dict:
    """The pattern object of ``text`` (a JSON string), validated; raises :class:`InvalidEventPattern`."""
    if text is None or not str(text).strip():
        raise InvalidEventPattern("Empty event pattern")
    try:
        pattern = json.loads(text)
    except ValueError as exc:
        raise InvalidEventPattern(f"Invalid JSON: {exc.msg} at char {exc.pos}") from None
    if not isinstance(pattern, dict):
        raise InvalidEventPattern("Filter is not an object")
    validate(pattern)
    return pattern


def validate(node: dict, path: str = "") -> None:
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, dict) for v in value):
                raise InvalidEventPattern("Value of $or must be an array of at least 2 objects")
            for alternative in value:
                validate(alternative, path)
        elif isinstance(value, dict):
            validate(value, where)
        elif isinstance(value, list):
            if not value:
                raise InvalidEventPattern(f"Empty arrays are not allowed ('{where}')")
            for entry in value:
                _validate_entry(entry, where)
        else:
            raise InvalidEventPattern(f"Match value must be String, number, true, false, or null ('{where}' "
                                      f"must be an object or an array)")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate_string_op(name: str, value: Any, allow_list: bool = False) -> None:
    if isinstance(value, dict) and name in ("prefix", "suffix") and set(value) == {"equals-ignore-case"}:
        value = value["equals-ignore-case"]
    if allow_list and isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return
    if not isinstance(value, str):
        raise InvalidEventPattern(f"{name} match pattern must be a string literal")


def _validate_entry(entry: Any, where: str) -> None:
    if entry is None or isinstance(entry, (str, bool)) or _is_number(entry):
        return
    if not isinstance(entry, dict):
        raise InvalidEventPattern(f"Match value must be String, number, true, false, or null ('{where}')")
    if len(entry) != 1:
        raise InvalidEventPattern(f"Only one match type allowed per object ('{where}')")
    (name, value), = entry.items()
    if name not in OPERATORS:
        raise InvalidEventPattern(f"Unrecognized match type {name}")
    if name in ("prefix", "suffix"):
        _validate_string_op(name, value)
    elif name in ("equals-ignore-case", "wildcard"):
        _validate_string_op(name, value, allow_list=True)
    elif name == "exists":
        if not isinstance(value, bool):
            raise InvalidEventPattern("exists match pattern must be either true or false.")
    elif name == "cidr":
        try:
            ipaddress.ip_network(value, strict=False)
        except (TypeError, ValueError):
            raise InvalidEventPattern(f"Malformed CIDR, one '/' required: {value!r}") from None
    elif name == "numeric":
        _validate_numeric(value)
    elif name == "anything-but":
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in STRING_OPS:
                raise InvalidEventPattern("Unsupported anything-but pattern: use a value, a list, prefix, suffix, "
                                          "equals-ignore-case or wildcard")
            (inner, inner_value), = value.items()
            _validate_string_op(inner, inner_value, allow_list=inner in ("equals-ignore-case", "wildcard"))
        elif isinstance(value, list):
            if not value or not (all(isinstance(v, str) for v in value) or all(_is_number(v) for v in value)):
                raise InvalidEventPattern("Inside anything but list, start|null|boolean is not supported.")
        elif not (isinstance(value, str) or _is_number(value)):
            raise InvalidEventPattern("Inside anything-but, only strings and numbers are supported")


def _validate_numeric(value: Any) -> None:
    if not isinstance(value, list) or not value or len(value) % 2:
        raise InvalidEventPattern("Value of numeric must be an array of operator, number pairs.")
    pairs = list(zip(value[::2], value[1::2]))
    if len(pairs) > 2:
        raise InvalidEventPattern("Too many terms in numeric range expression")
    for op, number in pairs:
        if op not in NUMERIC_OPS:
            raise InvalidEventPattern(f"Unrecognized numeric range operator: {op}")
        if not _is_number(number):
            raise InvalidEventPattern(f"Value of {op} must be numeric")
    if len(pairs) == 2:
        ops = {op for op, _ in pairs}
        if "=" in ops or not (ops & {"<", "<="} and ops & {">", ">="}):
            raise InvalidEventPattern("Bad numeric range: use one lower bound (>, >=) and one upper bound (<, <=)")


# --- matching ------------------------------------------------------------------------------------------
def flatten(event: Any) -> dict[tuple[str, ...], list]:
    """Every leaf of ``event``: path -> its values (arrays, arrays of objects included, are expanded)."""
    out: dict[tuple[str, ...], list] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, path + (str(key),))
        elif isinstance(node, list):
            for item in node:
                walk(item, path)
        else:
            out.setdefault(path, []).append(node)

    walk(event, ())
    return out


def matches(pattern: dict, event: dict) -> bool:
    """True when ``event`` (a dict) matches ``pattern`` (a validated pattern object)."""
    return _match_node(pattern, flatten(event), ())


def _match_node(node: dict, flat: dict, path: tuple[str, ...]) -> bool:
    for key, value in node.items():
        if key == "$or":
            if not any(_match_node(alternative, flat, path) for alternative in value):
                return False
        elif isinstance(value, dict):
            if not _match_node(value, flat, path + (key,)):
                return False
        elif not _match_leaf(value, flat.get(path + (key,), _MISSING)):
            return False
    return True


def _match_leaf(entries: list, values: list) -> bool:
    for entry in entries:
        if isinstance(entry, dict) and "exists" in entry:
            if entry["exists"] == bool(values):
                return True
            continue
        if any(_match_value(entry, value) for value in values):
            return True
    return False


def _same(entry: Any, value: Any) -> bool:
    if entry is None or value is None:
        return entry is None and value is None
    if isinstance(entry, bool) or isinstance(value, bool):
        return isinstance(entry, bool) and isinstance(value, bool) and entry == value
    if _is_number(entry) or _is_number(value):  # literal numbers match by representation ("numeric" compares)
        return _is_number(entry) and _is_number(value) and json.dumps(entry) == json.dumps(value)
    return entry == value


def _match_value(entry: Any, value: Any) -> bool:
    if not isinstance(entry, dict):
        return _same(entry, value)
    (name, arg), = entry.items()
    if name == "numeric":
        return _is_number(value) and _numeric(arg, float(value))
    if name == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(arg, strict=False)
        except (TypeError, ValueError):
            return False
    if name == "anything-but":
        if isinstance(arg, dict):
            (inner, inner_arg), = arg.items()
            return isinstance(value, str) and not _string_op(inner, inner_arg, value)
        if isinstance(arg, list):
            return value is not None and not any(_same(a, value) for a in arg)
        return value is not None and not _same(arg, value)
    return isinstance(value, str) and _string_op(name, arg, value)


def _string_op(name: str, arg: Any, value: str) -> bool:
    args = arg if isinstance(arg, list) else [arg]
    if name in ("prefix", "suffix"):
        fold = isinstance(arg, dict)
        text = arg["equals-ignore-case"] if fold else arg
        subject, text = (value.lower(), text.lower()) if fold else (value, text)
        return subject.startswith(text) if name == "prefix" else subject.endswith(text)
    if name == "equals-ignore-case":
        return any(value.lower() == a.lower() for a in args)
    if name == "wildcard":
        return any(_wildcard(a).fullmatch(value) is not None for a in args)
    return False


@lru_cache(maxsize=256)
def _wildcard(text: str) -> re.Pattern:
    """``*`` matches any run of characters; ``\\*`` and ``\\\\`` are a literal star and backslash."""
    regex, i = "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in "*\\":
            regex += re.escape(text[i + 1])
            i += 2
            continue
        regex += ".*" if text[i] == "*" else re.escape(text[i])
        i += 1
    return re.compile(regex, re.DOTALL)


def _numeric(arg: list, value: float) -> bool:
    for op, bound in zip(arg[::2], arg[1::2]):
        bound = float(bound)
        ok = {"<": value < bound, "<=": value <= bound, "=": value == bound, ">=": value >= bound,
              ">": value > bound}[op]
        if not ok:
            return False
    return True


@lru_cache(maxsize=512)
def compiled(text: str) -> dict:
    """``parse`` cached by the pattern's text (rules are matched on every event)."""
    return parse(text)
