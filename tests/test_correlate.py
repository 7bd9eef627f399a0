"""Correlation by trace id across synthetic spans, segments, log lines and Rollbar occurrences."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from lab_app.analysis import correlate

T0 = pd.Timestamp("2026-01-01T00:00:00Z")


def otel_id(i):
    return f"{i:032x}"


def xray_id(i):
    h = f"{i + 1000:032x}"
    return f"1-{h[:8]}-{h[8:]}"


def frames(n=60):
    """Requests 0..n-1 on three routes. /search is slow (300 ms vs ~10 ms); the downstream notifications
    route fails on every 4th call (503); every other signal carries the request's trace ids."""
    traffic, spans, segments, logs, occ = [], [], [], [], []
    routes = ["/api/activities/home", "/api/activities/search", "/api/activities/notifications"]
    for i in range(n):
        route = routes[i % 3]
        slow = route.endswith("search")
        calls_down = route.endswith("notifications")
        down_fails = calls_down and (i // 3) % 4 == 0
        status = 502 if down_fails else 200
        dur = 300.0 + i % 5 if slow else 10.0 + i % 3
        start = T0 + pd.Timedelta(seconds=i)
        traffic.append({"seq": i, "started_at": start, "method": "GET", "route": "GET " + route, "path": route,
                        "status": status, "latency_ms": dur + 1, "otel_trace_id": otel_id(i),
                        "xray_trace_id": xray_id(i)})
        root = f"{i:08x}" + "a" * 8
        spans.append({"service": "backend-flask", "trace_id": otel_id(i), "span_id": root, "parent_id": None,
                      "name": route, "kind": "server", "start_time": start, "duration_ms": dur, "error": False,
                      "http_route": route, "http_status_code": status})
        segments.append({"trace_id": xray_id(i), "id": root, "name": "backend-flask", "start_time": start,
                         "namespace": None, "fault": down_fails, "error": False})
        logs.append({"timestamp": start, "message": json.dumps({"msg": "request", "trace_id": xray_id(i),
                                                                "route": route}), "logStream": "backend"})
        if calls_down:
            client = f"{i:08x}" + "c" * 8
            spans.append({"service": "backend-flask", "trace_id": otel_id(i), "span_id": client, "parent_id": root,
                          "name": "GET", "kind": "client", "start_time": start, "duration_ms": dur - 1,
                          "error": down_fails, "http_route": None, "http_status_code": 503 if down_fails else 200})
            spans.append({"service": "notifications", "trace_id": otel_id(i), "span_id": f"{i:08x}" + "d" * 8,
                          "parent_id": client, "name": "/api/notifications/@<handle>", "kind": "server",
                          "start_time": start, "duration_ms": dur - 2, "error": down_fails,
                          "http_route": "/api/notifications/@<handle>",
                          "http_status_code": 503 if down_fails else 200})
            segments.append({"trace_id": xray_id(i), "id": client, "name": "notifications", "start_time": start,
                             "namespace": "remote", "fault": down_fails, "error": False, "type": "subsegment"})
        if down_fails:
            occ.append({"timestamp": start + pd.Timedelta(milliseconds=5), "title": "HTTPError: 503",
                        "custom": {"trace_id": otel_id(i)}, "environment": "local"})
    t = pd.DataFrame(traffic)
    t["status"] = t["status"].astype("Int64")
    return t, pd.DataFrame(spans), pd.DataFrame(segments), pd.DataFrame(logs), pd.DataFrame(occ)


def test_normalize_and_keys():
    assert correlate.normalize_trace_id("1-5759e988-bd862e3fe1be46a994272793") == "5759e988bd862e3fe1be46a994272793"
    assert correlate.normalize_trace_id("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1") \
        == "5759e988bd862e3fe1be46a994272793"
    assert correlate.normalize_trace_id("ABCDEF0123456789ABCDEF0123456789") == "abcdef0123456789abcdef0123456789"
    assert correlate.normalize_trace_id(None) is None and correlate.normalize_trace_id("nope") is None
    assert correlate.keys_in({"a": ["x 1-5759e988-bd862e3fe1be46a994272793 y", "f" * 32]}) == {
        "5759e988bd862e3fe1be46a994272793", "f" * 32}


def test_request_ids_join_signals_without_trace_ids():
    traffic, spans, *_ = frames(6)
    traffic["request_id"] = [f"00000000-0000-4000-8000-{i:012x}" for i in range(6)]
    occ = pd.DataFrame([{"title": "boom", "request": {"headers": {"X-Request-Id": traffic.loc[4, "request_id"]}}}])
    table = correlate.by_request(traffic, spans=spans, occurrences=occ).set_index("seq")
    assert table["n_occurrences"].to_dict() == {0: 0, 1: 0, 2: 0, 3: 0, 4: 1, 5: 0}
    assert correlate.keys_in("id 00000000-0000-4000-8000-000000000004") == {"req:00000000-0000-4000-8000-000000000004"}


def test_by_request_counts_every_signal():
    traffic, spans, segments, logs, occ = frames()
    table = correlate.by_request(traffic, spans, segments, logs, occ).set_index("seq")
    # request 2 (notifications, (2//3)%4 == 0 -> fails): 3 spans, 2 segments, 1 log line, 1 occurrence
    assert table.loc[2, ["n_spans", "n_segments", "n_logs", "n_occurrences"]].tolist() == [3, 2, 1, 1]
    # request 0 (home): 1, 1, 1, 0
    assert table.loc[0, ["n_spans", "n_segments", "n_logs", "n_occurrences"]].tolist() == [1, 1, 1, 0]
    failing = traffic[traffic["status"] >= 500]["seq"]
    assert (table.loc[failing, "n_occurrences"] == 1).all()
    assert table["n_occurrences"].sum() == len(occ)


def test_evidence_puts_the_four_side_by_side():
    traffic, spans, segments, logs, occ = frames()
    ev = correlate.evidence(2, traffic, spans, segments, logs, occ)
    assert ev["source"].value_counts().to_dict() == {"span": 3, "segment": 2, "log": 1, "rollbar": 1}
    assert ev["time"].is_monotonic_increasing
    assert "HTTPError: 503" in set(ev["what"])
    with pytest.raises(KeyError):
        correlate.evidence(10_000, traffic, spans)


def test_slow_route_and_failing_dependency_found_from_data():
    traffic, spans, segments, logs, occ = frames()
    slow = correlate.slow_routes(spans, service="backend-flask")
    assert slow.loc[0, "http_route"] == "/api/activities/search" and slow.loc[0, "slowdown"] > 10
    deps = correlate.failing_dependencies(spans)
    top = deps.iloc[0]
    assert (top["caller"], top["dependency"], top["http_route"]) == (
        "backend-flask", "notifications", "/api/notifications/@<handle>")
    # 20 notification calls (i = 2, 5, ..., 59); failing when (i // 3) % 4 == 0: i // 3 in {0, 4, 8, 12, 16}
    assert (top["calls"], top["failed"]) == (20, 5) and top["error_rate"] == pytest.approx(0.25)
    remote = correlate.failing_remote_calls(segments)
    assert remote.loc[0, "name"] == "notifications" and remote.loc[0, "fault_rate"] == pytest.approx(0.25)
    edges = correlate.service_edges(spans)
    assert edges[["caller", "callee", "calls", "failed"]].values.tolist() == [["backend-flask", "notifications", 20, 5]]
    rates = correlate.error_rate_by_route(spans)
    assert rates.iloc[0]["http_route"] in ("/api/notifications/@<handle>", "/api/activities/notifications")
    assert rates.set_index("http_route").loc["/api/activities/home", "error_rate"] == 0


def test_latency_heatmap_counts_every_request():
    traffic, *_ = frames()
    heat = correlate.latency_heatmap(traffic, bins=10, freq="10s")
    assert int(heat.values.sum()) == len(traffic)
    assert heat.shape[1] == 6  # 60 s of traffic in 10 s columns


def test_ids_seen_next_to_a_request_id_join_its_other_signals():
    """A 500 from an unhandled exception: the client got no X-Ray id, the Rollbar report carries both."""
    traffic, spans, segments, logs, occ = frames(6)
    traffic.loc[2, "xray_trace_id"] = None
    occ = pd.DataFrame([{"title": "boom", "timestamp": T0,
                         "custom": {"otel_trace_id": otel_id(2), "xray_trace_id": xray_id(2)}}])
    plain = correlate.by_request(traffic, spans=spans, segments=segments).set_index("seq")
    assert plain.loc[2, "n_segments"] == 0
    table = correlate.by_request(traffic, spans=spans, segments=segments, occurrences=occ).set_index("seq")
    assert table.loc[2, "n_segments"] == 2 and table.loc[2, "n_occurrences"] == 1
    keys = correlate.expand_keys(traffic, occ)
    assert set(keys[keys["seq"] == 2]["key"]) == {otel_id(2), correlate.normalize_trace_id(xray_id(2))}


def test_failing_dependency_from_xray_segments():
    rows = []
    for i in range(8):
        rows += [{"trace_id": f"t{i}", "segment_id": f"a{i}", "parent_id": None, "kind": "segment",
                  "service": "backend-flask", "fault": False, "error": False},
                 {"trace_id": f"t{i}", "segment_id": f"c{i}", "parent_id": f"a{i}", "kind": "subsegment",
                  "service": "backend-flask", "fault": i % 4 == 0, "error": False},
                 {"trace_id": f"t{i}", "segment_id": f"d{i}", "parent_id": f"c{i}", "kind": "segment",
                  "service": "notifications", "fault": i % 4 == 0, "error": False}]
    deps = correlate.failing_dependencies_xray(pd.DataFrame(rows))
    assert deps[["caller", "dependency", "calls", "faults"]].values.tolist() == [["backend-flask", "notifications", 8, 2]]
    assert deps.loc[0, "failure_rate"] == pytest.approx(0.25)


def test_exception_routes_and_xray_id():
    spans = pd.DataFrame([
        {"service": "backend-flask", "kind": "server", "http_route": "/api/message_groups",
         "events": [{"name": "exception", "attributes": {"exception.type": "InjectedException"}}]},
        {"service": "backend-flask", "kind": "server", "http_route": "/api/message_groups", "events": []},
        {"service": "backend-flask", "kind": "server", "http_route": "/api/message_groups", "events": []},
        {"service": "backend-flask", "kind": "server", "http_route": "/api/activities/home", "events": []},
        {"service": "notifications", "kind": "server", "http_route": "/x",
         "events": [{"name": "exception", "attributes": {"exception.type": "AttributeError"}}]},
    ])
    out = correlate.exception_routes(spans, service="backend-flask")
    assert out[["http_route", "exception_type", "exceptions", "requests"]].values.tolist() == [
        ["/api/message_groups", "InjectedException", 1, 3]]
    assert out.loc[0, "share"] == pytest.approx(1 / 3)
    assert correlate.xray_id("5759e988bd862e3fe1be46a994272793") == "1-5759e988-bd862e3fe1be46a994272793"
