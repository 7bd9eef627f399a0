"""Correlate the pillars: spans, X-Ray segments, log lines and Rollbar occurrences joined by trace id.

The traffic generator records, per request, the trace id each tracer answered with (``otel_trace_id``
from ``traceresponse``, ``xray_trace_id`` from ``X-Amzn-Trace-Id``). Every other signal carries one of
them somewhere: spans in ``trace_id``, segments in ``trace_id`` (X-Ray form ``1-xxxxxxxx-yyyy...``), log lines
and Rollbar payloads inside their text. All are reduced to one key, the 32 hex digits, so a request can be
followed across the four tools with plain pandas merges:

    keys = correlate.request_keys(traffic)
    correlate.by_request(traffic, spans=spans, segments=segments, logs=logs, occurrences=occurrences)
    correlate.evidence(seq, traffic, spans=..., segments=..., logs=..., occurrences=...)   # side by side

and questions answered from the data alone: :func:`slow_routes`, :func:`failing_dependencies`,
:func:`error_rate_by_route`, :func:`service_edges`.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

import pandas as pd

XRAY_ID = re.compile(r"\b1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})\b")
HEX32 = re.compile(r"(?<![0-9a-fA-F-])([0-9a-fA-F]{32})(?![0-9a-fA-F])")
UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")


def normalize_trace_id(value: Any) -> str | None:
    """``1-5759e988-bd862e3fe1be46a994272793``, ``Root=1-...;Parent=...`` or 32 hex -> 32 lower-case hex."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return None
    text = str(value)
    m = XRAY_ID.search(text)
    if m:
        return (m.group(1) + m.group(2)).lower()
    m = HEX32.search(text)
    return m.group(1).lower() if m else None


def xray_id(trace_id_hex: str) -> str:
    """32 hex digits -> ``1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy`` (how X-Ray writes the same id)."""
    key = normalize_trace_id(trace_id_hex)
    if key is None:
        raise ValueError(f"{trace_id_hex!r} is not a trace id")
    return f"1-{key[:8]}-{key[8:]}"


def keys_in(value: Any) -> set[str]:
    """Every trace id (as 32 hex digits) and request id (as ``req:<uuid>``) mentioned anywhere in a value
    (strings as they are; dicts and lists JSON-serialised first)."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return set()
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    found = {(a + b).lower() for a, b in XRAY_ID.findall(text)}
    rest = XRAY_ID.sub(" ", text)
    found |= {"req:" + u.lower() for u in UUID.findall(rest)}
    found |= {h.lower() for h in HEX32.findall(UUID.sub(" ", rest))}
    return found


def extract_keys(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """(row, key) pairs: the trace ids found in ``columns`` (default: every non-numeric column)."""
    if frame is None or frame.empty:
        return pd.DataFrame({"row": pd.Series(dtype="int64"), "key": pd.Series(dtype="string")})
    cols = list(columns) if columns is not None else [
        c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])
        and not pd.api.types.is_datetime64_any_dtype(frame[c])]
    rows = []
    for pos, values in enumerate(frame[cols].itertuples(index=False, name=None)):
        keys: set[str] = set()
        for value in values:
            keys |= keys_in(value)
        rows.extend((pos, key) for key in keys)
    return pd.DataFrame(rows, columns=["row", "key"]).astype({"row": "int64", "key": "string"})


def request_keys(traffic: pd.DataFrame) -> pd.DataFrame:
    """(seq, key, tracer) for each request: its OTel and its X-Ray trace id, both as 32 hex digits, and its
    ``X-Request-Id`` as ``req:<uuid>`` (the key for signals that carry no trace id, e.g. an error report
    made from the request's data)."""
    parts = []
    for column, tracer in (("otel_trace_id", "otel"), ("xray_trace_id", "xray")):
        if column in traffic:
            part = pd.DataFrame({"seq": traffic["seq"], "key": traffic[column].map(normalize_trace_id),
                                 "tracer": tracer})
            parts.append(part.dropna(subset=["key"]))
    if "request_id" in traffic:
        rid = traffic["request_id"].astype("object").map(
            lambda v: "req:" + str(v).lower() if isinstance(v, str) and UUID.fullmatch(v) else None)
        parts.append(pd.DataFrame({"seq": traffic["seq"], "key": rid, "tracer": "request_id"}).dropna(subset=["key"]))
    if not parts:
        raise ValueError("the traffic frame has no otel_trace_id, xray_trace_id or request_id column")
    return pd.concat(parts, ignore_index=True).astype({"seq": "int64", "key": "string", "tracer": "string"})


def expand_keys(traffic: pd.DataFrame, *frames: pd.DataFrame | None) -> pd.DataFrame:
    """``request_keys`` plus the ids that appear *next to* a request's id in another signal.

    A request answered by an unhandled exception gets no ``X-Amzn-Trace-Id`` header, so the client never
    learns its X-Ray id; but the Rollbar report or the log line made inside that request carries both ids.
    One round of this closure links the request to its X-Ray segments too."""
    keys = request_keys(traffic)[["seq", "key"]]
    known = set(keys["key"])
    extra = []
    for frame in frames:
        if frame is None or frame.empty:
            continue
        found = extract_keys(frame)
        rows_with_known = found[found["key"].isin(known)].merge(keys, on="key")[["row", "seq"]].drop_duplicates()
        if rows_with_known["row"].duplicated().any():  # a row naming two requests says nothing about either
            rows_with_known = rows_with_known[~rows_with_known["row"].duplicated(keep=False)]
        extra.append(found.merge(rows_with_known, on="row")[["seq", "key"]])
    if extra:
        keys = pd.concat([keys, *extra], ignore_index=True).drop_duplicates()
        # an id claimed by two requests is ambiguous: keep only the requests' own ids for it
        claimed = keys.groupby("key")["seq"].nunique()
        keys = keys[(keys["key"].map(claimed) == 1) | keys["key"].isin(known)]
    return keys.astype({"seq": "int64", "key": "string"}).reset_index(drop=True)


def _attach(traffic: pd.DataFrame, frame: pd.DataFrame | None, columns: Iterable[str] | None,
            keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """``frame``'s rows with the ``seq`` of the request they belong to (rows of no request are dropped)."""
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["seq"])
    found = extract_keys(frame, columns)
    keys = request_keys(traffic)[["seq", "key"]] if keys is None else keys
    joined = found.merge(keys[["seq", "key"]], on="key").drop_duplicates(["row", "seq"])
    out = frame.reset_index(drop=True).iloc[joined["row"].to_numpy()].copy()
    out.insert(0, "seq", joined["seq"].to_numpy())
    return out.reset_index(drop=True)


SIGNALS = {"spans": ("trace_id",), "segments": ("trace_id",), "logs": None, "occurrences": None}


def by_request(traffic: pd.DataFrame, spans: pd.DataFrame | None = None, segments: pd.DataFrame | None = None,
               logs: pd.DataFrame | None = None, occurrences: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per request: route, status, latency and how many spans / segments / log lines / Rollbar
    occurrences carry its trace ids."""
    out = traffic[["seq", "method", "route", "status", "latency_ms"]].copy()
    keys = expand_keys(traffic, logs, occurrences)
    for name, frame in (("spans", spans), ("segments", segments), ("logs", logs), ("occurrences", occurrences)):
        attached = _attach(traffic, frame, SIGNALS[name], keys)
        counts = attached.groupby("seq").size() if len(attached) else pd.Series(dtype="int64")
        out[f"n_{name}"] = out["seq"].map(counts).fillna(0).astype("int64")
    return out


def _first_col(frame: pd.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def evidence(seq: int, traffic: pd.DataFrame, spans: pd.DataFrame | None = None,
             segments: pd.DataFrame | None = None, logs: pd.DataFrame | None = None,
             occurrences: pd.DataFrame | None = None) -> pd.DataFrame:
    """Everything the four tools recorded about one request, in time order: source, time, service, what."""
    one = traffic[traffic["seq"] == seq]
    if one.empty:
        raise KeyError(f"no request with seq={seq} in the traffic frame")
    rows: list[dict] = []
    keys = expand_keys(one, logs, occurrences)
    for source, frame in (("span", spans), ("segment", segments), ("log", logs), ("rollbar", occurrences)):
        attached = _attach(one, frame, SIGNALS.get(source + "s") if source in ("span", "segment") else None, keys)
        if attached.empty:
            continue
        tcol = _first_col(attached, "start_time", "timestamp", "time", "@timestamp", "start")
        scol = _first_col(attached, "service", "service_name", "stream", "logStream", "@logStream")
        wcol = _first_col(attached, "name", "title", "message", "@message", "body")
        for rec in attached.to_dict("records"):
            what = rec.get(wcol) if wcol else ""
            service = rec.get(scol) if scol else None
            if service is None and isinstance(rec.get("custom"), dict):
                service = rec["custom"].get("service")
            detail = {k: rec.get(k) for k in ("kind", "http_status_code", "error", "fault", "namespace", "level",
                                               "duration_ms", "http_status", "type") if k in rec and
                      not (isinstance(rec.get(k), float) and pd.isna(rec.get(k)))}
            rows.append({"source": source, "time": rec.get(tcol) if tcol else None,
                         "service": service, "what": str(what)[:200],
                         "detail": json.dumps(detail, default=str)})
    out = pd.DataFrame(rows, columns=["source", "time", "service", "what", "detail"])
    if len(out):
        out["time"] = pd.to_datetime(out["time"], utc=True, errors="coerce")
        out = out.sort_values(["time", "source"], kind="stable", na_position="last").reset_index(drop=True)
    return out.astype({"source": "string", "service": "string", "what": "string", "detail": "string"})


# --- questions answered from the data ------------------------------------------------------------------
def _route_keys(frame: pd.DataFrame, service: str = "service") -> list[str]:
    """Group by service, method (when the frame has it) and route template."""
    return [service] + (["http_method"] if "http_method" in frame.columns else []) + ["http_route"]


def _server_spans(spans: pd.DataFrame) -> pd.DataFrame:
    return spans[spans["kind"].astype("string").str.lower() == "server"]


def _is_5xx(spans: pd.DataFrame) -> pd.Series:
    status = pd.to_numeric(spans["http_status_code"], errors="coerce")
    return (status >= 500).fillna(False) | spans["error"].astype(bool)


def slow_routes(spans: pd.DataFrame, service: str | None = None) -> pd.DataFrame:
    """Server spans per (service, route): count, p50/p95 duration, and how many times slower than the
    median route of the same service the route's p50 is (``slowdown``). Sorted slowest first."""
    server = _server_spans(spans)
    if service is not None:
        server = server[server["service"] == service]
    grouped = server.groupby(_route_keys(server), dropna=True)["duration_ms"]
    out = grouped.agg(count="size", p50_ms="median", p95_ms=lambda s: s.quantile(0.95)).reset_index()
    typical = out.groupby("service")["p50_ms"].transform("median")
    out["slowdown"] = out["p50_ms"] / typical
    return out.sort_values("slowdown", ascending=False, kind="stable").reset_index(drop=True) \
        .astype({"service": "string", "http_route": "string", "count": "int64"})


def error_rate_by_route(spans: pd.DataFrame) -> pd.DataFrame:
    """Server spans per (service, route): requests, 5xx answers, error rate; worst first."""
    server = _server_spans(spans).assign(failed=lambda f: _is_5xx(f))
    out = server.groupby(_route_keys(server), dropna=True).agg(requests=("failed", "size"),
                                                                      errors=("failed", "sum")).reset_index()
    out["error_rate"] = out["errors"] / out["requests"]
    return out.sort_values(["error_rate", "requests"], ascending=False, kind="stable").reset_index(drop=True) \
        .astype({"service": "string", "http_route": "string", "requests": "int64", "errors": "int64"})


def exception_routes(spans: pd.DataFrame, service: str | None = None) -> pd.DataFrame:
    """Server spans that recorded an unhandled exception (an ``exception`` span event), per (service, route,
    exception type): how many, out of how many requests of that route. Worst share first."""
    server = _server_spans(spans)
    if service is not None:
        server = server[server["service"] == service]

    def exception_type(events) -> str | None:
        for event in events if isinstance(events, list) else []:
            if isinstance(event, dict) and event.get("name") == "exception":
                return str((event.get("attributes") or {}).get("exception.type", "?"))
        return None

    kinds = server["events"].map(exception_type) if "events" in server else pd.Series(None, index=server.index)
    keys = _route_keys(server)
    totals = server.groupby(keys).size().rename("requests")
    hit = server.assign(exception_type=kinds).dropna(subset=["exception_type"])
    out = hit.groupby(keys + ["exception_type"]).size().rename("exceptions").reset_index()
    out = out.merge(totals.reset_index(), on=keys)
    out["share"] = out["exceptions"] / out["requests"]
    return out.sort_values(["share", "exceptions"], ascending=False, kind="stable").reset_index(drop=True) \
        .astype({"service": "string", "http_route": "string", "exception_type": "string"})


def service_edges(spans: pd.DataFrame) -> pd.DataFrame:
    """Caller -> callee edges built from OTel spans: a server span whose parent span belongs to another
    service. Per edge: calls, failed calls (callee answered 5xx), p50 duration of the callee."""
    by_id = spans.set_index("span_id")["service"]
    server = _server_spans(spans)
    parent_service = server["parent_id"].map(by_id)
    crossing = server[parent_service.notna() & (parent_service != server["service"])].assign(
        caller=parent_service, failed=lambda f: _is_5xx(f))
    out = crossing.groupby(["caller", "service"]).agg(calls=("failed", "size"), failed=("failed", "sum"),
                                                      p50_ms=("duration_ms", "median")).reset_index()
    out = out.rename(columns={"service": "callee"})
    out["error_rate"] = out["failed"] / out["calls"]
    return out.astype({"caller": "string", "callee": "string", "calls": "int64", "failed": "int64"})


def failing_dependencies(spans: pd.DataFrame) -> pd.DataFrame:
    """Downstream (service, route) pairs reached from another service, with their error rate when called:
    the failing dependency is the first row."""
    by_id = spans.set_index("span_id")["service"]
    server = _server_spans(spans)
    parent_service = server["parent_id"].map(by_id)
    called = server[parent_service.notna() & (parent_service != server["service"])].assign(
        caller=parent_service, failed=lambda f: _is_5xx(f))
    out = called.groupby(["caller"] + _route_keys(called)).agg(calls=("failed", "size"),
                                                                  failed=("failed", "sum")).reset_index()
    out["error_rate"] = out["failed"] / out["calls"]
    out = out.rename(columns={"service": "dependency"})
    return out.sort_values(["error_rate", "calls"], ascending=False, kind="stable").reset_index(drop=True) \
        .astype({"caller": "string", "dependency": "string", "http_route": "string", "calls": "int64",
                 "failed": "int64"})


def failing_dependencies_xray(segments: pd.DataFrame) -> pd.DataFrame:
    """The failing-dependency question from X-Ray segments (``lab_app.query.xray.segments`` columns): a
    segment whose parent is a (remote) subsegment of another service is a call into that segment's service.
    Per (caller, dependency): calls, faults (5xx), errors (4xx), failure rate; worst first."""
    owner = segments.set_index("segment_id")["service"]
    own = segments[segments["kind"] == "segment"]
    caller = own["parent_id"].map(owner)
    called = own[caller.notna() & (caller != own["service"])].assign(caller=caller)
    out = called.groupby(["caller", "service"]).agg(calls=("fault", "size"), faults=("fault", "sum"),
                                                    errors=("error", "sum")).reset_index()
    out["failure_rate"] = (out["faults"] + out["errors"]) / out["calls"]
    out = out.rename(columns={"service": "dependency"})
    return out.sort_values(["failure_rate", "calls"], ascending=False, kind="stable").reset_index(drop=True) \
        .astype({"caller": "string", "dependency": "string", "calls": "int64", "faults": "int64", "errors": "int64"})


def failing_remote_calls(segments: pd.DataFrame) -> pd.DataFrame:
    """The same question from X-Ray: remote subsegments (``namespace = remote``) grouped by name, with the
    share that were faults or errors."""
    ns = segments.get("namespace")
    if ns is None:
        return pd.DataFrame(columns=["name", "calls", "faults", "errors", "fault_rate"])
    remote = segments[ns.astype("string") == "remote"]
    fault = remote.get("fault", pd.Series(False, index=remote.index)).fillna(False).astype(bool)
    error = remote.get("error", pd.Series(False, index=remote.index)).fillna(False).astype(bool)
    out = remote.assign(fault_=fault, error_=error).groupby("name").agg(
        calls=("fault_", "size"), faults=("fault_", "sum"), errors=("error_", "sum")).reset_index()
    out["fault_rate"] = (out["faults"] + out["errors"]) / out["calls"]
    return out.sort_values("fault_rate", ascending=False, kind="stable").reset_index(drop=True)


def latency_heatmap(frame: pd.DataFrame, time_col: str = "started_at", value_col: str = "latency_ms",
                    bins: int = 30, freq: str = "2s", log_scale: bool = True) -> pd.DataFrame:
    """Honeycomb-style heatmap counts: rows = latency buckets (upper edge, ms), columns = time buckets."""
    import numpy as np

    values = frame[value_col].astype(float).clip(lower=0.01)
    lo, hi = float(values.min()), float(values.max())
    edges = np.geomspace(lo, max(hi, lo * 1.01), bins + 1) if log_scale else np.linspace(lo, hi, bins + 1)
    bucket = pd.cut(values, edges, include_lowest=True, labels=[round(e, 1) for e in edges[1:]])
    when = pd.to_datetime(frame[time_col], utc=True).dt.floor(freq)
    table = pd.crosstab(bucket, when).sort_index(ascending=False)
    table.index.name = f"{value_col} <="
    return table
