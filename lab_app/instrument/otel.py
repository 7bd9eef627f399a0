"""OpenTelemetry for the Cruddur services, sent to Honeycomb (or the local stand-in), re-runnable in a notebook.

    from lab_app.instrument import otel
    otel.console()                       # step 1: print every finished span
    otel.otlp()                          # step 2: OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT (+ headers)
    stack = services.start(instrument=[otel.instrument_app])
    ...
    otel.force_flush()                   # before reading spans back

**Why one provider per service, not one per process.** Honeycomb names a dataset after the
*resource* attribute ``service.name`` and a ``TracerProvider`` has exactly one resource. Both
Cruddur services run in this one process, so a single provider would put backend-flask's and
notifications' spans into one dataset under one name. Each service therefore gets its own small
``TracerProvider`` (created once per process and reused when a cell re-runs), handed to
``FlaskInstrumentor().instrument_app(app, tracer_provider=...)``. The process-wide provider
(``trace.set_tracer_provider`` works once) is still set, once, for spans the notebook makes itself
(:func:`tracer`).

``requests`` is patched once for the whole process, so its client spans go through a small *routing*
provider: a client span joins the service whose span is current when the call is made (the backend
calling notifications -> a backend-flask client span, and W3C ``traceparent`` carries the trace into
notifications). A call made outside any service span (the traffic generator in the notebook) gets no
span and no ``traceparent``: the backend's server span is then the root of the trace, and its id comes
back in the ``traceresponse`` header (``TraceResponsePropagator``), which is how the traffic generator
learns each request's trace id.

Every provider shares one fan-out span processor, so adding an exporter (console, OTLP, in-memory)
affects all services at once, and adding the same one twice is a no-op (re-runnable cells).
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from flask import Flask
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

NOTEBOOK_SERVICE = "cruddur-notebook"
OPENER_KEY = "otel.honeycomb"
_lock = threading.RLock()


class _FanOut(SpanProcessor):
    """One processor shared by every provider; holds the exporters, keyed so adding twice is a no-op."""

    def __init__(self) -> None:
        self.processors: dict[str, SpanProcessor] = {}

    def on_start(self, span: Span, parent_context=None) -> None:
        for processor in list(self.processors.values()):
            processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for processor in list(self.processors.values()):
            processor.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all([processor.force_flush(timeout_millis) for processor in list(self.processors.values())])

    def shutdown(self) -> None:  # called by each provider at exit; flush what is queued
        for processor in list(self.processors.values()):
            processor.force_flush(5000)


_fanout = _FanOut()
_providers: dict[str, TracerProvider] = {}


def provider_for(service_name: str) -> TracerProvider:
    """The TracerProvider of one service (resource ``service.name``), created once per process."""
    with _lock:
        tp = _providers.get(service_name)
        if tp is None:
            tp = TracerProvider(resource=Resource.create({"service.name": service_name}))
            tp.add_span_processor(_fanout)
            _providers[service_name] = tp
        return tp


def global_provider() -> trace.TracerProvider:
    """The process-wide provider (set once) for the notebook's own spans; shares the exporters."""
    with _lock:
        current = trace.get_tracer_provider()
        if not isinstance(current, TracerProvider):
            trace.set_tracer_provider(TracerProvider(resource=Resource.create({"service.name": NOTEBOOK_SERVICE})))
            current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider) and not getattr(current, "_lab_fanout", False):
            current.add_span_processor(_fanout)
            current._lab_fanout = True
        return current


def tracer(name: str = "lab_app.notebook") -> trace.Tracer:
    return global_provider().get_tracer(name)


# --- exporters (each idempotent) ----------------------------------------------------------------
def _set(key: str, processor: SpanProcessor | None) -> None:
    with _lock:
        old = _fanout.processors.pop(key, None)
        if old is not None and old is not processor:
            old.shutdown()
        if processor is not None:
            _fanout.processors[key] = processor


def console(enabled: bool = True, compact: bool = True) -> None:
    """Print every finished span (``SimpleSpanProcessor(ConsoleSpanExporter)``); ``enabled=False`` removes it."""
    if not enabled:
        _set("console", None)
        return
    if "console" in _fanout.processors:
        return
    formatter = (lambda span: f"span {span.name!r} service={span.resource.attributes.get('service.name')} "
                              f"trace={span.context.trace_id:032x} span={span.context.span_id:016x} "
                              f"parent={(f'{span.parent.span_id:016x}' if span.parent else None)} "
                              f"duration={(span.end_time - span.start_time) / 1e6:.2f} ms\n") if compact else None
    exporter = ConsoleSpanExporter(formatter=formatter) if formatter else ConsoleSpanExporter()
    _set("console", SimpleSpanProcessor(exporter))


def otlp(endpoint: str | None = None, headers: dict[str, str] | None = None,
         schedule_delay_millis: int = 1000) -> str:
    """Batch-export to OTLP/HTTP (Honeycomb or the local stand-in). Returns the traces URL.

    Defaults come from ``OTEL_EXPORTER_OTLP_ENDPOINT`` and ``OTEL_EXPORTER_OTLP_HEADERS``, exactly what the
    exporter itself reads; calling again with the same settings keeps the running exporter, different
    settings replace it.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318"
    url = base.rstrip("/") + ("" if base.rstrip("/").endswith("/v1/traces") else "/v1/traces")
    if headers is None:
        headers = _parse_headers(os.environ.get("OTEL_EXPORTER_OTLP_HEADERS", ""))
    if not any(k.lower() == "x-honeycomb-team" for k in headers):
        raise RuntimeError("no x-honeycomb-team header: set OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<key> "
                           "(lab_app.notebook.setup() does this in local mode)")
    signature = (url, tuple(sorted(headers.items())))
    with _lock:
        current = _fanout.processors.get("otlp")
        if current is not None and getattr(current, "_lab_signature", None) == signature:
            return url
        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=url, headers=headers, timeout=10),
                                       schedule_delay_millis=schedule_delay_millis)
        processor._lab_signature = signature
        _set("otlp", processor)
    return url


def _parse_headers(text: str) -> dict[str, str]:
    from urllib.parse import unquote

    out = {}
    for item in text.split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            out[unquote(key.strip()).lower()] = unquote(value.strip())
    return out


def memory() -> InMemorySpanExporter:
    """An in-memory copy of every finished span (for checkpoints); the same exporter on every call."""
    with _lock:
        processor = _fanout.processors.get("memory")
        if processor is None:
            processor = SimpleSpanProcessor(InMemorySpanExporter())
            _set("memory", processor)
        return processor.span_exporter


def exporters() -> list[str]:
    return list(_fanout.processors)


def force_flush(timeout_s: float = 10.0) -> bool:
    """Export every finished span now (call before reading spans back)."""
    return _fanout.force_flush(int(timeout_s * 1000))


# --- the routing provider for `requests` and the service code's custom spans ----------------------
def _current_service(ctx=None) -> str | None:
    span = trace.get_current_span(ctx)
    resource = getattr(span, "resource", None)
    if resource is None or not span.get_span_context().is_valid:
        return None
    name = resource.attributes.get("service.name")
    return name if name in _providers else None


class _RoutingTracer(trace.Tracer):
    def __init__(self, name: str, version: str | None, schema_url: str | None):
        self.args = (name, version, schema_url)

    def _target(self, ctx) -> trace.Tracer | None:
        service = _current_service(ctx)
        return None if service is None else _providers[service].get_tracer(*self.args)

    def start_span(self, name, context=None, kind=trace.SpanKind.INTERNAL, attributes=None, links=None,
                   start_time=None, record_exception=True, set_status_on_exception=True) -> trace.Span:
        target = self._target(context)
        if target is None:
            return trace.INVALID_SPAN
        return target.start_span(name, context, kind, attributes, links, start_time, record_exception,
                                 set_status_on_exception)

    @contextmanager
    def start_as_current_span(self, name, context=None, kind=trace.SpanKind.INTERNAL, attributes=None, links=None,
                              start_time=None, record_exception=True, set_status_on_exception=True,
                              end_on_exit=True) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time, record_exception,
                               set_status_on_exception)
        with trace.use_span(span, end_on_exit=end_on_exit, record_exception=record_exception,
                            set_status_on_exception=set_status_on_exception) as current:
            yield current


class _RoutingTracerProvider(trace.TracerProvider):
    """Spans join the service whose span is current; with none current, no span (and no traceparent)."""

    def get_tracer(self, instrumenting_module_name: str, instrumenting_library_version: str | None = None,
                   schema_url: str | None = None, attributes=None) -> trace.Tracer:
        return _RoutingTracer(instrumenting_module_name, instrumenting_library_version, schema_url)


routing_provider = _RoutingTracerProvider()


@contextmanager
def _activity_opener(name: str, attributes: dict[str, Any]):
    """The seed's custom span (HomeActivities' "mock-data" span): attributes on a child of the current span."""
    with routing_provider.get_tracer("lab_app.services").start_as_current_span(name, attributes=attributes) as span:
        yield span


# --- instrumentation --------------------------------------------------------------------------------
def instrument_app(app: Flask, service_name: str) -> None:
    """Instrumenter for ``lab_app.services.start(instrument=[...])``.

    Flask server spans in the service's own provider, ``requests`` client spans (routed, see the module
    docstring), W3C trace context in and out, ``traceresponse`` on every response, and the service code's
    ``activity_span`` as an OTel span. Exporters are whatever :func:`console` / :func:`otlp` / :func:`memory`
    added; with none added, :func:`otlp` is switched on from the environment.
    """
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.instrumentation.propagators import TraceResponsePropagator, set_global_response_propagator
    from opentelemetry.instrumentation.requests import RequestsInstrumentor
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from lab_app.services import tracing

    with _lock:
        if not any(key in _fanout.processors for key in ("otlp", "console", "memory")):
            otlp()
        tp = provider_for(service_name)
        propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
        set_global_response_propagator(TraceResponsePropagator())
        if not getattr(app, "_is_instrumented_by_opentelemetry", False):
            FlaskInstrumentor().instrument_app(app, tracer_provider=tp)
            _open_span_first(app)
        requests_instrumentor = RequestsInstrumentor()
        if requests_instrumentor.is_instrumented_by_opentelemetry and not _requests_state.get("ours"):
            requests_instrumentor.uninstrument()  # instrumented elsewhere with a provider that is not ours
        if not requests_instrumentor.is_instrumented_by_opentelemetry:
            requests_instrumentor.instrument(tracer_provider=routing_provider)
            _requests_state["ours"] = True
        tracing.register_opener(OPENER_KEY, _activity_opener)


_requests_state: dict[str, bool] = {}


def _open_span_first(app: Flask) -> None:
    """Run the instrumentor's ``before_request`` hook before the app's own.

    ``instrument_app`` appends its hook, so hooks the app factory registered earlier (fault injection,
    which may raise) would run before the server span exists: such a request would get no span, no
    ``traceresponse`` and no trace at all. Moving the hook to the front makes every request traced.
    """
    hook = getattr(app, "_before_request", None)
    funcs = app.before_request_funcs.setdefault(None, [])
    if hook in funcs:
        funcs.remove(hook)
        funcs.insert(0, hook)


def uninstrument() -> None:
    """Undo the process-wide parts (``requests`` patch, the custom-span opener); exporters stay.

    Flask apps instrumented so far keep their middleware; the next ``services.start`` creates fresh apps.
    """
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    from lab_app.services import tracing

    with _lock:
        if _requests_state.pop("ours", False) and RequestsInstrumentor().is_instrumented_by_opentelemetry:
            RequestsInstrumentor().uninstrument()
        tracing.unregister_opener(OPENER_KEY)


def trace_ids(spans: Sequence[ReadableSpan]) -> set[str]:
    return {f"{span.context.trace_id:032x}" for span in spans}
