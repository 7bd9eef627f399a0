"""The Honeycomb stand-in: an OTLP/HTTP trace receiver plus the Honeycomb API subset the notebooks use.

Listens on its own port (``cloud.ports["otlp"]``, default 4318) and answers like Honeycomb's ingest
and API hosts do:

- ``POST /v1/traces``: OTLP/HTTP in protobuf (``application/x-protobuf``, optionally gzip/deflate) or
  OTLP/JSON (``application/json``). 200 with a serialized ``ExportTraceServiceResponse`` (JSON for
  JSON requests); 400 when the body does not decode, 415 for another content type or encoding, 413
  over :attr:`Honeycomb.max_body_bytes`, 401 without a known ``x-honeycomb-team`` key. Error bodies are a
  ``google.rpc.Status`` (protobuf requests) or ``{"code", "message"}`` (JSON requests), as the OTLP
  specification and Honeycomb's ingest do.
- The dataset is the resource's ``service.name`` (``unknown_service`` when missing, as Honeycomb does),
  slugified the way Honeycomb slugs dataset names for its API paths.
- ``GET /1/auth``: Honeycomb's key check (team, environment, key access).
- ``POST /1/queries/<dataset>``, ``GET /1/queries/<dataset>/<id>``, ``POST /1/query_results/<dataset>``,
  ``GET /1/query_results/<dataset>/<id>``: the Query Data API (see :mod:`lab_app.localcloud.honeycomb.query`).
  ``__all__`` queries every dataset of the environment.

Local-only helper: ``/_localcloud/honeycomb/spans?start=&end=&dataset=&limit=`` (on the AWS port) returns the
stored spans of a time range; :func:`lab_app.query.spans.local_spans` turns it into a DataFrame.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import time
import zlib
from datetime import datetime, timezone
from typing import Any, Callable

import pandas as pd
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from werkzeug.wrappers import Request, Response

from lab_app import config
from lab_app.localcloud.honeycomb.query import to_sql as hq
from lab_app.localcloud.component import Component, json_response
from lab_app.runner import ServerThread

SPANS_TABLE = "otlp_spans"
QUERIES_TABLE = "honeycomb_queries"
RESULTS_TABLE = "honeycomb_query_results"

SPANS_DDL = f"""
CREATE TABLE IF NOT EXISTS {SPANS_TABLE} (
    dataset VARCHAR,            -- Honeycomb dataset slug (from the resource service.name)
    service VARCHAR,            -- the resource service.name as sent
    trace_id VARCHAR,           -- 32 hex digits
    span_id VARCHAR,            -- 16 hex digits
    parent_id VARCHAR,          -- NULL for a root span
    name VARCHAR,
    kind VARCHAR,               -- server, client, internal, producer, consumer, unspecified
    start_time TIMESTAMP,       -- UTC
    end_time TIMESTAMP,
    duration_ms DOUBLE,
    status_code INTEGER,        -- 0 unset, 1 ok, 2 error (OTLP StatusCode)
    status_message VARCHAR,
    error BOOLEAN,              -- status_code = 2, as Honeycomb derives it
    http_route VARCHAR,         -- promoted copies of the attributes most queries group by
    http_method VARCHAR,
    http_status_code BIGINT,
    http_target VARCHAR,
    scope_name VARCHAR,
    attributes JSON,
    events JSON,
    links JSON,
    resource_attributes JSON,
    received_at TIMESTAMP
)"""
QUERIES_DDL = f"""
CREATE TABLE IF NOT EXISTS {QUERIES_TABLE} (
    id VARCHAR PRIMARY KEY, dataset VARCHAR, spec JSON, created_at TIMESTAMP
)"""
RESULTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {RESULTS_TABLE} (
    id VARCHAR PRIMARY KEY, dataset VARCHAR, query_id VARCHAR, result JSON, created_at TIMESTAMP
)"""

SPAN_COLUMNS = [
    "dataset", "service", "trace_id", "span_id", "parent_id", "name", "kind", "start_time", "end_time",
    "duration_ms", "status_code", "status_message", "error", "http_route", "http_method", "http_status_code",
    "http_target", "scope_name", "attributes", "events", "links", "resource_attributes", "received_at",
]

KIND_NAMES = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPES = ("application/json",)
MAX_BODY_BYTES = 20 * 1024 * 1024        # the OpenTelemetry Collector's default max_request_body_size
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024

TEAM = {"name": "Local Cloud", "slug": "local-cloud"}
ENVIRONMENT = {"name": "local", "slug": "local"}

# google.rpc.Code values used in error bodies
RPC_INVALID_ARGUMENT, RPC_UNAUTHENTICATED, RPC_RESOURCE_EXHAUSTED, RPC_UNIMPLEMENTED = 3, 16, 8, 12


def dataset_slug(service_name: str) -> str:
    """Honeycomb's dataset slug: lower case, runs of other characters become ``-``."""
    slug = re.sub(r"[^a-z0-9_\-.]+", "-", service_name.strip().lower()).strip("-")
    return slug or "unknown_service"


def valid_keys() -> set[str]:
    """Keys the stand-in accepts: the local key plus any listed (comma-separated) in LAB_HONEYCOMB_KEYS."""
    extra = {k.strip() for k in os.environ.get("LAB_HONEYCOMB_KEYS", "").split(",") if k.strip()}
    return {config.LOCAL_HONEYCOMB_KEY} | extra


# --- decoding -------------------------------------------------------------------------------------
def _any_value(value) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return None


def _attrs(key_values) -> dict[str, Any]:
    out = {}
    for kv in key_values:
        value = kv.value
        kind = value.WhichOneof("value")
        if kind == "string_value":
            out[kv.key] = value.string_value
        elif kind == "int_value":
            out[kv.key] = value.int_value
        elif kind == "bool_value":
            out[kv.key] = value.bool_value
        elif kind == "double_value":
            out[kv.key] = value.double_value
        else:
            out[kv.key] = _any_value(value)
    return out


def _ns_to_dt(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).replace(tzinfo=None)


def request_to_frame(request: ExportTraceServiceRequest, received_at: datetime | None = None) -> pd.DataFrame:
    """One row per span, columns as in :data:`SPAN_COLUMNS` (the hot path of ingest: kept loop-tight)."""
    cols: dict[str, list] = {c: [] for c in SPAN_COLUMNS}
    received = received_at or datetime.now(timezone.utc).replace(tzinfo=None)
    dumps = json.dumps
    (a_dataset, a_service, a_trace, a_span, a_parent, a_name, a_kind, a_start, a_end, a_dur, a_status,
     a_status_msg, a_error, a_route, a_method, a_http_status, a_target, a_scope, a_attrs, a_events, a_links,
     a_resource, a_received) = (cols[c].append for c in SPAN_COLUMNS)
    kinds = KIND_NAMES
    for resource_spans in request.resource_spans:
        resource = _attrs(resource_spans.resource.attributes)
        service = resource.get("service.name")
        service = str(service) if service not in (None, "") else "unknown_service"
        dataset = dataset_slug(service)
        resource_json = dumps(resource, default=str)
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name or None
            for span in scope_spans.spans:
                attributes = _attrs(span.attributes)
                get = attributes.get
                start_ns, end_ns = span.start_time_unix_nano, span.end_time_unix_nano
                status = span.status.code
                a_dataset(dataset)
                a_service(service)
                a_trace(span.trace_id.hex())
                a_span(span.span_id.hex())
                a_parent(span.parent_span_id.hex() or None)
                a_name(span.name)
                a_kind(kinds.get(span.kind, "unspecified"))
                a_start(start_ns)
                a_end(end_ns)
                a_dur((end_ns - start_ns) / 1e6)
                a_status(status)
                a_status_msg(span.status.message or None)
                a_error(status == 2)
                a_route(_as_str(get("http.route")))
                a_method(_as_str(get("http.method", get("http.request.method"))))
                a_http_status(_as_int(get("http.status_code", get("http.response.status_code"))))
                a_target(_as_str(get("http.target", get("url.path"))))
                a_scope(scope_name)
                a_attrs(dumps(attributes, default=str))
                a_events(dumps([
                    {"name": ev.name, "time_unix_nano": ev.time_unix_nano, "attributes": _attrs(ev.attributes)}
                    for ev in span.events], default=str) if span.events else "[]")
                a_links(dumps([
                    {"trace_id": ln.trace_id.hex(), "span_id": ln.span_id.hex(), "attributes": _attrs(ln.attributes)}
                    for ln in span.links], default=str) if span.links else "[]")
                a_resource(resource_json)
                a_received(received)
    frame = pd.DataFrame(cols)
    for col in ("start_time", "end_time"):
        frame[col] = pd.to_datetime(pd.Series(cols[col], dtype="int64"), unit="ns")
    frame["http_status_code"] = pd.array(cols["http_status_code"], dtype="Int64")
    frame["status_code"] = frame["status_code"].astype("int32")
    return frame


def _as_str(value) -> str | None:
    return None if value is None else str(value)


def _as_int(value) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids_to_base64(node: Any) -> None:
    """OTLP/JSON carries trace and span ids as hex; protobuf's JSON mapping expects base64 for bytes."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise ValueError(f"{key} {value!r} is not hex") from None
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def decode_json_request(body: bytes) -> ExportTraceServiceRequest:
    payload = json.loads(body)
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object (ExportTraceServiceRequest)")
    _hex_ids_to_base64(payload)
    message = ExportTraceServiceRequest()
    json_format.ParseDict(payload, message, ignore_unknown_fields=True)
    return message


class _TooLarge(Exception):
    pass


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decompressor = zlib.decompressobj()
    else:
        return body
    out = decompressor.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
    if len(out) > MAX_DECOMPRESSED_BYTES or decompressor.unconsumed_tail:
        raise _TooLarge()
    if not decompressor.eof:
        raise zlib.error("the compressed stream is truncated")
    return out


# --- the component --------------------------------------------------------------------------------
class Honeycomb(Component):
    name = "honeycomb"
    max_body_bytes = MAX_BODY_BYTES

    def __init__(self, cloud):
        super().__init__(cloud)
        self._server: ServerThread | None = None
        self.spans_received = 0

    # lifecycle -----------------------------------------------------------------------------------
    def setup(self) -> None:
        self.store.ensure_table(SPANS_TABLE, SPANS_DDL)
        self.store.ensure_table(QUERIES_TABLE, QUERIES_DDL)
        self.store.ensure_table(RESULTS_TABLE, RESULTS_DDL)

    def start(self) -> None:
        self._server = ServerThread(self.wsgi, port=self.cloud.ports["otlp"], host=self.cloud.host, name="otlp")
        self._server.start()
        self.cloud.ports["otlp"] = self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        self.spans_received = 0

    def status(self) -> dict[str, Any]:
        rows = self.store.execute(f"SELECT count(*), count(DISTINCT dataset) FROM {SPANS_TABLE}")
        return {"spans": rows[0][0], "datasets": rows[0][1], "queries": self.store.count(QUERIES_TABLE),
                "port": self.cloud.ports["otlp"]}

    # local-only control routes --------------------------------------------------------------------
    def control(self, action: str, payload: dict) -> dict | None:
        if action == "spans":
            return self.spans_between(payload.get("start"), payload.get("end"), payload.get("dataset"),
                                      int(payload.get("limit") or 100_000))
        return None

    def spans_between(self, start=None, end=None, dataset=None, limit: int = 100_000) -> dict:
        """Stored spans whose start lies in [start, end) (epoch seconds), oldest first."""
        where, params = [], []
        if start not in (None, ""):
            where.append("start_time >= ?")
            params.append(_epoch_to_dt(float(start)))
        if end not in (None, ""):
            where.append("start_time < ?")
            params.append(_epoch_to_dt(float(end)))
        if dataset not in (None, "", hq.ALL_DATASETS):
            where.append("dataset = ?")
            params.append(dataset_slug(str(dataset)))
        sql = (f"SELECT * EXCLUDE (received_at) FROM {SPANS_TABLE}"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " ORDER BY start_time, span_id LIMIT ?")
        params.append(max(0, min(limit, 1_000_000)) + 1)
        frame = self.store.query_df(sql, params)
        truncated = len(frame) > limit
        frame = frame.head(limit)
        for col in ("start_time", "end_time"):
            frame[col] = frame[col].map(lambda ts: None if pd.isna(ts) else ts.isoformat() + "Z")
        records = json.loads(frame.to_json(orient="records"))
        return {"spans": records, "count": len(records), "truncated": truncated}

    # the OTLP port's WSGI app ----------------------------------------------------------------------
    def wsgi(self, environ: dict, start_response: Callable):
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except Exception:  # never let a bug take the receiver down
            self.log.exception("OTLP port request failed: %s %s", request.method, request.path)
            response = json_response({"error": "internal error in the local Honeycomb stand-in"}, status=500)
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        if path == "/v1/traces":
            if request.method != "POST":
                return Response("method not allowed", status=405, headers={"Allow": "POST"})
            return self.ingest(request)
        if path.startswith("/1/"):
            return self.api(request, path)
        return json_response({"error": f"not found: {request.path}"}, status=404)

    # ingest --------------------------------------------------------------------------------------
    def ingest(self, request: Request) -> Response:
        content_type = (request.mimetype or "").lower()
        is_json = content_type in JSON_TYPES
        key = request.headers.get("x-honeycomb-team", "").strip()
        if not key:
            return self._otlp_error(401, RPC_UNAUTHENTICATED, "missing 'x-honeycomb-team' header", is_json)
        if key not in valid_keys():
            return self._otlp_error(401, RPC_UNAUTHENTICATED, "unknown API key - check your credentials", is_json)
        if content_type not in PROTOBUF_TYPES + JSON_TYPES:
            return self._otlp_error(415, RPC_UNIMPLEMENTED,
                                    f"unsupported content type {content_type or '(none)'!r}: send "
                                    "application/x-protobuf or application/json", is_json)
        encoding = (request.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", "gzip", "deflate"):
            return self._otlp_error(415, RPC_UNIMPLEMENTED, f"unsupported content encoding {encoding!r}", is_json)
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return self._otlp_error(413, RPC_RESOURCE_EXHAUSTED,
                                    f"request body of {length} bytes is over the {self.max_body_bytes} byte limit",
                                    is_json)
        body = request.stream.read(self.max_body_bytes + 1)
        if len(body) > self.max_body_bytes:
            return self._otlp_error(413, RPC_RESOURCE_EXHAUSTED,
                                    f"request body is over the {self.max_body_bytes} byte limit", is_json)
        try:
            body = _decompress(body, encoding)
        except _TooLarge:
            return self._otlp_error(413, RPC_RESOURCE_EXHAUSTED, "decompressed body is over the size limit", is_json)
        except (zlib.error, EOFError, OSError) as exc:
            return self._otlp_error(400, RPC_INVALID_ARGUMENT, f"body does not decompress as {encoding}: {exc}",
                                    is_json)
        try:
            if is_json:
                message = decode_json_request(body)
            else:
                message = ExportTraceServiceRequest()
                message.ParseFromString(body)
            frame = request_to_frame(message)
        except (DecodeError, ValueError, TypeError, json_format.ParseError, RecursionError,
                UnicodeDecodeError, binascii.Error) as exc:
            return self._otlp_error(400, RPC_INVALID_ARGUMENT, f"could not decode ExportTraceServiceRequest: {exc}",
                                    is_json)
        if len(frame):
            self.store.insert_frame(SPANS_TABLE, frame, SPAN_COLUMNS)
            self.spans_received += len(frame)
        reply = ExportTraceServiceResponse()
        if is_json:
            return Response(json_format.MessageToJson(reply), status=200, content_type="application/json")
        return Response(reply.SerializeToString(), status=200, content_type="application/x-protobuf")

    @staticmethod
    def _otlp_error(status: int, code: int, message: str, is_json: bool) -> Response:
        if is_json:
            return json_response({"code": code, "message": message}, status=status)
        body = status_pb2.Status(code=code, message=message).SerializeToString()
        return Response(body, status=status, content_type="application/x-protobuf")

    # the Honeycomb API -----------------------------------------------------------------------------
    def api(self, request: Request, path: str) -> Response:
        key = request.headers.get("X-Honeycomb-Team", "").strip()
        if not key:
            return json_response({"error": "missing 'X-Honeycomb-Team' header"}, status=401)
        if key not in valid_keys():
            return json_response({"error": "unknown API key - check your credentials"}, status=401)
        parts = path.strip("/").split("/")[1:]  # drop the leading "1"
        if parts == ["auth"] and request.method == "GET":
            return json_response({
                "id": "local" + key[:4], "type": "configuration",
                "api_key_access": {"events": True, "markers": True, "triggers": True, "boards": True,
                                   "queries": True, "columns": True, "createDatasets": True, "slos": True,
                                   "recipients": True, "privateBoards": True},
                "environment": dict(ENVIRONMENT), "team": dict(TEAM),
            })
        if parts and parts[0] in ("queries", "query_results") and len(parts) in (2, 3):
            resource, dataset = parts[0], parts[1]
            if not self._dataset_exists(dataset):
                return json_response({"error": "Dataset not found"}, status=404)
            if resource == "queries" and len(parts) == 2 and request.method == "POST":
                return self.create_query(request, dataset)
            if resource == "queries" and len(parts) == 3 and request.method == "GET":
                return self.get_query(dataset, parts[2])
            if resource == "query_results" and len(parts) == 2 and request.method == "POST":
                return self.run_query(request, dataset)
            if resource == "query_results" and len(parts) == 3 and request.method == "GET":
                return self.get_result(dataset, parts[2])
            return json_response({"error": "method not allowed"}, status=405)
        return json_response({"error": f"not found: {request.path}"}, status=404)

    def _dataset_exists(self, dataset: str) -> bool:
        if dataset == hq.ALL_DATASETS:
            return True
        return bool(self.store.execute(f"SELECT 1 FROM {SPANS_TABLE} WHERE dataset = ? LIMIT 1", [dataset]))

    def _json_body(self, request: Request) -> Any:
        raw = request.get_data(cache=False)
        if len(raw) > 1024 * 1024:
            raise hq.QuerySpecError("request body is too large")
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            raise hq.QuerySpecError("request body is not valid JSON") from None

    def create_query(self, request: Request, dataset: str) -> Response:
        try:
            spec = hq.parse_spec(self._json_body(request))
        except hq.QuerySpecError as exc:
            return _validation_error(str(exc))
        query_id = _new_id()
        document = {**spec.to_json(), "id": query_id}
        self.store.execute(f"INSERT INTO {QUERIES_TABLE} VALUES (?, ?, ?, ?)",
                           [query_id, dataset, json.dumps(document), _now_dt()])
        return json_response(document)

    def _load_query(self, dataset: str, query_id: str) -> dict | None:
        rows = self.store.execute(f"SELECT spec FROM {QUERIES_TABLE} WHERE id = ? AND dataset = ?", [query_id, dataset])
        return json.loads(rows[0][0]) if rows else None

    def get_query(self, dataset: str, query_id: str) -> Response:
        document = self._load_query(dataset, query_id)
        if document is None:
            return json_response({"error": "Query not found"}, status=404)
        return json_response(document)

    def run_query(self, request: Request, dataset: str) -> Response:
        try:
            body = self._json_body(request)
            if not isinstance(body, dict) or not isinstance(body.get("query_id"), str):
                raise hq.QuerySpecError("query_id is required: create the query with POST /1/queries/<dataset> first")
            disable_series = body.get("disable_series", False)
            if not isinstance(disable_series, bool):
                raise hq.QuerySpecError("disable_series must be true or false")
            limit = body.get("limit", 10_000 if disable_series else 1000)
            if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
                raise hq.QuerySpecError("limit must be an integer between 1 and 10000")
            if limit > 1000 and not disable_series:
                raise hq.QuerySpecError("a limit over 1000 needs disable_series: true")
        except hq.QuerySpecError as exc:
            return _validation_error(str(exc))
        document = self._load_query(dataset, body["query_id"])
        if document is None:
            return json_response({"error": "Query not found"}, status=404)
        spec = hq.parse_spec({k: v for k, v in document.items() if k != "id"})
        data = hq.run(self.store, SPANS_TABLE, spec, dataset, now=time.time(), limit=limit,
                      series=not disable_series)
        result_id = _new_id()
        result = {"id": result_id, "complete": True, "query": document, "data": data,
                  "links": self._links(request, dataset, body["query_id"], result_id)}
        self.store.execute(f"INSERT INTO {RESULTS_TABLE} VALUES (?, ?, ?, ?, ?)",
                           [result_id, dataset, body["query_id"], json.dumps(result, default=str), _now_dt()])
        return json_response({k: v for k, v in result.items() if k != "data"}, status=201)

    def get_result(self, dataset: str, result_id: str) -> Response:
        rows = self.store.execute(f"SELECT result FROM {RESULTS_TABLE} WHERE id = ? AND dataset = ?",
                                  [result_id, dataset])
        if not rows:
            return json_response({"error": "Query result not found"}, status=404)
        return Response(rows[0][0], status=200, content_type="application/json")

    @staticmethod
    def _links(request: Request, dataset: str, query_id: str, result_id: str) -> dict:
        base = request.host_url.rstrip("/")
        return {"query_url": f"{base}/{TEAM['slug']}/environments/{ENVIRONMENT['slug']}/datasets/{dataset}"
                             f"/result/{result_id}",
                "graph_image_url": f"{base}/{TEAM['slug']}/environments/{ENVIRONMENT['slug']}/datasets/{dataset}"
                                   f"/result/{result_id}/snapshot"}


def _validation_error(message: str) -> Response:
    """Honeycomb's error body for an invalid request (``error`` plus its problem-detail fields)."""
    return json_response({"status": 400, "type": "https://api.honeycomb.io/problems/validation-failed",
                          "title": "The provided input is invalid.", "error": message}, status=400)


def _new_id() -> str:
    return secrets.token_urlsafe(8).replace("-", "x").replace("_", "y")


def _now_dt() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _epoch_to_dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
