"""The traffic generator: a seeded plan, concurrency, the DataFrame it returns."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import Cruddur
from lab_app import traffic


@pytest.fixture(scope="module")
def stack():
    s = Cruddur()
    yield s
    s.stop()


def test_plan_is_deterministic_for_a_seed():
    a = list(traffic.plan(300, seed=11))
    b = list(traffic.plan(300, seed=11))
    c = list(traffic.plan(300, seed=12))
    assert a == b and a != c
    routes = {f"{r.method} {r.route}" for r in a}
    assert routes == set(traffic.DEFAULT_MIX)


def test_mix_is_respected_and_validated():
    planned = list(traffic.plan(200, mix={"GET /api/activities/home": 1}, seed=0))
    assert {p.route for p in planned} == {"/api/activities/home"}
    with pytest.raises(ValueError, match="unknown route"):
        list(traffic.plan(1, mix={"GET /nope": 1}))


def test_generate_returns_typed_rows_one_per_request(stack):
    df = traffic.generate(stack.backend_url, n=150, concurrency=4, seed=3, progress=False)
    assert len(df) == 150 and list(df["seq"]) == list(range(150))
    assert isinstance(df["started_at"].dtype, pd.DatetimeTZDtype)
    assert df["status"].dtype == "Int64" and df["latency_ms"].dtype == "float64"
    assert (df["latency_ms"] > 0).all() and df["error"].isna().all()
    assert df["request_id"].notna().all()
    planned = list(traffic.plan(150, seed=3))
    assert list(df["path"]) == [p.path for p in planned]
    # invalid requests are the 4xx ones, and only those
    invalid = pd.Series([p.invalid for p in planned])
    assert ((df["status"] >= 400) & (df["status"] < 500)).tolist() == invalid.tolist()


def test_same_seed_same_statuses(stack):
    a = traffic.generate(stack.backend_url, n=120, concurrency=6, seed=9, progress=False)
    b = traffic.generate(stack.backend_url, n=120, concurrency=2, seed=9, progress=False)
    assert a["path"].tolist() == b["path"].tolist()
    assert a["status"].tolist() == b["status"].tolist()


def test_duration_mode_stops_in_time(stack):
    df = traffic.generate(stack.backend_url, duration=0.5, concurrency=2, seed=1, progress=False)
    assert len(df) > 5
    span = (df["started_at"].max() - df["started_at"].min()).total_seconds()
    assert span < 1.5


def test_exactly_one_of_n_and_duration(stack):
    with pytest.raises(ValueError):
        traffic.generate(stack.backend_url, progress=False)
    with pytest.raises(ValueError):
        traffic.generate(stack.backend_url, n=1, duration=1, progress=False)


def test_route_summary_percentiles_match_pandas():
    df = pd.DataFrame({"seq": range(6), "method": ["GET"] * 6, "route": ["/a"] * 3 + ["/b"] * 3,
                       "latency_ms": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
                       "status": pd.array([200, 500, 200, 200, 200, 404], dtype="Int64")})
    out = traffic.route_summary(df).set_index("route")
    assert out.loc["/b", "p50_ms"] == 20.0 and out.loc["/a", "p99_ms"] == pytest.approx(2.98)
    assert out.loc["/a", "error_rate"] == pytest.approx(1 / 3) and out.loc["/b", "error_rate"] == 0
    assert out.loc["/b", "client_errors"] == 1
    assert out.index[0] == "/b"  # slowest first


def test_send_posts_json_and_returns_status_headers_and_body(stack):
    created = traffic.send("POST", stack.backend_url + "/api/activities", json={"message": "hi", "ttl": "1-day"},
                           headers={"X-Cruddur-User": "worf"})
    assert created.status_code == 200 and created.ok and created.json()["handle"] == "worf"
    assert created.headers["X-Request-Id"] and created.elapsed_ms > 0
    bad = traffic.send("POST", stack.backend_url + "/api/activities", json={"message": "", "ttl": "1-day"})
    assert bad.status_code == 422 and not bad.ok and bad.json() == {"errors": ["message_blank"]}


def test_the_load_generator_is_never_traced_by_the_kernels_instrumentation(stack):
    """traffic plays the user's browser: RequestsInstrumentor and X-Ray's patch(["requests"]) must not see it, or
    every backend trace would get a client span of the notebook as its root."""
    import requests
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    RequestsInstrumentor().instrument(tracer_provider=provider)
    try:
        def calls_to_the_backend():  # the backend's own calls to notifications are traced, and should be
            return [s for s in exporter.get_finished_spans()
                    if str(s.attributes.get("http.url", "")).startswith(stack.backend_url)]

        traffic.generate(stack.backend_url, n=20, concurrency=2, seed=1, progress=False)
        traffic.send("GET", stack.backend_url + "/health")
        assert calls_to_the_backend() == []
        requests.get(stack.backend_url + "/health", timeout=5)  # the control: requests itself is instrumented
        assert [s.name for s in calls_to_the_backend()] == ["GET"]
    finally:
        RequestsInstrumentor().uninstrument()
