"""Honeycomb Query Data API subset: spans sent with the real OTLP exporter, answers checked against numpy."""
from __future__ import annotations

import random
import time

import numpy as np
import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from lab_app import config
from lab_app.localcloud.honeycomb import query
from lab_app.localcloud.honeycomb.query.ast import Calculation, Filter, Having, Order, QuerySpec
from lab_app.query import spans as spans_q

KEY = config.LOCAL_HONEYCOMB_KEY
ROUTES = ["/api/activities/home", "/api/activities/search", "/api/messages"]
N = 300


@pytest.fixture(scope="module")
def data(module_cloud):
    """N server spans over the last 10 minutes for backend-flask (from two regions: resources differ), 40 for
    notifications; every fourth span carries ``app.cached``. Returns the truth table."""
    module_cloud.reset()
    # this module runs dozens of query results in seconds: lift Honeycomb's 10 a minute (test_honeycomb_keys.py
    # checks the limit itself)
    module_cloud.component("honeycomb").responses.query_results_per_minute = None
    rng = random.Random(7)
    now_ns = time.time_ns()
    truth = []
    url = f"http://127.0.0.1:{module_cloud.ports['otlp']}/v1/traces"
    for service, count in (("backend-flask", N), ("notifications", 40)):
        memory = InMemorySpanExporter()
        tracers = {}
        for region in (("eu", "us") if service == "backend-flask" else ("eu",)):
            provider = TracerProvider(resource=Resource.create({"service.name": service, "region": region}))
            provider.add_span_processor(SimpleSpanProcessor(memory))
            tracers[region] = provider.get_tracer("q")
        for i in range(count):
            route = rng.choice(ROUTES)
            duration_ms = round(rng.lognormvariate(3, 0.6), 3)
            status = rng.choice([200, 200, 200, 404, 500])
            start = now_ns - rng.randint(5, 590) * 10**9
            region = "us" if service == "backend-flask" and i % 3 == 0 else "eu"
            cached = (i % 8 == 0) if i % 4 == 0 else None
            attributes = {"http.route": route, "http.status_code": status, "user.handle": f"user{i % 7}"}
            if cached is not None:
                attributes["app.cached"] = cached
            span = tracers[region].start_span(route if service == "backend-flask" else "notify", kind=SpanKind.SERVER,
                                              start_time=start, attributes=attributes)
            span.end(end_time=start + int(duration_ms * 1e6))
            truth.append({"service": service, "route": route, "duration_ms": duration_ms, "status": status,
                          "user": f"user{i % 7}", "start_s": start / 1e9, "region": region, "cached": cached})
        exporter = OTLPSpanExporter(endpoint=url, headers={"x-honeycomb-team": KEY})
        assert exporter.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
    return truth


def api(cloud, method, path, body=None, key=KEY):
    headers = {"X-Honeycomb-Team": key} if key else {}
    return requests.request(method, f"http://127.0.0.1:{cloud.ports['otlp']}{path}", json=body, headers=headers,
                            timeout=30)


def run(cloud, dataset, spec, **opts):
    created = api(cloud, "POST", f"/1/queries/{dataset}", spec)
    assert created.status_code == 200, created.text
    query_id = created.json()["id"]
    assert api(cloud, "GET", f"/1/queries/{dataset}/{query_id}").json()["id"] == query_id
    started = api(cloud, "POST", f"/1/query_results/{dataset}", {"query_id": query_id, **opts})
    assert started.status_code == 201, started.text
    assert set(started.json()) >= {"id", "complete", "links", "query"}
    result = api(cloud, "GET", f"/1/query_results/{dataset}/{started.json()['id']}").json()
    assert result["complete"] is True
    return result


def rows_of(result):
    return [entry["data"] for entry in result["data"]["results"]]


def test_count_avg_max_percentiles_by_route(module_cloud, data):
    spec = {"calculations": [{"op": "COUNT"}, {"op": "AVG", "column": "duration_ms"},
                             {"op": "MAX", "column": "duration_ms"}, {"op": "P50", "column": "duration_ms"},
                             {"op": "P90", "column": "duration_ms"}, {"op": "P95", "column": "duration_ms"},
                             {"op": "P99", "column": "duration_ms"}],
            "breakdowns": ["http.route"], "time_range": 3600}
    rows = {r["http.route"]: r for r in rows_of(run(module_cloud, "backend-flask", spec))}
    assert set(rows) == set(ROUTES)
    for route in ROUTES:
        values = np.array([t["duration_ms"] for t in data if t["service"] == "backend-flask" and t["route"] == route])
        row = rows[route]
        assert row["COUNT"] == len(values)
        assert row["AVG(duration_ms)"] == pytest.approx(values.mean(), rel=1e-3)
        assert row["MAX(duration_ms)"] == pytest.approx(values.max(), rel=1e-3)
        for op, q in (("P50", 50), ("P90", 90), ("P95", 95), ("P99", 99)):
            assert row[f"{op}(duration_ms)"] == pytest.approx(np.percentile(values, q), rel=1e-3)


def test_default_order_is_first_calculation_descending(module_cloud, data):
    rows = rows_of(run(module_cloud, "backend-flask", {"calculations": [{"op": "COUNT"}], "breakdowns": ["http.route"]}))
    counts = [r["COUNT"] for r in rows]
    assert counts == sorted(counts, reverse=True) and sum(counts) == N


# (filters, filter_combination, predicate over a truth row) -- the predicate is the documented meaning, written
# independently of the stand-in; every row must select some but not all spans (test_filter_table_is_discriminating)
FILTER_TABLE = [
    ([{"column": "http.status_code", "op": ">=", "value": 500}], "AND", lambda t: t["status"] >= 500),
    ([{"column": "http.status_code", "op": "=", "value": "404"}], "AND", lambda t: t["status"] == 404),
    ([{"column": "http.route", "op": "starts-with", "value": "/api/activities"}], "AND",
     lambda t: t["route"].startswith("/api/activities")),
    ([{"column": "http.route", "op": "does-not-start-with", "value": "/api/activities"}], "AND",
     lambda t: not t["route"].startswith("/api/activities")),
    ([{"column": "http.route", "op": "contains", "value": "search"}], "AND", lambda t: "search" in t["route"]),
    ([{"column": "http.route", "op": "does-not-contain", "value": "search"}], "AND",
     lambda t: "search" not in t["route"]),
    ([{"column": "user.handle", "op": "in", "value": ["user1", "user2"]}], "AND",
     lambda t: t["user"] in ("user1", "user2")),
    ([{"column": "user.handle", "op": "not-in", "value": ["user1"]}], "AND", lambda t: t["user"] != "user1"),
    ([{"column": "user.handle", "op": "!=", "value": "user3"}], "AND", lambda t: t["user"] != "user3"),
    ([{"column": "duration_ms", "op": "<", "value": 20}], "AND", lambda t: t["duration_ms"] < 20),
    ([{"column": "duration_ms", "op": ">", "value": 20}], "AND", lambda t: t["duration_ms"] > 20),
    ([{"column": "region", "op": "=", "value": "eu"}], "AND", lambda t: t["region"] == "eu"),  # resource attribute
    ([{"column": "app.cached", "op": "exists"}], "AND", lambda t: t["cached"] is not None),
    ([{"column": "app.cached", "op": "does-not-exist"}], "AND", lambda t: t["cached"] is None),
    ([{"column": "app.cached", "op": "=", "value": True}], "AND", lambda t: t["cached"] is True),
    ([{"column": "app.cached", "op": "!=", "value": True}], "AND", lambda t: t["cached"] is not True),
    ([{"column": "http.status_code", "op": "=", "value": 404},
      {"column": "http.route", "op": "=", "value": "/api/messages"}], "AND",
     lambda t: t["status"] == 404 and t["route"] == "/api/messages"),
    ([{"column": "http.status_code", "op": "=", "value": 500},
      {"column": "http.route", "op": "=", "value": "/api/messages"}], "OR",
     lambda t: t["status"] == 500 or t["route"] == "/api/messages"),
]


def _backend(data):
    return [t for t in data if t["service"] == "backend-flask"]


@pytest.mark.parametrize("filters,combination,predicate", FILTER_TABLE,
                         ids=[f"{row[1]}:" + ",".join(f"{f['column']} {f['op']}" for f in row[0]) for row in FILTER_TABLE])
def test_filter(module_cloud, data, filters, combination, predicate):
    rows = rows_of(run(module_cloud, "backend-flask", {"calculations": [{"op": "COUNT"}], "filters": filters,
                                                       "filter_combination": combination}))
    assert rows[0]["COUNT"] == sum(1 for t in _backend(data) if predicate(t)), filters


def test_filter_table_is_discriminating(data):
    """Every filter in the table must select some but not all spans, or it would pass with filters ignored."""
    backend = _backend(data)
    for filters, _, predicate in FILTER_TABLE:
        hits = sum(bool(predicate(t)) for t in backend)
        assert 0 < hits < len(backend), filters


def test_a_column_no_span_has(module_cloud, data):
    """Honeycomb: a missing column never exists, always does-not-exist, and is never equal to a value."""
    for op, expected in (("exists", 0), ("does-not-exist", N)):
        rows = rows_of(run(module_cloud, "backend-flask", {"calculations": [{"op": "COUNT"}],
                                                           "filters": [{"column": "no.such.column", "op": op}]}))
        assert rows[0]["COUNT"] == expected, op


def test_environment_wide_dataset_and_service_breakdown(module_cloud, data):
    rows = rows_of(run(module_cloud, "__all__", {"calculations": [{"op": "COUNT"}], "breakdowns": ["service.name"]}))
    assert {r["service.name"]: r["COUNT"] for r in rows} == {"backend-flask": N, "notifications": 40}


def test_time_window_rules(module_cloud, data):
    now = time.time()
    start, end = int(now - 300), int(now)
    expected = sum(1 for t in data if t["service"] == "backend-flask" and start <= t["start_s"] < end)
    for spec in ({"start_time": start, "end_time": end}, {"start_time": start, "time_range": 300},
                 {"end_time": end, "time_range": 300}):
        rows = rows_of(run(module_cloud, "backend-flask", {"calculations": [{"op": "COUNT"}], **spec}))
        assert rows[0]["COUNT"] == expected, spec
    old = rows_of(run(module_cloud, "backend-flask", {"calculations": [{"op": "COUNT"}],
                                                      "start_time": int(now - 7200), "end_time": int(now - 3600)}))
    assert old[0]["COUNT"] == 0


def test_heatmap_and_series(module_cloud, data):
    result = run(module_cloud, "backend-flask", {
        "calculations": [{"op": "COUNT"}, {"op": "HEATMAP", "column": "duration_ms"}],
        "breakdowns": ["http.route"], "time_range": 3600, "granularity": 60})
    for row in rows_of(result):
        buckets = row["HEATMAP(duration_ms)"]["buckets"]
        assert sum(b["count"] for b in buckets) == row["COUNT"]
        values = [t["duration_ms"] for t in data if t["service"] == "backend-flask" and t["route"] == row["http.route"]]
        first = next(b for b in buckets if b["count"])
        assert first["lower"] <= min(values) + 1e-6
    series = result["data"]["series"]
    assert sum(point["data"]["COUNT"] for point in series) == N
    assert all(point["time"].endswith("Z") for point in series)


def test_orders_havings_limit(module_cloud, data):
    backend = [t for t in data if t["service"] == "backend-flask"]
    spec = {"calculations": [{"op": "COUNT"}], "breakdowns": ["user.handle"],
            "orders": [{"column": "user.handle", "order": "ascending"}], "limit": 3}
    rows = rows_of(run(module_cloud, "backend-flask", spec))
    assert [r["user.handle"] for r in rows] == ["user0", "user1", "user2"]
    counts = {u: sum(1 for t in backend if t["user"] == u) for u in {t["user"] for t in backend}}
    threshold = sorted(counts.values())[3]
    spec = {"calculations": [{"op": "COUNT"}], "breakdowns": ["user.handle"],
            "havings": [{"calculate_op": "COUNT", "op": ">=", "value": threshold}]}
    rows = rows_of(run(module_cloud, "backend-flask", spec))
    assert {r["user.handle"] for r in rows} == {u for u, c in counts.items() if c >= threshold}


def test_user_text_is_bound_not_pasted(module_cloud, data):
    nasty = "x\"'); DROP TABLE otlp_spans; --"
    bad = api(module_cloud, "POST", "/1/queries/backend-flask", {"filters": [{"column": nasty, "op": "exists"}]})
    assert bad.status_code == 400
    sneaky = "a'); DROP TABLE otlp_spans; --"
    rows = rows_of(run(module_cloud, "backend-flask", {"calculations": [{"op": "COUNT"}],
                                                       "filters": [{"column": sneaky, "op": "=", "value": sneaky}]}))
    assert rows[0]["COUNT"] == 0
    assert module_cloud.status()["components"]["honeycomb"]["spans"] == N + 40


@pytest.mark.parametrize("spec,needle", [
    ([1], "JSON object"),
    ({"calculations": [{"op": "P42", "column": "duration_ms"}]}, "unsupported op"),
    ({"calculations": [{"op": "AVG"}]}, "column"),
    ({"calculations": [{"op": "COUNT", "column": "duration_ms"}]}, "COUNT"),
    ({"calculations": "COUNT"}, "list"),
    ({"filters": [{"column": "name", "op": "~="}]}, "unsupported op"),
    ({"filters": [{"column": "name", "op": "in", "value": "a"}]}, "list"),
    ({"filters": [{"column": "name", "op": "exists", "value": 1}]}, "does not take"),
    ({"filters": [{"column": "name", "op": "contains", "value": 3}]}, "string"),
    ({"filter_combination": "XOR"}, "AND or OR"),
    ({"breakdowns": "name"}, "list"),
    ({"orders": [{"op": "AVG", "column": "duration_ms"}]}, "not one of"),
    ({"orders": [{"column": "name"}]}, "breakdowns"),
    ({"havings": [{"calculate_op": "COUNT", "op": "like", "value": 1}]}, "unsupported op"),
    ({"time_range": -5}, "non-negative"),
    ({"time_range": 60, "start_time": 1, "end_time": 100}, "at most two"),
    ({"start_time": 100, "end_time": 50}, "after"),
    ({"time_range": 600, "granularity": 300}, "granularity"),
    ({"limit": 20000}, "limit"),
    ({"calculation": [{"op": "COUNT"}]}, "unknown query spec field"),
])
def test_invalid_specs_are_400_with_honeycomb_error(module_cloud, data, spec, needle):
    answer = api(module_cloud, "POST", "/1/queries/backend-flask", spec)
    assert answer.status_code == 400
    assert needle in answer.json()["error"]


def test_api_errors(module_cloud, data):
    assert api(module_cloud, "POST", "/1/queries/no-such-dataset", {}).status_code == 404
    assert api(module_cloud, "POST", "/1/queries/backend-flask", {}, key=None).status_code == 401
    assert api(module_cloud, "POST", "/1/queries/backend-flask", {}, key="wrong").json()["error"]
    assert api(module_cloud, "POST", "/1/query_results/backend-flask", {"query_id": "nope"}).status_code == 404
    assert api(module_cloud, "POST", "/1/query_results/backend-flask", {}).status_code == 400
    qid = api(module_cloud, "POST", "/1/queries/backend-flask", {}).json()["id"]
    too_many = api(module_cloud, "POST", "/1/query_results/backend-flask", {"query_id": qid, "limit": 5000})
    assert too_many.status_code == 400 and "disable_series" in too_many.json()["error"]
    assert api(module_cloud, "POST", "/1/query_results/backend-flask",
               {"query_id": qid, "limit": 5000, "disable_series": True}).status_code == 201
    assert api(module_cloud, "GET", "/1/query_results/backend-flask/nope").status_code == 404
    broken = requests.post(f"http://127.0.0.1:{module_cloud.ports['otlp']}/1/queries/backend-flask", data=b"{oops",
                           headers={"X-Honeycomb-Team": KEY}, timeout=5)
    assert broken.status_code == 400 and "JSON" in broken.json()["error"]


def test_query_client_returns_typed_frames(module_cloud, data):
    frame = spans_q.query("backend-flask", calculations=[{"op": "COUNT"}, {"op": "P99", "column": "duration_ms"}],
                            breakdowns=["http.route"], time_range=3600)
    assert list(frame.columns) == ["http.route", "COUNT", "P99(duration_ms)"]
    assert frame["COUNT"].dtype == "int64" and frame["P99(duration_ms)"].dtype == "float64"
    assert frame["COUNT"].sum() == N
    assert spans_q.whoami()["team"]["slug"]
    with pytest.raises(spans_q.HoneycombQueryError) as err:
        spans_q.query("backend-flask", calculations=[{"op": "NOPE"}])
    assert err.value.status == 400


def test_local_spans_frame_and_span_tree(module_cloud, data):
    frame = spans_q.local_spans(time.time() - 3600, time.time() + 60)
    assert len(frame) == N + 40
    assert str(frame["start_time"].dtype) == "datetime64[us, UTC]" or str(frame["start_time"].dtype).startswith(
        "datetime64")
    assert frame["duration_ms"].sum() == pytest.approx(sum(t["duration_ms"] for t in data), rel=1e-6)
    assert isinstance(frame["attributes"].iloc[0], dict)
    only = spans_q.local_spans(dataset="notifications")
    assert len(only) == 40
    tree = spans_q.span_tree(frame, frame["trace_id"].iloc[0])
    assert tree["depth"].tolist() == [0]


# query spec (decoded JSON) -> the AST query.parse builds, written out by hand
PARSE_TABLE = [
    ({}, QuerySpec()),
    ({"calculations": [{"op": "p99", "column": "duration_ms"}, {"op": "COUNT"}], "breakdowns": ["http.route"]},
     QuerySpec(calculations=[Calculation("P99", "duration_ms"), Calculation("COUNT")], breakdowns=["http.route"])),
    ({"filters": [{"column": "http.status_code", "op": ">=", "value": 500},
                  {"column": "name", "op": "exists"}], "filter_combination": "OR"},
     QuerySpec(filters=[Filter("http.status_code", ">=", 500), Filter("name", "exists")], filter_combination="OR")),
    ({"calculations": [{"op": "AVG", "column": "duration_ms"}], "breakdowns": ["name"],
      "orders": [{"op": "avg", "column": "duration_ms", "order": "descending"}, {"column": "name"}],
      "havings": [{"calculate_op": "AVG", "column": "duration_ms", "op": ">", "value": 10}], "limit": 5},
     QuerySpec(calculations=[Calculation("AVG", "duration_ms")], breakdowns=["name"],
               orders=[Order("AVG", "duration_ms", "descending"), Order(None, "name", "ascending")],
               havings=[Having("AVG", ">", 10, "duration_ms")], limit=5)),
    ({"start_time": 1000, "end_time": 4600, "granularity": 60},
     QuerySpec(start_time=1000, end_time=4600, granularity=60)),
]


@pytest.mark.parametrize("payload,expected", PARSE_TABLE, ids=[str(sorted(row[0])) for row in PARSE_TABLE])
def test_parse_builds_the_ast(payload, expected):
    assert query.parse(payload) == expected


def test_orders_and_havings_name_calculations_by_key():
    spec = query.parse({"calculations": [{"op": "COUNT"}, {"op": "P50", "column": "duration_ms"}],
                        "orders": [{"op": "COUNT", "column": "ignored"}],
                        "havings": [{"calculate_op": "P50", "column": "duration_ms", "op": "<", "value": 3}]})
    assert spec.orders[0].calculation.key == "COUNT" and spec.havings[0].calculation.key == "P50(duration_ms)"
