"""X-Ray's OTLP endpoint with CloudWatch Transaction Search on: spans per second through the whole request
(decode, span events into ``aws/spans``, the indexed share converted to segments and summarised), at the default
1 % indexing and at 100 %.

Baseline measured in the same run: the same request decoded and converted to segment documents in process
(``spans_to_segments``), no HTTP, no storage. Its own local cloud in a temporary folder (ports chosen by the OS).
    python bench/xray_transaction_search.py
"""
from __future__ import annotations

import gzip
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402

from lab_app.localcloud.xray.otlp import spans_to_segments  # noqa: E402

TRACES, SPANS_PER_TRACE, REQUESTS = 500, 4, 4


def build_request() -> bytes:
    now = time.time_ns()
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    kv = rs.resource.attributes.add(key="service.name")
    kv.value.string_value = "backend-flask"
    scope = rs.scope_spans.add()
    scope.scope.name = "bench"
    for _ in range(TRACES):
        trace_id = bytes.fromhex(format(int(time.time()), "08x") + secrets.token_hex(12))   # random, like W3C ids
        parent = b""
        for s in range(SPANS_PER_TRACE):
            span = scope.spans.add(trace_id=trace_id, span_id=secrets.token_bytes(8), name=f"span{s}",
                                   kind=2 if s == 0 else 3, start_time_unix_nano=now + s,
                                   end_time_unix_nano=now + 10**6)
            if parent:
                span.parent_span_id = parent
            parent = span.span_id
            for key, value in (("http.method", "GET"), ("http.url", "http://127.0.0.1:4568/x")):
                kv = span.attributes.add(key=key)
                kv.value.string_value = value
    return req.SerializeToString()


def main() -> None:
    import boto3

    from lab_app.instrument import otel_xray
    from lab_app.localcloud.server import LocalCloud

    bodies = [build_request() for _ in range(REQUESTS)]
    n = TRACES * SPANS_PER_TRACE * REQUESTS
    t0 = time.perf_counter()
    for raw in bodies:
        spans_to_segments(ExportTraceServiceRequest.FromString(raw))
    baseline = time.perf_counter() - t0

    lc = LocalCloud(Path(tempfile.mkdtemp(prefix="bench-ts-")) / "lab", aws_port=0, otlp_port=0, daemon_port=0).start()
    os.environ.update(lc.env())
    try:
        policy = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "xray.amazonaws.com"}, "Action": "logs:PutLogEvents",
            "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:aws/spans:*"}]}
        boto3.client("logs").put_resource_policy(policyName="ts", policyDocument=json.dumps(policy))
        xray = boto3.client("xray")
        xray.update_trace_segment_destination(Destination="CloudWatchLogs")
        lc.context.clock.advance(3)
        assert xray.get_trace_segment_destination()["Status"] == "ACTIVE"
        session = otel_xray.signed_session()
        print(f"{n:,} spans in {REQUESTS} requests of {TRACES * SPANS_PER_TRACE:,} (random trace ids)")
        print(f"baseline, decode + convert in process: {n / baseline:,.0f} spans/s")
        for percentage in (1, 100):
            xray.update_indexing_rule(Name="Default", Rule={"Probabilistic": {"DesiredSamplingPercentage": percentage}})
            before = lc.component("xray").status()["traces"]
            fresh = [build_request() for _ in range(REQUESTS)]
            t0 = time.perf_counter()
            for raw in fresh:
                r = session.post(lc.aws_url + "/v1/traces", data=gzip.compress(raw), timeout=120,
                                 headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
                assert r.status_code == 200, r.text
            seconds = time.perf_counter() - t0
            indexed = lc.component("xray").status()["traces"] - before
            print(f"endpoint, {percentage:>3} % indexed: {n / seconds:,.0f} spans/s "
                  f"({seconds / baseline:.1f}x the baseline's time), {indexed} of {TRACES * REQUESTS} traces indexed")
    finally:
        lc.stop()


if __name__ == "__main__":
    main()
