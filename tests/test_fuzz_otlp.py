"""Fuzz: OTLP/HTTP traces and metrics, protobuf and JSON, on Honeycomb's ingest port and on X-Ray's OTLP endpoint
(2,000 generated requests each: random but well-typed messages, the same cut or flipped, wrong content types and
encodings). No 5xx, no request over 2 s; the good spans of a batch are kept; a known-good export lands afterwards."""
from __future__ import annotations

import base64
import gzip
import json
import time
import zlib

import boto3
import pytest
from fuzz_support import EXAMPLES, Inputs, WsgiWire, aws_wire, fuzz, service_model, signed
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from xray_helpers import enable_transaction_search

from lab_app import config

KEYS = ["service.name", "http.status_code", "http.response.status_code", "http.route", "http.method", "url.full",
        "aws.xray.annotations", "aws.xray.metadata.default", "error", "exception.message", "db.statement", "name",
        "duration_ms", "trace.trace_id", "", "a" * 300]


def otlp_json_document(message) -> dict:
    """A traces or metrics message as OTLP/JSON: protobuf's JSON mapping with the span ids in hex, as the spec
    writes them (protobuf's mapping has base64)."""
    document = json_format.MessageToDict(message)
    for resource in document.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return document


class OtlpInputs(Inputs):
    """Random OTLP messages, typed as the proto is (any value of every kind, ids of wrong lengths, times from 0 to
    2^64-1, end before start, unknown enum numbers)."""

    def any_value(self, depth: int = 0) -> AnyValue:
        r = self.r
        kind = r.randrange(7 if depth < 2 else 5)
        value = AnyValue()
        if kind == 0:
            value.string_value = self.text(0, r.choice([10, 10, 5000])).encode("utf-8", "replace").decode()
        elif kind == 1:
            value.int_value = r.randint(-(2 ** 63), 2 ** 63 - 1)
        elif kind == 2:
            value.double_value = r.choice([r.uniform(-1e9, 1e9), float("nan"), float("inf"), -0.0, 1e300])
        elif kind == 3:
            value.bool_value = r.random() < 0.5
        elif kind == 4:
            value.bytes_value = r.randbytes(r.randint(0, 20))
        elif kind == 5:
            value.array_value.values.extend(self.any_value(depth + 1) for _ in range(r.randint(0, 3)))
        else:
            value.kvlist_value.values.extend(self.key_value(depth + 1) for _ in range(r.randint(0, 3)))
        return value

    def key_value(self, depth: int = 0) -> KeyValue:
        key = self.r.choice(KEYS) if self.r.random() < 0.7 else self.text(0, 12).encode("utf-8", "replace").decode()
        return KeyValue(key=key, value=self.any_value(depth))

    def time_ns(self) -> int:
        r = self.r
        return r.choice([time.time_ns() - r.randint(0, 10 ** 12), 0, 2 ** 63, 2 ** 64 - 1, r.randint(0, 2 ** 64 - 1)])

    def traces(self) -> ExportTraceServiceRequest:
        r = self.r
        message = ExportTraceServiceRequest()
        for _ in range(r.randint(0, 3)):
            resource_spans = message.resource_spans.add()
            if r.random() < 0.9:
                resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(
                    string_value=r.choice(["backend-flask", "notifications", "", "x" * 300]))))
            resource_spans.resource.attributes.extend(self.key_value() for _ in range(r.randint(0, 3)))
            for _ in range(r.randint(1, 2)):
                scope = resource_spans.scope_spans.add()
                scope.scope.name = r.choice(["opentelemetry.instrumentation.flask", "", "x"])
                for _ in range(r.randint(0, 5)):
                    self.span(scope.spans.add())
        return message

    def span(self, span: trace_pb2.Span) -> None:
        r = self.r
        span.trace_id = r.randbytes(r.choice([16, 16, 16, 16, 0, 8, 17]))
        span.span_id = r.randbytes(r.choice([8, 8, 8, 0, 4, 9]))
        if r.random() < 0.5:
            span.parent_span_id = r.randbytes(r.choice([8, 8, 3]))
        span.name = self.text(0, r.choice([20, 20, 400])).encode("utf-8", "replace").decode()
        span.kind = r.randint(0, 7)
        span.start_time_unix_nano = self.time_ns()
        span.end_time_unix_nano = r.choice([span.start_time_unix_nano + r.randint(0, 10 ** 10), self.time_ns()]) % (
            2 ** 64)
        span.attributes.extend(self.key_value() for _ in range(r.randint(0, 5)))
        for _ in range(r.randint(0, 2)):
            event = span.events.add(name=self.text(0, 10).encode("utf-8", "replace").decode(),
                                    time_unix_nano=self.time_ns())
            event.attributes.extend(self.key_value() for _ in range(r.randint(0, 2)))
        for _ in range(r.randint(0, 1)):
            span.links.add(trace_id=r.randbytes(16), span_id=r.randbytes(8))
        span.status.code = r.randint(0, 3)
        span.status.message = self.text(0, 20).encode("utf-8", "replace").decode()

    def metrics(self) -> ExportMetricsServiceRequest:
        r = self.r
        message = ExportMetricsServiceRequest()
        for _ in range(r.randint(0, 2)):
            resource_metrics = message.resource_metrics.add()
            resource_metrics.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(
                string_value=r.choice(["backend-flask", "", "x" * 300]))))
            scope = resource_metrics.scope_metrics.add()
            for _ in range(r.randint(0, 4)):
                self.metric(scope.metrics.add())
        return message

    def metric(self, metric: metrics_pb2.Metric) -> None:
        r = self.r
        metric.name = r.choice(["http.server.duration", "cruddur.requests", "", self.text(0, 300).encode(
            "utf-8", "replace").decode()])
        metric.unit = r.choice(["ms", "1", "", "{request}"])
        kind = r.randrange(5)
        values = [r.uniform(-1e6, 1e6), float("nan"), float("inf"), 0.0]
        if kind in (0, 1):
            points = (metric.gauge if kind == 0 else metric.sum).data_points
            if kind == 1:
                metric.sum.aggregation_temporality = r.randint(0, 3)
                metric.sum.is_monotonic = r.random() < 0.5
            for _ in range(r.randint(0, 3)):
                point = points.add(time_unix_nano=self.time_ns(), start_time_unix_nano=self.time_ns(),
                                   flags=r.choice([0, 0, 1, 7]))
                if r.random() < 0.5:
                    point.as_double = r.choice(values)
                else:
                    point.as_int = r.randint(-(2 ** 63), 2 ** 63 - 1)
                point.attributes.extend(self.key_value() for _ in range(r.randint(0, 2)))
        elif kind == 2:
            metric.histogram.aggregation_temporality = r.randint(0, 3)
            for _ in range(r.randint(0, 3)):
                bounds = sorted(r.uniform(0, 1000) for _ in range(r.randint(0, 5)))
                if r.random() < 0.2:
                    bounds.reverse()
                counts = [r.randint(0, 100) for _ in range(len(bounds) + r.choice([1, 1, 1, 0, 2]))]
                if counts and r.random() < 0.1:
                    counts[0] = 2 ** 63             # still a valid fixed64 sum: past what the store counts
                metric.histogram.data_points.add(
                    time_unix_nano=self.time_ns(), count=r.choice([sum(counts), r.randint(0, 2 ** 64 - 1)]),
                    sum=r.choice(values), explicit_bounds=bounds, bucket_counts=counts, flags=r.choice([0, 1]),
                    min=r.choice(values), max=r.choice(values))
        elif kind == 3:
            metric.exponential_histogram.aggregation_temporality = r.randint(0, 3)
            for _ in range(r.randint(0, 2)):
                point = metric.exponential_histogram.data_points.add(
                    time_unix_nano=self.time_ns(), scale=r.randint(-20, 30), zero_count=r.randint(0, 10),
                    count=r.randint(0, 100), sum=r.choice(values))
                point.positive.offset = r.randint(-(2 ** 31), 2 ** 31 - 1)
                point.positive.bucket_counts.extend(r.randint(0, 10) for _ in range(r.randint(0, 6)))
                point.negative.offset = r.randint(-10, 10)
                point.negative.bucket_counts.extend(r.randint(0, 10) for _ in range(r.randint(0, 3)))
        else:
            for _ in range(r.randint(0, 2)):
                point = metric.summary.data_points.add(time_unix_nano=self.time_ns(), count=r.randint(0, 100),
                                                       sum=r.choice(values))
                for _ in range(r.randint(0, 3)):
                    point.quantile_values.add(quantile=r.choice([0.5, 0.99, -1.0, 2.0, float("nan")]),
                                              value=r.choice(values))

    def otlp_json(self, message) -> bytes:
        """OTLP/JSON as the spec writes it (hex ids), with a random node replaced by a hostile value sometimes."""
        document = otlp_json_document(message)
        if self.r.random() < 0.4:
            self.poison(document)
        return json.dumps(document, default=str).encode()

    def poison(self, node, depth: int = 0) -> None:
        r = self.r
        if isinstance(node, dict) and node:
            key = r.choice(sorted(node))
            if depth > 2 and r.random() < 0.5 or not isinstance(node[key], (dict, list)):
                node[key] = self.hostile()
            else:
                self.poison(node[key], depth + 1)
        elif isinstance(node, list) and node:
            index = r.randrange(len(node))
            if not isinstance(node[index], (dict, list)):
                node[index] = self.hostile()
            else:
                self.poison(node[index], depth + 1)

    def export(self, message, as_json: bool) -> tuple[bytes, dict[str, str]]:
        """(body, headers): mostly the message as a careful exporter sends it; sometimes cut, flipped, mislabelled
        or wrongly compressed."""
        r = self.r
        body = self.otlp_json(message) if as_json else message.SerializeToString()
        content_type = "application/json" if as_json else "application/x-protobuf"
        headers = {"Content-Type": content_type}
        pick = r.randrange(10)
        if pick == 0:
            body = self.raw_body(body)
        elif pick == 1:
            headers["Content-Type"] = r.choice(["text/plain", "", "application/json" if not as_json else
                                                "application/x-protobuf", "multipart/form-data; boundary=x"])
        elif pick == 2:
            headers["Content-Encoding"] = "gzip"
            body = gzip.compress(body, mtime=0)
        elif pick == 3:
            headers["Content-Encoding"] = r.choice(["gzip", "deflate", "br", "zstd", "identity, gzip", "x" * 100])
            body = r.choice([body, gzip.compress(body, mtime=0)[:-5], zlib.compress(body)])
        return body, headers


@pytest.fixture(scope="module")
def otlp_wire(module_cloud):
    honeycomb = module_cloud.component("honeycomb")
    return WsgiWire(honeycomb._server.app, module_cloud.ports["otlp"])


HONEYCOMB = {"X-Honeycomb-Team": config.LOCAL_HONEYCOMB_KEY}


@pytest.mark.parametrize("as_json", [False, True], ids=["protobuf", "json"])
def test_honeycomb_traces(module_cloud, otlp_wire, as_json):
    inputs = OtlpInputs(f"honeycomb-traces-{as_json}")

    def requests():
        for _ in range(EXAMPLES):
            body, headers = inputs.export(inputs.traces(), as_json)
            yield body, {**headers, **HONEYCOMB}

    fuzz(f"honeycomb traces {'json' if as_json else 'protobuf'}", requests(),
         lambda item: otlp_wire.send("POST", "/v1/traces", *item))
    known_good_trace(module_cloud, otlp_wire, as_json)
    nothing_acknowledged_was_lost(module_cloud)


def nothing_acknowledged_was_lost(cloud) -> None:
    """Every export answered 200 was inserted: the writers insert after the answer, so a value the table cannot
    hold would lose acknowledged rows (and those queued with them) without any 5xx."""
    honeycomb = cloud.component("honeycomb")
    assert honeycomb.flush_pending(10)
    for writer in (honeycomb.backend.writer, honeycomb.metrics.writer):
        assert writer.write_errors == 0, writer.last_error


def known_good_trace(cloud, wire, as_json: bool) -> None:
    """One good span beside one with a time past 2^63: 200 with partial_success (1 rejected), and the good one is
    stored."""
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="after-fuzz")))
    scope = resource_spans.scope_spans.add()
    now = time.time_ns()
    marker = f"after-fuzz-{now}"
    scope.spans.add(trace_id=bytes(range(16)), span_id=bytes(range(8)), name=marker, kind=2,
                    start_time_unix_nano=now, end_time_unix_nano=now + 5_000_000)
    scope.spans.add(trace_id=bytes(range(16)), span_id=bytes(range(1, 9)), name="bad", kind=2,
                    start_time_unix_nano=2 ** 63, end_time_unix_nano=2 ** 63 + 1)
    body = json.dumps(otlp_json_document(message)).encode() if as_json else message.SerializeToString()
    answer = wire.send("POST", "/v1/traces", body, {"Content-Type": "application/json" if as_json else
                                                    "application/x-protobuf", **HONEYCOMB})
    assert answer.status == 200, answer.body[:300]
    if as_json:
        assert json.loads(answer.body)["partialSuccess"]["rejectedSpans"] in (1, "1")
    else:
        reply = ExportTraceServiceResponse()
        reply.ParseFromString(answer.body)
        assert reply.partial_success.rejected_spans == 1
    assert cloud.component("honeycomb").flush_pending(10)
    assert cloud.store.execute("SELECT count(*) FROM otlp_spans WHERE name = ?", [marker]) == [(1,)]


@pytest.mark.parametrize("as_json", [False, True], ids=["protobuf", "json"])
def test_honeycomb_metrics(module_cloud, otlp_wire, as_json):
    inputs = OtlpInputs(f"honeycomb-metrics-{as_json}")

    def requests():
        for _ in range(EXAMPLES):
            body, headers = inputs.export(inputs.metrics(), as_json)
            yield body, {**headers, **HONEYCOMB}

    fuzz(f"honeycomb metrics {'json' if as_json else 'protobuf'}", requests(),
         lambda item: otlp_wire.send("POST", "/v1/metrics", *item))
    message = ExportMetricsServiceRequest()
    metric = message.resource_metrics.add().scope_metrics.add().metrics.add(name="after.fuzz", unit="1")
    metric.gauge.data_points.add(time_unix_nano=time.time_ns(), as_double=4.0)
    answer = otlp_wire.send("POST", "/v1/metrics", message.SerializeToString(),
                            {"Content-Type": "application/x-protobuf", **HONEYCOMB})
    assert answer.status == 200, answer.body[:300]
    nothing_acknowledged_was_lost(module_cloud)


def test_xray_otlp_endpoint(module_cloud):
    """X-Ray's OTLP endpoint (Transaction Search on), signed for xray as the ADOT exporter signs."""
    enable_transaction_search(module_cloud)
    wire = aws_wire(module_cloud)
    model = service_model("xray")
    inputs = OtlpInputs("xray-otlp")

    def requests():
        for _ in range(EXAMPLES):
            body, headers = inputs.export(inputs.traces(), inputs.r.random() < 0.3)
            yield body, signed(model, "POST", f"http://{wire.host}:{wire.port}/v1/traces", body, headers)

    fuzz("xray otlp", requests(), lambda item: wire.send("POST", "/v1/traces", *item))
    trace_id = "%08x" % int(time.time()) + "0123456789abcdef01234567"
    message = ExportTraceServiceRequest()
    resource_spans = message.resource_spans.add()
    resource_spans.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value="after-fuzz")))
    now = time.time_ns()
    resource_spans.scope_spans.add().spans.add(trace_id=bytes.fromhex(trace_id), span_id=bytes(range(1, 9)),
                                               name="after-fuzz", kind=2, start_time_unix_nano=now,
                                               end_time_unix_nano=now + 5_000_000)
    body = message.SerializeToString()
    headers = signed(model, "POST", f"http://{wire.host}:{wire.port}/v1/traces", body,
                     {"Content-Type": "application/x-protobuf"})
    assert wire.send("POST", "/v1/traces", body, headers).status == 200
    xray_id = f"1-{trace_id[:8]}-{trace_id[8:]}"
    traces = boto3.client("xray").batch_get_traces(TraceIds=[xray_id])["Traces"]
    assert [t["Id"] for t in traces] == [xray_id]
