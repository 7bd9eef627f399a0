"""GuardDuty's FindingCriteria and SortCriteria over findings in wire format.

An attribute is a dotted path of the finding's JSON names (``severity``, ``type``, ``service.archived``,
``resource.instanceDetails.networkInterfaces.securityGroups.groupId``); lists on the way are flattened, so a
condition holds when any value at the path satisfies it. The valid paths are the leaves of botocore's ``Finding``
shape (plus ``service.additionalInfo.*``, which GuardDuty also filters on). Conditions, per the API's
``Condition``: ``Eq`` / ``Equals`` (any listed value), ``Neq`` / ``NotEquals`` (none of them), ``Gt``, ``Gte``,
``Lt``, ``Lte`` and ``GreaterThan``, ``GreaterThanOrEqual``, ``LessThan``, ``LessThanOrEqual`` (numbers;
timestamps compare as epoch milliseconds), ``Matches`` / ``NotMatches`` (``*`` and ``?`` wildcards).
"""
from __future__ import annotations

import fnmatch
import json
from datetime import datetime
from functools import lru_cache
from typing import Any, Iterable

from lab_app.localcloud.guardduty.exceptions import INVALID_VALUE, invalid_input

LIST_OPS = {"eq": "any", "equals": "any", "neq": "none", "notEquals": "none"}
NUMBER_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "greaterThan": ">", "greaterThanOrEqual": ">=",
              "lessThan": "<", "lessThanOrEqual": "<="}
MATCH_OPS = {"matches": True, "notMatches": False}
TIMESTAMPS = {"createdAt", "updatedAt", "service.eventFirstSeen", "service.eventLastSeen"}


@lru_cache(maxsize=1)
def attribute_paths() -> frozenset[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("guardduty")
    paths: set[str] = set()

    def walk(shape, prefix: str, depth: int) -> None:
        if depth > 12:
            return
        if shape.type_name == "structure":
            for member in shape.members.values():
                name = member.serialization.get("name") or member.name
                walk(member, f"{prefix}.{name}" if prefix else name, depth + 1)
        elif shape.type_name == "list":
            walk(shape.member, prefix, depth + 1)
        elif shape.type_name != "map":
            paths.add(prefix)

    walk(model.shape_for("Finding"), "", 0)
    return frozenset(paths)


def valid_attribute(name: Any) -> bool:
    return isinstance(name, str) and (name in attribute_paths() or name.startswith("service.additionalInfo."))


def values_at(finding: dict, path: str) -> list:
    nodes: list = [finding]
    for part in path.split("."):
        nxt: list = []
        for node in nodes:
            if isinstance(node, dict):
                if part not in node and node.get("value") and path.startswith("service.additionalInfo"):
                    node = _additional_info(node)
                value = node.get(part) if isinstance(node, dict) else None
                if isinstance(value, list):
                    nxt.extend(value)
                elif value is not None:
                    nxt.append(value)
        nodes = nxt
    return [n for n in nodes if not isinstance(n, (dict, list))]


def _additional_info(node: dict) -> dict:
    try:
        loaded = json.loads(node["value"])
        return loaded if isinstance(loaded, dict) else {}
    except (TypeError, ValueError):
        return {}


def _number(value: Any, path: str) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if path in TIMESTAMPS and isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000
        except ValueError:
            return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _same(value: Any, wanted: str, path: str) -> bool:
    if isinstance(value, bool):
        return str(value).lower() == str(wanted).lower()
    if isinstance(value, (int, float)):
        number = _number(wanted, path)
        return number is not None and float(value) == number
    return str(value) == str(wanted)


def validate(criteria: Any) -> dict[str, dict]:
    """The criterion map of a wire ``findingCriteria``; BadRequestException when AWS would reject it."""
    if criteria is None:
        return {}
    if not isinstance(criteria, dict) or not isinstance(criteria.get("criterion", {}), dict):
        raise invalid_input(INVALID_VALUE)
    criterion = criteria.get("criterion") or {}
    for attribute, condition in criterion.items():
        if not valid_attribute(attribute):
            raise invalid_input(f"The request is rejected because the attribute {attribute} is not a valid "
                                f"finding criteria attribute.")
        if not isinstance(condition, dict) or not condition:
            raise invalid_input(INVALID_VALUE)
        for op, arg in condition.items():
            if op in LIST_OPS or op in MATCH_OPS:
                if not isinstance(arg, list) or not arg or len(arg) > 50 or \
                        not all(isinstance(a, str) for a in arg):
                    raise invalid_input(INVALID_VALUE)
            elif op in NUMBER_OPS:
                if isinstance(arg, bool) or not isinstance(arg, int):
                    raise invalid_input(INVALID_VALUE)
            else:
                raise invalid_input(INVALID_VALUE)
    return criterion


def holds(finding: dict, criterion: dict[str, dict]) -> bool:
    for path, condition in criterion.items():
        values = values_at(finding, path)
        for op, arg in condition.items():
            if op in LIST_OPS:
                hit = any(_same(v, a, path) for v in values for a in arg)
                if hit != (LIST_OPS[op] == "any"):
                    return False
            elif op in NUMBER_OPS:
                numbers = [n for n in (_number(v, path) for v in values) if n is not None]
                compare = NUMBER_OPS[op]
                if not any({">": n > arg, ">=": n >= arg, "<": n < arg, "<=": n <= arg}[compare] for n in numbers):
                    return False
            else:
                hit = any(fnmatch.fnmatchcase(str(v), a) for v in values for a in arg)
                if hit != MATCH_OPS[op]:
                    return False
    return True


def validate_sort(sort: Any) -> tuple[str, bool] | None:
    if sort is None:
        return None
    if not isinstance(sort, dict):
        raise invalid_input(INVALID_VALUE)
    attribute, order = sort.get("attributeName"), sort.get("orderBy", "ASC")
    if attribute is None:
        return None
    if not valid_attribute(attribute) or order not in ("ASC", "DESC"):
        raise invalid_input(INVALID_VALUE)
    return attribute, order == "DESC"


def sort_findings(findings: Iterable[dict], sort: tuple[str, bool] | None) -> list[dict]:
    rows = list(findings)
    if sort is None:
        return rows
    path, descending = sort

    def key(finding: dict):
        values = values_at(finding, path)
        if not values:
            return (1, 0.0, "")
        number = _number(values[0], path) if not isinstance(values[0], str) or path in TIMESTAMPS else None
        return (0, number if number is not None else 0.0, "" if number is not None else str(values[0]))

    present = [f for f in rows if values_at(f, path)]
    missing = [f for f in rows if not values_at(f, path)]
    return sorted(present, key=key, reverse=descending) + missing
