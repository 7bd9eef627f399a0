"""OTLP spans -> X-Ray segment documents: conversion throughput, and what it costs over decoding alone.

Baseline measured in the same run: decoding the same ExportTraceServiceRequest into plain span records
(``as_spans``), which any receiver has to do; the ratio says what the X-Ray mapping adds.
    python bench/xray_otlp.py
"""
from __future__ import annotations

import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from lab_app.localcloud.xray.otlp import as_spans, spans_to_segments

TRACES, SPANS_PER_TRACE, ROUNDS = 2000, 4, 3


def build_request() -> ExportTraceServiceRequest:
    now = time.time_ns()
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    for key, value in (("service.name", "backend-flask"), ("telemetry.sdk.language", "python")):
        kv = rs.resource.attributes.add(key=key)
        kv.value.string_value = value
    spans = rs.scope_spans.add().spans
    for t in range(TRACES):
        trace_id = bytes.fromhex(format(int(time.time()), "08x") + format(t, "024x"))
        parent = b""
        for s in range(SPANS_PER_TRACE):
            span = spans.add(trace_id=trace_id, span_id=bytes.fromhex(f"{t:08x}{s:08x}"), name=f"span{s}",
                             kind=2 if s == 0 else 3, start_time_unix_nano=now + s, end_time_unix_nano=now + 10**6)
            if parent:
                span.parent_span_id = parent
            parent = span.span_id
            for key, value in (("http.method", "GET"), ("http.url", "http://127.0.0.1:4568/x"),
                               ("app.user", "andrewbrown")):
                kv = span.attributes.add(key=key)
                kv.value.string_value = value
            kv = span.attributes.add(key="http.status_code")
            kv.value.int_value = 200
    return req


def best(fn) -> float:
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    raw = build_request().SerializeToString()
    n = TRACES * SPANS_PER_TRACE
    decode = best(lambda: as_spans(ExportTraceServiceRequest.FromString(raw)))
    convert = best(lambda: spans_to_segments(ExportTraceServiceRequest.FromString(raw)))
    print(f"{n:,} spans ({len(raw) / 1e6:.2f} MB protobuf), best of {ROUNDS}")
    print(f"baseline, decode only:      {n / decode:,.0f} spans/s")
    print(f"decode + X-Ray conversion:  {n / convert:,.0f} spans/s ({convert / decode:.2f}x the baseline's time)")


if __name__ == "__main__":
    main()
