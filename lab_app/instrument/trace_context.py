"""Put the request's trace ids on every Rollbar report, so an error can be joined to its trace and logs.

Rollbar's payload knows the request (URL, method, headers) but not which trace it belonged to. This
instrumenter adds a payload handler (``rollbar.events.add_payload_handler``, run in the thread that reports,
i.e. inside the request) writing into ``data.custom``:

* ``otel_trace_id``: the current OpenTelemetry span's trace id (32 hex digits), when OTel is on;
* ``xray_trace_id``: the current X-Ray segment's trace id (``1-xxxxxxxx-...``), when the X-Ray SDK is on;
* ``request_id``: the service's ``X-Request-Id``.

    stack = services.start(instrument=[..., rollbar.instrument_app, trace_context.instrument_app])

It is what the seed's Rollbar set-up lacks for notebook 06's side-by-side view.
"""
from __future__ import annotations

from typing import Any

from flask import Flask


def current_ids() -> dict[str, str]:
    """The trace ids of the request being served in this thread (only the ones that exist)."""
    ids: dict[str, str] = {}
    try:
        from opentelemetry import trace

        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            ids["otel_trace_id"] = format(ctx.trace_id, "032x")
    except ImportError:  # pragma: no cover - OTel is a pinned dependency
        pass
    try:
        from aws_xray_sdk.core import xray_recorder

        # the middleware keeps the segment in a thread-local list; reading it directly never logs
        # "cannot find the current segment" the way get_trace_entity() does outside a request
        entities = getattr(xray_recorder.context._local, "entities", None)
        if entities:
            ids["xray_trace_id"] = entities[0].trace_id
    except (ImportError, AttributeError):
        pass
    try:
        from flask import g, has_request_context, request

        if has_request_context():
            request_id = g.get("request_id") or request.headers.get("X-Request-Id")
            if request_id:
                ids["request_id"] = str(request_id)
            if "xray_trace_id" not in ids:
                amzn = request.headers.get("X-Amzn-Trace-Id", "")
                for part in amzn.split(";"):
                    key, _, value = part.partition("=")
                    if key.strip() == "Root" and value:
                        ids["xray_trace_id"] = value.strip()
    except ImportError:  # pragma: no cover
        pass
    return ids


def add_trace_ids(payload: Any, **_: Any) -> Any:
    """Rollbar payload handler: ``data.custom`` gets the ids of the current request."""
    if isinstance(payload, dict):
        data = payload.get("data")
        if isinstance(data, dict):
            custom = data.get("custom")
            if not isinstance(custom, dict):
                custom = {} if custom is None else {"value": custom}
            for key, value in current_ids().items():
                custom.setdefault(key, value)
            data["custom"] = custom
    return payload


def instrument_app(app: Flask, service_name: str) -> None:
    """Instrumenter: register the payload handler once per process (the app argument is not needed)."""
    from rollbar.lib import events

    events.add_payload_handler(add_trace_ids)  # rollbar ignores a handler that is already registered


def uninstrument() -> None:
    from rollbar.lib import events

    events.remove_payload_handler(add_trace_ids)
