"""X-Ray state and logic: segments, per-trace query tables, groups, sampling rules (all in the DuckDB store)."""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
import time
from typing import Any, Callable

import pandas as pd

from lab_app import config
from lab_app.localcloud.aws import paging
from lab_app.localcloud.store import Store
from lab_app.localcloud.xray import sampling
from lab_app.localcloud.xray.encryption import EncryptionConfig
from lab_app.localcloud.xray.exceptions import InvalidRequestException, RuleLimitExceededException
from lab_app.localcloud.xray.filter_expr import parse, to_sql
from lab_app.localcloud.xray.insights import Insights
from lab_app.localcloud.xray.resource_policies import ResourcePolicies
from lab_app.localcloud.xray.retrieval import TraceRetrieval
from lab_app.localcloud.xray.sampling_statistics import SamplingStatistics
from lab_app.localcloud.xray.statistics import TimeSeriesStatistics
from lab_app.localcloud.xray.summarize import summarize
from lab_app.localcloud.xray.tags import Tags
from lab_app.localcloud.xray.telemetry import TelemetryRecords
from lab_app.localcloud.xray.transaction_search import TransactionSearch

TRACE_ID = re.compile(r"^1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}$")
ENTITY_ID = re.compile(r"^[0-9a-fA-F]{16}$")
MAX_DOCUMENT_BYTES = 64 * 1024
PAGE_SIZE = 100
MAX_BATCH_TRACE_IDS = 5
GROUP_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")

TABLES = {
    "xray_segments": """CREATE TABLE IF NOT EXISTS xray_segments (
        seq BIGINT, trace_id VARCHAR, id VARCHAR, parent_id VARCHAR, kind VARCHAR, name VARCHAR,
        start_time DOUBLE, end_time DOUBLE, in_progress BOOLEAN, received_at DOUBLE, doc VARCHAR)""",
    "xray_traces": """CREATE TABLE IF NOT EXISTS xray_traces (
        trace_id VARCHAR, trace_epoch DOUBLE, start_time DOUBLE, end_time DOUBLE, duration DOUBLE,
        response_time DOUBLE, has_fault BOOLEAN, has_error BOOLEAN, has_throttle BOOLEAN, is_partial BOOLEAN,
        http_url VARCHAR, http_method VARCHAR, http_status INTEGER, user_agent VARCHAR, client_ip VARCHAR,
        entry_name VARCHAR, entry_type VARCHAR, summary_json VARCHAR, segment_count INTEGER, revision INTEGER,
        updated_at DOUBLE)""",
    "xray_nodes": """CREATE TABLE IF NOT EXISTS xray_nodes (
        trace_id VARCHAR, segment_id VARCHAR, name VARCHAR, type VARCHAR, root BOOLEAN, inferred BOOLEAN,
        start_time DOUBLE, end_time DOUBLE, response_time DOUBLE, duration DOUBLE, has_fault BOOLEAN,
        has_error BOOLEAN, has_throttle BOOLEAN, is_partial BOOLEAN, http_url VARCHAR, http_method VARCHAR,
        http_status INTEGER, user_agent VARCHAR, client_ip VARCHAR, "user" VARCHAR)""",
    "xray_edges": """CREATE TABLE IF NOT EXISTS xray_edges (
        trace_id VARCHAR, src_name VARCHAR, src_type VARCHAR, dst_name VARCHAR, dst_type VARCHAR,
        dst_inferred BOOLEAN, start_time DOUBLE, end_time DOUBLE, response_time DOUBLE, duration DOUBLE,
        has_fault BOOLEAN, has_error BOOLEAN, has_throttle BOOLEAN, is_partial BOOLEAN, http_url VARCHAR,
        http_method VARCHAR, http_status INTEGER, user_agent VARCHAR, client_ip VARCHAR)""",
    "xray_annotations": """CREATE TABLE IF NOT EXISTS xray_annotations (
        trace_id VARCHAR, service VARCHAR, key VARCHAR, vtype VARCHAR, s_value VARCHAR, n_value DOUBLE,
        b_value BOOLEAN)""",
    "xray_groups": """CREATE TABLE IF NOT EXISTS xray_groups (
        name VARCHAR, arn VARCHAR, filter_expression VARCHAR, insights_enabled BOOLEAN,
        notifications_enabled BOOLEAN, created_at DOUBLE)""",
    "xray_sampling_rules": """CREATE TABLE IF NOT EXISTS xray_sampling_rules (
        name VARCHAR, arn VARCHAR, rule_json VARCHAR, created_at DOUBLE, modified_at DOUBLE)""",
}
DERIVED = ("xray_traces", "xray_nodes", "xray_edges", "xray_annotations")
COLUMNS = {
    "xray_traces": ["trace_id", "trace_epoch", "start_time", "end_time", "duration", "response_time", "has_fault",
                    "has_error", "has_throttle", "is_partial", "http_url", "http_method", "http_status", "user_agent",
                    "client_ip", "entry_name", "entry_type", "summary_json", "segment_count", "revision", "updated_at"],
    "xray_nodes": ["trace_id", "segment_id", "name", "type", "root", "inferred", "start_time", "end_time",
                   "response_time", "duration", "has_fault", "has_error", "has_throttle", "is_partial", "http_url",
                   "http_method", "http_status", "user_agent", "client_ip", "user"],
    "xray_edges": ["trace_id", "src_name", "src_type", "dst_name", "dst_type", "dst_inferred", "start_time",
                   "end_time", "response_time", "duration", "has_fault", "has_error", "has_throttle", "is_partial",
                   "http_url", "http_method", "http_status", "user_agent", "client_ip"],
    "xray_annotations": ["trace_id", "service", "key", "vtype", "s_value", "n_value", "b_value"],
    "xray_segments": ["seq", "trace_id", "id", "parent_id", "kind", "name", "start_time", "end_time", "in_progress",
                      "received_at", "doc"],
}
DTYPES = {"http_status": "Int32", "segment_count": "Int32", "revision": "Int32"}


def _frame(table: str, rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS[table])
    for col, dtype in DTYPES.items():
        if col in frame:
            frame[col] = frame[col].astype(dtype)
    for col in frame.columns:
        if frame[col].dtype == object and col in ("start_time", "end_time", "response_time", "duration", "n_value",
                                                  "trace_epoch", "received_at", "updated_at"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame


def unprocessed(entity_id: str | None, code: str) -> dict:
    entry = {"ErrorCode": code, "Message": f"Invalid segment. ErrorCode: {code}"}
    if entity_id:
        entry = {"Id": entity_id, **entry}
    return entry


def validate_document(doc: Any) -> str | None:
    """The X-Ray error code for an invalid segment/subsegment document, or None when it is fine."""
    if not isinstance(doc, dict):
        return "InvalidDocument"
    if not doc.get("id"):
        return "MissingId"
    if not isinstance(doc["id"], str) or not ENTITY_ID.match(doc["id"]):
        return "InvalidId"
    if not doc.get("trace_id"):
        return "MissingTraceId"
    if not isinstance(doc["trace_id"], str) or not TRACE_ID.match(doc["trace_id"]):
        return "InvalidTraceId"
    if not isinstance(doc.get("name"), str) or not doc["name"]:
        return "MissingName"
    if not isinstance(doc.get("start_time"), (int, float)) or isinstance(doc.get("start_time"), bool):
        return "MissingStartTime"
    if not doc.get("in_progress") and not isinstance(doc.get("end_time"), (int, float)):
        return "MissingEndTime"
    if doc.get("type") == "subsegment" and not doc.get("parent_id"):
        return "MissingParentId"
    if doc.get("type") not in (None, "subsegment"):
        return "InvalidType"
    return _validate_body(doc, depth=0)


def _validate_body(entity: dict, depth: int) -> str | None:
    """Types of the optional parts the summaries read (http, annotations, subsegments, flags)."""
    if depth > 64:
        return "TooDeep"
    http = entity.get("http")
    if http is not None:
        if not isinstance(http, dict):
            return "InvalidHttp"
        for part in ("request", "response"):
            if http.get(part) is not None and not isinstance(http[part], dict):
                return "InvalidHttp"
    for key in ("annotations", "metadata", "aws", "service", "cause"):
        if entity.get(key) is not None and not isinstance(entity[key], (dict, str) if key == "cause" else dict):
            return f"Invalid{key.capitalize()}"
    for key in ("fault", "error", "throttle", "in_progress"):
        if entity.get(key) is not None and not isinstance(entity[key], bool):
            return f"Invalid{key.capitalize().replace('_p', 'P')}"
    for key in ("name", "namespace", "origin", "user", "parent_id"):
        if entity.get(key) is not None and not isinstance(entity[key], str):
            return f"Invalid{key.capitalize().replace('_i', 'I')}"
    subs = entity.get("subsegments")
    if subs is not None:
        if not isinstance(subs, list):
            return "InvalidSubsegments"
        for sub in subs:
            if not isinstance(sub, dict) or not isinstance(sub.get("id"), str) or not isinstance(sub.get("name"), str):
                return "InvalidSubsegments"
            if not isinstance(sub.get("start_time"), (int, float)) or isinstance(sub.get("start_time"), bool):
                return "InvalidSubsegments"
            if sub.get("end_time") is not None and (not isinstance(sub["end_time"], (int, float)) or isinstance(sub["end_time"], bool)):
                return "InvalidSubsegments"
            code = _validate_body(sub, depth + 1)
            if code:
                return code
    return None


class XRayBackend:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time, region: str = config.REGION):
        self.store = store
        self.now = clock
        self.region = region
        self._ingest_lock = threading.Lock()
        self._seq = 0
        self.reservoir = sampling.ReservoirAllocator()
        self.counters = {"documents": 0, "unprocessed": 0}
        self.transaction_search = TransactionSearch(store, clock, region)
        # --- issue 17 families: state in their own tables, cleared by Store.reset like the rest ---
        self.tags = Tags(store)
        self.encryption = EncryptionConfig(store, clock, region)
        self.resource_policies = ResourcePolicies(store, clock)
        self.telemetry = TelemetryRecords(store, clock)
        self.sampling_statistics = SamplingStatistics(store, clock)
        self.time_series = TimeSeriesStatistics(self)
        self.retrieval = TraceRetrieval(store, clock, self.transaction_search)
        self.insights = Insights(self, clock)
        self.families = (self.tags, self.encryption, self.resource_policies, self.telemetry,
                         self.sampling_statistics, self.time_series, self.retrieval, self.insights)

    # --- lifecycle -----------------------------------------------------------------------------------
    def setup(self) -> None:
        for name, ddl in TABLES.items():
            self.store.ensure_table(name, ddl)
        self.transaction_search.setup()
        for family in self.families:   # issue 17
            family.setup()
        self._seq = self.store.execute("SELECT coalesce(max(seq), 0) FROM xray_segments")[0][0]
        self._ensure_default_rule()

    def reset(self) -> None:
        self.transaction_search.reset()
        self.reservoir.reset()
        self.counters = {"documents": 0, "unprocessed": 0}
        self._seq = 0
        self._ensure_default_rule()

    def _ensure_default_rule(self) -> None:
        if not self.store.execute("SELECT 1 FROM xray_sampling_rules WHERE name = ?", [sampling.DEFAULT_RULE_NAME]):
            self.store.execute("INSERT INTO xray_sampling_rules VALUES (?, ?, ?, ?, ?)",
                               [sampling.DEFAULT_RULE_NAME, self._rule_arn(sampling.DEFAULT_RULE_NAME),
                                json.dumps(sampling.DEFAULT_RULE), 0.0, 0.0])

    def status(self) -> dict:
        return {"segments": self.store.count("xray_segments"), "traces": self.store.count("xray_traces"),
                "groups": self.store.count("xray_groups"), "sampling_rules": self.store.count("xray_sampling_rules"),
                **self.counters}

    # --- ingest ----------------------------------------------------------------------------------------
    def ingest_documents(self, docs: list[dict]) -> list[dict]:
        """Store segment/subsegment documents; returns the unprocessed ones as {Id, ErrorCode, Message}."""
        bad: list[dict] = []
        good: list[dict] = []
        for doc in docs:
            code = validate_document(doc)
            if code:
                bad.append(unprocessed(doc.get("id") if isinstance(doc, dict) and isinstance(doc.get("id"), str) else None, code))
            else:
                good.append(doc)
        self.counters["unprocessed"] += len(bad)
        if not good:
            return bad
        received = self.now()
        with self._ingest_lock:
            by_trace: dict[str, list[dict]] = {}
            seg_rows = []
            for doc in good:
                self._seq += 1
                text = json.dumps(doc, separators=(",", ":"))
                if len(text) > MAX_DOCUMENT_BYTES:
                    bad.append(unprocessed(doc["id"], "SegmentTooLarge"))
                    continue
                by_trace.setdefault(doc["trace_id"], []).append(doc)
                seg_rows.append({"seq": self._seq, "trace_id": doc["trace_id"], "id": doc["id"],
                                 "parent_id": doc.get("parent_id"), "kind": doc.get("type") or "segment",
                                 "name": doc["name"], "start_time": float(doc["start_time"]),
                                 "end_time": float(doc["end_time"]) if isinstance(doc.get("end_time"), (int, float)) else None,
                                 "in_progress": bool(doc.get("in_progress")), "received_at": received, "doc": text})
            ids = list(by_trace)
            existing: dict[str, list[dict]] = {}
            revisions: dict[str, int] = {}
            # Only this ingest lock serialises writers; the store lock is held for the statements alone,
            # so API reads are not blocked while the summaries are computed in Python.
            for trace_id, doc_text in self.store.execute(
                    "SELECT trace_id, doc FROM xray_segments WHERE trace_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY seq",
                    [ids]):
                existing.setdefault(trace_id, []).append(json.loads(doc_text))
            if existing:
                revisions = dict(self.store.execute(
                    "SELECT trace_id, revision FROM xray_traces WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))",
                    [list(existing)]))
            rows: dict[str, list[dict]] = {t: [] for t in DERIVED}
            for trace_id, new_docs in by_trace.items():
                result = summarize(trace_id, existing.get(trace_id, []) + new_docs)
                trace = result["trace"]
                trace["revision"] = revisions.get(trace_id, 0) + 1
                trace["updated_at"] = received
                rows["xray_traces"].append(trace)
                rows["xray_nodes"].extend(result["nodes"])
                rows["xray_edges"].extend(result["edges"])
                rows["xray_annotations"].extend(result["annotations"])
            with self.store.transaction():
                if existing:
                    old = list(existing)
                    for table in DERIVED:
                        self.store.execute(f"DELETE FROM {table} WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))", [old])
                self.store.insert_frame("xray_segments", _frame("xray_segments", seg_rows))
                for table in DERIVED:
                    if rows[table]:
                        self.store.insert_frame(table, _frame(table, rows[table]))
        self.counters["documents"] += len(seg_rows)
        return bad

    def put_trace_segments(self, documents: list[Any]) -> list[dict]:
        parsed, bad = [], []
        for raw in documents:
            if not isinstance(raw, str):
                bad.append(unprocessed(None, "InvalidDocument"))
                continue
            try:
                doc = json.loads(raw)
            except ValueError:
                found = re.search(r'"id"\s*:\s*"([0-9a-fA-F]{16})"', raw)
                bad.append(unprocessed(found.group(1) if found else None, "InvalidJson"))
                continue
            parsed.append(doc)
        self.counters["unprocessed"] += len(bad)
        return bad + self.ingest_documents(parsed)

    # --- filter expressions --------------------------------------------------------------------------------
    def compile_filter(self, expression: str | None):
        if expression is None or expression == "":
            return None
        ast = parse(expression)
        return to_sql(ast, self._resolve_group_filter)

    def _resolve_group_filter(self, field: str, value: str):
        group = self._find_group(value if field == "name" else None, value if field == "arn" else None)
        if not group["filter_expression"]:
            return parse("!partial OR partial")
        return parse(group["filter_expression"])

    # --- reading traces --------------------------------------------------------------------------------------
    @staticmethod
    def _token(offset: int, fingerprint: str) -> str:
        return paging.encode({"o": offset, "f": fingerprint})

    @staticmethod
    def _offset(token: str | None, fingerprint: str) -> int:
        if not token:
            return 0
        try:
            data = paging.decode(token)
            offset = int(data["o"])
        except Exception:
            raise InvalidRequestException("The NextToken is not valid") from None
        if data.get("f") != fingerprint or offset < 0:
            raise InvalidRequestException("The NextToken does not belong to this request; repeat the first call")
        return offset

    def get_trace_summaries(self, start: float, end: float, time_range_type: str = "TraceId",
                            filter_expression: str | None = None, next_token: str | None = None,
                            sampling_rate: float | None = None) -> dict:
        if end < start:
            raise InvalidRequestException("EndTime must be after StartTime")
        if time_range_type not in ("TraceId", "Event", "Service"):
            raise InvalidRequestException("TimeRangeType must be TraceId, Event or Service")
        compiled = self.compile_filter(filter_expression)
        column = "t.trace_epoch" if time_range_type == "TraceId" else "t.start_time"
        where = f"{column} >= ? AND {column} <= ?"
        params: list[Any] = [float(start), float(end)]
        fingerprint = hashlib.sha1(json.dumps([start, end, time_range_type, filter_expression, sampling_rate]).encode()).hexdigest()[:16]
        offset = self._offset(next_token, fingerprint)
        processed = self.store.execute(f"SELECT count(*) FROM xray_traces t WHERE {where}", params)[0][0]
        if compiled is not None:
            where += f" AND {compiled.sql}"
            params += compiled.params
        if sampling_rate is not None:
            where += " AND (hash(t.trace_id) % 10000) < ?"
            params.append(int(sampling_rate * 10000))
        rows = self.store.execute(
            f"""SELECT t.trace_id, t.start_time, t.duration, t.response_time, t.has_fault, t.has_error, t.has_throttle,
                       t.is_partial, t.http_url, t.http_status, t.http_method, t.user_agent, t.client_ip,
                       t.summary_json, t.revision
                FROM xray_traces t WHERE {where}
                ORDER BY t.start_time DESC, t.trace_id LIMIT ? OFFSET ?""",
            params + [PAGE_SIZE + 1, offset])
        summaries = [self._summary(r) for r in rows[:PAGE_SIZE]]
        out = {"TraceSummaries": summaries, "ApproximateTime": self.now(), "TracesProcessedCount": processed}
        if len(rows) > PAGE_SIZE:
            out["NextToken"] = self._token(offset + PAGE_SIZE, fingerprint)
        return out

    @staticmethod
    def _summary(row) -> dict:
        (trace_id, start, duration, rt, fault, error, throttle, partial, url, status, method, ua, ip, extra, rev) = row
        extra = json.loads(extra)
        http = {k: v for k, v in (("HttpURL", url), ("HttpStatus", status), ("HttpMethod", method),
                                  ("UserAgent", ua), ("ClientIp", ip)) if v is not None}
        summary = {"Id": trace_id, "StartTime": start, "Duration": duration, "ResponseTime": rt, "HasFault": fault,
                   "HasError": error, "HasThrottle": throttle, "IsPartial": partial, "Http": http,
                   "Annotations": extra["Annotations"], "Users": extra["Users"], "ServiceIds": extra["ServiceIds"],
                   "ResourceARNs": [], "InstanceIds": [], "AvailabilityZones": [], "FaultRootCauses": [],
                   "ErrorRootCauses": [], "ResponseTimeRootCauses": [], "Revision": rev, "MatchedEventTime": start}
        if extra.get("EntryPoint"):
            summary["EntryPoint"] = extra["EntryPoint"]
        return {k: v for k, v in summary.items() if v is not None}

    def batch_get_traces(self, trace_ids: list[str]) -> dict:
        if not isinstance(trace_ids, list) or not trace_ids:
            raise InvalidRequestException("TraceIds must list 1 to 5 trace IDs")
        if len(trace_ids) > MAX_BATCH_TRACE_IDS:
            raise InvalidRequestException(f"TraceIds can hold at most {MAX_BATCH_TRACE_IDS} trace IDs per call")
        docs: dict[str, list[dict]] = {}
        for trace_id, text in self.store.execute(
                "SELECT trace_id, doc FROM xray_segments WHERE trace_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY seq",
                [[str(t) for t in trace_ids]]):
            docs.setdefault(trace_id, []).append(json.loads(text))
        traces, missing = [], []
        for trace_id in dict.fromkeys(trace_ids):
            if trace_id not in docs:
                missing.append(trace_id)
                continue
            result = summarize(trace_id, docs[trace_id])
            traces.append({"Id": trace_id, "Duration": result["trace"]["duration"], "LimitExceeded": False,
                           "Segments": [{"Id": s["id"], "Document": json.dumps(s, separators=(",", ":"))}
                                        for s in result["segments"]]})
        return {"Traces": traces, "UnprocessedTraceIds": missing}

    # --- service graph ------------------------------------------------------------------------------------------
    def _graph(self, node_where: str, node_params: list, edge_where: str, edge_params: list) -> list[dict]:
        stats = """count(*) AS total,
            count(*) FILTER (WHERE NOT (coalesce(has_fault,false) OR coalesce(has_error,false) OR coalesce(has_throttle,false))) AS ok,
            count(*) FILTER (WHERE coalesce(has_fault,false)) AS fault,
            count(*) FILTER (WHERE NOT coalesce(has_fault,false) AND (coalesce(has_error,false) OR coalesce(has_throttle,false))) AS error,
            count(*) FILTER (WHERE NOT coalesce(has_fault,false) AND coalesce(has_throttle,false)) AS throttle,
            coalesce(sum(response_time), 0) AS total_rt, min(start_time) AS t0, max(end_time) AS t1"""
        nodes = self.store.query_df(
            f"""SELECT name, coalesce(type, '') AS type, bool_or(root) AS root, bool_and(inferred) AS inferred, {stats}
                FROM xray_nodes n WHERE {node_where} GROUP BY name, coalesce(type, '') ORDER BY name, type""", node_params)
        node_hist = self.store.query_df(
            f"""SELECT name, coalesce(type, '') AS type, round(response_time, 3) AS value, count(*) AS count
                FROM xray_nodes n WHERE {node_where} AND response_time IS NOT NULL
                GROUP BY ALL ORDER BY name, type, value""", node_params)
        edges = self.store.query_df(
            f"""SELECT src_name, coalesce(src_type, '') AS src_type, dst_name, coalesce(dst_type, '') AS dst_type, {stats}
                FROM xray_edges e WHERE {edge_where} GROUP BY ALL ORDER BY src_name, dst_name""", edge_params)
        edge_hist = self.store.query_df(
            f"""SELECT src_name, coalesce(src_type, '') AS src_type, dst_name, coalesce(dst_type, '') AS dst_type,
                       round(response_time, 3) AS value, count(*) AS count
                FROM xray_edges e WHERE {edge_where} AND response_time IS NOT NULL GROUP BY ALL
                ORDER BY src_name, dst_name, value""", edge_params)

        def statistics(r) -> dict:
            return {"OkCount": int(r.ok), "ErrorStatistics": {"ThrottleCount": int(r.throttle),
                                                              "OtherCount": int(r.error - r.throttle),
                                                              "TotalCount": int(r.error)},
                    "FaultStatistics": {"OtherCount": int(r.fault), "TotalCount": int(r.fault)},
                    "TotalCount": int(r.total), "TotalResponseTime": float(r.total_rt)}

        refs = {(r.name, r.type): i for i, r in enumerate(nodes.itertuples())}
        hist: dict[tuple, list] = {}
        for r in node_hist.itertuples():
            hist.setdefault((r.name, r.type), []).append({"Value": float(r.value), "Count": int(r.count)})
        ehist: dict[tuple, list] = {}
        for r in edge_hist.itertuples():
            ehist.setdefault((r.src_name, r.src_type, r.dst_name, r.dst_type), []).append({"Value": float(r.value), "Count": int(r.count)})
        services = []
        for r in nodes.itertuples():
            service = {"ReferenceId": refs[(r.name, r.type)], "Name": r.name, "Names": [r.name], "Root": bool(r.root),
                       "State": "unknown" if r.inferred else "active", "StartTime": r.t0, "EndTime": r.t1,
                       "Edges": [], "SummaryStatistics": statistics(r),
                       "DurationHistogram": hist.get((r.name, r.type), []),
                       "ResponseTimeHistogram": hist.get((r.name, r.type), [])}
            if r.type:
                service["Type"] = r.type
            services.append(service)
        for r in edges.itertuples():
            src, dst = refs.get((r.src_name, r.src_type)), refs.get((r.dst_name, r.dst_type))
            if src is None or dst is None:
                continue
            services[src]["Edges"].append({
                "ReferenceId": dst, "StartTime": r.t0, "EndTime": r.t1, "SummaryStatistics": statistics(r),
                "ResponseTimeHistogram": ehist.get((r.src_name, r.src_type, r.dst_name, r.dst_type), []),
                "Aliases": []})
        return services

    def get_service_graph(self, start: float, end: float, group_name: str | None = None,
                          group_arn: str | None = None) -> dict:
        if end < start:
            raise InvalidRequestException("EndTime must be after StartTime")
        node_where, node_params = "n.start_time >= ? AND n.start_time <= ?", [float(start), float(end)]
        edge_where, edge_params = "e.start_time >= ? AND e.start_time <= ?", [float(start), float(end)]
        if group_name or group_arn:
            group = self._find_group(group_name, group_arn)
            compiled = self.compile_filter(group["filter_expression"])
            if compiled is not None:
                sub = f" AND trace_id IN (SELECT t.trace_id FROM xray_traces t WHERE {compiled.sql})"
                node_where += sub.replace("trace_id IN", "n.trace_id IN", 1)
                edge_where += sub.replace("trace_id IN", "e.trace_id IN", 1)
                node_params += compiled.params
                edge_params += compiled.params
        return {"StartTime": float(start), "EndTime": float(end),
                "Services": self._graph(node_where, node_params, edge_where, edge_params),
                "ContainsOldGroupVersions": False}

    def get_trace_graph(self, trace_ids: list[str]) -> dict:
        if not isinstance(trace_ids, list) or not trace_ids:
            raise InvalidRequestException("TraceIds must list at least one trace ID")
        ids = [str(t) for t in trace_ids]
        where = "trace_id IN (SELECT unnest(?::VARCHAR[]))"
        return {"Services": self._graph(where, [ids], where, [ids])}

    # --- groups ----------------------------------------------------------------------------------------------------
    def _group_arn(self, name: str) -> str:
        suffix = base64.b32encode(secrets.token_bytes(32)).decode().rstrip("=")[:52]
        return f"arn:aws:xray:{self.region}:{config.ACCOUNT_ID}:group/{name}/{suffix}"

    @staticmethod
    def _group_out(row: dict) -> dict:
        group = {"GroupName": row["name"], "GroupARN": row["arn"],
                 "InsightsConfiguration": {"InsightsEnabled": bool(row["insights_enabled"]),
                                           "NotificationsEnabled": bool(row["notifications_enabled"])}}
        if row["filter_expression"]:
            group["FilterExpression"] = row["filter_expression"]
        return group

    def _find_group(self, name: str | None, arn: str | None) -> dict:
        if not name and not arn:
            raise InvalidRequestException("Either GroupName or GroupARN must be given")
        sql = "SELECT name, arn, filter_expression, insights_enabled, notifications_enabled FROM xray_groups WHERE "
        rows = self.store.execute(sql + ("arn = ?" if arn else "name = ?"), [arn or name])
        if not rows:
            raise InvalidRequestException("Group not found")
        keys = ["name", "arn", "filter_expression", "insights_enabled", "notifications_enabled"]
        return dict(zip(keys, rows[0]))

    def create_group(self, name: str, filter_expression: str | None, insights: dict | None) -> dict:
        if not isinstance(name, str) or not GROUP_NAME.match(name):
            raise InvalidRequestException("GroupName must be 1 to 32 characters: letters, digits, '-' and '_'")
        if name == "Default":
            raise InvalidRequestException("Default is a reserved group name")
        if filter_expression:
            self.compile_filter(filter_expression)  # validate
        insights = insights or {}
        with self._ingest_lock:
            if self.store.execute("SELECT 1 FROM xray_groups WHERE name = ?", [name]):
                raise InvalidRequestException("Group already exists")
            row = {"name": name, "arn": self._group_arn(name), "filter_expression": filter_expression or None,
                   "insights_enabled": bool(insights.get("InsightsEnabled", False)),
                   "notifications_enabled": bool(insights.get("NotificationsEnabled", False))}
            self.store.execute("INSERT INTO xray_groups VALUES (?, ?, ?, ?, ?, ?)",
                               [row["name"], row["arn"], row["filter_expression"], row["insights_enabled"],
                                row["notifications_enabled"], self.now()])
        return self._group_out(row)

    def get_group(self, name: str | None, arn: str | None) -> dict:
        return self._group_out(self._find_group(name, arn))

    def get_groups(self, next_token: str | None) -> dict:
        offset = self._offset(next_token, "groups")
        rows = self.store.execute(
            "SELECT name, arn, filter_expression, insights_enabled, notifications_enabled FROM xray_groups "
            "ORDER BY name LIMIT ? OFFSET ?", [PAGE_SIZE + 1, offset])
        keys = ["name", "arn", "filter_expression", "insights_enabled", "notifications_enabled"]
        out = {"Groups": [self._group_out(dict(zip(keys, r))) for r in rows[:PAGE_SIZE]]}
        if len(rows) > PAGE_SIZE:
            out["NextToken"] = self._token(offset + PAGE_SIZE, "groups")
        return out

    def update_group(self, name: str | None, arn: str | None, filter_expression: str | None,
                     insights: dict | None) -> dict:
        group = self._find_group(name, arn)
        if filter_expression is not None:
            if filter_expression:
                self.compile_filter(filter_expression)
            group["filter_expression"] = filter_expression or None
        if insights:
            if "InsightsEnabled" in insights:
                group["insights_enabled"] = bool(insights["InsightsEnabled"])
            if "NotificationsEnabled" in insights:
                group["notifications_enabled"] = bool(insights["NotificationsEnabled"])
        self.store.execute("UPDATE xray_groups SET filter_expression = ?, insights_enabled = ?, "
                           "notifications_enabled = ? WHERE arn = ?",
                           [group["filter_expression"], group["insights_enabled"], group["notifications_enabled"],
                            group["arn"]])
        return self._group_out(group)

    def delete_group(self, name: str | None, arn: str | None) -> None:
        group = self._find_group(name, arn)
        self.store.execute("DELETE FROM xray_groups WHERE arn = ?", [group["arn"]])

    # --- sampling rules ----------------------------------------------------------------------------------------------
    def _rule_arn(self, name: str) -> str:
        return f"arn:aws:xray:{self.region}:{config.ACCOUNT_ID}:sampling-rule/{name}"

    def _rules(self) -> list[tuple[dict, float, float]]:
        rows = self.store.execute("SELECT name, arn, rule_json, created_at, modified_at FROM xray_sampling_rules")
        out = []
        for name, arn, text, created, modified in rows:
            rule = json.loads(text)
            rule["RuleName"], rule["RuleARN"] = name, arn
            out.append((rule, created, modified))
        out.sort(key=lambda item: sampling.sort_key(item[0]))
        return out

    @staticmethod
    def _record(rule: dict, created: float, modified: float) -> dict:
        return {"SamplingRule": rule, "CreatedAt": created, "ModifiedAt": modified}

    def _find_rule(self, name: str | None, arn: str | None) -> tuple[dict, float, float]:
        if not name and not arn:
            raise InvalidRequestException("Either RuleName or RuleARN must be given")
        for rule, created, modified in self._rules():
            if (name and rule["RuleName"] == name) or (arn and rule["RuleARN"] == arn):
                return rule, created, modified
        raise InvalidRequestException("Sampling rule does not exist")

    def create_sampling_rule(self, rule: dict) -> dict:
        if not isinstance(rule, dict):
            raise InvalidRequestException("SamplingRule is required")
        clean = sampling.validate_rule(rule, creating=True)
        with self._ingest_lock:
            if self.store.execute("SELECT 1 FROM xray_sampling_rules WHERE name = ?", [clean["RuleName"]]):
                raise InvalidRequestException(f"A sampling rule named {clean['RuleName']} already exists")
            custom = self.store.execute("SELECT count(*) FROM xray_sampling_rules WHERE name != ?",
                                        [sampling.DEFAULT_RULE_NAME])[0][0]
            if custom >= sampling.MAX_RULES:
                raise RuleLimitExceededException(
                    f"You have reached the maximum number of sampling rules ({sampling.MAX_RULES})")
            now = self.now()
            self.store.execute("INSERT INTO xray_sampling_rules VALUES (?, ?, ?, ?, ?)",
                               [clean["RuleName"], self._rule_arn(clean["RuleName"]), json.dumps(clean), now, now])
        clean["RuleARN"] = self._rule_arn(clean["RuleName"])
        return self._record(clean, now, now)

    def get_sampling_rules(self) -> dict:
        return {"SamplingRuleRecords": [self._record(*item) for item in self._rules()]}

    def update_sampling_rule(self, update: dict) -> dict:
        if not isinstance(update, dict):
            raise InvalidRequestException("SamplingRuleUpdate is required")
        with self._ingest_lock:
            rule, created, _ = self._find_rule(update.get("RuleName"), update.get("RuleARN"))
            merged = sampling.apply_update({k: v for k, v in rule.items() if k != "RuleARN"}, update)
            now = self.now()
            self.store.execute("UPDATE xray_sampling_rules SET rule_json = ?, modified_at = ? WHERE name = ?",
                               [json.dumps(merged), now, rule["RuleName"]])
        merged["RuleARN"] = rule["RuleARN"]
        return self._record(merged, created, now)

    def delete_sampling_rule(self, name: str | None, arn: str | None) -> dict:
        with self._ingest_lock:
            rule, created, modified = self._find_rule(name, arn)
            if rule["RuleName"] == sampling.DEFAULT_RULE_NAME:
                raise InvalidRequestException("The Default sampling rule cannot be deleted")
            self.store.execute("DELETE FROM xray_sampling_rules WHERE name = ?", [rule["RuleName"]])
        return self._record(rule, created, modified)

    def get_sampling_targets(self, documents: list[dict]) -> dict:
        if not isinstance(documents, list):
            raise InvalidRequestException("SamplingStatisticsDocuments is required")
        if len(documents) > 25:
            raise InvalidRequestException("SamplingStatisticsDocuments holds at most 25 documents")
        rules = {item[0]["RuleName"]: item for item in self._rules()}
        last_modified = max((item[2] for item in rules.values()), default=0.0)
        now = self.now()
        targets, unprocessed_stats = [], []
        for doc in documents:
            name = doc.get("RuleName") if isinstance(doc, dict) else None
            client = doc.get("ClientID") if isinstance(doc, dict) else None
            if not isinstance(name, str) or not name or not isinstance(client, str) or len(client) != 24:
                unprocessed_stats.append({"RuleName": name, "ErrorCode": "400",
                                          "Message": "RuleName and a 24-character ClientID are required"})
                continue
            if name not in rules:
                unprocessed_stats.append({"RuleName": name, "ErrorCode": "400", "Message": "Unknown rule"})
                continue
            rule = rules[name][0]
            quota = self.reservoir.quota(name, rule["ReservoirSize"], client, now)
            targets.append({"RuleName": name, "FixedRate": rule["FixedRate"], "ReservoirQuota": quota,
                            "ReservoirQuotaTTL": float(int(now) + sampling.QUOTA_TTL_S),
                            "Interval": sampling.TARGET_INTERVAL_S})
        return {"SamplingTargetDocuments": targets, "LastRuleModification": last_modified,
                "UnprocessedStatistics": unprocessed_stats}
