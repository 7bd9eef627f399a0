"""X-Ray's query APIs into typed pandas: trace summaries, segments, service graph.

    from lab_app.query import xray
    summaries = xray.trace_summaries(minutes=15, filter_expression="fault")       # one row per trace
    segs = xray.segments(summaries["trace_id"].head(5))                           # one row per (sub)segment
    nodes, edges = xray.service_graph(minutes=15)                                  # DataFrames
    graph = xray.service_graph_nx(minutes=15)                                      # networkx.DiGraph

Every call is the real API through boto3 (``GetTraceSummaries`` with NextToken paging, ``BatchGetTraces``
in chunks of 5, ``GetServiceGraph``), so the same code runs against AWS X-Ray in cloud mode.
Times are timezone-aware datetimes (UTC); durations are milliseconds.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import boto3
import pandas as pd

BATCH = 5  # BatchGetTraces takes at most 5 trace ids per call


def client():
    return boto3.client("xray")


def _window(minutes: float | None, start: datetime | float | None, end: datetime | float | None) -> tuple[datetime, datetime]:
    def as_dt(value):
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, tz=timezone.utc)
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    end_dt = as_dt(end) or datetime.now(timezone.utc) + timedelta(seconds=5)
    start_dt = as_dt(start) or end_dt - timedelta(minutes=minutes or 15)
    return start_dt, end_dt


def _ms(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) * 1000.0, 3)


SUMMARY_COLUMNS = ["trace_id", "start_time", "duration_ms", "response_time_ms", "has_fault", "has_error",
                   "has_throttle", "is_partial", "http_method", "http_url", "http_status", "entry_point", "services",
                   "users", "annotations"]


def trace_summaries(minutes: float | None = 15, filter_expression: str | None = None, start=None, end=None,
                    time_range_type: str = "TraceId", max_pages: int = 100, xray=None) -> pd.DataFrame:
    """GetTraceSummaries for a window (all pages up to ``max_pages``): one row per trace."""
    xray = xray or client()
    start_dt, end_dt = _window(minutes, start, end)
    kwargs: dict[str, Any] = {"StartTime": start_dt, "EndTime": end_dt, "TimeRangeType": time_range_type}
    if filter_expression:
        kwargs["FilterExpression"] = filter_expression
    rows = []
    for _ in range(max_pages):
        page = xray.get_trace_summaries(**kwargs)
        for s in page.get("TraceSummaries", []):
            http = s.get("Http", {})
            annotations = {}
            for key, values in (s.get("Annotations") or {}).items():
                vals = [next(iter(v["AnnotationValue"].values())) for v in values]
                annotations[key] = vals[0] if len(vals) == 1 else vals
            rows.append({
                "trace_id": s["Id"], "start_time": s.get("StartTime"),
                "duration_ms": _ms(s.get("Duration")), "response_time_ms": _ms(s.get("ResponseTime")),
                "has_fault": s.get("HasFault", False), "has_error": s.get("HasError", False),
                "has_throttle": s.get("HasThrottle", False), "is_partial": s.get("IsPartial", False),
                "http_method": http.get("HttpMethod"), "http_url": http.get("HttpURL"),
                "http_status": http.get("HttpStatus"),
                "entry_point": (s.get("EntryPoint") or {}).get("Name"),
                "services": sorted({sid.get("Name") for sid in s.get("ServiceIds", []) if sid.get("Name")}),
                "users": [u.get("UserName") for u in s.get("Users", [])],
                "annotations": annotations,
            })
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    frame["start_time"] = pd.to_datetime(frame["start_time"], utc=True)
    for col in ("duration_ms", "response_time_ms"):
        frame[col] = frame[col].astype("float64")
    for col in ("has_fault", "has_error", "has_throttle", "is_partial"):
        frame[col] = frame[col].astype("bool")
    frame["http_status"] = frame["http_status"].astype("Int64")
    return frame.sort_values("start_time", ignore_index=True)


SEGMENT_COLUMNS = ["trace_id", "segment_id", "parent_id", "kind", "service", "name", "namespace", "start_time",
                   "end_time", "duration_ms", "offset_ms", "depth", "fault", "error", "throttle", "http_status",
                   "annotations", "metadata"]


def batch_get_traces(trace_ids: Iterable[str], xray=None) -> list[dict]:
    """BatchGetTraces in chunks of 5; returns the raw Trace dicts (documents as strings)."""
    xray = xray or client()
    ids = list(dict.fromkeys(trace_ids))
    traces = []
    for i in range(0, len(ids), BATCH):
        answer = xray.batch_get_traces(TraceIds=ids[i:i + BATCH])
        traces += answer.get("Traces", [])
    return traces


def segments(trace_ids: Iterable[str], xray=None) -> pd.DataFrame:
    """Every segment and subsegment of the traces: one row each, with depth and offset from the trace start."""
    rows = []
    for trace in batch_get_traces(trace_ids, xray):
        docs = [json.loads(s["Document"]) for s in trace.get("Segments", [])]
        t0 = min((d["start_time"] for d in docs), default=0.0)

        def walk(entity, service, parent, depth, kind, trace_id=trace["Id"], t0=t0):
            end = entity.get("end_time")
            rows.append({
                "trace_id": trace_id, "segment_id": entity.get("id"), "parent_id": parent,
                "kind": kind, "service": service, "name": entity.get("name"),
                "namespace": entity.get("namespace"), "start_time": entity.get("start_time"), "end_time": end,
                "duration_ms": _ms(end - entity["start_time"]) if end else None,
                "offset_ms": _ms(entity["start_time"] - t0), "depth": depth,
                "fault": bool(entity.get("fault")), "error": bool(entity.get("error")),
                "throttle": bool(entity.get("throttle")),
                "http_status": ((entity.get("http") or {}).get("response") or {}).get("status"),
                "annotations": entity.get("annotations") or {}, "metadata": entity.get("metadata") or {},
            })
            for sub in entity.get("subsegments", []) or []:
                walk(sub, service, entity.get("id"), depth + 1, "subsegment")

        for doc in docs:
            walk(doc, doc.get("name"), doc.get("parent_id"), 0, "segment")
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(frame[col].astype("float64"), unit="s", utc=True)
    for col in ("duration_ms", "offset_ms"):
        frame[col] = frame[col].astype("float64")
    frame["http_status"] = frame["http_status"].astype("Int64")
    frame["depth"] = frame["depth"].astype("int64")
    # depth across segments: a downstream segment sits under the subsegment that called it
    by_id = dict(zip(frame["segment_id"], range(len(frame))))
    depths = frame["depth"].tolist()
    for i, (kind, parent) in enumerate(zip(frame["kind"], frame["parent_id"])):
        if kind == "segment" and parent in by_id:
            depths[i] = depths[by_id[parent]] + 1
    for i, (kind, parent) in enumerate(zip(frame["kind"], frame["parent_id"])):
        if kind == "subsegment" and parent in by_id:
            depths[i] = depths[by_id[parent]] + 1
    frame["depth"] = depths
    return frame.sort_values(["trace_id", "start_time"], ignore_index=True)


def _stats(s: dict) -> dict:
    err, fault = s.get("ErrorStatistics", {}), s.get("FaultStatistics", {})
    total = s.get("TotalCount", 0)
    return {"requests": total, "ok": s.get("OkCount", 0), "errors": err.get("TotalCount", 0),
            "throttles": err.get("ThrottleCount", 0), "faults": fault.get("TotalCount", 0),
            "avg_response_ms": _ms(s.get("TotalResponseTime", 0.0) / total) if total else None}


def service_graph(minutes: float | None = 15, start=None, end=None, group_name: str | None = None,
                  xray=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GetServiceGraph -> (nodes, edges) DataFrames with request/ok/error/fault counts and mean latency."""
    xray = xray or client()
    start_dt, end_dt = _window(minutes, start, end)
    kwargs: dict[str, Any] = {"StartTime": start_dt, "EndTime": end_dt}
    if group_name:
        kwargs["GroupName"] = group_name
    services: list[dict] = []
    while True:
        page = xray.get_service_graph(**kwargs)
        services += page.get("Services", [])
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    names = {s["ReferenceId"]: s.get("Name") for s in services}
    nodes = pd.DataFrame([{"service": s.get("Name"), "type": s.get("Type"), "root": s.get("Root", False),
                           **_stats(s.get("SummaryStatistics", {}))} for s in services],
                         columns=["service", "type", "root", "requests", "ok", "errors", "throttles", "faults",
                                  "avg_response_ms"])
    edges = pd.DataFrame([{"source": s.get("Name"), "target": names.get(e["ReferenceId"]),
                           **_stats(e.get("SummaryStatistics", {}))}
                          for s in services for e in s.get("Edges", [])],
                         columns=["source", "target", "requests", "ok", "errors", "throttles", "faults",
                                  "avg_response_ms"])
    for frame in (nodes, edges):
        for col in ("requests", "ok", "errors", "throttles", "faults"):
            frame[col] = frame[col].astype("int64")
        frame["avg_response_ms"] = frame["avg_response_ms"].astype("float64")
    return nodes, edges


def service_graph_nx(minutes: float | None = 15, start=None, end=None, group_name: str | None = None, xray=None):
    """The service graph as a networkx.DiGraph (node and edge attributes = the DataFrame columns)."""
    import networkx as nx

    nodes, edges = service_graph(minutes, start, end, group_name, xray)
    graph = nx.DiGraph()
    for row in nodes.to_dict("records"):
        graph.add_node(row.pop("service"), **row)
    for row in edges.to_dict("records"):
        graph.add_edge(row.pop("source"), row.pop("target"), **row)
    return graph


def wait_for_traces(trace_ids: Iterable[str], timeout: float = 90.0, xray=None) -> pd.DataFrame:
    """Poll GetTraceSummaries until every trace id is visible (locally < 1 s; real X-Ray can take tens of seconds)."""
    wanted = set(trace_ids)
    deadline = time.monotonic() + timeout
    frame = pd.DataFrame(columns=SUMMARY_COLUMNS)
    while time.monotonic() < deadline:
        frame = trace_summaries(minutes=60, xray=xray)
        if wanted <= set(frame["trace_id"]):
            return frame[frame["trace_id"].isin(wanted)].reset_index(drop=True)
        time.sleep(0.25)
    missing = wanted - set(frame["trace_id"])
    raise TimeoutError(f"{len(missing)} of {len(wanted)} traces not visible after {timeout:.0f} s")
