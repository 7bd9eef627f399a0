"""Benchmark OTLP metrics ingest on the Honeycomb stand-in: metric data points stored per second.

    .venv/bin/python bench/otlp_metrics.py [--requests 40] [--series 400] [--senders 2] [--repeats 3]

One export request is built with the real SDK: a MeterProvider whose reader collects a request counter, an
up-down counter and a latency histogram (default buckets) recorded over ``--series`` attribute sets (route, status,
instance), i.e. ``3 * series`` data points, what one PeriodicExportingMetricReader collection of a busy service
sends. It is posted to the stand-in running as the real background process (free ports, temporary data directory):

- ``export``: ``OTLPMetricExporter.export(metrics_data)`` as the reader calls it (encodes every request in this
  process, then POSTs it);
- ``receiver``: the exporter's own HTTP client posting the request encoded once (what the receiver sustains).

Baselines measured in the same run, over the same body: decode only (protobuf parse + the points + the event rows,
no HTTP, no DuckDB), and the exporter's encoding alone (the client's cost per request). Each figure is the best of
``--repeats`` rounds that measure all of them one after the other. Prints figures and ratios; asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource

import lab_app.localcloud as localcloud
from lab_app import config
from lab_app.localcloud.honeycomb.metrics import point_rows
from lab_app.localcloud.otlp.metrics import decode_metrics
from lab_app.runner import free_port

ROUTES = ["/api/activities/home", "/api/activities/notifications", "/api/activities/search", "/api/messages",
          "/api/message_groups", "/api/activities/@<handle>", "/api/activities", "/health"]
STATUSES = [200, 201, 404, 500, 503]
DATASET = "bench-metrics"


def make_metrics(series: int):
    """One collection of 3 instruments over ``series`` attribute sets: (MetricsData, points per request)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource.create({"service.name": "backend-flask"}), metric_readers=[reader])
    meter = provider.get_meter("cruddur.metrics", "1.0")
    counter = meter.create_counter("http.server.requests", unit="{request}")
    active = meter.create_up_down_counter("http.server.active_requests")
    latency = meter.create_histogram("http.server.duration", unit="ms")
    for i in range(series):
        attrs = {"http.route": ROUTES[i % len(ROUTES)], "http.status_code": STATUSES[(i // len(ROUTES)) % 5],
                 "service.instance": f"i-{i // (len(ROUTES) * 5)}"}
        for k in range(3):
            counter.add(1, attrs)
            latency.record(5 + (i * 7 + k * 13) % 400, attrs)
        active.add(1, attrs)
    data = reader.get_metrics_data()
    provider.shutdown()
    points = sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics
                 for m in sm.metrics)
    return data, points


def _best(current: dict, key: str, value: float) -> None:
    current[key] = max(current.get(key, 0.0), value)


def _rate(fn, rounds: int, points: int) -> float:
    t0 = time.perf_counter()
    for _ in range(rounds):
        fn()
    return rounds * points / (time.perf_counter() - t0)


def _send(url: str, headers: dict, data, encoded: bytes, n_requests: int, senders: int, points: int,
          encode_each: bool) -> dict:
    failures: list[int] = []
    latencies: list[float] = []

    def sender(n: int) -> None:
        exporter = OTLPMetricExporter(endpoint=url, headers=headers, timeout=30)
        for _ in range(n):
            started = time.perf_counter()
            ok = (exporter.export(data) is MetricExportResult.SUCCESS if encode_each
                  else exporter._client.export(encoded).success)
            if not ok:
                failures.append(1)
            latencies.append((time.perf_counter() - started) * 1000)

    per = max(1, n_requests // senders)
    threads = [threading.Thread(target=sender, args=(per,)) for _ in range(senders)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    sent = per * senders * points
    return {"rate": sent / elapsed, "sent": sent, "failures": len(failures),
            "p50_ms": statistics.median(latencies), "max_ms": max(latencies)}


def bench(n_requests: int, series: int, senders: int, repeats: int) -> dict:
    data, points = make_metrics(series)
    encoded = encode_metrics(data).SerializeToString()
    out: dict = {"points": points, "bytes": len(encoded), "runs": {}, "sent": 0}
    with tempfile.TemporaryDirectory() as tmp:
        info = localcloud.start(Path(tmp) / "lab", free_port(), free_port(), free_port(), set_environ=False,
                                timeout=90)
        try:
            url = info.otlp_url + "/v1/metrics"
            headers = {"x-honeycomb-team": config.LOCAL_HONEYCOMB_KEY, "x-honeycomb-dataset": DATASET}
            assert OTLPMetricExporter(endpoint=url, headers=headers).export(data) is MetricExportResult.SUCCESS
            out["sent"] += points
            for _ in range(repeats):
                _best(out, "decode_rate", _rate(lambda: point_rows(decode_metrics(
                    ExportMetricsServiceRequest.FromString(encoded)), DATASET, "bench"), n_requests, points))
                _best(out, "encode_rate", _rate(lambda: encode_metrics(data).SerializeToString(), n_requests,
                                                points))
                for key, encode_each in (("export", True), ("receiver", False)):
                    run = _send(url, headers, data, encoded, n_requests, senders, points, encode_each)
                    out["sent"] += run["sent"]
                    if run["rate"] > out["runs"].get(key, {}).get("rate", 0):
                        out["runs"][key] = run
            out["stored"] = localcloud.status(info.aws_port)["components"]["honeycomb"]["metric_points"]
        finally:
            localcloud.stop(info.data_dir, info.aws_port)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="export requests per measured run")
    parser.add_argument("--series", type=int, default=400, help="attribute sets per instrument")
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = bench(args.requests, args.series, args.senders, args.repeats)
    print(f"OTLP metrics ingest: {result['points']} data points per request ({result['bytes'] / 1024:.0f} KiB "
          f"protobuf), {args.requests} requests per run, {args.senders} senders, best of {args.repeats}")
    for key, label in (("export", "OTLPMetricExporter.export() (encodes each request)"),
                       ("receiver", "exporter HTTP client, body encoded once")):
        run = result["runs"][key]
        print(f"  {label:<52} {run['rate']:>10,.0f} points/s  p50 {run['p50_ms']:.1f} ms/request, "
              f"max {run['max_ms']:.1f} ms, failures {run['failures']}")
    print(f"  baseline: decode only (parse + points + event rows)  {result['decode_rate']:>10,.0f} points/s")
    print(f"  baseline: exporter encoding only                     {result['encode_rate']:>10,.0f} points/s")
    receiver = result["runs"]["receiver"]["rate"]
    print(f"  receiver / decode-only (one thread): {receiver / result['decode_rate']:.2f}  (the receiver decodes in "
          f"each request's thread while one writer thread inserts the batches waiting, in one INSERT)")
    print(f"  stored {result['stored']:,} of {result['sent']:,} points sent")


if __name__ == "__main__":
    main()
