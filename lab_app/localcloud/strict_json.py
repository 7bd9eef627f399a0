"""One JSON reader for every stand-in's request bodies: what ``json.loads`` lets through and the store cannot take
is refused here, as a ``ValueError`` each caller turns into its service's 400.

Refused: text that is not JSON or not UTF-8; nesting deeper than the parser's recursion limit (which raised
``RecursionError`` and became a 500); ``NaN`` / ``Infinity`` (not JSON at all, though Python accepts them); lone
UTF-16 surrogates such as ``"\\ud800"``, which no UTF-8 store can hold (DuckDB refused them mid-insert).
"""
from __future__ import annotations

import json
from typing import Any


class BadJson(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise BadJson(f"{name} is not a JSON number")


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads(raw: bytes | str) -> Any:
    """The parsed body; ``BadJson`` (a ``ValueError``) saying why it cannot be one."""
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise BadJson("JSON nested too deeply") from None
    except BadJson:
        raise
    except ValueError as exc:  # includes UnicodeDecodeError
        raise BadJson(f"not valid JSON ({exc.__class__.__name__})") from None
    # a lone surrogate arrives as a \u escape, or (json.loads decodes bytes with surrogatepass) as raw ED A0..BF
    suspicious = ("\\u" in raw) if isinstance(raw, str) else (b"\\u" in raw or b"\xed" in raw)
    if suspicious or isinstance(raw, str):
        if _has_lone_surrogate(value):
            raise BadJson("a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not valid Unicode")
    return value
