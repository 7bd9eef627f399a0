"""The Honeycomb stand-in's HTTP handlers: OTLP ingest, ``GET /1/auth`` and the Query Data API.

- ``POST /v1/traces``: OTLP/HTTP through :mod:`lab_app.localcloud.otlp` (protobuf, optionally gzip/deflate, or
  OTLP/JSON). 200 with a serialized ``ExportTraceServiceResponse``; 400 when the body does not decode, 415 for
  another content type or encoding, 413 over :attr:`HoneycombResponse.max_body_bytes`, 401 without a known
  ``x-honeycomb-team`` key. Error bodies are a ``google.rpc.Status`` (protobuf requests) or ``{"code",
  "message"}`` (JSON requests), as the OTLP specification and Honeycomb's ingest do.
- ``POST /v1/metrics``: OTLP metrics, same rules and error bodies; the dataset is the ``x-honeycomb-dataset``
  header (``unknown_metrics`` without it, as Honeycomb; a Classic key without it is a 401, as Honeycomb's OTLP
  translation library husky validates it); data points the OTLP data model calls invalid are left
  out and counted in ``partial_success.rejected_data_points`` (:mod:`lab_app.localcloud.honeycomb.metrics`).
  The query endpoints treat a dataset holding metric points as a metrics dataset (its events are metric events);
  ``__all__`` covers the span datasets.
- ``GET /1/auth``: Honeycomb's key check (team, environment, key access).
- ``POST /1/queries/<dataset>``, ``GET /1/queries/<dataset>/<id>``, ``POST /1/query_results/<dataset>``,
  ``GET /1/query_results/<dataset>/<id>``: the Query Data API (:mod:`lab_app.localcloud.honeycomb.query`).
  ``__all__`` queries every dataset of the environment.

Keys and plans, as Honeycomb has them: an ingest key (:data:`lab_app.config.LOCAL_HONEYCOMB_INGEST_KEY`) may
send events but gets 403 from the query endpoints; a configuration key may do both. ``LAB_HONEYCOMB_PLAN=free``
(read when the local cloud starts; default ``enterprise``) makes the team a free one: ``/1/auth`` shows no query
access and the query endpoints answer 403, the Query Data API being an Enterprise feature. On an enterprise
team, ``POST /1/query_results`` allows :attr:`HoneycombResponse.query_results_per_minute` (10) query results per
team in any 60 s (then 429, no Retry-After) over events of the last 7 days only (an older start is a 400).
Errors are problem-detail bodies (docs.honeycomb.io/api/errors, /api/rate-limit).
"""
from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.wrappers import Request, Response

from lab_app.localcloud import otlp, strict_json
from lab_app.localcloud.component import json_response
from lab_app.localcloud.honeycomb import exceptions, query
from lab_app.localcloud.honeycomb.metrics import DATASET_HEADER, MetricsBackend, dataset_from_header, is_classic_key
from lab_app.localcloud.honeycomb.models import (
    ENVIRONMENT,
    TEAM,
    HoneycombBackend,
    api_keys,
    key_access,
    new_id,
    valid_keys,
)
from lab_app.localcloud.honeycomb.urls import API_PREFIX, url_map
from lab_app.localcloud.otlp.decode import INT64_MAX
from lab_app.localcloud.otlp.metrics import decode_metrics

MAX_BODY_BYTES = 20 * 1024 * 1024        # the OpenTelemetry Collector's default max_request_body_size
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
MAX_API_BODY_BYTES = 1024 * 1024
PLANS = ("free", "enterprise")
QUERY_WINDOW_S = 7 * 24 * 3600   # Query Results only over events of the past 7 days


def plan_from_env() -> str:
    plan = (os.environ.get("LAB_HONEYCOMB_PLAN") or "enterprise").strip().lower()
    if plan not in PLANS:
        raise ValueError(f"LAB_HONEYCOMB_PLAN={plan!r} is not a plan the stand-in knows: use free or enterprise")
    return plan


class HoneycombResponse:
    max_body_bytes = MAX_BODY_BYTES
    # Honeycomb's documented Query Data API limit; None lifts it (a test module running dozens of queries)
    query_results_per_minute: int | None = 10

    def __init__(self, backend: HoneycombBackend, plan: str | None = None, metrics: MetricsBackend | None = None):
        self.backend = backend
        self.metrics = metrics if metrics is not None else MetricsBackend(backend.store, log=backend.log)
        self.plan = plan or plan_from_env()
        self._runs: collections.deque[float] = collections.deque()
        self._runs_lock = threading.Lock()

    def dispatch(self, request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        try:
            if path.startswith(API_PREFIX):
                self._check_api_key(request)
            endpoint, args = url_map.bind("localhost").match(path, method=request.method)
            return getattr(self, endpoint)(request, **args)
        except exceptions.HoneycombError as exc:
            return exc.response()
        except MethodNotAllowed as exc:
            if path.startswith(API_PREFIX):
                return json_response({"error": "method not allowed"}, status=405)
            return Response("method not allowed", status=405, headers={"Allow": ", ".join(exc.valid_methods or [])})
        except NotFound:
            return json_response({"error": f"not found: {request.path}"}, status=404)

    # ingest --------------------------------------------------------------------------------------
    def ingest(self, request: Request) -> Response:
        is_json = otlp.is_json_request(request)
        try:
            key = request.headers.get("x-honeycomb-team", "").strip()
            if not key:
                raise otlp.OtlpError(401, otlp.http.UNAUTHENTICATED, "missing 'x-honeycomb-team' header")
            if key not in valid_keys():
                raise otlp.OtlpError(401, otlp.http.UNAUTHENTICATED, "unknown API key - check your credentials")
            body = otlp.read_body(request, self.max_body_bytes, MAX_DECOMPRESSED_BYTES)
            message = otlp.parse(body, ExportTraceServiceRequest)
            rejected, why = 0, ""
            try:
                self.backend.ingest(message, None if body.is_json else body.data)
            except (ValueError, TypeError, OverflowError):  # e.g. one span's timestamp past int64
                # keep the good spans: the exporter does not retry, so failing the batch would lose them all
                message, rejected, why = without_invalid_spans(message)
                try:
                    self.backend.ingest(message)
                except (ValueError, TypeError, OverflowError) as exc:
                    raise otlp.OtlpError(400, otlp.http.INVALID_ARGUMENT,
                                         f"could not decode ExportTraceServiceRequest: {exc}") from None
        except otlp.OtlpError as exc:
            return otlp.error_reply(exc, is_json)
        return otlp.success_reply(ExportTraceServiceResponse(), body.is_json, rejected=rejected, error_message=why)

    def ingest_metrics(self, request: Request) -> Response:
        """``POST /v1/metrics``: the same key checks, body rules and error bodies as traces; the dataset from
        ``x-honeycomb-dataset`` (``unknown_metrics`` without it); rejected points in ``partial_success``."""
        is_json = otlp.is_json_request(request)
        try:
            key = request.headers.get("x-honeycomb-team", "").strip()
            if not key:
                raise otlp.OtlpError(401, otlp.http.UNAUTHENTICATED, "missing 'x-honeycomb-team' header")
            if key not in valid_keys():
                raise otlp.OtlpError(401, otlp.http.UNAUTHENTICATED, "unknown API key - check your credentials")
            dataset_header = request.headers.get(DATASET_HEADER, "").strip()
            if not dataset_header and is_classic_key(key):   # husky's ValidateMetricsHeaders
                raise otlp.OtlpError(401, otlp.http.UNAUTHENTICATED, f"missing '{DATASET_HEADER}' header")
            body = otlp.read_body(request, self.max_body_bytes, MAX_DECOMPRESSED_BYTES)
            message = otlp.parse(body, ExportMetricsServiceRequest)
            try:
                decoded = decode_metrics(message)
                self.metrics.ingest(decoded, dataset_from_header(dataset_header), message,
                                    None if body.is_json else body.data)
            except (ValueError, TypeError, OverflowError) as exc:  # e.g. a timestamp past int64
                raise otlp.OtlpError(400, otlp.http.INVALID_ARGUMENT,
                                     f"could not decode ExportMetricsServiceRequest: {exc}") from None
        except otlp.OtlpError as exc:
            return otlp.error_reply(exc, is_json)
        return otlp.success_reply(ExportMetricsServiceResponse(), body.is_json, rejected=decoded.rejected,
                                  error_message=decoded.error_message)

    # the Honeycomb API -----------------------------------------------------------------------------
    @staticmethod
    def _check_api_key(request: Request) -> None:
        key = request.headers.get("X-Honeycomb-Team", "").strip()
        if not key:
            raise exceptions.Unauthorized("missing 'X-Honeycomb-Team' header")
        if key not in valid_keys():
            raise exceptions.Unauthorized("unknown API key - check your credentials")

    def auth(self, request: Request) -> Response:
        key = request.headers.get("X-Honeycomb-Team", "").strip()
        key_type = api_keys()[key]
        return json_response({
            "id": "local" + key[:4], "type": key_type, "api_key_access": key_access(key_type, self.plan),
            "environment": dict(ENVIRONMENT), "team": dict(TEAM),
        })

    def _check_may_query(self, request: Request) -> None:
        """403 unless the team's plan has the Query Data API and the key may run queries."""
        if self.plan != "enterprise":
            raise exceptions.Forbidden("the Query Data API is an Enterprise feature: this team's plan does not "
                                       "include it (run the query in the Honeycomb UI instead)")
        key_type = api_keys()[request.headers.get("X-Honeycomb-Team", "").strip()]
        if not key_access(key_type, self.plan)["queries"]:
            raise exceptions.Forbidden(f"this {key_type} key does not have the Manage Queries and Columns and Run "
                                       "Queries permissions: use a configuration key that has them")

    def _count_query_result(self) -> None:
        """10 query results per team in any 60 s; the 11th gets 429 (no Retry-After, as Honeycomb)."""
        limit = self.query_results_per_minute
        if limit is None:
            return
        now = time.monotonic()
        with self._runs_lock:
            while self._runs and now - self._runs[0] >= 60:
                self._runs.popleft()
            if len(self._runs) >= limit:
                raise exceptions.RateLimited(f"You have exceeded your rate limit: the Query Data API allows "
                                             f"{limit} query results per minute")
            self._runs.append(now)

    def _dataset(self, dataset: str) -> str:
        if not self.backend.dataset_exists(dataset) and not self.metrics.dataset_exists(dataset):
            raise exceptions.NotFound("Dataset not found")
        return dataset

    @staticmethod
    def _json_body(request: Request) -> Any:
        raw = request.get_data(cache=False)
        if len(raw) > MAX_API_BODY_BYTES:
            raise exceptions.QuerySpecError("request body is too large")
        try:
            return strict_json.loads(raw or b"null")
        except ValueError:
            raise exceptions.QuerySpecError("request body is not valid JSON") from None

    def create_query(self, request: Request, dataset: str) -> Response:
        self._check_may_query(request)
        dataset = self._dataset(dataset)
        spec = query.parse(self._json_body(request))
        return json_response(self.backend.create_query(dataset, spec))

    def get_query(self, request: Request, dataset: str, query_id: str) -> Response:
        self._check_may_query(request)
        return json_response(self.backend.get_query(self._dataset(dataset), query_id))

    @staticmethod
    def _run_options(body: Any) -> tuple[str, bool, int]:
        if not isinstance(body, dict) or not isinstance(body.get("query_id"), str):
            raise exceptions.QuerySpecError(
                "query_id is required: create the query with POST /1/queries/<dataset> first")
        disable_series = body.get("disable_series", False)
        if not isinstance(disable_series, bool):
            raise exceptions.QuerySpecError("disable_series must be true or false")
        limit = body.get("limit", 10_000 if disable_series else 1000)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 10_000:
            raise exceptions.QuerySpecError("limit must be an integer between 1 and 10000")
        if limit > 1000 and not disable_series:
            raise exceptions.QuerySpecError("a limit over 1000 needs disable_series: true")
        return body["query_id"], disable_series, limit

    def run_query(self, request: Request, dataset: str) -> Response:
        self._check_may_query(request)
        dataset = self._dataset(dataset)
        query_id, disable_series, limit = self._run_options(self._json_body(request))
        document = self.backend.get_query(dataset, query_id)
        spec = query.parse({k: v for k, v in document.items() if k != "id"})
        now = time.time()
        if spec.window(now)[0] < now - QUERY_WINDOW_S:
            raise exceptions.QuerySpecError("Query Results can only be created for events with timestamps "
                                            "within the past 7 days")
        self._count_query_result()
        # a dataset holding metric points is a metrics dataset (its events are metric events)
        runner = self.metrics if self.metrics.dataset_exists(dataset) else self.backend
        data = runner.run_query(spec, dataset, now=now, limit=limit, series=not disable_series)
        result = {"id": new_id(), "complete": True, "query": document, "data": data}
        result["links"] = self._links(request, dataset, result["id"])
        self.backend.save_result(dataset, query_id, result)
        return json_response({k: v for k, v in result.items() if k != "data"}, status=201)

    def get_result(self, request: Request, dataset: str, result_id: str) -> Response:
        self._check_may_query(request)
        document = self.backend.get_result(self._dataset(dataset), result_id)
        return Response(document, status=200, content_type="application/json")

    @staticmethod
    def _links(request: Request, dataset: str, result_id: str) -> dict:
        base = (f"{request.host_url.rstrip('/')}/{TEAM['slug']}/environments/{ENVIRONMENT['slug']}"
                f"/datasets/{dataset}/result/{result_id}")
        return {"query_url": base, "graph_image_url": base + "/snapshot"}


def span_problem(span) -> str | None:
    """Why one span cannot be stored (None when it can): the store keeps times as 64-bit signed integers, while
    OTLP's fixed64 allows up to 2^64 - 1. (Honeycomb itself takes odd ids as they come, so the stand-in does too.)"""
    if span.start_time_unix_nano > INT64_MAX or span.end_time_unix_nano > INT64_MAX:
        return "start_time_unix_nano and end_time_unix_nano must be below 2^63 (year 2262)"
    return None


def without_invalid_spans(message: ExportTraceServiceRequest) -> tuple[ExportTraceServiceRequest, int, str]:
    """A copy of ``message`` without the spans that cannot be stored, how many were dropped, and why (the first
    reason), for OTLP's ``partial_success`` (rejected_spans + error_message)."""
    clean = ExportTraceServiceRequest()
    clean.CopyFrom(message)
    rejected, first = 0, ""
    for resource_spans in clean.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            bad = [(index, problem) for index, span in enumerate(scope_spans.spans)
                   if (problem := span_problem(span)) is not None]
            if bad and not first:
                first = f"span {scope_spans.spans[bad[0][0]].name[:80]!r}: {bad[0][1]}"
            for index, _ in reversed(bad):
                del scope_spans.spans[index]
            rejected += len(bad)
    return clean, rejected, (f"{rejected} span(s) rejected; {first}" if rejected else "")
