"""OTLP spans -> X-Ray segment documents, and X-Ray's OTLP endpoint on the AWS port."""
from __future__ import annotations

import gzip
import json
import time

import pytest
import requests
from xray_helpers import RecordingXRay, enable_transaction_search

from lab_app.localcloud.logs import Logs
from lab_app.localcloud.server import LocalCloud
from lab_app.localcloud.xray.otlp import XRayOTLP, otel_trace_id, spans_to_segments, xray_trace_id

NOW = 1_700_000_000.0  # fixed "now" so the 14-day window check is deterministic
T0 = int(NOW * 1e9)
TRACE = "6553f100" + "a1b2c3d4e5f60718293a4b5c"  # 0x6553f100 = 1700000000
BACKEND = {"service.name": "backend-flask", "telemetry.sdk.language": "python", "telemetry.sdk.version": "1.45.1"}
NOTIFS = {"service.name": "notifications", "telemetry.sdk.language": "python"}


def span_tree() -> list[dict]:
    """backend server span -> internal custom span, and -> client call -> notifications server span (500)."""
    return [
        {"trace_id": TRACE, "span_id": "00000000000000a1", "parent_span_id": None, "name": "/api/activities/home",
         "kind": "SERVER", "start_time_unix_nano": T0, "end_time_unix_nano": T0 + 250_000_000,
         "attributes": {"http.method": "GET", "http.scheme": "http", "http.host": "127.0.0.1:4567",
                        "http.target": "/api/activities/home", "http.status_code": 200,
                        "http.user_agent": "traffic/1.0", "http.route": "/api/activities/home",
                        "app.result_length": 5, "app.now": "2024-01-01",
                        "aws.xray.annotations": ["app.result_length"],
                        "aws.xray.metadata.debug": json.dumps({"cache": "miss"})},
         "status": {"code": "UNSET"}, "resource": BACKEND},
        {"trace_id": TRACE, "span_id": "00000000000000a2", "parent_span_id": "00000000000000a1",
         "name": "home-activities", "kind": "INTERNAL", "start_time_unix_nano": T0 + 10_000_000,
         "end_time_unix_nano": T0 + 20_000_000, "attributes": {"app.user": "andrewbrown"}, "resource": BACKEND},
        {"trace_id": TRACE, "span_id": "00000000000000a3", "parent_span_id": "00000000000000a1", "name": "GET",
         "kind": "CLIENT", "start_time_unix_nano": T0 + 30_000_000, "end_time_unix_nano": T0 + 230_000_000,
         "attributes": {"http.method": "GET", "http.url": "http://127.0.0.1:4568/notifications",
                        "http.status_code": 500, "peer.service": "notifications"},
         "status": {"code": "ERROR"}, "resource": BACKEND},
        {"trace_id": TRACE, "span_id": "00000000000000b1", "parent_span_id": "00000000000000a3",
         "name": "/notifications", "kind": 2, "start_time_unix_nano": T0 + 40_000_000,
         "end_time_unix_nano": T0 + 220_000_000,
         "attributes": {"http.method": "GET", "http.scheme": "http", "http.host": "127.0.0.1:4568",
                        "http.target": "/notifications", "http.status_code": 500},
         "status": {"code": 2, "message": "downstream failure"},
         "events": [{"name": "exception", "time_unix_nano": T0 + 200_000_000,
                     "attributes": {"exception.type": "RuntimeError", "exception.message": "injected fault",
                                    "exception.stacktrace": 'Traceback (most recent call last):\n'
                                    '  File "/app/notifications.py", line 12, in handler\n    boom()\n'
                                    '  File "/app/faults.py", line 40, in boom\n    raise RuntimeError\n'
                                    'RuntimeError: injected fault'}}],
         "resource": NOTIFS},
    ]


def by_id(docs):
    return {d["id"]: d for d in docs}


def test_trace_id_round_trip_matches_the_documented_example():
    # the X-Ray developer guide's example id
    assert xray_trace_id("5759e988bd862e3fe1be46a994272793") == "1-5759e988-bd862e3fe1be46a994272793"
    assert otel_trace_id("1-5759e988-bd862e3fe1be46a994272793") == "5759e988bd862e3fe1be46a994272793"
    with pytest.raises(ValueError):
        otel_trace_id("5759e988bd862e3fe1be46a994272793")


def test_span_tree_becomes_segments_and_remote_subsegments():
    docs = by_id(spans_to_segments(span_tree(), now=NOW))
    assert set(docs) == {"00000000000000a1", "00000000000000a2", "00000000000000a3", "00000000000000b1"}
    root, inner, client, downstream = (docs[i] for i in ("00000000000000a1", "00000000000000a2",
                                                         "00000000000000a3", "00000000000000b1"))
    xid = "1-6553f100-a1b2c3d4e5f60718293a4b5c"
    assert {d["trace_id"] for d in docs.values()} == {xid}
    # server spans are segments named after the service; nothing else is
    assert "type" not in root and "parent_id" not in root and root["name"] == "backend-flask"
    assert "type" not in downstream and downstream["name"] == "notifications"
    assert downstream["parent_id"] == "00000000000000a3"
    assert inner["type"] == "subsegment" and inner["parent_id"] == "00000000000000a1"
    assert inner["name"] == "home-activities" and "namespace" not in inner
    assert client["type"] == "subsegment" and client["namespace"] == "remote" and client["name"] == "notifications"
    # times in epoch seconds
    assert root["start_time"] == pytest.approx(NOW) and root["end_time"] == pytest.approx(NOW + 0.25)
    # http block built from the attributes
    assert root["http"] == {"request": {"method": "GET", "user_agent": "traffic/1.0",
                                        "url": "http://127.0.0.1:4567/api/activities/home"},
                            "response": {"status": 200}}
    assert client["http"]["request"]["url"] == "http://127.0.0.1:4568/notifications"
    # error / fault / throttle
    assert (root["error"], root["fault"], root["throttle"]) == (False, False, False)
    assert (client["error"], client["fault"]) == (False, True)
    assert downstream["fault"] is True
    exc = downstream["cause"]["exceptions"][0]
    assert (exc["type"], exc["message"], exc["remote"]) == ("RuntimeError", "injected fault", False)
    assert [f["label"] for f in exc["stack"]] == ["boom", "handler"]  # innermost first
    # annotations only for listed keys; the rest is metadata
    assert root["annotations"] == {"app_result_length": 5}
    assert root["metadata"]["default"]["app.now"] == "2024-01-01"
    assert root["metadata"]["default"]["http.route"] == "/api/activities/home"
    assert root["metadata"]["default"]["otel.resource.service.name"] == "backend-flask"
    assert root["metadata"]["debug"] == {"cache": "miss"}
    assert "aws.xray.annotations" not in json.dumps(root)
    assert "http.method" not in root["metadata"]["default"]
    assert inner["metadata"] == {"default": {"app.user": "andrewbrown"}} and "annotations" not in inner
    assert root["aws"]["xray"]["sdk"] == "opentelemetry for python"


def test_status_codes_map_to_error_fault_throttle():
    base = span_tree()[0]
    cases = {200: (False, False, False), 404: (True, False, False), 429: (True, False, True),
             503: (False, True, False)}
    for code, expected in cases.items():
        span = dict(base, attributes={"http.status_code": code})
        doc = spans_to_segments([span], now=NOW)[0]
        assert (doc["error"], doc["fault"], doc["throttle"]) == expected, code
    # no HTTP status: the span status decides (ERROR -> fault)
    doc = spans_to_segments([dict(base, attributes={}, status={"code": "ERROR", "message": "x"})], now=NOW)[0]
    assert (doc["error"], doc["fault"]) == (False, True) and doc["cause"]["exceptions"][0]["message"] == "x"


def test_indexed_attributes_and_key_fixing():
    span = dict(span_tree()[1], attributes={"app.user": "x", "n": 1.5, "bad": [1, 2], "ok": True})
    doc = spans_to_segments([span], indexed_attributes=["app.user", "n", "bad"], now=NOW)[0]
    assert doc["annotations"] == {"app_user": "x", "n": 1.5}
    assert doc["metadata"]["default"] == {"bad": [1, 2], "ok": True}
    every = spans_to_segments([span], index_all_attributes=True, now=NOW)[0]
    assert every["annotations"] == {"app_user": "x", "n": 1.5, "ok": True}


def test_aws_sdk_client_spans_get_the_aws_namespace():
    span = dict(span_tree()[2], attributes={"rpc.system": "aws-api", "rpc.service": "DynamoDB",
                                            "aws.operation": "GetItem", "aws.region": "us-east-1"})
    doc = spans_to_segments([span], now=NOW)[0]
    assert doc["namespace"] == "aws" and doc["name"] == "DynamoDB"
    assert doc["aws"] == {"operation": "GetItem", "region": "us-east-1"}


def test_invalid_spans_are_reported_not_converted():
    good, = spans_to_segments([span_tree()[0]], now=NOW)
    errors: list = []
    bad_time = dict(span_tree()[0], start_time_unix_nano=T0 - 15 * 86400 * 10**9)
    bad_id = dict(span_tree()[0], trace_id="xyz")
    assert spans_to_segments([bad_time, bad_id], now=NOW, errors=errors) == []
    assert len(errors) == 2 and "window" in errors[0][1] and "32 hex" in errors[1][1]
    assert good["id"] == "00000000000000a1"


def test_protobuf_from_the_real_sdk_converts_the_same_way():
    """A span tree made by the OpenTelemetry SDK, encoded by the OTLP exporter's encoder."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=AwsXRayIdGenerator(), resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("GET /x", kind=SpanKind.SERVER, attributes={"http.method": "GET"}) as root:
        with tracer.start_as_current_span("call", kind=SpanKind.CLIENT,
                                          attributes={"peer.service": "down", "http.status_code": 429}):
            pass
    provider.shutdown()
    request = encode_spans(exporter.get_finished_spans())
    docs = by_id(spans_to_segments(request))
    root_id = format(root.get_span_context().span_id, "016x")
    trace_hex = format(root.get_span_context().trace_id, "032x")
    assert docs[root_id]["trace_id"] == f"1-{trace_hex[:8]}-{trace_hex[8:]}"
    assert abs(int(trace_hex[:8], 16) - time.time()) < 60  # the X-Ray id generator's timestamp
    child, = [d for d in docs.values() if d["id"] != root_id]
    assert child["namespace"] == "remote" and child["name"] == "down" and child["throttle"] is True
    assert docs[root_id]["name"] == "svc" and docs[root_id]["http"]["request"]["method"] == "GET"


# --- the endpoint -----------------------------------------------------------------------------------------

def _proto_body(spans: list[dict]) -> bytes:
    """Encode span dicts as an ExportTraceServiceRequest by hand (independent of the converter's decoder)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def kv(key, value):
        if isinstance(value, bool):
            return KeyValue(key=key, value=AnyValue(bool_value=value))
        if isinstance(value, int):
            return KeyValue(key=key, value=AnyValue(int_value=value))
        if isinstance(value, list):
            v = AnyValue()
            for item in value:
                v.array_value.values.add(string_value=item)
            return KeyValue(key=key, value=v)
        return KeyValue(key=key, value=AnyValue(string_value=str(value)))

    req = ExportTraceServiceRequest()
    for s in spans:
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(kv(k, v) for k, v in s["resource"].items())
        p = rs.scope_spans.add().spans.add()
        p.trace_id = bytes.fromhex(s["trace_id"])
        p.span_id = bytes.fromhex(s["span_id"])
        if s.get("parent_span_id"):
            p.parent_span_id = bytes.fromhex(s["parent_span_id"])
        p.name = s["name"]
        p.kind = {"SERVER": 2, "CLIENT": 3, "INTERNAL": 1, 2: 2}[s["kind"]]
        p.start_time_unix_nano = s["start_time_unix_nano"]
        p.end_time_unix_nano = s["end_time_unix_nano"]
        p.attributes.extend(kv(k, v) for k, v in s.get("attributes", {}).items())
    return req.SerializeToString()


def _recent_tree() -> list[dict]:
    now_ns = time.time_ns()
    trace = format(int(time.time()), "08x") + "0123456789abcdef01234567"
    tree = span_tree()
    for s in tree:
        s["trace_id"] = trace
        s["start_time_unix_nano"] += now_ns - T0
        s["end_time_unix_nano"] += now_ns - T0
    return tree


# A well-formed SigV4 header with a key the local cloud does not know: accepted unverified (the local key's
# signatures are checked, see tests/test_sigv4.py)
SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIAUNKNOWNKEY000001/20240101/us-east-1/xray/aws4_request, "  # pragma: allowlist secret
                           "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
          "X-Amz-Date": "20240101T000000Z"}


@pytest.fixture
def otlp_cloud(tmp_path):
    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0,
                    components=[XRayOTLP, RecordingXRay, Logs]).start()
    yield lc
    lc.stop()


def test_endpoint_decodes_gzip_protobuf_and_hands_documents_to_xray(otlp_cloud):
    body = gzip.compress(_proto_body(_recent_tree()))
    r = requests.post(otlp_cloud.aws_url + "/v1/traces", data=body, timeout=10,
                      headers={**SIGNED, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-protobuf"
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    resp = ExportTraceServiceResponse.FromString(r.content)
    assert resp.partial_success.rejected_spans == 0
    docs = by_id(otlp_cloud.component("xray").docs)
    assert len(docs) == 4 and docs["00000000000000a3"]["namespace"] == "remote"
    assert docs["00000000000000a1"]["annotations"] == {"app_result_length": 5}
    assert otlp_cloud.component("xray-otlp").status()["segments"] == 4


def test_endpoint_accepts_otlp_json_with_hex_ids(otlp_cloud):
    tree = _recent_tree()[:1]
    s = tree[0]
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                            "value": {"stringValue": "backend-flask"}}]},
                               "scopeSpans": [{"spans": [{"traceId": s["trace_id"], "spanId": s["span_id"],
                                                          "name": "x", "kind": 2,
                                                          "startTimeUnixNano": str(s["start_time_unix_nano"]),
                                                          "endTimeUnixNano": str(s["end_time_unix_nano"])}]}]}]}
    r = requests.post(otlp_cloud.aws_url + "/v1/traces", json=body, headers=SIGNED, timeout=10)
    assert r.status_code == 200, r.text
    doc, = otlp_cloud.component("xray").docs
    assert doc["trace_id"] == xray_trace_id(s["trace_id"]) and doc["name"] == "backend-flask"


@pytest.mark.parametrize("headers, body, status", [
    ({"Content-Type": "application/x-protobuf"}, b"\x00", 403),                      # unsigned
    ({**SIGNED, "Content-Type": "text/plain"}, b"hi", 415),                           # wrong media type
    ({**SIGNED, "Content-Type": "application/x-protobuf"}, b"\xff\xff\xff", 400),     # not protobuf
    ({**SIGNED, "Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, b"nope", 400),
    ({**SIGNED, "Content-Type": "application/json"}, b"{not json", 400),
    ({**SIGNED, "Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, b"x", 415),
])
def test_bad_requests_get_otlp_errors_and_the_server_keeps_serving(otlp_cloud, headers, body, status):
    from google.rpc import status_pb2

    r = requests.post(otlp_cloud.aws_url + "/v1/traces", data=body, headers=headers, timeout=10)
    assert r.status_code == status
    if r.headers["Content-Type"] == "application/x-protobuf":
        assert status_pb2.Status.FromString(r.content).message
    ok = requests.post(otlp_cloud.aws_url + "/v1/traces", data=_proto_body(_recent_tree()), timeout=10,
                       headers={**SIGNED, "Content-Type": "application/x-protobuf"})
    assert ok.status_code == 200


def test_without_the_xray_component_the_endpoint_says_so(tmp_path):
    lc = LocalCloud(tmp_path / "lab", aws_port=0, otlp_port=0, daemon_port=0,
                    components=[XRayOTLP]).start()
    try:
        r = requests.post(lc.aws_url + "/v1/traces", data=_proto_body(_recent_tree()), timeout=10,
                          headers={**SIGNED, "Content-Type": "application/x-protobuf"})
        assert r.status_code == 501
        from google.rpc import status_pb2

        assert "X-Ray stand-in" in status_pb2.Status.FromString(r.content).message
    finally:
        lc.stop()


def test_old_spans_are_rejected_as_partial_success(otlp_cloud):
    tree = _recent_tree()
    tree[1]["start_time_unix_nano"] -= 20 * 86400 * 10**9
    r = requests.post(otlp_cloud.aws_url + "/v1/traces", data=_proto_body(tree), timeout=10,
                      headers={**SIGNED, "Content-Type": "application/x-protobuf"})
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    resp = ExportTraceServiceResponse.FromString(r.content)
    assert r.status_code == 200 and resp.partial_success.rejected_spans == 1
    assert "00000000000000a2" in resp.partial_success.error_message
    assert len(otlp_cloud.component("xray").docs) == 3



# --- through the real X-Ray stand-in, read back with boto3 ------------------------------------------------
def test_span_tree_shows_up_in_trace_summaries_and_the_service_graph(cloud):
    import datetime as dt

    import boto3

    from lab_app.instrument import otel_xray

    enable_transaction_search(cloud, percentage=100)
    tree = _recent_tree()
    session = otel_xray.signed_session()
    r = session.post(cloud.aws_url + "/v1/traces", data=gzip.compress(_proto_body(tree)), timeout=10,
                     headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
    assert r.status_code == 200
    xray = boto3.client("xray")
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    start = end - dt.timedelta(minutes=10)
    xid = xray_trace_id(tree[0]["trace_id"])

    summaries = xray.get_trace_summaries(StartTime=start, EndTime=end)["TraceSummaries"]
    summary, = [s for s in summaries if s["Id"] == xid]
    # HasFault describes the root segment (backend-flask answered 200), not the failed call below it
    assert summary["HasFault"] is False and summary["HasError"] is False
    assert summary["Http"]["HttpStatus"] == 200 and summary["Http"]["HttpMethod"] == "GET"
    assert summary["Duration"] == pytest.approx(0.25, abs=1e-3)
    assert "app_result_length" in summary.get("Annotations", {})
    filtered = xray.get_trace_summaries(StartTime=start, EndTime=end,
                                        FilterExpression="annotation.app_result_length = 5")["TraceSummaries"]
    assert [s["Id"] for s in filtered] == [xid]

    trace, = xray.batch_get_traces(TraceIds=[xid])["Traces"]
    docs = {json.loads(s["Document"])["id"]: json.loads(s["Document"]) for s in trace["Segments"]}
    assert set(docs) == {"00000000000000a1", "00000000000000b1"}  # two segments; subsegments nested inside
    nested = {sub["id"] for sub in docs["00000000000000a1"].get("subsegments", [])}
    assert nested == {"00000000000000a2", "00000000000000a3"}

    graph = xray.get_service_graph(StartTime=start, EndTime=end)["Services"]
    by_name = {s["Name"]: s for s in graph}
    assert {"backend-flask", "notifications"} <= set(by_name)
    edges = by_name["backend-flask"]["Edges"]
    target_ids = {e["ReferenceId"] for e in edges}
    assert by_name["notifications"]["ReferenceId"] in target_ids
    assert by_name["notifications"]["SummaryStatistics"]["FaultStatistics"]["TotalCount"] == 1
