"""One trace's stored documents -> the rows the query tables hold (trace summary, service nodes, edges, annotations).

Pure functions over dicts: no database here, so the rules are easy to read and test.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Iterable

REMOTE_NAMESPACES = ("remote", "aws")


def _flags(entity: dict) -> tuple[bool, bool, bool]:
    return bool(entity.get("fault")), bool(entity.get("error")), bool(entity.get("throttle"))


def _http(entity: dict) -> dict:
    http = entity.get("http") or {}
    req, resp = http.get("request") or {}, http.get("response") or {}
    status = resp.get("status")
    try:
        status = int(status) if status is not None else None
    except (TypeError, ValueError):
        status = None
    return {"http_url": req.get("url"), "http_method": req.get("method"), "http_status": status,
            "user_agent": req.get("user_agent"), "client_ip": req.get("client_ip")}


def _elapsed(entity: dict) -> float | None:
    start, end = entity.get("start_time"), entity.get("end_time")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)) and not entity.get("in_progress"):
        return round(float(end) - float(start), 6)
    return None


def _walk(entity: dict) -> Iterable[dict]:
    yield entity
    for sub in entity.get("subsegments") or []:
        if isinstance(sub, dict):
            yield from _walk(sub)


def service_id(name: str, type_: str | None) -> dict:
    sid: dict[str, Any] = {"Name": name, "Names": [name]}
    if type_:
        sid["Type"] = type_
    return sid


def assemble(docs: list[dict]) -> tuple[list[dict], list[dict]]:
    """Latest version of each document; streamed subsegments merged under their parent.

    Returns (segments with merged subsegments, orphan subsegments whose parent never arrived).
    """
    latest: dict[str, dict] = {}
    for doc in docs:  # in arrival order: a completed segment replaces its in-progress version
        latest[doc["id"]] = doc
    segments = [copy.deepcopy(d) for d in latest.values() if d.get("type") != "subsegment"]
    pending = [copy.deepcopy(d) for d in latest.values() if d.get("type") == "subsegment"]
    index = {e["id"]: e for seg in segments for e in _walk(seg) if isinstance(e.get("id"), str)}
    progress = True
    while pending and progress:
        progress = False
        rest = []
        for sub in pending:
            parent = index.get(sub.get("parent_id"))
            if parent is None:
                rest.append(sub)
                continue
            body = {k: v for k, v in sub.items() if k not in ("type", "trace_id", "parent_id")}
            siblings = parent.setdefault("subsegments", [])
            siblings[:] = [s for s in siblings if s.get("id") != body["id"]] + [body]
            for e in _walk(body):
                if isinstance(e.get("id"), str):
                    index[e["id"]] = e
            progress = True
        pending = rest
    segments.sort(key=lambda s: (s.get("start_time") or 0, s.get("id")))
    return segments, pending


def _node_row(trace_id: str, name, type_, entity: dict, *, root: bool, inferred: bool, user=None) -> dict:
    fault, error, throttle = _flags(entity)
    rt = _elapsed(entity)
    return {"trace_id": trace_id, "segment_id": entity.get("id"), "name": name, "type": type_,
            "root": root, "inferred": inferred, "start_time": entity.get("start_time"),
            "end_time": entity.get("end_time"), "response_time": rt, "duration": rt,
            "has_fault": fault, "has_error": error, "has_throttle": throttle,
            "is_partial": bool(entity.get("in_progress")), **_http(entity), "user": user}


def _edge_row(trace_id: str, src_seg: dict, dst_name, dst_type, call: dict, inferred: bool) -> dict:
    fault, error, throttle = _flags(call)
    rt = _elapsed(call)
    return {"trace_id": trace_id, "src_name": src_seg.get("name"), "src_type": src_seg.get("origin"),
            "dst_name": dst_name, "dst_type": dst_type, "dst_inferred": inferred,
            "start_time": call.get("start_time"), "end_time": call.get("end_time"), "response_time": rt,
            "duration": rt, "has_fault": fault, "has_error": error, "has_throttle": throttle,
            "is_partial": bool(call.get("in_progress")), **_http(call)}


def _typed(value: Any) -> tuple[str, dict] | None:
    """An annotation value's X-Ray type and its typed ``AnnotationValue`` (None: not indexable)."""
    if isinstance(value, bool):
        return "boolean", {"BooleanValue": value}
    if isinstance(value, (int, float)):
        return "number", {"NumberValue": float(value)}
    if isinstance(value, str):
        return "string", {"StringValue": value}
    return None


def _trace_epoch(trace_id: str, start: float | None) -> float | None:
    """The time in a trace id (``1-<8 hex epoch>-...``), or the trace's start when the id holds no time."""
    try:
        epoch = float(int(trace_id.split("-")[1], 16))
    except (IndexError, ValueError):
        epoch = start
    if start is not None and (epoch is None or abs(epoch - start) > 86400):
        # not a time-based id (e.g. a random W3C id converted from OTLP): its first 8 hex digits say nothing
        epoch = start
    return epoch


class _TraceRows:
    """The rows of one trace, gathered segment by segment."""

    def __init__(self, trace_id: str, segments: list[dict], partial: bool):
        self.trace_id = trace_id
        self.segments = segments
        self.partial = partial
        self.owner: dict[str, dict] = {}  # entity id -> the segment holding it
        for seg in segments:
            for e in _walk(seg):
                if isinstance(e.get("id"), str):
                    self.owner[e["id"]] = seg
        self.entities_by_id = {e["id"]: e for seg in segments for e in _walk(seg) if isinstance(e.get("id"), str)}
        self.children_of_sub = {seg.get("parent_id") for seg in segments if seg.get("parent_id")}
        self.nodes: list[dict] = []
        self.edges: list[dict] = []
        self.annotations: list[dict] = []
        self.users: dict[str, list] = {}
        self.service_ids: dict[tuple, dict] = {}
        self.ann_values: dict[tuple, dict] = {}
        self.roots: list[dict] = []

    def add_segment(self, seg: dict) -> None:
        name, type_ = seg.get("name"), seg.get("origin")
        parent_id = seg.get("parent_id")
        caller = self.entities_by_id.get(parent_id) if parent_id else None
        if caller is None:
            self.roots.append(seg)
        user = seg.get("user") if isinstance(seg.get("user"), str) else None
        self.nodes.append(_node_row(self.trace_id, name, type_, seg, root=caller is None, inferred=False, user=user))
        self.service_ids[(name, type_)] = service_id(name, type_)
        if user:
            self.users.setdefault(user, [])
            if service_id(name, type_) not in self.users[user]:
                self.users[user].append(service_id(name, type_))
        if caller is not None:
            self.edges.append(_edge_row(self.trace_id, self.owner[parent_id], name, type_, caller, False))
        for e in _walk(seg):
            if e.get("in_progress"):
                self.partial = True
            self.add_annotations(e, name, type_)
            if e is not seg and e.get("namespace") in REMOTE_NAMESPACES and e.get("id") not in self.children_of_sub:
                self.add_inferred(seg, e)

    def add_annotations(self, entity: dict, name, type_) -> None:
        for key, value in (entity.get("annotations") or {}).items():
            typed = _typed(value)
            if typed is None:
                continue
            vtype, annotation_value = typed
            self.annotations.append({"trace_id": self.trace_id, "service": name, "key": key, "vtype": vtype,
                                     "s_value": value if vtype == "string" else None,
                                     "n_value": float(value) if vtype == "number" else None,
                                     "b_value": value if vtype == "boolean" else None})
            slot = self.ann_values.setdefault((key, vtype, json.dumps(value)),
                                              {"AnnotationValue": annotation_value, "ServiceIds": []})
            if service_id(name, type_) not in slot["ServiceIds"]:
                slot["ServiceIds"].append(service_id(name, type_))

    def add_inferred(self, seg: dict, call: dict) -> None:
        """A downstream call with no segment of its own: X-Ray infers the downstream node."""
        sub_name = call.get("name") or "remote"
        sub_type = f"AWS::{sub_name}" if call.get("namespace") == "aws" else "remote"
        self.nodes.append(_node_row(self.trace_id, sub_name, sub_type, call, root=False, inferred=True))
        self.edges.append(_edge_row(self.trace_id, seg, sub_name, sub_type, call, True))
        self.service_ids.setdefault((sub_name, sub_type), service_id(sub_name, sub_type))

    def trace_row(self) -> dict[str, Any]:
        segments = self.segments
        starts = [s["start_time"] for s in segments if isinstance(s.get("start_time"), (int, float))]
        ends = [s["end_time"] for s in segments if isinstance(s.get("end_time"), (int, float))]
        root = self.roots[0] if self.roots else (segments[0] if segments else {})
        partial = self.partial or not self.roots
        start = min(starts) if starts else None
        end = max(ends) if ends else None
        annotations_out: dict[str, list] = {}
        for (key, _vtype, _v), slot in self.ann_values.items():
            annotations_out.setdefault(key, []).append(slot)
        extra = {
            "Annotations": annotations_out,
            "Users": [{"UserName": u, "ServiceIds": sids} for u, sids in self.users.items()],
            "ServiceIds": list(self.service_ids.values()),
            "EntryPoint": service_id(root["name"], root.get("origin")) if root.get("name") else None,
        }
        return {
            "trace_id": self.trace_id, "trace_epoch": _trace_epoch(self.trace_id, start), "start_time": start,
            "end_time": end, "duration": round(end - start, 6) if start is not None and end is not None else None,
            "response_time": _elapsed(root) if root else None,
            "has_fault": bool(root.get("fault")), "has_error": bool(root.get("error")),
            "has_throttle": any(bool(s.get("throttle")) for s in segments),
            "is_partial": partial, **_http(root),
            "entry_name": root.get("name"), "entry_type": root.get("origin"),
            "summary_json": json.dumps(extra), "segment_count": len(segments),
        }


def summarize(trace_id: str, docs: list[dict]) -> dict[str, Any]:
    """One trace's documents -> {trace, nodes, edges, annotations, segments} rows for the query tables."""
    segments, orphans = assemble(docs)
    rows = _TraceRows(trace_id, segments, partial=bool(orphans))
    for seg in segments:
        rows.add_segment(seg)
    return {"trace": rows.trace_row(), "nodes": rows.nodes, "edges": rows.edges, "annotations": rows.annotations,
            "segments": segments}
