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

Cells re-run cleanly: one exporter per process, the apps of a re-started stack are instrumented again.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask

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


def provider():
    """The process's TracerProvider, switched to X-Ray ids and given (once) the X-Ray OTLP exporter.

    There is one TracerProvider per process (``set_tracer_provider`` works once). If the OpenTelemetry
    helper already created it, X-Ray's exporter is added next to Honeycomb's, so the same spans go to both;
    new tracers then draw X-Ray-style trace ids (which are also valid W3C ids).
    """
    from opentelemetry import propagate, trace
    from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    with _lock:
        current = trace.get_tracer_provider()
        if not isinstance(current, TracerProvider):
            current = TracerProvider(id_generator=AwsXRayIdGenerator(),
                                     resource=Resource.create({"service.name": "backend-flask"}))
            trace.set_tracer_provider(current)
            current = trace.get_tracer_provider()
        if not isinstance(current.id_generator, AwsXRayIdGenerator):
            current.id_generator = AwsXRayIdGenerator()
        url = endpoint()
        if _state.get("endpoint") != url:
            # a new endpoint (first call, or the local cloud moved): a new exporter; the old one stops
            old = _state.get("processor")
            if old is not None:
                old.shutdown()
            processor = BatchSpanProcessor(exporter(url), schedule_delay_millis=500)
            current.add_span_processor(processor)
            _state.update(endpoint=url, processor=processor, provider=current)
        propagate.set_global_textmap(propagator())
        from opentelemetry.instrumentation.propagators import (
            TraceResponsePropagator, get_global_response_propagator, set_global_response_propagator)

        if get_global_response_propagator() is None:
            # `traceresponse: 00-<trace id>-...` on every answer, so the traffic frame knows each request's trace
            set_global_response_propagator(TraceResponsePropagator())
        return current


def instrument_app(app: Flask, service_name: str) -> None:
    """Instrumenter for ``lab_app.services.start(instrument=[...])``: Flask server spans, ``requests`` client
    spans with ``peer.service``, X-Ray ids and propagation, export to X-Ray's OTLP endpoint."""
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    tp = provider()
    if not getattr(app, "_is_instrumented_by_opentelemetry", False):
        FlaskInstrumentor().instrument_app(app, tracer_provider=tp, request_hook=_server_hook(service_name))
    if not RequestsInstrumentor().is_instrumented_by_opentelemetry:
        # calls *to* backend-flask come from this notebook's traffic generator, not from a service: no spans
        RequestsInstrumentor().instrument(tracer_provider=tp, request_hook=_client_hook,
                                          excluded_urls=rf"https?://[^/]*:{config.backend_port()}(/|$)")
    from lab_app.services import tracing

    tracing.register_opener("otel", _activity_opener(tp))


def _server_hook(service_name: str):
    def hook(span, environ):
        if span is not None and span.is_recording():
            # X-Ray names a segment after its service: one process hosts two services, so say which
            span.set_attribute("aws.local.service", service_name)
    return hook


def _client_hook(span, request):
    if span is None or not span.is_recording():
        return
    host = urlsplit(getattr(request, "url", "") or "").netloc
    service = _services_by_host().get(host)
    if service:
        span.set_attribute("peer.service", service)


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


def _activity_opener(tp):
    """The service code's custom span: attributes on an OTel span, listed in ``aws.xray.annotations`` so
    X-Ray indexes them like the SDK's ``put_annotation`` (strings, numbers and booleans only)."""
    from contextlib import contextmanager

    tracer = tp.get_tracer("lab_app.services")

    @contextmanager
    def opener(name: str, attributes: dict[str, Any]):
        indexable = [k for k, v in attributes.items() if isinstance(v, (str, int, float, bool))]
        with tracer.start_as_current_span(name, attributes=attributes) as span:
            span.set_attribute("aws.xray.annotations", indexable)
            yield span
    return opener


def flush(timeout_s: float = 10.0) -> bool:
    """Send every finished span now (cells call this before querying X-Ray)."""
    tp = _state.get("provider")
    return bool(tp.force_flush(int(timeout_s * 1000))) if tp is not None else True


def uninstrument() -> None:
    """Stop exporting to X-Ray (the Honeycomb exporter, if any, keeps running)."""
    from lab_app.services import tracing

    tracing.unregister_opener("otel")
    processor = _state.pop("processor", None)
    _state.pop("endpoint", None)
    if processor is not None:
        processor.shutdown()
