"""From the X-Ray SDK to OpenTelemetry: the same services traced with OpenTelemetry, sent to X-Ray.

What changes compared with the Honeycomb set-up (``lab_app.instrument.otel``):

* ids: ``AwsXRayIdGenerator`` (opentelemetry-sdk-extension-aws) puts the start time in the first 32 bits
  of every trace id, the layout X-Ray's ``1-<8 hex time>-<24 hex>`` ids have;
* propagation: ``AwsXRayPropagator`` (opentelemetry-propagator-aws-xray) reads and writes the
  ``X-Amzn-Trace-Id`` header, next to W3C ``traceparent`` (a composite propagator);
* export: OTLP/HTTP to X-Ray's OTLP traces endpoint, ``https://xray.<region>.amazonaws.com/v1/traces``
  (locally the AWS port's ``/v1/traces``), every request signed with SigV4 for service ``xray``
  (:class:`SigV4Auth`, botocore's signer and credential chain).

    from lab_app.instrument import otel_xray
    stack = services.start(instrument=[otel_xray.instrument_app])
    ...
    otel_xray.flush()

It builds on ``lab_app.instrument.otel`` (one TracerProvider per service, ``requests`` spans only inside a
service's request): the same spans keep going to Honeycomb if that exporter is on. Cells re-run cleanly:
one X-Ray exporter per process, the apps of a re-started stack are instrumented again.
"""
from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from opentelemetry.sdk.trace import SpanProcessor as _SpanProcessor

from lab_app import config

log = logging.getLogger(__name__)

SERVICE = "xray"
OTLP_PATH = "/v1/traces"
_lock = threading.Lock()
_state: dict[str, Any] = {}


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or config.REGION


def endpoint(region_name: str | None = None) -> str:
    """X-Ray's OTLP traces URL: the local cloud's AWS port in local mode, the regional endpoint otherwise."""
    base = os.environ.get("AWS_ENDPOINT_URL_XRAY") or os.environ.get("AWS_ENDPOINT_URL")
    if base:
        return base.rstrip("/") + OTLP_PATH
    return f"https://xray.{region_name or region()}.amazonaws.com{OTLP_PATH}"


def _foreign_header_names() -> set[str]:
    """Headers configured for another OTLP backend (e.g. ``x-honeycomb-team``): never sent to AWS."""
    names = set()
    for var in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        for item in (os.environ.get(var) or "").split(","):
            if "=" in item:
                names.add(item.split("=", 1)[0].strip().lower())
    return names


class SigV4Auth(requests.auth.AuthBase):
    """A ``requests`` auth that signs each request with AWS Signature Version 4 (botocore's signer).

    Credentials come from botocore's usual chain (environment, profile, SSO, instance role) and are read
    again for every request, so refreshed temporary credentials are picked up.
    """

    def __init__(self, service: str = SERVICE, region_name: str | None = None, credentials=None):
        self.service = service
        self.region = region_name or region()
        self._credentials = credentials

    def _frozen_credentials(self):
        creds = self._credentials
        if creds is None:
            import botocore.session

            creds = botocore.session.get_session().get_credentials()
        if creds is None:
            raise RuntimeError("no AWS credentials found: export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, set "
                               "AWS_PROFILE, or run in local mode (LAB_MODE=local)")
        return creds.get_frozen_credentials() if hasattr(creds, "get_frozen_credentials") else creds

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        from botocore.auth import SigV4Auth as BotocoreSigV4
        from botocore.awsrequest import AWSRequest

        for name in _foreign_header_names():
            if name in request.headers:
                del request.headers[name]
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        signed_headers = {k: v for k, v in request.headers.items()
                          if k.lower() in ("content-type", "content-encoding")}
        aws_request = AWSRequest(method=request.method, url=request.url, data=body, headers=signed_headers)
        BotocoreSigV4(self._frozen_credentials(), self.service, self.region).add_auth(aws_request)
        for key in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if key in aws_request.headers:
                request.headers[key] = aws_request.headers[key]
        # the Host header botocore signed is the URL's netloc; requests sends exactly that.
        request.headers.setdefault("Host", urlsplit(request.url).netloc)
        return request


def signed_session(region_name: str | None = None, credentials=None) -> requests.Session:
    session = requests.Session()
    session.auth = SigV4Auth(SERVICE, region_name, credentials)
    return session


def exporter(endpoint_url: str | None = None, region_name: str | None = None, credentials=None):
    """An ``OTLPSpanExporter`` for X-Ray's OTLP endpoint, gzip-compressed and SigV4-signed."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint_url or endpoint(region_name), compression=Compression.Gzip,
                            session=signed_session(region_name, credentials), timeout=10)


def propagator():
    """W3C trace context + baggage + X-Amzn-Trace-Id, so both kinds of services join one trace."""
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.aws import AwsXRayPropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator(), AwsXRayPropagator()])


class XRayExport(_SpanProcessor):
    """A span processor added to each service's TracerProvider: names the downstream of every client span
    (``peer.service``, which X-Ray uses as the remote subsegment's name) and batches spans to X-Ray's OTLP
    endpoint."""

    def __init__(self, url: str):
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        super().__init__()
        self.url = url
        self.batch = BatchSpanProcessor(exporter(url), schedule_delay_millis=500)
        self.active = True

    def on_start(self, span, parent_context=None) -> None:
        if not self.active:
            return
        from opentelemetry.trace import SpanKind

        if span.kind == SpanKind.CLIENT and span.attributes is not None and "peer.service" not in span.attributes:
            url = span.attributes.get("http.url") or span.attributes.get("url.full")
            service = _services_by_host().get(urlsplit(str(url)).netloc) if url else None
            if service:
                span.set_attribute("peer.service", service)

    def on_end(self, span) -> None:
        if self.active:
            self.batch.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.batch.force_flush(timeout_millis) if self.active else True

    def shutdown(self) -> None:
        if self.active:
            self.active = False
            self.batch.shutdown()


def use_xray_ids(tp) -> None:
    """Make ``tp`` (an SDK TracerProvider) and the tracers it already handed out draw X-Ray trace ids.

    The SDK caches one Tracer per instrumentation scope and each Tracer keeps the generator it was created
    with, so switching the provider alone would leave an already-instrumented Flask app on random ids."""
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator

    generator = tp.id_generator if isinstance(tp.id_generator, AwsXRayIdGenerator) else AwsXRayIdGenerator()
    tp.id_generator = generator
    for tracer in list(getattr(tp, "_tracers", {}).values()):
        if hasattr(tracer, "id_generator"):
            tracer.id_generator = generator


def _processor() -> XRayExport:
    """The process's X-Ray export processor for the current endpoint (a new one if the endpoint moved)."""
    url = endpoint()
    current = _state.get("processor")
    if current is None or current.url != url or not current.active:
        if current is not None:
            current.shutdown()
        current = XRayExport(url)
        _state.update(processor=current, attached=set())
    return current


def instrument_app(app: Flask, service_name: str) -> None:
    """Instrumenter for ``lab_app.services.start(instrument=[...])``: the OpenTelemetry set-up of
    ``lab_app.instrument.otel`` (Flask and ``requests`` spans, one TracerProvider per service) switched to
    X-Ray trace ids and X-Ray propagation, and exporting to X-Ray's OTLP endpoint as well."""
    from opentelemetry import propagate

    from lab_app.instrument import otel
    from lab_app.services import tracing

    with _lock:
        tp = otel.provider_for(service_name)
        use_xray_ids(tp)
        processor = _processor()
        if id(tp) not in _state["attached"]:
            tp.add_span_processor(processor)
            _state["attached"].add(id(tp))
        if not otel.exporters():
            # otel.instrument_app would otherwise insist on Honeycomb; X-Ray alone is enough here
            otel.memory()
        otel.instrument_app(app, service_name)
        propagate.set_global_textmap(propagator())  # after otel's W3C-only propagator: add X-Amzn-Trace-Id
        tracing.register_opener(otel.OPENER_KEY, _activity_opener)


def _services_by_host() -> dict[str, str]:
    try:
        from lab_app import services

        stack = services.current()
    except Exception:
        return {}
    if stack is None:
        return {}
    return {urlsplit(stack.downstream_url).netloc: services.DOWNSTREAM,
            urlsplit(stack.backend_url).netloc: services.BACKEND}


@contextmanager
def _activity_opener(name: str, attributes: dict[str, Any]):
    """The service code's custom span, as ``lab_app.instrument.otel`` opens it, plus the attribute keys in
    ``aws.xray.annotations`` so X-Ray indexes them like the SDK's ``put_annotation`` (strings, numbers and
    booleans only; everything else stays metadata)."""
    from lab_app.instrument import otel

    indexable = [k for k, v in attributes.items() if isinstance(v, (str, int, float, bool))]
    with otel.routing_provider.get_tracer("lab_app.services").start_as_current_span(name, attributes=attributes) as span:
        if indexable:
            span.set_attribute("aws.xray.annotations", indexable)
        yield span


def flush(timeout_s: float = 10.0) -> bool:
    """Send every finished span now (cells call this before querying X-Ray)."""
    processor = _state.get("processor")
    return bool(processor.force_flush(int(timeout_s * 1000))) if processor is not None else True


def uninstrument() -> None:
    """Stop exporting to X-Ray and propagating X-Amzn-Trace-Id (Honeycomb's exporter keeps running)."""
    from opentelemetry import propagate
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    with _lock:
        processor = _state.pop("processor", None)
        _state.pop("attached", None)
        if processor is not None:
            processor.shutdown()
        propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
