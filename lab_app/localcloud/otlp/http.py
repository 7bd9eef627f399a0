"""OTLP/HTTP requests and replies, as the OTLP specification describes them (Honeycomb's ingest and X-Ray's
OTLP endpoint both use this).

- The body is protobuf (``application/x-protobuf``; ``application/protobuf`` is accepted too) or OTLP/JSON
  (``application/json``); anything else is 415.
- ``Content-Encoding`` is one a receiver lists (``identity`` always; ``gzip``, ``deflate``); anything else is 415.
- The wire size is bounded (413 from ``Content-Length`` before reading, or while reading), and so is the
  decompressed size: decompression stops one byte past the limit, so a small gzip bomb costs nothing.
- Errors are :class:`OtlpError` with the HTTP status, a ``google.rpc.Code`` and a message; :func:`error_reply`
  renders it as a ``google.rpc.Status`` for protobuf requests, ``{"code", "message"}`` for JSON ones.
- :func:`success_reply` is the serialized ``Export*ServiceResponse``, with ``partial_success`` when spans
  were rejected.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

from google.protobuf import json_format
from google.rpc import status_pb2
from werkzeug.wrappers import Request, Response

PROTOBUF = "application/x-protobuf"
PROTOBUF_TYPES = (PROTOBUF, "application/protobuf")
JSON = "application/json"

# google.rpc.Code values used in error bodies
INVALID_ARGUMENT, PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNIMPLEMENTED, UNAUTHENTICATED = 3, 7, 8, 12, 16


class OtlpError(Exception):
    """A request the receiver refuses: HTTP ``status``, ``google.rpc.Code`` ``code``, a message for the sender."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Body:
    """A request body ready to decode: ``data`` decompressed, ``is_json`` from the content type."""

    data: bytes
    is_json: bool


def is_json_request(request: Request) -> bool:
    """Whether error replies should be JSON (the request's content type), before anything else is checked."""
    return (request.mimetype or "").lower() == JSON


def read_body(request: Request, max_body_bytes: int, max_decompressed_bytes: int,
              encodings: tuple[str, ...] = ("gzip", "deflate")) -> Body:
    """Check the content type and encoding, read at most ``max_body_bytes`` and decompress within the bound."""
    content_type = (request.mimetype or "").lower()
    if content_type != JSON and content_type not in PROTOBUF_TYPES:
        raise OtlpError(415, UNIMPLEMENTED, f"unsupported content type {content_type or '(none)'!r}: send "
                                            f"{PROTOBUF} or {JSON}")
    encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding == "none":
        encoding = "identity"
    if encoding != "identity" and encoding not in encodings:
        raise OtlpError(415, UNIMPLEMENTED, f"unsupported content encoding {encoding!r}: use "
                                            f"{' or '.join(encodings) or 'none'} or no compression")
    length = request.content_length
    if length is not None and length > max_body_bytes:
        raise OtlpError(413, RESOURCE_EXHAUSTED,
                        f"request body of {length} bytes is over the {max_body_bytes} byte limit")
    data = request.stream.read(max_body_bytes + 1)
    if len(data) > max_body_bytes:
        raise OtlpError(413, RESOURCE_EXHAUSTED, f"request body is over the {max_body_bytes} byte limit")
    if encoding != "identity":
        data = decompress(data, encoding, max_decompressed_bytes)
    elif len(data) > max_decompressed_bytes:
        raise OtlpError(413, RESOURCE_EXHAUSTED, f"request body is over the {max_decompressed_bytes} byte limit")
    return Body(data, content_type == JSON)


def decompress(data: bytes, encoding: str, limit: int) -> bytes:
    """gzip or deflate (zlib) data, at most ``limit`` bytes of output; OtlpError 413 past it, 400 if broken."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error as exc:
        raise OtlpError(400, INVALID_ARGUMENT, f"the body does not decompress as {encoding}: {exc}") from None
    if len(out) > limit or decompressor.unconsumed_tail:
        raise OtlpError(413, RESOURCE_EXHAUSTED, f"the decompressed body is over the {limit} byte limit")
    if not decompressor.eof:
        raise OtlpError(400, INVALID_ARGUMENT, f"the body does not decompress as {encoding}: the stream is truncated")
    return out


def error_reply(error: OtlpError, is_json: bool, headers: dict | None = None) -> Response:
    """The OTLP error body: ``google.rpc.Status`` (protobuf requests) or ``{"code", "message"}`` (JSON)."""
    if is_json:
        return Response(json.dumps({"code": error.code, "message": error.message}), status=error.status,
                        headers=headers, content_type=JSON)
    body = status_pb2.Status(code=error.code, message=error.message).SerializeToString()
    return Response(body, status=error.status, headers=headers, content_type=PROTOBUF)


def success_reply(response_message, is_json: bool, rejected: int = 0, error_message: str = "") -> Response:
    """200 with the serialized ``Export*ServiceResponse`` (``partial_success`` filled when something was rejected)."""
    if rejected or error_message:
        response_message.partial_success.error_message = error_message
        for name in ("rejected_spans", "rejected_data_points", "rejected_log_records"):
            if name in response_message.partial_success.DESCRIPTOR.fields_by_name:
                setattr(response_message.partial_success, name, rejected)
    if is_json:
        return Response(json_format.MessageToJson(response_message), status=200, content_type=JSON)
    return Response(response_message.SerializeToString(), status=200, content_type=PROTOBUF)
