"""Rollbar payloads get the request's trace ids."""
from __future__ import annotations

from flask import Flask, g

from lab_app.instrument import trace_context


def test_payload_gets_otel_xray_and_request_ids():
    from opentelemetry.sdk.trace import TracerProvider

    app = Flask("t")
    tracer = TracerProvider().get_tracer("t")
    headers = {"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
    with app.test_request_context("/x", headers=headers):
        g.request_id = "00000000-0000-4000-8000-000000000001"
        with tracer.start_as_current_span("s") as span:
            payload = trace_context.add_trace_ids({"data": {"custom": {"service": "backend-flask"}}})
            want = format(span.get_span_context().trace_id, "032x")
    assert payload["data"]["custom"] == {"service": "backend-flask", "otel_trace_id": want,
                                         "xray_trace_id": "1-5759e988-bd862e3fe1be46a994272793",
                                         "request_id": "00000000-0000-4000-8000-000000000001"}


def test_outside_a_request_nothing_is_invented():
    payload = trace_context.add_trace_ids({"data": {}})
    assert payload["data"]["custom"] == {}


def test_registering_twice_keeps_one_handler():
    from rollbar.lib import events

    trace_context.instrument_app(Flask("a"), "a")
    trace_context.instrument_app(Flask("b"), "b")
    try:
        assert events._event_handlers[events.PAYLOAD].count(trace_context.add_trace_ids) == 1
    finally:
        trace_context.uninstrument()
    assert trace_context.add_trace_ids not in events._event_handlers[events.PAYLOAD]
