"""Contract tests for OTLP metrics on the Honeycomb stand-in: the real OTLPMetricExporter with a MeterProvider and a
PeriodicExportingMetricReader, hand-built requests for the event mapping, plain HTTP for bad input; values worked
out by hand in the comments."""
from __future__ import annotations

import gzip
import json
import math
import time

import pandas as pd
import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, UpDownCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    InMemoryMetricReader,
    MetricExportResult,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from lab_app import config
from lab_app.localcloud.honeycomb.metrics import METRICS_TABLE, Distribution, Increases
from lab_app.localcloud.otlp.metrics import exponential_buckets
from lab_app.query import metrics as metrics_q

KEY = config.LOCAL_HONEYCOMB_KEY
PB = "application/x-protobuf"
DATASET = "cruddur-metrics"


@pytest.fixture
def hc(module_cloud):
    module_cloud.reset()
    module_cloud.component("honeycomb").responses.query_results_per_minute = None
    return module_cloud


def stored_count(cloud) -> int:
    assert cloud.component("honeycomb").flush_pending(10)    # acknowledged points are inserted by a writer thread
    return cloud.store.execute(f"SELECT count(*) FROM {METRICS_TABLE}")[0][0]


def otlp_url(cloud) -> str:
    return f"http://127.0.0.1:{cloud.ports['otlp']}"


def meter_provider(cloud, dataset: str | None = DATASET, temporality=None, key: str = KEY,
                   compression=Compression.NoCompression):
    headers = {"x-honeycomb-team": key}
    if dataset is not None:
        headers["x-honeycomb-dataset"] = dataset
    exporter = OTLPMetricExporter(endpoint=otlp_url(cloud) + "/v1/metrics", headers=headers, timeout=5,
                                  compression=compression, preferred_temporality=temporality)
    # a long interval: the test decides when to export (force_flush), as a notebook cell would
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "backend-flask"}), metric_readers=[reader])
    return provider, exporter


def api(cloud, method, path, body=None, key=KEY):
    return requests.request(method, otlp_url(cloud) + path, json=body, headers={"X-Honeycomb-Team": key},
                            timeout=30)


def run(cloud, spec, dataset=DATASET, **opts):
    created = api(cloud, "POST", f"/1/queries/{dataset}", spec)
    assert created.status_code == 200, created.text
    started = api(cloud, "POST", f"/1/query_results/{dataset}", {"query_id": created.json()["id"], **opts})
    assert started.status_code == 201, started.text
    return api(cloud, "GET", f"/1/query_results/{dataset}/{started.json()['id']}").json()["data"]


def results(cloud, spec, dataset=DATASET):
    return [row["data"] for row in run(cloud, spec, dataset)["results"]]


def by(rows, name):
    return {row[name]: row for row in rows}


LATENCIES = [("/api/activities/home", 3), ("/api/activities/home", 7), ("/api/messages", 7),
             ("/api/activities/home", 20), ("/api/messages", 60)]


def record_traffic(provider):
    meter = provider.get_meter("cruddur.metrics", "1.0")
    requests_counter = meter.create_counter("app.requests", unit="{request}")
    active = meter.create_up_down_counter("app.active_requests")
    latency = meter.create_histogram("app.latency", unit="ms")
    for route, ms in LATENCIES:
        requests_counter.add(1, {"http.route": route})
        latency.record(ms, {"http.route": route})
    active.add(5)
    active.add(-2)
    return requests_counter, active, latency


# --- the real exporter --------------------------------------------------------------------------------
def test_counter_up_down_counter_and_histogram_with_attributes_cumulative(hc):
    provider, _ = meter_provider(hc)
    try:
        requests_counter, active, latency = record_traffic(provider)
        assert provider.force_flush(10_000)
        # second export: one more /home request at 30 ms, four more active
        requests_counter.add(1, {"http.route": "/api/activities/home"})
        latency.record(30, {"http.route": "/api/activities/home"})
        active.add(4)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()

    rows = by(results(hc, {"calculations": [
        {"op": "MAX", "column": "app.requests"}, {"op": "P50", "column": "app.latency"},
        {"op": "AVG", "column": "app.latency"}, {"op": "SUM", "column": "app.latency"},
        {"op": "MIN", "column": "app.latency"}, {"op": "MAX", "column": "app.latency"},
        {"op": "P99", "column": "app.latency"}], "breakdowns": ["http.route"], "time_range": 600}), "http.route")
    home, messages = rows["/api/activities/home"], rows["/api/messages"]
    # cumulative counter: its largest point is the total since the start (3 then 4 for /home; 2 twice for /messages)
    assert home["MAX(app.requests)"] == 4 and messages["MAX(app.requests)"] == 2
    # cumulative histogram points merge as increases: /home = {3, 7, 20} then +{30} -> {3, 7, 20, 30}
    # buckets (0,5]:1 (5,10]:1 (10,25]:1 (25,50]:1; P50: rank 2 -> end of (5,10] = 10
    assert home["P50(app.latency)"] == pytest.approx(10.0)
    assert home["AVG(app.latency)"] == pytest.approx(60 / 4) and home["SUM(app.latency)"] == pytest.approx(60)
    assert home["MIN(app.latency)"] == 3 and home["MAX(app.latency)"] == 30
    # P99: rank 3.96 in (25,50] clamped to max 30: 25 + 5 * 0.96 = 29.8
    assert home["P99(app.latency)"] == pytest.approx(29.8)
    # /messages {7, 60}: (5,10]:1 (50,75]:1 -> P50 rank 1 -> 10; P99 rank 1.98 -> 50 + (60-50) * 0.98 = 59.8
    assert messages["P50(app.latency)"] == pytest.approx(10.0)
    assert messages["P99(app.latency)"] == pytest.approx(59.8)
    assert messages["AVG(app.latency)"] == pytest.approx(33.5)

    # the up-down counter is a level: 3 after the first export, 7 after the second
    level = results(hc, {"calculations": [{"op": "MAX", "column": "app.active_requests"},
                                          {"op": "MIN", "column": "app.active_requests"}], "time_range": 600})
    assert level == [{"MAX(app.active_requests)": 7.0, "MIN(app.active_requests)": 3.0}]

    # pandas through the Query Data API
    frame = metrics_q.query(DATASET, calculations=[{"op": "P99", "column": "app.latency"},
                                                   {"op": "MAX", "column": "app.requests"}],
                            breakdowns=["http.route"], time_range=600)
    assert list(frame.columns) == ["http.route", "P99(app.latency)", "MAX(app.requests)"]
    assert str(frame["P99(app.latency)"].dtype) == "float64"
    # the up-down counter's events have no http.route: a null group, as in Honeycomb
    assert frame["http.route"].isna().sum() == 1
    frame = frame.dropna(subset=["http.route"])
    assert dict(zip(frame["http.route"], frame["MAX(app.requests)"])) == {"/api/activities/home": 4.0,
                                                                           "/api/messages": 2.0}
    series = metrics_q.series(frame)
    assert str(series["time"].dtype).startswith("datetime64") and series["MAX(app.requests)"].max() == 4.0


def test_delta_temporality_points_add_up(hc):
    delta = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA,
             UpDownCounter: AggregationTemporality.CUMULATIVE}
    provider, _ = meter_provider(hc, temporality=delta)
    try:
        requests_counter, _, latency = record_traffic(provider)
        assert provider.force_flush(10_000)
        requests_counter.add(2, {"http.route": "/api/messages"})
        latency.record(100, {"http.route": "/api/messages"})
        latency.record(100, {"http.route": "/api/messages"})
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    points = metrics_q.local_points(dataset=DATASET, metric="app.requests")
    assert set(points["temporality"]) == {"delta"} and points["monotonic"].all()
    rows = by(results(hc, {"calculations": [{"op": "SUM", "column": "app.requests"},
                                            {"op": "P50", "column": "app.latency"},
                                            {"op": "AVG", "column": "app.latency"}],
                           "breakdowns": ["http.route"], "time_range": 600}), "http.route")
    # delta counter: 2 + 2 for /messages, 3 for /home (the second export has no /home point)
    assert rows["/api/messages"]["SUM(app.requests)"] == 4 and rows["/api/activities/home"]["SUM(app.requests)"] == 3
    # /messages latencies {7, 60, 100, 100}: (5,10]:1 (50,75]:1 (75,100]:2; P50 rank 2 -> end of (50,75] = 75
    assert rows["/api/messages"]["P50(app.latency)"] == pytest.approx(75.0)
    assert rows["/api/messages"]["AVG(app.latency)"] == pytest.approx(267 / 4)


def test_local_points_are_a_typed_frame(hc):
    provider, _ = meter_provider(hc)
    try:
        record_traffic(provider)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    frame = metrics_q.local_points(start=time.time() - 600)
    assert list(frame.columns) == metrics_q.POINT_COLUMNS
    # force_flush and shutdown each export the 5 series (2 counter, 2 histogram, 1 up-down counter): cumulative
    assert len(frame) == 10
    assert frame.groupby(["metric_name", frame["attributes"].map(lambda a: a.get("http.route"))],
                         dropna=False).size().tolist() == [2] * 5
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]" or "UTC" in str(frame["timestamp"].dtype)
    assert "UTC" in str(frame["time"].dtype) and "UTC" in str(frame["start_time"].dtype)
    assert str(frame["value"].dtype) == "float64" and str(frame["count"].dtype) == "Int64"
    hist = frame[(frame["metric_name"] == "app.latency")
                 & (frame["attributes"].map(lambda a: a.get("http.route")) == "/api/messages")].iloc[0]
    assert hist["metric_type"] == "histogram" and hist["unit"] == "ms" and hist["count"] == 2 and hist["sum"] == 67
    assert hist["min"] == 7 and hist["max"] == 60
    assert hist["bucket_lower"][0] == -math.inf and hist["bucket_upper"][-1] == math.inf
    assert sum(hist["bucket_counts"]) == 2 and hist["bucket_counts"][2] == 1   # (5, 10]
    assert hist["resource_attributes"]["service.name"] == "backend-flask" and hist["dataset"] == DATASET
    active = frame[frame["metric_name"] == "app.active_requests"].iloc[0]
    assert active["value"] == 3.0 and not active["monotonic"] and active["is_int"]
    # one collection stamps every point with the same time: per export, the counter and the histogram of a route
    # share request, second, resource and attributes, so they are one event (two exports: two events)
    home = frame[frame["attributes"].map(lambda a: a.get("http.route")) == "/api/activities/home"]
    assert home.groupby("event_id")["metric_name"].agg(sorted).tolist() == [["app.latency", "app.requests"]] * 2


def test_gzip_and_the_ingest_key(hc):
    provider, exporter = meter_provider(hc, key=config.LOCAL_HONEYCOMB_INGEST_KEY, compression=Compression.Gzip)
    try:
        record_traffic(provider)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    assert stored_count(hc) == 10   # force_flush + shutdown


def test_missing_dataset_header_goes_to_unknown_metrics(hc):
    provider, _ = meter_provider(hc, dataset=None)
    try:
        record_traffic(provider)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    assert results(hc, {"calculations": [{"op": "MAX", "column": "app.active_requests"}], "time_range": 600},
                   dataset="unknown_metrics") == [{"MAX(app.active_requests)": 3.0}]
    assert api(hc, "POST", f"/1/queries/{DATASET}", {"time_range": 600}).status_code == 404


# --- hand-built requests: Honeycomb's metrics-to-event mapping ---------------------------------------
def kv(key, value) -> KeyValue:
    if isinstance(value, str):
        return KeyValue(key=key, value=AnyValue(string_value=value))
    return KeyValue(key=key, value=AnyValue(int_value=value))


def gauge(name, t_ns, value, attrs=None) -> metrics_pb2.Metric:
    point = metrics_pb2.NumberDataPoint(time_unix_nano=t_ns, as_double=value,
                                        attributes=[kv(k, v) for k, v in (attrs or {}).items()])
    return metrics_pb2.Metric(name=name, gauge=metrics_pb2.Gauge(data_points=[point]))


def request_of(*metrics, resource=None) -> ExportMetricsServiceRequest:
    resource = resource or {"service.name": "greyhound", "host.name": "greyhound-9ab3f2"}
    return ExportMetricsServiceRequest(resource_metrics=[metrics_pb2.ResourceMetrics(
        resource={"attributes": [kv(k, v) for k, v in resource.items()]},
        scope_metrics=[metrics_pb2.ScopeMetrics(metrics=list(metrics))])])


def post(cloud, body: bytes, content_type=PB, dataset=DATASET, key=KEY, **headers):
    all_headers = {"Content-Type": content_type, **headers}
    if key is not None:
        all_headers["x-honeycomb-team"] = key
    if dataset is not None:
        all_headers["x-honeycomb-dataset"] = dataset
    return requests.post(otlp_url(cloud) + "/v1/metrics", data=body, headers=all_headers, timeout=10)


def test_points_in_one_second_with_the_same_attributes_are_one_event(hc):
    second = int(time.time()) * 10**9
    body = request_of(gauge("system.cpu.utilization.user", second + 1, 34),
                      gauge("system.cpu.utilization.system", second + 800_000_000, 8),
                      gauge("runtime.go.goroutines", second + 1, 635),
                      gauge("runtime.go.gc.count", second + 800_000_000, 321),
                      gauge("runtime.go.goroutines", second + 1, 12, {"pool": "io"}))   # other attributes
    assert post(hc, body.SerializeToString()).status_code == 200
    rows = results(hc, {"calculations": [{"op": "COUNT"}, {"op": "MAX", "column": "runtime.go.goroutines"}],
                        "breakdowns": ["host.name"], "time_range": 600})
    # one event for the four unlabelled points (same request, same second, same resource and attributes) + one
    assert rows == [{"host.name": "greyhound-9ab3f2", "COUNT": 2, "MAX(runtime.go.goroutines)": 635.0}]
    # a filter on one metric field selects whole events: the other fields of that event are there
    rows = results(hc, {"calculations": [{"op": "MAX", "column": "runtime.go.gc.count"}],
                        "filters": [{"column": "runtime.go.goroutines", "op": ">", "value": 100}], "time_range": 600})
    assert rows == [{"MAX(runtime.go.gc.count)": 321.0}]
    # the same points in a second request are other events
    assert post(hc, body.SerializeToString()).status_code == 200
    assert results(hc, {"calculations": [{"op": "COUNT"}], "time_range": 600}) == [{"COUNT": 4}]
    frame = metrics_q.local_points(dataset=DATASET)
    assert frame["event_id"].nunique() == 4 and (frame["timestamp"].dt.floor("s") == frame["timestamp"]).all()
    events = metrics_q.events(frame)
    assert len(events) == 4 and events["host.name"].eq("greyhound-9ab3f2").all()
    first = events[events["pool"].isna()].iloc[0]
    assert (first["system.cpu.utilization.user"], first["system.cpu.utilization.system"],
            first["runtime.go.goroutines"], first["runtime.go.gc.count"]) == (34.0, 8.0, 635.0, 321.0)
    assert events.loc[events["pool"] == "io", "runtime.go.goroutines"].tolist() == [12.0, 12.0]
    assert pd.isna(events.loc[events["pool"] == "io", "runtime.go.gc.count"]).all()


def test_exponential_histogram_and_summary(hc):
    now = int(time.time()) * 10**9
    exp_point = metrics_pb2.ExponentialHistogramDataPoint(
        time_unix_nano=now, start_time_unix_nano=now - 10**9, count=4, sum=13.5, min=1.5, max=7.0, scale=0,
        positive=metrics_pb2.ExponentialHistogramDataPoint.Buckets(offset=0, bucket_counts=[1, 2, 1]))
    exp = metrics_pb2.Metric(name="queue.wait", exponential_histogram=metrics_pb2.ExponentialHistogram(
        data_points=[exp_point], aggregation_temporality=1))
    summary_point = metrics_pb2.SummaryDataPoint(
        time_unix_nano=now, start_time_unix_nano=now - 10**9, count=10, sum=150.0,
        quantile_values=[metrics_pb2.SummaryDataPoint.ValueAtQuantile(quantile=q, value=v)
                         for q, v in ((0.0, 2.0), (0.5, 10.0), (0.99, 40.0), (1.0, 45.0))])
    summary = metrics_pb2.Metric(name="gc.pause", summary=metrics_pb2.Summary(data_points=[summary_point]))
    assert post(hc, request_of(exp, summary).SerializeToString()).status_code == 200
    rows = results(hc, {"calculations": [{"op": "P50", "column": "queue.wait"}, {"op": "AVG", "column": "queue.wait"},
                                         {"op": "MAX", "column": "queue.wait"}, {"op": "P50", "column": "gc.pause"},
                                         {"op": "P99", "column": "gc.pause"}, {"op": "AVG", "column": "gc.pause"},
                                         {"op": "MIN", "column": "gc.pause"}, {"op": "P90", "column": "gc.pause"}],
                        "time_range": 600})
    # scale 0: base 2, buckets (1,2]:1 (2,4]:2 (4,8]:1; P50 rank 2 -> 2 + 2 * (2-1)/2 = 3
    assert rows == [{"P50(queue.wait)": 3.0, "AVG(queue.wait)": 13.5 / 4, "MAX(queue.wait)": 7.0,
                     "P50(gc.pause)": 10.0, "P99(gc.pause)": 40.0, "AVG(gc.pause)": 15.0, "MIN(gc.pause)": 2.0,
                     "P90(gc.pause)": None}]   # a summary has only the quantiles it sent
    event = metrics_q.events(metrics_q.local_points(dataset=DATASET)).iloc[0]
    assert event["queue.wait"]["count"] == 4 and event["queue.wait"]["buckets"] == [(1.0, 2.0, 1), (2.0, 4.0, 2),
                                                                                     (4.0, 8.0, 1)]
    assert event["gc.pause"]["quantiles"] == {"0.0": 2.0, "0.5": 10.0, "0.99": 40.0, "1.0": 45.0}
    # Honeycomb's summary fields: .count .sum .avg .min .max .p50 .p99
    assert results(hc, {"calculations": [{"op": "MAX", "column": f"gc.pause.{suffix}"}
                                         for suffix in ("count", "avg", "min", "max", "p50", "p99")],
                        "time_range": 600}) == [{"MAX(gc.pause.count)": 10.0, "MAX(gc.pause.avg)": 15.0,
                                                 "MAX(gc.pause.min)": 2.0, "MAX(gc.pause.max)": 45.0,
                                                 "MAX(gc.pause.p50)": 10.0, "MAX(gc.pause.p99)": 40.0}]
    heat = run(hc, {"calculations": [{"op": "HEATMAP", "column": "queue.wait"}], "time_range": 600})
    buckets = heat["results"][0]["data"]["HEATMAP(queue.wait)"]["buckets"]
    assert buckets == [{"lower": 1.0, "upper": 2.0, "count": 1}, {"lower": 2.0, "upper": 4.0, "count": 2},
                       {"lower": 4.0, "upper": 8.0, "count": 1}]


def test_exponential_buckets_by_hand():
    point = metrics_pb2.ExponentialHistogramDataPoint(
        scale=1, zero_count=3, zero_threshold=0.0,
        positive=metrics_pb2.ExponentialHistogramDataPoint.Buckets(offset=-1, bucket_counts=[1, 1]),
        negative=metrics_pb2.ExponentialHistogramDataPoint.Buckets(offset=0, bucket_counts=[2]))
    lower, upper, counts = exponential_buckets(point)
    r = math.sqrt(2)    # scale 1: base 2 ** 0.5
    assert counts == [2, 3, 1, 1]
    assert lower == pytest.approx([-r, 0.0, 1 / r, 1.0]) and upper == pytest.approx([-1.0, 0.0, 1.0, r])


def test_cumulative_increases_by_hand():
    inc = Increases(window_start_ns=1_000)
    base = {"bucket_lower": [-math.inf, 10.0], "bucket_upper": [10.0, math.inf], "min": None, "max": None,
            "quantiles": None, "temporality": "cumulative", "series_resource": "{}", "series_attributes": "{}",
            "sum": None}
    first = inc.point({**base, "bucket_counts": [2, 1], "count": 3, "start_time_unix_nano": 500})
    assert first is None                         # started before the window: the baseline
    second = inc.point({**base, "bucket_counts": [5, 1], "count": 6, "start_time_unix_nano": 500})
    assert second["counts"] == [3, 0] and second["count"] == 3
    restart = inc.point({**base, "bucket_counts": [1, 0], "count": 1, "start_time_unix_nano": 2_000})
    assert restart["counts"] == [1, 0]           # a new start time counts whole
    d = Distribution()
    for point in (second, restart):
        d.add(point)
    assert d.count == 4 and d.percentile(0.5) == 10.0   # all four in (-inf, 10]: no min, so the bound


# --- bad input ---------------------------------------------------------------------------------------
def _assert_still_serving(cloud):
    body = request_of(gauge("still.serving", int(time.time()) * 10**9, 1.0)).SerializeToString()
    assert post(cloud, body).status_code == 200


@pytest.mark.parametrize("headers,body,status", [
    ({"Content-Type": "text/plain"}, b"hello", 415),
    ({"Content-Type": ""}, b"\x00\x01", 415),
    ({"Content-Type": PB}, b"\xff\xff\xff\xff\x0f", 400),                      # garbage protobuf
    ({"Content-Type": PB, "Content-Encoding": "gzip"}, b"not gzip at all", 400),
    ({"Content-Type": PB, "Content-Encoding": "gzip"}, gzip.compress(b"\x0a\xff\xff\x03", mtime=0)[:-6], 400),
    ({"Content-Type": PB, "Content-Encoding": "br"}, b"x", 415),
    ({"Content-Type": "application/json"}, b"{not json", 400),
    ({"Content-Type": "application/json"}, json.dumps({"resourceMetrics": "nope"}).encode(), 400),
], ids=["text-plain", "no-type", "garbage-protobuf", "not-gzip", "truncated-gzip", "brotli", "bad-json",
        "json-wrong-shape"])
def test_bad_bodies_get_the_otlp_status(hc, headers, body, status):
    content_type = headers.pop("Content-Type")
    reply = post(hc, body, content_type=content_type, **headers)
    assert reply.status_code == status
    if content_type == PB:
        decoded = status_pb2.Status()
        decoded.ParseFromString(reply.content)
        assert decoded.message and decoded.code in (3, 12)
    elif content_type == "application/json":
        assert reply.json()["message"]
    _assert_still_serving(hc)


def test_bad_or_missing_key_is_401_and_the_exporter_fails(hc):
    body = request_of(gauge("x", int(time.time()) * 10**9, 1.0)).SerializeToString()
    for key, words in ((None, "x-honeycomb-team"), ("not-a-key", "unknown API key")):
        reply = post(hc, body, key=key)
        assert reply.status_code == 401
        status = status_pb2.Status()
        status.ParseFromString(reply.content)
        assert status.code == 16 and words in status.message
    # the exporter reports the failure (a 401 is not retried) and nothing is stored
    memory = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[memory])
    provider.get_meter("m").create_counter("c").add(1)
    exporter = OTLPMetricExporter(endpoint=otlp_url(hc) + "/v1/metrics", headers={"x-honeycomb-team": "nope"},
                                  timeout=5)
    assert exporter.export(memory.get_metrics_data()) is MetricExportResult.FAILURE
    provider.shutdown()
    assert stored_count(hc) == 0
    _assert_still_serving(hc)


def test_invalid_points_are_rejected_in_partial_success(hc):
    now = int(time.time()) * 10**9
    bad_hist = metrics_pb2.Metric(name="bad.hist", histogram=metrics_pb2.Histogram(data_points=[
        metrics_pb2.HistogramDataPoint(time_unix_nano=now, count=3, explicit_bounds=[1.0, 2.0], bucket_counts=[3])]))
    no_value = metrics_pb2.Metric(name="no.value", gauge=metrics_pb2.Gauge(data_points=[
        metrics_pb2.NumberDataPoint(time_unix_nano=now)]))
    no_name = metrics_pb2.Metric(gauge=metrics_pb2.Gauge(data_points=[
        metrics_pb2.NumberDataPoint(time_unix_nano=now, as_int=1)]))
    # a count of 2^63 whose buckets add up to it: valid OTLP (fixed64), past the 64-bit signed count stored
    huge = metrics_pb2.Metric(name="huge.hist", histogram=metrics_pb2.Histogram(data_points=[
        metrics_pb2.HistogramDataPoint(time_unix_nano=now, count=2**63, explicit_bounds=[1.0],
                                       bucket_counts=[2**63, 0])]))
    good = gauge("good.one", now, 2.5)
    reply = post(hc, request_of(bad_hist, no_value, no_name, huge, good).SerializeToString())
    assert reply.status_code == 200
    answer = ExportMetricsServiceResponse.FromString(reply.content)
    assert answer.partial_success.rejected_data_points == 4
    assert "bad.hist" in answer.partial_success.error_message
    assert results(hc, {"calculations": [{"op": "MAX", "column": "good.one"}], "time_range": 600}) == [
        {"MAX(good.one)": 2.5}]
    assert hc.component("honeycomb").metrics.writer.write_errors == 0
    # OTLP/JSON: the same rules, a JSON reply
    reply = post(hc, json.dumps({"resourceMetrics": [{"scopeMetrics": [{"metrics": [
        {"name": "json.gauge", "gauge": {"dataPoints": [{"timeUnixNano": str(now), "asDouble": 4.0}]}},
        {"name": "json.empty", "gauge": {"dataPoints": [{"timeUnixNano": str(now)}]}}]}]}]}).encode(),
        content_type="application/json")
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    assert reply.json()["partialSuccess"]["rejectedDataPoints"] == "1"
    assert results(hc, {"calculations": [{"op": "MAX", "column": "json.gauge"}], "time_range": 600}) == [
        {"MAX(json.gauge)": 4.0}]


def test_a_good_export_has_an_empty_export_metrics_service_response(hc):
    reply = post(hc, request_of(gauge("g", int(time.time()) * 10**9, 1.0)).SerializeToString())
    assert reply.status_code == 200 and reply.headers["Content-Type"] == PB
    assert ExportMetricsServiceResponse.FromString(reply.content) == ExportMetricsServiceResponse()


@pytest.mark.parametrize("spec,words", [
    ({"calculations": [{"op": "COUNT_DISTINCT", "column": "lat"}]}, "COUNT_DISTINCT"),
    ({"calculations": [{"op": "COUNT"}], "filters": [{"column": "lat", "op": ">", "value": 1}]}, "histogram field"),
    ({"calculations": [{"op": "COUNT"}], "breakdowns": ["lat"]}, "histogram field"),
], ids=["count-distinct-histogram", "filter-histogram", "breakdown-histogram"])
def test_query_errors_on_histogram_fields_are_400(hc, spec, words):
    now = int(time.time()) * 10**9
    hist = metrics_pb2.Metric(name="lat", histogram=metrics_pb2.Histogram(data_points=[
        metrics_pb2.HistogramDataPoint(time_unix_nano=now, count=1, sum=1.0, explicit_bounds=[5.0],
                                       bucket_counts=[1, 0])], aggregation_temporality=1))
    assert post(hc, request_of(hist).SerializeToString()).status_code == 200
    created = api(hc, "POST", f"/1/queries/{DATASET}", {**spec, "time_range": 600})
    started = api(hc, "POST", f"/1/query_results/{DATASET}", {"query_id": created.json()["id"]})
    assert started.status_code == 400 and words in started.json()["error"]


def test_status_counts_metric_points(hc):
    _assert_still_serving(hc)
    status = hc.component("honeycomb").status()
    assert status["metric_points"] == 1 and status["metric_datasets"] == 1


def test_acknowledged_points_are_replayed_into_the_table_on_the_next_start(tmp_path):
    from lab_app.localcloud.honeycomb.metrics import MetricsBackend
    from lab_app.localcloud.otlp.metrics import decode_metrics
    from lab_app.localcloud.store import Store

    path = tmp_path / "lab.duckdb"
    store = Store(path)
    backend = MetricsBackend(store)
    backend.setup()
    backend.writer.write = lambda rows, seq=0: None      # the process is killed before the writer inserts
    message = request_of(gauge("replayed.gauge", int(time.time()) * 10**9, 2.0),
                         gauge("replayed.other", int(time.time()) * 10**9, 3.0))
    assert backend.ingest(decode_metrics(message), DATASET, message) == 2
    backend.journal.close()
    store.close()

    store = Store(path)
    backend = MetricsBackend(store)
    backend.setup()                                       # replays the journal
    rows = store.execute(f"SELECT metric_name, value, event_id, dataset FROM {METRICS_TABLE} ORDER BY metric_name")
    assert [(name, value, ds) for name, value, _, ds in rows] == [("replayed.gauge", 2.0, DATASET),
                                                                   ("replayed.other", 3.0, DATASET)]
    assert rows[0][2] == rows[1][2]                       # still one event
    assert path.with_name("honeycomb-metrics.journal").stat().st_size == 0
    backend.close()
    store.close()


def test_filters_orders_havings_limit_and_series(hc):
    now = int(time.time()) * 10**9
    body = request_of(*[gauge("queue.depth", now - k * 60 * 10**9, float(depth), {"queue": queue})
                        for k, (queue, depth) in enumerate([("mail", 4), ("mail", 10), ("push", 1), ("sms", 7),
                                                            ("push", 3)])])
    assert post(hc, body.SerializeToString()).status_code == 200
    spec = {"calculations": [{"op": "MAX", "column": "queue.depth"}, {"op": "AVG", "column": "queue.depth"}],
            "breakdowns": ["queue"], "time_range": 900, "granularity": 60}
    # default order: the first calculation, descending: mail 10, sms 7, push 3
    assert [r["queue"] for r in results(hc, spec)] == ["mail", "sms", "push"]
    rows = results(hc, {**spec, "orders": [{"column": "queue", "order": "ascending"}], "limit": 2})
    assert rows == [{"queue": "mail", "MAX(queue.depth)": 10.0, "AVG(queue.depth)": 7.0},
                    {"queue": "push", "MAX(queue.depth)": 3.0, "AVG(queue.depth)": 2.0}]
    rows = results(hc, {**spec, "havings": [{"calculate_op": "AVG", "column": "queue.depth", "op": ">", "value": 5}]})
    assert {r["queue"] for r in rows} == {"mail", "sms"}
    rows = results(hc, {**spec, "filters": [{"column": "queue", "op": "!=", "value": "mail"}]})
    assert {r["queue"] for r in rows} == {"sms", "push"}
    # over every queue: P50 of 1, 3, 4, 7, 10 is 4; HEATMAP: 30 equal buckets from 1 to 10 (width 0.3)
    data = run(hc, {"calculations": [{"op": "P50", "column": "queue.depth"},
                                     {"op": "HEATMAP", "column": "queue.depth"}], "time_range": 900})
    row = data["results"][0]["data"]
    assert row["P50(queue.depth)"] == 4.0
    heat = metrics_q.heatmap_frame(row["HEATMAP(queue.depth)"])
    assert len(heat) == 30 and heat["count"].sum() == 5
    assert heat["count"].iloc[0] == 1 and heat["count"].iloc[-1] == 1 and heat["lower"].iloc[0] == 1.0
    # 1 -> bucket 0, 3 -> 6 ([2.8, 3.1)), 4 -> 10 ([4.0, 4.3)), 7 -> 20 ([7.0, 7.3)), 10 -> the last, 29
    assert heat.loc[heat["count"] > 0].index.tolist() == [0, 6, 10, 20, 29]
    # the series: one bucket per minute and queue, each holding that point's value
    series = run(hc, spec)["series"]
    assert sorted(point["data"]["MAX(queue.depth)"] for point in series) == [1.0, 3.0, 4.0, 7.0, 10.0]
    assert all(point["time"].endswith(":00Z") for point in series)
    frame = metrics_q.series(metrics_q.query(DATASET, **{k: v for k, v in spec.items()}))
    assert len(frame) == 5 and str(frame["MAX(queue.depth)"].dtype) == "float64"


def test_a_free_team_cannot_query_metrics(hc):
    assert post(hc, request_of(gauge("g", int(time.time()) * 10**9, 1.0)).SerializeToString()).status_code == 200
    responses = hc.component("honeycomb").responses
    responses.plan = "free"
    try:
        created = api(hc, "POST", f"/1/queries/{DATASET}", {"time_range": 600})
        assert created.status_code == 403 and "Enterprise" in created.json()["error"]
    finally:
        responses.plan = "enterprise"


def test_random_bodies_never_break_the_receiver(hc):
    import random

    rng = random.Random(15)
    good = request_of(gauge("fuzz.gauge", int(time.time()) * 10**9, 1.0),
                      metrics_pb2.Metric(name="fuzz.hist", histogram=metrics_pb2.Histogram(data_points=[
                          metrics_pb2.HistogramDataPoint(time_unix_nano=int(time.time()) * 10**9, count=2, sum=3.0,
                                                         explicit_bounds=[1.0], bucket_counts=[1, 1])]))
                      ).SerializeToString()
    seen = set()
    for i in range(150):
        body = bytearray(good)
        for _ in range(rng.randint(1, 6)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        headers = {}
        data = bytes(body)
        if i % 5 == 0:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        reply = post(hc, data, **headers)
        seen.add(reply.status_code)
        assert reply.status_code in (200, 400), (i, reply.status_code, reply.content[:200])
    assert 400 in seen and 200 in seen
    _assert_still_serving(hc)


def test_exporter_configured_from_the_environment_as_a_notebook_does(hc, monkeypatch):
    """Local mode sets OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS (the team key);
    OTEL_EXPORTER_OTLP_METRICS_HEADERS replaces those headers for metrics, so it names the key and the dataset."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_url(hc))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-honeycomb-team={KEY}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_HEADERS", f"x-honeycomb-team={KEY},x-honeycomb-dataset=env-metrics")
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create({"service.name": "backend-flask"}), metric_readers=[reader])
    try:
        provider.get_meter("m").create_counter("env.requests").add(3)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    assert results(hc, {"calculations": [{"op": "MAX", "column": "env.requests"}], "time_range": 600},
                   dataset="env-metrics") == [{"MAX(env.requests)": 3.0}]
    # without the metrics headers the exporter sends the team key only: the points go to unknown_metrics
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_METRICS_HEADERS")
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(), export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    try:
        provider.get_meter("m").create_counter("env.requests").add(1)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    assert results(hc, {"calculations": [{"op": "MAX", "column": "env.requests"}], "time_range": 600},
                   dataset="unknown_metrics") == [{"MAX(env.requests)": 1.0}]


def test_husky_histogram_fields_by_hand():
    from lab_app.localcloud.honeycomb.metrics import histogram_fields, summary_fields

    bounds = [0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0]
    counts = [0, 1, 2, 1, 0, 1, 0, 0]            # 3, 7, 7, 20, 60: cumulative shares 0 .2 .6 .8 .8 1 1 1
    fields = histogram_fields("lat", 5, 97.0, bounds, counts)
    assert fields["lat.count"] == 5 and fields["lat.sum"] == 97.0 and fields["lat.avg"] == pytest.approx(19.4)
    # the upper bound of the last bucket whose cumulative share is <= the percentile
    assert (fields["lat.p001"], fields["lat.p10"], fields["lat.p25"], fields["lat.p50"], fields["lat.p75"],
            fields["lat.p90"], fields["lat.p99"]) == (0.0, 0.0, 5.0, 5.0, 10.0, 50.0, 50.0)
    assert fields["lat.p05"] == fields["lat.p50"]  # husky's table maps .p05 to 0.5
    assert histogram_fields("empty", 0, None, [], []) == {"empty.count": 0, "empty.sum": 0.0, "empty.avg": None}
    assert summary_fields("s", 4, 10.0, {"0.0": 1.0, "0.5": 2.0, "0.05": 1.5, "0.999": 9.0, "1.0": 9.5}) == {
        "s.count": 4, "s.sum": 10.0, "s.avg": 2.5, "s.min": 1.0, "s.p50": 2.0, "s.p05": 1.5, "s.p999": 9.0,
        "s.max": 9.5}


def test_derived_histogram_fields_are_queryable(hc):
    provider, _ = meter_provider(hc)
    try:
        record_traffic(provider)
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    rows = by(results(hc, {"calculations": [{"op": "MAX", "column": "app.latency.count"},
                                            {"op": "MAX", "column": "app.latency.p50"},
                                            {"op": "AVG", "column": "app.latency.avg"}],
                           "breakdowns": ["http.route"],
                           "filters": [{"column": "meta.signal_type", "op": "=", "value": "metric"}],
                           "time_range": 600}), "http.route")
    # /home {3, 7, 20}: shares .33 .67 1 over (0,5] (5,10] (10,25] -> p50 = 5; /messages {7, 60}: .5 up to 50 -> 50
    assert rows["/api/activities/home"]["MAX(app.latency.count)"] == 3
    assert rows["/api/activities/home"]["MAX(app.latency.p50)"] == 5.0
    assert rows["/api/messages"]["MAX(app.latency.p50)"] == 50.0
    assert rows["/api/messages"]["AVG(app.latency.avg)"] == pytest.approx(33.5)
    # a derived field filters whole events like any number field
    rows = results(hc, {"calculations": [{"op": "MAX", "column": "app.requests"}],
                        "filters": [{"column": "app.latency.count", "op": ">", "value": 2}],
                        "breakdowns": ["http.route"], "time_range": 600})
    assert rows == [{"http.route": "/api/activities/home", "MAX(app.requests)": 3.0}]
    event = metrics_q.events(metrics_q.local_points(dataset=DATASET, metric="app.latency")).iloc[0]
    assert event["meta.signal_type"] == "metric" and event["app.latency.count"] in (2.0, 3.0)


def test_a_classic_key_must_name_the_dataset(hc, monkeypatch):
    classic = "0123456789abcdef0123456789abcdef"   # 32 hex digits  # pragma: allowlist secret
    monkeypatch.setenv("LAB_HONEYCOMB_KEYS", classic)
    body = request_of(gauge("classic.gauge", int(time.time()) * 10**9, 1.0)).SerializeToString()
    reply = post(hc, body, key=classic, dataset=None)
    assert reply.status_code == 401
    status = status_pb2.Status()
    status.ParseFromString(reply.content)
    assert status.code == 16 and status.message == "missing 'x-honeycomb-dataset' header"
    assert post(hc, body, key=classic, dataset="classic-metrics").status_code == 200
    assert post(hc, body, key=KEY, dataset=None).status_code == 200     # an environment key: unknown_metrics
    assert results(hc, {"calculations": [{"op": "MAX", "column": "classic.gauge"}], "time_range": 600},
                   dataset="classic-metrics") == [{"MAX(classic.gauge)": 1.0}]


def test_a_query_right_after_an_export_counts_its_points(hc):
    """An export is answered once journaled and a writer thread inserts it (lingering up to half a second for
    more, as the span writer does); a query must see every point acknowledged before it, also for a dataset it
    already knows (which needs no lookup in the table)."""
    writer = hc.component("honeycomb").metrics.writer
    second = int(time.time()) * 10**9
    writer.linger_s = 2.0          # the window a loaded machine gives by chance, made wide
    try:
        for n in range(1, 4):
            body = request_of(gauge("app.queue.depth", second + n, n))
            assert post(hc, body.SerializeToString()).status_code == 200
            assert results(hc, {"calculations": [{"op": "COUNT"}, {"op": "SUM", "column": "app.queue.depth"}],
                                "time_range": 600}) == [{"COUNT": n, "SUM(app.queue.depth)": float(n * (n + 1) // 2)}]
    finally:
        writer.linger_s = type(writer).linger_s
