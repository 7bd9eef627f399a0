"""The one OTLP/HTTP layer (lab_app.localcloud.otlp): request checks, bounded decompression, decoding, replies;
and the two receivers built on it (Honeycomb's ingest, X-Ray's OTLP endpoint) agreeing on the same bodies."""
from __future__ import annotations

import base64
import gzip
import json
import time
import zlib

import pytest
import requests
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request
from xray_helpers import enable_transaction_search

from lab_app import config
from lab_app.instrument import otel_xray
from lab_app.localcloud import otlp
from lab_app.localcloud.otlp import decode

TRACE, SPAN, PARENT = "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8", "0102030405060708"  # pragma: allowlist secret


def request(body: bytes, content_type: str | None = "application/x-protobuf", encoding: str | None = None) -> Request:
    headers = {"Content-Encoding": encoding} if encoding else {}
    builder = EnvironBuilder(method="POST", path="/v1/traces", data=body, headers=headers, content_type=content_type)
    return Request(builder.get_environ())


def read(body: bytes, **kwargs) -> otlp.Body:
    limits = {"max_body_bytes": 1000, "max_decompressed_bytes": 2000}
    limits.update({k: kwargs.pop(k) for k in list(kwargs) if k in limits})
    return otlp.read_body(request(body, **kwargs), **limits)


def json_body(**id_fields) -> dict:
    """One span as OTLP/JSON; ``id_fields`` are the id keys as a sender writes them."""
    now = time.time_ns()
    span = {"name": "GET /x", "kind": 2, "startTimeUnixNano": str(now), "endTimeUnixNano": str(now + 5_000_000),
            **id_fields, "links": [{"traceId": TRACE, "spanId": PARENT}]}
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name",
                                                            "value": {"stringValue": "agree"}}]},
                               "scopeSpans": [{"spans": [span]}]}]}


# --- request checks and decompression ------------------------------------------------------------
@pytest.mark.parametrize("content_type,is_json", [("application/x-protobuf", False), ("application/protobuf", False),
                                                  ("application/json", True), ("application/json; charset=utf-8", True)])
def test_content_types(content_type, is_json):
    assert read(b"{}", content_type=content_type) == otlp.Body(b"{}", is_json)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
def test_other_content_types_are_415(content_type):
    with pytest.raises(otlp.OtlpError) as err:
        read(b"x", content_type=content_type)
    assert err.value.status == 415 and err.value.code == otlp.http.UNIMPLEMENTED


def test_encodings_are_the_receivers_choice():
    data = b"\x0a\x00" * 10
    assert read(gzip.compress(data), encoding="gzip").data == data
    assert read(zlib.compress(data), encoding="deflate").data == data
    assert read(data, encoding="none").data == data
    with pytest.raises(otlp.OtlpError) as err:
        otlp.read_body(request(zlib.compress(data), encoding="deflate"), 1000, 1000, encodings=("gzip",))
    assert err.value.status == 415 and "gzip" in err.value.message
    with pytest.raises(otlp.OtlpError) as err:
        read(data, encoding="br")
    assert err.value.status == 415


def test_size_limits_on_the_wire_and_after_decompression():
    with pytest.raises(otlp.OtlpError) as err:
        read(b"x" * 1001)
    assert err.value.status == 413 and err.value.code == otlp.http.RESOURCE_EXHAUSTED
    bomb = gzip.compress(b"\x00" * 10_000_000)  # 10 MB of zeros in about 10 KB
    with pytest.raises(otlp.OtlpError) as err:
        read(bomb, encoding="gzip", max_body_bytes=len(bomb))
    assert err.value.status == 413
    assert read(gzip.compress(b"y" * 2000), encoding="gzip").data == b"y" * 2000  # exactly at the limit
    with pytest.raises(otlp.OtlpError) as err:
        read(b"y" * 1000, max_body_bytes=1000, max_decompressed_bytes=999)  # identity counts too
    assert err.value.status == 413


def test_broken_compressed_bodies_are_400():
    with pytest.raises(otlp.OtlpError) as err:
        otlp.http.decompress(gzip.compress(b"abc" * 100)[:-6], "gzip", 1000)
    assert err.value.status == 400 and "truncated" in err.value.message
    with pytest.raises(otlp.OtlpError) as err:
        otlp.http.decompress(b"not gzip at all", "gzip", 100)
    assert err.value.status == 400


# --- decoding ------------------------------------------------------------------------------------
@pytest.mark.parametrize("names", [("traceId", "spanId", "parentSpanId"), ("trace_id", "span_id", "parent_span_id")])
def test_hex_ids_in_either_field_spelling(names):
    body = json_body(**dict(zip(names, (TRACE, SPAN, PARENT))))
    message = otlp.parse(otlp.Body(json.dumps(body).encode(), True), ExportTraceServiceRequest)
    span = message.resource_spans[0].scope_spans[0].spans[0]
    assert (span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex()) == (TRACE, SPAN, PARENT)
    assert span.links[0].trace_id.hex() == TRACE and span.links[0].span_id.hex() == PARENT


@pytest.mark.parametrize("bad", ["zz-not-hex", "abc", base64.b64encode(bytes.fromhex(SPAN)).decode()])
def test_ids_that_are_not_hex_are_400(bad):
    body = json.dumps(json_body(traceId=TRACE, spanId=bad)).encode()
    with pytest.raises(otlp.OtlpError) as err:
        otlp.parse(otlp.Body(body, True), ExportTraceServiceRequest)
    assert err.value.status == 400 and err.value.code == otlp.http.INVALID_ARGUMENT and "spanId" in err.value.message


def test_unknown_json_fields_are_ignored_as_the_spec_says():
    body = json_body(traceId=TRACE, spanId=SPAN)
    body["resourceSpans"][0]["futureField"] = {"x": 1}
    message = otlp.parse(otlp.Body(json.dumps(body).encode(), True), ExportTraceServiceRequest)
    assert len(message.resource_spans[0].scope_spans[0].spans) == 1


@pytest.mark.parametrize("data,is_json", [(b"\xff\xff\xff\xff\x0f", False), (b"{not json", True), (b"[1, 2]", True),
                                          (json.dumps({"resourceSpans": "nope"}).encode(), True), (b"\xff", True)])
def test_bodies_that_do_not_decode_are_400(data, is_json):
    with pytest.raises(otlp.OtlpError) as err:
        otlp.parse(otlp.Body(data, is_json), ExportTraceServiceRequest)
    assert err.value.status == 400 and "ExportTraceServiceRequest" in err.value.message


def test_any_value_and_attributes():
    kvs = [KeyValue(key="s", value=AnyValue(string_value="x")), KeyValue(key="i", value=AnyValue(int_value=7)),
           KeyValue(key="d", value=AnyValue(double_value=0.5)), KeyValue(key="b", value=AnyValue(bool_value=False)),
           KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\xff")), KeyValue(key="empty", value=AnyValue())]
    nested = KeyValue(key="nested")
    nested.value.array_value.values.add(int_value=1)
    inner = nested.value.array_value.values.add()
    inner.kvlist_value.values.add(key="k").value.string_value = "v"
    kvs += [nested, KeyValue(key="s", value=AnyValue(string_value="later wins"))]
    assert decode.attributes(kvs) == {"s": "later wins", "i": 7, "d": 0.5, "b": False, "raw": "AP8=", "empty": None,
                                      "nested": [1, {"k": "v"}]}


# --- replies -------------------------------------------------------------------------------------
def test_replies():
    ok = otlp.success_reply(ExportTraceServiceResponse(), is_json=False)
    assert ok.status_code == 200 and ok.content_type == "application/x-protobuf" and ok.get_data() == b""
    partial = otlp.success_reply(ExportTraceServiceResponse(), is_json=True, rejected=2, error_message="2 too old")
    assert json.loads(partial.get_data()) == {"partialSuccess": {"rejectedSpans": "2", "errorMessage": "2 too old"}}
    error = otlp.OtlpError(415, otlp.http.UNIMPLEMENTED, "send protobuf")
    as_pb = otlp.error_reply(error, is_json=False)
    assert as_pb.status_code == 415 and status_pb2.Status.FromString(as_pb.get_data()).message == "send protobuf"
    assert json.loads(otlp.error_reply(error, is_json=True).get_data()) == {"code": 12, "message": "send protobuf"}


# --- both receivers on the same bodies -----------------------------------------------------------
def _post_both(cloud, body: bytes, content_type: str, encoding: str | None = None):
    enable_transaction_search(cloud, percentage=100)       # X-Ray's OTLP endpoint needs Transaction Search
    headers = {"Content-Type": content_type, **({"Content-Encoding": encoding} if encoding else {})}
    honeycomb = requests.post(f"http://127.0.0.1:{cloud.ports['otlp']}/v1/traces", data=body, timeout=10,
                              headers={**headers, "x-honeycomb-team": config.LOCAL_HONEYCOMB_KEY})
    xray = requests.post(cloud.aws_url + "/v1/traces", data=body, headers=headers, timeout=10,
                         auth=otel_xray.SigV4Auth(region_name="us-east-1"))
    return honeycomb, xray


@pytest.mark.parametrize("names", [("traceId", "spanId"), ("trace_id", "span_id")])
def test_both_receivers_take_otlp_json_with_hex_ids(cloud, names):
    body = json.dumps(json_body(**dict(zip(names, (TRACE, SPAN))))).encode()
    honeycomb, xray = _post_both(cloud, body, "application/json")
    assert (honeycomb.status_code, xray.status_code) == (200, 200), (honeycomb.text, xray.text)
    assert json_format.Parse(xray.text, ExportTraceServiceResponse()).partial_success.rejected_spans == 0
    assert cloud.component("honeycomb").flush_pending(10)   # a reader of the table waits for acknowledged spans
    assert cloud.store.execute("SELECT span_id FROM otlp_spans") == [(SPAN,)]
    assert cloud.component("xray-otlp").status()["segments"] == 1


@pytest.mark.parametrize("body,content_type,encoding,status", [
    (b"hello", "text/plain", None, 415),
    (b"\xff\xff\xff\xff\x0f", "application/x-protobuf", None, 400),
    (b"not gzip at all", "application/x-protobuf", "gzip", 400),
    (b"{not json", "application/json", None, 400),
    (json.dumps(json_body(traceId="zz", spanId=SPAN)).encode(), "application/json", None, 400),
    (b"x", "application/x-protobuf", "br", 415),
])
def test_both_receivers_refuse_the_same_bodies_the_same_way(cloud, body, content_type, encoding, status):
    for reply in _post_both(cloud, body, content_type, encoding):
        assert reply.status_code == status, reply.text
        if content_type == "application/json":
            assert reply.json()["message"]
        else:
            assert status_pb2.Status.FromString(reply.content).message
