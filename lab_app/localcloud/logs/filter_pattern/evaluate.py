"""Evaluate a filter-pattern AST against log messages (Python); :mod:`.to_sql` pushes term patterns down."""
from __future__ import annotations

import functools
import json
import re
from typing import Any

from lab_app.localcloud.logs import re2
from lab_app.localcloud.logs.filter_pattern import ast

_MISSING = object()


# Both run on RE2 (linear time): a user's %regex% or a value with many * wildcards cannot stall the server.
@functools.lru_cache(maxsize=512)
def _wildcard(text: str):
    return re2.compile("^" + ".*".join(re.escape(part) for part in text.split("*")) + "$", dot_all=True)


def _regex(pattern: str):
    return re2.compile(pattern)


def _term_matches(term: ast.Term, message: str) -> bool:
    if term.kind == "regex":
        return _regex(term.text).search(message) is not None
    return term.text in message


def _scalar_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _compare_value(actual: Any, op: str, value: ast.Value) -> bool:
    """Compare one field (JSON scalar or delimited text) with a pattern value."""
    if actual is _MISSING or isinstance(actual, (dict, list)):
        return False
    if isinstance(value, ast.Number):
        if isinstance(actual, bool) or actual is None:
            return False
        try:
            number = float(actual)
        except (TypeError, ValueError):
            return op == "!="
        return {"=": number == value.value, "!=": number != value.value, ">": number > value.value,
                "<": number < value.value, ">=": number >= value.value, "<=": number <= value.value}[op]
    if actual is None:
        return False
    text = _scalar_text(actual)
    if isinstance(value, ast.Regex):
        hit = _regex(value.pattern).search(text) is not None
    elif op in ("=", "!="):
        hit = _wildcard(value.text).match(text) is not None if "*" in value.text else text == value.text
    else:  # ordering comparisons against text: numeric if both sides are numbers
        try:
            a, b = float(text), float(value.text)
        except ValueError:
            return False
        return {">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b}[op]
    return hit if op == "=" else not hit


def _resolve(doc: Any, path: tuple) -> list:
    """All values a selector reaches (wildcards fan out); empty when the path does not exist."""
    nodes = [doc]
    for step in path:
        nxt = []
        for node in nodes:
            if step == "*":
                if isinstance(node, list):
                    nxt.extend(node)
                elif isinstance(node, dict):
                    nxt.extend(node.values())
            elif isinstance(step, int):
                if isinstance(node, list) and 0 <= step < len(node):
                    nxt.append(node[step])
            elif isinstance(node, dict) and step in node:
                nxt.append(node[step])
        nodes = nxt
    return nodes


def _json_eval(expr: ast.JExpr, doc: Any) -> bool:
    if isinstance(expr, ast.JAnd):
        return _json_eval(expr.left, doc) and _json_eval(expr.right, doc)
    if isinstance(expr, ast.JOr):
        return _json_eval(expr.left, doc) or _json_eval(expr.right, doc)
    values = _resolve(doc, expr.selector.path)
    if isinstance(expr, ast.JCheck):
        if expr.check == "exists":
            return bool(values)
        if expr.check == "not_exists":
            return not values
        if expr.check == "null":
            return any(v is None for v in values)
        return any(v is (expr.check == "true") for v in values)
    return any(_compare_value(v, expr.op, expr.value) for v in values)


_DELIMITED_TOKEN = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')


def split_delimited(message: str) -> list[str]:
    """Space-delimited fields; text in double quotes or square brackets is one field."""
    out = []
    for m in _DELIMITED_TOKEN.finditer(message):
        if m.group(1) is not None:
            out.append(m.group(1))
        elif m.group(2) is not None:
            out.append(m.group(2))
        else:
            out.append(m.group(3))
    return out


def _d_eval(expr: ast.DExpr, fields: dict[str, str]) -> bool:
    if isinstance(expr, ast.DAnd):
        return _d_eval(expr.left, fields) and _d_eval(expr.right, fields)
    if isinstance(expr, ast.DOr):
        return _d_eval(expr.left, fields) or _d_eval(expr.right, fields)
    if isinstance(expr, ast.DName):
        return expr.name in fields
    return _compare_value(fields.get(expr.name, _MISSING), expr.op, expr.value)


def _bind_delimited(pattern: ast.DelimitedPattern, tokens: list[str]) -> dict[str, str] | None:
    """Assign tokens to the pattern's fields; ``...`` absorbs any number. None when they cannot line up."""
    specs = pattern.fields

    def go(i: int, j: int, acc: dict) -> dict | None:
        if i == len(specs):
            return acc if j == len(tokens) else None
        spec = specs[i]
        if isinstance(spec, ast.Ellipsis_):
            for k in range(len(tokens), j - 1, -1) if i == len(specs) - 1 else range(j, len(tokens) + 1):
                got = go(i + 1, k, acc)
                if got is not None:
                    return got
            return None
        if j >= len(tokens):
            return None
        return go(i + 1, j + 1, {**acc, spec.name: tokens[j]})

    return go(0, 0, {})


def evaluate(pattern: ast.Pattern, message: str) -> tuple[bool, dict[str, Any]]:
    """(matched, extracted fields). Fields: the parsed JSON document, or the delimited name -> text."""
    if isinstance(pattern, ast.MatchAll):
        return True, {}
    if isinstance(pattern, ast.TermPattern):
        ok = (all(_term_matches(t, message) for t in pattern.required)
              and (not pattern.optional or any(_term_matches(t, message) for t in pattern.optional))
              and not any(_term_matches(t, message) for t in pattern.excluded))
        return ok, {}
    if isinstance(pattern, ast.JsonPattern):
        text = message.lstrip()
        if not text.startswith("{") and not text.startswith("["):
            return False, {}
        try:
            doc = json.loads(text)
        except ValueError:
            return False, {}
        return _json_eval(pattern.expr, doc), {"$json": doc}
    fields = _bind_delimited(pattern, split_delimited(message))
    if fields is None:
        return False, {}
    for spec in pattern.fields:
        if isinstance(spec, ast.DField) and spec.condition is not None and not _d_eval(spec.condition, fields):
            return False, fields
    return True, fields


def matches(pattern: ast.Pattern, message: str) -> bool:
    return evaluate(pattern, message)[0]


def metric_value(spec: str, fields: dict[str, Any]) -> float | None:
    """A metric filter's metricValue: a number, ``$.json.path`` or ``$delimitedField``."""
    spec = spec.strip()
    if not spec.startswith("$"):
        return float(spec)
    if spec.startswith("$.") and "$json" in fields:
        from lab_app.localcloud.logs.filter_pattern.parser import selector

        values = _resolve(fields["$json"], selector(spec).path)
        raw = values[0] if values else None
    else:
        raw = fields.get(spec[1:])
    if raw is None or isinstance(raw, (bool, dict, list)):
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def dimension_value(spec: str, fields: dict[str, Any]) -> str | None:
    if not spec.startswith("$"):
        return spec
    if spec.startswith("$.") and "$json" in fields:
        from lab_app.localcloud.logs.filter_pattern.parser import selector

        values = _resolve(fields["$json"], selector(spec).path)
        return _scalar_text(values[0]) if values and values[0] is not None else None
    raw = fields.get(spec[1:])
    return None if raw is None else str(raw)
