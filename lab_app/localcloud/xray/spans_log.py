"""One OpenTelemetry span as the log event CloudWatch Transaction Search stores in ``aws/spans``.

AWS stores spans "in semantic convention format with W3C trace IDs" (CloudWatch Transaction Search docs): one
JSON object per span, the OTLP span in its JSON form with lowerCamelCase names, hex ids, the resource and the
instrumentation scope folded in, and the duration added:

    {"resource": {"attributes": {"service.name": "backend-flask", ...}},
     "scope": {"name": "opentelemetry.instrumentation.flask", "version": "0.66b1"},
     "traceId": "6774...32 hex", "spanId": "16 hex", "parentSpanId": "16 hex" (not on a root span), "flags": 256,
     "name": "GET /api/activities/home", "kind": "SERVER",
     "startTimeUnixNano": 1733100000000000000, "endTimeUnixNano": ..., "durationNano": ...,
     "attributes": {"http.request.method": "GET", ...}, "status": {"code": "UNSET"},
     "events": [{"name": "exception", "timeUnixNano": ..., "attributes": {...}}]}

Attribute keys stay as they are (``http.route``), values keep their JSON types. The event's timestamp is the
span's start time in milliseconds.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab_app.localcloud.xray.otlp import Span


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def span_document(span: "Span") -> dict[str, Any]:
    doc: dict[str, Any] = {"resource": {"attributes": _jsonable(span.resource)}}
    if span.scope:
        doc["scope"] = dict(span.scope)
    doc.update(traceId=span.trace_id, spanId=span.span_id)
    if span.parent_span_id:
        doc["parentSpanId"] = span.parent_span_id
    doc.update(flags=int(span.flags), name=span.name, kind=span.kind, startTimeUnixNano=int(span.start_ns),
               endTimeUnixNano=int(span.end_ns), durationNano=int(span.end_ns) - int(span.start_ns),
               attributes=_jsonable(span.attributes))
    status: dict[str, Any] = {"code": span.status_code}
    if span.status_message:
        status["message"] = span.status_message
    doc["status"] = status
    if span.events:
        doc["events"] = [{"name": e.get("name", ""), "timeUnixNano": int(e.get("time_unix_nano") or 0),
                          "attributes": _jsonable(e.get("attributes") or {})} for e in span.events]
    return doc


def span_event(span: "Span") -> dict[str, Any]:
    """The log event (``timestamp`` in ms, ``message`` the JSON document) for :meth:`Logs.deliver`."""
    return {"timestamp": int(span.start_ns) // 1_000_000,
            "message": json.dumps(span_document(span), separators=(",", ":"), default=str)}
