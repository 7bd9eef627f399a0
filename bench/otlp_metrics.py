"""Benchmark OTLP metrics ingest on the Honeycomb stand-in: metric data points stored per second.

    .venv/bin/python bench/otlp_metrics.py [--requests 40] [--series 400] [--senders 2] [--repeats 3]
                                           [--query-points 100000]

One export request is built with the real SDK: a MeterProvider whose reader collects a request counter, an
up-down counter and a latency histogram (default buckets) recorded over ``--series`` attribute sets (route, status,
instance), i.e. ``3 * series`` data points, what one PeriodicExportingMetricReader collection of a busy service
sends. It is posted to the stand-in running as the real background process (free ports, temporary data directory):

- ``export``: ``OTLPMetricExporter.export(metrics_data)`` as the reader calls it (encodes every request in this
  process, then POSTs it);
- ``receiver``: the exporter's own HTTP client posting the request encoded once (what the receiver sustains).

Baselines measured in the same run, over the same body: decode only (protobuf parse + the points + the event rows,
no HTTP, no DuckDB), and the exporter's encoding alone (the client's cost per request). Each figure is the best of
``--repeats`` rounds that measure all of them one after the other.

Query: ``--query-points`` histogram points (delta temporality, 8 routes) inserted straight into the stand-in's table,
then the Query Data API (POST /1/queries, POST /1/query_results, GET the result) for P99 of the histogram by
http.route, which merges every point's buckets. Baseline: the merged bucket counts as one DuckDB statement (the part
of the work SQL does; the percentile interpolation then costs nothing). Prints figures and ratios; asserts nothing.
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

import numpy as np
import requests
from opentelemetry.exporter.otlp.proto.common._internal.metrics_encoder import encode_metrics
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader, MetricExportResult
from opentelemetry.sdk.resources import Resource

import lab_app.localcloud as localcloud
from lab_app import config
from lab_app.localcloud.honeycomb import Honeycomb
from lab_app.localcloud.honeycomb.metrics import METRIC_COLUMNS, METRICS_TABLE, point_rows
from lab_app.localcloud.otlp.metrics import decode_metrics
from lab_app.localcloud.server import LocalCloud
from lab_app.runner import free_port

ROUTES = ["/api/activities/home", "/api/activities/notifications", "/api/activities/search", "/api/messages",
          "/api/message_groups", "/api/activities/@<handle>", "/api/activities", "/health"]
STATUSES = [200, 201, 404, 500, 503]
DATASET = "bench-metrics"


def make_metrics(series: int, temporality=None):
    """One collection of 3 instruments over ``series`` attribute sets: (MetricsData, points per request)."""
    reader = InMemoryMetricReader(preferred_temporality=temporality)
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


def bench_query(n_points: int) -> dict:
    """P99 of a histogram by route over ``n_points`` histogram points: the API against one DuckDB statement."""
    data, _ = make_metrics(400, temporality={Histogram: AggregationTemporality.DELTA})
    encoded = encode_metrics(data).SerializeToString()
    decoded = decode_metrics(ExportMetricsServiceRequest.FromString(encoded))
    decoded.points = [p for p in decoded.points if p.type == "histogram"]        # 400 per copy
    copies = max(1, n_points // len(decoded.points))
    now_ns = time.time_ns()
    with tempfile.TemporaryDirectory() as tmp:
        cloud = LocalCloud(Path(tmp) / "lab", aws_port=0, otlp_port=0, daemon_port=0,
                           components=[Honeycomb], middleware=[]).start()
        try:
            t0 = time.perf_counter()
            rows = point_rows(decoded, DATASET, "copy")
            n = len(rows["event_id"])
            for start in range(0, copies, 50):        # one copy per 3 s before now: distinct events
                ks = range(start, min(copies, start + 50))
                part = {c: np.concatenate([rows[c]] * len(ks)) for c in METRIC_COLUMNS}
                part["event_id"] = np.array([f"{e}-{k}" for k in ks for e in rows["event_id"]], dtype=object)
                part["time_unix_nano"] = np.repeat(np.array([now_ns - 60 * 10**9 - k * 3 * 10**9 for k in ks]), n)
                part["timestamp"] = ((part["time_unix_nano"] // 10**9) * 10**9).astype("datetime64[ns]")
                cloud.store.insert_frame(METRICS_TABLE, part, METRIC_COLUMNS)
            load_s = time.perf_counter() - t0
            stored = cloud.store.execute(f"SELECT count(*) FROM {METRICS_TABLE}")[0][0]
            base = f"http://127.0.0.1:{cloud.ports['otlp']}"
            headers = {"X-Honeycomb-Team": config.LOCAL_HONEYCOMB_KEY}
            spec = {"calculations": [{"op": "P99", "column": "http.server.duration"}],
                    "breakdowns": ["http.route"], "time_range": 7200}
            cloud.component("honeycomb").responses.query_results_per_minute = None

            def api_query() -> tuple[float, list]:
                t = time.perf_counter()
                qid = requests.post(f"{base}/1/queries/{DATASET}", json=spec, headers=headers).json()["id"]
                rid = requests.post(f"{base}/1/query_results/{DATASET}", headers=headers,
                                    json={"query_id": qid, "disable_series": True}).json()["id"]
                result = requests.get(f"{base}/1/query_results/{DATASET}/{rid}", headers=headers).json()
                return time.perf_counter() - t, result["data"]["results"]

            times, results = zip(*[api_query() for _ in range(2)])
            t = time.perf_counter()
            merged = cloud.store.query_df(
                f"SELECT json_extract_string(attributes, '$.\"http.route\"') AS route, i, sum(c) AS n FROM "
                f"(SELECT attributes, unnest(bucket_counts) AS c, generate_subscripts(bucket_counts, 1) AS i "
                f"FROM {METRICS_TABLE} WHERE metric_name = 'http.server.duration') GROUP BY ALL")
            sql_s = time.perf_counter() - t
        finally:
            cloud.stop()
    return {"points": stored, "load_s": load_s, "api_s": min(times), "sql_s": sql_s, "groups": len(results[0]),
            "merged_rows": len(merged)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40, help="export requests per measured run")
    parser.add_argument("--series", type=int, default=400, help="attribute sets per instrument")
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--query-points", type=int, default=100_000, help="histogram points for the query (0: skip)")
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
    if args.query_points:
        q = bench_query(args.query_points)
        print(f"Query: P99(http.server.duration) by http.route over {q['points']:,} histogram points "
              f"(loaded in {q['load_s']:.1f} s)")
        print(f"  Query Data API (create, run, fetch; buckets merged per route)  {q['api_s']:.2f} s, "
              f"{q['groups']} groups")
        print(f"  baseline: merged bucket counts as one DuckDB statement         {q['sql_s']:.2f} s "
              f"({q['merged_rows']} rows)")
        print(f"  API / baseline: {q['api_s'] / q['sql_s']:.1f}x")


if __name__ == "__main__":
    main()
