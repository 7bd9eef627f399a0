"""Validate a request against botocore's model of its operation, the way AWS's front end does, before a handler runs.

What is checked, for every member the request carries (and for the required ones it does not): required members
(``Member must not be null``), JSON types (a wrong type is a ``SerializationException``, as AWS's JSON services
answer it), string and list lengths, numeric ranges, enums and patterns. Messages have AWS's shape::

    1 validation error detected: Value 'x' at 'logGroupName' failed to satisfy constraint: Member must ...
    2 validation errors detected: Value ... ; Value ...

Paths are AWS's: ``metricTransformations.1.member.metricName`` (1-based list positions). Patterns are the
model's (Java regular expressions), run on RE2, which reads the ``\\p{L}``-style classes they use; a pattern RE2
cannot compile either is skipped rather than guessed at (none of the stand-ins' models has one today).

The error code is the caller's to choose (``error(message)``): CloudWatch Logs answers
``InvalidParameterException``, X-Ray its model's ``InvalidRequestException`` (for wrong JSON types too: the
X-Ray stand-in has always answered those with it). Members a REST request carries in
its URI, query string or headers are not in the JSON body and are left to the handler.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from lab_app.localcloud.aws.errors import AwsError, SerializationException

NUMBER_TYPES = ("integer", "long", "float", "double")
_NOT_IN_BODY = ("uri", "querystring", "header", "headers", "statusCode")


@functools.lru_cache(maxsize=2048)
def _compiled(pattern: str):
    import re2

    from lab_app.localcloud.logs.re2 import compile as re2_compile  # RE2 with its error log off

    try:
        return re2_compile(pattern)
    except re2.error:
        try:        # Java accepts a '-' after a class shorthand as a literal ("[\w-_]"); RE2 does not
            return re2_compile(pattern.replace(r"\w-", r"\w\-"))
        except re2.error:
            return None


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    return str(value)


class _Walker:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.type_error: str | None = None

    def fail(self, value: Any, path: str, constraint: str) -> None:
        shown = "null" if value is None else f"'{_show(value)}'"
        self.violations.append(f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}")

    def structure(self, shape, value: Any, path: str, top: bool = False) -> None:
        if not isinstance(value, dict):
            self.type_error = f"Start of structure or map found where not expected at '{path or shape.name}'."
            return
        for name in shape.required_members:
            member = shape.members.get(name)
            if member is not None and top and member.serialization.get("location") in _NOT_IN_BODY:
                continue
            if value.get(name) is None:
                self.fail(None, self._join(path, name), "Member must not be null")
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                if top and member.serialization.get("location") in _NOT_IN_BODY:
                    continue
                self.value(member, value[name], self._join(path, name))

    @staticmethod
    def _join(path: str, name: str) -> str:
        return f"{path}.{name}" if path else name

    def value(self, shape, value: Any, path: str) -> None:
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure":
            self.structure(shape, value, path)
        elif kind == "list":
            if not isinstance(value, list):
                self.type_error = f"Unexpected type for '{path}': expected a list."
                return
            self._length(value, len(value), meta, path)
            for i, item in enumerate(value):
                if item is not None:
                    self.value(shape.member, item, f"{path}.{i + 1}.member")
        elif kind == "map":
            if not isinstance(value, dict):
                self.type_error = f"Unexpected type for '{path}': expected a map."
                return
            self._length(value, len(value), meta, path)
            for key, item in value.items():
                self.value(shape.key, key, f"{path}.member.key")
                if item is not None:
                    self.value(shape.value, item, f"{path}.member.value")
        elif kind == "string":
            if not isinstance(value, str):
                self.type_error = f"Unexpected type for '{path}': expected a string."
                return
            self._length(value, len(value), meta, path)
            if "enum" in meta and value not in meta["enum"]:
                self.fail(value, path, f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
            pattern = meta.get("pattern")
            if pattern:
                compiled = _compiled(pattern)
                if compiled is not None and compiled.fullmatch(value) is None:
                    self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        elif kind in NUMBER_TYPES:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                    kind in ("integer", "long") and isinstance(value, float) and not value.is_integer()):
                self.type_error = f"Unexpected type for '{path}': expected a number."
                return
            if kind in ("integer", "long") and not -2**63 <= value < 2**63:
                self.type_error = f"Number out of range for '{path}'."
                return
            if value != value or value in (float("inf"), float("-inf")):
                self.type_error = f"Unexpected number for '{path}'."
                return
            if "min" in meta and value < meta["min"]:
                self.fail(value, path, f"Member must have value greater than or equal to {meta['min']}")
            if "max" in meta and value > meta["max"]:
                self.fail(value, path, f"Member must have value less than or equal to {meta['max']}")
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.type_error = f"Unexpected type for '{path}': expected a boolean."
        elif kind == "timestamp":
            if epoch_seconds(value) is None:
                self.type_error = f"Unexpected type for '{path}': expected a timestamp."
        elif kind == "blob":
            if not isinstance(value, str):
                self.type_error = f"Unexpected type for '{path}': expected a base64 string."

    def _length(self, value: Any, length: int, meta: dict, path: str) -> None:
        if "min" in meta and length < meta["min"]:
            self.fail(value, path, f"Member must have length greater than or equal to {meta['min']}")
        if "max" in meta and length > meta["max"]:
            self.fail(value, path, f"Member must have length less than or equal to {meta['max']}")


def epoch_seconds(value: Any) -> float | None:
    """A JSON timestamp as seconds since the epoch: a finite number, a numeric string, or an ISO 8601 string
    (UTC when it has no offset); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str):
        from datetime import datetime, timezone

        try:
            if not value.strip().lstrip("-").replace(".", "", 1).isdigit():       # digits, not "1e5" or "nan"
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
            value = float(value)
        except (ValueError, OverflowError):
            return None
    return float(value) if -1e13 < value < 1e13 else None


def problems(operation_model, params: dict) -> tuple[list[str], str | None]:
    """(the constraint violations, a type error or None) of ``params`` for ``operation_model``."""
    walker = _Walker()
    shape = operation_model.input_shape
    if shape is not None:
        walker.structure(shape, params, "", top=True)
    return walker.violations, walker.type_error


def check(operation_model, params: dict, error: Callable[[str], AwsError],
          type_error: Callable[[str], AwsError] = SerializationException) -> None:
    """Raise what AWS answers for a request its model rejects; nothing for a valid one. A member of the wrong
    JSON type raises ``type_error`` (JSON services: ``SerializationException``)."""
    violations, wrong_type = problems(operation_model, params)
    if wrong_type is not None:
        raise type_error(wrong_type)
    if violations:
        count = len(violations)
        raise error(f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(violations))


def check_types(service: str, name: str, params: dict) -> None:
    """Only the JSON types of ``service``'s operation ``name`` (``SerializationException``), for the stand-ins whose
    handlers answer the constraint violations themselves with their service's own codes (CloudTrail's
    ``InvalidMaxResultsException``, ...). Nothing for an operation botocore does not know."""
    model = operation(service, name)
    if model is None:
        return
    _violations, wrong_type = problems(model, params)
    if wrong_type is not None:
        raise SerializationException(wrong_type)


@functools.lru_cache(maxsize=64)
def operation(service: str, name: str):
    """botocore's model of ``service``'s operation ``name`` (None when botocore does not know it)."""
    from lab_app.localcloud.aws.request import service_model

    model = service_model(service)
    if model is None or name not in model.operation_names:
        return None
    return model.operation_model(name)
