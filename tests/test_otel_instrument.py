"""lab_app.instrument.otel: per-service resources, W3C propagation across the two services, traceresponse,
the custom activity span, idempotent re-runs, and delivery to the local Honeycomb stand-in."""
from __future__ import annotations

import pytest
import requests

from lab_app import services
from lab_app.instrument import otel
from lab_app.query import spans as spans_api


@pytest.fixture(autouse=True)
def _leave_no_patch():
    yield
    otel.uninstrument()  # other test modules (X-Ray's OTel helper) patch requests themselves


def _by_id(spans):
    return {span.context.span_id: span for span in spans}


def test_two_services_one_trace_own_datasets(module_cloud):
    module_cloud.reset()
    sink = otel.memory()
    otel.otlp()
    sink.clear()
    ports = dict(backend_port=0, downstream_port=0)
    services.start(instrument=[otel.instrument_app], **ports).stop()  # a cell run twice: no duplicates
    stack = services.start(instrument=[otel.instrument_app, otel.instrument_app], **ports)
    try:
        replies = [requests.get(stack.backend_url + "/api/activities/notifications", timeout=10) for _ in range(3)]
        replies.append(requests.get(stack.backend_url + "/api/activities/home", timeout=10))
    finally:
        stack.stop()
    assert [r.status_code for r in replies] == [200] * 4
    assert otel.force_flush()
    spans = sink.get_finished_spans()
    by_id = _by_id(spans)
    returned = [r.headers["traceresponse"].split("-")[1] for r in replies]
    assert len(set(returned)) == 4

    servers = [s for s in spans if s.kind.name == "SERVER"]
    assert len(servers) == 3 * 2 + 1  # every call to notifications has its own server span
    for trace_id in returned[:3]:
        in_trace = [s for s in spans if f"{s.context.trace_id:032x}" == trace_id]
        root = [s for s in in_trace if s.parent is None]
        assert len(root) == 1 and root[0].resource.attributes["service.name"] == "backend-flask"
        assert root[0].name == "GET /api/activities/notifications"
        downstream = [s for s in in_trace if s.resource.attributes["service.name"] == "notifications"
                      and s.kind.name == "SERVER"]
        assert len(downstream) == 1
        # notifications' own "notifications-lookup" span uses the OpenTelemetry API of its process (it runs as a
        # process of its own in notebooks 02-05): tests/test_downstream.py checks it there
        client = by_id[downstream[0].parent.span_id]
        assert client.kind.name == "CLIENT" and client.resource.attributes["service.name"] == "backend-flask"
        assert client.parent.span_id == root[0].context.span_id
        enrich = [s for s in in_trace if s.name == "notifications-enrich"]
        assert len(enrich) == 1 and enrich[0].parent.span_id == root[0].context.span_id

    home = [s for s in spans if f"{s.context.trace_id:032x}" == returned[3]]
    custom = [s for s in home if s.name == "home-activities-mock-data"]
    assert len(custom) == 1 and custom[0].attributes["app.user"] and custom[0].attributes["app.result_length"] >= 0
    # the test's own requests made no client span (no service span was current)
    assert all(s.parent is not None or s.kind.name == "SERVER" for s in spans)

    stored = spans_api.local_spans()
    assert set(stored["dataset"]) == {"backend-flask", "notifications"}
    assert set(stored["trace_id"]) == set(returned)
    assert len(stored) == len(spans)


def test_exporters_are_idempotent(module_cloud):
    url = otel.otlp()
    before = otel._fanout.processors["otlp"]
    assert otel.otlp() == url and otel._fanout.processors["otlp"] is before
    otel.console()
    otel.console()
    assert otel.exporters().count("console") == 1
    otel.console(enabled=False)
    assert "console" not in otel.exporters()
    assert otel.memory() is otel.memory()


def test_requests_failing_in_a_before_request_hook_are_traced(module_cloud):
    """Fault injection raises in a before_request hook registered by the app factory: still one traced request."""
    sink = otel.memory()
    sink.clear()
    faults = services.Faults({"backend-flask:GET /api/message_groups": services.Fault(exception_rate=1.0)})
    stack = services.start(instrument=[otel.instrument_app], faults=faults, backend_port=0,
                           downstream_port=0)
    try:
        reply = requests.get(stack.backend_url + "/api/message_groups", timeout=10)
    finally:
        stack.stop()
    otel.force_flush()
    assert reply.status_code == 500
    trace_id = reply.headers["traceresponse"].split("-")[1]
    server = [s for s in sink.get_finished_spans() if f"{s.context.trace_id:032x}" == trace_id]
    assert len(server) == 1 and server[0].status.status_code.name == "ERROR"
    assert any(event.name == "exception" for event in server[0].events)
