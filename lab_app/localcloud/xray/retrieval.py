"""Trace retrieval over the Transaction Search spans: StartTraceRetrieval, ListRetrievedTraces,
GetRetrievedTracesGraph, CancelTraceRetrieval.

With Transaction Search on, spans live in the ``aws/spans`` log group (one JSON span document per log event,
:mod:`~lab_app.localcloud.xray.spans_log`) and only the indexed share becomes X-Ray trace summaries; these
operations read whole traces back from the log group:

* ``StartTraceRetrieval(TraceIds, StartTime, EndTime)`` needs Transaction Search to be active (the trace segment
  destination ``CloudWatchLogs``); otherwise ``InvalidRequestException`` naming UpdateTraceSegmentDestination
  (AWS does not document the words). Trace ids are X-Ray ids (``1-xxxxxxxx-...``, at most 35 characters) or W3C
  ids (32 hex digits), 1 to 100 of them. It answers an opaque ``RetrievalToken``.
* The retrieval is ``SCHEDULED``, then ``RUNNING``, then ``COMPLETE`` (AWS runs it as a job, which "will time
  out after 60 minutes"; the local cloud takes :data:`SCHEDULED_SECONDS` + :data:`RUNNING_SECONDS`). On completion the spans of
  the requested traces that started inside ``[StartTime, EndTime]`` (both inclusive) are read from ``aws/spans``
  and kept with the retrieval, so later reads answer the same traces.
* ``ListRetrievedTraces(RetrievalToken, TraceFormat)``: until ``COMPLETE`` it answers the status and no traces;
  then the traces (at most 5 per page, ``NextToken`` for more), each ``{Id, Duration, Spans: [{Id, Document}]}``
  with at most 100 spans (the model's limit; a larger trace is answered with its first 100 spans by start time).
  ``TraceFormat`` ``XRAY`` (the default) gives each span as the X-Ray segment or subsegment document X-Ray makes
  of it (:func:`~lab_app.localcloud.xray.otlp.span_to_segment`); ``OTEL`` gives the span document as stored in
  ``aws/spans``. ``Duration`` is from the start of the root span (the one without a parent, else the earliest) to
  the end of the last span.
* ``GetRetrievedTracesGraph(RetrievalToken)``: the service graph of the retrieved traces (services with their
  edges, statistics and histograms, built like GetServiceGraph's), each as ``{Service, Links}``; ``Links`` lists
  span links between traces, which the stored span documents do not carry, so it is empty.
* ``CancelTraceRetrieval(RetrievalToken)`` turns a ``SCHEDULED`` or ``RUNNING`` retrieval ``CANCELLED``; one that
  already finished is ``InvalidRequestException``. An unknown token is ``ResourceNotFoundException`` for all of
  them.
"""
from __future__ import annotations

import json
import re
import secrets
from typing import Any, Callable

from lab_app.localcloud.aws import paging
from lab_app.localcloud.xray.exceptions import InvalidRequestException, ResourceNotFoundException
from lab_app.localcloud.xray.statistics import statistics
from lab_app.localcloud.xray.summarize import summarize
from lab_app.localcloud.xray.transaction_search import CLOUDWATCH_LOGS

SCHEDULED_SECONDS = 1.0
RUNNING_SECONDS = 2.0
MAX_TRACE_IDS = 100
TRACES_PER_PAGE = 5
MAX_SPANS = 100
FORMATS = ("XRAY", "OTEL")
XRAY_ID = re.compile(r"^1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})$")
W3C_ID = re.compile(r"^[0-9a-fA-F]{32}$")
NOT_ACTIVE = ("Transaction Search is not enabled: trace retrieval reads the aws/spans log group, which X-Ray writes "
              "only when the trace segment destination is CloudWatchLogs. Enable it with "
              "UpdateTraceSegmentDestination (Destination=CloudWatchLogs) and wait until it is ACTIVE")
DDL = """CREATE TABLE IF NOT EXISTS xray_trace_retrievals (
    token VARCHAR PRIMARY KEY, trace_ids VARCHAR, start_time DOUBLE, end_time DOUBLE, created DOUBLE,
    cancelled BOOLEAN, traces VARCHAR)"""


def _w3c(trace_id: Any) -> str:
    if isinstance(trace_id, str):
        found = XRAY_ID.match(trace_id)
        if found:
            return (found.group(1) + found.group(2)).lower()
        if W3C_ID.match(trace_id):
            return trace_id.lower()
    raise InvalidRequestException(f"Trace id {trace_id!r} is not valid: use 1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy "
                                  "(X-Ray) or 32 hex digits (W3C)")


def _xray_id(w3c: str) -> str:
    return f"1-{w3c[:8]}-{w3c[8:]}"


def _span(doc: dict):
    """The stored span document back as an OTLP span (what the converter takes)."""
    from lab_app.localcloud.xray.otlp import Span

    status = doc.get("status") or {}
    return Span(trace_id=doc["traceId"], span_id=doc["spanId"], parent_span_id=doc.get("parentSpanId"),
                name=doc.get("name", ""), kind=doc.get("kind", "INTERNAL"), start_ns=int(doc["startTimeUnixNano"]),
                end_ns=int(doc["endTimeUnixNano"]), attributes=dict(doc.get("attributes") or {}),
                status_code=status.get("code", "UNSET"), status_message=status.get("message", ""),
                events=[{"name": e.get("name", ""), "time_unix_nano": e.get("timeUnixNano", 0),
                         "attributes": e.get("attributes") or {}} for e in doc.get("events") or []],
                resource=dict((doc.get("resource") or {}).get("attributes") or {}), scope=dict(doc.get("scope") or {}),
                flags=int(doc.get("flags") or 0))


def _segment(doc: dict) -> dict:
    from lab_app.localcloud.xray.otlp import span_to_segment

    return span_to_segment(_span(doc), validate_time=False)


def _usable(doc: dict) -> bool:
    """Whether an aws/spans event is a span X-Ray can answer (anyone may PutLogEvents other JSON into the group)."""
    from lab_app.localcloud.xray.otlp import InvalidSpan

    try:
        _segment(doc)
    except (InvalidSpan, KeyError, TypeError, ValueError, AttributeError):
        return False
    return True


def _graph(traces: list[dict]) -> list[dict]:
    """GetServiceGraph's services, from the nodes and edges :func:`summarize` makes of each trace's segments."""
    nodes: dict[tuple, list[dict]] = {}
    edges: dict[tuple, list[dict]] = {}
    for trace in traces:
        docs = [_segment(json.loads(s["Document"])) for s in trace["otel"]]
        rows = summarize(trace["Id"], docs)
        for node in rows["nodes"]:
            nodes.setdefault((node["name"], node["type"] or ""), []).append(node)
        for edge in rows["edges"]:
            edges.setdefault((edge["src_name"], edge["src_type"] or "", edge["dst_name"], edge["dst_type"] or ""),
                             []).append(edge)

    def stats(rows: list[dict]) -> dict:
        fault = sum(bool(r["has_fault"]) for r in rows)
        error = sum(not r["has_fault"] and bool(r["has_error"] or r["has_throttle"]) for r in rows)
        throttle = sum(not r["has_fault"] and bool(r["has_throttle"]) for r in rows)
        ok = sum(not (r["has_fault"] or r["has_error"] or r["has_throttle"]) for r in rows)
        return statistics(len(rows), ok, fault, error, throttle, sum(r["response_time"] or 0.0 for r in rows))

    def histogram(rows: list[dict]) -> list[dict]:
        counts: dict[float, int] = {}
        for r in rows:
            if r["response_time"] is not None:
                value = round(r["response_time"], 3)
                counts[value] = counts.get(value, 0) + 1
        return [{"Value": v, "Count": c} for v, c in sorted(counts.items())]

    keys = sorted(nodes)
    refs = {key: i for i, key in enumerate(keys)}
    services = []
    for key in keys:
        rows = nodes[key]
        service = {"ReferenceId": refs[key], "Name": key[0], "Names": [key[0]], "Root": any(r["root"] for r in rows),
                   "State": "unknown" if all(r["inferred"] for r in rows) else "active",
                   "StartTime": min(r["start_time"] for r in rows),
                   "EndTime": max((r["end_time"] for r in rows if r["end_time"] is not None), default=None),
                   "Edges": [], "SummaryStatistics": stats(rows), "DurationHistogram": histogram(rows),
                   "ResponseTimeHistogram": histogram(rows)}
        if key[1]:
            service["Type"] = key[1]
        services.append({k: v for k, v in service.items() if v is not None})
    for (src_name, src_type, dst_name, dst_type), rows in sorted(edges.items()):
        src, dst = refs.get((src_name, src_type)), refs.get((dst_name, dst_type))
        if src is None or dst is None:
            continue
        services[src]["Edges"].append({
            "ReferenceId": dst, "StartTime": min(r["start_time"] for r in rows),
            "EndTime": max((r["end_time"] or r["start_time"]) for r in rows), "SummaryStatistics": stats(rows),
            "ResponseTimeHistogram": histogram(rows), "Aliases": []})
    return [{"Service": s, "Links": []} for s in services]


class TraceRetrieval:
    def __init__(self, store, clock: Callable[[], float], transaction_search,
                 read_spans: Callable[[str, int, int], list[str]] | None = None):
        self.store = store
        self.now = clock
        self.transaction_search = transaction_search
        self.read_spans = read_spans   # (region, start ms, end ms) -> the aws/spans messages (set by the component)
        self.scheduled_seconds = SCHEDULED_SECONDS
        self.running_seconds = RUNNING_SECONDS

    def setup(self) -> None:
        self.store.ensure_table("xray_trace_retrievals", DDL)

    # --- state ----------------------------------------------------------------------------------------------
    def _load(self, token: Any) -> dict:
        if not isinstance(token, str):
            raise InvalidRequestException("RetrievalToken is required")
        rows = self.store.execute("SELECT trace_ids, start_time, end_time, created, cancelled, traces "
                                  "FROM xray_trace_retrievals WHERE token = ?", [token])
        if not rows:
            raise ResourceNotFoundException(f"Retrieval {token} not found", ResourceName=token)
        ids, start, end, created, cancelled, traces = rows[0]
        return {"token": token, "trace_ids": json.loads(ids), "start": start, "end": end, "created": created,
                "cancelled": cancelled, "traces": json.loads(traces) if traces else None}

    def _status(self, job: dict) -> str:
        if job["cancelled"]:
            return "CANCELLED"
        age = self.now() - job["created"]
        if age < self.scheduled_seconds:
            return "SCHEDULED"
        if age < self.scheduled_seconds + self.running_seconds:
            return "RUNNING"
        return "COMPLETE"

    def _traces(self, job: dict) -> list[dict]:
        """The retrieved traces (read from aws/spans the first time the completed job is read)."""
        if job["traces"] is not None:
            return job["traces"]
        wanted = set(job["trace_ids"])
        spans: dict[str, list[dict]] = {}
        messages = self.read_spans(self.transaction_search.region, int(job["start"] * 1000),
                                   int(job["end"] * 1000)) if self.read_spans else []
        for message in messages:
            try:
                doc = json.loads(message)
            except ValueError:
                continue
            if isinstance(doc, dict) and doc.get("traceId") in wanted and _usable(doc):
                spans.setdefault(doc["traceId"], []).append(doc)
        traces = []
        for w3c in job["trace_ids"]:
            docs = sorted(spans.get(w3c, []), key=lambda d: (int(d["startTimeUnixNano"]), d["spanId"]))[:MAX_SPANS]
            if not docs:
                continue
            root = next((d for d in docs if not d.get("parentSpanId")), docs[0])
            end = max(int(d["endTimeUnixNano"]) for d in docs)
            traces.append({"Id": _xray_id(w3c), "Duration": round((end - int(root["startTimeUnixNano"])) / 1e9, 6),
                           "otel": [{"Id": d["spanId"], "Document": json.dumps(d, separators=(",", ":"))}
                                    for d in docs]})
        self.store.execute("UPDATE xray_trace_retrievals SET traces = ? WHERE token = ?",
                           [json.dumps(traces), job["token"]])
        return traces

    # --- operations ------------------------------------------------------------------------------------------
    def start(self, trace_ids: Any, start: float, end: float) -> dict:
        if not isinstance(trace_ids, list) or not trace_ids:
            raise InvalidRequestException("TraceIds must list 1 to 100 trace ids")
        if len(trace_ids) > MAX_TRACE_IDS:
            raise InvalidRequestException(f"TraceIds can hold at most {MAX_TRACE_IDS} trace ids")
        ids = list(dict.fromkeys(_w3c(t) for t in trace_ids))
        if end < start:
            raise InvalidRequestException("EndTime must not be before StartTime")
        if self.transaction_search.effective_destination() != CLOUDWATCH_LOGS:
            raise InvalidRequestException(NOT_ACTIVE)
        token = secrets.token_hex(32)
        self.store.execute("INSERT INTO xray_trace_retrievals VALUES (?, ?, ?, ?, ?, false, NULL)",
                           [token, json.dumps(ids), float(start), float(end), self.now()])
        return {"RetrievalToken": token}

    def list(self, token: Any, trace_format: Any = None, next_token: Any = None) -> dict:
        trace_format = trace_format or "XRAY"
        if trace_format not in FORMATS:
            raise InvalidRequestException("TraceFormat must be XRAY or OTEL")
        job = self._load(token)
        status = self._status(job)
        out: dict = {"RetrievalStatus": status, "TraceFormat": trace_format, "Traces": []}
        if status != "COMPLETE":
            return out
        traces = self._traces(job)
        offset = self._offset(next_token, job["token"])
        for trace in traces[offset:offset + TRACES_PER_PAGE]:
            spans = trace["otel"] if trace_format == "OTEL" else [
                {"Id": s["Id"], "Document": json.dumps(_segment(json.loads(s["Document"])), separators=(",", ":"))}
                for s in trace["otel"]]
            out["Traces"].append({"Id": trace["Id"], "Duration": trace["Duration"], "Spans": spans})
        if offset + TRACES_PER_PAGE < len(traces):
            out["NextToken"] = paging.encode({"o": offset + TRACES_PER_PAGE, "r": job["token"][:16]})
        return out

    def graph(self, token: Any, next_token: Any = None) -> dict:
        job = self._load(token)
        status = self._status(job)
        if status != "COMPLETE":
            return {"RetrievalStatus": status, "Services": []}
        if next_token is not None:
            raise InvalidRequestException("The NextToken is not valid")   # the graph comes in one page
        return {"RetrievalStatus": status, "Services": _graph(self._traces(job))}

    def cancel(self, token: Any) -> dict:
        with self.store.lock:
            job = self._load(token)
            status = self._status(job)
            if status not in ("SCHEDULED", "RUNNING"):
                raise InvalidRequestException(f"Retrieval {token} is {status}: only a SCHEDULED or RUNNING retrieval "
                                              "can be cancelled")
            self.store.execute("UPDATE xray_trace_retrievals SET cancelled = true WHERE token = ?", [token])
        return {}

    @staticmethod
    def _offset(next_token: Any, token: str) -> int:
        if not next_token:
            return 0
        try:
            data = paging.decode(next_token)
            offset = int(data["o"])
            assert data.get("r") == token[:16] and offset >= 0
        except Exception:
            raise InvalidRequestException("The NextToken is not valid") from None
        return offset
