"""What a target receives: the event, ``Input``, ``InputPath`` or ``InputTransformer`` applied to it.

``InputTransformer`` as the EventBridge user guide ("Amazon EventBridge input transformation") describes it:
``InputPathsMap`` names JSON paths into the event; ``<name>`` in ``InputTemplate`` is replaced by the value found.
Inside a JSON string (``"... <name> ..."``) a string value goes in as its characters (escaped for JSON); outside
quotes in a JSON template (``{"instance": <name>}``) the value goes in as JSON (a string with its quotes).
A template that is not JSON (``<instance> is in state <state>``) gets strings as their text. A path with no
value gives ``null`` (empty inside quotes). The predefined variables ``aws.events.rule-arn``,
``aws.events.rule-name``, ``aws.events.event.ingestion-time`` and ``aws.events.event`` /
``aws.events.event.json`` (the whole event) need no path.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_NOTHING = object()


@lru_cache(maxsize=256)
def _path(expression: str):
    from jsonpath_ng.ext import parse as jsonpath

    return jsonpath(expression)


def path_value(expression: str, event: dict) -> Any:
    """The value at a JSON path (``$.detail.severity``); a path matching several values gives them as a list."""
    if expression.strip() == "$":
        return event
    found = [m.value for m in _path(expression).find(event)]
    if not found:
        return _NOTHING
    wildcard = "*" in expression
    return found if wildcard else found[0]


def _in_string(template: str, position: int) -> bool:
    """True when ``position`` is inside a double-quoted JSON string of ``template``."""
    inside, i = False, 0
    while i < position:
        c = template[i]
        if c == "\\" and inside:
            i += 2
            continue
        if c == '"':
            inside = not inside
        i += 1
    return inside


def render_template(template: str, values: dict[str, Any]) -> str:
    json_mode = template.lstrip()[:1] in ("{", "[", '"')

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        if _in_string(template, match.start()):
            if value is _NOTHING or value is None:
                return ""
            text = value if isinstance(value, str) else json.dumps(value)
            return json.dumps(text)[1:-1]
        if value is _NOTHING:
            return "null"
        if isinstance(value, str) and not json_mode:
            return value
        return json.dumps(value)

    return _PLACEHOLDER.sub(replace, template)


def target_payload(target: dict, event: dict, rule_name: str = "", rule_arn: str = "") -> str:
    """The text a target receives for ``event``."""
    if target.get("Input"):
        return target["Input"]
    if target.get("InputPath"):
        value = path_value(target["InputPath"], event)
        return "null" if value is _NOTHING else json.dumps(value)
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {name: path_value(expr, event)
                                  for name, expr in (transformer.get("InputPathsMap") or {}).items()}
        values.update({"aws.events.rule-arn": rule_arn, "aws.events.rule-name": rule_name,
                       "aws.events.event.ingestion-time": event.get("time"),
                       "aws.events.event": event, "aws.events.event.json": event})
        return render_template(transformer.get("InputTemplate") or "", values)
    return json.dumps(event)
