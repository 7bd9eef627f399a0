"""X-Ray's OTLP traces endpoint: OpenTelemetry spans in, X-Ray segment documents out.

AWS accepts OTLP/HTTP on ``https://xray.<region>.amazonaws.com/v1/traces`` (SigV4-signed, service
``xray``; protobuf or JSON bodies, gzip or no compression, at most 10,000 spans and 5 MB uncompressed per
request, spans from 14 days in the past to 2 hours in the future), and only with CloudWatch Transaction Search
enabled (trace segment destination ``CloudWatchLogs``, see :mod:`~lab_app.localcloud.xray.transaction_search`).

What the endpoint answers, in order:

* no SigV4 ``Authorization``: 403 ``MissingAuthenticationTokenException``;
* signed for another service than ``xray``: 403 ``InvalidSignatureException``, "Credential should be scoped to
  correct service: 'xray'. " (AWS's words for a wrong credential scope);
* Transaction Search off (destination ``XRay``, a new account's default, or ``CloudWatchLogs`` still PENDING):
  400 ``InvalidRequestException`` naming UpdateTraceSegmentDestination (:data:`TRANSACTION_SEARCH_OFF`: AWS does
  not document its exact words, so this is the closest documented behaviour, not a copy);
* otherwise every valid span is stored as a span event in the ``aws/spans`` log group (stream ``default``,
  :mod:`~lab_app.localcloud.xray.spans_log`) through the Logs stand-in's ``deliver``, so Logs Insights queries
  them, and the spans of the traces the ``Default`` indexing rule selects become trace summaries.

The local cloud serves the same path on the AWS port and turns the indexed spans into segment documents the way the AWS X-Ray exporter of the
OpenTelemetry collector (ADOT) documents it, then hands them to the X-Ray stand-in through its public
``ingest_documents(docs) -> unprocessed`` so that GetTraceSummaries, BatchGetTraces and GetServiceGraph
work on them.

The mapping (:func:`spans_to_segments`):

* one document per span. A ``SERVER`` span, or any span without a parent, is a **segment**; every other span
  is a ``"type": "subsegment"`` document with ``parent_id`` (X-Ray merges it into its trace).
* trace id: the 32 hex digits ``aaaaaaaabbbbbbbbbbbbbbbbbbbbbbbb`` become ``1-aaaaaaaa-bbbbbbbbbbbbbbbbbbbbbbbb``.
  With ``AwsXRayIdGenerator`` the first 8 digits are the start time in epoch seconds; X-Ray has accepted
  W3C (random) trace ids in this form since 2023, so random ids are converted the same way.
* name: for a segment ``aws.local.service``, else ``peer.service``, else the resource's ``service.name``;
  for a ``CLIENT`` span the downstream's name: ``aws.remote.service``, ``peer.service``, ``aws.service``,
  ``db.name@host``, ``rpc.service``, ``http.host``, ``net.peer.name``, else the span name with the characters
  X-Ray forbids removed (at most 200 characters).
* namespace: ``aws`` for AWS SDK calls (``rpc.system = aws-api`` or ``aws.service``), ``remote`` for any
  other ``CLIENT`` span, none otherwise. Remote subsegments are what the service graph draws as edges.
* ``http.*`` / ``net.*`` attributes (old and new semantic conventions) -> the ``http`` block
  (request ``method``, ``url``, ``user_agent``, ``client_ip``; response ``status``, ``content_length``).
* error/fault/throttle from the HTTP status (4xx error, 429 also throttle, 5xx fault) or, without one,
  ``fault`` when the span status is ``ERROR``; ``exception`` events become ``cause.exceptions``.
* attributes -> **annotations** only when indexed: listed in the span's ``aws.xray.annotations``
  attribute (an array of keys) or in ``indexed_attributes`` (or all with ``index_all_attributes``); the
  key keeps letters, digits and ``_`` (anything else becomes ``_``), values must be string, number or
  bool. Every other attribute (and, on segments, each resource attribute as ``otel.resource.<key>``) goes
  to ``metadata["default"]``; ``aws.xray.metadata.<ns>`` attributes holding JSON objects go to
  ``metadata[<ns>]``. ``enduser.id`` -> ``user``; ``service.version`` -> ``service.version``;
  ``db.*`` -> ``sql``; ``aws.operation`` / ``aws.region`` / ... -> ``aws``.

Left out on purpose (and said so here rather than half done): Application Signals' ``aws.span.kind =
LOCAL_ROOT`` splitting, span links, and ``origin`` detection from EC2/ECS/EKS resource attributes.
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from werkzeug.wrappers import Request, Response

from lab_app.localcloud import otlp
from lab_app.localcloud.aws.sigv4 import parse_scope
from lab_app.localcloud.component import Component
from lab_app.localcloud.otlp.decode import attributes
from lab_app.localcloud.xray import spans_log, transaction_search
from lab_app.localcloud.xray.transaction_search import CLOUDWATCH_LOGS, SPANS_LOG_GROUP, SPANS_LOG_STREAM
from lab_app.localcloud.xray.urls import OTLP_TRACES_PATH

XRAY_ANNOTATIONS_ATTRIBUTE = "aws.xray.annotations"
XRAY_METADATA_PREFIX = "aws.xray.metadata."
DEFAULT_METADATA_NAMESPACE = "default"
MAX_SEGMENT_NAME = 200
MAX_SPANS_PER_REQUEST = 10_000
MAX_UNCOMPRESSED_BYTES = 5 * 1024 * 1024
MAX_SPAN_BYTES = 200 * 1024
MAX_PAST_S = 14 * 24 * 3600
MAX_FUTURE_S = 2 * 3600

KIND_NAMES = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
STATUS_NAMES = {0: "UNSET", 1: "OK", 2: "ERROR"}
_INVALID_NAME_CHARS = re.compile(r"[^ 0-9\w.:/%&#=+\\\-@]", re.UNICODE)
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")

# attribute -> where it goes in the http block (old and stable semantic-convention names)
_HTTP_METHOD = ("http.method", "http.request.method")
_HTTP_STATUS = ("http.status_code", "http.response.status_code")
_HTTP_USER_AGENT = ("http.user_agent", "user_agent.original")
_HTTP_CLIENT_IP = ("http.client_ip", "client.address")
_URL_PARTS = ("http.url", "url.full", "http.scheme", "url.scheme", "http.host", "http.target", "url.path",
              "url.query", "http.server_name", "net.host.name", "net.host.port", "server.address", "server.port",
              "net.peer.name", "net.peer.port", "net.peer.ip", "host.name")
_AWS_FIELDS = {"aws.operation": "operation", "aws.account_id": "account_id", "aws.region": "region",
               "aws.request_id": "request_id", "aws.queue_url": "queue_url", "aws.table_name": "table_name",
               "aws.remote.service": None, "aws.local.service": None, "aws.service": None}
_SQL_FIELDS = {"db.connection_string": "url", "db.system": "database_type", "db.statement": "sanitized_query",
               "db.user": "user"}


# AWS documents that the OTLP traces endpoint requires Transaction Search, not the words it answers with when it is
# off. This is the closest documented behaviour: a 400 InvalidRequestException (X-Ray's error for a request it
# will not take) that names the API call that fixes it.
TRANSACTION_SEARCH_OFF = (
    "The OTLP API is supported with CloudWatch Logs as a Trace Segment Destination. Please enable the CloudWatch "
    "Logs destination for your traces using the UpdateTraceSegmentDestination API "
    "(https://docs.aws.amazon.com/xray/latest/api/API_UpdateTraceSegmentDestination.html)")


class InvalidSpan(ValueError):
    """A span X-Ray cannot store (bad ids, timestamps outside the accepted window, too large)."""


@dataclass
class Span:
    """One OpenTelemetry span, whatever it was decoded from."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    status_code: str = "UNSET"
    status_message: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    scope: dict[str, str] = field(default_factory=dict)
    flags: int = 0


# --- decoding (the OTLP message itself is decoded by lab_app.localcloud.otlp) ---------------------------
def _spans_from_proto(resource_spans: Iterable) -> list[Span]:
    spans = []
    for rs in resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            scope = {"name": ss.scope.name, "version": ss.scope.version} if ss.scope.name else {}
            for s in ss.spans:
                spans.append(Span(
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(),
                    parent_span_id=s.parent_span_id.hex() or None, name=s.name,
                    kind=KIND_NAMES.get(s.kind, "UNSPECIFIED"),
                    start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
                    attributes=attributes(s.attributes),
                    status_code=STATUS_NAMES.get(s.status.code, "UNSET"), status_message=s.status.message,
                    events=[{"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": attributes(e.attributes)}
                            for e in s.events],
                    resource=resource, scope=scope, flags=s.flags,
                ))
    return spans


def _norm_kind(kind: Any) -> str:
    if isinstance(kind, int):
        return KIND_NAMES.get(kind, "UNSPECIFIED")
    text = str(kind or "INTERNAL").upper()
    for prefix in ("SPAN_KIND_", "SPANKIND."):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def _norm_status(code: Any) -> str:
    if isinstance(code, int):
        return STATUS_NAMES.get(code, "UNSET")
    text = str(code or "UNSET").upper()
    return text[len("STATUS_CODE_"):] if text.startswith("STATUS_CODE_") else text


def _span_from_dict(d: Mapping[str, Any]) -> Span:
    status = d.get("status") or {}
    if isinstance(status, str):
        status = {"code": status}
    return Span(
        trace_id=str(d["trace_id"]).lower().removeprefix("0x"), span_id=str(d["span_id"]).lower().removeprefix("0x"),
        parent_span_id=(str(d["parent_span_id"]).lower().removeprefix("0x") if d.get("parent_span_id") else None),
        name=str(d.get("name", "")), kind=_norm_kind(d.get("kind")),
        start_ns=int(d["start_time_unix_nano"]), end_ns=int(d["end_time_unix_nano"]),
        attributes=dict(d.get("attributes") or {}), status_code=_norm_status(status.get("code")),
        status_message=str(status.get("message") or ""), events=list(d.get("events") or []),
        resource=dict(d.get("resource") or {}),
    )


def as_spans(resource_spans: Any) -> list[Span]:
    """Accept an ``ExportTraceServiceRequest``, its ``resource_spans``, or a list of span dicts."""
    if hasattr(resource_spans, "resource_spans"):
        return _spans_from_proto(resource_spans.resource_spans)
    items = list(resource_spans)
    if not items:
        return []
    if isinstance(items[0], Span):
        return items
    if isinstance(items[0], Mapping):
        return [_span_from_dict(d) for d in items]
    return _spans_from_proto(items)


# --- conversion -----------------------------------------------------------------------------------------
def xray_trace_id(trace_id_hex: str) -> str:
    """``5759e988bd862e3fe1be46a994272793`` -> ``1-5759e988-bd862e3fe1be46a994272793``."""
    if not _HEX32.match(trace_id_hex) or trace_id_hex == "0" * 32:
        raise InvalidSpan(f"trace id {trace_id_hex!r} is not 32 hex digits")
    return f"1-{trace_id_hex[:8]}-{trace_id_hex[8:]}"


def otel_trace_id(xray_id: str) -> str:
    """The inverse: ``1-5759e988-bd862e3fe1be46a994272793`` -> 32 hex digits."""
    parts = xray_id.split("-")
    if len(parts) != 3 or parts[0] != "1" or len(parts[1]) != 8 or len(parts[2]) != 24:
        raise ValueError(f"{xray_id!r} is not an X-Ray trace id (1-xxxxxxxx-yyyyyyyyyyyyyyyyyyyyyyyy)")
    return (parts[1] + parts[2]).lower()


def fix_segment_name(name: str) -> str:
    name = _INVALID_NAME_CHARS.sub("", name)
    return name[:MAX_SEGMENT_NAME] or "span"


def fix_annotation_key(key: str) -> str:
    return "".join(ch if (ch.isascii() and ch.isalnum()) or ch == "_" else "_" for ch in key)


def _first(attrs: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in attrs and attrs[key] not in (None, ""):
            return attrs[key]
    return None


def _http_block(span: Span) -> tuple[dict | None, set[str]]:
    a = span.attributes
    used: set[str] = set()
    request: dict[str, Any] = {}
    response: dict[str, Any] = {}
    method = _first(a, _HTTP_METHOD)
    if method is not None:
        request["method"] = str(method)
    agent = _first(a, _HTTP_USER_AGENT)
    if agent is not None:
        request["user_agent"] = str(agent)
    client_ip = _first(a, _HTTP_CLIENT_IP)
    if client_ip is not None:
        request["client_ip"] = str(client_ip)
        request["x_forwarded_for"] = True
    elif span.kind == "SERVER" and a.get("net.peer.ip"):
        request["client_ip"] = str(a["net.peer.ip"])
    status = _whole(_first(a, _HTTP_STATUS))
    if status is not None:
        response["status"] = status
    size = _whole(_first(a, ("http.response_content_length", "http.response.body.size")))
    if size is not None:
        response["content_length"] = size
    url = _url(span)
    if url:
        request["url"] = url
    used.update(k for k in (*_HTTP_METHOD, *_HTTP_STATUS, *_HTTP_USER_AGENT, *_HTTP_CLIENT_IP, *_URL_PARTS,
                            "http.response_content_length", "http.response.body.size", "http.flavor",
                            "network.protocol.version") if k in a)
    if not request and not response:
        return None, set()
    block: dict[str, Any] = {}
    if request:
        block["request"] = request
    if response:
        block["response"] = response
    return block, used


def _url(span: Span) -> str | None:
    a = span.attributes
    full = _first(a, ("http.url", "url.full"))
    if full:
        return str(full)
    if not any(k in a for k in ("http.host", "http.server_name", "net.host.name", "server.address", "net.peer.name",
                                "net.peer.ip", "host.name")):
        return None
    scheme = str(_first(a, ("http.scheme", "url.scheme")) or "http")
    host = _first(a, ("http.host",))
    port = ""
    if host is None:
        if span.kind == "SERVER":
            host = _first(a, ("http.server_name", "net.host.name", "server.address", "host.name"))
            port = _first(a, ("net.host.port", "server.port")) or ""
        else:
            host = _first(a, ("net.peer.name", "server.address", "net.peer.ip"))
            port = _first(a, ("net.peer.port", "server.port")) or ""
    port = str(port)
    url = f"{scheme}://{host or ''}"
    if port and not ((scheme == "http" and port == "80") or (scheme == "https" and port == "443")):
        url += f":{port}"
    target = _first(a, ("http.target",))
    if target is None:
        path = _first(a, ("url.path",))
        query = _first(a, ("url.query",))
        target = (str(path) + (f"?{query}" if query else "")) if path else None
    return url + (str(target) if target else "/")


def _cause(span: Span) -> dict | None:
    exceptions = []
    remote = span.kind in ("CLIENT", "PRODUCER")
    for i, event in enumerate(span.events):
        if event.get("name") != "exception":
            continue
        attrs = event.get("attributes") or {}
        exc: dict[str, Any] = {"id": f"{span.span_id[:12]}{i:04x}", "type": str(attrs.get("exception.type", "")),
                               "message": str(attrs.get("exception.message", "")), "remote": remote}
        stack = _python_stack(str(attrs.get("exception.stacktrace", "")))
        if stack:
            exc["stack"] = stack
        exceptions.append(exc)
    if exceptions:
        return {"exceptions": exceptions}
    if span.status_code == "ERROR":
        message = span.status_message or str(span.attributes.get("http.status_text", ""))
        if message:
            return {"exceptions": [{"id": f"{span.span_id[:12]}ffff", "message": message}]}
    return None


def _python_stack(stacktrace: str) -> list[dict]:
    """``  File "x.py", line 3, in f`` lines of a Python traceback, innermost first (as X-Ray shows them)."""
    frames = []
    for line in stacktrace.splitlines():
        m = re.match(r'\s*File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<label>.+)$', line)
        if m:
            frames.append({"path": m["path"], "line": int(m["line"]), "label": m["label"].strip()})
    return list(reversed(frames))


def _whole(value: Any) -> int | None:
    """An attribute as an integer (a status code, a size), or None: text, NaN and infinity are not numbers here."""
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _fault_flags(span: Span) -> tuple[bool, bool, bool]:
    """(error, fault, throttle): from the HTTP status when it is 4xx/5xx, else fault = status ERROR."""
    code = _whole(_first(span.attributes, _HTTP_STATUS))
    if code is not None and 400 <= code <= 499:
        return True, False, code == 429
    if code is not None and 500 <= code <= 599:
        return False, True, False
    return False, span.status_code == "ERROR", False


def _is_aws_sdk(span: Span) -> bool:
    return span.attributes.get("rpc.system") == "aws-api"


def _name(span: Span) -> str:
    a = span.attributes
    candidates: list[Any] = []
    if span.kind == "SERVER":
        candidates.append(a.get("aws.local.service"))
    if span.kind in ("CLIENT", "PRODUCER", "CONSUMER"):
        remote = a.get("aws.remote.service")
        if remote and _is_aws_sdk(span):
            remote = str(remote).removeprefix("AWS.SDK.").removeprefix("AWS::")
        candidates.append(remote)
    candidates += [a.get("peer.service"), a.get("aws.service")]
    if a.get("db.name"):
        db = str(a["db.name"])
        conn = a.get("db.connection_string")
        if conn:
            host = urlsplit(str(conn).removeprefix("jdbc:")).hostname
            if host:
                db += "@" + host
        candidates.append(db)
    if span.kind == "SERVER" or not span.parent_span_id:
        candidates.append(span.resource.get("service.name"))
    candidates += [a.get("rpc.service"), a.get("http.host"), a.get("net.peer.name")]
    if span.kind in ("CLIENT", "PRODUCER"):
        # like the X-Ray SDK's requests patch: a downstream call without a service name is named after its host
        url = _first(a, ("http.url", "url.full"))
        candidates.append(urlsplit(str(url)).hostname if url else None)
    for candidate in candidates:
        if candidate not in (None, ""):
            return str(candidate)
    return fix_segment_name(span.name)


def _annotation_value(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def span_to_segment(span: Span, indexed_attributes: Sequence[str] = (), index_all_attributes: bool = False,
                    now: float | None = None, validate_time: bool = True) -> dict[str, Any]:
    """One span as one X-Ray segment (or subsegment) document. Raises :class:`InvalidSpan`."""
    if not _HEX16.match(span.span_id) or span.span_id == "0" * 16:
        raise InvalidSpan(f"span id {span.span_id!r} is not 16 hex digits")
    if span.parent_span_id is not None and not _HEX16.match(span.parent_span_id):
        raise InvalidSpan(f"parent span id {span.parent_span_id!r} is not 16 hex digits")
    trace_id = xray_trace_id(span.trace_id)
    start, end = span.start_ns / 1e9, span.end_ns / 1e9
    if end < start:
        raise InvalidSpan(f"span {span.span_id} ends before it starts")
    if validate_time:
        now = time.time() if now is None else now
        if start < now - MAX_PAST_S or start > now + MAX_FUTURE_S:
            raise InvalidSpan(f"span {span.span_id} starts outside the accepted window (14 days ago to 2 hours ahead)")
    is_segment = span.kind == "SERVER" or not span.parent_span_id
    doc: dict[str, Any] = {"id": span.span_id, "trace_id": trace_id, "name": _name(span),
                           "start_time": start, "end_time": end}
    if span.parent_span_id:
        doc["parent_id"] = span.parent_span_id
    if not is_segment:
        doc["type"] = "subsegment"
    if _is_aws_sdk(span) or (span.kind == "CLIENT" and "aws.service" in span.attributes):
        doc["namespace"] = "aws"
    elif span.kind == "CLIENT":
        doc["namespace"] = "remote"
    error, fault, throttle = _fault_flags(span)
    doc.update(error=error, fault=fault, throttle=throttle)
    cause = _cause(span)
    if cause:
        doc["cause"] = cause
    http, used = _http_block(span)
    if http:
        doc["http"] = http

    attrs = {k: v for k, v in span.attributes.items() if k not in used}
    attrs.pop("http.status_text", None)
    aws = {dest: attrs.pop(src) for src, dest in _AWS_FIELDS.items() if src in attrs and dest}
    for src, dest in _AWS_FIELDS.items():
        if dest is None:
            attrs.pop(src, None)
    if is_segment:
        sdk = span.resource.get("telemetry.sdk.language")
        if sdk:
            aws["xray"] = {"sdk": f"opentelemetry for {sdk}",
                           "sdk_version": str(span.resource.get("telemetry.sdk.version", "")),
                           "auto_instrumentation": bool(span.resource.get("telemetry.auto.version"))}
    if aws:
        doc["aws"] = aws
    sql = {dest: str(attrs.pop(src)) for src, dest in _SQL_FIELDS.items() if src in attrs}
    if sql:
        doc["sql"] = sql
    if is_segment and span.resource.get("service.version"):
        doc["service"] = {"version": str(span.resource["service.version"])}
    user = attrs.pop("enduser.id", None)
    if user:
        doc["user"] = str(user)

    indexed = set() if index_all_attributes else set(indexed_attributes)
    listed = attrs.pop(XRAY_ANNOTATIONS_ATTRIBUTE, None)
    if isinstance(listed, (list, tuple)):
        indexed.update(str(k) for k in listed if isinstance(k, str))
    annotations: dict[str, Any] = {}
    metadata: dict[str, dict[str, Any]] = {}
    default_meta: dict[str, Any] = {}
    if is_segment:
        for key, value in span.resource.items():
            rkey = "otel.resource." + key
            ann = _annotation_value(value)
            if ann is not None and (index_all_attributes or rkey in indexed):
                annotations[fix_annotation_key(rkey)] = ann
            elif value is not None:
                default_meta[rkey] = value
    for key, value in attrs.items():
        ann = _annotation_value(value)
        if (index_all_attributes or key in indexed) and ann is not None:
            annotations[fix_annotation_key(key)] = ann
        elif key.startswith(XRAY_METADATA_PREFIX) and isinstance(value, str):
            namespace = key[len(XRAY_METADATA_PREFIX):]
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                default_meta[key] = value
            elif namespace.lower() == DEFAULT_METADATA_NAMESPACE:
                default_meta.update(parsed)
            else:
                metadata[namespace] = parsed
        elif value is not None:
            default_meta[key] = value
    if default_meta:
        metadata[DEFAULT_METADATA_NAMESPACE] = default_meta
    if annotations:
        doc["annotations"] = annotations
    if metadata:
        doc["metadata"] = metadata
    return doc


def spans_to_segments(resource_spans: Any, indexed_attributes: Sequence[str] = (),
                      index_all_attributes: bool = False, now: float | None = None,
                      validate_time: bool = True, errors: list | None = None) -> list[dict[str, Any]]:
    """Convert OTLP spans (an ``ExportTraceServiceRequest``, its resource spans, or span dicts) to segment
    documents, one per span. Spans X-Ray would reject are skipped; pass ``errors=[]`` to collect
    ``(span_id, message)`` for them."""
    docs = []
    for span in as_spans(resource_spans):
        try:
            docs.append(span_to_segment(span, indexed_attributes, index_all_attributes, now, validate_time))
        except InvalidSpan as exc:
            if errors is not None:
                errors.append((span.span_id, str(exc)))
    return docs


# --- the endpoint ---------------------------------------------------------------------------------------
class XRayOTLP(Component):
    """``POST /v1/traces`` on the AWS port: X-Ray's OTLP traces endpoint."""

    name = "xray-otlp"
    path = OTLP_TRACES_PATH

    def __init__(self, ctx):
        super().__init__(ctx)
        self.indexed_attributes: list[str] = []
        self.index_all_attributes = False
        self.counts = {"requests": 0, "spans": 0, "logged_spans": 0, "segments": 0, "rejected_spans": 0,
                       "bad_requests": 0}

    def matches(self, environ: dict) -> bool:
        return environ.get("PATH_INFO", "") == self.path

    def reset(self) -> None:
        for key in self.counts:
            self.counts[key] = 0

    def status(self) -> dict[str, Any]:
        return dict(self.counts, indexed_attributes=list(self.indexed_attributes))

    def control(self, action: str, payload: dict) -> dict | None:
        """``/_localcloud/xray-otlp/config``: which span attributes become annotations (local-only)."""
        if action != "config":
            return None
        if "indexed_attributes" in payload:
            value = payload["indexed_attributes"]
            self.indexed_attributes = [value] if isinstance(value, str) else [str(v) for v in value]
        if "index_all_attributes" in payload:
            self.index_all_attributes = str(payload["index_all_attributes"]).lower() in ("1", "true", "yes")
        return {"indexed_attributes": self.indexed_attributes, "index_all_attributes": self.index_all_attributes}

    # -- responses in the OTLP/HTTP shape (lab_app.localcloud.otlp): a google.rpc.Status body on errors -----
    def _error(self, status: int, message: str, as_json: bool, code: int | None = None) -> Response:
        self.counts["bad_requests"] += 1
        if code is None:
            code = {400: otlp.http.INVALID_ARGUMENT, 403: otlp.http.PERMISSION_DENIED,
                    405: otlp.http.UNIMPLEMENTED, 501: otlp.http.UNIMPLEMENTED}.get(status, 2)
        return otlp.error_reply(otlp.OtlpError(status, code, message), as_json)

    def __call__(self, environ: dict, start_response):
        request = Request(environ)
        as_json = otlp.is_json_request(request)
        if request.method != "POST":
            resp = self._error(405, f"{request.method} is not allowed on {self.path}: POST OTLP spans", as_json)
            resp.headers["Allow"] = "POST"
            return resp(environ, start_response)
        auth = request.headers.get("Authorization", "")
        scope = parse_scope(auth)
        if not auth.startswith("AWS4-HMAC-SHA256 ") or scope is None:
            resp = self._error(403, "Missing Authentication Token: sign the request with SigV4 for service 'xray' "
                                    "(lab_app.instrument.otel_xray.SigV4Auth does)", as_json)
            resp.headers["x-amzn-ErrorType"] = "MissingAuthenticationTokenException"
            return resp(environ, start_response)
        if scope.service != "xray":
            # AWS's answer to a signature scoped to another service (the same words every AWS endpoint uses)
            resp = self._error(403, "Credential should be scoped to correct service: 'xray'. ", as_json)
            resp.headers["x-amzn-ErrorType"] = "InvalidSignatureException"
            return resp(environ, start_response)
        try:
            body = otlp.read_body(request, MAX_UNCOMPRESSED_BYTES, MAX_UNCOMPRESSED_BYTES, encodings=("gzip",))
            message = otlp.parse(body, ExportTraceServiceRequest)
        except otlp.OtlpError as exc:
            return self._error(exc.status, exc.message, as_json, exc.code)(environ, start_response)
        return self.export(message, as_json)(environ, start_response)

    def export(self, message: ExportTraceServiceRequest, as_json: bool) -> Response:
        """Convert a decoded request's spans and hand the segments to the X-Ray stand-in."""
        spans = as_spans(message)
        if len(spans) > MAX_SPANS_PER_REQUEST:
            return self._error(400, f"{len(spans)} spans in one request; the limit is {MAX_SPANS_PER_REQUEST}",
                               as_json)
        try:
            xray = self.ctx.component("xray")
        except KeyError:
            return self._error(501, "the X-Ray stand-in is not running in this local cloud, so there is nowhere to "
                                    "store segments (add lab_app.localcloud.xray.XRay to COMPONENTS)", as_json)
        search = xray.transaction_search
        if search.effective_destination() != CLOUDWATCH_LOGS:
            resp = self._error(400, TRANSACTION_SEARCH_OFF, as_json)
            resp.headers["x-amzn-ErrorType"] = "InvalidRequestException"
            return resp
        try:
            logs = self.ctx.component("logs")
        except KeyError:
            return self._error(501, "the CloudWatch Logs stand-in is not running in this local cloud, so there is no "
                                    "aws/spans log group to store spans in", as_json)
        percentage = search.percentage()
        errors: list[tuple[str, str]] = []
        docs = []
        events = []
        now = self.clock.now()
        for span in spans:
            try:
                doc = span_to_segment(span, self.indexed_attributes, self.index_all_attributes, now=now)
            except InvalidSpan as exc:
                errors.append((span.span_id, str(exc)))
                continue
            if len(json.dumps(doc)) > MAX_SPAN_BYTES:
                errors.append((span.span_id, "span larger than 200 KB"))
                continue
            events.append(spans_log.span_event(span))
            if transaction_search.indexed(span.trace_id, percentage):
                docs.append(doc)
        if events:
            logs.ensure_group(SPANS_LOG_GROUP)
            logs.deliver(SPANS_LOG_GROUP, SPANS_LOG_STREAM, events)
        self.counts["logged_spans"] += len(events)
        unprocessed = xray.ingest_documents(docs) if docs else []
        for item in unprocessed or []:
            errors.append((str(item.get("Id", "")), str(item.get("Message") or item.get("ErrorCode") or "")))
        self.counts["requests"] += 1
        self.counts["spans"] += len(spans)
        self.counts["segments"] += len(docs) - len(unprocessed or [])
        self.counts["rejected_spans"] += len(errors)
        return otlp.success_reply(ExportTraceServiceResponse(), as_json, rejected=len(errors),
                                  error_message="; ".join(f"{sid}: {msg}" for sid, msg in errors[:5]))
