"""OTLP messages from request bodies, and OTLP ``AnyValue`` / ``KeyValue`` as plain Python values.

Protobuf bodies are parsed by opentelemetry-proto's generated classes (the upb C implementation). OTLP/JSON
differs from protobuf's canonical JSON mapping in one way that matters: trace and span ids are hex strings,
not base64 (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding). :func:`parse_json` converts them
(camelCase or the original snake_case field names, as protobuf's JSON parser accepts both) and refuses ids
that are not hex; unknown fields are ignored, as the specification says receivers must.
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from lab_app.localcloud.otlp.http import INVALID_ARGUMENT, Body, OtlpError

M = TypeVar("M", bound=Message)

# OTLP's times and counts are fixed64 (up to 2^64 - 1); what the store keeps are 64-bit signed integers.
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1

ID_FIELDS = frozenset({"traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id"})

# What a malformed body raises on its way through json / json_format / the generated classes.
DECODE_ERRORS = (DecodeError, ValueError, TypeError, json_format.ParseError, RecursionError, UnicodeDecodeError,
                 binascii.Error)


def parse(body: Body, message_type: type[M]) -> M:
    """The body as ``message_type`` (e.g. ``ExportTraceServiceRequest``); :class:`OtlpError` 400 if it is not one."""
    try:
        if body.is_json:
            return parse_json(body.data, message_type)
        message = message_type()
        message.ParseFromString(body.data)
        return message
    except DECODE_ERRORS as exc:
        kind = "OTLP/JSON" if body.is_json else "protobuf"
        raise OtlpError(400, INVALID_ARGUMENT,
                        f"could not decode {message_type.DESCRIPTOR.name} ({kind}): {exc}") from None


def parse_json(data: bytes | str, message_type: type[M]) -> M:
    """OTLP/JSON (ids as hex) -> ``message_type``. Raises ValueError / ``json_format.ParseError`` when malformed.

    Read with strict_json: a lone surrogate would otherwise reach protobuf's C parser, which answers it with a
    ``SystemError`` (no exception type a decoder should catch), and bare NaN is not JSON."""
    from lab_app.localcloud import strict_json

    payload = strict_json.loads(data)
    if not isinstance(payload, dict):
        raise ValueError(f"the body must be a JSON object ({message_type.DESCRIPTOR.name})")
    hex_ids_to_base64(payload)
    message = message_type()
    json_format.ParseDict(payload, message, ignore_unknown_fields=True)
    return message


def hex_ids_to_base64(node: Any) -> None:
    """In place: every trace/span id field holding a hex string becomes the base64 protobuf's JSON parser wants."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str) and key in ID_FIELDS:
                    try:
                        item[key] = base64.b64encode(bytes.fromhex(value)).decode()
                    except ValueError:
                        raise ValueError(f"{key} {value!r} is not hex") from None
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, (dict, list)))


def any_value(value) -> Any:
    """An ``AnyValue`` as str / int / float / bool / list / dict / None; bytes as base64 text."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def attributes(key_values) -> dict[str, Any]:
    """A repeated ``KeyValue`` as a dict (later duplicates win, as in the SDKs). The scalar kinds are spelled out:
    this runs for every span, and the branches are faster than ``getattr(value, kind)``."""
    out = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            out[kv.key] = value.string_value
        elif kind == "int_value":
            out[kv.key] = value.int_value
        elif kind == "bool_value":
            out[kv.key] = value.bool_value
        elif kind == "double_value":
            out[kv.key] = value.double_value
        else:
            out[kv.key] = any_value(value)
    return out
